//! Tagging: a text's (or a topic's) place on a taxonomy, from the
//! embeddings the pipeline already computes.
//!
//! Each category becomes one prototype vector: its name and description in
//! English and in Finnish, embedded as queries and averaged, so that a
//! Finnish and an English text about the same thing land on the same
//! category. When the taxonomy file gives example headlines (written by us,
//! not taken from a corpus), their centroid leads the prototype and the
//! description counts half: a headline is closer to other headlines than to
//! a definition. A document's cosines to the prototypes become probabilities
//! through a softmax at one temperature for every taxonomy, so that a score
//! means the same for every category.
//!
//! How this was chosen: on the even rows of the hand-labelled headlines
//! (`tests/fixtures/taxonomy-labels.csv`), with the odd rows kept for the
//! figures in BENCHMARKS.md. Contextual calibration (subtracting each
//! category's cosine to content-free texts) was tried first and lost to the
//! plain baseline there, so it is not used.
//!
//! Where labelled headlines exist (STEEP and the megatrends), a logistic
//! regression head trained on them ([`Head`], `taxonomies/heads/`) is
//! blended with the prototypes: `Method::Trained`, the default. The head
//! knows only the categories and the model it was trained for; any other
//! taxonomy or model is tagged by the prototypes alone.
//!
//! Two baselines are built in for comparison (`weaksignal tag --method`):
//! plain zero-shot e5 (one English line per category, raw cosine) and
//! keywords (the category's description words found in the text).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Taxonomy;
use crate::embed::E5Embedder;
use crate::error::{Error, Result};

/// How categories are scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// The prototypes blended with a head trained on hand-labelled
    /// headlines (`taxonomies/heads/`), for the taxonomies that have one and
    /// the model it was trained for; the prototypes alone otherwise (the default).
    Trained,
    /// Bilingual prototypes from descriptions and examples, softmax.
    Prototypes,
    /// Baseline: the English category name as the only query, raw cosine.
    ZeroShot,
    /// Baseline: description words (first five letters) found in the text.
    Keywords,
}

/// The softmax temperature over cosines: e5's cosines between a headline
/// and the categories differ by hundredths. 0.0075 minimised the log loss
/// on the even rows of the labelled headlines for STEEP and the megatrends
/// alike (0.005 to 0.03 tried).
pub const TEMPERATURE: f64 = 0.0075;

/// Weight of the description against the examples' centroid.
const DESCRIPTION_WEIGHT: f32 = 0.5;

/// A category a text or topic is tagged with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tag {
    pub taxonomy: String,
    pub id: String,
    pub name: String,
    /// Probability (prototypes), cosine (zero-shot) or share of keyword hits.
    pub score: f64,
}

/// A taxonomy ready to score embedded texts.
pub struct Tagger {
    pub taxonomy: String,
    pub method: Method,
    ids: Vec<String>,
    names: Vec<String>,
    prototypes: Vec<Vec<f32>>,
    keywords: Vec<Vec<String>>,
    head: Option<Head>,
}

/// A multinomial logistic regression over document vectors, trained by
/// `scripts/train_taxonomy_heads.py` on `tests/fixtures/taxonomy-train.csv`
/// (600 headlines labelled by hand, disjoint from the evaluation set).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    pub taxonomy: String,
    /// The model id (without precision) whose vectors it was trained on.
    pub model: String,
    pub trained_on: String,
    pub rows: usize,
    pub categories: Vec<String>,
    /// Weight of the prototypes' probabilities in the blend (cross-validated).
    pub alpha: f64,
    pub bias: Vec<f64>,
    pub weights: Vec<Vec<f32>>,
}

/// The heads that ship with the binary.
const BUILT_IN_HEADS: &[&str] = &[
    include_str!("../../taxonomies/heads/steep.json"),
    include_str!("../../taxonomies/heads/sitra-megatrends-2023.json"),
];

impl Head {
    /// The built-in head of `taxonomy` when it fits its categories and `model`.
    fn built_in(taxonomy: &Taxonomy, model: &str) -> Option<Head> {
        BUILT_IN_HEADS
            .iter()
            .filter_map(|text| serde_json::from_str::<Head>(text).ok())
            .find(|h| h.taxonomy == taxonomy.id)
            .filter(|h| h.fits(taxonomy, model))
    }

    fn fits(&self, taxonomy: &Taxonomy, model: &str) -> bool {
        let ids: Vec<&str> = taxonomy.categories.iter().map(|c| c.id.as_str()).collect();
        model.starts_with(&self.model)
            && self
                .categories
                .iter()
                .map(String::as_str)
                .eq(ids.iter().copied())
            && self.weights.len() == ids.len()
            && self.bias.len() == ids.len()
    }

    fn probabilities(&self, vector: &[f32]) -> Vec<f64> {
        let logits: Vec<f64> = self
            .weights
            .iter()
            .zip(&self.bias)
            .map(|(w, b)| f64::from(crate::embed::dot(w, vector)) + b)
            .collect();
        softmax(&logits, 1.0)
    }
}

/// Category vectors as cached on disk, keyed by model and taxonomy file hash.
#[derive(Serialize, Deserialize)]
struct Cached {
    model: String,
    hash: String,
    method: Method,
    prototypes: Vec<Vec<f32>>,
}

fn normalised(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

fn mean(vectors: &[Vec<f32>]) -> Vec<f32> {
    let mut sum = vec![0.0f32; vectors.first().map_or(0, Vec::len)];
    for v in vectors {
        sum.iter_mut().zip(v).for_each(|(s, x)| *s += x);
    }
    normalised(sum)
}

/// Lowercase words of a text, split on anything not a letter or digit.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

fn stem(word: &str) -> String {
    word.chars().take(5).collect()
}

impl Tagger {
    /// A tagger for `taxonomy`. The category vectors are read from `cache`
    /// (a directory) when they were computed for this model and this exact
    /// file, else embedded (about a second) and written there.
    /// `model` is the id of the model whose vectors will be scored;
    /// `embedder` loads it, and is called only when the cache misses.
    pub fn new(
        model: &str,
        embedder: &mut dyn FnMut() -> Result<std::sync::Arc<E5Embedder>>,
        taxonomy: &Taxonomy,
        method: Method,
        cache: Option<&Path>,
    ) -> Result<Tagger> {
        let mut tagger = Tagger {
            taxonomy: taxonomy.id.clone(),
            method,
            ids: taxonomy.categories.iter().map(|c| c.id.clone()).collect(),
            names: taxonomy
                .categories
                .iter()
                .map(|c| c.name.en.clone())
                .collect(),
            prototypes: Vec::new(),
            keywords: Vec::new(),
            head: None,
        };
        if method == Method::Trained {
            tagger.head = Head::built_in(taxonomy, model);
            if tagger.head.is_none() {
                tagger.method = Method::Prototypes;
            }
        }
        // A trained tagger's prototypes are the prototypes method's.
        let method = match method {
            Method::Trained => Method::Prototypes,
            other => other,
        };
        if method == Method::Keywords {
            tagger.keywords = keyword_stems(taxonomy);
            return Ok(tagger);
        }
        let model = model.to_string();
        let file = cache.map(|dir| {
            let safe: String = model
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            dir.join(format!(
                "{}-{}-{safe}-{method:?}.json",
                taxonomy.id, taxonomy.hash
            ))
        });
        if let Some(cached) = file.as_deref().and_then(read_cache) {
            if cached.model == model && cached.hash == taxonomy.hash && cached.method == method {
                tagger.prototypes = cached.prototypes;
                return Ok(tagger);
            }
        }
        let embedder = embedder()?;
        tagger.prototypes = if method == Method::ZeroShot {
            let lines: Vec<&str> = tagger.names.iter().map(String::as_str).collect();
            embedder
                .embed_queries(&lines)?
                .into_iter()
                .map(normalised)
                .collect()
        } else {
            prototypes(&embedder, taxonomy)?
        };
        if let Some(file) = file {
            let cached = Cached {
                model,
                hash: taxonomy.hash.clone(),
                method,
                prototypes: tagger.prototypes.clone(),
            };
            let json = serde_json::to_vec(&cached).map_err(|e| Error::Serialize {
                what: "taxonomy vectors".into(),
                message: e.to_string(),
            })?;
            write_cache(&file, &json)?;
        }
        Ok(tagger)
    }

    /// (id, English name) of each category, in file order.
    pub fn categories(&self) -> impl Iterator<Item = (&str, &str)> {
        self.ids
            .iter()
            .map(String::as_str)
            .zip(self.names.iter().map(String::as_str))
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Each category's score for an embedded text (a unit vector): a
    /// probability for the prototypes, the cosine for zero-shot.
    pub fn scores(&self, vector: &[f32]) -> Vec<f64> {
        let cosines: Vec<f64> = self
            .prototypes
            .iter()
            .map(|p| f64::from(crate::embed::dot(p, vector)))
            .collect();
        if self.method == Method::ZeroShot || self.method == Method::Keywords {
            return cosines;
        }
        let prototypes = softmax(&cosines, TEMPERATURE);
        match &self.head {
            Some(head) => prototypes
                .iter()
                .zip(head.probabilities(vector))
                .map(|(p, h)| head.alpha * p + (1.0 - head.alpha) * h)
                .collect(),
            None => prototypes,
        }
    }

    /// Each category's keyword score for a text (keywords method only):
    /// its share of all category keyword hits.
    pub fn keyword_scores(&self, text: &str) -> Vec<f64> {
        let stems: std::collections::HashSet<String> = words(text).map(|w| stem(&w)).collect();
        let hits: Vec<f64> = self
            .keywords
            .iter()
            .map(|k| k.iter().filter(|s| stems.contains(*s)).count() as f64)
            .collect();
        let total: f64 = hits.iter().sum();
        hits.iter()
            .map(|h| if total > 0.0 { h / total } else { 0.0 })
            .collect()
    }

    /// The `top` best categories by score, best first (ties by file order).
    pub fn top(&self, scores: &[f64], top: usize) -> Vec<Tag> {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        order
            .into_iter()
            .take(top)
            .map(|i| Tag {
                taxonomy: self.taxonomy.clone(),
                id: self.ids[i].clone(),
                name: self.names[i].clone(),
                score: scores[i],
            })
            .collect()
    }

    /// The tags a topic or signal carries: categories whose probability is
    /// at least twice the uniform one (1/k), best first, at most `max`.
    pub fn tags(&self, probabilities: &[f64], max: usize) -> Vec<Tag> {
        let floor = 2.0 / probabilities.len().max(1) as f64;
        self.top(probabilities, max)
            .into_iter()
            .filter(|t| t.score >= floor)
            .collect()
    }
}

/// One prototype per category: the description in both languages, led by
/// the examples' centroid when there are examples.
fn prototypes(embedder: &E5Embedder, taxonomy: &Taxonomy) -> Result<Vec<Vec<f32>>> {
    let descriptions: Vec<String> = taxonomy
        .categories
        .iter()
        .flat_map(|c| {
            [
                format!("{}: {}", c.name.en, c.description.en),
                format!("{}: {}", c.name.fi, c.description.fi),
            ]
        })
        .collect();
    let refs: Vec<&str> = descriptions.iter().map(String::as_str).collect();
    let described: Vec<Vec<f32>> = embedder.embed_queries(&refs)?.chunks(2).map(mean).collect();
    taxonomy
        .categories
        .iter()
        .zip(described)
        .map(|(c, description)| {
            let examples: Vec<&str> = c
                .examples
                .iter()
                .flat_map(|e| e.en.iter().chain(&e.fi))
                .map(String::as_str)
                .collect();
            if examples.is_empty() {
                return Ok(description);
            }
            let centroid = mean(&embedder.embed_queries(&examples)?);
            Ok(normalised(
                centroid
                    .iter()
                    .zip(&description)
                    .map(|(c, d)| c + DESCRIPTION_WEIGHT * d)
                    .collect(),
            ))
        })
        .collect()
}

/// Writes the cache through a temporary file and a rename: a crash leaves
/// the old file or none, never half of one (a bad file is recomputed anyway).
fn write_cache(file: &Path, json: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    temp.write_all(json).map_err(|e| Error::io(file, e))?;
    temp.persist(file).map_err(|e| Error::io(file, e.error))?;
    Ok(())
}

fn read_cache(file: &Path) -> Option<Cached> {
    let bytes = std::fs::read(file).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Softmax of `values / temperature`, computed stably.
pub fn softmax(values: &[f64], temperature: f64) -> Vec<f64> {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = values
        .iter()
        .map(|v| ((v - max) / temperature).exp())
        .collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

/// Each category's description words (at least four letters, first five
/// kept), without the words that several categories share.
fn keyword_stems(taxonomy: &Taxonomy) -> Vec<Vec<String>> {
    let per_category: Vec<std::collections::BTreeSet<String>> = taxonomy
        .categories
        .iter()
        .map(|c| {
            [&c.name.en, &c.name.fi, &c.description.en, &c.description.fi]
                .into_iter()
                .flat_map(|t| words(t).collect::<Vec<_>>())
                .filter(|w| w.chars().count() >= 4)
                .map(|w| stem(&w))
                .collect()
        })
        .collect();
    let mut shared: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for set in &per_category {
        for s in set {
            *shared.entry(s.as_str()).or_default() += 1;
        }
    }
    per_category
        .iter()
        .map(|set| {
            set.iter()
                .filter(|s| shared[s.as_str()] == 1)
                .cloned()
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_is_a_distribution_and_keeps_the_order() {
        let p = softmax(&[0.80, 0.80 + TEMPERATURE, 0.79], TEMPERATURE);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(p[1] > p[0] && p[0] > p[2]);
        // A difference of one temperature is a factor of e.
        assert!((p[1] / p[0] - 1f64.exp()).abs() < 1e-9);
        let huge = softmax(&[1e6, 0.0], 1.0);
        assert_eq!(huge, vec![1.0, 0.0]);
    }

    #[test]
    fn keywords_are_the_words_one_category_has_alone() {
        let all = super::super::Taxonomies::load(None).unwrap();
        let steep = all.get("steep").unwrap();
        let stems = keyword_stems(steep);
        let economic = steep
            .categories
            .iter()
            .position(|c| c.id == "economic")
            .unwrap();
        assert!(stems[economic].contains(&"infla".to_string()));
        // "News covers" is in every description: no category keeps it.
        assert!(stems.iter().all(|s| !s.contains(&"cover".to_string())));
    }
}
