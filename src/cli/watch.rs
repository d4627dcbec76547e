//! `weaksignal watch ...` and `weaksignal alerts`.

use std::io::Write;

use super::output;
use super::{AlertsArgs, Context, MarkArgs, WatchAction, WatchAddArgs, WatchArgs, WatchRule};
use crate::alerts::{Rule, Target, Watch};
use crate::error::Result;
use crate::signals::parse_topic_id;
use crate::store::Store;
use crate::Outcome;

pub fn watch(ctx: &Context, args: WatchArgs, out: &mut dyn Write) -> Result<Outcome> {
    match args.action {
        WatchAction::Add(add) => {
            let watch = new_watch(add)?;
            ctx.add_watch(&watch, false)?;
            output::line(out, &format!("watch {}: {}", watch.name, watch.describe()))?;
        }
        WatchAction::List { json } => {
            let watches = ctx.watches()?;
            if json {
                return output::json(out, &watches).map(|_| Outcome::Success);
            }
            if watches.is_empty() {
                output::line(
                    out,
                    "no watches (weaksignal watch add NAME --query|--topic|--concept ...)",
                )?;
            }
            for w in &watches {
                let owner = if w.owner.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", w.owner)
                };
                output::line(out, &format!("{}{owner}: {}", w.name, w.describe()))?;
            }
        }
        WatchAction::Rm { name } => {
            ctx.remove_watch(&name)?;
            output::line(out, &format!("removed watch {name}"))?;
        }
        WatchAction::Test { name, at, json } => {
            let report = super::signals::generate_report(ctx, &at, usize::MAX)?;
            let fired = ctx.test_watch(&name, &report)?;
            if json {
                return output::json(out, &fired).map(|_| Outcome::Success);
            }
            output::line(
                out,
                &format!(
                    "watch {name} as of {}: {} alerts",
                    &report.current.as_of[..10],
                    fired.len()
                ),
            )?;
            for a in &fired {
                output::line(out, &format!("  {}", a.headline()))?;
                output::line(out, &format!("    {}", a.evidence))?;
            }
        }
    }
    Ok(Outcome::Success)
}

fn new_watch(add: WatchAddArgs) -> Result<Watch> {
    let target = match (add.query, add.topic, add.concept) {
        (Some(query), None, None) => Target::Query {
            query,
            source: add.source,
            lang: add.lang,
        },
        (None, Some(topic), None) => Target::Topic {
            id: parse_topic_id(&topic)?,
        },
        (None, None, Some(text)) => Target::Concept { text },
        _ => unreachable!("clap requires exactly one target"),
    };
    Ok(Watch {
        name: add.name,
        owner: add.owner,
        target,
        rule: match add.rule {
            WatchRule::NewWeak => Rule::NewWeak,
            WatchRule::Promoted => Rule::Promoted,
            WatchRule::Growth => Rule::Growth { growth: add.growth },
        },
        quiet_days: add.quiet_days,
        created_at: chrono::Utc::now().timestamp(),
    })
}

/// `weaksignal alerts`.
pub fn alerts(ctx: &Context, args: AlertsArgs, out: &mut dyn Write) -> Result<Outcome> {
    let store = Store::open(&ctx.data_dir)?;
    if args.dead {
        let dead = store.deliveries(Some("dead"))?;
        if args.json {
            return output::json(out, &dead).map(|_| Outcome::Success);
        }
        if dead.is_empty() {
            output::line(out, "no dead letters")?;
        }
        for d in dead {
            output::line(
                out,
                &format!(
                    "alert {} on {}: {} attempts, last error: {}",
                    d.alert,
                    d.channel,
                    d.attempts,
                    d.last_error.unwrap_or_default()
                ),
            )?;
        }
        return Ok(Outcome::Success);
    }
    let alerts = store.alerts(args.limit)?;
    if args.json {
        let values: Vec<crate::alerts::AlertRecord> =
            alerts.iter().map(crate::alerts::AlertRecord::of).collect();
        return output::json(out, &values).map(|_| Outcome::Success);
    }
    if alerts.is_empty() {
        output::line(out, "no alerts")?;
    }
    for a in alerts {
        let headline = serde_json::from_str::<crate::alerts::AlertBody>(&a.body)
            .map(|b| b.headline())
            .unwrap_or_else(|_| a.signal.clone());
        output::line(
            out,
            &format!("{}  {}", &crate::signals::rfc3339(a.as_of)[..10], headline),
        )?;
    }
    Ok(Outcome::Success)
}

/// `weaksignal mark`: checked against the signals as of `--as-of`, whose
/// growth it records.
pub fn mark(ctx: &Context, args: MarkArgs, out: &mut dyn Write) -> Result<Outcome> {
    let verdict = crate::signals::marks::Verdict::parse(&args.verdict)?;
    let view = super::signals::view(ctx, &args.at)?;
    let (report, _) = super::signals::analyse_unmarked(ctx, &view)?;
    let mut mark = crate::signals::marks::new_mark(
        &report,
        &args.signal,
        verdict,
        args.duplicate_of,
        args.note,
        args.by,
        chrono::Utc::now().timestamp(),
    )?;
    mark.id = ctx.add_mark(&mark)?;
    if args.json {
        return output::json(out, &mark).map(|_| Outcome::Success);
    }
    output::line(
        out,
        &format!(
            "marked {} {}{} (growth {:.1}x as of {})",
            mark.signal,
            mark.verdict,
            mark.duplicate_of
                .as_deref()
                .map(|d| format!(" {d}"))
                .unwrap_or_default(),
            mark.growth.unwrap_or(0.0),
            &report.as_of[..10]
        ),
    )?;
    Ok(Outcome::Success)
}
