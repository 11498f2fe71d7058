//! `monban`: the command-line front end. It parses flags, builds the DNS source and
//! calls the library; the protocols themselves live in the `monban` crate.
//!
//! Exit status (DESIGN §4): 0 when the evaluation ran, whatever the verdict; 2 for usage
//! errors; 1 for I/O and other failures; 3 when `check --fail-on` is met (and the Nagios
//! statuses 0/1/2 with `check --format nagios`). Errors are one sentence on stderr.

/// `println!` for the command's output: a reader that went away (`monban ... | head`)
/// ends the program quietly instead of a panic; another write error ends it with
/// status 1 and one sentence.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` that never panics: a message for a reader that went away (`2>&1 | head`,
/// `2>/dev/full`) is dropped, where `eprintln!` would panic and end the command with
/// exit status 101 in the middle of its work (a store left half-written, say).
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::write_err(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!`, as [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::write_out(format_args!($($arg)*))
    };
}

mod analyze;
mod check;
mod dns;
mod docs;
mod input;
mod json;
mod keygen;
mod milter;
mod progress;
mod report;
mod report_in;
mod seal;
mod serve;
mod sign;
mod spf;
mod time;
mod verify;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// What `monban verify --help` says after the options: inputs, output, exit status.
const VERIFY_AFTER_HELP: &str = "\
Inputs: a folder gives its files (a Maildir its cur/ and new/), sorted, not
recursively; a link to a file counts as the file. Subfolders, special files, broken
links and Maildir names starting with a dot are left out, counted on stderr. An mbox
gives each of its messages. An input that cannot be read is named on stderr in its
place; the others are still verified.

Output: over several messages each result is headed `==> FILE <==` (`FILE#N` for the
Nth message of an mbox); with --json, one JSON object per line with a \"file\" key. A
summary ends the run on stderr.

Exit status: 0 when every input was read and judged, whatever the verdicts (a
malformed message gets one too); 1 when an input could not be read or held no message
(the others are still verified); 2 for a usage error. When the output's reader goes
away (`| head`) the run stops there, quietly, with 0; what it verified is still
recorded (--record).";

/// Email sender authentication: SPF, DKIM, DMARC and friends.
#[derive(Debug, Parser)]
#[command(name = "monban", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    dns: dns::DnsArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify messages: DKIM signatures, and SPF given the envelope; prints the
    /// Authentication-Results header (or JSON).
    #[command(after_long_help = VERIFY_AFTER_HELP)]
    Verify(verify::VerifyArgs),
    /// Add a DKIM-Signature to a message.
    Sign(sign::SignArgs),
    /// Add an ARC set (RFC 8617) to a message, as a mailing list or forwarder does:
    /// verifies it, then prints it with ARC-Seal, ARC-Message-Signature and
    /// ARC-Authentication-Results on top.
    Seal(seal::SealArgs),
    /// Check a domain's SPF, DMARC, DKIM and ADSP records (green / yellow / red), and
    /// predict what receivers decide for a sending setup.
    Check(check::CheckArgs),
    /// Run the milter daemon for Postfix or Sendmail.
    Milter(milter::MilterArgs),
    /// Generate a DKIM key and the DNS record to publish.
    Keygen(keygen::KeygenArgs),
    /// Run one SPF check_host() evaluation (RFC 7208) and print the Received-SPF header.
    Spf(SpfArgs),
    /// Analyse a received message's header: the Received chain, the recorded
    /// authentication results and the DKIM signatures (with --verify, monban's own).
    Analyze(analyze::AnalyzeArgs),
    /// DMARC reports: generate and send RFC 9990 aggregate reports from recorded
    /// evaluations; import, summarise and advise on the reports a domain receives.
    Report(report::ReportArgs),
    /// Serve the web UI (English and Japanese: the domain checker, the header analyzer,
    /// the stored reports) and the JSON API, on 127.0.0.1:8080.
    Serve(serve::ServeArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions(docs::CompletionsArgs),
    /// Print or write the manual pages.
    Man(docs::ManArgs),
}

/// Flags of `monban spf`.
#[derive(Debug, Args)]
struct SpfArgs {
    /// The SMTP client's IP address (IPv4 or IPv6).
    #[arg(long, value_name = "IP")]
    ip: String,
    /// The MAIL FROM address (`local@domain`); "" or "<>" for the null sender, which
    /// checks postmaster@<HELO>.
    #[arg(long, value_name = "ADDR")]
    mail_from: Option<String>,
    /// The HELO/EHLO name. Alone, it selects the HELO identity (RFC 7208 §2.3).
    #[arg(long, value_name = "NAME")]
    helo: Option<String>,
    /// This host's name, for the receiver= key and %{r} (default: the system host name).
    #[arg(long, value_name = "NAME")]
    receiver: Option<String>,
    /// Print JSON instead of the header.
    #[arg(long)]
    json: bool,
}

/// A failure, with the exit status it maps to.
#[derive(Debug)]
enum Failure {
    /// Bad flags or arguments: exit 2.
    Usage(String),
    /// Anything else: exit 1.
    Other(String),
    /// The work was done and reported; the command exits with this status to say how it
    /// came out (`check --fail-on`, `--format nagios`).
    Status(u8),
}

impl Failure {
    fn usage(msg: impl Into<String>) -> Self {
        Self::Usage(msg.into())
    }

    fn other(msg: impl Into<String>) -> Self {
        Self::Other(msg.into())
    }
}

/// The largest private key file read (a PEM RSA 4096 key is about 3.3 KB).
pub(crate) const MAX_KEY_FILE_BYTES: u64 = 1024 * 1024;

/// `--authserv-id`, or this host's name: the id is written in Authentication-Results
/// and matched against it later, so it must be a token (RFC 8601 §2.5 allows a quoted
/// string, but the milter's configuration and `seal` take a host name only, and the
/// parsers that read the field expect one).
pub(crate) fn authserv_id(given: Option<&str>) -> Result<String, Failure> {
    match given {
        None => Ok(host_name()),
        Some(id) if monban::authres::is_token(id) => Ok(id.to_owned()),
        Some(id) => Err(Failure::usage(format!(
            "--authserv-id: the authserv-id {id:?} must be a host name or another token (no spaces or ()<>@,;:\\\"/[]?=; an internationalized name in its xn-- form)"
        ))),
    }
}

/// This host's name, for `receiver=` and the default authserv-id.
fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Writes the command's output; see [`outln!`].
pub(crate) fn write_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        errln!("monban: cannot write the output: {e}");
        std::process::exit(1);
    }
}

/// Writes a message to standard error; see [`errln!`]. A failed write is ignored: the
/// command goes on, and its exit status still tells how it ended.
pub(crate) fn write_err(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// An output folder (`--out`) is one, or can be made one: a file in its place is
/// named as such, rather than as "File exists (os error 17)" from the attempt to make
/// the folder.
pub(crate) fn out_folder(flag: &str, dir: &std::path::Path) -> Result<(), Failure> {
    if dir.exists() && !dir.is_dir() {
        return Err(Failure::other(format!(
            "{flag} {} exists and is not a directory",
            dir.display()
        )));
    }
    Ok(())
}

/// The async runtime's worker threads.
const RUNTIME_WORKERS: usize = 2;

/// The stack of each tokio worker (tokio's default), so that the probe asks the system
/// for what the workers will.
const RUNTIME_STACK: usize = 2 * 1024 * 1024;

/// Whether this process may start `n` more threads at once, tried by starting them (they
/// wait until all have started or one could not, then end). tokio's runtime does not
/// report a thread the system refuses: its `build` panics when a worker cannot start,
/// and when the first worker started and the second did not, it hung; `spawn_blocking`
/// panics when no thread of its own can start. So the workers and one blocking thread
/// are tried first, and a refusal becomes an error that names the limit (`ulimit -u`,
/// systemd's `TasksMax`, a container's pids limit).
///
/// A joined thread still counts against those limits until the kernel has released it,
/// a little after `join` returns; so the probe waits (at most a second) until the
/// process has as many threads as before it. The check and the runtime's start are
/// still not atomic: the limit can be reached in between, which this only makes much
/// less likely.
fn can_start_threads(n: usize) -> std::io::Result<()> {
    let before = thread_count();
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let wait = std::sync::Arc::new(std::sync::Mutex::new(wait));
    let mut started = Vec::with_capacity(n);
    let mut refused = None;
    for _ in 0..n {
        let wait = wait.clone();
        // Each ends when `release` is dropped: its receive fails.
        let spawned = std::thread::Builder::new()
            .name("monban-probe".into())
            .stack_size(RUNTIME_STACK)
            .spawn(move || {
                if let Ok(w) = wait.lock() {
                    let _ = w.recv();
                }
            });
        match spawned {
            Ok(h) => started.push(h),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    drop(release);
    for h in started {
        let _ = h.join();
    }
    if let Some(before) = before {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while thread_count().is_some_and(|now| now > before) && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    refused.map_or(Ok(()), Err)
}

/// The number of threads of this process, as the kernel counts them
/// (`/proc/self/stat`, field 20); `None` where it cannot be read.
fn thread_count() -> Option<usize> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count from
    // after its closing parenthesis, where field 3 starts.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    rest.split_ascii_whitespace().nth(17)?.parse().ok()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The workers, and one thread for blocking work (reading files, signing).
    if let Err(e) = can_start_threads(RUNTIME_WORKERS + 1) {
        errln!(
            "monban: cannot start the {} threads the async runtime needs: {e} (the limit \
             on processes and threads is reached: ulimit -u, systemd TasksMax, a \
             container's pids limit)",
            RUNTIME_WORKERS + 1
        );
        return ExitCode::from(1);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(RUNTIME_WORKERS)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            errln!("monban: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        cli.dns.check()?;
        match cli.command {
            Command::Spf(args) => spf::run(&cli.dns, args).await,
            Command::Verify(args) => verify::run(&cli.dns, args).await,
            Command::Sign(args) => sign::run(args),
            Command::Seal(args) => seal::run(&cli.dns, args).await,
            Command::Keygen(args) => keygen::run(args),
            Command::Milter(args) => milter::run(&cli.dns, args).await,
            Command::Check(args) => check::run(&cli.dns, args).await,
            Command::Analyze(args) => analyze::run(&cli.dns, args).await,
            Command::Report(args) => report::run(&cli.dns, args).await,
            Command::Serve(args) => serve::run(&cli.dns, args).await,
            Command::Completions(args) => docs::completions(&args),
            Command::Man(args) => docs::man(&args),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            errln!("monban: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Other(msg)) => {
            errln!("monban: {msg}");
            ExitCode::from(1)
        }
        Err(Failure::Status(code)) => ExitCode::from(code),
    }
}
