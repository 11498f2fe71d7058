//! Domain-based Message Authentication, Reporting and Conformance: RFC 9989, with RFC
//! 7489 compatibility.
//!
//! - [`record`]: policy records (RFC 9989 §4.7, §4.8);
//! - [`discovery`]: the DNS tree walk for policy discovery and the organizational
//!   domain (RFC 9989 §4.10);
//! - [`eval`]: alignment and policy evaluation (RFC 9989 §4.4, §5.3).

pub mod discovery;
pub mod eval;
pub mod record;

pub use eval::{
    Disposition, DmarcConfig, DmarcOutcome, DmarcResult, PolicyTag, author_domain, evaluate,
};
pub use record::{AlignmentMode, DmarcRecord, Policy, Psd, RecordError, ReportUri};
