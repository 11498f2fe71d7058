//! The `Authentication-Results` header field, RFC 8601: one model, one writer, one
//! parser.
//!
//! - [`ResInfo`] is one method's result with its properties; [`ResInfo::from_spf`],
//!   [`ResInfo::from_dkim`] and [`ResInfo::from_dmarc`] are the only places a result
//!   becomes A-R text.
//! - [`AuthenticationResults`] is a whole field: written by
//!   [`AuthenticationResults::to_value`], read by [`AuthenticationResults::parse`].
//! - [`fields_claiming`] finds incoming fields that claim our authserv-id, which a
//!   receiver must remove (§5).
//!
//! Values are written as RFC 2045 tokens, `local-part@domain` dot-atoms, or RFC 5322
//! quoted-strings (§2.2), and comments are escaped, so no attacker-chosen address,
//! `d=` or HELO can add a clause or a property.

mod parse;

use std::borrow::Cow;
use std::fmt::Write as _;

pub use parse::ParseError;

use crate::dkim::DkimOutcome;
use crate::dmarc::{DmarcOutcome, DmarcResult};
use crate::message::Headers;
use crate::spf::{SpfIdentity, SpfOutcome};
use crate::text::{push_comment, push_quoted, quoted};

/// Whether `s` is an RFC 2045 §5.1 `token`: visible ASCII but the tspecials
/// (`()<>@,;:\"/[]?=`), as an authserv-id written bare must be (a host name is one).
pub fn is_token(s: &str) -> bool {
    // Bytes, not characters: a token is ASCII, so a byte of a multi-byte character
    // fails as the character would.
    !s.is_empty() && s.bytes().all(|b| TOKEN[usize::from(b)])
}

/// RFC 2045 §5.1 token bytes: visible ASCII but tspecials.
const TOKEN: [bool; 256] = crate::text::byte_set(true, b"!#$%&'*+-.^_`{|}~");

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

/// One property: `ptype.property=value` (§2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// `smtp`, `header`, `body`, `policy`.
    pub ptype: Cow<'static, str>,
    /// e.g. `mailfrom`, `d`, `from`.
    pub property: Cow<'static, str>,
    /// The value, unquoted.
    pub value: String,
}

/// One method's result (`resinfo`, §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResInfo {
    /// The method (`spf`, `dkim`, `dmarc`, ...), lowercase.
    pub method: String,
    /// The result (`pass`, `fail`, ...), lowercase.
    pub result: String,
    /// A comment right after the result, for people.
    pub comment: Option<String>,
    /// `reason=`.
    pub reason: Option<String>,
    /// The properties, in order.
    pub properties: Vec<Property>,
}

impl ResInfo {
    /// A result without properties.
    pub fn new(method: &str, result: &str) -> Self {
        Self {
            method: method.to_ascii_lowercase(),
            result: result.to_ascii_lowercase(),
            comment: None,
            reason: None,
            properties: Vec::new(),
        }
    }

    /// Adds a property (empty values are skipped).
    pub fn with(mut self, ptype: &'static str, property: &'static str, value: &str) -> Self {
        if !value.is_empty() {
            self.properties.push(Property {
                ptype: Cow::Borrowed(ptype),
                property: Cow::Borrowed(property),
                value: value.into(),
            });
        }
        self
    }

    /// The value of `ptype.property`, if present.
    pub fn property(&self, ptype: &str, property: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|p| {
                p.ptype.eq_ignore_ascii_case(ptype) && p.property.eq_ignore_ascii_case(property)
            })
            .map(|p| p.value.as_str())
    }

    /// `spf=` (§2.7.2): `smtp.mailfrom` for the MAIL FROM identity, `smtp.helo` for HELO.
    pub fn from_spf(o: &SpfOutcome) -> Self {
        let mut r = Self::new("spf", o.result.as_str());
        r.comment = Some(o.cause.to_string());
        match o.identity {
            SpfIdentity::MailFrom => r.with("smtp", "mailfrom", o.sender()),
            SpfIdentity::Helo => r.with("smtp", "helo", o.helo()),
            SpfIdentity::Pra => r.with("header", "from", o.sender()),
        }
    }

    /// `domainkeys=` (RFC 8601 §2.7.1's registry entry for RFC 4870): `header.d`, and
    /// the sending address as `header.sender` or `header.from`.
    pub fn from_domainkeys(o: &crate::domainkeys::DomainKeysOutcome) -> Self {
        let mut r = Self::new("domainkeys", o.result.as_str());
        r.comment = o.reason_text();
        if !o.domain.is_empty() {
            r = r.with("header", "d", &o.domain);
        }
        match (&o.identity, o.identity_field) {
            (Some(i), Some(field)) => r.with("header", field, i),
            _ => r,
        }
    }

    /// `sender-id=` (RFC 8601 §2.7.3, RFC 4406): `header.<field>` names the field the
    /// PRA came from (`header.from`, `header.sender`, `header.resent-from`, ...).
    pub fn from_sender_id(o: &crate::senderid::SenderIdOutcome) -> Self {
        let mut r = Self::new("sender-id", o.result.as_str());
        r.comment = o.reason();
        match &o.pra {
            Some(p) => r.with("header", p.field.property(), &p.address),
            None => r,
        }
    }

    /// `dkim=` for one signature (§2.7.1; `header.b` per RFC 6008).
    pub fn from_dkim(o: &DkimOutcome) -> Self {
        let mut r = Self::new("dkim", o.result.as_str());
        r.comment = o.reason_text();
        // The five properties below, in one allocation.
        r.properties.reserve_exact(5);
        r.with("header", "d", &o.domain)
            .with("header", "i", &o.identity)
            .with("header", "s", &o.selector)
            .with("header", "a", &o.algorithm)
            .with("header", "b", &o.header_b)
    }

    /// One `dkim=neutral` for the `n` signatures past the limit of `max` that were not
    /// evaluated: a result per such signature would let a message of thousands of
    /// signatures grow its `Authentication-Results` past what any reader takes
    /// (monban's own analyzer reads 256 results, its header parser 1 MiB).
    pub fn dkim_not_evaluated(n: usize, max: usize) -> Self {
        Self::not_evaluated("dkim", n, max)
    }

    /// [`Self::dkim_not_evaluated`] for any method (`domainkeys`).
    pub fn not_evaluated(method: &str, n: usize, max: usize) -> Self {
        let mut r = Self::new(method, "neutral");
        r.comment = Some(format!(
            "{n} more signature{} not evaluated: more than {max}",
            if n == 1 { "" } else { "s" }
        ));
        r
    }

    /// `dkim=none`: no signature.
    pub fn dkim_none() -> Self {
        Self::new("dkim", "none")
    }

    /// `dmarc=` (RFC 7489 §11.2, RFC 9989): `header.from`, `polrec.p` and `polrec.domain`.
    pub fn from_dmarc(o: &DmarcOutcome) -> Self {
        let mut r = Self::new("dmarc", o.result.as_str());
        let mut note = String::new();
        if let Some(p) = o.policy {
            // The tag the applied policy came from: a subdomain's is sp (np for one
            // that does not exist) when the record has it, else p; "p=none" for a
            // record that says p=reject; sp=none would misstate it.
            use crate::dmarc::PolicyTag;
            let tag = match (o.policy_tag, &o.record) {
                (Some(PolicyTag::Np), Some(r)) if r.np.is_some() => "np",
                (Some(PolicyTag::Np | PolicyTag::Sp), Some(r)) if r.sp.is_some() => "sp",
                _ => "p",
            };
            let _ = write!(note, "{tag}={p} dis={}", o.disposition.as_str());
        }
        if let Some(reason) = &o.reason {
            if !note.is_empty() {
                note.push_str(": ");
            }
            note.push_str(&reason.to_string());
        }
        if !note.is_empty() {
            r.comment = Some(note);
        }
        let r = r.with("header", "from", o.header_from.as_deref().unwrap_or(""));
        // The registered properties of a record's policy (RFC 9989's IANA section):
        // `polrec.p`, the record's p=, and `polrec.domain` where the record was found
        // when that is not the From domain. The disposition applied is in the comment
        // (`dis=`). Given when the policy applies (not on a pass).
        match &o.record {
            Some(record) if o.result != DmarcResult::Pass && o.policy.is_some() => {
                let r = r.with("polrec", "p", record.p.as_str());
                match &o.record_domain {
                    Some(d)
                        if !o
                            .header_from
                            .as_deref()
                            .is_some_and(|f| f.eq_ignore_ascii_case(d)) =>
                    {
                        r.with("polrec", "domain", d)
                    }
                    _ => r,
                }
            }
            _ => r,
        }
    }

    /// `arc=` (RFC 8617 §7.2, RFC 8601 §2.7.8): `smtp.remote-ip` and
    /// `header.oldest-pass`; the comment says why a chain failed, or that a trusted
    /// sealer's chain overrode the DMARC policy.
    pub fn from_arc(
        o: &crate::arc::ArcOutcome,
        ip: Option<std::net::IpAddr>,
        dmarc: &DmarcOutcome,
    ) -> Self {
        let mut r = Self::new("arc", o.result.as_str());
        r.comment = o.reason_text();
        if let Some(crate::dmarc::DmarcReason::TrustedForwarder { sealer, .. }) = &dmarc.reason {
            r.comment = Some(format!(
                "trusted forwarder {sealer}: DMARC policy not applied"
            ));
        }
        if let Some(ip) = ip {
            r = r.with("smtp", "remote-ip", &ip.to_string());
        }
        if o.result == crate::arc::ArcResult::Pass {
            r = r.with("header", "oldest-pass", &o.oldest_pass.to_string());
        }
        r
    }

    /// `dkim-adsp=` (RFC 5617 §5.4): `header.from`; the comment says why for errors.
    pub fn from_adsp(o: &crate::adsp::AdspOutcome) -> Self {
        let mut r = Self::new("dkim-adsp", o.result.as_str());
        r.comment = o.reason.clone();
        match &o.domain {
            Some(d) => r.with("header", "from", d),
            None => r,
        }
    }

    /// `x-dnsbl=` (no registered method: an `X-` one, RFC 8601 §2.7.6): `listed`,
    /// `not-listed` or `temperror`, with `policy.zone` and, when listed, `policy.code`
    /// (the first code the zone answered); an allow list is `x-dnswl=`.
    pub fn from_dnsbl(o: &crate::dnsbl::DnsblOutcome) -> Self {
        let method = match o.kind {
            crate::dnsbl::ListKind::Block => "x-dnsbl",
            crate::dnsbl::ListKind::Allow => "x-dnswl",
        };
        let r = Self::new(method, o.result.as_str()).with("policy", "zone", &o.zone);
        match o.codes.first().filter(|_| o.listed()) {
            Some(c) => r.with("policy", "code", &c.to_string()),
            None => r,
        }
    }

    /// `iprev=` (RFC 8601 §3): `policy.iprev` is the client address; the comment names
    /// the confirmed name, or why there is none.
    pub fn from_iprev(o: &crate::iprev::IprevOutcome) -> Self {
        let mut r = Self::new("iprev", o.result.as_str());
        r.comment = match o.names.first() {
            Some(n) => Some(n.clone()),
            None => o.reason_text(),
        };
        match o.ip {
            Some(ip) => r.with("policy", "iprev", &ip.to_string()),
            None => r,
        }
    }

    /// `dkim2=` (the DKIM2 draft): `header.d` of the latest hop.
    pub fn from_dkim2(o: &crate::dkim2::Dkim2Outcome) -> Self {
        let mut r = Self::new("dkim2", o.result.as_str());
        r.comment = o.reason_text();
        match o.domains.last() {
            Some(d) => r.with("header", "d", d),
            None => r,
        }
    }

    /// The resinfo text, e.g. `spf=pass (comment) smtp.mailfrom=a@example.com`.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        self.write_text(&mut s);
        s
    }

    /// [`ResInfo::to_text`], appended to `s`.
    pub fn write_text(&self, s: &mut String) {
        self.write_folded(s, false);
    }

    /// [`Self::write_text`]; with `fold`, a line break (CRLF TAB, folding white space)
    /// takes the place of the space before a part that would take the line past
    /// [`FOLD_AT`] octets. What the sender controls is cut: a comment or reason past
    /// [`MAX_FREE_TEXT`] characters, a property value past [`MAX_PVALUE`] octets (shown
    /// as its start, quoted, ending in "..."). A trial made a 60 KB field of a long From
    /// and a 2 MB one of a long MAIL FROM, past RFC 5322's 998 octets a line (§2.1.1).
    fn write_folded(&self, s: &mut String, fold: bool) {
        let part = |s: &mut String, write: &dyn Fn(&mut String)| {
            let space = s.len();
            s.push(' ');
            write(s);
            if fold {
                let line_start = s[..space].rfind('\n').map_or(0, |i| i + 1);
                if s.len() - line_start > FOLD_AT && space > line_start {
                    s.replace_range(space..=space, "\r\n\t");
                }
            }
        };
        push_token_or_quoted(s, &self.method);
        s.push('=');
        push_token_or_quoted(s, &self.result);
        if let Some(c) = &self.comment {
            part(s, &|s| push_comment(s, &cut(c, MAX_FREE_TEXT)));
        }
        if let Some(reason) = &self.reason {
            part(s, &|s| {
                s.push_str("reason=");
                push_quoted(s, &cut(reason, MAX_FREE_TEXT));
            });
        }
        for p in &self.properties {
            part(s, &|s| {
                push_keyword(s, &p.ptype);
                s.push('.');
                push_keyword(s, &p.property);
                s.push('=');
                if p.value.len() > MAX_PVALUE {
                    push_quoted(s, &cut(&p.value, 64));
                } else {
                    s.push_str(&pvalue(&p.value));
                }
            });
        }
    }
}

/// The most characters of a comment or `reason=` written.
pub const MAX_FREE_TEXT: usize = 200;

/// The longest property value written whole: an address is at most 64 + 1 + 255
/// octets (RFC 5321 §4.5.3.1), and forwarders' rewritten ones (SRS) run longer; the
/// milter takes addresses of up to 2,048 octets. One part of a result stays within a
/// folded line with this.
pub const MAX_PVALUE: usize = 800;

/// The line length past which a folded field value breaks a line between the parts
/// of a result (RFC 5322 §2.1.1: at most 998 octets; room is left for the field name).
pub const FOLD_AT: usize = 900;

/// `s` cut to `max` characters, ending in "..." when cut (ASCII: the field stays so).
pub(crate) fn cut(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        Some((end, _)) => Cow::Owned(format!("{}...", &s[..end])),
        None => Cow::Borrowed(s),
    }
}

/// `s` as a token when it is one, else as a quoted-string, appended to `out`.
fn push_token_or_quoted(out: &mut String, s: &str) {
    if is_token(s) {
        out.push_str(s);
    } else {
        push_quoted(out, s);
    }
}

/// A ptype or property as written in `ptype.property=`, appended to `out`: the dot
/// separates the two (RFC 8601 §2.2), so a dot inside either is quoted like anything
/// not a token.
fn push_keyword(out: &mut String, s: &str) {
    if s.contains('.') {
        push_quoted(out, s);
    } else {
        push_token_or_quoted(out, s);
    }
}

/// A whole `Authentication-Results` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticationResults {
    /// Who evaluated (§2.5).
    pub authserv_id: String,
    /// `authres-version`, when given.
    pub version: Option<u32>,
    /// The results; empty means `none` (§2.2 `no-result`).
    pub results: Vec<ResInfo>,
}

impl AuthenticationResults {
    /// The field value, folded one result per line (CRLF TAB).
    pub fn to_value(&self) -> String {
        self.write_value(";\r\n\t")
    }

    /// The field value on one line (each result after `; `): what [`Self::to_value`]
    /// gives with its folding replaced by a space, for a report line or JSON. No result
    /// text holds a line break of its own (comments and quoted strings replace control
    /// characters), so the two differ only there.
    pub fn to_line(&self) -> String {
        self.write_value("; ")
    }

    /// The field value with `separator` before each result.
    fn write_value(&self, separator: &str) -> String {
        // §2.2: `authserv-id = value` (a token or a quoted-string; not a pvalue, whose
        // `local@domain` form the reader would not take here).
        let mut s = String::with_capacity(64 + 96 * self.results.len());
        push_token_or_quoted(&mut s, &self.authserv_id);
        // `authserv-id [ CFWS authres-version ]`, the version kept when one was read.
        if let Some(v) = self.version {
            let _ = write!(s, " {v}");
        }
        if self.results.is_empty() {
            s.push_str("; none");
            return s;
        }
        let fold = separator.contains('\n');
        for r in &self.results {
            s.push_str(separator);
            r.write_folded(&mut s, fold);
        }
        s
    }

    /// Parses a field value (§2.2). Comments are skipped, except that the comment right
    /// after a result is kept in [`ResInfo::comment`].
    pub fn parse(value: &[u8]) -> Result<Self, ParseError> {
        parse::parse(value)
    }
}

/// The indices (in header order) of `Authentication-Results` fields whose authserv-id
/// is `ours` (case-insensitive), or which cannot be parsed at all: §5 says a receiver
/// MUST remove fields that claim its own authserv-id before adding its own, since a
/// sender could have forged them.
///
/// The name is compared as a host name: `mx.example.org.` (the absolute form) is
/// `mx.example.org`, which a reader normalizing names would take it for.
pub fn fields_claiming(headers: &Headers, ours: &str) -> Vec<usize> {
    let ours = ours.strip_suffix('.').unwrap_or(ours);
    headers
        .fields()
        .enumerate()
        .filter(|(_, f)| f.is("Authentication-Results"))
        .filter(|(_, f)| match AuthenticationResults::parse(f.value) {
            Ok(ar) => {
                let id = ar.authserv_id.as_str();
                id.strip_suffix('.')
                    .unwrap_or(id)
                    .eq_ignore_ascii_case(ours)
            }
            // Unparseable: removed when our name stands anywhere in it as a whole word.
            // A lenient reader downstream could still take a malformed forgery for ours
            // (behind a comment, a quote or a control character); a malformed field of
            // another host is worth nothing to keep.
            Err(_) => names_word(f.value, ours),
        })
        .map(|(i, _)| i)
        .collect()
}

/// Whether `word` (a host name) appears in `value`, case-insensitively, not as part of a
/// longer name (`mx.example.org` is not in `mx.example.org.evil` or `amx.example.org`),
/// in its absolute form too (`mx.example.org.`).
fn names_word(value: &[u8], word: &str) -> bool {
    let w = word.as_bytes();
    if w.is_empty() || value.len() < w.len() {
        return false;
    }
    let part_of_name = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
    let ends_name = |at: usize| value.get(at).is_none_or(|&b| !part_of_name(b));
    (0..=value.len() - w.len()).any(|i| {
        let end = i + w.len();
        value[i..end].eq_ignore_ascii_case(w)
            && (i == 0 || !part_of_name(value[i - 1]))
            && (ends_name(end) || (value[end] == b'.' && ends_name(end + 1)))
    })
}

// Compatibility helpers used by the CLI before the full pipeline.

/// The `spf=` clause text.
pub fn spf_clause(outcome: &SpfOutcome) -> String {
    ResInfo::from_spf(outcome).to_text()
}

/// The `dkim=` clause text.
pub fn dkim_clause(outcome: &DkimOutcome) -> String {
    ResInfo::from_dkim(outcome).to_text()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a sender controls (a From, a MAIL FROM, a domain in a comment) cannot make
    /// the field long: comments and reasons are cut to [`MAX_FREE_TEXT`] characters,
    /// a value past [`MAX_PVALUE`] octets is shown cut, and the folded value breaks a
    /// line before a part that would take it past [`FOLD_AT`] octets. What stays short
    /// is written as before, and the field still parses.
    #[test]
    fn long_sender_controlled_text_is_cut_and_lines_stay_short() {
        let long_local = "a".repeat(60_000);
        let mut spf = ResInfo::new("spf", "fail")
            .with("smtp", "mailfrom", &format!("{long_local}@example.com"))
            .with("smtp", "helo", &"h".repeat(5_000));
        spf.comment = Some(format!(
            "domain of {} does not designate",
            "d".repeat(70_000)
        ));
        spf.reason = Some("r\u{e9}".repeat(10_000));
        let mut many = ResInfo::new("x-many", "pass");
        for name in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"] {
            many = many.with("header", name, &format!("{}@example.com", "b".repeat(300)));
        }
        let short = ResInfo::new("dmarc", "pass").with("header", "from", "example.com");
        let ar = AuthenticationResults {
            authserv_id: "mx.example.net".into(),
            version: None,
            results: vec![spf, many, short],
        };
        let value = ar.to_value();
        assert!(value.len() < 6_000, "{} octets", value.len());
        for line in value.split("\r\n") {
            assert!(line.len() <= FOLD_AT + 2, "a line of {} octets", line.len());
        }
        assert!(value.contains(&format!("smtp.mailfrom=\"{}...\"", "a".repeat(64))));
        assert!(
            value.ends_with(";\r\n\tdmarc=pass header.from=example.com"),
            "{value}"
        );
        let parsed = AuthenticationResults::parse(value.as_bytes()).expect("parses");
        assert_eq!(parsed.results.len(), 3);
        assert_eq!(parsed.results[1].properties.len(), 10);
        // One line: the same cuts, no line break.
        let line = ar.to_line();
        assert!(!line.contains('\n') && line.len() < 6_000);
    }

    /// The token table is RFC 2045 §5.1's definition: visible ASCII but tspecials.
    #[test]
    fn token_table_matches_the_definition() {
        let token = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?=".contains(c))
        };
        for c in (0..0x3_0000).filter_map(char::from_u32) {
            for s in [format!("{c}"), format!("a{c}"), format!("{c}b.c")] {
                assert_eq!(is_token(&s), token(&s), "{s:?}");
            }
        }
        assert!(!is_token(""));
    }

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

    #[test]
    fn write_then_parse_gives_the_same_results() {
        let ar = AuthenticationResults {
            authserv_id: "mx.example.net".into(),
            version: None,
            results: vec![
                ResInfo::new("spf", "pass")
                    .with("smtp", "mailfrom", "\"evil;dkim=pass\"@attacker.example")
                    .with("smtp", "helo", "x) dmarc=pass (y"),
                {
                    let mut r = ResInfo::new("dkim", "fail").with(
                        "header",
                        "d",
                        "victim.example\"; dmarc=pass",
                    );
                    r.comment = Some("body hash (did) not verify \\".into());
                    r
                },
                ResInfo::new("dmarc", "fail")
                    .with("header", "from", "victim.example")
                    .with("policy", "dmarc", "reject"),
            ],
        };
        let text = ar.to_value();
        let back = AuthenticationResults::parse(text.as_bytes()).unwrap();
        assert_eq!(back, ar, "{text}");
        assert_eq!(back.results.len(), 3);
    }

    /// The one-line form is the folded one with each fold a space, even when a comment,
    /// a reason, a property or the authserv-id carries line breaks and tabs of its own.
    #[test]
    fn the_line_is_the_value_unfolded() {
        let hostile = "a\r\n\tb;\r\n\tdkim=pass (c)";
        let mut r = ResInfo::new("dkim", "fail").with("header", "d", hostile);
        r.comment = Some(hostile.into());
        r.reason = Some(hostile.into());
        for ar in [
            AuthenticationResults {
                authserv_id: "mx.example.net".into(),
                version: Some(1),
                results: vec![ResInfo::new("spf", "pass"), r],
            },
            AuthenticationResults {
                authserv_id: hostile.into(),
                version: None,
                results: Vec::new(),
            },
            AuthenticationResults {
                authserv_id: hostile.into(),
                version: None,
                results: vec![ResInfo::new("dmarc", "fail"), ResInfo::new("arc", "none")],
            },
        ] {
            let line = ar.to_line();
            assert_eq!(line, ar.to_value().replace("\r\n\t", " "));
            // A reader takes the line as it takes the folded value: the same results.
            let read = AuthenticationResults::parse(line.as_bytes()).unwrap();
            assert_eq!(read.results.len(), ar.results.len(), "{line}");
            assert_eq!(
                Some(read),
                AuthenticationResults::parse(ar.to_value().as_bytes()).ok()
            );
            assert!(!line.contains(['\r', '\n']), "{line}");
        }
    }
}
