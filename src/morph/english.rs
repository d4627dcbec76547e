//! English part-of-speech tagging for headlines, and the singular of plural
//! nouns.
//!
//! Why: only content words (nouns and names; adjectives only inside
//! multi-word terms) may become term signals, and "tariffs" and "tariff"
//! must be one term, shown as "tariff". A stemmer gives neither.
//!
//! How: Brill's transformation-based tagger (Brill 1992, 1995) with the
//! lexicon and contextual rules of Brill's tagger v1.14 as shipped in
//! textblob 0.20.1 (`en-lexicon.txt`: "word TAG", the most frequent Penn
//! Treebank tag of each word; `en-context.txt`: rules "FROM TO TEMPLATE x
//! [y]"). Tagging a headline takes four steps:
//!
//! 1. Lexicon lookup, with the capital letter read as headlines use it
//!    (sentence case): inside a headline, a capitalised word that the
//!    lexicon knows in lower case as a content word is a name part (`Sports
//!    Direct`, `House of Fraser`, `Theresa May`); the first word of a
//!    headline or sentence (after `.` `?` `!` or a kicker's `|`) is looked up
//!    in lower case first (`Fire leaves family...`), except that a name whose
//!    lower-case form is only a finite verb (`Mars`) stays a name. After a
//!    colon a capital marks a name (the Guardian writes lower case there)
//!    unless the word is a function word. In a headline in Title Case or
//!    ALL CAPS (most known lower-case words capitalised) capitals say
//!    nothing. Acronyms are names (`US`, not "us").
//! 2. Unknown words: numbers, hyphens, capitals, suffixes (see
//!    [`EnglishTagger::tag`]).
//! 3. Brill's contextual rules, each rule applied over the whole headline
//!    from left to right before the next rule, as in Brill's tagger. All 27
//!    templates textblob knows are implemented (PREVTAG NEXTTAG PREV2TAG
//!    NEXT2TAG PREV1OR2TAG NEXT1OR2TAG PREV1OR2OR3TAG NEXT1OR2OR3TAG
//!    SURROUNDTAG CURWD PREVWD NEXTWD PREV1OR2WD NEXT1OR2WD PREV1OR2OR3WD
//!    NEXT1OR2OR3WD PREVWDTAG NEXTWDTAG WDPREVTAG WDNEXTTAG WDAND2AFT
//!    WDAND2TAGBFR WDAND2TAGAFT LBIGRAM RBIGRAM PREVBIGRAM NEXTBIGRAM); an
//!    unknown template is a load error. Brill restricts a known word to tags
//!    it was seen with; the shipped lexicon lost those, so word forms stand
//!    in (see `move_allowed`).
//! 4. Headline repairs that rules trained on running text lack: a common
//!    word before a name part joins the name (`Sports` in `Sports Direct`);
//!    a verb right after an article is a noun (`a hit`); a clause without a
//!    verb gets one (`Asos shares crash 38%`, `Airbus shelves plans`, `as
//!    coronavirus crisis hits`).
//!
//! Clitics arrive attached to their word (`Melbourne's`, `won't`, `it’s`,
//! `MPs'`), as [`tokens`] leaves them; the tagger splits them off inside
//! (`Melbourne` + `'s`, `wo` + `n't`), tags the parts with the lexicon and
//! the rules (which know `'s` as POS), and gives the token its host's tag.
//! A noun whose clitic stays POS is `genitive`. Curly and straight
//! apostrophes are the same (`world’s` = `world's`).
//!
//! Measured on tests/fixtures/english-pos/guardian-headlines.tsv (61
//! Guardian headlines, 663 words, labelled before the tagger was written):
//! word-class accuracy 95.2%; content words (noun or proper noun):
//! precision 97.1%, recall 98.1%. textblob 0.20.1's own tagger (same
//! files plus its morphology and entity rules, clitics split the same way)
//! scores 86.7%, 93.0% and 89.1% on the same tokens. Errors that remain are
//! typical of a one-tag lexicon: a name that starts a headline and is also
//! a common word becomes a noun (`Trump`, `China`: lemma `trump`); a common
//! noun after a colon becomes a name (`...’: Fire leaves`); noun/verb pairs
//! of ambiguous words in noun runs (`fever fuels surge`: `surge` is taken as
//! the verb); adjective/adverb and adjective/noun confusions (`dig deep`,
//! `retail sales`), which do not change what is a content word. Speed:
//! about 1.4 million tokens a second on one core (release build).

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::morph::{WordAnalysis, WordClass};

/// File name of the lexicon inside the lexicon directory.
pub const LEXICON_FILE: &str = "en-lexicon.txt";
/// File name of the contextual rules inside the lexicon directory.
pub const CONTEXT_FILE: &str = "en-context.txt";

// ---------------------------------------------------------------------------
// Tags

/// Penn Treebank tags (and the punctuation tags Brill's files use).
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    CC,
    CD,
    DT,
    EX,
    FW,
    IN,
    JJ,
    JJR,
    JJS,
    LS,
    MD,
    NN,
    NNS,
    NNP,
    NNPS,
    PDT,
    POS,
    PRP,
    PRPS,
    RB,
    RBR,
    RBS,
    RP,
    SYM,
    TO,
    UH,
    VB,
    VBD,
    VBG,
    VBN,
    VBP,
    VBZ,
    WDT,
    WP,
    WPS,
    WRB,
    Dollar,
    Hash,
    OpenQuote,
    CloseQuote,
    Quote,
    LParen,
    RParen,
    Comma,
    Period,
    Colon,
    /// Brill's sentence-boundary pseudo tag (and word) `STAART`.
    Start,
}

const ALL_TAGS: [Tag; 47] = [
    Tag::CC,
    Tag::CD,
    Tag::DT,
    Tag::EX,
    Tag::FW,
    Tag::IN,
    Tag::JJ,
    Tag::JJR,
    Tag::JJS,
    Tag::LS,
    Tag::MD,
    Tag::NN,
    Tag::NNS,
    Tag::NNP,
    Tag::NNPS,
    Tag::PDT,
    Tag::POS,
    Tag::PRP,
    Tag::PRPS,
    Tag::RB,
    Tag::RBR,
    Tag::RBS,
    Tag::RP,
    Tag::SYM,
    Tag::TO,
    Tag::UH,
    Tag::VB,
    Tag::VBD,
    Tag::VBG,
    Tag::VBN,
    Tag::VBP,
    Tag::VBZ,
    Tag::WDT,
    Tag::WP,
    Tag::WPS,
    Tag::WRB,
    Tag::Dollar,
    Tag::Hash,
    Tag::OpenQuote,
    Tag::CloseQuote,
    Tag::Quote,
    Tag::LParen,
    Tag::RParen,
    Tag::Comma,
    Tag::Period,
    Tag::Colon,
    Tag::Start,
];

impl Tag {
    fn name(self) -> &'static str {
        match self {
            Tag::CC => "CC",
            Tag::CD => "CD",
            Tag::DT => "DT",
            Tag::EX => "EX",
            Tag::FW => "FW",
            Tag::IN => "IN",
            Tag::JJ => "JJ",
            Tag::JJR => "JJR",
            Tag::JJS => "JJS",
            Tag::LS => "LS",
            Tag::MD => "MD",
            Tag::NN => "NN",
            Tag::NNS => "NNS",
            Tag::NNP => "NNP",
            Tag::NNPS => "NNPS",
            Tag::PDT => "PDT",
            Tag::POS => "POS",
            Tag::PRP => "PRP",
            Tag::PRPS => "PRP$",
            Tag::RB => "RB",
            Tag::RBR => "RBR",
            Tag::RBS => "RBS",
            Tag::RP => "RP",
            Tag::SYM => "SYM",
            Tag::TO => "TO",
            Tag::UH => "UH",
            Tag::VB => "VB",
            Tag::VBD => "VBD",
            Tag::VBG => "VBG",
            Tag::VBN => "VBN",
            Tag::VBP => "VBP",
            Tag::VBZ => "VBZ",
            Tag::WDT => "WDT",
            Tag::WP => "WP",
            Tag::WPS => "WP$",
            Tag::WRB => "WRB",
            Tag::Dollar => "$",
            Tag::Hash => "#",
            Tag::OpenQuote => "``",
            Tag::CloseQuote => "''",
            Tag::Quote => "\"",
            Tag::LParen => "(",
            Tag::RParen => ")",
            Tag::Comma => ",",
            Tag::Period => ".",
            Tag::Colon => ":",
            Tag::Start => "STAART",
        }
    }

    fn parse(s: &str) -> Option<Tag> {
        match s {
            "-LRB-" => Some(Tag::LParen),
            "-RRB-" => Some(Tag::RParen),
            _ => ALL_TAGS.iter().copied().find(|t| t.name() == s),
        }
    }

    /// A tag as written in the lexicon: the first of alternatives
    /// (`NN|JJ`), old names (`NP`, `PP`), `£` as `$`.
    fn parse_lexicon(s: &str) -> Option<Tag> {
        let first = s.split('|').next().unwrap_or(s);
        match first {
            "NP" => Some(Tag::NNP),
            "NPS" => Some(Tag::NNPS),
            "PP" => Some(Tag::PRP),
            "PP$" => Some(Tag::PRPS),
            "£" => Some(Tag::Dollar),
            "STAART" => None,
            _ => Tag::parse(first),
        }
    }

    fn is_noun(self) -> bool {
        matches!(self, Tag::NN | Tag::NNS | Tag::NNP | Tag::NNPS)
    }

    fn is_proper(self) -> bool {
        matches!(self, Tag::NNP | Tag::NNPS)
    }

    fn is_verb(self) -> bool {
        matches!(
            self,
            Tag::VB | Tag::VBD | Tag::VBG | Tag::VBN | Tag::VBP | Tag::VBZ | Tag::MD
        )
    }

    fn is_finite_verb(self) -> bool {
        matches!(self, Tag::VBD | Tag::VBP | Tag::VBZ | Tag::MD)
    }

    fn is_adjective(self) -> bool {
        matches!(self, Tag::JJ | Tag::JJR | Tag::JJS)
    }

    /// Function-word tags: a capital letter does not make these a name.
    fn is_closed(self) -> bool {
        matches!(
            self,
            Tag::CC
                | Tag::CD
                | Tag::DT
                | Tag::EX
                | Tag::IN
                | Tag::MD
                | Tag::PDT
                | Tag::POS
                | Tag::PRP
                | Tag::PRPS
                | Tag::RP
                | Tag::TO
                | Tag::WDT
                | Tag::WP
                | Tag::WPS
                | Tag::WRB
                | Tag::UH
        )
    }

    fn is_break(self) -> bool {
        matches!(self, Tag::Comma | Tag::Period | Tag::Colon)
    }

    fn class(self) -> WordClass {
        match self {
            Tag::NN | Tag::NNS => WordClass::Noun,
            Tag::NNP | Tag::NNPS => WordClass::ProperNoun,
            Tag::JJ | Tag::JJR | Tag::JJS => WordClass::Adjective,
            Tag::VB | Tag::VBD | Tag::VBG | Tag::VBN | Tag::VBP | Tag::VBZ | Tag::MD => {
                WordClass::Verb
            }
            Tag::RB | Tag::RBR | Tag::RBS | Tag::WRB => WordClass::Adverb,
            Tag::PRP | Tag::PRPS | Tag::WP | Tag::WPS | Tag::EX => WordClass::Pronoun,
            Tag::CD => WordClass::Numeral,
            Tag::CC => WordClass::Conjunction,
            Tag::IN | Tag::TO | Tag::RP => WordClass::Adposition,
            Tag::DT | Tag::PDT | Tag::WDT => WordClass::Determiner,
            Tag::UH => WordClass::Interjection,
            _ => WordClass::Other,
        }
    }
}

// ---------------------------------------------------------------------------
// Lexicon storage

/// FNV-1a: the lexicon's keys are short words, and the map is only read.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type WordMap<V> = HashMap<Box<str>, V, BuildHasherDefault<Fnv>>;

// ---------------------------------------------------------------------------
// Contextual rules

/// The condition of a contextual rule; the names are Brill's templates.
#[derive(Debug, Clone)]
enum Cond {
    PrevTag(Tag),
    NextTag(Tag),
    Prev2Tag(Tag),
    Next2Tag(Tag),
    Prev1or2Tag(Tag),
    Next1or2Tag(Tag),
    Prev1or2or3Tag(Tag),
    Next1or2or3Tag(Tag),
    SurroundTag(Tag, Tag),
    CurWd(Box<str>),
    PrevWd(Box<str>),
    NextWd(Box<str>),
    Prev1or2Wd(Box<str>),
    Next1or2Wd(Box<str>),
    Prev1or2or3Wd(Box<str>),
    Next1or2or3Wd(Box<str>),
    /// Previous word is x and tagged y.
    PrevWdTag(Box<str>, Tag),
    /// Next word is x and tagged y.
    NextWdTag(Box<str>, Tag),
    /// Previous tag is x and this word is y.
    WdPrevTag(Tag, Box<str>),
    /// This word is x and the next tag is y.
    WdNextTag(Box<str>, Tag),
    /// This word is x and the word two after is y.
    WdAnd2Aft(Box<str>, Box<str>),
    /// The tag two before is x and this word is y.
    WdAnd2TagBfr(Tag, Box<str>),
    /// This word is x and the tag two after is y.
    WdAnd2TagAft(Box<str>, Tag),
    /// Previous word is x and this word is y.
    LBigram(Box<str>, Box<str>),
    /// This word is x and the next word is y.
    RBigram(Box<str>, Box<str>),
    /// The tags two before and one before are x and y.
    PrevBigram(Tag, Tag),
    /// The tags one after and two after are x and y.
    NextBigram(Tag, Tag),
}

#[derive(Debug, Clone)]
struct Rule {
    /// `None` for Brill's `*` (any tag).
    from: Option<Tag>,
    to: Tag,
    cond: Cond,
}

/// Number of boundary slots (`STAART`) on each side of a headline: the
/// widest template looks three words away.
const PAD: usize = 3;

impl Cond {
    fn holds(&self, s: &[Slot<'_>], i: usize) -> bool {
        let tag = |k: usize| s[k].tag;
        let wd = |k: usize, x: &str| s[k].is_word(x);
        match self {
            Cond::PrevTag(x) => tag(i - 1) == *x,
            Cond::NextTag(x) => tag(i + 1) == *x,
            Cond::Prev2Tag(x) => tag(i - 2) == *x,
            Cond::Next2Tag(x) => tag(i + 2) == *x,
            Cond::Prev1or2Tag(x) => tag(i - 1) == *x || tag(i - 2) == *x,
            Cond::Next1or2Tag(x) => tag(i + 1) == *x || tag(i + 2) == *x,
            Cond::Prev1or2or3Tag(x) => tag(i - 1) == *x || tag(i - 2) == *x || tag(i - 3) == *x,
            Cond::Next1or2or3Tag(x) => tag(i + 1) == *x || tag(i + 2) == *x || tag(i + 3) == *x,
            Cond::SurroundTag(x, y) => tag(i - 1) == *x && tag(i + 1) == *y,
            Cond::CurWd(x) => wd(i, x),
            Cond::PrevWd(x) => wd(i - 1, x),
            Cond::NextWd(x) => wd(i + 1, x),
            Cond::Prev1or2Wd(x) => wd(i - 1, x) || wd(i - 2, x),
            Cond::Next1or2Wd(x) => wd(i + 1, x) || wd(i + 2, x),
            Cond::Prev1or2or3Wd(x) => wd(i - 1, x) || wd(i - 2, x) || wd(i - 3, x),
            Cond::Next1or2or3Wd(x) => wd(i + 1, x) || wd(i + 2, x) || wd(i + 3, x),
            Cond::PrevWdTag(x, y) => wd(i - 1, x) && tag(i - 1) == *y,
            Cond::NextWdTag(x, y) => wd(i + 1, x) && tag(i + 1) == *y,
            Cond::WdPrevTag(x, y) => tag(i - 1) == *x && wd(i, y),
            Cond::WdNextTag(x, y) => wd(i, x) && tag(i + 1) == *y,
            Cond::WdAnd2Aft(x, y) => wd(i, x) && wd(i + 2, y),
            Cond::WdAnd2TagBfr(x, y) => tag(i - 2) == *x && wd(i, y),
            Cond::WdAnd2TagAft(x, y) => wd(i, x) && tag(i + 2) == *y,
            Cond::LBigram(x, y) => wd(i - 1, x) && wd(i, y),
            Cond::RBigram(x, y) => wd(i, x) && wd(i + 1, y),
            Cond::PrevBigram(x, y) => tag(i - 2) == *x && tag(i - 1) == *y,
            Cond::NextBigram(x, y) => tag(i + 1) == *x && tag(i + 2) == *y,
        }
    }
}

impl Cond {
    /// Whether the condition looks at the headline's start (Brill's
    /// `STAART` before the word): such rules model a capitalised first word
    /// of running text, which [`EnglishTagger::lexical_tag`] already read.
    fn looks_at_start(&self) -> bool {
        let start = |t: &Tag| *t == Tag::Start;
        let staart = |w: &str| w == "STAART";
        match self {
            Cond::PrevTag(x)
            | Cond::Prev2Tag(x)
            | Cond::Prev1or2Tag(x)
            | Cond::Prev1or2or3Tag(x) => start(x),
            Cond::SurroundTag(x, _) | Cond::WdPrevTag(x, _) | Cond::WdAnd2TagBfr(x, _) => start(x),
            Cond::PrevBigram(x, y) => start(x) || start(y),
            Cond::PrevWd(x) | Cond::Prev1or2Wd(x) | Cond::Prev1or2or3Wd(x) => staart(x),
            Cond::PrevWdTag(x, _) | Cond::LBigram(x, _) => staart(x),
            _ => false,
        }
    }
}

/// Parses one rule line; the error is a message without the location.
/// `Ok(None)` for a rule with more arguments than its template takes.
fn parse_rule(line: &str) -> std::result::Result<Option<Rule>, String> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 4 {
        return Err(format!(
            "expected \"FROM TO TEMPLATE x [y]\", found {} fields",
            f.len()
        ));
    }
    let tag = |s: &str| -> std::result::Result<Tag, String> {
        if s == "STAART" {
            return Ok(Tag::Start);
        }
        Tag::parse(s).ok_or_else(|| format!("unknown tag {s:?}"))
    };
    let from = if f[0] == "*" { None } else { Some(tag(f[0])?) };
    let to = tag(f[1])?;
    let template = f[2].to_ascii_uppercase();
    let two = matches!(
        template.as_str(),
        "SURROUNDTAG"
            | "PREVWDTAG"
            | "NEXTWDTAG"
            | "WDPREVTAG"
            | "WDNEXTTAG"
            | "WDAND2AFT"
            | "WDAND2TAGBFR"
            | "WDAND2TAGAFT"
            | "LBIGRAM"
            | "RBIGRAM"
            | "PREVBIGRAM"
            | "NEXTBIGRAM"
    );
    let want = if two { 5 } else { 4 };
    if f.len() < want {
        return Err(format!(
            "template {template} takes {} argument(s), found {}",
            want - 3,
            f.len() - 3
        ));
    }
    if f.len() > want {
        // One shipped rule has an extra word (`NN PRP PREVWD are mine`);
        // textblob reads it as "after `are`", which turns any noun after
        // `are` into a pronoun. Its intent is unclear: it is not used.
        return Ok(None);
    }
    let x = f[3];
    let y = f.get(4).copied().unwrap_or("");
    let w = |s: &str| -> Box<str> { s.into() };
    let cond = match template.as_str() {
        "PREVTAG" => Cond::PrevTag(tag(x)?),
        "NEXTTAG" => Cond::NextTag(tag(x)?),
        "PREV2TAG" => Cond::Prev2Tag(tag(x)?),
        "NEXT2TAG" => Cond::Next2Tag(tag(x)?),
        "PREV1OR2TAG" => Cond::Prev1or2Tag(tag(x)?),
        "NEXT1OR2TAG" => Cond::Next1or2Tag(tag(x)?),
        "PREV1OR2OR3TAG" => Cond::Prev1or2or3Tag(tag(x)?),
        "NEXT1OR2OR3TAG" => Cond::Next1or2or3Tag(tag(x)?),
        "SURROUNDTAG" => Cond::SurroundTag(tag(x)?, tag(y)?),
        "CURWD" => Cond::CurWd(w(x)),
        "PREVWD" => Cond::PrevWd(w(x)),
        "NEXTWD" => Cond::NextWd(w(x)),
        "PREV1OR2WD" => Cond::Prev1or2Wd(w(x)),
        "NEXT1OR2WD" => Cond::Next1or2Wd(w(x)),
        "PREV1OR2OR3WD" => Cond::Prev1or2or3Wd(w(x)),
        "NEXT1OR2OR3WD" => Cond::Next1or2or3Wd(w(x)),
        "PREVWDTAG" => Cond::PrevWdTag(w(x), tag(y)?),
        "NEXTWDTAG" => Cond::NextWdTag(w(x), tag(y)?),
        "WDPREVTAG" => Cond::WdPrevTag(tag(x)?, w(y)),
        "WDNEXTTAG" => Cond::WdNextTag(w(x), tag(y)?),
        "WDAND2AFT" => Cond::WdAnd2Aft(w(x), w(y)),
        "WDAND2TAGBFR" => Cond::WdAnd2TagBfr(tag(x)?, w(y)),
        "WDAND2TAGAFT" => Cond::WdAnd2TagAft(w(x), tag(y)?),
        "LBIGRAM" => Cond::LBigram(w(x), w(y)),
        "RBIGRAM" => Cond::RBigram(w(x), w(y)),
        "PREVBIGRAM" => Cond::PrevBigram(tag(x)?, tag(y)?),
        "NEXTBIGRAM" => Cond::NextBigram(tag(x)?, tag(y)?),
        _ => return Err(format!("unknown template {:?}", f[2])),
    };
    Ok(Some(Rule { from, to, cond }))
}

// ---------------------------------------------------------------------------
// Slots: the words of one headline while it is being tagged

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caps {
    /// No upper-case letter.
    Lower,
    /// First letter upper case, the others lower case (`Brexit`).
    Initial,
    /// Two or more letters, all upper case (`UK`, `FCA`).
    Upper,
    /// Upper case after the first letter, not all (`iPhone`, `MPs`, `McDonald`).
    Mixed,
}

fn caps(w: &str) -> Caps {
    let mut letters = 0usize;
    let mut upper = 0usize;
    let mut first_upper = false;
    let mut inner_upper = false;
    for c in w.chars().filter(|c| c.is_alphabetic()) {
        let u = c.is_uppercase();
        if letters == 0 {
            first_upper = u;
        } else if u {
            inner_upper = true;
        }
        letters += 1;
        upper += usize::from(u);
    }
    if upper == 0 {
        Caps::Lower
    } else if letters >= 2 && upper == letters {
        Caps::Upper
    } else if inner_upper {
        Caps::Mixed
    } else if first_upper {
        Caps::Initial
    } else {
        Caps::Lower
    }
}

#[derive(Debug, Clone)]
struct Slot<'a> {
    /// The word as the rules see it: curly apostrophes made straight.
    word: Cow<'a, str>,
    /// Lower-case form when it differs from `word`.
    lower: Option<String>,
    tag: Tag,
    /// Index of the caller's token; `usize::MAX` for the boundary slots.
    token: usize,
    /// The word itself, not a clitic split off it.
    host: bool,
    /// Starts the headline or a sentence (after `.` `?` `!` or a kicker's
    /// `|`), so its capital says nothing.
    initial: bool,
    /// Follows a colon. The Guardian writes lower case after a colon
    /// (`Bank fraud: couple lose £43,000`), so a capital there marks a name
    /// (`Tom Watson: Labour would...`), but a function word or a verb is one
    /// anyway (`Jim Cramer: A better way`, `Cramer: Do some trimming`).
    after_colon: bool,
    caps: Caps,
    /// Found in the lexicon (as written or in lower case).
    known: bool,
    /// The tag before the contextual rules.
    lex_tag: Tag,
    /// Tagged by the unknown-word heuristic for hyphenated words.
    hyphen_guess: bool,
}

impl<'a> Slot<'a> {
    fn boundary() -> Slot<'a> {
        Slot {
            word: Cow::Borrowed("STAART"),
            lower: None,
            tag: Tag::Start,
            token: usize::MAX,
            host: true,
            initial: false,
            after_colon: false,
            caps: Caps::Upper,
            known: true,
            lex_tag: Tag::Start,
            hyphen_guess: false,
        }
    }

    /// Whether a rule's word `x` is this word. The first word of a clause
    /// also matches in lower case (Brill's rules are mostly lower case).
    fn is_word(&self, x: &str) -> bool {
        self.word == x || ((self.initial || self.after_colon) && self.lower.as_deref() == Some(x))
    }

    fn lower(&self) -> &str {
        self.lower.as_deref().unwrap_or(&self.word)
    }
}

/// Splits a clitic off a word (apostrophes already straight): the host and
/// the clitic with its lexicon tag.
fn split_clitic(w: &str) -> Option<(usize, &'static str, Tag)> {
    let lower_end = |suffix: &str| {
        w.len() > suffix.len()
            && w.is_char_boundary(w.len() - suffix.len())
            && w[w.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
            && w[..w.len() - suffix.len()]
                .chars()
                .any(|c| c.is_alphanumeric())
    };
    const CLITICS: [(&str, Tag); 7] = [
        ("n't", Tag::RB),
        ("'s", Tag::POS),
        ("'re", Tag::VBP),
        ("'ve", Tag::VBP),
        ("'ll", Tag::MD),
        ("'m", Tag::VBP),
        ("'d", Tag::MD),
    ];
    for (c, t) in CLITICS {
        if lower_end(c) {
            return Some((w.len() - c.len(), c, t));
        }
    }
    // Plural possessive kept by `tokens`: `MPs'`.
    if w.len() > 2 && w.ends_with('\'') && w[..w.len() - 1].ends_with(['s', 'S']) {
        return Some((w.len() - 1, "'", Tag::POS));
    }
    None
}

fn straight_apostrophes(w: &str) -> Cow<'_, str> {
    if w.contains('’') {
        Cow::Owned(w.replace('’', "'"))
    } else {
        Cow::Borrowed(w)
    }
}

/// Tag of a token without letters or digits (punctuation, breaks).
fn punct_tag(w: &str) -> Option<Tag> {
    let c = w.chars().next()?;
    Some(match c {
        ',' => Tag::Comma,
        '.' | '?' | '!' => Tag::Period,
        ':' | ';' | '|' | '-' | '–' | '—' | '‒' | '―' | '…' => Tag::Colon,
        '(' | '[' | '{' => Tag::LParen,
        ')' | ']' | '}' => Tag::RParen,
        '"' | '“' | '”' | '\'' | '‘' | '’' | '`' => Tag::Quote,
        '$' | '£' | '€' | '¥' => Tag::Dollar,
        '#' => Tag::Hash,
        '&' => Tag::CC,
        _ => return None,
    })
}

/// Whether a break token starts a new sentence for capitalisation.
fn starts_clause(w: &str) -> bool {
    matches!(w, "." | "?" | "!" | "|" | "…")
}

// ---------------------------------------------------------------------------
// Unknown words

const CURRENCY_PREFIXES: [&str; 13] = [
    "US$", "$US", "A$", "AU$", "C$", "HK$", "NZ$", "S$", "R$", "$", "£", "€", "¥",
];

/// `2019`, `£100m`, `$US400m`, `5.9%`, `600,000`, `1970s`, `24/7`.
fn is_number(w: &str) -> bool {
    let mut s = w.trim_start_matches(['-', '+', '~', '−']);
    for p in CURRENCY_PREFIXES {
        if let Some(rest) = s.strip_prefix(p) {
            s = rest;
            break;
        }
    }
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, ',' | '.' | '/' | ':')))
        .unwrap_or(s.len());
    if digits_end == 0 || !s.as_bytes()[0].is_ascii_digit() {
        return false;
    }
    let suffix = s[digits_end..].to_ascii_lowercase();
    matches!(
        suffix.as_str(),
        "" | "%" | "m" | "bn" | "k" | "tn" | "trn" | "mn" | "p" | "s" | "x" | "pc" | "bp" | "bps"
    )
}

/// `1st`, `20th`, `3rd`.
fn is_ordinal(w: &str) -> bool {
    let l = w.to_ascii_lowercase();
    ["st", "nd", "rd", "th"].iter().any(|s| {
        l.strip_suffix(s)
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    })
}

const NUMBER_WORDS: [&str; 14] = [
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "a", "half",
    "twenty", "hundred",
];
const FRACTIONS: [&str; 12] = [
    "half", "halves", "third", "thirds", "quarter", "quarters", "fifth", "fifths", "tenth",
    "tenths", "fourth", "fourths",
];

fn ends_plural(w: &str) -> bool {
    w.len() > 3
        && w.ends_with('s')
        && !w.ends_with("ss")
        && !w.ends_with("us")
        && !w.ends_with("is")
        && !w.ends_with("ous")
}

// ---------------------------------------------------------------------------
// Noun lemmas

/// Plurals the suffix rules get wrong, and nouns that stay as they are.
const IRREGULAR_PLURALS: [(&str, &str); 68] = [
    ("men", "man"),
    ("women", "woman"),
    ("children", "child"),
    ("people", "people"),
    ("feet", "foot"),
    ("teeth", "tooth"),
    ("geese", "goose"),
    ("mice", "mouse"),
    ("oxen", "ox"),
    ("data", "data"),
    ("media", "media"),
    ("criteria", "criterion"),
    ("phenomena", "phenomenon"),
    ("indices", "index"),
    ("appendices", "appendix"),
    ("analyses", "analysis"),
    ("crises", "crisis"),
    ("theses", "thesis"),
    ("diagnoses", "diagnosis"),
    ("hypotheses", "hypothesis"),
    ("syntheses", "synthesis"),
    ("bases", "base"),
    ("series", "series"),
    ("species", "species"),
    ("news", "news"),
    ("police", "police"),
    ("staff", "staff"),
    ("aircraft", "aircraft"),
    ("sheep", "sheep"),
    ("cattle", "cattle"),
    ("headquarters", "headquarters"),
    ("means", "means"),
    ("lives", "life"),
    ("wives", "wife"),
    ("knives", "knife"),
    ("leaves", "leaf"),
    ("halves", "half"),
    ("shelves", "shelf"),
    ("wolves", "wolf"),
    ("thieves", "thief"),
    ("loaves", "loaf"),
    ("calves", "calf"),
    ("selves", "self"),
    ("stimuli", "stimulus"),
    ("alumni", "alumnus"),
    ("fungi", "fungus"),
    ("nuclei", "nucleus"),
    ("bacteria", "bacterium"),
    ("memoranda", "memorandum"),
    ("curricula", "curriculum"),
    ("quizzes", "quiz"),
    ("buses", "bus"),
    ("gases", "gas"),
    ("earnings", "earnings"),
    ("savings", "savings"),
    ("proceeds", "proceeds"),
    ("goods", "goods"),
    ("arms", "arms"),
    ("thanks", "thanks"),
    ("clothes", "clothes"),
    ("outskirts", "outskirts"),
    ("premises", "premises"),
    ("surroundings", "surroundings"),
    ("whereabouts", "whereabouts"),
    ("lodgings", "lodgings"),
    ("belongings", "belongings"),
    ("remains", "remains"),
    ("tidings", "tidings"),
];

// ---------------------------------------------------------------------------
// The tagger

/// Brill's tagger with its lexicon and contextual rules, and the headline
/// conventions described in the module documentation. Loaded once, shared
/// between threads (`Send + Sync`); tagging does not allocate much.
#[derive(Clone)]
pub struct EnglishTagger {
    lexicon: WordMap<Tag>,
    rules: Vec<Rule>,
}

impl std::fmt::Debug for EnglishTagger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnglishTagger")
            .field("lexicon_entries", &self.lexicon.len())
            .field("rules", &self.rules.len())
            .finish()
    }
}

impl EnglishTagger {
    /// Loads `en-lexicon.txt` and `en-context.txt` from `dir`.
    pub fn load(dir: &Path) -> Result<EnglishTagger> {
        let lex_path = dir.join(LEXICON_FILE);
        let ctx_path = dir.join(CONTEXT_FILE);
        let lexicon = read_text(&lex_path)?;
        let context = read_text(&ctx_path)?;
        Ok(EnglishTagger {
            lexicon: parse_lexicon(&lexicon, &lex_path)?,
            rules: parse_context(&context, &ctx_path)?,
        })
    }

    /// Builds a tagger from the two files' contents (errors name them as
    /// `en-lexicon.txt` and `en-context.txt`).
    pub fn from_strings(lexicon: &str, context: &str) -> Result<EnglishTagger> {
        Ok(EnglishTagger {
            lexicon: parse_lexicon(lexicon, Path::new(LEXICON_FILE))?,
            rules: parse_context(context, Path::new(CONTEXT_FILE))?,
        })
    }

    /// Number of lexicon entries and contextual rules.
    pub fn size(&self) -> (usize, usize) {
        (self.lexicon.len(), self.rules.len())
    }

    fn lex(&self, w: &str) -> Option<Tag> {
        self.lexicon.get(w).copied()
    }

    /// Penn Treebank tags, one per token. Tokens keep their case and any
    /// clitic (`Nissan's`, `won't`); break tokens (`,` `:` `.` `?` `|` `–`)
    /// as [`tokens`] yields them help: they end noun phrases and a capital
    /// after `:` `.` `?` `!` `|` starts a clause.
    ///
    /// Unknown words, in order: numbers (`2019`, `£100m`, `5.9%`, `1970s`)
    /// CD, ordinals (`20th`) JJ; hyphenated words are NNP when their parts
    /// are capitalised or one is a number with a capitalised part
    /// (`X-Trail`, `Covid-19`), CD for fractions (`one-third`), NNS when the
    /// last part is plural (`lay-offs`), else JJ (Penn's rule for
    /// hyphenated modifiers; a hyphenated word not followed by a noun,
    /// adjective or number becomes a noun after the rules); a word with
    /// digits and letters is NNP if it has a capital (`A321`, `Plus500`),
    /// else NN; a word with a capital is NNP; then suffixes: -ing VBG, -ly
    /// RB, -ed VBN, plural -s NNS, -able -ible -ful -ous -ive -less -ic -al
    /// -ish -esque JJ, -ise -ize -ify VB, else NN.
    pub fn tag(&self, tokens: &[&str]) -> Vec<&'static str> {
        let slots = self.tagged_slots(tokens);
        hosts(&slots)
            .into_iter()
            .map(|(i, _)| slots[i].tag.name())
            .collect()
    }

    /// One analysis per token: word class from the tag, lemma (singular
    /// lower-case noun, proper nouns as written, acronyms keep their capitals:
    /// `MPs` -> `MP`), genitive for a noun whose possessive clitic is
    /// attached (`Nissan's`, `bosses’`, `MPs'`). `parts` is always empty:
    /// English compounds are separate tokens.
    pub fn analyse(&self, tokens: &[&str]) -> Vec<WordAnalysis> {
        let slots = self.tagged_slots(tokens);
        hosts(&slots)
            .into_iter()
            .zip(tokens)
            .map(|((i, possessive), token)| self.analysis(&slots[i], possessive, token))
            .collect()
    }

    fn analysis(&self, s: &Slot<'_>, possessive: bool, token: &str) -> WordAnalysis {
        let host: &str = &s.word;
        let has_alnum = host.chars().any(|c| c.is_alphanumeric());
        let lemma = if !has_alnum || s.tag == Tag::CD {
            token.to_string()
        } else {
            match s.tag {
                Tag::NNP | Tag::NNPS => host.to_string(),
                Tag::NN | Tag::NNS => {
                    if matches!(s.caps, Caps::Upper | Caps::Mixed) {
                        // Acronyms keep their capitals: `MPs` -> `MP`, `CEOs` -> `CEO`.
                        match host.strip_suffix('s') {
                            Some(stem) if s.tag == Tag::NNS && stem.len() >= 2 => stem.to_string(),
                            _ => host.to_string(),
                        }
                    } else if s.tag == Tag::NNS {
                        self.singular(s.lower())
                    } else {
                        s.lower().to_string()
                    }
                }
                _ => {
                    let lower = s.lower().to_string();
                    match lower.as_str() {
                        "wo" => "will".to_string(),
                        "ca" => "can".to_string(),
                        "sha" => "shall".to_string(),
                        _ => lower,
                    }
                }
            }
        };
        WordAnalysis {
            lemma,
            class: s.tag.class(),
            parts: Vec::new(),
            genitive: possessive && s.tag.is_noun(),
        }
    }

    /// The singular of a lower-case plural noun: irregular plurals, then the
    /// first suffix rule whose result the lexicon knows as a noun, then the
    /// suffix rules alone.
    fn singular(&self, w: &str) -> String {
        if let Some((_, s)) = IRREGULAR_PLURALS.iter().find(|(p, _)| *p == w) {
            return (*s).to_string();
        }
        if let Some(stem) = w.strip_suffix("men") {
            let candidate = format!("{stem}man");
            if stem.is_empty() || self.is_noun_word(&candidate) {
                return candidate;
            }
        }
        if !w.ends_with('s') || w.ends_with("ss") || w.ends_with("ics") || w.len() < 3 {
            return w.to_string();
        }
        let mut candidates: Vec<String> = Vec::with_capacity(8);
        candidates.push(w[..w.len() - 1].to_string());
        if let Some(stem) = w.strip_suffix("es") {
            candidates.push(stem.to_string());
        }
        if let Some(stem) = w.strip_suffix("ies") {
            candidates.push(format!("{stem}y"));
        }
        if let Some(stem) = w.strip_suffix("ves") {
            candidates.push(format!("{stem}f"));
            candidates.push(format!("{stem}fe"));
        }
        if let Some(stem) = w.strip_suffix("ses") {
            candidates.push(format!("{stem}sis"));
        }
        if let Some(stem) = w.strip_suffix("ices") {
            candidates.push(format!("{stem}ex"));
            candidates.push(format!("{stem}ix"));
        }
        if let Some(found) = candidates.into_iter().find(|c| self.is_noun_word(c)) {
            return found;
        }
        if w.len() > 4 {
            if let Some(stem) = w.strip_suffix("ies") {
                return format!("{stem}y");
            }
        }
        for suffix in ["sses", "shes", "ches", "xes", "zzes"] {
            if w.ends_with(suffix) {
                return w[..w.len() - 2].to_string();
            }
        }
        if w.ends_with("us") || w.ends_with("is") {
            return w.to_string();
        }
        w[..w.len() - 1].to_string()
    }

    fn is_noun_word(&self, w: &str) -> bool {
        matches!(self.lex(w), Some(Tag::NN))
    }

    /// Whether the lexicon lets this lower-case word be a verb: it or a form
    /// made from it is tagged as a verb (`crash`: `crashed` VBD; `shelves`:
    /// `shelve` VB).
    fn can_be_verb(&self, w: &str) -> bool {
        let verb = |f: &str| self.lex(f).is_some_and(|t| t.is_verb() && t != Tag::MD);
        if verb(w) {
            return true;
        }
        let mut stems: Vec<String> = Vec::with_capacity(4);
        if ends_plural(w) || w.ends_with("es") {
            stems.push(w[..w.len() - 1].to_string());
            if let Some(s) = w.strip_suffix("es") {
                stems.push(s.to_string());
            }
            if let Some(s) = w.strip_suffix("ies") {
                stems.push(format!("{s}y"));
            }
        } else {
            stems.push(w.to_string());
        }
        stems.iter().any(|s| {
            let e = s.strip_suffix('e').unwrap_or(s);
            // `ban` -> `banned`, `slip` -> `slipping`.
            let doubled = s
                .chars()
                .last()
                .filter(|c| c.is_ascii_alphabetic() && !"aeiouwxy".contains(*c))
                .map(|c| format!("{s}{c}"));
            verb(s)
                || verb(&format!("{s}ed"))
                || verb(&format!("{s}d"))
                || verb(&format!("{e}ing"))
                || verb(&format!("{s}s"))
                || verb(&format!("{s}es"))
                || doubled.is_some_and(|d| verb(&format!("{d}ed")) || verb(&format!("{d}ing")))
        })
    }

    // -- tagging ------------------------------------------------------------

    fn tagged_slots<'a>(&self, tokens: &[&'a str]) -> Vec<Slot<'a>> {
        let (mut slots, informative) = self.slots(tokens);
        self.apply_rules(&mut slots);
        self.repair(&mut slots, informative);
        slots
    }

    /// The slots of a headline with their lexicon or unknown-word tags,
    /// padded with boundary slots.
    fn slots<'a>(&self, tokens: &[&'a str]) -> (Vec<Slot<'a>>, bool) {
        let mut slots: Vec<Slot<'a>> = Vec::with_capacity(tokens.len() + 2 * PAD + 4);
        for _ in 0..PAD {
            slots.push(Slot::boundary());
        }
        let mut initial = true;
        let mut after_colon = false;
        for (ti, &token) in tokens.iter().enumerate() {
            if !token.chars().any(|c| c.is_alphanumeric()) {
                let tag = punct_tag(token)
                    .or_else(|| self.lex(token))
                    .unwrap_or(Tag::SYM);
                slots.push(Slot {
                    word: Cow::Borrowed(token),
                    lower: None,
                    tag,
                    token: ti,
                    host: true,
                    initial: false,
                    after_colon: false,
                    caps: Caps::Lower,
                    known: true,
                    lex_tag: tag,
                    hyphen_guess: false,
                });
                if tag.is_break() {
                    initial = starts_clause(token);
                    after_colon = matches!(token, ":" | ";");
                }
                continue;
            }
            let word = straight_apostrophes(token);
            let (host, clitic): (Cow<'a, str>, Option<(&'static str, Tag)>) =
                match split_clitic(&word) {
                    Some((at, c, t)) => {
                        let host = match &word {
                            Cow::Borrowed(b) => Cow::Borrowed(&b[..at]),
                            Cow::Owned(o) => Cow::Owned(o[..at].to_string()),
                        };
                        (host, Some((c, t)))
                    }
                    None => (word, None),
                };
            let lower = host.to_lowercase();
            let c = caps(&host);
            slots.push(Slot {
                lower: (lower != *host).then_some(lower),
                word: host,
                tag: Tag::NN,
                token: ti,
                host: true,
                initial,
                after_colon,
                caps: c,
                known: false,
                lex_tag: Tag::NN,
                hyphen_guess: false,
            });
            if let Some((c, t)) = clitic {
                slots.push(Slot {
                    word: Cow::Borrowed(c),
                    lower: None,
                    tag: t,
                    token: ti,
                    host: false,
                    initial: false,
                    after_colon: false,
                    caps: Caps::Lower,
                    known: true,
                    lex_tag: t,
                    hyphen_guess: false,
                });
            }
            initial = false;
            after_colon = false;
        }
        for _ in 0..PAD {
            slots.push(Slot::boundary());
        }
        let informative = self.caps_informative(&slots);
        let n = slots.len();
        for s in slots.iter_mut().take(n - PAD).skip(PAD) {
            if !s.host || !s.word.chars().any(|c| c.is_alphanumeric()) {
                continue;
            }
            let (tag, hyphen_guess) = self.lexical_tag(s, informative);
            let known = self.lex(&s.word).is_some() || self.lex(s.lower()).is_some();
            s.tag = tag;
            s.lex_tag = tag;
            s.known = known;
            s.hyphen_guess = hyphen_guess;
        }
        // A clitic 's after a pronoun, wh-word or `there`/`here` is `is`/`has`.
        for i in PAD + 1..n - PAD {
            if !slots[i].host && slots[i].word == "'s" {
                let prev = &slots[i - 1];
                if matches!(
                    prev.tag,
                    Tag::PRP | Tag::EX | Tag::WP | Tag::WDT | Tag::WRB | Tag::DT
                ) || matches!(prev.lower(), "there" | "here" | "that" | "what" | "who")
                {
                    slots[i].tag = Tag::VBZ;
                }
            }
        }
        (slots, informative)
    }

    /// Whether a capital letter inside the headline marks a name: false for
    /// headlines in Title Case or ALL CAPS.
    fn caps_informative(&self, slots: &[Slot<'_>]) -> bool {
        let mut common = 0usize;
        let mut capitalised = 0usize;
        let mut letters_words = 0usize;
        let mut upper_words = 0usize;
        for s in slots.iter().filter(|s| s.host && s.token != usize::MAX) {
            if !s.word.chars().any(|c| c.is_alphabetic()) {
                continue;
            }
            letters_words += 1;
            if s.caps == Caps::Upper {
                upper_words += 1;
            }
            if s.initial || s.after_colon {
                continue;
            }
            // Known in lower case as a common word.
            if self.lex(s.lower()).is_some_and(|t| !t.is_proper()) {
                common += 1;
                if s.caps != Caps::Lower {
                    capitalised += 1;
                }
            }
        }
        let title_case = common >= 3 && capitalised * 4 >= common * 3;
        let all_caps = letters_words >= 3 && upper_words == letters_words;
        !(title_case || all_caps)
    }

    /// The tag from the lexicon, or from the unknown-word heuristics; and
    /// whether it is the hyphenated-word guess.
    fn lexical_tag(&self, s: &Slot<'_>, informative: bool) -> (Tag, bool) {
        let (tag, hyphen_guess) = self.lexicon_or_guess(s, informative);
        // Model numbers are names for us (`A321` is CD in the lexicon).
        if tag == Tag::CD
            && s.caps != Caps::Lower
            && s.word.chars().any(|c| c.is_ascii_digit())
            && !is_number(&s.word)
        {
            return (Tag::NNP, hyphen_guess);
        }
        (tag, hyphen_guess)
    }

    fn lexicon_or_guess(&self, s: &Slot<'_>, informative: bool) -> (Tag, bool) {
        let w: &str = &s.word;
        // Before the lexicon: its Twitter part has `2` and `4` as IN.
        if is_number(w) {
            return (Tag::CD, false);
        }
        let exact = self.lex(w);
        if s.caps == Caps::Lower {
            return match exact {
                Some(t) => (t, false),
                None => self.unknown_tag(s),
            };
        }
        if w == "I" {
            return (Tag::PRP, false);
        }
        let lower = s.lower();
        let low = self.lex(lower);
        // Acronyms: `UK`, `US` (not "us"), `ECB`; `CEO` stays a common noun.
        if informative
            && s.caps == Caps::Upper
            && w.chars().filter(|c| c.is_alphabetic()).count() >= 2
        {
            return match exact {
                Some(t) if t.is_noun() => (t, false),
                _ => {
                    if w.contains('-') {
                        self.unknown_tag(s)
                    } else {
                        (Tag::NNP, false)
                    }
                }
            };
        }
        if informative && !s.initial {
            // A capital inside a sentence-case headline: a name, unless the
            // word is a function word.
            return match low {
                // `May` in `Theresa May's successor` is a name, `A` is not;
                // after a colon neither is a verb (`Cramer: Do some trimming`).
                Some(t)
                    if t.is_closed()
                        && (s.after_colon || !exact.is_some_and(|e| e.is_proper())) =>
                {
                    (t, false)
                }
                Some(t) if s.after_colon && t.is_verb() => (t, false),
                Some(t) => {
                    if t == Tag::NNS || exact == Some(Tag::NNPS) {
                        (Tag::NNPS, false)
                    } else {
                        (Tag::NNP, false)
                    }
                }
                None => match exact {
                    Some(t) => (t, false),
                    None => self.unknown_tag(s),
                },
            };
        }
        // The first word of a clause, or any word of a Title Case headline.
        match (exact, low) {
            (_, Some(l)) if l.is_closed() => (l, false),
            (Some(e), Some(l)) if e.is_proper() => {
                if l.is_finite_verb() {
                    (e, false)
                } else {
                    (l, false)
                }
            }
            (Some(e), _) => (e, false),
            (None, Some(l)) => (l, false),
            (None, None) => self.unknown_tag(s),
        }
    }

    fn unknown_tag(&self, s: &Slot<'_>) -> (Tag, bool) {
        let w: &str = &s.word;
        if is_number(w) {
            return (Tag::CD, false);
        }
        if is_ordinal(w) {
            return (Tag::JJ, false);
        }
        let lower = s.lower();
        if w.contains('-') && w.trim_matches('-').contains('-') {
            return self.hyphen_tag(s);
        }
        let digit = w.chars().any(|c| c.is_ascii_digit());
        let letter = w.chars().any(|c| c.is_alphabetic());
        if digit && letter {
            return if s.caps == Caps::Lower {
                (Tag::NN, false)
            } else {
                (Tag::NNP, false)
            };
        }
        if s.caps != Caps::Lower {
            return (Tag::NNP, false);
        }
        (suffix_tag(lower), false)
    }

    fn hyphen_tag(&self, s: &Slot<'_>) -> (Tag, bool) {
        let w: &str = &s.word;
        let parts: Vec<&str> = w.split('-').filter(|p| !p.is_empty()).collect();
        let alpha: Vec<&str> = parts
            .iter()
            .copied()
            .filter(|p| p.chars().any(|c| c.is_alphabetic()))
            .collect();
        let capitalised = |p: &str| p.chars().next().is_some_and(|c| c.is_uppercase());
        let numeric_part = parts.iter().any(|p| p.bytes().all(|b| b.is_ascii_digit()));
        let all_caps_parts = !alpha.is_empty()
            && alpha.iter().all(|p| capitalised(p))
            && (!s.initial || alpha.len() >= 2);
        if all_caps_parts || (numeric_part && alpha.iter().any(|p| capitalised(p))) {
            return (Tag::NNP, false);
        }
        let lower = s.lower();
        let lparts: Vec<&str> = lower.split('-').filter(|p| !p.is_empty()).collect();
        let first = lparts.first().copied().unwrap_or("");
        let last = lparts.last().copied().unwrap_or("");
        if lparts.len() == 2
            && (NUMBER_WORDS.contains(&first) || first.bytes().all(|b| b.is_ascii_digit()))
            && FRACTIONS.contains(&last)
        {
            return (Tag::CD, false);
        }
        let last_tag = self.lex(last);
        if last.ends_with("ed") || matches!(last_tag, Some(Tag::VBN | Tag::VBD)) {
            return (Tag::JJ, false);
        }
        if last_tag == Some(Tag::NNS) || (last_tag.is_none() && ends_plural(last)) {
            return (Tag::NNS, true);
        }
        (Tag::JJ, true)
    }

    /// Applies the contextual rules in order, each over the whole headline
    /// from left to right. Each tag keeps a bit set of the positions that
    /// carry it, so a rule visits only the words it could change.
    fn apply_rules(&self, slots: &mut [Slot<'_>]) {
        let n = slots.len();
        let words = n.div_ceil(64);
        let mut at: Vec<u64> = vec![0; ALL_TAGS.len() * words];
        let bit = |i: usize| (i / 64, 1u64 << (i % 64));
        for (i, s) in slots.iter().enumerate().take(n - PAD).skip(PAD) {
            let (w, b) = bit(i);
            at[s.tag as usize * words + w] |= b;
        }
        for rule in &self.rules {
            let from = match rule.from {
                Some(f) if f == rule.to => continue,
                Some(f) => Some(f as usize),
                None => None,
            };
            for w in 0..words {
                let mut bits = match from {
                    Some(f) => at[f * words + w],
                    None => {
                        let lo = if w == 0 { PAD } else { 0 };
                        let mut m = u64::MAX << lo;
                        let hi = (n - PAD).saturating_sub(w * 64).min(64);
                        if hi < 64 {
                            m &= (1u64 << hi) - 1;
                        }
                        m
                    }
                };
                while bits != 0 {
                    let i = w * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let t = slots[i].tag;
                    if t == rule.to {
                        continue;
                    }
                    if rule.cond.holds(slots, i)
                        && self.move_allowed(&slots[i], rule.to)
                        && !(slots[i].initial
                            && slots[i].caps != Caps::Lower
                            && rule.cond.looks_at_start())
                    {
                        let (iw, ib) = bit(i);
                        at[t as usize * words + iw] &= !ib;
                        at[rule.to as usize * words + iw] |= ib;
                        slots[i].tag = rule.to;
                    }
                }
            }
        }
    }

    /// Brill's tagger changes a known word's tag only to a tag the word was
    /// seen with in training; the shipped lexicon keeps one tag per word, so
    /// the lexicon's word forms stand in for the lost tags: a word becomes a
    /// verb only if a verb form of it is known (`crash`: `crashed`), a noun
    /// only if a noun form is (`coffee` stays a noun after `to`), a name
    /// only if it has a capital. The first word of a clause keeps the
    /// reading [`Self::lexical_tag`] gave its capital (Brill's rules that
    /// turn a sentence-initial NNP into JJ or NN are about running text).
    fn move_allowed(&self, s: &Slot<'_>, to: Tag) -> bool {
        if !s.host {
            return true;
        }
        if s.initial && s.caps != Caps::Lower && s.tag.is_proper() && !to.is_proper() {
            return false;
        }
        if to.is_proper() {
            // `Weak GDP`, `No-deal Brexit`: a first word becomes a name only
            // if the lexicon knows it capitalised as one (`New York`).
            if s.initial && !s.tag.is_proper() && !self.lex(&s.word).is_some_and(|t| t.is_proper())
            {
                return false;
            }
            return s.caps != Caps::Lower || s.lex_tag.is_proper();
        }
        if to == Tag::WDT {
            return matches!(
                s.lower(),
                "that" | "which" | "what" | "whatever" | "whichever"
            );
        }
        if s.hyphen_guess && to.is_verb() {
            return false;
        }
        if !s.known || (s.tag.is_verb() && to.is_verb()) || (s.tag.is_noun() && to.is_noun()) {
            return true;
        }
        match to {
            Tag::MD => s.lex_tag == Tag::MD,
            Tag::VB | Tag::VBD | Tag::VBG | Tag::VBN | Tag::VBP | Tag::VBZ => {
                self.can_be_verb(s.lower())
            }
            // The lexicon's verbs are often nouns too (`pay`, `help`, `risk`)
            // and no word form tells: Brill's rules decide.
            Tag::NN | Tag::NNS => {
                s.lex_tag.is_adjective() || s.lex_tag.is_verb() || self.can_be_noun(s.lower())
            }
            _ => true,
        }
    }

    /// Whether the lexicon lets this lower-case word be a common noun.
    fn can_be_noun(&self, w: &str) -> bool {
        let noun = |f: &str| matches!(self.lex(f), Some(Tag::NN | Tag::NNS));
        if noun(w) || noun(&format!("{w}s")) || noun(&format!("{w}es")) {
            return true;
        }
        if ends_plural(w) {
            let mut stems = vec![w[..w.len() - 1].to_string()];
            if let Some(s) = w.strip_suffix("es") {
                stems.push(s.to_string());
            }
            if let Some(s) = w.strip_suffix("ies") {
                stems.push(format!("{s}y"));
            }
            return stems.iter().any(|s| matches!(self.lex(s), Some(Tag::NN)));
        }
        false
    }

    /// Headline repairs after Brill's rules.
    fn repair(&self, slots: &mut [Slot<'_>], informative: bool) {
        let n = slots.len();
        // Names made of common words: the capitalised word before a name
        // part whose lower-case form is a common word joins the name
        // (`Sports Direct`, `Wall Street`); so does a capitalised noun before
        // `of` + name (`Bank of England`).
        if informative {
            for i in PAD..n - PAD {
                let s = &slots[i];
                if !(s.host && s.caps != Caps::Lower && s.initial) {
                    continue;
                }
                if s.tag.is_closed() || s.tag.is_proper() {
                    continue;
                }
                let next = &slots[i + 1];
                let name_part = |x: &Slot<'_>| {
                    x.host
                        && !x.initial
                        && x.caps != Caps::Lower
                        && x.tag.is_proper()
                        && self.lex(x.lower()).is_some_and(|t| !t.is_proper())
                };
                let of_name = slots[i + 1].is_word("of")
                    && (slots[i + 2].tag.is_proper() && slots[i + 2].caps != Caps::Lower
                        || slots[i + 2].is_word("the")
                            && slots[i + 3].tag.is_proper()
                            && slots[i + 3].caps != Caps::Lower);
                // `Bank of England`, not `Cost of Brexit` or `Half of UK`.
                let name_head = self.lex(&s.word).is_some_and(|t| t.is_proper());
                if name_part(next) || (name_head && !s.tag.is_adjective() && of_name) {
                    slots[i].tag = if slots[i].tag == Tag::NNS {
                        Tag::NNPS
                    } else {
                        Tag::NNP
                    };
                }
            }
        }
        // A hyphenated guess that does not modify a following word is a noun.
        for i in PAD..n - PAD {
            if slots[i].hyphen_guess && slots[i].tag == Tag::JJ {
                let next = slots[i + 1].tag;
                if !(next.is_noun()
                    || next.is_adjective()
                    || next == Tag::CD
                    || slots[i + 1].hyphen_guess)
                {
                    slots[i].tag = Tag::NN;
                }
            }
        }
        self.repair_noun_phrases(slots);
        self.repair_verbless(slots);
    }

    /// A headline clause without any verb usually has one that the lexicon
    /// calls a noun: `Asos shares crash 38%`, `Airbus shelves plans`, `as
    /// coronavirus crisis hits`. A clause runs to a break or to a
    /// subordinator (`as`, `after`, `while`...); one that ends in `:` or `|`
    /// is a title or kicker and is left alone. In the clause's first noun
    /// phrase, a lower-case noun that the lexicon lets be a verb, right after
    /// a noun it agrees with (`shelves` after singular `Airbus`, `crash`
    /// after plural `shares`), becomes VBZ or VBP; of several, the last. In
    /// a clause without a subordinator the phrase's last word is not taken
    /// (`Tesco price cuts` is a noun phrase).
    fn repair_verbless(&self, slots: &mut [Slot<'_>]) {
        let n = slots.len();
        let mut start = PAD;
        while start < n - PAD {
            let mut end = start;
            while end < n - PAD
                && !slots[end].tag.is_break()
                && !(end > start && subordinator(&slots[end]).is_some())
            {
                end += 1;
            }
            let title = end < n - PAD && matches!(&*slots[end].word, ":" | "|");
            if end > start && !title && !slots[start..end].iter().any(|s| s.tag.is_finite_verb()) {
                self.repair_clause(slots, start, end);
            }
            start = if end < n - PAD && slots[end].tag.is_break() {
                end + 1
            } else {
                end
            };
        }
    }

    fn repair_clause(&self, slots: &mut [Slot<'_>], start: usize, end: usize) {
        let kind = subordinator(&slots[start]);
        let mut k = if kind.is_some() || slots[start].tag == Tag::CC {
            start + 1
        } else {
            start
        };
        // Determiners and modifiers before the first noun.
        while k < end
            && !slots[k].tag.is_noun()
            && (matches!(slots[k].tag, Tag::DT | Tag::PRPS | Tag::CD | Tag::POS)
                || slots[k].tag.is_adjective())
        {
            k += 1;
        }
        if k >= end || !slots[k].tag.is_noun() {
            return;
        }
        // The first noun phrase, coordination included (`film and TV`).
        let in_np = |t: Tag| t.is_noun() || t.is_adjective() || matches!(t, Tag::CD | Tag::POS);
        let mut run_end = k;
        while run_end < end
            && (in_np(slots[run_end].tag)
                || (slots[run_end].tag == Tag::CC
                    && run_end + 1 < end
                    && in_np(slots[run_end + 1].tag)))
        {
            run_end += 1;
        }
        // A predicate right after the phrase (`Sonos to deny`, `payout
        // unveiled`, `sector struggling`): the clause has its verb.
        if run_end < end && (slots[run_end].tag == Tag::TO || slots[run_end].tag.is_verb()) {
            return;
        }
        // The phrase's last word may be the verb only when the clause must
        // have one (`as coronavirus crisis hits`) or goes on after it.
        let must_have_verb = kind == Some(Subordinator::Clause);
        let last_allowed = if must_have_verb || run_end < end {
            run_end
        } else {
            run_end - 1
        };
        let mut best = None;
        for j in k + 1..last_allowed {
            let s = &slots[j];
            let prev = &slots[j - 1];
            if !(s.host && s.caps == Caps::Lower && matches!(s.tag, Tag::NN | Tag::NNS)) {
                continue;
            }
            if !(prev.host && prev.tag.is_noun()) {
                continue;
            }
            let third_person = ends_plural(s.lower());
            let agrees = if third_person {
                matches!(prev.tag, Tag::NN | Tag::NNP)
            } else {
                matches!(prev.tag, Tag::NNS | Tag::NNPS)
            };
            if agrees && (must_have_verb || self.can_be_verb(s.lower())) {
                best = Some((j, third_person));
            }
        }
        if let Some((j, third_person)) = best {
            slots[j].tag = if third_person { Tag::VBZ } else { Tag::VBP };
        }
    }

    /// Verbs where no verb can be: right after an article a finite verb is
    /// a noun (`a hit`) and a participle an adjective (`a missed bill`); a
    /// bare verb between a modifier and a noun is a noun (`$55bn pay deal`).
    fn repair_noun_phrases(&self, slots: &mut [Slot<'_>]) {
        let n = slots.len();
        for i in PAD + 1..n - PAD {
            let prev = &slots[i - 1];
            let s = &slots[i];
            if !s.host || !s.known {
                continue;
            }
            let article =
                prev.host && matches!(prev.lower(), "a" | "an" | "the" | "every" | "each");
            let to = match s.tag {
                Tag::VBD | Tag::VBP | Tag::VBZ if article => {
                    if s.tag == Tag::VBD && s.lower().ends_with("ed") {
                        Some(Tag::JJ)
                    } else if self.can_be_noun(s.lower()) {
                        Some(if s.tag == Tag::VBZ { Tag::NNS } else { Tag::NN })
                    } else {
                        None
                    }
                }
                Tag::VB => {
                    let modifier = matches!(prev.tag, Tag::CD | Tag::POS | Tag::PRPS)
                        || prev.tag.is_adjective()
                        || article;
                    let next = slots[i + 1].tag;
                    let nominal_next =
                        next.is_noun() || next.is_break() || next == Tag::IN || next == Tag::Start;
                    (modifier && nominal_next).then_some(Tag::NN)
                }
                _ => None,
            };
            if let Some(t) = to {
                slots[i].tag = t;
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subordinator {
    /// Always starts a clause: `as`, `while`, `when`, `how`...
    Clause,
    /// Starts a clause or a prepositional phrase: `after`, `before`,
    /// `since`, `until`.
    Either,
}

/// Whether a word can start a subordinate clause in a headline.
fn subordinator(s: &Slot<'_>) -> Option<Subordinator> {
    if !(s.host && matches!(s.tag, Tag::IN | Tag::RB | Tag::WRB)) {
        return None;
    }
    match s.lower() {
        "as" | "while" | "when" | "because" | "though" | "although" | "if" | "unless"
        | "whereas" | "once" | "how" | "why" | "where" => Some(Subordinator::Clause),
        "after" | "before" | "since" | "until" => Some(Subordinator::Either),
        _ => None,
    }
}

/// Suffix rules for unknown lower-case words.
fn suffix_tag(w: &str) -> Tag {
    let len = w.chars().count();
    if len > 4 && w.ends_with("ing") {
        return Tag::VBG;
    }
    if len > 3 && w.ends_with("ly") {
        return Tag::RB;
    }
    if len > 3 && w.ends_with("ed") {
        return Tag::VBN;
    }
    if ends_plural(w) {
        return Tag::NNS;
    }
    const ADJ: [&str; 10] = [
        "able", "ible", "ful", "ous", "ive", "less", "ic", "al", "ish", "esque",
    ];
    if len > 4 && ADJ.iter().any(|s| w.ends_with(s)) {
        return Tag::JJ;
    }
    if len > 4 && ["ise", "ize", "ify"].iter().any(|s| w.ends_with(s)) {
        return Tag::VB;
    }
    Tag::NN
}

/// The host slot of each token, and whether its clitic stayed a possessive.
fn hosts(slots: &[Slot<'_>]) -> Vec<(usize, bool)> {
    let n = slots.len();
    let mut out = Vec::with_capacity(n);
    for i in PAD..n - PAD {
        if slots[i].host {
            let possessive = !slots[i + 1].host
                && slots[i + 1].token == slots[i].token
                && slots[i + 1].tag == Tag::POS;
            out.push((i, possessive));
        }
    }
    out
}

fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| Error::Input {
        path: path.to_path_buf(),
        message: format!("not UTF-8 at byte {}", e.utf8_error().valid_up_to()),
    })
}

fn input_error(path: &Path, line: usize, message: impl std::fmt::Display) -> Error {
    Error::Input {
        path: PathBuf::from(path),
        message: format!("line {line}: {message}"),
    }
}

/// Reads "word TAG" lines. A line with another number of fields is an
/// error; a line whose tag is no Penn tag (two garbled entries in the
/// shipped file, like `(3/26 1991)`) is skipped, unless more than 1% are.
fn parse_lexicon(text: &str, path: &Path) -> Result<WordMap<Tag>> {
    let mut map: WordMap<Tag> = WordMap::default();
    map.reserve(100_000);
    let mut lines = 0usize;
    let mut skipped = 0usize;
    for (no, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(";;;") {
            continue;
        }
        lines += 1;
        let mut f = line.split_whitespace();
        let (Some(word), Some(tag), None) = (f.next(), f.next(), f.next()) else {
            return Err(input_error(
                path,
                no + 1,
                format!("expected \"word TAG\", found {line:?}"),
            ));
        };
        match Tag::parse_lexicon(tag) {
            // The first entry of a word wins (the file has one per word).
            Some(t) => {
                map.entry(word.into()).or_insert(t);
            }
            None => skipped += 1,
        }
    }
    if map.is_empty() {
        return Err(Error::Input {
            path: path.to_path_buf(),
            message: "no \"word TAG\" entries: not a Brill lexicon".to_string(),
        });
    }
    if skipped * 100 > lines {
        return Err(Error::Input {
            path: path.to_path_buf(),
            message: format!(
                "{skipped} of {lines} entries have a tag that is not a Penn Treebank tag: not a Brill lexicon"
            ),
        });
    }
    Ok(map)
}

fn parse_context(text: &str, path: &Path) -> Result<Vec<Rule>> {
    let mut rules = Vec::new();
    for (no, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(";;;") {
            continue;
        }
        let rule =
            parse_rule(line).map_err(|m| input_error(path, no + 1, format!("{m} in {line:?}")))?;
        rules.extend(rule);
    }
    Ok(rules)
}

// ---------------------------------------------------------------------------
// Tokens

const QUOTES: [char; 9] = ['\'', '"', '‘', '’', '“', '”', '«', '»', '`'];
const ABBREVIATIONS: [&str; 12] = [
    "mr.", "mrs.", "ms.", "dr.", "st.", "inc.", "co.", "corp.", "ltd.", "jr.", "vs.", "plc.",
];

fn is_dash(c: char) -> bool {
    matches!(c, '-' | '–' | '—' | '‒' | '―')
}

/// `U.S.`, `U.K.`, `a.m.`, `Mr.`: a final dot that belongs to the word.
fn keeps_dot(w: &str) -> bool {
    let l = w.to_lowercase();
    if ABBREVIATIONS.contains(&l.as_str()) {
        return true;
    }
    let b = w.as_bytes();
    b.len() >= 4
        && b.len().is_multiple_of(2)
        && b.chunks(2)
            .all(|p| p[0].is_ascii_alphabetic() && p[1] == b'.')
}

/// Splits a headline into the tokens [`EnglishTagger::analyse`] expects.
///
/// - Words keep internal apostrophes, hyphens, dots, commas and `&`
///   (`won't`, `world’s`, `no-deal`, `5.9%`, `£100,000`, `M&M's`, `U.S.`);
///   a currency sign or `%` stays on its number (`£100m`, `$US400m`).
/// - Quotes (straight and curly, single and double) are dropped, and so
///   are brackets. A final apostrophe after `s` stays as a plural
///   possessive (`MPs'`, `bosses’`) unless a single quote opened earlier in
///   the headline is still open (`'real life Lord of the Flies'`).
/// - Clause breaks are tokens of their own: `,` `;` `:` `.` `?` `!` `…`, a
///   free-standing dash (`–`), and `|` for a line break or a run of two or
///   more spaces (the Guardian's kicker: `The long read  Hinkley Point`).
///   No break starts the list or follows another break. They end noun
///   phrases, and the tagger reads a capital after `:` `.` `?` `!` `|` as
///   the start of a clause.
/// - A slash between words splits them (`Covid/coronavirus`); between
///   digits it stays (`24/7`).
pub fn tokens(text: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let mut open_single = false;
    let mut gap_break = false;
    let mut pos = 0usize;
    let push_break = |out: &mut Vec<&str>, b: &'static str| {
        if out.last().is_some_and(|l| !is_break_token(l)) {
            out.push(b);
        }
    };
    while pos < text.len() {
        let rest = &text[pos..];
        let ws_len = rest.len() - rest.trim_start().len();
        if ws_len > 0 {
            let ws = &rest[..ws_len];
            if ws.contains('\n') || ws.chars().count() >= 2 {
                gap_break = true;
            }
            pos += ws_len;
            continue;
        }
        let chunk_len = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let chunk = &rest[..chunk_len];
        pos += chunk_len;
        if gap_break {
            push_break(&mut out, "|");
            gap_break = false;
        }
        for piece in split_slashes(chunk) {
            word_piece(piece, &mut out, &mut open_single);
        }
    }
    out
}

fn is_break_token(t: &str) -> bool {
    !t.chars().any(|c| c.is_alphanumeric()) && punct_tag(t).is_some_and(|t| t.is_break())
}

/// Splits a chunk at slashes and dashes that join words (`a/b`, `word—word`).
fn split_slashes(chunk: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0usize;
    let chars: Vec<(usize, char)> = chunk.char_indices().collect();
    for (k, &(at, c)) in chars.iter().enumerate() {
        let joins = match c {
            '/' => {
                let before = k > 0 && chars[k - 1].1.is_ascii_digit();
                let after = chars.get(k + 1).is_some_and(|p| p.1.is_ascii_digit());
                !(before && after)
            }
            '—' | '–' => k > 0 && k + 1 < chars.len(),
            _ => false,
        };
        if joins {
            if at > start {
                pieces.push(&chunk[start..at]);
            }
            if c != '/' {
                pieces.push(&chunk[at..at + c.len_utf8()]);
            }
            start = at + c.len_utf8();
        }
    }
    if start < chunk.len() {
        pieces.push(&chunk[start..]);
    }
    pieces
}

fn word_piece<'a>(piece: &'a str, out: &mut Vec<&'a str>, open_single: &mut bool) {
    let push_break = |out: &mut Vec<&'a str>, b: &'a str| {
        if out.last().is_some_and(|l| !is_break_token(l)) {
            out.push(b);
        }
    };
    if piece.chars().all(is_dash) {
        push_break(out, piece);
        return;
    }
    let mut w = piece;
    // Leading quotes and brackets.
    while let Some(c) = w.chars().next() {
        if QUOTES.contains(&c) || matches!(c, '(' | '[' | '{' | '*' | '¡' | '¿') {
            if matches!(c, '\'' | '‘') {
                *open_single = true;
            }
            w = &w[c.len_utf8()..];
        } else {
            break;
        }
    }
    // Trailing punctuation, quotes and brackets, outermost first.
    let mut trail: Vec<&'a str> = Vec::new();
    while let Some(c) = w.chars().next_back() {
        let cut = w.len() - c.len_utf8();
        if matches!(c, ',' | ';' | ':' | '.' | '?' | '!' | '…') {
            if c == '.' && keeps_dot(w) {
                break;
            }
            trail.push(&w[cut..]);
            w = &w[..cut];
        } else if QUOTES.contains(&c) {
            let stem = &w[..cut];
            if matches!(c, '\'' | '’')
                && stem.ends_with(['s', 'S'])
                && stem.chars().count() >= 2
                && !*open_single
            {
                break;
            }
            if matches!(c, '\'' | '’') {
                *open_single = false;
            }
            w = stem;
        } else if matches!(c, ')' | ']' | '}' | '*') {
            w = &w[..cut];
        } else {
            break;
        }
    }
    if w.chars().any(|c| c.is_alphanumeric()) || w == "&" {
        out.push(w);
    }
    for b in trail.into_iter().rev() {
        push_break(out, b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY_LEXICON: &str = ";;; a comment line
the DT
a DT
to TO
I PRP
it PRP
want VBP
race NN
races NNS
runs VBZ
dog NN
dogs NNS
tariff NN
company NN
crisis NN
woman NN
analysis NN
shelf NN
tax NN
wife NN
price NN
MPs NNS
's POS
n't RB
wo MD
";

    fn tiny(context: &str) -> EnglishTagger {
        EnglishTagger::from_strings(TINY_LEXICON, context).expect("tiny tagger")
    }

    #[test]
    fn tag_names_round_trip() {
        for t in ALL_TAGS {
            assert_eq!(Tag::parse(t.name()), Some(t), "{t:?}");
            assert!((t as usize) < 64);
        }
        assert_eq!(Tag::parse_lexicon("NN|JJ"), Some(Tag::NN));
        assert_eq!(Tag::parse_lexicon("NP"), Some(Tag::NNP));
        assert_eq!(Tag::parse_lexicon("1991)"), None);
    }

    #[test]
    fn tagger_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<EnglishTagger>();
    }

    #[test]
    fn lexicon_then_rules() {
        // Without rules: the lexicon's tag.
        let t = tiny("");
        assert_eq!(
            t.tag(&["I", "want", "to", "race"]),
            ["PRP", "VBP", "TO", "NN"]
        );
        // NN -> VB after TO; `race` can be a verb only if the lexicon knows a
        // verb form of it: `races` is a noun here, so the rule may not fire...
        let t = tiny("NN VB PREVTAG TO\n");
        assert_eq!(t.tag(&["I", "want", "to", "race"])[3], "NN");
        // ...until it knows one.
        let lex = format!("{TINY_LEXICON}raced VBD\n");
        let t = EnglishTagger::from_strings(&lex, "NN VB PREVTAG TO\n").expect("tagger");
        assert_eq!(t.tag(&["I", "want", "to", "race"])[3], "VB");
    }

    #[test]
    fn rule_templates() {
        let lex = format!("{TINY_LEXICON}raced VBD\nbarked VBD\n");
        let cases: [(&str, &[&str], usize, &str); 10] = [
            (
                "NN VB SURROUNDTAG TO DT",
                &["to", "race", "the", "dog"],
                1,
                "VB",
            ),
            ("NN JJ CURWD dog", &["the", "dog"], 1, "JJ"),
            ("NN JJ PREVWD the", &["the", "dog"], 1, "JJ"),
            ("DT PDT NEXTWD dog", &["the", "dog"], 0, "PDT"),
            ("DT PDT WDNEXTTAG the NN", &["the", "dog"], 0, "PDT"),
            ("NN JJ WDPREVTAG DT dog", &["the", "dog"], 1, "JJ"),
            ("NN JJ LBIGRAM the dog", &["the", "dog"], 1, "JJ"),
            ("DT PDT RBIGRAM the dog", &["the", "dog"], 0, "PDT"),
            ("NN VB PREVBIGRAM PRP TO", &["I", "to", "race"], 2, "VB"),
            ("* JJ NEXTBIGRAM DT NN", &["race", "the", "dog"], 0, "JJ"),
        ];
        for (rule, tokens, at, want) in cases {
            let t = EnglishTagger::from_strings(&lex, rule).expect(rule);
            assert_eq!(t.tag(tokens)[at], want, "{rule} on {tokens:?}");
        }
        // The boundary is STAART: the headline's first word has no word before.
        let t = EnglishTagger::from_strings(&lex, "DT PDT PREVTAG STAART").expect("rule");
        assert_eq!(t.tag(&["dogs", "the", "dog"]), ["NNS", "DT", "NN"]);
        assert_eq!(t.tag(&["the", "dog"]), ["PDT", "NN"]);
    }

    #[test]
    fn rules_apply_one_after_another_over_the_whole_headline() {
        // Brill's order: each rule over the whole headline, then the next;
        // rule 2 sees what rule 1 did to the word after. (textblob applies
        // all rules to one word before the next and would leave JJ JJ NN.)
        let t = tiny("NN JJ NEXTTAG NN\nJJ RB NEXTTAG JJ\n");
        assert_eq!(t.tag(&["dog", "dog", "dog"]), ["RB", "JJ", "NN"]);
    }

    #[test]
    fn malformed_files_name_the_line() {
        let err = EnglishTagger::from_strings("the DT\ndog NN extra\n", "").expect_err("3 fields");
        let msg = err.to_string();
        assert!(
            msg.contains("en-lexicon.txt") && msg.contains("line 2"),
            "{msg}"
        );
        for (context, what) in [
            ("NN VB PREVTAG TO\nNN VB SIDEWAYS TO\n", "unknown template"),
            ("NN XX PREVTAG TO\n", "unknown tag"),
            ("NN VB SURROUNDTAG TO\n", "takes 2 argument"),
            ("NN VB\n", "fields"),
        ] {
            let err = EnglishTagger::from_strings("the DT\n", context).expect_err(what);
            let msg = err.to_string();
            assert!(
                msg.contains("en-context.txt") && msg.contains(what),
                "{msg}"
            );
        }
        // The line number counts comment lines too.
        let err = EnglishTagger::from_strings("the DT\n", ";;; x\n\nNN XX PREVTAG TO\n")
            .expect_err("bad tag");
        assert!(err.to_string().contains("line 3"), "{err}");
        // A rule with an extra word is not used; wrong tags in the lexicon
        // are skipped unless most are wrong.
        assert!(
            EnglishTagger::from_strings("the DT\n(3/26 1991)\n", "NN PRP PREVWD are mine").is_err()
        );
        let many = "the DT\n".repeat(200) + "(3/26 1991)\n";
        let t = EnglishTagger::from_strings(&many, "NN PRP PREVWD are mine").expect("lenient");
        assert_eq!(t.size(), (1, 0));
        assert!(EnglishTagger::from_strings(";;; only comments\n", "").is_err());
    }

    #[test]
    fn load_names_the_missing_file() {
        let dir = std::env::temp_dir().join("weaksignal-english-missing-lexicon");
        let err = EnglishTagger::load(&dir).expect_err("missing");
        assert!(err.to_string().contains("en-lexicon.txt"), "{err}");
    }

    #[test]
    fn plural_nouns_become_singular() {
        let t = tiny("");
        let lemma = |w: &str| t.singular(w);
        assert_eq!(lemma("tariffs"), "tariff");
        assert_eq!(lemma("companies"), "company");
        assert_eq!(lemma("crises"), "crisis");
        assert_eq!(lemma("women"), "woman");
        assert_eq!(lemma("analyses"), "analysis");
        assert_eq!(lemma("shelves"), "shelf");
        assert_eq!(lemma("wives"), "wife");
        assert_eq!(lemma("taxes"), "tax");
        assert_eq!(lemma("prices"), "price");
        assert_eq!(lemma("people"), "people");
        assert_eq!(lemma("news"), "news");
        assert_eq!(lemma("economics"), "economics");
        // Unknown to the lexicon: the suffix rules alone.
        assert_eq!(lemma("hotspots"), "hotspot");
        assert_eq!(lemma("cryptocurrencies"), "cryptocurrency");
        assert_eq!(lemma("businesses"), "business");
        assert_eq!(lemma("coronavirus"), "coronavirus");
    }

    #[test]
    fn analyse_lemmas_classes_and_genitives() {
        let t = tiny("");
        let a = t.analyse(&[
            "the", "tariffs", "dog's", "MPs'", "it's", "won't", "Brexit", ",",
        ]);
        let lemmas: Vec<&str> = a.iter().map(|a| a.lemma.as_str()).collect();
        assert_eq!(
            lemmas,
            ["the", "tariff", "dog", "MP", "it", "will", "Brexit", ","]
        );
        let classes: Vec<WordClass> = a.iter().map(|a| a.class).collect();
        use WordClass::*;
        assert_eq!(
            classes,
            [Determiner, Noun, Noun, Noun, Pronoun, Verb, ProperNoun, Other]
        );
        let genitive: Vec<bool> = a.iter().map(|a| a.genitive).collect();
        assert_eq!(
            genitive,
            [false, false, true, true, false, false, false, false]
        );
        // Curly apostrophes are the same.
        let b = t.analyse(&["the", "dog’s", "it’s"]);
        assert_eq!(b[1].lemma, "dog");
        assert!(b[1].genitive);
        assert_eq!(b[2].class, Pronoun);
    }

    #[test]
    fn unknown_words() {
        let t = tiny("");
        let tags = t.tag(&[
            "the",
            "£100m",
            "5.9%",
            "1970s",
            "20th",
            "Plus500",
            "Covid-19",
            "X-Trail",
            "one-third",
            "carbon-neutral",
            "dog",
            "quickly",
            "flooding",
            "flooded",
            "tariffs",
            "volatility",
            "sustainable",
            "privatise",
            "Zorblax",
        ]);
        assert_eq!(
            tags,
            [
                "DT", "CD", "CD", "CD", "JJ", "NNP", "NNP", "NNP", "CD", "JJ", "NN", "RB", "VBG",
                "VBN", "NNS", "NN", "JJ", "VB", "NNP"
            ]
        );
        // A hyphenated word that modifies nothing is a noun.
        assert_eq!(t.tag(&["the", "no-deal"]), ["DT", "NN"]);
    }

    #[test]
    fn odd_input_does_not_panic() {
        let t = tiny("NN VB PREVTAG TO\n* JJ NEXTBIGRAM DT NN\n");
        let odd = [
            "",
            "’",
            "'s",
            "'",
            "-",
            "—",
            "|",
            "😀",
            "İstanbul",
            "a’b’c",
            "n't",
            "’s’s",
            "s'",
            "££",
            "$",
            "%",
            "1.2.3",
            "--x--",
            "ǅ",
        ];
        assert_eq!(t.tag(&odd).len(), odd.len());
        assert_eq!(t.analyse(&odd).len(), odd.len());
        assert!(t.tag(&[]).is_empty());
        for text in [
            "",
            "   ",
            "’’’",
            "‘",
            "a  \n  b",
            "—x—",
            "''",
            "U.S.",
            "x/y/z",
            "…",
        ] {
            let toks = tokens(text);
            let _ = t.analyse(&toks);
        }
    }

    #[test]
    fn headline_tokens() {
        assert_eq!(
            tokens("Waitrose boss Rob Collins steps down in £100m John Lewis cuts"),
            [
                "Waitrose", "boss", "Rob", "Collins", "steps", "down", "in", "£100m", "John",
                "Lewis", "cuts"
            ]
        );
        assert_eq!(
            tokens("‘It didn’t feel real’: Fire leaves family £450,000 out of pocket"),
            [
                "It",
                "didn’t",
                "feel",
                "real",
                ":",
                "Fire",
                "leaves",
                "family",
                "£450,000",
                "out",
                "of",
                "pocket"
            ]
        );
        assert_eq!(
            tokens("Mars pulls M&M's slot-machine game after MPs' concerns"),
            [
                "Mars",
                "pulls",
                "M&M's",
                "slot-machine",
                "game",
                "after",
                "MPs'",
                "concerns"
            ]
        );
        assert_eq!(
            tokens("Hollywood wins rights for 'real life Lord of the Flies'"),
            [
                "Hollywood",
                "wins",
                "rights",
                "for",
                "real",
                "life",
                "Lord",
                "of",
                "the",
                "Flies"
            ]
        );
        assert_eq!(
            tokens("The long read  Hinkley Point: the “dreadful deal” – 5.9% (or U.S. $1bn)?"),
            [
                "The", "long", "read", "|", "Hinkley", "Point", ":", "the", "dreadful", "deal",
                "–", "5.9%", "or", "U.S.", "$1bn", "?"
            ]
        );
        assert_eq!(
            tokens("Viewpoint column  \n\n\n  Boris Johnson"),
            ["Viewpoint", "column", "|", "Boris", "Johnson"]
        );
        assert_eq!(
            tokens("Covid/coronavirus 24/7, and… more"),
            ["Covid", "coronavirus", "24/7", ",", "and", "…", "more"]
        );
        assert!(tokens("  ").is_empty());
        assert_eq!(tokens("– dash first"), ["dash", "first"]);
    }

    // -- with the real lexicon ----------------------------------------------

    /// The lexicon directory: $WEAKSIGNAL_LEXICON_DIR, the repository's
    /// models/lexicons, or textblob's unpacked wheel in /tmp/enlex (a
    /// development copy).
    fn real_tagger() -> Option<EnglishTagger> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        if let Some(d) = std::env::var_os("WEAKSIGNAL_LEXICON_DIR") {
            dirs.push(PathBuf::from(d));
        }
        dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/lexicons"));
        dirs.push(PathBuf::from("/tmp/enlex/tb/textblob/en"));
        for dir in &dirs {
            if dir.join(LEXICON_FILE).is_file() && dir.join(CONTEXT_FILE).is_file() {
                return Some(EnglishTagger::load(dir).unwrap_or_else(|e| panic!("{e}")));
            }
        }
        eprintln!(
            "\n*** SKIPPED: no English lexicon ({LEXICON_FILE}, {CONTEXT_FILE}) in any of {dirs:?}; \
             run `weaksignal models fetch` or set WEAKSIGNAL_LEXICON_DIR ***\n"
        );
        None
    }

    fn classes_of(t: &EnglishTagger, text: &str) -> Vec<(String, WordClass)> {
        let toks = tokens(text);
        t.analyse(&toks)
            .into_iter()
            .zip(&toks)
            .map(|(a, w)| (w.to_string(), a.class))
            .collect()
    }

    fn class_of(c: &[(String, WordClass)], word: &str) -> WordClass {
        c.iter()
            .find(|(w, _)| w == word)
            .map(|(_, c)| *c)
            .unwrap_or_else(|| panic!("{word} not in {c:?}"))
    }

    #[test]
    fn real_lexicon_headlines() {
        let Some(t) = real_tagger() else { return };
        use WordClass::*;
        let c = classes_of(&t, "UK factory exports tumble as Brexit chaos takes toll");
        for (w, want) in [
            ("tumble", Verb),
            ("takes", Verb),
            ("exports", Noun),
            ("chaos", Noun),
            ("toll", Noun),
            ("Brexit", ProperNoun),
            ("UK", ProperNoun),
        ] {
            assert_eq!(class_of(&c, w), want, "{w} in {c:?}");
        }
        let c = classes_of(
            &t,
            "Sports Direct sheds 300 jobs by shutting Wigan warehouse",
        );
        for (w, want) in [
            ("Sports", ProperNoun),
            ("Direct", ProperNoun),
            ("sheds", Verb),
            ("jobs", Noun),
            ("Wigan", ProperNoun),
            ("warehouse", Noun),
        ] {
            assert_eq!(class_of(&c, w), want, "{w} in {c:?}");
        }
        let c = classes_of(
            &t,
            "Waitrose boss Rob Collins steps down in £100m John Lewis cuts",
        );
        for (w, want) in [
            ("Waitrose", ProperNoun),
            ("boss", Noun),
            ("steps", Verb),
            ("cuts", Noun),
            ("Lewis", ProperNoun),
            ("£100m", Numeral),
        ] {
            assert_eq!(class_of(&c, w), want, "{w} in {c:?}");
        }
        let c = classes_of(
            &t,
            "Airbus shelves plans for new A321 plant as coronavirus crisis hits",
        );
        for (w, want) in [
            ("shelves", Verb),
            ("plans", Noun),
            ("A321", ProperNoun),
            ("hits", Verb),
        ] {
            assert_eq!(class_of(&c, w), want, "{w} in {c:?}");
        }
        let c = classes_of(&t, "Asos shares crash 38% after shock profit warning");
        assert_eq!(class_of(&c, "shares"), Noun);
        assert_eq!(class_of(&c, "crash"), Verb);
        // Lemmas: singular, lower case; names as written; genitive.
        let toks = tokens("Companies hit by Trump’s tariffs as crises deepen, say women MPs");
        let a = t.analyse(&toks);
        let lemma = |w: &str| {
            let i = toks.iter().position(|t| *t == w).expect("token");
            (a[i].lemma.clone(), a[i].genitive)
        };
        assert_eq!(lemma("Trump’s"), ("Trump".to_string(), true));
        assert_eq!(lemma("tariffs").0, "tariff");
        assert_eq!(lemma("Companies").0, "company");
        assert_eq!(lemma("crises").0, "crisis");
        assert_eq!(lemma("women").0, "woman");
        assert_eq!(lemma("MPs").0, "MP");
        // Title Case: capitals say nothing.
        let c = classes_of(
            &t,
            "Jim Cramer: A Better Way To Invest In The Vaccine Gold Rush",
        );
        assert_eq!(class_of(&c, "Way"), Noun, "{c:?}");
        assert_eq!(class_of(&c, "Invest"), Verb, "{c:?}");
    }

    /// Accuracy on tests/fixtures/english-pos/guardian-headlines.tsv: 61
    /// Guardian headlines labelled by hand before the tagger was written.
    /// Floors sit just under the measured figures (see the module doc), so a
    /// regression fails.
    #[test]
    fn real_lexicon_accuracy_on_labelled_headlines() {
        let Some(t) = real_tagger() else { return };
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/english-pos/guardian-headlines.tsv");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut headlines: Vec<(String, Vec<(String, String)>)> = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# ") {
                // "# n: row r (date): text"
                let head = rest.split_once(": ").and_then(|(n, r)| {
                    n.parse::<usize>().ok()?;
                    r.split_once("): ")
                        .map(|(_, text)| text.replace("\\n", "\n"))
                });
                if let Some(h) = head {
                    headlines.push((h, Vec::new()));
                }
                continue;
            }
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 3, "{line:?}");
            let last = headlines
                .last_mut()
                .expect("a headline comment before its tokens");
            last.1.push((f[1].to_string(), f[2].to_string()));
        }
        assert_eq!(headlines.len(), 61);
        let (mut words, mut right) = (0usize, 0usize);
        let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
        let mut confusion: std::collections::BTreeMap<(String, &'static str), usize> =
            Default::default();
        for (text, gold) in &headlines {
            let toks = tokens(text);
            let gold_tokens: Vec<&str> = gold.iter().map(|(w, _)| w.as_str()).collect();
            assert_eq!(toks, gold_tokens, "tokens of {text:?}");
            for (a, (w, g)) in t.analyse(&toks).iter().zip(gold) {
                if !w.chars().any(|c| c.is_alphanumeric()) {
                    continue;
                }
                words += 1;
                let got = a.class.name();
                if got == g {
                    right += 1;
                } else {
                    *confusion.entry((g.clone(), got)).or_default() += 1;
                }
                let gold_content = g == "noun" || g == "proper_noun";
                let content = matches!(a.class, WordClass::Noun | WordClass::ProperNoun);
                match (gold_content, content) {
                    (true, true) => tp += 1,
                    (false, true) => fp += 1,
                    (true, false) => fn_ += 1,
                    _ => {}
                }
            }
        }
        let accuracy = right as f64 / words as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        let recall = tp as f64 / (tp + fn_) as f64;
        eprintln!(
            "english-pos: class accuracy {right}/{words} = {:.1}%; content words (noun|proper_noun): \
             precision {:.1}% ({tp}/{}), recall {:.1}% ({tp}/{})",
            100.0 * accuracy,
            100.0 * precision,
            tp + fp,
            100.0 * recall,
            tp + fn_
        );
        let mut pairs: Vec<_> = confusion.into_iter().collect();
        pairs.sort_by_key(|p| std::cmp::Reverse(p.1));
        for ((gold, got), n) in pairs {
            eprintln!("  gold {gold:<12} tagged {got:<12} {n}");
        }
        assert!(accuracy >= 0.94, "class accuracy {accuracy:.3} < 0.94");
        assert!(precision >= 0.96, "content precision {precision:.3} < 0.96");
        assert!(recall >= 0.97, "content recall {recall:.3} < 0.97");
    }
}
