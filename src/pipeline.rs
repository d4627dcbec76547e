//! Declarative pipelines (`pipelines/*.toml`): what to collect and import.
//!
//! A pipeline lists its sources; each is one variant of a closed enum tagged by
//! `kind`, so a misspelt kind or option is an error that lists the valid ones.
//! `weaksignal validate` checks a file without running it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use std::sync::Arc;

use crate::collect::discussion::{Api, DiscussionConfig, DiscussionSource};
use crate::collect::feed::FeedSource;
use crate::collect::page::PageSource;
use crate::collect::sitemap::SitemapSource;
use crate::collect::Source;
use crate::error::{Error, Result};
use crate::import::Format;

/// The pipeline the binary runs when none is given.
pub const DEFAULT_PIPELINE: &str = include_str!("../pipelines/default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    /// A search run at the end of `weaksignal run`, to show the result.
    #[serde(default)]
    pub example_query: Option<String>,
    /// The taxonomies the run tags its signals with (ids of
    /// `taxonomies/*.toml`); `taxonomies.tag` of config.toml when absent.
    #[serde(default)]
    pub taxonomies: Option<Vec<String>>,
}

/// One source of documents.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    /// A local corpus file, imported like `weaksignal import`.
    File {
        name: String,
        /// `${WEAKSIGNAL_SHARED}` expands to the shared data directory; relative
        /// paths are resolved against the pipeline file's directory.
        path: String,
        #[serde(default)]
        format: Option<Format>,
        #[serde(default)]
        lang: Option<String>,
        /// Document field to input column, e.g. `{ published = "Time" }`.
        #[serde(default)]
        map: std::collections::BTreeMap<String, String>,
    },
    /// An RSS, Atom or JSON feed (`fetch_articles = true` fetches each item's page).
    Feed(FeedSource),
    /// A listing page with a CSS selector for article links, or one article.
    Page(PageSource),
    /// A sitemap, sitemap index or news sitemap.
    Sitemap(SitemapSource),
    /// Hacker News stories (the Algolia search API).
    Hackernews(DiscussionConfig),
    /// A subreddit's JSON listing.
    Reddit(DiscussionConfig),
    /// A Mastodon hashtag or public timeline.
    Mastodon(DiscussionConfig),
    /// A Discourse forum's latest posts.
    Discourse(DiscussionConfig),
}

impl SourceConfig {
    pub fn name(&self) -> &str {
        match self {
            SourceConfig::File { name, .. } => name,
            SourceConfig::Feed(s) => &s.name,
            SourceConfig::Page(s) => &s.name,
            SourceConfig::Sitemap(s) => &s.name,
            SourceConfig::Hackernews(s)
            | SourceConfig::Reddit(s)
            | SourceConfig::Mastodon(s)
            | SourceConfig::Discourse(s) => &s.name,
        }
    }

    /// The collector of a web source; `None` for a local file.
    pub fn web_source(&self) -> Option<Arc<dyn Source>> {
        let discussion = |config: &DiscussionConfig, api: Api| -> Arc<dyn Source> {
            Arc::new(DiscussionSource {
                config: config.clone(),
                api,
            })
        };
        Some(match self {
            SourceConfig::File { .. } => return None,
            SourceConfig::Feed(s) => Arc::new(s.clone()),
            SourceConfig::Page(s) => Arc::new(s.clone()),
            SourceConfig::Sitemap(s) => Arc::new(s.clone()),
            SourceConfig::Hackernews(s) => discussion(s, Api::HackerNews),
            SourceConfig::Reddit(s) => discussion(s, Api::Reddit),
            SourceConfig::Mastodon(s) => discussion(s, Api::Mastodon),
            SourceConfig::Discourse(s) => discussion(s, Api::Discourse),
        })
    }
}

impl Pipeline {
    /// Parses pipeline text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Pipeline> {
        let pipeline: Pipeline = toml::from_str(text).map_err(|e| Error::Config {
            path: origin.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        pipeline.validate(origin)?;
        Ok(pipeline)
    }

    pub fn load(path: Option<&Path>) -> Result<(Pipeline, PathBuf)> {
        match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
                Ok((Pipeline::parse(&text, path)?, path.to_path_buf()))
            }
            None => {
                let origin = PathBuf::from("pipelines/default.toml (built in)");
                Ok((
                    Pipeline::parse(DEFAULT_PIPELINE, &origin)?,
                    PathBuf::from("."),
                ))
            }
        }
    }

    fn validate(&self, origin: &Path) -> Result<()> {
        let error = |message: String| Error::Config {
            path: origin.to_path_buf(),
            message,
        };
        let mut names = std::collections::HashSet::new();
        for source in &self.sources {
            if source.name().trim().is_empty() {
                return Err(error("a source has an empty name".into()));
            }
            if !names.insert(source.name()) {
                return Err(error(format!(
                    "source name {:?} is used twice",
                    source.name()
                )));
            }
            let source_error =
                |message: String| error(format!("source {:?}: {message}", source.name()));
            if let Some(web) = source.web_source() {
                match url::Url::parse(web.url()) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
                    _ => {
                        return Err(source_error(format!(
                            "url {:?} is not an absolute http(s) URL",
                            web.url()
                        )))
                    }
                }
                if let Some(lang) = web.lang() {
                    if crate::lang::normalise_code(lang).is_none() {
                        return Err(source_error(format!(
                            "lang {lang:?} is not a language code"
                        )));
                    }
                }
                if let SourceConfig::Page(page) = source {
                    page.selector().map_err(source_error)?;
                }
                continue;
            }
            let SourceConfig::File { map, lang, .. } = source else {
                continue;
            };
            for field in map.keys() {
                if !crate::import::FIELDS.contains(&field.as_str()) {
                    return Err(error(format!(
                        "source {:?}: map has unknown field {field:?}; valid fields: {}",
                        source.name(),
                        crate::import::FIELDS.join(", ")
                    )));
                }
            }
            if let Some(lang) = lang {
                if crate::lang::normalise_code(lang).is_none() {
                    return Err(error(format!(
                        "source {:?}: lang {lang:?} is not a language code",
                        source.name()
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Expands `${WEAKSIGNAL_SHARED}` and resolves a relative path against `base`.
pub fn resolve_path(raw: &str, base: &Path) -> PathBuf {
    let shared = crate::shared_dir();
    let expanded = raw.replace("${WEAKSIGNAL_SHARED}", &shared.to_string_lossy());
    let path = PathBuf::from(expanded);
    if path.is_relative() && !raw.starts_with("${WEAKSIGNAL_SHARED}") {
        base.join(path)
    } else {
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_pipeline_parses() {
        let (pipeline, _) = Pipeline::load(None).unwrap();
        assert!(!pipeline.sources.is_empty());
    }

    #[test]
    fn unknown_kind_lists_valid_ones() {
        let err = Pipeline::parse("[[sources]]\nname='x'\nkind='rss'\n", Path::new("p.toml"))
            .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("rss") && message.contains("file"),
            "{message}"
        );
    }

    #[test]
    fn web_sources_parse_and_their_mistakes_are_named() {
        let text = r#"
[[sources]]
name = "yle"
kind = "feed"
url = "https://yle.fi/rss/uutiset/paauutiset"
fetch_articles = true
lang = "fi"

[[sources]]
name = "hn"
kind = "hackernews"
url = "https://hn.algolia.com/api/v1/search_by_date?tags=story"

[[sources]]
name = "list"
kind = "page"
url = "https://example.fi/uutiset"
link_selector = "article h2 a"
"#;
        let error = |text: &str| {
            Pipeline::parse(text, Path::new("p.toml"))
                .unwrap_err()
                .to_string()
        };
        let pipeline = Pipeline::parse(text, Path::new("p.toml")).unwrap();
        assert_eq!(pipeline.sources.len(), 3);
        assert!(pipeline.sources.iter().all(|s| s.web_source().is_some()));
        let bad_option = text.replace("fetch_articles", "fetch_article");
        let err = error(&bad_option);
        assert!(
            err.contains("fetch_article") && err.contains("fetch_articles"),
            "{err}"
        );
        let bad_url = text.replace("https://example.fi/uutiset", "example.fi/uutiset");
        let err = error(&bad_url);
        assert!(
            err.contains("\"list\"") && err.contains("not an absolute"),
            "{err}"
        );
        let bad_selector = text.replace("article h2 a", "article >> a[");
        let err = error(&bad_selector);
        assert!(err.contains("link_selector"), "{err}");
        let err = error("[[sources]]\nname='x'\nkind='rss'\nurl='https://a.fi'\n");
        for kind in [
            "file",
            "feed",
            "page",
            "sitemap",
            "hackernews",
            "reddit",
            "mastodon",
            "discourse",
        ] {
            assert!(err.contains(kind), "{kind} missing from: {err}");
        }
    }

    #[test]
    fn the_finnish_pipeline_is_valid() {
        let text = include_str!("../pipelines/finland.toml");
        let pipeline = Pipeline::parse(text, Path::new("pipelines/finland.toml")).unwrap();
        assert!(pipeline.sources.len() >= 15);
        assert!(pipeline.sources.iter().all(|s| s.web_source().is_some()));
    }

    #[test]
    fn unknown_option_is_named() {
        let err = Pipeline::parse(
            "[[sources]]\nname='x'\nkind='file'\npath='a.csv'\nlanguage='fi'\n",
            Path::new("p.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("language"), "{err}");
    }
}
