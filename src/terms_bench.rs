//! `weaksignal bench morph`: what the morphology costs the term extraction.
//!
//! Voikko analyses a written form in about 250 µs, and every form is
//! analysed once per run (the extractor caches it), so the cost grows with
//! the number of distinct forms, not of documents. The bench measures both
//! on the store's real documents (title + the 300-character lead, as the
//! signals read them): the cold cost on one thread and on every core, and
//! the warm cost of the same documents repeated up to `--docs`. Repeats
//! bring no new forms, so it also fits Heaps' law (distinct forms = K·n^β)
//! to the Finnish documents and projects the cost of a store of `--docs`
//! documents with the vocabulary it would really have.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::morph::Morphology;
use crate::store::Store;
use crate::terms::TermExtractor;

/// The figures of one `bench morph` run.
#[derive(Debug, Clone, Serialize)]
pub struct MorphBench {
    pub morphology: String,
    pub load_seconds: f64,
    pub threads: usize,
    /// The store's documents, and the Finnish ones.
    pub documents: usize,
    pub finnish_documents: usize,
    /// Distinct Finnish written forms in them.
    pub finnish_forms: usize,
    /// Term extraction of every document once, from an empty cache: one
    /// thread, then with the forms analysed ahead on every core.
    pub cold_one_thread_seconds: f64,
    pub cold_all_threads_seconds: f64,
    /// Microseconds per distinct Finnish form (one thread, cold).
    pub micros_per_form: f64,
    /// The documents repeated to `replicated` documents, through one
    /// extractor (only the first copy analyses anything).
    pub replicated: usize,
    pub replicated_seconds: f64,
    /// Heaps' law fitted on prefixes of the Finnish documents in time order.
    pub heaps_k: f64,
    pub heaps_beta: f64,
    /// Distinct forms projected for `replicated` Finnish documents, and the
    /// projected seconds: those forms analysed on every core plus the warm
    /// cost per document.
    pub projected_forms: f64,
    pub projected_seconds: f64,
    /// The same for `replicated` documents that are all Finnish.
    pub projected_forms_all_finnish: f64,
    pub projected_seconds_all_finnish: f64,
}

/// Runs the bench over the documents of `store`.
pub fn run(
    store: &Store,
    morph: Arc<Morphology>,
    load_seconds: f64,
    docs: usize,
) -> Result<MorphBench> {
    let mut texts: Vec<(String, String, String)> = Vec::new();
    store.for_each_document_by_published(i64::MAX, |d| {
        let lead: String = d.text.chars().take(300).collect();
        texts.push((d.title, lead, d.lang));
        Ok(())
    })?;
    if texts.is_empty() {
        return Err(Error::EmptyStore {
            path: store.path().parent().unwrap_or(store.path()).to_path_buf(),
        });
    }
    let finnish: Vec<usize> = (0..texts.len()).filter(|&i| texts[i].2 == "fi").collect();
    let extract = |extractor: &mut TermExtractor, order: &mut dyn Iterator<Item = usize>| {
        for i in order {
            let (title, lead, lang) = &texts[i];
            std::hint::black_box(extractor.terms(&[title, lead], lang));
        }
    };
    // Cold, one thread: every form analysed when first met.
    let mut one = TermExtractor::new(Arc::clone(&morph));
    let started = Instant::now();
    extract(&mut one, &mut (0..texts.len()));
    let cold_one = started.elapsed().as_secs_f64();
    // Cold, every core: the forms analysed ahead, as the signals do.
    let mut all = TermExtractor::new(Arc::clone(&morph));
    let started = Instant::now();
    all.analyse_ahead(
        texts
            .iter()
            .flat_map(|(t, l, lang)| [(t.as_str(), lang.as_str()), (l.as_str(), lang.as_str())]),
    );
    extract(&mut all, &mut (0..texts.len()));
    let cold_all = started.elapsed().as_secs_f64();
    // Distinct Finnish forms over prefixes (Heaps' law), and their cost.
    let mut forms = std::collections::HashSet::new();
    let mut points: Vec<(f64, f64)> = Vec::new();
    let mut next = 256;
    for (n, &i) in finnish.iter().enumerate() {
        for text in [&texts[i].0, &texts[i].1] {
            for w in text.split(|c: char| !c.is_alphanumeric() && c != '-') {
                if !w.is_empty() {
                    forms.insert(w.to_string());
                }
            }
        }
        if n + 1 == next || n + 1 == finnish.len() {
            points.push((((n + 1) as f64).ln(), (forms.len().max(1) as f64).ln()));
            next *= 2;
        }
    }
    let (heaps_k, heaps_beta) = fit_line(&points);
    // Warm: the documents repeated, through the one-thread extractor's cache.
    let started = Instant::now();
    extract(&mut one, &mut (0..docs).map(|i| i % texts.len()));
    let replicated_seconds = started.elapsed().as_secs_f64();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let micros_per_form = if forms.is_empty() {
        0.0
    } else {
        // the English documents' share of the cold time is the warm rate's
        (cold_one - replicated_seconds * texts.len() as f64 / docs as f64).max(0.0) * 1e6
            / forms.len() as f64
    };
    let finnish_share = finnish.len() as f64 / texts.len() as f64;
    let projected_forms = heaps_k * (docs as f64 * finnish_share).max(1.0).powf(heaps_beta);
    let projected_seconds =
        projected_forms * micros_per_form / 1e6 / threads as f64 + replicated_seconds;
    let projected_forms_all_finnish = heaps_k * (docs as f64).powf(heaps_beta);
    let projected_seconds_all_finnish =
        projected_forms_all_finnish * micros_per_form / 1e6 / threads as f64 + replicated_seconds;
    Ok(MorphBench {
        morphology: morph.id().to_string(),
        load_seconds,
        threads,
        documents: texts.len(),
        finnish_documents: finnish.len(),
        finnish_forms: forms.len(),
        cold_one_thread_seconds: cold_one,
        cold_all_threads_seconds: cold_all,
        micros_per_form,
        replicated: docs,
        replicated_seconds,
        heaps_k,
        heaps_beta,
        projected_forms,
        projected_seconds,
        projected_forms_all_finnish,
        projected_seconds_all_finnish,
    })
}

/// Least squares of ln(forms) = ln K + β ln(n): (K, β).
fn fit_line(points: &[(f64, f64)]) -> (f64, f64) {
    if points.len() < 2 {
        return (points.first().map_or(0.0, |p| p.1.exp()), 1.0);
    }
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1));
    let (mx, my) = (sx / n, sy / n);
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let beta = if sxx > 0.0 { sxy / sxx } else { 1.0 };
    ((my - beta * mx).exp(), beta)
}

#[cfg(test)]
mod tests {
    #[test]
    fn heaps_fit_recovers_a_power_law() {
        let points: Vec<(f64, f64)> = [256.0f64, 512.0, 1024.0, 2048.0]
            .iter()
            .map(|&n| (n.ln(), (12.0 * n.powf(0.7)).ln()))
            .collect();
        let (k, beta) = super::fit_line(&points);
        assert!(
            (k - 12.0).abs() < 1e-6 && (beta - 0.7).abs() < 1e-9,
            "{k} {beta}"
        );
    }
}
