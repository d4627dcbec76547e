//! Finnish morphology with Voikko's transducer: the base form, word class and
//! compound parts of a Finnish word (`poliisin` -> `poliisi`, noun;
//! `sähkönhinnat` -> `sähkönhinta` = `sähkö` + `hinta`), which a stemmer
//! cannot give.
//!
//! The transducer is voikko-fi's (`voikko.kfst`, GPL-3.0, from the `pyvoikko`
//! wheel, see [`super::fetch`]), run by the pure-Rust `kfst-rs` crate. It
//! maps a lowercase word to analysis strings such as
//!
//! ```text
//! [Lt][Xp]lentää[X]len[Ln][Xj]to[X]to[Sn][Ny][Bh][Bc][Ln][Xp]kone[X]konee[Sine][Ny]ssa
//! ```
//!
//! which this module parses itself (the tag set is Voikko's; the reading of
//! it here is our own):
//!
//! * `[Bc]` separates compound parts (`lento` | `kone`); `[Bh]` marks a
//!   boundary where the hyphen rules apply; `[Bm]` is a morpheme boundary
//!   inside one lexeme (ignored).
//! * `[L..]` is a word class: `n` noun, `l` adjective, `nl` noun-adjective,
//!   `h` interjection, `ee`/`es`/`ep`/`em` first name, surname, place and
//!   other name, `t` verb, `a` abbreviation, `s` adverb, `u`/`ur` numeral,
//!   `r` pronoun, `c` conjunction, `d` adposition, `k` negation verb, `p`
//!   prefix. Within one part a later class tag is a derivation
//!   (`lentää` -> `lento`): the last one is the part's class.
//! * `[Xp]...[X]` holds the base form of what follows, `[Xj]...[X]` the base
//!   form of a derivational suffix; a part's base form is its surface up to
//!   where its last `[Xp]`/`[Xj]` began, then that block's text (`=` marks
//!   morpheme boundaries and is dropped). `[Xr]...[X]` (letter-case pattern)
//!   and `[Xs]...[X]` (word ids) are not text.
//! * `[S..]` case (`Sg` genitive), `[N..]` number, `[P..]` person, `[T..]`
//!   mood, `[A..]` tense, `[E..]` negation, `[C..]` comparison, `[O..]`
//!   possessive suffix, `[F..]` clitic, `[R..]` participle, `[D..]` case of
//!   letters (`Dg`: a derivation of a name is written in lowercase,
//!   `helsinkiläinen`; `De`: a hyphenated first part takes a capital before a
//!   place name, `Etelä-Suomi`), `[I..]` lexicon information (`Isf`: a
//!   hyphen may follow the word; `Ica`: the noun can end a place name;
//!   `Icu`: what follows needs a hyphen; the rest is not used here).
//!
//! The raw transducer over-generates: like libvoikko, readings that break the
//! hyphen rules of compounds (`kala-allas` needs its hyphen, `eteläsuomi`
//! may not have one) or that join a name to an ordinary noun without a
//! hyphen are dropped. Which remaining reading counts is [`Voikko::analyse`]'s
//! documented rule.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kfst_rs::{FSTState, FST};

use super::frequency::Frequencies;
use super::{WordAnalysis, WordClass};
use crate::error::{Error, Result};

/// A derived word at least this frequent (in centibels below 1: Zipf 3,
/// once per million words) is a word of its own (`käyttö`), not a rare
/// derivation (rule 2 of [`Voikko::analyse`]).
const LEXICALISED: u16 = 600;

/// Longer words are not looked up (libvoikko has the same limit): nothing
/// that long is a word, and lookup time grows with length.
const MAX_WORD_CHARS: usize = 255;

/// Voikko's Finnish analyser, loaded once and shared: lookups take `&self`
/// and the transducer is immutable, so one `Voikko` serves every thread
/// (`Send + Sync`, checked at compile time below).
pub struct Voikko {
    fst: FST,
    path: PathBuf,
    /// Word frequencies for choosing between homographs (rule 4 of
    /// [`Voikko::analyse`]); without them that rule is skipped.
    frequencies: Option<Arc<Frequencies>>,
}

// The transducer is plain owned data (maps of symbols); kfst-rs interns
// symbol strings in a global `RwLock`, which lookups only read.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<Voikko>();
};

impl std::fmt::Debug for Voikko {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Voikko")
            .field("path", &self.path)
            .field(
                "frequencies",
                &self.frequencies.as_deref().map(Frequencies::path),
            )
            .finish()
    }
}

impl Voikko {
    /// Loads `voikko.kfst` (about 1 MB; 0.8 s in a release build).
    pub fn open(path: &Path) -> Result<Voikko> {
        let bytes = std::fs::read(path).map_err(|e| Error::Lexicon {
            path: path.to_path_buf(),
            message: format!(
                "cannot read the Voikko transducer: {e}; run `weaksignal models fetch`"
            ),
        })?;
        let started = std::time::Instant::now();
        let fst = FST::from_kfst_bytes(&bytes, false).map_err(|e| Error::Lexicon {
            path: path.to_path_buf(),
            message: format!(
                "not a KFST transducer ({e}); delete it and run `weaksignal models fetch`"
            ),
        })?;
        tracing::debug!(file = %path.display(), secs = started.elapsed().as_secs_f64(), "voikko transducer loaded");
        Ok(Voikko {
            fst,
            path: path.to_path_buf(),
            frequencies: None,
        })
    }

    /// The same analyser, choosing between readings of one class by the
    /// frequency of their lemmas (see [`Voikko::analyse`]).
    pub fn with_frequencies(self, frequencies: Arc<Frequencies>) -> Voikko {
        Voikko {
            frequencies: Some(frequencies),
            ..self
        }
    }

    /// The word frequencies the choice uses, when given.
    pub fn frequencies(&self) -> Option<&Frequencies> {
        self.frequencies.as_deref()
    }

    /// The file the transducer was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The raw analysis strings of `word` (lowercased first: the transducer
    /// knows only lowercase input), before the validity filter. Empty for a
    /// word it cannot spell (digits, other scripts) or does not know.
    pub fn raw_analyses(&self, word: &str) -> Vec<String> {
        if word.is_empty() || word.chars().count() > MAX_WORD_CHARS {
            return Vec::new();
        }
        let lower = word.to_lowercase();
        // allow_unknown = false: a character outside the transducer's
        // alphabet makes the lookup fail at once (it could not match anyway)
        // instead of being interned by kfst-rs for the life of the process.
        match self.fst.lookup(&lower, FSTState::<()>::default(), false) {
            Ok(found) => found
                .into_iter()
                .map(|(analysis, _weight)| analysis)
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Every valid reading of `word`, best first (the order of
    /// [`Voikko::analyse`]), without duplicates. Empty when the transducer
    /// does not know the word.
    pub fn analyses(&self, word: &str) -> Vec<WordAnalysis> {
        let readings = self.readings(word);
        let mut out: Vec<WordAnalysis> = Vec::with_capacity(readings.len());
        for reading in ranked(word, &readings, self.frequencies()) {
            let analysis = reading.to_word_analysis();
            if !out.contains(&analysis) {
                out.push(analysis);
            }
        }
        out
    }

    /// The one reading the term extractor uses, or `None` for a word the
    /// transducer does not know (the caller counts it as an unknown content
    /// word: often a new name).
    ///
    /// Without context, the rule is a fixed order, applied until one reading
    /// is left. Word frequencies ([`Voikko::with_frequencies`]: wordfreq's
    /// Finnish list, which counts word forms, not lexemes) take part in rules
    /// 2 and 4 only; without them those parts are skipped and the choice is
    /// the same as before they existed.
    ///
    /// 1. Fewest compound parts: Voikko over-segments (`voimaa` is also
    ///    `voi` + `maa`, `esimerkiksi` also `esi` + `merkki`, `perusteluissa`
    ///    also `peruste` + `luu`), and a lexicalised word beats a chance
    ///    compound. (It also makes `kansainvälistä` the imperative of the
    ///    lexicalised verb `kansainvälistää` rather than the compound
    ///    adjective `kansainvälinen`: a rare miss.)
    /// 2. Fewest rare forms, one point each: a possessive suffix (`vuosi` as
    ///    "your stream"); a verb in the first or second person, the
    ///    imperative (or the connegative, which looks the same) or the
    ///    potential (`ajan` "I drive", `tilanne`); the instructive, abessive
    ///    or comitative case (`noin`, `kuin` as plurals of `noki`, `kuu`;
    ///    `vuotta` "without a stream"); each derivation step (`hallitusta`
    ///    as an elative of the participle `hallittu`, `voima` as `voida` +
    ///    `-ma`, `terveyspalveluista` as a partitive of
    ///    `terveyspalveluinen`). News is written in the third person, in
    ///    common cases, about lexicalised words. With frequencies, a
    ///    derivation that made a common noun (at least once per million
    ///    words: `käyttö` from `käyttää`, `kehitys` from `kehittää`,
    ///    `voitto` from `voittaa`) is such a lexicalised word and costs
    ///    nothing, so that `voimankäytöstä` is `voimankäyttö`, not
    ///    `voimankäytös`, and `kehitystä` the noun, not the rare verb
    ///    `kehiä`. Only nouns (derived adjectives such as `rikollinen`,
    ///    `työtön` stay behind the noun reading, which rule 3 would
    ///    otherwise overturn), never participles (`voima` as `voida` +
    ///    `-ma`, `aiheuttama`), and not when the derived word is written
    ///    exactly as the word analysed: then its frequency is that of the
    ///    form itself, shared by every reading (`neuvoja` "advice" is not
    ///    the agent noun "adviser").
    /// 3. Word class. For a word written with a capital: place names, other
    ///    names (organisations, `Yle`) and surnames first, since a capital
    ///    inside a sentence marks a name (`Ylen` is Yle's, not the adverb
    ///    "ylen"; `Hyvinkään` is the town, not "hyvin" + `-kään`). Then, for
    ///    every word: conjunction, pronoun, adposition, adverb, numeral,
    ///    negation verb and prefix, because a form that can be a function
    ///    word almost always is one (`kuin`, `siitä`, `joilla`, `ilman`,
    ///    `kuusi`); adjective, verb, noun; abbreviation, interjection; and
    ///    last the remaining names: first names always (`Päivä`, `Tuuli`,
    ///    `Aamulla` and `Aina` at the start of a sentence are common words
    ///    far more often than first names) and every name when the word was
    ///    written in lowercase (`aina` is "always"). Adjective before verb:
    ///    `uusi`, `uusia`, `pieniä` are "new", "small". Verb before noun,
    ///    because the two mistakes do not cost the same: a verb form read as
    ///    a noun puts a verb's most frequent forms into a noun's counts
    ///    (`maksaa` "costs" would make `maksa` "liver" rise whenever prices
    ///    are in the news; `tuli` "came" would be "fire"), while a noun form
    ///    read as a verb takes one case form away from a noun whose other
    ///    forms still count (`kertaa`, `valtaa`).
    /// 4. Between readings of the same class (homographs of two lexemes),
    ///    with frequencies: the more frequent lemma, the lemma looked up as
    ///    a word (the whole lemma for a compound: `voimankäyttö`), a lemma
    ///    not in the list counting as the least frequent; equal or both
    ///    absent, the next rules decide. `lakkoja` is `lakko` "strike", not
    ///    `lakka` "varnish"; `vuoteen` `vuosi`, not `vuode` "bed";
    ///    `luokissa` `luokka`, not the rare `luokki`; `pelkää` `pelätä`, not
    ///    the archaic `peljätä`. This comes after rules 1 to 3 because a
    ///    list of word forms cannot compare lemmas of different classes: a
    ///    verb's lemma is its infinitive, one of its rarer forms, while a
    ///    noun's is its most frequent form, the nominative, and a function
    ///    word's lemma is frequent whatever the reading; nor does it judge
    ///    the structure of a reading (a chance compound's lemma is simply
    ///    absent, a person or case ending is no lemma at all). It comes
    ///    before rule 5 because the frequency of the lexeme is direct
    ///    evidence where singular-before-plural and the plural modifier are
    ///    guesses about the form (`luokissa` fell to the singular of
    ///    `luokki`). Its known bias: a lemma written like a frequent form of
    ///    another lexeme gains that form's frequency (`alusta` "platform"
    ///    over `alku` "beginning", whose elative `alusta` is common).
    /// 5. Then no plural modifier inside the compound (`asunto|lainoja`, not
    ///    `asuntolain|oja`); then the singular before the plural, as
    ///    singular forms are the more frequent (`kotiin`, `kodissa` are
    ///    "home", not plurals of `kota` "hut").
    /// 6. Then the alphabetically first lemma and analysis string, so that
    ///    the choice never depends on the transducer's output order. This is
    ///    arbitrary for true homographs (`kirjoja` -> `kirja`, right; without
    ///    frequencies `lakkoja` -> `lakka` "varnish", wrong). A caller with
    ///    documents can do better still by preferring, among
    ///    [`Voikko::analyses`], the lemma that occurs unambiguously more
    ///    often.
    pub fn analyse(&self, word: &str) -> Option<WordAnalysis> {
        let readings = self.readings(word);
        ranked(word, &readings, self.frequencies())
            .first()
            .map(|reading| reading.to_word_analysis())
    }

    fn readings(&self, word: &str) -> Vec<Reading> {
        self.raw_analyses(word)
            .iter()
            .filter_map(|raw| Reading::parse(raw))
            .collect()
    }
}

/// `readings` in the order of [`Voikko::analyse`]'s rule, best first.
fn ranked<'a>(
    word: &str,
    readings: &'a [Reading],
    frequencies: Option<&Frequencies>,
) -> Vec<&'a Reading> {
    let capitalised = word.chars().next().is_some_and(char::is_uppercase);
    let mut keyed: Vec<(Rank<'a>, &'a Reading)> = readings
        .iter()
        .map(|r| (r.rank(capitalised, frequencies), r))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, r)| r).collect()
}

/// Voikko's word classes (`[L..]` tags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Noun,
    Adjective,
    NounAdjective,
    Interjection,
    FirstName,
    Surname,
    PlaceName,
    OtherName,
    Verb,
    Abbreviation,
    Adverb,
    Numeral,
    Pronoun,
    Conjunction,
    Adposition,
    NegationVerb,
    Prefix,
}

impl Class {
    fn from_tag(code: &str) -> Option<Class> {
        Some(match code {
            "n" => Class::Noun,
            "l" => Class::Adjective,
            "nl" => Class::NounAdjective,
            "h" => Class::Interjection,
            "ee" => Class::FirstName,
            "es" => Class::Surname,
            "ep" => Class::PlaceName,
            "em" => Class::OtherName,
            "t" => Class::Verb,
            "a" => Class::Abbreviation,
            "s" => Class::Adverb,
            "u" | "ur" => Class::Numeral,
            "r" => Class::Pronoun,
            "c" => Class::Conjunction,
            "d" => Class::Adposition,
            "k" => Class::NegationVerb,
            "p" => Class::Prefix,
            _ => return None,
        })
    }

    fn is_name(self) -> bool {
        matches!(
            self,
            Class::FirstName | Class::Surname | Class::PlaceName | Class::OtherName
        )
    }

    fn word_class(self) -> WordClass {
        match self {
            // Voikko's nimisana_laatusana (`suomalainen`, `nuori`): mostly
            // heads of noun phrases in news, so a noun.
            Class::Noun | Class::NounAdjective => WordClass::Noun,
            Class::Adjective => WordClass::Adjective,
            Class::Interjection => WordClass::Interjection,
            Class::FirstName | Class::Surname | Class::PlaceName | Class::OtherName => {
                WordClass::ProperNoun
            }
            Class::Verb => WordClass::Verb,
            Class::Abbreviation => WordClass::Abbreviation,
            Class::Adverb => WordClass::Adverb,
            Class::Numeral => WordClass::Numeral,
            Class::Pronoun => WordClass::Pronoun,
            Class::Conjunction => WordClass::Conjunction,
            Class::Adposition => WordClass::Adposition,
            Class::NegationVerb | Class::Prefix => WordClass::Other,
        }
    }
}

/// What the text between tags is, at a point of an analysis string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Region {
    /// The word as written.
    Surface,
    /// Inside `[Xp]`/`[Xj]`: a base form.
    Base,
    /// Inside `[Xr]`, `[Xs]` or another `[X?]` block: not text.
    Ignored,
}

/// One compound part of a reading.
#[derive(Debug, Clone, Default)]
struct Part {
    /// The part as written (lowercase), with a hyphen that ends it.
    surface: String,
    /// Where in `surface` the last `[Xp]`/`[Xj]` began, and its text.
    base_at: Option<usize>,
    base_text: String,
    /// Class tags in order (derivations add more).
    classes: Vec<Class>,
    /// A verb's base form, when a later class tag derives something from it
    /// (a participle's verb: `tehnyt` -> `tehdä`).
    verb_base: Option<String>,
    /// The participle tag, when present (`v`, `a`, `u`, `t`, `m`, `e`).
    participle: Option<String>,
    case: Option<String>,
    number: Option<String>,
    person: Option<String>,
    mood: Option<String>,
    comparison: bool,
    possessive: bool,
    /// Derivation steps (`[Xj]`): participles, `-ma`, `-inen`, `-ys`...
    derivations: u32,
    /// `[Dg]`: written in lowercase although derived from a name.
    lowercase: bool,
    /// `[De]`: takes a capital before a hyphen and a place name.
    capital_before_name: bool,
    /// `[Isf]`: a hyphen may or may not follow.
    free_hyphen: bool,
    /// `[Bh]` ended this part: the hyphen rules apply at its boundary.
    checked_boundary: bool,
}

impl Part {
    fn base(&self) -> String {
        match self.base_at {
            Some(at) => format!("{}{}", &self.surface[..at], self.base_text),
            None => self.surface.trim_end_matches('-').to_string(),
        }
    }

    fn class(&self) -> Option<Class> {
        self.classes.last().copied()
    }

    fn is_name(&self) -> bool {
        self.classes.first().is_some_and(|c| c.is_name()) && !self.lowercase
    }

    fn ends_with_hyphen(&self) -> bool {
        self.surface.ends_with('-')
    }

    /// The base form with the class a caller sees: a participle's verb.
    fn lemma_base(&self) -> String {
        if self.is_participle() {
            if let Some(verb) = &self.verb_base {
                return verb.clone();
            }
        }
        self.base()
    }

    /// An adjective that is a verb's participle (`tehnyt`, `tehty`,
    /// `syntyvä`), except the negative one (`tuntematon`, `kestämätön`),
    /// which is used as a plain adjective.
    fn is_participle(&self) -> bool {
        self.class() == Some(Class::Adjective)
            && self.participle.as_deref().is_some_and(|p| p != "e")
    }

    fn word_class(&self) -> Option<WordClass> {
        let class = self.class()?;
        Some(match class {
            Class::Adjective if self.is_participle() => WordClass::Verb,
            // Comparatives and superlatives are adjectives (`suurempi`).
            Class::NounAdjective if self.comparison => WordClass::Adjective,
            _ => class.word_class(),
        })
    }
}

/// One parsed, valid analysis string.
#[derive(Debug, Clone)]
struct Reading {
    raw: String,
    parts: Vec<Part>,
}

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y' | 'ä' | 'ö' | 'å')
}

/// Splits an analysis string into tags (`Ln` for `[Ln]`) and text runs;
/// `None` for an unclosed tag.
fn tokens(raw: &str) -> Option<Vec<(bool, &str)>> {
    let mut out = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        if let Some(tag) = rest.strip_prefix('[') {
            let end = tag.find(']')?;
            out.push((true, &tag[..end]));
            rest = &tag[end + 1..];
        } else {
            let end = rest.find('[').unwrap_or(rest.len());
            out.push((false, &rest[..end]));
            rest = &rest[end..];
        }
    }
    Some(out)
}

impl Reading {
    /// Parses one analysis string; `None` when it is malformed or breaks the
    /// compound rules (see the module docs).
    fn parse(raw: &str) -> Option<Reading> {
        let mut parts = vec![Part::default()];
        let mut region = Region::Surface;
        // Validity state, over the whole word.
        let mut name_started = false;
        let mut ends_with_plain_noun = false;
        let mut hyphen_owed = false;
        let mut hyphen_missing = false;
        for (is_tag, text) in tokens(raw)? {
            if is_tag && text == "Bc" {
                parts.push(Part::default());
                region = Region::Surface;
                continue;
            }
            let part = parts.last_mut().expect("never empty");
            if !is_tag {
                match region {
                    Region::Surface => {
                        if text.contains('-') {
                            name_started = false;
                            ends_with_plain_noun = false;
                        }
                        part.surface.push_str(text);
                    }
                    Region::Base => part.base_text.extend(text.chars().filter(|&c| c != '=')),
                    Region::Ignored => {}
                }
                continue;
            }
            let (kind, value) = text.split_at(text.chars().next().map_or(0, char::len_utf8));
            match (kind, value) {
                ("X", "") => region = Region::Surface,
                ("X", "p" | "j") => {
                    region = Region::Base;
                    part.base_at = Some(part.surface.len());
                    part.base_text.clear();
                    if value == "j" {
                        part.derivations += 1;
                    }
                }
                ("X", _) => region = Region::Ignored,
                ("B", "h") => {
                    part.checked_boundary = true;
                    if hyphen_owed {
                        hyphen_missing = true;
                    }
                }
                ("L", code) => {
                    // An unknown class tag leaves the class as it was.
                    if let Some(class) = Class::from_tag(code) {
                        if part.class() == Some(Class::Verb) {
                            part.verb_base = Some(part.base());
                        }
                        part.classes.push(class);
                        if class.is_name() {
                            name_started = true;
                            ends_with_plain_noun = false;
                        } else if matches!(class, Class::Noun | Class::NounAdjective) {
                            ends_with_plain_noun = true;
                        }
                    }
                }
                ("R", p) => part.participle = Some(p.to_string()),
                ("S", case) => part.case = Some(case.to_string()),
                ("N", number) => part.number = Some(number.to_string()),
                ("P", person) => part.person = Some(person.to_string()),
                ("T", mood) => part.mood = Some(mood.to_string()),
                ("C", _) => part.comparison = true,
                ("O", _) => part.possessive = true,
                ("D", "g") => {
                    part.lowercase = true;
                    name_started = false;
                }
                ("D", "e") => part.capital_before_name = true,
                ("I", "sf") => part.free_hyphen = true,
                ("I", "ca") => {
                    ends_with_plain_noun = false;
                    hyphen_missing = false;
                }
                ("I", "cu") => hyphen_owed = true,
                // Tense, negation, clitics, other info flags, [Bm].
                _ => {}
            }
        }
        // A word that starts with a name and ends with an ordinary noun,
        // without a hyphen, is not a compound (`Helsinkimaa`); nouns marked
        // as endings of place names (`Pohjanmaa`, `Suomenlahti`) are.
        if hyphen_missing || (name_started && ends_with_plain_noun) {
            return None;
        }
        if !hyphens_valid(&parts) {
            return None;
        }
        if parts
            .iter()
            .all(|p| p.surface.is_empty() && p.base_text.is_empty())
        {
            return None;
        }
        Some(Reading {
            raw: raw.to_string(),
            parts,
        })
    }

    fn head(&self) -> &Part {
        self.parts.last().expect("never empty")
    }

    /// The reading's class as the caller sees it.
    fn word_class(&self) -> WordClass {
        let head = self.head();
        let class = head.word_class().unwrap_or(WordClass::Other);
        // A name joined to a place-name ending without a hyphen is a name
        // (`Pohjanmaa`, `Suomenlahti`); with a hyphen the head decides
        // (`EU-maa`, `Nato-maat`).
        let hyphenated = self.parts.iter().any(Part::ends_with_hyphen);
        if self.parts.len() > 1
            && self.parts[0].is_name()
            && !hyphenated
            && class == WordClass::Noun
        {
            return WordClass::ProperNoun;
        }
        class
    }

    /// The whole word's base form: non-final parts as written (`sähkön` in
    /// `sähkönhinta`), except those that agree with the head in case and
    /// number (adjectives and numerals: `Isossa-Britanniassa` ->
    /// `Iso-Britannia`, `kahdellekymmenelle` -> `kaksikymmentä`), which take
    /// their base form; then the head's base form.
    fn lemma(&self, class: WordClass) -> String {
        let head = self.head();
        let mut lemma = String::new();
        for (i, part) in self.parts.iter().enumerate() {
            let mut text = if i + 1 == self.parts.len() {
                part.lemma_base()
            } else {
                let agrees = matches!(
                    part.class(),
                    Some(Class::Adjective | Class::NounAdjective | Class::Numeral)
                ) && part.case.is_some()
                    && part.case == head.case
                    && part.number == head.number
                    && part.base_at.is_some();
                let written = part.surface.trim_end_matches('-');
                let base = part.base();
                let mut text = if agrees {
                    base
                } else if base.to_lowercase() == written {
                    // The lexicon's letter case (`EU-maa`, `Nato-maat`).
                    base
                } else {
                    written.to_string()
                };
                if part.ends_with_hyphen() {
                    text.push('-');
                }
                text
            };
            let next_is_name = self.parts.get(i + 1).is_some_and(Part::is_name);
            let capital = part.is_name()
                || (part.capital_before_name && part.ends_with_hyphen() && next_is_name);
            if capital {
                text = capitalise(&text);
            } else if part.lowercase {
                text = text.to_lowercase();
            }
            lemma.push_str(&text);
        }
        match class {
            WordClass::ProperNoun => capitalise(&lemma),
            // Abbreviations keep the lexicon's capitals (`EU`, `YK`); other
            // words are lowercase unless a part is a name (`EU-maa`).
            _ if self
                .parts
                .iter()
                .any(|p| p.is_name() || p.class() == Some(Class::Abbreviation)) =>
            {
                lemma
            }
            _ => lemma.to_lowercase(),
        }
    }

    fn to_word_analysis(&self) -> WordAnalysis {
        let class = self.word_class();
        let parts = if self.parts.len() > 1 {
            self.parts
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let base = if i + 1 == self.parts.len() {
                        p.lemma_base()
                    } else {
                        p.base()
                    };
                    if p.is_name() {
                        capitalise(&base)
                    } else {
                        base
                    }
                })
                .filter(|b| !b.is_empty())
                .collect()
        } else {
            Vec::new()
        };
        WordAnalysis {
            lemma: self.lemma(class),
            class,
            parts,
            genitive: self.head().case.as_deref() == Some("g"),
        }
    }

    /// How many rare forms the reading needs (rule 2 of [`Voikko::analyse`]).
    fn rarity(&self, frequencies: Option<&Frequencies>) -> u32 {
        let head = self.head();
        let lexicalised = |p: &Part| {
            let base = p.base();
            p.class() == Some(Class::Noun)
                && p.participle.is_none()
                && base.to_lowercase() != p.surface.trim_end_matches('-')
                && frequencies
                    .and_then(|f| f.centibels(&base))
                    .is_some_and(|cb| cb <= LEXICALISED)
        };
        let mut n: u32 = self
            .parts
            .iter()
            .filter(|p| !lexicalised(p))
            .map(|p| p.derivations)
            .sum();
        if self.parts.iter().any(|p| p.possessive) {
            n += 1;
        }
        if head.class() == Some(Class::Verb)
            && (matches!(head.person.as_deref(), Some("1" | "2"))
                || matches!(head.mood.as_deref(), Some("k" | "m")))
        {
            n += 1;
        }
        if matches!(head.case.as_deref(), Some("in" | "ab" | "ko")) {
            n += 1;
        }
        n
    }

    /// Rule 3 of [`Voikko::analyse`]: lower is preferred.
    fn class_rank(&self, capitalised: bool) -> u8 {
        let head = self.head();
        let Some(class) = head.class() else {
            return 20;
        };
        if class.is_name() || self.word_class() == WordClass::ProperNoun {
            // A name + place-name ending (`Pohjanmaa`) is a place name.
            let name = if class.is_name() {
                class
            } else {
                Class::PlaceName
            };
            return match name {
                Class::PlaceName if capitalised => 0,
                Class::OtherName if capitalised => 1,
                Class::Surname if capitalised => 2,
                _ => 19,
            };
        }
        match class {
            Class::Conjunction => 3,
            Class::Pronoun => 4,
            Class::Adposition => 5,
            Class::Adverb => 6,
            Class::Numeral => 7,
            Class::NegationVerb | Class::Prefix => 8,
            _ => match head.word_class() {
                Some(WordClass::Adjective) => 9,
                Some(WordClass::Verb) => 10,
                Some(WordClass::Noun) => 11,
                Some(WordClass::Abbreviation) => 12,
                Some(WordClass::Interjection) => 13,
                _ => 14,
            },
        }
    }

    fn rank(&self, capitalised: bool, frequencies: Option<&Frequencies>) -> Rank<'_> {
        let modifiers = &self.parts[..self.parts.len() - 1];
        let lemma = self.lemma(self.word_class());
        Rank {
            parts: self.parts.len(),
            rarity: self.rarity(frequencies),
            class: self.class_rank(capitalised),
            rareness: frequencies
                .and_then(|f| f.centibels(&lemma))
                .unwrap_or(u16::MAX),
            plural_modifier: modifiers.iter().any(|p| p.number.as_deref() == Some("m")),
            plural: self.head().number.as_deref() == Some("m"),
            lemma,
            raw: &self.raw,
        }
    }
}

/// The sort key of [`Voikko::analyse`]'s rule, field by field.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Rank<'a> {
    parts: usize,
    rarity: u32,
    class: u8,
    /// The lemma's frequency in centibels below 1 (lower is more frequent);
    /// `u16::MAX` for a lemma not in the list, or without a list.
    rareness: u16,
    plural_modifier: bool,
    plural: bool,
    lemma: String,
    raw: &'a str,
}

/// The hyphen rules at compound boundaries marked `[Bh]`: a hyphen goes
/// between two equal vowels (`kala-allas`) and after a digit, and nowhere
/// else (`eteläsuomi`, not `etelä-suomi`), except after a part ending in
/// `-is` (`pohjois-`), after an empty part, and next to words that allow
/// either (`[Isf]`: `internet-yhteys`).
fn hyphens_valid(parts: &[Part]) -> bool {
    for pair in parts.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        if !before.checked_boundary {
            continue;
        }
        let hyphen = before.ends_with_hyphen();
        let written = before.surface.trim_end_matches('-');
        let last = written.chars().last();
        let free =
            last.is_none() || written.ends_with("is") || before.free_hyphen || after.free_hyphen;
        if free && hyphen {
            continue;
        }
        let needed = match (last, after.surface.chars().next()) {
            (Some(a), Some(b)) => (a == b && is_vowel(a)) || a.is_ascii_digit(),
            (Some(a), None) => a.is_ascii_digit(),
            _ => false,
        };
        if needed != hyphen {
            return false;
        }
    }
    true
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> WordAnalysis {
        Reading::parse(raw)
            .unwrap_or_else(|| panic!("{raw} should parse"))
            .to_word_analysis()
    }

    #[test]
    fn parser_simple_words() {
        let a = parse("[Ln][Xp]poliisi[X]poliis[Sg][Ny]in");
        assert_eq!(a.lemma, "poliisi");
        assert_eq!(a.class, WordClass::Noun);
        assert!(a.genitive);
        assert!(a.parts.is_empty());

        let a = parse("[Lt][Xp]käyttää[X]käytt[Tt][Ai][P3][Ny][Ef]i");
        assert_eq!((a.lemma.as_str(), a.class), ("käyttää", WordClass::Verb));
        assert!(!a.genitive);

        let a = parse("[Lep][Xp]Helsinki[X]helsingi[Sine][Ny]ssä");
        assert_eq!(
            (a.lemma.as_str(), a.class),
            ("Helsinki", WordClass::ProperNoun)
        );

        let a = parse("[Lr][Xp]hän[X]hä[Sn][Ny]n");
        assert_eq!((a.lemma.as_str(), a.class), ("hän", WordClass::Pronoun));
        let a = parse("[Lc][Xp]ja[X]ja");
        assert_eq!((a.lemma.as_str(), a.class), ("ja", WordClass::Conjunction));
        let a = parse("[Lu][Xp]kolme[X]kolm[Sn][Ny]e");
        assert_eq!((a.lemma.as_str(), a.class), ("kolme", WordClass::Numeral));
        let a = parse("[Ld][Xp]ilman[X]ilman");
        assert_eq!(a.class, WordClass::Adposition);
        let a = parse("[Ls][Xp]noin[X]noin");
        assert_eq!(a.class, WordClass::Adverb);
        let a = parse("[Lk][Xp]ei[X]e[P3][Ny]i");
        assert_eq!((a.lemma.as_str(), a.class), ("ei", WordClass::Other));
        let a = parse("[Lh][Xp]voi[X]voi");
        assert_eq!(a.class, WordClass::Interjection);
        let a = parse("[Lp]sosiaali-");
        assert_eq!((a.lemma.as_str(), a.class), ("sosiaali", WordClass::Other));
        // A base form in the morpheme-boundary notation, and [Bm].
        let a = parse("[Lep][Xp]Rova=niemi[X]rova[Bm]nieme[Sade][Ny]llä");
        assert_eq!(a.lemma, "Rovaniemi");
    }

    #[test]
    fn parser_noun_adjectives_abbreviations_and_numerals() {
        let a = parse("[Lnl][Xp]liika[X]liik[Sp][Ny]aa");
        assert_eq!((a.lemma.as_str(), a.class), ("liika", WordClass::Noun));
        // A comparative is an adjective; its lemma the positive.
        let a = parse("[Lnl][Xp]suuri[X]suure[Sn][Ny][Cc]mpi");
        assert_eq!((a.lemma.as_str(), a.class), ("suuri", WordClass::Adjective));
        let a = parse("[Ll][Xp]lyhyt[X]lyhye[Sine][Ny]ssä");
        assert_eq!((a.lemma.as_str(), a.class), ("lyhyt", WordClass::Adjective));
        let a = parse("[La][Xr]jj[X][Xp]EU[X]eu[Sn][Ny]");
        assert_eq!((a.lemma.as_str(), a.class), ("EU", WordClass::Abbreviation));
        // A numeral whose surface follows its tags.
        let a = parse("[Lu][Xp]sata[X][Sp][Ny]sataa");
        assert_eq!((a.lemma.as_str(), a.class), ("sata", WordClass::Numeral));
        // Numeral compounds: parts agreeing in case take their base form.
        let a =
            parse("[Lu][Xp]kaksi[X]ka[Sall][Ny]hdelle[Bc][Lu][Xp]kymmentä[X][Sall][Ny]kymmenelle");
        assert_eq!(a.lemma, "kaksikymmentä");
        assert_eq!(a.parts, ["kaksi", "kymmentä"]);
        let a = parse("[Lu][Xp]kaksi[X]ka[Sn][Ny]ksi[Bc]kymmentä[Bc][Lu][Xp]viisi[X]vii[Sn][Ny]si");
        assert_eq!(a.lemma, "kaksikymmentäviisi");
        assert_eq!(a.parts, ["kaksi", "kymmentä", "viisi"]);
    }

    #[test]
    fn parser_derivations_and_participles() {
        // verb -> participle -> noun: a noun, base form from the last [Xj].
        let a = parse("[Lt][Xp]syntyä[X]synty[Ll][Rv]v[Xj]ä[X]y[Ln][Xj]ys[X]y[Sg][Ny]den");
        assert_eq!((a.lemma.as_str(), a.class), ("syntyvyys", WordClass::Noun));
        assert!(a.genitive);
        // Participles are verbs, with the verb's lemma.
        let a = parse("[Lt][Xp]tehdä[X]teh[Ll][Ru]n[Xj]yt[X][Sn][Ny]yt");
        assert_eq!((a.lemma.as_str(), a.class), ("tehdä", WordClass::Verb));
        let a = parse("[Lt][Xp]tehdä[X]teh[Ll][Rt][Xj]ty[X]ty[Sn][Ny]");
        assert_eq!((a.lemma.as_str(), a.class), ("tehdä", WordClass::Verb));
        // ...but not the negative participle, a plain adjective in use.
        let a = parse("[Lt][Xp]tuntea[X]tunte[Ln]m[Xj]a[X]a[Re][Ll][Xj]ton[X]to[Sn][Ny]n");
        assert_eq!(
            (a.lemma.as_str(), a.class),
            ("tuntematon", WordClass::Adjective)
        );
        // A derived adjective of a name is lowercase.
        let a = parse("[Lep][Xp]Ukraina[X]ukraina[Ll][Dg]lai[Xj]nen[X][Sn][Nm]set");
        assert_eq!(
            (a.lemma.as_str(), a.class),
            ("ukrainalainen", WordClass::Adjective)
        );
    }

    #[test]
    fn parser_compounds() {
        let a = parse("[Ln][Xp]sähkö[X]sähkö[Sg][Ny]n[Bh][Bc][Ln][Xp]hinta[X]hint[Sn][Ny]a");
        assert_eq!(a.lemma, "sähkönhinta");
        assert_eq!(a.parts, ["sähkö", "hinta"]);
        assert_eq!(a.class, WordClass::Noun);
        assert!(!a.genitive);
        let a = parse("[Ln][Xp]sähkö[X]sähkö[Sn][Ny][Bh][Bc][Ln][Xp]hinta[X]hint[Sg][Ny]an");
        assert_eq!(a.lemma, "sähköhinta");
        assert_eq!(a.parts, ["sähkö", "hinta"]);
        assert!(a.genitive);
        let a = parse("[Ll][Xp]itsenäinen[X]itsenäisy[Ln][Xj]ys[X]y[Sn][Ny]s[Bh][Bc][Ln][Xp]päivä[X]päiv[Ses][Ny]änä");
        assert_eq!(a.lemma, "itsenäisyyspäivä");
        assert_eq!(a.parts, ["itsenäisyys", "päivä"]);
        let a = parse(
            "[Lt][Xp]lentää[X]len[Ln][Xj]to[X]to[Sn][Ny][Bh][Bc][Ln][Xp]kone[X]konee[Sine][Ny]ssa",
        );
        assert_eq!((a.lemma.as_str(), a.class), ("lentokone", WordClass::Noun));
        assert_eq!(a.parts, ["lento", "kone"]);
        let a = parse("[Lp]pikku[Bh][Bc][Ln][Xp]joulu[X]joulu[Sn][Nm]t");
        assert_eq!(a.lemma, "pikkujoulu");
        assert_eq!(a.parts, ["pikku", "joulu"]);
        let a = parse(
            "[Ln][Xp]voima[X]voim[Sg][Ny]an[Bh][Bc][Lt][Xp]käyttää[X]käyt[Ln][Xj]tö[X]tö[Sn][Ny]",
        );
        assert_eq!(
            (a.lemma.as_str(), a.class),
            ("voimankäyttö", WordClass::Noun)
        );
        assert_eq!(a.parts, ["voima", "käyttö"]);
    }

    #[test]
    fn parser_names_and_hyphens() {
        // A hyphenated place name: the first part takes a capital ([De]).
        let a = parse("[Ln][De][Xp]etelä[X]etel[Sn][Ny]ä-[Bc][Lep][Xp]Suomi[X]suome[Sine][Ny]ssa");
        assert_eq!(
            (a.lemma.as_str(), a.class),
            ("Etelä-Suomi", WordClass::ProperNoun)
        );
        assert_eq!(a.parts, ["etelä", "Suomi"]);
        let a = parse("[Lnl][De][Xp]pohjoinen[X]pohjois-[Bc][Lep][Xp]Lappi[X]lapi[Sine][Ny]ssa");
        assert_eq!(a.lemma, "Pohjois-Lappi");
        // Agreement: `Isossa-Britanniassa` is `Iso-Britannia`.
        let a =
            parse("[Lnl][De][Xp]iso[X]iso[Sg][Ny]n-[Bc][Lep][Xp]Britannia[X]britannia[Sg][Ny]n");
        assert_eq!(a.lemma, "Iso-Britannia");
        // A name + place-name ending is a name; abbreviation + noun a noun.
        let a =
            parse("[Lep][Xp]Pohja[X]pohj[Sg][Ny]an[Bc][Icu][Ln][Ica][Xp]maa[X]maa[Sade][Ny]lla");
        assert_eq!(
            (a.lemma.as_str(), a.class),
            ("Pohjanmaa", WordClass::ProperNoun)
        );
        let a = parse("[La][Xr]jj[X][Xp]EU[X]eu-[Bc][Ln][Ica][Xp]maa[X]ma[Sg][Nm]iden");
        assert_eq!((a.lemma.as_str(), a.class), ("EU-maa", WordClass::Noun));
        assert_eq!(a.parts, ["EU", "maa"]);
        let a = parse(
            "[Lem][Xp]Finlandia[X]finlandi[Sn][Ny]a-[Bc][Ln][Xp]palkinto[X]palkinno[Sg][Ny]n",
        );
        assert_eq!(
            (a.lemma.as_str(), a.class),
            ("Finlandia-palkinto", WordClass::Noun)
        );
        let a = parse("[Lep][Xr]ipppppppp-=i[X][Xp]Varsinais-Suomi[X]varsinais-suome[Sine][Ny]ssa");
        assert_eq!(a.lemma, "Varsinais-Suomi");
    }

    #[test]
    fn invalid_readings_are_dropped() {
        // A hyphen where none belongs, and none where one is needed.
        assert!(Reading::parse(
            "[Ln][De][Xp]etelä[X]etel[Sn][Ny]ä-[Bh][Bc][Ln][Xp]suomi[X]suome[Sine][Ny]ssa"
        )
        .is_none());
        assert!(
            Reading::parse("[Ln][Xp]kala[X]kal[Sn][Ny]a[Bh][Bc][Ln][Xp]allas[X]allas[Sn][Ny]")
                .is_none()
        );
        assert!(Reading::parse(
            "[Ln][Xp]kala[X]kal[Sn][Ny]a-[Bh][Bc][Ln][Xp]allas[X]allas[Sn][Ny]"
        )
        .is_some());
        // `-is` allows either.
        assert!(Reading::parse(
            "[Lnl][De][Xp]pohjoinen[X]pohjois-[Bh][Bc][Ln][Xp]suomi[X]suome[Sine][Ny]ssa"
        )
        .is_some());
        // A name + an ordinary noun without a hyphen.
        assert!(Reading::parse(
            "[Lep][Xp]Helsinki[X]helsinki[Sn][Ny][Bc][Ln][Xp]talo[X]talo[Sn][Ny]"
        )
        .is_none());
        // Malformed strings.
        assert!(Reading::parse("[Ln][Xp]talo[X]talo[Sn").is_none());
        assert!(Reading::parse("").is_none());
    }

    /// The rule of `analyse`, on literal readings.
    #[test]
    fn ranking_rule_on_literal_readings() {
        let rank = |word: &str, raws: &[&str]| -> String {
            let readings: Vec<Reading> = raws.iter().filter_map(|r| Reading::parse(r)).collect();
            let best = ranked(word, &readings, None)[0].to_word_analysis();
            format!("{}:{}", best.lemma, best.class.name())
        };
        // tuli: a verb before a noun.
        let tuli = [
            "[Ln][Xp]tuli[X]tul[Sn][Ny]i",
            "[Lt][Xp]tulla[X]tul[Tt][Ai][P3][Ny][Ef]i",
        ];
        assert_eq!(rank("tuli", &tuli), "tulla:verb");
        // The order of the input does not matter.
        let mut reversed = tuli;
        reversed.reverse();
        assert_eq!(rank("tuli", &reversed), "tulla:verb");
        // kuusi: the numeral, not "your moon" nor the spruce.
        let kuusi = [
            "[Ln][Xp]kuusi[X]kuus[Sn][Ny]i",
            "[Ln][Xp]kuu[X]kuu[Sn][Ny][O2y]si",
            "[Lu][Xp]kuusi[X]kuu[Sn][Ny]si",
        ];
        assert_eq!(rank("kuusi", &kuusi), "kuusi:numeral");
        // voimaa: one part beats two; the lexical noun beats the derivation.
        let voimaa = [
            "[Lt][Ira][Xp]voida[X]voi[Ln][Rm]m[Xj]a[X][Sp][Ny]aa",
            "[Ln][Xp]voi[X]voi[Sn][Ny][Bh][Bc][Ln][Ica][Xp]maa[X]maa[Sn][Ny]",
            "[Ln][Xp]voima[X]voim[Sp][Ny]aa",
        ];
        assert_eq!(rank("voimaa", &voimaa), "voima:noun");
        // ajan: the noun, not "I drive"; vuotta: not "without a stream".
        let ajan = [
            "[Lt][Xp]ajaa[X]aja[Tt][Ap][P1][Ny][Ef]n",
            "[Ln][Xp]aika[X]aj[Sg][Ny]an",
        ];
        assert_eq!(rank("ajan", &ajan), "aika:noun");
        let vuotta = [
            "[Ln][Xp]vuo[X]vuo[Sab][Ny]tta",
            "[Ln][Xp]vuosi[X]vuo[Sp][Ny]tta",
        ];
        assert_eq!(rank("vuotta", &vuotta), "vuosi:noun");
        // uusi: the adjective before the verb `uusia`.
        let uusi = [
            "[Lt][Xp]uusia[X]uus[Tt][Ai][P3][Ny][Ef]i",
            "[Ll][De][Xp]uusi[X]uu[Sn][Ny]si",
        ];
        assert_eq!(rank("uusi", &uusi), "uusi:adjective");
        // Suomen: the country when capitalised, the language otherwise.
        let suomen = [
            "[Ln][Xp]suomi[X]suom[Sg][Ny]en",
            "[Lep][Xp]Suomi[X]suom[Sg][Ny]en",
        ];
        assert_eq!(rank("Suomen", &suomen), "Suomi:proper_noun");
        assert_eq!(rank("suomen", &suomen), "suomi:noun");
        // Ylen: a capital makes a name win over a function word.
        let ylen = ["[Ls][Xp]ylen[X]ylen", "[Lem][Xp]Yle[X]yle[Sg][Ny]n"];
        assert_eq!(rank("Ylen", &ylen), "Yle:proper_noun");
        assert_eq!(rank("ylen", &ylen), "ylen:adverb");
        // Päivä at the start of a sentence: the noun, not the first name.
        let paiva = [
            "[Lee][Xp]Päivä[X]päiv[Sn][Ny]ä",
            "[Ln][Xp]päivä[X]päiv[Sn][Ny]ä",
        ];
        assert_eq!(rank("Päivä", &paiva), "päivä:noun");
        // aina: the adverb, whatever the case of its first letter.
        let aina = ["[Lee][Xp]Aina[X]ain[Sn][Ny]a", "[Ls][Xp]aina[X]aina"];
        assert_eq!(rank("aina", &aina), "aina:adverb");
        assert_eq!(rank("Aina", &aina), "aina:adverb");
        // Homographs of one class: the singular, then the alphabet.
        let kotiin = [
            "[Ln][Xp]kota[X]kot[Sill][Nm]iin",
            "[Ln][Xp]koti[X]kot[Sill][Ny]iin",
        ];
        assert_eq!(rank("kotiin", &kotiin), "koti:noun");
        let lakkoja = [
            "[Ln][Xp]lakka[X]lakk[Sp][Nm]oja",
            "[Ln][Xp]lakko[X]lakko[Sp][Nm]ja",
        ];
        assert_eq!(rank("lakkoja", &lakkoja), "lakka:noun");
        // A plural modifier inside a compound is rare.
        let asuntolainoja = [
            "[Ln][Xp]asuntola[X]asuntola[Sg][Nm]in[Bh][Bc][Ln][Ica][Xp]oja[X]oj[Sn][Ny]a",
            "[Ln][Xp]asunto[X]asunto[Sn][Ny][Bh][Bc][Ln][Xp]laina[X]lain[Sp][Nm]oja",
        ];
        assert_eq!(rank("asuntolainoja", &asuntolainoja), "asuntolaina:noun");
    }

    /// Rules 2 and 4 of `analyse` with a hand-made frequency list: the
    /// lemma's frequency decides between readings of one class, and a
    /// common derived noun is no rare form.
    #[test]
    fn frequency_prior_on_literal_readings() {
        // Bucket i: words i centibels below 1 (lower is more frequent).
        let mut buckets: Vec<&[&str]> = vec![&[]; 700];
        buckets[300] = &["tuli"];
        buckets[365] = &["vuosi"];
        buckets[392] = &["käyttö"];
        buckets[450] = &["tulla", "neuvoja"];
        buckets[468] = &["luokka"];
        buckets[481] = &["käytös"];
        buckets[482] = &["lakko"];
        buckets[500] = &["kehitys", "rikko"];
        buckets[571] = &["vuode"];
        buckets[581] = &["lakka"];
        buckets[628] = &["voimankäyttö"];
        let path = Path::new("test-frequencies.msgpack");
        let list =
            Frequencies::from_msgpack(super::super::frequency::cbpack(&buckets, false), path)
                .expect("the hand-made list parses");
        let rank = |word: &str, raws: &[&str], list: Option<&Frequencies>| -> String {
            let readings: Vec<Reading> = raws.iter().filter_map(|r| Reading::parse(r)).collect();
            assert_eq!(readings.len(), raws.len(), "{raws:?}");
            let best = ranked(word, &readings, list)[0].to_word_analysis();
            format!("{}:{}", best.lemma, best.class.name())
        };
        let with = Some(&list);
        let lakkoja = [
            "[Ln][Xp]lakka[X]lakk[Sp][Nm]oja",
            "[Ln][Xp]lakko[X]lakko[Sp][Nm]ja",
        ];
        assert_eq!(rank("lakkoja", &lakkoja, None), "lakka:noun");
        assert_eq!(rank("lakkoja", &lakkoja, with), "lakko:noun");
        let mut reversed = lakkoja;
        reversed.reverse();
        assert_eq!(rank("lakkoja", &reversed, with), "lakko:noun");
        // The more frequent lemma beats the singular.
        let vuoteen = [
            "[Ln][Xp]vuosi[X]vuo[Sill][Ny]teen",
            "[Ln][Xp]vuode[X]vuote[Sg][Ny]en",
        ];
        assert_eq!(rank("vuoteen", &vuoteen, None), "vuode:noun");
        assert_eq!(rank("vuoteen", &vuoteen, with), "vuosi:noun");
        // A lemma not in the list is the least frequent...
        let luokissa = [
            "[Ln][Xp]luokki[X]luoki[Sine][Ny]ssa",
            "[Ln][Xp]luokka[X]luok[Sine][Nm]issa",
        ];
        assert_eq!(rank("luokissa", &luokissa, None), "luokki:noun");
        assert_eq!(rank("luokissa", &luokissa, with), "luokka:noun");
        // ...and when both are absent, the old rules decide.
        let kotiin = [
            "[Ln][Xp]kota[X]kot[Sill][Nm]iin",
            "[Ln][Xp]koti[X]kot[Sill][Ny]iin",
        ];
        assert_eq!(rank("kotiin", &kotiin, with), "koti:noun");
        // Word class still comes first: `tuli` is far more frequent as a
        // word than `tulla`, and the verb still wins.
        let tuli = [
            "[Ln][Xp]tuli[X]tul[Sn][Ny]i",
            "[Lt][Xp]tulla[X]tul[Tt][Ai][P3][Ny][Ef]i",
        ];
        assert_eq!(rank("tuli", &tuli, with), "tulla:verb");
        // The frequent derived noun `käyttö` costs no rare form (rule 2),
        // then the compound is looked up whole (rule 4).
        let voimankaytosta = [
            "[Ln][Xp]voima[X]voim[Sg][Ny]an[Bh][Bc][Lt][Xp]käyttää[X]käyt[Ln][Xj]tö[X]ö[Sela][Ny]stä",
            "[Ln][Xp]voima[X]voim[Sg][Ny]an[Bh][Bc][Ln][Xp]käytös[X]käytö[Sp][Ny]stä",
        ];
        assert_eq!(
            rank("voimankäytöstä", &voimankaytosta, None),
            "voimankäytös:noun"
        );
        assert_eq!(
            rank("voimankäytöstä", &voimankaytosta, with),
            "voimankäyttö:noun"
        );
        // A derivation written as the word itself is no evidence: `neuvoja`
        // stays the plural of `neuvo`, not the agent noun.
        let neuvoja = [
            "[Ln][Xp]neuvo[X]neuvo[Sp][Nm]ja",
            "[Lt][Xp]neuvoa[X]neuvo[Ln][Xj]ja[X][Sn][Ny]ja",
        ];
        assert_eq!(rank("neuvoja", &neuvoja, with), "neuvo:noun");
        // A common derived noun beats a rare participle's verb.
        let kehitysta = [
            "[Lt][Xp]kehiä[X]kehi[Ll][Rt]t[Xj]ty[X]y[Sela][Ny]stä",
            "[Lt][Xp]kehittää[X]kehit[Ln][Xj]ys[X]y[Sp][Ny]stä",
        ];
        assert_eq!(rank("kehitystä", &kehitysta, None), "kehiä:verb");
        assert_eq!(rank("kehitystä", &kehitysta, with), "kehitys:noun");
        // Derived adjectives keep their point, so the noun still wins.
        let rikollinen = [
            "[Ln][Xp]rikko[X]riko[Ll]lli[Xj]nen[X][Sn][Ny]nen",
            "[Lnl][Xp]rikollinen[X]rikolli[Sn][Ny]nen",
        ];
        assert_eq!(rank("rikollinen", &rikollinen, with), "rikollinen:noun");
        // Participles too: `hallitusta` is the government.
        let hallitusta = [
            "[Lt][Xp]hallita[X]halli[Ll][Rt]t[Xj]tu[X]u[Sela][Ny]sta",
            "[Ln][Ion][Xp]hallitus[X]hallitu[Sp][Ny]sta",
        ];
        assert_eq!(rank("hallitusta", &hallitusta, with), "hallitus:noun");
    }

    /// The transducer's directory, found as the fetch code finds it:
    /// `$WEAKSIGNAL_LEXICON_DIR`, else `models/lexicons` in the crate.
    fn transducer() -> Option<&'static Voikko> {
        static VOIKKO: std::sync::OnceLock<Option<Voikko>> = std::sync::OnceLock::new();
        VOIKKO
            .get_or_init(|| {
                let path = super::super::fetch::dev_dir().join(super::super::fetch::VOIKKO_FILE);
                if !path.is_file() {
                    return None;
                }
                Some(Voikko::open(&path).expect("voikko.kfst loads"))
            })
            .as_ref()
    }

    /// The transducer with the frequency list beside it, when both are
    /// there.
    fn transducer_with_frequencies() -> Option<&'static Voikko> {
        static VOIKKO: std::sync::OnceLock<Option<Voikko>> = std::sync::OnceLock::new();
        VOIKKO
            .get_or_init(|| {
                let dir = super::super::fetch::dev_dir();
                let path = dir.join(super::super::fetch::VOIKKO_FILE);
                let list = dir.join(super::super::fetch::FREQUENCY_FILE);
                if !path.is_file() || !list.is_file() {
                    return None;
                }
                let list = Frequencies::load(&list).expect("the frequency list loads");
                let voikko = Voikko::open(&path).expect("voikko.kfst loads");
                Some(voikko.with_frequencies(Arc::new(list)))
            })
            .as_ref()
    }

    macro_rules! with_transducer {
        ($name:literal) => {
            match transducer() {
                Some(v) => v,
                None => {
                    eprintln!(
                        "\n*** SKIPPED {}: voikko.kfst not found (run `weaksignal models fetch` or bash models/fetch-lexicons.sh, or set WEAKSIGNAL_LEXICON_DIR) ***\n",
                        $name
                    );
                    return;
                }
            }
        };
    }

    #[test]
    fn real_transducer_expected_words() {
        let voikko = with_transducer!("real_transducer_expected_words");
        expected_words(voikko);
    }

    /// The frequency prior fixes homographs and keeps every other choice.
    #[test]
    fn real_transducer_with_frequencies() {
        let Some(voikko) = transducer_with_frequencies() else {
            eprintln!(
                "\n*** SKIPPED real_transducer_with_frequencies: voikko.kfst or {} not found in {} (run `weaksignal models fetch` or bash models/fetch-lexicons.sh, or set WEAKSIGNAL_LEXICON_DIR) ***\n",
                super::super::fetch::FREQUENCY_FILE,
                super::super::fetch::dev_dir().display()
            );
            return;
        };
        assert!(voikko.frequencies().is_some_and(|f| f.len() > 500_000));
        expected_words(voikko);
        for (word, lemma) in [
            ("lakkoja", "lakko"),
            ("Lakkoja", "lakko"),
            ("vuoteen", "vuosi"),
            ("luokissa", "luokka"),
            ("voimankäytöstä", "voimankäyttö"),
            ("kehitystä", "kehitys"),
            ("pelkää", "pelätä"),
            ("nuorille", "nuori"),
            ("sään", "sää"),
            ("tulipalossa", "tulipalo"),
            ("hallitusta", "hallitus"),
            ("neuvoja", "neuvo"),
            ("rikollinen", "rikollinen"),
        ] {
            let a = voikko.analyse(word).expect(word);
            assert_eq!(a.lemma, lemma, "{word}: {a:?}");
            assert_eq!(Some(&a), voikko.analyses(word).first(), "{word}");
        }
        let a = voikko.analyse("voimankäytöstä").unwrap();
        assert_eq!(a.parts, ["voima", "käyttö"]);
        assert_eq!(voikko.analyse("rikollinen").unwrap().class, WordClass::Noun);
    }

    fn expected_words(voikko: &Voikko) {
        let check = |word: &str, lemma: &str, class: WordClass| {
            let a = voikko
                .analyse(word)
                .unwrap_or_else(|| panic!("{word}: no analysis"));
            assert_eq!(
                (a.lemma.as_str(), a.class),
                (lemma, class),
                "{word}: {:?} (all: {:?})",
                a,
                voikko.raw_analyses(word)
            );
            a
        };
        check("poliisin", "poliisi", WordClass::Noun);
        check("syntyvyyden", "syntyvyys", WordClass::Noun);
        check("tehnyt", "tehdä", WordClass::Verb);
        check("käytti", "käyttää", WordClass::Verb);
        check("voimaa", "voima", WordClass::Noun);
        check("jouluna", "joulu", WordClass::Noun);
        check("Helsingissä", "Helsinki", WordClass::ProperNoun);
        check("helsingissä", "Helsinki", WordClass::ProperNoun);
        check("hän", "hän", WordClass::Pronoun);
        check("ja", "ja", WordClass::Conjunction);
        check("kolme", "kolme", WordClass::Numeral);
        check("tuli", "tulla", WordClass::Verb);
        check("kuusi", "kuusi", WordClass::Numeral);
        check("Suomen", "Suomi", WordClass::ProperNoun);
        check("EU", "EU", WordClass::Abbreviation);
        check("Keski-Suomessa", "Keski-Suomi", WordClass::ProperNoun);
        // Voikko knows `liikaa` only as the partitive of the
        // noun-adjective `liika`, not as an adverb.
        check("liikaa", "liika", WordClass::Noun);

        let a = voikko.analyse("lyhyessä").expect("lyhyessä");
        assert_ne!(a.class, WordClass::Noun, "{a:?}");
        assert_eq!(a.lemma, "lyhyt");

        let a = check("itsenäisyyspäivänä", "itsenäisyyspäivä", WordClass::Noun);
        assert_eq!(a.parts, ["itsenäisyys", "päivä"]);
        let a = check("sähkön", "sähkö", WordClass::Noun);
        assert!(a.genitive);
        let a = check("voimankäyttö", "voimankäyttö", WordClass::Noun);
        assert_eq!(a.parts, ["voima", "käyttö"]);
        let a = check("sähkönhinta", "sähkönhinta", WordClass::Noun);
        assert_eq!(a.parts, ["sähkö", "hinta"]);
        let a = check("sähköhinnan", "sähköhinta", WordClass::Noun);
        assert_eq!(a.parts, ["sähkö", "hinta"]);
        assert!(a.genitive);
        let a = check("pikkujoulut", "pikkujoulu", WordClass::Noun);
        assert_eq!(a.parts, ["pikku", "joulu"]);
        let a = check("Pohjanmaalla", "Pohjanmaa", WordClass::ProperNoun);
        assert!(a.parts.is_empty(), "{a:?}");

        // Unknown words and words it cannot spell.
        assert_eq!(voikko.analyse("Zelenskyi"), None);
        assert_eq!(voikko.analyse("qwxzzkj"), None);
        check("2023", "2023", WordClass::Numeral);
        assert_eq!(voikko.analyse(""), None);
        assert_eq!(voikko.analyse("中文"), None);
        assert_eq!(voikko.analyse(&"a".repeat(300)), None);
    }

    #[test]
    fn real_transducer_analyses_are_ranked_and_distinct() {
        let voikko = with_transducer!("real_transducer_analyses_are_ranked_and_distinct");
        for word in ["tuli", "kuusi", "voimaa", "Suomen", "maksaa", "Päivä"] {
            let all = voikko.analyses(word);
            assert!(all.len() >= 2, "{word}: {all:?}");
            assert_eq!(Some(&all[0]), voikko.analyse(word).as_ref(), "{word}");
            for (i, a) in all.iter().enumerate() {
                assert!(!all[..i].contains(a), "{word}: duplicate {a:?}");
            }
        }
        let tuli = voikko.analyses("tuli");
        assert!(tuli
            .iter()
            .any(|a| a.lemma == "tuli" && a.class == WordClass::Noun));
    }

    #[test]
    fn real_transducer_is_shared_across_threads() {
        let voikko = with_transducer!("real_transducer_is_shared_across_threads");
        let words = ["poliisin", "sähkön", "tuli", "Helsingissä"];
        let expected: Vec<_> = words.iter().map(|w| voikko.analyse(w)).collect();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|_| s.spawn(|| words.iter().map(|w| voikko.analyse(w)).collect::<Vec<_>>()))
                .collect();
            for h in handles {
                assert_eq!(h.join().unwrap(), expected);
            }
        });
    }

    #[test]
    fn open_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("voikko.kfst");
        let err = Voikko::open(&missing).unwrap_err().to_string();
        assert!(
            err.contains("voikko.kfst") && err.contains("models fetch"),
            "{err}"
        );
        std::fs::write(&missing, b"not a transducer").unwrap();
        let err = Voikko::open(&missing).unwrap_err().to_string();
        assert!(
            err.contains("voikko.kfst") && err.contains("models fetch"),
            "{err}"
        );
    }
}
