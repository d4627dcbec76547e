//! Parquet rows, read a slice of rows at a time so memory stays flat.

use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::DateTime;
use polars::prelude::{DataFrame, DataType, ParquetReader, SerReader, TimeUnit};

use super::{FieldMap, Row, RowError, RowReader, FIELDS};
use crate::document::{RawDate, RawDocument};
use crate::error::{Error, Result};

/// Rows decoded per slice.
const SLICE_ROWS: usize = 16_384;

pub(super) struct ParquetRows {
    path: PathBuf,
    file: File,
    /// Input column per field of [`FIELDS`], when present.
    columns: [Option<String>; 8],
    total_rows: usize,
    next_offset: usize,
    pending: VecDeque<std::result::Result<Row, RowError>>,
    bytes_read: Arc<AtomicU64>,
    file_len: u64,
}

impl ParquetRows {
    pub(super) fn open(
        path: &Path,
        map: &FieldMap,
        bytes_read: Arc<AtomicU64>,
    ) -> Result<ParquetRows> {
        let parquet_error = |message: String| Error::Parquet {
            path: path.to_path_buf(),
            message,
        };
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut reader = ParquetReader::new(file.try_clone().map_err(|e| Error::io(path, e))?);
        let schema = reader
            .schema()
            .map_err(|e| parquet_error(format!("not a readable Parquet file: {e}")))?;
        let total_rows = reader
            .num_rows()
            .map_err(|e| parquet_error(format!("cannot read row count: {e}")))?;
        let names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
        let columns = map
            .columns()
            .clone()
            .map(|c| names.contains(&c).then_some(c));
        let slot = |field: &str| &columns[FIELDS.iter().position(|f| *f == field).expect("field")];
        if slot("published").is_none() {
            return Err(parquet_error(format!(
                "no {:?} column for the publication date; the file has columns {names:?}; map one with --map published=COLUMN",
                map.column("published")
            )));
        }
        if slot("title").is_none() && slot("text").is_none() {
            return Err(parquet_error(format!(
                "no {:?} or {:?} column; the file has columns {names:?}; map one with --map title=COLUMN",
                map.column("title"),
                map.column("text")
            )));
        }
        Ok(ParquetRows {
            path: path.to_path_buf(),
            file,
            columns,
            total_rows,
            next_offset: 0,
            pending: VecDeque::new(),
            bytes_read,
            file_len,
        })
    }

    fn read_slice(&mut self) -> Result<()> {
        let offset = self.next_offset;
        let len = SLICE_ROWS.min(self.total_rows - offset);
        let wanted: Vec<String> = {
            let mut v: Vec<String> = self.columns.iter().flatten().cloned().collect();
            v.sort();
            v.dedup();
            v
        };
        let file = self
            .file
            .try_clone()
            .map_err(|e| Error::io(&self.path, e))?;
        let frame = ParquetReader::new(file)
            .with_columns(Some(wanted))
            .with_slice(Some((offset, len)))
            .finish()
            .map_err(|e| Error::Parquet {
                path: self.path.clone(),
                message: format!("reading rows {}..{}: {e}", offset + 1, offset + len),
            })?;
        self.next_offset += len;
        self.bytes_read.store(
            (self.file_len as f64 * self.next_offset as f64 / self.total_rows.max(1) as f64) as u64,
            Ordering::Relaxed,
        );
        let mut fields: Vec<Vec<Option<Value>>> = Vec::with_capacity(8);
        for (i, column) in self.columns.iter().enumerate() {
            fields.push(match column {
                None => vec![None; frame.height()],
                Some(name) => {
                    column_values(&frame, name, FIELDS[i]).map_err(|message| Error::Parquet {
                        path: self.path.clone(),
                        message: format!("column {name:?}: {message}"),
                    })?
                }
            });
        }
        let mut columns: Vec<_> = fields.into_iter().map(Vec::into_iter).collect();
        for row in 0..frame.height() {
            let mut take = |i: usize| columns[i].next().flatten();
            let text = |v: Option<Value>| match v {
                Some(Value::Text(s)) => Some(s),
                Some(Value::Date(d)) => Some(d.to_string()),
                None => None,
            };
            let date = |v: Option<Value>| match v {
                Some(Value::Text(s)) => Some(RawDate::Text(s)),
                Some(Value::Date(d)) => Some(RawDate::Parsed(d)),
                None => None,
            };
            self.pending.push_back(Ok(Row {
                line: (offset + row + 1) as u64,
                raw: RawDocument {
                    id: text(take(0)),
                    url: text(take(1)),
                    source: text(take(2)),
                    published: date(take(3)),
                    title: text(take(4)),
                    text: text(take(5)),
                    lang: text(take(6)),
                    fetched_at: date(take(7)),
                },
            }));
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
enum Value {
    Text(String),
    Date(DateTime<chrono::Utc>),
}

/// Decodes one column as text, or as instants for date and datetime columns.
fn column_values(
    frame: &DataFrame,
    name: &str,
    field: &str,
) -> std::result::Result<Vec<Option<Value>>, String> {
    let column = frame.column(name).map_err(|e| e.to_string())?;
    let series = column.as_materialized_series();
    let dates = |unit_per_second: i64,
                 series: &polars::prelude::Series|
     -> std::result::Result<Vec<Option<Value>>, String> {
        let ints = series.cast(&DataType::Int64).map_err(|e| e.to_string())?;
        let ints = ints.i64().map_err(|e| e.to_string())?;
        Ok(ints
            .iter()
            .map(|v| {
                v.and_then(|v| {
                    DateTime::from_timestamp(
                        v.div_euclid(unit_per_second),
                        (v.rem_euclid(unit_per_second) * (1_000_000_000 / unit_per_second)) as u32,
                    )
                })
                .map(Value::Date)
            })
            .collect())
    };
    match series.dtype() {
        DataType::Datetime(unit, _) if matches!(field, "published" | "fetched_at") => {
            let per_second = match unit {
                TimeUnit::Nanoseconds => 1_000_000_000,
                TimeUnit::Microseconds => 1_000_000,
                TimeUnit::Milliseconds => 1_000,
            };
            dates(per_second, series)
        }
        DataType::Date if matches!(field, "published" | "fetched_at") => {
            let days = series.cast(&DataType::Int32).map_err(|e| e.to_string())?;
            let days = days.i32().map_err(|e| e.to_string())?;
            Ok(days
                .iter()
                .map(|d| {
                    d.and_then(|d| DateTime::from_timestamp(d as i64 * 86_400, 0))
                        .map(Value::Date)
                })
                .collect())
        }
        _ => {
            let strings = series.cast(&DataType::String).map_err(|e| e.to_string())?;
            let strings = strings.str().map_err(|e| e.to_string())?;
            Ok(strings
                .iter()
                .map(|s| s.map(|s| Value::Text(s.to_string())))
                .collect())
        }
    }
}

impl RowReader for ParquetRows {
    fn next_row(&mut self) -> Result<Option<std::result::Result<Row, RowError>>> {
        if self.pending.is_empty() && self.next_offset < self.total_rows {
            self.read_slice()?;
        }
        Ok(self.pending.pop_front())
    }
}
