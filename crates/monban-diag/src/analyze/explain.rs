//! Every tag of a `DKIM-Signature` (RFC 6376 §3.5) explained in words, for people
//! reading a header.
//!
//! The explanations work on the tag list as written, so a signature that does not
//! verify, or does not even parse as a valid signature, is still explained tag by tag.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::datetime::format_utc;
use crate::i18n::{Lang, Msg};
use crate::msg;
use monban::dkim::tags;
use monban::message::Headers;

/// One tag and what it means.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TagExplanation {
    /// The tag name.
    pub tag: String,
    /// Its value (white space removed where the tag ignores it; long values shortened).
    pub value: String,
    /// What it means, in words (English).
    pub meaning: String,
    /// The same in the catalogue's words (any language).
    #[serde(skip)]
    pub text: Msg,
}

/// Header fields whose absence from `h=` lets anyone change them without breaking the
/// signature (RFC 6376 §5.4.1 recommends signing them).
const SHOULD_BE_SIGNED: [&str; 8] = [
    "subject",
    "date",
    "to",
    "cc",
    "message-id",
    "reply-to",
    "content-type",
    "mime-version",
];

/// The tag list of a `DKIM-Signature` value, as (name, value) pairs: strictly by
/// RFC 6376 §3.2 when it parses, else leniently (split at `;` and the first `=`), with
/// the strict error.
pub fn tag_pairs(value: &[u8]) -> (Vec<(String, String)>, Option<String>) {
    let text = String::from_utf8_lossy(value);
    let clean = |name: &str, v: &str| -> String {
        match name {
            "b" | "bh" | "h" | "z" => tags::strip_wsp(v),
            _ => v.split_whitespace().collect::<Vec<_>>().join(" "),
        }
    };
    match tags::parse(&text) {
        Ok(list) => (
            list.iter()
                .map(|t| (t.name.to_owned(), clean(t.name, t.value)))
                .collect(),
            None,
        ),
        Err(e) => {
            let pairs = text
                .split(';')
                .filter_map(|spec| spec.split_once('='))
                .map(|(n, v)| {
                    let n = n.trim().chars().take(32).collect::<String>();
                    let v = clean(&n, v.trim());
                    (n, v)
                })
                .filter(|(n, _)| !n.is_empty())
                .take(tags::MAX_TAGS)
                .collect();
            (pairs, Some(e.to_string()))
        }
    }
}

/// Shortens a long value for display: the start, an ellipsis and the length.
fn shorten(v: &str, keep: usize) -> String {
    if v.chars().count() <= keep + 8 {
        return v.to_owned();
    }
    let head: String = v.chars().take(keep).collect();
    format!("{head}\u{2026} ({} chars)", v.chars().count())
}

/// Whether `a` equals `b` or one is a subdomain of the other (the simple relaxed
/// alignment rule the analyzer uses).
pub fn related_domains(a: &str, b: &str) -> bool {
    let (a, b) = (
        a.trim_end_matches('.').to_ascii_lowercase(),
        b.trim_end_matches('.').to_ascii_lowercase(),
    );
    if a.is_empty() || b.is_empty() {
        return false;
    }
    a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}"))
}

/// Decodes DKIM-Quoted-Printable (§2.11): `=XX` escapes, white space ignored.
pub fn dkim_qp_decode(s: &str) -> String {
    let bytes: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (
                (bytes[i + 1] as char).to_digit(16),
                (bytes[i + 2] as char).to_digit(16),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The header fields copied into `z=` (§3.5): (name, value as signed).
pub fn copied_headers(z: &str) -> Vec<(String, String)> {
    tags::strip_wsp(z)
        .split('|')
        .take(64)
        .filter_map(|item| {
            let (n, v) = item.split_once(':')?;
            Some((dkim_qp_decode(n), dkim_qp_decode(v)))
        })
        .collect()
}

fn algorithm(a: &str) -> Msg {
    match a.to_ascii_lowercase().as_str() {
        "rsa-sha256" => msg!("tag-a-rsa-sha256"),
        "rsa-sha1" => msg!("tag-a-rsa-sha1"),
        "ed25519-sha256" => msg!("tag-a-ed25519"),
        _ => msg!("tag-a-unknown"),
    }
}

fn canonicalization(c: &str) -> Msg {
    let lower = c.to_ascii_lowercase();
    let (h, b) = lower.split_once('/').unwrap_or((lower.as_str(), "simple"));
    let header = match h {
        "relaxed" => msg!("tag-c-header-relaxed"),
        "simple" => msg!("tag-c-header-simple"),
        _ => msg!("tag-c-unknown"),
    };
    let body = match b {
        "relaxed" => msg!("tag-c-body-relaxed"),
        "simple" => msg!("tag-c-body-simple"),
        _ => msg!("tag-c-unknown"),
    };
    msg!("tag-c", header = header, body = body)
}

/// The most names of `h=` looked at (a real list has a few dozen).
const MAX_SIGNED_NAMES: usize = 1_000;
/// The most distinct names listed in words.
const MAX_LISTED: usize = 30;

fn signed_headers(h: &str, headers: &Headers) -> Msg {
    let all = h.split(':').filter(|n| !n.is_empty()).count();
    let names: Vec<String> = h
        .split(':')
        .filter(|n| !n.is_empty())
        .take(MAX_SIGNED_NAMES)
        .map(|n| n.to_ascii_lowercase())
        .collect();
    // Counts by name, in the signature and in the header: maps, so a hostile h= of
    // thousands of names costs linear time.
    let mut in_h: HashMap<&str, usize> = HashMap::new();
    let mut distinct: Vec<&str> = Vec::new();
    for n in &names {
        let c = in_h.entry(n.as_str()).or_insert(0);
        if *c == 0 {
            distinct.push(n);
        }
        *c += 1;
    }
    let mut in_header: HashMap<String, usize> = HashMap::new();
    for f in headers.fields() {
        *in_header
            .entry(String::from_utf8_lossy(f.name).to_ascii_lowercase())
            .or_insert(0) += 1;
    }
    let list = |v: &[&str]| -> Msg {
        let names = v
            .iter()
            .take(MAX_LISTED)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        if v.len() > MAX_LISTED {
            msg!("names-and-more", names = names, n = v.len() - MAX_LISTED)
        } else {
            msg!("names", names = names)
        }
    };
    let mut parts = vec![if all > MAX_SIGNED_NAMES {
        msg!(
            "tag-h-signed-capped",
            n = all,
            names = list(&distinct),
            max = MAX_SIGNED_NAMES
        )
    } else {
        msg!("tag-h-signed", n = all, names = list(&distinct))
    }];
    let over: Vec<&str> = distinct
        .iter()
        .copied()
        .filter(|n| in_h[n] > in_header.get(*n).copied().unwrap_or(0))
        .collect();
    if !over.is_empty() {
        parts.push(msg!("tag-h-over-signed", names = list(&over)));
    }
    let unsigned: Vec<&str> = SHOULD_BE_SIGNED
        .iter()
        .copied()
        .filter(|n| !in_h.contains_key(n) && in_header.contains_key(*n))
        .collect();
    if !unsigned.is_empty() {
        parts.push(msg!("tag-h-unsigned", names = unsigned.join(", ")));
    }
    if !in_h.contains_key("from") {
        parts.push(msg!("tag-h-from-unsigned"));
    }
    msg!("joined", parts = parts)
}

fn number(v: &str) -> Option<i64> {
    (!v.is_empty() && v.len() <= 18 && v.bytes().all(|b| b.is_ascii_digit()))
        .then(|| v.parse().ok())
        .flatten()
}

/// What a recorded method result means (RFC 8601 §2.7 and each method's RFC): the
/// method in words, then the result.
pub fn result_meaning(method: &str, result: &str) -> Msg {
    let what = match method {
        "spf" => msg!("ar-method-spf"),
        "dkim" => msg!("ar-method-dkim"),
        "dmarc" => msg!("ar-method-dmarc"),
        "arc" => msg!("ar-method-arc"),
        "iprev" => msg!("ar-method-iprev"),
        "sender-id" => msg!("ar-method-sender-id"),
        "domainkeys" => msg!("ar-method-domainkeys"),
        "dkim-adsp" => msg!("ar-method-dkim-adsp"),
        "auth" => msg!("ar-method-auth"),
        "dkim2" => msg!("ar-method-dkim2"),
        "dnswl" | "x-dnswl" => msg!("ar-method-dnswl"),
        m if m.contains("dnsbl") || m.ends_with("-rbl") => msg!("ar-method-dnsbl"),
        _ => msg!("ar-method-other"),
    };
    let says = match (method, result) {
        ("iprev", "fail") => msg!("ar-result-iprev-fail"),
        ("iprev", "permerror") => msg!("ar-result-iprev-permerror"),
        ("sender-id", "fail") => msg!("ar-result-sender-id-fail"),
        ("dkim-adsp", "discard") => msg!("ar-result-adsp-discard"),
        ("dkim-adsp", "nxdomain") => msg!("ar-result-adsp-nxdomain"),
        ("dkim-adsp", "unknown") => msg!("ar-result-adsp-unknown"),
        (_, "pass") => msg!("ar-result-pass"),
        (_, "fail" | "hardfail") => msg!("ar-result-fail"),
        (_, "softfail") => msg!("ar-result-softfail"),
        (_, "neutral") => msg!("ar-result-neutral"),
        (_, "none") => msg!("ar-result-none"),
        (_, "temperror") => msg!("ar-result-temperror"),
        (_, "permerror") => msg!("ar-result-permerror"),
        (_, "policy") => msg!("ar-result-policy"),
        (_, "listed") => msg!("ar-result-listed"),
        (_, "not-listed") => msg!("ar-result-not-listed"),
        (_, "skipped") => msg!("ar-result-skipped"),
        (_, other) => msg!(
            "ar-result-other",
            result = other.chars().take(64).collect::<String>()
        ),
    };
    msg!("ar-meaning", method = what, result = says)
}

/// Explains each tag of a signature. `from_domain` is the author domain, for `d=`.
pub fn explain(
    pairs: &[(String, String)],
    headers: &Headers,
    from_domain: Option<&str>,
) -> Vec<TagExplanation> {
    let get = |n: &str| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let d = get("d").unwrap_or("").to_ascii_lowercase();
    let mut out = Vec::with_capacity(pairs.len() + 1);
    for (tag, value) in pairs {
        let text = match tag.as_str() {
            "v" if value == "1" => msg!("tag-v"),
            "v" => msg!("tag-v-unknown", value = value),
            "a" => algorithm(value),
            "b" => match B64.decode(value.as_bytes()) {
                Ok(sig) => {
                    let n = sig.len();
                    let alg = get("a").unwrap_or("").to_ascii_lowercase();
                    if alg.starts_with("rsa") {
                        msg!("tag-b-rsa", n = n, bits = n * 8)
                    } else {
                        msg!("tag-b", n = n)
                    }
                }
                Err(_) => msg!("tag-b-bad"),
            },
            "bh" => {
                let c = get("c").unwrap_or("simple/simple").to_ascii_lowercase();
                let body_c = c.split_once('/').map_or("simple", |(_, b)| b);
                let hash = if get("a").is_some_and(|a| a.eq_ignore_ascii_case("rsa-sha1")) {
                    "SHA-1"
                } else {
                    "SHA-256"
                };
                match get("l") {
                    Some(l) => msg!("tag-bh-part", hash = hash, l = l, c = body_c),
                    None => msg!("tag-bh", hash = hash, c = body_c),
                }
            }
            "c" => canonicalization(value),
            "d" => {
                let rel = match from_domain {
                    Some(f) if f.eq_ignore_ascii_case(&d) => msg!("tag-d-same"),
                    Some(f) if related_domains(f, &d) => msg!("tag-d-related", from = f),
                    Some(f) => msg!("tag-d-third-party", from = f),
                    None => msg!("tag-d-no-from"),
                };
                msg!("tag-d", rel = rel)
            }
            "h" => signed_headers(value, headers),
            "i" => msg!("tag-i", value = value),
            "l" => match number(value) {
                Some(l) => msg!("tag-l", l = l),
                None => msg!("tag-l-bad"),
            },
            "q" => msg!("tag-q"),
            "s" => msg!("tag-s", value = value, d = &d),
            "t" => match number(value) {
                Some(t) => msg!("tag-t", time = format_utc(t)),
                None => msg!("tag-t-bad"),
            },
            "x" => match number(value) {
                Some(x) => match get("t").and_then(number) {
                    Some(t) => msg!(
                        "tag-x-after",
                        time = format_utc(x),
                        after = crate::i18n::duration(x - t)
                    ),
                    None => msg!("tag-x", time = format_utc(x)),
                },
                None => msg!("tag-x-bad"),
            },
            "z" => {
                let copied = copied_headers(value);
                let list: Vec<String> = copied
                    .iter()
                    .map(|(n, v)| format!("{n}: {}", shorten(v.trim(), 60)))
                    .collect();
                msg!("tag-z", fields = list.join(" | "))
            }
            _ => msg!("tag-unknown"),
        };
        let shown = match tag.as_str() {
            "b" => shorten(value, 16),
            "bh" | "h" | "z" => shorten(value, 120),
            _ => shorten(value, 200),
        };
        out.push(TagExplanation {
            tag: tag.clone(),
            value: shown,
            meaning: text.text(Lang::En),
            text,
        });
    }
    if get("c").is_none() {
        let text = msg!("tag-c-absent", c = canonicalization("simple/simple"));
        out.push(TagExplanation {
            tag: "c".into(),
            value: String::new(),
            meaning: text.text(Lang::En),
            text,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 30 distinct names are listed in words; with 31 the first 30 are, then "and 1
    /// more".
    #[test]
    fn names_are_listed_up_to_max_listed() {
        let headers = Headers::parse(b"From: a@example.com\r\n").unwrap();
        for n in [MAX_LISTED, MAX_LISTED + 1] {
            let names: Vec<String> = std::iter::once("from".to_owned())
                .chain((1..n).map(|i| format!("x-n{i}")))
                .collect();
            let sig = format!(
                " v=1; a=rsa-sha256; d=example.com; s=s; h={}; bh=AAAA; b=AAAA",
                names.join(":")
            );
            let (pairs, _) = tag_pairs(sig.as_bytes());
            let e = explain(&pairs, &headers, Some("example.com"));
            let h = &e.iter().find(|x| x.tag == "h").unwrap().meaning;
            // The signed names (the over-signed ones are listed after).
            let signed = h.split("over-signed").next().unwrap();
            assert!(signed.contains("x-n29"), "{h}");
            if n == MAX_LISTED {
                assert!(!h.contains(" and "), "{h}");
            } else {
                assert!(!signed.contains("x-n30"), "{h}");
                assert!(signed.contains("x-n29 and 1 more"), "{h}");
            }
        }
    }

    #[test]
    fn rfc6376_3_5_tags_in_words() {
        let headers = Headers::parse(
            b"From: a@example.com\r\nSubject: x\r\nTo: b@example.net\r\nReply-To: c@example.org\r\n",
        )
        .unwrap();
        let (pairs, err) = tag_pairs(b" v=1; a=rsa-sha256; d=mail.example.com; s=s1;\r\n\th=from:from:subject; l=10; t=1795309200; x=1795914000; bh=AAAA; b=AAAA\r\n\tBBBB; foo=bar");
        assert!(err.is_none());
        assert_eq!(pairs[4], ("h".into(), "from:from:subject".into()));
        let e = explain(&pairs, &headers, Some("example.com"));
        let meaning = |t: &str| e.iter().find(|x| x.tag == t).unwrap().meaning.clone();
        assert!(
            meaning("d").contains("relaxed alignment"),
            "{}",
            meaning("d")
        );
        assert!(meaning("h").contains("over-signed"));
        assert!(meaning("h").contains("to, reply-to"), "{}", meaning("h"));
        assert!(meaning("l").contains("first 10 bytes"));
        assert_eq!(meaning("t"), "signed at 2026-11-22T01:00:00Z");
        assert!(
            meaning("x").contains("7 d after signing"),
            "{}",
            meaning("x")
        );
        assert!(meaning("b").contains("6 bytes"));
        assert!(meaning("foo").contains("unknown tag"));
        assert!(meaning("c").contains("default"));
    }

    #[test]
    fn rfc6376_2_11_copied_headers() {
        let z = copied_headers(
            "From:foo@eng.example.net|To:joe@example.com|\r\n Subject:demo=20run|Date:July=205,=202005=203:44:08=20PM=20-0700",
        );
        assert_eq!(z[2], ("Subject".into(), "demo run".into()));
        assert_eq!(z[3].1, "July 5, 2005 3:44:08 PM -0700");
        assert_eq!(dkim_qp_decode("a=3"), "a=3");
        assert_eq!(dkim_qp_decode("=e3=81=82"), "\u{3042}");
    }

    #[test]
    fn lenient_tag_lists() {
        let (pairs, err) = tag_pairs(b"v=1; d=example.com; d=again; broken");
        assert!(err.is_some());
        assert_eq!(pairs.len(), 3);
        assert!(related_domains("example.com", "mail.example.com"));
        assert!(related_domains("EXAMPLE.com.", "example.com"));
        assert!(!related_domains("example.com", "badexample.com"));
        assert!(!related_domains("", "example.com"));
    }
}
