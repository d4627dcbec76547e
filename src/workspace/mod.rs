//! The application layer: what a command, the server and the benchmarks do
//! with a data directory, whoever asks. A [`Workspace`] owns the settings,
//! the data directory, progress reporting and the lazily loaded morphology,
//! and offers the operations that more than one front end needs (collect,
//! import, embedding what lacks a vector, hybrid search, and the whole batch
//! job in [`run`]). `cli/` and `serve/` parse their input, call it, and
//! present the result; nothing here knows about either.

pub mod run;
mod watch;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::collect::fetch::Fetcher;
use crate::collect::{CollectOptions, SourceSummary};
use crate::config::Config;
use crate::document::{Defaults, DocumentBuilder};
use crate::embed::{self, Embedder};
use crate::error::Result;
use crate::import::{ImportOptions, ImportSummary};
use crate::index::{SearchIndex, SearchRequest, SearchResults};
use crate::progress::Progress;
use crate::store::Store;

/// Settings, data directory and shared handles of one process.
pub struct Workspace {
    pub config: Config,
    pub data_dir: PathBuf,
    pub progress: Progress,
    pub quiet: bool,
    /// Loaded (and fetched) on first use.
    morphology: std::sync::OnceLock<std::sync::Arc<crate::morph::Morphology>>,
}

/// What `embed_missing` did.
#[derive(Serialize)]
pub struct EmbedSummary {
    pub model: String,
    pub embedded: u64,
    pub seconds: f64,
    pub docs_per_second: f64,
}

impl Workspace {
    /// A workspace over `data_dir` with `config`; `quiet` hides progress.
    pub fn new(config: Config, data_dir: PathBuf, quiet: bool) -> Workspace {
        Workspace {
            config,
            data_dir,
            progress: Progress::new(quiet),
            quiet,
            morphology: std::sync::OnceLock::new(),
        }
    }

    /// The morphology for terms and labels: the lexicons in
    /// `morphology.path`, fetched on first use (or Snowball, with a warning).
    pub fn morphology(&self) -> std::sync::Arc<crate::morph::Morphology> {
        std::sync::Arc::clone(self.morphology.get_or_init(|| {
            std::sync::Arc::new(crate::morph::Morphology::load(
                &self.config.morphology,
                &self.progress,
            ))
        }))
    }

    /// Collects `sources` into the store (at most `limit` new items each,
    /// else `crawler.max_items_per_source`) and brings the index up to date.
    pub fn collect(
        &self,
        sources: Vec<std::sync::Arc<dyn crate::collect::Source>>,
        limit: Option<usize>,
        dry_run: bool,
    ) -> Result<Vec<SourceSummary>> {
        let fetcher = std::sync::Arc::new(
            Fetcher::new(&self.config.crawler).map_err(crate::error::Error::Usage)?,
        );
        let mut store = Store::open(&self.data_dir)?;
        let mut builder =
            DocumentBuilder::new(&self.config.import, Defaults::default(), chrono::Utc::now());
        let options = CollectOptions {
            limit: Some(limit.unwrap_or(self.config.crawler.max_items_per_source)),
            dry_run,
            near_duplicate_days: 3,
        };
        let summaries = crate::collect::collect(
            sources,
            fetcher,
            &mut store,
            &mut builder,
            &options,
            &self.progress,
        )?;
        if !dry_run {
            SearchIndex::open_synced(&self.data_dir, &store, &self.config.index)?;
        }
        Ok(summaries)
    }

    /// Imports one file with this workspace's limits, index settings and progress bars.
    pub fn import_file(
        &self,
        store: &mut Store,
        index: &SearchIndex,
        file: &Path,
        options: &ImportOptions,
    ) -> Result<ImportSummary> {
        crate::import::import_file(
            file,
            options,
            &self.config.import,
            store,
            index,
            &self.config.index,
            &self.progress,
        )
    }

    /// The store and an index caught up with it, for writing.
    pub fn open_for_writing(&self) -> Result<(Store, SearchIndex)> {
        let store = Store::open(&self.data_dir)?;
        let index = SearchIndex::open_synced(&self.data_dir, &store, &self.config.index)?;
        Ok((store, index))
    }

    /// The model id of the stored vectors, after embedding whatever lacks a
    /// vector (loading, and if needed fetching, the model only then).
    pub fn ensure_vectors(&self, store: &mut Store) -> Result<String> {
        if let Some(model) = embed::known_model_id(&self.config.model) {
            if store.count_missing_vectors(&model)? == 0 {
                return Ok(model);
            }
        }
        Ok(self.embed_missing(store)?.model)
    }

    /// Embeds every stored document without a vector for the configured
    /// model, committing a page at a time (a kill loses at most one page),
    /// and reports how many and how fast.
    pub fn embed_missing(&self, store: &mut Store) -> Result<EmbedSummary> {
        let embedder = embed::load(&self.config.model, &self.progress)?;
        let model = embedder.model_id().to_string();
        let missing = store.count_missing_vectors(&model)?;
        tracing::info!(model = %model, missing, "embedding documents");
        let bar = self.progress.items(missing, "embedding");
        let started = std::time::Instant::now();
        let mut embedded = 0u64;
        let batch = self.config.model.commit_every;
        let mut rows = store.missing_vectors(&model, 0, batch)?;
        while let Some(last) = rows.last() {
            let after_seq = last.seq;
            let texts: Vec<String> = rows
                .iter()
                .map(|row| embed::passage_text(&row.title, &row.text))
                .collect();
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            // The next page is read while this one is embedded: the cores stay
            // busy with the model instead of waiting for the store.
            let (vectors, next) = std::thread::scope(|s| {
                let embedding = s.spawn(|| embedder.embed_passages(&refs));
                let next = store.missing_vectors(&model, after_seq, batch);
                (embedding.join().expect("embedding thread panicked"), next)
            });
            let vectors = vectors?;
            let writer = store.writer()?;
            for (row, v) in rows.iter().zip(&vectors) {
                writer.put_vector(&row.id, &model, &row.content_hash, &embed::encode_f16(v))?;
            }
            writer.commit()?;
            crate::failpoint::hit("embed.page");
            embedded += rows.len() as u64;
            bar.inc(rows.len() as u64);
            tracing::debug!(embedded, missing, "batch committed");
            rows = next?;
        }
        bar.finish_and_clear();
        let seconds = started.elapsed().as_secs_f64();
        Ok(EmbedSummary {
            model,
            embedded,
            seconds,
            docs_per_second: if seconds > 0.0 {
                embedded as f64 / seconds
            } else {
                0.0
            },
        })
    }

    /// The built-in taxonomies and those in `taxonomies.path`.
    pub fn taxonomies(&self) -> Result<crate::taxonomy::Taxonomies> {
        crate::taxonomy::Taxonomies::load(Some(&self.config.taxonomies.path))
    }

    /// A tagger for taxonomy `id` over vectors of `model`; its category
    /// vectors are cached in the data directory (when there is one) by model
    /// and taxonomy file, so the model is loaded only when they are not.
    pub fn tagger(
        &self,
        model: &str,
        embedder: &mut dyn FnMut() -> Result<std::sync::Arc<embed::E5Embedder>>,
        id: &str,
        method: crate::taxonomy::tagger::Method,
    ) -> Result<crate::taxonomy::tagger::Tagger> {
        self.tagger_for(model, embedder, self.taxonomies()?.get(id)?, method)
    }

    fn tagger_for(
        &self,
        model: &str,
        embedder: &mut dyn FnMut() -> Result<std::sync::Arc<embed::E5Embedder>>,
        taxonomy: &crate::taxonomy::Taxonomy,
        method: crate::taxonomy::tagger::Method,
    ) -> Result<crate::taxonomy::tagger::Tagger> {
        let cache = self.data_dir.join("cache").join("taxonomies");
        let cache = self.data_dir.is_dir().then_some(cache.as_path());
        crate::taxonomy::tagger::Tagger::new(model, embedder, taxonomy, method, cache)
    }

    /// The taggers of `taxonomies.tag` for signals over vectors of `model`
    /// (the taxonomy files are read once; the model is loaded only if a
    /// taxonomy's vectors are not cached).
    pub fn signal_taggers(&self, model: &str) -> Result<Vec<crate::taxonomy::tagger::Tagger>> {
        self.taggers_of(model, &self.config.taxonomies.tag)
    }

    /// The taggers of the taxonomies `ids` (a pipeline's `taxonomies`) for
    /// signals over vectors of `model`.
    pub fn taggers_of(
        &self,
        model: &str,
        ids: &[String],
    ) -> Result<Vec<crate::taxonomy::tagger::Tagger>> {
        let taxonomies = self.taxonomies()?;
        let mut loaded: Option<std::sync::Arc<embed::E5Embedder>> = None;
        let mut embedder = || -> Result<std::sync::Arc<embed::E5Embedder>> {
            if let Some(e) = &loaded {
                return Ok(std::sync::Arc::clone(e));
            }
            let e = std::sync::Arc::new(embed::load(&self.config.model, &self.progress)?);
            loaded = Some(std::sync::Arc::clone(&e));
            Ok(e)
        };
        ids.iter()
            .map(|id| {
                self.tagger_for(
                    model,
                    &mut embedder,
                    taxonomies.get(id)?,
                    // Topics are tagged by their documents' mean
                    // probabilities; the prototypes' sharper votes tag
                    // simulated topics more precisely than the trained
                    // blend (BENCHMARKS.md, "Tags of topics").
                    crate::taxonomy::tagger::Method::Prototypes,
                )
            })
            .collect()
    }

    /// `search --hybrid`: BM25 and vector ranks fused by reciprocal rank fusion.
    pub fn hybrid(
        &self,
        store: &Store,
        index: &SearchIndex,
        request: &SearchRequest,
    ) -> Result<SearchResults> {
        let embedder = embed::load(&self.config.model, &self.progress)?;
        embed::search::hybrid(&embedder, store, index, request)
    }
}
