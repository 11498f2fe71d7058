//! Reports received by a domain owner (issue 12): aggregate reports (RFC 9990 / RFC
//! 7489), TLS reports (RFC 8460) and failure reports (RFC 6591 / RFC 9991), as the
//! importer hands them to the store.
//!
//! A report is identified by (kind, org_name, report_id, domain, begin, end) (DESIGN §4):
//! a second copy with the same content hash is a duplicate and stores nothing; a copy
//! with another hash is a conflict, kept aside in its own table for inspection.

/// What kind of report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncomingKind {
    /// An aggregate report.
    Aggregate,
    /// An SMTP TLS report.
    Tls,
    /// A failure report.
    Failure,
}

impl IncomingKind {
    /// The name stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aggregate => "aggregate",
            Self::Tls => "tls",
            Self::Failure => "failure",
        }
    }
}

/// One received report, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingReport {
    /// The kind.
    pub kind: IncomingKind,
    /// Who sent it (`org_name`, `organization-name`, or the failure report's reporter).
    pub org_name: String,
    /// Its id (for failure reports, the content hash).
    pub report_id: String,
    /// The policy domain it is about (lower case).
    pub domain: String,
    /// Start of the period (Unix seconds; a failure report's arrival date).
    pub begin: i64,
    /// End of the period.
    pub end: i64,
    /// SHA-256 (hex) of the report's content as read: two copies with the same hash are
    /// the same report.
    pub content_hash: String,
    /// The report as text (XML, JSON or the ARF fields), kept when it conflicts.
    pub document: String,
    /// JSON of what the report says besides its rows (the published policy, the TLS
    /// report's contact, the failure report's fields).
    pub meta: String,
    /// Where it came from (file, message in a mailbox).
    pub source: String,
    /// The published policy's `p` (aggregate reports).
    pub policy_p: Option<String>,
    /// Messages (or TLS sessions) it counts.
    pub messages: u64,
    /// Aggregate report rows.
    pub records: Vec<IncomingRecord>,
    /// TLS report policies.
    pub tls_policies: Vec<TlsPolicyRow>,
}

/// One aggregate report row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncomingRecord {
    /// `source_ip`.
    pub source_ip: String,
    /// `count`.
    pub count: u64,
    /// `disposition`.
    pub disposition: String,
    /// `policy_evaluated/dkim` = pass.
    pub dkim_aligned: bool,
    /// `policy_evaluated/spf` = pass.
    pub spf_aligned: bool,
    /// `header_from`.
    pub header_from: String,
    /// `envelope_from`.
    pub envelope_from: Option<String>,
    /// `envelope_to`.
    pub envelope_to: Option<String>,
    /// The first DKIM result's domain (the best one: RFC 9990 §3.1.3 order).
    pub dkim_domain: Option<String>,
    /// The first DKIM result's selector.
    pub dkim_selector: Option<String>,
    /// The first DKIM result.
    pub dkim_result: Option<String>,
    /// Whether any DKIM result passed.
    pub dkim_any_pass: bool,
    /// The SPF result's domain.
    pub spf_domain: Option<String>,
    /// The SPF result.
    pub spf_result: Option<String>,
    /// The override reasons' types, comma separated.
    pub reasons: Option<String>,
    /// JSON of all DKIM and SPF results and reason comments, when the columns above do
    /// not already say everything (several results, human results, comments).
    pub auth: Option<String>,
}

/// One TLS report policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsPolicyRow {
    /// `policy-type`.
    pub policy_type: String,
    /// `policy-domain`.
    pub policy_domain: String,
    /// Successful sessions.
    pub successful: u64,
    /// Failed sessions.
    pub failed: u64,
    /// JSON of the policy strings, MX hosts and failure details.
    pub details: String,
}

/// What storing one report came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    /// Stored, with this many rows.
    New {
        /// Records (aggregate) or policies (TLS) stored.
        records: u64,
    },
    /// Already stored with the same content.
    Duplicate,
    /// Stored before with other content; this copy was kept aside.
    Conflict,
}

/// Which stored aggregate reports to summarise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SummaryFilter {
    /// Only this policy domain.
    pub domain: Option<String>,
    /// Reports whose period ends after this (Unix seconds; a report of one instant:
    /// begins at or after).
    pub since: Option<i64>,
    /// Reports whose period begins before this (Unix seconds).
    pub until: Option<i64>,
}

/// Message counts of aggregate report rows sharing one source and outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceGroup {
    /// The policy domain.
    pub domain: String,
    /// `source_ip`.
    pub source_ip: String,
    /// `header_from`.
    pub header_from: String,
    /// `disposition`.
    pub disposition: String,
    /// DMARC-aligned DKIM passed.
    pub dkim_aligned: bool,
    /// DMARC-aligned SPF passed.
    pub spf_aligned: bool,
    /// The first DKIM result's domain.
    pub dkim_domain: Option<String>,
    /// The first DKIM result's selector.
    pub dkim_selector: Option<String>,
    /// The first DKIM result.
    pub dkim_result: Option<String>,
    /// Any DKIM result passed.
    pub dkim_any_pass: bool,
    /// The SPF domain.
    pub spf_domain: Option<String>,
    /// The SPF result.
    pub spf_result: Option<String>,
    /// Override reason types.
    pub reasons: Option<String>,
    /// Messages.
    pub messages: u64,
}

/// Reports and messages of one reporter for one domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReporterGroup {
    /// The policy domain.
    pub domain: String,
    /// `org_name`.
    pub org_name: String,
    /// Reports.
    pub reports: u64,
    /// Messages.
    pub messages: u64,
    /// The newest report's published `p` in this group.
    pub policy_p: Option<String>,
    /// The newest report's end.
    pub last_end: i64,
}

/// Message counts of one policy domain's aggregate report rows with one disposition:
/// the domain's totals, whatever sources are listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainGroup {
    /// The policy domain.
    pub domain: String,
    /// `disposition`.
    pub disposition: String,
    /// Messages.
    pub messages: u64,
    /// Messages with aligned DKIM or SPF passing.
    pub dmarc_pass: u64,
    /// Messages with aligned DKIM passing.
    pub dkim_aligned_pass: u64,
    /// Messages with aligned SPF passing.
    pub spf_aligned_pass: u64,
}

/// The most source addresses of one policy domain a summary holds: those with the most
/// failing mail, then the most mail. Reports can name any number of addresses (a
/// hostile reporter, millions); the domain's totals count them all
/// ([`IncomingSummary::totals`], [`IncomingSummary::source_counts`]).
pub const MAX_SUMMARY_SOURCES: usize = 1_000;

/// The summary data of stored aggregate reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncomingSummary {
    /// Per domain and reporter.
    pub reporters: Vec<ReporterGroup>,
    /// Per domain and source outcome, for the first [`MAX_SUMMARY_SOURCES`] sources of
    /// each domain.
    pub sources: Vec<SourceGroup>,
    /// Per domain and disposition: every record counted.
    pub totals: Vec<DomainGroup>,
    /// Per domain: how many distinct source addresses its records name, and how many
    /// of them sent mail that failed DMARC (neither DKIM nor SPF aligned).
    pub source_counts: Vec<(String, u64, u64)>,
}

/// Counts of what is stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IncomingCounts {
    /// Reports of each kind: aggregate, TLS, failure.
    pub aggregate: u64,
    /// TLS reports.
    pub tls: u64,
    /// Failure reports.
    pub failure: u64,
    /// Aggregate records.
    pub records: u64,
    /// Conflicting copies kept aside.
    pub conflicts: u64,
    /// Messages counted by aggregate reports.
    pub messages: u64,
}

/// One stored TLS report policy, with its report's reporter (for the summary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsPolicyStored {
    /// The reporter.
    pub org_name: String,
    /// `policy-type`.
    pub policy_type: String,
    /// `policy-domain` (the report's domain when the policy names none).
    pub policy_domain: String,
    /// Successful sessions.
    pub successful: u64,
    /// Failed sessions.
    pub failed: u64,
    /// JSON of the policy strings, MX hosts and failure details.
    pub details: String,
}

/// The most TLS policy rows one summary reads: the newest (by their report's end);
/// [`Newest::older_left_out`] says when older ones were left out (the oldest report in
/// it may then be there in part).
pub const MAX_TLS_ROWS: usize = 100_000;

/// The newest rows of a bounded query, oldest first, and whether older rows matched
/// too and were left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Newest<T> {
    /// The rows kept, oldest first.
    pub rows: Vec<T>,
    /// Older rows matched the filter and were left out: the bound was reached.
    pub older_left_out: bool,
}

impl<T> Default for Newest<T> {
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            older_left_out: false,
        }
    }
}

impl<T> Newest<T> {
    /// The newest `max` of `rows` (read oldest first, with a bound of `max + 1`, so
    /// that one row more says that the bound was reached).
    pub(crate) fn of(mut rows: Vec<T>, max: usize) -> Self {
        let older_left_out = rows.len() > max;
        if older_left_out {
            let cut = rows.len() - max;
            rows.drain(..cut);
        }
        Self {
            rows,
            older_left_out,
        }
    }
}

/// Messages of the aggregate reports whose period begins on one day (UTC).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DailyCounts {
    /// The day, in days since 1970-01-01.
    pub day: i64,
    /// Messages.
    pub messages: u64,
    /// Messages that passed DMARC (aligned DKIM or SPF).
    pub dmarc_pass: u64,
    /// Messages with disposition `none`.
    pub none: u64,
    /// Messages with disposition `quarantine`.
    pub quarantine: u64,
    /// Messages with disposition `reject`.
    pub reject: u64,
}

/// The most days [`crate::Store::incoming_daily`] returns (ten years): the newest;
/// [`Newest::older_left_out`] says when older days were left out.
pub const MAX_DAYS: usize = 3_660;

/// One stored report, as a list shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportListEntry {
    /// Its id in the store.
    pub id: i64,
    /// `aggregate`, `failure` or `tls`.
    pub kind: String,
    /// Who sent it.
    pub org_name: String,
    /// Its report id.
    pub report_id: String,
    /// The policy domain.
    pub domain: String,
    /// Start of the period (Unix seconds).
    pub begin: i64,
    /// End of the period.
    pub end: i64,
    /// Messages it counts.
    pub messages: u64,
    /// Rows stored.
    pub records: u64,
    /// Whether its document (the XML or JSON as received) is kept.
    pub has_document: bool,
}

/// One stored report with what it said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredReport {
    /// The list's fields.
    pub entry: ReportListEntry,
    /// JSON of what it says besides its rows.
    pub meta: String,
    /// Where it came from.
    pub source: String,
    /// The document as received (reports imported before documents were kept have
    /// none).
    pub document: Option<String>,
}

/// The largest document inflated back (documents are at most 4 MiB when stored).
pub const MAX_DOCUMENT: u64 = 16 * 1024 * 1024;

/// A report's document, compressed for the store (raw deflate, fast level: the
/// documents are repetitive XML and shrink about tenfold).
pub fn deflate_document(document: &str) -> Vec<u8> {
    use std::io::Write as _;
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = e.write_all(document.as_bytes());
    e.finish().unwrap_or_default()
}

/// A stored document back as text; `None` when it does not inflate (or is larger than
/// [`MAX_DOCUMENT`]).
pub fn inflate_document(stored: &[u8]) -> Option<String> {
    use std::io::Read as _;
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(stored)
        .take(MAX_DOCUMENT + 1)
        .read_to_end(&mut out)
        .ok()?;
    if out.len() as u64 > MAX_DOCUMENT {
        return None;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A document of 16 MiB inflates back; one byte more is not shown (a damaged
    /// store, or a bomb), never shown in part.
    /// Read with one row more than the bound: the newest are kept, and the result says
    /// that older rows were left out; at the bound, nothing is said.
    #[test]
    fn newest_rows_say_when_older_ones_were_left_out() {
        let at = Newest::of((0..3).collect::<Vec<_>>(), 3);
        assert_eq!((at.rows, at.older_left_out), (vec![0, 1, 2], false));
        let over = Newest::of((0..4).collect::<Vec<_>>(), 3);
        assert_eq!((over.rows, over.older_left_out), (vec![1, 2, 3], true));
    }

    #[test]
    fn documents_inflate_up_to_their_bound() {
        let at = "x".repeat(MAX_DOCUMENT as usize);
        assert_eq!(
            inflate_document(&deflate_document(&at)).as_deref(),
            Some(at.as_str())
        );
        let over = "x".repeat(MAX_DOCUMENT as usize + 1);
        assert_eq!(inflate_document(&deflate_document(&over)), None);
    }
}
