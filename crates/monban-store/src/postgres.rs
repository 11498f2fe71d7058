//! The shared backend: PostgreSQL, for several hosts writing to one database. The same
//! logical schema as SQLite, created and migrated by monban under an advisory lock (two
//! hosts starting at once migrate once).

use std::collections::HashMap;

use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};

use crate::{
    DkimRow, Evaluation, OverrideRow, PublishedPolicy, SpfRow, Store, StoreError, StoreFuture,
    redact,
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
];

/// An arbitrary key for the advisory lock that serializes migrations.
const MIGRATION_LOCK: i64 = 0x6d6f_6e62_616e;

/// The PostgreSQL store: one connection (a pool comes with the milter's writer).
#[derive(Debug)]
pub struct PostgresStore {
    client: Mutex<Client>,
    place: String,
}

impl PostgresStore {
    /// Connects (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB`) and brings the schema up
    /// to date. Must run inside a tokio runtime (the connection is driven by a task).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let place = redact(url);
        let pg = |source| StoreError::Postgres {
            place: place.clone(),
            source,
        };
        let (client, connection) = tokio_postgres::connect(url, NoTls).await.map_err(pg)?;
        tokio::spawn(async move {
            // Ends when the client is dropped or the server goes away; a failing call
            // reports the error itself.
            let _ = connection.await;
        });
        let store = Self {
            client: Mutex::new(client),
            place,
        };
        store.migrate().await?;
        Ok(store)
    }

    fn pg(&self, source: tokio_postgres::Error) -> StoreError {
        StoreError::Postgres {
            place: self.place.clone(),
            source,
        }
    }

    /// The schema version of the database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let client = self.client.lock().await;
        let row = client
            .query_opt("SELECT version FROM monban_schema", &[])
            .await
            .map_err(|e| self.pg(e))?;
        Ok(row.map_or(0, |r| r.get(0)))
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client.lock().await;
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
        let mut client = self.client.lock().await;
        let tx = client.transaction().await.map_err(|e| self.pg(e))?;
        let mut new = 0;
        for e in evaluations {
            let p = e.policy.as_ref();
            let ip = e.source_ip.map(|ip| ip.to_string());
            let row = tx
                .query_opt(
                    "INSERT INTO evaluations (uid, time, source_ip, envelope_from,
                        header_from, spf_domain, spf_scope, spf_result, policy_domain,
                        policy_p, policy_sp, policy_np, policy_adkim, policy_aspf,
                        policy_testing, discovery_method, dmarc, disposition, dkim_aligned,
                        spf_aligned)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                        $15, $16, $17, $18, $19, $20)
                     ON CONFLICT (uid) DO NOTHING RETURNING id",
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
                    ],
                )
                .await
                .map_err(|err| self.pg(err))?;
            let Some(row) = row else { continue };
            new += 1;
            let id: i64 = row.get(0);
            for (i, d) in e.dkim.iter().enumerate() {
                tx.execute(
                    "INSERT INTO evaluation_dkim (evaluation_id, position, domain, selector,
                        result, human_result) VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        &id,
                        &(i as i32),
                        &d.domain,
                        &d.selector,
                        &d.result,
                        &d.human_result,
                    ],
                )
                .await
                .map_err(|err| self.pg(err))?;
            }
            for (i, o) in e.overrides.iter().enumerate() {
                tx.execute(
                    "INSERT INTO evaluation_overrides (evaluation_id, position, kind, comment)
                     VALUES ($1, $2, $3, $4)",
                    &[&id, &(i as i32), &o.kind, &o.comment],
                )
                .await
                .map_err(|err| self.pg(err))?;
            }
        }
        tx.commit().await.map_err(|e| self.pg(e))?;
        Ok(new)
    }

    async fn evaluations_in(&self, from: i64, until: i64) -> Result<Vec<Evaluation>, StoreError> {
        let client = self.client.lock().await;
        let rows = client
            .query(
                "SELECT id, uid, time, source_ip, envelope_from, header_from, spf_domain,
                    spf_scope, spf_result, policy_domain, policy_p, policy_sp, policy_np,
                    policy_adkim, policy_aspf, policy_testing, discovery_method, dmarc,
                    disposition, dkim_aligned, spf_aligned
                 FROM evaluations WHERE time >= $1 AND time < $2 ORDER BY time, id",
                &[&from, &until],
            )
            .await
            .map_err(|e| self.pg(e))?;
        let mut dkim: HashMap<i64, Vec<DkimRow>> = HashMap::new();
        for r in client
            .query(
                "SELECT d.evaluation_id, d.domain, d.selector, d.result, d.human_result
                 FROM evaluation_dkim d JOIN evaluations e ON e.id = d.evaluation_id
                 WHERE e.time >= $1 AND e.time < $2 ORDER BY d.evaluation_id, d.position",
                &[&from, &until],
            )
            .await
            .map_err(|e| self.pg(e))?
        {
            dkim.entry(r.get(0)).or_default().push(DkimRow {
                domain: r.get(1),
                selector: r.get(2),
                result: r.get(3),
                human_result: r.get(4),
            });
        }
        let mut overrides: HashMap<i64, Vec<OverrideRow>> = HashMap::new();
        for r in client
            .query(
                "SELECT o.evaluation_id, o.kind, o.comment
                 FROM evaluation_overrides o JOIN evaluations e ON e.id = o.evaluation_id
                 WHERE e.time >= $1 AND e.time < $2 ORDER BY o.evaluation_id, o.position",
                &[&from, &until],
            )
            .await
            .map_err(|e| self.pg(e))?
        {
            overrides.entry(r.get(0)).or_default().push(OverrideRow {
                kind: r.get(1),
                comment: r.get(2),
            });
        }
        Ok(rows
            .iter()
            .map(|r| {
                let id: i64 = r.get(0);
                let ip: Option<String> = r.get(3);
                let spf_domain: Option<String> = r.get(6);
                let policy_domain: Option<String> = r.get(9);
                Evaluation {
                    uid: r.get(1),
                    time: r.get(2),
                    source_ip: ip.and_then(|s| s.parse().ok()),
                    envelope_from: r.get(4),
                    header_from: r.get(5),
                    dkim: dkim.remove(&id).unwrap_or_default(),
                    spf: spf_domain.map(|domain| SpfRow {
                        domain,
                        scope: r.get::<_, Option<String>>(7).unwrap_or_default(),
                        result: r.get::<_, Option<String>>(8).unwrap_or_default(),
                    }),
                    policy: policy_domain.map(|domain| PublishedPolicy {
                        domain,
                        p: r.get::<_, Option<String>>(10).unwrap_or_default(),
                        sp: r.get(11),
                        np: r.get(12),
                        adkim: r.get::<_, Option<String>>(13).unwrap_or_default(),
                        aspf: r.get::<_, Option<String>>(14).unwrap_or_default(),
                        testing: r.get::<_, Option<bool>>(15).unwrap_or(false),
                        discovery_method: r.get::<_, Option<String>>(16).unwrap_or_default(),
                    }),
                    dmarc: r.get(17),
                    disposition: r.get(18),
                    dkim_aligned: r.get(19),
                    spf_aligned: r.get(20),
                    overrides: overrides.remove(&id).unwrap_or_default(),
                }
            })
            .collect())
    }
}

impl Store for PostgresStore {
    fn record<'a>(&'a self, evaluations: &'a [Evaluation]) -> StoreFuture<'a, usize> {
        Box::pin(self.record_all(evaluations))
    }

    fn evaluations(&self, from: i64, until: i64) -> StoreFuture<'_, Vec<Evaluation>> {
        Box::pin(self.evaluations_in(from, until))
    }

    fn count(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let client = self.client.lock().await;
            let row = client
                .query_one("SELECT COUNT(*) FROM evaluations", &[])
                .await
                .map_err(|e| self.pg(e))?;
            Ok(row.get::<_, i64>(0) as u64)
        })
    }
}
