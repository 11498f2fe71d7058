//! monban's milter: the protocol Sendmail and Postfix use to call mail filters.
//!
//! - [`protocol`]: framing, commands and responses (milter protocol version 6);
//! - [`import`]: OpenDKIM and OpenDMARC configurations translated;
//! - [`connect`]: the checks at CONNECT and HELO (iprev, DNS lists, HELO names);
//! - [`session`]: one connection's logic (verify inbound, sign outbound), without I/O;
//! - [`config`]: the TOML configuration, every option defined once;
//! - [`server`]: the sockets (TCP or unix), one task per MTA connection;
//! - [`metrics`]: Prometheus counters and the `/metrics` endpoint;
//! - [`recorder`]: evaluations journaled and written to the store for reports.
//!
//! The daemon (sockets, configuration file, signals, metrics) is being built on top of
//! these; see the workspace README.

pub mod config;
pub mod connect;
pub mod import;
pub mod metrics;
pub mod protocol;
pub mod recorder;
pub mod server;
pub mod session;
