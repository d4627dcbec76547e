//! Lexicon provisioning: gets the morphology resources into the lexicon
//! directory (`[morphology] path`, default `models/lexicons`) on demand, so
//! that a fresh machine needs no manual step.
//!
//! Three PyPI wheels, pinned in `models/lexicons.toml` with the sha256 of
//! each wheel and each extracted file: `pyvoikko` 0.6 for Voikko's Finnish
//! transducer (`voikko.kfst`, GPL-3.0), `textblob` 0.20.1 for Brill's
//! English tagger lexicon and rules (`en-lexicon.txt`, `en-context.txt`,
//! MIT, with CC-BY 3.0 additions) and `wordfreq` 3.1.1 for Finnish word
//! frequencies (`fi-frequencies.msgpack.gz`, CC BY-SA 4.0; a 57 MB wheel of
//! which one 4 MB list is kept). `models/fetch-lexicons.sh` downloads them
//! with pip; manifest and script are compiled into the binary, and the files
//! are verified here again after the script ran. The verification and the
//! running of the script are the model's ([`crate::embed::fetch`]).

use std::path::{Path, PathBuf};

use crate::embed::fetch::{ensure_provision, manifest_files, Provision};
use crate::error::{Error, Result};

pub use crate::embed::fetch::{FetchOutcome, PinnedFile};

/// The manifest of the lexicons.
pub const MANIFEST: &str = include_str!("../../models/lexicons.toml");
/// The script that downloads and unpacks them.
pub const FETCH_SCRIPT: &str = include_str!("../../models/fetch-lexicons.sh");

/// Voikko's Finnish transducer, in the lexicon directory.
pub const VOIKKO_FILE: &str = "voikko.kfst";
/// Brill's English lexicon (word, then its tags, most likely first).
pub const EN_LEXICON_FILE: &str = "en-lexicon.txt";
/// Brill's English contextual rules.
pub const EN_CONTEXT_FILE: &str = "en-context.txt";
/// wordfreq's Finnish word frequencies (see [`super::frequency`]).
pub const FREQUENCY_FILE: &str = "fi-frequencies.msgpack.gz";

const LEXICONS: Provision = Provision {
    noun: "lexicon",
    what: "the lexicons",
    size: "about 59 MB",
    manifest: MANIFEST,
    script: FETCH_SCRIPT,
    script_name: "models/fetch-lexicons.sh",
    wheels: "pyvoikko-0.6-py3-none-any.whl, textblob-0.20.1-py3-none-any.whl and wordfreq-3.1.1-py3-none-any.whl",
    auto_fetch_key: "morphology.auto_fetch",
    without_python: " Without the lexicons, terms fall back to Snowball stems.",
    missing: lexicon_missing,
};

fn lexicon_missing(path: PathBuf, message: String) -> Error {
    Error::Lexicon { path, message }
}

/// Files of the lexicons, from [`MANIFEST`].
pub fn pinned_files() -> Vec<PinnedFile> {
    manifest_files(MANIFEST)
}

/// Makes sure the lexicons are in `dir` with their pinned checksums,
/// downloading them when `allow_fetch` (and otherwise saying how to). A
/// no-op when they are there.
pub fn ensure(
    dir: &Path,
    allow_fetch: bool,
    progress: &crate::progress::Progress,
) -> Result<FetchOutcome> {
    ensure_provision(&LEXICONS, dir, allow_fetch, progress)
}

/// Where tests and benchmarks look for the lexicons:
/// `$WEAKSIGNAL_LEXICON_DIR`, else `models/lexicons` in this source tree
/// (where `bash models/fetch-lexicons.sh` puts them).
pub fn dev_dir() -> PathBuf {
    std::env::var_os("WEAKSIGNAL_LEXICON_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("models/lexicons"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_pins_every_resource_and_its_licence() {
        let files = pinned_files();
        for want in [
            VOIKKO_FILE,
            EN_LEXICON_FILE,
            EN_CONTEXT_FILE,
            FREQUENCY_FILE,
            "voikko-LICENSE",
            "textblob-LICENSE",
            "wordfreq-LICENSE",
            "wordfreq-README",
        ] {
            let f = files.iter().find(|f| f.dest == want).expect(want);
            assert_eq!(f.sha256.len(), 64, "{want}");
        }
        // The script pins the same files with the same checksums.
        for f in &files {
            let pin = format!("|{}|{}\"", f.dest, f.sha256);
            assert!(FETCH_SCRIPT.contains(&pin), "fetch-lexicons.sh lacks {pin}");
        }
        let manifest: toml::Value = toml::from_str(MANIFEST).unwrap();
        for source in manifest["source"].as_array().unwrap() {
            let sha = source["sha256"].as_str().unwrap();
            let wheel = source["wheel"].as_str().unwrap();
            assert!(
                FETCH_SCRIPT.contains(sha),
                "fetch-lexicons.sh lacks {wheel}'s {sha}"
            );
            assert!(
                FETCH_SCRIPT.contains(wheel),
                "fetch-lexicons.sh lacks {wheel}"
            );
        }
    }

    #[test]
    fn missing_and_corrupt_files_name_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let progress = crate::progress::Progress::hidden();
        let err = ensure(dir.path(), false, &progress)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(VOIKKO_FILE) && err.contains("weaksignal models fetch"),
            "{err}"
        );
        assert!(err.contains("morphology.auto_fetch"), "{err}");
        for f in pinned_files() {
            std::fs::write(dir.path().join(&f.dest), b"not the lexicon").unwrap();
        }
        let err = ensure(dir.path(), false, &progress).unwrap_err();
        assert!(matches!(err, Error::ModelChecksum { .. }), "{err}");
        let err = err.to_string();
        assert!(
            err.contains(VOIKKO_FILE) && err.contains("models fetch"),
            "{err}"
        );
    }

    /// The fetched directory, when there: every file with its pinned sum.
    #[test]
    fn fetched_lexicons_verify() {
        let dir = dev_dir();
        if !dir.join(VOIKKO_FILE).is_file() {
            eprintln!(
                "\n*** SKIPPED fetched_lexicons_verify: no lexicons in {} (run `weaksignal models fetch` or bash models/fetch-lexicons.sh, or set WEAKSIGNAL_LEXICON_DIR) ***\n",
                dir.display()
            );
            return;
        }
        let progress = crate::progress::Progress::hidden();
        assert_eq!(
            ensure(&dir, false, &progress).unwrap(),
            FetchOutcome::AlreadyPresent
        );
    }
}
