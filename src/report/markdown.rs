//! The Markdown report, for email and chat.
//!
//! Markdown renderers pass raw HTML through and turn `[text](url)` into links,
//! so document text is escaped for both: HTML's `<`, `>` and `&` become
//! entities and Markdown's punctuation is backslash-escaped. Only `http(s)`
//! addresses become links.

use std::fmt::Write;

use super::{class_meaning, day, Change, Report, CLASS_ORDER};
use crate::html::link_target;
use crate::signals::{Class, Signal};

/// Escapes document text for Markdown (inline context, one line).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // Only what is markup inside a line: text never starts a line
            // here, so `#`, `-`, `+` and `1.` cannot open a block, and
            // parentheses only matter after an (escaped) bracket.
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A link destination: spaces, parentheses and angle brackets percent-encoded.
fn destination(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            ' ' => out.push_str("%20"),
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            c => out.push(c),
        }
    }
    out
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

fn sparkline(s: &Signal) -> String {
    let max = s.timeline.iter().map(|p| p.docs).max().unwrap_or(0).max(1);
    s.timeline
        .iter()
        .map(|p| {
            if p.docs == 0 {
                '·'
            } else {
                BARS[((p.docs as usize * 7) / max as usize).min(7)]
            }
        })
        .collect()
}

/// The report as Markdown.
/// Shares (0..=1) as block characters on one scale of their own.
fn share_sparkline(share: &[f64]) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = share.iter().copied().fold(0.0f64, f64::max);
    share
        .iter()
        .map(|&v| {
            if max <= 0.0 {
                return BLOCKS[0];
            }
            BLOCKS[((v / max) * 7.0).round() as usize]
        })
        .collect()
}

pub fn render(report: &Report) -> String {
    let r = &report.current;
    let mut out = String::with_capacity(16 * 1024);
    let f = &r.figures;
    let _ = writeln!(out, "# Weak signals as of {}\n", day(&r.as_of));
    let _ = writeln!(
        out,
        "{} windows · {} documents · {} topics · generated {}\n",
        r.window.name(),
        f.documents,
        f.topics,
        report.generated_at
    );
    let counts: Vec<String> = CLASS_ORDER
        .iter()
        .map(|&c| format!("{} {}", report.of_class(c).count(), c.name()))
        .collect();
    let _ = writeln!(out, "**Signals:** {}\n", counts.join(", "));
    if r.thin {
        let _ = writeln!(
            out,
            "**Thin window:** the latest {} holds {} documents, fewer than half the usual {:.0}; shares are measured against the usual volume, and its signals rest on little.\n",
            r.window.name(),
            r.window_docs,
            r.median_window_docs
        );
    }
    let _ = writeln!(
        out,
        "The latest {} holds {} documents (median of the {}s before: {:.0}); {} keys were tested for a significant rise. {}.\n",
        r.window.name(),
        r.window_docs,
        r.window.name(),
        r.median_window_docs,
        r.tested,
        escape(&r.ranking.describe())
    );

    if let Some(run) = &report.run {
        let _ = writeln!(
            out,
            "## Sources in this run\n\nRun {} started {}: {} sources, {} failed or skipped.\n",
            run.run_id,
            run.started_at,
            run.sources.len(),
            run.failed().count()
        );
        for s in &run.sources {
            let _ = writeln!(
                out,
                "- {} ({}): **{}**, {}",
                escape(&s.source),
                escape(&s.kind),
                escape(s.status.name()),
                escape(&s.detail)
            );
        }
        out.push('\n');
    }
    let c = &report.since_previous;
    let _ = writeln!(out, "## Since the previous report\n");
    match &c.previous_as_of {
        None => out.push_str("No earlier data to compare with.\n\n"),
        Some(previous) => {
            let _ = writeln!(out, "Compared with the analysis as of {}.\n", day(previous));
            let list = |out: &mut String, name: &str, items: &[Change]| {
                let names: Vec<String> = items
                    .iter()
                    .map(|ch| match (ch.from, ch.to) {
                        (Some(a), Some(b)) if a != b => {
                            format!("{} ({} → {})", escape(&ch.label), a.name(), b.name())
                        }
                        _ => escape(&ch.label),
                    })
                    .collect();
                let shown = if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join("; ")
                };
                let _ = writeln!(out, "- **{name}** ({}): {shown}", items.len());
            };
            list(&mut out, "New", &c.new);
            list(&mut out, "Promoted", &c.promoted);
            list(&mut out, "Fading", &c.fading);
            list(&mut out, "No longer signals", &c.ended);
            out.push('\n');
        }
    }

    let home = report.current.home.as_ref();
    let home_name = home.map_or("home", |h| h.name.as_str());
    if let Some(h) = home {
        let _ = writeln!(out, "## Already abroad, not yet in {}\n", escape(&h.name));
        let listed: Vec<String> = report
            .current
            .signals
            .iter()
            .filter_map(|s| {
                let a = s.abroad_first.as_ref()?;
                Some(format!(
                    "- **{}** ({}): {}",
                    escape(&s.label),
                    s.class.name(),
                    escape(&a.describe(&h.name))
                ))
            })
            .collect();
        if !h.watched {
            out.push_str("_The latest windows hold too few home documents to tell what is not yet here._\n\n");
        } else if listed.is_empty() {
            out.push_str("None.\n\n");
        } else {
            let _ = writeln!(out, "{}\n", listed.join("\n"));
        }
    }

    // The futures radar's grouping: signals per category of each taxonomy,
    // with the category's share of the documents over time.
    for groups in &report.taxonomies {
        let _ = writeln!(out, "## By {}\n", escape(&groups.taxonomy));
        let shares = report
            .current
            .category_shares
            .iter()
            .find(|s| s.taxonomy == groups.taxonomy);
        for category in &groups.categories {
            let trend = shares
                .and_then(|s| {
                    let c = s.categories.iter().find(|c| c.id == category.id)?;
                    let total: u32 = s.docs.iter().sum();
                    let docs: u32 = c.docs.iter().sum();
                    Some(format!(
                        " · share of documents {:.1}% now, {:.1}% over the history `{}`",
                        c.share.last().copied().unwrap_or(0.0) * 100.0,
                        docs as f64 / total.max(1) as f64 * 100.0,
                        share_sparkline(&c.share)
                    ))
                })
                .unwrap_or_default();
            let labels: Vec<String> = category
                .signals
                .iter()
                .filter_map(|id| report.current.signals.iter().find(|s| &s.id == id))
                .map(|s| format!("{} ({})", escape(&s.label), s.class.name()))
                .collect();
            let shown = if labels.is_empty() {
                "none".to_string()
            } else {
                labels.join(", ")
            };
            let _ = writeln!(out, "- **{}**{trend}: {shown}", escape(&category.name));
        }
        out.push('\n');
    }

    for class in CLASS_ORDER {
        let signals: Vec<&Signal> = report.of_class(class).map(|(_, s)| s).collect();
        let _ = writeln!(
            out,
            "## {} signals ({})\n\n_{}_\n",
            class.name(),
            signals.len(),
            class_meaning(class)
        );
        for s in signals {
            let _ = writeln!(out, "### {}\n", escape(&s.label));
            if let Some(p) = s.p_grow {
                let _ = writeln!(out, "**p(grows 3x in 8 weeks) = {p:.2}**\n");
            }
            let _ = writeln!(
                out,
                "- keywords: {}\n- growth {:.1}x, visibility {:.2}% (baseline {:.2}%), {} recent documents of {}, {}, diffusion {:.2}, q = {:.1e}\n- first seen {}, {} earlier rises; timeline `{}`\n- why: {}",
                escape(&s.keywords.join(", ")),
                s.growth,
                s.visibility * 100.0,
                s.visibility_baseline.max(0.0) * 100.0,
                s.recent_docs,
                s.docs,
                if s.single_source {
                    "one source only".to_string()
                } else {
                    format!("{} sources", s.sources)
                },
                s.diffusion,
                s.q_value,
                day(&s.first_seen),
                s.previous_bursts,
                sparkline(s),
                escape(&s.why)
            );
            if !s.tags.is_empty() {
                let tags: Vec<String> = s
                    .tags
                    .iter()
                    .map(|t| {
                        format!(
                            "{} ({}, {:.2})",
                            escape(&t.name),
                            escape(&t.taxonomy),
                            t.score
                        )
                    })
                    .collect();
                let _ = writeln!(out, "- tags: {}", tags.join("; "));
            }
            if let Some(a) = &s.abroad_first {
                let _ = writeln!(out, "- {}", escape(&a.describe(home_name)));
            }
            if let Some(a) = &s.arrived_home {
                let _ = writeln!(out, "- {}", escape(&a.describe(home_name)));
            }
            for e in &s.examples {
                let title = escape(&e.title);
                let shown = match e.url.as_deref().and_then(link_target) {
                    Some(url) => format!("[{title}]({})", destination(url)),
                    None => title,
                };
                let _ = writeln!(
                    out,
                    "  - {} · {} · {shown}",
                    day(&e.published),
                    escape(&e.source)
                );
            }
            out.push('\n');
        }
    }
    let recurring: Vec<&Signal> = report.of_class(Class::Recurring).map(|(_, s)| s).collect();
    let _ = writeln!(
        out,
        "## Recurring ({})\n\n_{}_\n",
        recurring.len(),
        class_meaning(Class::Recurring)
    );
    for s in recurring {
        let years: Vec<String> = s
            .recurs
            .iter()
            .map(|r| format!("{} ({} documents from {})", r.year, r.docs, day(&r.start)))
            .collect();
        let _ = writeln!(
            out,
            "- **{}**: {} recent documents; rose in the same weeks of {}",
            escape(&s.label),
            s.recent_docs,
            years.join(", ")
        );
    }
    if !report.current.hidden.is_empty() {
        let _ = writeln!(out, "## Hidden by analysts' marks\n");
        for h in &report.current.hidden {
            let what = match &h.into {
                Some(into) => format!("a duplicate of {}", escape(into)),
                None => escape(&h.verdict),
            };
            let _ = writeln!(
                out,
                "- {} ({}): marked {what} on {} by {}",
                escape(&h.label),
                escape(&h.id),
                day(&h.marked),
                escape(&h.by)
            );
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{report, signal};
    use crate::report::{Changes, MapSplit};
    use crate::signals::Example;

    #[test]
    fn markup_in_titles_is_inert_and_only_http_links_are_made() {
        let mut s = signal("topic-1", Class::Weak);
        s.label = "<script>alert(1)</script> [x](javascript:alert(2))".into();
        s.examples = vec![
            Example {
                id: "a".into(),
                published: "2020-01-30T00:00:00Z".into(),
                source: "s".into(),
                title: "\"><img src=x onerror=alert(3)>".into(),
                url: Some("javascript:alert(4)".into()),
            },
            Example {
                id: "b".into(),
                published: "2020-01-30T00:00:00Z".into(),
                source: "s".into(),
                title: "ok".into(),
                url: Some("https://example.org/a (b)".into()),
            },
        ];
        let md = render(&Report {
            current: report(vec![s]),
            generated_at: "now".into(),
            map: MapSplit {
                visibility: 0.05,
                growth: 2.5,
            },
            since_previous: Changes::default(),
            run: None,
            taxonomies: Vec::new(),
        });
        assert!(!md.contains("<script"), "{md}");
        assert!(!md.contains("<img"), "{md}");
        // every link that Markdown would make goes to http(s); the title's
        // own `[x](javascript:…)` has escaped brackets
        for (at, _) in md.match_indices("](") {
            assert!(
                md[..at].ends_with('\\') || md[at + 2..].starts_with("http"),
                "a link at {at}: {md}"
            );
        }
        assert!(md.contains("\\[x\\](javascript"));
        assert!(!md.contains("(javascript:alert(4)"), "{md}");
        assert!(md.contains("&lt;script&gt;"));
        // the URL with a space is rejected as a link target, not half-linked
        assert!(!md.contains("https://example.org/a%20"), "{md}");
    }
}
