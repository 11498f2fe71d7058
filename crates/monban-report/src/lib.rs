//! monban's reporting jobs (DESIGN §1 `monban-report`): RFC 9990 aggregate reports
//! generated from the evaluations in the store ([`generate`]) and sent to the
//! destinations the policies ask for ([`send`]).

pub mod corpus;
pub mod extract;
pub mod failure;
pub mod generate;
pub mod imap;
pub mod import;
pub mod ingest;
pub mod mail;
pub mod schedule;
pub mod send;
pub mod summary;

pub use generate::{GenerateOptions, GenerateSummary, GeneratedReport, Skipped, generate};

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] monban_store::StoreError),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The options do not make sense.
    #[error("{0}")]
    Usage(String),
}
