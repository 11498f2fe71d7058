//! DKIM verification decisions that matter for security (RFC 6376 §6, §8; RFC 8301),
//! each named after the rule it checks.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use monban::dkim::{self, DkimConfig, DkimOutcome, DkimResult, SignerConfig, SigningKey};
use monban_dns::{Lookup, Record, RecordType, Resolver, Txt, ZoneResolver};

const MSG: &str = "From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nSubject: hi\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\nHello.\r\n";

struct Counting {
    zone: ZoneResolver,
    queries: AtomicUsize,
}

impl Resolver for Counting {
    async fn lookup(&self, name: &str, rtype: RecordType) -> Lookup {
        self.queries.fetch_add(1, Ordering::Relaxed);
        self.zone.lookup_now(name, rtype)
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn setup(record_extra: &str) -> (Arc<SigningKey>, ZoneResolver) {
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let mut record = key.key_record().unwrap().to_string();
    if !record_extra.is_empty() {
        record = record.replacen("v=DKIM1;", &format!("v=DKIM1; {record_extra};"), 1);
    }
    let mut zone = ZoneResolver::new();
    zone.insert(
        "s1._domainkey.example.com",
        Record::Txt(Txt::new([record.into_bytes()])),
        300,
    );
    (key, zone)
}

fn sign(key: &Arc<SigningKey>, msg: &str, edit: impl FnOnce(&mut SignerConfig)) -> String {
    let mut cfg = SignerConfig::new("example.com", "s1", key.clone());
    edit(&mut cfg);
    let sigs = dkim::sign_message(msg.as_bytes(), vec![cfg], 1_000_000).unwrap();
    format!("DKIM-Signature:{}\r\n{msg}", sigs[0])
}

fn verify(msg: &str, zone: &ZoneResolver, now: u64, config: DkimConfig) -> Vec<DkimOutcome> {
    block_on(dkim::verify_message(msg.as_bytes(), zone, now, config)).unwrap()
}

#[test]
fn rfc6376_8_2_body_length_append_is_policy_by_default() {
    let (key, zone) = setup("");
    let signed = sign(&key, MSG, |c| c.body_length = true);
    assert_eq!(
        verify(&signed, &zone, 1_000_001, DkimConfig::default())[0].result,
        DkimResult::Pass
    );
    let appended = format!("{signed}Click here: http://evil.example/\r\n");
    let out = verify(&appended, &zone, 1_000_001, DkimConfig::default());
    assert_eq!(out[0].result, DkimResult::Policy, "{out:?}");
    assert!(
        out[0]
            .reason_text()
            .as_deref()
            .unwrap()
            .contains("unsigned")
    );
    let allowed = DkimConfig {
        allow_unsigned_body_content: true,
        ..DkimConfig::default()
    };
    assert_eq!(
        verify(&appended, &zone, 1_000_001, allowed)[0].result,
        DkimResult::Pass
    );
}

#[test]
fn rfc6376_3_5_expired_and_future_signatures_fail() {
    let (key, zone) = setup("");
    let signed = sign(&key, MSG, |c| c.expire_after = Some(3600));
    assert_eq!(
        verify(&signed, &zone, 1_000_100, DkimConfig::default())[0].result,
        DkimResult::Pass
    );
    let out = verify(&signed, &zone, 1_003_601, DkimConfig::default());
    assert_eq!(out[0].result, DkimResult::Fail);
    assert!(matches!(
        out[0].reason,
        Some(dkim::DkimReason::Expired { .. })
    ));
    assert!(out[0].reason_text().as_deref().unwrap().contains("expired"));
    let out = verify(&signed, &zone, 1_000_000 - 3_600, DkimConfig::default());
    assert_eq!(out[0].result, DkimResult::Fail);
    assert!(out[0].reason_text().as_deref().unwrap().contains("future"));
}

#[test]
fn rfc6376_3_6_1_key_flags() {
    for (extra, want) in [
        ("t=y", DkimResult::Pass),
        ("s=email", DkimResult::Pass),
        ("s=tlsrpt", DkimResult::Permerror),
        ("h=sha1", DkimResult::Permerror),
    ] {
        let (key, zone) = setup(extra);
        let out = verify(
            &sign(&key, MSG, |_| {}),
            &zone,
            1_000_001,
            DkimConfig::default(),
        );
        assert_eq!(out[0].result, want, "{extra}: {out:?}");
        if extra == "t=y" {
            assert!(out[0].testing);
        }
    }
    // t=s: the AUID must be in d= exactly, not a subdomain.
    let (key, zone) = setup("t=s");
    let sub = sign(&key, MSG, |c| c.identity = Some("@mail.example.com".into()));
    assert_eq!(
        verify(&sub, &zone, 1_000_001, DkimConfig::default())[0].result,
        DkimResult::Permerror
    );
    let exact = sign(&key, MSG, |c| c.identity = Some("alice@example.com".into()));
    assert_eq!(
        verify(&exact, &zone, 1_000_001, DkimConfig::default())[0].result,
        DkimResult::Pass
    );
}

#[test]
fn rfc6376_3_6_1_revoked_and_missing_keys() {
    let (key, _) = setup("");
    let signed = sign(&key, MSG, |_| {});
    let mut revoked = ZoneResolver::new();
    revoked.insert(
        "s1._domainkey.example.com",
        Record::Txt(Txt::new([b"v=DKIM1; k=ed25519; p=".to_vec()])),
        300,
    );
    let out = verify(&signed, &revoked, 1_000_001, DkimConfig::default());
    assert_eq!(out[0].result, DkimResult::Permerror);
    assert!(matches!(
        out[0].reason,
        Some(dkim::DkimReason::Revoked { .. })
    ));
    assert!(out[0].reason_text().as_deref().unwrap().contains("revoked"));
    let out = verify(
        &signed,
        &ZoneResolver::new(),
        1_000_001,
        DkimConfig::default(),
    );
    assert_eq!(out[0].result, DkimResult::Permerror);
    assert!(out[0].reason_text().as_deref().unwrap().contains("no key"));
}

#[test]
fn rfc8301_3_1_rsa_sha1_is_policy() {
    let (key, zone) = setup("");
    let signed = sign(&key, MSG, |_| {}).replacen("a=ed25519-sha256", "a=rsa-sha1", 1);
    let out = verify(&signed, &zone, 1_000_001, DkimConfig::default());
    assert_eq!(out[0].result, DkimResult::Policy, "{out:?}");
    assert_eq!(out[0].reason, Some(dkim::DkimReason::Sha1Refused));
    assert!(
        out[0]
            .reason_text()
            .as_deref()
            .unwrap()
            .contains("RFC 8301")
    );
}

#[test]
fn rfc6376_5_4_unsigned_duplicate_header_breaks_oversigned_signature() {
    let (key, zone) = setup("");
    let signed = sign(&key, MSG, |_| {});
    // An attacker adds a second From above the signed one; the oversigned h= covers it.
    let spoofed = signed.replacen(
        "From: Alice",
        "From: Mallory <m@evil.example>\r\nFrom: Alice",
        1,
    );
    assert_eq!(
        verify(&spoofed, &zone, 1_000_001, DkimConfig::default())[0].result,
        DkimResult::Fail
    );
    let extra_subject = signed.replacen("Subject: hi", "Subject: hi\r\nSubject: urgent", 1);
    assert_eq!(
        verify(&extra_subject, &zone, 1_000_001, DkimConfig::default())[0].result,
        DkimResult::Fail
    );
    // Fields the message did not have, added by a replayer: a Sender, an unsubscribe
    // link of its choosing (they verified before).
    for added in [
        "Sender: m@evil.example",
        "List-Unsubscribe: <https://evil.example/u>",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
    ] {
        let replayed = signed.replacen("Subject: hi", &format!("{added}\r\nSubject: hi"), 1);
        assert_eq!(
            verify(&replayed, &zone, 1_000_001, DkimConfig::default())[0].result,
            DkimResult::Fail,
            "{added}"
        );
    }
}

/// RFC 6376 §3.5: i= is `[ Local-part ] "@" domain-name`, in d= or a subdomain of it.
/// A trial's `@.example.com` was written as i= (the dot made it "end with" the domain).
#[test]
fn rfc6376_3_5_identity_is_an_address_in_the_signing_domain() {
    let (key, _) = setup("");
    let sign_as = |identity: &str| {
        let mut cfg = SignerConfig::new("example.com", "s1", key.clone());
        cfg.identity = Some(identity.to_owned());
        dkim::sign_message(MSG.as_bytes(), vec![cfg], 1_000_000)
    };
    for ok in ["alice@example.com", "@example.com", "bob@mail.example.com"] {
        assert!(sign_as(ok).is_ok(), "{ok}");
    }
    let long = format!("{}@example.com", "u".repeat(65));
    for (bad, syntax) in [
        ("@.example.com", true),
        ("example.com", true),
        ("a@exa mple.com", false),
        (long.as_str(), true),
        ("a@example.org", false),
        ("a@badexample.com", false),
    ] {
        let err = sign_as(bad).unwrap_err();
        assert_eq!(
            matches!(
                err,
                dkim::MessageError::Sign(dkim::SignError::IdentitySyntax(_))
            ),
            syntax,
            "{bad}: {err}"
        );
    }
}

/// RFC 6376 §3.5: `h=` must not name the DKIM-Signature being created. A list that
/// names DKIM-Signature more often than the message has them keeps only the present
/// ones: an extra one signed nothing here, but a verifier finds the new signature in
/// its place (a trial's `--headers from:dkim-signature` passed monban and failed
/// dkimpy and Mail::DKIM).
#[test]
fn rfc6376_3_5_h_never_names_the_signature_being_created() {
    let (key, zone) = setup("");
    let names = |list: &[&str]| Some(list.iter().map(|s| (*s).to_owned()).collect());
    let h_of = |signed: &str| {
        let sig = signed.split("\r\nFrom:").next().unwrap().to_owned();
        let h = sig
            .split(';')
            .find_map(|t| t.trim().strip_prefix("h="))
            .unwrap();
        h.split(':')
            .map(|n| n.trim().to_ascii_lowercase())
            .collect::<Vec<_>>()
    };
    let unsigned = sign(&key, MSG, |c| {
        c.headers = names(&["from", "dkim-signature"])
    });
    assert_eq!(h_of(&unsigned), ["from"]);
    // Over a message with one signature: that one is signed, the new one is not.
    let twice = sign(&key, &unsigned, |c| {
        c.headers = names(&["from", "dkim-signature", "DKIM-Signature"]);
    });
    assert_eq!(h_of(&twice), ["from", "dkim-signature"]);
    let results: Vec<DkimResult> = verify(&twice, &zone, 1_000_001, DkimConfig::default())
        .into_iter()
        .map(|o| o.result)
        .collect();
    assert_eq!(results, [DkimResult::Pass, DkimResult::Pass]);
}

/// A flood of signatures costs at most `max_signatures` key lookups; the rest are
/// reported without any work.
#[test]
fn signature_flood_is_bounded() {
    let (key, zone) = setup("");
    let one = sign(&key, MSG, |_| {});
    let sig_line = one.split("\r\nFrom:").next().unwrap().to_owned() + "\r\n";
    let flood = format!("{}{one}", sig_line.repeat(200));
    let counting = Counting {
        zone,
        queries: AtomicUsize::new(0),
    };
    let out = block_on(dkim::verify_message(
        flood.as_bytes(),
        &counting,
        1_000_001,
        DkimConfig::default(),
    ))
    .unwrap();
    assert_eq!(out.len(), 201);
    assert_eq!(
        out.iter().filter(|o| o.result == DkimResult::Pass).count(),
        5
    );
    assert_eq!(
        out.iter()
            .filter(|o| o.result == DkimResult::Neutral)
            .count(),
        196
    );
    assert!(counting.queries.load(Ordering::Relaxed) <= 5);
}

#[test]
fn hostile_signature_fields_are_permerror_not_panics() {
    let (key, zone) = setup("");
    let signed = sign(&key, MSG, |_| {});
    let bad = [
        "DKIM-Signature: v=1; a=ed25519-sha256; d=example.com\u{0}; s=s1; h=from; bh=AAAA; b=AAAA\r\n",
        "DKIM-Signature: \r\n",
        "DKIM-Signature: ;;;;;;;\r\n",
        "DKIM-Signature: v=1; v=1; v=1\r\n",
        "DKIM-Signature: v=1; a=ed25519-sha256; d=\"example.com; dkim=pass\"; s=s1; h=from; bh=AAAA; b=AAAA\r\n",
        "DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=../../etc; h=from; bh=AAAA; b=AAAA\r\n",
        "DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=s1; h=from; bh=AAAA; b=AAAA; l=99999999999999999999999999\r\n",
    ];
    for b in bad {
        let msg = format!("{b}{signed}");
        let out = verify(&msg, &zone, 1_000_001, DkimConfig::default());
        assert_ne!(out[0].result, DkimResult::Pass, "{b:?}");
        assert_eq!(out[1].result, DkimResult::Pass);
        let clause = monban::authres::dkim_clause(&out[0]);
        assert!(
            !monban::text::strip_quoted_and_comments(&clause).contains(';'),
            "{clause}"
        );
    }
}

/// Issue 9: `h=` of 100,000 distinct names took 11-20 s (a search of the header per
/// name). Beyond the documented cap the signature is permerror before any work, and no
/// key is fetched.
#[test]
fn regression_issue9_h_with_100k_names_is_permerror_without_lookup() {
    let (_, zone) = setup("");
    let counting = Counting {
        zone,
        queries: AtomicUsize::new(0),
    };
    let names: Vec<String> = (0..100_000).map(|i| format!("x-{i}")).collect();
    let msg = format!(
        "DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=s1; h=from:{}; bh=AAAA; b=AAAA\r\n{MSG}",
        names.join(":")
    );
    let out = block_on(dkim::verify_message(
        msg.as_bytes(),
        &counting,
        1_000_001,
        DkimConfig::default(),
    ))
    .unwrap();
    assert_eq!(out[0].result, DkimResult::Permerror);
    let reason = out[0].reason_text().unwrap_or_default();
    assert!(reason.contains("h= lists more than 1000"), "{reason}");
    assert_eq!(counting.queries.load(Ordering::Relaxed), 0);
}

/// At the cap (1,000 names, most of them absent from the header, some repeated to
/// over-sign) the signature still verifies; one more name is permerror.
#[test]
fn regression_issue9_h_at_the_cap_verifies_and_one_more_is_permerror() {
    use monban::dkim::signature::MAX_SIGNED_FIELDS;
    let (key, zone) = setup("");
    let mut names = vec!["from".to_owned(), "subject".to_owned(), "from".to_owned()];
    while names.len() < MAX_SIGNED_FIELDS {
        names.push(format!("x-absent-{}", names.len()));
    }
    let at_cap = sign(&key, MSG, |c| c.headers = Some(names.clone()));
    let out = verify(&at_cap, &zone, 1_000_001, DkimConfig::default());
    assert_eq!(out[0].result, DkimResult::Pass, "{:?}", out[0].reason);
    // The signer refuses to write more; a hostile signer adds one name by hand.
    let over = at_cap.replacen("h=from:", "h=from:x-one-more:", 1);
    assert_ne!(over, at_cap);
    let out = verify(&over, &zone, 1_000_001, DkimConfig::default());
    assert_eq!(out[0].result, DkimResult::Permerror, "{:?}", out[0].reason);
}

/// The signer never writes an h= its verifier would refuse: a message whose default
/// list would pass 1,000 names (thousands of To fields, each over-signed), a hand-given
/// list over 1,000, a bad name or a non-ASCII i= are refused, not signed.
#[test]
fn signer_refuses_what_verifiers_would_refuse() {
    let (key, _) = setup("");
    let mut many = String::new();
    for i in 0..1_000 {
        many.push_str(&format!("To: r{i}@example.net\r\n"));
    }
    let msg = format!("{many}{MSG}");
    let err = dkim::sign_message(
        msg.as_bytes(),
        vec![SignerConfig::new("example.com", "s1", key.clone())],
        1_000_000,
    )
    .unwrap_err();
    assert!(err.to_string().contains("more than 1000"), "{err}");
    for edit in [
        Box::new(|c: &mut SignerConfig| {
            c.headers = Some(
                (0..1_001)
                    .map(|i| format!("x{i}"))
                    .chain(["from".into()])
                    .collect(),
            )
        }) as Box<dyn Fn(&mut SignerConfig)>,
        Box::new(|c: &mut SignerConfig| c.headers = Some(vec!["from".into(), "a b".into()])),
        Box::new(|c: &mut SignerConfig| c.identity = Some("\u{e9}l\u{e8}ve@example.com".into())),
        Box::new(|c: &mut SignerConfig| c.identity = Some("a;b@example.com".into())),
    ] {
        let mut cfg = SignerConfig::new("example.com", "s1", key.clone());
        edit(&mut cfg);
        assert!(dkim::sign_message(MSG.as_bytes(), vec![cfg], 1_000_000).is_err());
    }
}

/// Settings that would write a broken signature are refused before any message, by
/// `SignerConfig::check`: a `;` in an `h=` name (it would end the tag: `from;l=0` wrote
/// an `l=` of the caller's choosing), an empty list, an `x=` past twelve digits or past
/// u64 (it overflowed), an empty selector or a domain with a space.
#[test]
fn rfc6376_3_5_settings_that_would_write_a_broken_signature_are_refused() {
    use monban::dkim::SignError;
    let (key, _) = setup("");
    let now = 1_795_400_000;
    let check = |edit: &dyn Fn(&mut SignerConfig)| {
        let mut cfg = SignerConfig::new("example.com", "s1", key.clone());
        edit(&mut cfg);
        cfg.check(now)
    };
    let list = |names: &[&str]| Some(names.iter().map(|n| (*n).to_owned()).collect());
    assert_eq!(
        check(&|c| c.headers = list(&["from", "to;l=0"])),
        Err(SignError::HeaderName("to;l=0".into()))
    );
    assert_eq!(
        check(&|c| c.headers = list(&[])),
        Err(SignError::FromNotListed)
    );
    assert_eq!(
        check(&|c| c.expire_after = Some(u64::MAX)),
        Err(SignError::Expire(u64::MAX))
    );
    let most = dkim::sign::MAX_TIMESTAMP - now;
    assert_eq!(check(&|c| c.expire_after = Some(most)), Ok(()));
    assert_eq!(
        check(&|c| c.expire_after = Some(most + 1)),
        Err(SignError::Expire(most + 1))
    );
    assert_eq!(
        check(&|c| c.selector = String::new()),
        Err(SignError::Selector(String::new()))
    );
    assert_eq!(
        check(&|c| c.domain = "exa mple.com".into()),
        Err(SignError::Domain("exa mple.com".into()))
    );
    // The same refusals when signing, and a signature at the last x= verifies.
    let mut cfg = SignerConfig::new("example.com", "s1", key.clone());
    cfg.expire_after = Some(u64::MAX);
    assert!(dkim::sign_message(MSG.as_bytes(), vec![cfg], now).is_err());
}

/// A signer that lists `dkim-signature` in `h=` signs the other DKIM-Signature fields
/// (§3.7: a signature is not in its own `h=`); the verifier picks among the same
/// fields, not the signature it checks: signed with no other signature, and signed
/// over an earlier one, both pass (the first failed before: the verifier took the
/// signature itself as the listed field).
#[test]
fn rfc6376_3_7_a_signature_is_not_among_its_own_h_fields() {
    let (key, zone) = setup("");
    let list = || Some(vec!["from".to_owned(), "dkim-signature".to_owned()]);
    let alone = sign(&key, MSG, |c| c.headers = list());
    let out = verify(&alone, &zone, 1_000_001, DkimConfig::default());
    assert_eq!(out[0].result, DkimResult::Pass, "{out:?}");
    let first = sign(&key, MSG, |_| {});
    let over = sign(&key, &first, |c| c.headers = list());
    let out = verify(&over, &zone, 1_000_001, DkimConfig::default());
    assert_eq!(
        out.iter().map(|o| o.result).collect::<Vec<_>>(),
        [DkimResult::Pass, DkimResult::Pass],
        "{out:?}"
    );
    // The later signature covers the earlier one's field: without it, it fails.
    let start = over.rfind("DKIM-Signature:").unwrap();
    let len = over[start..]
        .match_indices("\r\n")
        .map(|(i, _)| i + 2)
        .find(|&end| !over[start + end..].starts_with([' ', '\t']))
        .unwrap();
    let without = [&over[..start], &over[start + len..]].concat();
    let out = verify(&without, &zone, 1_000_001, DkimConfig::default());
    assert_eq!(
        out.iter().map(|o| o.result).collect::<Vec<_>>(),
        [DkimResult::Fail],
        "{out:?}"
    );
}

#[test]
fn rfc5322_3_6_a_message_with_two_from_fields_is_not_signed() {
    let (key, _) = setup("");
    let two = MSG.replacen(
        "From: Alice",
        "From: Mallory <m@evil.example>\r\nFrom: Alice",
        1,
    );
    let config = SignerConfig::new("example.com", "s1", key.clone());
    match dkim::sign_message(two.as_bytes(), vec![config.clone()], 1_000_000) {
        Err(dkim::MessageError::Sign(dkim::sign::SignError::SeveralFrom(2))) => {}
        other => panic!("expected SeveralFrom(2), got {other:?}"),
    }
    // One From field with two mailboxes (and a Sender) is a valid author list: signed.
    let list = MSG.replacen(
        "From: Alice <alice@example.com>",
        "From: Alice <alice@example.com>, carol@example.com\r\nSender: alice@example.com",
        1,
    );
    assert!(dkim::sign_message(list.as_bytes(), vec![config], 1_000_000).is_ok());
}
