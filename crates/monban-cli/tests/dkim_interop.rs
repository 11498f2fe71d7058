//! DKIM interop with a second implementation, dkimpy (tests/interop/dkimpy_tool.py), in
//! both directions: monban signs and dkimpy verifies, dkimpy signs and monban verifies.
//!
//! Every message (CRLF and LF-only) × key (RSA 2048, Ed25519) × canonicalization is tried,
//! with a negative check each time: one body byte changed after signing must fail on both
//! sides. Every failing combination is reported, not just the first; the temporary
//! directory with the keys, the zone and the failing messages is then kept.
//!
//! monban runs once per message; dkimpy runs on many files per Python start (one verify
//! run per direction, one sign run per key and canonicalization), which keeps the whole
//! test at a few seconds.
//!
//! Needs python3 with dkimpy and pynacl (`scripts/test.sh` installs them); without them
//! the test fails, it is never skipped.

use std::cell::Cell;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

const DOMAIN: &str = "example.com";
const CANONICALIZATIONS: [&str; 4] = [
    "simple/simple",
    "simple/relaxed",
    "relaxed/simple",
    "relaxed/relaxed",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tool() -> PathBuf {
    root().join("tests/interop/dkimpy_tool.py")
}

/// Runs a command with `input` on its standard input.
fn run(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = cmd
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        // A child that exits early closes the pipe; its output says why.
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait for the child");
    writer.join().expect("stdin writer");
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_owned()
}

/// Fails loudly (never skips) when python3, dkimpy or pynacl is missing.
fn require_python() {
    let out = Command::new("python3")
        .args(["-c", "import dkim, nacl"])
        .output();
    match out {
        Err(e) => panic!(
            "python3 cannot be run ({e}): the DKIM interop test needs python3 with dkimpy and \
             pynacl; install python3, then `python3 -m pip install dkimpy pynacl` \
             (scripts/test.sh does the latter)"
        ),
        Ok(o) if !o.status.success() => panic!(
            "python3 lacks dkimpy or pynacl ({}): run `python3 -m pip install dkimpy pynacl` \
             (scripts/test.sh does)",
            stderr(&o)
        ),
        Ok(_) => {}
    }
}

/// A temporary directory, removed on drop unless kept for a failure report.
struct TempDir {
    path: PathBuf,
    keep: Cell<bool>,
}

impl TempDir {
    fn new(name: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "monban-dkim-interop-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).expect("create the temporary directory");
        Self {
            path,
            keep: Cell::new(false),
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep.get() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

struct Key {
    /// "rsa" or "ed25519", as in failure messages.
    name: &'static str,
    /// The a= value.
    algorithm: &'static str,
    selector: &'static str,
    private: PathBuf,
}

struct Setup {
    dir: TempDir,
    keys: Vec<Key>,
    zone: PathBuf,
    dns_json: PathBuf,
}

/// The character-strings of a zone-file TXT line, in order (`\"` and `\\` unescaped).
fn quoted_strings(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut s = String::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => s.extend(chars.next()),
                c => s.push(c),
            }
        }
        out.push(s);
    }
    out
}

/// Generates the keys with `monban keygen` and publishes them in a zone file (for monban)
/// and a JSON map (for dkimpy).
fn setup(name: &str) -> Setup {
    require_python();
    let dir = TempDir::new(name);
    let specs = [
        (
            "rsa",
            "rsa-sha256",
            "rsa2048",
            &["--algorithm", "rsa", "--bits", "2048"][..],
        ),
        (
            "ed25519",
            "ed25519-sha256",
            "ed25519",
            &["--algorithm", "ed25519"][..],
        ),
    ];
    let mut keys = Vec::new();
    let mut zone = String::new();
    let mut dns = serde_json::Map::new();
    for (name, algorithm, selector, extra) in specs {
        let out = Command::new(env!("CARGO_BIN_EXE_monban"))
            .args([
                "keygen",
                "--domain",
                DOMAIN,
                "--selector",
                selector,
                "--out",
            ])
            .arg(&dir.path)
            .args(extra)
            .output()
            .expect("run monban keygen");
        assert!(
            out.status.success(),
            "monban keygen ({name}) failed: {}",
            stderr(&out)
        );
        let txt = std::fs::read_to_string(dir.path.join(format!("{selector}.txt")))
            .expect("read the keygen .txt");
        zone.push_str(&txt);
        let line = txt.trim();
        let owner = line.split_whitespace().next().expect("owner name");
        assert_eq!(owner, format!("{selector}._domainkey.{DOMAIN}."), "{line}");
        let record = quoted_strings(line).concat();
        assert!(record.starts_with("v=DKIM1;"), "{line}");
        dns.insert(
            owner.trim_end_matches('.').to_owned(),
            Value::String(record),
        );
        keys.push(Key {
            name,
            algorithm,
            selector,
            private: dir.path.join(format!("{selector}.private")),
        });
    }
    let zone_path = dir.path.join("keys.zone");
    std::fs::write(&zone_path, zone).expect("write the zone file");
    let dns_json = dir.path.join("dns.json");
    std::fs::write(&dns_json, Value::Object(dns).to_string()).expect("write dns.json");
    Setup {
        dir,
        keys,
        zone: zone_path,
        dns_json,
    }
}

/// The messages, written with LF; each is tried with CRLF and as it is.
const MESSAGES: &[(&str, &str)] = &[
    (
        "folded-headers",
        concat!(
            "Received: from mail.example.com (mail.example.com [192.0.2.25])\n",
            "\tby mx.example.org (Postfix) with ESMTPS id 4YXq1k3Zt2z9sWx\n",
            "\tfor <bob@example.org>; Tue, 14 Jan 2025 09:12:44 +0000 (UTC)\n",
            "From: \"Alice Example\" <alice@example.com>\n",
            "To: Bob Recipient <bob@example.org>,\n",
            "\tCarol Recipient <carol@example.org>\n",
            "CC:   dave@example.org  \n",
            "Subject: Quarterly  report:   the figures for Q4\n",
            "\tand the plan for the next quarter,\n",
            "\t  folded over three lines  \n",
            "Date: Tue, 14 Jan 2025 10:12:40 +0100\n",
            "Message-ID: <20250114091240.4711.alice@mail.example.com>\n",
            "MIME-Version: 1.0\n",
            "Content-Type: text/plain; charset=us-ascii;\n",
            "\tformat=flowed\n",
            "X-Mailer: monban interop test\n",
            "\n",
            "Hi Bob,\n",
            "\n",
            "the figures are in the shared folder,  as agreed.   \n",
            "\tThis line starts with a tab and has  two  spaces.\n",
            "\n",
            "-- \n",
            "Alice\n",
        ),
    ),
    (
        "empty-body",
        concat!(
            "From: alice@example.com\n",
            "To: bob@example.org\n",
            "Subject: (no body)\n",
            "Date: Tue, 14 Jan 2025 10:15:00 +0100\n",
            "Message-ID: <empty.20250114101500@mail.example.com>\n",
            "\n",
        ),
    ),
    (
        "trailing-blank-lines",
        concat!(
            "From: Alice Example <alice@example.com>\n",
            "To: bob@example.org\n",
            "Subject: Trailing blank lines\n",
            "Date: Tue, 14 Jan 2025 10:20:00 +0100\n",
            "Message-ID: <blank.20250114102000@mail.example.com>\n",
            "MIME-Version: 1.0\n",
            "Content-Type: text/plain; charset=us-ascii\n",
            "\n",
            "First line.\n",
            "Second line with trailing spaces   \n",
            "\n",
            "\n",
            "   \n",
            "\n",
            "\n",
            "\n",
        ),
    ),
    (
        "utf8-8bit",
        concat!(
            "From: \"Jürgen Müller\" <juergen@example.com>\n",
            "To: \"Zoë Ångström\" <zoe@example.org>\n",
            "Subject: Grüße aus Köln – 東京からのお知らせ\n",
            "Date: Tue, 14 Jan 2025 10:25:00 +0100\n",
            "Message-ID: <utf8.20250114102500@mail.example.com>\n",
            "MIME-Version: 1.0\n",
            "Content-Type: text/plain; charset=utf-8\n",
            "Content-Transfer-Encoding: 8bit\n",
            "\n",
            "Hallo Zoë,\n",
            "\n",
            "schöne Grüße — ¡olé! Das Café kostet 4,20 €.\n",
            "日本語のテキストもあります。\n",
            "\n",
            "Jürgen\n",
        ),
    ),
    (
        "multipart",
        concat!(
            "From: Alice Example <alice@example.com>\n",
            "To: Bob Recipient <bob@example.org>\n",
            "Subject: Minutes and agenda\n",
            "Date: Tue, 14 Jan 2025 10:30:00 +0100\n",
            "Message-ID: <multi.20250114103000@mail.example.com>\n",
            "MIME-Version: 1.0\n",
            "Content-Type: multipart/mixed;\n",
            " boundary=\"==outer-7f3a9c==\"\n",
            "\n",
            "This is a multi-part message in MIME format.\n",
            "\n",
            "--==outer-7f3a9c==\n",
            "Content-Type: multipart/alternative; boundary=\"==inner-41d2==\"\n",
            "\n",
            "--==inner-41d2==\n",
            "Content-Type: text/plain; charset=utf-8\n",
            "Content-Transfer-Encoding: quoted-printable\n",
            "\n",
            "Hi Bob,=0A=0Athe minutes are attached. The agenda for next week:\n",
            " 1. budget\n",
            " 2. hiring =E2=80=93 two roles\n",
            "\n",
            "--==inner-41d2==\n",
            "Content-Type: text/html; charset=utf-8\n",
            "Content-Transfer-Encoding: quoted-printable\n",
            "\n",
            "<html><body><p>Hi Bob,</p><p>the minutes are attached.</p>\n",
            "<ol><li>budget</li><li>hiring =E2=80=93 two roles</li></ol></body></html>\n",
            "\n",
            "--==inner-41d2==--\n",
            "\n",
            "--==outer-7f3a9c==\n",
            "Content-Type: text/csv; name=\"minutes.csv\"\n",
            "Content-Disposition: attachment; filename=\"minutes.csv\"\n",
            "Content-Transfer-Encoding: base64\n",
            "\n",
            "aXRlbSxvd25lcixkdWUKYnVkZ2V0LGFsaWNlLDIwMjUtMDEtMjEKaGlyaW5nLGJvYiwyMDI1\n",
            "LTAxLTI4Cg==\n",
            "\n",
            "--==outer-7f3a9c==--\n",
            "Epilogue text after the last boundary.\n",
        ),
    ),
];

/// (label, message) for every message with CRLF and with LF-only line endings.
fn messages() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (name, text) in MESSAGES {
        assert!(!text.contains('\r'), "{name}: write the messages with LF");
        out.push((
            format!("{name}/CRLF"),
            text.replace('\n', "\r\n").into_bytes(),
        ));
        out.push((format!("{name}/LF"), text.as_bytes().to_vec()));
    }
    out
}

fn is_lf_only(message: &[u8]) -> bool {
    !message.contains(&b'\r')
}

/// Where the body starts: after the first empty line.
fn body_start(message: &[u8]) -> Option<usize> {
    let sep: &[u8] = if is_lf_only(message) {
        b"\n\n"
    } else {
        b"\r\n\r\n"
    };
    message
        .windows(sep.len())
        .position(|w| w == sep)
        .map(|i| i + sep.len())
}

/// The signed message with one body byte changed: the last letter or digit of the body,
/// or, for an empty body, a line "X" added.
fn tamper(signed: &[u8]) -> Vec<u8> {
    let mut out = signed.to_vec();
    let start = body_start(signed).expect("a signed message has a body separator");
    match signed[start..].iter().rposition(u8::is_ascii_alphanumeric) {
        Some(i) => {
            let b = &mut out[start + i];
            *b = if *b == b'X' { b'Y' } else { b'X' };
        }
        None => out.extend_from_slice(if is_lf_only(signed) { b"X\n" } else { b"X\r\n" }),
    }
    out
}

/// The c= of a DKIM-Signature field as header/body ("simple" when absent, body "simple"
/// when only the header's is given; RFC 6376 §3.5).
fn c_tag(field: &str) -> String {
    let value = field.split_once(':').map_or("", |(_, v)| v);
    let c = value
        .split(';')
        .filter_map(|tag| tag.split_once('='))
        .find(|(name, _)| name.trim() == "c")
        .map_or("simple", |(_, v)| v)
        .split_whitespace()
        .collect::<String>();
    if c.contains('/') {
        c
    } else {
        format!("{c}/simple")
    }
}

/// Checks that `signed` is one DKIM-Signature with c=`canon` followed by `original`, in
/// its line-ending style.
fn check_signature(signed: &[u8], original: &[u8], canon: &str) -> Result<(), String> {
    if !signed.ends_with(original) || signed.len() == original.len() {
        return Err("the output is not the input with header fields prepended".to_owned());
    }
    let added = &signed[..signed.len() - original.len()];
    if !added.starts_with(b"DKIM-Signature:") {
        return Err(format!(
            "the added text does not start with DKIM-Signature: {:?}",
            String::from_utf8_lossy(added)
        ));
    }
    let bare_lf = added
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || added[i - 1] != b'\r'));
    let cr = added.contains(&b'\r');
    if is_lf_only(original) && cr {
        return Err("the signature of an LF-only message has CR in it".to_owned());
    }
    if !is_lf_only(original) && bare_lf {
        return Err("the signature of a CRLF message has bare LF in it".to_owned());
    }
    let field = String::from_utf8_lossy(added);
    let c = c_tag(&field);
    if c != canon {
        return Err(format!("the signature has c={c}, want {canon}: {field:?}"));
    }
    Ok(())
}

/// One message × key × canonicalization, and what went wrong with it.
struct Combo<'a> {
    /// For failure messages: "utf8-8bit/LF rsa c=relaxed/simple".
    label: String,
    /// The message's file name (without .eml) in the temporary directory.
    message_file: String,
    /// The file-name stem of this combination's files.
    stem: String,
    message: &'a [u8],
    key: &'a Key,
    canon: &'static str,
    errors: Vec<String>,
}

fn combos<'a>(keys: &'a [Key], messages: &'a [(String, Vec<u8>)]) -> Vec<Combo<'a>> {
    let mut out = Vec::new();
    for (i, (label, message)) in messages.iter().enumerate() {
        for key in keys {
            for canon in CANONICALIZATIONS {
                out.push(Combo {
                    label: format!("{label} {} c={canon}", key.name),
                    message_file: format!("m{i:02}"),
                    stem: format!("m{i:02}-{}-{}", key.name, canon.replace('/', "_")),
                    message,
                    key,
                    canon,
                    errors: Vec::new(),
                });
            }
        }
    }
    out
}

/// dkimpy's verdict on one message: one boolean and one reason (or null) per signature.
#[derive(Debug, Default)]
struct Verdict {
    valid: Vec<bool>,
    errors: Vec<Value>,
}

impl Verdict {
    fn describe(&self) -> String {
        let reasons: Vec<String> = self
            .errors
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        if reasons.is_empty() {
            format!("{:?}", self.valid)
        } else {
            format!("{:?} ({})", self.valid, reasons.join("; "))
        }
    }
}

fn dkim_summary(results: &[Value]) -> String {
    if results.is_empty() {
        return "no DKIM result".to_owned();
    }
    results
        .iter()
        .map(|r| {
            let result = r["result"].as_str().unwrap_or("(no result)");
            match r["reason"].as_str() {
                Some(why) => format!("{result} ({why})"),
                None => result.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Setup {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path.join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    fn monban_sign(&self, key: &Key, canon: &str, message: &[u8]) -> Result<Vec<u8>, String> {
        let out = run(
            Command::new(env!("CARGO_BIN_EXE_monban"))
                .args([
                    "sign",
                    "--domain",
                    DOMAIN,
                    "--selector",
                    key.selector,
                    "--key",
                ])
                .arg(&key.private)
                .args(["--canonicalization", canon, "-"]),
            message,
        );
        if !out.status.success() {
            return Err(format!(
                "monban sign failed ({}): {}",
                out.status,
                stderr(&out)
            ));
        }
        Ok(out.stdout)
    }

    /// monban's DKIM results (the "dkim" array of `verify --json`).
    fn monban_verify(&self, message: &[u8]) -> Result<Vec<Value>, String> {
        let out = run(
            Command::new(env!("CARGO_BIN_EXE_monban"))
                .args(["verify", "-", "--json", "--zone"])
                .arg(&self.zone),
            message,
        );
        if !out.status.success() {
            return Err(format!(
                "monban verify failed ({}): {}",
                out.status,
                stderr(&out)
            ));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let (Some(line), None) = (lines.next(), lines.next()) else {
            return Err(format!("monban verify printed not one JSON line: {text:?}"));
        };
        let v: Value = serde_json::from_str(line)
            .map_err(|e| format!("monban verify printed no JSON ({e}): {line}"))?;
        match v["dkim"].as_array() {
            Some(a) => Ok(a.clone()),
            None => Err(format!("monban verify: no \"dkim\" array: {line}")),
        }
    }

    /// Signs every file with dkimpy (one Python start), writing `out/<file name>`.
    fn dkimpy_sign_files(
        &self,
        key: &Key,
        canon: &str,
        files: &[PathBuf],
        out: &Path,
    ) -> Result<(), String> {
        let key_flag = if key.name == "ed25519" {
            "--ed25519"
        } else {
            "--key"
        };
        let output = run(
            Command::new("python3")
                .arg(tool())
                .args(["sign", "--selector", key.selector, "--domain", DOMAIN])
                .arg(key_flag)
                .arg(&key.private)
                .args(["--canon", canon, "--out"])
                .arg(out)
                .args(files),
            b"",
        );
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "dkimpy sign failed ({}): {}",
                output.status,
                stderr(&output)
            ))
        }
    }

    /// dkimpy's verdict on every file (one Python start), in order.
    fn dkimpy_verify_files(&self, files: &[PathBuf]) -> Vec<Verdict> {
        if files.is_empty() {
            return Vec::new();
        }
        let out = run(
            Command::new("python3")
                .arg(tool())
                .arg("verify")
                .arg("--dns")
                .arg(&self.dns_json)
                .args(files),
            b"",
        );
        assert!(
            out.status.success(),
            "dkimpy verify failed ({}): {}",
            out.status,
            stderr(&out)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let verdicts: Vec<Verdict> = text
            .lines()
            .zip(files)
            .map(|(line, file)| {
                let v: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("dkimpy verify printed no JSON ({e}): {line}"));
                assert_eq!(
                    v["file"].as_str(),
                    file.to_str(),
                    "dkimpy verify: files out of order"
                );
                Verdict {
                    valid: v["valid"]
                        .as_array()
                        .map(|a| a.iter().map(|b| b.as_bool() == Some(true)).collect())
                        .unwrap_or_default(),
                    errors: v["errors"].as_array().cloned().unwrap_or_default(),
                }
            })
            .collect();
        assert_eq!(verdicts.len(), files.len(), "dkimpy verify: {text}");
        verdicts
    }
}

/// Panics with every failing combination, keeping the temporary directory to look at.
fn report(direction: &str, setup: &Setup, combos: &[Combo<'_>]) {
    let failed: Vec<&Combo<'_>> = combos.iter().filter(|c| !c.errors.is_empty()).collect();
    if failed.is_empty() {
        eprintln!("{direction}: all {} combinations passed", combos.len());
        return;
    }
    setup.dir.keep.set(true);
    let mut text = format!(
        "{direction}: {} of {} combinations failed (keys, zone and messages kept in {}):\n",
        failed.len(),
        combos.len(),
        setup.dir.path.display()
    );
    for c in failed {
        let _ = writeln!(text, "  [{}] {}", c.label, c.errors.join("; "));
    }
    panic!("{text}");
}

/// monban signs, dkimpy verifies; with a body byte changed both sides must say fail.
#[test]
fn monban_signs_dkimpy_verifies() {
    let setup = setup("monban-signs");
    let messages = messages();
    let mut combos = combos(&setup.keys, &messages);
    // (combination, the signed file, the tampered file) for one dkimpy run.
    let mut pending = Vec::new();
    for (i, c) in combos.iter_mut().enumerate() {
        let signed = match setup.monban_sign(c.key, c.canon, c.message) {
            Ok(s) => s,
            Err(e) => {
                c.errors.push(e);
                continue;
            }
        };
        if let Err(e) = check_signature(&signed, c.message, c.canon) {
            c.errors.push(e);
        }
        let tampered = tamper(&signed);
        match setup.monban_verify(&tampered) {
            Ok(r) if r.len() == 1 && r[0]["result"] == "fail" => {}
            Ok(r) => c.errors.push(format!(
                "with a body byte changed, monban says {}, want one fail",
                dkim_summary(&r)
            )),
            Err(e) => c.errors.push(e),
        }
        let signed_path = setup.write(&format!("{}.monban-signed.eml", c.stem), &signed);
        let tampered_path = setup.write(&format!("{}.tampered.eml", c.stem), &tampered);
        pending.push((i, signed_path, tampered_path));
    }
    let files: Vec<PathBuf> = pending
        .iter()
        .flat_map(|(_, s, t)| [s.clone(), t.clone()])
        .collect();
    let verdicts = setup.dkimpy_verify_files(&files);
    for ((i, signed_path, _), pair) in pending.iter().zip(verdicts.chunks(2)) {
        let c = &mut combos[*i];
        if pair[0].valid != [true] {
            let own = std::fs::read(signed_path)
                .map_err(|e| e.to_string())
                .and_then(|m| setup.monban_verify(&m))
                .map_or_else(|e| e, |r| dkim_summary(&r));
            c.errors.push(format!(
                "dkimpy says {} for monban's signature, want [true]; monban itself says {own}; \
                 message: {}",
                pair[0].describe(),
                signed_path.display()
            ));
        }
        if pair[1].valid != [false] {
            c.errors.push(format!(
                "with a body byte changed, dkimpy says {}, want [false]",
                pair[1].describe()
            ));
        }
    }
    report("monban signs, dkimpy verifies", &setup, &combos);
}

/// dkimpy signs, monban verifies; with a body byte changed both sides must say fail.
#[test]
fn dkimpy_signs_monban_verifies() {
    let setup = setup("dkimpy-signs");
    let messages = messages();
    let originals: Vec<PathBuf> = messages
        .iter()
        .enumerate()
        .map(|(i, (_, m))| setup.write(&format!("m{i:02}.eml"), m))
        .collect();
    // One dkimpy run per key and canonicalization, signing every message.
    let mut sign_errors = Vec::new();
    for key in &setup.keys {
        for canon in CANONICALIZATIONS {
            let out = setup.path(&format!("dkimpy-{}-{}", key.name, canon.replace('/', "_")));
            std::fs::create_dir_all(&out).expect("create the output directory");
            if let Err(e) = setup.dkimpy_sign_files(key, canon, &originals, &out) {
                sign_errors.push((key.name, canon, e));
            }
        }
    }
    let mut combos = combos(&setup.keys, &messages);
    let mut pending = Vec::new();
    for (i, c) in combos.iter_mut().enumerate() {
        if let Some((_, _, e)) = sign_errors
            .iter()
            .find(|(k, canon, _)| *k == c.key.name && *canon == c.canon)
        {
            c.errors.push(e.clone());
            continue;
        }
        let signed_path = setup.path(&format!(
            "dkimpy-{}-{}/{}.eml",
            c.key.name,
            c.canon.replace('/', "_"),
            c.message_file
        ));
        let signed = match std::fs::read(&signed_path) {
            Ok(s) => s,
            Err(e) => {
                c.errors
                    .push(format!("dkimpy wrote no {}: {e}", signed_path.display()));
                continue;
            }
        };
        if let Err(e) = check_signature(&signed, c.message, c.canon) {
            c.errors.push(e);
        }
        match setup.monban_verify(&signed) {
            Ok(r)
                if r.len() == 1
                    && r[0]["result"] == "pass"
                    && r[0]["domain"] == DOMAIN
                    && r[0]["selector"] == c.key.selector
                    && r[0]["algorithm"] == c.key.algorithm => {}
            Ok(r) => c.errors.push(format!(
                "monban says {} for dkimpy's signature, want one pass (d={DOMAIN} s={} a={}): \
                 {}; message: {}",
                dkim_summary(&r),
                c.key.selector,
                c.key.algorithm,
                serde_json::to_string(&r).unwrap_or_default(),
                signed_path.display()
            )),
            Err(e) => c.errors.push(e),
        }
        let tampered = tamper(&signed);
        match setup.monban_verify(&tampered) {
            Ok(r) if r.len() == 1 && r[0]["result"] == "fail" => {}
            Ok(r) => c.errors.push(format!(
                "with a body byte changed, monban says {}, want one fail",
                dkim_summary(&r)
            )),
            Err(e) => c.errors.push(e),
        }
        let tampered_path = setup.write(&format!("{}.tampered.eml", c.stem), &tampered);
        pending.push((i, signed_path, tampered_path));
    }
    let files: Vec<PathBuf> = pending
        .iter()
        .flat_map(|(_, s, t)| [s.clone(), t.clone()])
        .collect();
    let verdicts = setup.dkimpy_verify_files(&files);
    for ((i, _, _), pair) in pending.iter().zip(verdicts.chunks(2)) {
        let c = &mut combos[*i];
        if pair[0].valid != [true] {
            c.errors.push(format!(
                "dkimpy does not verify its own signature: {}",
                pair[0].describe()
            ));
        }
        if pair[1].valid != [false] {
            c.errors.push(format!(
                "with a body byte changed, dkimpy says {}, want [false]",
                pair[1].describe()
            ));
        }
    }
    report("dkimpy signs, monban verifies", &setup, &combos);
}

/// The tool's standard-input mode (the one to use by hand): sign, then verify.
#[test]
fn dkimpy_tool_stdin_mode() {
    let setup = setup("stdin");
    let (label, message) = &messages()[0];
    for key in &setup.keys {
        let key_flag = if key.name == "ed25519" {
            "--ed25519"
        } else {
            "--key"
        };
        let signed = run(
            Command::new("python3")
                .arg(tool())
                .args(["sign", "--selector", key.selector, "--domain", DOMAIN])
                .arg(key_flag)
                .arg(&key.private),
            message,
        );
        assert!(
            signed.status.success(),
            "{label} {}: {}",
            key.name,
            stderr(&signed)
        );
        check_signature(&signed.stdout, message, "relaxed/simple")
            .unwrap_or_else(|e| panic!("{label} {}: {e}", key.name));
        for (what, input, want) in [
            ("signed", signed.stdout.clone(), "[true]"),
            ("tampered", tamper(&signed.stdout), "[false]"),
        ] {
            let out = run(
                Command::new("python3")
                    .arg(tool())
                    .arg("verify")
                    .arg("--dns")
                    .arg(&setup.dns_json),
                &input,
            );
            assert!(
                out.status.success(),
                "{label} {} {what}: {}",
                key.name,
                stderr(&out)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                want,
                "{label} {} {what}: {}",
                key.name,
                stderr(&out)
            );
        }
    }
}

/// The test's own helpers: the tampering changes exactly one body byte (or adds a line
/// to an empty body) and never touches the header.
#[test]
fn tamper_changes_one_body_byte() {
    for (label, message) in messages() {
        let changed = tamper(&message);
        let start = body_start(&message).expect("body separator");
        assert_eq!(
            changed[..start],
            message[..start],
            "{label}: header changed"
        );
        if changed.len() == message.len() {
            let diff = changed.iter().zip(&message).filter(|(a, b)| a != b).count();
            assert_eq!(diff, 1, "{label}");
        } else {
            assert!(message[start..].is_empty(), "{label}");
        }
    }
    assert_eq!(
        c_tag("DKIM-Signature: v=1; a=rsa-sha256; d=x; s=y; b=z"),
        "simple/simple"
    );
    assert_eq!(
        c_tag("DKIM-Signature: v=1; c=relaxed;\r\n\td=x"),
        "relaxed/simple"
    );
    assert_eq!(
        c_tag("DKIM-Signature: v=1; c = simple/\r\n relaxed; d=x"),
        "simple/relaxed"
    );
    assert_eq!(
        quoted_strings(r#"s._domainkey.d. 3600 IN TXT ( "v=DKIM1; k=rsa; p=AB" "CD\"E" )"#),
        ["v=DKIM1; k=rsa; p=AB", "CD\"E"]
    );
}

/// ARC (RFC 8617) with dkimpy's implementation, both ways: chains of three sealers
/// mixing the two (each hop validates what arrived and seals with its own `cv=`; the
/// middle hop adds a footer before sealing, as a list does), each step validated by
/// both; then tampered copies (a body byte after the last seal; the first AAR) fail on
/// both sides. RSA only: dkimpy's ARC knows no Ed25519, and monban refuses to seal
/// with it for that reason.
#[test]
fn arc_chains_both_ways() {
    let setup = setup("arc");
    let rsa = setup.keys.iter().find(|k| k.name == "rsa").unwrap();
    let message = String::from(
        "From: Alice <alice@example.com>\nTo: list@example.com\nSubject: ARC interop\nDate: Sun, 22 Nov 2026 10:00:00 +0900\nMessage-ID: <arc@example.com>\n\nHello,\n  a body  with spaces \n\n",
    )
    .replace('\n', "\r\n")
    .into_bytes();

    const FOOTER: &str = "-- \r\nlist footer\r\n";
    // A hop: validates what arrived; a list (`footer`) then appends its footer, and
    // seals with cv= from what it found on arrival.
    // Each hop has its own authserv-id (a hop's Authentication-Results are its own).
    let monban_seal = |msg: &[u8], footer: bool, hop: usize| -> Vec<u8> {
        let key = rsa;
        let id = format!("mb{hop}.example.com");
        let id = id.as_str();
        let mut input = msg.to_vec();
        let mut extra: &[&str] = &[];
        if footer {
            // On arrival: monban's Authentication-Results (with arc=); then the change.
            let out = run(
                Command::new(env!("CARGO_BIN_EXE_monban"))
                    .arg("--zone")
                    .arg(&setup.zone)
                    .args(["verify", "--authserv-id", id]),
                msg,
            );
            assert!(out.status.success(), "monban verify: {}", stderr(&out));
            input = String::from_utf8(out.stdout)
                .unwrap()
                .replace('\n', "\r\n")
                .into_bytes();
            input.extend_from_slice(msg);
            input.extend_from_slice(FOOTER.as_bytes());
            extra = &["--recorded-results"];
        }
        let out = run(
            Command::new(env!("CARGO_BIN_EXE_monban"))
                .arg("--zone")
                .arg(&setup.zone)
                .args(["seal", "--domain", DOMAIN, "--selector", key.selector])
                .arg("--key")
                .arg(&key.private)
                .args(["--authserv-id", id])
                .args(extra),
            &input,
        );
        assert!(out.status.success(), "monban seal: {}", stderr(&out));
        out.stdout
    };
    let dkimpy_seal = |msg: &[u8], footer: bool, hop: usize| -> Vec<u8> {
        let id = format!("py{hop}.example.com");
        let out = run(
            Command::new("python3")
                .arg(tool())
                .args(["arc-seal", "--selector", rsa.selector, "--domain", DOMAIN])
                .arg("--key")
                .arg(&rsa.private)
                .args(["--srv-id", &id])
                .arg("--dns")
                .arg(&setup.dns_json)
                .args(if footer {
                    &["--append-body", "-- \nlist footer\n"][..]
                } else {
                    &[][..]
                }),
            msg,
        );
        assert!(out.status.success(), "dkimpy arc-seal: {}", stderr(&out));
        out.stdout
    };
    // (monban's result, instances, oldest_pass) and dkimpy's cv.
    let both = |msg: &[u8]| -> ((String, u64, u64), String) {
        let out = run(
            Command::new(env!("CARGO_BIN_EXE_monban"))
                .arg("--zone")
                .arg(&setup.zone)
                .args(["verify", "--json"]),
            msg,
        );
        assert!(out.status.success(), "monban verify: {}", stderr(&out));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let ours = (
            v["arc"]["result"].as_str().unwrap().to_owned(),
            v["arc"]["instances"].as_u64().unwrap(),
            v["arc"]["oldest_pass"].as_u64().unwrap(),
        );
        let out = run(
            Command::new("python3")
                .arg(tool())
                .arg("arc-verify")
                .arg("--dns")
                .arg(&setup.dns_json),
            msg,
        );
        assert!(out.status.success(), "dkimpy arc-verify: {}", stderr(&out));
        let d: Value = serde_json::from_slice(&out.stdout).unwrap();
        (ours, d["cv"].as_str().unwrap().to_owned())
    };
    type Step<'a> = &'a dyn Fn(&[u8], bool, usize) -> Vec<u8>;
    let chains: [(&str, [Step; 3]); 4] = [
        (
            "dkimpy, monban, dkimpy",
            [&dkimpy_seal, &monban_seal, &dkimpy_seal],
        ),
        (
            "monban, dkimpy, monban",
            [&monban_seal, &dkimpy_seal, &monban_seal],
        ),
        (
            "monban, monban, dkimpy",
            [&monban_seal, &monban_seal, &dkimpy_seal],
        ),
        (
            "dkimpy, dkimpy, monban",
            [&dkimpy_seal, &dkimpy_seal, &monban_seal],
        ),
    ];
    let mut failures = Vec::new();
    for (label, steps) in chains {
        let mut msg = message.clone();
        for (n, step) in steps.iter().enumerate() {
            // The second hop is a list: it changes the body after validating, then seals.
            msg = step(&msg, n == 1, n + 1);
            let i = n as u64 + 1;
            let oldest = if n >= 1 { 2 } else { 0 };
            let got = both(&msg);
            let want = (("pass".to_owned(), i, oldest), "pass".to_owned());
            if got != want {
                failures.push(format!(
                    "{label}, after hop {i}: got {got:?}, want {want:?}"
                ));
            }
        }
        // Tampered: one body byte after the last seal; the first AAR's text.
        let text = String::from_utf8(msg.clone()).unwrap();
        let body = text.replacen("a body  with", "a body  wiTh", 1);
        let aar = text.replacen(
            "ARC-Authentication-Results: i=1; ",
            "ARC-Authentication-Results: i=1;  x=1; ",
            1,
        );
        for (what, tampered) in [("body", body), ("AAR i=1", aar)] {
            assert_ne!(tampered, text, "{label}: {what} tampering changed nothing");
            let ((ours, _, _), theirs) = both(tampered.as_bytes());
            if ours != "fail" || theirs != "fail" {
                failures.push(format!(
                    "{label}, {what} tampered: monban {ours}, dkimpy {theirs} (both must fail)"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
