//! Watches and alerts end to end, in `weaksignal run`, against real servers
//! on 127.0.0.1: a webhook receiver that checks signatures and fails when
//! told to, the Atom feed parsed by feed-rs, reruns that deliver nothing
//! twice, and a channel that is down for one run.

mod common;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::{guardian_rows, model_dir, Sandbox};

const SECRET: &str = "s3cret-for-tests";

#[derive(Default)]
struct Received {
    /// Requests that answered 500 before this one is accepted.
    fail_next: usize,
    attempts: usize,
    /// Accepted bodies.
    bodies: Vec<serde_json::Value>,
    bad_signatures: usize,
}

struct Receiver {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<Received>>,
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

fn receiver() -> Receiver {
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

/// A sandbox with the Guardian headlines of January and February 2020, a
/// pipeline of that file, and alert channels: the Atom feed and a signed
/// webhook at `hook_url`.
fn sandbox(hook_url: &str) -> Sandbox {
    let sandbox = Sandbox::new();
    write_config(&sandbox, hook_url);
    guardian_rows(&sandbox, "guardian.csv", (2020, 1, 1), (2020, 2, 29));
    sandbox.write(
        "pipeline.toml",
        "[[sources]]\nname = \"guardian\"\nkind = \"file\"\npath = \"guardian.csv\"\nformat = \"csv\"\nlang = \"en\"\nmap = { published = \"Time\", title = \"Headlines\" }\n",
    );
    sandbox
}

fn write_config(sandbox: &Sandbox, hook_url: &str) {
    sandbox.write(
        "config.toml",
        format!(
            "[model]\npath = {:?}\nauto_fetch = false\n\n[alerts]\n\n[[alerts.channels]]\nkind = \"atom\"\n\n[[alerts.channels]]\nkind = \"webhook\"\nname = \"team\"\nurl = {hook_url:?}\nsecret_env = \"WEAKSIGNAL_TEST_HOOK_SECRET\"\ntries = 3\nbackoff_seconds = 0.05\ntimeout_seconds = 2.0\n",
            model_dir().display().to_string()
        ),
    );
}

fn run(sandbox: &Sandbox, as_of: &str) -> common::Run {
    let mut command = sandbox.command(&std::path::PathBuf::from(env!("CARGO_BIN_EXE_weaksignal")));
    command.env("WEAKSIGNAL_TEST_HOOK_SECRET", SECRET).args([
        "-q",
        "run",
        "--pipeline",
        "pipeline.toml",
        "--offline",
        "--as-of",
        as_of,
    ]);
    let output = command.output().expect("run weaksignal");
    common::Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn alerts_stage(sandbox: &Sandbox) -> serde_json::Value {
    let runs = ws!(sandbox, "status", "--json").expect_code(0).json();
    runs[0]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "alerts")
        .cloned()
        .unwrap_or_else(|| panic!("no alerts stage in {}", runs[0]))
}

model_test! {
    fn watches_fire_alerts_that_every_channel_delivers_once() {
        let hook = receiver();
        let url = format!("http://{}/hook", hook.addr);
        let sandbox = sandbox(&url);
        // The watches: a query, and a concept in Finnish over English news.
        ws!(sandbox, "-q", "import", "guardian.csv", "--source", "guardian", "--lang", "en", "--map", "published=Time", "--map", "title=Headlines").expect_code(0);
        ws!(sandbox, "watch", "add", "virus", "--query", "coronavirus OR virus", "--rule", "growth", "--growth", "2", "--owner", "ana").expect_code(0);
        ws!(sandbox, "watch", "add", "epidemia", "--concept", "uusi virusepidemia Kiinassa", "--rule", "growth", "--growth", "2").expect_code(0);
        let listed = ws!(sandbox, "watch", "list", "--json").expect_code(0).json();
        assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
        // A name in use, a target missing, a query that does not parse: errors.
        let taken = ws!(sandbox, "watch", "add", "virus", "--query", "x");
        assert_ne!(taken.code, 0);
        assert!(taken.stderr.contains("exists"), "{}", taken.stderr);
        assert_ne!(ws!(sandbox, "watch", "add", "none").code, 0);
        let bad = ws!(sandbox, "watch", "add", "broken", "--query", "title:(");
        assert_ne!(bad.code, 0);
        // What it would fire, without storing anything.
        let tested = ws!(sandbox, "-q", "watch", "test", "virus", "--as-of", "2020-01-31", "--json").expect_code(0).json();
        let would = tested.as_array().unwrap().len();
        assert!(would >= 1, "the coronavirus watch fires as of 2020-01-31: {tested}");
        assert!(ws!(sandbox, "alerts", "--json").expect_code(0).json().as_array().unwrap().is_empty());

        // The webhook fails twice, then succeeds: all within one run.
        hook.state.lock().unwrap().fail_next = 2;
        let first = run(&sandbox, "2020-01-31");
        first.expect_code(0);
        let stage = alerts_stage(&sandbox);
        let fired = stage["counts"]["fired"].as_u64().unwrap() as usize;
        assert!(fired >= would, "{stage}");
        let received = hook.state.lock().unwrap().bodies.len();
        assert_eq!(received, fired, "every alert reached the webhook once: {stage}");
        assert_eq!(hook.state.lock().unwrap().bad_signatures, 0);
        assert_eq!(hook.state.lock().unwrap().attempts, fired + 2);
        let body = hook.state.lock().unwrap().bodies[0].clone();
        assert!(body["alert"]["signal"]["label"].is_string(), "{body}");
        assert!(body["alert"]["evidence"].is_string(), "{body}");
        // The concept in Finnish matched English documents.
        let alerts = ws!(sandbox, "alerts", "--json").expect_code(0).json();
        let watches: Vec<&str> = alerts.as_array().unwrap().iter().map(|a| a["watch"].as_str().unwrap()).collect();
        assert!(watches.contains(&"epidemia"), "the Finnish concept matched nothing: {alerts}");

        // The Atom feed parses, one entry per alert.
        let xml = std::fs::read(sandbox.data_dir().join("alerts.xml")).unwrap();
        let feed = feed_rs::parser::parse(&xml[..]).expect("valid Atom");
        assert_eq!(feed.entries.len(), fired);

        // A rerun of the same day stores and delivers nothing again.
        run(&sandbox, "2020-01-31").expect_code(0);
        let stage = alerts_stage(&sandbox);
        assert_eq!(stage["counts"]["fired"].as_u64(), Some(0), "{stage}");
        assert_eq!(hook.state.lock().unwrap().bodies.len(), received, "delivered twice");

        // The webhook is down for one run: the run is partial and names it...
        write_config(&sandbox, "http://127.0.0.1:9/hook");
        let down = run(&sandbox, "2020-02-07");
        down.expect_code(1);
        let stage = alerts_stage(&sandbox);
        let new = stage["counts"]["fired"].as_u64().unwrap() as usize;
        assert!(stage["errors"][0].as_str().unwrap().contains("team"), "{stage}");
        assert_eq!(stage["counts"]["team_failed"].as_u64().unwrap() as usize, new, "{stage}");
        // ...and the next run delivers what it missed, once.
        write_config(&sandbox, &url);
        run(&sandbox, "2020-02-07").expect_code(0);
        assert_eq!(hook.state.lock().unwrap().bodies.len(), received + new);
        let xml = std::fs::read(sandbox.data_dir().join("alerts.xml")).unwrap();
        assert_eq!(feed_rs::parser::parse(&xml[..]).unwrap().entries.len(), fired + new);

        // An export carries the watches and alerts.
        ws!(sandbox, "-q", "export", "--format", "ndjson", "--output", "out").expect_code(0);
        let count = |name: &str| std::fs::read_to_string(sandbox.path(&format!("out/analyst/{name}"))).unwrap().lines().count();
        assert_eq!(count("watches.ndjson"), 2);
        assert_eq!(count("alerts.ndjson"), fired + new);
        assert!(count("deliveries.ndjson") >= 2 * (fired + new));

        // Marks: an irrelevant signal is hidden, with who and when; the
        // newest mark counts; marks are history and exported.
        let listed = ws!(sandbox, "-q", "signals", "--as-of", "2020-02-07", "--json").expect_code(0).json();
        let first = listed["signals"][0]["id"].as_str().expect("a signal as of 2020-02-07").to_string();
        let unknown = ws!(sandbox, "mark", "topic-999999", "irrelevant", "--as-of", "2020-02-07");
        assert_eq!(unknown.code, 2, "{}", unknown.stderr);
        assert!(unknown.stderr.contains("is not a signal"), "{}", unknown.stderr);
        ws!(sandbox, "-q", "mark", &first, "irrelevant", "--by", "ana", "--note", "a programme", "--as-of", "2020-02-07").expect_code(0);
        let after = ws!(sandbox, "-q", "signals", "--as-of", "2020-02-07", "--json").expect_code(0).json();
        assert!(after["signals"].as_array().unwrap().iter().all(|s| s["id"] != first.as_str()), "{after}");
        assert_eq!(after["hidden"][0]["id"], first.as_str(), "{after}");
        assert_eq!(after["hidden"][0]["by"], "ana");
        let md = ws!(sandbox, "-q", "report", "--as-of", "2020-02-07", "--format", "md").expect_code(0).stdout.clone();
        assert!(md.contains("Hidden by analysts' marks") && md.contains("by ana"), "{md}");
        ws!(sandbox, "-q", "mark", &first, "relevant", "--by", "ben", "--as-of", "2020-02-07").expect_code(0);
        let again = ws!(sandbox, "-q", "signals", "--as-of", "2020-02-07", "--json").expect_code(0).json();
        assert!(again["signals"].as_array().unwrap().iter().any(|s| s["id"] == first.as_str()), "the newest mark counts: {again}");
        ws!(sandbox, "-q", "export", "--format", "ndjson", "--output", "out2").expect_code(0);
        let marks = std::fs::read_to_string(sandbox.path("out2/analyst/marks.ndjson")).unwrap();
        assert_eq!(marks.lines().count(), 2, "history kept: {marks}");
    }
}

#[test]
fn a_channel_with_a_bad_url_is_a_config_error_that_names_it() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "config.toml",
        "[[alerts.channels]]\nkind = \"webhook\"\nname = \"team\"\nurl = \"ftp://example.invalid/x\"\n",
    );
    let run = ws!(sandbox, "watch", "list");
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("team") && run.stderr.contains("ftp://"),
        "{}",
        run.stderr
    );
    sandbox.write(
        "config.toml",
        "[[alerts.channels]]\nkind = \"pager\"\nname = \"x\"\n",
    );
    let run = ws!(sandbox, "watch", "list");
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("pager"), "{}", run.stderr);
}

#[test]
fn watches_are_listed_and_removed_by_name() {
    let sandbox = Sandbox::new();
    ws!(
        sandbox,
        "watch",
        "add",
        "kids",
        "--concept",
        "lasten mielenterveys",
        "--owner",
        "ana"
    )
    .expect_code(0);
    ws!(sandbox, "watch", "add", "t12", "--topic", "topic-12", "--rule", "promoted").expect_code(0);
    let list = ws!(sandbox, "watch", "list");
    list.expect_code(0);
    assert!(
        list.stdout
            .contains("kids [ana]: concept \"lasten mielenterveys\""),
        "{}",
        list.stdout
    );
    assert!(
        list.stdout.contains("t12: topic 12; fires on a promotion"),
        "{}",
        list.stdout
    );
    ws!(sandbox, "watch", "rm", "kids").expect_code(0);
    let gone = ws!(sandbox, "watch", "rm", "kids");
    assert_ne!(gone.code, 0);
    assert!(
        gone.stderr.contains("t12"),
        "lists the watches there are: {}",
        gone.stderr
    );
}
