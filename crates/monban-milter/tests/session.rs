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

/// A session after option negotiation with an MTA that waits for a reply to every
/// step (it offers no SMFIP_NR_*).
fn negotiated_answering_all(config: Arc<FilterConfig>) -> Session {
    let mut s = Session::new(config, NOW);
    let _ = s.command(Command::OptNeg {
        version: 6,
        actions: 0x1ff,
        protocol: 0x10_0000,
    });
    s
}

/// Drives a whole SMTP transaction; returns the end-of-message responses.
fn transaction(
    session: &mut Session,
    zone: &ZoneResolver,
    ip: &str,
    mail_from: &str,
    message: &str,
) -> Vec<Response> {
    transaction_to(session, zone, ip, mail_from, "bob@example.net", message)
}

/// The option negotiation Postfix sends.
fn postfix_offer() -> Command {
    Command::OptNeg {
        version: 6,
        actions: 0x1ff,
        protocol: 0x1f_ffff,
    }
}

/// The commands of a transaction up to DATA, as Postfix sends them.
fn envelope(ip: &str, mail_from: &str, rcpt: &str) -> [Command; 6] {
    [
        postfix_offer(),
        Command::Connect {
            hostname: "client".into(),
            family: Family::Inet(ip.parse().unwrap(), 25),
        },
        Command::Helo("client.example".into()),
        Command::Mail(vec![format!("<{mail_from}>")]),
        Command::Rcpt(vec![format!("<{rcpt}>")]),
        Command::Data,
    ]
}

/// [`transaction`] to a given recipient.
fn transaction_to(
    session: &mut Session,
    zone: &ZoneResolver,
    ip: &str,
    mail_from: &str,
    rcpt: &str,
    message: &str,
) -> Vec<Response> {
    for c in envelope(ip, mail_from, rcpt) {
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
        protocol: 0x10_0000,
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

/// An MTA that cannot give what monban needs is refused at option negotiation (the
/// connection closes and the MTA applies its default action), rather than a session
/// that would send actions never granted or read header values without their leading
/// space: an older protocol version, no right to add or change header fields (or to
/// quarantine, when that is the hold action), no SMFIP_HDR_LEADSPC. A second
/// negotiation is refused too.
#[test]
fn optneg_refuses_an_mta_that_cannot_give_what_monban_needs() {
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let offer = |version: u32, actions: u32, protocol: u32| {
        let mut s = Session::new(config(key.clone()), NOW);
        match s.command(Command::OptNeg {
            version,
            actions,
            protocol,
        }) {
            Step::Protocol(why) => why,
            other => panic!("{version} {actions:#x} {protocol:#x}: {other:?}"),
        }
    };
    assert!(offer(2, 0x1ff, 0x1f_ffff).contains("version 2"));
    assert!(offer(6, 0, 0x1f_ffff).contains("SMFIF_ADDHDRS, SMFIF_CHGHDRS, SMFIF_QUARANTINE"));
    assert!(offer(6, 0x1ff & !0x10, 0x1f_ffff).contains("SMFIF_CHGHDRS"));
    assert!(offer(6, 0x1ff, 0).contains("SMFIP_HDR_LEADSPC"));
    assert!(offer(6, 0x1ff, 0x0f_ffff).contains("SMFIP_HDR_LEADSPC"));
    // Without the hold action, quarantine is not needed.
    let mut s = Session::new(
        Arc::new(FilterConfig {
            quarantine: QuarantineMode::Header,
            ..(*config(key.clone())).clone()
        }),
        NOW,
    );
    let optneg = || Command::OptNeg {
        version: 6,
        actions: 0x11,
        protocol: 0x1f_ffff,
    };
    assert!(
        matches!(s.command(optneg()), Step::Reply(r) if matches!(r[0], Response::OptNeg { actions: 0x11, .. }))
    );
    assert!(matches!(s.command(optneg()), Step::Protocol(why) if why.contains("second time")));
}

/// The milter protocol's order (option negotiation, CONNECT, then per message MAIL,
/// RCPT, header fields, end of header, body, end of message): a command out of it
/// closes the connection (the MTA's default action, tempfail, applies), never a
/// message judged on part of what was sent. A trial got `dkim=pass dmarc=pass` and an
/// accept for a signed empty-bodied header followed by a body chunk sent without the
/// end of header (the chunk was dropped), and the same with the body first.
#[test]
fn commands_out_of_order_close_the_connection() {
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let header = || Command::Header {
        name: "From".into(),
        value: b" alice@example.com".to_vec(),
    };
    let body = || Command::Body(b"Please wire the money.\r\n".to_vec());
    let rcpt = || Command::Rcpt(vec!["<bob@example.net>".into()]);
    // The commands before the one refused, after option negotiation and CONNECT
    // (unless said), and what the refusal says.
    let cases: Vec<(Vec<Command>, Command, &str)> = vec![
        (
            vec![Command::Mail(vec!["<a@example.com>".into()]), header()],
            body(),
            "before the end of the header",
        ),
        (
            vec![Command::Mail(vec!["<a@example.com>".into()])],
            body(),
            "before the end of the header",
        ),
        (
            vec![
                Command::Mail(vec!["<a@example.com>".into()]),
                header(),
                Command::EndOfHeaders,
            ],
            header(),
            "after the end of the header",
        ),
        (
            vec![
                Command::Mail(vec!["<a@example.com>".into()]),
                header(),
                Command::EndOfHeaders,
            ],
            Command::EndOfHeaders,
            "a second time",
        ),
        (vec![], header(), "outside a message"),
        (vec![], rcpt(), "outside a message"),
        (vec![], Command::EndOfMessage, "outside a message"),
        (
            vec![
                Command::Mail(vec!["<a@example.com>".into()]),
                Command::Abort,
            ],
            header(),
            "outside a message",
        ),
    ];
    for (i, (before, refused, says)) in cases.into_iter().enumerate() {
        let mut s = Session::new(config(key.clone()), NOW);
        let mut cmds = vec![
            postfix_offer(),
            Command::Connect {
                hostname: "client".into(),
                family: Family::Inet("203.0.113.9".parse().unwrap(), 25),
            },
        ];
        cmds.extend(before);
        for c in cmds {
            assert!(!matches!(s.command(c), Step::Protocol(_)), "case {i}");
        }
        match s.command(refused) {
            Step::Protocol(why) => assert!(why.contains(says), "case {i}: {why}"),
            other => panic!("case {i}: {other:?}"),
        }
    }
    // Before option negotiation, or before CONNECT.
    let mut s = Session::new(config(key.clone()), NOW);
    assert!(
        matches!(s.command(Command::EndOfMessage), Step::Protocol(why) if why.contains("before option negotiation"))
    );
    let mut s = Session::new(config(key.clone()), NOW);
    let _ = s.command(postfix_offer());
    assert!(
        matches!(s.command(Command::Mail(vec!["<a@example.com>".into()])), Step::Protocol(why) if why.contains("before CONNECT"))
    );
}

/// With Postfix's offer, monban asks for no reply to CONNECT, HELO, each header and
/// each body chunk (SMFIP_NR_*), and to skip DATA and unknown commands; those steps then
/// get no reply. MAIL, RCPT and end-of-headers, which can refuse, keep theirs. An MTA
/// that offers none of it gets a reply to every step. A new SMTP connection on the same
/// milter connection keeps what was negotiated.
#[test]
fn steps_without_a_reply_are_negotiated_from_the_offer() {
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let steps = |offered: u32| {
        let mut s = Session::new(config(key.clone()), NOW);
        let Step::Reply(r) = s.command(Command::OptNeg {
            version: 6,
            actions: 0x1ff,
            protocol: offered,
        }) else {
            panic!()
        };
        let Response::OptNeg { protocol, .. } = r[0] else {
            panic!()
        };
        (s, protocol)
    };
    let replies = |s: &mut Session| {
        let mut got = Vec::new();
        for cmd in [
            Command::Connect {
                hostname: "client".into(),
                family: Family::Inet("192.0.2.1".parse().unwrap(), 25),
            },
            Command::Helo("client.example".into()),
            Command::Mail(vec!["<alice@example.com>".into()]),
            Command::Rcpt(vec!["<bob@example.net>".into()]),
            Command::Header {
                name: "From".into(),
                value: b" alice@example.com".to_vec(),
            },
            Command::Oversized {
                code: b'L',
                len: 1 << 20,
            },
            Command::EndOfHeaders,
            Command::Body(b"Hello.\r\n".to_vec()),
            Command::Oversized {
                code: b'B',
                len: 1 << 20,
            },
        ] {
            match s.command(cmd) {
                Step::Reply(r) => got.push(r.len()),
                other => panic!("{other:?}"),
            }
        }
        got
    };
    let (mut s, protocol) = steps(0x1f_ffff);
    assert_eq!(
        protocol,
        0x10_0000 | 0x1000 | 0x2000 | 0x80 | 0x8_0000 | 0x200 | 0x100
    );
    assert_eq!(replies(&mut s), [0, 0, 1, 1, 0, 0, 1, 0, 0]);
    assert!(matches!(s.command(Command::QuitNewConnection), Step::Reply(r) if r.is_empty()));
    assert_eq!(replies(&mut s), [0, 0, 1, 1, 0, 0, 1, 0, 0]);
    // Only what is offered is asked for.
    let (mut s, protocol) = steps(0x10_01ff);
    assert_eq!(protocol, 0x10_0000 | 0x80 | 0x100);
    assert_eq!(replies(&mut s), [1, 1, 1, 1, 0, 0, 1, 1, 1]);
    let (mut s, protocol) = steps(0x10_0000);
    assert_eq!(protocol, 0x10_0000);
    assert_eq!(replies(&mut s), [1; 9]);
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

/// Results under our authserv-id, our tag and quarantine fields in mail from a trusted
/// client or a SASL user are deleted too (they were kept: a local mailbox got
/// "verified" forgeries, and list software resending the message had them sealed),
/// whether the message is signed or passed on unsigned.
#[test]
fn forged_results_are_deleted_from_trusted_and_sasl_mail_too() {
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let zone = zone(&key);
    let forged = format!(
        "Authentication-Results: mx.example.net; dmarc=pass header.from=bank.test\r\n\
         X-Monban-Tag: clean\r\n\
         X-Monban-Quarantine: no\r\n\
         X-Monban-Quarantine: no, really\r\n{}",
        MSG.replace("alice@example.com", "ceo@bank.test")
    );
    let deletions = |out: &[Response]| -> Vec<(u32, String)> {
        out.iter()
            .filter_map(|r| match r {
                Response::ChangeHeader { index, name, value } if value.is_empty() => {
                    Some((*index, name.clone()))
                }
                _ => None,
            })
            .collect()
    };
    // The sender's X-Monban-Quarantine too (a trial's spoof carried "no" above
    // monban's own), the later copy first.
    let want = vec![
        (1, "Authentication-Results".to_owned()),
        (1, "X-Monban-Tag".to_owned()),
        (2, "X-Monban-Quarantine".to_owned()),
        (1, "X-Monban-Quarantine".to_owned()),
    ];
    // A trusted host, From a domain the signing table does not sign: passed on.
    let mut s = Session::new(config(key.clone()), NOW);
    let out = transaction(&mut s, &zone, "10.1.2.3", "ceo@bank.test", &forged);
    assert_eq!(deletions(&out), want, "{out:?}");
    assert_eq!(out.last(), Some(&Response::Accept));
    // Signed: the deletions and the signature.
    let mut s = Session::new(config(key), NOW);
    let signed = forged.replace("ceo@bank.test", "alice@example.com");
    let out = transaction(&mut s, &zone, "10.1.2.3", "alice@example.com", &signed);
    assert_eq!(deletions(&out), want, "{out:?}");
    assert!(
        out.iter()
            .any(|r| matches!(r, Response::InsertHeader { name, .. } if name == "DKIM-Signature")),
        "{out:?}"
    );
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
    // From a subdomain without a record: the policy is example.com's, and the reply
    // says so (it named the subdomain as the policy's owner).
    let mut s = Session::new(
        config(Arc::new(SigningKey::generate_ed25519().unwrap())),
        NOW,
    );
    let sub = MSG.replace("alice@example.com", "alice@sub.example.com");
    let out = transaction(&mut s, &zone, "203.0.113.66", "ceo@sub.example.com", &sub);
    assert!(
        matches!(out.last(), Some(Response::ReplyCode(c))
            if c == "550 5.7.1 rejected by the DMARC policy of example.com for sub.example.com"),
        "{out:?}"
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
        Command::OptNeg {
            version: 6,
            actions: 0x1ff,
            protocol: 0x1f_ffff,
        },
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
    // Two From fields (RFC 5322 §3.6: exactly one): not signed either.
    let two_from =
        "From: alice@example.com\r\nFrom: ceo@bank.example\r\nSubject: two\r\n\r\nHello.\r\n";
    let mut s = Session::new(config(key.clone()), NOW);
    let out = transaction(&mut s, &zone, "10.1.2.3", "alice@example.com", two_from);
    let Some(Response::ReplyCode(code)) = out.last() else {
        panic!("{out:?}")
    };
    assert!(
        code.starts_with("451 4.7.0 the message cannot be signed") && code.contains("2 From"),
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

/// The message as Postfix delivers it: the inserted fields on top (in the order the
/// insertions leave them), deleted ones gone.
fn delivered(out: &[Response], message: &str) -> String {
    let mut top: Vec<String> = Vec::new();
    for r in out {
        if let Response::InsertHeader { index, name, value } = r {
            top.insert(*index as usize, format!("{name}:{value}\r\n"));
        }
    }
    top.concat() + message
}

fn arc_of(message: &str, zone: &ZoneResolver) -> monban::arc::ArcOutcome {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(monban::arc::verify::verify_message(
            message.as_bytes(),
            zone,
            monban::arc::ArcConfig::default(),
        ))
        .unwrap()
}

/// A DKIM-signed copy of [`MSG`], and a configuration that seals with a new RSA key of
/// `domain` (selector `arc`, published in the zone) for `*@domain`.
fn arc_setup(domain: &str) -> (ZoneResolver, FilterConfig, String) {
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let arc_key = Arc::new(SigningKey::generate_rsa(2048).unwrap());
    let mut zone = zone(&key);
    zone.insert(
        &format!("arc._domainkey.{domain}"),
        Record::Txt(Txt::new(
            arc_key
                .key_record()
                .unwrap()
                .to_string()
                .as_bytes()
                .chunks(255)
                .map(<[u8]>::to_vec),
        )),
        300,
    );
    let mut config = (*config(key.clone())).clone();
    config.signing.push(SigningRule {
        sender: format!("*@{domain}"),
        signer: SignerConfig::new(domain, "arc", arc_key),
    });
    let signed = dkim::sign_message(
        MSG.as_bytes(),
        vec![SignerConfig::new("example.com", "s1", key)],
        NOW,
    )
    .unwrap();
    (
        zone,
        config,
        format!("DKIM-Signature:{}\r\n{MSG}", signed[0]),
    )
}

/// RFC 8617 §5.1 in the milter: inbound mail for a forwarding recipient is sealed once
/// accepted (ARC-Seal on top, then the AMS, the AAR with our results, our A-R); the
/// chain validates; mail that is refused is not sealed.
#[test]
fn inbound_for_a_forwarding_recipient_is_sealed() {
    let (zone, mut config, msg) = arc_setup("example.net");
    config.arc.recipients = vec!["lists.example.net".into(), "bob@example.net".into()];
    let config = Arc::new(config);

    let mut s = Session::new(config.clone(), NOW);
    let out = transaction(&mut s, &zone, "192.0.2.10", "alice@example.com", &msg);
    let names: Vec<&str> = out
        .iter()
        .filter_map(|r| match r {
            Response::InsertHeader { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        names,
        [
            "Authentication-Results",
            "ARC-Seal",
            "ARC-Message-Signature",
            "ARC-Authentication-Results"
        ]
    );
    assert_eq!(out.last(), Some(&Response::Accept));
    let message = delivered(&out, &msg);
    assert!(message.starts_with("ARC-Seal:"), "{message}");
    let arc = arc_of(&message, &zone);
    assert_eq!(arc.result, monban::arc::ArcResult::Pass, "{arc:?}");
    assert_eq!(arc.sealers(), ["example.net"]);
    let aar = arc.sets[0].results.as_ref().unwrap();
    assert_eq!(aar.authserv_id, "mx.example.net");
    assert!(
        aar.results
            .iter()
            .any(|r| r.method == "dmarc" && r.result == "pass")
    );

    // Another recipient: no seal. A forged From at a p=reject domain: refused, no seal.
    let mut s = Session::new(config.clone(), NOW);
    let out = transaction_to(
        &mut s,
        &zone,
        "192.0.2.10",
        "alice@example.com",
        "carol@example.org",
        &msg,
    );
    assert!(!delivered(&out, "").contains("ARC-Seal"));
    let mut s = Session::new(config, NOW);
    let out = transaction(&mut s, &zone, "203.0.113.9", "alice@example.com", MSG);
    assert!(matches!(out.last(), Some(Response::ReplyCode(c)) if c.starts_with("550")));
    assert!(!delivered(&out, "").contains("ARC-Seal"));
}

/// RFC 9989 §5.3 with RFC 8617: the bundled mailing-list sample, sealed by its list,
/// is refused at SMTP time unless the list's sealer is in trusted_arc_sealers; then it
/// is delivered with the trusted_forwarder override stated in the A-R.
#[test]
fn trusted_arc_sealer_lets_the_list_copy_in() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let zone = ZoneResolver::from_file(root.join("examples/example.zone")).unwrap();
    let sample = std::fs::read_to_string(root.join("examples/messages/via-mailing-list-arc.eml"))
        .unwrap()
        .replace("\r\n", "\n")
        .replace('\n', "\r\n");
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let base = (*config(key)).clone();
    let run = |trusted: &[&str]| {
        let mut c = base.clone();
        c.verify.trusted_arc_sealers = trusted.iter().map(|s| (*s).to_owned()).collect();
        let mut s = Session::new(Arc::new(c), 1_796_000_000);
        transaction(
            &mut s,
            &zone,
            "203.0.113.5",
            "lunch-club-bounces@example.org",
            &sample,
        )
    };
    let out = run(&[]);
    assert!(
        matches!(out.last(), Some(Response::ReplyCode(c)) if c.starts_with("550 5.7.1")),
        "{out:?}"
    );
    let out = run(&["example.org"]);
    assert_eq!(out.last(), Some(&Response::Accept), "{out:?}");
    let ar = delivered(&out, "");
    assert!(
        ar.contains("arc=pass (trusted forwarder example.org"),
        "{ar}"
    );
    assert!(
        ar.contains("dis=none") && ar.contains("polrec.p=reject"),
        "{ar}"
    );
}

/// The list's path through the milter: the message comes in (our A-R on top), the list
/// tags the subject and re-sends it from a trusted client; the milter seals it with the
/// results recorded on arrival (dmarc=pass, arc=none) and cv=none, and the chain
/// validates although the subject changed.
#[test]
fn outbound_list_mail_is_sealed_with_the_results_recorded_on_arrival() {
    let (zone, mut config, msg) = arc_setup("lists.example.net");
    config.arc.senders = vec!["*@lists.example.net".into()];
    let config = Arc::new(config);
    let mut s = Session::new(config.clone(), NOW);
    let inbound = transaction_to(
        &mut s,
        &zone,
        "192.0.2.10",
        "alice@example.com",
        "club@lists.example.net",
        &msg,
    );
    let arrived = delivered(&inbound, &msg);
    assert!(arrived.contains("dmarc=pass"), "{arrived}");

    let resent = arrived.replace("Subject: a folded", "Subject: [club] a folded");
    let mut s = Session::new(config, NOW);
    let out = transaction_to(
        &mut s,
        &zone,
        "10.0.0.5",
        "club-bounces@lists.example.net",
        "bob@example.net",
        &resent,
    );
    assert_eq!(out.last(), Some(&Response::Accept), "{out:?}");
    let message = delivered(&out, &resent);
    let arc = arc_of(&message, &zone);
    assert_eq!(arc.result, monban::arc::ArcResult::Pass, "{arc:?}");
    assert_eq!(arc.sets[0].cv, monban::arc::ChainValidation::None);
    let aar = arc.sets[0].results.as_ref().unwrap();
    assert!(
        aar.results
            .iter()
            .any(|r| r.method == "dmarc" && r.result == "pass"),
        "{aar:?}"
    );
}

/// `dkim2 = true`: inbound DKIM2 is verified with the session's envelope; the copy for
/// the recipient it was signed for passes, the same copy to another recipient does not.
#[test]
fn dkim2_is_verified_with_the_envelope() {
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let zone = zone(&key);
    let mut c = (*config(key.clone())).clone();
    c.verify.dkim2 = Some(monban::dkim2::Dkim2Config::default());
    let config = Arc::new(c);
    let (headers, body) = dkim::split_message(MSG.as_bytes()).unwrap();
    let lines = monban::dkim2::sign(
        &headers,
        &body,
        &monban::dkim2::Dkim2SignConfig {
            domain: "example.com".into(),
            selector: "s1".into(),
            key,
            mail_from: "alice@example.com".into(),
            rcpt_to: vec!["bob@example.net".into()],
            nonce: None,
            flags: Vec::new(),
            recipe: None,
        },
        NOW,
    )
    .unwrap();
    let msg = format!("{lines}{MSG}");
    let mut s = Session::new(config.clone(), NOW);
    let out = transaction(&mut s, &zone, "192.0.2.10", "alice@example.com", &msg);
    let ar = delivered(&out, "");
    assert!(ar.contains("dkim2=pass header.d=example.com"), "{ar}");
    let mut s = Session::new(config, NOW);
    let out = transaction_to(
        &mut s,
        &zone,
        "192.0.2.10",
        "alice@example.com",
        "carol@example.org",
        &msg,
    );
    let ar = delivered(&out, "");
    assert!(ar.contains("dkim2=permerror"), "{ar}");
}

/// RFC 5617 §4.2.2 `dkim=discardable`: recorded by default, refused (never dropped in
/// silence) with `adsp_discard = "reject"`.
#[test]
fn adsp_discard_is_recorded_or_refused() {
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let mut z = zone(&key);
    z.insert(
        "_adsp._domainkey.example.com",
        Record::Txt(Txt::new([b"dkim=discardable".to_vec()])),
        300,
    );
    // Unsigned, from an address SPF allows: DMARC passes, ADSP says discard.
    let mut session = Session::new(config(key.clone()), NOW);
    let out = transaction(&mut session, &z, "192.0.2.25", "alice@example.com", MSG);
    let ar = match &out[0] {
        Response::InsertHeader { value, .. } => value.clone(),
        r => panic!("{r:?}"),
    };
    assert!(ar.contains("dkim-adsp=discard"), "{ar}");
    assert!(ar.contains("dmarc=pass"), "{ar}");
    assert_eq!(out.last(), Some(&Response::Accept));

    let mut c = (*config(key)).clone();
    c.adsp_discard = monban_milter::connect::ConnectAction::Reject;
    let mut session = Session::new(Arc::new(c), NOW);
    let out = transaction(&mut session, &z, "192.0.2.25", "alice@example.com", MSG);
    match out.last() {
        Some(Response::ReplyCode(r)) => assert!(
            r.starts_with("550 5.7.1 the ADSP policy of example.com (dkim=discardable)"),
            "{r}"
        ),
        r => panic!("{r:?}"),
    }
}

/// With lists configured, CONNECT asks for the checks ([`Step::Connect`]), except for
/// loopback and trusted clients; a listed client gets the refusal.
#[test]
fn connect_checks_refuse_listed_clients() {
    use monban::dnsbl::{ListKind, Zone};
    use monban_milter::connect::{ConnectAction, ListRule};
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let mut z = zone(&key);
    z.insert(
        "66.113.0.203.bl.example",
        Record::A("127.0.0.2".parse().unwrap()),
        300,
    );
    let mut c = (*config(key)).clone();
    c.connect.lists = vec![ListRule {
        zone: Zone::parse("bl.example", ListKind::Block).unwrap(),
        action: ConnectAction::Reject,
        weight: 0,
        message: None,
    }];
    let c = Arc::new(c);
    let connect = |ip: &str| Command::Connect {
        hostname: "client".into(),
        family: Family::Inet(ip.parse().unwrap(), 25),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    for exempt in ["127.0.0.1", "::1", "10.1.2.3"] {
        let mut s = negotiated_answering_all(c.clone());
        assert!(
            matches!(s.command(connect(exempt)), Step::Reply(_)),
            "{exempt}"
        );
    }
    let refusal = "554 5.7.1 203.0.113.66 is listed on bl.example (127.0.0.2)";
    let mail = || Command::Mail(vec!["<a@example.org>".into()]);
    let mut s = negotiated_answering_all(c.clone());
    assert!(matches!(s.command(connect("203.0.113.66")), Step::Connect));
    // Decided at CONNECT, said at MAIL FROM (SASL is known only then).
    assert_eq!(rt.block_on(s.connect_checks(&z)), vec![Response::Continue]);
    assert!(matches!(
        s.command(Command::Helo("client.example".into())),
        Step::Reply(r) if r == vec![Response::Continue]
    ));
    match s.command(mail()) {
        Step::Reply(r) => assert_eq!(r, vec![Response::ReplyCode(refusal.into())]),
        other => panic!("{other:?}"),
    }
    assert!(s.take_refusal_event().is_some());
    assert!(s.take_refusal_event().is_none());
    // The same client, logged in: never refused for where it connects from.
    let mut s = negotiated_answering_all(c.clone());
    assert!(matches!(s.command(connect("203.0.113.66")), Step::Connect));
    let _ = rt.block_on(s.connect_checks(&z));
    let _ = s.command(Command::Macro {
        for_command: b'M',
        pairs: vec![("{auth_authen}".into(), "alice".into())],
    });
    assert!(matches!(s.command(mail()), Step::Reply(r) if r == vec![Response::Continue]));
    // Not listed: go on.
    let mut s = negotiated_answering_all(c);
    assert!(matches!(s.command(connect("203.0.113.67")), Step::Connect));
    assert_eq!(rt.block_on(s.connect_checks(&z)), vec![Response::Continue]);
    assert!(matches!(s.command(mail()), Step::Reply(r) if r == vec![Response::Continue]));
}

/// Every accepted recipient's domain counts for the opt-out: a spoofed message to
/// 1,000 recipients of 1,000 domains, only the last of which opted out, is delivered
/// (not rejected); the 1,001st recipient is deferred, so no domain goes unseen.
#[test]
fn opted_out_recipients_never_share_a_transaction_with_others() {
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let zone = zone(&key);
    let max = monban_milter::session::MAX_RECIPIENTS;
    let cfg = |optout: &str| {
        Arc::new(FilterConfig {
            optout_recipient_domains: vec![optout.into()],
            ..(*config(key.clone())).clone()
        })
    };
    // Recipients r@d0.example ... r@d{max-1}.example, then late@late.example; the
    // replies deferred (452 4.5.3) by domain, and the answer to the message.
    let run = |optout: &str| {
        let mut s = Session::new(cfg(optout), NOW);
        let _ = s.command(Command::OptNeg {
            version: 6,
            actions: 0x1ff,
            protocol: 0x1f_ffff,
        });
        let _ = s.command(Command::Connect {
            hostname: "client".into(),
            family: Family::Inet("203.0.113.66".parse().unwrap(), 25),
        });
        let _ = s.command(Command::Helo("client.example".into()));
        let _ = s.command(Command::Mail(vec!["<ceo@example.com>".into()]));
        let mut deferred = Vec::new();
        let recipients = (0..max)
            .map(|i| format!("r@d{i}.example"))
            .chain(["late@late.example".to_owned()]);
        for r in recipients {
            if let Step::Reply(reply) = s.command(Command::Rcpt(vec![format!("<{r}>")]))
                && matches!(&reply[..], [Response::ReplyCode(c)] if c.starts_with("452 4.5.3"))
            {
                deferred.push(r.rsplit_once('@').unwrap().1.to_owned());
            }
        }
        let _ = s.command(Command::Data);
        let (head, body) = MSG.split_once("\r\n\r\n").unwrap();
        for line in head.split("\r\n").filter(|l| !l.starts_with([' ', '\t'])) {
            let (name, value) = line.split_once(':').unwrap();
            let _ = s.command(Command::Header {
                name: name.into(),
                value: value.as_bytes().to_vec(),
            });
        }
        let _ = s.command(Command::EndOfHeaders);
        let _ = s.command(Command::Body(body.as_bytes().to_vec()));
        assert!(matches!(
            s.command(Command::EndOfMessage),
            Step::EndOfMessage
        ));
        let out = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(s.end_of_message(&zone))
            .responses;
        let rejected = out
            .iter()
            .any(|r| matches!(r, Response::ReplyCode(c) if c.starts_with("550 5.7.1")));
        (deferred, rejected)
    };
    // The first recipient's domain opted out: every other recipient is deferred to
    // another transaction, and the opted-out one gets the forged message.
    let (deferred, rejected) = run("d0.example");
    assert_eq!(deferred.len(), max, "{deferred:?}");
    assert!(!rejected);
    // An opted-out recipient among others: it is deferred, and the others' message is
    // refused by the policy (one opted-out address lifted it for all of them).
    let (deferred, rejected) = run(&format!("d{}.example", max - 1));
    assert_eq!(deferred, [format!("d{}.example", max - 1)]);
    assert!(rejected);
    // Past the bound the next recipient is deferred whatever its domain.
    let (deferred, rejected) = run("late.example");
    assert_eq!(deferred, ["late.example"]);
    assert!(rejected);
}

/// A sender or recipient address longer than [`MAX_ADDRESS`] is refused (501), not
/// kept: a trial held 2.1 GB with 1,000 recipients of 1 MiB each on one connection.
/// One at the limit is taken.
#[test]
fn addresses_over_the_length_limit_are_refused() {
    use monban_milter::session::MAX_ADDRESS;
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let mut s = Session::new(config(key), NOW);
    for c in [
        postfix_offer(),
        Command::Connect {
            hostname: "client".into(),
            family: Family::Inet("203.0.113.9".parse().unwrap(), 25),
        },
    ] {
        let _ = s.command(c);
    }
    let address = |len: usize| format!("<{}@example.com>", "a".repeat(len - "@example.com".len()));
    let reply = |s: &mut Session, c: Command| match s.command(c) {
        Step::Reply(r) => r,
        other => panic!("{other:?}"),
    };
    let long_mail = reply(&mut s, Command::Mail(vec![address(MAX_ADDRESS + 1)]));
    assert!(
        matches!(&long_mail[..], [Response::ReplyCode(c)] if c.starts_with("501 5.1.7 ")),
        "{long_mail:?}"
    );
    assert_eq!(
        reply(&mut s, Command::Mail(vec![address(MAX_ADDRESS)])),
        [Response::Continue]
    );
    let long_rcpt = reply(&mut s, Command::Rcpt(vec![address(MAX_ADDRESS + 1)]));
    assert!(
        matches!(&long_rcpt[..], [Response::ReplyCode(c)] if c.starts_with("501 5.1.3 ")),
        "{long_rcpt:?}"
    );
    assert_eq!(
        reply(&mut s, Command::Rcpt(vec![address(MAX_ADDRESS)])),
        [Response::Continue]
    );
    // A HELO over MAX_HELO is an invalid name (not kept): with helo_invalid = reject,
    // the refusal given at MAIL says why.
    let mut c = (*config(Arc::new(SigningKey::generate_ed25519().unwrap()))).clone();
    c.connect.helo_invalid = monban_milter::connect::ConnectAction::Reject;
    let mut s = Session::new(Arc::new(c), NOW);
    for cmd in [
        postfix_offer(),
        Command::Connect {
            hostname: "client".into(),
            family: Family::Inet("203.0.113.9".parse().unwrap(), 25),
        },
        Command::Helo(format!(
            "{}.example",
            "h".repeat(monban_milter::session::MAX_HELO)
        )),
    ] {
        let _ = s.command(cmd);
    }
    let refused = reply(&mut s, Command::Mail(vec!["<a@example.com>".into()]));
    assert!(
        matches!(&refused[..], [Response::ReplyCode(c)] if c.starts_with("550 5.7.1 the HELO name is longer than 1024 octets")),
        "{refused:?}"
    );
}

/// Recipients past the bound are deferred (452 4.5.3), never left out of the checks.
#[test]
fn recipients_past_the_bound_are_deferred() {
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let mut session = Session::new(config(key), 1_795_000_000);
    let _ = session.command(Command::OptNeg {
        version: 6,
        actions: 0x1ff,
        protocol: 0x1f_ffff,
    });
    let _ = session.command(Command::Connect {
        hostname: "client".into(),
        family: Family::Inet("203.0.113.9".parse().unwrap(), 25),
    });
    let _ = session.command(Command::Mail(vec!["<a@example.com>".into()]));
    let max = monban_milter::session::MAX_RECIPIENTS;
    for i in 0..max {
        match session.command(Command::Rcpt(vec![format!("<r{i}@example.net>")])) {
            Step::Reply(r) => assert!(
                !r.iter().any(|x| matches!(x, Response::ReplyCode(_))),
                "{i}: {r:?}"
            ),
            other => panic!("{other:?}"),
        }
    }
    match session.command(Command::Rcpt(vec!["<late@example.net>".into()])) {
        Step::Reply(r) => assert!(
            matches!(&r[..], [Response::ReplyCode(c)] if c.starts_with("452 4.5.3")),
            "{r:?}"
        ),
        other => panic!("{other:?}"),
    }
}

/// What runs off the runtime's workers: the end of a large header, a large body chunk,
/// and the end of a message whose header was never ended; not the end of a usual header
/// nor the end-of-message command after it (the server hands the end of the message
/// over as a whole).
#[test]
fn only_costly_steps_are_heavy() {
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let mut s = Session::new(config(key), NOW);
    let header = Command::Header {
        name: "From".into(),
        value: b" alice@example.com".to_vec(),
    };
    for c in envelope("192.0.2.1", "alice@example.com", "bob@example.net")
        .into_iter()
        .chain([header])
    {
        assert!(!s.is_heavy(&c), "{c:?}");
        let _ = s.command(c);
    }
    assert!(
        s.is_heavy(&Command::EndOfMessage),
        "the header was never ended"
    );
    assert!(!s.is_heavy(&Command::EndOfHeaders), "a small header");
    // A large header (under the limit): its end is heavy.
    for i in 0..40 {
        let _ = s.command(Command::Header {
            name: format!("X-Filler-{i}"),
            value: format!(" {}", "y".repeat(990)).into_bytes(),
        });
    }
    assert!(s.is_heavy(&Command::EndOfHeaders), "a 40 KB header");
    let _ = s.command(Command::EndOfHeaders);
    assert!(!s.is_heavy(&Command::Body(vec![b'x'; 1000])));
    assert!(s.is_heavy(&Command::Body(vec![b'x'; 64 * 1024])));
    assert!(!s.is_heavy(&Command::EndOfMessage), "the header was ended");
}

/// The end of a message that is only signed runs where the session runs (the server
/// hands every other end of message to the blocking pool): a trusted client's message
/// with one signer; not an inbound message (verified), not a message refused at its
/// header, and not before the header ended.
#[test]
fn only_a_signing_end_stays_on_the_session() {
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let run_to_body_with = |key: Arc<SigningKey>, ip: &str, from_header: &str| {
        let mut s = Session::new(config(key), NOW);
        for c in envelope(ip, "alice@example.com", "bob@example.net") {
            let _ = s.command(c);
        }
        let _ = s.command(Command::Header {
            name: "From".into(),
            value: from_header.as_bytes().to_vec(),
        });
        assert!(!s.end_only_signs(), "the header has not ended");
        let _ = s.command(Command::EndOfHeaders);
        let _ = s.command(Command::Body(b"Hello.\r\n".to_vec()));
        s
    };
    let run_to_body = |ip: &str, from_header: &str| run_to_body_with(key.clone(), ip, from_header);
    // Trusted (10/8) and a signing rule for the sender: signed only.
    assert!(run_to_body("10.1.2.3", " alice@example.com").end_only_signs());
    // RSA: quick up to 2,048 bits; a larger key's signature goes to the blocking pool.
    for (bits, light) in [(2048, true), (3072, false)] {
        let rsa = Arc::new(SigningKey::generate_rsa(bits).unwrap());
        let s = run_to_body_with(rsa, "10.1.2.3", " alice@example.com");
        assert_eq!(s.end_only_signs(), light, "RSA-{bits}");
    }
    // From outside: verified.
    assert!(!run_to_body("192.0.2.1", " alice@example.com").end_only_signs());
    // A trusted client whose header cannot be signed (no From): refused or answered
    // as on_sign_error says, not signed.
    let mut s = Session::new(config(key.clone()), NOW);
    for c in envelope("10.1.2.3", "alice@example.com", "bob@example.net") {
        let _ = s.command(c);
    }
    let _ = s.command(Command::Header {
        name: "Subject".into(),
        value: b" no author".to_vec(),
    });
    let _ = s.command(Command::EndOfHeaders);
    assert!(!s.end_only_signs());
}
