//! The milter on 127.0.0.1:0, driven over TCP by an MTA-side client written here: the
//! exact bytes Postfix would send, the exact actions monban answers.

use std::sync::Arc;

use monban::dkim::{SignerConfig, SigningKey};
use monban_dns::{Record, Txt, ZoneResolver};
use monban_milter::server::{Limits, Listener, serve};
use monban_milter::session::{FilterConfig, Network, QuarantineMode, SigningRule};
mod common;

use common::{optneg, read_until_final, send, step};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_smtp_transaction_over_tcp() {
    let key = Arc::new(SigningKey::generate_ed25519().unwrap());
    let mut zone = ZoneResolver::new();
    zone.insert(
        "example.com",
        Record::Txt(Txt::new([b"v=spf1 ip4:192.0.2.0/24 -all".to_vec()])),
        300,
    );
    zone.insert(
        "_dmarc.example.com",
        Record::Txt(Txt::new([b"v=DMARC1; p=reject".to_vec()])),
        300,
    );
    let config = Arc::new(FilterConfig {
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
    });
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let (_cfg_tx, cfg_rx) = watch::channel(config);
    let (stop_tx, stop_rx) = watch::channel(false);
    let metrics = Arc::new(monban_milter::metrics::Metrics::default());
    let server = tokio::spawn(serve(
        Listener::Tcp(tcp),
        cfg_rx,
        Arc::new(zone),
        metrics.clone(),
        Limits::default(),
        stop_rx,
    ));

    let mut s = TcpStream::connect(addr).await.unwrap();
    // Postfix's offer; monban asks for no reply to CONNECT, HELO, headers and body
    // chunks, and to skip DATA and unknown commands.
    let protocol = optneg(&mut s).await;
    assert_eq!(
        protocol,
        0x10_0000 | 0x1000 | 0x2000 | 0x80 | 0x8_0000 | 0x200 | 0x100
    );
    let mut connect = b"spoofer.example\0".to_vec();
    connect.push(b'4');
    connect.extend_from_slice(&25u16.to_be_bytes());
    connect.extend_from_slice(b"203.0.113.66\0");
    for (code, data) in [
        (b'C', connect),
        (b'H', b"spoofer.example\0".to_vec()),
        (b'M', b"<ceo@example.com>\0".to_vec()),
        (b'R', b"<bob@example.net>\0".to_vec()),
        (b'L', b"From\0 ceo@example.com\0".to_vec()),
        (b'L', b"Subject\0 wire money\0".to_vec()),
        (b'N', Vec::new()),
        (b'B', b"Please pay.\r\n".to_vec()),
    ] {
        if let Some(reply) = step(&mut s, protocol, code, &data).await {
            assert_eq!(reply, vec![(b'c', Vec::new())], "after {}", code as char);
        }
    }
    send(&mut s, b'E', b"").await;
    let actions = read_until_final(&mut s).await;
    assert_eq!(actions[0].0, b'i', "{actions:?}");
    assert!(String::from_utf8_lossy(&actions[0].1).contains("dmarc=fail"));
    let (code, text) = actions.last().unwrap();
    assert_eq!(*code, b'y');
    assert!(
        text.starts_with(b"550 5.7.1 rejected by the DMARC policy of example.com"),
        "{}",
        String::from_utf8_lossy(text)
    );
    send(&mut s, b'Q', b"").await;
    drop(s);

    // A malformed packet closes the connection instead of crashing the daemon.
    let mut bad = TcpStream::connect(addr).await.unwrap();
    bad.write_all(&[0xff, 0xff, 0xff, 0xff, b'B'])
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(bad.read(&mut buf).await.unwrap(), 0);

    stop_tx.send(true).unwrap();
    server.await.unwrap().unwrap();
    let text = metrics.render();
    assert!(
        text.contains("monban_milter_messages_total{verdict=\"fail\",action=\"reject\"} 1"),
        "{text}"
    );
    assert!(text.contains("monban_milter_sessions_total 2"), "{text}");
    assert!(text.contains("monban_milter_errors_total 1"), "{text}");
}
