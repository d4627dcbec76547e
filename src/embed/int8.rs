//! int8 linear layers for the encoder, with kernels chosen at run time.
//!
//! The encoder's projections (fused QKV, attention output, the two
//! feed-forward layers) carry almost all of its FLOPs. Here their weights
//! are quantised once, at load, per output channel (symmetric, i8), and each
//! row of activations is quantised dynamically (symmetric, i8). Products
//! accumulate exactly in i32, and the two scales are applied in f32; layer
//! norm, softmax, GELU and pooling stay in f32 (`bert.rs`). A few input
//! channels of the encoder's activations are far larger than the rest, so
//! the layers are smoothed first ([`QuantLinear::smoothed`], SmoothQuant):
//! that halved the int8 vectors' distance to f32's.
//!
//! Because the accumulation is exact, every kernel gives bit-identical
//! results to the scalar reference, so vectors do not depend on the CPU:
//!
//! * [`Kernel::Avx512Vnni`]: `vpdpbusd` on 512-bit registers (AVX-512 VNNI).
//!   It multiplies unsigned by signed bytes, so activations are shifted by
//!   128 and the shift is taken out with each output's weight sum.
//! * [`Kernel::AvxVnni`]: the same instruction on 256-bit registers (AVX-VNNI).
//! * [`Kernel::Avx2`]: `vpmaddwd` on the same values widened to i16 (AVX2's
//!   byte product `vpmaddubsw` would saturate with shifted activations, and
//!   moving the sign instead measured slower: see the kernel).
//! * [`Kernel::Scalar`]: the reference, and the fallback.
//!
//! Weights are packed for the kernels: blocks of 16 outputs, and in each
//! block 4 consecutive inputs of one output side by side, so one 64-byte
//! load holds 16 outputs x 4 inputs and one broadcast 4-byte group of a row
//! meets all of them (for AVX2: 2 inputs as i16, [`Weights::Pairs`]).

use serde::Serialize;

/// Outputs per packed block.
const BLOCK: usize = 16;
/// Inputs per group (one i32 lane of `vpdpbusd`).
const GROUP: usize = 4;

/// An int8 matrix-multiply kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kernel {
    Avx512Vnni,
    AvxVnni,
    Avx2,
    Scalar,
}

impl Kernel {
    pub const ALL: [Kernel; 4] = [
        Kernel::Avx512Vnni,
        Kernel::AvxVnni,
        Kernel::Avx2,
        Kernel::Scalar,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kernel::Avx512Vnni => "avx512-vnni",
            Kernel::AvxVnni => "avx-vnni",
            Kernel::Avx2 => "avx2",
            Kernel::Scalar => "scalar",
        }
    }

    /// Whether this CPU runs the kernel, or why not.
    pub fn supported(self) -> std::result::Result<(), String> {
        #[cfg(target_arch = "x86_64")]
        {
            let need: &[&str] = match self {
                Kernel::Avx512Vnni => &["avx512f", "avx512bw", "avx512vnni"],
                Kernel::AvxVnni => &["avx2", "avxvnni"],
                Kernel::Avx2 => &["avx2"],
                Kernel::Scalar => &[],
            };
            let missing: Vec<&str> = need.iter().copied().filter(|f| !detected(f)).collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("the CPU lacks {}", missing.join(", ")))
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        match self {
            Kernel::Scalar => Ok(()),
            _ => Err("not an x86-64 CPU".into()),
        }
    }

    /// The fastest kernel this CPU runs (widest first).
    pub fn best() -> Kernel {
        Kernel::ALL
            .into_iter()
            .find(|k| k.supported().is_ok())
            .unwrap_or(Kernel::Scalar)
    }
}

#[cfg(target_arch = "x86_64")]
fn detected(feature: &str) -> bool {
    match feature {
        "avx2" => is_x86_feature_detected!("avx2"),
        "avx512f" => is_x86_feature_detected!("avx512f"),
        "avx512bw" => is_x86_feature_detected!("avx512bw"),
        "avx512vnni" => is_x86_feature_detected!("avx512vnni"),
        "avxvnni" => is_x86_feature_detected!("avxvnni"),
        _ => false,
    }
}

/// A linear layer `y = x W^T + b` with int8 weights.
pub struct QuantLinear {
    inputs: usize,
    outputs: usize,
    /// Inputs rounded up to a multiple of [`GROUP`], outputs to one of [`BLOCK`].
    k: usize,
    n: usize,
    weights: Weights,
    /// Per output (padded to `n`): the weight scale, 128 x the weights' sum
    /// (what the VNNI kernels' shift adds), the bias.
    scale: Vec<f32>,
    shift_sum: Vec<i32>,
    bias: Vec<f32>,
    /// Per input channel, what activations are multiplied by as they are
    /// quantised (the weights were multiplied by its reciprocal; all ones
    /// when not smoothed): see [`QuantLinear::smoothed`].
    smooth: Vec<f32>,
    kernel: Kernel,
}

/// What a kernel needs of a layer, as raw parts.
struct Layer<'a> {
    k: usize,
    n: usize,
    packed: &'a [i8],
    wide: &'a [i16],
    scale: &'a [f32],
    shift_sum: &'a [i32],
    bias: &'a [f32],
}

impl QuantLinear {
    /// From `[outputs, inputs]` f32 weights (PyTorch layout) and a bias,
    /// quantised per output channel, run by `kernel` (which the CPU must support).
    pub fn new(weights: &[f32], bias: &[f32], inputs: usize, kernel: Kernel) -> QuantLinear {
        let outputs = bias.len();
        assert_eq!(
            weights.len(),
            outputs * inputs,
            "weights are [outputs, inputs]"
        );
        let k = inputs.div_ceil(GROUP) * GROUP;
        let n = outputs.div_ceil(BLOCK) * BLOCK;
        let mut packed = vec![0i8; n * k];
        let mut scale = vec![0f32; n];
        let mut shift_sum = vec![0i32; n];
        for o in 0..outputs {
            let row = &weights[o * inputs..(o + 1) * inputs];
            let max = row.iter().fold(0f32, |m, w| m.max(w.abs()));
            let s = if max > 0.0 { max / 127.0 } else { 1.0 };
            scale[o] = s;
            let (block, lane) = (o / BLOCK, o % BLOCK);
            let mut sum = 0i32;
            for (i, &w) in row.iter().enumerate() {
                let q = (w / s).round_ties_even().clamp(-127.0, 127.0) as i8;
                sum += i32::from(q);
                let at = ((block * (k / GROUP) + i / GROUP) * BLOCK + lane) * GROUP + i % GROUP;
                packed[at] = q;
            }
            shift_sum[o] = 128 * sum;
        }
        let mut padded_bias = bias.to_vec();
        padded_bias.resize(n, 0.0);
        QuantLinear {
            inputs,
            outputs,
            k,
            n,
            weights: Weights::for_kernel(packed, k, kernel),
            scale,
            shift_sum,
            bias: padded_bias,
            smooth: vec![1.0; inputs],
            kernel,
        }
    }

    /// Like [`QuantLinear::new`], with the quantisation difficulty moved
    /// from the activations to the weights (SmoothQuant, Xiao et al. 2023):
    /// a few input channels of the encoder's activations are far larger
    /// than the rest, so one scale per row leaves the others few levels.
    /// Input channel j is divided by `s_j = amax_j^alpha / wmax_j^(1 -
    /// alpha)` and the weights of that input multiplied by it, which leaves
    /// the product unchanged in exact arithmetic. `amax` is the largest
    /// |activation| of each input channel seen on calibration texts.
    pub fn smoothed(
        weights: &[f32],
        bias: &[f32],
        inputs: usize,
        amax: &[f32],
        alpha: f32,
        kernel: Kernel,
    ) -> QuantLinear {
        assert_eq!(amax.len(), inputs, "one activation maximum per input");
        let outputs = bias.len();
        let mut wmax = vec![0f32; inputs];
        for row in weights.chunks_exact(inputs) {
            for (m, w) in wmax.iter_mut().zip(row) {
                *m = m.max(w.abs());
            }
        }
        let factors: Vec<f32> = amax
            .iter()
            .zip(&wmax)
            .map(|(&a, &w)| {
                if a > 0.0 && w > 0.0 {
                    (a.powf(alpha) / w.powf(1.0 - alpha)).clamp(1e-5, 1e5)
                } else {
                    1.0
                }
            })
            .collect();
        let scaled: Vec<f32> = weights
            .iter()
            .enumerate()
            .map(|(i, w)| w * factors[i % inputs])
            .collect();
        debug_assert_eq!(scaled.len(), outputs * inputs);
        let mut layer = QuantLinear::new(&scaled, bias, inputs, kernel);
        layer.smooth = factors.iter().map(|f| 1.0 / f).collect();
        layer
    }

    /// The layer as bytes (little-endian), without its kernel: what the
    /// int8 cache next to the model holds ([`QuantLinear::read`]).
    pub fn write(&self, out: &mut Vec<u8>) {
        for v in [self.inputs, self.outputs, self.k, self.n] {
            out.extend_from_slice(&(v as u64).to_le_bytes());
        }
        out.extend(self.weights.groups(self.k).iter().map(|&b| b as u8));
        for v in self.scale.iter().chain(&self.bias) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in &self.shift_sum {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in &self.smooth {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }

    /// A layer [`QuantLinear::write`] wrote, from `bytes[*at..]` (advanced
    /// past it), run by `kernel`; `None` if the bytes do not hold one.
    pub fn read(bytes: &[u8], at: &mut usize, kernel: Kernel) -> Option<QuantLinear> {
        let mut take = |n: usize| -> Option<&[u8]> {
            let slice = bytes.get(*at..at.checked_add(n)?)?;
            *at += n;
            Some(slice)
        };
        let mut size = || -> Option<usize> {
            usize::try_from(u64::from_le_bytes(take(8)?.try_into().ok()?)).ok()
        };
        let (inputs, outputs, k, n) = (size()?, size()?, size()?, size()?);
        let consistent = k == inputs.div_ceil(GROUP) * GROUP
            && n == outputs.div_ceil(BLOCK) * BLOCK
            && n.checked_mul(k)? <= 1 << 30;
        if !consistent {
            return None;
        }
        let floats = |b: &[u8]| -> Vec<f32> {
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect()
        };
        let packed: Vec<i8> = take(n * k)?.iter().map(|&b| b as i8).collect();
        let scale = floats(take(4 * n)?);
        let bias = floats(take(4 * n)?);
        let shift_sum = take(4 * n)?
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        let smooth = floats(take(4 * inputs)?);
        Some(QuantLinear {
            inputs,
            outputs,
            k,
            n,
            weights: Weights::for_kernel(packed, k, kernel),
            scale,
            shift_sum,
            bias,
            smooth,
            kernel,
        })
    }

    pub fn inputs(&self) -> usize {
        self.inputs
    }

    pub fn outputs(&self) -> usize {
        self.outputs
    }

    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    fn layer(&self) -> Layer<'_> {
        let (packed, wide): (&[i8], &[i16]) = match &self.weights {
            Weights::Groups(packed) => (packed, &[]),
            Weights::Pairs(wide) => (&[], wide),
        };
        Layer {
            k: self.k,
            n: self.n,
            packed,
            wide,
            scale: &self.scale,
            shift_sum: &self.shift_sum,
            bias: &self.bias,
        }
    }

    /// `x` is `[rows, inputs]`; returns `[rows, outputs]`.
    pub fn forward(&self, x: &[f32], rows: usize) -> Vec<f32> {
        assert_eq!(x.len(), rows * self.inputs);
        // Every kernel writes every output (full blocks, every row) through
        // a raw pointer: no zeroing first, which cost fresh pages per layer.
        let mut y: Vec<f32> = Vec::with_capacity(rows * self.n);
        let out = y.as_mut_ptr();
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let (q, row_scale) = &mut *scratch;
            q.clear();
            q.resize(rows * self.k, 0);
            row_scale.clear();
            row_scale.resize(rows, 0.0);
            let layer = self.layer();
            let shifted = matches!(self.kernel, Kernel::Avx512Vnni | Kernel::AvxVnni);
            debug_assert!(
                self.kernel.supported().is_ok(),
                "{:?} on this CPU",
                self.kernel
            );
            match self.kernel {
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx512Vnni => {
                    // SAFETY: the kernel was chosen because the CPU has these features.
                    unsafe {
                        x86::quantize512(x, &self.smooth, rows, self.k, shifted, q, row_scale);
                        x86::vnni512(q, row_scale, rows, &layer, out);
                    }
                }
                #[cfg(target_arch = "x86_64")]
                Kernel::AvxVnni => {
                    // SAFETY: as above.
                    unsafe {
                        x86::quantize256(x, &self.smooth, rows, self.k, shifted, q, row_scale);
                        x86::vnni256(q, row_scale, rows, &layer, out);
                    }
                }
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx2 => {
                    // SAFETY: as above.
                    unsafe {
                        x86::quantize256(x, &self.smooth, rows, self.k, shifted, q, row_scale);
                        WIDE.with(|wide| {
                            let mut wide = wide.borrow_mut();
                            x86::widen(q, &mut wide);
                            x86::avx2(&wide, row_scale, rows, &layer, out);
                        });
                    }
                }
                _ => {
                    quantize(x, &self.smooth, rows, self.k, shifted, q, row_scale);
                    // SAFETY: `out` has room for rows * n values.
                    unsafe { scalar(q, row_scale, rows, &layer, out) };
                }
            }
        });
        // SAFETY: the kernel wrote all rows * n values.
        unsafe { y.set_len(rows * self.n) };
        if self.n != self.outputs {
            for r in 0..rows {
                y.copy_within(r * self.n..r * self.n + self.outputs, r * self.outputs);
            }
            y.truncate(rows * self.outputs);
        }
        y
    }
}

/// The quantised weights, laid out for the kernel that runs them (one
/// copy: the AVX2 layout is twice the size).
enum Weights {
    /// `[n / BLOCK][k / GROUP][BLOCK][GROUP]` i8: the VNNI and scalar kernels.
    Groups(Vec<i8>),
    /// `[n / BLOCK][k / 2][BLOCK][2]` i16: the AVX2 kernel ([`pair_index`]).
    Pairs(Vec<i16>),
}

impl Weights {
    fn for_kernel(packed: Vec<i8>, k: usize, kernel: Kernel) -> Weights {
        if kernel != Kernel::Avx2 || !cfg!(target_arch = "x86_64") {
            return Weights::Groups(packed);
        }
        let mut wide = vec![0i16; packed.len()];
        for (at, &w) in packed.iter().enumerate() {
            wide[pair_index(at, k)] = i16::from(w);
        }
        Weights::Pairs(wide)
    }

    /// The weights in the `Groups` layout, whatever the kernel (what the
    /// int8 cache holds).
    fn groups(&self, k: usize) -> std::borrow::Cow<'_, [i8]> {
        match self {
            Weights::Groups(packed) => std::borrow::Cow::Borrowed(packed),
            Weights::Pairs(wide) => std::borrow::Cow::Owned(
                // every value came from an i8
                (0..wide.len())
                    .map(|at| wide[pair_index(at, k)] as i8)
                    .collect(),
            ),
        }
    }
}

/// Where the weight at `at` of the `Groups` layout sits in the `Pairs`
/// layout: i16 pairs of consecutive inputs, so one `vpmaddwd` multiplies a
/// broadcast pair of a row's inputs with 8 outputs' weights.
fn pair_index(at: usize, k: usize) -> usize {
    let block_len = k * BLOCK;
    let (block, rest) = (at / block_len, at % block_len);
    let (group, rest) = (rest / (BLOCK * GROUP), rest % (BLOCK * GROUP));
    let (lane, input) = (rest / GROUP, rest % GROUP);
    let pair = group * 2 + input / 2;
    ((block * (k / 2) + pair) * BLOCK + lane) * 2 + input % 2
}

thread_local! {
    /// Quantised activations and row scales, reused across calls (a batch
    /// allocates no fresh pages per layer).
    static SCRATCH: std::cell::RefCell<(Vec<u8>, Vec<f32>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
    /// The AVX2 kernel's activations, widened to i16.
    static WIDE: std::cell::RefCell<Vec<i16>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A row's scale and its reciprocal: max |x| / 127 (1 for a zero row).
#[inline(always)]
fn row_scale(max: f32) -> (f32, f32) {
    let s = if max > 0.0 { max / 127.0 } else { 1.0 };
    (s, 1.0 / s)
}

/// One activation as the kernels' byte: i8 (round to nearest even),
/// shifted by 128 for the VNNI kernels.
#[inline(always)]
fn to_byte(v: f32, inv: f32, shifted: bool) -> u8 {
    let i = (v * inv).round_ties_even().clamp(-127.0, 127.0) as i8;
    if shifted {
        (i as u8) ^ 0x80
    } else {
        i as u8
    }
}

/// A row's values from `from` on, times their smoothing factors, quantised
/// one by one, and its padding to `k` (the zero byte: 128 when shifted).
#[inline(always)]
fn finish_row(out: &mut [u8], row: &[f32], smooth: &[f32], from: usize, inv: f32, shifted: bool) {
    for ((d, &v), &f) in out[from..row.len()]
        .iter_mut()
        .zip(&row[from..])
        .zip(&smooth[from..])
    {
        *d = to_byte(v * f, inv, shifted);
    }
    let zero = if shifted { 128u8 } else { 0 };
    out[row.len()..].iter_mut().for_each(|d| *d = zero);
}

/// The reference quantisation: rows times the smoothing factors (one per
/// input) to i8 (symmetric, per row, round to nearest even), as bytes;
/// shifted by 128 for the VNNI kernels; padded to `k` with zeros (128 when
/// shifted). The SIMD versions give the same bytes.
fn quantize(
    x: &[f32],
    smooth: &[f32],
    rows: usize,
    k: usize,
    shifted: bool,
    q: &mut [u8],
    scales: &mut [f32],
) {
    let inputs = smooth.len();
    for r in 0..rows {
        let row = &x[r * inputs..(r + 1) * inputs];
        let max = row
            .iter()
            .zip(smooth)
            .fold(0f32, |m, (v, f)| m.max((v * f).abs()));
        let (s, inv) = row_scale(max);
        scales[r] = s;
        finish_row(&mut q[r * k..(r + 1) * k], row, smooth, 0, inv, shifted);
    }
}

/// The output of one accumulated dot product: `acc` minus the shift's
/// part, times both scales, plus the bias (the same f32 operations in every
/// kernel: no fused multiply-add).
#[inline(always)]
fn dequantize(acc: i32, shift_sum: i32, row_scale: f32, scale: f32, bias: f32) -> f32 {
    (acc - shift_sum) as f32 * (row_scale * scale) + bias
}

/// The reference kernel (activations unshifted); writes all `rows * n`
/// values at `y`.
unsafe fn scalar(q: &[u8], scales: &[f32], rows: usize, l: &Layer, y: *mut f32) {
    let groups = l.k / GROUP;
    for r in 0..rows {
        let row = &q[r * l.k..(r + 1) * l.k];
        for b in 0..l.n / BLOCK {
            let block = &l.packed[b * groups * BLOCK * GROUP..(b + 1) * groups * BLOCK * GROUP];
            let mut acc = [0i32; BLOCK];
            for g in 0..groups {
                let x = &row[g * GROUP..(g + 1) * GROUP];
                let ws = &block[g * BLOCK * GROUP..(g + 1) * BLOCK * GROUP];
                for (lane, o) in acc.iter_mut().enumerate() {
                    let wl = &ws[lane * GROUP..(lane + 1) * GROUP];
                    *o += x
                        .iter()
                        .zip(wl)
                        .map(|(&p, &w)| i32::from(p as i8) * i32::from(w))
                        .sum::<i32>();
                }
            }
            for (lane, &a) in acc.iter().enumerate() {
                let o = b * BLOCK + lane;
                y.add(r * l.n + o)
                    .write(dequantize(a, 0, scales[r], l.scale[o], l.bias[o]));
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The SIMD kernels. Each computes a tile of up to 4 rows x 64 outputs
    //! (4 blocks; 16 outputs for the 256-bit ones) at a time, so every
    //! weight load serves 4 rows and every broadcast activation group (pair
    //! for AVX2) serves every block of the tile, and writes the tile's
    //! outputs dequantised.
    //! Output blocks are the outer loop: a block's weights stay in cache
    //! while every row passes them.
    use std::arch::x86_64::*;

    use super::{row_scale, Layer, BLOCK, GROUP};

    const ROWS: usize = 4;
    const BLOCKS: usize = 4;
    /// i16 activations per row panel of [`avx2`]: within L2 (512 KB per core on Zen 3).
    const AVX2_PANEL_BYTES: usize = 192 * 1024;

    /// [`super::quantize`] with AVX-512: the same bytes.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub unsafe fn quantize512(
        x: &[f32],
        smooth: &[f32],
        rows: usize,
        k: usize,
        shifted: bool,
        q: &mut [u8],
        scales: &mut [f32],
    ) {
        let inputs = smooth.len();
        let flip = _mm_set1_epi8(if shifted { -128 } else { 0 });
        let lo = _mm512_set1_ps(-127.0);
        let hi = _mm512_set1_ps(127.0);
        let at = |row: &[f32], c: usize| {
            _mm512_mul_ps(
                _mm512_loadu_ps(row.as_ptr().add(c)),
                _mm512_loadu_ps(smooth.as_ptr().add(c)),
            )
        };
        for r in 0..rows {
            let row = &x[r * inputs..(r + 1) * inputs];
            let full = inputs / 16 * 16;
            let mut m = _mm512_setzero_ps();
            for c in (0..full).step_by(16) {
                m = _mm512_max_ps(m, _mm512_abs_ps(at(row, c)));
            }
            let max = row[full..]
                .iter()
                .zip(&smooth[full..])
                .fold(_mm512_reduce_max_ps(m), |a, (v, f)| a.max((v * f).abs()));
            let (s, inv) = row_scale(max);
            scales[r] = s;
            let invv = _mm512_set1_ps(inv);
            let out = &mut q[r * k..(r + 1) * k];
            for c in (0..full).step_by(16) {
                let v = _mm512_mul_ps(at(row, c), invv);
                let v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
                // round to nearest even, as round_ties_even
                let i = _mm512_cvt_roundps_epi32::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
                    v,
                );
                let b = _mm_xor_si128(_mm512_cvtsepi32_epi8(i), flip);
                _mm_storeu_si128(out.as_mut_ptr().add(c) as *mut __m128i, b);
            }
            super::finish_row(out, row, smooth, full, inv, shifted);
        }
    }

    /// [`super::quantize`] with AVX2: the same bytes.
    #[target_feature(enable = "avx2")]
    pub unsafe fn quantize256(
        x: &[f32],
        smooth: &[f32],
        rows: usize,
        k: usize,
        shifted: bool,
        q: &mut [u8],
        scales: &mut [f32],
    ) {
        let inputs = smooth.len();
        let sign = _mm256_set1_ps(-0.0);
        let lo = _mm256_set1_ps(-127.0);
        let hi = _mm256_set1_ps(127.0);
        let at = |row: &[f32], c: usize| {
            _mm256_mul_ps(
                _mm256_loadu_ps(row.as_ptr().add(c)),
                _mm256_loadu_ps(smooth.as_ptr().add(c)),
            )
        };
        for r in 0..rows {
            let row = &x[r * inputs..(r + 1) * inputs];
            let full = inputs / 8 * 8;
            let mut m = _mm256_setzero_ps();
            for c in (0..full).step_by(8) {
                m = _mm256_max_ps(m, _mm256_andnot_ps(sign, at(row, c)));
            }
            let mut lanes = [0f32; 8];
            _mm256_storeu_ps(lanes.as_mut_ptr(), m);
            let max = row[full..]
                .iter()
                .zip(&smooth[full..])
                .fold(lanes.iter().fold(0f32, |a, v| a.max(*v)), |a, (v, f)| {
                    a.max((v * f).abs())
                });
            let (s, inv) = row_scale(max);
            scales[r] = s;
            let invv = _mm256_set1_ps(inv);
            let out = &mut q[r * k..(r + 1) * k];
            for c in (0..full).step_by(8) {
                let v = _mm256_mul_ps(at(row, c), invv);
                let v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
                let i = _mm256_cvtps_epi32(v); // MXCSR default: round to nearest even
                let mut ints = [0i32; 8];
                _mm256_storeu_si256(ints.as_mut_ptr() as *mut __m256i, i);
                for (d, &v) in out[c..c + 8].iter_mut().zip(&ints) {
                    *d = if shifted {
                        (v as i8 as u8) ^ 0x80
                    } else {
                        v as i8 as u8
                    };
                }
            }
            super::finish_row(out, row, smooth, full, inv, shifted);
        }
    }

    /// One tile of `R` rows x `B` blocks for [`vnni512`]: constant sizes,
    /// so the accumulators stay in registers.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    unsafe fn tile512<const R: usize, const B: usize>(
        q: &[u8],
        scales: &[f32],
        r0: usize,
        b0: usize,
        l: &Layer,
        y: *mut f32,
    ) {
        let (k, n) = (l.k, l.n);
        let groups = k / GROUP;
        let block_len = groups * BLOCK * GROUP;
        let mut c = [[_mm512_setzero_si512(); B]; R];
        let wp = l.packed.as_ptr().add(b0 * block_len);
        let ap = q.as_ptr().add(r0 * k);
        for g in 0..groups {
            let mut wv = [_mm512_setzero_si512(); B];
            for (j, v) in wv.iter_mut().enumerate() {
                *v = _mm512_loadu_si512(wp.add(j * block_len + g * BLOCK * GROUP) as *const _);
            }
            for (i, ci) in c.iter_mut().enumerate() {
                let x = _mm512_set1_epi32(std::ptr::read_unaligned(
                    ap.add(i * k + g * GROUP) as *const i32
                ));
                for j in 0..B {
                    ci[j] = _mm512_dpbusd_epi32(ci[j], x, wv[j]);
                }
            }
        }
        for j in 0..B {
            let o = (b0 + j) * BLOCK;
            let shift = _mm512_loadu_si512(l.shift_sum.as_ptr().add(o) as *const _);
            let scale = _mm512_loadu_ps(l.scale.as_ptr().add(o));
            let bias = _mm512_loadu_ps(l.bias.as_ptr().add(o));
            for (i, ci) in c.iter().enumerate() {
                let dot = _mm512_cvtepi32_ps(_mm512_sub_epi32(ci[j], shift));
                let s = _mm512_mul_ps(_mm512_set1_ps(scales[r0 + i]), scale);
                let v = _mm512_add_ps(_mm512_mul_ps(dot, s), bias);
                _mm512_storeu_ps(y.add((r0 + i) * n + o), v);
            }
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn vnni512(q: &[u8], scales: &[f32], rows: usize, l: &Layer, y: *mut f32) {
        let nb = l.n / BLOCK;
        for b0 in (0..nb).step_by(BLOCKS) {
            for r0 in (0..rows).step_by(ROWS) {
                macro_rules! tile {
                    ($b:literal) => {
                        match ROWS.min(rows - r0) {
                            4 => tile512::<4, $b>(q, scales, r0, b0, l, y),
                            3 => tile512::<3, $b>(q, scales, r0, b0, l, y),
                            2 => tile512::<2, $b>(q, scales, r0, b0, l, y),
                            _ => tile512::<1, $b>(q, scales, r0, b0, l, y),
                        }
                    };
                }
                match BLOCKS.min(nb - b0) {
                    4 => tile!(4),
                    3 => tile!(3),
                    2 => tile!(2),
                    _ => tile!(1),
                }
            }
        }
    }

    /// One tile of `R` rows x one block (two halves of 8 outputs) for
    /// [`vnni256`]: 16 registers hold `R` x 2 accumulators, the two weight
    /// halves and the broadcast group.
    #[target_feature(enable = "avx2,avxvnni")]
    #[inline]
    unsafe fn tile_vnni256<const R: usize>(
        q: &[u8],
        scales: &[f32],
        r0: usize,
        b: usize,
        l: &Layer,
        y: *mut f32,
    ) {
        let k = l.k;
        let groups = k / GROUP;
        let block_len = groups * BLOCK * GROUP;
        let mut c = [[_mm256_setzero_si256(); 2]; R];
        let wp = l.packed.as_ptr().add(b * block_len);
        let ap = q.as_ptr().add(r0 * k);
        for g in 0..groups {
            let w0 = _mm256_loadu_si256(wp.add(g * BLOCK * GROUP) as *const _);
            let w1 = _mm256_loadu_si256(wp.add(g * BLOCK * GROUP + 32) as *const _);
            for (i, ci) in c.iter_mut().enumerate() {
                let x = _mm256_set1_epi32(std::ptr::read_unaligned(
                    ap.add(i * k + g * GROUP) as *const i32
                ));
                ci[0] = _mm256_dpbusd_avx_epi32(ci[0], x, w0);
                ci[1] = _mm256_dpbusd_avx_epi32(ci[1], x, w1);
            }
        }
        store256(&c, Some(l.shift_sum), scales, r0, b, l, y);
    }

    /// A 256-bit tile's accumulators (`R` rows x two halves of 8 outputs of
    /// block `b`), less the shift's part if any, dequantised into `y`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn store256<const R: usize>(
        c: &[[__m256i; 2]; R],
        shift_sum: Option<&[i32]>,
        scales: &[f32],
        r0: usize,
        b: usize,
        l: &Layer,
        y: *mut f32,
    ) {
        for h in 0..2 {
            let o = b * BLOCK + h * 8;
            let shift = match shift_sum {
                Some(sums) => _mm256_loadu_si256(sums.as_ptr().add(o) as *const _),
                None => _mm256_setzero_si256(),
            };
            let scale = _mm256_loadu_ps(l.scale.as_ptr().add(o));
            let bias = _mm256_loadu_ps(l.bias.as_ptr().add(o));
            for (i, ci) in c.iter().enumerate() {
                let dot = _mm256_cvtepi32_ps(_mm256_sub_epi32(ci[h], shift));
                let s = _mm256_mul_ps(_mm256_set1_ps(scales[r0 + i]), scale);
                let v = _mm256_add_ps(_mm256_mul_ps(dot, s), bias);
                _mm256_storeu_ps(y.add((r0 + i) * l.n + o), v);
            }
        }
    }

    /// Activation bytes (i8) to i16, for [`avx2`].
    #[target_feature(enable = "avx2")]
    pub unsafe fn widen(q: &[u8], wide: &mut Vec<i16>) {
        wide.clear();
        wide.reserve(q.len());
        let out = wide.as_mut_ptr();
        let full = q.len() / 16 * 16;
        for c in (0..full).step_by(16) {
            let b = _mm_loadu_si128(q.as_ptr().add(c) as *const _);
            _mm256_storeu_si256(out.add(c) as *mut _, _mm256_cvtepi8_epi16(b));
        }
        for (c, &byte) in q.iter().enumerate().skip(full) {
            out.add(c).write(i16::from(byte as i8));
        }
        wide.set_len(q.len());
    }

    /// One tile of `R` rows x one block for [`avx2`]: `vpmaddwd` of a
    /// broadcast pair of a row's i16 inputs with 8 outputs' i16 weights.
    /// AVX2's byte product (`vpmaddubsw`) would saturate with shifted
    /// activations, and moving a's sign onto the weights first costs a
    /// `vpsignb` per product and a `vpabsb` per broadcast: on the Zen 3
    /// measured (BENCHMARKS.md) the i16 products ran 6-15% faster.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn tile_avx2<const R: usize>(
        a: &[i16],
        scales: &[f32],
        r0: usize,
        b: usize,
        l: &Layer,
        y: *mut f32,
    ) {
        let k = l.k;
        let pairs = k / 2;
        let wp = l.wide.as_ptr().add(b * pairs * BLOCK * 2);
        let ap = a.as_ptr().add(r0 * k);
        let mut c = [[_mm256_setzero_si256(); 2]; R];
        for p in 0..pairs {
            let w0 = _mm256_loadu_si256(wp.add(p * BLOCK * 2) as *const _);
            let w1 = _mm256_loadu_si256(wp.add(p * BLOCK * 2 + 16) as *const _);
            for (i, ci) in c.iter_mut().enumerate() {
                let x = _mm256_set1_epi32(std::ptr::read_unaligned(
                    ap.add(i * k + 2 * p) as *const i32
                ));
                ci[0] = _mm256_add_epi32(ci[0], _mm256_madd_epi16(x, w0));
                ci[1] = _mm256_add_epi32(ci[1], _mm256_madd_epi16(x, w1));
            }
        }
        store256(&c, None, scales, r0, b, l, y);
    }

    #[target_feature(enable = "avx2,avxvnni")]
    pub unsafe fn vnni256(q: &[u8], scales: &[f32], rows: usize, l: &Layer, y: *mut f32) {
        for b in 0..l.n / BLOCK {
            for r0 in (0..rows).step_by(ROWS) {
                match ROWS.min(rows - r0) {
                    4 => tile_vnni256::<4>(q, scales, r0, b, l, y),
                    3 => tile_vnni256::<3>(q, scales, r0, b, l, y),
                    2 => tile_vnni256::<2>(q, scales, r0, b, l, y),
                    _ => tile_vnni256::<1>(q, scales, r0, b, l, y),
                }
            }
        }
    }

    /// The AVX2 kernel on i16 activations ([`widen`]). Rows go in panels
    /// whose activations stay in L2 while every block of outputs passes
    /// them (a batch's 1,024 rows of 1,536 inputs are 3 MB as i16).
    #[target_feature(enable = "avx2")]
    pub unsafe fn avx2(a: &[i16], scales: &[f32], rows: usize, l: &Layer, y: *mut f32) {
        let panel = (AVX2_PANEL_BYTES / (l.k * 2)).div_ceil(ROWS).max(1) * ROWS;
        for p0 in (0..rows).step_by(panel) {
            let end = rows.min(p0 + panel);
            for b in 0..l.n / BLOCK {
                for r0 in (p0..end).step_by(ROWS) {
                    match ROWS.min(end - r0) {
                        4 => tile_avx2::<4>(a, scales, r0, b, l, y),
                        3 => tile_avx2::<3>(a, scales, r0, b, l, y),
                        2 => tile_avx2::<2>(a, scales, r0, b, l, y),
                        _ => tile_avx2::<1>(a, scales, r0, b, l, y),
                    }
                }
            }
        }
    }
}

/// Every kernel's status on this CPU: runs, or why not.
pub fn kernels() -> Vec<(Kernel, std::result::Result<(), String>)> {
    Kernel::ALL
        .into_iter()
        .map(|k| (k, k.supported()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f32 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        }
    }

    fn random(n: usize, rng: &mut Lcg) -> Vec<f32> {
        (0..n).map(|_| rng.next()).collect()
    }

    /// Each kernel this CPU runs gives exactly the scalar kernel's result,
    /// on odd sizes with tails in rows, inputs and outputs; a kernel it
    /// cannot run is reported as skipped, with the reason.
    #[test]
    fn every_kernel_the_cpu_runs_equals_the_scalar_reference() {
        let mut rng = Lcg(7);
        let mut ran = Vec::new();
        for &(rows, inputs, outputs) in &[
            (1, 4, 16),
            (3, 7, 5),
            (5, 384, 1152),
            (9, 1536, 384),
            (13, 66, 83),
        ] {
            let w = random(outputs * inputs, &mut rng);
            let b = random(outputs, &mut rng);
            // extremes too: a row of zeros, and one of the largest values
            let mut x = random(rows * inputs, &mut rng);
            x[..inputs].iter_mut().for_each(|v| *v = 0.0);
            if rows > 1 {
                x[inputs..2 * inputs]
                    .iter_mut()
                    .for_each(|v| *v = if *v < 0.0 { -8.0 } else { 8.0 });
            }
            let reference = QuantLinear::new(&w, &b, inputs, Kernel::Scalar).forward(&x, rows);
            for kernel in Kernel::ALL {
                if let Err(why) = kernel.supported() {
                    eprintln!("SKIPPED int8 kernel {}: {why}", kernel.name());
                    continue;
                }
                let got = QuantLinear::new(&w, &b, inputs, kernel).forward(&x, rows);
                assert_eq!(
                    got,
                    reference,
                    "{} at {rows}x{inputs}x{outputs}",
                    kernel.name()
                );
                ran.push(kernel.name());
            }
        }
        eprintln!("int8 kernels checked on this CPU: {ran:?}");
    }

    /// The scalar kernel is close to the f32 product: the quantisation error
    /// is bounded by the scales.
    #[test]
    fn the_quantised_product_is_close_to_the_f32_one() {
        let mut rng = Lcg(11);
        let (rows, inputs, outputs) = (8, 384, 96);
        let w = random(outputs * inputs, &mut rng);
        let b = random(outputs, &mut rng);
        let x = random(rows * inputs, &mut rng);
        let got = QuantLinear::new(&w, &b, inputs, Kernel::Scalar).forward(&x, rows);
        let mut worst = 0f32;
        let mut cos_min = 1f32;
        for r in 0..rows {
            let exact: Vec<f32> = (0..outputs)
                .map(|o| {
                    b[o] + (0..inputs)
                        .map(|i| x[r * inputs + i] * w[o * inputs + i])
                        .sum::<f32>()
                })
                .collect();
            let g = &got[r * outputs..(r + 1) * outputs];
            for (p, q) in exact.iter().zip(g) {
                worst = worst.max((p - q).abs());
            }
            let dot: f32 = exact.iter().zip(g).map(|(p, q)| p * q).sum();
            let norm = |v: &[f32]| v.iter().map(|a| a * a).sum::<f32>().sqrt();
            cos_min = cos_min.min(dot / (norm(&exact) * norm(g)));
        }
        assert!(cos_min > 0.9995, "cosine {cos_min}");
        assert!(worst < 0.15, "max abs error {worst}");
    }

    fn exact(x: &[f32], w: &[f32], b: &[f32], rows: usize, inputs: usize) -> Vec<f32> {
        let outputs = b.len();
        (0..rows * outputs)
            .map(|at| {
                let (r, o) = (at / outputs, at % outputs);
                b[o] + (0..inputs)
                    .map(|i| x[r * inputs + i] * w[o * inputs + i])
                    .sum::<f32>()
            })
            .collect()
    }

    fn max_error(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(p, q)| (p - q).abs())
            .fold(0f32, f32::max)
    }

    /// Activations with a few channels 30x larger than the rest (as the
    /// encoder's are): smoothing moves that range into the weights, and the
    /// product's error falls; every kernel still equals the scalar one.
    #[test]
    fn smoothing_outlier_channels_cuts_the_error_and_keeps_kernels_identical() {
        let mut rng = Lcg(5);
        let (rows, inputs, outputs) = (16, 384, 64);
        let w = random(outputs * inputs, &mut rng);
        let b = random(outputs, &mut rng);
        let mut x = random(rows * inputs, &mut rng);
        for r in 0..rows {
            for c in [3, 77, 200] {
                x[r * inputs + c] *= 30.0;
            }
        }
        let amax: Vec<f32> = (0..inputs)
            .map(|c| {
                (0..rows)
                    .map(|r| x[r * inputs + c].abs())
                    .fold(0f32, f32::max)
            })
            .collect();
        let want = exact(&x, &w, &b, rows, inputs);
        let plain = QuantLinear::new(&w, &b, inputs, Kernel::Scalar).forward(&x, rows);
        let smooth =
            QuantLinear::smoothed(&w, &b, inputs, &amax, 0.5, Kernel::Scalar).forward(&x, rows);
        let (e_plain, e_smooth) = (max_error(&want, &plain), max_error(&want, &smooth));
        eprintln!("max abs error: plain {e_plain:.4}, smoothed {e_smooth:.4}");
        assert!(
            e_smooth < e_plain / 2.0,
            "plain {e_plain}, smoothed {e_smooth}"
        );
        for kernel in Kernel::ALL {
            if let Err(why) = kernel.supported() {
                eprintln!("SKIPPED int8 kernel {}: {why}", kernel.name());
                continue;
            }
            let got = QuantLinear::smoothed(&w, &b, inputs, &amax, 0.5, kernel).forward(&x, rows);
            assert_eq!(got, smooth, "{}", kernel.name());
        }
    }

    /// A layer written and read back is the same layer; cut or
    /// inconsistent bytes are refused.
    #[test]
    fn a_layer_reads_back_as_written() {
        let mut rng = Lcg(9);
        let (rows, inputs, outputs) = (3, 66, 83);
        let w = random(outputs * inputs, &mut rng);
        let b = random(outputs, &mut rng);
        let x = random(rows * inputs, &mut rng);
        let amax = vec![1.0; inputs];
        for layer in [
            QuantLinear::new(&w, &b, inputs, Kernel::Scalar),
            QuantLinear::smoothed(&w, &b, inputs, &amax, 0.5, Kernel::Scalar),
        ] {
            let mut bytes = Vec::new();
            layer.write(&mut bytes);
            let mut at = 0;
            let read = QuantLinear::read(&bytes, &mut at, Kernel::Scalar).unwrap();
            assert_eq!(at, bytes.len());
            assert_eq!(read.forward(&x, rows), layer.forward(&x, rows));
            assert!(QuantLinear::read(&bytes[..bytes.len() - 1], &mut 0, Kernel::Scalar).is_none());
            let mut wrong = bytes.clone();
            wrong[16] ^= 1; // k no longer fits the inputs
            assert!(QuantLinear::read(&wrong, &mut 0, Kernel::Scalar).is_none());
        }
    }

    /// A layer of each kernel this CPU runs (the AVX2 one holds its weights
    /// as i16 pairs) writes the scalar layer's bytes, and reads back as a
    /// layer of that kernel with the same results.
    #[test]
    fn every_kernel_writes_and_reads_the_same_cache_bytes() {
        let mut rng = Lcg(13);
        let (rows, inputs, outputs) = (5, 70, 37);
        let w = random(outputs * inputs, &mut rng);
        let b = random(outputs, &mut rng);
        let x = random(rows * inputs, &mut rng);
        let mut reference = Vec::new();
        QuantLinear::new(&w, &b, inputs, Kernel::Scalar).write(&mut reference);
        let expected = QuantLinear::new(&w, &b, inputs, Kernel::Scalar).forward(&x, rows);
        let mut ran = Vec::new();
        for kernel in Kernel::ALL {
            if let Err(why) = kernel.supported() {
                eprintln!("SKIPPED int8 kernel {}: {why}", kernel.name());
                continue;
            }
            let mut bytes = Vec::new();
            QuantLinear::new(&w, &b, inputs, kernel).write(&mut bytes);
            assert_eq!(bytes, reference, "{}", kernel.name());
            let read = QuantLinear::read(&bytes, &mut 0, kernel).unwrap();
            assert_eq!(read.forward(&x, rows), expected, "{}", kernel.name());
            ran.push(kernel.name());
        }
        eprintln!("int8 cache bytes checked on this CPU: {ran:?}");
    }
}
