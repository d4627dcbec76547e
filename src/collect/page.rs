//! `page` sources: a listing page whose article links a CSS selector picks
//! (each article page is fetched and extracted), or, without a selector, one
//! article page.

use serde::Deserialize;

use super::{get_text, BoxFuture, Item, Listing, Source, SourceError};
use crate::collect::fetch::{Fetcher, Validators};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageSource {
    pub name: String,
    pub url: String,
    /// CSS selector of the article links on the listing page, e.g. "article h2 a".
    #[serde(default)]
    pub link_selector: Option<String>,
    /// Follow only links to the listing page's own host.
    #[serde(default = "yes")]
    pub same_host: bool,
    #[serde(default)]
    pub lang: Option<String>,
}

fn yes() -> bool {
    true
}

impl PageSource {
    /// The selector, checked (so `validate` reports a bad one).
    pub fn selector(&self) -> Result<Option<scraper::Selector>, String> {
        self.link_selector
            .as_deref()
            .map(|s| scraper::Selector::parse(s).map_err(|e| format!("link_selector {s:?}: {e}")))
            .transpose()
    }
}

impl Source for PageSource {
    super::source_fields!();

    fn discover<'a>(
        &'a self,
        fetcher: &'a Fetcher,
        validators: Option<Validators>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Listing, SourceError>> {
        Box::pin(async move {
            let parse_error = |message: String| SourceError::Parse {
                url: self.url.clone(),
                message,
            };
            let selector = self.selector().map_err(parse_error)?;
            let Some(selector) = selector else {
                // One article: listed as is, fetched (and extracted) like any page.
                let url = url::Url::parse(&self.url).map_err(|e| parse_error(e.to_string()))?;
                return Ok(Listing {
                    items: vec![Item {
                        url: Some(url),
                        fetch_page: true,
                        ..Default::default()
                    }],
                    ..Default::default()
                });
            };
            let Some(page) = get_text(fetcher, &self.url, validators.as_ref()).await? else {
                return Ok(Listing::not_modified());
            };
            let items = links(&page.text, &page.url, &selector, self.same_host)
                .into_iter()
                .take(limit)
                .map(|url| Item {
                    url: Some(url),
                    fetch_page: true,
                    ..Default::default()
                })
                .collect();
            Ok(Listing::fetched(&self.url, page, items, 1))
        })
    }
}

/// Distinct http(s) links that `selector` picks (the element itself or its
/// first `<a href>` descendant), resolved against `base`, in page order.
pub fn links(
    html: &str,
    base: &url::Url,
    selector: &scraper::Selector,
    same_host: bool,
) -> Vec<url::Url> {
    let doc = scraper::Html::parse_document(html);
    let anchor = scraper::Selector::parse("a[href]").expect("valid selector");
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for element in doc.select(selector) {
        let href = element.value().attr("href").or_else(|| {
            element
                .select(&anchor)
                .next()
                .and_then(|a| a.value().attr("href"))
        });
        let Some(url) = href.and_then(|h| base.join(h.trim()).ok()) else {
            continue;
        };
        if !matches!(url.scheme(), "http" | "https")
            || (same_host && url.host_str() != base.host_str())
        {
            continue;
        }
        let mut key = url.clone();
        key.set_fragment(None);
        if seen.insert(key.to_string()) {
            out.push(key);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_links_are_picked_resolved_deduplicated_and_kept_on_the_host() {
        let html = r#"<main>
            <article><h2><a href="/a/1#comments">Yksi</a></h2></article>
            <article><h2><a href="https://example.fi/a/2">Kaksi</a></h2></article>
            <article><h2><a href="/a/1">Yksi again</a></h2></article>
            <article><h2><a href="https://other.example/a/3">Elsewhere</a></h2></article>
            <article><h2><a href="javascript:alert(1)">Script</a></h2></article>
            <nav><a href="/a/4">Not an article link</a></nav></main>"#;
        let base = url::Url::parse("https://example.fi/uutiset/").unwrap();
        let selector = scraper::Selector::parse("article h2").unwrap();
        let picked: Vec<String> = links(html, &base, &selector, true)
            .iter()
            .map(|u| u.to_string())
            .collect();
        assert_eq!(picked, ["https://example.fi/a/1", "https://example.fi/a/2"]);
        let anywhere = links(html, &base, &selector, false);
        assert_eq!(anywhere.len(), 3);
        let source = PageSource {
            name: "x".into(),
            url: base.to_string(),
            link_selector: Some("article >> a[".into()),
            same_host: true,
            lang: None,
        };
        assert!(source.selector().unwrap_err().contains("link_selector"));
    }
}
