//! The header analyzer on real-world-shaped messages (`testdata/analyze/`): hop order,
//! delays, warnings, signers, identities, recorded results, and DKIM diagnosis.

use std::path::PathBuf;

use monban::dkim::split_message;
use monban::message::Headers;
use monban::pipeline::VerifyConfig;
use monban_diag::analyze::{self, Analysis, Severity, Signer};
use monban_dns::ZoneResolver;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sample(name: &str) -> (Headers, Vec<u8>) {
    let bytes = std::fs::read(root().join("testdata/analyze").join(name)).unwrap();
    split_message(&bytes).unwrap()
}

fn analyse(name: &str) -> Analysis {
    let (h, b) = sample(name);
    analyze::analyze(&h, Some(&b))
}

fn kinds(a: &Analysis) -> Vec<&'static str> {
    a.warnings.iter().map(|w| w.kind).collect()
}

fn delays(a: &Analysis) -> Vec<Option<i64>> {
    a.hops.iter().map(|h| h.delay_seconds).collect()
}

/// Verifies against the bundled example zone, as of a fixed time after signing.
fn verified(name: &str) -> Analysis {
    let (h, b) = sample(name);
    let mut a = analyze::analyze(&h, Some(&b));
    let mut zone = ZoneResolver::new();
    zone.load_file(root().join("../../examples/example.zone"))
        .unwrap();
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(analyze::verify(
            &mut a,
            &h,
            &b,
            None,
            VerifyConfig::default(),
            1_795_400_000,
            "test.example",
            &zone,
        ));
    a
}

#[test]
fn gmail_with_arc() {
    let a = analyse("gmail.eml");
    assert_eq!(a.hops.len(), 3);
    let by: Vec<_> = a.hops.iter().map(|h| h.by.as_deref().unwrap()).collect();
    assert_eq!(
        by,
        [
            "mail.example.com",
            "mx.google.com",
            "2002:a05:7300:5c0a:b0:12c:8f1e:2b31"
        ]
    );
    assert_eq!(a.hops[0].from_ip.as_deref(), Some("198.51.100.23"));
    assert_eq!(a.hops[1].with.as_deref(), Some("ESMTPS"));
    assert_eq!(a.hops[1].for_.as_deref(), Some("<bob.example@gmail.com>"));
    assert_eq!(a.hops[1].time.as_deref(), Some("2026-11-22T08:52:46-08:00"));
    // The first hop counts from the Date field.
    assert_eq!(delays(&a), [Some(163), Some(3), Some(1)]);
    assert_eq!(a.total_delay_seconds, Some(167));
    assert!(
        a.warnings.iter().all(|w| w.severity == Severity::Info),
        "{:?}",
        a.warnings
    );

    assert_eq!(a.authentication_results.len(), 1);
    let ar = &a.authentication_results[0];
    assert_eq!(ar.authserv_id.as_deref(), Some("mx.google.com"));
    let methods: Vec<_> = ar.results.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods, ["dkim", "spf", "dmarc"]);
    assert_eq!(
        ar.results[1].properties.get("smtp.mailfrom"),
        Some("alice@example.com")
    );
    assert_eq!(a.arc_authentication_results[0].instance, Some(1));
    assert_eq!(
        a.arc_authentication_results[0].authserv_id.as_deref(),
        Some("mx.google.com")
    );
    assert_eq!(a.received_spf[0].receiver.as_deref(), Some("google.com"));

    let s = &a.dkim_signatures[0];
    assert_eq!(s.d.as_deref(), Some("example.com"));
    assert_eq!(s.s.as_deref(), Some("s2026"));
    assert_eq!(s.signer, Signer::Author);
    assert_eq!(s.tags.get("c"), Some("relaxed/relaxed"));
    assert_eq!(s.diagnosis.as_ref().unwrap().body_hash_matches, Some(true));

    let id = &a.identities;
    assert_eq!(id.return_path.as_deref(), Some("alice@example.com"));
    assert_eq!(id.from.as_deref(), Some("alice@example.com"));
    assert_eq!(id.sender, None);
    assert_eq!(
        a.message_id.as_deref(),
        Some("<20261122.slides.7781@mail.example.com>")
    );
}

#[test]
fn gmail_verified_matches_the_record() {
    let a = verified("gmail.eml");
    let v = a.verification.unwrap();
    assert_eq!(v.differences, 0, "{:?}", v.comparison);
    assert_eq!(v.envelope.ip.as_deref(), Some("192.0.2.25"));
    assert!(v.comparison.iter().any(|c| c.method == "dkim"
        && c.by.as_deref() == Some("mx.google.com")
        && c.monban.as_deref() == Some("pass")));
    assert_eq!(v.dmarc.result, "pass");
}

#[test]
fn outlook_exchange_stamps() {
    let a = analyse("outlook.eml");
    assert_eq!(a.hops.len(), 4);
    let first = &a.hops[0];
    assert_eq!(first.from.as_deref(), Some("mail.example.com"));
    assert_eq!(first.from_ip.as_deref(), Some("192.0.2.25"));
    assert_eq!(first.with.as_deref(), Some("Microsoft SMTP Server"));
    assert_eq!(first.id.as_deref(), Some("15.20.8207.18"));
    assert_eq!(first.via.as_deref(), Some("Frontend Transport"));
    assert_eq!(
        a.hops[1].from_ip.as_deref(),
        Some("2603:1096:404:8034:cafe::5a")
    );
    assert_eq!(a.hops[3].with.as_deref(), Some("HTTPS"));
    assert_eq!(delays(&a), [Some(164), Some(1), Some(0), Some(1)]);
    // Microsoft writes no authserv-id and strays from RFC 8601: read leniently.
    let ar = &a.authentication_results[0];
    assert_eq!(ar.authserv_id, None);
    assert!(ar.error.is_some());
    let methods: Vec<_> = ar.results.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods, ["spf", "dkim", "dmarc", "compauth"]);
    assert_eq!(ar.results[2].properties.get("action"), Some("none"));
    assert_eq!(
        a.received_spf[0].receiver.as_deref(),
        Some("protection.outlook.com")
    );
    assert_eq!(a.received_spf[0].result, "pass");
    assert_eq!(
        a.identities.return_path.as_deref(),
        Some("alice@example.com")
    );
    assert_eq!(kinds(&a), ["unparseable_results"]);
    let v = verified("outlook.eml").verification.unwrap();
    assert_eq!(v.differences, 0, "{:?}", v.comparison);
    assert_eq!(v.envelope.helo.as_deref(), Some("mail.example.com"));
}

#[test]
fn postfix_third_party_signature() {
    let a = analyse("postfix.eml");
    assert_eq!(a.hops.len(), 2);
    let mx = &a.hops[1];
    assert_eq!(mx.by.as_deref(), Some("mx.example.net"));
    assert_eq!(mx.by_detail.as_deref(), Some("Postfix"));
    assert_eq!(mx.with.as_deref(), Some("ESMTPS"));
    assert_eq!(mx.id.as_deref(), Some("4XyzQ81mZ5z4wJk"));
    assert!(mx.time.as_deref().unwrap().ends_with("+09:00"));
    assert_eq!(mx.delay_seconds, Some(2));
    let s = &a.dkim_signatures[0];
    assert_eq!(s.d.as_deref(), Some("mailer.example.net"));
    assert_eq!(s.a.as_deref(), Some("ed25519-sha256"));
    assert_eq!(s.signer, Signer::ThirdParty);
    let d_meaning = &s
        .explanations
        .iter()
        .find(|e| e.tag == "d")
        .unwrap()
        .meaning;
    assert!(d_meaning.contains("third-party"), "{d_meaning}");
    assert_eq!(a.identities.return_path_aligned, Some(true));
    assert!(kinds(&a).is_empty(), "{:?}", a.warnings);
    let v = verified("postfix.eml").verification.unwrap();
    assert_eq!(v.differences, 0);
    assert_eq!(v.envelope.ip.as_deref(), Some("198.51.100.10"));
    assert_eq!(v.spf.unwrap().result, "pass");
}

#[test]
fn mailing_list_breaks_the_signature() {
    let a = analyse("mailing-list.eml");
    assert_eq!(a.hops.len(), 4);
    assert_eq!(a.hops[3].by.as_deref(), Some("mx.example.net"));
    assert!(kinds(&a).contains(&"sender_differs"));
    assert!(kinds(&a).contains(&"return_path_unaligned"));
    let ids: Vec<_> = a
        .authentication_results
        .iter()
        .map(|r| r.authserv_id.as_deref().unwrap())
        .collect();
    assert_eq!(ids, ["mx.example.net", "mx.example.org"]);
    assert_eq!(
        a.identities.sender.as_deref(),
        Some("lunch-club-bounces@example.org")
    );
    // Without the key: the footer is proven by the body hash, the tag suspected.
    let d = a.dkim_signatures[0].diagnosis.as_ref().unwrap();
    assert_eq!(d.body_hash_matches, Some(false));
    let footer = d
        .findings
        .iter()
        .find(|f| f.kind == "footer_appended")
        .unwrap();
    assert!(footer.confirmed && footer.message.contains("3 line(s)"));
    let tag = d.findings.iter().find(|f| f.kind == "subject_tag").unwrap();
    assert!(!tag.confirmed);

    // With the key: both confirmed; the list's own earlier pass differs from ours.
    let a = verified("mailing-list.eml");
    let d = a.dkim_signatures[0].diagnosis.as_ref().unwrap();
    assert_eq!(d.header_signature_verifies, Some(false));
    assert!(
        d.findings
            .iter()
            .any(|f| f.kind == "subject_tag" && f.confirmed),
        "{d:?}"
    );
    let v = a.verification.unwrap();
    assert_eq!(v.dkim[0].result, "fail");
    assert_eq!(v.dmarc.result, "fail");
    assert_eq!(v.envelope.ip.as_deref(), Some("192.0.2.150"));
    let differing: Vec<_> = v
        .comparison
        .iter()
        .filter(|c| c.differs)
        .map(|c| {
            (
                c.method.as_str(),
                c.by.as_deref().unwrap(),
                c.source.unwrap(),
            )
        })
        .collect();
    assert_eq!(
        differing,
        [
            // The sample's ARC seal is made up (b= is not base64): the chain the last
            // hop recorded as pass fails when validated again.
            ("arc", "mx.example.net", "Authentication-Results"),
            ("dkim", "mx.example.org", "Authentication-Results"),
            ("dmarc", "mx.example.org", "Authentication-Results"),
            ("dkim", "mx.example.org", "ARC-Authentication-Results"),
            ("dmarc", "mx.example.org", "ARC-Authentication-Results"),
        ]
    );
    assert_eq!(v.differences, 5);
}

#[test]
fn malformed_dates_and_missing_fields() {
    let a = analyse("malformed.eml");
    assert_eq!(a.hops.len(), 4);
    // qmail's stamp: a military zone, taken as -0000.
    assert_eq!(a.hops[0].time.as_deref(), Some("2026-11-22T06:00:00-00:00"));
    assert_eq!(a.hops[0].from, None);
    // Obsolete: day name without comma, two-digit year, EST.
    assert_eq!(a.hops[1].time.as_deref(), Some("2026-11-22T01:00:05-05:00"));
    assert_eq!(a.hops[1].delay_seconds, Some(5));
    assert_eq!(a.hops[2].time, None);
    assert_eq!(a.hops[2].date_text, None);
    assert!(a.hops[3].date_error.is_some());
    assert_eq!(a.hops[3].delay_seconds, None);
    let k = kinds(&a);
    for want in [
        "several_from",
        "display_name_address",
        "bad_date",
        "bad_message_id",
        "received_no_date",
        "received_bad_date",
        "unparseable_results",
        "results_before_first_hop",
    ] {
        assert!(k.contains(&want), "{want} in {k:?}");
    }
    assert_eq!(a.identities.return_path, None);
    assert_eq!(a.identities.from_domain, None);
    let e0 = a.dkim_signatures[0].error.as_deref().unwrap();
    assert!(e0.contains("bh="), "{e0}");
    assert!(a.dkim_signatures[1].error.is_some());
    assert!(a.dkim_signatures[0].diagnosis.is_none());
}

#[test]
fn missing_everything() {
    let h = Headers::parse(b"X-Nothing: here\r\n").unwrap();
    let a = analyze::analyze(&h, Some(b""));
    assert!(a.hops.is_empty());
    assert_eq!(a.total_delay_seconds, None);
    assert!(a.dkim_signatures.is_empty());
    let k = kinds(&a);
    assert!(k.contains(&"no_from") && k.contains(&"no_date") && k.contains(&"no_message_id"));
    let (env, why) = a.derived_envelope();
    assert_eq!(env.ip, None);
    assert!(why.contains("SPF not checked"));
}

#[test]
fn clock_skew_keeps_the_sign() {
    let a = analyse("clock-skew.eml");
    assert_eq!(delays(&a), [Some(2), Some(68), Some(-40), Some(-10)]);
    assert_eq!(a.total_delay_seconds, Some(20));
    let skews: Vec<_> = a
        .warnings
        .iter()
        .filter(|w| w.kind == "clock_skew")
        .map(|w| w.hop)
        .collect();
    assert_eq!(skews, [Some(3), Some(4)]);
    assert!(!kinds(&a).contains(&"out_of_order"));
}

fn stamp(by: usize, unix: i64) -> String {
    let d = monban_diag::analyze::datetime::civil_from_days(unix.div_euclid(86_400));
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let s = unix.rem_euclid(86_400);
    format!(
        "Received: from h{}.example (h{}.example [192.0.2.{}])\r\n\tby h{by}.example (Postfix) with ESMTP id Q{by}; {} {} {} {:02}:{:02}:{:02} +0000\r\n",
        by - 1,
        by - 1,
        by % 250 + 1,
        d.2,
        months[d.1 as usize - 1],
        d.0,
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// A header with `n` Received fields, hop k dated `start + k` seconds (newest on top).
fn long_chain(n: usize, start: i64) -> String {
    let mut h = String::new();
    for k in (1..=n).rev() {
        h.push_str(&stamp(k, start + k as i64));
    }
    h.push_str(
        "From: a@example.com\r\nDate: Sun, 22 Nov 2026 01:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n",
    );
    h
}

#[test]
fn a_hundred_and_fifty_hops() {
    let start = 1_795_309_200;
    let h = Headers::parse(long_chain(150, start).as_bytes()).unwrap();
    let a = analyze::analyze(&h, None);
    assert_eq!(a.received_count, 150);
    assert_eq!(a.hops.len(), 150);
    for (i, hop) in a.hops.iter().enumerate() {
        assert_eq!(hop.number, i + 1);
        assert_eq!(
            hop.by.as_deref(),
            Some(format!("h{}.example", i + 1).as_str())
        );
        assert_eq!(hop.delay_seconds, Some(1));
    }
    assert_eq!(a.total_delay_seconds, Some(150));
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
}

#[test]
fn more_than_a_thousand_received_fields() {
    let start = 1_795_309_200;
    let h = Headers::parse(long_chain(1_500, start).as_bytes()).unwrap();
    let t = std::time::Instant::now();
    let a = analyze::analyze(&h, None);
    assert!(t.elapsed().as_secs() < 5);
    assert_eq!(a.received_count, 1_500);
    assert_eq!(a.hops.len(), analyze::MAX_RECEIVED);
    // The newest thousand are kept.
    assert_eq!(a.hops[0].by.as_deref(), Some("h501.example"));
    assert_eq!(a.hops[999].by.as_deref(), Some("h1500.example"));
    assert!(kinds(&a).contains(&"too_many_received"));
}

#[test]
fn hops_out_of_order() {
    let start = 1_795_309_200;
    let mut h = String::new();
    h.push_str(&stamp(3, start + 30));
    // A hop dated two hours before the one it follows: forged or wildly wrong.
    h.push_str(&stamp(2, start - 7_200));
    h.push_str(&stamp(1, start + 10));
    let a = analyze::analyze(&Headers::parse(h.as_bytes()).unwrap(), None);
    assert_eq!(delays(&a), [None, Some(-7_210), Some(7_230)]);
    let k: Vec<_> = a.warnings.iter().map(|w| (w.kind, w.hop)).collect();
    assert!(k.contains(&("out_of_order", Some(2))), "{k:?}");
    assert!(k.contains(&("slow_hop", Some(3))), "{k:?}");
}

/// Pseudo-random hostile header values: never a panic, whatever the bytes.
#[test]
fn hostile_headers_do_not_panic() {
    let alphabet: &[&[u8]] = &[
        b"from",
        b"by",
        b"with",
        b"id",
        b"for",
        b" ",
        b"\t",
        b"\r\n ",
        b"(",
        b")",
        b"[",
        b"]",
        b"<",
        b">",
        b"\"",
        b"\\",
        b";",
        b":",
        b"=",
        b".",
        b"@",
        b"192.0.2.1",
        b"IPv6:",
        b"::1",
        b"Sun,",
        b"22",
        b"Nov",
        b"2026",
        b"10:00:00",
        b"+0900",
        b"GMT",
        b"Z",
        b"\xff",
        b"\xc3",
        b"v=1",
        b"d=",
        b"bh=",
        b"b=",
        b"h=from",
        b"i=1",
        b"dkim=pass",
        b"header.d=x",
        b"l=99",
        b"z=a:b|",
        b"[tag]",
    ];
    let names = [
        "Received",
        "Authentication-Results",
        "ARC-Authentication-Results",
        "Received-SPF",
        "DKIM-Signature",
        "Date",
        "From",
        "Sender",
        "Return-Path",
        "Message-ID",
        "Subject",
    ];
    let mut seed: u64 = 0x2026_1122;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize
    };
    for _ in 0..400 {
        let mut header = Vec::new();
        for _ in 0..(next() % 12 + 1) {
            header.extend_from_slice(names[next() % names.len()].as_bytes());
            header.push(b':');
            for _ in 0..(next() % 40) {
                header.extend_from_slice(alphabet[next() % alphabet.len()]);
            }
            header.extend_from_slice(b"\r\n");
        }
        let Ok(h) = Headers::parse(&header) else {
            continue;
        };
        let a = analyze::analyze(&h, Some(b"body\r\n"));
        let _ = a.derived_envelope();
    }
}

/// A signature listing 200,000 header names over a header of 4,000 fields: the
/// explanation stays linear, and the signature is refused as the verifier refuses it
/// (more than 1,000 names, issue 9) instead of being diagnosed.
#[test]
fn hostile_signed_header_lists_stay_linear() {
    let mut header = String::from(
        "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; bh=AAAA; b=AAAA; h=from",
    );
    header.push_str(&":x".repeat(200_000));
    header.push_str("\r\nFrom: a@example.com\r\nSubject: [t] hi\r\n");
    for i in 0..4_000 {
        header.push_str(&format!("X: {i}\r\n"));
    }
    let h = Headers::parse(header.as_bytes()).unwrap();
    let a = analyze::analyze(&h, Some(b"body\r\n"));
    let s = &a.dkim_signatures[0];
    let error = s.error.as_deref().unwrap_or_default();
    assert!(error.contains("h= lists more than 1000"), "{error}");
    assert!(s.diagnosis.is_none());
}
