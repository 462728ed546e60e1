//! The 3 × 3 depthwise convolution of the text-line network's backbone, run outside rten.
//!
//! The backbone's blocks, as the ONNX graph shows them, are a depthwise 3 × 3 convolution
//! (one filter per channel; Howard et al., "MobileNets", 2017), in some a squeeze-and-
//! excitation, then a pointwise expansion, GELU and reduction added back to the block's input;
//! a line spends 90 % of its time in the convolutions. rten runs the pointwise ones as a matrix
//! product near the processor's peak, but its depthwise kernel is generic scalar code (a
//! multiply-add per element at a stride known only at run time): 13 depthwise layers took
//! 2.3 ms of an 11.4 ms 96-px line, 6 ns an input element against 1.5–2.5 for a pointwise
//! layer. Here the nine taps of an output row are summed in one pass over three zero-padded
//! input rows, which the compiler vectorises.
//!
//! The sums are rten's bit for bit: each output starts at the bias and adds the taps in rten's
//! order (row by row, left to right), one rounded multiply and one rounded add each (Rust never
//! fuses them). Where rten skips a tap that falls on the padding, this adds `±0.0`, which leaves
//! every non-zero sum as it is.

/// Runs one depthwise layer: `input` is `channels × h × w` (row-major), `weights` the
/// `channels × 3 × 3` filters, `bias` one value a channel; zero padding of 1 on every side,
/// vertical stride `stride_h` (1 or 2), horizontal stride 1. Writes `channels × out_h × w` to
/// `out` and returns `out_h`. `pad` is scratch for one padded channel.
pub(crate) fn depthwise_3x3(
    input: &[f32],
    (channels, h, w): (usize, usize, usize),
    stride_h: usize,
    weights: &[f32],
    bias: &[f32],
    out: &mut Vec<f32>,
    pad: &mut Vec<f32>,
) -> usize {
    assert!(stride_h >= 1 && h >= 1 && w >= 1, "a depthwise layer needs a stride and a non-empty input");
    assert_eq!(input.len(), channels * h * w);
    assert_eq!(weights.len(), channels * 9);
    assert_eq!(bias.len(), channels);
    let out_h = (h - 1) / stride_h + 1;
    let pw = w + 2;
    out.clear();
    out.resize(channels * out_h * w, 0.0);
    pad.clear();
    pad.resize((h + 2) * pw, 0.0);
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has AVX2, checked just above.
        unsafe { planes_avx2(input, (h, w, out_h), stride_h, weights, bias, out, pad) };
        return out_h;
    }
    planes(input, (h, w, out_h), stride_h, weights, bias, out, pad);
    out_h
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn planes_avx2(
    input: &[f32],
    dims: (usize, usize, usize),
    sh: usize,
    k: &[f32],
    b: &[f32],
    out: &mut [f32],
    pad: &mut [f32],
) {
    planes(input, dims, sh, k, b, out, pad)
}

/// The layer, channel by channel, `h × w` in and `out_h × w` out (`out` and `pad` sized by
/// [`depthwise_3x3`]).
#[inline(always)]
fn planes(
    input: &[f32],
    (h, w, out_h): (usize, usize, usize),
    stride_h: usize,
    k: &[f32],
    b: &[f32],
    out: &mut [f32],
    pad: &mut [f32],
) {
    let pw = w + 2;
    for (c, (plane, o)) in input.chunks_exact(h * w).zip(out.chunks_exact_mut(out_h * w)).enumerate() {
        // Rows 0 and h + 1 and columns 0 and w + 1 of `pad` stay zero.
        for (src, dst) in plane.chunks_exact(w).zip(pad[pw..].chunks_exact_mut(pw)) {
            dst[1..=w].copy_from_slice(src);
        }
        let k: &[f32; 9] = k[c * 9..c * 9 + 9].try_into().expect("nine taps");
        for (oy, row) in o.chunks_exact_mut(w).enumerate() {
            let top = oy * stride_h * pw;
            row_3x3(&pad[top..top + 3 * pw], pw, k, b[c], row);
        }
    }
}

/// One output row from the three padded input rows at the start of `rows` (`pw` apart).
#[inline(always)]
fn row_3x3(rows: &[f32], pw: usize, k: &[f32; 9], bias: f32, out: &mut [f32]) {
    let w = out.len();
    let (r0, r1, r2) = (&rows[..w + 2], &rows[pw..pw + w + 2], &rows[2 * pw..2 * pw + w + 2]);
    for x in 0..w {
        let mut a = bias;
        a += r0[x] * k[0];
        a += r0[x + 1] * k[1];
        a += r0[x + 2] * k[2];
        a += r1[x] * k[3];
        a += r1[x + 1] * k[4];
        a += r1[x + 2] * k[5];
        a += r2[x] * k[6];
        a += r2[x + 1] * k[7];
        a += r2[x + 2] * k[8];
        out[x] = a;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The convolution as rten's generic kernel computes it: taps outside the input skipped.
    fn reference(input: &[f32], (c, h, w): (usize, usize, usize), sh: usize, k: &[f32], b: &[f32]) -> Vec<f32> {
        let oh = (h - 1) / sh + 1;
        let mut out = vec![0f32; c * oh * w];
        for ch in 0..c {
            for oy in 0..oh {
                for x in 0..w {
                    let mut a = b[ch];
                    for ky in 0..3 {
                        let iy = (oy * sh + ky) as isize - 1;
                        if iy < 0 || iy >= h as isize {
                            continue;
                        }
                        for kx in 0..3 {
                            let ix = (x + kx) as isize - 1;
                            if ix < 0 || ix >= w as isize {
                                continue;
                            }
                            a += input[(ch * h + iy as usize) * w + ix as usize] * k[ch * 9 + ky * 3 + kx];
                        }
                    }
                    out[(ch * oh + oy) * w + x] = a;
                }
            }
        }
        out
    }

    #[test]
    fn equals_the_skipping_reference_bit_for_bit() {
        let mut seed = 7u32;
        let mut next = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 * 4.0 - 2.0
        };
        let (mut out, mut pad) = (Vec::new(), Vec::new());
        for (c, h, w, sh) in [(3, 12, 24, 1), (5, 6, 17, 2), (2, 1, 1, 1), (4, 3, 40, 2), (1, 7, 9, 1)] {
            let input: Vec<f32> = (0..c * h * w).map(|_| next()).collect();
            let k: Vec<f32> = (0..c * 9).map(|_| next()).collect();
            let b: Vec<f32> = (0..c).map(|_| next()).collect();
            let oh = depthwise_3x3(&input, (c, h, w), sh, &k, &b, &mut out, &mut pad);
            assert_eq!(oh, (h - 1) / sh + 1);
            let want = reference(&input, (c, h, w), sh, &k, &b);
            assert_eq!(out.len(), want.len());
            let differ = out.iter().zip(&want).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
            assert_eq!(differ, 0, "{c}×{h}×{w} stride {sh}");
        }
    }

    #[test]
    fn a_single_tap_filter_shifts_the_image() {
        // The filter with 1 at (ky, kx) = (0, 0) reads the pixel up and to the left.
        let (h, w) = (3, 4);
        let input: Vec<f32> = (0..h * w).map(|i| i as f32 + 1.0).collect();
        let mut k = [0f32; 9];
        k[0] = 1.0;
        let (mut out, mut pad) = (Vec::new(), Vec::new());
        depthwise_3x3(&input, (1, h, w), 1, &k, &[0.5], &mut out, &mut pad);
        assert_eq!(&out[..4], &[0.5; 4], "the first row reads the padding");
        assert_eq!(&out[4..8], &[0.5, 1.5, 2.5, 3.5]);
        assert_eq!(&out[8..], &[0.5, 5.5, 6.5, 7.5]);
    }
}
