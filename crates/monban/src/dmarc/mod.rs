//! Domain-based Message Authentication, Reporting and Conformance: RFC 9989, with RFC
//! 7489 compatibility.
//!
//! - [`record`]: policy records (RFC 9989 §4.7, §4.8);
//! - [`discovery`]: the DNS tree walk for policy discovery and the organizational
//!   domain (RFC 9989 §4.10);
//! - [`psl`]: the Public Suffix List, for RFC 7489's organizational domain;
//! - [`eval`]: alignment and policy evaluation (RFC 9989 §4.4, §5.3).

pub mod discovery;
pub mod eval;
pub mod psl;
pub mod record;

pub use eval::{
    Discovery, Disposition, DmarcConfig, DmarcOutcome, DmarcReason, DmarcResult, FromError,
    OrgDomainMode, OverrideKind, PolicyOverride, PolicyTag, author_domain, author_domains,
    conclude, discover, discover_for, evaluate,
};
pub use psl::PublicSuffixList;
pub use record::{AlignmentMode, DmarcRecord, Policy, Psd, RecordError, ReportUri};
