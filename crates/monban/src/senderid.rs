//! Sender ID (RFC 4406, RFC 4407), a historic method still met in Japan.
//!
//! - [`pra`]: the Purported Responsible Address of a message, chosen from its header
//!   (RFC 4407 §2);
//! - [`check_pra`] and [`check_mfrom`]: SPF's `check_host()` (one evaluator,
//!   [`Spf::check_host_scoped`]) over the `spf2.0/pra` or `spf2.0/mfrom` records of the
//!   domain, or its `v=spf1` record when it publishes no `spf2.0` record (RFC 4406 §3.4).
//!
//! Results are SPF's (RFC 4406 §3.3 refers to them), with two differences: a domain
//! that does not exist is `fail`, and a message without a PRA is `fail` too (RFC 4407
//! §2 calls it ill-formed). Sender ID never counts for DMARC.

use std::fmt;
use std::net::IpAddr;

use monban_dns::Resolver;

use crate::address::parse_mailbox_list;
use crate::message::{HeaderField, Headers};
use crate::spf::{RecordScope, Spf, SpfIdentity, SpfOutcome, SpfResult};

/// Which field the PRA was taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PraField {
    /// `Resent-Sender`.
    ResentSender,
    /// `Resent-From`.
    ResentFrom,
    /// `Sender`.
    Sender,
    /// `From`.
    From,
}

impl PraField {
    /// The field name.
    pub fn name(self) -> &'static str {
        match self {
            Self::ResentSender => "Resent-Sender",
            Self::ResentFrom => "Resent-From",
            Self::Sender => "Sender",
            Self::From => "From",
        }
    }

    /// The A-R property that names it (RFC 4406 §5: `header.sender`, ...).
    pub fn property(self) -> &'static str {
        match self {
            Self::ResentSender => "resent-sender",
            Self::ResentFrom => "resent-from",
            Self::Sender => "sender",
            Self::From => "from",
        }
    }
}

/// The Purported Responsible Address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pra {
    /// The field it came from.
    pub field: PraField,
    /// `local@domain`.
    pub address: String,
    /// The domain, lowercase.
    pub domain: String,
}

/// Why no PRA can be found (RFC 4407 §2 step 6: the message is ill-formed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PraError {
    /// No Resent-Sender, Resent-From, Sender or From field with content.
    NoField,
    /// Several Sender fields (step 3) or several/no From fields (step 4).
    Several(PraField),
    /// The selected field does not hold exactly one mailbox with a domain (step 5).
    Malformed(PraField),
}

impl fmt::Display for PraError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoField => f.write_str("the message has no field to take the PRA from"),
            Self::Several(field) => write!(f, "the message has several {} fields", field.name()),
            Self::Malformed(field) => write!(
                f,
                "the {} field does not hold exactly one mailbox with a domain",
                field.name()
            ),
        }
    }
}

/// The Sender ID check of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderIdOutcome {
    /// The result (RFC 8601 §2.7.3 names, SPF's).
    pub result: SpfResult,
    /// The scope checked (`pra`).
    pub scope: RecordScope,
    /// The PRA, when the message has one.
    pub pra: Option<Pra>,
    /// Why there is no PRA.
    pub pra_error: Option<PraError>,
    /// The `check_host()` evaluation of the PRA's domain.
    pub spf: Option<SpfOutcome<'static>>,
}

impl SenderIdOutcome {
    /// Not checked (no client address).
    pub fn none() -> Self {
        Self {
            result: SpfResult::None,
            scope: RecordScope::SenderIdPra,
            pra: None,
            pra_error: None,
            spf: None,
        }
    }

    /// Why the result is what it is.
    pub fn reason(&self) -> Option<String> {
        if let Some(e) = &self.pra_error {
            return Some(format!("no purported responsible address: {e}"));
        }
        self.spf.as_ref().map(|o| o.cause.to_string())
    }
}

/// Sender ID for the PRA scope (RFC 4406 §3): the PRA of `headers`, then
/// `check_host()` over its domain's `pra`-scoped records.
pub async fn check_pra<R: Resolver>(
    spf: &Spf<R>,
    ip: IpAddr,
    helo: &str,
    headers: &Headers,
    now: u64,
) -> SenderIdOutcome {
    let pra = match pra(headers) {
        Ok(p) => p,
        Err(e) => {
            return SenderIdOutcome {
                result: SpfResult::Fail,
                pra_error: Some(e),
                ..SenderIdOutcome::none()
            };
        }
    };
    let outcome = spf
        .check_host_scoped(
            ip,
            &pra.domain,
            &pra.address,
            helo,
            SpfIdentity::Pra,
            RecordScope::SenderIdPra,
            now,
        )
        .await
        .into_owned();
    SenderIdOutcome {
        result: outcome.result,
        scope: RecordScope::SenderIdPra,
        pra: Some(pra),
        pra_error: None,
        spf: Some(outcome),
    }
}

/// Sender ID for the `mfrom` scope (RFC 4406 §3.3): as SPF's MAIL FROM check, over
/// the `mfrom`-scoped records. An empty reverse-path checks `postmaster@<helo>`.
pub async fn check_mfrom<'n, R: Resolver>(
    spf: &Spf<R>,
    ip: IpAddr,
    helo: &'n str,
    mail_from: &'n str,
    now: u64,
) -> SpfOutcome<'n> {
    spf.verify_mail_from_scoped(ip, helo, mail_from, RecordScope::SenderIdMfrom, now)
        .await
}

fn non_empty(f: &HeaderField<'_>) -> bool {
    f.value.iter().any(|b| !b.is_ascii_whitespace())
}

/// The PRA (RFC 4407 §2), in one pass over the header.
pub fn pra(headers: &Headers) -> Result<Pra, PraError> {
    let fields: Vec<HeaderField<'_>> = headers.fields().collect();
    let first = |name: &str| fields.iter().position(|f| f.is(name) && non_empty(f));
    // Step 1: the first Resent-Sender, unless a Resent-From above it is followed by
    // Received or Return-Path fields before it (then it belongs to an older block).
    let mut selected: Option<(usize, PraField)> = None;
    if let Some(rs) = first("Resent-Sender") {
        // Some Resent-From above has a trace field after it exactly when the topmost one
        // does: one scan from there.
        let older_block = first("Resent-From")
            .filter(|&rf| rf < rs)
            .is_some_and(|rf| {
                fields[rf + 1..rs]
                    .iter()
                    .any(|g| g.is("Received") || g.is("Return-Path"))
            });
        if !older_block {
            selected = Some((rs, PraField::ResentSender));
        }
    }
    // Step 2: the first Resent-From.
    if selected.is_none()
        && let Some(rf) = first("Resent-From")
    {
        selected = Some((rf, PraField::ResentFrom));
    }
    // Steps 3 and 4: exactly one Sender, else exactly one From.
    if selected.is_none() {
        for field in [PraField::Sender, PraField::From] {
            let found: Vec<usize> = fields
                .iter()
                .enumerate()
                .filter(|(_, f)| f.is(field.name()) && non_empty(f))
                .map(|(i, _)| i)
                .take(2)
                .collect();
            match found.as_slice() {
                [] if field == PraField::Sender => continue,
                [] => return Err(PraError::NoField),
                [one] => {
                    selected = Some((*one, field));
                    break;
                }
                _ => return Err(PraError::Several(field)),
            }
        }
    }
    let Some((pos, field)) = selected else {
        return Err(PraError::NoField);
    };
    // Step 5: one mailbox with a domain.
    match parse_mailbox_list(fields[pos].value).as_deref() {
        Ok([m]) if !m.domain.is_empty() && !m.domain_literal => Ok(Pra {
            field,
            address: format!("{}@{}", m.local_part, m.domain),
            domain: m.domain.clone(),
        }),
        _ => Err(PraError::Malformed(field)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pra_of(header: &str) -> Result<Pra, PraError> {
        pra(&Headers::parse(header.as_bytes()).unwrap())
    }

    /// RFC 4407 §2, each step and its failure cases.
    #[test]
    fn rfc4407_2_pra_selection() {
        let p = pra_of("From: a@from.example\r\nSender: b@sender.example\r\n").unwrap();
        assert_eq!(
            (p.field, p.domain.as_str()),
            (PraField::Sender, "sender.example")
        );
        let p = pra_of("From: Alice <a@From.Example>\r\n").unwrap();
        assert_eq!(
            (p.field, p.address.as_str()),
            (PraField::From, "a@from.example")
        );
        let p = pra_of(
            "Resent-From: r@rf.example\r\nResent-Sender: s@rs.example\r\nFrom: a@f.example\r\n",
        )
        .unwrap();
        assert_eq!(p.field, PraField::ResentSender);
        // A Resent-Sender of an older block (Received between): the Resent-From wins.
        let p = pra_of(
            "Resent-From: r@rf.example\r\nReceived: x\r\nResent-Sender: s@rs.example\r\nFrom: a@f.example\r\n",
        )
        .unwrap();
        assert_eq!(
            (p.field, p.domain.as_str()),
            (PraField::ResentFrom, "rf.example")
        );
        // Empty fields are passed over.
        let p = pra_of("Sender:  \r\nFrom: a@f.example\r\n").unwrap();
        assert_eq!(p.field, PraField::From);
        assert_eq!(
            pra_of("Sender: a@x.example\r\nSender: b@y.example\r\n"),
            Err(PraError::Several(PraField::Sender))
        );
        assert_eq!(
            pra_of("From: a@x.example\r\nFrom: b@y.example\r\n"),
            Err(PraError::Several(PraField::From))
        );
        assert_eq!(
            pra_of("From: a@x.example, b@y.example\r\n"),
            Err(PraError::Malformed(PraField::From))
        );
        assert_eq!(
            pra_of("From: nobody\r\n"),
            Err(PraError::Malformed(PraField::From))
        );
        assert_eq!(pra_of("Subject: hi\r\n"), Err(PraError::NoField));
    }

    /// Thousands of Resent blocks: one pass to find the first fields, and the older-block
    /// check only looks above the first Resent-Sender.
    #[test]
    fn many_resent_blocks_are_bounded() {
        let mut h = String::new();
        for i in 0..2000 {
            h.push_str(&format!("Resent-From: r{i}@rf.example\r\nReceived: x\r\n"));
        }
        h.push_str("Resent-Sender: s@rs.example\r\nFrom: a@f.example\r\n");
        let p = pra_of(&h).unwrap();
        assert_eq!(p.field, PraField::ResentFrom);
    }
}
