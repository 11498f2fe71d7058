//! `monban report import imap://...` (issue 12) against a real IMAP server: Debian's
//! Dovecot, started here on loopback ports with a test user (no mock). STARTTLS and TLS
//! on connect, the certificate trusted through MONBAN_IMAP_CA, messages flagged or
//! moved only after their reports are committed, a message that is not a report left
//! alone, a wrong password and an untrusted certificate refused by name; on SQLite and
//! on PostgreSQL.

mod common;

use common::Dir;
use common::dovecot::{Dovecot, PASSWORD, USER};
use monban_report::corpus;
use monban_store::testing::PgServer;
use serde_json::Value;

fn import(store: &str, url: &str, env: &[(&str, &str)], extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["report", "import", "--store", store, "--json"];
    args.extend_from_slice(extra);
    args.push(url);
    let out = common::run(&args, b"", env);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

fn n(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} in {v}"))
}

/// One Dovecot at a time: the two backends' runs do not race for ports or CPU.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn imap_suite(store: &str, name: &str) {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let server = Dovecot::start(name);
    for i in 0..30 {
        server.deliver(&format!("r{i}.test:2,"), &corpus::report_mail(i));
    }
    server.deliver(
        "hello.test:2,",
        b"From: a@b.example\r\nSubject: hi\r\n\r\nnot a report\r\n",
    );
    let ca = server.ca();
    let ca = ca.to_str().unwrap();
    let env = [("MONBAN_IMAP_PASSWORD", PASSWORD), ("MONBAN_IMAP_CA", ca)];
    let starttls = format!("imap://{USER}@127.0.0.1:{}/INBOX", server.port);
    let records: usize = (0..30).map(corpus::rows_of).sum();

    // STARTTLS: 30 reports stored, the other message named as failed (exit 1).
    let (code, v) = import(store, &starttls, &env, &[]);
    assert_eq!(code, 1, "{v} {}", server.log());
    assert_eq!(n(&v, "reports_new"), 30, "{v}");
    assert_eq!(n(&v, "records_new"), records as u64);
    let failed = v["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{v}");
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("no DMARC or TLS report"),
        "{v}"
    );
    // Flagged once committed: the next run reads only the message that failed.
    let (_, v) = import(store, &starttls, &env, &[]);
    assert_eq!(
        (
            n(&v, "reports_new"),
            n(&v, "reports_duplicate"),
            n(&v, "inputs_read")
        ),
        (0, 0, 1),
        "{v}"
    );
    assert_eq!(
        server.count(""),
        31,
        "flagging keeps messages where they are"
    );

    // New mail, over TLS on connect, moved to Imported after the commit.
    for i in 30..40 {
        server.deliver(&format!("r{i}.test:2,"), &corpus::report_mail(i));
    }
    let tls = format!("imaps://{USER}@127.0.0.1:{}/INBOX", server.tls_port);
    let (code, v) = import(store, &tls, &env, &["--move-to", "Imported"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(n(&v, "reports_new"), 10, "{v}");
    assert_eq!(server.count("Imported"), 10, "{}", server.log());
    assert_eq!(server.count(""), 31);

    // A wrong password and an untrusted certificate are refused, by name.
    let (code, v) = import(
        store,
        &starttls,
        &[("MONBAN_IMAP_PASSWORD", "wrong"), ("MONBAN_IMAP_CA", ca)],
        &[],
    );
    assert_eq!(code, 1);
    let e = v["failed"][0]["error"].as_str().unwrap();
    assert!(e.contains("LOGIN refused"), "{e}");
    assert!(!e.contains("wrong"), "the password is not echoed: {e}");
    let (code, v) = import(store, &tls, &[("MONBAN_IMAP_PASSWORD", PASSWORD)], &[]);
    assert_eq!(code, 1);
    let e = v["failed"][0]["error"].as_str().unwrap();
    assert!(e.contains("TLS"), "{e}\n{}", server.log());
    // No password at all.
    let (code, v) = import(store, &tls, &[], &[]);
    assert_eq!(code, 1);
    assert!(
        v["failed"][0]["error"]
            .as_str()
            .unwrap()
            .contains("MONBAN_IMAP_PASSWORD")
    );
}

#[test]
fn dovecot_imap_sqlite() {
    let dir = Dir::new("imap-sqlite");
    imap_suite(
        &format!("sqlite:{}", dir.0.join("m.db").display()),
        "sqlite",
    );
}

#[test]
fn dovecot_imap_postgres() {
    let pg = PgServer::start("imap");
    imap_suite(&pg.url(), "postgres");
}
