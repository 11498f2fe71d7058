//! `monban report generate` (issue 11): evaluations recorded with `monban verify
//! --record` become RFC 9990 aggregate reports that validate against the RFC's XSD
//! (xmllint) and that parsedmarc reads with the same counts.

mod common;

use std::path::{Path, PathBuf};

use common::Dir;
use common::reports::{assert_valid_rfc9990, gunzip, parsedmarc};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// 2026-11-29 10:00:00 UTC.
const AT: &str = "1795946400";
const DAY: &str = "2026-11-29";

fn message(from: &str, subject: &str) -> String {
    format!(
        "From: {from}\r\nTo: bob@receiver.example\r\nSubject: {subject}\r\n\
         Date: Sun, 29 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{}@test>\r\n\r\nHello.\r\n",
        from.replace('@', ".")
    )
}

/// Records `n` copies of a message from `from` sent by `ip` (none: no --ip).
fn record(dir: &Dir, store: &str, from: &str, ip: Option<&str>, subject: &str, n: usize) {
    let file = dir.file(
        &format!("{}-{}.eml", from.replace('@', "_"), ip.unwrap_or("noip")),
        message(from, subject).as_bytes(),
    );
    let zone = root().join("tests/data/reports/report.zone");
    let mut args = vec![
        "verify".to_owned(),
        "--zone".into(),
        zone.to_str().unwrap().into(),
        "--record".into(),
        "--store".into(),
        store.into(),
        "--at".into(),
        AT.into(),
    ];
    if let Some(ip) = ip {
        let envelope = [
            "--ip",
            ip,
            "--mail-from",
            from,
            "--helo",
            "mta.sender.example",
        ];
        args.extend(envelope.map(String::from));
    }
    for _ in 0..n {
        args.push(file.clone());
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = common::run(&a, b"", &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn generate(store: &str, out: &Path) -> serde_json::Value {
    common::reports::generate(store, "Receiver & 門番", DAY, out)
}

#[test]
fn a_day_of_evaluations_becomes_valid_reports_that_parsedmarc_reads_alike() {
    let dir = Dir::new("report-generate");
    let store = format!("sqlite:{}", dir.0.join("monban.db").display());
    // example.com: aligned passes from two sources (one a subdomain without its own
    // record), and a failure that p=reject rejected.
    record(&dir, &store, "a@example.com", Some("192.0.2.10"), "hi", 3);
    record(
        &dir,
        &store,
        "x@sub.example.com",
        Some("192.0.2.11"),
        "hi",
        2,
    );
    record(&dir, &store, "a@example.com", Some("203.0.113.9"), "hi", 1);
    // other.example: passes, and a softfail under p=none.
    record(
        &dir,
        &store,
        "a@other.example",
        Some("198.51.100.7"),
        "hi",
        2,
    );
    record(&dir, &store, "a@other.example", Some("192.0.2.99"), "hi", 1);
    // No report: only rejected mail; no rua; only report mail; no client IP.
    record(
        &dir,
        &store,
        "s@spam.example",
        Some("203.0.113.50"),
        "hi",
        2,
    );
    record(&dir, &store, "n@norua.example", Some("192.0.2.77"), "hi", 1);
    record(
        &dir,
        &store,
        "d@reporter.example",
        Some("203.0.113.5"),
        "Report Domain: example.com Submitter: reporter.example Report-ID: <1>",
        1,
    );
    record(&dir, &store, "a@example.com", None, "hi", 1);
    // A hostile rua: 30 URIs, other schemes, an over-long name, two @.
    record(
        &dir,
        &store,
        "a@hostile.example",
        Some("192.0.2.12"),
        "hi",
        1,
    );

    let out = dir.0.join("out");
    let summary = generate(&store, &out);
    let reports = summary["reports"].as_array().unwrap();
    let by_domain = |d: &str| {
        reports
            .iter()
            .find(|r| r["domain"] == d)
            .unwrap_or_else(|| panic!("no report for {d}: {summary}"))
    };
    assert_eq!(reports.len(), 3, "{summary}");
    // Only the first 10 URIs are read; of those, the 6 usable mailto: ones are kept
    // and the others named with a reason.
    let hostile = by_domain("hostile.example");
    let rua: Vec<&str> = hostile["rua"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert_eq!(rua.len(), 6, "{hostile}");
    assert_eq!(rua[0], "mailto:ok@hostile.example");
    assert_eq!(
        hostile["ignored_rua"].as_array().unwrap().len(),
        4,
        "{hostile}"
    );
    let ex = by_domain("example.com");
    assert_eq!(
        (ex["records"].as_u64(), ex["messages"].as_u64()),
        (Some(3), Some(6))
    );
    let other = by_domain("other.example");
    assert_eq!(
        (other["records"].as_u64(), other["messages"].as_u64()),
        (Some(2), Some(3))
    );
    let skipped: Vec<&str> = summary["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["domain"].as_str().unwrap())
        .collect();
    for d in ["spam.example", "norua.example", "reporter.example"] {
        assert!(skipped.contains(&d), "{d} not skipped: {summary}");
    }
    assert_eq!(summary["messages_without_ip"], 1);

    // The file name carries the Report-ID of the XML (RFC 9990 §3.2.1.1).
    let mut files = Vec::new();
    for r in reports {
        let file = PathBuf::from(r["file"].as_str().unwrap());
        let name = file.file_name().unwrap().to_str().unwrap().to_owned();
        let id = r["report_id"].as_str().unwrap();
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
        assert_eq!(
            name,
            format!(
                "receiver.example!{}!1795910400!1795996799!{id}.xml.gz",
                r["domain"].as_str().unwrap()
            )
        );
        let xml = gunzip(&file);
        assert!(xml.contains(&format!("<report_id>{id}</report_id>")));
        assert!(xml.contains("xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\""));
        assert_valid_rfc9990(&xml, &dir.0);
        files.push(file);
    }

    // parsedmarc reads the same reports, records and counts.
    let parsed = parsedmarc(&files);
    assert_eq!(parsed.len(), 3);
    for p in &parsed {
        let ours = reports
            .iter()
            .find(|r| r["report_id"] == p["report_id"])
            .unwrap();
        assert_eq!(p["domain"], ours["domain"]);
        assert_eq!(p["messages"], ours["messages"]);
        assert_eq!(p["org_name"], "Receiver & 門番");
        assert_eq!(
            p["records"].as_array().unwrap().len() as u64,
            ours["records"].as_u64().unwrap()
        );
    }
    let ex = parsed
        .iter()
        .find(|p| p["domain"] == "example.com")
        .unwrap();
    let rec = |ip: &str| {
        ex["records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["ip"] == ip)
            .unwrap_or_else(|| panic!("no record for {ip}: {ex}"))
            .clone()
    };
    let r = rec("192.0.2.10");
    assert_eq!(
        (r["count"].as_u64(), r["disposition"].as_str()),
        (Some(3), Some("pass"))
    );
    assert_eq!(
        r["spf_results"][0],
        serde_json::json!(["example.com", "mfrom", "pass"])
    );
    let r = rec("192.0.2.11");
    assert_eq!(r["header_from"], "sub.example.com");
    assert_eq!(r["count"], 2);
    let r = rec("203.0.113.9");
    assert_eq!(
        (r["count"].as_u64(), r["disposition"].as_str()),
        (Some(1), Some("reject"))
    );
    assert_eq!(
        (r["dkim"].as_str(), r["spf"].as_str()),
        (Some("fail"), Some("fail"))
    );

    // The same day again: the same Report-IDs, the reports replaced while unsent.
    let again = generate(&store, &out);
    for r in again["reports"].as_array().unwrap() {
        assert_eq!(r["status"], "regenerated");
        assert!(reports.iter().any(|o| o["report_id"] == r["report_id"]));
    }
}

/// A trial's F16: a client seen as an IPv4-mapped IPv6 address (a milter on a
/// dual-stack socket) was reported as `::ffff:a.b.c.d`, a record apart from the same
/// host seen as IPv4. It is recorded and reported as IPv4.
#[test]
fn an_ipv4_mapped_client_is_reported_as_ipv4() {
    let dir = Dir::new("report-generate-mapped");
    let store = format!("sqlite:{}", dir.0.join("m.db").display());
    for ip in ["::ffff:198.51.100.7", "198.51.100.7"] {
        record(&dir, &store, "a@other.example", Some(ip), "hi", 1);
    }
    let out = dir.0.join("out");
    let r = generate(&store, &out);
    let report = &r["reports"][0];
    assert_eq!(report["domain"], "other.example", "{r}");
    assert_eq!(
        (report["records"].as_u64(), report["messages"].as_u64()),
        (Some(1), Some(2)),
        "{r}"
    );
    let xml = gunzip(&out.join(report["file"].as_str().unwrap()));
    assert!(xml.contains("<source_ip>198.51.100.7</source_ip>"), "{xml}");
}

/// A trial's F9: each of a forged message's signatures past the 5 evaluated was
/// reported with its attacker-chosen selector and no result, so that every message
/// made a record of its own with up to 100 `<dkim>` rows (a victim's daily report grew
/// past mailbox limits). Signatures not evaluated are left out of the report: two
/// messages alike but for them are one record of 5 results.
#[test]
fn signatures_not_evaluated_neither_split_nor_grow_records() {
    let dir = Dir::new("report-generate-unevaluated");
    let store = format!("sqlite:{}", dir.0.join("m.db").display());
    let zone = root().join("tests/data/reports/report.zone");
    for n in 0..2 {
        let mut msg = String::new();
        for s in (1..=5)
            .map(|i| format!("s{i}"))
            .chain([format!("x{n}a"), format!("x{n}b")])
        {
            msg.push_str(&format!(
                "DKIM-Signature: v=1; a=rsa-sha256; d=other.example; s={s}; h=from; bh=AAAA; b=AAAA\r\n"
            ));
        }
        msg.push_str(&message("a@other.example", "hi"));
        let file = dir.file(&format!("m{n}.eml"), msg.as_bytes());
        let out = common::run(
            &[
                "verify",
                "--zone",
                zone.to_str().unwrap(),
                "--record",
                "--store",
                &store,
                "--at",
                AT,
                "--ip",
                "198.51.100.7",
                "--helo",
                "mta.sender.example",
                &file,
            ],
            b"",
            &[],
        );
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }
    let out = dir.0.join("out");
    let r = generate(&store, &out);
    let report = &r["reports"][0];
    assert_eq!(
        (report["records"].as_u64(), report["messages"].as_u64()),
        (Some(1), Some(2)),
        "{r}"
    );
    let xml = gunzip(&out.join(report["file"].as_str().unwrap()));
    assert_eq!(xml.matches("<selector>").count(), 5, "{xml}");
    assert!(!xml.contains("<selector>x0a</selector>"), "{xml}");
}

/// A trial's F8: forged mail made to look like report mail (Subject `Report Domain:
/// ...`) hid a spoofing campaign from the domain's aggregate report ("only report
/// mail or bounces: never reported"). It fails DMARC, so it counts as mail.
#[test]
fn forged_mail_looking_like_report_mail_is_reported() {
    let dir = Dir::new("report-generate-evade");
    let store = format!("sqlite:{}", dir.0.join("m.db").display());
    let from = "ceo@other.example";
    record(
        &dir,
        &store,
        from,
        Some("203.0.113.66"),
        "Report Domain: wire money",
        3,
    );
    let r = generate(&store, &dir.0.join("out"));
    assert_eq!(r["reports"][0]["domain"], "other.example", "{r}");
    assert_eq!(r["reports"][0]["messages"], 3, "{r}");
}

#[test]
fn report_generate_usage_errors_are_clear() {
    let dir = Dir::new("report-usage");
    let store = format!("sqlite:{}", dir.0.join("m.db").display());
    let out = dir.0.join("out");
    let run = |date: &str, email: &str| {
        common::run(
            &[
                "report",
                "generate",
                "--store",
                &store,
                "--org-name",
                "R",
                "--email",
                email,
                "--date",
                date,
                "--out",
                out.to_str().unwrap(),
            ],
            b"",
            &[],
        )
    };
    let o = run("2026-02-30", "d@r.example");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("YYYY-MM-DD"));
    let o = run("2026-11-29", "no-domain");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--email"));
    let o = run("2999-01-01", "d@r.example");
    assert_eq!(o.status.code(), Some(2));
    // No store yet: an error naming it, and none made (a mistyped path used to become
    // an empty store and "no reports", exit 0).
    let o = run("2026-11-28", "d@r.example");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no store at"));
    assert!(!dir.0.join("m.db").exists());
    // An empty day is not an error.
    record(&dir, &store, "a@example.com", Some("192.0.2.10"), "hi", 1);
    let o = run("2026-11-28", "d@r.example");
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no reports for 2026-11-28"));
    // Empty names are refused.
    let o = common::run(
        &[
            "report",
            "generate",
            "--store",
            &store,
            "--org-name",
            " ",
            "--email",
            "d@r.example",
            "--out",
            out.to_str().unwrap(),
        ],
        b"",
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--org-name"));
}
