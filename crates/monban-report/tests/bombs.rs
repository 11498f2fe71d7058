//! Issue 12: every bound of report import is a named test, run the way `report import`
//! reads a file or a mail, and each refusal names the source it came from.

use std::io::Write as _;

use base64::Engine as _;
use monban_report::extract::Limits;
use monban_report::ingest::{from_file, from_mail};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// The single error of reading `bytes` as the file `name`.
fn refused(name: &str, bytes: &[u8]) -> String {
    let found = from_file(bytes, name, &Limits::default());
    assert!(found.reports.is_empty(), "{name}: read a report");
    assert_eq!(found.errors.len(), 1, "{name}: {:?}", found.errors);
    let e = found.errors[0].to_string();
    assert!(e.starts_with(name), "the error names the source: {e}");
    e
}

const SMALL: &str = "<feedback><report_metadata><org_name>r</org_name><report_id>1</report_id>\
<date_range><begin>1</begin><end>2</end></date_range></report_metadata><policy_published>\
<domain>example.com</domain><p>none</p></policy_published>";

#[test]
fn bomb_compressed_input_size() {
    let limits = Limits {
        max_input: 1000,
        ..Limits::default()
    };
    let big = gzip(&vec![b'<'; 100_000]);
    let f = from_file(
        &[big.as_slice(), &vec![0; 2000]].concat(),
        "big.xml.gz",
        &limits,
    );
    assert!(
        f.errors[0].contains("big.xml.gz") && f.errors[0].contains("input is over 1000"),
        "{:?}",
        f.errors
    );
}

#[test]
fn bomb_decompressed_absolute_size() {
    // 300 MiB of zeros compress to about 300 KiB; the output bound is 256 MiB.
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..300 {
        e.write_all(&chunk).unwrap();
    }
    let gz = e.finish().unwrap();
    let err = refused("zeros.xml.gz", &gz);
    assert!(
        err.contains("over 268435456 bytes") || err.contains("times its size"),
        "{err}"
    );
}

#[test]
fn bomb_decompression_ratio() {
    // 20 MiB from about 20 KiB: past the 1 MiB floor, over 1000 times.
    let gz = gzip(&vec![b' '; 20 << 20]);
    let err = refused("ratio.xml.gz", &gz);
    assert!(err.contains("times its size (a compression bomb)"), "{err}");
}

#[test]
fn bomb_archive_nesting() {
    let mut data = format!("{SMALL}</feedback>").into_bytes();
    for _ in 0..5 {
        data = gzip(&data);
    }
    let err = refused("nested.gz", &data);
    assert!(err.contains("nested over 3 deep"), "{err}");
}

#[test]
fn bomb_xml_depth() {
    let deep = format!(
        "{SMALL}{}{}</feedback>",
        "<x>".repeat(50),
        "</x>".repeat(50)
    );
    let err = refused("deep.xml", deep.as_bytes());
    assert!(err.contains("nested elements"), "{err}");
}

#[test]
fn bomb_record_count() {
    // One record over the bound of 1,000,000 (compressed, as it would arrive).
    let mut xml = String::with_capacity(60_000_000);
    xml.push_str(SMALL);
    for _ in 0..=monban::report::parse::MAX_RECORDS {
        xml.push_str("<record><row><source_ip>1.2.3.4</source_ip></row></record>");
    }
    xml.push_str("</feedback>");
    let gz = gzip(xml.as_bytes());
    let err = refused("records.xml.gz", &gz);
    assert!(err.contains("1000000 records"), "{err}");
}

#[test]
fn bomb_dtd_and_entities() {
    let laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">\
<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]><feedback>&lol2;</feedback>";
    let err = refused("laughs.xml", laughs.as_bytes());
    assert!(err.contains("DTD"), "{err}");
    let external = format!("{SMALL}<x>&xxe;</x></feedback>");
    let err = refused("xxe.xml", external.as_bytes());
    assert!(err.contains("unknown entity &xxe;"), "{err}");
}

#[test]
fn bomb_mime_nesting_and_parts() {
    let mut deep = String::new();
    for i in 0..20 {
        deep.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n"
        ));
    }
    let f = from_mail(deep.as_bytes(), "deep.eml", &Limits::default());
    assert!(
        f.errors[0].starts_with("deep.eml") && f.errors[0].contains("nested over 8"),
        "{:?}",
        f.errors
    );
    let mut many = String::from("Content-Type: multipart/mixed; boundary=b\n\n");
    for _ in 0..1_100 {
        many.push_str("--b\n\nx\n");
    }
    let f = from_mail(many.as_bytes(), "many.eml", &Limits::default());
    assert!(
        f.errors[0].contains("over 1000 MIME parts"),
        "{:?}",
        f.errors
    );
}

#[test]
fn bomb_attachment_size() {
    let limits = Limits {
        max_input: 10_000,
        ..Limits::default()
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(vec![0u8; 20_000]);
    let mail = format!(
        "Subject: Report Domain: example.com\r\nContent-Type: application/gzip; name=r.xml.gz\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n"
    );
    let f = from_mail(mail.as_bytes(), "mail 7", &limits);
    assert!(
        f.errors[0].starts_with("mail 7: part 1") && f.errors[0].contains("decodes to over 10000"),
        "{:?}",
        f.errors
    );
}
