//! `weaksignal bench`: reproducible speed figures for BENCHMARKS.md.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::cli::{BenchKind, Context};
use crate::error::{Error, Result};
use crate::import::{ImportOptions, ImportSummary};
use crate::index::SearchIndex;
use crate::store::Store;
use crate::Outcome;

#[derive(Debug, Serialize)]
pub struct ImportBench {
    pub documents: u64,
    pub file_bytes: u64,
    pub seconds: f64,
    pub docs_per_second: f64,
    pub mb_per_second: f64,
    pub peak_rss_mb: f64,
    pub summary: ImportSummary,
}

pub fn run(ctx: &Context, which: BenchKind, out: &mut dyn Write) -> Result<Outcome> {
    match which {
        BenchKind::Import {
            docs,
            corpus,
            lang,
            work_dir,
            json,
        } => {
            let corpus = corpus.unwrap_or_else(|| {
                crate::shared_dir().join("corpora/guardian-headlines/guardian_headlines.csv")
            });
            let temp;
            let work = match work_dir {
                Some(dir) => dir,
                None => {
                    temp = TempDir::new()?;
                    temp.0.clone()
                }
            };
            let result = import_bench(ctx, &corpus, &work, docs, lang)?;
            if json {
                serde_json::to_writer_pretty(&mut *out, &result)
                    .map_err(|e| Error::io("<stdout>", e.into()))?;
                writeln!(out).map_err(|e| Error::io("<stdout>", e))?;
            } else {
                writeln!(
                    out,
                    "import bench: {} documents ({:.1} MB CSV) in {:.2} s: {:.0} documents/s, {:.1} MB/s, peak RSS {:.0} MB",
                    result.documents,
                    result.file_bytes as f64 / 1e6,
                    result.seconds,
                    result.docs_per_second,
                    result.mb_per_second,
                    result.peak_rss_mb
                )
                .map_err(|e| Error::io("<stdout>", e))?;
            }
            Ok(Outcome::Success)
        }
    }
}

/// Replicates the headlines of `corpus` with fresh ids into a CSV of `docs` rows,
/// then imports it into an empty store under `work`.
pub fn import_bench(
    ctx: &Context,
    corpus: &Path,
    work: &Path,
    docs: u64,
    lang: Option<String>,
) -> Result<ImportBench> {
    std::fs::create_dir_all(work).map_err(|e| Error::io(work, e))?;
    let input = work.join("bench-headlines.csv");
    let rows = read_headlines(corpus)?;
    write_replicated(&rows, &input, docs)?;
    let data_dir = work.join("data");
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir).map_err(|e| Error::io(&data_dir, e))?;
    }
    let started = Instant::now();
    let mut store = Store::open(&data_dir)?;
    let index = SearchIndex::open_synced(&data_dir, &store, &ctx.config.index)?;
    let options = ImportOptions {
        source: Some("guardian-bench".into()),
        lang,
        ..ImportOptions::default()
    };
    let summary = crate::import::import_file(
        &input,
        &options,
        &ctx.config.import,
        &mut store,
        &index,
        &ctx.config.index,
        &ctx.progress,
    )?;
    let seconds = started.elapsed().as_secs_f64();
    let file_bytes = summary.bytes;
    Ok(ImportBench {
        documents: summary.imported,
        file_bytes,
        seconds,
        docs_per_second: summary.rows as f64 / seconds,
        mb_per_second: file_bytes as f64 / 1e6 / seconds,
        peak_rss_mb: peak_rss_mb(),
        summary,
    })
}

fn read_headlines(corpus: &Path) -> Result<Vec<(String, String)>> {
    let mut reader = csv::Reader::from_path(corpus).map_err(|e| Error::Input {
        path: corpus.to_path_buf(),
        message: format!(
            "cannot read the benchmark corpus: {e} (set WEAKSIGNAL_SHARED or pass --corpus)"
        ),
    })?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| Error::Input {
            path: corpus.to_path_buf(),
            message: e.to_string(),
        })?;
        if let (Some(time), Some(title)) = (record.get(0), record.get(1)) {
            if crate::time::parse_datetime(time).is_ok() {
                rows.push((time.to_string(), title.to_string()));
            }
        }
    }
    if rows.is_empty() {
        return Err(Error::Input {
            path: corpus.to_path_buf(),
            message: "no usable rows (expected columns Time, Headlines)".into(),
        });
    }
    Ok(rows)
}

fn write_replicated(rows: &[(String, String)], path: &Path, docs: u64) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut writer = csv::Writer::from_writer(std::io::BufWriter::with_capacity(1 << 20, file));
    let io = |e: csv::Error| Error::Input {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    writer
        .write_record(["id", "published", "title"])
        .map_err(io)?;
    for i in 0..docs {
        let (time, title) = &rows[(i % rows.len() as u64) as usize];
        writer
            .write_record([format!("bench-{i}").as_str(), time, title])
            .map_err(io)?;
    }
    writer.flush().map_err(|e| Error::io(path, e))
}

/// Peak resident memory of this process (VmHWM), in MB; 0 where /proc is missing.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir> {
        let path = std::env::temp_dir().join(format!("weaksignal-bench-{}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
