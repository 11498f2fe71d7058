//! monban's store (DESIGN §4 "The store"): the evaluations a receiver records, one per
//! message judged, for RFC 9990 aggregate reports.
//!
//! - [`StoreUrl`]: `sqlite:PATH` or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`; without
//!   one, `$MONBAN_STORE`, else `sqlite:$XDG_DATA_HOME/monban/monban.db`.
//! - [`Evaluation`]: what is recorded of one message ([`Evaluation::from_report`]).
//! - [`Store`]: the one interface, asynchronous; [`SqliteStore`] is the embedded
//!   backend (one file, WAL), [`PostgresStore`] the one several hosts share. Both create
//!   and migrate the same schema themselves.
//!
//! - Aggregation ([`Store::aggregate`]) groups a period's evaluations as RFC 9990
//!   rows in the database; outgoing reports and their deliveries are kept
//!   ([`Store::save_report`], [`Store::due_deliveries`]) so sending can retry and never
//!   sends one report twice to one destination.

mod evaluation;
mod incoming;
mod outgoing;
mod postgres;
mod postgres_incoming;
mod sqlite;
mod sqlite_incoming;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use evaluation::{DkimRow, Evaluation, FailureReport, OverrideRow, PublishedPolicy, SpfRow};
pub use incoming::{
    DailyCounts, DomainGroup, ImportOutcome, IncomingCounts, IncomingKind, IncomingRecord,
    IncomingReport, IncomingSummary, MAX_DAYS, MAX_DOCUMENT, MAX_SUMMARY_SOURCES, MAX_TLS_ROWS,
    Newest, ReportListEntry, ReporterGroup, SourceGroup, StoredReport, SummaryFilter, TlsPolicyRow,
    TlsPolicyStored, deflate_document, inflate_document,
};
pub use outgoing::{AggregateGroup, Delivery, DeliveryUpdate, Kept, OutgoingReport, SaveOutcome};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

/// What went wrong with the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The URL is not one monban can use.
    #[error("store URL {url:?}: {why}")]
    Url {
        /// The URL (passwords hidden).
        url: String,
        /// Why.
        why: String,
    },
    /// The backend is not available in this build.
    #[error("{0}")]
    Unsupported(String),
    /// The database failed (full disk, read-only file, corrupt database, ...).
    #[error("the store {place}: {source}")]
    Database {
        /// Where (the file).
        place: String,
        /// The error.
        #[source]
        source: rusqlite::Error,
    },
    /// The PostgreSQL server failed or is unreachable. Shown with its causes
    /// (`tokio_postgres::Error` alone says "db error" or "error connecting to server";
    /// the server's message or the refused connection is its source).
    #[error("the store {place}: {}", causes(source))]
    Postgres {
        /// Where (the URL, password hidden).
        place: String,
        /// The error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// No connection could be had (pool timeout, server down).
    #[error("the store {place} is unavailable: {why}")]
    Unavailable {
        /// Where (the URL, password hidden).
        place: String,
        /// Why.
        why: String,
    },
    /// The database was written by a newer monban.
    #[error("the store {place} has schema version {found}; this monban knows up to {known}")]
    NewerSchema {
        /// Where.
        place: String,
        /// The version in the database.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// A directory for the store could not be made.
    #[error("cannot create {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// An error and its sources, each once: "db error: FATAL: database \"x\" does not
/// exist", "error connecting to server: Connection refused (os error 111)".
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        next = cause.source();
    }
    text
}

impl StoreError {
    /// Whether the database refused the data (a constraint, a value too large, a
    /// program limit) rather than failing or being unreachable: retrying the same data
    /// fails again, other data may pass.
    pub fn is_data_error(&self) -> bool {
        match self {
            Self::Database {
                source: rusqlite::Error::SqliteFailure(e, _),
                ..
            } => matches!(
                e.code,
                rusqlite::ErrorCode::ConstraintViolation
                    | rusqlite::ErrorCode::TooBig
                    | rusqlite::ErrorCode::TypeMismatch
            ),
            Self::Postgres { source, .. } => source
                .as_db_error()
                .is_some_and(|d| matches!(d.code().code().get(..2), Some("22" | "23" | "54"))),
            _ => false,
        }
    }
}

/// Where the store is (DESIGN §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database (the URL as given).
    Postgres(String),
}

impl StoreUrl {
    /// Parses `sqlite:PATH` or `postgres://...` (also `postgresql://`).
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let err = |why: &str| StoreError::Url {
            url: redact(url),
            why: why.to_owned(),
        };
        if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(err(
                    "sqlite: needs a file path, e.g. sqlite:/var/lib/monban/monban.db",
                ));
            }
            if path.contains('\0') {
                return Err(err("the path contains a NUL character"));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        Err(err(
            "expected sqlite:PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/DB",
        ))
    }

    /// The store to use when none is given: `$MONBAN_STORE`, else `sqlite:` +
    /// `$XDG_DATA_HOME/monban/monban.db` (`~/.local/share` when XDG_DATA_HOME is unset).
    pub fn default_from_env() -> Result<Self, StoreError> {
        if let Some(url) = std::env::var_os("MONBAN_STORE")
            && !url.is_empty()
        {
            return Self::parse(&url.to_string_lossy());
        }
        let base = std::env::var_os("XDG_DATA_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .ok_or_else(|| StoreError::Url {
                url: String::new(),
                why: "no --store, MONBAN_STORE, XDG_DATA_HOME or HOME to find the store".into(),
            })?;
        Ok(Self::Sqlite(base.join("monban").join("monban.db")))
    }
}

/// The URL with any password replaced, for messages.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Whether a stored, unsent report is kept rather than replaced by `new`, a report of
/// the same period: it counts more messages and was made no earlier. Two hosts
/// generating the same day: the run that started first read fewer evaluations and must
/// not replace the one that read more; a later run that counts fewer (duplicates
/// deleted since) does replace it. The one rule of both stores.
pub(crate) fn keeps_fuller(kept: &Kept, kept_created: i64, new: &OutgoingReport) -> bool {
    kept.messages > new.messages && kept_created >= new.created
}

/// When an aggregate report's deliveries are first due. A report made after its period
/// (the usual case: yesterday, generated today) is due at once. A report made while its
/// period was still running (`report generate --date` today) is kept but due only
/// [`REGENERATE_GRACE`] after the period's end: sent early, it would stand for the whole
/// day, and the mail after it would never be reported (RFC 9990 §3.1: a report covers
/// its period). The grace leaves the day's regeneration (the milter's at 00:15, the
/// timer's at 00:15 to 00:25) time to replace it with the whole day; a replaced report
/// gets new deliveries, due at once.
pub fn first_attempt(report: &OutgoingReport) -> i64 {
    if report.created > report.end {
        report.created
    } else {
        report
            .end
            .saturating_add(1)
            .saturating_add(REGENERATE_GRACE)
    }
}

/// How long after its period's end a report made during that period waits for the
/// period to be generated again before it is sent as it is.
pub const REGENERATE_GRACE: i64 = 3600;

/// The failure reports stored for one destination in the hour before a time (the
/// store's side of [`FailureReport::per_hour`]). The same text serves PostgreSQL with
/// `$n` placeholders: ?1 the destination, ?2 the time.
pub(crate) const FAILURE_REPORTS_IN_THE_HOUR: &str = "SELECT COUNT(*) FROM report_deliveries d
    JOIN reports_out r ON r.report_id = d.report_id
    WHERE r.kind = 'failure' AND d.destination = ?1
        AND r.created > CAST(?2 AS BIGINT) - 3600 AND r.created <= CAST(?2 AS BIGINT)";

/// Destinations [`Store::failure_reports_since`] returns at most.
pub const MAX_FAILURE_DESTINATIONS: u32 = 10_000;

/// How long a delivery taken by [`Store::due_deliveries`] (or renewed by
/// [`Store::claim_delivery`]) is left to its sender.
pub const CLAIM_SECONDS: i64 = 900;

/// A token no other run holds: what a claim on a delivery is made with (the process,
/// the time and a per-process random key, with a counter).
pub(crate) fn claim_token() -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(NEXT.fetch_add(1, Ordering::Relaxed));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:x}-{nanos:x}-{:016x}", std::process::id(), h.finish())
}

/// What a [`Store`] call returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The store of evaluations. Calls are asynchronous (PostgreSQL is a network service);
/// the SQLite backend does its work on the calling thread.
pub trait Store: Send + Sync {
    /// Appends evaluations in one transaction. An evaluation whose `uid` is already
    /// stored is not stored again (a journal replayed twice counts nothing twice);
    /// returns how many were new.
    fn record<'a>(&'a self, evaluations: &'a [Evaluation]) -> StoreFuture<'a, usize>;

    /// The evaluations with `from <= time < until` (Unix seconds), oldest first.
    fn evaluations(&self, from: i64, until: i64) -> StoreFuture<'_, Vec<Evaluation>>;

    /// How many evaluations are stored.
    fn count(&self) -> StoreFuture<'_, u64>;

    /// The evaluations with `from <= time < until` that found a DMARC record, grouped
    /// as RFC 9990 rows (policy, source, identifiers, results) with their counts.
    fn aggregate(&self, from: i64, until: i64) -> StoreFuture<'_, Vec<AggregateGroup>>;

    /// The `rua` URIs of the newest evaluation for `policy_domain` in the period.
    fn latest_rua<'a>(
        &'a self,
        policy_domain: &'a str,
        from: i64,
        until: i64,
    ) -> StoreFuture<'a, Vec<String>>;

    /// Whether `policy_domain` had a message that was not rejected and not report mail
    /// in `from <= time < until` (a domain that only ever sent rejected mail gets no
    /// reports: spammers' domains are not fed).
    fn has_accepted_mail<'a>(
        &'a self,
        policy_domain: &'a str,
        from: i64,
        until: i64,
    ) -> StoreFuture<'a, bool>;

    /// Keeps generated reports, each with one pending delivery per destination, in one
    /// transaction. The same report (policy domain, policy, period) generated again
    /// keeps its Report-ID and is replaced, unless it was already sent somewhere or a
    /// sender holds a live claim on one of its deliveries (it is being sent: replacing
    /// it would make its deliveries due again for every other sender).
    fn save_reports<'a>(
        &'a self,
        reports: &'a [OutgoingReport],
    ) -> StoreFuture<'a, Vec<SaveOutcome>>;

    /// [`Store::save_reports`] for one report.
    fn save_report<'a>(&'a self, report: &'a OutgoingReport) -> StoreFuture<'a, SaveOutcome> {
        Box::pin(async move {
            let mut v = self.save_reports(std::slice::from_ref(report)).await?;
            Ok(v.pop().unwrap_or(SaveOutcome::New))
        })
    }

    /// Deliveries whose time has come (`next_attempt <= now`), oldest first, claimed
    /// for [`CLAIM_SECONDS`] under one token (each [`Delivery::claim`]): another sender
    /// does not get them meanwhile (a sender that dies leaves them to be taken again
    /// after the claim). A sender renews the claim with [`Store::claim_delivery`] right
    /// before it sends each one: a run that lasts longer than the claim never sends a
    /// delivery that another sender took after the claim ran out.
    fn due_deliveries(&self, now: i64, limit: u32) -> StoreFuture<'_, Vec<Delivery>>;

    /// Renews the claim on one delivery until `until`, if it is still pending and still
    /// held under `claim` (compare and set): false when another sender took it, or it
    /// was settled or replaced meanwhile, and must then not be sent.
    fn claim_delivery<'a>(
        &'a self,
        report_id: &'a str,
        destination: &'a str,
        claim: &'a str,
        until: i64,
    ) -> StoreFuture<'a, bool>;

    /// Records what came of one delivery attempt.
    fn update_delivery<'a>(
        &'a self,
        report_id: &'a str,
        destination: &'a str,
        update: &'a DeliveryUpdate,
    ) -> StoreFuture<'a, ()>;

    /// How many reports went to `destination` since `since` (for the rate limit).
    fn sent_since<'a>(&'a self, destination: &'a str, since: i64) -> StoreFuture<'a, u64>;

    /// The failure reports made from `since` to `until` (their message's time), per
    /// destination URI: how many, and the time of the first. What a new process starts
    /// its hourly limit from, so that a run per message does not send a report per
    /// message. At most [`MAX_FAILURE_DESTINATIONS`] destinations, the busiest first.
    fn failure_reports_since(
        &self,
        since: i64,
        until: i64,
    ) -> StoreFuture<'_, Vec<(String, u64, i64)>>;

    /// Stops sending to `destination` until `until` (it bounced).
    fn suppress<'a>(
        &'a self,
        destination: &'a str,
        until: i64,
        reason: &'a str,
    ) -> StoreFuture<'a, ()>;

    /// Until when `destination` is suppressed, if it is at `now`.
    fn suppressed<'a>(&'a self, destination: &'a str, now: i64) -> StoreFuture<'a, Option<i64>>;

    /// Stores received reports in one transaction, each once (DESIGN §4: a copy with
    /// the same identity and content is a duplicate, with other content a conflict kept
    /// aside); `now` stamps them. Returns one outcome per report, in order.
    fn import_reports<'a>(
        &'a self,
        reports: &'a [IncomingReport],
        now: i64,
    ) -> StoreFuture<'a, Vec<ImportOutcome>>;

    /// The stored aggregate reports whose period overlaps the filter's, grouped by
    /// domain and reporter, and by domain and source outcome.
    fn incoming_summary<'a>(
        &'a self,
        filter: &'a SummaryFilter,
    ) -> StoreFuture<'a, IncomingSummary>;

    /// How many received reports, records and conflicts are stored.
    fn incoming_counts(&self) -> StoreFuture<'_, IncomingCounts>;

    /// The policies of the stored TLS reports (RFC 8460) whose period overlaps the
    /// filter's: the newest [`MAX_TLS_ROWS`], saying whether older ones were left out.
    fn incoming_tls<'a>(
        &'a self,
        filter: &'a SummaryFilter,
    ) -> StoreFuture<'a, Newest<TlsPolicyStored>>;

    /// A number that changes whenever a report is stored (the newest report's id): what
    /// was computed from the reports is still right while it stays the same.
    fn incoming_generation(&self) -> StoreFuture<'_, i64>;

    /// The filter's aggregate report messages per day (the day each report's period
    /// begins), oldest first: the newest [`MAX_DAYS`] days, saying whether older ones
    /// were left out.
    fn incoming_daily<'a>(
        &'a self,
        filter: &'a SummaryFilter,
    ) -> StoreFuture<'a, Newest<DailyCounts>>;

    /// The stored reports (every kind) whose period overlaps the filter's, the newest
    /// first, `limit` (at most 1,000) from `offset`.
    fn incoming_report_list<'a>(
        &'a self,
        filter: &'a SummaryFilter,
        offset: u64,
        limit: u64,
    ) -> StoreFuture<'a, Vec<ReportListEntry>>;

    /// One stored report with its document.
    fn incoming_report(&self, id: i64) -> StoreFuture<'_, Option<StoredReport>>;
}

/// Opens (creating and migrating as needed) the store at `url`.
pub async fn open(url: &StoreUrl) -> Result<Box<dyn Store>, StoreError> {
    match url {
        StoreUrl::Sqlite(path) => Ok(Box::new(SqliteStore::open(path)?)),
        StoreUrl::Postgres(u) => Ok(Box::new(PostgresStore::connect(u).await?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_4_store_urls() {
        assert_eq!(
            StoreUrl::parse("sqlite:/var/lib/monban/monban.db").unwrap(),
            StoreUrl::Sqlite("/var/lib/monban/monban.db".into())
        );
        assert_eq!(
            StoreUrl::parse("sqlite:rel.db").unwrap(),
            StoreUrl::Sqlite("rel.db".into())
        );
        assert!(matches!(
            StoreUrl::parse("postgres://u:secret@127.0.0.1:5432/monban").unwrap(),
            StoreUrl::Postgres(_)
        ));
        for bad in ["sqlite:", "mysql://x", "/tmp/x.db", ""] {
            assert!(StoreUrl::parse(bad).is_err(), "{bad}");
        }
        let e = StoreUrl::parse("mysql://u:secret@h/db")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("secret"), "{e}");
        assert_eq!(redact("postgres://u:pw@h/db"), "postgres://u:***@h/db");
    }
}
