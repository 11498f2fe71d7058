//! Received reports in the SQLite store (issue 12).

use rusqlite::{OptionalExtension, params};

use crate::StoreError;
use crate::incoming::{
    DomainGroup, ImportOutcome, IncomingCounts, IncomingReport, IncomingSummary, ReporterGroup,
    SourceGroup, SummaryFilter,
};
use crate::sqlite::SqliteStore;

/// The summary's source groups (shared by both backends; `$n` placeholders). A report
/// counts when its period overlaps [since, until): its end is taken as exclusive (some
/// reporters end a day at the next midnight), a report of one instant by its begin.
pub(crate) const SOURCES_SQL: &str = "WITH per_source AS (
        SELECT r.domain AS domain, c.source_ip AS source_ip,
            SUM(CASE WHEN c.dkim_aligned OR c.spf_aligned THEN 0 ELSE c.count END) AS fail,
            SUM(c.count) AS messages
        FROM incoming_records c JOIN incoming_reports r ON r.id = c.report
        WHERE r.kind = 'aggregate' AND (r.end_time > $1 OR r.begin_time >= $1)
            AND r.begin_time < $2 AND ($3 = '' OR r.domain = $3)
        GROUP BY r.domain, c.source_ip),
     chosen AS (
        SELECT domain, source_ip FROM (
            SELECT domain, source_ip, ROW_NUMBER() OVER (PARTITION BY domain
                ORDER BY fail DESC, messages DESC, source_ip) AS place
            FROM per_source) ranked
        WHERE place <= $4)
     SELECT r.domain, c.source_ip, c.header_from,
        c.disposition, c.dkim_aligned, c.spf_aligned, c.dkim_domain, c.dkim_selector,
        c.dkim_result, c.dkim_any_pass, c.spf_domain, c.spf_result, c.reasons, CAST(SUM(c.count) AS BIGINT)
     FROM incoming_records c JOIN incoming_reports r ON r.id = c.report
        JOIN chosen k ON k.domain = r.domain AND k.source_ip = c.source_ip
     WHERE r.kind = 'aggregate' AND (r.end_time > $1 OR r.begin_time >= $1) AND r.begin_time < $2
        AND ($3 = '' OR r.domain = $3)
     GROUP BY r.domain, c.source_ip, c.header_from, c.disposition, c.dkim_aligned,
        c.spf_aligned, c.dkim_domain, c.dkim_selector, c.dkim_result, c.dkim_any_pass,
        c.spf_domain, c.spf_result, c.reasons";

/// The summary's totals per domain and disposition (both backends), every record
/// counted.
pub(crate) const TOTALS_SQL: &str = "SELECT r.domain, c.disposition,
        CAST(SUM(c.count) AS BIGINT),
        CAST(SUM(CASE WHEN c.dkim_aligned OR c.spf_aligned THEN c.count ELSE 0 END) AS BIGINT),
        CAST(SUM(CASE WHEN c.dkim_aligned THEN c.count ELSE 0 END) AS BIGINT),
        CAST(SUM(CASE WHEN c.spf_aligned THEN c.count ELSE 0 END) AS BIGINT)
     FROM incoming_records c JOIN incoming_reports r ON r.id = c.report
     WHERE r.kind = 'aggregate' AND (r.end_time > $1 OR r.begin_time >= $1) AND r.begin_time < $2
        AND ($3 = '' OR r.domain = $3)
     GROUP BY r.domain, c.disposition";

/// How many distinct source addresses each domain's records name, and how many of them
/// failed DMARC in some record of at least one message (both backends).
pub(crate) const SOURCE_COUNTS_SQL: &str = "SELECT r.domain, COUNT(DISTINCT c.source_ip),
        COUNT(DISTINCT CASE WHEN c.dkim_aligned OR c.spf_aligned OR c.count = 0 THEN NULL
            ELSE c.source_ip END)
     FROM incoming_records c JOIN incoming_reports r ON r.id = c.report
     WHERE r.kind = 'aggregate' AND (r.end_time > $1 OR r.begin_time >= $1) AND r.begin_time < $2
        AND ($3 = '' OR r.domain = $3)
     GROUP BY r.domain";

/// The summary's reporter groups, with the newest report's `p` of each.
pub(crate) const REPORTERS_SQL: &str =
    "SELECT r.domain, r.org_name, COUNT(*), CAST(SUM(r.messages) AS BIGINT),
        MAX(r.end_time),
        (SELECT n.policy_p FROM incoming_reports n WHERE n.kind = 'aggregate'
            AND n.domain = r.domain AND n.org_name = r.org_name
            AND (n.end_time > $1 OR n.begin_time >= $1) AND n.begin_time < $2
            ORDER BY n.end_time DESC, n.id DESC LIMIT 1)
     FROM incoming_reports r
     WHERE r.kind = 'aggregate' AND (r.end_time > $1 OR r.begin_time >= $1) AND r.begin_time < $2
        AND ($3 = '' OR r.domain = $3)
     GROUP BY r.domain, r.org_name";

/// The TLS policies of a period (shared by both backends; `$n` placeholders): the
/// newest `$4` rows, oldest first.
pub(crate) const TLS_SQL: &str = "SELECT org_name, policy_type, policy_domain, successful,
        failed, details
     FROM (SELECT r.org_name, p.policy_type,
            CASE WHEN p.policy_domain = '' THEN r.domain ELSE p.policy_domain END
                AS policy_domain,
            p.successful, p.failed, p.details, r.end_time, r.id
        FROM incoming_tls_policies p JOIN incoming_reports r ON r.id = p.report
        WHERE r.kind = 'tls' AND (r.end_time > $1 OR r.begin_time >= $1)
            AND r.begin_time < $2 AND ($3 = '' OR r.domain = $3 OR p.policy_domain = $3)
        ORDER BY r.end_time DESC, r.id DESC
        LIMIT $4) newest
     ORDER BY end_time, id";

/// Messages per day of a period's aggregate reports (both backends; `$n`
/// placeholders): the newest `$4` days, oldest first.
pub(crate) const DAILY_SQL: &str = "SELECT day, messages, dmarc_pass, n_none, n_quarantine,
        n_reject
     FROM (SELECT r.begin_time / 86400 AS day,
            CAST(SUM(c.count) AS BIGINT) AS messages,
            CAST(SUM(CASE WHEN c.dkim_aligned OR c.spf_aligned THEN c.count ELSE 0 END)
                AS BIGINT) AS dmarc_pass,
            CAST(SUM(CASE WHEN c.disposition = 'none' THEN c.count ELSE 0 END) AS BIGINT)
                AS n_none,
            CAST(SUM(CASE WHEN c.disposition = 'quarantine' THEN c.count ELSE 0 END)
                AS BIGINT) AS n_quarantine,
            CAST(SUM(CASE WHEN c.disposition = 'reject' THEN c.count ELSE 0 END) AS BIGINT)
                AS n_reject
        FROM incoming_records c JOIN incoming_reports r ON r.id = c.report
        WHERE r.kind = 'aggregate' AND (r.end_time > $1 OR r.begin_time >= $1)
            AND r.begin_time < $2 AND ($3 = '' OR r.domain = $3)
        GROUP BY 1 ORDER BY 1 DESC LIMIT $4) newest
     ORDER BY day";

/// The reports of a period, newest first (both backends): of one domain (`$3`), walking
/// the (domain, end_time) index backwards, or of all (`$3` unused), walking the
/// end_time index; either way a page reads its own rows, not the table.
pub(crate) fn list_sql(one_domain: bool) -> String {
    format!(
        "SELECT r.id, r.kind, r.org_name, r.report_id, r.domain,
            r.begin_time, r.end_time, r.messages, r.records, r.document IS NOT NULL
         FROM incoming_reports r
         WHERE (r.end_time > $1 OR r.begin_time >= $1) AND r.begin_time < $2 AND {}
         ORDER BY r.end_time DESC, r.id DESC LIMIT $4 OFFSET $5",
        if one_domain {
            "r.domain = $3"
        } else {
            "$3 = ''"
        }
    )
}

/// One report with its document (both backends).
pub(crate) const REPORT_SQL: &str = "SELECT r.id, r.kind, r.org_name, r.report_id, r.domain,
        r.begin_time, r.end_time, r.messages, r.records, r.document IS NOT NULL,
        r.meta, r.source, r.document
     FROM incoming_reports r WHERE r.id = $1";

/// The most entries of one list page.
pub(crate) const MAX_LIST: u64 = 1_000;

impl SqliteStore {
    /// [`crate::Store::incoming_generation`], on the calling thread.
    pub fn incoming_generation_now(&self) -> Result<i64, StoreError> {
        self.lock()
            .query_row(
                "SELECT COALESCE(MAX(id), 0) FROM incoming_reports",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.db(e))
    }

    /// [`crate::Store::incoming_daily`], on the calling thread.
    pub fn incoming_daily_now(
        &self,
        filter: &SummaryFilter,
    ) -> Result<crate::Newest<crate::DailyCounts>, StoreError> {
        let conn = self.lock();
        let db = |e| self.db(e);
        let (since, until, domain) = bounds(filter);
        let mut stmt = conn.prepare(&DAILY_SQL.replace('$', "?")).map_err(db)?;
        // One day more than the bound: whether older days were left out.
        let rows = stmt
            .query_map(
                params![since, until, domain, crate::MAX_DAYS as i64 + 1],
                |row| {
                    Ok(crate::DailyCounts {
                        day: row.get(0)?,
                        messages: row.get::<_, i64>(1)? as u64,
                        dmarc_pass: row.get::<_, i64>(2)? as u64,
                        none: row.get::<_, i64>(3)? as u64,
                        quarantine: row.get::<_, i64>(4)? as u64,
                        reject: row.get::<_, i64>(5)? as u64,
                    })
                },
            )
            .map_err(db)?;
        rows.collect::<Result<Vec<_>, _>>()
            .map(|rows| crate::Newest::of(rows, crate::MAX_DAYS))
            .map_err(db)
    }

    /// [`crate::Store::incoming_report_list`], on the calling thread.
    pub fn incoming_report_list_now(
        &self,
        filter: &SummaryFilter,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<crate::ReportListEntry>, StoreError> {
        let conn = self.lock();
        let db = |e| self.db(e);
        let (since, until, domain) = bounds(filter);
        let limit = limit.min(MAX_LIST) as i64;
        let offset = offset.min(i64::MAX as u64) as i64;
        let sql = list_sql(filter.domain.is_some()).replace('$', "?");
        let mut stmt = conn.prepare(&sql).map_err(db)?;
        let rows = stmt
            .query_map(params![since, until, domain, limit, offset], list_entry)
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    /// [`crate::Store::incoming_report`], on the calling thread.
    pub fn incoming_report_now(&self, id: i64) -> Result<Option<crate::StoredReport>, StoreError> {
        let conn = self.lock();
        conn.query_row(&REPORT_SQL.replace('$', "?"), params![id], |row| {
            let stored: Option<Vec<u8>> = row.get(12)?;
            Ok(crate::StoredReport {
                entry: list_entry(row)?,
                meta: row.get(10)?,
                source: row.get(11)?,
                document: stored.as_deref().and_then(crate::inflate_document),
            })
        })
        .optional()
        .map_err(|e| self.db(e))
    }

    /// [`crate::Store::incoming_tls`], on the calling thread.
    pub fn incoming_tls_now(
        &self,
        filter: &SummaryFilter,
    ) -> Result<crate::Newest<crate::TlsPolicyStored>, StoreError> {
        let conn = self.lock();
        let db = |e| self.db(e);
        let since = filter.since.unwrap_or(i64::MIN);
        let until = filter.until.unwrap_or(i64::MAX);
        let domain = filter.domain.clone().unwrap_or_default();
        let mut stmt = conn.prepare(&TLS_SQL.replace('$', "?")).map_err(db)?;
        let rows = stmt
            .query_map(
                // One row more than the bound: whether older rows were left out.
                params![since, until, domain, crate::MAX_TLS_ROWS as i64 + 1],
                |row| {
                    Ok(crate::TlsPolicyStored {
                        org_name: row.get(0)?,
                        policy_type: row.get(1)?,
                        policy_domain: row.get(2)?,
                        successful: row.get::<_, i64>(3)? as u64,
                        failed: row.get::<_, i64>(4)? as u64,
                        details: row.get(5)?,
                    })
                },
            )
            .map_err(db)?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r.map_err(db)?);
        }
        Ok(crate::Newest::of(out, crate::MAX_TLS_ROWS))
    }

    /// [`crate::Store::import_reports`], on the calling thread.
    pub fn import_reports_now(
        &self,
        reports: &[IncomingReport],
        now: i64,
    ) -> Result<Vec<ImportOutcome>, StoreError> {
        let mut conn = self.lock();
        let db = |e| self.db(e);
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        let mut outcomes = Vec::with_capacity(reports.len());
        {
            let mut find = tx
                .prepare_cached(
                    "SELECT content_hash FROM incoming_reports WHERE kind = ?1 AND org_name = ?2
                     AND report_id = ?3 AND domain = ?4 AND begin_time = ?5 AND end_time = ?6",
                )
                .map_err(db)?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO incoming_reports (kind, org_name, report_id, domain, begin_time,
                        end_time, content_hash, policy_p, messages, records, meta, source,
                        imported_at, document)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                )
                .map_err(db)?;
            let mut record = tx
                .prepare_cached(
                    "INSERT INTO incoming_records (report, source_ip, count, disposition,
                        dkim_aligned, spf_aligned, header_from, envelope_from, envelope_to,
                        dkim_domain, dkim_selector, dkim_result, dkim_any_pass, spf_domain,
                        spf_result, reasons, auth)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                        ?16, ?17)",
                )
                .map_err(db)?;
            let mut policy = tx
                .prepare_cached(
                    "INSERT INTO incoming_tls_policies (report, policy_type, policy_domain,
                        successful, failed, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(db)?;
            let mut conflict = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO incoming_conflicts (kind, org_name, report_id, domain,
                        begin_time, end_time, content_hash, document, source, imported_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(db)?;
            for r in reports {
                let kind = r.kind.as_str();
                let existing: Option<String> = find
                    .query_row(
                        params![kind, r.org_name, r.report_id, r.domain, r.begin, r.end],
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(db)?;
                match existing {
                    Some(hash) if hash == r.content_hash => {
                        outcomes.push(ImportOutcome::Duplicate);
                        continue;
                    }
                    Some(_) => {
                        conflict
                            .execute(params![
                                kind,
                                r.org_name,
                                r.report_id,
                                r.domain,
                                r.begin,
                                r.end,
                                r.content_hash,
                                r.document,
                                r.source,
                                now
                            ])
                            .map_err(db)?;
                        outcomes.push(ImportOutcome::Conflict);
                        continue;
                    }
                    None => {}
                }
                let rows = (r.records.len() + r.tls_policies.len()) as u64;
                insert
                    .execute(params![
                        kind,
                        r.org_name,
                        r.report_id,
                        r.domain,
                        r.begin,
                        r.end,
                        r.content_hash,
                        r.policy_p,
                        r.messages as i64,
                        rows as i64,
                        r.meta,
                        r.source,
                        now,
                        crate::deflate_document(&r.document)
                    ])
                    .map_err(db)?;
                let id = tx.last_insert_rowid();
                for c in &r.records {
                    record
                        .execute(params![
                            id,
                            c.source_ip,
                            c.count as i64,
                            c.disposition,
                            c.dkim_aligned,
                            c.spf_aligned,
                            c.header_from,
                            c.envelope_from,
                            c.envelope_to,
                            c.dkim_domain,
                            c.dkim_selector,
                            c.dkim_result,
                            c.dkim_any_pass,
                            c.spf_domain,
                            c.spf_result,
                            c.reasons,
                            c.auth
                        ])
                        .map_err(db)?;
                }
                for p in &r.tls_policies {
                    policy
                        .execute(params![
                            id,
                            p.policy_type,
                            p.policy_domain,
                            p.successful as i64,
                            p.failed as i64,
                            p.details
                        ])
                        .map_err(db)?;
                }
                outcomes.push(ImportOutcome::New { records: rows });
            }
        }
        tx.commit().map_err(db)?;
        Ok(outcomes)
    }

    /// [`crate::Store::incoming_summary`], on the calling thread.
    pub fn incoming_summary_now(
        &self,
        filter: &SummaryFilter,
    ) -> Result<IncomingSummary, StoreError> {
        let conn = self.lock();
        let db = |e| self.db(e);
        // One read transaction: the four queries see one snapshot of the file, which
        // another process (an import, the milter) may be writing meanwhile.
        let snapshot = conn.unchecked_transaction().map_err(db)?;
        let since = filter.since.unwrap_or(i64::MIN);
        let until = filter.until.unwrap_or(i64::MAX);
        let domain = filter.domain.clone().unwrap_or_default();
        let sql = |s: &str| s.replace('$', "?");
        let mut out = IncomingSummary::default();
        let mut stmt = conn.prepare(&sql(REPORTERS_SQL)).map_err(db)?;
        let rows = stmt
            .query_map(params![since, until, domain], |row| {
                Ok(ReporterGroup {
                    domain: row.get(0)?,
                    org_name: row.get(1)?,
                    reports: row.get::<_, i64>(2)? as u64,
                    messages: row.get::<_, i64>(3)? as u64,
                    last_end: row.get(4)?,
                    policy_p: row.get(5)?,
                })
            })
            .map_err(db)?;
        for row in rows {
            out.reporters.push(row.map_err(db)?);
        }
        let mut stmt = conn.prepare(&sql(SOURCES_SQL)).map_err(db)?;
        let limit = crate::MAX_SUMMARY_SOURCES as i64;
        let rows = stmt
            .query_map(params![since, until, domain, limit], |row| {
                Ok(SourceGroup {
                    domain: row.get(0)?,
                    source_ip: row.get(1)?,
                    header_from: row.get(2)?,
                    disposition: row.get(3)?,
                    dkim_aligned: row.get(4)?,
                    spf_aligned: row.get(5)?,
                    dkim_domain: row.get(6)?,
                    dkim_selector: row.get(7)?,
                    dkim_result: row.get(8)?,
                    dkim_any_pass: row.get(9)?,
                    spf_domain: row.get(10)?,
                    spf_result: row.get(11)?,
                    reasons: row.get(12)?,
                    messages: row.get::<_, i64>(13)? as u64,
                })
            })
            .map_err(db)?;
        for row in rows {
            out.sources.push(row.map_err(db)?);
        }
        let mut stmt = conn.prepare(&sql(TOTALS_SQL)).map_err(db)?;
        let rows = stmt
            .query_map(params![since, until, domain], |row| {
                Ok(DomainGroup {
                    domain: row.get(0)?,
                    disposition: row.get(1)?,
                    messages: row.get::<_, i64>(2)? as u64,
                    dmarc_pass: row.get::<_, i64>(3)? as u64,
                    dkim_aligned_pass: row.get::<_, i64>(4)? as u64,
                    spf_aligned_pass: row.get::<_, i64>(5)? as u64,
                })
            })
            .map_err(db)?;
        for row in rows {
            out.totals.push(row.map_err(db)?);
        }
        let mut stmt = conn.prepare(&sql(SOURCE_COUNTS_SQL)).map_err(db)?;
        let rows = stmt
            .query_map(params![since, until, domain], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)? as u64,
                    row.get::<_, i64>(2)? as u64,
                ))
            })
            .map_err(db)?;
        for row in rows {
            out.source_counts.push(row.map_err(db)?);
        }
        drop(stmt);
        snapshot.commit().map_err(db)?;
        Ok(out)
    }

    /// [`crate::Store::incoming_counts`], on the calling thread.
    pub fn incoming_counts_now(&self) -> Result<IncomingCounts, StoreError> {
        let conn = self.lock();
        let db = |e| self.db(e);
        let mut c = IncomingCounts::default();
        let mut stmt = conn
            .prepare(
                "SELECT kind, COUNT(*), COALESCE(SUM(records), 0), COALESCE(SUM(messages), 0)
                 FROM incoming_reports GROUP BY kind",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, i64>(2)? as u64,
                    r.get::<_, i64>(3)? as u64,
                ))
            })
            .map_err(db)?;
        for row in rows {
            let (kind, n, records, messages) = row.map_err(db)?;
            match kind.as_str() {
                "aggregate" => {
                    c.aggregate = n;
                    c.records = records;
                    c.messages = messages;
                }
                "tls" => c.tls = n,
                _ => c.failure = n,
            }
        }
        c.conflicts = conn
            .query_row("SELECT COUNT(*) FROM incoming_conflicts", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(db)? as u64;
        Ok(c)
    }
}

/// The filter as the queries take it: since, until, domain ('' for every domain).
pub(crate) fn bounds(filter: &SummaryFilter) -> (i64, i64, String) {
    (
        filter.since.unwrap_or(i64::MIN),
        filter.until.unwrap_or(i64::MAX),
        filter.domain.clone().unwrap_or_default(),
    )
}

fn list_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<crate::ReportListEntry> {
    Ok(crate::ReportListEntry {
        id: row.get(0)?,
        kind: row.get(1)?,
        org_name: row.get(2)?,
        report_id: row.get(3)?,
        domain: row.get(4)?,
        begin: row.get(5)?,
        end: row.get(6)?,
        messages: row.get::<_, i64>(7)? as u64,
        records: row.get::<_, i64>(8)? as u64,
        has_document: row.get(9)?,
    })
}
