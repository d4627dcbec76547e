//! CSV and TSV rows.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use super::{CountingReader, FieldMap, Row, RowError, RowReader, FIELDS};
use crate::config::ImportConfig;
use crate::document::{RawDate, RawDocument};
use crate::error::{Error, Result};

pub(super) struct CsvReader {
    path: PathBuf,
    reader: csv::Reader<CountingReader<BufReader<File>>>,
    /// Column index per field of [`FIELDS`].
    slots: [Option<usize>; 8],
    headers: usize,
    record: csv::ByteRecord,
    max_record_bytes: usize,
}

impl CsvReader {
    pub(super) fn open(
        path: &Path,
        map: &FieldMap,
        limits: &ImportConfig,
        count: Arc<AtomicU64>,
    ) -> Result<CsvReader> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let is_tsv = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("tsv"));
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .delimiter(if is_tsv { b'\t' } else { b',' })
            .from_reader(CountingReader::new(
                BufReader::with_capacity(1 << 20, file),
                count,
            ));
        let input_error = |message: String| Error::Input {
            path: path.to_path_buf(),
            message,
        };
        let header_bytes = reader
            .byte_headers()
            .map_err(|e| input_error(format!("cannot read the header row: {e}")))?
            .clone();
        let mut headers = Vec::with_capacity(header_bytes.len());
        for (i, h) in header_bytes.iter().enumerate() {
            let h = std::str::from_utf8(h)
                .map_err(|_| input_error(format!("header column {} is not valid UTF-8", i + 1)))?;
            headers.push(h.trim_start_matches('\u{feff}').trim().to_string());
        }
        let slots = map
            .columns()
            .clone()
            .map(|column| headers.iter().position(|h| *h == column));
        let found = || format!("the header has columns {headers:?}");
        let slot = |field: &str| slots[FIELDS.iter().position(|f| *f == field).expect("field")];
        if slot("published").is_none() {
            return Err(input_error(format!(
                "no {:?} column for the publication date; {}; map one with --map published=COLUMN",
                map.column("published"),
                found()
            )));
        }
        if slot("title").is_none() && slot("text").is_none() {
            return Err(input_error(format!(
                "no {:?} or {:?} column; {}; map one with --map title=COLUMN or --map text=COLUMN",
                map.column("title"),
                map.column("text"),
                found()
            )));
        }
        Ok(CsvReader {
            path: path.to_path_buf(),
            reader,
            slots,
            headers: headers.len(),
            record: csv::ByteRecord::new(),
            max_record_bytes: limits.max_record_bytes,
        })
    }
}

impl RowReader for CsvReader {
    fn next_row(&mut self) -> Result<Option<std::result::Result<Row, RowError>>> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => return Ok(None),
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return match e.kind() {
                    csv::ErrorKind::Io(_) => Err(Error::Input {
                        path: self.path.clone(),
                        message: format!("read failed near line {line}: {e}"),
                    }),
                    _ => Ok(Some(Err(RowError {
                        line,
                        reason: e.to_string(),
                    }))),
                };
            }
        }
        let line = self.record.position().map_or(0, |p| p.line());
        let bad = |reason: String| Ok(Some(Err(RowError { line, reason })));
        if self.record.len() != self.headers {
            return bad(format!(
                "row has {} fields but the header has {} (truncated line or stray delimiter?)",
                self.record.len(),
                self.headers
            ));
        }
        if self.record.as_slice().len() > self.max_record_bytes {
            return bad(format!(
                "record is {} bytes, over import.max_record_bytes ({})",
                self.record.as_slice().len(),
                self.max_record_bytes
            ));
        }
        let mut values: [Option<String>; 8] = Default::default();
        for (i, slot) in self.slots.iter().enumerate() {
            let Some(column) = *slot else { continue };
            let bytes = &self.record[column];
            match std::str::from_utf8(bytes) {
                Ok(s) => values[i] = Some(s.to_string()),
                Err(e) => {
                    return bad(format!(
                        "column {:?}: invalid UTF-8 at byte {} (convert the file to UTF-8, e.g. iconv -f latin1 -t utf-8)",
                        FIELDS[i],
                        e.valid_up_to()
                    ))
                }
            }
        }
        let [id, url, source, published, title, text, lang, fetched_at] = values;
        Ok(Some(Ok(Row {
            line,
            raw: RawDocument {
                id,
                url,
                source,
                published: published.map(RawDate::Text),
                fetched_at: fetched_at.map(RawDate::Text),
                title,
                text,
                lang,
            },
        })))
    }
}
