//! The hashes a `Message-Instance` records (draft-ietf-dkim-dkim2-spec-02 §6.1): the
//! header hash over every field but those hops add or change in transit, and the body
//! hash.

use super::fields::is_ws;
use crate::crypto::{HashAlgorithm, Hasher};

/// Fields that are not hashed (§4 of later revisions; the draft-02 vectors need each):
/// trace and authentication fields, DKIM and DKIM2's own, ARC's, and `X-` fields.
pub fn is_unsigned(lower: &str) -> bool {
    matches!(
        lower,
        "received"
            | "return-path"
            | "delivered-to"
            | "authentication-results"
            | "dkim-signature"
            | "dkim2-signature"
            | "message-instance"
    ) || lower.starts_with("arc-")
        || lower.starts_with("x-")
}

/// Appends one field in relaxed form: `name:value CRLF`, the name lowercase without
/// white space, the value with leading and trailing white space removed and inner runs
/// (folds included) as one space.
fn relaxed(name: &str, value: &[u8], out: &mut Vec<u8>) {
    out.extend(
        name.bytes()
            .filter(|&b| !is_ws(b))
            .map(|b| b.to_ascii_lowercase()),
    );
    out.push(b':');
    let mut emitted = false;
    let mut prev = 0u8;
    for &b in value {
        if is_ws(b) {
            prev = b;
            continue;
        }
        if emitted && matches!(prev, b' ' | b'\t') {
            out.push(b' ');
        }
        out.push(b);
        emitted = true;
        prev = b;
    }
    out.extend_from_slice(b"\r\n");
}

/// The header hash: the hashed fields sorted by name (several of one name from the
/// bottom of the header up), each in relaxed form, SHA-256.
pub fn header_hash(fields: &[(String, Vec<u8>)]) -> [u8; 32] {
    let mut kept: Vec<(String, &[u8])> = fields
        .iter()
        .rev()
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.as_slice()))
        .filter(|(n, _)| !is_unsigned(n))
        .collect();
    kept.sort_by(|a, b| a.0.cmp(&b.0));
    let mut data = Vec::with_capacity(1024);
    for (n, v) in kept {
        relaxed(&n, v, &mut data);
    }
    to32(crate::crypto::hash(HashAlgorithm::Sha256, &data))
}

/// The body hash: lines as CRLF, CRs dropped, trailing empty lines removed, one CRLF at
/// the end (an empty body hashes as CRLF); SHA-256.
pub fn body_hash(body: &[u8]) -> [u8; 32] {
    let mut h = Hasher::new(HashAlgorithm::Sha256);
    let mut pending = 0usize;
    let mut run: Vec<u8> = Vec::with_capacity(body.len().min(1 << 16));
    for &b in body {
        match b {
            b'\r' => {}
            b'\n' => pending += 1,
            _ => {
                for _ in 0..pending {
                    run.extend_from_slice(b"\r\n");
                }
                pending = 0;
                run.push(b);
            }
        }
        if run.len() >= 1 << 16 {
            h.update(&run);
            run.clear();
        }
    }
    run.extend_from_slice(b"\r\n");
    h.update(&run);
    to32(h.finish())
}

fn to32(v: Vec<u8>) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&v[..32]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    /// The draft-02 vector simple_ed25519: the header hash of its five fields, and the
    /// body hash of an empty body.
    #[test]
    fn dkim2_vector_hashes() {
        let f = |n: &str, v: &str| (n.to_owned(), v.as_bytes().to_vec());
        let fields = vec![
            f("From", " sender@test.dkim2.eu"),
            f("To", " recipient@example.com"),
            f("Subject", " Simple test message"),
            f("Date", " Sat, 01 Mar 2026 12:00:00 +0000"),
            f("Message-ID", " <test-simple@test1.dkim2.com>"),
            f("Received", " from somewhere"),
        ];
        let b64 = |x: [u8; 32]| base64::engine::general_purpose::STANDARD.encode(x);
        assert_eq!(
            b64(header_hash(&fields)),
            "JhBJq79bbNbN5ASEJvYpb/QwHL+x5Hyl1SoV5s/tGVk="
        );
        assert_eq!(
            b64(body_hash(b"")),
            "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY="
        );
        assert_eq!(body_hash(b"a\r\n\r\n\r\n"), body_hash(b"a"));
    }
}
