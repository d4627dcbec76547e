//! The hand-over to distributed engines is real: Apache Spark (local mode)
//! reads the exported Parquet and computes the weekly per-topic document
//! counts, which must equal the ones polars computed; NDJSON holds every
//! document once with its topic; a rerun replaces an export whole.

mod common;

use std::process::Command;
use std::sync::OnceLock;

use common::{guardian_rows, import_guardian, write_config, Sandbox};

/// Guardian headlines from December 2019 to February 2020, imported and embedded.
fn store() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        let sandbox = Sandbox::new();
        write_config(&sandbox, "");
        guardian_rows(&sandbox, "guardian.csv", (2019, 12, 1), (2020, 2, 29));
        import_guardian(&sandbox, "guardian.csv").expect_code(0);
        ws!(sandbox, "-q", "embed").expect_code(0);
        sandbox
    })
}

fn manifest(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).expect("manifest"))
        .unwrap()
}

model_test! {
    fn ndjson_export_has_every_document_once_with_its_topic_and_reruns_replace_it() {
        let sandbox = store();
        let dir = sandbox.path("exports/ndjson");
        for _ in 0..2 {
            ws!(sandbox, "-q", "export", "--format", "ndjson", "-o", &dir).expect_code(0);
        }
        let stats = ws!(sandbox, "stats", "--json").expect_code(0).json();
        let m = manifest(&dir);
        assert_eq!(m["documents"], stats["documents"]);
        assert_eq!(m["months"], serde_json::json!(["2019-12", "2020-01", "2020-02"]));
        let mut ids = std::collections::HashSet::new();
        let mut with_topic = 0;
        for month in ["2019-12", "2020-01", "2020-02"] {
            let text = std::fs::read_to_string(dir.join(format!("documents/month={month}.ndjson"))).unwrap();
            for line in text.lines() {
                let doc: serde_json::Value = serde_json::from_str(line).expect("one JSON object per line");
                assert!(doc["published"].as_str().unwrap().starts_with(month), "{doc}");
                assert!(ids.insert(doc["id"].as_str().unwrap().to_string()), "twice: {doc}");
                with_topic += doc["topic"].is_u64() as u64;
            }
        }
        assert_eq!(ids.len() as u64, m["documents"].as_u64().unwrap());
        assert!(with_topic > ids.len() as u64 / 2, "{with_topic} of {} in a topic", ids.len());
        // the rerun left no half-built or old copies beside it
        let leftovers: Vec<_> = std::fs::read_dir(sandbox.path("exports"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".export"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

#[test]
#[cfg_attr(
    not(all(e5_model, shared_data, spark)),
    ignore = "needs the model, the shared data, pyspark and java (tests/spark/install.sh; .ci/run installs them)"
)]
fn spark_reads_the_parquet_export_and_counts_the_same_weekly_topic_sizes_as_polars() {
    let sandbox = store();
    let dir = sandbox.path("exports/parquet");
    let run = ws!(sandbox, "export", "--format", "parquet", "-o", &dir);
    run.expect_code(0);
    let m = manifest(&dir);
    assert!(m["assignments"].as_u64().unwrap() > 1_000, "{m}");
    let python = std::env::var("SPARK_PYTHON")
        .ok()
        .or(option_env!("WEAKSIGNAL_SPARK_PYTHON_AT_BUILD").map(String::from))
        .expect("SPARK_PYTHON");
    let output = Command::new(python)
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/spark/weekly_counts.py"))
        .arg(&dir)
        .output()
        .expect("run pyspark");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "Spark disagrees:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap();
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["only_in_spark"], 0);
    assert_eq!(summary["only_in_polars"], 0);
    assert!(summary["rows_spark"].as_u64().unwrap() > 100, "{summary}");
    assert_eq!(summary["documents"], m["documents"]);
    assert_eq!(summary["topics"], m["topics"]);
}
