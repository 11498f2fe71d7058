//! `monban report send` (issue 11) end to end: reports generated from recorded
//! evaluations go through a real SMTP server on loopback (Postfix's `smtp-sink`,
//! dumping what it receives), DKIM-signed so that they pass DMARC aligned; the
//! delivered attachment is read back by parsedmarc. Then the failure paths: a
//! destination that refuses is suppressed, a relay that is down is retried later, the
//! per-destination rate limit defers, and nothing is sent twice.

mod common;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use common::reports::parsedmarc;
use common::sink::Sink;
use common::{Dir, free_port};

fn zone() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/reports/report.zone")
        .display()
        .to_string()
}

fn ok(out: &std::process::Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The receiver's own domain: its DKIM key (made here) and DMARC policy.
fn receiver_zone(dir: &Dir) -> (String, String) {
    let keys = dir.0.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    ok(&common::run(
        &[
            "keygen",
            "--domain",
            "receiver.example",
            "--selector",
            "r1",
            "--algorithm",
            "ed25519",
            "--out",
            keys.to_str().unwrap(),
        ],
        b"",
        &[],
    ));
    let record = std::fs::read_to_string(keys.join("r1.txt")).unwrap();
    let zone = dir.file(
        "receiver.zone",
        format!("$TTL 300\n{record}\n_dmarc.receiver.example. IN TXT \"v=DMARC1; p=reject\"\n")
            .as_bytes(),
    );
    (zone, keys.join("r1.private").display().to_string())
}

/// A fresh folder and store, and the receiver's zone and key: (folder, store URL,
/// zone file, key file).
fn receiving(name: &str) -> (Dir, String, String, String) {
    let dir = Dir::new(name);
    let store = format!("sqlite:{}", dir.0.join("monban.db").display());
    let (zone, key) = receiver_zone(&dir);
    (dir, store, zone, key)
}

/// Records `n` messages from `from` sent by `ip` on day `at` (Unix seconds).
fn record(dir: &Dir, store: &str, from: &str, ip: &str, at: &str, n: usize) {
    // Each call another message (verifying the same one again records nothing twice).
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = dir.file(
        &format!("{from}-{ip}-{call}.eml"),
        format!("From: {from}\r\nSubject: hi\r\nMessage-ID: <{ip}.{call}@t>\r\n\r\nHi.\r\n")
            .as_bytes(),
    );
    let zone = zone();
    let mut args = vec![
        "verify",
        "--zone",
        &zone,
        "--record",
        "--store",
        store,
        "--at",
        at,
        "--ip",
        ip,
        "--mail-from",
        from,
        "--helo",
        "mta.sender.example",
    ];
    for _ in 0..n {
        args.push(&file);
    }
    ok(&common::run(&args, b"", &[]));
}

/// Records `n` messages forged as failing.example (whose policy asks for failure
/// reports) from a host its SPF does not allow.
fn forged(dir: &Dir, store: &str, at: &str, n: usize) {
    record(dir, store, "ceo@failing.example", "203.0.113.9", at, n);
}

fn generate(store: &str, date: &str, out: &Path) -> serde_json::Value {
    common::reports::generate(store, "Receiver", date, out)
}

/// A fresh store with two reports for other.example (two days): two deliveries to
/// one destination.
fn two_reports(name: &str) -> (Dir, String) {
    let dir = Dir::new(name);
    let store = format!("sqlite:{}", dir.0.join("monban.db").display());
    let (day0, day1) = (day(2), day(1));
    record(&dir, &store, "a@other.example", "198.51.100.7", &day0.at, 1);
    record(&dir, &store, "a@other.example", "198.51.100.7", &day1.at, 1);
    let out = dir.0.join("out");
    generate(&store, &day0.date, &out);
    generate(&store, &day1.date, &out);
    (dir, store)
}

fn statuses(r: &serde_json::Value) -> Vec<String> {
    r["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["status"].as_str().unwrap().to_owned())
        .collect()
}

fn send(store: &str, zones: &[&str], port: u16, key: &str, extra: &[&str]) -> serde_json::Value {
    let smtp = format!("127.0.0.1:{port}");
    let mut args = vec![];
    for z in zones {
        args.extend(["--zone", z]);
    }
    args.extend([
        "report",
        "send",
        "--store",
        store,
        "--smtp",
        &smtp,
        "--starttls",
        "never",
        "--from",
        "dmarc-reports@receiver.example",
        "--dkim-domain",
        "receiver.example",
        "--dkim-selector",
        "r1",
        "--dkim-key",
        key,
        "--json",
    ]);
    args.extend(extra);
    let out = common::run(&args, b"", &[]);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    // Exit 1 when a delivery of the run waits for a retry (the JSON is printed all the
    // same); 0 when all went, failed for good (named) or wait as planned (deferred).
    let undelivered = statuses(&r).iter().any(|s| s == "retry");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(i32::from(undelivered)),
        "{r} {stderr}"
    );
    assert_eq!(
        undelivered,
        stderr.contains("will be retried on a later run")
            || stderr.contains("wait for a later run"),
        "{stderr}"
    );
    r
}

/// The gzip attachment of a report message (base64 after the attachment's headers).
fn attachment(message: &str) -> (String, Vec<u8>) {
    let at = message
        .find("Content-Disposition: attachment; filename=\"")
        .expect("an attachment");
    let rest = &message[at + "Content-Disposition: attachment; filename=\"".len()..];
    let name = rest[..rest.find('"').unwrap()].to_owned();
    let body_start = rest.find("\n\n").or_else(|| rest.find("\r\n\r\n")).unwrap();
    let b64: String = rest[body_start..]
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.starts_with("--"))
        .collect();
    (
        name,
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
}

/// An SMTP server on loopback that answers every RCPT with `reply` (sessions served
/// one after another, for the life of the test).
fn refusing_smtp_server(reply: &'static str) -> u16 {
    smtp_server("250 2.1.0 ok", reply)
}

/// An SMTP server on loopback that answers MAIL with `mail` and every RCPT with `rcpt`
/// (sessions served one after another, for the life of the test).
fn smtp_server(mail: &'static str, rcpt: &'static str) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut out = conn.try_clone().unwrap();
            let mut lines = BufReader::new(conn);
            let _ = out.write_all(b"220 refusing.test ESMTP\r\n");
            let mut line = String::new();
            while lines.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                let answer = match verb.as_str() {
                    "EHLO" | "HELO" => "250 refusing.test".to_owned(),
                    "MAIL" => mail.to_owned(),
                    "RCPT" => rcpt.to_owned(),
                    "QUIT" => "221 2.0.0 bye".to_owned(),
                    _ => "250 2.0.0 ok".to_owned(),
                };
                let _ = out.write_all(format!("{answer}\r\n").as_bytes());
                if verb == "QUIT" {
                    break;
                }
                line.clear();
            }
        }
    });
    port
}

/// A day `back` days before today (UTC), as 10:00 that day in Unix seconds and as
/// `YYYY-MM-DD`.
///
/// The days are taken from the clock, not fixed: `report send` gives up reports older
/// than it keeps trying (3 days for failure reports, 14 for aggregate ones, RFC 9990
/// §3.2), so a fixed date makes these tests fail once it is that old.
struct Day {
    at: String,
    date: String,
}

fn day(back: i64) -> Day {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    day_at(now.div_euclid(86_400) - back)
}

/// The day `days` days after 1970-01-01.
fn day_at(days: i64) -> Day {
    let (y, m, d) = monban::rfc5322::datetime::civil_from_days(days);
    Day {
        at: (days * 86_400 + 10 * 3600).to_string(),
        date: format!("{y:04}-{m:02}-{d:02}"),
    }
}

#[test]
fn the_test_days_are_real_dates() {
    // The conversion above, checked against the date the other tests were written on.
    let d = day_at(1_795_946_400 / 86_400);
    assert_eq!(
        (d.at.as_str(), d.date.as_str()),
        ("1795946400", "2026-11-29")
    );
    assert_eq!(day_at(11_016).date, "2000-02-29");
}

#[test]
fn reports_are_delivered_signed_aligned_and_read_back_by_parsedmarc() {
    let (dir, store, receiver_zone, key) = receiving("report-send");
    let day1 = day(1);
    record(&dir, &store, "a@example.com", "192.0.2.10", &day1.at, 3);
    record(&dir, &store, "a@other.example", "198.51.100.7", &day1.at, 2);
    let out = dir.0.join("out");
    let generated = generate(&store, &day1.date, &out);
    assert_eq!(generated["reports"].as_array().unwrap().len(), 2);
    let sink = Sink::start(&dir.0.join("sink"), &[]);
    let zone = zone();
    let sent = send(&store, &[&zone, &receiver_zone], sink.port, &key, &[]);
    // example.com asks for two destinations: its own, and reports.example.net, which
    // agrees by its _report._dmarc record; other.example for one.
    assert_eq!(sent["sent"], 3, "{sent}");
    assert_eq!(sent["failed"], 0, "{sent}");
    let messages = sink.whole_messages(3);
    assert_eq!(messages.len(), 3);
    let mut report_files = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        // smtp-sink adds its own lines above the message; they are not signed.
        let msg = m[m.find("DKIM-Signature:").expect("signed")..].to_owned();
        assert!(msg.contains("Auto-Submitted: auto-generated"));
        let subject_id = msg
            .split("Report-ID: <")
            .nth(1)
            .and_then(|s| s.split('>').next())
            .unwrap()
            .to_owned();
        // DKIM passes for receiver.example and DMARC passes aligned.
        let v = common::run(
            &["--zone", &receiver_zone, "verify", "--json", "-"],
            msg.as_bytes(),
            &[],
        );
        let v: serde_json::Value = serde_json::from_str(&ok(&v)).unwrap();
        assert_eq!(v["dkim"][0]["result"], "pass", "{v}");
        assert_eq!(v["dkim"][0]["domain"], "receiver.example", "{v}");
        assert_eq!(v["dmarc"]["result"], "pass", "{v}");
        // The attachment is the generated report, under the same name and ID.
        let (name, gz) = attachment(&msg);
        assert!(name.ends_with(&format!("!{subject_id}.xml.gz")), "{name}");
        assert!(
            generated["reports"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["report_id"] == subject_id.as_str()),
            "{subject_id}"
        );
        let path = dir.0.join(format!("delivered-{i}.xml.gz"));
        std::fs::write(&path, gz).unwrap();
        // What arrived is valid RFC 9990 XML.
        common::reports::assert_valid_rfc9990(&common::reports::gunzip(&path), &dir.0);
        report_files.push(path);
    }
    let parsed = parsedmarc(&report_files);
    let total: u64 = parsed.iter().map(|p| p["messages"].as_u64().unwrap()).sum();
    assert_eq!(
        total,
        3 + 3 + 2,
        "example.com's report went twice: {parsed:?}"
    );
    // Sent once: nothing is due any more.
    let again = send(&store, &[&zone, &receiver_zone], sink.port, &key, &[]);
    assert_eq!(again["deliveries"].as_array().unwrap().len(), 0, "{again}");
    assert_eq!(sink.messages().len(), 3);
}

/// A report of the day still running (`generate --date` today) is not sent before the
/// day is over: sent at once, it stood for the whole day, and the mail after it was
/// never reported (the day generated again kept the sent report). Generated again once
/// the day is over, it is sent with every message of the day.
#[test]
fn a_report_of_a_day_not_over_waits_for_its_end() {
    let (dir, store, receiver_zone, key) = receiving("report-send-today");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // All from one reading of the clock, so that midnight passing during the test
    // changes nothing.
    let today = day_at((now / 86_400) as i64);
    let recorded_at = now.to_string();
    record(
        &dir,
        &store,
        "a@other.example",
        "198.51.100.7",
        &recorded_at,
        1,
    );
    let out = dir.0.join("out");
    let generated = generate(&store, &today.date, &out);
    let end = generated["end"].as_u64().unwrap();
    assert_eq!(
        generated["sent_from"].as_u64(),
        Some(end + 1 + monban_store::REGENERATE_GRACE as u64),
        "{generated}"
    );
    let sink = Sink::start(&dir.0.join("sink"), &[]);
    let zone = zone();
    let zones = [zone.as_str(), receiver_zone.as_str()];
    let r = send(&store, &zones, sink.port, &key, &["--at", &recorded_at]);
    assert!(statuses(&r).is_empty(), "sent before its day was over: {r}");
    // More mail the same day; the day generated again holds both messages.
    let later = (now + 1).min(end).to_string();
    record(&dir, &store, "a@other.example", "198.51.100.8", &later, 1);
    let generated = generate(&store, &today.date, &out);
    assert_eq!(generated["reports"][0]["messages"], 2, "{generated}");
    // Not regenerated after the day: sent as it is an hour after the day's end (the
    // regeneration's time), whether the second generate ran before midnight or after.
    let after = (end + 1 + monban_store::REGENERATE_GRACE as u64).to_string();
    let r = send(&store, &zones, sink.port, &key, &["--at", &after]);
    assert_eq!(statuses(&r), ["sent"], "{r}");
    assert_eq!(sink.messages().len(), 1);
}

/// generate and send work on a store that exists: a mistyped path was a new, empty
/// store and "nothing to do", exit 0.
#[test]
fn generate_and_send_refuse_a_store_that_does_not_exist() {
    let dir = Dir::new("report-send-no-store");
    let missing = format!("sqlite:{}", dir.0.join("typo.db").display());
    for args in [
        vec![
            "report",
            "generate",
            "--store",
            &missing,
            "--org-name",
            "R",
            "--email",
            "r@receiver.example",
            "--out",
            "out",
        ],
        vec![
            "report",
            "send",
            "--store",
            &missing,
            "--smtp",
            "127.0.0.1:1",
            "--from",
            "r@receiver.example",
            "--unsigned",
        ],
    ] {
        let out = common::run(&args, b"", &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("no store at"), "{stderr}");
        assert!(
            !dir.0.join("typo.db").exists(),
            "{args:?} created the store"
        );
    }
}

#[test]
fn refusals_retries_and_the_rate_limit() {
    let (dir, store) = two_reports("report-send-down");
    let (receiver_zone, key) = receiver_zone(&dir);
    let zone = zone();
    let zones = [zone.as_str(), receiver_zone.as_str()];

    // The relay is down: both are retried later, not lost.
    let down = free_port();
    let r = send(&store, &zones, down, &key, &[]);
    assert_eq!(statuses(&r), ["retry", "retry"], "{r}");
    // Not due again yet (backoff).
    let r = send(&store, &zones, down, &key, &[]);
    assert!(statuses(&r).is_empty(), "{r}");

    // A relay that refuses with a generic error (smtp-sink -f: 500 5.3.0): given up,
    // but that says nothing about the destination, which is not suppressed.
    let (dir2, store2) = two_reports("report-send-refused");
    let refusing = Sink::start(&dir2.0.join("refusing"), &["-f", "RCPT"]);
    let r = send(&store2, &zones, refusing.port, &key, &[]);
    assert_eq!(statuses(&r), ["failed", "failed"], "{r}");
    assert!(
        r["deliveries"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("refused")
    );

    // A destination refused as an address (550 5.1.1 at RCPT): given up and suppressed
    // for a while; the second report waits.
    let (_dir4, store4) = two_reports("report-send-unknown-user");
    let port = refusing_smtp_server("550 5.1.1 <dmarc@other.example>: no such user");
    let r = send(&store4, &zones, port, &key, &[]);
    assert_eq!(statuses(&r), ["failed", "deferred"], "{r}");
    assert!(
        r["deliveries"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("no such user")
    );
    assert!(
        r["deliveries"][1]["detail"]
            .as_str()
            .unwrap()
            .contains("suppressed"),
        "{r}"
    );

    // The rate limit: one report per hour to a destination.
    let (dir3, store3) = two_reports("report-send-rate");
    let sink = Sink::start(&dir3.0.join("sink"), &[]);
    let r = send(&store3, &zones, sink.port, &key, &["--max-per-hour", "1"]);
    assert_eq!(statuses(&r), ["sent", "deferred"], "{r}");
    assert_eq!(sink.messages().len(), 1);
}

/// A trial's F2: a relay that refuses the reporter (here its sender at MAIL FROM, as a
/// submission relay answers a wrong --from) blames no destination: the reports wait,
/// nothing is suppressed, and the run exits 1 naming the relay's answer. Once the
/// relay is fixed they go.
#[test]
fn a_relay_that_refuses_the_sender_blames_no_destination() {
    let (dir, store) = two_reports("report-send-553mail");
    let (receiver_zone, key) = receiver_zone(&dir);
    let zone = zone();
    let zones = [zone.as_str(), receiver_zone.as_str()];
    let port = smtp_server(
        "553 5.7.1 <dmarc-reports@receiver.example>: Sender address rejected: not owned by user",
        "250 2.1.5 ok",
    );
    let r = send(&store, &zones, port, &key, &[]);
    assert_eq!(statuses(&r), ["retry", "retry"], "{r}");
    let trouble = r["relay_trouble"].as_str().unwrap();
    assert!(
        trouble.contains("553") && trouble.contains("Sender address rejected"),
        "{r}"
    );
    assert!(trouble.contains("MAIL FROM"), "{r}");
    // The relay fixed, an hour later: both go (no destination was suppressed).
    let sink = Sink::start(&dir.0.join("sink"), &[]);
    let later = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600)
        .to_string();
    let r = send(&store, &zones, sink.port, &key, &["--at", &later]);
    assert_eq!(statuses(&r), ["sent", "sent"], "{r}");
    assert_eq!(sink.whole_messages(2).len(), 2);
}

/// A trial's F15: a day generated again after its report was sent keeps that report,
/// and said so with the figures of the new one; the mail recorded since (archived
/// mail, a journal drained late) was in no report and nothing said so.
#[test]
fn a_sent_report_is_described_by_its_own_figures_and_late_mail_is_counted() {
    let (dir, store) = two_reports("report-send-late");
    let (receiver_zone, key) = receiver_zone(&dir);
    let zone = zone();
    let sink = Sink::start(&dir.0.join("sink"), &[]);
    let r = send(&store, &[&zone, &receiver_zone], sink.port, &key, &[]);
    assert_eq!(statuses(&r), ["sent", "sent"], "{r}");
    let day1 = day(1);
    record(&dir, &store, "a@other.example", "198.51.100.7", &day1.at, 4);
    let g = generate(&store, &day1.date, &dir.0.join("out"));
    let report = &g["reports"][0];
    assert_eq!(report["status"], "already_sent", "{g}");
    assert_eq!(report["messages"], 1, "{g}");
    assert_eq!(report["left_out"], 4, "{g}");
}

/// Usage errors (exit 2) before any store or delivery is touched: unsigned reports
/// unless asked, and (a trial's F12) a --from SMTP cannot carry, which used to fail
/// every report for good and exit 0.
#[test]
fn report_send_refuses_to_send_unsigned_unless_asked() {
    let dir = Dir::new("report-send-usage");
    let store = format!("sqlite:{}", dir.0.join("m.db").display());
    for (extra, from, says) in [
        (None, "d@receiver.example", "DKIM"),
        (
            Some("--unsigned"),
            "dmarc reports@receiver.example",
            "--from",
        ),
    ] {
        let mut args = vec![
            "report",
            "send",
            "--store",
            &store,
            "--smtp",
            "127.0.0.1:25",
            "--from",
            from,
        ];
        args.extend(extra);
        let o = common::run(&args, b"", &[]);
        assert_eq!(o.status.code(), Some(2), "{o:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains(says), "{o:?}");
    }
}

#[test]
fn failure_reports_are_made_when_fo_asks_and_sent_redacted() {
    let (dir, store, receiver_zone, key) = receiving("report-send-failure");
    // Forged mail from a host SPF does not allow: failing.example asks for failure
    // reports (fo=1), psd.example is a public suffix domain's record (never).
    let day1 = day(1);
    forged(&dir, &store, &day1.at, 2);
    record(&dir, &store, "ceo@psd.example", "203.0.113.9", &day1.at, 1);
    let sink = Sink::start(&dir.0.join("sink"), &[]);
    let zone = zone();
    let sent = send(&store, &[&zone, &receiver_zone], sink.port, &key, &[]);
    assert_eq!(sent["sent"], 2, "{sent}");
    let messages = sink.whole_messages(2);
    assert_eq!(messages.len(), 2);
    for m in &messages {
        assert!(m.contains("X-Rcpt-Args: <ruf@failing.example>"), "{m}");
        let msg = &m[m.find("DKIM-Signature:").expect("signed")..];
        for want in [
            "Content-Type: multipart/report; report-type=feedback-report",
            "Feedback-Type: auth-failure",
            "Auth-Failure: dmarc",
            "Identity-Alignment: none",
            "Reported-Domain: failing.example",
            "Source-IP: 203.0.113.9",
            "Original-Mail-From: <redacted@failing.example>",
            "SPF-DNS: txt : failing.example : \"v=spf1 ip4:198.51.100.0/24 -all\"",
            "Content-Type: text/rfc822-headers",
            "From: redacted@failing.example",
            "Auto-Submitted: auto-generated",
        ] {
            assert!(msg.contains(want), "no {want:?} in\n{msg}");
        }
        assert!(!msg.contains("ceo@"), "a local part leaked:\n{msg}");
        // Signed and aligned like the aggregate reports.
        let v = common::run(
            &["--zone", &receiver_zone, "verify", "--json", "-"],
            msg.as_bytes(),
            &[],
        );
        let v: serde_json::Value = serde_json::from_str(&ok(&v)).unwrap();
        assert_eq!(v["dmarc"]["result"], "pass", "{v}");
    }
}

/// The hourly limit of failure reports per destination (10) holds across processes: a
/// script running `verify --record` once per message made a report per message.
#[test]
fn failure_reports_are_limited_across_runs() {
    let (dir, store, receiver_zone, key) = receiving("report-send-failure-runs");
    let day1 = day(1);
    for _ in 0..2 {
        forged(&dir, &store, &day1.at, 8);
    }
    let sink = Sink::start(&dir.0.join("sink"), &[]);
    let zone = zone();
    let sent = send(&store, &[&zone, &receiver_zone], sink.port, &key, &[]);
    assert_eq!(sent["sent"], 10, "{sent}");
}
