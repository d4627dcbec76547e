//! Extraction quality and speed on the shared real pages, for `weaksignal
//! bench extract` and `tests/extract.rs`: body-text precision, recall and F1
//! on the article-extraction-benchmark (its own metric, see `metric.rs`), and
//! the must-have / must-not-have snippets of trafilatura's evaluation set.

use std::io::Read;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::{extract, metric};
use crate::error::{Error, Result};

/// Figures of one evaluation run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExtractEval {
    pub aeb_pages: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub trafilatura_pages: usize,
    pub with_found: usize,
    pub with_total: usize,
    pub without_absent: usize,
    pub without_total: usize,
    /// The same over the Finnish pages (yle.fi, uusisuomi.fi).
    pub finnish_with_found: usize,
    pub finnish_with_total: usize,
    pub finnish_without_absent: usize,
    pub finnish_without_total: usize,
    /// Publication day right, of the pages whose date trafilatura's data gives.
    pub date_correct: usize,
    pub date_total: usize,
    /// Extraction alone (pages read and decoded beforehand), one thread.
    pub pages: usize,
    pub seconds: f64,
    pub pages_per_second: f64,
}

struct Page {
    html: String,
    url: Option<String>,
}

/// Runs the extractor over both page sets under `shared` (the shared data directory).
pub fn evaluate(shared: &Path) -> Result<ExtractEval> {
    let aeb = shared.join("fixtures/pages/article-extraction-benchmark");
    let truth = read_json(&aeb.join("ground-truth.json"))?;
    let truth = truth.as_object().ok_or_else(|| Error::Input {
        path: aeb.join("ground-truth.json"),
        message: "not a JSON object".into(),
    })?;
    let mut aeb_pages = Vec::new();
    for (key, value) in truth {
        let path = aeb.join("html").join(format!("{key}.html.gz"));
        let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(file)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(&path, e))?;
        aeb_pages.push((
            Page {
                html: crate::html::decode(&bytes, None),
                url: value["url"].as_str().map(str::to_string),
            },
            value["articleBody"].as_str().unwrap_or("").to_string(),
        ));
    }
    let traf = shared.join("fixtures/pages/trafilatura");
    let eval = read_json(&traf.join("evaldata.json"))?;
    let eval = eval.as_object().ok_or_else(|| Error::Input {
        path: traf.join("evaldata.json"),
        message: "not a JSON object".into(),
    })?;
    let mut traf_pages = Vec::new();
    for (url, value) in eval {
        let file = value["file"].as_str().unwrap_or("");
        let path = traf.join("pages").join(file);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let list = |k: &str| -> Vec<String> {
            value[k]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let finnish = url.contains(".fi/") || file.contains(".fi.");
        traf_pages.push((
            Page {
                html: crate::html::decode(&bytes, None),
                url: Some(url.clone()),
            },
            list("with"),
            list("without"),
            value["date"].as_str().map(str::to_string),
            finnish,
        ));
    }

    let started = Instant::now();
    let aeb_out: Vec<_> = aeb_pages
        .iter()
        .map(|(p, _)| extract(&p.html, p.url.as_deref()))
        .collect();
    let traf_out: Vec<_> = traf_pages
        .iter()
        .map(|(p, ..)| extract(&p.html, p.url.as_deref()))
        .collect();
    let seconds = started.elapsed().as_secs_f64();

    let counts: Vec<_> = aeb_out
        .iter()
        .zip(&aeb_pages)
        .map(|(got, (_, truth))| metric::shingle_tp_fp_fn(truth, &got.text))
        .collect();
    let (precision, recall, f1) = metric::prf(&counts);
    let pages = aeb_pages.len() + traf_pages.len();
    let mut e = ExtractEval {
        aeb_pages: aeb_pages.len(),
        precision,
        recall,
        f1,
        trafilatura_pages: traf_pages.len(),
        pages,
        seconds,
        pages_per_second: pages as f64 / seconds.max(1e-9),
        ..Default::default()
    };
    for (got, (_, with, without, date, finnish)) in traf_out.iter().zip(&traf_pages) {
        for s in with {
            let ok = usize::from(got.text.contains(s.as_str()));
            e.with_total += 1;
            e.with_found += ok;
            if *finnish {
                e.finnish_with_total += 1;
                e.finnish_with_found += ok;
            }
        }
        for s in without {
            let ok = usize::from(!got.text.contains(s.as_str()));
            e.without_total += 1;
            e.without_absent += ok;
            if *finnish {
                e.finnish_without_total += 1;
                e.finnish_without_absent += ok;
            }
        }
        if let Some(day) = date.as_deref().filter(|d| d.len() >= 10) {
            e.date_total += 1;
            e.date_correct += usize::from(
                got.published
                    .as_deref()
                    .is_some_and(|p| p.starts_with(&day[..10])),
            );
        }
    }
    Ok(e)
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Input {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}
