//! SPF macros: RFC 7208 §7.
//!
//! A macro-string is checked when the record is parsed ([`check_macro_string`]) and
//! expanded when a term is evaluated ([`expand`]). The ABNF (§7.1):
//!
//! ```text
//! macro-string  = *( macro-expand / macro-literal )
//! macro-expand  = ( "%{" macro-letter transformers *delimiter "}" )
//!                 / "%%" / "%_" / "%-"
//! macro-literal = %x21-24 / %x26-7E
//! macro-letter  = "s" / "l" / "o" / "d" / "i" / "p" / "h" / "c" / "r" / "t" / "v"
//! transformers  = *DIGIT [ "r" ]
//! delimiter     = "." / "-" / "+" / "," / "/" / "_" / "="
//! ```

use std::fmt::Write as _;
use std::net::IpAddr;

/// Why a macro-string is malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MacroError {
    /// A `%` not followed by `{`, `%`, `_` or `-` (§7.1).
    BadPercent,
    /// `%{` without a closing `}`.
    Unterminated,
    /// A letter that is not a macro letter, or an explanation-only letter (`c`, `r`,
    /// `t`) outside `exp=` text (§7.3).
    BadLetter(char),
    /// A transformer of zero parts (§7.3: "the value MUST be nonzero").
    ZeroDigit,
    /// Something other than digits, `r` and delimiters after the letter.
    BadTransformer,
    /// A character outside `%x21-7E` (a space or a control character, or non-ASCII) in
    /// a domain-spec or modifier value.
    BadLiteral(char),
}

impl std::fmt::Display for MacroError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadPercent => f.write_str("'%' must be followed by '{', '%', '_' or '-'"),
            Self::Unterminated => f.write_str("macro '%{' is not closed by '}'"),
            Self::BadLetter(c) => write!(f, "'{c}' is not a macro letter here"),
            Self::ZeroDigit => f.write_str("a macro transformer of 0 parts"),
            Self::BadTransformer => f.write_str("malformed macro transformer"),
            Self::BadLiteral(c) => write!(f, "character {c:?} is not allowed"),
        }
    }
}

/// Where a macro-string is used: explanation text allows more (§7.1, §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacroContext {
    /// A domain-spec or modifier value: `c`, `r`, `t` are not allowed, nor spaces.
    Domain,
    /// The TXT of an `exp=` target: every letter, and spaces, are allowed.
    Explanation,
}

/// One piece of a macro-string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    Literal(&'a str),
    /// `%%`, `%_`, `%-`.
    Escape(&'static str),
    Macro {
        letter: char,
        digits: Option<u32>,
        reverse: bool,
        delimiters: &'a str,
    },
}

/// Splits a macro-string into pieces, validating it.
fn pieces(s: &str, ctx: MacroContext) -> impl Iterator<Item = Result<Piece<'_>, MacroError>> {
    let mut rest = s;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let Some(pct) = rest.find('%') else {
            let lit = rest;
            rest = "";
            return Some(check_literal(lit, ctx).map(|()| Piece::Literal(lit)));
        };
        if pct > 0 {
            let lit = &rest[..pct];
            rest = &rest[pct..];
            return Some(check_literal(lit, ctx).map(|()| Piece::Literal(lit)));
        }
        let bytes = rest.as_bytes();
        let piece = match bytes.get(1) {
            Some(b'%') => Piece::Escape("%"),
            Some(b'_') => Piece::Escape(" "),
            Some(b'-') => Piece::Escape("%20"),
            Some(b'{') => {
                let Some(close) = rest.find('}') else {
                    rest = "";
                    return Some(Err(MacroError::Unterminated));
                };
                let body = &rest[2..close];
                rest = &rest[close + 1..];
                return Some(parse_macro(body, ctx));
            }
            _ => {
                rest = "";
                return Some(Err(MacroError::BadPercent));
            }
        };
        rest = &rest[2..];
        Some(Ok(piece))
    })
}

fn check_literal(lit: &str, ctx: MacroContext) -> Result<(), MacroError> {
    match ctx {
        MacroContext::Domain => match lit.chars().find(|c| !matches!(c, '\x21'..='\x7e')) {
            Some(c) => Err(MacroError::BadLiteral(c)),
            None => Ok(()),
        },
        // Explanation text is any visible text plus spaces (§6.2 / §7.1 explain-string).
        MacroContext::Explanation => match lit.chars().find(|c| !matches!(c, '\x20'..='\x7e')) {
            Some(c) => Err(MacroError::BadLiteral(c)),
            None => Ok(()),
        },
    }
}

fn parse_macro(body: &str, ctx: MacroContext) -> Result<Piece<'_>, MacroError> {
    let mut chars = body.char_indices();
    let Some((_, letter)) = chars.next() else {
        return Err(MacroError::BadLetter('}'));
    };
    let lower = letter.to_ascii_lowercase();
    match lower {
        's' | 'l' | 'o' | 'd' | 'i' | 'p' | 'h' | 'v' => {}
        'c' | 'r' | 't' if ctx == MacroContext::Explanation => {}
        _ => return Err(MacroError::BadLetter(letter)),
    }
    let tail = &body[letter.len_utf8()..];
    let digit_len = tail.bytes().take_while(u8::is_ascii_digit).count();
    let digits = if digit_len > 0 {
        // Anything past 128 parts means "all parts" (a name has at most 127 labels).
        let n = tail[..digit_len]
            .parse::<u32>()
            .unwrap_or(u32::MAX)
            .min(1000);
        if n == 0 {
            return Err(MacroError::ZeroDigit);
        }
        Some(n)
    } else {
        None
    };
    let mut after = &tail[digit_len..];
    let reverse = if let Some(r) = after.strip_prefix(['r', 'R']) {
        after = r;
        true
    } else {
        false
    };
    if !after
        .chars()
        .all(|c| matches!(c, '.' | '-' | '+' | ',' | '/' | '_' | '='))
    {
        return Err(MacroError::BadTransformer);
    }
    Ok(Piece::Macro {
        letter,
        digits,
        reverse,
        delimiters: after,
    })
}

/// Validates a macro-string (§7.1) without expanding it.
pub fn check_macro_string(s: &str, ctx: MacroContext) -> Result<(), MacroError> {
    pieces(s, ctx).try_for_each(|p| p.map(|_| ()))
}

/// Whether the string ends with a macro-expand (`%{...}`, `%%`, `%_`, `%-`), for the
/// `domain-end` rule of §12.
pub(crate) fn ends_with_macro_expand(s: &str, ctx: MacroContext) -> bool {
    matches!(
        pieces(s, ctx).last(),
        Some(Ok(Piece::Macro { .. } | Piece::Escape(_)))
    )
}

/// The values the macro letters stand for (§7.2).
#[derive(Debug, Clone)]
pub struct MacroVars<'a> {
    /// `s`: the sender, `local-part@domain`.
    pub sender: &'a str,
    /// `l`: the sender's local-part.
    pub local_part: &'a str,
    /// `o`: the sender's domain.
    pub sender_domain: &'a str,
    /// `d`: the domain of the record being evaluated.
    pub domain: &'a str,
    /// `i`, `c`, `v`: the client address.
    pub ip: IpAddr,
    /// `h`: the HELO/EHLO domain.
    pub helo: &'a str,
    /// `r`: the receiving host's domain ("unknown" when not configured).
    pub receiver: &'a str,
    /// `t`: the current time, seconds since the epoch.
    pub now: u64,
}

/// Expands a (validated or not) macro-string. `p` is the validated domain name for the
/// `%{p}` macro, computed by the caller only when [`uses_p`] says it is needed.
pub fn expand(
    s: &str,
    ctx: MacroContext,
    vars: &MacroVars<'_>,
    p: Option<&str>,
) -> Result<String, MacroError> {
    let mut out = String::with_capacity(s.len() + 48);
    let mut scratch = String::new();
    for piece in pieces(s, ctx) {
        push_piece(piece?, vars, p, &mut scratch, &mut out);
        if bound(&mut out, ctx) {
            break;
        }
    }
    Ok(out)
}

/// The longest explanation kept (§7: "implementations MAY limit the length of the
/// resulting explanation string"); the rest is cut at a character boundary.
pub const MAX_EXPLANATION_BYTES: usize = 1024;
/// How much of the end of an expanded domain-spec is kept while expanding: only the
/// last 253 characters can survive the §7.3 truncation, so a longer tail keeps the
/// result exact while a hostile record (thousands of `%{l}` with a long local part)
/// cannot make the expansion grow without bound.
const DOMAIN_TAIL_BYTES: usize = 1024;

/// Keeps an expansion bounded as it grows; true when expansion should stop.
fn bound(out: &mut String, ctx: MacroContext) -> bool {
    let cut_at = |s: &str, mut i: usize| {
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    match ctx {
        MacroContext::Explanation => {
            if out.len() > MAX_EXPLANATION_BYTES {
                let end = cut_at(out, MAX_EXPLANATION_BYTES);
                out.truncate(end);
                return true;
            }
        }
        _ => {
            if out.len() > 2 * DOMAIN_TAIL_BYTES {
                let mut start = out.len() - DOMAIN_TAIL_BYTES;
                while !out.is_char_boundary(start) {
                    start += 1;
                }
                out.drain(..start);
            }
        }
    }
    false
}

/// Appends the expansion of one piece to `out`; `scratch` holds computed letter values.
fn push_piece(
    piece: Piece<'_>,
    vars: &MacroVars<'_>,
    p: Option<&str>,
    scratch: &mut String,
    out: &mut String,
) {
    match piece {
        Piece::Literal(l) => out.push_str(l),
        Piece::Escape(e) => out.push_str(e),
        Piece::Macro {
            letter,
            digits,
            reverse,
            delimiters,
        } => {
            // `%{i}` split on dots: its parts are the address's octets or nibbles,
            // written straight from the address (URL escaping changes none of them).
            if letter.eq_ignore_ascii_case(&'i') && matches!(delimiters, "" | ".") {
                push_ip(vars.ip, digits, reverse, out);
                return;
            }
            scratch.clear();
            let value = letter_value(letter.to_ascii_lowercase(), vars, p, scratch);
            if letter.is_ascii_uppercase() {
                let mut transformed = String::new();
                transform(value, digits, reverse, delimiters, &mut transformed);
                url_escape(&transformed, out);
            } else {
                transform(value, digits, reverse, delimiters, out);
            }
        }
    }
}

/// A macro-string split into its pieces once (§7.1), to be expanded many times: what
/// [`expand`] and [`uses_p`] give for the string, without parsing it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MacroString {
    pieces: Vec<OwnedPiece>,
    uses_p: bool,
    literal_len: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum OwnedPiece {
    Literal(Box<str>),
    Escape(&'static str),
    Macro {
        letter: char,
        digits: Option<u32>,
        reverse: bool,
        delimiters: Box<str>,
    },
}

impl OwnedPiece {
    fn get(&self) -> Piece<'_> {
        match self {
            Self::Literal(l) => Piece::Literal(l),
            Self::Escape(e) => Piece::Escape(e),
            Self::Macro {
                letter,
                digits,
                reverse,
                delimiters,
            } => Piece::Macro {
                letter: *letter,
                digits: *digits,
                reverse: *reverse,
                delimiters,
            },
        }
    }
}

impl MacroString {
    /// Splits and validates `s`; the error is the one [`expand`] would give.
    pub(crate) fn parse(s: &str, ctx: MacroContext) -> Result<Self, MacroError> {
        let pieces = pieces(s, ctx)
            .map(|p| {
                p.map(|p| match p {
                    Piece::Literal(l) => OwnedPiece::Literal(l.into()),
                    Piece::Escape(e) => OwnedPiece::Escape(e),
                    Piece::Macro {
                        letter,
                        digits,
                        reverse,
                        delimiters,
                    } => OwnedPiece::Macro {
                        letter,
                        digits,
                        reverse,
                        delimiters: delimiters.into(),
                    },
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            uses_p: uses_p(s),
            literal_len: s.len(),
            pieces,
        })
    }

    /// [`uses_p`] of the string.
    pub(crate) fn uses_p(&self) -> bool {
        self.uses_p
    }

    /// [`expand`] of the string.
    pub(crate) fn expand(&self, vars: &MacroVars<'_>, p: Option<&str>) -> String {
        let mut out = String::with_capacity(self.literal_len + 48);
        let mut scratch = String::new();
        for piece in &self.pieces {
            push_piece(piece.get(), vars, p, &mut scratch, &mut out);
            bound(&mut out, MacroContext::Domain);
        }
        out
    }
}

/// Whether a macro-string uses `%{p}` (which costs DNS lookups to expand).
pub fn uses_p(s: &str) -> bool {
    // Every `p` macro begins with "%{p" or "%{P"; most strings have neither.
    (s.contains("%{p") || s.contains("%{P"))
        && pieces(s, MacroContext::Explanation).any(
            |p| matches!(p, Ok(Piece::Macro { letter, .. }) if letter.eq_ignore_ascii_case(&'p')),
        )
}

/// The value of a (lowercase) macro letter; computed values are written into `scratch`.
fn letter_value<'v>(
    letter: char,
    vars: &'v MacroVars<'_>,
    p: Option<&'v str>,
    scratch: &'v mut String,
) -> &'v str {
    match letter {
        's' => vars.sender,
        'l' => vars.local_part,
        'o' => vars.sender_domain,
        'd' => vars.domain,
        'i' => {
            // §7.3: dotted decimal, or "dot-format" (32 nibbles separated by dots,
            // uppercase as in the §7.4 example "1.0.B.C.0...").
            push_ip(vars.ip, None, false, scratch);
            scratch
        }
        'c' => {
            let _ = write!(scratch, "{}", vars.ip);
            scratch
        }
        'v' => match vars.ip {
            IpAddr::V4(_) => "in-addr",
            IpAddr::V6(_) => "ip6",
        },
        'h' => vars.helo,
        'r' => vars.receiver,
        't' => {
            let _ = write!(scratch, "{}", vars.now);
            scratch
        }
        'p' => p.unwrap_or("unknown"),
        _ => "",
    }
}

fn push_decimal(n: u8, out: &mut String) {
    if n >= 100 {
        out.push(char::from(b'0' + n / 100));
    }
    if n >= 10 {
        out.push(char::from(b'0' + n / 10 % 10));
    }
    out.push(char::from(b'0' + n % 10));
}

/// §7.3: split on the delimiters (default "."), optionally reverse, keep the rightmost
/// `digits` parts, join with "."; the result is appended to `out`.
fn transform(value: &str, digits: Option<u32>, reverse: bool, delimiters: &str, out: &mut String) {
    if digits.is_none() && !reverse && (delimiters.is_empty() || delimiters == ".") {
        out.push_str(value);
        return;
    }
    let delims = if delimiters.is_empty() {
        "."
    } else {
        delimiters
    };
    // §7.1: delimiters are ASCII ("." / "-" / "+" / "," / "/" / "_" / "="): a bit set of
    // them is one shift and test per character, where `str::contains` was a search.
    let set = delims
        .bytes()
        .filter(|b| b.is_ascii())
        .fold(0u128, |set, b| set | 1 << b);
    let is_delim = |c: char| c.is_ascii() && set >> u32::from(c) & 1 == 1;
    // Byte offsets of the delimiters (all ASCII), without collecting the parts.
    let delim_at = |nth: usize| {
        value
            .char_indices()
            .filter(|&(_, c)| is_delim(c))
            .nth(nth)
            .map_or(value.len(), |(i, _)| i)
    };
    let parts = value.split(is_delim).count();
    let keep = digits.map_or(parts, |d| (d as usize).min(parts));
    let mut join = |part: &str, first: bool| {
        if !first {
            out.push('.');
        }
        out.push_str(part);
    };
    if reverse {
        // The last `keep` parts of the reversed list are the first `keep` parts,
        // backwards.
        let end = if keep == parts {
            value.len()
        } else {
            delim_at(keep - 1)
        };
        for (n, part) in value[..end].rsplit(is_delim).enumerate() {
            join(part, n == 0);
        }
    } else {
        let skip = parts - keep;
        let start = if skip == 0 { 0 } else { delim_at(skip - 1) + 1 };
        for (n, part) in value[start..].split(is_delim).enumerate() {
            join(part, n == 0);
        }
    }
}

/// [`transform`] of `%{i}`'s value (§7.3: dotted decimal for IPv4, dot-separated
/// uppercase nibbles for IPv6) with the default delimiter, from the address itself:
/// the parts are its 4 octets or 32 nibbles.
fn push_ip(ip: IpAddr, digits: Option<u32>, reverse: bool, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut parts = [0u8; 32];
    let n = match ip {
        IpAddr::V4(a) => {
            parts[..4].copy_from_slice(&a.octets());
            4
        }
        IpAddr::V6(a) => {
            for (k, b) in a.octets().into_iter().enumerate() {
                parts[2 * k] = b >> 4;
                parts[2 * k + 1] = b & 0x0f;
            }
            32
        }
    };
    let keep = digits.map_or(n, |d| usize::try_from(d).unwrap_or(n).min(n));
    // The rightmost `keep` parts; reversed, the first `keep` backwards.
    let (kept, backwards) = if reverse {
        (&parts[..keep], true)
    } else {
        (&parts[n - keep..n], false)
    };
    let mut push = |j: usize, part: u8| {
        if j > 0 {
            out.push('.');
        }
        if n == 4 {
            push_decimal(part, out);
        } else {
            out.push(char::from(HEX[usize::from(part)]));
        }
    };
    if backwards {
        kept.iter().rev().enumerate().for_each(|(j, &p)| push(j, p));
    } else {
        kept.iter().enumerate().for_each(|(j, &p)| push(j, p));
    }
}

/// §7.3: uppercase macro letters are URL-escaped (RFC 3986 unreserved kept).
fn url_escape(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// §7.3: "if the expanded domain name exceeds 253 characters ... the left side is
/// truncated to fit, by removing successive domain labels".
pub fn truncate_domain(mut name: &str) -> &str {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.len() <= 253 {
        return name;
    }
    while name.strip_suffix('.').unwrap_or(name).len() > 253 {
        match name.find('.') {
            Some(i) => name = &name[i + 1..],
            None => break,
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> MacroVars<'static> {
        MacroVars {
            sender: "strong-bad@email.example.com",
            local_part: "strong-bad",
            sender_domain: "email.example.com",
            domain: "email.example.com",
            ip: "192.0.2.3".parse().unwrap(),
            helo: "mx.example.org",
            receiver: "mx.example.net",
            now: 1_700_000_000,
        }
    }

    fn x(s: &str) -> String {
        expand(s, MacroContext::Explanation, &vars(), None).unwrap()
    }

    /// Issue 9: 5 KB of `%{l}` with a 100,000-byte local part expanded into a 100 MB
    /// explanation. RFC 7208 §7 lets the explanation be limited: 1 KiB, cut on a
    /// character boundary.
    #[test]
    fn regression_issue9_explanation_expansion_is_bounded() {
        let local = "\u{e9}".repeat(50_000);
        let sender = format!("{local}@example.com");
        let v = MacroVars {
            sender: &sender,
            local_part: &local,
            ..vars()
        };
        let text = "%{l}".repeat(1_250);
        let out = expand(&text, MacroContext::Explanation, &v, None).unwrap();
        assert!(out.len() <= MAX_EXPLANATION_BYTES, "{}", out.len());
        assert!(out.len() >= MAX_EXPLANATION_BYTES - 1);
        assert!(out.chars().all(|c| c == '\u{e9}'));
    }

    /// Domain-specs are bounded too, and the §7.3 truncation gives the same name as
    /// over the whole expansion (only its last 253 characters can remain).
    #[test]
    fn regression_issue9_domain_spec_expansion_is_bounded_and_exact() {
        let local = "ab.c".repeat(25_000);
        let sender = format!("{local}@example.com");
        let v = MacroVars {
            sender: &sender,
            local_part: &local,
            ..vars()
        };
        let spec = format!("{}.%{{d}}", "%{l}".repeat(200));
        let out = expand(&spec, MacroContext::Domain, &v, None).unwrap();
        assert!(
            out.len() <= 2 * DOMAIN_TAIL_BYTES + local.len(),
            "{}",
            out.len()
        );
        let whole = format!("{}.email.example.com", local.repeat(200));
        assert_eq!(truncate_domain(&out), truncate_domain(&whole));
        let compiled = MacroString::parse(&spec, MacroContext::Domain).unwrap();
        assert_eq!(
            truncate_domain(&compiled.expand(&v, None)),
            truncate_domain(&whole)
        );
    }

    /// The examples of RFC 7208 §7.4.
    #[test]
    fn rfc7208_7_4_examples() {
        assert_eq!(x("%{s}"), "strong-bad@email.example.com");
        assert_eq!(x("%{o}"), "email.example.com");
        assert_eq!(x("%{d}"), "email.example.com");
        assert_eq!(x("%{d4}"), "email.example.com");
        assert_eq!(x("%{d3}"), "email.example.com");
        assert_eq!(x("%{d2}"), "example.com");
        assert_eq!(x("%{d1}"), "com");
        assert_eq!(x("%{dr}"), "com.example.email");
        assert_eq!(x("%{d2r}"), "example.email");
        assert_eq!(x("%{l}"), "strong-bad");
        assert_eq!(x("%{l-}"), "strong.bad");
        assert_eq!(x("%{lr}"), "strong-bad");
        assert_eq!(x("%{lr-}"), "bad.strong");
        assert_eq!(x("%{l1r-}"), "strong");
        assert_eq!(
            x("%{ir}.%{v}._spf.%{d2}"),
            "3.2.0.192.in-addr._spf.example.com"
        );
        assert_eq!(x("%{lr-}.lp._spf.%{d2}"), "bad.strong.lp._spf.example.com");
        assert_eq!(
            x("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}"),
            "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"
        );
        assert_eq!(
            x("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}"),
            "3.2.0.192.in-addr.strong.lp._spf.example.com"
        );
        assert_eq!(
            x("%{d2}.trusted-domains.example.net"),
            "example.com.trusted-domains.example.net"
        );
        let mut v = vars();
        v.ip = "2001:db8::cb01".parse().unwrap();
        assert_eq!(
            expand("%{ir}.%{v}._spf.%{d2}", MacroContext::Domain, &v, None).unwrap(),
            "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com"
        );
    }

    /// The transformer (§7.3) as the RFC words it, to check the one without copies.
    fn reference_transform(
        value: &str,
        digits: Option<u32>,
        reverse: bool,
        delimiters: &str,
    ) -> String {
        let delims = if delimiters.is_empty() {
            "."
        } else {
            delimiters
        };
        let mut parts: Vec<&str> = value.split(|c| delims.contains(c)).collect();
        if reverse {
            parts.reverse();
        }
        let keep = digits.map_or(parts.len(), |d| (d as usize).min(parts.len()));
        parts[parts.len() - keep..].join(".")
    }

    #[test]
    fn transform_agrees_with_the_reference() {
        let values = [
            "",
            "a",
            "strong-bad",
            "email.example.com",
            "a.b-c.d+e,f/g_h=i.",
            ".leading",
            "trailing.",
            "a..b",
            "1.2.3.4",
        ];
        for value in values {
            for digits in [None, Some(1), Some(2), Some(3), Some(5), Some(1000)] {
                for reverse in [false, true] {
                    for delims in ["", ".", "-", ".-", "-+,/_=", "+"] {
                        let mut got = String::new();
                        transform(value, digits, reverse, delims, &mut got);
                        assert_eq!(
                            got,
                            reference_transform(value, digits, reverse, delims),
                            "{value:?} {digits:?} {reverse} {delims:?}"
                        );
                    }
                }
            }
        }
    }

    /// `%{i}` written from the address agrees with the generic path: its value as
    /// letter_value writes it, then transform (and URL escaping for `%{I}`).
    #[test]
    fn ip_parts_agree_with_the_transform_of_the_value() {
        let ips: [IpAddr; 5] = [
            "192.0.2.3".parse().unwrap(),
            "0.10.255.100".parse().unwrap(),
            "2001:db8::cb01".parse().unwrap(),
            "::".parse().unwrap(),
            "fe80::1:abcd:ef01:2345".parse().unwrap(),
        ];
        for ip in ips {
            let v = MacroVars { ip, ..vars() };
            let mut scratch = String::new();
            let value = letter_value('i', &v, None, &mut scratch).to_owned();
            for digits in (1..=33).map(Some).chain([None, Some(1000)]) {
                for reverse in [false, true] {
                    let mut want = String::new();
                    transform(&value, digits, reverse, ".", &mut want);
                    let mut escaped = String::new();
                    url_escape(&want, &mut escaped);
                    assert_eq!(escaped, want, "{ip}: %{{I}} escapes nothing");
                    let mut got = String::new();
                    push_ip(ip, digits, reverse, &mut got);
                    assert_eq!(got, want, "{ip} {digits:?} {reverse}");
                }
            }
        }
    }

    #[test]
    fn parsed_macro_strings_expand_as_strings_do() {
        let mut v = vars();
        for s in [
            "%{ir}.%{v}._spf.%{d2}",
            "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
            "%{S}.%{L}.%%%_%-.x.example",
            "%{p}.%{P2r}.example.com",
            "plain.example.com",
            "%{h}.%{o}.%{s}",
        ] {
            let m = MacroString::parse(s, MacroContext::Domain).unwrap();
            assert_eq!(m.uses_p(), uses_p(s), "{s}");
            for ip in ["192.0.2.3", "2001:db8::cb01"] {
                v.ip = ip.parse().unwrap();
                for p in [None, Some("mx.example.org")] {
                    assert_eq!(
                        m.expand(&v, p),
                        expand(s, MacroContext::Domain, &v, p).unwrap(),
                        "{s} {ip} {p:?}"
                    );
                }
            }
        }
        for bad in ["%{x}", "%{d0}", "%", "a b", "%{c}"] {
            assert_eq!(
                MacroString::parse(bad, MacroContext::Domain),
                Err(check_macro_string(bad, MacroContext::Domain).unwrap_err())
            );
        }
    }

    #[test]
    fn client_address_letters() {
        for ip in [
            "0.0.0.0",
            "1.2.3.4",
            "10.99.100.255",
            "192.0.2.3",
            "255.255.255.255",
        ] {
            let mut v = vars();
            v.ip = ip.parse().unwrap();
            let i = expand("%{i}", MacroContext::Explanation, &v, None).unwrap();
            assert_eq!(i, ip);
            let c = expand("%{c}", MacroContext::Explanation, &v, None).unwrap();
            assert_eq!(c, ip);
        }
        let mut v = vars();
        v.ip = "2001:db8::cb01".parse().unwrap();
        assert_eq!(
            expand("%{c} %{i2r}", MacroContext::Explanation, &v, None).unwrap(),
            "2001:db8::cb01 0.2"
        );
        assert_eq!(
            expand("%{I}", MacroContext::Domain, &v, None).unwrap(),
            "2.0.0.1.0.D.B.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.C.B.0.1"
        );
    }

    #[test]
    fn rfc7208_7_3_escapes_and_url_encoding() {
        assert_eq!(x("%%%_%-"), "% %20");
        assert_eq!(x("%{L}"), "strong-bad");
        assert_eq!(x("%{S}"), "strong-bad%40email.example.com");
        assert_eq!(x("%{c} %{r} %{t}"), "192.0.2.3 mx.example.net 1700000000");
    }

    #[test]
    fn rfc7208_7_1_syntax_errors() {
        let d = MacroContext::Domain;
        assert_eq!(
            check_macro_string("%{x}", d),
            Err(MacroError::BadLetter('x'))
        );
        assert_eq!(
            check_macro_string("%{c}", d),
            Err(MacroError::BadLetter('c'))
        );
        assert_eq!(check_macro_string("%{d0}", d), Err(MacroError::ZeroDigit));
        assert_eq!(check_macro_string("%{d", d), Err(MacroError::Unterminated));
        assert_eq!(check_macro_string("a%b", d), Err(MacroError::BadPercent));
        assert_eq!(check_macro_string("%", d), Err(MacroError::BadPercent));
        assert_eq!(
            check_macro_string("%{d2x}", d),
            Err(MacroError::BadTransformer)
        );
        assert_eq!(
            check_macro_string("a b", d),
            Err(MacroError::BadLiteral(' '))
        );
        assert!(check_macro_string("a b", MacroContext::Explanation).is_ok());
        assert!(check_macro_string("%{d99999999999999}", d).is_ok());
    }

    #[test]
    fn truncation_keeps_the_right_side() {
        let long = format!("{}.example.com", vec!["a".repeat(60); 5].join("."));
        let t = truncate_domain(&long);
        assert!(t.len() <= 253);
        assert!(t.ends_with(".example.com"));
        assert!(!t.starts_with('.'));
    }
}
