//! The daemon's I/O: accept MTA connections on TCP or a unix socket and run a
//! [`Session`] on each. The filter configuration is read from a watch channel for each
//! new connection, so a reload applies to the next connection and never to one in
//! progress; shutdown stops accepting and lets open connections finish.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

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

/// Runs one MTA connection to its end. Returns an error only for I/O or protocol
/// failures (the MTA then applies its default action, e.g. Postfix's
/// `milter_default_action = tempfail`).
pub async fn handle<S, R>(
    mut stream: S,
    config: Arc<FilterConfig>,
    resolver: &R,
    metrics: &Metrics,
) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
    R: Resolver,
{
    let mut session = Session::new(config, now());
    let mut framer = Framer::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        framer.extend(&buf[..n]);
        loop {
            let cmd = match framer.next_command() {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            };
            let responses: Vec<Response> = match session.command(cmd) {
                Step::Reply(r) => r,
                Step::EndOfMessage => {
                    let queue_id = session.queue_id().unwrap_or("-").to_owned();
                    let (responses, report) = session.end_of_message(resolver).await;
                    record(metrics, &queue_id, &responses, report.as_ref());
                    responses
                }
                Step::Close => return Ok(()),
            };
            let mut out = Vec::new();
            for r in &responses {
                out.extend_from_slice(&r.encode());
            }
            if !out.is_empty() {
                stream.write_all(&out).await?;
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
pub async fn serve<R>(
    listener: Listener,
    config: watch::Receiver<Arc<FilterConfig>>,
    resolver: Arc<R>,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()>
where
    R: Resolver + 'static,
{
    let mut tasks = JoinSet::new();
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
                    Ok(c) => c,
                    Err(_) => continue,
                };
                let cfg = config.borrow().clone();
                let resolver = resolver.clone();
                let metrics = metrics.clone();
                tasks.spawn(async move {
                    metrics.session_started();
                    let result = match conn {
                        Conn::Tcp(s) => handle(s, cfg, &*resolver, &metrics).await,
                        Conn::Unix(s) => handle(s, cfg, &*resolver, &metrics).await,
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
