//! The sampler's busiest rows several samples at a time in AVX2 registers: bilinear RGB along
//! a homography row ([`row_rgb`]: the card photo's 158,000 samples a page had spent ~17 ns
//! each in the scalar loop, two floors with branches, a bounds test, 12 loads and the
//! fixed-point arithmetic per sample), the red channel alone at given points ([`row_red`]: the
//! drop-out patch), and the fields' fixed-point ink rows ([`walk_ink8`], on RGB or on one channel).
//!
//! Every step is the scalar sampler's own arithmetic lane by lane, so the bytes are the same:
//! `floor` is IEEE floor (as `sample::floor`), the weights truncate `(x − ⌊x⌋)·256` as the
//! scalar `as u32` does for values in `[0, 256)`, and the interpolation is the same integer
//! sums (`_mm256_mul_epu32` multiplies the low 32 bits of each 64-bit lane, wide enough for
//! every product). A group with any sample not wholly inside the image, or whose loads would
//! reach past the buffer, goes to the scalar sampler.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// [`bilinear4`] in RGB along `points` (`(index, (x, y))`), four at a time, handing each colour
/// to `put(index, colour)`; a group that is not wholly inside, and the last one to three
/// points, take `scalar(x, y)`.
///
/// # Safety
/// The processor must support AVX2, and `raw` must hold `w · h · 3` bytes, fewer than 2³¹.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn row_rgb(
    raw: &[u8],
    (w, h): (usize, usize),
    mut points: impl Iterator<Item = (usize, (f64, f64))>,
    put: &mut impl FnMut(usize, [u8; 3]),
    scalar: impl Fn(f64, f64) -> [u8; 3],
) {
    loop {
        let mut four = [(0usize, 0.0f64, 0.0f64); 4];
        let mut n = 0;
        for (slot, (i, (x, y))) in four.iter_mut().zip(points.by_ref()) {
            *slot = (i, x, y);
            n += 1;
        }
        let fast = if n == 4 { bilinear4::<3>(raw, w, h, four.map(|p| p.1), four.map(|p| p.2)) } else { None };
        match fast {
            Some(colours) => four.iter().zip(colours).for_each(|(p, c)| put(p.0, c)),
            None => four[..n].iter().for_each(|&(i, x, y)| put(i, scalar(x, y))),
        }
        if n < 4 {
            return;
        }
    }
}

/// Bilinear samples of the first `C` channels (3: RGB, 1: red) at four points `(xs[k], ys[k])`
/// (pixel centres at +0.5) of an image of `w × h` pixels, 3 bytes each, in `raw` (at least
/// `w · h · 3` bytes, fewer than 2³¹). `None` unless all four have their four neighbours
/// inside and the bottom row's eight-byte load ends inside `raw`.
///
/// # Safety
/// The processor must support AVX2.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn bilinear4<const C: usize>(
    raw: &[u8],
    w: usize,
    h: usize,
    xs: [f64; 4],
    ys: [f64; 4],
) -> Option<[[u8; 3]; 4]> {
    let half = _mm256_set1_pd(0.5);
    let x = _mm256_sub_pd(_mm256_loadu_pd(xs.as_ptr()), half);
    let y = _mm256_sub_pd(_mm256_loadu_pd(ys.as_ptr()), half);
    let (x0, y0) = (_mm256_floor_pd(x), _mm256_floor_pd(y));
    // Inside: ⌊x⌋ ≥ 0, ⌊y⌋ ≥ 0, ⌊x⌋ + 1 < w and ⌊y⌋ + 2 < h (one row more than the scalar
    // test asks, so that the bottom row's 8-byte load, 2 bytes past its pixels, stays inside).
    // Comparisons with NaN are false, so such a lane goes to the scalar sampler.
    let zero = _mm256_setzero_pd();
    let inside = _mm256_and_pd(
        _mm256_and_pd(_mm256_cmp_pd::<_CMP_GE_OQ>(x0, zero), _mm256_cmp_pd::<_CMP_GE_OQ>(y0, zero)),
        _mm256_and_pd(
            _mm256_cmp_pd::<_CMP_LT_OQ>(x0, _mm256_set1_pd(w as f64 - 1.0)),
            _mm256_cmp_pd::<_CMP_LT_OQ>(y0, _mm256_set1_pd(h as f64 - 2.0)),
        ),
    );
    if _mm256_movemask_pd(inside) != 0b1111 {
        return None;
    }
    let scale = _mm256_set1_pd(256.0);
    let fx = _mm256_cvtepi32_epi64(_mm256_cvttpd_epi32(_mm256_mul_pd(_mm256_sub_pd(x, x0), scale)));
    let fy = _mm256_cvtepi32_epi64(_mm256_cvttpd_epi32(_mm256_mul_pd(_mm256_sub_pd(y, y0), scale)));
    let full = _mm256_set1_epi64x(256);
    let (gx, gy) = (_mm256_sub_epi64(full, fx), _mm256_sub_epi64(full, fy));
    // Byte offsets ⌊y⌋·stride + ⌊x⌋·3, in i32 (the buffer is below 2³¹ bytes).
    let stride = (w * 3) as i32;
    let (xi, yi) = (_mm256_cvttpd_epi32(x0), _mm256_cvttpd_epi32(y0));
    let at = _mm_add_epi32(_mm_mullo_epi32(yi, _mm_set1_epi32(stride)), _mm_mullo_epi32(xi, _mm_set1_epi32(3)));
    let base = raw.as_ptr() as *const i64;
    // Bytes 0–2: the pixel's colour, 3–5: its right neighbour's, in each row.
    let top = _mm256_i32gather_epi64::<1>(base, at);
    let bot = _mm256_i32gather_epi64::<1>(base, _mm_add_epi32(at, _mm_set1_epi32(stride)));
    let byte = _mm256_set1_epi64x(0xff);
    let round = _mm256_set1_epi64x(1 << 15);
    let mut out = [[0u8; 3]; 4];
    let mut lanes = [0u64; 4];
    for c in 0..C {
        let (lo, hi) = (_mm_cvtsi32_si128(8 * c as i32), _mm_cvtsi32_si128(8 * (c as i32 + 3)));
        let pick = |v: __m256i, s: __m128i| _mm256_and_si256(_mm256_srl_epi64(v, s), byte);
        let t = _mm256_add_epi64(_mm256_mul_epu32(pick(top, lo), gx), _mm256_mul_epu32(pick(top, hi), fx));
        let b = _mm256_add_epi64(_mm256_mul_epu32(pick(bot, lo), gx), _mm256_mul_epu32(pick(bot, hi), fx));
        let v = _mm256_add_epi64(_mm256_add_epi64(_mm256_mul_epu32(t, gy), _mm256_mul_epu32(b, fy)), round);
        _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, _mm256_srli_epi64::<16>(v));
        for (o, &l) in out.iter_mut().zip(&lanes) {
            o[c] = l as u8;
        }
    }
    Some(out)
}

/// The first channel (red) of [`bilinear4`] at the points `(xs[k], ys[k])` into `out[k]`, four
/// at a time; a group that is not wholly inside, and the last one to three points, take
/// `scalar(x, y)`.
///
/// # Safety
/// The processor must support AVX2, and `raw` must hold `w · h · 3` bytes, fewer than 2³¹.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn row_red(
    raw: &[u8],
    (w, h): (usize, usize),
    (xs, ys): (&[f64], &[f64]),
    out: &mut [u8],
    scalar: impl Fn(f64, f64) -> u8,
) {
    let n = out.len().min(xs.len()).min(ys.len());
    let (mut xc, mut yc, mut oc) = (xs[..n].chunks_exact(4), ys[..n].chunks_exact(4), out[..n].chunks_exact_mut(4));
    for ((x, y), o) in xc.by_ref().zip(yc.by_ref()).zip(oc.by_ref()) {
        let (x4, y4) = ([x[0], x[1], x[2], x[3]], [y[0], y[1], y[2], y[3]]);
        match bilinear4::<1>(raw, w, h, x4, y4) {
            Some(colours) => o.iter_mut().zip(colours).for_each(|(o, c)| *o = c[0]),
            None => o.iter_mut().zip(x4.iter().zip(&y4)).for_each(|(o, (&x, &y))| *o = scalar(x, y)),
        }
    }
    let rest = oc.into_remainder().iter_mut().zip(xc.remainder().iter().zip(yc.remainder()));
    rest.for_each(|(o, (&x, &y))| *o = scalar(x, y));
}

/// The fixed-point walk of `sample::walk_bilinear` for `CH` (3 or 1) bytes a pixel, eight
/// samples at a time: the same 16.16 positions (`fx + k·sx`, exact in integers), the same
/// 8-bit weights and integer sums, in 32-bit lanes. Each lane gathers four bytes from the
/// pixel on: its first channel and its right neighbour's. Returns how many samples it wrote:
/// all but the last `row.len() % 8`, which the caller's scalar walk takes.
///
/// # Safety
/// The processor must support AVX2; `raw` must hold `w · h · 3` bytes with `CH` = 3, or
/// `w · h + 2` with `CH` = 1 (the last pixel's gather reads two bytes past it), fewer than
/// 2³¹; and
/// every position (clamped to `0..=max` when `CLAMP`) must lie in `0..=((w − 2) << 16)` ×
/// `0..=((h − 2) << 16)` and in i32 before clamping, as `ink_row_fixed` establishes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn walk_ink8<const CH: usize, const CLAMP: bool>(
    raw: &[u8],
    w: usize,
    (fx, fy): (i64, i64),
    (sx, sy): (i64, i64),
    (xmax, ymax): (i64, i64),
    row: &mut [u8],
) -> usize {
    let stride = (w * CH) as i32;
    let k = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let mut x = _mm256_add_epi32(_mm256_set1_epi32(fx as i32), _mm256_mullo_epi32(k, _mm256_set1_epi32(sx as i32)));
    let mut y = _mm256_add_epi32(_mm256_set1_epi32(fy as i32), _mm256_mullo_epi32(k, _mm256_set1_epi32(sy as i32)));
    let (step_x, step_y) = (_mm256_set1_epi32(8 * sx as i32), _mm256_set1_epi32(8 * sy as i32));
    let (zero, max_x, max_y) = (_mm256_setzero_si256(), _mm256_set1_epi32(xmax as i32), _mm256_set1_epi32(ymax as i32));
    let (byte, full, round) = (_mm256_set1_epi32(0xff), _mm256_set1_epi32(256), _mm256_set1_epi32(1 << 15));
    let (bytes_per_pixel, stride_v) = (_mm256_set1_epi32(CH as i32), _mm256_set1_epi32(stride));
    let base = raw.as_ptr() as *const i32;
    let mut lanes = [0i32; 8];
    let done = row.len() / 8 * 8;
    let mut chunks = row.chunks_exact_mut(8);
    for (c, out) in chunks.by_ref().enumerate() {
        let (px, py) = if CLAMP {
            (_mm256_min_epi32(_mm256_max_epi32(x, zero), max_x), _mm256_min_epi32(_mm256_max_epi32(y, zero), max_y))
        } else {
            (x, y)
        };
        if c % 2 == 0 {
            // Every 16 samples, the rows two and three below the first (see walk_bilinear).
            let i = (_mm256_extract_epi32::<0>(py) >> 16) as usize * stride as usize
                + (_mm256_extract_epi32::<0>(px) >> 16) as usize * CH;
            super::prefetch(raw, i + 2 * stride as usize);
            super::prefetch(raw, i + 3 * stride as usize);
        }
        let (x0, y0) = (_mm256_srai_epi32::<16>(px), _mm256_srai_epi32::<16>(py));
        let wx = _mm256_and_si256(_mm256_srai_epi32::<8>(px), byte);
        let wy = _mm256_and_si256(_mm256_srai_epi32::<8>(py), byte);
        let at = _mm256_add_epi32(_mm256_mullo_epi32(y0, stride_v), _mm256_mullo_epi32(x0, bytes_per_pixel));
        let top = _mm256_i32gather_epi32::<1>(base, at);
        let bot = _mm256_i32gather_epi32::<1>(base, _mm256_add_epi32(at, stride_v));
        // Byte 0: the pixel's first channel; byte CH: its right neighbour's.
        let (gx, gy) = (_mm256_sub_epi32(full, wx), _mm256_sub_epi32(full, wy));
        let right = |v: __m256i| {
            if CH == 3 {
                _mm256_srli_epi32::<24>(v)
            } else {
                _mm256_and_si256(_mm256_srli_epi32::<8>(v), byte)
            }
        };
        let mix = |v: __m256i| {
            _mm256_add_epi32(_mm256_mullo_epi32(_mm256_and_si256(v, byte), gx), _mm256_mullo_epi32(right(v), wx))
        };
        let (t, b) = (mix(top), mix(bot));
        let v = _mm256_add_epi32(_mm256_add_epi32(_mm256_mullo_epi32(t, gy), _mm256_mullo_epi32(b, wy)), round);
        _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, _mm256_srli_epi32::<16>(v));
        for (o, &l) in out.iter_mut().zip(&lanes) {
            *o = l as u8;
        }
        x = _mm256_add_epi32(x, step_x);
        y = _mm256_add_epi32(y, step_y);
    }
    done
}
