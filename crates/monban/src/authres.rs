//! The `Authentication-Results` header field, RFC 8601.
//!
//! For now this renders the `spf` method (§2.7.2); the other methods join it as they
//! are built. Values are written as RFC 2045 tokens or RFC 5322 quoted-strings (§2.2),
//! so an attacker-chosen address cannot inject a clause.

use std::borrow::Cow;

use crate::dkim::DkimOutcome;
use crate::spf::{SpfIdentity, SpfOutcome};
use crate::text::{comment, quoted};

/// RFC 2045 §5.1 `token` characters: any visible ASCII but tspecials.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?=".contains(c))
}

/// A property value (RFC 8601 §2.2 `pvalue`): a token, `local-part@domain` made of
/// dot-atoms, or else a quoted-string.
pub fn pvalue(s: &str) -> Cow<'_, str> {
    if is_token(s) {
        return Cow::Borrowed(s);
    }
    if let Some((local, domain)) = s.rsplit_once('@') {
        let local_ok = local.is_empty() || crate::text::is_dot_atom(local);
        if local_ok && crate::text::is_dot_atom(domain) && !local.contains('@') {
            return Cow::Borrowed(s);
        }
    }
    Cow::Owned(quoted(s))
}

/// The `spf=` resinfo clause (RFC 8601 §2.7.2), e.g.
/// `spf=pass (reason) smtp.mailfrom=user@example.com`.
pub fn spf_clause(outcome: &SpfOutcome) -> String {
    let (prop, value) = match outcome.identity {
        SpfIdentity::MailFrom => ("smtp.mailfrom", outcome.sender.as_str()),
        SpfIdentity::Helo => ("smtp.helo", outcome.helo.as_str()),
    };
    format!(
        "spf={} {} {prop}={}",
        outcome.result.as_str(),
        comment(&outcome.cause.to_string()),
        pvalue(value)
    )
}

/// The `dkim=` resinfo clause for one signature (RFC 8601 §2.7.1; `header.b` per
/// RFC 6008, `header.a` and `header.s` per the IANA registry).
pub fn dkim_clause(outcome: &DkimOutcome) -> String {
    let mut s = format!("dkim={}", outcome.result.as_str());
    if let Some(reason) = &outcome.reason {
        s.push(' ');
        s.push_str(&comment(reason));
    }
    for (prop, value) in [
        ("header.d", &outcome.domain),
        ("header.i", &outcome.identity),
        ("header.s", &outcome.selector),
        ("header.a", &outcome.algorithm),
        ("header.b", &outcome.header_b),
    ] {
        if !value.is_empty() {
            s.push(' ');
            s.push_str(prop);
            s.push('=');
            s.push_str(&pvalue(value));
        }
    }
    s
}

/// `dkim=none`: the message carries no signature.
pub const DKIM_NONE: &str = "dkim=none";

/// A whole header value: `authserv-id; clause; clause` (RFC 8601 §2.2), folded with
/// one clause per line. The authserv-id is written as a token or quoted.
pub fn header_value(authserv_id: &str, clauses: &[String]) -> String {
    let mut s = pvalue(authserv_id).into_owned();
    if clauses.is_empty() {
        s.push_str("; none");
        return s;
    }
    for c in clauses {
        s.push_str(";\r\n\t");
        s.push_str(c);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8601_2_2_pvalues() {
        assert_eq!(pvalue("example.com"), "example.com");
        assert_eq!(pvalue("user@example.com"), "user@example.com");
        assert_eq!(
            pvalue("a;dkim=pass@example.com"),
            "\"a;dkim=pass@example.com\""
        );
        assert_eq!(pvalue("x\" y"), "\"x\\\" y\"");
        assert_eq!(pvalue(""), "\"\"");
    }
}
