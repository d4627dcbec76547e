//! Terms: the words that topic labels and term-level signals are made of.
//!
//! A term is a stem (so `lakko`, `lakon` and `lakkoon` count as one term, and
//! `tariffs` as `tariff`), shown to people in its most frequent surface form,
//! never as a stem. Finnish and English stop words and a few words that every
//! news headline uses ("live", "says", "uutiset") are dropped, as are numbers
//! and one- or two-letter tokens, which carry no topic.

use std::collections::HashMap;

use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, StopWordFilter, TextAnalyzer,
    TokenStream,
};

use crate::index::analyzers::{analyzer_for, LangGroup};
use crate::topics::Corpus;

/// Words that occur in headlines of every topic (English and Finnish), beyond
/// the Snowball stop-word lists.
const NEWS_STOP_WORDS: &[&str] = &[
    "says",
    "said",
    "say",
    "new",
    "live",
    "news",
    "business",
    "happened",
    "blog",
    "latest",
    "glance",
    "update",
    "day",
    "week",
    "year",
    "years",
    "first",
    "one",
    "two",
    "could",
    "would",
    "may",
    "will",
    "can",
    "get",
    "gets",
    "make",
    "makes",
    "amid",
    "over",
    "after",
    "as",
    "back",
    "how",
    "why",
    "what",
    "who",
    "its",
    "it's",
    "us",
    "now",
    "still",
    "yet",
    "set",
    "sets",
    "takes",
    "take",
    "per",
    "cent",
    "via",
    "agenda",
    "observer",
    "radio",
    "selkouutiset",
    "uutiset",
    "maanantai",
    "tiistai",
    "keskiviikko",
    "torstai",
    "perjantai",
    "lauantai",
    "sunnuntai",
    "sää",
    "myös",
    "kertoo",
    "sanoo",
    "uusi",
    "vuonna",
    "vuoden",
    "nyt",
    "paljon",
    "mukaan",
    "tänään",
    "huomenna",
    // frequent Finnish verbs and Yle programme words ("Viikon aihe", "Kertaus")
    "saa",
    "saada",
    "sai",
    "haluaa",
    "halusi",
    "voi",
    "voivat",
    "pitää",
    "tulee",
    "tuli",
    "tulevat",
    "menee",
    "kertaus",
    "aihe",
    "viikon",
    "viikolla",
    "ajassa",
    "asiaa",
    "asia",
    "kertoi",
    "kertovat",
    "sanoi",
    // Finnish adverbs, postpositions and quantities that every story uses
    "jälkeen",
    "aikana",
    "takia",
    "vuoksi",
    "edes",
    "vielä",
    "enää",
    "yhä",
    "lähes",
    "noin",
    "puolet",
    "osa",
    "monet",
    "moni",
    "kaikki",
    "kuva",
    "kasvaa",
    "tehdä",
    // English function words beyond Lucene's short list
    "have",
    "has",
    "had",
    "having",
    "do",
    "does",
    "did",
    "doing",
    "been",
    "being",
    "were",
    "you",
    "your",
    "our",
    "ours",
    "we",
    "he",
    "she",
    "his",
    "her",
    "him",
    "them",
    "than",
    "about",
    "more",
    "most",
    "some",
    "any",
    "all",
    "out",
    "off",
    "just",
    "only",
    "very",
    "much",
    "many",
    "when",
    "where",
    "which",
    "whom",
    "me",
    "my",
    "too",
    "own",
    "same",
    "other",
    "both",
    "each",
    "few",
    "further",
    "here",
    "once",
    "again",
    "against",
    "between",
    "through",
    "during",
    "before",
    "under",
    "above",
    "below",
    "from",
    "while",
    "because",
    "until",
    "should",
    "might",
    "must",
    "shall",
    "need",
    "needs",
    "also",
    "even",
    "like",
    "last",
    "next",
    "way",
    "ways",
    "going",
    "into",
    "onto",
    "upon",
    "within",
    "without",
    "these",
    "those",
    "there",
    "their",
    "theirs",
    "they",
    "what's",
    "who's",
    "don't",
    "can't",
    "won't",
    "isn't",
    "i'm",
    "you're",
    "let",
    "lets",
    "says",
    "told",
    "tell",
    "big",
    "well",
    "really",
    "get",
    "got",
    "gives",
    "give",
    "put",
    "puts",
    "come",
    "comes",
    "go",
    "goes",
    "see",
    "sees",
    "want",
    "wants",
    "look",
    "looks",
    "know",
    "think",
    "time",
    "times",
    "people",
    "thing",
    "things",
    "part",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "half",
    "million",
    "billion",
    "bn",
    "m",
    "ft",
    // markup and link debris in posts and scraped text
    "http",
    "https",
    "www",
    "com",
    "amp",
    "quot",
    "html",
    "htm",
    "php",
    "jpg",
    "png",
    "rt",
    "via",
];

/// One term of a document: its stem and how it was written there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    pub stem: u32,
    pub surface: u32,
}

/// Splits text into terms and remembers, per stem, how it is usually written.
pub struct TermExtractor {
    surface: TextAnalyzer,
    stemmers: HashMap<LangGroup, TextAnalyzer>,
    /// (lang group, surface) -> stem, so each distinct word is stemmed once.
    stems: HashMap<(LangGroup, String), Option<u32>>,
    /// Interned stems.
    stem_ids: HashMap<String, u32>,
    stem_names: Vec<String>,
    /// Interned surface forms.
    surface_ids: HashMap<String, u32>,
    surface_names: Vec<String>,
}

impl Default for TermExtractor {
    fn default() -> Self {
        Self::new()
    }
}

impl TermExtractor {
    pub fn new() -> TermExtractor {
        let news = StopWordFilter::remove(NEWS_STOP_WORDS.iter().map(|w| w.to_string()));
        let surface = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .filter(StopWordFilter::new(Language::English).expect("english stop words"))
            .filter(StopWordFilter::new(Language::Finnish).expect("finnish stop words"))
            .filter(news)
            .build();
        let stemmers = LangGroup::ALL
            .into_iter()
            .map(|g| (g, analyzer_for(g)))
            .collect();
        TermExtractor {
            surface,
            stemmers,
            stems: HashMap::new(),
            stem_ids: HashMap::new(),
            stem_names: Vec::new(),
            surface_ids: HashMap::new(),
            surface_names: Vec::new(),
        }
    }

    /// The distinct terms of `text` (language `lang`) in order of first
    /// occurrence, each with the surface form it first had there.
    pub fn terms(&mut self, text: &str, lang: &str) -> Vec<Term> {
        let group = LangGroup::of(lang);
        let mut words = Vec::new();
        let mut stream = self.surface.token_stream(text);
        while stream.advance() {
            let word = &stream.token().text;
            if word.chars().count() < 3 || word.chars().any(|c| c.is_ascii_digit()) {
                continue;
            }
            words.push(word.clone());
        }
        drop(stream);
        let mut out: Vec<Term> = Vec::with_capacity(words.len());
        for word in words {
            let Some(stem) = self.stem_of(group, &word) else {
                continue;
            };
            if out.iter().any(|t| t.stem == stem) {
                continue;
            }
            let next = self.surface_names.len() as u32;
            let surface = *self.surface_ids.entry(word.clone()).or_insert_with(|| {
                self.surface_names.push(word);
                next
            });
            out.push(Term { stem, surface });
        }
        out
    }

    fn stem_of(&mut self, group: LangGroup, word: &str) -> Option<u32> {
        if let Some(id) = self.stems.get(&(group, word.to_string())) {
            return *id;
        }
        let analyzer = self
            .stemmers
            .get_mut(&group)
            .expect("every group has a stemmer");
        let mut stream = analyzer.token_stream(word);
        let stem = if stream.advance() {
            Some(stream.token().text.clone())
        } else {
            None
        };
        drop(stream);
        let id = stem.filter(|s| s.chars().count() >= 3).map(|stem| {
            let next = self.stem_names.len() as u32;
            *self.stem_ids.entry(stem.clone()).or_insert_with(|| {
                self.stem_names.push(stem);
                next
            })
        });
        self.stems.insert((group, word.to_string()), id);
        id
    }

    /// The stem behind a term id.
    pub fn stem(&self, id: u32) -> &str {
        &self.stem_names[id as usize]
    }

    /// A surface form by id.
    pub fn surface(&self, id: u32) -> &str {
        &self.surface_names[id as usize]
    }

    /// How a term is written most often among `occurrences` (its surface ids
    /// in some set of documents); ties go to the shorter, then the alphabetically first.
    pub fn display(&self, occurrences: impl IntoIterator<Item = u32>) -> &str {
        let mut counts: HashMap<u32, u32> = HashMap::new();
        for s in occurrences {
            *counts.entry(s).or_insert(0) += 1;
        }
        counts
            .into_iter()
            .map(|(s, n)| (n, self.surface(s)))
            .max_by(|a, b| {
                a.0.cmp(&b.0)
                    .then_with(|| b.1.len().cmp(&a.1.len()))
                    .then_with(|| b.1.cmp(a.1))
            })
            .map(|(_, s)| s)
            .unwrap_or("")
    }

    /// Number of distinct terms seen.
    pub fn len(&self) -> usize {
        self.stem_names.len()
    }

    /// Whether no term was seen yet.
    pub fn is_empty(&self) -> bool {
        self.stem_names.is_empty()
    }
}

/// Terms of every corpus document (title and the start of the text).
pub struct DocTerms {
    pub extractor: TermExtractor,
    pub terms: Vec<Vec<Term>>,
}

impl DocTerms {
    pub fn extract(corpus: &Corpus) -> DocTerms {
        let mut extractor = TermExtractor::new();
        let terms = (0..corpus.len())
            .map(|d| {
                let text = without_links(&format!("{} {}", corpus.titles[d], corpus.leads[d]));
                extractor.terms(&text, &corpus.langs[d])
            })
            .collect();
        DocTerms { extractor, terms }
    }
}

/// Text without URLs and markdown image links: their pieces ("http", "t",
/// "co", CDN paths) are not words of the topic.
fn without_links(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| {
            let w = w.trim_start_matches(['(', '[', '!', '<', '"']);
            !(w.starts_with("http://")
                || w.starts_with("https://")
                || w.starts_with("www.")
                || w.contains("](http"))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflections_share_a_term_and_display_a_word() {
        let mut t = TermExtractor::new();
        let a = t.terms("Lakko alkaa huomenna", "fi");
        let b = t.terms("Lakon vuoksi junat eivät kulje", "fi");
        let c = t.terms("Lakkoon osallistuu tuhansia", "fi");
        let lakko = a[0].stem;
        let find = |terms: &[Term]| terms.iter().find(|x| x.stem == lakko).copied();
        let (b, c) = (find(&b).expect("lakon"), find(&c).expect("lakkoon"));
        assert_eq!(
            t.display([a[0].surface, b.surface, c.surface, b.surface]),
            "lakon"
        );
        assert_eq!(t.display([a[0].surface, c.surface]), "lakko");
        let e = t.terms("Tariffs hit shares; tariff talks stall", "en");
        assert_eq!(t.surface(e[0].surface), "tariffs");
        assert_eq!(e.iter().filter(|x| x.stem == e[0].stem).count(), 1);
    }

    #[test]
    fn stop_words_numbers_and_news_words_are_dropped() {
        let mut t = TermExtractor::new();
        let terms = t.terms("Business live: the FTSE 100 falls as it happened", "en");
        let shown: Vec<&str> = terms.iter().map(|x| t.surface(x.surface)).collect();
        assert_eq!(shown, vec!["ftse", "falls"]);
    }
}
