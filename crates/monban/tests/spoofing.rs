//! A spoofing suite built from the attack classes of "Composition Kills: A Case Study of
//! Email Sender Authentication" (Chen et al., USENIX Security 2020). Every message
//! claims to come from victim.example (p=reject); the attacker controls evil.example
//! (its own SPF and DKIM key) and the client IP 203.0.113.66. None may yield
//! `dmarc=pass` for victim.example, in the typed result or in the written
//! Authentication-Results field (parsed back).

use std::sync::Arc;

use monban::authres::{AuthenticationResults, fields_claiming};
use monban::dkim::{self, SignerConfig, SigningKey};
use monban::dmarc::DmarcResult;
use monban::pipeline::{Envelope, Report, VerifyConfig, verify_message};
use monban_dns::{Record, Txt, ZoneResolver};

const ATTACKER_IP: &str = "203.0.113.66";
const NOW: u64 = 1_795_000_000;

struct World {
    zone: ZoneResolver,
    victim_key: Arc<SigningKey>,
    evil_key: Arc<SigningKey>,
}

fn txt(zone: &mut ZoneResolver, name: &str, value: &str) {
    zone.insert(
        name,
        Record::Txt(Txt::new([value.as_bytes().to_vec()])),
        300,
    );
}

fn world() -> World {
    let victim_key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let evil_key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let mut zone = ZoneResolver::new();
    txt(&mut zone, "victim.example", "v=spf1 ip4:192.0.2.0/24 -all");
    txt(
        &mut zone,
        "_dmarc.victim.example",
        "v=DMARC1; p=reject; sp=reject; np=reject",
    );
    txt(
        &mut zone,
        "s1._domainkey.victim.example",
        &victim_key.key_record().unwrap().to_string(),
    );
    zone.insert("victim.example", Record::A([192, 0, 2, 10].into()), 300);
    zone.insert(
        "mail.victim.example",
        Record::A([192, 0, 2, 25].into()),
        300,
    );
    txt(&mut zone, "evil.example", "v=spf1 ip4:203.0.113.0/24 -all");
    txt(
        &mut zone,
        "mail.evil.example",
        "v=spf1 ip4:203.0.113.0/24 -all",
    );
    txt(&mut zone, "_dmarc.evil.example", "v=DMARC1; p=none");
    txt(
        &mut zone,
        "s1._domainkey.evil.example",
        &evil_key.key_record().unwrap().to_string(),
    );
    World {
        zone,
        victim_key,
        evil_key,
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn envelope(mail_from: &str, helo: &str) -> Envelope {
    Envelope {
        ip: Some(ATTACKER_IP.parse().unwrap()),
        helo: Some(helo.into()),
        mail_from: Some(mail_from.into()),
        rcpt_to: Vec::new(),
    }
}

fn sign_with(
    key: &Arc<SigningKey>,
    domain: &str,
    msg: &str,
    edit: impl FnOnce(&mut SignerConfig),
) -> String {
    let mut cfg = SignerConfig::new(domain, "s1", key.clone());
    edit(&mut cfg);
    let sigs = dkim::sign_message(msg.as_bytes(), vec![cfg], NOW - 60).unwrap();
    format!("DKIM-Signature:{}\r\n{msg}", sigs[0])
}

/// Verifies and checks the invariant; returns the report (a malformed header gets a
/// verdict too, which must not be a pass either).
fn no_victim_pass(name: &str, w: &World, msg: &str, env: Envelope) -> Report {
    let report = block_on(verify_message(
        msg.as_bytes(),
        env,
        VerifyConfig::default(),
        NOW,
        &w.zone,
    ));
    let d = &report.dmarc;
    assert!(
        !(d.result == DmarcResult::Pass && d.header_from.as_deref() == Some("victim.example")),
        "{name}: dmarc=pass for victim.example: {d:?}"
    );
    let written = report
        .authentication_results("mx.receiver.example")
        .to_value();
    let parsed = AuthenticationResults::parse(written.as_bytes()).expect("our own field parses");
    let methods: Vec<&str> = parsed.results.iter().map(|r| r.method.as_str()).collect();
    // Ours end with dmarc then arc (RFC 8617): an injected clause would show up after.
    assert_eq!(
        methods[methods.len().saturating_sub(2)..],
        ["dmarc", "arc"],
        "{name}: {written}"
    );
    assert_eq!(
        methods.iter().filter(|m| **m == "dmarc").count(),
        1,
        "{name}: injected clause: {written}"
    );
    for r in &parsed.results {
        assert!(
            !(r.method == "dmarc"
                && r.result == "pass"
                && r.property("header", "from") == Some("victim.example")),
            "{name}: {written}"
        );
    }
    report
}

/// The report of `msg` received from the attacker's server (MAIL FROM and HELO of
/// evil.example).
fn from_attacker(w: &World, msg: &str) -> Report {
    block_on(verify_message(
        msg.as_bytes(),
        envelope("x@evil.example", "mail.evil.example"),
        VerifyConfig::default(),
        NOW,
        &w.zone,
    ))
}

const BODY: &str = "Subject: Invoice\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\nPlease pay the attached invoice.\r\n";

#[test]
fn ambiguous_from_fields() {
    let w = world();
    let cases = [
        (
            "two From fields",
            "From: x@evil.example\r\nFrom: ceo@victim.example\r\n",
        ),
        (
            "space before the colon",
            "From : ceo@victim.example\r\nFrom: x@evil.example\r\n",
        ),
        (
            "tab before the colon",
            "From\t: ceo@victim.example\r\nFrom: x@evil.example\r\n",
        ),
        (
            "folded second From",
            "From: x@evil.example\r\n From: ceo@victim.example\r\n",
        ),
        (
            "leading space on the first field",
            " From: ceo@victim.example\r\nFrom: x@evil.example\r\n",
        ),
        (
            "upper-case duplicate",
            "FROM: ceo@victim.example\r\nfrom: x@evil.example\r\n",
        ),
        ("no From at all", "Sender: ceo@victim.example\r\n"),
    ];
    for (name, from) in cases {
        let raw = format!("{from}{BODY}");
        // The attacker signs as evil.example where the message can be signed at all.
        let cfg = SignerConfig {
            headers: Some(vec!["from".into(), "subject".into()]),
            ..SignerConfig::new("evil.example", "s1", w.evil_key.clone())
        };
        let msg = match dkim::sign_message(raw.as_bytes(), vec![cfg], NOW - 60) {
            Ok(sigs) => format!("DKIM-Signature:{}\r\n{raw}", sigs[0]),
            Err(_) => raw,
        };
        let r = no_victim_pass(
            name,
            &w,
            &msg,
            envelope("x@evil.example", "mail.evil.example"),
        );
        assert_ne!(r.dmarc.result, DmarcResult::Pass, "{name}: {:?}", r.dmarc);
    }
}

#[test]
fn address_parsing_tricks() {
    let w = world();
    let cases = [
        (
            "two mailboxes",
            "From: x@evil.example, ceo@victim.example\r\n",
        ),
        (
            "encoded word naming the victim",
            "From: =?utf-8?b?Y2VvQHZpY3RpbS5leGFtcGxl?= <x@evil.example>\r\n",
        ),
        (
            "quoted display name naming the victim",
            "From: \"ceo@victim.example\" <x@evil.example>\r\n",
        ),
        (
            "route address",
            "From: <@victim.example:x@evil.example>\r\n",
        ),
        (
            "comment naming the victim",
            "From: x@evil.example (ceo@victim.example)\r\n",
        ),
        (
            "address after the angle address",
            "From: <x@evil.example>ceo@victim.example\r\n",
        ),
        (
            "display name is an address",
            "From: ceo@victim.example <x@evil.example>\r\n",
        ),
        ("group syntax", "From: Victim: ceo@victim.example;\r\n"),
        (
            "NUL in the address",
            "From: ceo@victim.example\0.evil.example\r\n",
        ),
    ];
    for (name, from) in cases {
        let msg = sign_with(
            &w.evil_key,
            "evil.example",
            &format!("{from}{BODY}"),
            |_| {},
        );
        let r = no_victim_pass(
            name,
            &w,
            &msg,
            envelope("x@evil.example", "mail.evil.example"),
        );
        // Where the author is evil.example, DMARC may pass for evil.example: that is
        // correct, and the victim is not involved.
        if r.dmarc.header_from.as_deref() == Some("evil.example") {
            continue;
        }
        assert_ne!(r.dmarc.result, DmarcResult::Pass, "{name}: {:?}", r.dmarc);
    }
}

#[test]
fn helo_never_stands_in_for_mail_from() {
    let w = world();
    let msg = format!("From: ceo@victim.example\r\n{BODY}");
    // MAIL FROM a non-existent victim subdomain (no SPF: none); the HELO passes SPF.
    let r = no_victim_pass(
        "nx mail-from subdomain",
        &w,
        &msg,
        envelope("x@nx.victim.example", "mail.evil.example"),
    );
    assert_eq!(r.helo.as_ref().unwrap().result.as_str(), "pass");
    assert!(!r.dmarc.spf_aligned);
    assert_eq!(r.dmarc.result, DmarcResult::Fail);
    // The null sender: SPF checks postmaster@<HELO>, which is evil.example: not aligned.
    let r = no_victim_pass("null sender", &w, &msg, envelope("", "mail.evil.example"));
    assert_eq!(r.dmarc.result, DmarcResult::Fail);
    // A HELO claiming the victim from the attacker's IP fails SPF anyway.
    no_victim_pass(
        "victim helo",
        &w,
        &msg,
        envelope("x@evil.example", "mail.victim.example"),
    );
}

#[test]
fn hostile_dkim_tags() {
    let w = world();
    let base = format!("From: ceo@victim.example\r\n{BODY}");
    let signed = sign_with(&w.evil_key, "evil.example", &base, |_| {});
    let cases = [
        (
            "NUL in d=",
            signed.replacen("d=evil.example", "d=victim.example\0.evil.example", 1),
        ),
        (
            "quotes in d=",
            signed.replacen("d=evil.example", "d=\"victim.example\"", 1),
        ),
        ("quotes in s=", signed.replacen("s=s1", "s=\"s1\"", 1)),
        (
            "d= claims the victim",
            signed.replacen("d=evil.example", "d=victim.example", 1),
        ),
        (
            "d= claims a victim subdomain",
            signed.replacen("d=evil.example", "d=x.victim.example", 1),
        ),
        (
            "attacker key published under the victim selector",
            signed.replacen("s=s1", "s=s1._domainkey.evil.example.x", 1),
        ),
    ];
    for (name, msg) in cases {
        let r = no_victim_pass(
            name,
            &w,
            &msg,
            envelope("x@evil.example", "mail.evil.example"),
        );
        assert_eq!(
            r.dmarc.result,
            DmarcResult::Fail,
            "{name}: {:?} {:?}",
            r.dmarc,
            r.dkim
        );
    }
}

#[test]
fn authentication_results_injection() {
    let w = world();
    let msg = format!("From: ceo@victim.example\r\n{BODY}");
    for (mail_from, helo) in [
        (
            "\"x; dmarc=pass header.from=victim.example\"@evil.example",
            "mail.evil.example",
        ),
        (
            "x@evil.example",
            "x) dmarc=pass (header.from=victim.example",
        ),
        ("a'b;dmarc=pass@evil.example", "evil'; dmarc=pass"),
        (
            "x@evil.example",
            "h\r\nAuthentication-Results: mx.receiver.example; dmarc=pass",
        ),
    ] {
        let r = no_victim_pass("A-R injection", &w, &msg, envelope(mail_from, helo));
        let text = r.authentication_results("mx.receiver.example").to_value();
        assert!(!text.contains("\r\nAuthentication-Results"), "{text}");
    }
}

#[test]
fn body_length_append_and_unsigned_headers() {
    let w = world();
    let genuine = format!("From: ceo@victim.example\r\nTo: staff@victim.example\r\n{BODY}");
    // The victim signed with l=; the attacker appends a payload.
    let signed = sign_with(&w.victim_key, "victim.example", &genuine, |c| {
        c.body_length = true
    });
    let appended = format!("{signed}\r\nURGENT: wire the money to the account below.\r\n");
    let r = no_victim_pass(
        "l= append",
        &w,
        &appended,
        envelope("x@evil.example", "mail.evil.example"),
    );
    assert_eq!(r.dkim[0].result.as_str(), "policy");
    assert_eq!(r.dmarc.result, DmarcResult::Fail);

    // A genuine signature; the attacker adds unsigned copies of signed fields.
    let signed = sign_with(&w.victim_key, "victim.example", &genuine, |_| {});
    for (name, msg) in [
        (
            "second Subject",
            signed.replacen(
                "Subject: Invoice",
                "Subject: Invoice\r\nSubject: Wire money now",
                1,
            ),
        ),
        (
            "second To",
            signed.replacen("To: staff", "To: ceo@evil.example\r\nTo: staff", 1),
        ),
        (
            "second From",
            signed.replacen(
                "From: ceo@victim.example",
                "From: ceo@victim.example\r\nFrom: x@evil.example",
                1,
            ),
        ),
    ] {
        let r = no_victim_pass(
            name,
            &w,
            &msg,
            envelope("x@evil.example", "mail.evil.example"),
        );
        assert_ne!(r.dmarc.result, DmarcResult::Pass, "{name}");
    }
    // The untouched message passes: the suite is not vacuous.
    let r = block_on(verify_message(
        signed.as_bytes(),
        envelope("x@evil.example", "mail.evil.example"),
        VerifyConfig::default(),
        NOW,
        &w.zone,
    ));
    assert_eq!(r.dmarc.result, DmarcResult::Pass);
}

#[test]
fn subdomains_and_spelling() {
    let w = world();
    for (name, from) in [
        (
            "non-existent subdomain (np)",
            "From: ceo@ghost.victim.example\r\n",
        ),
        (
            "existing subdomain (sp)",
            "From: ceo@mail.victim.example\r\n",
        ),
        ("upper case", "From: ceo@VICTIM.Example\r\n"),
    ] {
        let msg = sign_with(
            &w.evil_key,
            "evil.example",
            &format!("{from}{BODY}"),
            |_| {},
        );
        let r = from_attacker(&w, &msg);
        assert_ne!(r.dmarc.result, DmarcResult::Pass, "{name}: {:?}", r.dmarc);
        assert_eq!(
            r.dmarc.disposition.as_str(),
            "reject",
            "{name}: {:?}",
            r.dmarc
        );
    }
    // A trailing dot is not RFC 5322 syntax: permerror, never a pass.
    let msg = format!("From: ceo@victim.example.\r\n{BODY}");
    let r = no_victim_pass(
        "trailing dot",
        &w,
        &msg,
        envelope("x@evil.example", "mail.evil.example"),
    );
    assert_eq!(r.dmarc.result, DmarcResult::Permerror);
}

#[test]
fn forged_results_claiming_our_authserv_id_are_found() {
    let msg = "Authentication-Results: mx.receiver.example; dmarc=pass header.from=victim.example\r\nAuthentication-Results: MX.RECEIVER.EXAMPLE ; spf=pass\r\nAuthentication-Results: other.example; dkim=pass\r\nAuthentication-Results: mx.receiver.example (broken\r\nFrom: ceo@victim.example\r\n\r\nhi\r\n";
    let (headers, _) = dkim::split_message(msg.as_bytes()).unwrap();
    assert_eq!(
        fields_claiming(&headers, "mx.receiver.example"),
        vec![0, 1, 3]
    );
}

/// The absolute form of our name (a trailing dot) is our name to a reader that
/// normalizes host names: a trial's forged `mx.trial.` field was kept. A longer name
/// is not ours.
#[test]
fn forged_results_with_our_name_in_absolute_form_are_found() {
    let msg = "Authentication-Results: mx.receiver.example.; dmarc=pass header.from=victim.example\r\n\
        Authentication-Results: mx.receiver.example.; dmarc=pass (broken\r\n\
        Authentication-Results: mx.receiver.example.evil; dkim=pass\r\n\
        Authentication-Results: mx.receiver.example..; dkim=pass (broken\r\n\
        From: ceo@victim.example\r\n\r\nhi\r\n";
    let (headers, _) = dkim::split_message(msg.as_bytes()).unwrap();
    assert_eq!(fields_claiming(&headers, "mx.receiver.example"), vec![0, 1]);
    assert_eq!(
        fields_claiming(&headers, "mx.receiver.example."),
        vec![0, 1]
    );
}

/// Malformed forgeries that a lenient reader downstream could still take for ours: a
/// comment or a quote before the name, a control character, too many results. A
/// malformed field of another host, or one naming a longer host, is kept.
#[test]
fn malformed_forged_results_are_found_whatever_comes_first() {
    let mut many = String::from("mx.receiver.example");
    for _ in 0..300 {
        many.push_str("; spf=pass");
    }
    let msg = format!(
        "Authentication-Results: (x) mx.receiver.example; dmarc=pass (broken\r\n\
         Authentication-Results: \"mx.receiver.example\"; spf=pass\x00\r\n\
         Authentication-Results: {many}\r\n\
         Authentication-Results: other.example; dkim=pass (broken\r\n\
         Authentication-Results: amx.receiver.example.evil; dkim=pass (broken\r\n\
         Authentication-Results: mx.receiver.example; dmarc=pass header.from=victim.example\r\n\
         From: ceo@victim.example\r\n\r\nhi\r\n"
    );
    let (headers, _) = dkim::split_message(msg.as_bytes()).unwrap();
    assert_eq!(
        fields_claiming(&headers, "mx.receiver.example"),
        vec![0, 1, 2, 5]
    );
}

/// ADSP (RFC 5617 §2.3): with several author addresses each domain is checked, and the
/// most severe result stands. Checking none let a second author dodge the victim's
/// `dkim=discardable` (a trial found `adsp=none` with no domain).
#[test]
fn rfc5617_2_3_each_author_domain_is_checked_by_adsp() {
    let mut w = world();
    txt(
        &mut w.zone,
        "_adsp._domainkey.victim.example",
        "dkim=discardable",
    );
    for from in [
        "a@evil.example, ceo@victim.example",
        "ceo@victim.example, a@evil.example",
    ] {
        let msg = format!("From: {from}\r\nSender: a@evil.example\r\n{BODY}");
        let report = no_victim_pass(
            from,
            &w,
            &msg,
            envelope("a@evil.example", "mail.evil.example"),
        );
        assert_eq!(
            report.adsp.result.as_str(),
            "discard",
            "{from}: {:?}",
            report.adsp
        );
        assert_eq!(
            report.adsp.domain.as_deref(),
            Some("victim.example"),
            "{from}"
        );
    }
}

/// RFC 6376 §3.4.2 unfolds CRLF followed by WSP and nothing else: a CR, or a CR and a
/// line break, put into a signed field under c=relaxed changes the signed text, so the
/// victim's signature must fail (a verifier that deleted every CR and LF in a value
/// would still pass it).
#[test]
fn rfc6376_3_4_2_a_cr_put_into_a_signed_field_breaks_the_signature() {
    let w = world();
    let genuine = format!("From: ceo@victim.example\r\nTo: staff@victim.example\r\n{BODY}");
    let signed = sign_with(&w.victim_key, "victim.example", &genuine, |_| {});
    let pass = |msg: &str| from_attacker(&w, msg);
    // Not vacuous: the genuine message passes, and so does a refolded one (a fold is
    // CRLF followed by WSP, which relaxed canonicalization removes).
    assert_eq!(pass(&signed).dmarc.result, DmarcResult::Pass);
    let refolded = signed.replacen("Subject: Invoice", "Subject:\r\n Invoice", 1);
    assert_eq!(pass(&refolded).dmarc.result, DmarcResult::Pass);
    for (name, edit) in [
        ("lone CR", "Subject: Inv\roice"),
        ("CR before a space", "Subject: Inv\r oice"),
        ("CR at the end", "Subject: Invoice\r"),
        ("CR at the start", "Subject:\rInvoice"),
    ] {
        let msg = signed.replacen("Subject: Invoice", edit, 1);
        let r = no_victim_pass(
            name,
            &w,
            &msg,
            envelope("x@evil.example", "mail.evil.example"),
        );
        assert_eq!(r.dkim[0].result.as_str(), "fail", "{name}");
        assert_eq!(r.dmarc.result, DmarcResult::Fail, "{name}");
    }
}

/// More signatures than are evaluated (5 by default): the author domain's own are
/// evaluated first, so signatures of another domain put above it (here six valid ones
/// of evil.example) cannot crowd out a valid aligned one; the others are reported as
/// not evaluated.
#[test]
fn an_aligned_signature_is_not_crowded_out_by_others_above_it() {
    let w = world();
    let genuine = format!("From: ceo@victim.example\r\nTo: staff@victim.example\r\n{BODY}");
    let mut msg = sign_with(&w.victim_key, "victim.example", &genuine, |_| {});
    for _ in 0..6 {
        msg = sign_with(&w.evil_key, "evil.example", &msg, |_| {});
    }
    let r = from_attacker(&w, &msg);
    let results: Vec<(&str, &str)> = r
        .dkim
        .iter()
        .map(|d| (d.domain.as_str(), d.result.as_str()))
        .collect();
    // Header order kept: six of evil.example, then the victim's, which passes.
    assert_eq!(results.len(), 7, "{results:?}");
    assert_eq!(results[6], ("victim.example", "pass"), "{results:?}");
    assert_eq!(
        results.iter().filter(|(_, r)| *r == "neutral").count(),
        2,
        "{results:?}"
    );
    assert_eq!(r.dmarc.result, DmarcResult::Pass);
}
