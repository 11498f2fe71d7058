//! The JSON forms of results (DESIGN §4), defined once here with serde: the CLI's
//! `--json` uses them, and the web API and the store (still to come) are to use the
//! same. The protocol types stay free of
//! presentation; a view borrows them and names each field as the contracts do. This
//! crate has no JSON encoder: a front end serializes a view with its own (serde_json).
//!
//! Field names are those of DESIGN §4 (`result`, `domain`, ...); extend, never rename.

use serde::Serialize;

use crate::dkim::DkimOutcome;
use crate::dmarc::{DmarcOutcome, PolicyOverride};
use crate::pipeline::{Envelope, Report};
use crate::spf::received::received_spf;
use crate::spf::{SpfCause, SpfOutcome};

/// `monban verify --json`: one message.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyView<'a> {
    /// Where the message came from (a file, `-`, `mbox#3`); absent in the web API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<&'a str>,
    /// Why the header could not be judged (`null` when it could).
    pub malformed: Option<String>,
    /// SPF for MAIL FROM: `none` with the reason when it was not evaluated (DESIGN §4:
    /// a method that does not apply is `none`, never absent).
    pub spf: SpfIdentityView<'a>,
    /// SPF for HELO, the same way.
    pub helo: SpfIdentityView<'a>,
    /// One entry per `DKIM-Signature`.
    pub dkim: Vec<DkimView<'a>>,
    /// DMARC.
    pub dmarc: DmarcView<'a>,
    /// ARC.
    pub arc: ArcView<'a>,
    /// DNS lists (DESIGN §4: `zone`, `listed`, `codes`), one per configured zone.
    pub dnsbl: Vec<DnsblView>,
    /// ADSP (RFC 5617, historic; DESIGN §4: `result`, `domain`).
    pub adsp: AdspView<'a>,
    /// iprev (RFC 8601 §3; DESIGN §4: `result`, `ip`, `names`).
    pub iprev: IprevView<'a>,
    /// Sender ID (RFC 4406, historic; DESIGN §4: `result`, `pra`, `scope`).
    pub sender_id: SenderIdView<'a>,
    /// DomainKeys (RFC 4870, historic; DESIGN §4: `result`, `domain`, `selector`), one
    /// per `DomainKey-Signature`.
    pub domainkeys: Vec<DomainKeysView<'a>>,
    /// DKIM2 (a draft), when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dkim2: Option<Dkim2View<'a>>,
    /// The `Authentication-Results` value, on one line.
    pub authentication_results: String,
}

impl<'a> VerifyView<'a> {
    /// The view of a report. `envelope` says which SPF identities were asked for (a
    /// malformed message evaluates none, and says so for each one asked).
    pub fn new(
        report: &'a Report,
        authserv_id: &str,
        file: Option<&'a str>,
        envelope: &Envelope,
    ) -> Self {
        let asked = report.malformed.is_some() && envelope.ip.is_some();
        let spf = match &report.spf {
            Some(s) => SpfIdentityView::of(s, true),
            None if asked && envelope.mail_from.is_some() => SpfIdentityView::not_evaluated(true),
            None => SpfIdentityView::not_asked(true, envelope),
        };
        let helo = match &report.helo {
            Some(h) => SpfIdentityView::of(h, false),
            None if asked && envelope.helo.is_some() => SpfIdentityView::not_evaluated(false),
            None => SpfIdentityView::not_asked(false, envelope),
        };
        Self {
            file,
            malformed: report.malformed.as_ref().map(ToString::to_string),
            spf,
            helo,
            dkim: report.dkim.iter().map(DkimView::from).collect(),
            dmarc: DmarcView::from(&report.dmarc),
            arc: ArcView::from(&report.arc),
            dnsbl: report
                .dnsbl
                .iter()
                .map(|o| DnsblView {
                    zone: o.zone.clone(),
                    kind: match o.kind {
                        crate::dnsbl::ListKind::Block => "block",
                        crate::dnsbl::ListKind::Allow => "allow",
                    },
                    listed: o.listed(),
                    result: o.result.as_str(),
                    codes: o.codes.iter().map(ToString::to_string).collect(),
                })
                .collect(),
            adsp: AdspView {
                result: report.adsp.result.as_str(),
                domain: report.adsp.domain.as_deref(),
                practice: report.adsp.practice.as_deref(),
                reason: report.adsp.reason.as_deref(),
            },
            iprev: IprevView {
                result: report.iprev.result.as_str(),
                ip: report.iprev.ip.map(|i| i.to_string()),
                names: report.iprev.names.iter().map(String::as_str).collect(),
                reason: report.iprev.reason_text(),
            },
            domainkeys: report
                .domainkeys
                .iter()
                .map(|d| DomainKeysView {
                    result: d.result.as_str(),
                    domain: &d.domain,
                    selector: &d.selector,
                    canonicalization: d.canonicalization,
                    identity: d.identity.as_deref(),
                    reason: d.reason_text(),
                    key_bits: d.key_bits,
                    testing: d.testing,
                })
                .collect(),
            sender_id: SenderIdView {
                result: report.sender_id.result.as_str(),
                pra: report.sender_id.pra.as_ref().map(|p| p.address.as_str()),
                field: report.sender_id.pra.as_ref().map(|p| p.field.name()),
                scope: report.sender_id.scope.as_str(),
                domain: report.sender_id.pra.as_ref().map(|p| p.domain.as_str()),
                reason: report.sender_id.reason(),
            },
            dkim2: report.dkim2.as_ref().map(|d| Dkim2View {
                result: d.result.as_str(),
                domains: d.domains.iter().map(String::as_str).collect(),
                instances: d.instances,
                reason: d.reason_text(),
            }),
            authentication_results: report.authentication_results(authserv_id).to_line(),
        }
    }
}

/// One DomainKeys signature.
#[derive(Debug, Clone, Serialize)]
pub struct DomainKeysView<'a> {
    /// The result (RFC 8601 name).
    pub result: &'static str,
    /// `d=`.
    pub domain: &'a str,
    /// `s=`.
    pub selector: &'a str,
    /// `c=`: `simple` or `nofws`.
    pub canonicalization: &'static str,
    /// The sending address it speaks for (Sender, else From).
    pub identity: Option<&'a str>,
    /// Why, when not a plain pass.
    pub reason: Option<String>,
    /// The key size, when the key was used.
    pub key_bits: Option<usize>,
    /// The key says `t=y`.
    pub testing: bool,
}

/// Sender ID.
#[derive(Debug, Clone, Serialize)]
pub struct SenderIdView<'a> {
    /// The result (RFC 8601 name, SPF's).
    pub result: &'static str,
    /// The Purported Responsible Address (`null` when the message has none, or when
    /// Sender ID was not checked).
    pub pra: Option<&'a str>,
    /// The field it came from (`From`, `Sender`, `Resent-From`, `Resent-Sender`).
    pub field: Option<&'static str>,
    /// `pra`.
    pub scope: &'static str,
    /// The domain checked.
    pub domain: Option<&'a str>,
    /// Why (`null` when not checked).
    pub reason: Option<String>,
}

/// SPF as `verify` shows it: the MAIL FROM identity (with `identity` and
/// `explanation`) or the HELO identity.
#[derive(Debug, Clone, Serialize)]
pub struct SpfIdentityView<'a> {
    /// The result (RFC 8601 name).
    pub result: &'static str,
    /// The domain checked (`null` when not evaluated).
    pub domain: Option<&'a str>,
    /// `mailfrom` (MAIL FROM only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<&'static str>,
    /// The `exp=` explanation (MAIL FROM only; `null` when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Option<&'a str>>,
    /// Why.
    pub reason: String,
}

impl<'a> SpfIdentityView<'a> {
    fn of(o: &'a SpfOutcome, mail_from: bool) -> Self {
        Self {
            result: o.result.as_str(),
            domain: Some(o.domain()),
            identity: mail_from.then(|| o.identity.as_str()),
            explanation: mail_from.then_some(o.explanation.as_deref()),
            reason: o.cause.to_string(),
        }
    }

    fn not_evaluated(mail_from: bool) -> Self {
        Self::none(mail_from, "not evaluated: the message header is malformed")
    }

    /// Not asked for: no client address, or no identity of this kind, was given.
    fn not_asked(mail_from: bool, envelope: &Envelope) -> Self {
        Self::none(
            mail_from,
            match (envelope.ip.is_some(), mail_from) {
                (false, _) => "not evaluated: no client IP address was given",
                (true, true) => "not evaluated: no MAIL FROM was given",
                (true, false) => "not evaluated: no HELO name was given",
            },
        )
    }

    fn none(mail_from: bool, reason: &str) -> Self {
        Self {
            result: "none",
            domain: None,
            identity: mail_from.then_some("mailfrom"),
            explanation: mail_from.then_some(None),
            reason: reason.to_owned(),
        }
    }
}

/// One DKIM signature.
#[derive(Debug, Clone, Serialize)]
pub struct DkimView<'a> {
    /// The result (RFC 8601 name).
    pub result: &'static str,
    /// `d=`.
    pub domain: &'a str,
    /// `s=`.
    pub selector: &'a str,
    /// `a=`.
    pub algorithm: &'a str,
    /// The AUID.
    pub identity: &'a str,
    /// Why, when not a plain pass.
    pub reason: Option<String>,
    /// The first 8 characters of `b=`.
    pub header_b: &'a str,
    /// The key size, when the key was used.
    pub key_bits: Option<usize>,
    /// The key says `t=y`.
    pub testing: bool,
}

impl<'a> From<&'a DkimOutcome> for DkimView<'a> {
    fn from(d: &'a DkimOutcome) -> Self {
        Self {
            result: d.result.as_str(),
            domain: &d.domain,
            selector: &d.selector,
            algorithm: &d.algorithm,
            identity: &d.identity,
            reason: d.reason_text(),
            header_b: &d.header_b,
            key_bits: d.key_bits,
            testing: d.testing,
        }
    }
}

/// DMARC.
#[derive(Debug, Clone, Serialize)]
pub struct DmarcView<'a> {
    /// The result (RFC 8601 name).
    pub result: &'static str,
    /// The author domain.
    pub header_from: Option<&'a str>,
    /// The policy that applies.
    pub policy: Option<&'static str>,
    /// The disposition applied.
    pub disposition: &'static str,
    /// An aligned DKIM pass.
    pub dkim_aligned: bool,
    /// An aligned SPF pass.
    pub spf_aligned: bool,
    /// Where the record was found.
    pub record_domain: Option<&'a str>,
    /// The organizational domain.
    pub organizational_domain: Option<&'a str>,
    /// Why, in words.
    pub reason: Option<String>,
    /// Why the disposition is not the policy's (RFC 9990 names).
    pub overrides: Vec<OverrideView<'a>>,
}

impl<'a> From<&'a DmarcOutcome> for DmarcView<'a> {
    fn from(d: &'a DmarcOutcome) -> Self {
        Self {
            result: d.result.as_str(),
            header_from: d.header_from.as_deref(),
            policy: d.policy.map(|p| p.as_str()),
            disposition: d.disposition.as_str(),
            dkim_aligned: d.dkim_aligned,
            spf_aligned: d.spf_aligned,
            record_domain: d.record_domain.as_deref(),
            organizational_domain: d.organizational_domain.as_deref(),
            reason: d.reason_text(),
            overrides: d.overrides.iter().map(OverrideView::from).collect(),
        }
    }
}

/// ARC (DESIGN §4: `result`, `instances`, `oldest_pass`, `sealers`).
#[derive(Debug, Clone, Serialize)]
pub struct ArcView<'a> {
    /// `none`, `pass` or `fail`.
    pub result: &'static str,
    /// The highest instance (0 without ARC).
    pub instances: u32,
    /// The oldest instance whose AMS still verifies (0: all do).
    pub oldest_pass: u32,
    /// The sealers (ARC-Seal `d=`), instance 1 first.
    pub sealers: Vec<&'a str>,
    /// Why the chain failed.
    pub reason: Option<String>,
    /// The instance where it broke, when known.
    pub failed_instance: Option<u32>,
    /// Each set, instance 1 first (empty when the structure is invalid).
    pub sets: Vec<ArcSetView<'a>>,
}

/// One DNS list.
#[derive(Debug, Clone, Serialize)]
pub struct DnsblView {
    /// The zone.
    pub zone: String,
    /// `block` or `allow`.
    pub kind: &'static str,
    /// Whether it lists the client.
    pub listed: bool,
    /// `listed`, `not-listed`, `skipped` (an allow list listed the client) or
    /// `temperror` (it lists nobody).
    pub result: &'static str,
    /// The codes answered.
    pub codes: Vec<String>,
}

/// ADSP.
#[derive(Debug, Clone, Serialize)]
pub struct AdspView<'a> {
    /// `none`, `pass`, `unknown`, `fail`, `discard`, `nxdomain`, `temperror`, `permerror`.
    pub result: &'static str,
    /// The author domain.
    pub domain: Option<&'a str>,
    /// The record's `dkim=` value.
    pub practice: Option<&'a str>,
    /// Why, for errors.
    pub reason: Option<&'a str>,
}

/// iprev.
#[derive(Debug, Clone, Serialize)]
pub struct IprevView<'a> {
    /// `none` (no client address), `pass`, `fail`, `temperror` or `permerror`.
    pub result: &'static str,
    /// The client address.
    pub ip: Option<String>,
    /// The reverse names that resolve back to it.
    pub names: Vec<&'a str>,
    /// Why, when not a pass.
    pub reason: Option<String>,
}

/// DKIM2 (the draft).
#[derive(Debug, Clone, Serialize)]
pub struct Dkim2View<'a> {
    /// `none`, `pass`, `fail`, `permerror` or `temperror`.
    pub result: &'static str,
    /// The signing domains, hop 1 first.
    pub domains: Vec<&'a str>,
    /// The highest Message-Instance.
    pub instances: u64,
    /// Why, when not a pass.
    pub reason: Option<String>,
}

/// One ARC set.
#[derive(Debug, Clone, Serialize)]
pub struct ArcSetView<'a> {
    /// `i=`.
    pub instance: u32,
    /// The ARC-Seal `d=`.
    pub sealer: &'a str,
    /// The ARC-Seal `s=`.
    pub selector: &'a str,
    /// The `cv=` the sealer wrote.
    pub cv: &'static str,
    /// The seal's verification (`null` when not evaluated).
    pub seal: Option<&'static str>,
    /// The AMS `d=`.
    pub message_domain: &'a str,
    /// The AMS verification (`null` when not evaluated).
    pub message_signature: Option<&'static str>,
    /// Why the AMS did not pass.
    pub message_reason: Option<String>,
    /// Whether the body still has the AMS's body hash.
    pub body_intact: bool,
    /// The AAR's authserv-id.
    pub authserv_id: &'a str,
}

impl<'a> From<&'a crate::arc::ArcOutcome> for ArcView<'a> {
    fn from(a: &'a crate::arc::ArcOutcome) -> Self {
        Self {
            result: a.result.as_str(),
            instances: a.instances,
            oldest_pass: a.oldest_pass,
            sealers: a.sets.iter().map(|s| s.seal_domain.as_str()).collect(),
            reason: a.reason_text(),
            failed_instance: a.reason.as_ref().and_then(crate::arc::ArcReason::instance),
            sets: a
                .sets
                .iter()
                .map(|s| ArcSetView {
                    instance: s.instance,
                    sealer: &s.seal_domain,
                    selector: &s.seal_selector,
                    cv: s.cv.as_str(),
                    seal: s.seal.map(|r| r.as_str()),
                    message_domain: &s.message_domain,
                    message_signature: s.message.map(|r| r.as_str()),
                    message_reason: s.message_reason.as_ref().map(ToString::to_string),
                    body_intact: s.body_intact,
                    authserv_id: &s.authserv_id,
                })
                .collect(),
        }
    }
}

/// One policy override.
#[derive(Debug, Clone, Serialize)]
pub struct OverrideView<'a> {
    /// `local_policy`, `mailing_list`, `policy_test_mode`, `trusted_forwarder`,
    /// `sampled_out` or `other`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// A note.
    pub comment: Option<&'a str>,
}

impl<'a> From<&'a PolicyOverride> for OverrideView<'a> {
    fn from(o: &'a PolicyOverride) -> Self {
        Self {
            kind: o.kind.as_str(),
            comment: o.comment.as_deref(),
        }
    }
}

/// `monban spf --json`: one `check_host()` evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct SpfView<'a> {
    /// The result (RFC 8601 name).
    pub result: &'static str,
    /// The domain checked.
    pub domain: &'a str,
    /// The `exp=` explanation.
    pub explanation: Option<&'a str>,
    /// `mailfrom` or `helo`.
    pub identity: &'static str,
    /// The `<sender>` of `check_host()`.
    pub sender: &'a str,
    /// The HELO name; `None` when none was given (a MAIL FROM check alone).
    pub helo: Option<&'a str>,
    /// The client address.
    pub ip: String,
    /// The mechanism that matched, as written.
    pub mechanism: Option<&'a str>,
    /// Why.
    pub reason: String,
    /// DNS-querying terms evaluated (RFC 7208 §4.6.4).
    pub dns_lookups: u32,
    /// Void lookups.
    pub void_lookups: u32,
    /// The `Received-SPF` value.
    pub received_spf: String,
}

impl<'a> SpfView<'a> {
    /// The view of an outcome; `receiver` is the host name for `Received-SPF`.
    pub fn new(o: &'a SpfOutcome, receiver: &str) -> Self {
        Self {
            result: o.result.as_str(),
            domain: o.domain(),
            explanation: o.explanation.as_deref(),
            identity: o.identity.as_str(),
            sender: o.sender(),
            helo: Some(o.helo()).filter(|h| !h.is_empty()),
            ip: o.ip.to_string(),
            mechanism: match &o.cause {
                SpfCause::Matched(m) => Some(m.mechanism()),
                _ => None,
            },
            reason: o.cause.to_string(),
            dns_lookups: o.dns_lookups.into(),
            void_lookups: o.void_lookups.into(),
            received_spf: received_spf(o, receiver),
        }
    }
}
