//! [`CachingResolver`]: a TTL-honouring cache in front of any [`Resolver`].
//!
//! Positive answers are kept for their TTL (RFC 1035 §3.2.1), NXDOMAIN and no-data
//! answers for their negative TTL (RFC 2308 §5), both capped. Server failures and
//! timeouts are never cached, so the next message tries again. The cache is bounded:
//! when it is full, expired entries go first, then arbitrary ones.
//!
//! Answers are spread over [`SHARDS`] locks by a keyed hash of name and type (SipHash,
//! under the standard library's `RandomState` keys: drawn at random per thread, then
//! varied for each instance, so different for each cache and record type; a sender
//! cannot choose names that crowd one shard or one chain). The hash is computed once
//! per lookup and picks both the shard and the slot in it.
//!
//! Each thread keeps the answers it was last given in a small front of its own
//! ([`front`]): a name asked again on the same thread (the sender's domain, message
//! after message) is found there without the keyed hash and the shard's lock.

use std::borrow::Cow;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use crate::name::normalize_name;
use crate::{Answer, Fresh, FreshNow, Lookup, LookupError, Record, RecordType, Resolver};

mod front;

/// A source of "now" for expiry, in milliseconds on a monotonic clock.
///
/// A cache hit reads the clock once, so its cost matters: the system's coarse monotonic
/// clock (`CLOCK_MONOTONIC_COARSE` on Linux, a few milliseconds of resolution, read
/// from the vDSO without the timer read of `Instant::now`: 3 ns against 45 ns on the
/// project's VM, a tenth of an SPF evaluation from a warm cache) is ample for TTLs
/// counted in seconds. A test injects its own clock.
#[derive(Clone)]
enum Clock {
    System,
    Custom {
        now: std::sync::Arc<dyn Fn() -> Instant + Send + Sync>,
        base: Instant,
    },
}

impl Clock {
    fn now_ms(&self) -> u64 {
        match self {
            Self::System => system_ms(),
            Self::Custom { now, base } => {
                u64::try_from(now().saturating_duration_since(*base).as_millis())
                    .unwrap_or(u64::MAX)
            }
        }
    }
}

#[cfg(target_os = "linux")]
fn system_ms() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
    (t.tv_sec as u64)
        .saturating_mul(1_000)
        .saturating_add(t.tv_nsec as u64 / 1_000_000)
}

#[cfg(not(target_os = "linux"))]
fn system_ms() -> u64 {
    static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    u64::try_from(base.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[derive(Debug, Clone)]
struct Entry {
    lookup: Lookup,
    /// When the entry expires, on [`Clock::now_ms`]'s scale.
    expires: u64,
}

/// Hit and miss counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Answers served from the cache.
    pub hits: u64,
    /// Queries passed to the inner resolver.
    pub misses: u64,
}

/// One answer held: its key, the key's hash (kept, so that growing the table does not
/// hash again), and the entry.
struct Slot {
    hash: u64,
    name: Box<str>,
    rtype: RecordType,
    entry: Entry,
    /// About how many bytes of memory this slot holds ([`weight`]).
    weight: usize,
}

/// About how many bytes of memory an answer held for `name` takes: the slot, the name,
/// and each record with what it points to (a TXT string's allocation counted at its
/// length plus 32, the box and the allocator's own share). An estimate on the high
/// side, so that a budget in these bytes holds in the process's memory.
fn weight(name: &str, lookup: &Lookup) -> usize {
    let records = match lookup {
        Ok(answer) => {
            std::mem::size_of::<Answer>()
                + 16
                + answer.records.iter().map(record_weight).sum::<usize>()
        }
        // The name it repeats.
        Err(_) => name.len() + 16,
    };
    std::mem::size_of::<Slot>() + name.len() + 16 + records
}

/// The largest TXT answer (in string bytes) whose parse a consumer keeps with it
/// ([`crate::Memo`]: SPF keeps its parsed record); larger ones are parsed each time.
pub const MEMO_MAX_TXT_BYTES: usize = 4096;

/// What a kept parse may take per byte of TXT it was made from, counted in each TXT
/// answer's weight up to [`MEMO_MAX_TXT_BYTES`]: a parsed SPF term takes a few times
/// the bytes of its text.
pub const MEMO_ALLOWANCE: usize = 4;

fn record_weight(r: &Record) -> usize {
    let text = |s: &str| s.len() + 16;
    std::mem::size_of::<Record>()
        + match r {
            Record::Txt(t) | Record::Spf(t) => {
                t.len()
                    + t.strings().count() * 32
                    + t.len().min(MEMO_MAX_TXT_BYTES) * MEMO_ALLOWANCE
            }
            Record::Mx { exchange, .. } => text(exchange),
            Record::Ptr(s) | Record::Cname(s) | Record::Ns(s) => text(s),
            Record::Soa { mname, rname, .. } => text(mname) + text(rname),
            _ => 0,
        }
}

impl Slot {
    /// Whether this is the answer for `name` and `rtype`.
    fn is(&self, name: &str, rtype: RecordType) -> bool {
        self.rtype == rtype && *self.name == *name
    }
}

/// One shard: its answers, and the hits it served (counted under the lock already
/// held, rather than with one more atomic operation per lookup; the front's hits take
/// no lock and have their counter, `front_hits`).
#[derive(Default)]
struct Shard {
    map: hashbrown::HashTable<Slot>,
    hits: u64,
}

/// A value alone on its cache line (128 bytes: two 64-byte lines, which some x86
/// processors fetch in pairs), so that writing it does not slow reads of its
/// neighbours on other cores.
#[repr(align(128))]
struct CacheLine<T>(T);

/// The memory the answers of a [`CachingResolver`] may take by default: 128 MiB, room
/// for the 100,000 answers of ordinary mail (SPF and DKIM records of a few hundred
/// bytes, with their parse) and for about 1,500 of the largest a DNS message can
/// carry.
pub const DEFAULT_MAX_BYTES: usize = 128 * 1024 * 1024;

/// How many locks the answers are spread over. Lookups on different cores (the milter's
/// sessions, `verify --jobs`) rarely wait for one another.
const SHARDS: usize = 16;

/// A cache of answers in front of another resolver.
pub struct CachingResolver<R> {
    inner: R,
    shards: [Mutex<Shard>; SHARDS],
    /// The keys of the hash that places answers: one set per record type, so that a
    /// key's hash is one pass over the name's octets (a second write for the type
    /// cost as much as the first).
    hashers: [RandomState; 9],
    /// The most answers held in all (a bound on the whole cache, not per shard).
    max_entries: usize,
    /// Answers held now, in all shards.
    entries: AtomicUsize,
    /// The most memory the answers may take in all, in [`weight`]'s bytes: a hostile
    /// zone's answers of 64 KB each (the most one DNS message carries), asked under
    /// endless wildcard names, would otherwise fill `max_entries` slots with gigabytes.
    max_bytes: usize,
    /// What the answers held now take, in [`weight`]'s bytes.
    bytes: AtomicUsize,
    max_ttl: u32,
    max_negative_ttl: u32,
    clock: Clock,
    misses: AtomicU64,
    /// Answers served by a thread's [`front`] (counted apart: the shards count theirs
    /// under their locks, which a front hit does not take). On a cache line of its
    /// own: every thread's front hits write it, every lookup reads the fields around.
    front_hits: CacheLine<AtomicU64>,
    /// This cache's identity in the [`Fresh`] it gives: unique in the process, so that
    /// another cache (another clock) never judges it.
    id: u64,
}

/// The next [`CachingResolver`]'s identity.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl<R: std::fmt::Debug> std::fmt::Debug for CachingResolver<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachingResolver")
            .field("inner", &self.inner)
            .field("max_ttl", &self.max_ttl)
            .field("max_negative_ttl", &self.max_negative_ttl)
            .finish_non_exhaustive()
    }
}

impl<R: Resolver> CachingResolver<R> {
    /// A cache of at most 100,000 answers taking at most [`DEFAULT_MAX_BYTES`], positive
    /// TTLs capped at one day and negative ones at one hour.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            shards: Default::default(),
            hashers: std::array::from_fn(|_| RandomState::new()),
            max_entries: 100_000,
            entries: AtomicUsize::new(0),
            max_bytes: DEFAULT_MAX_BYTES,
            bytes: AtomicUsize::new(0),
            max_ttl: 86_400,
            max_negative_ttl: 3_600,
            clock: Clock::System,
            misses: AtomicU64::new(0),
            front_hits: CacheLine(AtomicU64::new(0)),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Sets the most answers held (at least 8).
    pub fn with_capacity(mut self, entries: usize) -> Self {
        self.max_entries = entries.max(8);
        self
    }

    /// Sets the most memory the answers may take, in bytes (at least 64 KiB). An answer
    /// taking more than a 64th of it is given but not kept.
    pub fn with_max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes.max(64 * 1024);
        self
    }

    /// About how much memory the answers held take now, in bytes.
    pub fn bytes_held(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// How many answers are held now.
    pub fn len(&self) -> usize {
        self.entries.load(Ordering::Relaxed)
    }

    /// Whether no answer is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Caps how long any answer is kept, in seconds.
    pub fn with_max_ttl(mut self, positive: u32, negative: u32) -> Self {
        self.max_ttl = positive;
        self.max_negative_ttl = negative;
        self
    }

    /// Replaces the clock that expiry is measured with (for tests).
    pub fn with_clock(mut self, clock: impl Fn() -> Instant + Send + Sync + 'static) -> Self {
        // Its own first reading is its zero, so that whole seconds on it stay whole.
        let base = clock();
        self.clock = Clock::Custom {
            now: std::sync::Arc::new(clock),
            base,
        };
        self
    }

    /// The wrapped resolver.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// Counters since creation.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self
                .shards
                .iter()
                .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).hits)
                .sum::<u64>()
                + self.front_hits.0.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// The hash of a key: the name's octets, under the keys of its type. (Were there
    /// more types than key sets, two would share keys: the type is compared anyway.)
    fn hash(&self, name: &str, rtype: RecordType) -> u64 {
        let mut h = self.hashers[rtype as usize % self.hashers.len()].build_hasher();
        h.write(name.as_bytes());
        h.finish()
    }

    /// The shard of a hash. Bits 48 to 51: the table in the shard uses the low bits
    /// for the slot and the top seven as the slot's tag.
    fn shard(&self, hash: u64) -> &Mutex<Shard> {
        &self.shards[(hash >> 48) as usize % SHARDS]
    }

    /// A live entry's answer and when it expires: from this thread's [`front`] when it
    /// has the entry, else from the shared shards (and then kept in the front).
    #[inline]
    fn get(&self, name: &str, rtype: RecordType) -> Option<(Lookup, u64)> {
        let now = self.clock.now_ms();
        if let Some(hit) = front::get(self.id, name, rtype, now) {
            self.front_hits.0.fetch_add(1, Ordering::Relaxed);
            return Some(hit);
        }
        let hash = self.hash(name, rtype);
        let mut shard = self.shard(hash).lock().unwrap_or_else(|p| p.into_inner());
        let hit = match shard.map.find(hash, |s| s.is(name, rtype)) {
            Some(s) if s.entry.expires > now => Some((s.entry.lookup.clone(), s.entry.expires)),
            _ => None,
        };
        if hit.is_some() {
            shard.hits += 1;
        }
        drop(shard);
        if let Some((lookup, expires)) = &hit {
            front::put(self.id, name, rtype, lookup, *expires);
        }
        hit
    }

    fn put(&self, name: &str, rtype: RecordType, lookup: &Lookup) {
        let ttl = match lookup {
            Ok(answer) => answer.ttl.min(self.max_ttl),
            Err(LookupError::NxDomain { ttl, .. } | LookupError::NoData { ttl, .. }) => {
                (*ttl).min(self.max_negative_ttl)
            }
            Err(_) => return,
        };
        if ttl == 0 {
            return;
        }
        let weight = weight(name, lookup);
        if weight > self.max_bytes / 64 {
            // One answer would take a 64th of the budget: given, not kept.
            return;
        }
        let now = self.clock.now_ms();
        let hash = self.hash(name, rtype);
        let mut guard = self.shard(hash).lock().unwrap_or_else(|p| p.into_inner());
        let shard = &mut guard.map;
        let full = || {
            self.entries.load(Ordering::Relaxed) >= self.max_entries
                || self.bytes.load(Ordering::Relaxed) + weight > self.max_bytes
        };
        if full() {
            // Full: this shard's expired answers go, then half of the rest of it.
            self.let_go(shard, |s| s.entry.expires <= now);
            if full() {
                let mut drop = shard.len() / 2 + 1;
                self.let_go(shard, |_| {
                    let go = drop > 0;
                    drop = drop.saturating_sub(1);
                    go
                });
            }
            if full() {
                // The other shards hold the rest: not kept this time.
                return;
            }
        }
        let entry = Entry {
            lookup: lookup.clone(),
            expires: now.saturating_add(u64::from(ttl) * 1_000),
        };
        match shard.entry(hash, |s| s.is(name, rtype), |s| s.hash) {
            hashbrown::hash_table::Entry::Occupied(mut o) => {
                let slot = o.get_mut();
                slot.entry = entry;
                let old = std::mem::replace(&mut slot.weight, weight);
                self.bytes.fetch_add(weight, Ordering::Relaxed);
                self.bytes.fetch_sub(old, Ordering::Relaxed);
            }
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(Slot {
                    hash,
                    name: name.into(),
                    rtype,
                    entry,
                    weight,
                });
                self.entries.fetch_add(1, Ordering::Relaxed);
                self.bytes.fetch_add(weight, Ordering::Relaxed);
            }
        }
    }

    /// Lets the answers of `shard` that `go` picks go, and counts them out.
    fn let_go(&self, shard: &mut hashbrown::HashTable<Slot>, mut go: impl FnMut(&Slot) -> bool) {
        let (mut gone, mut freed) = (0, 0);
        shard.retain(|s| {
            let drop = go(s);
            if drop {
                gone += 1;
                freed += s.weight;
            }
            !drop
        });
        self.entries.fetch_sub(gone, Ordering::Relaxed);
        self.bytes.fetch_sub(freed, Ordering::Relaxed);
    }
}

/// Whether `name` is already what [`normalize_name`] makes of it: no trailing dot, at
/// most 253 octets, labels of 1 to 63 octets, no uppercase.
fn is_normalized(name: &str) -> bool {
    let b = name.as_bytes();
    if b.is_empty() || b.len() > 253 || b[0] == b'.' || b[b.len() - 1] == b'.' {
        return false;
    }
    // No early exit, so that these loops vectorize.
    let upper = b
        .iter()
        .fold(0u8, |acc, &c| acc | u8::from(c.is_ascii_uppercase()));
    let empty_label = b.iter().zip(&b[1..]).fold(0u8, |acc, (&x, &y)| {
        acc | u8::from((x == b'.') & (y == b'.'))
    });
    // Only a name over 63 octets can have a label over 63 octets.
    upper == 0 && empty_label == 0 && (b.len() <= 63 || name.split('.').all(|l| l.len() <= 63))
}

/// The normalized name, borrowed when the input already is.
fn normalized(name: &str) -> Result<Cow<'_, str>, LookupError> {
    if is_normalized(name) {
        return Ok(Cow::Borrowed(name));
    }
    normalize_name(name)
        .map(Cow::Owned)
        .map_err(|reason| LookupError::InvalidName {
            name: name.to_owned(),
            reason,
        })
}

impl<R: Resolver> CachingResolver<R> {
    /// The cached answer for `name`, as given or normalized; else the normalized name
    /// to ask the inner resolver; an error for a name that cannot be looked up.
    #[inline]
    fn find<'n>(
        &self,
        name: &'n str,
        rtype: RecordType,
    ) -> Result<Result<(Lookup, u64), Cow<'n, str>>, LookupError> {
        // Only normalized names are stored, so a name found as given is in normal form
        // already: a hit needs no check of the name.
        if let Some(hit) = self.get(name, rtype) {
            return Ok(Ok(hit));
        }
        let name = normalized(name)?;
        if let Cow::Owned(name) = &name
            && let Some(hit) = self.get(name, rtype)
        {
            return Ok(Ok(hit));
        }
        Ok(Err(name))
    }

    /// A cached answer (with its entry's expiry), or the refusal of a name that cannot
    /// be looked up; else what the inner resolver has at once, then cached.
    fn at_hand(&self, name: &str, rtype: RecordType) -> Option<(Lookup, Option<u64>)> {
        match self.find(name, rtype) {
            Err(e) => Some((Err(e), None)),
            Ok(Ok((hit, until))) => Some((hit, Some(until))),
            Ok(Err(name)) => {
                let lookup = self.inner.cached(&name, rtype)?;
                Some((self.missed(&name, rtype, lookup), None))
            }
        }
    }

    /// Counts a miss and keeps what the inner resolver answered.
    fn missed(&self, name: &str, rtype: RecordType, lookup: Lookup) -> Lookup {
        self.misses.fetch_add(1, Ordering::Relaxed);
        self.put(name, rtype, &lookup);
        lookup
    }
}

impl<R: Resolver> Resolver for CachingResolver<R> {
    async fn lookup(&self, name: &str, rtype: RecordType) -> Lookup {
        match self.find(name, rtype)? {
            Ok((hit, _)) => hit,
            Err(name) => {
                let lookup = self.inner.lookup(&name, rtype).await;
                self.missed(&name, rtype, lookup)
            }
        }
    }

    /// A cached answer, or the refusal of a name that cannot be looked up; else what
    /// the inner resolver has at once (then cached, as [`Resolver::lookup`] would).
    fn cached(&self, name: &str, rtype: RecordType) -> Option<Lookup> {
        // Not through `at_hand`: the hit path of every SPF evaluation's first lookup,
        // measurably quicker without the expiry carried along.
        match self.find(name, rtype) {
            Err(e) => Some(Err(e)),
            Ok(Ok((hit, _))) => Some(hit),
            Ok(Err(name)) => {
                let lookup = self.inner.cached(&name, rtype)?;
                Some(self.missed(&name, rtype, lookup))
            }
        }
    }

    /// [`Self::cached`]; a hit stays fresh until its entry expires. (An answer just
    /// taken from the inner resolver comes without: the next ask finds it cached.)
    fn cached_fresh(&self, name: &str, rtype: RecordType) -> Option<(Lookup, Option<Fresh>)> {
        self.at_hand(name, rtype).map(|(lookup, until)| {
            let fresh = until.map(|until| Fresh {
                cache: self.id,
                until,
            });
            (lookup, fresh)
        })
    }

    /// This cache's clock. (An answer it removed early, when full, stays fresh until
    /// its entry would have expired: it stays valid for its TTL.)
    fn fresh_now(&self) -> Option<FreshNow> {
        Some(FreshNow {
            cache: self.id,
            now: self.clock.now_ms(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ZoneResolver;
    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;
    use std::time::Duration;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// A resolver that never has an answer at hand (as Hickory): `cached` is the
    /// default `None`, every answer comes through `lookup`.
    struct Waiting<R>(R);

    impl<R: Resolver> Resolver for Waiting<R> {
        async fn lookup(&self, name: &str, rtype: RecordType) -> Lookup {
            self.0.lookup(name, rtype).await
        }
    }

    /// Through a `SharedResolver` (the CLI's and the milter's), which asks `cached`
    /// first: the answers, the refusal of a bad name and the hit and miss counters are
    /// what the cache's own `lookup` gives, over a resolver that answers at once and
    /// over one that must be awaited.
    #[test]
    fn a_shared_resolver_answers_and_counts_as_the_cache_does() {
        let zone = ZoneResolver::parse(
            "a.example. 60 A 192.0.2.1\nexample. 300 SOA ns h 1 2 3 4 30\n",
            "z",
            None,
        )
        .unwrap();
        let direct = Arc::new(CachingResolver::new(zone.clone()));
        let at_hand = Arc::new(CachingResolver::new(zone.clone()));
        let waiting = Arc::new(CachingResolver::new(Waiting(zone)));
        let shared = [
            crate::SharedResolver::new(at_hand.clone()),
            crate::SharedResolver::new(waiting.clone()),
        ];
        let asks = [
            ("a.example", RecordType::A),
            ("A.Example.", RecordType::A),
            ("nx.example", RecordType::A),
            ("a.example", RecordType::Txt),
            ("a..example", RecordType::A),
            ("nx.example", RecordType::A),
            ("a.example", RecordType::A),
        ];
        block_on(async {
            for (name, rtype) in asks {
                let want = direct.lookup(name, rtype).await;
                for s in &shared {
                    assert_eq!(s.lookup(name, rtype).await, want, "{name} {rtype:?}");
                }
                if name.contains("..") {
                    assert!(matches!(want, Err(LookupError::InvalidName { .. })));
                }
            }
        });
        let want = direct.stats();
        assert!(want.hits >= 3 && want.misses >= 3, "{want:?}");
        assert_eq!(at_hand.stats(), want);
        assert_eq!(waiting.stats(), want);
    }

    /// A cache over `inner` on a clock the test sets: the seconds stored in the returned
    /// counter are added to one fixed instant.
    fn on_test_clock<R: Resolver>(inner: R) -> (CachingResolver<R>, Arc<AtomicU64>) {
        let offset = Arc::new(AtomicU64::new(0));
        let base = Instant::now();
        let o = offset.clone();
        let cache = CachingResolver::new(inner)
            .with_clock(move || base + Duration::from_secs(o.load(Ordering::Relaxed)));
        (cache, offset)
    }

    /// The per-thread front: a thread finds another thread's answer in the shared cache
    /// (a hit, no second question), then in its own front (a hit again, counted as the
    /// front's); a front's entry expires on the cache's clock with the shared entry,
    /// while the answer is still alive; the counters stay exact throughout.
    #[test]
    fn threads_share_answers_and_each_front_expires_with_the_cache() {
        let zone = ZoneResolver::parse("a.example. 60 A 192.0.2.1\n", "z", None).unwrap();
        let (cache, offset) = on_test_clock(zone);
        let ask = |cache: &CachingResolver<ZoneResolver>| {
            block_on(cache.lookup("a.example", RecordType::A)).unwrap()
        };
        let front_hits =
            |cache: &CachingResolver<ZoneResolver>| cache.front_hits.0.load(Ordering::Relaxed);
        let first = ask(&cache);
        std::thread::scope(|s| {
            s.spawn(|| {
                assert!(Arc::ptr_eq(&ask(&cache), &first), "from the shared cache");
                assert_eq!(front_hits(&cache), 0);
                assert!(
                    Arc::ptr_eq(&ask(&cache), &first),
                    "from this thread's front"
                );
                assert_eq!(front_hits(&cache), 1);
            });
        });
        assert_eq!(cache.stats(), CacheStats { hits: 2, misses: 1 });
        // This thread: once from the shared cache, then from its front.
        assert!(Arc::ptr_eq(&ask(&cache), &first));
        assert!(Arc::ptr_eq(&ask(&cache), &first));
        assert_eq!(front_hits(&cache), 2);
        assert_eq!(cache.stats(), CacheStats { hits: 4, misses: 1 });
        // The TTL is over: this thread's front has the entry, and `first` keeps the
        // answer alive, yet it is asked again.
        offset.store(60, Ordering::Relaxed);
        let second = ask(&cache);
        assert!(!Arc::ptr_eq(&second, &first), "asked again");
        assert_eq!(front_hits(&cache), 2);
        std::thread::scope(|s| {
            s.spawn(|| assert!(Arc::ptr_eq(&ask(&cache), &second)));
        });
        assert_eq!(cache.stats(), CacheStats { hits: 5, misses: 2 });
    }

    /// Two caches on one thread, each over its own zone with the same name: each gives
    /// its own answer, from its shards and then from the front, and counts its own
    /// hits; asked in turn, still each its own.
    #[test]
    fn a_front_serves_each_cache_its_own_answers() {
        let one = CachingResolver::new(
            ZoneResolver::parse("a.example. 60 A 192.0.2.1\n", "z", None).unwrap(),
        );
        let two = CachingResolver::new(
            ZoneResolver::parse("a.example. 60 A 192.0.2.2\n", "z", None).unwrap(),
        );
        let addr = |cache: &CachingResolver<ZoneResolver>| {
            let answer = block_on(cache.lookup("a.example", RecordType::A)).unwrap();
            answer.records.first().cloned()
        };
        let want = |a: &str| Some(crate::Record::A(a.parse().unwrap()));
        for (cache, a) in [(&one, "192.0.2.1"), (&two, "192.0.2.2")] {
            for _ in 0..3 {
                assert_eq!(addr(cache), want(a));
            }
            // A miss, a hit in the shards, a hit in the front.
            assert_eq!(cache.stats(), CacheStats { hits: 2, misses: 1 });
            assert_eq!(cache.front_hits.0.load(Ordering::Relaxed), 1);
        }
        for _ in 0..3 {
            assert_eq!(addr(&one), want("192.0.2.1"));
            assert_eq!(addr(&two), want("192.0.2.2"));
        }
        assert_eq!(one.stats(), CacheStats { hits: 5, misses: 1 });
        assert_eq!(two.stats(), CacheStats { hits: 5, misses: 1 });
    }

    /// A hit comes with its entry's freshness: it holds on this cache's clock until
    /// the TTL (capped) is over, never on another cache's clock; a miss taken from the
    /// inner resolver and a refused name come with none.
    #[test]
    fn fresh_holds_until_the_entry_expires_on_its_own_cache_only() {
        let zone = ZoneResolver::parse(
            "a.example. 60 A 192.0.2.1\nexample. 300 SOA ns h 1 2 3 4 30\n",
            "z",
            None,
        )
        .unwrap();
        let (cache, offset) = on_test_clock(zone.clone());
        let (other, _) = on_test_clock(zone);
        let (lookup, fresh) = cache.cached_fresh("a.example", RecordType::A).unwrap();
        assert!(lookup.is_ok());
        assert_eq!(fresh, None, "taken from the zone just now: not a hit");
        let (_, fresh) = cache.cached_fresh("a.example", RecordType::A).unwrap();
        let fresh = fresh.expect("a hit is fresh");
        assert!(fresh.holds(cache.fresh_now().unwrap()));
        assert!(
            !fresh.holds(other.fresh_now().unwrap()),
            "another cache's clock"
        );
        offset.store(59, Ordering::Relaxed);
        assert!(fresh.holds(cache.fresh_now().unwrap()));
        offset.store(60, Ordering::Relaxed);
        assert!(!fresh.holds(cache.fresh_now().unwrap()), "the TTL is over");
        // A name that cannot be looked up is refused with no freshness.
        let (refused, fresh) = cache.cached_fresh("a..example", RecordType::A).unwrap();
        assert!(refused.is_err());
        assert_eq!(fresh, None);
    }

    #[test]
    fn rfc1035_3_2_1_ttl_and_rfc2308_negative_caching() {
        let zone = ZoneResolver::parse(
            "a.example. 60 A 192.0.2.1\nexample. 300 SOA ns h 1 2 3 4 30\n",
            "z",
            None,
        )
        .unwrap();
        let (cache, offset) = on_test_clock(zone);
        block_on(async {
            assert!(cache.lookup("A.example.", RecordType::A).await.is_ok());
            assert!(cache.lookup("a.example", RecordType::A).await.is_ok());
            assert!(cache.lookup("b.example", RecordType::A).await.is_err());
            assert!(cache.lookup("b.example", RecordType::A).await.is_err());
            assert_eq!(cache.stats(), CacheStats { hits: 2, misses: 2 });
            offset.store(31, Ordering::Relaxed);
            cache.lookup("a.example", RecordType::A).await.unwrap();
            cache.lookup("b.example", RecordType::A).await.unwrap_err();
            assert_eq!(cache.stats(), CacheStats { hits: 3, misses: 3 });
            offset.store(61, Ordering::Relaxed);
            cache.lookup("a.example", RecordType::A).await.unwrap();
            assert_eq!(cache.stats(), CacheStats { hits: 3, misses: 4 });
        });
    }

    /// TTLs above the caps are kept for the caps: an answer of two days is served from
    /// the cache until its 86,400th second, then asked again; a negative answer whose
    /// SOA allows two hours until its 3,600th second.
    #[test]
    fn rfc2308_5_ttls_above_the_caps_are_cut_to_them() {
        let zone = ZoneResolver::parse(
            "a.example. 172800 A 192.0.2.1\nexample. 7200 SOA ns h 1 2 3 4 7200\n",
            "z",
            None,
        )
        .unwrap();
        let (cache, offset) = on_test_clock(zone);
        assert_eq!((cache.max_ttl, cache.max_negative_ttl), (86_400, 3_600));
        block_on(async {
            let answer = cache.lookup("a.example", RecordType::A).await.unwrap();
            assert_eq!(answer.ttl, 172_800, "the answer itself is not changed");
            match cache.lookup("b.example", RecordType::A).await {
                Err(LookupError::NxDomain { ttl: 7_200, .. }) => {}
                other => panic!("{other:?}"),
            }
            assert_eq!(cache.stats(), CacheStats { hits: 0, misses: 2 });
            // The last second under each cap: still cached.
            offset.store(3_599, Ordering::Relaxed);
            cache.lookup("b.example", RecordType::A).await.unwrap_err();
            offset.store(86_399, Ordering::Relaxed);
            cache.lookup("a.example", RecordType::A).await.unwrap();
            assert_eq!(cache.stats(), CacheStats { hits: 2, misses: 2 });
        });
        // At each cap: asked again.
        let (cache, offset) = on_test_clock(cache.inner);
        block_on(async {
            cache.lookup("a.example", RecordType::A).await.unwrap();
            cache.lookup("b.example", RecordType::A).await.unwrap_err();
            offset.store(3_600, Ordering::Relaxed);
            cache.lookup("b.example", RecordType::A).await.unwrap_err();
            assert_eq!(cache.stats(), CacheStats { hits: 0, misses: 3 });
            offset.store(86_400, Ordering::Relaxed);
            cache.lookup("a.example", RecordType::A).await.unwrap();
            assert_eq!(cache.stats(), CacheStats { hits: 0, misses: 4 });
        });
    }

    /// A hostile zone answers every name under a wildcard with 64 KB of TXT strings
    /// (what one DNS message over TCP can carry): the cache keeps answers up to its
    /// byte budget, not up to its count of answers, and one answer too large for the
    /// budget is given but not kept.
    #[test]
    fn held_bytes_stay_within_the_budget() {
        let mut zone = ZoneResolver::new();
        let big = crate::Txt::new(vec![vec![b'x'; 255]; 250]);
        zone.insert("*.big.example", crate::Record::Txt(big), 3600);
        zone.insert(
            "small.example",
            crate::Record::A([192, 0, 2, 1].into()),
            3600,
        );
        let budget = 8 * 1024 * 1024;
        let cache = CachingResolver::new(zone).with_max_bytes(budget);
        let one = weight(
            "q0.big.example",
            &cache.inner().lookup_now("q0.big.example", RecordType::Txt),
        );
        assert!(one > 250 * 255 && one < budget / 64, "{one}");
        block_on(async {
            for i in 0..1_000 {
                let answer = cache
                    .lookup(&format!("q{i}.big.example"), RecordType::Txt)
                    .await
                    .unwrap();
                assert_eq!(answer.records.len(), 1);
                assert!(cache.bytes_held() <= budget, "{}", cache.bytes_held());
            }
            // Without the budget, the 100,000 slots would have held all 1,000.
            assert!(cache.len() <= budget / one, "{}", cache.len());
            assert!(cache.len() >= 8, "{}", cache.len());
            // The count of bytes is the sum of what is held.
            let held: usize = cache
                .shards
                .iter()
                .flat_map(|s| {
                    s.lock()
                        .unwrap()
                        .map
                        .iter()
                        .map(|slot| slot.weight)
                        .collect::<Vec<_>>()
                })
                .sum();
            assert_eq!(held, cache.bytes_held());
            // Small answers still find room.
            cache.lookup("small.example", RecordType::A).await.unwrap();
            cache.lookup("small.example", RecordType::A).await.unwrap();
            assert!(cache.stats().hits >= 1, "{:?}", cache.stats());
        });
        // An answer over a 64th of the budget is not kept at all.
        let mut zone = ZoneResolver::new();
        let big = crate::Txt::new(vec![vec![b'x'; 255]; 250]);
        zone.insert("big.example", crate::Record::Txt(big), 3600);
        let cache = CachingResolver::new(zone).with_max_bytes(1024 * 1024);
        block_on(async {
            for _ in 0..3 {
                cache.lookup("big.example", RecordType::Txt).await.unwrap();
            }
        });
        assert_eq!(cache.len(), 0);
        assert_eq!(cache.bytes_held(), 0);
        assert_eq!(cache.stats().misses, 3);
    }

    #[test]
    fn normalization_check_agrees_with_the_reference() {
        let long_label = "a".repeat(63);
        let too_long_label = "a".repeat(64);
        let long_name = vec!["a".repeat(63); 4].join(".");
        for name in [
            "example.com",
            "Example.com",
            "example.com.",
            ".example.com",
            "a..b",
            "",
            ".",
            "a",
            long_label.as_str(),
            too_long_label.as_str(),
            &long_name[..253],
            &long_name[..254],
            "_spf.example.com",
        ] {
            let reference = !name.ends_with('.')
                && !name.is_empty()
                && name.len() <= 253
                && !name.bytes().any(|b| b.is_ascii_uppercase())
                && name.split('.').all(|l| !l.is_empty() && l.len() <= 63);
            assert_eq!(is_normalized(name), reference, "{name:?}");
        }
    }

    /// One name's answers of different types are different entries; 1,600 names spread
    /// over every shard (a shard's share is 100 on average, with a standard deviation
    /// near 10: some shard outside 40 to 160 about once in 20 million runs).
    #[test]
    fn keys_are_name_and_type_and_spread_over_the_shards() {
        let mut zone = ZoneResolver::new();
        zone.insert("a.example", crate::Record::A([192, 0, 2, 1].into()), 600);
        zone.insert(
            "a.example",
            crate::Record::Txt(crate::Txt::new([b"v=spf1 -all".as_slice()])),
            600,
        );
        for i in 0..1_600 {
            zone.insert(
                &format!("h{i}.example"),
                crate::Record::A([192, 0, 2, 2].into()),
                600,
            );
        }
        let cache = CachingResolver::new(zone);
        block_on(async {
            for _ in 0..2 {
                let a = cache.lookup("a.example", RecordType::A).await.unwrap();
                let txt = cache.lookup("a.example", RecordType::Txt).await.unwrap();
                assert_eq!(a.records, [crate::Record::A([192, 0, 2, 1].into())]);
                assert!(matches!(txt.records[..], [crate::Record::Txt(_)]));
            }
            assert_eq!(cache.stats(), CacheStats { hits: 2, misses: 2 });
            for i in 0..1_600 {
                cache
                    .lookup(&format!("h{i}.example"), RecordType::A)
                    .await
                    .unwrap();
            }
        });
        for shard in &cache.shards {
            let held = shard.lock().unwrap().map.len();
            assert!((40..=160).contains(&held), "{held}");
        }
    }

    /// A slot answers for its name and its type only (two keys whose hashes collide
    /// are told apart by the comparison).
    #[test]
    fn a_slot_is_its_name_and_type() {
        let slot = Slot {
            hash: 7,
            name: "a.example".into(),
            rtype: RecordType::Txt,
            entry: Entry {
                lookup: Err(LookupError::NoData {
                    name: "a.example".into(),
                    rtype: RecordType::Txt,
                    ttl: 60,
                }),
                expires: 1,
            },
            weight: 0,
        };
        assert!(slot.is("a.example", RecordType::Txt));
        assert!(!slot.is("a.example", RecordType::A));
        assert!(!slot.is("b.example", RecordType::Txt));
        assert!(!slot.is("a.example.", RecordType::Txt));
    }

    #[test]
    fn bounded() {
        let mut zone = ZoneResolver::new();
        for i in 0..100 {
            zone.insert(
                &format!("h{i}.example"),
                crate::Record::A([192, 0, 2, 1].into()),
                600,
            );
        }
        let cache = CachingResolver::new(zone).with_capacity(16);
        block_on(async {
            for i in 0..100 {
                cache
                    .lookup(&format!("h{i}.example"), RecordType::A)
                    .await
                    .unwrap();
            }
        });
        let held: usize = cache
            .shards
            .iter()
            .map(|s| s.lock().unwrap().map.len())
            .sum();
        assert!(held <= 16, "{held}");
        // The count the bound is kept by is the number of answers held.
        assert_eq!(cache.entries.load(Ordering::Relaxed), held);
        // One record type may use the whole capacity (TXT answers are most of them).
        let mut zone = ZoneResolver::new();
        for i in 0..64 {
            zone.insert(
                &format!("t{i}.example"),
                crate::Record::Txt(crate::Txt::new([b"v=spf1 -all".as_slice()])),
                600,
            );
        }
        let cache = CachingResolver::new(zone).with_capacity(64);
        block_on(async {
            for _ in 0..2 {
                for i in 0..64 {
                    let _ = cache
                        .lookup(&format!("t{i}.example"), RecordType::Txt)
                        .await;
                }
            }
        });
        assert_eq!(cache.stats().hits, 64, "{:?}", cache.stats());
        assert_eq!(cache.entries.load(Ordering::Relaxed), 64);
    }
}
