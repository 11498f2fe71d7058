//! monban's diagnosis tools, built on the protocol crate ([`monban`]) and never the
//! other way round:
//!
//! - [`check`]: the domain checker (green / yellow / red findings with fixes, and the
//!   sending-setup prediction), DESIGN §4 "JSON of monban check --json";
//! - [`analyze`]: the header analyzer (the Received chain oldest first, recorded
//!   results, DKIM signatures explained) and, with `--verify`, a comparison with
//!   monban's own verdict and a diagnosis of DKIM failures.
//!
//! The protocol crate keeps the protocols and the verification pipeline; what only
//! explains or advises lives here.

pub mod analyze;
pub mod check;
pub mod i18n;
pub mod reflect;
