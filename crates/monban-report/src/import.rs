//! `monban report import` (issue 12, DESIGN §4): received reports from files, folders,
//! Maildir folders, mbox files and IMAP mailboxes into the store.
//!
//! Nothing is lost and nothing is stored twice:
//! - reports are stored in batches, one transaction each; a source (a Maildir file, an
//!   IMAP message) is marked done (moved, flagged) only after the batch holding its
//!   reports is committed, so a crash leaves it to be read again;
//! - reading it again stores nothing twice: the store tells duplicates (same identity,
//!   same content) and conflicts (same identity, other content, kept aside) apart.
//!
//! Memory stays flat whatever the input: an mbox is read one message at a time, and a
//! batch is flushed at [`ImportOptions::batch_reports`] reports,
//! [`ImportOptions::batch_records`] records or [`ImportOptions::batch_bytes`] bytes.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use monban_store::{ImportOutcome, IncomingReport, Store};
use serde::Serialize;

use crate::ReportError;
use crate::extract::Limits;
use crate::imap::{Fetched, ImapSession, ImapUrl};
use crate::ingest::{Found, Problem, from_file, from_mail};

/// How an import runs.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Move each Maildir message (or IMAP message) here once its reports are stored
    /// (a Maildir folder, created as needed; for IMAP a mailbox name).
    pub move_to: Option<PathBuf>,
    /// The extraction bounds, also the largest message read.
    pub limits: Limits,
    /// Reports per transaction at most.
    pub batch_reports: usize,
    /// Records per transaction at most.
    pub batch_records: usize,
    /// Report bytes held before a flush at most.
    pub batch_bytes: usize,
    /// Folders are walked this deep at most; a deeper folder is a failed input.
    pub max_depth: usize,
    /// The time stamped on stored reports (Unix seconds).
    pub now: i64,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            move_to: None,
            limits: Limits::default(),
            batch_reports: 1_000,
            batch_records: 25_000,
            batch_bytes: 8 << 20,
            max_depth: 8,
            now: 0,
        }
    }
}

/// What an import did (the JSON of DESIGN §4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Reports stored.
    pub reports_new: u64,
    /// Copies of stored reports (nothing stored).
    pub reports_duplicate: u64,
    /// Copies with other content than the stored report (kept aside).
    pub reports_conflicting: u64,
    /// Records (and TLS policies) stored.
    pub records_new: u64,
    /// Inputs, or parts of them, that could not be read.
    pub failed: Vec<FailedInput>,
    /// The conflicting copies (at most [`MAX_LISTED`]): where each came from.
    pub conflicts: Vec<Conflict>,
    /// Messages and files read.
    pub inputs_read: u64,
}

/// Conflicts listed in an import's summary at most (all are counted and kept).
pub const MAX_LISTED: usize = 1000;

/// A copy of a stored report with other content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// Where the copy came from.
    pub source: String,
    /// Its reporter.
    pub org_name: String,
    /// Its report id.
    pub report_id: String,
    /// Its policy domain.
    pub domain: String,
}

/// One input that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedInput {
    /// Where (file, message in a mailbox, part).
    pub source: String,
    /// What went wrong.
    pub error: String,
}

/// Where progress goes (a bar on a terminal).
pub trait ImportProgress {
    /// The work: inputs or bytes to go, as far as known.
    fn total(&self, _units: u64, _what: &'static str) {}
    /// Done so far.
    fn advance(&self, _units: u64) {}
}

/// No progress shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;
impl ImportProgress for Quiet {}

/// One thing to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file, folder, Maildir folder or mbox file.
    Path(PathBuf),
    /// An IMAP mailbox.
    Imap(ImapUrl),
}

impl Input {
    /// `imap://...` or `imaps://...`, else a path.
    pub fn parse(s: &str) -> Result<Self, ReportError> {
        if s.starts_with("imap://") || s.starts_with("imaps://") {
            return ImapUrl::parse(s)
                .map(Input::Imap)
                .map_err(ReportError::Usage);
        }
        Ok(Self::Path(PathBuf::from(s)))
    }
}

/// What to do with a source once its reports are committed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Done {
    Nothing,
    Move(PathBuf),
    Imap(u32),
}

/// Reports waiting for their transaction, with what marks their sources done.
struct Batch<'a> {
    store: &'a dyn Store,
    opts: &'a ImportOptions,
    reports: Vec<IncomingReport>,
    /// For each report, the index in `done` of its source (none: nothing to mark).
    slots: Vec<Option<usize>>,
    done: Vec<Done>,
    records: usize,
    bytes: usize,
    summary: ImportSummary,
    move_failed: Vec<FailedInput>,
}

impl<'a> Batch<'a> {
    fn new(store: &'a dyn Store, opts: &'a ImportOptions) -> Self {
        Self {
            store,
            opts,
            reports: Vec::new(),
            slots: Vec::new(),
            done: Vec::new(),
            records: 0,
            bytes: 0,
            summary: ImportSummary::default(),
            move_failed: Vec::new(),
        }
    }

    /// Adds what one source gave. The source is marked done after the commit only if
    /// all of it was read.
    fn add(&mut self, found: Found, done: Done) -> bool {
        self.summary.inputs_read += 1;
        let complete = found.errors.is_empty();
        for e in found.errors {
            self.summary.failed.push(FailedInput {
                source: e.source,
                error: e.error,
            });
        }
        let slot = (complete && done != Done::Nothing).then_some(self.done.len());
        if slot.is_some() {
            self.done.push(done);
        }
        for r in found.reports {
            self.records += r.records.len();
            self.bytes += r.document.len() + r.meta.len();
            self.reports.push(r);
            self.slots.push(slot);
        }
        self.reports.len() >= self.opts.batch_reports
            || self.records >= self.opts.batch_records
            || self.bytes >= self.opts.batch_bytes
    }

    /// Commits the batch; returns what may now be marked done.
    async fn flush(&mut self) -> Result<Vec<Done>, ReportError> {
        if !self.reports.is_empty() {
            let outcomes: Vec<Option<ImportOutcome>> = match self
                .store
                .import_reports(&self.reports, self.opts.now)
                .await
            {
                Ok(o) => o.into_iter().map(Some).collect(),
                // The database refused something in the batch (not: it is down). One
                // at a time, the report it refuses is named and its source left
                // where it is; the others are stored.
                Err(e) if e.is_data_error() => {
                    let mut v = Vec::with_capacity(self.reports.len());
                    for (i, r) in self.reports.iter().enumerate() {
                        match self
                            .store
                            .import_reports(std::slice::from_ref(r), self.opts.now)
                            .await
                        {
                            Ok(mut o) => v.push(o.pop()),
                            Err(e) if e.is_data_error() => {
                                self.summary.failed.push(FailedInput {
                                    source: r.source.clone(),
                                    error: format!("not stored: {e}"),
                                });
                                if let Some(Some(slot)) = self.slots.get(i) {
                                    self.done[*slot] = Done::Nothing;
                                }
                                v.push(None);
                            }
                            Err(e) => return Err(e.into()),
                        }
                    }
                    v
                }
                Err(e) => return Err(e.into()),
            };
            for (o, r) in outcomes.into_iter().zip(&self.reports) {
                let Some(o) = o else { continue };
                match o {
                    ImportOutcome::New { records } => {
                        self.summary.reports_new += 1;
                        self.summary.records_new += records;
                    }
                    ImportOutcome::Duplicate => self.summary.reports_duplicate += 1,
                    ImportOutcome::Conflict => {
                        self.summary.reports_conflicting += 1;
                        if self.summary.conflicts.len() < MAX_LISTED {
                            self.summary.conflicts.push(Conflict {
                                source: r.source.clone(),
                                org_name: r.org_name.clone(),
                                report_id: r.report_id.clone(),
                                domain: r.domain.clone(),
                            });
                        }
                    }
                }
            }
        }
        self.reports.clear();
        self.slots.clear();
        self.records = 0;
        self.bytes = 0;
        let done: Vec<Done> = std::mem::take(&mut self.done)
            .into_iter()
            .filter(|d| *d != Done::Nothing)
            .collect();
        // Files are moved here; IMAP messages by the caller, which holds the session.
        let mut imap = Vec::new();
        for d in done {
            match d {
                Done::Move(path) => {
                    if let Some(dir) = &self.opts.move_to
                        && let Err(e) = move_into_maildir(&path, dir)
                    {
                        self.move_failed.push(FailedInput {
                            source: path.display().to_string(),
                            error: format!("stored, but not moved to {}: {e}", dir.display()),
                        });
                    }
                }
                other => imap.push(other),
            }
        }
        Ok(imap)
    }

    fn finish(mut self) -> ImportSummary {
        self.summary.failed.append(&mut self.move_failed);
        self.summary
    }
}

/// Imports every input; inputs that fail are listed in the summary, the others stored.
///
/// Files and mboxes are read and parsed on a thread of their own while the store
/// commits what came before (two cores: parsing and storing overlap).
pub async fn import(
    store: &dyn Store,
    inputs: &[Input],
    opts: &ImportOptions,
    progress: &dyn ImportProgress,
) -> Result<ImportSummary, ReportError> {
    let mut batch = Batch::new(store, opts);
    for input in inputs {
        match input {
            Input::Path(p) => {
                // Room for a batch's worth of parsed mail while the store commits the last.
                let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Msg>>(4);
                let flight = std::sync::Arc::new(InFlight::default());
                let flight_c = flight.clone();
                let _close = CloseOnDrop(flight.clone());
                let path = p.clone();
                let o = opts.clone();
                let reader = std::thread::spawn(move || {
                    let (mut out, threads) = pipeline(tx, o.limits, flight_c);
                    produce_path(&path, &o, &mut out);
                    drop(out);
                    threads.into_iter().all(|t| t.join().is_ok())
                });
                while let Some(bundle) = rx.recv().await {
                    for msg in bundle {
                        match msg {
                            Msg::Total(n, what) => progress.total(n, what),
                            Msg::Advance(n) => progress.advance(n),
                            Msg::Failed(f) => batch.summary.failed.push(f),
                            Msg::Found(found, done) => {
                                // Taken over by the batch, which bounds itself.
                                flight.release(weight(&found));
                                if batch.add(found, done) {
                                    batch.flush().await?;
                                }
                            }
                        }
                    }
                }
                if !reader.join().unwrap_or(false) {
                    return Err(ReportError::Usage(format!(
                        "{}: the reader stopped unexpectedly",
                        p.display()
                    )));
                }
            }
            Input::Imap(url) => {
                if let Err(e) = import_imap(&mut batch, url, progress).await {
                    // UIDs mean something in their own mailbox only: what this session
                    // left unmarked is read again next time (and found stored).
                    batch.done.retain(|d| !matches!(d, Done::Imap(_)));
                    match e {
                        ReportError::Usage(why) => {
                            // The client's errors start with the server; the source says it.
                            let place = format!("{url}: ");
                            let error = why.strip_prefix(&place).unwrap_or(&why).to_string();
                            batch.summary.failed.push(FailedInput {
                                source: url.to_string(),
                                error,
                            });
                        }
                        other => return Err(other),
                    }
                }
            }
        }
    }
    batch.flush().await?;
    Ok(batch.finish())
}

/// What the reader thread hands over.
enum Msg {
    Total(u64, &'static str),
    Advance(u64),
    Failed(FailedInput),
    Found(Found, Done),
}

/// The reader's end of a pipeline: the reader hands each mail or file (and its other
/// messages) over in order, a pool of workers (one per core) parses them as they come,
/// and a collector puts the results back in reading order and passes them on in
/// bundles (fewer thread wake-ups). Queues are bounded, so memory is too.
struct Out {
    work: std::sync::mpsc::SyncSender<(u64, Work)>,
    seq: u64,
    /// How many items the collector has passed on (`u64::MAX` once it has stopped);
    /// the reader stays within `window` items of it, so the collector's reordering
    /// holds at most that many results.
    passed: std::sync::Arc<(std::sync::Mutex<u64>, std::sync::Condvar)>,
    window: u64,
}

/// One piece of work, in reading order.
enum Work {
    Parse(Job, Done, u64),
    Pass(Msg),
}

/// Something to parse.
enum Job {
    Mail(String, Vec<u8>),
    File(String, Vec<u8>),
    Ready(Found),
}

impl Job {
    fn source(&self) -> String {
        match self {
            Job::Mail(s, _) | Job::File(s, _) => s.clone(),
            Job::Ready(_) => String::new(),
        }
    }

    /// Runs the job; a panic (a bug) becomes a failure of this input, not of the run.
    fn run_caught(self, limits: &Limits) -> Found {
        let source = self.source();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run(limits))).unwrap_or_else(
            |_| Found {
                reports: Vec::new(),
                errors: vec![Problem::new(
                    source,
                    "internal error while reading it (a bug in monban; please report it)",
                )],
            },
        )
    }

    fn run(self, limits: &Limits) -> Found {
        match self {
            Job::Mail(source, bytes) => from_mail(&bytes, &source, limits),
            Job::File(source, bytes) => from_file(&bytes, &source, limits),
            Job::Ready(found) => found,
        }
    }
}

/// What parsed reports on their way to the store may take together, about, in bytes:
/// past it, the workers wait before parsing more. (The window of inputs in flight is
/// counted in inputs; 32 reports of a million records each had taken 4.9 GB.) Each
/// worker may still hold the one report it parses, however large.
const IN_FLIGHT_BYTES: u64 = 256 << 20;

/// The bytes of parsed reports on their way to the store ([`IN_FLIGHT_BYTES`]).
#[derive(Default)]
struct InFlight {
    bytes: std::sync::Mutex<u64>,
    freed: std::sync::Condvar,
    /// Set when the importer stopped taking reports (it failed): nothing will be
    /// released again, and the workers must not wait for it.
    closed: std::sync::atomic::AtomicBool,
}

/// Closes an [`InFlight`] when the importer's loop ends, however it ends.
struct CloseOnDrop(std::sync::Arc<InFlight>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0
            .closed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.0.freed.notify_all();
    }
}

impl InFlight {
    /// Waits until there is room (one report over the bound alone still passes), or
    /// the importer stopped.
    fn wait_for_room(&self) {
        let Ok(mut g) = self.bytes.lock() else { return };
        while *g >= IN_FLIGHT_BYTES && !self.closed.load(std::sync::atomic::Ordering::Relaxed) {
            g = match self
                .freed
                .wait_timeout(g, std::time::Duration::from_millis(500))
            {
                Ok((g, _)) => g,
                Err(_) => return,
            };
        }
    }

    fn add(&self, n: u64) {
        if let Ok(mut g) = self.bytes.lock() {
            *g = g.saturating_add(n);
        }
    }

    fn release(&self, n: u64) {
        if let Ok(mut g) = self.bytes.lock() {
            *g = g.saturating_sub(n);
        }
        self.freed.notify_all();
    }
}

/// About how much memory parsed reports take: their text, and each record with the
/// strings it holds (a dozen, 32 bytes each at least).
fn weight(found: &Found) -> u64 {
    found
        .reports
        .iter()
        .map(|r| {
            (r.document.len() + r.meta.len()) as u64
                + r.records.len() as u64
                    * (std::mem::size_of::<monban_store::IncomingRecord>() as u64 + 384)
        })
        .sum()
}

/// Starts the workers and the collector; the returned handles end once `Out` is
/// dropped and everything is passed on.
fn pipeline(
    tx: tokio::sync::mpsc::Sender<Vec<Msg>>,
    limits: Limits,
    flight: std::sync::Arc<InFlight>,
) -> (Out, Vec<std::thread::JoinHandle<()>>) {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let (work_tx, work_rx) = std::sync::mpsc::sync_channel::<(u64, Work)>(4 * workers + 16);
    let work_rx = std::sync::Arc::new(std::sync::Mutex::new(work_rx));
    let (done_tx, done_rx) = std::sync::mpsc::sync_channel::<(u64, Vec<Msg>)>(4 * workers + 16);
    let mut handles = Vec::new();
    for _ in 0..workers {
        let rx = work_rx.clone();
        let out = done_tx.clone();
        let flight = flight.clone();
        handles.push(std::thread::spawn(move || {
            loop {
                flight.wait_for_room();
                let next = rx.lock().map(|r| r.recv());
                let Ok(Ok((seq, work))) = next else { return };
                let msgs = match work {
                    Work::Parse(job, done, adv) => {
                        let found = job.run_caught(&limits);
                        flight.add(weight(&found));
                        let mut v = vec![Msg::Found(found, done)];
                        if adv > 0 {
                            v.push(Msg::Advance(adv));
                        }
                        v
                    }
                    Work::Pass(m) => vec![m],
                };
                if out.send((seq, msgs)).is_err() {
                    return;
                }
            }
        }));
    }
    drop(done_tx);
    let passed = std::sync::Arc::new((std::sync::Mutex::new(0u64), std::sync::Condvar::new()));
    let window = 32 * workers as u64 + 32;
    let passed_c = passed.clone();
    let set_passed = move |v: u64| {
        let (m, c) = &*passed_c;
        if let Ok(mut g) = m.lock() {
            *g = v;
        }
        c.notify_all();
    };
    handles.push(std::thread::spawn(move || {
        let mut waiting: std::collections::BTreeMap<u64, Vec<Msg>> = Default::default();
        let mut next = 0u64;
        let mut bundle: Vec<Msg> = Vec::with_capacity(32);
        loop {
            // Block only when nothing is ready to pass on.
            let got = if bundle.is_empty() {
                done_rx.recv().ok()
            } else {
                match done_rx.try_recv() {
                    Ok(v) => Some(v),
                    Err(std::sync::mpsc::TryRecvError::Empty) => {
                        if tx.blocking_send(std::mem::take(&mut bundle)).is_err() {
                            set_passed(u64::MAX);
                            return;
                        }
                        continue;
                    }
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => None,
                }
            };
            let Some((seq, msgs)) = got else { break };
            waiting.insert(seq, msgs);
            while let Some(msgs) = waiting.remove(&next) {
                bundle.extend(msgs);
                next += 1;
            }
            set_passed(next);
            if bundle.len() >= 32 && tx.blocking_send(std::mem::take(&mut bundle)).is_err() {
                set_passed(u64::MAX);
                return;
            }
        }
        if !bundle.is_empty() {
            let _ = tx.blocking_send(bundle);
        }
        set_passed(u64::MAX);
    }));
    (
        Out {
            work: work_tx,
            seq: 0,
            passed,
            window,
        },
        handles,
    )
}

impl Out {
    fn push(&mut self, w: Work) -> bool {
        let seq = self.seq;
        self.seq += 1;
        {
            let (m, c) = &*self.passed;
            let Ok(mut g) = m.lock() else { return false };
            while *g != u64::MAX && seq >= g.saturating_add(self.window) {
                g = match c.wait(g) {
                    Ok(g) => g,
                    Err(_) => return false,
                };
            }
            if *g == u64::MAX {
                return false;
            }
        }
        self.work.send((seq, w)).is_ok()
    }

    /// Queues a parse; `advance` is reported once it is done.
    fn queue(&mut self, job: Job, done: Done, advance: u64) -> bool {
        self.push(Work::Parse(job, done, advance))
    }
}

/// Sends; false when the importer stopped listening (it failed).
fn send(tx: &mut Out, m: Msg) -> bool {
    tx.push(Work::Pass(m))
}

fn failed(tx: &mut Out, source: &Path, error: impl std::fmt::Display) -> bool {
    send(
        tx,
        Msg::Failed(FailedInput {
            source: source.display().to_string(),
            error: error.to_string(),
        }),
    )
}

fn produce_path(path: &Path, opts: &ImportOptions, tx: &mut Out) {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            failed(tx, path, e);
            return;
        }
    };
    if meta.is_dir() {
        let maildir = path.join("cur").is_dir() && path.join("new").is_dir();
        let mut files = Vec::new();
        let mut unread = Vec::new();
        if maildir {
            for sub in ["new", "cur"] {
                list_files(&path.join(sub), 0, 0, &mut files, &mut unread);
            }
        } else {
            list_files(path, 0, opts.max_depth, &mut files, &mut unread);
        }
        for f in unread {
            if !send(tx, Msg::Failed(f)) {
                return;
            }
        }
        files.sort();
        if !send(tx, Msg::Total(files.len() as u64, "files")) {
            return;
        }
        for f in files {
            let done = if maildir && opts.move_to.is_some() {
                Done::Move(f.clone())
            } else {
                Done::Nothing
            };
            // An mbox among a folder's files gives each of its messages, as it does
            // given alone (a Maildir's files are one message each).
            let more = match Opened::open(&f) {
                Ok(o) if !maildir && o.is_mbox() => mbox_messages(&f, o.reader(), opts, tx, false),
                Ok(o) => produce_file(&f, o, opts, done, tx),
                Err(e) => failed(tx, &f, e),
            };
            if !more || !send(tx, Msg::Advance(1)) {
                return;
            }
        }
        return;
    }
    // Opened once and its first bytes read once: a FIFO or a pipe (`<(zcat r.xml.gz)`)
    // named here cannot be opened again for the rest.
    let opened = match Opened::open(path) {
        Ok(o) => o,
        Err(e) => {
            failed(tx, path, e);
            return;
        }
    };
    if opened.is_mbox() {
        // Progress in bytes when the size is known (a regular file).
        let size = if meta.is_file() { meta.len() } else { 0 };
        if send(tx, Msg::Total(size, "bytes")) {
            mbox_messages(path, opened.reader(), opts, tx, true);
        }
        return;
    }
    if send(tx, Msg::Total(1, "files")) && produce_file(path, opened, opts, Done::Nothing, tx) {
        send(tx, Msg::Advance(1));
    }
}

/// An input opened, with its first bytes read (to tell an mbox): everything is read
/// from this one open file.
struct Opened {
    head: Vec<u8>,
    file: std::fs::File,
}

impl Opened {
    fn open(path: &Path) -> std::io::Result<Self> {
        let mut file = std::fs::File::open(path)?;
        let mut head = Vec::with_capacity(5);
        (&mut file).take(5).read_to_end(&mut head)?;
        Ok(Self { head, file })
    }

    /// Whether it starts with `From `: an mbox.
    fn is_mbox(&self) -> bool {
        self.head == b"From "
    }

    /// The whole input, its first bytes included.
    fn reader(self) -> impl Read {
        std::io::Cursor::new(self.head).chain(self.file)
    }
}

/// The files under `dir`, folders walked `max_depth` deep (hidden names skipped; links
/// followed); a folder that cannot be read or is deeper, a broken link and a special
/// file go to `unread` by name.
///
/// A folder or file met again (by device and inode) through a link is passed over:
/// a link to a folder above would make a loop, and each further link to one folder
/// would multiply the work at every level (two such links, eight levels: 256 walks).
fn list_files(
    dir: &Path,
    depth: usize,
    max_depth: usize,
    out: &mut Vec<PathBuf>,
    unread: &mut Vec<FailedInput>,
) {
    let mut seen = std::collections::HashSet::new();
    if let Ok(m) = std::fs::metadata(dir) {
        seen.insert(file_id(&m));
    }
    walk_folder(dir, depth, max_depth, out, unread, &mut seen);
}

/// A file's identity: its device and inode.
fn file_id(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt as _;
    (m.dev(), m.ino())
}

fn walk_folder(
    dir: &Path,
    depth: usize,
    max_depth: usize,
    out: &mut Vec<PathBuf>,
    unread: &mut Vec<FailedInput>,
    seen: &mut std::collections::HashSet<(u64, u64)>,
) {
    let failed = |source: &Path, error: String| FailedInput {
        source: source.display().to_string(),
        error,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            unread.push(failed(dir, format!("the folder cannot be read: {e}")));
            return;
        }
    };
    for e in entries {
        let e = match e {
            Ok(e) => e,
            Err(e) => {
                unread.push(failed(dir, format!("the folder cannot be read: {e}")));
                continue;
            }
        };
        let p = e.path();
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        // A symbolic link counts as what it leads to; a broken one is named.
        let meta = match e.file_type() {
            Ok(t) if t.is_symlink() => std::fs::metadata(&p),
            _ => e.metadata(),
        };
        let meta = match meta {
            Ok(m) => m,
            Err(e) => {
                unread.push(failed(&p, format!("cannot be read: {e}")));
                continue;
            }
        };
        let t = meta.file_type();
        // A file or folder met already (through a link) is passed over.
        if t.is_file() {
            if seen.insert(file_id(&meta)) {
                out.push(p);
            }
        } else if !t.is_dir() {
            // A FIFO, socket or device: reading one may never end.
            unread.push(failed(&p, "not a regular file; not read".to_string()));
        } else if seen.contains(&file_id(&meta)) {
        } else if depth < max_depth {
            seen.insert(file_id(&meta));
            walk_folder(&p, depth + 1, max_depth, out, unread, seen);
        } else {
            let why = if max_depth == 0 {
                "a folder inside a Maildir's new or cur; not read".to_string()
            } else {
                format!("a folder over {max_depth} levels deep; not read")
            };
            unread.push(failed(&p, why));
        }
    }
}

fn produce_file(
    path: &Path,
    input: Opened,
    opts: &ImportOptions,
    done: Done,
    tx: &mut Out,
) -> bool {
    let bytes = match read_bounded(input.reader(), opts.limits.max_input) {
        Ok(b) => b,
        Err(e) => return failed(tx, path, e),
    };
    tx.queue(Job::File(path.display().to_string(), bytes), done, 0)
}

fn read_bounded(input: impl Read, max: u64) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    input.take(max + 1).read_to_end(&mut out)?;
    if out.len() as u64 > max {
        return Err(std::io::Error::other(format!("over {max} bytes; not read")));
    }
    Ok(out)
}

/// Moves a Maildir message into `dir`'s `cur` (made as needed), keeping its name.
fn move_into_maildir(path: &Path, dir: &Path) -> std::io::Result<()> {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("no file name"))?;
    std::fs::rename(path, dir.join("cur").join(name))
}

/// Reads an mbox one message at a time (mboxo and mboxrd: a `From ` line after an
/// empty line starts a message; `>From ` lines lose one `>`).
///
/// Queues each message of the mbox `file` (named `path`), as a mail; progress in bytes
/// when `bytes_progress` (an mbox given alone), else none (an mbox in a folder, counted
/// as one file by the caller). False when the import is stopping.
fn mbox_messages(
    path: &Path,
    file: impl Read,
    opts: &ImportOptions,
    tx: &mut Out,
    bytes_progress: bool,
) -> bool {
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let max = opts.limits.max_input as usize;
    let mut message: Vec<u8> = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    let mut number = 0u64;
    let mut start_line = 0u64;
    let mut line_no = 0u64;
    let mut too_big = false;
    let mut prev_blank = true;
    let mut unread = 0u64;
    // Lines are read in pieces of at most 64 KiB: a file without line breaks costs no
    // more memory than that; only a piece that begins a line can be a `From ` line.
    let mut at_line_start = true;
    loop {
        line.clear();
        let n = match (&mut reader).take(64 * 1024).read_until(b'\n', &mut line) {
            Ok(n) => n,
            Err(e) => {
                return failed(tx, path, format!("read error after line {line_no}: {e}"));
            }
        };
        let eof = n == 0;
        let piece_starts_line = at_line_start;
        at_line_start = line.ends_with(b"\n");
        if piece_starts_line {
            line_no += 1;
        }
        unread += n as u64;
        let starts = !eof && piece_starts_line && prev_blank && line.starts_with(b"From ");
        if eof || starts {
            if number > 0 {
                let source = format!("{}: message {number} (line {start_line})", path.display());
                let job = if too_big {
                    Job::Ready(Found {
                        reports: Vec::new(),
                        errors: vec![Problem::new(
                            source,
                            format!("the message is over {max} bytes"),
                        )],
                    })
                } else {
                    Job::Mail(source, std::mem::take(&mut message))
                };
                let advance = if bytes_progress { unread } else { 0 };
                if !tx.queue(job, Done::Nothing, advance) {
                    return false;
                }
                unread = 0;
            }
            if eof {
                return true;
            }
            number += 1;
            start_line = line_no;
            message.clear();
            too_big = false;
            prev_blank = false;
            continue;
        }
        prev_blank = piece_starts_line && (line == b"\n" || line == b"\r\n");
        if number == 0 || too_big {
            continue;
        }
        let body: &[u8] = if piece_starts_line && line.starts_with(b">") && {
            let rest = line.iter().position(|&b| b != b'>').unwrap_or(line.len());
            line[rest..].starts_with(b"From ")
        } {
            &line[1..]
        } else {
            &line
        };
        if message.len() + body.len() > max {
            too_big = true;
            message = Vec::new();
            continue;
        }
        message.extend_from_slice(body);
    }
}

async fn import_imap(
    batch: &mut Batch<'_>,
    url: &ImapUrl,
    progress: &dyn ImportProgress,
) -> Result<(), ReportError> {
    let password = std::env::var("MONBAN_IMAP_PASSWORD").map_err(|_| {
        ReportError::Usage("MONBAN_IMAP_PASSWORD is not set (the IMAP password)".into())
    })?;
    let mut session = ImapSession::connect(url, &password)
        .await
        .map_err(|e| ReportError::Usage(format!("{e}")))?;
    let move_to = batch
        .opts
        .move_to
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    let uids = session
        .unseen_uids()
        .await
        .map_err(|e| ReportError::Usage(e.to_string()))?;
    progress.total(uids.len() as u64, "messages");
    let max = batch.opts.limits.max_input;
    for uid in uids {
        let source = format!("{url} UID {uid}");
        let found = match session.fetch(uid, max).await {
            Ok(Fetched::Message(mail)) => from_mail(&mail, &source, &batch.opts.limits),
            Ok(Fetched::TooLarge) => Found {
                reports: Vec::new(),
                errors: vec![Problem::new(
                    source,
                    format!("the message is over {max} bytes"),
                )],
            },
            // Expunged by another client since the search: nothing to read.
            Ok(Fetched::Gone) => {
                progress.advance(1);
                continue;
            }
            Err(e) => return Err(ReportError::Usage(e.to_string())),
        };
        if batch.add(found, Done::Imap(uid)) {
            let done = batch.flush().await?;
            mark_imap(&mut session, &done, move_to.as_deref()).await?;
        }
        progress.advance(1);
    }
    let done = batch.flush().await?;
    mark_imap(&mut session, &done, move_to.as_deref()).await?;
    session.logout().await;
    Ok(())
}

async fn mark_imap(
    session: &mut ImapSession,
    done: &[Done],
    move_to: Option<&str>,
) -> Result<(), ReportError> {
    let uids: Vec<u32> = done
        .iter()
        .filter_map(|d| match d {
            Done::Imap(u) => Some(*u),
            _ => None,
        })
        .collect();
    if uids.is_empty() {
        return Ok(());
    }
    session
        .mark_done(&uids, move_to)
        .await
        .map_err(|e| ReportError::Usage(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parsing waits while the parsed reports not yet taken by the store are over the
    /// bound, and goes on once they are taken.
    #[test]
    fn parsing_waits_for_room() {
        let flight = std::sync::Arc::new(InFlight::default());
        flight.add(IN_FLIGHT_BYTES);
        let f = flight.clone();
        let waiter = std::thread::spawn(move || f.wait_for_room());
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(!waiter.is_finished(), "went on over the bound");
        flight.release(1);
        waiter.join().unwrap();
        flight.wait_for_room();
        // An importer that stopped (its store failed) releases nothing again: the
        // workers go on (and find their channels closed) instead of waiting for ever.
        flight.add(IN_FLIGHT_BYTES);
        let f = flight.clone();
        let waiter = std::thread::spawn(move || f.wait_for_room());
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!waiter.is_finished());
        drop(CloseOnDrop(flight));
        waiter.join().unwrap();
    }

    struct Temp(PathBuf);

    impl Temp {
        fn new(name: &str) -> Self {
            let p = std::env::temp_dir().join(format!("monban-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            Self(p)
        }
    }

    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn report(id: usize) -> String {
        format!(
            "<feedback><report_metadata><org_name>r</org_name><report_id>{id}</report_id>\
             <date_range><begin>1</begin><end>2</end></date_range></report_metadata>\
             <policy_published><domain>example.com</domain><p>none</p></policy_published>\
             <record><row><source_ip>192.0.2.1</source_ip><count>1</count></row>\
             <identifiers><header_from>example.com</header_from></identifiers></record></feedback>"
        )
    }

    /// Folders are read 8 levels deep; a deeper one is a failed input by name, not
    /// skipped unsaid.
    #[test]
    fn folders_past_the_depth_are_failed_inputs() {
        let tree = Temp::new("import-depth");
        let db = Temp::new("import-depth-db");
        let opts = ImportOptions::default();
        // A report at levels 0 (the folder given) to max_depth + 1.
        let mut dir = tree.0.clone();
        let mut deepest = dir.clone();
        for level in 0..=opts.max_depth + 1 {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("r{level}.xml")), report(level)).unwrap();
            deepest = dir.clone();
            dir = dir.join(format!("d{}", level + 1));
        }
        let store = monban_store::SqliteStore::open(&db.0.join("m.db")).unwrap();
        let summary = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(import(
                &store,
                &[Input::Path(tree.0.clone())],
                &opts,
                &Quiet,
            ))
            .unwrap();
        assert_eq!(summary.reports_new, opts.max_depth as u64 + 1);
        assert_eq!(
            summary.failed,
            [FailedInput {
                source: deepest.display().to_string(),
                error: "a folder over 8 levels deep; not read".into(),
            }]
        );
    }

    /// Imports `inputs` into a new store in `db`; the summary.
    fn import_into(db: &Temp, inputs: &[PathBuf]) -> ImportSummary {
        let store = monban_store::SqliteStore::open(&db.0.join("m.db")).unwrap();
        let inputs: Vec<Input> = inputs.iter().cloned().map(Input::Path).collect();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(import(&store, &inputs, &ImportOptions::default(), &Quiet))
            .unwrap()
    }

    /// Every report of a zip is stored, each named by its member when it fails (only
    /// the first was stored, and the rest dropped without a word); a member that holds
    /// no report (a readme) is passed over.
    #[test]
    fn every_report_of_a_zip_is_imported() {
        let dir = Temp::new("import-zip");
        let db = Temp::new("import-zip-db");
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let members = [
            ("r0.xml", report(100)),
            ("readme.txt", "hello".into()),
            ("r1.xml", report(101)),
            ("", report(102)),
            ("bad.xml", "<feedback><oops".into()),
        ];
        for (name, text) in &members {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            std::io::Write::write_all(&mut w, text.as_bytes()).unwrap();
        }
        let path = dir.0.join("three.zip");
        std::fs::write(&path, w.finish().unwrap().into_inner()).unwrap();
        let summary = import_into(&db, std::slice::from_ref(&path));
        assert_eq!(summary.reports_new, 3, "{summary:?}");
        assert_eq!(summary.failed.len(), 1, "{summary:?}");
        assert!(
            summary.failed[0]
                .source
                .ends_with("three.zip: zip member \"bad.xml\""),
            "{summary:?}"
        );
    }

    /// An mbox among a folder's files gives each of its messages, as given alone (the
    /// folder walk read it as one mail: its first report only).
    #[test]
    fn an_mbox_in_a_folder_gives_every_message() {
        let dir = Temp::new("import-folder-mbox");
        let db = Temp::new("import-folder-mbox-db");
        let mail = |id: usize| {
            format!(
                "From r@example.net Mon Jan  1 00:00:00 2024\nFrom: r@example.net\n\
                 Subject: Report Domain: example.com\nContent-Type: text/xml\n\n{}\n\n",
                report(id)
            )
        };
        std::fs::write(
            dir.0.join("box.mbox"),
            [mail(200), mail(201), mail(202)].concat(),
        )
        .unwrap();
        std::fs::write(dir.0.join("one.xml"), report(203)).unwrap();
        let summary = import_into(&db, std::slice::from_ref(&dir.0));
        assert_eq!(summary.reports_new, 4, "{summary:?}");
        assert!(summary.failed.is_empty(), "{summary:?}");
    }

    /// An mbox line is read in pieces of 64 KiB: a `From ` that a piece starts with, in
    /// the middle of a long line, does not start a message.
    #[test]
    fn long_mbox_lines_are_read_in_pieces() {
        let dir = Temp::new("import-mbox");
        let db = Temp::new("import-mbox-db");
        let mbox = dir.0.join("reports.mbox");
        let line = "x".repeat(64 * 1024);
        let text = format!(
            "From a@example.com Mon Jan  1 00:00:00 2024\nSubject: one\n\n\n{line}\
             From b@example.com Mon Jan  1 00:00:00 2024\n{line}{line}\n\n\
             From c@example.com Mon Jan  1 00:00:00 2024\nSubject: two\n\nbody\n"
        );
        std::fs::write(&mbox, text).unwrap();
        let store = monban_store::SqliteStore::open(&db.0.join("m.db")).unwrap();
        let summary = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(import(
                &store,
                &[Input::Path(mbox.clone())],
                &ImportOptions::default(),
                &Quiet,
            ))
            .unwrap();
        // Two messages (neither a report), the second starting at line 8.
        assert_eq!(summary.inputs_read, 2, "{summary:?}");
        let sources: Vec<&str> = summary.failed.iter().map(|f| f.source.as_str()).collect();
        let name = mbox.display();
        assert_eq!(
            sources,
            [
                format!("{name}: message 1 (line 1)"),
                format!("{name}: message 2 (line 8)"),
            ]
        );
    }

    /// A folder that cannot be read is a failed input by name.
    #[test]
    fn unreadable_folders_are_failed_inputs() {
        let tree = Temp::new("import-unreadable");
        let gone = tree.0.join("gone");
        let (mut files, mut unread) = (Vec::new(), Vec::new());
        list_files(&gone, 0, 8, &mut files, &mut unread);
        assert!(files.is_empty());
        assert_eq!(unread.len(), 1);
        assert_eq!(unread[0].source, gone.display().to_string());
        assert!(
            unread[0].error.starts_with("the folder cannot be read: "),
            "{:?}",
            unread[0]
        );
        // A folder inside a Maildir's new or cur is not part of it.
        std::fs::create_dir_all(tree.0.join("new/sub")).unwrap();
        std::fs::write(tree.0.join("new/1.eml"), "Subject: x\n\nx").unwrap();
        let (mut files, mut unread) = (Vec::new(), Vec::new());
        list_files(&tree.0.join("new"), 0, 0, &mut files, &mut unread);
        assert_eq!(files, [tree.0.join("new/1.eml")]);
        assert_eq!(
            unread[0].error,
            "a folder inside a Maildir's new or cur; not read"
        );
    }

    /// Links back to a folder above (a loop) and several links to one folder: each
    /// folder and file is read once, however many ways lead to it.
    #[test]
    fn link_loops_and_repeated_links_are_walked_once() {
        let tree = Temp::new("import-loops");
        let top = tree.0.join("in");
        std::fs::create_dir_all(top.join("sub")).unwrap();
        std::fs::write(top.join("x.xml"), "<feedback/>").unwrap();
        std::fs::write(top.join("sub/y.xml"), "<feedback/>").unwrap();
        for (link, to) in [
            ("up1", "."),
            ("up2", "."),
            ("sub/back", ".."),
            ("sub/y2.xml", "y.xml"),
        ] {
            std::os::unix::fs::symlink(to, top.join(link)).unwrap();
        }
        let (mut files, mut unread) = (Vec::new(), Vec::new());
        list_files(&top, 0, 8, &mut files, &mut unread);
        assert!(unread.is_empty(), "{unread:?}");
        files.sort();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.strip_prefix(&top).unwrap().display().to_string())
            .collect();
        // y.xml through its own name or through the link y2.xml, whichever came first.
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(
            ["sub/y.xml", "sub/y2.xml"].contains(&names[0].as_str()),
            "{names:?}"
        );
        assert_eq!(names[1], "x.xml", "{names:?}");
    }

    /// A link to a report file is imported as the file; a broken link and a FIFO are
    /// failed inputs by name, not skipped without a word.
    #[test]
    fn links_are_followed_and_special_files_named() {
        let tree = Temp::new("import-links");
        let real = tree.0.join("elsewhere.xml");
        std::fs::write(&real, "<feedback/>").unwrap();
        std::fs::create_dir_all(tree.0.join("in")).unwrap();
        std::os::unix::fs::symlink(&real, tree.0.join("in/a.xml")).unwrap();
        std::os::unix::fs::symlink(tree.0.join("nowhere"), tree.0.join("in/b.xml")).unwrap();
        let fifo = tree.0.join("in/c.xml");
        let with_fifo = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        let (mut files, mut unread) = (Vec::new(), Vec::new());
        list_files(&tree.0.join("in"), 0, 8, &mut files, &mut unread);
        assert_eq!(files, [tree.0.join("in/a.xml")]);
        let mut why: Vec<(String, String)> =
            unread.into_iter().map(|f| (f.source, f.error)).collect();
        why.sort();
        assert_eq!(why.len(), 1 + usize::from(with_fifo), "{why:?}");
        assert_eq!(why[0].0, tree.0.join("in/b.xml").display().to_string());
        assert!(why[0].1.starts_with("cannot be read: "), "{why:?}");
        if with_fifo {
            assert_eq!(
                why[1],
                (
                    fifo.display().to_string(),
                    "not a regular file; not read".to_string()
                )
            );
        }
    }
}
