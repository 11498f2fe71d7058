//! What the milter decides before any mail is sent: when the client connects, from
//! its reverse DNS (iprev, RFC 8601 §3) and the DNS block and allow lists (RFC 5782);
//! when it greets, from its HELO name. A refused client never reaches DATA, which
//! saves the work and the bandwidth of the message.
//!
//! The decisions are pure ([`decide`], [`helo_problem`]); the session asks the DNS.
//! A list that does not answer lists nobody, and a check that runs out of time decides
//! nothing: neither ever blocks mail.

use std::net::IpAddr;
use std::time::Duration;

use monban::dnsbl::{DnsblOutcome, ListKind, Zone};
use monban::iprev::{IprevOutcome, IprevResult};

use crate::session::Action;

/// What a result makes the milter do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConnectAction {
    /// Nothing but the record in `Authentication-Results` (the default).
    Record,
    /// Deliver, with an `X-Monban-Tag` field naming the result.
    Tag,
    /// Refuse for now (4xx): the client may retry.
    Tempfail,
    /// Refuse (5xx).
    Reject,
}

impl ConnectAction {
    /// Parses a configuration value.
    pub fn parse(value: &str, key: &str) -> Result<Self, String> {
        match value {
            "record" | "accept" => Ok(Self::Record),
            "tag" => Ok(Self::Tag),
            "tempfail" => Ok(Self::Tempfail),
            "reject" => Ok(Self::Reject),
            other => Err(format!(
                "{key}: {other:?} is not one of \"reject\", \"tempfail\", \"tag\", \"record\""
            )),
        }
    }

    /// The configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Record => "record",
            Self::Tag => "tag",
            Self::Tempfail => "tempfail",
            Self::Reject => "reject",
        }
    }
}

/// One configured list (`[[dnsbl]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRule {
    /// The zone, its kind and the codes that count.
    pub zone: Zone,
    /// What a listing does (block lists only).
    pub action: ConnectAction,
    /// Added to the client's score when it is listed (block lists only).
    pub weight: u32,
    /// Words added to the reply when this list refuses the client.
    pub message: Option<String>,
}

/// The checks made before mail is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectPolicy {
    /// The lists, in the order configured.
    pub lists: Vec<ListRule>,
    /// Refuse a client whose listed lists' weights add up to this (0: no score).
    pub reject_score: u32,
    /// What an iprev `fail` does (no forward-confirmed reverse name).
    pub iprev_fail: ConnectAction,
    /// What an iprev `temperror` does.
    pub iprev_temperror: ConnectAction,
    /// What a HELO name that cannot be this client's does.
    pub helo_invalid: ConnectAction,
    /// How long the connect-time checks may take; past it they decide nothing.
    pub timeout: Duration,
    /// Client host domains (with their subdomains) whose forward-confirmed reverse
    /// name makes the block lists count for nothing.
    pub allow_client_domains: Vec<String>,
}

impl Default for ConnectPolicy {
    fn default() -> Self {
        Self {
            lists: Vec::new(),
            reject_score: 0,
            iprev_fail: ConnectAction::Record,
            iprev_temperror: ConnectAction::Record,
            helo_invalid: ConnectAction::Record,
            timeout: Duration::from_secs(5),
            allow_client_domains: Vec::new(),
        }
    }
}

impl ConnectPolicy {
    /// The zones to ask.
    pub fn zones(&self) -> Vec<Zone> {
        self.lists.iter().map(|l| l.zone.clone()).collect()
    }

    /// Whether anything is decided at CONNECT (else iprev and the lists are only
    /// reported, with the message).
    pub fn acts_at_connect(&self) -> bool {
        !self.lists.is_empty()
            || self.iprev_fail != ConnectAction::Record
            || self.iprev_temperror != ConnectAction::Record
    }
}

/// What to do with the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go on; the tags go into an `X-Monban-Tag` field of each message.
    Continue {
        /// What to tag, e.g. `dnsbl=bl.example.net`.
        tags: Vec<String>,
    },
    /// Refuse the client with this reply.
    Refuse {
        /// The SMTP reply (code, enhanced code, text).
        reply: String,
        /// Reject or Tempfail.
        action: Action,
        /// Why, for the log.
        reason: String,
    },
}

/// The strongest action and the reasons for it, gathered.
#[derive(Default)]
struct Gathered {
    action: Option<ConnectAction>,
    reasons: Vec<String>,
    tags: Vec<String>,
}

impl Gathered {
    fn add(&mut self, action: ConnectAction, tag: String, reason: String) {
        match action {
            ConnectAction::Record => {}
            ConnectAction::Tag => self.tags.push(tag),
            ConnectAction::Tempfail | ConnectAction::Reject => {
                match self.action {
                    Some(a) if a > action => {}
                    Some(a) if a == action => self.reasons.push(reason),
                    _ => {
                        self.action = Some(action);
                        self.reasons = vec![reason];
                    }
                }
                self.tags.push(tag);
            }
        }
    }
}

/// Decides at CONNECT. `allowed_name`: the client's confirmed reverse name is in the
/// local allow list, which, like an allow list that lists it, makes the block lists
/// count for nothing.
pub fn decide(
    policy: &ConnectPolicy,
    ip: IpAddr,
    iprev: &IprevOutcome,
    lists: &[DnsblOutcome],
    allowed_name: bool,
) -> Verdict {
    let mut g = Gathered::default();
    let allowed = allowed_name
        || lists
            .iter()
            .any(|o| o.kind == ListKind::Allow && o.listed());
    if !allowed {
        let mut score = 0u32;
        let mut scored = Vec::new();
        for o in lists
            .iter()
            .filter(|o| o.kind == ListKind::Block && o.listed())
        {
            let Some(rule) = policy.lists.iter().find(|r| r.zone.zone == o.zone) else {
                continue;
            };
            let code = o
                .codes
                .first()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            let mut reason = format!("{ip} is listed on {}{code}", o.zone);
            if let Some(m) = &rule.message {
                reason.push_str(": ");
                reason.push_str(m);
            }
            g.add(rule.action, format!("dnsbl={}", o.zone), reason);
            if rule.weight > 0 {
                score = score.saturating_add(rule.weight);
                scored.push(o.zone.as_str());
            }
        }
        if policy.reject_score > 0 && score >= policy.reject_score {
            g.add(
                ConnectAction::Reject,
                format!("dnsbl-score={score}"),
                format!(
                    "{ip} is listed on {} (score {score} of {})",
                    scored.join(", "),
                    policy.reject_score
                ),
            );
        }
    }
    let iprev_action = match iprev.result {
        IprevResult::Fail | IprevResult::Permerror => Some(policy.iprev_fail),
        IprevResult::Temperror => Some(policy.iprev_temperror),
        _ => None,
    };
    if let Some(a) = iprev_action {
        let why = iprev
            .reason_text()
            .unwrap_or_else(|| "no reverse name".to_owned());
        g.add(
            a,
            format!("iprev={}", iprev.result.as_str()),
            format!("the reverse DNS of {ip} does not confirm it: {why}"),
        );
    }
    match g.action {
        Some(ConnectAction::Reject) => Verdict::Refuse {
            reply: format!("554 5.7.1 {}", g.reasons.join("; ")),
            action: Action::Reject,
            reason: g.reasons.join("; "),
        },
        Some(ConnectAction::Tempfail) => Verdict::Refuse {
            reply: format!("451 4.7.1 {}; please try again later", g.reasons.join("; ")),
            action: Action::Tempfail,
            reason: g.reasons.join("; "),
        },
        _ => Verdict::Continue { tags: g.tags },
    }
}

/// Why a HELO name is not a valid one, if it is not: empty, or neither a domain name of
/// two labels or more nor an address literal (RFC 5321 §4.1.1.1, §4.1.3: IPv6 literals
/// carry `IPv6:`). Only the syntax: RFC 5321 §4.1.4 forbids refusing mail because the
/// name does not verify, so a literal of another address is not judged.
pub fn helo_problem(helo: &str) -> Option<String> {
    let helo = helo.trim();
    let shown = shown(helo);
    if helo.is_empty() {
        return Some("the HELO name is empty".into());
    }
    if let Some(literal) = helo.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let ok = match literal.get(..5) {
            Some(p) if p.eq_ignore_ascii_case("ipv6:") => literal
                .get(5..)
                .and_then(|a| a.parse::<std::net::Ipv6Addr>().ok())
                .is_some(),
            _ => literal.parse::<std::net::Ipv4Addr>().is_ok(),
        };
        return (!ok).then(|| format!("the HELO name \"{shown}\" is not an address literal"));
    }
    let name = helo.strip_suffix('.').unwrap_or(helo);
    if !name.contains('.') || !monban::dkim::signature::is_dns_name(name) {
        return Some(format!(
            "the HELO name \"{shown}\" is not a fully qualified domain name"
        ));
    }
    if name.parse::<IpAddr>().is_ok() {
        return Some(format!(
            "the HELO name {shown} is an address without brackets"
        ));
    }
    None
}

/// A client's word as it may be quoted in a reply: printable ASCII but `%` (which
/// milter replies treat as an escape), at most 64 characters.
fn shown(s: &str) -> String {
    shown_up_to(s, 64)
}

/// [`shown`] with room for `max` characters.
pub(crate) fn shown_up_to(s: &str, max: usize) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic() && *c != '%' && *c != '"')
        .take(max)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use monban::dnsbl::{CodeFilter, DnsblResult};
    use std::net::Ipv4Addr;

    fn rule(zone: &str, action: ConnectAction, weight: u32) -> ListRule {
        ListRule {
            zone: Zone {
                zone: zone.into(),
                kind: ListKind::Block,
                filter: CodeFilter::Any,
            },
            action,
            weight,
            message: None,
        }
    }

    fn listed(zone: &str, kind: ListKind) -> DnsblOutcome {
        DnsblOutcome {
            zone: zone.into(),
            kind,
            result: DnsblResult::Listed,
            codes: vec![Ipv4Addr::new(127, 0, 0, 2)],
        }
    }

    fn iprev(result: IprevResult) -> IprevOutcome {
        IprevOutcome {
            result,
            ..IprevOutcome::none()
        }
    }

    const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 66));

    #[test]
    fn strongest_action_wins_and_names_the_lists() {
        let policy = ConnectPolicy {
            lists: vec![
                rule("a.example", ConnectAction::Tag, 0),
                rule("b.example", ConnectAction::Tempfail, 0),
                rule("c.example", ConnectAction::Reject, 0),
            ],
            ..ConnectPolicy::default()
        };
        let pass = iprev(IprevResult::Pass);
        let all = [
            listed("a.example", ListKind::Block),
            listed("b.example", ListKind::Block),
            listed("c.example", ListKind::Block),
        ];
        match decide(&policy, IP, &pass, &all, false) {
            Verdict::Refuse { reply, action, .. } => {
                assert_eq!(action, Action::Reject);
                assert_eq!(
                    reply,
                    "554 5.7.1 203.0.113.66 is listed on c.example (127.0.0.2)"
                );
            }
            v => panic!("{v:?}"),
        }
        match decide(&policy, IP, &pass, &all[..2], false) {
            Verdict::Refuse { reply, action, .. } => {
                assert_eq!(action, Action::Tempfail);
                assert!(reply.starts_with("451 4.7.1 203.0.113.66 is listed on b.example"));
            }
            v => panic!("{v:?}"),
        }
        assert_eq!(
            decide(&policy, IP, &pass, &all[..1], false),
            Verdict::Continue {
                tags: vec!["dnsbl=a.example".into()]
            }
        );
        // Allow lists and allowed names make the block lists count for nothing.
        let mut with_allow = all.to_vec();
        with_allow.push(listed("wl.example", ListKind::Allow));
        assert_eq!(
            decide(&policy, IP, &pass, &with_allow, false),
            Verdict::Continue { tags: vec![] }
        );
        assert_eq!(
            decide(&policy, IP, &pass, &all, true),
            Verdict::Continue { tags: vec![] }
        );
    }

    #[test]
    fn weights_add_up_to_the_score() {
        let policy = ConnectPolicy {
            lists: vec![
                rule("a.example", ConnectAction::Record, 2),
                rule("b.example", ConnectAction::Record, 2),
            ],
            reject_score: 4,
            ..ConnectPolicy::default()
        };
        let pass = iprev(IprevResult::Pass);
        let one = [listed("a.example", ListKind::Block)];
        assert_eq!(
            decide(&policy, IP, &pass, &one, false),
            Verdict::Continue { tags: vec![] }
        );
        let two = [
            listed("a.example", ListKind::Block),
            listed("b.example", ListKind::Block),
        ];
        match decide(&policy, IP, &pass, &two, false) {
            Verdict::Refuse { reply, .. } => assert_eq!(
                reply,
                "554 5.7.1 203.0.113.66 is listed on a.example, b.example (score 4 of 4)"
            ),
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn iprev_actions() {
        let policy = ConnectPolicy {
            iprev_fail: ConnectAction::Reject,
            iprev_temperror: ConnectAction::Tempfail,
            ..ConnectPolicy::default()
        };
        assert!(matches!(
            decide(&policy, IP, &iprev(IprevResult::Fail), &[], false),
            Verdict::Refuse {
                action: Action::Reject,
                ..
            }
        ));
        assert!(matches!(
            decide(&policy, IP, &iprev(IprevResult::Temperror), &[], false),
            Verdict::Refuse {
                action: Action::Tempfail,
                ..
            }
        ));
        assert_eq!(
            decide(&policy, IP, &iprev(IprevResult::Pass), &[], false),
            Verdict::Continue { tags: vec![] }
        );
        // The default records only.
        assert_eq!(
            decide(
                &ConnectPolicy::default(),
                IP,
                &iprev(IprevResult::Fail),
                &[],
                false
            ),
            Verdict::Continue { tags: vec![] }
        );
    }

    #[test]
    fn helo_names() {
        for good in [
            "mail.example.com",
            "[203.0.113.66]",
            // Another address: not judged (RFC 5321 §4.1.4).
            "[198.51.100.1]",
            "[IPv6:2001:db8::1]",
        ] {
            assert_eq!(helo_problem(good), None, "{good:?}");
        }
        for bad in [
            "",
            "localhost",
            "[nonsense]",
            "[::1]",
            "203.0.113.66",
            "bad..name.example",
            "名前.example",
        ] {
            assert!(helo_problem(bad).is_some(), "{bad:?}");
        }
        // A client's word is quoted without what a reply must not carry.
        assert_eq!(
            helo_problem("a%b\"c").unwrap(),
            "the HELO name \"abc\" is not a fully qualified domain name"
        );
    }
}
