//! In-process verification of messages read from files, for `benches/compare.sh`: the
//! same messages the `monban verify` CLI is measured on, verified in memory by
//!
//! - `bound`: the crypto + hash bound (`benches/common/dkim_bound.rs`: SHA-256 over the
//!   whole message and one signature check per message);
//! - `monban-dkim`: monban's DKIM verifier alone (the streaming API, one chunk);
//! - `monban-pipeline`: monban's whole pipeline, as `monban verify` runs it (DKIM, ARC,
//!   DMARC discovery, ADSP, ... against the zone), without the file reading and output;
//! - `mail-auth`: mail-auth's `AuthenticatedMessage::parse` + `verify_dkim`, its TXT
//!   cache holding the parsed key records.
//!
//! ```text
//! cargo run --release --ignore-rust-version --example verify_files -- ROUNDS ZONE FILE...
//! ```
//!
//! ZONE is the corpus's `keys.zone` (written by `write_dkim_corpus`). Every message must
//! pass with each verifier before anything is timed. The contenders run interleaved,
//! one pass over all the files each per round, on one thread; the output is one line
//! per contender: `name messages/s` (the median of the rounds), tab-separated.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mail_auth::dkim::DomainKey;
use mail_auth::dns::TxtRecordParser;
use mail_auth::hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::{
    AuthenticatedMessage, DkimResult as MaResult, DnsCache, MessageAuthenticator, NoCache,
    Parameters, ResolverCache, TxtRecord,
};
use monban::dkim::DkimResult;
use monban::pipeline::{Envelope, MessageVerifier, VerifyConfig};
use monban_bench_compare::dkim_corpus::{KeyKind, MonbanDkim};
use monban_dns::{CachingResolver, ZoneResolver};

#[allow(dead_code)]
#[path = "../benches/common/dkim_bound.rs"]
mod dkim_bound;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [rounds, zone, files @ ..] = args.as_slice() else {
        eprintln!("usage: verify_files ROUNDS ZONE FILE...");
        std::process::exit(2);
    };
    let rounds: usize = rounds.parse().expect("ROUNDS: a number");
    let zone_text = std::fs::read_to_string(zone).unwrap_or_else(|e| panic!("{zone}: {e}"));
    let messages: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).unwrap_or_else(|e| panic!("{f}: {e}")))
        .collect();
    let kind = if messages
        .first()
        .is_some_and(|m| m.windows(14).any(|w| w == b"ed25519-sha256"))
    {
        KeyKind::Ed25519
    } else {
        KeyKind::Rsa
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    // monban, against the zone behind a warm cache.
    let resolver = CachingResolver::new(
        ZoneResolver::parse(&zone_text, zone, None).unwrap_or_else(|e| panic!("{zone}: {e}")),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let config = VerifyConfig::default();
    let envelope = Envelope::default();
    let pipeline = || {
        rt.block_on(async {
            let mut pass = 0;
            for m in &messages {
                let mut v = MessageVerifier::new(envelope.clone(), config.clone(), now);
                v.push(black_box(m)).expect("a header");
                let report = v.finish(&resolver).await;
                pass += usize::from(
                    report.dkim.len() == 1 && report.dkim[0].result == DkimResult::Pass,
                );
            }
            pass
        })
    };
    let dkim_only = || {
        rt.block_on(async {
            let mut pass = 0;
            for m in &messages {
                let mut splitter = monban::message::MessageSplitter::new();
                let Ok(monban::message::Split::HeaderDone(headers, body)) =
                    splitter.push(black_box(m))
                else {
                    panic!("no header/body separator");
                };
                let mut v = monban::dkim::DkimVerifier::new(
                    &headers,
                    now,
                    monban::dkim::DkimConfig::default(),
                );
                v.body(body);
                let r = v.finish(&resolver).await;
                pass += usize::from(r.len() == 1 && r[0].result == DkimResult::Pass);
            }
            pass
        })
    };

    // mail-auth, its TXT cache holding the parsed key records.
    let auth = {
        let _guard = rt.enter();
        let config = ResolverConfig::from_name_servers(vec![NameServerConfig::udp(IpAddr::V4(
            Ipv4Addr::LOCALHOST,
        ))]);
        let mut opts = ResolverOpts::default();
        opts.timeout = Duration::from_millis(100);
        opts.attempts = 0;
        MessageAuthenticator::new(config, opts).expect("hickory resolver")
    };
    let cache = KeyCache::default();
    for (name, value) in txt_records(&zone_text) {
        let parsed = TxtRecord::from(DomainKey::parse_records(&[value.into_bytes()]));
        cache.0.lock().unwrap().insert(name.into(), parsed);
    }
    let mail_auth = || {
        rt.block_on(async {
            let mut pass = 0;
            for m in &messages {
                let m = AuthenticatedMessage::parse(black_box(m)).expect("mail-auth parses");
                let r = auth
                    .verify_dkim(Parameters::new(&m).with_cache(&cache))
                    .await;
                pass += usize::from(r.len() == 1 && *r[0].result() == MaResult::Pass);
            }
            pass
        })
    };

    // The bound, with keys of its own (which key does not change the work).
    let keys = MonbanDkim::new();
    let bound = dkim_bound::Bound::new(&keys);
    eprintln!("{}: {}", env!("CARGO_BIN_NAME"), bound.how());
    let bound = || {
        bound.verify_corpus(black_box(&messages), kind);
        messages.len()
    };

    type Run<'a> = (&'static str, &'a dyn Fn() -> usize);
    let contenders: [Run; 4] = [
        ("bound", &bound),
        ("monban-dkim", &dkim_only),
        ("monban-pipeline", &pipeline),
        ("mail-auth", &mail_auth),
    ];
    for (name, run) in &contenders {
        let pass = run();
        assert_eq!(pass, messages.len(), "{name}: not every message passes");
    }
    monban_bench_compare::interleaved(rounds, messages.len(), &contenders);
}

/// The TXT records of a zone file as `write_dkim_corpus` writes it: `NAME. IN TXT ( "..."
/// "..." )` on one line.
fn txt_records(zone: &str) -> Vec<(String, String)> {
    zone.lines()
        .filter(|l| l.contains(" TXT "))
        .map(|l| {
            let name = l.split_whitespace().next().unwrap_or_default().to_owned();
            let value: String = l.split('"').skip(1).step_by(2).collect();
            (name, value)
        })
        .collect()
}

/// mail-auth's TXT cache: a fixed map (a miss would be a network query, which the
/// resolver pointed at 127.0.0.1:53 with no retries turns into a failure).
#[derive(Default)]
struct KeyCache(Mutex<HashMap<Box<str>, TxtRecord>>);

impl ResolverCache<Box<str>, TxtRecord> for KeyCache {
    fn get<Q>(&self, name: &Q) -> Option<TxtRecord>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().get(name).cloned()
    }

    fn remove<Q>(&self, name: &Q) -> Option<TxtRecord>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().remove(name)
    }

    fn insert(&self, key: Box<str>, value: TxtRecord, _valid_until: Instant) {
        self.0.lock().unwrap().insert(key, value);
    }
}

impl DnsCache for KeyCache {
    type Txt = KeyCache;
    type Mx = NoCache;
    type Ipv4 = NoCache;
    type Ipv6 = NoCache;
    type Ptr = NoCache;

    fn txt(&self) -> Option<&Self::Txt> {
        Some(self)
    }
    fn mx(&self) -> Option<&Self::Mx> {
        None
    }
    fn ipv4(&self) -> Option<&Self::Ipv4> {
        None
    }
    fn ipv6(&self) -> Option<&Self::Ipv6> {
        None
    }
    fn ptr(&self) -> Option<&Self::Ptr> {
        None
    }
}
