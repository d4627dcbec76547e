//! Topics, trends and signals on real corpora: COVID-19 in the Guardian
//! headlines, exact as-of replays, backtests, and crisis onsets in CrisisLex.
//!
//! Each corpus is imported and embedded once per test binary (a shared
//! sandbox); the tests only read it. They need the model and the shared data
//! and are ignored, with the reason, without them.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::{guardian_rows, import_guardian, model_dir, shared, Sandbox};

fn prepare(sandbox: &Sandbox) {
    sandbox.write(
        "config.toml",
        format!("[model]\npath = {:?}\n", model_dir().display().to_string()),
    );
}

/// Guardian headlines from June 2019 to April 2020, imported and embedded.
fn guardian() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        let sandbox = Sandbox::new();
        prepare(&sandbox);
        let rows = guardian_rows(&sandbox, "guardian.csv", (2019, 6, 1), (2020, 4, 30));
        assert!(rows > 4_000, "{rows} Guardian rows in range");
        import_guardian(&sandbox, "guardian.csv").expect_code(0);
        ws!(sandbox, "-q", "embed").expect_code(0);
        sandbox
    })
}

fn signals(sandbox: &Sandbox, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["-q", "signals", "--json"];
    all.extend_from_slice(args);
    sandbox.run(&all).expect_code(0).json()
}

fn mentions(signal: &serde_json::Value, words: &[&str]) -> bool {
    signal["keywords"].as_array().unwrap().iter().any(|k| {
        words
            .iter()
            .any(|w| k.as_str().unwrap().to_lowercase().contains(w))
    })
}

const COVID: &[&str] = &["coronavirus", "covid", "virus", "wuhan", "pandemic"];

model_test! {
    /// The quality bar: as of 2020-01-31 a coronavirus topic is among
    /// the top 10 weak or emerging signals; as of 2020-03-31 it is strong.
    fn covid_is_weak_or_emerging_in_january_and_strong_by_the_end_of_march() {
        let sandbox = guardian();
        let january = signals(sandbox, &["--as-of", "2020-01-31", "--class", "weak,emerging", "--level", "topic", "--limit", "10"]);
        let top: Vec<&serde_json::Value> = january["signals"].as_array().unwrap().iter().collect();
        assert!(
            top.iter().any(|s| mentions(s, COVID)),
            "no coronavirus topic among the top 10 weak/emerging signals as of 2020-01-31:\n{}",
            serde_json::to_string_pretty(&january).unwrap()
        );
        let march = signals(sandbox, &["--as-of", "2020-03-31", "--level", "topic", "--limit", "50"]);
        let strong: Vec<&serde_json::Value> = march["signals"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["class"] == "strong")
            .collect();
        assert!(
            strong.iter().any(|s| mentions(s, COVID)),
            "no strong coronavirus signal as of 2020-03-31:\n{}",
            serde_json::to_string_pretty(&march["signals"]).unwrap()
        );
    }
}

model_test! {
    /// Every signal has the documented JSON shape and evidence behind it.
    fn signals_json_has_the_documented_shape_and_evidence() {
        let report = signals(guardian(), &["--as-of", "2020-02-29", "--limit", "30"]);
        assert_eq!(report["as_of"], "2020-02-29T23:59:59Z");
        assert_eq!(report["window"], "week");
        let list = report["signals"].as_array().unwrap();
        assert!(!list.is_empty());
        let mut last = f64::INFINITY;
        for s in list {
            for key in ["id", "class", "label", "keywords", "score", "growth", "visibility", "diffusion", "docs", "sources", "first_seen", "timeline", "examples", "found_by", "why"] {
                assert!(!s[key].is_null(), "signal lacks {key}: {s}");
            }
            let score = s["score"].as_f64().unwrap();
            assert!(score <= last, "not ordered by score");
            last = score;
            assert!(["weak", "emerging", "strong", "fading"].contains(&s["class"].as_str().unwrap()), "{s}");
            assert_eq!(s["timeline"].as_array().unwrap().len(), 26);
            assert!(!s["examples"].as_array().unwrap().is_empty(), "no evidence: {s}");
            for e in s["examples"].as_array().unwrap() {
                assert!(e["published"].as_str().unwrap() <= "2020-02-29T23:59:59Z", "a document from after the as-of date: {e}");
            }
            assert!(s["why"].as_str().unwrap().starts_with(s["class"].as_str().unwrap()));
        }
        let levels: Vec<&str> = list.iter().map(|s| s["level"].as_str().unwrap()).collect();
        assert!(levels.contains(&"topic"), "{levels:?}");
    }
}

model_test! {
    /// `--as-of` replays exactly: the store with later documents deleted gives
    /// the same signals and topics as the full store asked about the past.
    fn as_of_replays_exactly_what_a_run_on_that_date_would_have_seen() {
        let full = guardian();
        let past = Sandbox::new();
        prepare(&past);
        copy_dir(&full.data_dir(), &past.data_dir());
        let cut = chrono::DateTime::parse_from_rfc3339("2020-01-15T23:59:59Z").unwrap().timestamp();
        let conn = rusqlite::Connection::open(past.data_dir().join("weaksignal.sqlite")).unwrap();
        let gone = conn
            .execute("DELETE FROM documents WHERE published > ?1", [cut])
            .unwrap();
        assert!(gone > 1_000, "{gone}");
        conn.execute("DELETE FROM vectors WHERE doc_id NOT IN (SELECT id FROM documents)", []).unwrap();
        drop(conn);
        for command in [["signals", "--limit", "100"], ["topics", "--limit", "1000"]] {
            let mut args = vec!["-q", command[0], "--json", "--as-of", "2020-01-15"];
            args.extend_from_slice(&command[1..]);
            let then = past.run(&args).expect_code(0).json();
            let now = full.run(&args).expect_code(0).json();
            assert_eq!(then, now, "{} as of 2020-01-15 differs between the past and the full store", command[0]);
        }
        // and the same input gives the same output
        let again = full.run(&["-q", "signals", "--json", "--as-of", "2020-01-15", "--limit", "100"]).json();
        let first = full.run(&["-q", "signals", "--json", "--as-of", "2020-01-15", "--limit", "100"]).json();
        assert_eq!(again, first);
    }
}

/// Copies a data directory. The store is copied with `VACUUM INTO`, a
/// consistent snapshot even while other tests save checkpoints into it.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let target = to.join(&name);
        if name.to_string_lossy().starts_with("weaksignal.sqlite") {
            if name == "weaksignal.sqlite" {
                let conn = rusqlite::Connection::open(entry.path()).unwrap();
                conn.execute("VACUUM INTO ?1", [target.to_str().unwrap()])
                    .unwrap();
            }
        } else if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

model_test! {
    /// A run that starts from a saved clustering checkpoint gives exactly
    /// what clustering from the first window gives: after a day of new
    /// documents, after a late document in an already checkpointed window,
    /// and as of past dates.
    fn checkpointed_runs_equal_runs_from_the_first_window() {
        let sandbox = Sandbox::new();
        prepare(&sandbox);
        copy_dir(&guardian().data_dir(), &sandbox.data_dir());
        let store = sandbox.data_dir().join("weaksignal.sqlite");
        let conn = rusqlite::Connection::open(&store).unwrap();
        let at = |date: &str| {
            chrono::DateTime::parse_from_rfc3339(&format!("{date}T23:59:59Z")).unwrap().timestamp()
        };
        conn.execute_batch("DELETE FROM checkpoints; CREATE TABLE held AS SELECT * FROM documents;")
            .unwrap();
        let held = conn
            .execute("DELETE FROM documents WHERE published > ?1", [at("2020-01-20")])
            .unwrap();
        assert!(held > 1_000, "{held}");
        let bring_back = |to: i64| {
            conn.execute(
                "INSERT INTO documents SELECT * FROM held WHERE published <= ?1 AND id NOT IN (SELECT id FROM documents)",
                [to],
            )
            .unwrap()
        };
        let same = |what: &str, args: &[&str]| {
            let mut checkpointed = vec!["-v", args[0], "--json"];
            checkpointed.extend_from_slice(&args[1..]);
            let run = sandbox.run(&checkpointed);
            run.expect_code(0);
            let mut scratch = checkpointed.clone();
            scratch[0] = "-q";
            scratch.push("--from-scratch");
            assert_eq!(
                run.json(),
                sandbox.run(&scratch).expect_code(0).json(),
                "{what}: {args:?} from a checkpoint differs from a run from the first window"
            );
            run.stderr.contains("from_checkpoint=Some(")
        };
        // The first run saves checkpoints; it has none to start from.
        assert!(!same("first run", &["signals", "--limit", "200"]));
        let saved: i64 = conn.query_row("SELECT COUNT(*) FROM checkpoints", [], |r| r.get(0)).unwrap();
        assert!(saved >= 3, "{saved} checkpoints saved");
        // One more day of documents: the run starts from the newest checkpoint.
        assert!(bring_back(at("2020-01-21")) > 5);
        assert!(same("a day later", &["signals", "--limit", "200"]));
        assert!(same("a day later", &["topics", "--limit", "2000"]));
        // A late document in a checkpointed window invalidates the checkpoints after it.
        conn.execute(
            "INSERT INTO documents SELECT seq + 1000000, id || '-late', source, url, title, text, published, fetched_at, lang, content_hash
             FROM documents WHERE published <= ?1 ORDER BY published DESC LIMIT 1",
            [at("2020-01-08")],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO vectors SELECT doc_id || '-late', model, content_hash, vec FROM vectors
             WHERE doc_id || '-late' IN (SELECT id FROM documents)",
            [],
        )
        .unwrap();
        assert!(same("a late document", &["signals", "--limit", "200"]));
        // Everything, then past dates (a grid checkpoint or none before them).
        assert!(bring_back(i64::MAX) > 1_000);
        same("everything", &["signals", "--limit", "200"]);
        for date in ["2019-12-01", "2020-03-31"] {
            same(date, &["signals", "--as-of", date, "--limit", "200"]);
            same(date, &["topics", "--as-of", date, "--limit", "2000"]);
        }
        assert!(same("again", &["signals", "--as-of", "2020-03-31", "--limit", "200"]));
    }
}

model_test! {
    /// The backtest finds COVID-19 in January 2020, by topics no later than by
    /// terms, and with no more unmatched topic flags than term flags.
    fn backtest_flags_covid_in_january_by_topics_no_later_than_by_terms() {
        let events = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pipelines/events/guardian.toml");
        let run = guardian()
            .run(&["-q", "backtest", "--from", "2020-01-01", "--to", "2020-02-15", "--step", "day", "--json", "--events", events.to_str().unwrap()])
            .expect_code(0)
            .json();
        let covid = run["events"].as_array().unwrap().iter().find(|e| e["name"] == "COVID-19").unwrap();
        let topic = covid["topic"]["as_of"].as_str().unwrap_or_else(|| panic!("topics never flagged COVID-19: {covid}"));
        let term = covid["term"]["as_of"].as_str().unwrap_or("9999");
        eprintln!("COVID-19 first flagged by topics {topic}, by terms {term}");
        assert!(topic < "2020-02-01", "topics flagged COVID-19 only on {topic}");
        assert!(topic <= term, "topics ({topic}) later than terms ({term})");
        let steps = run["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 46);
        let sum = |k: &str| steps.iter().map(|s| s[k].as_u64().unwrap()).sum::<u64>();
        eprintln!(
            "unmatched flags over {} days: topics {}, terms {}",
            steps.len(),
            sum("unmatched_topics"),
            sum("unmatched_terms")
        );
        assert!(sum("unmatched_topics") <= sum("unmatched_terms"));
    }
}

model_test! {
    /// `topics` lists labelled topics with timelines; `topic ID` shows one with its documents.
    fn topics_and_topic_show_labels_timelines_and_documents() {
        let sandbox = guardian();
        let topics = sandbox.run(&["-q", "topics", "--json", "--as-of", "2020-03-31", "--limit", "20"]).expect_code(0).json();
        let figures = &topics["figures"];
        let outliers = figures["outlier_share"].as_f64().unwrap();
        let coherence = figures["coherence"].as_f64().unwrap();
        let random = figures["random_pair_similarity"].as_f64().unwrap();
        eprintln!("topics figures: {figures}");
        assert!(outliers < 0.30, "{outliers} of documents are outliers");
        assert!(coherence > random + 0.03, "topics ({coherence}) barely more coherent than random pairs ({random})");
        let list = topics["topics"].as_array().unwrap();
        assert_eq!(list.len(), 20);
        let first = &list[0];
        assert!(!first["keywords"].as_array().unwrap().is_empty(), "{first}");
        assert_eq!(first["examples"].as_array().unwrap().len(), 3);
        let id = first["id"].as_u64().unwrap().to_string();
        let one = sandbox.run(&["-q", "topic", &id, "--json", "--as-of", "2020-03-31"]).expect_code(0).json();
        assert_eq!(one["topic"]["id"], first["id"]);
        assert!(one["documents"].as_array().unwrap().len() as u64 >= first["recent_docs"].as_u64().unwrap());
        let text = sandbox.run(&["topic", &format!("topic-{id}"), "--as-of", "2020-03-31"]).expect_code(0).stdout.clone();
        assert!(text.contains("keywords:"), "{text}");
        let missing = sandbox.run(&["topic", "999999", "--as-of", "2020-03-31"]);
        missing.expect_code(2);
        assert!(missing.stderr.contains("no topic 999999"), "{}", missing.stderr);
    }
}

/// CrisisLex T26: the first three days of each of the 26 crises (sampled), mixed into
/// one stream (tweet time from the tweet id), with labels for the backtest.
fn crisislex() -> &'static (Sandbox, PathBuf) {
    static SANDBOX: OnceLock<(Sandbox, PathBuf)> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        let sandbox = Sandbox::new();
        // The tweets' languages are detected among those the crises were
        // told in; English-language media are home, for abroad-first signals.
        common::write_config(
            &sandbox,
            "[import]\ndetect_languages = [\"en\", \"es\", \"it\", \"pt\", \"fr\", \"ru\"]\n[signals.home]\nlanguages = [\"en\"]\nname = \"English-language media\"\n",
        );
        let root = shared().join("corpora/crisislex/CrisisLexT26");
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        assert_eq!(dirs.len(), 26);
        let mut jsonl = String::new();
        let mut labels = String::new();
        let mut events = String::from("top = 10\nclasses = [\"weak\", \"emerging\"]\nlabels = \"labels.tsv\"\n");
        for dir in &dirs {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let file = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.to_string_lossy().ends_with("tweets_labeled.csv"))
                .unwrap();
            let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_path(&file).unwrap();
            let mut tweets: Vec<(i64, String, String, bool)> = Vec::new();
            for record in reader.records() {
                let r = record.unwrap();
                let id: i64 = r[0].parse().unwrap();
                let ms = (id >> 22) + 1_288_834_974_657;
                tweets.push((ms / 1000, r[0].to_string(), r[1].to_string(), r[4].starts_with("Related")));
            }
            // Onset: the first UTC day with at least 3 crisis-related tweets,
            // the first day the (sampled) stream shows the crisis at all. The
            // first labelled tweet is a poor proxy: for slow floods and
            // typhoons it precedes the next ones by days.
            let mut per_day: std::collections::BTreeMap<i64, usize> = Default::default();
            for t in tweets.iter().filter(|t| t.3) {
                *per_day.entry(t.0.div_euclid(86_400)).or_default() += 1;
            }
            let onset = per_day.iter().find(|(_, n)| **n >= 3).map(|(d, _)| d * 86_400).unwrap();
            // At most 250 tweets per crisis (every k-th, in id order) keep the
            // embedding time of this test near a minute on two cores.
            let window: Vec<&(i64, String, String, bool)> =
                tweets.iter().filter(|t| t.0 < onset + 3 * 86_400).collect();
            let step = window.len().div_ceil(250).max(1);
            for (i, (ts, id, text, related)) in window.into_iter().enumerate() {
                if i % step != 0 && *ts >= onset {
                    continue;
                }
                let published = chrono::DateTime::from_timestamp(*ts, 0).unwrap().to_rfc3339();
                jsonl.push_str(&serde_json::json!({"id": id, "published": published, "title": text, "source": "crisislex-t26"}).to_string());
                jsonl.push('\n');
                if *related {
                    labels.push_str(&format!("{id}\t{name}\n"));
                }
            }
            let reference = chrono::DateTime::from_timestamp(onset, 0).unwrap().to_rfc3339();
            events.push_str(&format!("\n[[event]]\nname = \"{name}\"\nreference = \"{reference}\"\n"));
        }
        sandbox.write("crisis.jsonl", jsonl);
        sandbox.write("labels.tsv", labels);
        let events_file = sandbox.write("events.toml", events);
        ws!(sandbox, "-q", "import", "crisis.jsonl").expect_code(0);
        ws!(sandbox, "-q", "embed").expect_code(0);
        (sandbox, events_file)
    })
}

model_test! {
    /// Each crisis's onset surfaces as a weak or emerging signal within its
    /// first two days (daily windows and steps); hits, lead times and false
    /// alarms per day are printed.
    fn crisislex_onsets_surface_within_two_days() {
        let (sandbox, events) = crisislex();
        let run = sandbox
            .run(&["-q", "backtest", "--from", "2012-05-17", "--to", "2013-12-31", "--step", "day", "--window", "day", "--json", "--events", events.to_str().unwrap()])
            .expect_code(0)
            .json();
        let mut hits = 0;
        let mut term_hits = 0;
        let mut later_than_terms = Vec::new();
        let mut report = String::new();
        for e in run["events"].as_array().unwrap() {
            // lead -1.0: flagged by the end of the onset day; -2.0: of the next day
            let lead = e["topic"]["lead_days"].as_f64();
            hits += usize::from(lead.is_some_and(|l| l >= -2.0));
            if let Some(term_lead) = e["term"]["lead_days"].as_f64() {
                if lead.is_none_or(|l| l < term_lead) {
                    later_than_terms.push(e["name"].as_str().unwrap().to_string());
                }
            }
            term_hits += usize::from(e["term"]["lead_days"].as_f64().is_some_and(|l| l >= -2.0));
            report.push_str(&format!(
                "{:<32} topics {:>6} terms {:>6}\n",
                e["name"].as_str().unwrap(),
                lead.map_or("-".into(), |l| format!("{l:+.1}")),
                e["term"]["lead_days"].as_f64().map_or("-".into(), |l| format!("{l:+.1}"))
            ));
        }
        let steps = run["steps"].as_array().unwrap();
        let active: Vec<&serde_json::Value> = steps.iter().filter(|s| s["flagged_topics"].as_u64().unwrap() + s["flagged_terms"].as_u64().unwrap() > 0).collect();
        let false_alarms = |k: &str| steps.iter().map(|s| s[k].as_u64().unwrap()).sum::<u64>() as f64 / active.len().max(1) as f64;
        eprintln!(
            "{report}hits within 2 days: topics {hits}/26, terms {term_hits}/26; false alarms per active day: topics {:.2}, terms {:.2} ({} active days)",
            false_alarms("unmatched_topics"),
            false_alarms("unmatched_terms"),
            active.len()
        );
        assert_eq!(hits, 26, "crises not flagged within 2 days of onset:\n{report}");
        assert!(later_than_terms.is_empty(), "topics flag these later than terms: {later_than_terms:?}\n{report}");
        assert!(
            false_alarms("unmatched_topics") < false_alarms("unmatched_terms"),
            "topics raise no fewer unmatched flags than terms\n{report}"
        );
    }
}

model_test! {
    fn clustering_in_parts_within_a_memory_budget_gives_the_same_signals() {
        let sandbox = Sandbox::new();
        prepare(&sandbox);
        copy_dir(&guardian().data_dir(), &sandbox.data_dir());
        let whole = signals(&sandbox, &["--as-of", "2020-03-31", "--limit", "1000", "--from-scratch"]);
        // No checkpoint to start from: each part must make the next one's.
        rusqlite::Connection::open(sandbox.data_dir().join("weaksignal.sqlite"))
            .unwrap()
            .execute("DELETE FROM checkpoints", [])
            .unwrap();
        // A budget of 600 documents: a part runs to a grid window (13 weeks)
        // and loads its 26 weeks of history, so the 5,640 take three parts.
        sandbox.write(
            "budget.toml",
            format!(
                "[model]\npath = {:?}\n[topics]\nmax_loaded_documents = 600\n",
                model_dir().display().to_string()
            ),
        );
        let run = ws!(sandbox, "--config", "budget.toml", "-v", "signals", "--json", "--as-of", "2020-03-31", "--limit", "1000", "--from-scratch");
        run.expect_code(0);
        let parts = run.stderr.matches("clustering in parts").count();
        assert!(parts >= 3, "{parts} parts:\n{}", run.stderr);
        assert_eq!(run.json(), whole);
        // and exports agree on every document's topic
        let a = sandbox.path("whole");
        let b = sandbox.path("parts");
        ws!(sandbox, "-q", "export", "--format", "ndjson", "-o", &a, "--as-of", "2020-03-31").expect_code(0);
        ws!(sandbox, "-q", "--config", "budget.toml", "export", "--format", "ndjson", "-o", &b, "--as-of", "2020-03-31").expect_code(0);
        for month in ["2019-06", "2019-12", "2020-03"] {
            let name = format!("documents/month={month}.ndjson");
            assert_eq!(
                std::fs::read_to_string(a.join(&name)).unwrap(),
                std::fs::read_to_string(b.join(&name)).unwrap(),
                "{name}"
            );
        }
    }
}

lexicon_test! {
    /// The top 20 signals as of 2020-01-31 are about content words: by the
    /// English tagger's reading of each label word on its own, no keyword is
    /// a verb, adverb, pronoun, determiner, conjunction or preposition.
    /// A label word is judged as the extractor judged it: in context, in the
    /// headlines of the signal's examples ("escape" is a noun in "the great
    /// escape"). A word found in none of them is tagged on its own.
    fn guardian_signals_are_about_content_words() {
        use weaksignal::morph::WordClass::*;
        let tagger = weaksignal::morph::english::EnglishTagger::load(&common::lexicon_dir()).expect("lexicons");
        let report = signals(guardian(), &["--as-of", "2020-01-31", "--limit", "20"]);
        let signals = report["signals"].as_array().unwrap();
        assert!(signals.len() >= 5, "{} signals", signals.len());
        let mut problems = Vec::new();
        let mut judged_in_context = 0;
        for s in signals {
            // every headline of the signal, tokenised and analysed once
            let headlines: Vec<Vec<(String, weaksignal::morph::WordAnalysis)>> = s["examples"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    let tokens = weaksignal::morph::english::tokens(e["title"].as_str().unwrap());
                    let analysed = tagger.analyse(&tokens);
                    tokens.iter().map(|t| t.to_lowercase()).zip(analysed).collect()
                })
                .collect();
            for keyword in s["label"].as_str().unwrap().split(", ") {
                let words: Vec<String> = keyword.split(' ').map(str::to_lowercase).collect();
                // the keyword's words as they stand in a headline (lemma or surface)
                let in_context: Vec<Vec<&weaksignal::morph::WordAnalysis>> = headlines
                    .iter()
                    .flat_map(|h| {
                        h.windows(words.len()).filter_map(|w| {
                            let hit = w.iter().zip(&words).all(|((t, a), k)| t == k || a.lemma.to_lowercase() == *k);
                            hit.then(|| w.iter().map(|(_, a)| a).collect())
                        })
                    })
                    .collect();
                let alone: Vec<weaksignal::morph::WordAnalysis> =
                    tagger.analyse(&words.iter().map(String::as_str).collect::<Vec<_>>());
                let readings: Vec<Vec<&weaksignal::morph::WordAnalysis>> = if in_context.is_empty() {
                    vec![alone.iter().collect()]
                } else {
                    judged_in_context += 1;
                    in_context
                };
                let content = |r: &Vec<&weaksignal::morph::WordAnalysis>| {
                    let (head, modifiers) = r.split_last().unwrap();
                    matches!(head.class, Noun | ProperNoun | Abbreviation | Unknown)
                        && modifiers.iter().all(|m| m.class.can_modify())
                };
                if !readings.iter().any(content) {
                    let classes: Vec<&str> = readings[0].iter().map(|a| a.class.name()).collect();
                    problems.push(format!("{}: {keyword:?} reads as {classes:?}", s["id"]));
                }
            }
        }
        eprintln!("{judged_in_context} label words judged in their headlines");
        assert!(judged_in_context > 0, "no label word was found in its signal's headlines");
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}

model_test! {
    /// Checkpoints are keyed by the clustering code and the settings, not by
    /// the executable: a reinstalled (copied, newer) binary starts from them.
    fn a_reinstalled_binary_keeps_the_checkpoints() {
        let sandbox = guardian();
        sandbox.run(&["-q", "signals", "--limit", "1"]).expect_code(0);
        let copy = sandbox.dir.path().join("reinstalled-weaksignal");
        std::fs::copy(env!("CARGO_BIN_EXE_weaksignal"), &copy).unwrap();
        let output = sandbox
            .command(&copy)
            .args(["-v", "signals", "--limit", "1"])
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&copy);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(stderr.contains("from_checkpoint=Some("), "the copy clustered from scratch: {stderr}");
    }
}

model_test! {
    /// English-language media as home: the crises of non-English-speaking
    /// countries are flagged abroad-first on their first days (Italian,
    /// Portuguese, Spanish, Russian tweets before English ones), no crisis of
    /// an English-speaking country is, and the arrival of English tweets in
    /// a flagged topic is found with its lag.
    fn crisislex_abroad_first_flags_non_english_crises_and_their_arrival() {
        let (sandbox, events) = crisislex();
        let run = sandbox
            .run(&["-q", "backtest", "--from", "2012-05-17", "--to", "2013-12-31", "--step", "day", "--window", "day", "--json", "--events", events.to_str().unwrap()])
            .expect_code(0)
            .json();
        let abroad = &run["abroad"];
        let onsets: Vec<(String, i64)> = run["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let at = chrono::DateTime::parse_from_rfc3339(e["reference"].as_str().unwrap()).unwrap();
                (e["name"].as_str().unwrap().to_string(), at.timestamp())
            })
            .collect();
        // Where the crisis happened speaks English (the event names of CrisisLex T26).
        let english_speaking = ["Colorado", "Alberta", "Australia", "Boston", "Glasgow", "LA_airport", "NY_train", "Queensland", "West_Texas", "Singapore"];
        let mut crises = std::collections::BTreeSet::new();
        let mut report = String::new();
        for f in abroad["list"].as_array().unwrap() {
            let at = chrono::DateTime::parse_from_rfc3339(f["as_of"].as_str().unwrap()).unwrap().timestamp();
            // the crisis whose first days (onset - 1 .. onset + 3 days) hold the flag
            let crisis = onsets
                .iter()
                .filter(|(_, onset)| at >= onset - 86_400 && at < onset + 3 * 86_400)
                .map(|(name, _)| name.clone())
                .collect::<Vec<_>>();
            report.push_str(&format!("{} {} {} {:?} -> {:?}\n", f["as_of"], f["signal"], f["label"], crisis, f["arrived"]));
            assert!(!crisis.is_empty(), "an abroad-first flag outside every crisis's first days:\n{report}");
            assert!(
                crisis.iter().any(|c| !english_speaking.iter().any(|e| c.contains(e))),
                "an abroad-first flag during an English-speaking crisis only:\n{report}"
            );
            for language in f["languages"].as_array().unwrap() {
                assert_ne!(language["name"], "en", "English documents counted abroad:\n{report}");
            }
            crises.extend(crisis);
        }
        eprintln!("{report}{}", abroad);
        assert!(crises.len() >= 3, "abroad-first flags in fewer than 3 crises:\n{report}");
        let arrived = abroad["arrived"].as_u64().unwrap();
        assert!(arrived >= 1, "no flagged topic arrived in English within 12 weeks:\n{report}");
        assert!(abroad["median_lag_days"].as_f64().unwrap() <= 14.0, "{report}");
        // The share is of the followed flags.
        let share = abroad["arrived_share"].as_f64().unwrap();
        assert!((share - arrived as f64 / abroad["followed"].as_u64().unwrap() as f64).abs() < 1e-9);
    }
}
