//! `monban serve` (DESIGN §4 "The web server", issue 13): the pages and the JSON API on
//! a loopback address by default.

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
    /// Requests handled at once at most (the fixed files, style, script, icon and API
    /// description, are served outside this bound).
    #[arg(long, value_name = "N", default_value_t = 64)]
    concurrency: usize,
    /// The authserv-id of monban's own results (default: the host name).
    #[arg(long, value_name = "ID")]
    authserv_id: Option<String>,
    /// The largest header the analyzer page takes, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024)]
    max_header: usize,
    /// An authserv-id whose Authentication-Results the analyzer trusts (your own
    /// receiving hosts; repeatable). monban's own is always trusted; others are shown
    /// as claimed.
    #[arg(long, value_name = "ID")]
    trust_authserv_id: Vec<String>,
    /// Require a login for the report dashboard and its API: a file of `user:hash`
    /// lines with argon2 hashes (make them with --hash-password).
    #[arg(long, value_name = "FILE", conflicts_with = "trust_proxy_header")]
    password_file: Option<std::path::PathBuf>,
    /// Let the report dashboard through when this header is set by the reverse proxy
    /// in front (e.g. X-Remote-User). Only when the server is reachable through that
    /// proxy alone.
    #[arg(long, value_name = "HEADER")]
    trust_proxy_header: Option<String>,
    /// A host name the server answers to (repeatable; `*` for any), besides
    /// localhost, 127.0.0.1, [::1] and the --listen address: the name users type when
    /// a reverse proxy serves it. Other names get 421 (against DNS rebinding).
    #[arg(long, value_name = "NAME")]
    allow_host: Vec<String>,
    /// Serve the report dashboard and the raw reports without a login on a --listen
    /// address other hosts can reach (without it, such an address needs
    /// --password-file): for a dashboard that holds nothing private, or a network
    /// where everyone who reaches the port may read it.
    #[arg(long, conflicts_with_all = ["password_file", "trust_proxy_header"])]
    open_dashboard: bool,
    /// Print a password file line for USER (the password is read from standard input)
    /// and exit.
    #[arg(long, value_name = "USER")]
    hash_password: Option<String>,
}

/// `--hash-password USER`: one line of a password file.
fn hash_password(user: &str) -> Result<(), Failure> {
    if user.is_empty() || user.contains([':', '\n', '\r']) {
        return Err(Failure::usage(
            "--hash-password: the user name must not be empty or hold ':' or a line break",
        ));
    }
    let mut password = String::new();
    std::io::stdin()
        .read_line(&mut password)
        .map_err(|e| Failure::other(format!("standard input: {e}")))?;
    let password = password.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(Failure::usage(
            "--hash-password: no password on standard input",
        ));
    }
    let hash = monban_web::access::hash_password(password).map_err(Failure::other)?;
    println!("{user}:{hash}");
    Ok(())
}

pub async fn run(dns: &DnsArgs, args: ServeArgs) -> Result<(), Failure> {
    if let Some(user) = &args.hash_password {
        return hash_password(user);
    }
    let addr_early: Option<SocketAddr> = args.listen.parse().ok();
    if args.trust_proxy_header.is_some() && addr_early.is_some_and(|a| !a.ip().is_loopback()) {
        // Anyone reaching the port directly could send the header themselves.
        return Err(Failure::usage(
            "--trust-proxy-header needs a loopback --listen address (the proxy on the same host): \
             on another address anyone reaching the port could send the header",
        ));
    }
    if addr_early.is_some_and(|a| !a.ip().is_loopback())
        && args.password_file.is_none()
        && args.trust_proxy_header.is_none()
        && !args.open_dashboard
    {
        // A Host check (421) is not access control: anyone reaching the port may send
        // `Host: localhost`.
        return Err(Failure::usage(format!(
            "--listen {} is reachable from other hosts, and the report dashboard shows the received reports \
             (reporters, sources, failure reports' headers): give --password-file to require a login, \
             or --open-dashboard to serve it to anyone who reaches the port",
            args.listen
        )));
    }
    let access = match (&args.password_file, &args.trust_proxy_header) {
        (Some(f), _) => monban_web::access::Access::password_file(f).map_err(Failure::usage)?,
        (None, Some(h)) => monban_web::access::Access::ProxyHeader(h.parse().map_err(|_| {
            Failure::usage(format!("--trust-proxy-header {h:?} is not a header name"))
        })?),
        (None, None) => monban_web::access::Access::Open,
    };
    let addr: SocketAddr = args.listen.parse().map_err(|_| {
        Failure::usage(format!(
            "--listen {:?} is not ADDR:PORT (e.g. 127.0.0.1:8080, [::1]:8080)",
            args.listen
        ))
    })?;
    if args.timeout == 0 || args.concurrency == 0 || args.max_body == 0 || args.max_header == 0 {
        return Err(Failure::usage(
            "--timeout, --concurrency, --max-body and --max-header must be above 0",
        ));
    }
    let resolver = dns.build()?;
    // A SQLite file that is not there yet is made, empty: said, since a mistyped path
    // would otherwise show an empty dashboard without a word.
    let new_file = match args.store.as_deref() {
        Some(u) => monban_store::StoreUrl::parse(u).ok(),
        None => monban_store::StoreUrl::default_from_env().ok(),
    }
    .and_then(|url| match url {
        monban_store::StoreUrl::Sqlite(path) if !path.exists() => Some(path),
        _ => None,
    });
    // The API works without a store (the checker needs none); the summary then says why.
    let store = match crate::report::open_store(args.store.as_deref()).await {
        Ok(s) => {
            if let Some(path) = new_file {
                errln!(
                    "monban serve: there was no store at {}: made an empty one (reports \
                     come in with monban report import, or the milter's [store])",
                    path.display()
                );
            }
            Ok(Arc::<dyn monban_store::Store>::from(s))
        }
        Err(e) => {
            let why = match e {
                Failure::Usage(m) | Failure::Other(m) => m,
                Failure::Status(code) => format!("exit status {code}"),
            };
            errln!("monban serve: no store, report summaries unavailable: {why}");
            Err(why)
        }
    };
    let mut allowed_hosts = args.allow_host.clone();
    allowed_hosts.push(match addr.ip() {
        std::net::IpAddr::V6(v6) => v6.to_string(),
        v4 => v4.to_string(),
    });
    let config = monban_web::Config {
        max_body: args.max_body,
        timeout: Duration::from_secs(args.timeout),
        concurrency: args.concurrency,
        allowed_hosts,
    };
    let authserv_id = crate::authserv_id(args.authserv_id.as_deref())?;
    let mut trusted_ids = vec![authserv_id.clone()];
    trusted_ids.extend(args.trust_authserv_id.iter().cloned());
    let dashboards = Arc::new(monban_web::dashboard::Cache::default());
    if let Ok(s) = &store {
        // The default view is computed at once, and every view kept current as
        // reports arrive: nobody waits for a fold over a million rows.
        dashboards.clone().keep_current(s.clone(), resolver.clone());
    }
    let state = Arc::new(monban_web::AppState {
        resolver,
        authserv_id,
        store,
        max_header: args.max_header,
        trusted_ids,
        access,
        dashboards,
    });
    let app = monban_web::router(state, &config);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::other(format!("cannot listen on {addr}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| Failure::other(e.to_string()))?;
    errln!("monban serve: listening on http://{local}/");
    if args.password_file.is_none() && args.trust_proxy_header.is_none() {
        // Said once at the start: the dashboard shows reports as received (reporters'
        // addresses, sources, failure reports' headers) to whoever reaches it.
        errln!(
            "monban serve: the report dashboard and the raw reports are open to anyone who can reach {local} (--password-file to require a login)"
        );
    }
    let mut term = signal(SignalKind::terminate()).map_err(|e| Failure::other(e.to_string()))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| Failure::other(e.to_string()))?;
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    };
    // The request head must come within --timeout or 10 s, whichever is shorter.
    monban_web::serve(listener, app, Duration::from_secs(args.timeout), shutdown)
        .await
        .map_err(|e| Failure::other(format!("the server failed: {e}")))
}
