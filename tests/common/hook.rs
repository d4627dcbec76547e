//! A webhook receiver on 127.0.0.1 for the alert tests: it checks each
//! body's signature, answers 500 while told to, and keeps what it accepted.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

pub const SECRET: &str = "s3cret-for-tests";

#[derive(Default)]
pub struct Received {
    /// Requests that answered 500 before this one is accepted.
    pub fail_next: usize,
    pub attempts: usize,
    /// Accepted bodies.
    pub bodies: Vec<serde_json::Value>,
    pub bad_signatures: usize,
}

pub struct Receiver {
    pub addr: std::net::SocketAddr,
    pub state: Arc<Mutex<Received>>,
    _runtime: tokio::runtime::Runtime,
}

async fn hook(
    State(state): State<Arc<Mutex<Received>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let mut s = state.lock().unwrap();
    s.attempts += 1;
    let expected = weaksignal::alerts::hmac::signature(SECRET.as_bytes(), &body);
    if headers
        .get("x-weaksignal-signature")
        .and_then(|v| v.to_str().ok())
        != Some(expected.as_str())
    {
        s.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    if s.fail_next > 0 {
        s.fail_next -= 1;
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    s.bodies.push(serde_json::from_slice(&body).unwrap());
    StatusCode::OK
}

pub fn receiver() -> Receiver {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let state = Arc::new(Mutex::new(Received::default()));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0)))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(state.clone());
    runtime.spawn(async move { axum::serve(listener, app).await });
    Receiver {
        addr,
        state,
        _runtime: runtime,
    }
}
