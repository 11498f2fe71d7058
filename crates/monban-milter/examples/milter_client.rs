//! A load client for `benches/milter-scale.sh`: the MTA side of the milter protocol, as
//! Postfix speaks it (option negotiation offering every step option, one command per
//! write, a reply awaited only where the filter did not negotiate it away), sending one
//! message N times over S concurrent connections (one transaction per connection, as an
//! inbound MX's milter client does), and judging every end-of-message reply.
//!
//! ```text
//! milter_client ADDR MESSAGE N SESSIONS CLIENT_IP MAIL_FROM verify|sign ZONE
//! ```
//!
//! `verify`: each transaction must be accepted with an `Authentication-Results` field
//! saying `dkim=pass` for `header.d=example.com` and `dmarc=pass`; `sign`: each must be
//! accepted with a `DKIM-Signature` field that, put on top of the message, verifies with
//! monban's verifier against the zone file ZONE (after the clock stops: the check costs
//! the timed run nothing). Prints `messages seconds messages/s` (tab-separated,
//! wall-clock time from the first connection to the last reply) and exits 1 if any
//! transaction was misjudged or failed. The message file may have LF or CRLF line ends.
//!
//! It sends no macros and no DATA command (monban negotiates DATA away): the steps and
//! their order are Postfix's, not every packet of it.

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{POSTFIX_OFFER, answered};
use monban::dkim::{DkimConfig, DkimResult, DkimVerifier};
use monban::message::{CrlfNormalizer, MessageSplitter, Split};
use monban_dns::ZoneResolver;
use monban_milter::protocol::encode_command;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest a reply may take before the transaction counts as failed.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, PartialEq)]
enum Expect {
    Verify,
    Sign,
}

/// One connection's reader: packets out of a reused buffer.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Conn {
    async fn send(&mut self, packet: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(packet).await
    }

    /// The next packet: its code and data.
    async fn packet(&mut self) -> std::io::Result<(u8, Vec<u8>)> {
        loop {
            let have = &self.buf[self.start..self.end];
            if have.len() >= 4 {
                let len = u32::from_be_bytes([have[0], have[1], have[2], have[3]]) as usize;
                if len == 0 || len > 1 << 20 {
                    return Err(std::io::Error::other(format!("bad packet length {len}")));
                }
                if have.len() >= 4 + len {
                    let packet = (have[4], have[5..4 + len].to_vec());
                    self.start += 4 + len;
                    return Ok(packet);
                }
            }
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == self.buf.len() {
                self.buf.resize(self.buf.len() * 2, 0);
            }
            let n =
                tokio::time::timeout(REPLY_TIMEOUT, self.stream.read(&mut self.buf[self.end..]))
                    .await
                    .map_err(|_| std::io::Error::other("no reply in time"))??;
            if n == 0 {
                return Err(std::io::Error::other("the filter closed the connection"));
            }
            self.end += n;
        }
    }

    /// Packets up to a final one (accept, reject, tempfail, reply code, continue,
    /// discard).
    async fn until_final(&mut self) -> std::io::Result<Vec<(u8, Vec<u8>)>> {
        let mut got = Vec::new();
        loop {
            let p = self.packet().await?;
            let last = matches!(p.0, b'a' | b'r' | b't' | b'y' | b'c' | b'd' | b'O');
            got.push(p);
            if last {
                return Ok(got);
            }
        }
    }
}

/// The commands of one transaction after option negotiation, encoded once.
fn commands(message: &[u8], client_ip: &str, mail_from: &str) -> Vec<(u8, Vec<u8>)> {
    let mut normalized = Vec::new();
    CrlfNormalizer::new().normalize(message, &mut normalized);
    let (headers, body) = monban::dkim::split_message(&normalized).expect("MESSAGE: a message");
    let mut cmds = vec![
        (b'C', common::connect_data(client_ip)),
        (b'H', b"client.example\0".to_vec()),
        (b'M', format!("<{mail_from}>\0").into_bytes()),
        (b'R', b"<bob@example.net>\0".to_vec()),
    ];
    for f in headers.fields() {
        let mut data = f.name_str().into_owned().into_bytes();
        data.push(0);
        data.extend_from_slice(f.value);
        data.push(0);
        cmds.push((b'L', data));
    }
    cmds.push((b'N', Vec::new()));
    for chunk in body.chunks(65_535) {
        cmds.push((b'B', chunk.to_vec()));
    }
    cmds.into_iter()
        .map(|(code, data)| (code, encode_command(code, &data)))
        .collect()
}

/// Whether the end-of-message replies are what `expect` asks for, and for `sign` the
/// inserted `DKIM-Signature` value, to be verified later (`None` when misjudged).
fn judged(replies: &[(u8, Vec<u8>)], expect: Expect) -> Option<Option<String>> {
    let field = |name: &str| {
        replies.iter().find_map(|(code, data)| {
            // 'h': name NUL value NUL; 'i': index (4 bytes), then the same.
            let rest = match code {
                b'h' => data.as_slice(),
                b'i' => data.get(4..)?,
                _ => return None,
            };
            let mut parts = rest.split(|&b| b == 0);
            let n = parts.next()?;
            n.eq_ignore_ascii_case(name.as_bytes())
                .then(|| String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned())
        })
    };
    if !matches!(replies.last(), Some((b'a' | b'c', _))) {
        return None;
    }
    match expect {
        Expect::Verify => field("Authentication-Results")
            .filter(|v| {
                v.contains("dkim=pass")
                    && v.contains("header.d=example.com")
                    && v.contains("dmarc=pass")
            })
            .map(|_| None),
        Expect::Sign => field("DKIM-Signature").map(Some),
    }
}

/// How many of the signatures, each put on top of `message`, do not verify (one
/// signature, passing) against `zone`.
fn failing_signatures(signatures: &[String], message: &[u8], zone: &str) -> usize {
    let resolver = ZoneResolver::from_file(zone).unwrap_or_else(|e| panic!("{zone}: {e}"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    signatures
        .iter()
        .filter(|value| {
            let mut raw = format!("DKIM-Signature:{value}\r\n").into_bytes();
            raw.extend_from_slice(message);
            let mut signed = Vec::new();
            CrlfNormalizer::new().normalize(&raw, &mut signed);
            let Ok(Split::HeaderDone(headers, body)) = MessageSplitter::new().push(&signed) else {
                return true;
            };
            let mut verifier = DkimVerifier::new(&headers, now, DkimConfig::default());
            verifier.body(body);
            let results: Vec<DkimResult> = rt
                .block_on(verifier.finish(&resolver))
                .into_iter()
                .map(|o| o.result)
                .collect();
            results != [DkimResult::Pass]
        })
        .count()
}

/// One transaction on a new connection: [`judged`] of its end-of-message replies.
async fn transaction(
    addr: SocketAddr,
    cmds: &[(u8, Vec<u8>)],
    expect: Expect,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<Option<String>>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut conn = Conn {
        stream,
        buf: std::mem::take(buf),
        start: 0,
        end: 0,
    };
    let result = async {
        let mut offer = Vec::new();
        for v in POSTFIX_OFFER {
            offer.extend_from_slice(&v.to_be_bytes());
        }
        conn.send(&encode_command(b'O', &offer)).await?;
        let (code, data) = conn.packet().await?;
        let protocol = match (code, data.get(8..12)) {
            (b'O', Some(p)) => u32::from_be_bytes([p[0], p[1], p[2], p[3]]),
            _ => return Err(std::io::Error::other("no option negotiation reply")),
        };
        for (code, packet) in cmds {
            conn.send(packet).await?;
            if answered(*code, protocol) {
                let reply = conn.until_final().await?;
                if reply.last().map(|r| r.0) != Some(b'c') {
                    return Ok(None);
                }
            }
        }
        conn.send(&encode_command(b'E', b"")).await?;
        let replies = conn.until_final().await?;
        conn.send(&encode_command(b'Q', b"")).await?;
        Ok(judged(&replies, expect))
    }
    .await;
    *buf = conn.buf;
    result
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [
        addr,
        message,
        n,
        sessions,
        client_ip,
        mail_from,
        expect,
        zone,
    ] = args.as_slice()
    else {
        eprintln!(
            "usage: milter_client ADDR MESSAGE N SESSIONS CLIENT_IP MAIL_FROM verify|sign ZONE"
        );
        std::process::exit(2);
    };
    let addr: SocketAddr = addr.parse().expect("ADDR: host:port");
    let n: usize = n.parse().expect("N: a number");
    let sessions: usize = sessions
        .parse::<usize>()
        .expect("SESSIONS: a number")
        .max(1);
    let expect = match expect.as_str() {
        "verify" => Expect::Verify,
        "sign" => Expect::Sign,
        other => panic!("{other}: verify or sign"),
    };
    let message = std::fs::read(message).unwrap_or_else(|e| panic!("{message}: {e}"));
    let cmds = Arc::new(commands(&message, client_ip, mail_from));
    let signatures = Arc::new(std::sync::Mutex::new(Vec::new()));
    // As many workers as this process may use (taskset decides).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let next = Arc::new(AtomicUsize::new(0));
    let (wrong, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let start = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..sessions {
            let (cmds, next, wrong, failed, signatures) = (
                cmds.clone(),
                next.clone(),
                wrong.clone(),
                failed.clone(),
                signatures.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    match transaction(addr, &cmds, expect, &mut buf).await {
                        Ok(Some(None)) => {}
                        Ok(Some(Some(signature))) => {
                            if let Ok(mut s) = signatures.lock() {
                                s.push(signature);
                            }
                        }
                        Ok(None) => {
                            wrong.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            if failed.fetch_add(1, Ordering::Relaxed) < 3 {
                                eprintln!("milter_client: {e}");
                            }
                        }
                    }
                }
            }));
        }
        for t in tasks {
            t.await.expect("a session task");
        }
    });
    let secs = start.elapsed().as_secs_f64();
    println!("{n}\t{secs:.4}\t{:.1}", n as f64 / secs);
    let signatures = std::mem::take(&mut *signatures.lock().expect("signatures"));
    let bad = failing_signatures(&signatures, &message, zone);
    if bad > 0 {
        eprintln!(
            "milter_client: {bad} of {} signatures do not verify",
            signatures.len()
        );
    }
    let wrong = wrong.load(Ordering::Relaxed) + bad;
    let failed = failed.load(Ordering::Relaxed);
    if wrong + failed > 0 {
        eprintln!("milter_client: {wrong} misjudged, {failed} failed of {n}");
        std::process::exit(1);
    }
}
