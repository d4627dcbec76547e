//! The signal commands: `signals`, `topics`, `topic` and `backtest`.

use std::io::Write;

use serde::Serialize;

use super::{
    output, AsOfArgs, BacktestArgs, Context, ReportArgs, SignalLevel, SignalsArgs, TopicArgs,
    TopicsArgs,
};
use crate::config::Window;
use crate::error::{Error, Result};
use crate::signals::backtest::{self, EventsFile};
use crate::signals::view::{Checkpoints, View};
use crate::signals::{Class, DocTerms, Level, Signal, SignalReport, TopicSummary};
use crate::store::Store;
use crate::time::parse_bound;
use crate::topics::Corpus;
use crate::Outcome;

/// Documents with vectors and terms, up to an as-of time.
struct Loaded {
    corpus: Corpus,
    terms: DocTerms,
    window: Window,
}

/// The as-of time of a command: the given date, or the newest document.
fn as_of_time(store: &Store, at: &AsOfArgs) -> Result<i64> {
    let given = match &at.as_of {
        Some(date) => Some(parse_bound(date, true)?.timestamp()),
        None => None,
    };
    store.as_of_or_newest(given)
}

fn no_documents(as_of: i64) -> Error {
    Error::NoDocumentsAsOf {
        as_of: crate::signals::rfc3339(as_of),
    }
}

/// Every document up to `until` in memory, for replays over many dates.
fn load(ctx: &Context, at: &AsOfArgs, until: Option<i64>) -> Result<Loaded> {
    let mut store = Store::open(&ctx.data_dir)?;
    let model = ctx.ensure_vectors(&mut store)?;
    let as_of = as_of_time(&store, at)?;
    let started = std::time::Instant::now();
    let corpus = Corpus::load(&store, &model, Some(until.unwrap_or(as_of)))?;
    let terms = DocTerms::extract(&corpus, &ctx.morphology());
    tracing::debug!(
        docs = corpus.len(),
        secs = started.elapsed().as_secs_f64(),
        "corpus loaded"
    );
    if corpus.is_empty() {
        return Err(no_documents(as_of));
    }
    Ok(Loaded {
        corpus,
        terms,
        window: at.window.unwrap_or(ctx.config.topics.window),
    })
}

/// Topics as of one time, from the newest valid checkpoint.
pub(super) fn view(ctx: &Context, at: &AsOfArgs) -> Result<(View, String)> {
    let mut store = Store::open(&ctx.data_dir)?;
    let model = ctx.ensure_vectors(&mut store)?;
    let as_of = as_of_time(&store, at)?;
    let started = std::time::Instant::now();
    let spinner = ctx.progress.spinner("clustering topics");
    let view = View::build(
        &mut store,
        &model,
        &ctx.morphology(),
        as_of,
        at.window.unwrap_or(ctx.config.topics.window),
        &ctx.config.topics,
        &ctx.config.signals,
        if at.from_scratch {
            Checkpoints::Rebuild
        } else {
            Checkpoints::Use
        },
    )?;
    spinner.finish_and_clear();
    tracing::debug!(
        loaded = view.corpus.len(),
        secs = started.elapsed().as_secs_f64(),
        "topics computed"
    );
    if view.corpus.is_empty() && view.before.docs == 0 {
        return Err(no_documents(as_of));
    }
    Ok((view, model))
}

/// The analysis, its signals tagged with the taxonomies of `taxonomies.tag`
/// and the analysts' marks applied.
fn analyse(ctx: &Context, analysed: &(View, String)) -> Result<(SignalReport, Vec<TopicSummary>)> {
    let (mut report, topics) = analyse_unmarked(ctx, analysed)?;
    let marks = Store::open(&ctx.data_dir)?.marks()?;
    crate::signals::marks::apply(&mut report, &marks, ctx.config.signals.resurface_growth);
    Ok((report, topics))
}

/// The analysis before marks hide or fold anything (what a new mark is checked against).
pub(super) fn analyse_unmarked(
    ctx: &Context,
    (view, model): &(View, String),
) -> Result<(SignalReport, Vec<TopicSummary>)> {
    let (mut report, topics) = view.analyse(&ctx.config.topics, &ctx.config.signals)?;
    view.tag(
        &mut report,
        &ctx.signal_taggers(model)?,
        ctx.config.signals.history(),
    );
    Ok((report, topics))
}

/// `weaksignal signals`.
pub fn signals(ctx: &Context, args: SignalsArgs, out: &mut dyn Write) -> Result<Outcome> {
    let tag = match &args.tag {
        Some(spec) => Some(crate::taxonomy::TagFilter::parse(spec, &ctx.taxonomies()?)?),
        None => None,
    };
    let view = view(ctx, &args.at)?;
    let (mut report, _) = analyse(ctx, &view)?;
    let classes = if args.class.is_empty() {
        vec![Class::Weak, Class::Emerging, Class::Strong, Class::Fading]
    } else {
        args.class.clone()
    };
    report.signals.retain(|s| {
        classes.contains(&s.class)
            && match args.level {
                None => true,
                Some(SignalLevel::Topic) => s.level == Level::Topic,
                Some(SignalLevel::Term) => s.level == Level::Term,
            }
            && tag.as_ref().is_none_or(|t| t.matches(&s.tags))
            && (!args.abroad_first || s.abroad_first.is_some())
    });
    report.signals.truncate(args.limit);
    if args.json {
        return output::json(out, &report).map(|_| Outcome::Success);
    }
    let f = &report.figures;
    output::line(
        out,
        &format!(
            "signals as of {} ({} windows): {} documents, {} topics, {:.1}% outliers, coherence {:.3} (unrelated pairs {:.3})",
            report.as_of,
            report.window.name(),
            output::thousands(f.documents as u64),
            output::thousands(f.topics as u64),
            f.outlier_share * 100.0,
            f.coherence,
            f.random_pair_similarity
        ),
    )?;
    if let Some(home) = report.home.as_ref().filter(|h| !h.watched) {
        output::line(
            out,
            &format!(
                "(no abroad-first signals: fewer than {} home documents ({}) in the recent windows)",
                ctx.config.signals.min_docs,
                home.name
            ),
        )?;
    }
    if report.signals.is_empty() {
        output::line(out, "no signals")?;
    }
    let home = report.home.as_ref().map_or("home", |h| h.name.as_str());
    for (i, s) in report.signals.iter().enumerate() {
        signal_lines(out, i + 1, s, home)?;
    }
    Ok(Outcome::Success)
}

fn signal_lines(out: &mut dyn Write, rank: usize, s: &Signal, home: &str) -> Result<()> {
    let found: Vec<&str> = s
        .found_by
        .iter()
        .map(|l| match l {
            Level::Topic => "topic",
            Level::Term => "term",
        })
        .collect();
    output::line(
        out,
        &format!(
            "{rank:>3}. {:<8} {:<12} {}  (score {:.1}, growth {:.1}x, visibility {:.2}%, {} recent docs, {} sources; found by {})",
            s.class.name(),
            s.id,
            s.label,
            s.score,
            s.growth,
            s.visibility * 100.0,
            s.recent_docs,
            s.sources,
            found.join("+")
        ),
    )?;
    let bars: String = s
        .timeline
        .iter()
        .map(|p| spark(p.docs, &s.timeline))
        .collect();
    output::line(out, &format!("       keywords: {}", s.keywords.join(", ")))?;
    if !s.tags.is_empty() {
        let tags: Vec<String> = s
            .tags
            .iter()
            .map(|t| format!("{} ({}, {:.2})", t.name, t.taxonomy, t.score))
            .collect();
        output::line(out, &format!("       tags: {}", tags.join(", ")))?;
    }
    if let Some(a) = &s.abroad_first {
        output::line(out, &format!("       {}", a.describe(home)))?;
    }
    if let Some(a) = &s.arrived_home {
        output::line(out, &format!("       {}", a.describe(home)))?;
    }
    output::line(
        out,
        &format!(
            "       timeline: {bars}  first seen {}",
            &s.first_seen[..10]
        ),
    )?;
    for e in &s.examples {
        output::line(
            out,
            &format!(
                "       {}  {:<14} {}",
                &e.published[..10],
                e.source,
                e.title
            ),
        )?;
    }
    Ok(())
}

fn spark(docs: u32, all: &[crate::signals::TimelinePoint]) -> char {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = all.iter().map(|p| p.docs).max().unwrap_or(0).max(1);
    if docs == 0 {
        return ' ';
    }
    BARS[((docs as usize * 7) / max as usize).min(7)]
}

#[derive(Serialize)]
struct TopicsOutput<'a> {
    as_of: &'a str,
    window: Window,
    figures: &'a crate::signals::TopicFigures,
    topics: &'a [TopicSummary],
}

/// `weaksignal topics`.
pub fn topics(ctx: &Context, args: TopicsArgs, out: &mut dyn Write) -> Result<Outcome> {
    let view = view(ctx, &args.at)?;
    let (report, mut topics) = analyse(ctx, &view)?;
    topics.truncate(args.limit);
    if args.json {
        let o = TopicsOutput {
            as_of: &report.as_of,
            window: report.window,
            figures: &report.figures,
            topics: &topics,
        };
        return output::json(out, &o).map(|_| Outcome::Success);
    }
    output::line(
        out,
        &format!(
            "topics as of {} ({} windows, recent activity first)",
            report.as_of,
            report.window.name()
        ),
    )?;
    for t in &topics {
        let bars: String = t
            .timeline
            .iter()
            .map(|p| spark(p.docs, &t.timeline))
            .collect();
        output::line(
            out,
            &format!(
                "{:>6}  {:>5} docs  {:>4} recent  {bars}  {}",
                t.id, t.docs, t.recent_docs, t.label
            ),
        )?;
    }
    Ok(Outcome::Success)
}

/// `weaksignal topic ID`.
pub fn topic(ctx: &Context, args: TopicArgs, out: &mut dyn Write) -> Result<Outcome> {
    let id = parse_topic_id(&args.id)?;
    let analysed = view(ctx, &args.at)?;
    let (report, topics) = analyse(ctx, &analysed)?;
    let view = &analysed.0;
    let Some(detail) = view.topic_detail(&report, &topics, id, args.limit) else {
        return Err(Error::Usage(format!(
            "no topic {id} with documents in the last {} {}s before {} (see `weaksignal topics`)",
            ctx.config.signals.history_windows,
            view.window.name(),
            report.as_of
        )));
    };
    if args.json {
        return output::json(out, &detail).map(|_| Outcome::Success);
    }
    let summary = &detail.topic;
    output::line(out, &format!("topic {}: {}", summary.id, summary.label))?;
    if detail.merged_into.is_some() {
        output::line(out, &format!("(topic {id} was merged into it)"))?;
    }
    output::line(out, &format!("keywords: {}", summary.keywords.join(", ")))?;
    output::line(
        out,
        &format!(
            "{} documents, first {}, last {}",
            summary.docs,
            &summary.first_seen[..10],
            &summary.last_seen[..10]
        ),
    )?;
    let home = &ctx.config.signals.home.name;
    if let Some(s) = &detail.signal {
        output::line(out, &format!("signal: {} ({})", s.class.name(), s.why))?;
        if let Some(a) = &s.abroad_first {
            output::line(out, &a.describe(home))?;
        }
    }
    if let Some(a) = &summary.arrived_home {
        output::line(out, &a.describe(home))?;
    }
    for p in &summary.timeline {
        output::line(out, &format!("  {}  {:>4}", &p.start[..10], p.docs))?;
    }
    for d in &detail.documents {
        output::line(
            out,
            &format!("{}  {:<14} {}", &d.published[..10], d.source, d.title),
        )?;
    }
    if detail.older_not_listed > 0 && detail.documents.len() < args.limit {
        output::line(
            out,
            &format!(
                "({} older documents, before {}, are counted but not listed)",
                detail.older_not_listed,
                detail.listed_from.get(..10).unwrap_or("")
            ),
        )?;
    }
    Ok(Outcome::Success)
}

pub use crate::signals::parse_topic_id;

/// The report as of `at`, at most `per_class` signals per class.
pub(super) fn generate_report(
    ctx: &Context,
    at: &AsOfArgs,
    per_class: usize,
) -> Result<crate::report::Report> {
    let mut store = Store::open(&ctx.data_dir)?;
    let model = ctx.ensure_vectors(&mut store)?;
    let as_of = as_of_time(&store, at)?;
    let request = crate::report::ReportRequest {
        model: &model,
        as_of,
        window: at.window.unwrap_or(ctx.config.topics.window),
        topics: &ctx.config.topics,
        signals: &ctx.config.signals,
        per_class: per_class.max(1),
        checkpoints: if at.from_scratch {
            Checkpoints::Rebuild
        } else {
            Checkpoints::Use
        },
        morphology: &ctx.morphology(),
        taggers: &ctx.signal_taggers(&model)?,
    };
    let spinner = ctx.progress.spinner("analysing signals");
    let report = crate::report::generate(&mut store, &request)?;
    spinner.finish_and_clear();
    Ok(report)
}

/// `weaksignal report`.
pub fn report(ctx: &Context, args: ReportArgs, out: &mut dyn Write) -> Result<Outcome> {
    let started = std::time::Instant::now();
    let report = generate_report(ctx, &args.at, args.per_class)?;
    let text = report.render(args.format)?;
    tracing::debug!(secs = started.elapsed().as_secs_f64(), "report generated");
    match &args.output {
        None => out
            .write_all(text.as_bytes())
            .map_err(|e| Error::io("<stdout>", e))?,
        Some(path) => {
            crate::report::write_atomic(path, text.as_bytes())?;
            let counts: Vec<String> = crate::report::CLASS_ORDER
                .iter()
                .map(|&c| format!("{} {}", report.of_class(c).count(), c.name()))
                .collect();
            output::line(
                out,
                &format!(
                    "{}: report as of {} ({})",
                    path.display(),
                    &report.current.as_of[..10],
                    counts.join(", ")
                ),
            )?;
        }
    }
    Ok(Outcome::Success)
}

/// `weaksignal backtest`.
pub fn backtest(ctx: &Context, args: BacktestArgs, out: &mut dyn Write) -> Result<Outcome> {
    let events = EventsFile::load(&args.events)?;
    let from = parse_bound(&args.from, true)?.timestamp();
    let to = parse_bound(&args.to, true)?.timestamp();
    if to < from {
        return Err(Error::Usage(format!(
            "--to {} is before --from {}",
            args.to, args.from
        )));
    }
    let at = AsOfArgs {
        as_of: Some(args.to.clone()),
        window: args.window,
        from_scratch: true,
    };
    let loaded = load(ctx, &at, Some(to))?;
    let steps = (to - from) / args.step.seconds() + 1;
    let bar = ctx.progress.items(steps as u64, "replaying");
    let report = backtest::backtest(
        &loaded.corpus,
        &loaded.terms,
        &events,
        from,
        to,
        args.step,
        loaded.window,
        &ctx.config.topics,
        &ctx.config.signals,
        |n| bar.set_position(n as u64),
    )?;
    bar.finish_and_clear();
    if args.json {
        return output::json(out, &report).map(|_| Outcome::Success);
    }
    output::line(
        out,
        &format!(
            "backtest {} .. {} ({} steps, {} windows, top {} of {})",
            &report.from[..10],
            &report.to[..10],
            report.steps.len(),
            report.window.name(),
            report.top,
            events.classes.join("/")
        ),
    )?;
    for e in &report.events {
        let show = |d: &Option<backtest::Detection>| match d {
            Some(d) => format!(
                "{} ({}, rank {}, {}, lead {:+.0} days)",
                &d.as_of[..10],
                d.class.name(),
                d.rank,
                d.signal,
                d.lead_days
            ),
            None => "not flagged".to_string(),
        };
        output::line(out, &format!("{} (reference {})", e.name, e.reference))?;
        output::line(out, &format!("  topics: {}", show(&e.topic)))?;
        output::line(out, &format!("  terms:  {}", show(&e.term)))?;
    }
    if let Some(p) = report.weak_precision {
        output::line(
            out,
            &format!(
                "weak topic flags followed for 8 weeks: {}, of which {:.1}% at least tripled in size",
                report.weak_flags_evaluated,
                p * 100.0
            ),
        )?;
    }
    let sim = &report.analyst;
    if sim.weeks > 0 {
        output::line(
            out,
            &format!(
                "a simulated analyst marking the top N weak and emerging signals by the 8-week truth, {} steps:",
                sim.weeks
            ),
        )?;
        for arm in &sim.arms {
            output::line(
                out,
                &format!(
                    "  top {:>2}  {:<46} {:>4} shown, {:>3} tripled ({:.1}%), {} hidden by marks",
                    arm.top,
                    arm.arm,
                    arm.shown,
                    arm.grew,
                    arm.precision.unwrap_or(0.0) * 100.0,
                    arm.hidden
                ),
            )?;
        }
    }
    if let Some(abroad) = &report.abroad {
        let home = &ctx.config.signals.home.name;
        output::line(out, &abroad.describe(home))?;
        for f in &abroad.list {
            let fate = match (&f.arrived, f.lag_days) {
                (Some(at), Some(lag)) => format!("arrived {} (+{lag:.0} days)", &at[..10]),
                _ if f.followed => "not arrived within 12 weeks".to_string(),
                _ => "not arrived yet (followed less than 12 weeks)".to_string(),
            };
            output::line(
                out,
                &format!(
                    "  {}  {:<10} {}  [{}]: {fate}",
                    &f.as_of[..10],
                    f.signal,
                    f.label,
                    crate::signals::abroad::list(&f.languages)
                ),
            )?;
        }
    }
    output::line(out, "as of       topics (unmatched)  terms (unmatched)")?;
    for s in &report.steps {
        output::line(
            out,
            &format!(
                "{}  {:>3} ({:>3})           {:>3} ({:>3})",
                &s.as_of[..10],
                s.flagged_topics,
                s.unmatched_topics,
                s.flagged_terms,
                s.unmatched_terms
            ),
        )?;
    }
    Ok(Outcome::Success)
}

/// `weaksignal rank fit`.
pub fn rank_fit(ctx: &Context, at: &AsOfArgs, json: bool, out: &mut dyn Write) -> Result<Outcome> {
    let mut store = Store::open(&ctx.data_dir)?;
    let model = ctx.ensure_vectors(&mut store)?;
    let as_of = as_of_time(&store, at)?;
    let window = at.window.unwrap_or(ctx.config.topics.window);
    let bar = ctx.progress.items(0, "replaying");
    let (fit, row) = backtest::fit_and_save(
        &mut store,
        &model,
        &ctx.morphology(),
        as_of,
        window,
        &ctx.config.topics,
        &ctx.config.signals,
        |done, all| {
            bar.set_length(all as u64);
            bar.set_position(done as u64);
        },
    )?;
    bar.finish_and_clear();
    if json {
        let value = serde_json::json!({
            "as_of": crate::signals::rfc3339(as_of),
            "replayed": fit.steps,
            "weak_flags": fit.flags,
            "labelled": fit.labelled,
            "grew": fit.grew,
            "note": row.note,
            "model": fit.model,
        });
        return output::json(out, &value).map(|_| Outcome::Success);
    }
    output::line(
        out,
        &format!(
            "ranking as of {}: {}",
            &crate::signals::rfc3339(as_of)[..10],
            row.note
        ),
    )?;
    if let Some(m) = &fit.model {
        let v = &m.validation;
        output::line(
            out,
            &format!(
                "time-ordered validation ({} folds, {} flags): Brier {:.3}, a constant {:.3}",
                v.folds, v.predicted, v.brier, v.brier_constant
            ),
        )?;
        output::line(out, &format!("weighs most: {}", m.explain().join(", ")))?;
    }
    Ok(Outcome::Success)
}
