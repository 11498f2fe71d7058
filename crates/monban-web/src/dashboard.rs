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
/// Reverse DNS lookups of one view at most.
const RDNS_LOOKUPS: usize = 200;

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
    /// Messages per day.
    pub daily: Vec<DailyCounts>,
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
        daily,
        generation,
        at: Instant::now(),
    })
}
