//! The `check_host()` function, RFC 7208 §4, with the mechanism semantics of §5, the
//! modifiers of §6 and the processing limits of §4.6.4.
//!
//! DNS comes through a [`Resolver`]; the current time (for `%{t}`) is an argument. No
//! other input exists, so every evaluation is reproducible against an in-memory zone.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;

use monban_dns::{LookupError, Record, RecordType, Resolver, normalize_name, reverse_name};

use super::macros::{self, MacroContext, MacroVars};
use super::record::{self, DomainSpec, Mechanism, Qualifier, SpfRecord};
use super::{SpfCause, SpfIdentity, SpfOutcome, SpfResult};

/// Settings for SPF evaluation. The defaults are the RFC's.
#[derive(Debug, Clone)]
pub struct SpfConfig {
    /// The receiving host's domain, for `%{r}` in explanations (§7.2). Default
    /// `"unknown"`, as §7.2 says when none is available.
    pub receiver: String,
    /// The most DNS-querying terms (§4.6.4). Default 10.
    pub max_dns_terms: u32,
    /// The most void lookups (§4.6.4). Default 2.
    pub max_void_lookups: u32,
    /// The most MX records an `mx` mechanism may return, and the most PTR names
    /// checked by `ptr` and `%{p}` (§4.6.4). Default 10.
    pub max_mx_ptr: usize,
}

impl Default for SpfConfig {
    fn default() -> Self {
        Self {
            receiver: "unknown".to_owned(),
            max_dns_terms: 10,
            max_void_lookups: 2,
            max_mx_ptr: 10,
        }
    }
}

/// An SPF verifier bound to a resolver.
#[derive(Debug, Clone)]
pub struct Spf<R> {
    resolver: R,
    config: SpfConfig,
}

/// Why evaluation stopped early.
enum Abort {
    Temp(SpfCause),
    Perm(SpfCause),
}

/// The result of one `check_host()` level that did not abort.
struct Level {
    result: SpfResult,
    cause: SpfCause,
    explanation: Option<String>,
}

/// Per-evaluation state shared by nested `include:` and `redirect=` levels.
struct Ctx<'a> {
    ip: IpAddr,
    sender: &'a str,
    local_part: &'a str,
    sender_domain: &'a str,
    helo: &'a str,
    now: u64,
    dns_terms: u32,
    void_lookups: u32,
    /// The `%{p}` value once computed (§7.3: computed at most once).
    validated_name: Option<String>,
}

type LevelFuture<'f> = Pin<Box<dyn Future<Output = Result<Level, Abort>> + Send + 'f>>;

impl<R: Resolver> Spf<R> {
    /// A verifier with the RFC defaults.
    pub fn new(resolver: R) -> Self {
        Self::with_config(resolver, SpfConfig::default())
    }

    /// A verifier with explicit settings.
    pub fn with_config(resolver: R, config: SpfConfig) -> Self {
        Self { resolver, config }
    }

    /// The resolver.
    pub fn resolver(&self) -> &R {
        &self.resolver
    }

    /// Checks the MAIL FROM identity (§2.4). `mail_from` is the reverse-path without
    /// angle brackets; empty for the null reverse-path, in which case
    /// `postmaster@<helo>` is checked (§2.4).
    pub async fn verify_mail_from(
        &self,
        ip: IpAddr,
        helo: &str,
        mail_from: &str,
        now: u64,
    ) -> SpfOutcome {
        let mail_from = mail_from.trim();
        let mail_from = mail_from
            .strip_prefix('<')
            .and_then(|m| m.strip_suffix('>'))
            .unwrap_or(mail_from);
        if mail_from.is_empty() {
            let sender = format!("postmaster@{helo}");
            return self
                .check_host(ip, helo, &sender, helo, SpfIdentity::MailFrom, now)
                .await;
        }
        let domain = match mail_from.rsplit_once('@') {
            Some((_, d)) => d,
            // No '@': RFC 7208 §4.3 gives no local part; treat the whole as the domain.
            None => mail_from,
        };
        self.check_host(ip, domain, mail_from, helo, SpfIdentity::MailFrom, now)
            .await
    }

    /// Checks the HELO identity (§2.3): `check_host(ip, helo, postmaster@helo)`.
    pub async fn verify_helo(&self, ip: IpAddr, helo: &str, now: u64) -> SpfOutcome {
        let sender = format!("postmaster@{helo}");
        self.check_host(ip, helo, &sender, helo, SpfIdentity::Helo, now)
            .await
    }

    /// `check_host(<ip>, <domain>, <sender>)` (§4.1). `helo` feeds `%{h}`; `now` feeds
    /// `%{t}`.
    pub async fn check_host(
        &self,
        ip: IpAddr,
        domain: &str,
        sender: &str,
        helo: &str,
        identity: SpfIdentity,
        now: u64,
    ) -> SpfOutcome {
        // §5 (ip4/ip6 notes): an IPv4-mapped IPv6 address is an IPv4 client.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        // §4.3: a sender with no local-part uses "postmaster".
        let (local_part, sender_domain) = match sender.rsplit_once('@') {
            Some(("", d)) => ("postmaster", d),
            Some((l, d)) => (l, d),
            None => ("postmaster", sender),
        };
        let mut outcome = SpfOutcome {
            result: SpfResult::None,
            cause: SpfCause::NoRecord,
            identity,
            domain: domain
                .strip_suffix('.')
                .unwrap_or(domain)
                .to_ascii_lowercase(),
            sender: sender.to_owned(),
            ip,
            helo: helo.to_owned(),
            explanation: None,
            dns_lookups: 0,
            void_lookups: 0,
        };
        // §4.3: a malformed or single-label domain gives "none" before any lookup.
        if let Err(why) = check_domain(domain) {
            outcome.cause = SpfCause::InvalidDomain(why);
            return outcome;
        }
        let mut ctx = Ctx {
            ip,
            sender,
            local_part,
            sender_domain,
            helo,
            now,
            dns_terms: 0,
            void_lookups: 0,
            validated_name: None,
        };
        let level = self.level(&mut ctx, outcome.domain.clone(), false).await;
        outcome.dns_lookups = ctx.dns_terms;
        outcome.void_lookups = ctx.void_lookups;
        match level {
            Ok(l) => {
                outcome.result = l.result;
                outcome.cause = l.cause;
                outcome.explanation = l.explanation;
            }
            Err(Abort::Temp(cause)) => {
                outcome.result = SpfResult::Temperror;
                outcome.cause = cause;
            }
            Err(Abort::Perm(cause)) => {
                outcome.result = SpfResult::Permerror;
                outcome.cause = cause;
            }
        }
        outcome
    }

    /// One `check_host()` level. Boxed: `include:` and `redirect=` recurse.
    fn level<'f>(
        &'f self,
        ctx: &'f mut Ctx<'_>,
        domain: String,
        in_include: bool,
    ) -> LevelFuture<'f> {
        Box::pin(async move {
            let txt = match self.resolver.lookup(&domain, RecordType::Txt).await {
                Ok(answer) => answer,
                Err(e) if e.is_empty_answer() => {
                    return Ok(Level {
                        result: SpfResult::None,
                        cause: SpfCause::NoRecord,
                        explanation: None,
                    });
                }
                Err(e @ LookupError::InvalidName { .. }) => {
                    return Ok(Level {
                        result: SpfResult::None,
                        cause: SpfCause::InvalidDomain(e.to_string()),
                        explanation: None,
                    });
                }
                Err(e) => return Err(Abort::Temp(SpfCause::Dns(e))),
            };
            // §4.5: exactly one record beginning with "v=spf1".
            let mut found: Option<Vec<u8>> = None;
            for r in &txt.records {
                if let Record::Txt(t) = r {
                    let joined = t.joined();
                    if record::is_spf_record(&joined) {
                        if found.is_some() {
                            return Err(Abort::Perm(SpfCause::MultipleRecords));
                        }
                        found = Some(joined);
                    }
                }
            }
            let Some(bytes) = found else {
                return Ok(Level {
                    result: SpfResult::None,
                    cause: SpfCause::NoRecord,
                    explanation: None,
                });
            };
            let text = String::from_utf8_lossy(&bytes);
            let rec = SpfRecord::parse(&text).map_err(|e| Abort::Perm(SpfCause::Syntax(e)))?;

            for directive in rec.directives() {
                if directive.mechanism.counts_as_lookup() {
                    ctx.dns_terms += 1;
                    if ctx.dns_terms > self.config.max_dns_terms {
                        return Err(Abort::Perm(SpfCause::LookupLimit));
                    }
                }
                if !self.matches(ctx, &domain, &directive.mechanism).await? {
                    continue;
                }
                let result = match directive.qualifier() {
                    Qualifier::Pass => SpfResult::Pass,
                    Qualifier::Fail => SpfResult::Fail,
                    Qualifier::SoftFail => SpfResult::Softfail,
                    Qualifier::Neutral => SpfResult::Neutral,
                };
                // §6.2: exp= is used for a fail at this level, never from an include.
                let explanation = match (result, rec.exp()) {
                    (SpfResult::Fail, Some(exp)) if !in_include => {
                        self.explain(ctx, &domain, exp).await
                    }
                    _ => None,
                };
                return Ok(Level {
                    result,
                    cause: SpfCause::Matched {
                        mechanism: directive.to_string(),
                        domain,
                    },
                    explanation,
                });
            }

            // §6.1: redirect= applies when nothing matched (and "all" was absent, which
            // is implied: "all" always matches).
            if let Some(target) = rec.redirect() {
                ctx.dns_terms += 1;
                if ctx.dns_terms > self.config.max_dns_terms {
                    return Err(Abort::Perm(SpfCause::LookupLimit));
                }
                let target = self.target(ctx, &domain, target).await?;
                if check_domain(&target).is_err() {
                    return Err(Abort::Perm(SpfCause::RedirectNone(target)));
                }
                let inner = self.level(ctx, target.clone(), in_include).await?;
                if inner.result == SpfResult::None {
                    return Err(Abort::Perm(SpfCause::RedirectNone(target)));
                }
                return Ok(inner);
            }
            // §4.7: default result.
            Ok(Level {
                result: SpfResult::Neutral,
                cause: SpfCause::NoMatch,
                explanation: None,
            })
        })
    }

    /// Expands a domain-spec into a name to look up (§7, with §7.3 truncation).
    async fn target(
        &self,
        ctx: &mut Ctx<'_>,
        domain: &str,
        spec: DomainSpec<'_>,
    ) -> Result<String, Abort> {
        let p = if macros::uses_p(spec.0) {
            Some(self.validated_name(ctx, domain).await)
        } else {
            None
        };
        let vars = MacroVars {
            sender: ctx.sender,
            local_part: ctx.local_part,
            sender_domain: ctx.sender_domain,
            domain,
            ip: ctx.ip,
            helo: ctx.helo,
            receiver: &self.config.receiver,
            now: ctx.now,
        };
        let expanded = macros::expand(spec.0, MacroContext::Domain, &vars, p.as_deref())
            .map_err(|e| Abort::Perm(SpfCause::Macro(e.to_string())))?;
        let truncated = macros::truncate_domain(&expanded);
        Ok(truncated
            .strip_suffix('.')
            .unwrap_or(truncated)
            .to_ascii_lowercase())
    }

    /// Counts a void lookup (§4.6.4) and fails once over the limit.
    fn void(&self, ctx: &mut Ctx<'_>) -> Result<(), Abort> {
        ctx.void_lookups += 1;
        if ctx.void_lookups > self.config.max_void_lookups {
            Err(Abort::Perm(SpfCause::VoidLookupLimit))
        } else {
            Ok(())
        }
    }

    /// Address records of `name` for the client's family. `Ok(None)` is a void answer.
    async fn addresses(&self, name: &str, ip: IpAddr) -> Result<Option<Vec<IpAddr>>, LookupError> {
        let rtype = match ip {
            IpAddr::V4(_) => RecordType::A,
            IpAddr::V6(_) => RecordType::Aaaa,
        };
        match self.resolver.lookup(name, rtype).await {
            Ok(answer) => Ok(Some(
                answer
                    .records
                    .iter()
                    .filter_map(|r| match r {
                        Record::A(a) => Some(IpAddr::V4(*a)),
                        Record::Aaaa(a) => Some(IpAddr::V6(*a)),
                        _ => None,
                    })
                    .collect(),
            )),
            Err(e) if e.is_empty_answer() || matches!(e, LookupError::InvalidName { .. }) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Whether a mechanism matches (§5). DNS failures abort with temperror.
    async fn matches(
        &self,
        ctx: &mut Ctx<'_>,
        domain: &str,
        mechanism: &Mechanism<'_>,
    ) -> Result<bool, Abort> {
        let ip = ctx.ip;
        match *mechanism {
            Mechanism::All => Ok(true),
            Mechanism::Ip4 { addr, prefix } => Ok(match ip {
                IpAddr::V4(client) => in_v4(client, addr, prefix.unwrap_or(32)),
                IpAddr::V6(_) => false,
            }),
            Mechanism::Ip6 { addr, prefix } => Ok(match ip {
                IpAddr::V6(client) => in_v6(client, addr, prefix.unwrap_or(128)),
                IpAddr::V4(_) => false,
            }),
            Mechanism::A {
                domain: spec,
                cidr4,
                cidr6,
            } => {
                let target = match spec {
                    Some(s) => self.target(ctx, domain, s).await?,
                    None => domain.to_owned(),
                };
                match self.addresses(&target, ip).await {
                    Ok(Some(addrs)) => Ok(addrs.iter().any(|a| in_net(ip, *a, cidr4, cidr6))),
                    Ok(None) => self.void(ctx).map(|()| false),
                    Err(e) => Err(Abort::Temp(SpfCause::Dns(e))),
                }
            }
            Mechanism::Mx {
                domain: spec,
                cidr4,
                cidr6,
            } => {
                let target = match spec {
                    Some(s) => self.target(ctx, domain, s).await?,
                    None => domain.to_owned(),
                };
                let mx = match self.resolver.lookup(&target, RecordType::Mx).await {
                    Ok(a) => a,
                    Err(e)
                        if e.is_empty_answer() || matches!(e, LookupError::InvalidName { .. }) =>
                    {
                        return self.void(ctx).map(|()| false);
                    }
                    Err(e) => return Err(Abort::Temp(SpfCause::Dns(e))),
                };
                let mut hosts: Vec<(u16, &str)> = mx
                    .records
                    .iter()
                    .filter_map(|r| match r {
                        Record::Mx {
                            preference,
                            exchange,
                        } => Some((*preference, exchange.as_str())),
                        _ => None,
                    })
                    .collect();
                // §4.6.4: more than 10 MX records is a permerror.
                if hosts.len() > self.config.max_mx_ptr {
                    return Err(Abort::Perm(SpfCause::MxLimit(target)));
                }
                hosts.sort_by_key(|h| h.0);
                for (_, host) in hosts {
                    // RFC 7505 null MX ("."): no host to check.
                    if host.is_empty() {
                        continue;
                    }
                    match self.addresses(host, ip).await {
                        Ok(Some(addrs)) => {
                            if addrs.iter().any(|a| in_net(ip, *a, cidr4, cidr6)) {
                                return Ok(true);
                            }
                        }
                        Ok(None) => {}
                        Err(e) => return Err(Abort::Temp(SpfCause::Dns(e))),
                    }
                }
                Ok(false)
            }
            Mechanism::Ptr(spec) => {
                let target = match spec {
                    Some(s) => self.target(ctx, domain, s).await?,
                    None => domain.to_owned(),
                };
                let names = match self.ptr_names(ip).await {
                    Ok(n) => n,
                    // §5.5: a DNS error on the PTR lookup means "no match".
                    Err(e) if e.is_empty_answer() => return self.void(ctx).map(|()| false),
                    Err(_) => return Ok(false),
                };
                for name in names.iter().filter(|n| is_same_or_subdomain(n, &target)) {
                    if self.forward_confirms(name, ip).await {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Mechanism::Exists(spec) => {
                let target = self.target(ctx, domain, spec).await?;
                // §5.7: always an A query, whatever the client's family.
                match self.resolver.lookup(&target, RecordType::A).await {
                    Ok(_) => Ok(true),
                    Err(e)
                        if e.is_empty_answer() || matches!(e, LookupError::InvalidName { .. }) =>
                    {
                        self.void(ctx).map(|()| false)
                    }
                    Err(e) => Err(Abort::Temp(SpfCause::Dns(e))),
                }
            }
            Mechanism::Include(spec) => {
                let target = self.target(ctx, domain, spec).await?;
                if check_domain(&target).is_err() {
                    return Err(Abort::Perm(SpfCause::IncludeNone(target)));
                }
                // §5.2: pass matches; fail/softfail/neutral do not; errors propagate;
                // none is a permerror.
                let inner = self.level(ctx, target.clone(), true).await?;
                match inner.result {
                    SpfResult::Pass => Ok(true),
                    SpfResult::None => Err(Abort::Perm(SpfCause::IncludeNone(target))),
                    _ => Ok(false),
                }
            }
        }
    }

    /// The first 10 PTR names of the client (§4.6.4, §5.5).
    async fn ptr_names(&self, ip: IpAddr) -> Result<Vec<String>, LookupError> {
        let answer = self
            .resolver
            .lookup(&reverse_name(ip), RecordType::Ptr)
            .await?;
        Ok(answer
            .records
            .iter()
            .filter_map(|r| match r {
                Record::Ptr(n) => Some(n.clone()),
                _ => None,
            })
            .take(self.config.max_mx_ptr)
            .collect())
    }

    /// Whether `name` has an address equal to the client's (§5.5 forward confirmation).
    /// Lookup errors mean "not confirmed".
    async fn forward_confirms(&self, name: &str, ip: IpAddr) -> bool {
        matches!(self.addresses(name, ip).await, Ok(Some(addrs)) if addrs.contains(&ip))
    }

    /// The `%{p}` value (§7.3): a validated name of the client, preferring `domain` or
    /// one of its subdomains; "unknown" when none.
    async fn validated_name(&self, ctx: &mut Ctx<'_>, domain: &str) -> String {
        if let Some(v) = &ctx.validated_name {
            return v.clone();
        }
        let names = self.ptr_names(ctx.ip).await.unwrap_or_default();
        let mut best: Option<(u8, String)> = None;
        for name in names {
            let rank = if name == domain {
                0
            } else if is_same_or_subdomain(&name, domain) {
                1
            } else {
                2
            };
            if best.as_ref().is_some_and(|(r, _)| *r <= rank) {
                continue;
            }
            if self.forward_confirms(&name, ctx.ip).await {
                best = Some((rank, name));
                if rank == 0 {
                    break;
                }
            }
        }
        let value = best.map_or_else(|| "unknown".to_owned(), |(_, n)| n);
        ctx.validated_name = Some(value.clone());
        value
    }

    /// The `exp=` explanation (§6.2). Any problem means "no explanation".
    async fn explain(
        &self,
        ctx: &mut Ctx<'_>,
        domain: &str,
        spec: DomainSpec<'_>,
    ) -> Option<String> {
        let target = self.target(ctx, domain, spec).await.ok()?;
        let answer = self.resolver.lookup(&target, RecordType::Txt).await.ok()?;
        let [Record::Txt(txt)] = answer.records.as_slice() else {
            return None;
        };
        let text = String::from_utf8(txt.joined()).ok()?;
        let p = if macros::uses_p(&text) {
            Some(self.validated_name(ctx, domain).await)
        } else {
            None
        };
        let vars = MacroVars {
            sender: ctx.sender,
            local_part: ctx.local_part,
            sender_domain: ctx.sender_domain,
            domain,
            ip: ctx.ip,
            helo: ctx.helo,
            receiver: &self.config.receiver,
            now: ctx.now,
        };
        macros::expand(&text, MacroContext::Explanation, &vars, p.as_deref()).ok()
    }
}

/// §4.3: the domain must be a valid, multi-label name.
fn check_domain(domain: &str) -> Result<(), String> {
    let normalized = normalize_name(domain).map_err(|e| format!("{domain:?}: {e}"))?;
    if !normalized.contains('.') {
        return Err(format!("{domain:?} is not a multi-label domain name"));
    }
    if normalized.starts_with('[') || normalized.parse::<IpAddr>().is_ok() {
        return Err(format!("{domain:?} is an address literal"));
    }
    Ok(())
}

fn is_same_or_subdomain(name: &str, domain: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    name.eq_ignore_ascii_case(domain)
        || (name.len() > domain.len()
            && name.as_bytes()[name.len() - domain.len() - 1] == b'.'
            && name[name.len() - domain.len()..].eq_ignore_ascii_case(domain))
}

fn in_v4(client: Ipv4Addr, net: Ipv4Addr, prefix: u8) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    };
    u32::from(client) & mask == u32::from(net) & mask
}

fn in_v6(client: Ipv6Addr, net: Ipv6Addr, prefix: u8) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix.min(128)))
    };
    u128::from(client) & mask == u128::from(net) & mask
}

/// Dual-CIDR match for `a`/`mx` (§5.3, §5.4): the IPv4 length applies to IPv4 clients,
/// the IPv6 length to IPv6 clients.
fn in_net(client: IpAddr, addr: IpAddr, cidr4: Option<u8>, cidr6: Option<u8>) -> bool {
    match (client, addr) {
        (IpAddr::V4(c), IpAddr::V4(a)) => in_v4(c, a, cidr4.unwrap_or(32)),
        (IpAddr::V6(c), IpAddr::V6(a)) => in_v6(c, a, cidr6.unwrap_or(128)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_matching() {
        let a: Ipv4Addr = "192.0.2.77".parse().unwrap();
        assert!(in_v4(a, "192.0.2.0".parse().unwrap(), 24));
        assert!(!in_v4(a, "192.0.3.0".parse().unwrap(), 24));
        assert!(in_v4(a, "10.0.0.0".parse().unwrap(), 0));
        let b: Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert!(in_v6(b, "2001:db8::".parse().unwrap(), 32));
        assert!(!in_v6(b, "2001:db9::".parse().unwrap(), 32));
        assert!(in_v6(b, "::".parse().unwrap(), 0));
    }

    #[test]
    fn subdomains() {
        assert!(is_same_or_subdomain("mx.Example.com", "example.com"));
        assert!(is_same_or_subdomain("example.com.", "example.com"));
        assert!(!is_same_or_subdomain("badexample.com", "example.com"));
    }

    #[test]
    fn rfc7208_4_3_domain_checks() {
        assert!(check_domain("example.com").is_ok());
        assert!(check_domain("example.com.").is_ok());
        assert!(check_domain("localhost").is_err());
        assert!(check_domain("a..example.com").is_err());
        assert!(check_domain("[192.0.2.1]").is_err());
        assert!(check_domain(&format!("{}.com", "a".repeat(64))).is_err());
    }
}
