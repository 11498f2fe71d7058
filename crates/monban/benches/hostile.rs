//! Hostile-input costs that must stay linear (issue 9): a `DKIM-Signature` whose `h=`
//! lists 1,000 to 100,000 names.
//!
//! - `h_select/N`: the header selection of RFC 6376 §5.4.2 ([`pick_fields`]) over a
//!   header of 5,000 fields, with N names, most of them absent (the attack's shape).
//!   The cap refuses such a signature before this runs; the group measures the
//!   selection itself, so that a quadratic regression shows even below the cap.
//!   Throughput is in names: linear work gives the same names/s at every N.
//! - `h_verify/N`: a whole verification (`monban::dkim::verify_message`) of a message
//!   carrying that signature: at N = 1,000 the signature is evaluated (permerror for its
//!   bad b=, key from a warm in-memory zone), above it refused by the cap at parse time.
//!
//! After criterion, a summary prints the cost of each added name between the sizes:
//! the same at every step when linear (the old search per name grew it tenfold per
//! step: 100,000 names took 11-20 s).
//!
//! Run: `cargo bench -p monban --bench hostile` (`-- summary` for the summary alone).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use monban::dkim::verify::pick_fields;
use monban::dkim::{self, DkimConfig};
use monban::message::{HeaderField, Headers};
use monban_dns::ZoneResolver;

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];

fn header() -> Headers {
    let mut block = String::new();
    for i in 0..4_999 {
        block.push_str(&format!("X-Field-{}: value {i}\r\n", i % 50));
    }
    block.push_str("From: a@example.com\r\n");
    Headers::parse(block.as_bytes()).unwrap()
}

fn names(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match i % 10 {
            0 => "From".to_owned(),
            1 => format!("x-field-{}", i % 50),
            // Short names: 100,000 of them must fit the 1 MiB header limit.
            _ => format!("x{i:x}"),
        })
        .collect()
}

fn message(n: usize) -> Vec<u8> {
    let list = names(n).join(":");
    format!(
        "DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=s1; h={list}; bh=AAAA; b=AAAA\r\nFrom: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n"
    )
    .into_bytes()
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let headers = header();
    let fields: Vec<HeaderField<'_>> = headers.fields().collect();
    let zone = ZoneResolver::parse(
        "s1._domainkey.example.com. TXT \"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n",
        "z",
        None,
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let verify = |m: &[u8]| {
        rt.block_on(dkim::verify_message(
            black_box(m),
            &zone,
            1_000_000,
            DkimConfig::default(),
        ))
        .unwrap()
    };

    let mut g = c.benchmark_group("h_select");
    for n in SIZES {
        let list = names(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(n.to_string(), |b| {
            b.iter(|| black_box(pick_fields(&fields, black_box(&list))))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("h_verify");
    for n in SIZES {
        let m = message(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(n.to_string(), |b| b.iter(|| verify(&m)));
    }
    g.finish();
    c.final_summary();

    // The summary: best of 20 runs per size. The selection has a fixed part (the map
    // of the 5,000 fields); the cost of each further name is the slope between sizes,
    // which is flat when the work is linear (a search per name grows it 10x per step).
    println!("\nh= selection over a 5,000-field header (best of 20):");
    println!("{:>8} {:>12} {:>22}", "names", "total", "ns per added name");
    let mut prev: Option<(usize, f64)> = None;
    let mut slopes = Vec::new();
    for n in SIZES {
        let list = names(n);
        let best = (0..20)
            .map(|_| {
                let t = Instant::now();
                black_box(pick_fields(&fields, black_box(&list)));
                t.elapsed()
            })
            .min()
            .unwrap();
        let ns = best.as_nanos() as f64;
        let slope = prev.map(|(pn, pns)| (ns - pns) / (n - pn) as f64);
        if let Some(sl) = slope {
            slopes.push(sl);
        }
        println!(
            "{n:>8} {:>12?} {:>22}",
            best,
            slope.map_or("-".to_owned(), |s| format!("{s:.1}"))
        );
        prev = Some((n, ns));
    }
    println!(
        "slope 10k-100k / slope 1k-10k: {:.2} (about 1 = linear)",
        slopes[1] / slopes[0]
    );
    for n in SIZES {
        let m = message(n);
        let out = verify(&m);
        println!(
            "verify with {n:>6} names: {} ({})",
            out[0].result.as_str(),
            out[0].reason_text().as_deref().unwrap_or("")
        );
    }
}
