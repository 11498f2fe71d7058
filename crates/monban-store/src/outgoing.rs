//! What the store keeps for outgoing reports: the rows an aggregation returns, the
//! generated reports and their deliveries.

use crate::{DkimRow, OverrideRow, PublishedPolicy, SpfRow};

/// Evaluations that share a policy, source, identifiers and results: one RFC 9990
/// `record` (before the report is assembled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateGroup {
    /// The policy as published; `rua` is that of the group's newest evaluation
    /// (`ruf` is left empty).
    pub policy: PublishedPolicy,
    /// The SMTP client (`None` when not known).
    pub source_ip: Option<String>,
    /// The author domain.
    pub header_from: Option<String>,
    /// The MAIL FROM domain.
    pub envelope_domain: Option<String>,
    /// The DKIM results, in report order.
    pub dkim: Vec<DkimRow>,
    /// The SPF result.
    pub spf: Option<SpfRow>,
    /// The DMARC result.
    pub dmarc: String,
    /// The disposition applied.
    pub disposition: String,
    /// The policy that applied (`p`/`sp`/`np`).
    pub policy_applied: Option<String>,
    /// Aligned DKIM pass.
    pub dkim_aligned: bool,
    /// Aligned SPF pass.
    pub spf_aligned: bool,
    /// Why the disposition differs.
    pub overrides: Vec<OverrideRow>,
    /// How many messages.
    pub count: u64,
    /// How many of them were not report mail.
    pub not_report_mail: u64,
    /// The newest evaluation's time (its `rua` is the group's).
    pub last_time: i64,
}

/// A generated aggregate report, kept until it is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingReport {
    /// The Report-ID (letters and digits).
    pub report_id: String,
    /// The policy domain.
    pub policy_domain: String,
    /// The policy configuration, as text (one report per domain and configuration).
    pub policy_key: String,
    /// Period start (Unix seconds).
    pub begin: i64,
    /// Period end (inclusive, Unix seconds).
    pub end: i64,
    /// The attachment name.
    pub filename: String,
    /// The gzip-compressed XML.
    pub xml_gz: Vec<u8>,
    /// How many records.
    pub records: u64,
    /// How many messages.
    pub messages: u64,
    /// The destinations (`mailto:` URIs as published).
    pub rua: Vec<String>,
    /// When it was generated.
    pub created: i64,
}

/// What [`crate::Store::save_report`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveOutcome {
    /// A new report.
    New,
    /// The same report (same Report-ID) generated again, not sent yet: replaced.
    Replaced,
    /// It was already sent to some destination: left as it was.
    AlreadySent(Kept),
    /// A sender is sending it (a live claim on a delivery): left as it was.
    Sending(Kept),
    /// The stored report of the same period counts more messages (another run read the
    /// evaluations later and saved first): left as it was, never replaced by an older
    /// reading.
    Fuller(Kept),
}

/// A stored report left as it was by [`crate::Store::save_report`]: its own figures
/// (the report generated again may count more, recorded since).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// Its Report-ID.
    pub report_id: String,
    /// Its records.
    pub records: u64,
    /// Its messages.
    pub messages: u64,
}

/// One report to one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The Report-ID.
    pub report_id: String,
    /// The destination URI.
    pub destination: String,
    /// Attempts so far.
    pub attempts: u32,
    /// The policy domain.
    pub policy_domain: String,
    /// Period start.
    pub begin: i64,
    /// Period end.
    pub end: i64,
    /// The attachment name.
    pub filename: String,
    /// The attachment (aggregate) or the MIME body (failure).
    pub xml_gz: Vec<u8>,
    /// `aggregate` or `failure`.
    pub kind: String,
    /// A failure report's `Content-Type`.
    pub content_type: Option<String>,
    /// A failure report's Subject.
    pub subject: Option<String>,
    /// The claim the sender holds it under ([`crate::Store::claim_delivery`]).
    pub claim: String,
}

/// What came of a delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryUpdate {
    /// Delivered (accepted by the SMTP server) at this time.
    Sent {
        /// When.
        at: i64,
    },
    /// Try again at `next_attempt`.
    Retry {
        /// When.
        next_attempt: i64,
        /// What went wrong.
        error: String,
    },
    /// Given up (permanent failure, too many attempts, not allowed).
    Failed {
        /// Why.
        error: String,
    },
    /// Not tried now (rate limit, suppressed destination): again at `next_attempt`,
    /// without counting an attempt.
    Defer {
        /// When.
        next_attempt: i64,
        /// Why.
        reason: String,
    },
}

impl DeliveryUpdate {
    /// (status, next_attempt, error, sent_at, attempts added) as stored.
    pub(crate) fn columns(&self) -> (&'static str, Option<i64>, Option<&str>, Option<i64>, i32) {
        match self {
            Self::Sent { at } => ("sent", None, None, Some(*at), 1),
            Self::Retry {
                next_attempt,
                error,
            } => ("pending", Some(*next_attempt), Some(error), None, 1),
            Self::Failed { error } => ("failed", None, Some(error), None, 1),
            Self::Defer {
                next_attempt,
                reason,
            } => ("pending", Some(*next_attempt), Some(reason), None, 0),
        }
    }
}

/// DKIM results as stored in one column: a JSON array of
/// `[domain, selector, result, human_result]`.
pub(crate) fn dkim_to_text(dkim: &[DkimRow]) -> String {
    let v: Vec<(&str, &str, &str, Option<&str>)> = dkim
        .iter()
        .map(|d| {
            (
                d.domain.as_str(),
                d.selector.as_str(),
                d.result.as_str(),
                d.human_result.as_deref(),
            )
        })
        .collect();
    serde_json::to_string(&v).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn dkim_from_text(text: &str) -> Vec<DkimRow> {
    serde_json::from_str::<Vec<(String, String, String, Option<String>)>>(text)
        .unwrap_or_default()
        .into_iter()
        .map(|(domain, selector, result, human_result)| DkimRow {
            domain,
            selector,
            result,
            human_result,
        })
        .collect()
}

/// Overrides as stored: a JSON array of `[kind, comment]`.
pub(crate) fn overrides_to_text(o: &[OverrideRow]) -> String {
    let v: Vec<(&str, Option<&str>)> = o
        .iter()
        .map(|o| (o.kind.as_str(), o.comment.as_deref()))
        .collect();
    serde_json::to_string(&v).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn overrides_from_text(text: &str) -> Vec<OverrideRow> {
    serde_json::from_str::<Vec<(String, Option<String>)>>(text)
        .unwrap_or_default()
        .into_iter()
        .map(|(kind, comment)| OverrideRow { kind, comment })
        .collect()
}

/// URI lists as stored: a JSON array.
pub(crate) fn uris_to_text(uris: &[String]) -> String {
    serde_json::to_string(uris).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn uris_from_text(text: Option<&str>) -> Vec<String> {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default()
}
