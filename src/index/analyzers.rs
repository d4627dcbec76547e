//! Text analyzers, registered by name with tantivy's `TokenizerManager`.

use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer, Token,
    TokenFilter, TokenStream, Tokenizer, TokenizerManager,
};

/// Which analyzer a document's language gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LangGroup {
    Finnish = 0,
    English = 1,
    /// Every other language: lowercased words, no stemming.
    Other = 2,
}

impl LangGroup {
    pub const ALL: [LangGroup; 3] = [LangGroup::Finnish, LangGroup::English, LangGroup::Other];

    pub fn of(lang: &str) -> LangGroup {
        match lang {
            "fi" => LangGroup::Finnish,
            "en" => LangGroup::English,
            _ => LangGroup::Other,
        }
    }

    pub fn suffix(self) -> &'static str {
        match self {
            LangGroup::Finnish => "fi",
            LangGroup::English => "en",
            LangGroup::Other => "xx",
        }
    }

    pub fn analyzer_name(self) -> &'static str {
        match self {
            LangGroup::Finnish => "weaksignal_fi",
            LangGroup::English => "weaksignal_en",
            LangGroup::Other => "weaksignal_plain",
        }
    }
}

/// The analyzer for one language group.
pub fn analyzer_for(group: LangGroup) -> TextAnalyzer {
    let base = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(48))
        .filter(LowerCaser);
    match group {
        LangGroup::Finnish => base
            .filter(Stemmer::new(Language::Finnish))
            .filter(FinnishGradation)
            .build(),
        LangGroup::English => base.filter(Stemmer::new(Language::English)).build(),
        LangGroup::Other => base.build(),
    }
}

/// Undoes Finnish consonant gradation of the stops after stemming.
///
/// Snowball's Finnish stemmer strips endings but leaves the stem's gradation:
/// `lakko` stems to `lakko` while its genitive `lakon` stems to `lako`, so a
/// search for one would miss the other. Collapsing the double stops `kk`, `pp`
/// and `tt` to single ones joins the strong and weak grades (`lakko`/`lakon`,
/// `kauppa`/`kaupan`, `tyttö`/`tytön`). Other doubles are left alone because
/// they tell words apart (`tulli` customs, `tuli` fire).
#[derive(Clone)]
pub struct FinnishGradation;

impl TokenFilter for FinnishGradation {
    type Tokenizer<T: Tokenizer> = FinnishGradationFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> Self::Tokenizer<T> {
        FinnishGradationFilter { tokenizer }
    }
}

#[derive(Clone)]
pub struct FinnishGradationFilter<T> {
    tokenizer: T,
}

impl<T: Tokenizer> Tokenizer for FinnishGradationFilter<T> {
    type TokenStream<'a> = FinnishGradationStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        FinnishGradationStream {
            tail: self.tokenizer.token_stream(text),
        }
    }
}

pub struct FinnishGradationStream<T> {
    tail: T,
}

impl<T: TokenStream> TokenStream for FinnishGradationStream<T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let text = &mut self.tail.token_mut().text;
        if text.contains("kk") || text.contains("pp") || text.contains("tt") {
            *text = collapse_double_stops(text);
        }
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

fn collapse_double_stops(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut previous = None;
    for c in word.chars() {
        if previous == Some(c) && matches!(c, 'k' | 'p' | 't') {
            continue;
        }
        out.push(c);
        previous = Some(c);
    }
    out
}

pub(crate) fn register(manager: &TokenizerManager) {
    for group in LangGroup::ALL {
        manager.register(group.analyzer_name(), analyzer_for(group));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(group: LangGroup, text: &str) -> Vec<String> {
        let mut analyzer = analyzer_for(group);
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while let Some(token) = stream.next() {
            out.push(token.text.clone());
        }
        out
    }

    #[test]
    fn finnish_inflections_share_a_stem() {
        let base = tokens(LangGroup::Finnish, "lakko");
        for form in ["lakon", "lakkoon", "lakosta", "lakossa", "lakot", "lakkoja"] {
            assert_eq!(tokens(LangGroup::Finnish, form), base, "{form}");
        }
    }

    #[test]
    fn gradation_keeps_meaningful_doubles() {
        assert_ne!(
            tokens(LangGroup::Finnish, "tulli"),
            tokens(LangGroup::Finnish, "tuli")
        );
    }

    #[test]
    fn english_plurals_share_a_stem() {
        assert_eq!(
            tokens(LangGroup::English, "strikes"),
            tokens(LangGroup::English, "striking")
        );
    }
}
