//! Significance: is a key's recent count more than its own past explains?
//!
//! Growth ratios alone flag three documents of a word that had one before.
//! A signal needs evidence that its rise is not chance, and a run tests
//! hundreds of keys at once, so the evidence must survive the number of
//! tests. Each key's recent count is tested against its baseline with the
//! exact conditional test for two Poisson rates (a binomial test that takes
//! each window's total volume into account), and the p-values of one run
//! are adjusted together by Benjamini and Hochberg's false-discovery-rate
//! procedure.

/// The name of the test, as `why` and the JSON show it.
pub const TEST_NAME: &str = "binomial test of two Poisson rates (recent vs baseline volume), Benjamini-Hochberg over the run's candidates";

/// One-sided p-value that a key's rate in the recent windows is no higher
/// than in its baseline: `recent` of its documents fell in the recent
/// windows (which held `recent_volume` documents in all) and `baseline` in
/// the baseline windows (`baseline_volume` documents).
///
/// Conditional on the key's total `recent + baseline`, under equal rates the
/// recent count is Binomial(total, recent_volume / (recent_volume +
/// baseline_volume)) (Przyborowski and Wilenski's conditional test). A key
/// with no past and three documents in a week of 28, against eight weeks of
/// 28, has p = (1/9)^3 = 0.0014; the same three documents against 25 quiet
/// weeks have p = (1/26)^3.
pub fn rate_test(recent: u32, baseline: u32, recent_volume: f64, baseline_volume: f64) -> f64 {
    if recent == 0 {
        return 1.0;
    }
    if baseline_volume <= 0.0 {
        // Nothing to compare with: no evidence either way.
        return 1.0;
    }
    let share = recent_volume.max(0.0) / (recent_volume.max(0.0) + baseline_volume);
    binomial_sf(recent, recent + baseline, share)
}

/// P(X >= k) for X ~ Binomial(n, p), summed in log space from k upwards.
pub fn binomial_sf(k: u32, n: u32, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let ln_term = |i: u32| ln_choose(n, i) + i as f64 * lp + (n - i) as f64 * lq;
    let first = ln_term(k);
    let mut sum = 0.0;
    for i in k..=n {
        let t = (ln_term(i) - first).exp();
        sum += t;
        // Terms fall geometrically once past the mean.
        if t < 1e-16 && i as f64 > n as f64 * p {
            break;
        }
    }
    (first + sum.ln()).exp().min(1.0)
}

fn ln_choose(n: u32, k: u32) -> f64 {
    ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)
}

/// ln(n!): exact sums below 64, Stirling's series above (error < 1e-10).
pub fn ln_factorial(n: u32) -> f64 {
    if n < 2 {
        return 0.0;
    }
    if n < 64 {
        return (2..=n).map(|i| (i as f64).ln()).sum();
    }
    let x = n as f64;
    x * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI * x).ln() + 1.0 / (12.0 * x)
        - 1.0 / (360.0 * x * x * x)
}

/// Benjamini-Hochberg adjusted p-values (q-values), in the input's order:
/// q_i = min over j with p_j >= p_i of p_j * m / rank_j, capped at 1. A
/// key is a discovery at false discovery rate `alpha` when q <= alpha.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    let mut q = vec![1.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        let adjusted = p[i] * m as f64 / (rank + 1) as f64;
        running = running.min(adjusted).min(1.0);
        q[i] = running;
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_tail_matches_direct_sums() {
        // P(X >= 2), X ~ Bin(3, 0.5) = 4/8
        assert!((binomial_sf(2, 3, 0.5) - 0.5).abs() < 1e-12);
        // P(X >= 3), X ~ Bin(3, 1/9) = 1/729
        assert!((binomial_sf(3, 3, 1.0 / 9.0) - 1.0 / 729.0).abs() < 1e-15);
        assert_eq!(binomial_sf(0, 10, 0.3), 1.0);
        assert_eq!(binomial_sf(11, 10, 0.3), 0.0);
        // a long tail stays finite and tiny
        let p = binomial_sf(900, 1000, 0.1);
        assert!(p.is_finite() && p < 1e-300, "{p}");
        // and the complement of the lower tail: P(X >= 1) = 1 - (1-p)^n
        let want = 1.0 - 0.9f64.powi(20);
        assert!((binomial_sf(1, 20, 0.1) - want).abs() < 1e-12);
    }

    #[test]
    fn the_rate_test_weighs_volume() {
        // Three new documents against eight equal windows: (1/9)^3.
        let p = rate_test(3, 0, 28.0, 8.0 * 28.0);
        assert!((p - 1.0 / 729.0).abs() < 1e-12, "{p}");
        // ...against 25 windows of history, much stronger evidence.
        assert!(rate_test(3, 0, 28.0, 25.0 * 28.0) < 1e-4);
        // A steady key is no evidence: 3 now, 24 before in 8 equal windows.
        assert!(rate_test(3, 24, 28.0, 8.0 * 28.0) > 0.3);
        // A thin recent window makes the same count stronger evidence of a
        // higher share, a fat one weaker.
        assert!(rate_test(3, 2, 10.0, 200.0) < rate_test(3, 2, 100.0, 200.0));
        assert_eq!(rate_test(0, 5, 28.0, 200.0), 1.0);
        assert_eq!(rate_test(4, 0, 28.0, 0.0), 1.0);
    }

    #[test]
    fn benjamini_hochberg_is_monotone_and_matches_the_textbook() {
        let p = [0.01, 0.04, 0.03, 0.005];
        let q = benjamini_hochberg(&p);
        // sorted: 0.005 (r1), 0.01 (r2), 0.03 (r3), 0.04 (r4); m = 4
        // raw: 0.02, 0.02, 0.04, 0.04 -> monotone from the top
        let want = [0.02, 0.04, 0.04, 0.02];
        for (a, b) in q.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{q:?}");
        }
        assert!(benjamini_hochberg(&[]).is_empty());
        assert_eq!(benjamini_hochberg(&[1.0]), vec![1.0]);
    }
}
