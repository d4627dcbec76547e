//! Hand-over to distributed engines: date-partitioned Parquet for Spark,
//! DataFusion/Ballista or DuckDB, and NDJSON for Quickwit or OpenSearch.
//!
//! When users outgrow one machine the work moves onto existing engines, not
//! home-made ones (docs/scaling.md). The export is their input: documents,
//! topic assignments and vectors, partitioned by the UTC month of
//! publication (`month=2020-01`, hive style), plus the weekly per-topic
//! counts that polars computes here, so a downstream job can check that it
//! reads the same data (tests/spark/weekly_counts.py does, in Spark). An
//! export is written next to its destination and renamed into place: a
//! reader never sees half of one, and a rerun replaces it whole.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::Float32Type;
use polars::prelude::{
    col, len, lit, DataFrame, DataType, IntoColumn, IntoLazy, ListBuilderTrait,
    ListPrimitiveChunkedBuilder, NamedFrom, ParquetCompression, ParquetWriter, Series, TimeUnit,
    TimeZone,
};
use serde::Serialize;

use crate::config::{SignalsConfig, TopicsConfig, Window};
use crate::document::Document;
use crate::error::{Error, Result};
use crate::signals::view::{Checkpoints, View};
use crate::store::Store;
use crate::topics::UNASSIGNED;

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Parquet,
    Ndjson,
}

/// What an export wrote (also `manifest.json`).
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub format: ExportFormat,
    pub as_of: String,
    pub window: Window,
    pub model: String,
    pub documents: u64,
    pub assignments: u64,
    pub topics: u64,
    pub months: Vec<String>,
    /// Table name to its path inside the export, with its columns.
    pub tables: std::collections::BTreeMap<String, String>,
}

pub struct ExportRequest<'a> {
    pub dir: &'a Path,
    pub format: ExportFormat,
    pub model: &'a str,
    pub as_of: i64,
    pub window: Window,
    pub topics: &'a TopicsConfig,
    pub signals: &'a SignalsConfig,
    pub morphology: &'a std::sync::Arc<crate::morph::Morphology>,
    /// Documents and the vectors already stored only: no topics, so nothing
    /// is embedded or clustered first (the input of a Spark embedding
    /// backfill, `pipelines/spark/embed.py`).
    pub documents_only: bool,
}

fn polars_err(path: &Path) -> impl Fn(polars::error::PolarsError) -> Error + '_ {
    move |e| Error::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn month_of(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .unwrap_or_default()
        .format("%Y-%m")
        .to_string()
}

fn utc_micros() -> DataType {
    DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
}

fn timestamps(name: &str, seconds: &[i64], path: &Path) -> Result<Series> {
    let micros: Vec<i64> = seconds.iter().map(|s| s * 1_000_000).collect();
    Series::new(name.into(), micros)
        .cast(&utc_micros())
        .map_err(polars_err(path))
}

fn write_parquet(path: &Path, df: &mut DataFrame) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Snappy)
        .finish(df)
        .map_err(polars_err(path))?;
    Ok(())
}

/// Writes the export; returns its manifest.
pub fn export(store: &mut Store, request: &ExportRequest) -> Result<Manifest> {
    let (keys, topics_all) = if request.documents_only {
        (Vec::new(), Vec::new())
    } else {
        topics_of_all(store, request)?
    };
    let topic_of: HashMap<&str, u32> = keys
        .iter()
        .zip(&topics_all)
        .map(|((id, _), &t)| (id.as_str(), t))
        .collect();

    let final_dir = request.dir.to_path_buf();
    let parent = match final_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let building = tempfile::Builder::new()
        .prefix(".export-")
        .tempdir_in(&parent)
        .map_err(|e| Error::io(&parent, e))?;
    let root = building.path();

    let mut months = Vec::new();
    let mut documents = 0u64;
    let mut batch: Vec<Document> = Vec::new();
    let flush = |batch: &mut Vec<Document>, months: &mut Vec<String>| -> Result<()> {
        let Some(first) = batch.first() else {
            return Ok(());
        };
        let month = month_of(first.published.timestamp());
        match request.format {
            ExportFormat::Parquet => write_documents_parquet(root, &month, batch)?,
            ExportFormat::Ndjson => write_documents_ndjson(root, &month, batch, &topic_of)?,
        }
        months.push(month);
        batch.clear();
        Ok(())
    };
    store.for_each_document_by_published(request.as_of, |doc| {
        let month = month_of(doc.published.timestamp());
        if batch
            .first()
            .is_some_and(|f| month_of(f.published.timestamp()) != month)
        {
            flush(&mut batch, &mut months)?;
        }
        documents += 1;
        batch.push(doc);
        Ok(())
    })?;
    flush(&mut batch, &mut months)?;

    let mut tables = std::collections::BTreeMap::new();
    let assignments = keys.len() as u64;
    let topics = topics_all
        .iter()
        .filter(|&&t| t != UNASSIGNED)
        .collect::<std::collections::HashSet<_>>()
        .len() as u64;
    match request.format {
        ExportFormat::Parquet => {
            tables.insert("documents".into(), "documents/month=YYYY-MM/part-0.parquet: id, source, url, title, text, lang, published, fetched_at, content_hash".into());
            tables.insert(
                "vectors".into(),
                "vectors/month=YYYY-MM/part-0.parquet: id, model, content_hash, vector (list<float32>)".into(),
            );
            write_vectors(root, store, request)?;
            if !request.documents_only {
                tables.insert("assignments".into(), "assignments/month=YYYY-MM/part-0.parquet: id, topic (null: in no topic), published".into());
                tables.insert(
                    "topic_weekly_counts".into(),
                    "topic_weekly_counts.parquet: topic, week_start (Monday 00:00 UTC), docs"
                        .into(),
                );
                write_assignments(root, &keys, &topics_all)?;
                let mut counts = weekly_counts(&keys, &topics_all)?;
                write_parquet(&root.join("topic_weekly_counts.parquet"), &mut counts)?;
            }
        }
        ExportFormat::Ndjson => {
            tables.insert("documents".into(), "documents/month=YYYY-MM.ndjson: id, source, url, title, text, lang, published, topic".into());
        }
    }
    write_analyst(root, store)?;
    tables.insert(
        "watches".into(),
        "analyst/watches.ndjson: name, spec (target and rule), owner, quiet_days, created_at"
            .into(),
    );
    tables.insert(
        "alerts".into(),
        "analyst/alerts.ndjson: id, watch, signal, as_of, fired_at, body".into(),
    );
    tables.insert(
        "deliveries".into(),
        "analyst/deliveries.ndjson: alert, channel, status (delivered, failed, dead), attempts, last_error, updated_at".into(),
    );
    tables.insert(
        "marks".into(),
        "analyst/marks.ndjson: id, signal, verdict, duplicate_of, note, by, at, growth (every mark; the newest per signal counts)".into(),
    );
    let manifest = Manifest {
        format: request.format,
        as_of: crate::signals::rfc3339(request.as_of),
        window: request.window,
        model: request.model.to_string(),
        documents,
        assignments,
        topics,
        months,
        tables,
    };
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| Error::Serialize {
        what: "export manifest".into(),
        message: e.to_string(),
    })?;
    std::fs::write(root.join("manifest.json"), text).map_err(|e| Error::io(root, e))?;

    // Into place: the old export (if any) goes only after the new one is complete.
    let built = building.keep();
    if final_dir.exists() {
        let old = parent.join(format!(
            ".export-old-{}",
            final_dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("export")
        ));
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(&final_dir, &old).map_err(|e| Error::io(&final_dir, e))?;
        std::fs::rename(&built, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    } else {
        std::fs::rename(&built, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
    }
    Ok(manifest)
}

/// A document's id and publication time (Unix seconds).
type DocumentKey = (String, i64);

/// Every document's key (id, published) in the store's global order, and
/// its live topic as of the request: clustering from the first window, so
/// that every document's assignment is known (a checkpointed run knows only
/// the trailing history's).
fn topics_of_all(
    store: &mut Store,
    request: &ExportRequest,
) -> Result<(Vec<DocumentKey>, Vec<u32>)> {
    let view = View::build(
        store,
        request.model,
        request.morphology,
        request.as_of,
        request.window,
        request.topics,
        request.signals,
        Checkpoints::Rebuild,
    )?;
    // Every document's live topic, in the store's global order: those the
    // view loaded from its state, the earlier ones from its prefix.
    let local = view.state.resolved_assignment();
    let offset = view.prefix.len();
    let mut keys: Vec<(String, i64)> = Vec::new();
    store.for_each_document_key(request.model, request.as_of, |ts, id, _| {
        keys.push((id.to_string(), ts))
    })?;
    if keys.len() != offset + view.corpus.len()
        || keys[offset..]
            .iter()
            .zip(&view.corpus.ids)
            .any(|((id, _), loaded)| id != loaded)
    {
        return Err(Error::StoreChanged {
            path: store.path().to_path_buf(),
            message: "while it was exported".into(),
        });
    }
    let topics_all: Vec<u32> = (0..keys.len())
        .map(|g| match g.checked_sub(offset) {
            Some(d) => local[d],
            None if view.prefix[g] == UNASSIGNED => UNASSIGNED,
            None => view.state.resolve(view.prefix[g]),
        })
        .collect();
    Ok((keys, topics_all))
}

/// What analysts stored (watches, alerts, deliveries): not derived from
/// documents, so an export carries them whole, as NDJSON in any format.
fn write_analyst(root: &Path, store: &Store) -> Result<()> {
    fn lines<T: Serialize>(root: &Path, name: &str, rows: &[T]) -> Result<()> {
        let dir = root.join("analyst");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = dir.join(name);
        let mut out =
            std::io::BufWriter::new(std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?);
        for row in rows {
            serde_json::to_writer(&mut out, row).map_err(|e| Error::Serialize {
                what: path.display().to_string(),
                message: e.to_string(),
            })?;
            out.write_all(b"\n").map_err(|e| Error::io(&path, e))?;
        }
        out.flush().map_err(|e| Error::io(&path, e))
    }
    lines(root, "watches.ndjson", &store.watches()?)?;
    lines(root, "alerts.ndjson", &store.alerts(usize::MAX >> 1)?)?;
    lines(root, "deliveries.ndjson", &store.deliveries(None)?)?;
    lines(root, "marks.ndjson", &store.marks()?)
}

fn topic_value(topic: u32) -> Option<i64> {
    (topic != UNASSIGNED).then_some(topic as i64)
}

fn write_documents_parquet(root: &Path, month: &str, docs: &[Document]) -> Result<()> {
    let path = root.join(format!("documents/month={month}/part-0.parquet"));
    let strings = |f: fn(&Document) -> &str| docs.iter().map(f).collect::<Vec<&str>>();
    let published: Vec<i64> = docs.iter().map(|d| d.published.timestamp()).collect();
    let fetched: Vec<i64> = docs.iter().map(|d| d.fetched_at.timestamp()).collect();
    let urls: Vec<Option<&str>> = docs.iter().map(|d| d.url.as_deref()).collect();
    let mut df = DataFrame::new_infer_height(vec![
        Series::new("id".into(), strings(|d| &d.id)).into_column(),
        Series::new("source".into(), strings(|d| &d.source)).into_column(),
        Series::new("url".into(), urls).into_column(),
        Series::new("title".into(), strings(|d| &d.title)).into_column(),
        Series::new("text".into(), strings(|d| &d.text)).into_column(),
        Series::new("lang".into(), strings(|d| &d.lang)).into_column(),
        timestamps("published", &published, &path)?.into_column(),
        timestamps("fetched_at", &fetched, &path)?.into_column(),
        Series::new("content_hash".into(), strings(|d| &d.content_hash)).into_column(),
    ])
    .map_err(polars_err(&path))?;
    write_parquet(&path, &mut df)
}

fn write_documents_ndjson(
    root: &Path,
    month: &str,
    docs: &[Document],
    topic_of: &HashMap<&str, u32>,
) -> Result<()> {
    let dir = root.join("documents");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let path = dir.join(format!("month={month}.ndjson"));
    let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
    let mut out = std::io::BufWriter::new(file);
    for d in docs {
        let line = serde_json::json!({
            "id": d.id,
            "source": d.source,
            "url": d.url,
            "title": d.title,
            "text": d.text,
            "lang": d.lang,
            "published": crate::document::rfc3339(d.published),
            "topic": topic_of.get(d.id.as_str()).copied().and_then(topic_value),
        });
        serde_json::to_writer(&mut out, &line).map_err(|e| Error::io(&path, e.into()))?;
        out.write_all(b"\n").map_err(|e| Error::io(&path, e))?;
    }
    out.flush().map_err(|e| Error::io(&path, e))
}

/// Document indexes by month of publication: `(month, range)` (keys are in time order).
fn by_month(keys: &[(String, i64)]) -> Vec<(String, std::ops::Range<usize>)> {
    let mut out: Vec<(String, std::ops::Range<usize>)> = Vec::new();
    for (d, (_, ts)) in keys.iter().enumerate() {
        let month = month_of(*ts);
        match out.last_mut() {
            Some((m, range)) if *m == month => range.end = d + 1,
            _ => out.push((month, d..d + 1)),
        }
    }
    out
}

fn write_assignments(root: &Path, keys: &[(String, i64)], topics: &[u32]) -> Result<()> {
    for (month, range) in by_month(keys) {
        let path = root.join(format!("assignments/month={month}/part-0.parquet"));
        let ids: Vec<&str> = keys[range.clone()]
            .iter()
            .map(|(id, _)| id.as_str())
            .collect();
        let topic: Vec<Option<i64>> = topics[range.clone()]
            .iter()
            .map(|&t| topic_value(t))
            .collect();
        let published: Vec<i64> = keys[range].iter().map(|(_, ts)| *ts).collect();
        let mut df = DataFrame::new_infer_height(vec![
            Series::new("id".into(), ids).into_column(),
            Series::new("topic".into(), topic).into_column(),
            timestamps("published", &published, &path)?.into_column(),
        ])
        .map_err(polars_err(&path))?;
        write_parquet(&path, &mut df)?;
    }
    Ok(())
}

fn write_vectors(root: &Path, store: &Store, request: &ExportRequest) -> Result<()> {
    let mut month = String::new();
    let mut ids: Vec<String> = Vec::new();
    let mut hashes: Vec<String> = Vec::new();
    let mut vectors: Vec<Vec<f32>> = Vec::new();
    let flush = |month: &str,
                 ids: &mut Vec<String>,
                 hashes: &mut Vec<String>,
                 vectors: &mut Vec<Vec<f32>>|
     -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let path = root.join(format!("vectors/month={month}/part-0.parquet"));
        let dims = vectors.first().map_or(0, Vec::len);
        let mut builder = ListPrimitiveChunkedBuilder::<Float32Type>::new(
            "vector".into(),
            vectors.len(),
            vectors.len() * dims,
            DataType::Float32,
        );
        for v in vectors.iter() {
            builder.append_slice(v);
        }
        let models = vec![request.model; ids.len()];
        let mut df = DataFrame::new_infer_height(vec![
            Series::new("id".into(), ids.as_slice()).into_column(),
            Series::new("model".into(), models).into_column(),
            Series::new("content_hash".into(), hashes.as_slice()).into_column(),
            polars::prelude::IntoSeries::into_series(builder.finish()).into_column(),
        ])
        .map_err(polars_err(&path))?;
        write_parquet(&path, &mut df)?;
        ids.clear();
        hashes.clear();
        vectors.clear();
        Ok(())
    };
    // The store's callback reports errors as text; a failed flush is kept whole.
    let mut failure: Option<Error> = None;
    let scanned = store.for_each_document_vector(request.model, None, Some(request.as_of), |row| {
        let m = month_of(row.published);
        if m != month {
            if let Err(e) = flush(&month, &mut ids, &mut hashes, &mut vectors) {
                let message = e.to_string();
                failure = Some(e);
                return Err(message);
            }
            month = m;
        }
        ids.push(row.id.to_string());
        hashes.push(row.content_hash.to_string());
        vectors.push(crate::embed::decode_f16(row.vector));
        Ok(())
    });
    if let Some(e) = failure {
        return Err(e);
    }
    scanned?;
    flush(&month, &mut ids, &mut hashes, &mut vectors)
}

/// Documents per topic and week (Monday 00:00 UTC), computed by polars.
pub fn weekly_counts(keys: &[(String, i64)], topics: &[u32]) -> Result<DataFrame> {
    let here = Path::new("topic_weekly_counts");
    let topic: Vec<Option<i64>> = topics.iter().map(|&t| topic_value(t)).collect();
    let seconds: Vec<i64> = keys.iter().map(|(_, ts)| *ts).collect();
    let df = DataFrame::new_infer_height(vec![
        Series::new("topic".into(), topic).into_column(),
        timestamps("published", &seconds, here)?.into_column(),
    ])
    .map_err(polars_err(here))?;
    df.lazy()
        .filter(col("topic").is_not_null())
        .with_column(
            col("published")
                .dt()
                .truncate(lit("1w"))
                .alias("week_start"),
        )
        .group_by([col("topic"), col("week_start")])
        .agg([len().cast(DataType::Int64).alias("docs")])
        .sort(["topic", "week_start"], Default::default())
        .collect()
        .map_err(polars_err(here))
}
