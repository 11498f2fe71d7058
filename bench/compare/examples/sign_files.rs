//! In-process DKIM signing of messages read from files, for `benches/compare.sh`: the
//! unsigned messages of the DKIM corpus signed in memory, relaxed/relaxed, with the
//! header names monban signs by default, by
//!
//! - `bound`: the crypto + hash bound (`benches/common/dkim_bound.rs`: SHA-256 over the
//!   whole message and one signature per message);
//! - `monban`: monban's `DkimSigner` (the streaming API, one chunk);
//! - `mail-auth`: mail-auth's `DkimSigner::sign`.
//!
//! ```text
//! cargo run --release --ignore-rust-version --example sign_files -- ROUNDS rsa|ed25519 FILE...
//! ```
//!
//! The keys are generated here (RSA-2048, Ed25519), the same for monban and mail-auth;
//! which key of a size signs does not change the work. Before anything is timed, every
//! signature of each signer must verify with monban. The contenders run interleaved,
//! one pass over all the files each per round, on one thread; the output is one line per
//! contender: `name messages/s` (the median of the rounds), tab-separated.

use std::hint::black_box;

use monban_bench_compare::dkim_corpus::{KeyKind, MonbanDkim};
use monban_bench_compare::mail_auth_dkim::MailAuthSigners;

#[allow(dead_code)]
#[path = "../benches/common/dkim_bound.rs"]
mod dkim_bound;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [rounds, kind, files @ ..] = args.as_slice() else {
        eprintln!("usage: sign_files ROUNDS rsa|ed25519 FILE...");
        std::process::exit(2);
    };
    let rounds: usize = rounds.parse().expect("ROUNDS: a number");
    let kind = KeyKind::from_arg(kind).unwrap_or_else(|| panic!("{kind}: rsa or ed25519"));
    let messages: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).unwrap_or_else(|e| panic!("{f}: {e}")))
        .collect();
    let monban = MonbanDkim::new();
    let mail_auth = MailAuthSigners::new(&monban);
    let bound = dkim_bound::Bound::new(&monban);
    eprintln!("{}: {}", env!("CARGO_BIN_NAME"), bound.how());

    // Every signature verifies (monban's verifier, against the zone of both keys).
    let by_monban: Vec<Vec<u8>> = messages.iter().map(|m| monban.signed(m, kind)).collect();
    let by_mail_auth: Vec<Vec<u8>> = messages
        .iter()
        .map(|m| {
            let mut out = mail_auth.sign(m, kind).into_bytes();
            out.extend_from_slice(m);
            out
        })
        .collect();
    for (who, s) in [("monban", &by_monban), ("mail-auth", &by_mail_auth)] {
        assert_eq!(
            monban.verify_corpus(s),
            messages.len(),
            "{who}: not every signature verifies"
        );
    }

    let run_bound = || bound.sign_corpus(black_box(&messages), kind);
    let run_monban = || monban.sign_corpus(black_box(&messages), kind);
    let run_mail_auth = || mail_auth.sign_corpus(black_box(&messages), kind);
    type Run<'a> = (&'static str, &'a dyn Fn() -> usize);
    let contenders: [Run; 3] = [
        ("bound", &run_bound),
        ("monban", &run_monban),
        ("mail-auth", &run_mail_auth),
    ];
    monban_bench_compare::interleaved(rounds, messages.len(), &contenders);
}
