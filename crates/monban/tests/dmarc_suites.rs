//! DMARC vectors from `../shared/suites/dmarc-vectors/`, one named test each:
//! - `dmarc_record::<n>`: record parsing (`records.json`). The vectors come from
//!   mail-auth (RFC 9989 style) and mox (RFC 7489); where monban's rule differs from the
//!   vector's source, the case is listed in [`DIVERGENT`] with the reason, and monban's
//!   answer is checked instead.
//! - `dmarc_scenario::<name>`: evaluation (`scenarios.json`, RFC 9989 semantics: tree
//!   walk, `psd`, `np`).
//! - `dmarc_psl::<n>`: the Public Suffix List's own test vectors (`publicsuffix/tests.txt`)
//!   against the bundled list, for the RFC 7489 organizational-domain mode.

use std::path::Path;

use libtest_mimic::{Arguments, Failed, Trial};
use monban::dkim::{DkimOutcome, DkimResult};
use monban::dmarc::{AlignmentMode, DmarcConfig, DmarcRecord, DmarcResult, Policy};
use monban::spf::{SpfCause, SpfIdentity, SpfOutcome, SpfResult};
use monban_dns::{Record, Txt, ZoneResolver};
use serde_json::Value;

/// (record, monban's validity, why).
const DIVERGENT: &[(&str, bool, &str)] = &[(
    "v=DMARC1; sp=reject; p=reject",
    true,
    "RFC 9989 §4.8 allows any tag order after v=; mox follows RFC 7489's ABNF, which wanted p second",
)];

fn policy(v: &Value) -> Option<Policy> {
    match v.as_str()?.to_ascii_lowercase().as_str() {
        "none" => Some(Policy::None),
        "quarantine" => Some(Policy::Quarantine),
        "reject" => Some(Policy::Reject),
        _ => None,
    }
}

fn check(record: &str, valid: bool, expect: Option<&Value>) -> Result<(), Failed> {
    let parsed = DmarcRecord::parse(record);
    let r = match (parsed, valid) {
        (Err(_), false) => return Ok(()),
        (Ok(r), false) => return Err(format!("accepted an invalid record: {r:?}").into()),
        (Err(e), true) => return Err(format!("rejected a valid record: {e}").into()),
        (Ok(r), true) => r,
    };
    let Some(e) = expect else { return Ok(()) };
    let mut errors = Vec::new();
    let mut cmp = |what: &str, ok: bool, got: String| {
        if !ok {
            errors.push(format!("{what}: got {got}"));
        }
    };
    if let Some(p) = e.get("p") {
        cmp("p", policy(p) == Some(r.p), r.p.to_string());
    }
    // mail-auth states sp/np resolved; mox states sp as given (null = inherit).
    if let Some(sp) = e.get("sp") {
        let want = policy(sp);
        let ok = match want {
            Some(w) => w == r.subdomain_policy(),
            None => r.sp.is_none(),
        };
        cmp("sp", ok, format!("{:?}", r.sp));
    }
    if let Some(np) = e.get("np") {
        cmp(
            "np",
            policy(np) == Some(r.nonexistent_policy()),
            r.nonexistent_policy().to_string(),
        );
    }
    for (tag, mode) in [("adkim", r.adkim), ("aspf", r.aspf)] {
        if let Some(v) = e.get(tag) {
            let want = if v == "s" {
                AlignmentMode::Strict
            } else {
                AlignmentMode::Relaxed
            };
            cmp(tag, want == mode, mode.as_str().into());
        }
    }
    if let Some(fo) = e.get("fo") {
        let want: Vec<String> = fo
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_owned())
            .collect();
        cmp("fo", want == r.fo, format!("{:?}", r.fo));
    }
    for (tag, list) in [("rua", &r.rua), ("ruf", &r.ruf)] {
        let Some(want) = e.get(tag).and_then(Value::as_array) else {
            continue;
        };
        let ok = want.len() == list.len()
            && want.iter().zip(list.iter()).all(|(w, g)| {
                let uri_ok = w["uri"].as_str() == Some(g.uri.as_str());
                let size_ok = match (w.get("max_bytes"), w.get("size")) {
                    (Some(mb), _) => mb.as_u64() == Some(g.max_bytes.unwrap_or(0)),
                    (None, Some(size)) => {
                        let mult = match w["unit"].as_str().unwrap_or("") {
                            "k" | "K" => 1 << 10,
                            "m" | "M" => 1 << 20,
                            "g" | "G" => 1 << 30,
                            "t" | "T" => 1u64 << 40,
                            _ => 1,
                        };
                        Some(size.as_u64().unwrap() * mult) == g.max_bytes
                    }
                    (None, None) => g.max_bytes.is_none(),
                };
                uri_ok && size_ok
            });
        cmp(tag, ok, format!("{list:?}"));
    }
    if let Some(t) = e.get("t") {
        cmp("t", t.as_bool() == Some(r.testing), r.testing.to_string());
    }
    if let Some(pct) = e.get("pct") {
        cmp(
            "pct",
            pct.as_u64() == Some(u64::from(r.pct.unwrap_or(100))),
            format!("{:?}", r.pct),
        );
    }
    if let Some(ri) = e.get("ri") {
        cmp(
            "ri",
            ri.as_u64() == Some(u64::from(r.ri.unwrap_or(86_400))),
            format!("{:?}", r.ri),
        );
    }
    if let Some(rf) = e.get("rf") {
        let want: Vec<String> = rf
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_owned())
            .collect();
        let got = r.rf.clone().unwrap_or_else(|| vec!["afrf".into()]);
        cmp("rf", want == got, format!("{got:?}"));
    }
    if let Some(psd) = e.get("psd") {
        let got = match r.psd {
            monban::dmarc::Psd::Yes => "y",
            monban::dmarc::Psd::No => "n",
            monban::dmarc::Psd::Unknown => "default",
        };
        cmp(
            "psd",
            psd.as_str() == Some(got) || (psd == "u" && got == "default"),
            got.into(),
        );
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; ").into())
    }
}

fn scenario(case: &Value) -> Result<(), Failed> {
    let mut zone = ZoneResolver::new();
    if let Some(txt) = case["dns"]["txt"].as_object() {
        for (name, values) in txt {
            for v in values.as_array().unwrap() {
                zone.insert(
                    name,
                    Record::Txt(Txt::new([v.as_str().unwrap().as_bytes().to_vec()])),
                    300,
                );
            }
        }
    }
    if let Some(a) = case["dns"]["a"].as_object() {
        for (name, ips) in a {
            for ip in ips.as_array().unwrap() {
                zone.insert(name, Record::A(ip.as_str().unwrap().parse().unwrap()), 300);
            }
        }
    }
    let from = case["from_header"].as_str().unwrap();
    let message = format!("From: {from}\r\nSubject: test\r\n\r\nbody\r\n");
    let (headers, _) = monban::dkim::split_message(message.as_bytes()).unwrap();
    let spf_domain = case["spf"]["domain"].as_str().unwrap_or("");
    let spf = (!spf_domain.is_empty()).then(|| SpfOutcome {
        result: SpfResult::from_name(case["spf"]["result"].as_str().unwrap()).unwrap(),
        cause: SpfCause::NoMatch,
        identity: SpfIdentity::MailFrom,
        names: monban::spf::SpfNames::new(spf_domain, &format!("x@{spf_domain}"), "h.example"),
        ip: "192.0.2.1".parse().unwrap(),
        explanation: None,
        dns_lookups: 0,
        void_lookups: 0,
    });
    let dkim: Vec<DkimOutcome> = case["dkim"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| DkimOutcome {
            result: if d["result"] == "pass" {
                DkimResult::Pass
            } else {
                DkimResult::Fail
            },
            reason: None,
            domain: d["d"].as_str().unwrap().to_owned(),
            selector: "s".into(),
            algorithm: "rsa-sha256".into(),
            identity: String::new(),
            header_b: String::new(),
            key_bits: None,
            testing: false,
        })
        .collect();
    let out = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(monban::dmarc::evaluate(
            &zone,
            &headers,
            spf.as_ref(),
            &dkim,
            &DmarcConfig::default(),
        ));
    let e = &case["expect"];
    let mut errors = Vec::new();
    // The scenarios state aligned results as "pass", "fail(not-aligned)" or "none"
    // (the mechanism did not pass).
    for (key, aligned, passed) in [
        (
            "dkim",
            out.dkim_aligned,
            dkim.iter().any(|d| d.result == DkimResult::Pass),
        ),
        (
            "spf",
            out.spf_aligned,
            spf.as_ref().is_some_and(|s| s.result == SpfResult::Pass),
        ),
    ] {
        if let Some(want) = e.get(key).and_then(Value::as_str) {
            let got = match (passed, aligned) {
                (true, true) => "pass",
                (true, false) => "fail(not-aligned)",
                (false, _) => "none",
            };
            if want != got {
                errors.push(format!("{key}: want {want}, got {got}"));
            }
        }
    }
    if let Some(want) = e.get("policy").and_then(Value::as_str) {
        let got = out.policy.map_or("-".into(), |p| p.to_string());
        if want != got {
            errors.push(format!(
                "policy: want {want}, got {got} ({:?})",
                out.policy_tag
            ));
        }
    }
    if e.get("dmarc_record").is_some_and(Value::is_null) && out.result != DmarcResult::None {
        errors.push(format!("expected no DMARC record, got {}", out.result));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {out:?}", errors.join("; ")).into())
    }
}

fn main() {
    let args = Arguments::from_args();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/suites/dmarc-vectors/records.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (clone beside shared/)", path.display()));
    let doc: Value = serde_json::from_str(&text).unwrap();
    let trials = doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(n, case)| {
            let case = case.clone();
            Trial::test(format!("dmarc_record::{n:02}"), move || {
                let record = case["record"].as_str().unwrap();
                let mut valid = case["valid"].as_bool().unwrap();
                let mut expect = case.get("expect").cloned();
                let mut note = String::new();
                if let Some((_, ours, why)) = DIVERGENT.iter().find(|d| d.0 == record) {
                    valid = *ours;
                    expect = None;
                    note = format!(" (monban's rule checked: {why})");
                }
                check(record, valid, expect.as_ref()).map_err(|e| {
                    Failed::from(format!(
                        "{record:?}: {}{note}",
                        e.message().unwrap_or_default()
                    ))
                })
            })
        })
        .collect::<Vec<_>>();
    let mut trials = trials;
    let path = path.with_file_name("scenarios.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for case in doc["scenarios"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap().to_owned();
        if case["group"] == "report-uri" {
            // Report destinations belong to aggregate reporting: these cases are run by
            // monban-report's `report_uri_suite`, through the check `report send` makes.
            continue;
        }
        let case = case.clone();
        trials.push(Trial::test(format!("dmarc_scenario::{name}"), move || {
            scenario(&case)
        }));
    }
    let psl_tests = path
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("publicsuffix/tests.txt");
    let text = std::fs::read_to_string(&psl_tests).unwrap();
    let psl = std::sync::Arc::new(monban::dmarc::PublicSuffixList::bundled());
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let mut parts = line.split_whitespace();
        let (Some(input), Some(want)) = (parts.next(), parts.next()) else {
            continue;
        };
        if input == "null" {
            // "null null": the null input has no Rust equivalent (a &str is never null).
            continue;
        }
        let (input, want) = (input.to_owned(), want.to_owned());
        let psl = psl.clone();
        trials.push(Trial::test(
            format!("dmarc_psl::{:03}_{input}", n + 1),
            move || {
                let got = psl
                    .registrable_domain(&input)
                    .unwrap_or_else(|| "null".into());
                if got == want {
                    Ok(())
                } else {
                    Err(format!("{input}: want {want}, got {got}").into())
                }
            },
        ));
    }
    libtest_mimic::run(&args, trials).exit();
}
