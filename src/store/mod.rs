//! The document store: SQLite, the system of record.
//!
//! Everything else (the tantivy index, vectors, topics, trends) is derived from
//! this database and can be rebuilt from it. Each document row has a `seq`
//! that grows with every insert or change; derived structures remember the
//! highest `seq` they have absorbed, so catching up after a crash is "process
//! every row with a larger seq", nothing more.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde::Serialize;

use crate::document::Document;
use crate::error::{Error, Result};

mod analyst;
pub use analyst::{AlertRow, DeliveryRow, MarkRow, WatchRow};

/// File name of the store inside the data directory.
pub const STORE_FILE: &str = "weaksignal.sqlite";

/// Bumped when the schema changes; older stores are migrated in [`Store::open`].
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS documents (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    source       TEXT NOT NULL,
    url          TEXT,
    title        TEXT NOT NULL,
    text         TEXT NOT NULL,
    published    INTEGER NOT NULL,
    fetched_at   INTEGER NOT NULL,
    lang         TEXT NOT NULL,
    content_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_published ON documents(published);
CREATE INDEX IF NOT EXISTS documents_content ON documents(content_hash);
CREATE TABLE IF NOT EXISTS vectors (
    doc_id       TEXT NOT NULL,
    model        TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    vec          BLOB NOT NULL,
    PRIMARY KEY (doc_id, model)
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS vectors_current ON vectors(doc_id, model, content_hash);
CREATE TABLE IF NOT EXISTS fetch_state (
    url           TEXT PRIMARY KEY,
    etag          TEXT,
    last_modified TEXT,
    checked_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS document_sources (
    doc_id  TEXT NOT NULL,
    source  TEXT NOT NULL,
    url     TEXT,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (doc_id, source)
);
CREATE TABLE IF NOT EXISTS simhashes (
    doc_id    TEXT PRIMARY KEY,
    simhash   INTEGER NOT NULL,
    published INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS simhashes_published ON simhashes(published);
CREATE TABLE IF NOT EXISTS checkpoints (
    config      TEXT NOT NULL,
    window      TEXT NOT NULL,
    window_key  INTEGER NOT NULL,
    docs        INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    data        BLOB NOT NULL,
    PRIMARY KEY (config, window_key)
);
-- The learned ranking of weak signals (derived: refitted from the store).
-- model is NULL when there was too little history; note says why.
CREATE TABLE IF NOT EXISTS rank_models (
    settings   TEXT NOT NULL,
    as_of      INTEGER NOT NULL,
    fitted_at  INTEGER NOT NULL,
    flags      INTEGER NOT NULL,
    grew       INTEGER NOT NULL,
    model      TEXT,
    note       TEXT NOT NULL,
    PRIMARY KEY (settings, as_of)
);
CREATE TABLE IF NOT EXISTS runs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at INTEGER NOT NULL,
    ended_at   INTEGER,
    -- running, ok, partial, failed; a run killed before it ended stays
    -- 'running' until the next run marks it 'interrupted'
    status     TEXT NOT NULL,
    pid        INTEGER NOT NULL,
    pipeline   TEXT NOT NULL,
    as_of      TEXT,
    -- JSON: the stages with counts, durations and errors
    stages     TEXT NOT NULL DEFAULT '[]'
);
";

/// One fit of the learned ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct RankModelRow {
    /// The settings it was fitted under (model, morphology, windows, thresholds).
    pub settings: String,
    pub as_of: i64,
    pub fitted_at: i64,
    pub flags: usize,
    pub grew: usize,
    pub model: Option<String>,
    pub note: String,
}

/// One row of [`Store::for_each_document_vector`].
pub struct DocumentVector<'a> {
    pub id: &'a str,
    pub source: &'a str,
    pub url: Option<&'a str>,
    pub title: &'a str,
    /// The first 300 characters of the text.
    pub lead: &'a str,
    pub lang: &'a str,
    pub published: i64,
    /// Little-endian f16.
    pub vector: &'a [u8],
    /// The hash of the title and text the vector was computed from (the
    /// document's current one: vectors of older content are not listed).
    pub content_hash: &'a str,
}

/// A document that needs a vector, from [`Store::missing_vectors`].
#[derive(Debug, Clone)]
pub struct MissingVector {
    /// Its position in the store: the paging cursor.
    pub seq: i64,
    pub id: String,
    /// The content the vector will be computed from.
    pub content_hash: String,
    pub title: String,
    pub text: String,
}

/// A saved clustering checkpoint (its data is read separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointEntry {
    pub window_key: i64,
    /// Documents (with vectors) in the windows up to and including `window_key`.
    pub docs: u64,
    /// Fingerprint of those documents' ids and contents, in order.
    pub fingerprint: String,
}

/// What writing one document did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// New document, stored under this seq.
    Inserted(i64),
    /// Same id, different content, and the new one was fetched no earlier: replaced.
    Updated(i64),
    /// Same id and same content: nothing to do.
    Duplicate,
    /// Same id, different content, but the stored one was fetched later: kept.
    KeptNewer,
}

/// Counts of documents by source, language and month.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub documents: u64,
    pub first_published: Option<String>,
    pub last_published: Option<String>,
    pub by_source: Vec<(String, u64)>,
    pub by_lang: Vec<(String, u64)>,
    pub by_month: Vec<(String, u64)>,
}

/// One row of the run ledger.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub id: i64,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub status: String,
    pub pid: i64,
    pub pipeline: String,
    pub as_of: Option<String>,
    /// JSON array of stages.
    pub stages: String,
}

/// An open store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|e| Error::io(data_dir, e))?;
        let path = data_dir.join(STORE_FILE);
        let conn = Connection::open(&path).map_err(|source| Error::Store {
            path: path.clone(),
            source,
        })?;
        let store = Store { conn, path };
        store.init()?;
        Ok(store)
    }

    /// Opens an existing store for reading only; it is an error if there is none.
    pub fn open_read_only(data_dir: &Path) -> Result<Store> {
        let path = data_dir.join(STORE_FILE);
        if !path.exists() {
            return Err(Error::StoreSchema {
                path,
                message:
                    "no store here yet: import or collect documents first (or pass --data-dir)"
                        .into(),
            });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn =
            Connection::open_with_flags(&path, flags).map_err(|source| Error::Store {
                path: path.clone(),
                source,
            })?;
        // A WAL store in a directory that cannot take writes (read-only
        // media, an immutable directory) cannot make its -shm file; nobody can
        // be writing it then, so it is read as immutable.
        if conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
            .is_err()
        {
            let uri = format!("file:{}?immutable=1", path.display());
            conn = Connection::open_with_flags(&uri, flags | OpenFlags::SQLITE_OPEN_URI).map_err(
                |source| Error::Store {
                    path: path.clone(),
                    source,
                },
            )?;
        }
        let store = Store { conn, path };
        store
            .conn
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| store.err(e))?;
        Ok(store)
    }

    fn init(&self) -> Result<()> {
        let conn = &self.conn;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| self.err(e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| self.err(e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| self.err(e))?;
        conn.pragma_update(None, "cache_size", -64_000)
            .map_err(|e| self.err(e))?;
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(|e| self.err(e))?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if version > SCHEMA_VERSION {
            return Err(Error::StoreSchema {
                path: self.path.clone(),
                message: format!(
                    "schema version {version} was written by a newer weaksignal (this one knows {SCHEMA_VERSION}); upgrade weaksignal"
                ),
            });
        }
        conn.execute_batch(SCHEMA).map_err(|e| self.err(e))?;
        conn.execute_batch(analyst::SCHEMA)
            .map_err(|e| self.err(e))?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub(crate) fn err(&self, source: rusqlite::Error) -> Error {
        Error::Store {
            path: self.path.clone(),
            source,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts a write transaction. Dropping it without [`Writer::commit`] rolls back.
    pub fn writer(&mut self) -> Result<Writer<'_>> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|source| Error::Store {
                path: path.clone(),
                source,
            })?;
        Ok(Writer { tx, path })
    }

    /// The highest seq in the store (0 when empty).
    pub fn max_seq(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM documents", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    pub fn count(&self) -> Result<u64> {
        self.conn
            .query_row("SELECT COUNT(*) FROM documents", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// Calls `f` with every document whose seq is above `after`, in seq order.
    pub fn for_each_since(
        &self,
        after: i64,
        mut f: impl FnMut(i64, Document) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT seq, {DOC_COLUMNS} FROM documents WHERE seq > ?1 ORDER BY seq"
            ))
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([after]).map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let seq: i64 = row.get(0).map_err(|e| self.err(e))?;
            let doc = document_from_row(row, 1).map_err(|e| self.err(e))?;
            f(seq, doc)?;
        }
        Ok(())
    }

    /// Calls `f` for every document published up to `until`, oldest first.
    pub fn for_each_document_by_published(
        &self,
        until: i64,
        mut f: impl FnMut(Document) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {DOC_COLUMNS} FROM documents WHERE published <= ?1 ORDER BY published, id"
            ))
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([until]).map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            f(document_from_row(row, 0).map_err(|e| self.err(e))?)?;
        }
        Ok(())
    }

    /// Fetches documents by id; unknown ids are left out.
    pub fn get_many(&self, ids: &[String]) -> Result<Vec<Document>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {DOC_COLUMNS} FROM documents WHERE id = ?1"
            ))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let doc = stmt
                .query_row([id], |row| document_from_row(row, 0))
                .optional()
                .map_err(|e| self.err(e))?;
            out.extend(doc);
        }
        Ok(out)
    }

    pub fn get(&self, id: &str) -> Result<Option<Document>> {
        Ok(self.get_many(&[id.to_string()])?.pop())
    }

    /// Documents per source, language and month.
    pub fn stats(&self) -> Result<Stats> {
        let group = |sql: &str| -> Result<Vec<(String, u64)>> {
            let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
                })
                .map_err(|e| self.err(e))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| self.err(e))
        };
        let (documents, first, last): (i64, Option<i64>, Option<i64>) = self
            .conn
            .query_row(
                "SELECT COUNT(*), MIN(published), MAX(published) FROM documents",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(|e| self.err(e))?;
        let as_date = |t: Option<i64>| {
            t.and_then(|t| DateTime::from_timestamp(t, 0))
                .map(crate::document::rfc3339)
        };
        Ok(Stats {
            documents: documents as u64,
            first_published: as_date(first),
            last_published: as_date(last),
            by_source: group("SELECT source, COUNT(*) FROM documents GROUP BY source ORDER BY COUNT(*) DESC, source")?,
            by_lang: group("SELECT lang, COUNT(*) FROM documents GROUP BY lang ORDER BY COUNT(*) DESC, lang")?,
            by_month: group(
                "SELECT strftime('%Y-%m', published, 'unixepoch') AS m, COUNT(*) FROM documents GROUP BY m ORDER BY m",
            )?,
        })
    }

    /// Documents without a current vector for `model` (none yet, or computed
    /// from older content) after `after_seq`, in seq order, at most `limit`.
    /// Callers page with the last row's `seq`: each page then starts where
    /// the previous one ended instead of stepping again over every document
    /// embedded so far (which made a million-document backfill quadratic).
    pub fn missing_vectors(
        &self,
        model: &str,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<MissingVector>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT d.seq, d.id, d.content_hash, d.title, d.text FROM documents d
                 LEFT JOIN vectors v ON v.doc_id = d.id AND v.model = ?1
                 WHERE d.seq > ?2 AND (v.doc_id IS NULL OR v.content_hash <> d.content_hash)
                 ORDER BY d.seq LIMIT ?3",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![model, after_seq, limit as i64], |r| {
                Ok(MissingVector {
                    seq: r.get(0)?,
                    id: r.get(1)?,
                    content_hash: r.get(2)?,
                    title: r.get(3)?,
                    text: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    /// How many documents lack a current vector for `model`.
    pub fn count_missing_vectors(&self, model: &str) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM documents d
                 LEFT JOIN vectors v ON v.doc_id = d.id AND v.model = ?1
                 WHERE v.doc_id IS NULL OR v.content_hash <> d.content_hash",
                [model],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// Whether the store has a vectors table (stores written before it existed
    /// get one on their next writable open).
    pub fn has_vectors_table(&self) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'vectors'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| self.err(e))
    }

    /// Calls `f(id, published unix seconds, vector bytes)` for every current
    /// vector of `model` whose document was published within the bounds.
    pub fn for_each_vector(
        &self,
        model: &str,
        from: Option<i64>,
        to: Option<i64>,
        mut f: impl FnMut(&str, &[u8]),
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT d.id, v.vec FROM vectors v JOIN documents d
                   ON d.id = v.doc_id AND d.content_hash = v.content_hash
                 WHERE v.model = ?1 AND d.published >= ?2 AND d.published <= ?3",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query(params![
                model,
                from.unwrap_or(i64::MIN),
                to.unwrap_or(i64::MAX)
            ])
            .map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let id: String = row.get(0).map_err(|e| self.err(e))?;
            let vec: Vec<u8> = row.get(1).map_err(|e| self.err(e))?;
            f(&id, &vec);
        }
        Ok(())
    }

    /// Calls `f(published, id, content hash)` for every document published up
    /// to `to` that has a current vector of `model`, in the order of
    /// [`Store::for_each_document_vector`], without reading texts or vectors:
    /// what checkpoints are checked against.
    pub fn for_each_document_key(
        &self,
        model: &str,
        to: i64,
        mut f: impl FnMut(i64, &str, &str),
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT d.published, d.id, d.content_hash
                 FROM documents d JOIN vectors v
                   ON v.doc_id = d.id AND v.model = ?1 AND v.content_hash = d.content_hash
                 WHERE d.published <= ?2
                 ORDER BY d.published, d.id",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query(params![model, to]).map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let get = |i: usize| row.get_ref(i).map_err(|e| self.err(e));
            let text =
                |i: usize| -> Result<&str> { get(i)?.as_str().map_err(|e| self.err(e.into())) };
            f(
                get(0)?.as_i64().map_err(|e| self.err(e.into()))?,
                text(1)?,
                text(2)?,
            );
        }
        Ok(())
    }

    /// Validators of the last response from `url` (for a conditional GET).
    pub fn validators(&self, url: &str) -> Result<Option<(Option<String>, Option<String>)>> {
        self.conn
            .query_row(
                "SELECT etag, last_modified FROM fetch_state WHERE url = ?1",
                [url],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Whether a document with this id is stored.
    pub fn has_document(&self, id: &str) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM documents WHERE id = ?1")
            .and_then(|mut s| s.exists([id]))
            .map_err(|e| self.err(e))
    }

    /// Documents published within `from..=to` with their simhash: the
    /// candidates a new document may be a near-duplicate of.
    pub fn simhashes_between(&self, from: i64, to: i64) -> Result<Vec<(String, u64)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT doc_id, simhash FROM simhashes WHERE published BETWEEN ?1 AND ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![from, to], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    /// Calls `f(doc_id, source)` for every recorded carrier of a document.
    pub fn for_each_document_source(&self, mut f: impl FnMut(&str, &str)) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT doc_id, source FROM document_sources ORDER BY doc_id, seen_at, source",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let get = |i: usize| -> Result<&str> {
                row.get_ref(i)
                    .map_err(|e| self.err(e))?
                    .as_str()
                    .map_err(|e| self.err(e.into()))
            };
            f(get(0)?, get(1)?);
        }
        Ok(())
    }

    /// The sources that carried one document, with their addresses, first seen first.
    pub fn carriers(&self, doc_id: &str) -> Result<Vec<(String, Option<String>)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT source, url FROM document_sources WHERE doc_id = ?1 ORDER BY seen_at, source",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([doc_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    /// Records the start of a run; returns its id. Runs left `running` by a
    /// process that is gone (the caller holds the run lock, so no other run
    /// is alive) are marked `interrupted` first.
    pub fn start_run(&self, pipeline: &str, started_at: i64) -> Result<i64> {
        self.conn
            .execute(
                "UPDATE runs SET status = 'interrupted' WHERE status = 'running'",
                [],
            )
            .map_err(|e| self.err(e))?;
        self.conn
            .execute(
                "INSERT INTO runs (started_at, status, pid, pipeline) VALUES (?1, 'running', ?2, ?3)",
                rusqlite::params![started_at, std::process::id(), pipeline],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Saves a run's stages so far (called after every stage, so a killed run
    /// still shows how far it got).
    pub fn update_run(&self, id: i64, as_of: Option<&str>, stages_json: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE runs SET as_of = ?2, stages = ?3 WHERE id = ?1",
                rusqlite::params![id, as_of, stages_json],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    pub fn finish_run(&self, id: i64, status: &str, ended_at: i64) -> Result<()> {
        self.conn
            .execute(
                "UPDATE runs SET status = ?2, ended_at = ?3 WHERE id = ?1",
                rusqlite::params![id, status, ended_at],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// The newest runs, newest first.
    pub fn recent_runs(&self, limit: usize) -> Result<Vec<RunRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, started_at, ended_at, status, pid, pipeline, as_of, stages
                 FROM runs ORDER BY id DESC LIMIT ?1",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok(RunRecord {
                    id: r.get(0)?,
                    started_at: r.get(1)?,
                    ended_at: r.get(2)?,
                    status: r.get(3)?,
                    pid: r.get(4)?,
                    pipeline: r.get(5)?,
                    as_of: r.get(6)?,
                    stages: r.get(7)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    /// SQLite's own consistency check: empty when the file is sound.
    pub fn integrity_problems(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("PRAGMA quick_check")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        let lines = rows
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(lines.into_iter().filter(|l| l != "ok").collect())
    }

    /// Stored vectors of `model` by byte length, most common first: one
    /// length is healthy, any other is a damaged (truncated) vector.
    pub fn vector_lengths(&self, model: &str) -> Result<Vec<(i64, u64)>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT length(vec), COUNT(*) FROM vectors WHERE model = ?1 GROUP BY 1 ORDER BY 2 DESC",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([model], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    /// Deletes the vectors of `model` whose length is not `bytes` (they are
    /// derived data: `embed` computes them again).
    pub fn delete_vectors_not_of_length(&mut self, model: &str, bytes: i64) -> Result<usize> {
        self.conn
            .execute(
                "DELETE FROM vectors WHERE model = ?1 AND length(vec) != ?2",
                rusqlite::params![model, bytes],
            )
            .map_err(|e| self.err(e))
    }

    /// The document stored with exactly this content, if any.
    pub fn document_with_content(&self, content_hash: &str) -> Result<Option<String>> {
        self.conn
            .prepare_cached("SELECT id FROM documents WHERE content_hash = ?1 LIMIT 1")
            .and_then(|mut s| s.query_row([content_hash], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))
    }

    /// Checkpoints saved under `config`, newest first.
    pub fn checkpoints(&self, config: &str) -> Result<Vec<CheckpointEntry>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT window_key, docs, fingerprint FROM checkpoints
                 WHERE config = ?1 ORDER BY window_key DESC",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([config], |r| {
                Ok(CheckpointEntry {
                    window_key: r.get(0)?,
                    docs: r.get::<_, i64>(1)? as u64,
                    fingerprint: r.get(2)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    /// Number of saved checkpoints and their bytes.
    pub fn checkpoint_size(&self) -> Result<(usize, u64)> {
        self.conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(length(data)), 0) FROM checkpoints",
                [],
                |r| Ok((r.get::<_, i64>(0)? as usize, r.get::<_, i64>(1)? as u64)),
            )
            .map_err(|e| self.err(e))
    }

    pub fn checkpoint_data(&self, config: &str, window_key: i64) -> Result<Option<Vec<u8>>> {
        self.conn
            .query_row(
                "SELECT data FROM checkpoints WHERE config = ?1 AND window_key = ?2",
                params![config, window_key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Records a fit of the learned ranking (`model`: its JSON, or `None`
    /// when there was too little history, with the reason in `note`).
    pub fn save_rank_model(&mut self, row: &RankModelRow) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO rank_models (settings, as_of, fitted_at, flags, grew, model, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(settings, as_of) DO UPDATE SET fitted_at = excluded.fitted_at,
                   flags = excluded.flags, grew = excluded.grew, model = excluded.model,
                   note = excluded.note",
                params![
                    row.settings,
                    row.as_of,
                    row.fitted_at,
                    row.flags as i64,
                    row.grew as i64,
                    row.model,
                    row.note
                ],
            )
            .map_err(|e| self.err(e))?;
        crate::failpoint::hit("rank.save");
        Ok(())
    }

    /// The newest fit of the ranking for `settings` made as of `as_of` or
    /// earlier (a model knows nothing after its as-of date). `None` in a
    /// store from before the ranking existed.
    pub fn rank_model(&self, settings: &str, as_of: i64) -> Result<Option<RankModelRow>> {
        let found = self.conn.query_row(
            "SELECT settings, as_of, fitted_at, flags, grew, model, note FROM rank_models
             WHERE settings = ?1 AND as_of <= ?2 ORDER BY as_of DESC LIMIT 1",
            params![settings, as_of],
            |r| {
                Ok(RankModelRow {
                    settings: r.get(0)?,
                    as_of: r.get(1)?,
                    fitted_at: r.get(2)?,
                    flags: r.get::<_, i64>(3)? as usize,
                    grew: r.get::<_, i64>(4)? as usize,
                    model: r.get(5)?,
                    note: r.get(6)?,
                })
            },
        );
        match found {
            Ok(row) => Ok(Some(row)),
            Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
            // a read-only store written before the table existed
            Err(rusqlite::Error::SqliteFailure(_, Some(m))) if m.contains("no such table") => {
                Ok(None)
            }
            Err(e) => Err(self.err(e)),
        }
    }

    /// Saves a checkpoint and, in the same transaction, drops those of `config`
    /// that `keep` rejects and those of other settings for the same window
    /// length (they can no longer be used).
    pub fn save_checkpoint(
        &mut self,
        config: &str,
        window: &str,
        entry: &CheckpointEntry,
        data: &[u8],
        keep: impl Fn(i64) -> bool,
    ) -> Result<()> {
        let path = self.path.clone();
        let err = |source| Error::Store {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        tx.execute(
            "INSERT INTO checkpoints (config, window, window_key, docs, fingerprint, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(config, window_key) DO UPDATE SET
               docs = excluded.docs, fingerprint = excluded.fingerprint, data = excluded.data",
            params![
                config,
                window,
                entry.window_key,
                entry.docs as i64,
                entry.fingerprint,
                data
            ],
        )
        .map_err(err)?;
        tx.execute(
            "DELETE FROM checkpoints WHERE window = ?1 AND config <> ?2",
            params![window, config],
        )
        .map_err(err)?;
        let keys: Vec<i64> = {
            let mut stmt = tx
                .prepare("SELECT window_key FROM checkpoints WHERE config = ?1")
                .map_err(err)?;
            let rows = stmt.query_map([config], |r| r.get(0)).map_err(err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(err)?
        };
        for key in keys.into_iter().filter(|&k| !keep(k)) {
            tx.execute(
                "DELETE FROM checkpoints WHERE config = ?1 AND window_key = ?2",
                params![config, key],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        crate::failpoint::hit("checkpoint.save");
        Ok(())
    }

    /// Calls `f` for every document published within `from..=to` that has a current
    /// vector of `model`, ordered by (published, id): the input of topic
    /// finding. An error from `f` stops the walk and is reported as a vectors error.
    pub fn for_each_document_vector(
        &self,
        model: &str,
        from: Option<i64>,
        to: Option<i64>,
        mut f: impl FnMut(DocumentVector<'_>) -> std::result::Result<(), String>,
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT d.id, d.source, d.url, d.title, substr(d.text, 1, 300), d.lang, d.published, v.vec,
                        d.content_hash
                 FROM documents d JOIN vectors v
                   ON v.doc_id = d.id AND v.model = ?1 AND v.content_hash = d.content_hash
                 WHERE d.published >= ?3 AND d.published <= ?2
                 ORDER BY d.published, d.id",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query(params![
                model,
                to.unwrap_or(i64::MAX),
                from.unwrap_or(i64::MIN)
            ])
            .map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let get = |i: usize| row.get_ref(i).map_err(|e| self.err(e));
            let text =
                |i: usize| -> Result<&str> { get(i)?.as_str().map_err(|e| self.err(e.into())) };
            let url = match get(2)? {
                rusqlite::types::ValueRef::Null => None,
                v => Some(v.as_str().map_err(|e| self.err(e.into()))?),
            };
            let doc = DocumentVector {
                id: text(0)?,
                source: text(1)?,
                url,
                title: text(3)?,
                lead: text(4)?,
                lang: text(5)?,
                published: get(6)?.as_i64().map_err(|e| self.err(e.into()))?,
                vector: get(7)?.as_blob().map_err(|e| self.err(e.into()))?,
                content_hash: text(8)?,
            };
            f(doc).map_err(|message| Error::Vectors {
                path: self.path.clone(),
                message,
            })?;
        }
        Ok(())
    }

    /// The time an analysis is as of: `as_of` when given, else the newest
    /// document's publication time. The one place that decides it, for the
    /// CLI, `run`, `export` and the server.
    pub fn as_of_or_newest(&self, as_of: Option<i64>) -> Result<i64> {
        if let Some(t) = as_of {
            return Ok(t);
        }
        self.published_range()?
            .map(|(_, newest)| newest)
            .ok_or_else(|| Error::EmptyStore {
                path: self.path.parent().unwrap_or(&self.path).to_path_buf(),
            })
    }

    /// Oldest and newest publication time (unix seconds), if any document exists.
    pub fn published_range(&self) -> Result<Option<(i64, i64)>> {
        self.conn
            .query_row(
                "SELECT MIN(published), MAX(published) FROM documents",
                [],
                |r| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?)),
            )
            .map(|(a, b)| a.zip(b))
            .map_err(|e| self.err(e))
    }

    /// A value from the meta table.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }
}

const DOC_COLUMNS: &str = "id, source, url, title, text, published, fetched_at, lang, content_hash";

fn document_from_row(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Document> {
    let time = |i: usize| -> rusqlite::Result<DateTime<Utc>> {
        let t: i64 = row.get(first + i)?;
        DateTime::from_timestamp(t, 0).ok_or(rusqlite::Error::IntegralValueOutOfRange(first + i, t))
    };
    Ok(Document {
        id: row.get(first)?,
        source: row.get(first + 1)?,
        url: row.get(first + 2)?,
        title: row.get(first + 3)?,
        text: row.get(first + 4)?,
        published: time(5)?,
        fetched_at: time(6)?,
        lang: row.get(first + 7)?,
        content_hash: row.get(first + 8)?,
    })
}

/// One write transaction.
pub struct Writer<'a> {
    tx: rusqlite::Transaction<'a>,
    path: PathBuf,
}

impl Writer<'_> {
    fn err(&self, source: rusqlite::Error) -> Error {
        Error::Store {
            path: self.path.clone(),
            source,
        }
    }

    /// Stores `doc` unless the same content is already there. A changed document
    /// replaces the stored one when it was fetched no earlier (later writes win ties).
    pub fn put(&self, doc: &Document) -> Result<WriteOutcome> {
        let mut insert = self
            .tx
            .prepare_cached(
                "INSERT INTO documents (id, source, url, title, text, published, fetched_at, lang, content_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT(id) DO NOTHING",
            )
            .map_err(|e| self.err(e))?;
        let values = params![
            doc.id,
            doc.source,
            doc.url,
            doc.title,
            doc.text,
            doc.published.timestamp(),
            doc.fetched_at.timestamp(),
            doc.lang,
            doc.content_hash
        ];
        if insert.execute(values).map_err(|e| self.err(e))? == 1 {
            return Ok(WriteOutcome::Inserted(self.tx.last_insert_rowid()));
        }
        let (hash, fetched_at): (String, i64) = self
            .tx
            .prepare_cached("SELECT content_hash, fetched_at FROM documents WHERE id = ?1")
            .and_then(|mut s| s.query_row([&doc.id], |r| Ok((r.get(0)?, r.get(1)?))))
            .map_err(|e| self.err(e))?;
        if hash == doc.content_hash {
            return Ok(WriteOutcome::Duplicate);
        }
        if fetched_at > doc.fetched_at.timestamp() {
            return Ok(WriteOutcome::KeptNewer);
        }
        // Delete and insert so that the row gets a new seq: derived structures see the change.
        self.tx
            .prepare_cached("DELETE FROM documents WHERE id = ?1")
            .and_then(|mut s| s.execute([&doc.id]))
            .map_err(|e| self.err(e))?;
        insert.execute(values).map_err(|e| self.err(e))?;
        Ok(WriteOutcome::Updated(self.tx.last_insert_rowid()))
    }

    /// The content hash of document `doc_id` (`None`: no such document)
    /// and that of its stored vector for `model`, if it has one: whether a
    /// vector computed elsewhere still fits, read inside this transaction.
    pub fn vector_fit(
        &self,
        doc_id: &str,
        model: &str,
    ) -> Result<Option<(String, Option<String>)>> {
        self.tx
            .prepare_cached(
                "SELECT d.content_hash, v.content_hash FROM documents d
                 LEFT JOIN vectors v ON v.doc_id = d.id AND v.model = ?2
                 WHERE d.id = ?1",
            )
            .and_then(|mut s| {
                s.query_row(params![doc_id, model], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| self.err(e))
    }

    /// Stores the vector of a document (computed from `content_hash`) for `model`.
    pub fn put_vector(
        &self,
        doc_id: &str,
        model: &str,
        content_hash: &str,
        vec: &[u8],
    ) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO vectors (doc_id, model, content_hash, vec) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(doc_id, model) DO UPDATE SET content_hash = excluded.content_hash, vec = excluded.vec",
            )
            .and_then(|mut s| s.execute(params![doc_id, model, content_hash, vec]))
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Remembers the validators of `url`'s last response.
    pub fn set_validators(
        &self,
        url: &str,
        etag: Option<&str>,
        last_modified: Option<&str>,
        checked_at: i64,
    ) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO fetch_state (url, etag, last_modified, checked_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(url) DO UPDATE SET etag = excluded.etag,
                   last_modified = excluded.last_modified, checked_at = excluded.checked_at",
            )
            .and_then(|mut s| s.execute(params![url, etag, last_modified, checked_at]))
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Records that `source` carried document `doc_id` (at `url`).
    pub fn add_document_source(
        &self,
        doc_id: &str,
        source: &str,
        url: Option<&str>,
        seen_at: i64,
    ) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO document_sources (doc_id, source, url, seen_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(doc_id, source) DO NOTHING",
            )
            .and_then(|mut s| s.execute(params![doc_id, source, url, seen_at]))
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    pub fn set_simhash(&self, doc_id: &str, simhash: u64, published: i64) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO simhashes (doc_id, simhash, published) VALUES (?1, ?2, ?3)
                 ON CONFLICT(doc_id) DO UPDATE SET simhash = excluded.simhash, published = excluded.published",
            )
            .and_then(|mut s| s.execute(params![doc_id, simhash as i64, published]))
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.tx
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    pub fn commit(self) -> Result<()> {
        let path = self.path;
        self.tx
            .commit()
            .map_err(|source| Error::Store { path, source })
    }
}
