//! `monban milter`: the daemon Postfix and Sendmail call.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use monban_dns::{CachingResolver, HickoryConfig, HickoryResolver, SharedResolver, ZoneResolver};
use monban_milter::config::{self, Config, DnsSource, Listen};
use monban_milter::metrics::{Metrics, TimedResolver, serve_metrics};
use monban_milter::recorder::Recorder;
use monban_milter::server::{Listener, serve_recording};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use crate::Failure;

/// Flags of `monban milter`.
#[derive(Debug, Args)]
#[command(subcommand_negates_reqs = true, args_conflicts_with_subcommands = true)]
pub struct MilterArgs {
    #[command(subcommand)]
    action: Option<MilterAction>,
    /// The configuration file (TOML).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "print_sample_config"
    )]
    config: Option<PathBuf>,
    /// Check the configuration file and exit (0 when valid).
    #[arg(long)]
    check_config: bool,
    /// Print a sample configuration with every option, its default and its meaning.
    #[arg(long)]
    print_sample_config: bool,
}

#[derive(Debug, Subcommand)]
enum MilterAction {
    /// Translate an OpenDKIM configuration (and an OpenDMARC one) into monban.toml,
    /// listing what could not be translated.
    ImportOpendkim(ImportArgs),
}

/// Flags of `monban milter import-opendkim`.
#[derive(Debug, Args)]
struct ImportArgs {
    /// The OpenDKIM configuration, e.g. /etc/opendkim.conf.
    #[arg(value_name = "OPENDKIM_CONF")]
    opendkim: PathBuf,
    /// The OpenDMARC configuration, e.g. /etc/opendmarc.conf.
    #[arg(long, value_name = "FILE")]
    opendmarc: Option<PathBuf>,
    /// Write the configuration here (refused if it exists) instead of printing it.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Files an OpenDKIM configuration names, read from disk (bounded).
struct DiskFiles;

impl monban_milter::import::Files for DiskFiles {
    fn read(&self, path: &str) -> Result<String, String> {
        monban_dns::file::read_text_limited(std::path::Path::new(path), 16 * 1024 * 1024)
            .map_err(|e| e.to_string())
    }
}

fn import_opendkim(args: &ImportArgs) -> Result<(), Failure> {
    let read = |p: &PathBuf| {
        monban_dns::file::read_text_limited(p, 1024 * 1024)
            .map_err(|e| Failure::other(format!("{}: {e}", p.display())))
    };
    // A configuration is never overwritten: said before the translation's warnings.
    if let Some(path) = &args.out
        && path.exists()
    {
        return Err(Failure::other(format!(
            "--out {} exists: monban does not overwrite a configuration (remove it, or \
             give another path)",
            path.display()
        )));
    }
    let dkim = read(&args.opendkim)?;
    let dmarc = args.opendmarc.as_ref().map(read).transpose()?;
    let imported =
        monban_milter::import::import(&dkim, dmarc.as_deref(), &DiskFiles, &crate::host_name());
    // What it makes must be a configuration monban takes (keys readable, and so on).
    let base = args
        .out
        .as_deref()
        .and_then(std::path::Path::parent)
        .unwrap_or(std::path::Path::new("."));
    if let Err(e) = Config::parse(&imported.toml, "the translated configuration", base) {
        errln!("monban milter: warning: {e}");
    }
    for n in &imported.untranslated {
        errln!("monban milter: not translated: {n}");
    }
    match &args.out {
        None => out!("{}", imported.toml),
        Some(path) => {
            use std::io::Write as _;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|e| Failure::other(format!("cannot create {}: {e}", path.display())))?;
            f.write_all(imported.toml.as_bytes())
                .map_err(|e| Failure::other(format!("cannot write {}: {e}", path.display())))?;
            errln!(
                "monban milter: wrote {} ({} setting(s) not translated); check it with monban milter --check-config --config {}",
                path.display(),
                imported.untranslated.len(),
                path.display()
            );
        }
    }
    Ok(())
}

/// The resolver the daemon uses: `--zone` or `--dns-server` when given (they win over
/// the configuration's `[dns]`, as flags do; `--dns-timeout` over `timeout_seconds`),
/// else the configuration's zone file, or real DNS (its server or the system's), cached.
fn resolver(flags: &crate::dns::DnsArgs, config: &Config) -> Result<SharedResolver, Failure> {
    let timeout = flags.timeout()?.unwrap_or(config.dns_timeout);
    if flags.source_given() {
        return flags.build_with_timeout(timeout);
    }
    let servers = match &config.dns {
        DnsSource::ZoneFile(path) => {
            let zone = ZoneResolver::from_file(path)
                .map_err(|e| Failure::other(format!("zone file {e}")))?;
            crate::dns::warn_skipped(&zone);
            return Ok(SharedResolver::new(zone));
        }
        DnsSource::Server(addr) => vec![*addr],
        DnsSource::System => Vec::new(),
    };
    let hickory = HickoryResolver::new(&HickoryConfig {
        servers,
        timeout,
        attempts: 2,
    })
    .map_err(Failure::other)?;
    Ok(SharedResolver::new(CachingResolver::new(hickory)))
}

/// Whether this process may give a file the group `group` (chown(2): root, or a member
/// of the group), read from `/proc/self/status` and `/etc/group`.
fn can_give_group(group: &str) -> Result<(), String> {
    let gid = config::account_id(std::path::Path::new("/etc/group"), group)?;
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        // Not Linux, or no /proc: chown will tell at start.
        return Ok(());
    };
    let ids = |key: &str| -> Vec<u32> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|rest| {
                rest.split_whitespace()
                    .filter_map(|n| n.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let euid = ids("Uid:").get(1).copied();
    let egid = ids("Gid:").get(1).copied();
    // CAP_CHOWN (bit 0 of the effective capabilities, in hexadecimal): a service given
    // it (AmbientCapabilities=CAP_CHOWN) may give any group.
    let cap_chown = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & 1 != 0);
    if euid == Some(0) || cap_chown || egid == Some(gid) || ids("Groups:").contains(&gid) {
        return Ok(());
    }
    Err(format!(
        "this user (uid {}) is neither root nor in that group",
        euid.map_or_else(|| "?".into(), |u| u.to_string())
    ))
}

/// Gives the Unix socket its mode, owner and group (`listen_mode`, `listen_owner`,
/// `listen_group`), so that Postfix's user can connect.
fn socket_access(path: &std::path::Path, access: &config::SocketAccess) -> Result<(), Failure> {
    use std::os::unix::fs::PermissionsExt as _;
    let fail = |what: String| Failure::other(format!("socket {}: {what}", path.display()));
    let uid = access
        .owner
        .as_deref()
        .map(|u| config::account_id(std::path::Path::new("/etc/passwd"), u))
        .transpose()
        .map_err(|e| fail(format!("listen_owner: {e}")))?;
    let gid = access
        .group
        .as_deref()
        .map(|g| config::account_id(std::path::Path::new("/etc/group"), g))
        .transpose()
        .map_err(|e| fail(format!("listen_group: {e}")))?;
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::chown(path, uid, gid)
            .map_err(|e| fail(format!("cannot change its owner or group: {e}")))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(access.mode))
        .map_err(|e| fail(format!("cannot set mode {:04o}: {e}", access.mode)))
}

pub async fn run(dns_flags: &crate::dns::DnsArgs, args: MilterArgs) -> Result<(), Failure> {
    if let Some(MilterAction::ImportOpendkim(a)) = &args.action {
        return import_opendkim(a);
    }
    if args.print_sample_config {
        out!("{}", config::sample_config());
        return Ok(());
    }
    let path = args.config.expect("required by clap");
    let cfg = Config::load(&path).map_err(|e| Failure::other(e.to_string()))?;
    for w in &cfg.warnings {
        errln!("monban milter: warning: {}: {w}", path.display());
    }
    // Built before the check answers, so that a zone file that is missing or does not
    // parse fails the check, not the start.
    let resolver = resolver(dns_flags, &cfg)?;
    if dns_flags.source_given() && cfg.dns != DnsSource::System {
        errln!(
            "monban milter: DNS from the command line (--zone/--dns-server), not from [dns] of {}",
            path.display()
        );
    }
    if let Listen::Unix(socket) = &cfg.listen
        && let Some(group) = &cfg.socket.group
        && let Err(why) = can_give_group(group)
    {
        return Err(Failure::other(format!(
            "{}: listen_group = {group:?}: {why}, so the socket {} could not be given that group",
            path.display(),
            socket.display()
        )));
    }
    if args.check_config {
        outln!(
            "{}: valid ({} signing rule(s), listening on {}{})",
            path.display(),
            cfg.filter.signing.len(),
            cfg.listen,
            cfg.record.as_ref().map_or(String::new(), |r| format!(
                ", recording to {} through the journal {}",
                match &r.url {
                    monban_store::StoreUrl::Sqlite(p) => format!("sqlite:{}", p.display()),
                    monban_store::StoreUrl::Postgres(_) => "PostgreSQL".into(),
                },
                r.journal.display()
            ))
        );
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init()
        .ok();
    let metrics = Arc::new(Metrics::default());
    let dns = Arc::new(TimedResolver::new(resolver, metrics.clone()));
    let metrics_task = match cfg.metrics {
        Some(addr) => {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| Failure::other(format!("cannot serve metrics on {addr}: {e}")))?;
            Some(tokio::spawn(serve_metrics(l, metrics.clone())))
        }
        None => None,
    };
    // The journal's lock before the socket: a second milter given the same folder stops
    // here, before it could replace the running one's socket with its own.
    let recorder = match &cfg.record {
        Some(rc) => {
            let r = Recorder::start(rc.clone(), metrics.clone())
                .map_err(|e| Failure::other(format!("cannot start recording: {e}")))?;
            errln!(
                "monban milter: recording evaluations (journal {})",
                rc.journal.display()
            );
            Some(Arc::new(r))
        }
        None => None,
    };
    let listener = match &cfg.listen {
        Listen::Inet(addr) => Listener::Tcp(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| Failure::other(format!("cannot listen on {addr}: {e}")))?,
        ),
        Listen::Unix(p) => {
            clear_stale_socket(p)?;
            let l = tokio::net::UnixListener::bind(p)
                .map_err(|e| Failure::other(format!("cannot listen on {}: {e}", p.display())))?;
            socket_access(p, &cfg.socket)?;
            Listener::Unix(l)
        }
    };
    errln!("monban milter: listening on {}", cfg.listen);
    let (cfg_tx, cfg_rx) = watch::channel(cfg.filter.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut hup = signal(SignalKind::hangup())
        .map_err(|e| Failure::other(format!("cannot watch SIGHUP: {e}")))?;
    let mut term = signal(SignalKind::terminate())
        .map_err(|e| Failure::other(format!("cannot watch SIGTERM: {e}")))?;
    let mut int = signal(SignalKind::interrupt())
        .map_err(|e| Failure::other(format!("cannot watch SIGINT: {e}")))?;
    // Reports sent by the milter itself ([reports]): a thread of its own, so that
    // aggregation and sending never take the workers that answer Postfix.
    let reports_thread = match &cfg.reports {
        Some(rc) => {
            let submitter = rc
                .email
                .rsplit_once('@')
                .map(|(_, d)| d.to_ascii_lowercase())
                .unwrap_or_default();
            let generate = monban_report::GenerateOptions {
                org_name: rc.org_name.clone(),
                email: rc.email.clone(),
                extra_contact_info: None,
                begin: 0,
                end: 0,
                now: 0,
                lookback: 30 * monban_report::generate::DAY,
                out_dir: rc.out.clone(),
            };
            let send = monban_report::send::SendOptions {
                smtp_host: rc.smtp_host.clone(),
                smtp_port: rc.smtp_port,
                starttls: rc.starttls,
                hello: crate::host_name(),
                from: rc.email.clone(),
                org_name: rc.org_name.clone(),
                submitter,
                signer: Some(rc.signer.clone()),
                now: 0,
                max_per_hour: rc.max_per_hour,
                max_attempts: 8,
                suppress_for: 7 * monban_report::generate::DAY,
                timeout: monban_report::send::SMTP_TIMEOUT,
                limit: monban_report::send::DELIVERIES_PER_RUN,
            };
            let url = rc.url.clone();
            let dns = dns.clone();
            let stop = stop_rx.clone();
            errln!("monban milter: sending DMARC reports as {}", rc.email);
            Some(
                std::thread::Builder::new()
                    .name("monban-reports".into())
                    .spawn(move || {
                        match tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                        {
                            Ok(rt) => rt.block_on(monban_report::schedule::run(
                                url, &*dns, generate, send, stop,
                            )),
                            Err(e) => errln!("monban milter: reports are off: {e}"),
                        }
                    })
                    .map_err(|e| Failure::other(format!("cannot start the report thread: {e}")))?,
            )
        }
        None => None,
    };
    let server = tokio::spawn(serve_recording(
        listener,
        cfg_rx,
        dns,
        metrics,
        cfg.limits.clone(),
        stop_rx,
        recorder.clone(),
    ));
    loop {
        tokio::select! {
            _ = hup.recv() => match Config::load(&path) {
                // A reload that fails validation keeps the old configuration.
                Ok(new) => {
                    let mut pending = cfg.restart_only_changes(&new);
                    // DNS from the command line does not come from [dns] at all.
                    if dns_flags.source_given() {
                        pending.retain(|k| *k != "[dns]");
                    }
                    if pending.is_empty() {
                        errln!("monban milter: configuration reloaded");
                    } else {
                        errln!(
                            "monban milter: configuration reloaded, except {}: read at start only, they take effect at the next restart",
                            pending.join(", ")
                        );
                    }
                    let _ = cfg_tx.send(new.filter);
                }
                Err(e) => errln!("monban milter: reload refused, keeping the running configuration: {e}"),
            },
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    errln!(
        "monban milter: stopping; finishing the messages under way (for up to {} s, shutdown_grace_seconds)",
        cfg.limits.shutdown_grace.as_secs()
    );
    let _ = stop_tx.send(true);
    if let Some(t) = metrics_task {
        t.abort();
    }
    let served = server
        .await
        .map_err(|e| Failure::other(format!("server task failed: {e}")))?
        .map_err(|e| Failure::other(format!("server failed: {e}")));
    if let Some(t) = reports_thread {
        let _ = tokio::task::spawn_blocking(move || t.join()).await;
    }
    if let Some(r) = recorder {
        // What the store does not take in time stays in the journal for the next start.
        let _ = tokio::task::spawn_blocking(move || r.shutdown(std::time::Duration::from_secs(10)))
            .await;
    }
    served
}

/// Removes a socket a previous run left at `path` (bind would fail on it), and only
/// that: a path that is not a socket is never removed, and a socket another process
/// still answers on is not taken from it (a second milter started with the same
/// configuration unlinked the live one's socket, leaving it unreachable).
fn clear_stale_socket(path: &std::path::Path) -> Result<(), Failure> {
    use std::os::unix::fs::FileTypeExt as _;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(Failure::other(format!(
                "cannot listen on {}: {e}",
                path.display()
            )));
        }
    };
    if !meta.file_type().is_socket() {
        return Err(Failure::other(format!(
            "cannot listen on {}: it exists and is not a socket (not removed)",
            path.display()
        )));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(Failure::other(format!(
            "cannot listen on {}: another process is listening on it (is a milter already running?)",
            path.display()
        ))),
        // Nobody answers: left by a run that ended.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => std::fs::remove_file(path)
            .map_err(|e| {
                Failure::other(format!(
                    "cannot remove the stale socket {}: {e}",
                    path.display()
                ))
            }),
        // Not allowed to try (another user's socket), or another failure: whether a
        // milter answers there cannot be told, so it is left alone.
        Err(e) => Err(Failure::other(format!(
            "cannot listen on {}: a socket is there and whether a milter answers on it cannot be told ({e}); remove it if it is stale",
            path.display()
        ))),
    }
}
