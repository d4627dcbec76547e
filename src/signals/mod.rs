//! Signals: topics and terms classified as `weak`, `emerging`, `recurring`,
//! `strong`, `fading` or `noise`, each with the numbers behind its class.
//!
//! A rise is a weak or emerging signal only when it is significant (a
//! binomial test of the recent against the baseline rate, at a false
//! discovery rate controlled over every key of the run, [`crate::stats`]),
//! and only when it does not repeat a rise of the same calendar weeks of an
//! earlier year: that is `recurring` (Christmas, Independence Day, summer
//! heat), listed apart. Whether a key is new, and how often it burst before,
//! is judged against the whole store (the clustering carries it:
//! [`crate::topics::history`]).
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

pub mod abroad;
pub mod backtest;
pub mod marks;

pub mod rank;
pub mod simulate;
pub mod view;

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::config::{SignalsConfig, TopicsConfig, Window};
use crate::error::Result;
use crate::stats;
pub use crate::terms::DocTerms;
use crate::topics::labels::{self, TopicLabel};
use crate::topics::{history, Corpus, KeyHistory, TopicEvent, TopicState, UNASSIGNED};
use crate::trends::{self, Occurrence, Trend};

/// The class of a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Low visibility, high growth or new.
    Weak,
    /// Growth sustained over two windows, visibility rising.
    Emerging,
    /// A rise that repeats one of the same calendar weeks of an earlier
    /// year: a season, not news (Christmas, summer heat).
    Recurring,
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
            Class::Recurring => "recurring",
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
    /// When its key was first seen in the whole store.
    pub first_seen: String,
    /// Bursts of its key before the recent windows, over the whole store.
    pub previous_bursts: u32,
    /// The significance of the rise: p-value of the binomial test of the
    /// recent against the history's rate (the whole store's when the history
    /// is thin), and its Benjamini-Hochberg q-value over every key of the
    /// analysis's candidates (keys the growth rules would make weak or
    /// emerging). 1 for keys that are no candidates; null in a store's first
    /// windows, which have nothing to test against.
    pub p_value: f64,
    pub q_value: f64,
    /// Carried by one source only in the recent windows.
    pub single_source: bool,
    /// Weak signals, with a ranking model: the predicted probability that
    /// the key at least triples within eight weeks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_grow: Option<f64>,
    /// Yoon (2012) degree of visibility / diffusion and their growth.
    pub dov: f64,
    pub dod: f64,
    pub dov_growth: f64,
    pub dod_growth: f64,
    /// The rule that gave the class, with its numbers.
    pub why: String,
    pub timeline: Vec<TimelinePoint>,
    pub examples: Vec<Example>,
    /// `recurring`: the rises of earlier years it repeats.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recurs: Vec<Recurrence>,
    /// Other signals about the same thing (the same label, or the same
    /// documents), folded into this one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    /// Where it sits on the taxonomies of `taxonomies.tag` (STEEP, Sitra's
    /// megatrends...): the categories whose mean probability over its recent
    /// documents is at least twice the uniform one, best first; possibly none.
    pub tags: Vec<crate::taxonomy::tagger::Tag>,
    /// Topics growing abroad (weak or emerging) with at most
    /// `signals.home.max_docs` home documents: "already there, not yet here".
    pub abroad_first: Option<abroad::AbroadFirst>,
    /// Topics that grew abroad first and whose home documents came later.
    pub arrived_home: Option<abroad::ArrivedHome>,
    /// The recent documents behind the signal.
    #[serde(skip)]
    pub members: Vec<usize>,
    /// Their ids and their mean vector (filled by `View::tag`), for the
    /// watches of [`crate::alerts`].
    #[serde(skip)]
    pub member_ids: Vec<String>,
    #[serde(skip)]
    pub centroid: Vec<f32>,
    /// Topics it continues: those merged into it and those it split off.
    #[serde(skip)]
    pub lineage: Vec<u32>,
    /// The words of its key or label (term keys), for matching.
    #[serde(skip)]
    pub words: Vec<String>,
    /// The score before a learned ranking replaced it.
    #[serde(skip)]
    pub strength: f64,
    /// Tests of a season (p-value, the earlier rise), decided for the whole
    /// run at once.
    #[serde(skip)]
    pub season: Vec<(f64, Recurrence)>,
    /// A topic that takes its class from a term growing inside it: that term.
    #[serde(skip)]
    pub promoted_by: Option<String>,
}

/// A rise in an earlier year that a `recurring` signal repeats.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recurrence {
    pub year: i32,
    /// Start of the earlier window (RFC 3339).
    pub start: String,
    pub docs: u32,
    /// The key or topic words that rose then.
    pub matched: String,
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
    /// It grew abroad first and came home later (`signals.home`).
    pub arrived_home: Option<abroad::ArrivedHome>,
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
    /// Documents in the recent windows, and the median of the windows before.
    pub window_docs: u32,
    pub median_window_docs: f64,
    /// The recent windows hold fewer than `signals.thin_window` of the
    /// median: visibility is measured against the median, and the report says so.
    pub thin: bool,
    /// Candidates (topics and terms the growth rules would make weak or
    /// emerging): the significance tests whose false discovery rate is
    /// controlled together.
    pub tested: usize,
    /// What ranks the weak signals.
    pub ranking: Ranking,
    /// What is home for abroad-first signals; `None` when `signals.home` names nothing.
    pub home: Option<HomeSummary>,
    pub signals: Vec<Signal>,
    /// Signals analysts' marks hide: marked irrelevant (and not grown past
    /// `signals.resurface_growth` times since), or folded as duplicates.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hidden: Vec<marks::Hidden>,
    /// Per tagged taxonomy, each category's share of the documents of every
    /// window of the history (filled when the signals are tagged).
    pub category_shares: Vec<CategoryShares>,
    /// Every term-level signal, also those a topic signal absorbed: what the
    /// term detector alone would have said (backtests compare the two).
    #[serde(skip)]
    pub term_signals: Vec<Signal>,
}

/// A taxonomy's categories as shares of the documents, window by window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryShares {
    pub taxonomy: String,
    /// Window starts (RFC 3339), oldest first, and their documents.
    pub starts: Vec<String>,
    pub docs: Vec<u32>,
    pub categories: Vec<CategoryShare>,
}

/// One category's documents and share of all documents per window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryShare {
    pub id: String,
    pub name: String,
    pub docs: Vec<u32>,
    pub share: Vec<f64>,
}

/// Home media as an analysis saw them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HomeSummary {
    pub name: String,
    pub languages: Vec<String>,
    pub sources: Vec<String>,
    pub max_docs: usize,
    /// The recent windows hold at least `signals.min_docs` home documents;
    /// without them nothing is flagged abroad-first.
    pub watched: bool,
}

/// What an analysis needs of the documents before its corpus: a run from a
/// checkpoint loads only the trailing history. Empty when the corpus starts
/// with the first document.
#[derive(Debug, Clone, Default)]
pub struct Before {
    pub docs: usize,
    /// Publication time of the store's first document (when `docs` > 0).
    pub first: i64,
    pub assigned: usize,
    /// Per live topic: its documents before the corpus and the first one's publication time.
    pub topics: HashMap<u32, (u32, i64)>,
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
    /// What ranks weak signals: a model fitted on the history before
    /// `as_of`, or why there is none.
    pub ranking: &'a Ranking,
}

/// What ranks the weak signals of an analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Ranking {
    /// The learned model: weak signals by p(grows 3x in 8 weeks).
    Model {
        #[serde(flatten)]
        model: Box<rank::RankModel>,
    },
    /// Today's score (the Poisson burst weighted by novelty), with the reason.
    Score { reason: String },
}

impl Default for Ranking {
    fn default() -> Ranking {
        Ranking::Score {
            reason: "no ranking model has been fitted (`weaksignal rank fit`)".into(),
        }
    }
}

impl Ranking {
    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Ranking::Model { model } => format!(
                "weak signals ranked by p(grows 3x in 8 weeks): a logistic model fitted on {} weak flags up to {} ({} grew; validation Brier {:.3} against {:.3} for a constant)",
                model.flags,
                &rfc3339(model.as_of)[..10],
                model.grew,
                model.validation.brier,
                model.validation.brier_constant
            ),
            Ranking::Score { reason } => format!("weak signals ranked by score: {reason}"),
        }
    }
}

struct Window0 {
    /// Trailing window of each document up to `docs` (u32::MAX beyond history).
    back: Vec<u32>,
    /// Documents per trailing window, newest first...
    totals: Vec<u32>,
    /// ...and the volume shares are measured against: in a thin recent
    /// window, the median window instead of its own few documents.
    volume: Vec<u32>,
    recent_docs: u32,
    median: f64,
    thin: bool,
}

impl Window0 {
    fn recent_volume(&self, recent: usize) -> f64 {
        self.totals[..recent].iter().map(|&t| t as f64).sum()
    }

    fn history_volume(&self, recent: usize) -> f64 {
        self.totals[recent..].iter().map(|&t| t as f64).sum()
    }
}

/// The significance of each candidate's rise (a key the growth rules would
/// make weak or emerging), tested together.
struct Evidence {
    /// (p, q) per candidate; other keys are not tested.
    topics: HashMap<u32, (f64, f64)>,
    terms: HashMap<u32, (f64, f64)>,
    tested: usize,
}

impl Evidence {
    /// The history windows are the baseline; when they hold fewer documents
    /// than the recent windows (a store's first weeks, a stream with gaps)
    /// the whole store before them is, with each key's documents there
    /// (`earlier`: topics, then terms).
    #[allow(clippy::too_many_arguments)]
    fn of(
        topics: &[Trend],
        terms: &[Trend],
        w: &Window0,
        recent: usize,
        store_before: f64,
        expected_history: f64,
        cfg: &SignalsConfig,
        earlier: impl Fn(&Trend, bool) -> u32,
    ) -> Evidence {
        let (rv, hv) = (w.recent_volume(recent), w.history_volume(recent));
        // Thin: fewer documents than now, or than half of what the store's
        // average over its life puts in that many windows.
        let whole_store = hv < rv || hv < 0.5 * expected_history;
        // A store's first windows have nothing to test against: no p-value
        // (NaN), and the rise is judged by the other rules alone.
        let untested = whole_store && store_before < rv;
        let p = |t: &Trend, topic: bool| {
            if untested {
                return f64::NAN;
            }
            if whole_store {
                return stats::rate_test(t.recent_docs, earlier(t, topic), rv, store_before);
            }
            let all: u32 = t.timeline.iter().sum();
            stats::rate_test(t.recent_docs, all - t.recent_docs, rv, hv)
        };
        // The candidates: keys the growth rules would make weak or emerging.
        let rising = |ts: &[Trend], topic: bool| -> Vec<(u32, f64)> {
            ts.iter()
                .filter(|t| {
                    t.recent_docs as usize >= cfg.min_docs
                        && t.burst >= cfg.min_burst
                        && (t.growth >= cfg.weak_growth
                            || (t.growth >= cfg.emerging_growth
                                && t.growth_prev >= cfg.emerging_growth))
                })
                .map(|t| (t.key, p(t, topic)))
                .collect()
        };
        let (topic_p, term_p) = (rising(topics, true), rising(terms, false));
        let all: Vec<f64> = topic_p.iter().chain(&term_p).map(|x| x.1).collect();
        let q = if untested {
            vec![f64::NAN; all.len()]
        } else {
            stats::benjamini_hochberg(&all)
        };
        let split = topic_p.len();
        Evidence {
            topics: topic_p
                .iter()
                .zip(&q[..split])
                .map(|(&(k, p), &q)| (k, (p, q)))
                .collect(),
            terms: term_p
                .iter()
                .zip(&q[split..])
                .map(|(&(k, p), &q)| (k, (p, q)))
                .collect(),
            tested: all.len(),
        }
    }
}

/// The term trends of an analysis, with what the signals need besides.
struct TermTrends {
    trends: Vec<Trend>,
    /// Documents of each term in the history windows.
    history_docs: HashMap<u32, u32>,
}

impl<'a> Analysis<'a> {
    fn windows(&self) -> Window0 {
        let len = self.window.seconds();
        let history = self.config.history();
        let recent = self.config.recent_windows.max(1);
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
        let mut before: Vec<u32> = totals[recent..].to_vec();
        before.sort_unstable();
        let median = match before.len() {
            0 => 0.0,
            n if n % 2 == 1 => before[n / 2] as f64,
            n => (before[n / 2 - 1] + before[n / 2]) as f64 / 2.0,
        };
        let recent_docs: u32 = totals[..recent].iter().sum();
        let thin = (recent_docs as f64) < self.config.thin_window * median * recent as f64;
        let mut volume = totals.clone();
        if thin {
            for v in &mut volume[..recent] {
                *v = (*v).max(median.round() as u32);
            }
        }
        Window0 {
            back,
            totals,
            volume,
            recent_docs,
            median,
            thin,
        }
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

    /// The names of the sources that carried `docs`.
    fn source_names(&self, docs: &[usize]) -> Vec<&str> {
        let mut ids: Vec<u32> = docs
            .iter()
            .flat_map(|&d| std::iter::once(self.corpus.source[d]).chain(self.carriers(d)))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids.iter()
            .map(|&s| self.corpus.sources[s as usize].as_str())
            .collect()
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

    /// The history of a term key over the whole store.
    fn term_history(&self, key: u32) -> Option<&KeyHistory> {
        self.state.terms.get(self.terms.extractor.key_name(key))
    }

    /// Start of the recent windows.
    fn recent_start(&self) -> i64 {
        self.as_of + 1 - self.config.recent_windows.max(1) as i64 * self.window.seconds()
    }

    /// Tests of whether `keys` (term keys), or the words `inner` to them that
    /// are words of the season, kept to these calendar weeks in earlier
    /// years: per name and year with at least two documents within
    /// `signals.recurring_days` of the same date, the p-value of the
    /// binomial test of two Poisson rates that signals use (those weeks
    /// against the rest of that year, as shares of all documents). A season's
    /// word concentrates in its season; a common word that happened to rise
    /// in those weeks does not. The run decides on all tests together
    /// ([`decide_recurring`]).
    fn term_recurrences(
        &self,
        keys: &[String],
        inner: &[String],
        share_now: f64,
    ) -> Vec<(f64, Recurrence)> {
        use crate::topics::history::BUCKET_SECONDS;
        let years = self.earlier_years();
        let season = self.config.recurring_days as i64 * 86_400 + BUCKET_SECONDS / 2;
        let count = |buckets: &[(i32, u32)], near: &dyn Fn(i64) -> bool| -> u32 {
            buckets
                .iter()
                .filter(|&&(m, _)| near(m as i64 * BUCKET_SECONDS + BUCKET_SECONDS / 2))
                .map(|&(_, n)| n)
                .sum()
        };
        let mut out = Vec::new();
        let names = keys.iter().map(|k| (k, false)).chain(
            inner
                .iter()
                .filter(|n| !keys.contains(n))
                .map(|n| (n, true)),
        );
        for (name, is_inner) in names {
            let Some(h) = self.state.terms.get(name) else {
                continue;
            };
            let mut tests = Vec::new();
            // Years the store covers (documents in those weeks and in the
            // rest of the year), and those in which it kept to those weeks
            // (most of that year's documents of it were there).
            let (mut covered, mut kept) = (0, 0);
            for &(year, centre) in &years {
                let in_season = |t: i64| (t - centre).abs() <= season;
                let rest_of_year = |t: i64| (t - centre).abs() <= 183 * 86_400 && !in_season(t);
                let season_volume = count(&self.state.volume_buckets, &in_season) as f64;
                let rest_volume = count(&self.state.volume_buckets, &rest_of_year) as f64;
                if season_volume == 0.0 || rest_volume == 0.0 {
                    continue;
                }
                // Covered: the weeks themselves (within `recurring_days`)
                // held at least half the documents per window of the rest of
                // that year (not a source's first weeks, not a gap).
                let days = self.config.recurring_days as i64 * 86_400;
                let (mut near, mut far) = (0u64, 0u64);
                for &(start, n) in &self.state.volume_windows {
                    let d = (start + self.window.seconds() / 2 - centre).abs();
                    if d <= days {
                        near += n as u64;
                    } else if d <= 183 * 86_400 {
                        far += n as u64;
                    }
                }
                let span = (2 * days / self.window.seconds()).max(1) as f64;
                let rest_span = ((366 * 86_400 - 2 * days) / self.window.seconds()).max(1) as f64;
                if near as f64 / span >= 0.5 * far as f64 / rest_span {
                    covered += 1;
                }
                let s = count(&h.buckets, &in_season);
                let rest = count(&h.buckets, &rest_of_year);
                if s < history::BURST_MIN_DOCS {
                    continue;
                }
                kept += usize::from(s >= rest);
                // A season concentrates a key: at least the weak rule's growth
                // over its share of the rest of that year (a common word a
                // little more frequent in those weeks, like China in a
                // January of trade talks, is no season).
                let expected = rest as f64 * season_volume / rest_volume.max(1.0);
                if (s as f64 + 1.0) / (expected + 1.0) < history::BURST_GROWTH as f64 {
                    continue;
                }
                // The season explains a rise of its own size, not one far
                // above it (Thomas Cook collapsing in the weeks of last
                // year's profit warnings, 5 of that year's 9 documents in
                // them): the share now must be within the weak rule's growth
                // of that year's peak share (per bucket). A key confined to
                // the season that year (at least SEASON_CONFINED of its
                // documents; `joulu`, 3 of 3 in a thin first December) is
                // the season at any size; a word inside it is not (`gavin`
                // of Gavin Woodhouse, 2 of 2 in the weeks of 2018).
                let peak_share = h
                    .buckets
                    .iter()
                    .filter(|&&(b, _)| in_season(b as i64 * BUCKET_SECONDS + BUCKET_SECONDS / 2))
                    .filter_map(|&(b, n)| {
                        let volume = self.state.volume_buckets.iter().find(|v| v.0 == b)?.1;
                        Some(n as f64 / volume.max(1) as f64)
                    })
                    .fold(0.0f64, f64::max);
                let confined = !is_inner && s as f64 >= SEASON_CONFINED * (s + rest) as f64;
                if !confined && share_now > history::BURST_GROWTH as f64 * peak_share {
                    continue;
                }
                let p = stats::rate_test(s, rest, season_volume, rest_volume);
                let peak = h
                    .buckets
                    .iter()
                    .filter(|&&(m, _)| in_season(m as i64 * BUCKET_SECONDS + BUCKET_SECONDS / 2))
                    .max_by_key(|&&(m, n)| (n, -m))
                    .map_or(centre, |&(m, _)| m as i64 * BUCKET_SECONDS);
                tests.push((
                    p,
                    Recurrence {
                        year,
                        start: rfc3339(peak),
                        docs: s,
                        matched: name.clone(),
                    },
                ));
            }
            // A word inside a phrase or compound stands for it only when it is
            // a word of the season: it kept to these weeks in every year the
            // store covers (`joulu` in `jouluvalo` and `pikkujoulu`; not
            // `suomi` in `Suomen puolustus`, nor a word that happened to
            // cluster in those weeks once).
            if is_inner && (covered == 0 || kept < covered) {
                continue;
            }
            out.extend(tests);
        }
        out
    }

    /// Earlier years' topic rises in the same calendar weeks whose documents
    /// are as similar to `members` as two topics the clustering merges, and
    /// that share one of `words` (their most distinctive words).
    fn topic_recurrences(
        &self,
        members: &[usize],
        words: &[String],
        share_now: f64,
    ) -> Vec<Recurrence> {
        if members.is_empty() || words.is_empty() {
            return Vec::new();
        }
        let mut mean = vec![0.0f32; self.corpus.dims];
        for &d in members {
            for (m, x) in mean.iter_mut().zip(self.corpus.vector(d)) {
                *m += x / members.len() as f32;
            }
        }
        let mut out = Vec::new();
        for e in &self.state.echoes {
            let Some(year) = self.same_weeks(e.start) else {
                continue;
            };
            let shared: Vec<&String> = e.words.iter().filter(|w| words.contains(w)).collect();
            if shared.is_empty() || e.mean.len() != mean.len() {
                continue;
            }
            let similarity = crate::topics::dot(&mean, &e.mean_f32());
            if similarity < self.topics_config.merge_threshold {
                continue;
            }
            // a rise far above that year's is more than the season
            let volume = self
                .state
                .volume_windows
                .iter()
                .find(|w| w.0 == e.start)
                .map_or(0, |w| w.1);
            if share_now > history::BURST_GROWTH as f64 * e.docs as f64 / volume.max(1) as f64 {
                continue;
            }
            out.push(Recurrence {
                year,
                start: rfc3339(e.start),
                docs: e.docs,
                matched: shared
                    .iter()
                    .map(|w| w.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        tidy_recurrences(out)
    }

    /// The earlier years of the look-back with the middle of the recent
    /// windows shifted to them (unix seconds).
    fn earlier_years(&self) -> Vec<(i32, i64)> {
        use chrono::Datelike;
        let recent = self.config.recent_windows.max(1) as i64 * self.window.seconds();
        let now_mid = self.as_of + 1 - recent / 2;
        let Some(now) = chrono::DateTime::from_timestamp(now_mid, 0) else {
            return Vec::new();
        };
        (1..=self.config.recurring_years)
            .filter_map(|y| now.checked_sub_months(chrono::Months::new(12 * y)))
            .map(|shifted| (shifted.year(), shifted.timestamp()))
            .collect()
    }

    /// The earlier year (1 to `recurring_years` back) whose same calendar
    /// weeks hold the window starting at `start`, if any.
    fn same_weeks(&self, start: i64) -> Option<i32> {
        use chrono::Datelike;
        let len = self.window.seconds();
        let recent = self.config.recent_windows.max(1) as i64 * len;
        let now_mid = self.as_of + 1 - recent / 2;
        let then_mid = start + len / 2;
        let tolerance = self.config.recurring_days as i64 * 86_400 + len / 2;
        let now = chrono::DateTime::from_timestamp(now_mid, 0)?;
        for years in 1..=self.config.recurring_years {
            let shifted = now.checked_sub_months(chrono::Months::new(12 * years))?;
            if (then_mid - shifted.timestamp()).abs() <= tolerance {
                return Some(shifted.year());
            }
        }
        None
    }

    /// The topics `topic` continues: those merged into it, and the topics
    /// it split off (its parents, theirs...).
    fn lineage(&self, topic: u32) -> Vec<u32> {
        let mut out: Vec<u32> = self
            .state
            .events
            .iter()
            .filter_map(|e| match e {
                TopicEvent::Merge {
                    topic: merged,
                    into,
                    ..
                } if self.state.resolve(*into) == topic => Some(*merged),
                _ => None,
            })
            .collect();
        let mut parent = self.state.topics[topic as usize].parent;
        while let Some(p) = parent {
            if out.contains(&p) || p == topic {
                break;
            }
            out.push(p);
            parent = self.state.topics.get(p as usize).and_then(|t| t.parent);
        }
        out
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

        // topic and term trends, and the significance of every rise
        let topic_occ: Vec<Occurrence> = (0..self.docs)
            .filter(|&d| assignment[d] != UNASSIGNED && w.back[d] != u32::MAX)
            .flat_map(|d| self.occurrences(d, assignment[d], w.back[d]))
            .collect();
        let topic_trends = trends::compute(&topic_occ, &w.volume, cfg)?;
        let term_trends = self.term_trends(&w)?;
        let recent_start = self.recent_start();
        let store_before = (self.before.docs
            + corpus.published[..self.docs].partition_point(|&p| p < recent_start))
            as f64;
        let first = if self.before.docs > 0 {
            self.before.first
        } else {
            corpus.published.first().copied().unwrap_or(recent_start)
        };
        let store_windows = ((recent_start - first) as f64 / self.window.seconds() as f64).max(1.0);
        let history_windows = (cfg.history() - recent as usize) as f64;
        let expected_history = store_before / store_windows * history_windows.min(store_windows);
        let evidence = Evidence::of(
            &topic_trends,
            &term_trends.trends,
            &w,
            recent as usize,
            store_before,
            expected_history,
            cfg,
            |t, topic| {
                let so_far = if topic {
                    members.get(&t.key).map_or(0, |m| m.len() as u32)
                        + self.before.topics.get(&t.key).map_or(0, |b| b.0)
                } else {
                    self.term_history(t.key).map_or(0, |h| h.docs)
                };
                so_far.saturating_sub(t.recent_docs)
            },
        );
        let in_history = |d: &usize| w.back[*d] != u32::MAX;
        let background =
            labels::document_frequencies(&self.terms.terms, (0..self.docs).filter(in_history));
        let background_docs = w.totals.iter().map(|&t| t as f64).sum::<f64>();

        let home = abroad::Home::new(&cfg.home, corpus);
        let lookback = abroad::Lookback {
            corpus,
            back: &w.back,
            recent,
            as_of: self.as_of,
            window_seconds: self.window.seconds(),
            min_docs: cfg.min_docs,
        };
        let watched = home.as_ref().is_some_and(|h| lookback.watches_home(h));

        let mut term_signals = self.term_signals(&w, network, &term_trends, &evidence)?;
        term_signals.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        fold_same_documents(&mut term_signals);
        // Seasons of terms first: a topic renewed by a term of the season
        // (a "Christmas break" inside a steady programme-news topic) is the
        // season too.
        for s in term_signals.iter_mut() {
            decide_season(s, cfg.fdr);
        }
        let mut signals = Vec::new();
        let mut summaries = Vec::new();
        for trend in &topic_trends {
            let all = &members[&trend.key];
            let earlier = self.before.topics.get(&trend.key);
            let topic = &self.state.topics[trend.key as usize];
            let first = earlier
                .map_or(corpus.published[all[0]], |e| {
                    e.1.min(corpus.published[all[0]])
                })
                .min(topic.history.first);
            let total_docs = all.len() as u32 + earlier.map_or(0, |e| e.0);
            let age = ((self.as_of - first) / self.window.seconds()) as usize + 1;
            let is_new = age <= recent as usize;
            let novelty = topic.novelty as f64;
            let mut recent_members: Vec<usize> = all
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
            let (p_value, q_value) = evidence
                .topics
                .get(&trend.key)
                .copied()
                .unwrap_or((1.0, 1.0));
            let renewed_by = renewing_term(&term_signals, &recent_members);
            let mut class = classify(
                trend,
                age,
                is_new,
                Novelty {
                    earlier_docs: total_docs.saturating_sub(trend.recent_docs),
                    renewed_by: renewed_by.map(|t| t.label.as_str()),
                },
                cfg,
                Significance {
                    p: p_value,
                    q: q_value,
                    tested: evidence.tested,
                },
            );
            // Renewed by a term of the season: the topic's rise is the season.
            let mut recurs = Vec::new();
            if let (Some(term), Some((Class::Weak, why))) = (renewed_by, &class) {
                let renewal = total_docs.saturating_sub(trend.recent_docs) > trend.recent_docs;
                if renewal && term.class == Class::Recurring {
                    recurs = term.recurs.clone();
                    let why = recurring_why(Class::Weak, &recurs, why);
                    class = Some((Class::Recurring, why));
                }
            }
            let mut promoted: Option<(f64, String, String)> = None;
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
                    promoted = Some((term.score, term.label.clone(), term.id.clone()));
                    // The signal rests on the term's documents and the topic's.
                    for &d in &term.members {
                        if let Err(at) = recent_members.binary_search(&d) {
                            recent_members.insert(at, d);
                        }
                    }
                }
            }
            let label = label_of(&history_members);
            let arrived_home = home.as_ref().and_then(|h| lookback.arrived_home(h, all));
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
                arrived_home: arrived_home.clone(),
            });
            let Some((class, mut why)) = class else {
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
            if let Some((_, term, _)) = &promoted {
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
            let words = self.label_words(&label);
            let mut season = Vec::new();
            if matches!(class, Class::Weak | Class::Emerging) {
                // an earlier year's topic like it in these weeks (certain),
                // or what its label names kept to these weeks (tested)
                let share_now = trend.recent_docs as f64 / w.recent_docs.max(1) as f64;
                season = self
                    .topic_recurrences(&recent_members, &words, share_now)
                    .into_iter()
                    .map(|r| (0.0, r))
                    .collect();
                let keys: Vec<String> = label
                    .keys
                    .iter()
                    .map(|&k| self.terms.extractor.key_name(k).to_string())
                    .collect();
                let mut inner: Vec<String> = Vec::new();
                for &k in &label.keys {
                    for n in self.key_and_words(k).into_iter().skip(1) {
                        if !inner.contains(&n) {
                            inner.push(n);
                        }
                    }
                }
                season.extend(self.term_recurrences(&keys, &inner, share_now));
            }
            let sources = self.source_names(&recent_members);
            let single_source = sources.len() <= 1;
            if single_source && network >= 2.0 && class != Class::Fading {
                why.push_str(&format!(
                    "; seen in one source only ({}), ranked at half its strength",
                    sources.first().copied().unwrap_or("-")
                ));
            }
            let evidence_docs = label.examples.clone();
            let strength = promoted
                .as_ref()
                .map_or_else(|| score(class, trend, novelty, cfg), |p| p.0);
            signals.push(Signal {
                id: format!("topic-{}", trend.key),
                level: Level::Topic,
                found_by: vec![Level::Topic],
                class,
                label: label.label,
                keywords: label.keywords,
                score: strength * source_weight(single_source, network, class),
                growth: trend.growth,
                acceleration: trend.acceleration,
                visibility: trend.visibility,
                visibility_baseline: trend.visibility_baseline,
                diffusion: trend.sources_recent as f64 / network,
                recent_docs: if promoted.is_some() {
                    recent_members.len() as u32
                } else {
                    trend.recent_docs
                },
                docs: total_docs,
                sources: trend.sources_recent,
                burst: trend.burst,
                novelty,
                first_seen: rfc3339(first),
                previous_bursts: topic.history.bursts_before(self.recent_start()),
                p_value,
                q_value,
                single_source,
                p_grow: None,
                dov: trend.dov,
                dod: trend.dod,
                dov_growth: trend.dov_growth,
                dod_growth: trend.dod_growth,
                why,
                timeline: self.timeline(&trend.timeline),
                examples: evidence_docs.iter().map(|&d| self.example(d)).collect(),
                recurs,
                also: Vec::new(),
                tags: Vec::new(),
                abroad_first: match &home {
                    Some(h) if watched && matches!(class, Class::Weak | Class::Emerging) => {
                        lookback.abroad_first(h, all)
                    }
                    _ => None,
                },
                arrived_home,
                members: recent_members,
                member_ids: Vec::new(),
                centroid: Vec::new(),
                lineage: self.lineage(trend.key),
                words,
                season,
                promoted_by: promoted.as_ref().map(|p| p.2.clone()),
                strength: strength * source_weight(single_source, network, class),
            });
        }
        decide_recurring(&mut signals, &term_signals, cfg.fdr);
        // A season is not news from abroad.
        for s in signals.iter_mut() {
            if !matches!(s.class, Class::Weak | Class::Emerging) {
                s.abroad_first = None;
            }
        }
        merge_levels(&mut signals, term_signals.clone());
        if let Ranking::Model { model } = self.ranking {
            for s in signals.iter_mut().filter(|s| rank::is_weak(s)) {
                let p = model.predict(&rank::features(s));
                s.p_grow = Some(p);
                s.score = 100.0 * p * source_weight(s.single_source, network, s.class);
            }
        }
        signals.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        fold_same_labels(&mut signals);
        self.fold_same_stories(&mut signals);
        summaries.sort_by(|a, b| b.recent_docs.cmp(&a.recent_docs).then(a.id.cmp(&b.id)));
        Ok((
            SignalReport {
                as_of: rfc3339(self.as_of),
                window: self.window,
                figures,
                window_docs: w.recent_docs,
                median_window_docs: w.median,
                thin: w.thin,
                tested: evidence.tested,
                ranking: self.ranking.clone(),
                home: home.map(|h| HomeSummary {
                    name: h.name,
                    languages: cfg.home.languages.clone(),
                    sources: cfg.home.sources.clone(),
                    max_docs: h.max_docs,
                    watched,
                }),
                signals,
                hidden: Vec::new(),
                category_shares: Vec::new(),
                term_signals,
            },
            summaries,
        ))
    }

    /// Rising topic signals about one story (their recent documents as
    /// similar as a document must be to join a topic: the sub-topics of one
    /// event) are one signal: the first in score order keeps it and names
    /// the others.
    fn fold_same_stories(&self, signals: &mut Vec<Signal>) {
        let rising = |c: Class| matches!(c, Class::Weak | Class::Emerging | Class::Strong);
        let mean = |members: &[usize]| -> Vec<f32> {
            let mut m = vec![0.0f32; self.corpus.dims];
            for &d in members {
                for (x, v) in m.iter_mut().zip(self.corpus.vector(d)) {
                    *x += v / members.len() as f32;
                }
            }
            m
        };
        let mut kept: Vec<(Vec<f32>, Signal)> = Vec::with_capacity(signals.len());
        for s in signals.drain(..) {
            if s.level != Level::Topic || !rising(s.class) || s.members.is_empty() {
                kept.push((Vec::new(), s));
                continue;
            }
            let m = mean(&s.members);
            let same = kept.iter().position(|(km, k)| {
                !km.is_empty()
                    && rising(k.class)
                    && crate::topics::dot(km, &m) >= self.topics_config.join_threshold
            });
            match same {
                Some(i) => kept[i].1.also.push(s.id),
                None => kept.push((m, s)),
            }
        }
        *signals = kept.into_iter().map(|(_, s)| s).collect();
    }

    /// A term key's name, then the names of the keys inside it (a phrase's
    /// words, a compound's parts).
    fn key_and_words(&self, key: u32) -> Vec<String> {
        let x = &self.terms.extractor;
        let mut names: Vec<String> = Vec::new();
        for k in x.key_and_inner(key) {
            let name = x.key_name(k).to_string();
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// The term keys of a label's keywords, split into their words.
    fn label_words(&self, label: &TopicLabel) -> Vec<String> {
        let mut words: Vec<String> = label
            .keys
            .iter()
            .flat_map(|&k| self.terms.extractor.key_words(k))
            .map(|k| self.terms.extractor.key_name(k).to_string())
            .collect();
        words.sort();
        words.dedup();
        words
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

    /// Trends of every term in at least `term_min_docs` documents of the history.
    fn term_trends(&self, w: &Window0) -> Result<TermTrends> {
        let cfg = self.config;
        let terms = &self.terms.terms;
        let mut history_docs: HashMap<u32, u32> = HashMap::new();
        for (d, doc_terms) in terms.iter().enumerate().take(self.docs) {
            if w.back[d] == u32::MAX {
                continue;
            }
            for t in doc_terms {
                *history_docs.entry(t.key).or_insert(0) += 1;
            }
        }
        let mut occ = Vec::new();
        for (d, doc_terms) in terms.iter().enumerate().take(self.docs) {
            if w.back[d] == u32::MAX {
                continue;
            }
            for t in doc_terms {
                if history_docs[&t.key] as usize >= cfg.term_min_docs {
                    occ.extend(self.occurrences(d, t.key, w.back[d]));
                }
            }
        }
        Ok(TermTrends {
            trends: trends::compute(&occ, &w.volume, cfg)?,
            history_docs,
        })
    }

    fn term_signals(
        &self,
        w: &Window0,
        network: f64,
        term_trends: &TermTrends,
        evidence: &Evidence,
    ) -> Result<Vec<Signal>> {
        let cfg = self.config;
        let recent = cfg.recent_windows.max(1) as u32;
        let terms = &self.terms.terms;
        // first publication of each term among the loaded documents
        let mut first: HashMap<u32, i64> = HashMap::new();
        for (d, doc_terms) in terms.iter().enumerate().take(self.docs) {
            for t in doc_terms {
                first.entry(t.key).or_insert(self.corpus.published[d]);
            }
        }
        let mut out = Vec::new();
        for trend in &term_trends.trends {
            let own = first[&trend.key];
            let history = self.term_history(trend.key);
            let first_ts = history.map_or(own, |h| h.first.min(own));
            let age = ((self.as_of - first_ts) / self.window.seconds()) as usize + 1;
            let is_new = age <= recent as usize;
            let (p_value, q_value) = evidence
                .terms
                .get(&trend.key)
                .copied()
                .unwrap_or((1.0, 1.0));
            let significance = Significance {
                p: p_value,
                q: q_value,
                tested: evidence.tested,
            };
            let so_far = history.map_or(term_trends.history_docs[&trend.key], |h| {
                h.docs.max(term_trends.history_docs[&trend.key])
            });
            let earlier = so_far.saturating_sub(trend.recent_docs);
            let novelty = Novelty {
                earlier_docs: earlier,
                renewed_by: None,
            };
            let Some((class, mut why)) = classify(trend, age, is_new, novelty, cfg, significance)
            else {
                continue;
            };
            let has = |d: &usize| terms[*d].iter().any(|t| t.key == trend.key);
            let mut evidence_docs: Vec<usize> = (0..self.docs)
                .filter(|&d| w.back[d] < recent)
                .filter(has)
                .collect();
            let members = evidence_docs.clone();
            if evidence_docs.is_empty() {
                // fading: show the documents it faded from
                evidence_docs = (0..self.docs)
                    .filter(|&d| w.back[d] != u32::MAX)
                    .filter(has)
                    .collect();
            }
            let display = self
                .terms
                .extractor
                .display(evidence_docs.iter().flat_map(|&d| {
                    terms[d]
                        .iter()
                        .filter(|t| t.key == trend.key)
                        .map(|t| t.display)
                }))
                .to_string();
            let names = self.key_and_words(trend.key);
            let season = if matches!(class, Class::Weak | Class::Emerging) {
                let share_now = trend.recent_docs as f64 / w.recent_docs.max(1) as f64;
                self.term_recurrences(&names[..1], &names[1..], share_now)
            } else {
                Vec::new()
            };
            let sources = self.source_names(&members);
            let single_source = sources.len() <= 1;
            if single_source && network >= 2.0 && class != Class::Fading {
                why.push_str(&format!(
                    "; seen in one source only ({}), ranked at half its strength",
                    sources.first().copied().unwrap_or("-")
                ));
            }
            let novelty = if is_new { 1.0 } else { 0.0 };
            let examples = labels::representative(self.corpus, &evidence_docs, cfg.examples);
            out.push(Signal {
                id: format!("term-{display}"),
                level: Level::Term,
                found_by: vec![Level::Term],
                class,
                label: display.clone(),
                keywords: vec![display],
                score: score(class, trend, 0.0, cfg) * source_weight(single_source, network, class),
                growth: trend.growth,
                acceleration: trend.acceleration,
                visibility: trend.visibility,
                visibility_baseline: trend.visibility_baseline,
                diffusion: trend.sources_recent as f64 / network,
                recent_docs: trend.recent_docs,
                docs: history.map_or(term_trends.history_docs[&trend.key], |h| {
                    h.docs.max(term_trends.history_docs[&trend.key])
                }),
                sources: trend.sources_recent,
                burst: trend.burst,
                novelty,
                first_seen: rfc3339(first_ts),
                previous_bursts: history.map_or(0, |h| h.bursts_before(self.recent_start())),
                p_value,
                q_value,
                single_source,
                p_grow: None,
                dov: trend.dov,
                dod: trend.dod,
                dov_growth: trend.dov_growth,
                dod_growth: trend.dod_growth,
                why,
                timeline: self.timeline(&trend.timeline),
                examples: examples.iter().map(|&d| self.example(d)).collect(),
                recurs: Vec::new(),
                also: Vec::new(),
                tags: Vec::new(),
                abroad_first: None,
                arrived_home: None,
                members,
                member_ids: Vec::new(),
                centroid: Vec::new(),
                lineage: Vec::new(),
                words: names,
                season,
                promoted_by: None,
                strength: score(class, trend, 0.0, cfg)
                    * source_weight(single_source, network, class),
            });
        }
        Ok(out)
    }
}

/// Recurrences sorted by year (newest first), one per year and key: the
/// largest rise.
fn tidy_recurrences(mut found: Vec<Recurrence>) -> Vec<Recurrence> {
    found.sort_by(|a, b| {
        b.year
            .cmp(&a.year)
            .then(b.docs.cmp(&a.docs))
            .then(a.start.cmp(&b.start))
            .then(a.matched.cmp(&b.matched))
    });
    let mut out: Vec<Recurrence> = Vec::new();
    for r in found {
        if !out.iter().any(|o| o.year == r.year) {
            out.push(r);
        }
    }
    out
}

/// The `why` of a rise that repeats earlier years'.
fn recurring_why(class: Class, recurs: &[Recurrence], why: &str) -> String {
    let years: Vec<String> = recurs
        .iter()
        .map(|r| {
            format!(
                "{} ({} docs of '{}' in the window from {})",
                r.year,
                r.docs,
                r.matched,
                &r.start[..10.min(r.start.len())]
            )
        })
        .collect();
    let rule = why
        .split_once(';')
        .map_or(why, |(_, rest)| rest.trim_start());
    format!(
        "recurring: would be {} but rose in the same weeks of {}; {rule}",
        class.name(),
        years.join(" and ")
    )
}

/// Share of a year's documents of a key within the season's weeks (about
/// 8 of 52) that makes it a word of that season whatever the size of its
/// rise now.
const SEASON_CONFINED: f64 = 0.75;

/// Turns a weak or emerging signal whose season tests hold into
/// `recurring`: its tests (its keys and words, each earlier year) hold at
/// `fdr` after Bonferroni over that signal's tests; a match with an earlier
/// year's similar topic (p = 0) always holds.
fn decide_season(s: &mut Signal, fdr: f64) {
    let tests = std::mem::take(&mut s.season);
    let n = tests.len().max(1) as f64;
    let held: Vec<Recurrence> = tests
        .into_iter()
        .filter(|t| t.0 * n <= fdr)
        .map(|t| t.1)
        .collect();
    if held.is_empty() || !matches!(s.class, Class::Weak | Class::Emerging) {
        return;
    }
    s.recurs = tidy_recurrences(held);
    s.why = recurring_why(s.class, &s.recurs, &s.why);
    s.class = Class::Recurring;
}

/// [`decide_season`] for topic signals; a topic that takes its class from a
/// term (terms are decided first) follows that term.
fn decide_recurring(topics: &mut [Signal], terms: &[Signal], fdr: f64) {
    for s in topics.iter_mut() {
        decide_season(s, fdr);
    }
    for s in topics.iter_mut() {
        let Some(term) = &s.promoted_by else {
            continue;
        };
        if s.class == Class::Recurring {
            continue;
        }
        if let Some(t) = terms
            .iter()
            .find(|t| &t.id == term && t.class == Class::Recurring)
        {
            s.recurs = t.recurs.clone();
            s.why = recurring_why(s.class, &s.recurs, &s.why);
            s.class = Class::Recurring;
        }
    }
}

/// Single-source signals rank below multi-source ones at equal strength:
/// in a store with several active sources their score is halved.
fn source_weight(single_source: bool, network: f64, class: Class) -> f64 {
    if single_source && network >= 2.0 && class != Class::Fading {
        0.5
    } else {
        1.0
    }
}

/// Term signals of exactly the same recent documents are one finding (a
/// compound and its head word, a name and its phrase): the most specific
/// (most words), then the most significant, keeps it and names the others.
fn fold_same_documents(signals: &mut Vec<Signal>) {
    let mut kept: Vec<Signal> = Vec::with_capacity(signals.len());
    let mut order: Vec<usize> = (0..signals.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&signals[a], &signals[b]);
        y.words
            .len()
            .cmp(&x.words.len())
            .then(x.q_value.total_cmp(&y.q_value))
            .then(a.cmp(&b))
    });
    let mut folded = vec![false; signals.len()];
    let mut into: Vec<(usize, usize)> = Vec::new();
    for (i, &a) in order.iter().enumerate() {
        if folded[a] || signals[a].members.is_empty() {
            continue;
        }
        for &b in &order[i + 1..] {
            if !folded[b] && signals[b].members == signals[a].members {
                folded[b] = true;
                into.push((b, a));
            }
        }
    }
    for (b, a) in into {
        let id = signals[b].id.clone();
        signals[a].also.push(id);
    }
    for (i, s) in signals.drain(..).enumerate() {
        if !folded[i] {
            kept.push(s);
        }
    }
    *signals = kept;
}

/// Signals whose labels name the same words (one's label words are all in
/// the other's, case aside) are one story found twice: the first in score
/// order keeps it and names the others.
fn fold_same_labels(signals: &mut Vec<Signal>) {
    let words = |s: &Signal| -> Vec<String> {
        let mut w: Vec<String> = s.label.split(", ").map(|x| x.to_lowercase()).collect();
        w.sort();
        w.dedup();
        w
    };
    // Which of two keeps the story: a signal over noise, then a topic (it
    // has more to show) over a term, then the higher score (earlier here).
    let rank = |s: &Signal| (s.class == Class::Noise, s.level == Level::Term);
    let mut kept: Vec<(Vec<String>, Signal)> = Vec::with_capacity(signals.len());
    for mut s in signals.drain(..) {
        let mine = words(&s);
        let same = kept.iter().position(|(theirs, other)| {
            (other.class == Class::Fading) == (s.class == Class::Fading)
                && (mine.iter().all(|w| theirs.contains(w))
                    || theirs.iter().all(|w| mine.contains(w)))
        });
        match same {
            Some(i) if rank(&s) < rank(&kept[i].1) => {
                // the newcomer keeps the story, in its own place
                let (_, mut other) = kept.remove(i);
                s.also.push(other.id.clone());
                s.also.append(&mut other.also);
                if other.level == Level::Term && !s.found_by.contains(&Level::Term) {
                    s.found_by.push(Level::Term);
                }
                kept.push((mine, s));
            }
            Some(i) => {
                let keeper = &mut kept[i].1;
                keeper.also.push(s.id);
                if s.level == Level::Term && !keeper.found_by.contains(&Level::Term) {
                    keeper.found_by.push(Level::Term);
                }
            }
            None => kept.push((mine, s)),
        }
    }
    *signals = kept.into_iter().map(|(_, s)| s).collect();
}

/// How many of a term signal's recent documents are among `recent_members`
/// (sorted).
fn shared_members(term: &Signal, recent_members: &[usize]) -> usize {
    term.members
        .iter()
        .filter(|d| recent_members.binary_search(d).is_ok())
        .count()
}

/// A young rising term (weak, emerging or recurring, with no more earlier
/// than recent documents) held by at least two and half of a topic's recent
/// documents.
fn renewing_term<'s>(terms: &'s [Signal], recent_members: &[usize]) -> Option<&'s Signal> {
    terms
        .iter()
        .filter(|t| matches!(t.class, Class::Weak | Class::Emerging | Class::Recurring))
        .filter(|t| t.docs <= 2 * t.recent_docs)
        .filter(|t| {
            let shared = shared_members(t, recent_members);
            shared >= 2 && shared * 2 >= recent_members.len()
        })
        .max_by(|a, b| a.score.total_cmp(&b.score).then_with(|| b.id.cmp(&a.id)))
}

/// The strongest young rising term signal (weak or emerging) whose recent
/// documents sit mostly (at least half, and two) in this topic and make up at least half of the
/// topic's recent documents: a new theme growing inside an established topic
/// (early COVID-19 headlines joined a "markets fear China" topic), which the
/// topic's own count shows only later. Returns it with the shared count.
fn carried_term<'s>(terms: &'s [Signal], recent_members: &[usize]) -> Option<(&'s Signal, usize)> {
    // A promoted topic rests on the term's documents (at least
    // `signals.min_docs`) and its own.
    if recent_members.len() < 2 {
        return None;
    }
    terms
        .iter()
        .filter(|t| matches!(t.class, Class::Weak | Class::Emerging))
        // A new theme: a young term (no more earlier than recent documents).
        .filter(|t| t.docs <= 2 * t.recent_docs)
        .filter_map(|t| {
            let shared = shared_members(t, recent_members);
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

/// Topic signals absorb the flagged terms of the same kind (rising: weak,
/// emerging, recurring, strong; or fading) that they name (a keyword, or
/// the term's words among theirs) or whose recent documents are mostly
/// theirs; the rest of the term signals stay as found by terms only.
fn merge_levels(signals: &mut Vec<Signal>, terms: Vec<Signal>) {
    let rising = |c: Class| {
        matches!(
            c,
            Class::Weak | Class::Emerging | Class::Recurring | Class::Strong
        )
    };
    let mut rest = Vec::new();
    for term in terms {
        let mut absorbed = false;
        for topic in signals.iter_mut().filter(|s| s.level == Level::Topic) {
            let same_kind = rising(topic.class) == rising(term.class)
                && (topic.class == Class::Noise) == (term.class == Class::Noise);
            // the topic names it, or its words, or most of its documents are the topic's
            let named = topic.keywords.iter().any(|k| k == &term.label)
                || (!term.words.is_empty()
                    && term
                        .words
                        .iter()
                        .skip(usize::from(term.words.len() > 1))
                        // a compound keyword names itself as well as its parts
                        .all(|w| topic.words.contains(w) || topic.keywords.contains(w)));
            let shared = shared_members(&term, &topic.members);
            let inside = !term.members.is_empty() && shared * 3 >= term.members.len() * 2;
            if same_kind && (named || inside) {
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

/// How new a key is, for the weak rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Novelty<'a> {
    /// Its documents before the recent windows, over the whole store.
    pub earlier_docs: u32,
    /// A topic whose recent documents mostly hold a young rising term: a new
    /// theme inside an established topic (early COVID-19 headlines in a
    /// "markets fear China" topic). That term.
    pub renewed_by: Option<&'a str>,
}

/// The evidence that a key's rise is not chance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Significance {
    /// One-sided p-value of the recent against the history's rate.
    pub p: f64,
    /// Benjamini-Hochberg q-value over the `tested` keys of the analysis.
    pub q: f64,
    pub tested: usize,
}

/// The class of a trend, with the rule and numbers that gave it, or `None`
/// for a steady topic. `weak` and `emerging` also need the rise to be
/// significant at the configured false discovery rate, and `weak` a young
/// key: at most as many documents before the recent windows
/// (`earlier_docs`, over the whole store) as in them. A weak signal is
/// something new; a small rise of an established key is a fluctuation of
/// something known (of 43 weak flags on Guardian topics with more than ten
/// earlier documents, none tripled within eight weeks).
pub fn classify(
    t: &Trend,
    age_windows: usize,
    is_new: bool,
    novelty: Novelty<'_>,
    cfg: &SignalsConfig,
    evidence: Significance,
) -> Option<(Class, String)> {
    let pct = |x: f64| format!("{:.1}%", x * 100.0);
    let test = if evidence.p.is_nan() {
        "untested: the store holds fewer documents before than now".to_string()
    } else {
        format!(
            "p = {:.1e}, q = {:.1e} ({}, {} keys)",
            evidence.p,
            evidence.q,
            stats::TEST_NAME,
            evidence.tested
        )
    };
    let numbers = format!(
        "{} recent docs, baseline {:.2}/window, growth {:.2}x (previous {:.2}x), visibility {} (baseline {}), burst {:.1}, {test}",
        t.recent_docs,
        t.baseline_rate,
        t.growth,
        t.growth_prev,
        pct(t.visibility),
        pct(t.visibility_baseline),
        t.burst,
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
    // Strong needs ten documents and a visible share: evidence enough. A
    // weak or emerging rise must beat the number of keys tested.
    // NaN: a store's first windows, nothing before them to test against.
    let significant = evidence.q <= cfg.fdr || evidence.q.is_nan();
    let gate = |class: Class, why: String| -> Option<(Class, String)> {
        if significant {
            return Some((class, why));
        }
        Some((
            Class::Noise,
            format!(
                "noise: would be {} but the rise is not significant at a false discovery rate of {} (q = {:.2e}); {numbers}",
                class.name(),
                cfg.fdr,
                evidence.q
            ),
        ))
    };
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
        return gate(Class::Emerging, why);
    }
    if sustained && t.visibility > t.visibility_baseline && t.visibility >= cfg.emerging_visibility
    {
        let why = format!(
            "emerging: growth >= {:.2}x in this and the previous window, visibility rising and >= {}; {numbers}",
            cfg.emerging_growth,
            pct(cfg.emerging_visibility)
        );
        return gate(Class::Emerging, why);
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
        let earlier_docs = novelty.earlier_docs;
        let young = match novelty.renewed_by {
            _ if earlier_docs <= t.recent_docs => {
                format!("young ({earlier_docs} earlier documents)")
            }
            Some(term) => format!("renewed by the young term '{term}'"),
            None => {
                let why = format!(
                    "noise: would be weak but is no longer new: {earlier_docs} documents before the recent ones, more than its {} recent; {numbers}",
                    t.recent_docs
                );
                return Some((Class::Noise, why));
            }
        };
        let why = format!("weak: {reason}, {small}, {young}; {numbers}");
        return gate(Class::Weak, why);
    }
    None
}

fn score(class: Class, t: &Trend, novelty: f64, _cfg: &SignalsConfig) -> f64 {
    match class {
        Class::Fading => (1.0 / t.growth.max(1e-6)).log2() * (1.0 + t.baseline_rate).ln(),
        _ => t.burst.min(50.0) * (1.0 + novelty),
    }
}

pub use crate::html::one_line;

pub fn rfc3339(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A topic id as people write it: `12` or `topic-12`.
pub fn parse_topic_id(id: &str) -> Result<u32> {
    id.trim_start_matches("topic-").parse().map_err(|_| {
        crate::error::Error::Usage(format!(
            "topic id {id:?}: expected a number such as 12 or topic-12"
        ))
    })
}
