//! Issue 9 through the `monban` binary: hostile and empty input gets a verdict or one
//! clear error, never a panic, never endless reading. Each test is named after what it
//! reproduces. Inputs that never end are given as files (`/dev/zero`), never written to
//! a child's stdin, so no test races a child that stops reading.

mod common;

use common::Dir;

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn zone() -> String {
    root()
        .join("examples/example.zone")
        .to_str()
        .unwrap()
        .to_owned()
}

/// Runs monban (see `common::run`: killed after 120 s).
fn monban(args: &[&str], stdin: &[u8]) -> Output {
    common::run(args, stdin, &[])
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn regression_issue9_verify_of_nothing_says_so_and_exits_1() {
    let dir = Dir::new("hostile-empty");
    let empty_file = dir.file("empty.eml", b"");
    let empty_dir = dir.0.join("folder");
    std::fs::create_dir_all(&empty_dir).unwrap();
    let z = zone();
    for (args, stdin) in [
        (vec!["verify", "--zone", &z, &empty_file], &b""[..]),
        (vec!["verify", "--zone", &z, "/dev/null"], b""),
        (
            vec!["verify", "--zone", &z, empty_dir.to_str().unwrap()],
            b"",
        ),
        (vec!["verify", "--zone", &z], b""),
        (vec!["verify", "--zone", &z, "-"], b""),
    ] {
        let out = monban(&args, stdin);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("no message"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(out.stdout.is_empty());
    }
}

/// The "Composition Kills" header forms that do not split into fields get a verdict
/// (DMARC permerror, a `malformed` reason, the A-R written), not only an error.
#[test]
fn regression_issue9_unsplittable_headers_get_a_verdict() {
    let z = zone();
    for message in [
        &b" From: ceo@example.com\r\nTo: x@example.org\r\n\r\nbody\r\n"[..],
        b"From\r\n : ceo@example.com\r\n\r\nbody\r\n",
        b"no colon at all\r\nFrom: ceo@example.com\r\n\r\nbody\r\n",
    ] {
        let text = String::from_utf8_lossy(message);
        let out = monban(
            &[
                "verify",
                "--zone",
                &z,
                "--authserv-id",
                "mx.test",
                "--ip",
                "203.0.113.5",
                "--mail-from",
                "ceo@example.com",
                "--helo",
                "mail.example.org",
            ],
            message,
        );
        assert_eq!(out.status.code(), Some(0), "{text:?}: {}", stderr(&out));
        let ar = String::from_utf8_lossy(&out.stdout);
        assert!(ar.starts_with("Authentication-Results: mx.test;"), "{ar}");
        assert!(ar.contains("dmarc=permerror"), "{ar}");
        assert!(!ar.contains("=pass"), "{ar}");
        assert!(
            stderr(&out).contains("malformed message"),
            "{}",
            stderr(&out)
        );

        let out = monban(
            &[
                "verify",
                "--zone",
                &z,
                "--json",
                "--ip",
                "203.0.113.5",
                "--mail-from",
                "ceo@example.com",
            ],
            message,
        );
        assert_eq!(out.status.code(), Some(0));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            v["malformed"]
                .as_str()
                .unwrap()
                .contains("not a header field"),
            "{v}"
        );
        assert_eq!(v["dmarc"]["result"], "permerror");
        assert_eq!(v["spf"]["result"], "none");
        assert_eq!(v["dkim"], Value::Array(Vec::new()));
        // A well-formed message has "malformed": null.
    }
    let ok = monban(
        &["verify", "--zone", &z, "--json"],
        b"From: a@example.com\r\n\r\nhi\r\n",
    );
    let v: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(v["malformed"], Value::Null);
}

/// A spoof of a p=reject domain (example.com) with one header line that does not parse
/// (its From parses) is rejected, as the milter rejects it: with the disposition none,
/// any such line would carry a spoof past p=reject. `--deliver-unparseable-from` asks
/// for none; `--reject-unparseable-from` (the default now) is still accepted.
#[test]
fn trial_a_spoof_with_a_malformed_header_line_is_rejected() {
    let z = zone();
    let spoof = "From: ceo@example.com\r\nTo: x@example.org\r\nSubject: pay\r\n";
    let many: String = (0..5_001).map(|i| format!("X-F{i}: v\r\n")).collect();
    for (what, message) in [
        ("no colon", format!("{spoof}no colon here\r\n\r\nbody\r\n")),
        ("bad name", format!("{spoof}X-B\u{e9}d: v\r\n\r\nbody\r\n")),
        ("5,001 fields", format!("{spoof}{many}\r\nbody\r\n")),
        ("no From", "To: x@example.org\r\n\r\nbody\r\n".to_owned()),
    ] {
        let base = [
            "verify",
            "--zone",
            &z,
            "--json",
            "--ip",
            "203.0.113.66",
            "--mail-from",
            "x@evil.example",
        ];
        for (flag, want) in [
            (None, "reject"),
            (Some("--reject-unparseable-from"), "reject"),
            (Some("--deliver-unparseable-from"), "none"),
        ] {
            let mut args = base.to_vec();
            args.extend(flag);
            let out = monban(&args, message.as_bytes());
            assert_eq!(
                out.status.code(),
                Some(0),
                "{what} {flag:?}: {}",
                stderr(&out)
            );
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["dmarc"]["result"], "permerror", "{what} {flag:?}: {v}");
            assert_eq!(v["dmarc"]["disposition"], want, "{what} {flag:?}: {v}");
        }
    }
    let both = monban(
        &[
            "verify",
            "--zone",
            &z,
            "--reject-unparseable-from",
            "--deliver-unparseable-from",
        ],
        b"From: a@example.com\r\n\r\nhi\r\n",
    );
    assert_eq!(both.status.code(), Some(2), "{}", stderr(&both));
}

/// `/dev/zero` is one endless header line: verify stops at the header limit with a
/// verdict saying so, analyze with an error; neither reads on.
#[test]
fn regression_issue9_endless_input_stops_at_the_limit() {
    let z = zone();
    let out = monban(&["verify", "--zone", &z, "--json", "/dev/zero"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["malformed"].as_str().unwrap().contains("larger than"),
        "{v}"
    );
    assert_eq!(v["dmarc"]["result"], "permerror");

    let out = monban(&["analyze", "/dev/zero"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("larger than"), "{}", stderr(&out));
    // An mbox whose first message never ends (no line break, so no next "From "
    // line): analyze stops at its limit too.
    let dir = Dir::new("hostile-endless-mbox");
    let fifo = dir.0.join("mbox");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            use std::io::Write as _;
            if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&fifo) {
                let _ = f.write_all(b"From x Mon Jan  1 00:00:00 2024\n");
                let zeros = vec![0u8; 1 << 20];
                // Until monban closes its end (a write error) or 200 MiB, whichever is
                // first: 200 MiB means it read on far past its 64 MiB limit.
                for _ in 0..200 {
                    if f.write_all(&zeros).is_err() {
                        return true;
                    }
                }
                return false;
            }
            true
        })
    };
    let out = monban(&["analyze", fifo.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("larger than"), "{}", stderr(&out));
    assert!(writer.join().unwrap(), "monban read on past its limit");
}

/// A header of exactly 1 MiB is judged; one byte more is refused whole, with a verdict.
#[test]
fn regression_issue9_verify_header_limit_exact_and_over() {
    let dir = Dir::new("hostile-limit");
    let z = zone();
    let make = |total: usize| {
        let from = b"From: ceo@example.com\r\n";
        let mut m = Vec::with_capacity(total + 64);
        while m.len() + from.len() < total {
            let room = total - from.len() - m.len();
            let n = room.min(1000);
            if n < 12 {
                // "X-F:" + value + CRLF: the shortest filler is 7 bytes.
                m.extend_from_slice(b"X-F:");
                m.extend(std::iter::repeat_n(b'a', n - 6));
                m.extend_from_slice(b"\r\n");
                break;
            }
            m.extend_from_slice(b"X-Filler: ");
            m.extend(std::iter::repeat_n(b'a', n - 12));
            m.extend_from_slice(b"\r\n");
        }
        m.extend_from_slice(from);
        assert_eq!(m.len(), total);
        m.extend_from_slice(b"\r\nbody\r\n");
        m
    };
    let limit = 1024 * 1024;
    for (total, malformed) in [(limit - 1, false), (limit, false), (limit + 1, true)] {
        let f = dir.file(&format!("m{total}.eml"), &make(total));
        let out = monban(&["verify", "--zone", &z, "--json", &f], b"");
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["malformed"].is_string(), malformed, "{total}: {v}");
        if !malformed {
            // Judged whole: the From at the very end was seen.
            assert_eq!(v["dmarc"]["header_from"], "example.com", "{total}: {v}");
        }
    }
}

#[test]
fn regression_issue9_non_regular_files_are_read_with_a_limit() {
    let z = zone();
    let key = root().join("examples/keys/s2026.private");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "spf",
                "--zone",
                "/dev/zero",
                "--ip",
                "192.0.2.1",
                "--helo",
                "a.example",
            ],
            "/dev/zero",
        ),
        (
            vec![
                "verify",
                "--zone",
                &z,
                "--psl",
                "--psl-file",
                "/dev/zero",
                "/dev/null",
            ],
            "--psl-file /dev/zero",
        ),
        (
            vec![
                "sign",
                "--domain",
                "example.com",
                "--selector",
                "s",
                "--key",
                "/dev/zero",
            ],
            "/dev/zero",
        ),
        (
            vec!["milter", "--config", "/dev/zero", "--check-config"],
            "/dev/zero",
        ),
    ];
    for (args, needle) in cases {
        let out = monban(&args, b"From: a@example.com\r\n\r\nhi\r\n");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(needle) && err.contains("larger than"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(key.exists());
}

/// `Date: ... +a\u{e9}1` (in Date or any Received) made analyze exit 101.
#[test]
fn regression_issue9_analyze_non_ascii_zone_does_not_panic() {
    let message = "Received: from a.example by b.example; Mon, 1 Jan 2024 10:00:00 +a\u{e9}1\r\nFrom: a@example.com\r\nDate: Mon, 1 Jan 2024 10:00:00 +a\u{e9}1\r\n\r\nhi\r\n";
    for extra in [&[][..], &["--json"][..]] {
        let mut args = vec!["analyze"];
        args.extend_from_slice(extra);
        let out = monban(&args, message.as_bytes());
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"));
    }
}

/// `check "d.test\r\nX: y"` was accepted and printed raw; a 100 KB name was echoed
/// whole into the error.
#[test]
fn regression_issue9_check_refuses_names_with_control_characters() {
    let z = zone();
    let long = "a".repeat(100_000);
    for domain in ["d.test\r\nX: y", "d.test\x07", "exa mple.com", &long] {
        let out = monban(&["check", "--zone", &z, domain], b"");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{domain:?}: {err}");
        assert!(err.contains("is not a domain name"), "{err}");
        assert!(err.len() < 400, "{} bytes", err.len());
        assert!(out.stdout.is_empty());
    }
}

/// A reader that goes away (`monban verify ... | head -1`) ends monban quietly: no
/// panic, no error message (it panicked on the broken pipe before).
#[test]
fn regression_issue11_closed_stdout_is_not_a_panic() {
    use std::io::Read as _;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let msg = root.join("examples/messages/alice-to-bob.eml");
    let zone = root.join("examples/example.zone");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_monban"));
    cmd.arg("--zone").arg(&zone).arg("verify");
    // Far more output than a pipe holds.
    for _ in 0..3000 {
        cmd.arg(&msg);
    }
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.code(), Some(0), "{err}");
}

/// `--dns-timeout` takes 1 to 300 seconds: 0 and 301 are usage errors (exit 2), 1 and
/// 300 are taken (the server starts with them).
#[test]
fn dns_timeout_is_1_to_300_seconds() {
    let dir = Dir::new("hostile-dns-timeout");
    let store = format!("sqlite:{}", dir.0.join("m.db").display());
    let args = |seconds: &'static str| -> Vec<String> {
        [
            "--dns-server",
            "127.0.0.1:9",
            "--dns-timeout",
            seconds,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--store",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([store.clone()])
        .collect()
    };
    for bad in ["0", "301"] {
        let a = args(bad);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = monban(&a, b"");
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("--dns-timeout must be between 1 and 300 seconds"),
            "{}",
            stderr(&out)
        );
    }
    for good in ["1", "300"] {
        let a = args(good);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        // Panics unless the server listens.
        drop(common::web::Server::start(&a));
    }
    // The flags are global: a bad value is refused by a command that asks no DNS this
    // time too (it was accepted there, and the mistake surfaced only later).
    let store_arg = store.as_str();
    for a in [
        &[
            "--dns-timeout",
            "0",
            "report",
            "summary",
            "--no-rdns",
            "--store",
            store_arg,
        ][..],
        &[
            "keygen",
            "--dns-timeout",
            "301",
            "--domain",
            "example.com",
            "--selector",
            "s",
        ],
        &[
            "keygen",
            "--dns-server",
            "resolver.example",
            "--domain",
            "example.com",
            "--selector",
            "s",
        ],
    ] {
        let out = monban(a, b"");
        assert_eq!(out.status.code(), Some(2), "{a:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("--dns-"), "{a:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{a:?}: nothing done");
    }
}

/// An authserv-id that is not a token (a space, a quote) is refused by every command
/// that writes one, as the milter's configuration and `seal` refuse it: `verify` wrote
/// it as a quoted string, which RFC 8601 allows and the parsers of the field do not
/// expect (a new user's trial).
#[test]
fn an_authserv_id_is_a_token_everywhere() {
    let z = zone();
    let m = b"From: a@example.com\r\n\r\nbody\r\n";
    for cmd in [&["verify"][..], &["analyze", "--verify"]] {
        for bad in ["mx one.example", "mx\"x", "", "mx;x"] {
            let mut a: Vec<&str> = vec!["--zone", &z];
            a.extend_from_slice(cmd);
            a.extend(["--authserv-id", bad, "-"]);
            let out = monban(&a, m);
            assert_eq!(out.status.code(), Some(2), "{a:?}: {}", stderr(&out));
            assert!(
                stderr(&out).contains("must be a host name or another token"),
                "{a:?}: {}",
                stderr(&out)
            );
            assert!(out.stdout.is_empty(), "{a:?}");
        }
        let mut a: Vec<&str> = vec!["--zone", &z];
        a.extend_from_slice(cmd);
        a.extend(["--authserv-id", "mx-1.example.org", "-"]);
        let out = monban(&a, m);
        assert_eq!(out.status.code(), Some(0), "{a:?}: {}", stderr(&out));
    }
}

/// A limit on processes and threads (`ulimit -u`, systemd's `TasksMax`) below what the
/// async runtime needs gets one clear error and exit 1. tokio panicked there, and hung
/// for good when it could start one of its two workers (its blocking pool waited for
/// that worker at the unwinding). The limit is set with `prlimit --nproc` for a uid no
/// process has (`setpriv`): root is not held to it, and a uid of its own counts only
/// this process. So the test needs root and util-linux; without them, or where that uid
/// cannot run the binary (a `noexec` temporary folder), it says so and passes.
#[test]
fn a_thread_limit_gets_an_error_not_a_panic_or_a_hang() {
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let tools = ["setpriv", "prlimit", "pgrep"].iter().all(|t| {
        Command::new(t)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !root_user || !tools {
        eprintln!("skipped: needs root, setpriv, prlimit and pgrep");
        return;
    }
    // A uid of this run's own, that no process has (pgrep finds none: exit 1).
    let Some(uid) = (0..100)
        .map(|k| 60_000 + (std::process::id() + k) % 5_000)
        .find(|uid| {
            Command::new("pgrep")
                .args(["-U", &uid.to_string()])
                .output()
                .is_ok_and(|o| o.status.code() == Some(1))
        })
    else {
        eprintln!("skipped: no free uid");
        return;
    };
    // Everything the unprivileged uid reads, where it can read it.
    let dir = Dir::new("thread-limit");
    let perms = |p: &std::path::Path, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    perms(&dir.0, 0o755);
    let bin = dir.0.join("monban");
    let placed = std::fs::hard_link(env!("CARGO_BIN_EXE_monban"), &bin)
        .or_else(|_| std::fs::copy(env!("CARGO_BIN_EXE_monban"), &bin).map(|_| ()));
    if let Err(e) = placed {
        eprintln!(
            "skipped: cannot place the binary in {}: {e}",
            dir.0.display()
        );
        return;
    }
    perms(&bin, 0o755);
    let zone = dir.file("example.zone", &std::fs::read(zone()).unwrap());
    let message = dir.file(
        "m.eml",
        &std::fs::read(root().join("examples/messages/alice-to-bob.eml")).unwrap(),
    );
    for path in [&zone, &message] {
        perms(std::path::Path::new(path), 0o644);
    }
    let as_uid = || {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={uid}"))
            .arg(format!("--regid={uid}"))
            .arg("--clear-groups");
        c
    };
    let runs = as_uid()
        .arg(&bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !runs {
        eprintln!("skipped: uid {uid} cannot run {}", bin.display());
        return;
    }
    let run = |nproc: u32| -> Output {
        let child = as_uid()
            .arg("prlimit")
            .arg(format!("--nproc={nproc}"))
            .arg(&bin)
            .args(["verify", "--zone", &zone, &message])
            .env("LC_ALL", "C.UTF-8")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        match rx.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(out) => out.unwrap(),
            Err(_) => {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                panic!("monban under --nproc={nproc} did not end (hung)");
            }
        }
    };
    // The process itself, then one, then two more threads: the runtime wants three (two
    // workers and one for blocking work).
    for nproc in [1, 2, 3] {
        let out = run(nproc);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "--nproc={nproc}: {err}");
        assert!(
            err.contains("threads the async runtime needs") && err.contains("ulimit -u"),
            "--nproc={nproc}: {err}"
        );
        assert!(!err.contains("panicked"), "--nproc={nproc}: {err}");
    }
    // Four: enough for a message read from a file, every time (a probe thread that
    // still counted after it ended would make this fail now and then).
    for _ in 0..5 {
        let out = run(4);
        assert_eq!(out.status.code(), Some(0), "--nproc=4: {}", stderr(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("dkim=pass"));
    }
}

/// A missing input among others does not stop the run: the ones before and after it
/// are verified, in order, the missing one is named on stderr in its place, and the run
/// exits 1. So does a link loop. In a folder, a link to a message is verified and what
/// is left out (a broken link, a subfolder) is said once.
#[test]
fn a_missing_input_does_not_stop_the_others() {
    let dir = Dir::new("hostile-missing");
    let message = std::fs::read(root().join("examples/messages/alice-to-bob.eml")).unwrap();
    let a = dir.file("a.eml", &message);
    let missing = dir.0.join("missing.eml").to_str().unwrap().to_owned();
    let folder = dir.0.join("folder");
    std::fs::create_dir_all(folder.join("sub")).unwrap();
    std::os::unix::fs::symlink(&a, folder.join("link.eml")).unwrap();
    std::os::unix::fs::symlink(dir.0.join("nowhere"), folder.join("broken.eml")).unwrap();
    let z = zone();
    let out = monban(
        &[
            "verify",
            "--zone",
            &z,
            "--json",
            "--jobs",
            "1",
            &a,
            &missing,
            folder.to_str().unwrap(),
            &a,
        ],
        b"",
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let files: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["file"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(files, ["a.eml", "link.eml", "a.eml"], "{err}");
    assert!(
        err.contains("missing.eml: No such file or directory"),
        "{err}"
    );
    assert!(
        err.contains("left out 1 subfolder(s) (folders are not read recursively), 1 link(s) that lead nowhere"),
        "{err}"
    );
    assert!(err.contains("1 input(s) could not be verified"), "{err}");
}

/// The arguments of `monban sign` (the bundled DKIM key, example.com, s2026) or
/// `monban seal` (the bundled ARC key, example.org, arc2026, the bundled zone) of
/// `input`, with `extra` flags; `--domain` and `--selector` only when `extra` does not
/// give them.
fn signing(command: &str, extra: &[&str], input: &str) -> Vec<String> {
    let (key, domain, selector) = match command {
        "sign" => ("s2026", "example.com", "s2026"),
        _ => ("arc2026", "example.org", "arc2026"),
    };
    let key = root().join(format!("examples/keys/{key}.private"));
    let mut args = vec![
        "--zone".to_owned(),
        zone(),
        command.to_owned(),
        "--key".to_owned(),
    ];
    args.push(key.to_str().unwrap().to_owned());
    for (flag, default) in [("--domain", domain), ("--selector", selector)] {
        if !extra.contains(&flag) {
            args.extend([flag.to_owned(), default.to_owned()]);
        }
    }
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args.push(input.to_owned());
    args
}

/// Flags that would make `sign` or `seal` write a broken field are usage errors (exit 2)
/// naming the flag, before the message is read: an `--expire` past x='s twelve digits
/// (it panicked on the overflow), a `;` in a `--headers` name (it injected tags:
/// `from:to;l=0`), a list without From, an authserv-id that is not a token (a `(` in
/// the AAR made it unparseable), a selector with a space (named as given, not
/// lower-cased). An empty input to `seal` is no message (exit 1), not a set over
/// nothing.
#[test]
fn sign_and_seal_refuse_flags_that_would_write_broken_fields() {
    let msg = root().join("examples/messages/alice-to-bob.eml");
    let msg = msg.to_str().unwrap();
    let run = |args: Vec<String>| monban(&args.iter().map(String::as_str).collect::<Vec<_>>(), b"");
    let sign = |extra: &[&str]| run(signing("sign", extra, msg));
    let seal = |extra: &[&str], input: &str| run(signing("seal", extra, input));
    for (out, says) in [
        (sign(&["--expire", "18446744073709551615"]), "--expire"),
        (sign(&["--expire", "999999999999"]), "12 digits"),
        (sign(&["--headers", "from:to;l=0"]), "\"to;l=0\""),
        (sign(&["--headers", "subject"]), "must include From"),
        (sign(&["--headers", ""]), "must include From"),
        (sign(&["--selector", "S 1"]), "--selector \"S 1\""),
        (
            sign(&["--domain", "exa mple.com"]),
            "--domain \"exa mple.com\"",
        ),
        (
            seal(&["--authserv-id", "a(b"], msg),
            "--authserv-id: the authserv-id \"a(b\"",
        ),
        (
            seal(&["--authserv-id", "mx", "--headers", "from:to;x=1"], msg),
            "\"to;x=1\"",
        ),
        (
            seal(&["--authserv-id", "mx", "--headers", "subject"], msg),
            "must include From",
        ),
    ] {
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{says}: {err}");
        assert!(err.contains(says), "{says}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty());
    }
    let dir = Dir::new("hostile-seal-empty");
    let empty = dir.file("empty.eml", b"");
    let out = seal(&["--authserv-id", "mx"], &empty);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("empty.eml: no message"), "{err}");
    assert!(out.stdout.is_empty());
    // The longest expiry x= can say is signed.
    let out = sign(&["--expire", "100000000"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// `sign` and `seal` whose output's reader is gone end quietly with 0, as `verify` and
/// the other commands do (they said "cannot write the output: Broken pipe" and exited
/// 1).
#[test]
fn sign_and_seal_end_quietly_when_the_output_is_closed() {
    let root = root();
    let dir = Dir::new("hostile-sign-pipe");
    let mut message = std::fs::read(root.join("examples/messages/alice-to-bob.eml")).unwrap();
    message.extend(b"a line of body text\r\n".repeat(20_000));
    let msg = dir.file("big.eml", &message);
    let runs = [
        signing("sign", &[], &msg),
        signing("seal", &["--authserv-id", "mx"], &msg),
    ];
    for args in runs {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_monban"))
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
}

/// A command whose standard error cannot be written (`2>&1 | head` after the reader
/// left, `2>/dev/full`) goes on and ends as it would have: `eprintln!` panicked there,
/// exit status 101 in the middle of the work (a trial found `verify --record` and
/// `keygen` ending so).
#[test]
fn commands_go_on_when_standard_error_cannot_be_written() {
    let root = root();
    let dir = Dir::new("hostile-stderr-full");
    let zone = root.join("examples/example.zone");
    let zone = zone.to_str().unwrap();
    let messages: Vec<String> = std::fs::read_dir(root.join("examples/messages"))
        .unwrap()
        .map(|e| e.unwrap().path().to_str().unwrap().to_owned())
        .filter(|p| p.ends_with(".eml"))
        .collect();
    let store = format!("sqlite:{}", dir.0.join("x.db").display());
    let keys = dir.0.join("keys");
    let keys = keys.to_str().unwrap();
    let mut verify = vec!["verify", "--zone", zone, "--store", &store, "--record"];
    verify.extend(messages.iter().map(String::as_str));
    let runs: [Vec<&str>; 2] = [
        verify,
        vec![
            "keygen",
            "--domain",
            "example.com",
            "--selector",
            "s1",
            "--out",
            keys,
        ],
    ];
    for args in runs {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_monban"))
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(full)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{:?}", &args[..2]);
        assert!(!out.stdout.is_empty(), "{:?}", &args[..2]);
    }
    // Every message was recorded, though the summary line could not be written.
    let out = Command::new(env!("CARGO_BIN_EXE_monban"))
        .args(["verify", "--zone", zone, "--store", &store, "--record"])
        .args(&messages)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{} were in the store already", messages.len())),
        "{err}"
    );
}
