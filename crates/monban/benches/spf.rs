//! SPF `check_host()` with a warm cache, on the three policies of
//! `bench/spf-policies.zone`:
//!
//! - `first-hit`: the sender's record matches on its first mechanism;
//! - `include-chain`: three nested `include:`s of IPv4/IPv6 network lists, the match in
//!   the last one;
//! - `ten-lookups`: exactly ten DNS-querying terms (RFC 7208 §4.6.4), the match on the
//!   last.
//!
//! The resolver is a [`CachingResolver`] over the zone, warmed by one evaluation before
//! measuring; the benchmark then checks that no lookup missed the cache. The comparison
//! with Stalwart's `mail-auth` lives outside the workspace, in `bench/compare`.
//!
//! Run: `cargo bench -p monban --bench spf` (add `-- --quick` for a short run).

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use monban::spf::{Spf, SpfResult};
use monban_dns::{CachingResolver, ZoneResolver};

const ZONE: &str = include_str!("../../../bench/spf-policies.zone");
const HELO: &str = "mail.sender.example";
/// A fixed `%{t}`; none of the policies uses it.
const NOW: u64 = 1_767_225_600;

/// One policy: the benchmark name, the MAIL FROM, the client, the expected result and
/// how many DNS-querying terms (RFC 7208 §4.6.4) it takes.
struct Policy {
    name: &'static str,
    mail_from: &'static str,
    ip: &'static str,
    expected: SpfResult,
    dns_terms: u32,
}

const POLICIES: &[Policy] = &[
    Policy {
        name: "first-hit",
        mail_from: "alice@first.example",
        ip: "192.0.2.10",
        expected: SpfResult::Pass,
        dns_terms: 0,
    },
    Policy {
        name: "include-chain",
        mail_from: "bob@chain.example",
        ip: "198.51.100.77",
        expected: SpfResult::Pass,
        dns_terms: 3,
    },
    Policy {
        name: "ten-lookups",
        mail_from: "carol@ten.example",
        ip: "203.0.113.45",
        expected: SpfResult::Pass,
        dns_terms: 10,
    },
];

fn spf_check_host(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let zone = ZoneResolver::parse(ZONE, "bench/spf-policies.zone", None).expect("zone parses");
    let spf = Spf::new(CachingResolver::new(zone));

    let mut group = c.benchmark_group("spf_check_host");
    for policy in POLICIES {
        let ip: IpAddr = policy.ip.parse().expect("policy IP");
        // Warm the cache and check the answer before measuring.
        let warm = rt.block_on(spf.verify_mail_from(ip, HELO, policy.mail_from, NOW));
        assert_eq!(
            (warm.result, u32::from(warm.dns_lookups)),
            (policy.expected, policy.dns_terms),
            "{}: unexpected outcome {warm:?}",
            policy.name
        );
        let misses = spf.resolver().stats().misses;
        group.bench_function(policy.name, |b| {
            b.iter(|| {
                let outcome = rt.block_on(spf.verify_mail_from(
                    black_box(ip),
                    black_box(HELO),
                    black_box(policy.mail_from),
                    NOW,
                ));
                black_box(outcome.result)
            });
        });
        assert_eq!(
            spf.resolver().stats().misses,
            misses,
            "{}: a lookup missed the warm cache while measuring",
            policy.name
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = spf_check_host
}
criterion_main!(benches);
