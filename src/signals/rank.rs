//! A ranking of weak signals learned from the store's own history: which
//! weak flags of the past went on to grow?
//!
//! Every past as-of date the store covers can be replayed, and eight weeks
//! later the store knows whether each weak flag's key at least tripled. A
//! small, explainable model (L2-regularised logistic regression on the
//! signal's own standardised features) is fitted on the flags whose eight
//! weeks ended before the as-of date only, so nothing of the future leaks
//! into it, and checked by time-ordered cross-validation. Weak signals are
//! then ranked by the predicted probability, shown as "p(grows 3x in 8
//! weeks) = 0.34". With too little history (fewer than
//! `signals.rank_min_flags` labelled flags) the score ranks them, and the
//! report says so.

use serde::{Deserialize, Serialize};

use super::{Class, Level, Signal};

/// Eight weeks: how long a flag is followed.
pub const HORIZON_SECONDS: i64 = 8 * 7 * 86_400;
/// A flag grew when its key's documents at least tripled by the horizon.
pub const GROWTH_FACTOR: u32 = 3;

/// The features, in the order of [`features`].
pub const FEATURES: [&str; 14] = [
    "ln growth",
    "acceleration",
    "ln visibility",
    "diffusion",
    "burst",
    "novelty",
    "ln DoV growth",
    "ln DoD growth",
    "single source",
    "ln recent docs",
    "ln docs so far",
    "ln(1 + previous bursts)",
    "-log10 p",
    "topic (not term)",
];

/// A signal's features: its own numbers, nothing about other signals.
pub fn features(s: &Signal) -> Vec<f64> {
    let ln = |x: f64| x.max(1e-6).ln();
    vec![
        ln(s.growth),
        s.acceleration.clamp(-20.0, 20.0),
        ln(s.visibility.max(1e-5)),
        s.diffusion,
        s.burst.min(50.0),
        s.novelty,
        ln(s.dov_growth),
        ln(s.dod_growth),
        f64::from(u8::from(s.single_source)),
        ln(s.recent_docs.max(1) as f64),
        ln(s.docs.max(1) as f64),
        (1.0 + s.previous_bursts as f64).ln(),
        -s.p_value.max(1e-300).log10().min(30.0),
        f64::from(u8::from(s.level == Level::Topic)),
    ]
}

/// One weak flag of a replayed date, with its outcome when known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    /// As-of time of the replay (unix seconds).
    pub as_of: i64,
    pub id: String,
    pub features: Vec<f64>,
    /// Today's score, for comparison.
    pub score: f64,
    /// Whether its key at least tripled within eight weeks (`None` while
    /// the eight weeks have not passed).
    pub grew: Option<bool>,
}

impl Flag {
    /// The signal's growth when flagged (the first feature is its log).
    pub fn growth(&self) -> f64 {
        self.features.first().map_or(1.0, |ln| ln.exp())
    }

    pub fn of(as_of: i64, s: &Signal) -> Flag {
        Flag {
            as_of,
            id: s.id.clone(),
            features: features(s),
            score: s.strength,
            grew: None,
        }
    }
}

/// The settings a model is fitted under: what shapes topics, terms and
/// signals (a model of other settings ranks other flags).
pub fn settings_key(
    model: &str,
    morphology: &str,
    window: crate::config::Window,
    topics: &crate::config::TopicsConfig,
    signals: &crate::config::SignalsConfig,
) -> String {
    let clustering = crate::topics::checkpoint::config_key(model, morphology, window, topics);
    let text = format!("{clustering}\n{signals:?}");
    blake3::hash(text.as_bytes()).to_hex()[..32].to_string()
}

/// What ranks an analysis as of some date, from the newest fit stored for
/// its settings.
pub fn ranking_from(row: Option<crate::store::RankModelRow>) -> super::Ranking {
    let Some(row) = row else {
        return super::Ranking::default();
    };
    match row.model.as_deref().map(serde_json::from_str::<RankModel>) {
        // A model that predicted held-out flags no better than a constant
        // would rank by noise: today's score is the more honest order.
        Some(Ok(model))
            if model.validation.predicted > 0
                && model.validation.brier >= model.validation.brier_constant =>
        {
            super::Ranking::Score {
                reason: format!(
                    "the ranking model fitted up to {} predicted no better than a constant in time-ordered validation (Brier {:.3} against {:.3})",
                    &super::rfc3339(model.as_of)[..10],
                    model.validation.brier,
                    model.validation.brier_constant
                ),
            }
        }
        Some(Ok(model)) => super::Ranking::Model {
            model: Box::new(model),
        },
        Some(Err(e)) => super::Ranking::Score {
            reason: format!(
                "the stored ranking model does not read ({e}); run `weaksignal rank fit`"
            ),
        },
        None => super::Ranking::Score { reason: row.note },
    }
}

/// Whether a signal is a weak flag the ranking learns from and ranks.
pub fn is_weak(s: &Signal) -> bool {
    s.class == Class::Weak
}

/// An unlabelled flag of `growth` and otherwise zero features, for tests.
#[cfg(test)]
pub(crate) fn test_flag(as_of: i64, id: &str, growth: f64) -> Flag {
    let mut features = vec![0.0; FEATURES.len()];
    features[0] = growth.ln();
    Flag {
        as_of,
        id: id.into(),
        features,
        score: 1.0,
        grew: None,
    }
}

/// A fitted model: logistic regression on standardised features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankModel {
    pub features: Vec<String>,
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
    /// Weights per standardised feature, and the intercept.
    pub weights: Vec<f64>,
    pub intercept: f64,
    /// Last as-of time whose flags could be labelled (unix seconds): the
    /// model knows nothing after it.
    pub as_of: i64,
    /// Labelled flags it was fitted on, and how many grew.
    pub flags: usize,
    pub grew: usize,
    /// Time-ordered cross-validation on those flags.
    pub validation: Validation,
}

/// How well a model predicted flags it had not seen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    pub folds: usize,
    /// Flags predicted (each by a model fitted on earlier flags only).
    pub predicted: usize,
    /// Brier score of the model, and of predicting the training share of
    /// flags that grew for every flag (a constant).
    pub brier: f64,
    pub brier_constant: f64,
    /// Observed against predicted, per tenth of the predictions.
    pub reliability: Vec<ReliabilityBin>,
}

/// One bin of a reliability table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Predicted probability range [from, to).
    pub from: f64,
    pub to: f64,
    pub flags: usize,
    pub predicted: f64,
    pub observed: f64,
}

/// L2 penalty on the standardised weights (not the intercept).
const RIDGE: f64 = 1.0;

impl RankModel {
    /// Fits the model on the labelled flags; `None` with fewer than `min`
    /// of them, or when they all went one way.
    pub fn fit(flags: &[Flag], as_of: i64, min: usize) -> Option<RankModel> {
        let labelled: Vec<&Flag> = flags.iter().filter(|f| f.grew.is_some()).collect();
        let grew = labelled.iter().filter(|f| f.grew == Some(true)).count();
        if labelled.len() < min.max(2) || grew == 0 || grew == labelled.len() {
            return None;
        }
        let mut model = fit_logistic(&labelled)?;
        model.as_of = as_of;
        model.validation = validate(&labelled);
        Some(model)
    }

    /// As [`RankModel::fit`], without the cross-validation (a backtest
    /// refits at every step and validates the steps themselves).
    pub fn fit_without_validation(flags: &[Flag], as_of: i64, min: usize) -> Option<RankModel> {
        let labelled: Vec<&Flag> = flags.iter().filter(|f| f.grew.is_some()).collect();
        let grew = labelled.iter().filter(|f| f.grew == Some(true)).count();
        if labelled.len() < min.max(2) || grew == 0 || grew == labelled.len() {
            return None;
        }
        let mut model = fit_logistic(&labelled)?;
        model.as_of = as_of;
        Some(model)
    }

    /// p(the key at least triples within eight weeks).
    pub fn predict(&self, features: &[f64]) -> f64 {
        let z: f64 = self.intercept
            + features
                .iter()
                .zip(&self.mean)
                .zip(&self.scale)
                .zip(&self.weights)
                .map(|(((x, m), s), w)| w * (x - m) / s)
                .sum::<f64>();
        sigmoid(z)
    }

    /// The features that weigh most, strongest first, as "name +0.83".
    pub fn explain(&self) -> Vec<String> {
        let mut w: Vec<(&String, f64)> = self
            .features
            .iter()
            .zip(self.weights.iter().copied())
            .collect();
        w.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(b.0)));
        w.into_iter()
            .take(5)
            .map(|(n, w)| format!("{n} {w:+.2}"))
            .collect()
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z.clamp(-40.0, 40.0)).exp())
}

/// Newton-Raphson on the penalised log-likelihood (the features are few,
/// so each step solves a small dense system exactly).
fn fit_logistic(flags: &[&Flag]) -> Option<RankModel> {
    let d = flags.first()?.features.len();
    let n = flags.len() as f64;
    let mut mean = vec![0.0; d];
    for f in flags {
        for (m, x) in mean.iter_mut().zip(&f.features) {
            *m += x / n;
        }
    }
    let mut scale = vec![0.0; d];
    for f in flags {
        for ((s, x), m) in scale.iter_mut().zip(&f.features).zip(&mean) {
            *s += (x - m) * (x - m) / n;
        }
    }
    // A constant feature gets scale 1 (its standardised value is 0).
    let scale: Vec<f64> = scale
        .into_iter()
        .map(|v| if v > 1e-12 { v.sqrt() } else { 1.0 })
        .collect();
    let rows: Vec<Vec<f64>> = flags
        .iter()
        .map(|f| {
            let mut r: Vec<f64> = f
                .features
                .iter()
                .zip(&mean)
                .zip(&scale)
                .map(|((x, m), s)| (x - m) / s)
                .collect();
            r.push(1.0);
            r
        })
        .collect();
    let y: Vec<f64> = flags
        .iter()
        .map(|f| f64::from(u8::from(f.grew == Some(true))))
        .collect();
    let k = d + 1;
    let mut beta = vec![0.0; k];
    for _ in 0..50 {
        let mut grad = vec![0.0; k];
        let mut hess = vec![vec![0.0; k]; k];
        for (r, &yi) in rows.iter().zip(&y) {
            let p = sigmoid(dot(r, &beta));
            let w = (p * (1.0 - p)).max(1e-9);
            for a in 0..k {
                grad[a] += (yi - p) * r[a];
                for b in 0..k {
                    hess[a][b] += w * r[a] * r[b];
                }
            }
        }
        for a in 0..d {
            grad[a] -= RIDGE * beta[a];
            hess[a][a] += RIDGE;
        }
        let step = solve(hess, grad)?;
        let mut biggest = 0.0f64;
        for (b, s) in beta.iter_mut().zip(&step) {
            *b += s;
            biggest = biggest.max(s.abs());
        }
        if biggest < 1e-8 {
            break;
        }
    }
    let intercept = beta.pop()?;
    Some(RankModel {
        features: FEATURES.iter().map(|s| s.to_string()).collect(),
        mean,
        scale,
        weights: beta,
        intercept,
        as_of: 0,
        flags: flags.len(),
        grew: y.iter().filter(|&&v| v > 0.5).count(),
        validation: Validation::default(),
    })
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..n {
            let f = a[row][col] / a[col][col];
            let (upper, lower) = a.split_at_mut(row);
            for (target, &source) in lower[0][col..n].iter_mut().zip(&upper[col][col..n]) {
                *target -= f * source;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|c| a[row][c] * x[c]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Time-ordered cross-validation: the flags in time order are cut into
/// five blocks; each block from the second on is predicted by a model
/// fitted on the flags whose eight weeks ended before the block starts.
fn validate(flags: &[&Flag]) -> Validation {
    let mut sorted: Vec<&Flag> = flags.to_vec();
    sorted.sort_by(|a, b| a.as_of.cmp(&b.as_of).then(a.id.cmp(&b.id)));
    const FOLDS: usize = 5;
    let size = sorted.len().div_ceil(FOLDS);
    let mut predictions: Vec<(f64, f64, bool)> = Vec::new();
    let mut folds = 0;
    for fold in 1..FOLDS {
        let block = &sorted[(fold * size).min(sorted.len())..((fold + 1) * size).min(sorted.len())];
        let Some(start) = block.first().map(|f| f.as_of) else {
            continue;
        };
        let train: Vec<&Flag> = sorted
            .iter()
            .copied()
            .filter(|f| f.as_of + HORIZON_SECONDS <= start)
            .collect();
        let grew = train.iter().filter(|f| f.grew == Some(true)).count();
        if train.len() < 20 || grew == 0 || grew == train.len() {
            continue;
        }
        let Some(model) = fit_logistic(&train) else {
            continue;
        };
        let base = grew as f64 / train.len() as f64;
        folds += 1;
        for f in block {
            predictions.push((model.predict(&f.features), base, f.grew == Some(true)));
        }
    }
    let (brier, brier_constant) = brier_scores(&predictions);
    Validation {
        folds,
        predicted: predictions.len(),
        brier,
        brier_constant,
        reliability: reliability(&predictions),
    }
}

/// Brier scores of (prediction, constant prediction, outcome) triples.
pub fn brier_scores(predictions: &[(f64, f64, bool)]) -> (f64, f64) {
    if predictions.is_empty() {
        return (0.0, 0.0);
    }
    let n = predictions.len() as f64;
    let sq = |p: f64, y: bool| (p - f64::from(u8::from(y))).powi(2);
    (
        predictions.iter().map(|&(p, _, y)| sq(p, y)).sum::<f64>() / n,
        predictions.iter().map(|&(_, c, y)| sq(c, y)).sum::<f64>() / n,
    )
}

/// Observed share of flags that grew against the mean prediction, per
/// tenth of the probability range (empty bins left out).
pub fn reliability(predictions: &[(f64, f64, bool)]) -> Vec<ReliabilityBin> {
    let mut bins: Vec<ReliabilityBin> = (0..10)
        .map(|i| ReliabilityBin {
            from: i as f64 / 10.0,
            to: (i + 1) as f64 / 10.0,
            flags: 0,
            predicted: 0.0,
            observed: 0.0,
        })
        .collect();
    for &(p, _, y) in predictions {
        let b = &mut bins[((p * 10.0) as usize).min(9)];
        b.flags += 1;
        b.predicted += p;
        b.observed += f64::from(u8::from(y));
    }
    bins.into_iter()
        .filter(|b| b.flags > 0)
        .map(|mut b| {
            b.predicted /= b.flags as f64;
            b.observed /= b.flags as f64;
            b
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(t: i64, x: f64, grew: bool) -> Flag {
        let mut features = vec![0.0; FEATURES.len()];
        features[0] = x;
        features[13] = 1.0; // constant: must not break the fit
        Flag {
            as_of: t,
            id: format!("f{t}-{x}"),
            features,
            score: x,
            grew: Some(grew),
        }
    }

    #[test]
    fn the_model_learns_a_monotone_feature_and_beats_a_constant() {
        // p(grow) rises with feature 0: grows when x > 0.5 (with noise).
        let mut flags = Vec::new();
        for i in 0..400 {
            let x = (i % 20) as f64 / 20.0;
            let noisy = (i * 7919) % 10 == 0;
            flags.push(flag(i as i64 * 86_400, x, (x > 0.5) != noisy));
        }
        let model = RankModel::fit(&flags, 400 * 86_400, 100).expect("fits");
        assert!(model.weights[0] > 1.0, "{:?}", model.weights);
        assert!(model.predict(&flag(0, 0.9, true).features) > 0.7);
        assert!(model.predict(&flag(0, 0.1, true).features) < 0.3);
        let v = &model.validation;
        assert!(v.folds >= 3, "{v:?}");
        assert!(v.brier < v.brier_constant, "{v:?}");
        assert!(!v.reliability.is_empty());
        assert_eq!(model.explain()[0].split(' ').next(), Some("ln"));
        // too few labelled flags, or one outcome only: no model
        assert!(RankModel::fit(&flags[..50], 0, 100).is_none());
        let all_grew: Vec<Flag> = (0..200).map(|i| flag(i, 0.3, true)).collect();
        assert!(RankModel::fit(&all_grew, 0, 100).is_none());
    }

    #[test]
    fn a_model_no_better_than_a_constant_does_not_rank() {
        let row = |model: &RankModel| crate::store::RankModelRow {
            settings: "s".into(),
            as_of: model.as_of,
            fitted_at: model.as_of,
            flags: model.flags,
            grew: model.grew,
            model: Some(serde_json::to_string(model).unwrap()),
            note: String::new(),
        };
        // the outcome does not depend on the feature: validation finds no skill
        let flags: Vec<Flag> = (0..400)
            .map(|i| flag(i as i64 * 86_400, (i % 20) as f64 / 20.0, (i * 7) % 3 == 0))
            .collect();
        let noise = RankModel::fit(&flags, 400 * 86_400, 100).expect("fits");
        assert!(
            noise.validation.brier >= noise.validation.brier_constant,
            "{:?}",
            noise.validation
        );
        match ranking_from(Some(row(&noise))) {
            super::super::Ranking::Score { reason } => {
                assert!(reason.contains("no better than a constant"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        let mut skilled = noise.clone();
        skilled.validation.brier = skilled.validation.brier_constant - 0.01;
        assert!(matches!(
            ranking_from(Some(row(&skilled))),
            super::super::Ranking::Model { .. }
        ));
    }

    #[test]
    fn brier_and_reliability_by_hand() {
        let preds = [(0.9, 0.5, true), (0.1, 0.5, false), (0.15, 0.5, true)];
        let (b, c) = brier_scores(&preds);
        assert!((b - (0.01 + 0.01 + 0.7225) / 3.0).abs() < 1e-12);
        assert!((c - 0.25).abs() < 1e-12);
        let bins = reliability(&preds);
        assert_eq!(bins.len(), 2);
        assert_eq!(bins[0].flags, 2);
        assert!((bins[0].observed - 0.5).abs() < 1e-12);
        assert!((bins[1].predicted - 0.9).abs() < 1e-12);
    }
}
