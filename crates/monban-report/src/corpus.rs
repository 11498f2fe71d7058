//! Report mail made to order, for tests and benchmarks of `report import` (issue 12):
//! real RFC 9990 reports written by monban's own report writer ([`Feedback::to_xml`],
//! gzip, [`ReportMail`]), with realistic sizes: most reports have a few rows, one in
//! fifty a few hundred, one in a thousand thousands. Everything follows from the report
//! number, so a test knows every report's domain and message count without reading it.

use std::io::Write as _;

use monban::report::aggregate::{
    DkimAuth, Feedback, PolicyEvaluated, PolicyPublished, Record, ReportMetadata, SpfAuth,
};

use crate::mail::ReportMail;

/// The policy domains of the corpus.
pub const DOMAINS: usize = 20;
/// The reporters of the corpus.
pub const REPORTERS: &[&str] = &[
    "google.com",
    "Outlook.com",
    "Yahoo",
    "GMX",
    "Mail.Ru",
    "comcast.net",
    "Fastmail Pty Ltd",
    "web.de",
    "Zoho",
    "AMAZON-SES",
];

/// A small deterministic generator (SplitMix64).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// How many rows report `n` has.
pub fn rows_of(n: u64) -> usize {
    if n % 1000 == 999 {
        2_000 + (mix(n) % 2_000) as usize
    } else if n % 50 == 49 {
        100 + (mix(n) % 400) as usize
    } else {
        1 + (mix(n) % 5) as usize
    }
}

/// The policy domain of report `n`.
pub fn domain_of(n: u64) -> String {
    format!("domain{}.example", n % DOMAINS as u64)
}

/// Report `n`.
pub fn feedback(n: u64) -> Feedback {
    let domain = domain_of(n);
    let reporter = REPORTERS[(n / DOMAINS as u64 % REPORTERS.len() as u64) as usize];
    let day = 1_767_225_600 + (n / 200) as i64 * 86_400; // 2026-01-01 onwards
    let records = (0..rows_of(n))
        .map(|i| {
            let r = mix(n.wrapping_mul(7919).wrapping_add(i as u64));
            let ip = match r % 4 {
                0 => format!("192.0.2.{}", r >> 8 & 0xff),
                1 => format!("198.51.100.{}", r >> 8 & 0xff),
                2 => format!("203.0.113.{}", r >> 8 & 0xff),
                _ => format!("2001:db8::{:x}", r >> 8 & 0xffff),
            };
            let good = r >> 20 & 7 != 0;
            let result = |ok: bool| if ok { "pass" } else { "fail" }.to_string();
            Record {
                source_ip: ip,
                count: 1 + (r >> 24) % 40,
                evaluated: PolicyEvaluated {
                    disposition: if good { "none" } else { "quarantine" }.into(),
                    dkim_aligned: good,
                    spf_aligned: good && r >> 30 & 1 == 0,
                    reasons: Vec::new(),
                },
                header_from: domain.clone(),
                envelope_from: Some(if good {
                    domain.clone()
                } else {
                    "bounce.esp.example".into()
                }),
                envelope_to: None,
                dkim: vec![DkimAuth {
                    domain: if good {
                        domain.clone()
                    } else {
                        "esp.example".into()
                    },
                    selector: "s2026".into(),
                    result: result(good),
                    human_result: None,
                }],
                spf: vec![SpfAuth {
                    domain: if good {
                        domain.clone()
                    } else {
                        "bounce.esp.example".into()
                    },
                    scope: Some("mfrom".into()),
                    result: result(r >> 31 & 1 == 0),
                    human_result: None,
                }],
            }
        })
        .collect();
    Feedback {
        metadata: ReportMetadata {
            org_name: reporter.into(),
            email: "noreply-dmarc@reporter.example".into(),
            extra_contact_info: None,
            report_id: format!("corpus{n}"),
            begin: day,
            end: day + 86_399,
            errors: Vec::new(),
            generator: Some("monban corpus".into()),
        },
        policy: PolicyPublished {
            domain: domain.clone(),
            p: "none".into(),
            ..PolicyPublished::default()
        },
        records,
    }
}

/// Report `n` as the mail a reporter sends (CRLF line endings).
pub fn report_mail(n: u64) -> Vec<u8> {
    let f = feedback(n);
    let xml = f.to_xml();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = enc.write_all(xml.as_bytes());
    let gz = enc.finish().unwrap_or_default();
    let filename = format!(
        "reporter.example!{}!{}!{}!corpus{n}.xml.gz",
        f.policy.domain, f.metadata.begin, f.metadata.end
    );
    ReportMail {
        from: "noreply-dmarc@reporter.example",
        org_name: &f.metadata.org_name,
        to: "dmarc@owner.example",
        submitter: "reporter.example",
        policy_domain: &f.policy.domain,
        report_id: &f.metadata.report_id,
        begin: f.metadata.begin,
        end: f.metadata.end,
        filename: &filename,
        xml_gz: &gz,
        date: f.metadata.end + 3600,
    }
    .render()
}

/// Writes reports `0..count` as one mbox (LF line endings, `From ` lines escaped).
pub fn write_mbox(out: &mut impl std::io::Write, count: u64) -> std::io::Result<()> {
    for n in 0..count {
        let mail = report_mail(n);
        out.write_all(b"From noreply-dmarc@reporter.example Thu Jan  1 00:00:00 2026\n")?;
        for line in mail.split_inclusive(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r\n").unwrap_or(line);
            let line = line.strip_suffix(b"\n").unwrap_or(line);
            let quoted = line.iter().position(|&b| b != b'>').unwrap_or(line.len());
            if line[quoted..].starts_with(b"From ") {
                out.write_all(b">")?;
            }
            out.write_all(line)?;
            out.write_all(b"\n")?;
        }
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Per domain, the messages reports `0..count` count (what a summary must say).
pub fn expected_messages(count: u64) -> std::collections::BTreeMap<String, u64> {
    let mut m = std::collections::BTreeMap::new();
    for n in 0..count {
        let f = feedback(n);
        *m.entry(f.policy.domain.clone()).or_insert(0) += f.messages();
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::Limits;

    #[test]
    fn corpus_mail_reads_back() {
        for n in [0, 49, 999] {
            let mail = report_mail(n);
            let found = crate::ingest::from_mail(&mail, "t", &Limits::default());
            assert!(found.errors.is_empty(), "{:?}", found.errors);
            assert_eq!(found.reports.len(), 1);
            assert_eq!(found.reports[0].records.len(), rows_of(n));
            assert_eq!(found.reports[0].messages, feedback(n).messages());
        }
    }
}
