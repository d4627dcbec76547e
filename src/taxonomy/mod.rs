//! Taxonomies that foresight analysts place signals on: Sitra's megatrends,
//! STEEP(V), the UN Sustainable Development Goals, the European Pillar of
//! Social Rights and the drivers of change. They are data, one TOML file
//! each under `taxonomies/`: the built-in files are compiled into the binary
//! (a fresh install has them), and a file dropped into the configured
//! directory adds a taxonomy or replaces the built-in one of the same id.
//! [`tagger`] places texts, documents and topics on them zero-shot, with the
//! embeddings the pipeline already has.

pub mod tagger;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A text in both first-class languages.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Bilingual {
    pub en: String,
    pub fi: String,
}

/// One category of a taxonomy.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub id: String,
    pub name: Bilingual,
    /// Two to four sentences per language: what the category covers and what
    /// news about it talks of. The tagger embeds these.
    pub description: Bilingual,
    /// Headlines typical of the category, written by us (not taken from any
    /// corpus): the tagger's prototypes, when given.
    #[serde(default)]
    pub examples: Option<Examples>,
    /// The chapter it belongs to, for taxonomies that have chapters.
    #[serde(default)]
    pub chapter: Option<String>,
}

/// Example headlines of a category, per language.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Examples {
    #[serde(default)]
    pub en: Vec<String>,
    #[serde(default)]
    pub fi: Vec<String>,
}

/// A group of categories (the Pillar of Social Rights' three chapters).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Chapter {
    pub id: String,
    pub name: Bilingual,
}

/// One taxonomy file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Taxonomy {
    pub id: String,
    pub name: Bilingual,
    pub description: Bilingual,
    /// The public definition the categories follow.
    pub source: String,
    #[serde(rename = "category")]
    pub categories: Vec<Category>,
    #[serde(default, rename = "chapter")]
    pub chapters: Vec<Chapter>,
    /// blake3 of the file's text: cached category vectors are keyed by it.
    #[serde(skip)]
    pub hash: String,
    /// Where it came from: the file, or `built-in:<id>`.
    #[serde(skip)]
    pub origin: PathBuf,
}

/// The taxonomies compiled into the binary.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "sitra-megatrends-2023",
        include_str!("../../taxonomies/sitra-megatrends-2023.toml"),
    ),
    ("drivers", include_str!("../../taxonomies/drivers.toml")),
    ("steep", include_str!("../../taxonomies/steep.toml")),
    ("sdg", include_str!("../../taxonomies/sdg.toml")),
    (
        "social-rights",
        include_str!("../../taxonomies/social-rights.toml"),
    ),
];

impl Taxonomy {
    /// Parses and checks one taxonomy file's text; `origin` names it in errors
    /// and `expected_id` is the file's stem, which the id must equal.
    pub fn parse(text: &str, origin: &Path, expected_id: &str) -> Result<Taxonomy> {
        let error = |message: String| Error::Config {
            path: origin.to_path_buf(),
            message,
        };
        let mut taxonomy: Taxonomy = toml::from_str(text).map_err(|e| error(e.to_string()))?;
        taxonomy.hash = blake3::hash(text.as_bytes()).to_hex()[..16].to_string();
        taxonomy.origin = origin.to_path_buf();
        taxonomy.check().map_err(error)?;
        if taxonomy.id != expected_id {
            return Err(error(format!(
                "id = {:?}, but the file is named {expected_id}.toml: they must match",
                taxonomy.id
            )));
        }
        Ok(taxonomy)
    }

    fn check(&self) -> std::result::Result<(), String> {
        let valid_id = |id: &str| {
            !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        if !valid_id(&self.id) {
            return Err(format!(
                "id {:?}: use lowercase letters, digits and hyphens",
                self.id
            ));
        }
        if self.categories.len() < 2 {
            return Err("a taxonomy needs at least two [[category]] entries".into());
        }
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.categories.iter().enumerate() {
            let at = format!("category {} ({:?})", i + 1, c.id);
            if !valid_id(&c.id) {
                return Err(format!(
                    "{at}: id: use lowercase letters, digits and hyphens"
                ));
            }
            if !seen.insert(c.id.as_str()) {
                return Err(format!("{at}: id is used twice"));
            }
            for (field, text) in [
                ("name.en", &c.name.en),
                ("name.fi", &c.name.fi),
                ("description.en", &c.description.en),
                ("description.fi", &c.description.fi),
            ] {
                if text.trim().is_empty() {
                    return Err(format!("{at}: {field} is empty"));
                }
            }
            if let Some(chapter) = &c.chapter {
                if !self.chapters.iter().any(|ch| &ch.id == chapter) {
                    return Err(format!(
                        "{at}: chapter {chapter:?} is not one of the file's [[chapter]] ids"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Compiled into the binary (not read from a file).
    pub fn is_built_in(&self) -> bool {
        self.origin.to_string_lossy().starts_with("built-in:")
    }

    pub fn category(&self, id: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.id == id)
    }
}

/// The taxonomies a run can use: the built-in ones and a directory's files.
#[derive(Debug, Clone)]
pub struct Taxonomies {
    pub list: Vec<Taxonomy>,
}

impl Taxonomies {
    /// The built-in taxonomies, then every `*.toml` in `dir` (when given and
    /// present); a file replaces the built-in taxonomy of the same id.
    pub fn load(dir: Option<&Path>) -> Result<Taxonomies> {
        let mut list = Vec::new();
        for (id, text) in BUILT_IN {
            list.push(Taxonomy::parse(
                text,
                Path::new(&format!("built-in:{id}")),
                id,
            )?);
        }
        let Some(dir) = dir.filter(|d| d.is_dir()) else {
            return Ok(Taxonomies { list });
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let taxonomy = Taxonomy::parse(&text, &path, &stem)?;
            match list.iter_mut().find(|t| t.id == taxonomy.id) {
                Some(existing) => *existing = taxonomy,
                None => list.push(taxonomy),
            }
        }
        Ok(Taxonomies { list })
    }

    /// The taxonomy `id`, or an error listing the ones there are.
    pub fn get(&self, id: &str) -> Result<&Taxonomy> {
        self.list.iter().find(|t| t.id == id).ok_or_else(|| {
            let ids: Vec<&str> = self.list.iter().map(|t| t.id.as_str()).collect();
            Error::Usage(format!("no taxonomy {id:?}; there are: {}", ids.join(", ")))
        })
    }
}

/// `--tag TAXONOMY:CATEGORY` (or just `CATEGORY`): signals tagged with it.
#[derive(Debug, Clone, PartialEq)]
pub struct TagFilter {
    pub taxonomy: Option<String>,
    pub category: String,
}

impl TagFilter {
    /// Parses and checks a filter against the known taxonomies: a typo is an
    /// error that lists what there is, not an empty answer.
    pub fn parse(spec: &str, taxonomies: &Taxonomies) -> Result<TagFilter> {
        let (taxonomy, category) = match spec.trim().split_once(':') {
            Some((t, c)) => (Some(t.trim().to_string()), c.trim().to_string()),
            None => (None, spec.trim().to_string()),
        };
        let known: Vec<&Taxonomy> = match &taxonomy {
            Some(t) => vec![taxonomies.get(t)?],
            None => taxonomies.list.iter().collect(),
        };
        if !known.iter().any(|t| t.category(&category).is_some()) {
            let ids: Vec<String> = known
                .iter()
                .flat_map(|t| {
                    t.categories
                        .iter()
                        .map(move |c| format!("{}:{}", t.id, c.id))
                })
                .collect();
            return Err(Error::Usage(format!(
                "tag {spec:?}: no such category; there are: {}",
                ids.join(", ")
            )));
        }
        Ok(TagFilter { taxonomy, category })
    }

    pub fn matches(&self, tags: &[tagger::Tag]) -> bool {
        tags.iter().any(|t| {
            t.id == self.category && self.taxonomy.as_ref().is_none_or(|x| *x == t.taxonomy)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_taxonomies_load_with_their_category_counts() {
        let all = Taxonomies::load(None).unwrap();
        let count = |id: &str| all.get(id).unwrap().categories.len();
        assert_eq!(count("sitra-megatrends-2023"), 5);
        assert_eq!(count("drivers"), 5);
        assert_eq!(count("steep"), 6);
        assert_eq!(count("sdg"), 17);
        assert_eq!(count("social-rights"), 20);
        let rights = all.get("social-rights").unwrap();
        assert_eq!(rights.chapters.len(), 3);
        assert!(rights.categories.iter().all(|c| c.chapter.is_some()));
    }

    #[test]
    fn tag_filters_name_a_known_category() {
        let all = Taxonomies::load(None).unwrap();
        let f = TagFilter::parse("sitra-megatrends-2023:nature", &all).unwrap();
        let tag = |taxonomy: &str, id: &str| tagger::Tag {
            taxonomy: taxonomy.into(),
            id: id.into(),
            name: String::new(),
            score: 0.5,
        };
        assert!(f.matches(&[
            tag("steep", "economic"),
            tag("sitra-megatrends-2023", "nature")
        ]));
        assert!(!f.matches(&[tag("steep", "environmental")]));
        let bare = TagFilter::parse("economic", &all).unwrap();
        assert!(bare.matches(&[tag("steep", "economic")]));
        let e = TagFilter::parse("steep:economy", &all)
            .unwrap_err()
            .to_string();
        assert!(e.contains("steep:economic"), "{e}");
        assert!(TagFilter::parse("nope:x", &all).is_err());
    }

    #[test]
    fn a_bad_file_is_refused_naming_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.toml");
        std::fs::write(
            &path,
            "id = \"mine\"\nname = { en = \"M\", fi = \"M\" }\ndescription = { en = \"d\", fi = \"d\" }\nsource = \"s\"\n[[category]]\nid = \"a\"\nname = { en = \"A\", fi = \"A\" }\ndescription = { en = \"\", fi = \"x\" }\n[[category]]\nid = \"b\"\nname = { en = \"B\", fi = \"B\" }\ndescription = { en = \"y\", fi = \"y\" }\n",
        )
        .unwrap();
        let e = Taxonomies::load(Some(dir.path())).unwrap_err().to_string();
        assert!(e.contains("mine.toml"), "{e}");
        assert!(e.contains("description.en is empty"), "{e}");
        std::fs::write(&path, "id = \"other\"\nnonsense = 1\n").unwrap();
        let e = Taxonomies::load(Some(dir.path())).unwrap_err().to_string();
        assert!(e.contains("mine.toml") && e.contains("nonsense"), "{e}");
    }

    #[test]
    fn a_dropped_in_file_adds_a_taxonomy_and_can_replace_a_built_in_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = |id: &str| {
            format!("id = \"{id}\"\nname = {{ en = \"M\", fi = \"M\" }}\ndescription = {{ en = \"d\", fi = \"d\" }}\nsource = \"s\"\n[[category]]\nid = \"a\"\nname = {{ en = \"A\", fi = \"A\" }}\ndescription = {{ en = \"x\", fi = \"x\" }}\n[[category]]\nid = \"b\"\nname = {{ en = \"B\", fi = \"B\" }}\ndescription = {{ en = \"y\", fi = \"y\" }}\n")
        };
        std::fs::write(dir.path().join("mine.toml"), file("mine")).unwrap();
        std::fs::write(dir.path().join("steep.toml"), file("steep")).unwrap();
        let all = Taxonomies::load(Some(dir.path())).unwrap();
        assert_eq!(all.get("mine").unwrap().categories.len(), 2);
        assert_eq!(all.get("steep").unwrap().categories.len(), 2);
        assert_eq!(all.list.len(), 6);
        assert!(all.get("nope").unwrap_err().to_string().contains("mine"));
    }
}
