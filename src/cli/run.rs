//! `weaksignal run` and `weaksignal status`: the whole job, stage by stage,
//! with a lock, a ledger and the day's report.
//!
//! Every stage is incremental: collectors fetch only what is new, imports
//! recognise stored rows, the index catches up from the store's sequence
//! number, only documents without a vector are embedded, clustering starts
//! from its newest checkpoint. So a rerun after a crash (or the next
//! morning's run) does only the work that is left, and never stores anything
//! twice.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{collect, output, Context, RunArgs, StatusArgs};
use crate::error::{Error, Result};
use crate::import::ImportOptions;
use crate::index::SearchRequest;
use crate::pipeline::{resolve_path, Pipeline, SourceConfig};
use crate::report::{Format, ReportRequest};
use crate::run::lock::RunLock;
use crate::run::{RunNotes, RunStatus, SourceOutcome, SourceStatus, StageRecord, StageStatus};
use crate::signals::view::Checkpoints;
use crate::store::Store;
use crate::Outcome;

/// Directory of the reports inside the data directory.
pub const REPORTS_DIR: &str = "reports";

/// The ledger side of a run: stages so far, saved after each one.
struct Ledger {
    store: Store,
    id: i64,
    started_at: i64,
    as_of: Option<String>,
    stages: Vec<StageRecord>,
}

impl Ledger {
    fn save(&self) -> Result<()> {
        let json = serde_json::to_string(&self.stages).map_err(|e| Error::Serialize {
            what: "run ledger".into(),
            message: e.to_string(),
        })?;
        self.store.update_run(self.id, self.as_of.as_deref(), &json)
    }

    /// Runs one stage: times it, records it, and turns an error into a
    /// failed stage (the caller decides whether the run can go on).
    fn stage<T>(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut StageRecord) -> Result<T>,
    ) -> Result<std::result::Result<T, String>> {
        let started = Instant::now();
        let mut record = StageRecord::new(name);
        let result = f(&mut record);
        record.seconds = started.elapsed().as_secs_f64();
        let result = match result {
            Ok(value) => Ok(value),
            Err(e) => {
                tracing::error!(stage = name, error = %e, "stage failed");
                record.status = StageStatus::Failed;
                record.errors.push(e.to_string());
                Err(e.to_string())
            }
        };
        self.stages.push(record);
        self.save()?;
        crate::failpoint::hit("ledger.stage");
        Ok(result)
    }

    fn skip(&mut self, name: &str, why: &str) -> Result<()> {
        let mut record = StageRecord::new(name);
        record.status = StageStatus::Skipped;
        record.errors.push(why.to_string());
        self.stages.push(record);
        self.save()
    }

    fn status(&self) -> RunStatus {
        if self.stages.iter().any(|s| s.status == StageStatus::Failed) {
            RunStatus::Failed
        } else if self.stages.iter().any(|s| s.status == StageStatus::Partial) {
            RunStatus::Partial
        } else {
            RunStatus::Ok
        }
    }
}

fn source_kind(source: &SourceConfig) -> &'static str {
    match source {
        SourceConfig::File { .. } => "file",
        SourceConfig::Feed(_) => "feed",
        SourceConfig::Page(_) => "page",
        SourceConfig::Sitemap(_) => "sitemap",
        SourceConfig::Hackernews(_) => "hackernews",
        SourceConfig::Reddit(_) => "reddit",
        SourceConfig::Mastodon(_) => "mastodon",
        SourceConfig::Discourse(_) => "discourse",
    }
}

/// `weaksignal run`.
pub fn run(ctx: &Context, args: RunArgs, out: &mut dyn Write) -> Result<Outcome> {
    let (pipeline, origin) = Pipeline::load(args.pipeline.as_deref())?;
    let base = if origin.is_file() {
        origin.parent().map(Path::to_path_buf).unwrap_or_default()
    } else {
        PathBuf::from(".")
    };
    let lock = RunLock::acquire(&ctx.data_dir)?;
    let started_at = chrono::Utc::now();
    let store = Store::open(&ctx.data_dir)?;
    let pipeline_name = match &args.pipeline {
        Some(p) => p.display().to_string(),
        None => "pipelines/default.toml (built in)".into(),
    };
    let id = store.start_run(&pipeline_name, started_at.timestamp())?;
    tracing::info!(run = id, pipeline = %pipeline_name, lock = %lock.path().display(), "run started");
    let mut ledger = Ledger {
        store,
        id,
        started_at: started_at.timestamp(),
        as_of: None,
        stages: Vec::new(),
    };
    let mut sources: Vec<SourceOutcome> = Vec::new();
    let result = stages(ctx, &args, &pipeline, &base, &mut ledger, &mut sources, out);
    let status = match &result {
        Ok(()) => ledger.status(),
        Err(_) => RunStatus::Failed,
    };
    ledger.save()?;
    ledger
        .store
        .finish_run(id, status.name(), chrono::Utc::now().timestamp())?;
    stage_lines(out, &ledger.stages)?;
    output::line(
        out,
        &format!(
            "run {id} {} in {:.1} s",
            status.name(),
            (chrono::Utc::now() - started_at).num_milliseconds() as f64 / 1000.0
        ),
    )?;
    drop(lock);
    match (result, status) {
        (Err(e), _) => Err(e),
        (Ok(()), RunStatus::Failed) => {
            let failed = ledger
                .stages
                .iter()
                .find(|s| s.status == StageStatus::Failed)
                .map(|s| (s.name.clone(), s.errors.join("; ")))
                .unwrap_or_default();
            Err(Error::RunFailed {
                run_id: id,
                stage: failed.0,
                message: failed.1,
            })
        }
        (Ok(()), RunStatus::Partial) => Ok(Outcome::Partial),
        _ => Ok(Outcome::Success),
    }
}

fn stages(
    ctx: &Context,
    args: &RunArgs,
    pipeline: &Pipeline,
    base: &Path,
    ledger: &mut Ledger,
    sources: &mut Vec<SourceOutcome>,
    out: &mut dyn Write,
) -> Result<()> {
    let given_as_of = match &args.as_of {
        Some(date) => Some(crate::time::parse_bound(date, true)?.timestamp()),
        None => None,
    };
    let offline = args.offline || ctx.config.crawler.offline;
    // collect: web sources
    let web: Vec<_> = pipeline
        .sources
        .iter()
        .filter_map(|s| s.web_source().map(|w| (s, w)))
        .collect();
    if web.is_empty() {
        ledger.skip("collect", "the pipeline has no web sources")?;
    } else if offline {
        let why = if args.offline {
            "offline: --offline"
        } else {
            "offline: crawler.offline = true in the configuration"
        };
        for (config, _) in &web {
            sources.push(SourceOutcome {
                source: config.name().to_string(),
                kind: source_kind(config).into(),
                status: SourceStatus::Skipped,
                detail: why.into(),
            });
        }
        // Deliberately offline is not a failure; the report lists the sources as skipped.
        ledger.skip("collect", why)?;
    } else {
        let kinds: std::collections::HashMap<String, &'static str> = web
            .iter()
            .map(|(c, _)| (c.name().to_string(), source_kind(c)))
            .collect();
        let list = web.into_iter().map(|(_, w)| w).collect();
        let collected = ledger.stage("collect", |stage| {
            let summaries = collect::run(ctx, list, None, false)?;
            for s in &summaries {
                stage.count("new", s.new);
                stage.count("updated", s.updated);
                stage.count("fetched", s.fetched);
                stage.count("near_duplicates", s.near_duplicates);
                stage.count("failed_urls", s.failed_total());
                let kind = kinds.get(&s.source).copied().unwrap_or("web").to_string();
                let (status, detail) = match &s.error {
                    Some(e) => {
                        stage.problem(format!("{}: {e}", s.source));
                        (SourceStatus::Failed, e.clone())
                    }
                    None => (
                        SourceStatus::Ok,
                        format!(
                            "{} new, {} unchanged, {} failed URLs",
                            s.new,
                            s.unchanged,
                            s.failed_total()
                        ),
                    ),
                };
                sources.push(SourceOutcome {
                    source: s.source.clone(),
                    kind,
                    status,
                    detail,
                });
            }
            collect::summary_lines(out, &summaries, false)?;
            Ok(())
        })?;
        if let Err(e) = collected {
            // A collector that cannot start (bad crawler settings) fails its
            // sources, not the run: the local corpora are still imported.
            for (name, kind) in kinds {
                sources.push(SourceOutcome {
                    source: name,
                    kind: kind.into(),
                    status: SourceStatus::Failed,
                    detail: e.clone(),
                });
            }
            if let Some(stage) = ledger.stages.last_mut() {
                stage.status = StageStatus::Partial;
            }
        }
    }

    // normalise + store + index: local files
    let files: Vec<&SourceConfig> = pipeline
        .sources
        .iter()
        .filter(|s| matches!(s, SourceConfig::File { .. }))
        .collect();
    let imported = ledger.stage("import", |stage| {
        let store_and_index = ctx.open_for_writing()?;
        let (mut store, index) = store_and_index;
        for source in &files {
            let SourceConfig::File {
                name,
                path,
                format,
                lang,
                map,
            } = source
            else {
                continue;
            };
            let file = resolve_path(path, base);
            let options = ImportOptions {
                format: *format,
                source: Some(name.clone()),
                lang: lang.clone(),
                map: map.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                strict: false,
            };
            match ctx.import_file(&mut store, &index, &file, &options) {
                Ok(summary) => {
                    stage.count("imported", summary.imported);
                    stage.count("updated", summary.updated);
                    stage.count("duplicates", summary.duplicates);
                    stage.count("rejected", summary.rejected);
                    output::import_summary(out, &summary)?;
                    sources.push(SourceOutcome {
                        source: name.clone(),
                        kind: "file".into(),
                        status: SourceStatus::Ok,
                        detail: format!(
                            "{} new, {} already stored, {} rejected rows",
                            summary.imported, summary.duplicates, summary.rejected
                        ),
                    });
                }
                Err(e) => {
                    tracing::error!(source = %name, error = %e, "source failed");
                    stage.problem(format!("{name}: {e}"));
                    sources.push(SourceOutcome {
                        source: name.clone(),
                        kind: "file".into(),
                        status: SourceStatus::Failed,
                        detail: e.to_string(),
                    });
                }
            }
        }
        stage.count("documents", store.count()?);
        stage.count("indexed", index.num_docs()?);
        if let Some(query) = &pipeline.example_query {
            let request = SearchRequest {
                query: query.clone(),
                limit: 5,
                ..SearchRequest::default()
            };
            let results = index.search(&store, &request)?;
            output::line(out, &format!("\nexample search: {query}"))?;
            output::search_results(out, &results)?;
        }
        Ok(())
    })?;
    if let Err(e) = imported {
        return Err(Error::Task {
            what: "the import stage".into(),
            message: format!("the store could not be written: {e}"),
        });
    }

    // embed
    let embedded = ledger.stage("embed", |stage| {
        let mut store = Store::open(&ctx.data_dir)?;
        // Nothing to embed: do not load the model (seconds).
        if let Some(model) = crate::embed::known_model_id(&ctx.config.model) {
            if store.count_missing_vectors(&model)? == 0 {
                stage.count("embedded", 0);
                return Ok(model);
            }
        }
        let summary = ctx.embed_missing(&mut store)?;
        stage.count("embedded", summary.embedded);
        Ok(summary.model)
    })?;
    let model = match embedded {
        Ok(model) => model,
        Err(_) => {
            ledger.skip("signals", "no vectors: the embed stage failed")?;
            ledger.skip("report", "no vectors: the embed stage failed")?;
            return Ok(());
        }
    };

    // the learned ranking, refitted when the stored one is a week old
    let _ranked = ledger.stage("rank", |stage| {
        let mut store = Store::open(&ctx.data_dir)?;
        let as_of = store.as_of_or_newest(given_as_of)?;
        let (window, topics, signals) = (
            ctx.config.topics.window,
            &ctx.config.topics,
            &ctx.config.signals,
        );
        let morphology = ctx.morphology();
        let settings =
            crate::signals::rank::settings_key(&model, morphology.id(), window, topics, signals);
        let fresh = store
            .rank_model(&settings, as_of)?
            .is_some_and(|row| as_of - row.as_of < 7 * 86_400);
        if fresh {
            stage.count("refitted", 0);
            return Ok(());
        }
        let spinner = ctx.progress.spinner("fitting the ranking");
        let (fit, _) = crate::signals::backtest::fit_and_save(
            &mut store,
            &model,
            &morphology,
            as_of,
            window,
            topics,
            signals,
            |_, _| {},
        )?;
        spinner.finish_and_clear();
        stage.count("refitted", 1);
        stage.count("labelled_flags", fit.labelled as u64);
        stage.count("model", u64::from(fit.model.is_some()));
        Ok(())
    })?;

    // cluster + trends + signals + report
    let reported = ledger.stage("signals", |stage| {
        let mut store = Store::open(&ctx.data_dir)?;
        let as_of = store.as_of_or_newest(given_as_of)?;
        let request = ReportRequest {
            model: &model,
            as_of,
            window: ctx.config.topics.window,
            topics: &ctx.config.topics,
            signals: &ctx.config.signals,
            per_class: 15,
            checkpoints: Checkpoints::Use,
            morphology: &ctx.morphology(),
        };
        let report = crate::report::generate(&mut store, &request)?;
        for class in crate::report::CLASS_ORDER {
            stage.count(class.name(), report.of_class(class).count() as u64);
        }
        Ok(report)
    })?;
    let mut report = match reported {
        Ok(report) => report,
        Err(_) => {
            ledger.skip("report", "the signals stage failed")?;
            return Ok(());
        }
    };
    ledger.as_of = Some(report.current.as_of.clone());
    report.run = Some(RunNotes {
        run_id: ledger.id,
        started_at: crate::signals::rfc3339(ledger.started_at),
        sources: sources.clone(),
    });
    // A failed report stage is in the ledger; the signals below still print.
    let _report_written = ledger.stage("report", |stage| {
        let dir = ctx.data_dir.join(REPORTS_DIR);
        let day = crate::report::day(&report.current.as_of).to_string();
        let html = report.render(Format::Html)?;
        let signals =
            serde_json::to_string_pretty(&report.current).map_err(|e| Error::Serialize {
                what: "signals".into(),
                message: e.to_string(),
            })?;
        for (name, text) in [
            (format!("{day}.html"), &html),
            ("latest.html".to_string(), &html),
            (format!("{day}.signals.json"), &signals),
            ("latest.signals.json".to_string(), &signals),
        ] {
            crate::report::write_atomic(&dir.join(&name), text.as_bytes())?;
        }
        stage.count("signals", report.current.signals.len() as u64);
        output::line(
            out,
            &format!(
                "\nreport: {} (and latest.html, {day}.signals.json)",
                dir.join(format!("{day}.html")).display()
            ),
        )?;
        Ok(())
    })?;
    // The signal list, as `signals` prints it, for whoever reads the cron mail.
    output::line(out, "")?;
    for (i, s) in report
        .current
        .signals
        .iter()
        .filter(|s| s.class != crate::signals::Class::Fading)
        .take(10)
        .enumerate()
    {
        output::line(
            out,
            &format!(
                "{:>3}. {:<8} {}  (growth {:.1}x, {} recent docs, {} sources)",
                i + 1,
                s.class.name(),
                s.label,
                s.growth,
                s.recent_docs,
                s.sources
            ),
        )?;
    }
    Ok(())
}

fn stage_lines(out: &mut dyn Write, stages: &[StageRecord]) -> Result<()> {
    output::line(out, "")?;
    for s in stages {
        let counts: Vec<String> = s.counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let mut line = format!(
            "{:<8} {:<8} {:>7.1} s  {}",
            s.name,
            s.status.name(),
            s.seconds,
            counts.join(", ")
        );
        if !s.errors.is_empty() {
            line.push_str(&format!(
                "\n{:<28}{}",
                "",
                s.errors.join("\n                            ")
            ));
        }
        output::line(out, &line)?;
    }
    Ok(())
}

/// `weaksignal status`: the newest runs from the ledger.
pub fn status(ctx: &Context, args: StatusArgs, out: &mut dyn Write) -> Result<Outcome> {
    let store = Store::open_read_only(&ctx.data_dir)?;
    let runs = store.recent_runs(args.limit)?;
    if args.json {
        let values: Vec<serde_json::Value> = runs
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id,
                    "status": r.status,
                    "started_at": crate::signals::rfc3339(r.started_at),
                    "ended_at": r.ended_at.map(crate::signals::rfc3339),
                    "pid": r.pid,
                    "pipeline": r.pipeline,
                    "as_of": r.as_of,
                    "stages": serde_json::from_str::<serde_json::Value>(&r.stages).unwrap_or_default(),
                })
            })
            .collect();
        output::json(out, &values)?;
        return Ok(Outcome::Success);
    }
    if runs.is_empty() {
        output::line(out, "no runs yet: `weaksignal run` records one")?;
        return Ok(Outcome::Success);
    }
    for r in &runs {
        let took = r
            .ended_at
            .map(|e| format!("{} s", e - r.started_at))
            .unwrap_or_else(|| "-".into());
        output::line(
            out,
            &format!(
                "run {:<4} {:<11} started {}  took {:<7} as of {}  {}",
                r.id,
                r.status,
                crate::signals::rfc3339(r.started_at),
                took,
                r.as_of.as_deref().map(crate::report::day).unwrap_or("-"),
                r.pipeline
            ),
        )?;
        let stages: Vec<StageRecord> = serde_json::from_str(&r.stages).unwrap_or_default();
        for s in &stages {
            if s.status != StageStatus::Ok || args.verbose_stages {
                let detail = if s.errors.is_empty() {
                    String::new()
                } else {
                    format!(": {}", s.errors.join("; "))
                };
                output::line(
                    out,
                    &format!("          {:<8} {}{detail}", s.name, s.status.name()),
                )?;
            }
        }
    }
    Ok(Outcome::Success)
}
