//! Issue 12: every report mail and TLS report sample is read from the file as `report
//! import` reads it, or fails with a named reason; each is a named test. The expected
//! figures are what the samples say (cross-checked with parsedmarc 11.1 and with
//! mail-auth's JSON renderings next to its samples).

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use monban_report::extract::Limits;
use monban_report::ingest::from_file;

fn suites() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/suites")
}

/// What a sample gives: each report as "kind domain messages", or `Err(a substring
/// of the error)`.
type Outcome = Result<&'static [&'static str], &'static str>;

const EXPECTED: &[(&str, Outcome)] = &[
    (
        "mail-auth-resources/arf/001.eml",
        Err("Feedback-Type \"abuse\" is not a DMARC failure report"),
    ),
    (
        "mail-auth-resources/arf/002.eml",
        Err("Feedback-Type \"abuse\" is not a DMARC failure report"),
    ),
    (
        "mail-auth-resources/arf/003.eml",
        Ok(&["failure example.net 1"]),
    ),
    (
        "mail-auth-resources/arf/004.eml",
        Ok(&["failure interpublication.org 1"]),
    ),
    (
        "mail-auth-resources/arf/005.eml",
        Ok(&["failure a.sender.example 1"]),
    ),
    (
        "mail-auth-resources/dmarc-feedback/100.eml",
        Ok(&["aggregate stalw.art 1"]),
    ),
    (
        "mail-auth-resources/dmarc-feedback/101.eml",
        Ok(&["aggregate stalw.art 1"]),
    ),
    (
        "mail-auth-resources/dmarc-feedback/102.eml",
        Ok(&["aggregate stalw.art 1"]),
    ),
    (
        "mail-auth-resources/dmarc-feedback/103.eml",
        Ok(&["aggregate stalw.art 1"]),
    ),
    (
        "mail-auth-resources/dmarc-feedback/104.eml",
        Ok(&["aggregate stalw.art 1"]),
    ),
    (
        "mail-auth-resources/tlsrpt/rpt01.eml",
        Ok(&["tls company-y.example 5629"]),
    ),
    (
        "mail-auth-resources/tlsrpt/rpt02.eml",
        Ok(&["tls example.com 24"]),
    ),
    ("mail-auth-resources/tlsrpt/rpt03.json", Ok(&["tls  2"])),
    (
        "parsedmarc-samples/aggregate/Report domain- borschow.com Submitter- google.com Report-ID- 949348866075514174.eml",
        Ok(&["aggregate borschow.com 1"]),
    ),
    (
        "parsedmarc-samples/aggregate/mimecast-weird-gzip.eml",
        Ok(&["aggregate ab.id.au 1"]),
    ),
    (
        "parsedmarc-samples/aggregate/twilight.eml",
        Ok(&["aggregate twlnet.com 1"]),
    ),
    (
        "parsedmarc-samples/failure/DMARC Failure Report for domain.de (mail-from=sharepoint@domain.de, ip=10.10.10.10).eml",
        Ok(&["failure domain.de 1"]),
    ),
    (
        "parsedmarc-samples/failure/[Netease DMARC Failure Report] Rent Reminder.eml",
        Ok(&["failure cardinal.com 1"]),
    ),
    (
        "parsedmarc-samples/failure/dmarc_ruf_report_linkedin.crlf.eml",
        Ok(&["failure example.com 1"]),
    ),
    (
        "parsedmarc-samples/failure/dmarc_ruf_report_linkedin.eml",
        Ok(&["failure example.com 1"]),
    ),
    (
        "parsedmarc-samples/failure/exim_plain_text_only_no_arf_part.eml",
        Ok(&["failure example.com 1"]),
    ),
    (
        "parsedmarc-samples/historic/empty_failure_detail_fields.json",
        Ok(&["tls example.com 1"]),
    ),
    (
        "parsedmarc-samples/historic/subject.eml",
        Ok(&["failure domain.de 1"]),
    ),
    (
        "parsedmarc-samples/smtp_tls/google.com_smtp_tls_report.eml",
        Ok(&["tls cardinalhealth.ca 48"]),
    ),
    (
        "parsedmarc-samples/smtp_tls/mail.ru.json",
        Ok(&["tls example.com 1"]),
    ),
    (
        "parsedmarc-samples/smtp_tls/rfc8460.json",
        Ok(&["tls company-y.example 5629"]),
    ),
    (
        "parsedmarc-samples/smtp_tls/smtp_tls.json",
        Ok(&["tls example.com 3"]),
    ),
];

fn main() {
    let args = Arguments::from_args();
    let probe = std::env::var_os("PROBE").is_some();
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in [
        "parsedmarc-samples/aggregate",
        "parsedmarc-samples/failure",
        "parsedmarc-samples/smtp_tls",
        "parsedmarc-samples/historic",
        "mail-auth-resources/arf",
        "mail-auth-resources/tlsrpt",
        "mail-auth-resources/dmarc-feedback",
    ] {
        for e in std::fs::read_dir(suites().join(dir)).unwrap().flatten() {
            let p = e.path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let wanted = name.ends_with(".eml")
                || (name.ends_with(".json")
                    && (dir.contains("smtp_tls")
                        || name == "empty_failure_detail_fields.json"
                        || (dir.contains("tlsrpt") && name == "rpt03.json")));
            if wanted {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut trials = Vec::new();
    for path in files {
        let rel = path.strip_prefix(suites()).unwrap().display().to_string();
        if probe {
            let bytes = std::fs::read(&path).unwrap();
            let f = from_file(&bytes, &rel, &Limits::default());
            let got: Vec<String> = f
                .reports
                .iter()
                .map(|r| format!("{} {} {}", r.kind.as_str(), r.domain, r.messages))
                .collect();
            println!("(\"{rel}\", {got:?} {:?}),", f.errors);
            continue;
        }
        let expected = EXPECTED.iter().find(|(f, _)| *f == rel).map(|(_, e)| *e);
        trials.push(Trial::test(rel.clone(), move || {
            check(&path, &rel, expected)
        }));
    }
    if probe {
        return;
    }
    for n in 1..=5 {
        let name = format!("mail-auth-resources/arf/{n:03}.eml fields match mail-auth's json");
        trials.push(Trial::test(name, move || arf_fields(n)));
    }
    libtest_mimic::run(&args, trials).exit();
}

fn check(path: &Path, rel: &str, expected: Option<Outcome>) -> Result<(), Failed> {
    let bytes = std::fs::read(path).map_err(|e| Failed::from(e.to_string()))?;
    let f = from_file(&bytes, rel, &Limits::default());
    let Some(expected) = expected else {
        return Err(format!("no expectation for this sample; it gives {f:?}").into());
    };
    let got: Vec<String> = f
        .reports
        .iter()
        .map(|r| format!("{} {} {}", r.kind.as_str(), r.domain, r.messages))
        .collect();
    match expected {
        Ok(want) => {
            if got != want || !f.errors.is_empty() {
                return Err(format!("got {got:?} {:?}, expected {want:?}", f.errors).into());
            }
        }
        Err(want) => {
            if !f.errors.iter().any(|e| e.contains(want)) {
                return Err(
                    format!("got {got:?} {:?}, expected an error {want:?}", f.errors).into(),
                );
            }
        }
    }
    Ok(())
}

/// The failure report fields read from mail-auth's ARF samples are the ones its own
/// JSON rendering of each sample gives.
fn arf_fields(n: u32) -> Result<(), Failed> {
    let base = suites().join(format!("mail-auth-resources/arf/{n:03}"));
    let eml = std::fs::read(base.with_extension("eml")).map_err(|e| e.to_string())?;
    let want: serde_json::Value =
        serde_json::from_slice(&std::fs::read(base.with_extension("json")).unwrap()).unwrap();
    // The ARF parser's reading (what `report import` stores as the report's meta, for
    // the auth-failure ones): abuse reports are read alike, and refused only by the
    // import (they are not DMARC failure reports).
    let parts = monban::mime::parts(&eml).map_err(|e| e.to_string())?;
    let part = |t: &str| parts.iter().find(|p| p.media_type == t);
    let feedback = part("message/feedback-report")
        .ok_or("no feedback part")?
        .decoded(usize::MAX)
        .map_err(|e| e.to_string())?;
    let original = part("message/rfc822")
        .or_else(|| part("text/rfc822-headers"))
        .map(|p| p.decoded(usize::MAX))
        .transpose()
        .map_err(|e| e.to_string())?;
    let r = monban::report::arf::parse_feedback_report(&feedback, original.as_deref())
        .map_err(|e| e.to_string())?;
    let got = serde_json::to_value(&r).unwrap();
    // mail-auth writes types in CamelCase ("AuthFailure"); monban keeps the RFC token.
    let camel = |s: &str| -> String {
        s.split('-')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect::<String>())
                    .unwrap_or_default()
            })
            .collect()
    };
    let got_type = camel(got["feedback_type"].as_str().unwrap_or(""));
    if got_type != want["feedback_type"].as_str().unwrap_or("") {
        return Err(format!("feedback_type {got_type} vs {}", want["feedback_type"]).into());
    }
    for key in [
        "source_ip",
        "arrival_date",
        "original_mail_from",
        "reported_domain",
        "reported_uri",
        "user_agent",
        "incidents",
        "dkim_domain",
        "dkim_selector",
        "original_envelope_id",
    ] {
        let (g, w) = (&got[key], &want[key]);
        let same = match (g, w) {
            (serde_json::Value::Array(a), serde_json::Value::Array(b)) => {
                a.len() == b.len()
                    && a.iter().zip(b).all(|(x, y)| {
                        x.as_str().map(str::to_ascii_lowercase)
                            == y.as_str().map(str::to_ascii_lowercase)
                    })
            }
            (serde_json::Value::Null, serde_json::Value::Null) => true,
            // monban keeps the address of `<a@b>` (mail-auth keeps the brackets).
            _ => {
                g == w
                    || (g.is_string()
                        && g.as_str() == w.as_str().map(|s| s.trim_matches(['<', '>'])))
            }
        };
        if !same {
            return Err(format!("{key}: monban {g}, mail-auth {w}").into());
        }
    }
    Ok(())
}
