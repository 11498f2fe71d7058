//! The domain checker: a green / yellow / red light for a domain's SPF, DMARC, DKIM
//! and ADSP records and MX, each finding with a plain explanation and the record to
//! publish, and a prediction of what receivers decide for a planned sending setup.
//!
//! Everything is read through the [`Resolver`] and judged with the same code that
//! verifies mail (SPF `check_host()`, the DMARC tree walk), so the checker and the
//! verifier cannot disagree.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use monban_dns::{LookupError, Record, RecordType, Resolver};

use monban::dkim::key::{self, KeyFetchError, KeyType};
use monban::dkim::{DkimOutcome, DkimResult};
use monban::dmarc::{self, DmarcConfig, DmarcRecord, DmarcResult, Policy};
use monban::message::Headers;
use monban::spf::record::{Mechanism, Modifier, Qualifier, SpfRecord, Term, is_spf_record};
use monban::spf::{Spf, SpfCause, SpfConfig, SpfIdentity, SpfOutcome, SpfResult};

use crate::i18n::{Lang, Msg};
use crate::msg;

/// A light.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Fine.
    Green,
    /// Works, but could be better or is risky.
    Yellow,
    /// Broken, or lets spoofing through.
    Red,
}

impl Severity {
    /// `green`, `yellow`, `red`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Green => "green",
            Self::Yellow => "yellow",
            Self::Red => "red",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Area {
    /// SPF (RFC 7208).
    Spf,
    /// DMARC (RFC 9989).
    Dmarc,
    /// DKIM keys (RFC 6376).
    Dkim,
    /// ADSP (RFC 5617, historic).
    Adsp,
    /// Mail exchangers.
    Mx,
    /// The planned sending setup.
    Sending,
}

impl Area {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spf => "spf",
            Self::Dmarc => "dmarc",
            Self::Dkim => "dkim",
            Self::Adsp => "adsp",
            Self::Mx => "mx",
            Self::Sending => "sending",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What it is about.
    pub area: Area,
    /// How bad.
    pub severity: Severity,
    /// A plain explanation (English; [`Finding::text`] words it in any language).
    pub message: String,
    /// What to publish or change, when there is something to do (English).
    pub fix: Option<String>,
    /// The explanation as a message of the catalogue.
    pub text: Msg,
    /// The fix as a message of the catalogue.
    pub fix_text: Option<Msg>,
    /// A next step that depends on the tool showing the finding (a command to run, a
    /// form field to fill): each front end words it its own way.
    pub step: Option<NextStep>,
}

/// A next step of a finding, as data: the CLI turns it into flags and commands, a web
/// page into its own words; the checker names no front end's flags.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NextStep {
    /// Generate a key for this selector and publish its record.
    PublishKey {
        /// The signing domain.
        domain: String,
        /// The selector with no key.
        selector: String,
    },
    /// Generate a new key (RSA 2048 bits or more) under a new selector and move to it.
    RotateKey {
        /// The signing domain.
        domain: String,
    },
    /// Say which selectors to check (none was given, or none of the common names
    /// has a key when `discovered`).
    NameSelectors {
        /// Whether the common selector names were tried.
        discovered: bool,
    },
}

/// A planned sending setup.
#[derive(Debug, Clone, Default)]
pub struct SendingSetup {
    /// The IP addresses mail will come from.
    pub ips: Vec<IpAddr>,
    /// The MAIL FROM (envelope) domain; the checked domain when absent.
    pub mail_from_domain: Option<String>,
    /// The DKIM signing domain (d=); none means the mail is not signed.
    pub signing_domain: Option<String>,
}

/// What receivers will decide for the setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendingPrediction {
    /// The SPF result (the worst over the IPs).
    pub spf: SpfResult,
    /// Per IP.
    pub spf_by_ip: Vec<(IpAddr, SpfResult)>,
    /// Per IP, why: the mechanism that matched (and in which record), or the error.
    pub spf_cause_by_ip: Vec<(IpAddr, SpfCause)>,
    /// Whether the DKIM signing domain aligns with the domain.
    pub dkim_aligned: bool,
    /// Whether SPF passes and aligns for every IP.
    pub spf_aligned: bool,
    /// The DMARC result.
    pub dmarc: DmarcResult,
    /// The disposition receivers apply.
    pub disposition: dmarc::Disposition,
}

/// The checker's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// The domain checked.
    pub domain: String,
    /// The worst severity.
    pub status: Severity,
    /// Everything found, in area order.
    pub findings: Vec<Finding>,
    /// The networks the SPF policy authorizes, flattened (includes followed).
    pub spf_networks: Vec<String>,
    /// DNS-querying terms in the SPF evaluation tree (RFC 7208 §4.6.4).
    pub spf_lookups: Option<u32>,
    /// The SPF include tree as walked (the checked domain's record first; empty when
    /// the domain's own record is missing, several or broken).
    pub spf_tree: Vec<SpfNode>,
    /// Where the DMARC record was found.
    pub dmarc_record_domain: Option<String>,
    /// The DMARC record as published there.
    pub dmarc_record: Option<String>,
    /// The prediction, when a setup was given.
    pub sending: Option<SendingPrediction>,
}

/// Selectors tried when discovery is asked for: those of widely used providers and
/// defaults.
pub const COMMON_SELECTORS: &[&str] = &[
    "default",
    "dkim",
    "mail",
    "email",
    "smtp",
    "s1",
    "s2",
    "k1",
    "k2",
    "k3",
    "key1",
    "key2",
    "selector1",
    "selector2",
    "google",
    "20230601",
    "20221208",
    "20210112",
    "20161025",
    "mandrill",
    "mxvault",
    "pm",
    "protonmail",
    "protonmail2",
    "protonmail3",
    "zoho",
    "zmail",
    "everlytickey1",
    "everlytickey2",
    "sig1",
    "s1024",
    "s2048",
    "dk",
    "mta",
    "fm1",
    "fm2",
    "fm3",
    "sendgrid",
    "smtpapi",
    "mailjet",
    "amazonses",
    "mte1",
    "hs1",
    "hs2",
    "cm",
    "krs",
    "ml",
    "scph0618",
    "turbo-smtp",
    "dkim1024",
];

/// Options of a check.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// DKIM selectors to check.
    pub selectors: Vec<String>,
    /// Also try [`COMMON_SELECTORS`].
    pub discover: bool,
    /// A planned sending setup.
    pub sending: Option<SendingSetup>,
    /// The time, for SPF `%{t}`.
    pub now: u64,
    /// DNS block lists to look the sending IPs up in (RFC 5782).
    pub dnsbl: Vec<monban::dnsbl::Zone>,
    /// A private key to compare with what a selector publishes (the `opendkim-testkey`
    /// job): the selector, where the key came from (for the words), and the record it
    /// should have.
    pub private_key: Option<(String, String, monban::dkim::KeyRecord)>,
}

#[derive(Default)]
struct Ctx {
    findings: Vec<Finding>,
}

impl Ctx {
    /// A finding whose next step depends on the front end.
    fn add_step(&mut self, area: Area, severity: Severity, message: Msg, step: NextStep) {
        self.add(area, severity, message, None);
        if let Some(f) = self.findings.last_mut() {
            f.step = Some(step);
        }
    }

    fn add(&mut self, area: Area, severity: Severity, message: Msg, fix: Option<Msg>) {
        self.findings.push(Finding {
            area,
            severity,
            message: message.text(Lang::En),
            fix: fix.as_ref().map(|f| f.text(Lang::En)),
            text: message,
            fix_text: fix,
            step: None,
        });
    }
}

/// The size RFC 7208 §3.4 asks the answer to a domain's TXT query to stay within: what
/// fits in a UDP datagram without EDNS (RFC 1035 §2.3.4).
const SPF_ANSWER_SIZE: usize = 512;

/// The size in bytes of a DNS answer holding `domain`'s TXT records, every one of them
/// (RFC 7208 §3.4: "one has to take into account any other TXT records published at the
/// domain name"): the header, the question, and each record with a compressed owner
/// name (RFC 1035 §4.1), its strings each with their length byte.
fn txt_answer_size(
    domain: &str,
    answer: &Result<std::sync::Arc<monban_dns::Answer>, LookupError>,
) -> usize {
    let question = domain.trim_end_matches('.').len() + 2 + 4;
    let records: usize = match answer {
        Ok(a) => a
            .records
            .iter()
            .filter_map(|r| match r {
                Record::Txt(t) => Some(2 + 10 + t.strings().map(|s| 1 + s.len()).sum::<usize>()),
                _ => None,
            })
            .sum(),
        Err(_) => 0,
    };
    12 + question + records
}

fn txts(answer: &Result<std::sync::Arc<monban_dns::Answer>, LookupError>) -> Vec<Vec<u8>> {
    match answer {
        Ok(a) => a
            .records
            .iter()
            .filter_map(|r| match r {
                Record::Txt(t) | Record::Spf(t) => Some(t.joined()),
                _ => None,
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Checks a domain.
pub async fn check<R: Resolver>(resolver: &R, domain: &str, options: &CheckOptions) -> CheckReport {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let mut ctx = Ctx::default();

    // MX first: whether the domain handles mail at all shapes the advice.
    let mx = resolver.lookup(&domain, RecordType::Mx).await;
    let inbound = inbound_of(resolver, &domain, &mx).await;
    match &mx {
        Ok(_) if inbound == Inbound::Null => ctx.add(
            Area::Mx,
            Severity::Green,
            msg!("mx-null", domain = &domain),
            None,
        ),
        Ok(a) => {
            ctx.add(
                Area::Mx,
                Severity::Green,
                msg!("mx-count", n = a.records.len()),
                None,
            );
            check_mx_hosts(resolver, &domain, a, &mut ctx).await;
        }
        Err(e) if e.is_temporary() => ctx.add(
            Area::Mx,
            Severity::Yellow,
            msg!("mx-lookup-failed", error = e.to_string()),
            None,
        ),
        Err(LookupError::NxDomain { .. }) => ctx.add(
            Area::Mx,
            Severity::Red,
            msg!("domain-nxdomain", domain = &domain),
            None,
        ),
        // RFC 5321 §5.1: without MX, the domain's own address record is the mail host.
        Err(_) if inbound == Inbound::Implicit => ctx.add(
            Area::Mx,
            Severity::Yellow,
            msg!("mx-implicit", domain = &domain),
            Some(msg!("fix-mx-implicit", domain = &domain)),
        ),
        Err(_) => ctx.add(
            Area::Mx,
            Severity::Yellow,
            msg!("mx-none", domain = &domain),
            Some(msg!("fix-mx-none", domain = &domain)),
        ),
    }

    // The sections ask DNS at the same time (SPF then DMARC, whose advice depends on
    // SPF's; DKIM; ADSP; Sender ID), each into its own findings, which are then put in
    // that order: a slow or silent server costs its timeout once per section, not once
    // per query in turn, which took the web checker past its 60 s.
    let spf_then_dmarc = async {
        let mut c = Ctx::default();
        let spf = check_spf(resolver, &domain, inbound, options.now, &mut c).await;
        // The "sends no mail" lock-down (SPF -all, DMARC p=reject) fits a domain that
        // takes no mail and whose SPF record lets no host send; any other gets the safe
        // start.
        let sends_none = !inbound.receives() && spf.3;
        let dmarc = check_dmarc(resolver, &domain, inbound, sends_none, &mut c).await;
        (c, spf, dmarc)
    };
    let (mut dkim, mut adsp, mut sender_id) = (Ctx::default(), Ctx::default(), Ctx::default());
    let (
        (mut spf_dmarc, (networks, lookups, spf_tree, _), (dmarc_record_domain, dmarc_record)),
        (),
        (),
        (),
    ) = tokio::join!(
        spf_then_dmarc,
        check_dkim(resolver, &domain, options, &mut dkim),
        check_adsp(resolver, &domain, &mut adsp),
        check_sender_id(resolver, &domain, &mut sender_id),
    );
    for section in [&mut spf_dmarc, &mut dkim, &mut adsp, &mut sender_id] {
        ctx.findings.append(&mut section.findings);
    }
    let sending = match &options.sending {
        Some(setup) => {
            let p = predict(resolver, &domain, setup, options.now, &mut ctx).await;
            check_sending_ips(resolver, &setup.ips, &options.dnsbl, &mut ctx).await;
            Some(p)
        }
        None => None,
    };

    let status = ctx
        .findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Green);
    CheckReport {
        domain,
        status,
        findings: ctx.findings,
        spf_networks: networks,
        spf_lookups: lookups,
        spf_tree,
        dmarc_record_domain,
        dmarc_record,
        sending,
    }
}

/// How a domain receives mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inbound {
    /// Through its MX records.
    Mx,
    /// No MX: through its own A/AAAA record, the implicit MX (RFC 5321 §5.1).
    Implicit,
    /// A null MX: it takes no mail (RFC 7505).
    Null,
    /// No MX and no address, or the domain does not exist: nowhere.
    Nowhere,
    /// The lookups failed: not known.
    Unknown,
}

impl Inbound {
    /// Whether mail to the domain can be delivered (unknown counts as yes: nothing is
    /// claimed from a failed lookup).
    fn receives(self) -> bool {
        !matches!(self, Self::Null | Self::Nowhere)
    }
}

/// How `domain` receives mail, from its MX lookup `mx` and, without MX, its address
/// records (two more lookups).
async fn inbound_of<R: Resolver>(resolver: &R, domain: &str, mx: &monban_dns::Lookup) -> Inbound {
    match mx {
        Ok(a)
            if a.records
                .iter()
                .all(|r| matches!(r, Record::Mx { exchange, .. } if exchange.is_empty())) =>
        {
            Inbound::Null
        }
        Ok(_) => Inbound::Mx,
        Err(e) if e.is_temporary() => Inbound::Unknown,
        Err(LookupError::NxDomain { .. }) => Inbound::Nowhere,
        Err(_) => {
            let mut unknown = false;
            for rtype in [RecordType::A, RecordType::Aaaa] {
                match resolver.lookup(domain, rtype).await {
                    Ok(_) => return Inbound::Implicit,
                    Err(e) => unknown |= e.is_temporary(),
                }
            }
            if unknown {
                Inbound::Unknown
            } else {
                Inbound::Nowhere
            }
        }
    }
}

/// The hosts of an MX set: a null MX among others (RFC 7505 §3: it must be the only
/// one), an address where a name belongs, an alias (RFC 2181 §10.3, RFC 5321 §5.1), a
/// host with no address; red when no host has one. At most [`MAX_MX_HOSTS`] hosts
/// are looked up, three queries each.
async fn check_mx_hosts<R: Resolver>(
    resolver: &R,
    domain: &str,
    answer: &monban_dns::Answer,
    ctx: &mut Ctx,
) {
    let hosts: Vec<&str> = answer
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Mx { exchange, .. } => Some(exchange.trim_end_matches('.')),
            _ => None,
        })
        .collect();
    if hosts.iter().any(|h| h.is_empty()) {
        ctx.add(
            Area::Mx,
            Severity::Yellow,
            msg!("mx-null-mixed", domain = domain),
            Some(msg!("fix-mx-null-mixed", domain = domain)),
        );
    }
    let mut reachable = 0;
    let mut unknown = false;
    for host in hosts.iter().filter(|h| !h.is_empty()).take(MAX_MX_HOSTS) {
        if host.parse::<IpAddr>().is_ok() {
            ctx.add(
                Area::Mx,
                Severity::Yellow,
                msg!("mx-ip", host = *host),
                Some(msg!("fix-mx-ip", domain = domain, host = *host)),
            );
            continue;
        }
        if resolver.lookup(host, RecordType::Cname).await.is_ok() {
            ctx.add(
                Area::Mx,
                Severity::Yellow,
                msg!("mx-cname", host = *host),
                Some(msg!("fix-mx-cname", host = *host)),
            );
        }
        let mut has_address = false;
        for rtype in [RecordType::A, RecordType::Aaaa] {
            match resolver.lookup(host, rtype).await {
                Ok(_) => has_address = true,
                Err(e) => unknown |= e.is_temporary(),
            }
        }
        if has_address {
            reachable += 1;
        } else if !unknown {
            ctx.add(
                Area::Mx,
                Severity::Yellow,
                msg!("mx-no-address", host = *host),
                None,
            );
        }
    }
    // An address in place of a name is said above; some senders deliver to it.
    let addresses = hosts.iter().any(|h| h.parse::<IpAddr>().is_ok());
    if reachable == 0 && !unknown && !addresses && hosts.iter().any(|h| !h.is_empty()) {
        ctx.add(
            Area::Mx,
            Severity::Red,
            msg!("mx-none-reachable", domain = domain),
            Some(msg!("fix-mx-none-reachable", domain = domain)),
        );
    }
}

/// SPF: one record, syntax, lookups (§4.6.4), qualifiers, flattening.
async fn check_spf<R: Resolver>(
    resolver: &R,
    domain: &str,
    inbound: Inbound,
    now: u64,
    ctx: &mut Ctx,
) -> (Vec<String>, Option<u32>, Vec<SpfNode>, bool) {
    let (answer, obsolete) = tokio::join!(
        resolver.lookup(domain, RecordType::Txt),
        resolver.lookup(domain, RecordType::Spf)
    );
    if let Err(e) = &answer
        && e.is_temporary()
    {
        ctx.add(
            Area::Spf,
            Severity::Yellow,
            msg!("spf-lookup-failed", error = e.to_string()),
            None,
        );
        return (Vec::new(), None, Vec::new(), false);
    }
    let records: Vec<Vec<u8>> = txts(&answer)
        .into_iter()
        .filter(|t| is_spf_record(t))
        .collect();
    if !txts(&obsolete).is_empty() {
        let fix = if records.is_empty() {
            msg!("fix-spf-type-99-only", domain = domain)
        } else {
            msg!("fix-spf-type-99", domain = domain)
        };
        ctx.add(Area::Spf, Severity::Yellow, msg!("spf-type-99"), Some(fix));
    }
    let record = match records.as_slice() {
        [] => {
            // What the owner meant as SPF and receivers do not read as such: the fix is
            // that record, readable, not a new one that would leave its senders out.
            let (text, fix) = match meant_spf(&txts(&answer), &txts(&obsolete)) {
                Some(MeantSpf::NearMiss { published, record }) => (
                    msg!("spf-near-miss", domain = domain, record = published),
                    msg!("fix-spf-near-miss", record = txt_record(domain, &record)),
                ),
                Some(MeantSpf::Type99(record)) => (
                    msg!("spf-none", domain = domain),
                    msg!("fix-spf-from-type-99", record = txt_record(domain, &record)),
                ),
                Some(MeantSpf::SenderId(record)) => (
                    msg!("spf-none", domain = domain),
                    msg!(
                        "fix-spf-from-sender-id",
                        record = txt_record(domain, &record)
                    ),
                ),
                None => (
                    msg!("spf-none", domain = domain),
                    match inbound {
                        Inbound::Mx => msg!("fix-spf-none-mx", domain = domain),
                        Inbound::Implicit => msg!("fix-spf-none-a", domain = domain),
                        _ => msg!("fix-spf-none-no-mail", domain = domain),
                    },
                ),
            };
            ctx.add(Area::Spf, Severity::Red, text, Some(fix));
            return (Vec::new(), None, Vec::new(), false);
        }
        [one] => String::from_utf8_lossy(one).into_owned(),
        many => {
            let merged = merge_spf(many);
            // The merged record is offered only when it would work as published: one
            // that does not parse or makes too many lookups is said as such, and the
            // fix asks for the merge by hand (a fix must never be a known permerror).
            let several = |works: bool| {
                let fix = if works {
                    msg!("fix-spf-several", record = txt_record(domain, &merged))
                } else {
                    msg!("fix-spf-several-by-hand", n = many.len())
                };
                (
                    Area::Spf,
                    Severity::Red,
                    msg!("spf-several", n = many.len()),
                    Some(fix),
                )
            };
            // What the merged record includes or redirects to, walked as a published
            // record's would be: an include without a record (or with two, or one that
            // does not parse), or more lookups in all than receivers make, would make
            // the pasted record a permerror too, and is said now rather than on the next
            // check, once the merged record is out. A term that does not parse in a
            // published record is copied into the merged one: said as such.
            if let Err(e) = SpfRecord::parse(&merged) {
                let (area, severity, text, fix) = several(false);
                ctx.add(area, severity, text, fix);
                ctx.add(
                    Area::Spf,
                    Severity::Red,
                    msg!("spf-merged-syntax", error = e.to_string()),
                    None,
                );
                return (Vec::new(), None, Vec::new(), false);
            }
            let mut walk = Walk::within(SPF_WALK_TIME);
            walk.visit_merged(resolver, domain, merged.clone()).await;
            let lookups = walk
                .tree
                .iter()
                .fold(0u32, |n, node| n.saturating_add(node.lookups));
            let (area, severity, text, fix) = several(lookups <= 10);
            ctx.add(area, severity, text, fix);
            // Receivers stop at 10 DNS-querying terms (RFC 7208 §4.6.4).
            if lookups > 10 {
                ctx.add(
                    Area::Spf,
                    Severity::Red,
                    msg!("spf-merged-lookups", n = lookups, limit = 10u32),
                    None,
                );
            }
            for (severity, problem) in walk.problems {
                ctx.add(Area::Spf, severity, problem, None);
            }
            return (Vec::new(), None, Vec::new(), false);
        }
    };
    let size = txt_answer_size(domain, &answer);
    if size > SPF_ANSWER_SIZE {
        ctx.add(
            Area::Spf,
            Severity::Yellow,
            msg!(
                "spf-big",
                size = size,
                spf = record.len(),
                max = SPF_ANSWER_SIZE
            ),
            Some(msg!("fix-spf-big")),
        );
    }
    let parsed = match SpfRecord::parse(&record) {
        Ok(p) => p,
        Err(e) => {
            ctx.add(
                Area::Spf,
                Severity::Red,
                msg!("spf-syntax", error = e.to_string()),
                Some(msg!("fix-spf-syntax")),
            );
            return (Vec::new(), None, Vec::new(), false);
        }
    };
    // Every fix of the record is the whole record with all its corrections (ptr
    // removed, ending in -all unless it ends in ~all): pasting one fix never undoes
    // another. A fix never takes away the mail a record lets through today: a
    // permissive ending (+all, ?all) becomes ~all, not -all, and a record left with no
    // term that lets a host pass (its only one was ptr, or all) gets mx when the
    // domain has MX, with the words to list every sender before the ending.
    let (fixed, add_senders) = {
        let no_ptr = spf_without(&spf_live(&record), |t| {
            let t = t
                .trim_start_matches(['+', '-', '~', '?'])
                .to_ascii_lowercase();
            t == "ptr" || t.starts_with("ptr:")
        });
        let permissive = parsed.directives().any(|d| {
            d.mechanism == Mechanism::All
                && matches!(d.qualifier(), Qualifier::Pass | Qualifier::Neutral)
        });
        let lets_pass = |r: &str| {
            SpfRecord::parse(r).is_ok_and(|p| {
                p.redirect().is_some()
                    || p.directives()
                        .any(|d| d.qualifier() == Qualifier::Pass && d.mechanism != Mechanism::All)
            })
        };
        if !lets_pass(&no_ptr) {
            // The hosts the domain's mail goes to, which often send it too.
            let base = match inbound {
                Inbound::Mx => format!("{} mx", spf_without(&no_ptr, is_all)),
                Inbound::Implicit => format!("{} a", spf_without(&no_ptr, is_all)),
                _ => no_ptr,
            };
            (spf_ending(&base, "~all"), true)
        } else if permissive {
            (spf_ending(&no_ptr, "~all"), true)
        } else {
            let fixed = match ending_of(&no_ptr).as_deref() {
                Some("~all") | Some("-all") => no_ptr,
                _ if parsed.redirect().is_some() && ending_of(&no_ptr).is_none() => no_ptr,
                _ => spf_ending(&no_ptr, "-all"),
            };
            (fixed, false)
        }
    };
    // One finding however many ptr terms: each carries the whole fixed record, so one
    // per term made a 37 KB record of ptr terms into 60 MB of findings.
    if parsed
        .directives()
        .any(|d| matches!(d.mechanism, Mechanism::Ptr(_)))
    {
        ctx.add(
            Area::Spf,
            Severity::Yellow,
            msg!("spf-ptr"),
            Some(msg!("fix-spf-ptr", record = txt_record(domain, &fixed))),
        );
    }
    // What the whole policy gives a host it does not list, includes and redirect=
    // followed (RFC 7208 §5.2, §6.1): the evaluator's own result for a probe address
    // of each family, not the top record's `all` alone (an included `+all` or a
    // redirect target's `?all` is the policy's real ending). The same evaluation
    // counts the lookups and void lookups as receivers do.
    //
    // Beside them, the walk of the tree for what the evaluation does not report: the
    // networks (for flattening) and the problems of records the probe did not reach.
    let mut walk = Walk::within(SPF_WALK_TIME);
    let (counts, counts6, ()) = tokio::join!(
        probe_counts(resolver, domain, false, now),
        probe_counts(resolver, domain, true, now),
        walk.visit(resolver, domain, 0),
    );
    let end_fix = || {
        let record = txt_record(domain, &fixed);
        if add_senders {
            msg!("fix-spf-add-senders", record = record, domain = domain)
        } else {
            msg!("fix-spf-end-all", record = record)
        }
    };
    let ending = policy_ending(domain, &parsed, &counts, &end_fix);
    let ending6 = policy_ending(domain, &parsed, &counts6, &end_fix);
    let worse6 = match (&ending, &ending6) {
        (Some(e4), Some(e6)) => e6.0 > e4.0,
        (None, Some(_)) => true,
        _ => false,
    };
    if let Some((severity, text, fix)) = ending {
        ctx.add(Area::Spf, severity, text, fix);
    }
    if let Some((severity, text, fix)) = ending6.filter(|_| worse6) {
        ctx.add(Area::Spf, severity, msg!("spf-for-ipv6", what = text), fix);
    }
    // The evaluation goes through the whole policy unless something stops it first: a
    // term that matched the probe before `all`, or an error (a missing include, a DNS
    // failure). Then the count is only a lower bound, and says why; the top record's
    // own terms are one too (eleven includes of names that do not exist stopped at the
    // first, "at least 1", green).
    let complete = match &counts.cause {
        SpfCause::NoMatch | SpfCause::LookupLimit | SpfCause::VoidLookupLimit => true,
        SpfCause::Matched(m) => m.mechanism().ends_with("all"),
        _ => false,
    };
    let lookups = if complete {
        u32::from(counts.dns_lookups)
    } else {
        let own = u32::try_from(own_lookups(&parsed)).unwrap_or(u32::MAX);
        u32::from(counts.dns_lookups).max(own)
    };
    let severity = match lookups {
        0..=7 => Severity::Green,
        8..=10 => Severity::Yellow,
        _ => Severity::Red,
    };
    let shown = if counts.cause == SpfCause::LookupLimit && walk.looped {
        msg!("spf-lookups-loop")
    } else if counts.cause == SpfCause::LookupLimit {
        msg!("spf-lookups-over", limit = COUNT_LIMIT)
    } else if complete {
        msg!("spf-lookups", n = lookups)
    } else {
        msg!(
            "spf-lookups-at-least",
            n = lookups,
            cause = counts.cause.to_string()
        )
    };
    // Over 10: the flattened record (every include resolved to its networks), when
    // the policy can be flattened.
    let fix = (lookups > 10).then(|| {
        if walk.unflattenable || walk.incomplete || walk.networks.is_empty() {
            msg!("fix-spf-lookups")
        } else {
            let mut terms: Vec<String> = aggregate(&walk.networks)
                .into_iter()
                .map(|(ip, prefix)| match ip {
                    IpAddr::V4(ip) if prefix == 32 => format!("ip4:{ip}"),
                    IpAddr::V4(ip) => format!("ip4:{ip}/{prefix}"),
                    IpAddr::V6(ip) if prefix == 128 => format!("ip6:{ip}"),
                    IpAddr::V6(ip) => format!("ip6:{ip}/{prefix}"),
                })
                .collect();
            terms.push(ending_of(&fixed).unwrap_or_else(|| "-all".into()));
            msg!(
                "fix-spf-flattened",
                record = txt_record(domain, &format!("v=spf1 {}", terms.join(" ")))
            )
        }
    });
    ctx.add(Area::Spf, severity, shown, fix);
    // Void lookups for either family: an `a` or `mx` whose hosts have A records only
    // is a void AAAA lookup for every IPv6 client (RFC 7208 §4.6.4, §5.3).
    if counts.void_lookups > 2 {
        ctx.add(
            Area::Spf,
            Severity::Red,
            msg!("spf-void-lookups", n = u32::from(counts.void_lookups)),
            Some(msg!("fix-spf-void-lookups")),
        );
    } else if counts6.void_lookups > 2 {
        ctx.add(
            Area::Spf,
            Severity::Red,
            msg!("spf-void-lookups-v6", n = u32::from(counts6.void_lookups)),
            Some(msg!("fix-spf-void-lookups-v6")),
        );
    }
    for (severity, problem) in walk.problems {
        ctx.add(Area::Spf, severity, problem, None);
    }
    // Wide networks, unless the policy already lets every host of that family pass.
    let everyone = |v6: bool| if v6 { &counts6 } else { &counts }.result == SpfResult::Pass;
    for (term, at, v6) in &walk.wide {
        if !everyone(*v6) {
            ctx.add(
                Area::Spf,
                Severity::Red,
                msg!("spf-wide", mechanism = term, at = at),
                Some(msg!("fix-spf-everyone", mechanism = term, at = at)),
            );
        }
    }
    // A policy that lets every host pass allows every address, whatever it lists.
    if counts.result == SpfResult::Pass {
        walk.networks
            .insert((IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0));
    }
    if counts6.result == SpfResult::Pass {
        walk.networks
            .insert((IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), 0));
    }
    if walk.unflattenable {
        ctx.add(Area::Spf, Severity::Green, msg!("spf-unflattenable"), None);
    }
    // A record that lets no host pass: no `+` term and no redirect=.
    let allows_nothing = parsed.redirect().is_none()
        && parsed
            .directives()
            .all(|d| d.qualifier() != Qualifier::Pass);
    (
        walk.networks
            .iter()
            .map(|(ip, prefix)| format!("{ip}/{prefix}"))
            .collect(),
        Some(lookups),
        walk.tree,
        allows_nothing,
    )
}

/// The networks as the fewest CIDR blocks that cover exactly the same addresses: a
/// network inside another goes, and two halves of one block become the block
/// (192.0.2.0/25 and 192.0.2.128/25 are 192.0.2.0/24). A flattened record of twelve
/// adjacent /24s per include was 2,304 bytes (a trial's), past the 512-byte answer RFC
/// 7208 §3.4 advises. Each family apart; in address order; a network's host bits are
/// cleared first (ip4:192.0.2.7/24 is 192.0.2.0/24, as check_host() reads it).
fn aggregate(networks: &BTreeSet<(IpAddr, u8)>) -> Vec<(IpAddr, u8)> {
    let mut out = Vec::new();
    for v6 in [false, true] {
        let bits: u8 = if v6 { 128 } else { 32 };
        let mask = |prefix: u8| match prefix {
            0 => 0,
            p => u128::MAX << (128 - u32::from(p)) >> (128 - u32::from(bits)),
        };
        let mut nets: Vec<(u128, u8)> = networks
            .iter()
            .filter_map(|&(ip, prefix)| match ip {
                IpAddr::V4(a) if !v6 => Some((u128::from(u32::from(a)), prefix.min(32))),
                IpAddr::V6(a) if v6 => Some((u128::from(a), prefix.min(128))),
                _ => None,
            })
            .map(|(base, prefix)| (base & mask(prefix), prefix))
            .collect();
        nets.sort_unstable();
        // In address order, a containing block comes before what it contains.
        let mut kept: Vec<(u128, u8)> = Vec::with_capacity(nets.len());
        for (base, prefix) in nets {
            if let Some(&(b, p)) = kept.last()
                && p <= prefix
                && base & mask(p) == b
            {
                continue;
            }
            kept.push((base, prefix));
            // Two halves of one block, side by side: the block, which may complete
            // a half of a larger one with the block before it.
            while let [.., (b1, p1), (b2, p2)] = kept[..]
                && p1 == p2
                && p1 > 0
                && b1 & mask(p1 - 1) == b2 & mask(p1 - 1)
                && b1 != b2
            {
                kept.truncate(kept.len() - 2);
                kept.push((b1 & mask(p1 - 1), p1 - 1));
            }
        }
        out.extend(kept.into_iter().map(|(base, prefix)| {
            let ip = if v6 {
                IpAddr::V6(std::net::Ipv6Addr::from(base))
            } else {
                IpAddr::V4(std::net::Ipv4Addr::from(base as u32))
            };
            (ip, prefix)
        }));
    }
    out
}

/// A record its owner meant as the domain's SPF record that receivers do not read as
/// one (RFC 7208 §4.5: a TXT string starting with exactly `v=spf1`).
enum MeantSpf {
    /// A TXT string that is an SPF record once white space or quotation marks around
    /// it are taken away (a common slip of DNS web forms); `record`, so mended.
    NearMiss { published: String, record: String },
    /// An SPF record published only as the retired SPF type (99, RFC 7208 §3.1).
    Type99(String),
    /// A Sender ID record for MAIL FROM (`spf2.0/mfrom`, RFC 4406), which SPF
    /// receivers ignore: its terms as a `v=spf1` record (the syntax is the same).
    SenderId(String),
}

/// The first [`MeantSpf`] among a domain's TXT strings (`txt`) and SPF-type ones
/// (`type99`), for a domain with no SPF record.
fn meant_spf(txt: &[Vec<u8>], type99: &[Vec<u8>]) -> Option<MeantSpf> {
    let near = txt.iter().find_map(|t| {
        let text = String::from_utf8_lossy(t);
        let mended = text
            .trim()
            .trim_matches(['"', '\'', '\u{201c}', '\u{201d}'])
            .trim();
        (mended != text && is_spf_record(mended.as_bytes())).then(|| MeantSpf::NearMiss {
            published: one_line_of(&text),
            record: mended.split_whitespace().collect::<Vec<_>>().join(" "),
        })
    });
    let type99 = || {
        type99
            .iter()
            .find(|t| is_spf_record(t))
            .map(|t| MeantSpf::Type99(String::from_utf8_lossy(t).into_owned()))
    };
    let sender_id = || {
        txt.iter().find_map(|t| {
            let (scopes, at) = monban::spf::record::sender_id_scopes(t)?;
            let terms = String::from_utf8_lossy(t.get(at..)?).into_owned();
            let record = format!("v=spf1{terms}");
            (scopes.mfrom && SpfRecord::parse(&record).is_ok())
                .then_some(MeantSpf::SenderId(record))
        })
    };
    near.or_else(type99).or_else(sender_id)
}

/// A record's text as a finding quotes it: control characters shown as `?`, at most
/// 200 characters.
fn one_line_of(text: &str) -> String {
    let shown: String = text
        .chars()
        .take(200)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > 200 {
        format!("{shown}...")
    } else {
        shown
    }
}

/// The client address the policy is evaluated for: in 240.0.0.0/4, which RFC 1112
/// reserves and no sending host uses, so no policy lists it and `check_host()` goes
/// through every term before `all`, as it does for mail from a host the domain does
/// not list.
const PROBE: std::net::Ipv4Addr = std::net::Ipv4Addr::new(240, 0, 0, 1);
/// The IPv6 probe: in 100::/64, the discard-only prefix of RFC 6666, which no sending
/// host uses. IPv6 clients make `a` and `mx` query AAAA records, so their void lookups
/// (RFC 7208 §4.6.4) are not those of IPv4 clients.
const PROBE6: std::net::Ipv6Addr = std::net::Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 1);
/// The second probe of each family ([`probe_counts`]): in the benchmarking ranges
/// (RFC 2544's 198.18.0.0/15, RFC 5180's 2001:2::/48), which no sending host uses.
const PROBE_B: std::net::Ipv4Addr = std::net::Ipv4Addr::new(198, 18, 0, 1);
const PROBE6_B: std::net::Ipv6Addr = std::net::Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);

/// [`policy_counts`] for a host the policy does not list, of one family: the first
/// probe, unless it passed by a term other than `all` (a record may list the probe's
/// own range: a trial's `ip4:240.0.0.1` was reported as letting every host pass), in
/// which case the second probe, from another reserved range, says what an unlisted
/// host gets. A policy that passes every host passes both.
async fn probe_counts<R: Resolver>(
    resolver: &R,
    domain: &str,
    v6: bool,
    now: u64,
) -> SpfOutcome<'static> {
    let (first, second) = if v6 {
        (IpAddr::V6(PROBE6), IpAddr::V6(PROBE6_B))
    } else {
        (IpAddr::V4(PROBE), IpAddr::V4(PROBE_B))
    };
    let counts = policy_counts(resolver, domain, first, now).await;
    let by_all =
        |o: &SpfOutcome<'_>| matches!(&o.cause, SpfCause::Matched(m) if is_all(m.mechanism()));
    if counts.result != SpfResult::Pass || by_all(&counts) {
        return counts;
    }
    let other = policy_counts(resolver, domain, second, now).await;
    if other.result == SpfResult::Pass {
        counts
    } else {
        other
    }
}

/// Networks wider than these prefixes (a /7 is 33 million IPv4 addresses; a /15
/// holds more IPv6 networks than a regional registry gives its largest members) are
/// more than any one organization sends from: a `+` term listing one lets a large
/// part of the Internet send as the domain.
const WIDE_V4: u8 = 8;
const WIDE_V6: u8 = 16;

/// What the policy gives a host it does not list, from the evaluation for a probe
/// address: the finding, and its fix; `None` when nothing can be said (an error
/// stopped the evaluation of a record that ends in `redirect=`).
fn policy_ending(
    domain: &str,
    parsed: &SpfRecord<'_>,
    o: &SpfOutcome<'_>,
    end_fix: &dyn Fn() -> Msg,
) -> Option<(Severity, Msg, Option<Msg>)> {
    let (result, matched) = match &o.cause {
        SpfCause::Matched(m) => (o.result, Some((m.mechanism(), m.domain()))),
        SpfCause::NoMatch => (o.result, None),
        // An error stopped the evaluation (the lookup and walk findings say which):
        // the top record's own `all` is what there is to judge.
        _ => match parsed.directives().find(|d| d.mechanism == Mechanism::All) {
            Some(d) => {
                let result = match d.qualifier() {
                    Qualifier::Pass => SpfResult::Pass,
                    Qualifier::Neutral => SpfResult::Neutral,
                    Qualifier::SoftFail => SpfResult::Softfail,
                    Qualifier::Fail => SpfResult::Fail,
                };
                (result, Some(("all", domain)))
            }
            None if parsed.redirect().is_some() => return None,
            None => (SpfResult::Neutral, None),
        },
    };
    // The top record's own `all`: the words and fixes for that record.
    let own_all = matched.is_some_and(|(m, at)| is_all(m) && at == domain);
    let elsewhere = |what: Msg| match matched {
        Some((_, at)) if at != domain => msg!("spf-ending-at", what = what, domain = at),
        _ => what,
    };
    Some(match (result, matched) {
        (SpfResult::Pass | SpfResult::Neutral, Some((m, at))) => {
            let pass = result == SpfResult::Pass;
            let severity = if pass {
                Severity::Red
            } else {
                Severity::Yellow
            };
            if own_all {
                let text = if pass {
                    msg!("spf-pass-all")
                } else {
                    msg!("spf-neutral-all")
                };
                (severity, text, Some(end_fix()))
            } else {
                let text = if pass {
                    msg!("spf-pass-everyone", mechanism = m, at = at)
                } else {
                    msg!("spf-neutral-everyone", mechanism = m, at = at)
                };
                let fix = msg!("fix-spf-everyone", mechanism = m, at = at);
                (severity, text, Some(fix))
            }
        }
        // No `all` anywhere: in the top record, or (redirect=) in its target.
        (_, None) if parsed.redirect().is_some() => {
            (Severity::Yellow, msg!("spf-no-all-redirect"), None)
        }
        (_, None) => (Severity::Yellow, msg!("spf-no-all"), Some(end_fix())),
        (SpfResult::Softfail, Some(_)) => {
            (Severity::Green, elsewhere(msg!("spf-softfail-all")), None)
        }
        (SpfResult::Fail, Some(_)) => (Severity::Green, elsewhere(msg!("spf-fail-all")), None),
        _ => return None,
    })
}
/// The lookup and void limits of the counting evaluation: above RFC 7208's 10 and 2,
/// so the whole policy is counted, not only up to where receivers stop.
pub const COUNT_LIMIT: u32 = 50;

/// The evaluator's count of DNS-querying terms and void lookups in `domain`'s policy
/// (RFC 7208 §4.6.4), for mail from `probe` ([`PROBE`], [`PROBE6`]): the same code that verifies mail, so
/// the checker and the verifier cannot disagree on a record.
pub async fn policy_counts<R: Resolver>(
    resolver: &R,
    domain: &str,
    probe: IpAddr,
    now: u64,
) -> SpfOutcome<'static> {
    let spf = Spf::with_config(
        resolver,
        SpfConfig {
            max_dns_terms: COUNT_LIMIT,
            max_void_lookups: COUNT_LIMIT,
            ..SpfConfig::default()
        },
    );
    spf.check_host(
        probe,
        domain,
        &format!("postmaster@{domain}"),
        domain,
        SpfIdentity::MailFrom,
        now,
    )
    .await
    .into_owned()
}

/// A walk of the SPF include tree.
#[derive(Default)]
struct Walk {
    /// In address order: IPv4 before IPv6, each numerically (not as text, which put
    /// 9.9.9.9 after 192.0.2.1).
    networks: BTreeSet<(IpAddr, u8)>,
    /// What is wrong, red, or yellow when it may pass (a DNS failure).
    problems: Vec<(Severity, Msg)>,
    unflattenable: bool,
    /// The include/redirect chain from the checked domain down to the record being
    /// walked: a name already on it is a loop. A name reached twice by different
    /// branches (a diamond) is legal and is walked again, since receivers evaluate it
    /// again and count its lookups again (RFC 7208 §4.6.4).
    path: Vec<String>,
    /// Whether the chain loops somewhere (then the evaluation counts terms until its
    /// limit, and the count says nothing more).
    looped: bool,
    /// Records walked; the walk stops past [`MAX_WALKED_RECORDS`].
    walked: usize,
    /// DNS queries made; the walk stops at [`MAX_WALK_QUERIES`].
    queries: usize,
    /// The problems already recorded.
    problem_set: std::collections::HashSet<String>,
    /// The records walked, as a tree (the checked domain's first).
    tree: Vec<SpfNode>,
    /// The node being walked, and its ancestors.
    stack: Vec<usize>,
    /// How the next node is reached (`include` or `redirect`).
    via_next: &'static str,
    /// `+` terms that allow a network wider than [`WIDE_V4`] or [`WIDE_V6`]: the term,
    /// the domain whose record has it, and whether the network is IPv6.
    wide: Vec<(String, String, bool)>,
    /// Whether some of the tree went unread (the time or query limit, a DNS failure,
    /// MX hosts past [`MAX_MX_HOSTS`]): its networks are then not all the policy allows,
    /// and no flattened record may be offered (it would leave senders out, ending in
    /// -all).
    incomplete: bool,
    /// When the walk stops asking DNS ([`SPF_WALK_TIME`] after it starts), and that
    /// time.
    deadline: Option<(std::time::Instant, std::time::Duration)>,
    /// Whether the term being walked does not let its hosts pass: its qualifier or that
    /// of an include above it is `-`, `~` or `?` (a host matched there gets fail,
    /// softfail or neutral), or it is an `mx` over the 10 MX records receivers
    /// evaluate (permerror, RFC 7208 §4.6.4). Its networks are not listed as allowed.
    not_passing: bool,
}

/// One record of the SPF include tree, as the checker walked it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpfNode {
    /// The domain whose record this is.
    pub domain: String,
    /// How it is reached: `include` or `redirect` (empty for the checked domain).
    pub via: &'static str,
    /// The record, when the domain has exactly one.
    pub record: Option<String>,
    /// DNS-querying terms in this record alone (RFC 7208 §4.6.4: include, a, mx, ptr,
    /// exists, redirect).
    pub lookups: u32,
    /// What is wrong here.
    pub problem: Option<Msg>,
    /// The records it includes or redirects to (indexes into the tree).
    pub children: Vec<usize>,
}

/// The most SPF records the checker walks for one domain. Receivers stop at 10 DNS
/// lookups (RFC 7208 §4.6.4), so a tree this large is already over the limit; the walk
/// stays bounded however wide the diamonds are.
const MAX_WALKED_RECORDS: usize = 60;
/// The deepest include/redirect chain walked.
const MAX_WALK_DEPTH: usize = 12;

/// The most DNS queries one walk makes (a record of thousands of `mx:` terms would
/// otherwise cost thousands of queries per record walked).
const MAX_WALK_QUERIES: usize = 200;
/// The most MX hosts of one `mx` term looked up (more is a permerror anyway, §4.6.4).
const MAX_MX_HOSTS: usize = 10;
/// The most wide networks reported.
const MAX_WIDE: usize = 8;
/// How long the walk may wait for DNS in all: as long as one SPF evaluation may
/// (RFC 7208 §4.6.4, [`SpfConfig::time_limit`]); a tree of silent servers otherwise
/// held a check for [`MAX_WALKED_RECORDS`] timeouts in turn.
const SPF_WALK_TIME: std::time::Duration = std::time::Duration::from_secs(20);

/// Whether a mechanism allows a network wider than [`WIDE_V4`] / [`WIDE_V6`] (an
/// `a` or `mx` through its prefix lengths): `Some(true)` for IPv6.
fn wide_network(m: &Mechanism<'_>) -> Option<bool> {
    let (v4, v6) = match *m {
        Mechanism::Ip4 { prefix, .. } => (prefix, None),
        Mechanism::Ip6 { prefix, .. } => (None, prefix),
        Mechanism::A { cidr4, cidr6, .. } | Mechanism::Mx { cidr4, cidr6, .. } => (cidr4, cidr6),
        _ => return None,
    };
    if v4.is_some_and(|p| p < WIDE_V4) {
        Some(false)
    } else if v6.is_some_and(|p| p < WIDE_V6) {
        Some(true)
    } else {
        None
    }
}

impl Walk {
    /// Records a problem once, however often the walk meets it, and on the node being
    /// walked.
    fn problem(&mut self, text: Msg) {
        self.problem_of(Severity::Red, text);
    }

    /// [`Walk::problem`] of a severity.
    fn problem_of(&mut self, severity: Severity, text: Msg) {
        if let Some(&i) = self.stack.last()
            && self.tree[i].problem.is_none()
        {
            self.tree[i].problem = Some(text.clone());
        }
        if self.problem_set.insert(text.text(Lang::En)) {
            self.problems.push((severity, text));
        }
    }

    /// One DNS query of the walk, within [`MAX_WALK_QUERIES`]; `None` past it (said
    /// once).
    async fn ask<R: Resolver>(
        &mut self,
        resolver: &R,
        name: &str,
        rtype: RecordType,
    ) -> Option<monban_dns::Lookup> {
        if self.queries >= MAX_WALK_QUERIES {
            self.problem(msg!("spf-walk-queries", max = MAX_WALK_QUERIES));
            self.incomplete = true;
            return None;
        }
        // Checked before each query, as the SPF evaluation's own limit is (no timer:
        // any runtime will do); one query still waits for its answer or its timeout.
        if let Some((deadline, time)) = self.deadline
            && std::time::Instant::now() >= deadline
        {
            self.problem_of(
                Severity::Yellow,
                msg!("spf-walk-slow", seconds = time.as_secs_f64().to_string()),
            );
            self.incomplete = true;
            return None;
        }
        self.queries += 1;
        let answer = resolver.lookup(name, rtype).await;
        // A DNS failure leaves out what the answer would have listed.
        if answer.as_ref().is_err_and(|e| e.is_temporary()) {
            self.incomplete = true;
        }
        Some(answer)
    }

    /// A walk that asks DNS nothing more after `time`.
    fn within(time: std::time::Duration) -> Self {
        Self {
            deadline: Some((std::time::Instant::now() + time, time)),
            ..Self::default()
        }
    }
}

/// The DNS-querying terms of one record that receivers evaluate for a host it does
/// not list: every include, a, mx, ptr and exists before `all` (RFC 7208 §4.6.4, §5.1:
/// mechanisms after `all` are never tested), and redirect= when there is no `all`
/// (§6.1).
fn own_lookups(parsed: &SpfRecord<'_>) -> usize {
    let mut n = 0;
    for term in parsed.terms() {
        match term {
            Term::Directive(d) if matches!(d.mechanism, Mechanism::All) => return n,
            Term::Directive(d) => {
                n += usize::from(matches!(
                    d.mechanism,
                    Mechanism::Include(_)
                        | Mechanism::A { .. }
                        | Mechanism::Mx { .. }
                        | Mechanism::Ptr(_)
                        | Mechanism::Exists(_)
                ));
            }
            Term::Modifier(Modifier::Redirect(_)) if !parsed.has_all() => n += 1,
            Term::Modifier(_) => {}
        }
    }
    n
}

impl Walk {
    fn visit<'a, R: Resolver>(
        &'a mut self,
        resolver: &'a R,
        domain: &'a str,
        depth: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            // The node, under the one being walked; the tree is as bounded as the walk.
            let via = std::mem::take(&mut self.via_next);
            let i = self.tree.len();
            self.tree.push(SpfNode {
                domain: domain.to_owned(),
                via,
                ..SpfNode::default()
            });
            if let Some(&parent) = self.stack.last() {
                self.tree[parent].children.push(i);
            }
            self.stack.push(i);
            if self.path.iter().any(|d| d == domain) {
                self.looped = true;
                self.problem(msg!("spf-walk-loop", domain = domain));
            } else if depth > MAX_WALK_DEPTH {
                self.problem(msg!("spf-walk-deep", max = MAX_WALK_DEPTH, domain = domain));
            } else {
                self.walked += 1;
                if self.walked > MAX_WALKED_RECORDS {
                    self.problem(msg!("spf-walk-records", max = MAX_WALKED_RECORDS));
                } else {
                    self.path.push(domain.to_owned());
                    self.visit_record(resolver, domain, depth).await;
                    self.path.pop();
                }
            }
            self.stack.pop();
        })
    }

    /// Walks the SPF record of one domain of the tree.
    fn visit_record<'a, R: Resolver>(
        &'a mut self,
        resolver: &'a R,
        domain: &'a str,
        depth: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            let Some(answer) = self.ask(resolver, domain, RecordType::Txt).await else {
                return;
            };
            // A DNS failure (SERVFAIL, timeout) is no answer: receivers give temperror
            // while it lasts (RFC 7208 §5.2, §4.4), not permerror.
            if let Err(e) = &answer
                && e.is_temporary()
            {
                self.problem_of(
                    Severity::Yellow,
                    msg!(
                        "spf-walk-dns-failed",
                        domain = domain,
                        error = e.to_string()
                    ),
                );
                return;
            }
            let records: Vec<Vec<u8>> = txts(&answer)
                .into_iter()
                .filter(|t| is_spf_record(t))
                .collect();
            let [record] = records.as_slice() else {
                if depth > 0 {
                    self.problem(msg!("spf-walk-several", domain = domain, n = records.len()));
                }
                return;
            };
            let text = String::from_utf8_lossy(record).into_owned();
            self.visit_text(resolver, domain, text, depth).await;
        })
    }

    /// Walks the policy of `domain` as if `text` were its one SPF record: the record
    /// that merges several ([`merge_spf`]) is not published yet, but what it includes
    /// is, and a broken include would make the pasted record fail as well.
    async fn visit_merged<R: Resolver>(&mut self, resolver: &R, domain: &str, text: String) {
        self.tree.push(SpfNode {
            domain: domain.to_owned(),
            ..SpfNode::default()
        });
        self.stack.push(0);
        self.path.push(domain.to_owned());
        self.walked += 1;
        self.visit_text(resolver, domain, text, 0).await;
        self.path.pop();
        self.stack.pop();
    }

    /// Walks one SPF record's text, of `domain` at `depth` in the tree (a plain future:
    /// the recursion is boxed in [`Self::visit`]).
    async fn visit_text<R: Resolver>(
        &mut self,
        resolver: &R,
        domain: &str,
        text: String,
        depth: usize,
    ) {
        if let Some(&i) = self.stack.last() {
            self.tree[i].record = Some(text.clone());
        }
        let Ok(parsed) = SpfRecord::parse(&text) else {
            self.problem(msg!("spf-walk-syntax", domain = domain));
            return;
        };
        // This record's own DNS-querying terms.
        let lookups = own_lookups(&parsed);
        if let Some(&i) = self.stack.last() {
            self.tree[i].lookups = u32::try_from(lookups).unwrap_or(u32::MAX);
        }
        let mut after_all = false;
        for term in parsed.terms() {
            match term {
                // RFC 7208 §5.1: mechanisms after all are never tested; an include
                // there is never fetched, so it is no problem of the policy.
                Term::Directive(_) if after_all => {
                    self.problem_of(Severity::Yellow, msg!("spf-after-all", domain = domain));
                }
                Term::Directive(d) => {
                    after_all = matches!(d.mechanism, Mechanism::All);
                    // A network listed with -, ~ or ? is not one the policy
                    // allows: listing it as allowed would be wrong.
                    if d.qualifier() != Qualifier::Pass && !matches!(d.mechanism, Mechanism::All) {
                        self.unflattenable = true;
                    }
                    let outer = self.not_passing;
                    self.not_passing |= d.qualifier() != Qualifier::Pass;
                    if !self.not_passing
                        && self.wide.len() < MAX_WIDE
                        && let Some(v6) = wide_network(&d.mechanism)
                    {
                        self.wide.push((d.to_string(), domain.to_owned(), v6));
                    }
                    self.mechanism(resolver, domain, &d.mechanism, depth).await;
                    self.not_passing = outer;
                }
                // RFC 7208 §6.1: a redirect= beside an all is ignored; the owner
                // who wrote it meant the target's senders to pass.
                Term::Modifier(Modifier::Redirect(target)) if parsed.has_all() => {
                    self.problem_of(
                        Severity::Yellow,
                        msg!("spf-redirect-ignored", domain = domain, target = target.0),
                    );
                }
                Term::Modifier(Modifier::Redirect(target)) => {
                    self.follow(resolver, target.0, "redirect", depth).await;
                }
                Term::Modifier(_) => {}
            }
        }
    }

    /// Walks the record an `include:` or `redirect=` names (`via`), one level down; a
    /// target with macros depends on the sender and cannot be walked (nor flattened).
    async fn follow<R: Resolver>(
        &mut self,
        resolver: &R,
        target: &str,
        via: &'static str,
        depth: usize,
    ) {
        if target.contains('%') {
            self.unflattenable = true;
        } else {
            let t = target.trim_end_matches('.').to_ascii_lowercase();
            self.via_next = via;
            self.visit(resolver, &t, depth + 1).await;
        }
    }

    async fn addresses<R: Resolver>(
        &mut self,
        resolver: &R,
        name: &str,
        cidr4: Option<u8>,
        cidr6: Option<u8>,
    ) {
        for rtype in [RecordType::A, RecordType::Aaaa] {
            let Some(answer) = self.ask(resolver, name, rtype).await else {
                return;
            };
            if let Ok(a) = answer
                && !self.not_passing
            {
                for r in &a.records {
                    match r {
                        Record::A(ip) => {
                            self.networks.insert((IpAddr::V4(*ip), cidr4.unwrap_or(32)));
                        }
                        Record::Aaaa(ip) => {
                            self.networks
                                .insert((IpAddr::V6(*ip), cidr6.unwrap_or(128)));
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    async fn mechanism<R: Resolver>(
        &mut self,
        resolver: &R,
        domain: &str,
        m: &Mechanism<'_>,
        depth: usize,
    ) {
        match *m {
            Mechanism::Ip4 { addr, prefix } if !self.not_passing => {
                self.networks
                    .insert((IpAddr::V4(addr), prefix.unwrap_or(32)));
            }
            Mechanism::Ip6 { addr, prefix } if !self.not_passing => {
                self.networks
                    .insert((IpAddr::V6(addr), prefix.unwrap_or(128)));
            }
            Mechanism::Ip4 { .. } | Mechanism::Ip6 { .. } => {}
            Mechanism::A {
                domain: spec,
                cidr4,
                cidr6,
            } => {
                let target = spec.map_or(domain.to_owned(), |s| {
                    s.0.trim_end_matches('.').to_ascii_lowercase()
                });
                if target.contains('%') {
                    self.unflattenable = true;
                } else {
                    self.addresses(resolver, &target, cidr4, cidr6).await;
                }
            }
            Mechanism::Mx {
                domain: spec,
                cidr4,
                cidr6,
            } => {
                let target = spec.map_or(domain.to_owned(), |s| {
                    s.0.trim_end_matches('.').to_ascii_lowercase()
                });
                if target.contains('%') {
                    self.unflattenable = true;
                    return;
                }
                let Some(answer) = self.ask(resolver, &target, RecordType::Mx).await else {
                    return;
                };
                if let Ok(a) = answer {
                    if a.records.len() > 10 {
                        self.problem(msg!("spf-walk-mx", domain = &target, n = a.records.len()));
                    }
                    self.incomplete |= a.records.len() > MAX_MX_HOSTS;
                    let outer = self.not_passing;
                    self.not_passing |= a.records.len() > 10;
                    for r in a.records.iter().take(MAX_MX_HOSTS) {
                        if let Record::Mx { exchange, .. } = r
                            && !exchange.is_empty()
                        {
                            self.addresses(resolver, exchange, cidr4, cidr6).await;
                        }
                    }
                    self.not_passing = outer;
                }
            }
            Mechanism::Include(spec) => {
                self.follow(resolver, spec.0, "include", depth).await;
            }
            Mechanism::Ptr(_) => {
                self.unflattenable = true;
                // The top record's ptr has its own finding, with the record's fix.
                if depth > 0 {
                    self.problem_of(Severity::Yellow, msg!("spf-walk-ptr", domain = domain));
                }
            }
            Mechanism::Exists(_) => self.unflattenable = true,
            Mechanism::All => {}
            // A mechanism added to the protocol crate later: not listed as networks.
            _ => self.unflattenable = true,
        }
    }
}

/// DMARC: where the record is, its policy, reporting.
async fn check_dmarc<R: Resolver>(
    resolver: &R,
    domain: &str,
    inbound: Inbound,
    sends_none: bool,
    ctx: &mut Ctx,
) -> (Option<String>, Option<String>) {
    let found = match dmarc::discovery::discover(resolver, domain).await {
        Ok(f) => f,
        Err(e) => {
            ctx.add(
                Area::Dmarc,
                Severity::Yellow,
                msg!("dmarc-lookup-failed", error = e.to_string()),
                None,
            );
            return (None, None);
        }
    };
    // The records at the domain itself, which receivers discard when there are several
    // or the one does not parse (RFC 7489 §6.6.3; RFC 9989 §4.10 then walks on).
    let own = match &found {
        Some(f) if f.domain == domain => None,
        _ => own_dmarc_discarded(resolver, domain).await,
    };
    let Some(found) = found else {
        let (candidates, message, _) =
            own.unwrap_or_else(|| (Vec::new(), msg!("dmarc-none", domain = domain), false));
        // Reports go to the domain when it takes mail (RFC 7505: a null MX takes none).
        let rua = inbound.receives().then_some(domain);
        let fix = if let ([one], false) = (candidates.as_slice(), sends_none) {
            // An invalid record: the fix keeps what of it is valid (its rua, its p).
            msg!(
                "fix-dmarc-record",
                record = txt_record(
                    &format!("_dmarc.{domain}"),
                    &salvage_dmarc(one, rua, Policy::None)
                )
            )
        } else if !sends_none {
            let record = match rua {
                Some(d) => format!("v=DMARC1; p=none; rua=mailto:dmarc-reports@{d}"),
                None => "v=DMARC1; p=none".to_owned(),
            };
            msg!(
                "fix-dmarc-none",
                record = txt_record(&format!("_dmarc.{domain}"), &record)
            )
        } else {
            msg!(
                "fix-dmarc-none-no-mail",
                record = txt_record(&format!("_dmarc.{domain}"), "v=DMARC1; p=reject")
            )
        };
        ctx.add(Area::Dmarc, Severity::Red, message, Some(fix));
        return (None, None);
    };
    // The tree walk found a parent's record: the domain's own records, discarded, are
    // said first (RFC 7489 receivers do not walk past them and apply no policy).
    if let Some((candidates, message, stops_rfc7489)) = &own {
        // What receivers that walk the tree apply to the domain today (the found
        // record's sp, or its p), or reject when the domain sends no mail: a valid
        // record must not weaken it (a trial's broken record under sp=quarantine was
        // fixed to p=none).
        let today = found.record.sp.unwrap_or(found.record.p);
        let default_p = if sends_none { Policy::Reject } else { today };
        let fix = match candidates.as_slice() {
            [one] => msg!(
                "fix-dmarc-record",
                record = txt_record(
                    &format!("_dmarc.{domain}"),
                    &salvage_dmarc(one, inbound.receives().then_some(domain), default_p)
                )
            ),
            many => msg!("fix-dmarc-several", domain = domain, n = many.len()),
        };
        ctx.add(
            Area::Dmarc,
            Severity::Red,
            if *stops_rfc7489 {
                msg!(
                    "dmarc-own-discarded",
                    what = message.clone(),
                    name = format!("_dmarc.{}", found.domain)
                )
            } else {
                msg!(
                    "dmarc-own-ignored",
                    what = message.clone(),
                    name = format!("_dmarc.{}", found.domain)
                )
            },
            Some(fix),
        );
    }
    let rec = &found.record;
    // Where reports can go: the record's own domain (the organization's, for a record
    // found by the tree walk), when it takes mail (RFC 5321 §5.1, RFC 7505).
    let rua_home = if found.domain == domain {
        inbound.receives()
    } else {
        let mx = resolver.lookup(&found.domain, RecordType::Mx).await;
        inbound_of(resolver, &found.domain, &mx).await.receives()
    }
    .then_some(found.domain.as_str());
    let at = if found.domain == domain {
        msg!("dmarc-at", name = format!("_dmarc.{domain}"))
    } else if own.is_some() {
        msg!(
            "dmarc-at-tree-discarded",
            name = format!("_dmarc.{}", found.domain),
            domain = domain
        )
    } else {
        msg!(
            "dmarc-at-tree",
            name = format!("_dmarc.{}", found.domain),
            domain = domain
        )
    };
    // The record as published, to give each fix as the whole corrected record.
    let owner = format!("_dmarc.{}", found.domain);
    let published = txts(&resolver.lookup(&owner, RecordType::Txt).await)
        .into_iter()
        .map(|t| String::from_utf8_lossy(&t).into_owned())
        .find(|t| DmarcRecord::is_candidate(t.as_bytes()))
        .unwrap_or_else(|| "v=DMARC1; p=none".into());
    // Every fix is the whole record with all its corrections, so that pasting one
    // never undoes another; only the steps that tighten enforcement (p=none to
    // quarantine, ending t=y or a pct under 100) are left to the findings that advise
    // them. What receivers discarded (RFC 7489 §6.3) goes: invalid values, invalid
    // report URIs (the valid ones stay), the removed rf and ri, and pct=100.
    // White space before v=: monban and DKIM's tag-spec read it, RFC 9989's ABNF has
    // none, and strict receivers discard the record.
    if published.starts_with(|c: char| c.is_ascii_whitespace()) {
        ctx.add(
            Area::Dmarc,
            Severity::Yellow,
            msg!("dmarc-leading-space", name = owner.as_str()),
            Some(msg!(
                "fix-dmarc-leading-space",
                record = txt_record(&owner, published.trim_start())
            )),
        );
    }
    let weaker = |p: Policy| (p as u8) < (rec.p as u8);
    let discarded: Vec<&'static str> = rec
        .discarded
        .iter()
        .filter_map(|e| match e {
            dmarc::record::RecordError::Value { tag, .. } => Some(*tag),
            _ => None,
        })
        .collect();
    let pct_partial = rec.pct.filter(|p| *p < 100);
    let fixed = edit_tags(&published, &|t| {
        if rec.sp.is_some_and(weaker) {
            remove_tag(t, "sp");
        }
        if weaker(rec.nonexistent_policy()) {
            set_tag(t, "np", "reject");
        }
        for tag in ["rf", "ri"] {
            remove_tag(t, tag);
        }
        // A tag given twice: receivers take the first.
        let mut seen = std::collections::HashSet::new();
        t.retain(|(k, _)| seen.insert(k.clone()));
        if pct_partial.is_none() {
            remove_tag(t, "pct");
        }
        // Report addresses no receiver can send to (no domain, a bad one, a scheme
        // other than mailto:): dropped.
        for tag in ["rua", "ruf"] {
            let kept = t.iter().find(|(k, _)| k == tag).map(|(_, v)| {
                v.split(',')
                    .map(str::trim)
                    .filter(|u| usable_report_uri(u))
                    .collect::<Vec<_>>()
                    .join(",")
            });
            match kept {
                Some(v) if v.is_empty() => remove_tag(t, tag),
                Some(v) => set_tag(t, tag, &v),
                None => {}
            }
        }
        for tag in &discarded {
            match *tag {
                "rua" | "ruf" => {
                    let kept = t.iter().find(|(k, _)| k == tag).map(|(_, v)| {
                        v.split(',')
                            .filter(|u| dmarc::record::is_valid_report_uri(u))
                            .map(str::trim)
                            .collect::<Vec<_>>()
                            .join(",")
                    });
                    match kept {
                        Some(v) if !v.is_empty() => set_tag(t, tag, &v),
                        _ => remove_tag(t, tag),
                    }
                }
                other => remove_tag(t, other),
            }
        }
        if let (false, Some(home)) = (t.iter().any(|(k, _)| k == "rua"), rua_home) {
            set_tag(t, "rua", &format!("mailto:dmarc-reports@{home}"));
        }
    });
    let fixed_record = txt_record(&owner, &fixed);
    // The policy that applies to the checked domain: p at its own record, sp at a
    // parent's found by the tree walk (RFC 9989 §4.7); t=y and a pct under 100 make
    // receivers apply the next milder one (as monban's own evaluation does).
    // A subdomain that does not exist (no A, AAAA or MX: a name a forger makes up) gets
    // np (RFC 9989 §4.7), as monban's own evaluation gives it; a DNS failure leaves sp.
    let (tag, applies) = if found.domain == domain {
        ("p", rec.p)
    } else if dmarc::discovery::domain_exists(resolver, domain).await == Ok(false) {
        ("np", rec.nonexistent_policy())
    } else {
        ("sp", rec.subdomain_policy())
    };
    let milder = |p: Policy| match p {
        Policy::Reject => Policy::Quarantine,
        _ => Policy::None,
    };
    let effective = if rec.testing || pct_partial.is_some() {
        milder(applies)
    } else {
        applies
    };
    let sev = if effective == Policy::None {
        Severity::Yellow
    } else {
        Severity::Green
    };
    let what = if effective != applies {
        let why = match pct_partial {
            Some(pct) if !rec.testing => format!("pct={pct}"),
            _ => "t=y".to_owned(),
        };
        msg!(
            "dmarc-milder",
            at = at,
            tag = tag,
            policy = applies.to_string(),
            why = why,
            effective = effective.to_string()
        )
    } else {
        match applies {
            Policy::Reject => msg!("dmarc-p-reject", at = at, tag = tag),
            Policy::Quarantine => msg!("dmarc-p-quarantine", at = at, tag = tag),
            Policy::None => msg!("dmarc-p-none", at = at, tag = tag),
        }
    };
    // A record that fell back to p=none is fixed by mending the tag that made it fall
    // back (the owner's p kept), not by the p=none to quarantine step.
    let fix = if rec.fallback.is_some() {
        None
    } else if applies == Policy::None && tag == "p" {
        Some(msg!(
            "fix-dmarc-p-none",
            record = txt_record(
                &owner,
                &edit_tags(&fixed, &|t| set_tag(t, "p", "quarantine"))
            )
        ))
    } else if applies == Policy::None {
        Some(msg!(
            "fix-dmarc-p-none",
            record = txt_record(
                &owner,
                &edit_tags(&fixed, &|t| set_tag(t, "sp", "quarantine"))
            )
        ))
    } else {
        None
    };
    ctx.add(Area::Dmarc, sev, what, fix);
    if let Some(f) = &rec.fallback {
        ctx.add(
            Area::Dmarc,
            Severity::Red,
            msg!("dmarc-fallback", why = f.to_string()),
            Some(msg!(
                "fix-dmarc-record",
                record = txt_record(&owner, &salvage_dmarc(&published, rua_home, Policy::None))
            )),
        );
    }
    if !rec.discarded.is_empty() {
        ctx.add(
            Area::Dmarc,
            Severity::Yellow,
            msg!(
                "dmarc-discarded",
                what = rec
                    .discarded
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Some(msg!("fix-dmarc-record", record = fixed_record.clone())),
        );
    }
    if rec.sp.is_some_and(weaker) {
        ctx.add(
            Area::Dmarc,
            Severity::Yellow,
            msg!(
                "dmarc-sp-weaker",
                sp = rec.subdomain_policy().to_string(),
                p = rec.p.to_string()
            ),
            Some(msg!("fix-dmarc-record", record = fixed_record.clone())),
        );
    }
    if weaker(rec.nonexistent_policy()) {
        ctx.add(
            Area::Dmarc,
            Severity::Yellow,
            msg!(
                "dmarc-np-weaker",
                np = rec.nonexistent_policy().to_string(),
                p = rec.p.to_string()
            ),
            Some(msg!("fix-dmarc-record", record = fixed_record.clone())),
        );
    }
    if rec.testing {
        ctx.add(
            Area::Dmarc,
            Severity::Yellow,
            msg!("dmarc-testing"),
            Some(msg!(
                "fix-dmarc-testing",
                record = txt_record(&owner, &edit_tags(&fixed, &|t| remove_tag(t, "t")))
            )),
        );
    }
    if let Some(pct) = pct_partial {
        ctx.add(
            Area::Dmarc,
            Severity::Yellow,
            msg!("dmarc-pct-partial", pct = u64::from(pct)),
            Some(msg!(
                "fix-dmarc-pct",
                record = txt_record(&owner, &edit_tags(&fixed, &|t| remove_tag(t, "pct")))
            )),
        );
    }
    for (tag, present) in [
        ("pct", rec.pct.is_some() && pct_partial.is_none()),
        ("rf", rec.rf.is_some()),
        ("ri", rec.ri.is_some()),
    ] {
        if present {
            ctx.add(
                Area::Dmarc,
                Severity::Yellow,
                msg!("dmarc-removed-tag", tag = tag),
                Some(msg!("fix-dmarc-record", record = fixed_record.clone())),
            );
        }
    }
    if rec.rua.is_empty() && rua_home.is_some() {
        ctx.add(
            Area::Dmarc,
            Severity::Yellow,
            msg!("dmarc-no-rua"),
            Some(msg!("fix-dmarc-record", record = fixed_record.clone())),
        );
    }
    // External report destinations (RFC 9989 §3.? / RFC 7489 §7.1).
    let org = dmarc::discovery::organizational_domain(resolver, &found.domain)
        .await
        .ok();
    if rec.uris_ignored > 0 {
        ctx.add(
            Area::Dmarc,
            Severity::Yellow,
            msg!(
                "dmarc-too-many-uris",
                n = rec.uris_ignored,
                max = monban::dmarc::record::MAX_REPORT_URIS
            ),
            Some(msg!("fix-dmarc-too-many-uris")),
        );
    }
    for (tag, list) in [("rua", &rec.rua), ("ruf", &rec.ruf)] {
        for uri in list {
            let Some(addr) = uri.mailto() else {
                ctx.add(
                    Area::Dmarc,
                    Severity::Yellow,
                    msg!("dmarc-not-mailto", tag = tag, uri = &uri.uri),
                    None,
                );
                continue;
            };
            if let Some(why) = report_address_problem(&uri.uri) {
                ctx.add(
                    Area::Dmarc,
                    Severity::Red,
                    msg!("dmarc-uri-unusable", tag = tag, uri = &uri.uri, why = why),
                    Some(msg!("fix-dmarc-record", record = fixed_record.clone())),
                );
                continue;
            }
            let Some((_, dest)) = addr.rsplit_once('@') else {
                continue;
            };
            let dest = dest.to_ascii_lowercase();
            let dest_org = dmarc::discovery::organizational_domain(resolver, &dest)
                .await
                .ok();
            if dest_org.is_some() && dest_org == org {
                continue;
            }
            let name = format!("{}._report._dmarc.{dest}", found.domain);
            let answer = resolver.lookup(&name, RecordType::Txt).await;
            // A DNS failure says nothing either way (RFC 7489 §7.1: the reporter
            // retries or sends nothing while it lasts).
            let (severity, text, fix) = match &answer {
                Err(e) if e.is_temporary() => (
                    Severity::Yellow,
                    msg!(
                        "dmarc-external-unchecked",
                        tag = tag,
                        uri = &uri.uri,
                        error = e.to_string()
                    ),
                    None,
                ),
                _ if txts(&answer).iter().any(|t| t.starts_with(b"v=DMARC1")) => continue,
                _ => (
                    Severity::Red,
                    msg!(
                        "dmarc-external-unauthorized",
                        tag = tag,
                        uri = &uri.uri,
                        dest = &dest
                    ),
                    Some(msg!(
                        "fix-dmarc-external",
                        record = txt_record(&name, "v=DMARC1"),
                        dest = &dest
                    )),
                ),
            };
            ctx.add(Area::Dmarc, severity, text, fix);
        }
    }
    (Some(found.domain), Some(published))
}

/// Whether reports can be sent to a report URI: a valid one (RFC 9989's `dmarc-uri`),
/// `mailto:` (the scheme receivers send reports by, as the `dmarc-not-mailto` finding
/// says; a trial's fix kept `rua=javascript:...` that this finding flagged), with a
/// usable address.
fn usable_report_uri(uri: &str) -> bool {
    let uri = uri.trim();
    dmarc::record::is_valid_report_uri(uri)
        && uri
            .get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("mailto:"))
        && report_address_problem(uri).is_none()
}

/// Why a report URI's `mailto:` address is one no receiver can send reports to (RFC
/// 6068 §2: an addr-spec; RFC 7489 §7.1 needs its domain to look up the authorization
/// record): no `@`, no local part, no domain, an address literal, or a domain that is
/// not a host name (RFC 1123 §2.1). `None` for a usable one, or a URI of another
/// scheme (which has its own finding).
fn report_address_problem(uri: &str) -> Option<Msg> {
    let uri = uri.split_once('!').map_or(uri, |(u, _)| u).trim();
    let addr = uri
        .get(..7)
        .filter(|s| s.eq_ignore_ascii_case("mailto:"))
        .map(|_| &uri[7..])?;
    let addr = addr.split('?').next().unwrap_or(addr);
    let Some((local, dest)) = addr.rsplit_once('@') else {
        return Some(msg!("uri-no-at"));
    };
    if local.is_empty() {
        return Some(msg!("uri-no-local-part"));
    }
    if dest.is_empty() {
        return Some(msg!("uri-no-domain"));
    }
    if dest.starts_with('[') {
        return Some(msg!("uri-address-literal"));
    }
    if dest
        .trim_end_matches('.')
        .split('.')
        .any(|label| label.starts_with('-') || label.ends_with('-'))
    {
        return Some(msg!("uri-hyphen-label"));
    }
    domain_argument("rua", dest).err().map(|e| e.0)
}

/// The records at `_dmarc.{domain}` that look like DMARC records (a `v=DMARC1` first,
/// or anywhere), with why receivers discard them: several, or the one does not parse
/// or is unusable. `None` when there is none.
async fn own_dmarc_discarded<R: Resolver>(
    resolver: &R,
    domain: &str,
) -> Option<(Vec<String>, Msg, bool)> {
    let raw = txts(
        &resolver
            .lookup(&format!("_dmarc.{domain}"), RecordType::Txt)
            .await,
    );
    // The records receivers count (a v=DMARC1 first), then the ones that only look
    // like one (v=DMARC1 elsewhere, v=DMARC10): shown, but never counted as a second
    // record, since receivers discard them (RFC 9989 §4.10.1).
    let (counted, near): (Vec<&Vec<u8>>, Vec<&Vec<u8>>) =
        raw.iter().partition(|t| DmarcRecord::is_candidate(t));
    let near: Vec<&Vec<u8>> = near
        .into_iter()
        .filter(|t| t.windows(8).any(|w| w.eq_ignore_ascii_case(b"v=DMARC1")))
        .collect();
    let shown = |list: &[&Vec<u8>]| -> Vec<String> {
        list.iter()
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .collect()
    };
    // Whether RFC 7489 stops here: a record starting with v=DMARC1 is in the set
    // (step 5, 6); records with v=DMARC1 elsewhere are discarded at step 2, and an
    // empty set goes on to the organizational domain (step 3).
    let stops_rfc7489 = !counted.is_empty();
    let (candidates, message) = match (counted.as_slice(), near.as_slice()) {
        ([], []) => return None,
        ([one], _) | ([], [one]) => (
            shown(&[one]),
            match DmarcRecord::parse(&String::from_utf8_lossy(one)) {
                Err(e) => msg!("dmarc-invalid", domain = domain, error = e.to_string()),
                Ok(_) => msg!("dmarc-unusable", domain = domain),
            },
        ),
        ([], many) => (
            shown(many),
            msg!(
                "dmarc-invalid",
                domain = domain,
                error = dmarc::RecordError::NotDmarc.to_string()
            ),
        ),
        (many, _) => (
            shown(many),
            msg!("dmarc-several", domain = domain, n = many.len()),
        ),
    };
    Some((candidates, message, stops_rfc7489))
}

/// How many selectors' keys the checker asks for at once.
const KEY_FETCHES_AT_ONCE: usize = 16;

/// DKIM keys at the given (and, with discovery, common) selectors.
async fn check_dkim<R: Resolver>(
    resolver: &R,
    domain: &str,
    options: &CheckOptions,
    ctx: &mut Ctx,
) {
    let mut selectors: Vec<String> = options
        .selectors
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let explicit = selectors.len();
    if options.discover {
        selectors.extend(COMMON_SELECTORS.iter().map(|s| (*s).to_owned()));
    }
    let mut found = 0;
    let mut seen = BTreeSet::new();
    let unique: Vec<(usize, &String)> = selectors
        .iter()
        .enumerate()
        .filter(|(_, sel)| seen.insert(sel.as_str()))
        .collect();
    // The verifier's own key fetch: the checker judges the key receivers will use.
    // Asked [`KEY_FETCHES_AT_ONCE`] at a time: one after another, the common selectors
    // of a domain whose server never answers took minutes (55 lookups of 6 s).
    let mut keys = Vec::with_capacity(unique.len());
    for batch in unique.chunks(KEY_FETCHES_AT_ONCE) {
        let fetches = batch
            .iter()
            .map(|(_, sel)| Box::pin(key::fetch(resolver, domain, sel)))
            .collect();
        keys.extend(monban::pipeline::join_all(fetches).await);
    }
    for ((n, sel), key) in unique.into_iter().zip(keys) {
        let name = format!("{sel}._domainkey.{domain}");
        let given = n < explicit;
        let key = match key {
            Ok(k) => k,
            Err(KeyFetchError::Temporary(e)) => {
                ctx.add(
                    Area::Dkim,
                    Severity::Yellow,
                    msg!("dkim-lookup-failed", name = &name, error = e.to_string()),
                    None,
                );
                continue;
            }
            Err(KeyFetchError::Syntax { why, .. }) => {
                found += 1;
                // A record no verifier can use: a new key under a new selector (a record
                // mended by hand may not match the private key that signs).
                ctx.add_step(
                    Area::Dkim,
                    Severity::Red,
                    msg!("dkim-invalid", name = &name, why = why.to_string()),
                    NextStep::RotateKey {
                        domain: domain.to_owned(),
                    },
                );
                continue;
            }
            Err(_) => {
                match &options.private_key {
                    // The key the user gave for this selector: its own record is the
                    // fix (a new key from keygen would not be the one that signs).
                    Some((ksel, _, expected)) if given && ksel.eq_ignore_ascii_case(sel) => {
                        ctx.add(
                            Area::Dkim,
                            Severity::Red,
                            msg!("dkim-no-key", name = &name, selector = sel),
                            Some(own_record_fix(&name, expected)),
                        );
                    }
                    _ if given => ctx.add_step(
                        Area::Dkim,
                        Severity::Red,
                        msg!("dkim-no-key", name = &name, selector = sel),
                        NextStep::PublishKey {
                            domain: domain.to_owned(),
                            selector: sel.clone(),
                        },
                    ),
                    _ => {}
                }
                continue;
            }
        };
        found += 1;
        // RFC 6376 §3.6.2.2: the TXT RRset of a selector must hold one record; with
        // more, which key a verifier reads is undefined (a rotation's leftover makes the
        // same mail pass or fail by the resolver's order).
        let records = txts(&resolver.lookup(&name, RecordType::Txt).await).len();
        if records > 1 {
            ctx.add(
                Area::Dkim,
                Severity::Red,
                msg!("dkim-several", name = &name, n = records),
                Some(msg!("fix-dkim-several", name = &name)),
            );
        }
        if let Some((ksel, file, expected)) = &options.private_key
            && ksel.eq_ignore_ascii_case(sel)
        {
            let same = key.key_type == expected.key_type
                && monban::dkim::crypto::same_public_key(
                    key.key_type,
                    &key.public_key,
                    &expected.public_key,
                );
            if same {
                ctx.add(
                    Area::Dkim,
                    Severity::Green,
                    msg!("dkim-key-matches", name = &name, file = file),
                    None,
                );
            } else {
                ctx.add(
                    Area::Dkim,
                    Severity::Red,
                    msg!("dkim-key-mismatch", name = &name, file = file),
                    Some(own_record_fix(&name, expected)),
                );
            }
        }
        if key.is_revoked() {
            ctx.add(
                Area::Dkim,
                Severity::Yellow,
                msg!("dkim-revoked", name = &name),
                None,
            );
            continue;
        }
        // RFC 6376 §3.6.1: a key whose s= names neither email nor * is not for mail;
        // verifiers ignore it (monban's own verifier by the same test).
        if !key.allows_email() {
            ctx.add(
                Area::Dkim,
                Severity::Red,
                msg!(
                    "dkim-not-email",
                    name = &name,
                    services = key.services.join(":")
                ),
                Some(msg!("fix-dkim-not-email")),
            );
            continue;
        }
        // The key read as verifiers read it (the verifier's own test).
        let bits = monban::dkim::crypto::public_key_bits(key.key_type, &key.public_key).ok();
        let (sev, what) = match key.key_type {
            KeyType::Ed25519 => match (bits, monban::dkim::crypto::rsa_bits(&key.public_key)) {
                (Some(_), _) => (Severity::Green, msg!("dkim-ed25519", name = &name)),
                (None, Some(rsa)) => (
                    Severity::Red,
                    msg!("dkim-ed25519-rsa", name = &name, bits = rsa),
                ),
                (None, None) => (
                    Severity::Red,
                    msg!("dkim-ed25519-bad", name = &name, n = key.public_key.len()),
                ),
            },
            _ => match bits {
                None => (Severity::Red, msg!("dkim-rsa-bad", name = &name)),
                Some(bits) if bits < 1024 => (
                    Severity::Red,
                    msg!("dkim-rsa-weak", name = &name, bits = bits),
                ),
                Some(bits) if bits < 2048 => (
                    Severity::Yellow,
                    msg!("dkim-rsa-short", name = &name, bits = bits),
                ),
                Some(bits) => (Severity::Green, msg!("dkim-rsa", name = &name, bits = bits)),
            },
        };
        if sev == Severity::Green {
            ctx.add(Area::Dkim, sev, what, None);
        } else {
            ctx.add_step(
                Area::Dkim,
                sev,
                what,
                NextStep::RotateKey {
                    domain: domain.to_owned(),
                },
            );
        }
        if key.is_testing() {
            ctx.add(
                Area::Dkim,
                Severity::Yellow,
                msg!("dkim-testing", name = &name),
                Some(msg!("fix-dkim-testing")),
            );
        }
        if !key.hashes.is_empty() && !key.allows_hash("sha256") {
            ctx.add(
                Area::Dkim,
                Severity::Red,
                msg!("dkim-no-sha256", name = &name),
                Some(msg!("fix-dkim-no-sha256", name = &name)),
            );
        }
    }
    if found == 0 && explicit == 0 {
        ctx.add_step(
            Area::Dkim,
            Severity::Yellow,
            if options.discover {
                msg!("dkim-none-discovered")
            } else {
                msg!("dkim-no-selector")
            },
            NextStep::NameSelectors {
                discovered: options.discover,
            },
        );
    }
}

/// Sender ID (RFC 4406, historic): the domain's `spf2.0` records, whether they parse,
/// whether a scope has several, and whether they say what the SPF record says. Without
/// one, Sender ID receivers use the SPF record (RFC 4406 §3.4): nothing to report.
async fn check_sender_id<R: Resolver>(resolver: &R, domain: &str, ctx: &mut Ctx) {
    use monban::spf::record::{is_sender_id_record, sender_id_scopes};
    let answer = resolver.lookup(domain, RecordType::Txt).await;
    let all = txts(&answer);
    let spf1 = all.iter().find(|t| is_spf_record(t)).map(|t| {
        String::from_utf8_lossy(&t["v=spf1".len()..])
            .trim()
            .to_owned()
    });
    let mut pra = 0;
    let mut mfrom = 0;
    for t in &all {
        if !is_sender_id_record(t) {
            continue;
        }
        let Some((scopes, tag)) = sender_id_scopes(t) else {
            // Unreadable scopes: a record Sender ID receivers cannot use.
            let text = String::from_utf8_lossy(t).into_owned();
            ctx.add(
                Area::Spf,
                Severity::Red,
                msg!(
                    "senderid-syntax",
                    record = &text,
                    error = "empty or malformed scope list"
                ),
                Some(msg!("fix-senderid-syntax", domain = domain)),
            );
            pra += 1;
            continue;
        };
        pra += usize::from(scopes.pra);
        mfrom += usize::from(scopes.mfrom);
        let text = String::from_utf8_lossy(t).into_owned();
        let terms = String::from_utf8_lossy(&t[tag..]).trim().to_owned();
        match SpfRecord::parse_sender_id(&text) {
            Some(Err(e)) => ctx.add(
                Area::Spf,
                Severity::Red,
                msg!("senderid-syntax", record = &text, error = e.to_string()),
                Some(msg!("fix-senderid-syntax", domain = domain)),
            ),
            _ if spf1.as_deref().is_some_and(|s| s != terms) => ctx.add(
                Area::Spf,
                Severity::Yellow,
                msg!("senderid-differs", record = &text),
                Some(msg!("fix-senderid-differs", domain = domain)),
            ),
            _ => ctx.add(
                Area::Spf,
                Severity::Green,
                msg!("senderid-record", record = &text),
                None,
            ),
        }
    }
    for (scope, n) in [("pra", pra), ("mfrom", mfrom)] {
        if n > 1 {
            ctx.add(
                Area::Spf,
                Severity::Red,
                msg!("senderid-several", scope = scope, n = n),
                Some(msg!("fix-senderid-several", scope = scope)),
            );
        }
    }
    if pra + mfrom > 0 && pra == 0 && spf1.is_some() {
        // RFC 4406 §3.4: an spf2.0 record anywhere stops v=spf1 standing in for pra.
        ctx.add(
            Area::Spf,
            Severity::Yellow,
            msg!("senderid-no-pra"),
            Some(msg!("fix-senderid-differs", domain = domain)),
        );
    }
}

/// The sending IPs' reverse DNS (iprev, RFC 8601 §3: large receivers refuse or
/// distrust hosts without one) and their listing on the given block lists.
async fn check_sending_ips<R: Resolver>(
    resolver: &R,
    ips: &[IpAddr],
    lists: &[monban::dnsbl::Zone],
    ctx: &mut Ctx,
) {
    use monban::dnsbl::DnsblResult;
    use monban::iprev::IprevResult;
    for &ip in ips {
        let iprev = monban::iprev::check(resolver, ip).await;
        match iprev.result {
            IprevResult::Pass => ctx.add(
                Area::Sending,
                Severity::Green,
                msg!(
                    "iprev-pass",
                    ip = ip.to_string(),
                    name = iprev.names.first().cloned().unwrap_or_default()
                ),
                None,
            ),
            IprevResult::Temperror => ctx.add(
                Area::Sending,
                Severity::Yellow,
                msg!(
                    "iprev-temperror",
                    ip = ip.to_string(),
                    error = iprev.reason_text().unwrap_or_default()
                ),
                None,
            ),
            _ => ctx.add(
                Area::Sending,
                Severity::Red,
                msg!(
                    "iprev-fail",
                    ip = ip.to_string(),
                    why = iprev.reason_text().unwrap_or_default()
                ),
                Some(msg!("fix-iprev", ip = ip.to_string())),
            ),
        }
        // Each outcome named as its list was given: the k-th outcome of a zone and kind
        // is the k-th list of that zone and kind (the same zone may be given twice, with
        // different code filters: `zen.bl` and `zen.bl=127.0.0.3` said "listed on zen.bl"
        // and "not listed on zen.bl" side by side).
        let mut seen: Vec<(String, monban::dnsbl::ListKind)> = Vec::new();
        for o in monban::dnsbl::check(resolver, ip, lists).await {
            let k = seen
                .iter()
                .filter(|(z, kind)| *z == o.zone && *kind == o.kind)
                .count();
            seen.push((o.zone.clone(), o.kind));
            let zone = lists
                .iter()
                .filter(|l| l.zone == o.zone && l.kind == o.kind)
                .nth(k)
                .map_or_else(|| o.zone.clone(), ToString::to_string);
            match o.result {
                DnsblResult::Listed if o.kind == monban::dnsbl::ListKind::Block => ctx.add(
                    Area::Sending,
                    Severity::Red,
                    msg!(
                        "dnsbl-listed",
                        ip = ip.to_string(),
                        zone = &zone,
                        code = o.codes.first().map(ToString::to_string).unwrap_or_default()
                    ),
                    Some(msg!("fix-dnsbl", zone = &zone)),
                ),
                DnsblResult::Listed => ctx.add(
                    Area::Sending,
                    Severity::Green,
                    msg!("dnswl-listed", ip = ip.to_string(), zone = &zone),
                    None,
                ),
                DnsblResult::NotListed => ctx.add(
                    Area::Sending,
                    Severity::Green,
                    msg!("dnsbl-not-listed", ip = ip.to_string(), zone = &zone),
                    None,
                ),
                DnsblResult::Skipped => {}
                DnsblResult::Temperror => ctx.add(
                    Area::Sending,
                    Severity::Yellow,
                    // An answer that is a refusal (127.255.255.x; RFC 5782 §2.3 leaves
                    // such codes to the list) is not silence: the list said why.
                    match o.codes.iter().find(|c| monban::dnsbl::is_refusal(**c)) {
                        Some(code) => msg!(
                            "dnsbl-refused",
                            ip = ip.to_string(),
                            zone = &zone,
                            code = code.to_string()
                        ),
                        None => msg!("dnsbl-temperror", ip = ip.to_string(), zone = &zone),
                    },
                    None,
                ),
            }
        }
    }
}

/// ADSP (RFC 5617, historic since RFC 8553's era): report what it says.
async fn check_adsp<R: Resolver>(resolver: &R, domain: &str, ctx: &mut Ctx) {
    let raw = txts(
        &resolver
            .lookup(&format!("_adsp._domainkey.{domain}"), RecordType::Txt)
            .await,
    );
    let Some(text) = raw.first() else { return };
    let text = String::from_utf8_lossy(text);
    let policy = text
        .split(';')
        .filter_map(|t| t.split_once('='))
        .find(|(k, _)| k.trim() == "dkim")
        .map(|(_, v)| v.trim().to_ascii_lowercase());
    let (sev, text) = match policy.as_deref() {
        Some("discardable") => (Severity::Yellow, msg!("adsp-discardable")),
        Some("all") => (Severity::Yellow, msg!("adsp-all")),
        Some("unknown") => (Severity::Green, msg!("adsp-unknown")),
        _ => (Severity::Yellow, msg!("adsp-syntax")),
    };
    ctx.add(
        Area::Adsp,
        sev,
        msg!("adsp-historic", what = text),
        Some(msg!("fix-adsp", domain = domain)),
    );
}

/// Predicts receivers' decisions for a setup, with the same evaluation code.
async fn predict<R: Resolver>(
    resolver: &R,
    domain: &str,
    setup: &SendingSetup,
    now: u64,
    ctx: &mut Ctx,
) -> SendingPrediction {
    let mail_from_domain = setup
        .mail_from_domain
        .clone()
        .unwrap_or_else(|| domain.to_owned())
        .to_ascii_lowercase();
    let spf = Spf::new(resolver);
    let mut by_ip = Vec::new();
    let mut outcomes = Vec::new();
    let bounces = format!("bounces@{mail_from_domain}");
    for ip in &setup.ips {
        let o = spf
            .check_host(
                *ip,
                &mail_from_domain,
                &bounces,
                &mail_from_domain,
                SpfIdentity::MailFrom,
                now,
            )
            .await
            .into_owned();
        by_ip.push((*ip, o.result));
        outcomes.push(o);
    }
    let rank = |r: SpfResult| match r {
        SpfResult::Pass => 0,
        SpfResult::Neutral | SpfResult::None => 1,
        SpfResult::Softfail => 2,
        SpfResult::Temperror => 3,
        SpfResult::Fail => 4,
        _ => 5,
    };
    let worst = outcomes.iter().max_by_key(|o| rank(o.result)).cloned();
    let headers =
        Headers::parse(format!("From: someone@{domain}\r\n").as_bytes()).unwrap_or_default();
    let dkim: Vec<DkimOutcome> = setup
        .signing_domain
        .iter()
        .map(|d| DkimOutcome {
            result: DkimResult::Pass,
            reason: None,
            domain: d.to_ascii_lowercase(),
            selector: String::new(),
            algorithm: String::new(),
            identity: String::new(),
            header_b: String::new(),
            key_bits: None,
            testing: false,
        })
        .collect();
    let config = DmarcConfig::default();
    let discovered = dmarc::discover(resolver, &headers, &config).await;
    let outcome = dmarc::conclude(resolver, discovered, worst.as_ref(), &dkim, &config).await;
    let prediction = SendingPrediction {
        spf: worst.as_ref().map_or(SpfResult::None, |o| o.result),
        spf_by_ip: by_ip.clone(),
        spf_cause_by_ip: setup
            .ips
            .iter()
            .zip(&outcomes)
            .map(|(ip, o)| (*ip, o.cause.clone()))
            .collect(),
        dkim_aligned: outcome.dkim_aligned,
        spf_aligned: outcome.spf_aligned,
        dmarc: outcome.result,
        disposition: outcome.disposition,
    };

    // Say why, in words.
    let mut why = Vec::new();
    match &setup.signing_domain {
        None => why.push(msg!("why-unsigned")),
        Some(d) if !outcome.dkim_aligned => {
            why.push(msg!("why-dkim-unaligned", d = d, domain = domain))
        }
        Some(d) => why.push(msg!("why-dkim-aligned", d = d, domain = domain)),
    }
    let failing: Vec<String> = by_ip
        .iter()
        .filter(|(_, r)| *r != SpfResult::Pass)
        .map(|(ip, r)| format!("{ip} ({r})"))
        .collect();
    if setup.ips.is_empty() {
        why.push(msg!("why-no-ip"));
    } else if failing.is_empty() {
        if outcome.spf_aligned {
            why.push(msg!("why-spf-aligned", domain = &mail_from_domain));
        } else if outcome.result == DmarcResult::None {
            // No policy: alignment is not evaluated, so it is not "unaligned" either.
            why.push(msg!("why-spf-passes", domain = &mail_from_domain));
        } else {
            why.push(msg!(
                "why-spf-unaligned",
                mail_from = &mail_from_domain,
                domain = domain
            ));
        }
    } else {
        why.push(msg!(
            "why-spf-fails",
            domain = &mail_from_domain,
            ips = failing.join(", ")
        ));
    }
    let verdict = match outcome.result {
        DmarcResult::Pass => msg!("predict-pass", why = why),
        DmarcResult::None => msg!("predict-none", domain = domain, why = why),
        DmarcResult::Fail => {
            // The tag that applied (p, sp for a subdomain, np for one that does not
            // exist), and whether t=y or a pct under 100 made receivers apply a milder
            // disposition than it says.
            let tag = match outcome.policy_tag {
                Some(dmarc::eval::PolicyTag::Sp) => "sp",
                Some(dmarc::eval::PolicyTag::Np) => "np",
                _ => "p",
            };
            let policy = outcome.policy.unwrap_or(Policy::None);
            let milder = !matches!(
                (policy, outcome.disposition),
                (Policy::Reject, dmarc::Disposition::Reject)
                    | (Policy::Quarantine, dmarc::Disposition::Quarantine)
                    | (Policy::None, _)
            );
            let fate = match outcome.disposition {
                dmarc::Disposition::Reject => msg!("fate-reject"),
                dmarc::Disposition::Quarantine => msg!("fate-quarantine"),
                dmarc::Disposition::None => msg!("fate-none"),
            };
            let p = policy.to_string();
            if milder {
                msg!(
                    "predict-fail-milder",
                    why = why,
                    tag = tag,
                    p = p,
                    fate = fate
                )
            } else {
                msg!("predict-fail", why = why, tag = tag, p = p, fate = fate)
            }
        }
        other => msg!("predict-other", result = other.to_string(), why = why),
    };
    let severity = match (outcome.result, outcome.disposition) {
        (DmarcResult::Pass, _) => Severity::Green,
        (DmarcResult::Fail, dmarc::Disposition::None) | (DmarcResult::None, _) => Severity::Yellow,
        _ => Severity::Red,
    };
    // A MAIL FROM at the domain itself aligns, and passes only if the domain's own SPF
    // lists the addresses: those it does not are said with that fix (a trial's fix
    // said nothing of them).
    let mut own_unlisted = Vec::new();
    if severity != Severity::Green && !outcome.spf_aligned && mail_from_domain != domain {
        let own_bounces = format!("bounces@{domain}");
        for ip in &setup.ips {
            let own = spf
                .check_host(
                    *ip,
                    domain,
                    &own_bounces,
                    domain,
                    SpfIdentity::MailFrom,
                    now,
                )
                .await;
            if own.result != SpfResult::Pass {
                own_unlisted.push(match ip {
                    IpAddr::V4(v4) => format!("ip4:{v4}"),
                    IpAddr::V6(v6) => format!("ip6:{v6}"),
                });
            }
        }
    }
    let fix = (severity != Severity::Green).then(|| {
        let mut f = Vec::new();
        // Under strict alignment only the domain itself aligns, not a subdomain (RFC
        // 7489 §3.1.1, §3.1.2).
        let strict = |mode: fn(&DmarcRecord) -> dmarc::record::AlignmentMode| {
            outcome
                .record
                .as_ref()
                .is_some_and(|r| mode(r) == dmarc::record::AlignmentMode::Strict)
        };
        if !outcome.dkim_aligned {
            f.push(if strict(|r| r.adkim) {
                msg!("fix-sign-aligned-strict", domain = domain)
            } else {
                msg!("fix-sign-aligned", domain = domain)
            });
        }
        // An error (permerror, temperror) is not mended by listing the address: the
        // evaluation ends where it arises (a void-lookup limit for IPv6 clients, a
        // missing include; a record that does not parse, before any address is
        // compared), so its cause is the fix (an address listed before an include that
        // fails would pass that one sender and leave the error for the others).
        let error = outcomes
            .iter()
            .find(|o| matches!(o.result, SpfResult::Permerror | SpfResult::Temperror));
        if let Some(o) = error {
            f.push(msg!(
                "fix-spf-error",
                domain = &mail_from_domain,
                result = o.result.as_str(),
                ip = o.ip.to_string(),
                cause = o.cause.to_string()
            ));
        } else if !failing.is_empty() {
            let nets: Vec<String> = by_ip
                .iter()
                .filter(|(_, r)| *r != SpfResult::Pass)
                .map(|(ip, _)| match ip {
                    IpAddr::V4(v4) => format!("ip4:{v4}"),
                    IpAddr::V6(v6) => format!("ip6:{v6}"),
                })
                .collect();
            f.push(msg!(
                "fix-spf-add",
                nets = nets.join(" "),
                domain = &mail_from_domain
            ));
        } else if !outcome.spf_aligned && outcome.result != DmarcResult::None {
            // SPF passes for a MAIL FROM domain that does not align.
            let unlisted = &own_unlisted;
            let move_to = if strict(|r| r.aspf) {
                msg!("fix-mail-from-strict", domain = domain)
            } else {
                msg!("fix-mail-from-aligned", domain = domain)
            };
            f.push(if unlisted.is_empty() {
                move_to
            } else {
                msg!(
                    "fix-mail-from-and-list",
                    first = move_to,
                    nets = unlisted.join(" "),
                    domain = domain
                )
            });
        }
        let mut f = f.into_iter();
        match (f.next(), f.next()) {
            (Some(a), Some(b)) => msg!("fix-either", a = a, b = b),
            (Some(a), None) => a,
            _ => msg!("fix-none-known"),
        }
    });
    ctx.add(Area::Sending, severity, verdict, fix);
    prediction
}

/// `monban check --json` (DESIGN §4), defined once for every front end. The words of a
/// finding's next step belong to the front end: it passes how to word a finding
/// (message and fix) and the view holds the rest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckView<'a> {
    /// The domain checked.
    pub domain: &'a str,
    /// `green`, `yellow` or `red`.
    pub status: &'static str,
    /// The findings, worded.
    pub findings: Vec<FindingView>,
    /// The networks the SPF policy lists.
    pub spf_networks: &'a [String],
    /// DNS-querying terms in the whole policy.
    pub spf_lookups: Option<u32>,
    /// Where the DMARC record was found.
    pub dmarc_record_domain: Option<&'a str>,
    /// The prediction for the sending setup, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sending: Option<SendingView>,
}

/// One finding, worded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FindingView {
    /// `spf`, `dmarc`, `dkim`, `adsp`, `mx` or `sending`.
    pub area: &'static str,
    /// `green`, `yellow` or `red`.
    pub severity: &'static str,
    /// The explanation.
    pub message: String,
    /// What to do, when there is something to do.
    pub fix: Option<String>,
}

/// The sending-setup prediction.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SendingView {
    /// SPF, the worst over the addresses.
    pub spf: &'static str,
    /// SPF per address.
    pub spf_by_ip: Vec<IpResultView>,
    /// The signing domain aligns.
    pub dkim_aligned: bool,
    /// SPF passes and aligns for every address.
    pub spf_aligned: bool,
    /// The DMARC result.
    pub dmarc: &'static str,
    /// The disposition receivers apply.
    pub disposition: &'static str,
}

/// SPF for one address.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IpResultView {
    /// The address.
    pub ip: String,
    /// The result.
    pub result: &'static str,
}

impl<'a> CheckView<'a> {
    /// The view of a report, with `words` giving each finding's message and fix (a
    /// front end words [`NextStep`]s its own way).
    pub fn new(r: &'a CheckReport, words: impl Fn(&Finding) -> (String, Option<String>)) -> Self {
        Self {
            domain: &r.domain,
            status: r.status.as_str(),
            findings: r
                .findings
                .iter()
                .map(|f| {
                    let (message, fix) = words(f);
                    FindingView {
                        area: f.area.as_str(),
                        severity: f.severity.as_str(),
                        message,
                        fix,
                    }
                })
                .collect(),
            spf_networks: &r.spf_networks,
            spf_lookups: r.spf_lookups,
            dmarc_record_domain: r.dmarc_record_domain.as_deref(),
            sending: r.sending.as_ref().map(|s| SendingView {
                spf: s.spf.as_str(),
                spf_by_ip: s
                    .spf_by_ip
                    .iter()
                    .map(|(ip, res)| IpResultView {
                        ip: ip.to_string(),
                        result: res.as_str(),
                    })
                    .collect(),
                dkim_aligned: s.dkim_aligned,
                spf_aligned: s.spf_aligned,
                dmarc: s.dmarc.as_str(),
                disposition: s.disposition.as_str(),
            }),
        }
    }
}

/// A finding's message and fix as the CLI and the web API word them: next steps
/// become the `monban` commands that take them (the JSON of DESIGN §4). English.
pub fn worded(f: &Finding) -> (String, Option<String>) {
    worded_in(Lang::En, f)
}

/// [`worded`] in `lang`.
pub fn worded_in(lang: Lang, f: &Finding) -> (String, Option<String>) {
    let message = f.text.text(lang);
    let fix = f.fix_text.as_ref().map(|m| m.text(lang));
    match &f.step {
        Some(NextStep::PublishKey { domain, selector }) => (
            message,
            Some(msg!("step-publish-key", domain = domain, selector = selector).text(lang)),
        ),
        Some(NextStep::RotateKey { domain }) => (
            message,
            Some(msg!("step-rotate-key", domain = domain).text(lang)),
        ),
        Some(NextStep::NameSelectors { discovered }) => (
            if *discovered {
                msg!("step-name-selectors-discovered", what = f.text.clone())
            } else {
                msg!("step-name-selectors", what = f.text.clone())
            }
            .text(lang),
            fix,
        ),
        _ => (message, fix),
    }
}

/// A DNS record as a zone file line, the value split into strings of at most 255
/// bytes (RFC 1035 §3.3.14; RFC 7208 §3.3 joins them back).
pub fn txt_record(owner: &str, value: &str) -> String {
    let mut parts = Vec::new();
    let mut rest = value;
    while rest.len() > 255 {
        // Split at a character boundary at or below 255 bytes.
        let mut cut = 255;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        parts.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    parts.push(rest);
    let quoted: Vec<String> = parts
        .iter()
        .map(|p| format!("\"{}\"", p.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{owner}. TXT {}", quoted.join(" "))
}

/// The terms of an SPF record after `v=spf1`.
fn spf_terms(record: &str) -> Vec<&str> {
    record.split_whitespace().skip(1).collect()
}

fn is_all(term: &str) -> bool {
    term.trim_start_matches(['+', '-', '~', '?'])
        .eq_ignore_ascii_case("all")
}

/// Whether an SPF term is a modifier (`name=value`, RFC 7208 §4.6.1 and §12: a name
/// of letters, digits, `-`, `_` and `.` starting with a letter), not a mechanism.
fn is_modifier(term: &str) -> bool {
    term.split_once('=').is_some_and(|(name, _)| {
        name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    })
}

/// The record as receivers evaluate it: the mechanisms after the first `all`, which
/// are never tested (RFC 7208 §5.1), left out; the modifiers kept wherever they stand
/// (they are position-independent, §6). A fix that moves or replaces `all` starts
/// from this, so that it never brings a dead term back to life (a trial's `+all
/// include:evil.test` became `include:evil.test ~all`, still letting every host pass).
fn spf_live(record: &str) -> String {
    let mut past_all = false;
    let terms: Vec<&str> = spf_terms(record)
        .into_iter()
        .filter(|t| {
            let keep = !past_all || is_modifier(t);
            past_all |= is_all(t);
            keep
        })
        .collect();
    format!("v=spf1 {}", terms.join(" "))
}

/// The record's `all` term, if it has one.
fn ending_of(record: &str) -> Option<String> {
    spf_terms(record)
        .into_iter()
        .find(|t| is_all(t))
        .map(str::to_owned)
}

/// The record with `all` (and any `redirect=`, which `all` overrides) replaced by
/// `ending` at its end.
fn spf_ending(record: &str, ending: &str) -> String {
    let mut terms: Vec<&str> = spf_terms(record)
        .into_iter()
        .filter(|t| !is_all(t) && !t.to_ascii_lowercase().starts_with("redirect="))
        .collect();
    terms.push(ending);
    format!("v=spf1 {}", terms.join(" "))
}

/// The record without the terms `drop` picks.
fn spf_without(record: &str, drop: impl Fn(&str) -> bool) -> String {
    let terms: Vec<&str> = spf_terms(record).into_iter().filter(|t| !drop(t)).collect();
    format!("v=spf1 {}", terms.join(" "))
}

/// Several SPF records merged into one: every term once, in order, one `all` at the
/// end (the strictest the records had: `-all` if any, else `~all`). A record's
/// `redirect=` becomes an `include:` of its target, so the senders it names stay
/// authorized (a redirect beside an `all` was ignored, RFC 7208 §6.1, and goes); the
/// first `exp=` is kept, since a record may have one (§6).
fn merge_spf(records: &[Vec<u8>]) -> String {
    let mut terms: Vec<String> = Vec::new();
    let mut hard = false;
    let mut exp = false;
    for r in records {
        // Each record's dead terms stay dead: the merged record has its `all` last.
        let text = spf_live(&String::from_utf8_lossy(r));
        let has_all = spf_terms(&text).into_iter().any(is_all);
        for t in spf_terms(&text) {
            let lower = t.to_ascii_lowercase();
            let term = if is_all(t) {
                hard |= t.starts_with('-');
                continue;
            } else if let Some(target) = lower.strip_prefix("redirect=") {
                if has_all {
                    continue;
                }
                format!("include:{}", &t[t.len() - target.len()..])
            } else if lower.starts_with("exp=") {
                if std::mem::replace(&mut exp, true) {
                    continue;
                }
                t.to_owned()
            } else {
                t.to_owned()
            };
            if !terms.iter().any(|x| x.eq_ignore_ascii_case(&term)) {
                terms.push(term);
            }
        }
    }
    terms.push(if hard { "-all" } else { "~all" }.into());
    format!("v=spf1 {}", terms.join(" "))
}

/// A DMARC record's tags, in order.
type Tags = Vec<(String, String)>;

/// An invalid DMARC record made valid, keeping what its owner wrote that is valid and
/// still means something (RFC 9989 tags: `p`, `sp`, `np`, `adkim`, `aspf`, `fo`, `rua`,
/// `ruf`, `psd`, `t`, and a `pct` under 100, which loosening would tighten; the removed
/// `rf` and `ri` go, as in the other fixes). A tag is kept when a record with it alone
/// parses without falling back (RFC 7489 §6.6.3) or discarding anything (§6.3), a report
/// list with its valid URIs; a tag given twice keeps its first value or none; anything
/// else is dropped;
/// `p` is `default_p` when missing or invalid (`none` for a domain whose receivers apply
/// no policy today; the policy they apply now when it inherits one, so that the fix
/// does not weaken it), and comes right after `v`; without a valid
/// `rua` one to `dmarc-reports@` the `rua_domain` is added (none when no domain that
/// takes mail is known), as for a domain without a record.
/// Bounded: at most the eleven tags are kept, each looked up among eleven. Should the whole
/// not parse (it always does), the fresh `p=none` record is given instead.
fn salvage_dmarc(candidate: &str, rua_domain: Option<&str>, default_p: Policy) -> String {
    const KEPT: [&str; 11] = [
        "p", "sp", "np", "adkim", "aspf", "fo", "rua", "ruf", "psd", "t", "pct",
    ];
    let mut seen = [false; KEPT.len()];
    let mut tags: Tags = Vec::new();
    let mut p: Option<String> = None;
    // Every spec but v= (which KEPT does not name), wherever v= stands.
    for spec in candidate.split(';') {
        let Some((k, v)) = spec.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        let Some(i) = KEPT.iter().position(|t| *t == k) else {
            continue;
        };
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        // A report list keeps the URIs reports can be sent to; pct=100 says nothing.
        let v = if k == "rua" || k == "ruf" {
            v.split(',')
                .filter(|u| usable_report_uri(u))
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(",")
        } else {
            v.to_owned()
        };
        let v = v.as_str();
        if v.is_empty() || (k == "pct" && v == "100") {
            continue;
        }
        let alone = if k == "p" {
            format!("v=DMARC1; p={v}")
        } else {
            format!("v=DMARC1; p=none; {k}={v}")
        };
        if DmarcRecord::parse(&alone).is_ok_and(|r| r.fallback.is_none() && r.discarded.is_empty())
        {
            if k == "p" {
                p = Some(v.to_owned());
            } else {
                tags.push((k, v.to_owned()));
            }
        }
    }
    tags.insert(
        0,
        ("p".into(), p.unwrap_or_else(|| default_p.as_str().into())),
    );
    tags.insert(0, ("v".into(), "DMARC1".into()));
    let fresh_rua = rua_domain.map(|d| format!("mailto:dmarc-reports@{d}"));
    if let Some(rua) = &fresh_rua
        && !tags.iter().any(|(k, _)| k == "rua")
    {
        set_tag(&mut tags, "rua", rua);
    }
    let fixed = tags
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    if DmarcRecord::parse(&fixed).is_ok_and(|r| r.fallback.is_none()) {
        fixed
    } else {
        match fresh_rua {
            Some(rua) => format!("v=DMARC1; p=none; rua={rua}"),
            None => "v=DMARC1; p=none".to_owned(),
        }
    }
}

/// A DMARC record's tags, edited by `edit`, written back in their order.
fn edit_tags(record: &str, edit: &dyn Fn(&mut Tags)) -> String {
    let mut tags: Tags = record
        .split(';')
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .collect();
    edit(&mut tags);
    tags.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn set_tag(tags: &mut Tags, key: &str, value: &str) {
    match tags.iter_mut().find(|(k, _)| k == key) {
        Some(t) => t.1 = value.to_owned(),
        None => tags.push((key.to_owned(), value.to_owned())),
    }
}

fn remove_tag(tags: &mut Tags, key: &str) {
    tags.retain(|(k, _)| k != key);
}

/// Why a domain given by a user is not one, as a message of the catalogue (the web
/// pages word it in the reader's language; `Display` is the English).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainArgError(pub Msg);

impl std::fmt::Display for DomainArgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.text(crate::i18n::Lang::En))
    }
}

impl std::error::Error for DomainArgError {}

/// What is wrong with a name, as a message of the catalogue (RFC 1035 §2.3.4).
pub fn name_error(e: monban_dns::NameError) -> Msg {
    use monban_dns::NameError as E;
    match e {
        E::EmptyLabel => msg!("name-empty-label"),
        E::LabelTooLong => msg!("name-label-too-long"),
        E::TooLong => msg!("name-too-long"),
        E::Empty => msg!("name-empty"),
        _ => msg!("name-invalid"),
    }
}

/// A domain given by a user (a CLI argument, an API path): letters, digits, `-`, `_`
/// and `.`, at least two labels, normalized; the error names `flag` and shows at most 80
/// characters of what was given.
pub fn domain_argument(flag: &str, d: &str) -> Result<String, DomainArgError> {
    // Shown in errors at most 80 characters long: the argument may be anything.
    let shown: String = d.chars().take(80).collect();
    let shown = if shown.len() < d.len() {
        format!("{shown:?}...")
    } else {
        format!("{shown:?}")
    };
    let fail = |why: Msg| {
        DomainArgError(msg!(
            "arg-not-domain",
            flag = flag,
            given = shown.as_str(),
            why = why
        ))
    };
    // An internationalized name (例え.テスト) becomes its A-label form (IDNA 2008 as
    // UTS 46 maps it, with the STD3 rules: no symbols, no spaces); ASCII is checked as
    // it is.
    let ascii;
    let d = if d.is_ascii() {
        d
    } else {
        ascii = idna::domain_to_ascii_strict(d).map_err(|_| fail(msg!("name-not-idn")))?;
        ascii.as_str()
    };
    if let Some(bad) = d
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(fail(msg!("name-bad-char", char = format!("{bad:?}"))));
    }
    // An IPv4 address is made of letters a domain name may have: refused by name, or
    // the checker would look up _dmarc.192.0.2.25 and suggest publishing records
    // there.
    if d.strip_suffix('.')
        .unwrap_or(d)
        .parse::<std::net::Ipv4Addr>()
        .is_ok()
    {
        return Err(fail(msg!("name-is-ip")));
    }
    let n = monban_dns::normalize_name(d).map_err(|e| fail(name_error(e)))?;
    if !n.contains('.') {
        return Err(fail(msg!("name-one-label")));
    }
    Ok(n)
}

/// The fix that publishes a given private key's own record at `name` (a zone line).
fn own_record_fix(name: &str, expected: &monban::dkim::KeyRecord) -> Msg {
    let record = expected.to_string();
    msg!(
        "fix-dkim-key-mismatch",
        name = name,
        record = format!("{name}. 3600 IN TXT ( {} )", key::zone_strings(&record))
    )
}

/// The most selectors one check takes.
pub const MAX_SELECTORS: usize = 20;

/// Selectors given to a check (CLI flags, API parameters, form fields): at most
/// [`MAX_SELECTORS`], each a DKIM selector (RFC 6376 §3.1: labels of letters, digits,
/// '-', '_' and '.', here 1 to 63 characters); the error names the first bad one.
pub fn selectors_argument(selectors: &[String]) -> Result<(), Msg> {
    if selectors.len() > MAX_SELECTORS {
        return Err(msg!("arg-too-many-selectors", max = MAX_SELECTORS as u64));
    }
    if let Some(bad) = selectors.iter().find(|s| {
        s.is_empty()
            || s.len() > 63
            || !s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    }) {
        return Err(msg!(
            "arg-not-selector",
            given = format!("{:?}", bad.chars().take(80).collect::<String>())
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use monban_dns::ZoneResolver;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn internationalized_names_are_checked_as_a_labels() {
        assert_eq!(
            domain_argument("DOMAIN", "例え.テスト").unwrap(),
            "xn--r8jz45g.xn--zckzah"
        );
        assert_eq!(
            domain_argument("DOMAIN", "Bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
        for bad in [
            "d.test\r\nX: y",
            "a b.example",
            "💩 .example",
            "例え..テスト",
        ] {
            assert!(domain_argument("DOMAIN", bad).is_err(), "{bad:?}");
        }
        // The error in English (the CLI's words) and in Japanese (the pages').
        let e = domain_argument("DOMAIN", "a..b").unwrap_err();
        assert_eq!(
            e.to_string(),
            "DOMAIN \"a..b\" is not a domain name: zero-length label"
        );
        assert_eq!(
            e.0.text(crate::i18n::Lang::Ja),
            "DOMAIN \"a..b\" はドメイン名ではありません: 長さ 0 のラベルがあります"
        );
        let e = domain_argument("DOMAIN", "a/b.example").unwrap_err();
        assert_eq!(
            e.to_string(),
            "DOMAIN \"a/b.example\" is not a domain name: '/' is not allowed (letters, digits, '-', '_' and '.')"
        );
    }

    #[test]
    fn fixes_are_whole_records() {
        // A value over 255 bytes is split into strings a zone file takes.
        let long = format!("v=spf1 {}-all", "ip4:192.0.2.1 ".repeat(30));
        let line = txt_record("d.test", &long);
        let strings: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
        assert!(
            strings.len() == 2 && strings.iter().all(|s| s.len() <= 255),
            "{line}"
        );
        assert_eq!(strings.concat(), long);
        assert_eq!(
            txt_record("d.test", "a \"b\""),
            "d.test. TXT \"a \\\"b\\\"\""
        );
        // Several SPF records: one, every term once, the strictest all.
        assert_eq!(
            merge_spf(&[
                b"v=spf1 mx ~all".to_vec(),
                b"v=spf1 mx ip4:192.0.2.1 -all".to_vec()
            ]),
            "v=spf1 mx ip4:192.0.2.1 -all"
        );
        assert_eq!(spf_ending("v=spf1 a +all", "-all"), "v=spf1 a -all");
        assert_eq!(
            spf_ending("v=spf1 a redirect=x.test", "-all"),
            "v=spf1 a -all"
        );
        assert_eq!(ending_of("v=spf1 a ?all").as_deref(), Some("?all"));
        // DMARC tags edited in place, order kept.
        let edited = edit_tags("v=DMARC1; p=none; pct=50; rua=mailto:a@d.test", &|t| {
            remove_tag(t, "pct");
            set_tag(t, "p", "quarantine");
            set_tag(t, "np", "reject");
        });
        assert_eq!(
            edited,
            "v=DMARC1; p=quarantine; rua=mailto:a@d.test; np=reject"
        );
    }

    /// The fix for an invalid DMARC record keeps the owner's valid tags (their rua
    /// above all): it used to be a fresh `p=none` record to a made-up address.
    #[test]
    fn an_invalid_dmarc_record_is_fixed_keeping_what_is_valid() {
        assert_eq!(
            salvage_dmarc(
                "v=DMARC1; p=reject; p=none; rua=mailto:r@x.test; pct; ruf=nope",
                Some("d.test"),
                Policy::None,
            ),
            "v=DMARC1; p=reject; rua=mailto:r@x.test"
        );
        assert_eq!(
            salvage_dmarc(
                "v=DMARC1; p=rejcet; sp=bogus; ADKIM=s; pct=50; x=1",
                Some("d.test"),
                Policy::None,
            ),
            "v=DMARC1; p=none; adkim=s; pct=50; rua=mailto:dmarc-reports@d.test",
            "pct under 100 stays: dropping it would tighten the policy unasked"
        );
        // Invalid report URIs go alone; invalid values of other tags go.
        assert_eq!(
            salvage_dmarc(
                "v=DMARC1; p=reject; sp=rejects; rua=mailto:a@g.test,dmarc@g.test; fo=2; t=y",
                Some("g.test"),
                Policy::None,
            ),
            "v=DMARC1; p=reject; rua=mailto:a@g.test; t=y"
        );
        // A tag given twice keeps its first value, or none when that one is invalid.
        assert_eq!(
            salvage_dmarc(
                "v=DMARC1; p=rejcet; p=reject; rua=mailto:a@d.test",
                Some("d.test"),
                Policy::None,
            ),
            "v=DMARC1; p=none; rua=mailto:a@d.test"
        );
        // Thousands of unknown tags: dropped, each at the cost of one short look.
        let hostile = format!("v=DMARC1; p=reject; {}", "a1=b; ".repeat(10_000));
        assert_eq!(
            salvage_dmarc(&hostile, Some("d.test"), Policy::None),
            "v=DMARC1; p=reject; rua=mailto:dmarc-reports@d.test"
        );
        let zone = "d.test. MX 10 mx.d.test.\nmx.d.test. A 192.0.2.1\n\
            _dmarc.d.test. TXT \"v=DMARC1; p=quarantine; rua=mailto:agg@r.test; rua=mailto:b@r.test\"\n";
        let zone = ZoneResolver::parse(zone, "z", None).unwrap();
        let r = block_on(check(&zone, "d.test", &CheckOptions::default()));
        // A second rua is discarded (RFC 7489 §6.3), not the whole record.
        let fix = r
            .findings
            .iter()
            .find(|f| {
                f.area == Area::Dmarc
                    && f.severity == Severity::Yellow
                    && f.message.contains("rua appears more than once")
            })
            .and_then(|f| f.fix.clone())
            .unwrap_or_default();
        assert!(
            fix.contains("\"v=DMARC1; p=quarantine; rua=mailto:agg@r.test\""),
            "{fix}"
        );
        // What the fix gives parses, without falling back.
        let fixed = salvage_dmarc(
            "v=DMARC1; p=quarantine; rua=mailto:agg@r.test; rua=x",
            Some("d.test"),
            Policy::None,
        );
        assert!(DmarcRecord::parse(&fixed).is_ok_and(|r| r.fallback.is_none()));
    }

    #[test]
    fn a_network_listed_with_a_qualifier_is_not_flattened_as_allowed() {
        let zone = "d.test. TXT \"v=spf1 include:a.test -all\"\n\
            a.test. TXT \"v=spf1 -ip4:192.0.2.66 ip4:192.0.2.0/24 a a a a a a a a a a -all\"\n";
        let zone = ZoneResolver::parse(zone, "z", None).unwrap();
        let r = block_on(check(&zone, "d.test", &CheckOptions::default()));
        let fixes: Vec<&str> = r.findings.iter().filter_map(|f| f.fix.as_deref()).collect();
        assert!(
            fixes.iter().any(|f| f.contains("(flattening)")),
            "{fixes:?}"
        );
        assert!(fixes.iter().all(|f| !f.contains("192.0.2.66")), "{fixes:?}");
    }

    /// RFC 4406 §3.4: spf2.0 records reported, and what they change.
    #[test]
    fn sender_id_records() {
        let findings = |zone: &str| -> Vec<(Severity, String)> {
            let zone = ZoneResolver::parse(zone, "z", None).unwrap();
            let r = block_on(check(&zone, "d.test", &CheckOptions::default()));
            r.findings
                .into_iter()
                .filter(|f| f.message.contains("Sender ID") || f.message.contains("spf2.0"))
                .map(|f| (f.severity, f.message))
                .collect()
        };
        // None: nothing said.
        assert!(findings("d.test. TXT \"v=spf1 -all\"\n").is_empty());
        // The same terms: green.
        let f = findings("d.test. TXT \"v=spf1 -all\"\nd.test. TXT \"spf2.0/mfrom,pra -all\"\n");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].0, Severity::Green);
        // Different terms: yellow.
        let f = findings(
            "d.test. TXT \"v=spf1 ip4:192.0.2.1 -all\"\nd.test. TXT \"spf2.0/pra ip4:192.0.2.9 -all\"\n",
        );
        assert!(
            f.iter().any(|(s, m)| *s == Severity::Yellow
                && m.contains("does not say what the SPF record says")),
            "{f:?}"
        );
        // Broken, and several for one scope: red.
        let f = findings(
            "d.test. TXT \"v=spf1 -all\"\nd.test. TXT \"spf2.0/pra ip4:192.0.2.300 -all\"\nd.test. TXT \"spf2.0/pra,mfrom -all\"\n",
        );
        assert!(
            f.iter()
                .any(|(s, m)| *s == Severity::Red && m.contains("does not parse")),
            "{f:?}"
        );
        assert!(
            f.iter().any(|(s, m)| *s == Severity::Red
                && m.contains("2 Sender ID records name the pra scope")),
            "{f:?}"
        );
        // mfrom only: the pra scope loses the SPF record.
        let f = findings("d.test. TXT \"v=spf1 -all\"\nd.test. TXT \"spf2.0/mfrom -all\"\n");
        assert!(
            f.iter()
                .any(|(s, m)| *s == Severity::Yellow && m.contains("none for the pra scope")),
            "{f:?}"
        );
    }

    /// The (severity, message) of each finding of `r` in `area`.
    fn messages_in(r: &CheckReport, area: Area) -> Vec<(Severity, &str)> {
        r.findings
            .iter()
            .filter(|f| f.area == area)
            .map(|f| (f.severity, f.message.as_str()))
            .collect()
    }

    /// The sending IPs' reverse DNS and block list listings.
    #[test]
    fn sending_ips_reverse_dns_and_lists() {
        let zone = "d.test. TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n\
            _dmarc.d.test. TXT \"v=DMARC1; p=none\"\n\
            1.2.0.192.in-addr.arpa. PTR out.d.test.\n\
            out.d.test. A 192.0.2.1\n\
            2.2.0.192.bl.test. A 127.0.0.2\n\
            1.2.0.192.refusing.test. A 127.255.255.254\n";
        let zone = ZoneResolver::parse(zone, "z", None).unwrap();
        let options = CheckOptions {
            sending: Some(SendingSetup {
                ips: vec!["192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap()],
                ..SendingSetup::default()
            }),
            dnsbl: ["bl.test", "refusing.test", "bl.test=127.0.0.3"]
                .map(|z| monban::dnsbl::Zone::parse(z, monban::dnsbl::ListKind::Block).unwrap())
                .to_vec(),
            ..CheckOptions::default()
        };
        let r = block_on(check(&zone, "d.test", &options));
        let sending = messages_in(&r, Area::Sending);
        let has =
            |sev: Severity, text: &str| sending.iter().any(|(s, m)| *s == sev && m.contains(text));
        assert!(
            has(
                Severity::Green,
                "192.0.2.1 has the reverse DNS name out.d.test"
            ),
            "{sending:?}"
        );
        assert!(
            has(Severity::Red, "192.0.2.2 has no reverse DNS name"),
            "{sending:?}"
        );
        assert!(
            has(Severity::Green, "192.0.2.1 is not listed on bl.test"),
            "{sending:?}"
        );
        assert!(
            has(Severity::Red, "192.0.2.2 is listed on bl.test (127.0.0.2)"),
            "{sending:?}"
        );
        // The same zone given twice, with a code filter: each named as given.
        assert!(
            has(
                Severity::Green,
                "192.0.2.2 is not listed on bl.test=127.0.0.3"
            ),
            "{sending:?}"
        );
        // A refusal code is said as one, not as a list that did not answer.
        assert!(
            has(
                Severity::Yellow,
                "refusing.test refused to answer about 192.0.2.1 (code 127.255.255.254"
            ),
            "{sending:?}"
        );
        assert_eq!(r.status, Severity::Red);
    }

    /// The findings of `domain` in `area`: (severity, message, fix).
    fn findings_in(
        zone: &str,
        domain: &str,
        area: Area,
    ) -> Vec<(Severity, String, Option<String>)> {
        let zone = ZoneResolver::parse(zone, "z", None).unwrap();
        let r = block_on(check(&zone, domain, &CheckOptions::default()));
        r.findings
            .into_iter()
            .filter(|f| f.area == area)
            .map(|f| (f.severity, f.message, f.fix))
            .collect()
    }

    /// The DMARC findings of `domain`: (severity, message, fix).
    fn dmarc_findings(zone: &str, domain: &str) -> Vec<(Severity, String, Option<String>)> {
        findings_in(zone, domain, Area::Dmarc)
    }

    /// A trial's findings on the DMARC part of the checker: a typo in another tag took
    /// p=reject away (and the checker agreed); a subdomain was judged by the parent's p
    /// instead of sp; pct under 100 and t=y were green, and every fix dropped them,
    /// tightening the policy unasked; the fix for an invalid sp kept it and stepped
    /// p=reject down to quarantine.
    #[test]
    fn dmarc_findings_follow_what_receivers_apply() {
        let zone = "$ORIGIN d.test.\n\
            @ 300 IN MX 10 mx.d.test.\n\
            mx 300 IN A 192.0.2.1\n\
            _dmarc 300 IN TXT \"v=DMARC1; p=reject; sp=none; rua=mailto:r@d.test\"\n\
            sub 300 IN MX 10 mx.d.test.\n\
            ri 300 IN MX 10 mx.d.test.\n\
            _dmarc.ri 300 IN TXT \"v=DMARC1; p=reject; ri=1d; adkim=x; rua=mailto:r@d.test,oops@d.test\"\n\
            pct 300 IN MX 10 mx.d.test.\n\
            _dmarc.pct 300 IN TXT \"v=DMARC1; p=reject; pct=10; rua=mailto:r@d.test\"\n\
            ty 300 IN MX 10 mx.d.test.\n\
            _dmarc.ty 300 IN TXT \"v=DMARC1; p=quarantine; t=y\"\n\
            badsp 300 IN MX 10 mx.d.test.\n\
            _dmarc.badsp 300 IN TXT \"v=DMARC1; p=reject; sp=rejects; rua=mailto:r@d.test\"\n";
        let has = |f: &[(Severity, String, Option<String>)], sev: Severity, needle: &str| {
            f.iter().any(|(s, m, _)| *s == sev && m.contains(needle))
        };
        // The typo is discarded; p=reject stands, the fix drops the bad parts alone.
        let f = dmarc_findings(zone, "ri.d.test");
        assert!(
            has(&f, Severity::Green, "p=reject: forged mail is refused"),
            "{f:?}"
        );
        assert!(
            !f.iter().any(|(_, m, _)| m.contains("treated as p=none")),
            "{f:?}"
        );
        let (_, _, fix) = f
            .iter()
            .find(|(s, m, _)| *s == Severity::Yellow && m.contains("invalid value for adkim"))
            .unwrap_or_else(|| panic!("{f:?}"));
        let fix = fix.as_deref().unwrap();
        assert!(
            fix.contains("\"v=DMARC1; p=reject; rua=mailto:r@d.test\""),
            "{fix}"
        );
        // A subdomain without a record: sp applies.
        let f = dmarc_findings(zone, "sub.d.test");
        assert!(
            has(&f, Severity::Yellow, "sp=none: monitoring only"),
            "{f:?}"
        );
        assert!(!has(&f, Severity::Green, "forged mail is refused"), "{f:?}");
        // pct=10: reject is applied as quarantine; the other fixes keep pct.
        let f = dmarc_findings(zone, "pct.d.test");
        assert!(
            has(
                &f,
                Severity::Green,
                "p=reject, but with pct=10 receivers apply quarantine"
            ),
            "{f:?}"
        );
        assert!(
            has(
                &f,
                Severity::Yellow,
                "pct=10: receivers that follow RFC 7489"
            ),
            "{f:?}"
        );
        // t=y on quarantine: receivers deliver; the rua fix keeps t=y.
        let f = dmarc_findings(zone, "ty.d.test");
        assert!(
            has(
                &f,
                Severity::Yellow,
                "p=quarantine, but with t=y receivers apply none"
            ),
            "{f:?}"
        );
        let rua_fix = f
            .iter()
            .find(|(_, m, _)| m.contains("no rua="))
            .and_then(|(_, _, fix)| fix.clone())
            .unwrap_or_else(|| panic!("{f:?}"));
        assert!(rua_fix.contains("t=y"), "{rua_fix}");
        // An invalid sp: the fix keeps the owner's p=reject and drops sp; no step down.
        let f = dmarc_findings(zone, "badsp.d.test");
        let (_, _, fix) = f
            .iter()
            .find(|(s, m, _)| *s == Severity::Red && m.contains("treated as p=none"))
            .unwrap_or_else(|| panic!("{f:?}"));
        assert!(
            fix.as_deref()
                .is_some_and(|x| x.contains("\"v=DMARC1; p=reject; rua=mailto:r@d.test\"")),
            "{f:?}"
        );
        assert!(
            !f.iter()
                .any(|(_, _, fix)| fix.as_deref().is_some_and(|x| x.contains("p=quarantine"))),
            "{f:?}"
        );
    }

    /// The fix of the first finding of `f` of severity `sev` whose message contains
    /// `needle`; a panic showing `f` when there is none.
    fn fix_of(
        f: &[(Severity, String, Option<String>)],
        sev: Severity,
        needle: &str,
    ) -> Option<String> {
        f.iter()
            .find(|(s, m, _)| *s == sev && m.contains(needle))
            .unwrap_or_else(|| panic!("{needle}: {f:#?}"))
            .2
            .clone()
    }

    /// A report address with no domain, an address literal or a bad host name gets
    /// a finding of its own and is dropped from the fix (a trial's `rua=mailto:a@` got
    /// an "authorization" fix to publish `r7.test._report._dmarc.. TXT`).
    #[test]
    fn unusable_report_addresses_are_named_and_dropped() {
        let zone = "$ORIGIN d.test.\n@ MX 10 mx.d.test.\nmx A 192.0.2.1\n\
            _dmarc TXT \"v=DMARC1; p=reject; rua=mailto:a@,mailto:@d.test,mailto:b@[192.0.2.1],mailto:c@-x-.example,mailto:r@d.test\"\n";
        let f = dmarc_findings(zone, "d.test");
        for bad in [
            "mailto:a@:",
            "mailto:@d.test:",
            "mailto:b@[192.0.2.1]:",
            "mailto:c@-x-.example:",
        ] {
            let fix = fix_of(&f, Severity::Red, bad);
            assert_eq!(
                fix.as_deref(),
                Some("_dmarc.d.test. TXT \"v=DMARC1; p=reject; rua=mailto:r@d.test\""),
                "{bad}: {f:#?}"
            );
        }
        assert!(
            !f.iter().any(|(_, m, _)| m.contains("authorized")),
            "{f:#?}"
        );
        // A destination of another scheme is flagged and left out of every fix (the
        // fix of an invalid p= kept a trial's rua=javascript:alert(5)).
        let zone = "$ORIGIN j.test.\n@ MX 10 mx.j.test.\nmx A 192.0.2.1\n\
            _dmarc TXT \"v=DMARC1; p=nope; rua=javascript:alert(5),mailto:r@j.test; ruf=https://j.test/r\"\n";
        let f = dmarc_findings(zone, "j.test");
        let fixes: Vec<&String> = f.iter().filter_map(|(_, _, fix)| fix.as_ref()).collect();
        assert!(!fixes.is_empty(), "{f:#?}");
        for fix in &fixes {
            assert!(
                !fix.contains("javascript:") && !fix.contains("https:"),
                "{fix}"
            );
        }
        assert!(
            fixes.iter().any(|x| x.contains("rua=mailto:r@j.test")),
            "{f:#?}"
        );
        assert_eq!(report_address_problem("mailto:r@d.test!10m"), None);
        assert_eq!(report_address_problem("https://d.test/r"), None);
    }

    /// RFC 9989 §4.7: a subdomain that does not exist gets np, in the DMARC finding
    /// and in the prediction, which names the tag that applied; t=y or a pct under 100
    /// is said when it makes the disposition milder than the policy (a trial's made-up
    /// subdomain was shown sp=quarantine and "p=reject means this mail will be
    /// refused", and p=reject; pct=0 "p=reject means ... put in spam").
    #[test]
    fn the_policy_that_applies_is_named_with_its_tag() {
        let zone = "$ORIGIN example.com.\n@ MX 10 mx\nmx A 192.0.2.70\n@ TXT \"v=spf1 mx -all\"\n\
            _dmarc TXT \"v=DMARC1; p=reject; sp=quarantine; np=reject\"\n\
            real TXT \"v=spf1 -all\"\n\
            pct TXT \"v=spf1 -all\"\n\
            _dmarc.pct TXT \"v=DMARC1; p=reject; pct=0\"\n";
        let f = dmarc_findings(zone, "nx.example.com");
        assert!(f.iter().any(|(_, m, _)| m.contains("np=reject")), "{f:#?}");
        let f = dmarc_findings(zone, "real.example.com");
        assert!(
            f.iter().any(|(_, m, _)| m.contains("sp=quarantine")),
            "{f:#?}"
        );
        let resolver = ZoneResolver::parse(zone, "z", None).unwrap();
        let predicted = |domain: &str| {
            let options = CheckOptions {
                sending: Some(SendingSetup {
                    ips: vec!["203.0.113.9".parse().unwrap()],
                    mail_from_domain: None,
                    signing_domain: None,
                }),
                ..CheckOptions::default()
            };
            block_on(check(&resolver, domain, &options))
                .findings
                .into_iter()
                .find(|f| f.area == Area::Sending && f.message.contains("DMARC fails"))
                .map(|f| f.message)
                .unwrap_or_default()
        };
        let nx = predicted("nx.example.com");
        assert!(
            nx.contains("np=reject means this mail will be refused"),
            "{nx}"
        );
        let real = predicted("real.example.com");
        assert!(
            real.contains("sp=quarantine means this mail will be put in spam"),
            "{real}"
        );
        let pct = predicted("pct.example.com");
        assert!(
            pct.contains("p=reject, which t=y or a pct under 100"),
            "{pct}"
        );
    }

    /// An invalid record under a parent whose sp= (or p=) receivers apply today is
    /// fixed with that policy, not p=none (a trial's fix under sp=quarantine would have
    /// dropped the protection receivers give the subdomain now); a subdomain that sends
    /// no mail gets p=reject. A valid p of the owner's stays.
    #[test]
    fn an_invalid_subdomain_record_is_fixed_with_the_policy_applied_today() {
        let zone = "$ORIGIN d.test.\n\
            @ MX 10 mx.d.test.\nmx A 192.0.2.1\n\
            _dmarc TXT \"v=DMARC1; p=reject; sp=quarantine; rua=mailto:r@d.test\"\n\
            broken MX 10 mx.d.test.\n\
            broken TXT \"v=spf1 mx -all\"\n\
            _dmarc.broken TXT \"v=DMARC1; p=nope\"\n\
            owned MX 10 mx.d.test.\n\
            _dmarc.owned TXT \"p=none; v=DMARC1\"\n\
            quiet TXT \"v=spf1 -all\"\n\
            quiet MX 0 .\n\
            _dmarc.quiet TXT \"v=DMARC1; p=nope\"\n";
        for (domain, record) in [
            (
                "broken.d.test",
                "\"v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@broken.d.test\"",
            ),
            (
                "owned.d.test",
                "\"v=DMARC1; p=none; rua=mailto:dmarc-reports@owned.d.test\"",
            ),
            ("quiet.d.test", "\"v=DMARC1; p=reject\""),
        ] {
            let f = dmarc_findings(zone, domain);
            let fix = f
                .iter()
                .find(|(s, m, _)| *s == Severity::Red && m.contains("invalid"))
                .and_then(|(_, _, fix)| fix.clone());
            assert!(
                fix.as_deref().is_some_and(|x| x.contains(record)),
                "{domain}: {f:#?}"
            );
        }
    }

    /// A trial's finding F12: two records at the checked domain (or one with v= not
    /// first) were hidden by the tree walk, which said the domain "has none of its
    /// own" and showed the parent's p=reject green; RFC 7489 receivers apply nothing.
    #[test]
    fn dmarc_records_of_the_domain_itself_are_not_hidden_by_the_tree_walk() {
        let zone = "$ORIGIN d.test.\n\
            @ MX 10 mx.d.test.\nmx A 192.0.2.1\n\
            _dmarc TXT \"v=DMARC1; p=reject; rua=mailto:r@d.test\"\n\
            multi MX 10 mx.d.test.\n\
            _dmarc.multi TXT \"v=DMARC1; p=reject\"\n\
            _dmarc.multi TXT \"v=DMARC1; p=none\"\n\
            vnf MX 10 mx.d.test.\n\
            _dmarc.vnf TXT \"p=reject; v=DMARC1; rua=mailto:r@d.test\"\n\
            plain MX 10 mx.d.test.\n";
        // Two records: keep one. v= not first: the owner's p=reject and rua kept, v=
        // put first.
        for (domain, said, fixed) in [
            (
                "multi.d.test",
                "2 DMARC records at _dmarc.multi.d.test: receivers ignore them all; receivers that follow RFC 9989 apply _dmarc.d.test instead",
                "keep one of the 2",
            ),
            (
                "vnf.d.test",
                "the DMARC record of vnf.d.test is invalid",
                "\"v=DMARC1; p=reject; rua=mailto:r@d.test\"",
            ),
        ] {
            let f = dmarc_findings(zone, domain);
            let fix = fix_of(&f, Severity::Red, said);
            assert!(fix.is_some_and(|x| x.contains(fixed)), "{f:#?}");
            assert!(
                !f.iter().any(|(_, m, _)| m.contains("has none of its own")),
                "{f:#?}"
            );
        }
        // Several records stop RFC 7489 receivers; a record with v= elsewhere is
        // discarded by them too, and they then go on to the parent (review finding).
        let said = |domain: &str| {
            dmarc_findings(zone, domain)
                .into_iter()
                .map(|(_, m, _)| m)
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert!(said("multi.d.test").contains("apply no DMARC policy at all"));
        let vnf = said("vnf.d.test");
        assert!(
            vnf.contains(
                "receivers apply _dmarc.d.test instead (a record must start with v=DMARC1)"
            ) && !vnf.contains("no DMARC policy at all"),
            "{vnf}"
        );
        // A subdomain with no record of its own: as before.
        let f = dmarc_findings(zone, "plain.d.test");
        assert!(
            f.iter()
                .any(|(_, m, _)| m.contains("plain.d.test has none of its own")),
            "{f:#?}"
        );
        assert!(!f.iter().any(|(s, _, _)| *s == Severity::Red), "{f:#?}");
    }

    /// A trial's finding F10: a null MX among others, an MX naming an alias, a host
    /// without an address, or an address were all green "1 MX record(s)".
    #[test]
    fn mx_hosts_are_checked() {
        let zone = "$ORIGIN x.test.\n\
            mixed MX 0 .\nmixed MX 10 mx.x.test.\nmx A 192.0.2.1\n\
            mxcname MX 10 alias.x.test.\nalias CNAME mx.x.test.\n\
            mxnoaddr MX 10 nohost.x.test.\n\
            mxip MX 10 192.0.2.10.\n\
            good MX 10 mx.x.test.\n";
        let mx = |domain: &str| findings_in(zone, domain, Area::Mx);
        fix_of(
            &mx("mixed.x.test"),
            Severity::Yellow,
            "a null MX beside other MX records",
        );
        fix_of(
            &mx("mxcname.x.test"),
            Severity::Yellow,
            "alias.x.test is an alias (CNAME)",
        );
        let f = mx("mxnoaddr.x.test");
        fix_of(
            &f,
            Severity::Yellow,
            "nohost.x.test has no A or AAAA record",
        );
        fix_of(
            &f,
            Severity::Red,
            "none of the MX hosts of mxnoaddr.x.test has an address",
        );
        fix_of(
            &mx("mxip.x.test"),
            Severity::Yellow,
            "192.0.2.10 is an address, not a name",
        );
        let f = mx("good.x.test");
        assert!(f.iter().all(|(s, _, _)| *s == Severity::Green), "{f:#?}");
    }

    /// Trial findings F9 and F11: a domain without MX was "cannot receive mail" though
    /// its A record receives it (RFC 5321 §5.1), with an MX fix naming a host that does
    /// not exist and the "sends no mail" lock-down (p=reject) even when its SPF record
    /// lists a sender; the rua fix went to a null-MX domain, and for a record found by
    /// the tree walk to the subdomain instead of the record's domain.
    #[test]
    fn mail_handling_follows_the_implicit_mx_and_where_reports_can_go() {
        let zone = "$ORIGIN x.test.\n\
            bare A 192.0.2.98\n\
            aonly A 192.0.2.99\naonly TXT \"v=spf1 a -all\"\n\
            nothing TXT \"v=spf1 -all\"\n\
            nullmx MX 0 .\n_dmarc.nullmx TXT \"v=DMARC1; p=reject\"\n\
            inh MX 10 mx.x.test.\nmx A 192.0.2.1\n_dmarc.inh TXT \"v=DMARC1; p=reject\"\n\
            s.inh MX 10 mx.x.test.\n";
        let all = |domain: &str| {
            let resolver = ZoneResolver::parse(zone, "z", None).unwrap();
            let r = block_on(check(&resolver, domain, &CheckOptions::default()));
            r.findings
                .into_iter()
                .map(|f| (f.severity, f.message, f.fix))
                .collect::<Vec<_>>()
        };
        let f = all("bare.x.test");
        let mx = fix_of(
            &f,
            Severity::Yellow,
            "mail to it goes to the host of its A/AAAA record",
        );
        assert!(
            mx.is_some_and(|x| x.starts_with("bare.x.test. MX 10 bare.x.test.")),
            "{f:#?}"
        );
        assert!(
            !f.iter().any(|(_, m, _)| m.contains("cannot receive mail")),
            "{f:#?}"
        );
        let spf = fix_of(&f, Severity::Red, "publishes no SPF record");
        assert!(
            spf.is_some_and(|x| x.contains("\"v=spf1 a -all\"")),
            "{f:#?}"
        );
        let dmarc = fix_of(&f, Severity::Red, "publishes no DMARC record");
        assert!(
            dmarc.is_some_and(
                |x| x.contains("\"v=DMARC1; p=none; rua=mailto:dmarc-reports@bare.x.test\"")
            ),
            "{f:#?}"
        );
        // Its SPF record lists a sender: not a domain that sends no mail.
        let f = all("aonly.x.test");
        let dmarc = fix_of(&f, Severity::Red, "publishes no DMARC record");
        assert!(dmarc.is_some_and(|x| x.contains("p=none; rua=")), "{f:#?}");
        // No MX, no address, an SPF record that lets nothing pass: the lock-down.
        let f = all("nothing.x.test");
        let dmarc = fix_of(&f, Severity::Red, "publishes no DMARC record");
        assert!(
            dmarc
                .is_some_and(|x| x.contains("\"v=DMARC1; p=reject\"  (this domain sends no mail)")),
            "{f:#?}"
        );
        // A null MX takes no reports: no rua asked for, none offered.
        let f = all("nullmx.x.test");
        assert!(!f.iter().any(|(_, m, _)| m.contains("no rua=")), "{f:#?}");
        assert!(
            !f.iter()
                .any(|(_, _, x)| x.as_deref().is_some_and(|x| x.contains("dmarc-reports@"))),
            "{f:#?}"
        );
        // A record found by the tree walk: reports to the record's domain.
        let f = all("s.inh.x.test");
        let rua = fix_of(&f, Severity::Yellow, "no rua=");
        assert!(
            rua.is_some_and(
                |x| x.contains("\"v=DMARC1; p=reject; rua=mailto:dmarc-reports@inh.x.test\"")
            ),
            "{f:#?}"
        );
    }

    /// The fix of the sending prediction for `setup`.
    fn sending_fix(zone: &str, domain: &str, setup: SendingSetup) -> String {
        let resolver = ZoneResolver::parse(zone, "z", None).unwrap();
        let options = CheckOptions {
            sending: Some(setup),
            ..CheckOptions::default()
        };
        let r = block_on(check(&resolver, domain, &options));
        r.findings
            .into_iter()
            .find(|f| f.area == Area::Sending)
            .and_then(|f| f.fix)
            .unwrap_or_default()
    }

    /// Moving the MAIL FROM to the checked domain aligns SPF only if that domain's own
    /// record lists the addresses: the fix says which it does not (a trial's said
    /// nothing, and following it alone gave SPF fail).
    #[test]
    fn the_mail_from_fix_names_what_the_domain_must_list() {
        let zone = "$ORIGIN al.test.\n@ MX 10 mx\nmx A 192.0.2.40\n@ TXT \"v=spf1 mx -all\"\n\
            _dmarc TXT \"v=DMARC1; p=reject\"\n\
            other.test. TXT \"v=spf1 ip4:192.0.2.40 ip4:192.0.2.41 -all\"\n";
        let setup = |ip: &str| SendingSetup {
            ips: vec![ip.parse().unwrap()],
            mail_from_domain: Some("other.test".into()),
            signing_domain: None,
        };
        let unlisted = sending_fix(zone, "al.test", setup("192.0.2.41"));
        assert!(
            unlisted.contains("address at al.test or a subdomain of it, and add ip4:192.0.2.41 to the SPF record of al.test"),
            "{unlisted}"
        );
        let listed = sending_fix(zone, "al.test", setup("192.0.2.40"));
        assert!(
            listed.ends_with("address at al.test or a subdomain of it")
                && !listed.contains("add ip4"),
            "{listed}"
        );
    }

    /// A trial's finding F13: under adkim=s the fix said "sign with d=p.test (or a
    /// subdomain)" for a setup signing with a subdomain, which strict alignment refuses.
    #[test]
    fn strict_alignment_fixes_name_the_domain_exactly() {
        let zone = "p.test. TXT \"v=spf1 -all\"\n\
            bounce.p.test. TXT \"v=spf1 ip4:192.0.2.5 -all\"\n\
            _dmarc.p.test. TXT \"v=DMARC1; p=reject; aspf=s; adkim=s\"\n";
        let fix = sending_fix(
            zone,
            "p.test",
            SendingSetup {
                ips: vec!["192.0.2.5".parse().unwrap()],
                mail_from_domain: Some("bounce.p.test".into()),
                signing_domain: Some("sub.p.test".into()),
            },
        );
        assert_eq!(
            fix,
            "sign with d=p.test exactly (adkim=s: a subdomain does not align), publishing the key under p.test; \
             or send with a MAIL FROM (Return-Path) address at p.test itself (aspf=s: a subdomain does not align), \
             and add ip4:192.0.2.5 to the SPF record of p.test, which does not list it today"
        );
    }

    fn spf_findings(zone: &str) -> Vec<String> {
        let zone = ZoneResolver::parse(zone, "z", None).unwrap();
        let r = block_on(check(&zone, "d.test", &CheckOptions::default()));
        r.findings
            .into_iter()
            .filter(|f| f.area == Area::Spf)
            .map(|f| f.message)
            .collect()
    }

    /// The SPF findings of `domain`: (severity, message, fix).
    fn spf_findings_of(zone: &str, domain: &str) -> Vec<(Severity, String, Option<String>)> {
        findings_in(zone, domain, Area::Spf)
    }

    /// A trial's finding F2: an include or redirect= target ending in +all (or ?all),
    /// or a network of every address, was green "ends in -all" because only the top
    /// record's `all` was read; the colour is now what the evaluated policy gives a host
    /// it does not list (RFC 7208 §5.2, §6.1), for IPv4 and IPv6 clients.
    #[test]
    fn spf_colour_is_what_the_whole_policy_allows() {
        let zone = "incall.test. TXT \"v=spf1 include:_spf.incall.test -all\"\n\
            _spf.incall.test. TXT \"v=spf1 +all\"\n\
            redirall.test. TXT \"v=spf1 redirect=_r.redirall.test\"\n\
            _r.redirall.test. TXT \"v=spf1 ip4:192.0.2.1 +all\"\n\
            redirneutral.test. TXT \"v=spf1 redirect=_r.redirneutral.test\"\n\
            _r.redirneutral.test. TXT \"v=spf1 ip4:192.0.2.1 ?all\"\n\
            redirfail.test. TXT \"v=spf1 redirect=_r.redirfail.test\"\n\
            _r.redirfail.test. TXT \"v=spf1 ip4:192.0.2.1 -all\"\n\
            incneutral.test. TXT \"v=spf1 include:_n.incneutral.test -all\"\n\
            _n.incneutral.test. TXT \"v=spf1 ?all\"\n\
            wide.test. TXT \"v=spf1 ip4:0.0.0.0/0 -all\"\n\
            half.test. TXT \"v=spf1 include:_h.half.test -all\"\n\
            _h.half.test. TXT \"v=spf1 ip4:0.0.0.0/1 -ip4:192.0.2.0/1 -all\"\n\
            v6all.test. TXT \"v=spf1 ip4:192.0.2.1 ip6:::/0 -all\"\n\
            narrow.test. TXT \"v=spf1 ip4:17.0.0.0/8 ip6:2001:db8::/32 -all\"\n";
        let has = |d: &str, sev: Severity, needle: &str| {
            let f = spf_findings_of(zone, d);
            assert!(
                f.iter().any(|(s, m, _)| *s == sev && m.contains(needle)),
                "{d}: {f:#?}"
            );
            f
        };
        let f = has(
            "incall.test",
            Severity::Red,
            "include:_spf.incall.test in the record of incall.test lets every host pass",
        );
        assert!(
            !f.iter().any(|(_, m, _)| m == "the record ends in -all"),
            "{f:#?}"
        );
        has(
            "redirall.test",
            Severity::Red,
            "+all in the record of _r.redirall.test lets every host pass",
        );
        has(
            "redirneutral.test",
            Severity::Yellow,
            "?all in the record of _r.redirneutral.test gives every host",
        );
        has(
            "redirfail.test",
            Severity::Green,
            "the record ends in -all (in the record of _r.redirfail.test",
        );
        // An included ?all does not match (§5.2): the top record's -all decides.
        let f = has(
            "incneutral.test",
            Severity::Green,
            "the record ends in -all",
        );
        assert!(f.iter().all(|(s, _, _)| *s == Severity::Green), "{f:#?}");
        has(
            "wide.test",
            Severity::Red,
            "ip4:0.0.0.0/0 in the record of wide.test lets every host pass",
        );
        // A network of half the Internet, which the probe is not in.
        has(
            "half.test",
            Severity::Red,
            "ip4:0.0.0.0/1 in the record of _h.half.test allows a network wider",
        );
        // Every IPv6 host: said for IPv6 clients.
        has("v6all.test", Severity::Green, "the record ends in -all");
        has(
            "v6all.test",
            Severity::Red,
            "for IPv6 clients: ip6:::/0 in the record of v6all.test lets every host pass",
        );
        // A /8 and a /32 are networks organizations hold: nothing said.
        let f = spf_findings_of(zone, "narrow.test");
        assert!(f.iter().all(|(s, _, _)| *s == Severity::Green), "{f:#?}");
        // What the policy allows, listed: every address.
        let resolver = ZoneResolver::parse(zone, "z", None).unwrap();
        let r = block_on(check(&resolver, "redirall.test", &CheckOptions::default()));
        assert_eq!(r.spf_networks, ["0.0.0.0/0", "192.0.2.1/32", "::/0"]);
    }

    /// A trial's finding F16: a redirect= beside all, which receivers ignore (RFC 7208
    /// §6.1), and a ptr inside an included record went unsaid.
    #[test]
    fn an_ignored_redirect_and_an_included_ptr_are_named() {
        let zone = "d.test. TXT \"v=spf1 ip4:192.0.2.1 include:inc.test -all redirect=_spf.provider.test\"\n\
            inc.test. TXT \"v=spf1 ptr -all\"\n\
            _spf.provider.test. TXT \"v=spf1 ip4:198.51.100.0/24 -all\"\n";
        let f = spf_findings_of(zone, "d.test");
        fix_of(
            &f,
            Severity::Yellow,
            "the record of d.test has both all and redirect=_spf.provider.test: receivers ignore the redirect=",
        );
        fix_of(
            &f,
            Severity::Yellow,
            "the record of inc.test (included or redirected to) uses ptr",
        );
    }

    /// A record of many ptr terms is one finding: each carried the whole fixed record,
    /// so a 37 KB record of 2,000 ptr and 2,000 ip4 terms made 60 MB of findings.
    #[test]
    fn many_ptr_terms_are_one_finding() {
        let terms: Vec<String> = (0..400)
            .map(|i| format!("ptr ip4:10.0.{}.{}", i / 200, i % 200))
            .collect();
        let record = format!("v=spf1 {} -all", terms.join(" "));
        let strings: Vec<String> = record
            .as_bytes()
            .chunks(250)
            .map(|c| format!("\"{}\"", std::str::from_utf8(c).unwrap()))
            .collect();
        let zone = format!("d.test. TXT {}\n", strings.join(" "));
        let f = spf_findings_of(&zone, "d.test");
        let ptr = f.iter().filter(|(_, m, _)| m.contains("uses ptr")).count();
        assert_eq!(ptr, 1, "{f:#?}");
    }

    /// A trial's finding F15: void lookups were counted for an IPv4 client only; every
    /// `a:` naming an IPv4-only host is a void AAAA lookup for an IPv6 client, so three
    /// of them make the domain's IPv6 mail a permerror (RFC 7208 §4.6.4).
    #[test]
    fn void_lookups_are_counted_for_ipv6_clients_too() {
        let zone = "d.test. TXT \"v=spf1 a:h1.test a:h2.test a:h3.test ip6:2001:db8:ffff::/48 -all\"\n\
            h1.test. A 192.0.2.1\nh2.test. A 192.0.2.2\nh3.test. A 192.0.2.3\n";
        let f = spf_findings_of(zone, "d.test");
        assert!(
            f.iter().any(|(s, m, _)| *s == Severity::Red
                && m.starts_with("3 lookups of names that do not exist for IPv6 clients")),
            "{f:#?}"
        );
        // The sending-setup fix for one host of d.test.
        let fix_for = |zone: &str, ip: &str| {
            sending_fix(
                zone,
                "d.test",
                SendingSetup {
                    ips: vec![ip.parse().unwrap()],
                    ..SendingSetup::default()
                },
            )
        };
        // A prediction for an IPv6 host the record lists gives the cause, not "add the
        // address" (it is listed; the permerror comes first).
        let fix = fix_for(zone, "2001:db8:ffff::1");
        assert!(
            fix.contains("or make the SPF policy of d.test evaluate: it gives permerror for 2001:db8:ffff::1 (more than 2 void DNS lookups")
                && !fix.contains("add ip6:"),
            "{fix}"
        );
        // An error after an address that is compared: the words do not say no address
        // is compared (a trial's finding), only that the evaluation ends at the error.
        let broken = "d.test. TXT \"v=spf1 ip4:198.51.100.0/24 include:missing.test -all\"\n";
        let fix = fix_for(broken, "192.0.2.1");
        assert!(
            fix.contains("it gives permerror for 192.0.2.1 (")
                && fix.contains("an error ends the evaluation where it arises")
                && !fix.contains("so listing addresses does not help")
                && !fix.contains("add ip4:"),
            "{fix}"
        );
        // Two are within the limit.
        let zone = zone.replace(" a:h3.test", "");
        let f = spf_findings_of(&zone, "d.test");
        assert!(f.iter().all(|(s, _, _)| *s == Severity::Green), "{f:#?}");
    }

    /// Trial findings F8 and F20: keys every verifier rejects were green: s= without email
    /// or * (RFC 6376 §3.6.1), an Ed25519 p= that is not 32 bytes, an RSA key labelled
    /// k=ed25519 (RFC 8463 §4); so were two key records at one selector. The checker
    /// now reads keys with the verifier's tests.
    /// A key record no verifier can use gets a fix: an unparseable one a new key
    /// (rotation), an h= without sha256 the tag to change (both were red without one).
    #[test]
    fn unusable_key_records_get_a_fix() {
        let zone = "bad._domainkey.d.test. TXT \"v=DKIM1; k=rsa; p=!!notbase64!!\"\n\
            sha1._domainkey.d.test. TXT \"v=DKIM1; h=sha1; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=; k=ed25519\"\n";
        let resolver = ZoneResolver::parse(zone, "z", None).unwrap();
        let options = CheckOptions {
            selectors: ["bad", "sha1"].map(String::from).to_vec(),
            ..CheckOptions::default()
        };
        let r = block_on(check(&resolver, "d.test", &options));
        for (name, fix) in [
            ("bad._domainkey.d.test", "monban keygen --domain d.test"),
            ("sha1._domainkey.d.test", "remove h= from the key record"),
        ] {
            let f = r
                .findings
                .iter()
                .find(|f| f.severity == Severity::Red && f.message.starts_with(name))
                .unwrap_or_else(|| panic!("{name}: {:#?}", r.findings));
            let (_, worded) = worded(f);
            assert!(worded.is_some_and(|w| w.contains(fix)), "{name}: {f:#?}");
        }
    }

    #[test]
    fn dkim_keys_verifiers_reject_are_red() {
        const RSA: &str = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFCjxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB";
        let zone = format!(
            "svc._domainkey.d.test. TXT \"v=DKIM1; s=tlsrpt; k=rsa; p={RSA}\"\n\
             star._domainkey.d.test. TXT \"v=DKIM1; s=tlsrpt:*; p={RSA}\"\n\
             edshort._domainkey.d.test. TXT \"v=DKIM1; k=ed25519; p=AAAA\"\n\
             edrsa._domainkey.d.test. TXT \"v=DKIM1; k=ed25519; p={RSA}\"\n\
             ed._domainkey.d.test. TXT \"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n\
             two._domainkey.d.test. TXT \"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n\
             two._domainkey.d.test. TXT \"v=DKIM1; p={RSA}\"\n"
        );
        let resolver = ZoneResolver::parse(&zone, "z", None).unwrap();
        let options = CheckOptions {
            selectors: ["svc", "star", "edshort", "edrsa", "ed", "two"]
                .map(String::from)
                .to_vec(),
            ..CheckOptions::default()
        };
        let r = block_on(check(&resolver, "d.test", &options));
        let dkim = messages_in(&r, Area::Dkim);
        let said = |sel: &str| -> Vec<(Severity, &str)> {
            let name = format!("{sel}._domainkey.d.test:");
            dkim.iter()
                .copied()
                .filter(|(_, m)| m.starts_with(&name))
                .collect()
        };
        assert_eq!(
            said("svc"),
            [(
                Severity::Red,
                "svc._domainkey.d.test: s=tlsrpt does not name email or *: verifiers do not use this key for mail (RFC 6376 §3.6.1), so its signatures fail"
            )]
        );
        assert_eq!(
            said("star"),
            [(
                Severity::Yellow,
                "star._domainkey.d.test: RSA 1024 bits: RFC 8301 asks for 2048"
            )]
        );
        assert_eq!(said("edshort").len(), 1, "{dkim:#?}");
        assert!(
            said("edshort")[0].0 == Severity::Red
                && said("edshort")[0].1.contains("p= holds 3 bytes"),
            "{dkim:#?}"
        );
        assert!(
            said("edrsa")[0].0 == Severity::Red
                && said("edrsa")[0].1.contains("an RSA key (1024 bits)"),
            "{dkim:#?}"
        );
        assert_eq!(said("ed")[0].0, Severity::Green, "{dkim:#?}");
        // F20: two key records at one selector (RFC 6376 §3.6.2.2).
        assert!(
            dkim.iter().any(|(s, m)| *s == Severity::Red
                && m.starts_with("2 TXT records at two._domainkey.d.test")),
            "{dkim:#?}"
        );
    }

    /// A `v=DMARC10` record beside a valid one is not a second record (RFC 9989 §4.7:
    /// the version must match precisely): the valid one applies. White space before
    /// `v=` is read, with a warning (RFC 9989's ABNF has none).
    #[test]
    fn near_miss_records_are_not_counted_and_leading_space_is_warned() {
        let zone = "d.test. MX 10 mx.d.test.\nmx.d.test. A 192.0.2.1\n\
            d.test. TXT \"v=spf1 mx -all\"\n\
            _dmarc.d.test. TXT \"v=DMARC1; p=reject\"\n\
            _dmarc.d.test. TXT \"v=DMARC10; p=none\"\n\
            s.test. MX 10 mx.d.test.\n\
            s.test. TXT \"v=spf1 mx -all\"\n\
            _dmarc.s.test. TXT \" v=DMARC1; p=reject\"\n";
        let f = findings_in(zone, "d.test", Area::Dmarc);
        assert!(!f.iter().any(|(s, _, _)| *s == Severity::Red), "{f:#?}");
        assert!(f.iter().any(|(_, m, _)| m.contains("p=reject")), "{f:#?}");
        let f = findings_in(zone, "s.test", Area::Dmarc);
        let (_, _, fix) = f
            .iter()
            .find(|(s, m, _)| *s == Severity::Yellow && m.contains("starts with white space"))
            .unwrap_or_else(|| panic!("{f:#?}"));
        assert_eq!(
            fix.as_deref(),
            Some(
                "_dmarc.s.test. TXT \"v=DMARC1; p=reject\"  (the same record without the leading white space)"
            )
        );
    }

    /// A record meant as SPF that receivers do not read (white space or quotation
    /// marks around it, only the retired type 99, only a Sender ID record for MAIL
    /// FROM) is fixed as that record made readable: a trial's got "publish v=spf1
    /// -all", which would have failed the domain's real sender.
    #[test]
    fn a_record_meant_as_spf_is_fixed_as_itself() {
        let zone = "ls.test. TXT \" v=spf1 ip4:192.0.2.1 -all\"\n\
            q.test. TXT \"\\\"v=spf1 ip4:192.0.2.2  ~all\\\"\"\n\
            t99.test. SPF \"v=spf1 ip4:192.0.2.3 -all\"\n\
            sid.test. TXT \"spf2.0/mfrom,pra ip4:192.0.2.4 -all\"\n\
            pra.test. TXT \"spf2.0/pra ip4:192.0.2.5 -all\"\n";
        for (domain, record, says) in [
            (
                "ls.test",
                Some("v=spf1 ip4:192.0.2.1 -all"),
                "looks like SPF",
            ),
            (
                "q.test",
                Some("v=spf1 ip4:192.0.2.2 ~all"),
                "looks like SPF",
            ),
            (
                "t99.test",
                Some("v=spf1 ip4:192.0.2.3 -all"),
                "publishes no SPF record",
            ),
            (
                "sid.test",
                Some("v=spf1 ip4:192.0.2.4 -all"),
                "publishes no SPF record",
            ),
            ("pra.test", None, "publishes no SPF record"),
        ] {
            let f = spf_findings_of(zone, domain);
            let (_, _, fix) = f
                .iter()
                .find(|(s, m, _)| *s == Severity::Red && m.contains(says))
                .unwrap_or_else(|| panic!("{domain}: {f:#?}"));
            let offered = fix.as_deref().and_then(offered_txt);
            match record {
                Some(r) => assert_eq!(offered.as_deref(), Some(r), "{domain}: {fix:?}"),
                None => assert_eq!(offered.as_deref(), Some("v=spf1 -all"), "{domain}: {fix:?}"),
            }
        }
    }

    /// RFC 7208 §5.1: terms after `all` are never evaluated, so an include there is
    /// not walked (it was red "has 0 SPF records: permerror"); the record says they do
    /// nothing. And a record of 11 includes is red even when the probe's evaluation
    /// stops at the first (it was green "at least 1").
    #[test]
    fn terms_after_all_are_not_walked_and_an_early_stop_still_counts_the_record() {
        let after = "d.test. TXT \"v=spf1 -all include:spammer.test\"\n";
        let f = spf_findings_of(after, "d.test");
        assert!(!f.iter().any(|(s, _, _)| *s == Severity::Red), "{f:#?}");
        assert!(
            f.iter().any(|(s, m, _)| *s == Severity::Yellow
                && m == "the record of d.test has terms after all: receivers never evaluate them (RFC 7208 §5.1), so they do nothing"),
            "{f:#?}"
        );
        let terms: Vec<String> = (0..11)
            .map(|i| format!("include:%{{i}}.x{i}.test"))
            .collect();
        let eleven = format!("d.test. TXT \"v=spf1 {} -all\"\n", terms.join(" "));
        let f = spf_findings_of(&eleven, "d.test");
        assert!(
            f.iter()
                .any(|(s, m, _)| *s == Severity::Red
                    && m.starts_with("at least 11 DNS-querying terms")),
            "{f:#?}"
        );
    }

    /// A walk that did not read the whole tree (a DNS failure, its time or query limit)
    /// offers no flattened record: built from what was read and ending in -all, it
    /// would leave out the senders of the records not read (a review's finding).
    #[test]
    fn an_incomplete_walk_offers_no_flattened_record() {
        struct Broken(ZoneResolver);
        impl Resolver for Broken {
            async fn lookup(&self, name: &str, rtype: RecordType) -> monban_dns::Lookup {
                if name == "i11.test" {
                    return Err(LookupError::Timeout {
                        name: name.to_owned(),
                    });
                }
                self.0.lookup_now(name, rtype)
            }
        }
        let mut zone = String::from("d.test. TXT \"v=spf1");
        for i in 0..12 {
            zone.push_str(&format!(" include:i{i}.test"));
        }
        zone.push_str(" -all\"\n");
        for i in 0..12 {
            zone.push_str(&format!("i{i}.test. TXT \"v=spf1 ip4:192.0.2.{i} -all\"\n"));
        }
        let fixes = |resolver: &dyn Fn() -> CheckReport| -> Vec<String> {
            resolver()
                .findings
                .into_iter()
                .filter(|f| f.area == Area::Spf)
                .filter_map(|f| f.fix)
                .collect()
        };
        let whole = ZoneResolver::parse(&zone, "z", None).unwrap();
        let all = fixes(&|| block_on(check(&whole, "d.test", &CheckOptions::default())));
        // 192.0.2.0 to .11, aggregated: .0/29 and .8/30 (the last include's .11 in it).
        assert!(
            all.iter()
                .any(|f| f.contains("ip4:192.0.2.0/29 ip4:192.0.2.8/30 -all")),
            "{all:#?}"
        );
        let broken = Broken(ZoneResolver::parse(&zone, "z", None).unwrap());
        let part = fixes(&|| block_on(check(&broken, "d.test", &CheckOptions::default())));
        assert!(!part.iter().any(|f| f.contains("flattened")), "{part:#?}");
    }

    /// A tree of slow servers held a check for one timeout per record in turn (the web
    /// checker answered 503 after 60 s): the walk asks nothing more once its time is
    /// up, and says so. Here 10 includes in a chain at 20 ms an answer, under 100 ms.
    #[test]
    fn the_walk_stops_asking_when_its_time_is_up() {
        struct Slow(ZoneResolver);
        impl Resolver for Slow {
            async fn lookup(&self, name: &str, rtype: RecordType) -> monban_dns::Lookup {
                std::thread::sleep(std::time::Duration::from_millis(20));
                self.0.lookup_now(name, rtype)
            }
        }
        let mut zone = String::new();
        for i in 0..10 {
            zone.push_str(&format!(
                "i{i}.test. TXT \"v=spf1 ip4:192.0.2.{i} include:i{}.test -all\"\n",
                i + 1
            ));
        }
        zone.push_str("i10.test. TXT \"v=spf1 -all\"\n");
        let resolver = Slow(ZoneResolver::parse(&zone, "z", None).unwrap());
        let mut walk = Walk::within(std::time::Duration::from_millis(100));
        block_on(walk.visit(&resolver, "i0.test", 0));
        // At most six: each answer takes 20 ms, so the time is up after the fifth. (No
        // lower bound: a loaded machine may spend the 100 ms before the first query.)
        assert!(walk.queries <= 6, "{} queries", walk.queries);
        let problems: Vec<String> = walk
            .problems
            .iter()
            .map(|(_, m)| m.text(Lang::En))
            .collect();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("took more than 0.1 s in all")),
            "{problems:#?}"
        );
        // Without a limit the same tree is walked to its end.
        let mut whole = Walk::default();
        block_on(whole.visit(&resolver, "i0.test", 0));
        assert_eq!(whole.networks.len(), 10);
    }

    /// The sections of a check ask DNS at the same time (a slow server costs its
    /// timeout once per section, not once per query in turn), and their findings keep
    /// their order.
    #[test]
    fn the_sections_ask_dns_at_the_same_time() {
        struct Overlap {
            zone: ZoneResolver,
            now: std::sync::atomic::AtomicUsize,
            most: std::sync::atomic::AtomicUsize,
        }
        impl Resolver for Overlap {
            async fn lookup(&self, name: &str, rtype: RecordType) -> monban_dns::Lookup {
                use std::sync::atomic::Ordering::SeqCst;
                let n = self.now.fetch_add(1, SeqCst) + 1;
                self.most.fetch_max(n, SeqCst);
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
                self.now.fetch_sub(1, SeqCst);
                self.zone.lookup_now(name, rtype)
            }
        }
        let zone = "c.test. MX 10 mx.c.test.\nmx.c.test. A 192.0.2.1\n\
            c.test. TXT \"v=spf1 mx -all\"\n\
            _dmarc.c.test. TXT \"v=DMARC1; p=reject\"\n";
        let resolver = Overlap {
            zone: ZoneResolver::parse(zone, "z", None).unwrap(),
            now: Default::default(),
            most: Default::default(),
        };
        let r = block_on(check(&resolver, "c.test", &CheckOptions::default()));
        let most = resolver.most.load(std::sync::atomic::Ordering::SeqCst);
        assert!(most >= 4, "at most {most} lookups at once");
        let areas: Vec<Area> = r.findings.iter().map(|f| f.area).collect();
        let mut first = Vec::new();
        for a in &areas {
            if !first.contains(a) {
                first.push(*a);
            }
        }
        assert_eq!(
            first[..4],
            [Area::Mx, Area::Spf, Area::Dmarc, Area::Dkim],
            "{areas:?}"
        );
    }

    /// A trial's finding F19: a DNS failure on an include target was red "0 SPF
    /// records: permerror", and on the rua authorization record red "not authorized";
    /// neither is known while the lookup fails (RFC 7208 §5.2: temperror).
    #[test]
    fn dns_failures_are_temporary_not_red() {
        /// Fails every lookup under outside.example, as a provider's broken DNS would.
        struct Broken(ZoneResolver);
        impl Resolver for Broken {
            async fn lookup(&self, name: &str, rtype: RecordType) -> monban_dns::Lookup {
                if name.trim_end_matches('.').ends_with("outside.example") {
                    return Err(LookupError::ServFail {
                        name: name.to_owned(),
                        detail: "SERVFAIL".into(),
                    });
                }
                self.0.lookup_now(name, rtype)
            }
        }
        let zone = "tf.test. MX 10 mx.tf.test.\nmx.tf.test. A 192.0.2.1\n\
            tf.test. TXT \"v=spf1 ip4:192.0.2.1 include:_spf.outside.example -all\"\n\
            _dmarc.tf.test. TXT \"v=DMARC1; p=reject; rua=mailto:r@reports.outside.example\"\n";
        let resolver = Broken(ZoneResolver::parse(zone, "z", None).unwrap());
        let r = block_on(check(&resolver, "tf.test", &CheckOptions::default()));
        let spf = messages_in(&r, Area::Spf);
        assert!(
            spf.iter().any(|(s, m)| *s == Severity::Yellow
                && m.starts_with("could not look up the SPF record of _spf.outside.example")),
            "{spf:#?}"
        );
        let dmarc = messages_in(&r, Area::Dmarc);
        assert!(
            dmarc.iter().any(|(s, m)| *s == Severity::Yellow
                && m.contains("whether it authorized these reports could not be checked")),
            "{dmarc:#?}"
        );
        assert_eq!(r.status, Severity::Yellow, "{:#?}", r.findings);
    }

    /// The TXT record a fix offers (its quoted strings joined), if it offers one.
    fn offered_txt(fix: &str) -> Option<String> {
        let mut rest = &fix[fix.find(" TXT \"")? + 5..];
        let mut value = String::new();
        while let Some(after) = rest.strip_prefix('"') {
            let mut chars = after.char_indices();
            let end = loop {
                match chars.next()? {
                    (_, '\\') => value.push(chars.next()?.1),
                    (i, '"') => break i,
                    (_, c) => value.push(c),
                }
            };
            rest = after[end + 1..].strip_prefix(' ').unwrap_or("");
        }
        Some(value)
    }

    /// A new user's trial: the merged record offered for a domain with two SPF records
    /// kept an include that has no record, so pasting it gave permerror still, and the
    /// check said so only once it was published. What the merged record includes is
    /// walked now, with the finding on the several records.
    #[test]
    fn the_merged_record_s_includes_are_checked() {
        let zone = "two.test. TXT \"v=spf1 include:gone.test -all\"\n\
            two.test. TXT \"v=spf1 include:_spf.ok.test redirect=_r.two.test\"\n\
            _spf.ok.test. TXT \"v=spf1 ip4:192.0.2.1 -all\"\n\
            _r.two.test. TXT \"v=spf1 ip4:192.0.2.2 -all\"\n\
            _r.two.test. TXT \"v=spf1 ip4:192.0.2.3 -all\"\n\
            fine.test. TXT \"v=spf1 include:_spf.ok.test -all\"\n\
            fine.test. TXT \"v=spf1 ip4:192.0.2.9 ~all\"\n";
        // Whether a red finding holds `text` (or starts with it).
        let red = |f: &[(Severity, String, Option<String>)], text: &str, at_start: bool| {
            f.iter().any(|(s, m, _)| {
                *s == Severity::Red
                    && if at_start {
                        m.starts_with(text)
                    } else {
                        m.contains(text)
                    }
            })
        };
        let f = spf_findings_of(zone, "two.test");
        let has = |text: &str| red(&f, text, false);
        assert!(has("2 SPF records: receivers treat this"), "{f:#?}");
        assert!(
            has("gone.test (included or redirected to) has 0 SPF records"),
            "{f:#?}"
        );
        // The redirect= became an include of its target, which has two records.
        assert!(
            has("_r.two.test (included or redirected to) has 2 SPF records"),
            "{f:#?}"
        );
        assert!(
            !f.iter().any(|(_, m, _)| m.contains("_spf.ok.test")),
            "{f:#?}"
        );
        // Merged records whose includes are sound: the one finding.
        let f = spf_findings_of(zone, "fine.test");
        assert_eq!(f.len(), 1, "{f:#?}");
        // Six lookups each: twelve merged, over the ten receivers make.
        let mut many = String::new();
        for r in 0..2 {
            let terms: Vec<String> = (0..6).map(|i| format!("a:h{r}{i}.many.test")).collect();
            many.push_str(&format!(
                "many.test. TXT \"v=spf1 {} -all\"\n",
                terms.join(" ")
            ));
        }
        let f = spf_findings_of(&many, "many.test");
        assert!(
            red(&f, "the merged record would make 12 DNS lookups", true),
            "{f:#?}"
        );
        // A term that does not parse, copied into the merged record: said so, not as a
        // record of the domain that does not parse.
        let bad = "bad.test. TXT \"v=spf1 ip4:192.0.2.1 -all\"\n\
            bad.test. TXT \"v=spf1 ip4:300.0.0.1 -all\"\n";
        let f = spf_findings_of(bad, "bad.test");
        assert!(
            red(
                &f,
                "the records cannot be merged into one that parses",
                true
            ),
            "{f:#?}"
        );
        assert!(
            !f.iter()
                .any(|(_, m, _)| m.contains("does not parse: receivers")),
            "{f:#?}"
        );
        // Neither merged record is offered as the fix: it would be a permerror too.
        for (zone, domain) in [(many.as_str(), "many.test"), (bad, "bad.test")] {
            let f = spf_findings_of(zone, domain);
            let fix = fix_of(&f, Severity::Red, "SPF records: receivers treat");
            assert!(
                fix.as_deref()
                    .is_some_and(|x| x.contains("by hand") && !x.contains("v=spf1")),
                "{domain}: {f:#?}"
            );
        }
    }

    /// Trial findings F3, F4, F17: merged records with two exp= (invalid), merged
    /// records without the redirect= (the provider's senders gone), and "v=spf1 -all"
    /// for a +all, ?all or ptr-only record of a domain that sends mail. Every SPF
    /// record a fix offers parses with monban's parser, and keeps every term the owner
    /// listed (but ptr, all, and a redirect= that became an include:), flattening
    /// apart.
    #[test]
    fn every_offered_spf_fix_parses_and_keeps_the_owners_terms() {
        let mut zone = String::from(
            "twoexp.test. TXT \"v=spf1 ip4:192.0.2.20 -all exp=a.twoexp.test\"\n\
             twoexp.test. TXT \"v=spf1 ip4:192.0.2.21 -all exp=b.twoexp.test\"\n\
             two.test. TXT \"v=spf1 redirect=_spf.provider.test\"\n\
             two.test. TXT \"v=spf1 ip4:192.0.2.20 -all\"\n\
             _spf.provider.test. TXT \"v=spf1 ip4:198.51.100.0/24 -all\"\n\
             pa.test. MX 10 mx.pa.test.\npa.test. TXT \"v=spf1 +all\"\n\
             b.pa.test. MX 10 mx.pa.test.\nb.pa.test. TXT \"v=spf1 ?all\"\n\
             c.pa.test. MX 10 mx.pa.test.\nc.pa.test. TXT \"v=spf1 a ip4:192.0.2.9 ?all\"\n\
             nomx.pa.test. TXT \"v=spf1 +all\"\n\
             ptronly.test. MX 10 mx.pa.test.\nptronly.test. TXT \"v=spf1 ptr -all\"\n\
             ptrplus.test. TXT \"v=spf1 ptr:x.test a:h.ptrplus.test +all\"\n\
             noall.test. TXT \"v=spf1 mx a:h.noall.test\"\n\
             bare.test. MX 10 mx.pa.test.\nbare.test. TXT \"v=spf1\"\n\
             none.test. MX 10 mx.pa.test.\n\
             mx.pa.test. A 192.0.2.25\n\
             dead.test. TXT \"v=spf1 ip4:192.0.2.1 +all include:evil.test\"\n\
             evil.test. TXT \"v=spf1 +all\"\n\
             deadq.test. TXT \"v=spf1 ip4:192.0.2.1 ?all a:gone.deadq.test exp=e.deadq.test\"\n\
             twodead.test. TXT \"v=spf1 ip4:192.0.2.30 -all include:evil.test\"\n\
             twodead.test. TXT \"v=spf1 ip4:192.0.2.31 ~all\"\n",
        );
        // Over 10 lookups: the flattened record.
        zone.push_str("flat.test. TXT \"v=spf1");
        for i in 0..11 {
            zone.push_str(&format!(" a:h{i}.flat.test"));
        }
        zone.push_str(" -all\"\n");
        for i in 0..11 {
            zone.push_str(&format!("h{i}.flat.test. A 192.0.2.{i}\n"));
        }
        let resolver = ZoneResolver::parse(&zone, "z", None).unwrap();
        let domains = [
            "twoexp.test",
            "two.test",
            "pa.test",
            "b.pa.test",
            "c.pa.test",
            "nomx.pa.test",
            "ptronly.test",
            "ptrplus.test",
            "noall.test",
            "bare.test",
            "none.test",
            "flat.test",
            "dead.test",
            "deadq.test",
            "twodead.test",
        ];
        let mut offered = 0;
        for domain in domains {
            let r = block_on(check(&resolver, domain, &CheckOptions::default()));
            let owners: Vec<String> = resolver
                .lookup_now(domain, RecordType::Txt)
                .map(|a| {
                    a.records
                        .iter()
                        .filter_map(|r| match r {
                            Record::Txt(t) => {
                                Some(String::from_utf8_lossy(&t.joined()).into_owned())
                            }
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default();
            for f in r.findings.iter().filter(|f| f.area == Area::Spf) {
                let Some(fix) = f.fix.as_deref() else {
                    continue;
                };
                let Some(txt) = offered_txt(fix) else {
                    continue;
                };
                offered += 1;
                let parsed = SpfRecord::parse(&txt)
                    .unwrap_or_else(|e| panic!("{domain}: {fix}: does not parse: {e}"));
                if fix.contains("(flattened:") {
                    continue;
                }
                // Some host is let through, unless the domain has no mail (no MX).
                let has_mx = resolver.lookup_now(domain, RecordType::Mx).is_ok();
                assert!(
                    !has_mx
                        || parsed
                            .directives()
                            .any(|d| d.qualifier() == Qualifier::Pass
                                && d.mechanism != Mechanism::All),
                    "{domain}: {fix}: lets no host pass"
                );
                let kept = |t: &str| txt.split_whitespace().any(|x| x.eq_ignore_ascii_case(t));
                for owner in &owners {
                    // Mechanisms after `all` are dead (RFC 7208 §5.1): a fix that kept
                    // them before its own `all` would bring them to life.
                    let terms = spf_terms(owner);
                    let first_all = terms.iter().position(|t| is_all(t));
                    for t in first_all.map_or(&[][..], |i| &terms[i + 1..]) {
                        if !is_modifier(t) {
                            assert!(!kept(t), "{domain}: {fix}: brings {t} to life");
                        }
                    }
                    for t in spf_terms(&spf_live(owner)) {
                        let bare = t
                            .trim_start_matches(['+', '-', '~', '?'])
                            .to_ascii_lowercase();
                        if is_all(t)
                            || bare == "ptr"
                            || bare.starts_with("ptr:")
                            || bare.starts_with("exp=")
                        {
                            continue;
                        }
                        let ok = match bare.strip_prefix("redirect=") {
                            Some(target) => kept(t) || kept(&format!("include:{target}")),
                            None => kept(t),
                        };
                        assert!(ok, "{domain}: {fix}: drops {t}");
                    }
                }
            }
        }
        assert!(offered >= 10, "{offered}");
        // The fixes F3, F4 and F17 asked for, as offered.
        let fix_of = |domain: &str| -> Vec<String> {
            let r = block_on(check(&resolver, domain, &CheckOptions::default()));
            r.findings
                .into_iter()
                .filter(|f| f.area == Area::Spf)
                .filter_map(|f| f.fix)
                .collect()
        };
        let has = |domain: &str, record: &str| {
            let fixes = fix_of(domain);
            assert!(
                fixes.iter().any(|f| f.contains(record)),
                "{domain}: {fixes:#?}"
            );
        };
        has(
            "twoexp.test",
            "\"v=spf1 ip4:192.0.2.20 exp=a.twoexp.test ip4:192.0.2.21 -all\"",
        );
        has(
            "two.test",
            "\"v=spf1 include:_spf.provider.test ip4:192.0.2.20 -all\"",
        );
        has(
            "pa.test",
            "\"v=spf1 mx ~all\"  (list every host that sends as pa.test",
        );
        has("b.pa.test", "\"v=spf1 mx ~all\"");
        has("c.pa.test", "\"v=spf1 a ip4:192.0.2.9 ~all\"");
        has("ptronly.test", "\"v=spf1 mx ~all\"");
        has("ptrplus.test", "\"v=spf1 a:h.ptrplus.test ~all\"");
        // No MX and nothing to let through: the domain sends no mail.
        has("nomx.pa.test", "\"v=spf1 ~all\"");
    }

    /// RFC 7208 §3.4: the answer to the TXT query, other TXT records counted, should
    /// fit in 512 bytes; a 12 kB record used to pass without a word.
    #[test]
    fn an_spf_answer_past_512_bytes_is_named() {
        let terms = |from: u8| {
            (from..from + 15)
                .map(|i| format!("ip4:192.0.2.{i}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        // Two strings of 15 terms (452 bytes in all): an answer of 490 bytes; with a
        // 60-byte verification token beside it, 563.
        let spf = format!(
            "d.test. TXT \"v=spf1 {} \" \"{} -all\"\n",
            terms(1),
            terms(20)
        );
        let token = format!("d.test. TXT \"site-verification={}\"\n", "x".repeat(42));
        let big = |zone: &str| {
            spf_findings(zone)
                .into_iter()
                .find(|m| m.contains("RFC 7208 §3.4"))
        };
        assert_eq!(big(&spf), None);
        let found = big(&format!("{spf}{token}")).unwrap_or_default();
        assert!(
            found.starts_with("the TXT records of this name make a DNS answer of 563 bytes"),
            "{found}"
        );
    }

    /// The networks the policy allows are in address order, not text order.
    #[test]
    fn spf_networks_in_address_order() {
        let zone = "d.test. TXT \"v=spf1 ip6:2001:db8::/32 ip4:192.0.2.0/24 ip4:9.9.9.9 ip4:10.0.0.0/8 -all\"\n";
        let zone = ZoneResolver::parse(zone, "z", None).unwrap();
        let r = block_on(check(&zone, "d.test", &CheckOptions::default()));
        assert_eq!(
            r.spf_networks,
            ["9.9.9.9/32", "10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32"]
        );
    }

    /// The flattened record's networks are the fewest blocks covering the same
    /// addresses: twelve adjacent /24s are a /21 and a /22 (a trial's flattened record
    /// was 2,304 bytes, past the 512 bytes RFC 7208 §3.4 advises).
    #[test]
    fn flattened_networks_are_aggregated() {
        let set = |nets: &[&str]| -> BTreeSet<(IpAddr, u8)> {
            nets.iter()
                .map(|n| {
                    let (ip, p) = n.split_once('/').unwrap();
                    (ip.parse().unwrap(), p.parse().unwrap())
                })
                .collect()
        };
        let shown = |nets: Vec<(IpAddr, u8)>| {
            nets.into_iter()
                .map(|(ip, p)| format!("{ip}/{p}"))
                .collect::<Vec<_>>()
        };
        let twelve: Vec<String> = (0..12).map(|i| format!("10.0.{i}.0/24")).collect();
        let twelve: Vec<&str> = twelve.iter().map(String::as_str).collect();
        assert_eq!(
            shown(aggregate(&set(&twelve))),
            ["10.0.0.0/21", "10.0.8.0/22"]
        );
        assert_eq!(
            shown(aggregate(&set(&[
                "192.0.2.0/25",
                "192.0.2.128/25",
                "192.0.2.7/32",
                "198.51.100.9/24",
                "198.51.100.200/32",
                "2001:db8::/33",
                "2001:db8:8000::/33",
                "2001:db8::1/128",
            ]))),
            ["192.0.2.0/24", "198.51.100.0/24", "2001:db8::/32"]
        );
        // Not siblings: 192.0.2.128/25 and 192.0.3.0/25 stay apart.
        assert_eq!(
            shown(aggregate(&set(&[
                "192.0.2.128/25",
                "192.0.3.0/25",
                "0.0.0.0/0"
            ]))),
            ["0.0.0.0/0"]
        );
        assert_eq!(
            shown(aggregate(&set(&["192.0.2.128/25", "192.0.3.0/25"]))),
            ["192.0.2.128/25", "192.0.3.0/25"]
        );
    }

    /// A record that lists the probe's own address is not "every host": the second
    /// probe, from another reserved range, says what an unlisted host gets (a trial's
    /// `ip4:240.0.0.1 -all` was red "lets every host pass"). What passes both is.
    #[test]
    fn listing_the_probe_address_is_not_passing_every_host() {
        let zone = "p1.test. TXT \"v=spf1 ip4:240.0.0.1 ip6:100::1 -all\"\n\
            halves.test. TXT \"v=spf1 ip4:0.0.0.0/1 ip4:128.0.0.0/1 -all\"\n\
            plus.test. TXT \"v=spf1 ip4:192.0.2.1 +all\"\n";
        let everyone = |domain: &str| {
            spf_findings_of(zone, domain)
                .iter()
                .any(|(s, m, _)| *s == Severity::Red && m.contains("every host"))
        };
        assert!(
            !everyone("p1.test"),
            "{:#?}",
            spf_findings_of(zone, "p1.test")
        );
        assert!(everyone("halves.test"));
        assert!(everyone("plus.test"));
        let zone = ZoneResolver::parse(zone, "z", None).unwrap();
        let r = block_on(check(&zone, "p1.test", &CheckOptions::default()));
        assert_eq!(r.spf_networks, ["240.0.0.1/32", "100::1/128"]);
    }

    /// Only what lets a host pass is listed as allowed: not a network under a `-`,
    /// `~` or `?` term or include (a host there gets fail, softfail or neutral), nor the
    /// hosts of an `mx` over 10 MX records (permerror for every host). A trial's record
    /// with `?ip4:198.51.100.0/24 -ip4:192.0.2.7` listed both as allowed.
    #[test]
    fn only_networks_that_pass_are_listed() {
        let mut zone = String::from(
            "q.test. TXT \"v=spf1 ?ip4:198.51.100.0/24 -ip4:192.0.2.7 ip4:192.0.2.0/24 ~a:h.q.test -include:inc.test include:ok.test -all\"\n\
             h.q.test. A 203.0.113.1\n\
             inc.test. TXT \"v=spf1 ip4:203.0.113.2 -all\"\n\
             ok.test. TXT \"v=spf1 ip4:203.0.113.3 ?ip4:203.0.113.4 -all\"\n\
             manymx.test. TXT \"v=spf1 ip4:192.0.2.99 mx -all\"\n",
        );
        for i in 0..12 {
            zone.push_str(&format!(
                "manymx.test. MX {i} mx{i}.manymx.test.\nmx{i}.manymx.test. A 198.51.100.{i}\n"
            ));
        }
        let zone = ZoneResolver::parse(&zone, "z", None).unwrap();
        let networks = |d: &str| block_on(check(&zone, d, &CheckOptions::default())).spf_networks;
        assert_eq!(networks("q.test"), ["192.0.2.0/24", "203.0.113.3/32"]);
        assert_eq!(networks("manymx.test"), ["192.0.2.99/32"]);
    }

    /// Issue 9: an include reached by two branches (a diamond) is legal; it was
    /// reported as a loop, once per repeat (300 red lines for width 30).
    #[test]
    fn regression_issue9_include_diamond_is_not_a_loop() {
        // The record in several strings of at most 10 terms (each under 255 octets).
        let mut zone = String::from("d.test. TXT \"v=spf1\"");
        for chunk in (0..30).collect::<Vec<_>>().chunks(10) {
            zone.push_str(" \"");
            for i in chunk {
                zone.push_str(&format!(" include:b{i}.test"));
            }
            zone.push('"');
        }
        zone.push_str(" \" -all\"\n");
        for i in 0..30 {
            zone.push_str(&format!(
                "b{i}.test. TXT \"v=spf1 include:shared.test -all\"\n"
            ));
        }
        zone.push_str("shared.test. TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n");
        let findings = spf_findings(&zone);
        assert!(
            !findings.iter().any(|m| m.contains("loop")),
            "{findings:#?}"
        );
        // Receivers count every include again: far over the limit of 10, said once.
        assert!(
            findings.iter().any(|m| m.contains("lookups")),
            "{findings:#?}"
        );
        assert!(findings.len() < 10, "{findings:#?}");
        // A small diamond stays within the limit and is clean of loop findings too.
        let small = "d.test. TXT \"v=spf1 include:a.test include:b.test -all\"\n\
            a.test. TXT \"v=spf1 include:s.test -all\"\nb.test. TXT \"v=spf1 include:s.test -all\"\n\
            s.test. TXT \"v=spf1 ip4:192.0.2.1 -all\"\n";
        assert!(!spf_findings(small).iter().any(|m| m.contains("loop")));
    }

    /// A record of 4,000 `mx:` terms (each host with 11 MX records) asked for tens of
    /// thousands of lookups per record walked; the walk stops at its query budget, and
    /// says so once.
    #[test]
    fn regression_issue9_walk_query_budget() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        struct Counting(ZoneResolver, AtomicUsize);
        impl Resolver for Counting {
            async fn lookup(&self, name: &str, rtype: RecordType) -> monban_dns::Lookup {
                self.1.fetch_add(1, Ordering::Relaxed);
                self.0.lookup_now(name, rtype)
            }
        }
        let mut zone = String::from("d.test. TXT \"v=spf1\"");
        let terms: Vec<String> = (0..4_000).map(|i| format!(" mx:m{i}.test")).collect();
        for chunk in terms.chunks(15) {
            zone.push_str(&format!(" \"{}\"", chunk.concat()));
        }
        zone.push_str(" \" -all\"\n");
        for i in 0..4_000 {
            for p in 0..11 {
                zone.push_str(&format!("m{i}.test. MX {p} h{p}.test.\n"));
            }
        }
        let r = Counting(
            ZoneResolver::parse(&zone, "z", None).unwrap(),
            AtomicUsize::new(0),
        );
        let report = block_on(check(&r, "d.test", &CheckOptions::default()));
        assert!(r.1.load(Ordering::Relaxed) < MAX_WALK_QUERIES + 100);
        let budget: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.message.contains("DNS queries"))
            .collect();
        assert_eq!(budget.len(), 1, "{:#?}", report.findings);
    }

    /// A zone whose `d.test` record holds `terms` (split into strings a zone file
    /// takes), and `extra` lines.
    fn zone_with_terms(terms: &[String], extra: &str) -> String {
        let mut zone = String::from("d.test. TXT \"v=spf1\"");
        for chunk in terms.chunks(10) {
            zone.push_str(&format!(" \"{}\"", chunk.concat()));
        }
        zone.push_str(" \" -all\"\n");
        zone.push_str(extra);
        zone
    }

    /// The counting evaluation goes to 50 DNS-querying terms and 50 void lookups: 50
    /// are counted whole, 51 are said to be more than 50 (void lookups are terms too,
    /// so 51 of them meet the term bound first).
    #[test]
    fn the_counting_evaluation_stops_past_count_limit() {
        let limit = COUNT_LIMIT as usize;
        for n in [limit, limit + 1] {
            // Terms naming hosts that exist.
            let terms: Vec<String> = (0..n).map(|i| format!(" a:h{i}.test")).collect();
            let hosts: String = (0..n)
                .map(|i| format!("h{i}.test. A 192.0.2.1\n"))
                .collect();
            let findings = spf_findings(&zone_with_terms(&terms, &hosts));
            let whole = format!("{n} DNS-querying terms in the whole policy");
            let over = "more than 50 DNS-querying terms in the whole policy";
            assert_eq!(
                (
                    findings.iter().any(|m| m.starts_with(&whole)),
                    findings.iter().any(|m| m.starts_with(over))
                ),
                (n == limit, n > limit),
                "{n}: {findings:#?}"
            );
            // Terms naming hosts that do not exist: void lookups.
            let terms: Vec<String> = (0..n).map(|i| format!(" a:v{i}.test")).collect();
            // Each is a term too, so the term bound is met first: past it the void
            // count is the one up to where the evaluation stopped.
            let findings = spf_findings(&zone_with_terms(&terms, ""));
            assert!(
                findings
                    .iter()
                    .any(|m| m.starts_with("50 lookups of names that do not exist")),
                "{n}: {findings:#?}"
            );
            assert_eq!(
                (
                    findings.iter().any(|m| m.starts_with(&whole)),
                    findings.iter().any(|m| m.starts_with(over))
                ),
                (n == limit, n > limit),
                "{n}: {findings:#?}"
            );
        }
    }

    /// The walk goes through 60 records; a 61st is not walked, and a finding says so.
    #[test]
    fn the_walk_stops_past_max_walked_records() {
        for records in [MAX_WALKED_RECORDS, MAX_WALKED_RECORDS + 1] {
            // d.test and the records it includes.
            let terms: Vec<String> = (1..records)
                .map(|i| format!(" include:b{i}.test"))
                .collect();
            let leaves: String = (1..records)
                .map(|i| format!("b{i}.test. TXT \"v=spf1 -all\"\n"))
                .collect();
            let findings = spf_findings(&zone_with_terms(&terms, &leaves));
            let said = findings
                .iter()
                .filter(|m| m.starts_with("the include tree has more than 60 records"))
                .count();
            assert_eq!(
                said,
                usize::from(records > MAX_WALKED_RECORDS),
                "{records}: {findings:#?}"
            );
        }
    }

    /// A chain of includes 12 deep is walked to its end; 13 deep, the walk stops at
    /// the 13th and says where.
    #[test]
    fn the_walk_stops_past_max_walk_depth() {
        for depth in [MAX_WALK_DEPTH, MAX_WALK_DEPTH + 1] {
            let mut zone = String::from("d.test. TXT \"v=spf1 include:c1.test -all\"\n");
            for i in 1..depth {
                zone.push_str(&format!(
                    "c{i}.test. TXT \"v=spf1 include:c{}.test -all\"\n",
                    i + 1
                ));
            }
            zone.push_str(&format!("c{depth}.test. TXT \"v=spf1 -all\"\n"));
            let findings = spf_findings(&zone);
            let deep: Vec<&String> = findings.iter().filter(|m| m.contains("deep at")).collect();
            if depth == MAX_WALK_DEPTH {
                assert!(deep.is_empty(), "{findings:#?}");
            } else {
                assert_eq!(deep.len(), 1, "{findings:#?}");
                assert!(
                    deep[0]
                        .starts_with("the include/redirect chain is more than 12 deep at c13.test"),
                    "{}",
                    deep[0]
                );
            }
        }
    }

    /// When the evaluation stops before the end (a missing include), the count is a
    /// lower bound and the finding says so instead of claiming the whole policy: the
    /// terms evaluated, or the top record's own, whichever is more.
    #[test]
    fn an_evaluation_stopped_early_gives_a_lower_bound() {
        let zone = "d.test. TXT \"v=spf1 include:missing.test include:b.test -all\"\n\
            b.test. TXT \"v=spf1 a:h1.test a:h2.test -all\"\n";
        let findings = spf_findings(zone);
        assert!(
            findings
                .iter()
                .any(|m| m
                    .starts_with("at least 2 DNS-querying terms (the evaluation stopped early")),
            "{findings:#?}"
        );
        assert!(!findings.iter().any(|m| m.contains("in the whole policy")));
    }

    #[test]
    fn real_include_loop_is_reported_once() {
        let zone = "d.test. TXT \"v=spf1 include:a.test include:a.test -all\"\n\
            a.test. TXT \"v=spf1 include:d.test -all\"\n";
        let findings = spf_findings(zone);
        let loops: Vec<_> = findings
            .iter()
            .filter(|m| m.contains("loops back"))
            .collect();
        assert_eq!(loops.len(), 1, "{findings:#?}");
        // The count is not given as "more than 50 terms": the loop is why.
        assert!(
            findings
                .iter()
                .any(|m| m.starts_with("the include/redirect chain loops (below)"))
                && !findings.iter().any(|m| m.contains("more than")),
            "{findings:#?}"
        );
    }

    #[test]
    fn worst_severity_wins() {
        let zone = ZoneResolver::parse(
            "example.com. MX 10 mx.example.com.\nmx.example.com. A 192.0.2.1\n",
            "z",
            None,
        )
        .unwrap();
        let r = block_on(check(&zone, "example.com", &CheckOptions::default()));
        assert_eq!(r.status, Severity::Red);
        assert!(
            r.findings
                .iter()
                .any(|f| f.area == Area::Spf && f.severity == Severity::Red)
        );
        assert!(
            r.findings
                .iter()
                .any(|f| f.area == Area::Dmarc && f.severity == Severity::Red)
        );
    }
}
