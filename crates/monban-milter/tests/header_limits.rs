//! Issue 9: the milter never judges part of a header. Each test drives a session
//! command by command, as Postfix does, at the exact limits (the header block of
//! `MAX_HEADER_BYTES`, `MAX_HEADER_FIELDS` fields), one under and one over, and with the
//! field that crosses the limit being a filler, the From field, a second From or a forged
//! Authentication-Results. At or under a limit the message is judged whole (a spoof of a
//! `p=reject` domain is refused by its DMARC policy, a legitimate message is accepted);
//! over it the message is refused, never accepted.

use std::sync::Arc;

use monban::dkim::{SignerConfig, SigningKey};
use monban::dmarc::Disposition;
use monban::message::{MAX_HEADER_BYTES, MAX_HEADER_FIELDS};
use monban_dns::{Record, Txt, ZoneResolver};
use monban_milter::protocol::{Command, Family, Response};
use monban_milter::session::{FilterConfig, Network, Refusal, Session, SigningRule, Step};

const NOW: u64 = 1_795_000_000;
/// example.com publishes p=reject and SPF for 192.0.2.0/24 only.
const SPOOFER: &str = "203.0.113.5";
const LEGIT: &str = "192.0.2.25";

fn zone() -> ZoneResolver {
    let mut z = ZoneResolver::new();
    let mut txt =
        |n: &str, v: &str| z.insert(n, Record::Txt(Txt::new([v.as_bytes().to_vec()])), 300);
    txt("example.com", "v=spf1 ip4:192.0.2.0/24 -all");
    txt("_dmarc.example.com", "v=DMARC1; p=reject");
    z
}

fn config(edit: impl FnOnce(&mut FilterConfig)) -> Arc<FilterConfig> {
    let mut c = FilterConfig::new("mx.example.net");
    c.trusted_networks = vec![Network::parse("10.0.0.0/8").unwrap()];
    edit(&mut c);
    Arc::new(c)
}

type Field = (String, Vec<u8>);

fn field(name: &str, value: &str) -> Field {
    (name.to_owned(), value.as_bytes().to_vec())
}

/// The bytes a field takes in the rebuilt header: `name:value` CRLF.
fn size(f: &Field) -> usize {
    f.0.len() + 1 + f.1.len() + 2
}

/// Fillers (`X-Filler` fields of up to 64 KiB, as Postfix passes them) before `tail`,
/// so that the whole header is exactly `total` bytes.
fn header_of(total: usize, tail: &[Field]) -> Vec<Field> {
    let tail_size: usize = tail.iter().map(size).sum();
    let mut rest = total - tail_size;
    let mut out = Vec::new();
    while rest > 0 {
        // "X-Filler:" + value + CRLF; keep the last one at least 12 bytes.
        let mut n = rest.min(64 * 1024);
        if rest - n > 0 && rest - n < 12 {
            n -= 12;
        }
        assert!(n >= 12, "cannot fill {rest}");
        out.push(("X-Filler".to_owned(), vec![b'a'; n - 11]));
        rest -= n;
    }
    out.extend_from_slice(tail);
    assert_eq!(out.iter().map(size).sum::<usize>(), total);
    out
}

/// What the session answered at the end of the header and at the end of the message.
struct Outcome {
    eoh: Vec<Response>,
    eom: Vec<Response>,
}

impl Outcome {
    fn final_reply(&self) -> Option<&str> {
        match self.eom.last() {
            Some(Response::ReplyCode(c)) => Some(c),
            _ => None,
        }
    }

    fn accepted(&self) -> bool {
        self.eom.last() == Some(&Response::Accept)
    }
}

/// One SMTP transaction; the end-of-header step is skipped when `eoh` is false (an MTA
/// that never sends it).
fn run(config: Arc<FilterConfig>, ip: &str, fields: &[Field], eoh: bool) -> Outcome {
    let mut s = Session::new(config, NOW);
    for c in [
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
        Command::Mail(vec!["<ceo@example.com>".into()]),
        Command::Rcpt(vec!["<bob@example.net>".into()]),
        Command::Data,
    ] {
        let _ = s.command(c);
    }
    for (name, value) in fields {
        match s.command(Command::Header {
            name: name.clone(),
            value: value.clone(),
        }) {
            // Postfix's offer includes SMFIP_NR_HDR: no reply to a header field,
            // whatever it holds (a problem is answered at the end of the header).
            Step::Reply(r) => assert_eq!(r, Vec::new()),
            other => panic!("{other:?}"),
        }
    }
    let eoh_sent = eoh;
    let eoh = if eoh {
        match s.command(Command::EndOfHeaders) {
            Step::Reply(r) => r,
            other => panic!("{other:?}"),
        }
    } else {
        Vec::new()
    };
    // A body only after the end of the header: without it, a body chunk is a protocol
    // error (the connection closes; `session::commands_out_of_order_close_the_connection`).
    if eoh_sent {
        let _ = s.command(Command::Body(b"Please pay the invoice.\r\n".to_vec()));
    }
    assert!(matches!(
        s.command(Command::EndOfMessage),
        Step::EndOfMessage
    ));
    let eom = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(s.end_of_message(&zone()))
        .responses;
    Outcome { eoh, eom }
}

fn from() -> Field {
    field("From", " Alice <alice@example.com>")
}

fn assert_dmarc_rejected(o: &Outcome) {
    let reply = o.final_reply().unwrap_or_default();
    assert!(
        reply.starts_with("550 5.7.1 rejected by the DMARC policy of example.com"),
        "{:?}",
        o.eom
    );
}

fn assert_refused_too_large(o: &Outcome) {
    for r in [&o.eoh, &o.eom] {
        let Some(Response::ReplyCode(code)) = r.last() else {
            panic!("{r:?}")
        };
        assert!(
            code.starts_with("552 5.3.4 the message header is too large"),
            "{code}"
        );
    }
    assert!(!o.accepted());
}

#[test]
fn regression_issue9_spoof_at_exactly_the_header_limit_is_judged() {
    let o = run(
        config(|_| {}),
        SPOOFER,
        &header_of(MAX_HEADER_BYTES, &[from()]),
        true,
    );
    assert_eq!(o.eoh, vec![Response::Continue]);
    assert_dmarc_rejected(&o);
}

#[test]
fn regression_issue9_spoof_one_byte_under_the_header_limit_is_judged() {
    let o = run(
        config(|_| {}),
        SPOOFER,
        &header_of(MAX_HEADER_BYTES - 1, &[from()]),
        true,
    );
    assert_dmarc_rejected(&o);
}

#[test]
fn regression_issue9_spoof_one_byte_over_the_header_limit_is_refused() {
    let o = run(
        config(|_| {}),
        SPOOFER,
        &header_of(MAX_HEADER_BYTES + 1, &[from()]),
        true,
    );
    assert_refused_too_large(&o);
}

/// The From field itself is the one that crosses the limit: it was silently dropped,
/// DMARC said permerror and the spoof was accepted.
#[test]
fn regression_issue9_from_field_crossing_the_limit_is_refused() {
    let fillers = header_of(MAX_HEADER_BYTES - 10, &[]);
    let mut fields = fillers;
    fields.push(from());
    let o = run(config(|_| {}), SPOOFER, &fields, true);
    assert_refused_too_large(&o);
}

/// The attack as reported: fillers make the header exactly 1 MiB, and the From that
/// follows was dropped unseen (DMARC permerror, disposition none, delivered).
#[test]
fn regression_issue9_from_after_an_exactly_full_header_is_refused() {
    let mut fields = header_of(MAX_HEADER_BYTES, &[]);
    fields.push(from());
    let o = run(config(|_| {}), SPOOFER, &fields, true);
    assert_refused_too_large(&o);
}

/// Legitimate mail at the limit is judged and delivered: the limit refuses only what it
/// cannot see whole.
#[test]
fn legitimate_message_at_the_limit_is_accepted() {
    let o = run(
        config(|_| {}),
        LEGIT,
        &header_of(MAX_HEADER_BYTES, &[from()]),
        true,
    );
    assert!(o.accepted(), "{:?}", o.eom);
    assert!(o.eom.iter().any(|r| matches!(
        r,
        Response::InsertHeader { name, value, .. }
            if name == "Authentication-Results" && value.contains("dmarc=pass")
    )));
}

/// A second From past the limit (it would have made DMARC pass on the first) and a
/// forged Authentication-Results past the limit (it would have stayed) are refused
/// with the whole message.
#[test]
fn regression_issue9_second_from_and_forged_results_past_the_limit_are_refused() {
    for hidden in [
        field("From", " ceo@example.com"),
        field(
            "Authentication-Results",
            " mx.example.net; dmarc=pass header.from=example.com",
        ),
    ] {
        let mut fields = header_of(MAX_HEADER_BYTES - size(&hidden) + 1, &[from()]);
        fields.push(hidden);
        let o = run(config(|_| {}), LEGIT, &fields, true);
        assert_refused_too_large(&o);
    }
}

#[test]
fn regression_issue9_field_count_limit_exact_and_over() {
    let mut fields: Vec<Field> = (1..MAX_HEADER_FIELDS)
        .map(|i| field("X-N", &format!(" {i}")))
        .collect();
    fields.push(from());
    assert_eq!(fields.len(), MAX_HEADER_FIELDS);
    assert_dmarc_rejected(&run(config(|_| {}), SPOOFER, &fields, true));
    fields.push(field("X-N", " one more"));
    assert_refused_too_large(&run(config(|_| {}), SPOOFER, &fields, true));
}

#[test]
fn oversized_header_can_be_tempfailed_instead() {
    let c = config(|c| c.oversized_header = Refusal::Tempfail);
    let o = run(
        c,
        SPOOFER,
        &header_of(MAX_HEADER_BYTES + 1, &[from()]),
        true,
    );
    let Some(Response::ReplyCode(code)) = o.eoh.last() else {
        panic!("{:?}", o.eoh)
    };
    assert!(code.starts_with("451 4.3.4 "), "{code}");
    assert!(!o.accepted());
}

/// Fields the MTA passes that cannot be header fields would split into other fields
/// when rebuilt (a value with a line break followed by a name: an injected From).
#[test]
fn regression_issue9_malformed_fields_are_rejected() {
    for bad in [
        field("Fr om", " a@example.com"),
        field("From:", " a@example.com"),
        field("", " a@example.com"),
        field("Fr\u{e9}m", " a@example.com"),
        field("Subject", " hi\nFrom: ceo@example.com"),
        field("Subject", " hi\rFrom: ceo@example.com"),
    ] {
        let o = run(config(|_| {}), LEGIT, &[bad.clone(), from()], true);
        let Some(Response::ReplyCode(code)) = o.eoh.last() else {
            panic!("{bad:?}: {:?}", o.eoh)
        };
        assert!(
            code.starts_with("550 5.6.0 the message header is malformed"),
            "{code}"
        );
        assert!(!o.accepted(), "{bad:?}");
    }
    // A folded value (line break, then white space) is a normal field.
    let folded = field("Subject", " a\n\tfolded subject");
    assert!(run(config(|_| {}), LEGIT, &[folded, from()], true).accepted());
    let c = config(|c| c.malformed_header = Refusal::Tempfail);
    let o = run(c, LEGIT, &[field("Fr om", " x"), from()], true);
    assert!(matches!(o.eoh.last(), Some(Response::ReplyCode(c)) if c.starts_with("451 4.6.0 ")));
}

/// RFC 5322 §3.6: exactly one From with one address. Without it there is no author to
/// judge: rejected by default, delivered with dmarc=permerror when so configured.
#[test]
fn regression_issue9_from_problems_are_rejected_by_default() {
    let cases: Vec<(&str, Vec<Field>)> = vec![
        ("no From", vec![field("Subject", " hi")]),
        (
            "two From fields",
            vec![from(), field("From", " bob@example.org")],
        ),
        (
            "two mailboxes",
            vec![field("From", " a@example.com, b@example.org")],
        ),
        ("unparseable", vec![field("From", " <<<")]),
    ];
    for (name, fields) in &cases {
        let o = run(config(|_| {}), LEGIT, fields, true);
        let reply = o.final_reply().unwrap_or_default();
        assert!(
            reply.starts_with("550 5.7.1 the message must have exactly one From field"),
            "{name}: {:?}",
            o.eom
        );
    }
    let lenient = config(|c| c.verify.dmarc.permerror_disposition = Disposition::None);
    for (name, fields) in &cases {
        let o = run(lenient.clone(), LEGIT, fields, true);
        assert!(o.accepted(), "{name}: {:?}", o.eom);
        assert!(
            o.eom.iter().any(|r| matches!(
                r,
                Response::InsertHeader { value, .. } if value.contains("dmarc=permerror")
            )),
            "{name}: {:?}",
            o.eom
        );
    }
}

/// An MTA that never sends the end-of-header step still gets the message judged.
#[test]
fn regression_issue9_missing_end_of_header_step_is_still_judged() {
    let o = run(config(|_| {}), SPOOFER, &[from()], false);
    assert_dmarc_rejected(&o);
    let o = run(
        config(|_| {}),
        SPOOFER,
        &header_of(MAX_HEADER_BYTES + 1, &[from()]),
        false,
    );
    assert!(matches!(o.final_reply(), Some(c) if c.starts_with("552 5.3.4 ")));
}

/// A trusted client's oversized header is refused too: never signed in part.
#[test]
fn trusted_oversized_header_is_not_signed() {
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let c = config(|c| {
        c.signing = vec![SigningRule {
            sender: "*@example.com".into(),
            signer: SignerConfig::new("example.com", "s1", key),
        }];
    });
    let o = run(
        c.clone(),
        "10.0.0.5",
        &header_of(MAX_HEADER_BYTES + 1, &[from()]),
        true,
    );
    assert_refused_too_large(&o);
    let o = run(c, "10.0.0.5", &header_of(MAX_HEADER_BYTES, &[from()]), true);
    assert!(
        o.eom
            .iter()
            .any(|r| matches!(r, Response::InsertHeader { name, .. } if name == "DKIM-Signature"))
    );
}
