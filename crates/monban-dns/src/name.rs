//! Domain-name handling shared by every resolver (RFC 1035 §2.3.4, §3.1).

use std::fmt;
use std::net::IpAddr;

/// Why a string is not a usable domain name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty (or only a dot, the root, which monban never asks about).
    Empty,
    /// Two dots in a row, or a leading dot: a zero-length label.
    EmptyLabel,
    /// A label is longer than 63 octets (RFC 1035 §2.3.4).
    LabelTooLong,
    /// The name is longer than 253 characters in presentation form (RFC 1035 §2.3.4).
    TooLong,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty name",
            Self::EmptyLabel => "zero-length label",
            Self::LabelTooLong => "label longer than 63 octets",
            Self::TooLong => "name longer than 253 octets",
        })
    }
}

impl std::error::Error for NameError {}

/// Lowercases (ASCII only) a presentation-form name, drops one trailing dot, and checks
/// the RFC 1035 §2.3.4 size limits.
pub fn normalize_name(name: &str) -> Result<String, NameError> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() {
        return Err(NameError::Empty);
    }
    if trimmed.len() > 253 {
        return Err(NameError::TooLong);
    }
    for label in trimmed.split('.') {
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        if label.len() > 63 {
            return Err(NameError::LabelTooLong);
        }
    }
    Ok(trimmed.to_ascii_lowercase())
}

/// Whether `name` is `domain` or a subdomain of it: compared without ASCII case, on a
/// label boundary, a trailing dot on either ignored. Byte-wise, so any input is safe.
pub fn is_same_or_subdomain(name: &str, domain: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).as_bytes();
    let domain = domain.strip_suffix('.').unwrap_or(domain).as_bytes();
    name.eq_ignore_ascii_case(domain)
        || (name.len() > domain.len()
            && name[name.len() - domain.len() - 1] == b'.'
            && name[name.len() - domain.len()..].eq_ignore_ascii_case(domain))
}

/// The reverse-lookup name of an address: `4.3.2.1.in-addr.arpa` (RFC 1035 §3.5) or the
/// nibble form under `ip6.arpa` (RFC 3596 §2.5).
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let mut out = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                out.push(HEX[usize::from(byte & 0x0f)] as char);
                out.push('.');
                out.push(HEX[usize::from(byte >> 4)] as char);
                out.push('.');
            }
            out.push_str("ip6.arpa");
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_and_trailing_dot() {
        assert_eq!(
            normalize_name("Mail.Example.COM.").unwrap(),
            "mail.example.com"
        );
    }

    #[test]
    fn rfc1035_2_3_4_limits() {
        assert_eq!(normalize_name("a..b"), Err(NameError::EmptyLabel));
        assert_eq!(normalize_name(".a"), Err(NameError::EmptyLabel));
        assert_eq!(normalize_name("."), Err(NameError::Empty));
        let long = "a".repeat(64);
        assert_eq!(normalize_name(&long), Err(NameError::LabelTooLong));
        let total = vec!["a".repeat(63); 4].join(".");
        assert_eq!(normalize_name(&total), Err(NameError::TooLong));
    }

    #[test]
    fn same_or_subdomain_never_slices_a_character() {
        // (The label rules themselves are tested with SPF, which uses this.) Multi-byte text is compared as bytes, never sliced inside a character.
        assert!(!is_same_or_subdomain("é.xé", "é"));
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_name("192.0.2.1".parse().unwrap()),
            "1.2.0.192.in-addr.arpa"
        );
        assert_eq!(
            reverse_name("2001:db8::1".parse().unwrap()),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
    }
}
