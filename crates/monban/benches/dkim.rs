//! DKIM sign and verify throughput on a generated corpus of 999 messages (~74 MB:
//! one-third each around 3 KB, 20 KB and 200 KB, two in five multipart with a base64
//! attachment, 20 header fields each), relaxed/relaxed, RSA-2048 and Ed25519, one core,
//! keys from a warm [`monban_dns::CachingResolver`], against the crypto + hash bound
//! (per message: one aws-lc-rs signature operation plus SHA-256 over the whole
//! message).
//!
//! The corpus generator, monban's routines and the bound are shared with the
//! comparison against mail-auth in `bench/compare` (outside the workspace):
//! `bench/compare/src/dkim_corpus.rs` and `bench/compare/benches/common/dkim_bound.rs`.
//!
//! Each criterion iteration goes over the whole corpus. Then monban and the bound run
//! interleaved for `DKIM_ROUNDS` rounds (default 9) and a summary table gives monban's
//! share of the bound's throughput (the median of the per-round ratios). A criterion
//! filter matching nothing (`-- summary`) leaves the summary alone.
//!
//! Run: `cargo bench -p monban --bench dkim` (prefix `taskset -c 1` to pin one core).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};

#[allow(dead_code)]
#[path = "../../../bench/compare/src/dkim_corpus.rs"]
mod dkim_corpus;

#[path = "../../../bench/compare/benches/common/dkim_bound.rs"]
mod dkim_bound;

use dkim_bound::Bound;
use dkim_corpus::{KeyKind, MonbanDkim, Row};

fn main() {
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();

    let t0 = Instant::now();
    let messages = dkim_corpus::corpus();
    print!("{}", dkim_corpus::describe(&messages));
    let unsigned: Vec<&[u8]> = messages.iter().map(|m| m.bytes.as_slice()).collect();
    let monban = MonbanDkim::new();
    let bound = Bound::new(&monban);
    // The verification corpora: every message signed once, per key type; each must
    // pass before anything is measured.
    let signed: Vec<(KeyKind, Vec<Vec<u8>>)> = KeyKind::ALL
        .iter()
        .map(|&kind| {
            let s: Vec<Vec<u8>> = unsigned.iter().map(|m| monban.signed(m, kind)).collect();
            (kind, s)
        })
        .collect();
    for (kind, s) in &signed {
        monban.check_all_pass(s, kind.algorithm());
    }

    let verify_monban = |s: &[Vec<u8>]| assert_eq!(monban.verify_corpus(black_box(s)), s.len());
    let verify_bound = |s: &[Vec<u8>], kind| bound.verify_corpus(black_box(s), kind);
    let sign_monban = |kind| {
        black_box(monban.sign_corpus(black_box(&unsigned), kind));
    };
    let sign_bound = |kind| {
        black_box(bound.sign_corpus(black_box(&unsigned), kind));
    };

    for (kind, s) in &signed {
        let mut g = c.benchmark_group(format!("dkim_verify/{}", kind.algorithm()));
        g.sampling_mode(SamplingMode::Flat)
            .throughput(Throughput::Bytes(dkim_corpus::total_bytes(s)));
        g.bench_function("monban", |b| b.iter(|| verify_monban(s)));
        g.bench_function("bound", |b| b.iter(|| verify_bound(s, *kind)));
        g.finish();
    }
    for kind in KeyKind::ALL {
        let mut g = c.benchmark_group(format!("dkim_sign/{}", kind.algorithm()));
        g.sampling_mode(SamplingMode::Flat)
            .throughput(Throughput::Bytes(dkim_corpus::total_bytes(&unsigned)));
        g.bench_function("monban", |b| b.iter(|| sign_monban(kind)));
        g.bench_function("bound", |b| b.iter(|| sign_bound(kind)));
        g.finish();
    }
    c.final_summary();

    // The summary: monban and the bound interleaved, round after round.
    let rounds = dkim_corpus::rounds();
    if rounds == 0 {
        return;
    }
    let mut rows = Vec::new();
    for (kind, s) in &signed {
        let t = dkim_corpus::interleave(
            rounds,
            &mut [&mut || verify_monban(s), &mut || verify_bound(s, *kind)],
        );
        rows.push(Row {
            op: "verify",
            kind: *kind,
            bytes: dkim_corpus::total_bytes(s),
            target: 0.85,
            monban: t[0].clone(),
            mail_auth: Vec::new(),
            bound: t[1].clone(),
        });
    }
    for kind in KeyKind::ALL {
        let t = dkim_corpus::interleave(
            rounds,
            &mut [&mut || sign_monban(kind), &mut || sign_bound(kind)],
        );
        rows.push(Row {
            op: "sign",
            kind,
            bytes: dkim_corpus::total_bytes(&unsigned),
            target: 0.95,
            monban: t[0].clone(),
            mail_auth: Vec::new(),
            bound: t[1].clone(),
        });
    }
    println!(
        "\nDKIM corpus times ({} messages, {:.1} MB unsigned; one core; median of {rounds} interleaved rounds; total run {:.0} s):\n",
        messages.len(),
        dkim_corpus::total_bytes(&unsigned) as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    print!("{}", dkim_corpus::summary_table(&rows, false));
}
