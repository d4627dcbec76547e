//! Public discussion: Hacker News (the Algolia search API), Reddit (a
//! subreddit's JSON listing), Mastodon (a hashtag or public timeline of an
//! instance) and Discourse (a forum's latest posts). Each answers one JSON
//! request with posts that are documents by themselves; a linked story's
//! page is not fetched (the discussion is the signal).

use serde::Deserialize;
use serde_json::Value;

use super::{get_text, BoxFuture, Item, Listing, Source, SourceError};
use crate::collect::fetch::{Fetcher, Validators};
use crate::document::RawDate;

/// Which public API a [`DiscussionSource`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    HackerNews,
    Reddit,
    Mastodon,
    Discourse,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscussionConfig {
    pub name: String,
    /// The API endpoint: `https://hn.algolia.com/api/v1/search_by_date?tags=story&query=...`,
    /// `https://www.reddit.com/r/Finland/new.json`,
    /// `https://mastodon.social/api/v1/timelines/tag/tulevaisuus`,
    /// `https://forum.example.org/posts.json`.
    pub url: String,
    #[serde(default)]
    pub lang: Option<String>,
}

pub struct DiscussionSource {
    pub config: DiscussionConfig,
    pub api: Api,
}

impl Source for DiscussionSource {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn url(&self) -> &str {
        &self.config.url
    }

    fn lang(&self) -> Option<&str> {
        self.config.lang.as_deref()
    }

    fn discover<'a>(
        &'a self,
        fetcher: &'a Fetcher,
        validators: Option<Validators>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Listing, SourceError>> {
        Box::pin(async move {
            let url = &self.config.url;
            let Some(page) = get_text(fetcher, url, validators.as_ref()).await? else {
                return Ok(Listing::not_modified());
            };
            let mut items = parse(self.api, &page.text, page.url.as_str()).map_err(|message| {
                SourceError::Parse {
                    url: url.clone(),
                    message,
                }
            })?;
            items.truncate(limit);
            Ok(Listing::fetched(url, page, items, 1))
        })
    }
}

/// Posts of one API response; `base` resolves relative links (Discourse).
pub fn parse(api: Api, json: &str, base: &str) -> Result<Vec<Item>, String> {
    let value: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_string)
            .filter(|s| !s.trim().is_empty())
    };
    let html = |v: &Value| text(v).map(|h| crate::html::to_text(&h));
    let url = |v: &Value| {
        v.as_str()
            .and_then(|s| url::Url::parse(base).ok()?.join(s).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"))
    };
    let missing = |what: &str| format!("no {what} in the response (is this the right endpoint?)");
    let items = match api {
        Api::HackerNews => value["hits"]
            .as_array()
            .ok_or_else(|| missing("hits"))?
            .iter()
            .map(|hit| {
                let id = hit["objectID"].as_str().unwrap_or_default();
                Item {
                    // The discussion page: stable, and where the comments are.
                    url: url::Url::parse(&format!("https://news.ycombinator.com/item?id={id}"))
                        .ok(),
                    title: text(&hit["title"]),
                    text: html(&hit["story_text"]).or_else(|| text(&hit["url"])),
                    published: hit["created_at_i"].as_i64().map(RawDate::Unix),
                    lang: None,
                    fetch_page: false,
                }
            })
            .collect(),
        Api::Reddit => value["data"]["children"]
            .as_array()
            .ok_or_else(|| missing("data.children"))?
            .iter()
            .map(|child| {
                let d = &child["data"];
                Item {
                    url: d["permalink"]
                        .as_str()
                        .and_then(|p| url::Url::parse("https://www.reddit.com").ok()?.join(p).ok()),
                    title: text(&d["title"]),
                    text: text(&d["selftext"]).or_else(|| text(&d["url"])),
                    published: d["created_utc"].as_f64().map(|t| RawDate::Unix(t as i64)),
                    lang: None,
                    fetch_page: false,
                }
            })
            .collect(),
        Api::Mastodon => value
            .as_array()
            .ok_or_else(|| missing("a list of statuses"))?
            .iter()
            .map(|status| {
                // A boost carries the original status.
                let s = if status["reblog"].is_object() {
                    &status["reblog"]
                } else {
                    status
                };
                let body = html(&s["content"]);
                Item {
                    url: url(&s["url"]).or_else(|| url(&s["uri"])),
                    // Posts have no title: their first line stands in for one.
                    title: body.as_deref().map(first_line),
                    text: body,
                    published: text(&s["created_at"]).map(RawDate::Text),
                    lang: text(&s["language"]),
                    fetch_page: false,
                }
            })
            .collect(),
        Api::Discourse => value["latest_posts"]
            .as_array()
            .ok_or_else(|| missing("latest_posts"))?
            .iter()
            .map(|post| {
                let slug = post["topic_slug"].as_str().unwrap_or("topic");
                let link = format!(
                    "/t/{slug}/{}/{}",
                    post["topic_id"].as_i64().unwrap_or(0),
                    post["post_number"].as_i64().unwrap_or(1)
                );
                Item {
                    url: url(&Value::String(link)),
                    title: text(&post["topic_title"]),
                    text: html(&post["cooked"]).or_else(|| text(&post["raw"])),
                    published: text(&post["created_at"]).map(RawDate::Text),
                    lang: None,
                    fetch_page: false,
                }
            })
            .collect(),
    };
    Ok(items)
}

fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    match line.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}
