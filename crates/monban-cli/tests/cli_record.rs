//! `monban verify --record` (DESIGN §4 "Reports"): each evaluation appended to the store
//! as a receiver would, read back from the SQLite file.

mod common;

use common::Dir;

use std::path::PathBuf;

use monban_store::SqliteStore;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn path(rel: &str) -> String {
    root().join(rel).to_str().unwrap().to_owned()
}

#[test]
fn verify_record_appends_one_evaluation_per_message() {
    let dir = Dir::new("record-append");
    let db = dir.0.join("monban.db");
    let url = format!("sqlite:{}", db.display());
    let zone = path("examples/example.zone");
    let alice = path("examples/messages/alice-to-bob.eml");
    let spoof = path("examples/messages/spoofed-ceo.eml");
    let args = |msg: &str, ip: &str, from: &str, at: &str| {
        vec![
            "verify".to_owned(),
            "--zone".into(),
            zone.clone(),
            "--record".into(),
            "--store".into(),
            url.clone(),
            "--at".into(),
            at.into(),
            "--ip".into(),
            ip.into(),
            "--helo".into(),
            "mail.example.com".into(),
            "--mail-from".into(),
            from.into(),
            msg.into(),
        ]
    };
    for a in [
        args(&alice, "192.0.2.25", "alice@example.com", "1795400000"),
        args(&spoof, "203.0.113.66", "ceo@example.com", "1795400100"),
    ] {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = common::run(&a, b"", &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("recorded 1 evaluation"));
    }
    // A message whose header cannot be split is recorded too (DMARC permerror).
    let out = common::run(
        &[
            "verify",
            "--zone",
            &zone,
            "--record",
            "--store",
            &url,
            "--at",
            "1795400200",
            "-",
        ],
        b" From: x@example.com\r\n\r\nhi\r\n",
        &[],
    );
    assert_eq!(out.status.code(), Some(0));

    let store = SqliteStore::open(&db).unwrap();
    let evs = store.evaluations_now(0, i64::MAX).unwrap();
    assert_eq!(evs.len(), 3);
    let (pass, spoofed, malformed) = (&evs[0], &evs[1], &evs[2]);
    assert_eq!(pass.time, 1_795_400_000);
    assert_eq!(pass.source_ip, Some("192.0.2.25".parse().unwrap()));
    assert_eq!(pass.header_from.as_deref(), Some("example.com"));
    assert_eq!(pass.dmarc, "pass");
    assert_eq!(pass.dkim.len(), 1);
    assert_eq!(pass.dkim[0].selector, "s2026");
    assert_eq!(pass.dkim[0].result, "pass");
    let spf = pass.spf.as_ref().unwrap();
    assert_eq!((spf.scope.as_str(), spf.result.as_str()), ("mfrom", "pass"));
    let policy = pass.policy.as_ref().unwrap();
    assert_eq!(policy.p, "reject");
    assert_eq!(policy.domain, "example.com");
    assert_eq!(policy.discovery_method, "treewalk");
    assert_eq!(spoofed.dmarc, "fail");
    assert_eq!(spoofed.disposition, "reject");
    assert!(spoofed.dkim.is_empty());
    assert_eq!(malformed.dmarc, "permerror");
    assert!(malformed.policy.is_none());
    // uids are unique: three runs, three rows.
    let mut uids: Vec<&str> = evs.iter().map(|e| e.uid.as_str()).collect();
    uids.dedup();
    assert_eq!(uids.len(), 3);
    // The same run again (a re-run after a failure part-way) records nothing twice;
    // a message given twice in one run is two deliveries, and a re-run of that adds
    // nothing either.
    for _ in 0..2 {
        let mut again = args(&alice, "192.0.2.25", "alice@example.com", "1795400000");
        again.push(alice.clone());
        let a: Vec<&str> = again.iter().map(String::as_str).collect();
        let out = common::run(&a, b"", &[]);
        assert_eq!(out.status.code(), Some(0));
    }
    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(store.evaluations_now(0, i64::MAX).unwrap().len(), 4);
}

#[test]
fn the_store_comes_from_monban_store_and_errors_are_clear() {
    let dir = Dir::new("record-env");
    let db = dir.0.join("env.db");
    let zone = path("examples/example.zone");
    let msg = path("examples/messages/alice-to-bob.eml");
    let out = common::run(
        &["verify", "--zone", &zone, "--record", &msg],
        b"",
        &[("MONBAN_STORE", &format!("sqlite:{}", db.display()))],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(SqliteStore::open(&db).unwrap().count_now().unwrap(), 1);
    // --store without --record is a usage error.
    let out = common::run(
        &[
            "verify",
            "--zone",
            &zone,
            "--store",
            "sqlite:/tmp/x.db",
            &msg,
        ],
        b"",
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    // A store that cannot be opened: exit 1, the place named, before any verdict.
    let junk = dir.0.join("junk.db");
    std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
    let store = format!("sqlite:{}", junk.display());
    let out = common::run(
        &[
            "verify", "--zone", &zone, "--record", "--store", &store, &msg,
        ],
        b"",
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("junk.db"), "{err}");
    assert!(out.stdout.is_empty());
    let out = common::run(
        &[
            "verify",
            "--zone",
            &zone,
            "--record",
            "--store",
            "mysql://x/y",
            &msg,
        ],
        b"",
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
}

/// The output's reader going away (`monban verify --record ... | head`) stops the run
/// quietly (exit 0, no message, as before), and every message verified before is still
/// recorded: none is left in the unwritten batch (the process exited from the write
/// before, losing up to 499). With
/// the reader gone from the start, 20 messages (less output than one write) are all
/// recorded; 600 (more than a batch of 500, and many writes) stop at the first write,
/// with what was verified up to there recorded.
#[test]
fn a_closed_output_stops_the_run_and_keeps_what_was_recorded() {
    let dir = Dir::new("record-closed");
    let alice = std::fs::read(root().join("examples/messages/alice-to-bob.eml")).unwrap();
    let files: Vec<String> = (0..600)
        .map(|i| dir.0.join(format!("m{i:03}.eml")))
        .map(|p| {
            std::fs::write(&p, &alice).unwrap();
            p.to_str().unwrap().to_owned()
        })
        .collect();
    let zone = path("examples/example.zone");
    for (n, db) in [(20, "twenty.db"), (600, "many.db")] {
        let db = dir.0.join(db);
        let url = format!("sqlite:{}", db.display());
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        // One JSON line per message, each verified and recorded before the next.
        let flags = ["--record", "--json", "--jobs", "1", "--at", "1795400000"];
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_monban"))
            .args(["verify", "--zone", &zone, "--store", &url])
            .args(flags)
            .args(&files[..n])
            .stdin(std::process::Stdio::null())
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{n}: {err}");
        assert!(!err.contains("cannot write"), "{n}: {err}");
        let recorded = SqliteStore::open(&db)
            .unwrap()
            .evaluations_now(0, i64::MAX)
            .unwrap()
            .len();
        if n == 20 {
            assert_eq!(recorded, 20);
        } else {
            assert!((1..600).contains(&recorded), "{recorded} of 600");
        }
    }
}

/// Ctrl-C (SIGINT) during `verify --record` stops after the message in hand, with every
/// printed result recorded and the count said, and status 130. Before, the process
/// ended where it stood: a trial printed 29,875 results and found 29,500 in the store,
/// with nothing said. The test waits for the first results before it interrupts, and
/// then sends one more message, so that the run is at work when it looks at the flag.
#[test]
fn an_interrupted_run_prints_and_records_what_it_verified() {
    let run = interrupted_run(false);
    assert_eq!(run.status, Some(130), "{}", run.err);
    assert!(
        run.err.contains(&format!(
            "interrupted after {0} message(s); recorded {0} evaluation(s)",
            run.printed
        )),
        "{}: {}",
        run.printed,
        run.err
    );
    assert_eq!(run.recorded, run.printed);
}

/// A run started with SIGINT ignored (a non-interactive shell's background job,
/// `nohup`) keeps ignoring it: Ctrl-C is not meant for it (tokio's handler would have
/// replaced the ignoring).
#[test]
fn a_run_started_with_sigint_ignored_is_not_interrupted() {
    let run = interrupted_run(true);
    assert_eq!(run.status, Some(0), "{}", run.err);
    assert!(!run.err.contains("interrupted"), "{}", run.err);
    assert_eq!(run.printed, run.sent);
    assert_eq!(run.recorded, run.sent);
}

/// What [`interrupted_run`] saw.
struct Interrupted {
    status: Option<i32>,
    err: String,
    printed: usize,
    recorded: usize,
    sent: usize,
}

/// `verify --record --json -` over an mbox written to its standard input, interrupted
/// (SIGINT) once results come out; then one more message and the end of the input.
/// With `ignored`, the process starts with SIGINT ignored.
fn interrupted_run(ignored: bool) -> Interrupted {
    use std::io::Write as _;
    let dir = Dir::new(if ignored {
        "record-sigint-ignored"
    } else {
        "record-interrupted"
    });
    let db = dir.0.join("x.db");
    let url = format!("sqlite:{}", db.display());
    let alice = std::fs::read_to_string(root().join("examples/messages/alice-to-bob.eml"))
        .unwrap()
        .replace("\r\n", "\n");
    let mbox_message = |i: usize| {
        format!(
            "From alice@example.com Thu Dec  3 12:00:00 2026\n{}\n",
            alice.replacen("Message-ID: <", &format!("Message-ID: <{i}."), 1)
        )
    };
    let zone = path("examples/example.zone");
    let monban = env!("CARGO_BIN_EXE_monban");
    let verify = [
        "verify",
        "--zone",
        &zone,
        "--store",
        &url,
        "--record",
        "--json",
        "--jobs",
        "1",
        "--at",
        "1795400000",
        "-",
    ];
    let mut command = if ignored {
        let mut c = std::process::Command::new("sh");
        c.args(["-c", "trap '' INT; exec \"$0\" \"$@\"", monban]);
        c
    } else {
        std::process::Command::new(monban)
    };
    let mut child = command
        .args(verify)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    // The results are read as they come (a full pipe would stop the run), and the
    // first byte is announced.
    let (reader, started) = read_in_thread(stdout, |all| !all.is_empty());
    // Messages until results come out (the output is written 64 KiB at a time); the
    // input stays open.
    let mut sent = 0;
    while started.try_recv().is_err() {
        assert!(sent < 100_000, "no results after {sent} messages");
        stdin.write_all(mbox_message(sent).as_bytes()).unwrap();
        sent += 1;
    }
    // Standard error is read as it comes too, to know when the interruption is seen.
    let (errors, noticed) = read_in_thread(child.stderr.take().unwrap(), |all| {
        String::from_utf8_lossy(all).contains("monban: interrupted:")
    });
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    if ignored {
        // Nothing to wait for; a handler, had one been installed, would have seen the
        // signal by then and stopped the run.
        std::thread::sleep(std::time::Duration::from_millis(500));
    } else {
        noticed
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the interruption is announced");
    }
    // The run may be waiting for input: one more message, then the end of the input
    // (interrupted, it stops at the flag, which is set by now).
    if stdin.write_all(mbox_message(sent).as_bytes()).is_ok() {
        sent += 1;
    }
    drop(stdin);
    let all = reader.join().unwrap();
    let err = String::from_utf8_lossy(&errors.join().unwrap()).into_owned();
    let status = child.wait().unwrap();
    let recorded = SqliteStore::open(&db)
        .unwrap()
        .evaluations_now(0, i64::MAX)
        .unwrap()
        .len();
    Interrupted {
        status: status.code(),
        err,
        printed: all.iter().filter(|&&b| b == b'\n').count(),
        recorded,
        sent,
    }
}

/// Reads `r` to its end on a thread of its own; the receiver hears once, when what was
/// read so far first satisfies `notice`.
fn read_in_thread(
    mut r: impl std::io::Read + Send + 'static,
    notice: impl Fn(&[u8]) -> bool + Send + 'static,
) -> (
    std::thread::JoinHandle<Vec<u8>>,
    std::sync::mpsc::Receiver<()>,
) {
    let (tell, heard) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 65536];
        let mut told = false;
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => return all,
                Ok(n) => {
                    all.extend_from_slice(&buf[..n]);
                    if !told && notice(&all) {
                        told = true;
                        let _ = tell.send(());
                    }
                }
            }
        }
    });
    (thread, heard)
}
