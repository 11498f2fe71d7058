//! Runs one library on one policy a given number of times, for profilers:
//!
//! ```text
//! cargo build --profile bench --ignore-rust-version --example profile
//! valgrind --tool=callgrind target/release/examples/profile monban ten-lookups 10000
//! ```
//!
//! Each evaluation is polled once (`ready`), as the benchmark's main rows measure it.
//! Arguments: `monban`, `mail-auth` or `none` (an empty `block_on`),
//! a policy name, an iteration count (default 100000). The setup (zone parsing, cache warming, agreement checks) runs first, once.

use std::hint::black_box;

use monban_bench_compare::{POLICIES, Setup};

fn main() {
    let mut args = std::env::args().skip(1);
    let lib = args
        .next()
        .expect("usage: profile <monban|mail-auth> <policy> [iterations]");
    let name = args.next().expect("a policy name");
    let n: u64 = args
        .next()
        .map_or(100_000, |s| s.parse().expect("an iteration count"));
    let policy = POLICIES
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no policy {name}"));
    let setup = Setup::new();
    let rt = &setup.rt;
    match lib.as_str() {
        "monban" => {
            for _ in 0..n {
                black_box(setup.monban_once(policy));
            }
        }
        "mail-auth" => {
            for _ in 0..n {
                black_box(setup.mail_auth_once(policy));
            }
        }
        "none" => {
            for _ in 0..n {
                black_box(rt.block_on(async { black_box(policy.name.len()) }));
            }
        }
        other => panic!("unknown library {other}"),
    }
    assert_eq!(setup.caches.misses(), 0);
}
