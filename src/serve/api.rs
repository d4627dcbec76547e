//! The JSON API handlers (documented in `docs/api.md`).
//!
//! Parameters are checked by hand so that every mistake gets a 400 whose
//! message names the parameter, and unknown parameters are refused rather
//! than silently ignored. Work that touches the store or the index runs on
//! the blocking pool.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::{Analysed, Workbench};
use crate::config::Window;
use crate::error::Error;
use crate::index::SearchRequest;
use crate::signals::Class;

/// Most search hits one request returns.
pub const MAX_SEARCH_LIMIT: usize = 200;
/// Most topics one request lists.
pub const MAX_TOPICS_LIMIT: usize = 500;
/// Most documents one topic request lists.
pub const MAX_TOPIC_DOCUMENTS: usize = 500;

/// An error answer: `{"error": "..."}` with a status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        match e {
            // the client's request: a parameter, a query, a date with no data before it
            Error::Query { .. }
            | Error::Usage(_)
            | Error::Date(_)
            | Error::NoDocumentsAsOf { .. } => ApiError::bad(e.to_string()),
            Error::NeedsModel(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            // nothing to analyse yet
            Error::EmptyStore { .. } => ApiError::not_found(e.to_string()),
            // a run wrote while the analysis read: try again
            Error::StoreChanged { .. } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
            other => {
                tracing::error!(error = %other, "request failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body {
            error: String,
        }
        (
            self.status,
            Json(Body {
                error: self.message,
            }),
        )
            .into_response()
    }
}

type ApiResult<T> = std::result::Result<Json<T>, ApiError>;

/// Runs store or index work off the async threads; a panic becomes a 500, not a dropped connection.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, ApiError> + Send + 'static,
) -> std::result::Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "request handler panicked");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    })?
}

/// Query parameters, checked against the names an endpoint accepts.
struct Params {
    values: HashMap<String, String>,
}

impl Params {
    fn new(
        query: std::result::Result<Query<Vec<(String, String)>>, QueryRejection>,
        allowed: &[&str],
    ) -> std::result::Result<Params, ApiError> {
        let Query(pairs) = query.map_err(|e| ApiError::bad(format!("query string: {e}")))?;
        let mut values = HashMap::new();
        for (name, value) in pairs {
            if !allowed.contains(&name.as_str()) {
                return Err(ApiError::bad(format!(
                    "unknown parameter {name:?} (valid: {})",
                    allowed.join(", ")
                )));
            }
            if values.insert(name.clone(), value).is_some() {
                return Err(ApiError::bad(format!("parameter {name:?} given twice")));
            }
        }
        Ok(Params { values })
    }

    /// A parameter's value; empty counts as absent.
    fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn date(
        &self,
        name: &str,
        upper: bool,
    ) -> std::result::Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
        self.get(name)
            .map(|v| {
                crate::time::parse_bound(v, upper).map_err(|e| {
                    ApiError::bad(format!(
                        "parameter {name}={v:?}: {e} (use YYYY-MM-DD or RFC 3339)"
                    ))
                })
            })
            .transpose()
    }

    fn limit(&self, default: usize, max: usize) -> std::result::Result<usize, ApiError> {
        let Some(v) = self.get("limit") else {
            return Ok(default);
        };
        match v.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n.min(max)),
            _ => Err(ApiError::bad(format!(
                "parameter limit={v:?}: expected a whole number from 1 (at most {max} are returned)"
            ))),
        }
    }

    fn flag(&self, name: &str) -> std::result::Result<bool, ApiError> {
        match self.get(name) {
            None | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some(v) => Err(ApiError::bad(format!(
                "parameter {name}={v:?}: expected true or false"
            ))),
        }
    }

    fn window(&self, bench: &Workbench) -> std::result::Result<Window, ApiError> {
        match self.get("window") {
            None => Ok(bench.config.topics.window),
            Some("day") => Ok(Window::Day),
            Some("week") => Ok(Window::Week),
            Some("month") => Ok(Window::Month),
            Some(v) => Err(ApiError::bad(format!(
                "parameter window={v:?}: expected day, week or month"
            ))),
        }
    }

    fn as_of(&self) -> std::result::Result<Option<i64>, ApiError> {
        Ok(self.date("as_of", true)?.map(|d| d.timestamp()))
    }
}

type RawQuery = std::result::Result<Query<Vec<(String, String)>>, QueryRejection>;

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such page (the API is under /api: see docs/api.md)")
}

#[derive(Serialize)]
pub struct Health {
    status: &'static str,
    version: &'static str,
    documents: u64,
}

pub async fn health(State(bench): State<Arc<Workbench>>) -> ApiResult<Health> {
    let documents = blocking(move || Ok(bench.with_store(|s| s.count())?)).await?;
    Ok(Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        documents,
    }))
}

pub async fn stats(
    State(bench): State<Arc<Workbench>>,
    query: RawQuery,
) -> ApiResult<crate::store::Stats> {
    Params::new(query, &[])?;
    let stats = blocking(move || Ok(bench.with_store(|s| s.stats())?)).await?;
    Ok(Json(stats))
}

/// A taxonomy the signals are tagged with, as the UI's radar and tag filter need it.
#[derive(Serialize)]
pub struct TaxonomyOutline {
    id: String,
    name: String,
    categories: Vec<CategoryOutline>,
}

#[derive(Serialize)]
pub struct CategoryOutline {
    id: String,
    name: String,
}

/// `/api/taxonomies`: the taxonomies of `taxonomies.tag`, in that order.
pub async fn taxonomies(
    State(bench): State<Arc<Workbench>>,
    query: RawQuery,
) -> ApiResult<Vec<TaxonomyOutline>> {
    Params::new(query, &[])?;
    let outlines = bench
        .config
        .taxonomies
        .tag
        .iter()
        .filter_map(|id| bench.taxonomies.get(id).ok())
        .map(|t| TaxonomyOutline {
            id: t.id.clone(),
            name: t.name.en.clone(),
            categories: t
                .categories
                .iter()
                .map(|c| CategoryOutline {
                    id: c.id.clone(),
                    name: c.name.en.clone(),
                })
                .collect(),
        })
        .collect();
    Ok(Json(outlines))
}

pub async fn search(
    State(bench): State<Arc<Workbench>>,
    query: RawQuery,
) -> ApiResult<crate::index::SearchResults> {
    let p = Params::new(
        query,
        &["q", "from", "to", "source", "lang", "limit", "hybrid"],
    )?;
    let lang = p
        .get("lang")
        .map(|l| {
            crate::lang::normalise_code(l).ok_or_else(|| {
                ApiError::bad(format!(
                    "parameter lang={l:?}: not a language code (e.g. fi, en, sv)"
                ))
            })
        })
        .transpose()?;
    let request = SearchRequest {
        query: p.get("q").unwrap_or("").to_string(),
        from: p.date("from", false)?,
        to: p.date("to", true)?,
        source: p.get("source").map(str::to_string),
        lang,
        limit: p.limit(20, MAX_SEARCH_LIMIT)?,
        facets: true,
    };
    if let (Some(from), Some(to)) = (request.from, request.to) {
        if to < from {
            return Err(ApiError::bad("parameter to is before from"));
        }
    }
    let hybrid = p.flag("hybrid")?;
    let results = blocking(move || {
        Ok(bench.with_store(|store| {
            if hybrid {
                let embedder = bench.embedder()?;
                crate::embed::search::hybrid(embedder.as_ref(), store, &bench.index, &request)
            } else {
                bench.index.search(store, &request)
            }
        })?)
    })
    .await?;
    Ok(Json(results))
}

async fn analysis(
    bench: Arc<Workbench>,
    as_of: Option<i64>,
    window: Window,
) -> std::result::Result<Arc<Analysed>, ApiError> {
    blocking(move || Ok(bench.analysis(as_of, window)?)).await
}

pub async fn signals(
    State(bench): State<Arc<Workbench>>,
    query: RawQuery,
) -> ApiResult<crate::signals::SignalReport> {
    let p = Params::new(
        query,
        &["as_of", "window", "class", "limit", "tag", "abroad_first"],
    )?;
    let abroad_first = p.flag("abroad_first")?;
    let tag = match p.get("tag") {
        Some(spec) => Some(crate::taxonomy::TagFilter::parse(spec, &bench.taxonomies)?),
        None => None,
    };
    let classes = match p.get("class") {
        None => vec![Class::Weak, Class::Emerging, Class::Strong, Class::Fading],
        Some(list) => list
            .split(',')
            .map(|c| match c.trim() {
                "weak" => Ok(Class::Weak),
                "emerging" => Ok(Class::Emerging),
                "recurring" => Ok(Class::Recurring),
                "strong" => Ok(Class::Strong),
                "fading" => Ok(Class::Fading),
                "noise" => Ok(Class::Noise),
                other => Err(ApiError::bad(format!(
                    "parameter class: {other:?} is not a class (valid: weak, emerging, recurring, strong, fading, noise)"
                ))),
            })
            .collect::<std::result::Result<_, _>>()?,
    };
    let limit = p.limit(100, 1000)?;
    let window = p.window(&bench)?;
    let resurface = bench.config.signals.resurface_growth;
    let a = analysis(bench.clone(), p.as_of()?, window).await?;
    let mut report = a.report.clone();
    // Marks are applied per request: one added a second ago counts.
    let marks = blocking(move || Ok(bench.with_store(|s| s.marks())?)).await?;
    crate::signals::marks::apply(&mut report, &marks, resurface);
    report.signals.retain(|s| {
        classes.contains(&s.class)
            && tag.as_ref().is_none_or(|t| t.matches(&s.tags))
            && (!abroad_first || s.abroad_first.is_some())
    });
    report.signals.truncate(limit);
    Ok(Json(report))
}

#[derive(Serialize)]
pub struct TopicsAnswer {
    as_of: String,
    window: Window,
    figures: crate::signals::TopicFigures,
    topics: Vec<crate::signals::TopicSummary>,
}

pub async fn topics(
    State(bench): State<Arc<Workbench>>,
    query: RawQuery,
) -> ApiResult<TopicsAnswer> {
    let p = Params::new(query, &["as_of", "window", "limit"])?;
    let limit = p.limit(50, MAX_TOPICS_LIMIT)?;
    let window = p.window(&bench)?;
    let a = analysis(bench, p.as_of()?, window).await?;
    Ok(Json(TopicsAnswer {
        as_of: a.report.as_of.clone(),
        window: a.report.window,
        figures: a.report.figures.clone(),
        topics: a.topics.iter().take(limit).cloned().collect(),
    }))
}

pub async fn topic(
    State(bench): State<Arc<Workbench>>,
    Path(id): Path<String>,
    query: RawQuery,
) -> ApiResult<crate::signals::view::TopicDetail> {
    let p = Params::new(query, &["as_of", "window", "limit"])?;
    let number = crate::signals::parse_topic_id(&id)?;
    let limit = p.limit(50, MAX_TOPIC_DOCUMENTS)?;
    let window = p.window(&bench)?;
    let a = analysis(bench, p.as_of()?, window).await?;
    a.view
        .topic_detail(&a.report, &a.topics, number, limit)
        .map(Json)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no topic {number} with documents in the analysed history as of {}",
                a.report.as_of
            ))
        })
}

#[derive(Serialize)]
pub struct Carrier {
    source: String,
    url: Option<String>,
}

#[derive(Serialize)]
pub struct DocAnswer {
    id: String,
    source: String,
    url: Option<String>,
    title: String,
    text: String,
    published: String,
    fetched_at: String,
    lang: String,
    carriers: Vec<Carrier>,
}

pub async fn doc(
    State(bench): State<Arc<Workbench>>,
    Path(id): Path<String>,
    query: RawQuery,
) -> ApiResult<DocAnswer> {
    Params::new(query, &[])?;
    if id.len() > 256 {
        return Err(ApiError::bad("document id longer than 256 bytes"));
    }
    let found = blocking(move || {
        Ok(bench.with_store(|s| {
            let Some(doc) = s.get(&id)? else {
                return Ok(Err(id));
            };
            let carriers = s
                .carriers(&doc.id)?
                .into_iter()
                .map(|(source, url)| Carrier { source, url })
                .collect();
            Ok(Ok((doc, carriers)))
        })?)
    })
    .await?;
    let (doc, carriers) =
        found.map_err(|id| ApiError::not_found(format!("no document with id {id:?}")))?;
    Ok(Json(DocAnswer {
        id: doc.id,
        source: doc.source,
        url: doc.url,
        title: doc.title,
        text: doc.text,
        published: crate::document::rfc3339(doc.published),
        fetched_at: crate::document::rfc3339(doc.fetched_at),
        lang: doc.lang,
        carriers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_decide_the_http_status() {
        let status = |e: Error| ApiError::from(e).status;
        assert_eq!(status(Error::Usage("bad".into())), StatusCode::BAD_REQUEST);
        assert_eq!(
            status(Error::NoDocumentsAsOf {
                as_of: "1990-01-01T00:00:00Z".into()
            }),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(Error::EmptyStore {
                path: "data".into()
            }),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status(Error::StoreChanged {
                path: "data".into(),
                message: "x".into()
            }),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(Error::NeedsModel("signals".into())),
            StatusCode::SERVICE_UNAVAILABLE
        );
        // a failure of ours is not the client's fault
        assert_eq!(
            status(Error::Task {
                what: "a collector task".into(),
                message: "panicked".into()
            }),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            status(Error::Compute {
                what: "trend table".into(),
                message: "x".into()
            }),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}

/// The largest body a write endpoint takes.
pub const MAX_WRITE_BYTES: usize = 16 * 1024;

/// `GET /api/watches`: every watch.
pub async fn watches(
    State(bench): State<Arc<Workbench>>,
    query: RawQuery,
) -> ApiResult<Vec<crate::alerts::Watch>> {
    Params::new(query, &[])?;
    let watches = blocking(move || Ok(bench.with_store(crate::alerts::watches)?)).await?;
    Ok(Json(watches))
}

/// The body of `POST /api/watches`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWatch {
    name: String,
    #[serde(default)]
    owner: String,
    target: crate::alerts::Target,
    #[serde(default = "new_weak")]
    rule: crate::alerts::Rule,
    #[serde(default = "default_quiet_days")]
    quiet_days: u32,
}

fn new_weak() -> crate::alerts::Rule {
    crate::alerts::Rule::NewWeak
}

fn default_quiet_days() -> u32 {
    7
}

/// `POST /api/watches`: adds a watch (bearer token required, same origin,
/// at most [`MAX_WRITE_BYTES`]); 409 when the name is taken.
pub async fn add_watch(
    State(bench): State<Arc<Workbench>>,
    body: axum::body::Bytes,
) -> std::result::Result<(StatusCode, Json<crate::alerts::Watch>), ApiError> {
    let new: NewWatch = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad(format!("body: {e} (expected {{\"name\", \"target\": {{\"kind\": \"query\"|\"topic\"|\"concept\", ...}}, \"rule\", \"quiet_days\", \"owner\"}})")))?;
    let watch = crate::alerts::Watch {
        name: new.name,
        owner: new.owner,
        target: new.target,
        rule: new.rule,
        quiet_days: new.quiet_days,
        created_at: chrono::Utc::now().timestamp(),
    };
    watch
        .validate()
        .map_err(|e| ApiError::bad(format!("field: {e}")))?;
    let stored = watch.clone();
    blocking(move || {
        bench
            .with_store(|s| crate::alerts::check_query(&bench.index, s, &watch.target))
            .map_err(|e| ApiError::bad(format!("target.query: {e}")))?;
        let row = watch.row()?;
        let added = bench.with_writer(|s| s.put_watch(&row, false))?;
        if !added {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("name: a watch named {:?} exists", watch.name),
            ));
        }
        Ok(())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// `GET /api/alerts?limit=`: the newest alerts.
pub async fn alerts(
    State(bench): State<Arc<Workbench>>,
    query: RawQuery,
) -> ApiResult<Vec<crate::alerts::AlertRecord>> {
    let p = Params::new(query, &["limit"])?;
    let limit = p.limit(50, 1000)?;
    let rows = blocking(move || Ok(bench.with_store(|s| s.alerts(limit))?)).await?;
    Ok(Json(
        rows.iter().map(crate::alerts::AlertRecord::of).collect(),
    ))
}

/// `GET /api/alerts.atom`: the newest alerts as an Atom feed.
pub async fn alerts_atom(
    State(bench): State<Arc<Workbench>>,
    query: RawQuery,
) -> std::result::Result<Response, ApiError> {
    Params::new(query, &[])?;
    let entries = bench
        .config
        .alerts
        .channels
        .iter()
        .find_map(|c| match c {
            crate::config::ChannelConfig::Atom { entries, .. } => Some(*entries),
            _ => None,
        })
        .unwrap_or(100);
    let feed = blocking(move || {
        let rows = bench.with_store(|s| s.alerts(entries))?;
        Ok(crate::alerts::atom::atom(
            &rows,
            chrono::Utc::now().timestamp(),
        )?)
    })
    .await?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "application/atom+xml; charset=utf-8",
        )],
        feed,
    )
        .into_response())
}

/// The body of `POST /api/marks`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMark {
    signal: String,
    verdict: String,
    #[serde(default)]
    duplicate_of: Option<String>,
    #[serde(default)]
    note: String,
    #[serde(default)]
    by: String,
    /// The analysis the signal is in (`YYYY-MM-DD`); default the newest.
    #[serde(default)]
    as_of: Option<String>,
}

/// `POST /api/marks`: marks a signal of the newest analysis, or of the one
/// as of `as_of` (bearer token required, same origin, at most
/// [`MAX_WRITE_BYTES`]).
pub async fn add_mark(
    State(bench): State<Arc<Workbench>>,
    body: axum::body::Bytes,
) -> std::result::Result<(StatusCode, Json<crate::store::MarkRow>), ApiError> {
    let new: NewMark = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad(format!(
            "body: {e} (expected {{\"signal\", \"verdict\": \"relevant\"|\"irrelevant\"|\"duplicate_of\", \"duplicate_of\", \"note\", \"by\", \"as_of\"}})"
        ))
    })?;
    let verdict = crate::signals::marks::Verdict::parse(&new.verdict)
        .map_err(|e| ApiError::bad(format!("verdict: {e}")))?;
    if new.note.len() > 2000 || new.by.len() > 200 {
        return Err(ApiError::bad(
            "note (2000 bytes) or by (200 bytes) is too long",
        ));
    }
    let as_of = match new.as_of.as_deref() {
        None | Some("") => None,
        Some(day) => Some(
            crate::time::parse_bound(day, true)
                .map_err(|e| ApiError::bad(format!("as_of: {e}")))?
                .timestamp(),
        ),
    };
    let window = bench.config.topics.window;
    let a = analysis(bench.clone(), as_of, window).await?;
    let mark = crate::signals::marks::new_mark(
        &a.report,
        &new.signal,
        verdict,
        new.duplicate_of,
        new.note,
        new.by,
        chrono::Utc::now().timestamp(),
    )
    .map_err(|e| ApiError::bad(e.to_string()))?;
    let stored = blocking(move || {
        let id = bench.with_writer(|s| s.add_mark(&mark))?;
        Ok(crate::store::MarkRow { id, ..mark })
    })
    .await?;
    Ok((StatusCode::CREATED, Json(stored)))
}
