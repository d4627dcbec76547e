//! Signals from abroad: "already there, not yet here".
//!
//! Foresight teams ask of a signal whether it is already happening elsewhere
//! and not yet at home. The embeddings are cross-lingual, so a story told in
//! English and later in Finnish lands in one topic; what is needed is which
//! of a topic's documents are *home* (`signals.home`: languages and/or
//! sources) and which are *abroad*.
//!
//! * A topic that is weak or emerging while it has at most
//!   `signals.home.max_docs` home documents in the look-back is
//!   [`AbroadFirst`]: since when it has grown abroad, in which languages and
//!   sources, and how many home documents it has.
//! * A topic whose home documents came only after it had grown abroad records
//!   [`ArrivedHome`]: the date its home documents passed `max_docs` and the
//!   lag behind the day its abroad documents reached `signals.min_docs` (the
//!   first day it could have been flagged).
//! * [`follow`] is the backtest's proof of the feature: of the topics flagged
//!   abroad-first on replayed dates, the share that arrived home within
//!   twelve weeks, and the lag.
//!
//! Everything is computed from the documents up to the as-of time, so a
//! replay of a past date says what a run on that date would have said.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::rfc3339;
use crate::config::HomeConfig;
use crate::topics::{Corpus, TopicState};

/// How long a flag is followed for its arrival home.
pub const FOLLOW_SECONDS: i64 = 12 * 7 * 86_400;

/// Which documents are home.
pub struct Home {
    languages: HashSet<String>,
    sources: HashSet<u32>,
    pub max_docs: usize,
    pub min_spread: usize,
    pub name: String,
}

impl Home {
    /// `None` when `config` names no home language and no home source.
    pub fn new(config: &HomeConfig, corpus: &Corpus) -> Option<Home> {
        if config.languages.is_empty() && config.sources.is_empty() {
            return None;
        }
        let sources = corpus
            .sources
            .iter()
            .enumerate()
            .filter(|(_, name)| config.sources.iter().any(|s| s == *name))
            .map(|(i, _)| i as u32)
            .collect();
        Some(Home {
            languages: config.languages.iter().cloned().collect(),
            sources,
            max_docs: config.max_docs,
            min_spread: config.min_abroad_spread,
            name: config.name.clone(),
        })
    }

    pub fn is_home(&self, corpus: &Corpus, d: usize) -> bool {
        self.languages.contains(&corpus.langs[d]) || self.sources.contains(&corpus.source[d])
    }
}

/// A language or a source, with its documents.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Count {
    pub name: String,
    pub docs: u32,
}

/// Growing abroad, not yet at home.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AbroadFirst {
    /// Start of the first window of the unbroken run of windows with abroad
    /// documents that ends in the recent windows (RFC 3339).
    pub since: String,
    /// Abroad documents since then.
    pub abroad_docs: u32,
    /// Home documents in the look-back (at most `signals.home.max_docs`).
    pub home_docs: u32,
    /// The abroad documents since then by language and by source, most first.
    pub languages: Vec<Count>,
    pub sources: Vec<Count>,
}

/// Grown abroad first, arrived at home later.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArrivedHome {
    /// When its abroad documents reached `signals.min_docs` with at most
    /// `max_docs` home documents (RFC 3339).
    pub abroad_since: String,
    /// Publication of the home document that took it past `max_docs`.
    pub date: String,
    pub lag_days: f64,
    /// Its abroad documents before that, by language.
    pub languages: Vec<Count>,
}

/// The look-back of one as-of analysis, as abroad-first needs it.
pub struct Lookback<'a> {
    pub corpus: &'a Corpus,
    /// Trailing window of each document (`u32::MAX` beyond the look-back).
    pub back: &'a [u32],
    /// Windows that count as now.
    pub recent: u32,
    pub as_of: i64,
    pub window_seconds: i64,
    pub min_docs: usize,
}

impl Lookback<'_> {
    /// Home media are watched: the recent windows hold at least `min_docs`
    /// home documents. A store of foreign news alone has nothing to be "not
    /// yet here" against.
    pub fn watches_home(&self, home: &Home) -> bool {
        (0..self.back.len())
            .filter(|&d| self.back[d] < self.recent && home.is_home(self.corpus, d))
            .take(self.min_docs)
            .count()
            >= self.min_docs
    }

    /// `members` (a topic's documents, in publication order) as abroad-first,
    /// when its home documents in the look-back are few and its abroad
    /// documents in the recent windows reach `min_docs`. The caller decides
    /// that the topic is rising (weak or emerging).
    pub fn abroad_first(&self, home: &Home, members: &[usize]) -> Option<AbroadFirst> {
        let in_lookback = || {
            members
                .iter()
                .copied()
                .filter(|&d| self.back[d] != u32::MAX)
        };
        let home_docs = in_lookback()
            .filter(|&d| home.is_home(self.corpus, d))
            .count();
        if home_docs > home.max_docs {
            return None;
        }
        let abroad: Vec<usize> = in_lookback()
            .filter(|&d| !home.is_home(self.corpus, d))
            .collect();
        let recent = abroad
            .iter()
            .filter(|&&d| self.back[d] < self.recent)
            .count();
        if recent < self.min_docs {
            return None;
        }
        // The run of windows with abroad documents that reaches now.
        let windows: HashSet<u32> = abroad.iter().map(|&d| self.back[d]).collect();
        let mut first = 0u32;
        while windows.contains(&(first + 1)) || (first + 1 < self.recent) {
            first += 1;
        }
        let run: Vec<usize> = abroad
            .into_iter()
            .filter(|&d| self.back[d] <= first)
            .collect();
        let since = self.as_of + 1 - (first as i64 + 1) * self.window_seconds;
        let languages = counts(run.iter().map(|&d| self.corpus.langs[d].as_str()));
        let sources = counts(
            run.iter()
                .map(|&d| self.corpus.sources[self.corpus.source[d] as usize].as_str()),
        );
        if languages.len().max(sources.len()) < home.min_spread {
            return None;
        }
        Some(AbroadFirst {
            since: rfc3339(since),
            abroad_docs: run.len() as u32,
            home_docs: home_docs as u32,
            languages,
            sources,
        })
    }

    /// `members` (in publication order) as arrived home: its home documents
    /// in the look-back passed `max_docs` at least a day after its abroad
    /// documents reached `min_docs`.
    pub fn arrived_home(&self, home: &Home, members: &[usize]) -> Option<ArrivedHome> {
        arrival(
            self.corpus,
            home,
            self.min_docs,
            members
                .iter()
                .copied()
                .filter(|&d| self.back[d] != u32::MAX),
        )
    }
}

/// The arrival of a topic whose documents are `docs` (publication order).
fn arrival(
    corpus: &Corpus,
    home: &Home,
    min_docs: usize,
    docs: impl Iterator<Item = usize>,
) -> Option<ArrivedHome> {
    let (mut home_docs, mut abroad) = (0usize, Vec::new());
    let mut abroad_since = None;
    for d in docs {
        if !home.is_home(corpus, d) {
            abroad.push(d);
            if abroad.len() == min_docs.max(1) && abroad_since.is_none() {
                abroad_since = Some(corpus.published[d]);
            }
            continue;
        }
        home_docs += 1;
        if home_docs <= home.max_docs {
            continue;
        }
        let since = abroad_since?;
        let at = corpus.published[d];
        // The same day is together, not first.
        if at - since < 86_400 {
            return None;
        }
        return Some(ArrivedHome {
            abroad_since: rfc3339(since),
            date: rfc3339(at),
            lag_days: (at - since) as f64 / 86_400.0,
            languages: counts(abroad.iter().map(|&d| corpus.langs[d].as_str())),
        });
    }
    None
}

fn counts<'a>(names: impl Iterator<Item = &'a str>) -> Vec<Count> {
    let mut by: HashMap<&str, u32> = HashMap::new();
    for n in names {
        *by.entry(n).or_default() += 1;
    }
    let mut out: Vec<Count> = by
        .into_iter()
        .map(|(name, docs)| Count {
            name: name.to_string(),
            docs,
        })
        .collect();
    out.sort_by(|a, b| b.docs.cmp(&a.docs).then_with(|| a.name.cmp(&b.name)));
    out
}

/// A topic flagged abroad-first on a replayed date, followed for twelve weeks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AbroadFlag {
    /// The first replayed date that flagged it.
    pub as_of: String,
    pub signal: String,
    pub label: String,
    /// Its abroad languages then.
    pub languages: Vec<Count>,
    /// When its home documents passed `max_docs` after the flag, if they did
    /// before the end of the backtest.
    pub arrived: Option<String>,
    pub lag_days: Option<f64>,
    /// Its twelve weeks ended by the end of the backtest.
    pub followed: bool,
}

/// What the backtest says of abroad-first flags.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AbroadFollowUp {
    /// Topics flagged abroad-first (first flag per topic).
    pub flags: usize,
    /// Flags whose twelve weeks ended by the end of the backtest.
    pub followed: usize,
    /// Followed flags whose topic arrived home within twelve weeks.
    pub arrived: usize,
    pub arrived_share: Option<f64>,
    /// Median days from the flag to the arrival, over those that arrived.
    pub median_lag_days: Option<f64>,
    pub list: Vec<AbroadFlag>,
}

/// The first abroad-first flag of each topic in a backtest: (as of, topic, label, languages).
pub type FirstFlags = Vec<(i64, u32, String, Vec<Count>)>;

/// Follows `flags` in the topics as they are at `to` (`state`, covering the
/// first `docs` documents of `corpus`): a topic arrived when its home
/// documents of the look-back before the flag plus those after it pass
/// `max_docs` (the first home document after the flag, when the clustering
/// has since given it more home documents before the flag than it had then).
pub fn follow(
    corpus: &Corpus,
    home: &Home,
    state: &TopicState,
    docs: usize,
    flags: &FirstFlags,
    lookback_seconds: i64,
    to: i64,
) -> AbroadFollowUp {
    let assignment = state.resolved_assignment();
    let mut out = AbroadFollowUp {
        flags: flags.len(),
        ..Default::default()
    };
    let mut lags = Vec::new();
    for (t, topic, label, languages) in flags {
        let topic = state.resolve(*topic);
        let mut home_docs = 0usize;
        let mut arrived = None;
        for d in (0..docs).filter(|&d| assignment[d] == topic) {
            let at = corpus.published[d];
            if !home.is_home(corpus, d) || at <= t - lookback_seconds {
                continue;
            }
            home_docs += 1;
            if at > *t && home_docs > home.max_docs {
                arrived = Some(at);
                break;
            }
        }
        let followed = t + FOLLOW_SECONDS <= to;
        let lag = arrived.map(|at| (at - t) as f64 / 86_400.0);
        if followed {
            out.followed += 1;
            if let Some(l) = lag.filter(|&l| l <= FOLLOW_SECONDS as f64 / 86_400.0) {
                out.arrived += 1;
                lags.push(l);
            }
        }
        out.list.push(AbroadFlag {
            as_of: rfc3339(*t),
            signal: format!("topic-{topic}"),
            label: label.clone(),
            languages: languages.clone(),
            arrived: arrived.map(rfc3339),
            lag_days: lag,
            followed,
        });
    }
    out.arrived_share = (out.followed > 0).then(|| out.arrived as f64 / out.followed as f64);
    lags.sort_by(f64::total_cmp);
    out.median_lag_days = match lags.len() {
        0 => None,
        n if n % 2 == 1 => Some(lags[n / 2]),
        n => Some((lags[n / 2 - 1] + lags[n / 2]) / 2.0),
    };
    out
}

/// "en 5, sv 2".
pub fn list(counts: &[Count]) -> String {
    counts
        .iter()
        .map(|c| format!("{} {}", c.name, c.docs))
        .collect::<Vec<_>>()
        .join(", ")
}

impl AbroadFirst {
    /// One line for people: "already abroad, not yet in Finland: ...".
    pub fn describe(&self, home: &str) -> String {
        let home_docs = match self.home_docs {
            0 => format!("no documents in {home} yet"),
            1 => format!("1 document in {home}"),
            n => format!("{n} documents in {home}"),
        };
        format!(
            "already abroad, not yet in {home}: growing abroad since {} ({} documents; languages {}; sources {}); {home_docs}",
            self.since.get(..10).unwrap_or(&self.since),
            self.abroad_docs,
            list(&self.languages),
            list(&self.sources),
        )
    }
}

impl ArrivedHome {
    /// One line for people: "arrived in Finland after 23 days ...".
    pub fn describe(&self, home: &str) -> String {
        format!(
            "arrived in {home} after {:.0} days: on {}, growing abroad since {} ({})",
            self.lag_days,
            self.date.get(..10).unwrap_or(&self.date),
            self.abroad_since.get(..10).unwrap_or(&self.abroad_since),
            list(&self.languages),
        )
    }
}

impl AbroadFollowUp {
    /// The backtest's summary line.
    pub fn describe(&self, home: &str) -> String {
        let share = self
            .arrived_share
            .map_or("-".to_string(), |s| format!("{:.0}%", s * 100.0));
        let lag = self
            .median_lag_days
            .map_or("-".to_string(), |l| format!("{l:.0} days"));
        format!(
            "abroad-first topics: {} flagged, {} followed for 12 weeks, of which {} ({share}) arrived in {home}; median lag {lag}",
            self.flags, self.followed, self.arrived
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    /// Documents (day, language, source) of one topic, in time order.
    fn corpus(docs: &[(i64, &str, u32)]) -> Corpus {
        Corpus {
            published: docs.iter().map(|d| d.0 * DAY).collect(),
            langs: docs.iter().map(|d| d.1.to_string()).collect(),
            source: docs.iter().map(|d| d.2).collect(),
            sources: vec!["yle".into(), "guardian".into(), "svt".into()],
            ..Corpus::default()
        }
    }

    fn home(languages: &[&str], sources: &[&str], corpus: &Corpus) -> Home {
        let config = HomeConfig {
            languages: languages.iter().map(|s| s.to_string()).collect(),
            sources: sources.iter().map(|s| s.to_string()).collect(),
            max_docs: 1,
            min_abroad_spread: 2,
            name: "Finland".into(),
        };
        Home::new(&config, corpus).expect("a home")
    }

    /// Weekly windows, one recent, ending at the end of `day`.
    fn lookback<'a>(corpus: &'a Corpus, back: &'a [u32], day: i64) -> Lookback<'a> {
        Lookback {
            corpus,
            back,
            recent: 1,
            as_of: (day + 1) * DAY - 1,
            window_seconds: 7 * DAY,
            min_docs: 3,
        }
    }

    /// Each document's trailing week before the end of `day`.
    fn back(corpus: &Corpus, day: i64) -> Vec<u32> {
        let as_of = (day + 1) * DAY - 1;
        corpus
            .published
            .iter()
            .map(|&p| match (as_of - p) / (7 * DAY) {
                b if b < 26 => b as u32,
                _ => u32::MAX,
            })
            .collect()
    }

    #[test]
    fn growing_abroad_with_few_home_documents_is_abroad_first() {
        // English from day 0, Swedish from day 10, one Finnish stray on day 16.
        let c = corpus(&[
            (0, "en", 1),
            (8, "en", 1),
            (10, "sv", 2),
            (15, "en", 1),
            (16, "fi", 0),
            (17, "en", 1),
            (19, "sv", 2),
            (20, "en", 1),
        ]);
        let h = home(&["fi"], &[], &c);
        let b = back(&c, 20);
        let look = lookback(&c, &b, 20);
        let members: Vec<usize> = (0..c.published.len()).collect();
        let first = look.abroad_first(&h, &members).expect("abroad first");
        assert_eq!(first.home_docs, 1);
        // windows back 0 (days 14-20), 1 (7-13), 2 (0-6): all hold abroad documents
        assert_eq!(first.since, rfc3339(0));
        assert_eq!(first.abroad_docs, 7);
        assert_eq!(
            first.languages[0],
            Count {
                name: "en".into(),
                docs: 5
            }
        );
        assert_eq!(
            first.sources[1],
            Count {
                name: "svt".into(),
                docs: 2
            }
        );
        assert!(first.describe("Finland").contains("1 document in Finland"));
        // One foreign outlet in one language is not spread enough.
        let english: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&d| c.langs[d] == "en")
            .collect();
        assert_eq!(look.abroad_first(&h, &english), None);
        // It has not arrived: one home document is within max_docs.
        assert_eq!(look.arrived_home(&h, &members), None);
        // Home media are not watched: no home document in the recent window
        // but the one stray.
        assert!(!look.watches_home(&h));
    }

    #[test]
    fn a_second_home_document_is_the_arrival_with_its_lag() {
        let c = corpus(&[
            (0, "en", 1),
            (2, "en", 1),
            (4, "en", 1),
            (5, "fi", 0),
            (27, "fi", 0),
        ]);
        let h = home(&["fi"], &[], &c);
        let b = back(&c, 30);
        let look = lookback(&c, &b, 30);
        let members: Vec<usize> = (0..5).collect();
        let arrived = look.arrived_home(&h, &members).expect("arrived");
        // abroad reached 3 documents on day 4; the second Finnish one (past
        // max_docs = 1) came on day 27
        assert_eq!(arrived.abroad_since, rfc3339(4 * DAY));
        assert_eq!(arrived.date, rfc3339(27 * DAY));
        assert_eq!(arrived.lag_days, 23.0);
        assert!(arrived
            .describe("Finland")
            .starts_with("arrived in Finland after 23 days"));
        // Too many home documents to be abroad-first.
        assert_eq!(look.abroad_first(&h, &members), None);
    }

    #[test]
    fn home_sources_count_as_home_and_the_same_day_is_not_first() {
        // Guardian is home by source; English abroad and home on the same day.
        let c = corpus(&[
            (0, "en", 2),
            (0, "en", 2),
            (0, "en", 2),
            (0, "en", 1),
            (0, "en", 1),
        ]);
        let h = home(&[], &["guardian"], &c);
        assert!(h.is_home(&c, 3) && !h.is_home(&c, 0));
        let b = back(&c, 3);
        let look = lookback(&c, &b, 3);
        assert_eq!(look.arrived_home(&h, &(0..5).collect::<Vec<_>>()), None);
        assert!(Home::new(
            &HomeConfig {
                languages: vec![],
                sources: vec![],
                ..HomeConfig::default()
            },
            &c
        )
        .is_none());
    }
}
