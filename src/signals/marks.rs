//! Analysts' marks change what is shown: a signal marked irrelevant is
//! hidden until it grows past `signals.resurface_growth` times the growth it
//! had when it was marked (then it is shown again, saying why), and a
//! duplicate is folded into the signal it duplicates.
//!
//! Marks are history ([`crate::store::MarkRow`]): the newest mark of a
//! signal is the one that counts, and nothing is overwritten.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::SignalReport;
use crate::error::{Error, Result};
use crate::store::MarkRow;

/// What an analyst says of a signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Relevant,
    Irrelevant,
    DuplicateOf,
}

impl Verdict {
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Relevant => "relevant",
            Verdict::Irrelevant => "irrelevant",
            Verdict::DuplicateOf => "duplicate_of",
        }
    }

    pub fn parse(text: &str) -> Result<Verdict> {
        match text {
            "relevant" => Ok(Verdict::Relevant),
            "irrelevant" => Ok(Verdict::Irrelevant),
            "duplicate_of" | "duplicate-of" => Ok(Verdict::DuplicateOf),
            other => Err(Error::Usage(format!(
                "verdict {other:?}: expected relevant, irrelevant or duplicate-of"
            ))),
        }
    }
}

/// A mark on `signal` as of `report` (before marks were applied): the
/// signal, and for a duplicate the signal it duplicates, must be there.
pub fn new_mark(
    report: &SignalReport,
    signal: &str,
    verdict: Verdict,
    duplicate_of: Option<String>,
    note: String,
    by: String,
    at: i64,
) -> Result<MarkRow> {
    let find = |id: &str| report.signals.iter().find(|s| s.id == id);
    let Some(s) = find(signal) else {
        return Err(Error::Usage(format!(
            "signal: {signal:?} is not a signal as of {} (see `weaksignal signals`)",
            &report.as_of[..10]
        )));
    };
    match (&verdict, &duplicate_of) {
        (Verdict::DuplicateOf, None) => {
            return Err(Error::Usage(
                "duplicate_of: a duplicate names the signal it duplicates".into(),
            ))
        }
        (Verdict::DuplicateOf, Some(into)) if find(into).is_none() || into == signal => {
            return Err(Error::Usage(format!(
                "duplicate_of: {into:?} is not another signal as of {}",
                &report.as_of[..10]
            )))
        }
        (Verdict::Relevant | Verdict::Irrelevant, Some(_)) => {
            return Err(Error::Usage(
                "duplicate_of: only a duplicate names another signal".into(),
            ))
        }
        _ => {}
    }
    Ok(MarkRow {
        id: 0,
        signal: signal.to_string(),
        verdict: verdict.name().to_string(),
        duplicate_of,
        note,
        by,
        at,
        growth: Some(s.growth),
    })
}

/// A signal a mark hides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hidden {
    pub id: String,
    pub label: String,
    pub verdict: String,
    pub by: String,
    /// When it was marked (RFC 3339).
    pub marked: String,
    pub note: String,
    /// The signal it was folded into (duplicates).
    pub into: Option<String>,
}

/// The newest mark of each signal.
fn newest(marks: &[MarkRow]) -> HashMap<&str, &MarkRow> {
    let mut out: HashMap<&str, &MarkRow> = HashMap::new();
    for m in marks {
        match out.get(m.signal.as_str()) {
            Some(seen) if seen.id > m.id => {}
            _ => {
                out.insert(m.signal.as_str(), m);
            }
        }
    }
    out
}

/// Applies `marks` to `report`: hides, shows again with the reason, folds.
pub fn apply(report: &mut SignalReport, marks: &[MarkRow], resurface_growth: f64) {
    if marks.is_empty() {
        return;
    }
    let newest = newest(marks);
    let day = |ts: i64| super::rfc3339(ts)[..10].to_string();
    let mut hidden = Vec::new();
    let mut folds: Vec<(String, String)> = Vec::new();
    for s in &mut report.signals {
        let Some(mark) = newest.get(s.id.as_str()) else {
            continue;
        };
        let by = if mark.by.is_empty() {
            "an analyst"
        } else {
            mark.by.as_str()
        };
        match mark.verdict.as_str() {
            "irrelevant" => {
                let then = mark.growth.unwrap_or(f64::INFINITY);
                if s.growth >= resurface_growth * then {
                    s.why.push_str(&format!(
                        "; marked irrelevant on {} by {by}; shown again because its growth {:.1}x passed {resurface_growth} times the {then:.1}x it had then",
                        day(mark.at),
                        s.growth
                    ));
                    continue;
                }
                hidden.push(Hidden {
                    id: s.id.clone(),
                    label: s.label.clone(),
                    verdict: mark.verdict.clone(),
                    by: by.to_string(),
                    marked: super::rfc3339(mark.at),
                    note: mark.note.clone(),
                    into: None,
                });
            }
            "duplicate_of" => {
                if let Some(into) = &mark.duplicate_of {
                    folds.push((s.id.clone(), into.clone()));
                }
            }
            _ => {}
        }
    }
    // A duplicate folds only into a signal that is there.
    let present: std::collections::HashSet<String> =
        report.signals.iter().map(|s| s.id.clone()).collect();
    let folds: Vec<(String, String)> = folds
        .into_iter()
        .filter(|(from, into)| present.contains(into) && from != into)
        .collect();
    for (from, into) in &folds {
        let mark = newest[from.as_str()];
        let label = report
            .signals
            .iter()
            .find(|s| &s.id == from)
            .map(|s| s.label.clone())
            .unwrap_or_default();
        if let Some(target) = report.signals.iter_mut().find(|s| &s.id == into) {
            if !target.also.contains(from) {
                target.also.push(from.clone());
            }
        }
        hidden.push(Hidden {
            id: from.clone(),
            label,
            verdict: mark.verdict.clone(),
            by: if mark.by.is_empty() {
                "an analyst".into()
            } else {
                mark.by.clone()
            },
            marked: super::rfc3339(mark.at),
            note: mark.note.clone(),
            into: Some(into.clone()),
        });
    }
    report
        .signals
        .retain(|s| !hidden.iter().any(|h| h.id == s.id));
    report.hidden = hidden;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{report, signal};
    use crate::signals::Class;

    fn mark(id: i64, signal: &str, verdict: &str, into: Option<&str>, growth: f64) -> MarkRow {
        MarkRow {
            id,
            signal: signal.into(),
            verdict: verdict.into(),
            duplicate_of: into.map(String::from),
            note: String::new(),
            by: "ana".into(),
            at: 1_580_000_000,
            growth: Some(growth),
        }
    }

    #[test]
    fn irrelevant_hides_until_it_grows_duplicates_fold_and_the_newest_mark_counts() {
        let mut r = report(vec![
            signal("topic-1", Class::Weak),
            signal("topic-2", Class::Weak),
            signal("topic-3", Class::Emerging),
            signal("topic-4", Class::Weak),
        ]);
        for s in &mut r.signals {
            s.growth = 3.0;
        }
        r.signals[1].growth = 7.0; // topic-2 grew past 2 x 3.0
        let marks = vec![
            mark(1, "topic-1", "irrelevant", None, 3.0),
            mark(2, "topic-2", "irrelevant", None, 3.0),
            mark(3, "topic-4", "duplicate_of", Some("topic-3"), 3.0),
            // topic-5 is not there: nothing to fold into, nothing happens
            mark(4, "topic-3", "irrelevant", None, 3.0),
            mark(5, "topic-3", "relevant", None, 3.0),
        ];
        apply(&mut r, &marks, 2.0);
        let ids: Vec<&str> = r.signals.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            ["topic-2", "topic-3"],
            "topic-1 hidden, topic-4 folded, topic-3's newest mark is relevant"
        );
        assert!(r.signals[0].why.contains("marked irrelevant on 2020-01-26 by ana; shown again because its growth 7.0x passed 2 times the 3.0x"), "{}", r.signals[0].why);
        assert_eq!(r.signals[1].also, ["topic-4"]);
        assert_eq!(r.hidden.len(), 2);
        assert_eq!(r.hidden[1].into.as_deref(), Some("topic-3"));
    }
}
