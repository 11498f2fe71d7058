//! Golden outputs: every `--json` output (and the text forms) of the bundled examples,
//! the checker's test zone and the analyzer's samples, held byte for byte in
//! `tests/golden/<case>.out`. They pin the contracts of DESIGN §4 while the code behind
//! them moves (issue 10): a change in any byte fails the case by name.
//!
//! To accept a deliberate change: `MONBAN_BLESS=1 cargo test -p monban-cli --test golden`,
//! then review the diff of `tests/golden/` before committing it.

use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Failed, Trial};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const EX: &str = "examples/example.zone";
const CHECK: &str = "crates/monban-cli/tests/data/check.zone";
/// After every sample's signing time, so t= is never in the future.
const AT: &str = "1795400000";

/// (case name, arguments), run from the repository root.
fn cases() -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<&str>)> = Vec::new();
    let messages = [
        (
            "alice-to-bob",
            ["192.0.2.25", "mail.example.com", "alice@example.com"],
        ),
        (
            "newsletter-via-mailer",
            [
                "198.51.100.10",
                "mx.mailer.example.net",
                "bounces@example.com",
            ],
        ),
        (
            "via-mailing-list",
            [
                "203.0.113.5",
                "lists.example.org",
                "lunch-club-bounces@example.org",
            ],
        ),
        (
            "via-mailing-list-arc",
            [
                "203.0.113.5",
                "lists.example.org",
                "lunch-club-bounces@example.org",
            ],
        ),
        (
            "spoofed-ceo",
            ["203.0.113.66", "mail.attacker.example", "ceo@example.com"],
        ),
    ];
    let paths: Vec<String> = messages
        .iter()
        .map(|(m, _)| format!("examples/messages/{m}.eml"))
        .collect();
    for ((m, [ip, helo, from]), path) in messages.iter().zip(&paths) {
        let base = vec![
            "verify",
            "--zone",
            EX,
            "--authserv-id",
            "mx.test",
            "--at",
            AT,
            "--ip",
            ip,
            "--helo",
            helo,
            "--mail-from",
            from,
            path.as_str(),
        ];
        let mut json = base.clone();
        json.push("--json");
        out.push((format!("verify-{m}.json"), json));
        out.push((format!("verify-{m}.txt"), base));
        let mut no_envelope = vec![
            "verify",
            "--zone",
            EX,
            "--authserv-id",
            "mx.test",
            "--at",
            AT,
            "--json",
        ];
        no_envelope.push(path.as_str());
        out.push((format!("verify-{m}-no-envelope.json"), no_envelope));
        let mut psl = vec![
            "verify",
            "--zone",
            EX,
            "--authserv-id",
            "mx.test",
            "--at",
            AT,
            "--psl",
            "--json",
        ];
        psl.push(path.as_str());
        out.push((format!("verify-{m}-psl.json"), psl));
    }
    let mut several = vec![
        "verify",
        "--zone",
        EX,
        "--authserv-id",
        "mx.test",
        "--at",
        AT,
        "--json",
    ];
    several.extend(paths.iter().map(String::as_str));
    out.push(("verify-several.json".into(), several.clone()));
    several.retain(|a| *a != "--json");
    out.push(("verify-several.txt".into(), several));
    out.push((
        "verify-folder.json".into(),
        vec![
            "verify",
            "--zone",
            EX,
            "--authserv-id",
            "mx.test",
            "--at",
            AT,
            "--json",
            "crates/monban-diag/testdata/analyze",
        ],
    ));

    for (name, ip, extra) in [
        ("pass", "192.0.2.25", ["--mail-from", "alice@example.com"]),
        (
            "softfail",
            "203.0.113.66",
            ["--mail-from", "ceo@example.com"],
        ),
        ("helo", "192.0.2.25", ["--helo", "mail.example.com"]),
    ] {
        let mut a = vec!["spf", "--zone", EX, "--ip", ip];
        a.extend(extra);
        let mut j = a.clone();
        j.push("--json");
        out.push((format!("spf-{name}.json"), j));
        out.push((format!("spf-{name}.txt"), a));
    }

    let checks: Vec<(&str, Vec<&str>)> = vec![
        ("good", vec!["good.example", "--selector", "ed"]),
        (
            "good-keys",
            vec![
                "good.example",
                "--selector",
                "ed",
                "--selector",
                "old",
                "--selector",
                "tiny",
                "--selector",
                "gone",
                "--selector",
                "test",
            ],
        ),
        ("plusall", vec!["plusall.example"]),
        ("twospf", vec!["twospf.example"]),
        ("toomany", vec!["toomany.example"]),
        ("adsp", vec!["adsp.example"]),
        (
            "sending-refused",
            vec![
                "good.example",
                "--sending-ip",
                "203.0.113.7",
                "--signing-domain",
                "mailer.example",
            ],
        ),
        (
            "sending-ok",
            vec!["good.example", "--sending-ip", "198.51.100.7"],
        ),
    ];
    for (name, args) in checks {
        let mut a = vec!["check", "--zone", CHECK, "--json"];
        a.extend(args.iter().copied());
        out.push((format!("check-{name}.json"), a));
        let mut t = vec!["check", "--zone", CHECK];
        t.extend(args.iter().copied());
        out.push((format!("check-{name}.txt"), t));
    }
    // Japanese, from the same catalogue: text and JSON.
    out.push((
        "analyze-ex-via-mailing-list-ja.txt".into(),
        vec![
            "analyze",
            "--lang",
            "ja",
            "examples/messages/via-mailing-list.eml",
        ],
    ));
    // ARC: the list's copy explained, its sealer trusted (English and Japanese).
    for (name, lang) in [
        ("analyze-ex-via-mailing-list-arc-trusted.txt", "en"),
        ("analyze-ex-via-mailing-list-arc-trusted-ja.txt", "ja"),
    ] {
        out.push((
            name.into(),
            vec![
                "analyze",
                "--color",
                "never",
                "--lang",
                lang,
                "--verify",
                "--at",
                AT,
                "--zone",
                EX,
                "--authserv-id",
                "mx.test",
                "--trusted-arc-sealer",
                "example.org",
                "examples/messages/via-mailing-list-arc.eml",
            ],
        ));
    }
    out.push((
        "check-plusall-ja.txt".into(),
        vec!["check", "--zone", CHECK, "--lang", "ja", "plusall.example"],
    ));
    out.push((
        "check-sending-refused-ja.json".into(),
        vec![
            "check",
            "--zone",
            CHECK,
            "--json",
            "--lang",
            "ja",
            "good.example",
            "--sending-ip",
            "203.0.113.7",
            "--signing-domain",
            "mailer.example",
        ],
    ));
    for domain in ["example.com", "example.org", "mailer.example.net"] {
        out.push((
            format!("check-ex-{domain}.json"),
            vec!["check", "--zone", EX, "--json", "--discover", domain],
        ));
    }

    let samples: Vec<String> =
        std::fs::read_dir(root().join("crates/monban-diag/testdata/analyze"))
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                name.strip_suffix(".eml").map(str::to_owned)
            })
            .collect();
    let sample_paths: Vec<String> = samples
        .iter()
        .map(|s| format!("crates/monban-diag/testdata/analyze/{s}.eml"))
        .collect();
    let mut owned: Vec<(String, Vec<String>)> = out
        .into_iter()
        .map(|(n, a)| (n, a.into_iter().map(str::to_owned).collect()))
        .collect();
    let mut example_paths = paths.clone();
    example_paths.sort();
    for (name, path) in samples
        .iter()
        .cloned()
        .zip(sample_paths.iter().cloned())
        .chain(
            messages
                .iter()
                .map(|(m, _)| format!("ex-{m}"))
                .zip(example_paths.iter().cloned()),
        )
    {
        let base = ["analyze", "--color", "never"].map(str::to_owned);
        let mut j = base.to_vec();
        j.extend(["--json".to_owned(), path.clone()]);
        owned.push((format!("analyze-{name}.json"), j));
        let mut t = base.to_vec();
        t.push(path.clone());
        owned.push((format!("analyze-{name}.txt"), t));
        let mut v = base.to_vec();
        v.extend([
            "--json".to_owned(),
            "--verify".to_owned(),
            "--at".to_owned(),
            AT.to_owned(),
            "--zone".to_owned(),
            EX.to_owned(),
            "--authserv-id".to_owned(),
            "mx.test".to_owned(),
            path,
        ]);
        owned.push((format!("analyze-{name}-verify.json"), v));
    }
    owned.sort();
    owned
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn run_case(name: &str, args: &[String], bless: bool) -> Result<(), Failed> {
    let out = Command::new(env!("CARGO_BIN_EXE_monban"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        // The text output follows the locale: the golden files are English.
        .env("LC_ALL", "C.UTF-8")
        .env_remove("MONBAN_STORE")
        .output()
        .map_err(|e| format!("cannot run monban: {e}"))?;
    let mut got = out.stdout.clone();
    if !out.status.success() {
        return Err(format!(
            "monban {args:?} exited {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    if got.is_empty() {
        return Err(format!("monban {args:?} printed nothing").into());
    }
    // The command line is part of the file, so a reader knows what produced it.
    let mut file = format!("# monban {}\n", args.join(" ")).into_bytes();
    file.append(&mut got);
    let path = golden_dir().join(name);
    if bless {
        std::fs::create_dir_all(golden_dir()).map_err(|e| e.to_string())?;
        std::fs::write(&path, &file).map_err(|e| e.to_string())?;
        return Ok(());
    }
    let want = std::fs::read(&path).map_err(|e| {
        format!(
            "{}: {e} (MONBAN_BLESS=1 writes it)",
            Path::new("tests/golden").join(name).display()
        )
    })?;
    if want != file {
        let (w, g) = (
            String::from_utf8_lossy(&want),
            String::from_utf8_lossy(&file),
        );
        let line = w
            .lines()
            .zip(g.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(w.lines().count().min(g.lines().count()));
        return Err(format!(
            "{name} differs from tests/golden/{name} at line {}:\n  want: {}\n  got:  {}",
            line + 1,
            w.lines().nth(line).unwrap_or("<end>"),
            g.lines().nth(line).unwrap_or("<end>")
        )
        .into());
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let bless = std::env::var_os("MONBAN_BLESS").is_some();
    let trials = cases()
        .into_iter()
        .map(|(name, a)| Trial::test(name.clone(), move || run_case(&name, &a, bless)))
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
