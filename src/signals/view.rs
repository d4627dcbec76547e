//! Topics as of a time, computed from the newest usable clustering
//! checkpoint: what `signals` and `topics` run, and what `bench signals` times.
//!
//! Clustering every window from the first one costs time in proportion to the
//! whole store, while a daily run adds a day. So a run reads the keys of every
//! document (publication time, id, content hash; no texts or vectors), picks
//! the newest checkpoint whose documents are unchanged, loads only the
//! documents from that checkpoint's window or from the start of the signal
//! history (whichever is earlier), clusters the windows after the checkpoint
//! (saving new checkpoints on the way) and tells the analysis what it must
//! know of the documents it did not load ([`Before`]). The result is the same
//! as clustering from the first window; `--from-scratch` does that.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::{Analysis, Before, DocTerms, SignalReport, TopicSummary};
use crate::config::{SignalsConfig, TopicsConfig, Window};
use crate::error::{Error, Result};
use crate::morph::Morphology;
use crate::store::{CheckpointEntry, Store};
use crate::topics::checkpoint::{config_key, Checkpoint, Fingerprint};
use crate::topics::{Corpus, TopicState, UNASSIGNED};

/// How a view uses the store's checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoints {
    /// Start from the newest valid checkpoint and save new ones.
    Use,
    /// Cluster from the first window, and save checkpoints on the way.
    Rebuild,
}

/// Seconds per step of [`View::build`].
#[derive(Debug, Clone, Default)]
pub struct ViewTimings {
    /// Reading the document keys and checking checkpoints.
    pub keys: f64,
    pub load: f64,
    pub terms: f64,
    pub cluster: f64,
}

/// Everything an as-of analysis needs, with the documents it loaded.
pub struct View {
    pub corpus: Corpus,
    pub terms: DocTerms,
    /// Topics after every loaded document (indexes into `corpus`).
    pub state: TopicState,
    pub before: Before,
    /// Topic (unresolved) of each document before the corpus, in the global
    /// order; `state.resolve` gives the live topic.
    pub prefix: Vec<u32>,
    pub as_of: i64,
    pub window: Window,
    /// Window the run started after, when it started from a checkpoint.
    pub from_checkpoint: Option<i64>,
    pub checkpoints_saved: usize,
    pub timings: ViewTimings,
    /// What ranks weak signals: the newest model fitted as of `as_of` or earlier.
    pub ranking: super::Ranking,
}

/// One calendar window of the stored documents, in the global order.
struct WindowKeys {
    key: i64,
    start: usize,
    end: usize,
    fingerprint: String,
}

/// When the documents from `offset` on exceed `budget`: an as-of time that
/// ends a first part at a grid window (so that part saves a checkpoint there)
/// holding at most `budget` documents, or, when no grid window fits in the
/// budget, the first grid window after the start (a part must make progress).
fn part_end(
    windows: &[WindowKeys],
    published: &[i64],
    offset: usize,
    window: Window,
    budget: usize,
    after: Option<i64>,
) -> Option<i64> {
    if budget == 0 || published.len() - offset <= budget {
        return None;
    }
    let grid_windows = windows.iter().enumerate().filter(|(i, w)| {
        w.key % grid(window) == 0
            && after.is_none_or(|a| w.key > a)
            && w.end > offset
            && i + 1 < windows.len()
    });
    let mut chosen = None;
    for (i, w) in grid_windows {
        if chosen.is_some() && w.end - offset > budget {
            break;
        }
        chosen = Some(i);
        if w.end - offset > budget {
            break;
        }
    }
    // The part's as-of is the last document of the window after the grid
    // window, so the grid window is complete (and checkpointed) in that part.
    let i = chosen?;
    let next = &windows[i + 1];
    (next.end < published.len()).then(|| published[next.end - 1])
}

/// Windows between kept checkpoints, besides the two newest complete ones.
fn grid(window: Window) -> i64 {
    match window {
        Window::Day => 28,
        Window::Week => 13,
        Window::Month => 3,
    }
}

impl View {
    /// Topics as of `as_of` (unix seconds, inclusive) over the documents with
    /// vectors of `model`.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        store: &mut Store,
        model: &str,
        morphology: &Arc<Morphology>,
        as_of: i64,
        window: Window,
        topics: &TopicsConfig,
        signals: &SignalsConfig,
        checkpoints: Checkpoints,
    ) -> Result<View> {
        let mut timings = ViewTimings::default();
        let started = Instant::now();
        let config = config_key(model, morphology.id(), window, topics);
        let now = window.key(as_of);

        // Every document's key: global order, window boundaries, fingerprints.
        let mut published: Vec<i64> = Vec::new();
        let mut windows: Vec<WindowKeys> = Vec::new();
        let mut fingerprint = Fingerprint::default();
        store.for_each_document_key(model, as_of, |ts, id, hash| {
            let key = window.key(ts);
            if windows.last().is_none_or(|w| w.key != key) {
                if let Some(w) = windows.last_mut() {
                    w.fingerprint = fingerprint.hex();
                }
                windows.push(WindowKeys {
                    key,
                    start: published.len(),
                    end: published.len(),
                    fingerprint: String::new(),
                });
            }
            fingerprint.add(id, hash);
            published.push(ts);
            windows.last_mut().expect("pushed").end = published.len();
        })?;
        if let Some(w) = windows.last_mut() {
            w.fingerprint = fingerprint.hex();
        }
        let matches = |e: &CheckpointEntry| {
            windows
                .binary_search_by_key(&e.window_key, |w| w.key)
                .is_ok_and(|i| {
                    windows[i].end as u64 == e.docs && windows[i].fingerprint == e.fingerprint
                })
        };
        let mut start: Option<Checkpoint> = None;
        if checkpoints == Checkpoints::Use {
            for entry in store.checkpoints(&config)? {
                if entry.window_key >= now || !matches(&entry) {
                    continue;
                }
                let decoded = store
                    .checkpoint_data(&config, entry.window_key)?
                    .and_then(|bytes| Checkpoint::decode(&bytes))
                    .filter(|c| {
                        c.window_key == entry.window_key
                            && c.state.assignment.len() as u64 == entry.docs
                    });
                match decoded {
                    Some(c) => {
                        start = Some(c);
                        break;
                    }
                    None => tracing::warn!(
                        window = entry.window_key,
                        "checkpoint does not decode; ignored"
                    ),
                }
            }
        }
        timings.keys = started.elapsed().as_secs_f64();

        // Load from the checkpoint's window or the start of the history.
        let t = Instant::now();
        let history_start = as_of - signals.history() as i64 * window.seconds();
        let offset = match &start {
            None => 0,
            Some(c) => {
                // `matches` found the checkpoint's window among these.
                let start_of_window = windows
                    .binary_search_by_key(&c.window_key, |w| w.key)
                    .map_or(0, |i| windows[i].start);
                start_of_window.min(published.partition_point(|&ts| ts <= history_start))
            }
        };
        // Too much to hold at once (a first run on a big store): cluster up
        // to a grid window within the budget on its own, which saves a
        // checkpoint there, then start again from it.
        let after = start.as_ref().map(|c| c.window_key);
        let budget = topics.max_loaded_documents;
        if let Some(part_as_of) = part_end(&windows, &published, offset, window, budget, after) {
            tracing::info!(
                docs = published.len() - offset,
                budget = topics.max_loaded_documents,
                part_as_of = %super::rfc3339(part_as_of),
                "clustering in parts"
            );
            drop(start);
            drop(published);
            drop(windows);
            View::build(
                store,
                model,
                morphology,
                part_as_of,
                window,
                topics,
                signals,
                checkpoints,
            )?;
            return View::build(
                store,
                model,
                morphology,
                as_of,
                window,
                topics,
                signals,
                Checkpoints::Use,
            );
        }
        let corpus = match published.get(offset) {
            Some(&from) if offset > 0 => Corpus::load_range(store, model, Some(from), Some(as_of))?,
            Some(_) => Corpus::load(store, model, Some(as_of))?,
            None => Corpus::default(),
        };
        if corpus.len() != published.len() - offset {
            return Err(Error::StoreChanged {
                path: store.path().to_path_buf(),
                message: format!(
                    "expected {} documents, read {}",
                    published.len() - offset,
                    corpus.len()
                ),
            });
        }
        timings.load = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let terms = DocTerms::extract(&corpus, morphology);
        timings.terms = t.elapsed().as_secs_f64();

        // Cluster the windows after the checkpoint.
        let t = Instant::now();
        let from_checkpoint = start.as_ref().map(|c| c.window_key);
        let (mut state, prefix) = match start {
            Some(c) => c.state.into_local(offset),
            None => Default::default(),
        };
        let present = store
            .published_range()?
            .is_none_or(|(_, newest)| newest <= as_of);
        let mut saved = 0;
        let mut partial = None;
        for (key, range) in corpus.windows(window) {
            if from_checkpoint.is_some_and(|c| key <= c) {
                continue;
            }
            if key >= now {
                partial = Some((key, range));
                break;
            }
            state.process_window(&corpus, &terms, key, range, topics);
            let on_grid = key % grid(window) == 0;
            let trailing = present && key >= now - 2;
            if !(on_grid || trailing) {
                continue;
            }
            let checkpoint = Checkpoint {
                window_key: key,
                state: state.to_global(&prefix),
            };
            // A document rewritten into another window since the keys were
            // read (same count, other dates): this state fits no stored window.
            let Ok(i) = windows.binary_search_by_key(&key, |w| w.key) else {
                return Err(Error::StoreChanged {
                    path: store.path().to_path_buf(),
                    message: format!("window {key} has documents now that it had none before"),
                });
            };
            let w = &windows[i];
            let entry = CheckpointEntry {
                window_key: key,
                docs: w.end as u64,
                fingerprint: w.fingerprint.clone(),
            };
            // Derived data: a store that cannot take it still gets its answer.
            let keep = |k: i64| k % grid(window) == 0 || k >= key - 1 || !trailing;
            match store.save_checkpoint(&config, window.name(), &entry, &checkpoint.encode(), keep)
            {
                Ok(()) => saved += 1,
                Err(e) => {
                    tracing::warn!(error = %e, window = key, "checkpoint not saved");
                    break;
                }
            }
        }
        if let Some((key, range)) = partial {
            state.process_window(&corpus, &terms, key, range, topics);
        }
        timings.cluster = t.elapsed().as_secs_f64();

        let mut before = Before {
            docs: offset,
            first: published.first().copied().unwrap_or_default(),
            ..Before::default()
        };
        for (d, &t) in prefix.iter().enumerate() {
            if t == UNASSIGNED {
                continue;
            }
            before.assigned += 1;
            let entry = before
                .topics
                .entry(state.resolve(t))
                .or_insert((0, published[d]));
            entry.0 += 1;
            entry.1 = entry.1.min(published[d]);
        }
        tracing::debug!(
            docs = published.len(),
            loaded = corpus.len(),
            from_checkpoint = ?from_checkpoint,
            saved,
            "topics as of {as_of}"
        );
        let settings = super::rank::settings_key(model, morphology.id(), window, topics, signals);
        let ranking = super::rank::ranking_from(store.rank_model(&settings, as_of)?);
        Ok(View {
            ranking,
            corpus,
            terms,
            state,
            before,
            prefix,
            as_of,
            window,
            from_checkpoint,
            checkpoints_saved: saved,
            timings,
        })
    }

    /// Topic figures, signals and per-topic summaries.
    pub fn analyse(
        &self,
        topics: &TopicsConfig,
        signals: &SignalsConfig,
    ) -> Result<(SignalReport, Vec<TopicSummary>)> {
        Analysis {
            corpus: &self.corpus,
            before: &self.before,
            terms: &self.terms,
            state: &self.state,
            docs: self.corpus.len(),
            as_of: self.as_of,
            window: self.window,
            topics_config: topics,
            config: signals,
            ranking: &self.ranking,
        }
        .run()
    }

    /// Gives every signal of `report` its documents' ids and mean vector
    /// (what watches match against), tags it with the taggers' categories, from the
    /// vectors of its recent documents (a signal without any has no tags),
    /// and counts each category's share of the documents of each of the last
    /// `history` windows ([`super::CategoryShares`]).
    pub fn tag(
        &self,
        report: &mut SignalReport,
        taggers: &[crate::taxonomy::tagger::Tagger],
        history: usize,
    ) {
        for signal in &mut report.signals {
            signal.member_ids = signal
                .members
                .iter()
                .map(|&d| self.corpus.ids[d].clone())
                .collect();
            signal.centroid = self.centroid(&signal.members);
            signal.tags = taggers
                .iter()
                .flat_map(|tagger| {
                    if signal.members.is_empty() {
                        return Vec::new();
                    }
                    let mut mean = vec![0.0f64; tagger.len()];
                    for &d in &signal.members {
                        let scores = tagger.scores(self.corpus.vector(d));
                        mean.iter_mut().zip(scores).for_each(|(m, s)| *m += s);
                    }
                    let n = signal.members.len() as f64;
                    mean.iter_mut().for_each(|m| *m /= n);
                    tagger.tags(&mean, 2)
                })
                .collect();
        }
        report.category_shares = taggers
            .iter()
            .map(|tagger| self.category_shares(tagger, history))
            .collect();
    }

    /// The normalised mean vector of `members` (empty without members).
    fn centroid(&self, members: &[usize]) -> Vec<f32> {
        if members.is_empty() {
            return Vec::new();
        }
        let mut mean = vec![0.0f32; self.corpus.dims];
        for &d in members {
            mean.iter_mut()
                .zip(self.corpus.vector(d))
                .for_each(|(m, x)| *m += x);
        }
        let norm = mean.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            mean.iter_mut().for_each(|m| *m /= norm);
        }
        mean
    }

    /// Each category's share of the documents of the last `history` windows
    /// (a document counts for its best category when the tagger would tag
    /// it with it, else for none).
    fn category_shares(
        &self,
        tagger: &crate::taxonomy::tagger::Tagger,
        history: usize,
    ) -> super::CategoryShares {
        let len = self.window.seconds();
        let history = history.max(1);
        let mut totals = vec![0u32; history];
        let mut counts = vec![vec![0u32; history]; tagger.len()];
        let floor = 2.0 / tagger.len().max(1) as f64;
        let c = &self.corpus;
        for d in 0..c.len() {
            let back = (self.as_of - c.published[d]).max(0) / len;
            if back as usize >= history || c.published[d] > self.as_of {
                continue;
            }
            let i = history - 1 - back as usize;
            totals[i] += 1;
            // The best category (the first on ties), when it would be a tag.
            let scores = tagger.scores(c.vector(d));
            let best = (0..scores.len()).fold(0, |b, k| if scores[k] > scores[b] { k } else { b });
            if scores.get(best).is_some_and(|&p| p >= floor) {
                counts[best][i] += 1;
            }
        }
        super::CategoryShares {
            taxonomy: tagger.taxonomy.clone(),
            starts: (0..history)
                .map(|i| super::rfc3339(self.as_of + 1 - (history - i) as i64 * len))
                .collect(),
            docs: totals.clone(),
            categories: tagger
                .categories()
                .zip(counts)
                .map(|((id, name), docs)| super::CategoryShare {
                    id: id.to_string(),
                    name: name.to_string(),
                    share: docs
                        .iter()
                        .zip(&totals)
                        .map(|(&n, &t)| if t == 0 { 0.0 } else { n as f64 / t as f64 })
                        .collect(),
                    docs,
                })
                .collect(),
        }
    }

    /// One topic with its newest documents, as `topic ID` and the API show
    /// it; `None` when the topic (or the topic it merged into) has no
    /// documents in the analysed history.
    pub fn topic_detail(
        &self,
        report: &SignalReport,
        topics: &[TopicSummary],
        id: u32,
        limit: usize,
    ) -> Option<TopicDetail> {
        let state = &self.state;
        if id as usize >= state.topics.len() {
            return None;
        }
        let live = state.resolve(id);
        let summary = topics.iter().find(|t| t.id == live)?;
        let signal = report
            .signals
            .iter()
            .find(|s| s.id == format!("topic-{live}"))
            .cloned();
        let assignment = state.resolved_assignment();
        let c = &self.corpus;
        let documents = (0..c.len())
            .rev() // newest first
            .filter(|&d| assignment[d] == live)
            .take(limit)
            .map(|d| TopicDocument {
                id: c.ids[d].clone(),
                published: super::rfc3339(c.published[d]),
                source: c.sources[c.source[d] as usize].clone(),
                title: c.titles[d].clone(),
                url: c.urls[d].clone(),
            })
            .collect();
        Some(TopicDetail {
            as_of: report.as_of.clone(),
            merged_into: (live != id).then_some(live),
            topic: summary.clone(),
            signal,
            documents,
            older_not_listed: self.before.topics.get(&live).map_or(0, |b| b.0),
            listed_from: super::rfc3339(c.published.first().copied().unwrap_or(self.as_of)),
        })
    }
}

/// A document of a topic.
#[derive(Debug, Clone, Serialize)]
pub struct TopicDocument {
    pub id: String,
    pub published: String,
    pub source: String,
    pub title: String,
    pub url: Option<String>,
}

/// One topic with its signal (if it is one) and newest documents.
#[derive(Debug, Clone, Serialize)]
pub struct TopicDetail {
    pub as_of: String,
    /// The topic asked for was merged into this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<u32>,
    pub topic: TopicSummary,
    pub signal: Option<super::Signal>,
    pub documents: Vec<TopicDocument>,
    /// Documents of the topic older than the run loaded (they are counted, not listed).
    pub older_not_listed: u32,
    /// Publication time of the oldest document the run loaded.
    #[serde(skip)]
    pub listed_from: String,
}
