//! Signal reports: what an analyst reads, in one file they can mail or open
//! offline.
//!
//! A report is the signal analysis as of one date plus what changed since the
//! analysis one window earlier ("since the previous report": new signals,
//! promotions from weak to emerging to strong, signals that started fading or
//! ended). It renders as self-contained HTML ([`html`]), Markdown for email
//! and chat ([`markdown`]), or JSON in the shape of `signals --json` with a
//! `since_previous` section added.
//!
//! Every string in a report comes from scraped documents and is untrusted:
//! the renderers escape it, and only `http(s)` addresses become links.

pub mod html;
pub mod markdown;

use serde::Serialize;

use crate::config::{SignalsConfig, TopicsConfig, Window};
use crate::error::Result;
use crate::signals::view::{Checkpoints, View};
use crate::signals::{Class, Signal, SignalReport};
use crate::store::Store;

/// Writes `bytes` to `path` through a temporary file in the same directory
/// and a rename, so a reader (or a crash) never sees half a report.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| crate::Error::io(&dir, e))?;
    let mut temp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| crate::Error::io(&dir, e))?;
    temp.write_all(bytes)
        .and_then(|_| temp.as_file().sync_all())
        .map_err(|e| crate::Error::io(path, e))?;
    // A temporary file is private (0600); a report is for reading.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(0o644))
            .map_err(|e| crate::Error::io(path, e))?;
    }
    crate::failpoint::hit("report.write");
    temp.persist(path)
        .map_err(|e| crate::Error::io(path, e.error))?;
    crate::failpoint::hit("report.rename");
    Ok(())
}

/// Output formats of `weaksignal report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Html,
    Md,
    Json,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Md => "md",
            Format::Json => "json",
        }
    }
}

/// A signal report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub current: SignalReport,
    pub generated_at: String,
    /// The thresholds that divide the emergence map into quadrants.
    pub map: MapSplit,
    pub since_previous: Changes,
    /// The run that produced the report, with what happened to each source
    /// (absent for `weaksignal report`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<crate::run::RunNotes>,
    /// The taxonomies the signals are tagged with, with their signals per
    /// category: the futures radar's sectors and the report's grouping.
    pub taxonomies: Vec<TaxonomyGroups>,
}

/// One taxonomy's categories, each with the signals tagged with it.
#[derive(Debug, Clone, Serialize)]
pub struct TaxonomyGroups {
    pub taxonomy: String,
    pub categories: Vec<CategoryGroup>,
}

/// A category and the ids of its signals (best tag score first).
#[derive(Debug, Clone, Serialize)]
pub struct CategoryGroup {
    pub id: String,
    pub name: String,
    pub signals: Vec<String>,
}

/// Where the emergence map's quadrant lines are: the visibility above which
/// a growing signal is `strong`, and the growth above which it is `weak`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MapSplit {
    pub visibility: f64,
    pub growth: f64,
}

/// What changed since the analysis one window earlier.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Changes {
    /// As-of time of the previous analysis (`None` when there was nothing to compare with).
    pub previous_as_of: Option<String>,
    /// Signals that were not signals in the previous report.
    pub new: Vec<Change>,
    /// Signals that moved up: weak -> emerging -> strong.
    pub promoted: Vec<Change>,
    /// Signals that are fading now and were not before.
    pub fading: Vec<Change>,
    /// Signals of the previous report that are no longer signals.
    pub ended: Vec<Change>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Change {
    pub id: String,
    pub label: String,
    pub from: Option<Class>,
    pub to: Option<Class>,
}

/// Rank of a growing class: a promotion is a move to a higher rank.
fn rank(class: Class) -> Option<u8> {
    match class {
        Class::Weak => Some(1),
        Class::Emerging => Some(2),
        Class::Strong => Some(3),
        Class::Recurring | Class::Fading | Class::Noise => None,
    }
}

/// Compares two analyses signal by signal (topic ids are stable across
/// windows; merged topics resolve to the survivor).
pub fn compare(previous: &SignalReport, current: &SignalReport) -> Changes {
    let listed = |r: &SignalReport| -> Vec<(String, String, Class)> {
        r.signals
            .iter()
            .filter(|s| s.class != Class::Noise)
            .map(|s| (s.id.clone(), s.label.clone(), s.class))
            .collect()
    };
    let before = listed(previous);
    let now = listed(current);
    let find = |list: &[(String, String, Class)], id: &str| {
        list.iter().find(|(i, _, _)| i == id).map(|(_, _, c)| *c)
    };
    let mut changes = Changes {
        previous_as_of: Some(previous.as_of.clone()),
        ..Changes::default()
    };
    for (id, label, class) in &now {
        let was = find(&before, id);
        let change = Change {
            id: id.clone(),
            label: label.clone(),
            from: was,
            to: Some(*class),
        };
        match was {
            None if *class != Class::Fading => changes.new.push(change),
            Some(was) if *class == Class::Fading && was != Class::Fading => {
                changes.fading.push(change)
            }
            None => changes.fading.push(change),
            Some(was) => {
                if let (Some(a), Some(b)) = (rank(was), rank(*class)) {
                    if b > a {
                        changes.promoted.push(change);
                    }
                }
            }
        }
    }
    for (id, label, class) in &before {
        if find(&now, id).is_none() {
            changes.ended.push(Change {
                id: id.clone(),
                label: label.clone(),
                from: Some(*class),
                to: None,
            });
        }
    }
    changes
}

/// What a report covers.
pub struct ReportRequest<'a> {
    pub model: &'a str,
    pub as_of: i64,
    pub window: Window,
    pub topics: &'a TopicsConfig,
    pub signals: &'a SignalsConfig,
    /// Most signals listed per class.
    pub per_class: usize,
    pub checkpoints: Checkpoints,
    pub morphology: &'a std::sync::Arc<crate::morph::Morphology>,
    /// Taxonomies the signals are tagged with.
    pub taggers: &'a [crate::taxonomy::tagger::Tagger],
}

/// Analyses the store as of the request's date and one window earlier, and
/// compares the two. Both analyses start from clustering checkpoints, so a
/// report costs about two incremental `signals` runs.
pub fn generate(store: &mut Store, request: &ReportRequest) -> Result<Report> {
    // Both analyses see the analysts' marks, so a hidden signal is neither
    // listed nor reported as ended.
    let marks = store.marks()?;
    let analyse = |store: &mut Store, as_of: i64| -> Result<Option<SignalReport>> {
        let view = View::build(
            store,
            request.model,
            request.morphology,
            as_of,
            request.window,
            request.topics,
            request.signals,
            request.checkpoints,
        )?;
        if view.corpus.is_empty() && view.before.docs == 0 {
            return Ok(None);
        }
        let mut report = view.analyse(request.topics, request.signals)?.0;
        view.tag(&mut report, request.taggers, request.signals.history());
        crate::signals::marks::apply(&mut report, &marks, request.signals.resurface_growth);
        Ok(Some(report))
    };
    let current = analyse(store, request.as_of)?.ok_or_else(|| crate::Error::NoDocumentsAsOf {
        as_of: crate::signals::rfc3339(request.as_of),
    })?;
    let previous = analyse(store, request.as_of - request.window.seconds())?;
    let since_previous = match &previous {
        Some(previous) => compare(previous, &current),
        None => Changes::default(),
    };
    Ok(Report::new(current, since_previous, request))
}

impl Report {
    fn new(mut current: SignalReport, since_previous: Changes, request: &ReportRequest) -> Report {
        current.signals.retain(|s| s.class != Class::Noise);
        let mut kept = std::collections::HashMap::<Class, usize>::new();
        current.signals.retain(|s| {
            let n = kept.entry(s.class).or_default();
            *n += 1;
            *n <= request.per_class
        });
        Report {
            current,
            generated_at: crate::signals::rfc3339(chrono::Utc::now().timestamp()),
            map: MapSplit {
                visibility: request.signals.strong_visibility,
                growth: request.signals.weak_growth,
            },
            since_previous,
            run: None,
            taxonomies: Vec::new(),
        }
        .grouped(request.taggers)
    }

    /// Groups the signals by their tags on each tagger's taxonomy.
    fn grouped(mut self, taggers: &[crate::taxonomy::tagger::Tagger]) -> Report {
        self.taxonomies = taggers
            .iter()
            .map(|tagger| TaxonomyGroups {
                taxonomy: tagger.taxonomy.clone(),
                categories: tagger
                    .categories()
                    .map(|(id, name)| {
                        let mut tagged: Vec<(f64, String)> = self
                            .current
                            .signals
                            .iter()
                            .filter_map(|s| {
                                s.tags
                                    .iter()
                                    .find(|t| t.taxonomy == tagger.taxonomy && t.id == id)
                                    .map(|t| (t.score, s.id.clone()))
                            })
                            .collect();
                        tagged.sort_by(|a, b| b.0.total_cmp(&a.0));
                        CategoryGroup {
                            id: id.to_string(),
                            name: name.to_string(),
                            signals: tagged.into_iter().map(|(_, id)| id).collect(),
                        }
                    })
                    .collect(),
            })
            .collect();
        self
    }

    /// The signals of one class, in score order.
    pub fn of_class(&self, class: Class) -> impl Iterator<Item = (usize, &Signal)> {
        self.current
            .signals
            .iter()
            .enumerate()
            .filter(move |(_, s)| s.class == class)
    }

    /// Renders the report.
    pub fn render(&self, format: Format) -> Result<String> {
        Ok(match format {
            Format::Html => html::render(self),
            Format::Md => markdown::render(self),
            Format::Json => {
                let mut text =
                    serde_json::to_string_pretty(self).map_err(|e| crate::Error::Serialize {
                        what: "report".into(),
                        message: e.to_string(),
                    })?;
                text.push('\n');
                text
            }
        })
    }
}

/// The classes in the order a report lists them.
pub const CLASS_ORDER: [Class; 4] = [Class::Weak, Class::Emerging, Class::Strong, Class::Fading];

/// What a class means, for readers of the report.
pub fn class_meaning(class: Class) -> &'static str {
    match class {
        Class::Weak => "small and growing fast: early, uncertain, worth watching",
        Class::Emerging => "growth sustained over two windows, visibility rising",
        Class::Strong => "visible and still growing: an established trend",
        Class::Recurring => "rose in the same weeks of an earlier year: a season, not news",
        Class::Fading => "visibility falling",
        Class::Noise => "too few documents or too little surprise to trust",
    }
}

/// `2020-01-31T23:59:59Z` as `2020-01-31`.
pub fn day(rfc3339: &str) -> &str {
    rfc3339.get(..10).unwrap_or(rfc3339)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::signals::{Level, TopicFigures};

    pub(crate) fn signal(id: &str, class: Class) -> Signal {
        Signal {
            id: id.into(),
            level: Level::Topic,
            found_by: vec![Level::Topic],
            class,
            label: format!("label of {id}"),
            keywords: vec!["k".into()],
            score: 1.0,
            growth: 3.0,
            acceleration: 0.0,
            visibility: 0.01,
            visibility_baseline: 0.001,
            diffusion: 1.0,
            recent_docs: 4,
            docs: 5,
            sources: 1,
            burst: 2.0,
            novelty: 0.1,
            first_seen: "2020-01-01T00:00:00Z".into(),
            previous_bursts: 0,
            p_value: 0.001,
            q_value: 0.01,
            single_source: true,
            dov: 0.0,
            dod: 0.0,
            dov_growth: 0.0,
            dod_growth: 0.0,
            why: "because".into(),
            timeline: vec![],
            examples: vec![],
            recurs: vec![],
            also: vec![],
            tags: vec![],
            abroad_first: None,
            arrived_home: None,
            members: vec![],
            member_ids: vec![],
            centroid: vec![],
            lineage: vec![],
            words: vec![],
            strength: 1.0,
            p_grow: None,
            season: vec![],
            promoted_by: None,
        }
    }

    pub(crate) fn report(signals: Vec<Signal>) -> SignalReport {
        SignalReport {
            as_of: "2020-01-31T23:59:59Z".into(),
            window: Window::Week,
            figures: TopicFigures::default(),
            window_docs: 100,
            median_window_docs: 100.0,
            thin: false,
            tested: 1,
            ranking: crate::signals::Ranking::default(),
            home: None,
            signals,
            hidden: vec![],
            category_shares: vec![],
            term_signals: vec![],
        }
    }

    #[test]
    fn changes_name_new_promoted_fading_and_ended_signals() {
        let previous = report(vec![
            signal("topic-1", Class::Weak),
            signal("topic-2", Class::Emerging),
            signal("topic-3", Class::Strong),
            signal("topic-4", Class::Weak),
            signal("topic-6", Class::Noise),
        ]);
        let current = report(vec![
            signal("topic-1", Class::Emerging),
            signal("topic-2", Class::Emerging),
            signal("topic-3", Class::Fading),
            signal("topic-5", Class::Weak),
            signal("topic-6", Class::Weak),
        ]);
        let c = compare(&previous, &current);
        let ids = |v: &[Change]| v.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&c.new), ["topic-5", "topic-6"]);
        assert_eq!(ids(&c.promoted), ["topic-1"]);
        assert_eq!(c.promoted[0].from, Some(Class::Weak));
        assert_eq!(ids(&c.fading), ["topic-3"]);
        assert_eq!(ids(&c.ended), ["topic-4"]);
    }
}
