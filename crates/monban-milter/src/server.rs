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
                Step::EndOfMessage => session.end_of_message(resolver).await.0,
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

/// Accepts connections until `shutdown` turns true, then waits for the open ones.
pub async fn serve<R>(
    listener: Listener,
    config: watch::Receiver<Arc<FilterConfig>>,
    resolver: Arc<R>,
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
                tasks.spawn(async move {
                    let _ = match conn {
                        Conn::Tcp(s) => handle(s, cfg, &*resolver).await,
                        Conn::Unix(s) => handle(s, cfg, &*resolver).await,
                    };
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
