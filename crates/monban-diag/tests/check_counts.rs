//! Issue 10: the domain checker counts SPF lookups with the evaluator's own code, so the
//! two cannot disagree on a record. Every domain with an SPF record in the OpenSPF
//! suites (RFC 7208 and RFC 4408) and in the bundled example zone is checked, and its
//! count is compared with a plain `check_host()` for mail from an unlisted host:
//! equal counts, over 10 exactly when receivers give permerror for that limit, and a
//! void-lookup finding exactly when they give permerror for the void limit, for an
//! IPv4 or an IPv6 client.

#[path = "../../monban/tests/support/spf_suite.rs"]
mod spf_suite;

use std::net::IpAddr;

use monban::spf::{Spf, SpfCause, SpfIdentity, SpfResult};
use monban_diag::check::{CheckOptions, check};
use monban_dns::{Record, RecordType, Resolver, ZoneResolver};
use serde::Deserialize;
use spf_suite::{Scenario, build_resolver, suites_dir};

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

/// Compares the checker with the evaluator for one domain; `None` when they agree.
async fn compare<R: Resolver>(resolver: &R, domain: &str) -> Option<String> {
    let report = check(resolver, domain, &CheckOptions::default()).await;
    let checker = report.spf_lookups?;
    // What a receiver computes for mail from a host the policy does not list, IPv4 and
    // IPv6 (whose `a` and `mx` query AAAA records: its void lookups are its own).
    let receiver_for = |probe: IpAddr| async move {
        Spf::new(resolver)
            .check_host(
                probe,
                domain,
                &format!("postmaster@{domain}"),
                domain,
                SpfIdentity::MailFrom,
                0,
            )
            .await
            .into_owned()
    };
    let receiver = receiver_for("240.0.0.1".parse().unwrap()).await;
    let receiver6 = receiver_for("100::1".parse().unwrap()).await;
    let permerror =
        |cause: SpfCause| receiver.result == SpfResult::Permerror && receiver.cause == cause;
    let voids6 = receiver6.result == SpfResult::Permerror
        && receiver6.cause == SpfCause::VoidLookupLimit
        && !permerror(SpfCause::LookupLimit);
    let says_voids = report
        .findings
        .iter()
        .any(|f| f.message.contains("lookups of names that do not exist"));
    let agree = if permerror(SpfCause::LookupLimit) {
        // Receivers stop at the 11th: the checker counts on, past 10.
        checker > 10
    } else if permerror(SpfCause::VoidLookupLimit) {
        // Receivers stop at the third void lookup: the checker says so, and has counted
        // at least as far.
        says_voids && checker >= u32::from(receiver.dns_lookups)
    } else {
        checker == u32::from(receiver.dns_lookups) && says_voids == voids6
    };
    (!agree).then(|| {
        format!(
            "{domain}: checker {checker}, evaluator {} ({:?})",
            receiver.dns_lookups, receiver.cause
        )
    })
}

#[test]
fn checker_counts_spf_lookups_as_the_evaluator_does() {
    let mut compared = 0;
    let mut disagreements = Vec::new();
    for file in ["rfc7208-tests.yml", "rfc4408-tests.yml"] {
        let path = suites_dir().join("spf-rfc7208").join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        for doc in serde_norway::Deserializer::from_str(&text) {
            let scenario = Scenario::deserialize(doc).unwrap();
            let resolver = build_resolver(&scenario.zonedata);
            let domains: Vec<String> = scenario
                .zonedata
                .keys()
                .map(|d| d.to_ascii_lowercase())
                .filter(|d| {
                    resolver.zone.lookup_now(d, RecordType::Txt).is_ok_and(|a| {
                        a.records.iter().any(
                            |r| matches!(r, Record::Txt(t) if t.joined().starts_with(b"v=spf1")),
                        )
                    })
                })
                .collect();
            for d in domains {
                compared += 1;
                if let Some(why) = block_on(compare(&resolver, &d)) {
                    disagreements.push(format!("[{file}: {}] {why}", scenario.description));
                }
            }
        }
    }
    let zone = ZoneResolver::from_file(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/example.zone"),
    )
    .unwrap();
    let names: Vec<String> = zone
        .records()
        .filter(|(_, r, _)| matches!(r, Record::Txt(t) if t.joined().starts_with(b"v=spf1")))
        .map(|(n, _, _)| n.to_owned())
        .collect();
    for d in names {
        compared += 1;
        if let Some(why) = block_on(compare(&zone, &d)) {
            disagreements.push(format!("[example.zone] {why}"));
        }
    }
    assert!(compared > 100, "only {compared} domains compared");
    assert!(
        disagreements.is_empty(),
        "{} of {compared} disagree:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
