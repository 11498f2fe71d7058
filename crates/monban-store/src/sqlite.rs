//! The embedded backend: one SQLite file in WAL mode, the schema created and migrated by
//! monban (table `monban_schema` holds the version).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use crate::outgoing::{
    dkim_from_text, dkim_to_text, overrides_from_text, overrides_to_text, uris_from_text,
    uris_to_text,
};
use crate::{
    AggregateGroup, Delivery, DeliveryUpdate, Evaluation, ImportOutcome, IncomingCounts,
    IncomingReport, IncomingSummary, OutgoingReport, PublishedPolicy, SaveOutcome, SpfRow, Store,
    StoreError, StoreFuture, SummaryFilter,
};

/// The migrations, in order; the schema version is how many have run. Those a
/// database lacks run in one transaction; a database at a later version than this
/// list is refused.
const MIGRATIONS: &[&str] = &[
    // 1: evaluations, their DKIM results and their overrides.
    "CREATE TABLE evaluations (
        id INTEGER PRIMARY KEY,
        uid TEXT NOT NULL UNIQUE,
        time INTEGER NOT NULL,
        source_ip TEXT,
        envelope_from TEXT,
        header_from TEXT,
        spf_domain TEXT,
        spf_scope TEXT,
        spf_result TEXT,
        policy_domain TEXT,
        policy_p TEXT,
        policy_sp TEXT,
        policy_np TEXT,
        policy_adkim TEXT,
        policy_aspf TEXT,
        policy_testing INTEGER,
        discovery_method TEXT,
        dmarc TEXT NOT NULL,
        disposition TEXT NOT NULL,
        dkim_aligned INTEGER NOT NULL,
        spf_aligned INTEGER NOT NULL
    );
    CREATE INDEX evaluations_time ON evaluations (time);
    CREATE INDEX evaluations_policy_time ON evaluations (policy_domain, time);
    CREATE TABLE evaluation_dkim (
        evaluation_id INTEGER NOT NULL REFERENCES evaluations (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        domain TEXT NOT NULL,
        selector TEXT NOT NULL,
        result TEXT NOT NULL,
        human_result TEXT,
        PRIMARY KEY (evaluation_id, position)
    );
    CREATE TABLE evaluation_overrides (
        evaluation_id INTEGER NOT NULL REFERENCES evaluations (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        kind TEXT NOT NULL,
        comment TEXT,
        PRIMARY KEY (evaluation_id, position)
    );",
    // 2: DKIM results and overrides move into the evaluation (one row per message, so
    // a day's aggregation is one GROUP BY); the MAIL FROM domain, the policy that
    // applied, fo/rua/ruf/psd and the report-mail mark; outgoing reports and their
    // deliveries; suppressed destinations.
    "ALTER TABLE evaluations ADD COLUMN envelope_domain TEXT;
    ALTER TABLE evaluations ADD COLUMN dkim TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE evaluations ADD COLUMN overrides TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE evaluations ADD COLUMN policy_applied TEXT;
    ALTER TABLE evaluations ADD COLUMN policy_fo TEXT;
    ALTER TABLE evaluations ADD COLUMN policy_rua TEXT;
    ALTER TABLE evaluations ADD COLUMN policy_ruf TEXT;
    ALTER TABLE evaluations ADD COLUMN policy_psd INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE evaluations ADD COLUMN report_mail INTEGER NOT NULL DEFAULT 0;
    UPDATE evaluations SET envelope_domain =
        lower(substr(envelope_from, instr(envelope_from, '@') + 1))
        WHERE instr(envelope_from, '@') > 0;
    UPDATE evaluations SET dkim = coalesce((SELECT json_group_array(
            json_array(domain, selector, result, human_result))
        FROM (SELECT * FROM evaluation_dkim d WHERE d.evaluation_id = evaluations.id
              ORDER BY position)), '[]');
    UPDATE evaluations SET overrides = coalesce((SELECT json_group_array(
            json_array(kind, comment))
        FROM (SELECT * FROM evaluation_overrides o WHERE o.evaluation_id = evaluations.id
              ORDER BY position)), '[]');
    DROP TABLE evaluation_dkim;
    DROP TABLE evaluation_overrides;
    CREATE TABLE reports_out (
        report_id TEXT PRIMARY KEY,
        policy_domain TEXT NOT NULL,
        policy_key TEXT NOT NULL,
        begin_time INTEGER NOT NULL,
        end_time INTEGER NOT NULL,
        filename TEXT NOT NULL,
        xml_gz BLOB NOT NULL,
        records INTEGER NOT NULL,
        messages INTEGER NOT NULL,
        rua TEXT NOT NULL,
        created INTEGER NOT NULL,
        UNIQUE (policy_domain, policy_key, begin_time, end_time)
    );
    CREATE TABLE report_deliveries (
        report_id TEXT NOT NULL REFERENCES reports_out (report_id) ON DELETE CASCADE,
        destination TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER,
        last_error TEXT,
        sent_at INTEGER,
        PRIMARY KEY (report_id, destination)
    );
    CREATE INDEX report_deliveries_due ON report_deliveries (status, next_attempt);
    CREATE INDEX report_deliveries_sent ON report_deliveries (destination, sent_at);
    CREATE TABLE suppressed_destinations (
        destination TEXT PRIMARY KEY,
        until INTEGER NOT NULL,
        reason TEXT
    );",
    // 3: failure reports (RFC 9991) wait in reports_out beside the aggregate ones.
    "ALTER TABLE reports_out ADD COLUMN kind TEXT NOT NULL DEFAULT 'aggregate';
    ALTER TABLE reports_out ADD COLUMN content_type TEXT;
    ALTER TABLE reports_out ADD COLUMN subject TEXT;",
    // 4: the aggregation key (Evaluation::group_key): a day groups by one integer.
    "ALTER TABLE evaluations ADD COLUMN group_key INTEGER;",
    // 5: reports received by a domain owner (issue 12), identified as DESIGN §4 says.
    "CREATE TABLE incoming_reports (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        org_name TEXT NOT NULL,
        report_id TEXT NOT NULL,
        domain TEXT NOT NULL,
        begin_time INTEGER NOT NULL,
        end_time INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        policy_p TEXT,
        messages INTEGER NOT NULL,
        records INTEGER NOT NULL,
        meta TEXT NOT NULL,
        source TEXT NOT NULL,
        imported_at INTEGER NOT NULL,
        UNIQUE (kind, org_name, report_id, domain, begin_time, end_time)
    );
    CREATE INDEX incoming_reports_period ON incoming_reports (domain, end_time);
    CREATE TABLE incoming_records (
        report INTEGER NOT NULL REFERENCES incoming_reports (id) ON DELETE CASCADE,
        source_ip TEXT NOT NULL,
        count INTEGER NOT NULL,
        disposition TEXT NOT NULL,
        dkim_aligned INTEGER NOT NULL,
        spf_aligned INTEGER NOT NULL,
        header_from TEXT NOT NULL,
        envelope_from TEXT,
        envelope_to TEXT,
        dkim_domain TEXT,
        dkim_selector TEXT,
        dkim_result TEXT,
        dkim_any_pass INTEGER NOT NULL,
        spf_domain TEXT,
        spf_result TEXT,
        reasons TEXT,
        auth TEXT
    );
    CREATE INDEX incoming_records_report ON incoming_records (report);
    CREATE TABLE incoming_tls_policies (
        report INTEGER NOT NULL REFERENCES incoming_reports (id) ON DELETE CASCADE,
        policy_type TEXT NOT NULL,
        policy_domain TEXT NOT NULL,
        successful INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        details TEXT NOT NULL
    );
    CREATE INDEX incoming_tls_policies_report ON incoming_tls_policies (report);
    CREATE TABLE incoming_conflicts (
        kind TEXT NOT NULL,
        org_name TEXT NOT NULL,
        report_id TEXT NOT NULL,
        domain TEXT NOT NULL,
        begin_time INTEGER NOT NULL,
        end_time INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        document TEXT NOT NULL,
        source TEXT NOT NULL,
        imported_at INTEGER NOT NULL,
        UNIQUE (kind, org_name, report_id, domain, begin_time, end_time, content_hash)
    );",
    // 6: the report as received (deflated), for the dashboard's drill-down (issue 13).
    "ALTER TABLE incoming_reports ADD COLUMN document BLOB;
     CREATE INDEX incoming_reports_end ON incoming_reports (end_time);",
    // 7: the failure reports of the last hour, read at each start of a recording
    // process (the hourly limit per destination), without reading every report.
    "CREATE INDEX reports_out_kind_created ON reports_out (kind, created);",
    // 8: the claim a sender holds a delivery under (Store::claim_delivery): a run
    // renews it before each send, and a claim taken over by another sender is seen.
    "ALTER TABLE report_deliveries ADD COLUMN claim TEXT;",
];
/// The SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    place: String,
}

impl SqliteStore {
    /// Opens the file (creating it and its folder as needed), sets WAL mode and brings
    /// the schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.exists()
        {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let place = path.display().to_string();
        let db = |source| StoreError::Database {
            place: place.clone(),
            source,
        };
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db)?;
        // WAL: readers do not block the writer; a read-only file keeps its mode.
        let _ = conn.pragma_update(None, "journal_mode", "WAL");
        // synchronous stays FULL: the milter deletes a journal segment once the store
        // has committed it, so a commit must survive a power loss.
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
        let store = Self {
            conn: Mutex::new(conn),
            place,
        };
        store.migrate()?;
        Ok(store)
    }

    /// An in-memory store (tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Database {
            place: ":memory:".into(),
            source,
        })?;
        let store = Self {
            conn: Mutex::new(conn),
            place: ":memory:".into(),
        };
        store.migrate()?;
        Ok(store)
    }

    pub(crate) fn db(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Database {
            place: self.place.clone(),
            source,
        }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let conn = self.lock();
        version(&conn).map_err(|e| self.db(e))
    }

    /// Brings the schema up to date. Two processes opening a new (or older) file at
    /// once migrate it once: the version is read again and the migrations run inside
    /// one write transaction (BEGIN IMMEDIATE, waiting for the other writer up to the
    /// busy timeout); a database already up to date is only read (a read-only file
    /// opens).
    fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let known = MIGRATIONS.len() as i64;
        let newer = |found| StoreError::NewerSchema {
            place: self.place.clone(),
            found,
            known,
        };
        match version(&conn) {
            Ok(v) if v == known => return Ok(()),
            Ok(v) if v > known => return Err(newer(v)),
            _ => {}
        }
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.db(e))?;
        tx.execute_batch("CREATE TABLE IF NOT EXISTS monban_schema (version INTEGER NOT NULL)")
            .map_err(|e| self.db(e))?;
        let current = version(&tx).map_err(|e| self.db(e))?;
        if current > known {
            return Err(newer(current));
        }
        if current == known {
            return Ok(());
        }
        for sql in MIGRATIONS.iter().skip(current as usize) {
            tx.execute_batch(sql).map_err(|e| self.db(e))?;
        }
        tx.execute("DELETE FROM monban_schema", [])
            .map_err(|e| self.db(e))?;
        tx.execute(
            "INSERT INTO monban_schema (version) VALUES (?1)",
            params![known],
        )
        .map_err(|e| self.db(e))?;
        tx.commit().map_err(|e| self.db(e))
    }

    /// The path of a file store.
    pub fn place(&self) -> PathBuf {
        PathBuf::from(&self.place)
    }
}

fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT version FROM monban_schema", [], |r| r.get(0))
        .optional()
        .map(|v| v.unwrap_or(0))
}

impl Store for SqliteStore {
    fn import_reports<'a>(
        &'a self,
        reports: &'a [IncomingReport],
        now: i64,
    ) -> StoreFuture<'a, Vec<ImportOutcome>> {
        Box::pin(async move { self.import_reports_now(reports, now) })
    }

    fn incoming_summary<'a>(
        &'a self,
        filter: &'a SummaryFilter,
    ) -> StoreFuture<'a, IncomingSummary> {
        Box::pin(async move { self.incoming_summary_now(filter) })
    }

    fn incoming_tls<'a>(
        &'a self,
        filter: &'a SummaryFilter,
    ) -> StoreFuture<'a, crate::Newest<crate::TlsPolicyStored>> {
        Box::pin(async move { self.incoming_tls_now(filter) })
    }

    fn incoming_counts(&self) -> StoreFuture<'_, IncomingCounts> {
        Box::pin(async move { self.incoming_counts_now() })
    }

    fn incoming_generation(&self) -> StoreFuture<'_, i64> {
        Box::pin(async move { self.incoming_generation_now() })
    }

    fn incoming_daily<'a>(
        &'a self,
        filter: &'a SummaryFilter,
    ) -> StoreFuture<'a, crate::Newest<crate::DailyCounts>> {
        Box::pin(async move { self.incoming_daily_now(filter) })
    }

    fn incoming_report_list<'a>(
        &'a self,
        filter: &'a SummaryFilter,
        offset: u64,
        limit: u64,
    ) -> StoreFuture<'a, Vec<crate::ReportListEntry>> {
        Box::pin(async move { self.incoming_report_list_now(filter, offset, limit) })
    }

    fn incoming_report(&self, id: i64) -> StoreFuture<'_, Option<crate::StoredReport>> {
        Box::pin(async move { self.incoming_report_now(id) })
    }

    fn record<'a>(&'a self, evaluations: &'a [Evaluation]) -> StoreFuture<'a, usize> {
        Box::pin(async move { self.record_now(evaluations) })
    }

    fn evaluations(&self, from: i64, until: i64) -> StoreFuture<'_, Vec<Evaluation>> {
        Box::pin(async move { self.evaluations_now(from, until) })
    }

    fn count(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move { self.count_now() })
    }

    fn aggregate(&self, from: i64, until: i64) -> StoreFuture<'_, Vec<AggregateGroup>> {
        Box::pin(async move { self.aggregate_now(from, until) })
    }

    fn latest_rua<'a>(
        &'a self,
        policy_domain: &'a str,
        from: i64,
        until: i64,
    ) -> StoreFuture<'a, Vec<String>> {
        Box::pin(async move {
            let conn = self.lock();
            let rua: Option<Option<String>> = conn
                .query_row(
                    "SELECT policy_rua FROM evaluations WHERE policy_domain = ?1
                     AND time >= ?2 AND time < ?3 ORDER BY time DESC, id DESC LIMIT 1",
                    params![policy_domain, from, until],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.db(e))?;
            Ok(uris_from_text(rua.flatten().as_deref()))
        })
    }

    fn has_accepted_mail<'a>(
        &'a self,
        policy_domain: &'a str,
        from: i64,
        until: i64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let conn = self.lock();
            conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM evaluations WHERE policy_domain = ?1
                 AND time >= ?2 AND time < ?3 AND disposition <> 'reject'
                 AND report_mail = 0)",
                params![policy_domain, from, until],
                |r| r.get(0),
            )
            .map_err(|e| self.db(e))
        })
    }

    fn save_reports<'a>(
        &'a self,
        reports: &'a [OutgoingReport],
    ) -> StoreFuture<'a, Vec<SaveOutcome>> {
        Box::pin(async move { self.save_reports_now(reports) })
    }

    fn due_deliveries(&self, now: i64, limit: u32) -> StoreFuture<'_, Vec<Delivery>> {
        Box::pin(async move {
            let mut conn = self.lock();
            let db = |e| self.db(e);
            // Claimed in the same transaction (BEGIN IMMEDIATE: one writer at a time),
            // so that two senders never take the same delivery.
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db)?;
            let claim = crate::claim_token();
            let out: Vec<Delivery> = {
                let mut stmt = tx
                    .prepare(
                        "SELECT d.report_id, d.destination, d.attempts, r.policy_domain,
                            r.begin_time, r.end_time, r.filename, r.xml_gz, r.kind,
                            r.content_type, r.subject
                         FROM report_deliveries d
                         JOIN reports_out r ON r.report_id = d.report_id
                         WHERE d.status = 'pending' AND d.next_attempt <= ?1
                         ORDER BY d.next_attempt, r.begin_time, d.report_id, d.destination
                         LIMIT ?2",
                    )
                    .map_err(db)?;
                let rows = stmt
                    .query_map(params![now, limit], |r| {
                        Ok(Delivery {
                            claim: claim.clone(),
                            report_id: r.get(0)?,
                            destination: r.get(1)?,
                            attempts: r.get(2)?,
                            policy_domain: r.get(3)?,
                            begin: r.get(4)?,
                            end: r.get(5)?,
                            filename: r.get(6)?,
                            xml_gz: r.get(7)?,
                            kind: r.get(8)?,
                            content_type: r.get(9)?,
                            subject: r.get(10)?,
                        })
                    })
                    .map_err(db)?;
                rows.collect::<Result<_, _>>().map_err(db)?
            };
            for d in &out {
                tx.execute(
                    "UPDATE report_deliveries SET next_attempt = ?3, claim = ?4
                     WHERE report_id = ?1 AND destination = ?2",
                    params![
                        d.report_id,
                        d.destination,
                        now + crate::CLAIM_SECONDS,
                        claim
                    ],
                )
                .map_err(db)?;
            }
            tx.commit().map_err(db)?;
            Ok(out)
        })
    }

    fn claim_delivery<'a>(
        &'a self,
        report_id: &'a str,
        destination: &'a str,
        claim: &'a str,
        until: i64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let n = self
                .lock()
                .execute(
                    "UPDATE report_deliveries SET next_attempt = ?4
                     WHERE report_id = ?1 AND destination = ?2 AND status = 'pending'
                        AND claim = ?3",
                    params![report_id, destination, claim, until],
                )
                .map_err(|e| self.db(e))?;
            Ok(n == 1)
        })
    }

    fn update_delivery<'a>(
        &'a self,
        report_id: &'a str,
        destination: &'a str,
        update: &'a DeliveryUpdate,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let (status, next, error, sent_at, add) = update.columns();
            self.lock()
                .execute(
                    "UPDATE report_deliveries SET status = ?3, next_attempt = ?4,
                        last_error = ?5, sent_at = ?6, attempts = attempts + ?7, claim = NULL
                     WHERE report_id = ?1 AND destination = ?2",
                    params![report_id, destination, status, next, error, sent_at, add],
                )
                .map_err(|e| self.db(e))?;
            Ok(())
        })
    }

    fn sent_since<'a>(&'a self, destination: &'a str, since: i64) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            self.lock()
                .query_row(
                    "SELECT COUNT(*) FROM report_deliveries WHERE destination = ?1
                     AND status = 'sent' AND sent_at >= ?2",
                    params![destination, since],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n as u64)
                .map_err(|e| self.db(e))
        })
    }

    fn failure_reports_since(
        &self,
        since: i64,
        until: i64,
    ) -> StoreFuture<'_, Vec<(String, u64, i64)>> {
        Box::pin(async move {
            let conn = self.lock();
            let db = |e| self.db(e);
            let mut stmt = conn
                .prepare(
                    "SELECT d.destination, COUNT(*), MIN(r.created)
                     FROM report_deliveries d JOIN reports_out r ON r.report_id = d.report_id
                     WHERE r.kind = 'failure' AND r.created >= ?1 AND r.created <= ?3
                     GROUP BY d.destination ORDER BY COUNT(*) DESC LIMIT ?2",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map(
                    params![since, crate::MAX_FAILURE_DESTINATIONS, until],
                    |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?)),
                )
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
    }

    fn suppress<'a>(
        &'a self,
        destination: &'a str,
        until: i64,
        reason: &'a str,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.lock()
                .execute(
                    "INSERT INTO suppressed_destinations (destination, until, reason)
                     VALUES (?1, ?2, ?3) ON CONFLICT (destination)
                     DO UPDATE SET until = excluded.until, reason = excluded.reason",
                    params![destination, until, reason],
                )
                .map_err(|e| self.db(e))?;
            Ok(())
        })
    }

    fn suppressed<'a>(&'a self, destination: &'a str, now: i64) -> StoreFuture<'a, Option<i64>> {
        Box::pin(async move {
            self.lock()
                .query_row(
                    "SELECT until FROM suppressed_destinations WHERE destination = ?1
                     AND until > ?2",
                    params![destination, now],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.db(e))
        })
    }
}

/// The columns of an evaluation row, in the order the SELECTs below read them.
const EVALUATION_COLUMNS: &str = "uid, time, source_ip, envelope_from, header_from, \
    spf_domain, spf_scope, spf_result, policy_domain, policy_p, policy_sp, policy_np, \
    policy_adkim, policy_aspf, policy_testing, discovery_method, dmarc, disposition, \
    dkim_aligned, spf_aligned, dkim, overrides, policy_applied, policy_fo, policy_rua, \
    policy_ruf, policy_psd, report_mail, envelope_domain, group_key";

impl SqliteStore {
    /// [`Store::record`], on this thread.
    pub fn record_now(&self, evaluations: &[Evaluation]) -> Result<usize, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.db(e))?;
        let mut new = 0;
        let mut before = 0;
        {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "INSERT OR IGNORE INTO evaluations ({EVALUATION_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                        ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29,
                        ?30)"
                ))
                .map_err(|e| self.db(e))?;
            for e in evaluations {
                let p = e.policy.as_ref();
                let dkim = dkim_to_text(&e.dkim);
                let overrides = overrides_to_text(&e.overrides);
                let envelope_domain = e.envelope_domain();
                let group_key = e.group_key_with(&dkim, &overrides, envelope_domain.as_deref());
                new += stmt
                    .execute(params![
                        e.uid,
                        e.time,
                        e.source_ip.map(|ip| ip.to_string()),
                        e.envelope_from,
                        e.header_from,
                        e.spf.as_ref().map(|s| &s.domain),
                        e.spf.as_ref().map(|s| &s.scope),
                        e.spf.as_ref().map(|s| &s.result),
                        p.map(|p| &p.domain),
                        p.map(|p| &p.p),
                        p.and_then(|p| p.sp.as_ref()),
                        p.and_then(|p| p.np.as_ref()),
                        p.map(|p| &p.adkim),
                        p.map(|p| &p.aspf),
                        p.map(|p| p.testing),
                        p.map(|p| &p.discovery_method),
                        e.dmarc,
                        e.disposition,
                        e.dkim_aligned,
                        e.spf_aligned,
                        dkim,
                        overrides,
                        e.policy_applied,
                        p.and_then(|p| p.fo.as_ref()),
                        p.map(|p| uris_to_text(&p.rua)),
                        p.map(|p| uris_to_text(&p.ruf)),
                        p.is_some_and(|p| p.psd),
                        e.report_mail,
                        envelope_domain,
                        group_key,
                    ])
                    .map_err(|err| self.db(err))?
                    .min(1);
                let inserted = new - before;
                before = new;
                if inserted == 0 {
                    continue;
                }
                if let Some(f) = &e.failure {
                    save_failure(&tx, e, f).map_err(|err| self.db(err))?;
                }
            }
        }
        tx.commit().map_err(|e| self.db(e))?;
        Ok(new)
    }

    /// [`Store::evaluations`], on this thread.
    pub fn evaluations_now(&self, from: i64, until: i64) -> Result<Vec<Evaluation>, StoreError> {
        let conn = self.lock();
        let db = |e| self.db(e);
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {EVALUATION_COLUMNS} FROM evaluations
                 WHERE time >= ?1 AND time < ?2 ORDER BY time, id"
            ))
            .map_err(db)?;
        let rows = stmt
            .query_map(params![from, until], |r| {
                let ip: Option<String> = r.get(2)?;
                let spf_domain: Option<String> = r.get(5)?;
                let policy_domain: Option<String> = r.get(8)?;
                let spf = match spf_domain {
                    Some(domain) => Some(SpfRow {
                        domain,
                        scope: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                        result: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
                    }),
                    None => None,
                };
                let policy = match policy_domain {
                    Some(domain) => Some(PublishedPolicy {
                        domain,
                        p: r.get::<_, Option<String>>(9)?.unwrap_or_default(),
                        sp: r.get(10)?,
                        np: r.get(11)?,
                        adkim: r.get::<_, Option<String>>(12)?.unwrap_or_default(),
                        aspf: r.get::<_, Option<String>>(13)?.unwrap_or_default(),
                        testing: r.get::<_, Option<bool>>(14)?.unwrap_or(false),
                        discovery_method: r.get::<_, Option<String>>(15)?.unwrap_or_default(),
                        fo: r.get(23)?,
                        rua: uris_from_text(r.get::<_, Option<String>>(24)?.as_deref()),
                        ruf: uris_from_text(r.get::<_, Option<String>>(25)?.as_deref()),
                        psd: r.get(26)?,
                    }),
                    None => None,
                };
                Ok(Evaluation {
                    uid: r.get(0)?,
                    time: r.get(1)?,
                    source_ip: ip.and_then(|s| s.parse().ok()),
                    envelope_from: r.get(3)?,
                    header_from: r.get(4)?,
                    dkim: dkim_from_text(&r.get::<_, String>(20)?),
                    spf,
                    policy,
                    dmarc: r.get(16)?,
                    disposition: r.get(17)?,
                    dkim_aligned: r.get(18)?,
                    spf_aligned: r.get(19)?,
                    overrides: overrides_from_text(&r.get::<_, String>(21)?),
                    policy_applied: r.get(22)?,
                    report_mail: r.get(27)?,
                    failure: None,
                })
            })
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    /// [`Store::aggregate`], on this thread.
    pub fn aggregate_now(&self, from: i64, until: i64) -> Result<Vec<AggregateGroup>, StoreError> {
        let conn = self.lock();
        let db = |e| self.db(e);
        let mut stmt = conn.prepare(&aggregate_sql()).map_err(db)?;
        let rows = stmt
            .query_map(params![from, until], |r| {
                let spf_domain: Option<String> = r.get(13)?;
                Ok(AggregateGroup {
                    policy: PublishedPolicy {
                        domain: r.get(0)?,
                        p: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                        sp: r.get(2)?,
                        np: r.get(3)?,
                        adkim: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                        aspf: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                        testing: r.get::<_, Option<bool>>(6)?.unwrap_or(false),
                        discovery_method: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
                        fo: r.get(8)?,
                        rua: uris_from_text(r.get::<_, Option<String>>(25)?.as_deref()),
                        ruf: Vec::new(),
                        psd: false,
                    },
                    source_ip: r.get(9)?,
                    header_from: r.get(10)?,
                    envelope_domain: r.get(11)?,
                    dkim: dkim_from_text(&r.get::<_, String>(12)?),
                    spf: match spf_domain {
                        Some(domain) => Some(SpfRow {
                            domain,
                            scope: r.get::<_, Option<String>>(14)?.unwrap_or_default(),
                            result: r.get::<_, Option<String>>(15)?.unwrap_or_default(),
                        }),
                        None => None,
                    },
                    disposition: r.get(16)?,
                    policy_applied: r.get(17)?,
                    dmarc: r.get(18)?,
                    dkim_aligned: r.get(19)?,
                    spf_aligned: r.get(20)?,
                    overrides: overrides_from_text(&r.get::<_, String>(21)?),
                    count: r.get::<_, i64>(22)? as u64,
                    not_report_mail: r.get::<_, i64>(23)? as u64,
                    last_time: r.get(24)?,
                })
            })
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    fn save_reports_now(&self, reports: &[OutgoingReport]) -> Result<Vec<SaveOutcome>, StoreError> {
        let mut conn = self.lock();
        let db = |e| self.db(e);
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        let mut out = Vec::with_capacity(reports.len());
        for report in reports {
            out.push(save_one(&tx, report).map_err(db)?);
        }
        tx.commit().map_err(db)?;
        Ok(out)
    }

    /// [`Store::count`], on this thread.
    pub fn count_now(&self) -> Result<u64, StoreError> {
        let conn = self.lock();
        conn.query_row("SELECT COUNT(*) FROM evaluations", [], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| n as u64)
        .map_err(|e| self.db(e))
    }
}

/// One report of [`Store::save_reports`], inside its transaction.
fn save_one(
    tx: &rusqlite::Transaction<'_>,
    report: &OutgoingReport,
) -> rusqlite::Result<SaveOutcome> {
    let existing: Option<(String, i64, i64, i64)> = tx
        .query_row(
            "SELECT report_id, records, messages, created FROM reports_out WHERE policy_domain = ?1
             AND policy_key = ?2 AND begin_time = ?3 AND end_time = ?4",
            params![
                report.policy_domain,
                report.policy_key,
                report.begin,
                report.end
            ],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let outcome = match existing {
        Some((id, records, messages, created)) => {
            let kept = |report_id: String| crate::Kept {
                report_id,
                records: records as u64,
                messages: messages as u64,
            };
            let sent: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM report_deliveries WHERE report_id = ?1
                 AND (status = 'sent' OR attempts > 0))",
                params![id],
                |r| r.get(0),
            )?;
            if sent {
                return Ok(SaveOutcome::AlreadySent(kept(id)));
            }
            // A delivery a sender holds a live claim on is being sent: replaced, it
            // would be due again at once for every other sender.
            let sending: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM report_deliveries WHERE report_id = ?1
                 AND status = 'pending' AND claim IS NOT NULL AND next_attempt > ?2)",
                params![id, report.created],
                |r| r.get(0),
            )?;
            if sending {
                return Ok(SaveOutcome::Sending(kept(id)));
            }
            let stored = kept(id);
            if crate::keeps_fuller(&stored, created, report) {
                return Ok(SaveOutcome::Fuller(stored));
            }
            let id = stored.report_id;
            tx.execute("DELETE FROM reports_out WHERE report_id = ?1", params![id])?;
            SaveOutcome::Replaced
        }
        None => SaveOutcome::New,
    };
    tx.execute(
        "INSERT INTO reports_out (report_id, policy_domain, policy_key, begin_time,
            end_time, filename, xml_gz, records, messages, rua, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            report.report_id,
            report.policy_domain,
            report.policy_key,
            report.begin,
            report.end,
            report.filename,
            report.xml_gz,
            report.records as i64,
            report.messages as i64,
            uris_to_text(&report.rua),
            report.created,
        ],
    )?;
    for dest in &report.rua {
        tx.execute(
            "INSERT OR IGNORE INTO report_deliveries (report_id, destination, status,
                next_attempt) VALUES (?1, ?2, 'pending', ?3)",
            params![report.report_id, dest, crate::first_attempt(report)],
        )?;
    }
    Ok(outcome)
}

/// Keeps a failure report and its deliveries (a new evaluation's, in its transaction).
fn save_failure(
    tx: &rusqlite::Transaction<'_>,
    e: &Evaluation,
    f: &crate::FailureReport,
) -> rusqlite::Result<()> {
    // The hourly limit per destination, counted here: the recording transaction holds
    // the write lock (its evaluation is written first), so processes recording at
    // once count one after another.
    let mut destinations = Vec::with_capacity(f.destinations.len());
    for dest in &f.destinations {
        let n: i64 = if f.per_hour == 0 {
            0
        } else {
            tx.query_row(
                crate::FAILURE_REPORTS_IN_THE_HOUR,
                params![dest, e.time],
                |r| r.get(0),
            )?
        };
        if f.per_hour == 0 || n < i64::from(f.per_hour) {
            destinations.push(dest.clone());
        }
    }
    if destinations.is_empty() {
        return Ok(());
    }
    tx.execute(
        "INSERT OR IGNORE INTO reports_out (report_id, policy_domain, policy_key, begin_time,
            end_time, filename, xml_gz, records, messages, rua, created, kind, content_type,
            subject)
         VALUES (?1, ?2, ?3, ?4, ?4, '', ?5, 1, 1, ?6, ?4, 'failure', ?7, ?8)",
        params![
            f.report_id,
            f.policy_domain,
            format!("failure:{}", e.uid),
            e.time,
            f.body.as_bytes(),
            uris_to_text(&destinations),
            f.content_type,
            f.subject,
        ],
    )?;
    for dest in &destinations {
        tx.execute(
            "INSERT OR IGNORE INTO report_deliveries (report_id, destination, status,
                next_attempt) VALUES (?1, ?2, 'pending', ?3)",
            params![f.report_id, dest, e.time],
        )?;
    }
    Ok(())
}

/// The columns of an aggregation row.
const GROUP_COLUMNS: &str = "policy_domain, policy_p, policy_sp, policy_np, policy_adkim, \
    policy_aspf, policy_testing, discovery_method, policy_fo, source_ip, header_from, \
    envelope_domain, dkim, spf_domain, spf_scope, spf_result, disposition, policy_applied, \
    dmarc, dkim_aligned, spf_aligned, overrides";

/// One RFC 9990 row per distinct (policy, source, identifiers, results), with the
/// count, the count of non-report mail, the newest time and that row's `rua`. Rows
/// with a group key are grouped by it (one integer: fast) and described by their
/// newest row; rows written before migration 4 have none and are grouped by the
/// columns themselves. The same text serves PostgreSQL with `$n` placeholders.
pub(crate) fn aggregate_sql() -> String {
    let e_cols: String = GROUP_COLUMNS
        .split(", ")
        .map(|c| format!("e.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT {e_cols}, g.n, g.nrm, e.time, e.policy_rua
         FROM (SELECT group_key, COUNT(*) AS n,
                  SUM(CASE WHEN report_mail THEN 0 ELSE 1 END) AS nrm, MAX(id) AS last
               FROM evaluations
               WHERE time >= ?1 AND time < ?2 AND policy_domain IS NOT NULL
                  AND group_key IS NOT NULL
               GROUP BY group_key) g
         JOIN evaluations e ON e.id = g.last
         UNION ALL
         SELECT {GROUP_COLUMNS}, COUNT(*), SUM(CASE WHEN report_mail THEN 0 ELSE 1 END),
            MAX(time), MAX(policy_rua)
         FROM evaluations
         WHERE time >= ?1 AND time < ?2 AND policy_domain IS NOT NULL AND group_key IS NULL
         GROUP BY {GROUP_COLUMNS}"
    )
}
