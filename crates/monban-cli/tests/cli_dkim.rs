//! Black-box tests of `monban keygen`, `monban sign` and `monban verify` (DESIGN §4).

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Output;

fn monban(args: &[&str], stdin: Option<&[u8]>) -> Output {
    common::run(args, stdin.unwrap_or_default(), &[])
}

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("monban-cli-dkim-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    fn path(&self, f: &str) -> String {
        self.0.join(f).to_str().unwrap().to_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const MESSAGE: &str = "From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nSubject: a folded\r\n\tsubject line\r\nDate: Sun, 22 Nov 2026 10:00:00 +0900\r\nMessage-ID: <1@example.com>\r\n\r\nHello Bob,\r\n  spaces  and\ttabs \r\n\r\n\r\n";

/// Generates an RSA and an Ed25519 key and a zone publishing both.
/// `monban keygen` of a key for `domain` and `selector` into `dir`; it must succeed.
fn keygen(dir: &Dir, domain: &str, selector: &str, algorithm: &str) {
    let out = monban(
        &[
            "keygen",
            "--domain",
            domain,
            "--selector",
            selector,
            "--algorithm",
            algorithm,
            "--out",
            dir.0.to_str().unwrap(),
        ],
        None,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "keygen {domain} {selector}: {err}");
}

fn keys(dir: &Dir) -> String {
    for (sel, alg) in [("rsa", "rsa"), ("ed", "ed25519")] {
        keygen(dir, "example.com", sel, alg);
    }
    let zone = format!(
        "{}{}",
        std::fs::read_to_string(dir.path("rsa.txt")).unwrap(),
        std::fs::read_to_string(dir.path("ed.txt")).unwrap()
    );
    std::fs::write(dir.path("keys.zone"), zone).unwrap();
    dir.path("keys.zone")
}

/// The message signed by `monban sign` with the RSA key of [`keys`] (s=rsa).
fn sign_rsa(key: &str, message: &[u8]) -> Vec<u8> {
    succeeded(sign_rsa_run(key, message))
}

/// The run of `monban sign` of [`sign_rsa`], whatever its outcome.
fn sign_rsa_run(key: &str, message: &[u8]) -> Output {
    monban(
        &[
            "sign",
            "--domain",
            "example.com",
            "--selector",
            "rsa",
            "--key",
            key,
        ],
        Some(message),
    )
}

/// The standard output of a run that must have succeeded (its stderr in the failure).
fn succeeded(out: Output) -> Vec<u8> {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn verify_json(zone: &str, msg: &[u8], extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "verify",
        "--zone",
        zone,
        "--json",
        "--authserv-id",
        "mx.test",
    ];
    args.extend_from_slice(extra);
    let out = monban(&args, Some(msg));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// A message named by a path that cannot be read twice (`/dev/stdin` on a pipe, a
/// FIFO) is spooled as standard input is: a trial's `cat msg | monban sign ...
/// /dev/stdin` printed the signature alone (the second read found the pipe empty) and
/// exited 0, and a FIFO hung. The output is the message, signed, as from stdin.
#[test]
fn a_message_named_by_a_pipe_is_signed_whole() {
    let dir = Dir::new("pipe");
    let zone = keys(&dir);
    let key = dir.path("rsa.private");
    let sign = |file: &str| -> Vec<String> {
        let mut args = "sign --domain example.com --selector rsa --key"
            .split(' ')
            .map(str::to_owned)
            .collect::<Vec<_>>();
        args.extend([key.clone(), file.to_owned()]);
        args
    };
    // The signature (its t= is the second it was made), then the message as it came.
    let whole = |out: &[u8]| {
        assert!(out.starts_with(b"DKIM-Signature:"));
        assert!(
            out.ends_with(MESSAGE.as_bytes()),
            "{}",
            String::from_utf8_lossy(out)
        );
        let v = verify_json(&zone, out, &[]);
        assert_eq!(v["dkim"][0]["result"], "pass", "{v}");
    };
    let args = sign("/dev/stdin");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    whole(&succeeded(monban(&args, Some(MESSAGE.as_bytes()))));
    let fifo = dir.path("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, MESSAGE).unwrap())
    };
    let args = sign(&fifo);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let through_fifo = succeeded(monban(&args, None));
    writer.join().unwrap();
    whole(&through_fifo);
}

/// `keygen --force` replaces a symbolic link at the key's name instead of writing
/// through it: in a folder others can write to, a link planted there made the key
/// overwrite (and chmod) the file it pointed to.
#[test]
fn keygen_force_replaces_a_link_and_never_follows_it() {
    let dir = Dir::new("keygen-link");
    let victim = dir.path("victim.txt");
    std::fs::write(&victim, "not a key\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink(&victim, dir.path("s1.private")).unwrap();
    let out = dir.path("");
    let keygen = |force: bool| {
        let mut args = vec![
            "keygen",
            "--domain",
            "example.com",
            "--selector",
            "s1",
            "--out",
            &out,
        ];
        if force {
            args.push("--force");
        }
        monban(&args, None)
    };
    let refused = keygen(false);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("already exists"));
    succeeded(keygen(true));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "not a key\n");
    let meta = std::fs::symlink_metadata(dir.path("s1.private")).unwrap();
    assert!(meta.file_type().is_file());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(
        std::fs::read_to_string(dir.path("s1.private"))
            .unwrap()
            .contains("PRIVATE KEY")
    );
    assert_eq!(
        std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777,
        0o644
    );
}

#[test]
fn keygen_files_modes_and_refusals() {
    let dir = Dir::new("keygen");
    keys(&dir);
    let mode = std::fs::metadata(dir.path("rsa.private"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        std::fs::read_to_string(dir.path("rsa.private"))
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    let txt = std::fs::read_to_string(dir.path("rsa.txt")).unwrap();
    assert!(
        txt.starts_with("rsa._domainkey.example.com. 3600 IN TXT ( \"v=DKIM1; k=rsa; p="),
        "{txt}"
    );
    for s in txt.split('"').skip(1).step_by(2) {
        assert!(s.len() <= 255, "TXT string over 255 octets");
    }
    let out_dir = dir.0.to_str().unwrap();
    // No overwrite without --force.
    let again = monban(
        &[
            "keygen",
            "--domain",
            "example.com",
            "--selector",
            "rsa",
            "--out",
            out_dir,
        ],
        None,
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let forced = monban(
        &[
            "keygen",
            "--domain",
            "example.com",
            "--selector",
            "rsa",
            "--out",
            out_dir,
            "--force",
        ],
        None,
    );
    assert_eq!(forced.status.code(), Some(0));
    for (args, code, needle) in [
        (vec!["--bits", "1024"], 2, "RFC 8301"),
        (vec!["--bits", "2500"], 2, "2048, 3072 or 4096"),
        (
            vec!["--algorithm", "ed25519", "--bits", "2048"],
            2,
            "RSA keys only",
        ),
    ] {
        let mut a = vec![
            "keygen",
            "--domain",
            "example.com",
            "--selector",
            "x",
            "--out",
            out_dir,
        ];
        a.extend(args);
        let out = monban(&a, None);
        assert_eq!(out.status.code(), Some(code));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `monban check --key` with a key any user can read names the file and its mode on
/// stderr; the key as keygen wrote it (0600) gives no warning. (`sign` itself leaves
/// the user's own file to the user; the milter and `report send` warn too.)
#[test]
fn a_key_others_can_read_is_warned_about() {
    let dir = Dir::new("keymode");
    let zone = keys(&dir);
    let key = dir.path("rsa.private");
    // `check --key KEY`: its exit status and standard error.
    let check_with = |key: &str| {
        let out = monban(
            &[
                "check",
                "--zone",
                &zone,
                "example.com",
                "--selector",
                "rsa",
                "--key",
                key,
            ],
            None,
        );
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), err)
    };
    let check = || check_with(&key).1;
    let quiet = check();
    assert!(!quiet.contains("warning"), "{quiet}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = check();
    assert!(
        err.contains("warning") && err.contains("rsa.private") && err.contains("mode 0644"),
        "{err}"
    );
    // Signing with it stays quiet.
    let out = sign_rsa_run(&key, MESSAGE.as_bytes());
    assert!(out.status.success() && out.stderr.is_empty());
    // A PEM file of another kind, readable by all: `check --key` refuses it (exit 1),
    // and names its mode only when it holds a private key, whether or not monban can
    // use that key (an EC key: a secret all the same; a public key given by mistake
    // is none).
    for (name, label, body, warned) in [
        (
            "ed.pub",
            "PUBLIC KEY",
            "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=",
            false,
        ),
        (
            "ec.private",
            "EC PRIVATE KEY",
            "MHcCAQEEIIm2rYhqL1cTqQe8nNNDm0qSaG0y0dyh9u5BqyZ7x1xQoAoGCCqGSM49",
            true,
        ),
    ] {
        let path = dir.path(name);
        std::fs::write(
            &path,
            format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (status, err) = check_with(&path);
        assert_eq!(status, Some(1), "{name}: {err}");
        assert!(err.contains(&format!("--key {path}")), "{name}: {err}");
        assert_eq!(
            err.contains("warning") && err.contains(name) && err.contains("mode 0644"),
            warned,
            "{name}: {err}"
        );
    }
}

#[test]
fn sign_then_verify_every_canonicalization() {
    let dir = Dir::new("roundtrip");
    let zone = keys(&dir);
    for sel in ["rsa", "ed"] {
        for c in [
            "simple/simple",
            "simple/relaxed",
            "relaxed/simple",
            "relaxed/relaxed",
        ] {
            let key = dir.path(&format!("{sel}.private"));
            let out = monban(
                &[
                    "sign",
                    "--domain",
                    "example.com",
                    "--selector",
                    sel,
                    "--key",
                    &key,
                    "--canonicalization",
                    c,
                ],
                Some(MESSAGE.as_bytes()),
            );
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let signed = out.stdout;
            assert!(
                signed.ends_with(MESSAGE.as_bytes()),
                "the message follows the signature unchanged"
            );
            let v = verify_json(&zone, &signed, &[]);
            assert_eq!(v["dkim"][0]["result"], "pass", "{sel} {c}: {v}");
            assert_eq!(v["dkim"][0]["selector"], sel);
            // One changed body byte breaks it.
            let tampered = String::from_utf8(signed)
                .unwrap()
                .replace("Hello Bob", "Hello Rob");
            let v = verify_json(&zone, tampered.as_bytes(), &[]);
            assert_eq!(v["dkim"][0]["result"], "fail", "{sel} {c}: {v}");
        }
    }
}

#[test]
fn verify_json_contract_and_unsigned() {
    let dir = Dir::new("contract");
    let zone = keys(&dir);
    let key = dir.path("ed.private");
    let signed = monban(
        &[
            "sign",
            "--domain",
            "example.com",
            "--selector",
            "ed",
            "--key",
            &key,
        ],
        Some(MESSAGE.as_bytes()),
    )
    .stdout;
    let v = verify_json(&zone, &signed, &[]);
    let d = &v["dkim"][0];
    for k in [
        "result",
        "domain",
        "selector",
        "algorithm",
        "identity",
        "reason",
    ] {
        assert!(d.get(k).is_some(), "missing {k}: {v}");
    }
    assert_eq!(d["algorithm"], "ed25519-sha256");
    assert_eq!(d["identity"], "@example.com");
    assert!(
        v["authentication_results"]
            .as_str()
            .unwrap()
            .starts_with("mx.test; dkim=pass header.d=example.com")
    );
    let v = verify_json(&zone, MESSAGE.as_bytes(), &[]);
    assert_eq!(v["dkim"].as_array().unwrap().len(), 0);
    assert!(
        v["authentication_results"]
            .as_str()
            .unwrap()
            .contains("dkim=none")
    );
}

#[test]
fn several_files_mbox_and_maildir() {
    let dir = Dir::new("many");
    let zone = keys(&dir);
    let key = dir.path("rsa.private");
    let signed = sign_rsa(&key, MESSAGE.as_bytes());
    std::fs::write(dir.path("a.eml"), &signed).unwrap();
    std::fs::write(dir.path("b.eml"), MESSAGE).unwrap();
    let mut mbox = b"From alice@example.com Sun Nov 22 10:00:00 2026\n".to_vec();
    mbox.extend_from_slice(&signed);
    mbox.extend_from_slice(b"\nFrom bob@example.net Sun Nov 22 10:00:01 2026\n");
    mbox.extend_from_slice(MESSAGE.as_bytes());
    std::fs::write(dir.path("box.mbox"), &mbox).unwrap();
    std::fs::create_dir_all(dir.path("Maildir/cur")).unwrap();
    std::fs::create_dir_all(dir.path("Maildir/new")).unwrap();
    std::fs::write(dir.path("Maildir/cur/1"), &signed).unwrap();
    std::fs::write(dir.path("Maildir/new/2"), MESSAGE).unwrap();
    let out = monban(
        &[
            "verify",
            "--zone",
            &zone,
            "--json",
            &dir.path("a.eml"),
            &dir.path("b.eml"),
            &dir.path("box.mbox"),
            &dir.path("Maildir"),
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary: Vec<(String, usize)> = lines
        .iter()
        .map(|v| {
            let file = v["file"].as_str().unwrap();
            let name = Path::new(file)
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            (name, v["dkim"].as_array().unwrap().len())
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("a.eml".into(), 1),
            ("b.eml".into(), 0),
            ("box.mbox#1".into(), 1),
            ("box.mbox#2".into(), 0),
            ("1".into(), 1),
            ("2".into(), 0)
        ]
    );
    assert!(
        lines
            .iter()
            .filter(|v| v["dkim"].as_array().unwrap().len() == 1)
            .all(|v| v["dkim"][0]["result"] == "pass")
    );
}

/// An empty Maildir is an empty mailbox, not a mistake: exit 0, no output, a note on
/// stderr. A plain folder holding no files still is one (exit 1).
#[test]
fn an_empty_maildir_is_nothing_to_verify() {
    let dir = Dir::new("emptymd");
    let zone = keys(&dir);
    for sub in ["Maildir/cur", "Maildir/new", "Maildir/tmp", "plain"] {
        std::fs::create_dir_all(dir.path(sub)).unwrap();
    }
    let out = monban(
        &["verify", "--zone", &zone, "--json", &dir.path("Maildir")],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(stderr.contains("an empty Maildir"), "{stderr}");
    let out = monban(&["verify", "--zone", &zone, &dir.path("plain")], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("holds no files"), "{stderr}");
}

#[test]
fn verify_with_envelope_adds_spf() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let zone = root.join("examples/example.zone");
    let out = monban(
        &[
            "verify",
            "--zone",
            zone.to_str().unwrap(),
            "--json",
            "--ip",
            "192.0.2.25",
            "--helo",
            "mail.example.com",
            "--mail-from",
            "alice@example.com",
        ],
        Some(MESSAGE.as_bytes()),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["spf"]["result"], "pass");
    assert_eq!(v["spf"]["identity"], "mailfrom");
    assert_eq!(v["helo"]["result"], "pass");
    assert!(
        v["authentication_results"]
            .as_str()
            .unwrap()
            .contains("spf=pass")
    );
}

#[test]
fn errors_are_one_sentence() {
    let dir = Dir::new("errors");
    let zone = keys(&dir);
    let key = dir.path("rsa.private");
    std::fs::write(dir.path("bad.pem"), "not a key").unwrap();
    let bad_pem = dir.path("bad.pem");
    let cases: Vec<(Vec<&str>, &[u8], i32, &str)> = vec![
        // A header that does not split still gets a verdict (exit 0, issue 9); the
        // reason is on stderr too.
        (
            vec!["verify", "--zone", &zone],
            b"no colon here\r\n\r\nbody\r\n",
            0,
            "is not a header field",
        ),
        (
            vec!["verify", "--zone", &zone, "/nonexistent/msg.eml"],
            b"",
            1,
            "No such file",
        ),
        (
            vec!["verify", "--zone", &zone, "--ip", "1.2.3"],
            b"",
            2,
            "not an IPv4 or IPv6 address",
        ),
        (
            vec!["verify", "--zone", &zone, "--helo", "x.example"],
            b"",
            2,
            "need --ip",
        ),
        (
            vec![
                "sign",
                "--domain",
                "example.com",
                "--selector",
                "rsa",
                "--key",
                &key,
            ],
            b"To: b@example.net\r\n\r\nhi\r\n",
            1,
            "no From header field",
        ),
        (
            vec![
                "sign",
                "--domain",
                "example.com",
                "--selector",
                "rsa",
                "--key",
                "/nonexistent.pem",
            ],
            b"",
            1,
            "cannot read the key",
        ),
        (
            vec![
                "sign",
                "--domain",
                "example.com",
                "--selector",
                "rsa",
                "--key",
                &bad_pem,
            ],
            b"",
            1,
            "not a PEM private key",
        ),
        (
            vec![
                "sign",
                "--domain",
                "example.com",
                "--selector",
                "rsa",
                "--key",
                &key,
                "--canonicalization",
                "fancy",
            ],
            b"",
            2,
            "--canonicalization",
        ),
        (
            vec![
                "sign",
                "--domain",
                "exa mple.com",
                "--selector",
                "rsa",
                "--key",
                &key,
            ],
            // A flag's value: a usage error naming the flag, before the message.
            MESSAGE.as_bytes(),
            2,
            "--domain \"exa mple.com\" is not a domain name",
        ),
    ];
    for (args, stdin, code, needle) in cases {
        let out = monban(&args, Some(stdin));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn lf_input_keeps_lf() {
    let dir = Dir::new("lf");
    let zone = keys(&dir);
    let key = dir.path("ed.private");
    let lf = MESSAGE.replace("\r\n", "\n");
    let out = monban(
        &[
            "sign",
            "--domain",
            "example.com",
            "--selector",
            "ed",
            "--key",
            &key,
        ],
        Some(lf.as_bytes()),
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(!out.stdout.contains(&b'\r'), "no CR added to an LF file");
    let v = verify_json(&zone, &out.stdout, &[]);
    assert_eq!(v["dkim"][0]["result"], "pass", "{v}");
}

/// The README's first command and the samples of examples/messages/README.md.
#[test]
fn bundled_examples() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let zone = root.join("examples/example.zone");
    let cases = [
        (
            "alice-to-bob.eml",
            "192.0.2.25",
            "mail.example.com",
            "alice@example.com",
            "pass",
            "none",
        ),
        (
            "newsletter-via-mailer.eml",
            "198.51.100.10",
            "mx.mailer.example.net",
            "bounces@example.com",
            "pass",
            "none",
        ),
        (
            "via-mailing-list.eml",
            "203.0.113.5",
            "lists.example.org",
            "lunch-club-bounces@example.org",
            "fail",
            "reject",
        ),
        (
            "spoofed-ceo.eml",
            "203.0.113.66",
            "mail.attacker.example",
            "ceo@example.com",
            "fail",
            "reject",
        ),
    ];
    for (file, ip, helo, mail_from, dmarc, disposition) in cases {
        let msg = root.join("examples/messages").join(file);
        let out = monban(
            &[
                "verify",
                "--zone",
                zone.to_str().unwrap(),
                "--json",
                "--ip",
                ip,
                "--helo",
                helo,
                "--mail-from",
                mail_from,
                msg.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["dmarc"]["result"], dmarc, "{file}: {v}");
        assert_eq!(v["dmarc"]["disposition"], disposition, "{file}: {v}");
        for key in ["spf", "helo", "dkim", "dmarc", "authentication_results"] {
            assert!(v.get(key).is_some(), "{file}: no {key}");
        }
        for key in [
            "result",
            "header_from",
            "policy",
            "disposition",
            "dkim_aligned",
            "spf_aligned",
        ] {
            assert!(v["dmarc"].get(key).is_some(), "{file}: no dmarc.{key}");
        }
    }
}

/// Message `i` with `body` (signed with `key` when `sign`), written to `m{i}.eml` with
/// `i` in `digits` digits: the file's path and the message.
fn numbered(
    dir: &Dir,
    key: &str,
    i: usize,
    body: &str,
    sign: bool,
    digits: usize,
) -> (String, Vec<u8>) {
    let message = MESSAGE.replace("<1@example.com>", &format!("<{i}@example.com>")) + body;
    let message = if sign {
        sign_rsa(key, message.as_bytes())
    } else {
        message.into_bytes()
    };
    let name = dir.path(&format!("m{i:0digits$}.eml"));
    std::fs::write(&name, &message).unwrap();
    (name, message)
}

/// Messages whose bodies have lines starting "From " and ">From ", signed, then stored in
/// an mbox the way delivery agents write one (line ends LF; mboxrd: each such line gets
/// one more '>'; an empty line after each message): reading the mbox gives each message
/// back as it was signed, so every signature passes (RFC 4155 Appendix A).
#[test]
fn quoted_from_lines_of_an_mbox_are_read_back() {
    let dir = Dir::new("mboxrd");
    let zone = keys(&dir);
    let key = dir.path("rsa.private");
    let bodies = [
        "From the start, a line that mbox quotes.\r\n",
        ">From quoted already\r\n>>From twice\r\n> From a reply\r\nFrom\r\n",
        "no quoting here\r\nFromage\r\n",
    ];
    let mut mbox = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let message = format!(
            "From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nSubject: {i}\r\n\r\n{body}"
        );
        let signed = String::from_utf8(sign_rsa(&key, message.as_bytes())).unwrap();
        mbox.extend_from_slice(b"From alice@example.com Sun Nov 22 10:00:00 2026\n");
        for line in signed.split_terminator("\r\n") {
            if line.trim_start_matches('>').starts_with("From ") {
                mbox.push(b'>');
            }
            mbox.extend_from_slice(line.as_bytes());
            mbox.push(b'\n');
        }
        mbox.push(b'\n');
    }
    std::fs::write(dir.path("box.mbox"), &mbox).unwrap();
    let out = succeeded(monban(
        &["verify", "--zone", &zone, "--json", &dir.path("box.mbox")],
        None,
    ));
    let results: Vec<String> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["dkim"][0]["result"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(results, ["pass", "pass", "pass"]);
}

/// An mbox of `count` copies of `message`.
fn mbox_of(message: &[u8], count: usize) -> Vec<u8> {
    let mut mbox = Vec::new();
    for j in 0..count {
        mbox.extend_from_slice(
            format!("From a@example.com Sun Nov 22 10:00:{j:02} 2026\n").as_bytes(),
        );
        mbox.extend_from_slice(message);
    }
    mbox
}

/// `--jobs`: inputs verified at once come out in input order, the same as one at a time:
/// files of very different sizes (so later ones finish first), an mbox, an empty file and
/// a malformed one in the middle (each said on stderr, in order), for any worker count.
#[test]
fn jobs_give_the_results_in_input_order() {
    let dir = Dir::new("jobs");
    let zone = keys(&dir);
    let key = dir.path("rsa.private");
    let mut files = Vec::new();
    for i in 0..40 {
        // Every seventh message has a large body: its worker is the last to finish.
        let body = if i % 7 == 0 {
            "a line of body text\r\n".repeat(50_000)
        } else {
            format!("message {i}\r\n")
        };
        let (name, message) = numbered(&dir, &key, i, &body, i % 2 == 0, 2);
        files.push(name);
        if i == 10 {
            std::fs::write(dir.path("bad.eml"), "no colon here\r\n\r\nbody\r\n").unwrap();
            files.push(dir.path("bad.eml"));
        }
        if i == 20 {
            std::fs::write(dir.path("empty.eml"), "").unwrap();
            files.push(dir.path("empty.eml"));
            std::fs::write(dir.path("box.mbox"), mbox_of(&message, 3)).unwrap();
            files.push(dir.path("box.mbox"));
        }
    }
    let run = |jobs: &str, json: bool| {
        let mut args = vec![
            "verify",
            "--zone",
            &zone,
            "--authserv-id",
            "mx.test",
            "--jobs",
            jobs,
        ];
        if json {
            args.push("--json");
        }
        args.extend(files.iter().map(String::as_str));
        let out = monban(&args, None);
        assert_eq!(out.status.code(), Some(1), "the empty input fails");
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    for json in [true, false] {
        let (one, one_err) = run("1", json);
        let labels: Vec<&str> = one
            .lines()
            .filter_map(|l| {
                if json {
                    l.split("\"file\":\"").nth(1)?.split('"').next()
                } else {
                    l.strip_prefix("==> ")?.strip_suffix(" <==")
                }
            })
            .collect();
        assert_eq!(
            labels.len(),
            44,
            "40 files, a malformed one and a 3-message mbox: {one_err}"
        );
        let names: Vec<&str> = labels
            .iter()
            .map(|l| l.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(names[0], "m00.eml");
        assert_eq!(names[11], "bad.eml");
        assert_eq!(&names[22..25], ["box.mbox#1", "box.mbox#2", "box.mbox#3"]);
        assert_eq!(names[43], "m39.eml");
        assert!(
            one_err.find("bad.eml: malformed message").unwrap()
                < one_err.find("empty.eml").unwrap(),
            "{one_err}"
        );
        assert!(
            one_err.contains("44 messages: 0 dmarc=pass, 0 fail, 43 none, 1 permerror"),
            "{one_err}"
        );
        if !json {
            // The even files are signed, and the mbox holds three copies of m20.
            assert_eq!(one.matches("dkim=pass").count(), 23, "{one}");
        }
        for jobs in ["2", "3", "8"] {
            let (many, many_err) = run(jobs, json);
            assert_eq!(many, one, "--jobs {jobs} against --jobs 1");
            assert_eq!(many_err, one_err, "--jobs {jobs} against --jobs 1");
        }
    }
    // No job at all, or more threads than a process should start: a usage error.
    for jobs in ["0", "1025", "18446744073709551615"] {
        let out = monban(
            &["verify", "--zone", &zone, "--jobs", jobs, &files[0]],
            None,
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--jobs {jobs}: {err}");
        assert!(err.contains("--jobs"), "--jobs {jobs}: {err}");
    }
}

/// One mbox given alone is verified on `--jobs` threads: messages of very different
/// sizes (some over the 1 MiB a helper is given whole, so streamed on the splitting
/// thread), signed and not, a malformed one, in LF and CRLF: the same output and the
/// same stderr, in mbox order, as one at a time; from a file and from stdin.
#[test]
fn one_mbox_on_several_threads_keeps_mbox_order() {
    let dir = Dir::new("jobs-mbox");
    let zone = keys(&dir);
    let key = dir.path("rsa.private");
    let mut mbox = Vec::new();
    for i in 0..60 {
        let body = match i % 9 {
            0 => "a line of body text\r\n".repeat(60_000), // 1.2 MiB
            4 => "a line of body text\r\n".repeat(3_000),
            _ => format!("message {i}\r\nFrom the start of a line\r\n"),
        };
        let (_, message) = numbered(&dir, &key, i, &body, i % 2 == 0, 2);
        let message = if i == 31 {
            b"no colon here\r\n\r\nbody\r\n".to_vec()
        } else if i % 5 == 0 {
            // Stored with LF line ends.
            String::from_utf8(message)
                .unwrap()
                .replace("\r\n", "\n")
                .into_bytes()
        } else {
            message
        };
        mbox.extend_from_slice(
            format!("From a@example.com Sun Nov 22 10:00:{:02} 2026\n", i % 60).as_bytes(),
        );
        for line in message.split_inclusive(|&b| b == b'\n') {
            if line.starts_with(b"From ") {
                mbox.push(b'>');
            }
            mbox.extend_from_slice(line);
        }
        mbox.extend_from_slice(b"\n");
    }
    let path = dir.path("big.mbox");
    std::fs::write(&path, &mbox).unwrap();
    let run = |jobs: &str, stdin: bool| {
        let mut args = vec!["verify", "--zone", &zone, "--json", "--jobs", jobs];
        if !stdin {
            args.push(&path);
        }
        let out = monban(&args, stdin.then_some(&mbox[..]));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (one, one_err) = run("1", false);
    let results: Vec<(String, String)> = one
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let file = v["file"].as_str().unwrap();
            let dkim = v["dkim"][0]["result"].as_str().unwrap_or("none");
            (file.rsplit('#').next().unwrap().to_owned(), dkim.to_owned())
        })
        .collect();
    assert_eq!(results.len(), 60, "{one_err}");
    for (i, (n, dkim)) in results.iter().enumerate() {
        assert_eq!(n, &(i + 1).to_string());
        let want = if i % 2 == 0 && i != 31 {
            "pass"
        } else {
            "none"
        };
        assert_eq!(dkim, want, "message {i}");
    }
    assert!(one_err.contains("#32: malformed message"), "{one_err}");
    for jobs in ["2", "3"] {
        let (many, many_err) = run(jobs, false);
        assert_eq!(many, one, "--jobs {jobs} against --jobs 1");
        assert_eq!(many_err, one_err, "--jobs {jobs} against --jobs 1");
        let (piped, piped_err) = run(jobs, true);
        assert_eq!(
            piped,
            one.replace(&format!("\"file\":\"{path}#"), "\"file\":\"-#"),
            "stdin, --jobs {jobs}"
        );
        assert_eq!(piped_err, one_err.replace(&format!("{path}#"), "-#"));
    }
    // Two workers, each with threads to spare for its mbox (--jobs 4 over 3 inputs).
    let file = dir.path("m01.eml");
    let mixed = |jobs: &str| {
        let args = [
            "verify", "--zone", &zone, "--json", "--jobs", jobs, &path, &file, &path,
        ];
        succeeded(monban(&args, None))
    };
    let one = mixed("1");
    assert_eq!(String::from_utf8_lossy(&one).lines().count(), 121);
    assert_eq!(mixed("4"), one, "--jobs 4 over two mboxes and a file");
}

/// `--jobs` on a run large enough for full batches (many inputs per hand-over to a
/// worker, many results per hand-over back), with an mbox of more messages than one
/// hand-over holds in the middle: the same output, in the same order, as one at a time.
#[test]
fn jobs_in_large_batches_keep_input_order() {
    let dir = Dir::new("jobs-large");
    let zone = keys(&dir);
    let key = dir.path("rsa.private");
    let mut files = Vec::new();
    for i in 0..700 {
        let body = format!("message {i}\r\n");
        let (name, message) = numbered(&dir, &key, i, &body, i % 3 == 0, 3);
        files.push(name);
        if i == 300 {
            std::fs::write(dir.path("box.mbox"), mbox_of(&message, 45)).unwrap();
            files.push(dir.path("box.mbox"));
        }
    }
    let run = |jobs: &str| {
        let mut args = vec!["verify", "--zone", &zone, "--json", "--jobs", jobs];
        args.extend(files.iter().map(String::as_str));
        let out = monban(&args, None);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let one = run("1");
    let labels: Vec<&str> = one
        .lines()
        .filter_map(|l| l.split("\"file\":\"").nth(1)?.split('"').next())
        .map(|l| l.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(labels.len(), 745, "700 files and a 45-message mbox");
    assert_eq!(labels[300], "m300.eml");
    assert_eq!(labels[301], "box.mbox#1");
    assert_eq!(labels[345], "box.mbox#45");
    assert_eq!(labels[744], "m699.eml");
    for jobs in ["2", "3"] {
        assert!(run(jobs) == one, "--jobs {jobs} against --jobs 1");
    }
}

/// One mbox on `--jobs 2` many times over, each run ending (the harness kills a run
/// after 120 s) with the output of `--jobs 1`. A release build of an earlier version
/// hung in about one run in six over an mbox like this one (270 messages of 74 KiB):
/// the splitting thread waited for the lock of the queue an idle helper held.
/// `verify::tests::taking_from_the_queue_never_waits_for_an_idle_helper` checks that
/// case exactly; this checks the whole under load.
#[test]
fn one_mbox_on_two_threads_never_hangs() {
    let dir = Dir::new("jobs-mbox-hang");
    let zone = keys(&dir);
    let key = dir.path("rsa.private");
    let body: String = (0..2300)
        .map(|n| format!("a line of body text, number {n:05}\r\n"))
        .collect();
    let (_, message) = numbered(&dir, &key, 0, &body, true, 1);
    let mut mbox = Vec::new();
    for _ in 0..270 {
        mbox.extend_from_slice(b"From a@example.com Sun Nov 22 10:00:00 2026\n");
        mbox.extend_from_slice(&message);
        mbox.extend_from_slice(b"\n");
    }
    let path = dir.path("m.mbox");
    std::fs::write(&path, &mbox).unwrap();
    let run = |jobs: &str| {
        succeeded(monban(
            &["verify", "--zone", &zone, "--json", "--jobs", jobs, &path],
            None,
        ))
    };
    let one = run("1");
    let lines: Vec<String> = String::from_utf8_lossy(&one)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 270);
    assert!(
        lines
            .iter()
            .all(|l| l.contains("\"dkim\":[{\"result\":\"pass\""))
    );
    for round in 0..10 {
        assert_eq!(run("2"), one, "--jobs 2, run {round}");
    }
}

/// An internationalized signing domain (U-labels) is taken by keygen and sign in its
/// A-label form, the form the key is published under (RFC 8616 §4): the record is at
/// `s1._domainkey.xn--r8jz45g.xn--zckzah`, `d=` says the same, and the signature
/// passes (both refused the name before).
#[test]
fn an_internationalized_signing_domain_is_written_in_a_labels() {
    let dir = Dir::new("idn");
    keygen(&dir, "例え.テスト", "s1", "ed25519");
    let zone = dir.path("s1.txt");
    assert!(
        std::fs::read_to_string(&zone)
            .unwrap()
            .starts_with("s1._domainkey.xn--r8jz45g.xn--zckzah.")
    );
    let message = "From: a@例え.テスト\r\nTo: b@example.net\r\nSubject: x\r\n\r\nhi\r\n";
    let key = dir.path("s1.private");
    // Signs `message` for 例え.テスト with `extra` flags; the signed message.
    let sign = |extra: &[&str]| {
        let mut args = vec![
            "sign",
            "--domain",
            "例え.テスト",
            "--selector",
            "s1",
            "--key",
            &key,
        ];
        args.extend_from_slice(extra);
        let out = monban(&args, Some(message.as_bytes()));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "sign {extra:?}: {err}");
        String::from_utf8(out.stdout).unwrap()
    };
    let signed = sign(&[]);
    assert!(signed.contains("d=xn--r8jz45g.xn--zckzah;"), "{signed}");
    // An AUID in the same domain, written in U-labels, is converted the same way.
    let with_i = sign(&["--identity", "a@例え.テスト"]);
    assert!(with_i.contains("i=a@xn--r8jz45g.xn--zckzah;"), "{with_i}");
    let out = monban(
        &["verify", "--zone", &zone, "--json"],
        Some(signed.as_bytes()),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["dkim"][0]["result"], "pass", "{v}");
}

/// `monban verify` asking a real DNS server (hickory-server on loopback, serving the
/// bundled example zone) gives what it gives with the zone file, for the bundled
/// messages, with one job and with several, over the files and over one mbox of them.
/// With a server, each message's lookups are awaited (the verification is not ready at
/// its first poll): the path `--zone` and a warm cache never take.
#[test]
fn verify_over_a_dns_server_gives_what_the_zone_file_gives() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let zone_file = root.join("examples/example.zone");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let zone = monban_dns::ZoneResolver::from_file(&zone_file).expect("example.zone");
    let server = rt
        .block_on(monban_testdns::TestDnsServer::start(&zone))
        .expect("start the DNS server");
    let addr = server.addr().to_string();
    let mut messages: Vec<String> = std::fs::read_dir(root.join("examples/messages"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .map(|p| p.to_str().unwrap().to_owned())
        .collect();
    messages.sort();
    assert!(messages.len() >= 4, "{messages:?}");
    let dir = Dir::new("dns-server");
    let mbox = dir.path("all.mbox");
    let mut text = String::new();
    for m in &messages {
        text.push_str("From sender@example.com Sun Nov 22 10:00:00 2026\n");
        text.push_str(&std::fs::read_to_string(m).unwrap().replace("\r\n", "\n"));
        text.push('\n');
    }
    std::fs::write(&mbox, text).unwrap();
    let zone_arg = zone_file.to_str().unwrap();
    let run = |dns: &[&str], jobs: &str, inputs: &[&str]| -> Vec<String> {
        let mut args: Vec<&str> = dns.to_vec();
        args.extend(["verify", "--json", "--jobs", jobs]);
        args.extend_from_slice(inputs);
        let out = monban(&args, None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            out.status.code().is_some_and(|c| c == 0 || c == 1),
            "{args:?}: {err}"
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let files: Vec<&str> = messages.iter().map(String::as_str).collect();
    for inputs in [files.clone(), vec![mbox.as_str()]] {
        let want = run(&["--zone", zone_arg], "1", &inputs);
        assert_eq!(want.len(), messages.len(), "{want:?}");
        assert!(
            want.iter().any(|l| l.contains(r#""result":"pass""#)),
            "nothing passes with the zone: {want:?}"
        );
        for jobs in ["1", "2"] {
            let got = run(
                &["--dns-server", &addr, "--dns-timeout", "5"],
                jobs,
                &inputs,
            );
            assert_eq!(got, want, "--dns-server, --jobs {jobs}, {inputs:?}");
        }
    }
    drop(server);
    drop(rt);
}
