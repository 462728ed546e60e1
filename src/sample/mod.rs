//! Image sampling: one family of samplers over 8-bit grey or RGB pixel buffers, used by every
//! stage that reads the scan at its own resolution: the field reader and the barcode crops
//! ([`crate::scan::Scan`]), the photo locator and the card photo (`photo`).
//!
//! Pixel centres lie at +0.5 (a pixel covers `[x, x + 1)`), and everything outside the image
//! reads as white paper, so a box that runs off the page reads as empty rather than failing.
//! Bilinear interpolation is the textbook one (e.g. Gonzalez & Woods, *Digital Image
//! Processing*, §2.4.4); the fast paths compute the same weights in fixed point.

use crate::geometry::{Homography, Point};
use std::borrow::Cow;

mod avx2;

/// Sampling of a grey or RGB 8-bit image (row-major, 1 or 3 bytes a pixel); outside the image
/// reads as white paper.
pub(crate) struct Sampler<'a> {
    raw: Cow<'a, [u8]>,
    ch: usize,
    w: i64,
    h: i64,
}

impl<'a> Sampler<'a> {
    /// Over a buffer of `ch` (1 or 3) bytes a pixel.
    pub fn borrowed(raw: &'a [u8], ch: usize, w: u32, h: u32) -> Self {
        Sampler { raw: Cow::Borrowed(raw), ch, w: w as i64, h: h as i64 }
    }

    /// Over an image: grey and RGB borrowed, any other layout converted to RGB.
    pub fn new(img: &'a image::DynamicImage) -> Self {
        let (raw, ch) = match img {
            image::DynamicImage::ImageRgb8(b) => (Cow::Borrowed(b.as_raw().as_slice()), 3),
            image::DynamicImage::ImageLuma8(b) => (Cow::Borrowed(b.as_raw().as_slice()), 1),
            other => (Cow::Owned(other.to_rgb8().into_raw()), 3),
        };
        Sampler { raw, ch, w: img.width() as i64, h: img.height() as i64 }
    }

    /// The pixel buffer and its bytes per pixel.
    pub fn raw(&self) -> (&[u8], usize) {
        (&self.raw, self.ch)
    }

    /// Whether the image is grey (one byte a pixel): no colour to tell drop-out red by.
    pub fn is_grey(&self) -> bool {
        self.ch == 1
    }

    #[inline]
    fn px(&self, x: i64, y: i64) -> [f32; 3] {
        if x < 0 || y < 0 || x >= self.w || y >= self.h {
            return [255.0; 3];
        }
        let i = (y as usize * self.w as usize + x as usize) * self.ch;
        if self.ch == 3 {
            [self.raw[i] as f32, self.raw[i + 1] as f32, self.raw[i + 2] as f32]
        } else {
            [self.raw[i] as f32; 3]
        }
    }

    /// The colour at continuous pixel coordinates (pixel centres at +0.5).
    #[inline]
    pub fn at(&self, p: Point) -> [u8; 3] {
        self.at_xy(p.x, p.y)
    }

    #[inline]
    fn at_xy(&self, x: f64, y: f64) -> [u8; 3] {
        match self.ch {
            3 => self.at_xy_ch::<3>(x, y),
            _ => self.at_xy_ch::<1>(x, y),
        }
    }

    /// [`Sampler::at_xy`] with the bytes per pixel (`CH`, equal to `self.ch`) known to the
    /// compiler, inlined into the loops that call it a pixel at a time.
    #[inline(always)]
    pub(crate) fn at_xy_ch<const CH: usize>(&self, x: f64, y: f64) -> [u8; 3] {
        let (x, y) = (x - 0.5, y - 0.5);
        let (x0, y0) = (floor(x), floor(y));
        let (xi, yi) = (x0 as i64, y0 as i64);
        let mut out = [0u8; 3];
        if xi >= 0 && yi >= 0 && xi + 1 < self.w && yi + 1 < self.h {
            // Inside: the four neighbours straight from the buffer, in 8-bit fixed point.
            let (fx, fy) = (((x - x0) * 256.0) as u32, ((y - y0) * 256.0) as u32);
            let (ch, stride) = (CH, self.w as usize * CH);
            let i = yi as usize * stride + xi as usize * ch;
            let r = &self.raw[i..i + stride + 2 * ch];
            for (k, o) in out.iter_mut().enumerate() {
                let c = if ch == 3 { k } else { 0 };
                let top = r[c] as u32 * (256 - fx) + r[ch + c] as u32 * fx;
                let bot = r[stride + c] as u32 * (256 - fx) + r[stride + ch + c] as u32 * fx;
                *o = ((top * (256 - fy) + bot * fy + 32768) >> 16) as u8;
            }
            return out;
        }
        self.at_edge(x, y)
    }

    /// [`Sampler::at_xy`] at a point whose four neighbours are not all inside (`x`, `y`
    /// already shifted by −0.5): the pixels outside read as paper.
    #[cold]
    #[inline(never)]
    fn at_edge(&self, x: f64, y: f64) -> [u8; 3] {
        let (x0, y0) = (floor(x), floor(y));
        let (xi, yi) = (x0 as i64, y0 as i64);
        let (fx, fy) = ((x - x0) as f32, (y - y0) as f32);
        let (a, b, c, d) = (self.px(xi, yi), self.px(xi + 1, yi), self.px(xi, yi + 1), self.px(xi + 1, yi + 1));
        let mut out = [0u8; 3];
        for k in 0..3 {
            let top = a[k] + (b[k] - a[k]) * fx;
            let bot = c[k] + (d[k] - c[k]) * fx;
            out[k] = (top + (bot - top) * fy + 0.5).clamp(0.0, 255.0) as u8;
        }
        out
    }

    /// The first channel alone (red, or grey) at continuous pixel coordinates: the same value
    /// as [`Sampler::at`]'s first. `CH` is the bytes per pixel (`self.ch`), known to the
    /// compiler in a loop that picks it once.
    #[inline(always)]
    pub fn red_xy_ch<const CH: usize>(&self, x: f64, y: f64) -> u8 {
        let (x, y) = (x - 0.5, y - 0.5);
        let (x0, y0) = (floor(x), floor(y));
        let (xi, yi) = (x0 as i64, y0 as i64);
        if xi >= 0 && yi >= 0 && xi + 1 < self.w && yi + 1 < self.h {
            let (fx, fy) = (((x - x0) * 256.0) as u32, ((y - y0) * 256.0) as u32);
            let stride = self.w as usize * CH;
            let i = yi as usize * stride + xi as usize * CH;
            let r = &self.raw[i..i + stride + 2 * CH];
            let top = r[0] as u32 * (256 - fx) + r[CH] as u32 * fx;
            let bot = r[stride] as u32 * (256 - fx) + r[stride + CH] as u32 * fx;
            return ((top * (256 - fy) + bot * fy + 32768) >> 16) as u8;
        }
        self.at_xy(x + 0.5, y + 0.5)[0]
    }

    /// The first channel ([`Sampler::red_xy_ch`]) at each point `(xs[k], ys[k])` into `out[k]`;
    /// RGB four points at a time through AVX2 where the processor has it ([`avx2::row_red`],
    /// the same bytes).
    pub fn red_row(&self, xs: &[f64], ys: &[f64], out: &mut [u8]) {
        let (w, h) = (self.w as usize, self.h as usize);
        #[cfg(target_arch = "x86_64")]
        if avx2_rgb(&self.raw, self.ch, w, h) {
            // SAFETY: `avx2_rgb`: AVX2 is there; `raw` holds the image's w · h · 3 bytes,
            // fewer than 2³¹.
            unsafe { avx2::row_red(&self.raw, (w, h), (xs, ys), out, |x, y| self.red_xy_ch::<3>(x, y)) };
            return;
        }
        for ((o, &x), &y) in out.iter_mut().zip(xs).zip(ys) {
            *o = match self.ch {
                3 => self.red_xy_ch::<3>(x, y),
                _ => self.red_xy_ch::<1>(x, y),
            };
        }
    }

    /// Samples the points `h.apply((i, j))` for `i` in `range` (scan pixel coordinates, centres
    /// at +0.5), handing each colour to `put(i, colour)`, by [`Homography::row_points`].
    #[inline]
    pub fn row(&self, h: &Homography, j: f64, range: std::ops::Range<usize>, put: impl FnMut(usize, [u8; 3])) {
        match self.ch {
            3 => self.row_ch::<3>(h, j, range, put),
            _ => self.row_ch::<1>(h, j, range, put),
        }
    }

    /// [`Sampler::row`] for `CH` bytes a pixel: the card photo's 158,000 samples spent ~25 ns
    /// each in a call per pixel that looked the channel count up. RGB goes four samples at a
    /// time through AVX2 where the processor has it ([`avx2::row_rgb`], the same bytes).
    #[inline(always)]
    fn row_ch<const CH: usize>(
        &self,
        h: &Homography,
        j: f64,
        range: std::ops::Range<usize>,
        mut put: impl FnMut(usize, [u8; 3]),
    ) {
        // Two rows ahead, asked for now (the scan's pixels under a card photo or a face
        // detector's copy are out of the caches when the photo stage reads them).
        if !range.is_empty() {
            self.prefetch_row(h, range.start as f64, (range.end - 1) as f64, j + 2.0);
        }
        #[cfg(target_arch = "x86_64")]
        let (w, hh) = (self.w as usize, self.h as usize);
        #[cfg(target_arch = "x86_64")]
        if CH == 3 && avx2_rgb(&self.raw, self.ch, w, hh) {
            let points = range.clone().zip(h.row_points(range.start as f64, j, 1.0));
            // SAFETY: `avx2_rgb`: AVX2 is there; `raw` holds the image's w · h · 3 bytes,
            // fewer than 2³¹.
            unsafe { avx2::row_rgb(&self.raw, (w, hh), points, &mut put, |x, y| self.at_xy_ch::<CH>(x, y)) };
            return;
        }
        for (i, (x, y)) in range.clone().zip(h.row_points(range.start as f64, j, 1.0)) {
            put(i, self.at_xy_ch::<CH>(x, y));
        }
    }

    /// Bilinear first-channel (ink) sample in floating point at `(x, y)` (pixel centres at
    /// +0.5); pixels outside the image read as paper.
    #[inline(always)]
    pub fn ink_at(&self, x: f64, y: f64) -> f32 {
        ink_bilinear(&self.raw, self.ch, self.w as usize, self.h as usize, x, y)
    }

    /// [`Sampler::ink_at`] at `row.len()` points evenly spaced from `a` to `b`, in fixed point
    /// (see [`ink_row_fixed`]); `false`, writing nothing, unless both ends lie a pixel inside.
    #[inline]
    pub fn ink_row_fixed(&self, a: Point, b: Point, row: &mut [u8]) -> bool {
        let (w, h) = (self.w as usize, self.h as usize);
        match self.ch {
            3 => ink_row_fixed::<3>(&self.raw, w, h, a, b, row),
            _ => ink_row_fixed::<1>(&self.raw, w, h, a, b, row),
        }
    }

    /// Nearest-pixel colours at `row.len() / 3` points evenly spaced from `a` to `b`, in
    /// 16.16 fixed point (see [`rgb_row_nearest_fixed`]); `false`, writing nothing, unless both
    /// ends lie inside the image.
    #[inline]
    pub fn rgb_row_nearest_fixed(&self, a: Point, b: Point, row: &mut [u8]) -> bool {
        let (w, h) = (self.w as usize, self.h as usize);
        match self.ch {
            3 => rgb_row_nearest_fixed::<3>(&self.raw, w, h, a, b, row),
            _ => rgb_row_nearest_fixed::<1>(&self.raw, w, h, a, b, row),
        }
    }

    /// [`Sampler::rgb_nearest`] at each point of `points` (as many as `row` has pixels, 3
    /// bytes each), the same colours. Coarse samples of a large area are bound by memory
    /// latency (a sample 4 px from the last, a row 4 px below: each in a cache line of its own,
    /// 3/4 of the sampling time was waiting on them), so the pixel offsets of 64 samples are
    /// computed first and their loads then issued together, which the processor overlaps.
    pub fn rgb_nearest_row(&self, points: impl Iterator<Item = (f64, f64)>, row: &mut [u8]) {
        const BATCH: usize = 64;
        let (w, h, ch) = (self.w as usize, self.h as usize, self.ch);
        let mut at = [usize::MAX; BATCH];
        let mut points = points;
        for px in row.chunks_mut(3 * BATCH) {
            let n = px.len() / 3;
            at[..n].fill(usize::MAX);
            for (k, (x, y)) in at.iter_mut().zip(points.by_ref()).take(n) {
                let outside = x < 0.0 || y < 0.0 || x >= w as f64 || y >= h as f64;
                *k = if outside { usize::MAX } else { (y as usize * w + x as usize) * ch };
            }
            for (o, &i) in px.chunks_exact_mut(3).zip(&at[..n]) {
                match (i, ch) {
                    (usize::MAX, _) => o.fill(255),
                    (i, 3) => o.copy_from_slice(&self.raw[i..i + 3]),
                    (i, _) => o.fill(self.raw[i]),
                }
            }
        }
    }

    /// Asks for the cache lines of the pixels a coming row of samples will read: the row at
    /// `y` from `x0` to `x1` in the coordinates `h` maps onto the scan, about one line every
    /// 16 pixels along it.
    pub fn prefetch_row(&self, h: &Homography, x0: f64, x1: f64, y: f64) {
        let (a, b) = (h.apply(Point::new(x0, y)), h.apply(Point::new(x1, y)));
        let (w, h) = (self.w as f64, self.h as f64);
        let inside = |p: Point| p.x >= 0.0 && p.y >= 0.0 && p.x < w && p.y < h;
        if !inside(a) || !inside(b) {
            return;
        }
        let n = ((b.x - a.x).abs().max((b.y - a.y).abs()) / 16.0).ceil() as usize + 1;
        for k in 0..=n {
            let t = k as f64 / n as f64;
            let (x, y) = ((a.x + (b.x - a.x) * t) as usize, (a.y + (b.y - a.y) * t) as usize);
            prefetch(&self.raw, (y * self.w as usize + x) * self.ch);
        }
    }

    /// The colour of the pixel holding `(x, y)` (nearest neighbour); outside reads as white.
    #[inline(always)]
    pub fn rgb_nearest(&self, x: f64, y: f64) -> [u8; 3] {
        rgb_nearest(&self.raw, self.ch, self.w as usize, self.h as usize, x, y)
    }
}

/// Whether [`avx2::walk_ink8`] may walk `raw`: RGB as [`avx2_rgb`] asks, or one channel with
/// the two bytes of slack past the last pixel that its four-byte gathers read (the coefficient
/// road's red plane has them; a decoded grey image does not, and takes the scalar walk).
#[cfg(target_arch = "x86_64")]
fn avx2_ink(raw: &[u8], ch: usize, w: usize, h: usize) -> bool {
    match ch {
        3 => avx2_rgb(raw, ch, w, h),
        1 => raw.len() >= w * h + 2 && raw.len() < i32::MAX as usize && std::is_x86_feature_detected!("avx2"),
        _ => false,
    }
}

/// Whether the AVX2 rows ([`avx2`]) may read `raw` as a `w × h` image of `ch` bytes a pixel:
/// RGB, the whole image there, byte offsets within i32, and a processor with AVX2.
#[cfg(target_arch = "x86_64")]
fn avx2_rgb(raw: &[u8], ch: usize, w: usize, h: usize) -> bool {
    ch == 3 && raw.len() >= w * h * 3 && raw.len() < i32::MAX as usize && std::is_x86_feature_detected!("avx2")
}

/// `x.floor()`, without the call into libm that `f64::floor` compiles to on x86-64 below
/// SSE4.1 (the default target): the samplers floor two coordinates a sample, and the calls
/// were 1 % of a page. Exact: a finite `x` below 2^52 in magnitude truncates to an integer
/// that is `x` or one step towards zero; anything else (huge, infinite, NaN) takes `floor`.
#[inline(always)]
pub(crate) fn floor(x: f64) -> f64 {
    if x.abs() < 4_503_599_627_370_496.0 {
        let t = x as i64 as f64;
        if t > x {
            t - 1.0
        } else {
            // `t` and `x` share their sign but for -0.0, which truncates to +0.0.
            t.copysign(x)
        }
    } else {
        x.floor()
    }
}

/// `x.round()` (half away from zero), without the libm call `f64::round` compiles to on the
/// default x86-64 target, for per-pixel loops (the card photo's background cleaning). Exact as
/// [`floor`] is: the truncation `t` is exact, and so is `x − t` (Sterbenz: `x` and `t` share
/// their sign and lie within a factor of two, or `t` is zero).
#[inline(always)]
pub(crate) fn round(x: f64) -> f64 {
    if x.abs() < 4_503_599_627_370_496.0 {
        let t = x as i64 as f64;
        let frac = x - t;
        if frac >= 0.5 {
            t + 1.0
        } else if frac <= -0.5 {
            t - 1.0
        } else {
            t.copysign(x)
        }
    } else {
        x.round()
    }
}

/// Bilinear ink-channel sample (the first channel); pixels outside the image read as paper.
#[inline(always)]
fn ink_bilinear(raw: &[u8], ch: usize, w: usize, h: usize, x: f64, y: f64) -> f32 {
    let (x, y) = (x - 0.5, y - 0.5);
    if x < 0.0 || y < 0.0 || x >= (w - 1) as f64 || y >= (h - 1) as f64 {
        return 255.0;
    }
    let (x0, y0) = (x as usize, y as usize);
    let (fx, fy) = ((x - x0 as f64) as f32, (y - y0 as f64) as f32);
    let i = (y0 * w + x0) * ch;
    let j = i + w * ch;
    let top = raw[i] as f32 * (1.0 - fx) + raw[i + ch] as f32 * fx;
    let bot = raw[j] as f32 * (1.0 - fx) + raw[j + ch] as f32 * fx;
    top * (1.0 - fy) + bot * fy + 0.5
}

/// Bilinear ink-channel samples at `row.len()` points evenly spaced from `a` to `b` (scan pixel
/// coordinates, centres at +0.5), as [`ink_bilinear`] computes them but in 16.16 fixed point
/// with 8-bit interpolation weights (a result differs from the floating-point one by at most
/// one grey level). Returns `false`, writing nothing, unless both ends lie at least a pixel
/// inside the image: then every point does (the segment is inside the convex interior), and
/// no sample needs a bounds test of its own.
fn ink_row_fixed<const CH: usize>(raw: &[u8], w: usize, h: usize, a: Point, b: Point, row: &mut [u8]) -> bool {
    ink_row_fixed_in::<CH, true>(raw, w, h, a, b, row)
}

/// [`ink_row_fixed`], through AVX2 where it can when `SIMD` (false: the scalar walk alone,
/// the tests' reference).
fn ink_row_fixed_in<const CH: usize, const SIMD: bool>(
    raw: &[u8],
    w: usize,
    h: usize,
    a: Point,
    b: Point,
    row: &mut [u8],
) -> bool {
    const ONE: f64 = 65536.0;
    let (ax, ay, bx, by) = (a.x - 0.5, a.y - 0.5, b.x - 0.5, b.y - 0.5);
    let inside = |x: f64, y: f64| x >= 0.0 && y >= 0.0 && x <= (w as f64 - 2.0) && y <= (h as f64 - 2.0);
    if row.is_empty() || !inside(ax, ay) || !inside(bx, by) || raw.len() < w * h * CH {
        return false;
    }
    let n = (row.len() - 1).max(1) as f64;
    let (sx, sy) = (((bx - ax) / n * ONE).round() as i64, ((by - ay) / n * ONE).round() as i64);
    let (fx, fy) = ((ax * ONE).round() as i64, (ay * ONE).round() as i64);
    // Rounding of the step drifts by a few thousandths of a pixel over a row. The positions
    // are linear in the sample, so when the first and the last stay in the interior all do and
    // no sample needs the clamp; otherwise every sample is clamped, so that an index can never
    // leave the interior the test above established.
    let last = (row.len() - 1) as i64;
    let (xmax, ymax) = ((w as i64 - 2) << 16, (h as i64 - 2) << 16);
    let within = |v: i64, max: i64| (0..=max).contains(&v);
    let inside = within(fx, xmax) && within(fx + sx * last, xmax) && within(fy, ymax) && within(fy + sy * last, ymax);
    // RGB eight samples at a time through AVX2 where the processor has it (the same bytes),
    // when the positions fit its 32-bit lanes; the last samples, fewer than eight, below.
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    {
        let fits = |v: i64, s: i64| v.abs() + (s.abs() + 1) * (last + 8) < (1 << 30);
        if SIMD && avx2_ink(raw, CH, w, h) && fits(fx, sx) && fits(fy, sy) {
            // SAFETY: `avx2_ink`: AVX2 is there; `raw` holds w · h · 3 bytes, or w · h + 2 for
            // one channel, fewer than 2³¹; the positions fit i32 (`fits`) and lie (clamped
            // when not `inside`) within the interior tested above.
            done = unsafe {
                if inside {
                    avx2::walk_ink8::<CH, false>(raw, w, (fx, fy), (sx, sy), (xmax, ymax), row)
                } else {
                    avx2::walk_ink8::<CH, true>(raw, w, (fx, fy), (sx, sy), (xmax, ymax), row)
                }
            };
        }
    }
    let (k, rest) = (done as i64, &mut row[done..]);
    let start = (fx + sx * k, fy + sy * k);
    if inside {
        walk_bilinear::<CH, false>(raw, w, start, (sx, sy), (xmax, ymax), rest);
    } else {
        walk_bilinear::<CH, true>(raw, w, start, (sx, sy), (xmax, ymax), rest);
    }
    true
}

/// The loop of [`ink_row_fixed`]: from 16.16 position `(fx, fy)` by `(sx, sy)` a sample,
/// clamping each position to `0..=max` when `CLAMP`.
///
/// Every 16 samples (a cache line of source pixels or so at 7–8 px/mm) it asks for the
/// source rows two and three below: the next sample row reads them (rows lie ~1.5 source
/// rows apart), and waiting for them had been most of this loop's time; with the prefetch the
/// loop takes ~22 % fewer cycles on the demo pages (its share of a `perf` profile, 5.2–5.5 %
/// before, 4.1 % after).
#[inline(always)]
fn walk_bilinear<const CH: usize, const CLAMP: bool>(
    raw: &[u8],
    w: usize,
    (mut fx, mut fy): (i64, i64),
    (sx, sy): (i64, i64),
    (xmax, ymax): (i64, i64),
    row: &mut [u8],
) {
    let stride = w * CH;
    for chunk in row.chunks_mut(16) {
        let (x, y) = if CLAMP { (fx.clamp(0, xmax), fy.clamp(0, ymax)) } else { (fx, fy) };
        let i = (y >> 16) as usize * stride + (x >> 16) as usize * CH;
        prefetch(raw, i + 2 * stride);
        prefetch(raw, i + 3 * stride);
        for o in chunk.iter_mut() {
            let (x, y) = if CLAMP { (fx.clamp(0, xmax), fy.clamp(0, ymax)) } else { (fx, fy) };
            let (x0, y0) = ((x >> 16) as usize, (y >> 16) as usize);
            let (wx, wy) = (((x >> 8) & 0xff) as u32, ((y >> 8) & 0xff) as u32);
            let i = y0 * stride + x0 * CH;
            // One bounds check for the four neighbours.
            let r = &raw[i..i + stride + CH + 1];
            let top = r[0] as u32 * (256 - wx) + r[CH] as u32 * wx;
            let bot = r[stride] as u32 * (256 - wx) + r[stride + CH] as u32 * wx;
            *o = ((top * (256 - wy) + bot * wy + (1 << 15)) >> 16) as u8;
            fx += sx;
            fy += sy;
        }
    }
}

/// Asks the processor to bring the cache line holding `raw[i]` (when inside) into its caches.
#[inline(always)]
fn prefetch(raw: &[u8], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(p) = raw.get(i) {
        // SAFETY: a prefetch only hints the cache; the address is inside `raw`.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const u8 as *const i8) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (raw, i);
}

/// The colours (3 bytes each) of the pixels holding `row.len() / 3` points evenly spaced from
/// `a` to `b` (scan pixel coordinates), stepped in 16.16 fixed point: a point within ~1/100 px
/// of a pixel edge may take the pixel across it, so this is for pictures (snippets), not for
/// measures. Returns `false`, writing nothing, unless both ends lie inside the image: then
/// every point does (the segment is inside the convex image), and no sample needs a bounds
/// test of its own.
fn rgb_row_nearest_fixed<const CH: usize>(raw: &[u8], w: usize, h: usize, a: Point, b: Point, row: &mut [u8]) -> bool {
    const ONE: f64 = 65536.0;
    let inside = |p: Point| p.x >= 0.0 && p.y >= 0.0 && p.x < w as f64 && p.y < h as f64;
    let n = row.len() / 3;
    if n == 0 || !inside(a) || !inside(b) || raw.len() < w * h * CH {
        return false;
    }
    let steps = (n - 1).max(1) as f64;
    let (sx, sy) = (((b.x - a.x) / steps * ONE).round() as i64, ((b.y - a.y) / steps * ONE).round() as i64);
    let (mut fx, mut fy) = ((a.x * ONE) as i64, (a.y * ONE) as i64);
    let (xmax, ymax) = (((w - 1) as i64) << 16, ((h - 1) as i64) << 16);
    for px in row.chunks_exact_mut(3) {
        // Rounding of the step drifts by a few thousandths of a pixel over a row (half of
        // 1/65536 a step); the clamp keeps every index inside the image the test above
        // established.
        let (x, y) = ((fx.clamp(0, xmax) >> 16) as usize, (fy.clamp(0, ymax) >> 16) as usize);
        let i = (y * w + x) * CH;
        if CH == 3 {
            px.copy_from_slice(&raw[i..i + 3]);
        } else {
            px.fill(raw[i]);
        }
        fx += sx;
        fy += sy;
    }
    true
}

#[inline(always)]
fn rgb_nearest(raw: &[u8], ch: usize, w: usize, h: usize, x: f64, y: f64) -> [u8; 3] {
    if x < 0.0 || y < 0.0 || x >= w as f64 || y >= h as f64 {
        return [255, 255, 255];
    }
    let i = (y as usize * w + x as usize) * ch;
    if ch == 3 {
        [raw[i], raw[i + 1], raw[i + 2]]
    } else {
        [raw[i]; 3]
    }
}

/// Bilinear interpolation of a single-channel grid of `w` × `h` values read by `at(index)`
/// (row-major), at `(x, y)` in pixel coordinates with centres at +0.5 already subtracted;
/// `255.0` (paper) when the 2 × 2 neighbourhood is not wholly inside.
#[inline(always)]
pub(crate) fn bilinear_grid(w: usize, h: usize, x: f64, y: f64, at: impl Fn(usize) -> f32) -> f32 {
    let (xf, yf) = (floor(x), floor(y));
    if xf < 0.0 || yf < 0.0 || xf + 1.0 >= w as f64 || yf + 1.0 >= h as f64 {
        return 255.0;
    }
    let (i, j) = (xf as usize, yf as usize);
    let (fx, fy) = ((x - xf) as f32, (y - yf) as f32);
    let k = j * w + i;
    let (a, b, c, d) = (at(k), at(k + 1), at(k + w), at(k + w + 1));
    let top = a + (b - a) * fx;
    top + (c + (d - c) * fx - top) * fy
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `len` bytes of xorshift noise.
    fn noise(seed: u64, len: usize) -> Vec<u8> {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect()
    }

    fn ramp(w: u32, h: u32, ch: usize) -> Vec<u8> {
        (0..h).flat_map(|y| (0..w).flat_map(move |x| std::iter::repeat_n((x * 7 + y * 3) as u8, ch))).collect()
    }

    #[test]
    fn outside_reads_as_paper_and_a_pixel_centre_as_its_value() {
        let raw = ramp(8, 6, 1);
        let s = Sampler::borrowed(&raw, 1, 8, 6);
        assert_eq!(s.ink_at(-3.0, 2.0), 255.0);
        assert_eq!(s.rgb_nearest(100.0, 1.0), [255; 3]);
        assert_eq!(s.at(Point::new(-5.0, -5.0)), [255; 3]);
        // Pixel (2, 3) has its centre at (2.5, 3.5).
        let v = (2 * 7 + 3 * 3) as u8;
        assert_eq!(s.ink_at(2.5, 3.5).floor() as u8, v);
        assert_eq!(s.at(Point::new(2.5, 3.5)), [v; 3]);
        assert_eq!(s.rgb_nearest(2.9, 3.1), [v; 3]);
    }

    proptest! {
        /// The fixed-point row and the colour sampler agree with the floating-point sample to
        /// a grey level, in grey and in RGB.
        #[test]
        fn fixed_point_paths_match_floating_point(
            x0 in 1.0f64..20.0, y0 in 1.0f64..14.0, x1 in 1.0f64..20.0, y1 in 1.0f64..14.0, rgb in any::<bool>()
        ) {
            let ch = if rgb { 3 } else { 1 };
            let raw = ramp(24, 16, ch);
            let s = Sampler::borrowed(&raw, ch, 24, 16);
            let mut row = [0u8; 9];
            let (a, b) = (Point::new(x0, y0), Point::new(x1, y1));
            prop_assert!(s.ink_row_fixed(a, b, &mut row));
            for (k, &v) in row.iter().enumerate() {
                let t = k as f64 / 8.0;
                let (x, y) = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
                let f = s.ink_at(x, y) - 0.5;
                prop_assert!((v as f32 - f).abs() <= 1.01, "{v} vs {f}");
                prop_assert!((s.at(Point::new(x, y))[0] as f32 - f).abs() <= 1.01);
            }
        }

        /// The fixed-point nearest row takes the pixel holding each point, or the one beside
        /// it when the point lies within 0.002 px of their common edge.
        #[test]
        fn the_nearest_row_takes_the_pixel_holding_each_point(
            x0 in 0.0f64..23.99, y0 in 0.0f64..15.99, x1 in 0.0f64..23.99, y1 in 0.0f64..15.99, rgb in any::<bool>()
        ) {
            let ch = if rgb { 3 } else { 1 };
            let raw = ramp(24, 16, ch);
            let s = Sampler::borrowed(&raw, ch, 24, 16);
            let mut row = [0u8; 3 * 11];
            prop_assert!(s.rgb_row_nearest_fixed(Point::new(x0, y0), Point::new(x1, y1), &mut row));
            for (k, px) in row.chunks_exact(3).enumerate() {
                let t = k as f64 / 10.0;
                let (x, y) = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
                let near = |d: f64| (-1..=1).any(|e| {
                    let (xx, yy) = ((x + e as f64 * d).clamp(0.0, 23.99), y);
                    let (xx2, yy2) = (x, (y + e as f64 * d).clamp(0.0, 15.99));
                    s.rgb_nearest(xx, yy) == [px[0], px[1], px[2]] || s.rgb_nearest(xx2, yy2) == [px[0], px[1], px[2]]
                });
                prop_assert!(near(0.002), "point {k} ({x}, {y}): {:?} vs {:?}", px, s.rgb_nearest(x, y));
            }
            prop_assert!(!s.rgb_row_nearest_fixed(Point::new(-0.5, y0), Point::new(x1, y1), &mut row));
        }

        /// The batched nearest row gives `rgb_nearest` at every point, inside and out.
        #[test]
        fn the_batched_nearest_row_is_rgb_nearest(
            x0 in -3.0f64..27.0, y0 in -3.0f64..19.0, dx in -0.4f64..0.4, n in 1usize..200, rgb in any::<bool>()
        ) {
            let ch = if rgb { 3 } else { 1 };
            let raw = ramp(24, 16, ch);
            let s = Sampler::borrowed(&raw, ch, 24, 16);
            let points: Vec<(f64, f64)> = (0..n).map(|k| (x0 + dx * k as f64, y0 + 0.05 * k as f64)).collect();
            let mut row = vec![0u8; 3 * n];
            s.rgb_nearest_row(points.iter().copied(), &mut row);
            for (px, &(x, y)) in row.chunks_exact(3).zip(&points) {
                prop_assert_eq!([px[0], px[1], px[2]], s.rgb_nearest(x, y), "at ({}, {})", x, y);
            }
        }

        /// A row through any homography gives each point's own bilinear colour (the AVX2 path
        /// included), on a noise image so that a swapped channel or neighbour shows, at points
        /// inside, on the edges and outside.
        #[test]
        fn a_row_gives_each_points_colour(
            seed in any::<u64>(), angle in -0.3f64..0.3, scale in 0.3f64..3.0, tx in -10.0f64..50.0,
            ty in -10.0f64..40.0, p in -2e-3f64..2e-3, j in 0.0f64..40.0, start in 0usize..30, n in 0usize..70,
        ) {
            let (w, h) = (37u32, 29u32);
            let raw = noise(seed, (w * h * 3) as usize);
            let s = Sampler::borrowed(&raw, 3, w, h);
            let (c, sn) = (angle.cos() * scale, angle.sin() * scale);
            let hm = Homography::fit(
                &[Point::new(0.0, 0.0), Point::new(40.0, 0.0), Point::new(40.0, 40.0), Point::new(0.0, 40.0)],
                &[(0.0, 0.0), (40.0, 0.0), (40.0, 40.0), (0.0, 40.0)].map(|(x, y): (f64, f64)| {
                    let d = 1.0 + p * x;
                    Point::new((c * x - sn * y + tx) / d, (sn * x + c * y + ty) / d)
                }),
            )
            .unwrap();
            let mut got = Vec::new();
            s.row(&hm, j, start..start + n, |i, px| got.push((i, px)));
            let want: Vec<(usize, [u8; 3])> = (start..start + n)
                .zip(hm.row_points(start as f64, j, 1.0))
                .map(|(i, (x, y))| (i, s.at_xy_ch::<3>(x, y)))
                .collect();
            prop_assert_eq!(got, want);
            // The first channel alone, at the same points.
            let (xs, ys): (Vec<f64>, Vec<f64>) = hm.row_points(start as f64, j, 1.0).take(n).unzip();
            let mut red = vec![0u8; n];
            s.red_row(&xs, &ys, &mut red);
            let want_red: Vec<u8> = xs.iter().zip(&ys).map(|(&x, &y)| s.red_xy_ch::<3>(x, y)).collect();
            prop_assert_eq!(red, want_red);
        }

        /// The fixed-point ink rows come out the same through AVX2 as through the scalar walk,
        /// along any segment, clamped or not, on a noise image.
        #[test]
        fn ink_rows_are_the_scalar_walks(
            seed in any::<u64>(), ax in 0.0f64..40.0, ay in 0.0f64..30.0, bx in 0.0f64..40.0, by in 0.0f64..30.0,
            n in 1usize..90,
        ) {
            let (w, h) = (41usize, 31usize);
            let raw = noise(seed, w * h * 3);
            let (a, b) = (Point::new(ax, ay), Point::new(bx, by));
            let (mut fast, mut slow) = (vec![0u8; n], vec![0u8; n]);
            let ok = ink_row_fixed_in::<3, true>(&raw, w, h, a, b, &mut fast);
            prop_assert_eq!(ok, ink_row_fixed_in::<3, false>(&raw, w, h, a, b, &mut slow));
            prop_assert_eq!(&fast, &slow);
            // One channel, with the slack the AVX2 walk needs past the last pixel.
            let grey = &raw[..w * h + 2];
            let ok = ink_row_fixed_in::<1, true>(grey, w, h, a, b, &mut fast);
            prop_assert_eq!(ok, ink_row_fixed_in::<1, false>(grey, w, h, a, b, &mut slow));
            prop_assert_eq!(fast, slow);
        }

        /// The fast floor is `f64::floor`, bit for bit (the sign of zero included).
        #[test]
        fn the_fast_floor_is_floor(x in proptest::num::f64::ANY, k in -4000i64..4000, d in -1e-9f64..1e-9) {
            prop_assert_eq!(floor(x).to_bits(), x.floor().to_bits(), "{}", x);
            let y = k as f64 * 0.5 + d;
            prop_assert_eq!(floor(y).to_bits(), y.floor().to_bits(), "{}", y);
        }

        /// The fast round is `f64::round`, bit for bit: halves (away from zero), the float just
        /// below a half, the sign of zero.
        #[test]
        fn the_fast_round_is_round(x in proptest::num::f64::ANY, k in -4000i64..4000, d in -1e-9f64..1e-9) {
            prop_assert_eq!(round(x).to_bits(), x.round().to_bits(), "{}", x);
            let y = k as f64 * 0.5 + d;
            prop_assert_eq!(round(y).to_bits(), y.round().to_bits(), "{}", y);
            for z in [0.5f64, 0.49999999999999994, -0.5, -0.49999999999999994, -0.0, 2.5, -2.5] {
                prop_assert_eq!(round(z).to_bits(), z.round().to_bits(), "{}", z);
            }
        }

        #[test]
        fn the_grid_interpolates_between_its_values(x in 0.0f64..6.99, y in 0.0f64..4.99) {
            let raw = ramp(8, 6, 1);
            let v = bilinear_grid(8, 6, x, y, |k| raw[k] as f32);
            let (lo, hi) = (*raw.iter().min().unwrap() as f32, *raw.iter().max().unwrap() as f32);
            prop_assert!(v >= lo && v <= hi);
            prop_assert!((v - (x as f32 * 7.0 + y as f32 * 3.0)).abs() < 1e-3);
        }
    }
}
