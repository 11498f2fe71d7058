//! SPF `check_host()` of the MAIL FROM identity with warm caches: monban against
//! Stalwart's mail-auth on the three policies of `../spf-policies.zone`, one criterion
//! group per policy with `monban` and `mail-auth` side by side. See README.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mail_auth::Parameters;
use mail_auth::spf::verify::SpfParameters;
use monban_bench_compare::{HELO, NOW, POLICIES, RECEIVER, Setup, ready};

fn spf_compare(c: &mut Criterion) {
    // Panics unless both libraries give the expected result for every policy, served
    // from their caches alone.
    let setup = Setup::new();
    let rt = &setup.rt;

    // What block_on itself costs, to read the smallest numbers against.
    c.bench_function("runtime/block_on-empty", |b| {
        b.iter(|| rt.block_on(async { black_box(0u8) }));
    });

    for policy in POLICIES {
        let ip = policy.ip();
        let monban = || {
            setup.monban.verify_mail_from(
                black_box(ip),
                black_box(HELO),
                black_box(policy.mail_from),
                NOW,
            )
        };
        let mail_auth = || {
            setup.mail_auth.verify_spf(
                Parameters::new(SpfParameters::mail_from(
                    black_box(ip),
                    black_box(HELO),
                    black_box(RECEIVER),
                    black_box(policy.mail_from),
                ))
                .with_cache(&setup.caches),
            )
        };
        let mut group = c.benchmark_group(format!("spf_check_host/{}", policy.name));
        // The evaluation itself: polled once (it never waits with warm caches).
        group.bench_function("monban", |b| b.iter(|| black_box(ready(monban()).result)));
        group.bench_function("mail-auth", |b| {
            b.iter(|| black_box(ready(mail_auth()).result()))
        });
        // As a caller outside a runtime runs it: one block_on each.
        group.bench_function("monban/block_on", |b| {
            b.iter(|| black_box(rt.block_on(monban()).result))
        });
        group.bench_function("mail-auth/block_on", |b| {
            b.iter(|| black_box(rt.block_on(mail_auth()).result()))
        });
        group.finish();
    }

    assert_eq!(
        setup.caches.misses(),
        0,
        "mail-auth missed its caches while measuring"
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = spf_compare
}
criterion_main!(benches);
