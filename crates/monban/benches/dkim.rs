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
//! ARC: the RSA corpus sealed by three ARC sets (same key, as three sealers of one
//! domain would be), validated (3 AMS + 3 seals, the body hashed once) against one DKIM
//! verification of the same messages; the summary gives the ratio (target ≤ 1.3) and
//! the floors: the crypto + hash bound of one DKIM verification against that of an ARC
//! validation (the message hashed once plus 4 RSA checks, or 6 with oldest-pass).
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
    println!("{}", bound.how());
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

    // ARC: three sets on each RSA-signed message, each sealed with cv= from validating
    // the chain so far; every chain must pass before anything is measured.
    let rsa_signed = &signed
        .iter()
        .find(|(k, _)| *k == KeyKind::Rsa)
        .expect("RSA corpus")
        .1;
    let arc3: Vec<Vec<u8>> = rsa_signed.iter().map(|m| arc::seal3(&monban, m)).collect();
    assert_eq!(
        arc::validate_corpus(&monban, &arc3),
        arc3.len(),
        "ARC chains pass"
    );
    let dkim_on_arc3 = || assert_eq!(monban.verify_corpus(black_box(&arc3)), arc3.len());
    let arc_on_arc3 = || assert_eq!(arc::validate_corpus(&monban, black_box(&arc3)), arc3.len());
    {
        let mut g = c.benchmark_group("arc_verify/3-sets");
        g.sampling_mode(SamplingMode::Flat)
            .throughput(Throughput::Bytes(dkim_corpus::total_bytes(&arc3)));
        g.bench_function("dkim_one_signature", |b| b.iter(dkim_on_arc3));
        g.bench_function("arc_three_sets", |b| b.iter(arc_on_arc3));
        g.finish();
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
    // ARC against DKIM, and the floor of each: the crypto + hash bound of one DKIM
    // verification, of an ARC validation without oldest-pass (4 RSA checks for 3 sets)
    // and with it (6), all on the same messages.
    let sets = 3;
    let t = dkim_corpus::interleave(
        rounds,
        &mut [
            &mut || dkim_on_arc3(),
            &mut || arc_on_arc3(),
            &mut || bound.verify_corpus(black_box(&arc3), KeyKind::Rsa),
            &mut || bound.verify_arc_corpus(black_box(&arc3), sets + 1),
            &mut || bound.verify_arc_corpus(black_box(&arc3), 2 * sets),
        ],
    );
    let ratio = |a: usize, b: usize| {
        let r: Vec<f64> = t[a].iter().zip(&t[b]).map(|(x, y)| x / y).collect();
        dkim_corpus::median(&r)
    };
    let secs = |i: usize| dkim_corpus::median(&t[i]);
    println!(
        "\nARC, {sets} sets (3 AMS + 3 seals, RSA-2048), against one DKIM verification of the same {} messages (medians of {rounds} interleaved rounds):\n",
        arc3.len(),
    );
    println!("| | s per corpus | against DKIM (monban) | against the DKIM bound |");
    println!("|---|---:|---:|---:|");
    println!(
        "| DKIM, monban | {:.3} | 1.00x | {:.2}x |",
        secs(0),
        ratio(0, 2)
    );
    println!(
        "| ARC, monban (with oldest-pass) | {:.3} | **{:.2}x** (target <= 1.3) | {:.2}x |",
        secs(1),
        ratio(1, 0),
        ratio(1, 2)
    );
    println!(
        "| bound: DKIM (hash + 1 RSA check) | {:.3} | | 1.00x |",
        secs(2)
    );
    println!(
        "| bound: ARC without oldest-pass (hash + {} RSA checks) | {:.3} | | {:.2}x |",
        sets + 1,
        secs(3),
        ratio(3, 2)
    );
    println!(
        "| bound: ARC with oldest-pass (hash + {} RSA checks) | {:.3} | | {:.2}x |",
        2 * sets,
        secs(4),
        ratio(4, 2)
    );
    println!(
        "\nmonban's ARC is {:.1} % of its bound (with oldest-pass); monban's DKIM {:.1} % of its own.",
        100.0 * ratio(4, 1),
        100.0 * ratio(2, 0),
    );
}

/// The ARC side of the benchmark.
mod arc {
    use monban::arc::{ArcConfig, ArcResult, ArcSealer, ArcVerifier, SealConfig};
    use monban::message::{MessageSplitter, Split};

    use super::dkim_corpus::{DOMAIN, KeyKind, MonbanDkim};

    fn split(message: &[u8]) -> (monban::message::Headers, &[u8]) {
        let mut splitter = MessageSplitter::new();
        let Ok(Split::HeaderDone(headers, body)) = splitter.push(message) else {
            panic!("the message has no header/body separator");
        };
        (headers, body)
    }

    /// Validates one message's chain through the streaming API.
    async fn validate(m: &MonbanDkim, message: &[u8]) -> monban::arc::ArcOutcome {
        let (headers, body) = split(message);
        let mut v = ArcVerifier::new(&headers, ArcConfig::default());
        v.body(body);
        v.finish(&m.resolver).await
    }

    /// How many chains pass.
    pub fn validate_corpus(m: &MonbanDkim, messages: &[Vec<u8>]) -> usize {
        m.rt.block_on(async {
            let mut pass = 0;
            for msg in messages {
                if validate(m, msg).await.result == ArcResult::Pass {
                    pass += 1;
                }
            }
            pass
        })
    }

    /// The message with three ARC sets on top.
    pub fn seal3(m: &MonbanDkim, message: &[u8]) -> Vec<u8> {
        let mut msg = message.to_vec();
        for hop in 1..=3 {
            let chain = m.rt.block_on(validate(m, &msg));
            let (headers, body) = split(&msg);
            let config = SealConfig::new(
                DOMAIN,
                KeyKind::Rsa.selector(),
                m.key(KeyKind::Rsa).clone(),
                &format!("mx{hop}.{DOMAIN}"),
            );
            let mut s = ArcSealer::new(headers, config, m.now).expect("sealer");
            s.body(body);
            let set = s
                .finish(&chain, &[format!("dkim=pass header.d={DOMAIN}")])
                .expect("seal");
            let mut out = set.header_lines().into_bytes();
            out.extend_from_slice(&msg);
            msg = out;
        }
        msg
    }
}
