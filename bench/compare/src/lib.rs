//! Shared setup of the SPF comparison benchmark (`benches/spf_compare.rs`): the three
//! policies of `../spf-policies.zone`, a monban verifier over a warm
//! [`CachingResolver`], and a mail-auth [`MessageAuthenticator`] whose DNS caches are
//! filled from the same zone, so that neither ever needs the network.
//!
//! mail-auth has no in-memory resolver: a lookup that misses its caches goes to
//! hickory. Its resolver here points at 127.0.0.1:53 only (never the system's or a
//! public resolver), and every cache miss is counted; [`Setup::new`] panics if an
//! evaluation missed the caches, if either library gives an unexpected result, or if
//! the two disagree.

use std::borrow::Borrow;
use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mail_auth::dns::TxtRecordParser;
use mail_auth::hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::hickory_resolver::proto::op::ResponseCode;
use mail_auth::spf::SpfRecord as MaSpfRecord;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    DnsCache, DnsError, DnssecStatus, MessageAuthenticator, Mx, Negative, Parameters, RecordSet,
    ResolverCache, TxtRecord,
};
use monban::spf::Spf;
use monban_dns::{
    CachingResolver, Lookup, LookupError, Record, RecordType, Resolver, ZoneResolver,
};

/// The zone both libraries answer from.
pub const ZONE: &str = include_str!("../../spf-policies.zone");
/// The HELO name given to both (no policy uses `%{h}`).
pub const HELO: &str = "mail.sender.example";
/// The receiving host (mail-auth's `host_domain`, monban's `SpfConfig::receiver`; no
/// policy uses `%{r}`).
pub const RECEIVER: &str = "mx.receiver.example";
/// A fixed `%{t}` for monban; no policy uses it.
pub const NOW: u64 = 1_767_225_600;

/// One policy: the benchmark name, the MAIL FROM, the client, the expected result.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// The benchmark name.
    pub name: &'static str,
    /// The MAIL FROM reverse-path.
    pub mail_from: &'static str,
    /// The SMTP client.
    pub ip: IpAddr,
    /// The result both libraries must give, as RFC 7208 names it.
    pub expected: &'static str,
    /// How many DNS-querying terms (RFC 7208 §4.6.4) monban counts.
    pub dns_terms: u32,
}

/// The three policies of `spf-policies.zone`.
pub const POLICIES: &[Policy] = &[
    Policy {
        name: "first-hit",
        mail_from: "alice@first.example",
        ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
        expected: "pass",
        dns_terms: 0,
    },
    Policy {
        name: "include-chain",
        mail_from: "bob@chain.example",
        ip: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 77)),
        expected: "pass",
        dns_terms: 3,
    },
    Policy {
        name: "ten-lookups",
        mail_from: "carol@ten.example",
        ip: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 45)),
        expected: "pass",
        dns_terms: 10,
    },
];

impl Policy {
    /// The client address (a value, not text parsed on every call: the measured loop
    /// holds nothing but the library's own work).
    pub fn ip(&self) -> IpAddr {
        self.ip
    }
}

/// The monban verifier used by the benchmark.
pub type MonbanSpf = Spf<CachingResolver<ZoneResolver>>;

/// Everything the benchmark measures, warmed and checked.
pub struct Setup {
    /// The tokio runtime both run on (current-thread).
    pub rt: tokio::runtime::Runtime,
    /// monban over a warm cache of the zone.
    pub monban: MonbanSpf,
    /// mail-auth (its resolver is never reached).
    pub mail_auth: MessageAuthenticator,
    /// mail-auth's caches, filled from the zone.
    pub caches: Caches,
}

impl Setup {
    /// [`Setup::with_policies`] of the three benchmark [`POLICIES`].
    pub fn new() -> Self {
        Self::with_policies(POLICIES)
    }

    /// One evaluation of `policy` by monban, polled once ([`ready`]); its result.
    pub fn monban_once(&self, policy: &Policy) -> monban::spf::SpfResult {
        ready(self.monban.verify_mail_from(
            std::hint::black_box(policy.ip()),
            HELO,
            std::hint::black_box(policy.mail_from),
            NOW,
        ))
        .result
    }

    /// One evaluation of `policy` by mail-auth, polled once ([`ready`]); its result.
    pub fn mail_auth_once(&self, policy: &Policy) -> mail_auth::SpfResult {
        ready(
            self.mail_auth.verify_spf(
                Parameters::new(SpfParameters::mail_from(
                    std::hint::black_box(policy.ip()),
                    HELO,
                    RECEIVER,
                    std::hint::black_box(policy.mail_from),
                ))
                .with_cache(&self.caches),
            ),
        )
        .result()
    }

    /// Builds both verifiers, warms monban's cache, fills mail-auth's, and checks that
    /// each policy gives the expected result in both with no cache miss.
    pub fn with_policies(policies: &[Policy]) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let zone = zone();

        // The names each evaluation asks about, so that mail-auth's caches can be given
        // every answer (positive or negative) of every type it might ask for.
        let recorder = Recorder {
            inner: zone.clone(),
            asked: Mutex::new(BTreeSet::new()),
        };
        {
            let spf = Spf::new(&recorder);
            for p in policies {
                rt.block_on(spf.verify_mail_from(p.ip(), HELO, p.mail_from, NOW));
            }
        }
        let asked = recorder.asked.into_inner().unwrap();
        let caches = Caches::from_zone(&zone, asked.iter().map(String::as_str));

        let monban = Spf::new(CachingResolver::new(zone));
        let mail_auth = {
            let _guard = rt.enter();
            offline_authenticator()
        };
        let setup = Self {
            rt,
            monban,
            mail_auth,
            caches,
        };
        for p in policies {
            let lookups = setup
                .rt
                .block_on(
                    setup
                        .monban
                        .verify_mail_from(p.ip(), HELO, p.mail_from, NOW),
                )
                .dns_lookups;
            assert_eq!(
                u32::from(lookups),
                p.dns_terms,
                "{}: DNS-querying terms",
                p.name
            );
            let m = setup.run_monban(p);
            let a = setup.run_mail_auth(p);
            assert_eq!(
                m, a,
                "{}: monban says {m}, mail-auth says {a}: the libraries disagree",
                p.name
            );
            assert_eq!(m, p.expected, "{}: unexpected result {m}", p.name);
        }
        assert_eq!(
            setup.caches.misses(),
            0,
            "mail-auth missed its caches: it would have queried the network"
        );
        setup
    }

    /// One monban evaluation of the MAIL FROM identity; the result name.
    pub fn run_monban(&self, p: &Policy) -> &'static str {
        self.rt
            .block_on(self.monban.verify_mail_from(p.ip(), HELO, p.mail_from, NOW))
            .result
            .as_str()
    }

    /// One mail-auth evaluation of the MAIL FROM identity; the result name.
    pub fn run_mail_auth(&self, p: &Policy) -> &'static str {
        let out = self.rt.block_on(
            self.mail_auth.verify_spf(
                Parameters::new(SpfParameters::mail_from(
                    p.ip(),
                    HELO,
                    RECEIVER,
                    p.mail_from,
                ))
                .with_cache(&self.caches),
            ),
        );
        mail_auth_name(out.result())
    }
}

impl Default for Setup {
    fn default() -> Self {
        Self::new()
    }
}

/// mail-auth's result, named as RFC 7208 names it.
/// Runs a future that must finish without waiting: polled once, with a waker that does
/// nothing. An SPF evaluation served from warm caches never waits, in either library,
/// so this measures the evaluation itself, without a runtime's `block_on` around it
/// (its entry, its thread-local context, and the moves of the future into it, which
/// the benchmark measures apart as `runtime/block_on-empty`).
///
/// # Panics
/// When the future is not ready at the first poll (it would have waited for I/O).
pub fn ready<F: std::future::Future>(f: F) -> F::Output {
    let f = std::pin::pin!(f);
    match f.poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("the evaluation waited: a cache was not warm"),
    }
}

pub fn mail_auth_name(r: mail_auth::SpfResult) -> &'static str {
    use mail_auth::SpfResult as R;
    match r {
        R::Pass => "pass",
        R::Fail => "fail",
        R::SoftFail => "softfail",
        R::Neutral => "neutral",
        R::TempError => "temperror",
        R::PermError => "permerror",
        R::None => "none",
    }
}

/// The zone of the three policies.
pub fn zone() -> ZoneResolver {
    ZoneResolver::parse(ZONE, "bench/spf-policies.zone", None).expect("zone parses")
}

/// A mail-auth authenticator whose resolver can reach nothing but 127.0.0.1:53 (where
/// nothing answers): the benchmark must be served from the caches alone.
fn offline_authenticator() -> MessageAuthenticator {
    let config = ResolverConfig::from_name_servers(vec![NameServerConfig::udp(IpAddr::V4(
        Ipv4Addr::LOCALHOST,
    ))]);
    let mut opts = ResolverOpts::default();
    opts.timeout = Duration::from_millis(100);
    opts.attempts = 0;
    MessageAuthenticator::new(config, opts).expect("hickory resolver")
}

/// A resolver that notes every name asked.
struct Recorder {
    inner: ZoneResolver,
    asked: Mutex<BTreeSet<String>>,
}

impl Resolver for Recorder {
    async fn lookup(&self, name: &str, rtype: RecordType) -> Lookup {
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        self.asked.lock().unwrap().insert(name.clone());
        self.inner.lookup(&name, rtype).await
    }
}

/// A mail-auth cache: a map with expiry, like the example of mail-auth's `dns::cache`
/// documentation, that counts misses.
pub struct MapCache<K, V> {
    map: Mutex<HashMap<K, (V, Instant)>>,
    misses: AtomicU64,
}

impl<K, V> Default for MapCache<K, V> {
    fn default() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            misses: AtomicU64::new(0),
        }
    }
}

impl<K: Hash + Eq, V: Clone> ResolverCache<K, V> for MapCache<K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let map = self.map.lock().unwrap();
        let hit = map
            .get(name)
            .and_then(|(value, expires)| (*expires > Instant::now()).then(|| value.clone()));
        if hit.is_none() {
            self.misses.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map
            .lock()
            .unwrap()
            .remove(name)
            .map(|(value, _)| value)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        self.map.lock().unwrap().insert(key, (value, valid_until));
    }
}

type Answer<T> = Result<RecordSet<T>, Negative>;

/// mail-auth's per-type caches.
#[derive(Default)]
pub struct Caches {
    txt: MapCache<Box<str>, TxtRecord>,
    mx: MapCache<Box<str>, Answer<Mx>>,
    ipv4: MapCache<Box<str>, Answer<Ipv4Addr>>,
    ipv6: MapCache<Box<str>, Answer<Ipv6Addr>>,
    ptr: MapCache<IpAddr, Answer<Box<str>>>,
}

impl DnsCache for Caches {
    type Txt = MapCache<Box<str>, TxtRecord>;
    type Mx = MapCache<Box<str>, Answer<Mx>>;
    type Ipv4 = MapCache<Box<str>, Answer<Ipv4Addr>>;
    type Ipv6 = MapCache<Box<str>, Answer<Ipv6Addr>>;
    type Ptr = MapCache<IpAddr, Answer<Box<str>>>;

    fn txt(&self) -> Option<&Self::Txt> {
        Some(&self.txt)
    }
    fn mx(&self) -> Option<&Self::Mx> {
        Some(&self.mx)
    }
    fn ipv4(&self) -> Option<&Self::Ipv4> {
        Some(&self.ipv4)
    }
    fn ipv6(&self) -> Option<&Self::Ipv6> {
        Some(&self.ipv6)
    }
    fn ptr(&self) -> Option<&Self::Ptr> {
        Some(&self.ptr)
    }
}

impl Caches {
    /// Caches holding, for each name, the zone's TXT, MX, A and AAAA answers (records
    /// or NXDOMAIN / no-data), in the form mail-auth's own lookups would store them:
    /// TXT parsed as SPF, MX grouped by preference with absolute exchange names.
    pub fn from_zone<'a>(zone: &ZoneResolver, names: impl IntoIterator<Item = &'a str>) -> Self {
        let caches = Self::default();
        let until = Instant::now() + Duration::from_secs(86_400);
        for name in names {
            let key: Box<str> = format!("{name}.").into_boxed_str();
            let txt = match zone.lookup_now(name, RecordType::Txt) {
                Ok(answer) => {
                    let records: Vec<Vec<u8>> = answer
                        .records
                        .iter()
                        .filter_map(|r| match r {
                            Record::Txt(t) => Some(t.joined()),
                            _ => None,
                        })
                        .collect();
                    TxtRecord::from(MaSpfRecord::parse_records(&records))
                }
                Err(e) => TxtRecord::Error(mail_auth::Error::Dns(DnsError::RecordNotFound(
                    negative(&e).code,
                ))),
            };
            caches.txt.insert(key.clone(), txt, until);

            let mx = zone.lookup_now(name, RecordType::Mx).map(|answer| {
                let mut groups: Vec<(u16, Vec<Box<str>>)> = Vec::new();
                for r in &answer.records {
                    if let Record::Mx {
                        preference,
                        exchange,
                    } = r
                    {
                        let exchange = format!("{exchange}.").into_boxed_str();
                        match groups.iter_mut().find(|g| g.0 == *preference) {
                            Some(g) => g.1.push(exchange),
                            None => groups.push((*preference, vec![exchange])),
                        }
                    }
                }
                groups.sort_unstable_by_key(|g| g.0);
                record_set(
                    groups
                        .into_iter()
                        .map(|(preference, exchanges)| Mx {
                            preference,
                            exchanges: exchanges.into_boxed_slice(),
                        })
                        .collect(),
                )
            });
            caches
                .mx
                .insert(key.clone(), mx.map_err(|e| negative(&e)), until);

            let a = zone.lookup_now(name, RecordType::A).map(|answer| {
                record_set(
                    answer
                        .records
                        .iter()
                        .filter_map(|r| match r {
                            Record::A(a) => Some(*a),
                            _ => None,
                        })
                        .collect(),
                )
            });
            caches
                .ipv4
                .insert(key.clone(), a.map_err(|e| negative(&e)), until);

            let aaaa = zone.lookup_now(name, RecordType::Aaaa).map(|answer| {
                record_set(
                    answer
                        .records
                        .iter()
                        .filter_map(|r| match r {
                            Record::Aaaa(a) => Some(*a),
                            _ => None,
                        })
                        .collect(),
                )
            });
            caches
                .ipv6
                .insert(key, aaaa.map_err(|e| negative(&e)), until);
        }
        caches
    }

    /// Lookups that missed the caches since they were built (each would have been a
    /// network query).
    pub fn misses(&self) -> u64 {
        self.txt.misses.load(Ordering::Relaxed)
            + self.mx.misses.load(Ordering::Relaxed)
            + self.ipv4.misses.load(Ordering::Relaxed)
            + self.ipv6.misses.load(Ordering::Relaxed)
            + self.ptr.misses.load(Ordering::Relaxed)
    }
}

fn record_set<T>(records: Vec<T>) -> RecordSet<T> {
    RecordSet {
        records: Arc::from(records.into_boxed_slice()),
        dnssec_status: DnssecStatus::Indeterminate,
    }
}

/// The negative answer mail-auth stores for a zone error (the zone gives no others).
fn negative(e: &LookupError) -> Negative {
    match e {
        LookupError::NxDomain { .. } => Negative {
            code: ResponseCode::NXDomain,
        },
        LookupError::NoData { .. } => Negative {
            code: ResponseCode::NoError,
        },
        other => panic!("the zone gave an unexpected answer: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_libraries_agree_offline() {
        let setup = Setup::new();
        assert_eq!(setup.caches.misses(), 0);
    }

    /// The same records with clients they do not authorize: both libraries really
    /// evaluate the policies (and agree on the other results too).
    #[test]
    fn both_libraries_agree_on_unauthorized_clients() {
        Setup::with_policies(&[
            Policy {
                name: "first-hit-other-client",
                mail_from: "alice@first.example",
                ip: IpAddr::V4(Ipv4Addr::new(192, 0, 3, 10)),
                expected: "fail",
                dns_terms: 0,
            },
            Policy {
                name: "include-chain-other-client",
                mail_from: "bob@chain.example",
                ip: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10)),
                expected: "softfail",
                dns_terms: 3,
            },
            Policy {
                // The last exists: now finds nothing (a second void lookup), then -all.
                name: "ten-lookups-other-client",
                mail_from: "carol@ten.example",
                ip: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 46)),
                expected: "fail",
                dns_terms: 10,
            },
        ]);
    }
}

pub mod dkim_corpus;
pub mod mail_auth_dkim;

/// Runs contenders interleaved, `rounds` times one call each, and prints one line per
/// contender: `name items/s` (the median of the rounds), tab-separated. Each call
/// handles `items` items. With `ONLY=name` in the environment only that contender runs
/// (to profile one of them, e.g. under `perf record`).
pub fn interleaved(rounds: usize, items: usize, contenders: &[(&str, &dyn Fn() -> usize)]) {
    let only = std::env::var("ONLY").ok();
    let contenders: Vec<_> = contenders
        .iter()
        .filter(|(name, _)| only.as_deref().is_none_or(|o| o == *name))
        .collect();
    assert!(!contenders.is_empty(), "ONLY={only:?}: no such contender");
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    for _ in 0..rounds {
        for (i, (_, run)) in contenders.iter().enumerate() {
            let t = std::time::Instant::now();
            std::hint::black_box(run());
            rates[i].push(items as f64 / t.elapsed().as_secs_f64());
        }
    }
    for (i, (name, _)) in contenders.iter().enumerate() {
        let r = &mut rates[i];
        r.sort_by(f64::total_cmp);
        println!("{name}\t{:.0}", r[r.len() / 2]);
    }
}
