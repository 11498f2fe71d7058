//! Issue 9: does a hostile message delay other milter sessions? The milter runs in
//! process on 127.0.0.1 with the daemon's runtime (two workers), and a well-formed
//! session's latency (CONNECT to the final reply of a small, legitimate message) is
//! measured alone, then while hostile senders keep the milter busy with the most
//! expensive messages the limits allow: a header of about 1 MiB (4,000 fields) carrying
//! 5 DKIM signatures that each list 1,000 names (the `h=` cap), so every message
//! canonicalizes megabytes of header data.
//!
//! Before issue 9 that work ran on a runtime worker (and `h=` selection was quadratic):
//! one such message delayed a concurrent session by 8.8 s. Now it runs on the blocking
//! pool. The report gives the median and 99th percentile latency in both phases and
//! their ratio; on two cores the hostile load also competes for the CPU, so some rise
//! is expected, but not seconds.
//!
//! Run: `cargo bench -p monban-milter --bench hostile_load` (env: GOOD=2000 sessions
//! per phase, HOSTILE=4 hostile senders).

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{optneg, read_until_final, send};
use monban_dns::{Record, Txt, ZoneResolver};
use monban_milter::metrics::Metrics;
use monban_milter::server::{Limits, Listener, serve};
use monban_milter::session::FilterConfig;
use tokio::net::TcpStream;
use tokio::sync::watch;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn zone() -> ZoneResolver {
    let mut z = ZoneResolver::new();
    let mut txt =
        |n: &str, v: &str| z.insert(n, Record::Txt(Txt::new([v.as_bytes().to_vec()])), 300);
    txt("example.com", "v=spf1 ip4:192.0.2.0/24 -all");
    txt("_dmarc.example.com", "v=DMARC1; p=reject");
    txt(
        "s1._domainkey.example.com",
        "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    );
    z
}

/// The hostile message's fields, as the MTA passes them.
fn hostile_fields() -> Vec<(String, String)> {
    let mut fields = Vec::new();
    let names: Vec<String> = (0..999).map(|i| format!("x-f-{}", i % 200)).collect();
    let h = format!("from:{}", names.join(":"));
    for _ in 0..5 {
        fields.push((
            "DKIM-Signature".to_owned(),
            format!(" v=1; a=ed25519-sha256; d=example.com; s=s1; h={h}; bh=AAAA; b=AAAA"),
        ));
    }
    for i in 0..4_000 {
        fields.push((format!("X-F-{}", i % 200), format!(" {}", "v".repeat(230))));
    }
    fields.push(("From".to_owned(), " ceo@example.com".to_owned()));
    fields
}

/// One transaction on a new connection; the code of the final reply.
async fn transaction(addr: std::net::SocketAddr, ip: &str, fields: &[(String, String)]) -> u8 {
    let mut s = TcpStream::connect(addr).await.unwrap();
    optneg(&mut s).await;
    let mut cmds = vec![
        (b'C', common::connect_data(ip)),
        (b'H', b"client.example\0".to_vec()),
        (b'M', b"<alice@example.com>\0".to_vec()),
        (b'R', b"<bob@example.net>\0".to_vec()),
    ];
    for (n, v) in fields {
        cmds.push((b'L', format!("{n}\0{v}\0").into_bytes()));
    }
    cmds.push((b'N', Vec::new()));
    cmds.push((b'B', b"Hello.\r\n".to_vec()));
    for (code, data) in cmds {
        send(&mut s, code, &data).await;
        let r = read_until_final(&mut s).await;
        if r.last().map(|x| x.0) != Some(b'c') {
            return r.last().map_or(0, |x| x.0);
        }
    }
    send(&mut s, b'E', b"").await;
    let code = read_until_final(&mut s).await.last().map_or(0, |x| x.0);
    send(&mut s, b'Q', b"").await;
    code
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// `n` well-formed transactions one after another; their latencies, sorted.
async fn phase(addr: std::net::SocketAddr, n: usize) -> Vec<Duration> {
    let good = vec![("From".to_owned(), " alice@example.com".to_owned())];
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let code = transaction(addr, "192.0.2.25", &good).await;
        assert_eq!(code, b'a', "the good message must be accepted");
        out.push(t.elapsed());
    }
    out.sort();
    out
}

fn main() {
    let good_n = env("GOOD", 2000).max(1);
    let hostile_n = env("HOSTILE", 4);
    // The client runs on its own runtime, the milter on the daemon's (two workers), so
    // that the measurement does not share the milter's workers.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (addr, stop) = server_rt.block_on(async {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let (cfg_tx, cfg_rx) = watch::channel(Arc::new(FilterConfig::new("mx.example.net")));
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            let _keep = cfg_tx;
            serve(
                Listener::Tcp(tcp),
                cfg_rx,
                Arc::new(zone()),
                Arc::new(Metrics::default()),
                Limits::default(),
                stop_rx,
            )
            .await
        });
        (addr, stop)
    });
    client_rt.block_on(async {
        // Warm up, then alone.
        phase(addr, 20).await;
        let alone = phase(addr, good_n).await;

        let running = Arc::new(AtomicBool::new(true));
        let done = Arc::new(AtomicUsize::new(0));
        let fields = Arc::new(hostile_fields());
        let header_bytes: usize = fields.iter().map(|(n, v)| n.len() + v.len() + 3).sum();
        let mut hostile = Vec::new();
        for _ in 0..hostile_n {
            let (running, done, fields) = (running.clone(), done.clone(), fields.clone());
            hostile.push(tokio::spawn(async move {
                while running.load(Ordering::Relaxed) {
                    let code = transaction(addr, "203.0.113.5", &fields).await;
                    assert_ne!(code, b'a', "the hostile message must not be accepted");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        // Let every hostile sender get going.
        while done.load(Ordering::Relaxed) < hostile_n {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let t = Instant::now();
        let before = done.load(Ordering::Relaxed);
        let loaded = phase(addr, good_n).await;
        let hostile_rate =
            (done.load(Ordering::Relaxed) - before) as f64 / t.elapsed().as_secs_f64();
        running.store(false, Ordering::Relaxed);
        for h in hostile {
            h.await.unwrap();
        }

        println!(
            "milter latency of a well-formed session ({good_n} per phase; hostile: {hostile_n} senders, header {} KiB, 5 signatures x 1,000 h= names)",
            header_bytes / 1024
        );
        println!("{:<24} {:>12} {:>12} {:>12}", "phase", "median", "p99", "max");
        for (name, v) in [("alone", &alone), ("under hostile load", &loaded)] {
            println!(
                "{name:<24} {:>12?} {:>12?} {:>12?}",
                percentile(v, 0.5),
                percentile(v, 0.99),
                v[v.len() - 1]
            );
        }
        println!(
            "ratio loaded/alone: median {:.2}x, p99 {:.2}x; hostile messages judged: {hostile_rate:.1}/s",
            percentile(&loaded, 0.5).as_secs_f64() / percentile(&alone, 0.5).as_secs_f64(),
            percentile(&loaded, 0.99).as_secs_f64() / percentile(&alone, 0.99).as_secs_f64()
        );
    });
    stop.send(true).ok();
}
