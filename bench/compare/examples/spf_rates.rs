//! SPF `check_host()` with warm caches, monban against mail-auth, for `benches/compare.sh`:
//! the three policies of `../spf-policies.zone` (see README.md), each evaluation polled
//! once (`ready`), as the `spf_compare` benchmark's main rows. The two libraries run
//! interleaved, a batch of evaluations each per round; the output is one line per
//! policy: `policy monban-ns mail-auth-ns` (nanoseconds per evaluation, the median of
//! the rounds), tab-separated.
//!
//! ```text
//! cargo run --release --ignore-rust-version --example spf_rates -- [ROUNDS [BATCH [POLICY]]]
//! ```
//!
//! With POLICY (a policy's name), only that policy runs: for profiling one of them.
//!
//! The setup checks that both libraries give the expected result from their caches alone.

use std::hint::black_box;
use std::time::Instant;

use monban_bench_compare::{POLICIES, Setup};

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args
        .next()
        .map_or(7, |s| s.parse().expect("ROUNDS: a number"));
    let batch: u32 = args
        .next()
        .map_or(20_000, |s| s.parse().expect("BATCH: a number"));
    let only = args.next();
    if let Some(name) = &only {
        assert!(
            POLICIES.iter().any(|p| p.name == name),
            "POLICY: one of {:?}",
            POLICIES.iter().map(|p| p.name).collect::<Vec<_>>()
        );
    }
    let setup = Setup::new();
    for policy in POLICIES
        .iter()
        .filter(|p| only.as_deref().is_none_or(|n| n == p.name))
    {
        let monban = || {
            for _ in 0..batch {
                black_box(setup.monban_once(policy));
            }
        };
        let mail_auth = || {
            for _ in 0..batch {
                black_box(setup.mail_auth_once(policy));
            }
        };
        let mut times = [Vec::new(), Vec::new()];
        for _ in 0..rounds {
            for (i, run) in [&monban as &dyn Fn(), &mail_auth].iter().enumerate() {
                let t = Instant::now();
                run();
                times[i].push(t.elapsed().as_secs_f64() * 1e9 / f64::from(batch));
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let [m, a] = &mut times;
        println!("{}\t{:.0}\t{:.0}", policy.name, median(m), median(a));
    }
    assert_eq!(setup.caches.misses(), 0, "mail-auth missed its caches");
}
