//! What the report dashboard shows, computed once per filter and kept until a report
//! is stored (the store's generation moves) — issue 13's bar is p95 ≤ 200 ms over a
//! million stored records, and folding a million rows takes seconds on SQLite.
//!
//! Each filter is computed once at a time (requests for it wait for that computation),
//! at most [`MAX_COMPUTING`] filters at once: past that a request for a new filter waits
//! a few seconds for a turn, then is refused ("busy"), so that a stream of new filters
//! cannot hold every worker.
//! A computation runs in a task of its own: a request that gives up does not waste it.
//! A background task recomputes the views in use when new reports arrive, so the first
//! visitor after an import does not wait either.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use monban_dns::SharedResolver;
use monban_report::summary::{self, Advice, Summary};
use monban_store::{DailyCounts, Store, StoreError, SummaryFilter};

/// Views kept at most.
const MAX_ENTRIES: usize = 32;
/// Filters computed at once at most.
pub const MAX_COMPUTING: usize = 2;
/// How long a request for a new filter waits for a turn before it is refused.
const WAIT_FOR_TURN: Duration = Duration::from_secs(3);
/// Reverse DNS names are kept this long (they change without the store knowing).
const RDNS_MAX_AGE: Duration = Duration::from_secs(600);
/// How often the background task looks for new reports.
const REFRESH_EVERY: Duration = Duration::from_secs(20);
/// Sources of each domain whose reverse DNS is looked up in one view at most.
pub(crate) const RDNS_LOOKUPS: usize = 200;

/// Which view.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// The filter's domain.
    pub domain: Option<String>,
    /// Since (Unix seconds).
    pub since: Option<i64>,
    /// Until (Unix seconds).
    pub until: Option<i64>,
    /// With reverse DNS names.
    pub rdns: bool,
}

impl Key {
    fn filter(&self) -> SummaryFilter {
        SummaryFilter {
            domain: self.domain.clone(),
            since: self.since,
            until: self.until,
        }
    }
}

/// One view, computed.
#[derive(Debug)]
pub struct Dashboard {
    /// The summary (`monban report summary`).
    pub summary: Summary,
    /// The advice (`monban report advise`).
    pub advice: Vec<Advice>,
    /// Messages per day (the newest [`monban_store::MAX_DAYS`]).
    pub daily: Vec<DailyCounts>,
    /// Older days were left out of `daily`.
    pub daily_left_out: bool,
    /// The store's generation it was computed at.
    pub generation: i64,
    /// When.
    pub at: Instant,
}

/// A computation's outcome, as its waiters see it.
type Outcome = Option<Result<Arc<Dashboard>, String>>;

/// The views computed so far, and those being computed.
#[derive(Debug)]
pub struct Cache {
    entries: Mutex<HashMap<Key, (Arc<Dashboard>, Instant)>>,
    computing: Mutex<HashMap<Key, tokio::sync::watch::Receiver<Outcome>>>,
    permits: Arc<tokio::sync::Semaphore>,
}

impl Default for Cache {
    fn default() -> Self {
        Self {
            entries: Mutex::default(),
            computing: Mutex::default(),
            permits: Arc::new(tokio::sync::Semaphore::new(MAX_COMPUTING)),
        }
    }
}

/// Why a view is not given: the store failed, or the server is busy computing others.
pub const BUSY: &str = "the dashboard is computing other views: try again in a few seconds";

impl Cache {
    fn fresh(&self, key: &Key, generation: i64) -> Option<Arc<Dashboard>> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (d, used) = entries.get_mut(key)?;
        let current = d.generation == generation && (!key.rdns || d.at.elapsed() < RDNS_MAX_AGE);
        if current {
            *used = Instant::now();
            Some(d.clone())
        } else {
            None
        }
    }

    fn keep(&self, key: &Key, d: Arc<Dashboard>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(key) {
            // The view used longest ago goes.
            if let Some(old) = entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
            {
                entries.remove(&old);
            }
        }
        entries.insert(key.clone(), (d, Instant::now()));
    }

    /// The view for `key`: the one kept if current, else the one being computed, else
    /// a new computation (or [`BUSY`] when [`MAX_COMPUTING`] run already).
    pub async fn get(
        self: &Arc<Self>,
        store: Arc<dyn Store>,
        resolver: &SharedResolver,
        key: &Key,
    ) -> Result<Arc<Dashboard>, String> {
        let generation = store
            .incoming_generation()
            .await
            .map_err(|e| e.to_string())?;
        if let Some(d) = self.fresh(key, generation) {
            return Ok(d);
        }
        // Being computed already: wait for it.
        let running = {
            let computing = self.computing.lock().unwrap_or_else(|p| p.into_inner());
            computing.get(key).cloned()
        };
        let mut rx = match running {
            Some(rx) => rx,
            None => {
                // A turn to compute, waited for a little (a burst of a few filters is
                // served), then refused.
                let permit =
                    match tokio::time::timeout(WAIT_FOR_TURN, self.permits.clone().acquire_owned())
                        .await
                    {
                        Ok(Ok(p)) => p,
                        _ => return Err(BUSY.into()),
                    };
                let mut computing = self.computing.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(d) = self.fresh(key, generation) {
                    return Ok(d);
                }
                match computing.get(key) {
                    // Started by another request while this one waited.
                    Some(rx) => rx.clone(),
                    None => {
                        let (tx, rx) = tokio::sync::watch::channel(None);
                        computing.insert(key.clone(), rx.clone());
                        let me = self.clone();
                        let resolver = resolver.clone();
                        let key = key.clone();
                        tokio::spawn(async move {
                            let _permit = permit;
                            let out = compute(&*store, &resolver, &key, generation)
                                .await
                                .map(Arc::new)
                                .map_err(|e| e.to_string());
                            if let Ok(d) = &out {
                                me.keep(&key, d.clone());
                            }
                            me.computing
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .remove(&key);
                            let _ = tx.send(Some(out));
                        });
                        rx
                    }
                }
            }
        };
        loop {
            if let Some(out) = rx.borrow().clone() {
                return out;
            }
            if rx.changed().await.is_err() {
                return Err("the computation of this view failed".into());
            }
        }
    }

    /// Keeps the views current: computes the default view at once, then, whenever the
    /// store's generation moves, every view kept (the most recently used first).
    pub fn keep_current(self: Arc<Self>, store: Arc<dyn Store>, resolver: SharedResolver) {
        tokio::spawn(async move {
            let default = Key {
                domain: None,
                since: None,
                until: None,
                rdns: false,
            };
            if let Err(e) = self.get(store.clone(), &resolver, &default).await {
                tracing::warn!("the dashboard could not be computed: {e}");
            }
            let mut seen = store.incoming_generation().await.unwrap_or(0);
            loop {
                tokio::time::sleep(REFRESH_EVERY).await;
                let Ok(now) = store.incoming_generation().await else {
                    continue;
                };
                if now == seen {
                    continue;
                }
                seen = now;
                let mut keys: Vec<(Key, Instant)> = {
                    let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
                    entries
                        .iter()
                        .map(|(k, (_, used))| (k.clone(), *used))
                        .collect()
                };
                keys.sort_by_key(|(_, used)| std::cmp::Reverse(*used));
                for (k, _) in keys.into_iter().filter(|(k, _)| !k.rdns).take(8) {
                    let _ = self.get(store.clone(), &resolver, &k).await;
                }
            }
        });
    }
}

async fn compute(
    store: &dyn Store,
    resolver: &SharedResolver,
    key: &Key,
    generation: i64,
) -> Result<Dashboard, StoreError> {
    let filter = key.filter();
    let (s, _) =
        summary::load(store, &filter, key.rdns.then_some((resolver, RDNS_LOOKUPS))).await?;
    // The advice weighs the policy published now (as `monban report advise` does);
    // the summary stays what `monban report summary` prints (the reports' policy).
    let advice = if key.domain.is_some() {
        let mut with_policy = s.clone();
        summary::published_policies(&mut with_policy, resolver).await;
        summary::advise(&with_policy)
    } else {
        summary::advise(&s)
    };
    let daily = store.incoming_daily(&filter).await?;
    Ok(Dashboard {
        summary: s,
        advice,
        daily: daily.rows,
        daily_left_out: daily.older_left_out,
        generation,
        at: Instant::now(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use monban_store::{
        AggregateGroup, Delivery, DeliveryUpdate, Evaluation, ImportOutcome, IncomingCounts,
        IncomingReport, IncomingSummary, Newest, OutgoingReport, ReportListEntry, SaveOutcome,
        SqliteStore, StoreFuture, StoredReport, TlsPolicyStored,
    };

    /// A real SQLite store whose summary waits until the gate opens: a computation
    /// that takes as long as the test wants.
    struct Gated {
        inner: SqliteStore,
        gate: tokio::sync::watch::Receiver<bool>,
    }

    impl Store for Gated {
        fn incoming_summary<'a>(
            &'a self,
            filter: &'a SummaryFilter,
        ) -> StoreFuture<'a, IncomingSummary> {
            Box::pin(async move {
                let mut gate = self.gate.clone();
                let _ = gate.wait_for(|open| *open).await;
                self.inner.incoming_summary(filter).await
            })
        }
        fn record<'a>(&'a self, e: &'a [Evaluation]) -> StoreFuture<'a, usize> {
            self.inner.record(e)
        }
        fn evaluations(&self, from: i64, until: i64) -> StoreFuture<'_, Vec<Evaluation>> {
            self.inner.evaluations(from, until)
        }
        fn count(&self) -> StoreFuture<'_, u64> {
            self.inner.count()
        }
        fn aggregate(&self, from: i64, until: i64) -> StoreFuture<'_, Vec<AggregateGroup>> {
            self.inner.aggregate(from, until)
        }
        fn latest_rua<'a>(
            &'a self,
            d: &'a str,
            from: i64,
            until: i64,
        ) -> StoreFuture<'a, Vec<String>> {
            self.inner.latest_rua(d, from, until)
        }
        fn has_accepted_mail<'a>(
            &'a self,
            d: &'a str,
            from: i64,
            until: i64,
        ) -> StoreFuture<'a, bool> {
            self.inner.has_accepted_mail(d, from, until)
        }
        fn save_reports<'a>(
            &'a self,
            r: &'a [OutgoingReport],
        ) -> StoreFuture<'a, Vec<SaveOutcome>> {
            self.inner.save_reports(r)
        }
        fn due_deliveries(&self, now: i64, limit: u32) -> StoreFuture<'_, Vec<Delivery>> {
            self.inner.due_deliveries(now, limit)
        }
        fn claim_delivery<'a>(
            &'a self,
            report_id: &'a str,
            destination: &'a str,
            claim: &'a str,
            until: i64,
        ) -> StoreFuture<'a, bool> {
            self.inner
                .claim_delivery(report_id, destination, claim, until)
        }
        fn update_delivery<'a>(
            &'a self,
            report_id: &'a str,
            destination: &'a str,
            update: &'a DeliveryUpdate,
        ) -> StoreFuture<'a, ()> {
            self.inner.update_delivery(report_id, destination, update)
        }
        fn sent_since<'a>(&'a self, d: &'a str, since: i64) -> StoreFuture<'a, u64> {
            self.inner.sent_since(d, since)
        }
        fn failure_reports_since(
            &self,
            since: i64,
            until: i64,
        ) -> StoreFuture<'_, Vec<(String, u64, i64)>> {
            self.inner.failure_reports_since(since, until)
        }
        fn suppress<'a>(&'a self, d: &'a str, until: i64, reason: &'a str) -> StoreFuture<'a, ()> {
            self.inner.suppress(d, until, reason)
        }
        fn suppressed<'a>(&'a self, d: &'a str, now: i64) -> StoreFuture<'a, Option<i64>> {
            self.inner.suppressed(d, now)
        }
        fn import_reports<'a>(
            &'a self,
            r: &'a [IncomingReport],
            now: i64,
        ) -> StoreFuture<'a, Vec<ImportOutcome>> {
            self.inner.import_reports(r, now)
        }
        fn incoming_counts(&self) -> StoreFuture<'_, IncomingCounts> {
            self.inner.incoming_counts()
        }
        fn incoming_tls<'a>(
            &'a self,
            f: &'a SummaryFilter,
        ) -> StoreFuture<'a, Newest<TlsPolicyStored>> {
            self.inner.incoming_tls(f)
        }
        fn incoming_generation(&self) -> StoreFuture<'_, i64> {
            self.inner.incoming_generation()
        }
        fn incoming_daily<'a>(
            &'a self,
            f: &'a SummaryFilter,
        ) -> StoreFuture<'a, Newest<DailyCounts>> {
            self.inner.incoming_daily(f)
        }
        fn incoming_report_list<'a>(
            &'a self,
            f: &'a SummaryFilter,
            offset: u64,
            limit: u64,
        ) -> StoreFuture<'a, Vec<ReportListEntry>> {
            self.inner.incoming_report_list(f, offset, limit)
        }
        fn incoming_report(&self, id: i64) -> StoreFuture<'_, Option<StoredReport>> {
            self.inner.incoming_report(id)
        }
    }

    fn key(domain: &str) -> Key {
        Key {
            domain: Some(domain.to_owned()),
            since: None,
            until: None,
            rdns: false,
        }
    }

    fn resolver() -> SharedResolver {
        SharedResolver::new(monban_dns::ZoneResolver::new())
    }

    /// MAX_COMPUTING views computed at once: a request for another waits
    /// WAIT_FOR_TURN, then is refused as busy; a request for a view being computed
    /// waits for it. In virtual time: the waits are exact and cost nothing.
    #[tokio::test(start_paused = true)]
    async fn a_new_view_waits_for_a_turn_then_is_refused_busy() {
        assert_eq!((MAX_COMPUTING, WAIT_FOR_TURN), (2, Duration::from_secs(3)));
        let dir = std::env::temp_dir().join(format!("monban-dashboard-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (open, gate) = tokio::sync::watch::channel(false);
        let store: Arc<dyn Store> = Arc::new(Gated {
            inner: SqliteStore::open(&dir.join("m.db")).unwrap(),
            gate,
        });
        let cache = Arc::new(Cache::default());
        let r = resolver();
        let mut running = Vec::new();
        for d in ["a.example", "b.example"] {
            let (cache, store, r) = (cache.clone(), store.clone(), r.clone());
            running.push(tokio::spawn(async move {
                cache.get(store, &r, &key(d)).await.map(|_| ())
            }));
        }
        // Both turns taken (the two computations wait at the gate).
        while cache.permits.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        // A third filter: refused after WAIT_FOR_TURN, not before, and not computed.
        let start = tokio::time::Instant::now();
        let third = tokio::time::timeout(
            Duration::from_secs(60),
            cache.get(store.clone(), &r, &key("c.example")),
        )
        .await
        .expect("refused, not held");
        assert_eq!(third.unwrap_err(), BUSY);
        let waited = start.elapsed();
        assert!(
            waited >= WAIT_FOR_TURN && waited < WAIT_FOR_TURN + Duration::from_millis(10),
            "{waited:?}"
        );
        // A request for a view being computed is not refused: it waits for it.
        let again = {
            let (cache, store, r) = (cache.clone(), store.clone(), r.clone());
            tokio::spawn(async move { cache.get(store, &r, &key("a.example")).await.map(|_| ()) })
        };
        tokio::time::sleep(WAIT_FOR_TURN * 2).await;
        assert!(!again.is_finished());
        open.send(true).unwrap();
        for r in running {
            assert_eq!(r.await.unwrap(), Ok(()));
        }
        assert_eq!(again.await.unwrap(), Ok(()));
        // Turns free again: the third is computed now.
        assert!(cache.get(store, &r, &key("c.example")).await.is_ok());
        std::fs::remove_dir_all(&dir).ok();
    }

    fn view() -> Arc<Dashboard> {
        Arc::new(Dashboard {
            summary: Summary::default(),
            advice: Vec::new(),
            daily: Vec::new(),
            daily_left_out: false,
            generation: 1,
            at: Instant::now(),
        })
    }

    /// MAX_ENTRIES views kept: one more and the view used longest ago goes.
    #[test]
    fn at_most_max_entries_views_are_kept() {
        assert_eq!(MAX_ENTRIES, 32);
        let cache = Cache::default();
        // Used in order a minute ago and since, d0 first (set here: Instant::now() need
        // not tick between two calls).
        let t0 = Instant::now().checked_sub(Duration::from_secs(60)).unwrap();
        for n in 0..MAX_ENTRIES {
            cache.keep(&key(&format!("d{n}.example")), view());
            let mut entries = cache.entries.lock().unwrap();
            entries.get_mut(&key(&format!("d{n}.example"))).unwrap().1 =
                t0 + Duration::from_secs(n as u64);
        }
        // d0 used again now: d1 is the one used longest ago.
        assert!(cache.fresh(&key("d0.example"), 1).is_some());
        // Kept again (a recomputed view): nothing goes.
        cache.keep(&key("d5.example"), view());
        assert_eq!(cache.entries.lock().unwrap().len(), MAX_ENTRIES);
        cache.keep(&key("new.example"), view());
        let entries = cache.entries.lock().unwrap();
        assert_eq!(entries.len(), MAX_ENTRIES);
        assert!(!entries.contains_key(&key("d1.example")));
        for kept in ["d0.example", "d2.example", "d31.example", "new.example"] {
            assert!(entries.contains_key(&key(kept)), "{kept}");
        }
    }
}
