//! Black-box tests of ARC in the CLI: `monban seal`, and `monban verify` with
//! `--trusted-arc-sealer` on the bundled mailing-list samples (RFC 8617, RFC 9989 §5.3).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

fn monban(args: &[&str], stdin: &[u8]) -> Output {
    common::run(args, stdin, &[])
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example(rel: &str) -> String {
    root()
        .join("examples")
        .join(rel)
        .to_str()
        .unwrap()
        .to_owned()
}

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// `verify --json` of a message as it reaches the final receiver from the list.
fn verify_at_receiver(message: &[u8], extra: &[&str]) -> Value {
    let zone = example("example.zone");
    let mut args = vec![
        "--zone",
        &zone,
        "verify",
        "--json",
        "--ip",
        "203.0.113.5",
        "--helo",
        "lists.example.org",
        "--mail-from",
        "lunch-club-bounces@example.org",
    ];
    args.extend_from_slice(extra);
    serde_json::from_str(&ok(&monban(&args, message))).unwrap()
}

fn seal(message: &[u8], extra: &[&str]) -> Output {
    let zone = example("example.zone");
    let key = example("keys/arc2026.private");
    let mut args = vec![
        "--zone",
        &zone,
        "seal",
        "--domain",
        "example.org",
        "--selector",
        "arc2026",
        "--key",
        &key,
        "--authserv-id",
        "lists.example.org",
    ];
    args.extend_from_slice(extra);
    monban(&args, message)
}

/// The list's path, rebuilt from the bundled message: the original (before the list
/// tagged the subject) is checked on arrival, the list tags the subject, keeps its
/// Authentication-Results and seals with them.
fn list_path() -> Vec<u8> {
    let listed = std::fs::read(example("messages/via-mailing-list.eml")).unwrap();
    let original = String::from_utf8(listed.clone())
        .unwrap()
        .replace("Subject: [lunch-club] ", "Subject: ");
    let zone = example("example.zone");
    let ar = ok(&monban(
        &[
            "--zone",
            &zone,
            "verify",
            "--authserv-id",
            "lists.example.org",
            "--ip",
            "192.0.2.25",
            "--helo",
            "mail.example.com",
            "--mail-from",
            "alice@example.com",
        ],
        original.as_bytes(),
    ));
    assert!(ar.contains("dmarc=pass"), "{ar}");
    let mut with_ar = ar.into_bytes();
    with_ar.extend_from_slice(&listed);
    with_ar
}

fn dmarc(v: &Value) -> (String, String, Vec<String>) {
    let d = &v["dmarc"];
    (
        d["result"].as_str().unwrap().to_owned(),
        d["disposition"].as_str().unwrap().to_owned(),
        d["overrides"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["type"].as_str().unwrap().to_owned())
            .collect(),
    )
}

/// The acceptance case: the bundled mailing-list sample, sealed by a trusted
/// list, passes with the trusted_forwarder override; untrusted, or trusted with a
/// changed message, it still fails with p=reject.
#[test]
fn bundled_sample_sealed_by_a_trusted_list() {
    let sealed = std::fs::read(example("messages/via-mailing-list-arc.eml")).unwrap();
    let untrusted = verify_at_receiver(&sealed, &[]);
    assert_eq!(untrusted["arc"]["result"], "pass");
    assert_eq!(untrusted["arc"]["sealers"][0], "example.org");
    assert_eq!(
        dmarc(&untrusted),
        ("fail".into(), "reject".into(), Vec::new())
    );

    let trusted = verify_at_receiver(&sealed, &["--trusted-arc-sealer", "example.org"]);
    assert_eq!(
        dmarc(&trusted),
        (
            "fail".into(),
            "none".into(),
            vec!["trusted_forwarder".into()]
        )
    );
    let ar = trusted["authentication_results"].as_str().unwrap();
    assert!(
        ar.contains("arc=pass (trusted forwarder example.org"),
        "{ar}"
    );
    assert!(ar.contains("header.oldest-pass=0"), "{ar}");

    // Another sealer trusted: nothing changes.
    let other = verify_at_receiver(&sealed, &["--trusted-arc-sealer", "lists.example.net"]);
    assert_eq!(dmarc(&other).1, "reject");

    // Changed after sealing (a word in the body): the chain fails, the policy applies.
    let tampered = String::from_utf8(sealed)
        .unwrap()
        .replace("ramen place", "ramen plaice");
    let v = verify_at_receiver(
        tampered.as_bytes(),
        &["--trusted-arc-sealer", "example.org"],
    );
    assert_eq!(v["arc"]["result"], "fail");
    assert_eq!(v["arc"]["failed_instance"], 1);
    assert_eq!(dmarc(&v).1, "reject");
}

/// `monban seal --recorded-results` on the list's path gives what the bundled sample
/// shows, and `monban seal` without it records its own (failing) verdict, which no
/// trust can turn into a pass.
#[test]
fn seal_records_the_list_verdict() {
    let message = list_path();
    let sealed = ok(&seal(&message, &["--recorded-results"]));
    assert!(sealed.starts_with("ARC-Seal: "), "{sealed}");
    assert!(sealed.contains("cv=none"));
    let v = verify_at_receiver(sealed.as_bytes(), &["--trusted-arc-sealer", "example.org"]);
    assert_eq!(v["arc"]["result"], "pass");
    assert_eq!(dmarc(&v).1, "none");

    // Verified now (the subject tag breaks DKIM): the AAR says dmarc=fail.
    let sealed = ok(&seal(
        &message,
        &[
            "--ip",
            "203.0.113.5",
            "--helo",
            "lists.example.org",
            "--mail-from",
            "lunch-club-bounces@example.org",
        ],
    ));
    assert!(sealed.contains("dmarc=fail"), "{sealed}");
    let v = verify_at_receiver(sealed.as_bytes(), &["--trusted-arc-sealer", "example.org"]);
    assert_eq!(v["arc"]["result"], "pass");
    assert_eq!(dmarc(&v).1, "reject");

    // --recorded-results without such fields is an error naming the authserv-id.
    let out = seal(b"From: a@example.com\r\n\r\nx\r\n", &["--recorded-results"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lists.example.org"));
}

/// A second sealer on top: instances 2, cv=pass; a chain whose latest seal says
/// cv=fail is passed on unchanged with the reason on standard error.
#[test]
fn seal_on_top_and_never_after_a_failure() {
    let once = ok(&seal(&list_path(), &["--recorded-results"]));
    let twice = ok(&seal(once.as_bytes(), &[]));
    assert!(
        twice.contains("i=2") && twice.contains("cv=pass"),
        "{twice}"
    );
    let v = verify_at_receiver(twice.as_bytes(), &[]);
    assert_eq!(v["arc"]["result"], "pass");
    assert_eq!(v["arc"]["instances"], 2);

    // Break the chain, seal it (cv=fail), then try again.
    let broken = twice.replace("ramen place", "ramen plaice");
    let failed = ok(&seal(broken.as_bytes(), &[]));
    assert!(failed.contains("i=3") && failed.contains("cv=fail"));
    let out = seal(failed.as_bytes(), &[]);
    assert_eq!(ok(&out), failed, "passed on unchanged");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not sealed"));
    let v = verify_at_receiver(failed.as_bytes(), &["--trusted-arc-sealer", "example.org"]);
    assert_eq!(v["arc"]["result"], "fail");
    assert_eq!(dmarc(&v).1, "reject");
}
