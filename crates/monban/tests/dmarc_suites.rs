//! DMARC record vectors (`../shared/suites/dmarc-vectors/records.json`), one named test
//! per record: `dmarc_record::<n>`. The vectors come from mail-auth (RFC 9989 style) and
//! mox (RFC 7489); where monban's rule differs from the vector's source, the case is
//! listed in [`DIVERGENT`] with the reason, and monban's answer is checked instead.

use std::path::Path;

use libtest_mimic::{Arguments, Failed, Trial};
use monban::dmarc::{AlignmentMode, DmarcRecord, Policy};
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
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
