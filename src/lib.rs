//! # weaksignal
//!
//! Finds *weak signals*: small but fast-growing topics in public news and
//! discussion, spotted before they become megatrends.
//!
//! Data flows one way:
//!
//! ```text
//! collect → normalise → store → index → embed → cluster → trends → signals → report
//! ```
//!
//! * [`document`] decides what a document is (ids, dates, languages, limits).
//! * [`import`] streams corpora (JSONL, CSV, Parquet) into the [`store`].
//! * [`store`] is the system of record (SQLite); everything after it is derived
//!   and can be rebuilt.
//! * [`index`] is the tantivy search index with Finnish and English stemming.
//! * [`embed`] turns documents and queries into multilingual vectors
//!   (multilingual-e5-small on candle), stores them and searches them.
//! * [`topics`] clusters document vectors into topics, window by window,
//!   with stable ids; [`terms`] gives their keywords.
//! * [`trends`] measures growth, visibility and diffusion (polars);
//!   [`signals`] classifies topics and terms and replays past dates.
//! * [`cli`] holds the command-line interface; the binary only maps its result
//!   to an exit code.

pub mod alerts;
pub mod bench;
pub mod cli;
pub mod collect;
pub mod config;
pub mod corpus;
pub mod document;
pub mod embed;
pub mod error;
pub mod export;
pub mod extract;
pub mod failpoint;
pub mod html;
pub mod import;
pub mod index;
pub mod lang;
pub mod morph;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod run;
pub mod serve;
pub mod signals;
pub mod stats;
pub mod store;
pub mod taxonomy;
pub mod terms;
pub mod terms_bench;
pub mod time;
pub mod topics;
pub mod trends;
pub mod workspace;

pub use error::{Error, Result};

/// How a command ended when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything went through (exit code 0).
    Success,
    /// Some input was rejected or some source failed; the rest was done (exit code 1).
    Partial,
}

impl Outcome {
    /// `Partial` if any of the two is.
    pub fn and(self, other: Outcome) -> Outcome {
        if self == Outcome::Partial || other == Outcome::Partial {
            Outcome::Partial
        } else {
            Outcome::Success
        }
    }
}

/// Where the shared test and benchmark data lives: `$WEAKSIGNAL_SHARED`, or `../shared`.
pub fn shared_dir() -> std::path::PathBuf {
    std::env::var_os("WEAKSIGNAL_SHARED")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("../shared"))
}
