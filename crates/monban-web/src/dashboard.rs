//! What the report dashboard shows, computed once per filter and kept until a report
//! is stored (the store's generation moves) — issue 13's bar is p95 ≤ 200 ms over a
//! million stored records, and folding a million rows takes seconds on SQLite. One
//! computation runs at a time (the others wait for it, then find its result); a
//! background task recomputes the views people asked for when new reports arrive, so
//! the first visitor after an import does not wait either.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use monban_dns::SharedResolver;
use monban_report::summary::{self, Advice, Summary};
use monban_store::{DailyCounts, Store, StoreError, SummaryFilter};

/// Views kept at most.
const MAX_ENTRIES: usize = 32;
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

/// The views computed so far.
#[derive(Debug, Default)]
pub struct Cache {
    entries: Mutex<HashMap<Key, (Arc<Dashboard>, Instant)>>,
    compute: tokio::sync::Mutex<()>,
}

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

    /// The view for `key`, computed now unless a current one is kept.
    pub async fn get(
        &self,
        store: &dyn Store,
        resolver: &SharedResolver,
        key: &Key,
    ) -> Result<Arc<Dashboard>, StoreError> {
        let generation = store.incoming_generation().await?;
        if let Some(d) = self.fresh(key, generation) {
            return Ok(d);
        }
        let _one = self.compute.lock().await;
        if let Some(d) = self.fresh(key, generation) {
            return Ok(d);
        }
        let d = Arc::new(compute(store, resolver, key, generation).await?);
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
        entries.insert(key.clone(), (d.clone(), Instant::now()));
        Ok(d)
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
            if let Err(e) = self.get(&*store, &resolver, &default).await {
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
                    let _ = self.get(&*store, &resolver, &k).await;
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
