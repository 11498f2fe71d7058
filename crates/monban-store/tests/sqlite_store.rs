//! The SQLite backend on real files: the round trip of every field, no double counting,
//! migrations, and clear errors for a database it cannot use.

use std::path::PathBuf;

use monban_store::{
    DkimRow, Evaluation, OverrideRow, PublishedPolicy, SpfRow, SqliteStore, Store, StoreError,
    StoreUrl,
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

#[test]
fn every_field_round_trips_and_nothing_is_counted_twice() {
    let dir = Dir::new("roundtrip");
    let url = StoreUrl::parse(&format!("sqlite:{}/sub/monban.db", dir.0.display())).unwrap();
    let store = monban_store::open(&url).unwrap();
    let a = evaluation("a", 1_000);
    let mut b = evaluation("b", 2_000);
    b.policy = None;
    b.spf = None;
    b.dkim.clear();
    b.overrides.clear();
    b.source_ip = None;
    b.envelope_from = Some(String::new());
    assert_eq!(store.record(&[a.clone(), b.clone()]).unwrap(), 2);
    // The same evaluations again (a journal replayed): nothing new.
    assert_eq!(store.record(&[a.clone(), b.clone()]).unwrap(), 0);
    assert_eq!(store.count().unwrap(), 2);
    assert_eq!(
        store.evaluations(0, 10_000).unwrap(),
        vec![a.clone(), b.clone()]
    );
    assert_eq!(store.evaluations(1_000, 2_000).unwrap(), vec![a]);
    assert!(store.evaluations(3_000, 4_000).unwrap().is_empty());
    drop(store);
    // Reopened: the schema is there, the data too.
    let again = SqliteStore::open(&dir.0.join("sub/monban.db")).unwrap();
    assert_eq!(again.schema_version().unwrap(), 1);
    assert_eq!(again.count().unwrap(), 2);
}

#[test]
fn a_newer_schema_is_refused() {
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
fn unusable_places_give_clear_errors() {
    let dir = Dir::new("errors");
    // A folder where the file should be.
    let e = SqliteStore::open(&dir.0).unwrap_err().to_string();
    assert!(e.contains(&dir.0.display().to_string()), "{e}");
    // Not a database.
    let junk = dir.0.join("junk.db");
    std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
    let e = SqliteStore::open(&junk).unwrap_err().to_string();
    assert!(e.contains("junk.db"), "{e}");
    // PostgreSQL is not built yet: said, not faked.
    let url = StoreUrl::parse("postgres://u:pw@127.0.0.1/monban").unwrap();
    let e = monban_store::open(&url).err().unwrap().to_string();
    assert!(e.contains("not available") && !e.contains("pw@"), "{e}");
}
