//! The milter session driven command by command, as an MTA would, against an in-memory
//! zone: exact header actions and verdicts.

use std::sync::Arc;

use monban::dkim::{self, DkimConfig, DkimResult, SignerConfig, SigningKey};
use monban_dns::{Record, Txt, ZoneResolver};
use monban_milter::protocol::{Command, Family, Response};
use monban_milter::session::{FilterConfig, Network, QuarantineMode, Session, SigningRule, Step};

const NOW: u64 = 1_795_000_000;

fn zone(key: &SigningKey) -> ZoneResolver {
    let mut z = ZoneResolver::new();
    let mut txt =
        |n: &str, v: &str| z.insert(n, Record::Txt(Txt::new([v.as_bytes().to_vec()])), 300);
    txt("example.com", "v=spf1 ip4:192.0.2.0/24 -all");
    txt("_dmarc.example.com", "v=DMARC1; p=reject");
    txt("quarantined.example", "v=spf1 -all");
    txt("_dmarc.quarantined.example", "v=DMARC1; p=quarantine");
    txt(
        "s1._domainkey.example.com",
        &key.key_record().unwrap().to_string(),
    );
    z
}

fn config(key: Arc<SigningKey>) -> Arc<FilterConfig> {
    Arc::new(FilterConfig {
        trusted_networks: vec![Network::parse("10.0.0.0/8").unwrap()],
        signing: vec![SigningRule {
            sender: "*@example.com".into(),
            signer: SignerConfig::new("example.com", "s1", key),
        }],
        default_signer: None,
        enforce_reject: true,
        quarantine: QuarantineMode::Hold,
        tempfail_on_dns_error: true,
        allow_domains: Vec::new(),
        allow_networks: Vec::new(),
        optout_recipient_domains: Vec::new(),
        ..FilterConfig::new("mx.example.net")
    })
}

/// Drives a whole SMTP transaction; returns the end-of-message responses.
fn transaction(
    session: &mut Session,
    zone: &ZoneResolver,
    ip: &str,
    mail_from: &str,
    message: &str,
) -> Vec<Response> {
    let cmds = [
        Command::OptNeg {
            version: 6,
            actions: 0x1ff,
            protocol: 0x1f_ffff,
        },
        Command::Connect {
            hostname: "client".into(),
            family: Family::Inet(ip.parse().unwrap(), 25),
        },
        Command::Helo("client.example".into()),
        Command::Mail(vec![format!("<{mail_from}>")]),
        Command::Rcpt(vec!["<bob@example.net>".into()]),
        Command::Data,
    ];
    for c in cmds {
        let _ = session.command(c);
    }
    let (head, body) = message.split_once("\r\n\r\n").unwrap();
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            // Postfix passes folded lines joined by a bare LF.
            let last = fields.last_mut().unwrap();
            last.1.push('\n');
            last.1.push_str(line);
        } else {
            let (n, v) = line.split_once(':').unwrap();
            fields.push((n.into(), v.into()));
        }
    }
    for (name, value) in fields {
        let _ = session.command(Command::Header {
            name,
            value: value.into_bytes(),
        });
    }
    let _ = session.command(Command::EndOfHeaders);
    let _ = session.command(Command::Body(body.as_bytes().to_vec()));
    match session.command(Command::EndOfMessage) {
        Step::EndOfMessage => {}
        other => panic!("{other:?}"),
    }
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(session.end_of_message(zone))
        .responses
}

const MSG: &str = "From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nSubject: a folded\r\n\tsubject\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\nHello Bob.\r\n";

#[test]
fn optneg_asks_for_leading_space_and_header_actions() {
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let mut s = Session::new(config(key), NOW);
    let Step::Reply(r) = s.command(Command::OptNeg {
        version: 6,
        actions: 0x1ff,
        protocol: 0,
    }) else {
        panic!()
    };
    let Response::OptNeg {
        actions, protocol, ..
    } = r[0]
    else {
        panic!()
    };
    assert_eq!(actions, 0x01 | 0x10 | 0x20);
    assert_ne!(protocol & 0x10_0000, 0);
}

#[test]
fn outbound_is_signed_and_the_signature_verifies() {
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let zone = zone(&key);
    let mut s = Session::new(config(key), NOW);
    let out = transaction(&mut s, &zone, "10.1.2.3", "alice@example.com", MSG);
    let Response::InsertHeader {
        index: 0,
        name,
        value,
    } = &out[0]
    else {
        panic!("{out:?}")
    };
    assert_eq!(name, "DKIM-Signature");
    assert_eq!(out.last(), Some(&Response::Accept));
    // What Postfix would deliver: the new field on top, folded lines restored.
    let delivered = format!("DKIM-Signature:{value}\r\n{MSG}");
    let results = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(dkim::verify_message(
            delivered.as_bytes(),
            &zone,
            NOW + 10,
            DkimConfig::default(),
        ))
        .unwrap();
    assert_eq!(results[0].result, DkimResult::Pass, "{results:?}");
}

#[test]
fn inbound_pass_gets_one_authentication_results_field() {
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let zone = zone(&key);
    let signed_value = dkim::sign_message(
        MSG.as_bytes(),
        vec![SignerConfig::new("example.com", "s1", key.clone())],
        NOW,
    )
    .unwrap();
    let msg = format!(
        "Authentication-Results: mx.example.net; dmarc=pass header.from=example.com\r\nDKIM-Signature:{}\r\n{MSG}",
        signed_value[0]
    );
    let mut s = Session::new(config(key), NOW);
    let out = transaction(&mut s, &zone, "203.0.113.9", "alice@example.com", &msg);
    // The forged field claiming our authserv-id is deleted, ours inserted, accepted.
    assert_eq!(
        out[0],
        Response::ChangeHeader {
            index: 1,
            name: "Authentication-Results".into(),
            value: String::new()
        }
    );
    let Response::InsertHeader {
        index: 0,
        name,
        value,
    } = &out[1]
    else {
        panic!("{out:?}")
    };
    assert_eq!(name, "Authentication-Results");
    assert!(value.starts_with(" mx.example.net;"), "{value}");
    assert!(
        value.contains("dkim=pass") && value.contains("dmarc=pass"),
        "{value}"
    );
    assert_eq!(out.last(), Some(&Response::Accept));
}

#[test]
fn spoofed_reject_domain_is_refused_during_the_session() {
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let zone = zone(&key);
    let mut s = Session::new(config(key), NOW);
    let out = transaction(&mut s, &zone, "203.0.113.66", "ceo@example.com", MSG);
    let Some(Response::ReplyCode(code)) = out.last() else {
        panic!("{out:?}")
    };
    assert!(
        code.starts_with("550 5.7.1 ") && code.contains("example.com"),
        "{code}"
    );
}

#[test]
fn quarantine_uses_the_hold_action() {
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let zone = zone(&key);
    let mut s = Session::new(config(key), NOW);
    let msg = MSG.replace("alice@example.com", "alice@quarantined.example");
    let out = transaction(
        &mut s,
        &zone,
        "203.0.113.66",
        "alice@quarantined.example",
        &msg,
    );
    assert!(
        out.iter().any(|r| matches!(r, Response::Quarantine(_))),
        "{out:?}"
    );
    assert_eq!(out.last(), Some(&Response::Accept));
}

#[test]
fn dns_failure_is_a_tempfail_not_a_verdict() {
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    // An empty zone has no DMARC record: no verdict. A failing DMARC lookup must give 451.
    struct Failing;
    impl monban_dns::Resolver for Failing {
        async fn lookup(&self, name: &str, _: monban_dns::RecordType) -> monban_dns::Lookup {
            Err(monban_dns::LookupError::Timeout { name: name.into() })
        }
    }
    let mut s = Session::new(config(key), NOW);
    let cmds = [
        Command::Connect {
            hostname: "c".into(),
            family: Family::Inet("203.0.113.9".parse().unwrap(), 25),
        },
        Command::Mail(vec!["<alice@example.com>".into()]),
        Command::Header {
            name: "From".into(),
            value: b" alice@example.com".to_vec(),
        },
        Command::EndOfHeaders,
        Command::Body(b"hi\r\n".to_vec()),
    ];
    for c in cmds {
        let _ = s.command(c);
    }
    let _ = s.command(Command::EndOfMessage);
    let out = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(s.end_of_message(&Failing))
        .responses;
    let Some(Response::ReplyCode(code)) = out.last() else {
        panic!("{out:?}")
    };
    assert!(code.starts_with("451 4.7.5"), "{code}");
}

#[test]
fn networks_and_signing_patterns() {
    let n = Network::parse("192.0.2.0/24").unwrap();
    assert!(n.contains("192.0.2.200".parse().unwrap()));
    assert!(n.contains("::ffff:192.0.2.1".parse().unwrap()));
    assert!(!n.contains("192.0.3.1".parse().unwrap()));
    assert!(Network::parse("192.0.2.0/33").is_none());
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let rule = |p: &str| SigningRule {
        sender: p.into(),
        signer: SignerConfig::new("example.com", "s1", key.clone()),
    };
    assert!(rule("*@example.com").matches("Alice@Example.com"));
    assert!(!rule("*@example.com").matches("alice@sub.example.com"));
    assert!(rule("example.com").matches("alice@example.com"));
    assert!(rule("alice@example.com").matches("alice@example.com"));
    assert!(!rule("alice@example.com").matches("bob@example.com"));
    assert!(rule("*").matches("anyone@anywhere.example"));
}

/// Issue 10: a signer that could not be built was dropped with `.ok()` and the message
/// left unsigned without a word. Now it is tempfailed (or, when so configured,
/// accepted unsigned), and logged.
#[test]
fn unsignable_trusted_message_is_tempfailed_not_sent_unsigned() {
    use monban_milter::session::SignErrorAction;
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let zone = zone(&key);
    let no_from = "To: bob@example.net\r\nSubject: no author\r\n\r\nHello.\r\n";
    let mut s = Session::new(config(key.clone()), NOW);
    let out = transaction(&mut s, &zone, "10.1.2.3", "alice@example.com", no_from);
    let Some(Response::ReplyCode(code)) = out.last() else {
        panic!("{out:?}")
    };
    assert!(
        code.starts_with("451 4.7.0 the message cannot be signed"),
        "{code}"
    );
    let mut lenient = (*config(key)).clone();
    lenient.on_sign_error = SignErrorAction::Accept;
    let mut s = Session::new(Arc::new(lenient), NOW);
    let out = transaction(&mut s, &zone, "10.1.2.3", "alice@example.com", no_from);
    assert_eq!(out, vec![Response::Accept]);
}

/// Issue 10: the clock was read once per connection, so a long connection signed with
/// a stale t=. The time set before a message is the one it is signed with.
#[test]
fn signing_time_is_that_of_the_message_not_of_the_connection() {
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let zone = zone(&key);
    let mut s = Session::new(config(key), NOW);
    let later = NOW + 7_200;
    s.set_now(later);
    let out = transaction(&mut s, &zone, "10.1.2.3", "alice@example.com", MSG);
    let Response::InsertHeader { value, .. } = &out[0] else {
        panic!("{out:?}")
    };
    assert!(value.contains(&format!("t={later};")), "{value}");
}
