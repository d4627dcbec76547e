//! Morphology: the base form (lemma) and word class of a word, so that term
//! keys and topic labels are words an analyst reads (`poliisi`, not
//! `poliisin`), and so that only content words (nouns, names, and adjectives
//! inside multi-word terms) can become term signals.
//!
//! Finnish is analysed with Voikko's transducer (`voikko.kfst`, run by the
//! pure-Rust `kfst-rs`): inflection, compounds and word class, which a
//! stemmer cannot give. English is tagged with Brill's lexicon and contextual
//! rules ([`english`]). Both resources are fetched from PyPI with checksums
//! ([`fetch`]); without them the Snowball stemmers remain, with a warning
//! that says what is lost.

pub mod english;
pub mod fetch;
pub mod frequency;
pub mod voikko;

use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;

use serde::Serialize;

/// Word classes the term extractor distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WordClass {
    Noun,
    /// Names of people, places, organisations...
    ProperNoun,
    Adjective,
    Verb,
    Adverb,
    Pronoun,
    /// Numbers and ordinals.
    Numeral,
    Conjunction,
    /// Prepositions and postpositions.
    Adposition,
    /// Articles and other determiners (English).
    Determiner,
    Interjection,
    Abbreviation,
    /// Prefixes, negation verbs, particles: never a term on their own.
    Other,
    /// Not known to the analyser: often a new name, a loanword or a typo.
    Unknown,
}

impl WordClass {
    /// Whether a word of this class can be a term on its own.
    pub fn is_content(self) -> bool {
        matches!(
            self,
            WordClass::Noun | WordClass::ProperNoun | WordClass::Abbreviation | WordClass::Unknown
        )
    }

    /// Whether a word of this class can modify a noun in a multi-word term
    /// (`sähkön hinta`, `interest rate`, `climate crisis`).
    pub fn can_modify(self) -> bool {
        matches!(
            self,
            WordClass::Noun
                | WordClass::ProperNoun
                | WordClass::Adjective
                | WordClass::Abbreviation
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            WordClass::Noun => "noun",
            WordClass::ProperNoun => "proper_noun",
            WordClass::Adjective => "adjective",
            WordClass::Verb => "verb",
            WordClass::Adverb => "adverb",
            WordClass::Pronoun => "pronoun",
            WordClass::Numeral => "numeral",
            WordClass::Conjunction => "conjunction",
            WordClass::Adposition => "adposition",
            WordClass::Determiner => "determiner",
            WordClass::Interjection => "interjection",
            WordClass::Abbreviation => "abbreviation",
            WordClass::Other => "other",
            WordClass::Unknown => "unknown",
        }
    }
}

/// One reading of a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordAnalysis {
    /// Base form, lowercase except for proper nouns (`Helsinki`).
    pub lemma: String,
    pub class: WordClass,
    /// A compound's parts as base forms, head last (`["sähkö", "hinta"]`);
    /// empty for a simple word.
    pub parts: Vec<String>,
    /// Finnish: the word is in the genitive case (a noun modifier in
    /// `sähkön hinta`).
    pub genitive: bool,
}

/// The analysers of one run: Voikko for Finnish, Brill's tagger for
/// English, each `None` when its resource could not be had (the term
/// extractor then falls back to Snowball stems for that language).
pub struct Morphology {
    /// Voikko's transducer takes about a second to load (its word-frequency
    /// list, 0.2 s, loads beside it and is attached to it): it loads on a
    /// thread of its own while the store is read, and the first Finnish
    /// word waits for it.
    finnish: OnceLock<Option<voikko::Voikko>>,
    loading: Mutex<Option<JoinHandle<Option<voikko::Voikko>>>>,
    english: Option<english::EnglishTagger>,
    /// What produced the terms, for checkpoint keys and reports.
    id: String,
}

impl std::fmt::Debug for Morphology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Morphology").field("id", &self.id).finish()
    }
}

impl Morphology {
    /// Stemmers only: what runs without the lexicons.
    pub fn snowball() -> Morphology {
        Morphology::new(None, None)
    }

    pub fn new(
        finnish: Option<voikko::Voikko>,
        english: Option<english::EnglishTagger>,
    ) -> Morphology {
        let id = Morphology::id_of(finnish.is_some(), english.is_some());
        Morphology {
            finnish: OnceLock::from(finnish),
            loading: Mutex::new(None),
            english,
            id,
        }
    }

    fn id_of(finnish: bool, english: bool) -> String {
        format!(
            "fi={};en={}",
            if finnish { "voikko" } else { "snowball" },
            if english { "brill" } else { "snowball" }
        )
    }

    /// The lexicons in `config.path`, fetched first when missing and
    /// `config.auto_fetch` allows. A resource that cannot be had is replaced
    /// by the Snowball stemmer, with a warning that says what is lost and
    /// how to get it: the analysis still runs.
    pub fn load(
        config: &crate::config::MorphologyConfig,
        progress: &crate::progress::Progress,
    ) -> Morphology {
        let dir = &config.path;
        if let Err(e) = fetch::ensure(dir, config.auto_fetch, progress) {
            tracing::warn!(
                error = %e,
                "no Finnish morphology or English tagger: terms fall back to Snowball stems, so topic labels show inflected forms (poliisin, not poliisi), compounds do not count under their head word, and verbs, adverbs and function words can become term signals; run `weaksignal models fetch` to get them"
            );
            return Morphology::snowball();
        }
        // Checksums are verified: the transducer and the frequency list are
        // expected to load. The list (0.2 s) loads on a thread of its own
        // beside the transducer (0.8 s) and is attached to it.
        let path = dir.join(fetch::VOIKKO_FILE);
        let list_path = dir.join(fetch::FREQUENCY_FILE);
        let loading = std::thread::Builder::new()
            .name("voikko".into())
            .spawn(move || {
                let list = std::thread::Builder::new()
                    .name("frequencies".into())
                    .spawn({
                        let path = list_path.clone();
                        move || frequency::Frequencies::load(&path)
                    });
                let voikko = match voikko::Voikko::open(&path) {
                    Ok(v) => v,
                    Err(e) => {
                        tracing::error!(error = %e, "Finnish morphology failed to load: Finnish terms fall back to Snowball stems (inflected labels, no word classes); run `weaksignal models fetch`");
                        return None;
                    }
                };
                let list = match list {
                    Ok(handle) => handle.join().unwrap_or_else(|_| {
                        Err(crate::error::Error::Lexicon {
                            path: list_path.clone(),
                            message: "the thread loading the word frequencies panicked".into(),
                        })
                    }),
                    // No thread to spare: load it here.
                    Err(_) => frequency::Frequencies::load(&list_path),
                };
                match list {
                    Ok(list) => Some(voikko.with_frequencies(std::sync::Arc::new(list))),
                    Err(e) => {
                        tracing::warn!(error = %e, "Finnish word frequencies unavailable: homographs are chosen by fixed rules (lakkoja -> lakka \"varnish\", not lakko \"strike\"); run `weaksignal models fetch`");
                        Some(voikko)
                    }
                }
            })
            .ok();
        let english = match english::EnglishTagger::load(dir) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(error = %e, "English tagger unavailable: English terms fall back to Snowball stems (no word classes: verbs can become term signals); run `weaksignal models fetch`");
                None
            }
        };
        // The frequency prior changes Finnish lemmas: checkpoints and views
        // keyed by the id must not mix terms made with and without it.
        let mut id = Morphology::id_of(loading.is_some(), english.is_some());
        if loading.is_some() {
            id = id.replacen("fi=voikko", "fi=voikko+wordfreq", 1);
        }
        Morphology {
            finnish: OnceLock::new(),
            id,
            loading: Mutex::new(loading),
            english,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Voikko, once loaded (waits for the loading thread the first time).
    pub fn finnish(&self) -> Option<&voikko::Voikko> {
        self.finnish
            .get_or_init(|| {
                let handle = self.loading.lock().ok().and_then(|mut h| h.take());
                handle.and_then(|h| h.join().ok()).flatten()
            })
            .as_ref()
    }

    pub fn english(&self) -> Option<&english::EnglishTagger> {
        self.english.as_ref()
    }
}
