//! Document languages: normalising given codes and detecting missing ones.
//!
//! Languages are stored as lowercase ISO 639-1 codes (`fi`, `en`, `sv`) or
//! `und` when detection has nothing to go on. The index picks its stemmer
//! from this code.

use whatlang::{Detector, Lang};

/// The code stored when a language is unknown.
pub const UNDETERMINED: &str = "und";

/// Maps an ISO 639-1 code to whatlang's language, for the detection allowlist.
pub fn whatlang_for(code: &str) -> Option<Lang> {
    let lang = match code {
        "fi" => Lang::Fin,
        "en" => Lang::Eng,
        "sv" => Lang::Swe,
        "et" => Lang::Est,
        "de" => Lang::Deu,
        "fr" => Lang::Fra,
        "es" => Lang::Spa,
        "ru" => Lang::Rus,
        "it" => Lang::Ita,
        "nl" => Lang::Nld,
        "da" => Lang::Dan,
        "pt" => Lang::Por,
        "pl" => Lang::Pol,
        "uk" => Lang::Ukr,
        "nb" | "no" => Lang::Nob,
        _ => return None,
    };
    Some(lang)
}

fn code_for(lang: Lang) -> &'static str {
    match lang {
        Lang::Fin => "fi",
        Lang::Eng => "en",
        Lang::Swe => "sv",
        Lang::Est => "et",
        Lang::Deu => "de",
        Lang::Fra => "fr",
        Lang::Spa => "es",
        Lang::Rus => "ru",
        Lang::Ita => "it",
        Lang::Nld => "nl",
        Lang::Dan => "da",
        Lang::Por => "pt",
        Lang::Pol => "pl",
        Lang::Ukr => "uk",
        Lang::Nob => "nb",
        other => other.code(),
    }
}

/// Normalises a language tag as given in a file (`FI`, `en-GB`, `fin`) to the stored code.
/// Returns `None` for something that is not a language tag.
pub fn normalise_code(tag: &str) -> Option<String> {
    let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    if !(2..=3).contains(&primary.len()) || !primary.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    if primary.len() == 3 {
        if let Some(lang) = Lang::from_code(&primary) {
            return Some(code_for(lang).to_string());
        }
    }
    Some(primary)
}

/// Detects the language of a document from its title and the start of its text.
pub struct LanguageDetector {
    detector: Detector,
}

impl LanguageDetector {
    /// `allowed` holds ISO 639-1 codes already checked by the configuration.
    pub fn new(allowed: &[String]) -> LanguageDetector {
        let list: Vec<Lang> = allowed.iter().filter_map(|c| whatlang_for(c)).collect();
        let detector = if list.is_empty() {
            Detector::new()
        } else {
            Detector::with_allowlist(list)
        };
        LanguageDetector { detector }
    }

    pub fn detect(&self, title: &str, text: &str) -> String {
        // The first few hundred bytes decide as well as the whole text, much faster.
        let mut sample = String::with_capacity(title.len() + 601);
        sample.push_str(title);
        sample.push(' ');
        sample.push_str(truncate_at_char(text, 600));
        match self.detector.detect_lang(&sample) {
            Some(lang) => code_for(lang).to_string(),
            None => UNDETERMINED.to_string(),
        }
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a char boundary.
pub fn truncate_at_char(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_normalised() {
        assert_eq!(normalise_code("FI").as_deref(), Some("fi"));
        assert_eq!(normalise_code("en-GB").as_deref(), Some("en"));
        assert_eq!(normalise_code("fin").as_deref(), Some("fi"));
        assert_eq!(normalise_code("x"), None);
        assert_eq!(normalise_code("12"), None);
    }

    #[test]
    fn finnish_and_english_are_told_apart() {
        let detector = LanguageDetector::new(&["fi".into(), "en".into(), "sv".into()]);
        assert_eq!(
            detector.detect("Hallitus esittää lakkoihin uusia rajoituksia", ""),
            "fi"
        );
        assert_eq!(
            detector.detect("Bank of England raises interest rates again", ""),
            "en"
        );
    }
}
