//! Issue 12: the compressed samples (gzip, zip) are extracted within the bomb limits and
//! parse with the counts parsedmarc 11.1 gives for them.

use std::path::Path;

use monban::report::parse::parse_aggregate;
use monban_report::extract::{Format, Limits, extract};

fn sample(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/suites/parsedmarc-samples")
            .join(rel),
    )
    .unwrap()
}

fn counts(rel: &str) -> (usize, u64) {
    let (xml, format) = extract(&sample(rel), &Limits::default()).unwrap();
    assert_eq!(format, Format::Xml, "{rel}");
    let f = parse_aggregate(&xml).unwrap();
    (f.records.len(), f.messages())
}

#[test]
fn fastmail_gzip() {
    assert_eq!(
        counts("aggregate/fastmail.com!example.com!1516060800!1516147199!102675056.xml.gz"),
        (1, 1)
    );
}

#[test]
fn estadocuenta_zip() {
    assert_eq!(
        counts(
            "aggregate/estadocuenta1.infonacot.gob.mx!example.com!1536853302!1536939702!2940.xml.zip"
        ),
        (1, 1)
    );
}

#[test]
fn nice_input_gzip_and_zip() {
    assert_eq!(counts("extract_report/nice-input.xml.gz"), (20, 3047));
    assert_eq!(counts("extract_report/nice-input.xml.zip"), (20, 3047));
}
