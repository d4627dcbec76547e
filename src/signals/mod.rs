//! Signals: topics and terms classified as `weak`, `emerging`, `strong`,
//! `fading` or `noise`, each with the numbers behind its class.
//!
//! An analysis is always *as of* a time: only documents published up to it
//! exist, topics are those the clustering had found by then, and trends use
//! trailing windows that end at it. So a run for a past date gives exactly
//! what a run on that date would have given ([`backtest`] relies on it).
//!
//! Two detectors run side by side. Topic-level signals come from the
//! embedding clusters ([`crate::topics`]); term-level signals from keyword
//! growth (the baseline, strong on news). A topic signal whose keywords
//! include a flagged term says it was found by both; a term signal that no
//! topic explains is listed on its own, marked as found by terms only.

pub mod backtest;
pub mod bench;
pub mod view;

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::config::{SignalsConfig, TopicsConfig, Window};
use crate::error::Result;
pub use crate::terms::DocTerms;
use crate::topics::labels::{self, TopicLabel};
use crate::topics::{Corpus, TopicEvent, TopicState, UNASSIGNED};
use crate::trends::{self, Occurrence, Trend};

/// The class of a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Low visibility, high growth or new.
    Weak,
    /// Growth sustained over two windows, visibility rising.
    Emerging,
    /// High visibility and growth.
    Strong,
    /// Visibility falling.
    Fading,
    /// Growing, but too few documents or too little surprise to trust.
    Noise,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Weak => "weak",
            Class::Emerging => "emerging",
            Class::Strong => "strong",
            Class::Fading => "fading",
            Class::Noise => "noise",
        }
    }
}

/// Which detector produced a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Topic,
    Term,
}

/// One window of a timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelinePoint {
    /// Start of the trailing window (RFC 3339).
    pub start: String,
    pub docs: u32,
}

/// A document shown as evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Example {
    pub id: String,
    pub published: String,
    pub source: String,
    pub title: String,
    pub url: Option<String>,
}

/// A flagged topic or term.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signal {
    /// `topic-<n>` or `term-<word>`.
    pub id: String,
    pub level: Level,
    /// `["topic"]`, `["term"]` or both.
    pub found_by: Vec<Level>,
    pub class: Class,
    pub label: String,
    pub keywords: Vec<String>,
    /// Ranking score (higher first): the Poisson burst, weighted by novelty for topics.
    pub score: f64,
    /// Smoothed recent rate over baseline rate.
    pub growth: f64,
    pub acceleration: f64,
    /// Share of all documents in the recent windows.
    pub visibility: f64,
    pub visibility_baseline: f64,
    /// Share of the sources active in the recent windows that carried it.
    pub diffusion: f64,
    /// Documents in the recent windows, and up to the as-of time in all.
    pub recent_docs: u32,
    pub docs: u32,
    /// Distinct sources in the recent windows.
    pub sources: u32,
    pub burst: f64,
    /// Topics: 1 - cosine to the closest older topic at birth. Terms: 1 if first seen recently.
    pub novelty: f64,
    pub first_seen: String,
    /// Yoon (2012) degree of visibility / diffusion and their growth.
    pub dov: f64,
    pub dod: f64,
    pub dov_growth: f64,
    pub dod_growth: f64,
    /// The rule that gave the class, with its numbers.
    pub why: String,
    pub timeline: Vec<TimelinePoint>,
    pub examples: Vec<Example>,
    /// Term signals: the recent documents holding the term.
    #[serde(skip)]
    pub members: Vec<usize>,
}

/// A topic as `weaksignal topics` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicSummary {
    pub id: u32,
    pub label: String,
    pub keywords: Vec<String>,
    pub docs: u32,
    pub recent_docs: u32,
    pub first_seen: String,
    pub last_seen: String,
    pub parent: Option<u32>,
    /// Topics merged into this one.
    pub merged: Vec<u32>,
    pub timeline: Vec<TimelinePoint>,
    pub examples: Vec<Example>,
}

/// Clustering quality figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TopicFigures {
    pub documents: usize,
    pub topics: usize,
    /// Share of documents in no topic.
    pub outlier_share: f64,
    /// Mean cosine of assigned documents of the history windows to their topic's documents...
    pub coherence: f64,
    /// ...and, for comparison, of unrelated document pairs of the history windows (a fixed sample).
    pub random_pair_similarity: f64,
    pub births: usize,
    pub merges: usize,
    pub splits: usize,
}

/// Everything an as-of analysis found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalReport {
    pub as_of: String,
    pub window: Window,
    pub figures: TopicFigures,
    pub signals: Vec<Signal>,
    /// Every term-level signal, also those a topic signal absorbed: what the
    /// term detector alone would have said (backtests compare the two).
    #[serde(skip)]
    pub term_signals: Vec<Signal>,
}

/// What an analysis needs of the documents before its corpus: a run from a
/// checkpoint loads only the trailing history. Empty when the corpus starts
/// with the first document.
#[derive(Debug, Clone, Default)]
pub struct Before {
    pub docs: usize,
    pub assigned: usize,
    /// Per live topic: its documents before the corpus and the first one's publication time.
    pub topics: HashMap<u32, (u32, i64)>,
    /// First publication time of each term (by stem), over at least the documents before the corpus.
    pub term_first: HashMap<String, i64>,
}

/// Inputs of one as-of analysis.
pub struct Analysis<'a> {
    pub corpus: &'a Corpus,
    pub before: &'a Before,
    pub terms: &'a DocTerms,
    /// Topics after every document up to `docs` (exclusive) was processed.
    pub state: &'a TopicState,
    pub docs: usize,
    /// End of the as-of day, unix seconds (inclusive).
    pub as_of: i64,
    pub window: Window,
    pub topics_config: &'a TopicsConfig,
    pub config: &'a SignalsConfig,
}

struct Window0 {
    /// Trailing window of each document up to `docs` (u32::MAX beyond history).
    back: Vec<u32>,
    totals: Vec<u32>,
}

impl<'a> Analysis<'a> {
    fn windows(&self) -> Window0 {
        let len = self.window.seconds();
        let history = self.config.history();
        let mut totals = vec![0u32; history];
        let back: Vec<u32> = self.corpus.published[..self.docs]
            .iter()
            .map(|&ts| {
                let b = (self.as_of - ts).max(0) / len;
                if (b as usize) < history {
                    totals[b as usize] += 1;
                    b as u32
                } else {
                    u32::MAX
                }
            })
            .collect();
        Window0 { back, totals }
    }

    /// Sources other than its own that carried document `d`.
    fn carriers(&self, d: usize) -> impl Iterator<Item = u32> + '_ {
        self.corpus.carriers.get(&d).into_iter().flatten().copied()
    }

    /// Document `d` under `key`, and a diffusion-only row per other carrier.
    fn occurrences(&self, d: usize, key: u32, back: u32) -> impl Iterator<Item = Occurrence> + '_ {
        let own = Occurrence {
            key,
            back,
            source: self.corpus.source[d],
            tf: 1,
        };
        std::iter::once(own).chain(self.carriers(d).map(move |source| Occurrence {
            key,
            back,
            source,
            tf: 0,
        }))
    }

    fn timeline(&self, counts: &[u32]) -> Vec<TimelinePoint> {
        let n = counts.len() as i64;
        counts
            .iter()
            .enumerate()
            .map(|(i, &docs)| TimelinePoint {
                start: rfc3339(self.as_of + 1 - (n - i as i64) * self.window.seconds()),
                docs,
            })
            .collect()
    }

    fn example(&self, d: usize) -> Example {
        let c = self.corpus;
        Example {
            id: c.ids[d].clone(),
            published: rfc3339(c.published[d]),
            source: c.sources[c.source[d] as usize].clone(),
            title: one_line(&c.titles[d]),
            url: c.urls[d].clone(),
        }
    }

    /// Topic figures, signals and per-topic summaries.
    pub fn run(&self) -> Result<(SignalReport, Vec<TopicSummary>)> {
        let cfg = self.config;
        let corpus = self.corpus;
        let recent = cfg.recent_windows.max(1) as u32;
        let w = self.windows();
        let assignment = self.state.resolved_assignment();
        let assignment = &assignment[..self.docs];

        // per topic: members (all, and within history), first/last publication
        let mut members: HashMap<u32, Vec<usize>> = HashMap::new();
        for (d, &t) in assignment.iter().enumerate() {
            if t != UNASSIGNED {
                members.entry(t).or_default().push(d);
            }
        }
        let topics_with_documents = members
            .keys()
            .chain(self.before.topics.keys())
            .collect::<HashSet<_>>()
            .len();
        let figures = self.figures(assignment, &w, topics_with_documents);

        let active_sources: HashSet<u32> = (0..self.docs)
            .filter(|&d| w.back[d] < recent)
            .flat_map(|d| std::iter::once(corpus.source[d]).chain(self.carriers(d)))
            .collect();
        let network = active_sources.len().max(1) as f64;

        // topic trends
        let topic_occ: Vec<Occurrence> = (0..self.docs)
            .filter(|&d| assignment[d] != UNASSIGNED && w.back[d] != u32::MAX)
            .flat_map(|d| self.occurrences(d, assignment[d], w.back[d]))
            .collect();
        let topic_trends = trends::compute(&topic_occ, &w.totals, cfg)?;
        let in_history = |d: &usize| w.back[*d] != u32::MAX;
        let background =
            labels::document_frequencies(&self.terms.terms, (0..self.docs).filter(in_history));
        let background_docs = w.totals.iter().map(|&t| t as f64).sum::<f64>();

        let mut term_signals = self.term_signals(&w, network)?;
        term_signals.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        let mut signals = Vec::new();
        let mut summaries = Vec::new();
        for trend in &topic_trends {
            let all = &members[&trend.key];
            let earlier = self.before.topics.get(&trend.key);
            let first = earlier.map_or(corpus.published[all[0]], |e| {
                e.1.min(corpus.published[all[0]])
            });
            let total_docs = all.len() as u32 + earlier.map_or(0, |e| e.0);
            let age = ((self.as_of - first) / self.window.seconds()) as usize + 1;
            let is_new = age <= recent as usize;
            let topic = &self.state.topics[trend.key as usize];
            let novelty = topic.novelty as f64;
            let recent_members: Vec<usize> = all
                .iter()
                .copied()
                .filter(|&d| w.back[d] < recent)
                .collect();
            let history_members: Vec<usize> = all.iter().copied().filter(in_history).collect();
            let label_of = |members: &[usize]| -> TopicLabel {
                labels::label(
                    corpus,
                    &self.terms.extractor,
                    &self.terms.terms,
                    &background,
                    background_docs,
                    members,
                    cfg.examples,
                )
            };
            let mut class = classify(trend, age, is_new, cfg);
            let mut promoted: Option<(f64, String)> = None;
            if class.as_ref().is_none_or(|(c, _)| *c == Class::Noise) {
                if let Some((term, carried)) = carried_term(&term_signals, &recent_members) {
                    class = Some((
                        term.class,
                        format!(
                            "{}: a {} term grows inside it: '{}' is in {carried} of its {} recent documents ({})",
                            term.class.name(),
                            term.class.name(),
                            term.label,
                            recent_members.len(),
                            term.why
                        ),
                    ));
                    promoted = Some((term.score, term.label.clone()));
                }
            }
            let label = label_of(&history_members);
            summaries.push(TopicSummary {
                id: trend.key,
                label: label.label.clone(),
                keywords: label.keywords.clone(),
                docs: total_docs,
                recent_docs: trend.recent_docs,
                first_seen: rfc3339(first),
                last_seen: rfc3339(corpus.published[*all.last().expect("member")]),
                parent: topic.parent,
                merged: self
                    .state
                    .events
                    .iter()
                    .filter_map(|e| match e {
                        TopicEvent::Merge { topic, into, .. }
                            if self.state.resolve(*into) == trend.key =>
                        {
                            Some(*topic)
                        }
                        _ => None,
                    })
                    .collect(),
                timeline: self.timeline(&trend.timeline),
                examples: label.examples.iter().map(|&d| self.example(d)).collect(),
            });
            let Some((class, why)) = class else {
                continue;
            };
            // A signal is about what the topic says now: label and evidence
            // from the recent documents when there are enough of them.
            let mut label = match label_of(&recent_members) {
                recent if recent_members.len() >= cfg.min_docs && !recent.keywords.is_empty() => {
                    recent
                }
                _ => label,
            };
            if let Some((_, term)) = &promoted {
                // The growing term is what the signal is about: it leads the label.
                label.keywords.retain(|k| k != term);
                label.keywords.insert(0, term.clone());
                label.keywords.truncate(labels::KEYWORDS);
                label.label = label
                    .keywords
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ");
            }
            let evidence = label.examples.clone();
            signals.push(Signal {
                id: format!("topic-{}", trend.key),
                level: Level::Topic,
                found_by: vec![Level::Topic],
                class,
                label: label.label,
                keywords: label.keywords,
                score: promoted
                    .as_ref()
                    .map_or_else(|| score(class, trend, novelty, cfg), |p| p.0),
                growth: trend.growth,
                acceleration: trend.acceleration,
                visibility: trend.visibility,
                visibility_baseline: trend.visibility_baseline,
                diffusion: trend.sources_recent as f64 / network,
                recent_docs: trend.recent_docs,
                docs: total_docs,
                sources: trend.sources_recent,
                burst: trend.burst,
                novelty,
                first_seen: rfc3339(first),
                dov: trend.dov,
                dod: trend.dod,
                dov_growth: trend.dov_growth,
                dod_growth: trend.dod_growth,
                why,
                timeline: self.timeline(&trend.timeline),
                examples: evidence.iter().map(|&d| self.example(d)).collect(),
                members: Vec::new(),
            });
        }
        merge_levels(&mut signals, term_signals.clone());
        signals.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        summaries.sort_by(|a, b| b.recent_docs.cmp(&a.recent_docs).then(a.id.cmp(&b.id)));
        Ok((
            SignalReport {
                as_of: rfc3339(self.as_of),
                window: self.window,
                figures,
                signals,
                term_signals,
            },
            summaries,
        ))
    }

    /// Outliers over every document; coherence over those of the history
    /// windows (the topics as they are now, and what a checkpointed run loads).
    fn figures(&self, assignment: &[u32], w: &Window0, topics: usize) -> TopicFigures {
        let history: Vec<usize> = (0..assignment.len())
            .filter(|&d| w.back[d] != u32::MAX)
            .collect();
        let assigned: Vec<usize> = history
            .iter()
            .copied()
            .filter(|&d| assignment[d] != UNASSIGNED)
            .collect();
        let all_assigned =
            self.before.assigned + assignment.iter().filter(|&&t| t != UNASSIGNED).count();
        let all_docs = self.before.docs + assignment.len();
        let coherence = if assigned.is_empty() {
            0.0
        } else {
            assigned
                .iter()
                .map(|&d| {
                    self.state.topics[assignment[d] as usize].mean_similarity(self.corpus.vector(d))
                        as f64
                })
                .sum::<f64>()
                / assigned.len() as f64
        };
        let n = history.len();
        let pairs = n.min(5_000);
        let random_pair_similarity = if n < 2 {
            0.0
        } else {
            (0..pairs)
                .map(|i| {
                    let a = (i * 7_919 + 13) % n;
                    let b = (i * 104_729 + 71) % n;
                    let b = if a == b { (b + 1) % n } else { b };
                    let (a, b) = (history[a], history[b]);
                    crate::topics::dot(self.corpus.vector(a), self.corpus.vector(b)) as f64
                })
                .sum::<f64>()
                / pairs as f64
        };
        let count = |f: fn(&TopicEvent) -> bool| self.state.events.iter().filter(|e| f(e)).count();
        TopicFigures {
            documents: all_docs,
            topics,
            outlier_share: if all_docs == 0 {
                0.0
            } else {
                1.0 - all_assigned as f64 / all_docs as f64
            },
            coherence,
            random_pair_similarity,
            births: count(|e| matches!(e, TopicEvent::Birth { .. })),
            merges: count(|e| matches!(e, TopicEvent::Merge { .. })),
            splits: count(|e| matches!(e, TopicEvent::Split { .. })),
        }
    }

    fn term_signals(&self, w: &Window0, network: f64) -> Result<Vec<Signal>> {
        let cfg = self.config;
        let recent = cfg.recent_windows.max(1) as u32;
        let terms = &self.terms.terms;
        // first publication of each term, over everything up to the as-of time
        let mut first: HashMap<u32, i64> = HashMap::new();
        let mut history_docs: HashMap<u32, u32> = HashMap::new();
        for (d, doc_terms) in terms.iter().enumerate().take(self.docs) {
            for t in doc_terms {
                first.entry(t.stem).or_insert(self.corpus.published[d]);
                if w.back[d] != u32::MAX {
                    *history_docs.entry(t.stem).or_insert(0) += 1;
                }
            }
        }
        let mut occ = Vec::new();
        for (d, doc_terms) in terms.iter().enumerate().take(self.docs) {
            if w.back[d] == u32::MAX {
                continue;
            }
            for t in doc_terms {
                if history_docs[&t.stem] as usize >= cfg.term_min_docs {
                    occ.extend(self.occurrences(d, t.stem, w.back[d]));
                }
            }
        }
        let trends = trends::compute(&occ, &w.totals, cfg)?;
        let mut out = Vec::new();
        for trend in &trends {
            let own = first[&trend.key];
            let stem = self.terms.extractor.stem(trend.key);
            let first_ts = self
                .before
                .term_first
                .get(stem)
                .map_or(own, |&e| e.min(own));
            let age = ((self.as_of - first_ts) / self.window.seconds()) as usize + 1;
            let is_new = age <= recent as usize;
            let Some((class, why)) = classify(trend, age, is_new, cfg) else {
                continue;
            };
            let has = |d: &usize| terms[*d].iter().any(|t| t.stem == trend.key);
            let mut evidence: Vec<usize> = (0..self.docs)
                .filter(|&d| w.back[d] < recent)
                .filter(has)
                .collect();
            if evidence.is_empty() {
                // fading: show the documents it faded from
                evidence = (0..self.docs)
                    .filter(|&d| w.back[d] != u32::MAX)
                    .filter(has)
                    .collect();
            }
            let display = self
                .terms
                .extractor
                .display(evidence.iter().flat_map(|&d| {
                    terms[d]
                        .iter()
                        .filter(|t| t.stem == trend.key)
                        .map(|t| t.surface)
                }))
                .to_string();
            let novelty = if is_new { 1.0 } else { 0.0 };
            let examples = labels::representative(self.corpus, &evidence, cfg.examples);
            out.push(Signal {
                id: format!("term-{display}"),
                level: Level::Term,
                found_by: vec![Level::Term],
                class,
                label: display.clone(),
                keywords: vec![display],
                score: score(class, trend, 0.0, cfg),
                growth: trend.growth,
                acceleration: trend.acceleration,
                visibility: trend.visibility,
                visibility_baseline: trend.visibility_baseline,
                diffusion: trend.sources_recent as f64 / network,
                recent_docs: trend.recent_docs,
                docs: history_docs[&trend.key],
                sources: trend.sources_recent,
                burst: trend.burst,
                novelty,
                first_seen: rfc3339(first_ts),
                dov: trend.dov,
                dod: trend.dod,
                dov_growth: trend.dov_growth,
                dod_growth: trend.dod_growth,
                why,
                timeline: self.timeline(&trend.timeline),
                examples: examples.iter().map(|&d| self.example(d)).collect(),
                members: evidence,
            });
        }
        Ok(out)
    }
}

/// The strongest rising term signal (weak or emerging) whose recent
/// documents sit mostly (at least half, and two) in this topic and make up at least half of the
/// topic's recent documents: a new theme growing inside an established topic
/// (early COVID-19 headlines joined a "markets fear China" topic), which the
/// topic's own count shows only later. Returns it with the shared count.
fn carried_term<'s>(terms: &'s [Signal], recent_members: &[usize]) -> Option<(&'s Signal, usize)> {
    if recent_members.len() < 2 {
        return None;
    }
    terms
        .iter()
        .filter(|t| matches!(t.class, Class::Weak | Class::Emerging))
        .filter_map(|t| {
            let shared = t
                .members
                .iter()
                .filter(|d| recent_members.binary_search(d).is_ok())
                .count();
            // The term itself passed `min_docs`; most of it must be here.
            let enough =
                shared >= 2 && shared * 2 >= t.members.len() && shared * 2 >= recent_members.len();
            enough.then_some((t, shared))
        })
        .max_by(|a, b| {
            a.0.score
                .total_cmp(&b.0.score)
                .then_with(|| b.0.id.cmp(&a.0.id))
        })
}

/// Topic signals whose keywords include a flagged term of the same kind
/// (rising: weak, emerging, strong; or fading) absorb it; the rest of the
/// term signals stay as found by terms only.
fn merge_levels(signals: &mut Vec<Signal>, terms: Vec<Signal>) {
    let rising = |c: Class| matches!(c, Class::Weak | Class::Emerging | Class::Strong);
    let mut rest = Vec::new();
    for term in terms {
        let mut absorbed = false;
        for topic in signals.iter_mut().filter(|s| s.level == Level::Topic) {
            let same_kind = rising(topic.class) == rising(term.class)
                && (topic.class == Class::Noise) == (term.class == Class::Noise);
            if same_kind && topic.keywords.iter().any(|k| k == &term.label) {
                if !topic.found_by.contains(&Level::Term) {
                    topic.found_by.push(Level::Term);
                }
                absorbed = true;
            }
        }
        if !absorbed {
            rest.push(term);
        }
    }
    signals.extend(rest);
}

/// The class of a trend, with the rule and numbers that gave it, or `None`
/// for a steady topic.
pub fn classify(
    t: &Trend,
    age_windows: usize,
    is_new: bool,
    cfg: &SignalsConfig,
) -> Option<(Class, String)> {
    let pct = |x: f64| format!("{:.1}%", x * 100.0);
    let numbers = format!(
        "{} recent docs, baseline {:.2}/window, growth {:.2}x (previous {:.2}x), visibility {} (baseline {}), burst {:.1}",
        t.recent_docs,
        t.baseline_rate,
        t.growth,
        t.growth_prev,
        pct(t.visibility),
        pct(t.visibility_baseline),
        t.burst
    );
    let min_docs = cfg.min_docs as u32;
    if t.visibility >= cfg.strong_visibility
        && t.growth.max(t.growth_long) >= cfg.strong_growth
        && age_windows >= cfg.strong_min_age
        && t.recent_docs as usize >= cfg.strong_min_docs.max(cfg.min_docs)
        && t.baseline_rate >= cfg.strong_min_baseline
    {
        let why = format!(
            "strong: visibility >= {}, growth >= {:.2}x (recent or over the history: {:.2}x) and >= {} recent docs, active {age_windows} windows with a baseline >= {:.1} docs/window; {numbers}",
            pct(cfg.strong_visibility),
            cfg.strong_growth,
            t.growth_long,
            cfg.strong_min_docs,
            cfg.strong_min_baseline
        );
        return Some((Class::Strong, why));
    }
    let baseline_docs = t.baseline_rate * cfg.baseline_windows as f64;
    if t.growth <= cfg.fading_growth
        && baseline_docs >= cfg.min_docs as f64
        && t.baseline_rate >= 1.0
    {
        let why = format!(
            "fading: growth <= {:.2}x from a baseline of {:.1} docs/window; {numbers}",
            cfg.fading_growth, t.baseline_rate
        );
        return Some((Class::Fading, why));
    }
    let growing = t.growth >= cfg.weak_growth || is_new;
    let sustained = t.growth >= cfg.emerging_growth && t.growth_prev >= cfg.emerging_growth;
    if !growing && !sustained {
        return None;
    }
    if t.recent_docs < min_docs || t.burst < cfg.min_burst {
        let why = format!(
            "noise: growing but fewer than {min_docs} recent docs or burst below {:.1}; {numbers}",
            cfg.min_burst
        );
        return Some((Class::Noise, why));
    }
    let quiet = t.baseline_rate < cfg.strong_min_baseline;
    // A handful of documents is a weak signal whatever its share: in a thin
    // window (a small corpus, a quiet day) three documents can be 10%.
    let thin = (t.recent_docs as usize) < cfg.strong_min_docs;
    if growing
        && !thin
        && t.visibility >= cfg.strong_visibility
        && (age_windows < cfg.strong_min_age || quiet)
    {
        // Sudden: new or fast-growing and already highly visible (a crisis),
        // or a quiet topic erupting (a new event of a known kind).
        let when = if age_windows < cfg.strong_min_age {
            format!("within {age_windows} windows of first sight")
        } else {
            format!(
                "from a quiet baseline (< {:.1} docs/window)",
                cfg.strong_min_baseline
            )
        };
        let why = format!(
            "emerging: sudden, {} with visibility >= {} {when}; {numbers}",
            if is_new {
                "new".to_string()
            } else {
                format!("growth >= {:.2}x", cfg.weak_growth)
            },
            pct(cfg.strong_visibility)
        );
        return Some((Class::Emerging, why));
    }
    if sustained && t.visibility > t.visibility_baseline && t.visibility >= cfg.emerging_visibility
    {
        let why = format!(
            "emerging: growth >= {:.2}x in this and the previous window, visibility rising and >= {}; {numbers}",
            cfg.emerging_growth,
            pct(cfg.emerging_visibility)
        );
        return Some((Class::Emerging, why));
    }
    if growing && (t.visibility < cfg.strong_visibility || thin) {
        let reason = if is_new {
            "new".to_string()
        } else {
            format!("growth >= {:.2}x", cfg.weak_growth)
        };
        let small = if thin {
            format!("fewer than {} recent docs", cfg.strong_min_docs)
        } else {
            format!("visibility below {}", pct(cfg.strong_visibility))
        };
        let why = format!("weak: {reason}, {small}; {numbers}");
        return Some((Class::Weak, why));
    }
    None
}

fn score(class: Class, t: &Trend, novelty: f64, _cfg: &SignalsConfig) -> f64 {
    match class {
        Class::Fading => (1.0 / t.growth.max(1e-6)).log2() * (1.0 + t.baseline_rate).ln(),
        _ => t.burst.min(50.0) * (1.0 + novelty),
    }
}

/// Text on one line: runs of whitespace (newlines in scraped titles) become one space.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn rfc3339(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
