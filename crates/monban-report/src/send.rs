//! Sending aggregate reports (RFC 9990 §3.2): destinations, the external-destination
//! check (§3.3 "Verifying External Destinations").

/// The address of a `mailto:` report URI (RFC 6068), percent-decoded, without `?`
/// parameters; `None` for another scheme or an address that is not one.
pub fn mailto_address(uri: &str) -> Option<String> {
    let rest = uri
        .get(..7)
        .filter(|s| s.eq_ignore_ascii_case("mailto:"))
        .and_then(|_| uri.get(7..))?;
    let rest = rest.split('?').next().unwrap_or(rest);
    if rest.len() > 320 {
        return None;
    }
    let addr = percent_decode(rest)?;
    // One address: RFC 9989 allows one per URI (several URIs are comma-separated).
    let (local, domain) = addr.rsplit_once('@')?;
    let ok_local = !local.is_empty()
        && local.len() <= 64
        && local
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b',' | b'@' | b'"'));
    let domain = domain.trim_end_matches('.');
    let ok_domain = !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    (ok_local && ok_domain).then(|| format!("{local}@{}", domain.to_ascii_lowercase()))
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailto_uris() {
        assert_eq!(
            mailto_address("mailto:dmarc@Example.COM").as_deref(),
            Some("dmarc@example.com")
        );
        assert_eq!(
            mailto_address("MAILTO:a%2Bb@example.com?subject=x").as_deref(),
            Some("a+b@example.com")
        );
        for bad in [
            "https://example.com/report",
            "mailto:",
            "mailto:noat",
            "mailto:a@b@",
            "mailto:a@exa mple.com",
            "mailto:%zz@example.com",
            "mailto:<a@example.com>",
        ] {
            assert_eq!(mailto_address(bad), None, "{bad}");
        }
        assert_eq!(
            mailto_address(&format!("mailto:a@{}.com", "x".repeat(400))),
            None
        );
    }
}
