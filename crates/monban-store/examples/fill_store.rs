//! Fills a store with synthetic evaluations for the report-generation benchmark
//! (`benches/report-generate.sh`): N evaluations over D policy domains on one UTC day,
//! with a realistic spread of sources, DKIM and SPF results and dispositions.
//!
//!   cargo run --release -p monban-store --example fill_store -- URL N D DAY_START

use std::time::Instant;

use monban_store::{DkimRow, Evaluation, OverrideRow, PublishedPolicy, SpfRow, StoreUrl};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: fill_store STORE_URL EVALUATIONS DOMAINS DAY_START_UNIX");
        std::process::exit(2);
    }
    let url = StoreUrl::parse(&args[1]).expect("a store URL");
    let n: u64 = args[2].parse().expect("a count");
    let domains: u64 = args[3].parse().expect("a count");
    let day: i64 = args[4].parse().expect("a Unix time");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = monban_store::open(&url).await.expect("open the store");
        let start = Instant::now();
        let mut batch = Vec::with_capacity(10_000);
        // A small deterministic generator (xorshift).
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..n {
            let r = next();
            let d = r % domains;
            let domain = format!("d{d}.example");
            let legit = r >> 20 & 7 != 0;
            let ip = if legit {
                format!("192.0.{}.{}", d % 200, (r >> 8) % 4 + 1)
            } else {
                format!("203.0.{}.{}", (r >> 24) % 256, (r >> 32) % 256)
            };
            let dkim_pass = legit && r >> 40 & 3 != 0;
            let spf_pass = legit;
            let dmarc_pass = dkim_pass || spf_pass;
            let p = if d.is_multiple_of(3) {
                "none"
            } else {
                "reject"
            };
            let overridden = !dmarc_pass && p == "reject" && r >> 50 & 15 == 0;
            let disposition = if dmarc_pass || p == "none" || overridden {
                "none"
            } else {
                "reject"
            };
            batch.push(Evaluation {
                uid: format!("bench-{i}"),
                time: day + (i as i64 * 86_399) / n as i64,
                source_ip: Some(ip.parse().unwrap()),
                envelope_from: Some(format!("bounce+{i}@{domain}")),
                header_from: Some(domain.clone()),
                dkim: vec![DkimRow {
                    domain: domain.clone(),
                    selector: "s1".into(),
                    result: if dkim_pass { "pass" } else { "fail" }.into(),
                    human_result: None,
                }],
                spf: Some(SpfRow {
                    domain: domain.clone(),
                    scope: "mfrom".into(),
                    result: if spf_pass { "pass" } else { "fail" }.into(),
                }),
                policy: Some(PublishedPolicy {
                    domain: domain.clone(),
                    p: p.into(),
                    sp: None,
                    np: None,
                    adkim: "r".into(),
                    aspf: "r".into(),
                    testing: false,
                    discovery_method: "treewalk".into(),
                    fo: None,
                    rua: vec![format!("mailto:dmarc@{domain}")],
                    ruf: vec![],
                    psd: false,
                }),
                dmarc: if dmarc_pass { "pass" } else { "fail" }.into(),
                disposition: disposition.into(),
                dkim_aligned: dkim_pass,
                spf_aligned: spf_pass,
                overrides: if overridden {
                    vec![OverrideRow {
                        kind: "local_policy".into(),
                        comment: Some("allow_networks".into()),
                    }]
                } else {
                    vec![]
                },
                policy_applied: Some(p.into()),
                report_mail: false,
                failure: None,
            });
            if batch.len() == 10_000 {
                store.record(&batch).await.expect("record");
                batch.clear();
            }
        }
        if !batch.is_empty() {
            store.record(&batch).await.expect("record");
        }
        eprintln!(
            "fill_store: {n} evaluations over {domains} domains in {:.1} s",
            start.elapsed().as_secs_f64()
        );
    });
}
