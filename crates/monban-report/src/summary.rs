//! What the received aggregate reports say (issue 12): `monban report summary` (the JSON
//! of DESIGN §4, extended) and `monban report advise`, the readiness advisor.
//!
//! The store groups report rows by domain, source and outcome ([`IncomingSummary`]);
//! here they are folded per domain and per source, sources get their reverse DNS name
//! (forward-confirmed, so a PTR record cannot claim to be someone else) and its
//! organizational domain, and each failing source is classified: a forwarder, a
//! service that authenticates as another domain, an own server missing from SPF, a
//! broken DKIM signature, or mail nobody authenticated (likely spoofing).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use monban::dmarc::PublicSuffixList;
use monban_diag::i18n::{Lang, Msg};
use monban_diag::msg;
use monban_dns::{Record, RecordType, SharedResolver};
use monban_store::{IncomingSummary, SourceGroup, SummaryFilter};
use serde::Serialize;

/// `YYYY-MM-DD` → the Unix time of that UTC day's midnight (2026-02-30 and month 13
/// refused).
pub fn parse_day(s: &str) -> Option<i64> {
    use monban::rfc5322::datetime::{civil_from_days, days_from_civil};
    let mut parts = s.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let days = days_from_civil(y, m, d);
    (civil_from_days(days) == (y, m, d)).then_some(days * 86_400)
}

/// Why the fields of a summary filter are wrong, as a message of the catalogue (the web
/// pages word it in the reader's language; `Display` is the English).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError(pub monban_diag::i18n::Msg);

impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.text(monban_diag::i18n::Lang::En))
    }
}

impl std::error::Error for FilterError {}

/// The filter of `report summary` and `advise` (CLI flags and API parameters alike):
/// `since` and `until` are UTC days (`until` included); `name` words an error with the
/// flag or parameter name (`--since`, `since`).
pub fn filter(
    domain: Option<&str>,
    since: Option<&str>,
    until: Option<&str>,
    name: impl Fn(&str) -> String,
) -> Result<SummaryFilter, FilterError> {
    let day = |flag: &str, v: Option<&str>| -> Result<Option<i64>, FilterError> {
        v.map(|d| {
            parse_day(d).ok_or_else(|| {
                FilterError(monban_diag::msg!(
                    "arg-not-day",
                    name = name(flag),
                    given = format!("{:?}", d.chars().take(40).collect::<String>())
                ))
            })
        })
        .transpose()
    };
    let since = day("since", since)?;
    let until = day("until", until)?.map(|u| u + 86_400);
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        return Err(FilterError(monban_diag::msg!(
            "arg-since-after-until",
            since = name("since"),
            until = name("until")
        )));
    }
    // Reports are stored under the policy domain's A-labels (ingest converts an
    // internationalized one): a filter given in U-labels is converted the same way.
    // A name that is not one (".", "a..b", a label over 63 octets) is refused by name:
    // "." meant every domain, "a..b" none. One label is a name (a PSD's reports).
    // An empty filter (`?domain=`) is no filter, as before.
    let domain = domain
        .filter(|d| !d.trim().is_empty())
        .map(|given| {
            let fail = |why| {
                FilterError(monban_diag::msg!(
                    "arg-not-domain",
                    flag = name("domain"),
                    given = format!("{:?}", given.chars().take(80).collect::<String>()),
                    why = why
                ))
            };
            let d = given.trim();
            let ascii = if d.is_ascii() {
                d.to_owned()
            } else {
                idna::domain_to_ascii(d).map_err(|_| fail(monban_diag::msg!("name-not-idn")))?
            };
            monban_dns::normalize_name(&ascii).map_err(|e| fail(monban_diag::check::name_error(e)))
        })
        .transpose()?;
    Ok(SummaryFilter {
        domain,
        since,
        until,
    })
}

/// The summary of the stored reports the filter selects, with reverse DNS when a
/// resolver is given (what `report summary` and the API's summary return).
pub async fn load(
    store: &dyn monban_store::Store,
    filter: &SummaryFilter,
    resolver: Option<(&SharedResolver, usize)>,
) -> Result<(Summary, RdnsStats), monban_store::StoreError> {
    let data = store.incoming_summary(filter).await?;
    let mut s = fold(&data);
    let tls = store.incoming_tls(filter).await?;
    s.tls = fold_tls(&tls.rows);
    s.tls_rows_left_out = tls.older_left_out;
    let mut stats = RdnsStats::default();
    if let Some((r, max)) = resolver {
        stats = add_reverse_dns(&mut s, r, max).await;
    }
    Ok((s, stats))
}

/// Domains whose published policy is looked up at most (the rest keep the `p` their
/// reports state).
const PUBLISHED_POLICIES: usize = 1_000;

/// The `p` each domain publishes now, from DNS (`_dmarc.<domain>`): what the advisor
/// starts from, since a report's `policy_published` is whatever its sender wrote. The
/// first [`PUBLISHED_POLICIES`] domains, each lookup within [`RDNS_DEADLINE`].
pub async fn published_policies(summary: &mut Summary, resolver: &SharedResolver) {
    use monban_dns::DynResolver as _;
    for d in summary.domains.iter_mut().take(PUBLISHED_POLICIES) {
        let name = format!("_dmarc.{}", d.domain);
        let Ok(answer) =
            tokio::time::timeout(RDNS_DEADLINE, resolver.lookup_boxed(&name, RecordType::Txt))
                .await
        else {
            continue;
        };
        let Ok(answer) = answer else { continue };
        let records: Vec<_> = answer
            .records
            .iter()
            .filter_map(|r| match r {
                Record::Txt(t) => Some(String::from_utf8_lossy(&t.joined()).into_owned()),
                _ => None,
            })
            .filter(|t| t.trim_start().starts_with("v=DMARC1"))
            .collect();
        if let [one] = records.as_slice()
            && let Ok(rec) = monban::dmarc::DmarcRecord::parse(one)
        {
            d.policy = Some(
                match rec.p {
                    monban::dmarc::Policy::None => "none",
                    monban::dmarc::Policy::Quarantine => "quarantine",
                    monban::dmarc::Policy::Reject => "reject",
                }
                .to_string(),
            );
            d.policy_source = "dns";
        }
    }
}

/// The summary of all domains.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// One entry per policy domain, the most mail first.
    pub domains: Vec<DomainSummary>,
    /// What the TLS reports (RFC 8460) say, per policy domain, the most failures first.
    pub tls: Vec<TlsSummary>,
    /// Source addresses whose reverse DNS name was not looked up: past the first ones
    /// of each domain, past [`MAX_RDNS_TOTAL`] in all, or not answered within
    /// [`RDNS_DEADLINE`] (their `ptr` is missing for that reason, not for want of a
    /// name). Left out of the JSON when 0 (all looked up, or none asked for).
    #[serde(skip_serializing_if = "is_zero")]
    pub rdns_not_looked_up: usize,
    /// The period holds more than [`monban_store::MAX_TLS_ROWS`] TLS policy rows: only
    /// the newest are counted in `tls`. Left out of the JSON when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_rows_left_out: bool,
}

fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}

/// The TLS reports of one policy domain.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TlsSummary {
    /// The policy domain.
    pub domain: String,
    /// Policies reported (a report can hold several).
    pub policies: u64,
    /// Who reported.
    pub reporters: Vec<String>,
    /// The policy types seen (`sts`, `tlsa`, `no-policy-found`).
    pub policy_types: Vec<String>,
    /// Sessions that negotiated TLS as the policy asks.
    pub successful: u64,
    /// Sessions that failed.
    pub failed: u64,
    /// Failed sessions by `result-type`, the most first (at most 20).
    pub failures: Vec<TlsFailure>,
}

/// Failed sessions of one kind.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TlsFailure {
    /// `result-type` (`certificate-expired`, `starttls-not-supported`, ...).
    pub result_type: String,
    /// Failed sessions.
    pub sessions: u64,
    /// Receiving MX hosts named (at most 5).
    pub mx: Vec<String>,
}

/// Folds stored TLS policies into per-domain summaries.
pub fn fold_tls(rows: &[monban_store::TlsPolicyStored]) -> Vec<TlsSummary> {
    let mut by: BTreeMap<String, TlsSummary> = BTreeMap::new();
    for r in rows {
        let t = by
            .entry(r.policy_domain.clone())
            .or_insert_with(|| TlsSummary {
                domain: r.policy_domain.clone(),
                ..TlsSummary::default()
            });
        t.policies += 1;
        t.successful = t.successful.saturating_add(r.successful);
        t.failed = t.failed.saturating_add(r.failed);
        if !t.reporters.contains(&r.org_name) && t.reporters.len() < 50 {
            t.reporters.push(r.org_name.clone());
        }
        if !t.policy_types.contains(&r.policy_type) && t.policy_types.len() < 10 {
            t.policy_types.push(r.policy_type.clone());
        }
        let details: serde_json::Value = serde_json::from_str(&r.details).unwrap_or_default();
        let Some(list) = details["failure_details"].as_array() else {
            continue;
        };
        for d in list.iter().take(1000) {
            let kind = d["result-type"].as_str().unwrap_or("").to_string();
            let n = d["failed-session-count"].as_u64().unwrap_or(0);
            let f = match t.failures.iter_mut().position(|f| f.result_type == kind) {
                Some(i) => &mut t.failures[i],
                None if t.failures.len() < 100 => {
                    t.failures.push(TlsFailure {
                        result_type: kind,
                        ..TlsFailure::default()
                    });
                    let last = t.failures.len() - 1;
                    &mut t.failures[last]
                }
                None => continue,
            };
            f.sessions = f.sessions.saturating_add(n);
            if let Some(mx) = d["receiving-mx-hostname"].as_str()
                && !f.mx.iter().any(|m| m == mx)
                && f.mx.len() < 5
            {
                f.mx.push(mx.to_string());
            }
        }
    }
    let mut out: Vec<TlsSummary> = by.into_values().collect();
    for t in &mut out {
        t.failures.sort_by(|a, b| {
            b.sessions
                .cmp(&a.sessions)
                .then(a.result_type.cmp(&b.result_type))
        });
        t.failures.truncate(20);
    }
    out.sort_by(|a, b| b.failed.cmp(&a.failed).then(a.domain.cmp(&b.domain)));
    out
}

/// One policy domain.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DomainSummary {
    /// The policy domain.
    pub domain: String,
    /// The published `p`: from DNS when it could be read (advise), else as the newest
    /// report saw it.
    pub policy: Option<String>,
    /// Where `policy` comes from: `dns` or `reports`.
    pub policy_source: &'static str,
    /// Aggregate reports.
    pub reports: u64,
    /// Messages.
    pub messages: u64,
    /// Messages that passed DMARC (aligned DKIM or SPF).
    pub dmarc_pass: u64,
    /// Messages with aligned DKIM pass.
    pub dkim_aligned_pass: u64,
    /// Messages with aligned SPF pass.
    pub spf_aligned_pass: u64,
    /// Messages by disposition (`none`, `quarantine`, `reject`).
    pub disposition: BTreeMap<String, u64>,
    /// Who reported, the most messages first.
    pub reporters: Vec<Reporter>,
    /// Sending sources, failing ones first: the first
    /// [`monban_store::MAX_SUMMARY_SOURCES`].
    pub sources: Vec<Source>,
    /// Sources past those (the least failing mail): counted in the domain's totals, not
    /// listed. Left out of the JSON when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub sources_left_out: u64,
    /// Of `sources_left_out`, those that sent mail failing DMARC (the advice counts
    /// them, and their failing mail, as unknown).
    #[serde(skip)]
    pub failing_sources_left_out: u64,
    /// The sources that look like forwarders (their IPs).
    pub forwarders: Vec<String>,
}

/// One reporter.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Reporter {
    /// `org_name`.
    pub org_name: String,
    /// Reports.
    pub reports: u64,
    /// Messages.
    pub messages: u64,
}

/// One sending IP.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Source {
    /// The IP.
    pub ip: String,
    /// Messages.
    pub messages: u64,
    /// Messages that passed DMARC.
    pub dmarc_pass: u64,
    /// Messages that failed DMARC.
    pub dmarc_fail: u64,
    /// Aligned DKIM passes.
    pub dkim_aligned_pass: u64,
    /// Aligned SPF passes.
    pub spf_aligned_pass: u64,
    /// The reverse DNS name, when it resolves back to the IP.
    pub ptr: Option<String>,
    /// The organizational domain of `ptr`.
    pub org_domain: Option<String>,
    /// Looks like a forwarder (DKIM passes unaligned while SPF fails; ARC or a
    /// forwarding override reason).
    pub forwarder: bool,
    /// SPF results: (domain, result, messages).
    pub spf: Vec<(String, String, u64)>,
    /// DKIM results: (domain, selector, result, messages).
    pub dkim: Vec<(String, String, String, u64)>,
    /// Override reasons given by reporters.
    pub reasons: Vec<String>,
    /// Whether reverse DNS answered for the address (a confirmed name, or none):
    /// `false` when it was not looked up (`--no-rdns`, past the bounds) or the lookup
    /// failed, and a source without a name may be anyone's.
    #[serde(skip)]
    pub rdns_answered: bool,
}

impl Source {
    fn add(&mut self, g: &SourceGroup) {
        let pass = g.dkim_aligned || g.spf_aligned;
        self.messages = self.messages.saturating_add(g.messages);
        if pass {
            self.dmarc_pass = self.dmarc_pass.saturating_add(g.messages);
        } else {
            self.dmarc_fail = self.dmarc_fail.saturating_add(g.messages);
        }
        if g.dkim_aligned {
            self.dkim_aligned_pass = self.dkim_aligned_pass.saturating_add(g.messages);
        }
        if g.spf_aligned {
            self.spf_aligned_pass = self.spf_aligned_pass.saturating_add(g.messages);
        }
        let reasons: Vec<&str> = g
            .reasons
            .as_deref()
            .map(|r| r.split(',').collect())
            .unwrap_or_default();
        // SPF failed for the policy domain itself (the forwarder's address is not in
        // the author's SPF), not merely absent.
        let related = |a: &str, b: &str| {
            a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}"))
        };
        let spf_failed = matches!(g.spf_result.as_deref(), Some("fail" | "softfail"))
            && g.spf_domain
                .as_deref()
                .is_some_and(|d| related(d, &g.domain));
        if (g.dkim_any_pass && !g.dkim_aligned && spf_failed)
            || reasons.iter().any(|r| {
                matches!(
                    *r,
                    "arc" | "forwarded" | "trusted_forwarder" | "mailing_list"
                )
            })
        {
            self.forwarder = true;
        }
        for r in reasons {
            if !self.reasons.iter().any(|x| x == r) && self.reasons.len() < 20 {
                self.reasons.push(r.to_string());
            }
        }
        if let (Some(d), Some(r)) = (&g.spf_domain, &g.spf_result) {
            bump3(&mut self.spf, d, r, g.messages);
        }
        if let (Some(d), Some(r)) = (&g.dkim_domain, &g.dkim_result) {
            let s = g.dkim_selector.clone().unwrap_or_default();
            let len = self.dkim.len();
            match self
                .dkim
                .iter_mut()
                .find(|x| x.0 == *d && x.1 == s && x.2 == *r)
            {
                Some(x) => x.3 = x.3.saturating_add(g.messages),
                None if len < 50 => {
                    self.dkim.push((d.clone(), s, r.clone(), g.messages));
                }
                None => {}
            }
        }
    }
}

fn bump3(v: &mut Vec<(String, String, u64)>, a: &str, b: &str, n: u64) {
    let len = v.len();
    match v.iter_mut().find(|x| x.0 == a && x.1 == b) {
        Some(x) => x.2 = x.2.saturating_add(n),
        None if len < 50 => v.push((a.to_string(), b.to_string(), n)),
        None => {}
    }
}

/// The summary of `name`, added empty when new.
fn domain_entry<'a>(
    domains: &'a mut BTreeMap<String, DomainSummary>,
    name: &str,
) -> &'a mut DomainSummary {
    domains
        .entry(name.to_owned())
        .or_insert_with(|| DomainSummary {
            domain: name.to_owned(),
            ..DomainSummary::default()
        })
}

/// Folds the store's groups into the summary (no DNS yet).
pub fn fold(data: &IncomingSummary) -> Summary {
    let mut domains: BTreeMap<String, DomainSummary> = BTreeMap::new();
    let mut newest: HashMap<String, i64> = HashMap::new();
    for r in &data.reporters {
        let d = domain_entry(&mut domains, &r.domain);
        d.reports = d.reports.saturating_add(r.reports);
        d.reporters.push(Reporter {
            org_name: r.org_name.clone(),
            reports: r.reports,
            messages: r.messages,
        });
        let n = newest.entry(r.domain.clone()).or_insert(i64::MIN);
        if r.last_end > *n && r.policy_p.is_some() {
            *n = r.last_end;
            d.policy = r.policy_p.clone();
            // Until DNS says otherwise (`published_policies`): it was empty, which
            // the contract does not name.
            d.policy_source = "reports";
        }
    }
    // The domains' totals count every record; the sources are the first
    // MAX_SUMMARY_SOURCES of each domain.
    for t in &data.totals {
        let d = domain_entry(&mut domains, &t.domain);
        d.messages = d.messages.saturating_add(t.messages);
        d.dmarc_pass = d.dmarc_pass.saturating_add(t.dmarc_pass);
        d.dkim_aligned_pass = d.dkim_aligned_pass.saturating_add(t.dkim_aligned_pass);
        d.spf_aligned_pass = d.spf_aligned_pass.saturating_add(t.spf_aligned_pass);
        let e = d.disposition.entry(t.disposition.clone()).or_insert(0);
        *e = e.saturating_add(t.messages);
    }
    let mut sources: HashMap<(String, String), Source> = HashMap::new();
    for g in &data.sources {
        domain_entry(&mut domains, &g.domain);
        sources
            .entry((g.domain.clone(), g.source_ip.clone()))
            .or_insert_with(|| Source {
                ip: g.source_ip.clone(),
                ..Source::default()
            })
            .add(g);
    }
    for ((domain, _), s) in sources {
        if let Some(d) = domains.get_mut(&domain) {
            d.sources.push(s);
        }
    }
    for (domain, all, failing) in &data.source_counts {
        if let Some(d) = domains.get_mut(domain) {
            d.sources_left_out = all.saturating_sub(d.sources.len() as u64);
            let listed = d.sources.iter().filter(|s| s.dmarc_fail > 0).count() as u64;
            d.failing_sources_left_out = failing.saturating_sub(listed);
        }
    }
    let mut out: Vec<DomainSummary> = domains.into_values().collect();
    for d in &mut out {
        for k in ["none", "quarantine", "reject"] {
            d.disposition.entry(k.to_string()).or_insert(0);
        }
        d.reporters.sort_by(|a, b| {
            b.messages
                .cmp(&a.messages)
                .then(a.org_name.cmp(&b.org_name))
        });
        d.sources.sort_by(|a, b| {
            b.dmarc_fail
                .cmp(&a.dmarc_fail)
                .then(b.messages.cmp(&a.messages))
                .then(a.ip.cmp(&b.ip))
        });
        d.forwarders = d
            .sources
            .iter()
            .filter(|s| s.forwarder)
            .map(|s| s.ip.clone())
            .collect();
    }
    out.sort_by(|a, b| b.messages.cmp(&a.messages).then(a.domain.cmp(&b.domain)));
    Summary {
        domains: out,
        ..Summary::default()
    }
}

/// Reverse DNS lookups of one summary at most (the first sources of each domain).
pub const MAX_RDNS_TOTAL: usize = 2_000;

/// Adds forward-confirmed reverse DNS names to the first `max` sources of each domain
/// (failing sources come first), at most [`MAX_RDNS_TOTAL`] addresses in all, 32 at
/// once, within [`RDNS_DEADLINE`]; [`Summary::rdns_not_looked_up`] counts the
/// addresses left without a lookup.
pub async fn add_reverse_dns(
    summary: &mut Summary,
    resolver: &SharedResolver,
    max: usize,
) -> RdnsStats {
    let psl = PublicSuffixList::bundled();
    let mut ips: Vec<String> = Vec::new();
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for d in &summary.domains {
        for s in d.sources.iter().take(max) {
            if ips.len() >= MAX_RDNS_TOTAL {
                break;
            }
            if seen.insert(&s.ip) {
                ips.push(s.ip.clone());
            }
        }
    }
    let all: std::collections::HashSet<&str> = summary
        .domains
        .iter()
        .flat_map(|d| d.sources.iter().map(|s| s.ip.as_str()))
        .collect();
    let mut names: HashMap<String, String> = HashMap::new();
    let mut answered: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut stats = RdnsStats {
        asked: ips.len(),
        left_out: all.len() - ips.len(),
        ..RdnsStats::default()
    };
    let deadline = tokio::time::Instant::now() + RDNS_DEADLINE;
    for chunk in ips.chunks(32) {
        if tokio::time::Instant::now() >= deadline {
            stats.skipped += chunk.len();
            continue;
        }
        let mut set = tokio::task::JoinSet::new();
        for ip in chunk {
            let resolver = resolver.clone();
            let ip = ip.clone();
            set.spawn(async move {
                let name = confirmed_ptr(&resolver, &ip).await;
                (ip, name)
            });
        }
        loop {
            match tokio::time::timeout_at(deadline, set.join_next()).await {
                Ok(Some(Ok((ip, name)))) => match name {
                    Ok(Some(n)) => {
                        answered.insert(ip.clone());
                        names.insert(ip, n);
                    }
                    Ok(None) => {
                        answered.insert(ip);
                    }
                    Err(()) => stats.failed += 1,
                },
                Ok(Some(Err(_))) => stats.failed += 1,
                Ok(None) => break,
                Err(_) => {
                    stats.skipped += set.len();
                    set.abort_all();
                    break;
                }
            }
        }
    }
    for d in &mut summary.domains {
        for s in &mut d.sources {
            s.rdns_answered = answered.contains(&s.ip);
            if let Some(n) = names.get(&s.ip) {
                s.ptr = Some(n.clone());
                s.org_domain = psl.registrable_domain(n);
            }
        }
    }
    summary.rdns_not_looked_up = stats.left_out + stats.skipped;
    stats
}

/// How long all reverse DNS lookups of one summary may take together.
pub const RDNS_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15);

/// What the reverse DNS lookups came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RdnsStats {
    /// Addresses looked up.
    pub asked: usize,
    /// Lookups that failed (timeout, server failure): no answer, not "no name".
    pub failed: usize,
    /// Addresses not looked up in time.
    pub skipped: usize,
    /// Addresses not looked up for the bounds: past the first `max` sources of each
    /// domain, or past [`MAX_RDNS_TOTAL`] in all.
    pub left_out: usize,
}

/// The PTR name of `ip` that resolves back to `ip` (FCrDNS), if any.
async fn confirmed_ptr(resolver: &SharedResolver, ip: &str) -> Result<Option<String>, ()> {
    use monban_dns::DynResolver as _;
    let Ok(addr) = ip.parse::<IpAddr>() else {
        return Ok(None);
    };
    let ptr = match resolver
        .lookup_boxed(&monban_dns::reverse_name(addr), RecordType::Ptr)
        .await
    {
        Ok(a) => a,
        Err(e) if e.is_temporary() => return Err(()),
        Err(_) => return Ok(None),
    };
    for r in ptr.records.iter().take(5) {
        let Record::Ptr(name) = r else { continue };
        let rtype = if addr.is_ipv4() {
            RecordType::A
        } else {
            RecordType::Aaaa
        };
        if let Ok(a) = resolver.lookup_boxed(name, rtype).await {
            let back = a.records.iter().any(|r| match r {
                Record::A(v4) => IpAddr::V4(*v4) == addr,
                Record::Aaaa(v6) => IpAddr::V6(*v6) == addr,
                _ => false,
            });
            if back {
                return Ok(Some(name.clone()));
            }
        }
    }
    Ok(None)
}

/// The share of the mail (percent) from unauthenticated sources whose reverse DNS is
/// unknown from which the next step is not called safe.
pub const UNKNOWN_SHARE: f64 = 2.0;

/// Below this many messages in the period, a "safe" verdict says the data is thin.
pub const MIN_MESSAGES: u64 = 100;

/// The next policy step after `p`.
pub fn next_step(p: Option<&str>) -> Option<&'static str> {
    match p.unwrap_or("none") {
        "reject" => None,
        "quarantine" => Some("reject"),
        _ => Some("quarantine"),
    }
}

/// Advice for one domain.
#[derive(Debug, Clone, Serialize)]
pub struct Advice {
    /// The policy domain.
    pub domain: String,
    /// The published `p` now.
    pub policy: Option<String>,
    /// Where `policy` comes from: `dns` (the record published now) or `reports`.
    pub policy_source: &'static str,
    /// The step advised about (`quarantine` or `reject`), none at `p=reject`.
    pub next: Option<String>,
    /// Messages in the period.
    pub messages: u64,
    /// Whether the next step hurts no legitimate source seen.
    pub safe: bool,
    /// The sources the next step would hurt, the most mail first.
    pub hurt: Vec<Hurt>,
    /// Failing mail nobody authenticated (likely spoofing): what the step is for.
    pub unauthenticated: Unauthenticated,
    /// Forwarders seen (their failures are expected; not counted as hurt).
    pub forwarders: Vec<Hurt>,
    /// The verdict in one sentence (English).
    pub verdict: String,
    /// The verdict in the catalogue's words (any language).
    #[serde(skip)]
    pub verdict_text: Msg,
}

/// One sender the next step would hurt (or a forwarder).
#[derive(Debug, Clone, Serialize)]
pub struct Hurt {
    /// The sender: its organizational domain (from confirmed reverse DNS), else its IP.
    pub sender: String,
    /// Its IPs (at most 20 listed).
    pub ips: Vec<String>,
    /// Messages that failed DMARC.
    pub failing: u64,
    /// Their share of the domain's messages, in percent.
    pub share: f64,
    /// What is wrong: `unaligned_dkim`, `unaligned_spf`, `not_in_spf`, `dkim_broken`,
    /// `forwarder`.
    pub problem: String,
    /// What to do (English).
    pub action: String,
    /// What to do, in the catalogue's words (any language).
    #[serde(skip)]
    pub action_text: Msg,
}

/// Failing mail with no authentication at all.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Unauthenticated {
    /// Sources.
    pub sources: u64,
    /// Messages.
    pub messages: u64,
    /// Share of the domain's messages, in percent.
    pub share: f64,
    /// Of `sources`, those whose reverse DNS is unknown (not looked up, or the lookup
    /// failed): they may be the domain's own servers.
    pub sources_without_reverse_dns: u64,
    /// Their messages.
    pub messages_without_reverse_dns: u64,
}

fn same_org(psl: &PublicSuffixList, a: &str, b: &str) -> bool {
    let a = a.trim_end_matches('.').to_ascii_lowercase();
    let b = b.trim_end_matches('.').to_ascii_lowercase();
    a == b
        || psl
            .registrable_domain(&a)
            .is_some_and(|x| Some(x) == psl.registrable_domain(&b))
}

/// The advice for each domain of a summary (reverse DNS added first, when wanted).
pub fn advise(summary: &Summary) -> Vec<Advice> {
    let psl = PublicSuffixList::bundled();
    summary
        .domains
        .iter()
        .map(|d| advise_domain(&psl, d))
        .collect()
}

fn pct(n: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        (n as f64 * 10_000.0 / total as f64).round() / 100.0
    }
}

fn advise_domain(psl: &PublicSuffixList, d: &DomainSummary) -> Advice {
    let next = next_step(d.policy.as_deref());
    let own = |x: &str| same_org(psl, x, &d.domain);
    // (sender, problem) → (ips, failing, action)
    let mut groups: BTreeMap<(String, String), (Vec<String>, u64, Msg)> = BTreeMap::new();
    let mut forwarders: BTreeMap<(String, String), (Vec<String>, u64, Msg)> = BTreeMap::new();
    let mut unauth = Unauthenticated::default();
    for s in d.sources.iter().filter(|s| s.dmarc_fail > 0) {
        // The sender: its confirmed organizational domain; else the domain it
        // authenticates as (a service's IPs group under it); else its IP.
        let authenticated_as = s
            .dkim
            .iter()
            .find(|(dom, _, r, _)| r == "pass" && !own(dom))
            .map(|x| x.0.clone())
            .or_else(|| {
                s.spf
                    .iter()
                    .find(|(dom, r, _)| r == "pass" && !own(dom))
                    .map(|x| x.0.clone())
            });
        let sender = s
            .org_domain
            .clone()
            .or(authenticated_as)
            .unwrap_or_else(|| s.ip.clone());
        let spf_pass_other = s
            .spf
            .iter()
            .find(|(dom, r, _)| r == "pass" && !own(dom))
            .map(|x| x.0.clone());
        let spf_own_failed = s.spf.iter().any(|(dom, r, _)| r != "pass" && own(dom));
        let dkim_pass_other = s
            .dkim
            .iter()
            .find(|(dom, _, r, _)| r == "pass" && !own(dom))
            .map(|x| x.0.clone());
        let dkim_own_broken = s
            .dkim
            .iter()
            .find(|(dom, _, r, _)| r != "pass" && r != "none" && own(dom))
            .map(|x| (x.0.clone(), x.1.clone()));
        let own_server = s.org_domain.as_deref().is_some_and(own);
        let (problem, action) = if s.forwarder {
            let (problem, action) = ("forwarder", msg!("advice-forwarder"));
            let e = forwarders
                .entry((sender, problem.to_string()))
                .or_insert_with(|| (Vec::new(), 0, action));
            if e.0.len() < 20 {
                e.0.push(s.ip.clone());
            }
            e.1 = e.1.saturating_add(s.dmarc_fail);
            continue;
        } else if let Some(other) = dkim_pass_other {
            (
                "unaligned_dkim",
                msg!("advice-unaligned-dkim", other = &other, domain = &d.domain),
            )
        } else if let Some(other) = spf_pass_other {
            (
                "unaligned_spf",
                msg!("advice-unaligned-spf", other = &other, domain = &d.domain),
            )
        } else if let Some((dom, sel)) = dkim_own_broken {
            (
                "dkim_broken",
                msg!("advice-dkim-broken", d = &dom, s = &sel),
            )
        } else if own_server || (spf_own_failed && s.org_domain.is_some()) {
            (
                "not_in_spf",
                msg!(
                    "advice-not-in-spf",
                    domain = &d.domain,
                    term = format!("ip{}:{}", if s.ip.contains(':') { "6" } else { "4" }, s.ip)
                ),
            )
        } else {
            unauth.sources += 1;
            unauth.messages = unauth.messages.saturating_add(s.dmarc_fail);
            if !s.rdns_answered {
                unauth.sources_without_reverse_dns += 1;
                unauth.messages_without_reverse_dns = unauth
                    .messages_without_reverse_dns
                    .saturating_add(s.dmarc_fail);
            }
            continue;
        };
        let e = groups
            .entry((sender, problem.to_string()))
            .or_insert_with(|| (Vec::new(), 0, action));
        if e.0.len() < 20 {
            e.0.push(s.ip.clone());
        }
        e.1 = e.1.saturating_add(s.dmarc_fail);
    }
    // Failing sources past the listed ones were neither looked up nor classified: they
    // count as unknown (they may be the domain's own servers), with the failing mail
    // the listed sources do not account for.
    let listed_fail = d
        .sources
        .iter()
        .fold(0u64, |a, s| a.saturating_add(s.dmarc_fail));
    let left_fail = d
        .messages
        .saturating_sub(d.dmarc_pass)
        .saturating_sub(listed_fail);
    if d.failing_sources_left_out > 0 || left_fail > 0 {
        unauth.sources = unauth.sources.saturating_add(d.failing_sources_left_out);
        unauth.messages = unauth.messages.saturating_add(left_fail);
        unauth.sources_without_reverse_dns = unauth
            .sources_without_reverse_dns
            .saturating_add(d.failing_sources_left_out);
        unauth.messages_without_reverse_dns = unauth
            .messages_without_reverse_dns
            .saturating_add(left_fail);
    }
    let to_list = |g: BTreeMap<(String, String), (Vec<String>, u64, Msg)>| {
        let mut v: Vec<Hurt> = g
            .into_iter()
            .map(|((sender, problem), (ips, failing, action))| Hurt {
                sender,
                ips,
                failing,
                share: pct(failing, d.messages),
                problem,
                action: action.text(Lang::En),
                action_text: action,
            })
            .collect();
        v.sort_by(|a, b| b.failing.cmp(&a.failing).then(a.sender.cmp(&b.sender)));
        v
    };
    let hurt = to_list(groups);
    let forwarders = to_list(forwarders);
    unauth.share = pct(unauth.messages, d.messages);
    let failing = hurt.iter().fold(0u64, |a, h| a.saturating_add(h.failing));
    // Not safe either when nothing passed (the domain's own mail may be all of what
    // failed: or it sends none, which the owner knows and the reports cannot tell), or
    // when sources nobody authenticated could not be told from the domain's own
    // servers (no reverse DNS answer).
    let nothing_passed = d.dmarc_pass == 0;
    // A few messages from sources left without a lookup (past the first sources, or
    // the dashboard's view without reverse DNS) are the spoofing every domain sees;
    // from [`UNKNOWN_SHARE`] percent on, they could be a server of the domain's own.
    let unknown = pct(unauth.messages_without_reverse_dns, d.messages) >= UNKNOWN_SHARE;
    let safe = hurt.is_empty() && d.messages > 0 && !nothing_passed && !unknown;
    // The share as the English text always wrote it (`{}` of an f64).
    let share = pct(failing, d.messages).to_string();
    let verdict_text = match next {
        _ if d.messages == 0 => msg!("verdict-no-mail", domain = &d.domain),
        Some(step) if hurt.is_empty() && nothing_passed => {
            msg!("verdict-no-pass", domain = &d.domain, step = step)
        }
        Some(step) if hurt.is_empty() && unknown => msg!(
            "verdict-unknown-sources",
            step = step,
            n = unauth.sources_without_reverse_dns,
            share = pct(unauth.messages_without_reverse_dns, d.messages).to_string()
        ),
        None if hurt.is_empty() => msg!("verdict-reject-clean", domain = &d.domain),
        None => msg!(
            "verdict-reject-hurt",
            domain = &d.domain,
            n = hurt.len(),
            share = &share
        ),
        Some(step) if safe && d.messages < MIN_MESSAGES => {
            msg!("verdict-safe-little", step = step, messages = d.messages)
        }
        Some(step) if safe => msg!("verdict-safe", step = step),
        Some("reject") => msg!("verdict-not-yet-reject", n = hurt.len(), share = &share),
        Some(_) => msg!("verdict-not-yet-quarantine", n = hurt.len(), share = &share),
    };
    let verdict = verdict_text.text(Lang::En);
    Advice {
        domain: d.domain.clone(),
        policy: d.policy.clone(),
        policy_source: d.policy_source,
        next: next.map(str::to_string),
        messages: d.messages,
        safe,
        hurt,
        unauthenticated: unauth,
        forwarders,
        verdict,
        verdict_text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use monban_store::ReporterGroup;

    #[test]
    fn every_advice_message_is_in_the_catalogue() {
        use monban_diag::i18n::catalog;
        let ids = monban_diag::i18n::ids_named_in(include_str!("summary.rs"));
        for id in &ids {
            for lang in Lang::ALL {
                assert!(catalog(lang).has(id), "{id} missing in {}", lang.code());
            }
        }
        let named = ids.len();
        assert!(named >= 12, "{named}");
        // English plural forms as the text always had them.
        let one = msg!("verdict-not-yet-reject", n = 1usize, share = "0.5");
        assert_eq!(
            one.text(Lang::En),
            "not yet: 1 source (0.5% of mail) would be rejected"
        );
        let two = msg!(
            "verdict-reject-hurt",
            domain = "d.example",
            n = 2usize,
            share = "3"
        );
        assert_eq!(
            two.text(Lang::En),
            "d.example is at p=reject, but 2 sources (3% of mail) fail and are rejected"
        );
    }

    /// `domains` domains of `each` sources (distinct addresses).
    fn sources(domains: usize, each: usize) -> Summary {
        Summary {
            domains: (0..domains)
                .map(|d| DomainSummary {
                    domain: format!("d{d}.example"),
                    sources: (0..each)
                        .map(|i| Source {
                            ip: format!("10.{d}.{}.{}", i / 256, i % 256),
                            ..Source::default()
                        })
                        .collect(),
                    ..DomainSummary::default()
                })
                .collect(),
            ..Summary::default()
        }
    }

    /// The first 200 sources of each domain are looked up, 2,000 in all: the rest are
    /// counted in `rdns_not_looked_up`, which the JSON carries when it is not 0.
    #[test]
    fn reverse_dns_bounds_are_counted() {
        let resolver = SharedResolver::new(monban_dns::ZoneResolver::new());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for (domains, each, asked, left) in [
            (10, 200, MAX_RDNS_TOTAL, 0),
            (1, 201, 200, 1),
            (11, 200, MAX_RDNS_TOTAL, 200),
        ] {
            let mut s = sources(domains, each);
            let stats = rt.block_on(add_reverse_dns(&mut s, &resolver, 200));
            assert_eq!(
                (
                    stats.asked,
                    stats.skipped,
                    stats.left_out,
                    s.rdns_not_looked_up
                ),
                (asked, 0, left, left),
                "{domains} x {each}"
            );
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(
                json.contains(&format!(",\"rdns_not_looked_up\":{left}}}")),
                left > 0,
                "{domains} x {each}"
            );
        }
    }

    /// A DNS that answers after `delay`, or never.
    struct Slow(Option<std::time::Duration>);

    impl monban_dns::Resolver for Slow {
        async fn lookup(&self, name: &str, _: RecordType) -> monban_dns::Lookup {
            match self.0 {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
            Err(monban_dns::LookupError::NxDomain {
                name: name.to_owned(),
                ttl: 0,
            })
        }
    }

    /// The lookups of one summary end at 15 s: 40 addresses in two turns of 32 and 8
    /// are all answered when each turn takes 7 s, the second turn is cut when each
    /// takes 8 s, and with a DNS that never answers all are cut at 15 s. In virtual time.
    #[tokio::test(start_paused = true)]
    async fn reverse_dns_ends_at_the_deadline() {
        for (delay, cut) in [(Some(7), 0), (Some(8), 8), (None, 40)] {
            let resolver = SharedResolver::new(Slow(delay.map(std::time::Duration::from_secs)));
            let mut s = sources(1, 40);
            let start = tokio::time::Instant::now();
            let stats = add_reverse_dns(&mut s, &resolver, 200).await;
            assert_eq!((stats.asked, stats.skipped), (40, cut), "{delay:?}");
            assert_eq!(s.rdns_not_looked_up, cut, "{delay:?}");
            if cut > 0 {
                assert_eq!(start.elapsed(), RDNS_DEADLINE, "{delay:?}");
            }
        }
    }

    /// The policy published now is looked up for the first 1,000 domains, each within
    /// 15 s: the 1,001st, and a domain whose DNS does not answer in time, keep the `p`
    /// their reports state. In virtual time.
    #[tokio::test(start_paused = true)]
    async fn published_policies_are_looked_up_for_1000_domains_15_s_each() {
        struct Dns(monban_dns::ZoneResolver);
        impl monban_dns::Resolver for Dns {
            async fn lookup(&self, name: &str, rtype: RecordType) -> monban_dns::Lookup {
                if name == "_dmarc.d0.example" {
                    std::future::pending::<()>().await;
                }
                self.0.lookup_now(name, rtype)
            }
        }
        let mut zone = monban_dns::ZoneResolver::new();
        for i in 0..=1000 {
            zone.insert(
                &format!("_dmarc.d{i}.example"),
                Record::Txt(monban_dns::Txt::new([b"v=DMARC1; p=reject".to_vec()])),
                300,
            );
        }
        let resolver = SharedResolver::new(Dns(zone));
        let mut s = sources(1001, 0);
        for d in &mut s.domains {
            d.policy = Some("none".into());
            d.policy_source = "reports";
        }
        let start = tokio::time::Instant::now();
        published_policies(&mut s, &resolver).await;
        assert_eq!(start.elapsed(), RDNS_DEADLINE);
        let from_dns: Vec<usize> = (0..1001)
            .filter(|&i| s.domains[i].policy_source == "dns")
            .collect();
        assert_eq!(from_dns, (1..1000).collect::<Vec<_>>());
        assert_eq!(s.domains[1].policy.as_deref(), Some("reject"));
        for i in [0, 1000] {
            assert_eq!(
                (s.domains[i].policy.as_deref(), s.domains[i].policy_source),
                (Some("none"), "reports"),
                "{i}"
            );
        }
    }

    fn g(
        ip: &str,
        n: u64,
        dkim: (&str, &str),
        spf: (&str, &str),
        aligned: (bool, bool),
    ) -> SourceGroup {
        SourceGroup {
            domain: "example.com".into(),
            source_ip: ip.into(),
            header_from: "example.com".into(),
            disposition: "none".into(),
            dkim_aligned: aligned.0,
            spf_aligned: aligned.1,
            dkim_domain: (!dkim.0.is_empty()).then(|| dkim.0.into()),
            dkim_selector: Some("s1".into()),
            dkim_result: (!dkim.0.is_empty()).then(|| dkim.1.into()),
            dkim_any_pass: dkim.1 == "pass",
            spf_domain: Some(spf.0.into()),
            spf_result: Some(spf.1.into()),
            reasons: None,
            messages: n,
        }
    }

    /// 100 messages of 192.0.2.1, DKIM and SPF aligned and passing.
    fn passing_source() -> SourceGroup {
        g(
            "192.0.2.1",
            100,
            ("example.com", "pass"),
            ("example.com", "pass"),
            (true, true),
        )
    }

    fn data(sources: Vec<SourceGroup>) -> IncomingSummary {
        IncomingSummary {
            reporters: vec![ReporterGroup {
                domain: "example.com".into(),
                org_name: "google.com".into(),
                reports: 2,
                messages: sources.iter().map(|s| s.messages).sum(),
                policy_p: Some("none".into()),
                last_end: 100,
            }],
            totals: totals_of(&sources),
            source_counts: vec![(
                "example.com".into(),
                sources
                    .iter()
                    .map(|s| &s.source_ip)
                    .collect::<std::collections::BTreeSet<_>>()
                    .len() as u64,
                sources
                    .iter()
                    .filter(|s| !(s.dkim_aligned || s.spf_aligned))
                    .map(|s| &s.source_ip)
                    .collect::<std::collections::BTreeSet<_>>()
                    .len() as u64,
            )],
            sources,
        }
    }

    /// The store's totals of these groups (per domain and disposition).
    fn totals_of(sources: &[SourceGroup]) -> Vec<monban_store::DomainGroup> {
        let mut by: BTreeMap<(String, String), monban_store::DomainGroup> = BTreeMap::new();
        for g in sources {
            let t = by
                .entry((g.domain.clone(), g.disposition.clone()))
                .or_insert_with(|| monban_store::DomainGroup {
                    domain: g.domain.clone(),
                    disposition: g.disposition.clone(),
                    ..Default::default()
                });
            t.messages += g.messages;
            if g.dkim_aligned || g.spf_aligned {
                t.dmarc_pass += g.messages;
            }
            if g.dkim_aligned {
                t.dkim_aligned_pass += g.messages;
            }
            if g.spf_aligned {
                t.spf_aligned_pass += g.messages;
            }
        }
        by.into_values().collect()
    }

    /// A domain filter that names no domain is refused, not read as every domain (".")
    /// or none ("a..b").
    #[test]
    fn a_filter_that_is_not_a_domain_is_refused() {
        for bad in [
            ".",
            " . ",
            "a..b",
            "..",
            &format!("{}.example", "a".repeat(64)),
        ] {
            let e = filter(Some(bad), None, None, |n| format!("--{n}")).unwrap_err();
            assert!(e.to_string().starts_with("--domain "), "{bad:?}: {e}");
            assert!(
                e.to_string().contains("is not a domain name"),
                "{bad:?}: {e}"
            );
        }
        assert_eq!(
            filter(Some(" "), None, None, |n| n.to_string())
                .unwrap()
                .domain,
            None
        );
        let f = filter(Some("bank"), None, None, |n| n.to_string()).unwrap();
        assert_eq!(f.domain.as_deref(), Some("bank"));
    }

    /// A domain filter in U-labels selects what is stored under its A-labels (it
    /// matched nothing: `report summary --domain 例え.jp` was empty).
    #[test]
    fn a_filter_in_u_labels_is_converted() {
        let f = filter(Some(" 例え.JP. "), None, None, |n| n.to_string()).unwrap();
        assert_eq!(f.domain.as_deref(), Some("xn--r8jz45g.jp"));
        let f = filter(Some("Example.COM."), None, None, |n| n.to_string()).unwrap();
        assert_eq!(f.domain.as_deref(), Some("example.com"));
    }

    #[test]
    fn all_passing_is_safe() {
        let s = fold(&data(vec![g(
            "192.0.2.1",
            100,
            ("example.com", "pass"),
            ("example.com", "pass"),
            (true, true),
        )]));
        let d = &s.domains[0];
        assert_eq!((d.messages, d.dmarc_pass, d.reports), (100, 100, 2));
        // The policy as the reports saw it, said so (it was "").
        assert_eq!(
            (d.policy.as_deref(), d.policy_source),
            (Some("none"), "reports")
        );
        assert_eq!(d.disposition["none"], 100);
        let a = &advise(&s)[0];
        assert!(a.safe);
        assert_eq!(a.verdict, "safe to move to p=quarantine");
    }

    /// Sources past the listed ones (the store lists the first MAX_SUMMARY_SOURCES):
    /// their failing mail is in the totals and counted by the advice as unknown, so a
    /// domain with a million failing sources is never judged by its first thousand.
    #[test]
    fn failing_sources_not_listed_count_as_unknown() {
        let good = passing_source();
        let mut all = vec![good.clone()];
        all.extend((0..4).map(|i| {
            g(
                &format!("203.0.113.{i}"),
                10,
                ("", ""),
                ("other.example", "fail"),
                (false, false),
            )
        }));
        // The store listed only the passing source; four failing ones were left out.
        let mut d = data(all);
        d.sources.truncate(1);
        let mut s = fold(&d);
        assert_eq!(s.domains[0].messages, 140);
        assert_eq!(s.domains[0].sources_left_out, 4);
        for x in &mut s.domains[0].sources {
            x.rdns_answered = true;
        }
        let a = &advise(&s)[0];
        assert!(!a.safe, "{}", a.verdict);
        assert_eq!(
            (a.unauthenticated.sources, a.unauthenticated.messages),
            (4, 40)
        );
        assert_eq!(a.unauthenticated.sources_without_reverse_dns, 4);
    }

    /// Mail nobody authenticated counts as spoofing only where reverse DNS answered
    /// (no name, or one outside the domain): without it, the domain's own unlisted
    /// server looks the same, and the step is not called safe, from 2 % of the mail on.
    /// Nor is it when nothing passed: the failing mail may be all the domain's own.
    #[test]
    fn unknown_sources_and_no_passing_mail_are_not_safe() {
        let own_app_server = g(
            "192.0.2.77",
            40,
            ("", ""),
            ("example.com", "softfail"),
            (false, false),
        );
        let good = passing_source();
        // Reverse DNS not asked (--no-rdns) or failed: cannot tell.
        let s = fold(&data(vec![good.clone(), own_app_server.clone()]));
        let a = &advise(&s)[0];
        assert!(!a.safe);
        assert_eq!(
            (
                a.unauthenticated.sources_without_reverse_dns,
                a.unauthenticated.messages_without_reverse_dns
            ),
            (1, 40)
        );
        assert!(
            a.verdict
                .starts_with("cannot tell yet: 28.57% of the mail comes from 1 source"),
            "{}",
            a.verdict
        );
        // Asked, and the address has no name: counted as spoofing, as before.
        let mut s = fold(&data(vec![good, own_app_server.clone()]));
        for x in &mut s.domains[0].sources {
            x.rdns_answered = true;
        }
        let a = &advise(&s)[0];
        assert!(a.safe, "{}", a.verdict);
        // A message or two from sources left without a lookup: the spoofing every
        // domain sees, no reason to wait.
        let stray = g(
            "233.252.0.9",
            2,
            ("", ""),
            ("example.com", "fail"),
            (false, false),
        );
        let s = fold(&data(vec![
            g(
                "192.0.2.1",
                100,
                ("example.com", "pass"),
                ("example.com", "pass"),
                (true, true),
            ),
            stray,
        ]));
        let a = &advise(&s)[0];
        assert!(a.safe, "{}", a.verdict);
        // Nothing passes at all: not safe, whatever reverse DNS says.
        let mut s = fold(&data(vec![own_app_server]));
        s.domains[0].sources[0].rdns_answered = true;
        let a = &advise(&s)[0];
        assert!(!a.safe);
        assert!(
            a.verdict
                .starts_with("not yet: no reported message from example.com passed DMARC"),
            "{}",
            a.verdict
        );
    }

    #[test]
    fn classifies_failing_sources() {
        let mut s = fold(&data(vec![
            g(
                "192.0.2.1",
                900,
                ("example.com", "pass"),
                ("example.com", "pass"),
                (true, true),
            ),
            // An ESP signing as itself.
            g(
                "198.51.100.7",
                60,
                ("esp.example", "pass"),
                ("bounce.esp.example", "pass"),
                (false, false),
            ),
            // A forwarder: the author's signature survives unaligned? no: DKIM passes
            // for a list domain while SPF fails.
            g(
                "203.0.113.9",
                20,
                ("list.example.org", "pass"),
                ("example.com", "fail"),
                (false, false),
            ),
            // Spoofing: nothing passes, no reverse DNS.
            g(
                "233.252.0.1",
                15,
                ("", ""),
                ("example.com", "fail"),
                (false, false),
            ),
            // The domain's own server missing from SPF (reverse DNS confirmed).
            g(
                "192.0.2.99",
                5,
                ("", ""),
                ("example.com", "softfail"),
                (false, false),
            ),
        ]));
        let own = s.domains[0]
            .sources
            .iter_mut()
            .find(|x| x.ip == "192.0.2.99")
            .unwrap();
        own.ptr = Some("mx2.example.com".into());
        own.org_domain = Some("example.com".into());
        let d = &s.domains[0];
        assert_eq!(d.sources[0].ip, "198.51.100.7", "failing first");
        assert_eq!(d.forwarders, ["203.0.113.9"]);
        let a = &advise(&s)[0];
        assert!(!a.safe);
        let problems: Vec<(&str, &str)> = a
            .hurt
            .iter()
            .map(|h| (h.sender.as_str(), h.problem.as_str()))
            .collect();
        assert_eq!(
            problems,
            [
                ("esp.example", "unaligned_dkim"),
                ("example.com", "not_in_spf")
            ]
        );
        assert_eq!(a.hurt[0].share, 6.0);
        assert!(
            a.hurt[0].action.contains("d=example.com"),
            "{}",
            a.hurt[0].action
        );
        assert!(
            a.hurt[1].action.contains("ip4:192.0.2.99"),
            "{}",
            a.hurt[1].action
        );
        assert_eq!(
            (a.unauthenticated.sources, a.unauthenticated.messages),
            (1, 15)
        );
        assert_eq!(a.forwarders.len(), 1);
        assert_eq!(
            a.verdict,
            "not yet: 2 sources (6.5% of mail) would be quarantined"
        );
    }

    #[test]
    fn at_reject_and_without_data() {
        let mut d = data(vec![g(
            "192.0.2.1",
            10,
            ("example.com", "pass"),
            ("x", "pass"),
            (true, false),
        )]);
        d.reporters[0].policy_p = Some("reject".into());
        let a = &advise(&fold(&d))[0];
        assert_eq!(a.next, None);
        assert!(a.verdict.contains("at p=reject"), "{}", a.verdict);
        assert!(advise(&fold(&IncomingSummary::default())).is_empty());
    }
}
