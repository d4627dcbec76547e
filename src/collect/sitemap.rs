//! `sitemap` sources: a sitemap or sitemap index (followed one level down),
//! including Google News sitemaps. Entries older than `since_days` (by
//! `news:publication_date` or `lastmod`) or outside the `include` prefixes
//! are left out; the newest come first.

use quick_xml::events::Event;
use serde::Deserialize;

use super::{get_text, BoxFuture, Item, Listing, Source, SourceError};
use crate::collect::fetch::{Fetcher, Validators};
use crate::document::RawDate;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SitemapSource {
    pub name: String,
    pub url: String,
    /// Only entries published or modified within this many days.
    #[serde(default)]
    pub since_days: Option<u32>,
    /// Only URLs that start with one of these (e.g. "https://yle.fi/a/").
    #[serde(default)]
    pub include: Vec<String>,
    /// Child sitemaps of an index followed at most (newest first).
    #[serde(default = "default_max_sitemaps")]
    pub max_sitemaps: usize,
    #[serde(default)]
    pub lang: Option<String>,
}

fn default_max_sitemaps() -> usize {
    5
}

/// One `<url>` (or `<sitemap>`) entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entry {
    pub loc: String,
    pub lastmod: Option<String>,
    pub news_date: Option<String>,
    pub news_title: Option<String>,
}

/// A parsed sitemap: either an index of sitemaps or a set of URLs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub sitemaps: Vec<Entry>,
    pub urls: Vec<Entry>,
}

pub fn parse(xml: &str) -> Result<Parsed, String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut out = Parsed::default();
    let mut path: Vec<String> = Vec::new();
    let mut current: Option<Entry> = None;
    // Text of the innermost element so far: entities arrive as separate events.
    let mut text = String::new();
    loop {
        match reader.read_event() {
            Err(e) => {
                return Err(format!(
                    "not a sitemap: XML error at byte {}: {e}",
                    reader.error_position()
                ))
            }
            Ok(Event::Eof) => break,
            Ok(Event::Start(e)) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).to_string();
                if name == "url" || name == "sitemap" {
                    current = Some(Entry::default());
                }
                path.push(name);
                text.clear();
            }
            Ok(Event::End(_)) => {
                let Some(name) = path.pop() else { continue };
                set_field(&mut current, &name, text.trim());
                text.clear();
                if name == "url" || name == "sitemap" {
                    if let Some(entry) = current.take().filter(|e| !e.loc.is_empty()) {
                        if name == "url" {
                            out.urls.push(entry);
                        } else {
                            out.sitemaps.push(entry);
                        }
                    }
                }
            }
            Ok(Event::Text(t)) => {
                text.push_str(&t.decode().map(|s| s.into_owned()).unwrap_or_default())
            }
            Ok(Event::CData(t)) => text.push_str(&String::from_utf8_lossy(&t)),
            Ok(Event::GeneralRef(r)) => {
                let name = String::from_utf8_lossy(&r).to_string();
                let resolved = match name.as_str() {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    n => n
                        .strip_prefix("#x")
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .or_else(|| n.strip_prefix('#').and_then(|d| d.parse().ok()))
                        .and_then(char::from_u32),
                };
                match resolved {
                    Some(c) => text.push(c),
                    None => text.push_str(&format!("&{name};")),
                }
            }
            Ok(_) => {}
        }
    }
    if out.urls.is_empty()
        && out.sitemaps.is_empty()
        && !xml.contains("urlset")
        && !xml.contains("sitemapindex")
    {
        return Err("not a sitemap: no <urlset> or <sitemapindex>".into());
    }
    Ok(out)
}

fn set_field(current: &mut Option<Entry>, field: &str, text: &str) {
    let Some(entry) = current.as_mut() else {
        return;
    };
    match field {
        "loc" => entry.loc = text.to_string(),
        "lastmod" => entry.lastmod = Some(text.to_string()),
        "publication_date" => entry.news_date = Some(text.to_string()),
        "title" => entry.news_title = Some(text.to_string()),
        _ => {}
    }
}

fn entry_time(e: &Entry) -> Option<chrono::DateTime<chrono::Utc>> {
    let raw = e.news_date.as_deref().or(e.lastmod.as_deref())?;
    crate::time::parse_bound(raw, false).ok()
}

impl Source for SitemapSource {
    super::source_fields!();

    fn discover<'a>(
        &'a self,
        fetcher: &'a Fetcher,
        validators: Option<Validators>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Listing, SourceError>> {
        Box::pin(async move {
            let Some(page) = get_text(fetcher, &self.url, validators.as_ref()).await? else {
                return Ok(Listing::not_modified());
            };
            let parse_error = |url: &str, message: String| SourceError::Parse {
                url: url.to_string(),
                message,
            };
            let top = parse(&page.text).map_err(|m| parse_error(&self.url, m))?;
            let cutoff = self
                .since_days
                .map(|d| chrono::Utc::now() - chrono::Duration::days(d as i64));
            let recent = |e: &Entry| match (cutoff, entry_time(e)) {
                (Some(cutoff), Some(t)) => t >= cutoff,
                _ => true,
            };
            let mut requests = 1;
            let mut entries = top.urls;
            let mut children = top.sitemaps;
            children.retain(|e| recent(e));
            children.sort_by_key(|e| std::cmp::Reverse(entry_time(e)));
            for child in children.iter().take(self.max_sitemaps) {
                let Some(page) = get_text(fetcher, &child.loc, None).await? else {
                    continue;
                };
                requests += 1;
                entries.extend(
                    parse(&page.text)
                        .map_err(|m| parse_error(&child.loc, m))?
                        .urls,
                );
            }
            entries.retain(|e| {
                recent(e)
                    && (self.include.is_empty()
                        || self.include.iter().any(|p| e.loc.starts_with(p.as_str())))
            });
            entries.sort_by_key(|e| std::cmp::Reverse(entry_time(e)));
            let items = entries
                .into_iter()
                .filter_map(|e| {
                    let url = url::Url::parse(&e.loc).ok()?;
                    Some(Item {
                        url: Some(url),
                        title: e.news_title.clone(),
                        published: e.news_date.clone().map(RawDate::Text),
                        fetch_page: true,
                        ..Default::default()
                    })
                })
                .take(limit)
                .collect();
            Ok(Listing::fetched(&self.url, page, items, requests))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlsets_news_sitemaps_and_indexes_parse() {
        let news = r#"<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
 <url><loc>https://example.fi/a/1?x=1&amp;y=2</loc>
  <news:news><news:publication_date>2026-11-26T08:00:00+02:00</news:publication_date>
  <news:title><![CDATA[Kunnat & hyvinvointialueet]]></news:title></news:news></url>
 <url><loc>https://example.fi/a/2</loc><lastmod>2026-11-20</lastmod></url>
</urlset>"#;
        let parsed = parse(news).unwrap();
        assert_eq!(parsed.urls.len(), 2);
        assert_eq!(parsed.urls[0].loc, "https://example.fi/a/1?x=1&y=2");
        assert_eq!(
            parsed.urls[0].news_title.as_deref(),
            Some("Kunnat & hyvinvointialueet")
        );
        assert_eq!(parsed.urls[1].lastmod.as_deref(), Some("2026-11-20"));
        let index = r#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>https://example.fi/s1.xml</loc><lastmod>2026-11-26</lastmod></sitemap></sitemapindex>"#;
        assert_eq!(
            parse(index).unwrap().sitemaps[0].loc,
            "https://example.fi/s1.xml"
        );
        assert!(parse("<html><body>not a sitemap</body></html>").is_err());
        // Truncated XML: an error or what was read, never a panic.
        let _ = parse("<urlset><url><loc>x</loc>");
    }
}
