//! Bad input gets a clear error naming the file, line and reason; the good rows
//! still go in; nothing already stored is ever lost.

mod common;

use common::{hit_titles, Sandbox};

fn count(sandbox: &Sandbox) -> u64 {
    let run = ws!(sandbox, "stats", "--json");
    run.expect_code(0);
    run.json()["documents"].as_u64().unwrap()
}

/// A store with two good documents, to check that later failures lose nothing.
fn seeded() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.write(
        "seed.jsonl",
        concat!(
            r#"{"id":"seed-1","title":"Port strike ends","published":"2024-01-01","source":"s"}"#,
            "\n",
            r#"{"id":"seed-2","title":"Harbour reopens","published":"2024-01-02","source":"s"}"#,
            "\n"
        ),
    );
    ws!(sandbox, "import", sandbox.path("seed.jsonl")).expect_code(0);
    assert_eq!(count(&sandbox), 2);
    sandbox
}

#[test]
fn each_bad_csv_row_is_reported_and_the_good_ones_are_imported() {
    let sandbox = seeded();
    let mut csv = Vec::new();
    csv.extend_from_slice(b"published,title,text\n");
    csv.extend_from_slice(b"2024-02-01,Good one,fine\n"); // line 2
    csv.extend_from_slice(b"2024-02-02,Truncated\n"); // line 3: a field short
    csv.extend_from_slice(b"2024-02-03,Bad \xff\xfe bytes,x\n"); // line 4: invalid UTF-8
    csv.extend_from_slice(b",No date,x\n"); // line 5
    csv.extend_from_slice(b"2999-01-01,From the future,x\n"); // line 6
    csv.extend_from_slice(b"2024-02-04,,\n"); // line 7: empty
    csv.extend_from_slice(b"2024-02-05,Huge,"); // line 8: a 50 MB field
    csv.extend(std::iter::repeat_n(b'a', 50 * 1024 * 1024));
    csv.extend_from_slice(b"\n");
    csv.extend_from_slice(b"someday,Bad date,x\n"); // line 9
    csv.extend_from_slice(b"2024-02-06,Good two,fine\n"); // line 10
    sandbox.write("bad.csv", &csv);

    let run = ws!(
        sandbox,
        "import",
        sandbox.path("bad.csv"),
        "--source",
        "bad",
        "--json"
    );
    run.expect_code(1);
    let summary = &run.json()[0];
    assert_eq!(summary["imported"], 2, "{summary}");
    assert_eq!(summary["rejected"], 7, "{summary}");
    let reasons: Vec<(u64, String)> = summary["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect = [
        (3, "fields but the header has"),
        (4, "invalid UTF-8"),
        (5, "no publication date"),
        (6, "in the future"),
        (7, "no title and no text"),
        (8, "over the limit"),
        (9, "not in a known format"),
    ];
    for (line, words) in expect {
        assert!(
            reasons.iter().any(|(l, r)| *l == line && r.contains(words)),
            "line {line} should be rejected with {words:?}; got {reasons:#?}"
        );
    }
    assert!(
        run.stderr.contains("bad.csv"),
        "the file is named: {}",
        run.stderr
    );
    assert_eq!(count(&sandbox), 4, "the two seeds and the two good rows");
}

#[test]
fn a_csv_with_the_wrong_columns_is_refused_before_anything_is_written() {
    let sandbox = seeded();
    sandbox.write("wrong.csv", "when,headline\n2024-01-01,x\n");
    let run = ws!(sandbox, "import", sandbox.path("wrong.csv"));
    run.expect_code(2);
    assert!(run.stderr.contains("wrong.csv"), "{}", run.stderr);
    assert!(
        run.stderr.contains("--map published="),
        "tells how to fix it: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("[\"when\", \"headline\"]"),
        "lists the columns found: {}",
        run.stderr
    );
    assert_eq!(count(&sandbox), 2);
}

#[test]
fn jsonl_truncated_and_malformed_lines() {
    let sandbox = seeded();
    sandbox.write(
        "bad.jsonl",
        concat!(
            r#"{"title":"Fine","published":"2024-03-01"}"#,
            "\n",
            "not json at all\n",
            r#"["an","array"]"#,
            "\n",
            r#"{"title":{"nested":true},"published":"2024-03-01"}"#,
            "\n",
            "\n",
            r#"{"title":"Unix time","published":1709251200}"#,
            "\n",
            r#"{"title":"Cut off","publ"#
        ),
    );
    let run = ws!(
        sandbox,
        "import",
        sandbox.path("bad.jsonl"),
        "--source",
        "j",
        "--json"
    );
    run.expect_code(1);
    let summary = &run.json()[0];
    assert_eq!(summary["imported"], 2, "{summary}");
    assert_eq!(summary["rejected"], 4, "{summary}");
    let lines: Vec<u64> = summary["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, vec![2, 3, 4, 7]);
    assert_eq!(count(&sandbox), 4);
}

#[test]
fn strict_rejects_the_whole_file_and_leaves_the_store_untouched() {
    let sandbox = seeded();
    sandbox.write(
        "mixed.jsonl",
        concat!(
            r#"{"title":"Good","published":"2024-03-01"}"#,
            "\n",
            r#"{"title":"No date"}"#,
            "\n"
        ),
    );
    let run = ws!(
        sandbox,
        "import",
        sandbox.path("mixed.jsonl"),
        "--strict",
        "--json"
    );
    run.expect_code(1);
    assert_eq!(run.json()[0]["rolled_back"], true);
    assert_eq!(count(&sandbox), 2);
    let hits = ws!(sandbox, "search", "good", "--json");
    assert_eq!(
        hits.expect_code(0).json()["total"],
        0,
        "the index was rolled back too"
    );
}

#[test]
fn the_same_id_with_new_content_keeps_the_later_fetch() {
    let sandbox = seeded();
    let write = |name: &str, title: &str, fetched: &str| {
        sandbox.write(
            name,
            format!(r#"{{"id":"seed-1","title":"{title}","published":"2024-01-01","source":"s","fetched_at":"{fetched}"}}"#),
        )
    };
    // Older fetch than the seed (fetched at import time, now): the stored one is kept.
    let old = write("old.jsonl", "Stale version", "2020-01-01T00:00:00Z");
    let run = ws!(sandbox, "import", old, "--json");
    run.expect_code(0);
    assert_eq!(run.json()[0]["duplicates"], 1);
    assert_eq!(ws!(sandbox, "search", "stale", "--json").json()["total"], 0);

    // A newer fetch replaces it, in the store and in the index.
    let new = write("new.jsonl", "Corrected headline", "2099-01-01T00:00:00Z");
    let run = ws!(sandbox, "import", new, "--json");
    run.expect_code(0);
    assert_eq!(run.json()[0]["updated"], 1);
    let hits = ws!(sandbox, "search", "corrected", "--json").json();
    assert_eq!(hit_titles(&hits), vec!["Corrected headline"]);
    assert_eq!(
        ws!(sandbox, "search", "\"port strike\"", "--json").json()["total"],
        0
    );
    assert_eq!(count(&sandbox), 2);
}

#[test]
fn usage_and_config_errors_exit_2_and_name_the_problem() {
    let sandbox = Sandbox::new();
    let run = ws!(sandbox, "import", sandbox.path("missing.csv"));
    run.expect_code(2);
    assert!(run.stderr.contains("missing.csv"), "{}", run.stderr);

    sandbox.write("config.toml", "[import]\nbatch_sise = 10\n");
    let run = ws!(sandbox, "stats");
    run.expect_code(2);
    assert!(run.stderr.contains("batch_sise"), "{}", run.stderr);

    std::fs::remove_file(sandbox.path("config.toml")).unwrap();
    sandbox.write("x.csv", "published,title\n2024-01-01,x\n");
    let run = ws!(
        sandbox,
        "import",
        sandbox.path("x.csv"),
        "--map",
        "date=published"
    );
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("valid fields: id, url, source, published"),
        "{}",
        run.stderr
    );

    let run = ws!(sandbox, "search", "x", "--from", "yesterday");
    run.expect_code(2);
    assert!(run.stderr.contains("yesterday"), "{}", run.stderr);
}
