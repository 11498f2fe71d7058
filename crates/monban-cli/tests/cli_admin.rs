//! What a mail administrator meets first (issue 17): exit statuses for monitoring,
//! dates as dates, shell completions and manual pages.

mod common;

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn zone() -> String {
    root().join("examples/example.zone").display().to_string()
}

/// `check --fail-on` exits 3 when met (after the report), `--format nagios` prints one
/// line with the Nagios statuses.
#[test]
fn check_exit_statuses_for_monitoring() {
    let z = zone();
    // example.com is red with an unsigned sending setup from an unlisted address.
    let red = [
        "--zone",
        &z,
        "check",
        "example.com",
        "--sending-ip",
        "203.0.113.7",
    ];
    let out = common::run(&red, b"", &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "no --fail-on: 0 whatever the colour"
    );
    let mut a = red.to_vec();
    a.extend(["--fail-on", "red"]);
    let out = common::run(&a, b"", &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("RED"));
    let mut a = red.to_vec();
    a.extend(["--format", "nagios"]);
    let out = common::run(&a, b"", &[]);
    assert_eq!(out.status.code(), Some(2));
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(
        line.starts_with("MONBAN CHECK CRITICAL - example.com: "),
        "{line}"
    );
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.contains("| red="), "{line}");
    assert_eq!(
        line.matches('|').count(),
        1,
        "only the performance data's: {line}"
    );
    // A yellow domain (no selector given: the DKIM finding is yellow).
    let yellow = ["--zone", &z, "check", "example.com", "--fail-on", "red"];
    let out = common::run(&yellow, b"", &[]);
    assert_eq!(out.status.code(), Some(0));
    let out = common::run(
        &["--zone", &z, "check", "example.com", "--fail-on", "yellow"],
        b"",
        &[],
    );
    assert_eq!(out.status.code(), Some(3));
    let out = common::run(
        &["--zone", &z, "check", "example.com", "--format", "nagios"],
        b"",
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    // The line says which finding it is about (a monitoring screen shows only it).
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with(
            "MONBAN CHECK WARNING - example.com: 0 red, 1 yellow (dkim: no DKIM selector given) | red=0 yellow=1 "
        ),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = common::run(&["check", "example.com", "--fail-on", "blue"], b"", &[]);
    assert_eq!(out.status.code(), Some(2));
    // A resolver that answers nothing (a closed port on loopback): every record's
    // lookup fails and the domain is only yellow, but the check was not made: 3, with
    // a line saying why (a trial found 0, which a cron job takes for "fine").
    let closed = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let dead = [
        "--dns-server",
        &closed,
        "--dns-timeout",
        "1",
        "check",
        "example.com",
        "--fail-on",
        "red",
    ];
    let out = common::run(&dead, b"", &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("the check could not be made"), "{err}");
}

/// What `check` refuses as a usage error (2): an IP address for the domain, a selector
/// that is not one (a trial found both checked, with fixes that could not work).
#[test]
fn check_refuses_what_is_not_a_domain_or_a_selector() {
    let z = zone();
    for (args, says) in [
        (vec!["check", "192.0.2.25"], "it is an IP address"),
        (
            vec!["check", "example.com", "--selector", "bad sel"],
            "is not a DKIM selector",
        ),
    ] {
        let mut a = vec!["--zone", z.as_str()];
        a.extend(args);
        let out = common::run(&a, b"", &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{a:?}: {err}");
        assert!(err.contains(says), "{a:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}

/// `--at` takes Unix seconds, a date or an RFC 3339 date-time, with one meaning.
#[test]
fn at_takes_dates() {
    let msg = root().join("examples/messages/alice-to-bob.eml");
    let m = msg.to_str().unwrap();
    let z = zone();
    let run = |at: &str| {
        let out = common::run(
            &[
                "--zone",
                &z,
                "verify",
                "--json",
                "--authserv-id",
                "mx.test",
                "--at",
                at,
                m,
            ],
            b"",
            &[],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let unix = run("1795341600");
    assert_eq!(run("2026-11-22T10:00:00Z"), unix);
    assert_eq!(run("2026-11-22T19:00:00+09:00"), unix);
    let out = common::run(&["verify", "--at", "tomorrow", m], b"", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RFC 3339"));
}

/// Completions for the usual shells and manual pages, from the flag definitions.
#[test]
fn completions_and_manual_pages() {
    for (shell, marker) in [
        ("bash", "_monban()"),
        ("zsh", "#compdef monban"),
        ("fish", "complete -c monban"),
    ] {
        let out = common::run(&["completions", shell], b"", &[]);
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(marker),
            "{shell}: {}",
            &text[..text.len().min(200)]
        );
        assert!(
            text.contains("verify") && text.contains("--sending-ip"),
            "{shell}"
        );
    }
    let dir = std::env::temp_dir().join(format!("monban-man-{}", std::process::id()));
    let out = common::run(&["man", "--out", dir.to_str().unwrap()], b"", &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for page in [
        "monban.1",
        "monban-verify.1",
        "monban-check.1",
        "monban-milter.1",
    ] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        assert!(text.contains(".TH"), "{page}");
    }
    assert!(!dir.join("monban-help.1").exists());
    let check = std::fs::read_to_string(dir.join("monban-check.1")).unwrap();
    assert!(check.contains("fail\\-on"), "the page lists the flags");
    // Every page a page names under SEE ALSO is written (the subcommands' too:
    // monban-report.1 named monban-report-send(1), which was not written).
    let mut named = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for word in text.split(|c: char| c.is_whitespace() || c == ',') {
            let word = word.trim_start_matches("\\fB").replace("\\-", "-");
            if let Some(page) = word
                .strip_suffix("(1)")
                .filter(|p| p.starts_with("monban-"))
            {
                named += 1;
                let page = page.trim_end_matches("\\fR");
                assert!(
                    dir.join(format!("{page}.1")).exists(),
                    "{page}(1) is named but not written"
                );
            }
        }
    }
    assert!(named > 10, "{named}");
    let send = std::fs::read_to_string(dir.join("monban-report-send.1")).unwrap();
    assert!(send.contains("max\\-per\\-hour"), "{send}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `keygen` creates its folder, can give the key to a group, prints the record for web
/// DNS forms; `check --key` says whether the published record is the key's.
#[test]
fn keygen_folder_group_and_check_key() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let dir = std::env::temp_dir().join(format!("monban-keygen-admin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out_dir = dir.join("keys/new");
    let gid = common::other_group();
    let out = common::run(
        &[
            "keygen",
            "--domain",
            "example.com",
            "--selector",
            "s9",
            "--out",
            out_dir.to_str().unwrap(),
            "--group",
            &gid.0,
        ],
        b"",
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Host:  s9._domainkey"), "{text}");
    let value = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Value: "))
        .expect("a Value line");
    assert!(
        value.starts_with("v=DKIM1; k=rsa; p=") && !value.contains('"'),
        "{value}"
    );
    // The folders made for the key are the group's to enter (0750), as the key is its
    // to read: the folder was 0700, so the group could not reach the key.
    for made in [&out_dir, &dir.join("keys")] {
        let m = std::fs::metadata(made).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o750, "{}", made.display());
        assert_eq!(m.gid(), gid.1, "{}", made.display());
    }
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("cannot enter"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = out_dir.join("s9.private");
    let meta = std::fs::metadata(&key).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    assert_eq!(meta.gid(), gid.1);
    // A relative --out (the README's `--out keys/`) whose folders are new: its last
    // ancestor, the empty path, was taken for a folder to give the group, and failed.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_monban"))
        .current_dir(&dir)
        .args([
            "keygen",
            "--domain",
            "example.com",
            "--selector",
            "s7",
            "--out",
            "rel/keys/",
            "--group",
            &gid.0,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let made = std::fs::metadata(dir.join("rel/keys")).unwrap();
    assert_eq!(
        (made.permissions().mode() & 0o777, made.gid()),
        (0o750, gid.1)
    );
    let out = common::run(
        &[
            "keygen",
            "--domain",
            "example.com",
            "--selector",
            "s8",
            "--out",
            out_dir.to_str().unwrap(),
            "--group",
            "no-such-group-here",
        ],
        b"",
        &[],
    );
    assert_eq!(out.status.code(), Some(2));

    // check --key: the published record (the one keygen wrote) against the key.
    let zone = out_dir.join("s9.txt");
    let z = zone.to_str().unwrap();
    let v = check_key(z, &key);
    let dkim: Vec<&serde_json::Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["area"] == "dkim")
        .collect();
    assert!(
        dkim.iter().any(|f| f["severity"] == "green"
            && f["message"]
                .as_str()
                .unwrap()
                .contains("publishes the public key of")),
        "{v}"
    );
    let other = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/keys/s2026.private");
    let v = check_key(z, &other);
    let red = red_dkim(&v);
    assert!(
        red["message"]
            .as_str()
            .unwrap()
            .contains("does not publish the public key")
    );
    assert!(
        red["fix"]
            .as_str()
            .unwrap()
            .contains("s9._domainkey.example.com. 3600 IN TXT")
    );
    // Nothing published at s9 (the example zone): the fix is the given key's own
    // record, not a new key from keygen (which would not be the key that signs).
    let example = root().join("examples/example.zone");
    let v = check_key(example.to_str().unwrap(), &key);
    let red = red_dkim(&v);
    let fix = red["fix"].as_str().unwrap();
    assert!(
        fix.contains("s9._domainkey.example.com. 3600 IN TXT") && !fix.contains("keygen"),
        "{fix}"
    );
    let published = std::fs::read_to_string(&zone).unwrap();
    let p = |t: &str| {
        t.split("p=")
            .nth(1)
            .map(|x| x.chars().take(40).collect::<String>())
    };
    assert_eq!(p(fix), p(&published), "{fix}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The first red DKIM finding of a `check --json` report.
fn red_dkim(v: &serde_json::Value) -> &serde_json::Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["severity"] == "red" && f["area"] == "dkim")
        .unwrap_or_else(|| panic!("{v}"))
}

/// `check example.com --selector s9 --key KEY --json` against the zone file `z`.
fn check_key(z: &str, key: &Path) -> serde_json::Value {
    let out = common::run(
        &[
            "--zone",
            z,
            "check",
            "example.com",
            "--selector",
            "s9",
            "--key",
            key.to_str().unwrap(),
            "--json",
        ],
        b"",
        &[],
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs over several messages label every message (the first of an mbox too) and end
/// with a summary on stderr; Received-SPF claims no HELO that was not given; analyze
/// takes the envelope from flags.
#[test]
fn labels_summary_and_envelope_flags() {
    let dir = std::env::temp_dir().join(format!("monban-admin-mbox-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mbox = dir.join("two.mbox");
    std::fs::write(
        &mbox,
        "From a@b Mon Jan  1 00:00:00 2026\nFrom: a@example.com\nSubject: 1\n\nbody\n\nFrom a@b Mon Jan  1 00:00:00 2026\nFrom: b@example.com\nSubject: 2\n\nbody\n",
    )
    .unwrap();
    let z = zone();
    let out = common::run(&["--zone", &z, "verify", mbox.to_str().unwrap()], b"", &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(&format!("==> {}#1 <==", mbox.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!("==> {}#2 <==", mbox.display())),
        "{text}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 messages: 0 dmarc=pass, 2 fail, 0 none"),
        "{err}"
    );

    let out = common::run(
        &[
            "--zone",
            &z,
            "spf",
            "--ip",
            "192.0.2.25",
            "--mail-from",
            "alice@example.com",
        ],
        b"",
        &[],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("Received-SPF: pass") && !text.contains("helo="),
        "{text}"
    );

    let msg = root().join("examples/messages/alice-to-bob.eml");
    let out = common::run(
        &[
            "--zone",
            &z,
            "analyze",
            "--verify",
            "--json",
            "--ip",
            "192.0.2.25",
            "--mail-from",
            "alice@example.com",
            msg.to_str().unwrap(),
        ],
        b"",
        &[],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let env = &v["verification"]["envelope"];
    assert_eq!(env["ip"], "192.0.2.25", "{v}");
    assert_eq!(env["mail_from"], "alice@example.com", "{v}");
    assert!(env["source"].as_str().unwrap().contains("--ip"), "{v}");
    std::fs::remove_dir_all(&dir).ok();
}

/// No Rust debug text reaches a user on any error path.
#[test]
fn error_messages_carry_no_debug_text() {
    let dir = std::env::temp_dir().join(format!("monban-admin-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad_toml = dir.join("bad.toml");
    std::fs::write(
        &bad_toml,
        "authserv_id = \"mx\"\nlisten = \"inet:nowhere\"\n",
    )
    .unwrap();
    let bad_toml2 = dir.join("bad2.toml");
    std::fs::write(&bad_toml2, "authserv_id = \"mx\"\n[[dnsbl]]\nzone = 5\n").unwrap();
    let bad_zone = dir.join("bad.zone");
    std::fs::write(&bad_zone, "example.com. IN TXT \"unterminated\n").unwrap();
    let missing = dir.join("missing.eml");
    let cases: Vec<Vec<String>> = vec![
        vec![
            "milter",
            "--check-config",
            "--config",
            bad_toml.to_str().unwrap(),
        ],
        vec![
            "milter",
            "--check-config",
            "--config",
            bad_toml2.to_str().unwrap(),
        ],
        vec![
            "milter",
            "--check-config",
            "--config",
            missing.to_str().unwrap(),
        ],
        vec!["--zone", bad_zone.to_str().unwrap(), "check", "example.com"],
        vec!["verify", missing.to_str().unwrap()],
        vec!["verify", "--ip", "300.1.1.1", missing.to_str().unwrap()],
        vec!["verify", "--at", "soon", missing.to_str().unwrap()],
        vec!["spf", "--ip", "nope"],
        vec!["check", "not a domain"],
        vec!["check", "example.com", "--sending-ip", "x"],
        vec![
            "keygen",
            "--domain",
            "example.com",
            "--selector",
            "bad selector",
        ],
        vec![
            "sign",
            "--domain",
            "example.com",
            "--selector",
            "s",
            "--key",
            missing.to_str().unwrap(),
        ],
        vec!["analyze", missing.to_str().unwrap()],
        vec![
            "report",
            "summary",
            "--store",
            "sqlite:/nonexistent/dir/x.db",
        ],
    ]
    .into_iter()
    .map(|c| c.into_iter().map(str::to_owned).collect())
    .collect();
    for case in &cases {
        let args: Vec<&str> = case.iter().map(String::as_str).collect();
        let out = common::run(&args, b"", &[]);
        assert_ne!(out.status.code(), Some(0), "{case:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.trim().is_empty(), "{case:?}: no message");
        for debug in [
            "Inet(", "Unix(", "Some(", "None", "Err(", "Ok(", "{ ", "\\\"",
        ] {
            assert!(!err.contains(debug), "{case:?}: {debug:?} in {err}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A DNS server that answers every query SERVFAIL (its question echoed, RCODE 2), on an
/// ephemeral UDP port of 127.0.0.1, until the process ends: lookups fail at once and
/// for good, as when the domain's servers are broken.
fn servfail_server() -> std::net::SocketAddr {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            if n < 12 {
                continue;
            }
            let mut answer = buf[..n].to_vec();
            // QR, the opcode and RD kept; RA; RCODE 2; no answer, authority or extra.
            answer[2] = 0x80 | (buf[2] & 0x79);
            answer[3] = 0x80 | 2;
            answer[6..12].fill(0);
            let _ = socket.send_to(&answer, from);
        }
    });
    addr
}

/// `--format nagios` says UNKNOWN (3) when DNS lookups failed and nothing seen is red:
/// the check could not be made (it said WARNING, and `--fail-on red` passed a DNS
/// outage as fine).
#[test]
fn nagios_is_unknown_when_the_check_could_not_be_made() {
    let server = servfail_server().to_string();
    let out = common::run(
        &[
            "--dns-server",
            &server,
            "check",
            "example.com",
            "--format",
            "nagios",
        ],
        b"",
        &[],
    );
    let line = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{line}");
    assert!(
        line.starts_with("MONBAN CHECK UNKNOWN - example.com: "),
        "{line}"
    );
    assert!(line.contains("DNS lookup(s) failed"), "{line}");
    // The finding named is a lookup that failed, not the first yellow one.
    let named = line.split(" | ").next().unwrap_or_default();
    assert!(named.contains("lookup failed"), "{line}");
}

/// A zone file's records of types monban does not read are named on stderr (they were
/// passed over without a word), and the others still answer.
#[test]
fn zone_records_not_read_are_named() {
    let dir = std::env::temp_dir().join(format!("monban-zone-skipped-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let zone = dir.join("z.zone");
    std::fs::write(
        &zone,
        "example.com. 300 IN TXT \"v=spf1 -all\"\nexample.com. 300 IN SRV 0 0 25 mx.example.com.\n",
    )
    .unwrap();
    let out = common::run(
        &[
            "--zone",
            zone.to_str().unwrap(),
            "spf",
            "--ip",
            "192.0.2.1",
            "--mail-from",
            "a@example.com",
        ],
        b"",
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Received-SPF: fail"));
    assert!(stderr.contains("line 2: type SRV is not read"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}
