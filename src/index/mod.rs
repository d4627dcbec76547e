//! The tantivy search index, derived from the store.
//!
//! Finnish and English documents need different stemmers, and tantivy picks a
//! tokenizer per field, so the analysed text lives in one field per language
//! group (`title_fi`, `text_en`, `text_xx`...). The query parser searches them
//! all, each analysed by its own stemmer, so `lakko` finds `lakon` in Finnish
//! documents while `strikes` finds `strike` in English ones. Stored values
//! (title, text, url) are not duplicated here: hits are joined back to the store.
//!
//! The commit payload records the highest store `seq` the index contains, so an
//! index that fell behind (a crash between the store commit and the index
//! commit) is detected and caught up before it is read.

pub mod analyzers;
mod read_only;
mod search;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tantivy::directory::error::LockError;
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, Schema, TextFieldIndexing,
    TextOptions, FAST, STORED, STRING,
};
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};
use tracing::{debug, info};

pub use analyzers::{analyzer_for, LangGroup};
pub use search::{FacetCount, Facets, MonthCount, SearchHit, SearchRequest, SearchResults};

use crate::config::IndexConfig;
use crate::document::Document;
use crate::error::{Error, Result};
use crate::store::Store;

/// Directory of the index inside the data directory.
pub const INDEX_DIR: &str = "index";

/// Bumped whenever the schema or analyzers change; an index with another
/// version is rebuilt from the store.
const INDEX_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    id: Field,
    source: Field,
    lang: Field,
    published: Field,
    /// `title` and `text` per [`LangGroup`], in `LangGroup::ALL` order.
    title: [Field; 3],
    text: [Field; 3],
}

impl Fields {
    fn schema() -> (Schema, Fields) {
        let mut builder = Schema::builder();
        let id = builder.add_text_field("id", STRING | STORED);
        let source = builder.add_text_field("source", STRING | FAST);
        let lang = builder.add_text_field("lang", STRING | FAST);
        let date = DateOptions::from(tantivy::schema::INDEXED)
            .set_fast()
            .set_precision(DateTimePrecision::Seconds);
        let published = builder.add_date_field("published", date);
        let text_options = |group: LangGroup| {
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(group.analyzer_name())
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            )
        };
        let title = LangGroup::ALL
            .map(|g| builder.add_text_field(&format!("title_{}", g.suffix()), text_options(g)));
        let text = LangGroup::ALL
            .map(|g| builder.add_text_field(&format!("text_{}", g.suffix()), text_options(g)));
        let fields = Fields {
            id,
            source,
            lang,
            published,
            title,
            text,
        };
        (builder.build(), fields)
    }

    fn searchable(&self) -> Vec<Field> {
        self.title.iter().chain(self.text.iter()).copied().collect()
    }
}

/// What the index has absorbed; stored as the tantivy commit payload.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
struct Payload {
    version: u32,
    seq: i64,
}

/// An open index.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    dir: PathBuf,
}

impl SearchIndex {
    /// Opens the index in `data_dir`, creating or rebuilding it as needed, and
    /// catches it up with the store. After this returns, the index agrees with
    /// the store (unless another process holds the writer, which is reported).
    pub fn open_synced(
        data_dir: &Path,
        store: &Store,
        config: &IndexConfig,
    ) -> Result<SearchIndex> {
        let dir = data_dir.join(INDEX_DIR);
        let index = match SearchIndex::open_dir(&dir)? {
            Some(index) if index.payload()?.version == INDEX_VERSION => index,
            Some(_) => {
                info!(path = %dir.display(), "index format changed; rebuilding from the store");
                return rebuild(data_dir, store, config);
            }
            None => SearchIndex::create(&dir)?,
        };
        index.catch_up(store, config)?;
        Ok(index)
    }

    /// Opens for reading without catching up (used when another process is writing).
    pub fn open_dir(dir: &Path) -> Result<Option<SearchIndex>> {
        if !dir.join("meta.json").exists() {
            return Ok(None);
        }
        let index = Index::open_in_dir(dir).map_err(|source| Error::Index {
            path: dir.to_path_buf(),
            source,
        })?;
        match SearchIndex::wrap(index, dir) {
            Err(Error::Index {
                source: tantivy::TantivyError::LockFailure(LockError::IoError(io), _),
                ..
            }) if matches!(
                io.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            ) =>
            {
                // Nothing can be written here, so no writer can change the
                // index under us: read it without the reader's lock file.
                info!(path = %dir.display(), "index directory is not writable; reading it read-only");
                let read_only = read_only::ReadOnlyDirectory::open(dir)
                    .and_then(Index::open)
                    .map_err(|source| Error::Index {
                        path: dir.to_path_buf(),
                        source,
                    })?;
                SearchIndex::wrap(read_only, dir).map(Some)
            }
            other => other.map(Some),
        }
    }

    fn create(dir: &Path) -> Result<SearchIndex> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let (schema, _) = Fields::schema();
        let index = Index::create_in_dir(dir, schema).map_err(|source| Error::Index {
            path: dir.to_path_buf(),
            source,
        })?;
        let this = SearchIndex::wrap(index, dir)?;
        // An empty commit records the version, so a fresh index is not mistaken for an old one.
        let mut writer = this.updater(&IndexConfig::default())?;
        writer.commit(0)?;
        Ok(this)
    }

    fn wrap(index: Index, dir: &Path) -> Result<SearchIndex> {
        analyzers::register(index.tokenizers());
        let (expected, fields) = Fields::schema();
        if index.schema() != expected {
            // Treated as an old version: the caller rebuilds.
            debug!(path = %dir.display(), "index schema differs from this version's");
        }
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|source| Error::Index {
                path: dir.to_path_buf(),
                source,
            })?;
        Ok(SearchIndex {
            index,
            reader,
            fields,
            dir: dir.to_path_buf(),
        })
    }

    fn err(&self, source: tantivy::TantivyError) -> Error {
        if let tantivy::TantivyError::LockFailure(
            tantivy::directory::error::LockError::LockBusy,
            _,
        ) = source
        {
            return Error::IndexLocked {
                path: self.dir.clone(),
            };
        }
        Error::Index {
            path: self.dir.clone(),
            source,
        }
    }

    fn payload(&self) -> Result<Payload> {
        let metas = self.index.load_metas().map_err(|e| self.err(e))?;
        let schema_matches = self.index.schema() == Fields::schema().0;
        Ok(metas
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_str::<Payload>(p).ok())
            .filter(|_| schema_matches)
            .unwrap_or(Payload { version: 0, seq: 0 }))
    }

    /// The highest store seq this index contains.
    pub fn watermark(&self) -> Result<i64> {
        Ok(self.payload()?.seq)
    }

    /// Index files whose checksum does not match their contents (a damaged
    /// segment); empty when the index is sound.
    pub fn damaged_files(&self) -> Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = self
            .index
            .validate_checksum()
            .map_err(|e| self.err(e))?
            .into_iter()
            .map(|f| self.dir.join(f))
            .collect();
        files.sort();
        Ok(files)
    }

    /// Number of documents in the committed index.
    pub fn num_docs(&self) -> Result<u64> {
        self.reader.reload().map_err(|e| self.err(e))?;
        Ok(self.reader.searcher().num_docs())
    }

    /// A writer for adding documents. Only one process can hold it.
    pub fn updater(&self, config: &IndexConfig) -> Result<IndexUpdater> {
        let threads = match config.writer_threads {
            0 => std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(4),
            n => n,
        };
        let memory = (config.writer_memory_mb * 1_000_000).max(15_000_000 * threads);
        let writer: IndexWriter = self
            .index
            .writer_with_num_threads(threads, memory)
            .map_err(|e| self.err(e))?;
        Ok(IndexUpdater {
            writer,
            fields: self.fields,
            dir: self.dir.clone(),
        })
    }

    /// Indexes every store document above the watermark.
    pub(crate) fn catch_up(&self, store: &Store, config: &IndexConfig) -> Result<()> {
        let watermark = self.watermark()?;
        let max_seq = store.max_seq()?;
        if watermark >= max_seq {
            return Ok(());
        }
        let mut updater = match self.updater(config) {
            Ok(updater) => updater,
            Err(Error::IndexLocked { .. }) => {
                tracing::warn!(
                    path = %self.dir.display(),
                    behind = max_seq - watermark,
                    "index is behind the store but another process is writing it; results may lag"
                );
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        info!(
            from_seq = watermark,
            to_seq = max_seq,
            "catching the index up with the store"
        );
        store.for_each_since(watermark, |_, doc| updater.add(&doc, true))?;
        updater.commit(max_seq)?;
        Ok(())
    }
}

/// Rebuilds the index from scratch into a new directory and swaps it in, so a
/// failed rebuild leaves the old index in place.
pub fn rebuild(data_dir: &Path, store: &Store, config: &IndexConfig) -> Result<SearchIndex> {
    let final_dir = data_dir.join(INDEX_DIR);
    // Hold the live index's writer lock throughout, so no import writes to an
    // index that is about to be replaced. A damaged index cannot be locked and
    // is simply replaced.
    let live = SearchIndex::open_dir(&final_dir).ok().flatten();
    let live_writer = match live.as_ref().map(|index| index.updater(config)) {
        Some(Err(e @ Error::IndexLocked { .. })) => return Err(e),
        Some(Ok(updater)) => Some(updater),
        Some(Err(_)) | None => None,
    };
    let building = data_dir.join(format!("{INDEX_DIR}.building"));
    if building.exists() {
        std::fs::remove_dir_all(&building).map_err(|e| Error::io(&building, e))?;
    }
    let fresh = SearchIndex::create(&building)?;
    let max_seq = store.max_seq()?;
    let mut updater = fresh.updater(config)?;
    store.for_each_since(0, |_, doc| updater.add(&doc, false))?;
    updater.commit(max_seq)?;
    drop(fresh);
    drop(live_writer);
    drop(live);
    let old = data_dir.join(format!("{INDEX_DIR}.old"));
    if final_dir.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
        }
        std::fs::rename(&final_dir, &old).map_err(|e| Error::io(&final_dir, e))?;
    }
    std::fs::rename(&building, &final_dir).map_err(|e| Error::io(&building, e))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    }
    SearchIndex::open_dir(&final_dir)?.ok_or_else(|| Error::Input {
        path: final_dir,
        message: "index vanished after rebuild".into(),
    })
}

/// Adds documents; nothing is visible until [`IndexUpdater::commit`].
pub struct IndexUpdater {
    writer: IndexWriter,
    fields: Fields,
    dir: PathBuf,
}

impl IndexUpdater {
    fn err(&self, source: tantivy::TantivyError) -> Error {
        Error::Index {
            path: self.dir.clone(),
            source,
        }
    }

    /// Adds `doc`; with `replace`, first removes any indexed document with the same id.
    pub fn add(&mut self, doc: &Document, replace: bool) -> Result<()> {
        let f = &self.fields;
        if replace {
            self.writer
                .delete_term(Term::from_field_text(f.id, &doc.id));
        }
        let group = LangGroup::of(&doc.lang) as usize;
        let mut tdoc: TantivyDocument = doc!(
            f.id => doc.id.as_str(),
            f.source => doc.source.as_str(),
            f.lang => doc.lang.as_str(),
            f.published => tantivy::DateTime::from_timestamp_secs(doc.published.timestamp()),
        );
        if !doc.title.is_empty() {
            tdoc.add_text(f.title[group], &doc.title);
        }
        if !doc.text.is_empty() {
            tdoc.add_text(f.text[group], &doc.text);
        }
        self.writer.add_document(tdoc).map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Makes everything added visible and records `seq` as the watermark.
    pub fn commit(&mut self, seq: i64) -> Result<()> {
        let payload = serde_json::to_string(&Payload {
            version: INDEX_VERSION,
            seq,
        })
        .expect("payload serialises");
        let mut prepared = self.writer.prepare_commit().map_err(|e| Error::Index {
            path: self.dir.clone(),
            source: e,
        })?;
        prepared.set_payload(&payload);
        prepared.commit().map_err(|e| Error::Index {
            path: self.dir.clone(),
            source: e,
        })?;
        crate::failpoint::hit("index.commit");
        Ok(())
    }

    /// Drops everything added since the last commit.
    pub fn rollback(&mut self) -> Result<()> {
        self.writer.rollback().map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Waits for merges to finish, so the process can exit cleanly.
    pub fn finish(self) -> Result<()> {
        let dir = self.dir.clone();
        self.writer
            .wait_merging_threads()
            .map_err(|source| Error::Index { path: dir, source })
    }
}
