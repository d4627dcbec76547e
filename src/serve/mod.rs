//! The analyst workbench: a read-only JSON API and a web UI, served by the
//! same binary (`weaksignal serve`).
//!
//! Researchers explore the index and analysts click from a signal to its
//! documents; both want answers in milliseconds. Searches run on a small pool
//! of read-only store connections. A signal analysis costs a second or two
//! even from checkpoints, so analyses are computed once per (as-of date,
//! window) and kept until the store changes. The server binds 127.0.0.1 unless
//! told otherwise, and another address needs a bearer token. Bad parameters
//! are 400s that name the parameter, unknown ids 404s, never a panic.

mod api;
mod assets;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::config::{Config, Window};
use crate::error::{Error, Result};
use crate::index::SearchIndex;
use crate::signals::view::{Checkpoints, View};
use crate::signals::{SignalReport, TopicSummary};
use crate::store::Store;

/// Read-only store connections kept for reuse.
const POOL: usize = 8;

/// How `weaksignal serve` was asked to run.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    pub token: Option<String>,
}

impl ServeOptions {
    /// Checks that a non-loopback address comes with a token.
    pub fn new(addr: &str, token: &str) -> Result<ServeOptions> {
        let addr: SocketAddr = addr.parse().map_err(|_| {
            Error::Usage(format!(
                "serve address {addr:?} is not an IP address and port such as 127.0.0.1:8080"
            ))
        })?;
        let token = (!token.trim().is_empty()).then(|| token.trim().to_string());
        if !addr.ip().is_loopback() && token.is_none() {
            return Err(Error::Usage(format!(
                "serve address {addr} is reachable from other machines: set serve.token in config.toml \
                 (every request must then send `Authorization: Bearer <token>`), or bind 127.0.0.1"
            )));
        }
        Ok(ServeOptions { addr, token })
    }
}

/// A signal analysis as of one date, with what the topic pages need.
pub(crate) struct Analysed {
    pub view: View,
    pub report: SignalReport,
    pub topics: Vec<TopicSummary>,
}

struct CachedAnalysis {
    as_of: i64,
    window: Window,
    /// The store's newest sequence number when it was computed.
    seq: i64,
    value: Arc<Analysed>,
}

/// Everything the handlers share.
pub(crate) struct Workbench {
    pub config: Config,
    pub data_dir: PathBuf,
    /// Model whose vectors the analyses use (`None`: no model configured or fetched).
    pub model: Option<String>,
    pub index: SearchIndex,
    readers: Mutex<Vec<Store>>,
    /// The one writable connection: analyses save clustering checkpoints.
    analyst: Mutex<Store>,
    analyses: Mutex<VecDeque<CachedAnalysis>>,
    embedder: Mutex<Option<Arc<crate::embed::E5Embedder>>>,
    token: Option<String>,
    /// Lemmas and word classes for terms and labels, loaded once.
    morphology: Arc<crate::morph::Morphology>,
    /// The taxonomies signals are tagged with (`taxonomies.tag`).
    pub taxonomies: crate::taxonomy::Taxonomies,
    taggers: Vec<crate::taxonomy::tagger::Tagger>,
}

impl Workbench {
    /// Opens the store and the index (catching the index up with the store).
    pub fn open(config: Config, data_dir: PathBuf, token: Option<String>) -> Result<Workbench> {
        let store = Store::open(&data_dir)?;
        let index = SearchIndex::open_synced(&data_dir, &store, &config.index)?;
        let model = crate::embed::known_model_id(&config.model);
        if let Some(model) = &model {
            let missing = store.count_missing_vectors(model)?;
            if missing > 0 {
                tracing::warn!(
                    missing,
                    "documents without vectors are left out of signals and topics: run `weaksignal embed`"
                );
            }
        }
        let morphology = Arc::new(crate::morph::Morphology::load(
            &config.morphology,
            &crate::progress::Progress::hidden(),
        ));
        let workspace = crate::workspace::Workspace::new(config.clone(), data_dir.clone(), true);
        let taxonomies = workspace.taxonomies()?;
        // Without tags the signals are still worth serving: say why and go on.
        let taggers = match &model {
            Some(model) => workspace.signal_taggers(model).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "signals are served without taxonomy tags");
                Vec::new()
            }),
            None => Vec::new(),
        };
        Ok(Workbench {
            morphology,
            taxonomies,
            taggers,
            config,
            data_dir,
            model,
            index,
            readers: Mutex::new(Vec::new()),
            analyst: Mutex::new(store),
            analyses: Mutex::new(VecDeque::new()),
            embedder: Mutex::new(None),
            token,
        })
    }

    /// Runs `f` with a read-only store connection from the pool.
    /// Runs `f` on the one writable connection (watches, checkpoints).
    pub fn with_writer<T>(&self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        let mut store = self.analyst.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut store)
    }

    pub fn with_store<T>(&self, f: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        let pooled = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let store = match pooled {
            Some(store) => store,
            None => Store::open_read_only(&self.data_dir)?,
        };
        let result = f(&store);
        let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < POOL {
            pool.push(store);
        }
        result
    }

    /// The embedding model, loaded on first use (hybrid search).
    pub fn embedder(&self) -> Result<Arc<crate::embed::E5Embedder>> {
        let mut slot = self.embedder.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = slot.as_ref() {
            return Ok(e.clone());
        }
        let e = Arc::new(crate::embed::load(
            &self.config.model,
            &crate::progress::Progress::hidden(),
        )?);
        *slot = Some(e.clone());
        Ok(e)
    }

    /// The analysis as of `as_of` (default: the newest document), computed
    /// once per store state.
    pub fn analysis(&self, as_of: Option<i64>, window: Window) -> Result<Arc<Analysed>> {
        let Some(model) = &self.model else {
            return Err(Error::NeedsModel("signals".into()));
        };
        let (seq, as_of) = self.with_store(|s| Ok((s.max_seq()?, s.as_of_or_newest(as_of)?)))?;
        let cached = || {
            let cache = self.analyses.lock().unwrap_or_else(|p| p.into_inner());
            cache
                .iter()
                .find(|c| c.as_of == as_of && c.window == window && c.seq == seq)
                .map(|c| c.value.clone())
        };
        if let Some(hit) = cached() {
            return Ok(hit);
        }
        // One analysis at a time: a burst of requests for the same date waits
        // for the first instead of computing it again.
        let mut store = self.analyst.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(hit) = cached() {
            return Ok(hit);
        }
        let started = std::time::Instant::now();
        let (topics_config, signals_config) = (&self.config.topics, &self.config.signals);
        let view = View::build(
            &mut store,
            model,
            &self.morphology,
            as_of,
            window,
            topics_config,
            signals_config,
            Checkpoints::Use,
        )?;
        if view.corpus.is_empty() && view.before.docs == 0 {
            return Err(Error::NoDocumentsAsOf {
                as_of: crate::signals::rfc3339(as_of),
            });
        }
        let (mut report, topics) = view.analyse(topics_config, signals_config)?;
        view.tag(&mut report, &self.taggers, signals_config.history());
        tracing::info!(
            as_of = %report.as_of,
            window = window.name(),
            secs = started.elapsed().as_secs_f64(),
            "analysis computed"
        );
        let value = Arc::new(Analysed {
            view,
            report,
            topics,
        });
        let mut cache = self.analyses.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|c| c.seq == seq);
        cache.push_front(CachedAnalysis {
            as_of,
            window,
            seq,
            value: value.clone(),
        });
        cache.truncate(self.config.serve.cached_analyses.max(1));
        Ok(value)
    }
}

/// The application: API routes, UI assets, token check and security headers.
pub(crate) fn router(bench: Arc<Workbench>) -> Router {
    let api = Router::new()
        .route("/health", get(api::health))
        .route("/stats", get(api::stats))
        .route("/search", get(api::search))
        .route("/signals", get(api::signals))
        .route("/taxonomies", get(api::taxonomies))
        .route("/topics", get(api::topics))
        .route("/topics/{id}", get(api::topic))
        .route("/docs/{id}", get(api::doc))
        .route("/alerts", get(api::alerts))
        .route("/alerts.atom", get(api::alerts_atom))
        .route(
            "/watches",
            get(api::watches).post(api::add_watch).layer(
                // What an analyst writes is small: a bigger body is refused.
                axum::extract::DefaultBodyLimit::max(api::MAX_WRITE_BYTES),
            ),
        )
        .route(
            "/marks",
            axum::routing::post(api::add_mark)
                .layer(axum::extract::DefaultBodyLimit::max(api::MAX_WRITE_BYTES)),
        )
        .fallback(api::not_found)
        .route_layer(middleware::from_fn_with_state(bench.clone(), require_token));
    Router::new()
        .nest("/api", api)
        .merge(assets::routes())
        .fallback(api::not_found)
        .layer(middleware::from_fn(security_headers))
        .with_state(bench)
}

/// With a token configured, every API request must carry it. Writes need
/// it even on loopback (any local process or page could post otherwise),
/// and a browser's cross-origin write is refused.
async fn require_token(
    State(bench): State<Arc<Workbench>>,
    request: Request,
    next: Next,
) -> Response {
    let writes = !matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    if writes {
        if let Some(refusal) = cross_origin(&request) {
            return refusal;
        }
    }
    let Some(token) = &bench.token else {
        if writes {
            return api::ApiError::new(
                StatusCode::FORBIDDEN,
                "writes need a bearer token: set serve.token in config.toml and send Authorization: Bearer <token>",
            )
            .into_response();
        }
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
        return next.run(request).await;
    }
    api::ApiError::new(
        StatusCode::UNAUTHORIZED,
        "missing or wrong bearer token (Authorization: Bearer <serve.token>)",
    )
    .into_response()
}

/// A write whose `Origin` is not this server's own (`Host`): refused.
fn cross_origin(request: &Request) -> Option<Response> {
    let origin = request
        .headers()
        .get(header::ORIGIN)?
        .to_str()
        .unwrap_or("");
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let same = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|o| !host.is_empty() && o == host);
    if same {
        return None;
    }
    Some(
        api::ApiError::new(
            StatusCode::FORBIDDEN,
            format!("cross-origin write refused (Origin {origin:?} is not this server)"),
        )
        .into_response(),
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
        ),
    ] {
        headers.insert(name, header::HeaderValue::from_static(value));
    }
    response
}

/// Serves until interrupted (Ctrl-C or SIGTERM). `on_listening` gets the
/// bound address (useful with port 0).
pub fn serve(
    config: Config,
    data_dir: PathBuf,
    options: ServeOptions,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<()> {
    let bench = Arc::new(Workbench::open(config, data_dir, options.token.clone())?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("<tokio runtime>", e))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(options.addr)
            .await
            .map_err(|e| Error::io(format!("listening on {}", options.addr), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io(format!("listening on {}", options.addr), e))?;
        on_listening(addr);
        // The first page a user opens shows the newest signals: compute them now.
        let warm = bench.clone();
        let window = warm.config.topics.window;
        tokio::task::spawn_blocking(move || {
            if let Err(e) = warm.analysis(None, window) {
                tracing::warn!(error = %e, "signals are not available yet");
            }
        });
        axum::serve(listener, router(bench))
            .with_graceful_shutdown(shutdown())
            .await
            .map_err(|e| Error::io(format!("serving on {addr}"), e))
    })
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_addresses_need_a_token() {
        assert!(ServeOptions::new("127.0.0.1:0", "").is_ok());
        assert!(ServeOptions::new("[::1]:8080", "").is_ok());
        let err = ServeOptions::new("0.0.0.0:8080", "")
            .unwrap_err()
            .to_string();
        assert!(err.contains("serve.token"), "{err}");
        assert!(ServeOptions::new("0.0.0.0:8080", "s3cret").is_ok());
        let err = ServeOptions::new("localhost", "").unwrap_err().to_string();
        assert!(err.contains("\"localhost\""), "{err}");
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
