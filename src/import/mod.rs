//! Importing corpora: JSONL, CSV and Parquet files into the store and index.
//!
//! A reader turns a file into [`Row`]s (or per-row errors with their line);
//! [`DocumentBuilder`] checks each row; [`import_file`] writes documents to the
//! store and the index. Reading and checking run on one thread, writing on
//! another, so both cores stay busy. Memory stays flat: rows are streamed in
//! batches, whatever the file size.
//!
//! Bad rows are reported with file, line and reason, and the good rows are still
//! imported (the summary counts both); with `strict`, one bad row rolls back the
//! whole file, leaving the store as it was.

mod csv;
mod jsonl;
mod parquet;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use serde::Serialize;
use tracing::{info, warn};

use crate::config::ImportConfig;
use crate::document::{Defaults, Document, DocumentBuilder, RawDocument};
use crate::error::{Error, Result};
use crate::index::{IndexUpdater, SearchIndex};
use crate::progress::Progress;
use crate::store::{Store, WriteOutcome};

/// Input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header row (`.tsv` files are tab-separated).
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// Guesses the format from the file name.
    pub fn from_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let ext = name.rsplit('.').next()?;
        match ext {
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            "csv" | "tsv" | "txt" => Some(Format::Csv),
            "parquet" | "pq" => Some(Format::Parquet),
            _ => None,
        }
    }
}

/// The document fields a row can fill, in the order of [`FieldMap`].
pub const FIELDS: [&str; 8] = [
    "id",
    "url",
    "source",
    "published",
    "title",
    "text",
    "lang",
    "fetched_at",
];

/// Which input column fills which document field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMap {
    columns: [String; 8],
}

impl Default for FieldMap {
    fn default() -> Self {
        FieldMap {
            columns: FIELDS.map(String::from),
        }
    }
}

impl FieldMap {
    /// Applies `field=column` overrides; an unknown field is an error listing the valid ones.
    pub fn with_overrides(overrides: &[String]) -> Result<FieldMap> {
        let mut map = FieldMap::default();
        for entry in overrides {
            let (field, column) = entry.split_once('=').ok_or_else(|| {
                Error::Usage(format!(
                    "--map {entry:?}: expected FIELD=COLUMN, e.g. --map published=paivamaara"
                ))
            })?;
            let slot = FIELDS
                .iter()
                .position(|f| *f == field.trim())
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "--map {entry:?}: unknown field {:?}; valid fields: {}",
                        field.trim(),
                        FIELDS.join(", ")
                    ))
                })?;
            map.columns[slot] = column.trim().to_string();
        }
        Ok(map)
    }

    pub fn column(&self, field: &str) -> &str {
        let i = FIELDS
            .iter()
            .position(|f| *f == field)
            .expect("known field");
        &self.columns[i]
    }

    pub(crate) fn columns(&self) -> &[String; 8] {
        &self.columns
    }
}

/// A row read from a file, with its 1-based line (CSV, JSONL) or row number (Parquet).
#[derive(Debug)]
pub struct Row {
    pub line: u64,
    pub raw: RawDocument,
}

/// A row that could not be read.
#[derive(Debug, Clone, Serialize)]
pub struct RowError {
    pub line: u64,
    pub reason: String,
}

/// Something that yields rows. `Ok(None)` is the end of the file; `Err` is fatal.
pub trait RowReader: Send {
    fn next_row(&mut self) -> Result<Option<std::result::Result<Row, RowError>>>;
}

/// Opens a reader for `path`; fatal problems (missing columns) are found here,
/// before anything is written.
pub fn open_reader(
    path: &Path,
    format: Format,
    map: &FieldMap,
    limits: &ImportConfig,
    bytes_read: Arc<AtomicU64>,
) -> Result<Box<dyn RowReader>> {
    Ok(match format {
        Format::Jsonl => Box::new(jsonl::JsonlReader::open(path, map, limits, bytes_read)?),
        Format::Csv => Box::new(csv::CsvReader::open(path, map, limits, bytes_read)?),
        Format::Parquet => Box::new(parquet::ParquetRows::open(path, map, bytes_read)?),
    })
}

/// How one import is run.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub format: Option<Format>,
    pub source: Option<String>,
    pub lang: Option<String>,
    pub map: Vec<String>,
    pub strict: bool,
}

/// What an import did; printed at the end and returned as JSON with `--json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    pub file: PathBuf,
    pub rows: u64,
    /// New documents.
    pub imported: u64,
    /// Documents whose content changed and replaced the stored version.
    pub updated: u64,
    /// Rows whose document was already stored with the same content, or whose
    /// stored version was fetched later and was kept.
    pub duplicates: u64,
    pub rejected: u64,
    /// True when `strict` rolled the file back.
    pub rolled_back: bool,
    pub bytes: u64,
    pub seconds: f64,
    /// The first rejections, with their line and reason.
    pub rejections: Vec<RowError>,
}

/// Rejections kept in the summary (`--json`); the rest are counted.
const REPORTED_REJECTIONS: usize = 50;
/// Rejections logged one by one; the rest are summed up in one line.
const LOGGED_REJECTIONS: usize = 10;

impl ImportSummary {
    pub fn docs_per_second(&self) -> f64 {
        self.rows as f64 / self.seconds.max(1e-9)
    }
}

enum Checked {
    Doc(Document),
    Bad(RowError),
}

/// Imports one file into the store and index.
/// Runs `f`, turning a panic inside it into an input error naming the file.
fn no_panic<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("unknown");
        Err(Error::Input {
            path: path.to_path_buf(),
            message: format!(
                "the file could not be read (damaged or unsupported: the reader failed with {message:?}); rows committed before this point are kept"
            ),
        })
    })
}

pub fn import_file(
    path: &Path,
    options: &ImportOptions,
    limits: &ImportConfig,
    store: &mut Store,
    index: &SearchIndex,
    index_config: &crate::config::IndexConfig,
    progress: &Progress,
) -> Result<ImportSummary> {
    let started = Instant::now();
    let format = match options.format {
        Some(format) => format,
        None => Format::from_path(path).ok_or_else(|| Error::Input {
            path: path.to_path_buf(),
            message: "cannot tell the format from the file name; pass --format jsonl|csv|parquet"
                .into(),
        })?,
    };
    let file_len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    let map = FieldMap::with_overrides(&options.map)?;
    let bytes_read = Arc::new(AtomicU64::new(0));
    let mut reader = no_panic(path, || {
        open_reader(path, format, &map, limits, bytes_read.clone())
    })?;

    let defaults = Defaults {
        source: options.source.clone(),
        lang: options.lang.clone(),
        fallback_source: path.file_stem().map(|s| s.to_string_lossy().into_owned()),
    };
    let now = Utc::now();
    let mut updater = index.updater(index_config)?;
    let bar = progress.bytes(file_len, &format!("importing {}", path.display()));
    let mut summary = ImportSummary {
        file: path.to_path_buf(),
        bytes: file_len,
        ..ImportSummary::default()
    };

    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    let (raw_sender, raw_receiver) = crossbeam_channel::bounded::<(u64, Vec<RawRow>)>(workers * 2);
    let (checked_sender, checked_receiver) =
        crossbeam_channel::bounded::<(u64, Vec<Checked>)>(workers * 2);
    // A reader library that panics on a damaged file (polars on corrupt
    // Parquet metadata, say) fails this file, not the process.
    let outcome = no_panic(path, || {
        std::thread::scope(|scope| -> Result<()> {
            // Reading is sequential; checking rows (dates, language detection,
            // hashing) is the expensive part, so it runs on every core.
            let reader_thread = scope.spawn(move || -> Result<()> {
                let mut batch = Vec::with_capacity(BATCH);
                let mut number = 0u64;
                while let Some(row) = reader.next_row()? {
                    batch.push(row);
                    if batch.len() == BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                        if raw_sender.send((number, full)).is_err() {
                            return Ok(()); // the writer stopped; its error is reported
                        }
                        number += 1;
                    }
                }
                if !batch.is_empty() {
                    let _ = raw_sender.send((number, batch));
                }
                Ok(())
            });
            for _ in 0..workers {
                let raw_receiver = raw_receiver.clone();
                let checked_sender = checked_sender.clone();
                let mut builder = DocumentBuilder::new(limits, defaults.clone(), now);
                scope.spawn(move || {
                    lower_thread_priority();
                    for (number, rows) in raw_receiver {
                        let checked = rows
                            .into_iter()
                            .map(|row| check(&mut builder, row))
                            .collect();
                        if checked_sender.send((number, checked)).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(checked_sender);
            drop(raw_receiver);
            let written = write_batches(
                in_order(checked_receiver),
                store,
                &mut updater,
                options.strict,
                limits.batch_size,
                &mut summary,
                path,
                &|| bar.set_position(bytes_read.load(Ordering::Relaxed)),
            );
            let read = reader_thread.join().expect("import reader thread panicked");
            written.and(read)
        })
    });
    bar.finish_and_clear();

    match outcome {
        Err(e) => {
            // Batches committed before the failure stay in the store (they are
            // valid documents); bring the index level with them before returning.
            updater.rollback()?;
            drop(updater);
            index.catch_up(store, index_config)?;
            return Err(e);
        }
        Ok(()) if options.strict && summary.rejected > 0 => {
            updater.rollback()?;
            summary.rolled_back = true;
        }
        Ok(()) => updater.commit(store.max_seq()?)?,
    }
    updater.finish()?;
    summary.seconds = started.elapsed().as_secs_f64();
    if summary.rejected as usize > LOGGED_REJECTIONS {
        warn!(
            file = %path.display(),
            more = summary.rejected as usize - LOGGED_REJECTIONS,
            "more rows rejected (import --json lists the first {REPORTED_REJECTIONS})"
        );
    }
    info!(
        file = %path.display(),
        imported = summary.imported,
        updated = summary.updated,
        duplicates = summary.duplicates,
        rejected = summary.rejected,
        seconds = summary.seconds,
        "import finished"
    );
    Ok(summary)
}

/// Checking workers yield to the writer and the index threads, which are the
/// sequential part of an import: with fair scheduling, four busy checkers on
/// two cores would starve them and the whole import would wait.
fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on the calling thread's own id has no memory effects.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

/// Rows per batch handed between threads.
const BATCH: usize = 1024;

type RawRow = std::result::Result<Row, RowError>;

fn check(builder: &mut DocumentBuilder, row: RawRow) -> Checked {
    match row {
        Ok(row) => match builder.build(row.raw) {
            Ok(doc) => Checked::Doc(doc),
            Err(rejection) => Checked::Bad(RowError {
                line: row.line,
                reason: rejection.to_string(),
            }),
        },
        Err(bad) => Checked::Bad(bad),
    }
}

/// Yields numbered batches in number order, whatever order the workers finish them in.
fn in_order(
    receiver: crossbeam_channel::Receiver<(u64, Vec<Checked>)>,
) -> impl Iterator<Item = Vec<Checked>> {
    let mut waiting = std::collections::BTreeMap::new();
    let mut next = 0u64;
    std::iter::from_fn(move || loop {
        if let Some(batch) = waiting.remove(&next) {
            next += 1;
            return Some(batch);
        }
        let (number, batch) = receiver.recv().ok()?;
        waiting.insert(number, batch);
    })
}

/// The writing half: store transactions of `batch_size` rows (one for the whole
/// file when `strict`), each stored document also handed to the index.
#[allow(clippy::too_many_arguments)]
fn write_batches(
    batches: impl Iterator<Item = Vec<Checked>>,
    store: &mut Store,
    updater: &mut IndexUpdater,
    strict: bool,
    batch_size: usize,
    summary: &mut ImportSummary,
    path: &Path,
    tick: &dyn Fn(),
) -> Result<()> {
    let mut writer = store.writer()?;
    let mut in_transaction = 0usize;
    for batch in batches {
        for item in batch {
            summary.rows += 1;
            match item {
                Checked::Doc(doc) => match writer.put(&doc)? {
                    WriteOutcome::Inserted(_) => {
                        summary.imported += 1;
                        updater.add(&doc, false)?;
                    }
                    WriteOutcome::Updated(_) => {
                        summary.updated += 1;
                        updater.add(&doc, true)?;
                    }
                    WriteOutcome::Duplicate | WriteOutcome::KeptNewer => summary.duplicates += 1,
                },
                Checked::Bad(bad) => {
                    summary.rejected += 1;
                    if summary.rejections.len() < LOGGED_REJECTIONS {
                        warn!(file = %path.display(), line = bad.line, reason = %bad.reason, "row rejected");
                    }
                    if summary.rejections.len() < REPORTED_REJECTIONS {
                        summary.rejections.push(bad);
                    }
                }
            }
            in_transaction += 1;
        }
        tick();
        if !strict && in_transaction >= batch_size {
            writer.commit()?;
            crate::failpoint::hit("import.batch");
            writer = store.writer()?;
            in_transaction = 0;
        }
    }
    if strict && summary.rejected > 0 {
        drop(writer); // rolls back
        return Ok(());
    }
    writer.commit()?;
    crate::failpoint::hit("import.batch");
    Ok(())
}

/// Counts bytes as they are read, for progress bars and MB/s figures.
pub(crate) struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R> CountingReader<R> {
    pub(crate) fn new(inner: R, count: Arc<AtomicU64>) -> Self {
        CountingReader { inner, count }
    }
}

impl<R: std::io::Read> std::io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
