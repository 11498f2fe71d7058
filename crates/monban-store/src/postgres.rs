//! The shared backend: PostgreSQL, for several hosts writing to one database. The same
//! logical schema as SQLite, created and migrated by monban under an advisory lock (two
//! hosts starting at once migrate once). Connections come from a pool
//! (deadpool-postgres): a broken connection (a server restart) is replaced on the next
//! call instead of failing every call after it.

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::outgoing::{
    dkim_from_text, dkim_to_text, overrides_from_text, overrides_to_text, uris_from_text,
    uris_to_text,
};
use crate::{
    AggregateGroup, Delivery, DeliveryUpdate, Evaluation, ImportOutcome, IncomingCounts,
    IncomingReport, IncomingSummary, OutgoingReport, PublishedPolicy, SaveOutcome, SpfRow, Store,
    StoreError, StoreFuture, SummaryFilter, redact,
};

/// The migrations, in order (the schema version is how many have run).
const MIGRATIONS: &[&str] = &[
    // 1: evaluations, their DKIM results and their overrides.
    "CREATE TABLE evaluations (
        id BIGSERIAL PRIMARY KEY,
        uid TEXT NOT NULL UNIQUE,
        time BIGINT NOT NULL,
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
        policy_testing BOOLEAN,
        discovery_method TEXT,
        dmarc TEXT NOT NULL,
        disposition TEXT NOT NULL,
        dkim_aligned BOOLEAN NOT NULL,
        spf_aligned BOOLEAN NOT NULL
    );
    CREATE INDEX evaluations_time ON evaluations (time);
    CREATE INDEX evaluations_policy_time ON evaluations (policy_domain, time);
    CREATE TABLE evaluation_dkim (
        evaluation_id BIGINT NOT NULL REFERENCES evaluations (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        domain TEXT NOT NULL,
        selector TEXT NOT NULL,
        result TEXT NOT NULL,
        human_result TEXT,
        PRIMARY KEY (evaluation_id, position)
    );
    CREATE TABLE evaluation_overrides (
        evaluation_id BIGINT NOT NULL REFERENCES evaluations (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        kind TEXT NOT NULL,
        comment TEXT,
        PRIMARY KEY (evaluation_id, position)
    );",
    // 2: as SQLite's migration 2 (see there).
    "ALTER TABLE evaluations ADD COLUMN envelope_domain TEXT;
    ALTER TABLE evaluations ADD COLUMN dkim TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE evaluations ADD COLUMN overrides TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE evaluations ADD COLUMN policy_applied TEXT;
    ALTER TABLE evaluations ADD COLUMN policy_fo TEXT;
    ALTER TABLE evaluations ADD COLUMN policy_rua TEXT;
    ALTER TABLE evaluations ADD COLUMN policy_ruf TEXT;
    ALTER TABLE evaluations ADD COLUMN policy_psd BOOLEAN NOT NULL DEFAULT FALSE;
    ALTER TABLE evaluations ADD COLUMN report_mail BOOLEAN NOT NULL DEFAULT FALSE;
    UPDATE evaluations SET envelope_domain =
        lower(substr(envelope_from, strpos(envelope_from, '@') + 1))
        WHERE strpos(envelope_from, '@') > 0;
    UPDATE evaluations e SET dkim = coalesce((SELECT '[' || string_agg('[' ||
            to_json(d.domain)::text || ',' || to_json(d.selector)::text || ',' ||
            to_json(d.result)::text || ',' || coalesce(to_json(d.human_result)::text, 'null')
            || ']', ',' ORDER BY d.position) || ']'
        FROM evaluation_dkim d WHERE d.evaluation_id = e.id), '[]');
    UPDATE evaluations e SET overrides = coalesce((SELECT '[' || string_agg('[' ||
            to_json(o.kind)::text || ',' || coalesce(to_json(o.comment)::text, 'null')
            || ']', ',' ORDER BY o.position) || ']'
        FROM evaluation_overrides o WHERE o.evaluation_id = e.id), '[]');
    DROP TABLE evaluation_dkim;
    DROP TABLE evaluation_overrides;
    CREATE TABLE reports_out (
        report_id TEXT PRIMARY KEY,
        policy_domain TEXT NOT NULL,
        policy_key TEXT NOT NULL,
        begin_time BIGINT NOT NULL,
        end_time BIGINT NOT NULL,
        filename TEXT NOT NULL,
        xml_gz BYTEA NOT NULL,
        records BIGINT NOT NULL,
        messages BIGINT NOT NULL,
        rua TEXT NOT NULL,
        created BIGINT NOT NULL,
        UNIQUE (policy_domain, policy_key, begin_time, end_time)
    );
    CREATE TABLE report_deliveries (
        report_id TEXT NOT NULL REFERENCES reports_out (report_id) ON DELETE CASCADE,
        destination TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt BIGINT,
        last_error TEXT,
        sent_at BIGINT,
        PRIMARY KEY (report_id, destination)
    );
    CREATE INDEX report_deliveries_due ON report_deliveries (status, next_attempt);
    CREATE INDEX report_deliveries_sent ON report_deliveries (destination, sent_at);
    CREATE TABLE suppressed_destinations (
        destination TEXT PRIMARY KEY,
        until BIGINT NOT NULL,
        reason TEXT
    );",
    // 3: failure reports (RFC 9991) wait in reports_out beside the aggregate ones.
    "ALTER TABLE reports_out ADD COLUMN kind TEXT NOT NULL DEFAULT 'aggregate';
    ALTER TABLE reports_out ADD COLUMN content_type TEXT;
    ALTER TABLE reports_out ADD COLUMN subject TEXT;",
    // 4: as SQLite's migration 4.
    "ALTER TABLE evaluations ADD COLUMN group_key BIGINT;",
    // 5: as SQLite's migration 5.
    "CREATE TABLE incoming_reports (
        id BIGSERIAL PRIMARY KEY,
        kind TEXT NOT NULL,
        org_name TEXT NOT NULL,
        report_id TEXT NOT NULL,
        domain TEXT NOT NULL,
        begin_time BIGINT NOT NULL,
        end_time BIGINT NOT NULL,
        content_hash TEXT NOT NULL,
        policy_p TEXT,
        messages BIGINT NOT NULL,
        records BIGINT NOT NULL,
        meta TEXT NOT NULL,
        source TEXT NOT NULL,
        imported_at BIGINT NOT NULL,
        UNIQUE (kind, org_name, report_id, domain, begin_time, end_time)
    );
    CREATE INDEX incoming_reports_period ON incoming_reports (domain, end_time);
    CREATE TABLE incoming_records (
        report BIGINT NOT NULL REFERENCES incoming_reports (id) ON DELETE CASCADE,
        source_ip TEXT NOT NULL,
        count BIGINT NOT NULL,
        disposition TEXT NOT NULL,
        dkim_aligned BOOLEAN NOT NULL,
        spf_aligned BOOLEAN NOT NULL,
        header_from TEXT NOT NULL,
        envelope_from TEXT,
        envelope_to TEXT,
        dkim_domain TEXT,
        dkim_selector TEXT,
        dkim_result TEXT,
        dkim_any_pass BOOLEAN NOT NULL,
        spf_domain TEXT,
        spf_result TEXT,
        reasons TEXT,
        auth TEXT
    );
    CREATE INDEX incoming_records_report ON incoming_records (report);
    CREATE TABLE incoming_tls_policies (
        report BIGINT NOT NULL REFERENCES incoming_reports (id) ON DELETE CASCADE,
        policy_type TEXT NOT NULL,
        policy_domain TEXT NOT NULL,
        successful BIGINT NOT NULL,
        failed BIGINT NOT NULL,
        details TEXT NOT NULL
    );
    CREATE INDEX incoming_tls_policies_report ON incoming_tls_policies (report);
    CREATE TABLE incoming_conflicts (
        kind TEXT NOT NULL,
        org_name TEXT NOT NULL,
        report_id TEXT NOT NULL,
        domain TEXT NOT NULL,
        begin_time BIGINT NOT NULL,
        end_time BIGINT NOT NULL,
        content_hash TEXT NOT NULL,
        document TEXT NOT NULL,
        source TEXT NOT NULL,
        imported_at BIGINT NOT NULL,
        UNIQUE (kind, org_name, report_id, domain, begin_time, end_time, content_hash)
    );",
    // 6: the report as received (deflated), for the dashboard's drill-down (issue 13).
    "ALTER TABLE incoming_reports ADD COLUMN document BYTEA;
     CREATE INDEX incoming_reports_end ON incoming_reports (end_time);",
    // 7: the failure reports of the last hour, read at each start of a recording
    // process (the hourly limit per destination), without reading every report.
    "CREATE INDEX reports_out_kind_created ON reports_out (kind, created);",
    // 8: as SQLite's migration 8.
    "ALTER TABLE report_deliveries ADD COLUMN claim TEXT;",
];
/// An arbitrary key for the advisory lock that serializes migrations.
const MIGRATION_LOCK: i64 = 0x6d6f_6e62_616e;

/// The advisory lock that serializes counting and storing failure reports (the hourly
/// limit per destination, shared by hosts recording at once).
const FAILURE_LOCK: i64 = 0x6d6f_6e62_6166;

/// [`crate::FAILURE_REPORTS_IN_THE_HOUR`] with PostgreSQL's placeholders.
fn failure_count_sql() -> String {
    crate::FAILURE_REPORTS_IN_THE_HOUR
        .replace("?1", "$1")
        .replace("?2", "$2")
}

/// The advisory lock that serializes saving reports (one generate run at a time).
const REPORTS_LOCK: i64 = 0x6d6f_6e62_6172;

/// How many connections one process keeps at most.
const POOL_SIZE: usize = 4;

/// The connection pool: at most [`POOL_SIZE`] connections; a query that finds them
/// all in use waits for one (up to 30 s, then an error).
fn pool(config: tokio_postgres::Config) -> Result<Pool, String> {
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(POOL_SIZE)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(30)))
        .create_timeout(Some(Duration::from_secs(10)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .build()
        .map_err(|e| e.to_string())
}

/// The PostgreSQL store: a small connection pool.
#[derive(Debug)]
pub struct PostgresStore {
    pool: Pool,
    place: String,
}

impl PostgresStore {
    /// Connects (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB`) and brings the schema up
    /// to date. Must run inside a tokio runtime (connections are driven by tasks).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let place = redact(url);
        let mut config = tokio_postgres::Config::from_str(url).map_err(|e| StoreError::Url {
            url: place.clone(),
            why: e.to_string(),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let pool = pool(config).map_err(|why| StoreError::Url {
            url: place.clone(),
            why,
        })?;
        let store = Self { pool, place };
        store.migrate().await?;
        Ok(store)
    }

    pub(crate) fn pg(&self, source: tokio_postgres::Error) -> StoreError {
        StoreError::Postgres {
            place: self.place.clone(),
            source,
        }
    }

    pub(crate) async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(source) => self.pg(source),
            other => StoreError::Unavailable {
                place: self.place.clone(),
                why: other.to_string(),
            },
        })
    }

    /// The schema version of the database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT version FROM monban_schema", &[])
            .await
            .map_err(|e| self.pg(e))?;
        Ok(row.map_or(0, |r| r.get(0)))
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| self.pg(e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(|e| self.pg(e))?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS monban_schema (version BIGINT NOT NULL)")
            .await
            .map_err(|e| self.pg(e))?;
        let current: i64 = tx
            .query_opt("SELECT version FROM monban_schema", &[])
            .await
            .map_err(|e| self.pg(e))?
            .map_or(0, |r| r.get(0));
        let known = MIGRATIONS.len() as i64;
        if current > known {
            return Err(StoreError::NewerSchema {
                place: self.place.clone(),
                found: current,
                known,
            });
        }
        for (n, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            tx.batch_execute(sql).await.map_err(|e| self.pg(e))?;
            tx.execute("DELETE FROM monban_schema", &[])
                .await
                .map_err(|e| self.pg(e))?;
            tx.execute(
                "INSERT INTO monban_schema (version) VALUES ($1)",
                &[&(n as i64 + 1)],
            )
            .await
            .map_err(|e| self.pg(e))?;
        }
        tx.commit().await.map_err(|e| self.pg(e))
    }

    async fn record_all(&self, evaluations: &[Evaluation]) -> Result<usize, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| self.pg(e))?;
        let stmt = tx
            .prepare(
                "INSERT INTO evaluations (uid, time, source_ip, envelope_from, header_from,
                    spf_domain, spf_scope, spf_result, policy_domain, policy_p, policy_sp,
                    policy_np, policy_adkim, policy_aspf, policy_testing, discovery_method,
                    dmarc, disposition, dkim_aligned, spf_aligned, dkim, overrides,
                    policy_applied, policy_fo, policy_rua, policy_ruf, policy_psd,
                    report_mail, envelope_domain, group_key)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                    $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29,
                    $30)
                 ON CONFLICT (uid) DO NOTHING",
            )
            .await
            .map_err(|e| self.pg(e))?;
        // The hourly failure-report limit is counted one recorder at a time (hosts
        // recording at once share it). The lock is taken before any row is inserted:
        // taken after, two hosts recording the same uid could each hold what the other
        // waits for (deadlock).
        if evaluations
            .iter()
            .any(|e| e.failure.as_ref().is_some_and(|f| f.per_hour > 0))
        {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&FAILURE_LOCK])
                .await
                .map_err(|err| self.pg(err))?;
        }
        let mut new = 0;
        let mut before = 0;
        for e in evaluations {
            let p = e.policy.as_ref();
            let ip = e.source_ip.map(|ip| ip.to_string());
            let dkim = dkim_to_text(&e.dkim);
            let overrides = overrides_to_text(&e.overrides);
            let envelope_domain = e.envelope_domain();
            let group_key = e.group_key_with(&dkim, &overrides, envelope_domain.as_deref());
            new += tx
                .execute(
                    &stmt,
                    &[
                        &e.uid,
                        &e.time,
                        &ip,
                        &e.envelope_from,
                        &e.header_from,
                        &e.spf.as_ref().map(|s| &s.domain),
                        &e.spf.as_ref().map(|s| &s.scope),
                        &e.spf.as_ref().map(|s| &s.result),
                        &p.map(|p| &p.domain),
                        &p.map(|p| &p.p),
                        &p.and_then(|p| p.sp.as_ref()),
                        &p.and_then(|p| p.np.as_ref()),
                        &p.map(|p| &p.adkim),
                        &p.map(|p| &p.aspf),
                        &p.map(|p| p.testing),
                        &p.map(|p| &p.discovery_method),
                        &e.dmarc,
                        &e.disposition,
                        &e.dkim_aligned,
                        &e.spf_aligned,
                        &dkim,
                        &overrides,
                        &e.policy_applied,
                        &p.and_then(|p| p.fo.as_ref()),
                        &p.map(|p| uris_to_text(&p.rua)),
                        &p.map(|p| uris_to_text(&p.ruf)),
                        &p.is_some_and(|p| p.psd),
                        &e.report_mail,
                        &envelope_domain,
                        &group_key,
                    ],
                )
                .await
                .map_err(|err| self.pg(err))? as usize;
            let inserted = new - before;
            before = new;
            if inserted == 0 {
                continue;
            }
            if let Some(f) = &e.failure {
                // The hourly limit per destination, counted here under the lock taken
                // above.
                let mut destinations = Vec::with_capacity(f.destinations.len());
                for dest in &f.destinations {
                    let n: i64 = if f.per_hour == 0 {
                        0
                    } else {
                        tx.query_one(&failure_count_sql(), &[dest, &e.time])
                            .await
                            .map_err(|err| self.pg(err))?
                            .get(0)
                    };
                    if f.per_hour == 0 || n < i64::from(f.per_hour) {
                        destinations.push(dest.clone());
                    }
                }
                if destinations.is_empty() {
                    continue;
                }
                tx.execute(
                    "INSERT INTO reports_out (report_id, policy_domain, policy_key, begin_time,
                        end_time, filename, xml_gz, records, messages, rua, created, kind,
                        content_type, subject)
                     VALUES ($1, $2, $3, $4, $4, '', $5, 1, 1, $6, $4, 'failure', $7, $8)
                     ON CONFLICT DO NOTHING",
                    &[
                        &f.report_id,
                        &f.policy_domain,
                        &format!("failure:{}", e.uid),
                        &e.time,
                        &f.body.as_bytes(),
                        &uris_to_text(&destinations),
                        &f.content_type,
                        &f.subject,
                    ],
                )
                .await
                .map_err(|err| self.pg(err))?;
                for dest in &destinations {
                    tx.execute(
                        "INSERT INTO report_deliveries (report_id, destination, status,
                            next_attempt) VALUES ($1, $2, 'pending', $3) ON CONFLICT DO NOTHING",
                        &[&f.report_id, dest, &e.time],
                    )
                    .await
                    .map_err(|err| self.pg(err))?;
                }
            }
        }
        tx.commit().await.map_err(|e| self.pg(e))?;
        Ok(new)
    }

    async fn evaluations_in(&self, from: i64, until: i64) -> Result<Vec<Evaluation>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT uid, time, source_ip, envelope_from, header_from, spf_domain,
                    spf_scope, spf_result, policy_domain, policy_p, policy_sp, policy_np,
                    policy_adkim, policy_aspf, policy_testing, discovery_method, dmarc,
                    disposition, dkim_aligned, spf_aligned, dkim, overrides, policy_applied,
                    policy_fo, policy_rua, policy_ruf, policy_psd, report_mail
                 FROM evaluations WHERE time >= $1 AND time < $2 ORDER BY time, id",
                &[&from, &until],
            )
            .await
            .map_err(|e| self.pg(e))?;
        Ok(rows
            .iter()
            .map(|r| {
                let ip: Option<String> = r.get(2);
                let spf_domain: Option<String> = r.get(5);
                let policy_domain: Option<String> = r.get(8);
                Evaluation {
                    uid: r.get(0),
                    time: r.get(1),
                    source_ip: ip.and_then(|s| s.parse().ok()),
                    envelope_from: r.get(3),
                    header_from: r.get(4),
                    dkim: dkim_from_text(r.get(20)),
                    spf: spf_domain.map(|domain| SpfRow {
                        domain,
                        scope: r.get::<_, Option<String>>(6).unwrap_or_default(),
                        result: r.get::<_, Option<String>>(7).unwrap_or_default(),
                    }),
                    policy: policy_domain.map(|domain| PublishedPolicy {
                        domain,
                        p: r.get::<_, Option<String>>(9).unwrap_or_default(),
                        sp: r.get(10),
                        np: r.get(11),
                        adkim: r.get::<_, Option<String>>(12).unwrap_or_default(),
                        aspf: r.get::<_, Option<String>>(13).unwrap_or_default(),
                        testing: r.get::<_, Option<bool>>(14).unwrap_or(false),
                        discovery_method: r.get::<_, Option<String>>(15).unwrap_or_default(),
                        fo: r.get(23),
                        rua: uris_from_text(r.get(24)),
                        ruf: uris_from_text(r.get(25)),
                        psd: r.get(26),
                    }),
                    dmarc: r.get(16),
                    disposition: r.get(17),
                    dkim_aligned: r.get(18),
                    spf_aligned: r.get(19),
                    overrides: overrides_from_text(r.get(21)),
                    policy_applied: r.get(22),
                    report_mail: r.get(27),
                    failure: None,
                }
            })
            .collect())
    }

    async fn aggregate_in(&self, from: i64, until: i64) -> Result<Vec<AggregateGroup>, StoreError> {
        let client = self.client().await?;
        let sql = crate::sqlite::aggregate_sql()
            .replace("?1", "$1")
            .replace("?2", "$2");
        let rows = client
            .query(&sql, &[&from, &until])
            .await
            .map_err(|e| self.pg(e))?;
        Ok(rows
            .iter()
            .map(|r| {
                let spf_domain: Option<String> = r.get(13);
                AggregateGroup {
                    policy: PublishedPolicy {
                        domain: r.get(0),
                        p: r.get::<_, Option<String>>(1).unwrap_or_default(),
                        sp: r.get(2),
                        np: r.get(3),
                        adkim: r.get::<_, Option<String>>(4).unwrap_or_default(),
                        aspf: r.get::<_, Option<String>>(5).unwrap_or_default(),
                        testing: r.get::<_, Option<bool>>(6).unwrap_or(false),
                        discovery_method: r.get::<_, Option<String>>(7).unwrap_or_default(),
                        fo: r.get(8),
                        rua: uris_from_text(r.get(25)),
                        ruf: Vec::new(),
                        psd: false,
                    },
                    source_ip: r.get(9),
                    header_from: r.get(10),
                    envelope_domain: r.get(11),
                    dkim: dkim_from_text(r.get(12)),
                    spf: spf_domain.map(|domain| SpfRow {
                        domain,
                        scope: r.get::<_, Option<String>>(14).unwrap_or_default(),
                        result: r.get::<_, Option<String>>(15).unwrap_or_default(),
                    }),
                    disposition: r.get(16),
                    policy_applied: r.get(17),
                    dmarc: r.get(18),
                    dkim_aligned: r.get(19),
                    spf_aligned: r.get(20),
                    overrides: overrides_from_text(r.get(21)),
                    count: r.get::<_, i64>(22) as u64,
                    not_report_mail: r.get::<_, i64>(23) as u64,
                    last_time: r.get(24),
                }
            })
            .collect())
    }

    /// [`Store::save_reports`]: four statements per batch, whatever its size (arrays
    /// through UNNEST), so that a day's 10,000 reports do not cost 30,000 round trips.
    async fn save_reports_in(
        &self,
        reports: &[OutgoingReport],
    ) -> Result<Vec<SaveOutcome>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| self.pg(e))?;
        let pg = |e| self.pg(e);
        // Two hosts generating reports at once: one waits for the other.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&REPORTS_LOCK])
            .await
            .map_err(pg)?;
        let domains: Vec<&str> = reports.iter().map(|r| r.policy_domain.as_str()).collect();
        let keys: Vec<&str> = reports.iter().map(|r| r.policy_key.as_str()).collect();
        let begins: Vec<i64> = reports.iter().map(|r| r.begin).collect();
        let ends: Vec<i64> = reports.iter().map(|r| r.end).collect();
        let created: Vec<i64> = reports.iter().map(|r| r.created).collect();
        // Sent somewhere, or being sent (a live claim on a delivery: replaced, it would
        // be due again at once for every other sender).
        let existing = tx
            .query(
                "SELECT r.policy_domain, r.policy_key, r.begin_time, r.end_time, r.report_id,
                    r.records, r.messages,
                    EXISTS (SELECT 1 FROM report_deliveries d WHERE d.report_id = r.report_id
                        AND (d.status = 'sent' OR d.attempts > 0)),
                    EXISTS (SELECT 1 FROM report_deliveries d WHERE d.report_id = r.report_id
                        AND d.status = 'pending' AND d.claim IS NOT NULL
                        AND d.next_attempt > k.c),
                    r.created
                 FROM reports_out r
                 JOIN UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[])
                    AS k(domain, key, b, e, c)
                    ON r.policy_domain = k.domain AND r.policy_key = k.key
                       AND r.begin_time = k.b AND r.end_time = k.e",
                &[&domains, &keys, &begins, &ends, &created],
            )
            .await
            .map_err(pg)?;
        type Found = (crate::Kept, bool, bool, i64);
        let mut found: std::collections::HashMap<(String, String, i64, i64), Found> =
            std::collections::HashMap::new();
        for row in &existing {
            let kept = crate::Kept {
                report_id: row.get(4),
                records: row.get::<_, i64>(5) as u64,
                messages: row.get::<_, i64>(6) as u64,
            };
            found.insert(
                (row.get(0), row.get(1), row.get(2), row.get(3)),
                (kept, row.get(7), row.get(8), row.get(9)),
            );
        }
        let mut outcomes = Vec::with_capacity(reports.len());
        let mut replaced: Vec<String> = Vec::new();
        let mut to_insert: Vec<&OutgoingReport> = Vec::new();
        for r in reports {
            let k = (
                r.policy_domain.clone(),
                r.policy_key.clone(),
                r.begin,
                r.end,
            );
            match found.get(&k) {
                Some((kept, true, _, _)) => outcomes.push(SaveOutcome::AlreadySent(kept.clone())),
                Some((kept, false, true, _)) => {
                    outcomes.push(SaveOutcome::Sending(kept.clone()));
                }
                Some((kept, false, false, created)) if crate::keeps_fuller(kept, *created, r) => {
                    outcomes.push(SaveOutcome::Fuller(kept.clone()));
                }
                Some((kept, false, false, _)) => {
                    replaced.push(kept.report_id.clone());
                    to_insert.push(r);
                    outcomes.push(SaveOutcome::Replaced);
                }
                None => {
                    to_insert.push(r);
                    outcomes.push(SaveOutcome::New);
                }
            }
        }
        if !replaced.is_empty() {
            tx.execute(
                "DELETE FROM reports_out WHERE report_id = ANY($1)",
                &[&replaced],
            )
            .await
            .map_err(pg)?;
        }
        if !to_insert.is_empty() {
            let ids: Vec<&str> = to_insert.iter().map(|r| r.report_id.as_str()).collect();
            let domains: Vec<&str> = to_insert.iter().map(|r| r.policy_domain.as_str()).collect();
            let keys: Vec<&str> = to_insert.iter().map(|r| r.policy_key.as_str()).collect();
            let begins: Vec<i64> = to_insert.iter().map(|r| r.begin).collect();
            let ends: Vec<i64> = to_insert.iter().map(|r| r.end).collect();
            let files: Vec<&str> = to_insert.iter().map(|r| r.filename.as_str()).collect();
            let blobs: Vec<&[u8]> = to_insert.iter().map(|r| r.xml_gz.as_slice()).collect();
            let records: Vec<i64> = to_insert.iter().map(|r| r.records as i64).collect();
            let messages: Vec<i64> = to_insert.iter().map(|r| r.messages as i64).collect();
            let ruas: Vec<String> = to_insert.iter().map(|r| uris_to_text(&r.rua)).collect();
            let created: Vec<i64> = to_insert.iter().map(|r| r.created).collect();
            tx.execute(
                "INSERT INTO reports_out (report_id, policy_domain, policy_key, begin_time,
                    end_time, filename, xml_gz, records, messages, rua, created)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[],
                    $5::bigint[], $6::text[], $7::bytea[], $8::bigint[], $9::bigint[],
                    $10::text[], $11::bigint[])",
                &[
                    &ids, &domains, &keys, &begins, &ends, &files, &blobs, &records, &messages,
                    &ruas, &created,
                ],
            )
            .await
            .map_err(pg)?;
            let mut d_ids: Vec<&str> = Vec::new();
            let mut d_dest: Vec<&str> = Vec::new();
            let mut d_at: Vec<i64> = Vec::new();
            for r in &to_insert {
                for dest in &r.rua {
                    d_ids.push(&r.report_id);
                    d_dest.push(dest);
                    d_at.push(crate::first_attempt(r));
                }
            }
            tx.execute(
                "INSERT INTO report_deliveries (report_id, destination, status, next_attempt)
                 SELECT r, d, 'pending', t FROM UNNEST($1::text[], $2::text[], $3::bigint[])
                    AS x(r, d, t)
                 ON CONFLICT DO NOTHING",
                &[&d_ids, &d_dest, &d_at],
            )
            .await
            .map_err(pg)?;
        }
        tx.commit().await.map_err(pg)?;
        Ok(outcomes)
    }
}

impl Store for PostgresStore {
    fn import_reports<'a>(
        &'a self,
        reports: &'a [IncomingReport],
        now: i64,
    ) -> StoreFuture<'a, Vec<ImportOutcome>> {
        Box::pin(self.import_reports_in(reports, now))
    }

    fn incoming_summary<'a>(
        &'a self,
        filter: &'a SummaryFilter,
    ) -> StoreFuture<'a, IncomingSummary> {
        Box::pin(self.incoming_summary_in(filter))
    }

    fn incoming_tls<'a>(
        &'a self,
        filter: &'a SummaryFilter,
    ) -> StoreFuture<'a, crate::Newest<crate::TlsPolicyStored>> {
        Box::pin(self.incoming_tls_in(filter))
    }

    fn incoming_counts(&self) -> StoreFuture<'_, IncomingCounts> {
        Box::pin(self.incoming_counts_in())
    }

    fn incoming_generation(&self) -> StoreFuture<'_, i64> {
        Box::pin(self.incoming_generation_in())
    }

    fn incoming_daily<'a>(
        &'a self,
        filter: &'a SummaryFilter,
    ) -> StoreFuture<'a, crate::Newest<crate::DailyCounts>> {
        Box::pin(self.incoming_daily_in(filter))
    }

    fn incoming_report_list<'a>(
        &'a self,
        filter: &'a SummaryFilter,
        offset: u64,
        limit: u64,
    ) -> StoreFuture<'a, Vec<crate::ReportListEntry>> {
        Box::pin(self.incoming_report_list_in(filter, offset, limit))
    }

    fn incoming_report(&self, id: i64) -> StoreFuture<'_, Option<crate::StoredReport>> {
        Box::pin(self.incoming_report_in(id))
    }

    fn record<'a>(&'a self, evaluations: &'a [Evaluation]) -> StoreFuture<'a, usize> {
        Box::pin(self.record_all(evaluations))
    }

    fn evaluations(&self, from: i64, until: i64) -> StoreFuture<'_, Vec<Evaluation>> {
        Box::pin(self.evaluations_in(from, until))
    }

    fn count(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let client = self.client().await?;
            let row = client
                .query_one("SELECT COUNT(*) FROM evaluations", &[])
                .await
                .map_err(|e| self.pg(e))?;
            Ok(row.get::<_, i64>(0) as u64)
        })
    }

    fn aggregate(&self, from: i64, until: i64) -> StoreFuture<'_, Vec<AggregateGroup>> {
        Box::pin(self.aggregate_in(from, until))
    }

    fn latest_rua<'a>(
        &'a self,
        policy_domain: &'a str,
        from: i64,
        until: i64,
    ) -> StoreFuture<'a, Vec<String>> {
        Box::pin(async move {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    "SELECT policy_rua FROM evaluations WHERE policy_domain = $1
                     AND time >= $2 AND time < $3 ORDER BY time DESC, id DESC LIMIT 1",
                    &[&policy_domain, &from, &until],
                )
                .await
                .map_err(|e| self.pg(e))?;
            let text: Option<String> = row.and_then(|r| r.get(0));
            Ok(uris_from_text(text.as_deref()))
        })
    }

    fn has_accepted_mail<'a>(
        &'a self,
        policy_domain: &'a str,
        from: i64,
        until: i64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let client = self.client().await?;
            let row = client
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM evaluations WHERE policy_domain = $1
                     AND time >= $2 AND time < $3 AND disposition <> 'reject'
                     AND NOT report_mail)",
                    &[&policy_domain, &from, &until],
                )
                .await
                .map_err(|e| self.pg(e))?;
            Ok(row.get(0))
        })
    }

    fn save_reports<'a>(
        &'a self,
        reports: &'a [OutgoingReport],
    ) -> StoreFuture<'a, Vec<SaveOutcome>> {
        Box::pin(self.save_reports_in(reports))
    }

    fn due_deliveries(&self, now: i64, limit: u32) -> StoreFuture<'_, Vec<Delivery>> {
        Box::pin(async move {
            let client = self.client().await?;
            let claim = crate::claim_token();
            // Claimed as they are read (SKIP LOCKED: two senders on one database never
            // take the same delivery).
            let rows = client
                .query(
                    "WITH claimed AS (
                        UPDATE report_deliveries d SET next_attempt = $3, claim = $4
                        FROM (SELECT report_id, destination FROM report_deliveries
                              WHERE status = 'pending' AND next_attempt <= $1
                              ORDER BY next_attempt, report_id, destination
                              LIMIT $2 FOR UPDATE SKIP LOCKED) c
                        WHERE d.report_id = c.report_id AND d.destination = c.destination
                        RETURNING d.report_id, d.destination, d.attempts)
                     SELECT c.report_id, c.destination, c.attempts, r.policy_domain,
                        r.begin_time, r.end_time, r.filename, r.xml_gz, r.kind,
                        r.content_type, r.subject
                     FROM claimed c JOIN reports_out r ON r.report_id = c.report_id
                     ORDER BY r.begin_time, c.report_id, c.destination",
                    &[
                        &now,
                        &i64::from(limit),
                        &(now + crate::CLAIM_SECONDS),
                        &claim,
                    ],
                )
                .await
                .map_err(|e| self.pg(e))?;
            Ok(rows
                .iter()
                .map(|r| Delivery {
                    claim: claim.clone(),
                    report_id: r.get(0),
                    destination: r.get(1),
                    attempts: r.get::<_, i32>(2) as u32,
                    policy_domain: r.get(3),
                    begin: r.get(4),
                    end: r.get(5),
                    filename: r.get(6),
                    xml_gz: r.get(7),
                    kind: r.get(8),
                    content_type: r.get(9),
                    subject: r.get(10),
                })
                .collect())
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
            let client = self.client().await?;
            let n = client
                .execute(
                    "UPDATE report_deliveries SET next_attempt = $4
                     WHERE report_id = $1 AND destination = $2 AND status = 'pending'
                        AND claim = $3",
                    &[&report_id, &destination, &claim, &until],
                )
                .await
                .map_err(|e| self.pg(e))?;
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
            let client = self.client().await?;
            client
                .execute(
                    "UPDATE report_deliveries SET status = $3, next_attempt = $4,
                        last_error = $5, sent_at = $6, attempts = attempts + $7, claim = NULL
                     WHERE report_id = $1 AND destination = $2",
                    &[
                        &report_id,
                        &destination,
                        &status,
                        &next,
                        &error,
                        &sent_at,
                        &add,
                    ],
                )
                .await
                .map_err(|e| self.pg(e))?;
            Ok(())
        })
    }

    fn sent_since<'a>(&'a self, destination: &'a str, since: i64) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let client = self.client().await?;
            let row = client
                .query_one(
                    "SELECT COUNT(*) FROM report_deliveries WHERE destination = $1
                     AND status = 'sent' AND sent_at >= $2",
                    &[&destination, &since],
                )
                .await
                .map_err(|e| self.pg(e))?;
            Ok(row.get::<_, i64>(0) as u64)
        })
    }

    fn failure_reports_since(
        &self,
        since: i64,
        until: i64,
    ) -> StoreFuture<'_, Vec<(String, u64, i64)>> {
        Box::pin(async move {
            let client = self.client().await?;
            let rows = client
                .query(
                    "SELECT d.destination, COUNT(*), MIN(r.created)
                     FROM report_deliveries d JOIN reports_out r ON r.report_id = d.report_id
                     WHERE r.kind = 'failure' AND r.created >= $1 AND r.created <= $3
                     GROUP BY d.destination ORDER BY COUNT(*) DESC LIMIT $2",
                    &[&since, &i64::from(crate::MAX_FAILURE_DESTINATIONS), &until],
                )
                .await
                .map_err(|e| self.pg(e))?;
            Ok(rows
                .iter()
                .map(|r| (r.get(0), r.get::<_, i64>(1) as u64, r.get(2)))
                .collect())
        })
    }

    fn suppress<'a>(
        &'a self,
        destination: &'a str,
        until: i64,
        reason: &'a str,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let client = self.client().await?;
            client
                .execute(
                    "INSERT INTO suppressed_destinations (destination, until, reason)
                     VALUES ($1, $2, $3) ON CONFLICT (destination)
                     DO UPDATE SET until = excluded.until, reason = excluded.reason",
                    &[&destination, &until, &reason],
                )
                .await
                .map_err(|e| self.pg(e))?;
            Ok(())
        })
    }

    fn suppressed<'a>(&'a self, destination: &'a str, now: i64) -> StoreFuture<'a, Option<i64>> {
        Box::pin(async move {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    "SELECT until FROM suppressed_destinations WHERE destination = $1
                     AND until > $2",
                    &[&destination, &now],
                )
                .await
                .map_err(|e| self.pg(e))?;
            Ok(row.map(|r| r.get(0)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pool holds at most four connections, and a query waits for one (bounded):
    /// the setting is checked here (the waiting is deadpool's).
    #[test]
    fn the_pool_holds_at_most_four_connections() {
        let config =
            tokio_postgres::Config::from_str("postgres://monban@127.0.0.1:1/monban").unwrap();
        let pool = pool(config).unwrap();
        assert_eq!(pool.status().max_size, 4);
        assert_eq!(pool.timeouts().wait, Some(Duration::from_secs(30)));
    }
}
