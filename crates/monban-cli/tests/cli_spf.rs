//! Black-box tests of `monban spf` against the bundled example zone (DESIGN §4 contract:
//! flags, JSON keys, exit status).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn monban(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_monban"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run monban")
}

fn spf_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec![
        "spf",
        "--zone",
        "examples/example.zone",
        "--json",
        "--receiver",
        "mx.test",
    ];
    all.extend_from_slice(args);
    let out = monban(&all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

#[test]
fn json_contract_keys() {
    let v = spf_json(&[
        "--ip",
        "192.0.2.25",
        "--mail-from",
        "alice@example.com",
        "--helo",
        "mail.example.com",
    ]);
    assert_eq!(v["result"], "pass");
    assert_eq!(v["domain"], "example.com");
    assert!(v["explanation"].is_null());
    assert_eq!(v["identity"], "mailfrom");
    assert_eq!(v["mechanism"], "mx");
}

#[test]
fn example_verdicts() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--ip", "203.0.113.200", "--mail-from", "a@example.com"],
            "pass",
        ),
        (
            &["--ip", "2001:db8:100::9", "--mail-from", "a@example.com"],
            "pass",
        ),
        (
            &["--ip", "192.0.2.99", "--mail-from", "a@example.com"],
            "softfail",
        ),
        (
            &["--ip", "192.0.2.99", "--mail-from", "a@noreply.example.com"],
            "fail",
        ),
        (
            &["--ip", "192.0.2.150", "--mail-from", "b@example.org"],
            "pass",
        ),
        (
            &["--ip", "192.0.2.25", "--helo", "mail.example.com"],
            "pass",
        ),
        (
            &["--ip", "192.0.2.26", "--helo", "mail.example.com"],
            "fail",
        ),
        (
            &["--ip", "192.0.2.25", "--mail-from", "a@nowhere.example"],
            "none",
        ),
        (
            &[
                "--ip",
                "::ffff:192.0.2.25",
                "--mail-from",
                "",
                "--helo",
                "mail.example.com",
            ],
            "pass",
        ),
    ];
    for (args, want) in cases {
        let v = spf_json(args);
        assert_eq!(v["result"], *want, "{args:?}: {v}");
    }
}

#[test]
fn explanation_on_fail() {
    let v = spf_json(&["--ip", "192.0.2.99", "--mail-from", "bob@example.org"]);
    assert_eq!(v["result"], "fail");
    assert_eq!(
        v["explanation"],
        "192.0.2.99 is not one of _spf.example.org's designated mail servers; see https://www.example.org/spf"
    );
}

#[test]
fn header_output() {
    let out = monban(&[
        "spf",
        "--zone",
        "examples/example.zone",
        "--receiver",
        "mx.test",
        "--ip",
        "192.0.2.25",
        "--mail-from",
        "alice@example.com",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("Received-SPF: pass (mx.test: "), "{text}");
    assert!(
        text.contains("envelope-from=\"alice@example.com\"; "),
        "{text}"
    );
}

/// Every error is one sentence on stderr with the DESIGN §4 exit status, never a panic.
#[test]
fn errors_are_one_sentence() {
    let dir = std::env::temp_dir().join(format!("monban-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad_zone = dir.join("bad.zone");
    std::fs::write(
        &bad_zone,
        "$ORIGIN example.com.\n@ TXT \"v=spf1 -all\"\nmx A 192.0.2.300\n",
    )
    .unwrap();
    let bad_zone = bad_zone.to_str().unwrap();
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &[
                "spf",
                "--zone",
                "examples/example.zone",
                "--ip",
                "1.2.3",
                "--helo",
                "a.example",
            ],
            2,
            "is not an IPv4 or IPv6 address",
        ),
        (
            &[
                "spf",
                "--zone",
                "examples/example.zone",
                "--ip",
                "192.0.2.1",
            ],
            2,
            "give --mail-from, --helo, or both",
        ),
        (
            &[
                "spf",
                "--zone",
                "examples/example.zone",
                "--ip",
                "192.0.2.1",
                "--mail-from",
                "nobody",
            ],
            2,
            "not an address",
        ),
        (
            &[
                "spf",
                "--zone",
                "examples/example.zone",
                "--ip",
                "192.0.2.1",
                "--mail-from",
                "a@b..c",
            ],
            2,
            "domain is invalid",
        ),
        (
            &[
                "spf",
                "--zone",
                "examples/example.zone",
                "--ip",
                "192.0.2.1",
                "--mail-from",
                "",
            ],
            2,
            "give --helo too",
        ),
        (
            &[
                "spf",
                "--zone",
                "/nonexistent/x.zone",
                "--ip",
                "192.0.2.1",
                "--helo",
                "a.example",
            ],
            1,
            "cannot read",
        ),
        (
            &[
                "spf",
                "--zone",
                bad_zone,
                "--ip",
                "192.0.2.1",
                "--helo",
                "a.example",
            ],
            1,
            ":3: \"192.0.2.300\" is not an IPv4 address",
        ),
        (
            &[
                "spf",
                "--dns-server",
                "not-an-ip",
                "--ip",
                "192.0.2.1",
                "--helo",
                "a.example",
            ],
            2,
            "is not an IP address",
        ),
        (&["spf", "--ip"], 2, ""),
    ];
    for (args, code, needle) in cases {
        let out = monban(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
