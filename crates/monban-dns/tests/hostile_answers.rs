//! `HickoryResolver` against a DNS server that lies: a scripted server on 127.0.0.1
//! answers each query with a reply written by the test (records of other names, CNAME
//! loops and long chains, repeated records, names that monban's form cannot hold), as a
//! hostile zone, or a forwarder passing a hostile zone's replies on, would.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::rdata::{CNAME, MX, SOA, TXT};
use hickory_resolver::proto::rr::{Name, RData, Record as HRecord, RecordType as HType};
use monban_dns::{HickoryConfig, HickoryResolver, LookupError, Record, RecordType, Resolver};
use tokio::net::UdpSocket;

/// What the server puts in a reply to (name, type): answer, authority and additional
/// sections, and the response code.
#[derive(Default)]
struct Reply {
    answers: Vec<HRecord>,
    authorities: Vec<HRecord>,
    additionals: Vec<HRecord>,
    code: Option<ResponseCode>,
}

type Script = dyn Fn(&str, HType) -> Reply + Send + Sync;

/// Serves `script` over UDP on an ephemeral port of 127.0.0.1 until the test ends.
async fn serve(script: Arc<Script>) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let Some(q) = query.queries.first().cloned() else {
                continue;
            };
            let name = q
                .name()
                .to_ascii()
                .trim_end_matches('.')
                .to_ascii_lowercase();
            let reply = script(&name, q.query_type());
            let mut m = Message::new(
                query.metadata.id,
                MessageType::Response,
                query.metadata.op_code,
            );
            m.metadata.recursion_desired = query.metadata.recursion_desired;
            m.metadata.recursion_available = true;
            m.metadata.authoritative = true;
            m.metadata.response_code = reply.code.unwrap_or(ResponseCode::NoError);
            m.add_query(q);
            m.insert_answers(reply.answers);
            m.insert_authorities(reply.authorities);
            m.insert_additionals(reply.additionals);
            if let Ok(bytes) = m.to_vec() {
                let _ = socket.send_to(&bytes, from).await;
            }
        }
    });
    addr
}

fn resolver(addr: SocketAddr) -> HickoryResolver {
    HickoryResolver::new(&HickoryConfig {
        servers: vec![addr],
        timeout: Duration::from_secs(2),
        attempts: 1,
    })
    .unwrap()
}

fn name(s: &str) -> Name {
    Name::from_ascii(format!("{s}.")).unwrap()
}

fn txt(owner: &str, text: &str) -> HRecord {
    HRecord::from_rdata(name(owner), 300, RData::TXT(TXT::new(vec![text.into()])))
}

fn cname(owner: &str, target: &str) -> HRecord {
    HRecord::from_rdata(name(owner), 300, RData::CNAME(CNAME(name(target))))
}

fn soa() -> HRecord {
    HRecord::from_rdata(
        name("example"),
        300,
        RData::SOA(SOA::new(
            name("ns.example"),
            name("hostmaster.example"),
            1,
            3600,
            600,
            86400,
            300,
        )),
    )
}

/// NXDOMAIN, with the SOA a real one carries.
fn nxdomain() -> Reply {
    Reply {
        code: Some(ResponseCode::NXDomain),
        authorities: vec![soa()],
        ..Reply::default()
    }
}

fn texts(lookup: &monban_dns::Lookup) -> Vec<String> {
    lookup
        .as_ref()
        .map(|a| {
            a.records
                .iter()
                .filter_map(|r| match r {
                    Record::Txt(t) => Some(String::from_utf8_lossy(&t.joined()).into_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn is_servfail(lookup: &monban_dns::Lookup) -> bool {
    matches!(lookup, Err(LookupError::ServFail { .. }))
}

/// RFC 2181 §5.4.1, RFC 1034 §4.3.2: a record owned by another name is no answer. The
/// reply to `victim.example TXT` carries `evil.example`'s `+all` in the answer section
/// and the real record only in the additional section: that is no answer to the
/// question (a temporary error), never `+all` as victim.example's SPF record.
#[tokio::test]
async fn rfc2181_5_4_1_records_of_another_name_are_no_answer() {
    let addr = serve(Arc::new(|n: &str, _| match n {
        "victim.example" => Reply {
            answers: vec![txt("evil.example", "v=spf1 +all")],
            additionals: vec![txt("victim.example", "v=spf1 -all")],
            ..Reply::default()
        },
        // The answer and, beside it, a record of another name.
        "mixed.example" => Reply {
            answers: vec![
                txt("mixed.example", "v=spf1 -all"),
                txt("evil.example", "v=spf1 +all"),
            ],
            ..Reply::default()
        },
        _ => nxdomain(),
    }))
    .await;
    let r = resolver(addr);
    let victim = r.lookup("victim.example", RecordType::Txt).await;
    assert!(is_servfail(&victim), "{victim:?}");
    let mixed = r.lookup("mixed.example", RecordType::Txt).await;
    assert_eq!(texts(&mixed), ["v=spf1 -all"]);
}

/// RFC 1034 §3.6.2: the records of an alias are those of the end of its chain, and the
/// chain must start at the name asked: a TXT at an unrelated name in the same answer is
/// left out.
#[tokio::test]
async fn rfc1034_3_6_2_records_at_the_end_of_the_chain_answer() {
    let addr = serve(Arc::new(|n: &str, _| match n {
        "alias.example" => Reply {
            answers: vec![
                cname("alias.example", "target.example"),
                txt("target.example", "v=DMARC1; p=reject"),
                txt("other.example", "v=DMARC1; p=none"),
            ],
            ..Reply::default()
        },
        _ => nxdomain(),
    }))
    .await;
    let r = resolver(addr);
    let alias = r.lookup("alias.example", RecordType::Txt).await;
    assert_eq!(texts(&alias), ["v=DMARC1; p=reject"]);
}

/// RFC 2181 §5: a set holds no record twice. A reply repeating its one SPF record must
/// not read as two SPF records (RFC 7208 §4.5 would make that a permerror, and two
/// DMARC records would read as none).
#[tokio::test]
async fn rfc2181_5_repeated_records_are_one() {
    let addr = serve(Arc::new(|_: &str, _| Reply {
        answers: vec![
            txt("dup.example", "v=spf1 -all"),
            txt("dup.example", "v=spf1 -all"),
            txt("dup.example", "other"),
        ],
        ..Reply::default()
    }))
    .await;
    let r = resolver(addr);
    let dup = r.lookup("dup.example", RecordType::Txt).await;
    assert_eq!(texts(&dup), ["v=spf1 -all", "other"]);
}

/// A CNAME loop, a name that is its own alias, and a chain longer than the resolver
/// follows (one hop per reply, or many in one reply) are failures to resolve
/// (temporary errors), not "no such record": read as "no record", a p=reject policy
/// behind them would not be applied. A real end of a chain without the type asked
/// stays "no data", with or without an SOA in the reply.
#[tokio::test]
async fn rfc1034_3_6_2_cname_loops_and_long_chains_are_errors() {
    let addr = serve(Arc::new(|n: &str, t| {
        let hop = |from: &str, to: &str| Reply {
            answers: vec![cname(from, to)],
            ..Reply::default()
        };
        match n {
            "loop-a.example" => hop("loop-a.example", "loop-b.example"),
            "loop-b.example" => hop("loop-b.example", "loop-a.example"),
            "self.example" => hop("self.example", "self.example"),
            "whole.example" | "whole-b.example" => Reply {
                answers: vec![
                    cname("whole.example", "whole-b.example"),
                    cname("whole-b.example", "whole.example"),
                ],
                ..Reply::default()
            },
            // c0 -> c1 -> ... -> c12 -> end, one hop per reply.
            n if n.starts_with('c') && n.ends_with(".chain.example") => {
                let i: usize = n[1..n.len() - ".chain.example".len()].parse().unwrap();
                if i < 12 {
                    hop(n, &format!("c{}.chain.example", i + 1))
                } else {
                    hop(n, "end.example")
                }
            }
            "end.example" if t == HType::TXT => Reply {
                answers: vec![txt("end.example", "v=spf1 -all")],
                ..Reply::default()
            },
            // An alias of a name that exists without the type asked.
            "nodata-alias.example" => hop("nodata-alias.example", "nodata.example"),
            "bare-alias.example" => hop("bare-alias.example", "bare.example"),
            "nodata.example" => Reply {
                authorities: vec![soa()],
                ..Reply::default()
            },
            // "No data" without the SOA a real one carries.
            "bare.example" => Reply::default(),
            _ => nxdomain(),
        }
    }))
    .await;
    let r = resolver(addr);
    for looping in [
        "loop-a.example",
        "self.example",
        "whole.example",
        "c0.chain.example",
    ] {
        let got = r.lookup(looping, RecordType::Txt).await;
        assert!(is_servfail(&got), "{looping}: {got:?}");
    }
    // A chain hickory follows to its end is read through.
    let short = r.lookup("c8.chain.example", RecordType::Txt).await;
    assert_eq!(texts(&short), ["v=spf1 -all"]);
    for nodata in ["nodata-alias.example", "bare-alias.example", "bare.example"] {
        let got = r.lookup(nodata, RecordType::Txt).await;
        assert!(
            matches!(got, Err(LookupError::NoData { .. })),
            "{nodata}: {got:?}"
        );
    }
}

/// RFC 2181 §11: a label may hold any octet. A name taken from an answer that monban's
/// form (UTF-8 labels joined by dots) cannot hold as it is, a label with a dot inside or
/// one that is not UTF-8, is left out, never read as another name (`evil\.example.`, one
/// label, is not `evil.example`).
#[tokio::test]
async fn rfc2181_11_names_are_not_changed_into_others() {
    let addr = serve(Arc::new(|n: &str, _| {
        let mx = |pref: u16, target: Name| {
            HRecord::from_rdata(name(n), 300, RData::MX(MX::new(pref, target)))
        };
        let dotted = Name::from_labels(vec![b"evil.example".to_vec()]).unwrap();
        let binary = Name::from_labels(vec![b"\xff\xfe".to_vec(), b"example".to_vec()]).unwrap();
        Reply {
            answers: vec![mx(10, dotted), mx(20, binary), mx(30, name("mail.example"))],
            ..Reply::default()
        }
    }))
    .await;
    let r = resolver(addr);
    let got = r.lookup("odd.example", RecordType::Mx).await.unwrap();
    let exchanges: Vec<&str> = got
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Mx { exchange, .. } => Some(exchange.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(exchanges, ["mail.example"]);
}

/// "No data" without an SOA is looked at again (a CNAME chain hickory stopped following
/// ends that way); when that second look gets no answer, the lookup is a temporary
/// error, not a "no data" a loop may have made. A real end of chain stays "no data".
#[tokio::test]
async fn no_data_without_soa_that_cannot_be_checked_is_temporary() {
    let script: Arc<Script> = Arc::new(|name: &str, qtype: HType| match (name, qtype) {
        ("unsure.example", HType::CNAME) => Reply {
            code: Some(ResponseCode::ServFail),
            ..Reply::default()
        },
        _ => Reply::default(),
    });
    let r = resolver(serve(script).await);
    let unsure = r.lookup("unsure.example", RecordType::Txt).await;
    assert!(
        matches!(&unsure, Err(LookupError::ServFail { detail, .. }) if detail.contains("got no answer")),
        "{unsure:?}"
    );
    let plain = r.lookup("plain.example", RecordType::Txt).await;
    assert!(
        matches!(plain, Err(LookupError::NoData { .. })),
        "{plain:?}"
    );
}

/// Every error code is a server failure that names the code by number and by name, once
/// (SERVFAIL and REFUSED come from hickory as errors of their own; hickory names codes
/// 11 to 15 only "Unknown response code").
#[tokio::test]
async fn error_codes_are_named_by_number() {
    for (code, said) in [
        (11, "response code 11, Unknown"),
        (2, "response code 2, Server Failure"),
        (5, "response code 5, Query Refused"),
    ] {
        let addr = serve(Arc::new(move |_: &str, _| Reply {
            code: Some(ResponseCode::from(0, code)),
            ..Reply::default()
        }))
        .await;
        let got = resolver(addr).lookup("odd.example", RecordType::Txt).await;
        match &got {
            Err(e @ LookupError::ServFail { detail, .. }) => {
                assert!(detail.starts_with(said), "{code}: {detail}");
                // Said once, in monban's words (hickory's were "DNS error: error
                // response: Server Failure").
                assert!(!e.to_string().contains("error response"), "{e}");
            }
            other => panic!("{code}: {other:?}"),
        }
    }
}
