//! Human and JSON output of the commands.

use std::io::{IsTerminal, Write};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::import::ImportSummary;
use crate::index::SearchResults;
use crate::store::Stats;

fn write_err(e: std::io::Error) -> Error {
    Error::io("<stdout>", e)
}

pub fn line(out: &mut dyn Write, text: &str) -> Result<()> {
    writeln!(out, "{text}").map_err(write_err)
}

pub fn json<T: Serialize>(out: &mut dyn Write, value: &T) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(|e| write_err(e.into()))?;
    writeln!(out).map_err(write_err)
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn import_summary(out: &mut dyn Write, s: &ImportSummary) -> Result<()> {
    let mut text = format!(
        "{}: imported {}, updated {}, duplicates {}, rejected {} of {} rows in {:.2} s ({} rows/s, {:.1} MB/s)",
        s.file.display(),
        thousands(s.imported),
        thousands(s.updated),
        thousands(s.duplicates),
        thousands(s.rejected),
        thousands(s.rows),
        s.seconds,
        thousands(s.docs_per_second() as u64),
        s.bytes as f64 / 1e6 / s.seconds.max(1e-9),
    );
    if s.rolled_back {
        text.push_str("\n  --strict: the file had rejected rows, so nothing from it was stored");
    }
    line(out, &text)
}

pub fn stats(out: &mut dyn Write, stats: &Stats) -> Result<()> {
    let mut text = format!("{} documents", thousands(stats.documents));
    if let (Some(first), Some(last)) = (&stats.first_published, &stats.last_published) {
        text.push_str(&format!(", published {} to {}", &first[..10], &last[..10]));
    }
    line(out, &text)?;
    for (title, rows) in [("source", &stats.by_source), ("language", &stats.by_lang)] {
        line(out, &format!("\nby {title}:"))?;
        for (key, count) in rows {
            line(out, &format!("  {key:<24} {:>10}", thousands(*count)))?;
        }
    }
    line(out, "\nby month:")?;
    let max = stats
        .by_month
        .iter()
        .map(|(_, c)| *c)
        .max()
        .unwrap_or(1)
        .max(1);
    for (month, count) in &stats.by_month {
        let bar = "#".repeat(((*count as f64 / max as f64) * 40.0).ceil() as usize);
        line(out, &format!("  {month}  {:>9}  {bar}", thousands(*count)))?;
    }
    Ok(())
}

pub fn search_results(out: &mut dyn Write, results: &SearchResults) -> Result<()> {
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let (bold, reset) = if color {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("", "")
    };
    let (mark, unmark) = if color {
        ("\x1b[1;33m", "\x1b[0m")
    } else {
        ("[", "]")
    };
    line(
        out,
        &format!(
            "{} of {} hits",
            results.hits.len(),
            thousands(results.total as u64)
        ),
    )?;
    for (rank, hit) in results.hits.iter().enumerate() {
        let mut snippet = String::new();
        let mut at = 0;
        for range in &hit.highlights {
            if range.start < at || range.end > hit.snippet_text.len() {
                continue;
            }
            snippet.push_str(&hit.snippet_text[at..range.start]);
            snippet.push_str(mark);
            snippet.push_str(&hit.snippet_text[range.clone()]);
            snippet.push_str(unmark);
            at = range.end;
        }
        snippet.push_str(&hit.snippet_text[at..]);
        // A headline-only document's snippet is its title: show it once, highlighted.
        let snippet_is_title = hit.snippet_text == hit.title;
        let title = if snippet_is_title {
            &snippet
        } else {
            &hit.title
        };
        line(
            out,
            &format!(
                "{:>3}. {}  {}  {bold}{}{reset}",
                rank + 1,
                &hit.published[..10],
                hit.source,
                one_line(title)
            ),
        )?;
        if !snippet_is_title {
            line(out, &format!("     {}", one_line(&snippet)))?;
        }
        if let Some(url) = &hit.url {
            line(out, &format!("     {url}"))?;
        }
    }
    Ok(())
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
