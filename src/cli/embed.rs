//! The embedding commands: `embed`, `embed-text`, `similar`, and the vector
//! half of `search --hybrid`.

use std::io::{BufRead, Write};

use serde::Serialize;

use super::{output, Context, SimilarArgs};
use crate::embed::{self, search as vsearch, Embedder};
use crate::error::{Error, Result};
use crate::index::{SearchIndex, SearchRequest, SearchResults};
use crate::store::Store;
use crate::time::parse_bound;
use crate::Outcome;

/// Candidates each ranking contributes to hybrid fusion.
const HYBRID_DEPTH: usize = 100;

fn write_err(e: std::io::Error) -> Error {
    Error::io("<stdout>", e)
}

#[derive(Serialize)]
pub(super) struct EmbedSummary {
    pub(super) model: String,
    pub(super) embedded: u64,
    pub(super) seconds: f64,
    docs_per_second: f64,
}

/// `weaksignal embed`: vectors for every document that lacks a current one.
pub fn embed_store(ctx: &Context, json: bool, out: &mut dyn Write) -> Result<Outcome> {
    let mut store = Store::open(&ctx.data_dir)?;
    let summary = embed_missing(ctx, &mut store)?;
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

/// The model id of the stored vectors, after embedding whatever lacks a
/// vector (loading, and if needed fetching, the model only then).
pub fn ensure_vectors(ctx: &Context, store: &mut Store) -> Result<String> {
    if let Some(model) = embed::known_model_id(&ctx.config.model) {
        if store.count_missing_vectors(&model)? == 0 {
            return Ok(model);
        }
    }
    Ok(embed_missing(ctx, store)?.model)
}

pub(super) fn embed_missing(ctx: &Context, store: &mut Store) -> Result<EmbedSummary> {
    let embedder = embed::load(&ctx.config.model, &ctx.progress)?;
    let model = embedder.model_id().to_string();
    let missing = store.count_missing_vectors(&model)?;
    tracing::info!(model = %model, missing, "embedding documents");
    let bar = ctx.progress.items(missing, "embedding");
    let started = std::time::Instant::now();
    let mut embedded = 0u64;
    let batch = ctx.config.model.commit_every;
    let mut rows = store.missing_vectors(&model, 0, batch)?;
    while let Some(last) = rows.last() {
        let after_seq = last.seq;
        let texts: Vec<String> = rows
            .iter()
            .map(|row| embed::passage_text(&row.title, &row.text))
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        // The next page is read while this one is embedded: the cores stay
        // busy with the model instead of waiting for the store.
        let (vectors, next) = std::thread::scope(|s| {
            let embedding = s.spawn(|| embedder.embed_passages(&refs));
            let next = store.missing_vectors(&model, after_seq, batch);
            (embedding.join().expect("embedding thread panicked"), next)
        });
        let vectors = vectors?;
        let writer = store.writer()?;
        for (row, v) in rows.iter().zip(&vectors) {
            writer.put_vector(&row.id, &model, &row.content_hash, &embed::encode_f16(v))?;
        }
        writer.commit()?;
        crate::failpoint::hit("embed.page");
        embedded += rows.len() as u64;
        bar.inc(rows.len() as u64);
        tracing::debug!(embedded, missing, "batch committed");
        rows = next?;
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    Ok(EmbedSummary {
        model,
        embedded,
        seconds,
        docs_per_second: if seconds > 0.0 {
            embedded as f64 / seconds
        } else {
            0.0
        },
    })
}

/// `weaksignal embed-text`: one vector per stdin line.
pub fn embed_text(ctx: &Context, query: bool, json: bool, out: &mut dyn Write) -> Result<Outcome> {
    let embedder = embed::load(&ctx.config.model, &ctx.progress)?;
    let stdin = std::io::stdin();
    let mut input = stdin.lock().lines();
    let mut number = 0usize;
    // Reads and embeds 1024 lines at a time: memory stays flat for long inputs,
    // and each chunk is still length-sorted into batches.
    loop {
        let mut lines = Vec::with_capacity(1024);
        for line in input.by_ref().take(1024) {
            number += 1;
            lines.push(line.map_err(|e| Error::Input {
                path: "<stdin>".into(),
                message: format!("line {number}: {e} (input must be UTF-8)"),
            })?);
        }
        if lines.is_empty() {
            break;
        }
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

fn warn_missing(store: &Store, model: &str) -> Result<()> {
    if store.has_vectors_table()? {
        let missing = store.count_missing_vectors(model)?;
        if missing > 0 {
            tracing::warn!(missing, model = %model, "documents without a vector are not searched; run `weaksignal embed`");
        }
    }
    Ok(())
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
    ensure_vectors(ctx, &mut store)?;
    let embedder = embed::load(&ctx.config.model, &ctx.progress)?;
    let model = embedder.model_id().to_string();
    let query = embedder.embed_query(&args.text)?;
    let limit = args.limit.clamp(1, 1000);
    let (total, ranked) = vsearch::nearest(&store, &model, &query, from, to, limit)?;
    warn_missing(&store, &model)?;
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

/// `search --hybrid`: BM25 and vector ranks fused by reciprocal rank fusion.
pub fn hybrid(
    ctx: &Context,
    store: &Store,
    index: &SearchIndex,
    request: &SearchRequest,
) -> Result<SearchResults> {
    let embedder = embed::load(&ctx.config.model, &ctx.progress)?;
    hybrid_with(&embedder, store, index, request)
}

/// [`hybrid`] with an embedder already loaded (the server keeps one).
pub fn hybrid_with(
    embedder: &dyn embed::Embedder,
    store: &Store,
    index: &SearchIndex,
    request: &SearchRequest,
) -> Result<SearchResults> {
    let depth = request.limit.max(HYBRID_DEPTH);
    let bm25 = index.search(
        store,
        &SearchRequest {
            limit: depth,
            ..request.clone()
        },
    )?;
    let model = embedder.model_id().to_string();
    let query = embedder.embed_query(&request.query)?;
    // Over-fetch: source and language filters apply after the scan.
    let (_, ranked) = vsearch::nearest(store, &model, &query, request.from, request.to, depth * 4)?;
    warn_missing(store, &model)?;
    let mut vector = vsearch::hits_for(
        store,
        &ranked,
        request.source.as_deref(),
        request.lang.as_deref(),
    )?;
    vector.truncate(depth);
    let mut fused = vsearch::fuse(bm25.hits, vector, request.limit.max(1));
    fused.facets = bm25.facets;
    fused.histogram = bm25.histogram;
    Ok(fused)
}
