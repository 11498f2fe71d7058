//! Writes the DKIM benchmark corpus to a directory, for measuring what users run (the
//! `monban` CLI, other tools) on the same messages as the in-process benchmarks:
//!
//! ```text
//! cargo run --release -p monban --example write_dkim_corpus -- DIR
//! ```
//!
//! DIR gets:
//! - `unsigned/NNNN.eml`: the 999 generated messages (`bench/compare/src/dkim_corpus.rs`,
//!   about 74 MB), CRLF line endings;
//! - `rsa/NNNN.eml`, `ed25519/NNNN.eml`: each signed once (relaxed/relaxed, d=bench.example,
//!   s=rsa2048 or s=ed25519), as `monban verify` must pass them;
//! - `rsa/all.mbox`, `ed25519/all.mbox`: the same in one mbox file each;
//! - `keys.zone`: the two key records (for `--zone`), `rsa2048.pem`, `ed25519.pem`: the
//!   private keys (PKCS#8, for `monban sign --key`); `now`: the signing time (Unix
//!   seconds, for `--at`).
//!
//! The keys are generated afresh on every run; the messages are the same every time.
//!
//! `write_dkim_corpus --bound rsa|ed25519 PASSES FILE...` instead prints the crypto + hash
//! bound over those files (`bench/compare/benches/common/dkim_bound.rs`: per message
//! SHA-256 over the whole file and one signature check), in messages per second of one
//! core, the files read into memory first: what no verifier of them can beat.

use std::io::Write as _;
use std::path::Path;

#[allow(dead_code)]
#[path = "../../../bench/compare/src/dkim_corpus.rs"]
mod dkim_corpus;

#[allow(dead_code)]
#[path = "../../../bench/compare/benches/common/dkim_bound.rs"]
mod dkim_bound;

use dkim_corpus::{KeyKind, MonbanDkim};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--bound") {
        bound(&args[1..]);
        return;
    }
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: write_dkim_corpus DIR");
        std::process::exit(2);
    };
    let dir = Path::new(&dir);
    if let Err(e) = write(dir) {
        eprintln!("write_dkim_corpus: {}: {e}", dir.display());
        std::process::exit(1);
    }
}

fn bound(args: &[String]) {
    let [kind, passes, files @ ..] = args else {
        eprintln!("usage: write_dkim_corpus --bound rsa|ed25519 PASSES FILE...");
        std::process::exit(2);
    };
    let Some(kind) = KeyKind::from_arg(kind) else {
        eprintln!("write_dkim_corpus: --bound rsa or ed25519, not {kind}");
        std::process::exit(2);
    };
    let passes: usize = passes.parse().expect("PASSES: a number");
    let messages: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).unwrap_or_else(|e| panic!("{f}: {e}")))
        .collect();
    let monban = MonbanDkim::new();
    let bound = dkim_bound::Bound::new(&monban);
    let t = std::time::Instant::now();
    for _ in 0..passes {
        bound.verify_corpus(&messages, kind);
    }
    let seconds = t.elapsed().as_secs_f64();
    let n = messages.len() * passes;
    println!(
        "{:.0} messages/s ({n} messages, {:.1} MB, {seconds:.3} s)",
        n as f64 / seconds,
        dkim_corpus::total_bytes(&messages) as f64 * passes as f64 / 1e6
    );
}

fn write(dir: &Path) -> std::io::Result<()> {
    let messages = dkim_corpus::corpus();
    eprint!("{}", dkim_corpus::describe(&messages));
    let monban = MonbanDkim::new();
    let unsigned: Vec<&[u8]> = messages.iter().map(|m| m.bytes.as_slice()).collect();
    write_set(&dir.join("unsigned"), &unsigned, false)?;
    let mut zone = String::from("$TTL 86400\n");
    for kind in KeyKind::ALL {
        let signed: Vec<Vec<u8>> = unsigned.iter().map(|m| monban.signed(m, kind)).collect();
        monban.check_all_pass(&signed, kind.algorithm());
        let sub = match kind {
            KeyKind::Rsa => "rsa",
            KeyKind::Ed25519 => "ed25519",
        };
        write_set(&dir.join(sub), &signed, true)?;
        let record = monban.key_record(kind);
        let strings: Vec<String> = dkim_corpus::txt_strings(&record)
            .iter()
            .map(|s| format!("\"{}\"", String::from_utf8_lossy(s)))
            .collect();
        zone.push_str(&format!(
            "{}. IN TXT ( {} )\n",
            kind.key_name(),
            strings.join(" ")
        ));
        let pem = monban
            .key(kind)
            .to_pkcs8_pem()
            .map_err(|e| std::io::Error::other(format!("{} key: {e}", kind.selector())))?;
        std::fs::write(dir.join(format!("{}.pem", kind.selector())), pem)?;
    }
    std::fs::write(dir.join("keys.zone"), zone)?;
    std::fs::write(dir.join("now"), format!("{}\n", monban.now))?;
    eprintln!("written to {}", dir.display());
    Ok(())
}

/// One file per message, and with `mbox`, all of them in `all.mbox` too (mboxrd: a
/// body line starting with `From ` or `>From ` gets one more `>`, line ends LF).
fn write_set(dir: &Path, messages: &[impl AsRef<[u8]>], mbox: bool) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (i, m) in messages.iter().enumerate() {
        std::fs::write(dir.join(format!("{:04}.eml", i + 1)), m.as_ref())?;
    }
    if mbox {
        let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("all.mbox"))?);
        for m in messages {
            out.write_all(b"From bench@bench.example Mon Nov 30 00:00:00 2026\n")?;
            let text = m.as_ref();
            let text = text.strip_suffix(b"\r\n").unwrap_or(text);
            for line in text.split(|&b| b == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let unquoted = line.iter().position(|&b| b != b'>').unwrap_or(line.len());
                if line[unquoted..].starts_with(b"From ") {
                    out.write_all(b">")?;
                }
                out.write_all(line)?;
                out.write_all(b"\n")?;
            }
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    Ok(())
}
