//! Faults a scheduled run meets: `kill -9` at random points, a damaged index
//! segment, truncated vectors. After each, the next run (or `doctor
//! --repair`) must leave a store with every document once, an index that
//! agrees with it, a vector for every document and a report.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
        let seed = std::env::var("WEAKSIGNAL_FAULT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20_261_127u64);
        let mut rng = Lcg(seed);
        let mut kills = Vec::new();
        let mut finished_early = 0;
        let mut embedded_all = false;
        let covered = |kills: &Vec<(u128, String)>| kills.iter().map(|(_, s)| s.as_str()).collect::<BTreeSet<_>>().len();
        while kills.len() < 24 || (covered(&kills) < 4 && kills.len() < 60) {
            assert!(finished_early < 80, "runs keep finishing before the kill point: {kills:?}");
            let mut child = Command::new(env!("CARGO_BIN_EXE_weaksignal"))
                .current_dir(sandbox.dir.path())
                .env("WEAKSIGNAL_DATA_DIR", sandbox.data_dir())
                .args(["-q", "run", "--pipeline", "pipeline.toml"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            // Some kills early (opening the store, importing); the others over
            // a window that widens while embedding makes progress, then over
            // a whole run once everything is embedded (clustering, report).
            let n = kills.len() as f64;
            let at = if rng.next_f64() < 0.25 {
                Duration::from_secs_f64(0.02 + rng.next_f64() * 0.4)
            } else if embedded_all {
                // a whole run now takes well under a second
                Duration::from_secs_f64(0.01 + rng.next_f64() * 0.45)
            } else {
                Duration::from_secs_f64(0.05 + rng.next_f64() * (2.0 + n * 0.6))
            };
            let started = Instant::now();
            while started.elapsed() < at {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            if child.try_wait().unwrap().is_some() {
                finished_early += 1;
                embedded_all = true;
                continue;
            }
            let pid = child.id();
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            // Where the run was: the ledger row it left, if it got that far.
            let status = ws!(sandbox, "status", "--json");
            let newest = if status.code == 0 { status.json().as_array().and_then(|r| r.first().cloned()) } else { None };
            let stage = match newest {
                Some(run) if run["pid"] == pid => {
                    let done = run["stages"].as_array().map_or(0, |s| s.len());
                    ["collect", "import", "embed", "signals", "report", "end"][done.min(5)].to_string()
                }
                _ => "start".to_string(),
            };
            if stage == "signals" || stage == "report" {
                embedded_all = true;
            }
            kills.push((at.as_millis(), stage));
        }
        eprintln!("killed {} runs (seed {seed}; {finished_early} finished first): {kills:?}", kills.len());
        let stages: BTreeSet<&str> = kills.iter().map(|(_, s)| s.as_str()).collect();
        assert!(stages.len() >= 4, "kills landed in too few stages: {stages:?}");

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
