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
    let output = Command::new(spark_python())
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

/// The Spark job's Python (tests/spark/install.sh's venv).
fn spark_python() -> String {
    std::env::var("SPARK_PYTHON")
        .ok()
        .or(option_env!("WEAKSIGNAL_SPARK_PYTHON_AT_BUILD").map(String::from))
        .expect("SPARK_PYTHON")
}

/// Runs pipelines/spark/embed.py in local mode over the export `dir` into
/// `out`, shipping the binary, the model and the sandbox's config; returns its summary.
fn spark_embed(
    sandbox: &Sandbox,
    dir: &std::path::Path,
    out: &std::path::Path,
    extra: &[&str],
) -> serde_json::Value {
    let output = Command::new(spark_python())
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/spark/embed.py"))
        .arg(dir)
        .arg(out)
        .args(["--binary", env!("CARGO_BIN_EXE_weaksignal")])
        .arg("--model-dir")
        .arg(common::model_dir())
        .arg("--config")
        .arg(sandbox.path("config.toml"))
        .args(["--master", "local[2]"])
        .args(extra)
        .output()
        .expect("run pyspark");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the Spark embedding failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap()
}

/// Every vector under `dir` (Parquet files, any layout): id to (model, content hash, vector).
fn read_vectors(
    dir: &std::path::Path,
) -> std::collections::HashMap<String, (String, String, Vec<f32>)> {
    use polars::prelude::{DataType, ParquetReader, SerReader};
    let files = weaksignal::embed::import::vector_files(dir).expect("vector files");
    let mut out = std::collections::HashMap::new();
    for file in files {
        let frame = ParquetReader::new(std::fs::File::open(&file).unwrap())
            .finish()
            .unwrap();
        let text = |name: &str| -> Vec<String> {
            let s = frame.column(name).unwrap().as_materialized_series().clone();
            s.str()
                .unwrap()
                .iter()
                .map(|v| v.unwrap().to_string())
                .collect()
        };
        let (ids, models, hashes) = (text("id"), text("model"), text("content_hash"));
        let vectors = frame
            .column("vector")
            .unwrap()
            .as_materialized_series()
            .cast(&DataType::List(Box::new(DataType::Float32)))
            .unwrap();
        let lists = vectors.list().unwrap();
        for (i, list) in lists.amortized_iter().enumerate() {
            let v: Vec<f32> = list
                .unwrap()
                .as_ref()
                .f32()
                .unwrap()
                .iter()
                .map(|x| x.unwrap())
                .collect();
            let previous = out.insert(ids[i].clone(), (models[i].clone(), hashes[i].clone(), v));
            assert!(previous.is_none(), "{} twice in {}", ids[i], dir.display());
        }
    }
    out
}

/// 2,012 real documents: the Guardian headlines of December 2019 to
/// February 2020 (1,600) and every 10th Yle selkouutiset story (412, Finnish
/// title and text, 2023-2026) when `yle` is set. Returns the count imported.
fn backfill_corpus(sandbox: &Sandbox, yle: bool) -> usize {
    if !sandbox.path("config.toml").exists() {
        write_config(sandbox, "");
        let rows = guardian_rows(sandbox, "guardian.csv", (2019, 12, 1), (2020, 2, 29));
        import_guardian(sandbox, "guardian.csv").expect_code(0);
        if !yle {
            return rows;
        }
    }
    let mut reader = csv::Reader::from_path(common::yle_csv()).expect("yle csv");
    let mut writer = csv::Writer::from_path(sandbox.path("yle.csv")).unwrap();
    writer
        .write_record(["date", "title_fi", "text_fi"])
        .unwrap();
    let mut rows = 0;
    for (i, record) in reader
        .deserialize::<std::collections::HashMap<String, String>>()
        .enumerate()
    {
        let record = record.expect("a Yle row");
        if i % 10 == 0 {
            writer
                .write_record([&record["date"], &record["title_fi"], &record["text_fi"]])
                .unwrap();
            rows += 1;
        }
    }
    writer.flush().unwrap();
    common::import_yle_file(sandbox, &sandbox.path("yle.csv")).expect_code(0);
    rows
}

#[test]
#[cfg_attr(
    not(all(e5_model, shared_data, spark)),
    ignore = "needs the model, the shared data, pyspark and java (tests/spark/install.sh; .ci/run installs them)"
)]
fn spark_embeds_an_export_like_weaksignal_and_import_vectors_loads_what_still_fits() {
    // Store A: the Guardian headlines embedded here, then Yle stories not yet.
    let a = Sandbox::new();
    let guardian = backfill_corpus(&a, false);
    ws!(a, "-q", "embed").expect_code(0);
    let yle = backfill_corpus(&a, true);
    let total = guardian + yle;
    assert!(total >= 2_000, "{total} documents");
    // --documents-only embeds nothing first: the Yle stories leave without vectors.
    let partial = a.path("exports/partial");
    ws!(
        a,
        "-q",
        "export",
        "--format",
        "parquet",
        "--documents-only",
        "-o",
        &partial
    )
    .expect_code(0);
    assert_eq!(manifest(&partial)["documents"], total as u64);

    // By default the job embeds only the documents the export has no vector for.
    let missing = spark_embed(&a, &partial, &a.path("spark-missing"), &[]);
    assert_eq!(missing["ok"], true, "{missing}");
    assert_eq!(missing["documents"], total as u64, "{missing}");
    assert_eq!(missing["embedded"], yle as u64, "{missing}");
    assert_eq!(missing["partitions"], 2, "{missing}");

    // Every document, against `weaksignal embed`'s vectors of the same store.
    let all = spark_embed(&a, &partial, &a.path("spark-all"), &["--all"]);
    assert_eq!(all["embedded"], total as u64, "{all}");
    ws!(a, "-q", "embed").expect_code(0);
    let full = a.path("exports/full");
    ws!(a, "-q", "export", "--format", "parquet", "-o", &full).expect_code(0);
    let model = manifest(&full)["model"].as_str().unwrap().to_string();
    assert_eq!(all["model"], model.as_str());
    let local = read_vectors(&full.join("vectors"));
    let spark = read_vectors(&a.path("spark-all/vectors"));
    assert_eq!(local.len(), total);
    assert_eq!(spark.len(), total);
    let mut worst = (1.0f32, String::new());
    for (id, (m, hash, v)) in &spark {
        let (_, local_hash, w) = local
            .get(id)
            .unwrap_or_else(|| panic!("{id} only from Spark"));
        assert_eq!(m, &model);
        assert_eq!(hash, local_hash, "{id}");
        let cosine: f32 = v.iter().zip(w).map(|(x, y)| x * y).sum::<f32>()
            / (v.iter().map(|x| x * x).sum::<f32>().sqrt()
                * w.iter().map(|x| x * x).sum::<f32>().sqrt());
        if cosine < worst.0 {
            worst = (cosine, id.clone());
        }
    }
    eprintln!(
        "spark vs weaksignal embed: {total} documents, lowest cosine {:.6} ({})",
        worst.0, worst.1
    );
    assert!(worst.0 >= 0.9999, "lowest cosine {} ({})", worst.0, worst.1);
    // Spark wrote the export's layout: month=YYYY-MM partitions of `published`.
    // ...and the default run embedded exactly those without a vector.
    let had = read_vectors(&partial.join("vectors"));
    let embedded_missing = read_vectors(&a.path("spark-missing/vectors"));
    assert_eq!(had.len(), guardian);
    assert!(embedded_missing
        .keys()
        .all(|id| !had.contains_key(id) && local.contains_key(id)));
    for month in ["2019-12", "2020-01", "2020-02"] {
        assert!(
            a.path(&format!("spark-all/vectors/month={month}")).is_dir(),
            "month={month}"
        );
    }

    // Store B: the same documents, one changed since; Spark's vectors of
    // December 2019 are not brought along.
    let b = Sandbox::new();
    backfill_corpus(&b, false);
    backfill_corpus(&b, true);
    let hit = &ws!(b, "search", "coronavirus", "--json", "--limit", "1")
        .expect_code(0)
        .json()["hits"][0];
    let changed = serde_json::json!({
        "id": hit["id"], "source": "guardian", "lang": "en", "published": hit["published"],
        "title": format!("{} (corrected)", hit["title"].as_str().unwrap()),
    });
    b.write("changed.jsonl", format!("{changed}\n"));
    ws!(b, "-q", "import", "changed.jsonl").expect_code(0);
    std::fs::remove_dir_all(a.path("spark-all/vectors/month=2019-12")).unwrap();
    let december = total - read_vectors(&a.path("spark-all/vectors")).len();
    assert!(december > 100, "{december} December vectors");
    let dir = a.path("spark-all");
    let first = ws!(b, "import-vectors", &dir, "--json")
        .expect_code(0)
        .json();
    assert_eq!(first["imported"], (total - december - 1) as u64, "{first}");
    assert_eq!(first["skipped_changed"], 1, "{first}");
    assert_eq!(first["skipped_missing"], 0, "{first}");
    assert_eq!(first["rejected"], 0, "{first}");
    let again = ws!(b, "import-vectors", &dir, "--json")
        .expect_code(0)
        .json();
    assert_eq!(again["imported"], 0, "{again}");
    assert_eq!(again["already"], first["imported"], "{again}");
    assert_eq!(again["skipped_changed"], 1, "{again}");
    let embedded = ws!(b, "embed", "--json").expect_code(0).json();
    assert_eq!(embedded["embedded"], (december + 1) as u64, "{embedded}");
    // A directory of other Parquet files is an error naming the file and the missing column.
    let wrong = ws!(b, "import-vectors", full.join("documents"));
    wrong.expect_code(2);
    assert!(
        wrong.stderr.contains("part-0.parquet") && wrong.stderr.contains("no \"model\" column"),
        "{}",
        wrong.stderr
    );
}

model_test! {
    /// Vectors of another precision (another model id) are rejected, each
    /// named, with exit code 1; the store's own export imports as "already
    /// there"; a bad document line for `embed-text --documents` names its line.
    fn import_vectors_rejects_another_model_and_keeps_its_own() {
        let sandbox = store();
        let dir = sandbox.path("exports/own-vectors");
        ws!(sandbox, "-q", "export", "--format", "parquet", "--documents-only", "-o", &dir).expect_code(0);
        let documents = manifest(&dir)["documents"].as_u64().unwrap();
        let own = ws!(sandbox, "import-vectors", &dir, "--json").expect_code(0).json();
        assert_eq!(own["already"], documents, "{own}");
        assert_eq!(own["imported"], 0, "{own}");
        sandbox.write(
            "f32.toml",
            format!("[model]\npath = {:?}\nprecision = \"f32\"\n", common::model_dir().display().to_string()),
        );
        let other = ws!(sandbox, "--config", "f32.toml", "import-vectors", &dir, "--json");
        let summary = other.expect_code(1).json();
        assert_eq!(summary["rejected"], documents, "{summary}");
        assert_eq!(summary["imported"], 0, "{summary}");
        let first = summary["rejections"][0].as_str().unwrap();
        assert!(first.contains("part-0.parquet row 1") && first.contains(":int8\", but the store's vectors are") && first.contains(":f32"), "{first}");
        let bad = sandbox.run_with_stdin(
            &["embed-text", "--documents"],
            "{\"id\": \"a\", \"title\": \"Fine\", \"text\": \"\"}\nnot json\n",
        );
        bad.expect_code(2);
        assert!(bad.stderr.contains("line 2") && bad.stderr.contains("\"id\""), "{}", bad.stderr);
    }
}
