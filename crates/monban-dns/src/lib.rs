//! The DNS boundary of monban.
//!
//! Every protocol in the `monban` crate asks the DNS through the [`Resolver`] trait and
//! never opens a socket itself. An answer is either a set of records or one of the
//! outcomes that the mail-authentication RFCs tell apart:
//!
//! | outcome | RFC 1035 | what SPF (RFC 7208 §4.4, §4.6.4) does with it |
//! |---|---|---|
//! | [`Answer`] with records | RCODE 0 | evaluates them |
//! | [`LookupError::NoData`] | RCODE 0, empty answer | "void lookup" |
//! | [`LookupError::NxDomain`] | RCODE 3 | "void lookup" / `none` |
//! | [`LookupError::ServFail`] | RCODE 2 (or any other error) | `temperror` |
//! | [`LookupError::Timeout`] | no answer in time | `temperror` |
//!
//! Implementations:
//! - [`ZoneResolver`] answers from RFC 1035 zone files held in memory (offline mode,
//!   examples, tests);
//! - [`HickoryResolver`] asks real DNS servers through hickory-resolver;
//! - [`CachingResolver`] wraps any resolver with a TTL-honouring positive and negative
//!   cache.

mod cache;
pub mod file;
mod hickory;
mod name;
mod zone;

use std::fmt;
use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::Arc;

pub use cache::{
    CacheStats, CachingResolver, DEFAULT_MAX_BYTES, MEMO_ALLOWANCE, MEMO_MAX_TXT_BYTES,
};
pub use hickory::{HickoryConfig, HickoryResolver};
pub use name::{NameError, is_same_or_subdomain, normalize_name, reverse_name};
pub use zone::{ZoneError, ZoneResolver};

/// The record types monban asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RecordType {
    /// IPv4 address (RFC 1035 §3.4.1).
    A,
    /// IPv6 address (RFC 3596).
    Aaaa,
    /// Mail exchanger (RFC 1035 §3.3.9).
    Mx,
    /// Text strings (RFC 1035 §3.3.14).
    Txt,
    /// Domain name pointer, for reverse lookups (RFC 1035 §3.3.12).
    Ptr,
    /// Canonical name (RFC 1035 §3.3.1). Resolvers follow CNAMEs for the other types;
    /// asking for CNAME itself returns the alias.
    Cname,
    /// Start of authority (RFC 1035 §3.3.13); zone files may hold it.
    Soa,
    /// Name server (RFC 1035 §3.3.11); zone files may hold it.
    Ns,
    /// The obsolete SPF type 99 (RFC 4408 §3.1.1; RFC 7208 §3.1 removed it). Only the
    /// domain checker asks for it, to tell publishers to drop it.
    Spf,
}

impl RecordType {
    /// The mnemonic used in zone files and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::Aaaa => "AAAA",
            Self::Mx => "MX",
            Self::Txt => "TXT",
            Self::Ptr => "PTR",
            Self::Cname => "CNAME",
            Self::Soa => "SOA",
            Self::Ns => "NS",
            Self::Spf => "SPF",
        }
    }

    /// Parses a mnemonic, case-insensitively.
    pub fn from_mnemonic(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "A" => Self::A,
            "AAAA" => Self::Aaaa,
            "MX" => Self::Mx,
            "TXT" => Self::Txt,
            "PTR" => Self::Ptr,
            "CNAME" => Self::Cname,
            "SOA" => Self::Soa,
            "NS" => Self::Ns,
            "SPF" => Self::Spf,
            _ => return None,
        })
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One TXT record: its character-strings, kept apart (RFC 1035 §3.3.14).
///
/// SPF (RFC 7208 §3.3) and DKIM (RFC 6376 §3.6.2.2) join them with no separator; use
/// [`Txt::joined`] for that.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Txt {
    strings: Vec<Box<[u8]>>,
}

impl Txt {
    /// A TXT record from its character-strings.
    pub fn new<I, S>(strings: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Vec<u8>>,
    {
        Self {
            strings: strings
                .into_iter()
                .map(|s| s.into().into_boxed_slice())
                .collect(),
        }
    }

    /// The character-strings as they came.
    pub fn strings(&self) -> impl Iterator<Item = &[u8]> {
        self.strings.iter().map(|s| &s[..])
    }

    /// The bytes of the character-strings together (what [`Txt::joined`] holds).
    pub fn len(&self) -> usize {
        self.strings.iter().map(|s| s.len()).sum()
    }

    /// Whether the record has no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The character-strings concatenated with no separator.
    pub fn joined(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        for s in &self.strings {
            out.extend_from_slice(s);
        }
        out
    }
}

/// One resource record's data, as monban uses it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Record {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// A mail exchanger; `exchange` is a normalized name (lowercase, no trailing dot;
    /// the empty string for the root, i.e. a null MX per RFC 7505).
    Mx {
        /// Lower is preferred.
        preference: u16,
        /// The exchange host.
        exchange: String,
    },
    /// A TXT record.
    Txt(Txt),
    /// A PTR target, normalized.
    Ptr(String),
    /// A CNAME target, normalized.
    Cname(String),
    /// A name server, normalized.
    Ns(String),
    /// An obsolete SPF-type (99) record: TXT-format data.
    Spf(Txt),
    /// The SOA record; monban keeps only what negative caching needs.
    Soa {
        /// The primary name server.
        mname: String,
        /// The responsible mailbox, in domain-name form.
        rname: String,
        /// The zone serial.
        serial: u32,
        /// The negative-caching TTL (RFC 2308 §4).
        minimum: u32,
    },
}

impl Record {
    /// The type of this record.
    pub fn record_type(&self) -> RecordType {
        match self {
            Self::A(_) => RecordType::A,
            Self::Aaaa(_) => RecordType::Aaaa,
            Self::Mx { .. } => RecordType::Mx,
            Self::Txt(_) => RecordType::Txt,
            Self::Ptr(_) => RecordType::Ptr,
            Self::Cname(_) => RecordType::Cname,
            Self::Ns(_) => RecordType::Ns,
            Self::Spf(_) => RecordType::Spf,
            Self::Soa { .. } => RecordType::Soa,
        }
    }
}

/// A positive answer: at least one record of the asked type, after CNAMEs were followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The records, of the asked type only.
    pub records: Vec<Record>,
    /// How long the answer may be cached, in seconds (the smallest TTL in the chain).
    pub ttl: u32,
    /// What a consumer made of the records (SPF: the record selected and parsed), kept
    /// with them. Not part of the answer's value.
    pub memo: Memo,
}

impl Answer {
    /// An answer with nothing made of it yet.
    pub fn new(records: Vec<Record>, ttl: u32) -> Self {
        Self {
            records,
            ttl,
            memo: Memo::default(),
        }
    }
}

/// A value derived from an [`Answer`] once and kept with it, so that an answer served
/// again from a cache is not parsed again: it lives exactly as long as the answer, and
/// reading it takes no lock. One consumer's value per answer; another consumer's type
/// finds none and derives its own each time.
///
/// The value must be unwind-safe, so that an answer (and what holds one, such as an SPF
/// outcome) stays so.
#[derive(Default)]
pub struct Memo(std::sync::OnceLock<Arc<MemoValue>>);

/// What a [`Memo`] keeps.
type MemoValue = dyn std::any::Any + Send + Sync + UnwindSafe + RefUnwindSafe;

impl Memo {
    /// The value kept, made by `init` if none was; `None` when another type is kept.
    pub fn get_or_init<T: std::any::Any + Send + Sync + UnwindSafe + RefUnwindSafe>(
        &self,
        init: impl FnOnce() -> T,
    ) -> Option<&T> {
        let kept: &(dyn std::any::Any + Send + Sync) = &**self.0.get_or_init(|| Arc::new(init()));
        kept.downcast_ref::<T>()
    }

    /// The value kept, if one of type `T` is.
    pub fn get<T: std::any::Any>(&self) -> Option<&T> {
        let kept: &(dyn std::any::Any + Send + Sync) = &**self.0.get()?;
        kept.downcast_ref::<T>()
    }

    /// Whether nothing is kept yet.
    pub fn is_empty(&self) -> bool {
        self.0.get().is_none()
    }
}

/// A clone shares the value.
impl Clone for Memo {
    fn clone(&self) -> Self {
        Self(self.0.get().cloned().map(Into::into).unwrap_or_default())
    }
}

/// Not part of an answer's value: memos are always equal.
impl PartialEq for Memo {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Memo {}

impl fmt::Debug for Memo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Memo(kept)"
        } else {
            "Memo"
        })
    }
}

/// Why a lookup gave no records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// RCODE 3: the name does not exist.
    #[error("{name}: no such domain (NXDOMAIN)")]
    NxDomain {
        /// The name asked for.
        name: String,
        /// Negative-caching TTL (RFC 2308), when known.
        ttl: u32,
    },
    /// RCODE 0 with no record of the asked type.
    #[error("{name}: no {rtype} record")]
    NoData {
        /// The name asked for.
        name: String,
        /// The type asked for.
        rtype: RecordType,
        /// Negative-caching TTL (RFC 2308), when known.
        ttl: u32,
    },
    /// RCODE 2 or another server-side error; `detail` says which.
    #[error("{name}: DNS server failure ({detail})")]
    ServFail {
        /// The name asked for.
        name: String,
        /// What went wrong.
        detail: String,
    },
    /// No answer within the resolver's time limit.
    #[error("{name}: DNS query timed out")]
    Timeout {
        /// The name asked for.
        name: String,
    },
    /// The name cannot be asked at all (too long, empty label, ...).
    #[error("{name:?} is not a valid domain name: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Why.
        reason: NameError,
    },
}

impl LookupError {
    /// NXDOMAIN or no data: the DNS answered, with nothing.
    pub fn is_empty_answer(&self) -> bool {
        matches!(self, Self::NxDomain { .. } | Self::NoData { .. })
    }

    /// SERVFAIL or timeout: trying again later may give an answer.
    pub fn is_temporary(&self) -> bool {
        matches!(self, Self::ServFail { .. } | Self::Timeout { .. })
    }
}

/// The result of one lookup. Positive answers are shared, not copied, out of caches.
pub type Lookup = Result<Arc<Answer>, LookupError>;

/// An asynchronous DNS resolver with typed answers.
///
/// `name` is a domain name in presentation form, with or without the trailing dot, in
/// any case; implementations normalize it with [`normalize_name`]. Implementations
/// follow CNAME chains (with a loop limit) for every type but [`RecordType::Cname`].
pub trait Resolver: Send + Sync {
    /// Looks up the records of one type at one name.
    fn lookup(&self, name: &str, rtype: RecordType) -> impl Future<Output = Lookup> + Send;

    /// The answer [`Resolver::lookup`] would give at once, without waiting for anything
    /// (a cache hit, an in-memory zone), or `None` when it would have to wait. Callers
    /// that make many lookups whose answers are usually at hand (SPF's evaluator) try
    /// this first and await `lookup` only for the rest. The default is `None`: every
    /// lookup may wait.
    fn cached(&self, name: &str, rtype: RecordType) -> Option<Lookup> {
        let _ = (name, rtype);
        None
    }

    /// [`Resolver::cached`], with how long the answer stays the one this resolver would
    /// serve, when it can tell (a cache hit: until the entry expires). A caller that
    /// keeps the answer of a name it asks again and again (SPF keeps, with each parsed
    /// record, the answers of its terms) serves it again while [`Fresh::holds`] at
    /// [`Resolver::fresh_now`], without the cache's hash and probe. The default: [`Resolver::cached`],
    /// with no freshness (nothing may be kept). A wrapper that changes what `cached`
    /// gives must change this alike (or keep the default): a caller serves a kept
    /// answer without asking `cached` again.
    fn cached_fresh(&self, name: &str, rtype: RecordType) -> Option<(Lookup, Option<Fresh>)> {
        self.cached(name, rtype).map(|lookup| (lookup, None))
    }

    /// A reading of the clock [`Fresh`] is judged by (read once, it judges many); `None`
    /// (the default) when this resolver gives no [`Fresh`].
    fn fresh_now(&self) -> Option<FreshNow> {
        None
    }
}

/// How long an answer served from a cache stays what that cache serves
/// ([`Resolver::cached_fresh`]): which cache served it, and when its entry expires on
/// that cache's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fresh {
    /// The cache's identity (unique in the process).
    cache: u64,
    /// The entry's expiry, on the cache's clock.
    until: u64,
}

/// A reading of a cache's clock ([`Resolver::fresh_now`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreshNow {
    cache: u64,
    now: u64,
}

impl Fresh {
    /// Whether the answer is still fresh at `now`: only a reading of the clock of the
    /// cache that gave it can tell (another cache's says no).
    pub fn holds(self, now: FreshNow) -> bool {
        self.cache == now.cache && self.until > now.now
    }
}

impl<R: Resolver + ?Sized> Resolver for &R {
    fn lookup(&self, name: &str, rtype: RecordType) -> impl Future<Output = Lookup> + Send {
        (**self).lookup(name, rtype)
    }

    fn cached(&self, name: &str, rtype: RecordType) -> Option<Lookup> {
        (**self).cached(name, rtype)
    }

    fn cached_fresh(&self, name: &str, rtype: RecordType) -> Option<(Lookup, Option<Fresh>)> {
        (**self).cached_fresh(name, rtype)
    }

    fn fresh_now(&self) -> Option<FreshNow> {
        (**self).fresh_now()
    }
}

impl<R: Resolver + ?Sized> Resolver for Arc<R> {
    fn lookup(&self, name: &str, rtype: RecordType) -> impl Future<Output = Lookup> + Send {
        (**self).lookup(name, rtype)
    }

    fn cached(&self, name: &str, rtype: RecordType) -> Option<Lookup> {
        (**self).cached(name, rtype)
    }

    fn cached_fresh(&self, name: &str, rtype: RecordType) -> Option<(Lookup, Option<Fresh>)> {
        (**self).cached_fresh(name, rtype)
    }

    fn fresh_now(&self) -> Option<FreshNow> {
        (**self).fresh_now()
    }
}

/// The object-safe face of [`Resolver`]: the lookup as a boxed future. Every resolver
/// has it; [`SharedResolver`] holds one behind a pointer.
pub trait DynResolver: Send + Sync {
    /// [`Resolver::lookup`], boxed.
    fn lookup_boxed<'a>(
        &'a self,
        name: &'a str,
        rtype: RecordType,
    ) -> std::pin::Pin<Box<dyn Future<Output = Lookup> + Send + 'a>>;

    /// [`Resolver::cached`].
    fn cached_dyn(&self, name: &str, rtype: RecordType) -> Option<Lookup>;

    /// [`Resolver::cached_fresh`].
    fn cached_fresh_dyn(&self, name: &str, rtype: RecordType) -> Option<(Lookup, Option<Fresh>)>;

    /// [`Resolver::fresh_now`].
    fn fresh_now_dyn(&self) -> Option<FreshNow>;
}

impl<R: Resolver> DynResolver for R {
    fn lookup_boxed<'a>(
        &'a self,
        name: &'a str,
        rtype: RecordType,
    ) -> std::pin::Pin<Box<dyn Future<Output = Lookup> + Send + 'a>> {
        Box::pin(self.lookup(name, rtype))
    }

    fn cached_dyn(&self, name: &str, rtype: RecordType) -> Option<Lookup> {
        self.cached(name, rtype)
    }

    fn cached_fresh_dyn(&self, name: &str, rtype: RecordType) -> Option<(Lookup, Option<Fresh>)> {
        self.cached_fresh(name, rtype)
    }

    fn fresh_now_dyn(&self) -> Option<FreshNow> {
        self.fresh_now()
    }
}

/// A resolver chosen at run time (a zone file, given servers, the system's), cheap to
/// clone and share: binaries hold this instead of writing an enum that dispatches to
/// each kind. Each lookup costs one allocation for its boxed future.
#[derive(Clone)]
pub struct SharedResolver(Arc<dyn DynResolver>);

impl SharedResolver {
    /// Wraps a resolver.
    pub fn new<R: Resolver + 'static>(resolver: R) -> Self {
        Self(Arc::new(resolver))
    }
}

impl fmt::Debug for SharedResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedResolver")
    }
}

impl Resolver for SharedResolver {
    async fn lookup(&self, name: &str, rtype: RecordType) -> Lookup {
        // An answer at hand (a cache hit, nearly every lookup of a busy verifier) comes
        // without the boxed future, an allocation each; `cached` gives what `lookup`
        // would (the trait's contract), and a miss is asked once more, as before.
        if let Some(answer) = self.0.cached_dyn(name, rtype) {
            return answer;
        }
        self.0.lookup_boxed(name, rtype).await
    }

    fn cached(&self, name: &str, rtype: RecordType) -> Option<Lookup> {
        self.0.cached_dyn(name, rtype)
    }

    fn cached_fresh(&self, name: &str, rtype: RecordType) -> Option<(Lookup, Option<Fresh>)> {
        self.0.cached_fresh_dyn(name, rtype)
    }

    fn fresh_now(&self) -> Option<FreshNow> {
        self.0.fresh_now_dyn()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A memo is made once and shared by clones of its answer; a consumer of another
    /// type finds none; it plays no part in equality.
    #[test]
    fn memo_kept_with_the_answer() {
        let answer = Answer::new(vec![Record::A(std::net::Ipv4Addr::LOCALHOST)], 60);
        assert!(answer.memo.is_empty());
        let mut made = 0;
        for _ in 0..3 {
            let v = answer.memo.get_or_init(|| {
                made += 1;
                7u32
            });
            assert_eq!(v, Some(&7));
        }
        assert_eq!(made, 1);
        assert_eq!(answer.memo.get_or_init(|| "other type"), None);
        let clone = answer.clone();
        assert_eq!(clone.memo.get_or_init(|| 8u32), Some(&7));
        assert_eq!(clone, Answer::new(answer.records.clone(), 60));
    }
}
