//! JSON Lines rows: one object per line.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use serde_json::Value;

use super::{CountingReader, FieldMap, Row, RowError, RowReader, FIELDS};
use crate::config::ImportConfig;
use crate::document::{RawDate, RawDocument};
use crate::error::{Error, Result};

pub(super) struct JsonlReader {
    path: PathBuf,
    reader: BufReader<CountingReader<File>>,
    columns: [String; 8],
    line: u64,
    buf: Vec<u8>,
    max_record_bytes: usize,
}

impl JsonlReader {
    pub(super) fn open(
        path: &Path,
        map: &FieldMap,
        limits: &ImportConfig,
        count: Arc<AtomicU64>,
    ) -> Result<JsonlReader> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut reader = BufReader::with_capacity(1 << 20, CountingReader::new(file, count));
        let start = reader.fill_buf().map_err(|e| Error::io(path, e))?;
        let first = start.iter().find(|b| !b.is_ascii_whitespace());
        if first == Some(&b'[') {
            return Err(Error::Input {
                path: path.to_path_buf(),
                message: "this is a JSON array, not JSON Lines; write one object per line (e.g. jq -c '.[]')".into(),
            });
        }
        Ok(JsonlReader {
            path: path.to_path_buf(),
            reader,
            columns: map.columns().clone(),
            line: 0,
            buf: Vec::with_capacity(4096),
            max_record_bytes: limits.max_record_bytes,
        })
    }

    /// Reads one line into `buf` without ever holding more than the limit;
    /// returns false at end of file and whether the line was cut.
    fn read_line(&mut self) -> std::io::Result<Option<bool>> {
        self.buf.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let available = self.reader.fill_buf()?;
            if available.is_empty() {
                return Ok(any.then_some(too_long));
            }
            any = true;
            let (chunk, done) = match memchr_newline(available) {
                Some(i) => (&available[..i], Some(i + 1)),
                None => (available, None),
            };
            if !too_long {
                if self.buf.len() + chunk.len() > self.max_record_bytes {
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(chunk);
                }
            }
            let consumed = done.unwrap_or(available.len());
            self.reader.consume(consumed);
            if done.is_some() {
                return Ok(Some(too_long));
            }
        }
    }
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

impl RowReader for JsonlReader {
    fn next_row(&mut self) -> Result<Option<std::result::Result<Row, RowError>>> {
        loop {
            let too_long = match self.read_line() {
                Ok(None) => return Ok(None),
                Ok(Some(too_long)) => too_long,
                Err(e) => {
                    return Err(Error::Input {
                        path: self.path.clone(),
                        message: format!("read failed after line {}: {e}", self.line),
                    })
                }
            };
            self.line += 1;
            let line = self.line;
            if too_long {
                return Ok(Some(Err(RowError {
                    line,
                    reason: format!(
                        "line is longer than import.max_record_bytes ({})",
                        self.max_record_bytes
                    ),
                })));
            }
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Ok(Some(self.parse(line)));
        }
    }
}

impl JsonlReader {
    fn parse(&self, line: u64) -> std::result::Result<Row, RowError> {
        let bad = |reason: String| RowError { line, reason };
        let mut object: serde_json::Map<String, Value> = match serde_json::from_slice(&self.buf) {
            Ok(Value::Object(object)) => object,
            Ok(_) => return Err(bad("expected a JSON object".into())),
            Err(e) => return Err(bad(format!("invalid JSON: {e}"))),
        };
        let mut take = |field: usize| object.remove(&self.columns[field]);
        let text_of =
            |field: usize, value: Option<Value>| -> std::result::Result<Option<String>, RowError> {
                match value {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s)),
                    Some(Value::Number(n)) => Ok(Some(n.to_string())),
                    Some(other) => Err(bad(format!(
                        "field {:?} (column {:?}) must be a string, found {}",
                        FIELDS[field],
                        self.columns[field],
                        kind(&other)
                    ))),
                }
            };
        let date_of = |field: usize,
                       value: Option<Value>|
         -> std::result::Result<Option<RawDate>, RowError> {
            match value {
                Some(Value::Number(n)) => match n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))
                {
                    Some(n) => Ok(Some(RawDate::Unix(n))),
                    None => Err(bad(format!(
                        "field {:?}: number out of range",
                        FIELDS[field]
                    ))),
                },
                other => Ok(text_of(field, other)?.map(RawDate::Text)),
            }
        };
        let values: Vec<Option<Value>> = (0..8).map(&mut take).collect();
        let mut values = values.into_iter();
        let mut next = || values.next().flatten();
        let id = text_of(0, next())?;
        let url = text_of(1, next())?;
        let source = text_of(2, next())?;
        let published = date_of(3, next())?;
        let title = text_of(4, next())?;
        let text = text_of(5, next())?;
        let lang = text_of(6, next())?;
        let fetched_at = date_of(7, next())?;
        Ok(Row {
            line,
            raw: RawDocument {
                id,
                url,
                source,
                published,
                fetched_at,
                title,
                text,
                lang,
            },
        })
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
