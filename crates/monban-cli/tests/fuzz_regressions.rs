//! Every input a fuzzer found (fuzz/regressions/<target>/), replayed on stable through
//! the fuzz targets' own entry points (fuzz/targets.rs), and the seeds too: what
//! was fixed stays fixed. Each target is a named test.

#[path = "../../../fuzz/targets.rs"]
mod targets;

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut n = 0;
    for dir in [
        root.join("regressions").join(target),
        root.join("seeds").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files.iter().filter(|f| f.is_file()) {
            let data = std::fs::read(f).unwrap();
            let name = f.display().to_string();
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                panic!("{target}: {name} fails again");
            }
            n += 1;
        }
    }
    // The seeds at least (fuzz/seeds/<target>/, committed).
    assert!(n > 0, "{target}: nothing to replay");
}

#[test]
fn header_analyze() {
    replay("header_analyze", targets::header_analyze);
}

#[test]
fn from_address() {
    replay("from_address", targets::from_address);
}

#[test]
fn dkim_canon() {
    replay("dkim_canon", targets::dkim_canon);
}

#[test]
fn milter_session() {
    replay("milter_session", targets::milter_session);
}

#[test]
fn verify_message() {
    replay("verify_message", targets::verify_message);
}

#[test]
fn dkim_key() {
    replay("dkim_key", targets::dkim_key);
}

#[test]
fn spf_record() {
    replay("spf_record", targets::spf_record);
}

#[test]
fn dmarc_names() {
    replay("dmarc_names", targets::dmarc_names);
}

#[test]
fn authres() {
    replay("authres", targets::authres);
}

#[test]
fn arc_dkim2_fields() {
    replay("arc_dkim2_fields", targets::arc_dkim2_fields);
}

#[test]
fn date_received() {
    replay("date_received", targets::date_received);
}

#[test]
fn zone_file() {
    replay("zone_file", targets::zone_file);
}

#[test]
fn milter_config() {
    replay("milter_config", targets::milter_config);
}

#[test]
fn report_xml() {
    replay("report_xml", targets::report_xml);
}

#[test]
fn report_mail() {
    replay("report_mail", targets::report_mail);
}

#[test]
fn imap_responses() {
    replay("imap_responses", targets::imap_responses);
}
