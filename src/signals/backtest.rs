//! Replays: signals as of past dates, and a backtest that checks how early
//! known events would have been flagged.
//!
//! [`Replay`] advances the clustering over complete calendar windows once and
//! processes the as-of date's partial window on a copy, so a replay at date
//! T runs exactly the code and input of a standalone `signals --as-of T`.

use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{rfc3339, Analysis, Before, Class, DocTerms, Level, SignalReport, TopicSummary};
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
) -> Result<(SignalReport, Vec<TopicSummary>)> {
    let (state, docs) = replay.at(as_of);
    Analysis {
        corpus,
        before: &Before::default(),
        terms,
        state: &state,
        docs,
        as_of,
        window: replay.window,
        topics_config: replay.config,
        config: signals,
    }
    .run()
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
            if !["weak", "emerging", "strong", "fading", "noise"].contains(&c.as_str()) {
                return Err(Error::Input {
                    path: path.to_path_buf(),
                    message: format!(
                        "classes: unknown class {c:?} (valid: weak, emerging, strong, fading, noise)"
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
}

/// Replays as-of runs from `from` to `to` every `step` and records when each event was first flagged.
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
    let mut steps = Vec::new();
    let mut weak_flags: Vec<(i64, u32)> = Vec::new();
    let mut as_of = from;
    while as_of <= to {
        let (report, _) = analyse(corpus, terms, &mut replay, as_of, signals)?;
        for s in &report.signals {
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
        as_of = advance(as_of, step);
    }
    let (weak_flags_evaluated, weak_precision) =
        weak_precision(corpus, &mut replay, to, &weak_flags);
    Ok(BacktestReport {
        from: rfc3339(from),
        to: rfc3339(to),
        window,
        top: events.top,
        events: results,
        steps,
        weak_precision,
        weak_flags_evaluated,
    })
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
