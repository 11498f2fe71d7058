//! End-to-end tests of `monban milter` behind a real Postfix.
//!
//! Every test starts and stops everything it uses: a private Postfix instance
//! (`postfix -c DIR start-fg`, its configuration, queue and Maildirs in a temporary
//! directory, SMTP only on 127.0.0.1 ports picked at run time, never port 25 nor the
//! system instance), the monban milter, and for the DNS outage a DNS server. Mail is sent
//! with swaks (XCLIENT simulates remote clients) or, where the session must be cut at a
//! precise step, by a small SMTP client here; delivered mail is read from the Maildir.
//!
//! The Postfix configuration is `tests/postfix/main.cf` and `tests/postfix/master.cf`
//! with the `{{NAME}}` placeholders filled in. Postfix logs to its standard output
//! (`maillog_file = /dev/stdout`: no syslog needed), which the tests read; when a test
//! fails, the Postfix and milter logs are printed and the directory is kept.
//!
//! The tests run one at a time (a global lock). They need root, Postfix and swaks, and
//! python3 with dkimpy (`scripts/test.sh` installs them all); without them they fail,
//! they are never skipped.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use monban_dns::ZoneResolver;
use monban_testdns::TestDnsServer;

mod common;
use serde_json::Value;

/// How long anything may take to come up or to arrive.
const PATIENCE: Duration = Duration::from_secs(20);

static SERIAL: Mutex<()> = Mutex::new(());

/// One test at a time: every test runs a Postfix instance and a milter.
fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

/// A program in PATH or in the sbin directories (root's PATH may lack them).
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn program(name: &str) -> PathBuf {
    find_program(name).unwrap_or_else(|| {
        panic!(
            "`{name}` is not installed: the Postfix end-to-end tests need Postfix and swaks \
             (`apt-get install postfix swaks`; scripts/test.sh installs them)"
        )
    })
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The numeric output of `id OPTION [USER]`.
fn id(args: &[&str]) -> u32 {
    let out = run(Command::new("id").args(args));
    assert!(
        out.status.success(),
        "id {args:?} failed: {}",
        text(&out.stderr).trim()
    );
    text(&out.stdout).trim().parse().expect("a numeric id")
}

/// Fails (never skips) when something the tests need is missing.
fn require_tools() {
    for name in ["postfix", "postconf", "swaks"] {
        program(name);
    }
    assert_eq!(
        id(&["-u"]),
        0,
        "the Postfix end-to-end tests must run as root (Postfix starts as root and drops \
         privileges to its mail_owner)"
    );
    let out = run(Command::new("id").arg("postfix"));
    assert!(
        out.status.success(),
        "the user `postfix` does not exist: install the Debian postfix package \
         (`apt-get install postfix`)"
    );
}

/// Fails loudly when python3 with dkimpy is missing (case 3 verifies with it).
fn require_dkimpy() {
    let out = Command::new("python3")
        .args(["-c", "import dkim, nacl"])
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "python3 lacks dkimpy or pynacl ({}): run `python3 -m pip install dkimpy pynacl` \
             (scripts/test.sh does)",
            text(&o.stderr).trim()
        ),
        Err(e) => panic!("python3 cannot be run ({e}): the DKIM check needs python3 with dkimpy"),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("an ephemeral port")
        .port()
}

/// Polls `f` until it returns `Some`, failing after `timeout` with `what` and `context()`.
fn wait_for<T>(
    what: &str,
    timeout: Duration,
    context: impl Fn() -> String,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn accepts(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// The output of a child process, collected by a thread while it runs.
#[derive(Clone, Debug, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Log {
    fn capture(&self, mut from: impl Read + Send + 'static) {
        let log = self.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n @ 1..) = from.read(&mut buf) {
                log.0
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(&buf[..n]);
            }
        });
    }

    fn text(&self) -> String {
        text(&self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// A temporary directory, kept (and named on stderr) when the test fails.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("monban-postfix-e2e-{}-{name}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("remove a stale test directory");
        }
        std::fs::create_dir_all(&dir).expect("create the test directory");
        // Postfix's delivery agents run as the postfix user and must reach the Maildirs.
        set_mode(&dir, 0o755);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept the test directory {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// `monban milter` as a process.
#[derive(Debug)]
struct Milter {
    child: Option<Child>,
    port: u16,
    config: PathBuf,
    log: Log,
}

impl Milter {
    /// Writes `DIR/monban.toml` (`listen` on a fresh port, then `config`) and starts it.
    fn start(dir: &Path, config: &str) -> Milter {
        let port = free_port();
        let path = dir.join("monban.toml");
        std::fs::write(
            &path,
            format!("listen = \"inet:127.0.0.1:{port}\"\n{config}"),
        )
        .expect("write the milter configuration");
        let mut milter = Milter {
            child: None,
            port,
            config: path,
            log: Log::default(),
        };
        milter.restart();
        milter
    }

    /// Starts the process (again, on the same port) and waits until it listens.
    fn restart(&mut self) {
        assert!(self.child.is_none(), "the milter is already running");
        let mut child = Command::new(env!("CARGO_BIN_EXE_monban"))
            .args(["milter", "--config"])
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start monban milter");
        self.log.capture(child.stdout.take().expect("piped stdout"));
        self.log.capture(child.stderr.take().expect("piped stderr"));
        let port = self.port;
        let log = self.log.clone();
        wait_for(
            "the milter to listen",
            PATIENCE,
            || format!("milter log:\n{}", log.text()),
            || {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("the milter exited with {status}:\n{}", log.text());
                }
                accepts(port).then_some(())
            },
        );
        self.child = Some(child);
    }

    /// SIGKILL: the process dies at once, its connections are reset.
    fn kill(&mut self) {
        let mut child = self.child.take().expect("the milter is running");
        child.kill().expect("SIGKILL the milter");
        child.wait().expect("reap the milter");
    }

    /// SIGTERM, and the process must exit with status 0.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let ok = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "kill -TERM the milter");
            let status = child.wait().expect("reap the milter");
            assert_eq!(
                status.code(),
                Some(0),
                "the milter did not stop cleanly:\n{}",
                self.log.text()
            );
        }
    }
}

impl Drop for Milter {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("---- milter log ----\n{}", self.log.text());
        }
    }
}

/// A private Postfix instance.
#[derive(Debug)]
struct Postfix {
    dir: PathBuf,
    etc: PathBuf,
    /// The SMTP server with the milter.
    smtp_port: u16,
    /// The SMTP server without the milter that relays everything through the queue
    /// and the smtp client to `smtp_port`.
    relay_port: u16,
    child: Option<Child>,
    log: Log,
}

impl Postfix {
    /// Configures an instance under `dir` with `smtpd_milters = inet:127.0.0.1:MILTER_PORT`,
    /// checks it with `postfix check`, and starts it in the foreground.
    fn start(dir: &Path, milter_port: u16) -> Postfix {
        let etc = dir.join("etc");
        let mail = dir.join("mail");
        let data = dir.join("data");
        for d in [&etc, &dir.join("queue"), &data, &mail] {
            std::fs::create_dir_all(d).expect("create a Postfix directory");
        }
        let uid = id(&["-u", "postfix"]);
        let gid = id(&["-g", "postfix"]);
        for d in [&mail, &data] {
            std::os::unix::fs::chown(d, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("chown postfix {}: {e}", d.display()));
        }
        let smtp_port = free_port();
        let relay_port = loop {
            let p = free_port();
            if p != smtp_port && p != milter_port {
                break p;
            }
        };
        let values = [
            ("DIR", dir.display().to_string()),
            ("UID", uid.to_string()),
            ("GID", gid.to_string()),
            ("MILTER_PORT", milter_port.to_string()),
            ("SMTP_PORT", smtp_port.to_string()),
            ("RELAY_PORT", relay_port.to_string()),
        ];
        for (name, template) in [
            ("main.cf", include_str!("postfix/main.cf")),
            ("master.cf", include_str!("postfix/master.cf")),
        ] {
            let mut conf = template.to_owned();
            for (key, value) in &values {
                conf = conf.replace(&format!("{{{{{key}}}}}"), value);
            }
            if let Some(at) = conf.find("{{") {
                panic!("{name}: a placeholder is left: {}", &conf[at..]);
            }
            std::fs::write(etc.join(name), conf).expect("write the Postfix configuration");
        }
        let postfix = program("postfix");
        // `postfix check` also creates the queue directories with their owners.
        let out = run(Command::new(&postfix).arg("-c").arg(&etc).arg("check"));
        assert!(
            out.status.success(),
            "`postfix -c {} check` failed:\n{}{}",
            etc.display(),
            text(&out.stdout),
            text(&out.stderr)
        );
        // start-fg: the master stays a child of this process, and with
        // maillog_file = /dev/stdout the log comes through the pipe (`postfix start`
        // would fail silently without syslog).
        let mut child = Command::new(&postfix)
            .arg("-c")
            .arg(&etc)
            .arg("start-fg")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start Postfix");
        let log = Log::default();
        log.capture(child.stdout.take().expect("piped stdout"));
        log.capture(child.stderr.take().expect("piped stderr"));
        let mut pf = Postfix {
            dir: dir.to_owned(),
            etc,
            smtp_port,
            relay_port,
            child: Some(child),
            log,
        };
        let log = pf.log.clone();
        let child = pf.child.as_mut().expect("started");
        wait_for(
            "Postfix to listen",
            PATIENCE,
            || format!("Postfix log:\n{}", log.text()),
            || {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("Postfix exited with {status}:\n{}", log.text());
                }
                (accepts(smtp_port) && accepts(relay_port)).then_some(())
            },
        );
        pf
    }

    fn log(&self) -> String {
        self.log.text()
    }

    /// Waits until the log has a line containing every one of `parts`, and returns it.
    fn wait_for_log(&self, parts: &[&str]) -> String {
        wait_for(
            &format!("a Postfix log line with {parts:?}"),
            PATIENCE,
            || format!("Postfix log:\n{}", self.log()),
            || {
                self.log()
                    .lines()
                    .find(|l| parts.iter().all(|p| l.contains(p)))
                    .map(str::to_owned)
            },
        )
    }

    /// The messages delivered to bob@example.net, oldest first.
    fn delivered(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = ["new", "cur"]
            .iter()
            .filter_map(|sub| std::fs::read_dir(self.dir.join("mail/bob").join(sub)).ok())
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        // Maildir names start with the delivery time in seconds, then a sequence.
        files.sort();
        files
            .iter()
            .map(|f| text(&std::fs::read(f).expect("read a delivered message")))
            .collect()
    }

    /// Waits until `n` messages are delivered, makes sure no more come, returns them.
    fn wait_for_delivered(&self, n: usize) -> Vec<String> {
        wait_for(
            &format!("{n} delivered message(s)"),
            PATIENCE,
            || format!("Postfix log:\n{}", self.log()),
            || (self.delivered().len() >= n).then_some(()),
        );
        self.settle();
        let got = self.delivered();
        assert_eq!(
            got.len(),
            n,
            "expected exactly {n} delivered message(s)\nPostfix log:\n{}",
            self.log()
        );
        got
    }

    /// Waits until the queue is empty (nothing waiting, deferred, held or bounced).
    fn settle(&self) {
        wait_for(
            "an empty Postfix queue",
            PATIENCE,
            || {
                format!(
                    "queue files: {:?}\nPostfix log:\n{}",
                    self.queue_files(),
                    self.log()
                )
            },
            || self.queue_files().is_empty().then_some(()),
        );
        // A bounce or a late delivery would be queued within a moment.
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            self.queue_files().is_empty(),
            "the queue filled again: {:?}\n{}",
            self.queue_files(),
            self.log()
        );
    }

    /// Every message file in the queue.
    fn queue_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
        let mut out = Vec::new();
        for q in [
            "maildrop", "incoming", "active", "deferred", "hold", "corrupt",
        ] {
            walk(&self.dir.join("queue").join(q), &mut out);
        }
        out
    }

    /// Stops the master (SIGTERM, as `postfix stop` does); it stops its children.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = std::fs::read_to_string(self.dir.join("queue/pid/master.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        if let Some(pid) = pid {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let start = Instant::now();
        while child.try_wait().ok().flatten().is_none() {
            if start.elapsed() > Duration::from_secs(10) {
                // Last resort: `postfix abort`, then the shell itself.
                let _ = Command::new(program("postfix"))
                    .arg("-c")
                    .arg(&self.etc)
                    .arg("abort")
                    .output();
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("---- Postfix log ----\n{}", self.log.text());
        }
    }
}

/// What swaks printed, and how it exited.
#[derive(Debug)]
struct Swaks {
    status: Option<i32>,
    transcript: String,
}

impl Swaks {
    /// The server's reply lines (`<-` and the error replies `<**`), without the arrow.
    fn replies(&self) -> Vec<&str> {
        self.transcript
            .lines()
            .filter_map(|l| {
                l.strip_prefix("<** ")
                    .or_else(|| l.strip_prefix("<-  "))
                    .or_else(|| l.strip_prefix("<- "))
            })
            .map(str::trim)
            .collect()
    }

    /// The reply to the end of DATA (the last reply before QUIT's 221).
    fn data_reply(&self) -> &str {
        let replies = self.replies();
        let end = replies
            .iter()
            .rposition(|r| !r.starts_with("221"))
            .unwrap_or_else(|| panic!("no reply from the server:\n{}", self.transcript));
        replies[end]
    }

    /// The queue id from `250 2.0.0 Ok: queued as ID`.
    fn queue_id(&self) -> String {
        let reply = self.data_reply();
        reply
            .strip_prefix("250 2.0.0 Ok: queued as ")
            .unwrap_or_else(|| panic!("not accepted: {reply}\n{}", self.transcript))
            .to_owned()
    }
}

/// One message sent with swaks.
#[derive(Debug)]
struct Mail<'a> {
    port: u16,
    /// XCLIENT attributes (`ADDR=... NAME=...`): the client Postfix and the milter see.
    xclient: Option<&'a str>,
    helo: &'a str,
    from: &'a str,
    data: &'a Path,
    /// A header line swaks adds, to tell messages apart (not covered by DKIM).
    header: Option<&'a str>,
}

impl Mail<'_> {
    fn run(&self) -> Swaks {
        let mut cmd = Command::new(program("swaks"));
        cmd.arg("--server")
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["--helo", self.helo, "--from", self.from])
            .args([
                "--to",
                "bob@example.net",
                "--timeout",
                "60",
                "--suppress-data",
            ])
            .arg("--data")
            .arg(format!("@{}", self.data.display()));
        if let Some(x) = self.xclient {
            cmd.args(["--xclient", x]);
        }
        if let Some(h) = self.header {
            cmd.args(["--add-header", h]);
        }
        let out = run(&mut cmd);
        Swaks {
            status: out.status.code(),
            transcript: format!("{}{}", text(&out.stdout), text(&out.stderr)),
        }
    }
}

/// The header fields of a message: (name, value as written, after the colon).
fn header_fields(message: &str) -> Vec<(String, String)> {
    let head = message
        .split_once("\n\n")
        .map_or(message, |(h, _)| h)
        .replace("\r\n", "\n");
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = fields.last_mut() {
                v.push('\n');
                v.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.to_owned(), value.to_owned()));
        }
    }
    fields
}

/// A header value unfolded, runs of white space made one space, trimmed.
fn unfolded(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The header fields from the top, without those the delivery agent added at delivery.
fn fields_as_received(message: &str) -> Vec<(String, String)> {
    header_fields(message)
        .into_iter()
        .skip_while(|(n, _)| {
            ["Return-Path", "X-Original-To", "Delivered-To"]
                .iter()
                .any(|d| n.eq_ignore_ascii_case(d))
        })
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

fn example(path: &str) -> PathBuf {
    root().join("examples").join(path)
}

/// Milter configuration lines answering DNS from the bundled example zone.
fn zone_config() -> String {
    format!(
        "authserv_id = \"mx.test\"\nenforce_reject = true\ntempfail_on_dns_error = true\n\
         [dns]\nzone_file = \"{}\"\n",
        example("example.zone").display()
    )
}

fn signing_config() -> String {
    format!(
        "[[signing]]\nsender = \"*@example.com\"\ndomain = \"example.com\"\n\
         selector = \"s2026\"\nkey = \"{}\"\n",
        example("keys/s2026.private").display()
    )
}

/// Case 1: mail from example.com's own MX with a valid signature is delivered with
/// `Authentication-Results: mx.test; spf=pass ... dkim=pass ... dmarc=pass` on top.
#[test]
fn inbound_pass_is_delivered_with_authentication_results() {
    let _serial = serial();
    require_tools();
    let tmp = TempDir::new("inbound");
    let milter = Milter::start(&tmp.0, &zone_config());
    let postfix = Postfix::start(&tmp.0, milter.port);
    // Forged results under our authserv-id (two: deleting the first must not shift the
    // second deletion onto the field after it), and a relay's own, which stays.
    let data = tmp.0.join("with-forged-results.eml");
    let mut forged =
        b"Authentication-Results: mx.test; dmarc=pass header.from=example.com (first)\r\n\
        Authentication-Results: MX.TEST; dmarc=pass header.from=example.com (second)\r\n\
        Authentication-Results: relay.other.test; spf=pass (kept)\r\n"
            .to_vec();
    forged.extend(std::fs::read(example("messages/alice-to-bob.eml")).expect("the example"));
    std::fs::write(&data, forged).expect("write the message");
    let sent = Mail {
        port: postfix.smtp_port,
        xclient: Some("ADDR=192.0.2.25 NAME=mail.example.com"),
        helo: "mail.example.com",
        from: "alice@example.com",
        data: &data,
        header: None,
    }
    .run();
    assert!(sent.data_reply().starts_with("250 "), "{}", sent.transcript);
    let id = sent.queue_id();
    let delivered = postfix.wait_for_delivered(1);
    postfix.wait_for_log(&[&id, "to=<bob@example.net>", "status=sent"]);
    let fields = fields_as_received(&delivered[0]);
    let (top_name, top_value) = &fields[0];
    assert_eq!(
        top_name, "Authentication-Results",
        "the first field (after the delivery agent's) must be Authentication-Results:\n{}",
        delivered[0]
    );
    let ar = unfolded(top_value);
    for part in [
        "mx.test;",
        "spf=pass",
        "smtp.mailfrom=alice@example.com",
        "dkim=pass header.d=example.com",
        "header.s=s2026",
        "dmarc=pass",
        "header.from=example.com",
    ] {
        assert!(
            ar.contains(part),
            "no {part:?} in Authentication-Results: {ar}"
        );
    }
    assert!(ar.starts_with("mx.test;"), "authserv-id first: {ar}");
    let results = field(&fields, "Authentication-Results");
    assert!(
        results.len() == 2 && unfolded(results[1]) == "relay.other.test; spf=pass (kept)",
        "the forged results deleted, the relay's kept: {results:?}"
    );
    // Above Postfix's own Received field, and the message itself untouched.
    let received = fields
        .iter()
        .position(|(n, _)| n == "Received")
        .expect("a Received field");
    assert!(received > 0);
    assert_eq!(field(&fields, "DKIM-Signature").len(), 1);
    assert!(delivered[0].contains("opened last week.\n\nAlice\n"));
    // Nothing held: the mail is not quarantined.
    assert!(!postfix.log().contains("milter-hold"), "{}", postfix.log());
}

/// Case 2: a spoofed From of example.com (p=reject) from a foreign client is refused
/// with 550 5.7.1 at the end of DATA: nothing delivered, nothing queued, no bounce.
#[test]
fn spoofed_reject_policy_mail_is_refused_at_smtp_time() {
    let _serial = serial();
    require_tools();
    let tmp = TempDir::new("spoofed");
    let milter = Milter::start(&tmp.0, &zone_config());
    let postfix = Postfix::start(&tmp.0, milter.port);
    let sent = Mail {
        port: postfix.smtp_port,
        xclient: Some("ADDR=203.0.113.66 NAME=[UNAVAILABLE]"),
        helo: "mail.attacker.test",
        from: "ceo@example.com",
        data: &example("messages/spoofed-ceo.eml"),
        header: None,
    }
    .run();
    assert_eq!(
        sent.data_reply(),
        "550 5.7.1 rejected by the DMARC policy of example.com",
        "{}",
        sent.transcript
    );
    assert_ne!(sent.status, Some(0), "swaks must report the refusal");
    // The transaction got as far as DATA: the refusal is the milter's, at end of DATA.
    assert!(sent.replies().iter().any(|r| r.starts_with("354")));
    postfix.wait_for_log(&[
        "milter-reject: END-OF-MESSAGE from unknown[203.0.113.66]",
        "5.7.1 rejected by the DMARC policy of example.com",
    ]);
    postfix.settle();
    assert!(postfix.delivered().is_empty(), "{}", postfix.log());
    let log = postfix.log();
    for bounce in [
        "status=bounced",
        "sender non-delivery notification",
        "queued as",
    ] {
        assert!(!log.contains(bounce), "found {bounce:?} in the log:\n{log}");
    }
}

/// The TXT record of s2026._domainkey.example.com as dkimpy_tool.py's DNS map.
fn dkimpy_dns(dir: &Path) -> PathBuf {
    let record = std::fs::read_to_string(example("keys/s2026.txt")).expect("s2026.txt");
    // The zone-file line: `NAME TTL IN TXT ( "part" "part" )`.
    let value: String = record
        .split('"')
        .skip(1)
        .step_by(2)
        .collect::<Vec<_>>()
        .concat();
    assert!(value.starts_with("v=DKIM1;"), "s2026.txt: {record}");
    let map = serde_json::json!({ "s2026._domainkey.example.com": value });
    let path = dir.join("dns.json");
    std::fs::write(&path, map.to_string()).expect("write dns.json");
    path
}

/// Runs `cmd` with `input` on standard input.
fn run_with_input(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait for the child");
    writer.join().expect("stdin writer");
    out
}

/// Case 3: a trusted client's mail from alice@example.com gets a DKIM-Signature, and the
/// delivered copy verifies with dkimpy and with `monban verify`.
#[test]
fn trusted_client_mail_is_signed_and_verifies_elsewhere() {
    let _serial = serial();
    require_tools();
    require_dkimpy();
    let tmp = TempDir::new("signing");
    let config = format!(
        "trusted_networks = [\"10.0.0.0/8\"]\n{}{}",
        zone_config(),
        signing_config()
    );
    let milter = Milter::start(&tmp.0, &config);
    let postfix = Postfix::start(&tmp.0, milter.port);
    let sent = send_outbound(
        postfix.smtp_port,
        Some("ADDR=10.1.2.3 NAME=[UNAVAILABLE]"),
        "laptop.example.com",
    );
    sent.queue_id();
    let delivered = postfix.wait_for_delivered(1);
    let message = &delivered[0];
    let fields = fields_as_received(message);
    assert_eq!(
        fields[0].0, "DKIM-Signature",
        "signature on top:\n{message}"
    );
    let sig = unfolded(&fields[0].1);
    for tag in ["a=rsa-sha256", "d=example.com", "s=s2026", "bh=", "b="] {
        assert!(sig.contains(tag), "no {tag} in DKIM-Signature: {sig}");
    }
    assert_eq!(field(&fields, "DKIM-Signature").len(), 1);
    // Trusted mail is signed, not judged.
    assert!(
        field(&fields, "Authentication-Results").is_empty(),
        "{message}"
    );

    // The signature's folded lines end as the others do: sent with CRLF through the
    // milter protocol, they were delivered with CR CR LF.
    assert!(
        !message.contains('\r'),
        "a CR in the delivered copy:\n{message:?}"
    );
    let file = tmp.0.join("delivered.eml");
    std::fs::write(&file, message).expect("write the delivered copy");
    // dkimpy, the second implementation.
    let dns = dkimpy_dns(&tmp.0);
    let out = run_with_input(
        Command::new("python3")
            .current_dir(root())
            .arg("tests/interop/dkimpy_tool.py")
            .arg("verify")
            .arg("--dns")
            .arg(&dns),
        message.as_bytes(),
    );
    assert!(
        out.status.success(),
        "dkimpy_tool.py: {}",
        text(&out.stderr)
    );
    let valid: Value = serde_json::from_slice(&out.stdout).expect("dkimpy_tool.py JSON");
    assert_eq!(
        valid,
        serde_json::json!([true]),
        "dkimpy does not verify the signature: {}\n{message}",
        text(&out.stderr)
    );
    // monban itself, from the zone file.
    let out = run(Command::new(env!("CARGO_BIN_EXE_monban"))
        .args(["verify", "--json", "--zone"])
        .arg(example("example.zone"))
        .args(["--ip", "10.1.2.3", "--mail-from", "alice@example.com"])
        .arg(&file));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).expect("monban verify JSON");
    let dkim = report["dkim"].as_array().expect("dkim list");
    assert_eq!(dkim.len(), 1, "{report}");
    assert_eq!(dkim[0]["result"], "pass", "{report}");
    assert_eq!(dkim[0]["domain"], "example.com", "{report}");
    assert_eq!(report["dmarc"]["result"], "pass", "{report}");
}

/// A DNS "server address" that can go down and come back on the same address: UDP and
/// TCP on a fixed 127.0.0.1 port, forwarded to a `TestDnsServer` (which only binds
/// ephemeral ports). Stopped, nothing listens on the address any more.
#[derive(Debug)]
struct DnsFront {
    addr: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl DnsFront {
    async fn start(addr: SocketAddr, backend: SocketAddr) -> std::io::Result<DnsFront> {
        use tokio::net::{TcpStream, UdpSocket};
        // Port 0: an ephemeral port free for both UDP and TCP; the address DNS comes
        // back on is bound as given.
        let (udp, tcp) = monban_testdns::bind_pair(addr).await?;
        let addr = udp.local_addr()?;
        let udp_task = tokio::spawn(async move {
            let Ok(upstream) = UdpSocket::bind("127.0.0.1:0").await else {
                return;
            };
            let mut query = vec![0u8; 65535];
            let mut answer = vec![0u8; 65535];
            loop {
                // Errors (an ICMP error from an earlier send) are not fatal.
                let Ok((n, client)) = udp.recv_from(&mut query).await else {
                    continue;
                };
                if upstream.send_to(&query[..n], backend).await.is_err() {
                    continue;
                }
                let wait = tokio::time::timeout(Duration::from_secs(2), async {
                    loop {
                        match upstream.recv_from(&mut answer).await {
                            // Answers must match the query's id (a late answer may come).
                            Ok((m, from))
                                if from == backend && m >= 2 && answer[..2] == query[..2] =>
                            {
                                return Some(m);
                            }
                            Ok(_) => {}
                            Err(_) => return None,
                        }
                    }
                })
                .await;
                if let Ok(Some(m)) = wait {
                    let _ = udp.send_to(&answer[..m], client).await;
                }
            }
        });
        let tcp_task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = tcp.accept().await {
                connections.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Ok(DnsFront {
            addr,
            tasks: vec![udp_task, tcp_task],
        })
    }

    /// Closes both sockets (the tasks owning them are dropped before this returns).
    async fn stop(self) {
        for t in self.tasks {
            t.abort();
            let _ = t.await;
        }
    }
}

/// Case 4: DNS unreachable → 451 4.7.5 (DMARC temperror), then delivered once DNS is back.
///
/// Two paths: (a) straight to the milter's smtpd with swaks, which sees the 451 itself and
/// sends again after DNS is back; (b) through Postfix's queue: a second smtpd of the same
/// instance without the milter accepts the message and relays it with the smtp client to
/// the first (a content_filter hop), so Postfix is the sending MTA: it gets the 451,
/// defers the message, and retries it on its own (backoff 1-2 s) until it is delivered.
#[test]
fn dns_outage_tempfails_then_delivers_once_dns_is_back() {
    let _serial = serial();
    require_tools();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let zone = ZoneResolver::from_file(example("example.zone")).expect("example.zone");
    let backend = rt
        .block_on(TestDnsServer::start(&zone))
        .expect("start the DNS server");
    let front = rt
        .block_on(DnsFront::start(
            "127.0.0.1:0".parse().expect("an address"),
            backend.addr(),
        ))
        .expect("start the DNS front");
    let dns_addr = front.addr;

    let tmp = TempDir::new("dns");
    // Nothing is trusted (not even this host, trusted by default): the hop's smtp
    // client (127.0.0.1) is judged like anyone.
    let config = format!(
        "authserv_id = \"mx.test\"\ntempfail_on_dns_error = true\ntrusted_networks = []\n\
         [dns]\nserver = \"{dns_addr}\"\ntimeout_seconds = 1\n"
    );
    let milter = Milter::start(&tmp.0, &config);
    let postfix = Postfix::start(&tmp.0, milter.port);
    let alice = example("messages/alice-to-bob.eml");
    let direct = |tag: &str| {
        Mail {
            port: postfix.smtp_port,
            xclient: Some("ADDR=192.0.2.25 NAME=mail.example.com"),
            helo: "mail.example.com",
            from: "alice@example.com",
            data: &alice,
            header: Some(tag),
        }
        .run()
    };

    // DNS goes away: nothing answers on its address any more.
    rt.block_on(async {
        front.stop().await;
        backend.stop().await;
    });
    let refused = direct("X-Monban-Test: direct-1");
    assert!(
        refused
            .data_reply()
            .starts_with("451 4.7.5 DMARC evaluation hit a temporary DNS error"),
        "{}",
        refused.transcript
    );
    let hop = Mail {
        port: postfix.relay_port,
        xclient: None,
        helo: "mail.example.com",
        from: "alice@example.com",
        data: &alice,
        header: Some("X-Monban-Test: hop"),
    }
    .run();
    let hop_id = hop.queue_id();
    // Postfix's smtp client got the 451 and kept the message.
    let deferred = postfix.wait_for_log(&[
        &hop_id,
        "status=deferred",
        "said: 451 4.7.5 DMARC evaluation hit a temporary DNS error",
    ]);
    eprintln!("DNS down, direct: {}", refused.data_reply());
    eprintln!("DNS down, through the queue: {deferred}");
    assert!(postfix.delivered().is_empty(), "{}", postfix.log());
    assert!(
        !postfix.queue_files().is_empty(),
        "the hop message must wait in the queue"
    );

    // DNS comes back on the same address.
    let (backend, front) = rt.block_on(async {
        let backend = TestDnsServer::start(&zone)
            .await
            .expect("restart the DNS server");
        let front = DnsFront::start(dns_addr, backend.addr())
            .await
            .expect("bind the DNS address again");
        (backend, front)
    });
    let accepted = direct("X-Monban-Test: direct-2");
    accepted.queue_id();
    let delivered = postfix.wait_for_delivered(2);
    postfix.wait_for_log(&[&hop_id, "to=<bob@example.net>", "status=sent"]);
    let mut tags: Vec<String> = delivered
        .iter()
        .map(|m| {
            let fields = header_fields(m);
            let tag = field(&fields, "X-Monban-Test");
            assert_eq!(tag.len(), 1, "{m}");
            let ar = field(&fields_as_received(m), "Authentication-Results")
                .first()
                .map(|v| unfolded(v))
                .unwrap_or_default();
            assert!(
                ar.contains("dkim=pass") && ar.contains("dmarc=pass"),
                "after the outage: {ar}\n{m}"
            );
            unfolded(tag[0])
        })
        .collect();
    tags.sort();
    assert_eq!(tags, ["direct-2", "hop"], "each message exactly once");
    // The hop message was deferred at least once and then sent: a retry by Postfix.
    let log = postfix.log();
    let hop_lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(&format!("{hop_id}: to=<bob@example.net>")))
        .collect();
    assert!(
        hop_lines.len() >= 2 && hop_lines.last().is_some_and(|l| l.contains("status=sent")),
        "{hop_lines:#?}"
    );
    drop(postfix);
    drop(milter);
    rt.block_on(async {
        front.stop().await;
        backend.stop().await;
    });
}

/// A minimal SMTP client, for cutting a session at a precise step.
#[derive(Debug)]
struct Smtp {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    transcript: String,
}

impl Smtp {
    fn connect(port: u16) -> Smtp {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to smtpd");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("a read timeout");
        let mut smtp = Smtp {
            reader: BufReader::new(stream.try_clone().expect("clone the stream")),
            writer: stream,
            transcript: String::new(),
        };
        let greeting = smtp.reply();
        assert!(greeting.starts_with("220"), "{greeting}");
        smtp
    }

    /// Reads one (possibly multi-line) reply; returns its last line.
    fn reply(&mut self) -> String {
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).expect("read a reply");
            assert!(
                n > 0,
                "the server closed the connection:\n{}",
                self.transcript
            );
            self.transcript.push_str("S: ");
            self.transcript.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return line.trim_end().to_owned();
            }
        }
    }

    fn send(&mut self, data: &str) {
        self.writer
            .write_all(data.as_bytes())
            .expect("write to smtpd");
        for l in data.lines() {
            self.transcript.push_str("C: ");
            self.transcript.push_str(l);
            self.transcript.push('\n');
        }
    }

    fn command(&mut self, line: &str) -> String {
        self.send(&format!("{line}\r\n"));
        self.reply()
    }

    fn expect(&mut self, line: &str, code: &str) {
        let reply = self.command(line);
        assert!(
            reply.starts_with(code),
            "{line} → {reply}\n{}",
            self.transcript
        );
    }

    /// Up to and including MAIL FROM, as 192.0.2.25 (example.com's MX) via XCLIENT.
    fn start_transaction(port: u16) -> Smtp {
        let mut smtp = Smtp::connect(port);
        smtp.expect("EHLO test.client", "250");
        smtp.expect("XCLIENT ADDR=192.0.2.25 NAME=mail.example.com", "220");
        smtp.expect("EHLO mail.example.com", "250");
        smtp.expect("MAIL FROM:<alice@example.com>", "250");
        smtp
    }
}

/// The message of examples/messages/alice-to-bob.eml with CRLF line ends, split into the
/// header and the body, with a tag header that tells the attempts apart.
fn alice_crlf(tag: &str) -> (String, String) {
    let raw = std::fs::read_to_string(example("messages/alice-to-bob.eml")).expect("message");
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").expect("header and body");
    let crlf = |s: &str| s.replace('\n', "\r\n");
    (
        crlf(&format!("{head}\nX-Monban-Test: {tag}\n\n")),
        crlf(body),
    )
}

/// Case 5: the milter dies (SIGKILL) mid-session; with milter_default_action = tempfail
/// the client gets a 4xx and nothing is delivered; once the milter runs again, the
/// message sent again is delivered exactly once.
#[test]
fn killed_milter_tempfails_then_delivers_exactly_once() {
    let _serial = serial();
    require_tools();
    let tmp = TempDir::new("killed");
    let mut milter = Milter::start(&tmp.0, &zone_config());
    let postfix = Postfix::start(&tmp.0, milter.port);

    // (a) Killed after MAIL FROM: the next milter event, RCPT, fails.
    let mut smtp = Smtp::start_transaction(postfix.smtp_port);
    milter.kill();
    let rcpt = smtp.command("RCPT TO:<bob@example.net>");
    assert!(
        rcpt.starts_with('4'),
        "RCPT after the milter died: {rcpt}\n{}",
        smtp.transcript
    );
    eprintln!("killed after MAIL FROM: RCPT → {rcpt}");
    let data = smtp.command("DATA");
    assert!(!data.starts_with("354"), "DATA without a recipient: {data}");
    smtp.expect("QUIT", "221");

    // (b) Killed while the message is being sent: the end of DATA fails.
    milter.restart();
    let mut smtp = Smtp::start_transaction(postfix.smtp_port);
    smtp.expect("RCPT TO:<bob@example.net>", "250");
    smtp.expect("DATA", "354");
    let (head, body) = alice_crlf("killed-in-data");
    smtp.send(&head);
    milter.kill();
    smtp.send(&body);
    let end = smtp.command(".");
    assert!(
        end.starts_with('4'),
        "end of DATA after the milter died: {end}\n{}",
        smtp.transcript
    );
    smtp.expect("QUIT", "221");

    eprintln!("killed during DATA: end of DATA → {end}");

    // (c) No milter at all when the session starts.
    let down = Mail {
        port: postfix.smtp_port,
        xclient: Some("ADDR=192.0.2.25 NAME=mail.example.com"),
        helo: "mail.example.com",
        from: "alice@example.com",
        data: &example("messages/alice-to-bob.eml"),
        header: Some("X-Monban-Test: milter-down"),
    }
    .run();
    assert!(
        down.replies().iter().any(|r| r.starts_with('4')),
        "no 4xx with the milter down:\n{}",
        down.transcript
    );
    eprintln!("milter down:\n{}", down.transcript);
    assert!(
        !down.replies().iter().any(|r| r.contains("queued as")),
        "{}",
        down.transcript
    );
    postfix.settle();
    assert!(postfix.delivered().is_empty(), "{}", postfix.log());

    // The milter is back: the message sent again is delivered, once.
    milter.restart();
    let again = Mail {
        port: postfix.smtp_port,
        xclient: Some("ADDR=192.0.2.25 NAME=mail.example.com"),
        helo: "mail.example.com",
        from: "alice@example.com",
        data: &example("messages/alice-to-bob.eml"),
        header: Some("X-Monban-Test: again"),
    }
    .run();
    again.queue_id();
    let delivered = postfix.wait_for_delivered(1);
    let fields = header_fields(&delivered[0]);
    assert_eq!(
        field(&fields, "X-Monban-Test")
            .iter()
            .map(|v| unfolded(v))
            .collect::<Vec<_>>(),
        ["again"]
    );
    let ar = unfolded(field(&fields, "Authentication-Results")[0]);
    assert!(ar.contains("dmarc=pass"), "{ar}");
    milter.stop();
}

/// With SMFIP_HDR_LEADSPC negotiated, a milter must give inserted header values their
/// leading space itself; Postfix writes `Name:` and the value verbatim. Ignored while
/// monban inserts `Authentication-Results` and `DKIM-Signature` without it (they are
/// delivered as `Authentication-Results:mx.test;` and `DKIM-Signature:v=1; ...`).
#[test]
fn inserted_fields_have_a_space_after_the_colon() {
    let _serial = serial();
    require_tools();
    let tmp = TempDir::new("leadspace");
    let config = format!(
        "trusted_networks = [\"10.0.0.0/8\"]\n{}{}",
        zone_config(),
        signing_config()
    );
    let milter = Milter::start(&tmp.0, &config);
    let postfix = Postfix::start(&tmp.0, milter.port);
    let alice = example("messages/alice-to-bob.eml");
    for xclient in [
        "ADDR=192.0.2.25 NAME=mail.example.com",
        "ADDR=10.1.2.3 NAME=[UNAVAILABLE]",
    ] {
        Mail {
            port: postfix.smtp_port,
            xclient: Some(xclient),
            helo: "mail.example.com",
            from: "alice@example.com",
            data: &alice,
            header: None,
        }
        .run()
        .queue_id();
    }
    let delivered = postfix.wait_for_delivered(2);
    let all = delivered.concat();
    let mut found: HashMap<&str, usize> = HashMap::new();
    for line in all.lines() {
        for name in ["Authentication-Results:", "DKIM-Signature:"] {
            if let Some(rest) = line.strip_prefix(name) {
                assert!(rest.starts_with(' '), "no space after the colon: {line}");
                *found.entry(name).or_default() += 1;
            }
        }
    }
    // One A-R (inbound) and three signatures: two original, one added.
    assert_eq!(found.get("Authentication-Results:"), Some(&1), "{all}");
    assert_eq!(found.get("DKIM-Signature:"), Some(&3), "{all}");
}

/// Sends one message of `filler` header bytes (X-Filler fields under Postfix's
/// header_size_limit, then an unsigned `From: alice@example.com`) from 203.0.113.5,
/// which example.com's SPF does not list; returns the reply to the end of DATA.
fn size_probe(port: u16, filler: usize) -> String {
    let mut smtp = Smtp::connect(port);
    smtp.expect("EHLO test.client", "250");
    smtp.expect("XCLIENT ADDR=203.0.113.5 NAME=[UNAVAILABLE]", "220");
    smtp.expect("EHLO mail.attacker.test", "250");
    smtp.expect("MAIL FROM:<alice@example.com>", "250");
    smtp.expect("RCPT TO:<bob@example.net>", "250");
    smtp.expect("DATA", "354");
    let mut data = String::with_capacity(filler + 256);
    let mut left = filler;
    let mut n = 0;
    while left > 0 {
        // "X-Filler-NNNNN: " (16) + value + CRLF; the last field takes what is left,
        // at least 19 bytes (one value byte).
        let mut take = left.min(900);
        if left - take > 0 && left - take < 19 {
            take -= 19;
        }
        let take = take.max(19);
        data.push_str(&format!("X-Filler-{n:05}: {}\r\n", "a".repeat(take - 18)));
        left -= take.min(left);
        n += 1;
    }
    data.push_str("From: Alice <alice@example.com>\r\nTo: bob@example.net\r\n");
    data.push_str("Subject: invoice\r\n\r\nPlease pay.\r\n.\r\n");
    // Not through `send`: the transcript would hold a megabyte.
    smtp.writer
        .write_all(data.as_bytes())
        .expect("write the message");
    let reply = smtp.reply();
    let _ = smtp.command("QUIT");
    reply
}

/// Issue 9, the attack as reported: an attacker searches the header size (a 550 said
/// "too small", a 451 "too large") until the From field falls just past the milter's
/// 1 MiB limit, where it was dropped unseen and the spoof of a p=reject domain was
/// delivered. The same search now meets a DMARC 550 below the limit and a 552 above
/// it, and nothing is delivered, queued or bounced.
#[test]
fn regression_issue9_header_size_search_delivers_nothing() {
    let _serial = serial();
    require_tools();
    let tmp = TempDir::new("size-search");
    let milter = Milter::start(&tmp.0, &zone_config());
    let postfix = Postfix::start(&tmp.0, milter.port);
    let judged = |r: &str| r.starts_with("550 5.7.1 rejected by the DMARC policy of example.com");
    let refused = |r: &str| r.starts_with("552 5.3.4 the message header is too large");
    let mut replies: Vec<(usize, String)> = Vec::new();
    let mut probe = |size: usize| -> bool {
        let r = size_probe(postfix.smtp_port, size);
        assert!(
            judged(&r) || refused(&r),
            "filler {size}: unexpected reply {r}\n{}",
            postfix.log()
        );
        replies.push((size, r.clone()));
        judged(&r)
    };
    // Bisect between a size that is judged and one that is refused.
    let (mut lo, mut hi) = (900 * 1024, 1100 * 1024);
    assert!(probe(lo), "{replies:?}");
    assert!(!probe(hi), "{replies:?}");
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if probe(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    // Every size around the edge, the way the attacker finishes the search.
    for size in lo.saturating_sub(40)..=hi + 40 {
        let was_judged = probe(size);
        assert_eq!(was_judged, size <= lo, "filler {size}: the edge moved");
    }
    postfix.settle();
    assert!(postfix.delivered().is_empty(), "{}", postfix.log());
    let log = postfix.log();
    for bad in [
        "status=sent",
        "status=bounced",
        "sender non-delivery notification",
    ] {
        assert!(!log.contains(bad), "found {bad:?} in the log:\n{log}");
    }
    assert!(replies.len() > 90, "{} probes", replies.len());
    drop(milter);
}

/// The UTC day of a Unix time, `YYYY-MM-DD`.
fn utc_day(unix: u64) -> String {
    let (y, m, d) = monban::rfc5322::datetime::civil_from_days((unix / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Issue 11, done when: a day of mail through the real Postfix and the milter becomes
/// aggregate reports that validate against the RFC 9990 XSD, that parsedmarc reads with
/// the same counts, and that are delivered to an SMTP sink DKIM-signed and aligned.
#[test]
fn a_day_of_mail_becomes_reports_delivered_signed_and_aligned() {
    let _serial = serial();
    require_tools();
    let tmp = TempDir::new("reports");
    let db = tmp.0.join("monban.db");
    let store = format!("sqlite:{}", db.display());
    let config = format!(
        "{}{}[store]\nurl = \"{store}\"\n",
        zone_config(),
        signing_config()
    );
    let mut milter = Milter::start(&tmp.0, &config);
    let postfix = Postfix::start(&tmp.0, milter.port);
    let first_day = utc_day(unix_now());
    // (client, HELO, MAIL FROM, message, accepted?)
    let traffic = [
        (
            "ADDR=192.0.2.25 NAME=mail.example.com",
            "mail.example.com",
            "alice@example.com",
            "messages/alice-to-bob.eml",
            true,
        ),
        (
            "ADDR=192.0.2.25 NAME=mail.example.com",
            "mail.example.com",
            "alice@example.com",
            "messages/alice-to-bob.eml",
            true,
        ),
        (
            "ADDR=198.51.100.10 NAME=mx.mailer.example.net",
            "mx.mailer.example.net",
            "bounces@example.com",
            "messages/newsletter-via-mailer.eml",
            true,
        ),
        (
            "ADDR=203.0.113.5 NAME=lists.example.org",
            "lists.example.org",
            "lunch-club-bounces@example.org",
            "messages/via-mailing-list.eml",
            false,
        ),
        (
            "ADDR=203.0.113.66 NAME=[UNAVAILABLE]",
            "mail.attacker.test",
            "ceo@example.com",
            "messages/spoofed-ceo.eml",
            false,
        ),
    ];
    for (xclient, helo, from, data, accepted) in traffic {
        let sent = Mail {
            port: postfix.smtp_port,
            xclient: Some(xclient),
            helo,
            from,
            data: &example(data),
            header: None,
        }
        .run();
        let reply = sent.data_reply();
        assert_eq!(
            reply.starts_with("250 "),
            accepted,
            "{data}: {}",
            sent.transcript
        );
        if !accepted {
            assert!(reply.starts_with("550 5.7.1"), "{reply}");
        }
    }
    postfix.wait_for_delivered(3);
    // A clean stop: the journal is drained into the store.
    milter.stop();
    let last_day = utc_day(unix_now());

    // Generate the day (two, if midnight UTC passed meanwhile).
    let out = tmp.0.join("reports");
    let mut reports = Vec::new();
    for day in [first_day.clone(), last_day.clone()]
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
    {
        let g = common::reports::generate(&store, "Test Receiver", day, &out);
        reports.extend(g["reports"].as_array().unwrap().clone());
    }
    let messages: u64 = reports
        .iter()
        .map(|r| r["messages"].as_u64().unwrap())
        .sum();
    assert_eq!(messages, 5, "{reports:?}");
    assert!(reports.iter().all(|r| r["domain"] == "example.com"));
    let mut files = Vec::new();
    for r in &reports {
        let file = PathBuf::from(r["file"].as_str().unwrap());
        let xml = common::reports::gunzip(&file);
        common::reports::assert_valid_rfc9990(&xml, &tmp.0);
        files.push(file);
    }
    let parsed = common::reports::parsedmarc(&files);
    let parsed_messages: u64 = parsed.iter().map(|p| p["messages"].as_u64().unwrap()).sum();
    assert_eq!(parsed_messages, 5, "{parsed:?}");
    let rejected: u64 = parsed
        .iter()
        .flat_map(|p| p["records"].as_array().unwrap().clone())
        .filter(|r| r["disposition"] == "reject")
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(rejected, 2, "{parsed:?}");

    // Sent to a loopback SMTP sink, signed with the milter's signing table, once due:
    // a report of a day still running is sent as it is an hour after the day's end,
    // unless the day is generated again by then.
    let sink = common::sink::Sink::start(&tmp.0.join("sink"), &[]);
    let sink_port = sink.port;
    let zone = example("example.zone");
    let at =
        ((unix_now() / 86_400 + 1) * 86_400 + monban_store::REGENERATE_GRACE as u64).to_string();
    let out = run(Command::new(env!("CARGO_BIN_EXE_monban"))
        .arg("--zone")
        .arg(&zone)
        .args(["report", "send", "--at", &at, "--store", &store, "--smtp"])
        .arg(format!("127.0.0.1:{sink_port}"))
        .args([
            "--starttls",
            "never",
            "--from",
            "dmarc-reports@example.com",
            "--milter-config",
        ])
        .arg(tmp.0.join("monban.toml"))
        .arg("--json"));
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["sent"].as_u64(),
        Some(reports.len() as u64),
        "{summary}"
    );
    let delivered = sink.whole_messages(reports.len());
    assert_eq!(delivered.len(), reports.len());
    for m in &delivered {
        let msg = &m[m.find("DKIM-Signature:").expect("signed")..];
        let v = run_with_input(
            Command::new(env!("CARGO_BIN_EXE_monban"))
                .arg("--zone")
                .arg(&zone)
                .args(["verify", "--at", &at, "--json", "-"]),
            msg.as_bytes(),
        );
        let v: Value = serde_json::from_slice(&v.stdout).unwrap();
        assert_eq!(v["dkim"][0]["result"], "pass", "{v}");
        assert_eq!(v["dmarc"]["result"], "pass", "{v}");
        assert_eq!(v["dmarc"]["dkim_aligned"], true, "{v}");
    }
}

/// Issue 15: iprev, DNS lists and HELO names are judged at CONNECT and HELO, so a
/// refused client never reaches DATA. The test zone adds a block list (`bl.test`, which
/// refuses), a list that only tags (`tag.test`), an allow list (`wl.test`) and the
/// reverse DNS of an allowed relay; iprev `fail` is answered 451, an invalid HELO 550.
#[test]
fn listed_clients_are_refused_before_data() {
    let _serial = serial();
    require_tools();
    let tmp = TempDir::new("connect");
    let mut zone = std::fs::read_to_string(example("example.zone")).unwrap();
    zone.push_str(
        "\n; Issue 15 test lists.\n\
         66.113.0.203.bl.test. 300 IN A 127.0.0.2\n\
         77.113.0.203.bl.test. 300 IN A 127.0.0.2\n\
         77.113.0.203.wl.test. 300 IN A 127.0.10.3\n\
         25.2.0.192.tag.test. 300 IN A 127.0.0.4\n\
         77.113.0.203.in-addr.arpa. 300 IN PTR relay.allowed.test.\n\
         relay.allowed.test. 300 IN A 203.0.113.77\n",
    );
    let zone_file = tmp.0.join("connect.zone");
    std::fs::write(&zone_file, zone).unwrap();
    let config = format!(
        "authserv_id = \"mx.test\"\nenforce_reject = true\niprev_fail = \"tempfail\"\n\
         helo_invalid = \"reject\"\n\
         [dns]\nzone_file = \"{}\"\n\
         [[dnsbl]]\nzone = \"bl.test\"\nmessage = \"see https://bl.test/\"\n\
         [[dnsbl]]\nzone = \"tag.test\"\naction = \"tag\"\n\
         [[dnsbl]]\nzone = \"wl.test\"\nkind = \"allow\"\n",
        zone_file.display()
    );
    let milter = Milter::start(&tmp.0, &config);
    let postfix = Postfix::start(&tmp.0, milter.port);
    let send = |xclient: &'static str, helo: &'static str| {
        Mail {
            port: postfix.smtp_port,
            xclient: Some(xclient),
            helo,
            from: "alice@example.com",
            data: &example("messages/alice-to-bob.eml"),
            header: None,
        }
        .run()
    };

    // A client on the block list: checked at CONNECT, refused at MAIL FROM (a client
    // that logs in is not refused) with the list named, before DATA.
    let listed = send("ADDR=203.0.113.66 NAME=[UNAVAILABLE]", "mail.example.com");
    let refusal = "554 5.7.1 203.0.113.66 is listed on bl.test (127.0.0.2): see https://bl.test/";
    assert!(
        listed.replies().iter().any(|r| r.starts_with(refusal)),
        "{}",
        listed.transcript
    );
    assert!(
        !listed.replies().iter().any(|r| r.starts_with("354")),
        "DATA must never be reached:\n{}",
        listed.transcript
    );
    postfix.wait_for_log(&["milter-reject: MAIL from unknown[203.0.113.66]", refusal]);

    // No reverse name (iprev=permerror): 451, the client retries.
    let unnamed = send("ADDR=198.51.100.99 NAME=[UNAVAILABLE]", "mail.example.com");
    assert!(
        unnamed.replies().iter().any(
            |r| r.starts_with("451 4.7.1 the reverse DNS of 198.51.100.99 does not confirm it")
        ),
        "{}",
        unnamed.transcript
    );
    assert!(!unnamed.replies().iter().any(|r| r.starts_with("354")));

    // A HELO name that is no valid name: 550 at MAIL FROM.
    let bad_helo = send("ADDR=192.0.2.25 NAME=mail.example.com", "localhost");
    assert!(
        bad_helo.replies().iter().any(|r| r.contains(
            "550 5.7.1 the HELO name \"localhost\" is not a fully qualified domain name"
        )),
        "{}",
        bad_helo.transcript
    );
    assert!(!bad_helo.replies().iter().any(|r| r.starts_with("354")));

    // Listed on the block list and on the allow list, with a confirmed name: accepted.
    let allowed = send(
        "ADDR=203.0.113.77 NAME=relay.allowed.test",
        "relay.allowed.test",
    );
    assert!(
        allowed.data_reply().starts_with("250 "),
        "{}",
        allowed.transcript
    );
    // On the list that tags: delivered, tagged, and the listing in the A-R.
    let tagged = send("ADDR=192.0.2.25 NAME=mail.example.com", "mail.example.com");
    assert!(
        tagged.data_reply().starts_with("250 "),
        "{}",
        tagged.transcript
    );

    let delivered = postfix.wait_for_delivered(2);
    let mut seen_tag = false;
    for message in &delivered {
        let fields = fields_as_received(message);
        let ar = unfolded(field(&fields, "Authentication-Results")[0]);
        let tags = field(&fields, "X-Monban-Tag");
        if ar.contains("policy.iprev=192.0.2.25") {
            assert_eq!(tags, [" dnsbl=tag.test"], "{message}");
            assert!(
                ar.contains("x-dnsbl=listed policy.zone=tag.test policy.code=127.0.0.4"),
                "{ar}"
            );
            assert!(
                ar.contains("x-dnsbl=not-listed policy.zone=bl.test"),
                "{ar}"
            );
            seen_tag = true;
        } else {
            assert!(ar.contains("policy.iprev=203.0.113.77"), "{ar}");
            assert!(ar.contains("x-dnswl=listed policy.zone=wl.test"), "{ar}");
            assert!(
                ar.contains("x-dnsbl=skipped") || !ar.contains("policy.zone=bl.test"),
                "{ar}"
            );
            assert!(tags.is_empty(), "{message}");
        }
    }
    assert!(seen_tag, "the tagged message was not delivered");
    postfix.settle();
    assert_eq!(postfix.delivered().len(), 2, "{}", postfix.log());
}

/// Issue 17: the README's milter configuration, used as written (only its port, its key
/// path and an offline DNS zone changed), signs mail a local user submits on this host:
/// loopback is trusted by default and the README's list keeps it.
#[test]
fn readme_config_signs_a_local_submission() {
    let _serial = serial();
    require_tools();
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let start = readme
        .find("2. **Configuration**")
        .expect("the README's configuration step");
    let block = readme[start..]
        .split("```toml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a toml block in the configuration step");
    let config: String = block
        .lines()
        .map(str::trim_start)
        // Milter::start writes its own listen line; the metrics port may be taken.
        .filter(|l| !l.starts_with("listen ") && !l.starts_with("metrics_listen"))
        .map(|l| {
            if l.starts_with("key ") {
                format!("key = \"{}\"", example("keys/s2026.private").display())
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(config.contains("[[signing]]"), "{config}");
    let tmp = TempDir::new("readme");
    let config = format!(
        "{config}\n[dns]\nzone_file = \"{}\"\n",
        example("example.zone").display()
    );
    let milter = Milter::start(&tmp.0, &config);
    let postfix = Postfix::start(&tmp.0, milter.port);
    // A local submission: no XCLIENT, the client is 127.0.0.1.
    let sent = send_outbound(postfix.smtp_port, None, "localhost");
    sent.queue_id();
    let delivered = postfix.wait_for_delivered(1);
    let fields = fields_as_received(&delivered[0]);
    assert_eq!(fields[0].0, "DKIM-Signature", "{}", delivered[0]);
    assert!(unfolded(&fields[0].1).contains("d=example.com"));
    assert!(
        field(&fields, "Authentication-Results").is_empty(),
        "signed, not judged:\n{}",
        delivered[0]
    );
}

/// Issue 17: an OpenDKIM configuration with a KeyTable and a refile: SigningTable,
/// imported with `monban milter import-opendkim`, signs through the real Postfix.
#[test]
fn imported_opendkim_key_table_signs() {
    let _serial = serial();
    require_tools();
    let tmp = TempDir::new("import");
    let dir = &tmp.0;
    std::fs::write(
        dir.join("KeyTable"),
        format!(
            "# name domain:selector:keyfile\nk1 example.com:s2026:{}\n",
            example("keys/s2026.private").display()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("SigningTable"), "*@example.com k1\n").unwrap();
    std::fs::write(dir.join("TrustedHosts"), "127.0.0.1\n10.0.0.0/8\n").unwrap();
    let conf = dir.join("opendkim.conf");
    std::fs::write(
        &conf,
        format!(
            "Syslog yes\nMode sv\nSocket inet:8891@localhost\nCanonicalization relaxed/relaxed\n\
             KeyTable refile:{d}/KeyTable\nSigningTable refile:{d}/SigningTable\n\
             InternalHosts refile:{d}/TrustedHosts\nExternalIgnoreList refile:{d}/TrustedHosts\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let dmarc = dir.join("opendmarc.conf");
    std::fs::write(&dmarc, "AuthservID mx.test\nRejectFailures true\n").unwrap();
    let out_path = dir.join("imported.toml");
    let out = run(Command::new(env!("CARGO_BIN_EXE_monban"))
        .args(["milter", "import-opendkim"])
        .arg(&conf)
        .arg("--opendmarc")
        .arg(&dmarc)
        .arg("--out")
        .arg(&out_path));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("not translated: canonicalization"),
        "{}",
        text(&out.stderr)
    );
    let imported = std::fs::read_to_string(&out_path).unwrap();
    // The imported file passes the check as it is.
    let check = run(Command::new(env!("CARGO_BIN_EXE_monban"))
        .args(["milter", "--check-config", "--config"])
        .arg(&out_path));
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}\n{imported}",
        text(&check.stderr)
    );
    // Milter::start writes its own listen line (a free port) and the test DNS.
    let config: String = imported
        .lines()
        .filter(|l| !l.starts_with("listen "))
        .map(|l| format!("{l}\n"))
        .collect();
    let config = format!(
        "{config}[dns]\nzone_file = \"{}\"\n",
        example("example.zone").display()
    );
    let milter = Milter::start(dir, &config);
    let postfix = Postfix::start(dir, milter.port);
    let sent = send_outbound(
        postfix.smtp_port,
        Some("ADDR=10.1.2.3 NAME=[UNAVAILABLE]"),
        "laptop.example.com",
    );
    sent.queue_id();
    let delivered = postfix.wait_for_delivered(1);
    let fields = fields_as_received(&delivered[0]);
    assert_eq!(fields[0].0, "DKIM-Signature", "{}", delivered[0]);
    let sig = unfolded(&fields[0].1);
    assert!(
        sig.contains("d=example.com") && sig.contains("s=s2026"),
        "{sig}"
    );
}

/// tests/postfix/outbound.eml from alice@example.com, as a client at `xclient` (or this
/// host) greeting with `helo`.
fn send_outbound(port: u16, xclient: Option<&str>, helo: &str) -> Swaks {
    let outbound = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/postfix/outbound.eml");
    Mail {
        port,
        xclient,
        helo,
        from: "alice@example.com",
        data: &outbound,
        header: None,
    }
    .run()
}

/// Issue 17: test by sending. A message to the reflector address is judged, consumed
/// (never delivered to the reflector's mailbox) and its envelope sender gets a report
/// in English and Japanese, sent with a null envelope sender and Auto-Submitted.
#[test]
fn reflector_answers_with_a_report() {
    let _serial = serial();
    require_tools();
    let tmp = TempDir::new("reflector");
    let mut milter = Milter::start(&tmp.0, &zone_config());
    let postfix = Postfix::start(&tmp.0, milter.port);
    // Now that Postfix's port is known: the replies go back through it.
    milter.stop();
    let config = std::fs::read_to_string(&milter.config).unwrap();
    let (first, rest) = config.split_once('\n').unwrap();
    std::fs::write(
        &milter.config,
        format!(
            "{first}\nreflector = \"check-auth@example.net\"\nreflector_smtp = \"127.0.0.1:{}\"\n{rest}",
            postfix.smtp_port
        ),
    )
    .unwrap();
    milter.restart();
    let swaks = |from: &str, extra: &[&str]| {
        let mut cmd = Command::new(program("swaks"));
        cmd.arg("--server")
            .arg(format!("127.0.0.1:{}", postfix.smtp_port))
            .args(["--xclient", "ADDR=192.0.2.25 NAME=mail.example.com"])
            .args(["--helo", "mail.example.com", "--from", from])
            .args(["--to", "check-auth@example.net", "--timeout", "60"])
            .arg("--data")
            .arg(format!(
                "@{}",
                example("messages/alice-to-bob.eml").display()
            ))
            .args(extra);
        run(&mut cmd)
    };
    let out = swaks("bob@example.net", &[]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    // The report comes back to bob.
    let delivered = postfix.wait_for_delivered(1);
    let reply = &delivered[0];
    let fields = fields_as_received(reply);
    let subject = field(&fields, "Subject");
    assert!(!subject.is_empty(), "{reply}");
    assert_eq!(
        field(&fields, "Auto-Submitted"),
        [" auto-replied"],
        "{reply}"
    );
    let all = header_fields(reply);
    assert!(
        field(&all, "Return-Path").iter().any(|r| r.trim() == "<>"),
        "a null envelope sender: {reply}"
    );
    assert!(!reply.contains("--selector"), "no CLI words: {reply}");
    for part in [
        "monban received your test message",
        "dkim=pass header.d=example.com",
        "DKIM (RFC 6376) checks a domain's signature",
        "dmarc=pass",
        "Advice for example.com",
        "monban はテストメッセージを受け取り",
        "DKIM (RFC 6376) はヘッダーフィールドと本文",
    ] {
        assert!(reply.contains(part), "no {part:?} in the reply:\n{reply}");
    }
    // Nothing was delivered to the reflector's own mailbox.
    let check_box = tmp.0.join("mail/check/new");
    assert!(
        std::fs::read_dir(&check_box).map_or(true, |d| d.count() == 0),
        "the test message must be consumed"
    );
    // An automatic message gets no reply.
    let out = swaks(
        "bob@example.net",
        &["--add-header", "Auto-Submitted: auto-generated"],
    );
    assert!(out.status.success(), "{}", text(&out.stdout));
    postfix.settle();
    assert_eq!(postfix.delivered().len(), 1, "{}", postfix.log());
    assert!(
        milter
            .log
            .text()
            .contains("reflector: no reply: the message is automatic")
    );
}
