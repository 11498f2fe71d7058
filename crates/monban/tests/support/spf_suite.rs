//! The OpenSPF YAML suites (`../shared/suites/spf-rfc7208`) as zones: shared by the
//! conformance harness (`spf_suites.rs`) and by monban-diag's test that the domain
//! checker counts lookups as the evaluator does. Each scenario's zone data is served by
//! an in-memory resolver built as the suite's README says (SPF-type records copied to
//! TXT when a name has no TXT; `TIMEOUT` markers become DNS timeouts).

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use monban::spf::SpfResult;
use monban_dns::{
    Lookup, LookupError, Record, RecordType, Resolver, Txt, ZoneResolver, normalize_name,
};
use serde::Deserialize;

pub fn suites_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/suites");
    assert!(
        dir.is_dir(),
        "the conformance suites are missing: expected {} (clone the project beside shared/)",
        dir.display()
    );
    dir
}

/// A resolver over a zone, with names that time out.
#[derive(Debug)]
pub struct SuiteResolver {
    pub zone: ZoneResolver,
    /// name → the record types answered before the TIMEOUT marker.
    pub timeouts: HashMap<String, HashSet<RecordType>>,
    /// Names containing this marker give SERVFAIL (mail-auth's `_dns_error.`).
    pub servfail_marker: Option<&'static str>,
}

impl Resolver for SuiteResolver {
    async fn lookup(&self, name: &str, rtype: RecordType) -> Lookup {
        self.answer(name, rtype)
    }
}

/// A [`SuiteResolver`] whose every answer is at hand ([`Resolver::cached`]), as from a
/// warm cache: the SPF evaluator then makes one synchronous pass instead of awaiting
/// each lookup and evaluating again. A case is run both ways and must give the same
/// outcome.
pub struct AtHand<'r>(pub &'r SuiteResolver);

impl Resolver for AtHand<'_> {
    async fn lookup(&self, name: &str, rtype: RecordType) -> Lookup {
        self.0.answer(name, rtype)
    }

    fn cached(&self, name: &str, rtype: RecordType) -> Option<Lookup> {
        Some(self.0.answer(name, rtype))
    }
}

impl SuiteResolver {
    fn answer(&self, name: &str, rtype: RecordType) -> Lookup {
        let n = normalize_name(name).unwrap_or_else(|_| name.to_ascii_lowercase());
        if self
            .timeouts
            .get(&n)
            .is_some_and(|answered| !answered.contains(&rtype))
        {
            return Err(LookupError::Timeout { name: n });
        }
        if self
            .servfail_marker
            .is_some_and(|marker| n.contains(marker))
        {
            return Err(LookupError::ServFail {
                name: n,
                detail: "test marker".into(),
            });
        }
        self.zone.lookup_now(name, rtype)
    }
}

// ---------------------------------------------------------------------------
// The OpenSPF YAML suites.

#[derive(Debug, Deserialize)]
pub struct Scenario {
    pub description: String,
    pub tests: BTreeMap<String, Case>,
    #[serde(default)]
    pub zonedata: BTreeMap<String, Vec<ZoneItem>>,
}

#[derive(Debug, Deserialize)]
pub struct Case {
    pub helo: String,
    pub host: String,
    pub mailfrom: String,
    pub result: Expected,
    pub explanation: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Expected {
    One(String),
    Any(Vec<String>),
}

impl Expected {
    pub fn accepts(&self, r: SpfResult) -> bool {
        match self {
            Self::One(s) => s.eq_ignore_ascii_case(r.as_str()),
            Self::Any(v) => v.iter().any(|s| s.eq_ignore_ascii_case(r.as_str())),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ZoneItem {
    Marker(String),
    Rr(BTreeMap<String, serde_norway::Value>),
}

pub fn txt_of(value: &serde_norway::Value) -> Option<Txt> {
    match value {
        serde_norway::Value::String(s) => Some(Txt::new([s.as_bytes().to_vec()])),
        serde_norway::Value::Sequence(items) => Some(Txt::new(
            items
                .iter()
                .map(|i| i.as_str().unwrap_or_default().as_bytes().to_vec()),
        )),
        _ => None,
    }
}

pub fn scalar(value: &serde_norway::Value) -> String {
    match value {
        serde_norway::Value::String(s) => s.clone(),
        other => serde_norway::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }
}

pub fn build_resolver(zonedata: &BTreeMap<String, Vec<ZoneItem>>) -> SuiteResolver {
    let mut zone = ZoneResolver::new();
    let mut timeouts = HashMap::new();
    for (owner, items) in zonedata {
        let owner = owner.to_ascii_lowercase();
        let has_txt = items
            .iter()
            .any(|i| matches!(i, ZoneItem::Rr(m) if m.contains_key("TXT")));
        let mut seen = HashSet::new();
        for item in items {
            match item {
                ZoneItem::Marker(m) if m == "TIMEOUT" => {
                    timeouts.insert(owner.clone(), seen.clone());
                }
                ZoneItem::Marker(m) => panic!("unknown marker {m:?} at {owner}"),
                ZoneItem::Rr(map) => {
                    for (rtype, value) in map {
                        let record = match rtype.as_str() {
                            "TXT" if value.as_str() == Some("NONE") => None,
                            "TXT" => txt_of(value).map(Record::Txt),
                            // SPF RRs are served as TXT when the name has no TXT entry.
                            "SPF" if !has_txt => txt_of(value).map(Record::Txt),
                            "SPF" => None,
                            "A" => Some(Record::A(scalar(value).parse().expect("A"))),
                            "AAAA" => Some(Record::Aaaa(scalar(value).parse().expect("AAAA"))),
                            "MX" => {
                                let seq = value.as_sequence().expect("MX is [pref, host]");
                                let exchange = scalar(&seq[1]);
                                Some(Record::Mx {
                                    preference: seq[0].as_u64().expect("MX pref") as u16,
                                    exchange: exchange.trim_end_matches('.').to_ascii_lowercase(),
                                })
                            }
                            "PTR" => Some(Record::Ptr(
                                scalar(value).trim_end_matches('.').to_ascii_lowercase(),
                            )),
                            "CNAME" => Some(Record::Cname(
                                scalar(value).trim_end_matches('.').to_ascii_lowercase(),
                            )),
                            other => panic!("unknown record type {other} at {owner}"),
                        };
                        // `TXT: NONE` is no record: a later TIMEOUT still times TXT out.
                        if let Some(r) = record {
                            seen.insert(r.record_type());
                            zone.insert(&owner, r, 300);
                        }
                    }
                }
            }
        }
    }
    SuiteResolver {
        zone,
        timeouts,
        servfail_marker: None,
    }
}
