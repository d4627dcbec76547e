//! The analyst's loop: watches follow a query, a topic or a concept; after
//! a run's signals every watch is evaluated, and each firing is an alert,
//! stored once and delivered by every channel that does not have it yet.
//!
//! An analyst follows a few themes and wants to be told when something about
//! them moves, not to reread the whole report. A watch says what to follow
//! ([`Target`]) and when to tell ([`Rule`]); its quiet period keeps a signal
//! from alerting again every run. Channels ([`channel`]: an Atom feed, a
//! signed webhook) are configured in `config.toml` as a closed enum by
//! `kind`. A channel that fails never fails the run's other stages: the run
//! ends `partial`, and the next run retries what it did not deliver.

pub mod atom;
pub mod channel;
pub mod email;
pub mod hmac;
pub mod webhook;

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::report::Report;
use crate::signals::{Class, Signal};
use crate::store::{Store, WatchRow};

/// What a watch follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// A search query (tantivy syntax) over the recent documents, with
    /// optional source and language filters.
    Query {
        query: String,
        #[serde(default)]
        source: Option<String>,
        #[serde(default)]
        lang: Option<String>,
    },
    /// A topic, followed through merges (the topic it merged into) and
    /// splits (the topics split off it).
    Topic { id: u32 },
    /// A short text in any language, matched by embedding similarity to the
    /// signals' documents ("lasten mielenterveys" also finds English news on
    /// children's mental health).
    Concept { text: String },
}

/// When a matching signal fires.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "when", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// A weak signal that was not a signal in the previous report.
    NewWeak,
    /// A signal promoted to emerging or strong since the previous report.
    Promoted,
    /// A weak, emerging or strong signal growing at least `growth` times.
    Growth { growth: f64 },
}

impl Rule {
    pub fn describe(&self) -> String {
        match self {
            Rule::NewWeak => "a new weak signal".into(),
            Rule::Promoted => "a promotion to emerging or strong".into(),
            Rule::Growth { growth } => format!("growth of at least {growth}x"),
        }
    }
}

/// A watch as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Watch {
    pub name: String,
    pub owner: String,
    pub target: Target,
    pub rule: Rule,
    /// A signal that alerted does not alert again for this many days.
    pub quiet_days: u32,
    pub created_at: i64,
}

#[derive(Serialize, Deserialize)]
struct Spec {
    target: Target,
    rule: Rule,
}

impl Watch {
    /// Checks a watch before it is stored: a name, a non-empty target.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Usage(format!("watch {:?}: {m}", self.name)));
        if self.name.trim().is_empty() || self.name.len() > 100 {
            return bad("a name of 1 to 100 characters is needed".into());
        }
        match &self.target {
            Target::Query { query, .. } if query.trim().is_empty() => {
                bad("the query is empty".into())
            }
            Target::Concept { text } if text.trim().is_empty() || text.len() > 500 => {
                bad("the concept must be 1 to 500 characters".into())
            }
            _ => match self.rule {
                Rule::Growth { growth } if !(growth.is_finite() && growth > 0.0) => {
                    bad(format!("growth {growth} must be a positive number"))
                }
                _ => Ok(()),
            },
        }
    }

    pub fn row(&self) -> Result<WatchRow> {
        let spec = serde_json::to_string(&Spec {
            target: self.target.clone(),
            rule: self.rule,
        })
        .map_err(|e| Error::Serialize {
            what: "watch".into(),
            message: e.to_string(),
        })?;
        Ok(WatchRow {
            name: self.name.clone(),
            spec,
            owner: self.owner.clone(),
            quiet_days: self.quiet_days,
            created_at: self.created_at,
        })
    }

    pub fn from_row(row: &WatchRow) -> Result<Watch> {
        let spec: Spec = serde_json::from_str(&row.spec).map_err(|e| Error::Serialize {
            what: format!("watch {:?} in the store", row.name),
            message: e.to_string(),
        })?;
        Ok(Watch {
            name: row.name.clone(),
            owner: row.owner.clone(),
            target: spec.target,
            rule: spec.rule,
            quiet_days: row.quiet_days,
            created_at: row.created_at,
        })
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        let target = match &self.target {
            Target::Query {
                query,
                source,
                lang,
            } => {
                let mut t = format!("query {query:?}");
                if let Some(s) = source {
                    t.push_str(&format!(" in {s}"));
                }
                if let Some(l) = lang {
                    t.push_str(&format!(" ({l})"));
                }
                t
            }
            Target::Topic { id } => format!("topic {id}"),
            Target::Concept { text } => format!("concept {text:?}"),
        };
        format!(
            "{target}; fires on {}; quiet {} days",
            self.rule.describe(),
            self.quiet_days
        )
    }
}

/// Every stored watch.
pub fn watches(store: &Store) -> Result<Vec<Watch>> {
    store.watches()?.iter().map(Watch::from_row).collect()
}

/// What a watch's target needs from outside the report.
pub trait Matcher {
    /// Ids of the documents of the recent windows that match `target` (a query).
    fn query_hits(&mut self, target: &Target) -> Result<HashSet<String>>;
    /// `text` embedded as a query (unit vector).
    fn embed_concept(&mut self, text: &str) -> Result<Vec<f32>>;
}

/// A watch's target made ready once per evaluation: the query run, the
/// concept embedded (not once per signal).
enum Prepared {
    Query(String, HashSet<String>),
    Topic(u32),
    Concept(String, Vec<f32>),
}

impl Prepared {
    fn of(target: &Target, matcher: &mut dyn Matcher) -> Result<Prepared> {
        Ok(match target {
            Target::Query { query, .. } => {
                Prepared::Query(query.clone(), matcher.query_hits(target)?)
            }
            Target::Topic { id } => Prepared::Topic(*id),
            Target::Concept { text } => {
                Prepared::Concept(text.clone(), matcher.embed_concept(text)?)
            }
        })
    }

    /// Why `signal` matches, if it does.
    fn matches(&self, signal: &Signal, config: &crate::config::AlertsConfig) -> Option<String> {
        match self {
            Prepared::Query(query, hits) => {
                let n = signal
                    .member_ids
                    .iter()
                    .filter(|id| hits.contains(*id))
                    .count();
                let total = signal.member_ids.len().max(1);
                (n > 0 && n as f64 >= config.query_share * total as f64).then(|| {
                    format!("{n} of its {total} recent documents match the query {query:?}")
                })
            }
            Prepared::Topic(id) => {
                let own = signal.id == format!("topic-{id}");
                (own || signal.lineage.contains(id)).then(|| {
                    if own {
                        format!("it is topic {id}")
                    } else {
                        format!("it continues topic {id} (merged or split)")
                    }
                })
            }
            Prepared::Concept(text, concept) => {
                if signal.centroid.is_empty() {
                    return None;
                }
                let cosine = crate::embed::dot(concept, &signal.centroid);
                (cosine >= config.concept_threshold)
                    .then(|| format!("its documents are close to {text:?} (cosine {cosine:.3})"))
            }
        }
    }
}

/// Whether `signal` meets `rule` in `report`.
fn fires(rule: Rule, signal: &Signal, report: &Report) -> bool {
    let changes = &report.since_previous;
    match rule {
        Rule::NewWeak => {
            signal.class == Class::Weak && changes.new.iter().any(|c| c.id == signal.id)
        }
        Rule::Promoted => {
            matches!(signal.class, Class::Emerging | Class::Strong)
                && (changes.promoted.iter().any(|c| c.id == signal.id)
                    || changes.new.iter().any(|c| c.id == signal.id))
        }
        Rule::Growth { growth } => {
            matches!(signal.class, Class::Weak | Class::Emerging | Class::Strong)
                && signal.growth >= growth
        }
    }
}

/// An alert as channels deliver it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertBody {
    pub watch: String,
    pub owner: String,
    pub rule: Rule,
    /// Why the signal matched the watch.
    pub evidence: String,
    pub as_of: String,
    pub signal: AlertSignal,
}

/// The signal of an alert, as it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertSignal {
    pub id: String,
    pub label: String,
    pub class: String,
    pub growth: f64,
    pub recent_docs: u32,
    pub keywords: Vec<String>,
    pub why: String,
    pub examples: Vec<AlertExample>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertExample {
    pub published: String,
    pub source: String,
    pub title: String,
    pub url: Option<String>,
}

impl AlertBody {
    /// One line for people (feed titles, chat messages, e-mail subjects).
    pub fn headline(&self) -> String {
        format!(
            "{}: {} signal \"{}\" ({:.1}x, {} recent documents)",
            self.watch,
            self.signal.class,
            self.signal.label,
            self.signal.growth,
            self.signal.recent_docs
        )
    }
}

/// The alerts `watches` fire on `report`: (watch, signal, body), one per
/// watch and signal.
pub fn evaluate(
    watches: &[Watch],
    report: &Report,
    matcher: &mut dyn Matcher,
    config: &crate::config::AlertsConfig,
) -> Result<Vec<(String, String, AlertBody)>> {
    let mut out = Vec::new();
    for watch in watches {
        let firing: Vec<&Signal> = report
            .current
            .signals
            .iter()
            .filter(|s| fires(watch.rule, s, report))
            .collect();
        if firing.is_empty() {
            continue;
        }
        let target = Prepared::of(&watch.target, matcher)?;
        for signal in firing {
            let Some(evidence) = target.matches(signal, config) else {
                continue;
            };
            out.push((
                watch.name.clone(),
                signal.id.clone(),
                AlertBody {
                    watch: watch.name.clone(),
                    owner: watch.owner.clone(),
                    rule: watch.rule,
                    evidence,
                    as_of: report.current.as_of.clone(),
                    signal: AlertSignal {
                        id: signal.id.clone(),
                        label: signal.label.clone(),
                        class: signal.class.name().into(),
                        growth: signal.growth,
                        recent_docs: signal.recent_docs,
                        keywords: signal.keywords.clone(),
                        why: signal.why.clone(),
                        examples: signal
                            .examples
                            .iter()
                            .map(|e| AlertExample {
                                published: e.published.clone(),
                                source: e.source.clone(),
                                title: e.title.clone(),
                                url: e.url.clone(),
                            })
                            .collect(),
                    },
                },
            ));
        }
    }
    Ok(out)
}

/// A stored alert as the CLI and the API show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRecord {
    pub id: i64,
    pub watch: String,
    pub signal: String,
    pub as_of: String,
    pub fired_at: String,
    pub alert: serde_json::Value,
}

impl AlertRecord {
    pub fn of(row: &crate::store::AlertRow) -> AlertRecord {
        AlertRecord {
            id: row.id,
            watch: row.watch.clone(),
            signal: row.signal.clone(),
            as_of: crate::signals::rfc3339(row.as_of),
            fired_at: crate::signals::rfc3339(row.fired_at),
            alert: serde_json::from_str(&row.body).unwrap_or_default(),
        }
    }
}

/// A query watch's query must parse: checked when the watch is added, not
/// at the next run.
pub fn check_query(
    index: &crate::index::SearchIndex,
    store: &Store,
    target: &Target,
) -> Result<()> {
    let Target::Query { query, .. } = target else {
        return Ok(());
    };
    let request = crate::index::SearchRequest {
        query: query.clone(),
        from: None,
        to: None,
        source: None,
        lang: None,
        limit: 1,
        facets: false,
    };
    index.search(store, &request).map(|_| ())
}

/// What one evaluation stored: alerts new this run, and those a quiet
/// period or an earlier run of the same day already had.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stored {
    pub fired: usize,
    pub quiet: usize,
    pub already: usize,
}

/// Stores the firings of a run as of `as_of` (unix seconds), skipping a
/// watch and signal that alerted less than the watch's quiet period
/// before, in one transaction.
pub fn store(
    store: &mut Store,
    watches: &[Watch],
    firings: &[(String, String, AlertBody)],
    as_of: i64,
    now: i64,
) -> Result<Stored> {
    store.in_transaction(|tx| {
        let mut stored = Stored::default();
        for (watch, signal, body) in firings {
            let quiet = watches
                .iter()
                .find(|w| &w.name == watch)
                .map_or(0, |w| w.quiet_days as i64 * 86_400);
            if let Some((last, _)) = tx.last_alert(watch, signal)? {
                if last == as_of {
                    stored.already += 1;
                    continue;
                }
                if last < as_of && as_of - last < quiet {
                    stored.quiet += 1;
                    continue;
                }
            }
            let json = serde_json::to_string(body).map_err(|e| Error::Serialize {
                what: "alert".into(),
                message: e.to_string(),
            })?;
            match tx.insert_alert(watch, signal, as_of, now, &json)? {
                Some(_) => stored.fired += 1,
                None => stored.already += 1,
            }
        }
        Ok(stored)
    })
}
