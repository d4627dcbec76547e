//! The signal commands: `signals`, `topics`, `topic` and `backtest`.

use std::io::Write;

use serde::Serialize;

use super::{
    output, AsOfArgs, BacktestArgs, Context, SignalLevel, SignalsArgs, TopicArgs, TopicsArgs,
};
use crate::config::Window;
use crate::error::{Error, Result};
use crate::signals::backtest::{self, EventsFile, Replay};
use crate::signals::{Class, DocTerms, Level, Signal, SignalReport, TopicSummary};
use crate::store::Store;
use crate::time::parse_bound;
use crate::topics::{Corpus, UNASSIGNED};
use crate::Outcome;

/// Documents with vectors and terms, up to an as-of time.
struct Loaded {
    corpus: Corpus,
    terms: DocTerms,
    window: Window,
    as_of: i64,
}

fn load(ctx: &Context, at: &AsOfArgs, until: Option<i64>) -> Result<Loaded> {
    let mut store = Store::open(&ctx.data_dir)?;
    let model = super::embed::ensure_vectors(ctx, &mut store)?;
    let as_of = match &at.as_of {
        Some(date) => parse_bound(date, true)?.timestamp(),
        None => match store.published_range()? {
            Some((_, newest)) => newest,
            None => {
                return Err(Error::Usage(format!(
                    "the store in {} has no documents yet: run `weaksignal run` or `weaksignal import` first",
                    ctx.data_dir.display()
                )))
            }
        },
    };
    let started = std::time::Instant::now();
    let corpus = Corpus::load(&store, &model, Some(until.unwrap_or(as_of)))?;
    let terms = DocTerms::extract(&corpus);
    tracing::debug!(
        docs = corpus.len(),
        secs = started.elapsed().as_secs_f64(),
        "corpus loaded"
    );
    if corpus.is_empty() {
        return Err(Error::Usage(format!(
            "no documents published on or before {} have vectors",
            crate::signals::rfc3339(as_of)
        )));
    }
    Ok(Loaded {
        corpus,
        terms,
        window: at.window.unwrap_or(ctx.config.topics.window),
        as_of,
    })
}

fn analyse(ctx: &Context, loaded: &Loaded) -> Result<(SignalReport, Vec<TopicSummary>)> {
    let started = std::time::Instant::now();
    let mut replay = Replay::new(&loaded.corpus, loaded.window, &ctx.config.topics);
    let result = backtest::analyse(
        &loaded.corpus,
        &loaded.terms,
        &mut replay,
        loaded.as_of,
        &ctx.config.signals,
    )?;
    tracing::debug!(
        secs = started.elapsed().as_secs_f64(),
        "topics, trends and signals computed"
    );
    Ok(result)
}

/// `weaksignal signals`.
pub fn signals(ctx: &Context, args: SignalsArgs, out: &mut dyn Write) -> Result<Outcome> {
    let loaded = load(ctx, &args.at, None)?;
    let (mut report, _) = analyse(ctx, &loaded)?;
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
    if report.signals.is_empty() {
        output::line(out, "no signals")?;
    }
    for (i, s) in report.signals.iter().enumerate() {
        signal_lines(out, i + 1, s)?;
    }
    Ok(Outcome::Success)
}

fn signal_lines(out: &mut dyn Write, rank: usize, s: &Signal) -> Result<()> {
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
    let loaded = load(ctx, &args.at, None)?;
    let (report, mut topics) = analyse(ctx, &loaded)?;
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

#[derive(Serialize)]
struct TopicDocument {
    id: String,
    published: String,
    source: String,
    title: String,
    url: Option<String>,
}

#[derive(Serialize)]
struct TopicOutput<'a> {
    as_of: &'a str,
    topic: &'a TopicSummary,
    signal: Option<&'a Signal>,
    documents: Vec<TopicDocument>,
}

/// `weaksignal topic ID`.
pub fn topic(ctx: &Context, args: TopicArgs, out: &mut dyn Write) -> Result<Outcome> {
    let id: u32 = args.id.trim_start_matches("topic-").parse().map_err(|_| {
        Error::Usage(format!(
            "topic id {:?}: expected a number such as 12 or topic-12",
            args.id
        ))
    })?;
    let loaded = load(ctx, &args.at, None)?;
    let mut replay = Replay::new(&loaded.corpus, loaded.window, &ctx.config.topics);
    let (state, docs) = replay.at(loaded.as_of);
    let (report, topics) = crate::signals::Analysis {
        corpus: &loaded.corpus,
        terms: &loaded.terms,
        state: &state,
        docs,
        as_of: loaded.as_of,
        window: loaded.window,
        topics_config: &ctx.config.topics,
        config: &ctx.config.signals,
    }
    .run()?;
    let live = if (id as usize) < state.topics.len() {
        state.resolve(id)
    } else {
        UNASSIGNED
    };
    let Some(summary) = topics.iter().find(|t| t.id == live) else {
        return Err(Error::Usage(format!(
            "no topic {id} with documents in the last {} {}s before {} (see `weaksignal topics`)",
            ctx.config.signals.history_windows,
            loaded.window.name(),
            report.as_of
        )));
    };
    let signal = report
        .signals
        .iter()
        .find(|s| s.id == format!("topic-{live}"));
    let assignment = state.resolved_assignment();
    let c = &loaded.corpus;
    let mut members: Vec<usize> = (0..docs).filter(|&d| assignment[d] == live).collect();
    members.reverse(); // newest first
    let documents: Vec<TopicDocument> = members
        .iter()
        .take(args.limit)
        .map(|&d| TopicDocument {
            id: c.ids[d].clone(),
            published: crate::signals::rfc3339(c.published[d]),
            source: c.sources[c.source[d] as usize].clone(),
            title: c.titles[d].clone(),
            url: c.urls[d].clone(),
        })
        .collect();
    if args.json {
        let o = TopicOutput {
            as_of: &report.as_of,
            topic: summary,
            signal,
            documents,
        };
        return output::json(out, &o).map(|_| Outcome::Success);
    }
    output::line(out, &format!("topic {}: {}", summary.id, summary.label))?;
    if live != id {
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
    if let Some(s) = signal {
        output::line(out, &format!("signal: {} ({})", s.class.name(), s.why))?;
    }
    for p in &summary.timeline {
        output::line(out, &format!("  {}  {:>4}", &p.start[..10], p.docs))?;
    }
    for d in &documents {
        output::line(
            out,
            &format!("{}  {:<14} {}", &d.published[..10], d.source, d.title),
        )?;
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
