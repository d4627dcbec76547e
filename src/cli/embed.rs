//! The embedding commands: `embed`, `embed-text` and `similar` (the
//! operations are in [`crate::workspace`] and [`crate::embed::search`]).

use std::io::{BufRead, Write};

use super::{output, Context, SimilarArgs};
use crate::embed::{self, search as vsearch, Embedder};
use crate::error::{Error, Result};
use crate::index::SearchResults;
use crate::store::Store;
use crate::time::parse_bound;
use crate::Outcome;

fn write_err(e: std::io::Error) -> Error {
    Error::io("<stdout>", e)
}

/// `weaksignal embed`: vectors for every document that lacks a current one.
pub fn embed_store(ctx: &Context, json: bool, out: &mut dyn Write) -> Result<Outcome> {
    let mut store = Store::open(&ctx.data_dir)?;
    let summary = ctx.embed_missing(&mut store)?;
    if json {
        output::json(out, &summary)?;
    } else {
        output::line(
            out,
            &format!(
                "embedded {} documents with {} in {:.1} s ({:.1} docs/s)",
                summary.embedded, summary.model, summary.seconds, summary.docs_per_second
            ),
        )?;
    }
    Ok(Outcome::Success)
}

/// Lines of stdin, 1024 at a time with the number of the first: memory
/// stays flat for long inputs, and each chunk is still length-sorted into
/// batches when it is embedded. A line that is not UTF-8 is an error naming it.
fn stdin_chunks() -> impl Iterator<Item = Result<(usize, Vec<String>)>> {
    let mut input = std::io::stdin().lock().lines();
    let mut number = 0usize;
    std::iter::from_fn(move || {
        let first = number + 1;
        let mut lines = Vec::with_capacity(1024);
        for line in input.by_ref().take(1024) {
            number += 1;
            match line {
                Ok(line) => lines.push(line),
                Err(e) => {
                    return Some(Err(Error::Input {
                        path: "<stdin>".into(),
                        message: format!("line {number}: {e} (input must be UTF-8)"),
                    }))
                }
            }
        }
        (!lines.is_empty()).then_some(Ok((first, lines)))
    })
}

/// `weaksignal embed-text`: one vector per stdin line.
pub fn embed_text(ctx: &Context, query: bool, json: bool, out: &mut dyn Write) -> Result<Outcome> {
    let embedder = embed::load(&ctx.config.model, &ctx.progress)?;
    for chunk in stdin_chunks() {
        let (_, lines) = chunk?;
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let vectors = if query {
            embedder.embed_queries(&refs)?
        } else {
            embedder.embed_passages(&refs)?
        };
        for v in vectors {
            if json {
                serde_json::to_writer(&mut *out, &v).map_err(|e| write_err(e.into()))?;
            } else {
                let text: Vec<String> = v.iter().map(|x| x.to_string()).collect();
                out.write_all(text.join(" ").as_bytes())
                    .map_err(write_err)?;
            }
            out.write_all(b"\n").map_err(write_err)?;
        }
    }
    Ok(Outcome::Success)
}

/// `weaksignal import-vectors DIR`: vectors computed elsewhere into the store.
pub fn import_vectors(
    ctx: &Context,
    dir: &std::path::Path,
    json: bool,
    out: &mut dyn Write,
) -> Result<Outcome> {
    // The model tells the id and size the vectors must have.
    let embedder = embed::load(&ctx.config.model, &ctx.progress)?;
    let mut store = Store::open(&ctx.data_dir)?;
    let summary =
        embed::import::import_vectors(&mut store, dir, embedder.model_id(), embedder.dims())?;
    if json {
        output::json(out, &summary)?;
    } else {
        output::line(
            out,
            &format!(
                "{} files: {} vectors imported, {} already there, {} skipped (document changed), {} skipped (no such document), {} rejected",
                summary.files,
                summary.imported,
                summary.already,
                summary.skipped_changed,
                summary.skipped_missing,
                summary.rejected
            ),
        )?;
        for why in &summary.rejections {
            output::line(out, &format!("  rejected: {why}"))?;
        }
    }
    Ok(if summary.rejected > 0 {
        Outcome::Partial
    } else {
        Outcome::Success
    })
}

/// A line of `embed-text --documents`: a row of the export's documents.
#[derive(serde::Deserialize)]
struct DocumentLine {
    id: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

/// What `embed-text --documents` writes per document.
#[derive(serde::Serialize)]
struct DocumentVectorLine<'a> {
    id: &'a str,
    /// Of the title and text embedded, as the store computes it: the
    /// importer keeps the vector only if the stored document still has it.
    content_hash: String,
    model: &'a str,
    vector: &'a [f32],
}

/// `weaksignal embed-text --documents`: a vector per JSON document line,
/// embedded as `weaksignal embed` embeds a stored document (title and text
/// as one passage), for backfills on other machines (Spark) that
/// `weaksignal import-vectors` loads back.
pub fn embed_documents(ctx: &Context, out: &mut dyn Write) -> Result<Outcome> {
    let embedder = embed::load(&ctx.config.model, &ctx.progress)?;
    let model = embedder.model_id().to_string();
    for chunk in stdin_chunks() {
        let (first, lines) = chunk?;
        let docs = lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_str::<DocumentLine>(line).map_err(|e| Error::Input {
                    path: "<stdin>".into(),
                    message: format!(
                        "line {}: {e} (each line must be a JSON object with \"id\", \"title\" and \"text\")",
                        first + i
                    ),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        fn parts(d: &DocumentLine) -> (&str, &str) {
            (
                d.title.as_deref().unwrap_or_default(),
                d.text.as_deref().unwrap_or_default(),
            )
        }
        let texts: Vec<String> = docs
            .iter()
            .map(|d| {
                let (title, text) = parts(d);
                embed::passage_text(title, text)
            })
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vectors = embedder.embed_passages(&refs)?;
        for (doc, vector) in docs.iter().zip(&vectors) {
            let (title, text) = parts(doc);
            let line = DocumentVectorLine {
                id: &doc.id,
                content_hash: crate::document::content_hash(title, text),
                model: &model,
                vector,
            };
            serde_json::to_writer(&mut *out, &line).map_err(|e| write_err(e.into()))?;
            out.write_all(b"\n").map_err(write_err)?;
        }
    }
    Ok(Outcome::Success)
}

/// `weaksignal tag`: each line of stdin on a taxonomy.
pub fn tag(ctx: &Context, args: super::TagArgs, out: &mut dyn Write) -> Result<Outcome> {
    use crate::taxonomy::tagger::Method;
    let method = match args.method {
        super::TagMethod::Trained => Method::Trained,
        super::TagMethod::Prototypes => Method::Prototypes,
        super::TagMethod::ZeroShot => Method::ZeroShot,
        super::TagMethod::Keywords => Method::Keywords,
    };
    let embedder = std::sync::Arc::new(embed::load(&ctx.config.model, &ctx.progress)?);
    let model = embedder.model_id().to_string();
    let tagger = ctx.tagger(
        &model,
        &mut || Ok(std::sync::Arc::clone(&embedder)),
        &args.taxonomy,
        method,
    )?;
    for chunk in stdin_chunks() {
        let (first, lines) = chunk?;
        let scores: Vec<Vec<f64>> = if method == Method::Keywords {
            lines.iter().map(|l| tagger.keyword_scores(l)).collect()
        } else {
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            embedder
                .embed_passages(&refs)?
                .iter()
                .map(|v| tagger.scores(v))
                .collect()
        };
        for (i, (line, scores)) in lines.iter().zip(&scores).enumerate() {
            let tags = tagger.top(scores, args.top);
            if args.json {
                let value = serde_json::json!({"line": first + i, "text": line, "tags": tags});
                serde_json::to_writer(&mut *out, &value).map_err(|e| write_err(e.into()))?;
                out.write_all(b"\n").map_err(write_err)?;
                continue;
            }
            let shown: Vec<String> = tags
                .iter()
                .map(|t| format!("{} {:.2}", t.id, t.score))
                .collect();
            output::line(
                out,
                &format!("{}\t{}", shown.join(", "), crate::html::one_line(line)),
            )?;
        }
    }
    Ok(Outcome::Success)
}

/// `weaksignal similar`: nearest stored vectors to the text as a query.
pub fn similar(ctx: &Context, args: SimilarArgs, out: &mut dyn Write) -> Result<Outcome> {
    let from = args
        .from
        .as_deref()
        .map(|d| parse_bound(d, false))
        .transpose()?;
    let to = args
        .to
        .as_deref()
        .map(|d| parse_bound(d, true))
        .transpose()?;
    // Documents without a vector would be invisible: embed them first.
    let mut store = Store::open(&ctx.data_dir)?;
    ctx.ensure_vectors(&mut store)?;
    let embedder = embed::load(&ctx.config.model, &ctx.progress)?;
    let model = embedder.model_id().to_string();
    let query = embedder.embed_query(&args.text)?;
    let limit = args.limit.clamp(1, 1000);
    let (total, ranked) = vsearch::nearest(&store, &model, &query, from, to, limit)?;
    vsearch::warn_missing(&store, &model)?;
    let hits = vsearch::hits_for(&store, &ranked, None, None)?;
    let results = SearchResults {
        total,
        hits,
        facets: None,
        histogram: None,
    };
    if args.json {
        output::json(out, &results)?;
    } else {
        output::search_results(out, &results)?;
    }
    Ok(Outcome::Success)
}
