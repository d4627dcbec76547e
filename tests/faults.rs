//! Faults a scheduled run meets: a crash at every commit boundary (named
//! failpoints, `src/failpoint.rs`) and `kill -9` at timed points, a damaged index
//! segment, truncated vectors. After each, the next run (or `doctor
//! --repair`) must leave a store with every document once, an index that
//! agrees with it, a vector for every document and a report.

mod common;
#[path = "common/hook.rs"]
mod hook;

use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Instant;

use common::{guardian_rows, import_guardian, write_config, Sandbox};

fn write_corpus(sandbox: &Sandbox) {
    guardian_rows(sandbox, "guardian.csv", (2020, 1, 1), (2020, 2, 29));
    sandbox.write(
        "pipeline.toml",
        "[[sources]]\nname = \"guardian\"\nkind = \"file\"\npath = \"guardian.csv\"\nformat = \"csv\"\nlang = \"en\"\nmap = { published = \"Time\", title = \"Headlines\" }\n",
    );
    // Small transactions, so kills land between many commits.
    write_config(
        sandbox,
        "auto_fetch = false\ncommit_every = 32\n[import]\nbatch_size = 100\n",
    );
}

fn ids(sandbox: &Sandbox) -> Vec<String> {
    let db = rusqlite::Connection::open(sandbox.data_dir().join("weaksignal.sqlite")).unwrap();
    let mut stmt = db.prepare("SELECT id FROM documents ORDER BY id").unwrap();
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

/// A small deterministic generator (the kill points are reproducible).
struct Lcg(u64);

impl Lcg {
    fn next_f64(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

model_test! {
    fn runs_killed_at_random_points_lose_nothing_and_duplicate_nothing() {
        // What a run that is never killed stores.
        let reference = Sandbox::new();
        write_corpus(&reference);
        import_guardian(&reference, "guardian.csv").expect_code(0);
        let expected = ids(&reference);
        assert!(expected.len() > 1_000, "{}", expected.len());

        let sandbox = Sandbox::new();
        write_corpus(&sandbox);
        let bin = env!("CARGO_BIN_EXE_weaksignal");
        let run_with = |env: Option<String>| {
            let mut command = Command::new(bin);
            command
                .current_dir(sandbox.dir.path())
                .env("WEAKSIGNAL_DATA_DIR", sandbox.data_dir())
                .args(["-q", "run", "--pipeline", "pipeline.toml"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            if let Some(point) = env {
                command.env("WEAKSIGNAL_FAILPOINT", point);
            }
            command
        };
        // Every commit boundary of every stage, by name, in the order runs
        // reach them: each run stops there as if killed (SIGABRT, no
        // clean-up), and the next one continues from what was committed.
        let walk: &[(&str, usize)] = &[
            // the reader hands rows over 1,024 at a time: 1,120 rows are two commits
            ("import.batch", 1),
            ("index.commit", 1),
            ("import.batch", 1),
            ("index.commit", 1),
            ("ledger.stage", 1),
            ("embed.page", 1),
            ("embed.page", 5),
            ("ledger.stage", 2),
            ("rank.save", 1),
            ("ledger.stage", 3),
            ("checkpoint.save", 1),
            ("checkpoint.save", 2),
            ("report.write", 1),
            ("report.rename", 1),
            ("ledger.stage", 5),
        ];
        for (name, nth) in walk {
            assert!(weaksignal::failpoint::POINTS.contains(name), "{name}");
            let point = format!("{name}:{nth}");
            let out = run_with(Some(point.clone())).output().unwrap();
            assert_eq!(
                out.status.signal(),
                Some(6),
                "{point} was not reached ({:?}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let mut covered: BTreeSet<&str> = walk.iter().map(|(name, _)| *name).collect();
        // Alert delivery's points need watches that fire and a receiver:
        // `a_kill_during_alert_delivery_loses_no_alert_and_repeats_at_most_one` walks them.
        covered.extend(ALERT_POINTS);
        assert_eq!(covered.len(), weaksignal::failpoint::POINTS.len(), "a failpoint is not walked");

        // A few timed kills on top, inside a whole run as long as one
        // measured here, now that everything is embedded.
        let started = Instant::now();
        run_with(None).output().unwrap();
        let whole = started.elapsed();
        let seed = std::env::var("WEAKSIGNAL_FAULT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20_261_127u64);
        let mut rng = Lcg(seed);
        for _ in 0..4 {
            let at = whole.mul_f64(0.1 + 0.8 * rng.next_f64());
            let mut child = run_with(None).spawn().unwrap();
            std::thread::sleep(at);
            let _ = child.kill(); // SIGKILL, unless it already ended
            child.wait().unwrap();
        }
        eprintln!("walked {} failpoints; a whole run took {whole:?}; 4 timed kills (seed {seed})", walk.len());

        // The morning after: one clean run does what is left.
        let last = ws!(sandbox, "run", "--pipeline", "pipeline.toml");
        last.expect_code(0);
        assert_eq!(ids(&sandbox), expected, "the store lost or duplicated documents");
        let doctor = ws!(sandbox, "doctor", "--json");
        doctor.expect_code(0);
        for check in doctor.json().as_array().unwrap() {
            assert_eq!(check["status"], "ok", "{check}");
        }
        let runs = ws!(sandbox, "status", "--json", "-n", "100").expect_code(0).json();
        let runs = runs.as_array().unwrap();
        assert_eq!(runs[0]["status"], "ok");
        assert!(runs.iter().skip(1).all(|r| r["status"] != "running"), "a killed run still shows as running");
        assert!(runs.iter().any(|r| r["status"] == "interrupted"));
        let report = std::fs::read_to_string(sandbox.data_dir().join("reports/latest.html")).expect("a report");
        assert!(report.contains("Weak signals as of 2020-02-29"));
        // Checkpoints written by killed runs give what clustering from scratch gives.
        let with = ws!(sandbox, "-q", "signals", "--json", "--limit", "1000").expect_code(0).json();
        let scratch = ws!(sandbox, "-q", "signals", "--json", "--limit", "1000", "--from-scratch").expect_code(0).json();
        assert_eq!(with, scratch);
    }
}

/// The failpoints of the alerts stage, walked by the alert fault test.
const ALERT_POINTS: [&str; 2] = ["alerts.stored", "alerts.sent"];

model_test! {
    fn a_kill_during_alert_delivery_loses_no_alert_and_repeats_at_most_one() {
        let hook = hook::receiver();
        let sandbox = Sandbox::new();
        write_corpus(&sandbox);
        write_config(
            &sandbox,
            &format!("auto_fetch = false\n[[alerts.channels]]\nkind = \"webhook\"\nname = \"team\"\nurl = \"http://{}/hook\"\nsecret_env = \"WEAKSIGNAL_TEST_HOOK_SECRET\"\n", hook.addr),
        );
        ws!(sandbox, "watch", "add", "virus", "--query", "coronavirus OR virus", "--rule", "growth", "--growth", "2").expect_code(0);
        ws!(sandbox, "watch", "add", "epidemia", "--concept", "uusi virusepidemia Kiinassa", "--rule", "growth", "--growth", "2").expect_code(0);
        let run_at = |point: Option<&str>| {
            let mut command = Command::new(env!("CARGO_BIN_EXE_weaksignal"));
            command
                .current_dir(sandbox.dir.path())
                .env("WEAKSIGNAL_DATA_DIR", sandbox.data_dir())
                .env("WEAKSIGNAL_TEST_HOOK_SECRET", hook::SECRET)
                .args(["-q", "run", "--pipeline", "pipeline.toml", "--offline", "--as-of", "2020-01-31"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            if let Some(point) = point {
                command.env("WEAKSIGNAL_FAILPOINT", point);
            }
            command.output().unwrap()
        };
        let alerts = || ws!(sandbox, "alerts", "--json").expect_code(0).json().as_array().unwrap().len();
        let received = || hook.state.lock().unwrap().bodies.clone();

        // Killed right after the alerts are stored: nothing sent, nothing lost.
        let out = run_at(Some("alerts.stored:1"));
        assert_eq!(out.status.signal(), Some(6), "{}", String::from_utf8_lossy(&out.stderr));
        let stored = alerts();
        assert!(stored >= 2, "two watches fire as of 2020-01-31: {stored}");
        assert!(received().is_empty());

        // Killed after the second alert was sent but before that was recorded.
        let out = run_at(Some("alerts.sent:2"));
        assert_eq!(out.status.signal(), Some(6), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(received().len(), 2);
        assert_eq!(alerts(), stored, "a killed run fired alerts twice");

        // The next run delivers the rest; the one whose delivery was not
        // recorded comes again, with the same id for the receiver to drop.
        let out = run_at(None);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        run_at(None);
        let bodies = received();
        let ids: Vec<i64> = bodies.iter().map(|b| b["id"].as_i64().unwrap()).collect();
        let distinct: BTreeSet<i64> = ids.iter().copied().collect();
        assert_eq!(distinct.len(), stored, "an alert was lost: {ids:?}");
        assert_eq!(ids.len(), stored + 1, "only the unrecorded delivery repeats: {ids:?}");
        assert_eq!(ids[1], ids[2], "the repeat is the alert in flight: {ids:?}");
        assert_eq!(bodies[1], bodies[2], "the repeat is the same body, idempotency key included");
        assert_eq!(alerts(), stored);
        let runs = ws!(sandbox, "status", "--json", "-n", "10").expect_code(0).json();
        assert_eq!(runs[0]["status"], "ok");
        assert!(runs.as_array().unwrap().iter().filter(|r| r["status"] == "interrupted").count() >= 2, "{runs}");
    }
}

model_test! {
    fn doctor_finds_and_repairs_a_damaged_index_and_truncated_vectors() {
        let sandbox = Sandbox::new();
        write_corpus(&sandbox);
        ws!(sandbox, "-q", "run", "--pipeline", "pipeline.toml").expect_code(0);
        ws!(sandbox, "doctor").expect_code(0);

        // Flip bytes in the largest index file, truncate three vectors.
        let index = sandbox.data_dir().join("index");
        let largest = std::fs::read_dir(&index)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "idx" || e == "pos" || e == "term"))
            .max_by_key(|p| std::fs::metadata(p).unwrap().len())
            .expect("a segment file");
        let mut bytes = std::fs::read(&largest).unwrap();
        for i in (64..bytes.len().min(4_096)).step_by(7) {
            bytes[i] ^= 0x5a;
        }
        std::fs::write(&largest, bytes).unwrap();
        let db = rusqlite::Connection::open(sandbox.data_dir().join("weaksignal.sqlite")).unwrap();
        db.execute("UPDATE vectors SET vec = substr(vec, 1, 100) WHERE rowid IN (SELECT rowid FROM vectors LIMIT 3)", []).unwrap();
        drop(db);

        // Reading the truncated vectors is a clear error naming the document.
        let signals = ws!(sandbox, "-q", "signals", "--from-scratch");
        signals.expect_code(2);
        assert!(signals.stderr.contains("vector has 50 dimensions, others 384"), "{}", signals.stderr);
        assert!(signals.stderr.contains("weaksignal.sqlite"), "{}", signals.stderr);

        let check = ws!(sandbox, "doctor");
        check.expect_code(1);
        assert!(check.stdout.contains("damaged segment files"), "{}", check.stdout);
        assert!(check.stdout.contains(largest.file_name().unwrap().to_str().unwrap()), "{}", check.stdout);
        assert!(check.stdout.contains("3 damaged (truncated) vectors"), "{}", check.stdout);

        let repair = ws!(sandbox, "doctor", "--repair");
        repair.expect_code(0);
        assert!(repair.stdout.contains("rebuilt from the store"), "{}", repair.stdout);
        assert!(repair.stdout.contains("deleted 3, embedded 3"), "{}", repair.stdout);
        ws!(sandbox, "doctor").expect_code(0);
        ws!(sandbox, "-q", "signals", "--from-scratch").expect_code(0);
        let found = ws!(sandbox, "-q", "search", "coronavirus", "--json").expect_code(0).json();
        assert!(found["total"].as_u64().unwrap() > 10);
    }
}

shared_test! {
    fn a_missing_model_is_a_clear_error_naming_the_directory() {
        let sandbox = Sandbox::new();
        write_corpus(&sandbox);
        sandbox.write("config.toml", "[model]\npath = \"no-such-model\"\nauto_fetch = false\n");
        import_guardian(&sandbox, "guardian.csv").expect_code(0);
        for args in [vec!["signals"], vec!["embed"], vec!["similar", "strike"]] {
            let run = sandbox.run(&args);
            run.expect_code(2);
            assert!(run.stderr.contains("no-such-model"), "{args:?}: {}", run.stderr);
        }
        let doctor = ws!(sandbox, "doctor");
        doctor.expect_code(1);
        assert!(doctor.stdout.contains("problem   model"), "{}", doctor.stdout);
        assert!(doctor.stdout.contains("weaksignal models fetch"), "{}", doctor.stdout);
    }
}

/// Runs `f` with `dir` made immutable (nothing in it can be created, changed
/// or deleted, even by root), undoing it afterwards.
fn with_immutable(dir: &std::path::Path, f: impl FnOnce()) {
    let set = |flag: &str| {
        let ok = Command::new("chattr")
            .arg(flag)
            .arg("-R")
            .arg(dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "chattr {flag} {}", dir.display());
    };
    set("+i");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    set("-i");
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[test]
#[cfg_attr(
    not(all(fs_faults, shared_data)),
    ignore = "needs root (chattr +i, mount -t tmpfs) and the shared data"
)]
fn a_read_only_data_directory_is_a_clear_error_and_the_store_is_still_read() {
    let sandbox = Sandbox::new();
    write_corpus(&sandbox);
    sandbox.write(
        "config.toml",
        "[model]\npath = \"no-such-model\"\nauto_fetch = false\n",
    );
    import_guardian(&sandbox, "guardian.csv").expect_code(0);
    sandbox.write("more.csv", "title,published\nA new headline,2020-03-01\n");
    with_immutable(&sandbox.data_dir(), || {
        for args in [
            vec!["import", "more.csv", "--lang", "en"],
            vec!["run", "--pipeline", "pipeline.toml"],
            vec!["reindex"],
        ] {
            let run = sandbox.run(&args);
            run.expect_code(2);
            assert!(
                run.stderr.contains("it is not writable"),
                "{args:?}: {}",
                run.stderr
            );
            assert!(
                run.stderr
                    .contains(&sandbox.data_dir().display().to_string()),
                "{args:?}: {}",
                run.stderr
            );
        }
        // The store (SQLite) and the index are still read: searching a
        // read-only snapshot works.
        let stats = ws!(sandbox, "stats", "--json").expect_code(0).json();
        assert!(stats["documents"].as_u64().unwrap() > 1_000);
        let search = ws!(sandbox, "-q", "search", "coronavirus", "--json")
            .expect_code(0)
            .json();
        assert!(
            search["total"].as_u64().unwrap() > 0,
            "no hits for coronavirus: {search}"
        );
    });
    // and nothing was lost
    let stats = ws!(sandbox, "stats", "--json").expect_code(0).json();
    assert!(stats["documents"].as_u64().unwrap() > 1_000);
}

#[test]
#[cfg_attr(
    not(all(fs_faults, shared_data)),
    ignore = "needs root (chattr +i, mount -t tmpfs) and the shared data"
)]
fn a_full_disk_is_a_clear_error_and_what_was_committed_stays() {
    let sandbox = Sandbox::new();
    write_corpus(&sandbox);
    let data = sandbox.data_dir();
    std::fs::create_dir_all(&data).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=600k", "tmpfs"])
        .arg(&data)
        .status()
        .unwrap()
        .success();
    assert!(mounted, "mount tmpfs on {}", data.display());
    let result = std::panic::catch_unwind(|| {
        // More headlines than 600 KB holds, committed in batches of 100.
        sandbox.write(
            "config.toml",
            "[model]\npath = \"no-such-model\"\n[import]\nbatch_size = 100\n",
        );
        let run = import_guardian(&sandbox, "guardian.csv");
        run.expect_code(2);
        assert!(
            run.stderr.contains("the disk holding it is full"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains(&data.display().to_string()),
            "{}",
            run.stderr
        );
        // the batches committed before the disk filled are intact and readable
        let stats = ws!(sandbox, "stats", "--json").expect_code(0).json();
        let stored = stats["documents"].as_u64().unwrap();
        assert!(stored > 0, "{stored} documents after a full disk");
    });
    let _ = Command::new("umount").arg(&data).status();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
