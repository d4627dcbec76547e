//! Collectors: public news and discussion from the web into the store.
//!
//! Each source kind (`feed`, `page`, `sitemap`, `hackernews`, `reddit`,
//! `mastodon`, `discourse`) is a small module behind the [`Source`] trait: it
//! lists what the source offers now as [`Item`]s. Everything else is shared
//! and decided here once: items already stored are not fetched again, pages
//! are fetched politely through one [`fetch::Fetcher`] and their text
//! extracted, documents pass the same [`DocumentBuilder`] as imports, a
//! near-duplicate of a stored story is recorded as another source of it, and
//! every document is committed as it arrives, so a crash loses nothing
//! stored and the next run resumes. A source's listing validators (ETag,
//! Last-Modified) are saved only after all its items are stored.

pub mod bench;
pub mod discussion;
pub mod feed;
pub mod fetch;
pub mod page;
pub mod simhash;
pub mod sitemap;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use tokio::task::JoinSet;
use url::Url;

use crate::document::{canonical_url, derive_id, DocumentBuilder, RawDate, RawDocument};
use crate::error::{Error, Result};
use crate::store::{Store, WriteOutcome};
use fetch::{FetchError, Fetched, Fetcher, Validators};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One article or post a source lists.
#[derive(Debug, Clone, Default)]
pub struct Item {
    pub url: Option<Url>,
    pub title: Option<String>,
    /// Plain text the listing carries (a post, a feed item's content).
    pub text: Option<String>,
    pub published: Option<RawDate>,
    pub lang: Option<String>,
    /// Fetch the page at `url` and extract its text (the listing has no full text).
    pub fetch_page: bool,
}

/// What a source lists now.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub items: Vec<Item>,
    /// The listing itself did not change since the last run (HTTP 304).
    pub not_modified: bool,
    /// Validators of the listing response, saved once its items are stored.
    pub validators: Option<(String, Validators)>,
    /// Pages fetched to list the items (feeds, sitemaps, API calls).
    pub requests: u64,
}

impl Listing {
    /// The listing did not change since the last run (HTTP 304).
    pub fn not_modified() -> Listing {
        Listing {
            not_modified: true,
            ..Default::default()
        }
    }

    /// Items read from the response `page` to a GET of `url`.
    pub fn fetched(url: &str, page: fetch::Page, items: Vec<Item>, requests: u64) -> Listing {
        Listing {
            items,
            not_modified: false,
            validators: Some((url.to_string(), page.validators)),
            requests,
        }
    }
}

/// Why a source's listing failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    #[error("{url}: {error}")]
    Fetch { url: String, error: FetchError },
    #[error("{url}: {message}")]
    Parse { url: String, message: String },
}

impl SourceError {
    pub fn reason(&self) -> String {
        match self {
            SourceError::Fetch { error, .. } => error.reason(),
            SourceError::Parse { .. } => "unparsable".into(),
        }
    }
}

/// The [`Source`] accessors of a configuration struct with `name`, `url`
/// and `lang` fields (every kind's configuration has them).
macro_rules! source_fields {
    () => {
        fn name(&self) -> &str {
            &self.name
        }

        fn url(&self) -> &str {
            &self.url
        }

        fn lang(&self) -> Option<&str> {
            self.lang.as_deref()
        }
    };
}
pub(crate) use source_fields;

/// One kind of source.
pub trait Source: Send + Sync {
    fn name(&self) -> &str;
    /// The source's own URL (a feed, a listing page, an API endpoint).
    fn url(&self) -> &str;
    /// Language of its documents, when the configuration says.
    fn lang(&self) -> Option<&str> {
        None
    }
    /// What the source lists now; `validators` are those of the last run's
    /// listing response, for a conditional GET.
    fn discover<'a>(
        &'a self,
        fetcher: &'a Fetcher,
        validators: Option<Validators>,
        limit: usize,
    ) -> BoxFuture<'a, std::result::Result<Listing, SourceError>>;
}

/// GETs a listing URL; a parse step turns its text into items.
pub async fn get_text(
    fetcher: &Fetcher,
    url: &str,
    validators: Option<&Validators>,
) -> std::result::Result<Option<fetch::Page>, SourceError> {
    let parsed = Url::parse(url).map_err(|e| SourceError::Parse {
        url: url.to_string(),
        message: format!("not a URL: {e}"),
    })?;
    match fetcher.get(&parsed, validators).await {
        Ok(Fetched::Page(page)) => Ok(Some(page)),
        Ok(Fetched::NotModified) => Ok(None),
        Err(error) => Err(SourceError::Fetch {
            url: url.to_string(),
            error,
        }),
    }
}

/// Counts of one source's run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceSummary {
    pub source: String,
    pub listed: u64,
    /// HTTP responses with a body (listings and pages).
    pub fetched: u64,
    pub new: u64,
    pub updated: u64,
    /// Already stored (same URL or same content), or a listing that did not change.
    pub unchanged: u64,
    /// Exact or near duplicates of a stored story under another address:
    /// recorded as another source of it, not as a document.
    pub near_duplicates: u64,
    pub skipped_by_robots: u64,
    pub rejected: u64,
    /// Failures by reason ("http 404", "timeout", "too large", ...).
    pub failed: BTreeMap<String, u64>,
    /// Why the listing itself failed, if it did.
    pub error: Option<String>,
}

impl SourceSummary {
    fn fail(&mut self, reason: String) {
        *self.failed.entry(reason).or_insert(0) += 1;
    }

    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }
}

/// Per-run behaviour (CLI flags).
#[derive(Debug, Clone, Default)]
pub struct CollectOptions {
    /// Items per source (overrides crawler.max_items_per_source).
    pub limit: Option<usize>,
    /// List and count, but fetch no pages and store nothing.
    pub dry_run: bool,
    /// Days around a story's publication within which a near-duplicate is looked for.
    pub near_duplicate_days: i64,
}

/// Collects from `sources` into `store`; returns one summary per source.
pub fn collect(
    sources: Vec<Arc<dyn Source>>,
    fetcher: Arc<Fetcher>,
    store: &mut Store,
    builder: &mut DocumentBuilder,
    options: &CollectOptions,
    progress: &crate::progress::Progress,
) -> Result<Vec<SourceSummary>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("<tokio runtime>", e))?;
    runtime.block_on(run(sources, fetcher, store, builder, options, progress))
}

/// A page task's result: the item, and its page's extracted text (extraction
/// runs in the task, on any core, not in the loop that writes the store).
type PageResult = (
    usize,
    Item,
    std::result::Result<Option<crate::extract::Extracted>, FetchError>,
);

async fn run(
    sources: Vec<Arc<dyn Source>>,
    fetcher: Arc<Fetcher>,
    store: &mut Store,
    builder: &mut DocumentBuilder,
    options: &CollectOptions,
    progress: &crate::progress::Progress,
) -> Result<Vec<SourceSummary>> {
    let mut summaries: Vec<SourceSummary> = sources
        .iter()
        .map(|s| SourceSummary {
            source: s.name().to_string(),
            ..Default::default()
        })
        .collect();
    let bar = progress.items(0, "collecting");
    let mut listings = JoinSet::new();
    for (i, source) in sources.iter().enumerate() {
        let validators = store
            .validators(source.url())?
            .map(|(etag, last_modified)| Validators {
                etag,
                last_modified,
            });
        let (source, fetcher) = (source.clone(), fetcher.clone());
        let limit = options.limit.unwrap_or(usize::MAX);
        listings.spawn(async move {
            let listing = source.discover(&fetcher, validators, limit).await;
            (i, listing)
        });
    }
    let mut pages: JoinSet<PageResult> = JoinSet::new();
    // Per source: pages still in flight, and the validators to save after them.
    let mut in_flight = vec![0usize; sources.len()];
    let mut pending_validators: Vec<Option<(String, Validators)>> = vec![None; sources.len()];
    let now = chrono::Utc::now().timestamp();
    loop {
        tokio::select! {
            Some(joined) = listings.join_next() => {
                let (i, listing) = joined.map_err(|e| Error::Task {
                    what: "a collector task".into(),
                    message: e.to_string(),
                })?;
                let summary = &mut summaries[i];
                let listing = match listing {
                    Ok(listing) => listing,
                    Err(e) => {
                        tracing::warn!(source = %summary.source, error = %e, "listing failed");
                        summary.fail(e.reason());
                        if matches!(&e, SourceError::Fetch { error: FetchError::Robots, .. }) {
                            summary.skipped_by_robots += 1;
                        }
                        summary.error = Some(e.to_string());
                        continue;
                    }
                };
                summary.fetched += listing.requests;
                if listing.not_modified {
                    summary.unchanged += 1;
                    continue;
                }
                summary.listed += listing.items.len() as u64;
                bar.inc_length(listing.items.len() as u64);
                pending_validators[i] = listing.validators;
                for item in listing.items {
                    // Ids of documents with a URL derive from the canonical URL alone.
                    let known = match item.url.as_ref().and_then(|u| canonical_url(u.as_str())) {
                        Some(u) => store.has_document(&derive_id(Some(&u), "", "", chrono::DateTime::UNIX_EPOCH))?,
                        None => false,
                    };
                    if known && item.fetch_page {
                        summaries[i].unchanged += 1;
                        bar.inc(1);
                        continue;
                    }
                    if options.dry_run {
                        bar.inc(1);
                        continue;
                    }
                    match (&item.url, item.fetch_page) {
                        (Some(url), true) => {
                            let (url, fetcher) = (url.clone(), fetcher.clone());
                            in_flight[i] += 1;
                            pages.spawn(async move {
                                let fetched = match fetcher.get(&url, None).await {
                                    Ok(Fetched::Page(page)) => {
                                        let extracted = tokio::task::spawn_blocking(move || {
                                            crate::extract::extract(&page.text, Some(page.url.as_str()))
                                        })
                                        .await
                                        .ok();
                                        Ok(extracted)
                                    }
                                    Ok(Fetched::NotModified) => Ok(None),
                                    Err(e) => Err(e),
                                };
                                (i, item, fetched)
                            });
                        }
                        _ => {
                            store_item(store, builder, sources[i].as_ref(), item, None, &mut summaries[i], options, now)?;
                            bar.inc(1);
                        }
                    }
                }
                if in_flight[i] == 0 {
                    save_validators(store, &mut pending_validators[i], now)?;
                }
            }
            Some(joined) = pages.join_next() => {
                let (i, item, fetched) = joined.map_err(|e| Error::Task {
                    what: "a collector task".into(),
                    message: e.to_string(),
                })?;
                in_flight[i] -= 1;
                bar.inc(1);
                let summary = &mut summaries[i];
                match fetched {
                    Ok(Some(extracted)) => {
                        summary.fetched += 1;
                        store_item(store, builder, sources[i].as_ref(), item, Some(extracted), summary, options, now)?;
                    }
                    Ok(None) => summary.unchanged += 1,
                    Err(FetchError::Robots) => summary.skipped_by_robots += 1,
                    Err(e) => {
                        let url = item.url.as_ref().map(Url::as_str).unwrap_or("");
                        tracing::warn!(source = %summary.source, url = %url, error = %e, "fetch failed");
                        summary.fail(e.reason());
                    }
                }
                if in_flight[i] == 0 {
                    save_validators(store, &mut pending_validators[i], now)?;
                }
            }
            else => break,
        }
    }
    bar.finish_and_clear();
    Ok(summaries)
}

fn save_validators(
    store: &mut Store,
    pending: &mut Option<(String, Validators)>,
    now: i64,
) -> Result<()> {
    let Some((url, v)) = pending.take() else {
        return Ok(());
    };
    let writer = store.writer()?;
    writer.set_validators(&url, v.etag.as_deref(), v.last_modified.as_deref(), now)?;
    writer.commit()
}

/// Builds a document from an item (and its fetched page) and stores it.
#[allow(clippy::too_many_arguments)]
fn store_item(
    store: &mut Store,
    builder: &mut DocumentBuilder,
    source: &dyn Source,
    item: Item,
    extracted: Option<crate::extract::Extracted>,
    summary: &mut SourceSummary,
    options: &CollectOptions,
    now: i64,
) -> Result<()> {
    let mut raw = RawDocument {
        id: None,
        url: item.url.as_ref().map(|u| u.to_string()),
        source: Some(source.name().to_string()),
        published: item.published,
        fetched_at: None,
        title: item.title,
        text: item.text,
        // The operator's word first, then the page's own, then the listing's.
        lang: source.lang().map(str::to_string),
    };
    let listing_lang = item.lang;
    if let Some(extracted) = extracted {
        if raw.title.as_deref().is_none_or(|t| t.trim().is_empty()) {
            raw.title = extracted.title;
        }
        if !extracted.text.trim().is_empty() {
            raw.text = Some(extracted.text);
        }
        if raw.published.is_none() {
            raw.published = extracted.published.map(RawDate::Text);
        }
        if raw.lang.is_none() {
            raw.lang = extracted.lang;
        }
    }
    if raw.lang.is_none() {
        raw.lang = listing_lang;
    }
    let doc = match builder.build(raw) {
        Ok(doc) => doc,
        Err(rejection) => {
            let url = item.url.as_ref().map(Url::as_str).unwrap_or("");
            tracing::warn!(source = %source.name(), url = %url, reason = %rejection, "item rejected");
            summary.rejected += 1;
            return Ok(());
        }
    };
    let published = doc.published.timestamp();
    // The body decides: a syndicated copy often has its own headline.
    let fingerprint = simhash::simhash(&doc.text);
    let window = options.near_duplicate_days.max(0) * 86_400;
    // The same story under another address: the same content exactly, or
    // (long enough to compare) nearly the same text around the same time.
    let near = match store.document_with_content(&doc.content_hash)? {
        Some(id) if id != doc.id => Some(id),
        _ if simhash::long_enough(&doc.text) => store
            .simhashes_between(published - window, published + window)?
            .into_iter()
            .find(|(id, h)| *id != doc.id && simhash::near(*h, fingerprint))
            .map(|(id, _)| id),
        _ => None,
    };
    let writer = store.writer()?;
    if let Some(story) = near {
        writer.add_document_source(&story, &doc.source, doc.url.as_deref(), now)?;
        writer.commit()?;
        summary.near_duplicates += 1;
        return Ok(());
    }
    match writer.put(&doc)? {
        WriteOutcome::Inserted(_) => summary.new += 1,
        WriteOutcome::Updated(_) => summary.updated += 1,
        WriteOutcome::Duplicate | WriteOutcome::KeptNewer => summary.unchanged += 1,
    }
    writer.add_document_source(&doc.id, &doc.source, doc.url.as_deref(), now)?;
    if simhash::long_enough(&doc.text) {
        writer.set_simhash(&doc.id, fingerprint, published)?;
    }
    writer.commit()
}
