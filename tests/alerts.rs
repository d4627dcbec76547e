//! Watches and alerts end to end, in `weaksignal run`, against real servers
//! on 127.0.0.1: a webhook receiver that checks signatures and fails when
//! told to, the Atom feed parsed by feed-rs, reruns that deliver nothing
//! twice, and a channel that is down for one run.

mod common;

#[path = "common/hook.rs"]
mod hook;

use common::{guardian_rows, model_dir, Sandbox};
use hook::{receiver, SECRET};

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
    // the secrets every channel of these tests reads from the environment
    command
        .env("WEAKSIGNAL_TEST_HOOK_SECRET", SECRET)
        .env("WEAKSIGNAL_TEST_SMTP_USER", "alerts")
        .env("WEAKSIGNAL_TEST_SMTP_PASSWORD", "secret")
        .args([
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

/// The error `weaksignal watch list` stops with under `config` (it must stop).
fn config_error(config: &str) -> String {
    let sandbox = Sandbox::new();
    sandbox.write("config.toml", config);
    let run = ws!(sandbox, "watch", "list");
    assert_ne!(run.code, 0, "{config}");
    run.stderr.clone()
}

#[test]
fn a_channel_with_a_bad_url_is_a_config_error_that_names_it() {
    let error = config_error("[[alerts.channels]]\nkind = \"webhook\"\nname = \"team\"\nurl = \"ftp://example.invalid/x\"\n");
    assert!(
        error.contains("team") && error.contains("ftp://"),
        "{error}"
    );
    let error = config_error("[[alerts.channels]]\nkind = \"pager\"\nname = \"x\"\n");
    assert!(error.contains("pager"), "{error}");
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

/// The SMTP server of tests/smtp/server.py on 127.0.0.1:`port`: STARTTLS
/// with the test CA's certificate, AUTH alerts/secret; each message lands
/// in `maildir` as N.eml and N.json. Stopped when dropped.
struct SmtpServer {
    child: std::process::Child,
}

impl SmtpServer {
    fn start(port: u16, maildir: &std::path::Path) -> SmtpServer {
        use std::io::BufRead;
        let python = std::env::var("SMTP_PYTHON")
            .ok()
            .or(option_env!("WEAKSIGNAL_SMTP_PYTHON_AT_BUILD").map(String::from))
            .expect("SMTP_PYTHON (tests/smtp/install.sh)");
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut child = std::process::Command::new(python)
            .arg(root.join("tests/smtp/server.py"))
            .args(["--port", &port.to_string(), "--maildir"])
            .arg(maildir)
            .arg("--tls-dir")
            .arg(root.join("tests/fixtures/tls"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(maildir.with_extension("log")).unwrap())
            .spawn()
            .expect("start the SMTP server");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            format!("ready {port}"),
            "the SMTP server did not start"
        );
        SmtpServer { child }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The messages the SMTP server received, as its parser read them.
fn mails(maildir: &std::path::Path) -> Vec<serde_json::Value> {
    let mut names: Vec<_> = std::fs::read_dir(maildir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

/// An e-mail channel to 127.0.0.1:`port`, trusting the test CA unless `trust` is false.
fn write_mail_config(sandbox: &Sandbox, port: u16, trust: bool) {
    let ca = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls/ca.pem");
    sandbox.write(
        "config.toml",
        format!(
            "[model]\npath = {:?}\nauto_fetch = false\n\n[[alerts.channels]]\nkind = \"email\"\nname = \"mail\"\nhost = \"127.0.0.1\"\nport = {port}\nfrom = \"weaksignal <alerts@example.org>\"\nto = [\"ana@example.org\", \"Ben <ben@example.org>\"]\nusername_env = \"WEAKSIGNAL_TEST_SMTP_USER\"\npassword_env = \"WEAKSIGNAL_TEST_SMTP_PASSWORD\"\n{}tries = 2\nbackoff_seconds = 0.05\ntimeout_seconds = 5.0\n",
            model_dir().display().to_string(),
            if trust { format!("ca_file = {:?}\n", ca.display().to_string()) } else { String::new() }
        ),
    );
}

#[test]
#[cfg_attr(
    not(all(e5_model, shared_data, smtp)),
    ignore = "needs the model, the shared data and aiosmtpd (tests/smtp/install.sh; .ci/run installs them)"
)]
fn the_email_channel_sends_over_starttls_once_and_catches_up_after_the_server_was_down() {
    let sandbox = sandbox("http://127.0.0.1:9/unused");
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    write_mail_config(&sandbox, port, true);
    let maildir = sandbox.path("maildir");
    std::fs::create_dir_all(&maildir).unwrap();
    let run = |as_of: &str| Some(run(&sandbox, as_of).code);
    ws!(
        sandbox,
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

    // The server is down: the run is partial, names the channel, and the
    // alerts wait in the store.
    assert_eq!(run("2020-01-31"), Some(1));
    let stage = alerts_stage(&sandbox);
    let fired = stage["counts"]["fired"].as_u64().unwrap() as usize;
    assert!(fired >= 1, "{stage}");
    assert!(
        stage["errors"][0].as_str().unwrap().contains("mail"),
        "{stage}"
    );
    assert_eq!(
        stage["counts"]["mail_failed"].as_u64().unwrap() as usize,
        fired,
        "{stage}"
    );

    // It is up: the next run sends what was missed, in one message, over
    // STARTTLS with a login (the server refuses mail otherwise).
    let _server = SmtpServer::start(port, &maildir);
    assert_eq!(run("2020-01-31"), Some(0));
    let got = mails(&maildir);
    assert_eq!(got.len(), 1, "{got:?}");
    let mail = &got[0];
    assert_eq!(
        mail["rcpt_tos"],
        serde_json::json!(["ana@example.org", "ben@example.org"])
    );
    assert_eq!(mail["mail_from"], "alerts@example.org");
    assert_eq!(mail["content_type"], "multipart/alternative");
    let alerts = ws!(sandbox, "alerts", "--json").expect_code(0).json();
    let alerts = alerts.as_array().unwrap();
    assert_eq!(alerts.len(), fired);
    let text = mail["text"].as_str().expect("a plain-text part");
    let html = mail["html"].as_str().expect("an HTML part");
    for alert in alerts {
        let label = alert["alert"]["signal"]["label"]
            .as_str()
            .unwrap_or_else(|| panic!("{alert}"));
        assert!(text.contains(label), "{label} not in {text}");
        let escaped = label
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;");
        assert!(html.contains(&escaped), "{escaped} not in the HTML part");
    }
    assert!(
        html.contains("<article class=\"signal\""),
        "the report's card: {html}"
    );
    if fired > 1 {
        assert!(
            mail["subject"]
                .as_str()
                .unwrap()
                .ends_with(&format!("{fired} alerts")),
            "{mail}"
        );
    }

    // A rerun sends nothing again.
    assert_eq!(run("2020-01-31"), Some(0));
    assert_eq!(mails(&maildir).len(), 1);

    // A server whose certificate is not trusted gets nothing: the run is
    // partial, and once trusted again the next run catches up.
    write_mail_config(&sandbox, port, false);
    assert_eq!(run("2020-02-07"), Some(1));
    let stage = alerts_stage(&sandbox);
    let new = stage["counts"]["fired"].as_u64().unwrap() as usize;
    assert!(new >= 1, "{stage}");
    assert_eq!(mails(&maildir).len(), 1);
    write_mail_config(&sandbox, port, true);
    assert_eq!(run("2020-02-07"), Some(0));
    assert_eq!(mails(&maildir).len(), 2);
    ws!(sandbox, "-q", "export", "--format", "ndjson", "--output", "out").expect_code(0);
    let rows = std::fs::read_to_string(sandbox.path("out/analyst/deliveries.ndjson")).unwrap();
    let delivered = rows.lines().filter(|l| l.contains("\"delivered\"")).count();
    assert_eq!(delivered, fired + new, "{rows}");
}

#[test]
fn an_email_channel_checks_its_addresses_and_refuses_plain_text_off_this_machine() {
    let error = config_error("[[alerts.channels]]\nkind = \"email\"\nname = \"mail\"\nhost = \"smtp.example.org\"\nfrom = \"alerts@example.org\"\nto = [\"not an address\"]\n");
    assert!(
        error.contains("mail") && error.contains("not an address"),
        "{error}"
    );
    let error = config_error("[[alerts.channels]]\nkind = \"email\"\nname = \"mail\"\nhost = \"smtp.example.org\"\nsecurity = \"none\"\nfrom = \"alerts@example.org\"\nto = [\"ana@example.org\"]\n");
    assert!(error.contains("loopback"), "{error}");
}
