//! The `Received-SPF` header field, RFC 7208 §9.1.
//!
//! ```text
//! header-field   = "Received-SPF:" [CFWS] result FWS [comment FWS] [ key-value-list ] CRLF
//! key-value-pair = key [CFWS] "=" ( dot-atom / quoted-string )
//! ```
//!
//! Every value is written as a dot-atom only when it is one, otherwise as a
//! quoted-string, and the comment is escaped, so an attacker-chosen MAIL FROM or HELO
//! cannot add a key, end the comment, or start a new header line.

use crate::authres::{FOLD_AT, MAX_FREE_TEXT, MAX_PVALUE, cut};
use crate::text::{comment, dot_atom_or_quoted};

use super::{SpfCause, SpfOutcome, SpfResult};

/// Renders the value of a `Received-SPF` header (without the field name): on one line,
/// unless it would pass [`FOLD_AT`] octets, where a line break (CRLF TAB) takes the
/// place of the space before a key-value pair (RFC 5322 §2.1.1: 998 octets a line at
/// most; a trial's 900-character MAIL FROM made a 1,986-octet line). What the sender
/// controls is cut as in Authentication-Results: the comment past
/// [`MAX_FREE_TEXT`] characters, a value past [`MAX_PVALUE`] octets (its start, quoted,
/// ending in "..."). `receiver` is this host's name, as in `receiver=`.
pub fn received_spf(outcome: &SpfOutcome, receiver: &str) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(outcome.result.as_str());
    out.push(' ');
    out.push_str(&comment(&cut(&summary(outcome, receiver), MAX_FREE_TEXT)));
    let mut pair = |key: &str, value: &str| {
        let space = out.len();
        out.push(' ');
        out.push_str(key);
        out.push('=');
        if value.len() > MAX_PVALUE {
            out.push_str(&dot_atom_or_quoted(&cut(value, 64)));
        } else {
            out.push_str(&dot_atom_or_quoted(value));
        }
        out.push(';');
        let line_start = out[..space].rfind('\n').map_or(0, |i| i + 1);
        if out.len() - line_start > FOLD_AT && space > line_start {
            out.replace_range(space..=space, "\r\n\t");
        }
    };
    pair("client-ip", &outcome.ip.to_string());
    if outcome.identity == super::SpfIdentity::MailFrom {
        pair("envelope-from", outcome.sender());
    }
    // §9.1: helo= is optional; none was given, so none is claimed.
    if !outcome.helo().is_empty() {
        pair("helo", outcome.helo());
    }
    pair("receiver", receiver);
    pair("identity", outcome.identity.as_str());
    match &outcome.cause {
        SpfCause::Matched(m) => pair("mechanism", m.mechanism()),
        SpfCause::NoMatch => pair("mechanism", "default"),
        _ if matches!(outcome.result, SpfResult::Permerror | SpfResult::Temperror) => {
            pair("problem", &outcome.cause.to_string());
        }
        _ => {}
    }
    out.pop();
    out
}

/// The human-readable comment, in the style §9.1 shows.
fn summary(outcome: &SpfOutcome, receiver: &str) -> String {
    let who = match outcome.identity {
        super::SpfIdentity::MailFrom | super::SpfIdentity::Pra => {
            format!("domain of {}", outcome.sender())
        }
        super::SpfIdentity::Helo => format!("domain of {}", outcome.helo()),
    };
    let ip = outcome.ip;
    let what = match outcome.result {
        SpfResult::Pass => format!("{who} designates {ip} as permitted sender"),
        SpfResult::Fail => format!("{who} does not designate {ip} as permitted sender"),
        SpfResult::Softfail => {
            format!("{who} does not designate {ip} as permitted sender (softfail)")
        }
        SpfResult::Neutral => format!("{ip} is neither permitted nor denied by {who}"),
        SpfResult::None => format!("{who} does not publish an SPF record: {}", outcome.cause),
        SpfResult::Temperror => format!(
            "error in processing the SPF record of {}: {}",
            outcome.domain(),
            outcome.cause
        ),
        SpfResult::Permerror => format!(
            "error in the SPF record of {}: {}",
            outcome.domain(),
            outcome.cause
        ),
    };
    format!("{receiver}: {what}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spf::{SpfIdentity, SpfOutcome};

    fn outcome(sender: &str, helo: &str) -> SpfOutcome<'static> {
        SpfOutcome {
            result: SpfResult::Pass,
            cause: SpfCause::Matched(crate::spf::SpfMatch::new("ip4:192.0.2.0/24", "example.com")),
            identity: SpfIdentity::MailFrom,
            names: crate::spf::SpfNames::new("example.com", sender, helo),
            ip: "192.0.2.1".parse().unwrap(),
            explanation: None,
            dns_lookups: 0,
            void_lookups: 0,
        }
    }

    #[test]
    fn rfc7208_9_1_shape() {
        let h = received_spf(
            &outcome("myname@example.com", "foo.example.com"),
            "mybox.example.org",
        );
        assert_eq!(
            h,
            "pass (mybox.example.org: domain of myname@example.com designates 192.0.2.1 as permitted sender) \
             client-ip=192.0.2.1; envelope-from=\"myname@example.com\"; helo=foo.example.com; \
             receiver=mybox.example.org; identity=mailfrom; mechanism=\"ip4:192.0.2.0/24\""
        );
    }

    /// RFC 5322 §2.1.1: no line of the field past 998 octets, whatever the sender's
    /// names (a trial's 900-character local part made a 1,986-octet line): long values
    /// are cut, and a line that would still pass [`FOLD_AT`] is folded. A short field
    /// stays on one line.
    #[test]
    fn long_names_give_lines_of_at_most_998_octets() {
        for (local, helo) in [
            ("a".repeat(900), "h.example".to_owned()),
            ("b".repeat(700), format!("{}.example", "h".repeat(700))),
            ("c".repeat(2000), format!("{}.example", "x".repeat(2000))),
        ] {
            let sender = format!("{local}@example.com");
            let h = format!(
                "Received-SPF: {}",
                received_spf(&outcome(&sender, &helo), "mx.example.org")
            );
            for line in h.split("\r\n") {
                assert!(line.len() <= 998, "{} octets", line.len());
            }
            assert!(h.contains("...") && h.contains("identity=mailfrom"), "{h}");
        }
        let short = received_spf(&outcome("a@example.com", "h.example"), "mx.example.org");
        assert!(!short.contains('\n'), "{short}");
    }

    #[test]
    fn hostile_values_stay_inside_their_quotes() {
        let h = received_spf(
            &outcome(
                "a\"; identity=helo; x=\"(@evil.example",
                "x) pass (\r\nX-Injected: 1",
            ),
            "mx",
        );
        assert!(!h.contains('\r') && !h.contains('\n'), "{h}");
        // The real identity key is outside any quoted string: check by stripping quotes.
        let unquoted = crate::text::strip_quoted_and_comments(&h);
        assert_eq!(unquoted.matches("identity=").count(), 1, "{unquoted}");
        assert!(!unquoted.contains("X-Injected"), "{unquoted}");
    }
}
