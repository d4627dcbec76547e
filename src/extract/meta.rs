//! Page metadata (title, author, publication date, language).
//!
//! News sites spread these facts over many competing conventions (OpenGraph,
//! Dublin Core, vendor tags, JSON-LD, microdata, the URL itself), so each field
//! is looked up in a fixed order of trust and normalised to one format here,
//! keeping the body extractor free of that bookkeeping.

use std::sync::LazyLock;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use regex::Regex;
use scraper::{ElementRef, Html, Selector};
use serde_json::Value;

/// Facts found in JSON-LD blocks; kept together because one parse feeds
/// several fields and the body extractor's consistency check.
#[derive(Default)]
pub(crate) struct JsonLd {
    pub headline: Option<String>,
    pub published: Option<String>,
    pub author: Option<String>,
    pub body: Option<String>,
    pub lang: Option<String>,
}

fn sel(s: &str) -> Selector {
    // Selectors are compile-time constants; a failure is a programming error
    // caught by the unit tests, but we still avoid panicking at run time.
    Selector::parse(s).unwrap_or_else(|_| Selector::parse("never-matches-anything").expect("valid"))
}

static META: LazyLock<Selector> = LazyLock::new(|| sel("meta"));
static JSONLD: LazyLock<Selector> = LazyLock::new(|| sel("script[type='application/ld+json']"));
static TIME: LazyLock<Selector> = LazyLock::new(|| sel("time[datetime]"));
static H1: LazyLock<Selector> = LazyLock::new(|| sel("h1"));
static TITLE: LazyLock<Selector> = LazyLock::new(|| sel("title"));
static AUTHOR_EL: LazyLock<Selector> = LazyLock::new(|| {
    sel(concat!(
        "[itemprop='author'] [itemprop='name'], [itemprop='author'], a[rel='author'], .author-name, ",
        ".byline__name, .author a, .byline a, .entry-author, .post-author, .author, .byline"
    ))
});

/// All `<meta>` tags as lower-cased key (name/property/itemprop/http-equiv) and content.
pub(crate) fn meta_pairs(doc: &Html) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for m in doc.select(&META) {
        let v = m.value();
        let Some(content) = v.attr("content") else {
            continue;
        };
        for k in ["property", "name", "itemprop", "http-equiv"] {
            if let Some(key) = v.attr(k) {
                out.push((key.trim().to_ascii_lowercase(), content.trim().to_string()));
            }
        }
    }
    out
}

fn meta_get<'a>(pairs: &'a [(String, String)], keys: &[&str]) -> Option<&'a str> {
    // Key order expresses trust, so iterate keys first.
    keys.iter().find_map(|k| {
        pairs
            .iter()
            .find(|(key, val)| key == k && !val.is_empty())
            .map(|(_, v)| v.as_str())
    })
}

pub(crate) fn parse_json_ld(doc: &Html) -> JsonLd {
    let mut out = JsonLd::default();
    for s in doc.select(&JSONLD) {
        let raw: String = s.text().collect();
        // Some sites leave trailing semicolons or HTML comments around the JSON.
        let trimmed = raw
            .trim()
            .trim_start_matches("<!--")
            .trim_end_matches("-->")
            .trim()
            .trim_end_matches(';');
        let Ok(v) = serde_json::from_str::<Value>(trimmed) else {
            continue;
        };
        walk_json_ld(&v, &mut out, 0);
    }
    out
}

fn is_article_type(v: &Value) -> bool {
    let check = |s: &str| {
        let s = s.to_ascii_lowercase();
        s.contains("article") || s.contains("blogposting") || s.contains("report") || s == "posting"
    };
    match v.get("@type") {
        Some(Value::String(s)) => check(s),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).any(check),
        _ => false,
    }
}

fn walk_json_ld(v: &Value, out: &mut JsonLd, depth: usize) {
    if depth > 8 {
        return;
    }
    match v {
        Value::Array(a) => a.iter().for_each(|x| walk_json_ld(x, out, depth + 1)),
        Value::Object(o) => {
            if is_article_type(v) {
                let s = |k: &str| {
                    o.get(k)
                        .and_then(Value::as_str)
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                };
                if out.headline.is_none() {
                    out.headline = s("headline").map(str::to_string);
                }
                if out.published.is_none() {
                    out.published = s("datePublished")
                        .or(s("dateCreated"))
                        .or(s("dateModified"))
                        .map(str::to_string);
                }
                if out.body.is_none() {
                    out.body = s("articleBody").map(str::to_string);
                }
                if out.lang.is_none() {
                    out.lang = s("inLanguage").map(str::to_string);
                }
                if out.author.is_none() {
                    out.author = o.get("author").and_then(|a| json_name(a, 0));
                }
            }
            if let Some(g) = o.get("@graph") {
                walk_json_ld(g, out, depth + 1);
            }
            if let Some(m) = o.get("mainEntity") {
                walk_json_ld(m, out, depth + 1);
            }
        }
        _ => {}
    }
}

fn json_name(v: &Value, depth: usize) -> Option<String> {
    if depth > 4 {
        return None;
    }
    match v {
        Value::String(s) => clean_author(s),
        Value::Object(o) => o.get("name").and_then(|n| json_name(n, depth + 1)),
        Value::Array(a) => {
            let names: Vec<String> = a.iter().filter_map(|x| json_name(x, depth + 1)).collect();
            (!names.is_empty()).then(|| names.join(", "))
        }
        _ => None,
    }
}

static WS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s+").expect("valid regex"));

static BYLINE_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(by|von|kirjoittanut|kirjoittaja|teksti|par|por|di)\s*:?\s+")
        .expect("valid regex")
});

fn clean_author(s: &str) -> Option<String> {
    let s = WS.replace_all(s.trim(), " ");
    let s = BYLINE_PREFIX.replace(&s, "");
    let s = s.trim().trim_end_matches([',', '|', '-', '·']).trim();
    // Profile URLs, sentences and absurdly long strings are not names.
    if s.is_empty()
        || s.starts_with("http")
        || s.chars().count() > 80
        || s.split_whitespace().count() > 10
    {
        return None;
    }
    Some(s.to_string())
}

pub(crate) fn title(doc: &Html, pairs: &[(String, String)], ld: &JsonLd) -> Option<String> {
    let norm = |s: &str| {
        let s = WS.replace_all(s.trim(), " ").to_string();
        (!s.is_empty()).then_some(s)
    };
    if let Some(t) = meta_get(pairs, &["og:title", "twitter:title"]).and_then(norm) {
        return Some(t);
    }
    if let Some(t) = ld.headline.as_deref().and_then(norm) {
        return Some(t);
    }
    if let Some(h) = doc.select(&H1).next() {
        if let Some(t) = norm(&h.text().collect::<String>()) {
            return Some(t);
        }
    }
    let t = doc.select(&TITLE).next()?.text().collect::<String>();
    let t = norm(&t)?;
    // "Headline | Site name": the site name is not part of the title.
    for sep in [" | ", " - ", " – ", " — "] {
        if let Some(pos) = t.rfind(sep) {
            if pos > 10 {
                return Some(t[..pos].trim().to_string());
            }
        }
    }
    Some(t)
}

pub(crate) fn author(doc: &Html, pairs: &[(String, String)], ld: &JsonLd) -> Option<String> {
    // Many CMSs put the publication's name in the author tag; that is not a byline.
    let site = meta_get(pairs, &["og:site_name", "application-name"]).map(str::to_lowercase);
    let is_site = |a: &String| {
        let l = a.to_lowercase();
        site.as_deref()
            .is_some_and(|s| s == l || s.contains(&l) || l.contains(s))
            || l.contains(".de")
            || l.contains(".com")
            || l.contains(".fi")
    };
    if let Some(a) = meta_get(
        pairs,
        &[
            "author",
            "article:author",
            "parsely-author",
            "sailthru.author",
            "dc.creator",
            "dcterms.creator",
            "byl",
        ],
    )
    .and_then(clean_author)
    .filter(|a| !is_site(a))
    {
        return Some(a);
    }
    if let Some(a) = ld.author.clone().filter(|a| !is_site(a)) {
        return Some(a);
    }
    doc.select(&AUTHOR_EL)
        .take(3)
        .find_map(|e: ElementRef| clean_author(&e.text().collect::<String>()))
}

pub(crate) fn lang(doc: &Html, pairs: &[(String, String)], ld: &JsonLd) -> Option<String> {
    let root = doc.root_element();
    let candidates = [
        root.value().attr("lang").map(str::to_string),
        root.value().attr("xml:lang").map(str::to_string),
        meta_get(
            pairs,
            &["content-language", "language", "dc.language", "og:locale"],
        )
        .map(str::to_string),
        ld.lang.clone(),
    ];
    candidates
        .into_iter()
        .flatten()
        .find_map(|l| normalise_lang(&l))
}

fn normalise_lang(l: &str) -> Option<String> {
    let first = l.split([',', ';']).next()?.trim();
    let code = first.split(['-', '_']).next()?.to_ascii_lowercase();
    (code.len() == 2 && code.bytes().all(|b| b.is_ascii_lowercase())).then_some(code)
}

static URL_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"/((?:19|20)\d{2})[/-]?(0[1-9]|1[0-2])[/-]?(0[1-9]|[12]\d|3[01])(?:/|[-_]|\.html|$)",
    )
    .expect("valid regex")
});

pub(crate) fn published(
    doc: &Html,
    pairs: &[(String, String)],
    ld: &JsonLd,
    url: Option<&str>,
) -> Option<String> {
    // RFC 3339 has four-digit years only; chrono writes `+262142-…` for others.
    published_any(doc, pairs, ld, url).filter(|d| {
        d.as_bytes()
            .get(..4)
            .is_some_and(|y| y.iter().all(u8::is_ascii_digit))
    })
}

fn published_any(
    doc: &Html,
    pairs: &[(String, String)],
    ld: &JsonLd,
    url: Option<&str>,
) -> Option<String> {
    const KEYS: &[&str] = &[
        "article:published_time",
        "og:article:published_time",
        "article:published",
        "datepublished",
        "published_time",
        "og:published_time",
        "parsely-pub-date",
        "sailthru.date",
        "dc.date.issued",
        "dc.date",
        "dcterms.date",
        "dcterms.created",
        "date",
        "pubdate",
        "publishdate",
        "publish-date",
        "pub_date",
        "article.published",
    ];
    for k in KEYS {
        if let Some(d) = pairs
            .iter()
            .filter(|(key, _)| key == k)
            .find_map(|(_, v)| normalise_date(v))
        {
            return Some(d);
        }
    }
    if let Some(d) = ld.published.as_deref().and_then(normalise_date) {
        return Some(d);
    }
    // Marked-up publication stamps beat the first <time>, which is often a
    // teaser's in a list above the article.
    let marked = doc.select(&DATE_PROP).find_map(|e| {
        let v = e.value();
        v.attr("content")
            .or(v.attr("datetime"))
            .or(v.attr("title"))
            .and_then(normalise_date)
    });
    if marked.is_some() {
        return marked;
    }
    if let Some(d) = doc
        .select(&TIME)
        .find_map(|t| t.value().attr("datetime").and_then(normalise_date))
    {
        return Some(d);
    }
    // A modification stamp is only an upper bound on publication, so it ranks
    // below the URL but above guessing from visible text.
    url.and_then(url_date)
        .or_else(|| {
            ["article:modified_time", "og:updated_time", "datemodified"]
                .iter()
                .find_map(|k| {
                    pairs
                        .iter()
                        .filter(|(key, _)| key == k)
                        .find_map(|(_, v)| normalise_date(v))
                })
        })
        .or_else(|| visible_date(doc))
}

fn url_date(url: &str) -> Option<String> {
    let c = URL_DATE.captures(url)?;
    let d = NaiveDate::from_ymd_opt(c[1].parse().ok()?, c[2].parse().ok()?, c[3].parse().ok()?)?;
    Some(format_utc(d.and_hms_opt(0, 0, 0)?))
}

static DATE_PROP: LazyLock<Selector> = LazyLock::new(|| {
    sel("[itemprop='datePublished'], [itemprop='dateCreated'], abbr.published[title]")
});
static DATE_HINT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)date|time|publish|posted|meta|byline|dateline|datum|info")
        .expect("valid regex")
});
static NUMERIC_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:(\d{4})-(\d{1,2})-(\d{1,2})|(\d{1,2})\.\s?(\d{1,2})\.\s?(\d{4}))\b")
        .expect("valid regex")
});
static WORD_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:(\d{1,2})\.?\s+([a-zäéû]{3,12})\.?,?\s+(\d{4})|([a-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4}))\b")
        .expect("valid regex")
});

/// Month number from English, German, Finnish, French or Spanish month names
/// (prefix match, so "Sept.", "tammikuuta" and "März" all work).
fn month_number(name: &str) -> Option<u32> {
    const NAMES: &[(&str, u32)] = &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("mär", 3),
        ("apr", 4),
        ("may", 5),
        ("mai", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("okt", 10),
        ("nov", 11),
        ("dec", 12),
        ("dez", 12),
        ("tammi", 1),
        ("helmi", 2),
        ("maalis", 3),
        ("huhti", 4),
        ("touko", 5),
        ("kesä", 6),
        ("heinä", 7),
        ("elo", 8),
        ("syys", 9),
        ("loka", 10),
        ("marras", 11),
        ("joulu", 12),
        ("janv", 1),
        ("févr", 2),
        ("mars", 3),
        ("avr", 4),
        ("juin", 6),
        ("juil", 7),
        ("août", 8),
        ("déc", 12),
        ("ene", 1),
        ("abr", 4),
        ("ago", 8),
        ("dic", 12),
        ("ener", 1),
        ("febr", 2),
        ("marz", 3),
        ("abri", 4),
        ("mayo", 5),
        ("juni", 6),
        ("juli", 7),
        ("sept", 9),
        ("octu", 10),
        ("novi", 11),
        ("dici", 12),
    ];
    let lower = name.to_lowercase();
    // Longest matching prefix wins so "mars" (French March) beats nothing else wrongly.
    NAMES
        .iter()
        .filter(|(p, _)| lower.starts_with(p))
        .max_by_key(|(p, _)| p.len())
        .map(|(_, n)| *n)
}

/// A date written in text, e.g. "12.03.2021", "3. März 2021", "March 3, 2021".
fn text_date(text: &str) -> Option<NaiveDate> {
    if let Some(c) = NUMERIC_DATE.captures(text) {
        let num = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
        let d = match (num(1), num(2), num(3)) {
            (Some(y), Some(m), Some(d)) => NaiveDate::from_ymd_opt(y as i32, m, d),
            _ => NaiveDate::from_ymd_opt(num(6)? as i32, num(5)?, num(4)?),
        };
        if d.is_some() {
            return d;
        }
    }
    let c = WORD_DATE.captures(text)?;
    let num = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
    if let (Some(d), Some(m), Some(y)) = (
        num(1),
        c.get(2).and_then(|m| month_number(m.as_str())),
        num(3),
    ) {
        return NaiveDate::from_ymd_opt(y as i32, m, d);
    }
    NaiveDate::from_ymd_opt(num(6)? as i32, month_number(c.get(4)?.as_str())?, num(5)?)
}

/// Last resort: a date printed in the page near the byline. Only small
/// elements whose class/id hints at a date are read, so body text and
/// comment timestamps far below rarely win.
fn visible_date(doc: &Html) -> Option<String> {
    let plausible = |d: NaiveDate| (1995..=2100).contains(&d.year_ce().1);
    for e in doc.select(&DATE_PROP) {
        let v = e.value();
        let raw = v
            .attr("content")
            .or(v.attr("datetime"))
            .or(v.attr("title"))
            .map(str::to_string);
        let raw = raw.unwrap_or_else(|| e.text().collect());
        if let Some(d) = normalise_date(&raw) {
            return Some(d);
        }
        if let Some(d) = text_date(&raw).filter(|d| plausible(*d)) {
            return Some(format_utc(d.and_hms_opt(0, 0, 0)?));
        }
    }
    let body = doc.root_element();
    let mut checked = 0;
    for e in body.descendants().filter_map(ElementRef::wrap) {
        let v = e.value();
        let hint = v
            .attr("class")
            .into_iter()
            .chain(v.id())
            .any(|s| DATE_HINT.is_match(s));
        if !hint || matches!(v.name(), "html" | "body" | "script" | "style") {
            continue;
        }
        checked += 1;
        if checked > 40 {
            break;
        }
        let text: String = e.text().take(40).collect();
        if text.len() > 300 {
            continue;
        }
        if let Some(d) = text_date(&text).filter(|d| plausible(*d)) {
            return Some(format_utc(d.and_hms_opt(0, 0, 0)?));
        }
    }
    None
}

fn format_utc(n: NaiveDateTime) -> String {
    Utc.from_utc_datetime(&n)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn format_fixed(d: DateTime<FixedOffset>) -> String {
    if d.offset().local_minus_utc() == 0 {
        d.with_timezone(&Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    } else {
        d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }
}

/// Parses the date spellings seen in the wild into RFC 3339; naive times are taken as UTC
/// because a guess at the site's zone would be no better.
pub(crate) fn normalise_date(raw: &str) -> Option<String> {
    let s = raw.trim();
    if s.len() < 8 || s.len() > 64 {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(format_fixed(d));
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(format_fixed(d));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S %z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(s, f) {
            return Some(format_fixed(d));
        }
    }
    let no_zone = s
        .trim_end_matches('Z')
        .trim_end_matches(" UTC")
        .trim_end_matches(" GMT");
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(no_zone, f) {
            return Some(format_utc(n));
        }
    }
    // Date-only values, possibly followed by junk we cannot interpret.
    let head: String = s.chars().take(10).collect();
    for f in ["%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(&head, f) {
            return Some(format_utc(d.and_hms_opt(0, 0, 0)?));
        }
    }
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y%m%d") {
            return Some(format_utc(d.and_hms_opt(0, 0, 0)?));
        }
    }
    None
}

pub(crate) fn description(pairs: &[(String, String)]) -> Option<String> {
    meta_get(
        pairs,
        &["og:description", "description", "twitter:description"],
    )
    .map(plain_text)
    .filter(|s| !s.is_empty())
}

static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"<[^>]{0,2000}>").expect("valid regex"));
static ENTITY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});").expect("valid regex")
});

/// JSON-LD and meta values sometimes carry markup or entities; reduce them to
/// text with paragraph breaks kept, in the same shape as the DOM extraction.
pub(crate) fn plain_text(s: &str) -> String {
    let s = s
        .replace("</p>", "\n\n")
        .replace("<br>", "\n")
        .replace("<br/>", "\n")
        .replace("<br />", "\n");
    let s = TAG.replace_all(&s, " ");
    let s = ENTITY.replace_all(&s, |c: &regex::Captures| {
        let e = &c[1];
        let ch = if let Some(hex) = e.strip_prefix("#x").or_else(|| e.strip_prefix("#X")) {
            u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
        } else if let Some(dec) = e.strip_prefix('#') {
            dec.parse().ok().and_then(char::from_u32)
        } else {
            match e {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => None,
            }
        };
        ch.map(String::from).unwrap_or_else(|| c[0].to_string())
    });
    s.split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}
