//! `monban completions` and `monban man`: shell completions and manual pages, generated
//! from the command-line definitions themselves (so they never drift from `--help`).

use std::path::PathBuf;

use clap::{Args, CommandFactory as _};

use crate::Failure;

/// Flags of `monban completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell. Install, e.g.:
    /// `monban completions bash > /etc/bash_completion.d/monban`,
    /// `monban completions zsh > "${fpath[1]}/_monban"`,
    /// `monban completions fish > ~/.config/fish/completions/monban.fish`.
    #[arg(value_name = "SHELL")]
    shell: clap_complete::Shell,
}

/// Flags of `monban man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write monban.1 and one page per command (monban-verify.1, ...) into this folder
    /// (created when missing), e.g. /usr/local/share/man/man1. Without it, monban.1 is
    /// printed.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn completions(args: &CompletionsArgs) -> Result<(), Failure> {
    let mut cmd = crate::Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "monban", &mut buf);
    out!("{}", String::from_utf8_lossy(&buf));
    Ok(())
}

fn render(cmd: &clap::Command) -> Result<Vec<u8>, Failure> {
    let mut buf = Vec::new();
    // clap's `help` subcommand has no page of its own: not listed as one.
    let mut cmd = cmd.clone();
    if cmd.find_subcommand("help").is_some() {
        cmd = cmd.mut_subcommand("help", |h| h.hide(true));
    }
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .map_err(|e| Failure::other(format!("cannot write the manual page: {e}")))?;
    Ok(buf)
}

pub fn man(args: &ManArgs) -> Result<(), Failure> {
    let mut cmd = crate::Cli::command();
    cmd.build();
    let Some(dir) = &args.out else {
        out!("{}", String::from_utf8_lossy(&render(&cmd)?));
        return Ok(());
    };
    crate::out_folder("--out", dir)?;
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::other(format!("cannot create {}: {e}", dir.display())))?;
    // A page per command and per subcommand at any depth (monban-report-send.1,
    // monban-milter-import-opendkim.1): each page's SEE ALSO names them.
    let mut pages = vec![("monban".to_owned(), cmd.clone())];
    let mut next = vec![("monban".to_owned(), cmd.clone())];
    while let Some((parent, c)) = next.pop() {
        for sub in c.get_subcommands().filter(|s| s.get_name() != "help") {
            let name = format!("{parent}-{}", sub.get_name());
            let page = sub.clone().name(name.clone());
            pages.push((name.clone(), page.clone()));
            next.push((name, page));
        }
    }
    for (name, page) in &pages {
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, render(page)?)
            .map_err(|e| Failure::other(format!("cannot write {}: {e}", path.display())))?;
    }
    outln!("{} manual pages written to {}", pages.len(), dir.display());
    Ok(())
}
