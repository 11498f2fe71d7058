//! Recording evaluations for aggregate reports without ever slowing or stopping mail
//! (issue 11, DESIGN §2 "Scale").
//!
//! The journal is the queue. At the end of each judged message, before the milter
//! answers the MTA, its evaluation is appended as one JSON line to the current segment
//! of an append-only journal in a local folder (one `write` to the page cache: it
//! survives a `kill -9` of the milter; it does not wait for the disk). A writer thread
//! of its own reads the journal in batches and records them in the store; what the
//! store has taken is marked in the `committed` file and whole segments are deleted.
//! When the database is unreachable, slow, read-only or its disk is full, rows simply
//! stay in the journal and the writer retries with backoff: mail keeps flowing, the log
//! and the metrics say so, and the writer catches up when the database is back.
//!
//! Nothing is counted twice: every evaluation has a unique id and the store keeps one
//! row per id, so a batch replayed after a crash between the database commit and the
//! `committed` update stores nothing again. Nothing is lost but what never reached the
//! journal: past `max_journal_bytes` (a database down for days) or when the journal
//! folder cannot be written, an evaluation is counted in
//! `monban_milter_record_lost_total` and logged, and the message is still judged.
//!
//! One milter process per journal folder: the folder's `lock` file is held while a
//! recorder runs, and a second one is refused.

use std::fs::{File, OpenOptions};
use std::io::{BufRead as _, BufReader, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use monban_store::{Evaluation, Store, StoreUrl};

use crate::metrics::Metrics;

/// A segment is closed and a new one begun past this size.
const SEGMENT_BYTES: u64 = 8 * 1024 * 1024;
/// How often the writer looks at the journal when no full batch woke it.
const WRITE_EVERY: Duration = Duration::from_secs(1);

/// The longest journal line read back (an evaluation is well under 100 KiB: DKIM
/// results are capped at 100 per message).
const MAX_LINE: usize = 1024 * 1024;

/// The recording settings (`[store]` in the milter configuration).
#[derive(Debug, Clone)]
pub struct RecordConfig {
    /// The store.
    pub url: StoreUrl,
    /// The journal folder.
    pub journal: PathBuf,
    /// The most the journal may hold before new evaluations are dropped (counted).
    pub max_journal_bytes: u64,
    /// Evaluations per database transaction.
    pub batch: usize,
    /// How the milter finds organizational domains (`treewalk` or `psl`).
    pub discovery_method: &'static str,
    /// Failure reports (RFC 9991), when on.
    pub failure: Option<monban_report::failure::FailureOptions>,
}

/// The recorder: [`Recorder::append`] from the connections, a writer thread behind.
#[derive(Debug)]
pub struct Recorder {
    shared: Arc<Shared>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The journal folder's lock (`lock` in it, held while this recorder runs): a
    /// second milter given the same folder deleted the first one's active segment and
    /// recorded its evaluations into its own store.
    lock: Mutex<Option<std::fs::File>>,
}

/// The name of the lock file in a journal folder.
const LOCK_FILE: &str = "lock";

/// Takes the journal folder's lock, or says which folder is in use.
fn lock_journal(dir: &Path) -> std::io::Result<std::fs::File> {
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            format!(
                "the journal folder {} is in use by another monban process: give each milter its own [store] journal",
                dir.display()
            ),
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(std::io::Error::new(
            e.kind(),
            format!("cannot lock {}: {e}", path.display()),
        )),
    }
}

#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    appender: Mutex<Appender>,
    /// The segment appended to (the writer never deletes it).
    active: AtomicU64,
    /// Bytes in the journal not yet committed (about).
    backlog: AtomicU64,
    max_bytes: u64,
    wake: Condvar,
    woken: Mutex<bool>,
    stop: AtomicBool,
    metrics: Arc<Metrics>,
    uid_base: String,
    next_uid: AtomicU64,
    discovery_method: &'static str,
    failure: Option<monban_report::failure::FailureOptions>,
    limiter: Mutex<monban_report::failure::RateLimiter>,
    /// Lines appended since the writer last started a pass.
    unwritten: AtomicU64,
    /// The writer's batch size.
    batch: usize,
}

#[derive(Debug)]
struct Appender {
    seq: u64,
    file: Option<File>,
    size: u64,
}

/// Where the writer is: the segment and byte offset up to which the store has every
/// evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Committed {
    seq: u64,
    offset: u64,
}

fn segment_name(seq: u64) -> String {
    format!("segment-{seq:020}.jsonl")
}

fn segment_seq(name: &str) -> Option<u64> {
    name.strip_prefix("segment-")?
        .strip_suffix(".jsonl")?
        .parse()
        .ok()
}

/// The segments in the folder, oldest first.
fn segments(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut v: Vec<u64> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| segment_seq(e.file_name().to_str()?))
        .collect();
    v.sort_unstable();
    Ok(v)
}

fn read_committed(dir: &Path) -> Committed {
    std::fs::read_to_string(dir.join("committed"))
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace();
            Some(Committed {
                seq: it.next()?.parse().ok()?,
                offset: it.next()?.parse().ok()?,
            })
        })
        .unwrap_or(Committed { seq: 0, offset: 0 })
}

fn write_committed(dir: &Path, c: Committed) -> std::io::Result<()> {
    let tmp = dir.join("committed.tmp");
    std::fs::write(&tmp, format!("{} {}\n", c.seq, c.offset))?;
    std::fs::rename(&tmp, dir.join("committed"))
}

impl Recorder {
    /// Opens the journal folder (creating it) and starts the writer thread. The store
    /// is opened by the writer, so a database that is down at start delays nothing.
    pub fn start(config: RecordConfig, metrics: Arc<Metrics>) -> std::io::Result<Self> {
        std::fs::create_dir_all(&config.journal).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("the journal folder {}: {e}", config.journal.display()),
            )
        })?;
        let lock = lock_journal(&config.journal)?;
        let existing = segments(&config.journal)?;
        let committed = read_committed(&config.journal);
        // Never append to a segment a crash may have left with a torn last line, nor
        // below where the writer will read next.
        let seq = existing
            .last()
            .map_or(1, |s| s + 1)
            .max(committed.seq)
            .max(1);
        let backlog = existing
            .iter()
            .filter_map(|s| {
                let len = std::fs::metadata(config.journal.join(segment_name(*s)))
                    .ok()?
                    .len();
                // What the store already has of the segment being read is not waiting.
                Some(if *s == committed.seq {
                    len.saturating_sub(committed.offset)
                } else {
                    len
                })
            })
            .sum();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "localhost".into());
        let shared = Arc::new(Shared {
            dir: config.journal.clone(),
            appender: Mutex::new(Appender {
                seq,
                file: None,
                size: 0,
            }),
            active: AtomicU64::new(seq),
            backlog: AtomicU64::new(backlog),
            max_bytes: config.max_journal_bytes,
            wake: Condvar::new(),
            woken: Mutex::new(false),
            stop: AtomicBool::new(false),
            metrics,
            uid_base: format!("{host}-{}-{nanos}", std::process::id()),
            next_uid: AtomicU64::new(0),
            discovery_method: config.discovery_method,
            failure: config.failure.clone(),
            limiter: Mutex::new(monban_report::failure::RateLimiter::default()),
            unwritten: AtomicU64::new(0),
            batch: config.batch,
        });
        shared.metrics.record_backlog(backlog);
        let writer_shared = shared.clone();
        let writer = std::thread::Builder::new()
            .name("monban-recorder".into())
            .spawn(move || writer_main(&writer_shared, &config))?;
        Ok(Self {
            shared,
            writer: Mutex::new(Some(writer)),
            lock: Mutex::new(Some(lock)),
        })
    }

    /// A unique id for the next evaluation (host, process, start time, sequence).
    pub fn next_uid(&self) -> String {
        let n = self.shared.next_uid.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n}", self.shared.uid_base)
    }

    /// How policies are discovered, for [`Evaluation::from_report`].
    pub fn discovery_method(&self) -> &'static str {
        self.shared.discovery_method
    }

    /// What to record of a judged message: its evaluation, with a failure report
    /// when the policy asks for one (RFC 9991; rate limited per destination).
    pub async fn evaluation<R: monban_dns::Resolver>(
        &self,
        report: &monban::pipeline::Report,
        envelope: &monban::pipeline::Envelope,
        resolver: &R,
        now: i64,
    ) -> Evaluation {
        let uid = self.next_uid();
        let failure = match &self.shared.failure {
            Some(options) => {
                monban_report::failure::build(
                    report,
                    envelope,
                    resolver,
                    &uid,
                    now,
                    options,
                    &self.shared.limiter,
                )
                .await
            }
            None => None,
        };
        let mut e = Evaluation::from_report(report, envelope, now, self.discovery_method(), uid);
        e.failure = failure;
        e
    }

    /// Appends one evaluation to the journal (a `write` to the page cache; no disk
    /// wait). Never fails the message: a failure is logged and counted.
    pub fn append(&self, evaluation: &Evaluation) {
        let s = &self.shared;
        let mut line = match serde_json::to_vec(evaluation) {
            Ok(l) => l,
            Err(e) => {
                s.metrics.record_lost();
                tracing::error!(error = %e, "an evaluation could not be serialized; not recorded");
                return;
            }
        };
        line.push(b'\n');
        if s.backlog.load(Ordering::Relaxed) + line.len() as u64 > s.max_bytes {
            s.metrics.record_lost();
            tracing::error!(
                max_journal_bytes = s.max_bytes,
                "the recording journal is full (is the store down?); evaluation not recorded"
            );
            return;
        }
        let result = {
            let mut a = s.appender.lock().unwrap_or_else(|p| p.into_inner());
            append_line(&s.dir, &mut a, &line, &s.active)
        };
        match result {
            Ok(()) => {
                let backlog = s.backlog.fetch_add(line.len() as u64, Ordering::Relaxed);
                s.metrics.record_journaled();
                s.metrics.record_backlog(backlog + line.len() as u64);
                // The writer wakes by itself every WRITE_EVERY; a full batch wakes it
                // sooner. Waking it for every message would make batches of one.
                let waiting = s.unwritten.fetch_add(1, Ordering::Relaxed) + 1;
                if waiting >= s.batch as u64 {
                    let mut w = s.woken.lock().unwrap_or_else(|p| p.into_inner());
                    *w = true;
                    s.wake.notify_one();
                }
            }
            Err(e) => {
                s.metrics.record_lost();
                s.metrics.record_error("journal");
                tracing::error!(
                    journal = %s.dir.display(),
                    error = %e,
                    "cannot append to the recording journal (full disk? read-only?); evaluation not recorded, mail unaffected"
                );
            }
        }
    }

    /// Stops the writer after it has stored what it can within `grace` (what is left
    /// stays in the journal for the next start).
    pub fn shutdown(&self, grace: Duration) {
        let s = &self.shared;
        let deadline = std::time::Instant::now() + grace;
        // Let the writer drain while the store takes rows.
        while s.backlog.load(Ordering::Relaxed) > 0 && std::time::Instant::now() < deadline {
            {
                let mut w = s.woken.lock().unwrap_or_else(|p| p.into_inner());
                *w = true;
                s.wake.notify_one();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        s.stop.store(true, Ordering::Relaxed);
        {
            let mut w = s.woken.lock().unwrap_or_else(|p| p.into_inner());
            *w = true;
            s.wake.notify_one();
        }
        if let Some(h) = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = h.join();
        }
        // The writer is done: another process may take the folder over.
        drop(self.lock.lock().unwrap_or_else(|p| p.into_inner()).take());
    }
}

fn append_line(
    dir: &Path,
    a: &mut Appender,
    line: &[u8],
    active: &AtomicU64,
) -> std::io::Result<()> {
    if a.file.is_some() && a.size >= SEGMENT_BYTES {
        a.file = None;
        a.seq += 1;
        a.size = 0;
        active.store(a.seq, Ordering::Relaxed);
    }
    if a.file.is_none() {
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(segment_name(a.seq)))?;
        a.size = f.metadata()?.len();
        a.file = Some(f);
    }
    let f = a.file.as_mut().expect("opened above");
    match f.write_all(line) {
        Ok(()) => {
            a.size += line.len() as u64;
            Ok(())
        }
        Err(e) => {
            // A partial line may be in the file: begin a new segment, so the reader
            // meets the torn line only at the end of a closed one (and skips it).
            a.file = None;
            a.seq += 1;
            a.size = 0;
            active.store(a.seq, Ordering::Relaxed);
            Err(e)
        }
    }
}

/// The writer thread: opens the store (retrying), then moves journal lines into it.
fn writer_main(s: &Shared, config: &RecordConfig) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "the recorder cannot start its runtime; evaluations stay in the journal");
            return;
        }
    };
    let mut store: Option<Box<dyn Store>> = None;
    let mut committed = read_committed(&s.dir);
    let mut backoff = Duration::from_millis(250);
    let mut failing = false;
    // The failure-report limit starts from the last hour the store holds (this host
    // before a restart, the other hosts of a shared database), once, when the store is
    // first opened.
    let mut limiter_seeded = s.failure.is_none();
    loop {
        if s.stop.load(Ordering::Relaxed) {
            return;
        }
        let step = rt.block_on(async {
            if store.is_none() {
                store = Some(monban_store::open(&config.url).await?);
            }
            let st = store.as_deref().expect("opened above");
            if !limiter_seeded {
                // Best effort: a store that cannot say leaves the limit counting from
                // this start, and never holds up the journal.
                limiter_seeded = true;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
                match monban_report::failure::RateLimiter::from_store(st, now).await {
                    Ok(seeded) => s
                        .limiter
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .absorb(seeded),
                    Err(e) => tracing::warn!(
                        error = %e,
                        "the failure-report limit counts from now: the store did not say what the last hour sent"
                    ),
                }
            }
            drain(s, st, &mut committed, config.batch).await
        });
        match step {
            Ok(()) => {
                if failing {
                    tracing::info!("the store is back; recording caught up");
                    failing = false;
                }
                backoff = Duration::from_millis(250);
                wait(s, WRITE_EVERY);
            }
            Err(e) => {
                s.metrics.record_error("store");
                if !failing {
                    tracing::error!(
                        error = %e,
                        journal = %s.dir.display(),
                        "the store cannot take evaluations; they wait in the journal and are stored when it is back; mail is unaffected"
                    );
                    failing = true;
                }
                // A pooled PostgreSQL store reconnects by itself; SQLite reopens.
                if matches!(config.url, StoreUrl::Sqlite(_)) {
                    store = None;
                }
                wait(s, backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

fn wait(s: &Shared, d: Duration) {
    let w = s.woken.lock().unwrap_or_else(|p| p.into_inner());
    let (mut w, _) = s
        .wake
        .wait_timeout_while(w, d, |woken| !*woken && !s.stop.load(Ordering::Relaxed))
        .unwrap_or_else(|p| p.into_inner());
    *w = false;
}

/// Stores every complete line of the journal past `committed`, a batch at a time.
async fn drain(
    s: &Shared,
    store: &dyn Store,
    committed: &mut Committed,
    batch: usize,
) -> Result<(), monban_store::StoreError> {
    let io = |e: std::io::Error| monban_store::StoreError::Io {
        path: s.dir.display().to_string(),
        source: e,
    };
    s.unwritten.store(0, Ordering::Relaxed);
    loop {
        if s.stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let segs = segments(&s.dir).map_err(io)?;
        // A segment below the committed one cannot have been stored (stored segments
        // are deleted): the committed file is behind it (restored, or from another
        // journal). Read it from its start; the store counts nothing twice.
        if let Some(&oldest) = segs.first()
            && oldest < committed.seq
        {
            tracing::warn!(
                segment = oldest,
                committed = committed.seq,
                "a journal segment older than the committed mark: reading it from its start"
            );
            *committed = Committed {
                seq: oldest,
                offset: 0,
            };
        }
        let Some(&seq) = segs.iter().find(|&&q| q >= committed.seq) else {
            return Ok(());
        };
        if seq != committed.seq {
            *committed = Committed { seq, offset: 0 };
        }
        let active = s.active.load(Ordering::Relaxed);
        let path = s.dir.join(segment_name(seq));
        let (rows, consumed, at_end) =
            read_batch(&path, committed.offset, batch, &s.metrics).map_err(io)?;
        if !rows.is_empty() {
            let new = store.record(&rows).await?;
            s.metrics
                .record_stored(new as u64, (rows.len() - new) as u64);
        }
        if consumed > 0 {
            committed.offset += consumed;
            s.backlog.fetch_sub(
                consumed.min(s.backlog.load(Ordering::Relaxed)),
                Ordering::Relaxed,
            );
            write_committed(&s.dir, *committed).map_err(io)?;
        }
        if at_end {
            if seq < active {
                // A closed segment, fully stored: gone. What is left past the last
                // line break is a line torn by a crash.
                let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                if len > committed.offset {
                    s.metrics.record_error("journal_torn_line");
                    tracing::warn!(segment = %path.display(), "skipped a torn last line (the milter stopped while writing it)");
                    s.backlog.fetch_sub(
                        (len - committed.offset).min(s.backlog.load(Ordering::Relaxed)),
                        Ordering::Relaxed,
                    );
                }
                std::fs::remove_file(&path).map_err(io)?;
                *committed = Committed {
                    seq: seq + 1,
                    offset: 0,
                };
                write_committed(&s.dir, *committed).map_err(io)?;
                continue;
            }
            s.metrics.record_backlog(s.backlog.load(Ordering::Relaxed));
            return Ok(());
        }
    }
}

/// Up to `batch` complete lines from `offset`: the evaluations, the bytes consumed,
/// and whether the end of the complete lines was reached.
fn read_batch(
    path: &Path,
    offset: u64,
    batch: usize,
    metrics: &Metrics,
) -> std::io::Result<(Vec<Evaluation>, u64, bool)> {
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut reader = BufReader::new(f.take(u64::MAX));
    let mut rows = Vec::new();
    let mut consumed = 0u64;
    let mut line = Vec::new();
    while rows.len() < batch {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 || line.last() != Some(&b'\n') {
            // The end, or a line still being written (or torn).
            if n > MAX_LINE {
                // Not one of ours: skip to the next line break.
                metrics.record_error("journal_corrupt");
                // Skipped in bounded pieces: a damaged journal never takes memory.
                let mut skipped = 0u64;
                let mut piece = Vec::new();
                let ended = loop {
                    piece.clear();
                    let m = (&mut reader)
                        .take(MAX_LINE as u64)
                        .read_until(b'\n', &mut piece)?;
                    skipped += m as u64;
                    if m == 0 {
                        break false;
                    }
                    if piece.last() == Some(&b'\n') {
                        break true;
                    }
                };
                if ended {
                    consumed += n as u64 + skipped;
                    continue;
                }
            }
            return Ok((rows, consumed, true));
        }
        consumed += n as u64;
        match serde_json::from_slice::<Evaluation>(&line[..n - 1]) {
            Ok(e) => rows.push(e),
            Err(e) => {
                metrics.record_error("journal_corrupt");
                tracing::warn!(segment = %path.display(), error = %e, "skipped a journal line that is not an evaluation");
            }
        }
    }
    Ok((rows, consumed, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One recorder per journal folder: a second milter given the same folder deleted
    /// the first one's active segment (1,000 of 1,001 evaluations lost, in a trial)
    /// and is now refused by name; after the first shuts down, the folder is free.
    #[test]
    fn a_journal_folder_is_one_recorders() {
        let dir = std::env::temp_dir().join(format!("monban-rec-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = || RecordConfig {
            url: StoreUrl::Sqlite(PathBuf::from("/dev/null/monban.db")),
            journal: dir.clone(),
            max_journal_bytes: 1 << 20,
            batch: 500,
            discovery_method: "treewalk",
            failure: None,
        };
        let metrics = Arc::new(Metrics::default());
        let first = Recorder::start(config(), metrics.clone()).unwrap();
        let Err(e) = Recorder::start(config(), metrics.clone()) else {
            panic!("a second recorder was given the folder");
        };
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
        assert!(
            e.to_string()
                .contains("is in use by another monban process"),
            "{e}"
        );
        first.shutdown(Duration::ZERO);
        let second = Recorder::start(config(), metrics).unwrap();
        second.shutdown(Duration::ZERO);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A damaged journal: a line over the bound is skipped in bounded pieces, counted,
    /// and reading goes on after it.
    #[test]
    fn overlong_journal_line_is_skipped_and_reading_goes_on() {
        let dir = std::env::temp_dir().join(format!("monban-rec-long-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("segment");
        let mut data = vec![b'x'; 3 * MAX_LINE + 7];
        data.extend_from_slice(b"\nnot an evaluation\n");
        std::fs::write(&path, &data).unwrap();
        let metrics = Metrics::default();
        let (rows, consumed, end) = read_batch(&path, 0, 10, &metrics).unwrap();
        assert!(rows.is_empty());
        assert_eq!(consumed, data.len() as u64);
        assert!(end);
        assert!(
            metrics
                .render()
                .contains("monban_milter_record_errors_total{stage=\"journal_corrupt\"} 2")
        );
        // A line exactly at the bound is read (and is not an evaluation).
        let mut exact = vec![b'y'; MAX_LINE - 1];
        exact.push(b'\n');
        std::fs::write(&path, &exact).unwrap();
        let (_, consumed, _) = read_batch(&path, 0, 10, &Metrics::default()).unwrap();
        assert_eq!(consumed, exact.len() as u64);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// While the store is out of reach the journal grows to `max_journal_bytes`: an
    /// evaluation that fits is journaled, the next one is dropped and counted (the mail
    /// is not concerned). Configured: 1 GiB by default, at least 1 MiB.
    #[test]
    fn the_journal_holds_up_to_max_journal_bytes() {
        let dir = std::env::temp_dir().join(format!("monban-rec-full-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let evaluation = |uid: &str| Evaluation {
            uid: uid.into(),
            time: 1_800_000_000,
            source_ip: None,
            envelope_from: None,
            header_from: Some("example.com".into()),
            dkim: Vec::new(),
            spf: None,
            policy: None,
            dmarc: "none".into(),
            disposition: "none".into(),
            dkim_aligned: false,
            spf_aligned: false,
            overrides: Vec::new(),
            policy_applied: None,
            report_mail: false,
            failure: None,
        };
        let line = serde_json::to_vec(&evaluation("u1")).unwrap().len() as u64 + 1;
        let metrics = Arc::new(Metrics::default());
        // A store that cannot be opened: nothing leaves the journal.
        let recorder = Recorder::start(
            RecordConfig {
                url: StoreUrl::Sqlite(PathBuf::from("/dev/null/monban.db")),
                journal: dir.clone(),
                max_journal_bytes: 2 * line,
                batch: 500,
                discovery_method: "treewalk",
                failure: None,
            },
            metrics.clone(),
        )
        .unwrap();
        let lost = |n: u64| {
            metrics
                .render()
                .lines()
                .any(|l| l == format!("monban_milter_record_lost_total {n}"))
        };
        recorder.append(&evaluation("u1"));
        recorder.append(&evaluation("u2"));
        assert!(lost(0), "{}", metrics.render());
        recorder.append(&evaluation("u3"));
        assert!(lost(1), "{}", metrics.render());
        recorder.shutdown(Duration::ZERO);
        let journaled: usize = segments(&dir)
            .unwrap()
            .iter()
            .map(|s| {
                std::fs::read_to_string(dir.join(segment_name(*s)))
                    .unwrap()
                    .lines()
                    .count()
            })
            .sum();
        assert_eq!(journaled, 2);
        std::fs::remove_dir_all(&dir).unwrap();
        // The configured bound.
        let parse = |extra: &str| {
            crate::config::Config::parse(
                &format!("authserv_id = \"mx\"\n[store]\nurl = \"sqlite:/tmp/m.db\"\n{extra}"),
                "m.toml",
                Path::new("/tmp"),
            )
        };
        let bound = |c: crate::config::Config| c.record.unwrap().max_journal_bytes;
        assert_eq!(bound(parse("").unwrap()), 1 << 30);
        assert_eq!(
            bound(parse("max_journal_bytes = 1048576").unwrap()),
            1 << 20
        );
        let e = parse("max_journal_bytes = 1048575")
            .unwrap_err()
            .to_string();
        assert!(e.contains("must be at least 1048576"), "{e}");
    }

    #[test]
    fn segment_names_round_trip() {
        assert_eq!(segment_seq(&segment_name(42)), Some(42));
        assert_eq!(segment_seq("committed"), None);
        assert_eq!(segment_seq("segment-x.jsonl"), None);
    }
}
