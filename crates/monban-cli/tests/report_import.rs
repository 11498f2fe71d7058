//! `monban report import`, `summary` and `advise` (issue 12) as a domain owner runs
//! them: the samples from files and folders, a Maildir moved only after the commit, an
//! mbox, the JSON of DESIGN §4, the exit status when an input fails; and `kill -9` in the
//! middle of a 10,000-report import, then a re-run: every report stored exactly once,
//! on SQLite and on a real PostgreSQL.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Dir;
use monban_report::corpus;
use monban_store::testing::PgServer;
use serde_json::Value;

fn suites() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/suites")
}

fn import(store: &str, inputs: &[&str], extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["report", "import", "--store", store, "--json"];
    args.extend_from_slice(extra);
    args.extend_from_slice(inputs);
    let out = common::run(&args, b"", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let v: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout} {}", String::from_utf8_lossy(&out.stderr)));
    (
        out.status.code().unwrap_or(-1),
        v,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn counts(v: &Value) -> (u64, u64, u64, u64) {
    (
        v["reports_new"].as_u64().unwrap(),
        v["reports_duplicate"].as_u64().unwrap(),
        v["reports_conflicting"].as_u64().unwrap(),
        v["records_new"].as_u64().unwrap(),
    )
}

/// A Maildir holding corpus reports `0..count` in `new` (`N.host:2,`).
fn corpus_maildir(maildir: &Path, count: u64) {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    for n in 0..count {
        std::fs::write(
            maildir.join("new").join(format!("{n}.host:2,")),
            corpus::report_mail(n),
        )
        .unwrap();
    }
}

fn summary(store: &str, extra: &[&str]) -> Value {
    let mut args = vec!["report", "summary", "--store", store, "--json", "--no-rdns"];
    args.extend_from_slice(extra);
    let out = common::run(&args, b"", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn domain_messages(s: &Value) -> std::collections::BTreeMap<String, u64> {
    s["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["domain"].as_str().unwrap().to_string(),
                d["messages"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn samples_import_once_and_failures_are_named() {
    let dir = Dir::new("import-samples");
    let store = format!("sqlite:{}", dir.0.join("m.db").display());
    let s = suites();
    let agg = s.join("parsedmarc-samples/aggregate");
    let tls = s.join("parsedmarc-samples/smtp_tls");
    let failure = s.join("parsedmarc-samples/failure");
    let (code, v, _) = import(
        &store,
        &[
            agg.to_str().unwrap(),
            tls.to_str().unwrap(),
            failure.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{v}");
    // 19 files of aggregate reports (two pairs share an identity with other content:
    // derived test samples), 4 TLS reports, 5 failure reports (two are the same report
    // with LF and CRLF endings).
    assert_eq!(counts(&v), (25, 1, 2, 2308), "{v}");
    assert_eq!(v["failed"], serde_json::json!([]));
    // Again: all duplicates (the conflicting copies again conflict), nothing new.
    let (code, v, _) = import(&store, &[agg.to_str().unwrap()], &[]);
    assert_eq!(code, 0);
    assert_eq!(counts(&v), (0, 17, 2, 0), "{v}");
    // A broken file fails by name; the good one beside it is stored; exit 1.
    let bad = dir.file("cut.xml.gz", &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2]);
    let (code, v, stderr) = import(
        &store,
        &[
            &bad,
            s.join("mail-auth-resources/dmarc-feedback/001.xml")
                .to_str()
                .unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(counts(&v).0, 1, "{v}");
    let failed = v["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{v}");
    assert!(
        failed[0]["source"]
            .as_str()
            .unwrap()
            .ends_with("cut.xml.gz"),
        "{v}"
    );
    assert!(failed[0]["error"].as_str().unwrap().contains("gzip"), "{v}");
    // The summary counts what was stored.
    let sum = summary(&store, &["--domain", "example.com"]);
    let d = &sum["domains"][0];
    assert_eq!(d["domain"], "example.com");
    // parsedmarc's samples count 2,428 for example.com (parsedmarc 11.1 agrees, each
    // report once), mail-auth's 001.xml 123 more.
    assert_eq!(d["messages"].as_u64().unwrap(), 2428 + 123, "{d}");
    for key in [
        "dmarc_pass",
        "dkim_aligned_pass",
        "spf_aligned_pass",
        "reports",
    ] {
        assert!(d[key].is_u64(), "{key}");
    }
    assert!(d["disposition"]["none"].as_u64().unwrap() > 0);
    assert!(!d["reporters"].as_array().unwrap().is_empty());
    let first = &d["sources"][0];
    assert!(
        first["dmarc_fail"].as_u64().unwrap() > 0,
        "failing first: {first}"
    );
    // The TLS reports (RFC 8460) are summarised too: RFC 8460's own example.
    let all = summary(&store, &[]);
    let tls = all["tls"].as_array().unwrap();
    let y = tls
        .iter()
        .find(|t| t["domain"] == "company-y.example")
        .unwrap();
    assert_eq!(
        (y["successful"].as_u64(), y["failed"].as_u64()),
        (Some(5326), Some(303))
    );
    assert_eq!(y["failures"][0]["result_type"], "starttls-not-supported");
    assert_eq!(y["failures"][0]["sessions"], 200);
    // A range that overlaps no report.
    let none = summary(&store, &["--since", "2030-01-01"]);
    assert_eq!(none["domains"], serde_json::json!([]));
    assert_eq!(none["tls"], serde_json::json!([]));
}

#[test]
fn mbox_with_unwrapped_base64_and_from_lines_in_bodies() {
    // A report whose base64 attachment is one 400 KB line (some generators do not wrap),
    // then a message whose body has an escaped `>From ` line, then an empty one.
    use base64::Engine as _;
    use std::io::Write as _;
    let dir = Dir::new("import-longline");
    let store = format!("sqlite:{}", dir.0.join("m.db").display());
    let f = corpus::feedback(999);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    gz.write_all(f.to_xml().as_bytes()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    assert!(b64.len() > 300_000);
    let mbox = format!(
        "From r@x Thu Jan  1 00:00:00 2026\n\
         From: r@reporter.example\nSubject: Report Domain: {d}\n\
         Content-Type: application/gzip; name=\"r.xml.gz\"\nContent-Transfer-Encoding: base64\n\n\
         {b64}\n\n\
         From r@x Thu Jan  1 00:00:00 2026\nSubject: hello\n\n>From the start\nnot a report\n\n",
        d = f.policy.domain
    );
    let path = dir.file("long.mbox", mbox.as_bytes());
    let (code, v, _) = import(&store, &[&path], &[]);
    assert_eq!(code, 1, "the second message is not a report: {v}");
    assert_eq!(counts(&v), (1, 0, 0, f.records.len() as u64), "{v}");
    let failed = v["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]["source"]
            .as_str()
            .unwrap()
            .ends_with("message 2 (line 9)"),
        "{v}"
    );
}

#[test]
fn mbox_and_maildir_with_move_after_commit() {
    let dir = Dir::new("import-mail");
    let store = format!("sqlite:{}", dir.0.join("m.db").display());
    let mbox = dir.0.join("reports.mbox");
    let mut f = std::fs::File::create(&mbox).unwrap();
    corpus::write_mbox(&mut f, 120).unwrap();
    drop(f);
    let (code, v, _) = import(&store, &[mbox.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{v}");
    let records: usize = (0..120).map(corpus::rows_of).sum();
    assert_eq!(counts(&v), (120, 0, 0, records as u64));
    let expected = corpus::expected_messages(120);
    assert_eq!(domain_messages(&summary(&store, &[])), expected);

    // The same reports in a Maildir: read only by default (all duplicates).
    let maildir = dir.0.join("Maildir");
    corpus_maildir(&maildir, 120);
    std::fs::write(
        maildir.join("new/junk.host:2,"),
        b"Subject: hello\r\n\r\nhi\r\n",
    )
    .unwrap();
    let (code, v, _) = import(&store, &[maildir.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "the junk message fails: {v}");
    assert_eq!(counts(&v), (0, 120, 0, 0));
    assert_eq!(std::fs::read_dir(maildir.join("new")).unwrap().count(), 121);
    // With --move-to: each stored message moves; the one that failed stays.
    let done = dir.0.join("Done");
    let (code, v, _) = import(
        &store,
        &[maildir.to_str().unwrap()],
        &["--move-to", done.to_str().unwrap()],
    );
    assert_eq!(code, 1);
    assert_eq!(counts(&v).1, 120);
    assert_eq!(std::fs::read_dir(done.join("cur")).unwrap().count(), 120);
    let left: Vec<_> = std::fs::read_dir(maildir.join("new"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(left, ["junk.host:2,"]);
    assert_eq!(domain_messages(&summary(&store, &[])), expected);
}

/// Starts an import of `maildir` and kills it with SIGKILL once `moved` holds at least
/// one message (some batches committed, others not), or when it has ended.
fn import_then_kill(store: &str, maildir: &Path, moved: &Path) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_monban"))
        .args(["report", "import", "--store", store, "--json", "--move-to"])
        .arg(moved)
        .arg(maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        let n = std::fs::read_dir(moved.join("cur"))
            .map(|d| d.count())
            .unwrap_or(0);
        if n > 0 || start.elapsed() > Duration::from_secs(120) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    true
}

fn kill_and_rerun(store: &str, name: &str) {
    const N: u64 = 10_000;
    let dir = Dir::new(name);
    let maildir = dir.0.join("Maildir");
    let moved = dir.0.join("Imported");
    corpus_maildir(&maildir, N);
    let killed = import_then_kill(store, &maildir, &moved);
    let left = std::fs::read_dir(maildir.join("new")).unwrap().count() as u64;
    assert!(
        killed && left > 0 && left < N,
        "killed mid-import: {left} left"
    );
    // The re-run stores the rest; what the killed run committed is not stored again.
    let (code, v, stderr) = import(
        store,
        &[maildir.to_str().unwrap()],
        &["--move-to", moved.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{stderr}");
    let (new, dup, conflicting, _) = counts(&v);
    assert_eq!(conflicting, 0);
    assert_eq!(new + dup, left, "{v}");
    assert_eq!(std::fs::read_dir(maildir.join("new")).unwrap().count(), 0);
    assert_eq!(
        std::fs::read_dir(moved.join("cur")).unwrap().count() as u64,
        N
    );
    // Every report exactly once: the per-domain totals are the corpus's.
    assert_eq!(
        domain_messages(&summary(store, &[])),
        corpus::expected_messages(N)
    );
    let sum = summary(store, &[]);
    let reports: u64 = sum["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["reports"].as_u64().unwrap())
        .sum();
    assert_eq!(reports, N);
}

#[test]
fn kill_9_mid_import_then_rerun_sqlite() {
    let dir = Dir::new("kill9-db");
    let store = format!("sqlite:{}", dir.0.join("m.db").display());
    kill_and_rerun(&store, "kill9-sqlite");
}

#[test]
fn kill_9_mid_import_then_rerun_postgres() {
    let pg = PgServer::start("kill9");
    kill_and_rerun(&pg.url(), "kill9-pg");
}

#[test]
fn advise_says_what_to_do() {
    let dir = Dir::new("advise");
    let store = format!("sqlite:{}", dir.0.join("m.db").display());
    let report = r#"<?xml version="1.0"?>
<feedback><report_metadata><org_name>google.com</org_name><email>r@google.com</email>
<report_id>adv1</report_id><date_range><begin>1767225600</begin><end>1767311999</end></date_range>
</report_metadata><policy_published><domain>owner.example</domain><p>none</p></policy_published>
<record><row><source_ip>192.0.2.10</source_ip><count>900</count><policy_evaluated>
<disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>
<identifiers><header_from>owner.example</header_from></identifiers><auth_results>
<dkim><domain>owner.example</domain><selector>s1</selector><result>pass</result></dkim>
<spf><domain>owner.example</domain><result>pass</result></spf></auth_results></record>
<record><row><source_ip>198.51.100.20</source_ip><count>100</count><policy_evaluated>
<disposition>none</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row>
<identifiers><header_from>owner.example</header_from></identifiers><auth_results>
<dkim><domain>newsletters.example</domain><selector>k1</selector><result>pass</result></dkim>
<spf><domain>bounce.newsletters.example</domain><result>pass</result></spf></auth_results></record>
</feedback>"#;
    let file = dir.file("r.xml", report.as_bytes());
    let (code, _, _) = import(&store, &[&file], &[]);
    assert_eq!(code, 0);
    let out = common::run(
        &["report", "advise", "--store", &store, "--no-rdns", "--json"],
        b"",
        &[],
    );
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let a = &v["domains"][0];
    assert_eq!(a["domain"], "owner.example");
    assert_eq!(a["next"], "quarantine");
    assert_eq!(a["safe"], false);
    assert_eq!(a["hurt"][0]["problem"], "unaligned_dkim");
    assert_eq!(a["hurt"][0]["share"], 10.0);
    assert_eq!(
        a["verdict"],
        "not yet: 1 source (10% of mail) would be quarantined"
    );
    let text = common::run(
        &["report", "advise", "--store", &store, "--no-rdns"],
        b"",
        &[],
    );
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("enable DKIM signing with d=owner.example"),
        "{text}"
    );
    assert!(text.contains("=> not yet"), "{text}");

    // Reverse DNS, forward-confirmed: the newsletter service's PTR resolves back to its
    // IP and names it; a PTR that claims a name not resolving back is not believed.
    let zone = dir.file(
        "rdns.zone",
        b"$TTL 300\n\
          20.100.51.198.in-addr.arpa. IN PTR mta7.newsletters.example.\n\
          mta7.newsletters.example. IN A 198.51.100.20\n\
          10.2.0.192.in-addr.arpa. IN PTR mail.bank.example.\n\
          mail.bank.example. IN A 203.0.113.99\n",
    );
    let out = common::run(
        &[
            "report", "summary", "--store", &store, "--zone", &zone, "--json",
        ],
        b"",
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sources = v["domains"][0]["sources"].as_array().unwrap();
    let by_ip = |ip: &str| sources.iter().find(|s| s["ip"] == ip).unwrap().clone();
    assert_eq!(by_ip("198.51.100.20")["ptr"], "mta7.newsletters.example");
    assert_eq!(by_ip("198.51.100.20")["org_domain"], "newsletters.example");
    assert_eq!(by_ip("192.0.2.10")["ptr"], Value::Null, "not confirmed");
    let out = common::run(
        &[
            "report", "advise", "--store", &store, "--zone", &zone, "--json",
        ],
        b"",
        &[],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["domains"][0]["hurt"][0]["sender"], "newsletters.example");
}

fn report_xml(
    org: &str,
    id: &str,
    domain: &str,
    begin: i64,
    end: i64,
    rows: &[(&str, u64)],
) -> String {
    let mut x = format!(
        "<feedback><report_metadata><org_name>{org}</org_name><email>r@r.example</email>\
         <report_id>{id}</report_id><date_range><begin>{begin}</begin><end>{end}</end>\
         </date_range></report_metadata><policy_published><domain>{domain}</domain><p>none</p>\
         </policy_published>"
    );
    for (ip, n) in rows {
        x.push_str(&format!(
            "<record><row><source_ip>{ip}</source_ip><count>{n}</count><policy_evaluated>\
             <disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated>\
             </row><identifiers><header_from>{domain}</header_from></identifiers><auth_results>\
             <dkim><domain>{domain}</domain><selector>s</selector><result>pass</result></dkim>\
             </auth_results></record>"
        ));
    }
    x.push_str("</feedback>");
    x
}

#[test]
fn hostile_reports_stay_harmless() {
    let dir = Dir::new("hostile-reports");
    let store = format!("sqlite:{}", dir.0.join("m.db").display());
    // Reading commands do not create a store.
    let out = common::run(&["report", "summary", "--store", &store], b"", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no store at"));
    assert!(!dir.0.join("m.db").exists());

    let day = 1_767_225_600;
    let files = [
        // Escape sequences and bidi controls in the reporter's name.
        dir.file(
            "esc.xml",
            report_xml(
                "evil&#x1b;[31mRED&#x202e;",
                "e1",
                "owner.example",
                day,
                day + 86_399,
                &[("2001:DB8:0:0::1", 3), ("2001:db8::1", 4)],
            )
            .as_bytes(),
        ),
        // A policy domain that is not a domain name.
        dir.file(
            "baddomain.xml",
            report_xml(
                "x",
                "e2",
                "ex&#x1b;[2Jample.com",
                day,
                day + 86_399,
                &[("192.0.2.1", 1)],
            )
            .as_bytes(),
        ),
        // A period of five centuries, and one running backwards.
        dir.file(
            "forever.xml",
            report_xml(
                "x",
                "e3",
                "owner.example",
                1_514_764_800,
                16_725_225_600,
                &[("192.0.2.1", 1)],
            )
            .as_bytes(),
        ),
        dir.file(
            "backwards.xml",
            report_xml(
                "x",
                "e4",
                "owner.example",
                day,
                day - 10,
                &[("192.0.2.1", 1)],
            )
            .as_bytes(),
        ),
    ];
    let paths: Vec<&str> = files.iter().map(String::as_str).collect();
    let (code, v, _) = import(&store, &paths, &[]);
    assert_eq!(code, 1);
    assert_eq!(counts(&v).0, 1, "{v}");
    let errors = v["failed"].to_string();
    assert!(errors.contains("is not a domain name"), "{errors}");
    assert!(errors.contains("covers over 366 days"), "{errors}");
    assert!(errors.contains("does not run forward"), "{errors}");

    // Tables never carry a control character to the terminal.
    for cmd in ["summary", "advise"] {
        let out = common::run(&["report", cmd, "--store", &store, "--no-rdns"], b"", &[]);
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !text.chars().any(|c| c == '\u{1b}' || c == '\u{202e}'),
            "{cmd}: {text:?}"
        );
    }
    // One address, one source, however it is written.
    let s = summary(&store, &[]);
    let sources = s["domains"][0]["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 1, "{sources:?}");
    assert_eq!(sources[0]["ip"], "2001:db8::1");
    assert_eq!(sources[0]["messages"], 7);

    // The advisor starts from the policy in DNS, not from what reports claim.
    let zone = dir.file(
        "dmarc.zone",
        b"$TTL 300\n_dmarc.owner.example. IN TXT \"v=DMARC1; p=reject\"\n",
    );
    let out = common::run(
        &[
            "report", "advise", "--store", &store, "--zone", &zone, "--json",
        ],
        b"",
        &[],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let a = &v["domains"][0];
    assert_eq!(
        (a["policy"].as_str(), a["policy_source"].as_str()),
        (Some("reject"), Some("dns"))
    );
    assert_eq!(a["next"], Value::Null);
}

#[test]
fn a_report_the_database_refuses_is_named_and_its_mail_stays() {
    // A database that refuses one report (here a trigger; in life a limit or a
    // constraint): the others of the batch are stored, that one is named, and its
    // message is not moved, so nothing is lost.
    let dir = Dir::new("import-refused");
    let db = dir.0.join("m.db");
    let store = format!("sqlite:{}", db.display());
    drop(monban_store::SqliteStore::open(&db).unwrap());
    rusqlite_exec(
        &db,
        "CREATE TRIGGER refuse BEFORE INSERT ON incoming_reports WHEN NEW.report_id = 'corpus3' \
         BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END;",
    );
    let maildir = dir.0.join("Maildir");
    corpus_maildir(&maildir, 6);
    let done = dir.0.join("Done");
    let (code, v, _) = import(
        &store,
        &[maildir.to_str().unwrap()],
        &["--move-to", done.to_str().unwrap()],
    );
    assert_eq!(code, 1, "{v}");
    assert_eq!(counts(&v).0, 5, "{v}");
    let failed = v["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{v}");
    assert!(
        failed[0]["source"]
            .as_str()
            .unwrap()
            .contains("new/3.host:2,: part 2"),
        "{v}"
    );
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("refused by a test trigger"),
        "{v}"
    );
    let left: Vec<String> = std::fs::read_dir(maildir.join("new"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["3.host:2,"]);
    assert_eq!(std::fs::read_dir(done.join("cur")).unwrap().count(), 5);
}

fn rusqlite_exec(db: &std::path::Path, sql: &str) {
    let out = Command::new("python3")
        .args(["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()"])
        .arg(db)
        .arg(sql)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A FIFO or a pipe named on the command line (`report import <(zcat r.xml.gz)`) is
/// read once, from its first byte: it cannot be opened again to read past a peek at
/// whether it is an mbox (that hung on a FIFO and dropped the first bytes of a pipe).
#[test]
fn a_fifo_or_a_pipe_named_on_the_command_line_is_read_once() {
    let dir = Dir::new("import-fifo");
    let store = format!("sqlite:{}", dir.0.join("m.db").display());
    let xml = report_xml(
        "fifo.example",
        "fifo-1",
        "example.com",
        1_795_000_000,
        1_795_086_400,
        &[("192.0.2.1", 3)],
    );
    let mbox = format!(
        "From MAILER-DAEMON Thu Dec  3 00:00:00 2026\n{}\n",
        String::from_utf8(corpus::report_mail(7)).unwrap()
    );
    for (name, content) in [("report.xml", xml.clone()), ("reports.mbox", mbox)] {
        let fifo = dir.0.join(name);
        let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let path = fifo.clone();
        let writer = std::thread::spawn(move || {
            // Blocks until monban opens the FIFO for reading.
            std::fs::write(&path, content.as_bytes()).unwrap();
        });
        let (code, v, err) = import(&store, &[fifo.to_str().unwrap()], &[]);
        assert_eq!(code, 0, "{name}: {v} {err}");
        assert_eq!(v["reports_new"], 1, "{name}: {v} {err}");
        writer.join().unwrap();
    }
    // A pipe: standard input named by path, as `<(...)` names one.
    let out = common::run(
        &[
            "report",
            "import",
            "--store",
            &store,
            "--json",
            "/dev/stdin",
        ],
        xml.replace("fifo-1", "pipe-1").as_bytes(),
        &[],
    );
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(0), "{v}");
    assert_eq!(v["reports_new"], 1, "{v}");
}

/// Reports naming more source addresses than a summary lists: the summary lists the
/// first 1,000 of the domain (the most failing mail first), says how many more there
/// are, and counts them all in the totals; its memory no longer grows with them.
#[test]
fn a_summary_lists_the_first_sources_and_counts_the_rest() {
    let dir = Dir::new("import-many-sources");
    let store = format!("sqlite:{}", dir.0.join("m.db").display());
    let ips: Vec<String> = (0..1_200)
        .map(|i| format!("198.51.{}.{}", i / 250, i % 250))
        .collect();
    let rows: Vec<(&str, u64)> = ips.iter().map(|ip| (ip.as_str(), 2)).collect();
    let xml = report_xml(
        "many.example",
        "many-1",
        "example.com",
        1_795_000_000,
        1_795_086_400,
        &rows,
    );
    let file = dir.file("many.xml", xml.as_bytes());
    let (code, v, err) = import(&store, &[&file], &[]);
    assert_eq!(code, 0, "{v} {err}");
    let s = summary(&store, &[]);
    let d = &s["domains"][0];
    assert_eq!(d["messages"], 2_400, "{d}");
    assert_eq!(d["sources"].as_array().unwrap().len(), 1_000);
    assert_eq!(d["sources_left_out"], 200);
    let out = common::run(
        &["report", "summary", "--store", &store, "--no-rdns"],
        b"",
        &[],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // 15 shown (the default --top), 985 more listed in the JSON, 200 not listed.
    assert!(text.contains("... 1185 sources more"), "{text}");
}
