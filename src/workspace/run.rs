//! The batch job behind `weaksignal run`: every stage of the data flow in
//! order (collect, import, embed, rank, signals, report), under the data
//! directory's lock, with a ledger row updated after each stage.
//!
//! Every stage is incremental: collectors fetch only what is new, imports
//! recognise stored rows, the index catches up from the store's sequence
//! number, only documents without a vector are embedded, clustering starts
//! from its newest checkpoint. So a rerun after a crash (or the next
//! morning's run) does only the work that is left, and never stores anything
//! twice. What a front end shows while the job runs arrives as [`RunEvent`]s;
//! how the run ended is a [`RunOutcome`].

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::Workspace;
use crate::collect::SourceSummary;
use crate::error::{Error, Result};
use crate::import::{ImportOptions, ImportSummary};
use crate::index::{SearchRequest, SearchResults};
use crate::pipeline::{resolve_path, Pipeline, SourceConfig};
use crate::report::{Format, Report, ReportRequest};
use crate::run::lock::RunLock;
use crate::run::{RunNotes, RunStatus, SourceOutcome, SourceStatus, StageRecord, StageStatus};
use crate::signals::view::Checkpoints;
use crate::store::Store;

/// Directory of the reports inside the data directory.
pub const REPORTS_DIR: &str = "reports";

/// One run of a pipeline.
pub struct RunRequest {
    pub pipeline: Pipeline,
    /// The directory the pipeline's relative paths resolve against.
    pub base: PathBuf,
    /// How the ledger names the pipeline.
    pub pipeline_name: String,
    /// Signals and report as of this time (default: the newest document).
    pub as_of: Option<i64>,
    /// Why the web sources are skipped, when they are (`--offline`, or
    /// `crawler.offline` in the configuration).
    pub offline: Option<String>,
}

/// What a run has to show while it goes on, in the order it happens.
pub enum RunEvent<'a> {
    /// The web sources were collected.
    Collected(&'a [SourceSummary]),
    /// One local file was imported.
    Imported(&'a ImportSummary),
    /// The pipeline's example query, run against the fresh index.
    ExampleSearch {
        query: &'a str,
        results: &'a SearchResults,
    },
    /// The day's report was written (HTML; the JSON lies beside it).
    ReportWritten { html: &'a Path, day: &'a str },
}

/// How a run ended.
pub struct RunOutcome {
    pub id: i64,
    pub status: RunStatus,
    pub seconds: f64,
    pub stages: Vec<StageRecord>,
    /// The report, when the signals stage produced one.
    pub report: Option<Report>,
    /// What stopped the run before its stages ended (the store could not be
    /// written). The ledger still records the run as failed.
    pub fatal: Option<Error>,
}

impl RunOutcome {
    /// The run's result as an error: the fatal one, else the first failed stage.
    pub fn error(&mut self) -> Option<Error> {
        if let Some(e) = self.fatal.take() {
            return Some(e);
        }
        let failed = self
            .stages
            .iter()
            .find(|s| s.status == StageStatus::Failed)?;
        Some(Error::RunFailed {
            run_id: self.id,
            stage: failed.name.clone(),
            message: failed.errors.join("; "),
        })
    }
}

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

/// A run's mutable state while its stages go on.
struct Job<'a> {
    workspace: &'a Workspace,
    request: &'a RunRequest,
    ledger: Ledger,
    sources: Vec<SourceOutcome>,
    report: Option<Report>,
    on_event: &'a mut dyn FnMut(RunEvent<'_>) -> Result<()>,
}

impl Workspace {
    /// Runs the pipeline's stages under the data directory's lock, recording
    /// each in the ledger. An error is returned only when the run could not
    /// start or its ledger could not be written; a failed stage is in the
    /// outcome (see [`RunOutcome::error`]).
    pub fn run(
        &self,
        request: &RunRequest,
        on_event: &mut dyn FnMut(RunEvent<'_>) -> Result<()>,
    ) -> Result<RunOutcome> {
        let lock = RunLock::acquire(&self.data_dir)?;
        let started_at = chrono::Utc::now();
        let store = Store::open(&self.data_dir)?;
        let id = store.start_run(&request.pipeline_name, started_at.timestamp())?;
        tracing::info!(run = id, pipeline = %request.pipeline_name, lock = %lock.path().display(), "run started");
        let mut job = Job {
            workspace: self,
            request,
            ledger: Ledger {
                store,
                id,
                started_at: started_at.timestamp(),
                as_of: None,
                stages: Vec::new(),
            },
            sources: Vec::new(),
            report: None,
            on_event,
        };
        let result = job.stages();
        let status = match &result {
            Ok(()) => job.ledger.status(),
            Err(_) => RunStatus::Failed,
        };
        job.ledger.save()?;
        job.ledger
            .store
            .finish_run(id, status.name(), chrono::Utc::now().timestamp())?;
        drop(lock);
        Ok(RunOutcome {
            id,
            status,
            seconds: (chrono::Utc::now() - started_at).num_milliseconds() as f64 / 1000.0,
            stages: job.ledger.stages,
            report: job.report,
            fatal: result.err(),
        })
    }
}

impl Job<'_> {
    fn stages(&mut self) -> Result<()> {
        self.collect()?;
        self.import()?;
        let Some(model) = self.embed()? else {
            self.ledger
                .skip("signals", "no vectors: the embed stage failed")?;
            self.ledger
                .skip("report", "no vectors: the embed stage failed")?;
            return Ok(());
        };
        // A failed ranking is in the ledger; the signals are ranked by score.
        self.rank(&model)?;
        let Some(report) = self.signals(&model)? else {
            self.ledger.skip("report", "the signals stage failed")?;
            return Ok(());
        };
        self.ledger.as_of = Some(report.current.as_of.clone());
        // Alerts never fail the run: a channel that fails makes it partial.
        self.alerts(&report)?;
        // A failed report stage is in the ledger; the report is still returned.
        self.write_report(report)
    }

    /// alerts: every watch evaluated on the report, new alerts stored and
    /// delivered by every channel that does not have them yet.
    fn alerts(&mut self, report: &Report) -> Result<()> {
        let workspace = self.workspace;
        let as_of = crate::time::parse_bound(&report.current.as_of, true)
            .map(|d| d.timestamp())
            .unwrap_or(0);
        // The closure reports problems instead of failing: the stage is
        // partial at worst, and the ledger has it.
        let _recorded = self.ledger.stage("alerts", |stage| {
            let (stored, channels) = match workspace.alert(report, as_of) {
                Ok(done) => done,
                Err(e) => {
                    stage.problem(format!("alerts: {e}"));
                    return Ok(());
                }
            };
            stage.count("fired", stored.fired as u64);
            stage.count("quiet", stored.quiet as u64);
            stage.count("already_stored", stored.already as u64);
            for c in channels {
                stage.count(&format!("{}_delivered", c.channel), c.delivered as u64);
                if c.failed + c.dead > 0 {
                    stage.count(&format!("{}_failed", c.channel), c.failed as u64);
                    stage.count(&format!("{}_dead", c.channel), c.dead as u64);
                    stage.problem(format!(
                        "channel {} ({}): {} not delivered: {}",
                        c.channel,
                        c.kind,
                        c.failed + c.dead,
                        c.error.unwrap_or_default()
                    ));
                }
            }
            Ok(())
        })?;
        Ok(())
    }

    /// collect: the pipeline's web sources.
    fn collect(&mut self) -> Result<()> {
        let web: Vec<_> = self
            .request
            .pipeline
            .sources
            .iter()
            .filter_map(|s| s.web_source().map(|w| (s, w)))
            .collect();
        if web.is_empty() {
            return self
                .ledger
                .skip("collect", "the pipeline has no web sources");
        }
        if let Some(why) = &self.request.offline {
            for (config, _) in &web {
                self.sources.push(SourceOutcome {
                    source: config.name().to_string(),
                    kind: source_kind(config).into(),
                    status: SourceStatus::Skipped,
                    detail: why.clone(),
                });
            }
            // Deliberately offline is not a failure; the report lists the sources as skipped.
            return self.ledger.skip("collect", why);
        }
        let kinds: std::collections::HashMap<String, &'static str> = web
            .iter()
            .map(|(c, _)| (c.name().to_string(), source_kind(c)))
            .collect();
        let list = web.into_iter().map(|(_, w)| w).collect();
        let (workspace, sources, on_event) =
            (self.workspace, &mut self.sources, &mut self.on_event);
        let collected = self.ledger.stage("collect", |stage| {
            let summaries = workspace.collect(list, None, false)?;
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
            on_event(RunEvent::Collected(&summaries))
        })?;
        if let Err(e) = collected {
            // A collector that cannot start (bad crawler settings) fails its
            // sources, not the run: the local corpora are still imported.
            for (name, kind) in kinds {
                self.sources.push(SourceOutcome {
                    source: name,
                    kind: kind.into(),
                    status: SourceStatus::Failed,
                    detail: e.clone(),
                });
            }
            if let Some(stage) = self.ledger.stages.last_mut() {
                stage.status = StageStatus::Partial;
            }
        }
        Ok(())
    }

    /// normalise + store + index: the pipeline's local files.
    fn import(&mut self) -> Result<()> {
        let files: Vec<&SourceConfig> = self
            .request
            .pipeline
            .sources
            .iter()
            .filter(|s| matches!(s, SourceConfig::File { .. }))
            .collect();
        let (workspace, request) = (self.workspace, self.request);
        let (sources, on_event) = (&mut self.sources, &mut self.on_event);
        let imported = self.ledger.stage("import", |stage| {
            let (mut store, index) = workspace.open_for_writing()?;
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
                let file = resolve_path(path, &request.base);
                let options = ImportOptions {
                    format: *format,
                    source: Some(name.clone()),
                    lang: lang.clone(),
                    map: map.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                    strict: false,
                };
                match workspace.import_file(&mut store, &index, &file, &options) {
                    Ok(summary) => {
                        stage.count("imported", summary.imported);
                        stage.count("updated", summary.updated);
                        stage.count("duplicates", summary.duplicates);
                        stage.count("rejected", summary.rejected);
                        on_event(RunEvent::Imported(&summary))?;
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
            if let Some(query) = &request.pipeline.example_query {
                let search = SearchRequest {
                    query: query.clone(),
                    limit: 5,
                    ..SearchRequest::default()
                };
                let results = index.search(&store, &search)?;
                on_event(RunEvent::ExampleSearch {
                    query,
                    results: &results,
                })?;
            }
            Ok(())
        })?;
        imported.map_err(|e| Error::Task {
            what: "the import stage".into(),
            message: format!("the store could not be written: {e}"),
        })
    }

    /// embed: whatever lacks a vector. The model id, or None when the stage failed.
    fn embed(&mut self) -> Result<Option<String>> {
        let workspace = self.workspace;
        let embedded = self.ledger.stage("embed", |stage| {
            let mut store = Store::open(&workspace.data_dir)?;
            // Nothing to embed: do not load the model (seconds).
            if let Some(model) = crate::embed::known_model_id(&workspace.config.model) {
                if store.count_missing_vectors(&model)? == 0 {
                    stage.count("embedded", 0);
                    return Ok(model);
                }
            }
            let summary = workspace.embed_missing(&mut store)?;
            stage.count("embedded", summary.embedded);
            Ok(summary.model)
        })?;
        Ok(embedded.ok())
    }

    /// rank: the learned ranking, refitted when the stored one is a week old.
    fn rank(&mut self, model: &str) -> Result<()> {
        let (workspace, as_of) = (self.workspace, self.request.as_of);
        let _ranked = self.ledger.stage("rank", |stage| {
            let mut store = Store::open(&workspace.data_dir)?;
            let as_of = store.as_of_or_newest(as_of)?;
            let config = &workspace.config;
            let (window, topics, signals) = (config.topics.window, &config.topics, &config.signals);
            let morphology = workspace.morphology();
            let settings =
                crate::signals::rank::settings_key(model, morphology.id(), window, topics, signals);
            let fresh = store
                .rank_model(&settings, as_of)?
                .is_some_and(|row| as_of - row.as_of < 7 * 86_400);
            if fresh {
                stage.count("refitted", 0);
                return Ok(());
            }
            let spinner = workspace.progress.spinner("fitting the ranking");
            let (fit, _) = crate::signals::backtest::fit_and_save(
                &mut store,
                model,
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
        Ok(())
    }

    /// cluster + trends + signals: the report, or None when the stage failed.
    fn signals(&mut self, model: &str) -> Result<Option<Report>> {
        let (workspace, as_of) = (self.workspace, self.request.as_of);
        let tagged = self
            .request
            .pipeline
            .taxonomies
            .as_deref()
            .unwrap_or(&workspace.config.taxonomies.tag);
        let reported = self.ledger.stage("signals", |stage| {
            let mut store = Store::open(&workspace.data_dir)?;
            let as_of = store.as_of_or_newest(as_of)?;
            let config = &workspace.config;
            let request = ReportRequest {
                model,
                as_of,
                window: config.topics.window,
                topics: &config.topics,
                signals: &config.signals,
                per_class: 15,
                checkpoints: Checkpoints::Use,
                morphology: &workspace.morphology(),
                taggers: &workspace.taggers_of(model, tagged)?,
            };
            let report = crate::report::generate(&mut store, &request)?;
            for class in crate::report::CLASS_ORDER {
                stage.count(class.name(), report.of_class(class).count() as u64);
            }
            Ok(report)
        })?;
        Ok(reported.ok())
    }

    /// report: the day's HTML and JSON, and `latest` copies, written atomically.
    fn write_report(&mut self, mut report: Report) -> Result<()> {
        report.run = Some(RunNotes {
            run_id: self.ledger.id,
            started_at: crate::signals::rfc3339(self.ledger.started_at),
            sources: self.sources.clone(),
        });
        let (dir, on_event) = (
            self.workspace.data_dir.join(REPORTS_DIR),
            &mut self.on_event,
        );
        let _written = self.ledger.stage("report", |stage| {
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
            on_event(RunEvent::ReportWritten {
                html: &dir.join(format!("{day}.html")),
                day: &day,
            })
        })?;
        self.report = Some(report);
        Ok(())
    }
}
