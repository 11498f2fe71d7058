//! What the server puts on the wire, checked with hand-built DNS messages (no resolver
//! in between): authoritative answers from the root-origin zone, NXDOMAIN versus
//! NOERROR/no data with an SOA for negative caching, CNAME chains, TCP on the same port,
//! and silence after `stop`.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_server::proto::op::{Message, Query, ResponseCode};
use hickory_server::proto::rr::{Name, RData, RecordType};
use monban_dns::{Record, ZoneResolver};
use monban_testdns::TestDnsServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

const ZONE: &str = r#"
$ORIGIN example.com.
$TTL 3600
@         SOA   ns1 hostmaster 2026112201 7200 900 1209600 120
@         NS    ns1
ns1       A     192.0.2.1
host      A     192.0.2.2
web  600  CNAME host
www   60  CNAME web
dangling  CNAME nowhere
a.b.deep  A     192.0.2.3
sub       NS    ns.elsewhere.example.
sub       A     192.0.2.4
x.sub     A     192.0.2.5
$ORIGIN example.net.
plain     TXT   "v=spf1" " -all"
"#;

const WAIT: Duration = Duration::from_secs(2);

fn zone() -> ZoneResolver {
    ZoneResolver::parse(ZONE, "raw.zone", None).unwrap()
}

fn query(name: &str, rtype: RecordType) -> Vec<u8> {
    let mut message = Message::query();
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    message.to_vec().unwrap()
}

async fn udp(addr: SocketAddr, name: &str, rtype: RecordType) -> Option<Message> {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // Connected, so that an ICMP "port unreachable" is reported as an error at once.
    socket.connect(addr).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let exchange = async {
        socket.send(&query(name, rtype)).await?;
        socket.recv(&mut buf).await
    };
    match tokio::time::timeout(WAIT, exchange).await {
        Ok(Ok(n)) => Some(Message::from_vec(&buf[..n]).unwrap()),
        // Timed out, or "connection refused".
        Ok(Err(_)) | Err(_) => None,
    }
}

async fn tcp(addr: SocketAddr, name: &str, rtype: RecordType) -> std::io::Result<Message> {
    let mut stream = TcpStream::connect(addr).await?;
    let q = query(name, rtype);
    let mut framed = u16::try_from(q.len()).unwrap().to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    stream.write_all(&framed).await?;
    let mut len = [0u8; 2];
    tokio::time::timeout(WAIT, stream.read_exact(&mut len)).await??;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).await?;
    Ok(Message::from_vec(&buf).unwrap())
}

fn answer_types(m: &Message) -> Vec<RecordType> {
    m.answers.iter().map(|r| r.record_type()).collect()
}

/// The (TTL, MINIMUM) of the SOA in the authority section.
fn authority_soa(m: &Message) -> Option<(u32, u32)> {
    m.authorities.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some((r.ttl, soa.minimum)),
        _ => None,
    })
}

#[tokio::test]
async fn positive_answers_are_authoritative_from_the_root_zone() {
    let server = TestDnsServer::start(&zone()).await.unwrap();
    let addr = server.addr();

    let m = udp(addr, "host.example.com.", RecordType::A).await.unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.authoritative);
    assert_eq!(answer_types(&m), [RecordType::A]);

    // A second, unrelated domain in the same root zone, with its strings kept apart.
    let m = udp(addr, "plain.example.net.", RecordType::TXT)
        .await
        .unwrap();
    assert!(m.metadata.authoritative);
    let RData::TXT(txt) = &m.answers[0].data else {
        panic!("{m:?}")
    };
    assert_eq!(txt.txt_data.len(), 2);

    // The same port answers over TCP.
    let m = tcp(addr, "host.example.com.", RecordType::A).await.unwrap();
    assert_eq!(answer_types(&m), [RecordType::A]);
    server.stop().await;
}

#[tokio::test]
async fn cname_chain_is_followed_in_the_answer_section() {
    let server = TestDnsServer::start(&zone()).await.unwrap();
    let m = udp(server.addr(), "www.example.com.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        answer_types(&m),
        [RecordType::CNAME, RecordType::CNAME, RecordType::A]
    );
    // Asking for the CNAME itself gives only the alias.
    let m = udp(server.addr(), "www.example.com.", RecordType::CNAME)
        .await
        .unwrap();
    assert_eq!(answer_types(&m), [RecordType::CNAME]);
    server.stop().await;
}

#[tokio::test]
async fn nxdomain_and_nodata_carry_the_negative_ttl_soa() {
    let server = TestDnsServer::start(&zone()).await.unwrap();
    let addr = server.addr();

    let m = udp(addr, "nope.example.com.", RecordType::A).await.unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.metadata.authoritative);
    assert!(m.answers.is_empty());
    // min(SOA TTL 3600, MINIMUM 120), as ZoneResolver computes it.
    assert_eq!(authority_soa(&m), Some((120, 120)));

    // NODATA: the name has an A record, not a TXT one.
    let m = udp(addr, "ns1.example.com.", RecordType::TXT)
        .await
        .unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    assert_eq!(authority_soa(&m), Some((120, 120)));

    // Empty non-terminals: below the zone apex, and above it (com) in the root zone.
    for ent in ["b.deep.example.com.", "deep.example.com.", "com."] {
        let m = udp(addr, ent, RecordType::A).await.unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{ent}");
        assert!(m.answers.is_empty(), "{ent}");
    }
    server.stop().await;
}

#[tokio::test]
async fn ns_records_without_soa_are_data_not_a_delegation() {
    let server = TestDnsServer::start(&zone()).await.unwrap();
    let addr = server.addr();
    for (name, rtype) in [
        ("sub.example.com.", RecordType::A),
        ("x.sub.example.com.", RecordType::A),
        ("sub.example.com.", RecordType::NS),
    ] {
        let m = udp(addr, name, rtype).await.unwrap();
        assert!(m.metadata.authoritative, "{name} {rtype}");
        assert_eq!(answer_types(&m), [rtype], "{name} {rtype}: {m:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn dangling_cname_answers_the_alias_only() {
    let server = TestDnsServer::start(&zone()).await.unwrap();
    let m = udp(server.addr(), "dangling.example.com.", RecordType::A)
        .await
        .unwrap();
    // The server gives the chain it has with NOERROR (not NXDOMAIN as RFC 6604 would
    // have it); the resolver then asks for the target itself and gets NXDOMAIN.
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(answer_types(&m), [RecordType::CNAME]);
    let m = udp(server.addr(), "nowhere.example.com.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    server.stop().await;
}

#[tokio::test]
async fn zone_without_soa_gets_the_default_negative_ttl() {
    let zone = ZoneResolver::parse("a.example. 60 A 192.0.2.1\n", "no-soa.zone", None).unwrap();
    let server = TestDnsServer::start(&zone).await.unwrap();
    let m = udp(server.addr(), "b.example.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(authority_soa(&m), Some((300, 300)));
    server.stop().await;
}

#[tokio::test]
async fn cname_beside_other_data_is_refused() {
    // The zone parser refuses this too; a zone built in code reaches the server.
    assert!(
        ZoneResolver::parse(
            "a.example. CNAME b.example.\na.example. A 192.0.2.1\n",
            "bad.zone",
            None,
        )
        .is_err()
    );
    let mut zone = ZoneResolver::new();
    zone.insert("a.example", Record::Cname("b.example".into()), 300);
    zone.insert("a.example", Record::A("192.0.2.1".parse().unwrap()), 300);
    let err = TestDnsServer::start(&zone).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("a.example"), "{err}");
}

#[tokio::test]
async fn stopped_server_is_silent() {
    let server = TestDnsServer::start(&zone()).await.unwrap();
    let addr = server.addr();
    assert!(
        udp(addr, "host.example.com.", RecordType::A)
            .await
            .is_some()
    );
    server.stop().await;
    let started = std::time::Instant::now();
    assert!(
        udp(addr, "host.example.com.", RecordType::A)
            .await
            .is_none()
    );
    assert!(tcp(addr, "host.example.com.", RecordType::A).await.is_err());
    // Connection refused comes back at once, not after the wait.
    assert!(started.elapsed() < WAIT, "{:?}", started.elapsed());
}
