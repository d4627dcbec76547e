//! `feed` sources: RSS 0.9x/1.0/2.0, Atom and JSON Feed (feed-rs). A feed item
//! is a document by itself (title and summary or content), or, with
//! `fetch_articles`, a link whose page is fetched for the full text.

use serde::Deserialize;

use super::{get_text, BoxFuture, Item, Listing, Source, SourceError};
use crate::collect::fetch::{Fetcher, Validators};
use crate::document::RawDate;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSource {
    pub name: String,
    pub url: String,
    /// Fetch each item's page and extract its full text.
    #[serde(default)]
    pub fetch_articles: bool,
    #[serde(default)]
    pub lang: Option<String>,
}

impl Source for FeedSource {
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
            let mut items =
                parse(&page.text, page.url.as_str(), self.fetch_articles).map_err(|message| {
                    SourceError::Parse {
                        url: self.url.clone(),
                        message,
                    }
                })?;
            items.truncate(limit);
            Ok(Listing::fetched(&self.url, page, items, 1))
        })
    }
}

/// Items of a feed document; `base` resolves relative links.
pub fn parse(text: &str, base: &str, fetch_articles: bool) -> Result<Vec<Item>, String> {
    let text = declare_utf8(text);
    // The XML parser underneath asserts on some broken input; a bad feed is
    // an error of that feed, never a crash of the run.
    let parsed = std::panic::catch_unwind(|| feed_rs::parser::parse(text.as_bytes()))
        .map_err(|_| "not a feed: the XML parser gave up on it".to_string())?;
    let feed = parsed.map_err(|e| format!("not a feed: {e}"))?;
    let base = url::Url::parse(base).ok();
    // A language tag is short (BCP 47); a feed that says otherwise is ignored, not
    // copied into every item.
    let feed_lang = feed
        .language
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty() && l.len() <= 35)
        .map(str::to_string);
    Ok(feed
        .entries
        .into_iter()
        .map(|entry| {
            let link = entry
                .links
                .iter()
                .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
                .or(entry.links.first())
                .and_then(|l| match &base {
                    Some(b) => b.join(l.href.trim()).ok(),
                    None => url::Url::parse(l.href.trim()).ok(),
                })
                .filter(|u| matches!(u.scheme(), "http" | "https"));
            let body = entry
                .content
                .as_ref()
                .and_then(|c| c.body.clone())
                .or_else(|| entry.summary.as_ref().map(|s| s.content.clone()))
                .map(|html| crate::html::to_text(&html));
            Item {
                fetch_page: fetch_articles && link.is_some(),
                url: link,
                title: entry.title.map(|t| crate::html::to_text(&t.content)),
                text: body,
                published: entry.published.or(entry.updated).map(RawDate::Parsed),
                lang: feed_lang.clone(),
            }
        })
        .collect())
}

/// The text is already decoded: an XML declaration naming another encoding
/// (UTF-16, ISO-8859-1) would make the parser decode it a second time.
fn declare_utf8(text: &str) -> std::borrow::Cow<'_, str> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let Some(end) = trimmed
        .starts_with("<?xml")
        .then(|| trimmed.find("?>"))
        .flatten()
    else {
        return text.into();
    };
    let declaration = &trimmed[..end];
    let Some(at) = declaration.find("encoding") else {
        return trimmed.into();
    };
    let rest = &declaration[at..];
    let value_end = rest
        .char_indices()
        .filter(|(_, c)| *c == '"' || *c == '\'')
        .nth(1)
        .map_or(rest.len(), |(i, _)| i + 1);
    format!(
        "{}encoding=\"utf-8\"{}",
        &trimmed[..at],
        &trimmed[at + value_end..]
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decoded_feed_declares_utf8() {
        assert_eq!(
            declare_utf8("<?xml version='1.0' encoding='ISO-8859-1'?><rss/>"),
            "<?xml version='1.0' encoding=\"utf-8\"?><rss/>"
        );
        assert_eq!(declare_utf8("<rss/>"), "<rss/>");
        let items = parse(
            "<?xml version=\"1.0\" encoding=\"UTF-16\"?><rss version=\"2.0\"><channel><title>t</title>\
             <item><title>P&#228;&#228;uutinen</title><link>/a/1</link><pubDate>Tue, 24 Nov 2026 08:00:00 +0200</pubDate>\
             <description>&lt;p&gt;Kunnat &amp;amp; alueet&lt;/p&gt;</description></item></channel></rss>",
            "https://example.fi/rss",
            true,
        )
        .unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].title.as_deref(), Some("Pääuutinen"));
        assert_eq!(
            items[0].url.as_ref().unwrap().as_str(),
            "https://example.fi/a/1"
        );
        assert_eq!(items[0].text.as_deref(), Some("Kunnat & alueet"));
        assert!(items[0].fetch_page);
    }
}
