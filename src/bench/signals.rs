//! `weaksignal bench signals`: the cost of topics + trends + signals at a
//! given store size, measured on real documents and vectors replicated from
//! the current store (each copy shifted in time, vectors slightly jittered so
//! copies do not collapse into one point).

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::document::Document;
use crate::error::{Error, Result};
use crate::signals::view::{Checkpoints, View};
use crate::store::Store;
use crate::topics::Corpus;
use crate::workspace::Workspace as Context;

/// Seconds per stage of one run.
#[derive(Debug, Clone, Serialize)]
pub struct StageTimes {
    pub documents: usize,
    /// Documents read with their texts and vectors (the rest are covered by a checkpoint).
    pub loaded: usize,
    /// Window of the checkpoint the run started after, if any.
    pub from_checkpoint: Option<i64>,
    pub checkpoints_saved: usize,
    /// Reading every document's key and checking the checkpoints.
    pub keys_seconds: f64,
    pub load_seconds: f64,
    pub terms_seconds: f64,
    pub cluster_seconds: f64,
    pub signals_seconds: f64,
    pub total_seconds: f64,
    pub topics: usize,
    pub signals: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SignalsBench {
    pub documents: usize,
    pub years: f64,
    pub build_seconds: f64,
    pub full: StageTimes,
    pub as_of_past: StageTimes,
    pub incremental: StageTimes,
    pub checkpoints: usize,
    pub checkpoint_mb: f64,
    pub peak_rss_mb: f64,
}

/// One `signals` run as the CLI does it, timed per stage.
pub fn timed_run(ctx: &Context, store: &mut Store, model: &str, as_of: i64) -> Result<StageTimes> {
    let started = Instant::now();
    let window = ctx.config.topics.window;
    let (topics, signals) = (&ctx.config.topics, &ctx.config.signals);
    let view = View::build(
        store,
        model,
        &ctx.morphology(),
        as_of,
        window,
        topics,
        signals,
        Checkpoints::Use,
    )?;
    let t = Instant::now();
    let (report, summaries) = view.analyse(topics, signals)?;
    Ok(StageTimes {
        documents: report.figures.documents,
        loaded: view.corpus.len(),
        from_checkpoint: view.from_checkpoint,
        checkpoints_saved: view.checkpoints_saved,
        keys_seconds: view.timings.keys,
        load_seconds: view.timings.load,
        terms_seconds: view.timings.terms,
        cluster_seconds: view.timings.cluster,
        signals_seconds: t.elapsed().as_secs_f64(),
        total_seconds: started.elapsed().as_secs_f64(),
        topics: summaries.len(),
        signals: report.signals.len(),
    })
}

/// Builds the replicated store in `work` and times the three runs.
pub fn run(ctx: &Context, docs: usize, add: usize, work: &Path) -> Result<SignalsBench> {
    let mut source = Store::open(&ctx.data_dir)?;
    let model = ctx.ensure_vectors(&mut source)?;
    let base = Corpus::load(&source, &model, None)?;
    if base.is_empty() {
        return Err(Error::EmptyStore {
            path: ctx.data_dir.clone(),
        });
    }
    let started = Instant::now();
    let mut store = Store::open(work)?;
    let copies = docs.div_ceil(base.len());
    // Copies are shifted by a fifth of a year each, so the whole spans about
    // the base span + copies / 5 years, like a store that grew over time.
    let shift = 73 * 86_400;
    let mut written = 0usize;
    'outer: for copy in 0..copies {
        for chunk in (0..base.len()).step_by(20_000) {
            let stop = (chunk + 20_000).min(base.len()).min(chunk + docs - written);
            let offset = copy as i64 * shift;
            let rows = (chunk..stop).map(|d| (d, base.published[d] + offset));
            write_copies(&mut store, &base, &model, copy, rows)?;
            written += stop - chunk;
            if written >= docs {
                break 'outer;
            }
        }
    }
    let build_seconds = started.elapsed().as_secs_f64();
    let first = store.published_range()?.map(|r| r.0).unwrap_or(0);
    let end = store.published_range()?.map(|r| r.1).unwrap_or(0);
    tracing::info!(
        docs = written,
        secs = build_seconds,
        "replicated store built"
    );
    let full = timed_run(ctx, &mut store, &model, end)?;
    let as_of_past = timed_run(ctx, &mut store, &model, first + (end - first) * 3 / 4)?;
    // one more day: the newest documents again, one day later, with new ids
    let newest = base.published[base.len() - 1];
    let day = (base.len().saturating_sub(add)..base.len())
        .map(|d| (d, end + 86_400 - (newest - base.published[d]).min(86_399)));
    write_copies(&mut store, &base, &model, copies + 1, day)?;
    let incremental = timed_run(ctx, &mut store, &model, end + 86_400)?;
    let (checkpoints, checkpoint_bytes) = store.checkpoint_size()?;
    Ok(SignalsBench {
        documents: written,
        years: (end - first) as f64 / (365.25 * 86_400.0),
        build_seconds,
        full,
        as_of_past,
        incremental,
        checkpoints,
        checkpoint_mb: checkpoint_bytes as f64 / 1e6,
        peak_rss_mb: crate::progress::peak_rss_mb(),
    })
}

/// Writes copy number `copy` of the base documents `(index, published)`,
/// with their jittered vectors, in one transaction.
fn write_copies(
    store: &mut Store,
    base: &Corpus,
    model: &str,
    copy: usize,
    rows: impl Iterator<Item = (usize, i64)>,
) -> Result<()> {
    let writer = store.writer()?;
    for (d, published) in rows {
        let doc = replicated(base, d, copy, published);
        writer.put(&doc)?;
        let v = jitter(base.vector(d), (copy * 1_000_003 + d) as u64);
        writer.put_vector(
            &doc.id,
            model,
            &doc.content_hash,
            &crate::embed::encode_f16(&v),
        )?;
    }
    writer.commit()
}

fn replicated(base: &Corpus, d: usize, copy: usize, published: i64) -> Document {
    let title = base.titles[d].clone();
    let text = String::new();
    Document {
        id: format!("{}-r{copy}", base.ids[d]),
        source: base.sources[base.source[d] as usize].clone(),
        url: None,
        content_hash: crate::document::content_hash(&title, &text),
        title,
        text,
        published: chrono::DateTime::from_timestamp(published, 0).unwrap_or_default(),
        fetched_at: chrono::DateTime::from_timestamp(published, 0).unwrap_or_default(),
        lang: base.langs[d].clone(),
    }
}

/// `v` plus small deterministic noise, renormalised (cosine to `v` about 0.99).
fn jitter(v: &[f32], seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let noisy: Vec<f32> = v
        .iter()
        .map(|x| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let u = ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5;
            x + u * 0.012
        })
        .collect();
    crate::topics::normalized(&noisy)
}
