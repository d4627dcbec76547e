//! Terms: the words that topic labels and term-level signals are made of.
//!
//! A term is a *key* an analyst can read: the base form of a content word
//! (`poliisi` for `poliisin`, `tariff` for `tariffs`), or a two-word phrase
//! of a modifier and a noun (`sähkön hinta`, `interest rate`). A Finnish
//! compound counts under its base form, its phrase and its head word
//! (`sähköhinta` counts for `sähköhinta`, `sähkön hinta` and `hinta`). Only nouns, names and unknown words
//! (often new names) are terms on their own; adjectives only inside
//! phrases; verbs, adverbs, pronouns, numerals and conjunctions never. Word
//! classes and base forms come from [`crate::morph`] (Voikko for Finnish,
//! Brill's tagger for English). Without them, and for other languages,
//! Snowball stems are the keys, shown in their most frequent written form.
//! Stop words and words every headline uses ("live", "says", "uutiset")
//! and calendar words are dropped, as are numbers.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, StopWordFilter, TextAnalyzer,
    TokenStream,
};

use crate::corpus::Corpus;
use crate::index::analyzers::{analyzer_for, LangGroup};
use crate::morph::{english, Morphology, WordAnalysis, WordClass};

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

/// Calendar words: they mark when, not what, and every season's news uses
/// them (a month's name grows every year in that month).
const CALENDAR_WORDS: &[&str] = &[
    "tammikuu",
    "helmikuu",
    "maaliskuu",
    "huhtikuu",
    "toukokuu",
    "kesäkuu",
    "heinäkuu",
    "elokuu",
    "syyskuu",
    "lokakuu",
    "marraskuu",
    "joulukuu",
    "viikko",
    "kuukausi",
    "päivä",
    "vuosi",
    "ilta",
    "aamu",
    "kello",
    "radio",
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "month",
    "weekend",
    "today",
    "tomorrow",
    "yesterday",
];

/// What a key is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    /// One word: a content word's base form (or a stem without morphology).
    Word,
    /// A modifier and a noun (`sähkö hinta`): the keys of the two words.
    Phrase([u32; 2]),
}

/// One term of a document: its key and how it was shown there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    pub key: u32,
    pub display: u32,
}

/// A word as the term extractor sees it, cached per written form.
#[derive(Debug, Clone)]
struct Word {
    /// Key of its base form (or stem).
    lemma: u32,
    /// How the base form is shown (`Helsinki`, `poliisi`).
    display: u32,
    class: WordClass,
    /// How it is shown as the first word of a phrase: a Finnish genitive
    /// keeps its case (`sähkön hinta`), anything else its base form.
    as_modifier: u32,
    genitive: bool,
    /// A stop word, calendar word or too short: never part of a term.
    stop: bool,
    /// Written with a capital (a name inside a sentence).
    capitalised: bool,
    /// As written.
    written: String,
    /// A compound's parts (keys), head last; empty for a simple word.
    parts: Vec<u32>,
}

/// Splits text into terms: content words by base form, phrases and compounds.
pub struct TermExtractor {
    morph: Arc<Morphology>,
    stop: HashSet<&'static str>,
    /// Snowball's Finnish and English stop words: a word is one when this
    /// analyzer drops it.
    snowball_stop: TextAnalyzer,
    stemmers: HashMap<LangGroup, TextAnalyzer>,
    /// (language group, written form) -> word; each form is analysed once.
    words: HashMap<(LangGroup, String), Word>,
    /// Finnish written forms analysed ahead on every core
    /// ([`TermExtractor::analyse_ahead`]), taken when first met.
    analysed: HashMap<String, Option<WordAnalysis>>,
    key_ids: HashMap<String, u32>,
    key_names: Vec<String>,
    key_kinds: Vec<KeyKind>,
    /// Parts of compounds of three or more parts, which are keys of their own.
    compound_parts: HashMap<u32, Vec<u32>>,
    display_ids: HashMap<String, u32>,
    display_names: Vec<String>,
}

impl TermExtractor {
    pub fn new(morph: Arc<Morphology>) -> TermExtractor {
        let stemmers = LangGroup::ALL
            .into_iter()
            .map(|g| (g, analyzer_for(g)))
            .collect();
        let stop = NEWS_STOP_WORDS
            .iter()
            .chain(CALENDAR_WORDS)
            .copied()
            .collect();
        let snowball_stop = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(StopWordFilter::new(Language::English).expect("english stop words"))
            .filter(StopWordFilter::new(Language::Finnish).expect("finnish stop words"))
            .build();
        TermExtractor {
            morph,
            stop,
            snowball_stop,
            stemmers,
            words: HashMap::new(),
            analysed: HashMap::new(),
            key_ids: HashMap::new(),
            key_names: Vec::new(),
            key_kinds: Vec::new(),
            compound_parts: HashMap::new(),
            display_ids: HashMap::new(),
            display_names: Vec::new(),
        }
    }

    /// Stemmers only, as without the lexicons (tests, other languages).
    pub fn snowball() -> TermExtractor {
        TermExtractor::new(Arc::new(Morphology::snowball()))
    }

    /// The morphology in use.
    pub fn morphology(&self) -> &Morphology {
        &self.morph
    }

    /// Analyses the Finnish written forms of `texts` (text, language) not
    /// yet known, spread over the machine's cores. Voikko costs about 185 µs
    /// a form and the extractor is sequential (keys are numbered in the
    /// order forms are met, so results do not depend on the thread count):
    /// only the transducer's work runs ahead, and `terms` takes each
    /// analysis when it first meets the form.
    pub fn analyse_ahead<'a>(&mut self, texts: impl IntoIterator<Item = (&'a str, &'a str)>) {
        let morph = Arc::clone(&self.morph);
        let Some(voikko) = morph.finnish() else {
            return;
        };
        // Distinct forms not yet known; their order does not matter (keys
        // are numbered later, when `terms` meets the forms).
        let mut forms: HashSet<String> = HashSet::new();
        for (text, lang) in texts {
            if LangGroup::of(lang) != LangGroup::Finnish {
                continue;
            }
            let text = without_links(text);
            for piece in split_words(&text) {
                let Piece::Word(token) = piece else {
                    continue;
                };
                for form in word_pieces(token) {
                    let known = self.analysed.contains_key(form)
                        || self
                            .words
                            .contains_key(&(LangGroup::Finnish, form.to_string()));
                    if !known && !forms.contains(form) {
                        forms.insert(form.to_string());
                    }
                }
            }
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        // Below a few hundred forms threads cost more than they save.
        if threads < 2 || forms.len() < 512 {
            return;
        }
        let forms: Vec<String> = forms.into_iter().collect();
        let chunk = forms.len().div_ceil(threads);
        let analysed: Vec<Vec<Option<WordAnalysis>>> = std::thread::scope(|scope| {
            let running: Vec<_> = forms
                .chunks(chunk)
                .map(|part| scope.spawn(move || part.iter().map(|f| voikko.analyse(f)).collect()))
                .collect();
            running
                .into_iter()
                .map(|t| {
                    t.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        self.analysed
            .extend(forms.into_iter().zip(analysed.into_iter().flatten()));
    }

    /// The distinct terms of `segments` (a title, a lead: phrases do not
    /// cross them) in language `lang`, in order of first occurrence, each
    /// with the form it had there.
    pub fn terms(&mut self, segments: &[&str], lang: &str) -> Vec<Term> {
        let group = LangGroup::of(lang);
        let mut out: Vec<Term> = Vec::new();
        for segment in segments {
            let text = without_links(segment);
            for clause in self.clauses(&text, group) {
                self.emit(&clause, group, &mut out);
            }
        }
        out
    }

    /// Each word of `text` with its base form and class, as the term
    /// extractor reads it (`weaksignal terms` shows it).
    pub fn explain(&mut self, text: &str, lang: &str) -> Vec<serde_json::Value> {
        let group = LangGroup::of(lang);
        let text = without_links(text);
        let mut out = Vec::new();
        for clause in self.clauses(&text, group) {
            for w in clause {
                out.push(serde_json::json!({
                    "written": w.written,
                    "lemma": self.key_names[w.lemma as usize],
                    "class": w.class.name(),
                    "genitive": w.genitive,
                    "parts": w.parts.iter().map(|&p| self.key_names[p as usize].clone()).collect::<Vec<_>>(),
                    "stop": w.stop,
                }));
            }
        }
        out
    }

    /// The words of `text` in runs without a break (punctuation) between them.
    fn clauses(&mut self, text: &str, group: LangGroup) -> Vec<Vec<Word>> {
        let morph = Arc::clone(&self.morph);
        if let (LangGroup::English, Some(tagger)) = (group, morph.english()) {
            let tokens = english::tokens(text);
            let analyses = tagger.analyse(&tokens);
            let mut clauses = vec![Vec::new()];
            for (token, analysis) in tokens.iter().zip(analyses) {
                if !token.chars().any(char::is_alphanumeric) {
                    clauses.push(Vec::new());
                    continue;
                }
                let pieces = word_pieces(token);
                if pieces.is_empty() {
                    clauses.push(Vec::new());
                }
                for piece in pieces {
                    let word = if piece.len() == token.len() {
                        self.word_from(piece, &analysis)
                    } else {
                        self.unanalysed(piece, group)
                    };
                    clauses.last_mut().expect("one clause").push(word);
                }
            }
            return clauses;
        }
        let mut clauses = vec![Vec::new()];
        let mut initial = true;
        for token in split_words(text) {
            let token = match token {
                Piece::Word(w) => w,
                Piece::Break => {
                    clauses.push(Vec::new());
                    continue;
                }
                Piece::Sentence => {
                    clauses.push(Vec::new());
                    initial = true;
                    continue;
                }
            };
            let first = std::mem::replace(&mut initial, false);
            let pieces = word_pieces(token);
            if pieces.is_empty() {
                clauses.push(Vec::new());
            }
            for piece in pieces {
                let key = (group, piece.to_string());
                let word = match self.words.get(&key) {
                    Some(w) => w.clone(),
                    None => {
                        let w = match (group, morph.finnish()) {
                            (LangGroup::Finnish, Some(voikko)) => {
                                let analysis = match self.analysed.remove(piece) {
                                    Some(ahead) => ahead,
                                    None => voikko.analyse(piece),
                                };
                                match analysis {
                                    Some(a) => self.word_from(piece, &a),
                                    None => self.unanalysed(piece, group),
                                }
                            }
                            _ => self.unanalysed(piece, group),
                        };
                        self.words.insert(key, w.clone());
                        w
                    }
                };
                // Inside a sentence a capital marks a name, whatever the
                // lexicon thinks (`Koskimäki` is not koski + mäki).
                let word = if group == LangGroup::Finnish
                    && !first
                    && word.capitalised
                    && matches!(word.class, WordClass::Noun | WordClass::Unknown)
                {
                    let shown = capitalise(&self.display_names[word.display as usize]);
                    let display = self.display_id(&shown);
                    Word {
                        class: WordClass::ProperNoun,
                        parts: Vec::new(),
                        display,
                        as_modifier: if word.genitive {
                            word.as_modifier
                        } else {
                            display
                        },
                        ..word
                    }
                } else {
                    word
                };
                clauses.last_mut().expect("one clause").push(word);
            }
        }
        clauses
    }

    /// A word with the analyser's reading.
    fn word_from(&mut self, written: &str, a: &WordAnalysis) -> Word {
        let lower = a.lemma.to_lowercase();
        let stop = self.is_stop(&lower)
            || self.is_stop(&written.to_lowercase())
            || too_short(written, &lower);
        let lemma = self.key(&lower, KeyKind::Word);
        let display = self.display_id(&a.lemma);
        let as_modifier = if a.genitive && a.class != WordClass::Adjective {
            let shown = if a.class == WordClass::ProperNoun {
                written.to_string()
            } else {
                written.to_lowercase()
            };
            self.display_id(&shown)
        } else {
            display
        };
        let parts = if a.parts.len() >= 2 {
            let parts: Vec<u32> = a
                .parts
                .iter()
                .map(|p| {
                    let p = p.to_lowercase();
                    self.key(&p, KeyKind::Word)
                })
                .collect();
            parts
        } else {
            Vec::new()
        };
        Word {
            lemma,
            display,
            class: a.class,
            as_modifier,
            genitive: a.genitive,
            stop,
            capitalised: starts_upper(written),
            written: written.to_string(),
            parts,
        }
    }

    /// A word without a reading: its Snowball stem is the key, its written
    /// form the display, its class unknown (often a new name).
    fn unanalysed(&mut self, written: &str, group: LangGroup) -> Word {
        let lower = written.to_lowercase();
        let stop = self.is_stop(&lower) || too_short(written, &lower);
        let stem = self.stem(group, &lower).unwrap_or_else(|| lower.clone());
        let lemma = self.key(&stem, KeyKind::Word);
        let display = self.display_id(&lower);
        Word {
            lemma,
            display,
            class: WordClass::Unknown,
            as_modifier: display,
            genitive: false,
            stop,
            capitalised: starts_upper(written),
            written: written.to_string(),
            parts: Vec::new(),
        }
    }

    fn stem(&mut self, group: LangGroup, word: &str) -> Option<String> {
        let analyzer = self.stemmers.get_mut(&group)?;
        let mut stream = analyzer.token_stream(word);
        let stem = stream.advance().then(|| stream.token().text.clone());
        stem.filter(|s| s.chars().count() >= 2)
    }

    fn is_stop(&mut self, word: &str) -> bool {
        if self.stop.contains(word) {
            return true;
        }
        let mut stream = self.snowball_stop.token_stream(word);
        !stream.advance()
    }

    /// The terms of one clause, appended to `out` (each key once).
    fn emit(&mut self, words: &[Word], group: LangGroup, out: &mut Vec<Term>) {
        let push = |out: &mut Vec<Term>, key: u32, display: u32| {
            if !out.iter().any(|t| t.key == key) {
                out.push(Term { key, display });
            }
        };
        for (i, w) in words.iter().enumerate() {
            if w.stop {
                continue;
            }
            if w.class.is_content() {
                // The word under its base form, whichever way it was parsed.
                push(out, w.lemma, w.display);
                if let [.., head] = w.parts.as_slice() {
                    self.compound_parts
                        .entry(w.lemma)
                        .or_insert_with(|| w.parts.clone());
                    // sähkö|hinta is also sähkön hinta, and counts for hinta
                    if let [modifier, head] = w.parts.as_slice() {
                        let key = self.key_of_phrase(*modifier, *head);
                        push(out, key, w.display);
                    }
                    if !self.is_stop_key(*head) {
                        let shown = self.display_id(&self.key_names[*head as usize].clone());
                        push(out, *head, shown);
                    }
                }
            }
            // a modifier and the noun after it
            let Some(next) = words.get(i + 1) else {
                continue;
            };
            // A name of two words (a first name and a surname: `Petteri
            // Orpo`, `Thomas Cook`).
            let name = w.class == WordClass::ProperNoun
                && !w.genitive
                && (next.class == WordClass::ProperNoun || next.capitalised);
            let head_ok = matches!(next.class, WordClass::Noun) || name;
            let modifier_ok = name
                || match w.class {
                    WordClass::Adjective => true,
                    // Finnish nouns modify in the genitive (`sähkön hinta`);
                    // English ones as they are (`interest rate`).
                    WordClass::Noun | WordClass::ProperNoun | WordClass::Abbreviation => {
                        w.genitive || group != LangGroup::Finnish
                    }
                    _ => false,
                };
            if next.stop || !head_ok || !modifier_ok || w.lemma == next.lemma {
                continue;
            }
            let key = self.key_of_phrase(w.lemma, next.lemma);
            let head_shown = if name && next.class != WordClass::ProperNoun {
                capitalise(&self.display_names[next.display as usize])
            } else {
                self.display_names[next.display as usize].clone()
            };
            let shown = format!(
                "{} {head_shown}",
                self.display_names[w.as_modifier as usize]
            );
            let display = self.display_id(&shown);
            push(out, key, display);
        }
    }

    fn is_stop_key(&self, key: u32) -> bool {
        let name = &self.key_names[key as usize];
        self.stop.contains(name.as_str()) || name.chars().count() < 3
    }

    fn key_of_phrase(&mut self, modifier: u32, head: u32) -> u32 {
        let name = format!(
            "{} {}",
            self.key_names[modifier as usize], self.key_names[head as usize]
        );
        self.key(&name, KeyKind::Phrase([modifier, head]))
    }

    fn key(&mut self, name: &str, kind: KeyKind) -> u32 {
        if let Some(&id) = self.key_ids.get(name) {
            return id;
        }
        let id = self.key_names.len() as u32;
        self.key_ids.insert(name.to_string(), id);
        self.key_names.push(name.to_string());
        self.key_kinds.push(kind);
        id
    }

    fn display_id(&mut self, shown: &str) -> u32 {
        if let Some(&id) = self.display_ids.get(shown) {
            return id;
        }
        let id = self.display_names.len() as u32;
        self.display_ids.insert(shown.to_string(), id);
        self.display_names.push(shown.to_string());
        id
    }

    /// The id of a key by name, if it was seen.
    pub fn key_id(&self, name: &str) -> Option<u32> {
        self.key_ids.get(name).copied()
    }

    /// The key's name: a base form, a stem, or two of them for a phrase.
    pub fn key_name(&self, id: u32) -> &str {
        &self.key_names[id as usize]
    }

    pub fn key_kind(&self, id: u32) -> &KeyKind {
        &self.key_kinds[id as usize]
    }

    /// Every key inside a key, itself first: a phrase's two keys and theirs,
    /// a compound's parts (`itsenäisyyspäivän juhla` holds `itsenäisyys
    /// päivä`, `itsenäisyys`, `päivä` and `juhla`).
    pub fn key_and_inner(&self, id: u32) -> Vec<u32> {
        let mut out = vec![id];
        match self.key_kinds[id as usize] {
            KeyKind::Word => {
                if let Some(parts) = self.compound_parts.get(&id) {
                    out.extend(parts.iter().copied().filter(|&p| p != id));
                }
            }
            KeyKind::Phrase([a, b]) => {
                out.extend(self.key_and_inner(a));
                out.extend(self.key_and_inner(b));
            }
        }
        out.dedup();
        out
    }

    /// The words a key is made of: itself (and a compound's parts), or a
    /// phrase's two words.
    pub fn key_words(&self, id: u32) -> Vec<u32> {
        match self.key_kinds[id as usize] {
            KeyKind::Word => {
                let mut out = vec![id];
                if let Some(parts) = self.compound_parts.get(&id) {
                    out.extend(parts.iter().copied().filter(|&p| p != id));
                }
                out
            }
            KeyKind::Phrase([a, b]) => {
                let mut out = self.key_words(a);
                out.extend(self.key_words(b));
                out
            }
        }
    }

    /// A display form by id.
    pub fn shown(&self, id: u32) -> &str {
        &self.display_names[id as usize]
    }

    /// How a key is shown most often among `occurrences` (its display ids
    /// in some set of documents); ties go to the shorter, then the
    /// alphabetically first.
    pub fn display(&self, occurrences: impl IntoIterator<Item = u32>) -> &str {
        let mut counts: HashMap<u32, u32> = HashMap::new();
        for s in occurrences {
            *counts.entry(s).or_insert(0) += 1;
        }
        counts
            .into_iter()
            .map(|(s, n)| (n, self.shown(s)))
            .max_by(|a, b| {
                a.0.cmp(&b.0)
                    .then_with(|| b.1.len().cmp(&a.1.len()))
                    .then_with(|| b.1.cmp(a.1))
            })
            .map(|(_, s)| s)
            .unwrap_or("")
    }

    /// Number of distinct keys seen.
    pub fn len(&self) -> usize {
        self.key_names.len()
    }

    /// Whether no key was seen yet.
    pub fn is_empty(&self) -> bool {
        self.key_names.is_empty()
    }
}

fn starts_upper(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_uppercase)
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// One- and two-letter words carry no topic, except acronyms written in
/// capitals (`EU`, `AI`).
fn too_short(written: &str, lemma: &str) -> bool {
    let n = lemma.chars().count();
    n < 2 || (n == 2 && !written.chars().all(|c| c.is_uppercase()))
}

/// The parts of a token that can be words: a token with digits keeps only
/// its alphabetic hyphen-separated parts (`Covid-19` is `Covid`), and one
/// without letters is none.
fn word_pieces(token: &str) -> Vec<&str> {
    if !token.chars().any(|c| c.is_ascii_digit()) {
        return if token.chars().any(char::is_alphabetic) {
            vec![token]
        } else {
            Vec::new()
        };
    }
    token
        .split(['-', '–'])
        .filter(|p| !p.is_empty() && p.chars().all(char::is_alphabetic))
        .collect()
}

/// A piece of text as the Finnish and fallback paths read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    Word(&'a str),
    /// Clause punctuation, brackets, quotes, dashes between spaces.
    Break,
    /// The end of a sentence (`.`, `!`, `?`, `:`): a capital after it is no
    /// sign of a name.
    Sentence,
}

/// Words of a text with the breaks between clauses and sentences. A word
/// is a run of letters and digits with inner hyphens, apostrophes and
/// colons (`EU-maiden`, `EU:n`, `Britain's`).
fn split_words(text: &str) -> Vec<Piece<'_>> {
    let mut out: Vec<Piece<'_>> = Vec::new();
    let bytes: Vec<(usize, char)> = text.char_indices().collect();
    let mut start: Option<usize> = None;
    let joiner = |c: char| matches!(c, '-' | '\'' | '’' | ':');
    for (k, &(at, c)) in bytes.iter().enumerate() {
        let inner = joiner(c)
            && start.is_some()
            && bytes.get(k + 1).is_some_and(|&(_, n)| n.is_alphanumeric());
        if c.is_alphanumeric() || inner {
            start.get_or_insert(at);
            continue;
        }
        if let Some(s) = start.take() {
            out.push(Piece::Word(&text[s..at]));
        }
        if c.is_whitespace() {
            continue;
        }
        let sentence = matches!(c, '.' | '!' | '?' | ':' | '…');
        match out.last_mut() {
            Some(Piece::Word(_)) => out.push(if sentence {
                Piece::Sentence
            } else {
                Piece::Break
            }),
            Some(last @ Piece::Break) if sentence => *last = Piece::Sentence,
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(Piece::Word(&text[s..]));
    }
    out
}

/// The words the clustering recognises new names by: Snowball stems of
/// every word but stop words, numbers and short ones, whatever the word
/// class. They are internal to the clustering (analysts read [`Term`]s), and
/// they do not depend on the lexicons, so topics are the same with and
/// without them.
pub struct Names {
    surface: TextAnalyzer,
    stemmers: HashMap<LangGroup, TextAnalyzer>,
    /// (language group, word) -> stem id, so each word is stemmed once.
    cache: HashMap<(LangGroup, String), Option<u32>>,
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Default for Names {
    fn default() -> Self {
        Names::new()
    }
}

impl Names {
    pub fn new() -> Names {
        let news = StopWordFilter::remove(NEWS_STOP_WORDS.iter().map(|w| w.to_string()));
        let surface = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .filter(StopWordFilter::new(Language::English).expect("english stop words"))
            .filter(StopWordFilter::new(Language::Finnish).expect("finnish stop words"))
            .filter(news)
            .build();
        Names {
            surface,
            stemmers: LangGroup::ALL
                .into_iter()
                .map(|g| (g, analyzer_for(g)))
                .collect(),
            cache: HashMap::new(),
            ids: HashMap::new(),
            names: Vec::new(),
        }
    }

    /// The distinct stems of `text` in order of first occurrence.
    pub fn of(&mut self, text: &str, lang: &str) -> Vec<u32> {
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
        let mut out: Vec<u32> = Vec::with_capacity(words.len());
        for word in words {
            if let Some(id) = self.stem(group, word) {
                if !out.contains(&id) {
                    out.push(id);
                }
            }
        }
        out
    }

    fn stem(&mut self, group: LangGroup, word: String) -> Option<u32> {
        let key = (group, word);
        if let Some(&id) = self.cache.get(&key) {
            return id;
        }
        let analyzer = self
            .stemmers
            .get_mut(&group)
            .expect("every group has a stemmer");
        let mut stream = analyzer.token_stream(&key.1);
        let stem = stream.advance().then(|| stream.token().text.clone());
        drop(stream);
        let id = stem.filter(|s| s.chars().count() >= 3).map(|stem| {
            let next = self.names.len() as u32;
            *self.ids.entry(stem.clone()).or_insert_with(|| {
                self.names.push(stem);
                next
            })
        });
        self.cache.insert(key, id);
        id
    }

    /// The stem behind an id.
    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }
}

/// Terms of every corpus document (title and the start of the text), and
/// the names the clustering reads.
pub struct DocTerms {
    pub extractor: TermExtractor,
    pub terms: Vec<Vec<Term>>,
    pub names: Names,
    /// Stem ids of each document ([`Names`]).
    pub doc_names: Vec<Vec<u32>>,
}

impl DocTerms {
    pub fn extract(corpus: &Corpus, morph: &Arc<Morphology>) -> DocTerms {
        let mut extractor = TermExtractor::new(Arc::clone(morph));
        extractor.analyse_ahead((0..corpus.len()).flat_map(|d| {
            let lang = corpus.langs[d].as_str();
            [
                (corpus.titles[d].as_str(), lang),
                (lead_words(&corpus.leads[d]), lang),
            ]
        }));
        let mut names = Names::new();
        let mut doc_names = Vec::with_capacity(corpus.len());
        let terms = (0..corpus.len())
            .map(|d| {
                let lead = lead_words(&corpus.leads[d]);
                let text = without_links(&format!("{} {}", corpus.titles[d], corpus.leads[d]));
                doc_names.push(names.of(&text, &corpus.langs[d]));
                extractor.terms(&[&corpus.titles[d], lead], &corpus.langs[d])
            })
            .collect();
        DocTerms {
            extractor,
            terms,
            names,
            doc_names,
        }
    }
}

/// The start of a text as stored for terms (300 characters), without the
/// last word when the cut may have split it.
fn lead_words(lead: &str) -> &str {
    if lead.chars().count() < 300 {
        return lead;
    }
    match lead.rfind(char::is_whitespace) {
        Some(i) => &lead[..i],
        None => "",
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
    fn without_morphology_inflections_share_a_stem_and_display_a_word() {
        let mut t = TermExtractor::snowball();
        let a = t.terms(&["Lakko alkaa huomenna"], "fi");
        let b = t.terms(&["Lakon vuoksi junat eivät kulje"], "fi");
        let c = t.terms(&["Lakkoon osallistuu tuhansia"], "fi");
        let lakko = a[0].key;
        let find = |terms: &[Term]| terms.iter().find(|x| x.key == lakko).copied();
        let (b, c) = (find(&b).expect("lakon"), find(&c).expect("lakkoon"));
        assert_eq!(
            t.display([a[0].display, b.display, c.display, b.display]),
            "lakon"
        );
        assert_eq!(t.display([a[0].display, c.display]), "lakko");
        let e = t.terms(&["Tariffs hit shares; tariff talks stall"], "en");
        assert_eq!(t.shown(e[0].display), "tariffs");
        assert_eq!(e.iter().filter(|x| x.key == e[0].key).count(), 1);
    }

    #[test]
    fn stop_words_numbers_and_news_words_are_dropped() {
        let mut t = TermExtractor::snowball();
        let terms = t.terms(&["Business live: the FTSE 100 falls as it happened"], "en");
        let shown: Vec<&str> = terms.iter().map(|x| t.shown(x.display)).collect();
        assert_eq!(shown, vec!["ftse", "falls"]);
    }

    #[test]
    fn words_split_at_clause_breaks_and_keep_inner_joiners() {
        let words = split_words("EU:n raja-aita (uusi) – Britain’s \"deal\": 5,9 %. Uusi");
        use Piece::{Break, Sentence, Word};
        assert_eq!(
            words,
            vec![
                Word("EU:n"),
                Word("raja-aita"),
                Break,
                Word("uusi"),
                Break,
                Word("Britain’s"),
                Break,
                Word("deal"),
                Sentence,
                Word("5"),
                Break,
                Word("9"),
                Sentence,
                Word("Uusi"),
            ]
        );
        assert_eq!(word_pieces("Covid-19"), vec!["Covid"]);
        assert!(word_pieces("2020").is_empty());
        assert_eq!(lead_words(&"sana ".repeat(100)[..302]).len(), 299);
        assert_eq!(lead_words("lyhyt teksti"), "lyhyt teksti");
    }
}
