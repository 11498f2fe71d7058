//! `monban serve` (DESIGN §4 "The web server", issue 13): the JSON API on a loopback
//! address by default.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::signal::unix::{SignalKind, signal};

use crate::Failure;
use crate::dns::DnsArgs;

/// Flags of `monban serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen (127.0.0.1 by default: put a reverse proxy with TLS in front to
    /// serve others; port 0 picks a free port).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    listen: String,
    /// The store whose received reports the API summarises (default: $MONBAN_STORE,
    /// else sqlite:$XDG_DATA_HOME/monban/monban.db).
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// The largest request body accepted, in bytes (a message to analyse).
    #[arg(long, value_name = "BYTES", default_value_t = 25 * 1024 * 1024)]
    max_body: usize,
    /// Seconds one request may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    timeout: u64,
    /// Requests handled at once at most.
    #[arg(long, value_name = "N", default_value_t = 64)]
    concurrency: usize,
    /// The authserv-id of monban's own results (default: the host name).
    #[arg(long, value_name = "ID")]
    authserv_id: Option<String>,
}

pub async fn run(dns: &DnsArgs, args: ServeArgs) -> Result<(), Failure> {
    let addr: SocketAddr = args.listen.parse().map_err(|_| {
        Failure::usage(format!(
            "--listen {:?} is not ADDR:PORT (e.g. 127.0.0.1:8080, [::1]:8080)",
            args.listen
        ))
    })?;
    if args.timeout == 0 || args.concurrency == 0 || args.max_body == 0 {
        return Err(Failure::usage(
            "--timeout, --concurrency and --max-body must be above 0",
        ));
    }
    let resolver = dns.build()?;
    // The API works without a store (the checker needs none); the summary then says why.
    let store = match crate::report::open_store(args.store.as_deref()).await {
        Ok(s) => Ok(Arc::<dyn monban_store::Store>::from(s)),
        Err(e) => {
            let why = match e {
                Failure::Usage(m) | Failure::Other(m) => m,
            };
            eprintln!("monban serve: no store, report summaries unavailable: {why}");
            Err(why)
        }
    };
    let config = monban_web::Config {
        max_body: args.max_body,
        timeout: Duration::from_secs(args.timeout),
        concurrency: args.concurrency,
    };
    let state = Arc::new(monban_web::AppState {
        resolver,
        authserv_id: args.authserv_id.clone().unwrap_or_else(crate::host_name),
        store,
    });
    let app = monban_web::router(state, &config);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::other(format!("cannot listen on {addr}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| Failure::other(e.to_string()))?;
    eprintln!("monban serve: listening on http://{local}/");
    let mut term = signal(SignalKind::terminate()).map_err(|e| Failure::other(e.to_string()))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| Failure::other(e.to_string()))?;
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    };
    monban_web::serve(listener, app, shutdown)
        .await
        .map_err(|e| Failure::other(format!("the server failed: {e}")))
}
