//! The embedded backend: one SQLite file in WAL mode, the schema created and migrated by
//! monban (table `monban_schema` holds the version).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use crate::{
    DkimRow, Evaluation, OverrideRow, PublishedPolicy, SpfRow, Store, StoreError, StoreFuture,
};

/// The migrations, in order; the schema version is how many have run. Each is one
/// transaction; a database at a later version than this list is refused.
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

    fn db(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Database {
            place: self.place.clone(),
            source,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let conn = self.lock();
        version(&conn).map_err(|e| self.db(e))
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.lock();
        conn.execute_batch("CREATE TABLE IF NOT EXISTS monban_schema (version INTEGER NOT NULL)")
            .map_err(|e| self.db(e))?;
        let current = version(&conn).map_err(|e| self.db(e))?;
        let known = MIGRATIONS.len() as i64;
        if current > known {
            return Err(StoreError::NewerSchema {
                place: self.place.clone(),
                found: current,
                known,
            });
        }
        for (n, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let tx = conn.transaction().map_err(|e| self.db(e))?;
            tx.execute_batch(sql).map_err(|e| self.db(e))?;
            tx.execute("DELETE FROM monban_schema", [])
                .map_err(|e| self.db(e))?;
            tx.execute(
                "INSERT INTO monban_schema (version) VALUES (?1)",
                params![n as i64 + 1],
            )
            .map_err(|e| self.db(e))?;
            tx.commit().map_err(|e| self.db(e))?;
        }
        Ok(())
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
    fn record<'a>(&'a self, evaluations: &'a [Evaluation]) -> StoreFuture<'a, usize> {
        Box::pin(async move { self.record_now(evaluations) })
    }

    fn evaluations(&self, from: i64, until: i64) -> StoreFuture<'_, Vec<Evaluation>> {
        Box::pin(async move { self.evaluations_now(from, until) })
    }

    fn count(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move { self.count_now() })
    }
}

impl SqliteStore {
    /// [`Store::record`], on this thread.
    pub fn record_now(&self, evaluations: &[Evaluation]) -> Result<usize, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.db(e))?;
        let mut new = 0;
        for e in evaluations {
            let p = e.policy.as_ref();
            let inserted = tx
                .execute(
                    "INSERT OR IGNORE INTO evaluations (uid, time, source_ip, envelope_from,
                        header_from, spf_domain, spf_scope, spf_result, policy_domain, policy_p,
                        policy_sp, policy_np, policy_adkim, policy_aspf, policy_testing,
                        discovery_method, dmarc, disposition, dkim_aligned, spf_aligned)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                        ?16, ?17, ?18, ?19, ?20)",
                    params![
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
                    ],
                )
                .map_err(|err| self.db(err))?;
            if inserted == 0 {
                continue;
            }
            new += 1;
            let id = tx.last_insert_rowid();
            for (i, d) in e.dkim.iter().enumerate() {
                tx.execute(
                    "INSERT INTO evaluation_dkim (evaluation_id, position, domain, selector,
                        result, human_result) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![id, i as i64, d.domain, d.selector, d.result, d.human_result],
                )
                .map_err(|err| self.db(err))?;
            }
            for (i, o) in e.overrides.iter().enumerate() {
                tx.execute(
                    "INSERT INTO evaluation_overrides (evaluation_id, position, kind, comment)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![id, i as i64, o.kind, o.comment],
                )
                .map_err(|err| self.db(err))?;
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
            .prepare(
                "SELECT id, uid, time, source_ip, envelope_from, header_from, spf_domain,
                    spf_scope, spf_result, policy_domain, policy_p, policy_sp, policy_np,
                    policy_adkim, policy_aspf, policy_testing, discovery_method, dmarc,
                    disposition, dkim_aligned, spf_aligned
                 FROM evaluations WHERE time >= ?1 AND time < ?2 ORDER BY time, id",
            )
            .map_err(db)?;
        let mut dkim_stmt = conn
            .prepare(
                "SELECT domain, selector, result, human_result FROM evaluation_dkim
                 WHERE evaluation_id = ?1 ORDER BY position",
            )
            .map_err(db)?;
        let mut over_stmt = conn
            .prepare(
                "SELECT kind, comment FROM evaluation_overrides WHERE evaluation_id = ?1
                 ORDER BY position",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map(params![from, until], |r| {
                let id: i64 = r.get(0)?;
                let ip: Option<String> = r.get(3)?;
                let spf_domain: Option<String> = r.get(6)?;
                let policy_domain: Option<String> = r.get(9)?;
                let spf = match spf_domain {
                    Some(domain) => Some(SpfRow {
                        domain,
                        scope: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
                        result: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
                    }),
                    None => None,
                };
                let policy = match policy_domain {
                    Some(domain) => Some(PublishedPolicy {
                        domain,
                        p: r.get::<_, Option<String>>(10)?.unwrap_or_default(),
                        sp: r.get(11)?,
                        np: r.get(12)?,
                        adkim: r.get::<_, Option<String>>(13)?.unwrap_or_default(),
                        aspf: r.get::<_, Option<String>>(14)?.unwrap_or_default(),
                        testing: r.get::<_, Option<bool>>(15)?.unwrap_or(false),
                        discovery_method: r.get::<_, Option<String>>(16)?.unwrap_or_default(),
                    }),
                    None => None,
                };
                Ok((
                    id,
                    Evaluation {
                        uid: r.get(1)?,
                        time: r.get(2)?,
                        source_ip: ip.and_then(|s| s.parse().ok()),
                        envelope_from: r.get(4)?,
                        header_from: r.get(5)?,
                        dkim: Vec::new(),
                        spf,
                        policy,
                        dmarc: r.get(17)?,
                        disposition: r.get(18)?,
                        dkim_aligned: r.get(19)?,
                        spf_aligned: r.get(20)?,
                        overrides: Vec::new(),
                    },
                ))
            })
            .map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, mut e) = row.map_err(db)?;
            e.dkim = dkim_stmt
                .query_map(params![id], |r| {
                    Ok(DkimRow {
                        domain: r.get(0)?,
                        selector: r.get(1)?,
                        result: r.get(2)?,
                        human_result: r.get(3)?,
                    })
                })
                .map_err(db)?
                .collect::<Result<_, _>>()
                .map_err(db)?;
            e.overrides = over_stmt
                .query_map(params![id], |r| {
                    Ok(OverrideRow {
                        kind: r.get(0)?,
                        comment: r.get(1)?,
                    })
                })
                .map_err(db)?
                .collect::<Result<_, _>>()
                .map_err(db)?;
            out.push(e);
        }
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
