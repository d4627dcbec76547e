//! `weaksignal run` and `weaksignal status`: the batch job of
//! [`crate::workspace::run`], printed for whoever reads the cron mail, and
//! the ledger it keeps.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{collect, output, Context, RunArgs, StatusArgs};
use crate::error::Result;
use crate::pipeline::Pipeline;
use crate::run::{RunStatus, StageRecord, StageStatus};
use crate::store::Store;
use crate::workspace::run::{RunEvent, RunRequest};
use crate::Outcome;

/// `weaksignal run`.
pub fn run(ctx: &Context, args: RunArgs, out: &mut dyn Write) -> Result<Outcome> {
    let (pipeline, origin) = Pipeline::load(args.pipeline.as_deref())?;
    let base = if origin.is_file() {
        origin.parent().map(Path::to_path_buf).unwrap_or_default()
    } else {
        PathBuf::from(".")
    };
    let as_of = match &args.as_of {
        Some(date) => Some(crate::time::parse_bound(date, true)?.timestamp()),
        None => None,
    };
    let offline = if args.offline {
        Some("offline: --offline".to_string())
    } else if ctx.config.crawler.offline {
        Some("offline: crawler.offline = true in the configuration".to_string())
    } else {
        None
    };
    let request = RunRequest {
        pipeline,
        base,
        pipeline_name: match &args.pipeline {
            Some(p) => p.display().to_string(),
            None => "pipelines/default.toml (built in)".into(),
        },
        as_of,
        offline,
    };
    let mut outcome = ctx.run(&request, &mut |event| match event {
        RunEvent::Collected(summaries) => collect::summary_lines(out, summaries, false),
        RunEvent::Imported(summary) => output::import_summary(out, summary),
        RunEvent::ExampleSearch { query, results } => {
            output::line(out, &format!("\nexample search: {query}"))?;
            output::search_results(out, results)
        }
        RunEvent::ReportWritten { html, day } => output::line(
            out,
            &format!(
                "\nreport: {} (and latest.html, {day}.signals.json)",
                html.display()
            ),
        ),
    })?;
    // The signal list, as `signals` prints it.
    if let Some(report) = &outcome.report {
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
    }
    stage_lines(out, &outcome.stages)?;
    output::line(
        out,
        &format!(
            "run {} {} in {:.1} s",
            outcome.id,
            outcome.status.name(),
            outcome.seconds
        ),
    )?;
    if let Some(e) = outcome.error() {
        return Err(e);
    }
    Ok(match outcome.status {
        RunStatus::Partial => Outcome::Partial,
        _ => Outcome::Success,
    })
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
