//! `monban milter` as a process: configuration checks, a live connection, SIGHUP with a
//! broken file keeping the old configuration, SIGTERM stopping cleanly.

mod common;
use common::free_port;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn monban() -> Command {
    Command::new(env!("CARGO_BIN_EXE_monban"))
}

fn kill(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

/// The daemons of these tests one at a time: each picks a free port and binds it a
/// moment later, and two started together could be given the same one (one test then
/// talks to the other's daemon; seen as a reset connection).
static ONE_DAEMON: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Sends an option negotiation on `s` and returns the milter's 17-byte reply.
fn negotiate(s: &mut (impl Read + Write)) -> Vec<u8> {
    let mut pkt = 13u32.to_be_bytes().to_vec();
    pkt.push(b'O');
    for v in [6u32, 0x1ff, 0x1f_ffff] {
        pkt.extend_from_slice(&v.to_be_bytes());
    }
    s.write_all(&pkt).unwrap();
    let mut reply = [0u8; 17];
    s.read_exact(&mut reply).unwrap();
    reply.to_vec()
}

/// Runs `monban milter --config CFG` expecting it to refuse to start: its stderr,
/// which must hold `says`.
fn milter_refuses(cfg: &std::path::Path, says: &str) -> String {
    let out = monban()
        .args(["milter", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(says), "{stderr}");
    stderr
}

/// Waits up to 20 s until a connection to the Unix socket at `sock` is taken; fails
/// saying `never` if it is not, or if the milter ends first.
fn wait_for_socket(child: &mut std::process::Child, sock: &std::path::Path, never: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::os::unix::net::UnixStream::connect(sock).is_err() {
        assert!(Instant::now() < deadline, "{never}");
        assert!(child.try_wait().unwrap().is_none(), "the milter ended");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Negotiates over the Unix socket at `sock`: a milter answers there.
fn answers_on(sock: &std::path::Path) {
    let mut s = std::os::unix::net::UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(negotiate(&mut s)[4], b'O');
}

fn optneg(addr: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    negotiate(&mut s)
}

#[test]
fn config_check_and_sample() {
    let out = monban()
        .args(["milter", "--print-sample-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let sample = String::from_utf8(out.stdout).unwrap();
    assert!(sample.contains("authserv_id = ") && sample.contains("[[signing]]"));
    let dir = std::env::temp_dir().join(format!("monban-cli-milter-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.toml");
    std::fs::write(&good, "authserv_id = \"mx.test\"\n").unwrap();
    let out = monban()
        .args([
            "milter",
            "--check-config",
            "--config",
            good.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "authserv_id = \"mx.test\"\nquarantine = \"drop\"\n").unwrap();
    let out = monban()
        .args([
            "milter",
            "--check-config",
            "--config",
            bad.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.toml: quarantine"));
    // A zone file that is missing fails the check, not only the start.
    let missing = dir.join("missing-zone.toml");
    std::fs::write(
        &missing,
        "authserv_id = \"mx.test\"\n[dns]\nzone_file = \"nope.zone\"\n",
    )
    .unwrap();
    let check = |config: &Path, extra: &[&str]| {
        monban()
            .args(extra)
            .args(["milter", "--check-config", "--config"])
            .arg(config)
            .output()
            .unwrap()
    };
    let out = check(&missing, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("nope.zone"), "{stderr}");
    // --zone (and --dns-server) win over [dns], and say so; they were ignored.
    let zone = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/example.zone");
    let out = check(&missing, &["--zone", zone.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("DNS from the command line"), "{stderr}");
    let out = check(&good, &["--dns-timeout", "0"]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn daemon_reload_and_stop() {
    let _one = ONE_DAEMON.lock().unwrap_or_else(|p| p.into_inner());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::temp_dir().join(format!("monban-cli-milter-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let cfg = dir.join("monban.toml");
    let zone = root.join("examples/example.zone");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"inet:{addr}\"\nauthserv_id = \"mx.test\"\nmetrics_listen = \"{metrics_addr}\"\n[dns]\nzone_file = \"{}\"\n",
            zone.display()
        ),
    )
    .unwrap();
    let mut child = monban()
        .args(["milter", "--config", cfg.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Err(status) =
        common::wait_listening(&mut child, port, Duration::from_secs(20), &String::new)
    {
        panic!("the milter ended before it listened: {status}");
    }
    assert_eq!(optneg(&addr)[4], b'O');
    // The log, line by line: each reload is waited for by its line, not by a sleep (a
    // busy machine may read the file late, after the next write).
    let log = {
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        rx
    };
    let mut seen: Vec<String> = Vec::new();
    let mut wait_for_line = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !seen.iter().any(|l| l.contains(needle)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match log.recv_timeout(left) {
                Ok(line) => seen.push(line),
                Err(_) => panic!("no log line with {needle:?} in 20 s: {seen:#?}"),
            }
        }
    };
    // The metrics endpoint answers in the Prometheus text format.
    let mut m = TcpStream::connect(&metrics_addr).unwrap();
    m.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    m.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.contains("monban_milter_sessions_total"), "{text}");
    // A reload names what it does not apply (read at start only).
    let moved = format!("127.0.0.1:{}", free_port());
    std::fs::write(
        &cfg,
        format!(
            "listen = \"inet:{addr}\"\nauthserv_id = \"mx.test\"\nmetrics_listen = \"{moved}\"\nmax_connections = 7\n[dns]\nzone_file = \"{}\"\n",
            zone.display()
        ),
    )
    .unwrap();
    kill(child.id(), "-HUP");
    wait_for_line(
        "configuration reloaded, except metrics_listen, the connection limits (max_connections, *_timeout_seconds): read at start only",
    );
    assert_eq!(optneg(&addr)[4], b'O');
    // A broken file on SIGHUP: refused, the daemon keeps serving.
    std::fs::write(&cfg, "this is not toml =").unwrap();
    kill(child.id(), "-HUP");
    wait_for_line("reload refused");
    assert_eq!(optneg(&addr)[4], b'O');
    assert!(
        child.try_wait().unwrap().is_none(),
        "the daemon died on a bad reload"
    );
    kill(child.id(), "-TERM");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    std::fs::remove_dir_all(&dir).ok();
}

/// The CPU time (user + system) of a process, in clock ticks, from /proc.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name is in parentheses and may hold spaces: count after the last ')'.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after ')'.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Issue 9: at the file-descriptor limit every accept failed at once and the loop spun
/// (117% CPU). With 32 descriptors and 60 connections waiting, the milter now pauses
/// after each failed accept: over 3 s it uses a small part of one second of CPU (a
/// spinning loop uses all 3), says so in its log, and serves again once connections
/// close.
#[test]
fn regression_issue9_accept_errors_back_off_instead_of_spinning() {
    let _one = ONE_DAEMON.lock().unwrap_or_else(|p| p.into_inner());
    let dir = std::env::temp_dir().join(format!("monban-cli-milter-fd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let config = dir.join("m.toml");
    std::fs::write(
        &config,
        format!("listen = \"inet:127.0.0.1:{port}\"\nauthserv_id = \"mx.test\"\n"),
    )
    .unwrap();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 32 && exec '{}' milter --config '{}'",
            env!("CARGO_BIN_EXE_monban"),
            config.display()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The log is read as it comes, so that a full pipe never stops the process.
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = {
        let log = log.clone();
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                log.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let addr = format!("127.0.0.1:{port}");
    if let Err(status) = common::wait_listening(&mut child, port, Duration::from_secs(20), &|| {
        String::from_utf8_lossy(&log.lock().unwrap()).into_owned()
    }) {
        panic!("the milter ended before it listened: {status}");
    }
    let mut held: Vec<TcpStream> = (0..60)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let before = cpu_ticks(child.id());
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_ticks(child.id()) - before;
    // 100 ticks per second on Linux: a spinning loop would use about 300.
    assert!(used < 100, "{used} ticks of CPU in 3 s");
    // Free the descriptors: the milter serves a new connection again.
    held.clear();
    let start = Instant::now();
    loop {
        if TcpStream::connect(&addr).is_ok_and(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut pkt = 13u32.to_be_bytes().to_vec();
            pkt.push(b'O');
            for v in [6u32, 0x1ff, 0x1f_ffff] {
                pkt.extend_from_slice(&v.to_be_bytes());
            }
            s.write_all(&pkt).is_ok() && s.read(&mut [0u8; 17]).is_ok_and(|n| n > 0)
        }) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "never served again"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    kill(child.id(), "-TERM");
    child.wait().unwrap();
    reader.join().unwrap();
    let log = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    assert!(log.contains("accept failed"), "{log}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Issue 17: a Unix socket gets `listen_mode` and `listen_group` (Postfix's smtpd must
/// be able to open it), `--check-config` warns about unintended settings, and no Rust
/// debug text reaches the user.
#[test]
fn unix_socket_mode_group_and_warnings() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let _one = ONE_DAEMON.lock().unwrap_or_else(|p| p.into_inner());
    let dir = std::env::temp_dir().join(format!("monban-cli-milter-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("milter.sock");
    let cfg = dir.join("monban.toml");
    // A group that exists here (the test runs as root; root's group is in /etc/group).
    let group = common::other_group();
    std::fs::write(
        &cfg,
        format!(
            "listen = \"unix:{}\"\nauthserv_id = \"mx.test\"\nlisten_mode = \"0660\"\nlisten_group = \"{}\"\ntrusted_networks = [\"10.0.0.0/8\"]\n",
            sock.display(),
            group.0
        ),
    )
    .unwrap();
    let out = monban()
        .args([
            "milter",
            "--check-config",
            "--config",
            cfg.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains(&format!("listening on unix:{}", sock.display())),
        "{stdout}"
    );
    assert!(
        stderr.contains("warning") && stderr.contains("does not include this host"),
        "{stderr}"
    );
    for debug in ["Inet(", "Unix(", "Some(", "Err("] {
        assert!(
            !stdout.contains(debug) && !stderr.contains(debug),
            "{stdout}{stderr}"
        );
    }

    let mut child = monban()
        .args(["milter", "--config", cfg.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let meta = loop {
        if let Ok(m) = std::fs::metadata(&sock)
            && m.permissions().mode() & 0o777 == 0o660
            && m.gid() == group.1
        {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "the socket never got its mode and group"
        );
        assert!(child.try_wait().unwrap().is_none(), "the milter ended");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    answers_on(&sock);
    // A second milter on the same socket: refused, the first one's socket left alone.
    milter_refuses(&cfg, "another process is listening on it");
    answers_on(&sock);
    kill(child.id(), "-TERM");
    assert_eq!(child.wait().unwrap().code(), Some(0));
    // A path that is not a socket is never removed.
    let _ = std::fs::remove_file(&sock);
    std::fs::write(&sock, "precious").unwrap();
    milter_refuses(&cfg, "is not a socket (not removed)");
    assert_eq!(std::fs::read_to_string(&sock).unwrap(), "precious");
    // A socket nobody answers on (left by a run that ended) is replaced.
    std::fs::remove_file(&sock).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    let mut child = monban()
        .args(["milter", "--config", cfg.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_socket(&mut child, &sock, "the stale socket was not replaced");
    answers_on(&sock);
    kill(child.id(), "-TERM");
    assert_eq!(child.wait().unwrap().code(), Some(0));
    std::fs::remove_dir_all(&dir).ok();
}

/// A second milter given the running one's journal folder refuses to start, and does so
/// before it touches the socket: it used to replace the running milter's Unix socket
/// with its own and exit, leaving Postfix talking to no one.
#[test]
fn a_second_milter_on_one_journal_leaves_the_first_serving() {
    let _one = ONE_DAEMON.lock().unwrap_or_else(|p| p.into_inner());
    let dir = std::env::temp_dir().join(format!("monban-cli-milter-twice-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("milter.sock");
    let cfg = dir.join("monban.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"unix:{}\"\nauthserv_id = \"mx.test\"\n[store]\nurl = \"sqlite:{}\"\nrecord = true\njournal = \"{}\"\n",
            sock.display(),
            dir.join("monban.db").display(),
            dir.join("journal").display()
        ),
    )
    .unwrap();
    let mut first = monban()
        .args(["milter", "--config", cfg.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_socket(&mut first, &sock, "the first milter never listened");
    milter_refuses(&cfg, "is in use by another monban process");
    // The first one still answers on its socket.
    answers_on(&sock);
    kill(first.id(), "-TERM");
    assert_eq!(first.wait().unwrap().code(), Some(0));
    std::fs::remove_dir_all(&dir).ok();
}

/// `milter import-opendkim` reads the configuration up to 1 MiB (one byte more: refused,
/// exit 1) and each table it names up to 16 MiB (one byte more: that table is not
/// translated, and the import says so).
#[test]
fn opendkim_import_reads_bounded_files() {
    let dir = common::Dir::new("import-limits");
    // A host list of exactly `size` bytes: one network, then a comment.
    let hosts = |size: usize| {
        let mut t = b"10.99.0.0/16\n#".to_vec();
        t.resize(size - 1, b' ');
        t.push(b'\n');
        t
    };
    let table = 16 * 1024 * 1024;
    let exact = dir.file("hosts-exact", &hosts(table));
    let over = dir.file("hosts-over", &hosts(table + 1));
    // A configuration of exactly `size` bytes naming `list`.
    let conf = |name: &str, list: &str, size: usize| {
        let mut t = format!("Mode sv\nInternalHosts file:{list}\n#").into_bytes();
        t.resize(size - 1, b' ');
        t.push(b'\n');
        dir.file(name, &t)
    };
    let import = |conf: &str| {
        monban()
            .args(["milter", "import-opendkim", conf])
            .output()
            .unwrap()
    };
    let limit = 1024 * 1024;
    let out = import(&conf("exact.conf", &exact, limit));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("10.99.0.0/16"), "{stdout}");
    assert!(!stderr.contains("larger than"), "{stderr}");

    let out = import(&conf("table-over.conf", &over, limit));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stdout.contains("10.99.0.0/16"), "{stdout}");
    assert!(
        stderr.contains("not translated: InternalHosts")
            && stderr.contains("is larger than 16777216 bytes; refused"),
        "{stderr}"
    );

    let out = import(&conf("conf-over.conf", &exact, limit + 1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is larger than 1048576 bytes; refused"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}
