//! `weaksignal doctor`: checks that the data directory is consistent, and
//! with `--repair` rebuilds what is derived from the store.
//!
//! The store (SQLite) is the record; the search index, the vectors and the
//! clustering checkpoints are derived from it and can always be rebuilt. So
//! the doctor never touches documents: it checks the store's own integrity,
//! that the index opens, has sound segments and agrees with the store, that
//! every document has a vector of the right length for the current model,
//! and that the model's and the lexicons' files are present and intact.
//! Repairs take the run lock, so they never race a scheduled run.

use std::io::Write;

use serde::Serialize;

use super::{output, Context, DoctorArgs};
use crate::error::{Error, Result};
use crate::index::{SearchIndex, INDEX_DIR};
use crate::run::lock::RunLock;
use crate::store::Store;
use crate::Outcome;

#[derive(Debug, Serialize)]
struct Check {
    name: &'static str,
    /// `ok`, `problem`, `repaired`.
    status: &'static str,
    detail: String,
    /// What to do about a problem `--repair` does not fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

impl Check {
    fn ok(name: &'static str, detail: String) -> Check {
        Check {
            name,
            status: "ok",
            detail,
            fix: None,
        }
    }

    fn problem(name: &'static str, detail: String, fix: &str) -> Check {
        Check {
            name,
            status: "problem",
            detail,
            fix: Some(fix.to_string()),
        }
    }
}

pub fn doctor(ctx: &Context, args: DoctorArgs, out: &mut dyn Write) -> Result<Outcome> {
    let _lock = if args.repair {
        Some(RunLock::acquire(&ctx.data_dir)?)
    } else {
        None
    };
    let mut checks = Vec::new();
    let mut store = if args.repair {
        Store::open(&ctx.data_dir)?
    } else {
        Store::open_read_only(&ctx.data_dir)?
    };

    // the store
    let documents = store.count()?;
    let problems = store.integrity_problems()?;
    checks.push(if problems.is_empty() {
        Check::ok("store", format!("{documents} documents, integrity ok"))
    } else {
        Check::problem(
            "store",
            format!("{}: {}", store.path().display(), problems.join("; ")),
            "the store is the record and cannot be rebuilt: restore it from a backup or `weaksignal export`",
        )
    });

    // the search index
    checks.push(check_index(ctx, &store, documents, args.repair)?);

    // the model and the vectors
    let (model_ok, model) = check_model(ctx, &mut checks);
    match model {
        None => checks.push(Check::problem(
            "vectors",
            "cannot check: the model is unknown".into(),
            "fetch the model first",
        )),
        Some(model) => checks.push(check_vectors(
            ctx,
            &mut store,
            &model,
            model_ok,
            args.repair,
        )?),
    }

    checks.push(check_morphology(ctx));

    let (count, bytes) = store.checkpoint_size()?;
    checks.push(Check::ok(
        "checkpoints",
        format!(
            "{count} clustering checkpoints, {:.1} MB (derived; a mismatch is detected per run)",
            bytes as f64 / 1e6
        ),
    ));

    if args.json {
        output::json(out, &checks)?;
    } else {
        for c in &checks {
            output::line(out, &format!("{:<9} {:<12} {}", c.status, c.name, c.detail))?;
            if let Some(fix) = &c.fix {
                output::line(out, &format!("{:<22} fix: {fix}", ""))?;
            }
        }
    }
    Ok(if checks.iter().any(|c| c.status == "problem") {
        Outcome::Partial
    } else {
        Outcome::Success
    })
}

/// Whether the configured model is usable, and the id its vectors are stored
/// under. The default model is checked against the manifest's pins; a
/// Hugging Face-layout directory the user supplied has no pins, so it is
/// checked by loading it.
fn check_model(ctx: &Context, checks: &mut Vec<Check>) -> (bool, Option<String>) {
    let model_dir = &ctx.config.model.path;
    if crate::embed::ModelLayout::detect(model_dir) == Some(crate::embed::ModelLayout::HuggingFace)
    {
        return match crate::embed::E5Embedder::open(model_dir, &ctx.config.model) {
            Ok(embedder) => {
                use crate::embed::Embedder;
                let id = embedder.model_id().to_string();
                checks.push(Check::ok(
                    "model",
                    format!(
                        "{} (Hugging Face layout) loads as {id}",
                        model_dir.display()
                    ),
                ));
                (true, Some(id))
            }
            Err(e) => {
                checks.push(Check::problem(
                    "model",
                    e.to_string(),
                    "replace the directory's config.json, model.safetensors and tokenizer.json, or set model.path to another model",
                ));
                (false, None)
            }
        };
    }
    let progress = crate::progress::Progress::hidden();
    let model_ok = match crate::embed::fetch::ensure(model_dir, false, &progress) {
        Ok(_) => {
            checks.push(Check::ok(
                "model",
                format!("{} present, checksums ok", model_dir.display()),
            ));
            true
        }
        Err(e) => {
            checks.push(Check::problem(
                "model",
                e.to_string(),
                "run `weaksignal models fetch` (or set model.path in config.toml)",
            ));
            false
        }
    };
    checks.push(Check::ok(
        "precision",
        crate::embed::precision_summary(ctx.config.model.precision),
    ));
    (model_ok, crate::embed::known_model_id(&ctx.config.model))
}

/// Whether the lexicons are present with their pinned checksums and Voikko's
/// transducer loads. Never downloads.
fn check_morphology(ctx: &Context) -> Check {
    let dir = &ctx.config.morphology.path;
    let progress = crate::progress::Progress::hidden();
    let fix = "run `weaksignal models fetch` (or set morphology.path in config.toml)";
    if let Err(e) = crate::morph::fetch::ensure(dir, false, &progress) {
        return Check::problem("morphology", e.to_string(), fix);
    }
    let voikko = dir.join(crate::morph::fetch::VOIKKO_FILE);
    match crate::morph::voikko::Voikko::open(&voikko) {
        Ok(_) => Check::ok(
            "morphology",
            format!(
                "{} present, checksums ok, {} loads",
                dir.display(),
                crate::morph::fetch::VOIKKO_FILE
            ),
        ),
        Err(e) => Check::problem("morphology", e.to_string(), fix),
    }
}

fn check_index(ctx: &Context, store: &Store, documents: u64, repair: bool) -> Result<Check> {
    let dir = ctx.data_dir.join(INDEX_DIR);
    let problem = match SearchIndex::open_dir(&dir) {
        Ok(None) => Some(format!("{}: no index yet", dir.display())),
        Err(e) => Some(e.to_string()),
        Ok(Some(index)) => {
            let damaged = index.damaged_files()?;
            if !damaged.is_empty() {
                let names: Vec<String> = damaged.iter().map(|p| p.display().to_string()).collect();
                Some(format!("damaged segment files: {}", names.join(", ")))
            } else {
                match index.num_docs() {
                    Err(e) => Some(e.to_string()),
                    Ok(n) if n != documents => Some(format!(
                        "the index has {n} documents, the store {documents}"
                    )),
                    Ok(n) => {
                        let behind = index.watermark()? < store.max_seq()?;
                        if behind {
                            Some("the index has not seen the newest store writes".into())
                        } else {
                            return Ok(Check::ok(
                                "index",
                                format!("{n} documents, segments sound, agrees with the store"),
                            ));
                        }
                    }
                }
            }
        }
    };
    let problem = problem.unwrap_or_default();
    if !repair {
        return Ok(Check::problem(
            "index",
            problem,
            "run `weaksignal doctor --repair` (rebuilds the index from the store)",
        ));
    }
    let started = std::time::Instant::now();
    let index = crate::index::rebuild(&ctx.data_dir, store, &ctx.config.index)?;
    let n = index.num_docs()?;
    if n != documents {
        return Err(Error::Inconsistent {
            path: dir.to_path_buf(),
            message: format!("rebuilt index has {n} documents, the store {documents}"),
        });
    }
    Ok(Check {
        name: "index",
        status: "repaired",
        detail: format!(
            "{problem}; rebuilt from the store in {:.1} s ({n} documents)",
            started.elapsed().as_secs_f64()
        ),
        fix: None,
    })
}

fn check_vectors(
    ctx: &Context,
    store: &mut Store,
    model: &str,
    model_ok: bool,
    repair: bool,
) -> Result<Check> {
    let lengths = store.vector_lengths(model)?;
    let damaged: u64 = lengths.iter().skip(1).map(|(_, n)| n).sum();
    let missing = store.count_missing_vectors(model)?;
    if damaged == 0 && missing == 0 {
        return Ok(Check::ok(
            "vectors",
            format!("every document has a {model} vector"),
        ));
    }
    let problem = format!(
        "{damaged} damaged (truncated) vectors, {missing} documents without a current vector"
    );
    if !repair {
        return Ok(Check::problem(
            "vectors",
            problem,
            "run `weaksignal doctor --repair` (deletes damaged vectors and embeds what is missing)",
        ));
    }
    if !model_ok {
        return Ok(Check::problem(
            "vectors",
            problem,
            "fetch the model, then `weaksignal doctor --repair`",
        ));
    }
    let deleted = match lengths.first() {
        Some(&(healthy, _)) if damaged > 0 => store.delete_vectors_not_of_length(model, healthy)?,
        _ => 0,
    };
    let summary = ctx.embed_missing(store)?;
    Ok(Check {
        name: "vectors",
        status: "repaired",
        detail: format!(
            "{problem}; deleted {deleted}, embedded {}",
            summary.embedded
        ),
        fix: None,
    })
}
