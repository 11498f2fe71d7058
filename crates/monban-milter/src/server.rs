//! The daemon's I/O: accept MTA connections on TCP or a unix socket and run a
//! [`Session`] on each. The filter configuration is read from a watch channel for each
//! new connection, so a reload applies to the next connection and never to one in
//! progress; shutdown stops accepting and lets open connections finish.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use monban::message::HeaderError;
use monban_dns::Resolver;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::metrics::Metrics;
use crate::protocol::{Framer, Response};
use crate::session::{FilterConfig, Session, Step};

/// A bound listener.
#[derive(Debug)]
pub enum Listener {
    /// TCP.
    Tcp(tokio::net::TcpListener),
    /// A unix socket.
    Unix(tokio::net::UnixListener),
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What one connection, and all of them together, may hold and take: every limit a
/// peer could otherwise push without bound (issue 9).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; one more is closed at once (the MTA then applies
    /// its default action, e.g. Postfix's `milter_default_action = tempfail`).
    pub max_connections: usize,
    /// How long a connection may wait between commands. It must be longer than the
    /// MTA's own SMTP timeout (Postfix `smtpd_timeout`, 300 s), since the MTA keeps the
    /// connection while its client thinks.
    pub idle_timeout: Duration,
    /// How long the rest of a packet may take once its first byte has arrived, and
    /// how long a reply may take to be written.
    pub command_timeout: Duration,
    /// How long the end of a message (DNS lookups, verification, signing) may take;
    /// past it the message is answered `451 4.4.3` and the sender retries.
    pub message_timeout: Duration,
    /// The largest packet accepted (at most [`crate::protocol::MAX_PACKET`]): what a
    /// connection can make monban hold.
    pub max_packet: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 500,
            idle_timeout: Duration::from_secs(600),
            command_timeout: Duration::from_secs(30),
            message_timeout: Duration::from_secs(120),
            max_packet: crate::protocol::MAX_PACKET,
        }
    }
}

/// Why a connection ended early.
fn timed_out(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, format!("{what} timed out"))
}

/// Runs a step that may be CPU-heavy (the end of the header: signatures parsed and
/// header data canonicalized; the end of the message: lookups, verification, signing)
/// on the blocking pool, so that it never holds one of the runtime's few workers and
/// delays other connections (issue 9). The session comes back with the result.
async fn off_worker<T, F>(session: Session, work: F) -> std::io::Result<(Session, T)>
where
    T: Send + 'static,
    F: FnOnce(&mut Session, &tokio::runtime::Handle) -> T + Send + 'static,
{
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut session = session;
        let out = work(&mut session, &handle);
        (session, out)
    })
    .await
    .map_err(|e| std::io::Error::other(format!("a message task failed: {e}")))
}

/// Runs one MTA connection to its end. Returns an error only for I/O or protocol
/// failures and timeouts (the MTA then applies its default action, e.g. Postfix's
/// `milter_default_action = tempfail`).
pub async fn handle<S, R>(
    mut stream: S,
    config: Arc<FilterConfig>,
    resolver: Arc<R>,
    metrics: &Metrics,
    limits: &Limits,
) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
    R: Resolver + Send + Sync + 'static,
{
    let mut session = Session::new(config, now());
    let mut framer = Framer::with_limit(limits.max_packet);
    let mut buf = Vec::new();
    loop {
        // Waiting for a new command is idle time; the rest of a started packet must
        // come within the command timeout.
        let (wait, kind) = if framer.is_partial() {
            (limits.command_timeout, "command")
        } else {
            (limits.idle_timeout, "idle")
        };
        // Read no more than the packet under way needs (at most 64 KiB at a time), so
        // what a connection holds follows what it sent.
        buf.resize(framer.wanted().clamp(4096, 64 * 1024), 0);
        let n = match tokio::time::timeout(wait, stream.read(&mut buf)).await {
            Ok(r) => r?,
            Err(_) => {
                metrics.limit(if kind == "idle" {
                    "idle_timeout"
                } else {
                    "command_timeout"
                });
                return Err(timed_out(&format!("waiting for the MTA ({kind})")));
            }
        };
        if n == 0 {
            return Ok(());
        }
        framer.extend(&buf[..n]);
        if buf.len() > 4096 {
            buf = Vec::new();
        }
        loop {
            let cmd = match framer.next_command() {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    if matches!(e, crate::protocol::ProtocolError::Length(_)) {
                        metrics.limit("packet_size");
                    }
                    return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e));
                }
            };
            let is_eoh = matches!(cmd, crate::protocol::Command::EndOfHeaders);
            // The clock is read per command, not per connection: t= and x= are those
            // of this moment.
            session.set_now(now());
            let step = if is_eoh {
                let (s, step) = off_worker(session, move |s, _| s.command(cmd)).await?;
                session = s;
                step
            } else {
                session.command(cmd)
            };
            let responses: Vec<Response> = match step {
                Step::Reply(r) => r,
                Step::EndOfMessage => {
                    let queue_id = session.queue_id().unwrap_or("-").to_owned();
                    let resolver = resolver.clone();
                    let budget = limits.message_timeout;
                    let (s, done) = off_worker(session, move |s, rt| {
                        rt.block_on(async {
                            tokio::time::timeout(budget, s.end_of_message(&*resolver)).await
                        })
                    })
                    .await?;
                    session = s;
                    let (responses, report) = done.unwrap_or_else(|_| {
                        metrics.limit("message_timeout");
                        tracing::warn!(queue_id, "the end of the message took too long");
                        (
                            vec![Response::ReplyCode(
                                "451 4.4.3 the message could not be checked in time; please try again later"
                                    .into(),
                            )],
                            None,
                        )
                    });
                    record(metrics, &queue_id, &responses, report.as_ref());
                    responses
                }
                Step::Close => return Ok(()),
            };
            if is_eoh && let Some(why) = session.refused_header() {
                metrics.limit(match why {
                    HeaderError::TooLarge | HeaderError::TooManyFields => "header_size",
                    _ => "header_malformed",
                });
                tracing::info!(
                    queue_id = session.queue_id().unwrap_or("-"),
                    reason = %why,
                    "message refused: its header cannot be judged whole"
                );
            }
            let mut out = Vec::new();
            for r in &responses {
                out.extend_from_slice(&r.encode());
            }
            if !out.is_empty() {
                tokio::time::timeout(limits.command_timeout, stream.write_all(&out))
                    .await
                    .map_err(|_| {
                        metrics.limit("command_timeout");
                        timed_out("writing to the MTA")
                    })??;
            }
        }
    }
}

/// The action a message's responses amount to, for metrics and logs.
fn action(responses: &[Response]) -> &'static str {
    match responses.last() {
        Some(Response::ReplyCode(c)) if c.starts_with('5') => "reject",
        Some(Response::ReplyCode(_) | Response::Tempfail) => "tempfail",
        Some(Response::Reject) => "reject",
        _ if responses
            .iter()
            .any(|r| matches!(r, Response::Quarantine(_))) =>
        {
            "quarantine"
        }
        _ if responses.iter().any(
            |r| matches!(r, Response::InsertHeader { name, .. } if name == "DKIM-Signature"),
        ) =>
        {
            "sign"
        }
        _ => "accept",
    }
}

fn record(
    metrics: &Metrics,
    queue_id: &str,
    responses: &[Response],
    report: Option<&monban::pipeline::Report>,
) {
    let action = action(responses);
    match report {
        Some(r) => {
            if let Some(s) = &r.spf {
                metrics.result("spf", s.result.as_str());
            }
            for d in &r.dkim {
                metrics.result("dkim", d.result.as_str());
            }
            metrics.result("dmarc", r.dmarc.result.as_str());
            metrics.message(r.dmarc.result.as_str(), action);
            tracing::info!(
                queue_id,
                from = r.dmarc.header_from.as_deref().unwrap_or("-"),
                spf = r.spf.as_ref().map_or("-", |s| s.result.as_str()),
                dkim = r
                    .dkim
                    .iter()
                    .map(|d| d.result.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
                    .as_str(),
                dmarc = r.dmarc.result.as_str(),
                disposition = r.dmarc.disposition.as_str(),
                action,
                "message verified"
            );
        }
        None => {
            metrics.message("none", action);
            tracing::info!(queue_id, action, "message passed through");
        }
    }
}

/// Accepts connections until `shutdown` turns true, then waits for the open ones.
///
/// At most [`Limits::max_connections`] are served at once: one more is closed right
/// away. An accept error (e.g. out of file descriptors) is counted and retried after a
/// growing pause (10 ms doubling to 1 s), never in a busy loop.
pub async fn serve<R>(
    listener: Listener,
    config: watch::Receiver<Arc<FilterConfig>>,
    resolver: Arc<R>,
    metrics: Arc<Metrics>,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()>
where
    R: Resolver + Send + Sync + 'static,
{
    let limits = Arc::new(limits);
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let mut tasks = JoinSet::new();
    let mut backoff = Duration::ZERO;
    loop {
        tokio::select! {
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    break;
                }
            }
            accepted = async {
                match &listener {
                    Listener::Tcp(l) => l.accept().await.map(|(s, _)| Conn::Tcp(s)),
                    Listener::Unix(l) => l.accept().await.map(|(s, _)| Conn::Unix(s)),
                }
            } => {
                let conn = match accepted {
                    Ok(c) => {
                        backoff = Duration::ZERO;
                        c
                    }
                    Err(e) => {
                        metrics.accept_error();
                        backoff = (backoff * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                        tracing::warn!(error = %e, pause_ms = backoff.as_millis() as u64, "accept failed");
                        tokio::time::sleep(backoff).await;
                        continue;
                    }
                };
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    metrics.limit("connections");
                    tracing::warn!(max = limits.max_connections, "too many milter connections; closing a new one");
                    drop(conn);
                    continue;
                };
                let cfg = config.borrow().clone();
                let resolver = resolver.clone();
                let metrics = metrics.clone();
                let limits = limits.clone();
                tasks.spawn(async move {
                    let _slot = slot;
                    metrics.session_started();
                    let result = match conn {
                        Conn::Tcp(s) => handle(s, cfg, resolver, &metrics, &limits).await,
                        Conn::Unix(s) => handle(s, cfg, resolver, &metrics, &limits).await,
                    };
                    if let Err(e) = result {
                        metrics.error();
                        tracing::warn!(error = %e, "milter connection ended with an error");
                    }
                    metrics.session_ended();
                });
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

enum Conn {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}
