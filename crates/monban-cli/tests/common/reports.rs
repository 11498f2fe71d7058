//! Checking generated RFC 9990 reports with two other implementations: xmllint against
//! the RFC's XSD (`../shared/suites/dmarc-xsd/rfc9990-dmarc-2.0.xsd`) and parsedmarc
//! (PyPI, installed by scripts/test.sh into target/pytools).

#![allow(dead_code)]

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The RFC 9990 XSD.
pub fn xsd() -> PathBuf {
    workspace().join("../shared/suites/dmarc-xsd/rfc9990-dmarc-2.0.xsd")
}

/// The XML inside a `.xml.gz`.
pub fn gunzip(path: &Path) -> String {
    let f = std::fs::File::open(path).unwrap();
    let mut xml = String::new();
    flate2::read::GzDecoder::new(f)
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

/// Panics unless xmllint validates `xml` against the RFC 9990 XSD.
pub fn assert_valid_rfc9990(xml: &str, dir: &Path) {
    let file = dir.join("validate.xml");
    std::fs::write(&file, xml).unwrap();
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(xsd())
        .arg(&file)
        .output()
        .expect("xmllint (libxml2-utils) is installed by scripts/test.sh");
    assert!(
        out.status.success(),
        "the report does not validate against the RFC 9990 XSD:\n{}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Python that has parsedmarc: `$MONBAN_PYTOOLS/bin/python`, else
/// `target/pytools/bin/python`.
fn python() -> PathBuf {
    let base = std::env::var_os("MONBAN_PYTOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/pytools"));
    let py = base.join("bin/python");
    assert!(
        py.exists(),
        "{} is missing: scripts/test.sh installs parsedmarc there",
        py.display()
    );
    py
}

/// What parsedmarc makes of the report files (tests/interop/parsedmarc_tool.py).
pub fn parsedmarc(files: &[PathBuf]) -> Vec<serde_json::Value> {
    let out = Command::new(python())
        .arg(workspace().join("tests/interop/parsedmarc_tool.py"))
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "parsedmarc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `monban report generate --json` for `date` as organization `org` with reporting
/// address dmarc-reports@receiver.example; its JSON (the run must succeed).
pub fn generate(store: &str, org: &str, date: &str, out: &Path) -> serde_json::Value {
    let o = super::run(
        &[
            "report",
            "generate",
            "--store",
            store,
            "--org-name",
            org,
            "--email",
            "dmarc-reports@receiver.example",
            "--date",
            date,
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
        b"",
        &[],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}
