//! DomainKeys (RFC 4870) interop with Perl's Mail::DKIM (tests/interop/mail_dkim_tool.pl):
//! Mail::DKIM signs, then monban and Mail::DKIM both verify every copy, and each copy
//! must get the verdict expected of it from both.
//!
//! Messages × canonicalization (`simple`, `nofws`) × `h=` (every field listed, or no
//! `h=`) × changes made after signing: none, a body byte, trailing empty lines, white
//! space in the body, a refolded header field, a field added above the signature, one
//! added below it, a changed From, a second To. Keys with `g=` and `t=y`, and messages
//! whose sending address is outside `d=`, are tried too.
//!
//! Needs perl with Mail::DKIM (`libmail-dkim-perl`, which `scripts/test.sh` installs);
//! without it the test fails, it is never skipped.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tool() -> PathBuf {
    root().join("tests/interop/mail_dkim_tool.pl")
}

fn require_perl() {
    let out = Command::new("perl")
        .args(["-MMail::DKIM::Verifier", "-MNet::DNS", "-e", "1"])
        .output();
    match out {
        Err(e) => panic!("perl cannot be run ({e}): install perl and libmail-dkim-perl"),
        Ok(o) if !o.status.success() => panic!(
            "perl lacks Mail::DKIM ({}): install libmail-dkim-perl (scripts/test.sh does)",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Ok(_) => {}
    }
}

/// The public key of examples/keys/s2026 (its `p=`), read from s2026.txt.
fn public_key() -> String {
    let txt = std::fs::read_to_string(root().join("examples/keys/s2026.txt")).unwrap();
    let joined: String = txt
        .split('"')
        .skip(1)
        .step_by(2)
        .collect::<Vec<_>>()
        .concat();
    joined
        .split(';')
        .find_map(|t| t.trim().strip_prefix("p="))
        .expect("p= in s2026.txt")
        .to_owned()
}

/// Selectors and their key records (DomainKeys style: no `v=`).
fn keys() -> Vec<(&'static str, String)> {
    let p = public_key();
    vec![
        ("dk", format!("k=rsa; p={p}")),
        ("dkg", format!("g=alice; k=rsa; p={p}")),
        ("dkt", format!("t=y; k=rsa; p={p}")),
        ("dkrevoked", "k=rsa; p=".to_owned()),
    ]
}

const BASE: &str = "From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nSubject: Lunch\r\n on Friday\r\nDate: Mon, 30 Nov 2026 12:00:00 +0000\r\nMessage-ID: <dk-1@example.com>\r\n\r\nHello  world.\r\nSee you there.\r\n\r\n";

/// A change made to a signed copy, and whether it breaks the signature for
/// (simple, nofws) × (h= listing every field, no h=).
struct Change {
    name: &'static str,
    apply: fn(&str) -> String,
    /// Expected results: [simple+h, simple+no-h, nofws+h, nofws+no-h].
    expect: [&'static str; 4],
}

fn after_signature(m: &str, insert: &str) -> String {
    let end = m.find("\r\n").unwrap() + 2;
    format!("{}{insert}{}", &m[..end], &m[end..])
}

fn changes() -> Vec<Change> {
    vec![
        Change {
            name: "unchanged",
            apply: |m| m.to_owned(),
            expect: ["pass"; 4],
        },
        Change {
            name: "body-byte",
            apply: |m| m.replacen("See you", "See yoo", 1),
            expect: ["fail"; 4],
        },
        Change {
            name: "trailing-empty-lines",
            apply: |m| format!("{m}\r\n\r\n\r\n"),
            expect: ["pass"; 4],
        },
        Change {
            name: "body-white-space",
            apply: |m| m.replacen("Hello  world.", "Hello world.\t", 1),
            expect: ["fail", "fail", "pass", "pass"],
        },
        Change {
            name: "refolded-field",
            apply: |m| {
                m.replacen(
                    "Subject: Lunch\r\n on Friday",
                    "Subject: Lunch on Friday",
                    1,
                )
            },
            expect: ["fail", "fail", "pass", "pass"],
        },
        Change {
            name: "received-above",
            apply: |m| {
                format!(
                    "Received: from a.example by b.example; Mon, 30 Nov 2026 12:00:01 +0000\r\n{m}"
                )
            },
            expect: ["pass"; 4],
        },
        Change {
            name: "field-below-unlisted",
            apply: |m| after_signature(m, "X-Mailer: added\r\n"),
            expect: ["pass", "fail", "pass", "fail"],
        },
        Change {
            name: "second-to-below",
            apply: |m| after_signature(m, "To: eve@example.org\r\n"),
            expect: ["fail"; 4],
        },
        Change {
            name: "from-changed",
            apply: |m| m.replacen("alice@example.com", "mallory@example.com", 1),
            expect: ["fail"; 4],
        },
    ]
}

/// monban's result in Mail::DKIM's words.
fn as_mail_dkim(result: &str) -> &str {
    match result {
        "permerror" => "invalid",
        other => other,
    }
}

struct Case {
    file: PathBuf,
    label: String,
    expect: String,
}

#[test]
fn mail_dkim_signs_monban_and_mail_dkim_agree() {
    require_perl();
    let dir = std::env::temp_dir().join(format!("monban-dk-interop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let key = root().join("examples/keys/s2026.private");

    // The keys, for monban (a zone file) and for Mail::DKIM (NAME<TAB>TXT lines).
    let mut zone = String::new();
    let mut txt = String::new();
    for (selector, record) in keys() {
        let name = format!("{selector}._domainkey.example.com");
        let chunks: Vec<String> = record
            .as_bytes()
            .chunks(200)
            .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
            .collect();
        zone.push_str(&format!("{name}. 300 IN TXT ( {} )\n", chunks.join(" ")));
        txt.push_str(&format!("{name}\t{record}\n"));
    }
    let zone_file = dir.join("keys.zone");
    std::fs::write(&zone_file, &zone).unwrap();
    let txt_file = dir.join("keys.txt");
    std::fs::write(&txt_file, &txt).unwrap();

    let mut cases: Vec<Case> = Vec::new();
    let sign = |selector: &str, method: &str, headers: &str, inputs: &[(PathBuf, PathBuf)]| {
        let mut cmd = Command::new("perl");
        cmd.arg(tool())
            .args(["sign", key.to_str().unwrap(), "example.com", selector])
            .args([method, headers]);
        for (i, o) in inputs {
            cmd.arg(i).arg(o);
        }
        let out = cmd.output().expect("run perl");
        assert!(
            out.status.success(),
            "Mail::DKIM sign: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };

    // Every change × canonicalization × h=.
    let base = dir.join("base.eml");
    std::fs::write(&base, BASE).unwrap();
    for (m, method) in ["simple", "nofws"].into_iter().enumerate() {
        for (h, headers) in ["all", "none"].into_iter().enumerate() {
            let signed = dir.join(format!("signed-{method}-{headers}.eml"));
            sign("dk", method, headers, &[(base.clone(), signed.clone())]);
            let text = std::fs::read_to_string(&signed).unwrap();
            assert!(text.starts_with("DomainKey-Signature:"), "{text}");
            for change in changes() {
                let file = dir.join(format!("{method}-{headers}-{}.eml", change.name));
                std::fs::write(&file, (change.apply)(&text)).unwrap();
                cases.push(Case {
                    file,
                    label: format!("c={method} h={headers} {}", change.name),
                    expect: change.expect[m * 2 + h].to_owned(),
                });
            }
        }
    }

    // Keys and sending addresses.
    let others: [(&str, &str, &str, &str); 7] = [
        // (name, selector, message header, expected)
        (
            "granularity-match",
            "dkg",
            "From: alice@example.com\r\n",
            "pass",
        ),
        (
            "granularity-mismatch",
            "dkg",
            "From: bob@example.com\r\n",
            "invalid",
        ),
        ("testing-key", "dkt", "From: alice@example.com\r\n", "pass"),
        (
            "revoked-key",
            "dkrevoked",
            "From: alice@example.com\r\n",
            "invalid",
        ),
        (
            "sender-in-subdomain",
            "dk",
            "From: alice@example.org\r\nSender: list@lists.example.com\r\n",
            "pass",
        ),
        (
            "from-outside-d",
            "dk",
            "From: alice@example.org\r\n",
            "invalid",
        ),
        (
            "sender-outside-d",
            "dk",
            "From: alice@example.com\r\nSender: list@example.org\r\n",
            "invalid",
        ),
    ];
    for (name, selector, header, expect) in others {
        let input = dir.join(format!("{name}.in"));
        std::fs::write(
            &input,
            format!("{header}To: bob@example.net\r\nSubject: {name}\r\n\r\nBody.\r\n"),
        )
        .unwrap();
        let file = dir.join(format!("{name}.eml"));
        sign(selector, "nofws", "all", &[(input, file.clone())]);
        cases.push(Case {
            file,
            label: name.to_owned(),
            expect: expect.to_owned(),
        });
    }
    // An empty body signs the header fields alone, for both algorithms.
    let empty = dir.join("empty.in");
    std::fs::write(&empty, "From: alice@example.com\r\nSubject: empty\r\n\r\n").unwrap();
    for method in ["simple", "nofws"] {
        let file = dir.join(format!("empty-{method}.eml"));
        sign("dk", method, "all", &[(empty.clone(), file.clone())]);
        let with_lines = dir.join(format!("empty-{method}-lines.eml"));
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&with_lines, format!("{text}\r\n\r\n")).unwrap();
        for (f, l) in [
            (file, "empty body"),
            (with_lines, "empty body + empty lines"),
        ] {
            cases.push(Case {
                file: f,
                label: format!("c={method} {l}"),
                expect: "pass".to_owned(),
            });
        }
    }

    // Mail::DKIM's verdicts.
    let mut cmd = Command::new("perl");
    cmd.arg(tool()).arg("verify").arg(&txt_file);
    for c in &cases {
        cmd.arg(&c.file);
    }
    let out = cmd.output().expect("run perl");
    assert!(
        out.status.success(),
        "Mail::DKIM verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: HashMap<String, (String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut p = l.splitn(3, '\t');
            Some((
                p.next()?.to_owned(),
                (p.next()?.to_owned(), p.next().unwrap_or("").to_owned()),
            ))
        })
        .collect();

    // monban's, in one run.
    let mut args = vec![
        "--zone".to_owned(),
        zone_file.to_str().unwrap().to_owned(),
        "verify".to_owned(),
        "--json".to_owned(),
    ];
    args.extend(cases.iter().map(|c| c.file.to_str().unwrap().to_owned()));
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = common::run(&arg_refs, b"", &[]);
    let mut ours: HashMap<String, (String, String)> = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let dk = &v["domainkeys"][0];
        ours.insert(
            v["file"].as_str().unwrap().to_owned(),
            (
                as_mail_dkim(dk["result"].as_str().unwrap_or("none")).to_owned(),
                dk["reason"].as_str().unwrap_or("").to_owned(),
            ),
        );
    }

    let mut failures = Vec::new();
    for c in &cases {
        let key = c.file.to_str().unwrap();
        let (t, t_why) = theirs.get(key).cloned().unwrap_or_default();
        let (o, o_why) = ours.get(key).cloned().unwrap_or_default();
        if t != c.expect || o != c.expect {
            failures.push(format!(
                "{}: expected {}, Mail::DKIM {t} ({t_why}), monban {o} ({o_why})",
                c.label, c.expect
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} DomainKeys cases disagree (files kept in {}):\n{}",
        failures.len(),
        cases.len(),
        dir.display(),
        failures.join("\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
