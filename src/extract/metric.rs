//! Port of scrapinghub/article-extraction-benchmark `evaluate.py` so scores
//! here are comparable with the published table.

use std::collections::HashMap;

/// Python's `\w` with re.UNICODE: alphanumeric (str.isalnum) or underscore.
fn tokenize(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        let w = c.is_alphanumeric() || c == '_';
        match (w, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(&text[s..i]);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(&text[s..]);
    }
    out
}

fn shingles(text: &str, n: usize) -> HashMap<Vec<&str>, usize> {
    let toks = tokenize(text);
    let mut m = HashMap::new();
    let count = std::cmp::max(1, (toks.len() + 1).saturating_sub(n));
    for i in 0..count {
        let end = (i + n).min(toks.len());
        if i >= end {
            continue;
        }
        *m.entry(toks[i..end].to_vec()).or_insert(0) += 1;
    }
    m
}

pub fn shingle_tp_fp_fn(truth: &str, pred: &str) -> (f64, f64, f64) {
    let t = shingles(truth, 4);
    let p = shingles(pred, 4);
    let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
    for k in t.keys().chain(p.keys().filter(|k| !t.contains_key(*k))) {
        let tc = *t.get(k).unwrap_or(&0) as f64;
        let pc = *p.get(k).unwrap_or(&0) as f64;
        tp += tc.min(pc);
        fp += (pc - tc).max(0.0);
        fn_ += (tc - pc).max(0.0);
    }
    let s = tp + fp + fn_;
    if s > 0.0 {
        (tp / s, fp / s, fn_ / s)
    } else {
        (tp, fp, fn_)
    }
}

fn precision(tp: f64, fp: f64, fn_: f64) -> f64 {
    if fp == 0.0 && fn_ == 0.0 {
        1.0
    } else if tp == 0.0 && fp == 0.0 {
        0.0
    } else {
        tp / (tp + fp)
    }
}

fn recall(tp: f64, fp: f64, fn_: f64) -> f64 {
    if fp == 0.0 && fn_ == 0.0 {
        1.0
    } else if tp == 0.0 && fn_ == 0.0 {
        0.0
    } else {
        tp / (tp + fn_)
    }
}

/// (precision, recall, F1) as in `metrics_from_tp_fp_fns`.
pub fn prf(v: &[(f64, f64, f64)]) -> (f64, f64, f64) {
    let ps: Vec<f64> = v
        .iter()
        .filter(|t| t.0 + t.1 > 0.0)
        .map(|t| precision(t.0, t.1, t.2))
        .collect();
    let rs: Vec<f64> = v
        .iter()
        .filter(|t| t.0 + t.2 > 0.0)
        .map(|t| recall(t.0, t.1, t.2))
        .collect();
    let mean = |x: &[f64]| {
        if x.is_empty() {
            0.0
        } else {
            x.iter().sum::<f64>() / x.len() as f64
        }
    };
    let (p, r) = (mean(&ps), mean(&rs));
    let f = if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    };
    (p, r, f)
}
