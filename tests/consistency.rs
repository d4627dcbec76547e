//! The index is derived from the store: it catches up after a crash, can be
//! rebuilt, and always agrees with the store when a command returns.

mod common;

use chrono::{TimeZone, Utc};
use common::{hit_titles, Sandbox};
use weaksignal::document::{Defaults, DocumentBuilder, RawDate, RawDocument};
use weaksignal::store::Store;

fn doc(id: &str, title: &str) -> weaksignal::document::Document {
    let mut builder = DocumentBuilder::new(
        &Default::default(),
        Defaults {
            fallback_source: Some("lib".into()),
            ..Defaults::default()
        },
        Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
    );
    builder
        .build(RawDocument {
            id: Some(id.into()),
            title: Some(title.into()),
            published: Some(RawDate::Text("2024-06-01".into())),
            lang: Some("en".into()),
            ..RawDocument::default()
        })
        .unwrap()
}

#[test]
fn index_catches_up_with_documents_stored_before_a_crash() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "a.jsonl",
        r#"{"id":"a","title":"Wind farm approved","published":"2024-05-01"}"#,
    );
    ws!(sandbox, "import", sandbox.path("a.jsonl"), "--source", "t").expect_code(0);

    // A store commit whose index commit never happened (the process died in between).
    {
        let mut store = Store::open(&sandbox.data_dir()).unwrap();
        let writer = store.writer().unwrap();
        writer.put(&doc("b", "Solar park delayed")).unwrap();
        writer.commit().unwrap();
    }
    let hits = ws!(sandbox, "search", "solar", "--json");
    assert_eq!(
        hit_titles(&hits.expect_code(0).json()),
        vec!["Solar park delayed"]
    );
    assert_eq!(ws!(sandbox, "search", "*", "--json").json()["total"], 2);
}

#[test]
fn reindex_rebuilds_the_same_index_and_a_deleted_index_comes_back() {
    let sandbox = Sandbox::new();
    let lines: String = (0..500)
        .map(|i| format!("{{\"id\":\"d{i}\",\"title\":\"Headline number {i} about heat pumps\",\"published\":\"2024-01-{:02}\"}}\n", i % 28 + 1))
        .collect();
    sandbox.write("many.jsonl", lines);
    ws!(
        sandbox,
        "import",
        sandbox.path("many.jsonl"),
        "--source",
        "t"
    )
    .expect_code(0);
    let before = ws!(sandbox, "search", "heat", "--json").json()["total"].clone();
    assert_eq!(before, 500);

    let run = ws!(sandbox, "reindex");
    run.expect_code(0);
    assert!(
        run.stdout.contains("reindexed 500 documents"),
        "{}",
        run.stdout
    );
    assert_eq!(
        ws!(sandbox, "search", "heat", "--json").json()["total"],
        before
    );

    std::fs::remove_dir_all(sandbox.data_dir().join("index")).unwrap();
    assert_eq!(
        ws!(sandbox, "search", "heat", "--json").json()["total"],
        before
    );
}

#[test]
fn parquet_files_import_with_typed_dates() {
    use polars::prelude::*;
    let sandbox = Sandbox::new();
    let published = Series::new(
        "julkaistu".into(),
        [1_704_067_200_000i64, 1_704_153_600_000, 1_704_240_000_000],
    )
    .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
    .unwrap();
    let mut frame = DataFrame::new_infer_height(vec![
        published.into(),
        Series::new(
            "otsikko".into(),
            [
                "Sähkön hinta nousee",
                "Lakko alkaa satamissa",
                "Sähkön hinta laskee",
            ],
        )
        .into(),
        Series::new("lang".into(), ["fi", "fi", "fi"]).into(),
    ])
    .unwrap();
    let path = sandbox.path("uutiset.parquet");
    let file = std::fs::File::create(&path).unwrap();
    ParquetWriter::new(file).finish(&mut frame).unwrap();

    let run = ws!(
        sandbox,
        "import",
        &path,
        "--map",
        "published=julkaistu",
        "--map",
        "title=otsikko",
        "--json"
    );
    run.expect_code(0);
    assert_eq!(run.json()[0]["imported"], 3);
    let hits = ws!(sandbox, "search", "lakon", "--json").json();
    assert_eq!(hits["hits"][0]["published"], "2024-01-02T00:00:00Z");
    assert_eq!(hits["hits"][0]["source"], "uutiset");
}

#[test]
fn stats_count_by_source_language_and_month() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "mix.jsonl",
        concat!(
            r#"{"title":"Hallitus kaatui","published":"2024-01-05","source":"yle"}"#,
            "\n",
            r#"{"title":"Government falls after budget vote","published":"2024-01-20","source":"bbc"}"#,
            "\n",
            r#"{"title":"Eduskunta hyväksyi lain","published":"2024-02-01","source":"yle"}"#,
            "\n"
        ),
    );
    ws!(sandbox, "import", sandbox.path("mix.jsonl")).expect_code(0);
    let stats = ws!(sandbox, "stats", "--json").json();
    assert_eq!(stats["documents"], 3);
    assert_eq!(
        stats["by_source"],
        serde_json::json!([["yle", 2], ["bbc", 1]])
    );
    assert_eq!(stats["by_lang"], serde_json::json!([["fi", 2], ["en", 1]]));
    assert_eq!(
        stats["by_month"],
        serde_json::json!([["2024-01", 2], ["2024-02", 1]])
    );
    let human = ws!(sandbox, "stats");
    assert!(human.stdout.contains("3 documents"), "{}", human.stdout);
}
