//! Domain-based Message Authentication, Reporting and Conformance: RFC 9989, with RFC
//! 7489 compatibility.
//!
//! - [`record`]: policy records (RFC 9989 §4.7, §4.8).

pub mod record;

pub use record::{AlignmentMode, DmarcRecord, Policy, Psd, RecordError, ReportUri};
