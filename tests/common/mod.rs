//! Helpers for the integration tests: a sandbox with its own data directory,
//! a runner for the real `weaksignal` binary, and the shared data path.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The shared data directory, as the build script found it.
pub fn shared() -> PathBuf {
    std::env::var_os("WEAKSIGNAL_SHARED")
        .map(PathBuf::from)
        .or_else(|| option_env!("WEAKSIGNAL_SHARED_AT_BUILD").map(PathBuf::from))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

pub fn guardian_csv() -> PathBuf {
    shared().join("corpora/guardian-headlines/guardian_headlines.csv")
}

pub fn yle_csv() -> PathBuf {
    shared().join("corpora/yle-selkouutiset/selkouutiset_stories_fi_en.csv")
}

/// What a run of the binary printed and returned.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "expected exit code {code}, got {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

/// A temporary working directory with its own data directory.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.path("data")
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).expect("write fixture");
        path
    }

    /// `program` (the weaksignal binary, or a copy of it) set up for this
    /// sandbox: its directory, data directory, shared data and lexicons.
    pub fn command(&self, program: &std::path::Path) -> Command {
        let mut command = Command::new(program);
        command
            .current_dir(self.dir.path())
            .env("WEAKSIGNAL_DATA_DIR", self.data_dir())
            .env("WEAKSIGNAL_SHARED", shared())
            .env("WEAKSIGNAL_LEXICON_DIR", lexicon_dir())
            .env_remove("WEAKSIGNAL_LOG");
        command
    }

    /// Runs `weaksignal ARGS` with this sandbox's data directory.
    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Run {
        let output = self
            .command(env!("CARGO_BIN_EXE_weaksignal").as_ref())
            .args(args)
            .output()
            .expect("run weaksignal");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Sandbox {
    /// Runs `weaksignal ARGS` with `input` on its stdin.
    pub fn run_with_stdin<S: AsRef<std::ffi::OsStr>>(&self, args: &[S], input: &str) -> Run {
        use std::io::Write;
        let mut child = self
            .command(env!("CARGO_BIN_EXE_weaksignal").as_ref())
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run weaksignal");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        let output = child.wait_with_output().expect("wait for weaksignal");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Runs `weaksignal ARGS...` in a sandbox: `ws!(sandbox, "search", "x")`.
#[macro_export]
macro_rules! ws {
    ($sandbox:expr, $($arg:expr),+ $(,)?) => {
        $sandbox.run(&[$(std::ffi::OsString::from($arg)),+])
    };
}

/// Declares a test that needs the shared data: ignored, with the reason, when it is missing.
#[macro_export]
macro_rules! shared_test {
    ($(#[$meta:meta])* fn $name:ident() $body:block) => {
        $(#[$meta])*
        #[test]
        #[cfg_attr(not(shared_data), ignore = "shared data (../shared or WEAKSIGNAL_SHARED) is missing")]
        fn $name() $body
    };
}

/// The titles of the hits in a `search --json` result.
pub fn hit_titles(results: &serde_json::Value) -> Vec<String> {
    results["hits"]
        .as_array()
        .expect("hits array")
        .iter()
        .map(|h| h["title"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The embedding model directory the build script looked at.
pub fn model_dir() -> PathBuf {
    std::env::var_os("WEAKSIGNAL_MODEL_DIR")
        .map(PathBuf::from)
        .or_else(|| option_env!("WEAKSIGNAL_MODEL_DIR_AT_BUILD").map(PathBuf::from))
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("models/multilingual-e5-small")
        })
}

/// The morphology's lexicons (Voikko, Brill): `$WEAKSIGNAL_LEXICON_DIR`, else
/// the repository's models/lexicons, where `weaksignal models fetch` and
/// `.ci/run` put them (a sandbox without them fetches them there).
pub fn lexicon_dir() -> PathBuf {
    std::env::var_os("WEAKSIGNAL_LEXICON_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("models/lexicons"))
}

/// Declares a test that needs the embedding model and the shared data:
/// ignored, with the reason, when either is missing.
#[macro_export]
macro_rules! model_test {
    ($(#[$meta:meta])* fn $name:ident() $body:block) => {
        $(#[$meta])*
        #[test]
        #[cfg_attr(
            not(all(e5_model, shared_data)),
            ignore = "embedding model (run `weaksignal models fetch`, or .ci/run, and rebuild) or shared data (../shared or WEAKSIGNAL_SHARED) missing"
        )]
        fn $name() $body
    };
}

/// Declares a test that needs the model, the shared data and the
/// morphology's lexicons: ignored, with the reason, when one is missing.
#[macro_export]
macro_rules! lexicon_test {
    ($(#[$meta:meta])* fn $name:ident() $body:block) => {
        $(#[$meta])*
        #[test]
        #[cfg_attr(
            not(all(e5_model, shared_data, lexicons)),
            ignore = "embedding model, shared data or morphology lexicons (run `weaksignal models fetch`, or .ci/run, and rebuild) missing"
        )]
        fn $name() $body
    };
}

/// `weaksignal -q import` of the Yle selkouutiset corpus (Finnish titles and texts).
pub fn import_yle(sandbox: &Sandbox) -> Run {
    import_yle_file(sandbox, &yle_csv())
}

/// `weaksignal -q import CSV` of rows of the Yle selkouutiset corpus (its columns).
pub fn import_yle_file(sandbox: &Sandbox, csv: &Path) -> Run {
    sandbox.run(&[
        "-q",
        "import",
        csv.to_str().expect("a UTF-8 path"),
        "--source",
        "yle-selkouutiset",
        "--lang",
        "fi",
        "--map",
        "published=date",
        "--map",
        "title=title_fi",
        "--map",
        "text=text_fi",
    ])
}

/// Writes the Guardian headlines published from `from` to `to` (inclusive,
/// `(year, month, day)`) as `name` in the sandbox; returns the row count.
pub fn guardian_rows(
    sandbox: &Sandbox,
    name: &str,
    from: (i32, u32, u32),
    to: (i32, u32, u32),
) -> usize {
    let day =
        |(y, m, d): (i32, u32, u32)| chrono::NaiveDate::from_ymd_opt(y, m, d).expect("a date");
    let (from, to) = (day(from), day(to));
    let mut reader = csv::Reader::from_path(guardian_csv()).expect("guardian csv");
    let mut writer = csv::Writer::from_path(sandbox.path(name)).expect("write the corpus");
    writer.write_record(["Time", "Headlines"]).unwrap();
    let mut rows = 0;
    for record in reader.records() {
        let record = record.expect("a Guardian row");
        let Ok(date) = chrono::NaiveDate::parse_from_str(record[0].trim(), "%d-%b-%y") else {
            continue;
        };
        if date >= from && date <= to {
            writer.write_record([&record[0], &record[1]]).unwrap();
            rows += 1;
        }
    }
    writer.flush().unwrap();
    rows
}

/// `weaksignal -q import FILE` with the Guardian CSV's column mapping.
pub fn import_guardian(sandbox: &Sandbox, file: &str) -> Run {
    sandbox.run(&[
        "-q",
        "import",
        file,
        "--source",
        "guardian",
        "--lang",
        "en",
        "--map",
        "published=Time",
        "--map",
        "title=Headlines",
    ])
}

/// A `config.toml` naming the test model, plus `extra` TOML.
pub fn write_config(sandbox: &Sandbox, extra: &str) {
    sandbox.write(
        "config.toml",
        format!(
            "[model]\npath = {:?}\n{extra}",
            model_dir().display().to_string()
        ),
    );
}
