//! Issue 12: every aggregate report sample parses, or fails with a named reason. The
//! samples are real reports collected by parsedmarc and by Stalwart's mail-auth
//! (`../shared/suites/`); each is a named test. Expected figures (records, messages)
//! were cross-checked with parsedmarc 11.1 and with mail-auth's own JSON renderings.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use monban::report::parse::parse_aggregate;

fn suites() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/suites")
}

/// What a sample gives: `Ok((records, messages))`, or `Err(a substring of the error)`.
type Outcome = Result<(usize, u64), &'static str>;

/// (file under suites/, its outcome).
const EXPECTED: &[(&str, Outcome)] = &[
    ("mail-auth-resources/dmarc-feedback/001.xml", Ok((1, 123))),
    ("mail-auth-resources/dmarc-feedback/002.xml", Ok((1, 2))),
    ("mail-auth-resources/dmarc-feedback/003.xml", Ok((4, 9))),
    ("mail-auth-resources/dmarc-feedback/004.xml", Ok((1, 123))),
    ("mail-auth-resources/dmarc-feedback/005.xml", Ok((1, 1))),
    (
        "mail-auth-resources/schemas-historic/dmarc-agg-report-001.xml",
        Ok((1, 123)),
    ),
    (
        "parsedmarc-samples/aggregate/!example.com!1538204542!1538463818.xml",
        Ok((1, 1)),
    ),
    (
        "parsedmarc-samples/aggregate/!large-example.com!1711897200!1711983600.xml",
        Ok((2286, 2286)),
    ),
    (
        "parsedmarc-samples/aggregate/addisonfoods.com!example.com!1536105600!1536191999.xml",
        Ok((1, 1)),
    ),
    ("parsedmarc-samples/aggregate/empty_reason.xml", Ok((1, 2))),
    (
        "parsedmarc-samples/aggregate/example.net!example.com!1529366400!1529452799.xml",
        Ok((1, 1)),
    ),
    (
        "parsedmarc-samples/aggregate/ikea.com!example.de!1538690400!1538776800.xml",
        Ok((1, 1)),
    ),
    ("parsedmarc-samples/aggregate/invalid_utf_8.xml", Ok((1, 1))),
    ("parsedmarc-samples/aggregate/invalid_xml.xml", Ok((1, 1))),
    (
        "parsedmarc-samples/aggregate/old_draft_from_wiki.xml",
        Ok((1, 2)),
    ),
    (
        "parsedmarc-samples/aggregate/protection.outlook.com!example.com!1711756800!1711843200.xml",
        Ok((1, 1)),
    ),
    (
        "parsedmarc-samples/aggregate/rfc9990-example.net!example.com!1700000000!1700086399.xml",
        Ok((2, 7)),
    ),
    (
        "parsedmarc-samples/aggregate/rfc9990-sample.xml",
        Ok((1, 123)),
    ),
    (
        "parsedmarc-samples/aggregate/usssa.com!example.com!1538784000!1538870399.xml",
        Ok((2, 2)),
    ),
    (
        "parsedmarc-samples/aggregate/veeam.com!example.com!1530133200!1530219600.xml",
        Ok((1, 1)),
    ),
    (
        "parsedmarc-samples/aggregate_invalid/report_with_upper_cased_pass.xml",
        Ok((1, 1)),
    ),
    ("parsedmarc-samples/empty.xml", Err("no feedback element")),
    (
        "parsedmarc-samples/extract_report/changed-input.xml",
        Ok((20, 3047)),
    ),
    (
        "parsedmarc-samples/extract_report/nice-input.xml",
        Ok((20, 3047)),
    ),
    (
        "parsedmarc-samples/historic/zoho.com!example.com!1581753600!1581840000.xml",
        Ok((8, 9)),
    ),
];

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    let probe = std::env::var_os("PROBE").is_some();
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in [
        "parsedmarc-samples/aggregate",
        "parsedmarc-samples/aggregate_invalid",
        "parsedmarc-samples/extract_report",
        "parsedmarc-samples/historic",
        "mail-auth-resources/dmarc-feedback",
    ] {
        for e in std::fs::read_dir(suites().join(dir)).unwrap().flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "xml") {
                files.push(p);
            }
        }
    }
    files.push(suites().join("parsedmarc-samples/empty.xml"));
    files.push(suites().join("mail-auth-resources/schemas-historic/dmarc-agg-report-001.xml"));
    files.sort();
    for path in files {
        let rel = path.strip_prefix(suites()).unwrap().display().to_string();
        if probe {
            let got = std::fs::read(&path).map(|b| parse_aggregate(&b));
            match got {
                Ok(Ok(f)) => println!("(\"{rel}\", Ok(({}, {}))),", f.records.len(), f.messages()),
                Ok(Err(e)) => println!("(\"{rel}\", Err(\"{e}\")),"),
                Err(e) => println!("io {rel}: {e}"),
            }
            continue;
        }
        let expected = EXPECTED.iter().find(|(f, _)| *f == rel).map(|(_, e)| *e);
        trials.push(Trial::test(rel.clone(), move || check(&path, expected)));
    }
    if probe {
        return;
    }
    libtest_mimic::run(&args, trials).exit();
}

fn check(path: &Path, expected: Option<Outcome>) -> Result<(), Failed> {
    let bytes = std::fs::read(path).map_err(|e| Failed::from(e.to_string()))?;
    let got = parse_aggregate(&bytes);
    let Some(expected) = expected else {
        return Err(format!("no expectation for this sample; it gives {got:?}").into());
    };
    match (got, expected) {
        (Ok(f), Ok((records, messages))) => {
            if (f.records.len(), f.messages()) != (records, messages) {
                return Err(format!(
                    "{} records, {} messages; expected {records}, {messages}",
                    f.records.len(),
                    f.messages()
                )
                .into());
            }
            // What was read is written back (RFC 9990 form: RFC 7489 reason types such
            // as `forwarded` become `other`) and reads again with the same counts.
            let again = parse_aggregate(f.to_xml().as_bytes())
                .map_err(|e| Failed::from(format!("written back, it does not parse: {e}")))?;
            if (again.records.len(), again.messages()) != (records, messages) {
                return Err("written back, the counts differ".into());
            }
            Ok(())
        }
        (Err(e), Err(want)) if e.to_string().contains(want) => Ok(()),
        (got, want) => Err(format!("got {got:?}, expected {want:?}").into()),
    }
}
