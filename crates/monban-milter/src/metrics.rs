//! Counters for Prometheus, in its text exposition format (version 0.0.4), served at
//! `/metrics` by [`serve_metrics`]. Kept in-tree: a few atomics and a small HTTP reply,
//! not a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use monban_dns::{Lookup, RecordType, Resolver};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Upper bounds of the latency histograms, in seconds.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A latency histogram (Prometheus `histogram`: cumulative buckets, sum, count).
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn render(&self, s: &mut String, name: &str, help: &str) {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (i, bound) in BUCKETS.iter().enumerate() {
            let n = self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(s, "{name}_bucket{{le=\"{bound}\"}} {n}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(s, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(s, "{name}_sum {sum}");
        let _ = writeln!(s, "{name}_count {count}");
    }
}

/// All counters.
#[derive(Debug, Default)]
pub struct Metrics {
    sessions_total: AtomicU64,
    sessions_active: AtomicU64,
    errors: AtomicU64,
    /// (verdict, action) → count.
    messages: Mutex<BTreeMap<(String, String), u64>>,
    /// (method, result) → count.
    results: Mutex<BTreeMap<(String, String), u64>>,
    /// limit → how often it was reached (connections, timeouts, sizes).
    limits: Mutex<BTreeMap<&'static str, u64>>,
    accept_errors: AtomicU64,
    dns: Histogram,
    /// The end of each message: from the MTA's end-of-message command to the reply
    /// (every check, the verdict, the record; waiting for a turn included).
    end_of_message: Histogram,
    record_journaled: AtomicU64,
    record_stored: AtomicU64,
    record_duplicates: AtomicU64,
    record_lost: AtomicU64,
    record_backlog: AtomicU64,
    /// stage (`journal`, `store`, `journal_corrupt`, `journal_torn_line`) → count.
    record_errors: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    /// A connection opened.
    pub fn session_started(&self) {
        self.sessions_total.fetch_add(1, Ordering::Relaxed);
        self.sessions_active.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection closed.
    pub fn session_ended(&self) {
        self.sessions_active.fetch_sub(1, Ordering::Relaxed);
    }

    /// A protocol or I/O error.
    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// A message finished with a DMARC verdict and an action.
    pub fn message(&self, verdict: &str, action: &str) {
        let mut m = self.messages.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry((verdict.to_owned(), action.to_owned()))
            .or_default() += 1;
    }

    /// A limit was reached: `connections` (a connection closed at the cap),
    /// `idle_timeout`, `command_timeout`, `message_timeout`, `packet_size` (a packet
    /// over the limit), `header_size`, `header_malformed` (a message refused),
    /// `protocol` (a command out of order), `shutdown_grace` (a connection closed by a
    /// stopping server with its message under way).
    pub fn limit(&self, which: &'static str) {
        let mut m = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry(which).or_default() += 1;
    }

    /// Accepting a connection failed (e.g. out of file descriptors).
    pub fn accept_error(&self) {
        self.accept_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// One method's result.
    pub fn result(&self, method: &str, result: &str) {
        let mut m = self.results.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry((method.to_owned(), result.to_owned())).or_default() += 1;
    }

    /// One DNS lookup took this long.
    pub fn dns(&self, took: Duration) {
        self.dns.observe(took);
    }

    /// The end of one message took this long.
    pub fn end_of_message(&self, took: Duration) {
        self.end_of_message.observe(took);
    }

    /// An evaluation was appended to the recording journal.
    pub fn record_journaled(&self) {
        self.record_journaled.fetch_add(1, Ordering::Relaxed);
    }

    /// The store took `new` evaluations (and already had `duplicates`).
    pub fn record_stored(&self, new: u64, duplicates: u64) {
        self.record_stored.fetch_add(new, Ordering::Relaxed);
        self.record_duplicates
            .fetch_add(duplicates, Ordering::Relaxed);
    }

    /// An evaluation could not be recorded (journal full or unwritable).
    pub fn record_lost(&self) {
        self.record_lost.fetch_add(1, Ordering::Relaxed);
    }

    /// Bytes waiting in the journal.
    pub fn record_backlog(&self, bytes: u64) {
        self.record_backlog.store(bytes, Ordering::Relaxed);
    }

    /// A recording failure at `stage`.
    pub fn record_error(&self, stage: &'static str) {
        let mut m = self.record_errors.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry(stage).or_default() += 1;
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let counter = |s: &mut String, name: &str, help: &str, kind: &str, v: u64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        };
        counter(
            &mut s,
            "monban_milter_sessions_total",
            "MTA connections accepted.",
            "counter",
            self.sessions_total.load(Ordering::Relaxed),
        );
        counter(
            &mut s,
            "monban_milter_sessions_active",
            "MTA connections open.",
            "gauge",
            self.sessions_active.load(Ordering::Relaxed),
        );
        counter(
            &mut s,
            "monban_milter_errors_total",
            "Protocol and I/O errors.",
            "counter",
            self.errors.load(Ordering::Relaxed),
        );
        counter(
            &mut s,
            "monban_milter_accept_errors_total",
            "Failed accepts (each followed by a pause).",
            "counter",
            self.accept_errors.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            s,
            "# HELP monban_milter_limits_total Limits reached, by limit.\n# TYPE monban_milter_limits_total counter"
        );
        let limits = self
            .limits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for which in [
            "connections",
            "idle_timeout",
            "command_timeout",
            "message_timeout",
            "packet_size",
            "header_size",
            "header_malformed",
            "protocol",
            "shutdown_grace",
        ] {
            let n = limits.get(which).copied().unwrap_or(0);
            let _ = writeln!(s, "monban_milter_limits_total{{limit=\"{which}\"}} {n}");
        }
        let _ = writeln!(
            s,
            "# HELP monban_milter_messages_total Messages by DMARC verdict and action.\n# TYPE monban_milter_messages_total counter"
        );
        for ((verdict, action), n) in self
            .messages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                s,
                "monban_milter_messages_total{{verdict=\"{verdict}\",action=\"{action}\"}} {n}"
            );
        }
        let _ = writeln!(
            s,
            "# HELP monban_milter_results_total Results per authentication method.\n# TYPE monban_milter_results_total counter"
        );
        for ((method, result), n) in self
            .results
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                s,
                "monban_milter_results_total{{method=\"{method}\",result=\"{result}\"}} {n}"
            );
        }
        self.dns
            .render(&mut s, "monban_milter_dns_seconds", "DNS lookup latency.");
        self.end_of_message.render(
            &mut s,
            "monban_milter_end_of_message_seconds",
            "Time from the end of a message to the milter's reply (checks, verdict, record).",
        );
        for (name, help, kind, v) in [
            (
                "monban_milter_record_journaled_total",
                "Evaluations appended to the recording journal.",
                "counter",
                &self.record_journaled,
            ),
            (
                "monban_milter_record_stored_total",
                "Evaluations the store took.",
                "counter",
                &self.record_stored,
            ),
            (
                "monban_milter_record_duplicates_total",
                "Evaluations replayed that the store already had (not counted again).",
                "counter",
                &self.record_duplicates,
            ),
            (
                "monban_milter_record_lost_total",
                "Evaluations not recorded (journal full or unwritable); the mail was judged anyway.",
                "counter",
                &self.record_lost,
            ),
            (
                "monban_milter_record_backlog_bytes",
                "Journal bytes waiting for the store.",
                "gauge",
                &self.record_backlog,
            ),
        ] {
            counter(&mut s, name, help, kind, v.load(Ordering::Relaxed));
        }
        let _ = writeln!(
            s,
            "# HELP monban_milter_record_errors_total Recording failures by stage.\n# TYPE monban_milter_record_errors_total counter"
        );
        let errors = self
            .record_errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for stage in ["journal", "store", "journal_corrupt", "journal_torn_line"] {
            let n = errors.get(stage).copied().unwrap_or(0);
            let _ = writeln!(
                s,
                "monban_milter_record_errors_total{{stage=\"{stage}\"}} {n}"
            );
        }
        s
    }
}

/// A resolver that records each lookup's latency.
#[derive(Debug)]
pub struct TimedResolver<R> {
    inner: R,
    metrics: std::sync::Arc<Metrics>,
}

impl<R> TimedResolver<R> {
    /// Wraps a resolver.
    pub fn new(inner: R, metrics: std::sync::Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

impl<R: Resolver> Resolver for TimedResolver<R> {
    async fn lookup(&self, name: &str, rtype: RecordType) -> Lookup {
        let start = std::time::Instant::now();
        let r = self.inner.lookup(name, rtype).await;
        self.metrics.dns(start.elapsed());
        r
    }

    /// Not timed: an answer at hand costs no DNS time.
    fn cached(&self, name: &str, rtype: RecordType) -> Option<Lookup> {
        self.inner.cached(name, rtype)
    }

    fn cached_fresh(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> Option<(Lookup, Option<monban_dns::Fresh>)> {
        self.inner.cached_fresh(name, rtype)
    }

    fn fresh_now(&self) -> Option<monban_dns::FreshNow> {
        self.inner.fresh_now()
    }
}

/// Serves `GET /metrics` (and nothing else) on a listener, until the task is dropped.
pub async fn serve_metrics(listener: tokio::net::TcpListener, metrics: std::sync::Arc<Metrics>) {
    // A few scrapes at a time; more are closed. Accept errors pause instead of spinning.
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
    loop {
        let mut stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(_) => {
                metrics.accept_error();
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let mut buf = vec![0u8; 4096];
            let n = match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await
            {
                Ok(Ok(n)) => n,
                _ => return,
            };
            let request = String::from_utf8_lossy(&buf[..n]);
            let (status, body) = if request.starts_with("GET /metrics") {
                ("200 OK", metrics.render())
            } else {
                ("404 Not Found", "not found\n".to_owned())
            };
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ =
                tokio::time::timeout(Duration::from_secs(5), stream.write_all(reply.as_bytes()))
                    .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_format() {
        let m = Metrics::default();
        m.session_started();
        m.message("fail", "reject");
        m.result("dkim", "pass");
        m.dns(Duration::from_millis(3));
        let text = m.render();
        assert!(text.contains("monban_milter_sessions_total 1"));
        assert!(
            text.contains("monban_milter_messages_total{verdict=\"fail\",action=\"reject\"} 1")
        );
        assert!(text.contains("monban_milter_results_total{method=\"dkim\",result=\"pass\"} 1"));
        assert!(text.contains("monban_milter_dns_seconds_bucket{le=\"0.001\"} 0"));
        assert!(text.contains("monban_milter_dns_seconds_bucket{le=\"0.0025\"} 0"));
        assert!(text.contains("monban_milter_dns_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("monban_milter_dns_seconds_count 1"));
    }
}
