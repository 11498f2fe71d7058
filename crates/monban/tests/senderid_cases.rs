//! Sender ID (RFC 4406, RFC 4407): record selection by scope, the `v=spf1` fallback,
//! the PRA, and the results, each case a named test. The zone is written from the
//! RFCs' rules; nothing here is a recording of another implementation.

use std::net::IpAddr;

use monban::message::Headers;
use monban::senderid::{PraError, PraField, check_mfrom, check_pra};
use monban::spf::{Spf, SpfCause, SpfResult};
use monban_dns::ZoneResolver;

const ZONE: &str = r#"
; Only SPF: its record stands for spf2.0/mfrom,pra (RFC 4406 §3.4).
v1only.example.        TXT "v=spf1 ip4:192.0.2.0/24 -all"
; Both: the spf2.0 record wins for its scopes.
v2v1.example.          TXT "v=spf1 +all"
v2v1.example.          TXT "spf2.0/pra ip4:192.0.2.10 -all"
; An spf2.0 record for mfrom only: the PRA scope has no record, and v=spf1 is not used.
mfromonly.example.     TXT "spf2.0/mfrom ip4:192.0.2.0/24 -all"
mfromonly.example.     TXT "v=spf1 +all"
; Both scopes in one record, either order, any case.
both.example.          TXT "SPF2.0/PRA,MFROM ip4:192.0.2.0/24 ~all"
; Two records for the PRA scope.
twice.example.         TXT "spf2.0/pra -all"
twice.example.         TXT "spf2.0/mfrom,pra +all"
; Two records, one per scope.
split.example.         TXT "spf2.0/pra ip4:192.0.2.20 -all"
split.example.         TXT "spf2.0/mfrom ip4:192.0.2.30 -all"
; Scope names other than mfrom and pra are ignored.
future.example.        TXT "spf2.0/future,pra ip4:192.0.2.0/24 -all"
; Malformed scope lists: unusable Sender ID records (the v=spf1 record is not used).
badtag.example.        TXT "spf2.0/ ip4:192.0.2.0/24 +all"
badtag.example.        TXT "spf2.0/pra,,mfrom +all"
badtag.example.        TXT "v=spf1 -all"
; A syntax error in the selected record.
syntax.example.        TXT "spf2.0/pra ip4:192.0.2.300 -all"
; include: follows the scope into the included domain.
outer.example.         TXT "spf2.0/pra include:inner.example -all"
inner.example.         TXT "v=spf1 -all"
inner.example.         TXT "spf2.0/pra ip4:192.0.2.40 -all"
; A domain that exists but publishes nothing.
quiet.example.         A   192.0.2.99
"#;

fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn zone() -> ZoneResolver {
    ZoneResolver::parse(ZONE, "senderid", None).unwrap()
}

fn pra(header: &str, ip: &str) -> monban::senderid::SenderIdOutcome {
    let z = zone();
    let spf = Spf::new(&z);
    let headers = Headers::parse(header.as_bytes()).unwrap();
    let ip: IpAddr = ip.parse().unwrap();
    run(check_pra(&spf, ip, "mail.example", &headers, 0))
}

fn pra_from(domain: &str, ip: &str) -> SpfResult {
    pra(&format!("From: someone@{domain}\r\n"), ip).result
}

fn mfrom(domain: &str, ip: &str) -> SpfResult {
    let z = zone();
    let spf = Spf::new(&z);
    let ip: IpAddr = ip.parse().unwrap();
    run(check_mfrom(
        &spf,
        ip,
        "mail.example",
        &format!("a@{domain}"),
        0,
    ))
    .result
}

/// RFC 4406 §3.4: with no spf2.0 record, `v=spf1` counts for both scopes.
#[test]
fn rfc4406_3_4_v1_fallback_pra() {
    assert_eq!(pra_from("v1only.example", "192.0.2.1"), SpfResult::Pass);
    assert_eq!(pra_from("v1only.example", "198.51.100.1"), SpfResult::Fail);
}

#[test]
fn rfc4406_3_4_v1_fallback_mfrom() {
    assert_eq!(mfrom("v1only.example", "192.0.2.1"), SpfResult::Pass);
    assert_eq!(mfrom("v1only.example", "198.51.100.1"), SpfResult::Fail);
}

/// RFC 4406 §3.4: an spf2.0 record for the scope is used instead of `v=spf1`.
#[test]
fn rfc4406_3_4_v2_preferred_over_v1() {
    assert_eq!(pra_from("v2v1.example", "192.0.2.10"), SpfResult::Pass);
    assert_eq!(pra_from("v2v1.example", "198.51.100.1"), SpfResult::Fail);
}

/// RFC 4406 §3.4: the domain publishes spf2.0, none for the PRA scope: no record
/// (its `v=spf1` record is not used), while the mfrom scope uses its own.
#[test]
fn rfc4406_3_4_other_scope_only() {
    let o = pra("From: a@mfromonly.example\r\n", "198.51.100.1");
    assert_eq!(o.result, SpfResult::None);
    assert_eq!(o.spf.unwrap().cause, SpfCause::NoRecord);
    assert_eq!(mfrom("mfromonly.example", "198.51.100.1"), SpfResult::Fail);
    assert_eq!(mfrom("mfromonly.example", "192.0.2.1"), SpfResult::Pass);
}

/// RFC 4406 §3.3: a scope list names several scopes, in any order and case.
#[test]
fn rfc4406_3_3_scope_list() {
    assert_eq!(pra_from("both.example", "192.0.2.1"), SpfResult::Pass);
    assert_eq!(
        pra_from("both.example", "198.51.100.1"),
        SpfResult::Softfail
    );
    assert_eq!(mfrom("both.example", "198.51.100.1"), SpfResult::Softfail);
}

/// RFC 4406 §3.4: more than one record for the scope is a permanent error.
#[test]
fn rfc4406_3_4_redundant_records() {
    let o = pra("From: a@twice.example\r\n", "192.0.2.1");
    assert_eq!(o.result, SpfResult::Permerror);
    assert_eq!(o.spf.unwrap().cause, SpfCause::MultipleRecords);
    // Two spf2.0 records, one per scope, are not redundant.
    assert_eq!(pra_from("split.example", "192.0.2.20"), SpfResult::Pass);
    assert_eq!(pra_from("split.example", "192.0.2.30"), SpfResult::Fail);
    assert_eq!(mfrom("split.example", "192.0.2.30"), SpfResult::Pass);
}

/// RFC 4406 §3.3: unknown scope names are allowed and ignored.
#[test]
fn rfc4406_3_3_unknown_scope_ignored() {
    assert_eq!(pra_from("future.example", "192.0.2.5"), SpfResult::Pass);
    // The record names no mfrom: the mfrom scope has no record.
    assert_eq!(mfrom("future.example", "192.0.2.5"), SpfResult::None);
}

/// A version tag with an empty or malformed scope list: the domain publishes a Sender
/// ID record that cannot be used (`permerror`); its `v=spf1` record does not stand in.
#[test]
fn malformed_scope_list_is_permerror() {
    let o = pra("From: a@badtag.example\r\n", "192.0.2.5");
    assert_eq!(o.result, SpfResult::Permerror);
    assert!(
        o.reason().unwrap().contains("scope list"),
        "{:?}",
        o.reason()
    );
    assert_eq!(mfrom("badtag.example", "192.0.2.5"), SpfResult::Permerror);
}

/// The selected record has a syntax error: `permerror`.
#[test]
fn syntax_error_is_permerror() {
    assert_eq!(
        pra_from("syntax.example", "192.0.2.5"),
        SpfResult::Permerror
    );
}

/// `include:` evaluates the included domain in the same scope.
#[test]
fn include_keeps_the_scope() {
    assert_eq!(pra_from("outer.example", "192.0.2.40"), SpfResult::Pass);
    assert_eq!(pra_from("outer.example", "192.0.2.41"), SpfResult::Fail);
}

/// RFC 4406: a PRA domain that does not exist is `fail` (SPF says `none`).
#[test]
fn rfc4406_nonexistent_domain_fails() {
    let o = pra("From: a@nowhere.example\r\n", "192.0.2.1");
    assert_eq!(o.result, SpfResult::Fail);
    assert_eq!(o.spf.unwrap().cause, SpfCause::NoSuchDomain);
    // A domain that exists without a record is `none`.
    assert_eq!(pra_from("quiet.example", "192.0.2.1"), SpfResult::None);
}

/// RFC 4407 §2: the PRA is taken from Sender before From, and the A-R names the field.
#[test]
fn rfc4407_2_sender_field_is_checked() {
    let o = pra(
        "From: a@v1only.example\r\nSender: list@v2v1.example\r\n",
        "192.0.2.10",
    );
    assert_eq!(o.result, SpfResult::Pass);
    let p = o.pra.as_ref().unwrap();
    assert_eq!(
        (p.field, p.domain.as_str()),
        (PraField::Sender, "v2v1.example")
    );
    let ar = monban::authres::ResInfo::from_sender_id(&o).to_text();
    assert!(
        ar.starts_with("sender-id=pass") && ar.ends_with("header.sender=list@v2v1.example"),
        "{ar}"
    );
}

/// RFC 4407 §2: Resent-From of the newest block comes first.
#[test]
fn rfc4407_2_resent_from_is_checked() {
    let o = pra(
        "Resent-From: fwd@v1only.example\r\nReceived: by x\r\nFrom: a@v2v1.example\r\n",
        "192.0.2.1",
    );
    assert_eq!(o.result, SpfResult::Pass);
    assert_eq!(o.pra.as_ref().unwrap().field, PraField::ResentFrom);
    let ar = monban::authres::ResInfo::from_sender_id(&o).to_text();
    assert!(
        ar.ends_with("header.resent-from=fwd@v1only.example"),
        "{ar}"
    );
}

/// RFC 4407 §2 step 6: no PRA (two From fields here) is ill-formed: `fail`, no lookup.
#[test]
fn rfc4407_2_no_pra_fails() {
    let o = pra(
        "From: a@v1only.example\r\nFrom: b@v1only.example\r\n",
        "192.0.2.1",
    );
    assert_eq!(o.result, SpfResult::Fail);
    assert_eq!(o.pra_error, Some(PraError::Several(PraField::From)));
    assert!(o.spf.is_none());
    assert!(o.reason().unwrap().contains("several From"));
}

/// Thousands of Resent blocks: one pass, and the newest block decides.
#[test]
fn hostile_resent_blocks_are_linear() {
    let mut h = String::new();
    h.push_str("Resent-From: new@v1only.example\r\n");
    // 1,600 blocks of three fields: just under the header's field limit.
    for i in 0..1_600 {
        h.push_str(&format!(
            "Received: by hop{i}\r\nResent-Sender: s{i}@nowhere.example\r\nResent-From: f{i}@nowhere.example\r\n"
        ));
    }
    h.push_str("From: =?utf-8?b?44GC?= <a@nowhere.example>\r\n");
    let o = pra(&h, "192.0.2.1");
    assert_eq!(o.pra.as_ref().unwrap().address, "new@v1only.example");
    assert_eq!(o.result, SpfResult::Pass);
}
