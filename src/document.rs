//! The document: the unit everything downstream counts, clusters and reports.
//!
//! Importers and collectors produce a [`RawDocument`] (loose strings, as found);
//! [`DocumentBuilder`] turns it into a [`Document`] or a [`Rejection`] that says
//! why not. The builder is the one place where ids, dates, languages, limits
//! and hashes are decided, so every entry point treats input the same way.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;

use crate::config::ImportConfig;
use crate::lang::{self, LanguageDetector};
use crate::time::{unix_to_datetime, DateError, DateParser};

/// A stored document. Times are UTC.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Document {
    /// Given by the source, or derived stably (see [`derive_id`]).
    pub id: String,
    pub source: String,
    pub url: Option<String>,
    pub title: String,
    pub text: String,
    pub published: DateTime<Utc>,
    pub fetched_at: DateTime<Utc>,
    /// ISO 639-1 code, or `und`.
    pub lang: String,
    /// Hex blake3 of title and text; tells a changed document from a repeat.
    pub content_hash: String,
}

/// A date value as an input format holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum RawDate {
    Text(String),
    /// Seconds or milliseconds since the epoch (told apart by magnitude).
    Unix(i64),
    Parsed(DateTime<Utc>),
}

/// A document as found in an input row, before any checks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawDocument {
    pub id: Option<String>,
    pub url: Option<String>,
    pub source: Option<String>,
    pub published: Option<RawDate>,
    pub fetched_at: Option<RawDate>,
    pub title: Option<String>,
    pub text: Option<String>,
    pub lang: Option<String>,
}

/// Why a row did not become a document.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejection {
    #[error("no publication date (a document without one cannot be placed on a timeline)")]
    NoDate,
    #[error("published: {0}")]
    BadDate(DateError),
    #[error("published {published} is in the future (now {now})")]
    FutureDate { published: String, now: String },
    #[error("fetched_at: {0}")]
    BadFetchedAt(DateError),
    #[error("no title and no text")]
    Empty,
    #[error("{field} is {len} bytes, over the limit of {max} (config import.max_{field}_bytes)")]
    TooLarge {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("id {0:?} is not usable (empty, over 512 bytes, or with control characters)")]
    BadId(String),
    #[error("url {0:?} is not an absolute http(s) URL")]
    BadUrl(String),
    #[error("lang {0:?} is not a language code")]
    BadLang(String),
    #[error("no source (give --source NAME or a source column)")]
    NoSource,
    #[error("{0}")]
    Malformed(String),
}

/// Per-import settings that apply to every row.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    /// Overrides the row's source.
    pub source: Option<String>,
    /// Overrides the row's language.
    pub lang: Option<String>,
    /// Used when the row has no source and none was given.
    pub fallback_source: Option<String>,
}

/// Turns raw rows into documents; holds the state that makes that fast.
pub struct DocumentBuilder {
    limits: ImportConfig,
    defaults: Defaults,
    detector: LanguageDetector,
    dates: DateParser,
    now: DateTime<Utc>,
}

impl DocumentBuilder {
    pub fn new(limits: &ImportConfig, defaults: Defaults, now: DateTime<Utc>) -> DocumentBuilder {
        DocumentBuilder {
            detector: LanguageDetector::new(&limits.detect_languages),
            limits: limits.clone(),
            defaults,
            dates: DateParser::default(),
            now,
        }
    }

    pub fn build(&mut self, raw: RawDocument) -> Result<Document, Rejection> {
        let title = clean_text(raw.title.unwrap_or_default());
        let text = clean_text(raw.text.unwrap_or_default());
        check_size("title", &title, self.limits.max_title_bytes)?;
        check_size("text", &text, self.limits.max_text_bytes)?;
        if title.is_empty() && text.is_empty() {
            return Err(Rejection::Empty);
        }

        let published = match raw.published {
            None => return Err(Rejection::NoDate),
            Some(RawDate::Text(s)) if s.trim().is_empty() => return Err(Rejection::NoDate),
            Some(value) => self.date(value).map_err(Rejection::BadDate)?,
        };
        if published > self.now + Duration::hours(self.limits.max_future_hours) {
            return Err(Rejection::FutureDate {
                published: rfc3339(published),
                now: rfc3339(self.now),
            });
        }
        let fetched_at = match raw.fetched_at {
            None => self.now,
            Some(RawDate::Text(s)) if s.trim().is_empty() => self.now,
            Some(value) => self.date(value).map_err(Rejection::BadFetchedAt)?,
        };

        let source = self
            .defaults
            .source
            .clone()
            .or(raw
                .source
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()))
            .or_else(|| self.defaults.fallback_source.clone())
            .ok_or(Rejection::NoSource)?;

        let url = match raw
            .url
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
        {
            None => None,
            Some(u) => Some(canonical_url(&u).ok_or(Rejection::BadUrl(u))?),
        };

        let lang = match self
            .defaults
            .lang
            .clone()
            .or(raw.lang.filter(|l| !l.trim().is_empty()))
        {
            Some(tag) => lang::normalise_code(&tag).ok_or(Rejection::BadLang(tag))?,
            None => self.detector.detect(&title, &text),
        };

        let id = match raw
            .id
            .map(|i| i.trim().to_string())
            .filter(|i| !i.is_empty())
        {
            Some(id) if id.len() <= 512 && !id.chars().any(char::is_control) => id,
            Some(id) => return Err(Rejection::BadId(id)),
            None => derive_id(url.as_deref(), &source, &title, published),
        };

        let content_hash = content_hash(&title, &text);
        Ok(Document {
            id,
            source,
            url,
            title,
            text,
            published,
            fetched_at,
            lang,
            content_hash,
        })
    }

    fn date(&mut self, value: RawDate) -> Result<DateTime<Utc>, DateError> {
        match value {
            RawDate::Parsed(d) => Ok(d),
            RawDate::Unix(n) => {
                unix_to_datetime(n).ok_or_else(|| DateError::OutOfRange(n.to_string()))
            }
            RawDate::Text(s) => self.dates.parse(&s),
        }
    }
}

fn check_size(field: &'static str, value: &str, max: usize) -> Result<(), Rejection> {
    if value.len() > max {
        return Err(Rejection::TooLarge {
            field,
            len: value.len(),
            max,
        });
    }
    Ok(())
}

/// Trims and drops NUL and other control characters except line breaks and tabs,
/// which corrupt terminals and confuse tokenizers. Allocation-free when clean.
fn clean_text(value: String) -> String {
    let trimmed = value.trim();
    let clean = !trimmed
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r');
    if clean {
        if trimmed.len() == value.len() {
            return value;
        }
        return trimmed.to_string();
    }
    trimmed
        .chars()
        .filter(|&c| !c.is_control() || c == '\n' || c == '\t')
        .collect()
}

pub fn rfc3339(date: DateTime<Utc>) -> String {
    date.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Query parameters that only track the reader, never select content.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "yclid",
    "igshid",
    "mc_cid",
    "mc_eid",
    "_ga",
    "ref_src",
    "cmpid",
    "ito",
    "spm",
    "at_medium",
    "at_campaign",
];

/// The URL in the form used for identity: absolute http(s), no fragment, no
/// tracking parameters, lowercase host, no default port.
///
/// ```
/// use weaksignal::document::canonical_url;
/// assert_eq!(
///     canonical_url("HTTPS://Yle.fi:443/a/74-2000?utm_source=x&id=3#top").unwrap(),
///     "https://yle.fi/a/74-2000?id=3"
/// );
/// ```
pub fn canonical_url(raw: &str) -> Option<String> {
    let mut url = url::Url::parse(raw.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    url.set_fragment(None);
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            !k.starts_with("utm_") && !TRACKING_PARAMS.contains(&k.as_str())
        })
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else if url.query().map(|q| q.split('&').count()) != Some(kept.len()) {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    Some(url.to_string())
}

/// A stable id for a document that came without one: from its canonical URL
/// when it has one (the same article from two feeds is one document), else
/// from source, title and publication time.
pub fn derive_id(
    canonical_url: Option<&str>,
    source: &str,
    title: &str,
    published: DateTime<Utc>,
) -> String {
    let mut hasher = blake3::Hasher::new();
    match canonical_url {
        Some(url) => {
            hasher.update(b"url\x1f");
            hasher.update(url.as_bytes());
        }
        None => {
            hasher.update(b"doc\x1f");
            hasher.update(source.as_bytes());
            hasher.update(b"\x1f");
            hasher.update(title.as_bytes());
            hasher.update(b"\x1f");
            hasher.update(&published.timestamp().to_le_bytes());
        }
    }
    hex(&hasher.finalize().as_bytes()[..12])
}

/// Hash of what a reader sees: title and text.
pub fn content_hash(title: &str, text: &str) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(title.as_bytes());
    hasher.update(b"\x1f");
    hasher.update(text.as_bytes());
    hex(&hasher.finalize().as_bytes()[..16])
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn builder() -> DocumentBuilder {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        DocumentBuilder::new(
            &ImportConfig::default(),
            Defaults {
                fallback_source: Some("test".into()),
                ..Defaults::default()
            },
            now,
        )
    }

    fn raw(title: &str, published: &str) -> RawDocument {
        RawDocument {
            title: Some(title.into()),
            published: Some(RawDate::Text(published.into())),
            ..RawDocument::default()
        }
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = builder().build(raw("Strike ends", "2020-01-01")).unwrap();
        let b = builder().build(raw("Strike ends", "2020-01-01")).unwrap();
        let c = builder().build(raw("Strike ends", "2020-01-02")).unwrap();
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_eq!(a.id.len(), 24);
    }

    #[test]
    fn url_gives_the_id_regardless_of_tracking() {
        let mut one = raw("A", "2020-01-01");
        one.url = Some("https://example.org/a?utm_source=rss".into());
        let mut two = raw("A changed title", "2020-01-02");
        two.url = Some("https://EXAMPLE.org/a#comments".into());
        assert_eq!(
            builder().build(one).unwrap().id,
            builder().build(two).unwrap().id
        );
    }

    #[test]
    fn rejections_say_why() {
        let mut b = builder();
        assert_eq!(
            b.build(RawDocument {
                title: Some("x".into()),
                ..Default::default()
            }),
            Err(Rejection::NoDate)
        );
        assert!(matches!(
            b.build(raw("x", "2099-01-01")),
            Err(Rejection::FutureDate { .. })
        ));
        assert_eq!(b.build(raw("  ", "2020-01-01")), Err(Rejection::Empty));
        assert!(matches!(
            b.build(raw("x", "Apr-18")),
            Err(Rejection::BadDate(DateError::NoDay(_)))
        ));
        let big = "x".repeat(5000);
        let err = b.build(raw(&big, "2020-01-01")).unwrap_err();
        assert!(err.to_string().contains("title is 5000 bytes"), "{err}");
        let mut bad_url = raw("x", "2020-01-01");
        bad_url.url = Some("javascript:alert(1)".into());
        assert!(matches!(b.build(bad_url), Err(Rejection::BadUrl(_))));
    }

    #[test]
    fn control_characters_are_dropped() {
        let doc = builder()
            .build(raw("a\u{0}b\u{1b}[31mc", "2020-01-01"))
            .unwrap();
        assert_eq!(doc.title, "ab[31mc");
    }
}
