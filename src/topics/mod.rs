//! Topics over time: document vectors clustered window by window, with ids
//! that stay with a topic as long as it continues.
//!
//! Why this shape: a weak signal is a handful of documents about something
//! new, so the clustering must let three documents form a topic, keep most
//! documents assigned, and give the same answer for the same input (analysts
//! compare runs, and `--as-of` replays must be exact). Windows are processed
//! in time order, so the topics after window `w` depend only on documents
//! published up to the end of `w`:
//!
//! 1. each document joins the closest topic active in recent windows when
//!    its mean cosine to the topic's documents reaches `join_threshold`, or
//!    a topic founded on a name the document carries (see 2b) at
//!    `attach_threshold`;
//! 2. the rest, with the previous window's leftovers, are clustered
//!    greedily in publication order; clusters of `min_topic_docs` become new
//!    topics (a **birth**, with its novelty: distance to every older topic);
//!    2b. leftovers that share a term never seen before (a new hashtag, place
//!    or disease name) found a topic named after it when they reach
//!    `attach_threshold` together: short, mixed-language texts about a new
//!    event (tweets about a typhoon in English and Tagalog) are often less
//!    similar than the new name says they are;
//! 3. leftovers still join a topic at the lower `attach_threshold`; what
//!    remains is an outlier (and may found a topic in the next window);
//! 4. centroids move with decaying weight (topics drift);
//! 5. a topic whose documents of this window form two distant groups
//!    **splits**, and topics whose centroids meet **merge** (the older id lives on).
//!
//! Ties are broken by id and documents are ordered by (published, id), so the
//! result is deterministic.

pub mod checkpoint;
pub mod history;
pub mod labels;

use std::collections::HashMap;
use std::ops::Range;

use serde::Serialize;

use crate::config::{TopicsConfig, Window};
use crate::terms::DocTerms;
pub use history::{Echo, KeyHistory};

/// No topic.
pub const UNASSIGNED: u32 = u32::MAX;

impl Window {
    /// Calendar window number of a unix time (weeks start on Monday, UTC).
    pub fn key(self, ts: i64) -> i64 {
        const MONDAY: i64 = 4 * 86_400; // 1970-01-05 00:00 UTC
        match self {
            Window::Day => ts.div_euclid(86_400),
            Window::Week => (ts - MONDAY).div_euclid(7 * 86_400),
            Window::Month => {
                let d = chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default();
                use chrono::Datelike;
                d.year() as i64 * 12 + d.month0() as i64
            }
        }
    }

    /// Length used for trailing windows that end at an as-of time (month: 30 days).
    pub fn seconds(self) -> i64 {
        match self {
            Window::Day => 86_400,
            Window::Week => 7 * 86_400,
            Window::Month => 30 * 86_400,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Window::Day => "day",
            Window::Week => "week",
            Window::Month => "month",
        }
    }
}

pub use crate::corpus::Corpus;

/// What happened to a topic in a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TopicEvent {
    Birth { window: i64, topic: u32 },
    Merge { window: i64, topic: u32, into: u32 },
    Split { window: i64, topic: u32, from: u32 },
}

/// One topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Topic {
    pub id: u32,
    /// Decayed sum of its documents' vectors, and their decayed count.
    sum: Vec<f32>,
    weight: f32,
    /// Unit-length direction of `sum`.
    pub centroid: Vec<f32>,
    /// Window of birth and of the last document.
    pub born: i64,
    pub last: i64,
    pub merged_into: Option<u32>,
    pub parent: Option<u32>,
    /// 1 - the highest cosine to any older topic at birth.
    pub novelty: f32,
    /// The new name (a stem) the topic was founded on, if any: documents
    /// that carry it join the topic at the lower threshold.
    pub name: Option<String>,
    /// Its documents per window and bursts since birth.
    pub history: KeyHistory,
}

impl Topic {
    /// Mean cosine of `x` to the topic's (decay-weighted) documents.
    pub fn mean_similarity(&self, x: &[f32]) -> f32 {
        dot(x, &self.sum) / self.weight.max(1e-6)
    }
}

/// All topics and assignments after some windows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopicState {
    pub topics: Vec<Topic>,
    /// Topic of each processed document (index into the corpus), or [`UNASSIGNED`].
    pub assignment: Vec<u32>,
    pub events: Vec<TopicEvent>,
    /// Unassigned documents of the last window, which may still found a topic.
    pending: Vec<usize>,
    /// First publication time of every name ([`crate::terms::Names`], a
    /// stem) seen so far: a name not seen before is new (a hashtag, a
    /// place, a disease).
    pub name_first: HashMap<String, i64>,
    /// Every term (by key) seen so far: first sighting, documents and bursts.
    pub terms: HashMap<String, KeyHistory>,
    /// Topic bursts of the last three years, oldest first (seasonality).
    pub echoes: Vec<Echo>,
    /// The first window of each source: a source's first
    /// [`history::ONBOARDING_WINDOWS`] windows bring its whole vocabulary to
    /// the store at once, which is no rise of anything.
    pub sources: HashMap<String, i64>,
    /// Documents per 14-day bucket (as the terms' [`KeyHistory::buckets`]):
    /// the volume their counts are shares of.
    pub volume_buckets: Vec<(i32, u32)>,
    /// The same per window (start, documents): whether the store covered
    /// exactly some weeks of an earlier year.
    pub volume_windows: Vec<(i64, u32)>,
}

impl TopicState {
    /// The live topic a (possibly merged) topic id now belongs to.
    pub fn resolve(&self, mut topic: u32) -> u32 {
        while let Some(into) = self.topics[topic as usize].merged_into {
            topic = into;
        }
        topic
    }

    /// Live topic of every processed document (merges resolved).
    pub fn resolved_assignment(&self) -> Vec<u32> {
        let live: Vec<u32> = (0..self.topics.len() as u32)
            .map(|t| self.resolve(t))
            .collect();
        self.assignment
            .iter()
            .map(|&t| {
                if t == UNASSIGNED {
                    UNASSIGNED
                } else {
                    live[t as usize]
                }
            })
            .collect()
    }

    /// Clusters the documents `docs` (one calendar window, key `key`).
    pub fn process_window(
        &mut self,
        corpus: &Corpus,
        terms: &DocTerms,
        key: i64,
        docs: Range<usize>,
        config: &TopicsConfig,
    ) {
        let dims = corpus.dims;
        if self.assignment.len() < docs.end {
            self.assignment.resize(docs.end, UNASSIGNED);
        }
        let window_docs: Vec<usize> = docs.clone().collect();
        let active: Vec<u32> = self
            .topics
            .iter()
            .filter(|t| t.merged_into.is_none() && key - t.last <= config.idle_windows)
            .map(|t| t.id)
            .collect();
        // 1. join existing topics
        let sims = similarities(corpus, &window_docs, &self.topics, &active, dims);
        let mut best: Vec<(f32, u32)> = vec![(f32::MIN, UNASSIGNED); window_docs.len()];
        for (row, b) in best.iter_mut().enumerate() {
            for (col, &topic) in active.iter().enumerate() {
                let s = sims[row * active.len() + col];
                if s > b.0 {
                    *b = (s, topic);
                }
            }
        }
        let named: HashMap<&str, Vec<usize>> =
            active
                .iter()
                .enumerate()
                .fold(HashMap::new(), |mut map, (col, &t)| {
                    if let Some(name) = &self.topics[t as usize].name {
                        map.entry(name.as_str()).or_default().push(col);
                    }
                    map
                });
        for (row, &doc) in window_docs.iter().enumerate() {
            // A topic founded on a name this document carries, when close enough.
            let by_name = terms.doc_names[doc]
                .iter()
                .filter_map(|&n| named.get(terms.names.name(n)))
                .flatten()
                .map(|&col| (sims[row * active.len() + col], active[col]))
                .filter(|&(s, _)| s >= config.attach_threshold)
                .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
            if let Some((_, topic)) = by_name {
                self.assignment[doc] = topic;
            } else if best[row].0 >= config.join_threshold {
                self.assignment[doc] = best[row].1;
            }
        }
        // 2. new topics from what is left, with the previous window's leftovers
        let mut candidates: Vec<usize> = std::mem::take(&mut self.pending)
            .into_iter()
            .filter(|&d| self.assignment[d] == UNASSIGNED)
            .collect();
        candidates.extend(
            window_docs
                .iter()
                .copied()
                .filter(|&d| self.assignment[d] == UNASSIGNED),
        );
        let born_from = self.topics.len();
        for members in leader_clusters(corpus, &candidates, config.new_topic_threshold) {
            if members.len() < config.min_topic_docs || !members.iter().any(|d| docs.contains(d)) {
                continue;
            }
            self.found(corpus, &members, key, None);
        }
        // 2b. leftovers that share a term never seen before them found a
        // topic at the lower threshold: a new name shared by several
        // documents is evidence of a new story that short, mixed-language
        // texts do not always carry in their embeddings.
        for (name, members) in self.new_name_groups(corpus, terms, &candidates, &docs, config) {
            let sum = sum_of(corpus, &members);
            let n = members.len() as f32;
            let mean_pairwise = (dot(&sum, &sum) - n) / (n * (n - 1.0));
            if mean_pairwise >= config.attach_threshold {
                self.found(corpus, &members, key, Some(name));
            }
        }
        for d in docs.clone() {
            for &n in &terms.doc_names[d] {
                let name = terms.names.name(n);
                if !self.name_first.contains_key(name) {
                    self.name_first
                        .insert(name.to_string(), corpus.published[d]);
                }
            }
            for term in &terms.terms[d] {
                let name = terms.extractor.key_name(term.key);
                if !self.terms.contains_key(name) {
                    self.terms
                        .insert(name.to_string(), KeyHistory::new(corpus.published[d]));
                }
            }
        }
        // 3. attach leftovers at the lower threshold (existing and newborn topics)
        let newborn: Vec<u32> = (born_from as u32..self.topics.len() as u32).collect();
        let leftovers: Vec<usize> = window_docs
            .iter()
            .copied()
            .filter(|&d| self.assignment[d] == UNASSIGNED)
            .collect();
        let newborn_sims = similarities(corpus, &leftovers, &self.topics, &newborn, dims);
        for (row, &doc) in leftovers.iter().enumerate() {
            let mut choice = (f32::MIN, UNASSIGNED);
            let r = doc - docs.start;
            if best[r].0 > choice.0 {
                choice = best[r];
            }
            for (col, &topic) in newborn.iter().enumerate() {
                let s = newborn_sims[row * newborn.len() + col];
                if s > choice.0 {
                    choice = (s, topic);
                }
            }
            if choice.0 >= config.attach_threshold {
                self.assignment[doc] = choice.1;
            } else {
                self.pending.push(doc);
            }
        }
        // 4. move centroids
        let mut touched: Vec<u32> = Vec::new();
        let mut updates: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
        for doc in candidates
            .iter()
            .copied()
            .chain(window_docs.iter().copied())
        {
            let t = self.assignment[doc];
            if t != UNASSIGNED {
                let list = updates.entry(t).or_default();
                if !list.contains(&doc) {
                    list.push(doc);
                }
            }
        }
        for (&t, members) in &updates {
            self.absorb(corpus, t, members, key, config.centroid_decay);
            touched.push(t);
        }
        // 5. splits, then merges
        for (t, members) in updates {
            self.maybe_split(corpus, t, &members, key, config);
        }
        self.merge_close(key, &touched, config);
        // 6. what the store's history remembers: term and topic bursts
        self.record_history(corpus, terms, key, docs);
    }

    /// Counts this window's documents per term and per topic into their
    /// histories, and keeps each topic burst as an echo for the seasonal
    /// look-back.
    fn record_history(&mut self, corpus: &Corpus, terms: &DocTerms, key: i64, docs: Range<usize>) {
        let Some(&start) = corpus.published.get(docs.start) else {
            return;
        };
        for d in docs.clone() {
            let source = &corpus.sources[corpus.source[d] as usize];
            if !self.sources.contains_key(source) {
                self.sources.insert(source.clone(), key);
            }
        }
        // Documents of sources past their onboarding: the ones whose rises count.
        let established: Vec<usize> = docs
            .clone()
            .filter(|&d| {
                let source = &corpus.sources[corpus.source[d] as usize];
                self.sources
                    .get(source)
                    .is_some_and(|&first| key - first >= history::ONBOARDING_WINDOWS)
            })
            .collect();
        let mut all_docs: HashMap<u32, u32> = HashMap::new();
        for d in docs.clone() {
            for term in &terms.terms[d] {
                *all_docs.entry(term.key).or_insert(0) += 1;
            }
        }
        let mut counted: Vec<(u32, u32)> = all_docs.into_iter().collect();
        counted.sort_unstable();
        for (term, n) in counted {
            if let Some(h) = self.terms.get_mut(terms.extractor.key_name(term)) {
                h.add_docs(start, n);
            }
        }
        let mut per_term: HashMap<u32, u32> = HashMap::new();
        for &d in &established {
            for term in &terms.terms[d] {
                *per_term.entry(term.key).or_insert(0) += 1;
            }
        }
        let mut counted: Vec<(u32, u32)> = per_term.into_iter().collect();
        counted.sort_unstable();
        let cutoff = start - history::LOOK_BACK_SECONDS;
        let volume = established.len() as u32;
        let all = docs.len() as u32;
        if all > 0 {
            history::add_to_buckets(
                &mut self.volume_buckets,
                history::bucket_of(start),
                all,
                history::bucket_of(start - history::BUCKETS_BACK_SECONDS),
            );
            self.volume_windows.push((start, all));
            let old = self
                .volume_windows
                .partition_point(|&(t, _)| t < start - history::BUCKETS_BACK_SECONDS);
            self.volume_windows.drain(..old);
        }
        for (term, n) in counted {
            if let Some(h) = self.terms.get_mut(terms.extractor.key_name(term)) {
                if h.add_window(key, start, n, volume) {
                    h.prune(cutoff);
                }
            }
        }
        let mut per_topic: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
        for d in established {
            let t = self.assignment[d];
            if t != UNASSIGNED {
                per_topic.entry(self.resolve(t)).or_default().push(d);
            }
        }
        self.echoes.retain(|e| e.start >= cutoff);
        for (t, members) in per_topic {
            let topic = &mut self.topics[t as usize];
            if !topic
                .history
                .add_window(key, start, members.len() as u32, volume)
            {
                continue;
            }
            topic.history.prune(cutoff);
            let n = members.len() as f32;
            let mean = sum_of(corpus, &members)
                .into_iter()
                .map(|x| half::f16::from_f32(x / n))
                .collect();
            self.echoes.push(Echo {
                start,
                topic: t,
                docs: members.len() as u32,
                mean,
                words: shared_words(terms, &members, &self.terms, self.assignment.len()),
            });
        }
    }

    /// A new topic of `members` (born in window `key`).
    fn found(&mut self, corpus: &Corpus, members: &[usize], key: i64, name: Option<String>) {
        let id = self.topics.len() as u32;
        let mut sum = vec![0.0f32; corpus.dims];
        for &d in members {
            add(&mut sum, corpus.vector(d));
            self.assignment[d] = id;
        }
        let centroid = normalized(&sum);
        let novelty = 1.0
            - self
                .topics
                .iter()
                .filter(|t| t.merged_into.is_none())
                .map(|t| dot(&t.centroid, &centroid))
                .fold(0.0f32, f32::max);
        self.topics.push(Topic {
            id,
            sum: vec![0.0; corpus.dims],
            weight: 0.0,
            centroid,
            born: key,
            last: key,
            merged_into: None,
            parent: None,
            novelty,
            name,
            history: KeyHistory::new(corpus.published[members[0]]),
        });
        self.events.push(TopicEvent::Birth {
            window: key,
            topic: id,
        });
    }

    /// Unassigned `candidates` grouped by a term none of the documents
    /// before them had, largest groups first; each group has at least
    /// `min_topic_docs` documents, one of them in `window`, and a document
    /// is in one group at most.
    fn new_name_groups(
        &self,
        corpus: &Corpus,
        terms: &DocTerms,
        candidates: &[usize],
        window: &Range<usize>,
        config: &TopicsConfig,
    ) -> Vec<(String, Vec<usize>)> {
        let unassigned: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&d| self.assignment[d] == UNASSIGNED)
            .collect();
        // New: first seen no earlier than the earliest of these documents
        // (pending documents of the previous window registered theirs then).
        let Some(since) = unassigned.iter().map(|&d| corpus.published[d]).min() else {
            return Vec::new();
        };
        let mut by_term: HashMap<u32, Vec<usize>> = HashMap::new();
        for &d in &unassigned {
            for &n in &terms.doc_names[d] {
                let first = self.name_first.get(terms.names.name(n));
                if first.is_none_or(|&ts| ts >= since) {
                    by_term.entry(n).or_default().push(d);
                }
            }
        }
        let mut groups: Vec<(&str, Vec<usize>)> = by_term
            .into_iter()
            .filter(|(_, members)| members.len() >= config.min_topic_docs)
            .map(|(n, members)| (terms.names.name(n), members))
            .collect();
        groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
        let mut taken = std::collections::HashSet::new();
        let mut out = Vec::new();
        for (name, members) in groups {
            let free: Vec<usize> = members.into_iter().filter(|d| !taken.contains(d)).collect();
            if free.len() < config.min_topic_docs || !free.iter().any(|d| window.contains(d)) {
                continue;
            }
            taken.extend(free.iter().copied());
            out.push((name.to_string(), free));
        }
        out
    }

    fn absorb(&mut self, corpus: &Corpus, t: u32, members: &[usize], key: i64, decay: f32) {
        let topic = &mut self.topics[t as usize];
        let age = (key - topic.last).max(0) as i32;
        let factor = decay.powi(age);
        for x in topic.sum.iter_mut() {
            *x *= factor;
        }
        topic.weight *= factor;
        for &d in members {
            add(&mut topic.sum, corpus.vector(d));
        }
        topic.weight += members.len() as f32;
        topic.centroid = normalized(&topic.sum);
        topic.last = key;
    }

    fn maybe_split(
        &mut self,
        corpus: &Corpus,
        t: u32,
        members: &[usize],
        key: i64,
        config: &TopicsConfig,
    ) {
        if members.len() < 2 * config.min_topic_docs || self.topics[t as usize].born == key {
            return;
        }
        let previous = self.topics[t as usize].centroid.clone();
        // Seeds: the member closest to the topic and the one furthest from it.
        let by_sim: Vec<(f32, usize)> = members
            .iter()
            .map(|&d| (dot(corpus.vector(d), &previous), d))
            .collect();
        let near = by_sim
            .iter()
            .copied()
            .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)))
            .expect("members");
        let far = by_sim
            .iter()
            .copied()
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
            .expect("members");
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for &d in members {
            let v = corpus.vector(d);
            if dot(v, corpus.vector(near.1)) >= dot(v, corpus.vector(far.1)) {
                a.push(d)
            } else {
                b.push(d)
            }
        }
        if b.len() < config.min_topic_docs || a.len() < config.min_topic_docs {
            return;
        }
        let (sa, sb) = (sum_of(corpus, &a), sum_of(corpus, &b));
        if dot(&sa, &sb) / (a.len() * b.len()) as f32 >= config.split_threshold {
            return;
        }
        let (ca, cb) = (normalized(&sa), normalized(&sb));
        let id = self.topics.len() as u32;
        let mut sum = vec![0.0f32; corpus.dims];
        for &d in &b {
            add(&mut sum, corpus.vector(d));
            self.assignment[d] = id;
        }
        let parent = &mut self.topics[t as usize];
        for (s, x) in parent.sum.iter_mut().zip(&sum) {
            *s -= x;
        }
        parent.weight = (parent.weight - b.len() as f32).max(1.0);
        parent.centroid = normalized(&parent.sum);
        let novelty = 1.0 - dot(&cb, &ca).max(0.0);
        self.topics.push(Topic {
            id,
            centroid: normalized(&sum),
            sum,
            weight: b.len() as f32,
            born: key,
            last: key,
            merged_into: None,
            parent: Some(t),
            novelty,
            name: None,
            history: KeyHistory::new(corpus.published[b[0]]),
        });
        self.events.push(TopicEvent::Split {
            window: key,
            topic: id,
            from: t,
        });
    }

    fn merge_close(&mut self, key: i64, touched: &[u32], config: &TopicsConfig) {
        let mut pairs: Vec<(f32, u32, u32)> = Vec::new();
        let live: Vec<u32> = self
            .topics
            .iter()
            .filter(|t| t.merged_into.is_none() && key - t.last <= config.idle_windows)
            .map(|t| t.id)
            .collect();
        for &a in touched {
            for &b in &live {
                if a == b || (touched.contains(&b) && b < a) {
                    continue;
                }
                let (ta, tb) = (&self.topics[a as usize], &self.topics[b as usize]);
                let s = dot(&ta.sum, &tb.sum) / (ta.weight * tb.weight).max(1e-6);
                if s >= config.merge_threshold {
                    pairs.push((s, a.min(b), a.max(b)));
                }
            }
        }
        pairs.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
        for (_, older, younger) in pairs {
            let (older, younger) = (self.resolve(older), self.resolve(younger));
            if older == younger {
                continue;
            }
            let (keep, gone) = (older.min(younger), older.max(younger));
            let gone_sum = self.topics[gone as usize].sum.clone();
            let gone_weight = self.topics[gone as usize].weight;
            let gone_last = self.topics[gone as usize].last;
            let target = &mut self.topics[keep as usize];
            add(&mut target.sum, &gone_sum);
            target.weight += gone_weight;
            target.centroid = normalized(&target.sum);
            target.last = target.last.max(gone_last);
            self.topics[gone as usize].merged_into = Some(keep);
            self.events.push(TopicEvent::Merge {
                window: key,
                topic: gone,
                into: keep,
            });
        }
    }
}

/// Words (term keys of single words, phrases split into theirs) shared by
/// at least two and a third of `members`, the most distinctive first (their
/// count weighed by ln(documents / documents holding the word) over
/// `history`, the store so far), at most eight.
fn shared_words(
    terms: &DocTerms,
    members: &[usize],
    history: &HashMap<String, KeyHistory>,
    documents: usize,
) -> Vec<String> {
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for &d in members {
        let mut words: Vec<u32> = terms.terms[d]
            .iter()
            .flat_map(|t| terms.extractor.key_words(t.key))
            .collect();
        words.sort_unstable();
        words.dedup();
        for w in words {
            *counts.entry(w).or_insert(0) += 1;
        }
    }
    let floor = 2.max(members.len().div_ceil(3));
    let mut shared: Vec<(f64, &str)> = counts
        .into_iter()
        .filter(|&(_, n)| n >= floor)
        .map(|(w, n)| {
            let name = terms.extractor.key_name(w);
            let df = history.get(name).map_or(1, |h| h.docs.max(1)) as f64;
            (
                n as f64 * (documents.max(1) as f64 / df).ln().max(0.0),
                name,
            )
        })
        .collect();
    shared.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    shared
        .into_iter()
        .take(8)
        .map(|(_, w)| w.to_string())
        .collect()
}

/// Runs the clustering over every window of `corpus`, up to the end.
pub fn cluster(
    corpus: &Corpus,
    terms: &DocTerms,
    window: Window,
    config: &TopicsConfig,
) -> TopicState {
    let mut state = TopicState::default();
    for (key, range) in corpus.windows(window) {
        state.process_window(corpus, terms, key, range, config);
    }
    state
}

/// Mean cosine of each document to each topic's (decay-weighted) documents,
/// x . sum / weight, row-major (docs x topics). Unlike the cosine to the
/// centroid, it does not grow as a topic gets smaller, so one threshold
/// serves topics of 3 and of 300 documents.
fn similarities(
    corpus: &Corpus,
    docs: &[usize],
    topics: &[Topic],
    which: &[u32],
    dims: usize,
) -> Vec<f32> {
    if docs.is_empty() || which.is_empty() {
        return Vec::new();
    }
    let mut a = Vec::with_capacity(docs.len() * dims);
    for &d in docs {
        a.extend_from_slice(corpus.vector(d));
    }
    let mut b = Vec::with_capacity(which.len() * dims);
    for &t in which {
        let topic = &topics[t as usize];
        let w = topic.weight.max(1e-6);
        b.extend(topic.sum.iter().map(|x| x / w));
    }
    matmul_nt(&a, docs.len(), &b, which.len(), dims)
}

/// `a (n x d) * b (m x d)^T`, row-major. candle's gemm: the hot loop of clustering.
pub fn matmul_nt(a: &[f32], n: usize, b: &[f32], m: usize, d: usize) -> Vec<f32> {
    use candle_core::{Device, Tensor};
    let run = || -> candle_core::Result<Vec<f32>> {
        let ta = Tensor::from_slice(a, (n, d), &Device::Cpu)?;
        let tb = Tensor::from_slice(b, (m, d), &Device::Cpu)?;
        ta.matmul(&tb.t()?)?.flatten_all()?.to_vec1::<f32>()
    };
    run().unwrap_or_else(|_| {
        let mut out = vec![0.0; n * m];
        for i in 0..n {
            for j in 0..m {
                out[i * m + j] = dot(&a[i * d..(i + 1) * d], &b[j * d..(j + 1) * d]);
            }
        }
        out
    })
}

/// Greedy clustering in input order: each document joins the cluster whose
/// members it is most similar to on average, if that reaches `threshold`,
/// else starts one. Similarities come from one matrix product.
fn leader_clusters(corpus: &Corpus, docs: &[usize], threshold: f32) -> Vec<Vec<usize>> {
    let n = docs.len();
    if n == 0 {
        return Vec::new();
    }
    let dims = corpus.dims;
    let mut flat = Vec::with_capacity(n * dims);
    for &d in docs {
        flat.extend_from_slice(corpus.vector(d));
    }
    let sims = matmul_nt(&flat, n, &flat, n, dims);
    let mut clusters: Vec<Vec<usize>> = Vec::new();
    for i in 0..n {
        let row = &sims[i * n..(i + 1) * n];
        let mut choice: Option<(f32, usize)> = None;
        for (c, members) in clusters.iter().enumerate() {
            let s: f32 = members.iter().map(|&m| row[m]).sum::<f32>() / members.len() as f32;
            if s >= threshold && choice.is_none_or(|(b, _)| s > b) {
                choice = Some((s, c));
            }
        }
        match choice {
            Some((_, c)) => clusters[c].push(i),
            None => clusters.push(vec![i]),
        }
    }
    clusters
        .into_iter()
        .map(|members| members.into_iter().map(|i| docs[i]).collect())
        .collect()
}

pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn add(sum: &mut [f32], v: &[f32]) {
    for (s, x) in sum.iter_mut().zip(v) {
        *s += x;
    }
}

fn sum_of(corpus: &Corpus, docs: &[usize]) -> Vec<f32> {
    let mut sum = vec![0.0; corpus.dims];
    for &d in docs {
        add(&mut sum, corpus.vector(d));
    }
    sum
}

pub(crate) fn normalized(v: &[f32]) -> Vec<f32> {
    let norm = dot(v, v).sqrt();
    if norm == 0.0 {
        return v.to_vec();
    }
    v.iter().map(|x| x / norm).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A corpus of unit vectors around a few directions, one document per hour.
    fn snowball() -> std::sync::Arc<crate::morph::Morphology> {
        std::sync::Arc::new(crate::morph::Morphology::snowball())
    }

    fn synthetic(groups: &[(usize, usize, i64)]) -> Corpus {
        // (direction, count, first day)
        let dims = 8;
        let mut c = Corpus {
            dims,
            sources: vec!["s".into()],
            ..Default::default()
        };
        let mut rows: Vec<(i64, usize, usize)> = Vec::new();
        for (g, &(dir, count, day)) in groups.iter().enumerate() {
            for i in 0..count {
                rows.push((day * 86_400 + i as i64 * 3_600, dir, g * 1000 + i));
            }
        }
        rows.sort();
        for (ts, dir, n) in rows {
            let mut v = vec![0.05f32; dims];
            v[dir] = 1.0;
            v[(dir + 1) % dims] += 0.01 * (n % 7) as f32;
            c.vectors.extend(normalized(&v));
            c.ids.push(format!("d{n:05}"));
            c.published.push(ts);
            c.source.push(0);
            c.titles.push(format!("t{n}"));
            c.leads.push(String::new());
            c.urls.push(None);
            c.langs.push("en".into());
        }
        c
    }

    #[test]
    fn topics_continue_across_windows_and_new_ones_are_born() {
        let corpus = synthetic(&[(0, 5, 0), (0, 5, 7), (1, 3, 7), (2, 1, 7)]);
        let config = TopicsConfig {
            join_threshold: 0.9,
            new_topic_threshold: 0.9,
            attach_threshold: 0.9,
            ..Default::default()
        };
        let state = cluster(
            &corpus,
            &DocTerms::extract(&corpus, &snowball()),
            Window::Week,
            &config,
        );
        let a = state.resolved_assignment();
        let first_week: Vec<u32> = a[..5].to_vec();
        assert!(first_week.iter().all(|&t| t == 0), "{a:?}");
        // direction 0 in week 2 keeps topic 0; direction 1 is a new topic; the lone doc is an outlier
        let by_title = |t: &str| a[corpus.titles.iter().position(|x| x == t).unwrap()];
        assert_eq!(by_title("t1000"), 0);
        assert_eq!(by_title("t2000"), 1);
        assert_eq!(by_title("t3000"), UNASSIGNED);
        assert_eq!(
            state.events,
            vec![
                TopicEvent::Birth {
                    window: Window::Week.key(0),
                    topic: 0
                },
                TopicEvent::Birth {
                    window: Window::Week.key(7 * 86_400),
                    topic: 1
                },
            ]
        );
        // deterministic
        let again = cluster(
            &corpus,
            &DocTerms::extract(&corpus, &snowball()),
            Window::Week,
            &config,
        );
        assert_eq!(again.resolved_assignment(), a);
    }

    #[test]
    fn a_new_name_shared_by_loosely_similar_documents_founds_a_topic() {
        // Three documents with pairwise cosine 0.845: below new_topic_threshold
        // (0.86), above attach_threshold (0.84).
        let corpus_with = |titles: [&str; 3]| {
            let dims = 8;
            let mut c = Corpus {
                dims,
                sources: vec!["s".into()],
                ..Default::default()
            };
            for (i, title) in titles.iter().enumerate() {
                let mut v = vec![0.0f32; dims];
                v[0] = 0.845f32.sqrt();
                v[i + 1] = 0.155f32.sqrt();
                c.vectors.extend(v);
                c.ids.push(format!("d{i}"));
                c.published.push(i as i64 * 3_600);
                c.source.push(0);
                c.titles.push(title.to_string());
                c.leads.push(String::new());
                c.urls.push(None);
                c.langs.push("en".into());
            }
            c
        };
        let config = TopicsConfig::default();
        let named = corpus_with([
            "Tropical depression #MaringPH issued",
            "Huling namataan ang TD #MaringPH",
            "MaringPH moving east southeast",
        ]);
        let state = cluster(
            &named,
            &DocTerms::extract(&named, &snowball()),
            Window::Week,
            &config,
        );
        assert_eq!(state.resolved_assignment(), vec![0, 0, 0]);
        assert_eq!(state.topics[0].name.as_deref(), Some("maringph"));
        let unnamed = corpus_with([
            "Tropical depression issued",
            "Huling namataan ang TD",
            "Moving east southeast",
        ]);
        let state = cluster(
            &unnamed,
            &DocTerms::extract(&unnamed, &snowball()),
            Window::Week,
            &config,
        );
        assert_eq!(state.resolved_assignment(), vec![UNASSIGNED; 3]);
    }

    #[test]
    fn two_documents_are_not_a_topic_but_may_become_one() {
        // two docs in week 0, one more in week 1: the leftovers found the topic together
        let corpus = synthetic(&[(3, 2, 6), (3, 1, 7)]);
        let config = TopicsConfig {
            join_threshold: 0.9,
            new_topic_threshold: 0.9,
            attach_threshold: 0.9,
            ..Default::default()
        };
        let state = cluster(
            &corpus,
            &DocTerms::extract(&corpus, &snowball()),
            Window::Week,
            &config,
        );
        assert_eq!(state.resolved_assignment(), vec![0, 0, 0]);
    }

    #[test]
    fn close_topics_merge_into_the_older() {
        // Two tight groups at cosine 0.707 to each other: two topics are born
        // (new_topic_threshold 0.95), then merge (merge_threshold 0.6).
        let mut corpus = synthetic(&[(0, 3, 0), (1, 3, 0)]);
        let b = normalized(&[1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        let a = normalized(&[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        for d in 0..corpus.len() {
            let v = if corpus.ids[d].starts_with("d01") {
                &b
            } else {
                &a
            };
            corpus.vectors[d * 8..(d + 1) * 8].copy_from_slice(v);
        }
        let config = TopicsConfig {
            join_threshold: 0.95,
            new_topic_threshold: 0.95,
            attach_threshold: 0.95,
            merge_threshold: 0.6,
            ..Default::default()
        };
        let state = cluster(
            &corpus,
            &DocTerms::extract(&corpus, &snowball()),
            Window::Week,
            &config,
        );
        let births = state
            .events
            .iter()
            .filter(|e| matches!(e, TopicEvent::Birth { .. }))
            .count();
        assert_eq!(births, 2, "{:?}", state.events);
        assert!(
            state.events.iter().any(|e| matches!(
                e,
                TopicEvent::Merge {
                    topic: 1,
                    into: 0,
                    ..
                }
            )),
            "{:?}",
            state.events
        );
        assert!(state.resolved_assignment().iter().all(|&t| t == 0));
        // with a strict merge threshold they stay apart
        let strict = TopicsConfig {
            merge_threshold: 0.9,
            ..config
        };
        let apart = cluster(
            &corpus,
            &DocTerms::extract(&corpus, &snowball()),
            Window::Week,
            &strict,
        );
        assert_eq!(
            apart
                .topics
                .iter()
                .filter(|t| t.merged_into.is_none())
                .count(),
            2
        );
    }

    #[test]
    fn week_keys_start_on_monday() {
        let monday = 1_577_664_000; // 2019-12-30 00:00 UTC, a Monday
        assert_eq!(
            Window::Week.key(monday),
            Window::Week.key(monday + 6 * 86_400 + 86_399)
        );
        assert_ne!(Window::Week.key(monday), Window::Week.key(monday - 1));
        assert_eq!(Window::Month.key(monday), 2019 * 12 + 11);
    }
}
