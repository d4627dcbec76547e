//! A simulated analyst over a backtest: what do marks do to the signals an
//! analyst reads?
//!
//! Every week of the backtest an analyst reads the top N weak and emerging
//! signals and marks each: relevant when it went on to at least triple
//! within eight weeks (the backtest's truth), irrelevant when it did not.
//! The marks then act as they do in a real run: an irrelevant signal is
//! hidden from later weeks until its growth passes `resurface_growth`
//! times its growth when marked ([`super::marks`]), and, in the arms that
//! learn from them, the marks are labels of the ranking model before the
//! eight weeks that label a flag have passed. Each arm has its own analyst,
//! who marks what that arm showed. Precision of the top N is compared per
//! arm and per quarter.

use std::collections::HashMap;

use serde::Serialize;

use super::rank::{Flag, RankModel, HORIZON_SECONDS};
use super::rfc3339;

/// What an arm does with the marks.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Arm {
    name: &'static str,
    /// Irrelevant marks hide signals until they grow.
    hide: bool,
    /// Candidates are ranked by a model refitted every week on the flags
    /// whose eight weeks have passed (else: the report's order).
    model: bool,
    /// The model also learns from the marks (labels before the eight weeks).
    marks_as_labels: bool,
}

const ARMS: [Arm; 5] = [
    Arm {
        name: "report order, no marks",
        hide: false,
        model: false,
        marks_as_labels: false,
    },
    Arm {
        name: "report order, marks hide",
        hide: true,
        model: false,
        marks_as_labels: false,
    },
    Arm {
        name: "weekly model, no marks",
        hide: false,
        model: true,
        marks_as_labels: false,
    },
    Arm {
        name: "weekly model learning from marks",
        hide: false,
        model: true,
        marks_as_labels: true,
    },
    Arm {
        name: "weekly model learning from marks, marks hide",
        hide: true,
        model: true,
        marks_as_labels: true,
    },
];

/// One arm's figures over the simulated weeks.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ArmResult {
    pub arm: String,
    pub top: usize,
    /// Signals shown in the top N, summed over the weeks, and how many of
    /// them later tripled.
    pub shown: usize,
    pub grew: usize,
    pub precision: Option<f64>,
    /// Marks the analyst made, and signals hidden by them (summed over weeks).
    pub marks: usize,
    pub hidden: usize,
    /// Per quarter (its first day): shown, grew.
    pub quarters: Vec<(String, usize, usize)>,
}

/// The simulation's result.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AnalystSimulation {
    /// Weeks simulated: those whose signals could all be followed for
    /// eight weeks within the backtest.
    pub weeks: usize,
    /// Weeks with more weak and emerging signals than the top N shows
    /// (where the order can change what is shown), per N.
    pub crowded_weeks: Vec<(usize, usize)>,
    pub resurface_growth: f64,
    pub arms: Vec<ArmResult>,
}

/// One week's weak and emerging signals as listed (indexes into `flags`,
/// in the report's order).
pub struct ListedWeek {
    pub as_of: i64,
    pub flags: Vec<usize>,
}

fn quarter(ts: i64) -> String {
    let day = rfc3339(ts);
    let month: u32 = day.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(1);
    format!("{}-{:02}-01", &day[..4], (month - 1) / 3 * 3 + 1)
}

/// Runs every arm over `weeks` (chronological) for the top `tops`;
/// `flags` carry their truth (`grew`) and every listed flag before the
/// first week too, for the models to learn from.
pub fn simulate(
    flags: &[Flag],
    weeks: &[ListedWeek],
    tops: &[usize],
    resurface_growth: f64,
    min_flags: usize,
) -> AnalystSimulation {
    let weeks: Vec<&ListedWeek> = weeks
        .iter()
        .filter(|w| w.flags.iter().all(|&i| flags[i].grew.is_some()))
        .collect();
    let mut out = AnalystSimulation {
        weeks: weeks.len(),
        resurface_growth,
        crowded_weeks: tops
            .iter()
            .map(|&n| (n, weeks.iter().filter(|w| w.flags.len() > n).count()))
            .collect(),
        ..Default::default()
    };
    for &top in tops {
        for arm in ARMS {
            out.arms.push(run_arm(
                arm,
                top,
                flags,
                &weeks,
                resurface_growth,
                min_flags,
            ));
        }
    }
    out
}

fn run_arm(
    arm: Arm,
    top: usize,
    flags: &[Flag],
    weeks: &[&ListedWeek],
    resurface_growth: f64,
    min_flags: usize,
) -> ArmResult {
    let mut result = ArmResult {
        arm: arm.name.to_string(),
        top,
        ..Default::default()
    };
    // id -> (relevant, growth when marked); the newest counts
    let mut marks: HashMap<&str, (bool, f64)> = HashMap::new();
    let mut marked_flags: Vec<usize> = Vec::new();
    let mut quarters: Vec<(String, usize, usize)> = Vec::new();
    for week in weeks {
        let t = week.as_of;
        let mut candidates: Vec<usize> = week.flags.clone();
        if arm.hide {
            let before = candidates.len();
            candidates.retain(|&i| {
                let f = &flags[i];
                match marks.get(f.id.as_str()) {
                    Some(&(false, at)) => f.growth() >= resurface_growth * at,
                    _ => true,
                }
            });
            result.hidden += before - candidates.len();
        }
        if arm.model {
            // Labels known at t: eight weeks passed, or (learning from marks) marked.
            let mut training: Vec<Flag> = flags
                .iter()
                .filter(|f| f.as_of + HORIZON_SECONDS <= t)
                .cloned()
                .collect();
            if arm.marks_as_labels {
                // A marked flag is labelled by its mark, whose verdict (the
                // simulated analyst's) is the flag's truth.
                training.extend(
                    marked_flags
                        .iter()
                        .map(|&i| &flags[i])
                        .filter(|f| f.as_of + HORIZON_SECONDS > t)
                        .cloned(),
                );
            }
            if let Some(model) = RankModel::fit_without_validation(&training, t, min_flags) {
                let mut scored: Vec<(usize, f64)> = candidates
                    .iter()
                    .map(|&i| (i, model.predict(&flags[i].features)))
                    .collect();
                // stable: ties keep the report's order
                scored.sort_by(|a, b| b.1.total_cmp(&a.1));
                candidates = scored.into_iter().map(|(i, _)| i).collect();
            }
        }
        candidates.truncate(top);
        let grew = candidates
            .iter()
            .filter(|&&i| flags[i].grew == Some(true))
            .count();
        result.shown += candidates.len();
        result.grew += grew;
        let q = quarter(t);
        match quarters.last_mut() {
            Some(last) if last.0 == q => {
                last.1 += candidates.len();
                last.2 += grew;
            }
            _ => quarters.push((q, candidates.len(), grew)),
        }
        // The analyst marks what was shown.
        for &i in &candidates {
            let f = &flags[i];
            marks.insert(f.id.as_str(), (f.grew == Some(true), f.growth()));
            marked_flags.push(i);
            result.marks += 1;
        }
    }
    result.precision = (result.shown > 0).then(|| result.grew as f64 / result.shown as f64);
    result.quarters = quarters;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(as_of: i64, id: &str, growth: f64, grew: bool) -> Flag {
        Flag {
            grew: Some(grew),
            ..super::super::rank::test_flag(as_of, id, growth)
        }
    }

    #[test]
    fn irrelevant_marks_hide_a_repeat_until_it_grows_past_the_multiple() {
        let week = 7 * 86_400;
        let flags = vec![
            flag(0, "topic-1", 2.0, false),
            flag(0, "topic-2", 2.0, true),
            flag(week, "topic-1", 2.5, false), // hidden: 2.5 < 2 x 2.0
            flag(week, "topic-2", 2.0, true),
            flag(2 * week, "topic-1", 5.0, true), // shown again: 5.0 >= 4.0
        ];
        let weeks = vec![
            ListedWeek {
                as_of: 0,
                flags: vec![0, 1],
            },
            ListedWeek {
                as_of: week,
                flags: vec![2, 3],
            },
            ListedWeek {
                as_of: 2 * week,
                flags: vec![4],
            },
        ];
        let sim = simulate(&flags, &weeks, &[10], 2.0, 100);
        let none = &sim.arms[0];
        let hide = &sim.arms[1];
        assert_eq!((none.shown, none.grew), (5, 3));
        assert_eq!((hide.shown, hide.grew, hide.hidden), (4, 3, 1));
        assert_eq!(hide.marks, 4);
        assert_eq!(sim.weeks, 3);
    }

    #[test]
    fn a_week_with_a_flag_whose_truth_is_unknown_is_not_simulated() {
        let mut flags = vec![flag(0, "topic-1", 2.0, false)];
        flags[0].grew = None;
        let weeks = vec![ListedWeek {
            as_of: 0,
            flags: vec![0],
        }];
        assert_eq!(simulate(&flags, &weeks, &[10], 2.0, 100).weeks, 0);
    }
}
