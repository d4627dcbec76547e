//! Import real corpora, then search them: counts, duplicates, date filters,
//! Finnish inflection, and the exit codes of each case.

mod common;

use std::collections::HashSet;

use common::{guardian_csv, hit_titles, yle_csv, Sandbox};

/// Valid rows of the Guardian file, counted independently of weaksignal:
/// a `D-Mon-YY` date (the 40 `Apr-18` rows name no day) and a headline.
fn guardian_expected() -> (u64, u64, u64) {
    let mut reader = csv::Reader::from_path(guardian_csv()).unwrap();
    let (mut rows, mut rejected) = (0, 0);
    let mut distinct = HashSet::new();
    for record in reader.records() {
        let record = record.unwrap();
        rows += 1;
        let time = record[0].trim();
        let parts: Vec<&str> = time.split('-').collect();
        if parts.len() != 3 {
            rejected += 1;
            continue;
        }
        distinct.insert((time.to_string(), record[1].trim().to_string()));
    }
    (rows, distinct.len() as u64, rejected)
}

fn import_guardian(sandbox: &Sandbox) -> serde_json::Value {
    let run = ws!(
        sandbox,
        "import",
        guardian_csv(),
        "--source",
        "guardian",
        "--lang",
        "en",
        "--map",
        "published=Time",
        "--map",
        "title=Headlines",
        "--json"
    );
    // The month-only rows are rejected, so the exit code is 1 (partial).
    run.expect_code(1);
    assert!(
        run.stderr.contains("names a month but no day"),
        "rejections are reported with their reason:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("line="),
        "rejections name their line:\n{}",
        run.stderr
    );
    run.json()[0].clone()
}

fn import_yle(sandbox: &Sandbox) -> serde_json::Value {
    let run = ws!(
        sandbox,
        "import",
        yle_csv(),
        "--source",
        "yle",
        "--map",
        "published=date",
        "--map",
        "title=title_fi",
        "--map",
        "text=text_fi",
        "--json"
    );
    run.expect_code(0);
    run.json()[0].clone()
}

fn search(sandbox: &Sandbox, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["search", "--json"];
    all.extend_from_slice(args);
    let run = sandbox.run(&all);
    run.expect_code(0);
    run.json()
}

shared_test! {
    fn guardian_counts_match_the_file_and_reimport_is_idempotent() {
        let sandbox = Sandbox::new();
        let (rows, distinct, rejected) = guardian_expected();
        assert_eq!((rows, rejected), (17_800, 40), "the corpus changed?");
        let summary = import_guardian(&sandbox);
        assert_eq!(summary["rows"], rows);
        assert_eq!(summary["imported"], distinct);
        assert_eq!(summary["rejected"], rejected);
        assert_eq!(summary["duplicates"], rows - rejected - distinct);

        let stats = ws!(sandbox, "stats", "--json");
        stats.expect_code(0);
        assert_eq!(stats.json()["documents"], distinct);

        // The same file again: nothing new, everything a duplicate, nothing lost.
        let again = import_guardian(&sandbox);
        assert_eq!(again["imported"], 0);
        assert_eq!(again["duplicates"], rows - rejected);
        assert_eq!(ws!(sandbox, "stats", "--json").json()["documents"], distinct);
        let total = search(&sandbox, &["*", "--limit", "1"])["total"].clone();
        assert_eq!(total, distinct, "the index agrees with the store");
    }
}

shared_test! {
    fn known_headlines_are_found_and_date_filters_work() {
        let sandbox = Sandbox::new();
        import_guardian(&sandbox);

        let hits = search(&sandbox, &["\"Johnson is asking Santa for a Christmas recovery\""]);
        assert_eq!(hit_titles(&hits)[0], "Johnson is asking Santa for a Christmas recovery");
        assert_eq!(hits["hits"][0]["published"], "2020-07-18T00:00:00Z");
        assert!(hits["hits"][0]["snippet"].as_str().unwrap().contains("<b>"), "{hits}");

        // The first coronavirus headlines are from 21 January 2020.
        let before = search(&sandbox, &["coronavirus", "--to", "2020-01-20"]);
        assert_eq!(before["total"], 0, "{before}");
        let january = search(&sandbox, &["coronavirus", "--from", "2020-01-21", "--to", "2020-01-31", "--limit", "100"]);
        let total = january["total"].as_u64().unwrap();
        assert!(total >= 5, "{january}");
        for hit in january["hits"].as_array().unwrap() {
            let published = hit["published"].as_str().unwrap();
            assert!(("2020-01-21".."2020-02-01").contains(&published), "{published} outside the range");
        }
        assert!(hit_titles(&january).iter().any(|t| t == "European shares dip as Chinese coronavirus concerns deepen"));

        // English stemming: "shares" finds "share".
        let stemmed = search(&sandbox, &["title:share", "--limit", "1000"]);
        assert!(hit_titles(&stemmed).iter().any(|t| t.to_lowercase().contains("shares")));

        // Boolean syntax and source filter.
        let both = search(&sandbox, &["brexit AND deal", "--source", "guardian"])["total"].as_u64().unwrap();
        let either = search(&sandbox, &["brexit OR deal"])["total"].as_u64().unwrap();
        let without = search(&sandbox, &["brexit -deal"])["total"].as_u64().unwrap();
        let brexit = search(&sandbox, &["brexit"])["total"].as_u64().unwrap();
        assert!(both > 0 && both < either && without + both == brexit, "{both} {either} {without} {brexit}");
        assert_eq!(search(&sandbox, &["brexit", "--source", "nobody"])["total"], 0);
    }
}

shared_test! {
    fn finnish_search_finds_inflected_forms() {
        let sandbox = Sandbox::new();
        let summary = import_yle(&sandbox);
        assert_eq!(summary["rows"], 4115);
        assert_eq!(summary["imported"], 4115);

        let words = |text: &str| -> HashSet<String> {
            text.to_lowercase()
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(String::from)
                .collect()
        };
        // Stories that say "lakon" or "lakkoon" but never "lakko" itself.
        let mut reader = csv::Reader::from_path(yle_csv()).unwrap();
        let mut only_inflected = Vec::new();
        for record in reader.records() {
            let record = record.unwrap();
            let w = words(&format!("{} {}", &record[2], &record[3]));
            for form in ["lakon", "lakkoon"] {
                if w.contains(form) && !w.contains("lakko") {
                    only_inflected.push((form, record[2].trim().to_string()));
                }
            }
        }
        assert!(only_inflected.iter().any(|(f, _)| *f == "lakon"));
        assert!(only_inflected.iter().any(|(f, _)| *f == "lakkoon"));

        let hits = search(&sandbox, &["lakko", "--lang", "fi", "--limit", "1000"]);
        let titles: HashSet<String> = hit_titles(&hits).into_iter().collect();
        for (form, title) in &only_inflected {
            assert!(titles.contains(title), "'lakko' did not find {title:?}, which says {form:?}");
        }
        assert_eq!(search(&sandbox, &["lakko", "--lang", "en"])["total"], 0);
    }
}

#[test]
fn malformed_query_exits_2_with_the_parser_message() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "one.jsonl",
        r#"{"title":"A headline","published":"2024-01-01"}"#,
    );
    ws!(
        sandbox,
        "import",
        sandbox.path("one.jsonl"),
        "--source",
        "t"
    )
    .expect_code(0);
    for query in ["title:(foo", "\"unclosed", "nosuchfield:x"] {
        let run = ws!(sandbox, "search", query);
        run.expect_code(2);
        assert!(
            run.stderr.contains("invalid query"),
            "{query}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
}
