//! monban's protocols, without network I/O.
//!
//! Every protocol takes bytes and typed inputs and returns typed results; DNS comes
//! through [`monban_dns::Resolver`], and time is passed in by the caller. See the
//! workspace README for the architecture.
//!
//! - [`crypto`]: verifying, signing and hashing behind narrow traits (aws-lc-rs by
//!   default).
//! - [`address`]: RFC 5322 mailbox lists (the From field).
//! - [`message`]: raw header fields and a streaming header/body splitter.
//! - [`spf`]: Sender Policy Framework (RFC 7208).
//! - [`dkim`]: DomainKeys Identified Mail (RFC 6376, 8301, 8463).
//! - [`dmarc`]: DMARC records (RFC 9989, RFC 7489).
//! - [`arc`]: Authenticated Received Chain (RFC 8617): validation and sealing.
//! - [`dkim2`]: the DKIM2 draft (draft-ietf-dkim-dkim2-spec-02), off unless asked for.
//! - [`iprev`]: forward-confirmed reverse DNS (RFC 8601 §3).
//! - [`adsp`]: Author Domain Signing Practices (RFC 5617, historic).
//! - [`dnsbl`]: DNS block and allow lists (RFC 5782).
//! - [`senderid`]: Sender ID's Purported Responsible Address (RFC 4407).
//! - [`pipeline`]: one call that runs every method on a message and its envelope.
//! - [`authres`]: the `Authentication-Results` header field (RFC 8601).
//! - [`rfc5322`]: the lexical layer every header parser shares (comments, quoted-strings,
//!   CFWS, date-time).
//! - [`text`]: safe quoting of header text (RFC 5322).
//! - [`view`]: the JSON forms of results (DESIGN §4), serde models shared by every
//!   front end.
//!
//! The diagnosis tools (the domain checker, the header analyzer) are in `monban-diag`.

pub mod address;
pub mod adsp;
pub mod arc;
pub mod authres;
pub mod crypto;
pub mod dkim;
pub mod dkim2;
pub mod dmarc;
pub mod dnsbl;
pub mod domainkeys;
pub mod iprev;
pub mod message;
pub mod mime;
pub mod pipeline;
pub mod report;
pub mod rfc5322;
pub mod senderid;
pub mod spf;
pub mod text;
pub mod view;
#[macro_use]
mod wide;

#[cfg(test)]
mod testing;

pub use monban_dns as dns;
