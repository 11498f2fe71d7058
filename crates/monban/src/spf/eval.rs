//! The `check_host()` function, RFC 7208 §4, with the mechanism semantics of §5, the
//! modifiers of §6 and the processing limits of §4.6.4.
//!
//! DNS comes through a [`Resolver`]; the current time (for `%{t}`) is an argument. No
//! other input exists, so every evaluation is reproducible against an in-memory zone.

use std::borrow::Cow;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use monban_dns::{
    Answer, Fresh, FreshNow, Lookup, LookupError, Record, RecordType, Resolver,
    is_same_or_subdomain, normalize_name,
};

use super::macros::{self, MacroContext, MacroString, MacroVars};
use super::record::{self, DomainSpec, Mechanism, Qualifier, SpfRecord, SyntaxError};
use super::{SpfCause, SpfIdentity, SpfNames, SpfOutcome, SpfResult};

/// Settings for SPF evaluation. The defaults are the RFC's.
#[derive(Debug, Clone)]
pub struct SpfConfig {
    /// The receiving host's domain, for `%{r}` in explanations (§7.2). Default
    /// `"unknown"`, as §7.2 says when none is available.
    pub receiver: String,
    /// The most DNS-querying terms (§4.6.4). Default 10.
    pub max_dns_terms: u32,
    /// The most void lookups (§4.6.4). Default 2.
    pub max_void_lookups: u32,
    /// The most MX records an `mx` mechanism may return, and the most PTR names
    /// checked by `ptr` and `%{p}` (§4.6.4). Default 10.
    pub max_mx_ptr: usize,
    /// How long one evaluation may wait for DNS (§4.6.4: "SHOULD impose a limit on the
    /// maximum amount of elapsed time ... SHOULD allow at least 20 seconds"; past it
    /// the result is `temperror`). Checked before each lookup, so an evaluation ends at
    /// most one lookup's time (the resolver's own limit) past it. Default 20 s: a
    /// server that answers every query just before the resolver gives up would
    /// otherwise hold one evaluation for minutes (100 lookups of 2 s each).
    pub time_limit: std::time::Duration,
}

impl Default for SpfConfig {
    fn default() -> Self {
        Self {
            receiver: "unknown".to_owned(),
            max_dns_terms: 10,
            max_void_lookups: 2,
            max_mx_ptr: 10,
            time_limit: std::time::Duration::from_secs(20),
        }
    }
}

/// Which records `check_host()` consults: SPF's, or Sender ID's for one of its scopes.
/// The evaluation itself is the same (RFC 4406 §3.3 refers to `check_host()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordScope {
    /// SPF (RFC 7208 §4.5): `v=spf1` records only.
    Spf,
    /// Sender ID's `mfrom` scope (RFC 4406 §3.3, §3.4): `spf2.0` records naming
    /// `mfrom`; `v=spf1` records when the domain publishes no `spf2.0` record.
    SenderIdMfrom,
    /// Sender ID's `pra` scope (RFC 4406 §3.3, §3.4): `spf2.0` records naming `pra`;
    /// `v=spf1` records when the domain publishes no `spf2.0` record.
    SenderIdPra,
}

impl RecordScope {
    /// The scope's name in a Sender ID record (`spf` for SPF itself).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spf => "spf",
            Self::SenderIdMfrom => "mfrom",
            Self::SenderIdPra => "pra",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Spf => 0,
            Self::SenderIdMfrom => 1,
            Self::SenderIdPra => 2,
        }
    }
}

/// An SPF verifier bound to a resolver.
///
/// The SPF record parsed from a TXT answer is kept with the answer ([`Answer::memo`]):
/// when the resolver caches its answers (as [`monban_dns::CachingResolver`] does), an
/// answer served again is not parsed again. Lookups whose answers the resolver has at
/// hand ([`Resolver::cached`]) are made without awaiting anything.
#[derive(Debug, Clone)]
pub struct Spf<R> {
    resolver: R,
    config: SpfConfig,
}

/// Why evaluation stopped early.
enum Abort {
    Temp(SpfCause),
    Perm(SpfCause),
    /// An answer not at hand: [`Spf::check_host_scoped`] awaits this lookup, then
    /// evaluates again.
    Fetch(String, RecordType),
}

/// The most lookups one evaluation may await. RFC 7208 §4.6.4 allows about 130 (ten
/// terms, each `mx` or `ptr` with ten names to resolve, `exp=` and `%{p}`); past this
/// bound, which no evaluation within the limits reaches, the result is `temperror`.
const MAX_FETCHES: usize = 256;

/// Why an evaluation may await no more lookups.
#[derive(Debug, Clone, Copy)]
enum Exhausted {
    /// [`MAX_FETCHES`] were awaited.
    Fetches,
    /// [`SpfConfig::time_limit`] passed (RFC 7208 §4.6.4).
    Time(std::time::Duration),
}

impl std::fmt::Display for Exhausted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fetches => write!(f, "more than {MAX_FETCHES} lookups in one evaluation"),
            Self::Time(limit) => write!(
                f,
                "the evaluation ran past its time limit of {} s (RFC 7208 4.6.4)",
                limit.as_secs_f64()
            ),
        }
    }
}

/// The DNS answers of one evaluation.
///
/// The evaluator is synchronous (RFC 7208 §4 is a function of its arguments and of DNS
/// answers): each lookup is answered from what is at hand, the answers awaited for
/// this evaluation so far and then the resolver's own ([`Resolver::cached`]: a warm
/// cache, an in-memory zone), or stops the evaluation with [`Abort::Fetch`].
/// [`Spf::check_host_scoped`] then awaits that one lookup and evaluates again from the
/// start; each run repeats the one before up to where it stopped (same arguments, same
/// answers), so the result is the one a single pass would give. With warm caches the
/// first run is the only one: no future per `include:` level, no state moved between
/// polls, which is most of the cost of an evaluation whose answers are all cached.
///
/// The answers awaited are kept by name, so that evaluating again costs one hash per
/// lookup whatever their number: an evaluation that awaits k lookups makes k passes of
/// at most k lookups each.
struct Answers<'r, R> {
    resolver: &'r R,
    /// The answers awaited, by name (made at the first: an evaluation from the answers
    /// at hand never makes one, nor seeds its hasher).
    fetched: Option<std::collections::HashMap<String, Vec<(RecordType, Lookup)>>>,
    /// How many answers `fetched` holds.
    awaited: usize,
    /// [`MAX_FETCHES`] lookups were awaited, or the time limit passed: a lookup not at
    /// hand is now a `temperror`.
    exhausted: Option<Exhausted>,
    /// The resolver's clock for kept answers ([`Link`]), read once per pass.
    now: std::cell::OnceCell<Option<FreshNow>>,
    /// What was made of TXT answers too large to keep their parse with them
    /// ([`MEMO_MAX_TXT_BYTES`]), for this evaluation only: it starts again from the
    /// top after every lookup it awaits, and parsing such records again on each pass
    /// (up to [`MAX_FETCHES`] passes, 64 KB each) made the work grow as lookups times
    /// record size. At most [`MAX_LARGE_MEMOS`], the answer kept so that its address
    /// stays its own.
    large: std::cell::RefCell<Vec<(Arc<Answer>, Arc<SpfMemo>)>>,
}

/// The most large TXT answers one evaluation keeps the parse of: a record and the
/// ten it may include or redirect to, for each scope checked.
const MAX_LARGE_MEMOS: usize = 16;

impl<R: Resolver> Answers<'_, R> {
    fn lookup(&self, name: &str, rtype: RecordType) -> Result<Lookup, Abort> {
        self.lookup_linked(name, rtype, None)
    }

    /// The resolver's clock for [`Link`]s, read once per pass; `None` when its answers
    /// come with no freshness (nothing is linked then).
    fn fresh_now(&self) -> Option<FreshNow> {
        *self.now.get_or_init(|| self.resolver.fresh_now())
    }

    /// This evaluation's memo of a TXT answer too large to keep one with it; `None`
    /// past [`MAX_LARGE_MEMOS`].
    fn large_memo(&self, answer: &Arc<Answer>) -> Option<Arc<SpfMemo>> {
        let mut large = self.large.borrow_mut();
        if let Some((_, memo)) = large.iter().find(|(a, _)| Arc::ptr_eq(a, answer)) {
            return Some(memo.clone());
        }
        if large.len() >= MAX_LARGE_MEMOS {
            return None;
        }
        let memo = Arc::new(SpfMemo::default());
        large.push((answer.clone(), memo.clone()));
        Some(memo)
    }

    /// [`Self::lookup`] for a term of a parsed record: its [`Link`] serves the answer
    /// kept from an earlier evaluation while the resolver says it is fresh, and keeps
    /// the one the resolver gives otherwise.
    fn lookup_linked(
        &self,
        name: &str,
        rtype: RecordType,
        link: Option<&Link>,
    ) -> Result<Lookup, Abort> {
        if let Some((_, lookup)) = self
            .fetched
            .as_ref()
            .and_then(|fetched| fetched.get(name))
            .and_then(|types| types.iter().find(|(t, _)| *t == rtype))
        {
            return Ok(lookup.clone());
        }
        // Links only with a resolver that can say how long its answers stay fresh.
        let linked = link.and_then(|l| self.fresh_now().map(|now| (l, now)));
        if let Some((link, now)) = linked
            && let Some(kept) = link.get(now, name, rtype)
        {
            return Ok(kept);
        }
        let cached = match linked {
            Some((link, now)) => self
                .resolver
                .cached_fresh(name, rtype)
                .map(|(lookup, fresh)| {
                    if let Some(fresh) = fresh {
                        link.keep(now, name, rtype, &lookup, fresh);
                    }
                    lookup
                }),
            None => self.resolver.cached(name, rtype),
        };
        match cached {
            Some(lookup) => Ok(lookup),
            None => match self.exhausted {
                Some(why) => Err(Abort::Temp(SpfCause::Dns(Box::new(
                    LookupError::ServFail {
                        name: name.to_owned(),
                        detail: why.to_string(),
                    },
                )))),
                None => Err(Abort::Fetch(name.to_owned(), rtype)),
            },
        }
    }
}

/// The future of an SPF check ([`Spf::check_host`] and the others).
///
/// The evaluation runs when the check is called, with the answers the resolver has at
/// hand ([`Resolver::cached`]); when those were all it needed, as with a warm cache, the
/// future is ready at its first poll and holds nothing but the outcome. Otherwise it
/// awaits the lookups still needed (see `Answers` in the source).
///
/// `'s` is the borrow of the [`Spf`], `'n` that of the names the check was given: the
/// outcome borrows only the names, so it may outlive the `Spf` (one made for the call).
pub struct SpfFuture<'s, 'n>(Pending<'s, 'n>);

enum Pending<'s, 'n> {
    Ready(Option<SpfOutcome<'n>>),
    Fetching(std::pin::Pin<Box<dyn Future<Output = SpfOutcome<'n>> + Send + 's>>),
}

impl<'n> Future for SpfFuture<'_, 'n> {
    type Output = SpfOutcome<'n>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<SpfOutcome<'n>> {
        match &mut self.get_mut().0 {
            // Polled again after it was ready: never ready again (as `Future` allows).
            Pending::Ready(outcome) => outcome
                .take()
                .map_or(std::task::Poll::Pending, std::task::Poll::Ready),
            Pending::Fetching(future) => future.as_mut().poll(cx),
        }
    }
}

impl std::fmt::Debug for SpfFuture<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Pending::Ready(_) => f.write_str("SpfFuture(ready)"),
            Pending::Fetching(_) => f.write_str("SpfFuture(fetching)"),
        }
    }
}

fn saturating_u16(n: u32) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// The arguments of one `check_host()`.
struct Args<'a> {
    ip: IpAddr,
    domain: &'a str,
    sender: Cow<'a, str>,
    /// Where `sender`'s last `@` is (found once, by whoever built the sender).
    at: Option<usize>,
    helo: &'a str,
    identity: SpfIdentity,
    scope: RecordScope,
    now: u64,
}

/// Where the `@` of `postmaster@<helo>` is.
const POSTMASTER_AT: Option<usize> = Some("postmaster".len());

/// Where `s`'s last `@` is.
fn last_at(s: &str) -> Option<usize> {
    // A short address (64 bytes or less: nearly all) is searched 8 bytes at a time
    // from its end, a longer one with memchr's vector search; either is quicker than
    // the standard library's `rsplit_once`.
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let b = s.as_bytes();
    if b.len() > 64 {
        return memchr::memrchr(b'@', b);
    }
    let mut end = b.len();
    while let Some(word) = end.checked_sub(8).and_then(|start| b.get(start..end)) {
        let mut octets = [0u8; 8];
        octets.copy_from_slice(word);
        // Zero where the octet is '@'; then the high bit of each zero octet, exactly
        // (no borrow between octets, so the highest one found is a real '@').
        let x = u64::from_le_bytes(octets) ^ 0x4040_4040_4040_4040;
        let zero = !(((x & LOW7) + LOW7) | x | LOW7);
        if zero != 0 {
            return Some(end - 8 + (63 - zero.leading_zeros() as usize) / 8);
        }
        end -= 8;
    }
    b.get(..end)?.iter().rposition(|&c| c == b'@')
}

/// `s` without white space at either end, as [`str::trim`] gives it: a reverse-path
/// whose first and last bytes are ASCII other than white space (nearly every one) is
/// returned as it is, without `str::trim`'s Unicode search (callgrind, a
/// first-mechanism evaluation: 1,749 instructions with it, 1,724 with this check).
fn trim(s: &str) -> &str {
    // ASCII white space as `char::is_whitespace` has it: TAB, LF, VT, FF, CR and SP.
    let plain = |b: u8| b.is_ascii() && !matches!(b, b'\t'..=b'\r' | b' ');
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(&first), Some(&last)) if plain(first) && plain(last) => s,
        _ => s.trim(),
    }
}

/// `s` split at `at` (an `@`), without it. '@' is ASCII, so both sides are whole
/// characters.
fn split_at(s: &str, at: usize) -> Option<(&str, &str)> {
    Some((s.get(..at)?, s.get(at + 1..)?))
}

/// The result of one `check_host()` level that did not abort.
struct Level {
    result: SpfResult,
    cause: SpfCause,
    explanation: Option<Arc<str>>,
}

/// Per-evaluation state shared by nested `include:` and `redirect=` levels.
struct Ctx<'a> {
    ip: IpAddr,
    sender: &'a str,
    local_part: &'a str,
    sender_domain: &'a str,
    helo: &'a str,
    now: u64,
    dns_terms: u32,
    void_lookups: u32,
    /// The client's validated names (§5.5: PTR names whose addresses include the
    /// client's), in PTR order, once found: `%{p}` chooses among them for each level's
    /// `<domain>` (§7.3), which an `include:` or `redirect=` changes.
    validated_names: Option<Vec<String>>,
    /// Which records count.
    scope: RecordScope,
    /// The first TXT lookup (the checked domain's own) has not been made yet.
    first_lookup: bool,
}

impl<R: Resolver> Spf<R> {
    /// A verifier with the RFC defaults.
    pub fn new(resolver: R) -> Self {
        Self::with_config(resolver, SpfConfig::default())
    }

    /// A verifier with explicit settings.
    pub fn with_config(resolver: R, config: SpfConfig) -> Self {
        Self { resolver, config }
    }

    /// The resolver.
    pub fn resolver(&self) -> &R {
        &self.resolver
    }

    /// Checks the MAIL FROM identity (§2.4). `mail_from` is the reverse-path without
    /// angle brackets; empty for the null reverse-path, in which case
    /// `postmaster@<helo>` is checked (§2.4).
    pub fn verify_mail_from<'s, 'n: 's>(
        &'s self,
        ip: IpAddr,
        helo: &'n str,
        mail_from: &'n str,
        now: u64,
    ) -> SpfFuture<'s, 'n> {
        self.verify_mail_from_scoped(ip, helo, mail_from, RecordScope::Spf, now)
    }

    /// [`Self::verify_mail_from`] over the records of `scope` (Sender ID's `mfrom`).
    pub fn verify_mail_from_scoped<'s, 'n: 's>(
        &'s self,
        ip: IpAddr,
        helo: &'n str,
        mail_from: &'n str,
        scope: RecordScope,
        now: u64,
    ) -> SpfFuture<'s, 'n> {
        let mail_from = trim(mail_from);
        let mail_from = mail_from
            .strip_prefix('<')
            .and_then(|m| m.strip_suffix('>'))
            .unwrap_or(mail_from);
        let (domain, sender, at) = if mail_from.is_empty() {
            (
                helo,
                Cow::Owned(format!("postmaster@{helo}")),
                POSTMASTER_AT,
            )
        } else {
            let at = last_at(mail_from);
            match at.and_then(|at| split_at(mail_from, at)) {
                Some((_, d)) => (d, Cow::Borrowed(mail_from), at),
                // No '@': RFC 7208 §4.3 gives no local part; the whole is the domain.
                None => (mail_from, Cow::Borrowed(mail_from), None),
            }
        };
        self.start(Args {
            ip,
            domain,
            sender,
            at,
            helo,
            identity: SpfIdentity::MailFrom,
            scope,
            now,
        })
    }

    /// Checks the HELO identity (§2.3): `check_host(ip, helo, postmaster@helo)`.
    pub fn verify_helo<'s, 'n: 's>(
        &'s self,
        ip: IpAddr,
        helo: &'n str,
        now: u64,
    ) -> SpfFuture<'s, 'n> {
        self.start(Args {
            ip,
            domain: helo,
            sender: Cow::Owned(format!("postmaster@{helo}")),
            at: POSTMASTER_AT,
            helo,
            identity: SpfIdentity::Helo,
            scope: RecordScope::Spf,
            now,
        })
    }

    /// `check_host(<ip>, <domain>, <sender>)` (§4.1). `helo` feeds `%{h}`; `now` feeds
    /// `%{t}`.
    pub fn check_host<'s, 'n: 's>(
        &'s self,
        ip: IpAddr,
        domain: &'n str,
        sender: &'n str,
        helo: &'n str,
        identity: SpfIdentity,
        now: u64,
    ) -> SpfFuture<'s, 'n> {
        self.check_host_scoped(ip, domain, sender, helo, identity, RecordScope::Spf, now)
    }

    /// `check_host()` over the records of `scope`: SPF's, or Sender ID's (RFC 4406 §3,
    /// one evaluator for both). For Sender ID a domain that does not exist gives
    /// `fail` (RFC 4406 changes §4.3's `none` for it: the address is forged).
    #[allow(clippy::too_many_arguments)]
    pub fn check_host_scoped<'s, 'n: 's>(
        &'s self,
        ip: IpAddr,
        domain: &'n str,
        sender: &'n str,
        helo: &'n str,
        identity: SpfIdentity,
        scope: RecordScope,
        now: u64,
    ) -> SpfFuture<'s, 'n> {
        self.start(Args {
            ip,
            domain,
            sender: Cow::Borrowed(sender),
            at: last_at(sender),
            helo,
            identity,
            scope,
            now,
        })
    }

    /// Evaluates with the answers at hand; the future is ready at once when they were
    /// all there, and otherwise awaits the lookups still needed.
    fn start<'s, 'n: 's>(&'s self, args: Args<'n>) -> SpfFuture<'s, 'n> {
        let answers = Answers {
            resolver: &self.resolver,
            fetched: None,
            awaited: 0,
            exhausted: None,
            now: std::cell::OnceCell::new(),
            large: std::cell::RefCell::new(Vec::new()),
        };
        match self.evaluate(&args, &answers) {
            Ok(outcome) => SpfFuture(Pending::Ready(Some(outcome))),
            Err(first) => SpfFuture(Pending::Fetching(Box::pin(
                self.fetching(args, answers, first),
            ))),
        }
    }

    /// Awaits the lookup an evaluation stopped at, evaluates again, until one finishes.
    async fn fetching<'a>(
        &self,
        args: Args<'a>,
        mut answers: Answers<'_, R>,
        mut next: (String, RecordType),
    ) -> SpfOutcome<'a> {
        let started = std::time::Instant::now();
        loop {
            let (name, rtype) = next;
            let lookup = self.resolver.lookup(&name, rtype).await;
            answers
                .fetched
                .get_or_insert_with(Default::default)
                .entry(name)
                .or_default()
                .push((rtype, lookup));
            answers.awaited += 1;
            answers.exhausted = if answers.awaited >= MAX_FETCHES {
                Some(Exhausted::Fetches)
            } else if started.elapsed() >= self.config.time_limit {
                Some(Exhausted::Time(self.config.time_limit))
            } else {
                None
            };
            // The clock moved while the lookup was awaited.
            answers.now = std::cell::OnceCell::new();
            match self.evaluate(&args, &answers) {
                Ok(outcome) => return outcome,
                Err(fetch) => next = fetch,
            }
        }
    }

    /// `check_host()` over the answers at hand, or the lookup it needs first.
    fn evaluate<'a>(
        &self,
        args: &Args<'a>,
        src: &Answers<'_, R>,
    ) -> Result<SpfOutcome<'a>, (String, RecordType)> {
        let Args {
            ip,
            domain,
            ref sender,
            at,
            helo,
            identity,
            scope,
            now,
        } = *args;
        let sender: &str = sender;
        // §5 (ip4/ip6 notes): an IPv4-mapped IPv6 address is an IPv4 client.
        let ip = crate::iprev::unmapped(ip);
        // §4.3: a sender with no local-part uses "postmaster".
        let (local_part, sender_domain) = match at.and_then(|at| split_at(sender, at)) {
            Some(("", d)) => ("postmaster", d),
            Some((l, d)) => (l, d),
            None => ("postmaster", sender),
        };
        let trimmed = domain.strip_suffix('.').unwrap_or(domain);
        // §4.3: a malformed or single-label domain gives "none" before any lookup (the
        // check also tells whether the name has uppercase letters).
        let valid = check_domain_case(domain);
        let upper = match valid {
            Ok(upper) => upper,
            Err(_) => trimmed.bytes().any(|b| b.is_ascii_uppercase()),
        };
        // The checked domain, lowercase.
        let checked: Cow<'a, str> = if upper {
            Cow::Owned(trimmed.to_ascii_lowercase())
        } else {
            Cow::Borrowed(trimmed)
        };
        let outcome = |result, cause, explanation, ctx: Option<&Ctx<'_>>| {
            let (dns_lookups, void_lookups) = ctx.map_or((0, 0), |c| {
                (saturating_u16(c.dns_terms), saturating_u16(c.void_lookups))
            });
            SpfOutcome {
                result,
                cause,
                identity,
                // Borrowed from the strings given when the domain is a part of the
                // sender (a MAIL FROM's); copied otherwise.
                names: match (&checked, &args.sender) {
                    (Cow::Borrowed(domain), Cow::Borrowed(sender)) => {
                        SpfNames::borrowed(domain, sender, helo)
                    }
                    _ => SpfNames::new(&checked, sender, helo),
                },
                ip,
                explanation,
                dns_lookups,
                void_lookups,
            }
        };
        if let Err(why) = valid {
            return Ok(outcome(
                SpfResult::None,
                SpfCause::InvalidDomain(why),
                None,
                None,
            ));
        }
        let mut ctx = Ctx {
            ip,
            sender,
            local_part,
            sender_domain,
            helo,
            now,
            dns_terms: 0,
            void_lookups: 0,
            validated_names: None,
            scope,
            first_lookup: true,
        };
        let (result, cause, explanation) = match self.level(&mut ctx, src, &checked, false, None) {
            Ok(l) => (l.result, l.cause, l.explanation),
            Err(Abort::Temp(cause)) => (SpfResult::Temperror, cause, None),
            Err(Abort::Perm(cause)) => (SpfResult::Permerror, cause, None),
            Err(Abort::Fetch(name, rtype)) => return Err((name, rtype)),
        };
        Ok(outcome(result, cause, explanation, Some(&ctx)))
    }

    /// One `check_host()` level (`include:` and `redirect=` recurse, at most
    /// `max_dns_terms` deep).
    fn level(
        &self,
        ctx: &mut Ctx<'_>,
        src: &Answers<'_, R>,
        domain: &str,
        in_include: bool,
        link: Option<&Link>,
    ) -> Result<Level, Abort> {
        let first = ctx.first_lookup;
        let txt = src.lookup_linked(domain, RecordType::Txt, link)?;
        ctx.first_lookup = false;
        let txt = match txt {
            Ok(answer) => answer,
            Err(LookupError::NxDomain { .. }) if first && ctx.scope != RecordScope::Spf => {
                return Ok(Level {
                    result: SpfResult::Fail,
                    cause: SpfCause::NoSuchDomain,
                    explanation: None,
                });
            }
            Err(e) if e.is_empty_answer() => {
                return Ok(Level {
                    result: SpfResult::None,
                    cause: SpfCause::NoRecord,
                    explanation: None,
                });
            }
            Err(e @ LookupError::InvalidName { .. }) => {
                return Ok(Level {
                    result: SpfResult::None,
                    cause: SpfCause::InvalidDomain(e.to_string()),
                    explanation: None,
                });
            }
            Err(e) => return Err(Abort::Temp(SpfCause::Dns(Box::new(e)))),
        };
        // Selected and parsed once per answer, kept with it (§4.5, §4.6), unless the
        // answer is larger than any SPF record needs: its parse (thousands of terms in
        // 64 KB) would outweigh what the DNS cache counts for it; such a parse is kept
        // for this evaluation only.
        let fresh;
        let local;
        let memo = match txt.memo.get::<SpfMemo>() {
            // Kept by an earlier evaluation: the answer's size was checked then.
            Some(memo) => Some(memo),
            None if txt_bytes(&txt) <= MEMO_MAX_TXT_BYTES => txt.memo.get_or_init(SpfMemo::default),
            None => None,
        };
        let selected = match memo {
            Some(memo) => {
                memo.by_scope[ctx.scope.index()].get_or_init(|| Selected::new(&txt, ctx.scope))
            }
            None => match src.large_memo(&txt) {
                Some(memo) => {
                    local = memo;
                    local.by_scope[ctx.scope.index()].get_or_init(|| Selected::new(&txt, ctx.scope))
                }
                None => {
                    fresh = Selected::new(&txt, ctx.scope);
                    &fresh
                }
            },
        };
        let rec = match selected {
            Selected::NoRecord => {
                return Ok(Level {
                    result: SpfResult::None,
                    cause: SpfCause::NoRecord,
                    explanation: None,
                });
            }
            Selected::Multiple => return Err(Abort::Perm(SpfCause::MultipleRecords)),
            Selected::Syntax(e) => return Err(Abort::Perm(SpfCause::Syntax(e.clone()))),
            Selected::Record(rec) => rec,
        };

        let client = Client::new(ctx.ip);
        for (index, directive) in rec.directives.iter().enumerate() {
            let matched = match &directive.op {
                // §5.1, §5.6: decided here, with no future.
                Op::All => true,
                Op::Ip4 { net, mask } => client.v4.is_some_and(|c| c & mask == *net),
                Op::Ip6 { net, mask } => client.v6.is_some_and(|c| c & mask == *net),
                Op::Dns(mechanism) => {
                    // §4.6.4: every mechanism that queries the DNS counts.
                    ctx.dns_terms += 1;
                    if ctx.dns_terms > self.config.max_dns_terms {
                        return Err(Abort::Perm(SpfCause::LookupLimit));
                    }
                    self.matches(ctx, src, domain, mechanism, &directive.link)?
                }
            };
            if !matched {
                continue;
            }
            let result = match directive.qualifier {
                Qualifier::Pass => SpfResult::Pass,
                Qualifier::Fail => SpfResult::Fail,
                Qualifier::SoftFail => SpfResult::Softfail,
                Qualifier::Neutral => SpfResult::Neutral,
            };
            // §6.2: exp= is used for a fail at this level, never from an include.
            let explanation = match (result, &rec.exp) {
                (SpfResult::Fail, Some(exp)) if !in_include => {
                    self.explain(ctx, src, domain, exp)?
                }
                _ => None,
            };
            // Of a level inside an include:, only the result is used (§5.2): the
            // cause is not built.
            if in_include {
                return Ok(Level {
                    result,
                    cause: SpfCause::NoMatch,
                    explanation,
                });
            }
            // The answer (this level's own, not shared again) names the directive in
            // the record kept with it; the name the answer keeps is the domain unless
            // it was kept under another (a resolver giving one answer for several).
            let other_name = memo.map(|m| {
                let kept = m.owner.get_or_init(|| domain.into());
                (**kept != *domain).then(|| domain.into())
            });
            let cause = match other_name {
                Some(other_name) => SpfCause::Matched(SpfMatch(Matched::Kept {
                    answer: txt,
                    scope: ctx.scope,
                    index,
                    other_name,
                })),
                // Not kept with the answer (another consumer's memo there): copied.
                None => SpfCause::Matched(SpfMatch::new(&directive.text, domain)),
            };
            return Ok(Level {
                result,
                cause,
                explanation,
            });
        }

        // §6.1: redirect= applies when nothing matched (and "all" was absent, which
        // is implied: "all" always matches).
        if let Some(spec) = &rec.redirect {
            ctx.dns_terms += 1;
            if ctx.dns_terms > self.config.max_dns_terms {
                return Err(Abort::Perm(SpfCause::LookupLimit));
            }
            let target = self.target(ctx, src, domain, spec)?;
            if !spec.is_checkable(&target) {
                return Err(Abort::Perm(SpfCause::RedirectNone(target.into_owned())));
            }
            let link = spec.literal.is_some().then_some(&rec.redirect_link);
            let inner = self.level(ctx, src, &target, in_include, link)?;
            if inner.result == SpfResult::None {
                return Err(Abort::Perm(SpfCause::RedirectNone(target.into_owned())));
            }
            return Ok(inner);
        }
        // §4.7: default result.
        Ok(Level {
            result: SpfResult::Neutral,
            cause: SpfCause::NoMatch,
            explanation: None,
        })
    }

    /// Expands a domain-spec into a name to look up (§7, with §7.3 truncation),
    /// lowercase and without a trailing dot.
    fn target<'s>(
        &self,
        ctx: &mut Ctx<'_>,
        src: &Answers<'_, R>,
        domain: &str,
        spec: &'s Spec,
    ) -> Result<Cow<'s, str>, Abort> {
        if let Some(name) = &spec.literal {
            return Ok(Cow::Borrowed(name));
        }
        if let Some(m) = &spec.parsed {
            let p = if m.uses_p() {
                Some(self.validated_name(ctx, src, domain)?)
            } else {
                None
            };
            let vars = self.macro_vars(ctx, domain);
            let expanded = m.expand(&vars, p.as_deref());
            return Ok(Cow::Owned(lookup_name(expanded)));
        }
        let spec = DomainSpec(&spec.text);
        let p = if macros::uses_p(spec.0) {
            Some(self.validated_name(ctx, src, domain)?)
        } else {
            None
        };
        let vars = self.macro_vars(ctx, domain);
        let expanded = macros::expand(spec.0, MacroContext::Domain, &vars, p.as_deref())
            .map_err(|e| Abort::Perm(SpfCause::Macro(e.to_string())))?;
        Ok(Cow::Owned(lookup_name(expanded)))
    }

    /// The values of the macro letters (§7.2) for `domain` in this evaluation.
    fn macro_vars<'v>(&'v self, ctx: &'v Ctx<'_>, domain: &'v str) -> MacroVars<'v> {
        MacroVars {
            sender: ctx.sender,
            local_part: ctx.local_part,
            sender_domain: ctx.sender_domain,
            domain,
            ip: ctx.ip,
            helo: ctx.helo,
            receiver: &self.config.receiver,
            now: ctx.now,
        }
    }

    /// Counts a void lookup (§4.6.4) and fails once over the limit.
    fn void(&self, ctx: &mut Ctx<'_>) -> Result<(), Abort> {
        ctx.void_lookups += 1;
        if ctx.void_lookups > self.config.max_void_lookups {
            Err(Abort::Perm(SpfCause::VoidLookupLimit))
        } else {
            Ok(())
        }
    }

    /// Address records of `name` for the client's family. `Ok(None)` is a void answer.
    fn addresses(
        src: &Answers<'_, R>,
        name: &str,
        ip: IpAddr,
        link: Option<&Link>,
    ) -> Result<Result<Option<Addresses>, LookupError>, Abort> {
        let rtype = match ip {
            IpAddr::V4(_) => RecordType::A,
            IpAddr::V6(_) => RecordType::Aaaa,
        };
        Ok(match src.lookup_linked(name, rtype, link)? {
            Ok(answer) => Ok(Some(Addresses(answer))),
            Err(e) if e.is_empty_answer() || matches!(e, LookupError::InvalidName { .. }) => {
                Ok(None)
            }
            Err(e) => Err(e),
        })
    }

    /// Whether a mechanism matches (§5). DNS failures abort with temperror.
    fn matches(
        &self,
        ctx: &mut Ctx<'_>,
        src: &Answers<'_, R>,
        domain: &str,
        mechanism: &DnsMechanism,
        link: &Link,
    ) -> Result<bool, Abort> {
        let ip = ctx.ip;
        // The term's answer is kept with the record when its name does not change from
        // one evaluation to the next: a literal domain-spec, or none (this level's
        // domain, the record's own name).
        let fixed = |spec: Option<&Spec>| spec.is_none_or(|s| s.literal.is_some()).then_some(link);
        match mechanism {
            DnsMechanism::A {
                domain: spec,
                cidr4,
                cidr6,
            } => {
                let target = match spec {
                    Some(spec) => self.target(ctx, src, domain, spec)?,
                    None => Cow::Borrowed(domain),
                };
                match Self::addresses(src, &target, ip, fixed(spec.as_ref()))? {
                    Ok(Some(addrs)) => Ok(addrs.iter().any(|a| in_net(ip, a, *cidr4, *cidr6))),
                    Ok(None) => self.void(ctx).map(|()| false),
                    Err(e) => Err(Abort::Temp(SpfCause::Dns(Box::new(e)))),
                }
            }
            DnsMechanism::Mx {
                domain: spec,
                cidr4,
                cidr6,
            } => {
                let target = match spec {
                    Some(spec) => self.target(ctx, src, domain, spec)?,
                    None => Cow::Borrowed(domain),
                };
                let mx = match src.lookup_linked(&target, RecordType::Mx, fixed(spec.as_ref()))? {
                    Ok(a) => a,
                    Err(e)
                        if e.is_empty_answer() || matches!(e, LookupError::InvalidName { .. }) =>
                    {
                        return self.void(ctx).map(|()| false);
                    }
                    Err(e) => return Err(Abort::Temp(SpfCause::Dns(Box::new(e)))),
                };
                let records = || mx_hosts(&mx);
                // §4.6.4: more than 10 MX records is a permerror.
                if records().count() > self.config.max_mx_ptr {
                    return Err(Abort::Perm(SpfCause::MxLimit(target.into_owned())));
                }
                // By preference; the answer's order among equals (a stable sort), and
                // no copy when the answer is in order already.
                let (in_order, sorted) = if records().is_sorted_by_key(|h| h.0) {
                    (Some(records()), None)
                } else {
                    let mut hosts: Vec<(u16, &str, usize)> = records().collect();
                    hosts.sort_by_key(|h| h.0);
                    (None, Some(hosts))
                };
                let hosts = in_order
                    .into_iter()
                    .flatten()
                    .chain(sorted.into_iter().flatten());
                // The exchanges' answers are kept with the MX answer, one link per
                // record (when no other consumer keeps something else with it).
                let links = match src.fresh_now() {
                    Some(_) => mx.memo.get_or_init(|| MxLinks::new(&mx)),
                    None => None,
                };
                for (_, host, i) in hosts {
                    // RFC 7505 null MX ("."): no host to check.
                    if host.is_empty() {
                        continue;
                    }
                    let link = links.and_then(|l| l.0.get(i));
                    match Self::addresses(src, host, ip, link)? {
                        Ok(Some(addrs)) => {
                            if addrs.iter().any(|a| in_net(ip, a, *cidr4, *cidr6)) {
                                return Ok(true);
                            }
                        }
                        Ok(None) => {}
                        Err(e) => return Err(Abort::Temp(SpfCause::Dns(Box::new(e)))),
                    }
                }
                Ok(false)
            }
            DnsMechanism::Ptr(spec) => self.ptr_matches(ctx, src, domain, spec.as_ref()),
            DnsMechanism::Exists(spec) => {
                let target = self.target(ctx, src, domain, spec)?;
                // §5.7: always an A query, whatever the client's family.
                match src.lookup_linked(&target, RecordType::A, fixed(Some(spec)))? {
                    Ok(_) => Ok(true),
                    Err(e)
                        if e.is_empty_answer() || matches!(e, LookupError::InvalidName { .. }) =>
                    {
                        self.void(ctx).map(|()| false)
                    }
                    Err(e) => Err(Abort::Temp(SpfCause::Dns(Box::new(e)))),
                }
            }
            DnsMechanism::Include(spec) => {
                let target = self.target(ctx, src, domain, spec)?;
                if !spec.is_checkable(&target) {
                    return Err(Abort::Perm(SpfCause::IncludeNone(target.into_owned())));
                }
                // §5.2: pass matches; fail/softfail/neutral do not; errors propagate;
                // none is a permerror.
                let link = spec.literal.is_some().then_some(link);
                let inner = self.level(ctx, src, &target, true, link)?;
                match inner.result {
                    SpfResult::Pass => Ok(true),
                    SpfResult::None => Err(Abort::Perm(SpfCause::IncludeNone(target.into_owned()))),
                    _ => Ok(false),
                }
            }
        }
    }

    /// Whether `ptr` matches (§5.5).
    fn ptr_matches(
        &self,
        ctx: &mut Ctx<'_>,
        src: &Answers<'_, R>,
        domain: &str,
        spec: Option<&Spec>,
    ) -> Result<bool, Abort> {
        let ip = ctx.ip;
        let target = match spec {
            Some(spec) => self.target(ctx, src, domain, spec)?,
            None => Cow::Borrowed(domain),
        };
        let names = match self.ptr_names(src, ip)? {
            Ok(n) => n,
            // §5.5: a DNS error on the PTR lookup means "no match".
            Err(e) if e.is_empty_answer() => return self.void(ctx).map(|()| false),
            Err(_) => return Ok(false),
        };
        for name in names.iter().filter(|n| is_same_or_subdomain(n, &target)) {
            if Self::forward_confirms(src, name, ip)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The first 10 PTR names of the client (§4.6.4, §5.5): the reverse lookup iprev
    /// makes too ([`crate::iprev::ptr_names`]).
    fn ptr_names(
        &self,
        src: &Answers<'_, R>,
        ip: IpAddr,
    ) -> Result<Result<Vec<String>, LookupError>, Abort> {
        let reverse = monban_dns::reverse_name(crate::iprev::unmapped(ip));
        Ok(src
            .lookup(&reverse, RecordType::Ptr)?
            .map(|answer| crate::iprev::ptr_names_of(&answer, self.config.max_mx_ptr)))
    }

    /// Whether `name` has an address equal to the client's (§5.5 forward confirmation).
    /// Lookup errors mean "not confirmed".
    fn forward_confirms(src: &Answers<'_, R>, name: &str, ip: IpAddr) -> Result<bool, Abort> {
        Ok(
            matches!(Self::addresses(src, name, ip, None)?, Ok(Some(addrs)) if addrs.iter().any(|a| a == ip)),
        )
    }

    /// The `%{p}` value (§7.3) for the level whose `<domain>` is `domain`: of the
    /// client's validated names, `domain` itself if it is one, else the first that is a
    /// subdomain of it, else the first; "unknown" when there is none. The names are
    /// found once per evaluation (the PTR lookup and up to its limit of names each
    /// confirmed, §4.6.4, §5.5); the choice is made again at each level: an `include:`
    /// of another domain prefers that domain's names (a trial found the first level's
    /// choice used all the way down).
    fn validated_name(
        &self,
        ctx: &mut Ctx<'_>,
        src: &Answers<'_, R>,
        domain: &str,
    ) -> Result<String, Abort> {
        if ctx.validated_names.is_none() {
            let mut confirmed = Vec::new();
            for name in self.ptr_names(src, ctx.ip)?.unwrap_or_default() {
                if Self::forward_confirms(src, &name, ctx.ip)? {
                    confirmed.push(name);
                }
            }
            ctx.validated_names = Some(confirmed);
        }
        let names = ctx.validated_names.as_deref().unwrap_or_default();
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        let chosen = names
            .iter()
            .find(|n| {
                n.strip_suffix('.')
                    .unwrap_or(n)
                    .eq_ignore_ascii_case(domain)
            })
            .or_else(|| names.iter().find(|n| is_same_or_subdomain(n, domain)))
            .or_else(|| names.first());
        Ok(chosen.map_or_else(|| "unknown".to_owned(), Clone::clone))
    }

    /// The `exp=` explanation (§6.2). Any problem means "no explanation"; an answer
    /// not at hand stops the evaluation as any other lookup does.
    fn explain(
        &self,
        ctx: &mut Ctx<'_>,
        src: &Answers<'_, R>,
        domain: &str,
        spec: &Spec,
    ) -> Result<Option<Arc<str>>, Abort> {
        let target = match self.target(ctx, src, domain, spec) {
            Ok(t) => t,
            Err(fetch @ Abort::Fetch(..)) => return Err(fetch),
            Err(_) => return Ok(None),
        };
        let Ok(answer) = src.lookup(&target, RecordType::Txt)? else {
            return Ok(None);
        };
        let [Record::Txt(txt)] = answer.records.as_slice() else {
            return Ok(None);
        };
        let Ok(text) = String::from_utf8(txt.joined()) else {
            return Ok(None);
        };
        let p = if macros::uses_p(&text) {
            Some(self.validated_name(ctx, src, domain)?)
        } else {
            None
        };
        let vars = self.macro_vars(ctx, domain);
        Ok(
            macros::expand(&text, MacroContext::Explanation, &vars, p.as_deref())
                .ok()
                .map(Arc::from),
        )
    }
}

/// The client-family addresses of an A or AAAA answer.
struct Addresses(Arc<Answer>);

impl Addresses {
    fn iter(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.0.records.iter().filter_map(|r| match r {
            Record::A(a) => Some(IpAddr::V4(*a)),
            Record::Aaaa(a) => Some(IpAddr::V6(*a)),
            _ => None,
        })
    }
}

/// What one TXT answer holds for SPF: the record selected (§4.5) and parsed (§4.6),
/// owned so that it can be kept with the answer.
#[derive(Debug)]
enum Selected {
    /// No TXT record begins with "v=spf1".
    NoRecord,
    /// More than one does.
    Multiple,
    /// The one that does, does not parse.
    Syntax(SyntaxError),
    /// The record.
    Record(Compiled),
}

impl Selected {
    fn new(answer: &Answer, scope: RecordScope) -> Self {
        #[cfg(test)]
        tests::SELECTED.with(|n| n.set(n.get() + 1));
        if scope != RecordScope::Spf
            && let Some(selected) = Self::sender_id(answer, scope)
        {
            return selected;
        }
        let mut found: Option<Vec<u8>> = None;
        for r in &answer.records {
            if let Record::Txt(t) = r {
                let joined = t.joined();
                if record::is_spf_record(&joined) {
                    if found.is_some() {
                        return Self::Multiple;
                    }
                    found = Some(joined);
                }
            }
        }
        let Some(bytes) = found else {
            return Self::NoRecord;
        };
        let text = String::from_utf8_lossy(&bytes);
        match SpfRecord::parse(&text) {
            Ok(rec) => Self::Record(Compiled::new(&rec)),
            Err(e) => Self::Syntax(e),
        }
    }

    /// Sender ID's selection (RFC 4406 §3.4): when the domain publishes any `spf2.0`
    /// record, only those naming the scope count (none: no record; several:
    /// `permerror`). `None` when it publishes none: then its `v=spf1` record is used
    /// as if it were `spf2.0/mfrom,pra`.
    fn sender_id(answer: &Answer, scope: RecordScope) -> Option<Self> {
        let mut any = false;
        let mut found: Option<Vec<u8>> = None;
        for r in &answer.records {
            let Record::Txt(t) = r else { continue };
            let joined = t.joined();
            if !record::is_sender_id_record(&joined) {
                continue;
            }
            any = true;
            let Some((scopes, _)) = record::sender_id_scopes(&joined) else {
                // Scopes that cannot be read: this may be the record for the scope, and
                // the domain's v=spf1 record no longer counts.
                let text = String::from_utf8_lossy(&joined);
                return Some(match SpfRecord::parse_sender_id(&text) {
                    Some(Err(e)) => Self::Syntax(e),
                    _ => Self::NoRecord,
                });
            };
            let covers = match scope {
                RecordScope::SenderIdMfrom => scopes.mfrom,
                RecordScope::SenderIdPra => scopes.pra,
                RecordScope::Spf => false,
            };
            if covers {
                if found.is_some() {
                    return Some(Self::Multiple);
                }
                found = Some(joined);
            }
        }
        if !any {
            return None;
        }
        let Some(bytes) = found else {
            return Some(Self::NoRecord);
        };
        let text = String::from_utf8_lossy(&bytes);
        Some(match SpfRecord::parse_sender_id(&text) {
            Some(Ok((_, rec))) => Self::Record(Compiled::new(&rec)),
            Some(Err(e)) => Self::Syntax(e),
            None => Self::NoRecord,
        })
    }
}

/// An [`SpfRecord`] made ready to evaluate: owned, with the address mechanisms as masks
/// and the domain-specs without macros already expanded.
#[derive(Debug)]
struct Compiled {
    directives: Vec<CompiledDirective>,
    redirect: Option<Spec>,
    /// The answer of `redirect=`'s lookup, when its domain-spec has no macro.
    redirect_link: Link,
    exp: Option<Spec>,
}

impl Compiled {
    fn new(rec: &SpfRecord<'_>) -> Self {
        Self {
            directives: rec
                .directives()
                .map(|d| CompiledDirective {
                    qualifier: d.qualifier(),
                    op: Op::new(&d.mechanism),
                    text: Arc::from(d.to_string()),
                    link: Link::default(),
                })
                .collect(),
            redirect: rec.redirect().map(Spec::new),
            redirect_link: Link::default(),
            exp: rec.exp().map(Spec::new),
        }
    }
}

#[derive(Debug)]
struct CompiledDirective {
    /// The effective qualifier.
    qualifier: Qualifier,
    op: Op,
    /// The directive as [`record::Directive`] displays it, for [`SpfCause::Matched`].
    text: Arc<str>,
    /// The answer of the mechanism's (first) lookup, when its name does not change from
    /// one evaluation to the next.
    link: Link,
}

/// A mechanism: `all`, `ip4` and `ip6` as masks (§5.1, §5.6), the others as they need
/// the DNS.
#[derive(Debug)]
enum Op {
    All,
    /// The network address, already masked.
    Ip4 {
        net: u32,
        mask: u32,
    },
    /// The network address, already masked.
    Ip6 {
        net: u128,
        mask: u128,
    },
    Dns(DnsMechanism),
}

impl Op {
    fn new(m: &Mechanism<'_>) -> Self {
        let spec = |d: &Option<DomainSpec<'_>>| d.map(Spec::new);
        match m {
            Mechanism::All => Self::All,
            Mechanism::Ip4 { addr, prefix } => {
                let mask = v4_mask(prefix.unwrap_or(32));
                Self::Ip4 {
                    net: u32::from(*addr) & mask,
                    mask,
                }
            }
            Mechanism::Ip6 { addr, prefix } => {
                let mask = v6_mask(prefix.unwrap_or(128));
                Self::Ip6 {
                    net: u128::from(*addr) & mask,
                    mask,
                }
            }
            Mechanism::Include(d) => Self::Dns(DnsMechanism::Include(Spec::new(*d))),
            Mechanism::A {
                domain,
                cidr4,
                cidr6,
            } => Self::Dns(DnsMechanism::A {
                domain: spec(domain),
                cidr4: *cidr4,
                cidr6: *cidr6,
            }),
            Mechanism::Mx {
                domain,
                cidr4,
                cidr6,
            } => Self::Dns(DnsMechanism::Mx {
                domain: spec(domain),
                cidr4: *cidr4,
                cidr6: *cidr6,
            }),
            Mechanism::Ptr(d) => Self::Dns(DnsMechanism::Ptr(spec(d))),
            Mechanism::Exists(d) => Self::Dns(DnsMechanism::Exists(Spec::new(*d))),
        }
    }
}

/// A mechanism that queries the DNS and so counts against the limit of §4.6.4.
#[derive(Debug)]
enum DnsMechanism {
    Include(Spec),
    A {
        domain: Option<Spec>,
        cidr4: Option<u8>,
        cidr6: Option<u8>,
    },
    Mx {
        domain: Option<Spec>,
        cidr4: Option<u8>,
        cidr6: Option<u8>,
    },
    Ptr(Option<Spec>),
    Exists(Spec),
}

/// An owned domain-spec (§7.1).
#[derive(Debug)]
struct Spec {
    /// As written.
    text: Box<str>,
    /// Without macros, what [`Spf::target`] makes of it, computed once: the text
    /// truncated (§7.3), without a trailing dot, lowercase. (The literal is checked
    /// as `macros::expand` would check it.)
    literal: Option<Box<str>>,
    /// Whether `literal` passes [`check_domain`].
    literal_ok: bool,
    /// With macros, the macro-string split once.
    parsed: Option<MacroString>,
}

impl Spec {
    fn new(spec: DomainSpec<'_>) -> Self {
        let text = spec.0;
        let literal =
            (!text.contains('%') && text.bytes().all(|b| matches!(b, 0x21..=0x7e))).then(|| {
                let truncated = macros::truncate_domain(text);
                let name = truncated.strip_suffix('.').unwrap_or(truncated);
                name.to_ascii_lowercase().into_boxed_str()
            });
        Self {
            text: text.into(),
            literal_ok: literal.as_deref().is_some_and(|l| check_domain(l).is_ok()),
            parsed: match literal {
                Some(_) => None,
                None => MacroString::parse(text, MacroContext::Domain).ok(),
            },
            literal,
        }
    }

    /// Whether `target`, this spec's expansion, is a domain `include:` and `redirect=`
    /// may go to ([`check_domain`]).
    fn is_checkable(&self, target: &str) -> bool {
        if self.literal.is_some() {
            self.literal_ok
        } else {
            check_domain(target).is_ok()
        }
    }
}

/// The client address, as the masks of [`Op`] compare it.
#[derive(Debug, Clone, Copy)]
struct Client {
    v4: Option<u32>,
    v6: Option<u128>,
}

impl Client {
    fn new(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Self {
                v4: Some(u32::from(a)),
                v6: None,
            },
            IpAddr::V6(a) => Self {
                v4: None,
                v6: Some(u128::from(a)),
            },
        }
    }
}

/// What SPF keeps with a TXT answer ([`Answer::memo`]): the record each scope selects
/// from it, parsed. Selection and parsing depend on nothing but the answer and the
/// scope, so an answer served again from a cache is not parsed again.
#[derive(Debug, Default)]
struct SpfMemo {
    by_scope: [std::sync::OnceLock<Selected>; 3],
    /// The name the answer was looked up by when a directive of its record first
    /// matched, as the evaluator names it (lowercase, no trailing dot): the domain of
    /// every match in its record ([`SpfMatch::domain`]), unless a resolver gives one
    /// answer for several names (as one may for a wildcard) and a match was made under
    /// another.
    owner: std::sync::OnceLock<Box<str>>,
}

/// Which directive matched, in the record of which domain ([`SpfCause::Matched`]).
///
/// An evaluation's match holds the DNS answer the record came from (moved there, not
/// shared again) and names the directive by its place in the record parsed and kept
/// with that answer: nothing is copied or shared per evaluation (but the name, when the
/// answer was kept under another, and the texts, when another consumer's memo holds the
/// answer's place). An outcome so keeps its TXT answer, and what SPF made of it, alive
/// for as long as the outcome lives (one message, as a rule). Sharing the texts
/// instead (an `Arc` each for the mechanism and the domain, an atomic increment and
/// decrement apiece) made a first-mechanism check answered from a warm cache 166 ns
/// rather than 142 ns here.
#[derive(Clone)]
pub struct SpfMatch(Matched);

#[derive(Clone)]
enum Matched {
    /// The `index`th directive of the record `scope` selects from `answer`, in the
    /// record of the name the answer keeps ([`SpfMemo::owner`]) or of `other_name`.
    Kept {
        answer: Arc<Answer>,
        scope: RecordScope,
        index: usize,
        other_name: Option<Box<str>>,
    },
    /// Given as text.
    Text {
        mechanism: Arc<str>,
        domain: Arc<str>,
    },
}

impl SpfMatch {
    /// A match given as text: the mechanism as written, in the record of `domain`.
    pub fn new(mechanism: &str, domain: &str) -> Self {
        Self(Matched::Text {
            mechanism: Arc::from(mechanism),
            domain: Arc::from(domain),
        })
    }

    /// The mechanism as written in the record (as [`record::Directive`] displays it),
    /// e.g. `ip4:192.0.2.0/24` or `-all`.
    pub fn mechanism(&self) -> &str {
        match &self.0 {
            Matched::Kept {
                answer,
                scope,
                index,
                ..
            } => kept_memo(answer)
                .and_then(|m| m.by_scope[scope.index()].get())
                .and_then(|selected| match selected {
                    Selected::Record(c) => c.directives.get(*index),
                    _ => None,
                })
                .map_or_else(gone, |d| &d.text),
            Matched::Text { mechanism, .. } => mechanism,
        }
    }

    /// The domain whose record held it: the checked domain, or the target of a
    /// `redirect=` (lowercase, no trailing dot).
    pub fn domain(&self) -> &str {
        match &self.0 {
            Matched::Kept {
                other_name: Some(name),
                ..
            } => name,
            Matched::Text { domain, .. } => domain,
            Matched::Kept { answer, .. } => kept_memo(answer)
                .and_then(|m| m.owner.get())
                .map_or_else(gone, |name| &**name),
        }
    }
}

/// What a kept match names when its record is not kept with the answer: never, as the
/// evaluator makes a kept match only after keeping the record (an empty text in a
/// release build, a panic in a test).
fn gone<'a>() -> &'a str {
    if cfg!(debug_assertions) {
        unreachable!("an SPF match kept with an answer whose record is not kept");
    }
    ""
}

/// The largest TXT answer (all its strings) whose SPF parse is kept with it: far
/// above the 450 octets RFC 7208 §3.4 asks records to stay within, and what the DNS
/// cache's byte count allows for a kept parse (`monban_dns::MEMO_ALLOWANCE`).
pub const MEMO_MAX_TXT_BYTES: usize = monban_dns::MEMO_MAX_TXT_BYTES;

/// The bytes of a TXT answer's strings.
fn txt_bytes(answer: &Answer) -> usize {
    answer
        .records
        .iter()
        .map(|r| match r {
            Record::Txt(t) | Record::Spf(t) => t.len(),
            _ => 0,
        })
        .sum()
}

/// What SPF kept with `answer` (always there for a [`Matched::Kept`]).
fn kept_memo(answer: &Answer) -> Option<&SpfMemo> {
    answer.memo.get_or_init(SpfMemo::default)
}

impl PartialEq for SpfMatch {
    fn eq(&self, other: &Self) -> bool {
        self.mechanism() == other.mechanism() && self.domain() == other.domain()
    }
}

impl Eq for SpfMatch {}

impl std::fmt::Debug for SpfMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpfMatch")
            .field("mechanism", &self.mechanism())
            .field("domain", &self.domain())
            .finish()
    }
}

/// The `(preference, exchange, index in the answer)` of each record of an MX answer, in
/// answer order.
fn mx_hosts(answer: &Answer) -> impl Iterator<Item = (u16, &str, usize)> + Send {
    fn host((i, r): (usize, &Record)) -> Option<(u16, &str, usize)> {
        match r {
            Record::Mx {
                preference,
                exchange,
            } => Some((*preference, exchange.as_str(), i)),
            _ => None,
        }
    }
    answer.records.iter().enumerate().filter_map(host)
}

/// The answer of one term's lookup, kept with the parsed record (or, for the exchanges
/// of an `mx`, with the MX answer) from one evaluation to the next while the resolver
/// that gave it says it is fresh ([`Resolver::fresh_now`]): a warm cache's hash and
/// probe of the name are then skipped. It holds one answer per address family (an `a`
/// asks A of IPv4 clients, AAAA of IPv6 ones), each under the name and type it answers,
/// so it never serves another name's answer. Made on first use.
#[derive(Debug, Default)]
struct Link(std::sync::OnceLock<Box<[LinkFamily; 2]>>);

/// How many answers a link takes in turn for one family: each is written once and read
/// with no lock (no atomic read-modify-write on the path of a hit); once they are all
/// used (a record kept longer than several of its terms' TTLs), the cache is asked.
const LINK_GENERATIONS: usize = 4;

#[derive(Debug, Default)]
struct LinkFamily {
    /// How many of `answers` are set: the last one set is the one served.
    set: std::sync::atomic::AtomicUsize,
    answers: [std::sync::OnceLock<Linked>; LINK_GENERATIONS],
}

impl LinkFamily {
    /// The last answer set, if it is for `name` and `rtype` and fresh at `now`.
    fn current(&self, now: FreshNow, name: &str, rtype: RecordType) -> Option<Lookup> {
        let set = self.set.load(std::sync::atomic::Ordering::Acquire);
        let kept = self.answers.get(set.checked_sub(1)?)?.get()?;
        if kept.rtype != rtype || *kept.name != *name || !kept.fresh.holds(now) {
            return None;
        }
        match &kept.kept {
            Kept::Answer(answer) => answer.upgrade().map(Ok),
            Kept::Error(e) => Some(Err(e.clone())),
        }
    }
}

#[derive(Debug)]
struct Linked {
    name: Box<str>,
    rtype: RecordType,
    kept: Kept,
    fresh: Fresh,
}

/// A kept answer. A positive one is held weakly: the cache (or an evaluation using it)
/// keeps it alive, a link never does, so links neither keep answers the cache let go
/// (its bound on memory holds) nor make cycles (a record that includes itself, or two
/// that include each other, would otherwise never be freed).
#[derive(Debug)]
enum Kept {
    Answer(std::sync::Weak<Answer>),
    Error(LookupError),
}

impl Link {
    fn family(&self, rtype: RecordType) -> Option<&LinkFamily> {
        Some(&self.0.get()?[usize::from(rtype == RecordType::Aaaa)])
    }

    /// The answer kept for `name` and `rtype`, if still fresh at `now`.
    fn get(&self, now: FreshNow, name: &str, rtype: RecordType) -> Option<Lookup> {
        self.family(rtype)?.current(now, name, rtype)
    }

    /// Keeps an answer in the family's next generation, if one is left and the current
    /// one is not fresh already (another evaluation may have just replaced it).
    fn keep(&self, now: FreshNow, name: &str, rtype: RecordType, lookup: &Lookup, fresh: Fresh) {
        use std::sync::atomic::Ordering;
        let families = self.0.get_or_init(Box::default);
        let family = &families[usize::from(rtype == RecordType::Aaaa)];
        let next = family.set.load(Ordering::Acquire);
        let Some(slot) = family.answers.get(next) else {
            return;
        };
        if family.current(now, name, rtype).is_some() {
            return;
        }
        // Two evaluations may fill the same generation at once: one answer is kept,
        // either is fresh.
        let _ = slot.set(Linked {
            name: name.into(),
            rtype,
            kept: match lookup {
                Ok(answer) => Kept::Answer(Arc::downgrade(answer)),
                Err(e) => Kept::Error(e.clone()),
            },
            fresh,
        });
        family.set.fetch_max(next + 1, Ordering::AcqRel);
    }
}

/// What SPF keeps with an MX answer ([`Answer::memo`]): a [`Link`] per record, for the
/// address lookup of its exchange.
#[derive(Debug)]
struct MxLinks(Box<[Link]>);

impl MxLinks {
    fn new(answer: &Answer) -> Self {
        Self(answer.records.iter().map(|_| Link::default()).collect())
    }
}

/// What [`check_domain`] needs to know of a name, in one pass over its octets (names
/// are short: a loop over a class table beats several `memchr`s).
struct NameShape {
    /// Every label has 1 to 63 octets (RFC 1035 §2.3.4); false for the empty name.
    labels_ok: bool,
    /// There is a dot: more than one label.
    dot: bool,
    colon: bool,
    digits_and_dots: bool,
    /// There is an uppercase ASCII letter.
    upper: bool,
}

/// The classes of [`NAME_CLASS`], as bits.
const CLASS_DOT: u8 = 1;
const CLASS_COLON: u8 = 2;
const CLASS_UPPER: u8 = 4;
/// Neither a digit nor a dot.
const CLASS_OTHER: u8 = 8;

/// Each octet's classes.
static NAME_CLASS: [u8; 256] = {
    let mut t = [CLASS_OTHER; 256];
    t[b'.' as usize] = CLASS_DOT;
    t[b':' as usize] = CLASS_COLON | CLASS_OTHER;
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = 0;
        c += 1;
    }
    let mut c = b'A';
    while c <= b'Z' {
        t[c as usize] = CLASS_UPPER | CLASS_OTHER;
        c += 1;
    }
    t
};

impl NameShape {
    fn of(name: &str) -> Self {
        let b = name.as_bytes();
        let mut any = 0u8;
        let mut dot_after_dot = 0u8;
        // As if a dot came before: a leading dot is an empty first label.
        let mut prev = CLASS_DOT;
        for &c in b {
            let class = NAME_CLASS[usize::from(c)];
            any |= class;
            dot_after_dot |= prev & class;
            prev = class;
        }
        // An empty label: two dots in a row, a leading dot, or (`prev`) a trailing one.
        let mut labels_ok = !b.is_empty() && (dot_after_dot | prev) & CLASS_DOT == 0;
        // Only a name over 63 octets can have a label over 63 octets.
        if labels_ok && b.len() > 63 {
            labels_ok = b.split(|&c| c == b'.').all(|label| label.len() <= 63);
        }
        Self {
            labels_ok,
            dot: any & CLASS_DOT != 0,
            colon: any & CLASS_COLON != 0,
            digits_and_dots: any & CLASS_OTHER == 0,
            upper: any & CLASS_UPPER != 0,
        }
    }
}

/// An expanded domain-spec as a name to look up: §7.3 truncation, no trailing dot,
/// lowercase.
fn lookup_name(mut expanded: String) -> String {
    // The truncation keeps a suffix: cut in place, no copy.
    let keep = macros::truncate_domain(&expanded).len();
    expanded.drain(..expanded.len() - keep);
    if expanded.ends_with('.') {
        expanded.pop();
    }
    expanded.make_ascii_lowercase();
    expanded
}

/// §4.3: the domain must be a valid, multi-label name.
fn check_domain(domain: &str) -> Result<(), String> {
    check_domain_case(domain).map(|_| ())
}

/// [`check_domain`], and whether a valid name has uppercase letters.
fn check_domain_case(domain: &str) -> Result<bool, String> {
    // The common case, without the allocation of `normalize_name`: what it accepts
    // (RFC 1035 §2.3.4 sizes, one trailing dot dropped), multi-label, not an address.
    // Case does not matter to any of these tests.
    let trimmed = domain.strip_suffix('.').unwrap_or(domain);
    if trimmed.len() <= 253 && !trimmed.starts_with('[') {
        let shape = NameShape::of(trimmed);
        // Only digits and dots (IPv4) or a colon (IPv6) can make an address.
        if shape.labels_ok
            && shape.dot
            && !((shape.colon || shape.digits_and_dots) && trimmed.parse::<IpAddr>().is_ok())
        {
            return Ok(shape.upper);
        }
    }
    let normalized = normalize_name(domain).map_err(|e| format!("{domain:?}: {e}"))?;
    if !normalized.contains('.') {
        return Err(format!("{domain:?} is not a multi-label domain name"));
    }
    if normalized.starts_with('[') || normalized.parse::<IpAddr>().is_ok() {
        return Err(format!("{domain:?} is an address literal"));
    }
    Ok(trimmed.bytes().any(|b| b.is_ascii_uppercase()))
}

fn v4_mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    }
}

fn v6_mask(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix.min(128)))
    }
}

fn in_v4(client: Ipv4Addr, net: Ipv4Addr, prefix: u8) -> bool {
    let mask = v4_mask(prefix);
    u32::from(client) & mask == u32::from(net) & mask
}

fn in_v6(client: Ipv6Addr, net: Ipv6Addr, prefix: u8) -> bool {
    let mask = v6_mask(prefix);
    u128::from(client) & mask == u128::from(net) & mask
}

/// Dual-CIDR match for `a`/`mx` (§5.3, §5.4): the IPv4 length applies to IPv4 clients,
/// the IPv6 length to IPv6 clients.
fn in_net(client: IpAddr, addr: IpAddr, cidr4: Option<u8>, cidr6: Option<u8>) -> bool {
    match (client, addr) {
        (IpAddr::V4(c), IpAddr::V4(a)) => in_v4(c, a, cidr4.unwrap_or(32)),
        (IpAddr::V6(c), IpAddr::V6(a)) => in_v6(c, a, cidr6.unwrap_or(128)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reverse-path trim is `str::trim`: ASCII white space (VT too, which
    /// `u8::is_ascii_whitespace` leaves out), Unicode white space at either end (NBSP
    /// and NEL end in a byte over 0x7F) and content.
    #[test]
    fn trim_is_str_trim() {
        // Every string of up to three characters from ASCII and Unicode white space,
        // ASCII content, a byte that is not ASCII and a non-ASCII letter.
        let alphabet = [
            "", " ", "\t", "\n", "\u{b}", "\u{c}", "\r", "\u{1c}", "\u{85}", "\u{a0}", "\u{2028}",
            "\u{3000}", "\u{feff}", "a", "@", "<", "\u{e9}", "\u{7f}", "\0",
        ];
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    let s = format!("{a}{b}{c}");
                    assert_eq!(trim(&s), s.trim(), "{s:?}");
                }
            }
        }
        for s in [
            "alice@example.org",
            " <a@b.example> ",
            "a@b\u{a0}",
            "\u{2003}x@y",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    /// Both ways of finding the last '@' (short and long addresses) agree with the
    /// standard library.
    #[test]
    fn split_at_the_last_at() {
        let long = format!("{}@{}@d.example", "l".repeat(70), "m".repeat(3));
        for s in [
            "a@b",
            "a@b@c.example",
            "@x",
            "x@",
            "no-at",
            "",
            "é@ü.example",
            &long,
        ] {
            let split = last_at(s).and_then(|at| split_at(s, at));
            assert_eq!(split, s.rsplit_once('@'), "{s}");
        }
        // Every length up to 70 (word boundaries, the 64-byte switch), '@' anywhere or
        // nowhere, next to 'A' (0x41: one bit from '@', where the usual inexact
        // zero-octet formula errs), '`' (0x60), the two octets of 'À' and NUL.
        let mut next = crate::testing::xorshift(0x9e37_79b9_7f4a_7c15);
        let alphabet = ['@', 'A', '`', 'À', '\0', 'x', '?'];
        for _ in 0..20_000 {
            let len = (next() % 71) as usize;
            let s: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            assert_eq!(last_at(&s), s.rfind('@'), "{s:?}");
        }
    }

    #[test]
    fn cidr_matching() {
        let a: Ipv4Addr = "192.0.2.77".parse().unwrap();
        assert!(in_v4(a, "192.0.2.0".parse().unwrap(), 24));
        assert!(!in_v4(a, "192.0.3.0".parse().unwrap(), 24));
        assert!(in_v4(a, "10.0.0.0".parse().unwrap(), 0));
        let b: Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert!(in_v6(b, "2001:db8::".parse().unwrap(), 32));
        assert!(!in_v6(b, "2001:db9::".parse().unwrap(), 32));
        assert!(in_v6(b, "::".parse().unwrap(), 0));
    }

    #[test]
    fn subdomains() {
        assert!(is_same_or_subdomain("mx.Example.com", "example.com"));
        assert!(is_same_or_subdomain("example.com.", "example.com"));
        assert!(!is_same_or_subdomain("badexample.com", "example.com"));
    }

    #[test]
    fn rfc7208_4_3_domain_checks() {
        assert!(check_domain("example.com").is_ok());
        assert!(check_domain("example.com.").is_ok());
        assert!(check_domain("localhost").is_err());
        assert!(check_domain("a..example.com").is_err());
        assert!(check_domain("[192.0.2.1]").is_err());
        assert!(check_domain(&format!("{}.com", "a".repeat(64))).is_err());
    }

    /// The fast path of `check_domain` agrees with the full check.
    #[test]
    fn check_domain_fast_path_agrees() {
        let slow = |domain: &str| -> bool {
            normalize_name(domain).is_ok_and(|n| {
                n.contains('.') && !n.starts_with('[') && n.parse::<IpAddr>().is_err()
            })
        };
        for d in [
            "example.com",
            "Example.COM.",
            "example.com..",
            ".example.com",
            "localhost",
            "localhost.",
            "192.0.2.1",
            "192.0.2.1.",
            "2001:DB8::1",
            "[192.0.2.1]",
            "a.b.c.d.e",
            "",
            ".",
            "_spf.example.com",
        ] {
            assert_eq!(check_domain(d).is_ok(), slow(d), "{d:?}");
        }
        for long in [
            format!("{}.com", vec!["a".repeat(63); 4].join(".")),
            format!("{}.com", vec!["a".repeat(63); 3].join(".")),
            format!("{}.com", "a".repeat(63)),
            format!("{}.com", "a".repeat(64)),
            format!("example.{}", "a".repeat(63)),
            format!("example.{}", "a".repeat(64)),
            format!("example.{}.", "a".repeat(64)),
        ] {
            assert_eq!(check_domain(&long).is_ok(), slow(&long), "{long}");
        }
        // Generated names over the characters that matter (letters of both cases,
        // digits, dots, colons, brackets, a non-ASCII letter), up to 70 of them; a valid
        // name also tells whether it has uppercase letters.
        let mut next = crate::testing::xorshift(0x2545_f491_4f6c_dd1d);
        let alphabet = ['a', '1', '.', ':', '[', ']', '-', 'F', 'é'];
        for _ in 0..50_000 {
            let len = (next() % 71) as usize;
            let name: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let upper = name.bytes().any(|b| b.is_ascii_uppercase());
            assert_eq!(
                check_domain_case(&name).ok(),
                slow(&name).then_some(upper),
                "{name:?}"
            );
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// A zone that can be replaced, its answers always at hand.
    struct Changing(std::sync::Mutex<monban_dns::ZoneResolver>);

    impl Resolver for Changing {
        async fn lookup(&self, name: &str, rtype: RecordType) -> Lookup {
            self.0.lock().unwrap().lookup_now(name, rtype)
        }

        fn cached(&self, name: &str, rtype: RecordType) -> Option<Lookup> {
            Some(self.0.lock().unwrap().lookup_now(name, rtype))
        }
    }

    thread_local! {
        /// How many times this thread selected and parsed a record ([`Selected::new`]).
        pub(super) static SELECTED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// A TXT answer too large to keep its parse with it (over [`MEMO_MAX_TXT_BYTES`])
    /// is parsed once per evaluation, not once per pass: the evaluation starts again
    /// after each lookup it awaits, and parsing 64 KB records again each time made
    /// the work grow as lookups times record size (a sender's records under wildcard
    /// names keep the cache cold). Here two such records (the top one and one it
    /// includes), each with terms that need four more lookups.
    #[test]
    fn a_large_record_is_parsed_once_per_evaluation() {
        // A quoted string per 200 octets of record.
        let strings = |record: String| {
            let chars: Vec<char> = record.chars().collect();
            chars
                .chunks(200)
                .map(|c| format!("\"{}\"", c.iter().collect::<String>()))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let big = |prefix: &str, tail: &str| {
            let ips: String = (0..400)
                .map(|i| format!("ip4:10.{}.{}.1 ", i / 250, i % 250))
                .collect();
            let terms: String = (1..=4)
                .map(|i| format!("a:{prefix}{i}.s.example "))
                .collect();
            strings(format!("v=spf1 {ips}{terms}{tail}"))
        };
        let hosts: String = (1..=4)
            .map(|i| format!("h{i}.s A 192.0.2.99\ng{i}.s A 192.0.2.99\n"))
            .collect();
        let zone = crate::testing::example_zone(&format!(
            "s TXT {}\ni.s TXT {}\n{hosts}",
            big("h", "include:i.s.example -all"),
            big("g", "?all")
        ));
        let slow = Slow {
            zone,
            delay: std::time::Duration::ZERO,
            asked: std::sync::atomic::AtomicUsize::new(0),
        };
        let spf = Spf::new(&slow);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        SELECTED.with(|n| n.set(0));
        let outcome = block_on(spf.verify_mail_from(ip, "helo.example", "u@s.example", 0));
        assert_eq!(outcome.result, SpfResult::Fail, "{outcome:?}");
        let asked = slow.asked.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(asked, 2 + 8, "two TXT and eight A lookups (each awaited)");
        assert_eq!(
            SELECTED.with(std::cell::Cell::get),
            2,
            "each record parsed once"
        );
    }

    /// A zone whose every answer takes `delay` (the thread sleeps: a server that answers
    /// just before the resolver would give up), never at hand.
    struct Slow {
        zone: monban_dns::ZoneResolver,
        delay: std::time::Duration,
        asked: std::sync::atomic::AtomicUsize,
    }

    impl Resolver for Slow {
        async fn lookup(&self, name: &str, rtype: RecordType) -> Lookup {
            self.asked
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            std::thread::sleep(self.delay);
            self.zone.lookup_now(name, rtype)
        }
    }

    /// RFC 7208 §4.6.4: past its time limit an evaluation is `temperror`, however many
    /// of its lookups are still within the counts. Here ten `mx` terms of ten hosts
    /// each (about 110 lookups, all within the limits) at 20 ms an answer, under a
    /// limit of 100 ms: the evaluation stops after at most five lookups, and says why.
    #[test]
    fn rfc7208_7_3_p_prefers_each_levels_own_domain() {
        // 192.0.2.1 has two validated names, one under each domain; each domain's
        // record asks for its own name through %{p}.
        let zone = crate::testing::example_zone(
            "pa TXT \"v=spf1 exists:%{p}.x.pa.example include:pb.example -all\"\n\
             pb TXT \"v=spf1 exists:%{p}.y.pb.example -all\"\n\
             1.2.0.192.in-addr.arpa. PTR mail.pa.example.\n\
             1.2.0.192.in-addr.arpa. PTR mail.pb.example.\n\
             mail.pa A 192.0.2.1\n\
             mail.pb A 192.0.2.1\n\
             mail.pb.example.y.pb A 127.0.0.2\n",
        );
        let spf = Spf::new(&zone);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for sender in ["u@pb.example", "u@pa.example"] {
            let outcome = block_on(spf.verify_mail_from(ip, "helo.example", sender, 0));
            assert_eq!(outcome.result, SpfResult::Pass, "{sender}: {outcome:?}");
        }
        // Neither name under the domain: the first validated name.
        let zone = crate::testing::example_zone(
            "pc TXT \"v=spf1 exists:%{p}.z.pc.example -all\"\n\
             1.2.0.192.in-addr.arpa. PTR mail.pa.example.\n\
             mail.pa A 192.0.2.1\n\
             mail.pa.example.z.pc A 127.0.0.2\n",
        );
        let outcome =
            block_on(Spf::new(&zone).verify_mail_from(ip, "h.example", "u@pc.example", 0));
        assert_eq!(outcome.result, SpfResult::Pass, "{outcome:?}");
    }

    #[test]
    fn rfc7208_4_6_4_an_evaluation_past_its_time_limit_is_temperror() {
        let mut text = String::from("s TXT \"v=spf1");
        for m in 0..10 {
            text.push_str(&format!(" mx:m{m}.s.example"));
        }
        text.push_str(" -all\"\n");
        for m in 0..10 {
            for h in 0..10 {
                text.push_str(&format!(
                    "m{m}.s MX {h} h{h}.m{m}.s.example.\nh{h}.m{m}.s A 198.51.100.{h}\n"
                ));
            }
        }
        let slow = Slow {
            zone: crate::testing::example_zone(&text),
            delay: std::time::Duration::from_millis(20),
            asked: Default::default(),
        };
        let config = SpfConfig {
            time_limit: std::time::Duration::from_millis(100),
            ..SpfConfig::default()
        };
        let spf = Spf::with_config(&slow, config);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let outcome = block_on(spf.verify_mail_from(ip, "helo.example", "u@s.example", 0));
        assert_eq!(outcome.result, SpfResult::Temperror, "{outcome:?}");
        assert!(
            outcome.cause.to_string().contains("time limit of 0.1 s"),
            "{}",
            outcome.cause
        );
        // Each answer takes at least 20 ms, so the limit has passed after the fifth.
        let asked = slow.asked.load(std::sync::atomic::Ordering::Relaxed);
        // (No lower bound: a loaded machine may spend the 100 ms before the first.)
        assert!(asked <= 5, "{asked} lookups");
        // With the default limit the same policy, answered at once, is evaluated to its
        // end.
        let quick = Slow {
            delay: std::time::Duration::ZERO,
            ..slow
        };
        let full = Spf::new(&quick);
        let outcome = block_on(full.verify_mail_from(ip, "helo.example", "u@s.example", 0));
        assert_eq!(outcome.result, SpfResult::Fail, "{outcome:?}");
    }

    /// A term's answer kept with its parsed record ([`Link`]) is served only while the
    /// cache's entry for it lives: once its TTL is over, the record (still cached,
    /// with a longer TTL) gets the new answer, for each kind of kept lookup.
    #[test]
    fn kept_term_answers_expire_with_their_cache_entries() {
        // The addresses of h (a:), x (the exchange of mx:) and r (redirect='s a).
        let zone = |h: &str, x: &str, r: &str| {
            crate::testing::example_zone(&format!(
                r#"
s            TXT "v=spf1 a:h.s.example mx:m.s.example exists:e.s.example include:i.s.example redirect=r.s.example"
i.s          TXT "v=spf1 ip4:203.0.113.7 -all"
r.s          TXT "v=spf1 a -all"
r.s   60     A   {r}
h.s   60     A   {h}
m.s          MX  10 x.s.example.
x.s   60     A   {x}
"#
            ))
        };
        let (old, new) = ("192.0.2.1", "192.0.2.2");
        let now = Arc::new(std::sync::Mutex::new(std::time::Instant::now()));
        let clock = now.clone();
        let changing = Arc::new(Changing(std::sync::Mutex::new(zone(old, old, old))));
        let spf = Spf::new(
            monban_dns::CachingResolver::new(changing.clone())
                .with_clock(move || *clock.lock().unwrap()),
        );
        let result = |ip: &str| {
            let ip: IpAddr = ip.parse().unwrap();
            block_on(spf.verify_mail_from(ip, "helo.example", "u@s.example", 0)).result
        };
        // Three passes: the cache fills, then the links, then they serve.
        for _ in 0..3 {
            assert_eq!(result(old), SpfResult::Pass);
            assert_eq!(result(new), SpfResult::Fail);
        }
        let hits = spf.resolver().stats().hits;
        assert_eq!(result(old), SpfResult::Pass);
        assert_eq!(
            spf.resolver().stats().hits - hits,
            1,
            "only the first TXT lookup goes to the cache; a:'s answer comes from its link"
        );
        // One host at a time moves to an address never seen before and its 60 s pass
        // (the TXT answers, 3600 s, stay): that address passes, which it can only do
        // through the new answer of the term that names the host.
        let moved = ["198.51.100.10", "198.51.100.11", "198.51.100.12"];
        for k in 0..3 {
            let at = |j: usize| if j <= k { moved[j] } else { old };
            *changing.0.lock().unwrap() = zone(at(0), at(1), at(2));
            *now.lock().unwrap() += std::time::Duration::from_secs(61);
            assert_eq!(result(moved[k]), SpfResult::Pass, "host {k}");
        }
        // Every host moved: the old address fails.
        assert_eq!(result(old), SpfResult::Fail);
        assert_eq!(result(new), SpfResult::Fail);
        // More moves than a link has generations: past them the cache answers, and
        // still the new address passes and the one before fails.
        let mut before = moved[0].to_owned();
        for round in 0..LINK_GENERATIONS + 3 {
            let addr = format!("198.51.100.{}", 100 + round);
            *changing.0.lock().unwrap() = zone(&addr, moved[1], moved[2]);
            *now.lock().unwrap() += std::time::Duration::from_secs(61);
            for _ in 0..2 {
                assert_eq!(result(&addr), SpfResult::Pass, "round {round}");
                assert_eq!(result(&before), SpfResult::Fail, "round {round}");
            }
            before = addr;
        }
    }

    /// Links hold answers weakly: two records that include each other (each parsed
    /// record linked to the other's answer) are freed with the cache.
    #[test]
    fn kept_term_answers_do_not_keep_answers_alive() {
        let zone = crate::testing::example_zone(
            r#"
a            TXT "v=spf1 include:b.example a:h.example -all"
b            TXT "v=spf1 include:a.example -all"
h            A   192.0.2.1
"#,
        );
        let spf = Spf::new(monban_dns::CachingResolver::new(zone));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            let out = block_on(spf.verify_mail_from(ip, "helo.example", "u@a.example", 0));
            // The loop a -> b -> a runs into the lookup limit.
            assert_eq!(out.result, SpfResult::Permerror, "{:?}", out.cause);
        }
        let answer = |name: &str| match spf.resolver().cached(name, RecordType::Txt) {
            Some(Ok(answer)) => Arc::downgrade(&answer),
            other => panic!("{name}: {other:?}"),
        };
        let (a, b) = (answer("a.example"), answer("b.example"));
        assert!(a.upgrade().is_some() && b.upgrade().is_some());
        drop(spf);
        assert!(
            a.upgrade().is_none(),
            "a.example's answer outlived its cache"
        );
        assert!(
            b.upgrade().is_none(),
            "b.example's answer outlived its cache"
        );
    }

    /// Records parsed once and kept with the cached answer give the same outcomes as
    /// records parsed every time; without a cache nothing is kept.
    #[test]
    fn parsed_records_kept_with_cached_answers() {
        let zone = crate::testing::example_zone(
            r#"
a            TXT "v=spf1 ip4:192.0.2.0/24 include:_spf.a.example -all"
_spf.a       TXT "v=spf1 ip6:2001:db8::/32 a:h.a.example/30 ~all"
h.a          A   198.51.100.1
h.a          AAAA 2001:db8:1::1
r            TXT "v=spf1 mx:a.example redirect=_spf.r.example"
_spf.r       TXT "v=spf1 exists:%{ir}.%{v}.%{L}._x.%{d2} -all exp=why.r.example"
why.r        TXT "%{i} is not one of %{d}'s hosts (%{l1r-})"
a            MX  10 h.a.example.
50.2.0.192.in-addr.user._x.example A 127.0.0.2
bad          TXT "v=spf1 ip4:192.0.2.300 -all"
two          TXT "v=spf1 -all"
two          TXT "v=spf1 +all"
none         TXT "not spf"
"#,
        );
        let plain = Spf::new(&zone);
        let cached = Spf::new(monban_dns::CachingResolver::new(zone.clone()));
        let cases = [
            ("192.0.2.9", "u@a.example"),
            ("198.51.100.2", "u@a.example"),
            ("198.51.100.9", "u@a.example"),
            ("2001:db8:5::1", "u@a.example"),
            ("2001:db9::1", "u@a.example"),
            ("192.0.2.50", "user@r.example"),
            ("192.0.2.51", "first.last@r.example"),
            ("198.51.100.1", "user@r.example"),
            ("192.0.2.1", "u@bad.example"),
            ("192.0.2.1", "u@two.example"),
            ("192.0.2.1", "u@none.example"),
            ("192.0.2.1", "u@missing.example"),
        ];
        block_on(async {
            for (ip, from) in cases {
                let ip: IpAddr = ip.parse().unwrap();
                let want = plain.verify_mail_from(ip, "helo.example", from, 0).await;
                for _ in 0..3 {
                    let got = cached.verify_mail_from(ip, "helo.example", from, 0).await;
                    assert_eq!(got, want, "{ip} {from}");
                }
            }
        });
        // Each TXT answer the cache holds carries its parsed record.
        for name in [
            "a.example",
            "_spf.a.example",
            "r.example",
            "_spf.r.example",
            "bad.example",
            "two.example",
            "none.example",
        ] {
            let answer = cached
                .resolver()
                .cached(name, RecordType::Txt)
                .unwrap()
                .unwrap();
            assert!(!answer.memo.is_empty(), "{name}");
        }
    }

    /// The outcome's names borrow from the strings given when the checked domain is a
    /// part of the sender (a MAIL FROM's, with or without a trailing dot, answered at
    /// once or after lookups); they are copied when the domain had to be lowercased or
    /// the sender made up (`postmaster@` of a null reverse-path or of a HELO check), and
    /// read the same either way.
    #[test]
    fn names_borrow_when_the_domain_is_the_senders() {
        let zone = crate::testing::example_zone("a TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n");
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        let cached = Spf::new(monban_dns::CachingResolver::new(zone.clone()));
        let awaited = Spf::new(&zone);
        for (from, domain, sender, borrowed) in [
            ("u@a.example", "a.example", "u@a.example", true),
            ("<u@a.example.>", "a.example", "u@a.example.", true),
            ("a.example", "a.example", "a.example", true),
            ("u@A.example", "a.example", "u@A.example", false),
            ("", "h.example", "postmaster@h.example", false),
        ] {
            let outcomes = [
                block_on(cached.verify_mail_from(ip, "h.example", from, 0)),
                block_on(cached.verify_mail_from(ip, "h.example", from, 0)),
                block_on(awaited.verify_mail_from(ip, "h.example", from, 0)),
            ];
            for o in outcomes {
                assert_eq!(o.names.is_borrowed(), borrowed, "{from:?}");
                assert_eq!(
                    (o.domain(), o.sender(), o.helo()),
                    (domain, sender, "h.example")
                );
                let owned = o.clone().into_owned();
                assert!(!owned.names.is_borrowed());
                assert_eq!(owned, o);
            }
        }
        // The outcome borrows the names only: it outlives an `Spf` made for the call.
        let from = String::from("u@a.example");
        let kept = block_on(Spf::new(&zone).verify_mail_from(ip, "h.example", &from, 0));
        assert!(kept.names.is_borrowed());
        assert_eq!(kept.result, SpfResult::Pass);
        let helo = block_on(cached.verify_helo(ip, "h.example", 0));
        assert!(!helo.names.is_borrowed());
        assert_eq!(
            (helo.domain(), helo.sender()),
            ("h.example", "postmaster@h.example")
        );
    }

    /// The matched directive and the record it was in, as written, whether the record
    /// is kept with a cached answer, parsed afresh, or kept with an answer another
    /// consumer's memo holds; after `redirect=` the record is the target's.
    #[test]
    fn matched_directive_and_domain_named_as_written() {
        let zone = crate::testing::example_zone(
            r#"
a            TXT "v=spf1 ip4:192.0.2.0/24 ?ip6:2001:db8::/32 -all"
r            TXT "v=spf1 redirect=_SPF.R.example."
_spf.r       TXT "v=spf1 ip4:198.51.100.0/24 ~all"
"#,
        );
        let cases = [
            (
                "192.0.2.9",
                "u@a.example",
                "ip4:192.0.2.0/24",
                "a.example",
                "a.example",
            ),
            (
                "2001:db8::1",
                "u@A.Example.",
                "?ip6:2001:db8::/32",
                "a.example",
                "a.example",
            ),
            ("10.0.0.1", "u@a.example", "-all", "a.example", "a.example"),
            (
                "198.51.100.5",
                "u@r.example",
                "ip4:198.51.100.0/24",
                "_spf.r.example",
                "r.example",
            ),
            (
                "10.0.0.1",
                "u@r.example",
                "~all",
                "_spf.r.example",
                "r.example",
            ),
        ];
        let plain = Spf::new(&zone);
        let cached = Spf::new(monban_dns::CachingResolver::new(zone.clone()));
        for (ip, from, mechanism, record_of, checked) in cases {
            let ip: IpAddr = ip.parse().unwrap();
            for o in [
                block_on(plain.verify_mail_from(ip, "h.example", from, 0)),
                block_on(cached.verify_mail_from(ip, "h.example", from, 0)),
                block_on(cached.verify_mail_from(ip, "h.example", from, 0)),
            ] {
                let SpfCause::Matched(m) = &o.cause else {
                    panic!("{ip} {from}: {:?}", o.cause);
                };
                assert_eq!(
                    (m.mechanism(), m.domain()),
                    (mechanism, record_of),
                    "{ip} {from}"
                );
                assert_eq!(o.domain(), checked);
                assert_eq!(*m, SpfMatch::new(mechanism, record_of));
                assert_ne!(*m, SpfMatch::new(mechanism, "other.example"));
                assert_eq!(
                    o.cause.to_string(),
                    format!("matched {mechanism} in the record of {record_of}")
                );
                // A clone names the same, after the cache is gone too.
                let kept = o.cause.clone();
                assert_eq!(kept, o.cause);
            }
        }

        // One answer served for every name (as a resolver may for a wildcard): the
        // record is named by the name it was asked by, not the first one.
        struct Same(Lookup);
        impl Resolver for Same {
            async fn lookup(&self, name: &str, rtype: RecordType) -> Lookup {
                self.cached(name, rtype).unwrap()
            }
            fn cached(&self, name: &str, rtype: RecordType) -> Option<Lookup> {
                Some(match rtype {
                    RecordType::Txt => self.0.clone(),
                    _ => Err(LookupError::NoData {
                        name: name.to_owned(),
                        rtype,
                        ttl: 60,
                    }),
                })
            }
        }
        let answer = Arc::new(Answer::new(
            vec![Record::Txt(monban_dns::Txt::new([
                b"v=spf1 ip4:192.0.2.0/24 -all".as_slice(),
            ]))],
            60,
        ));
        let same = Spf::new(Same(Ok(answer.clone())));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for from in ["u@one.example", "u@two.example", "u@one.example"] {
            let o = block_on(same.verify_mail_from(ip, "h.example", from, 0));
            let domain = from.split('@').nth(1).unwrap();
            assert_eq!(
                o.cause,
                SpfCause::Matched(SpfMatch::new("ip4:192.0.2.0/24", domain))
            );
            assert_eq!(o.domain(), domain);
        }

        // Another consumer's memo on the answer: the record is parsed for each check,
        // and the match is given as text.
        let foreign = Arc::new(Answer::new(answer.records.clone(), 60));
        assert_eq!(foreign.memo.get_or_init(|| 7u8), Some(&7));
        let other = Spf::new(Same(Ok(foreign)));
        let o = block_on(other.verify_mail_from(ip, "h.example", "u@x.example", 0));
        assert_eq!(
            o.cause,
            SpfCause::Matched(SpfMatch::new("ip4:192.0.2.0/24", "x.example"))
        );
        assert_eq!(o.result, SpfResult::Pass);
    }
}
