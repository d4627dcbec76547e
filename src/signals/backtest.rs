//! Replays: signals as of past dates, and a backtest that checks how early
//! known events would have been flagged.
//!
//! [`Replay`] advances the clustering over complete calendar windows once and
//! processes the as-of date's partial window on a copy, so a replay at date
//! T runs exactly the code and input of a standalone `signals --as-of T`.

use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};

use std::collections::HashMap;

use super::rank::{self, Flag, RankModel, HORIZON_SECONDS};
use super::{
    rfc3339, Analysis, Before, Class, DocTerms, Level, Ranking, SignalReport, TopicSummary,
};
use crate::config::{SignalsConfig, TopicsConfig, Window};
use crate::error::{Error, Result};
use crate::topics::{Corpus, TopicState};

/// Clustering state that moves forward through time.
pub struct Replay<'a> {
    corpus: &'a Corpus,
    terms: &'a DocTerms,
    windows: Vec<(i64, Range<usize>)>,
    next: usize,
    state: TopicState,
    window: Window,
    config: &'a TopicsConfig,
}

impl<'a> Replay<'a> {
    pub fn new(
        corpus: &'a Corpus,
        terms: &'a DocTerms,
        window: Window,
        config: &'a TopicsConfig,
    ) -> Replay<'a> {
        Replay {
            corpus,
            terms,
            windows: corpus.windows(window),
            next: 0,
            state: TopicState::default(),
            window,
            config,
        }
    }

    /// Topics as of `as_of` (unix seconds, inclusive) and how many documents
    /// they cover. Calls must come in non-decreasing `as_of` order.
    pub fn at(&mut self, as_of: i64) -> (TopicState, usize) {
        let now = self.window.key(as_of);
        while self.next < self.windows.len() && self.windows[self.next].0 < now {
            let (key, range) = self.windows[self.next].clone();
            self.state
                .process_window(self.corpus, self.terms, key, range, self.config);
            self.next += 1;
        }
        let docs = self.corpus.published.partition_point(|&t| t <= as_of);
        let mut state = self.state.clone();
        if let Some((key, range)) = self.windows.get(self.next) {
            if *key == now && range.start < docs {
                state.process_window(
                    self.corpus,
                    self.terms,
                    *key,
                    range.start..docs,
                    self.config,
                );
            }
        }
        (state, docs)
    }
}

/// Signals and topics as of one time: the one way every command computes them.
pub fn analyse(
    corpus: &Corpus,
    terms: &DocTerms,
    replay: &mut Replay<'_>,
    as_of: i64,
    signals: &SignalsConfig,
    ranking: &Ranking,
) -> Result<(SignalReport, Vec<TopicSummary>)> {
    let (state, docs) = replay.at(as_of);
    analyse_state(corpus, terms, replay, &state, docs, as_of, signals, ranking)
}

#[allow(clippy::too_many_arguments)]
fn analyse_state(
    corpus: &Corpus,
    terms: &DocTerms,
    replay: &Replay<'_>,
    state: &TopicState,
    docs: usize,
    as_of: i64,
    signals: &SignalsConfig,
    ranking: &Ranking,
) -> Result<(SignalReport, Vec<TopicSummary>)> {
    Analysis {
        corpus,
        before: &Before::default(),
        terms,
        state,
        docs,
        as_of,
        window: replay.window,
        topics_config: replay.config,
        config: signals,
        ranking,
    }
    .run()
}

/// What a weak flag's outcome is measured on.
#[derive(Debug, Clone)]
enum FlagKey {
    Topic(u32),
    Term(u32),
}

/// Weak flags of replayed dates, each labelled once its eight weeks are
/// over, with what the store held then (no later data decides a label).
pub struct FlagBook {
    pub flags: Vec<Flag>,
    keys: Vec<FlagKey>,
    /// Flags not labelled yet, oldest first.
    pending: Vec<usize>,
    /// Publication times of the documents holding each term key (shared
    /// by the books of one replay).
    term_times: std::rc::Rc<HashMap<u32, Vec<i64>>>,
}

impl FlagBook {
    pub fn new(corpus: &Corpus, terms: &DocTerms) -> FlagBook {
        let mut term_times: HashMap<u32, Vec<i64>> = HashMap::new();
        for (d, doc_terms) in terms.terms.iter().enumerate() {
            for t in doc_terms {
                term_times
                    .entry(t.key)
                    .or_default()
                    .push(corpus.published[d]);
            }
        }
        FlagBook {
            flags: Vec::new(),
            keys: Vec::new(),
            pending: Vec::new(),
            term_times: std::rc::Rc::new(term_times),
        }
    }

    /// An empty book over the same corpus, sharing this one's term index.
    pub fn empty_like(&self) -> FlagBook {
        FlagBook {
            flags: Vec::new(),
            keys: Vec::new(),
            pending: Vec::new(),
            term_times: self.term_times.clone(),
        }
    }

    /// Adds the weak signals of `report` (as of `as_of`); returns their indexes.
    pub fn record(&mut self, as_of: i64, report: &SignalReport, terms: &DocTerms) -> Vec<usize> {
        self.record_where(as_of, report, terms, rank::is_weak)
    }

    /// Adds the signals of `report` that `keep` accepts, in the report's
    /// order; returns their indexes.
    pub fn record_where(
        &mut self,
        as_of: i64,
        report: &SignalReport,
        terms: &DocTerms,
        keep: impl Fn(&super::Signal) -> bool,
    ) -> Vec<usize> {
        let mut added = Vec::new();
        for s in report.signals.iter().filter(|s| keep(s)) {
            // A topic that takes its class from a term growing inside it is
            // about that term: the term is followed.
            let promoted = s.promoted_by.as_ref().and_then(|id| {
                let term = report.term_signals.iter().find(|t| &t.id == id)?;
                terms
                    .extractor
                    .key_id(term.words.first()?)
                    .map(FlagKey::Term)
            });
            let key = match s.level {
                Level::Topic if promoted.is_some() => promoted,
                Level::Topic => {
                    s.id.strip_prefix("topic-")
                        .and_then(|n| n.parse().ok())
                        .map(FlagKey::Topic)
                }
                Level::Term => s
                    .words
                    .first()
                    .and_then(|name| terms.extractor.key_id(name))
                    .map(FlagKey::Term),
            };
            let Some(key) = key else {
                continue;
            };
            added.push(self.flags.len());
            self.pending.push(self.flags.len());
            self.flags.push(Flag::of(as_of, s));
            self.keys.push(key);
        }
        added
    }

    /// Labels the flags whose eight weeks ended by `now`, with the topics
    /// as they are at `now` (`state`, covering the first `docs` documents).
    pub fn label_until(&mut self, now: i64, corpus: &Corpus, state: &TopicState, docs: usize) {
        let due: Vec<usize> = self
            .pending
            .iter()
            .copied()
            .filter(|&i| self.flags[i].as_of + HORIZON_SECONDS <= now)
            .collect();
        if due.is_empty() {
            return;
        }
        let assignment = state.resolved_assignment();
        for &i in &due {
            let (t, end) = (self.flags[i].as_of, self.flags[i].as_of + HORIZON_SECONDS);
            let (before, after) = match self.keys[i] {
                FlagKey::Topic(topic) => {
                    let topic = state.resolve(topic);
                    let size_at = |until: i64| {
                        let n = corpus.published[..docs].partition_point(|&p| p <= until);
                        assignment[..n].iter().filter(|&&a| a == topic).count()
                    };
                    (size_at(t), size_at(end))
                }
                FlagKey::Term(key) => {
                    let times = self.term_times.get(&key).map_or(&[][..], |v| v.as_slice());
                    (
                        times.partition_point(|&p| p <= t),
                        times.partition_point(|&p| p <= end),
                    )
                }
            };
            self.flags[i].grew = Some(before > 0 && after >= rank::GROWTH_FACTOR as usize * before);
        }
        self.pending.retain(|i| !due.contains(i));
    }

    /// Flags labelled by `now` (their eight weeks ended by then).
    pub fn labelled_by(&self, now: i64) -> Vec<Flag> {
        self.flags
            .iter()
            .filter(|f| f.grew.is_some() && f.as_of + HORIZON_SECONDS <= now)
            .cloned()
            .collect()
    }
}

/// The result of fitting the ranking as of a date.
#[derive(Debug, Clone)]
pub struct RankFit {
    pub as_of: i64,
    /// Replayed as-of dates, and the weak flags they raised.
    pub steps: usize,
    pub flags: usize,
    /// Flags whose eight weeks had ended, and of them how many grew.
    pub labelled: usize,
    pub grew: usize,
    /// Analysts' marks (relevant or irrelevant) learnt from beside them.
    pub marks: usize,
    pub model: Option<RankModel>,
}

/// Replays every `step` from the first documents to `as_of`, records the
/// weak flags and fits the ranking on those whose eight weeks ended by
/// `as_of`, and on the analysts' `marks` beside them: the newest relevant
/// or irrelevant mark of a signal labels the flag it was made on (the
/// signal's latest flag before the mark with the growth closest to the
/// growth the mark recorded), whether or not its eight weeks have passed.
#[allow(clippy::too_many_arguments)]
pub fn rank_fit(
    corpus: &Corpus,
    terms: &DocTerms,
    marks: &[crate::store::MarkRow],
    as_of: i64,
    step: Window,
    window: Window,
    topics: &TopicsConfig,
    signals: &SignalsConfig,
    mut progress: impl FnMut(usize, usize),
) -> Result<RankFit> {
    let mut replay = Replay::new(corpus, terms, window, topics);
    let mut book = FlagBook::new(corpus, terms);
    let Some(&first) = corpus.published.first() else {
        return Ok(RankFit {
            as_of,
            steps: 0,
            flags: 0,
            labelled: 0,
            grew: 0,
            marks: 0,
            model: None,
        });
    };
    // From one baseline after the first document, on the as-of date's grid.
    let start = first + (signals.baseline_windows as i64 + 1) * window.seconds();
    let last = as_of - HORIZON_SECONDS;
    let mut dates = Vec::new();
    let mut t = as_of;
    while t >= start {
        if t <= last {
            dates.push(t);
        }
        t = retreat(t, step);
    }
    dates.reverse();
    let scored = Ranking::default();
    for (i, &t) in dates.iter().enumerate() {
        let (state, docs) = replay.at(t);
        // nothing new in the recent windows: no flags, skip the analysis
        let recent_start = t - signals.recent_windows.max(1) as i64 * window.seconds();
        let any_recent = corpus.published[..docs]
            .last()
            .is_some_and(|&p| p > recent_start);
        if any_recent {
            let (report, _) =
                analyse_state(corpus, terms, &replay, &state, docs, t, signals, &scored)?;
            book.record(t, &report, terms);
        }
        progress(i + 1, dates.len());
    }
    let (state, docs) = replay.at(as_of);
    book.label_until(as_of, corpus, &state, docs);
    let mut labelled = book.labelled_by(as_of);
    let grew = labelled.iter().filter(|f| f.grew == Some(true)).count();
    let (count, grew_count) = (labelled.len(), grew);
    let marked = marked_flags(&book.flags, marks);
    labelled.extend(marked.iter().cloned());
    Ok(RankFit {
        as_of,
        steps: dates.len(),
        flags: book.flags.len(),
        labelled: count,
        grew: grew_count,
        marks: marked.len(),
        model: RankModel::fit(&labelled, as_of, signals.rank_min_flags),
    })
}

/// The flags analysts marked relevant or irrelevant, labelled by the mark.
fn marked_flags(flags: &[Flag], marks: &[crate::store::MarkRow]) -> Vec<Flag> {
    // the newest mark of each signal counts
    let mut newest: HashMap<&str, &crate::store::MarkRow> = HashMap::new();
    for m in marks {
        newest.insert(m.signal.as_str(), m);
    }
    let mut out = Vec::new();
    for m in newest.into_values() {
        let relevant = match m.verdict.as_str() {
            "relevant" => true,
            "irrelevant" => false,
            _ => continue,
        };
        let growth_gap = |f: &Flag| (f.growth() - m.growth.unwrap_or(f.growth())).abs();
        let seen = flags
            .iter()
            .filter(|f| f.id == m.signal && f.as_of <= m.at)
            .min_by(|a, b| {
                growth_gap(a)
                    .total_cmp(&growth_gap(b))
                    .then(b.as_of.cmp(&a.as_of))
            });
        if let Some(f) = seen {
            out.push(Flag {
                grew: Some(relevant),
                ..f.clone()
            });
        }
    }
    out.sort_by(|a, b| a.as_of.cmp(&b.as_of).then(a.id.cmp(&b.id)));
    out
}

/// Fits the ranking on the store as of `as_of` and saves the fit (a model,
/// or why there is none) under its settings.
#[allow(clippy::too_many_arguments)]
pub fn fit_and_save(
    store: &mut crate::store::Store,
    model: &str,
    morphology: &std::sync::Arc<crate::morph::Morphology>,
    as_of: i64,
    window: Window,
    topics: &TopicsConfig,
    signals: &SignalsConfig,
    progress: impl FnMut(usize, usize),
) -> Result<(RankFit, crate::store::RankModelRow)> {
    let corpus = Corpus::load(store, model, Some(as_of))?;
    let terms = DocTerms::extract(&corpus, morphology);
    let marks = store.marks()?;
    let fit = rank_fit(
        &corpus, &terms, &marks, as_of, window, window, topics, signals, progress,
    )?;
    let note = match &fit.model {
        Some(_) => format!(
            "fitted on {} labelled weak flags ({} grew) of {} replayed dates{}",
            fit.labelled,
            fit.grew,
            fit.steps,
            match fit.marks {
                0 => String::new(),
                n => format!(", and {n} analysts' marks"),
            }
        ),
        None if fit.labelled < signals.rank_min_flags => format!(
            "too little history to learn from: {} weak flags could be followed for eight weeks before {}, {} needed",
            fit.labelled,
            &rfc3339(as_of)[..10],
            signals.rank_min_flags
        ),
        None => format!(
            "no model: of {} labelled weak flags {} grew, so there is nothing to tell apart",
            fit.labelled, fit.grew
        ),
    };
    let row = crate::store::RankModelRow {
        settings: rank::settings_key(model, morphology.id(), window, topics, signals),
        as_of,
        fitted_at: chrono::Utc::now().timestamp(),
        flags: fit.labelled,
        grew: fit.grew,
        model: fit
            .model
            .as_ref()
            .map(|m| serde_json::to_string(m).expect("a model serialises")),
        note,
    };
    store.save_rank_model(&row)?;
    Ok((fit, row))
}

/// `ts` moved one step back (months: same day a month earlier, clamped).
fn retreat(ts: i64, step: Window) -> i64 {
    match step {
        Window::Day | Window::Week => ts - step.seconds(),
        Window::Month => {
            let d = chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default();
            d.checked_sub_months(chrono::Months::new(1))
                .map(|n| n.timestamp())
                .unwrap_or(ts - 30 * 86_400)
        }
    }
}

/// An events file: known events to look for in a backtest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsFile {
    /// A signal counts when it is among the top this-many of the counted classes.
    #[serde(default = "default_top")]
    pub top: usize,
    /// Classes that count as flagging an event.
    #[serde(default = "default_classes")]
    pub classes: Vec<String>,
    /// Optional: a file of `document id<TAB>event name` lines (relative to the
    /// events file). With it, a signal is about the event most of its example
    /// documents are labelled with; without it, keywords decide.
    #[serde(default)]
    pub labels: Option<std::path::PathBuf>,
    #[serde(rename = "event")]
    pub events: Vec<Event>,
    /// Loaded from `labels`: document id -> event index.
    #[serde(skip)]
    pub doc_events: std::collections::HashMap<String, usize>,
}

fn default_top() -> usize {
    10
}

fn default_classes() -> Vec<String> {
    vec!["weak".into(), "emerging".into()]
}

/// One known event.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub name: String,
    /// A signal is about the event when one of its keywords contains one of these (case-insensitive).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// The date the event is known to have mattered (e.g. WHO's pandemic declaration).
    pub reference: String,
}

impl EventsFile {
    pub fn load(path: &Path) -> Result<EventsFile> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut file: EventsFile = toml::from_str(&text).map_err(|e| Error::Input {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        if let Some(labels) = &file.labels {
            let labels = path.parent().unwrap_or(Path::new(".")).join(labels);
            let text = std::fs::read_to_string(&labels).map_err(|e| Error::io(&labels, e))?;
            for (n, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let mut parts = line.split('\t');
                let (Some(id), Some(name)) = (parts.next(), parts.next()) else {
                    return Err(Error::Input {
                        path: labels.clone(),
                        message: format!("line {}: expected `document id<TAB>event name`", n + 1),
                    });
                };
                if let Some(i) = file.events.iter().position(|e| e.name == name.trim()) {
                    file.doc_events.insert(id.trim().to_string(), i);
                }
            }
        }
        for c in &file.classes {
            if !["weak", "emerging", "recurring", "strong", "fading", "noise"].contains(&c.as_str())
            {
                return Err(Error::Input {
                    path: path.to_path_buf(),
                    message: format!(
                        "classes: unknown class {c:?} (valid: weak, emerging, recurring, strong, fading, noise)"
                    ),
                });
            }
        }
        for e in &file.events {
            crate::time::parse_bound(&e.reference, false).map_err(|err| Error::Input {
                path: path.to_path_buf(),
                message: format!("event {:?}: reference: {err}", e.name),
            })?;
            if e.keywords.is_empty() && file.labels.is_none() {
                return Err(Error::Input {
                    path: path.to_path_buf(),
                    message: format!(
                        "event {:?}: keywords must not be empty (or give a labels file)",
                        e.name
                    ),
                });
            }
        }
        Ok(file)
    }
}

/// When one event was first flagged by one level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    pub as_of: String,
    pub signal: String,
    pub class: Class,
    pub rank: usize,
    /// Days between the detection and the reference date (positive: before it).
    pub lead_days: f64,
}

/// A backtest's result for one event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventResult {
    pub name: String,
    pub reference: String,
    pub topic: Option<Detection>,
    pub term: Option<Detection>,
}

/// One replay step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub as_of: String,
    /// Counted signals (top N of the counted classes), per level.
    pub flagged_topics: usize,
    pub flagged_terms: usize,
    /// Of those, how many match no event.
    pub unmatched_topics: usize,
    pub unmatched_terms: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestReport {
    pub from: String,
    pub to: String,
    pub window: Window,
    pub top: usize,
    pub events: Vec<EventResult>,
    pub steps: Vec<Step>,
    /// Of the topics flagged `weak` at some step T (with T + 8 weeks within
    /// the backtest), the share whose size (documents up to then) at least
    /// tripled by T + 8 weeks; topic membership as known at the end.
    pub weak_precision: Option<f64>,
    pub weak_flags_evaluated: usize,
    /// The same for weak term flags (documents holding the term), and for
    /// all weak flags, each labelled with what the store held at T + 8 weeks.
    pub weak_term_precision: Option<f64>,
    pub weak_term_flags_evaluated: usize,
    /// Weak topic flags labelled like term flags, with what the store held
    /// eight weeks later, and a topic that takes its class from a term
    /// growing inside it followed by that term.
    pub weak_topic_precision: Option<f64>,
    pub weak_topic_flags_evaluated: usize,
    /// How the learned ranking did against today's score.
    pub ranking: RankingEvaluation,
    /// A simulated analyst who marks the top 10 (and 5) each step by the
    /// eight-week truth: precision with and without marks.
    pub analyst: super::simulate::AnalystSimulation,
    /// Abroad-first flags followed for twelve weeks: the share that arrived
    /// home and the lag (`None` when `signals.home` names nothing).
    pub abroad: Option<super::abroad::AbroadFollowUp>,
    /// Every weak flag from `from` on, with its features and, when it could
    /// be followed for eight weeks, whether it grew.
    pub weak_flags: Vec<Flag>,
}

/// The learned ranking replayed: at each step a model fitted on the weak
/// flags whose eight weeks had ended ranks that step's weak flags.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RankingEvaluation {
    /// Steps with a model (enough labelled flags before them), and their
    /// weak flags that could be followed for eight weeks.
    pub steps_with_model: usize,
    pub flags_ranked: usize,
    /// Of the top 10 weak topic flags per step, how many later tripled:
    /// ranked by the model, and by today's score.
    pub top10_topics_model: usize,
    pub top10_topics_score: usize,
    /// The same over weak flags of both levels.
    pub top10_all_model: usize,
    pub top10_all_score: usize,
    /// Over all the steps' weak flags together (a key counted once, at its
    /// best-ranked flag): of the top 10 and top 20 by the model and by
    /// today's score, how many later tripled; topics, and both levels.
    pub pooled: Vec<PooledTop>,
    /// Brier score of the model's predictions, and of predicting each
    /// step's training share of flags that grew.
    pub brier: f64,
    pub brier_constant: f64,
    pub reliability: Vec<rank::ReliabilityBin>,
}

/// One row of [`RankingEvaluation::pooled`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PooledTop {
    pub top: usize,
    /// `topic` or `all`.
    pub flags: String,
    pub grew_by_model: usize,
    pub grew_by_score: usize,
}

/// Replays as-of runs from `from` to `to` every `step` and records when each
/// event was first flagged. Steps from the store's first documents on feed
/// the learned ranking (the flags a run on that date would have learned
/// from); events and figures count from `from`.
#[allow(clippy::too_many_arguments)]
pub fn backtest(
    corpus: &Corpus,
    terms: &DocTerms,
    events: &EventsFile,
    from: i64,
    to: i64,
    step: Window,
    window: Window,
    topics: &TopicsConfig,
    signals: &SignalsConfig,
    mut progress: impl FnMut(usize),
) -> Result<BacktestReport> {
    let mut replay = Replay::new(corpus, terms, window, topics);
    let mut book = FlagBook::new(corpus, terms);
    let mut results: Vec<EventResult> = events
        .events
        .iter()
        .map(|e| EventResult {
            name: e.name.clone(),
            reference: e.reference.clone(),
            topic: None,
            term: None,
        })
        .collect();
    let references: Vec<i64> = events
        .events
        .iter()
        .map(|e| {
            crate::time::parse_bound(&e.reference, false)
                .map(|d| d.timestamp())
                .unwrap_or(0)
        })
        .collect();
    let keywords: Vec<Vec<String>> = events
        .events
        .iter()
        .map(|e| e.keywords.iter().map(|k| k.to_lowercase()).collect())
        .collect();
    // Earlier steps on the same grid, from one baseline after the first
    // document: what the ranking learns from.
    let mut dates = Vec::new();
    if let Some(&first) = corpus.published.first() {
        let start = first + (signals.baseline_windows as i64 + 1) * window.seconds();
        let mut t = retreat(from, step);
        while t >= start {
            dates.push(t);
            t = retreat(t, step);
        }
        dates.reverse();
    }
    let warmup = dates.len();
    let mut t = from;
    while t <= to {
        dates.push(t);
        t = advance(t, step);
    }
    let mut steps = Vec::new();
    // What an analyst reads each week, for the simulated analyst's marks.
    let mut listed = book.empty_like();
    let mut listed_weeks = Vec::new();
    let mut weak_flags: Vec<(i64, u32)> = Vec::new();
    let mut abroad_flags: super::abroad::FirstFlags = Vec::new();
    // per evaluated step: its flags (index into the book) with p, and the training share
    let mut ranked: Vec<(Vec<(usize, f64)>, f64)> = Vec::new();
    for (n, &as_of) in dates.iter().enumerate() {
        let (state, docs) = replay.at(as_of);
        book.label_until(as_of, corpus, &state, docs);
        let training = book.labelled_by(as_of);
        let model = RankModel::fit_without_validation(&training, as_of, signals.rank_min_flags);
        let share = training.iter().filter(|f| f.grew == Some(true)).count() as f64
            / training.len().max(1) as f64;
        let ranking = match &model {
            Some(m) => Ranking::Model {
                model: Box::new(m.clone()),
            },
            None => Ranking::default(),
        };
        let (report, _) = analyse_state(
            corpus, terms, &replay, &state, docs, as_of, signals, &ranking,
        )?;
        let added = book.record(as_of, &report, terms);
        let shown = listed.record_where(as_of, &report, terms, |s| {
            matches!(s.class, Class::Weak | Class::Emerging)
        });
        if n < warmup {
            continue;
        }
        listed_weeks.push(super::simulate::ListedWeek {
            as_of,
            flags: shown,
        });
        if model.is_some() {
            let p: HashMap<&str, f64> = report
                .signals
                .iter()
                .filter_map(|s| s.p_grow.map(|p| (s.id.as_str(), p)))
                .collect();
            ranked.push((
                added
                    .iter()
                    .map(|&i| (i, p.get(book.flags[i].id.as_str()).copied().unwrap_or(0.0)))
                    .collect(),
                share,
            ));
        }
        for s in &report.signals {
            if let (Level::Topic, Some(first)) = (s.level, &s.abroad_first) {
                if let Some(id) = s.id.strip_prefix("topic-").and_then(|n| n.parse().ok()) {
                    if !abroad_flags.iter().any(|f| f.1 == id) {
                        abroad_flags.push((as_of, id, s.label.clone(), first.languages.clone()));
                    }
                }
            }
            if s.level == Level::Topic && s.class == Class::Weak {
                if let Some(id) = s.id.strip_prefix("topic-").and_then(|n| n.parse().ok()) {
                    weak_flags.push((as_of, id));
                }
            }
        }
        let mut step_row = Step {
            as_of: rfc3339(as_of),
            flagged_topics: 0,
            flagged_terms: 0,
            unmatched_topics: 0,
            unmatched_terms: 0,
        };
        for level in [Level::Topic, Level::Term] {
            let pool = match level {
                Level::Topic => &report.signals,
                Level::Term => &report.term_signals,
            };
            let counted = pool
                .iter()
                .filter(|s| s.level == level && events.classes.iter().any(|c| c == s.class.name()))
                .take(events.top);
            for (rank, signal) in counted.enumerate() {
                let mut matched = false;
                let labelled = labelled_event(events, signal);
                for (i, kws) in keywords.iter().enumerate() {
                    let hit = if events.labels.is_some() {
                        labelled == Some(i)
                    } else {
                        signal.keywords.iter().any(|k| {
                            let k = k.to_lowercase();
                            kws.iter().any(|w| k.contains(w.as_str()))
                        })
                    };
                    if !hit {
                        continue;
                    }
                    matched = true;
                    let slot = match level {
                        Level::Topic => &mut results[i].topic,
                        Level::Term => &mut results[i].term,
                    };
                    if slot.is_none() {
                        *slot = Some(Detection {
                            as_of: rfc3339(as_of),
                            signal: signal.id.clone(),
                            class: signal.class,
                            rank: rank + 1,
                            lead_days: (references[i] - as_of) as f64 / 86_400.0,
                        });
                    }
                }
                match (level, matched) {
                    (Level::Topic, m) => {
                        step_row.flagged_topics += 1;
                        step_row.unmatched_topics += usize::from(!m);
                    }
                    (Level::Term, m) => {
                        step_row.flagged_terms += 1;
                        step_row.unmatched_terms += usize::from(!m);
                    }
                }
            }
        }
        steps.push(step_row);
        progress(steps.len());
    }
    let (state, docs) = replay.at(to);
    book.label_until(to, corpus, &state, docs);
    listed.label_until(to, corpus, &state, docs);
    let analyst = super::simulate::simulate(
        &listed.flags,
        &listed_weeks,
        &[10, 5],
        signals.resurface_growth,
        signals.rank_min_flags,
    );
    let abroad = super::abroad::Home::new(&signals.home, corpus).map(|home| {
        let lookback = signals.history() as i64 * window.seconds();
        super::abroad::follow(corpus, &home, &state, docs, &abroad_flags, lookback, to)
    });
    let (weak_flags_evaluated, weak_precision) =
        weak_precision(corpus, &mut replay, to, &weak_flags);
    let followed_terms: Vec<&Flag> = book
        .flags
        .iter()
        .filter(|f| f.as_of >= from && f.id.starts_with("term-") && f.grew.is_some())
        .collect();
    let weak_term_precision = (!followed_terms.is_empty()).then(|| {
        followed_terms
            .iter()
            .filter(|f| f.grew == Some(true))
            .count() as f64
            / followed_terms.len() as f64
    });
    let followed_topics: Vec<&Flag> = book
        .flags
        .iter()
        .filter(|f| f.as_of >= from && f.id.starts_with("topic-") && f.grew.is_some())
        .collect();
    let weak_topic_precision = (!followed_topics.is_empty()).then(|| {
        followed_topics
            .iter()
            .filter(|f| f.grew == Some(true))
            .count() as f64
            / followed_topics.len() as f64
    });
    Ok(BacktestReport {
        from: rfc3339(from),
        to: rfc3339(to),
        window,
        top: events.top,
        events: results,
        steps,
        weak_precision,
        weak_flags_evaluated,
        weak_term_precision,
        weak_term_flags_evaluated: followed_terms.len(),
        weak_topic_precision,
        weak_topic_flags_evaluated: followed_topics.len(),
        ranking: evaluate_ranking(&book, &ranked),
        analyst,
        abroad,
        weak_flags: book
            .flags
            .iter()
            .filter(|f| f.as_of >= from)
            .cloned()
            .collect(),
    })
}

/// Top-10 hits of the model against today's score, and calibration, over
/// the steps that had a model (only flags that could be followed count).
fn evaluate_ranking(book: &FlagBook, ranked: &[(Vec<(usize, f64)>, f64)]) -> RankingEvaluation {
    let mut e = RankingEvaluation::default();
    let mut predictions: Vec<(f64, f64, bool)> = Vec::new();
    for (flags, share) in ranked {
        let followed: Vec<(usize, f64)> = flags
            .iter()
            .copied()
            .filter(|&(i, _)| book.flags[i].grew.is_some())
            .collect();
        if followed.is_empty() {
            continue;
        }
        e.steps_with_model += 1;
        e.flags_ranked += followed.len();
        let grew = |i: usize| book.flags[i].grew == Some(true);
        for &(i, p) in &followed {
            predictions.push((p, *share, grew(i)));
        }
        let top10 = |only_topics: bool, by_model: bool| -> usize {
            let mut pool: Vec<(usize, f64)> = followed
                .iter()
                .copied()
                .filter(|&(i, _)| !only_topics || book.flags[i].id.starts_with("topic-"))
                .map(|(i, p)| (i, if by_model { p } else { book.flags[i].score }))
                .collect();
            pool.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            pool.iter().take(10).filter(|&&(i, _)| grew(i)).count()
        };
        e.top10_topics_model += top10(true, true);
        e.top10_topics_score += top10(true, false);
        e.top10_all_model += top10(false, true);
        e.top10_all_score += top10(false, false);
    }
    let pooled: Vec<(usize, f64)> = ranked
        .iter()
        .flat_map(|(flags, _)| flags.iter().copied())
        .filter(|&(i, _)| book.flags[i].grew.is_some())
        .collect();
    for only_topics in [true, false] {
        for top in [10, 20] {
            let grew_in_top = |by_model: bool| -> usize {
                let mut pool: Vec<(usize, f64)> = pooled
                    .iter()
                    .copied()
                    .filter(|&(i, _)| !only_topics || book.flags[i].id.starts_with("topic-"))
                    .map(|(i, p)| (i, if by_model { p } else { book.flags[i].score }))
                    .collect();
                pool.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                let mut seen = std::collections::HashSet::new();
                pool.iter()
                    .filter(|&&(i, _)| seen.insert(book.flags[i].id.clone()))
                    .take(top)
                    .filter(|&&(i, _)| book.flags[i].grew == Some(true))
                    .count()
            };
            e.pooled.push(PooledTop {
                top,
                flags: if only_topics { "topic" } else { "all" }.into(),
                grew_by_model: grew_in_top(true),
                grew_by_score: grew_in_top(false),
            });
        }
    }
    (e.brier, e.brier_constant) = rank::brier_scores(&predictions);
    e.reliability = rank::reliability(&predictions);
    e
}

/// How many weak flags could be followed for 8 weeks, and the share of them
/// whose topic at least tripled in size (documents published so far) by then.
fn weak_precision(
    corpus: &Corpus,
    replay: &mut Replay<'_>,
    to: i64,
    flags: &[(i64, u32)],
) -> (usize, Option<f64>) {
    const EIGHT_WEEKS: i64 = 8 * 7 * 86_400;
    let followed: Vec<&(i64, u32)> = flags
        .iter()
        .filter(|(t, _)| t + EIGHT_WEEKS <= to)
        .collect();
    if followed.is_empty() {
        return (0, None);
    }
    let (state, docs) = replay.at(to);
    let assignment = state.resolved_assignment();
    let mut grew = 0usize;
    for &&(t, topic) in &followed {
        let topic = state.resolve(topic);
        let size_at = |until: i64| {
            (0..docs)
                .filter(|&d| corpus.published[d] <= until && assignment[d] == topic)
                .count()
        };
        let (before, after) = (size_at(t), size_at(t + EIGHT_WEEKS));
        if before > 0 && after >= 3 * before {
            grew += 1;
        }
    }
    (followed.len(), Some(grew as f64 / followed.len() as f64))
}

/// The event most of a signal's example documents are labelled with (ties:
/// the first event in the file); `None` when most are unlabelled.
fn labelled_event(events: &EventsFile, signal: &super::Signal) -> Option<usize> {
    let mut counts = vec![0usize; events.events.len()];
    for e in &signal.examples {
        if let Some(&i) = events.doc_events.get(&e.id) {
            counts[i] += 1;
        }
    }
    let (best, n) = counts
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))?;
    (*n * 2 > signal.examples.len()).then_some(best)
}

/// `ts` moved one step forward (months: same day next month, clamped).
pub fn advance(ts: i64, step: Window) -> i64 {
    match step {
        Window::Day | Window::Week => ts + step.seconds(),
        Window::Month => {
            let d = chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default();
            d.checked_add_months(chrono::Months::new(1))
                .map(|n| n.timestamp())
                .unwrap_or(ts + 30 * 86_400)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(signal: &str, verdict: &str, at: i64, growth: f64) -> crate::store::MarkRow {
        crate::store::MarkRow {
            id: 0,
            signal: signal.into(),
            verdict: verdict.into(),
            duplicate_of: None,
            note: String::new(),
            by: "ana".into(),
            at,
            growth: Some(growth),
        }
    }

    #[test]
    fn the_newest_mark_labels_the_flag_it_was_made_on() {
        let flags = vec![
            rank::test_flag(0, "topic-1", 2.0),
            rank::test_flag(100, "topic-1", 4.0),
            rank::test_flag(200, "topic-1", 3.0),
            rank::test_flag(100, "topic-2", 2.0),
        ];
        let marks = vec![
            mark("topic-1", "relevant", 150, 2.0),
            // newer: counts; made at 150 on the flag of growth 4 (not the later one)
            mark("topic-1", "irrelevant", 150, 4.0),
            mark("topic-2", "duplicate-of", 150, 2.0),
            mark("topic-9", "relevant", 150, 2.0),
        ];
        let labelled = marked_flags(&flags, &marks);
        assert_eq!(labelled.len(), 1, "{labelled:?}");
        assert_eq!(labelled[0].as_of, 100);
        assert_eq!(labelled[0].grew, Some(false));
    }
}
