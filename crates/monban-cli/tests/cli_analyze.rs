//! Black-box tests of `monban analyze` (DESIGN §4): tables, JSON, and --verify
//! against the bundled example zone.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn path(rel: &str) -> String {
    root().join(rel).to_str().unwrap().to_owned()
}

fn monban(args: &[&str], stdin: Option<&[u8]>) -> Output {
    common::run(args, stdin.unwrap_or_default(), &[])
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&stdout(&monban(&all, None))).unwrap()
}

const ZONE: &str = "examples/example.zone";
/// After every sample's signing time, so t= is never in the future.
const AT: &str = "1795400000";

#[test]
fn human_tables_without_colour_when_piped() {
    let out = stdout(&monban(
        &[
            "analyze",
            &path("crates/monban-diag/testdata/analyze/gmail.eml"),
        ],
        None,
    ));
    assert!(
        !out.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
    for want in [
        "Received chain: 3 hop(s), oldest first; total 2 min 47 s",
        "laptop.example.com [198.51.100.23]",
        "mx.google.com",
        "+3 s",
        "Authentication-Results by mx.google.com",
        "ARC-Authentication-Results i=1 by mx.google.com",
        "Received-SPF",
        "DKIM-Signature 1: d=example.com s=s2026 a=rsa-sha256",
        "author signature",
        "the selector: the public key is published at s2026._domainkey.example.com",
    ] {
        assert!(out.contains(want), "{want:?} in\n{out}");
    }
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("Return-Path") && l.ends_with("alice@example.com")),
        "{out}"
    );
}

#[test]
fn colour_on_request_and_never_with_no_color() {
    let file = path("crates/monban-diag/testdata/analyze/clock-skew.eml");
    let out = stdout(&monban(&["analyze", "--color", "always", &file], None));
    assert!(
        out.contains("\x1b[1m") && out.contains("\x1b[31m-40 s"),
        "{out}"
    );
    let out = stdout(&monban(&["analyze", "--color", "never", &file], None));
    assert!(!out.contains('\x1b'));
    // NO_COLOR is honoured by auto (and stdout here is a pipe anyway).
    let o = Command::new(env!("CARGO_BIN_EXE_monban"))
        .args(["analyze", &file])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&o.stdout).contains('\x1b'));
}

#[test]
fn json_has_the_design_keys() {
    let v = json(&[
        "analyze",
        &path("crates/monban-diag/testdata/analyze/postfix.eml"),
    ]);
    let hops = v["hops"].as_array().unwrap();
    assert_eq!(hops.len(), 2);
    let mx = &hops[1];
    assert_eq!(mx["from"], "mx.mailer.example.net");
    assert_eq!(mx["by"], "mx.example.net");
    assert_eq!(mx["with"], "ESMTPS");
    assert_eq!(mx["id"], "4XyzQ81mZ5z4wJk");
    assert!(mx["time"].as_str().unwrap().ends_with("+09:00"));
    assert_eq!(mx["delay_seconds"], 2);
    assert_eq!(v["total_delay_seconds"], 165);
    let ar = &v["authentication_results"][0];
    assert_eq!(ar["authserv_id"], "mx.example.net");
    assert_eq!(ar["results"][1]["method"], "dkim");
    assert_eq!(ar["results"][1]["result"], "pass");
    assert_eq!(
        ar["results"][1]["properties"]["header.d"],
        "mailer.example.net"
    );
    let sig = &v["dkim_signatures"][0];
    assert_eq!(sig["d"], "mailer.example.net");
    assert_eq!(sig["s"], "m1");
    assert_eq!(sig["a"], "ed25519-sha256");
    assert_eq!(sig["signer"], "third-party");
    assert_eq!(sig["tags"]["c"], "relaxed/relaxed");
    let id = &v["identities"];
    assert_eq!(id["return_path"], "bounces@example.com");
    assert_eq!(id["from"], "news@example.com");
    assert!(id["sender"].is_null());
    assert!(v.get("verification").is_none());
}

#[test]
fn json_negative_delay_keeps_its_sign() {
    let v = json(&[
        "analyze",
        &path("crates/monban-diag/testdata/analyze/clock-skew.eml"),
    ]);
    let delays: Vec<i64> = v["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["delay_seconds"].as_i64().unwrap())
        .collect();
    assert_eq!(delays, [2, 68, -40, -10]);
    let kinds: Vec<&str> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["clock_skew", "clock_skew"]);
}

#[test]
fn verify_diagnoses_the_subject_tag() {
    let out = stdout(&monban(
        &[
            "--zone",
            &path(ZONE),
            "analyze",
            "--verify",
            "--at",
            AT,
            "--authserv-id",
            "mx.test",
            &path("examples/messages/via-mailing-list.eml"),
        ],
        None,
    ));
    assert!(out.contains("Verification by monban"), "{out}");
    assert!(out.contains("DKIM d=example.com: fail"), "{out}");
    assert!(
        out.contains("confirmed: a [lunch-club] tag was added to the Subject"),
        "{out}"
    );
    assert!(
        out.contains("Authentication-Results: mx.test; dkim=fail"),
        "{out}"
    );

    let v = json(&[
        "--zone",
        &path(ZONE),
        "analyze",
        "--verify",
        "--at",
        AT,
        &path("examples/messages/via-mailing-list.eml"),
    ]);
    let d = &v["dkim_signatures"][0]["diagnosis"];
    assert_eq!(d["body_hash_matches"], true);
    assert_eq!(d["header_signature_verifies"], false);
    assert!(
        d["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "subject_tag" && f["confirmed"] == true),
        "{d}"
    );
    assert_eq!(v["verification"]["dkim"][0]["result"], "fail");
    assert_eq!(v["verification"]["dmarc"]["result"], "fail");
}

#[test]
fn verify_marks_differences_from_the_record() {
    let file = path("crates/monban-diag/testdata/analyze/mailing-list.eml");
    let v = json(&[
        "--zone",
        &path(ZONE),
        "analyze",
        "--verify",
        "--at",
        AT,
        &file,
    ]);
    let ver = &v["verification"];
    // dkim and dmarc at two hops, and the ARC chain the last hop recorded as pass.
    assert_eq!(ver["differences"], 5);
    assert_eq!(ver["envelope"]["ip"], "192.0.2.150");
    let kinds: Vec<&str> = v["dkim_signatures"][0]["diagnosis"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"footer_appended") && kinds.contains(&"subject_tag"),
        "{kinds:?}"
    );
    let out = stdout(&monban(
        &[
            "--zone",
            &path(ZONE),
            "analyze",
            "--verify",
            "--at",
            AT,
            &file,
        ],
        None,
    ));
    assert!(out.contains("DIFFERS"), "{out}");
    assert!(
        out.contains("5 difference(s) from the recorded results"),
        "{out}"
    );
    assert!(out.contains("a footer of 3 line(s) was appended"), "{out}");
}

#[test]
fn verify_agrees_with_gmail() {
    let v = json(&[
        "--zone",
        &path(ZONE),
        "analyze",
        "--verify",
        "--at",
        AT,
        &path("crates/monban-diag/testdata/analyze/gmail.eml"),
    ]);
    assert_eq!(v["verification"]["differences"], 0);
    assert_eq!(v["verification"]["spf"]["result"], "pass");
}

#[test]
fn reads_standard_input() {
    let msg =
        std::fs::read(root().join("crates/monban-diag/testdata/analyze/outlook.eml")).unwrap();
    let o = monban(&["analyze", "--json", "-"], Some(&msg));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["hops"].as_array().unwrap().len(), 4);
    assert_eq!(v["hops"][0]["with"], "Microsoft SMTP Server");
    assert!(v["authentication_results"][0]["authserv_id"].is_null());
    assert_eq!(v["file"], "-");
}

#[test]
fn hostile_text_never_reaches_the_terminal_raw() {
    let msg = b"Received: from evil\x1b[2J.example by mx.example.net; Sun, 22 Nov 2026 01:00:00 +0000\r\nFrom: \"\x1b]0;owned\x07\" <a@example.com>\r\nSubject: \x1b[31mred\r\n\r\nhi\r\n";
    let out = stdout(&monban(&["analyze", "--color", "never", "-"], Some(msg)));
    assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");
    assert!(out.contains("mx.example.net"));
}

#[test]
fn errors_and_exit_status() {
    let o = monban(&["analyze", "/nonexistent/message.eml"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).starts_with("monban: "));
    // --authserv-id belongs to --verify.
    let o = monban(
        &["analyze", "--authserv-id", "x", "-"],
        Some(b"From: a@b.example\r\n\r\n"),
    );
    assert_eq!(o.status.code(), Some(2));
    // A folder is not a message.
    let o = monban(&["analyze", &path("examples")], None);
    assert_eq!(o.status.code(), Some(2));
    // An empty input is no message.
    let o = monban(&["analyze", "-"], Some(b""));
    assert_eq!(o.status.code(), Some(1));
    // A bad zone file with --verify.
    let o = monban(
        &["--zone", "/nonexistent.zone", "analyze", "--verify", "-"],
        Some(b"From: a@b.example\r\n\r\n"),
    );
    assert_eq!(o.status.code(), Some(1));
    // The envelope flags are checked as verify checks them, in its words.
    for (flag, value, says) in [
        (
            "--ip",
            "300.1.1.1",
            "--ip \"300.1.1.1\" is not an IPv4 or IPv6 address",
        ),
        (
            "--helo",
            "two words",
            "--helo \"two words\" must be a host name",
        ),
        (
            "--mail-from",
            "nobody",
            "--mail-from \"nobody\" is not an address",
        ),
    ] {
        let o = monban(
            &["analyze", "--verify", flag, value, "-"],
            Some(b"From: a@b.example\r\n\r\n"),
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flag}: {err}");
        assert!(err.contains(says), "{flag}: {err}");
    }
}
