//! The collector commands: `collect` and `extract`.

use std::io::Write;

use super::{output, CollectArgs, Context, ExtractArgs};
use crate::collect::SourceSummary;
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::Outcome;

/// `weaksignal collect`.
pub fn collect(ctx: &Context, args: CollectArgs, out: &mut dyn Write) -> Result<Outcome> {
    if ctx.config.crawler.offline {
        return Err(Error::Usage(
            "crawler.offline = true in the configuration: no web requests are made (set it to false on a machine with internet access)".into(),
        ));
    }
    let (pipeline, origin) = Pipeline::load(args.pipeline.as_deref())?;
    for wanted in &args.source {
        if !pipeline.sources.iter().any(|s| s.name() == wanted) {
            let names: Vec<&str> = pipeline.sources.iter().map(|s| s.name()).collect();
            return Err(Error::Usage(format!(
                "--source {wanted:?}: {} has no such source; it has: {}",
                origin.display(),
                names.join(", ")
            )));
        }
    }
    let sources: Vec<_> = pipeline
        .sources
        .iter()
        .filter(|s| args.source.is_empty() || args.source.iter().any(|n| n == s.name()))
        .filter_map(|s| s.web_source())
        .collect();
    if sources.is_empty() {
        output::line(
            out,
            &format!("{}: no web sources to collect from", origin.display()),
        )?;
        return Ok(Outcome::Success);
    }
    let summaries = ctx.collect(sources, args.limit, args.dry_run)?;
    if args.json {
        output::json(out, &summaries)?;
    } else {
        summary_lines(out, &summaries, args.dry_run)?;
    }
    let failed = summaries
        .iter()
        .any(|s| s.error.is_some() || s.failed_total() > 0);
    Ok(if failed {
        Outcome::Partial
    } else {
        Outcome::Success
    })
}

pub(super) fn summary_lines(
    out: &mut dyn Write,
    summaries: &[SourceSummary],
    dry_run: bool,
) -> Result<()> {
    let mut total = SourceSummary {
        source: "total".into(),
        ..Default::default()
    };
    for s in summaries {
        total.listed += s.listed;
        total.fetched += s.fetched;
        total.new += s.new;
        total.updated += s.updated;
        total.unchanged += s.unchanged;
        total.near_duplicates += s.near_duplicates;
        total.skipped_by_robots += s.skipped_by_robots;
        total.rejected += s.rejected;
        for (reason, n) in &s.failed {
            *total.failed.entry(reason.clone()).or_insert(0) += n;
        }
    }
    for s in summaries.iter().chain(std::iter::once(&total)) {
        let failed = if s.failed.is_empty() {
            "0".to_string()
        } else {
            s.failed
                .iter()
                .map(|(r, n)| format!("{n} {r}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        output::line(
            out,
            &format!(
                "{:<20} listed {:>5}  fetched {:>5}  new {:>5}  updated {:>3}  unchanged {:>5}  near-duplicates {:>3}  skipped by robots {:>3}  rejected {:>3}  failed {failed}{}",
                s.source,
                s.listed,
                s.fetched,
                s.new,
                s.updated,
                s.unchanged,
                s.near_duplicates,
                s.skipped_by_robots,
                s.rejected,
                if dry_run { "  (dry run)" } else { "" }
            ),
        )?;
        if let Some(error) = &s.error {
            output::line(out, &format!("{:<20} listing failed: {error}", ""))?;
        }
    }
    Ok(())
}

/// `weaksignal extract`.
pub fn extract(args: ExtractArgs, out: &mut dyn Write) -> Result<Outcome> {
    let bytes = std::fs::read(&args.file).map_err(|e| Error::io(&args.file, e))?;
    let html = crate::collect::fetch::decode(&bytes, None);
    let extracted = crate::extract::extract(&html, args.url.as_deref());
    if args.json {
        return output::json(out, &extracted).map(|_| Outcome::Success);
    }
    let field = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    output::line(out, &format!("title:     {}", field(&extracted.title)))?;
    output::line(out, &format!("published: {}", field(&extracted.published)))?;
    output::line(out, &format!("author:    {}", field(&extracted.author)))?;
    output::line(out, &format!("lang:      {}", field(&extracted.lang)))?;
    output::line(out, "")?;
    output::line(out, &extracted.text)?;
    Ok(Outcome::Success)
}
