//! The one HTTP client every collector goes through, so that politeness and
//! safety are decided in one place: robots.txt (cached, with Crawl-delay), a
//! rate limit per host, retries with exponential backoff that honour
//! Retry-After, conditional GET, a body size cap, a redirect limit, and text
//! decoded with the charset the server, a BOM or the page itself declares.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{self, HeaderMap};
use reqwest::StatusCode;
use tokio::sync::Mutex;
use url::Url;

use crate::config::CrawlerConfig;

/// Validators of an earlier response, sent back for a conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A fetched body, decoded to text.
#[derive(Debug, Clone)]
pub struct Page {
    /// The URL after redirects.
    pub url: Url,
    pub content_type: Option<String>,
    pub text: String,
    pub validators: Validators,
}

/// Why a URL was not fetched; the summary counts these by [`FetchError::reason`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    #[error("disallowed by robots.txt")]
    Robots,
    /// robots.txt answered 5xx or not at all: nothing is fetched from the host (RFC 9309 2.3.1.4).
    #[error("robots.txt unavailable ({0}), so nothing is fetched from this host")]
    RobotsUnavailable(String),
    #[error("HTTP {status}")]
    Status { status: u16 },
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("body over {max} bytes")]
    TooLarge { max: usize },
    #[error("Retry-After {seconds} s is longer than crawler.max_retry_after_seconds")]
    RetryAfterTooLong { seconds: u64 },
    #[error("robots.txt asks for a Crawl-delay of {seconds} s, longer than crawler.max_crawl_delay_seconds: not fetched in this run")]
    CrawlDelayTooLong { seconds: f64 },
    #[error("too many redirects")]
    Redirects,
    #[error("not an http(s) URL")]
    Scheme,
    #[error("connection: {0}")]
    Connection(String),
}

impl FetchError {
    /// A short key for counting failures by kind.
    pub fn reason(&self) -> String {
        match self {
            FetchError::Robots => "robots".into(),
            FetchError::RobotsUnavailable(_) => "robots unavailable".into(),
            FetchError::Status { status } => format!("http {status}"),
            FetchError::Timeout(_) => "timeout".into(),
            FetchError::TooLarge { .. } => "too large".into(),
            FetchError::RetryAfterTooLong { .. } => "retry-after too long".into(),
            FetchError::CrawlDelayTooLong { .. } => "crawl-delay too long".into(),
            FetchError::Redirects => "redirects".into(),
            FetchError::Scheme => "scheme".into(),
            FetchError::Connection(_) => "connection".into(),
        }
    }
}

/// What a fetch gave.
#[derive(Debug, Clone)]
pub enum Fetched {
    Page(Page),
    /// 304: the validators still hold.
    NotModified,
}

struct RobotsEntry {
    /// `None`: no usable robots.txt (404, unparsable): everything is allowed.
    robot: Option<texting_robots::Robot>,
    /// Why robots.txt could not be read (5xx, unreachable): the host is off limits.
    unavailable: Option<FetchError>,
    fetched: Instant,
}

/// One origin's robots.txt, once fetched.
type RobotsSlot = Arc<Mutex<Option<Arc<RobotsEntry>>>>;

/// The shared client. Cheap to share behind an `Arc`.
pub struct Fetcher {
    client: reqwest::Client,
    config: CrawlerConfig,
    user_agent: String,
    /// Per origin; the inner lock makes concurrent first requests wait for one fetch.
    robots: Mutex<HashMap<String, RobotsSlot>>,
    limiters: Mutex<HashMap<String, Arc<DefaultDirectRateLimiter>>>,
    /// Requests in flight (crawler.concurrency), taken after the host's rate
    /// limit lets a request go, so waiting on one host never blocks another.
    in_flight: tokio::sync::Semaphore,
}

impl Fetcher {
    pub fn new(config: &CrawlerConfig) -> Result<Fetcher, String> {
        let user_agent = config.user_agent_header();
        let client = reqwest::Client::builder()
            .user_agent(&user_agent)
            .timeout(Duration::from_secs_f64(config.timeout_seconds))
            .connect_timeout(Duration::from_secs_f64(config.timeout_seconds))
            .redirect(reqwest::redirect::Policy::limited(config.max_redirects))
            .gzip(true)
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Fetcher {
            client,
            config: config.clone(),
            user_agent,
            robots: Mutex::new(HashMap::new()),
            limiters: Mutex::new(HashMap::new()),
            in_flight: tokio::sync::Semaphore::new(config.concurrency.max(1)),
        })
    }

    /// GETs `url` politely: robots.txt first, then the host's rate limit,
    /// then the request with retries.
    pub async fn get(
        &self,
        url: &Url,
        validators: Option<&Validators>,
    ) -> Result<Fetched, FetchError> {
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(FetchError::Scheme);
        }
        let robots = self.robots_for(url).await;
        if let Some(why) = &robots.unavailable {
            return Err(FetchError::RobotsUnavailable(why.to_string()));
        }
        if let Some(robot) = &robots.robot {
            if !robot.allowed(url.as_str()) {
                return Err(FetchError::Robots);
            }
        }
        let delay = crawl_delay(
            robots.robot.as_ref().and_then(|r| r.delay),
            self.config.min_delay_seconds,
            self.config.max_crawl_delay_seconds,
        )?;
        self.request(url, validators, delay).await
    }

    async fn request(
        &self,
        url: &Url,
        validators: Option<&Validators>,
        host_delay: f64,
    ) -> Result<Fetched, FetchError> {
        let limiter = self.limiter(url, host_delay).await;
        let mut attempt = 0u32;
        loop {
            limiter.until_ready().await;
            let outcome = {
                let _permit = self.in_flight.acquire().await.expect("never closed");
                self.once(url, validators).await
            };
            let wait = match &outcome {
                Ok(fetched) => return Ok(fetched.clone()),
                Err(Attempt::Final(e)) => return Err(e.clone()),
                Err(Attempt::Retry { error, after }) => {
                    if attempt >= self.config.retries {
                        return Err(error.clone());
                    }
                    let backoff = self.config.retry_base_seconds * 2f64.powi(attempt as i32);
                    match after {
                        Some(s) if *s > self.config.max_retry_after_seconds as f64 => {
                            return Err(FetchError::RetryAfterTooLong { seconds: *s as u64 })
                        }
                        Some(s) => s.max(backoff),
                        None => backoff,
                    }
                }
            };
            attempt += 1;
            tracing::debug!(url = %url, attempt, wait_seconds = wait, "retrying");
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
    }

    async fn once(&self, url: &Url, validators: Option<&Validators>) -> Result<Fetched, Attempt> {
        let mut request = self.client.get(url.clone());
        if let Some(v) = validators {
            if let Some(etag) = &v.etag {
                request = request.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(modified) = &v.last_modified {
                request = request.header(header::IF_MODIFIED_SINCE, modified);
            }
        }
        let mut response = request.send().await.map_err(|e| self.classify(e))?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Err(Attempt::Retry {
                error: FetchError::Status {
                    status: status.as_u16(),
                },
                after: retry_after(response.headers()),
            });
        }
        if !status.is_success() {
            return Err(Attempt::Final(FetchError::Status {
                status: status.as_u16(),
            }));
        }
        let max = self.config.max_body_bytes;
        if response.content_length().is_some_and(|n| n as usize > max) {
            return Err(Attempt::Final(FetchError::TooLarge { max }));
        }
        let headers = response.headers().clone();
        let final_url = response.url().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.classify(e))? {
            if body.len() + chunk.len() > max {
                return Err(Attempt::Final(FetchError::TooLarge { max }));
            }
            body.extend_from_slice(&chunk);
        }
        let content_type = header_text(&headers, header::CONTENT_TYPE);
        Ok(Fetched::Page(Page {
            url: final_url,
            text: decode(&body, content_type.as_deref()),
            content_type,
            validators: Validators {
                etag: header_text(&headers, header::ETAG),
                last_modified: header_text(&headers, header::LAST_MODIFIED),
            },
        }))
    }

    fn classify(&self, e: reqwest::Error) -> Attempt {
        if e.is_timeout() {
            return Attempt::Retry {
                error: FetchError::Timeout(Duration::from_secs_f64(self.config.timeout_seconds)),
                after: None,
            };
        }
        if e.is_redirect() {
            return Attempt::Final(FetchError::Redirects);
        }
        // Connection refused, reset, DNS: worth another try.
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message = format!("{message}: {s}");
            source = s.source();
        }
        Attempt::Retry {
            error: FetchError::Connection(message),
            after: None,
        }
    }

    /// The host's robots.txt, fetched once per `robots_ttl_hours`.
    async fn robots_for(&self, url: &Url) -> Arc<RobotsEntry> {
        let origin = url.origin().ascii_serialization();
        let ttl = Duration::from_secs_f64(self.config.robots_ttl_hours * 3600.0);
        let slot = self
            .robots
            .lock()
            .await
            .entry(origin.clone())
            .or_default()
            .clone();
        let mut cached = slot.lock().await;
        if let Some(entry) = cached.as_ref().filter(|e| e.fetched.elapsed() < ttl) {
            return entry.clone();
        }
        let robots_url = Url::parse(&format!("{origin}/robots.txt")).ok();
        let mut robot = None;
        let mut unavailable = None;
        if let Some(robots_url) = robots_url {
            // Not through the host's limiter: its rate depends on Crawl-delay.
            match self.once(&robots_url, None).await {
                Ok(Fetched::Page(page)) => {
                    match texting_robots::Robot::new(&self.user_agent, page.text.as_bytes()) {
                        Ok(r) => robot = Some(r),
                        Err(e) => {
                            tracing::warn!(url = %robots_url, error = %e, "robots.txt unparsable; treated as allowing everything")
                        }
                    }
                }
                Ok(Fetched::NotModified) => {}
                // 4xx: no robots.txt, everything allowed (RFC 9309 2.3.1.3).
                Err(Attempt::Final(FetchError::Status { status })) if status < 500 => {}
                // 5xx or unreachable: assume complete disallow (RFC 9309 2.3.1.4).
                Err(Attempt::Final(e) | Attempt::Retry { error: e, .. }) => {
                    tracing::warn!(url = %robots_url, error = %e, "robots.txt unavailable; not fetching from this host");
                    unavailable = Some(e);
                }
            }
        }
        let entry = Arc::new(RobotsEntry {
            robot,
            unavailable,
            fetched: Instant::now(),
        });
        *cached = Some(entry.clone());
        entry
    }

    async fn limiter(&self, url: &Url, delay_seconds: f64) -> Arc<DefaultDirectRateLimiter> {
        let host = url.host_str().unwrap_or("").to_string();
        let mut limiters = self.limiters.lock().await;
        limiters
            .entry(host)
            .or_insert_with(|| {
                // `crawl_delay` and the configuration bound it; never panic on a time.
                let period = Duration::try_from_secs_f64(delay_seconds.max(0.001))
                    .unwrap_or(Duration::from_secs(86_400));
                let quota = Quota::with_period(period)
                    .expect("positive period")
                    .allow_burst(NonZeroU32::MIN);
                Arc::new(RateLimiter::direct(quota))
            })
            .clone()
    }
}

/// The wait between requests to a host: its robots.txt Crawl-delay when that
/// is longer than `min`. A Crawl-delay is the site's text: one that is not a
/// number of seconds (NaN, negative) is ignored, and one longer than `max`
/// (or infinite) fails the host's URLs for this run rather than stalling or
/// crashing the collection of every other source.
pub fn crawl_delay(asked: Option<f32>, min: f64, max: f64) -> Result<f64, FetchError> {
    let Some(asked) = asked.map(f64::from) else {
        return Ok(min);
    };
    if asked.is_nan() || asked < 0.0 {
        tracing::warn!(crawl_delay = %asked, "robots.txt crawl-delay is not a number of seconds; ignored");
        return Ok(min);
    }
    if asked > max {
        return Err(FetchError::CrawlDelayTooLong { seconds: asked });
    }
    Ok(asked.max(min))
}

enum Attempt {
    Retry {
        error: FetchError,
        /// Retry-After, in seconds.
        after: Option<f64>,
    },
    Final(FetchError),
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Retry-After as seconds: a number, or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<f64> {
    let value = header_text(headers, header::RETRY_AFTER)?;
    if let Ok(seconds) = value.trim().parse::<f64>() {
        return Some(seconds.max(0.0));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    Some(
        ((date.timestamp_millis() - chrono::Utc::now().timestamp_millis()) as f64 / 1000.0)
            .max(0.0),
    )
}

pub use crate::html::decode;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_crawl_delays_cost_their_host_only() {
        // what texting_robots parses from "Crawl-delay: 1e30", "inf", "NaN", "-5"
        for asked in ["1e30", "inf", "NaN", "-5", "2.5", "0.1"] {
            let robot = texting_robots::Robot::new(
                "weaksignal",
                format!("User-agent: *\nCrawl-delay: {asked}\n").as_bytes(),
            )
            .unwrap();
            let delay = crawl_delay(robot.delay, 1.0, 60.0);
            match asked {
                "1e30" | "inf" => assert!(
                    matches!(delay, Err(FetchError::CrawlDelayTooLong { .. })),
                    "{asked}: {delay:?}"
                ),
                "NaN" | "-5" | "0.1" => assert_eq!(delay, Ok(1.0), "{asked}"),
                _ => assert_eq!(delay, Ok(2.5), "{asked}"),
            }
        }
        assert_eq!(crawl_delay(None, 1.0, 60.0), Ok(1.0));
        let err = crawl_delay(Some(f32::INFINITY), 1.0, 60.0).unwrap_err();
        assert!(
            err.to_string().contains("crawler.max_crawl_delay_seconds"),
            "{err}"
        );
    }

    #[test]
    fn charsets_come_from_header_bom_meta_or_fallback() {
        let latin1 = b"<html><head><meta charset=\"iso-8859-1\"></head><body>P\xe4\xe4ministeri</body></html>";
        assert!(decode(latin1, Some("text/html")).contains("Pääministeri"));
        assert!(decode(b"P\xe4\xe4", Some("text/html; charset=ISO-8859-1")).contains("Pää"));
        assert_eq!(decode("\u{feff}Pää".as_bytes(), None), "Pää");
        assert_eq!(
            decode(
                b"<?xml version=\"1.0\" encoding=\"windows-1252\"?>\x93x\x94",
                None
            )
            .chars()
            .last(),
            Some('”')
        );
        // Undeclared and not UTF-8: what browsers do.
        assert_eq!(decode(b"caf\xe9", None), "café");
        assert_eq!(decode("café".as_bytes(), None), "café");
    }

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(3.0));
        h.insert(
            header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(0.0));
    }
}
