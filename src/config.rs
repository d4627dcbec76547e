//! `config.toml`: the settings of one environment (where data lives, import
//! limits, index tuning). What a pipeline does lives in `pipelines/*.toml`;
//! how one run behaves lives in command-line flags.
//!
//! Every key is optional. An unknown key is an error that names it, because a
//! misspelt limit silently falling back to its default is worse than a stop.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the store, index and every derived table live. Relative paths are
    /// resolved against the directory of the configuration file.
    pub data_dir: PathBuf,
    pub import: ImportConfig,
    pub index: IndexConfig,
    pub model: ModelConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("data"),
            import: ImportConfig::default(),
            index: IndexConfig::default(),
            model: ModelConfig::default(),
        }
    }
}

/// Limits and defaults applied to every imported or collected document.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportConfig {
    /// Rows written per store transaction when not `--strict`.
    pub batch_size: usize,
    /// A longer title rejects the row.
    pub max_title_bytes: usize,
    /// A longer text rejects the row.
    pub max_text_bytes: usize,
    /// A longer line (JSONL) or record (CSV) rejects the row without reading it all.
    pub max_record_bytes: usize,
    /// Publication dates further than this in the future are rejected.
    pub max_future_hours: i64,
    /// The languages (ISO 639-1) that language detection may choose from.
    /// A short list is faster and far more accurate on headlines.
    pub detect_languages: Vec<String>,
}

impl Default for ImportConfig {
    fn default() -> Self {
        ImportConfig {
            batch_size: 50_000,
            max_title_bytes: 4 * 1024,
            max_text_bytes: 2 * 1024 * 1024,
            max_record_bytes: 64 * 1024 * 1024,
            max_future_hours: 24,
            detect_languages: vec!["fi".into(), "en".into(), "sv".into()],
        }
    }
}

/// tantivy tuning.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IndexConfig {
    /// Memory budget of the index writer, in MB, shared by its threads.
    pub writer_memory_mb: usize,
    /// Indexing threads; 0 means one per core, at most 4.
    pub writer_threads: usize,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            writer_memory_mb: 128,
            writer_threads: 1,
        }
    }
}

/// The embedding model (see `crate::embed`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Model directory: either what `weaksignal models fetch` leaves there
    /// (`e5-small-q4.bin` + `tokenizer.json`, the default model) or a Hugging
    /// Face layout (`config.json`, `model.safetensors`, `tokenizer.json`),
    /// used as is. Relative paths are resolved like `data_dir`.
    pub path: PathBuf,
    /// Download the default model when a command needs it and it is missing.
    pub auto_fetch: bool,
    /// Tokens per text, incl. the two special tokens; the rest is cut.
    pub max_seq_len: usize,
    /// Texts per forward pass.
    pub batch_size: usize,
    /// Documents embedded per store transaction by `weaksignal embed` (a kill loses at most these).
    pub commit_every: usize,
    /// Batches embedded in parallel, each on one core (0 = one per core).
    /// With more than one, candle's own matmul threading is turned off.
    pub workers: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            path: PathBuf::from("models/multilingual-e5-small"),
            auto_fetch: true,
            max_seq_len: 256,
            batch_size: 32,
            commit_every: 256,
            workers: 0,
        }
    }
}

impl Config {
    /// Loads `path`. A missing file is an error only when `required` (the user named it).
    pub fn load(path: &Path, required: bool) -> Result<Config> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(Config::default())
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        let mut config = Config::parse(&text).map_err(|message| Error::Config {
            path: path.to_path_buf(),
            message,
        })?;
        if config.data_dir.is_relative() {
            let base = path.parent().filter(|p| !p.as_os_str().is_empty());
            if let Some(base) = base {
                config.data_dir = base.join(&config.data_dir);
            }
        }
        if config.model.path.is_relative() {
            let base = path.parent().filter(|p| !p.as_os_str().is_empty());
            if let Some(base) = base {
                config.model.path = base.join(&config.model.path);
            }
        }
        Ok(config)
    }

    /// Parses and validates configuration text; the error names the key and line.
    pub fn parse(text: &str) -> std::result::Result<Config, String> {
        let config: Config =
            toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        let import = &self.import;
        if import.batch_size == 0 {
            return Err("import.batch_size must be at least 1".into());
        }
        if import.max_text_bytes == 0 || import.max_title_bytes == 0 {
            return Err("import.max_text_bytes and import.max_title_bytes must be positive".into());
        }
        if import.max_record_bytes < import.max_text_bytes {
            return Err("import.max_record_bytes must be at least import.max_text_bytes".into());
        }
        for code in &import.detect_languages {
            if crate::lang::whatlang_for(code).is_none() {
                return Err(format!(
                    "import.detect_languages: unknown language {code:?} (use ISO 639-1 codes such as \"fi\", \"en\", \"sv\")"
                ));
            }
        }
        let model = &self.model;
        if model.max_seq_len < 8 || model.max_seq_len > 512 {
            return Err(format!(
                "model.max_seq_len must be in 8..=512 (got {})",
                model.max_seq_len
            ));
        }
        if model.batch_size == 0 || model.commit_every == 0 {
            return Err("model.batch_size and model.commit_every must be at least 1".into());
        }
        if self.index.writer_memory_mb < 16 {
            return Err("index.writer_memory_mb must be at least 16".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_named() {
        let err = Config::parse("[import]\nbatch_sise = 3\n").unwrap_err();
        assert!(err.contains("batch_sise"), "{err}");
        let err = Config::parse("data_dri = \"x\"\n").unwrap_err();
        assert!(err.contains("data_dri"), "{err}");
    }

    #[test]
    fn empty_file_gives_defaults() {
        let config = Config::parse("").unwrap();
        assert_eq!(config.import.batch_size, 50_000);
        assert_eq!(config.data_dir, PathBuf::from("data"));
        assert_eq!(config.model.max_seq_len, 256);
        let err = Config::parse("[model]\nmax_seq_len = 4\n").unwrap_err();
        assert!(err.contains("max_seq_len"), "{err}");
        let err = Config::parse("[model]\npaht = \"x\"\n").unwrap_err();
        assert!(err.contains("paht"), "{err}");
    }

    #[test]
    fn bad_language_is_rejected() {
        let err =
            Config::parse("[import]\ndetect_languages = [\"fi\", \"klingon\"]\n").unwrap_err();
        assert!(err.contains("klingon"), "{err}");
    }
}
