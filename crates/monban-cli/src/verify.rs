//! `monban verify`: evaluates every method that applies to each message and prints the
//! `Authentication-Results` header (RFC 8601), or JSON (DESIGN §4).
//!
//! Messages stream through the library's staged verifier: the header is parsed, body
//! chunks are hashed as they are read, keys are fetched at the end.

use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::panic::AssertUnwindSafe;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use monban::dkim::DkimConfig;
use monban::dmarc::{Disposition, DmarcConfig, OrgDomainMode, PublicSuffixList};
use monban::message::CrlfNormalizer;
use monban::pipeline::{Envelope, MessageVerifier, Report, VerifyConfig};
use monban::spf::SpfConfig;
use monban::view::VerifyView;

use crate::dns::{DnsArgs, DnsSource};
use crate::input::{self, Messages, Source};
use crate::{Failure, host_name};

/// Flags of `monban verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Messages: files, Maildir folders, mbox files, or - for standard input (the
    /// default).
    #[arg(value_name = "FILE")]
    files: Vec<String>,
    /// The SMTP client's IP address, to check SPF.
    #[arg(long, value_name = "IP")]
    ip: Option<String>,
    /// The HELO/EHLO name, to check the HELO identity.
    #[arg(long, value_name = "NAME")]
    helo: Option<String>,
    /// The MAIL FROM address, to check SPF ("" for the null sender).
    #[arg(long, value_name = "ADDR")]
    mail_from: Option<String>,
    /// The authserv-id written in Authentication-Results (default: the host name).
    #[arg(long, value_name = "ID")]
    authserv_id: Option<String>,
    /// Signatures evaluated per message; the rest are reported without work.
    #[arg(long, value_name = "N", default_value_t = 5)]
    max_signatures: usize,
    /// Let a signature whose l= leaves unsigned body content pass (default: policy).
    #[arg(long)]
    allow_unsigned_body: bool,
    /// The legacy profile: accept rsa-sha1 signatures (RFC 8301 forbids them).
    #[arg(long)]
    legacy: bool,
    /// Verify as of this time instead of now (for archived mail): Unix seconds, a date
    /// (2026-11-22) or an RFC 3339 date-time (2026-11-22T10:00:00Z).
    #[arg(long, value_name = "TIME", value_parser = crate::time::parse_at)]
    at: Option<u64>,
    /// Give a message with no author domain to judge (no From, several, unparseable, or
    /// a header that cannot be split into fields) the disposition reject: the default,
    /// as the milter's; kept for scripts that name it.
    #[arg(long, conflicts_with = "deliver_unparseable_from")]
    reject_unparseable_from: bool,
    /// Give such a message the disposition none instead of reject (its DMARC result is
    /// permerror either way): a spoofer of a p=reject domain then needs only a From, or
    /// any header line, that does not parse.
    #[arg(long)]
    deliver_unparseable_from: bool,
    /// Find organizational domains with the Public Suffix List (RFC 7489) instead of the
    /// DNS tree walk (RFC 9989, the default); uses the bundled list.
    #[arg(long)]
    psl: bool,
    /// With --psl: a newer Public Suffix List file to use instead of the bundled one.
    #[arg(long, value_name = "FILE", requires = "psl")]
    psl_file: Option<std::path::PathBuf>,
    /// Trust this ARC sealer (a domain, and its subdomains; repeatable): mail that
    /// fails DMARC is delivered (disposition none, override trusted_forwarder) when its
    /// ARC chain passes and this sealer recorded that it passed (RFC 8617).
    #[arg(long = "trusted-arc-sealer", value_name = "DOMAIN")]
    trusted_arc_sealers: Vec<String>,
    /// Also verify DKIM2 (draft-ietf-dkim-dkim2-spec-02; off while it is a draft): the
    /// whole chain of DKIM2-Signature and Message-Instance fields, and, given
    /// --mail-from (and --rcpt-to), that this delivery's envelope is the latest hop's.
    /// Reported as dkim2= and the dkim2 JSON key; never counts for DMARC.
    #[arg(long)]
    dkim2: bool,
    /// With --dkim2: an SMTP RCPT TO of this delivery (repeatable).
    #[arg(long = "rcpt-to", value_name = "ADDR", requires = "dkim2")]
    rcpt_to: Vec<String>,
    /// Ask this DNS block list about the client (--ip; repeatable): ZONE,
    /// ZONE=127.0.0.2,127.0.0.4 (the codes that count) or ZONE&0x0c (a bit mask).
    /// Reported as x-dnsbl= and the dnsbl JSON key; a list that fails lists nobody.
    #[arg(long = "dnsbl", value_name = "ZONE", requires = "ip")]
    dnsbl: Vec<String>,
    /// Ask this DNS allow list about the client (repeatable, same forms): a listed
    /// client is not looked up in the block lists.
    #[arg(long = "dnswl", value_name = "ZONE", requires = "ip")]
    dnswl: Vec<String>,
    /// Leave Sender ID (RFC 4406, historic) out. By default it is checked whenever
    /// --ip is given, reported as sender-id= and the sender_id JSON key, and never
    /// counts for DMARC.
    #[arg(long = "no-sender-id")]
    no_sender_id: bool,
    /// Print one JSON object per message (JSON Lines).
    #[arg(long)]
    json: bool,
    /// Verify this many inputs at once (default: the number of CPUs this process may
    /// use; at most 1024). Results are printed in input order; the threads left over
    /// when there are fewer inputs verify the messages of an mbox at once.
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// Also append each evaluation to the store, as a receiver would (for aggregate
    /// reports), stamped with the evaluation time (--at when given).
    #[arg(long)]
    record: bool,
    /// The store: sqlite:PATH or postgres://... (default: $MONBAN_STORE, else
    /// sqlite:$XDG_DATA_HOME/monban/monban.db).
    #[arg(long, value_name = "URL", requires = "record")]
    store: Option<String>,
}

/// The id of a recorded evaluation, from what makes the delivery itself: the message's
/// header block (its Received, Message-ID and Date fields among them) and the envelope.
/// Verifying the same archive again (after a failure part-way, say) then records
/// nothing twice, as the milter's journal replay does; run-unique ids had counted a
/// re-run's 10,000 messages again. [`Recorder::add`] numbers the copies within a run. `None` without a header (a message that did not
/// parse): such an evaluation gets an id of its run.
fn evaluation_id(report: &Report, envelope: &Envelope) -> Option<u128> {
    let header = report.header.as_ref()?;
    let mut data = header.as_bytes().to_vec();
    // Not the time: without --at it is the run's, and a re-run after midnight would
    // record everything again.
    for part in [
        envelope.ip.map(|ip| ip.to_string()).unwrap_or_default(),
        envelope.helo.clone().unwrap_or_default(),
        envelope.mail_from.clone().unwrap_or_default(),
        envelope.rcpt_to.join(","),
    ] {
        data.push(0);
        data.extend_from_slice(part.as_bytes());
    }
    let digest = monban::crypto::hash(monban::crypto::HashAlgorithm::Sha256, &data);
    let first: [u8; 16] = digest.get(..16)?.try_into().ok()?;
    Some(u128::from_be_bytes(first))
}

/// Where recorded evaluations go, written in batches.
struct Recorder {
    store: Box<dyn monban_store::Store>,
    pending: Vec<monban_store::Evaluation>,
    discovery: &'static str,
    uid_base: String,
    next: u64,
    recorded: usize,
    /// Evaluations given to the store (those it had already are not recorded again).
    offered: usize,
    /// How many times each delivery id was met in this run (16 bytes of digest a
    /// message: about 40 MB for a million).
    copies: std::collections::HashMap<u128, u32>,
    failure: monban_report::failure::FailureOptions,
    limiter: std::sync::Mutex<monban_report::failure::RateLimiter>,
    /// Whether the limiter was started from the store's last hour (at the first
    /// evaluation, whose time is the run's).
    limiter_seeded: bool,
    failure_reports: usize,
}

impl Recorder {
    const BATCH: usize = 500;

    async fn open(args: &VerifyArgs, authserv_id: &str) -> Result<Option<Self>, Failure> {
        if !args.record {
            return Ok(None);
        }
        let store = crate::report::open_store(args.store.as_deref()).await?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Ok(Some(Self {
            store,
            pending: Vec::new(),
            discovery: if args.psl { "psl" } else { "treewalk" },
            // Unique across runs and hosts: host, process, start time, sequence.
            uid_base: format!("{}-{}-{nanos}", host_name(), std::process::id()),
            next: 0,
            recorded: 0,
            offered: 0,
            copies: std::collections::HashMap::new(),
            failure: monban_report::failure::FailureOptions {
                authserv_id: authserv_id.to_owned(),
                redact: true,
                per_hour: 10,
            },
            limiter: std::sync::Mutex::default(),
            limiter_seeded: false,
            failure_reports: 0,
        }))
    }

    async fn add<R: monban_dns::Resolver>(
        &mut self,
        report: &Report,
        envelope: &Envelope,
        time: u64,
        resolver: &R,
    ) -> Result<(), Failure> {
        self.next += 1;
        let time = i64::try_from(time).unwrap_or(i64::MAX);
        let uid = match evaluation_id(report, envelope) {
            // The k-th copy of one delivery in this run is the k-th again in a re-run:
            // copies within a run all count, a re-run adds none.
            Some(id) => {
                let k = self.copies.entry(id).or_insert(0);
                *k += 1;
                format!("m-{id:032x}-{k}")
            }
            None => format!("{}-{}", self.uid_base, self.next),
        };
        if !self.limiter_seeded {
            self.limiter_seeded = true;
            let seeded = monban_report::failure::RateLimiter::from_store(&*self.store, time)
                .await
                .map_err(|e| Failure::other(format!("recording failed: {e}")))?;
            self.limiter = std::sync::Mutex::new(seeded);
        }
        // A failure report (RFC 9991) when the policy asks for one, as the milter does.
        let failure = monban_report::failure::build(
            report,
            envelope,
            resolver,
            &uid,
            time,
            &self.failure,
            &self.limiter,
        )
        .await;
        self.failure_reports += usize::from(failure.is_some());
        let mut e =
            monban_store::Evaluation::from_report(report, envelope, time, self.discovery, uid);
        e.failure = failure;
        self.pending.push(e);
        if self.pending.len() >= Self::BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), Failure> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.offered += self.pending.len();
        self.recorded += self
            .store
            .record(&self.pending)
            .await
            .map_err(|e| Failure::other(format!("recording failed: {e}")))?;
        self.pending.clear();
        Ok(())
    }
}

/// Streams one message through the pipeline's staged verifier. A header that is
/// malformed or over a limit stops the reading of that message (the verifier keeps
/// the reason and gives its verdict); `None` when the input holds no more messages.
/// `buf` holds the normalizer's output when a chunk needs one (reused).
fn read_message(
    messages: &mut Messages<impl std::io::BufRead>,
    make: impl FnOnce() -> MessageVerifier,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<MessageVerifier>> {
    let mut normalizer = CrlfNormalizer::new();
    let mut verifier = make();
    let found = messages.next_message(|chunk| {
        // Input that is CRLF already goes through without a copy.
        match verifier.push(normalizer.apply(chunk, buf)) {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        }
    })?;
    Ok(found.then_some(verifier))
}

/// A worker's buffers, reused from one input to the next.
#[derive(Default)]
struct Buffers {
    /// What the input is read into ([`input::READ_CHUNK`]).
    read: Vec<u8>,
    /// The line-ending normalizer's output, when a chunk needs one.
    norm: Vec<u8>,
}

/// What every worker shares: the configuration of the run.
struct Job {
    envelope: Envelope,
    config: VerifyConfig,
    now: u64,
    resolver: DnsSource,
    authserv_id: String,
    json: bool,
    /// Several inputs: each result is labelled.
    several: bool,
    /// Keep each report for the recorder.
    record: bool,
    runtime: tokio::runtime::Handle,
    /// The labels of the messages whose verification panics, in this module's tests.
    #[cfg(test)]
    panics_at: Vec<String>,
}

/// One input's outcome, as its worker sends it, in order.
enum Event {
    /// A message, verified: its output is ready to print.
    Message(Box<Verified>),
    /// The input could not be opened or read, or its verification stopped on a bug
    /// (after the messages sent before).
    Failed(String),
    /// The input held no message.
    Empty,
}

struct Verified {
    /// The output lines (JSON, or the Authentication-Results block).
    text: String,
    /// The DMARC result, for the summary.
    dmarc: &'static str,
    /// Why the message is malformed, for stderr.
    malformed: Option<String>,
    /// The report, when it is to be recorded.
    report: Option<Report>,
}

impl Job {
    /// Verifies every message of one input, handing each result to `emit` as it is
    /// ready (a worker's emitter blocks while the printer is behind: bounded memory);
    /// stops when `emit` answers false. An mbox is verified on `parallel` threads
    /// ([`Job::run_mbox`]) when that is more than one.
    fn run(
        &self,
        source: &Source,
        bufs: &mut Buffers,
        parallel: usize,
        emit: &mut dyn FnMut(Event) -> bool,
    ) {
        let Buffers { read, norm: buf } = bufs;
        let reader = match input::open_in(source, read) {
            Ok(r) => r,
            Err(e) => {
                emit(Event::Failed(e.to_string()));
                return;
            }
        };
        let mut messages = Messages::new(reader);
        let mut index = 0usize;
        loop {
            if index == 1 && parallel > 1 && messages.has_next() {
                // The first message showed an mbox with more to come.
                self.run_mbox(&mut messages, source, parallel, emit);
                return;
            }
            let verifier = match read_message(&mut messages, || self.verifier(), buf) {
                Ok(None) => break,
                Ok(Some(v)) => v,
                Err(e) => {
                    emit(Event::Failed(format!("{}: {e}", source.label())));
                    return;
                }
            };
            index += 1;
            let label = if messages.is_mbox() {
                mbox_label(source, index)
            } else {
                source.label()
            };
            let verified = self.verdict(verifier, &label, messages.is_mbox());
            if !emit(Event::Message(Box::new(verified))) {
                return;
            }
        }
        if index == 0 {
            emit(Event::Empty);
        }
    }

    /// [`Job::run`], with a panic (a bug) in the verification of `source` turned into
    /// that input's failure: its messages verified before are out, the rest of it is
    /// not judged, the run goes on with the next input and ends with an error. A
    /// verifying thread that died instead would leave its inputs never answered, and
    /// the printer waiting for them. A panic in `emit` (the printer's) is not the
    /// input's: it goes on up as it came.
    fn run_guarded(
        &self,
        source: &Source,
        bufs: &mut Buffers,
        parallel: usize,
        emit: &mut dyn FnMut(Event) -> bool,
    ) {
        let mut open = true;
        let mut printer_panic = None;
        let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
            self.run(source, bufs, parallel, &mut |event| {
                open = match std::panic::catch_unwind(AssertUnwindSafe(|| emit(event))) {
                    Ok(open) => open,
                    Err(panic) => {
                        printer_panic = Some(panic);
                        false
                    }
                };
                open
            });
        }));
        if let Some(panic) = printer_panic {
            std::panic::resume_unwind(panic);
        }
        if let Err(panic) = ran
            && open
        {
            let what = panic
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("a panic");
            emit(Event::Failed(format!(
                "{}: verification stopped on an internal error, a bug in monban \
                 (please report it with this input): {what}",
                source.label()
            )));
            // Buffers a panic left in any state start afresh.
            *bufs = Buffers::default();
        }
    }

    /// A verifier for one message.
    fn verifier(&self) -> MessageVerifier {
        MessageVerifier::new(self.envelope.clone(), self.config.clone(), self.now)
    }

    /// The verdict on a message read whole (an mbox's, split off by [`Job::run_mbox`]).
    fn verify_bytes(&self, message: &[u8], label: &str, norm: &mut Vec<u8>) -> Verified {
        let mut verifier = self.verifier();
        // An error is a malformed header: the verifier keeps the reason for its verdict.
        let _ = verifier.push(CrlfNormalizer::new().apply(message, norm));
        self.verdict(verifier, label, true)
    }

    /// The rest of an mbox (after its first message) on `parallel` threads: this one
    /// splits the messages off, and it and up to `parallel - 1` helpers (as many as the
    /// system starts) verify them; the results are handed to `emit` in mbox order.
    /// When as many messages as may be are split off, this thread verifies one of them
    /// itself rather than wait for a helper's result: no thread sleeps and wakes for
    /// each message (a context switch each, which measured a third more CPU per
    /// message with a thread per CPU besides this one), and no CPU idles.
    ///
    /// Memory stays bounded: a message is held whole only up to [`MBOX_HELD_BYTES`] (a
    /// larger one is verified here, streamed as before), and at most
    /// [`MBOX_IN_FLIGHT`] per verifying thread are split off and not yet emitted.
    fn run_mbox(
        &self,
        messages: &mut Messages<input::Reader<'_>>,
        source: &Source,
        parallel: usize,
        emit: &mut dyn FnMut(Event) -> bool,
    ) {
        use std::collections::BTreeMap;
        use std::sync::mpsc;
        let label = |index: usize| mbox_label(source, index);
        let (work, todo) = mpsc::channel::<(usize, Vec<u8>)>();
        let todo = std::sync::Mutex::new(todo);
        // Results come back with the message's buffer, for the next one to reuse (no
        // allocation, no fresh pages, per message). A verification that panicked (a
        // bug), on a helper or here, is kept as its panic in its place, and resumed on
        // this thread when its turn to be emitted comes: the messages before it are all
        // out first, and a helper that just died would have left its message never
        // emitted, and this thread waiting for it (the other helpers, idle, still hold
        // senders).
        let (done, results) = mpsc::channel::<(usize, std::thread::Result<Verified>, Vec<u8>)>();
        std::thread::scope(|scope| {
            // Dropped with the scope, however it ends: once the printer stops
            // listening (or a panic is resumed), the helpers' next send fails and each
            // stops after the message it has (or takes) then.
            let results = results;
            // A verification, on a helper or here, with its panic kept.
            fn caught(verify: impl FnOnce() -> Verified) -> std::thread::Result<Verified> {
                std::panic::catch_unwind(AssertUnwindSafe(verify))
            }
            // As many helpers as the system starts: when it refuses a thread (a limit on
            // processes), those started do the work, and with none this thread does.
            let mut helpers = 0usize;
            for _ in 1..parallel {
                let (todo, done) = (&todo, done.clone());
                let started = std::thread::Builder::new().spawn_scoped(scope, move || {
                    let mut norm = Vec::new();
                    loop {
                        // The lock is held only while taking a message.
                        let next = todo.lock().map(|t| t.recv());
                        let Ok(Ok((index, message))) = next else {
                            return;
                        };
                        let verified =
                            caught(|| self.verify_bytes(&message, &label(index), &mut norm));
                        if done.send((index, verified, message)).is_err() {
                            return;
                        }
                    }
                });
                match started {
                    Ok(_) => helpers += 1,
                    Err(_) => break,
                }
            }
            drop(done);
            let mut norm = Vec::new();
            // Messages 1 and before are out; `next` is the next to emit, `split` the
            // next to split off.
            let (mut next, mut split) = (2usize, 2usize);
            let mut ready: BTreeMap<usize, std::thread::Result<Verified>> = BTreeMap::new();
            let limit = MBOX_IN_FLIGHT * (helpers + 1);
            // Bytes handed to the helpers and not yet back.
            let mut out_bytes = 0usize;
            // Emits what is ready in order (a panic in its turn: resumed); false once
            // the printer stopped listening.
            let mut flush = |ready: &mut BTreeMap<usize, std::thread::Result<Verified>>,
                             next: &mut usize| {
                while let Some(v) = ready.remove(next) {
                    *next += 1;
                    let v = v.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                    if !emit(Event::Message(Box::new(v))) {
                        return false;
                    }
                }
                true
            };
            let mut failed = None;
            let mut spare: Vec<Vec<u8>> = Vec::new();
            // A buffer back from a helper: its bytes are no longer out; kept for the
            // next message unless it grew large (a pool of large buffers would hold
            // their memory for the whole run).
            let keep = |spare: &mut Vec<Vec<u8>>, out_bytes: &mut usize, mut buffer: Vec<u8>| {
                *out_bytes = out_bytes.saturating_sub(buffer.len());
                if buffer.capacity() <= MBOX_SPARE_CAPACITY {
                    buffer.clear();
                    spare.push(buffer);
                }
            };
            // One message split off and not yet taken by a helper, verified here; false
            // when there is none to be had at once ([`take_queued`]).
            let verify_queued = |ready: &mut BTreeMap<usize, std::thread::Result<Verified>>,
                                 spare: &mut Vec<Vec<u8>>,
                                 out_bytes: &mut usize,
                                 norm: &mut Vec<u8>| {
                let Some((i, message)) = take_queued(&todo) else {
                    return false;
                };
                ready.insert(i, caught(|| self.verify_bytes(&message, &label(i), norm)));
                keep(spare, out_bytes, message);
                true
            };
            loop {
                // While too many are split off and not emitted, or too many bytes are
                // out: verify one of them here, or (the helpers have them all) wait for
                // a result.
                while split - next >= limit || out_bytes >= MBOX_HELD_TOTAL {
                    if !verify_queued(&mut ready, &mut spare, &mut out_bytes, &mut norm) {
                        let Ok((i, v, buffer)) = results.recv() else {
                            return;
                        };
                        ready.insert(i, v);
                        keep(&mut spare, &mut out_bytes, buffer);
                    }
                    while let Ok((i, v, buffer)) = results.try_recv() {
                        ready.insert(i, v);
                        keep(&mut spare, &mut out_bytes, buffer);
                    }
                    if !flush(&mut ready, &mut next) {
                        return;
                    }
                }
                match self.split_message(messages, spare.pop().unwrap_or_default()) {
                    Ok(Some(Split::Held(message))) if helpers == 0 => {
                        let v = caught(|| self.verify_bytes(&message, &label(split), &mut norm));
                        ready.insert(split, v);
                        keep(&mut spare, &mut out_bytes, message);
                    }
                    Ok(Some(Split::Held(message))) => {
                        out_bytes += message.len();
                        if work.send((split, message)).is_err() {
                            return;
                        }
                    }
                    Ok(Some(Split::Streamed(verifier))) => {
                        let v = caught(|| self.verdict(*verifier, &label(split), true));
                        ready.insert(split, v);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        failed = Some(format!("{}: {e}", source.label()));
                        break;
                    }
                }
                split += 1;
                while let Ok((i, v, buffer)) = results.try_recv() {
                    ready.insert(i, v);
                    keep(&mut spare, &mut out_bytes, buffer);
                }
                if !flush(&mut ready, &mut next) {
                    return;
                }
            }
            // No more to split: the helpers end once the queue is empty, which this
            // thread empties with them.
            drop(work);
            while next < split {
                if !verify_queued(&mut ready, &mut spare, &mut out_bytes, &mut norm) {
                    let Ok((i, v, _)) = results.recv() else {
                        break;
                    };
                    ready.insert(i, v);
                }
                if !flush(&mut ready, &mut next) {
                    return;
                }
            }
            if let Some(e) = failed {
                emit(Event::Failed(e));
            }
        });
    }

    /// The next message of an mbox: held whole (in `held`, empty) when it is small
    /// enough, else streamed into a verifier here (constant memory, as a single input
    /// is).
    fn split_message(
        &self,
        messages: &mut Messages<input::Reader<'_>>,
        mut held: Vec<u8>,
    ) -> std::io::Result<Option<Split>> {
        let mut streamed: Option<(MessageVerifier, CrlfNormalizer, Vec<u8>)> = None;
        let found = messages.next_message(|chunk| {
            if streamed.is_none() && held.len() + chunk.len() <= MBOX_HELD_BYTES {
                held.extend_from_slice(chunk);
                return ControlFlow::Continue(());
            }
            let (verifier, normalizer, norm) = streamed.get_or_insert_with(|| {
                let mut verifier = self.verifier();
                let mut normalizer = CrlfNormalizer::new();
                let mut norm = Vec::new();
                // What was held so far goes first.
                let _ = verifier.push(normalizer.apply(&held, &mut norm));
                (verifier, normalizer, norm)
            });
            match verifier.push(normalizer.apply(chunk, norm)) {
                Ok(()) => ControlFlow::Continue(()),
                Err(_) => ControlFlow::Break(()),
            }
        })?;
        Ok(match (found, streamed) {
            (false, _) => None,
            (true, Some((verifier, ..))) => Some(Split::Streamed(Box::new(verifier))),
            (true, None) => Some(Split::Held(held)),
        })
    }

    /// Finishes one message's verification and writes its output (`in_mbox`: the
    /// message is one of an mbox's).
    fn verdict(&self, verifier: MessageVerifier, label: &str, in_mbox: bool) -> Verified {
        // A bug's stand-in for the tests: verification that panics.
        #[cfg(test)]
        if self.panics_at.iter().any(|at| at == label) {
            panic!("verification panicked (test)");
        }
        // Pinned where it is made: the future is some 7 KiB, which `block_on` would
        // otherwise copy from frame to frame on its way to the first poll (it gets a
        // pointer), and which the heap would take and give back for every message.
        let finish = std::pin::pin!(verifier.finish(&self.resolver));
        let report = finish_now(&self.runtime, finish);
        let mut text = String::new();
        if self.json {
            text = to_json(&report, &self.authserv_id, label, &self.envelope);
            text.push('\n');
        } else {
            if self.several || in_mbox {
                let _ = writeln!(text, "==> {label} <==");
            }
            // Folded with bare LF for the terminal; the header itself uses CRLF.
            let value = report.authentication_results(&self.authserv_id).to_value();
            let _ = writeln!(
                text,
                "Authentication-Results: {}",
                value.replace("\r\n", "\n")
            );
        }
        Verified {
            text,
            dmarc: report.dmarc.result.as_str(),
            malformed: report
                .malformed
                .as_ref()
                .map(|why| format!("{label}: malformed message: {why}")),
            report: self.record.then_some(report),
        }
    }
}

/// Runs a future to its end from blocking code. It is polled once first, in the
/// runtime's context: a verification whose DNS answers are all at hand (a zone, a warm
/// cache) and a result printed with nothing to record are ready at once, and then cost
/// no `block_on` (a park handle, a seed for the runtime's random numbers: two of them a
/// message; tokio's share of the CLI's time on small messages went from about 1.2 % to
/// 0.6 %). Otherwise `block_on`
/// drives it on, polling it again with a waker that works.
fn finish_now<F: Future>(
    runtime: &tokio::runtime::Handle,
    mut future: std::pin::Pin<&mut F>,
) -> F::Output {
    {
        // Resources made in the first poll (a socket, a timer) find the runtime.
        let _context = runtime.enter();
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
    runtime.block_on(future)
}

/// How results name the `index`th message (from 1) of an mbox: `FILE#N`.
fn mbox_label(source: &Source, index: usize) -> String {
    format!("{}#{index}", source.label())
}

/// A message of an mbox, split off for verification.
enum Split {
    /// Its bytes, for a helper.
    Held(Vec<u8>),
    /// Too large to hold: read into this verifier already.
    Streamed(Box<MessageVerifier>),
}

/// A message from the helpers' queue if one can be had without waiting: none when the
/// queue is empty, or when a helper holds it. An idle helper waits for work with the
/// queue's lock held, so the thread that fills the queue must never wait for that
/// lock: it would wait for a message only it can send (a deadlock that hung about one
/// `--jobs 2` run in six over an mbox of 270 messages of 74 KiB).
fn take_queued<T>(todo: &std::sync::Mutex<std::sync::mpsc::Receiver<T>>) -> Option<T> {
    todo.try_lock().ok()?.try_recv().ok()
}

/// An mbox message up to this size is held whole and verified on a helper thread; a
/// larger one is streamed (constant memory) on the thread that splits the mbox.
const MBOX_HELD_BYTES: usize = 1024 * 1024;

/// How many messages per verifying thread (the helpers and the splitting one) an mbox
/// may have split off and not yet emitted: enough to keep the helpers busy while one
/// message takes long (DNS), few enough to bound memory (`MBOX_HELD_BYTES` each).
const MBOX_IN_FLIGHT: usize = 8;

/// How many bytes of an mbox's messages may be with the helpers at once, whatever the
/// number of threads (a machine of many CPUs and an mbox of 1 MiB messages).
const MBOX_HELD_TOTAL: usize = 32 * 1024 * 1024;

/// A message buffer back from a helper is reused up to this capacity (most messages),
/// dropped above it.
const MBOX_SPARE_CAPACITY: usize = 256 * 1024;

/// Prints the results in input order, counts them and records them.
struct Printer {
    output: Output,
    recorder: Option<Recorder>,
    envelope: Envelope,
    now: u64,
    resolver: DnsSource,
    verified: usize,
    failures: usize,
    /// DMARC results, for the summary of a run over several messages.
    tally: std::collections::BTreeMap<&'static str, usize>,
}

impl Printer {
    async fn handle(&mut self, source: &Source, event: Event) -> Result<(), Failure> {
        match event {
            Event::Message(v) => {
                self.verified += 1;
                *self.tally.entry(v.dmarc).or_default() += 1;
                if let (Some(r), Some(report)) = (self.recorder.as_mut(), &v.report) {
                    r.add(report, &self.envelope, self.now, &self.resolver)
                        .await?;
                }
                if let Some(why) = &v.malformed {
                    // The verdict is in the output; say why on stderr too.
                    self.output.flush();
                    errln!("monban: {why}");
                }
                self.output.push(&v.text);
                // Nobody reads the results any more: stop the run (which then records
                // what was verified and ends as `Output::closed_end` says).
                if self.output.closed.is_some() {
                    return Err(Failure::other("the output is closed"));
                }
            }
            Event::Failed(e) => {
                self.output.flush();
                errln!("monban: {e}");
                self.failures += 1;
            }
            Event::Empty => {
                self.output.flush();
                errln!(
                    "monban: {}: no message (the input is empty)",
                    source.label()
                );
                self.failures += 1;
            }
        }
        if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Failure::other("interrupted"));
        }
        Ok(())
    }
}

/// The output, written in large pieces: one write per message would cost a system
/// call each. On a terminal every message is shown as soon as it is verified.
///
/// When the output cannot be written any more (its reader went away: `| head`, or an
/// error such as a full disk), what follows is dropped and [`Output::closed`] says why,
/// so that the run stops and still records what it verified (the process does not
/// exit from here).
struct Output {
    pending: String,
    interactive: bool,
    closed: Option<std::io::Error>,
}

impl Output {
    const FLUSH_AT: usize = 64 * 1024;

    fn new() -> Self {
        Self {
            pending: String::new(),
            interactive: std::io::IsTerminal::is_terminal(&std::io::stdout()),
            closed: None,
        }
    }

    fn push(&mut self, text: &str) {
        self.pending.push_str(text);
        if self.interactive || self.pending.len() >= Self::FLUSH_AT {
            self.flush();
        }
    }

    fn flush(&mut self) {
        use std::io::Write as _;
        if self.pending.is_empty() {
            return;
        }
        if self.closed.is_none() {
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout
                .write_all(self.pending.as_bytes())
                .and_then(|()| stdout.flush())
            {
                self.closed = Some(e);
            }
        }
        self.pending.clear();
    }

    /// Why the output was closed, as the end of the run: a reader that went away
    /// (`| head`) ends it quietly with success, as it ends `rg` (the reader chose to
    /// stop); another error is named and fails the run.
    fn closed_end(&self) -> Option<Result<(), Failure>> {
        let e = self.closed.as_ref()?;
        Some(if e.kind() == std::io::ErrorKind::BrokenPipe {
            Ok(())
        } else {
            Err(Failure::other(format!("cannot write the output: {e}")))
        })
    }
}

fn to_json(r: &Report, authserv_id: &str, label: &str, envelope: &Envelope) -> String {
    // The model is the library's (DESIGN §4); the CLI only encodes it, straight to text
    // (no intermediate `Value`: its maps cost an allocation per key), with the writer
    // that skips serde_json's byte-by-byte escaping of names and plain values.
    let mut text = String::with_capacity(1536);
    crate::json::to_json_into(
        &VerifyView::new(r, authserv_id, Some(label), envelope),
        &mut text,
    );
    text
}

/// The most `--jobs`: each is a thread (with its buffers), and past the number of CPUs
/// more only help while messages wait on DNS. A number beyond this is refused rather
/// than left to fail part-way, when the system will start no more threads.
const MAX_JOBS: usize = 1024;

/// Set by the first Ctrl-C (SIGINT) of a run: the printer stops after the message in
/// hand, and the run prints and records what was verified before it ends with 130.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Set when an interrupted run has stopped and is writing out and recording what it
/// verified: the grace period no longer ends it (a slow store must not cut that
/// short); a second Ctrl-C still does.
static FINISHING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether SIGINT was ignored when the process started (a non-interactive shell's
/// background job, `nohup`): Ctrl-C is then not meant for this process, and no handler
/// is installed (tokio's would replace the ignoring). Read from /proc/self/status
/// (`SigIgn`, a hexadecimal mask; SIGINT is signal 2, bit 1); false where it cannot be
/// read.
fn sigint_ignored() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("SigIgn:").map(|m| m.trim().to_owned()))
        })
        .and_then(|m| u64::from_str_radix(&m, 16).ok())
        .is_some_and(|mask| mask & (1 << 1) != 0)
}

/// How long the first Ctrl-C waits for the run to stop by itself (it may be waiting on
/// input that does not come, or on a slow DNS answer) before the process ends at once.
const INTERRUPT_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Watches for Ctrl-C: the first sets [`INTERRUPTED`]; a second one, or the grace
/// period after the first, ends the process at once (status 130), saying what may be
/// missing. Without this, Ctrl-C ended the process where it stood: up to 64 KiB of
/// printed results and the last batch of evaluations of `--record` were lost without
/// a word.
fn watch_interrupts() -> Result<(), Failure> {
    use tokio::signal::unix::{SignalKind, signal};
    if sigint_ignored() {
        return Ok(());
    }
    let mut sigint = signal(SignalKind::interrupt())
        .map_err(|e| Failure::other(format!("cannot watch SIGINT: {e}")))?;
    tokio::spawn(async move {
        sigint.recv().await;
        INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
        errln!(
            "monban: interrupted: stopping after the message in hand; what was verified is \
             printed (and recorded). Ctrl-C again stops at once"
        );
        tokio::select! {
            _ = sigint.recv() => {}
            () = tokio::time::sleep(INTERRUPT_GRACE) => {
                if FINISHING.load(std::sync::atomic::Ordering::SeqCst) {
                    // The run stopped and is writing out what it verified.
                    sigint.recv().await;
                }
            }
        }
        errln!(
            "monban: stopped at once: the results of the last messages may be neither \
             printed nor recorded (a re-run with --record skips the messages recorded)"
        );
        std::process::exit(130);
    });
    Ok(())
}

pub async fn run(dns: &DnsArgs, args: VerifyArgs) -> Result<(), Failure> {
    // Checked first: a refused command creates nothing (no store, no output).
    let authserv_id = crate::authserv_id(args.authserv_id.as_deref())?;
    let jobs = match args.jobs {
        Some(0) => return Err(Failure::usage("--jobs must be at least 1")),
        Some(n) if n > MAX_JOBS => {
            return Err(Failure::usage(format!(
                "--jobs {n}: at most {MAX_JOBS} (each job is a thread)"
            )));
        }
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
    };
    let mut envelope = Envelope::from_user(
        args.ip.as_deref(),
        args.helo.as_deref(),
        args.mail_from.as_deref(),
        |n| format!("--{}", n.replace('_', "-")),
    )
    .map_err(Failure::usage)?;
    for r in &args.rcpt_to {
        monban::pipeline::check_mail_from(r)
            .map_err(|e| Failure::usage(format!("--rcpt-to {e}")))?;
    }
    envelope.rcpt_to = args.rcpt_to.clone();
    if args.max_signatures == 0 {
        return Err(Failure::usage("--max-signatures must be at least 1"));
    }
    let input::Expanded {
        sources,
        notes,
        empty_maildirs,
    } = input::expand(&args.files);
    for note in &notes {
        errln!("monban: {note}");
    }
    let resolver: DnsSource = dns.build()?;
    let now = args.at.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    let org_domain = match (&args.psl, &args.psl_file) {
        (false, _) => OrgDomainMode::TreeWalk,
        (true, None) => OrgDomainMode::Psl(std::sync::Arc::new(PublicSuffixList::bundled())),
        (true, Some(path)) => OrgDomainMode::Psl(std::sync::Arc::new(
            PublicSuffixList::from_file(path)
                .map_err(|e| Failure::other(format!("--psl-file {}: {e}", path.display())))?,
        )),
    };
    let config = VerifyConfig {
        spf: SpfConfig {
            receiver: authserv_id.clone(),
            ..SpfConfig::default()
        },
        dkim: DkimConfig {
            max_signatures: args.max_signatures,
            allow_unsigned_body_content: args.allow_unsigned_body,
            allow_sha1: args.legacy,
            ..DkimConfig::default()
        },
        dmarc: DmarcConfig {
            org_domain,
            permerror_disposition: if args.deliver_unparseable_from {
                Disposition::None
            } else {
                Disposition::Reject
            },
        },
        trusted_arc_sealers: args.trusted_arc_sealers.clone(),
        dkim2: args.dkim2.then(monban::dkim2::Dkim2Config::default),
        dnsbl: {
            use monban::dnsbl::{ListKind, Zone};
            let mut zones = Vec::new();
            for (flag, list, kind) in [
                ("--dnswl", &args.dnswl, ListKind::Allow),
                ("--dnsbl", &args.dnsbl, ListKind::Block),
            ] {
                for spec in list {
                    zones.push(
                        Zone::parse(spec, kind)
                            .map_err(|e| Failure::usage(format!("{flag} {spec}: {e}")))?,
                    );
                }
            }
            if zones.len() > monban::dnsbl::MAX_ZONES {
                return Err(Failure::usage(format!(
                    "at most {} --dnsbl/--dnswl zones",
                    monban::dnsbl::MAX_ZONES
                )));
            }
            zones
        },
        skip_sender_id: args.no_sender_id,
        ..VerifyConfig::default()
    };

    let recorder = Recorder::open(&args, &authserv_id).await?;
    watch_interrupts()?;
    let several = sources.len() > 1;
    let workers = jobs.min(sources.len()).max(1);
    let job = std::sync::Arc::new(Job {
        envelope: envelope.clone(),
        config,
        now,
        resolver: resolver.clone(),
        authserv_id: authserv_id.clone(),
        json: args.json,
        several,
        record: recorder.is_some(),
        runtime: tokio::runtime::Handle::current(),
        #[cfg(test)]
        panics_at: Vec::new(),
    });
    let mut printer = Printer {
        output: Output::new(),
        recorder,
        envelope: envelope.clone(),
        now,
        resolver: resolver.clone(),
        verified: 0,
        failures: 0,
        tally: Default::default(),
    };
    // A bar for long runs, on a terminal, when the results go elsewhere (a file, a
    // pipe): drawn on the same terminal they would be garbled.
    let mut bar = crate::progress::Progress::new(
        "inputs",
        !several || std::io::IsTerminal::is_terminal(&std::io::stdout()),
    );
    // Threads left over (fewer inputs than --jobs) verify an mbox's messages at once.
    let per_input = (jobs / workers).max(1);
    let outcome = if workers == 1 {
        run_inline(&job, &sources, per_input, &mut printer, &mut bar)
    } else {
        run_workers(&job, workers, per_input, &sources, &mut printer, &mut bar).await
    };
    // What was verified is printed, even when a later step failed.
    printer.output.flush();
    if let Some(end) = printer.output.closed_end() {
        // The output went away: what was verified is still recorded. Then the process
        // ends here, as it did from the write before: verifying threads may still be
        // at work on inputs nobody will read, and the runtime they wait on (DNS) must
        // not be torn down under them.
        bar.finish();
        if let Some(r) = printer.recorder.as_mut() {
            r.flush().await?;
        }
        match end {
            Ok(()) => std::process::exit(0),
            Err(Failure::Other(why)) => {
                errln!("monban: {why}");
                std::process::exit(1);
            }
            Err(e) => return Err(e),
        }
    }
    if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
        // As for a closed output: what was verified is out and recorded, then the
        // process ends here (verifying threads may still be at work).
        FINISHING.store(true, std::sync::atomic::Ordering::SeqCst);
        bar.finish();
        let recorded = match printer.recorder.as_mut() {
            Some(r) => {
                r.flush().await?;
                format!("; recorded {} evaluation(s)", r.recorded)
            }
            None => String::new(),
        };
        errln!(
            "monban: interrupted after {} message(s){recorded}",
            group_digits(printer.verified)
        );
        std::process::exit(130);
    }
    outcome?;
    printer.output.flush();
    let Printer {
        mut recorder,
        verified,
        failures,
        tally,
        ..
    } = printer;
    bar.finish();
    if verified > 1 {
        // On stderr: the output itself stays one record (or JSON line) per message.
        let mut parts = Vec::new();
        for result in ["pass", "fail", "none", "temperror", "permerror"] {
            let n = tally.get(result).copied().unwrap_or(0);
            if n > 0 || matches!(result, "pass" | "fail" | "none") {
                let n = group_digits(n);
                parts.push(if parts.is_empty() {
                    format!("{n} dmarc={result}")
                } else {
                    format!("{n} {result}")
                });
            }
        }
        errln!(
            "monban: {} messages: {}",
            group_digits(verified),
            parts.join(", ")
        );
    }
    if let Some(r) = recorder.as_mut() {
        r.flush().await?;
        if !args.json {
            let known = r.offered.saturating_sub(r.recorded);
            if known > 0 {
                errln!(
                    "monban: recorded {} evaluation(s); {known} were in the store already (the same message and envelope, recorded before)",
                    r.recorded
                );
            } else {
                errln!("monban: recorded {} evaluation(s)", r.recorded);
            }
            if r.failure_reports > 0 {
                // The store may keep fewer: it counts each destination's reports of
                // the hour again as it stores them (other processes record too).
                errln!(
                    "monban: {} failure report(s) made; those within the hourly limit per \
                     destination ({}) wait for monban report send",
                    r.failure_reports,
                    r.failure.per_hour
                );
            }
        }
    }
    if sources.is_empty() && empty_maildirs.len() == args.files.len() {
        // Empty mailboxes: nothing to verify, and nothing wrong (a script that runs
        // over a Maildir on a timer meets this whenever no mail came).
        errln!(
            "monban: no message: {} (an empty Maildir)",
            empty_maildirs.join(", ")
        );
        return Ok(());
    }
    if sources.is_empty() {
        return Err(Failure::other(format!(
            "no message: {} holds no files",
            args.files.join(", ")
        )));
    }
    if failures > 0 {
        return Err(Failure::other(format!(
            "{failures} input(s) could not be verified"
        )));
    }
    if verified == 0 {
        return Err(Failure::other("no message to verify"));
    }
    Ok(())
}

/// Verifies the inputs one at a time, on this thread: no hand-over between threads
/// per message.
fn run_inline(
    job: &Job,
    sources: &[Source],
    per_input: usize,
    printer: &mut Printer,
    bar: &mut crate::progress::Progress,
) -> Result<(), Failure> {
    let mut buf = Buffers::default();
    for (done, source) in sources.iter().enumerate() {
        bar.set(done, sources.len());
        let mut result = Ok(());
        // Blocking work on the thread that drives the runtime: allowed, and the
        // verifier's own waits (DNS) go through `block_on` inside.
        tokio::task::block_in_place(|| {
            job.run_guarded(source, &mut buf, per_input, &mut |event| {
                result = finish_now(&job.runtime, std::pin::pin!(printer.handle(source, event)));
                result.is_ok()
            });
        });
        result?;
    }
    Ok(())
}

/// How many inputs a worker takes at a time, at most: a batch is one hand-over each
/// way between the printer and a worker, so large runs take large batches; smaller
/// runs take smaller ones (about eight per worker), so the workers end together.
const BATCH: usize = 32;

/// Verifies the inputs on `workers` threads. They take inputs in order from one
/// queue; each input's results come back through its own bounded channel, read in
/// input order, so the output is in input order and a worker ahead of the printer
/// waits. Inputs in flight are bounded too.
async fn run_workers(
    job: &std::sync::Arc<Job>,
    workers: usize,
    per_input: usize,
    sources: &[Source],
    printer: &mut Printer,
    bar: &mut crate::progress::Progress,
) -> Result<(), Failure> {
    // Inputs go to the workers in batches of consecutive ones, each batch with one
    // channel back: a directory of small files costs one hand-over per batch, not one
    // per file (fewer wake-ups: the threads' CPU stays near one thread's).
    type Task = (
        Vec<Source>,
        std::sync::mpsc::SyncSender<Vec<(usize, Event)>>,
    );
    let (queue, tasks) = std::sync::mpsc::channel::<Task>();
    let tasks = std::sync::Arc::new(std::sync::Mutex::new(tasks));
    let mut threads = Vec::new();
    for i in 0..workers {
        let tasks = tasks.clone();
        let job = job.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("verify-{i}"))
            .spawn(move || {
                let mut buf = Buffers::default();
                loop {
                    // The lock is held only while taking a task.
                    let task = tasks.lock().map(|t| t.recv());
                    let Ok(Ok((batch, events))) = task else {
                        return;
                    };
                    // Results go back a few at a time: one hand-over (and at most one
                    // wake-up of the printer) per `SEND_EVENTS` results or per batch,
                    // not per message; results held for long (slow DNS) go at the next.
                    let mut pending = Sending::default();
                    let mut open = true;
                    for (n, source) in batch.iter().enumerate() {
                        job.run_guarded(source, &mut buf, per_input, &mut |event| {
                            open = pending.push((n, event), &events);
                            open
                        });
                        if !open {
                            break;
                        }
                    }
                    if open {
                        pending.flush(&events);
                    }
                }
            });
        threads.push(spawned.map_err(|e| Failure::other(format!("cannot start a thread: {e}")))?);
    }
    // Only the workers hold the queue's receiving end: were they all to end early, the
    // batches still queued (with their senders) would go with it, and the waits for
    // them below would end instead of waiting for ever.
    drop(tasks);
    let mut next = sources.chunks((sources.len() / (8 * workers)).clamp(1, BATCH));
    type InFlight<'s> = (&'s [Source], std::sync::mpsc::Receiver<Vec<(usize, Event)>>);
    let mut in_flight: std::collections::VecDeque<InFlight> = Default::default();
    let mut done = 0usize;
    loop {
        while in_flight.len() < 4 * workers
            && let Some(batch) = next.next()
        {
            let (tx, rx) = std::sync::mpsc::sync_channel(64 / SEND_EVENTS);
            if queue.send((batch.to_vec(), tx)).is_err() {
                return Err(Failure::other("the verifying threads stopped"));
            }
            in_flight.push_back((batch, rx));
        }
        let Some((batch, events)) = in_flight.pop_front() else {
            break;
        };
        bar.set(done, sources.len());
        // Until the worker is done with the batch (its sender dropped).
        while let Ok(results) = events.recv() {
            for (n, event) in results {
                printer.handle(&batch[n], event).await?;
            }
        }
        done += batch.len();
    }
    drop(queue);
    for t in threads {
        if t.join().is_err() {
            return Err(Failure::other("a verifying thread failed"));
        }
    }
    Ok(())
}

/// How many results a worker hands to the printer at once, at most.
const SEND_EVENTS: usize = 32;

/// How long a worker holds a result for the printer, at most, before it is sent with
/// the next one.
const HOLD_EVENTS: std::time::Duration = std::time::Duration::from_millis(20);

/// A worker's results not yet handed to the printer (per input: its position in the
/// batch).
#[derive(Default)]
struct Sending {
    events: Vec<(usize, Event)>,
    since: Option<std::time::Instant>,
}

impl Sending {
    /// Keeps one result; sends them all when there are `SEND_EVENTS` or the first is
    /// `HOLD_EVENTS` old. False once the printer stopped listening.
    fn push(
        &mut self,
        event: (usize, Event),
        to: &std::sync::mpsc::SyncSender<Vec<(usize, Event)>>,
    ) -> bool {
        let since = *self.since.get_or_insert_with(std::time::Instant::now);
        self.events.push(event);
        if self.events.len() >= SEND_EVENTS || since.elapsed() >= HOLD_EVENTS {
            return self.flush(to);
        }
        true
    }

    /// Sends what is held. False once the printer stopped listening.
    fn flush(&mut self, to: &std::sync::mpsc::SyncSender<Vec<(usize, Event)>>) -> bool {
        self.since = None;
        if self.events.is_empty() {
            return true;
        }
        let events = std::mem::replace(&mut self.events, Vec::with_capacity(SEND_EVENTS));
        to.send(events).is_ok()
    }
}

/// `1204` as `1,204`.
fn group_digits(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Buffers, Envelope, Event, Job, Source, VerifyConfig, take_queued};
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// A helper waiting for work holds the queue's lock: taking from the queue then
    /// gives nothing at once instead of waiting for the lock (which the helper frees
    /// only when a message comes, from the very thread that would be waiting).
    #[test]
    fn taking_from_the_queue_never_waits_for_an_idle_helper() {
        let (work, todo) = mpsc::channel::<u32>();
        let todo = Arc::new(Mutex::new(todo));
        // A helper as `run_mbox` starts them: the lock held while it waits for work.
        let (locked, is_locked) = mpsc::channel();
        let helper = {
            let todo = Arc::clone(&todo);
            std::thread::spawn(move || {
                let t = todo.lock().unwrap();
                locked.send(()).unwrap();
                t.recv().ok()
            })
        };
        is_locked.recv().unwrap();
        // Taken on another thread, so that a wait for the lock shows as a timeout here
        // rather than as a test that never ends.
        let (taken, took) = mpsc::channel();
        {
            let todo = Arc::clone(&todo);
            std::thread::spawn(move || {
                let _ = taken.send(take_queued(&todo));
            });
        }
        let got = took.recv_timeout(Duration::from_secs(30));
        // The helper gets its message either way, so that every thread ends.
        work.send(7).unwrap();
        assert_eq!(helper.join().unwrap(), Some(7));
        assert_eq!(
            got,
            Ok(None),
            "taking from the queue waited for the idle helper's lock"
        );

        // With the lock free: the message queued, then nothing.
        let todo = Mutex::new({
            let (work, todo) = mpsc::channel::<u32>();
            work.send(1).unwrap();
            todo
        });
        assert_eq!(take_queued(&todo), Some(1));
        assert_eq!(take_queued(&todo), None);
    }

    /// A panic while a helper verifies an mbox's message reaches the thread that runs
    /// the mbox, with as many helpers as may be (it hung with two or more: the other
    /// helper, idle, kept a sender alive and the dead one's message never came), and
    /// nothing after that message is emitted.
    #[test]
    fn a_panic_on_a_helper_reaches_the_caller_instead_of_hanging() {
        let dir = test_dir("mbox-panic");
        let path = dir.join("mbox");
        let mut mbox = Vec::new();
        for n in 1..=200 {
            mbox.extend_from_slice(
                format!(
                    "From sender@example.com Mon Nov 30 00:00:00 2026\n\
                     From: a@example.com\nSubject: {n}\n\nbody {n}\n\n"
                )
                .as_bytes(),
            );
        }
        std::fs::write(&path, &mbox).unwrap();
        let runtime = test_runtime();
        for parallel in [2, 3, 4, 2, 3, 4, 2, 3, 4] {
            let job = Arc::new(Job {
                panics_at: vec![format!("{}#50", path.display())],
                ..test_job(runtime.handle().clone())
            });
            let (ended, end) = mpsc::channel();
            let (emitted, seen) = mpsc::channel();
            let source = Source::File(path.clone(), None);
            let run = std::thread::spawn(move || {
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    job.run(&source, &mut Buffers::default(), parallel, &mut |event| {
                        if let Event::Message(v) = event {
                            let _ = emitted.send(v.text);
                        }
                        true
                    });
                }));
                let _ = ended.send(outcome.is_err());
            });
            let panicked = end.recv_timeout(Duration::from_secs(60));
            assert_eq!(
                panicked,
                Ok(true),
                "--jobs {parallel}: the helper's panic did not reach the caller"
            );
            run.join().unwrap();
            let texts: Vec<String> = seen.try_iter().collect();
            // Every message before the one that panicked is out, whichever thread
            // verified which, and none after it.
            assert_eq!(
                texts.len(),
                49,
                "--jobs {parallel}: {} emitted",
                texts.len()
            );
            for (i, text) in texts.iter().enumerate() {
                assert!(
                    text.contains(&format!("#{}\"", i + 1)),
                    "--jobs {parallel}: output {i} out of order: {text}"
                );
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A panic while an input is verified (a bug) becomes that input's failure, after
    /// its messages verified before, and the thread goes on with the next input: on one
    /// thread, on helpers (an mbox), and for a single message.
    #[test]
    fn a_panic_fails_its_input_and_the_run_goes_on() {
        let dir = test_dir("guarded");
        let message = |n: usize| format!("From: a@example.com\nSubject: {n}\n\nbody {n}\n");
        let mut mbox = String::new();
        for n in 1..=40 {
            mbox.push_str("From sender@example.com Mon Nov 30 00:00:00 2026\n");
            mbox.push_str(&message(n));
            mbox.push('\n');
        }
        let files = [
            ("one.eml", message(1)),
            ("bad.eml", message(2)),
            ("mbox", mbox),
            ("two.eml", message(3)),
        ];
        for (name, text) in &files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        let runtime = test_runtime();
        let job = Job {
            panics_at: vec![
                dir.join("bad.eml").display().to_string(),
                format!("{}#30", dir.join("mbox").display()),
            ],
            ..test_job(runtime.handle().clone())
        };
        for parallel in [1, 2, 3, 3, 3] {
            let mut bufs = Buffers::default();
            let mut seen = Vec::new();
            for (name, _) in &files {
                let source = Source::File(dir.join(name), None);
                job.run_guarded(&source, &mut bufs, parallel, &mut |event| {
                    seen.push(match event {
                        Event::Message(_) => format!("{name}: verified"),
                        Event::Failed(e) => {
                            assert!(e.contains("internal error"), "{e}");
                            format!("{name}: failed")
                        }
                        Event::Empty => format!("{name}: empty"),
                    });
                    true
                });
            }
            let mut want = vec!["one.eml: verified".to_owned(), "bad.eml: failed".into()];
            want.extend((1..30).map(|_| "mbox: verified".to_owned()));
            want.push("mbox: failed".into());
            want.push("two.eml: verified".into());
            assert_eq!(seen, want, "--jobs {parallel}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A panic in the printer (`emit`) is not taken for the input's: it goes on up.
    #[test]
    fn a_panic_in_the_printer_goes_on_up() {
        let dir = test_dir("printer");
        let path = dir.join("one.eml");
        std::fs::write(&path, "From: a@example.com\n\nbody\n").unwrap();
        let runtime = test_runtime();
        let job = test_job(runtime.handle().clone());
        let mut events = Vec::new();
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let source = Source::File(path.clone(), None);
            job.run_guarded(&source, &mut Buffers::default(), 1, &mut |event| {
                events.push(matches!(event, Event::Failed(_)));
                panic!("the printer (test)");
            });
        }));
        let panic = ran.expect_err("the printer's panic went on up");
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"the printer (test)"));
        // One message handed over, and no failure made up for the input.
        assert_eq!(events, [false]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A folder of this process for one test's files.
    fn test_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("monban-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A runtime for a [`test_job`] (the CLI's is multi-threaded too).
    fn test_runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    }

    /// A job as `run` makes it, over an empty zone.
    fn test_job(runtime: tokio::runtime::Handle) -> Job {
        Job {
            envelope: Envelope::default(),
            config: VerifyConfig::default(),
            now: 1_800_000_000,
            resolver: monban_dns::SharedResolver::new(monban_dns::CachingResolver::new(
                monban_dns::ZoneResolver::new(),
            )),
            authserv_id: "mx.example".into(),
            json: true,
            several: true,
            record: false,
            runtime,
            panics_at: Vec::new(),
        }
    }
}
