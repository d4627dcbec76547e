//! `weaksignal bench crawl`: collection throughput against local HTTP
//! servers (127.0.0.1, 127.0.0.2, ...: one host each) serving real article
//! pages, through the real `collect` path (robots.txt, rate limits, fetch,
//! extraction, store). The ceiling is the configured politeness: hosts /
//! min_delay_seconds requests per second.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::Response;
use serde::Serialize;

use super::fetch::Fetcher;
use super::{CollectOptions, Source};
use crate::config::CrawlerConfig;
use crate::document::{Defaults, DocumentBuilder};
use crate::error::{Error, Result};
use crate::store::Store;

#[derive(Debug, Clone, Serialize)]
pub struct CrawlBench {
    pub pages: usize,
    pub hosts: usize,
    pub min_delay_seconds: f64,
    /// hosts / min_delay: what politeness allows.
    pub politeness_limit_per_second: f64,
    pub fetched: u64,
    pub stored: u64,
    pub near_duplicates: u64,
    pub failed: u64,
    pub seconds: f64,
    pub pages_per_second: f64,
}

struct Site {
    pages: Arc<Vec<String>>,
    per_host: usize,
    host_index: usize,
}

async fn serve(State(site): State<Arc<Site>>, request: Request) -> Response {
    let path = request.uri().path();
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let reply = |content_type: &str, body: String| {
        Response::builder()
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .expect("response")
    };
    if path == "/robots.txt" {
        return reply("text/plain", "User-agent: *\nAllow: /\n".into());
    }
    if path == "/feed.xml" {
        let items: String = (0..site.per_host)
            .map(|i| {
                let n = site.host_index * site.per_host + i;
                format!(
                    "<item><title>Page {n}</title><link>http://{host}/pages/{n}.html</link>\
                     <pubDate>Tue, 24 Nov 2026 08:00:00 +0000</pubDate></item>"
                )
            })
            .collect();
        return reply(
            "application/rss+xml",
            format!("<rss version=\"2.0\"><channel><title>bench</title>{items}</channel></rss>"),
        );
    }
    let n: usize = path
        .trim_start_matches("/pages/")
        .trim_end_matches(".html")
        .parse()
        .unwrap_or(0);
    reply(
        "text/html; charset=utf-8",
        site.pages[n % site.pages.len()].clone(),
    )
}

/// Real article pages from the article-extraction-benchmark.
fn load_pages(shared: &Path) -> Result<Vec<String>> {
    let dir = shared.join("fixtures/pages/article-extraction-benchmark/html");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| Error::io(&dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".html.gz"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
            let mut bytes = Vec::new();
            flate2::read::GzDecoder::new(file)
                .read_to_end(&mut bytes)
                .map_err(|e| Error::io(path, e))?;
            Ok(super::fetch::decode(&bytes, None))
        })
        .collect()
}

pub fn run(
    crawler: &CrawlerConfig,
    import: &crate::config::ImportConfig,
    pages: usize,
    hosts: usize,
    min_delay_seconds: f64,
    work: &Path,
) -> Result<CrawlBench> {
    let hosts = hosts.clamp(1, 16);
    let site_pages = Arc::new(load_pages(&crate::shared_dir())?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| Error::io("<tokio runtime>", e))?;
    let per_host = pages.div_ceil(hosts);
    let mut sources: Vec<Arc<dyn Source>> = Vec::new();
    for h in 0..hosts {
        let ip = format!("127.0.0.{}", h + 1);
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(format!("{ip}:0")))
            .map_err(|e| Error::io(format!("{ip}:0"), e))?;
        let addr = listener.local_addr().map_err(|e| Error::io(&ip, e))?;
        let site = Arc::new(Site {
            pages: site_pages.clone(),
            per_host,
            host_index: h,
        });
        let app = axum::Router::new().fallback(serve).with_state(site);
        runtime.spawn(async move { axum::serve(listener, app).await });
        sources.push(Arc::new(super::feed::FeedSource {
            name: format!("bench-{h}"),
            url: format!("http://{addr}/feed.xml"),
            fetch_articles: true,
            lang: None,
        }));
    }
    let config = CrawlerConfig {
        min_delay_seconds,
        ..crawler.clone()
    };
    let fetcher = Arc::new(Fetcher::new(&config).map_err(Error::Usage)?);
    let mut store = Store::open(work)?;
    let mut builder = DocumentBuilder::new(import, Defaults::default(), chrono::Utc::now());
    let options = CollectOptions {
        limit: Some(per_host),
        dry_run: false,
        near_duplicate_days: 3,
    };
    let started = Instant::now();
    let summaries = super::collect(
        sources,
        fetcher,
        &mut store,
        &mut builder,
        &options,
        &crate::progress::Progress::new(true),
    )?;
    let seconds = started.elapsed().as_secs_f64();
    drop(runtime);
    let sum = |f: fn(&super::SourceSummary) -> u64| summaries.iter().map(f).sum::<u64>();
    // Listing requests are not pages.
    let fetched = sum(|s| s.fetched) - hosts as u64;
    Ok(CrawlBench {
        pages: hosts * per_host,
        hosts,
        min_delay_seconds,
        politeness_limit_per_second: hosts as f64 / min_delay_seconds,
        fetched,
        stored: sum(|s| s.new),
        near_duplicates: sum(|s| s.near_duplicates),
        failed: sum(|s| s.failed_total()),
        seconds,
        pages_per_second: fetched as f64 / seconds,
    })
}
