//! Declarative pipelines (`pipelines/*.toml`): what to collect and import.
//!
//! A pipeline lists its sources; each is one variant of a closed enum tagged by
//! `kind`, so a misspelt kind or option is an error that lists the valid ones.
//! `weaksignal validate` checks a file without running it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

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
}

impl SourceConfig {
    pub fn name(&self) -> &str {
        match self {
            SourceConfig::File { name, .. } => name,
        }
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
            let SourceConfig::File { map, lang, .. } = source;
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
    fn unknown_option_is_named() {
        let err = Pipeline::parse(
            "[[sources]]\nname='x'\nkind='file'\npath='a.csv'\nlanguage='fi'\n",
            Path::new("p.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("language"), "{err}");
    }
}
