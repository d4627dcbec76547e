//! Vectors computed elsewhere, loaded into the store: the other half of a
//! backfill on Spark (`pipelines/spark/embed.py`, docs/scaling.md).
//!
//! A vector is only as good as the match between the text it was computed
//! from and the document the store holds now, and the model that computed
//! it. So each row must carry the configured model's id and the content hash
//! of the text embedded: a vector of another model or of the wrong size is
//! rejected, one whose document changed (or is not in the store) is
//! skipped, and one the store already holds for the same content is left
//! as it is. Reruns are idempotent, and `embed` afterwards embeds only what
//! is still missing. Each slice of rows is one transaction.

use std::path::{Path, PathBuf};

use polars::prelude::{DataFrame, DataType, ParquetReader, SerReader};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::store::Store;

/// Rows read and written per transaction.
const SLICE_ROWS: usize = 8192;
/// Rejected rows named in the summary (the counts cover them all).
const SHOWN_REJECTIONS: usize = 10;
/// How far a vector's length may be from 1: the store's vectors are
/// L2-normalised (and kept as f16, which is within 1e-3).
const NORM_TOLERANCE: f32 = 1e-2;

/// What `import-vectors` did.
#[derive(Debug, Default, Serialize)]
pub struct VectorImport {
    pub model: String,
    pub files: u64,
    /// Written: the document had no vector for the model, or one of older content.
    pub imported: u64,
    /// The store already held a vector of this model for this content.
    pub already: u64,
    /// The document changed since the vector was computed.
    pub skipped_changed: u64,
    /// No such document in the store.
    pub skipped_missing: u64,
    /// Another model, the wrong size, not finite or not unit length, or a missing field.
    pub rejected: u64,
    /// The first rejected rows: file, row (1-based) and why.
    pub rejections: Vec<String>,
}

/// The Parquet files under `dir` (its `vectors/` folder when it is a whole
/// export), in path order; Spark's `_SUCCESS` and `.crc` files and hidden
/// entries are not data.
pub fn vector_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let root = if dir.join("vectors").is_dir() {
        dir.join("vectors")
    } else {
        dir.to_path_buf()
    };
    if !root.is_dir() {
        return Err(Error::Input {
            path: dir.to_path_buf(),
            message: "not a directory of vector Parquet files (vectors/month=YYYY-MM/*.parquet)"
                .into(),
        });
    }
    let mut files = Vec::new();
    let mut pending = vec![root];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else if name.ends_with(".parquet") {
                files.push(path);
            }
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Error::Input {
            path: dir.to_path_buf(),
            message: "no .parquet files in it".into(),
        });
    }
    Ok(files)
}

/// Imports the vectors in the Parquet files under `dir` for `model` (of
/// `dims` dimensions) into `store`.
pub fn import_vectors(
    store: &mut Store,
    dir: &Path,
    model: &str,
    dims: usize,
) -> Result<VectorImport> {
    let mut summary = VectorImport {
        model: model.to_string(),
        ..VectorImport::default()
    };
    for path in vector_files(dir)? {
        import_file(store, &path, model, dims, &mut summary)?;
        summary.files += 1;
    }
    tracing::info!(
        model,
        files = summary.files,
        imported = summary.imported,
        already = summary.already,
        skipped_changed = summary.skipped_changed,
        skipped_missing = summary.skipped_missing,
        rejected = summary.rejected,
        "vectors imported"
    );
    Ok(summary)
}

/// One row of a vectors file, decoded.
struct VectorRow {
    id: Option<String>,
    model: Option<String>,
    content_hash: Option<String>,
    vector: Option<Vec<Option<f32>>>,
}

fn import_file(
    store: &mut Store,
    path: &Path,
    model: &str,
    dims: usize,
    summary: &mut VectorImport,
) -> Result<()> {
    let parquet_error = |message: String| Error::Parquet {
        path: path.to_path_buf(),
        message,
    };
    let open = || std::fs::File::open(path).map_err(|e| Error::io(path, e));
    let mut reader = ParquetReader::new(open()?);
    let schema = reader
        .schema()
        .map_err(|e| parquet_error(format!("not a readable Parquet file: {e}")))?;
    let names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    let columns = ["id", "model", "content_hash", "vector"];
    if let Some(missing) = columns.iter().find(|c| !names.iter().any(|n| n == *c)) {
        return Err(parquet_error(format!(
            "no {missing:?} column; a vectors file has {columns:?}, this one has {names:?}"
        )));
    }
    let total = reader
        .num_rows()
        .map_err(|e| parquet_error(format!("cannot read the row count: {e}")))?;
    let mut offset = 0;
    while offset < total {
        let len = SLICE_ROWS.min(total - offset);
        let frame = ParquetReader::new(open()?)
            .with_columns(Some(columns.iter().map(|c| c.to_string()).collect()))
            .with_slice(Some((offset, len)))
            .finish()
            .map_err(|e| {
                parquet_error(format!(
                    "reading rows {}..{}: {e}",
                    offset + 1,
                    offset + len
                ))
            })?;
        let rows = decode(&frame).map_err(parquet_error)?;
        let writer = store.writer()?;
        for (i, row) in rows.into_iter().enumerate() {
            let line = offset + i + 1;
            let (id, hash, vector) = match check(row, model, dims) {
                Ok(fit) => fit,
                Err(why) => {
                    summary.rejected += 1;
                    if summary.rejections.len() < SHOWN_REJECTIONS {
                        summary
                            .rejections
                            .push(format!("{} row {line}: {why}", path.display()));
                    }
                    continue;
                }
            };
            match writer.vector_fit(&id, model)? {
                None => summary.skipped_missing += 1,
                Some((current, _)) if current != hash => summary.skipped_changed += 1,
                Some((_, Some(stored))) if stored == hash => summary.already += 1,
                Some(_) => {
                    writer.put_vector(&id, model, &hash, &super::encode_f16(&vector))?;
                    summary.imported += 1;
                }
            }
        }
        writer.commit()?;
        offset += len;
    }
    Ok(())
}

/// The columns of a slice as rows; a column of the wrong type is an error
/// naming it.
fn decode(frame: &DataFrame) -> std::result::Result<Vec<VectorRow>, String> {
    let strings = |name: &str| -> std::result::Result<Vec<Option<String>>, String> {
        let column = frame.column(name).map_err(|e| e.to_string())?;
        let series = column.as_materialized_series();
        let values = series
            .str()
            .map_err(|_| format!("column {name:?} is {}, not text", series.dtype()))?;
        Ok(values.iter().map(|v| v.map(str::to_string)).collect())
    };
    let ids = strings("id")?;
    let models = strings("model")?;
    let hashes = strings("content_hash")?;
    let column = frame.column("vector").map_err(|e| e.to_string())?;
    let series = column.as_materialized_series();
    let as_list = series
        .cast(&DataType::List(Box::new(DataType::Float32)))
        .map_err(|_| {
            format!(
                "column \"vector\" is {}, not a list of numbers",
                series.dtype()
            )
        })?;
    let lists = as_list.list().map_err(|e| e.to_string())?;
    let mut vectors = Vec::with_capacity(frame.height());
    for list in lists.amortized_iter() {
        vectors.push(match list {
            None => None,
            Some(values) => Some(
                values
                    .as_ref()
                    .f32()
                    .map_err(|e| e.to_string())?
                    .iter()
                    .collect::<Vec<_>>(),
            ),
        });
    }
    Ok(ids
        .into_iter()
        .zip(models)
        .zip(hashes)
        .zip(vectors)
        .map(|(((id, model), content_hash), vector)| VectorRow {
            id,
            model,
            content_hash,
            vector,
        })
        .collect())
}

/// The row's id, content hash and vector if it is a vector of `model` with
/// `dims` finite components and unit length; else why not.
fn check(
    row: VectorRow,
    model: &str,
    dims: usize,
) -> std::result::Result<(String, String, Vec<f32>), String> {
    let id = row.id.filter(|s| !s.is_empty()).ok_or("no id")?;
    let hash = row
        .content_hash
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("document {id}: no content_hash"))?;
    match row.model.as_deref() {
        Some(m) if m == model => {}
        Some(m) => {
            return Err(format!(
                "document {id}: model {m:?}, but the store's vectors are {model:?}"
            ))
        }
        None => return Err(format!("document {id}: no model")),
    }
    let vector = row
        .vector
        .ok_or_else(|| format!("document {id}: no vector"))?;
    if vector.len() != dims {
        return Err(format!(
            "document {id}: {} dimensions, the model has {dims}",
            vector.len()
        ));
    }
    let vector: Vec<f32> = vector
        .into_iter()
        .map(|x| x.filter(|x| x.is_finite()))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("document {id}: a component is null or not finite"))?;
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if (norm - 1.0).abs() > NORM_TOLERANCE {
        return Err(format!(
            "document {id}: length {norm:.4}, not 1 (the model's vectors are normalised)"
        ));
    }
    Ok((id, hash, vector))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(model: &str, vector: Vec<Option<f32>>) -> VectorRow {
        VectorRow {
            id: Some("d1".into()),
            model: Some(model.into()),
            content_hash: Some("h".into()),
            vector: Some(vector),
        }
    }

    #[test]
    fn rows_of_another_model_size_or_length_are_rejected_with_the_reason() {
        let unit = vec![Some(0.6), Some(0.8), Some(0.0)];
        assert!(check(row("m", unit.clone()), "m", 3).is_ok());
        let why = |r| check(r, "m", 3).unwrap_err();
        assert!(why(row("other", unit.clone())).contains("model \"other\""));
        assert!(why(row("m", vec![Some(1.0), Some(0.0)])).contains("2 dimensions"));
        assert!(why(row("m", vec![Some(1.0), None, Some(0.0)])).contains("null"));
        assert!(why(row("m", vec![Some(f32::NAN), Some(0.0), Some(0.0)])).contains("finite"));
        assert!(why(row("m", vec![Some(2.0), Some(0.0), Some(0.0)])).contains("length 2.0000"));
        let mut no_hash = row("m", unit);
        no_hash.content_hash = None;
        assert!(why(no_hash).contains("no content_hash"));
    }
}
