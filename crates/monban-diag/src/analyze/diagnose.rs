//! Why a DKIM signature fails, as far as the message can tell (RFC 6376 §3.7, §6.1.3).
//!
//! - The body hash is recomputed: if it matches `bh=`, the body is intact and the
//!   damage is in the header fields; if it does not, the body with its last 1 to
//!   [`MAX_FOOTER_LINES`] lines removed is hashed too, and a match means that a footer
//!   of that many lines was appended (a mailing list's, typically).
//! - With the signer's key, the signature over the header fields is checked as it
//!   is, then over reconstructions of the likely original: the Subject without a
//!   leading `[tag]`, the fields unfolded (re-folding breaks `c=simple`), the signed
//!   fields that sit above the signature (added later) left out. A reconstruction that
//!   verifies confirms what changed.
//! - Without the key, the same causes are reported as likely, not confirmed; and a
//!   `z=` tag (copied header fields) shows exactly which fields changed.
//!
//! Everything is pure: the caller fetches the key ([`monban::dkim::key::fetch`], the
//! verifier's own key fetch).

use monban::crypto::{AwsLc, HashAlgorithm, Hasher, SignatureVerifier, hash};

use super::explain::{copied_headers, related_domains};
use crate::i18n::{Lang, Msg};
use crate::msg;
use monban::dkim::canonicalization::{BodyCanonicalizer, Canonicalization};
use monban::dkim::crypto::VerifyError;
use monban::dkim::key::KeyRecord;
use monban::dkim::signature::SignedHeaders;
use monban::dkim::signature::{Algorithm, DkimSignature};
use monban::dkim::verify::{pick_fields_from, push_field, signature_field};
use monban::message::{HeaderField, Headers};

/// The longest footer looked for, in lines.
pub const MAX_FOOTER_LINES: usize = 20;

/// One thing the diagnosis found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// What kind of change: `body_intact`, `body_changed`, `footer_appended`,
    /// `unsigned_body_content`, `headers_intact`, `headers_changed`, `subject_tag`,
    /// `header_added`, `refolded`, `header_changed`, `from_rewritten`,
    /// `fragile_canonicalization`, `signature_verifies`, `invalid_signature`,
    /// `key_unusable`.
    pub kind: &'static str,
    /// Whether a hash or signature check proves it (else it is a likely cause).
    pub confirmed: bool,
    /// The finding in words (English).
    pub message: String,
    /// The same in the catalogue's words (any language).
    #[serde(skip)]
    pub text: Msg,
}

/// The diagnosis of one signature.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Diagnosis {
    /// Whether the body hash matches `bh=` (None: the signature does not parse).
    pub body_hash_matches: Option<bool>,
    /// The length of the canonicalized body.
    pub canonical_body_length: Option<u64>,
    /// Whether the signature over the header fields verifies (None: no key given).
    pub header_signature_verifies: Option<bool>,
    /// What was found, most important first.
    pub findings: Vec<Finding>,
}

impl Diagnosis {
    fn add(&mut self, kind: &'static str, confirmed: bool, text: Msg) {
        self.findings.push(Finding {
            kind,
            confirmed,
            message: text.text(Lang::En),
            text,
        });
    }

    /// Whether a finding of this kind is present.
    pub fn has(&self, kind: &str) -> bool {
        self.findings.iter().any(|f| f.kind == kind)
    }
}

fn hash_alg(a: Algorithm) -> HashAlgorithm {
    if a == Algorithm::RsaSha1 {
        HashAlgorithm::Sha1
    } else {
        HashAlgorithm::Sha256
    }
}

fn canonical_body(c: Canonicalization, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 2);
    let mut canon = BodyCanonicalizer::new(c);
    canon.update(body, &mut out);
    canon.finish(&mut out);
    out
}

/// The first line of some canonical text, shortened, for messages.
fn first_line(text: &[u8]) -> String {
    let line = text
        .split(|&b| b == b'\n')
        .find(|l| l.iter().any(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n')));
    let s = String::from_utf8_lossy(line.unwrap_or(b""))
        .trim()
        .to_owned();
    if s.chars().count() > 60 {
        format!("{}\u{2026}", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

/// Looks for a footer: the number of lines K (1..=20) whose removal from the end of
/// the canonical body `c` makes its hash equal `want`. One pass of hashing: the
/// candidates are prefixes of `c`, hashed with one running context that is cloned at
/// each candidate's end.
fn find_footer(
    c: &[u8],
    canon: Canonicalization,
    alg: HashAlgorithm,
    want: &[u8],
) -> Option<usize> {
    // Line ends (offsets just past each CRLF).
    let mut ends = Vec::new();
    let mut i = 0;
    while let Some(p) = c[i..].windows(2).position(|w| w == b"\r\n") {
        i += p + 2;
        ends.push(i);
    }
    let lines = ends.len();
    let is_empty_line = |k: usize| {
        let start = if k == 0 { 0 } else { ends[k - 1] };
        ends[k] - start == 2
    };
    // (prefix end, K) for each K; a prefix loses its trailing empty lines, as
    // canonicalization would have removed them.
    let mut candidates: Vec<(Option<usize>, usize)> = Vec::new();
    for k in 1..=MAX_FOOTER_LINES.min(lines) {
        let mut keep = lines - k;
        while keep > 0 && is_empty_line(keep - 1) {
            keep -= 1;
        }
        candidates.push(((keep > 0).then(|| ends[keep - 1]), k));
    }
    // An all-removed body canonicalizes to CRLF (simple) or nothing (relaxed).
    if candidates.iter().any(|(end, _)| end.is_none()) {
        let empty: &[u8] = match canon {
            Canonicalization::Simple => b"\r\n",
            Canonicalization::Relaxed => b"",
        };
        if hash(alg, empty) == want {
            return candidates
                .iter()
                .filter(|(e, _)| e.is_none())
                .map(|(_, k)| *k)
                .min();
        }
    }
    let mut ordered: Vec<(usize, usize)> = candidates
        .iter()
        .filter_map(|(e, k)| e.map(|e| (e, *k)))
        .collect();
    ordered.sort_unstable();
    let mut ctx = Hasher::new(alg);
    let mut pos = 0;
    let mut best: Option<usize> = None;
    for (end, k) in ordered {
        ctx.update(&c[pos..end]);
        pos = end;
        if ctx.clone().finish() == want {
            best = Some(best.map_or(k, |b: usize| b.min(k)));
        }
    }
    best
}

/// The body half of the diagnosis.
fn diagnose_body(sig: &DkimSignature, body: &[u8], author: bool, d: &mut Diagnosis) {
    let canon = sig.body_canonicalization;
    let c = canonical_body(canon, body);
    let alg = hash_alg(sig.algorithm);
    d.canonical_body_length = Some(c.len() as u64);
    let signed = match sig.body_length {
        Some(l) => &c[..c.len().min(usize::try_from(l).unwrap_or(usize::MAX))],
        None => &c[..],
    };
    let matches = hash(alg, signed) == sig.body_hash.as_slice();
    d.body_hash_matches = Some(matches);
    if matches {
        d.add("body_intact", true, msg!("diag-body-intact"));
        if let Some(l) = sig.body_length
            && (c.len() as u64) > l
        {
            let extra = &c[signed.len()..];
            d.add(
                "unsigned_body_content",
                true,
                msg!(
                    "diag-unsigned-body",
                    l = l,
                    n = extra.len(),
                    start = first_line(extra)
                ),
            );
        }
        return;
    }
    d.add("body_changed", true, msg!("diag-body-changed"));
    if let Some(l) = sig.body_length {
        if (c.len() as u64) < l {
            d.add(
                "body_changed",
                true,
                msg!("diag-body-shorter", l = l, n = l - c.len() as u64),
            );
        }
        return;
    }
    match find_footer(&c, canon, alg, &sig.body_hash) {
        Some(k) => {
            // Where the footer starts in the canonical body.
            let mut starts: Vec<usize> = vec![0];
            let mut i = 0;
            while let Some(p) = c[i..].windows(2).position(|w| w == b"\r\n") {
                i += p + 2;
                starts.push(i);
            }
            let lines = starts.len() - 1;
            let footer = &c[starts[lines - k]..];
            d.add(
                "footer_appended",
                true,
                msg!("diag-footer", n = k, start = first_line(footer)),
            );
        }
        None if author => d.add(
            "body_changed",
            false,
            msg!("diag-not-a-footer", max = MAX_FOOTER_LINES),
        ),
        None => {}
    }
}

/// How signed fields are re-unfolded when reconstructing the original.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unfold {
    /// As received.
    No,
    /// CRLF removed before the white space that continues a line.
    RemoveCrlf,
    /// CRLF and the white space after it become one space.
    ToSpace,
}

/// A reconstruction of the header as signed.
#[derive(Debug, Clone, Copy)]
struct Edits {
    detag: bool,
    unfold: Unfold,
    /// Unfold only this field (an index into the fields), or all of them.
    unfold_only: Option<usize>,
    drop_above: bool,
}

impl Edits {
    const NONE: Self = Self {
        detag: false,
        unfold: Unfold::No,
        unfold_only: None,
        drop_above: false,
    };

    fn unfolds(&self, field: usize) -> Unfold {
        match self.unfold_only {
            Some(i) if i != field => Unfold::No,
            _ => self.unfold,
        }
    }
}

/// Folded fields tried one at a time when looking for the one a relay re-folded.
const MAX_SINGLE_UNFOLDS: usize = 16;

fn unfold(value: &[u8], how: Unfold) -> Vec<u8> {
    if how == Unfold::No {
        return value.to_vec();
    }
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i..].starts_with(b"\r\n") {
            i += 2;
            if how == Unfold::ToSpace {
                while i < value.len() && matches!(value[i], b' ' | b'\t') {
                    i += 1;
                }
                out.push(b' ');
            }
            continue;
        }
        out.push(value[i]);
        i += 1;
    }
    out
}

/// The Subject value without a leading `[tag]` (after an optional `Re:`), and the tag.
fn detag(value: &[u8]) -> Option<(Vec<u8>, String)> {
    let text = std::str::from_utf8(value).ok()?;
    let lead = text.len() - text.trim_start().len();
    let mut rest = &text[lead..];
    let mut prefix_len = lead;
    for re in ["Re:", "RE:", "re:", "Fwd:", "FW:", "Fw:"] {
        if let Some(r) = rest.strip_prefix(re) {
            let r2 = r.trim_start();
            prefix_len += rest.len() - r2.len();
            rest = r2;
            break;
        }
    }
    let inner = rest.strip_prefix('[')?;
    let close = inner.find(']')?;
    if close == 0 || close > 64 || inner[..close].contains(['\r', '\n']) {
        return None;
    }
    let tag = format!("[{}]", &inner[..close]);
    let after = &inner[close + 1..];
    let after = after
        .strip_prefix(' ')
        .or_else(|| after.strip_prefix('\t'))
        .unwrap_or(after);
    let mut out = text.as_bytes()[..prefix_len].to_vec();
    out.extend_from_slice(after.as_bytes());
    Some((out, tag))
}

/// [`pick_fields_from`] at `first` over every field but the signature's own, at
/// `sig_pos`, as indexes into `fields`: a signature is not among the fields its `h=`
/// picks (§3.7), as the verifier's `header_data` picks them.
fn picks_without(
    fields: &[HeaderField<'_>],
    signed: &SignedHeaders,
    sig_pos: usize,
    first: usize,
) -> Vec<usize> {
    let others: Vec<HeaderField<'_>> = fields
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != sig_pos)
        .map(|(_, f)| *f)
        .collect();
    let first = if first > sig_pos { first - 1 } else { first };
    pick_fields_from(&others, signed, first)
        .into_iter()
        .flatten()
        .map(|i| if i >= sig_pos { i + 1 } else { i })
        .collect()
}

/// The header data of §3.7 for a reconstruction: `picks` are the fields `h=` selects
/// ([`picks_without`]).
fn header_data(
    fields: &[HeaderField<'_>],
    picks: &[usize],
    sig_pos: usize,
    sig: &DkimSignature,
    e: Edits,
) -> Vec<u8> {
    let canon = sig.header_canonicalization;
    let mut out = Vec::with_capacity(2048);
    for &i in picks {
        let f = &fields[i];
        let mut value = f.value.to_vec();
        if e.detag
            && f.is("subject")
            && let Some((v, _)) = detag(&value)
        {
            value = v;
        }
        let value = unfold(&value, e.unfolds(i));
        push_field(f, &value, canon, &mut out);
        out.extend_from_slice(b"\r\n");
    }
    let f = fields[sig_pos];
    signature_field(f, &unfold(f.value, e.unfolds(sig_pos)), canon, &mut out);
    out
}

/// The signed fields picked by `h=` that sit above the signature field: added later.
fn picked_above(fields: &[HeaderField<'_>], picks: &[usize], sig_pos: usize) -> Vec<String> {
    let mut above: Vec<String> = Vec::new();
    for &i in picks {
        if i < sig_pos {
            let name = fields[i].name_str().into_owned();
            if !above.iter().any(|a| a.eq_ignore_ascii_case(&name)) {
                above.push(name);
            }
        }
    }
    above
}

/// Diagnoses signature number `index` (0-based, in header order) of a message whose
/// body is `body` (CRLF form). With the signer's `key`, header changes are confirmed;
/// without it they are only suspected.
pub fn diagnose(
    headers: &Headers,
    body: &[u8],
    index: usize,
    key: Option<&KeyRecord>,
) -> Diagnosis {
    let mut d = Diagnosis::default();
    let fields: Vec<HeaderField<'_>> = headers.fields().collect();
    let Some(sig_pos) = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.is("DKIM-Signature"))
        .nth(index)
        .map(|(i, _)| i)
    else {
        return d;
    };
    let sig = match DkimSignature::parse(fields[sig_pos].value) {
        Ok(s) => s,
        Err(e) => {
            d.add(
                "invalid_signature",
                true,
                msg!("diag-invalid-signature", error = e.to_string()),
            );
            return d;
        }
    };
    let from_domain = monban::dmarc::author_domain(headers).ok();
    let author = from_domain
        .as_deref()
        .is_some_and(|f| related_domains(f, &sig.domain));
    diagnose_body(&sig, body, author, &mut d);

    let subject_signed = sig.signed_headers.contains("subject");
    let tag = subject_signed
        .then(|| fields.iter().rev().find(|f| f.is("subject")))
        .flatten()
        .and_then(|f| detag(f.value))
        .map(|(_, t)| t);
    let picks = picks_without(&fields, &sig.signed_headers, sig_pos, 0);
    let picks_below = picks_without(&fields, &sig.signed_headers, sig_pos, sig_pos);
    let above = picked_above(&fields, &picks, sig_pos);
    let folded = sig.header_canonicalization == Canonicalization::Simple;

    let mut confirmed_edits: Option<Edits> = None;
    if let Some(key) = key {
        let check = |e: Edits| {
            // The default verifier, through the same trait the verification uses.
            SignatureVerifier::verify(
                &AwsLc,
                key.key_type,
                &key.public_key,
                sig.algorithm,
                &header_data(
                    &fields,
                    if e.drop_above { &picks_below } else { &picks },
                    sig_pos,
                    &sig,
                    e,
                ),
                &sig.signature,
            )
        };
        match check(Edits::NONE) {
            Ok(_) => {
                d.header_signature_verifies = Some(true);
                d.add("headers_intact", true, msg!("diag-headers-intact"));
                if d.body_hash_matches == Some(true) {
                    d.add("signature_verifies", true, msg!("diag-signature-verifies"));
                }
                return d;
            }
            Err(VerifyError::Mismatch) => {
                d.header_signature_verifies = Some(false);
                d.add(
                    "headers_changed",
                    true,
                    msg!(
                        "diag-headers-changed",
                        d = sig.domain.as_str(),
                        s = sig.selector.as_str()
                    ),
                );
                // Unfolding: every folded field at once, then each alone (a relay
                // usually folds one long line). Only c=simple cares about folding.
                let mut unfolds: Vec<(Unfold, Option<usize>)> = vec![(Unfold::No, None)];
                if folded {
                    let folded_fields: Vec<usize> = fields
                        .iter()
                        .enumerate()
                        .filter(|(_, f)| f.value.windows(2).any(|w| w == b"\r\n"))
                        .map(|(i, _)| i)
                        .take(MAX_SINGLE_UNFOLDS)
                        .collect();
                    for how in [Unfold::RemoveCrlf, Unfold::ToSpace] {
                        unfolds.push((how, None));
                        if folded_fields.len() > 1 {
                            unfolds.extend(folded_fields.iter().map(|&i| (how, Some(i))));
                        }
                    }
                }
                'search: for drop_above in [false, true] {
                    if drop_above && above.is_empty() {
                        continue;
                    }
                    for &(unfold, unfold_only) in &unfolds {
                        for detag in [false, true] {
                            if detag && tag.is_none() {
                                continue;
                            }
                            let e = Edits {
                                detag,
                                unfold,
                                unfold_only,
                                drop_above,
                            };
                            if (detag || unfold != Unfold::No || drop_above) && check(e).is_ok() {
                                confirmed_edits = Some(e);
                                break 'search;
                            }
                        }
                    }
                }
            }
            Err(e) => {
                d.add(
                    "key_unusable",
                    true,
                    msg!("diag-key-unusable", error = e.to_string()),
                );
            }
        }
    }

    if let Some(e) = confirmed_edits {
        if e.detag {
            d.add(
                "subject_tag",
                true,
                msg!("diag-subject-tag", tag = tag.as_deref().unwrap_or("[...]")),
            );
        }
        if e.unfold != Unfold::No {
            let text = match e.unfold_only {
                Some(i) => msg!("diag-refolded-field", field = fields[i].name_str()),
                None => msg!("diag-refolded"),
            };
            d.add("refolded", true, text);
        }
        if e.drop_above {
            d.add(
                "header_added",
                true,
                msg!("diag-header-added", fields = above.join(", ")),
            );
        }
    } else if d.header_signature_verifies != Some(true) {
        // Likely causes, unconfirmed. A third party's signature is usually added after
        // a list has done its work, so only author signatures get these hints.
        let likely = author || d.header_signature_verifies == Some(false);
        if let Some(t) = &tag
            && likely
        {
            d.add(
                "subject_tag",
                false,
                msg!("diag-subject-tag-likely", tag = t),
            );
        }
        if !above.is_empty() {
            d.add(
                "header_added",
                false,
                msg!("diag-header-added-likely", fields = above.join(", ")),
            );
        }
        if let Some(from) = fields.iter().rev().find(|f| f.is("from")) {
            let text = String::from_utf8_lossy(from.value).to_ascii_lowercase();
            if likely && (text.contains(" via ") || text.contains("on behalf of")) {
                d.add("from_rewritten", false, msg!("diag-from-rewritten"));
            }
        }
        if folded && d.header_signature_verifies == Some(false) {
            d.add("fragile_canonicalization", false, msg!("diag-fragile"));
        }
    }

    // z=: the copied fields show exactly what changed.
    if let Some(z) = &sig.copied_headers {
        for (name, was) in copied_headers(z) {
            let Some(now) = fields.iter().rev().find(|f| f.is(&name)) else {
                d.add(
                    "header_changed",
                    true,
                    msg!("diag-header-gone", name = &name),
                );
                continue;
            };
            let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
            let now_text = norm(&String::from_utf8_lossy(now.value));
            if norm(&was) != now_text {
                d.add(
                    "header_changed",
                    true,
                    msg!(
                        "diag-header-changed",
                        name = &name,
                        was = norm(&was),
                        now = &now_text
                    ),
                );
            }
        }
    }
    if d.header_signature_verifies == Some(false)
        && confirmed_edits.is_none()
        && !d
            .findings
            .iter()
            .any(|f| !f.confirmed || f.kind == "header_changed")
    {
        d.add("headers_changed", false, msg!("diag-unknown-field"));
    }
    d
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use monban::dkim::{SignerConfig, SigningKey, sign_message, split_message};

    const MSG: &str = "From: Alice <alice@example.com>\r\nTo: list@example.org\r\nSubject: Lunch on\r\n Thursday?\r\nDate: Sun, 22 Nov 2026 10:00:00 +0900\r\n\r\nHi all,\r\n\r\nlunch?\r\n\r\nAlice\r\n";

    fn signed(canon: &str) -> (Vec<u8>, KeyRecord) {
        signed_with(canon, None)
    }

    /// [`signed`] with a hand-given `h=` list.
    fn signed_with(canon: &str, headers: Option<&[&str]>) -> (Vec<u8>, KeyRecord) {
        let key = Arc::new(SigningKey::ed25519_from_seed(&[7u8; 32]).unwrap());
        let record = KeyRecord::parse(key.key_record().unwrap().to_string().as_bytes()).unwrap();
        let mut cfg = SignerConfig::new("example.com", "s1", key);
        let (h, b) = canon.split_once('/').unwrap();
        cfg.header_canonicalization = Canonicalization::from_name(h).unwrap();
        cfg.body_canonicalization = Canonicalization::from_name(b).unwrap();
        cfg.headers = headers.map(|l| l.iter().map(|n| (*n).to_owned()).collect());
        let sig = sign_message(MSG.as_bytes(), vec![cfg], 1_795_309_200).unwrap();
        let mut out = format!("DKIM-Signature:{}\r\n", sig[0]).into_bytes();
        out.extend_from_slice(MSG.as_bytes());
        (out, record)
    }

    fn run(msg: &[u8], key: Option<&KeyRecord>) -> Diagnosis {
        let (h, b) = split_message(msg).unwrap();
        diagnose(&h, &b, 0, key)
    }

    /// An intact message verifies, and the builder's header data is the verifier's:
    /// with the default `h=`, and with `h=from:dkim-signature` and no other signature,
    /// where the signature is not among its own `h=` fields (§3.7; the analyzer took it
    /// as the listed DKIM-Signature and said the header had changed).
    #[test]
    fn intact_message_verifies() {
        for headers in [None, Some(&["from", "dkim-signature"][..])] {
            let (msg, key) = signed_with("relaxed/relaxed", headers);
            let d = run(&msg, Some(&key));
            assert_eq!(d.body_hash_matches, Some(true));
            assert_eq!(
                d.header_signature_verifies,
                Some(true),
                "{headers:?}: {d:?}"
            );
            assert!(d.has("signature_verifies"), "{d:?}");
            // The builder agrees with the verifier's header data.
            let (h, _) = split_message(&msg).unwrap();
            let fields: Vec<_> = h.fields().collect();
            let sig = DkimSignature::parse(fields[0].value).unwrap();
            let mut want = Vec::new();
            monban::dkim::verify::header_data(
                &h,
                &sig.signed_headers,
                sig.header_canonicalization,
                fields[0],
                &mut want,
            );
            let picks = picks_without(&fields, &sig.signed_headers, 0, 0);
            assert_eq!(
                header_data(&fields, &picks, 0, &sig, Edits::NONE),
                want,
                "{headers:?}"
            );
        }
    }

    #[test]
    fn rfc6376_3_7_footer_appended() {
        let (msg, _) = signed("relaxed/relaxed");
        let mut m = msg.clone();
        m.extend_from_slice(
            b"\r\n-- \r\nlunch-club mailing list\r\nhttps://lists.example.org/lunch-club\r\n\r\n",
        );
        let d = run(&m, None);
        assert_eq!(d.body_hash_matches, Some(false));
        let f = d
            .findings
            .iter()
            .find(|f| f.kind == "footer_appended")
            .unwrap();
        assert!(f.message.contains("3 line(s)"), "{}", f.message);
        assert!(f.message.contains("\"--\""), "{}", f.message);
        // A change in the middle is not a footer.
        let text = String::from_utf8(msg).unwrap().replace("lunch?", "dinner?");
        let d = run(text.as_bytes(), None);
        assert!(d.has("body_changed") && !d.has("footer_appended"), "{d:?}");
    }

    #[test]
    fn subject_tag_confirmed_with_the_key() {
        let (msg, key) = signed("relaxed/relaxed");
        let text = String::from_utf8(msg)
            .unwrap()
            .replace("Subject: Lunch", "Subject: [lunch-club] Lunch");
        let d = run(text.as_bytes(), Some(&key));
        assert_eq!(d.body_hash_matches, Some(true));
        assert_eq!(d.header_signature_verifies, Some(false));
        let f = d.findings.iter().find(|f| f.kind == "subject_tag").unwrap();
        assert!(f.confirmed && f.message.contains("[lunch-club]"), "{f:?}");
        // Without the key: suspected only.
        let d = run(text.as_bytes(), None);
        let f = d.findings.iter().find(|f| f.kind == "subject_tag").unwrap();
        assert!(!f.confirmed);
    }

    #[test]
    fn refolding_confirmed_for_simple() {
        let (msg, key) = signed("simple/simple");
        let text = String::from_utf8(msg).unwrap().replace(
            "Subject: Lunch on\r\n Thursday?",
            "Subject: Lunch on Thursday?",
        );
        let d = run(text.as_bytes(), Some(&key));
        assert!(
            !d.findings
                .iter()
                .any(|f| f.kind == "refolded" && f.confirmed),
            "unfolding an originally folded field cannot be undone: {d:?}"
        );
        // A relay that folds a long line: reconstructable.
        let (msg, key) = signed("simple/simple");
        let text = String::from_utf8(msg)
            .unwrap()
            .replace("To: list@example.org", "To:\r\n list@example.org");
        let d = run(text.as_bytes(), Some(&key));
        assert!(
            d.findings
                .iter()
                .any(|f| f.kind == "refolded" && f.confirmed),
            "{d:?}"
        );
    }

    /// A footer of 20 lines is found; one of 21 is not, and the finding says the change
    /// is not just a footer of up to 20 lines.
    #[test]
    fn footers_of_up_to_max_footer_lines_are_found() {
        let (msg, _) = signed("relaxed/relaxed");
        for lines in [MAX_FOOTER_LINES, MAX_FOOTER_LINES + 1] {
            let mut m = msg.clone();
            for i in 0..lines {
                m.extend_from_slice(format!("footer line {i}\r\n").as_bytes());
            }
            let d = run(&m, None);
            assert_eq!(d.body_hash_matches, Some(false));
            let footer = d.findings.iter().find(|f| f.kind == "footer_appended");
            if lines == MAX_FOOTER_LINES {
                let f = footer.unwrap();
                assert!(f.message.contains("20 line(s)"), "{}", f.message);
            } else {
                assert!(footer.is_none(), "{d:?}");
                assert!(
                    d.findings.iter().any(|f| f.kind == "body_changed"
                        && !f.confirmed
                        && f.message.contains("up to 20 lines")),
                    "{d:?}"
                );
            }
        }
    }

    /// A relay re-folded one field: found when it is among the first 16 folded fields
    /// (each tried alone), not past them.
    #[test]
    fn refolded_field_is_looked_for_among_max_single_unfolds() {
        let key = Arc::new(SigningKey::ed25519_from_seed(&[7u8; 32]).unwrap());
        let record = KeyRecord::parse(key.key_record().unwrap().to_string().as_bytes()).unwrap();
        // A message with `extra` fields folded by their author, To after them; signed
        // (c=simple), with whether the signature's own field is folded.
        let signed_with = |extra: usize| -> (String, bool) {
            let mut m = String::from("From: Alice <alice@example.com>\r\n");
            let mut h = vec!["from".to_owned(), "to".to_owned()];
            for i in 0..extra {
                m.push_str(&format!("X-F{i}: folded\r\n by its author\r\n"));
                h.push(format!("x-f{i}"));
            }
            m.push_str("To: list@example.org\r\n\r\nHi.\r\n");
            let mut cfg = SignerConfig::new("example.com", "s1", key.clone());
            cfg.header_canonicalization = Canonicalization::Simple;
            cfg.body_canonicalization = Canonicalization::Simple;
            cfg.headers = Some(h);
            let sig = sign_message(m.as_bytes(), vec![cfg], 1_795_309_200).unwrap();
            let folded = sig[0].contains("\r\n");
            (format!("DKIM-Signature:{}\r\n{m}", sig[0]), folded)
        };
        for (before, found) in [(MAX_SINGLE_UNFOLDS - 1, true), (MAX_SINGLE_UNFOLDS, false)] {
            // `before` folded fields above To, the signature's own included.
            let (msg, _) = [before, before - 1]
                .into_iter()
                .map(|extra| (signed_with(extra), extra))
                .find(|((_, folded), extra)| extra + usize::from(*folded) == before)
                .unwrap()
                .0;
            let relayed = msg.replace("To: list@example.org", "To:\r\n list@example.org");
            let d = run(relayed.as_bytes(), Some(&record));
            assert_eq!(d.header_signature_verifies, Some(false));
            let refolded = d
                .findings
                .iter()
                .find(|f| f.kind == "refolded" && f.confirmed);
            assert_eq!(refolded.is_some(), found, "{before}: {d:?}");
            if let Some(f) = refolded {
                assert!(f.message.contains("To"), "{}", f.message);
            }
        }
    }

    #[test]
    fn added_field_above_the_signature() {
        let key = Arc::new(SigningKey::ed25519_from_seed(&[7u8; 32]).unwrap());
        let record = KeyRecord::parse(key.key_record().unwrap().to_string().as_bytes()).unwrap();
        let mut cfg = SignerConfig::new("example.com", "s1", key);
        cfg.headers = Some(vec!["from".into(), "subject".into(), "reply-to".into()]);
        let sig = sign_message(MSG.as_bytes(), vec![cfg], 1_795_309_200).unwrap();
        let msg = format!(
            "Reply-To: list@example.org\r\nDKIM-Signature:{}\r\n{MSG}",
            sig[0]
        );
        let d = run(msg.as_bytes(), Some(&record));
        let f = d
            .findings
            .iter()
            .find(|f| f.kind == "header_added")
            .unwrap();
        assert!(f.confirmed && f.message.contains("Reply-To"), "{f:?}");
    }

    #[test]
    fn copied_headers_show_the_change() {
        let msg = "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; h=from:subject; z=From:a@example.com|Subject:hello; bh=AAAA; b=AAAA\r\nFrom: a@example.com\r\nSubject: [x] hello\r\n\r\nbody\r\n";
        let d = run(msg.as_bytes(), None);
        let f = d
            .findings
            .iter()
            .find(|f| f.kind == "header_changed")
            .unwrap();
        assert!(f.message.contains("\"hello\""), "{f:?}");
        assert!(d.has("body_changed"));
    }

    #[test]
    fn subject_tags() {
        assert_eq!(
            detag(b" [list] Re: hi").unwrap(),
            (b" Re: hi".to_vec(), "[list]".into())
        );
        assert_eq!(detag(b" Re: [list] hi").unwrap().0, b" Re: hi");
        assert!(detag(b" hi [list]").is_none());
        assert!(detag(b" [] hi").is_none());
        assert!(detag(b" [unterminated hi").is_none());
    }
}
