//! Sender Policy Framework, RFC 7208.
//!
//! - [`record`]: the record syntax (§4.5, §4.6, §5, §6, §12), parse and format;
//! - [`macros`]: macro expansion (§7);
//! - [`eval`]: the `check_host()` function (§4) with the processing limits of §4.6.4;
//! - [`received`]: the `Received-SPF` header (§9.1).
//!
//! The entry points are [`Spf::verify_mail_from`] and [`Spf::verify_helo`], which apply
//! §2.3 and §2.4 to pick the identity, then run `check_host()`.

pub mod eval;
pub mod macros;
pub mod received;
pub mod record;

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

pub use eval::{RecordScope, Spf, SpfConfig, SpfFuture, SpfMatch};
pub use record::{SpfRecord, SyntaxError};

use monban_dns::LookupError;

/// The result of an SPF evaluation, named as RFC 7208 §2.6 names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SpfResult {
    /// No SPF record, or no valid domain to check (§2.6.1).
    None,
    /// The domain owner makes no assertion about the client (§2.6.2).
    Neutral,
    /// The client is authorized (§2.6.3).
    Pass,
    /// The client is not authorized (§2.6.4).
    Fail,
    /// Probably not authorized (§2.6.5).
    Softfail,
    /// A transient DNS error (§2.6.6).
    Temperror,
    /// The published records could not be interpreted (§2.6.7).
    Permerror,
}

impl SpfResult {
    /// The name used in `Received-SPF` and `Authentication-Results` (lowercase).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Neutral => "neutral",
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Softfail => "softfail",
            Self::Temperror => "temperror",
            Self::Permerror => "permerror",
        }
    }

    /// Parses a result name, case-insensitively.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "none" => Self::None,
            "neutral" => Self::Neutral,
            "pass" => Self::Pass,
            "fail" => Self::Fail,
            "softfail" => Self::Softfail,
            "temperror" => Self::Temperror,
            "permerror" => Self::Permerror,
            _ => return None,
        })
    }
}

impl fmt::Display for SpfResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which identity was checked (§2.3, §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpfIdentity {
    /// The MAIL FROM reverse-path (or `postmaster@<helo>` for a null reverse-path).
    MailFrom,
    /// The HELO/EHLO domain.
    Helo,
    /// Sender ID's Purported Responsible Address (RFC 4407), a header address.
    Pra,
}

impl SpfIdentity {
    /// The `identity=` value of `Received-SPF` (§9.1).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MailFrom => "mailfrom",
            Self::Helo => "helo",
            Self::Pra => "pra",
        }
    }
}

/// Why the result is what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpfCause {
    /// A directive matched: which one, in the record of which domain
    /// ([`SpfMatch::mechanism`], [`SpfMatch::domain`]).
    Matched(SpfMatch),
    /// No directive matched and there was no `redirect=` (§4.7).
    NoMatch,
    /// The domain has no SPF record (§4.5), or does not exist (§4.3).
    NoRecord,
    /// Sender ID only: the domain checked does not exist (NXDOMAIN), which RFC 4406
    /// makes a `fail` where SPF says `none`.
    NoSuchDomain,
    /// The domain is not a valid multi-label name (§4.3), or the HELO was an address.
    InvalidDomain(String),
    /// More than one SPF record (§4.5).
    MultipleRecords,
    /// The record does not parse (§4.6).
    Syntax(SyntaxError),
    /// More than 10 DNS-querying terms (§4.6.4).
    LookupLimit,
    /// More than 2 void lookups (§4.6.4).
    VoidLookupLimit,
    /// An `mx` mechanism returned more than 10 MX records (§4.6.4).
    MxLimit(String),
    /// An `include:` target has no SPF record (§5.2).
    IncludeNone(String),
    /// A `redirect=` target has no SPF record (§6.1).
    RedirectNone(String),
    /// A DNS failure (§2.6.6). Boxed: the outcome stays small to move.
    Dns(Box<LookupError>),
    /// A macro expanded to something that cannot be used (§7).
    Macro(String),
}

impl fmt::Display for SpfCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Matched(m) => {
                write!(
                    f,
                    "matched {} in the record of {}",
                    m.mechanism(),
                    m.domain()
                )
            }
            Self::NoMatch => f.write_str("no mechanism matched"),
            Self::NoRecord => f.write_str("no SPF record"),
            Self::NoSuchDomain => f.write_str("the domain does not exist"),
            Self::InvalidDomain(why) => write!(f, "not a domain SPF can check: {why}"),
            Self::MultipleRecords => f.write_str("more than one SPF record"),
            Self::Syntax(e) => e.fmt(f),
            Self::LookupLimit => {
                f.write_str("more than 10 DNS-querying mechanisms (RFC 7208 4.6.4)")
            }
            Self::VoidLookupLimit => f.write_str("more than 2 void DNS lookups (RFC 7208 4.6.4)"),
            Self::MxLimit(d) => write!(f, "{d} has more than 10 MX records (RFC 7208 4.6.4)"),
            Self::IncludeNone(d) => write!(f, "included domain {d} has no SPF record"),
            Self::RedirectNone(d) => write!(f, "redirect target {d} has no SPF record"),
            Self::Dns(e) => e.fmt(f),
            Self::Macro(m) => write!(f, "macro expansion failed: {m}"),
        }
    }
}

/// The outcome of one SPF evaluation. Its names borrow from the strings the check was
/// given, when they can ([`SpfNames`]): a check answered from a warm cache allocates
/// nothing. [`Self::into_owned`] makes one that outlives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfOutcome<'a> {
    /// The result.
    pub result: SpfResult,
    /// Why.
    pub cause: SpfCause,
    /// Which identity was checked.
    pub identity: SpfIdentity,
    /// The domain `check_host()` started with, its `<sender>` argument and the HELO
    /// name given ([`Self::domain`], [`Self::sender`], [`Self::helo`]).
    pub names: SpfNames<'a>,
    /// The client address, as evaluated (IPv4-mapped IPv6 addresses become IPv4).
    pub ip: IpAddr,
    /// The `exp=` explanation (§6.2), present only for `fail` with a usable `exp=`.
    pub explanation: Option<Arc<str>>,
    /// How many DNS-querying terms were evaluated (§4.6.4; saturates at 65,535).
    pub dns_lookups: u16,
    /// How many of the lookups were void (§4.6.4; saturates at 65,535).
    pub void_lookups: u16,
}

impl SpfOutcome<'_> {
    /// The domain `check_host()` started with (lowercase, no trailing dot).
    pub fn domain(&self) -> &str {
        self.names.domain()
    }

    /// The `<sender>` argument of `check_host()`.
    pub fn sender(&self) -> &str {
        self.names.sender()
    }

    /// The HELO name given.
    pub fn helo(&self) -> &str {
        self.names.helo()
    }

    /// The same outcome, its names copied: one that outlives the strings the check was
    /// given (kept in a report, sent to another task).
    pub fn into_owned(self) -> SpfOutcome<'static> {
        SpfOutcome {
            result: self.result,
            cause: self.cause,
            identity: self.identity,
            names: self.names.into_owned(),
            ip: self.ip,
            explanation: self.explanation,
            dns_lookups: self.dns_lookups,
            void_lookups: self.void_lookups,
        }
    }
}

/// The names of a check: the domain checked, the `<sender>` argument and the HELO name.
///
/// An outcome is built for every check; an allocation for its names measured about a
/// sixth of a check answered from a warm cache. So they borrow from the strings the
/// check was given when the domain is part of the sender, as the domain of a MAIL FROM
/// is: no copy. Otherwise (a domain lowercased, the `postmaster@` sender of a null
/// reverse-path or of a HELO check) the three are copied into one allocation.
#[derive(Clone)]
pub struct SpfNames<'a>(Names<'a>);

#[derive(Clone)]
enum Names<'a> {
    /// The domain is `sender[domain_at..domain_at + domain_len]`.
    Borrowed {
        sender: &'a str,
        helo: &'a str,
        domain_at: u32,
        domain_len: u32,
    },
    /// The sender, the HELO name, then the domain.
    Owned {
        text: Box<str>,
        helo_at: usize,
        domain_at: usize,
    },
}

impl<'a> SpfNames<'a> {
    /// The three names, borrowed when `domain` is a part of `sender` (the same memory),
    /// else copied ([`Self::new`]).
    pub fn borrowed(domain: &'a str, sender: &'a str, helo: &'a str) -> Self {
        // Where `domain` starts in `sender`, by address; the slice found there is
        // compared with it, so that only the same bytes are ever taken for it.
        let found = (domain.as_ptr() as usize)
            .checked_sub(sender.as_ptr() as usize)
            .filter(|&at| {
                at.checked_add(domain.len())
                    .and_then(|end| sender.get(at..end))
                    .is_some_and(|d| std::ptr::eq(d, domain))
            })
            .and_then(|at| Some((u32::try_from(at).ok()?, u32::try_from(domain.len()).ok()?)));
        match found {
            Some((domain_at, domain_len)) => Self(Names::Borrowed {
                sender,
                helo,
                domain_at,
                domain_len,
            }),
            None => SpfNames::new(domain, sender, helo),
        }
    }

    /// The three names, copied once (into one allocation).
    pub fn new(domain: &str, sender: &str, helo: &str) -> SpfNames<'static> {
        // Exactly the capacity needed: the boxed string keeps this allocation.
        let mut text = String::with_capacity(sender.len() + helo.len() + domain.len());
        text.push_str(sender);
        text.push_str(helo);
        text.push_str(domain);
        SpfNames(Names::Owned {
            text: text.into_boxed_str(),
            helo_at: sender.len(),
            domain_at: sender.len() + helo.len(),
        })
    }

    /// The same names, copied when they were borrowed.
    pub fn into_owned(self) -> SpfNames<'static> {
        match self.0 {
            Names::Owned {
                text,
                helo_at,
                domain_at,
            } => SpfNames(Names::Owned {
                text,
                helo_at,
                domain_at,
            }),
            Names::Borrowed { .. } => SpfNames::new(self.domain(), self.sender(), self.helo()),
        }
    }

    /// The domain checked.
    pub fn domain(&self) -> &str {
        match &self.0 {
            Names::Borrowed {
                sender,
                domain_at,
                domain_len,
                ..
            } => {
                let at = *domain_at as usize;
                sender
                    .get(at..at + *domain_len as usize)
                    .unwrap_or_default()
            }
            Names::Owned {
                text, domain_at, ..
            } => text.get(*domain_at..).unwrap_or_default(),
        }
    }

    /// The `<sender>` argument.
    pub fn sender(&self) -> &str {
        match &self.0 {
            Names::Borrowed { sender, .. } => sender,
            Names::Owned { text, helo_at, .. } => text.get(..*helo_at).unwrap_or_default(),
        }
    }

    /// The HELO name.
    pub fn helo(&self) -> &str {
        match &self.0 {
            Names::Borrowed { helo, .. } => helo,
            Names::Owned {
                text,
                helo_at,
                domain_at,
            } => text.get(*helo_at..*domain_at).unwrap_or_default(),
        }
    }

    /// Whether the names are borrowed (no copy was made).
    pub fn is_borrowed(&self) -> bool {
        matches!(self.0, Names::Borrowed { .. })
    }
}

/// Names are equal when they read the same, borrowed or copied.
impl PartialEq for SpfNames<'_> {
    fn eq(&self, other: &Self) -> bool {
        (self.domain(), self.sender(), self.helo())
            == (other.domain(), other.sender(), other.helo())
    }
}

impl Eq for SpfNames<'_> {}

impl fmt::Debug for SpfNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpfNames")
            .field("domain", &self.domain())
            .field("sender", &self.sender())
            .field("helo", &self.helo())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_names_share_one_string() {
        for (domain, sender, helo) in [
            ("example.com", "alice@example.com", "mx.example.net"),
            ("", "", ""),
            ("héllo.example", "postmaster@héllo.example", "héllo.example"),
            ("x.example", &*"a".repeat(300), ""),
            ("", "b@", "h"),
        ] {
            let n = super::SpfNames::new(domain, sender, helo);
            assert_eq!((n.domain(), n.sender(), n.helo()), (domain, sender, helo));
            assert!(!n.is_borrowed());
        }
    }

    /// The reason of an invalid domain reads as one sentence: the wrapped reason
    /// already names the domain, quoted (it was quoted a second time).
    #[test]
    fn an_invalid_domain_is_quoted_once() {
        let why =
            super::SpfCause::InvalidDomain("\"example\" is not a multi-label domain name".into());
        assert_eq!(
            why.to_string(),
            "not a domain SPF can check: \"example\" is not a multi-label domain name"
        );
    }

    /// Names borrow when the domain is a part of the sender, in its memory; anything
    /// else (a domain equal to a part of the sender but elsewhere, or not in it) is
    /// copied. Either reads back as given, and compares equal to the other.
    #[test]
    fn the_names_borrow_a_domain_in_the_sender() {
        use super::SpfNames;
        let sender = "alice@Example.COM";
        let elsewhere = String::from("Example.COM");
        for (domain, borrowed) in [
            (&sender[6..], true),
            (&sender[6..13], true),
            (&sender[..0], true),
            (&sender[17..], true),
            (&sender[..5], true),
            (elsewhere.as_str(), false),
            ("example.com", false),
        ] {
            let n = SpfNames::borrowed(domain, sender, "mx.example");
            assert_eq!(n.is_borrowed(), borrowed, "{domain:?}");
            assert_eq!(
                (n.domain(), n.sender(), n.helo()),
                (domain, sender, "mx.example")
            );
            let owned = n.clone().into_owned();
            assert!(!owned.is_borrowed());
            assert_eq!(owned, n);
        }
    }

    /// An outcome holds an answer of the DNS cache (the matched directive's record):
    /// it must stay unwind-safe, as it was when it held copies.
    #[test]
    fn the_outcome_is_unwind_safe() {
        fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
        unwind_safe::<super::SpfOutcome<'static>>();
        unwind_safe::<super::SpfCause>();
    }

    /// Moved through every layer of a check (the evaluator, the future, the caller's
    /// await): at 128 bytes or less the compiler moves it inline, beyond that it calls
    /// `memcpy`, which measured a fifth of a cached first-mechanism check.
    #[test]
    fn the_outcome_stays_small_to_move() {
        assert!(std::mem::size_of::<super::SpfOutcome<'static>>() <= 128);
        assert!(std::mem::size_of::<super::SpfFuture<'static, 'static>>() <= 128);
    }
}
