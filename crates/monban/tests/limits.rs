//! The library's bounds on input and work (docs/limits.md), each at its value and one
//! past it: the value is read, one more gives the clear result the table names, never a
//! judgement on part of the input.

use monban::address::{AddressError, parse_mailbox_list};
use monban::authres::AuthenticationResults;
use monban::dkim2::fields::{Dkim2Signature, FieldError, MAX_NONCE, MAX_SETS, MAX_TAGS};
use monban::dkim2::recipe::{MAX_STEPS, Recipe};
use monban::dkim2::{Dkim2Reason, Dkim2Result};
use monban::dnsbl::{CodeFilter, DnsblResult, ListKind, MAX_ZONES, Zone, check};
use monban::pipeline::{Envelope, VerifyConfig, verify_message};
use monban_dns::ZoneResolver;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn mailboxes_in_one_list() {
    let list = |n: usize| {
        (0..n)
            .map(|i| format!("u{i}@example.com"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    assert_eq!(
        parse_mailbox_list(list(monban::address::MAX_MAILBOXES).as_bytes())
            .unwrap()
            .len(),
        monban::address::MAX_MAILBOXES
    );
    assert_eq!(
        parse_mailbox_list(list(monban::address::MAX_MAILBOXES + 1).as_bytes()),
        Err(AddressError::TooComplex)
    );
}

#[test]
fn results_in_one_authentication_results_field() {
    // The parser's bound is 256 results.
    let field = |n: usize| format!("mx.example.net{}", "; spf=pass".repeat(n));
    assert_eq!(
        AuthenticationResults::parse(field(256).as_bytes())
            .unwrap()
            .results
            .len(),
        256
    );
    assert!(AuthenticationResults::parse(field(257).as_bytes()).is_err());
}

const DKIM2_SIG: &str =
    "i=1; m=1; t=1795000000; d=example.com; mf=PGFAZXhhbXBsZS5jb20+; rt=PGJAZXhhbXBsZS5vcmc+; s=";

#[test]
fn dkim2_signature_sets_tags_and_nonce() {
    let sets = |n: usize| {
        (0..n)
            .map(|i| format!("s{i}:ed25519-sha256:AAAA"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let sig = Dkim2Signature::parse(format!("{DKIM2_SIG}{}", sets(MAX_SETS)).as_bytes()).unwrap();
    assert_eq!(sig.signatures.len(), MAX_SETS);
    assert_eq!(
        Dkim2Signature::parse(format!("{DKIM2_SIG}{}", sets(MAX_SETS + 1)).as_bytes()),
        Err(FieldError::TooMany)
    );
    // Tags: the signature's own 7, then unknown ones up to the bound.
    let with_tags = |n: usize| {
        let name = |i: usize| {
            format!(
                "x{}{}",
                (b'a' + (i / 26) as u8) as char,
                (b'a' + (i % 26) as u8) as char
            )
        };
        let extra: String = (0..n - 7).map(|i| format!("; {}=1", name(i))).collect();
        format!("{DKIM2_SIG}{}{extra}", sets(1))
    };
    assert!(Dkim2Signature::parse(with_tags(MAX_TAGS).as_bytes()).is_ok());
    assert_eq!(
        Dkim2Signature::parse(with_tags(MAX_TAGS + 1).as_bytes()),
        Err(FieldError::TooMany)
    );
    let nonce = |n: usize| format!("{DKIM2_SIG}{}; n={}", sets(1), "a".repeat(n));
    assert!(Dkim2Signature::parse(nonce(MAX_NONCE).as_bytes()).is_ok());
    assert_eq!(
        Dkim2Signature::parse(nonce(MAX_NONCE + 1).as_bytes()),
        Err(FieldError::NonceTooLong)
    );
}

#[test]
fn dkim2_recipe_steps() {
    let recipe = |n: usize| {
        let steps = vec![r#"{"c":[1,1]}"#; n].join(",");
        format!(r#"{{"b":[{steps}]}}"#)
    };
    assert!(Recipe::parse(recipe(MAX_STEPS).as_bytes()).is_ok());
    assert!(
        Recipe::parse(recipe(MAX_STEPS + 1).as_bytes())
            .unwrap_err()
            .contains("steps")
    );
}

fn dkim2_report(message: &[u8]) -> monban::dkim2::Dkim2Outcome {
    let config = VerifyConfig {
        dkim2: Some(Default::default()),
        skip_sender_id: true,
        ..Default::default()
    };
    let r = block_on(verify_message(
        message,
        Envelope::default(),
        config,
        1_795_000_000,
        &ZoneResolver::new(),
    ));
    r.dkim2.expect("DKIM2 is on")
}

#[test]
fn dkim2_fields_of_one_kind() {
    let field = format!("DKIM2-Signature: {DKIM2_SIG}sel:ed25519-sha256:AAAA\r\n");
    let max = monban::dkim2::fields::MAX_FIELDS;
    let at =
        dkim2_report(format!("{}From: a@example.com\r\n\r\nhi\r\n", field.repeat(max)).as_bytes());
    assert_ne!(at.reason, Some(Dkim2Reason::TooManyFields), "{at:?}");
    let over = dkim2_report(
        format!("{}From: a@example.com\r\n\r\nhi\r\n", field.repeat(max + 1)).as_bytes(),
    );
    assert_eq!(over.result, Dkim2Result::Permerror);
    assert_eq!(over.reason, Some(Dkim2Reason::TooManyFields));
}

#[test]
fn dkim2_body_kept_whole() {
    let max = monban::pipeline::MAX_DKIM2_BODY;
    let head = format!(
        "DKIM2-Signature: {DKIM2_SIG}sel:ed25519-sha256:AAAA\r\nFrom: a@example.com\r\n\r\n"
    );
    let mut message = head.clone().into_bytes();
    message.resize(head.len() + max, b'a');
    let at = dkim2_report(&message);
    assert_ne!(at.reason, Some(Dkim2Reason::BodyTooLarge), "{at:?}");
    message.push(b'a');
    let over = dkim2_report(&message);
    assert_eq!(over.result, Dkim2Result::Permerror);
    assert_eq!(over.reason, Some(Dkim2Reason::BodyTooLarge));
}

#[test]
fn dns_list_zones() {
    let zones: Vec<Zone> = (0..=MAX_ZONES)
        .map(|i| Zone {
            zone: format!("l{i}.example"),
            kind: ListKind::Block,
            filter: CodeFilter::Any,
        })
        .collect();
    let out = block_on(check(
        &ZoneResolver::new(),
        "192.0.2.1".parse().unwrap(),
        &zones,
    ));
    assert_eq!(out.len(), MAX_ZONES + 1);
    assert!(
        out[..MAX_ZONES]
            .iter()
            .all(|o| o.result == DnsblResult::NotListed)
    );
    assert_eq!(out[MAX_ZONES].result, DnsblResult::Temperror);
}

/// An ARC chain whose message signatures ask for `n` different body hashes (`l=` 1..n).
fn arc_chain(n: u32) -> String {
    let mut h = String::new();
    for i in (1..=n).rev() {
        let cv = if i == 1 { "none" } else { "pass" };
        h.push_str(&format!(
            "ARC-Seal: i={i}; a=rsa-sha256; cv={cv}; d=example.org; s=arc; t=1795000000; b=AAAA\r\n\
             ARC-Message-Signature: i={i}; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=arc; l={i}; h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n\
             ARC-Authentication-Results: i={i}; mx{i}.example.org; spf=pass\r\n"
        ));
    }
    h.push_str("From: a@example.com\r\n\r\nhello\r\n");
    h
}

#[test]
fn arc_distinct_body_hashes() {
    let verify = |n: u32| {
        let r = block_on(verify_message(
            arc_chain(n).as_bytes(),
            Envelope::default(),
            VerifyConfig::default(),
            1_795_000_000,
            &ZoneResolver::new(),
        ));
        format!("{:?} {:?}", r.arc.result, r.arc.reason)
    };
    let at = verify(4);
    assert!(!at.contains("different body hashes"), "{at}");
    let over = verify(5);
    assert!(
        over.starts_with("Fail") && over.contains("more than 4 different body hashes"),
        "{over}"
    );
}

/// Control characters are not text anywhere in an A-R field, quoted or not (RFC 5322
/// §3.2.3, §3.2.4): a field holding one is refused, never read with a character its
/// writer could not write back; nor is a line break other than folding (CRLF before
/// WSP, §3.2.2). Found by the `authres` fuzz target.
#[test]
fn authentication_results_with_control_characters_are_refused() {
    for bad in [
        &b"mx.example.net; spf=pass (a\x00b)"[..],
        b"mx.example.net; spf=pass (a\\\x01b)",
        b"\"mx\\\r\n.example.net\"; none",
        b"mx.example.net; spf=pass (a\xc2\x85b)",
        b"mx.example.net; spf=pass (a\\\xc2\x85b)",
        b"mx.example.net; spf=pass reason=\"a\x7fb\"",
        // A bare CR or LF, which unfolding would drop, joining C2 and 86 into U+0086.
        b"mx.example.net; spf=pass (a\xc2\r\x86b)",
        b"mx.example.net; spf=pass (a\xc2\n\x86b)",
        b"mx.example.net; spf=pass (a\xc2\r\n\x86b)",
        b"mx.example.net;\rspf=pass",
    ] {
        assert!(
            AuthenticationResults::parse(bad).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    // Folding white space, a quoted backslash before a fold, and tabs stay valid.
    for good in [
        &b"mx.example.net;\r\n\tspf=pass (a\tb)"[..],
        b"mx.example.net; spf=pass reason=\"a\\\\\"\r\n smtp.mailfrom=a@example.com",
    ] {
        let ar = AuthenticationResults::parse(good)
            .unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(good)));
        assert_eq!(
            AuthenticationResults::parse(ar.to_value().as_bytes()).unwrap(),
            ar
        );
    }
}
