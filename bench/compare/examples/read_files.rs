//! Reading files the way `monban verify` reads them, for `benches/compare.sh`.
//!
//! ```text
//! cargo run --release --ignore-rust-version --example read_files -- FILE...
//! cargo run --release --ignore-rust-version --example read_files -- --bound rsa|ed25519 FILE...
//! ```
//!
//! Alone, each file is opened and read with read(2) into one reused buffer of 256 KiB
//! (the CLI's read size), the bytes counted, nothing else; prints the number of files
//! and of bytes read, tab-separated. Its process CPU time per file, added to the
//! crypto + hash bound's time per message, is the `bound + read(2)` row of the results.
//!
//! With `--bound`, each file is read the same way and each chunk hashed as it arrives,
//! then one signature is checked (`dkim_bound.rs`, `Bound::verify_read`): the bound of
//! a program that reads its messages from files, measured as one program rather than
//! added up (the kernel's copy leaves the bytes in cache for the hash, so the two
//! together cost less than their sum). Prints the messages per second of CPU time of
//! the reading loop alone (the keys are made before it), from the thread's CPU clock
//! (`CLOCK_THREAD_CPUTIME_ID`, nanoseconds).

use std::io::Read;

use monban_bench_compare::dkim_corpus::{KeyKind, MonbanDkim};

#[allow(dead_code)]
#[path = "../benches/common/dkim_bound.rs"]
mod dkim_bound;

/// The CLI's read size.
const READ_SIZE: usize = 256 * 1024;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--bound") {
        bound(&args[1..]);
        return;
    }
    let mut buf = vec![0u8; READ_SIZE];
    let (mut files, mut bytes) = (0u64, 0u64);
    for path in &args {
        let mut f = open(path);
        loop {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => bytes += n as u64,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => fail(path, &e),
            }
        }
        files += 1;
    }
    println!("{files}\t{bytes}");
}

fn bound(args: &[String]) {
    let [kind, files @ ..] = args else {
        eprintln!("usage: read_files --bound rsa|ed25519 FILE...");
        std::process::exit(2);
    };
    let Some(kind) = KeyKind::from_arg(kind) else {
        eprintln!("read_files: --bound rsa or ed25519, not {kind}");
        std::process::exit(2);
    };
    let monban = MonbanDkim::new();
    let bound = dkim_bound::Bound::new(&monban);
    let mut buf = vec![0u8; READ_SIZE];
    let start = cpu_time();
    for path in files {
        let mut f = open(path);
        if let Err(e) = bound.verify_read(&mut f, &mut buf, kind) {
            fail(path, &e);
        }
    }
    let seconds = cpu_time().saturating_sub(start).as_secs_f64();
    if seconds <= 0.0 {
        eprintln!("read_files: the thread's CPU clock did not move");
        std::process::exit(1);
    }
    println!("{:.0}", files.len() as f64 / seconds);
}

fn open(path: &str) -> std::fs::File {
    std::fs::File::open(path).unwrap_or_else(|e| fail(path, &e))
}

fn fail(path: &str, e: &std::io::Error) -> ! {
    eprintln!("read_files: {path}: {e}");
    std::process::exit(1);
}

/// This thread's CPU time so far (exact, unlike `/proc/self/schedstat`, which can be a
/// scheduler tick behind).
fn cpu_time() -> std::time::Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    std::time::Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}
