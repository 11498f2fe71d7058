//! [`HickoryResolver`]: real DNS through hickory-resolver, mapped to typed answers.
//!
//! Names are always asked as fully qualified (no search list, no hosts file): a mail
//! domain is never relative to the receiver's own domain. hickory's own cache is kept
//! small; wrap this resolver in [`crate::CachingResolver`] for monban's TTL cache.

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
        let result = tokio::time::timeout(self.timeout, self.inner.lookup(fqdn, htype)).await;
        let lookup = match result {
            Err(_) => return Err(LookupError::Timeout { name: normalized }),
            Ok(Err(e)) => return Err(map_error(normalized, rtype, &e)),
            Ok(Ok(lookup)) => lookup,
        };
        let mut records = Vec::new();
        let mut ttl = u32::MAX;
        for r in lookup.answers() {
            if let Some(rec) = convert(&r.data).filter(|rec| rec.record_type() == rtype) {
                records.push(rec);
            }
            ttl = ttl.min(r.ttl);
        }
        if records.is_empty() {
            return Err(LookupError::NoData {
                name: normalized,
                rtype,
                ttl: 0,
            });
        }
        Ok(std::sync::Arc::new(Answer::new(records, ttl)))
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
                    detail: format!("response code {code}"),
                },
            }
        }
        NetError::Timeout => LookupError::Timeout { name },
        other => LookupError::ServFail {
            name,
            detail: other.to_string(),
        },
    }
}

/// A name in monban's form: lowercase labels joined by dots, no trailing dot, no
/// presentation escapes (`Name::to_ascii` would write `host+x` as `host\+x`).
fn host(name: &hrr::Name) -> String {
    let labels: Vec<String> = name
        .iter()
        .map(|label| String::from_utf8_lossy(label).to_ascii_lowercase())
        .collect();
    labels.join(".")
}

fn convert(data: &RData) -> Option<Record> {
    Some(match data {
        RData::A(a) => Record::A(a.0),
        RData::AAAA(a) => Record::Aaaa(a.0),
        RData::MX(mx) => Record::Mx {
            preference: mx.preference,
            exchange: host(&mx.exchange),
        },
        RData::TXT(txt) => Record::Txt(Txt::new(txt.txt_data.iter().map(|s| s.to_vec()))),
        RData::PTR(p) => Record::Ptr(host(&p.0)),
        RData::CNAME(c) => Record::Cname(host(&c.0)),
        RData::NS(n) => Record::Ns(host(&n.0)),
        RData::SOA(soa) => Record::Soa {
            mname: host(&soa.mname),
            rname: host(&soa.rname),
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
