//! The `check_host()` function, RFC 7208 §4, with the mechanism semantics of §5, the
//! modifiers of §6 and the processing limits of §4.6.4.
//!
//! DNS comes through a [`Resolver`]; the current time (for `%{t}`) is an argument. No
//! other input exists, so every evaluation is reproducible against an in-memory zone.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use monban_dns::{
    Answer, LookupError, Record, RecordType, Resolver, is_same_or_subdomain, normalize_name,
};

use super::macros::{self, MacroContext, MacroString, MacroVars};
use super::record::{self, DomainSpec, Mechanism, Qualifier, SpfRecord, SyntaxError};
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

/// Which records `check_host()` consults: SPF's, or Sender ID's for one of its scopes.
/// The evaluation itself is the same (RFC 4406 §3.3 refers to `check_host()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordScope {
    /// SPF (RFC 7208 §4.5): `v=spf1` records only.
    Spf,
    /// Sender ID's `mfrom` scope (RFC 4406 §3.3, §3.4): `spf2.0` records naming
    /// `mfrom`; `v=spf1` records when the domain publishes no `spf2.0` record.
    SenderIdMfrom,
    /// Sender ID's `pra` scope (RFC 4406 §3.3, §3.4): `spf2.0` records naming `pra`;
    /// `v=spf1` records when the domain publishes no `spf2.0` record.
    SenderIdPra,
}

impl RecordScope {
    /// The scope's name in a Sender ID record (`spf` for SPF itself).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spf => "spf",
            Self::SenderIdMfrom => "mfrom",
            Self::SenderIdPra => "pra",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Spf => 0,
            Self::SenderIdMfrom => 1,
            Self::SenderIdPra => 2,
        }
    }
}

/// An SPF verifier bound to a resolver.
///
/// When the resolver caches its answers (as [`monban_dns::CachingResolver`] does), the
/// verifier keeps the SPF record parsed from each cached TXT answer, so that an answer
/// served again is not parsed again. Clones share these parsed records.
#[derive(Debug, Clone)]
pub struct Spf<R> {
    resolver: R,
    config: SpfConfig,
    records: Arc<RecordCache>,
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
    /// Which records count.
    scope: RecordScope,
    /// The first TXT lookup (the checked domain's own) has not been made yet.
    first_lookup: bool,
}

type LevelFuture<'f> = Pin<Box<dyn Future<Output = Result<Level, Abort>> + Send + 'f>>;

impl<R: Resolver> Spf<R> {
    /// A verifier with the RFC defaults.
    pub fn new(resolver: R) -> Self {
        Self::with_config(resolver, SpfConfig::default())
    }

    /// A verifier with explicit settings.
    pub fn with_config(resolver: R, config: SpfConfig) -> Self {
        Self {
            resolver,
            config,
            records: Arc::new(RecordCache::new()),
        }
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
        self.verify_mail_from_scoped(ip, helo, mail_from, RecordScope::Spf, now)
            .await
    }

    /// [`Self::verify_mail_from`] over the records of `scope` (Sender ID's `mfrom`).
    pub async fn verify_mail_from_scoped(
        &self,
        ip: IpAddr,
        helo: &str,
        mail_from: &str,
        scope: RecordScope,
        now: u64,
    ) -> SpfOutcome {
        let mail_from = mail_from.trim();
        let mail_from = mail_from
            .strip_prefix('<')
            .and_then(|m| m.strip_suffix('>'))
            .unwrap_or(mail_from);
        let id = SpfIdentity::MailFrom;
        if mail_from.is_empty() {
            let sender = format!("postmaster@{helo}");
            return self
                .check_host_scoped(ip, helo, &sender, helo, id, scope, now)
                .await;
        }
        let domain = match mail_from.rsplit_once('@') {
            Some((_, d)) => d,
            // No '@': RFC 7208 §4.3 gives no local part; treat the whole as the domain.
            None => mail_from,
        };
        self.check_host_scoped(ip, domain, mail_from, helo, id, scope, now)
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
        self.check_host_scoped(ip, domain, sender, helo, identity, RecordScope::Spf, now)
            .await
    }

    /// `check_host()` over the records of `scope`: SPF's, or Sender ID's (RFC 4406 §3,
    /// one evaluator for both). For Sender ID a domain that does not exist gives
    /// `fail` (RFC 4406 changes §4.3's `none` for it: the address is forged).
    #[allow(clippy::too_many_arguments)]
    pub async fn check_host_scoped(
        &self,
        ip: IpAddr,
        domain: &str,
        sender: &str,
        helo: &str,
        identity: SpfIdentity,
        scope: RecordScope,
        now: u64,
    ) -> SpfOutcome {
        // §5 (ip4/ip6 notes): an IPv4-mapped IPv6 address is an IPv4 client.
        let ip = crate::iprev::unmapped(ip);
        // §4.3: a sender with no local-part uses "postmaster".
        let (local_part, sender_domain) = match sender.rsplit_once('@') {
            Some(("", d)) => ("postmaster", d),
            Some((l, d)) => (l, d),
            None => ("postmaster", sender),
        };
        let domain_name = domain
            .strip_suffix('.')
            .unwrap_or(domain)
            .to_ascii_lowercase();
        // Built at the end, so that it is not part of the future while `level` runs.
        let outcome =
            |domain: String, result, cause, explanation, ctx: Option<&Ctx<'_>>| SpfOutcome {
                result,
                cause,
                identity,
                domain,
                sender: sender.to_owned(),
                ip,
                helo: helo.to_owned(),
                explanation,
                dns_lookups: ctx.map_or(0, |c| c.dns_terms),
                void_lookups: ctx.map_or(0, |c| c.void_lookups),
            };
        // §4.3: a malformed or single-label domain gives "none" before any lookup.
        if let Err(why) = check_domain(domain) {
            return outcome(
                domain_name,
                SpfResult::None,
                SpfCause::InvalidDomain(why),
                None,
                None,
            );
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
            scope,
            first_lookup: true,
        };
        let (result, cause, explanation) = match self.level(&mut ctx, &domain_name, false).await {
            Ok(l) => (l.result, l.cause, l.explanation),
            Err(Abort::Temp(cause)) => (SpfResult::Temperror, cause, None),
            Err(Abort::Perm(cause)) => (SpfResult::Permerror, cause, None),
        };
        outcome(domain_name, result, cause, explanation, Some(&ctx))
    }

    /// One `check_host()` level. Boxed: `include:` and `redirect=` recurse.
    fn level<'f>(
        &'f self,
        ctx: &'f mut Ctx<'_>,
        domain: &'f str,
        in_include: bool,
    ) -> LevelFuture<'f> {
        Box::pin(async move {
            let first = std::mem::replace(&mut ctx.first_lookup, false);
            let txt = match self.resolver.lookup(domain, RecordType::Txt).await {
                Ok(answer) => answer,
                Err(LookupError::NxDomain { .. }) if first && ctx.scope != RecordScope::Spf => {
                    return Ok(Level {
                        result: SpfResult::Fail,
                        cause: SpfCause::NoSuchDomain,
                        explanation: None,
                    });
                }
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
            let selected = self.records.get_or_select(&txt, ctx.scope);
            let rec = match &*selected {
                Selected::NoRecord => {
                    return Ok(Level {
                        result: SpfResult::None,
                        cause: SpfCause::NoRecord,
                        explanation: None,
                    });
                }
                Selected::Multiple => return Err(Abort::Perm(SpfCause::MultipleRecords)),
                Selected::Syntax(e) => return Err(Abort::Perm(SpfCause::Syntax(e.clone()))),
                Selected::Record(rec) => rec,
            };

            let client = Client::new(ctx.ip);
            for directive in &rec.directives {
                let matched = match &directive.op {
                    // §5.1, §5.6: decided here, with no future.
                    Op::All => true,
                    Op::Ip4 { net, mask } => client.v4.is_some_and(|c| c & mask == *net),
                    Op::Ip6 { net, mask } => client.v6.is_some_and(|c| c & mask == *net),
                    Op::Dns(mechanism) => {
                        // §4.6.4: every mechanism that queries the DNS counts.
                        ctx.dns_terms += 1;
                        if ctx.dns_terms > self.config.max_dns_terms {
                            return Err(Abort::Perm(SpfCause::LookupLimit));
                        }
                        self.matches(ctx, domain, mechanism).await?
                    }
                };
                if !matched {
                    continue;
                }
                let result = match directive.qualifier {
                    Qualifier::Pass => SpfResult::Pass,
                    Qualifier::Fail => SpfResult::Fail,
                    Qualifier::SoftFail => SpfResult::Softfail,
                    Qualifier::Neutral => SpfResult::Neutral,
                };
                // §6.2: exp= is used for a fail at this level, never from an include.
                let explanation = match (result, &rec.exp) {
                    (SpfResult::Fail, Some(exp)) if !in_include => {
                        // Boxed: rare, and its future would grow every level's.
                        Box::pin(self.explain(ctx, domain, exp)).await
                    }
                    _ => None,
                };
                // Of a level inside an include:, only the result is used (§5.2): the
                // cause is not built.
                let cause = if in_include {
                    SpfCause::NoMatch
                } else {
                    SpfCause::Matched {
                        mechanism: String::from(&*directive.text),
                        domain: domain.to_owned(),
                    }
                };
                return Ok(Level {
                    result,
                    cause,
                    explanation,
                });
            }

            // §6.1: redirect= applies when nothing matched (and "all" was absent, which
            // is implied: "all" always matches).
            if let Some(spec) = &rec.redirect {
                ctx.dns_terms += 1;
                if ctx.dns_terms > self.config.max_dns_terms {
                    return Err(Abort::Perm(SpfCause::LookupLimit));
                }
                let target = self.target(ctx, domain, spec).await?;
                if !spec.is_checkable(&target) {
                    return Err(Abort::Perm(SpfCause::RedirectNone(target.into_owned())));
                }
                let inner = self.level(ctx, &target, in_include).await?;
                if inner.result == SpfResult::None {
                    return Err(Abort::Perm(SpfCause::RedirectNone(target.into_owned())));
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

    /// Expands a domain-spec into a name to look up (§7, with §7.3 truncation),
    /// lowercase and without a trailing dot.
    async fn target<'s>(
        &self,
        ctx: &mut Ctx<'_>,
        domain: &str,
        spec: &'s Spec,
    ) -> Result<Cow<'s, str>, Abort> {
        if let Some(name) = &spec.literal {
            return Ok(Cow::Borrowed(name));
        }
        if let Some(m) = &spec.parsed {
            let p = if m.uses_p() {
                // Boxed: `%{p}` is rare, and its future would grow every caller's.
                Some(Box::pin(self.validated_name(ctx, domain)).await)
            } else {
                None
            };
            let vars = self.macro_vars(ctx, domain);
            let expanded = m.expand(&vars, p.as_deref());
            return Ok(Cow::Owned(lookup_name(&expanded)));
        }
        let spec = DomainSpec(&spec.text);
        let p = if macros::uses_p(spec.0) {
            // Boxed: `%{p}` is rare, and its future would grow every caller's.
            Some(Box::pin(self.validated_name(ctx, domain)).await)
        } else {
            None
        };
        let vars = self.macro_vars(ctx, domain);
        let expanded = macros::expand(spec.0, MacroContext::Domain, &vars, p.as_deref())
            .map_err(|e| Abort::Perm(SpfCause::Macro(e.to_string())))?;
        Ok(Cow::Owned(lookup_name(&expanded)))
    }

    /// The values of the macro letters (§7.2) for `domain` in this evaluation.
    fn macro_vars<'v>(&'v self, ctx: &'v Ctx<'_>, domain: &'v str) -> MacroVars<'v> {
        MacroVars {
            sender: ctx.sender,
            local_part: ctx.local_part,
            sender_domain: ctx.sender_domain,
            domain,
            ip: ctx.ip,
            helo: ctx.helo,
            receiver: &self.config.receiver,
            now: ctx.now,
        }
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
    async fn addresses(&self, name: &str, ip: IpAddr) -> Result<Option<Addresses>, LookupError> {
        let rtype = match ip {
            IpAddr::V4(_) => RecordType::A,
            IpAddr::V6(_) => RecordType::Aaaa,
        };
        match self.resolver.lookup(name, rtype).await {
            Ok(answer) => Ok(Some(Addresses(answer))),
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
        mechanism: &DnsMechanism,
    ) -> Result<bool, Abort> {
        let ip = ctx.ip;
        match mechanism {
            DnsMechanism::A {
                domain: spec,
                cidr4,
                cidr6,
            } => {
                let target = match spec {
                    Some(spec) => self.target(ctx, domain, spec).await?,
                    None => Cow::Borrowed(domain),
                };
                match self.addresses(&target, ip).await {
                    Ok(Some(addrs)) => Ok(addrs.iter().any(|a| in_net(ip, a, *cidr4, *cidr6))),
                    Ok(None) => self.void(ctx).map(|()| false),
                    Err(e) => Err(Abort::Temp(SpfCause::Dns(e))),
                }
            }
            DnsMechanism::Mx {
                domain: spec,
                cidr4,
                cidr6,
            } => {
                let target = match spec {
                    Some(spec) => self.target(ctx, domain, spec).await?,
                    None => Cow::Borrowed(domain),
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
                let records = || mx_hosts(&mx);
                // §4.6.4: more than 10 MX records is a permerror.
                if records().count() > self.config.max_mx_ptr {
                    return Err(Abort::Perm(SpfCause::MxLimit(target.into_owned())));
                }
                // By preference; the answer's order among equals (a stable sort), and
                // no copy when the answer is in order already.
                let (in_order, sorted) = if records().is_sorted_by_key(|h| h.0) {
                    (Some(records()), None)
                } else {
                    let mut hosts: Vec<(u16, &str)> = records().collect();
                    hosts.sort_by_key(|h| h.0);
                    (None, Some(hosts))
                };
                let hosts = in_order
                    .into_iter()
                    .flatten()
                    .chain(sorted.into_iter().flatten());
                for (_, host) in hosts {
                    // RFC 7505 null MX ("."): no host to check.
                    if host.is_empty() {
                        continue;
                    }
                    match self.addresses(host, ip).await {
                        Ok(Some(addrs)) => {
                            if addrs.iter().any(|a| in_net(ip, a, *cidr4, *cidr6)) {
                                return Ok(true);
                            }
                        }
                        Ok(None) => {}
                        Err(e) => return Err(Abort::Temp(SpfCause::Dns(e))),
                    }
                }
                Ok(false)
            }
            // Boxed: `ptr` is rare ("do not use"), and its future would grow the others'.
            DnsMechanism::Ptr(spec) => Box::pin(self.ptr_matches(ctx, domain, spec.as_ref())).await,
            DnsMechanism::Exists(spec) => {
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
            DnsMechanism::Include(spec) => {
                let target = self.target(ctx, domain, spec).await?;
                if !spec.is_checkable(&target) {
                    return Err(Abort::Perm(SpfCause::IncludeNone(target.into_owned())));
                }
                // §5.2: pass matches; fail/softfail/neutral do not; errors propagate;
                // none is a permerror.
                let inner = self.level(ctx, &target, true).await?;
                match inner.result {
                    SpfResult::Pass => Ok(true),
                    SpfResult::None => Err(Abort::Perm(SpfCause::IncludeNone(target.into_owned()))),
                    _ => Ok(false),
                }
            }
        }
    }

    /// Whether `ptr` matches (§5.5).
    async fn ptr_matches(
        &self,
        ctx: &mut Ctx<'_>,
        domain: &str,
        spec: Option<&Spec>,
    ) -> Result<bool, Abort> {
        let ip = ctx.ip;
        let target = match spec {
            Some(spec) => self.target(ctx, domain, spec).await?,
            None => Cow::Borrowed(domain),
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

    /// The first 10 PTR names of the client (§4.6.4, §5.5): the reverse lookup iprev
    /// makes too ([`crate::iprev::ptr_names`]).
    async fn ptr_names(&self, ip: IpAddr) -> Result<Vec<String>, LookupError> {
        crate::iprev::ptr_names(&self.resolver, ip, self.config.max_mx_ptr).await
    }

    /// Whether `name` has an address equal to the client's (§5.5 forward confirmation).
    /// Lookup errors mean "not confirmed".
    async fn forward_confirms(&self, name: &str, ip: IpAddr) -> bool {
        matches!(self.addresses(name, ip).await, Ok(Some(addrs)) if addrs.iter().any(|a| a == ip))
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
    async fn explain(&self, ctx: &mut Ctx<'_>, domain: &str, spec: &Spec) -> Option<String> {
        let target = self.target(ctx, domain, spec).await.ok()?;
        let answer = self.resolver.lookup(&target, RecordType::Txt).await.ok()?;
        let [Record::Txt(txt)] = answer.records.as_slice() else {
            return None;
        };
        let text = String::from_utf8(txt.joined()).ok()?;
        let p = if macros::uses_p(&text) {
            // Boxed: `%{p}` is rare, and its future would grow every caller's.
            Some(Box::pin(self.validated_name(ctx, domain)).await)
        } else {
            None
        };
        let vars = self.macro_vars(ctx, domain);
        macros::expand(&text, MacroContext::Explanation, &vars, p.as_deref()).ok()
    }
}

/// The client-family addresses of an A or AAAA answer.
struct Addresses(Arc<Answer>);

impl Addresses {
    fn iter(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.0.records.iter().filter_map(|r| match r {
            Record::A(a) => Some(IpAddr::V4(*a)),
            Record::Aaaa(a) => Some(IpAddr::V6(*a)),
            _ => None,
        })
    }
}

/// What one TXT answer holds for SPF: the record selected (§4.5) and parsed (§4.6),
/// owned so that it can be kept with the answer.
#[derive(Debug)]
enum Selected {
    /// No TXT record begins with "v=spf1".
    NoRecord,
    /// More than one does.
    Multiple,
    /// The one that does, does not parse.
    Syntax(SyntaxError),
    /// The record.
    Record(Compiled),
}

impl Selected {
    fn new(answer: &Answer, scope: RecordScope) -> Self {
        if scope != RecordScope::Spf
            && let Some(selected) = Self::sender_id(answer, scope)
        {
            return selected;
        }
        let mut found: Option<Vec<u8>> = None;
        for r in &answer.records {
            if let Record::Txt(t) = r {
                let joined = t.joined();
                if record::is_spf_record(&joined) {
                    if found.is_some() {
                        return Self::Multiple;
                    }
                    found = Some(joined);
                }
            }
        }
        let Some(bytes) = found else {
            return Self::NoRecord;
        };
        let text = String::from_utf8_lossy(&bytes);
        match SpfRecord::parse(&text) {
            Ok(rec) => Self::Record(Compiled::new(&rec)),
            Err(e) => Self::Syntax(e),
        }
    }

    /// Sender ID's selection (RFC 4406 §3.4): when the domain publishes any `spf2.0`
    /// record, only those naming the scope count (none: no record; several:
    /// `permerror`). `None` when it publishes none: then its `v=spf1` record is used
    /// as if it were `spf2.0/mfrom,pra`.
    fn sender_id(answer: &Answer, scope: RecordScope) -> Option<Self> {
        let mut any = false;
        let mut found: Option<Vec<u8>> = None;
        for r in &answer.records {
            let Record::Txt(t) = r else { continue };
            let joined = t.joined();
            if !record::is_sender_id_record(&joined) {
                continue;
            }
            any = true;
            let Some((scopes, _)) = record::sender_id_scopes(&joined) else {
                // Scopes that cannot be read: this may be the record for the scope, and
                // the domain's v=spf1 record no longer counts.
                let text = String::from_utf8_lossy(&joined);
                return Some(match SpfRecord::parse_sender_id(&text) {
                    Some(Err(e)) => Self::Syntax(e),
                    _ => Self::NoRecord,
                });
            };
            let covers = match scope {
                RecordScope::SenderIdMfrom => scopes.mfrom,
                RecordScope::SenderIdPra => scopes.pra,
                RecordScope::Spf => false,
            };
            if covers {
                if found.is_some() {
                    return Some(Self::Multiple);
                }
                found = Some(joined);
            }
        }
        if !any {
            return None;
        }
        let Some(bytes) = found else {
            return Some(Self::NoRecord);
        };
        let text = String::from_utf8_lossy(&bytes);
        Some(match SpfRecord::parse_sender_id(&text) {
            Some(Ok((_, rec))) => Self::Record(Compiled::new(&rec)),
            Some(Err(e)) => Self::Syntax(e),
            None => Self::NoRecord,
        })
    }
}

/// An [`SpfRecord`] made ready to evaluate: owned, with the address mechanisms as masks
/// and the domain-specs without macros already expanded.
#[derive(Debug)]
struct Compiled {
    directives: Vec<CompiledDirective>,
    redirect: Option<Spec>,
    exp: Option<Spec>,
}

impl Compiled {
    fn new(rec: &SpfRecord<'_>) -> Self {
        Self {
            directives: rec
                .directives()
                .map(|d| CompiledDirective {
                    qualifier: d.qualifier(),
                    op: Op::new(&d.mechanism),
                    text: d.to_string().into_boxed_str(),
                })
                .collect(),
            redirect: rec.redirect().map(Spec::new),
            exp: rec.exp().map(Spec::new),
        }
    }
}

#[derive(Debug)]
struct CompiledDirective {
    /// The effective qualifier.
    qualifier: Qualifier,
    op: Op,
    /// The directive as [`record::Directive`] displays it, for [`SpfCause::Matched`].
    text: Box<str>,
}

/// A mechanism: `all`, `ip4` and `ip6` as masks (§5.1, §5.6), the others as they need
/// the DNS.
#[derive(Debug)]
enum Op {
    All,
    /// The network address, already masked.
    Ip4 {
        net: u32,
        mask: u32,
    },
    /// The network address, already masked.
    Ip6 {
        net: u128,
        mask: u128,
    },
    Dns(DnsMechanism),
}

impl Op {
    fn new(m: &Mechanism<'_>) -> Self {
        let spec = |d: &Option<DomainSpec<'_>>| d.map(Spec::new);
        match m {
            Mechanism::All => Self::All,
            Mechanism::Ip4 { addr, prefix } => {
                let mask = v4_mask(prefix.unwrap_or(32));
                Self::Ip4 {
                    net: u32::from(*addr) & mask,
                    mask,
                }
            }
            Mechanism::Ip6 { addr, prefix } => {
                let mask = v6_mask(prefix.unwrap_or(128));
                Self::Ip6 {
                    net: u128::from(*addr) & mask,
                    mask,
                }
            }
            Mechanism::Include(d) => Self::Dns(DnsMechanism::Include(Spec::new(*d))),
            Mechanism::A {
                domain,
                cidr4,
                cidr6,
            } => Self::Dns(DnsMechanism::A {
                domain: spec(domain),
                cidr4: *cidr4,
                cidr6: *cidr6,
            }),
            Mechanism::Mx {
                domain,
                cidr4,
                cidr6,
            } => Self::Dns(DnsMechanism::Mx {
                domain: spec(domain),
                cidr4: *cidr4,
                cidr6: *cidr6,
            }),
            Mechanism::Ptr(d) => Self::Dns(DnsMechanism::Ptr(spec(d))),
            Mechanism::Exists(d) => Self::Dns(DnsMechanism::Exists(Spec::new(*d))),
        }
    }
}

/// A mechanism that queries the DNS and so counts against the limit of §4.6.4.
#[derive(Debug)]
enum DnsMechanism {
    Include(Spec),
    A {
        domain: Option<Spec>,
        cidr4: Option<u8>,
        cidr6: Option<u8>,
    },
    Mx {
        domain: Option<Spec>,
        cidr4: Option<u8>,
        cidr6: Option<u8>,
    },
    Ptr(Option<Spec>),
    Exists(Spec),
}

/// An owned domain-spec (§7.1).
#[derive(Debug)]
struct Spec {
    /// As written.
    text: Box<str>,
    /// Without macros, what [`Spf::target`] makes of it, computed once: the text
    /// truncated (§7.3), without a trailing dot, lowercase. (The literal is checked
    /// as `macros::expand` would check it.)
    literal: Option<Box<str>>,
    /// Whether `literal` passes [`check_domain`].
    literal_ok: bool,
    /// With macros, the macro-string split once.
    parsed: Option<MacroString>,
}

impl Spec {
    fn new(spec: DomainSpec<'_>) -> Self {
        let text = spec.0;
        let literal =
            (!text.contains('%') && text.bytes().all(|b| matches!(b, 0x21..=0x7e))).then(|| {
                let truncated = macros::truncate_domain(text);
                let name = truncated.strip_suffix('.').unwrap_or(truncated);
                name.to_ascii_lowercase().into_boxed_str()
            });
        Self {
            text: text.into(),
            literal_ok: literal.as_deref().is_some_and(|l| check_domain(l).is_ok()),
            parsed: match literal {
                Some(_) => None,
                None => MacroString::parse(text, MacroContext::Domain).ok(),
            },
            literal,
        }
    }

    /// Whether `target`, this spec's expansion, is a domain `include:` and `redirect=`
    /// may go to ([`check_domain`]).
    fn is_checkable(&self, target: &str) -> bool {
        if self.literal.is_some() {
            self.literal_ok
        } else {
            check_domain(target).is_ok()
        }
    }
}

/// The client address, as the masks of [`Op`] compare it.
#[derive(Debug, Clone, Copy)]
struct Client {
    v4: Option<u32>,
    v6: Option<u128>,
}

impl Client {
    fn new(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Self {
                v4: Some(u32::from(a)),
                v6: None,
            },
            IpAddr::V6(a) => Self {
                v4: None,
                v6: Some(u128::from(a)),
            },
        }
    }
}

/// How many shards [`RecordCache`] has, and how many entries each holds at most.
const RECORD_SHARDS: usize = 8;
const RECORDS_PER_SHARD: usize = 512;

/// The [`Selected`] record of each TXT answer that a cache in front of the verifier
/// holds, so that an answer served again from the cache is not parsed again (selection
/// and parsing depend on nothing but the answer).
///
/// Keyed by the answer's address; an entry holds its answer, so the address cannot be
/// reused while the entry lives. Answers that nobody else holds (a resolver without a
/// cache hands out a new one each time) are not kept: they are never seen again. When
/// a shard is full, entries whose answer left the DNS cache go first, then all.
struct RecordCache {
    shards: [Mutex<RecordShard>; RECORD_SHARDS],
}

type RecordShard = HashMap<usize, (Arc<Answer>, Arc<Selected>), BuildHasherDefault<AddrHasher>>;

impl std::fmt::Debug for RecordCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordCache").finish_non_exhaustive()
    }
}

impl RecordCache {
    fn new() -> Self {
        Self {
            shards: Default::default(),
        }
    }

    fn get_or_select(&self, answer: &Arc<Answer>, scope: RecordScope) -> Arc<Selected> {
        // An answer's address is aligned to at least 4 bytes: the low bits carry the
        // scope, whose selection differs.
        let key = Arc::as_ptr(answer) as usize + scope.index();
        let mut h = AddrHasher::default();
        h.write_usize(key);
        let shard = &self.shards[(h.finish() >> 40) as usize % RECORD_SHARDS];
        if let Some((_, selected)) = shard.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return selected.clone();
        }
        let selected = Arc::new(Selected::new(answer, scope));
        if Arc::strong_count(answer) > 1 {
            let mut map = shard.lock().unwrap_or_else(|p| p.into_inner());
            if map.len() >= RECORDS_PER_SHARD {
                map.retain(|_, (a, _)| Arc::strong_count(a) > 1);
                if map.len() >= RECORDS_PER_SHARD / 2 {
                    map.clear();
                }
            }
            map.insert(key, (answer.clone(), selected.clone()));
        }
        selected
    }
}

/// The `(preference, exchange)` pairs of an MX answer, in answer order.
fn mx_hosts(answer: &Answer) -> impl Iterator<Item = (u16, &str)> + Send {
    fn host(r: &Record) -> Option<(u16, &str)> {
        match r {
            Record::Mx {
                preference,
                exchange,
            } => Some((*preference, exchange.as_str())),
            _ => None,
        }
    }
    answer.records.iter().filter_map(host)
}

/// A hasher for addresses (not attacker-chosen): a folded multiply.
#[derive(Debug, Default, Clone, Copy)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        let p = u128::from(self.0 ^ n) * 0x9e37_79b9_7f4a_7c15;
        self.0 = (p as u64) ^ ((p >> 64) as u64);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// What [`check_domain`] needs to know of a name, in one pass (names are short: a plain
/// loop beats several `memchr`s).
struct NameShape {
    /// Every label has 1 to 63 octets (RFC 1035 §2.3.4); false for the empty name.
    labels_ok: bool,
    dots: usize,
    colon: bool,
    digits_and_dots: bool,
}

impl NameShape {
    fn of(name: &str) -> Self {
        let b = name.as_bytes();
        let mut labels_ok = !b.is_empty();
        let mut dots = 0;
        let mut colon = false;
        let mut digits_and_dots = true;
        let mut start = 0;
        for (i, &c) in b.iter().enumerate() {
            if c == b'.' {
                labels_ok &= i != start && i - start <= 63;
                dots += 1;
                start = i + 1;
            } else {
                colon |= c == b':';
                digits_and_dots &= c.is_ascii_digit();
            }
        }
        labels_ok &= b.len() > start && b.len() - start <= 63;
        Self {
            labels_ok,
            dots,
            colon,
            digits_and_dots,
        }
    }
}

/// An expanded domain-spec as a name to look up: §7.3 truncation, no trailing dot,
/// lowercase.
fn lookup_name(expanded: &str) -> String {
    let truncated = macros::truncate_domain(expanded);
    truncated
        .strip_suffix('.')
        .unwrap_or(truncated)
        .to_ascii_lowercase()
}

/// §4.3: the domain must be a valid, multi-label name.
fn check_domain(domain: &str) -> Result<(), String> {
    // The common case, without the allocation of `normalize_name`: what it accepts
    // (RFC 1035 §2.3.4 sizes, one trailing dot dropped), multi-label, not an address.
    // Case does not matter to any of these tests.
    let trimmed = domain.strip_suffix('.').unwrap_or(domain);
    if trimmed.len() <= 253 && !trimmed.starts_with('[') {
        let shape = NameShape::of(trimmed);
        // Only digits and dots (IPv4) or a colon (IPv6) can make an address.
        if shape.labels_ok
            && shape.dots > 0
            && !((shape.colon || shape.digits_and_dots) && trimmed.parse::<IpAddr>().is_ok())
        {
            return Ok(());
        }
    }
    let normalized = normalize_name(domain).map_err(|e| format!("{domain:?}: {e}"))?;
    if !normalized.contains('.') {
        return Err(format!("{domain:?} is not a multi-label domain name"));
    }
    if normalized.starts_with('[') || normalized.parse::<IpAddr>().is_ok() {
        return Err(format!("{domain:?} is an address literal"));
    }
    Ok(())
}

fn v4_mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    }
}

fn v6_mask(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix.min(128)))
    }
}

fn in_v4(client: Ipv4Addr, net: Ipv4Addr, prefix: u8) -> bool {
    let mask = v4_mask(prefix);
    u32::from(client) & mask == u32::from(net) & mask
}

fn in_v6(client: Ipv6Addr, net: Ipv6Addr, prefix: u8) -> bool {
    let mask = v6_mask(prefix);
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

    /// The fast path of `check_domain` agrees with the full check.
    #[test]
    fn check_domain_fast_path_agrees() {
        let slow = |domain: &str| -> bool {
            normalize_name(domain).is_ok_and(|n| {
                n.contains('.') && !n.starts_with('[') && n.parse::<IpAddr>().is_err()
            })
        };
        for d in [
            "example.com",
            "Example.COM.",
            "example.com..",
            ".example.com",
            "localhost",
            "localhost.",
            "192.0.2.1",
            "192.0.2.1.",
            "2001:DB8::1",
            "[192.0.2.1]",
            "a.b.c.d.e",
            "",
            ".",
            "_spf.example.com",
        ] {
            assert_eq!(check_domain(d).is_ok(), slow(d), "{d:?}");
        }
        for long in [
            format!("{}.com", vec!["a".repeat(63); 4].join(".")),
            format!("{}.com", vec!["a".repeat(63); 3].join(".")),
            format!("{}.com", "a".repeat(63)),
            format!("{}.com", "a".repeat(64)),
            format!("example.{}", "a".repeat(63)),
            format!("example.{}", "a".repeat(64)),
            format!("example.{}.", "a".repeat(64)),
        ] {
            assert_eq!(check_domain(&long).is_ok(), slow(&long), "{long}");
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// Records parsed once and kept with the cached answer give the same outcomes as
    /// records parsed every time; without a cache nothing is kept.
    #[test]
    fn parsed_records_kept_with_cached_answers() {
        let zone = monban_dns::ZoneResolver::parse(
            r#"
$ORIGIN example.
$TTL 3600
@            SOA ns hostmaster 1 2 3 4 300
a            TXT "v=spf1 ip4:192.0.2.0/24 include:_spf.a.example -all"
_spf.a       TXT "v=spf1 ip6:2001:db8::/32 a:h.a.example/30 ~all"
h.a          A   198.51.100.1
h.a          AAAA 2001:db8:1::1
r            TXT "v=spf1 mx:a.example redirect=_spf.r.example"
_spf.r       TXT "v=spf1 exists:%{ir}.%{v}.%{L}._x.%{d2} -all exp=why.r.example"
why.r        TXT "%{i} is not one of %{d}'s hosts (%{l1r-})"
a            MX  10 h.a.example.
50.2.0.192.in-addr.user._x.example A 127.0.0.2
bad          TXT "v=spf1 ip4:192.0.2.300 -all"
two          TXT "v=spf1 -all"
two          TXT "v=spf1 +all"
none         TXT "not spf"
"#,
            "test",
            None,
        )
        .unwrap();
        let plain = Spf::new(&zone);
        let cached = Spf::new(monban_dns::CachingResolver::new(zone.clone()));
        let cases = [
            ("192.0.2.9", "u@a.example"),
            ("198.51.100.2", "u@a.example"),
            ("198.51.100.9", "u@a.example"),
            ("2001:db8:5::1", "u@a.example"),
            ("2001:db9::1", "u@a.example"),
            ("192.0.2.50", "user@r.example"),
            ("192.0.2.51", "first.last@r.example"),
            ("198.51.100.1", "user@r.example"),
            ("192.0.2.1", "u@bad.example"),
            ("192.0.2.1", "u@two.example"),
            ("192.0.2.1", "u@none.example"),
            ("192.0.2.1", "u@missing.example"),
        ];
        block_on(async {
            for (ip, from) in cases {
                let ip: IpAddr = ip.parse().unwrap();
                let want = plain.verify_mail_from(ip, "helo.example", from, 0).await;
                for _ in 0..3 {
                    let got = cached.verify_mail_from(ip, "helo.example", from, 0).await;
                    assert_eq!(got, want, "{ip} {from}");
                }
            }
        });
        fn held<R>(spf: &Spf<R>) -> usize {
            spf.records
                .shards
                .iter()
                .map(|s| s.lock().unwrap().len())
                .sum()
        }
        assert_eq!(held(&plain), 0);
        assert!(held(&cached) >= 6, "{}", held(&cached));
    }

    /// The record cache stays bounded, dropping first what no DNS cache holds.
    #[test]
    fn record_cache_is_bounded() {
        let cache = RecordCache::new();
        let answer = || {
            Arc::new(Answer {
                records: vec![Record::Txt(monban_dns::Txt::new(["v=spf1 -all"]))],
                ttl: 60,
            })
        };
        // Each answer also held here, as a DNS cache would hold it.
        let held: Vec<Arc<Answer>> = (0..RECORD_SHARDS * RECORDS_PER_SHARD * 2)
            .map(|_| answer())
            .collect();
        for a in &held {
            let a = &a.clone();
            assert!(matches!(
                *cache.get_or_select(a, RecordScope::Spf),
                Selected::Record(_)
            ));
        }
        let sizes = || -> Vec<usize> {
            cache
                .shards
                .iter()
                .map(|s| s.lock().unwrap().len())
                .collect()
        };
        assert!(
            sizes().iter().all(|&n| n <= RECORDS_PER_SHARD),
            "{:?}",
            sizes()
        );
        // A hit returns the same parsed record.
        let last = held.last().unwrap();
        assert!(Arc::ptr_eq(
            &cache.get_or_select(last, RecordScope::Spf),
            &cache.get_or_select(last, RecordScope::Spf)
        ));
        // An answer held by nobody else is not kept.
        let before: usize = sizes().iter().sum();
        cache.get_or_select(&answer(), RecordScope::Spf);
        assert_eq!(sizes().iter().sum::<usize>(), before);
        // Once the DNS cache let go of its answers, they are dropped first.
        drop(held);
        let again: Vec<Arc<Answer>> = (0..RECORD_SHARDS * RECORDS_PER_SHARD / 4)
            .map(|_| answer())
            .collect();
        for a in &again {
            cache.get_or_select(&a.clone(), RecordScope::Spf);
        }
        assert!(
            sizes().iter().all(|&n| n <= RECORDS_PER_SHARD),
            "{:?}",
            sizes()
        );
        let kept: usize = cache
            .shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap()
                    .values()
                    .filter(|(a, _)| Arc::strong_count(a) > 1)
                    .count()
            })
            .sum();
        assert_eq!(kept, again.len());
    }
}
