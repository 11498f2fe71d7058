//! The store test suite, run on both backends: SQLite on real files, and PostgreSQL
//! (Debian's server, started here in a temporary data directory on a loopback port with
//! initdb and pg_ctl, as the `postgres` user when the tests run as root; never a mock).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use monban_store::{
    DkimRow, Evaluation, OverrideRow, PostgresStore, PublishedPolicy, SpfRow, SqliteStore, Store,
    StoreError, StoreUrl,
};

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("monban-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn evaluation(uid: &str, time: i64) -> Evaluation {
    Evaluation {
        uid: uid.into(),
        time,
        source_ip: Some("192.0.2.25".parse().unwrap()),
        envelope_from: Some("alice@example.com".into()),
        header_from: Some("example.com".into()),
        dkim: vec![
            DkimRow {
                domain: "example.com".into(),
                selector: "s2026".into(),
                result: "pass".into(),
                human_result: None,
            },
            DkimRow {
                domain: "mailer.example.net".into(),
                selector: "m1".into(),
                result: "fail".into(),
                human_result: Some("body hash did not verify".into()),
            },
        ],
        spf: Some(SpfRow {
            domain: "example.com".into(),
            scope: "mfrom".into(),
            result: "pass".into(),
        }),
        policy: Some(PublishedPolicy {
            domain: "example.com".into(),
            p: "reject".into(),
            sp: None,
            np: Some("reject".into()),
            adkim: "r".into(),
            aspf: "s".into(),
            testing: true,
            discovery_method: "treewalk".into(),
        }),
        dmarc: "pass".into(),
        disposition: "none".into(),
        dkim_aligned: true,
        spf_aligned: true,
        overrides: vec![OverrideRow {
            kind: "local_policy".into(),
            comment: Some("the client is in allow_networks".into()),
        }],
    }
}

/// The suite every backend passes: every field round trips, a batch recorded twice
/// counts once, time ranges select.
async fn suite(store: &dyn Store) {
    let a = evaluation("a", 1_000);
    let mut b = evaluation("b", 2_000);
    b.policy = None;
    b.spf = None;
    b.dkim.clear();
    b.overrides.clear();
    b.source_ip = None;
    b.envelope_from = Some(String::new());
    assert_eq!(store.record(&[a.clone(), b.clone()]).await.unwrap(), 2);
    // The same evaluations again (a journal replayed): nothing new.
    assert_eq!(store.record(&[a.clone(), b.clone()]).await.unwrap(), 0);
    assert_eq!(store.count().await.unwrap(), 2);
    assert_eq!(
        store.evaluations(0, 10_000).await.unwrap(),
        vec![a.clone(), b.clone()]
    );
    assert_eq!(store.evaluations(1_000, 2_000).await.unwrap(), vec![a]);
    assert!(store.evaluations(3_000, 4_000).await.unwrap().is_empty());
    // A batch of many, with one already stored inside it.
    let many: Vec<Evaluation> = (0..300)
        .map(|i| evaluation(&format!("m{i}"), 5_000 + i))
        .collect();
    let mut with_old = many.clone();
    with_old.push(b);
    assert_eq!(store.record(&with_old).await.unwrap(), 300);
    assert_eq!(store.count().await.unwrap(), 302);
}

#[test]
fn sqlite_store_suite_and_reopen() {
    let dir = Dir::new("sqlite");
    let path = dir.0.join("sub/monban.db");
    let url = StoreUrl::parse(&format!("sqlite:{}", path.display())).unwrap();
    block_on(async {
        let store = monban_store::open(&url).await.unwrap();
        suite(&*store).await;
    });
    // Reopened: the schema is there, the data too.
    let again = SqliteStore::open(&path).unwrap();
    assert_eq!(again.schema_version().unwrap(), 1);
    assert_eq!(again.count_now().unwrap(), 302);
}

#[test]
fn sqlite_newer_schema_is_refused() {
    let dir = Dir::new("newer");
    let path = dir.0.join("m.db");
    drop(SqliteStore::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("UPDATE monban_schema SET version = 99", [])
        .unwrap();
    match SqliteStore::open(&path) {
        Err(StoreError::NewerSchema { found: 99, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn sqlite_unusable_places_give_clear_errors() {
    let dir = Dir::new("errors");
    // A folder where the file should be.
    let e = SqliteStore::open(&dir.0).unwrap_err().to_string();
    assert!(e.contains(&dir.0.display().to_string()), "{e}");
    // Not a database.
    let junk = dir.0.join("junk.db");
    std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
    let e = SqliteStore::open(&junk).unwrap_err().to_string();
    assert!(e.contains("junk.db"), "{e}");
}

// ---------------------------------------------------------------------------
// PostgreSQL.

/// A PostgreSQL server of its own, in a temporary data directory, on a loopback port.
struct PgServer {
    dir: Dir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

fn pg_bin() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop().unwrap_or_else(|| {
        panic!("PostgreSQL's server is not installed (initdb not found under /usr/lib/postgresql); scripts/test.sh installs it")
    })
}

impl PgServer {
    fn run(&self, program: &str, args: &[&str]) -> std::process::Output {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args).output().unwrap()
    }

    fn start(name: &str) -> Self {
        let dir = Dir::new(&format!("pg-{name}"));
        let as_postgres = running_as_root();
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir.0)
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown the data directory to postgres");
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = Self {
            bin: pg_bin(),
            dir,
            port,
            as_postgres,
        };
        let data = server.dir.0.join("data");
        let data_s = data.to_str().unwrap();
        let out = server.run(
            "initdb",
            &[
                "-D",
                data_s,
                "-A",
                "trust",
                "-U",
                "monban",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let opts = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            server.dir.0.display()
        );
        let log = server.dir.0.join("log");
        let out = server.run(
            "pg_ctl",
            &[
                "-D",
                data_s,
                "-o",
                &opts,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        server
    }

    fn url(&self) -> String {
        format!("postgres://monban@127.0.0.1:{}/postgres", self.port)
    }

    fn stop(&self) {
        let data = self.dir.0.join("data");
        let _ = self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether this process runs as root (PostgreSQL refuses to run as root).
fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn postgres_store_suite_migrations_and_errors() {
    let server = PgServer::start("suite");
    let url = StoreUrl::parse(&server.url()).unwrap();
    block_on(async {
        let store = monban_store::open(&url).await.unwrap();
        suite(&*store).await;
        // A second host connecting migrates nothing again and sees the same rows.
        let other = PostgresStore::connect(&server.url()).await.unwrap();
        assert_eq!(other.schema_version().await.unwrap(), 1);
        assert_eq!(other.count().await.unwrap(), 302);
    });
    // Stopped: a clear error naming the store, the password hidden.
    server.stop();
    let start = Instant::now();
    let err = block_on(async {
        PostgresStore::connect(&format!(
            "postgres://monban:secret@127.0.0.1:{}/postgres",
            server.port
        ))
        .await
        .unwrap_err()
        .to_string()
    });
    assert!(
        err.contains("127.0.0.1") && !err.contains("secret"),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(60));
}

#[test]
fn two_hosts_migrating_at_once_migrate_once() {
    let server = PgServer::start("race");
    let url = server.url();
    block_on(async {
        let (a, b) = tokio::join!(PostgresStore::connect(&url), PostgresStore::connect(&url));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.schema_version().await.unwrap(), 1);
        assert_eq!(b.schema_version().await.unwrap(), 1);
        assert_eq!(a.record(&[evaluation("x", 1)]).await.unwrap(), 1);
        assert_eq!(b.record(&[evaluation("x", 1)]).await.unwrap(), 0);
    });
}
