//! Topic labels an analyst can read: distinctive keywords by class-based
//! TF-IDF (a term frequent in the topic and rare elsewhere), shown as words
//! rather than stems, and the titles closest to the topic's centroid.

use std::collections::HashMap;

use super::{dot, normalized, Corpus};
use crate::terms::{Term, TermExtractor};

/// How many keywords a label shows.
pub const KEYWORDS: usize = 6;

/// Keywords and example documents of one topic.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicLabel {
    pub keywords: Vec<String>,
    /// The term keys behind `keywords`, in the same order.
    pub keys: Vec<u32>,
    /// The first three keywords.
    pub label: String,
    /// Documents closest to the topic's centroid, most representative first.
    pub examples: Vec<usize>,
}

/// Document frequency of every key among `docs` (the background of c-TF-IDF).
pub fn document_frequencies(
    doc_terms: &[Vec<Term>],
    docs: impl Iterator<Item = usize>,
) -> HashMap<u32, u32> {
    let mut df = HashMap::new();
    for d in docs {
        for t in &doc_terms[d] {
            *df.entry(t.key).or_insert(0) += 1;
        }
    }
    df
}

/// Labels one topic from its documents `members`.
///
/// Class-based TF-IDF, with the topic as the class: weight(t) = tf(t, topic) /
/// |topic| * ln(1 + N / df(t)), tf counting the topic's documents that hold t
/// and df the background documents (N of them) that do. BERTopic's
/// ln(1 + A / f) with A the average class size favoured terms seen once or
/// twice ("imf" over "coronavirus" in March 2020); this form keeps what most
/// of the topic says. A keyword must occur in at least two documents and a
/// tenth of the topic, so one odd headline does not name it. A phrase and
/// its words are one keyword: the phrase when it covers most of the word's
/// documents (`interest rate` over `rate`), else the word.
pub fn label(
    corpus: &Corpus,
    extractor: &TermExtractor,
    doc_terms: &[Vec<Term>],
    background: &HashMap<u32, u32>,
    background_docs: f64,
    members: &[usize],
    examples: usize,
) -> TopicLabel {
    let mut tf: HashMap<u32, Vec<u32>> = HashMap::new();
    for &d in members {
        for t in &doc_terms[d] {
            tf.entry(t.key).or_default().push(t.display);
        }
    }
    let min_tf = if members.len() > 2 {
        2.max(members.len().div_ceil(10))
    } else {
        1
    };
    let n = members.len().max(1) as f64;
    let mut scored: Vec<(f64, &str, u32)> = tf
        .iter()
        .filter(|(_, s)| s.len() >= min_tf)
        .map(|(&key, displays)| {
            let df = *background.get(&key).unwrap_or(&1) as f64;
            let w = displays.len() as f64 / n * (1.0 + background_docs / df).ln();
            (w, extractor.key_name(key), key)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let mut chosen: Vec<u32> = Vec::new();
    for &(_, _, key) in &scored {
        if chosen.len() == KEYWORDS {
            break;
        }
        let words = extractor.key_words(key);
        let support = tf[&key].len();
        // a word already inside a chosen phrase, or a phrase whose words are
        // chosen: one keyword, the more specific one when it covers most
        let overlapping: Vec<usize> = chosen
            .iter()
            .enumerate()
            .filter(|(_, &c)| {
                let cw = extractor.key_words(c);
                cw.iter().any(|w| words.contains(w))
            })
            .map(|(i, _)| i)
            .collect();
        if overlapping.is_empty() {
            chosen.push(key);
            continue;
        }
        let more_specific = words.len() > 1
            && overlapping.iter().all(|&i| {
                let c = chosen[i];
                extractor.key_words(c).len() == 1 && support * 5 >= tf[&c].len() * 4
            });
        if more_specific {
            let first = overlapping[0];
            chosen[first] = key;
            for &i in overlapping[1..].iter().rev() {
                chosen.remove(i);
            }
        }
    }
    let keywords: Vec<String> = chosen
        .iter()
        .map(|key| extractor.display(tf[key].iter().copied()).to_string())
        .collect();
    let label = keywords
        .iter()
        .take(3)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let examples = representative(corpus, members, examples);
    // No keyword is shared widely enough: the most representative title names it.
    let label = match examples.first() {
        Some(&d) if label.is_empty() => {
            let title = crate::html::one_line(&corpus.titles[d]);
            match title.char_indices().nth(60) {
                Some((cut, _)) => format!("{}…", &title[..cut]),
                None => title,
            }
        }
        _ => label,
    };
    TopicLabel {
        keywords,
        keys: chosen,
        label,
        examples,
    }
}

/// The `k` members closest to the members' mean direction; distinct titles only.
pub fn representative(corpus: &Corpus, members: &[usize], k: usize) -> Vec<usize> {
    let mut sum = vec![0.0f32; corpus.dims];
    for &d in members {
        for (s, x) in sum.iter_mut().zip(corpus.vector(d)) {
            *s += x;
        }
    }
    let centroid = normalized(&sum);
    let mut ranked: Vec<(f32, usize)> = members
        .iter()
        .map(|&d| (dot(corpus.vector(d), &centroid), d))
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut out: Vec<usize> = Vec::with_capacity(k);
    for (_, d) in ranked {
        if out.len() == k {
            break;
        }
        if out.iter().all(|&o| corpus.titles[o] != corpus.titles[d]) {
            out.push(d);
        }
    }
    out
}
