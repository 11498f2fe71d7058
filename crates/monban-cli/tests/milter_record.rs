//! The milter records every judged message for aggregate reports (issue 11): the real
//! `monban milter` process, driven over TCP by an MTA-side client written here, with
//! `kill -9` between messages, the journal replayed from its start, a store that cannot
//! be opened, and a PostgreSQL server stopped and started under it. Every message that
//! got its final answer is in the store exactly once: 0 lost, 0 counted twice.

mod common;
use common::{free_port, wait_listening};

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use monban_store::testing::{PgServer, TempDir};
use monban_store::{SqliteStore, Store};

fn zone() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/reports/report.zone")
}

/// The daemons of these tests one at a time: a port picked free (and free again
/// between restarts) must not be given to another test's daemon meanwhile.
static ONE_DAEMON: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A running `monban milter`.
struct Milter {
    child: Option<Child>,
    port: u16,
    config: PathBuf,
    template: String,
    log: PathBuf,
    _one: std::sync::MutexGuard<'static, ()>,
}

impl Milter {
    fn start(dir: &Path, store: &str) -> Self {
        Self::start_with(dir, store, &zone(), "")
    }

    /// With another zone and more configuration (`extra`, TOML after `[store]`).
    fn start_with(dir: &Path, store: &str, zone: &Path, extra: &str) -> Self {
        let one = ONE_DAEMON.lock().unwrap_or_else(|p| p.into_inner());
        // The configuration with `{port}` left to fill: a port taken meanwhile by
        // another server is replaced by a new one.
        let template = format!(
            "authserv_id = \"mx.receiver.example\"\n\
             [dns]\nzone_file = \"{}\"\n[store]\nurl = \"{store}\"\njournal = \"{}\"\n{extra}",
            zone.display(),
            dir.join("journal").display()
        );
        let mut m = Self {
            child: None,
            port: free_port(),
            config: dir.join("monban.toml"),
            template,
            log: dir.join("milter.log"),
            _one: one,
        };
        m.restart();
        m
    }

    /// Starts the daemon; on the same port unless that port was taken meanwhile.
    fn restart(&mut self) {
        for _attempt in 0..5 {
            std::fs::write(
                &self.config,
                format!(
                    "listen = \"inet:127.0.0.1:{}\"\n{}",
                    self.port, self.template
                ),
            )
            .unwrap();
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.log)
                .unwrap();
            let mut child = Command::new(env!("CARGO_BIN_EXE_monban"))
                .args(["milter", "--config"])
                .arg(&self.config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            let log_path = self.log.clone();
            let read_log = move || std::fs::read_to_string(&log_path).unwrap_or_default();
            match wait_listening(&mut child, self.port, Duration::from_secs(30), &read_log) {
                Ok(()) => {
                    self.child = Some(child);
                    return;
                }
                Err(status) if read_log().contains("cannot listen") => {
                    eprintln!("port {} taken ({status}): another", self.port);
                    self.port = free_port();
                }
                Err(status) => panic!("the milter ended ({status}):\n{}", read_log()),
            }
        }
        panic!("the milter found no free port:\n{}", self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn kill9(&mut self) {
        let mut c = self.child.take().unwrap();
        c.kill().unwrap();
        c.wait().unwrap();
    }

    fn stop(&mut self) {
        let mut c = self.child.take().unwrap();
        let ok = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let status = c.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{}", self.log());
    }
}

impl Drop for Milter {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn send(s: &mut TcpStream, code: u8, data: &[u8]) {
    let mut pkt = ((data.len() + 1) as u32).to_be_bytes().to_vec();
    pkt.push(code);
    pkt.extend_from_slice(data);
    s.write_all(&pkt).unwrap();
}

fn read_final(s: &mut TcpStream) -> (u8, Vec<u8>) {
    loop {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).unwrap();
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut body).unwrap();
        let code = body[0];
        if matches!(code, b'c' | b'a' | b'r' | b't' | b'y' | b'd' | b'O') {
            return (code, body[1..].to_vec());
        }
    }
}

/// One message over its own milter connection, as Postfix sends it; the final answer.
/// Odd `n` come from a host SPF does not allow (DMARC rejects them); even `n` pass.
fn message(port: u16, n: usize) -> (u8, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut optneg = Vec::new();
    for v in [6u32, 0x1ff, 0x1f_ffff] {
        optneg.extend_from_slice(&v.to_be_bytes());
    }
    send(&mut s, b'O', &optneg);
    // The steps the milter asked Postfix not to wait for (SMFIP_NR_*) get no reply.
    let (_, reply) = read_final(&mut s);
    let protocol = u32::from_be_bytes(reply[8..12].try_into().unwrap());
    let answered = |code: u8| {
        let no_reply = match code {
            b'C' => 0x1000,
            b'H' => 0x2000,
            b'M' => 0x4000,
            b'R' => 0x8000,
            b'N' => 0x4_0000,
            b'L' => 0x80,
            b'B' => 0x8_0000,
            _ => 0,
        };
        protocol & no_reply == 0
    };
    let ip = if n.is_multiple_of(2) {
        "192.0.2.10"
    } else {
        "203.0.113.9"
    };
    let mut connect = b"client.example\0".to_vec();
    connect.push(b'4');
    connect.extend_from_slice(&25u16.to_be_bytes());
    connect.extend_from_slice(ip.as_bytes());
    connect.push(0);
    for (code, data) in [
        (b'C', connect),
        (b'H', b"client.example\0".to_vec()),
        (b'M', b"<a@example.com>\0".to_vec()),
        (b'R', b"<bob@receiver.example>\0".to_vec()),
        (b'L', b"From\0 a@example.com\0".to_vec()),
        (b'L', format!("Subject\0 message {n}\0").into_bytes()),
        (b'N', Vec::new()),
        (b'B', b"Hello.\r\n".to_vec()),
    ] {
        send(&mut s, code, &data);
        if answered(code) {
            read_final(&mut s);
        }
    }
    send(&mut s, b'E', b"");
    let reply = read_final(&mut s);
    send(&mut s, b'Q', b"");
    reply
}

/// Sends `range` and checks every message got its final answer (accepted, or rejected
/// by DMARC for the odd ones).
fn send_all(port: u16, range: std::ops::Range<usize>) {
    for n in range {
        let (code, text) = message(port, n);
        if n.is_multiple_of(2) {
            assert_eq!(
                code,
                b'a',
                "message {n}: {}",
                String::from_utf8_lossy(&text)
            );
        } else {
            assert_eq!(code, b'y', "message {n}");
            assert!(
                text.starts_with(b"550 5.7.1"),
                "{}",
                String::from_utf8_lossy(&text)
            );
        }
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Waits until `count()` is `want` (the writer catching up), then checks it stays so.
fn wait_for_count(
    what: &str,
    want: u64,
    count: impl Fn() -> Option<u64>,
    log: &dyn Fn() -> String,
) {
    let start = Instant::now();
    loop {
        let n = count();
        if n == Some(want) {
            return;
        }
        assert!(
            n.is_none_or(|n| n < want),
            "{what}: {n:?} evaluations, more than the {want} messages answered"
        );
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what}: {n:?} evaluations, {want} expected\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How many journal segments are in the folder.
fn segments(journal: &Path) -> usize {
    std::fs::read_dir(journal)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("segment-"))
                .count()
        })
        .unwrap_or(0)
}

fn sqlite_count(path: &Path) -> Option<u64> {
    SqliteStore::open(path).ok()?.count_now().ok()
}

#[test]
fn kill_9_and_a_replayed_journal_lose_nothing_and_count_nothing_twice() {
    let dir = TempDir::new("milter-record-kill");
    let db = dir.0.join("monban.db");
    let store = format!("sqlite:{}", db.display());
    let mut m = Milter::start(&dir.0, &store);

    // 20 messages, then kill -9 at once: what the writer had not stored yet is in the
    // journal.
    send_all(m.port, 0..20);
    m.kill9();
    m.restart();
    send_all(m.port, 20..40);
    wait_for_count("after kill -9", 40, || sqlite_count(&db), &|| m.log());

    // The worst crash: after the database took the rows, before the journal said so.
    // Everything in the journal is stored again, and nothing counts twice.
    m.kill9();
    let journal = dir.0.join("journal");
    std::fs::write(journal.join("committed"), "0 0\n").unwrap();
    let segments_before: Vec<_> = std::fs::read_dir(&journal)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("segment-"))
        .map(|e| e.path())
        .collect();
    assert!(
        !segments_before.is_empty(),
        "the journal keeps its active segment"
    );
    m.restart();
    // Replayed segments are deleted once stored.
    let start = Instant::now();
    while segments_before.iter().any(|p| p.exists()) {
        assert!(start.elapsed() < Duration::from_secs(60), "{}", m.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(sqlite_count(&db), Some(40), "{}", m.log());
    // The evaluations are the messages': 20 passed and were delivered, 20 rejected.
    let all = SqliteStore::open(&db)
        .unwrap()
        .evaluations_now(0, i64::MAX)
        .unwrap();
    assert_eq!(all.iter().filter(|e| e.disposition == "reject").count(), 20);
    assert_eq!(all.iter().filter(|e| e.dmarc == "pass").count(), 20);
    assert!(
        all.iter()
            .all(|e| e.policy.as_ref().is_some_and(|p| p.domain == "example.com"))
    );
    // Restarts with no mail in between: the writer deletes the last segment, and the
    // next start must not append where the writer no longer reads (it did, once).
    m.stop();
    m.restart();
    let start = Instant::now();
    while segments(&journal) > 0 {
        assert!(start.elapsed() < Duration::from_secs(60), "{}", m.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    m.stop();
    m.restart();
    send_all(m.port, 40..42);
    wait_for_count("after quiet restarts", 42, || sqlite_count(&db), &|| {
        m.log()
    });
    m.stop();
}

#[test]
fn a_store_that_cannot_be_opened_delays_no_mail_and_is_caught_up() {
    let dir = TempDir::new("milter-record-unwritable");
    // The database's folder is a file: SQLite cannot open it.
    let blocked = dir.0.join("blocked");
    std::fs::write(&blocked, b"not a folder").unwrap();
    let db = blocked.join("monban.db");
    let store = format!("sqlite:{}", db.display());
    let mut m = Milter::start(&dir.0, &store);
    let start = Instant::now();
    send_all(m.port, 0..10);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "mail was slowed by the unusable store"
    );
    assert!(
        m.log().contains("the store cannot take evaluations"),
        "{}",
        m.log()
    );
    // Fixed: the writer catches up from the journal.
    std::fs::remove_file(&blocked).unwrap();
    std::fs::create_dir(&blocked).unwrap();
    wait_for_count("after the fix", 10, || sqlite_count(&db), &|| m.log());
    m.stop();
}

#[test]
fn a_postgresql_restart_loses_nothing_and_counts_nothing_twice() {
    let pg = PgServer::start("milter-record");
    let dir = TempDir::new("milter-record-pg");
    let mut m = Milter::start(&dir.0, &pg.url());
    let url = pg.url();
    let count = || {
        block_on(async {
            let s = monban_store::PostgresStore::connect(&url).await.ok()?;
            s.count().await.ok()
        })
    };
    send_all(m.port, 0..10);
    wait_for_count("before the restart", 10, count, &|| m.log());
    pg.stop();
    // The database is down: mail flows, evaluations wait in the journal.
    send_all(m.port, 10..30);
    pg.restart();
    wait_for_count("after the restart", 30, count, &|| m.log());
    m.stop();
    // Started again, the milter replays nothing new.
    m.restart();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(count(), Some(30));
    m.stop();
}

/// The milter sends due reports itself when `[reports]` is configured: a report
/// generated for yesterday reaches the SMTP sink, signed with the signing table.
#[test]
fn the_milter_sends_due_reports_itself() {
    let dir = TempDir::new("milter-reports");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let zone = root.join("examples/example.zone");
    let key = root.join("examples/keys/s2026.private");
    let store = format!("sqlite:{}", dir.0.join("monban.db").display());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let yesterday_noon = (now / 86_400 - 1) * 86_400 + 43_200;
    let (y, m, d) = monban::rfc5322::datetime::civil_from_days((now / 86_400 - 1) as i64);
    let date = format!("{y:04}-{m:02}-{d:02}");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_monban"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let at = yesterday_noon.to_string();
    let msg = root.join("examples/messages/alice-to-bob.eml");
    run(&[
        "--zone",
        zone.to_str().unwrap(),
        "verify",
        "--record",
        "--store",
        &store,
        "--at",
        &at,
        "--ip",
        "192.0.2.25",
        "--helo",
        "mail.example.com",
        "--mail-from",
        "alice@example.com",
        msg.to_str().unwrap(),
    ]);
    let out = dir.0.join("reports");
    run(&[
        "report",
        "generate",
        "--store",
        &store,
        "--org-name",
        "Receiver",
        "--email",
        "dmarc-reports@example.com",
        "--date",
        &date,
        "--out",
        out.to_str().unwrap(),
    ]);
    let sink = common::sink::Sink::start(&dir.0.join("sink"), &[]);
    let extra = format!(
        "[reports]\norg_name = \"Receiver\"\nemail = \"dmarc-reports@example.com\"\n\
         smtp = \"127.0.0.1:{}\"\nstarttls = \"never\"\n\
         [[signing]]\nsender = \"*@example.com\"\ndomain = \"example.com\"\n\
         selector = \"s2026\"\nkey = \"{}\"\n",
        sink.port,
        key.display()
    );
    let mut m = Milter::start_with(&dir.0, &store, &zone, &extra);
    let start = Instant::now();
    while sink.messages().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no report sent by the milter:\n{}",
            m.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let delivered = sink.whole_messages(1);
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    let msg = &delivered[0];
    assert!(msg.contains("Report Domain: example.com"), "{msg}");
    assert!(
        msg.contains("X-Rcpt-Args: <dmarc-reports@example.com>"),
        "{msg}"
    );
    assert!(
        msg.contains("DKIM-Signature:") && msg.contains("d=example.com"),
        "{msg}"
    );
    m.stop();
}
