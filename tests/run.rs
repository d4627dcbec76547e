//! `weaksignal run` end to end, as cron runs it: every stage, the ledger and
//! `status`, the day's reports, exit codes, the run lock, a failing source
//! and a missing model.

mod common;

use common::{guardian_rows, model_dir, Sandbox};

/// A sandbox with a configuration (the test model, no retries, small embed
/// batches) and a pipeline of one corpus file and, optionally, a feed that
/// nobody serves.
fn sandbox(with_dead_feed: bool, model: &str) -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.write(
        "config.toml",
        format!(
            "[model]\npath = {model:?}\nauto_fetch = false\ncommit_every = 64\n[crawler]\nretries = 0\ntimeout_seconds = 2.0\n"
        ),
    );
    guardian_rows(&sandbox, "guardian.csv", (2020, 1, 1), (2020, 2, 29));
    let mut pipeline = String::from(
        "[[sources]]\nname = \"guardian\"\nkind = \"file\"\npath = \"guardian.csv\"\nformat = \"csv\"\nlang = \"en\"\nmap = { published = \"Time\", title = \"Headlines\" }\n",
    );
    if with_dead_feed {
        // Port 9 (discard) on loopback: connection refused, nothing leaves the machine.
        pipeline.push_str("[[sources]]\nname = \"dead-feed\"\nkind = \"feed\"\nurl = \"http://127.0.0.1:9/feed.xml\"\nlang = \"en\"\n");
    }
    sandbox.write("pipeline.toml", pipeline);
    sandbox
}

fn test_model() -> String {
    model_dir().display().to_string()
}

fn status(sandbox: &Sandbox) -> Vec<serde_json::Value> {
    ws!(sandbox, "status", "--json")
        .expect_code(0)
        .json()
        .as_array()
        .expect("runs")
        .clone()
}

fn stage<'a>(run: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    run["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no stage {name} in {run}"))
}

model_test! {
    fn run_does_the_whole_job_records_it_and_then_only_new_work() {
        let sandbox = sandbox(true, &test_model());
        let first = ws!(sandbox, "run", "--pipeline", "pipeline.toml");
        // the dead feed makes the run partial; everything else is done
        first.expect_code(1);
        assert!(first.stdout.contains("run 1 partial"), "{}", first.stdout);
        let runs = status(&sandbox);
        assert_eq!(runs.len(), 1);
        let run = &runs[0];
        assert_eq!(run["status"], "partial");
        let names: Vec<&str> = run["stages"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["collect", "import", "embed", "rank", "signals", "alerts", "report"]);
        // no watches: nothing fires, and the stage is fine
        assert_eq!(stage(run, "alerts")["status"], "ok", "{run}");
        assert_eq!(stage(run, "alerts")["counts"]["fired"].as_u64(), Some(0), "{run}");
        // the first run fits the ranking; its model is stored for the week
        assert_eq!(stage(run, "rank")["counts"]["refitted"].as_u64(), Some(1), "{run}");
        assert_eq!(stage(run, "collect")["status"], "partial");
        assert!(stage(run, "collect")["errors"][0].as_str().unwrap().contains("dead-feed"), "{run}");
        let imported = stage(run, "import")["counts"]["imported"].as_u64().unwrap();
        assert!(imported > 1_000, "{imported}");
        assert_eq!(stage(run, "import")["counts"]["indexed"].as_u64(), Some(imported));
        assert_eq!(stage(run, "embed")["counts"]["embedded"].as_u64(), Some(imported));
        assert_eq!(run["as_of"], "2020-02-29T00:00:00Z");

        // the day's report, the latest one, and the signals JSON
        let reports = sandbox.data_dir().join("reports");
        let html = std::fs::read_to_string(reports.join("2020-02-29.html")).expect("dated report");
        assert_eq!(std::fs::read_to_string(reports.join("latest.html")).unwrap(), html);
        assert!(html.contains("Sources in this run"));
        let dead = html.split("dead-feed").nth(1).expect("the dead feed is listed");
        assert!(dead.contains("failed") && dead.to_lowercase().contains("connect"), "{}", &dead[..300.min(dead.len())]);
        let signals: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(reports.join("2020-02-29.signals.json")).unwrap()).unwrap();
        let cli = ws!(sandbox, "-q", "signals", "--json", "--limit", "1000").expect_code(0).json();
        assert_eq!(signals["as_of"], cli["as_of"]);
        assert!(!signals["signals"].as_array().unwrap().is_empty());

        // The next morning: nothing new, nothing stored twice, nothing embedded again.
        let second = ws!(sandbox, "run", "--pipeline", "pipeline.toml");
        second.expect_code(1);
        let runs = status(&sandbox);
        assert_eq!(runs.len(), 2);
        let run = &runs[0];
        assert_eq!(run["id"], 2);
        assert_eq!(stage(run, "import")["counts"]["imported"].as_u64(), Some(0));
        assert_eq!(stage(run, "import")["counts"]["documents"].as_u64(), Some(imported));
        assert_eq!(stage(run, "embed")["counts"]["embedded"].as_u64(), Some(0));
        assert_eq!(stage(run, "rank")["counts"]["refitted"].as_u64(), Some(0), "{run}");
        let text = ws!(sandbox, "status").expect_code(0).stdout.clone();
        assert!(text.contains("run 2") && text.contains("run 1") && text.contains("dead-feed"), "{text}");
    }
}

model_test! {
    fn offline_runs_skip_web_sources_and_say_so_in_the_report() {
        let sandbox = sandbox(true, &test_model());
        let run = ws!(sandbox, "-q", "run", "--pipeline", "pipeline.toml", "--offline", "--as-of", "2020-02-15");
        run.expect_code(0);
        let html = std::fs::read_to_string(sandbox.data_dir().join("reports/2020-02-15.html")).unwrap();
        let dead = html.split("dead-feed").nth(1).expect("listed");
        assert!(dead.contains("skipped") && dead.contains("offline: --offline"));
        assert_eq!(status(&sandbox)[0]["status"], "ok");
    }
}

shared_test! {
    fn a_second_run_is_refused_while_one_holds_the_lock_and_a_dead_runs_lock_is_taken_over() {
        let sandbox = sandbox(false, "/nonexistent/model");
        let held = weaksignal::run::lock::RunLock::acquire(&sandbox.data_dir()).unwrap();
        let refused = ws!(sandbox, "run", "--pipeline", "pipeline.toml");
        refused.expect_code(2);
        assert!(refused.stderr.contains("another run is in progress"), "{}", refused.stderr);
        assert!(refused.stderr.contains(&format!("pid {}", std::process::id())), "{}", refused.stderr);
        assert!(refused.stderr.contains("run.lock"), "{}", refused.stderr);
        drop(held);

        // a run killed with -9 leaves its pid in the file, but not the flock
        std::fs::write(sandbox.data_dir().join("run.lock"), "pid 4194303 since 2026-01-01T03:00:00Z").unwrap();
        let run = ws!(sandbox, "run", "--pipeline", "pipeline.toml");
        assert!(run.stderr.contains("taking over the run lock"), "{}", run.stderr);
        assert!(run.stderr.contains("pid 4194303"), "{}", run.stderr);
        // it ran (and failed later, at embed: this sandbox has no model)
        run.expect_code(2);
    }
}

shared_test! {
    fn a_missing_model_fails_the_run_at_embed_and_keeps_what_was_stored() {
        let sandbox = sandbox(false, "/nonexistent/model");
        let run = ws!(sandbox, "run", "--pipeline", "pipeline.toml");
        run.expect_code(2);
        assert!(run.stderr.contains("failed at stage embed"), "{}", run.stderr);
        assert!(run.stderr.contains("/nonexistent/model"), "{}", run.stderr);
        let runs = status(&sandbox);
        assert_eq!(runs[0]["status"], "failed");
        assert_eq!(stage(&runs[0], "embed")["status"], "failed");
        assert_eq!(stage(&runs[0], "signals")["status"], "skipped");
        let imported = stage(&runs[0], "import")["counts"]["imported"].as_u64().unwrap();
        let stats = ws!(sandbox, "stats", "--json").expect_code(0).json();
        assert_eq!(stats["documents"].as_u64(), Some(imported));
        assert!(imported > 1_000);
    }
}

#[test]
fn init_starts_a_project_and_run_without_a_config_says_so() {
    let sandbox = Sandbox::new();
    let project = sandbox.dir.path().join("project");
    let made = ws!(sandbox, "init", project.to_str().unwrap());
    made.expect_code(0);
    assert!(
        made.stdout
            .contains("weaksignal run --pipeline pipeline.toml"),
        "{}",
        made.stdout
    );
    let config = std::fs::read_to_string(project.join("config.toml")).unwrap();
    assert!(config.contains("\noffline = false\n"), "{config}");
    ws!(
        sandbox,
        "--config",
        project.join("config.toml").to_str().unwrap(),
        "validate",
        project.join("pipeline.toml").to_str().unwrap()
    )
    .expect_code(0);
    // never over existing files
    std::fs::write(project.join("pipeline.toml"), "# mine\n").unwrap();
    let again = ws!(sandbox, "init", project.to_str().unwrap());
    again.expect_code(2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert_eq!(
        std::fs::read_to_string(project.join("pipeline.toml")).unwrap(),
        "# mine\n"
    );

    // `run` where there is no config.toml says what to do (the built-in
    // pipeline's corpora are missing here, so it ends quickly)
    let empty = sandbox.dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_weaksignal"))
        .current_dir(&empty)
        .env("WEAKSIGNAL_DATA_DIR", empty.join("data"))
        .env("WEAKSIGNAL_SHARED", empty.join("no-shared-data"))
        // the model and lexicons are there: nothing is fetched into a cache
        .env("WEAKSIGNAL_MODEL_DIR", model_dir())
        .env("WEAKSIGNAL_LEXICON_DIR", common::lexicon_dir())
        .env("XDG_CACHE_HOME", empty.join("cache"))
        .env_remove("WEAKSIGNAL_LOG")
        .args(["run", "--offline"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no config.toml in this directory") && stderr.contains("weaksignal init"),
        "{stderr}"
    );
    assert!(!empty.join("cache").exists(), "the run fetched something");
}
