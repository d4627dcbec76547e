//! Reports and the workbench on a real store: Guardian headlines from
//! December 2019 to February 2020 (COVID-19 appears) plus a burst of hostile
//! documents whose titles carry `<script>`, `"><img onerror=…>` and whose
//! addresses are `javascript:` URLs. They form a signal, so every renderer has
//! to show them, safely.
//!
//! The store is imported and embedded once per test binary; the tests read it.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use common::{guardian_rows, import_guardian, model_dir, write_config, Sandbox};

/// The never-seen name the hostile documents share.
const NAME: &str = "zorblax";

/// The payloads as they must appear: escaped, in HTML and Markdown alike.
const ESCAPED: [&str; 3] = [
    "&lt;script&gt;window.__xss=1;alert(1)&lt;/script&gt;",
    "&quot;&gt;&lt;img src=x onerror=&quot;window.__xss=2;alert(2)&quot;&gt;",
    "&lt;svg onload=&quot;window.__xss=4&quot;&gt;",
];

/// Fourteen hostile documents sharing a new name, and one more whose
/// address is a `javascript:` URL (the importer refuses it).
fn hostile_documents() -> String {
    let payloads = [
        "<script>window.__xss=1;alert(1)</script>",
        "\"><img src=x onerror=\"window.__xss=2;alert(2)\">",
        "<svg onload=\"window.__xss=4\">",
    ];
    let mut lines = String::new();
    for i in 0..15 {
        // all in the report's last week, so they are new since the previous one
        let day = 23 + i % 7;
        let payload = payloads[i % payloads.len()];
        let title = match i % 4 {
            0 => format!("Zorblax recall {payload} spreads to more supermarkets"),
            1 => format!("{payload} Zorblax recall: retailers pull Zorblax products"),
            2 => format!("Zorblax recall widens as regulators investigate {payload}"),
            _ => format!("Shoppers warned over Zorblax recall {payload}"),
        };
        let url = if i == 14 {
            "javascript:window.__xss=3".to_string()
        } else {
            format!("https://example.org/zorblax/{i}?a=1&b=\"2\"")
        };
        let row = serde_json::json!({
            "id": format!("hostile-{i}"),
            "source": if i % 3 == 0 { "<i>evil</i> wire" } else { "guardian" },
            "published": format!("2020-02-{day:02}T10:00:00Z"),
            "title": title,
            "text": "",
            "url": url,
        });
        lines.push_str(&row.to_string());
        lines.push('\n');
    }
    lines
}

/// Stored text is untrusted too: a store written by another tool (or an
/// older version) may hold addresses the importer now refuses. Half the
/// hostile documents get one, written straight into the store.
fn plant_script_urls(sandbox: &Sandbox) {
    let db =
        rusqlite::Connection::open(sandbox.data_dir().join("weaksignal.sqlite")).expect("store");
    let changed = db
        .execute(
            "UPDATE documents SET url = CASE WHEN seq % 4 = 0 THEN ' JavaScript:window.__xss=3' ELSE 'javascript:window.__xss=3' END
             WHERE id LIKE 'hostile-%' AND CAST(substr(id, 9) AS INTEGER) % 2 = 0",
            [],
        )
        .expect("plant");
    assert_eq!(changed, 7);
}

fn store() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        let sandbox = Sandbox::new();
        write_config(&sandbox, "");
        guardian_rows(&sandbox, "guardian.csv", (2019, 11, 1), (2020, 2, 29));
        sandbox.write("hostile.jsonl", hostile_documents());
        import_guardian(&sandbox, "guardian.csv").expect_code(0);
        let run = ws!(sandbox, "-q", "import", "hostile.jsonl", "--lang", "en");
        run.expect_code(1);
        assert!(
            run.stderr.contains("line=15") && run.stderr.contains("is not an absolute http(s) URL"),
            "{}",
            run.stderr
        );
        plant_script_urls(&sandbox);
        ws!(sandbox, "-q", "embed").expect_code(0);
        sandbox
    })
}

fn report(format: &str) -> String {
    let sandbox = store();
    let path = sandbox.path(&format!("report.{format}"));
    let run = ws!(
        sandbox,
        "-q",
        "report",
        "--as-of",
        "2020-02-29",
        "--format",
        format,
        "-o",
        &path
    );
    run.expect_code(0);
    assert!(
        run.stdout.contains("report as of 2020-02-29"),
        "{}",
        run.stdout
    );
    std::fs::read_to_string(&path).expect("report written")
}

/// Every `href` value of an HTML document.
fn hrefs(html: &str) -> Vec<&str> {
    html.split("href=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap_or(rest.len())])
        .collect()
}

model_test! {
    fn html_report_shows_the_hostile_signal_as_inert_text() {
        let html = report("html");
        let lower = html.to_lowercase();
        assert!(lower.contains(NAME), "the hostile burst is not in the report");
        // shown, escaped
        assert!(
            ESCAPED.iter().any(|e| html.contains(e)),
            "no hostile example shown escaped"
        );
        assert!(html.contains("&lt;i&gt;evil&lt;/i&gt; wire"));
        // never markup
        for forbidden in ["<script", "<img", "<i>evil", "onerror=\"", "onload=\"", "javascript:"] {
            assert!(!lower.contains(forbidden), "{forbidden} in the HTML report");
        }
        for href in hrefs(&html) {
            assert!(
                href.starts_with('#') || href.starts_with("https://") || href.starts_with("http://"),
                "link {href}"
            );
        }
        // the safe address of a hostile document is a link, its query escaped
        assert!(html.contains("href=\"https://example.org/zorblax/"));
        assert!(html.contains("?a=1&amp;b=%222%22\""));
        // self-contained: nothing is loaded from anywhere
        for external in ["<link", "<iframe", "@import", "url(", "src=\""] {
            assert!(!lower.contains(external), "{external} in the HTML report");
        }
        // the parts an analyst reads
        for part in ["Emergence map", "Since the previous report", "Weak signals", "Emerging signals", "Strong signals", "Fading signals", "class=\"timeline\""] {
            assert!(html.contains(part), "no {part:?} in the report");
        }
    }
}

model_test! {
    fn markdown_report_escapes_markup_and_links_only_http() {
        let md = report("md");
        let lower = md.to_lowercase();
        assert!(lower.contains(NAME));
        assert!(!lower.contains("<script"), "{md}");
        assert!(!lower.contains("<img"), "{md}");
        assert!(!lower.contains("<svg"), "{md}");
        assert!(!lower.contains("](javascript"), "{md}");
        // Markdown also escapes `_` (window.\_\_xss), so only the HTML part is compared
        let shown = ["&lt;script&gt;window.", "&quot;&gt;&lt;img src=x onerror=&quot;", "&lt;svg onload=&quot;"];
        assert!(shown.iter().any(|e| md.contains(e)), "no hostile example shown escaped");
        assert!(md.contains("](https://example.org/zorblax/"));
        assert!(md.contains("## Since the previous report"));
    }
}

model_test! {
    fn json_report_has_the_signals_shape_and_names_what_changed() {
        let report: serde_json::Value = serde_json::from_str(&report("json")).expect("JSON");
        let signals = ws!(store(), "-q", "signals", "--as-of", "2020-02-29", "--json", "--limit", "1000", "--class", "weak,emerging,strong,fading")
            .expect_code(0)
            .json();
        for key in ["as_of", "window", "figures"] {
            assert_eq!(report[key], signals[key], "{key}");
        }
        let all = signals["signals"].as_array().unwrap();
        let listed = report["signals"].as_array().unwrap();
        assert!(!listed.is_empty());
        for s in listed {
            assert!(all.contains(s), "report signal {} differs from `signals --json`", s["id"]);
        }
        let changes = &report["since_previous"];
        assert_eq!(changes["previous_as_of"], "2020-02-22T23:59:59Z");
        let new: Vec<String> = changes["new"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["label"].as_str().unwrap().to_lowercase())
            .collect();
        assert!(new.iter().any(|l| l.contains(NAME)), "new signals: {new:?}");
    }
}

/// A running `weaksignal serve` on a free loopback port, killed on drop.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(sandbox: &Sandbox, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weaksignal"))
            .current_dir(sandbox.dir.path())
            .env("WEAKSIGNAL_DATA_DIR", sandbox.data_dir())
            .args(["-q", "serve", "--addr", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("serve prints its address");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server { child, addr }
    }

    /// `GET path` with optional headers: (status, body).
    fn get_with(&self, path: &str, headers: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{headers}\r\n",
            self.addr
        )
        .unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let status: u16 = raw[9..12].parse().expect("status");
        let (head, body) = raw.split_once("\r\n\r\n").expect("head and body");
        let chunked = head.to_lowercase().contains("transfer-encoding: chunked");
        (
            status,
            if chunked {
                dechunk(body)
            } else {
                body.to_string()
            },
        )
    }

    /// `METHOD path` with headers and a body: (status, body).
    fn send(&self, method: &str, path: &str, headers: &str, body: &[u8]) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{headers}\r\n",
            self.addr,
            body.len()
        )
        .unwrap();
        // A server that refuses early may close before reading it all.
        let _ = stream.write_all(body);
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let status: u16 = raw[9..12].parse().expect("status");
        let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        (status, body.to_string())
    }

    fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let (status, body) = self.get_with(path, "");
        let json = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{path}: body is not JSON ({e}): {body}"));
        (status, json)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
}

/// `GET path` must answer `status` with `{"error": "..."}` mentioning `words`.
macro_rules! refused {
    ($server:expr, $path:expr, $status:expr, $words:expr) => {{
        let (status, body) = $server.get($path);
        assert_eq!(status, $status, "{}: {body}", $path);
        let message = body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no error in {body}", $path));
        assert!(message.contains($words), "{}: {message}", $path);
    }};
}

model_test! {
    fn api_answers_searches_signals_topics_and_documents() {
        let server = Server::start(store(), &[]);
        let (status, health) = server.get("/api/health");
        assert_eq!(status, 200);
        assert!(health["documents"].as_u64().unwrap() > 1_000);

        let (status, found) = server.get("/api/search?q=coronavirus&from=2020-01-01&lang=en&limit=5");
        assert_eq!(status, 200, "{found}");
        assert_eq!(found["hits"].as_array().unwrap().len(), 5);
        let total = found["total"].as_u64().unwrap();
        assert!(total > 20, "{total}");
        let by_month: u64 = found["histogram"].as_array().unwrap().iter().map(|m| m["count"].as_u64().unwrap()).sum();
        assert_eq!(by_month, total, "the histogram counts every match");
        let months: Vec<&str> = found["histogram"].as_array().unwrap().iter().map(|m| m["month"].as_str().unwrap()).collect();
        assert_eq!(months, ["2020-01", "2020-02"]);
        assert_eq!(found["facets"]["lang"][0]["value"], "en");
        assert_eq!(found["facets"]["lang"][0]["count"].as_u64(), Some(total));

        let (_, capped) = server.get("/api/search?q=&limit=100000");
        assert_eq!(capped["hits"].as_array().unwrap().len(), 200, "limit is capped");

        let (status, signals) = server.get("/api/signals?as_of=2020-02-29&class=weak,emerging");
        assert_eq!(status, 200, "{signals}");
        let list = signals["signals"].as_array().unwrap();
        assert!(list.iter().all(|s| s["class"] == "weak" || s["class"] == "emerging"));
        let zorblax = list
            .iter()
            .find(|s| s["label"].as_str().unwrap().to_lowercase().contains(NAME) && s["id"].as_str().unwrap().starts_with("topic-"))
            .unwrap_or_else(|| panic!("no zorblax topic signal in {list:?}"));
        // the same signal as the CLI computes
        let cli = ws!(store(), "-q", "signals", "--as-of", "2020-02-29", "--json", "--limit", "1000").json();
        assert!(cli["signals"].as_array().unwrap().contains(zorblax));
        // its taxonomy tags filter the list to the signals that carry them
        let tags = zorblax["tags"].as_array().expect("signals carry tags");
        if let Some(tag) = tags.first() {
            let spec = format!("{}:{}", tag["taxonomy"].as_str().unwrap(), tag["id"].as_str().unwrap());
            let (status, tagged) = server.get(&format!("/api/signals?as_of=2020-02-29&class=weak,emerging&tag={spec}"));
            assert_eq!(status, 200, "{tagged}");
            let tagged = tagged["signals"].as_array().unwrap();
            assert!(tagged.contains(zorblax));
            assert!(tagged.iter().all(|s| s["tags"].as_array().unwrap().iter().any(|t| t["taxonomy"] == tag["taxonomy"] && t["id"] == tag["id"])));
            assert!(tagged.len() <= list.len());
        }

        let id = zorblax["id"].as_str().unwrap();
        let (status, topic) = server.get(&format!("/api/topics/{id}?as_of=2020-02-29"));
        assert_eq!(status, 200, "{topic}");
        assert_eq!(topic["signal"]["id"], id);
        let docs = topic["documents"].as_array().unwrap();
        assert!(docs.len() >= 5, "{topic}");
        let doc_id = docs[0]["id"].as_str().unwrap();
        let (status, doc) = server.get(&format!("/api/docs/{doc_id}"));
        assert_eq!(status, 200);
        assert!(doc["title"].as_str().unwrap().to_lowercase().contains(NAME));
        // the API returns text as stored; escaping is the renderer's job
        assert!(doc["title"].as_str().unwrap().contains('<'));

        let (status, topics) = server.get("/api/topics?as_of=2020-02-29&limit=3");
        assert_eq!(status, 200);
        assert_eq!(topics["topics"].as_array().unwrap().len(), 3);
        let (status, taxonomies) = server.get("/api/taxonomies");
        assert_eq!(status, 200, "{taxonomies}");
        let ids: Vec<&str> = taxonomies.as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["steep", "sitra-megatrends-2023"]);
        assert_eq!(taxonomies[0]["categories"].as_array().unwrap().len(), 6);
        let (status, stats) = server.get("/api/stats");
        assert_eq!(status, 200);
        assert_eq!(stats["documents"], health["documents"]);
    }
}

model_test! {
    fn api_refuses_bad_parameters_and_unknown_ids_with_json_errors() {
        let server = Server::start(store(), &[]);
        refused!(server, "/api/search?q=%28%28%28", 400, "invalid query");
        refused!(server, "/api/search?limit=0", 400, "limit");
        refused!(server, "/api/search?limit=-3", 400, "limit");
        refused!(server, "/api/search?from=yesterday", 400, "from");
        refused!(server, "/api/search?from=2020-02-01&to=2020-01-01", 400, "before");
        refused!(server, "/api/search?lang=klingon", 400, "lang");
        refused!(server, "/api/search?hybrid=maybe", 400, "hybrid");
        refused!(server, "/api/search?q=a&q=b", 400, "twice");
        refused!(server, "/api/search?sort=date", 400, "unknown parameter \"sort\"");
        refused!(server, "/api/signals?class=huge", 400, "class");
        refused!(server, "/api/signals?window=year", 400, "window");
        refused!(server, "/api/signals?as_of=31.02.2020x", 400, "as_of");
        refused!(server, "/api/signals?as_of=1990-01-01", 400, "no documents");
        refused!(server, "/api/signals?tag=steep:economy", 400, "steep:economic");
        refused!(server, "/api/topics/abc", 400, "topic id");
        refused!(server, "/api/topics/4294967295", 404, "no topic");
        refused!(server, "/api/topics/99999999999999999999", 400, "topic id");
        refused!(server, "/api/docs/nope", 404, "no document");
        refused!(server, &format!("/api/docs/{}", "x".repeat(300)), 400, "longer");
        refused!(server, "/api/docs/..%2F..%2Fetc%2Fpasswd", 404, "no document");
        refused!(server, "/api/nothing", 404, "no such page");
        refused!(server, "/etc/passwd", 404, "no such page");
        // and the server is still well
        assert_eq!(server.get("/api/health").0, 200);
    }
}

model_test! {
    fn ui_is_served_from_the_binary_with_a_strict_content_policy() {
        let server = Server::start(store(), &[]);
        let (status, page) = server.get_with("/", "");
        assert_eq!(status, 200);
        assert!(page.contains("/assets/app.js"));
        assert!(!page.contains("http://") && !page.contains("https://"), "the page loads nothing from elsewhere");
        let (status, js) = server.get_with("/assets/app.js", "");
        assert_eq!(status, 200);
        for sink in [".innerHTML", ".outerHTML", "insertAdjacentHTML(", "document.write("] {
            assert!(!js.contains(sink), "the UI builds the DOM from text, never from HTML ({sink})");
        }
        let mut stream = TcpStream::connect(&server.addr).unwrap();
        write!(stream, "GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut head = String::new();
        stream.read_to_string(&mut head).unwrap();
        let head = head.to_lowercase();
        assert!(head.contains("content-security-policy: default-src 'self'"), "{head}");
        assert!(head.contains("x-content-type-options: nosniff"));
    }
}

model_test! {
    fn other_addresses_need_a_token_and_the_api_checks_it() {
        let sandbox = store();
        let run = ws!(sandbox, "serve", "--addr", "0.0.0.0:0");
        run.expect_code(2);
        assert!(run.stderr.contains("serve.token"), "{}", run.stderr);

        let config = sandbox.path("token.toml");
        std::fs::write(
            &config,
            format!(
                "[model]\npath = {:?}\n[serve]\ntoken = \"s3cret-token\"\n",
                model_dir().display().to_string()
            ),
        )
        .unwrap();
        let server = Server::start(sandbox, &["--config", config.to_str().unwrap()]);
        refused!(server, "/api/health", 401, "bearer token");
        let (status, _) = server.get_with("/api/health", "Authorization: Bearer wrong\r\n");
        assert_eq!(status, 401);
        let (status, body) = server.get_with("/api/health", "Authorization: Bearer s3cret-token\r\n");
        assert_eq!(status, 200, "{body}");
        // the UI itself carries no data and loads without the token
        assert_eq!(server.get_with("/", "").0, 200);
    }
}

/// Copies a data directory (no server or run writes to it meanwhile).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Runs the headless-browser script (tests/e2e/ui.mjs) against a server.
#[test]
#[cfg_attr(
    not(all(e5_model, shared_data, browser)),
    ignore = "needs the model, the shared data, Chromium and playwright-core (`npm ci` in tests/e2e; .ci/run installs them)"
)]
fn browser_searches_opens_a_signal_and_never_runs_scraped_markup() {
    let server = Server::start(store(), &[]);
    // The analyst's loop writes: a store of its own (a copy), a token, and
    // a watch that a run fired.
    let writable = Sandbox::new();
    copy_dir(&store().data_dir(), &writable.data_dir());
    write_config(&writable, "[serve]\ntoken = \"e2e-token\"\n");
    guardian_rows(&writable, "guardian.csv", (2019, 11, 1), (2020, 2, 29));
    writable.write(
        "pipeline.toml",
        "[[sources]]\nname = \"guardian\"\nkind = \"file\"\npath = \"guardian.csv\"\nformat = \"csv\"\nlang = \"en\"\nmap = { published = \"Time\", title = \"Headlines\" }\n",
    );
    ws!(
        writable,
        "watch",
        "add",
        "virus",
        "--query",
        "coronavirus OR virus",
        "--rule",
        "growth",
        "--growth",
        "2"
    )
    .expect_code(0);
    ws!(
        writable,
        "-q",
        "run",
        "--pipeline",
        "pipeline.toml",
        "--offline",
        "--as-of",
        "2020-01-31"
    )
    .expect_code(0);
    let alerts = ws!(writable, "alerts", "--json").expect_code(0).json();
    assert!(
        !alerts.as_array().unwrap().is_empty(),
        "the run fired no alert"
    );
    let write_server = Server::start(&writable, &[]);
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-screenshots");
    let output = Command::new("node")
        .arg("ui.mjs")
        .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e"))
        .env("WEAKSIGNAL_URL", format!("http://{}", server.addr))
        .env("SCREENSHOT_DIR", &shots)
        .env("SEARCH_QUERY", "coronavirus")
        .env("XSS_QUERY", NAME)
        .env("WRITE_URL", format!("http://{}", write_server.addr))
        .env("WRITE_TOKEN", "e2e-token")
        .env(
            "CHROMIUM",
            option_env!("WEAKSIGNAL_CHROMIUM_AT_BUILD").unwrap_or("/usr/bin/chromium"),
        )
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "browser test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_str(stdout.trim().lines().last().unwrap()).expect("summary");
    assert_eq!(summary["ok"], true);
    assert!(summary["xss"]["hits"].as_u64().unwrap() > 0, "{summary}");
    assert!(
        summary["writes"]["alerts_listed"].as_u64().unwrap() >= 1,
        "{summary}"
    );
    // What the browser wrote is in the store.
    let watches = ws!(writable, "watch", "list", "--json")
        .expect_code(0)
        .json();
    assert_eq!(watches.as_array().unwrap().len(), 3, "{watches}");
    ws!(writable, "-q", "export", "--format", "ndjson", "--output", "out").expect_code(0);
    let marks = std::fs::read_to_string(writable.path("out/analyst/marks.ndjson")).unwrap();
    assert!(
        marks.contains("e2e analyst") && marks.contains("irrelevant"),
        "{marks}"
    );
    for shot in [
        "signals.png",
        "search.png",
        "topic.png",
        "doc.png",
        "xss.png",
        "watches.png",
    ] {
        let meta = std::fs::metadata(shots.join(shot)).unwrap_or_else(|_| panic!("no {shot}"));
        assert!(meta.len() > 10_000, "{shot} is {} bytes", meta.len());
    }
}

#[test]
fn completions_cover_every_command() {
    let sandbox = Sandbox::new();
    for shell in ["bash", "zsh", "fish"] {
        let run = ws!(sandbox, "completions", shell);
        run.expect_code(0);
        for command in ["report", "serve", "signals", "collect", "completions"] {
            assert!(run.stdout.contains(command), "{shell}: no {command}");
        }
    }
    let run = ws!(sandbox, "completions", "tcsh");
    run.expect_code(2);
    assert!(run.stderr.contains("possible values"), "{}", run.stderr);
}

#[test]
fn log_format_json_gives_one_object_per_line_for_cron() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "rows.jsonl",
        "{\"title\":\"ok\",\"published\":\"2024-01-01\"}\n{\"title\":\"no date\"}\n",
    );
    let run = ws!(
        sandbox,
        "--log-format",
        "json",
        "import",
        "rows.jsonl",
        "--lang",
        "en"
    );
    run.expect_code(1);
    let lines: Vec<serde_json::Value> = run
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let rejected = lines
        .iter()
        .find(|l| l["message"] == "row rejected")
        .unwrap_or_else(|| panic!("no rejection logged: {lines:?}"));
    assert_eq!(rejected["level"], "WARN");
    assert_eq!(rejected["line"], 2);
    assert!(rejected["file"].as_str().unwrap().ends_with("rows.jsonl"));
}

/// `POST /api/watches` needs the bearer token even on loopback, refuses
/// cross-origin writes and big bodies, and names a bad field; the Atom feed
/// of alerts is valid.
#[test]
fn write_endpoints_need_the_token_same_origin_and_small_valid_bodies() {
    let sandbox = Sandbox::new();
    let watch = br#"{"name": "kids", "owner": "ana", "target": {"kind": "concept", "text": "lasten mielenterveys"}, "rule": {"when": "growth", "growth": 2.0}}"#;
    {
        let server = Server::start(&sandbox, &[]);
        let (status, body) = server.send("POST", "/api/watches", "", watch);
        assert_eq!(status, 403, "no token configured: writes are off ({body})");
        assert!(body.contains("serve.token"), "{body}");
        // reads need none on loopback
        assert_eq!(server.get_with("/api/watches", "").0, 200);
    }
    let config = sandbox.write("token.toml", "[serve]\ntoken = \"s3cret-token\"\n");
    let server = Server::start(&sandbox, &["--config", config.to_str().unwrap()]);
    let auth = "Authorization: Bearer s3cret-token\r\n";
    assert_eq!(
        server.send("POST", "/api/watches", "", watch).0,
        401,
        "missing token"
    );
    assert_eq!(
        server
            .send(
                "POST",
                "/api/watches",
                "Authorization: Bearer nope\r\n",
                watch
            )
            .0,
        401,
        "wrong token"
    );
    let (status, body) = server.send(
        "POST",
        "/api/watches",
        &format!("{auth}Origin: http://evil.example\r\n"),
        watch,
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("cross-origin"), "{body}");
    let big = format!(
        r#"{{"name": "big", "target": {{"kind": "query", "query": "{}"}}}}"#,
        "a ".repeat(20_000)
    );
    assert_eq!(
        server.send("POST", "/api/watches", auth, big.as_bytes()).0,
        413,
        "oversized body"
    );
    let (status, body) = server.send(
        "POST",
        "/api/watches",
        auth,
        br#"{"name": "x", "target": {"kind": "concept", "text": "y"}, "colour": "red"}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("colour"), "names the unknown field: {body}");
    let (status, body) = server.send(
        "POST",
        "/api/watches",
        auth,
        br#"{"name": "x", "target": {"kind": "pager"}}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("pager"), "{body}");
    let (status, body) = server.send(
        "POST",
        "/api/watches",
        auth,
        br#"{"name": "", "target": {"kind": "topic", "id": 3}}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("name"), "{body}");
    // Same origin with the token: created, once.
    let (status, body) = server.send(
        "POST",
        "/api/watches",
        &format!("{auth}Origin: http://{}\r\n", server.addr),
        watch,
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = server.send("POST", "/api/watches", auth, watch);
    assert_eq!(status, 409, "{body}");
    let (status, body) = server.get_with("/api/watches", auth);
    assert_eq!(status, 200);
    assert!(body.contains("lasten mielenterveys"), "{body}");
    // Marks: the same protections, and a bad verdict names the field.
    let mark = br#"{"signal": "topic-1", "verdict": "irrelevant"}"#;
    assert_eq!(
        server.send("POST", "/api/marks", "", mark).0,
        401,
        "missing token"
    );
    let (status, body) = server.send(
        "POST",
        "/api/marks",
        auth,
        br#"{"signal": "topic-1", "verdict": "boring"}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("verdict"), "{body}");
    let (status, body) = server.send(
        "POST",
        "/api/marks",
        auth,
        br#"{"signal": "topic-1", "verdict": "irrelevant", "score": 3}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("score"), "{body}");
    let (status, body) = server.get_with("/api/alerts.atom", auth);
    assert_eq!(status, 200);
    let feed = feed_rs::parser::parse(dechunk_if_needed(&body).as_bytes()).expect("valid Atom");
    assert!(feed.entries.is_empty());
}

fn dechunk_if_needed(body: &str) -> String {
    if body.trim_start().starts_with('<') {
        body.to_string()
    } else {
        dechunk(body)
    }
}
