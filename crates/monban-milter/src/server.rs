//! The daemon's I/O: accept MTA connections on TCP or a unix socket and run a
//! [`Session`] on each. The filter configuration is read from a watch channel for each
//! new connection, so a reload applies to the next connection and never to one in
//! progress; shutdown stops accepting and lets open connections finish.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use monban::message::HeaderError;
use monban_dns::Resolver;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::metrics::Metrics;
use crate::protocol::{Command, Framer, Response};
use crate::recorder::Recorder;
use crate::session::{Action, FilterConfig, MessageOutcome, Refused, Session, Step};

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
    /// How long the end of a message (DNS lookups, verification, signing) may take,
    /// waiting for a turn on the blocking pool included, and how long any other costly
    /// step may wait for its turn; past it the message is answered `451 4.4.3` and the
    /// sender retries.
    pub message_timeout: Duration,
    /// The largest packet accepted (at most [`crate::protocol::MAX_PACKET`]): what a
    /// connection can make monban hold.
    pub max_packet: usize,
    /// When TCP connections acknowledge at once ([`QuickAckMode`]; `tcp_quickack`).
    pub quick_ack: QuickAckMode,
    /// How long a stopping server lets the messages under way go on. A message is
    /// given as long as the MTA takes to send it, which a slow SMTP client can make the
    /// idle timeout (10 minutes) per command; past this, the connections still open are
    /// closed and the MTA applies its default action to their messages (Postfix:
    /// `milter_default_action = tempfail`, so the senders retry and nothing is lost).
    pub shutdown_grace: Duration,
}

/// When the milter acknowledges the MTA's TCP segments at once (`tcp_quickack`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuickAckMode {
    /// While fewer than [`QUICK_ACK_SESSIONS_PER_CPU`] sessions per CPU are open: then
    /// the sessions' waits leave no CPU idle, and delayed acknowledgements save CPU.
    Auto,
    /// Always (lowest latency).
    Always,
    /// Never (least CPU; each session waits on delayed acknowledgements).
    Never,
}

/// [`QuickAckMode::Auto`]'s threshold. One session passes about 22 messages/s on delayed
/// acknowledgements (`SESSIONS=1 benches/milter-load.sh`), and one CPU verifies about 200
/// a second through Postfix: from about 8 sessions per CPU on, the waits are hidden.
pub const QUICK_ACK_SESSIONS_PER_CPU: usize = 8;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 500,
            idle_timeout: Duration::from_secs(600),
            command_timeout: Duration::from_secs(30),
            message_timeout: Duration::from_secs(120),
            max_packet: crate::protocol::MAX_PACKET,
            quick_ack: QuickAckMode::Auto,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Why a connection ended early.
fn timed_out(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, format!("{what} timed out"))
}

/// A costly step got no turn on the blocking pool within the message time: the MTA is
/// answered 451 (`limit="message_timeout"`); the error that ends the connection.
async fn no_turn(
    metrics: &Metrics,
    command_timeout: Duration,
    stream: &mut (impl AsyncWrite + Unpin),
) -> std::io::Error {
    metrics.limit("message_timeout");
    let reply = Response::ReplyCode(MESSAGE_TIMEOUT_REPLY.into());
    let _ = tokio::time::timeout(command_timeout, stream.write_all(&reply.encode())).await;
    timed_out("waiting for a turn to check the message")
}

/// Runs a step that may be CPU-heavy (the end of the header: signatures parsed and
/// header data canonicalized; a large body chunk hashed; the end of the message:
/// lookups, verification, signing) on the blocking pool, so that it never holds one of
/// the runtime's few workers and delays other connections (issue 9). At most
/// [`BLOCKING_PERMITS`] such steps run at once (waiting for a turn holds no thread),
/// and a step waits for its turn until `deadline`: `None` when it got none by then (the
/// session is dropped). The session comes back with the result.
async fn off_worker<T, F>(
    permits: &Semaphore,
    deadline: tokio::time::Instant,
    session: Session,
    work: F,
) -> std::io::Result<Option<(Session, T)>>
where
    T: Send + 'static,
    F: FnOnce(&mut Session, &tokio::runtime::Handle) -> T + Send + 'static,
{
    let Ok(permit) = tokio::time::timeout_at(deadline, permits.acquire()).await else {
        return Ok(None);
    };
    let _permit = permit.map_err(|_| std::io::Error::other("the server is stopping"))?;
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut session = session;
        let out = work(&mut session, &handle);
        (session, out)
    })
    .await
    .map(Some)
    .map_err(|e| std::io::Error::other(format!("a message task failed: {e}")))
}

/// How many steps run on the blocking pool at once: below tokio's default of 512
/// blocking threads, so the pool never grows past it; a step waiting on DNS holds one.
pub const BLOCKING_PERMITS: usize = 256;

/// Senders the reflector's hourly limit keeps track of at most.
const REFLECTED_SENDERS: usize = 10_000;

/// What every connection of one server shares.
#[derive(Debug)]
pub struct Shared<R> {
    /// DNS.
    pub resolver: Arc<R>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Limits and timeouts.
    pub limits: Limits,
    /// Turns on the blocking pool ([`BLOCKING_PERMITS`]).
    pub permits: Semaphore,
    /// Turns true when the server stops: idle connections between messages close.
    pub shutdown: watch::Receiver<bool>,
    /// Where judged messages' evaluations go, when recording is on.
    pub recorder: Option<Arc<Recorder>>,
    /// When the reflector answered each sender (Unix seconds), for its hourly limit.
    reflected: std::sync::Mutex<std::collections::HashMap<String, Vec<i64>>>,
}

impl<R> Shared<R> {
    /// Everything a connection needs.
    pub fn new(
        resolver: Arc<R>,
        metrics: Arc<Metrics>,
        limits: Limits,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Self {
            resolver,
            metrics,
            limits,
            permits: Semaphore::new(BLOCKING_PERMITS),
            shutdown,
            recorder: None,
            reflected: Default::default(),
        }
    }

    /// Whether the reflector may answer `to` once more this hour (and counts it).
    fn reflect_allowed(&self, to: &str, per_hour: u32) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.reflect_allowed_at(to, per_hour, now)
    }

    /// [`Self::reflect_allowed`] at `now` (Unix seconds): at most `per_hour` replies to
    /// one sender in the last hour, [`REFLECTED_SENDERS`] senders tracked (a new sender
    /// past them gets no reply until the senders of an hour ago are forgotten).
    fn reflect_allowed_at(&self, to: &str, per_hour: u32, now: i64) -> bool {
        let to = to.to_ascii_lowercase();
        let mut map = self.reflected.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: senders not seen this hour are forgotten first.
        if map.len() >= REFLECTED_SENDERS && !map.contains_key(&to) {
            map.retain(|_, times| times.iter().any(|t| now - t < 3600));
            if map.len() >= REFLECTED_SENDERS {
                return false;
            }
        }
        let times = map.entry(to).or_default();
        times.retain(|t| now - t < 3600);
        if times.len() >= per_hour as usize {
            return false;
        }
        times.push(now);
        true
    }
}

/// Builds and sends the reflector's reply to `to`: the results of `report`, the header
/// analysis, and the checker's advice for the From domain with the setup the message
/// came from. Runs apart from the connection: the sender's SMTP session never waits.
async fn reflect<R: Resolver + Send + Sync + 'static>(
    resolver: Arc<R>,
    reflector: crate::session::Reflector,
    authserv_id: String,
    to: String,
    report: monban::pipeline::Report,
    envelope: Option<monban::pipeline::Envelope>,
) {
    use monban_diag::check::{CheckOptions, SendingSetup};
    let headers = report.header.clone().unwrap_or_default();
    let analysis = monban_diag::analyze::analyze(&headers, None);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let check = match report.dmarc.header_from.as_deref() {
        Some(domain) => {
            let env = envelope.as_ref();
            let options = CheckOptions {
                sending: Some(SendingSetup {
                    ips: env.and_then(|e| e.ip).into_iter().collect(),
                    mail_from_domain: env
                        .and_then(|e| e.mail_from.as_deref())
                        .and_then(|m| m.rsplit_once('@'))
                        .map(|(_, d)| d.to_owned()),
                    signing_domain: report
                        .dkim
                        .iter()
                        .find(|d| d.result == monban::dkim::DkimResult::Pass)
                        .map(|d| d.domain.clone()),
                }),
                // The keys that signed this message are checked too.
                selectors: report
                    .dkim
                    .iter()
                    .filter(|d| d.domain.eq_ignore_ascii_case(domain) && !d.selector.is_empty())
                    .map(|d| d.selector.clone())
                    .take(5)
                    .collect(),
                now,
                ..CheckOptions::default()
            };
            Some(monban_diag::check::check(&*resolver, domain, &options).await)
        }
        None => None,
    };
    let results = report.authentication_results(&authserv_id);
    let subject = headers
        .get("Subject")
        .next()
        .map(|f| String::from_utf8_lossy(f.value).trim().to_owned());
    let message = monban_diag::reflect::render(&monban_diag::reflect::Reply {
        reflector: &reflector.address,
        to: &to,
        authserv_id: &authserv_id,
        results: &results,
        analysis: &analysis,
        check: check.as_ref(),
        subject: subject.as_deref(),
        now: i64::try_from(now).unwrap_or(i64::MAX),
    });
    match monban_report::send::send_auto_reply(
        &reflector.smtp_host,
        reflector.smtp_port,
        &authserv_id,
        &to,
        &message,
    )
    .await
    {
        Ok(reply) => tracing::info!(to = %to, "reflector: report sent ({reply})"),
        Err(e) => tracing::warn!(to = %to, "reflector: report not sent: {e}"),
    }
}

/// Runs one MTA connection to its end. Returns an error only for I/O or protocol
/// failures and timeouts (the MTA then applies its default action, e.g. Postfix's
/// `milter_default_action = tempfail`).
pub async fn handle<S, R>(
    mut stream: S,
    config: Arc<FilterConfig>,
    shared: &Shared<R>,
) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
    R: Resolver + Send + Sync + 'static,
{
    let limits = &shared.limits;
    let metrics = &*shared.metrics;
    let mut shutdown = shared.shutdown.clone();
    let mut session = Session::new(config.clone(), now());
    let mut framer = Framer::with_limit(limits.max_packet);
    let mut buf = Vec::new();
    // When the packet under way must be complete: set by its first byte, so a peer
    // sending a byte now and then cannot hold a buffer for ever.
    let mut packet_deadline: Option<tokio::time::Instant> = None;
    let mut watching = true;
    loop {
        let (deadline, kind) = match (framer.is_partial(), packet_deadline) {
            (true, Some(d)) => (d, "command"),
            (true, None) => {
                let d = tokio::time::Instant::now() + limits.command_timeout;
                packet_deadline = Some(d);
                (d, "command")
            }
            (false, _) => {
                packet_deadline = None;
                // An MTA negotiates as soon as it connects: until then a connection
                // waits no longer than for the rest of a packet (500 connections that
                // sent nothing held every slot for the idle timeout, 10 minutes).
                let wait = if session.negotiated() {
                    limits.idle_timeout
                } else {
                    limits.idle_timeout.min(limits.command_timeout)
                };
                (tokio::time::Instant::now() + wait, "idle")
            }
        };
        // Read no more than the packet under way needs (at most 64 KiB at a time), so
        // what a connection holds follows what it sent.
        buf.resize(framer.wanted().clamp(4096, 64 * 1024), 0);
        // Between messages, a stopping server closes the connection instead of waiting
        // for the MTA's next command; within a message it lets the message finish.
        let closable = kind == "idle" && !session.in_message();
        if closable && *shutdown.borrow() {
            return Ok(());
        }
        let read = tokio::time::timeout_at(deadline, stream.read(&mut buf));
        let n = tokio::select! {
            r = read => match r {
                Ok(r) => r?,
                Err(_) => {
                    metrics.limit(if kind == "idle" {
                        "idle_timeout"
                    } else {
                        "command_timeout"
                    });
                    return Err(timed_out(&format!("waiting for the MTA ({kind})")));
                }
            },
            changed = shutdown.changed(), if closable && watching => {
                // A dropped sender never signals again: stop watching it.
                watching = changed.is_ok();
                // Reading is cancel-safe: the loop reads again, or closes if stopping.
                continue;
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
            if matches!(cmd, Command::Oversized { .. }) {
                metrics.limit("packet_size");
            }
            // The clock is read per command, not per connection: t= and x= are those
            // of this moment.
            session.set_now(now());
            let heavy = session.is_heavy(&cmd);
            let was_refused = session.refused().is_some();
            // A costly step waits for its turn within the message time; for the end of
            // the message, that time runs from here ("waiting for a turn included").
            let step_started = tokio::time::Instant::now();
            let step = if heavy {
                let turn = off_worker(
                    &shared.permits,
                    step_started + limits.message_timeout,
                    session,
                    move |s, _| s.command(cmd),
                )
                .await?;
                match turn {
                    Some((s, step)) => {
                        session = s;
                        step
                    }
                    // No turn in time: the session went with the waiting task, so the
                    // connection ends after this reply.
                    None => return Err(no_turn(metrics, limits.command_timeout, &mut stream).await),
                }
            } else {
                session.command(cmd)
            };
            // A refusal is logged and counted when it happens: after a refusal at the
            // end of the header the MTA sends no end of message.
            let refused = session.refused().is_some();
            if !was_refused && let Some((why, action)) = session.refused() {
                match why {
                    Refused::Header(HeaderError::TooLarge | HeaderError::TooManyFields) => {
                        metrics.limit("header_size");
                    }
                    Refused::Header(_) => metrics.limit("header_malformed"),
                    // Counted as packet_size when the packet was read past.
                    Refused::BodyPacket => {}
                }
                metrics.message("none", action.as_str());
                tracing::info!(
                    queue_id = session.queue_id().unwrap_or("-"),
                    action = action.as_str(),
                    reason = %why,
                    "message refused"
                );
            }
            if let Some((action, reason)) = session.take_refusal_event() {
                // Counted with the messages, as verdict "connect".
                metrics.message("connect", action.as_str());
                tracing::info!(
                    action = action.as_str(),
                    reason = %reason,
                    "client refused (decided at connect or HELO)"
                );
            }
            let responses: Vec<Response> = match step {
                Step::Reply(r) => r,
                Step::EndOfMessage => {
                    let queue_id = session.queue_id().unwrap_or("-").to_owned();
                    let resolver = shared.resolver.clone();
                    let recorder = shared.recorder.clone();
                    // The whole end of the message, waiting for a turn included.
                    let started = step_started;
                    let deadline = started + limits.message_timeout;
                    // The work stops itself at the deadline (the message is then
                    // answered 451 and the connection goes on).
                    let done = if session.end_only_signs() {
                        // One or two signatures and nothing to look up: cheaper here
                        // than handed to the blocking pool and back.
                        let finish = finish_message(&mut session, &*resolver, recorder.as_deref());
                        tokio::time::timeout_at(deadline, finish).await.ok()
                    } else {
                        let turn = off_worker(&shared.permits, deadline, session, move |s, rt| {
                            let finish = finish_message(s, &*resolver, recorder.as_deref());
                            rt.block_on(tokio::time::timeout_at(deadline, finish))
                        })
                        .await?;
                        match turn {
                            Some((s, done)) => {
                                session = s;
                                done.ok()
                            }
                            // No turn in time: the session went with the waiting task, so
                            // the connection ends after this reply.
                            None => {
                                metrics.end_of_message(started.elapsed());
                                return Err(
                                    no_turn(metrics, limits.command_timeout, &mut stream).await
                                );
                            }
                        }
                    };
                    metrics.end_of_message(started.elapsed());
                    let (outcome, evaluation) = done.unwrap_or_else(|| {
                        metrics.limit("message_timeout");
                        let timed_out = MessageOutcome {
                            responses: vec![Response::ReplyCode(MESSAGE_TIMEOUT_REPLY.into())],
                            report: None,
                            envelope: None,
                            action: Action::Tempfail,
                            reflect_to: None,
                        };
                        (timed_out, None)
                    });
                    // Journaled once the answer is final and before the MTA hears it: a
                    // message whose fate is decided is in the journal even if the milter
                    // is killed now, and one answered 451 (retried) is not.
                    if let (Some(r), Some(e)) = (&shared.recorder, &evaluation) {
                        r.append(e);
                    }
                    // A refused message was logged and counted when it was refused.
                    if !refused {
                        record(metrics, &queue_id, &outcome);
                    }
                    if let (Some(to), Some(report), Some(reflector)) = (
                        outcome.reflect_to.clone(),
                        outcome.report.clone(),
                        config.reflector.clone(),
                    ) {
                        if shared.reflect_allowed(&to, reflector.per_hour) {
                            tokio::spawn(reflect(
                                shared.resolver.clone(),
                                reflector,
                                config.authserv_id.clone(),
                                to,
                                report,
                                outcome.envelope.clone(),
                            ));
                        } else {
                            tracing::info!(to = %to, "reflector: hourly limit reached, no reply");
                        }
                    }
                    outcome.responses
                }
                Step::Connect => {
                    let resolver = shared.resolver.clone();
                    session.connect_checks(&*resolver).await
                }
                Step::Close => return Ok(()),
                Step::Protocol(why) => {
                    metrics.limit("protocol");
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("milter protocol: {why}"),
                    ));
                }
            };
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

/// The evaluation to record of a judged message (with its failure report, when the
/// policy asks for one). A tempfailed message is not recorded: the sender retries it
/// and it is judged again.
/// The end of a message: its outcome, and what is recorded of it when recording is on.
async fn finish_message<R: Resolver>(
    session: &mut Session,
    resolver: &R,
    recorder: Option<&Recorder>,
) -> (MessageOutcome, Option<monban_store::Evaluation>) {
    let outcome = session.end_of_message(resolver).await;
    let evaluation = match recorder {
        Some(r) => evaluation(r, &outcome, resolver).await,
        None => None,
    };
    (outcome, evaluation)
}

async fn evaluation<R: Resolver>(
    recorder: &Recorder,
    outcome: &MessageOutcome,
    resolver: &R,
) -> Option<monban_store::Evaluation> {
    if outcome.action == Action::Tempfail {
        return None;
    }
    let (report, envelope) = (outcome.report.as_ref()?, outcome.envelope.as_ref()?);
    let now = i64::try_from(now()).unwrap_or(i64::MAX);
    Some(recorder.evaluation(report, envelope, resolver, now).await)
}

/// The answer when the end of a message takes longer than the limit.
const MESSAGE_TIMEOUT_REPLY: &str =
    "451 4.4.3 the message could not be checked in time; please try again later";

/// Counts and logs what happened to a message: its typed action, never read back from
/// the reply text.
fn record(metrics: &Metrics, queue_id: &str, outcome: &MessageOutcome) {
    let action = outcome.action.as_str();
    let report = outcome.report.as_ref();
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
                // `none` for unsigned mail, as Authentication-Results says it (RFC 8601
                // §2.7.1), not an empty value.
                dkim = if r.dkim.is_empty() {
                    "none".to_owned()
                } else {
                    r.dkim
                        .iter()
                        .map(|d| d.result.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                }
                .as_str(),
                dmarc = r.dmarc.result.as_str(),
                disposition = r.dmarc.disposition.as_str(),
                overrides = r
                    .dmarc
                    .overrides
                    .iter()
                    .map(|o| o.kind.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
                    .as_str(),
                action,
                // Why DMARC came out as it did ("the message has 2 From fields", "the
                // From field does not parse: ..."): a refused message's
                // Authentication-Results is never delivered, so this is where an
                // administrator finds it.
                reason = r
                    .dmarc
                    .reason
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), ToString::to_string)
                    .as_str(),
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
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()>
where
    R: Resolver + Send + Sync + 'static,
{
    serve_recording(listener, config, resolver, metrics, limits, shutdown, None).await
}

/// [`serve`], with the evaluations of judged messages appended to `recorder`.
pub async fn serve_recording<R>(
    listener: Listener,
    config: watch::Receiver<Arc<FilterConfig>>,
    resolver: Arc<R>,
    metrics: Arc<Metrics>,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
    recorder: Option<Arc<Recorder>>,
) -> std::io::Result<()>
where
    R: Resolver + Send + Sync + 'static,
{
    let max_connections = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max_connections));
    let mut shared = Shared::new(resolver, metrics.clone(), limits, shutdown.clone());
    shared.recorder = recorder;
    let shared = Arc::new(shared);
    let quick_ack = match shared.limits.quick_ack {
        QuickAckMode::Always => Some(usize::MAX),
        QuickAckMode::Never => None,
        QuickAckMode::Auto => Some(
            std::thread::available_parallelism()
                .map_or(1, std::num::NonZeroUsize::get)
                .saturating_mul(QUICK_ACK_SESSIONS_PER_CPU),
        ),
    }
    .map(|below| QuickAckGate {
        slots: slots.clone(),
        max: max_connections,
        below,
    });
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
                    Listener::Tcp(l) => l.accept().await.map(|(s, _)| {
                        // Each reply is one write, read at once by an MTA waiting for
                        // it: Nagle's algorithm would only hold it back.
                        let _ = s.set_nodelay(true);
                        Conn::Tcp(QuickAck { stream: s, gate: quick_ack.clone() })
                    }),
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
                    tracing::warn!(max = max_connections, "too many milter connections; closing a new one");
                    drop(conn);
                    continue;
                };
                let cfg = config.borrow().clone();
                let shared = shared.clone();
                let metrics = metrics.clone();
                tasks.spawn(async move {
                    let _slot = slot;
                    // Ended on drop too: a stopping server aborts sessions past the grace.
                    let session = SessionCount::start(metrics);
                    let result = match conn {
                        Conn::Tcp(s) => handle(s, cfg, &shared).await,
                        Conn::Unix(s) => handle(s, cfg, &shared).await,
                    };
                    if let Err(e) = result {
                        session.0.error();
                        tracing::warn!(error = %e, "milter connection ended with an error");
                    }
                });
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    // Idle connections close at once (`handle`); messages under way get the grace.
    let grace = shared.limits.shutdown_grace;
    let finished =
        tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    if finished.is_err() {
        let cut = tasks.len();
        tracing::warn!(
            connections = cut,
            grace_seconds = grace.as_secs(),
            "stopping: closing connections whose message did not end within the grace period; the MTA applies its default action (tempfail) to them"
        );
        for _ in 0..cut {
            metrics.limit("shutdown_grace");
        }
        tasks.shutdown().await;
    }
    Ok(())
}

/// One open session in the metrics, from its start until it is dropped (ended or
/// aborted).
struct SessionCount(Arc<Metrics>);

impl SessionCount {
    fn start(metrics: Arc<Metrics>) -> Self {
        metrics.session_started();
        Self(metrics)
    }
}

impl Drop for SessionCount {
    fn drop(&mut self) {
        self.0.session_ended();
    }
}

enum Conn {
    Tcp(QuickAck),
    Unix(tokio::net::UnixStream),
}

/// An MTA's TCP connection that acknowledges what it reads at once (Linux
/// `TCP_QUICKACK`).
///
/// The MTA writes the macros and the command of a step, and with the replies
/// negotiated away (SMFIP_NR_*) several steps, as separate small segments; with Nagle's
/// algorithm on its side, each one waits for the acknowledgement of the one before,
/// which a receiver with nothing to send back delays by 40 ms. Measured with Postfix and
/// one SMTP session at a time (`SESSIONS=1 benches/milter-load.sh`): 22 messages/s with
/// delayed acknowledgements, 365 without. A Unix socket has no such delay.
///
/// Linux delays acknowledgements in its "pingpong" (interactive) mode, which a
/// connection enters when it sends data soon after receiving some: here, after each of
/// our replies. `TCP_QUICKACK` leaves that mode (and sends an acknowledgement that is
/// due), so it is set again after every reply written, not after every read: a message
/// costs one call per reply (about five) instead of one per segment the MTA sends
/// (one per header field, with NR_HDR).
///
/// Off (`tcp_quickack = false`), the kernel's delayed acknowledgements let the MTA's
/// small writes coalesce into fewer segments: less CPU on both sides when many sessions
/// run at once and hide each one's wait.
struct QuickAck {
    stream: tokio::net::TcpStream,
    /// `None`: never (`tcp_quickack = false`).
    gate: Option<QuickAckGate>,
}

/// Whether few enough sessions are open for acknowledging at once.
#[derive(Clone)]
struct QuickAckGate {
    /// The connection slots: those taken are the sessions open.
    slots: Arc<Semaphore>,
    max: usize,
    /// Acknowledge at once while fewer sessions than this are open.
    below: usize,
}

impl QuickAck {
    fn ack_now(&self) {
        #[cfg(target_os = "linux")]
        if let Some(g) = &self.gate
            && g.max.saturating_sub(g.slots.available_permits()) < g.below
        {
            let _ = socket2::SockRef::from(&self.stream).set_tcp_quickack(true);
        }
    }
}

impl AsyncRead for QuickAck {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for QuickAck {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.stream).poll_write(cx, data);
        if matches!(polled, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.ack_now();
        }
        polled
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Shared<monban_dns::ZoneResolver> {
        let (_, shutdown) = watch::channel(false);
        Shared::new(
            Arc::new(monban_dns::ZoneResolver::new()),
            Arc::new(Metrics::default()),
            Limits::default(),
            shutdown,
        )
    }

    /// Five replies an hour to one sender (whatever the case of the address), the
    /// sixth refused; an hour after the first, one more.
    #[test]
    fn reflector_replies_per_sender_and_hour() {
        let s = shared();
        let now = 1_800_000_000;
        for i in 0..5 {
            assert!(s.reflect_allowed_at("Alice@example.com", 5, now + i), "{i}");
        }
        assert!(!s.reflect_allowed_at("alice@example.com", 5, now + 10));
        assert!(s.reflect_allowed_at("bob@example.com", 5, now + 10));
        assert!(!s.reflect_allowed_at("alice@example.com", 5, now + 3_599));
        assert!(s.reflect_allowed_at("alice@example.com", 5, now + 3_600));
    }

    /// 10,000 senders are tracked; a new one past them gets no reply while they are
    /// all of this hour (a sender already tracked still does), and one once the
    /// senders of an hour ago are forgotten.
    #[test]
    fn reflector_tracks_at_most_10000_senders() {
        assert_eq!(REFLECTED_SENDERS, 10_000);
        let s = shared();
        let now = 1_800_000_000;
        for i in 0..REFLECTED_SENDERS {
            assert!(
                s.reflect_allowed_at(&format!("s{i}@example.com"), 5, now),
                "{i}"
            );
        }
        assert!(!s.reflect_allowed_at("new@example.com", 5, now + 1));
        assert!(s.reflect_allowed_at("s0@example.com", 5, now + 1));
        assert!(s.reflect_allowed_at("new@example.com", 5, now + 3_600));
        assert!(s.reflected.lock().unwrap().len() <= REFLECTED_SENDERS);
    }
}
