//! The store test suite, run on both backends: SQLite on real files, and PostgreSQL
//! (Debian's server, started here in a temporary data directory on a loopback port with
//! initdb and pg_ctl, as the `postgres` user when the tests run as root; never a mock).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use monban_store::testing::PgServer;

use monban_store::{
    DeliveryUpdate, DkimRow, Evaluation, FailureReport, ImportOutcome, IncomingKind,
    IncomingRecord, IncomingReport, Kept, OutgoingReport, OverrideRow, PostgresStore,
    PublishedPolicy, SaveOutcome, SpfRow, SqliteStore, Store, StoreError, StoreUrl, SummaryFilter,
    TlsPolicyRow,
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
            fo: Some("1:d".into()),
            rua: vec![
                "mailto:agg@example.com".into(),
                "mailto:x y@example.net".into(),
            ],
            ruf: vec!["mailto:ruf@example.com".into()],
            psd: false,
        }),
        dmarc: "pass".into(),
        disposition: "none".into(),
        dkim_aligned: true,
        spf_aligned: true,
        overrides: vec![OverrideRow {
            kind: "local_policy".into(),
            comment: Some("the client is in allow_networks \"quoted\" 日本".into()),
        }],
        policy_applied: Some("reject".into()),
        report_mail: false,
        failure: None,
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
    reporting_suite(store).await;
    incoming_suite(store).await;
    limits_suite(store).await;
}

/// Aggregation, outgoing reports, deliveries, suppression (on top of `suite`'s rows:
/// "a" at 1000 and "m0".."m299" at 5000.. share one group; "b" has no policy).
async fn reporting_suite(store: &dyn Store) {
    let groups = store.aggregate(0, 10_000).await.unwrap();
    assert_eq!(groups.len(), 1, "{groups:#?}");
    let g = &groups[0];
    assert_eq!(g.count, 301);
    assert_eq!(g.not_report_mail, 301);
    assert_eq!(g.policy.domain, "example.com");
    assert_eq!(g.envelope_domain.as_deref(), Some("example.com"));
    assert_eq!(g.dkim.len(), 2);
    assert_eq!(g.overrides.len(), 1);
    assert_eq!(g.source_ip.as_deref(), Some("192.0.2.25"));
    // A second source and a report mail split the group.
    let mut other = evaluation("o1", 6_000);
    other.source_ip = Some("2001:db8::1".parse().unwrap());
    let mut rm = evaluation("r1", 6_001);
    rm.report_mail = true;
    rm.disposition = "reject".into();
    assert_eq!(store.record(&[other, rm]).await.unwrap(), 2);
    let groups = store.aggregate(0, 10_000).await.unwrap();
    assert_eq!(groups.len(), 3);
    assert_eq!(groups.iter().map(|g| g.count).sum::<u64>(), 303);
    assert_eq!(groups.iter().map(|g| g.not_report_mail).sum::<u64>(), 302);
    assert!(store.aggregate(20_000, 30_000).await.unwrap().is_empty());
    assert_eq!(
        store.latest_rua("example.com", 0, 10_000).await.unwrap(),
        vec!["mailto:agg@example.com", "mailto:x y@example.net"]
    );
    assert!(
        store
            .latest_rua("nowhere.example", 0, 10_000)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .has_accepted_mail("example.com", 0, 10_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .has_accepted_mail("example.com", 6_001, 6_002)
            .await
            .unwrap()
    );
    assert!(
        !store
            .has_accepted_mail("other.example", 0, 10_000)
            .await
            .unwrap()
    );

    // Outgoing reports: saved once, replaced while unsent, kept once sent.
    let report = OutgoingReport {
        report_id: "r1abc".into(),
        policy_domain: "example.com".into(),
        policy_key: "p=reject".into(),
        begin: 0,
        end: 99,
        filename: "rx!example.com!0!99!r1abc.xml.gz".into(),
        xml_gz: vec![0x1f, 0x8b, 0, 1, 2],
        records: 3,
        messages: 303,
        rua: vec!["mailto:a@example.com".into(), "mailto:b@example.net".into()],
        created: 100,
    };
    assert_eq!(store.save_report(&report).await.unwrap(), SaveOutcome::New);
    assert_eq!(
        store.save_report(&report).await.unwrap(),
        SaveOutcome::Replaced
    );
    // A run that started earlier (created 90, fewer messages) and saves later does not
    // replace the fuller report another host saved (a trial: 12,000 messages replaced by
    // 9,000, silently).
    assert_eq!(
        store
            .save_report(&OutgoingReport {
                messages: 250,
                created: 90,
                ..report.clone()
            })
            .await
            .unwrap(),
        SaveOutcome::Fuller(Kept {
            report_id: "r1abc".into(),
            records: 3,
            messages: 303,
        })
    );
    // A later run that counts fewer (duplicates deleted from the store since) replaces
    // it: the rule is only for runs that overlapped.
    assert_eq!(
        store
            .save_report(&OutgoingReport {
                messages: 250,
                created: 101,
                ..report.clone()
            })
            .await
            .unwrap(),
        SaveOutcome::Replaced
    );
    store.save_report(&report).await.unwrap();
    assert!(store.due_deliveries(99, 10).await.unwrap().is_empty());
    let due = store.due_deliveries(100, 10).await.unwrap();
    assert_eq!(due.len(), 2);
    // Claimed: a second sender gets nothing until the claim runs out.
    assert!(store.due_deliveries(100, 10).await.unwrap().is_empty());
    // Generated again while it is being sent (a live claim): kept as it is; replaced,
    // its deliveries would be due again for every other sender (a trial's F14).
    assert_eq!(
        store
            .save_report(&OutgoingReport {
                created: 500,
                ..report.clone()
            })
            .await
            .unwrap(),
        SaveOutcome::Sending(Kept {
            report_id: "r1abc".into(),
            records: 3,
            messages: 303,
        })
    );
    // A claim is renewed under its own token only (compare and set).
    assert_eq!(due[0].claim, due[1].claim);
    assert!(
        store
            .claim_delivery("r1abc", "mailto:a@example.com", &due[0].claim, 1_100)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_delivery("r1abc", "mailto:a@example.com", "another run", 1_100)
            .await
            .unwrap()
    );
    // A claim that ran out (100 + 900) is taken by another sender; the first sender
    // can no longer renew it, and so does not send it too (a trial's F1). The renewed
    // one is not taken.
    let taken = store.due_deliveries(1_000, 10).await.unwrap();
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert_eq!(taken[0].destination, "mailto:b@example.net");
    assert_ne!(taken[0].claim, due[1].claim);
    assert!(
        !store
            .claim_delivery("r1abc", "mailto:b@example.net", &due[1].claim, 1_200)
            .await
            .unwrap()
    );
    assert_eq!(due[0].xml_gz, report.xml_gz);
    assert_eq!(due[0].filename, report.filename);
    store
        .update_delivery(
            "r1abc",
            "mailto:a@example.com",
            &DeliveryUpdate::Sent { at: 200 },
        )
        .await
        .unwrap();
    store
        .update_delivery(
            "r1abc",
            "mailto:b@example.net",
            &DeliveryUpdate::Retry {
                next_attempt: 500,
                error: "451 try later".into(),
            },
        )
        .await
        .unwrap();
    let due = store.due_deliveries(300, 10).await.unwrap();
    assert!(due.is_empty(), "{due:?}");
    let due = store.due_deliveries(500, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].attempts, 1);
    // Left as it was: its own figures, not those of the report generated again.
    assert_eq!(
        store
            .save_report(&OutgoingReport {
                messages: 310,
                ..report.clone()
            })
            .await
            .unwrap(),
        SaveOutcome::AlreadySent(Kept {
            report_id: "r1abc".into(),
            records: 3,
            messages: 303,
        })
    );
    assert_eq!(
        store.sent_since("mailto:a@example.com", 150).await.unwrap(),
        1
    );
    assert_eq!(
        store.sent_since("mailto:a@example.com", 250).await.unwrap(),
        0
    );
    assert_eq!(
        store.suppressed("mailto:b@example.net", 0).await.unwrap(),
        None
    );
    store
        .suppress("mailto:b@example.net", 1_000, "550 no such user")
        .await
        .unwrap();
    store
        .suppress("mailto:b@example.net", 2_000, "550 again")
        .await
        .unwrap();
    assert_eq!(
        store.suppressed("mailto:b@example.net", 500).await.unwrap(),
        Some(2_000)
    );
    assert_eq!(
        store
            .suppressed("mailto:b@example.net", 2_000)
            .await
            .unwrap(),
        None
    );

    // A failure report travels with its evaluation: stored once, however often the
    // evaluation is replayed, and due to its destinations.
    let mut f = evaluation("fail-1", 7_000);
    f.failure = Some(FailureReport {
        report_id: "f1abc".into(),
        policy_domain: "example.com".into(),
        destinations: vec!["mailto:ruf@example.com".into()],
        subject: "DMARC failure report for example.com".into(),
        content_type: "multipart/report; report-type=feedback-report; boundary=\"b\"".into(),
        body: "--b\r\n...".into(),
        per_hour: 0,
    });
    assert_eq!(store.record(&[f.clone()]).await.unwrap(), 1);
    assert_eq!(store.record(&[f]).await.unwrap(), 0);
    // What a new process starts its hourly failure-report limit from.
    assert_eq!(
        store.failure_reports_since(6_000, 7_000).await.unwrap(),
        [("mailto:ruf@example.com".to_owned(), 1, 7_000)]
    );
    assert!(
        store
            .failure_reports_since(7_001, 9_000)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .failure_reports_since(6_000, 6_999)
            .await
            .unwrap()
            .is_empty()
    );
    let due: Vec<_> = store
        .due_deliveries(7_000, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.kind == "failure")
        .collect();
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(due[0].report_id, "f1abc");
    assert_eq!(due[0].xml_gz, b"--b\r\n...");
    assert_eq!(
        due[0].subject.as_deref(),
        Some("DMARC failure report for example.com")
    );
    assert!(
        due[0]
            .content_type
            .as_deref()
            .unwrap()
            .starts_with("multipart/report")
    );

    // A report of a period not over yet (generated during its day) is kept, but due
    // only once the period has ended.
    let running = OutgoingReport {
        report_id: "r2running".into(),
        begin: 1_000_000_000 - 86_400,
        end: 1_000_000_000 - 1,
        filename: "rx!example.com!running.xml.gz".into(),
        created: 1_000_000_000 - 10_000,
        ..report
    };
    assert_eq!(store.save_report(&running).await.unwrap(), SaveOutcome::New);
    let due_running = |now: i64| async move {
        store
            .due_deliveries(now, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|d| d.report_id == "r2running")
            .count()
    };
    let due_from = 1_000_000_000 + monban_store::REGENERATE_GRACE;
    assert_eq!(due_running(due_from - 1).await, 0);
    assert_eq!(due_running(due_from).await, 2);
    // Generated again once the period is over (and the claims just taken ran out):
    // replaced, and due at once.
    let whole = OutgoingReport {
        created: due_from + monban_store::CLAIM_SECONDS,
        messages: 400,
        ..running
    };
    assert_eq!(
        store.save_report(&whole).await.unwrap(),
        SaveOutcome::Replaced
    );
    assert_eq!(due_running(whole.created).await, 2);
}

/// A trial's F11: the hourly limit of failure reports per destination lived in each
/// process's memory, so recorders running at once (processes, milter hosts on one
/// database) each allowed 10. The store counts them as it stores them: two hosts
/// recording alternately, their own limiters empty, store 10 in the hour.
async fn failure_limit_suite(a: &dyn Store, b: &dyn Store) {
    let forged = |i: i64| {
        let mut e = evaluation(&format!("limit-{i}"), 50_000 + i);
        e.failure = Some(FailureReport {
            report_id: format!("limit{i}"),
            policy_domain: "example.com".into(),
            destinations: vec!["mailto:ruf@limit.example".into()],
            subject: "DMARC failure report".into(),
            content_type: "multipart/report".into(),
            body: "--b\r\n...".into(),
            per_hour: 10,
        });
        e
    };
    for i in 0..12 {
        let host = if i % 2 == 0 { a } else { b };
        // The evaluation itself is always recorded.
        assert_eq!(host.record(&[forged(i)]).await.unwrap(), 1);
    }
    let stored = || async {
        a.failure_reports_since(0, 100_000)
            .await
            .unwrap()
            .into_iter()
            .find(|(d, _, _)| d == "mailto:ruf@limit.example")
            .map(|(_, n, _)| n)
    };
    assert_eq!(stored().await, Some(10));
    // An hour after the tenth: room again.
    assert_eq!(b.record(&[forged(3_610)]).await.unwrap(), 1);
    assert_eq!(stored().await, Some(11));
}

#[test]
fn sqlite_failure_reports_are_limited_across_processes() {
    let dir = Dir::new("sqlite-failure-limit");
    let path = dir.0.join("m.db");
    let (a, b) = (
        SqliteStore::open(&path).unwrap(),
        SqliteStore::open(&path).unwrap(),
    );
    block_on(failure_limit_suite(&a, &b));
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
    assert_eq!(again.schema_version().unwrap(), 8);
    assert_eq!(again.count_now().unwrap(), 305);
}

/// A trial's F10: processes opening a new SQLite file at once failed with "duplicate
/// column name" or "table evaluations already exists" (each applied the migrations),
/// and their evaluations were lost. Each opener here is a connection of its own, as a
/// process would be.
#[test]
fn sqlite_concurrent_first_use_migrates_once() {
    let dir = Dir::new("sqlite-race");
    for round in 0..10 {
        let path = dir.0.join(format!("race{round}.db"));
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
        let openers: Vec<_> = (0..4)
            .map(|k| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let store = SqliteStore::open(&path)?;
                    store.record_now(&[evaluation(&format!("e{k}"), 1)])
                })
            })
            .collect();
        for t in openers {
            assert_eq!(t.join().unwrap().map_err(|e| e.to_string()), Ok(1));
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), 8);
        assert_eq!(store.count_now().unwrap(), 4);
    }
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

#[test]
fn postgres_store_suite_migrations_and_errors() {
    let server = PgServer::start("suite");
    let url = StoreUrl::parse(&server.url()).unwrap();
    block_on(async {
        let store = monban_store::open(&url).await.unwrap();
        suite(&*store).await;
        // A second host connecting migrates nothing again and sees the same rows.
        let other = PostgresStore::connect(&server.url()).await.unwrap();
        assert_eq!(other.schema_version().await.unwrap(), 8);
        assert_eq!(other.count().await.unwrap(), 305);
        // A trial's F13: the server's own words, not "db error".
        for (url, says) in [
            (
                format!(
                    "postgres://monban:secret@127.0.0.1:{}/nosuchdb",
                    server.port
                ),
                "database \"nosuchdb\" does not exist",
            ),
            (
                format!(
                    "postgres://nouser:secret@127.0.0.1:{}/postgres",
                    server.port
                ),
                "role \"nouser\" does not exist",
            ),
        ] {
            let err = PostgresStore::connect(&url).await.unwrap_err().to_string();
            assert!(err.contains(says) && !err.contains("secret"), "{err}");
        }
    });
    // Stopped: a clear error naming the store and the cause, the password hidden.
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
    assert!(err.contains("Connection refused"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(60));
}

#[test]
fn two_hosts_migrating_at_once_migrate_once() {
    let server = PgServer::start("race");
    let url = server.url();
    block_on(async {
        let (a, b) = tokio::join!(PostgresStore::connect(&url), PostgresStore::connect(&url));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.schema_version().await.unwrap(), 8);
        assert_eq!(b.schema_version().await.unwrap(), 8);
        assert_eq!(a.record(&[evaluation("x", 1)]).await.unwrap(), 1);
        assert_eq!(b.record(&[evaluation("x", 1)]).await.unwrap(), 0);
        failure_limit_suite(&a, &b).await;
    });
}

/// The schema of monban-store's first version (migration 1), with one evaluation in
/// it: what a database written before migration 2 holds.
const V1_SCHEMA: &str = "CREATE TABLE monban_schema (version BIGINT NOT NULL);
    INSERT INTO monban_schema VALUES (1);
    CREATE TABLE evaluations (id ID_TYPE PRIMARY KEY, uid TEXT NOT NULL UNIQUE,
        time BIGINT NOT NULL, source_ip TEXT, envelope_from TEXT, header_from TEXT,
        spf_domain TEXT, spf_scope TEXT, spf_result TEXT, policy_domain TEXT,
        policy_p TEXT, policy_sp TEXT, policy_np TEXT, policy_adkim TEXT,
        policy_aspf TEXT, policy_testing BOOLEAN, discovery_method TEXT,
        dmarc TEXT NOT NULL, disposition TEXT NOT NULL, dkim_aligned BOOLEAN NOT NULL,
        spf_aligned BOOLEAN NOT NULL);
    CREATE TABLE evaluation_dkim (evaluation_id BIGINT NOT NULL REFERENCES evaluations (id)
        ON DELETE CASCADE, position INTEGER NOT NULL, domain TEXT NOT NULL,
        selector TEXT NOT NULL, result TEXT NOT NULL, human_result TEXT,
        PRIMARY KEY (evaluation_id, position));
    CREATE TABLE evaluation_overrides (evaluation_id BIGINT NOT NULL
        REFERENCES evaluations (id) ON DELETE CASCADE, position INTEGER NOT NULL,
        kind TEXT NOT NULL, comment TEXT, PRIMARY KEY (evaluation_id, position));
    INSERT INTO evaluations VALUES (7, 'old', 1000, '192.0.2.25', 'Alice@Example.COM',
        'example.com', 'example.com', 'mfrom', 'pass', 'example.com', 'reject', NULL,
        'reject', 'r', 's', TRUE, 'treewalk', 'pass', 'none', TRUE, TRUE);
    INSERT INTO evaluation_dkim VALUES (7, 1, 'mailer.example.net', 'm1', 'fail',
        'body hash did not verify');
    INSERT INTO evaluation_dkim VALUES (7, 0, 'example.com', 's2026', 'pass', NULL);
    INSERT INTO evaluation_overrides VALUES (7, 0, 'local_policy', 'say \"hi\" 日本');";

/// What migration 2 must make of the V1 row.
fn migrated_v1() -> Evaluation {
    let mut e = evaluation("old", 1_000);
    e.envelope_from = Some("Alice@Example.COM".into());
    e.overrides[0].comment = Some("say \"hi\" 日本".into());
    let p = e.policy.as_mut().unwrap();
    p.fo = None;
    p.rua.clear();
    p.ruf.clear();
    e.policy_applied = None;
    e
}

#[test]
fn sqlite_migrates_a_version_1_database() {
    let dir = Dir::new("v1");
    let path = dir.0.join("v1.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(&V1_SCHEMA.replace("ID_TYPE", "INTEGER"))
        .unwrap();
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 8);
    assert_eq!(
        store.evaluations_now(0, 10_000).unwrap(),
        vec![migrated_v1()]
    );
    let groups = store.aggregate_now(0, 10_000).unwrap();
    assert_eq!(groups[0].envelope_domain.as_deref(), Some("example.com"));
}

#[test]
fn postgres_migrates_a_version_1_database() {
    let server = PgServer::start("v1");
    block_on(async {
        let (client, conn) = tokio_postgres::connect(&server.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
            .batch_execute(&V1_SCHEMA.replace("ID_TYPE", "BIGSERIAL"))
            .await
            .unwrap();
        drop(client);
        let store = PostgresStore::connect(&server.url()).await.unwrap();
        assert_eq!(store.schema_version().await.unwrap(), 8);
        assert_eq!(
            store.evaluations(0, 10_000).await.unwrap(),
            vec![migrated_v1()]
        );
        // A new row recorded alike (with a group key) and the migrated one (without)
        // describe the same report row: the report merges them.
        let mut new = migrated_v1();
        new.uid = "new".into();
        store.record(&[new.clone()]).await.unwrap();
        let mut groups = store.aggregate(0, 10_000).await.unwrap();
        assert_eq!(
            groups.iter().map(|g| g.count).sum::<u64>(),
            2,
            "{groups:#?}"
        );
        for g in &mut groups {
            g.count = 0;
            g.not_report_mail = 0;
            g.last_time = 0;
            g.policy.rua.clear();
        }
        groups.dedup();
        assert_eq!(groups.len(), 1, "{groups:#?}");
    });
}

fn incoming(org: &str, id: &str, hash: &str, records: usize) -> IncomingReport {
    IncomingReport {
        kind: IncomingKind::Aggregate,
        org_name: org.into(),
        report_id: id.into(),
        domain: "example.com".into(),
        begin: 86_400,
        end: 2 * 86_400 - 1,
        content_hash: hash.into(),
        document: format!("<feedback>{hash}</feedback>"),
        meta: "{}".into(),
        source: format!("test:{id}"),
        policy_p: Some("none".into()),
        messages: records as u64 * 2,
        records: (0..records)
            .map(|i| IncomingRecord {
                source_ip: format!("192.0.2.{}", i % 3),
                count: 2,
                disposition: "none".into(),
                dkim_aligned: i % 2 == 0,
                spf_aligned: false,
                header_from: "example.com".into(),
                envelope_from: Some("bounce.example.net".into()),
                dkim_domain: Some("example.com".into()),
                dkim_result: Some(if i % 2 == 0 { "pass" } else { "fail" }.into()),
                dkim_any_pass: i % 2 == 0,
                spf_result: Some("pass".into()),
                spf_domain: Some("bounce.example.net".into()),
                auth: Some("{}".into()),
                ..IncomingRecord::default()
            })
            .collect(),
        tls_policies: Vec::new(),
    }
}

/// Received reports: identity, duplicates, conflicts, the summary's groups.
async fn incoming_suite(store: &dyn Store) {
    let a = incoming("google.com", "r1", "h1", 4);
    let b = incoming("yahoo.com", "r1", "h2", 2);
    let mut tls = incoming("google.com", "t1", "h3", 0);
    tls.kind = IncomingKind::Tls;
    tls.policy_p = None;
    tls.tls_policies.push(TlsPolicyRow {
        policy_type: "sts".into(),
        policy_domain: "example.com".into(),
        successful: 10,
        failed: 1,
        details: "[]".into(),
    });
    // In one batch: a, its duplicate, a conflicting copy, another reporter's same id.
    let mut a_other = a.clone();
    a_other.content_hash = "h9".into();
    let out = store
        .import_reports(
            &[a.clone(), a.clone(), a_other.clone(), b.clone(), tls],
            100,
        )
        .await
        .unwrap();
    assert_eq!(
        out,
        [
            ImportOutcome::New { records: 4 },
            ImportOutcome::Duplicate,
            ImportOutcome::Conflict,
            ImportOutcome::New { records: 2 },
            ImportOutcome::New { records: 1 },
        ]
    );
    // Again in a later batch: nothing new; the conflict is kept aside once.
    let out = store
        .import_reports(&[a.clone(), a_other, b], 200)
        .await
        .unwrap();
    assert_eq!(
        out,
        [
            ImportOutcome::Duplicate,
            ImportOutcome::Conflict,
            ImportOutcome::Duplicate
        ]
    );
    let c = store.incoming_counts().await.unwrap();
    assert_eq!((c.aggregate, c.tls, c.failure), (2, 1, 0));
    let tls = store.incoming_tls(&SummaryFilter::default()).await.unwrap();
    assert!(!tls.older_left_out);
    let tls = tls.rows;
    assert_eq!(tls.len(), 1);
    assert_eq!(
        (
            tls[0].policy_domain.as_str(),
            tls[0].successful,
            tls[0].failed
        ),
        ("example.com", 10, 1)
    );
    assert_eq!((c.records, c.messages, c.conflicts), (6, 12, 1));
    let s = store
        .incoming_summary(&SummaryFilter::default())
        .await
        .unwrap();
    let total: u64 = s.sources.iter().map(|g| g.messages).sum();
    assert_eq!(total, 12);
    assert_eq!(s.reporters.len(), 2);
    let g = s
        .reporters
        .iter()
        .find(|r| r.org_name == "google.com")
        .unwrap();
    assert_eq!((g.reports, g.messages), (1, 8));
    assert_eq!(g.policy_p.as_deref(), Some("none"));
    let aligned: u64 = s
        .sources
        .iter()
        .filter(|g| g.dkim_aligned)
        .map(|g| g.messages)
        .sum();
    assert_eq!(aligned, 6);
    // Periods: a report counts when its period overlaps the range.
    let in_range = |since, until| SummaryFilter {
        domain: Some("example.com".into()),
        since: Some(since),
        until: Some(until),
    };
    let s = store
        .incoming_summary(&in_range(2 * 86_400 - 2, 3 * 86_400))
        .await
        .unwrap();
    assert_eq!(s.reporters.len(), 2);
    // A period's end is exclusive: a report ending where the range starts is not in it
    // (some reporters end a day at the next midnight).
    let s = store
        .incoming_summary(&in_range(2 * 86_400 - 1, 3 * 86_400))
        .await
        .unwrap();
    assert!(s.reporters.is_empty() && s.sources.is_empty());
    let s = store.incoming_summary(&in_range(0, 86_400)).await.unwrap();
    assert!(s.reporters.is_empty(), "nor one beginning where it ends");
    let s = store
        .incoming_summary(&SummaryFilter {
            domain: Some("other.example".into()),
            ..SummaryFilter::default()
        })
        .await
        .unwrap();
    assert!(s.sources.is_empty());

    // The dashboard's queries: a generation that moves with every stored report, the
    // messages per day, the list of reports (newest first) and one report with its
    // document as received.
    let generation = store.incoming_generation().await.unwrap();
    assert!(generation > 0);
    let daily = store
        .incoming_daily(&SummaryFilter::default())
        .await
        .unwrap()
        .rows;
    assert_eq!(daily.len(), 1);
    let d = &daily[0];
    assert_eq!((d.day, d.messages, d.dmarc_pass, d.none), (1, 12, 6, 12));
    let list = store
        .incoming_report_list(&SummaryFilter::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(list.len(), 3, "{list:?}");
    assert!(list.iter().all(|e| e.has_document));
    let page2 = store
        .incoming_report_list(&SummaryFilter::default(), 2, 10)
        .await
        .unwrap();
    assert_eq!(page2.len(), 1);
    let google = list
        .iter()
        .find(|e| e.org_name == "google.com" && e.kind == "aggregate")
        .unwrap();
    let full = store.incoming_report(google.id).await.unwrap().unwrap();
    assert_eq!(full.document.as_deref(), Some("<feedback>h1</feedback>"));
    assert_eq!(full.entry.records, 4);
    assert!(store.incoming_report(i64::MAX).await.unwrap().is_none());
    // Another report moves the generation.
    store
        .import_reports(&[incoming("gmx.net", "r7", "h7", 1)], 300)
        .await
        .unwrap();
    assert!(store.incoming_generation().await.unwrap() > generation);
}

/// The bounds of the dashboard's queries (of their own domain, beside the suite's
/// rows): exactly the bound is returned, and one more leaves out the oldest, never the
/// newest.
async fn limits_suite(store: &dyn Store) {
    let domain = "limits.example";
    let only = SummaryFilter {
        domain: Some(domain.into()),
        ..SummaryFilter::default()
    };
    let day = |d: usize| {
        let mut r = incoming("limits.example", &format!("day{d}"), &format!("d{d}"), 1);
        r.domain = domain.into();
        r.begin = d as i64 * 86_400;
        r.end = r.begin + 86_399;
        r
    };
    // Days: 3,660 are all returned; a newer one leaves out the oldest, and the result
    // says that older days were left out.
    let days: Vec<IncomingReport> = (0..monban_store::MAX_DAYS).map(day).collect();
    store.import_reports(&days, 400).await.unwrap();
    let daily = store.incoming_daily(&only).await.unwrap();
    assert!(!daily.older_left_out);
    let daily = daily.rows;
    assert_eq!(daily.len(), monban_store::MAX_DAYS);
    assert_eq!(daily[0].day, 0);
    store
        .import_reports(&[day(monban_store::MAX_DAYS)], 400)
        .await
        .unwrap();
    let daily = store.incoming_daily(&only).await.unwrap();
    assert!(daily.older_left_out);
    let daily = daily.rows;
    assert_eq!(daily.len(), monban_store::MAX_DAYS);
    assert_eq!(
        (daily[0].day, daily[daily.len() - 1].day),
        (1, monban_store::MAX_DAYS as i64),
        "oldest first, the newest kept"
    );
    // A list request: at most 1,000 entries, newest first.
    let list = store.incoming_report_list(&only, 0, 5_000).await.unwrap();
    assert_eq!(list.len(), 1_000);
    assert_eq!(list[0].report_id, format!("day{}", monban_store::MAX_DAYS));
    // TLS rows: 100,000 are all read; a newer report's row leaves out an older one.
    let policies = |n: usize| {
        (0..n)
            .map(|i| TlsPolicyRow {
                policy_type: "sts".into(),
                policy_domain: domain.into(),
                successful: i as u64,
                failed: 0,
                details: "{}".into(),
            })
            .collect::<Vec<_>>()
    };
    let mut old = day(0);
    old.kind = IncomingKind::Tls;
    old.report_id = "tls-old".into();
    old.records.clear();
    old.policy_p = None;
    old.tls_policies = policies(monban_store::MAX_TLS_ROWS);
    store.import_reports(&[old.clone()], 400).await.unwrap();
    let tls = store.incoming_tls(&only).await.unwrap();
    assert!(!tls.older_left_out);
    assert_eq!(tls.rows.len(), monban_store::MAX_TLS_ROWS);
    let mut new = old;
    new.report_id = "tls-new".into();
    new.begin += 86_400;
    new.end += 86_400;
    new.org_name = "newer.example".into();
    new.tls_policies = policies(1);
    store.import_reports(&[new], 400).await.unwrap();
    let tls = store.incoming_tls(&only).await.unwrap();
    assert!(tls.older_left_out);
    let tls = tls.rows;
    assert_eq!(tls.len(), monban_store::MAX_TLS_ROWS);
    assert_eq!(
        tls.last().map(|t| t.org_name.as_str()),
        Some("newer.example"),
        "oldest first, the newest kept"
    );
    // Sources: the first MAX_SUMMARY_SOURCES of a domain, the most failing mail first;
    // the totals and the count of addresses cover them all.
    let domain = "sources.example";
    let n = monban_store::MAX_SUMMARY_SOURCES + 5;
    let mut many = incoming("sources.example", "many", "many", n);
    many.domain = domain.into();
    for (i, r) in many.records.iter_mut().enumerate() {
        r.source_ip = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
        // The last five addresses fail, with 10 messages each; the others pass.
        let fails = i >= n - 5;
        r.count = if fails { 10 } else { 1 };
        r.dkim_aligned = !fails;
        r.spf_aligned = false;
        r.disposition = if fails { "reject" } else { "none" }.into();
    }
    store.import_reports(&[many], 500).await.unwrap();
    let s = store
        .incoming_summary(&SummaryFilter {
            domain: Some(domain.into()),
            ..SummaryFilter::default()
        })
        .await
        .unwrap();
    let ips: std::collections::BTreeSet<&str> =
        s.sources.iter().map(|g| g.source_ip.as_str()).collect();
    assert_eq!(ips.len(), monban_store::MAX_SUMMARY_SOURCES);
    for i in n - 5..n {
        let ip = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
        assert!(ips.contains(ip.as_str()), "the failing {ip} is listed");
    }
    assert_eq!(s.source_counts, [(domain.to_string(), n as u64, 5)]);
    let total: u64 = s.totals.iter().map(|t| t.messages).sum();
    let pass: u64 = s.totals.iter().map(|t| t.dmarc_pass).sum();
    assert_eq!((total, pass), ((n - 5) as u64 + 50, (n - 5) as u64));
    let rejected: u64 = s
        .totals
        .iter()
        .filter(|t| t.disposition == "reject")
        .map(|t| t.messages)
        .sum();
    assert_eq!(rejected, 50);
}
