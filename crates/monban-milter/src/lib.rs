//! monban's milter: the protocol Sendmail and Postfix use to call mail filters.
//!
//! - [`protocol`]: framing, commands and responses (milter protocol version 6).
//!
//! The filter itself (sessions, configuration, the daemon) is being built on top of
//! this; see the workspace README.

pub mod protocol;
