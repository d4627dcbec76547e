//! The HTML report: one self-contained file (inline CSS and SVG, no scripts,
//! fonts or external addresses) that opens offline and in a mail client.
//!
//! Every string from the documents passes through [`escape`]; addresses are
//! links only when [`link_target`] accepts them.

use std::fmt::Write;

use super::{class_meaning, day, Change, Report, CLASS_ORDER};
use crate::html::{escape, link_target};
use crate::signals::{Class, Signal, TimelinePoint};

const STYLE: &str = r#"
:root { --weak: #2a7ab8; --emerging: #d9822b; --recurring: #8a6bb0; --strong: #c23b3b; --fading: #7a7a7a; --ink: #1d2330; --muted: #5b6475; --line: #dde2ea; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); margin: 0; background: #f6f7f9; }
main { max-width: 980px; margin: 0 auto; padding: 24px 20px 60px; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 20px; margin: 32px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 17px; margin: 0 0 4px; }
.sub, .muted { color: var(--muted); }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 16px 0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 120px; }
.card b { display: block; font-size: 22px; }
.badge { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px; color: #fff; vertical-align: middle; }
.weak { background: var(--weak); } .emerging { background: var(--emerging); } .recurring { background: var(--recurring); } .strong { background: var(--strong); } .fading { background: var(--fading); }
.warn { background: #fff4e5; border: 1px solid #f0c27a; border-radius: 8px; padding: 8px 12px; }
.pgrow { font-size: 13px; font-weight: normal; color: var(--ink); background: #eef4fa; border-radius: 8px; padding: 0 6px; }
ul.recurring li { margin: 2px 0; }
article.signal { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; margin: 12px 0; }
.numbers { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 2px 16px; margin: 8px 0; font-size: 14px; }
.numbers span { color: var(--muted); }
.why { font-size: 13px; color: var(--muted); }
ul.docs { padding-left: 18px; margin: 6px 0 0; font-size: 14px; }
ul.docs .date { font-variant-numeric: tabular-nums; color: var(--muted); }
.map { background: #fff; border: 1px solid var(--line); border-radius: 8px; }
.map text { font-size: 11px; fill: var(--ink); } .map .quad { font-size: 12px; fill: #8a93a3; font-weight: 600; }
.changes li { margin: 2px 0; }
svg.timeline rect.bar { fill: #8fb3d9; } svg.timeline rect.recent { fill: #2a7ab8; }
svg.timeline text { font-size: 10px; fill: var(--muted); }
table.sources { border-collapse: collapse; width: 100%; background: #fff; font-size: 14px; }
table.sources td, table.sources th { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
table.sources tr.problem td { background: #fff4f0; }
.abroad { font-size: 14px; background: #eef6ee; border-left: 3px solid #3c8a4a; padding: 2px 8px; margin: 4px 0; }
.multiples { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 10px; margin: 8px 0 16px; }
.multiples figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px; font-size: 13px; }
.multiples figcaption b { display: block; font-size: 14px; }
.multiples svg path.area { fill: #cfe0f1; } .multiples svg path.line { fill: none; stroke: #2a7ab8; stroke-width: 1.5; }
.multiples ul { margin: 4px 0 0; padding-left: 16px; }
footer { margin-top: 40px; font-size: 13px; color: var(--muted); }
a { color: #1f5fa0; }
"#;

/// The opening of a self-contained page (also an alert e-mail's): its
/// title, the report's style, and a policy that loads nothing.
pub(crate) fn page_head(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        escape(title)
    );
}

/// One example document of a card: an item of `<ul class="docs">`.
pub(crate) struct CardExample<'a> {
    pub published: &'a str,
    pub source: &'a str,
    pub title: &'a str,
    pub url: Option<&'a str>,
}

/// A card's example documents, each linked when its address is safe.
pub(crate) fn card_examples<'a>(
    out: &mut String,
    examples: impl IntoIterator<Item = CardExample<'a>>,
) {
    let mut examples = examples.into_iter().peekable();
    if examples.peek().is_none() {
        return;
    }
    out.push_str("<ul class=\"docs\">\n");
    for e in examples {
        let title = escape(e.title);
        let linked = match e.url.and_then(link_target) {
            Some(url) => format!(
                "<a href=\"{}\" rel=\"noopener noreferrer nofollow\">{title}</a>",
                escape(url)
            ),
            None => title,
        };
        let _ = writeln!(
            out,
            "<li><span class=\"date\">{}</span> · {} · {linked}</li>",
            escape(day(e.published)),
            escape(e.source)
        );
    }
    out.push_str("</ul>\n");
}

/// The report as one HTML document.
pub fn render(report: &Report) -> String {
    let r = &report.current;
    let mut out = String::with_capacity(64 * 1024);
    let title = format!("Weak signals as of {}", day(&r.as_of));
    page_head(&mut out, &title);
    let f = &r.figures;
    let _ = writeln!(
        out,
        "<header><h1>{}</h1><p class=\"sub\">{} windows · {} documents · {} topics · {:.0}% of documents in no topic · generated {}</p></header>",
        escape(&title),
        r.window.name(),
        f.documents,
        f.topics,
        f.outlier_share * 100.0,
        escape(&report.generated_at)
    );
    window_note(&mut out, report);
    summary(&mut out, report);
    sources(&mut out, report);
    changes(&mut out, report);
    out.push_str("<h2 id=\"map\">Emergence map</h2>\n<p class=\"muted\">Each signal by its share of the latest window's documents (visibility, log scale) and its growth against its baseline (log scale). Small and fast-growing is top left.</p>\n");
    emergence_map(&mut out, report);
    futures_radar(&mut out, report);
    category_multiples(&mut out, report);
    abroad_first(&mut out, report);
    let home = home_name(report);
    for class in CLASS_ORDER {
        let signals: Vec<(usize, &Signal)> = report.of_class(class).collect();
        let _ = write!(
            out,
            "<h2 id=\"{0}\">{1} signals <span class=\"badge {0}\">{2}</span></h2>\n<p class=\"muted\">{3}</p>\n",
            class.name(),
            capitalised(class.name()),
            signals.len(),
            class_meaning(class)
        );
        if signals.is_empty() {
            out.push_str("<p>None.</p>\n");
        }
        for (i, s) in signals {
            signal_article(&mut out, i, s, home);
        }
    }
    recurring(&mut out, report);
    hidden(&mut out, report);
    let _ = write!(
        out,
        "<footer>Visibility: share of the latest {0}'s documents. Growth: recent rate over baseline rate (smoothed). \
         Diffusion: share of sources carrying it. Sources: distinct sources in the recent {0}s. \
         The quadrant lines are the configured thresholds (visibility {1:.1}%, growth {2:.1}x). \
         Produced by weaksignal {3}.</footer>\n</main>\n</body>\n</html>\n",
        r.window.name(),
        report.map.visibility * 100.0,
        report.map.growth,
        env!("CARGO_PKG_VERSION")
    );
    out
}

fn capitalised(word: &str) -> String {
    let mut c = word.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn anchor(index: usize) -> String {
    format!("s{index}")
}

/// How much the latest window holds, what ranks the weak signals, and a
/// warning when the window is thin.
fn window_note(out: &mut String, report: &Report) {
    let r = &report.current;
    if r.thin {
        let _ = writeln!(
            out,
            "<p class=\"warn\"><b>Thin window.</b> The latest {} holds {} documents, fewer than half the usual {:.0}: shares are measured against the usual volume, and its signals rest on little.</p>",
            r.window.name(),
            r.window_docs,
            r.median_window_docs
        );
    }
    let _ = writeln!(
        out,
        "<p class=\"muted\">The latest {} holds {} documents (the {}s before: median {:.0}). A rise counts only when it is significant: {} of {} keys tested. {}.</p>",
        r.window.name(),
        r.window_docs,
        r.window.name(),
        r.median_window_docs,
        r.signals.iter().filter(|s| matches!(s.class, Class::Weak | Class::Emerging)).count(),
        r.tested,
        escape(&r.ranking.describe())
    );
}

/// Rises that repeat earlier years' same weeks: listed apart, briefly.
fn recurring(out: &mut String, report: &Report) {
    let signals: Vec<(usize, &Signal)> = report.of_class(Class::Recurring).collect();
    let _ = write!(
        out,
        "<h2 id=\"recurring\">Recurring <span class=\"badge recurring\">{}</span></h2>\n<p class=\"muted\">{}</p>\n",
        signals.len(),
        class_meaning(Class::Recurring)
    );
    if signals.is_empty() {
        out.push_str("<p>None.</p>\n");
        return;
    }
    out.push_str("<ul class=\"recurring\">\n");
    for (i, s) in signals {
        let years: Vec<String> = s
            .recurs
            .iter()
            .map(|r| format!("{} ({} documents from {})", r.year, r.docs, day(&r.start)))
            .collect();
        let _ = writeln!(
            out,
            "<li id=\"{}\"><b>{}</b> <span class=\"muted\">{} recent documents; rose in the same weeks of {}</span></li>",
            anchor(i),
            escape(&s.label),
            s.recent_docs,
            escape(&years.join(", "))
        );
    }
    out.push_str("</ul>\n");
}

fn summary(out: &mut String, report: &Report) {
    out.push_str("<section class=\"cards\">");
    for class in CLASS_ORDER {
        let n = report.of_class(class).count();
        let _ = write!(
            out,
            "<div class=\"card\"><b>{n}</b><a href=\"#{0}\">{0}</a></div>",
            class.name()
        );
    }
    out.push_str("</section>\n");
    let top: Vec<(usize, &Signal)> = report
        .current
        .signals
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s.class, Class::Weak | Class::Emerging))
        .take(5)
        .collect();
    if top.is_empty() {
        return;
    }
    out.push_str("<h2>Summary</h2>\n<ol>\n");
    for (i, s) in top {
        let _ = writeln!(
            out,
            "<li><a href=\"#{}\">{}</a> <span class=\"badge {}\">{}</span> <span class=\"muted\">{}growth {:.1}x, {} recent documents from {}</span></li>",
            anchor(i),
            escape(&s.label),
            s.class.name(),
            s.class.name(),
            s.p_grow
                .map(|p| format!("p(grows 3x in 8 weeks) = {p:.2}, "))
                .unwrap_or_default(),
            s.growth,
            s.recent_docs,
            sources_phrase(s)
        );
    }
    out.push_str("</ol>\n");
}

/// Which sources this run collected and which failed, and why.
fn sources(out: &mut String, report: &Report) {
    let Some(run) = &report.run else {
        return;
    };
    let failed = run.failed().count();
    let _ = writeln!(
        out,
        "<h2 id=\"sources\">Sources in this run</h2>\n<p class=\"muted\">Run {} started {}: {} sources, {} failed or skipped.</p>\n<table class=\"sources\"><thead><tr><th>source</th><th>kind</th><th>status</th><th>detail</th></tr></thead><tbody>",
        run.run_id,
        escape(&run.started_at),
        run.sources.len(),
        failed
    );
    let mut rows: Vec<_> = run.sources.iter().collect();
    rows.sort_by_key(|s| s.status == crate::run::SourceStatus::Ok);
    for s in rows {
        let _ = writeln!(
            out,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if s.status == crate::run::SourceStatus::Ok {
                "ok"
            } else {
                "problem"
            },
            escape(&s.source),
            escape(&s.kind),
            escape(s.status.name()),
            escape(&s.detail)
        );
    }
    out.push_str("</tbody></table>\n");
}

fn changes(out: &mut String, report: &Report) {
    let c = &report.since_previous;
    out.push_str("<h2 id=\"changes\">Since the previous report</h2>\n");
    let Some(previous) = &c.previous_as_of else {
        out.push_str("<p>No earlier data to compare with.</p>\n");
        return;
    };
    let _ = write!(
        out,
        "<p class=\"muted\">Compared with the analysis as of {}.</p>\n<ul class=\"changes\">\n",
        escape(day(previous))
    );
    let index_of = |id: &str| report.current.signals.iter().position(|s| s.id == id);
    let list = |out: &mut String, name: &str, items: &[Change]| {
        let _ = write!(out, "<li><b>{name}</b> ({}): ", items.len());
        if items.is_empty() {
            out.push_str("none");
        }
        for (k, change) in items.iter().enumerate() {
            if k > 0 {
                out.push_str("; ");
            }
            let label = escape(&change.label);
            match index_of(&change.id) {
                Some(i) => {
                    let _ = write!(out, "<a href=\"#{}\">{label}</a>", anchor(i));
                }
                None => out.push_str(&label),
            }
            if let (Some(from), Some(to)) = (change.from, change.to) {
                if from != to {
                    let _ = write!(out, " ({} → {})", from.name(), to.name());
                }
            }
        }
        out.push_str("</li>\n");
    };
    list(out, "New", &c.new);
    list(out, "Promoted", &c.promoted);
    list(out, "Fading", &c.fading);
    list(out, "No longer signals", &c.ended);
    out.push_str("</ul>\n");
}

/// Position on a log axis in `[0, 1]`.
fn log_position(value: f64, min: f64, max: f64) -> f64 {
    let v = value.clamp(min, max).ln();
    let (lo, hi) = (min.ln(), max.ln());
    if hi - lo < 1e-12 {
        0.5
    } else {
        (v - lo) / (hi - lo)
    }
}

fn emergence_map(out: &mut String, report: &Report) {
    const W: f64 = 940.0;
    const H: f64 = 460.0;
    const LEFT: f64 = 56.0;
    const BOTTOM: f64 = 40.0;
    const TOP: f64 = 16.0;
    const RIGHT: f64 = 16.0;
    // Recurring signals are listed apart, not mapped.
    let signals: Vec<(usize, &Signal)> = report
        .current
        .signals
        .iter()
        .enumerate()
        .filter(|(_, s)| s.class != Class::Recurring)
        .collect();
    let finite = |v: f64, lo: f64, hi: f64| if v.is_finite() { v.clamp(lo, hi) } else { hi };
    let split = report.map;
    // A weak signal is small by its class (a handful of documents can be a
    // large share of a small window): it stays left of the visibility line,
    // so picture and class agree.
    let vis: Vec<f64> = signals
        .iter()
        .map(|(_, s)| {
            let v = finite(s.visibility, 1e-4, 1.0);
            if s.class == Class::Weak {
                v.min(split.visibility / 1.15)
            } else {
                v
            }
        })
        .collect();
    let growth: Vec<f64> = signals
        .iter()
        .map(|(_, s)| finite(s.growth, 0.05, 100.0))
        .collect();
    let (mut vmin, mut vmax) = (split.visibility / 10.0, split.visibility * 4.0);
    let (mut gmin, mut gmax) = (0.5f64, split.growth * 4.0);
    for (&v, &g) in vis.iter().zip(&growth) {
        vmin = vmin.min(v / 1.5);
        vmax = vmax.max(v * 1.5);
        gmin = gmin.min(g / 1.5);
        gmax = gmax.max(g * 1.5);
    }
    let x = |v: f64| LEFT + log_position(v, vmin, vmax) * (W - LEFT - RIGHT);
    let y = |g: f64| TOP + (1.0 - log_position(g, gmin, gmax)) * (H - TOP - BOTTOM);
    let _ = writeln!(
        out,
        "<svg class=\"map\" role=\"img\" aria-label=\"Emergence map: visibility against growth\" viewBox=\"0 0 {W} {H}\" width=\"100%\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    let (sx, sy) = (x(split.visibility), y(split.growth));
    let _ = write!(
        out,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#fbfcfd\" stroke=\"#dde2ea\"/>\n\
         <line x1=\"{sx:.1}\" y1=\"{TOP}\" x2=\"{sx:.1}\" y2=\"{:.1}\" stroke=\"#b8c0cc\" stroke-dasharray=\"4 4\"/>\n\
         <line x1=\"{LEFT}\" y1=\"{sy:.1}\" x2=\"{:.1}\" y2=\"{sy:.1}\" stroke=\"#b8c0cc\" stroke-dasharray=\"4 4\"/>\n",
        W - LEFT - RIGHT,
        H - TOP - BOTTOM,
        H - BOTTOM,
        W - RIGHT
    );
    let _ = write!(
        out,
        "<text class=\"quad\" x=\"{:.1}\" y=\"{:.1}\">weak signals: small, fast-growing</text>\n\
         <text class=\"quad\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">strong signals: visible, growing</text>\n\
         <text class=\"quad\" x=\"{:.1}\" y=\"{:.1}\">latent: small, steady</text>\n\
         <text class=\"quad\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">well known: visible, steady or fading</text>\n",
        LEFT + 8.0,
        TOP + 16.0,
        W - RIGHT - 8.0,
        TOP + 16.0,
        LEFT + 8.0,
        H - BOTTOM - 8.0,
        W - RIGHT - 8.0,
        H - BOTTOM - 8.0
    );
    // axes
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">visibility (share of the latest {}'s documents)</text>\n\
         <text x=\"14\" y=\"{:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {:.1})\">growth (recent / baseline)</text>\n",
        (LEFT + W - RIGHT) / 2.0,
        H - 8.0,
        report.current.window.name(),
        (TOP + H - BOTTOM) / 2.0,
        (TOP + H - BOTTOM) / 2.0
    );
    for tick in [0.0001, 0.001, 0.01, 0.1, 1.0] {
        if tick >= vmin && tick <= vmax {
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}%</text>",
                x(tick),
                H - BOTTOM + 14.0,
                tick * 100.0
            );
        }
    }
    for tick in [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0] {
        if tick >= gmin && tick <= gmax {
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{tick}x</text>",
                LEFT - 4.0,
                y(tick) + 4.0
            );
        }
    }
    // Points; labels in score order, each only where it overlaps no earlier
    // label (the point keeps its tooltip).
    let mut placed: Vec<(f64, f64, f64, f64)> = Vec::new();
    for (k, &(i, s)) in signals.iter().enumerate() {
        let (px, py) = (x(vis[k]), y(growth[k]));
        let _ = write!(
            out,
            "<a href=\"#{}\"><circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"5\" class=\"{}\" fill=\"{}\"><title>{} ({}: growth {:.1}x, visibility {:.2}%)</title></circle>",
            anchor(i),
            s.class.name(),
            class_color(s.class),
            escape(&s.label),
            s.class.name(),
            s.growth,
            s.visibility * 100.0
        );
        let label: String = s.label.chars().take(28).collect();
        let width = label.chars().count() as f64 * 6.2;
        let fits = |x0: f64| {
            let rect = (x0, py - 9.0, x0 + width, py + 4.0);
            let inside = rect.0 >= LEFT && rect.2 <= W - RIGHT;
            let free = placed
                .iter()
                .all(|r| rect.2 < r.0 || rect.0 > r.2 || rect.3 < r.1 || rect.1 > r.3);
            (inside && free).then_some(rect)
        };
        if let Some(rect) = fits(px + 7.0).or_else(|| fits(px - 7.0 - width)) {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                rect.0,
                py + 4.0,
                escape(&label)
            );
            placed.push(rect);
        }
        out.push_str("</a>\n");
    }
    out.push_str("</svg>\n");
}

/// The futures radar: one per tagged taxonomy (the first open, the others a
/// click away). Sectors are the taxonomy's categories; rings are the class,
/// weak outside, then emerging, then strong in the middle; each dot is a
/// signal in the sector of its best tag on that taxonomy, sized by its
/// recent documents and linked to its card. The list under each radar says
/// the same in text, for screen readers and for print.
fn futures_radar(out: &mut String, report: &Report) {
    if report.taxonomies.is_empty() {
        return;
    }
    out.push_str("<h2 id=\"radar\">Futures radar</h2>\n<p class=\"muted\">Signals placed on each taxonomy by their documents (zero-shot tags). Rings: strong in the middle, emerging, weak outside. Dot size: recent documents.</p>\n");
    let index = signal_index(report);
    for (k, groups) in report.taxonomies.iter().enumerate() {
        let _ = writeln!(
            out,
            "<details class=\"radar\"{}><summary>{}</summary>",
            if k == 0 { " open" } else { "" },
            escape(&groups.taxonomy)
        );
        radar_svg(out, groups, &index);
        out.push_str("<ul class=\"radar-list\">\n");
        for category in &groups.categories {
            let items = category_links(category, &index);
            let _ = writeln!(
                out,
                "<li><b>{}</b>: {}</li>",
                escape(&category.name),
                if items.is_empty() {
                    "none".to_string()
                } else {
                    items.join(", ")
                }
            );
        }
        out.push_str("</ul>\n</details>\n");
    }
}

/// Each signal by id, with its position (its card's anchor).
fn signal_index(report: &Report) -> std::collections::HashMap<&str, (usize, &Signal)> {
    report
        .current
        .signals
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), (i, s)))
        .collect()
}

/// Links to the cards of a category's signals: "label (class)".
fn category_links(
    category: &crate::report::CategoryGroup,
    index: &std::collections::HashMap<&str, (usize, &Signal)>,
) -> Vec<String> {
    category
        .signals
        .iter()
        .filter_map(|id| index.get(id.as_str()))
        .map(|&(i, s)| {
            format!(
                "<a href=\"#{}\">{}</a> ({})",
                anchor(i),
                escape(&s.label),
                s.class.name()
            )
        })
        .collect()
}

fn radar_svg(
    out: &mut String,
    groups: &super::TaxonomyGroups,
    index: &std::collections::HashMap<&str, (usize, &Signal)>,
) {
    const SIZE: f64 = 560.0;
    const C: f64 = SIZE / 2.0;
    const R: f64 = 200.0;
    // Ring bands (inner, outer radius) by class.
    let band = |class: Class| match class {
        Class::Strong => (0.0, R / 3.0),
        Class::Emerging => (R / 3.0, 2.0 * R / 3.0),
        _ => (2.0 * R / 3.0, R),
    };
    let n = groups.categories.len().max(1);
    let sector = std::f64::consts::TAU / n as f64;
    let point = |angle: f64, radius: f64| (C + radius * angle.cos(), C + radius * angle.sin());
    let _ = write!(
        out,
        "<svg class=\"radar\" viewBox=\"0 0 {SIZE} {SIZE}\" width=\"{SIZE}\" height=\"{SIZE}\" role=\"img\" aria-label=\"futures radar: {}\">",
        escape(&groups.taxonomy)
    );
    for r in [R / 3.0, 2.0 * R / 3.0, R] {
        let _ = write!(
            out,
            "<circle cx=\"{C}\" cy=\"{C}\" r=\"{r:.1}\" fill=\"none\" stroke=\"#ccc\"/>"
        );
    }
    for (j, category) in groups.categories.iter().enumerate() {
        let start = -std::f64::consts::FRAC_PI_2 + j as f64 * sector;
        let (x, y) = point(start, R);
        let _ = write!(
            out,
            "<line x1=\"{C}\" y1=\"{C}\" x2=\"{x:.1}\" y2=\"{y:.1}\" stroke=\"#ccc\"/>"
        );
        let (lx, ly) = point(start + sector / 2.0, R + 22.0);
        let anchor_side = if lx < C - 5.0 {
            "end"
        } else if lx > C + 5.0 {
            "start"
        } else {
            "middle"
        };
        let name: String = category.name.chars().take(32).collect();
        let _ = write!(
            out,
            "<text x=\"{lx:.1}\" y=\"{ly:.1}\" text-anchor=\"{anchor_side}\">{}</text>",
            escape(&name)
        );
        // The signals of this sector whose best tag on the taxonomy is this
        // category (a signal is drawn once per radar).
        let mine: Vec<(usize, &Signal)> = category
            .signals
            .iter()
            .filter_map(|id| index.get(id.as_str()).copied())
            .filter(|(_, s)| {
                s.tags
                    .iter()
                    .find(|t| t.taxonomy == groups.taxonomy)
                    .is_some_and(|t| t.id == category.id)
            })
            .collect();
        for (m, &(i, s)) in mine.iter().enumerate() {
            let (inner, outer) = band(s.class);
            // Spread the dots of a sector over its angle and its band.
            let along = (m as f64 + 0.5) / mine.len() as f64;
            let depth = 0.25 + 0.5 * ((m * 7 % 5) as f64 / 4.0);
            let (x, y) = point(
                start + sector * (0.1 + 0.8 * along),
                inner + (outer - inner) * depth,
            );
            let radius = 3.0 + (f64::from(s.recent_docs)).sqrt().min(9.0);
            let _ = write!(
                out,
                "<a href=\"#{}\"><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{radius:.1}\" fill=\"{}\" fill-opacity=\"0.8\"><title>{} ({}, {} recent documents)</title></circle></a>",
                anchor(i),
                class_color(s.class),
                escape(&s.label),
                s.class.name(),
                s.recent_docs
            );
        }
    }
    out.push_str("</svg>\n");
}

/// "3 sources", or that one source carried it alone.
fn sources_phrase(s: &Signal) -> String {
    if s.single_source {
        "one source only".to_string()
    } else {
        format!("{} sources", s.sources)
    }
}

fn class_color(class: Class) -> &'static str {
    match class {
        Class::Weak => "#2a7ab8",
        Class::Emerging => "#d9822b",
        Class::Recurring => "#8a6bb0",
        Class::Strong => "#c23b3b",
        Class::Fading => "#7a7a7a",
        Class::Noise => "#bbbbbb",
    }
}

/// Signals analysts' marks hide, with who marked them and when.
fn hidden(out: &mut String, report: &Report) {
    let hidden = &report.current.hidden;
    if hidden.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<h2 id=\"hidden\">Hidden by analysts' marks <span class=\"badge fading\">{}</span></h2>\n<ul class=\"changes\">",
        hidden.len()
    );
    for h in hidden {
        let what = match &h.into {
            Some(into) => format!("a duplicate of {}", escape(into)),
            None => escape(&h.verdict),
        };
        let _ = writeln!(
            out,
            "<li>{} ({}): marked {what} on {} by {}{}</li>",
            escape(&h.label),
            escape(&h.id),
            escape(day(&h.marked)),
            escape(&h.by),
            if h.note.is_empty() {
                String::new()
            } else {
                format!(" — {}", escape(&h.note))
            }
        );
    }
    out.push_str("</ul>\n");
}

/// What the report calls home ("Finland"), for abroad-first lines.
fn home_name(report: &Report) -> &str {
    report
        .current
        .home
        .as_ref()
        .map_or("home", |h| h.name.as_str())
}

/// "Already abroad, not yet here": the abroad-first signals, linked to their cards.
fn abroad_first(out: &mut String, report: &Report) {
    let Some(home) = &report.current.home else {
        return;
    };
    let _ = writeln!(
        out,
        "<h2 id=\"abroad\">Already abroad, not yet in {}</h2>\n<p class=\"muted\">Weak or emerging topics with at most {} documents from home media ({}).</p>",
        escape(&home.name),
        home.max_docs,
        escape(&home.languages.iter().chain(&home.sources).cloned().collect::<Vec<_>>().join(", "))
    );
    if !home.watched {
        out.push_str("<p>None can be said: the latest windows hold too few home documents to tell what is not yet here.</p>\n");
        return;
    }
    let items: Vec<String> = report
        .current
        .signals
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let a = s.abroad_first.as_ref()?;
            Some(format!(
                "<li><a href=\"#{}\">{}</a> <span class=\"badge {}\">{}</span>: {}</li>",
                anchor(i),
                escape(&s.label),
                s.class.name(),
                s.class.name(),
                escape(&a.describe(&home.name))
            ))
        })
        .collect();
    if items.is_empty() {
        out.push_str("<p>None.</p>\n");
        return;
    }
    let _ = writeln!(out, "<ul class=\"changes\">\n{}\n</ul>", items.join("\n"));
}

/// Per tagged taxonomy, a small multiple per category: its share of the
/// documents window by window (one scale for the taxonomy), the share now
/// and over the history, and its signals.
fn category_multiples(out: &mut String, report: &Report) {
    let index = signal_index(report);
    for shares in &report.current.category_shares {
        let max = shares
            .categories
            .iter()
            .flat_map(|c| c.share.iter().copied())
            .fold(0.0f64, f64::max)
            .max(0.01);
        let total: u32 = shares.docs.iter().sum();
        let _ = writeln!(
            out,
            "<h2 id=\"shares-{0}\">{0}: share of documents over time</h2>\n<p class=\"muted\">Each category's share of each {1}'s documents (a document counts for its best category when it is tagged with it), {2} documents in {3} {1}s, one scale up to {4:.0}%; and the signals tagged with it.</p>\n<div class=\"multiples\">",
            escape(&shares.taxonomy),
            report.current.window.name(),
            total,
            shares.docs.len(),
            max * 100.0
        );
        let groups = report
            .taxonomies
            .iter()
            .find(|g| g.taxonomy == shares.taxonomy);
        for category in &shares.categories {
            let now = category.share.last().copied().unwrap_or(0.0);
            let docs: u32 = category.docs.iter().sum();
            let mean = docs as f64 / total.max(1) as f64;
            let _ = write!(
                out,
                "<figure><figcaption><b>{}</b>{:.1}% now · {:.1}% over the history</figcaption>",
                escape(&category.name),
                now * 100.0,
                mean * 100.0
            );
            share_svg(out, &category.share, &shares.starts, max);
            let signals: Vec<String> = groups
                .and_then(|g| g.categories.iter().find(|c| c.id == category.id))
                .map(|c| category_links(c, &index))
                .unwrap_or_default();
            if signals.is_empty() {
                out.push_str("<div class=\"muted\">no signals</div>");
            } else {
                let _ = write!(out, "<ul><li>{}</li></ul>", signals.join("</li><li>"));
            }
            out.push_str("</figure>\n");
        }
        out.push_str("</div>\n");
    }
}

/// A small area chart of shares (0..=max), oldest first.
fn share_svg(out: &mut String, share: &[f64], starts: &[String], max: f64) {
    const W: f64 = 200.0;
    const H: f64 = 44.0;
    if share.is_empty() {
        return;
    }
    let step = W / (share.len().max(2) - 1) as f64;
    let point = |i: usize, v: f64| (i as f64 * step, H - v / max * (H - 2.0));
    let line: Vec<String> = share
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let (x, y) = point(i, v);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let summary = format!(
        "share from {:.1}% ({}) to {:.1}% ({})",
        share[0] * 100.0,
        day(starts.first().map_or("", String::as_str)),
        share[share.len() - 1] * 100.0,
        day(starts.last().map_or("", String::as_str))
    );
    let _ = write!(
        out,
        "<svg role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{}</title><path class=\"area\" d=\"M0,{H} L{} L{:.1},{H} Z\"/><path class=\"line\" d=\"M{}\"/></svg>",
        escape(&summary),
        escape(&summary),
        line.join(" L"),
        (share.len() - 1) as f64 * step,
        line.join(" L")
    );
}

fn signal_article(out: &mut String, index: usize, s: &Signal, home: &str) {
    let found: Vec<&str> = s
        .found_by
        .iter()
        .map(|l| match l {
            crate::signals::Level::Topic => "topics",
            crate::signals::Level::Term => "terms",
        })
        .collect();
    let _ = write!(
        out,
        "<article class=\"signal\" id=\"{}\">\n<h3>{} <span class=\"badge {}\">{}</span>{}</h3>\n<div class=\"muted\">keywords: {} · found by {} · first seen {} · {} · {}</div>\n",
        anchor(index),
        escape(&s.label),
        s.class.name(),
        s.class.name(),
        s.p_grow
            .map(|p| format!(" <span class=\"pgrow\">p(grows 3x in 8 weeks) = {p:.2}</span>"))
            .unwrap_or_default(),
        escape(&s.keywords.join(", ")),
        found.join(" and "),
        escape(day(&s.first_seen)),
        match s.previous_bursts {
            0 => "no earlier rise".to_string(),
            1 => "1 earlier rise".to_string(),
            n => format!("{n} earlier rises"),
        },
        sources_phrase(s)
    );
    let _ = writeln!(
        out,
        "<div class=\"numbers\">\
         <div><span>growth</span> {:.1}x</div>\
         <div><span>acceleration</span> {:+.1}</div>\
         <div><span>visibility</span> {:.2}% <span>(baseline {:.2}%)</span></div>\
         <div><span>recent documents</span> {} <span>of {}</span></div>\
         <div><span>sources</span> {}</div>\
         <div><span>diffusion</span> {:.2}</div>\
         <div><span>burst</span> {:.1}</div>\
         <div><span>q</span> {:.1e}</div>\
         <div><span>score</span> {:.1}</div>\
         </div>",
        s.growth,
        s.acceleration,
        s.visibility * 100.0,
        s.visibility_baseline.max(0.0) * 100.0,
        s.recent_docs,
        s.docs,
        s.sources,
        s.diffusion,
        s.burst,
        s.q_value,
        s.score
    );
    if !s.tags.is_empty() {
        let tags: Vec<String> = s
            .tags
            .iter()
            .map(|t| {
                format!(
                    "{} <span>({}, {:.2})</span>",
                    escape(&t.name),
                    escape(&t.taxonomy),
                    t.score
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "<div class=\"muted tags\">tags: {}</div>",
            tags.join(" · ")
        );
    }
    if let Some(a) = &s.abroad_first {
        let _ = writeln!(
            out,
            "<div class=\"abroad\">{}</div>",
            escape(&a.describe(home))
        );
    }
    if let Some(a) = &s.arrived_home {
        let _ = writeln!(
            out,
            "<div class=\"abroad\">{}</div>",
            escape(&a.describe(home))
        );
    }
    timeline(out, &s.timeline);
    let _ = writeln!(out, "<p class=\"why\">{}</p>", escape(&s.why));
    card_examples(
        out,
        s.examples.iter().map(|e| CardExample {
            published: &e.published,
            source: &e.source,
            title: &e.title,
            url: e.url.as_deref(),
        }),
    );
    out.push_str("</article>\n");
}

/// Bars per window; the recent windows darker.
fn timeline(out: &mut String, points: &[TimelinePoint]) {
    if points.is_empty() {
        return;
    }
    const W: f64 = 420.0;
    const H: f64 = 64.0;
    let max = points.iter().map(|p| p.docs).max().unwrap_or(0).max(1) as f64;
    let step = W / points.len() as f64;
    let _ = write!(
        out,
        "<svg class=\"timeline\" role=\"img\" aria-label=\"documents per window\" viewBox=\"0 0 {W} {}\" width=\"{W}\" height=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        H + 14.0,
        H + 14.0
    );
    let recent_from = points.len().saturating_sub(2);
    for (i, p) in points.iter().enumerate() {
        let h = (p.docs as f64 / max * (H - 4.0)).max(if p.docs > 0 { 2.0 } else { 0.0 });
        let _ = write!(
            out,
            "<rect class=\"bar{}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\"><title>{}: {}</title></rect>",
            if i >= recent_from { " recent" } else { "" },
            i as f64 * step + 0.5,
            H - h,
            (step - 1.0).max(1.0),
            escape(day(&p.start)),
            p.docs
        );
    }
    let first = points.first().map(|p| day(&p.start)).unwrap_or("");
    let last = points.last().map(|p| day(&p.start)).unwrap_or("");
    let _ = writeln!(
        out,
        "<text x=\"0\" y=\"{:.1}\">{}</text><text x=\"{W}\" y=\"{:.1}\" text-anchor=\"end\">{} (max {})</text></svg>",
        H + 12.0,
        escape(first),
        H + 12.0,
        escape(last),
        max
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{report, signal};
    use crate::report::{Changes, MapSplit};
    use crate::signals::Example;

    fn hostile() -> Report {
        let mut s = signal("term-<script>", Class::Weak);
        s.label = "<script>alert(1)</script>".into();
        s.keywords = vec!["\"><img src=x onerror=alert(2)>".into()];
        s.why = "<b>why</b>".into();
        s.examples = vec![
            Example {
                id: "a".into(),
                published: "2020-01-30T00:00:00Z".into(),
                source: "<i>evil</i>".into(),
                title: "\"><img src=x onerror=alert(3)>".into(),
                url: Some("javascript:alert(4)".into()),
            },
            Example {
                id: "b".into(),
                published: "2020-01-30T00:00:00Z".into(),
                source: "ok".into(),
                title: "fine".into(),
                url: Some("https://example.org/a?b=1&c=\"2\"".into()),
            },
        ];
        s.timeline = vec![TimelinePoint {
            start: "2020-01-27T00:00:00Z".into(),
            docs: 3,
        }];
        Report {
            current: report(vec![s]),
            generated_at: "now".into(),
            map: MapSplit {
                visibility: 0.05,
                growth: 2.5,
            },
            since_previous: Changes {
                previous_as_of: Some("2020-01-24T23:59:59Z".into()),
                new: vec![Change {
                    id: "term-<script>".into(),
                    label: "<script>alert(5)</script>".into(),
                    from: None,
                    to: Some(Class::Weak),
                }],
                ..Changes::default()
            },
            run: None,
            taxonomies: vec![crate::report::TaxonomyGroups {
                taxonomy: "<b>tax</b>".into(),
                categories: vec![crate::report::CategoryGroup {
                    id: "c".into(),
                    name: "<script>alert(6)</script>".into(),
                    signals: vec!["term-<script>".into()],
                }],
            }],
        }
    }

    #[test]
    fn untrusted_text_is_escaped_and_only_http_links_are_rendered() {
        let html = render(&hostile());
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<i>evil"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("href=\"https://example.org/a?b=1&amp;c=&quot;2&quot;\""));
        // the hostile example is shown, as text without a link
        assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(3)&gt;</li>"));
    }

    #[test]
    fn the_page_is_self_contained() {
        let html = render(&hostile());
        for external in ["<script", "<link", "@import", "url(", "src=\"http"] {
            assert!(!html.contains(external), "{external}");
        }
        assert!(html.contains("<svg class=\"map\""));
        assert!(html.contains("<svg class=\"radar\""));
        assert!(html.contains("<svg class=\"timeline\""));
    }
}
