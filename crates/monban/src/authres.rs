//! The `Authentication-Results` header field, RFC 8601.
//!
//! For now this renders the `spf` method (§2.7.2); the other methods join it as they
//! are built. Values are written as RFC 2045 tokens or RFC 5322 quoted-strings (§2.2),
//! so an attacker-chosen address cannot inject a clause.

use std::borrow::Cow;

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
