//! Tells the test suite whether the shared data (`../shared`, or
//! `$WEAKSIGNAL_SHARED`) is there. Tests that need it are compiled as
//! `#[ignore]`d when it is missing, so they show up as skipped, with the
//! reason, instead of passing silently.

use std::path::PathBuf;

fn main() {
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
