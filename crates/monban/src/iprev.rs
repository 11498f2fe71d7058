//! iprev (RFC 8601 §3): forward-confirmed reverse DNS of the SMTP client. The client's
//! PTR names are looked up (at most [`MAX_PTR_NAMES`], as SPF's `ptr` takes them), and
//! each is resolved for the client's address family until one gives the client's
//! address back.
//!
//! The PTR lookup is the one SPF's `ptr` mechanism and `%{p}` macro use
//! ([`ptr_names`]); SPF counts its lookups on top of it.

use std::fmt;
use std::net::IpAddr;

use monban_dns::{Answer, LookupError, Record, RecordType, Resolver, reverse_name};

/// The most PTR names followed (RFC 7208 §4.6.4's limit for `ptr`, which RFC 8601 §3
/// leaves to the implementation).
pub const MAX_PTR_NAMES: usize = 10;

/// The iprev result (RFC 8601 §2.7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IprevResult {
    /// No client address to check.
    None,
    /// A PTR name resolves back to the client's address.
    Pass,
    /// No PTR name resolves back to the address, or one names no address of its
    /// family (RFC 8601 §2.7.3 `fail`).
    Fail,
    /// A DNS failure kept the check from concluding.
    Temperror,
    /// No PTR data are published for the address, or the reverse DNS answer is
    /// unusable (RFC 8601 §2.7.3 `permerror`).
    Permerror,
}

impl IprevResult {
    /// The RFC 8601 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Temperror => "temperror",
            Self::Permerror => "permerror",
        }
    }
}

impl fmt::Display for IprevResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why iprev did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IprevReason {
    /// The address has no PTR record.
    NoPtr,
    /// No PTR name resolves back to the address.
    NotConfirmed {
        /// How many names were tried.
        tried: usize,
    },
    /// A DNS failure (the PTR lookup, or a forward lookup when no name confirmed).
    Dns(LookupError),
}

impl fmt::Display for IprevReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoPtr => f.write_str("the address has no reverse DNS name"),
            Self::NotConfirmed { tried } => write!(
                f,
                "none of the {tried} reverse DNS name(s) resolves back to the address"
            ),
            Self::Dns(e) => write!(f, "DNS failure: {e}"),
        }
    }
}

/// The outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IprevOutcome {
    /// The result.
    pub result: IprevResult,
    /// The client address.
    pub ip: Option<IpAddr>,
    /// The PTR names that resolve back to the address (on `pass`).
    pub names: Vec<String>,
    /// Why, when not a pass.
    pub reason: Option<IprevReason>,
}

impl IprevOutcome {
    /// No client address.
    pub fn none() -> Self {
        Self {
            result: IprevResult::None,
            ip: None,
            names: Vec::new(),
            reason: None,
        }
    }

    /// The reason as text.
    pub fn reason_text(&self) -> Option<String> {
        self.reason.as_ref().map(ToString::to_string)
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
pub(crate) fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The first `max` PTR names of `ip`: the one reverse lookup of iprev and of SPF's
/// `ptr` and `%{p}` (RFC 7208 §5.5, §4.6.4).
pub async fn ptr_names<R: Resolver>(
    resolver: &R,
    ip: IpAddr,
    max: usize,
) -> Result<Vec<String>, LookupError> {
    let answer = resolver
        .lookup(&reverse_name(unmapped(ip)), RecordType::Ptr)
        .await?;
    Ok(ptr_names_of(&answer, max))
}

/// The first `max` names of a PTR answer.
pub(crate) fn ptr_names_of(answer: &Answer, max: usize) -> Vec<String> {
    answer
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Ptr(n) => Some(n.clone()),
            _ => None,
        })
        .take(max)
        .collect()
}

/// Checks iprev for `ip`: each PTR name, in order, resolved for the client's family,
/// until one gives `ip` back.
pub async fn check<R: Resolver>(resolver: &R, ip: IpAddr) -> IprevOutcome {
    let ip = unmapped(ip);
    let out = |result, names, reason| IprevOutcome {
        result,
        ip: Some(ip),
        names,
        reason,
    };
    let names = match ptr_names(resolver, ip, MAX_PTR_NAMES).await {
        // RFC 8601 §2.7.3: "permerror: The DNS evaluation could not be completed
        // because no PTR data are published for the connecting IP address."
        Ok(n) if n.is_empty() => {
            return out(IprevResult::Permerror, Vec::new(), Some(IprevReason::NoPtr));
        }
        Ok(n) => n,
        Err(e) if e.is_empty_answer() => {
            return out(IprevResult::Permerror, Vec::new(), Some(IprevReason::NoPtr));
        }
        Err(e) if e.is_temporary() => {
            return out(
                IprevResult::Temperror,
                Vec::new(),
                Some(IprevReason::Dns(e)),
            );
        }
        Err(e) => {
            return out(
                IprevResult::Permerror,
                Vec::new(),
                Some(IprevReason::Dns(e)),
            );
        }
    };
    let rtype = match ip {
        IpAddr::V4(_) => RecordType::A,
        IpAddr::V6(_) => RecordType::Aaaa,
    };
    let mut temporary = None;
    let mut confirmed = Vec::new();
    // The names' lookups at once: one after another, ten names that never answer
    // took ten timeouts (a minute and more), holding a milter's worker meanwhile.
    let lookups = crate::pipeline::join_all(
        names
            .iter()
            .map(|name| Box::pin(resolver.lookup(name, rtype)))
            .collect(),
    )
    .await;
    for (name, lookup) in names.iter().zip(lookups) {
        match lookup {
            Ok(answer) => {
                let back = answer.records.iter().any(|r| match r {
                    Record::A(a) => IpAddr::V4(*a) == ip,
                    Record::Aaaa(a) => IpAddr::V6(*a) == ip,
                    _ => false,
                });
                if back {
                    confirmed.push(name.trim_end_matches('.').to_ascii_lowercase());
                }
            }
            Err(e) if e.is_temporary() => temporary = temporary.or(Some(e)),
            Err(_) => {}
        }
    }
    if !confirmed.is_empty() {
        return out(IprevResult::Pass, confirmed, None);
    }
    match temporary {
        Some(e) => out(
            IprevResult::Temperror,
            Vec::new(),
            Some(IprevReason::Dns(e)),
        ),
        None => out(
            IprevResult::Fail,
            Vec::new(),
            Some(IprevReason::NotConfirmed { tried: names.len() }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use monban_dns::ZoneResolver;

    fn run(zone: &str, ip: &str) -> IprevOutcome {
        let z = ZoneResolver::parse(zone, "z", None).unwrap();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(check(&z, ip.parse().unwrap()))
    }

    /// The names' forward lookups are made at once, not one after another: here each
    /// answers only once all of them have been asked (ten names that never answered
    /// took ten DNS timeouts in a row). One after another, the first would wait for
    /// ever; the test gives up after 10 s.
    #[test]
    fn the_names_are_looked_up_at_once() {
        use std::sync::Mutex;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::task::{Poll, Waker};
        struct AllAtOnce {
            zone: ZoneResolver,
            names: usize,
            asked: AtomicUsize,
            waiting: Mutex<Vec<Waker>>,
        }
        impl Resolver for AllAtOnce {
            async fn lookup(&self, name: &str, rtype: RecordType) -> monban_dns::Lookup {
                if rtype != RecordType::Ptr {
                    let mut counted = false;
                    std::future::poll_fn(|cx| {
                        if !counted {
                            counted = true;
                            self.asked.fetch_add(1, Ordering::SeqCst);
                        }
                        let mut waiting = self.waiting.lock().unwrap();
                        if self.asked.load(Ordering::SeqCst) >= self.names {
                            waiting.drain(..).for_each(Waker::wake);
                            Poll::Ready(())
                        } else {
                            waiting.push(cx.waker().clone());
                            Poll::Pending
                        }
                    })
                    .await;
                }
                self.zone.lookup_now(name, rtype)
            }
        }
        let mut zone = String::new();
        for i in 0..MAX_PTR_NAMES {
            zone.push_str(&format!("25.2.0.192.in-addr.arpa. PTR n{i}.example.com.\n"));
            zone.push_str(&format!(
                "n{i}.example.com. A 192.0.2.{}\n",
                if i == 9 { 25 } else { 99 }
            ));
        }
        let resolver = AllAtOnce {
            zone: ZoneResolver::parse(&zone, "z", None).unwrap(),
            names: MAX_PTR_NAMES,
            asked: AtomicUsize::new(0),
            waiting: Mutex::new(Vec::new()),
        };
        let o = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(async {
                tokio::time::timeout(
                    std::time::Duration::from_secs(10),
                    check(&resolver, "192.0.2.25".parse().unwrap()),
                )
                .await
            })
            .expect("the lookups were made one after another");
        assert_eq!(o.result, IprevResult::Pass);
        assert_eq!(o.names, ["n9.example.com"]);
    }

    /// RFC 8601 §3: forward-confirmed reverse DNS; a name that does not resolve back
    /// (`fail`), no name at all (`permerror`, §2.7.3: "no PTR data are published"), and
    /// the IPv4-mapped form of an address.
    #[test]
    fn rfc8601_3_iprev() {
        let zone = "25.2.0.192.in-addr.arpa. PTR mail.example.com.\nmail.example.com. A 192.0.2.25\n26.2.0.192.in-addr.arpa. PTR liar.example.com.\nliar.example.com. A 192.0.2.99\n";
        let o = run(zone, "192.0.2.25");
        assert_eq!(o.result, IprevResult::Pass);
        assert_eq!(o.names, ["mail.example.com"]);
        assert_eq!(run(zone, "::ffff:192.0.2.25").result, IprevResult::Pass);
        let o = run(zone, "192.0.2.26");
        assert_eq!(o.result, IprevResult::Fail);
        assert_eq!(o.reason, Some(IprevReason::NotConfirmed { tried: 1 }));
        let o = run(zone, "192.0.2.27");
        assert_eq!(
            (o.result, o.reason),
            (IprevResult::Permerror, Some(IprevReason::NoPtr))
        );
    }

    /// At most ten names are followed, however many the PTR answer holds.
    #[test]
    fn ptr_names_are_bounded() {
        let mut zone = String::new();
        for i in 0..30 {
            zone.push_str(&format!("7.2.0.192.in-addr.arpa. PTR n{i}.example.com.\n"));
        }
        zone.push_str("n29.example.com. A 192.0.2.7\n");
        let o = run(&zone, "192.0.2.7");
        assert_eq!(
            o.result,
            IprevResult::Fail,
            "the 30th name is past the limit"
        );
        assert_eq!(o.reason, Some(IprevReason::NotConfirmed { tried: 10 }));
    }
}
