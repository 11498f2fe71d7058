//! What is recorded of one message: the inputs of an RFC 9990 aggregate report row
//! (source IP, identifiers, every DKIM and the SPF result, the policy as published, the
//! disposition applied and why it differs).

use std::net::IpAddr;

use monban::dkim::DkimReason;
use monban::pipeline::{Envelope, Report};

/// One DKIM result (RFC 9990 `dkim` auth result).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DkimRow {
    /// `d=`.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// The result (RFC 8601 name).
    pub result: String,
    /// Why, in words (RFC 9990 `human_result`).
    pub human_result: Option<String>,
}

/// The SPF result (RFC 9990 `spf` auth result).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SpfRow {
    /// The domain checked.
    pub domain: String,
    /// `mfrom` or `helo`.
    pub scope: String,
    /// The result (RFC 8601 name).
    pub result: String,
}

/// The DMARC policy as published, when one was found (RFC 9990 `policy_published`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PublishedPolicy {
    /// Where the record was found.
    pub domain: String,
    /// `p`.
    pub p: String,
    /// `sp`, as written.
    pub sp: Option<String>,
    /// `np`, as written.
    pub np: Option<String>,
    /// `adkim` (`r` or `s`).
    pub adkim: String,
    /// `aspf`.
    pub aspf: String,
    /// `t=y`.
    pub testing: bool,
    /// `treewalk` (RFC 9989) or `psl` (RFC 7489).
    pub discovery_method: String,
    /// `fo`, as written (options joined with `:`), when published.
    pub fo: Option<String>,
    /// The `rua` URIs (at most [`monban::dmarc::record::MAX_REPORT_URIS`]).
    pub rua: Vec<String>,
    /// The `ruf` URIs.
    pub ruf: Vec<String>,
    /// `psd=y`: a public suffix domain's record (no failure reports, RFC 9991).
    pub psd: bool,
}

/// One policy override (RFC 9990 `reason`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OverrideRow {
    /// `local_policy`, `mailing_list`, ...
    pub kind: String,
    /// A note.
    pub comment: Option<String>,
}

/// One message judged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Evaluation {
    /// Unique per evaluation: storing one twice (a journal replayed twice) stores it
    /// once.
    pub uid: String,
    /// When it was judged (Unix seconds).
    pub time: i64,
    /// The SMTP client.
    pub source_ip: Option<IpAddr>,
    /// The MAIL FROM address (empty for the null sender).
    pub envelope_from: Option<String>,
    /// The author domain.
    pub header_from: Option<String>,
    /// Every DKIM signature, in header order.
    pub dkim: Vec<DkimRow>,
    /// SPF (MAIL FROM, else HELO).
    pub spf: Option<SpfRow>,
    /// The policy as published.
    pub policy: Option<PublishedPolicy>,
    /// The DMARC result.
    pub dmarc: String,
    /// The disposition applied.
    pub disposition: String,
    /// An aligned DKIM pass.
    pub dkim_aligned: bool,
    /// An aligned SPF pass.
    pub spf_aligned: bool,
    /// Why the disposition applied is not the policy's.
    pub overrides: Vec<OverrideRow>,
    /// The policy that applied (`p`, `sp` or `np`'s value), when a record was found.
    pub policy_applied: Option<String>,
    /// The message was itself report mail or a bounce: counted, never the reason a
    /// report is sent.
    pub report_mail: bool,
    /// A failure report to send for this message (RFC 9991), when the policy asked for
    /// one; stored with the evaluation, in the same transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureReport>,
}

/// A failure report (RFC 9991) waiting to be sent: the body is complete, only the
/// message header (From, To, Date, ...) and the signature are added when it is sent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FailureReport {
    /// Letters and digits, unique (the Message-ID's left part).
    pub report_id: String,
    /// The policy domain (whose record asked for it).
    pub policy_domain: String,
    /// The `ruf` URIs.
    pub destinations: Vec<String>,
    /// The Subject.
    pub subject: String,
    /// The message's `Content-Type` (multipart/report).
    pub content_type: String,
    /// The MIME body.
    pub body: String,
    /// Failure reports per destination per hour at most, counted in the store when
    /// the report is stored (in the same transaction): processes and hosts recording
    /// at once share the limit. 0: no limit (an entry journaled before it existed).
    #[serde(default)]
    pub per_hour: u32,
}

impl Evaluation {
    /// The RFC 9990 row this evaluation belongs to, as a 63-bit number: every field the
    /// aggregation groups by (policy as published, source, identifiers, results,
    /// disposition, overrides), hashed with SHA-256. The store groups a day by this one
    /// column instead of twenty-two (a collision would need about 2^31 distinct rows
    /// in one day).
    pub fn group_key(&self) -> i64 {
        self.group_key_with(
            &crate::outgoing::dkim_to_text(&self.dkim),
            &crate::outgoing::overrides_to_text(&self.overrides),
            self.envelope_domain().as_deref(),
        )
    }

    /// [`Evaluation::group_key`] with the stored forms of the DKIM results, the
    /// overrides and the MAIL FROM domain already made (the store writes them too).
    pub(crate) fn group_key_with(
        &self,
        dkim: &str,
        overrides: &str,
        envelope_domain: Option<&str>,
    ) -> i64 {
        let mut text = String::with_capacity(512);
        let mut put = |s: Option<&str>| {
            match s {
                Some(s) => {
                    text.push('+');
                    text.push_str(s);
                }
                None => text.push('-'),
            }
            text.push('\u{1}');
        };
        let p = self.policy.as_ref();
        put(p.map(|p| p.domain.as_str()));
        put(p.map(|p| p.p.as_str()));
        put(p.and_then(|p| p.sp.as_deref()));
        put(p.and_then(|p| p.np.as_deref()));
        put(p.map(|p| p.adkim.as_str()));
        put(p.map(|p| p.aspf.as_str()));
        put(p.map(|p| if p.testing { "y" } else { "n" }));
        put(p.map(|p| p.discovery_method.as_str()));
        put(p.and_then(|p| p.fo.as_deref()));
        let ip = self.source_ip.map(|ip| ip.to_string());
        put(ip.as_deref());
        put(self.header_from.as_deref());
        put(envelope_domain);
        put(Some(dkim));
        put(self.spf.as_ref().map(|s| s.domain.as_str()));
        put(self.spf.as_ref().map(|s| s.scope.as_str()));
        put(self.spf.as_ref().map(|s| s.result.as_str()));
        put(Some(&self.disposition));
        put(self.policy_applied.as_deref());
        put(Some(&self.dmarc));
        put(Some(if self.dkim_aligned { "1" } else { "0" }));
        put(Some(if self.spf_aligned { "1" } else { "0" }));
        put(Some(overrides));
        let digest = monban::crypto::hash(monban::crypto::HashAlgorithm::Sha256, text.as_bytes());
        let mut b = [0u8; 8];
        b.copy_from_slice(&digest[..8]);
        (u64::from_be_bytes(b) >> 1) as i64
    }

    /// The domain of the MAIL FROM address (RFC 9990 `envelope_from`), lower case;
    /// `None` for the null sender or no envelope.
    pub fn envelope_domain(&self) -> Option<String> {
        let from = self.envelope_from.as_deref()?;
        let (_, domain) = from.rsplit_once('@')?;
        let domain = domain.trim_end_matches('>').trim_end_matches('.');
        (!domain.is_empty()).then(|| domain.to_ascii_lowercase())
    }
}

impl Evaluation {
    /// What to record of a verified message. `discovery_method` is how policies were
    /// found (`treewalk` or `psl`), `uid` a unique id for this evaluation.
    pub fn from_report(
        report: &Report,
        envelope: &Envelope,
        time: i64,
        discovery_method: &str,
        uid: String,
    ) -> Self {
        let d = &report.dmarc;
        let spf = match (&report.spf, &report.helo) {
            (Some(s), _) => Some(SpfRow {
                domain: s.domain().to_string(),
                scope: "mfrom".into(),
                result: s.result.as_str().into(),
            }),
            (None, Some(h)) => Some(SpfRow {
                domain: h.domain().to_string(),
                scope: "helo".into(),
                result: h.result.as_str().into(),
            }),
            (None, None) => None,
        };
        let policy = d.record.as_ref().map(|r| PublishedPolicy {
            domain: d.record_domain.clone().unwrap_or_default(),
            p: r.p.as_str().into(),
            sp: r.sp.map(|p| p.as_str().into()),
            np: r.np.map(|p| p.as_str().into()),
            adkim: r.adkim.as_str().into(),
            aspf: r.aspf.as_str().into(),
            testing: r.testing,
            discovery_method: discovery_method.into(),
            fo: (!r.fo.is_empty()).then(|| r.fo.join(":")),
            rua: r.rua.iter().map(|u| u.uri.clone()).collect(),
            ruf: r.ruf.iter().map(|u| u.uri.clone()).collect(),
            psd: r.psd == monban::dmarc::Psd::Yes,
        });
        let header_from = d.header_from.clone().unwrap_or_default();
        // Signatures past the evaluated ones carry no result: left out, so that a
        // sender's made-up selectors neither split the day's records nor grow them
        // (RFC 9990 §3.1.3 reports the results of the signatures evaluated).
        let evaluated = report
            .dkim
            .iter()
            .filter(|k| !matches!(k.reason, Some(DkimReason::NotEvaluated { .. })))
            .collect();
        let dkim = monban::report::aggregate::order_dkim(
            evaluated,
            &header_from,
            d.organizational_domain.as_deref(),
            |k| k.domain.as_str(),
            |k| k.result == monban::dkim::DkimResult::Pass,
        );
        Self {
            uid,
            time,
            // RFC 9990 `source_ip` is the connecting host: an IPv4 client seen on a
            // dual-stack socket (`::ffff:a.b.c.d`) is that IPv4 address, as SPF and
            // iprev already take it.
            source_ip: envelope.ip.map(|ip| ip.to_canonical()),
            envelope_from: envelope.mail_from.clone(),
            header_from: d.header_from.clone(),
            dkim: dkim
                .into_iter()
                .map(|k| DkimRow {
                    domain: k.domain.clone(),
                    selector: k.selector.clone(),
                    result: k.result.as_str().into(),
                    human_result: k.reason_text(),
                })
                .collect(),
            spf,
            policy,
            dmarc: d.result.as_str().into(),
            disposition: d.disposition.as_str().into(),
            dkim_aligned: d.dkim_aligned,
            spf_aligned: d.spf_aligned,
            overrides: d
                .overrides
                .iter()
                .map(|o| OverrideRow {
                    kind: o.kind.as_str().into(),
                    comment: o.comment.clone(),
                })
                .collect(),
            policy_applied: d.policy.map(|p| p.as_str().into()),
            report_mail: report.is_authenticated_report_mail(),
            failure: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(uid: &str, from: &str, disposition: &str) -> Evaluation {
        Evaluation {
            uid: uid.into(),
            time: 1,
            source_ip: Some("192.0.2.1".parse().unwrap()),
            envelope_from: Some(from.into()),
            header_from: Some("example.com".into()),
            dkim: vec![],
            spf: None,
            policy: None,
            dmarc: "fail".into(),
            disposition: disposition.into(),
            dkim_aligned: false,
            spf_aligned: false,
            overrides: vec![],
            policy_applied: None,
            report_mail: false,
            failure: None,
        }
    }

    #[test]
    fn group_key_covers_the_report_row_only() {
        let a = e("1", "bounce+1@Example.com", "reject");
        // Another message of the same row: other id, time, MAIL FROM local part.
        let mut b = e("2", "bounce+2@example.com", "reject");
        b.time = 99;
        assert_eq!(a.group_key(), b.group_key());
        assert!(a.group_key() >= 0);
        // Another disposition, source or null sender: another row.
        assert_ne!(a.group_key(), e("3", "x@example.com", "none").group_key());
        let mut c = e("4", "x@example.com", "reject");
        c.source_ip = Some("192.0.2.2".parse().unwrap());
        assert_ne!(a.group_key(), c.group_key());
        assert_ne!(a.group_key(), e("5", "", "reject").group_key());
    }
}
