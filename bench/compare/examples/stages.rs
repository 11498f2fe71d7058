//! Ed25519 signing taken apart, for finding where monban's signer spends what the
//! bound does not: each stage over the same messages, interleaved, messages per second.
//!
//! ```text
//! cargo build --release --ignore-rust-version --example stages
//! taskset -c 1 target/release/examples/stages 7 ../../target/dkim-corpus/unsigned/*
//! ONLY=headers-only-sign perf record ... stages 3000 $(ls .../unsigned/* | head -12)
//! ```
//!
//! The stages: `touch+sha` and `sha` (the bound's two ways of hashing a whole message),
//! `body-relaxed` (monban's relaxed body canonicalization and hash of each body),
//! `ed-sign` (one Ed25519 signature over 32 bytes), `split` (the header parsed),
//! `headers-only-sign` (monban signing each message's header with an empty body: all a
//! signature costs but the body) and `monban-sign` (the whole message). A dozen messages
//! stay in cache; the whole corpus does not.

use std::hint::black_box;

use aws_lc_rs::digest;
use monban::dkim::body::{BodyHashKey, BodyHasher};
use monban::dkim::{Algorithm, Canonicalization, SigningKey};
use monban::message::{MessageSplitter, Split};
use monban_bench_compare::dkim_corpus::{KeyKind, MonbanDkim};

#[allow(dead_code)]
#[path = "../benches/common/dkim_bound.rs"]
mod dkim_bound;
use dkim_bound::touch;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [rounds, files @ ..] = args.as_slice() else {
        eprintln!("usage: stages ROUNDS FILE...");
        std::process::exit(2);
    };
    let rounds: usize = rounds.parse().expect("ROUNDS: a number");
    let messages: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).unwrap_or_else(|e| panic!("{f}: {e}")))
        .collect();
    let bodies: Vec<&[u8]> = messages
        .iter()
        .map(|m| {
            let i = m
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .expect("a header/body separator");
            &m[i + 4..]
        })
        .collect();
    let heads: Vec<Vec<u8>> = messages
        .iter()
        .zip(&bodies)
        .map(|(m, b)| m[..m.len() - b.len()].to_vec())
        .collect();
    let monban = MonbanDkim::new();
    let SigningKey::Ed25519(ed25519) = &*monban.ed25519 else {
        unreachable!("an Ed25519 key")
    };
    let n = messages.len();

    let touch_sha = || {
        for m in &messages {
            touch(m);
            black_box(digest::digest(&digest::SHA256, m));
        }
        n
    };
    let sha = || {
        for m in &messages {
            black_box(digest::digest(&digest::SHA256, m));
        }
        n
    };
    let body = || {
        for b in &bodies {
            let key = BodyHashKey::new(Algorithm::Ed25519Sha256, Canonicalization::Relaxed, None);
            let mut h = BodyHasher::new(key);
            h.update(b);
            black_box(h.finish());
        }
        n
    };
    let ed_sign = || {
        for _ in &messages {
            black_box(ed25519.sign(&[0x5a; 32]));
        }
        n
    };
    let split = || {
        for m in &messages {
            let mut splitter = MessageSplitter::new();
            if let Ok(Split::HeaderDone(headers, _)) = splitter.push(m) {
                black_box(headers);
            }
        }
        n
    };
    let headers_only = || monban.sign_corpus(black_box(&heads), KeyKind::Ed25519);
    let whole = || monban.sign_corpus(black_box(&messages), KeyKind::Ed25519);
    type Run<'a> = (&'static str, &'a dyn Fn() -> usize);
    let stages: [Run; 7] = [
        ("touch+sha", &touch_sha),
        ("sha", &sha),
        ("body-relaxed", &body),
        ("ed-sign", &ed_sign),
        ("split", &split),
        ("headers-only-sign", &headers_only),
        ("monban-sign", &whole),
    ];
    monban_bench_compare::interleaved(rounds, n, &stages);
}
