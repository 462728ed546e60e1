//! The handwritten-character recogniser for comb cells: a small CNN over MNIST-style cells.
//!
//! Comb fields (ID number, dates, phone numbers) hold one handwritten character per printed
//! box: a digit `0`–`9`, or `X` as the check character of a Chinese ID number. This module
//! turns one cell into probabilities over those 11 classes ([`CLASSES`]); deciding what is
//! confident enough, and what to do with an `X` outside the 18th place, is the caller's job.
//!
//! # Input convention
//!
//! The network sees a 28×28 image, row-major, values in `[0, 1]`, **ink = 1**, paper = 0. The
//! character's ink box is scaled (aspect preserved) so its longer side is 20 px, and it is
//! placed so its centre of mass is at row 14, column 14 (pixel `(r, c)` has its centre at
//! `(r, c)`). That is exactly how MNIST was prepared (LeCun, Bottou, Bengio & Haffner,
//! "Gradient-based learning applied to document recognition", Proc. IEEE 86(11), 1998: size
//! normalised into a 20×20 box, then centred by centre of mass in a 28×28 field), so the
//! network's training data and real cells look alike. [`normalise_cell`] makes that image from
//! a grey scan patch.
//!
//! # Model
//!
//! ```text
//! 1×28×28 → conv 3×3 (valid) 1→C1 + bias, ReLU → C1×26×26 → max-pool 2×2/2 → C1×13×13
//!         → conv 3×3 (valid) C1→C2 + bias, ReLU → C2×11×11 → max-pool 2×2/2 (floor) → C2×5×5
//!         → flatten (channel, row, column) → 25·C2 → dense 25·C2→H + bias, ReLU
//!         → dense H→11 + bias → softmax
//! ```
//!
//! The widths C1/C2/H are 16/32/128 for the primary network, which reads every cell, and
//! 32/64/128 for the wide ensemble member, which reads only the cells the primary is unsure
//! of (see [`CnnEnsemble`]). A file declares its widths through its tensor shapes.
//!
//! "conv" is cross-correlation, as in every deep-learning library:
//! `out[o][y][x] = b[o] + Σ_{i,ky,kx} w[o][i][ky][kx] · in[i][y+ky][x+kx]`. The floor pooling
//! drops the conv2 output's last row and column, so they are never computed here.
//!
//! Trained by `tools/train_digits.py` (numpy, see `assets/models/README.md` for the data split,
//! seed and measured accuracy) on MNIST training images 0–44,999 plus synthetic `X`; MNIST is
//! by LeCun, Cortes and Burges, CC BY-SA 3.0. Training puts a batch norm after conv2 and
//! after fc1; the exporter folds them into those layers' weights and biases, so the file and
//! this module know only plain convolutions and dense layers.
//!
//! # Weight file format (`assets/models/digits-cnn.bin`)
//!
//! All little-endian. 8 bytes of magic `b"FSCNN1\0\0"`, then exactly 8 tensors in this order,
//! each stored as `u32 ndim`, `ndim × u32` dims, then `Π dims × f32` in row-major order (last
//! axis fastest); nothing follows the last tensor.
//!
//! | # | tensor | dims | axis order |
//! |---|---|---|---|
//! | 0 | conv1.weight | `[C1, 1, 3, 3]` | out channel, in channel, kernel row, kernel column |
//! | 1 | conv1.bias | `[C1]` | |
//! | 2 | conv2.weight | `[C2, C1, 3, 3]` | out channel, in channel, kernel row, kernel column |
//! | 3 | conv2.bias | `[C2]` | |
//! | 4 | fc1.weight | `[H, 25·C2]` | out, in; in = channel · 25 + row · 5 + column |
//! | 5 | fc1.bias | `[H]` | |
//! | 6 | fc2.weight | `[11, H]` | out (class index into [`CLASSES`]), in |
//! | 7 | fc2.bias | `[11]` | |
//!
//! This is PyTorch's layout, so a model trained elsewhere can be exported to it. When loading,
//! the weights are rearranged so the innermost loop of inference always runs over output
//! channels, which the compiler vectorises.

use std::fmt;
use std::sync::OnceLock;

use crate::error::{Error, Result};

mod depthwise;
mod ensemble;
pub mod text_line;
pub use ensemble::CnnEnsemble;

/// The 11 class labels, in the order of [`DigitClassifier::classify`]'s output.
pub const CLASSES: [char; 11] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'X'];

/// Probabilities over the 11 classes '0'..'9','X' for one normalised 28×28 cell.
pub trait DigitClassifier: Send + Sync {
    /// Classifies one cell prepared as [`normalise_cell`] does (see the module's input
    /// convention); returns probabilities indexed like [`CLASSES`], summing to 1.
    fn classify(&self, cell: &[f32; 784]) -> [f32; 11];
}

/// The weights compiled into the library.
const BUNDLED: &[u8] = include_bytes!("../../assets/models/digits-cnn.bin");
const MAGIC: &[u8; 8] = b"FSCNN1\0\0";
const NAME: &str = "digits-cnn";

const SIDE: usize = 28;
const P1: usize = 13; // side after the first pool
const P2: usize = 5; // side after the second pool

/// The layer widths (conv1 channels, conv2 channels, dense units) inference is compiled for.
/// A weight file declares its widths in its tensor shapes; each supported shape gets its own
/// fully unrolled forward pass (const generics), so the loops over channels have fixed
/// lengths the compiler vectorises.
const SHAPES: [(usize, usize, usize); 2] = [(16, 32, 128), (32, 64, 128)];
/// The largest conv2 output over all [`SHAPES`], flattened: sizes the stack buffer of fc1.
const MAX_FLAT: usize = 64 * P2 * P2;

/// A CNN of the architecture in the module documentation, in one of the supported widths.
///
/// Inference allocates nothing: the activations (at most about 40 KiB) live on the stack. The
/// narrow network (16/32/128) costs at most 0.66 M multiply-adds per cell, the wide one
/// (32/64/128) 2.2 M; fewer the more of the cell is blank.
pub struct CnnDigits {
    c1: usize,
    c2: usize,
    hidden: usize,
    /// `[ky * 3 + kx][out]`, flattened.
    conv1: Vec<f32>,
    conv1_b: Vec<f32>,
    /// `[(ky * 3 + kx) * c1 + in][out]`, flattened.
    conv2: Vec<f32>,
    conv2_b: Vec<f32>,
    /// `[(row * 5 + col) * c2 + channel][out]`, flattened: the input in the order the pooled
    /// activations are stored here (row, column, channel), not the file's (channel, row, column).
    fc1: Vec<f32>,
    fc1_b: Vec<f32>,
    /// `[class][in]`, flattened.
    fc2: Vec<f32>,
    fc2_b: [f32; 11],
    /// What the network computes over blank paper (see [`CnnDigits::logits`]): a pooled conv1
    /// cell over a blank 4×4 patch, ReLU(conv1 bias), ...
    blank_p1: Vec<f32>,
    /// ... and conv2 over a 3×3 window of such cells.
    blank_conv2: Vec<f32>,
}

impl fmt::Debug for CnnDigits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let layers = format!("conv{}-conv{}-fc{}-fc11", self.c1, self.c2, self.hidden);
        f.debug_struct("CnnDigits").field("layers", &layers).finish_non_exhaustive()
    }
}

/// `v` as fixed-size rows of `N` (the loader guarantees the length is a multiple).
#[inline(always)]
fn rows<const N: usize>(v: &[f32]) -> &[[f32; N]] {
    v.as_chunks::<N>().0
}

/// `v` as one fixed-size array of `N` (the loader guarantees the length).
#[inline(always)]
fn fixed<const N: usize>(v: &[f32]) -> [f32; N] {
    rows::<N>(v)[0]
}

fn model_error(reason: impl Into<String>) -> Error {
    Error::Model { name: NAME.to_string(), reason: reason.into() }
}

/// A cursor over the weight file; every read checks the length, so bad data is an error.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize, what: &str) -> Result<&[u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(model_error(format!("truncated at byte {} while reading {what}", self.pos)));
        };
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The first dimension of the next tensor, without consuming it (0 when it has none).
    fn peek_first_dim(&mut self, what: &str) -> Result<usize> {
        let start = self.pos;
        let ndim = self.u32(what)?;
        let first = if ndim == 0 { 0 } else { self.u32(what)? as usize };
        self.pos = start;
        // No supported width is near this; the cap keeps the size arithmetic that follows far
        // from overflow whatever the file declares.
        if first > 1024 {
            return Err(model_error(format!("{what}: implausible width {first}")));
        }
        Ok(first)
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads one tensor, insisting on exactly the `dims` this architecture needs (a file for
    /// another architecture must fail here, not produce garbage).
    fn tensor(&mut self, name: &str, dims: &[usize]) -> Result<Vec<f32>> {
        let ndim = self.u32(name)? as usize;
        if ndim != dims.len() {
            return Err(model_error(format!("{name}: {ndim} dimensions, expected {}", dims.len())));
        }
        let mut found = Vec::with_capacity(ndim);
        for _ in 0..ndim {
            found.push(self.u32(name)? as usize);
        }
        if found != dims {
            return Err(model_error(format!("{name}: shape {found:?}, expected {dims:?}")));
        }
        let n: usize = dims.iter().product();
        let raw = self.take(n * 4, name)?;
        let data: Vec<f32> = raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(model_error(format!("{name}: value {i} is not finite")));
        }
        Ok(data)
    }
}

impl CnnDigits {
    /// The model compiled into the library, parsed on first use.
    ///
    /// # Panics
    ///
    /// Only if the committed `assets/models/digits-cnn.bin` is corrupt, which this module's
    /// unit tests rule out.
    pub fn bundled() -> &'static CnnDigits {
        static MODEL: OnceLock<CnnDigits> = OnceLock::new();
        MODEL.get_or_init(|| CnnDigits::from_bytes(BUNDLED).expect("the bundled digits-cnn.bin is valid"))
    }

    /// Parses a weight file in the format described in the module documentation.
    ///
    /// The layer widths are read from the tensor shapes and must be one of the supported
    /// shapes (16/32/128 or 32/64/128). Returns [`Error::Model`] for a wrong magic, a tensor
    /// of the wrong or an unsupported shape, truncated data, trailing bytes or a non-finite
    /// weight; never panics.
    pub fn from_bytes(b: &[u8]) -> Result<CnnDigits> {
        let mut r = Reader { bytes: b, pos: 0 };
        if r.take(8, "magic")? != MAGIC {
            return Err(model_error("not a formscan CNN file (bad magic)"));
        }
        // The widths come from the first dimension of conv1, conv2 and fc1; every other
        // dimension is then fixed, and `tensor` checks it.
        let c1 = r.peek_first_dim("conv1.weight")?;
        let w1 = r.tensor("conv1.weight", &[c1, 1, 3, 3])?;
        let b1 = r.tensor("conv1.bias", &[c1])?;
        let c2 = r.peek_first_dim("conv2.weight")?;
        let w2 = r.tensor("conv2.weight", &[c2, c1, 3, 3])?;
        let b2 = r.tensor("conv2.bias", &[c2])?;
        let hidden = r.peek_first_dim("fc1.weight")?;
        let flat = c2 * P2 * P2;
        let w3 = r.tensor("fc1.weight", &[hidden, flat])?;
        let b3 = r.tensor("fc1.bias", &[hidden])?;
        let w4 = r.tensor("fc2.weight", &[11, hidden])?;
        let b4 = r.tensor("fc2.bias", &[11])?;
        if r.pos != b.len() {
            return Err(model_error(format!("{} trailing bytes after the last tensor", b.len() - r.pos)));
        }
        if !SHAPES.contains(&(c1, c2, hidden)) {
            return Err(model_error(format!("layer widths {c1}/{c2}/{hidden} are not one of {SHAPES:?}")));
        }

        // File order is [out][in][ky][kx]; inference wants the output channel innermost.
        let mut conv1 = vec![0.0; 9 * c1];
        for (o, k) in (0..c1).flat_map(|o| (0..9).map(move |k| (o, k))) {
            conv1[k * c1 + o] = w1[o * 9 + k];
        }
        let mut conv2 = vec![0.0; 9 * c1 * c2];
        for o in 0..c2 {
            for i in 0..c1 {
                for k in 0..9 {
                    conv2[(k * c1 + i) * c2 + o] = w2[(o * c1 + i) * 9 + k];
                }
            }
        }
        // File input index is channel * 25 + pixel; here it is pixel * c2 + channel.
        let mut fc1 = vec![0.0; flat * hidden];
        for o in 0..hidden {
            for c in 0..c2 {
                for px in 0..P2 * P2 {
                    fc1[(px * c2 + c) * hidden + o] = w3[o * flat + c * P2 * P2 + px];
                }
            }
        }
        let blank_p1: Vec<f32> = b1.iter().map(|b| b.max(0.0)).collect();
        let mut model = CnnDigits {
            c1,
            c2,
            hidden,
            conv1,
            conv1_b: b1,
            conv2,
            conv2_b: b2,
            fc1,
            fc1_b: b3,
            fc2: w4,
            fc2_b: fixed(&b4),
            blank_conv2: Vec::new(),
            blank_p1,
        };
        model.blank_conv2 = match (c1, c2) {
            (16, 32) => model.conv2_at::<16, 32>(&[fixed(&model.blank_p1); P1 * P1], 0, 0).to_vec(),
            _ => model.conv2_at::<32, 64>(&[fixed(&model.blank_p1); P1 * P1], 0, 0).to_vec(),
        };
        Ok(model)
    }

    /// The layer widths: conv1 channels, conv2 channels, dense units.
    pub fn widths(&self) -> (usize, usize, usize) {
        (self.c1, self.c2, self.hidden)
    }

    /// conv2's pre-activation at output position (`y`, `x`) over the pooled conv1 map `p1`.
    #[inline(always)]
    fn conv2_at<const C1: usize, const C2: usize>(&self, p1: &[[f32; C1]; P1 * P1], y: usize, x: usize) -> [f32; C2] {
        let mut acc: [f32; C2] = fixed(&self.conv2_b);
        let conv2 = rows::<C2>(&self.conv2);
        for k in 0..9 {
            let input = &p1[(y + k / 3) * P1 + x + k % 3];
            let taps = &conv2[k * C1..(k + 1) * C1];
            for (&v, w) in input.iter().zip(taps) {
                for o in 0..C2 {
                    acc[o] += v * w[o];
                }
            }
        }
        acc
    }

    /// The forward pass; returns the 11 logits.
    ///
    /// Most of a normalised cell is paper (exactly 0), and over paper every layer computes
    /// the same thing everywhere: a pooled conv1 cell over a 4×4 blank patch is ReLU(conv1
    /// bias), and a conv2 output whose 3×3 window holds only such cells is a constant. Both
    /// are taken from the stored blank values instead of being recomputed. The constants were computed by
    /// the same code in the same order, so the result is bit-for-bit the same either way.
    fn logits(&self, x: &[f32; 784]) -> [f32; 11] {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { self.logits_avx2(x) };
        }
        self.logits_portable(x)
    }

    /// [`CnnDigits::logits`] compiled for AVX2: the same code, so the compiler may use 8-lane
    /// registers for the per-channel loops (about twice as fast). Rust never contracts a
    /// multiply and an add into an FMA on its own, and every lane sums in the same order, so
    /// the result is bit-for-bit that of the portable build.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn logits_avx2(&self, x: &[f32; 784]) -> [f32; 11] {
        self.logits_portable(x)
    }

    #[inline(always)]
    fn logits_portable(&self, x: &[f32; 784]) -> [f32; 11] {
        // One arm per entry of SHAPES; the loader admits no other widths.
        match (self.c1, self.c2, self.hidden) {
            (16, 32, 128) => self.forward::<16, 32, 128>(x),
            _ => self.forward::<32, 64, 128>(x),
        }
    }

    /// The forward pass for layer widths `C1`/`C2`/`H` (one of [`SHAPES`]).
    #[inline(always)]
    fn forward<const C1: usize, const C2: usize, const H: usize>(&self, x: &[f32; 784]) -> [f32; 11] {
        let conv1 = rows::<C1>(&self.conv1);
        let (conv1_b, blank_p1): ([f32; C1], [f32; C1]) = (fixed(&self.conv1_b), fixed(&self.blank_p1));
        let blank_conv2: [f32; C2] = fixed(&self.blank_conv2);
        // conv1 → 2×2 max-pool → ReLU, fused: ReLU and max commute, so each pooled value is
        // the ReLU of the largest of its four conv outputs. Layout [row * 13 + col][channel].
        let mut p1 = [[0.0f32; C1]; P1 * P1];
        let mut blank1 = [false; P1 * P1];
        for py in 0..P1 {
            for px in 0..P1 {
                let i = py * P1 + px;
                // The four 3×3 windows of this cell cover the 4×4 patch at (2py, 2px).
                let patch = (0..4).flat_map(|r| &x[(2 * py + r) * SIDE + 2 * px..][..4]);
                if patch.clone().all(|&v| v == 0.0) {
                    p1[i] = blank_p1;
                    blank1[i] = true;
                    continue;
                }
                let mut best = [f32::NEG_INFINITY; C1];
                for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let (y, x0) = (2 * py + dy, 2 * px + dx);
                    let mut acc = conv1_b;
                    for (k, w) in conv1.iter().enumerate() {
                        let v = x[(y + k / 3) * SIDE + x0 + k % 3];
                        for o in 0..C1 {
                            acc[o] += v * w[o];
                        }
                    }
                    for o in 0..C1 {
                        best[o] = best[o].max(acc[o]);
                    }
                }
                for o in 0..C1 {
                    p1[i][o] = best[o].max(0.0);
                }
            }
        }

        // conv2 → pool → ReLU the same way, on the 10×10 conv outputs the floor pool keeps.
        let mut p2 = [[0.0f32; C2]; P2 * P2];
        for py in 0..P2 {
            for px in 0..P2 {
                let mut best = [f32::NEG_INFINITY; C2];
                for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let (y, x0) = (2 * py + dy, 2 * px + dx);
                    let blank = (0..9).all(|k| blank1[(y + k / 3) * P1 + x0 + k % 3]);
                    let acc = if blank { blank_conv2 } else { self.conv2_at::<C1, C2>(&p1, y, x0) };
                    for o in 0..C2 {
                        best[o] = best[o].max(acc[o]);
                    }
                }
                let cell = &mut p2[py * P2 + px];
                for o in 0..C2 {
                    cell[o] = best[o].max(0.0);
                }
            }
        }

        // fc1 over the non-zero inputs only (ReLU zeroes about half), 32 outputs at a time so
        // the accumulators stay in registers while the 400 KB of weights stream past.
        let mut nz = [(0u16, 0.0f32); MAX_FLAT];
        let mut n = 0;
        for (i, &v) in (0u16..).zip(p2.iter().flatten()) {
            // Branch-free compaction: always write, advance only past non-zeros.
            nz[n] = (i, v);
            n += usize::from(v != 0.0);
        }
        let fc1 = rows::<H>(&self.fc1);
        let mut h: [f32; H] = fixed(&self.fc1_b);
        for (block, out) in h.chunks_exact_mut(32).enumerate() {
            let mut acc = [0.0f32; 32];
            acc.copy_from_slice(out);
            for &(i, v) in &nz[..n] {
                let w = &fc1[usize::from(i)][block * 32..][..32];
                for o in 0..32 {
                    acc[o] += v * w[o];
                }
            }
            for (o, a) in out.iter_mut().zip(acc) {
                *o = a.max(0.0);
            }
        }

        let mut logits = self.fc2_b;
        for (l, w) in logits.iter_mut().zip(rows::<H>(&self.fc2)) {
            *l += h.iter().zip(w).map(|(a, b)| a * b).sum::<f32>();
        }
        logits
    }
}

impl DigitClassifier for CnnDigits {
    fn classify(&self, cell: &[f32; 784]) -> [f32; 11] {
        softmax(self.logits(cell))
    }
}

fn softmax(z: [f32; 11]) -> [f32; 11] {
    let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut p = z.map(|v| (v - m).exp());
    let s: f32 = p.iter().sum();
    for v in &mut p {
        *v /= s;
    }
    p
}

/// Darkness below this fraction of the paper level is not ink: a blank cell's scanner noise
/// and paper texture stay well under it, a pen stroke or pencil is well above.
const MIN_INK: f32 = 0.2;
/// Pixels darker than this fraction of the darkest ink count as the character's shape (its
/// box); MNIST's box is that of the binary NIST scan, and the anti-aliased grey edge lies
/// around it.
const SHAPE_LEVEL: f32 = 0.5;
/// Darkness mapping to 0 and to 1, as fractions of the darkest ink: the faint end removes
/// paper texture, and the dark end saturates the stroke cores the way MNIST's are.
const GREY_LO: f32 = 0.2;
const GREY_HI: f32 = 0.75;
/// Grey around the shape box that is kept, in source pixels (the anti-aliased edge); ink
/// further out (specks, box remnants) is dropped.
const MARGIN: usize = 2;

/// MNIST-style normalisation (LeCun et al. 1998): from a grey patch (row-major, `w`×`h`,
/// values 0..255 where INK IS DARK, paper bright, `paper` = paper level) produce the 28×28
/// input: threshold/bbox of the ink, scale longer side to 20 px (area-averaging), centre of
/// mass to (14,14). Returns None if there is no ink.
///
/// In detail: each pixel's darkness is `(paper − v) / paper`. If no pixel reaches 0.2 there is
/// no ink. The character's box is that of the pixels at least half as dark as the darkest;
/// greys within 2 px of the box are kept, anything further out is dropped. Darkness is
/// stretched so 20 % of the darkest maps to 0 and 75 % to 1 (paper texture disappears,
/// stroke cores saturate as MNIST's do). The box's longer side is scaled to 20 px, averaging
/// the source pixels under each output pixel when shrinking (linear interpolation when
/// enlarging), and the centre of mass lands on pixel (14, 14).
///
/// Also `None` for a malformed call: `patch.len() != w * h`, an empty patch, or a `paper`
/// level that is not a positive finite number.
pub fn normalise_cell(patch: &[u8], w: usize, h: usize, paper: f32) -> Option<[f32; 784]> {
    if w == 0 || h == 0 || w.checked_mul(h) != Some(patch.len()) || !(paper.is_finite() && paper > 0.0) {
        return None;
    }
    // Every written cell of every page comes through here: the buffers are kept per thread
    // rather than allocated per cell.
    NORMALISE_SCRATCH.with(|s| normalise_with(&mut s.borrow_mut(), patch, w, h, paper))
}

/// Buffers of [`normalise_cell`], reused across calls on one thread.
#[derive(Default)]
struct NormaliseScratch {
    dark: Vec<f32>,
    grey: Vec<f32>,
    rows: Vec<f32>,
    wx: Resampler,
    wy: Resampler,
}

thread_local! {
    static NORMALISE_SCRATCH: std::cell::RefCell<NormaliseScratch> = std::cell::RefCell::default();
}

fn normalise_with(s: &mut NormaliseScratch, patch: &[u8], w: usize, h: usize, paper: f32) -> Option<[f32; 784]> {
    let dark = &mut s.dark;
    dark.clear();
    dark.extend(patch.iter().map(|&v| ((paper - f32::from(v)) / paper).clamp(0.0, 1.0)));
    let dmax = dark.iter().copied().fold(0.0, f32::max);
    if dmax < MIN_INK {
        return None;
    }

    // The character's box, from the pixels that belong to the shape.
    let (mut x0, mut x1, mut y0, mut y1) = (usize::MAX, 0, usize::MAX, 0);
    let level = SHAPE_LEVEL * dmax;
    for (y, row) in dark.chunks_exact(w).enumerate() {
        let Some(first) = row.iter().position(|&d| d >= level) else { continue };
        let last = row.iter().rposition(|&d| d >= level).unwrap_or(first);
        x0 = x0.min(first);
        x1 = x1.max(last);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let scale = 20.0 / (x1 - x0 + 1).max(y1 - y0 + 1) as f32;
    let (cx0, cx1) = (x0.saturating_sub(MARGIN), (x1 + MARGIN).min(w - 1));
    let (cy0, cy1) = (y0.saturating_sub(MARGIN), (y1 + MARGIN).min(h - 1));
    let (cw, ch) = (cx1 - cx0 + 1, cy1 - cy0 + 1);

    // Grey levels of the crop, and their centre of mass (pixel centres at integer coordinates).
    let (lo, hi) = (GREY_LO * dmax, GREY_HI * dmax);
    let grey = &mut s.grey;
    grey.clear();
    grey.resize(cw * ch, 0.0);
    let (mut mass, mut mx, mut my) = (0.0f64, 0.0f64, 0.0f64);
    for y in 0..ch {
        for x in 0..cw {
            let g = ((dark[(cy0 + y) * w + cx0 + x] - lo) / (hi - lo)).clamp(0.0, 1.0);
            grey[y * cw + x] = g;
            mass += f64::from(g);
            mx += f64::from(g) * x as f64;
            my += f64::from(g) * y as f64;
        }
    }
    if mass <= 0.0 {
        return None;
    }
    let (cx, cy) = ((mx / mass) as f32, (my / mass) as f32);

    // Separable resampling: out = Wy · grey · Wxᵀ, each output pixel touching only the few
    // source pixels under its window.
    let (wx, wy) = (&mut s.wx, &mut s.wy);
    wx.set(cw, cx, scale);
    wy.set(ch, cy, scale);
    let rows = &mut s.rows; // Wy · grey
    rows.clear();
    rows.resize(SIDE * cw, 0.0);
    for (v, row) in rows.chunks_exact_mut(cw).enumerate() {
        for y in wy.span(v) {
            let k = wy.weight(v, y);
            for (r, &g) in row.iter_mut().zip(&grey[y * cw..(y + 1) * cw]) {
                *r += k * g;
            }
        }
    }
    let mut out = [0.0f32; 784];
    for (v, out_row) in out.chunks_exact_mut(SIDE).enumerate() {
        let row = &rows[v * cw..(v + 1) * cw];
        for (u, o) in out_row.iter_mut().enumerate() {
            let s: f32 = wx.span(u).map(|x| row[x] * wx.weight(u, x)).sum();
            *o = s.clamp(0.0, 1.0);
        }
    }
    out.iter().any(|&v| v > 0.0).then_some(out)
}

/// Weights mapping `n` source pixels onto 28 output pixels so that source coordinate `centre`
/// lands on output 14 and one source pixel spans `scale` output pixels.
///
/// Output pixel `u` averages the source over a window centred at `centre + (u − 14) / scale`,
/// `1 / scale` wide when shrinking (area averaging: every source pixel counted once) and one
/// pixel wide when enlarging (which, over a piecewise-constant image, is linear interpolation).
#[derive(Default)]
struct Resampler {
    n: usize,
    /// `[28][n]`, zero outside each output's span.
    weights: Vec<f32>,
    /// Per output pixel, the source range with non-zero weight (empty off the patch).
    spans: [(usize, usize); SIDE],
}

impl Resampler {
    /// Sets the weights for `n` source pixels, reusing the allocation.
    fn set(&mut self, n: usize, centre: f32, scale: f32) {
        let width = (1.0 / scale).max(1.0);
        self.n = n;
        self.weights.clear();
        self.weights.resize(SIDE * n, 0.0);
        for (u, span) in self.spans.iter_mut().enumerate() {
            let mid = centre + (u as f32 - 14.0) / scale;
            let (a, b) = (mid - width / 2.0, mid + width / 2.0);
            // Source pixel x covers [x − 0.5, x + 0.5).
            let first = (a + 0.5).floor().max(0.0) as usize;
            let end = ((b + 0.5).floor() + 1.0).clamp(0.0, n as f32) as usize;
            *span = (first.min(end), end);
            for x in span.0..span.1 {
                let overlap = (b.min(x as f32 + 0.5) - a.max(x as f32 - 0.5)).max(0.0);
                self.weights[u * n + x] = overlap / width;
            }
        }
    }

    fn span(&self, u: usize) -> std::ops::Range<usize> {
        self.spans[u].0..self.spans[u].1
    }

    fn weight(&self, u: usize, x: usize) -> f32 {
        self.weights[u * self.n + x]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 22 MNIST validation inputs (images 45,000+: two of each digit) and two synthetic `X`,
    /// with the numpy model's probabilities; written by `tools/train_digits.py`.
    const PROBE: &[u8] = include_bytes!("../../tests/fixtures/digits-probe.bin");

    pub(crate) struct Probe {
        pub(crate) inputs: Vec<[f32; 784]>,
        probs: Vec<[f32; 11]>,
        pub(crate) labels: Vec<usize>,
    }

    pub(crate) fn probe() -> Probe {
        assert_eq!(&PROBE[..8], b"FSPROBE1");
        let u = |i: usize| u32::from_le_bytes(PROBE[i..i + 4].try_into().unwrap()) as usize;
        let (n, d, c) = (u(8), u(12), u(16));
        assert_eq!((d, c), (784, 11));
        let f = |i: usize| f32::from_le_bytes(PROBE[i..i + 4].try_into().unwrap());
        let (xs, ps, ls) = (20, 20 + n * d * 4, 20 + n * d * 4 + n * c * 4);
        assert_eq!(PROBE.len(), ls + n);
        Probe {
            inputs: (0..n).map(|k| std::array::from_fn(|j| f(xs + (k * d + j) * 4))).collect(),
            probs: (0..n).map(|k| std::array::from_fn(|j| f(ps + (k * c + j) * 4))).collect(),
            labels: PROBE[ls..].iter().map(|&l| l as usize).collect(),
        }
    }

    fn argmax(p: &[f32; 11]) -> usize {
        (0..11).fold(0, |best, i| if p[i] > p[best] { i } else { best })
    }

    fn centre_of_mass(img: &[f32; 784]) -> (f32, f32) {
        let (mut m, mut x, mut y) = (0.0, 0.0, 0.0);
        for (i, &v) in img.iter().enumerate() {
            m += v;
            x += v * (i % SIDE) as f32;
            y += v * (i / SIDE) as f32;
        }
        (x / m, y / m)
    }

    #[test]
    fn bundled_model_reads_validation_digits() {
        let p = probe();
        let model = CnnDigits::bundled();
        for (k, (x, &label)) in p.inputs.iter().zip(&p.labels).enumerate() {
            let probs = model.classify(x);
            assert_eq!(argmax(&probs), label, "probe {k}: {probs:?}");
            assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        // Both classes that share a cell in an ID number are covered.
        assert!(p.labels.contains(&10) && p.labels.contains(&0));
    }

    #[test]
    fn rust_and_numpy_agree() {
        let p = probe();
        let model = CnnDigits::bundled();
        for (k, (x, want)) in p.inputs.iter().zip(&p.probs).enumerate() {
            let got = model.classify(x);
            for c in 0..11 {
                assert!((got[c] - want[c]).abs() < 1e-4, "probe {k} class {c}: rust {} numpy {}", got[c], want[c]);
            }
        }
    }

    /// A probe digit printed as a dark-on-paper scan at 2.5× size, off-centre in a larger
    /// patch, normalised back: the pipeline from scan patch to class works end to end.
    #[test]
    fn normalised_scans_of_validation_digits_classify() {
        let p = probe();
        let model = CnnDigits::bundled();
        let (w, h, paper) = (90usize, 80usize, 235.0f32);
        for (k, (x, &label)) in p.inputs.iter().zip(&p.labels).enumerate() {
            let mut patch = vec![paper as u8; w * h];
            for py in 0..h {
                for px in 0..w {
                    // Nearest-neighbour 2.5× enlargement, placed at (12, 5).
                    let (sx, sy) = ((px as f32 - 12.0) / 2.5, (py as f32 - 5.0) / 2.5);
                    if (0.0..28.0).contains(&sx) && (0.0..28.0).contains(&sy) {
                        let ink = x[sy as usize * SIDE + sx as usize];
                        patch[py * w + px] = (paper - ink * (paper - 30.0)).round() as u8;
                    }
                }
            }
            let cell = normalise_cell(&patch, w, h, paper).expect("ink");
            assert_eq!(argmax(&model.classify(&cell)), label, "probe {k}");
        }
    }

    #[test]
    fn normalise_cell_centres_a_blob() {
        // A dark ellipse, 24 px wide and 36 px tall, in the top-left of a 70×60 patch with
        // speckle-free paper at 220.
        let (w, h) = (70usize, 60usize);
        let mut patch = vec![220u8; w * h];
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = ((x as f32 - 20.0) / 12.0, (y as f32 - 22.0) / 18.0);
                if dx * dx + dy * dy <= 1.0 {
                    patch[y * w + x] = 40;
                }
            }
        }
        let cell = normalise_cell(&patch, w, h, 220.0).expect("ink");
        let (cx, cy) = centre_of_mass(&cell);
        assert!((cx - 14.0).abs() < 0.3 && (cy - 14.0).abs() < 0.3, "centre of mass ({cx}, {cy})");
        // The longer side (the height) becomes 20 px, the aspect is kept.
        let rows = (0..SIDE).filter(|&r| (0..SIDE).any(|c| cell[r * SIDE + c] >= 0.5)).count();
        let cols = (0..SIDE).filter(|&c| (0..SIDE).any(|r| cell[r * SIDE + c] >= 0.5)).count();
        assert!((19..=21).contains(&rows), "height {rows}");
        assert!((12..=15).contains(&cols), "width {cols}");
        assert!(cell.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(cell[14 * SIDE + 14] > 0.999, "the core saturates");
    }

    #[test]
    fn normalise_cell_enlarges_a_small_blob() {
        // A 150 dpi scan: a 6×8 px mark must still fill the 20 px box.
        let (w, h) = (16usize, 16usize);
        let mut patch = vec![250u8; w * h];
        for y in 4..12 {
            for x in 5..11 {
                patch[y * w + x] = 10;
            }
        }
        let cell = normalise_cell(&patch, w, h, 250.0).expect("ink");
        let (cx, cy) = centre_of_mass(&cell);
        assert!((cx - 14.0).abs() < 0.3 && (cy - 14.0).abs() < 0.3, "centre of mass ({cx}, {cy})");
        let rows = (0..SIDE).filter(|&r| (0..SIDE).any(|c| cell[r * SIDE + c] >= 0.5)).count();
        assert!((19..=21).contains(&rows), "height {rows}");
    }

    #[test]
    fn normalise_cell_finds_no_ink_on_blank_paper() {
        // Paper texture within ±15 grey levels is not ink.
        let patch: Vec<u8> = (0..40 * 40).map(|i| 230 - (i * 7 % 31) as u8 / 2).collect();
        assert_eq!(normalise_cell(&patch, 40, 40, 230.0), None);
        assert_eq!(normalise_cell(&[], 0, 0, 230.0), None);
        assert_eq!(normalise_cell(&[0u8; 10], 4, 4, 230.0), None, "length does not match w × h");
        assert_eq!(normalise_cell(&[0u8; 16], 4, 4, 0.0), None);
        assert_eq!(normalise_cell(&[0u8; 16], 4, 4, f32::NAN), None);
    }

    #[test]
    fn from_bytes_rejects_bad_data() {
        assert!(CnnDigits::from_bytes(BUNDLED).is_ok());
        for cut in [0, 5, 8, 11, 20, 100, BUNDLED.len() / 2, BUNDLED.len() - 1] {
            let err = CnnDigits::from_bytes(&BUNDLED[..cut]).unwrap_err();
            assert!(matches!(&err, Error::Model { name, .. } if name == NAME), "{err}");
        }
        let mut extra = BUNDLED.to_vec();
        extra.push(0);
        assert!(CnnDigits::from_bytes(&extra).unwrap_err().to_string().contains("trailing"));
        let mut magic = BUNDLED.to_vec();
        magic[0] = b'X';
        assert!(CnnDigits::from_bytes(&magic).unwrap_err().to_string().contains("magic"));
        // conv1.weight declared [16, 1, 3, 4].
        let mut shape = BUNDLED.to_vec();
        shape[8 + 4 + 12] = 4;
        assert!(CnnDigits::from_bytes(&shape).unwrap_err().to_string().contains("shape"));
        let mut nan = BUNDLED.to_vec();
        nan[8 + 4 + 16..8 + 4 + 20].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(CnnDigits::from_bytes(&nan).unwrap_err().to_string().contains("finite"));
        // A huge declared rank or dimension is an error, not an allocation.
        let mut huge = BUNDLED.to_vec();
        huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(CnnDigits::from_bytes(&huge).is_err());
        let mut wide = BUNDLED.to_vec();
        wide[8 + 4..8 + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(CnnDigits::from_bytes(&wide).unwrap_err().to_string().contains("implausible"));
    }

    /// A weight file of the given widths, every weight `w` (the file format of the module doc).
    fn weight_file(c1: usize, c2: usize, hidden: usize, w: f32) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        let shapes: [&[usize]; 8] =
            [&[c1, 1, 3, 3], &[c1], &[c2, c1, 3, 3], &[c2], &[hidden, c2 * 25], &[hidden], &[11, hidden], &[11]];
        for dims in shapes {
            out.extend((dims.len() as u32).to_le_bytes());
            dims.iter().for_each(|&d| out.extend((d as u32).to_le_bytes()));
            (0..dims.iter().product::<usize>()).for_each(|_| out.extend(w.to_le_bytes()));
        }
        out
    }

    #[test]
    fn widths_come_from_the_file_and_only_supported_ones_load() {
        // Every supported shape has a forward pass of its own: with all-zero weights every
        // logit is 0, so the classes come out equally likely (a pass for other widths would
        // read past its weights or mix them up).
        for (c1, c2, h) in SHAPES {
            let net = CnnDigits::from_bytes(&weight_file(c1, c2, h, 0.0)).unwrap();
            assert_eq!(net.widths(), (c1, c2, h));
            let p = net.classify(&[0.5; 784]);
            assert!(p.iter().all(|&v| (v - 1.0 / 11.0).abs() < 1e-6), "{p:?}");
        }
        let err = CnnDigits::from_bytes(&weight_file(8, 16, 32, 0.0)).unwrap_err().to_string();
        assert!(err.contains("8/16/32"), "{err}");
    }

    /// On-CPU time of this thread in seconds (Linux), so the figure means something on a
    /// machine that is busy with other work; wall time otherwise.
    fn cpu_seconds() -> Option<f64> {
        let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        Some(s.split_whitespace().next()?.parse::<f64>().ok()? * 1e-9)
    }

    fn time_per_call(n: usize, mut f: impl FnMut(usize)) -> (f64, Option<f64>) {
        let (wall, cpu) = (std::time::Instant::now(), cpu_seconds());
        for i in 0..n {
            f(i);
        }
        let cpu = cpu.and_then(|c| Some((cpu_seconds()? - c) / n as f64));
        (wall.elapsed().as_secs_f64() / n as f64, cpu)
    }

    /// `cargo test --release --lib -- --ignored --nocapture inference_speed`
    #[test]
    #[ignore = "timing; run in release"]
    fn inference_speed() {
        let p = probe();
        let model = CnnDigits::bundled();
        let (wall, cpu) = time_per_call(50_000, |i| {
            std::hint::black_box(model.classify(std::hint::black_box(&p.inputs[i % p.inputs.len()])));
        });
        println!("classify: {:.1} µs per cell wall, {:.1} µs on CPU", wall * 1e6, cpu.unwrap_or(f64::NAN) * 1e6);
        let wide = CnnDigits::from_bytes(include_bytes!("../../assets/models/digits-cnn-1.bin")).unwrap();
        let (wall, cpu) = time_per_call(20_000, |i| {
            std::hint::black_box(wide.classify(std::hint::black_box(&p.inputs[i % p.inputs.len()])));
        });
        println!(
            "classify, wide member {:?}: {:.1} µs per cell wall, {:.1} µs on CPU",
            wide.widths(),
            wall * 1e6,
            cpu.unwrap_or(f64::NAN) * 1e6
        );
        // A 60×60 patch holding a 40×40 ring: a cell scanned at about 300 dpi.
        let patch: Vec<u8> = (0..60 * 60)
            .map(|i| {
                let (x, y) = ((i % 60) as f32 - 30.0, (i / 60) as f32 - 30.0);
                if (14.0..20.0).contains(&(x * x + y * y).sqrt()) {
                    30
                } else {
                    230
                }
            })
            .collect();
        let (wall, cpu) = time_per_call(5_000, |_| {
            std::hint::black_box(normalise_cell(std::hint::black_box(&patch), 60, 60, 230.0));
        });
        println!("normalise_cell (60×60): {:.1} µs wall, {:.1} µs on CPU", wall * 1e6, cpu.unwrap_or(f64::NAN) * 1e6);
    }
}
