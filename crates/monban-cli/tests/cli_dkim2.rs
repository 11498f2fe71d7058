//! Black-box tests of the DKIM2 draft in the CLI: `monban sign --dkim2` and `monban
//! verify --dkim2`, with the draft vectors' keys and DNS.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/suites/mail-auth-resources/dkim2")
}

fn ok(out: &Output) -> Vec<u8> {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.clone()
}

/// The vectors' dns.json as a zone file in a temporary folder.
fn zone() -> (tempdir::Dir, String) {
    let v: Value = serde_json::from_slice(&std::fs::read(dir().join("dns.json")).unwrap()).unwrap();
    let mut text = String::new();
    for (domain, names) in v.as_object().unwrap() {
        for (name, records) in names.as_object().unwrap() {
            for r in records.as_array().unwrap() {
                let value = r[1].as_str().unwrap();
                let strings: Vec<String> = value
                    .as_bytes()
                    .chunks(250)
                    .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
                    .collect();
                text.push_str(&format!(
                    "{name}.{domain}. 300 IN TXT ( {} )\n",
                    strings.join(" ")
                ));
            }
        }
    }
    let d = tempdir::Dir::new("dkim2");
    let path = d.0.join("dkim2.zone");
    std::fs::write(&path, text).unwrap();
    let p = path.to_str().unwrap().to_owned();
    (d, p)
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new(name: &str) -> Self {
            let p = std::env::temp_dir().join(format!("monban-cli-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            Self(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn verify(zone: &str, message: &[u8], rcpt: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "--zone",
        zone,
        "verify",
        "--json",
        "--ip",
        "192.0.2.1",
        "--mail-from",
        "sender@test1.dkim2.com",
    ];
    args.extend_from_slice(extra);
    if !rcpt.is_empty() {
        args.extend(["--dkim2", "--rcpt-to", rcpt]);
    }
    serde_json::from_slice(&ok(&common::run(&args, message, &[]))).unwrap()
}

/// Signed by monban, verified by monban: pass for the envelope it was signed for; a copy
/// replayed to another recipient is refused (permerror); a changed body fails; without
/// --dkim2 the method is not reported at all.
#[test]
fn sign_then_verify_and_replay() {
    let (_d, zone) = zone();
    let key = dir().join("keys/ed25519._domainkey.test1.dkim2.com.pem");
    let input = dir().join("emails/simple.eml");
    let signed = ok(&common::run(
        &[
            "sign",
            "--domain",
            "test1.dkim2.com",
            "--selector",
            "ed25519",
            "--key",
            key.to_str().unwrap(),
            "--dkim2",
            "--mail-from",
            "sender@test1.dkim2.com",
            "--rcpt-to",
            "recipient@example.com",
            input.to_str().unwrap(),
        ],
        b"",
        &[],
    ));
    let text = String::from_utf8(signed.clone()).unwrap();
    assert!(text.starts_with("DKIM2-Signature: i=1; m=1;"), "{text}");
    assert!(text.contains("\nMessage-Instance: m=1; h=sha256:"));

    let v = verify(&zone, &signed, "recipient@example.com", &[]);
    assert_eq!(v["dkim2"]["result"], "pass", "{v}");
    assert_eq!(v["dkim2"]["domains"][0], "test1.dkim2.com");
    let ar = v["authentication_results"].as_str().unwrap();
    assert!(ar.contains("dkim2=pass header.d=test1.dkim2.com"), "{ar}");
    assert_eq!(v["dkim"][0]["result"], "pass", "DKIM1 signs too");

    let v = verify(&zone, &signed, "someone@example.net", &[]);
    assert_eq!(v["dkim2"]["result"], "permerror", "{v}");

    let changed = text.replace("simple test message", "simple test massage");
    let v = verify(&zone, changed.as_bytes(), "recipient@example.com", &[]);
    assert_eq!(v["dkim2"]["result"], "fail", "{v}");

    let v = verify(&zone, &signed, "", &[]);
    assert!(v.get("dkim2").is_none(), "{v}");
}

/// `--dkim2` needs the envelope it signs; a changed message needs a recipe.
#[test]
fn sign_refuses_what_it_cannot_sign() {
    let key = dir().join("keys/ed25519._domainkey.test1.dkim2.com.pem");
    let out = common::run(
        &[
            "sign",
            "--domain",
            "test1.dkim2.com",
            "--selector",
            "ed25519",
            "--key",
            key.to_str().unwrap(),
            "--dkim2",
        ],
        b"From: a@test1.dkim2.com\r\n\r\nx\r\n",
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--mail-from"));

    // A signed message changed, then signed again without a recipe.
    let signed = std::fs::read(dir().join("expected/simple-ed25519.eml")).unwrap();
    let changed = String::from_utf8(signed)
        .unwrap()
        .replace("Subject: ", "Subject: [list] ");
    let out = common::run(
        &[
            "sign",
            "--domain",
            "test1.dkim2.com",
            "--selector",
            "ed25519",
            "--key",
            key.to_str().unwrap(),
            "--dkim2",
            "--mail-from",
            "list@test1.dkim2.com",
            "--rcpt-to",
            "member@example.com",
        ],
        changed.as_bytes(),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("recipe"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `sign --recipe`: a recipe file of 1 MiB is read; one byte more is refused, exit 1.
#[test]
fn sign_reads_a_recipe_of_at_most_1_mib() {
    let key = dir().join("keys/ed25519._domainkey.test1.dkim2.com.pem");
    let signed = std::fs::read(dir().join("expected/simple-ed25519.eml")).unwrap();
    let changed = String::from_utf8(signed)
        .unwrap()
        .replace("Subject: ", "Subject: [list] ");
    let d = tempdir::Dir::new("recipe-limit");
    for (size, read) in [(1 << 20, true), ((1 << 20) + 1, false)] {
        // A valid recipe (nothing to undo in the header fields), padded with white space.
        let mut recipe = br#"{"h":{}}"#.to_vec();
        recipe.resize(size, b' ');
        let path = d.0.join(format!("recipe-{size}.json"));
        std::fs::write(&path, &recipe).unwrap();
        let out = common::run(
            &[
                "sign",
                "--domain",
                "test1.dkim2.com",
                "--selector",
                "ed25519",
                "--key",
                key.to_str().unwrap(),
                "--dkim2",
                "--mail-from",
                "list@test1.dkim2.com",
                "--rcpt-to",
                "member@example.com",
                "--recipe",
                path.to_str().unwrap(),
            ],
            changed.as_bytes(),
            &[],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        if read {
            let signed = String::from_utf8(ok(&out)).unwrap();
            assert!(signed.contains("Message-Instance:"), "{err}");
        } else {
            assert_eq!(out.status.code(), Some(1), "{err}");
            assert!(
                err.contains("is larger than 1048576 bytes; refused"),
                "{err}"
            );
        }
    }
}
