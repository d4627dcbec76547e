//! Trends: how many documents a topic or term has per window, and how that
//! is changing, against its own past.
//!
//! Windows here are *trailing* windows that end at the as-of time (window 0
//! is the last `window` before it), so the newest window is always complete
//! and a run on any day of the week sees the same amount of "now".
//!
//! polars does the tabular work: counts per (key, window), a dense grid with
//! zeros, shares of all documents, rolling recent and baseline rates per key
//! (`rolling_*().over(key)`), growth, acceleration and Yoon's (2012) degree of
//! visibility (DoV, from term frequency) and diffusion (DoD, from document
//! frequency), both time-weighted. The formulas' parameters live in
//! `[signals]` of `config.toml`.

use polars::prelude::{
    col, lit, Column, DataFrame, DataType, IntoLazy, JoinArgs, JoinType, RollingOptionsFixedWindow,
    SortMultipleOptions,
};

use crate::config::SignalsConfig;
use crate::error::{Error, Result};

/// A key (topic or term) seen in one document.
#[derive(Debug, Clone, Copy)]
pub struct Occurrence {
    pub key: u32,
    /// Trailing window: 0 is the newest.
    pub back: u32,
    pub source: u32,
    /// Occurrences in the document (term frequency; 1 for topics), or 0 for
    /// a row that only adds `source` as another carrier of a counted document
    /// (a syndicated copy): it counts for diffusion, not as a document.
    pub tf: u32,
}

/// The trend of one key at the as-of time.
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    pub key: u32,
    /// Documents per window, oldest first (`history_windows` values).
    pub timeline: Vec<u32>,
    /// Documents in the recent windows.
    pub recent_docs: u32,
    /// Mean documents per window in the baseline windows.
    pub baseline_rate: f64,
    /// Smoothed ratio of the recent to the baseline rate.
    pub growth: f64,
    /// Growth one window earlier.
    pub growth_prev: f64,
    /// Mean documents per window over the whole history before the recent windows...
    pub history_rate: f64,
    /// ...and the recent rate against it, smoothed like `growth`: growth over
    /// the long run, which a topic at a high plateau keeps when it no longer
    /// grows against its last few windows.
    pub growth_long: f64,
    pub acceleration: f64,
    /// Share of all documents in the recent windows.
    pub visibility: f64,
    /// Share of all documents in the baseline windows.
    pub visibility_baseline: f64,
    /// Distinct sources in the recent windows.
    pub sources_recent: u32,
    /// Yoon's mean time-weighted degree of visibility and diffusion over the history.
    pub dov: f64,
    pub dod: f64,
    /// Growth of DoV and DoD (recent against baseline, smoothed like `growth`).
    pub dov_growth: f64,
    pub dod_growth: f64,
    /// Poisson surprise of the recent count given the baseline rate (-log10 p).
    pub burst: f64,
}

fn pe(e: polars::error::PolarsError) -> Error {
    Error::Compute {
        what: "trend table".into(),
        message: e.to_string(),
    }
}

/// Trends of every key that occurs in `occurrences`, given the number of
/// documents in each trailing window (`totals[back]`).
pub fn compute(
    occurrences: &[Occurrence],
    totals: &[u32],
    config: &SignalsConfig,
) -> Result<Vec<Trend>> {
    let history = totals.len();
    if occurrences.is_empty() || history == 0 {
        return Ok(Vec::new());
    }
    let recent = config.recent_windows.max(1);
    let baseline = config.baseline_windows.max(1);
    let alpha = config.smoothing;
    let occ = DataFrame::new_infer_height(vec![
        Column::new(
            "key".into(),
            occurrences.iter().map(|o| o.key).collect::<Vec<_>>(),
        ),
        Column::new(
            "back".into(),
            occurrences.iter().map(|o| o.back).collect::<Vec<_>>(),
        ),
        Column::new(
            "source".into(),
            occurrences.iter().map(|o| o.source).collect::<Vec<_>>(),
        ),
        Column::new(
            "tf".into(),
            occurrences.iter().map(|o| o.tf).collect::<Vec<_>>(),
        ),
    ])
    .map_err(pe)?;
    let mut keys: Vec<u32> = occurrences.iter().map(|o| o.key).collect();
    keys.sort_unstable();
    keys.dedup();
    let grid_keys: Vec<u32> = keys
        .iter()
        .flat_map(|&k| std::iter::repeat_n(k, history))
        .collect();
    let grid_back: Vec<u32> = keys
        .iter()
        .flat_map(|_| (0..history as u32).rev())
        .collect();
    let grid = DataFrame::new_infer_height(vec![
        Column::new("key".into(), grid_keys),
        Column::new("back".into(), grid_back),
    ])
    .map_err(pe)?;
    let total = DataFrame::new_infer_height(vec![
        Column::new("back".into(), (0..history as u32).collect::<Vec<_>>()),
        // An empty window has share 0 for every key, not 0/0.
        Column::new(
            "total".into(),
            totals.iter().map(|&t| t.max(1)).collect::<Vec<_>>(),
        ),
    ])
    .map_err(pe)?;
    let counts = occ.clone().lazy().group_by([col("key"), col("back")]).agg([
        // Rows with tf 0 only name another source that carried a document.
        col("tf")
            .gt(lit(0u32))
            .sum()
            .cast(DataType::Float64)
            .alias("docs"),
        col("tf").sum().cast(DataType::Float64).alias("tf"),
    ]);
    let sources = occ
        .lazy()
        .filter(col("back").lt(lit(recent as u32)))
        .group_by([col("key")])
        .agg([col("source")
            .n_unique()
            .cast(DataType::UInt32)
            .alias("sources_recent")]);
    let left = || JoinArgs::new(JoinType::Left);
    let fixed = |n: usize| RollingOptionsFixedWindow {
        window_size: n,
        min_periods: 1,
        ..Default::default()
    };
    let over = |e: polars::prelude::Expr| e.over([col("key")]).map_err(pe);
    let recent_mean = |c: &str| over(col(c).rolling_mean(fixed(recent)));
    let baseline_mean = |c: &str| {
        over(
            col(c)
                .shift(lit(recent as i64))
                .rolling_mean(fixed(baseline)),
        )
        .map(|e| e.fill_null(lit(0.0)))
    };
    let tw = lit(1.0) - lit(config.time_weight) * col("back").cast(DataType::Float64);
    let frame = grid
        .lazy()
        .join(
            counts,
            [col("key"), col("back")],
            [col("key"), col("back")],
            left(),
        )
        .join(total.lazy(), [col("back")], [col("back")], left())
        .join(sources, [col("key")], [col("key")], left())
        .with_columns([
            col("docs").fill_null(lit(0.0)),
            col("tf").fill_null(lit(0.0)),
            col("total").cast(DataType::Float64),
            col("sources_recent").fill_null(lit(0u32)),
        ])
        .sort(
            ["key", "back"],
            SortMultipleOptions::default().with_order_descending_multi([false, true]),
        )
        .with_columns([
            (col("docs") / col("total")).alias("share"),
            (col("tf") / col("total") * tw.clone()).alias("dov_w"),
            (col("docs") / col("total") * tw).alias("dod_w"),
        ])
        .with_columns([
            over(col("docs").rolling_sum(fixed(recent)))?.alias("recent"),
            baseline_mean("docs")?.alias("baseline"),
            over(col("docs").shift(lit(recent as i64)).mean())?
                .fill_null(lit(0.0))
                .alias("history_rate"),
            recent_mean("share")?.alias("vis"),
            baseline_mean("share")?.alias("vis_base"),
            over(col("dov_w").mean())?.alias("dov"),
            over(col("dod_w").mean())?.alias("dod"),
            recent_mean("dov_w")?.alias("dov_recent"),
            baseline_mean("dov_w")?.alias("dov_base"),
            recent_mean("dod_w")?.alias("dod_recent"),
            baseline_mean("dod_w")?.alias("dod_base"),
        ])
        .with_columns([
            ((col("recent") / lit(recent as f64) + lit(alpha)) / (col("baseline") + lit(alpha)))
                .alias("growth"),
            ((col("recent") / lit(recent as f64) + lit(alpha))
                / (col("history_rate") + lit(alpha)))
            .alias("growth_long"),
        ])
        .with_columns([over(col("growth").shift(lit(1)))?
            .fill_null(lit(1.0))
            .alias("growth_prev")])
        .collect()
        .map_err(pe)?;
    let f64s = |name: &str| -> Result<Vec<f64>> {
        let c = frame.column(name).map_err(pe)?;
        let s = c
            .as_materialized_series()
            .cast(&DataType::Float64)
            .map_err(pe)?;
        Ok(s.f64()
            .map_err(pe)?
            .iter()
            .map(|v| v.unwrap_or(0.0))
            .collect())
    };
    let key_col: Vec<u32> = frame
        .column("key")
        .map_err(pe)?
        .as_materialized_series()
        .u32()
        .map_err(pe)?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    let (docs, recent_c, base, growth, growth_prev) = (
        f64s("docs")?,
        f64s("recent")?,
        f64s("baseline")?,
        f64s("growth")?,
        f64s("growth_prev")?,
    );
    let (vis, vis_base, dov, dod) = (f64s("vis")?, f64s("vis_base")?, f64s("dov")?, f64s("dod")?);
    let (dov_r, dov_b, dod_r, dod_b) = (
        f64s("dov_recent")?,
        f64s("dov_base")?,
        f64s("dod_recent")?,
        f64s("dod_base")?,
    );
    let sources = f64s("sources_recent")?;
    let (history_rate, growth_long) = (f64s("history_rate")?, f64s("growth_long")?);
    // Smoothing for DoV/DoD growth: `alpha` documents in an average window.
    let mean_total = totals.iter().map(|&t| t as f64).sum::<f64>() / history as f64;
    let eps = alpha / mean_total.max(1.0);
    let mut out = Vec::with_capacity(keys.len());
    for start in (0..key_col.len()).step_by(history) {
        let last = start + history - 1; // back == 0
        let recent_docs = recent_c[last].round() as u32;
        let baseline_rate = base[last];
        out.push(Trend {
            key: key_col[start],
            timeline: docs[start..=last].iter().map(|&d| d as u32).collect(),
            recent_docs,
            baseline_rate,
            growth: growth[last],
            growth_prev: growth_prev[last],
            history_rate: history_rate[last],
            growth_long: growth_long[last],
            acceleration: growth[last] - growth_prev[last],
            visibility: vis[last],
            visibility_baseline: vis_base[last],
            sources_recent: sources[last] as u32,
            dov: dov[last],
            dod: dod[last],
            dov_growth: (dov_r[last] + eps) / (dov_b[last] + eps),
            dod_growth: (dod_r[last] + eps) / (dod_b[last] + eps),
            burst: burst(recent_docs, baseline_rate, recent, baseline, alpha),
        });
    }
    Ok(out)
}

/// -log10 P(X >= k) for X ~ Poisson(lambda), lambda the expected count in
/// `recent` windows under a Gamma prior of `alpha` documents over one extra
/// window: (baseline_rate * baseline + alpha) / (baseline + 1) per window.
pub fn burst(k: u32, baseline_rate: f64, recent: usize, baseline: usize, alpha: f64) -> f64 {
    let rate = (baseline_rate * baseline as f64 + alpha) / (baseline as f64 + 1.0);
    let lambda = (rate * recent as f64).max(1e-9);
    if k == 0 {
        return 0.0;
    }
    // Upper tail summed from k in log space: terms fall quickly once i > lambda.
    let ln_term = |i: u32| -lambda + i as f64 * lambda.ln() - crate::stats::ln_factorial(i);
    let first = ln_term(k);
    let mut sum = 0.0;
    let mut i = k;
    loop {
        let t = (ln_term(i) - first).exp();
        sum += t;
        i += 1;
        if (t < 1e-12 && i as f64 > lambda) || i > k + 10_000 {
            break;
        }
    }
    let ln_p = (first + sum.ln()).min(0.0);
    (-ln_p / std::f64::consts::LN_10).min(300.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occ(key: u32, back: u32, n: u32) -> Vec<Occurrence> {
        (0..n)
            .map(|i| Occurrence {
                key,
                back,
                source: i % 2,
                tf: 1,
            })
            .collect()
    }

    #[test]
    fn growth_is_smoothed_and_against_the_own_baseline() {
        let config = SignalsConfig {
            recent_windows: 1,
            baseline_windows: 4,
            smoothing: 1.0,
            ..Default::default()
        };
        let mut o = occ(7, 0, 3); // 3 docs now
        o.extend(occ(7, 1, 1)); // 1 doc a window earlier
        o.extend(occ(9, 0, 2));
        o.extend(occ(9, 2, 2));
        o.extend(occ(9, 3, 2));
        let totals = vec![10, 10, 10, 10, 10, 10];
        let trends = compute(&o, &totals, &config).unwrap();
        let t7 = trends.iter().find(|t| t.key == 7).unwrap();
        assert_eq!(t7.timeline, vec![0, 0, 0, 0, 1, 3]);
        assert_eq!(t7.recent_docs, 3);
        // baseline: mean of backs 1..=4 = 0.25 -> (3 + 1) / (0.25 + 1) = 3.2
        assert!((t7.growth - 3.2).abs() < 1e-9, "{}", t7.growth);
        // one window earlier: 1 doc against 0 -> (1 + 1) / (0 + 1) = 2
        assert!((t7.growth_prev - 2.0).abs() < 1e-9, "{}", t7.growth_prev);
        assert!((t7.visibility - 0.3).abs() < 1e-9);
        assert_eq!(t7.sources_recent, 2);
        let t9 = trends.iter().find(|t| t.key == 9).unwrap();
        assert_eq!(t9.timeline, vec![0, 0, 2, 2, 0, 2]);
        assert!((t9.baseline_rate - 1.0).abs() < 1e-9);
        assert!((t9.growth - 1.5).abs() < 1e-9);
        assert!(t7.burst > t9.burst);
    }

    #[test]
    fn carrier_rows_count_for_diffusion_not_documents() {
        let mut rows = occ(7, 0, 2);
        // Both documents were also carried by source 5 (syndicated copies).
        rows.extend((0..2).map(|_| Occurrence {
            key: 7,
            back: 0,
            source: 5,
            tf: 0,
        }));
        let cfg = SignalsConfig::default();
        let totals = vec![10u32; cfg.history()];
        let with = compute(&rows, &totals, &cfg).unwrap();
        let without = compute(&occ(7, 0, 2), &totals, &cfg).unwrap();
        assert_eq!(with[0].recent_docs, 2);
        assert_eq!(with[0].timeline, without[0].timeline);
        assert_eq!(with[0].sources_recent, without[0].sources_recent + 1);
    }

    #[test]
    fn burst_is_a_poisson_tail() {
        // lambda = (0 * 8 + 1) / 9: P(X >= 1) = 1 - e^-lambda
        let lambda: f64 = 1.0 / 9.0;
        let want = -(1.0 - (-lambda).exp()).log10();
        assert!((burst(1, 0.0, 1, 8, 1.0) - want).abs() < 1e-9);
        // lambda = (10 * 8 + 1) / 9 = 9: 12 is ordinary, 20 is not (p ~ 0.001)
        assert!(burst(12, 10.0, 1, 8, 1.0) < 1.0);
        assert!(
            (burst(20, 10.0, 1, 8, 1.0) - 2.97).abs() < 0.05,
            "{}",
            burst(20, 10.0, 1, 8, 1.0)
        );
        assert!(burst(60, 10.0, 1, 8, 1.0) > 10.0);
        assert_eq!(burst(0, 3.0, 1, 8, 1.0), 0.0);
        assert!(burst(5000, 1.0, 1, 8, 1.0).is_finite());
    }
}
