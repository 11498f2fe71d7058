//! [`HickoryResolver`]: real DNS through hickory-resolver, mapped to typed answers.
//!
//! Names are always asked as fully qualified (no search list, no hosts file): a mail
//! domain is never relative to the receiver's own domain. hickory's own cache is kept
//! small; wrap this resolver in [`crate::CachingResolver`] for monban's TTL cache.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{self as hrr, RData};

use crate::name::normalize_name;
use crate::{Answer, Lookup, LookupError, Record, RecordType, Resolver, Txt};

/// How to reach DNS.
#[derive(Debug, Clone)]
pub struct HickoryConfig {
    /// Servers to ask; empty means the system configuration (`/etc/resolv.conf`).
    pub servers: Vec<SocketAddr>,
    /// The limit for one query, retries included. Default 5 s.
    pub timeout: Duration,
    /// Tries per server. Default 2.
    pub attempts: usize,
}

impl Default for HickoryConfig {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            timeout: Duration::from_secs(5),
            attempts: 2,
        }
    }
}

/// A resolver asking real DNS servers.
#[derive(Debug, Clone)]
pub struct HickoryResolver {
    inner: TokioResolver,
    timeout: Duration,
}

impl HickoryResolver {
    /// Builds the resolver. Reading the system configuration can fail (no
    /// `/etc/resolv.conf`); the error says so.
    pub fn new(config: &HickoryConfig) -> Result<Self, String> {
        let (resolver_config, mut opts) = if config.servers.is_empty() {
            hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| format!("cannot read the system DNS configuration: {e}"))?
        } else {
            let servers = config
                .servers
                .iter()
                .map(|addr| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                })
                .collect();
            (
                ResolverConfig::from_name_servers(servers),
                ResolverOpts::default(),
            )
        };
        // Mail domains are absolute: no search list, no hosts file.
        let resolver_config =
            ResolverConfig::from_name_servers(resolver_config.name_servers().to_vec());
        set_options(&mut opts, config);
        let inner =
            TokioResolver::builder_with_config(resolver_config, TokioRuntimeProvider::default())
                .with_options(opts)
                .build()
                .map_err(|e| format!("cannot build the DNS resolver: {e}"))?;
        let timeout = config.timeout * u32::try_from(config.attempts.max(1)).unwrap_or(1);
        Ok(Self { inner, timeout })
    }

    async fn ask(&self, name: &str, rtype: RecordType) -> Lookup {
        let normalized = normalize_name(name).map_err(|reason| LookupError::InvalidName {
            name: name.to_owned(),
            reason,
        })?;
        // Label by label: a `&str` would go through IDNA (UTS #46, STD3 rules), which
        // refuses labels such as `user_name` or `first+tag` that SPF macro expansions
        // and DKIM selectors produce.
        let fqdn = match hrr::Name::from_labels(normalized.split('.').map(str::as_bytes)) {
            Ok(fqdn) => fqdn,
            Err(e) => {
                return Err(LookupError::ServFail {
                    name: normalized,
                    detail: format!("cannot encode the name: {e}"),
                });
            }
        };
        let htype = match rtype {
            RecordType::A => hrr::RecordType::A,
            RecordType::Aaaa => hrr::RecordType::AAAA,
            RecordType::Mx => hrr::RecordType::MX,
            RecordType::Txt => hrr::RecordType::TXT,
            RecordType::Ptr => hrr::RecordType::PTR,
            RecordType::Cname => hrr::RecordType::CNAME,
            RecordType::Soa => hrr::RecordType::SOA,
            RecordType::Ns => hrr::RecordType::NS,
            RecordType::Spf => hrr::RecordType::Unknown(99),
        };
        // One deadline for the lookup and its CNAME re-check: the configured timeout is
        // what one lookup may take (an SPF evaluation's time limit counts on it).
        let deadline = tokio::time::Instant::now() + self.timeout;
        let result =
            tokio::time::timeout_at(deadline, self.inner.lookup(fqdn.clone(), htype)).await;
        let lookup = match result {
            Err(_) => return Err(LookupError::Timeout { name: normalized }),
            Ok(Err(e)) => {
                if rtype != RecordType::Cname
                    && let Some(detail) = self.chain_goes_on(&e, deadline).await
                {
                    return Err(LookupError::ServFail {
                        name: normalized,
                        detail,
                    });
                }
                return Err(map_error(normalized, rtype, &e));
            }
            Ok(Ok(lookup)) => lookup,
        };
        let answers = lookup.answers();
        let owners = match owners(&fqdn, answers, htype) {
            Ok(owners) => owners,
            Err(detail) => {
                return Err(LookupError::ServFail {
                    name: normalized,
                    detail,
                });
            }
        };
        let owned = |r: &hrr::Record| owners.iter().any(|o| o.eq_ignore_root(&r.name));
        let mut records = Vec::new();
        let mut seen = HashSet::new();
        let mut ttl = u32::MAX;
        for r in answers.iter().filter(|r| owned(r)) {
            ttl = ttl.min(r.ttl);
            let Some(rec) = convert(&r.data).filter(|rec| rec.record_type() == rtype) else {
                continue;
            };
            // RFC 2181 §5: a set holds no record twice; servers should drop repeats, and
            // a repeated SPF or DMARC record must not read as two (RFC 7208 §4.5).
            if seen.insert(rec.clone()) {
                records.push(rec);
            }
        }
        if records.is_empty() {
            // hickory answers when the name and type turn up in any section; a reply
            // whose answer section holds none of them, for the name asked or its
            // aliases, answers another question (RFC 2181 §5.4.1: other sections are
            // not answers). A temporary error, not "no data": that would let it decide.
            return Err(LookupError::ServFail {
                name: normalized,
                detail: format!("the answer holds no {rtype} record of the name asked"),
            });
        }
        Ok(std::sync::Arc::new(Answer::new(records, ttl)))
    }

    /// Whether a "no data" from hickory ended a CNAME chain it stopped following (a
    /// loop, or more than [`HICKORY_CNAME_DEPTH`] names: hickory then says "no records"
    /// for the last name it asked). Only a reply without an SOA is looked at again (a
    /// real "no data" carries one, RFC 2308 §2.2), by asking that name's CNAME: if it
    /// has one, the chain goes on, and the lookup failed rather than found nothing. The
    /// re-check shares the lookup's `deadline`; when it cannot tell (no answer in time, a
    /// server failure), the lookup is a temporary error too.
    async fn chain_goes_on(&self, e: &NetError, deadline: tokio::time::Instant) -> Option<String> {
        let NetError::Dns(DnsError::NoRecordsFound(nr)) = e else {
            return None;
        };
        if nr.response_code != ResponseCode::NoError || nr.soa.is_some() {
            return None;
        }
        let last = nr.query.name().clone();
        let again = self.inner.lookup(last, hrr::RecordType::CNAME);
        match tokio::time::timeout_at(deadline, again).await {
            Ok(Ok(lookup)) => lookup
                .answers()
                .iter()
                .any(|r| matches!(r.data, RData::CNAME(_)))
                .then(|| {
                    format!("the CNAME chain loops or is longer than {HICKORY_CNAME_DEPTH} names")
                }),
            // No CNAME there: the chain ended, and the "no data" stands.
            Ok(Err(NetError::Dns(DnsError::NoRecordsFound(none))))
                if matches!(
                    none.response_code,
                    ResponseCode::NoError | ResponseCode::NXDomain
                ) =>
            {
                None
            }
            // Not known (no answer in time, a server failure): a temporary error
            // rather than a "no data" that a loop may have made.
            _ => {
                Some("no data without an SOA, and the check for a CNAME chain got no answer".into())
            }
        }
    }
}

/// How many names hickory follows on a CNAME chain, one query each
/// (`caching_client.rs`, `MAX_QUERY_DEPTH`).
const HICKORY_CNAME_DEPTH: usize = 8;

/// The most names a chain inside one answer may have: past it the answer is refused
/// (each step looks through the whole answer section, so an unbounded chain would make
/// a hostile answer of thousands of CNAMEs quadratic).
const MAX_CHAIN: usize = 16;

/// The names whose records answer a query for `qname` (RFC 1034 §3.6.2 and §4.3.2 step
/// 3.a): `qname` itself and, unless CNAMEs are what was asked, the CNAME chain that
/// starts at it in the answer section. A record owned by any other name answers
/// nothing that was asked and must not be taken as an answer (RFC 2181 §5.4.1): a
/// server that holds a hostile zone, or a forwarder that passes replies on, could
/// otherwise give `evil.example`'s `v=spf1 +all` as the SPF record of the name asked.
/// A loop, or a chain past [`MAX_CHAIN`], is an error.
fn owners<'a>(
    qname: &'a hrr::Name,
    answers: &'a [hrr::Record],
    asked: hrr::RecordType,
) -> Result<Vec<&'a hrr::Name>, String> {
    let mut chain = vec![qname];
    if asked == hrr::RecordType::CNAME {
        return Ok(chain);
    }
    loop {
        let last = chain[chain.len() - 1];
        let next = answers.iter().find_map(|r| match &r.data {
            RData::CNAME(c) if r.name.eq_ignore_root(last) => Some(&c.0),
            _ => None,
        });
        let Some(next) = next else {
            return Ok(chain);
        };
        if chain.iter().any(|n| n.eq_ignore_root(next)) {
            return Err(format!("the CNAME chain loops at {}", shown(next)));
        }
        if chain.len() >= MAX_CHAIN {
            return Err(format!("the CNAME chain is longer than {MAX_CHAIN} names"));
        }
        chain.push(next);
    }
}

/// Answers hickory keeps in its own cache: few, since [`crate::CachingResolver`] is
/// monban's cache (eviction past it is hickory's, approximate).
const HICKORY_CACHE_ENTRIES: u64 = 32;

/// monban's settings over the system's or hickory's defaults.
fn set_options(opts: &mut ResolverOpts, config: &HickoryConfig) {
    opts.ndots = 0;
    opts.use_hosts_file = ResolveHosts::Never;
    opts.timeout = config.timeout;
    opts.attempts = config.attempts.max(1);
    opts.cache_size = HICKORY_CACHE_ENTRIES;
    opts.preserve_intermediates = true;
}

impl Resolver for HickoryResolver {
    fn lookup(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> impl std::future::Future<Output = Lookup> + Send {
        self.ask(name, rtype)
    }
}

fn map_error(name: String, rtype: RecordType, e: &NetError) -> LookupError {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(nr)) => {
            let ttl = nr.negative_ttl.unwrap_or(0);
            match nr.response_code {
                ResponseCode::NXDomain => LookupError::NxDomain { name, ttl },
                ResponseCode::NoError => LookupError::NoData { name, rtype, ttl },
                code => LookupError::ServFail {
                    name,
                    detail: rcode_detail(code),
                },
            }
        }
        // SERVFAIL, REFUSED and the other error codes: named as above, not in hickory's
        // words ("DNS error: error response: Server Failure" inside "DNS server
        // failure (...)" said the same thing three times).
        NetError::Dns(DnsError::ResponseCode(code)) => LookupError::ServFail {
            name,
            detail: rcode_detail(*code),
        },
        NetError::Timeout => LookupError::Timeout { name },
        other => LookupError::ServFail {
            name,
            detail: other.to_string(),
        },
    }
}

/// An error response code, by number and by name (RFC 1035 §4.1.1, RFC 6895 §2.3): the
/// number too, as hickory names codes 11 to 15 only "Unknown".
fn rcode_detail(code: ResponseCode) -> String {
    format!("response code {}, {code}", u16::from(code))
}

/// A name in monban's form: lowercase labels joined by dots, no trailing dot, no
/// presentation escapes (`Name::to_ascii` would write `host+x` as `host\+x`). `None`
/// for a name that form cannot hold as it is: a label that is not UTF-8, or one with a
/// dot inside (RFC 2181 §11 allows any octet). Read loosely, such a name became another
/// one (`evil\.example.`, one label, read as `evil.example`), which was then looked up.
fn host(name: &hrr::Name) -> Option<String> {
    let mut out = String::new();
    for label in name.iter() {
        let label = std::str::from_utf8(label)
            .ok()
            .filter(|l| !l.contains('.'))?;
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(&label.to_ascii_lowercase());
    }
    Some(out)
}

/// [`host`] for any name: labels read as UTF-8 where they are not.
fn loose(name: &hrr::Name) -> String {
    let labels: Vec<String> = name
        .iter()
        .map(|label| String::from_utf8_lossy(label).to_ascii_lowercase())
        .collect();
    labels.join(".")
}

/// A name for a message, whatever its bytes.
fn shown(name: &hrr::Name) -> String {
    name.to_ascii()
}

fn convert(data: &RData) -> Option<Record> {
    Some(match data {
        RData::A(a) => Record::A(a.0),
        RData::AAAA(a) => Record::Aaaa(a.0),
        RData::MX(mx) => Record::Mx {
            preference: mx.preference,
            exchange: host(&mx.exchange)?,
        },
        RData::TXT(txt) => Record::Txt(Txt::new(txt.txt_data.iter().map(|s| s.to_vec()))),
        RData::PTR(p) => Record::Ptr(host(&p.0)?),
        RData::CNAME(c) => Record::Cname(host(&c.0)?),
        RData::NS(n) => Record::Ns(host(&n.0)?),
        RData::SOA(soa) => Record::Soa {
            mname: host(&soa.mname)?,
            // A mailbox, never looked up: `john\.doe` is the usual way to write a dot
            // in its local part.
            rname: loose(&soa.rname),
            serial: soa.serial,
            minimum: soa.minimum,
        },
        // Type 99 (SPF) is unknown to hickory: its data is TXT wire format.
        RData::Unknown { code, rdata } if *code == hrr::RecordType::Unknown(99) => {
            Record::Spf(Txt::new(character_strings(&rdata.anything)))
        }
        _ => return None,
    })
}

/// Splits TXT wire data into its length-prefixed character-strings (RFC 1035 §3.3).
fn character_strings(mut data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = data.split_first() {
        let len = usize::from(len).min(rest.len());
        out.push(rest[..len].to_vec());
        data = &rest[len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// hickory's own cache is held to 32 answers (how it evicts past that is hickory's:
    /// moka, approximate and deferred, so only the setting is checked), and monban's
    /// settings win over hickory's defaults and the system's.
    #[test]
    fn hickory_cache_is_held_to_32_entries() {
        let mut opts = ResolverOpts::default();
        assert_ne!(opts.cache_size, HICKORY_CACHE_ENTRIES);
        opts.ndots = 5;
        let config = HickoryConfig {
            attempts: 0,
            ..HickoryConfig::default()
        };
        set_options(&mut opts, &config);
        assert_eq!(opts.cache_size, 32);
        assert_eq!((opts.ndots, opts.attempts), (0, 1));
        assert_eq!(opts.use_hosts_file, ResolveHosts::Never);
    }
}
