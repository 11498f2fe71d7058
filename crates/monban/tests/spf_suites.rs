//! External SPF conformance suites, one named test per case:
//!
//! - `spf_rfc7208::<id>`: the OpenSPF RFC 7208 suite (`../shared/suites/spf-rfc7208/rfc7208-tests.yml`);
//! - `spf_rfc4408::<id>`: the older RFC 4408 suite, run against RFC 7208 semantics (every
//!   case passes as written: where RFC 7208 changed an answer, the suite lists both);
//! - `spf_mail_auth::<file>::<n>`: Stalwart mail-auth's `resources/spf/*.yml` checks; the
//!   six where mail-auth departs from RFC 7208 are listed in [`MAIL_AUTH_DIVERGENT`] with
//!   the reason, and checked against the RFC 7208 answer.
//!
//! Each scenario's zone data is served by an in-memory resolver (`support/spf_suite.rs`).

#[path = "support/spf_suite.rs"]
mod spf_suite;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};
use monban::spf::{Spf, SpfConfig, SpfOutcome, SpfResult};
use monban_dns::{CachingResolver, Record, Resolver, Txt, ZoneResolver};
use serde::Deserialize;
use spf_suite::*;

/// mail-auth checks where mail-auth departs from RFC 7208. We check the RFC 7208
/// answer (second field) instead, for the reason given (third).
const MAIL_AUTH_DIVERGENT: &[(&str, &str, &str)] = &[
    (
        "spf_mail_auth::all::001",
        "permerror",
        "`ip:10.0.0.1` after `-all` is an unknown mechanism; RFC 7208 §4.6 makes a syntax \
         error anywhere in the record a permerror, even after `all` (mail-auth ignores it)",
    ),
    (
        "spf_mail_auth::basic::009",
        "permerror",
        "ten `a:` lookups of names that do not exist exceed the void-lookup limit of \
         RFC 7208 §4.6.4 (mail-auth has no void-lookup limit)",
    ),
    (
        "spf_mail_auth::basic::014",
        "permerror",
        "an `mx` target with 11 MX records is a permerror (RFC 7208 §4.6.4, the OpenSPF \
         suite's mx-limit case) even when one of the first ten would match",
    ),
    (
        "spf_mail_auth::exists::002",
        "fail",
        "`exists` makes an A query even for an IPv6 client (RFC 7208 §5.7); the name has \
         only AAAA records",
    ),
    (
        "spf_mail_auth::macro::004",
        "fail",
        "`exists` makes an A query even for an IPv6 client (RFC 7208 §5.7); the name has \
         only AAAA records",
    ),
    (
        "spf_mail_auth::ip::011",
        "fail",
        "an IPv4 client is matched by ip4 mechanisms only; `ip6:::ffff:10.1.2.3` does not \
         match 10.1.2.3 (RFC 7208 §5.6, the OpenSPF suite's cidr6-ip4 case)",
    ),
];

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn yaml_trials(file: &str, prefix: &str) -> Vec<Trial> {
    let path = suites_dir().join("spf-rfc7208").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut trials = Vec::new();
    for doc in serde_norway::Deserializer::from_str(&text) {
        let scenario = Scenario::deserialize(doc).unwrap_or_else(|e| panic!("{file}: {e}"));
        let resolver = Arc::new(build_resolver(&scenario.zonedata));
        for (id, case) in scenario.tests {
            let resolver = resolver.clone();
            let expected = case.result;
            let description = scenario.description.clone();
            trials.push(Trial::test(format!("{prefix}::{id}"), move || {
                run_case(
                    &resolver,
                    Mode::MailFrom,
                    &case.host,
                    &case.helo,
                    &case.mailfrom,
                    &expected,
                    case.explanation.as_deref(),
                    "unknown",
                )
                .map_err(|e| Failed::from(format!("[{description}] {e}")))
            }));
        }
    }
    trials
}

/// How a case combines the identities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// check_host() on the MAIL FROM identity (postmaster@helo for a null sender).
    MailFrom,
    /// mail-auth's `verify_spf`: the HELO identity first, and the MAIL FROM identity only
    /// when HELO passes.
    HeloThenMailFrom,
}

/// One case's evaluation, as [`Mode`] combines the identities.
fn evaluate<'a, R: Resolver>(
    spf: &'a Spf<R>,
    mode: Mode,
    ip: IpAddr,
    helo: &'a str,
    mail_from: &'a str,
) -> SpfOutcome<'a> {
    let now = 1_700_000_000;
    block_on(async {
        if mode == Mode::HeloThenMailFrom && !mail_from.is_empty() {
            let helo_out = spf.verify_helo(ip, helo, now).await;
            if helo_out.result != SpfResult::Pass {
                return helo_out;
            }
        }
        spf.verify_mail_from(ip, helo, mail_from, now).await
    })
}

#[allow(clippy::too_many_arguments)]
fn run_case(
    resolver: &SuiteResolver,
    mode: Mode,
    host: &str,
    helo: &str,
    mail_from: &str,
    expected: &Expected,
    explanation: Option<&str>,
    receiver: &str,
) -> Result<(), String> {
    let ip: IpAddr = host
        .parse()
        .map_err(|e| format!("bad host {host:?}: {e}"))?;
    let config = SpfConfig {
        receiver: receiver.to_owned(),
        ..SpfConfig::default()
    };
    // Every answer awaited (the evaluator stops at each lookup and starts again), and
    // every answer at hand (one pass): the same outcome.
    let (awaiting, at_hand) = (
        Spf::with_config(resolver, config.clone()),
        Spf::with_config(AtHand(resolver), config.clone()),
    );
    let out = evaluate(&awaiting, mode, ip, helo, mail_from);
    let same = evaluate(&at_hand, mode, ip, helo, mail_from);
    if same != out {
        return Err(format!(
            "answers at hand gave {same:?}, awaited ones {out:?} for ip={host} helo={helo:?} \
             mailfrom={mail_from:?}"
        ));
    }
    // From a cache, three times over: the first fills the cache and the answers kept
    // with the parsed records (each term's link), the others are served from them. In
    // front of answers at hand (one pass each time), and in front of answers that must
    // be awaited (the first evaluation stops at each lookup; links are made by passes
    // that awaited others).
    let at_hand = Spf::with_config(CachingResolver::new(AtHand(resolver)), config.clone());
    let awaited = Spf::with_config(CachingResolver::new(resolver), config);
    for pass in 1..=3 {
        for (how, again) in [
            ("at hand", evaluate(&at_hand, mode, ip, helo, mail_from)),
            ("awaited", evaluate(&awaited, mode, ip, helo, mail_from)),
        ] {
            if again != out {
                return Err(format!(
                    "pass {pass} from a cache ({how}) gave {again:?}, awaited answers \
                     {out:?} for ip={host} helo={helo:?} mailfrom={mail_from:?}"
                ));
            }
        }
    }
    if !expected.accepts(out.result) {
        return Err(format!(
            "expected {expected:?}, got {} ({}) for ip={host} helo={helo:?} mailfrom={mail_from:?}",
            out.result, out.cause
        ));
    }
    if let Some(want) = explanation {
        let got = out.explanation.as_deref().unwrap_or("DEFAULT");
        if got != want {
            return Err(format!("explanation: expected {want:?}, got {got:?}"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// mail-auth's line format (not YAML: keys repeat).

fn mail_auth_trials() -> Vec<Trial> {
    let dir = suites_dir().join("mail-auth-resources/spf");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    let mut trials = Vec::new();
    for path in files {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).expect("read");
        // Records accumulate over the whole file, later ones replacing earlier ones of the
        // same name and kind, as upstream's shared per-file cache does.
        let mut records: BTreeMap<(String, &'static str), Vec<Record>> = BTreeMap::new();
        let mut n = 0;
        for section in text.split("---\n") {
            let mut name = String::new();
            let mut helo = String::new();
            let mut mail_from = String::new();
            let mut ip = "127.0.0.1".to_owned();
            for line in section.lines() {
                let line = line.trim();
                let line = line.strip_prefix('-').map_or(line, str::trim);
                let Some((key, value)) = line.split_once(':') else {
                    continue;
                };
                let value = value.trim();
                let split = || {
                    let (owner, rest) = value.split_once(' ').expect("name and value");
                    (owner.trim().to_ascii_lowercase(), rest.trim())
                };
                match key {
                    "name" => name = value.to_owned(),
                    "spf" | "exp" => {
                        let (owner, rest) = split();
                        records.insert(
                            (owner, "txt"),
                            vec![Record::Txt(Txt::new([rest.as_bytes().to_vec()]))],
                        );
                    }
                    "a" | "aaaa" => {
                        let (owner, rest) = split();
                        let addrs = rest
                            .split(',')
                            .map(|a| match a.trim().parse::<IpAddr>().expect("address") {
                                IpAddr::V4(v4) => Record::A(v4),
                                IpAddr::V6(v6) => Record::Aaaa(v6),
                            })
                            .collect();
                        records.insert((owner, if key == "a" { "a" } else { "aaaa" }), addrs);
                    }
                    "ptr" => {
                        let (owner, rest) = split();
                        let ip: IpAddr = owner.parse().expect("ptr ip");
                        let names = rest
                            .split(',')
                            .map(|h| {
                                Record::Ptr(h.trim().trim_end_matches('.').to_ascii_lowercase())
                            })
                            .collect();
                        records.insert((monban_dns::reverse_name(ip), "ptr"), names);
                    }
                    "mx" => {
                        let (owner, rest) = split();
                        let mut mxs = Vec::new();
                        for (pos, item) in rest.split(',').enumerate() {
                            let addr: IpAddr = item.trim().parse().expect("mx ip");
                            let host = format!("mx.{addr}.{pos}").to_ascii_lowercase();
                            let (kind, rec) = match addr {
                                IpAddr::V4(v4) => ("a", Record::A(v4)),
                                IpAddr::V6(v6) => ("aaaa", Record::Aaaa(v6)),
                            };
                            records.insert((host.clone(), kind), vec![rec]);
                            mxs.push(Record::Mx {
                                preference: (pos + 1) as u16,
                                exchange: host,
                            });
                        }
                        records.insert((owner, "mx"), mxs);
                    }
                    "domain" => helo = value.to_owned(),
                    "sender" => mail_from = value.to_owned(),
                    "ip" => ip = value.to_owned(),
                    "expect" => {
                        n += 1;
                        let (mut result, mut exp) = match value.split_once(' ') {
                            Some((r, e)) => (r.to_owned(), Some(e.trim().to_owned())),
                            None => (value.to_owned(), None),
                        };
                        let id = format!("spf_mail_auth::{stem}::{n:03}");
                        let mut why = String::new();
                        if let Some((_, ours, reason)) =
                            MAIL_AUTH_DIVERGENT.iter().find(|d| d.0 == id)
                        {
                            result = (*ours).to_owned();
                            exp = None;
                            why = format!(" (RFC 7208 answer checked: {reason})");
                        }
                        let mut zone = ZoneResolver::new();
                        for ((owner, _), recs) in &records {
                            for r in recs {
                                zone.insert(owner, r.clone(), 300);
                            }
                        }
                        let resolver = SuiteResolver {
                            zone,
                            timeouts: HashMap::new(),
                            servfail_marker: Some("_dns_error."),
                        };
                        let (helo, mail_from, ip, test_name) =
                            (helo.clone(), mail_from.clone(), ip.clone(), name.clone());
                        trials.push(Trial::test(id, move || {
                            run_case(
                                &resolver,
                                Mode::HeloThenMailFrom,
                                &ip,
                                &helo,
                                &mail_from,
                                &Expected::One(result),
                                exp.as_deref(),
                                "localdomain.org",
                            )
                            .map_err(|e| Failed::from(format!("[{test_name}] {e}{why}")))
                        }));
                    }
                    _ => {}
                }
            }
        }
    }
    trials
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = yaml_trials("rfc7208-tests.yml", "spf_rfc7208");
    trials.extend(yaml_trials("rfc4408-tests.yml", "spf_rfc4408"));
    trials.extend(mail_auth_trials());
    libtest_mimic::run(&args, trials).exit();
}
