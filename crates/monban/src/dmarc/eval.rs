//! DMARC evaluation: RFC 9989 §4.4 (identifier alignment), §5.3 (policy evaluation),
//! on top of SPF and DKIM results.

use std::fmt;

use monban_dns::{Resolver, normalize_name};

use super::discovery::{self, Discovered};
use super::record::{AlignmentMode, DmarcRecord, Policy};
use crate::address::parse_mailbox_list;
use crate::dkim::{DkimOutcome, DkimResult};
use crate::message::Headers;
use crate::spf::{SpfIdentity, SpfOutcome, SpfResult};

/// The DMARC result (RFC 8601 §2.7.1 names, RFC 9989 §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DmarcResult {
    /// The author domain publishes no DMARC record.
    None,
    /// An aligned identifier passed.
    Pass,
    /// No aligned identifier passed.
    Fail,
    /// A DNS failure kept DMARC (or an aligned method) from concluding.
    Temperror,
    /// The message cannot be evaluated: no From, several From fields or mailboxes, or an
    /// unparseable From.
    Permerror,
}

impl DmarcResult {
    /// The RFC 8601 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Temperror => "temperror",
            Self::Permerror => "permerror",
        }
    }
}

impl fmt::Display for DmarcResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the receiver does with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// Deliver normally.
    None,
    /// Deliver as suspicious (spam folder, hold).
    Quarantine,
    /// Refuse during the SMTP session.
    Reject,
}

impl Disposition {
    /// The report / A-R name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Quarantine => "quarantine",
            Self::Reject => "reject",
        }
    }
}

impl From<Policy> for Disposition {
    fn from(p: Policy) -> Self {
        match p {
            Policy::None => Self::None,
            Policy::Quarantine => Self::Quarantine,
            Policy::Reject => Self::Reject,
        }
    }
}

/// Why the disposition applied is not the one the policy asks for, named as RFC 9990
/// (the aggregate report's `PolicyOverrideType`) names them, plus RFC 7489's
/// `sampled_out` for `pct`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OverrideKind {
    /// The receiver's own policy (allow lists, a recipient's opt-out, enforcement off).
    LocalPolicy,
    /// A mailing list the receiver knows.
    MailingList,
    /// The domain is testing its policy (`t=y`).
    PolicyTestMode,
    /// A forwarder the receiver trusts (ARC, RFC 8617).
    TrustedForwarder,
    /// RFC 7489 `pct` below 100: the message was not sampled for the policy.
    SampledOut,
    /// Anything else.
    Other,
}

impl OverrideKind {
    /// The report name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LocalPolicy => "local_policy",
            Self::MailingList => "mailing_list",
            Self::PolicyTestMode => "policy_test_mode",
            Self::TrustedForwarder => "trusted_forwarder",
            Self::SampledOut => "sampled_out",
            Self::Other => "other",
        }
    }
}

/// One reason the applied disposition differs from the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyOverride {
    /// What kind.
    pub kind: OverrideKind,
    /// A note for the report's comment.
    pub comment: Option<String>,
}

/// Which tag of the record applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyTag {
    /// `p`: the record is the author domain's own.
    P,
    /// `sp`: an existing subdomain of the record's domain.
    Sp,
    /// `np`: a subdomain that does not exist.
    Np,
}

/// How the organizational domain is found.
#[derive(Debug, Clone, Default)]
pub enum OrgDomainMode {
    /// RFC 9989 §4.10: the DNS tree walk (the default).
    #[default]
    TreeWalk,
    /// RFC 7489 §3.2: the Public Suffix List; policy discovery then asks the author
    /// domain and its organizational domain only (RFC 7489 §6.6.3).
    Psl(std::sync::Arc<super::psl::PublicSuffixList>),
}

/// Settings for DMARC evaluation.
#[derive(Debug, Clone)]
pub struct DmarcConfig {
    /// How organizational domains are found.
    pub org_domain: OrgDomainMode,
    /// The disposition of a message with no author domain to judge (no From, several,
    /// unparseable; or a header that cannot be split into fields): its result is
    /// permerror either way. The default is `Reject`, as the milter's: with `None`, a
    /// spoofer of a p=reject domain needs only a From (or any header line) that does not
    /// parse to have the message delivered.
    pub permerror_disposition: Disposition,
}

impl Default for DmarcConfig {
    fn default() -> Self {
        Self {
            org_domain: OrgDomainMode::TreeWalk,
            permerror_disposition: Disposition::Reject,
        }
    }
}

/// The outcome of DMARC evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcOutcome {
    /// The result.
    pub result: DmarcResult,
    /// The author domain (RFC5322.From), when one was found.
    pub header_from: Option<String>,
    /// The policy that applies (`p`, `sp` or `np` of the record).
    pub policy: Option<Policy>,
    /// Which tag that was.
    pub policy_tag: Option<PolicyTag>,
    /// What to do with the message.
    pub disposition: Disposition,
    /// A passing DKIM signature aligned with the author domain.
    pub dkim_aligned: bool,
    /// The passing SPF MAIL FROM domain aligned with the author domain.
    pub spf_aligned: bool,
    /// The domain whose `_dmarc` record applied.
    pub record_domain: Option<String>,
    /// The record.
    pub record: Option<DmarcRecord>,
    /// The author domain's organizational domain.
    pub organizational_domain: Option<String>,
    /// Why the disposition is milder than the policy (testing, sampling), or why the
    /// result is what it is.
    pub reason: Option<DmarcReason>,
    /// Why the applied disposition is not the policy's (RFC 9990), in the order they
    /// applied: the evaluation adds `policy_test_mode` and `sampled_out`, a receiver
    /// its local decisions.
    pub overrides: Vec<PolicyOverride>,
}

impl DmarcOutcome {
    /// The reason as text (the `Authentication-Results` comment, the JSON `reason`).
    pub fn reason_text(&self) -> Option<String> {
        self.reason.as_ref().map(ToString::to_string)
    }

    /// The outcome for a message whose header cannot be split into fields (or exceeds a
    /// limit): `permerror`, since no From can be found, with the configured
    /// disposition for From problems.
    pub fn malformed(why: &crate::message::HeaderError, config: &DmarcConfig) -> Self {
        Self::error(
            DmarcResult::Permerror,
            DmarcReason::Malformed(why.clone()),
            config.permerror_disposition,
        )
    }

    fn error(result: DmarcResult, reason: DmarcReason, disposition: Disposition) -> Self {
        Self {
            result,
            header_from: None,
            policy: None,
            policy_tag: None,
            disposition,
            dkim_aligned: false,
            spf_aligned: false,
            record_domain: None,
            record: None,
            organizational_domain: None,
            reason: Some(reason),
            overrides: Vec::new(),
        }
    }
}

/// Why a message has no author domain to judge (RFC 9989 §4.4, RFC 5322 §3.6.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FromError {
    /// No From field.
    #[error("the message has no From field")]
    Missing,
    /// Several From fields.
    #[error("the message has {0} From fields")]
    Several(usize),
    /// The From field does not parse as a mailbox list.
    #[error("the From field does not parse: {0}")]
    Unparseable(crate::address::AddressError),
    /// No mailbox (an empty group).
    #[error("the From field has {0} mailboxes")]
    Mailboxes(usize),
    /// Several mailboxes of more than one domain: exempt from DMARC (RFC 9989 "Extract
    /// Author Domain"; several of one domain are judged as that domain).
    #[error("the From field has {0} mailboxes of different domains")]
    Domains(usize),
    /// An address literal instead of a domain.
    #[error("the From address has a domain literal, not a domain")]
    DomainLiteral,
    /// A non-ASCII domain that is not a valid IDN.
    #[error("the From domain is not a valid internationalized domain name")]
    InvalidIdn,
    /// A domain that is not a valid DNS name.
    #[error("the From domain is invalid: {0}")]
    InvalidName(monban_dns::NameError),
    /// A valid name that cannot be an author domain (one label, odd characters).
    #[error("the From domain {0:?} is not a usable domain name")]
    Unusable(String),
}

/// Why DMARC gave its result, or what qualifies it: typed, rendered into the
/// `Authentication-Results` comment and the JSON `reason` by [`fmt::Display`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DmarcReason {
    /// No author domain to judge: `permerror`.
    From(FromError),
    /// The header could not be split into fields: `permerror`.
    Malformed(crate::message::HeaderError),
    /// A DNS failure during discovery: `temperror`.
    Dns(monban_dns::LookupError),
    /// The author domain publishes no record: `none`.
    NoRecord {
        /// The author domain.
        domain: String,
    },
    /// The author domain's records cannot be used, several or one that is not valid,
    /// and no record above it applies: `none` (RFC 7489 §6.6.3 steps 5 and 6; RFC 9989
    /// §4.10.1 walks on past them).
    UnusableRecords {
        /// The author domain.
        domain: String,
    },
    /// The record was read as `p=none` (RFC 7489 §6.6.3: a bad `p` with a valid `rua`).
    Fallback(String),
    /// An aligned check failed for now: `temperror`.
    AlignedTemporary,
    /// The domain tests its policy (`t=y`): one step milder.
    Testing,
    /// RFC 7489 `pct` below 100: one step milder.
    Sampled {
        /// `pct`.
        pct: u8,
    },
    /// DMARC failed, and a trusted ARC sealer recorded that the message passed when it
    /// reached it (RFC 8617 §7.2.1, RFC 9989 §5.3): delivered (`trusted_forwarder`).
    TrustedForwarder {
        /// The sealer (the ARC-Seal `d=`).
        sealer: String,
        /// Its instance.
        instance: u32,
        /// What its AAR recorded (`dmarc=pass`, or the aligned `dkim=pass`).
        recorded: String,
    },
}

impl fmt::Display for DmarcReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::From(e) => write!(f, "{e}"),
            Self::Malformed(e) => write!(f, "the message header is malformed: {e}"),
            Self::Dns(e) => write!(f, "DNS failure during DMARC evaluation: {e}"),
            Self::NoRecord { domain } => write!(f, "{domain} publishes no DMARC record"),
            Self::UnusableRecords { domain } => write!(
                f,
                "{domain} publishes DMARC records that cannot be used (several, or one that is not valid): no policy applies"
            ),
            Self::Fallback(why) => write!(f, "record treated as p=none: {why}"),
            Self::AlignedTemporary => {
                f.write_str("an aligned DKIM or SPF check had a temporary error")
            }
            Self::Testing => f.write_str("the domain is testing its policy (t=y): one step milder"),
            Self::Sampled { pct } => write!(f, "pct={pct} (RFC 7489): one step milder"),
            Self::TrustedForwarder {
                sealer,
                instance,
                recorded,
            } => write!(
                f,
                "trusted ARC sealer {sealer} (i={instance}) recorded {recorded}: policy not applied"
            ),
        }
    }
}

/// The author domain: exactly one From field (RFC 5322 §3.6.2 allows one), whose
/// mailboxes all have one domain (RFC 9989 §4.4, "Extract Author Domain": DMARC proceeds
/// only when the domain is identical for all addresses; several domains are exempt).
/// Two mailboxes of one domain are judged as that domain: taking them for an error let
/// `From: ceo@bank.example, x@bank.example` escape the domain's `p=reject`.
pub fn author_domain(headers: &Headers) -> Result<String, FromError> {
    let froms: Vec<_> = headers.get("from").collect();
    let field = match froms.as_slice() {
        [] => return Err(FromError::Missing),
        [one] => one,
        _ => return Err(FromError::Several(froms.len())),
    };
    let list = parse_mailbox_list(field.value).map_err(FromError::Unparseable)?;
    let mut author: Option<String> = None;
    for mailbox in &list {
        let domain = mailbox_domain(mailbox)?;
        match &author {
            None => author = Some(domain),
            Some(first) if *first == domain => {}
            Some(_) => return Err(FromError::Domains(list.len())),
        }
    }
    author.ok_or(FromError::Mailboxes(0))
}

/// The distinct domains of the one From field's mailboxes, in order, at most `max`:
/// for checks that look at each author (ADSP, RFC 5617 §2.3) where DMARC takes one
/// domain only. Empty when there is not exactly one From field or it cannot be read;
/// a mailbox whose domain cannot be judged (a domain literal) is left out.
pub fn author_domains(headers: &Headers, max: usize) -> Vec<String> {
    let froms: Vec<_> = headers.get("from").collect();
    let [field] = froms.as_slice() else {
        return Vec::new();
    };
    let Ok(list) = parse_mailbox_list(field.value) else {
        return Vec::new();
    };
    let mut domains: Vec<String> = Vec::new();
    for mailbox in &list {
        if domains.len() >= max {
            break;
        }
        if let Ok(d) = mailbox_domain(mailbox)
            && !domains.contains(&d)
        {
            domains.push(d);
        }
    }
    domains
}

/// The domain of one From mailbox, as DMARC judges it.
fn mailbox_domain(mailbox: &crate::address::Mailbox) -> Result<String, FromError> {
    if mailbox.domain_literal {
        return Err(FromError::DomainLiteral);
    }
    // An internationalized domain (SMTPUTF8 mail, RFC 6532) is judged in its A-label
    // form, the form its DNS records are published under (RFC 8616 §4).
    let ascii;
    let written = if mailbox.domain.is_ascii() {
        mailbox.domain.as_str()
    } else {
        ascii = idna::domain_to_ascii(&mailbox.domain).map_err(|_| FromError::InvalidIdn)?;
        ascii.as_str()
    };
    let domain = normalize_name(written).map_err(FromError::InvalidName)?;
    if !domain.contains('.')
        || !domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
    {
        return Err(FromError::Unusable(domain));
    }
    Ok(domain)
}

/// What DMARC knows before the SPF and DKIM results: the author domain, its policy
/// and its organizational domain. [`discover`] computes it (it needs only the header,
/// so it can run while SPF and DKIM do); [`conclude`] finishes the evaluation.
#[derive(Debug, Clone)]
pub enum Discovery {
    /// The evaluation ended already (permerror, temperror, or no DMARC record).
    Done(DmarcOutcome),
    /// A policy applies.
    Policy {
        /// The author domain.
        from: String,
        /// Its organizational domain.
        org: String,
        /// The record.
        record: DmarcRecord,
        /// Where it was found.
        record_domain: String,
        /// The applicable policy.
        policy: Policy,
        /// Which tag it came from.
        tag: PolicyTag,
    },
}

fn temperror(from: &str, e: &monban_dns::LookupError) -> DmarcOutcome {
    let mut o = DmarcOutcome::error(
        DmarcResult::Temperror,
        DmarcReason::Dns(e.clone()),
        Disposition::None,
    );
    o.header_from = Some(from.to_owned());
    o
}

/// The first half of DMARC: author domain, policy discovery (RFC 9989 §4.10) and which
/// of p, sp and np applies (§4.7).
pub async fn discover<R: Resolver>(
    resolver: &R,
    headers: &Headers,
    config: &DmarcConfig,
) -> Discovery {
    discover_for(resolver, author_domain(headers), config).await
}

/// [`discover`] for the author domain [`author_domain`] gave (a caller that needs the
/// author domain for more than DMARC parses the From field once).
pub async fn discover_for<R: Resolver>(
    resolver: &R,
    author: Result<String, FromError>,
    config: &DmarcConfig,
) -> Discovery {
    let from = match author {
        Ok(d) => d,
        Err(why) => {
            return Discovery::Done(DmarcOutcome::error(
                DmarcResult::Permerror,
                DmarcReason::From(why),
                config.permerror_disposition,
            ));
        }
    };
    let org = match org_domain(resolver, &from, &config.org_domain).await {
        Ok(o) => o,
        Err(e) => return Discovery::Done(temperror(&from, &e)),
    };
    let discovered = match &config.org_domain {
        OrgDomainMode::TreeWalk => discovery::discover(resolver, &from).await,
        OrgDomainMode::Psl(_) => discovery::discover_two(resolver, &from, &org).await,
    };
    let Some(Discovered { record, domain }) = (match discovered {
        Ok(d) => d,
        Err(e) => return Discovery::Done(temperror(&from, &e)),
    }) else {
        // Say why when the author domain has records that were passed over (the walk
        // asked for them first: a caching resolver answers again from its cache).
        let unusable = matches!(
            discovery::fetch(resolver, &from).await,
            Ok(discovery::Lookup::Unusable)
        );
        let domain = from.clone();
        let reason = if unusable {
            DmarcReason::UnusableRecords { domain }
        } else {
            DmarcReason::NoRecord { domain }
        };
        let mut o = DmarcOutcome::error(DmarcResult::None, reason, Disposition::None);
        o.header_from = Some(from);
        return Discovery::Done(o);
    };
    // Which tag applies (RFC 9989 §5.3.1 / §4.7 sp, np).
    let (policy, tag) = if domain == from {
        (record.p, PolicyTag::P)
    } else {
        match discovery::domain_exists(resolver, &from).await {
            Ok(true) => (record.subdomain_policy(), PolicyTag::Sp),
            Ok(false) => (record.nonexistent_policy(), PolicyTag::Np),
            Err(e) => return Discovery::Done(temperror(&from, &e)),
        }
    };
    Discovery::Policy {
        from,
        org,
        record,
        record_domain: domain,
        policy,
        tag,
    }
}

/// Evaluates DMARC for a message: [`discover`], then [`conclude`]. `spf` must be the
/// MAIL FROM evaluation (RFC 9989 §4.4.2: SPF aligns through the RFC5321.MailFrom
/// domain; a HELO result never stands in for it); `dkim` is every signature's outcome.
pub async fn evaluate<R: Resolver>(
    resolver: &R,
    headers: &Headers,
    spf: Option<&SpfOutcome<'_>>,
    dkim: &[DkimOutcome],
    config: &DmarcConfig,
) -> DmarcOutcome {
    let d = discover(resolver, headers, config).await;
    conclude(resolver, d, spf, dkim, config).await
}

/// The second half of DMARC: identifier alignment (RFC 9989 §4.4) and the
/// disposition (§5.3).
pub async fn conclude<R: Resolver>(
    resolver: &R,
    discovery: Discovery,
    spf: Option<&SpfOutcome<'_>>,
    dkim: &[DkimOutcome],
    config: &DmarcConfig,
) -> DmarcOutcome {
    let (from, org, record, domain, policy, tag) = match discovery {
        Discovery::Done(o) => return o,
        Discovery::Policy {
            from,
            org,
            record,
            record_domain,
            policy,
            tag,
        } => (from, org, record, record_domain, policy, tag),
    };
    let temp = |e: monban_dns::LookupError| temperror(&from, &e);

    // Alignment (§4.4.1, §4.4.2).
    let mut dkim_aligned = false;
    let mut dkim_temp = false;
    for d in dkim {
        let aligned = match aligns(
            resolver,
            &d.domain,
            &from,
            &org,
            record.adkim,
            &config.org_domain,
        )
        .await
        {
            Ok(a) => a,
            Err(e) => return temp(e),
        };
        if aligned {
            match d.result {
                DkimResult::Pass => dkim_aligned = true,
                DkimResult::Temperror => dkim_temp = true,
                _ => {}
            }
        }
    }
    let mut spf_aligned = false;
    let mut spf_temp = false;
    if let Some(s) = spf.filter(|s| s.identity == SpfIdentity::MailFrom) {
        let aligned = match aligns(
            resolver,
            s.domain(),
            &from,
            &org,
            record.aspf,
            &config.org_domain,
        )
        .await
        {
            Ok(a) => a,
            Err(e) => return temp(e),
        };
        if aligned {
            match s.result {
                SpfResult::Pass => spf_aligned = true,
                SpfResult::Temperror => spf_temp = true,
                _ => {}
            }
        }
    }

    let mut outcome = DmarcOutcome {
        result: DmarcResult::Fail,
        header_from: Some(from.clone()),
        policy: Some(policy),
        policy_tag: Some(tag),
        disposition: Disposition::None,
        dkim_aligned,
        spf_aligned,
        record_domain: Some(domain),
        organizational_domain: Some(org),
        reason: record.fallback.clone().map(DmarcReason::Fallback),
        record: None,
        overrides: Vec::new(),
    };
    if dkim_aligned || spf_aligned {
        outcome.result = DmarcResult::Pass;
    } else if dkim_temp || spf_temp {
        // An aligned identifier might have passed: let the sender retry rather than
        // apply the policy to mail that may be genuine.
        outcome.result = DmarcResult::Temperror;
        outcome.reason = Some(DmarcReason::AlignedTemporary);
    } else {
        outcome.disposition = policy.into();
        // RFC 9989 t=y: apply the next milder policy. RFC 7489 pct<100 is honoured the
        // same way (no random sampling: a message is either judged or it is not).
        let sampled = record.pct.is_some_and(|p| p < 100);
        if (record.testing || sampled) && outcome.disposition != Disposition::None {
            outcome.disposition = match outcome.disposition {
                Disposition::Reject => Disposition::Quarantine,
                _ => Disposition::None,
            };
            let (kind, why) = if record.testing {
                (OverrideKind::PolicyTestMode, DmarcReason::Testing)
            } else {
                (
                    OverrideKind::SampledOut,
                    DmarcReason::Sampled {
                        pct: record.pct.unwrap_or(100),
                    },
                )
            };
            outcome.overrides.push(PolicyOverride {
                kind,
                comment: Some(why.to_string()),
            });
            outcome.reason = Some(why);
        }
    }
    outcome.record = Some(record);
    outcome
}

/// Whether `identifier` aligns with the author domain `from` (whose organizational
/// domain is `org`) under `mode`.
async fn aligns<R: Resolver>(
    resolver: &R,
    identifier: &str,
    from: &str,
    org: &str,
    mode: AlignmentMode,
    org_mode: &OrgDomainMode,
) -> Result<bool, monban_dns::LookupError> {
    let id = identifier.trim_end_matches('.').to_ascii_lowercase();
    if id.is_empty() {
        return Ok(false);
    }
    if id == from {
        return Ok(true);
    }
    if mode == AlignmentMode::Strict {
        return Ok(false);
    }
    // Cheap filter: both must share the organizational domain as a suffix.
    let under_org = id == org || id.ends_with(&format!(".{org}"));
    if !under_org {
        return Ok(false);
    }
    Ok(org_domain(resolver, &id, org_mode).await? == org)
}

/// The organizational domain of `domain` under the configured mode.
async fn org_domain<R: Resolver>(
    resolver: &R,
    domain: &str,
    mode: &OrgDomainMode,
) -> Result<String, monban_dns::LookupError> {
    match mode {
        OrgDomainMode::TreeWalk => discovery::organizational_domain(resolver, domain).await,
        OrgDomainMode::Psl(psl) => Ok(psl
            .registrable_domain(domain)
            .unwrap_or_else(|| domain.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use monban_dns::{Record, Txt, ZoneResolver};
    use std::sync::Arc;

    /// An internationalized From domain is judged in its A-label form (issue 9 review:
    /// it was a permerror, which the milter now rejects by default); one that is not a
    /// valid IDN stays a permerror.
    #[test]
    fn rfc8616_internationalized_from_domain_is_its_a_label() {
        let h = |from: &str| Headers::parse(format!("From: {from}\r\n").as_bytes()).unwrap();
        assert_eq!(
            author_domain(&h("a@\u{4f8b}\u{3048}.jp")).unwrap(),
            "xn--r8jz45g.jp"
        );
        assert_eq!(
            author_domain(&h("B\u{fc}cher <x@B\u{fc}cher.example>")).unwrap(),
            "xn--bcher-kva.example"
        );
        assert!(author_domain(&h("a@\u{fc}\u{200d}\u{fc}..example")).is_err());
    }

    fn spf_pass(domain: &str) -> SpfOutcome<'static> {
        SpfOutcome {
            result: SpfResult::Pass,
            cause: crate::spf::SpfCause::NoMatch,
            identity: SpfIdentity::MailFrom,
            names: crate::spf::SpfNames::new(domain, &format!("b@{domain}"), "h.example"),
            ip: "192.0.2.1".parse().unwrap(),
            explanation: None,
            dns_lookups: 0,
            void_lookups: 0,
        }
    }

    /// The Authentication-Results comment names the tag the applied policy came from:
    /// a trial's subdomain under `p=reject; sp=none` read "p=none".
    #[test]
    fn the_comment_names_sp_and_np_when_they_apply() {
        let zone = crate::testing::example_zone(
            "_dmarc.bank TXT \"v=DMARC1; p=reject; sp=none; np=quarantine\"\n\
             sub.bank A 192.0.2.7\n\
             _dmarc.plain TXT \"v=DMARC1; p=reject\"\nsub.plain A 192.0.2.7\n\
             _dmarc.half TXT \"v=DMARC1; p=reject; sp=none\"\n",
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let comment = |from: &str| {
            let msg = format!("From: a@{from}\r\n\r\nx\r\n");
            let (headers, _) = crate::dkim::split_message(msg.as_bytes()).unwrap();
            let spf = spf_pass("evil.example");
            let o = rt.block_on(evaluate(
                &zone,
                &headers,
                Some(&spf),
                &[],
                &DmarcConfig::default(),
            ));
            crate::authres::ResInfo::from_dmarc(&o)
                .comment
                .unwrap_or_default()
        };
        assert_eq!(comment("bank.example"), "p=reject dis=reject");
        assert_eq!(comment("sub.bank.example"), "sp=none dis=none");
        assert_eq!(comment("gone.bank.example"), "np=quarantine dis=quarantine");
        // Without sp or np in the record, p (or sp) is what applied.
        assert_eq!(comment("sub.plain.example"), "p=reject dis=reject");
        assert_eq!(comment("gone.plain.example"), "p=reject dis=reject");
        assert_eq!(comment("gone.half.example"), "sp=none dis=none");
    }

    /// DMARC for a message of `From: {from}` and no SPF or DKIM result, on `zone`.
    fn judge_from(zone: &ZoneResolver, from: &str) -> DmarcOutcome {
        let msg = format!("From: {from}\r\n\r\nx\r\n");
        let (headers, _) = crate::dkim::split_message(msg.as_bytes()).unwrap();
        let config = DmarcConfig::default();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(evaluate(zone, &headers, None, &[], &config))
    }

    /// RFC 9989 "Extract Author Domain": several mailboxes of one domain are judged as
    /// that domain (a permerror let a spoofer add a second address of the victim's
    /// domain and escape its p=reject); mailboxes of several domains are exempt.
    #[test]
    fn several_mailboxes_of_one_domain_are_that_domain() {
        let zone = crate::testing::example_zone("_dmarc.bank TXT \"v=DMARC1; p=reject\"\n");
        let judge = |from: &str| judge_from(&zone, from);
        for from in [
            "ceo@bank.example, x@bank.example",
            "CEO <ceo@Bank.Example>, x@bank.example",
        ] {
            let o = judge(from);
            assert_eq!(o.result, DmarcResult::Fail, "{from}: {o:?}");
            assert_eq!(o.disposition, Disposition::Reject, "{from}");
            assert_eq!(o.header_from.as_deref(), Some("bank.example"), "{from}");
        }
        let o = judge("ceo@bank.example, x@evil.example");
        assert_eq!(o.result, DmarcResult::Permerror);
        assert_eq!(
            o.reason.map(|r| r.to_string()).unwrap_or_default(),
            "the From field has 2 mailboxes of different domains"
        );
    }

    /// `none` says why: no record, or records that cannot be used (two, or one that is
    /// not valid), which read "publishes no DMARC record" to an administrator who had
    /// published two.
    #[test]
    fn none_says_when_the_records_cannot_be_used() {
        let zone = crate::testing::example_zone(concat!(
            "_dmarc.two TXT \"v=DMARC1; p=reject\"\n",
            "_dmarc.two TXT \"v=DMARC1; p=none\"\n",
            "_dmarc.bad TXT \"v=DMARC1; p=bogus\"\n",
        ));
        let reason = |from: &str| {
            let o = judge_from(&zone, &format!("a@{from}"));
            assert_eq!(o.result, DmarcResult::None, "{from}");
            o.reason.map(|r| r.to_string()).unwrap_or_default()
        };
        assert!(reason("two.example").contains("cannot be used"));
        assert!(reason("bad.example").contains("cannot be used"));
        assert_eq!(
            reason("none.example"),
            "none.example publishes no DMARC record"
        );
    }

    /// RFC 7489 §3.2 (PSL) and RFC 9989 §4.10.2 (tree walk) differ when a domain
    /// publishes psd=y but is not on the Public Suffix List.
    #[test]
    fn org_domain_modes_differ_on_unlisted_psd() {
        let mut zone = ZoneResolver::new();
        for (name, v) in [
            ("_dmarc.bank.example", "v=DMARC1; p=reject; psd=y"),
            ("_dmarc.giant.bank.example", "v=DMARC1; p=reject"),
        ] {
            zone.insert(name, Record::Txt(Txt::new([v.as_bytes().to_vec()])), 300);
        }
        let (headers, _) =
            crate::dkim::split_message(b"From: a@giant.bank.example\r\n\r\nx\r\n").unwrap();
        let spf = spf_pass("mega.bank.example");
        let run = |config: DmarcConfig| {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(evaluate(&zone, &headers, Some(&spf), &[], &config))
        };
        let walk = run(DmarcConfig::default());
        assert!(!walk.spf_aligned);
        assert_eq!(
            walk.organizational_domain.as_deref(),
            Some("giant.bank.example")
        );
        let psl = run(DmarcConfig {
            org_domain: OrgDomainMode::Psl(Arc::new(crate::dmarc::PublicSuffixList::bundled())),
            ..DmarcConfig::default()
        });
        assert!(psl.spf_aligned);
        assert_eq!(psl.organizational_domain.as_deref(), Some("bank.example"));
        assert_eq!(psl.result, DmarcResult::Pass);
    }
}
