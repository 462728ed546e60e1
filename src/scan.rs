//! A decoded page prepared for reading: the pixels, a low-resolution copy of the ink channel for
//! registration, and an estimate of the paper's brightness across the page.
//!
//! **Ink channel.** Colour scans are read through their red channel: black and blue pen are
//! dark there while the red drop-out outlines are nearly as bright as paper, so boxes vanish
//! and only the writing remains (the census drop-out technique). Grey scans are used as they
//! are.
//!
//! **Paper level.** Sheet-fed scanners light a page unevenly; the paper level is the 90th
//! percentile of each ~8 mm block of the low-resolution image, spread by a 3 × 3 block maximum
//! so that a block filled by a photo or a dense scribble borrows its neighbours' paper. Ink is
//! then "darker than 55 % of the local paper", a threshold that holds from bright to dim
//! corners without per-page tuning.

use crate::decode::dct::DctPage;
use crate::geometry::{Homography, Point, Rect};
use crate::sample::Sampler;
use image::DynamicImage;
use std::sync::{Mutex, PoisonError};

/// Ink threshold as a fraction of the local paper level: pen strokes scan at 10–35 % of paper,
/// bleed-through and the drop-out red at 75 % or more.
pub const INK_FRACTION: f32 = 0.55;

/// Where a page's full-resolution pixels come from.
enum Pixels {
    /// Decoded whole (PNG, TIFF, PDF, and JPEGs the coefficient decoder leaves alone).
    Image(DynamicImage),
    /// A JPEG kept as coefficients ([`crate::decode::dct`]): pixels are decoded where a stage
    /// first reads, so every read goes through [`Scan::with_pixels`]. The lock makes the
    /// decode-on-read safe behind `&Scan`; one worker reads a page, so it is never contended.
    Dct(Mutex<Box<DctPage>>),
}

/// A decoded page ready for registration and reading.
///
/// With [`crate::EngineOptions::jpeg_coefficients`] a JPEG page is held as its DCT
/// coefficients: its red (ink) channel is decoded over the whole page into a plane of its own,
/// and colour only where a stage reads colour (the photo box, the content tests, the ID-copy
/// area). Every value read is the one a full decode gives.
pub struct Scan {
    pixels: Pixels,
    width: u32,
    height: u32,
    /// Low-resolution ink channel.
    pub(crate) low: Vec<u8>,
    /// Low-resolution width.
    pub(crate) low_w: usize,
    /// Low-resolution height.
    pub(crate) low_h: usize,
    /// Full-resolution pixels per low-resolution pixel.
    pub(crate) factor: usize,
    /// Low-resolution ink mask (darker than [`INK_FRACTION`] of the local paper).
    pub(crate) low_ink: Vec<bool>,
    bg: Vec<u8>,
    bg_w: usize,
    bg_h: usize,
    bg_block: usize,
}

/// A finished page's buffers, handed back for the next page ([`Scan::into_buffers`]).
pub(crate) enum Buffers {
    /// A coefficient page.
    Dct(Box<DctPage>),
    /// A decoded page's pixels.
    Pixels(Vec<u8>),
}

impl Scan {
    /// Prepares a decoded page. The image must be 8-bit grey or RGB (other layouts are
    /// converted, at a cost).
    pub fn new(image: DynamicImage) -> Scan {
        let image = match image {
            DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => image,
            other => DynamicImage::ImageRgb8(other.to_rgb8()),
        };
        let (width, height) = (image.width(), image.height());
        let factor = low_factor(width, height);
        let (low_w, low_h) = ((width as usize / factor).max(1), (height as usize / factor).max(1));
        let mut low = vec![255u8; low_w * low_h];
        let (raw, ch) = match &image {
            DynamicImage::ImageRgb8(im) => (im.as_raw().as_slice(), 3),
            DynamicImage::ImageLuma8(im) => (im.as_raw().as_slice(), 1),
            _ => unreachable!("converted above"),
        };
        downsample(raw, ch, width as usize, factor, low_w, low_h, &mut low);
        Scan::prepared(Pixels::Image(image), width, height, low, factor)
    }

    /// Prepares a JPEG page held as coefficients: its red (ink) channel is decoded over the
    /// whole page and box-filtered as [`Scan::new`] does a decoded page's, so the
    /// low-resolution copy, the paper levels and the ink mask are the same to the bit.
    pub(crate) fn from_dct(mut page: Box<DctPage>) -> Scan {
        let (width, height) = (page.width(), page.height());
        let factor = low_factor(width, height);
        let (low_w, low_h) = ((width as usize / factor).max(1), (height as usize / factor).max(1));
        let mut low = vec![255u8; low_w * low_h];
        page.ensure(0, 0, width.into(), height.into(), false);
        downsample(page.ink(), 1, width as usize, factor, low_w, low_h, &mut low);
        Scan::prepared(Pixels::Dct(Mutex::new(page)), width, height, low, factor)
    }

    /// Gives back the page's buffers for the next page: a coefficient page's, or a decoded
    /// page's pixel buffer.
    pub(crate) fn into_buffers(self) -> Buffers {
        match self.pixels {
            Pixels::Dct(m) => Buffers::Dct(m.into_inner().unwrap_or_else(PoisonError::into_inner)),
            Pixels::Image(DynamicImage::ImageRgb8(im)) => Buffers::Pixels(im.into_raw()),
            Pixels::Image(DynamicImage::ImageLuma8(im)) => Buffers::Pixels(im.into_raw()),
            Pixels::Image(_) => Buffers::Pixels(Vec::new()),
        }
    }

    /// Whether the page is black and white only (a CCITT G4 or 1-bit scan converted to grey),
    /// from a sparse sample: every 97th pixel of a grey image, so 90,000 of an A4 page at
    /// 300 dpi, is 0 or 255 (a grey scan has in-between values within the first few samples).
    /// A page held as coefficients is never taken for one.
    pub fn is_bilevel(&self) -> bool {
        let Pixels::Image(DynamicImage::ImageLuma8(g)) = &self.pixels else { return false };
        g.as_raw().iter().step_by(97).all(|&v| v == 0 || v == 255)
    }

    fn prepared(pixels: Pixels, width: u32, height: u32, low: Vec<u8>, factor: usize) -> Scan {
        let (low_w, low_h) = ((width as usize / factor).max(1), (height as usize / factor).max(1));
        let mut s = Scan {
            pixels,
            width,
            height,
            low,
            low_w,
            low_h,
            factor,
            low_ink: Vec::new(),
            bg: Vec::new(),
            bg_w: 0,
            bg_h: 0,
            bg_block: 1,
        };
        s.estimate_paper();
        // Ink: below INK_FRACTION of the local paper. Per paper cell that is "below the first
        // level that is not ink", found once per cell (the same comparison, not per pixel).
        let first_paper: Vec<u16> =
            s.bg.iter().map(|&p| (0u16..=255).find(|&v| v as f32 >= p as f32 * INK_FRACTION).unwrap_or(256)).collect();
        let mut mask = vec![false; low_w * low_h];
        let block = s.bg_block;
        for (y, (row, ink)) in s.low.chunks_exact(low_w).zip(mask.chunks_exact_mut(low_w)).enumerate() {
            let by = (y / block).min(s.bg_h - 1);
            for (bx, (cells, out)) in row.chunks(block).zip(ink.chunks_mut(block)).enumerate() {
                let k = by * s.bg_w + bx.min(s.bg_w - 1);
                let t = first_paper[k];
                for (o, &v) in out.iter_mut().zip(cells) {
                    *o = u16::from(v) < t;
                }
            }
        }
        s.low_ink = mask;
        s
    }

    /// Runs `f` on the full-resolution pixels, decoded at least over `x0..x1` × `y0..y1`
    /// (pixels, clipped to the page): all channels with `colour`, else the ink channel, which
    /// on a coefficient page is a one-channel plane. Reading outside that box on a coefficient
    /// page is reading another page's leftovers: ask for what is read.
    pub(crate) fn with_pixels<R>(
        &self,
        x0: i64,
        y0: i64,
        x1: i64,
        y1: i64,
        colour: bool,
        f: impl FnOnce(&Sampler<'_>) -> R,
    ) -> R {
        match &self.pixels {
            Pixels::Image(DynamicImage::ImageRgb8(im)) => {
                f(&Sampler::borrowed(im.as_raw(), 3, self.width, self.height))
            }
            Pixels::Image(DynamicImage::ImageLuma8(im)) => {
                f(&Sampler::borrowed(im.as_raw(), 1, self.width, self.height))
            }
            Pixels::Image(other) => f(&Sampler::new(other)),
            Pixels::Dct(m) => {
                let mut page = m.lock().unwrap_or_else(PoisonError::into_inner);
                page.ensure(x0, y0, x1, y1, colour);
                if colour {
                    f(&Sampler::borrowed(page.pixels(), page.channels(), self.width, self.height))
                } else {
                    f(&Sampler::borrowed(page.ink(), 1, self.width, self.height))
                }
            }
        }
    }

    /// [`Scan::with_pixels`] over what `to_scan` maps template rectangle `rect` (mm) to, with
    /// `margin_px` more on every side (bilinear reads take a pixel past their point).
    pub(crate) fn with_area<R>(
        &self,
        to_scan: &Homography,
        rect: Rect,
        margin_px: f64,
        colour: bool,
        f: impl FnOnce(&Sampler<'_>) -> R,
    ) -> R {
        let (x0, y0, x1, y1) = self.bounds(to_scan, rect, margin_px);
        self.with_pixels(x0, y0, x1, y1, colour, f)
    }

    /// The pixel box that `to_scan` maps template rectangle `rect` into, grown by `margin_px`.
    fn bounds(&self, to_scan: &Homography, rect: Rect, margin_px: f64) -> (i64, i64, i64, i64) {
        // A homography maps the rectangle to a convex quadrilateral (away from its vanishing
        // line, far off any page): the corners' bounding box holds it.
        let pts = rect.corners().map(|c| to_scan.apply(c));
        let lo = |v: fn(&Point) -> f64| pts.iter().map(v).fold(f64::INFINITY, f64::min) - margin_px;
        let hi = |v: fn(&Point) -> f64| pts.iter().map(v).fold(f64::NEG_INFINITY, f64::max) + margin_px;
        let clamp = |v: f64| v.clamp(-1.0, 1e9) as i64;
        (clamp(lo(|p| p.x).floor()), clamp(lo(|p| p.y).floor()), clamp(hi(|p| p.x).ceil()), clamp(hi(|p| p.y).ceil()))
    }

    /// Full-resolution width.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Full-resolution height.
    pub fn height(&self) -> u32 {
        self.height
    }

    fn estimate_paper(&mut self) {
        let block = 24; // ~8 mm at ~3 px/mm
        let (bw, bh) = (self.low_w.div_ceil(block), self.low_h.div_ceil(block));
        let mut raw = vec![0u8; bw * bh];
        let mut hist = [0u32; 256];
        for by in 0..bh {
            for bx in 0..bw {
                hist.fill(0);
                let mut n = 0u32;
                for y in by * block..((by + 1) * block).min(self.low_h) {
                    for &v in
                        &self.low[y * self.low_w + bx * block..y * self.low_w + ((bx + 1) * block).min(self.low_w)]
                    {
                        hist[v as usize] += 1;
                        n += 1;
                    }
                }
                let target = n * 9 / 10;
                let mut acc = 0;
                let mut level = 255u8;
                for (v, &c) in hist.iter().enumerate() {
                    acc += c;
                    if acc >= target.max(1) {
                        level = v as u8;
                        break;
                    }
                }
                raw[by * bw + bx] = level;
            }
        }
        let mut bg = vec![0u8; bw * bh];
        for by in 0..bh {
            for bx in 0..bw {
                let mut m = 0u8;
                for y in by.saturating_sub(1)..(by + 2).min(bh) {
                    for x in bx.saturating_sub(1)..(bx + 2).min(bw) {
                        m = m.max(raw[y * bw + x]);
                    }
                }
                // Never below 40: a black page has no paper to speak of.
                bg[by * bw + bx] = m.max(40);
            }
        }
        self.bg = bg;
        self.bg_w = bw;
        self.bg_h = bh;
        self.bg_block = block;
    }

    /// Paper level near full-resolution pixel `p`.
    pub fn paper_at(&self, p: Point) -> f32 {
        let bx =
            ((p.x / self.factor as f64) as isize / self.bg_block as isize).clamp(0, self.bg_w as isize - 1) as usize;
        let by =
            ((p.y / self.factor as f64) as isize / self.bg_block as isize).clamp(0, self.bg_h as isize - 1) as usize;
        self.bg[by * self.bg_w + bx] as f32
    }

    /// Paper level at low-resolution pixel `(x, y)`.
    pub(crate) fn paper_low(&self, x: usize, y: usize) -> u8 {
        let bx = (x / self.bg_block).min(self.bg_w - 1);
        let by = (y / self.bg_block).min(self.bg_h - 1);
        self.bg[by * self.bg_w + bx]
    }

    /// Fraction of low-resolution pixels that are ink: a blank back side scores ~0.
    pub fn ink_coverage(&self) -> f64 {
        self.low_ink.iter().filter(|&&b| b).count() as f64 / (self.low_w * self.low_h) as f64
    }

    /// Ink-channel value at full-resolution `(x, y)`, bilinear; outside the page reads as paper.
    pub fn ink_at(&self, x: f64, y: f64) -> f32 {
        let (x0, y0) = (x.floor() as i64, y.floor() as i64);
        let (a, b) = (x0.saturating_sub(1), y0.saturating_sub(1));
        self.with_pixels(a, b, x0.saturating_add(2), y0.saturating_add(2), false, |s| s.ink_at(x, y))
    }

    /// RGB at full-resolution `(x, y)`, nearest pixel; outside reads as white.
    pub fn rgb_at(&self, x: f64, y: f64) -> [u8; 3] {
        let (x0, y0) = (x.floor() as i64, y.floor() as i64);
        self.with_pixels(x0, y0, x0.saturating_add(1), y0.saturating_add(1), true, |s| s.rgb_nearest(x, y))
    }

    /// Resamples template rectangle `rect` (mm) at `px_per_mm` through `h` (template → scan)
    /// into `out` (ink channel, row-major); returns the patch size.
    pub fn sample_ink(&self, h: &Homography, rect: Rect, px_per_mm: f64, out: &mut Vec<u8>) -> (usize, usize) {
        self.with_area(h, rect, 2.0, false, |pixels| sample_ink_with(pixels, h, rect, px_per_mm, out))
    }

    /// [`Scan::sample_rgb`] for a picture a person looks at (a snippet): each row is stepped
    /// in fixed point between its two exactly mapped ends (as [`Scan::sample_ink`] does), so a
    /// sample whose point lies within a hundredth of a pixel of a pixel edge may take the pixel
    /// beside it (2 % of a photo snippet's pixels on the demo pages).
    /// Measures use [`Scan::sample_rgb`].
    pub fn picture_rgb(&self, h: &Homography, rect: Rect, px_per_mm: f64, out: &mut Vec<u8>) -> (usize, usize) {
        self.with_area(h, rect, 2.0, true, |pixels| {
            sample_rows(rect, px_per_mm, out, |x0, y, step, row| {
                // A row of a field box is affine to far below a pixel (see `sample_ink_with`).
                let x_last = x0 + (row.len() / 3 - 1) as f64 * step;
                let (a, b) = (h.apply(Point::new(x0, y)), h.apply(Point::new(x_last, y)));
                if !pixels.rgb_row_nearest_fixed(a, b, row) {
                    pixels.rgb_nearest_row(h.row_points(x0, y, step), row);
                }
            })
        })
    }

    /// Like [`Scan::sample_ink`] but in colour (3 bytes per pixel, nearest neighbour).
    pub fn sample_rgb(&self, h: &Homography, rect: Rect, px_per_mm: f64, out: &mut Vec<u8>) -> (usize, usize) {
        self.with_area(h, rect, 2.0, true, |pixels| {
            sample_rows(rect, px_per_mm, out, |x0, y, step, row| {
                // The row after next, asked for now: a coarse row's samples lie in cache lines
                // of their own, which the processor's own prefetching finds late.
                let x_last = x0 + (row.len() / 3).saturating_sub(1) as f64 * step;
                pixels.prefetch_row(h, x0, x_last, y + 2.0 * step);
                pixels.rgb_nearest_row(h.row_points(x0, y, step), row)
            })
        })
    }

    /// Copies the axis-aligned full-resolution box `(x0, y0)–(x1, y1)` of the ink channel.
    pub fn crop_ink(&self, x0: u32, y0: u32, x1: u32, y1: u32, out: &mut Vec<u8>) -> (u32, u32) {
        let (x1, y1) = (x1.min(self.width), y1.min(self.height));
        out.clear();
        if x1 <= x0 || y1 <= y0 {
            return (0, 0);
        }
        let w = self.width as usize;
        self.with_pixels(x0.into(), y0.into(), x1.into(), y1.into(), false, |pixels| {
            let (raw, ch) = pixels.raw();
            for y in y0..y1 {
                let row = y as usize * w;
                if ch == 3 {
                    out.extend((x0..x1).map(|x| raw[(row + x as usize) * 3]));
                } else {
                    out.extend_from_slice(&raw[row + x0 as usize..row + x1 as usize]);
                }
            }
        });
        (x1 - x0, y1 - y0)
    }
}

/// The grid of a colour resampling of template rectangle `rect` (mm) at `px_per_mm`, row by
/// row into `out` (3 bytes a sample): `fill_row(x0, y, step, row)` fills the row at template
/// height `y` whose samples lie at `x0`, `x0 + step`, … (their centres, mm), typically through
/// [`Homography::row_points`] (one reciprocal a sample instead of a full mapping with two
/// divisions). Returns the patch size.
fn sample_rows(
    rect: Rect,
    px_per_mm: f64,
    out: &mut Vec<u8>,
    mut fill_row: impl FnMut(f64, f64, f64, &mut [u8]),
) -> (usize, usize) {
    let (w, hh) = patch_size(rect, px_per_mm);
    out.clear();
    out.resize(w * hh * 3, 0);
    let step = 1.0 / px_per_mm;
    for (v, row) in out.chunks_exact_mut(w * 3).enumerate() {
        fill_row(rect.x + 0.5 * step, rect.y + (v as f64 + 0.5) * step, step, row);
    }
    (w, hh)
}

/// Samples across and down a `px_per_mm` resampling of `rect` (at least one each way).
fn patch_size(rect: Rect, px_per_mm: f64) -> (usize, usize) {
    ((rect.w * px_per_mm).round().max(1.0) as usize, (rect.h * px_per_mm).round().max(1.0) as usize)
}

/// [`Scan::sample_ink`] on pixels decoded over the area.
fn sample_ink_with(
    pixels: &Sampler<'_>,
    h: &Homography,
    rect: Rect,
    px_per_mm: f64,
    out: &mut Vec<u8>,
) -> (usize, usize) {
    let (w, hh) = patch_size(rect, px_per_mm);
    out.clear();
    out.resize(w * hh, 255);
    let step = 1.0 / px_per_mm;
    let x0 = rect.x + 0.5 * step;
    let x_last = x0 + (w - 1) as f64 * step;
    for (v, row) in out.chunks_exact_mut(w).enumerate() {
        let y = rect.y + (v as f64 + 0.5) * step;
        // Across one row of a field box (millimetres) a scan's homography is affine to far
        // below a hundredth of a pixel: its denominator changes by ~1e-4 relative over the
        // row, and the deviation from the chord goes with the square of that. So the row is
        // walked on the straight line between its two exactly mapped ends, in fixed point,
        // which is about 2.4 times as fast as a division per sample.
        let (a, b) = (h.apply(Point::new(x0, y)), h.apply(Point::new(x_last, y)));
        if !pixels.ink_row_fixed(a, b, row) {
            for (o, (x, y)) in row.iter_mut().zip(h.row_points(x0, y, step)) {
                *o = pixels.ink_at(x, y) as u8;
            }
        }
    }
    (w, hh)
}

/// Low-resolution factor: ~3 px/mm (75 dpi), assuming the scan spans roughly an A4 height:
/// enough to measure a 6 mm mark's centre to a tenth of a millimetre, 16× fewer pixels than
/// 300 dpi (where it is 4, a DCT scale).
fn low_factor(width: u32, height: u32) -> usize {
    let px_per_mm = (width.max(height) as f64 / 297.0).max(0.1);
    ((px_per_mm / 3.0).round() as usize).clamp(1, 16)
}

/// Box-filter downsampling of the ink channel (the first of `channels`) by `factor`.
fn downsample(raw: &[u8], channels: usize, width: usize, factor: usize, lw: usize, lh: usize, out: &mut [u8]) {
    match (channels, factor) {
        (3, 4) => downsample_by::<3, 4>(raw, width, lw, lh, out),
        (1, 4) => downsample_by::<1, 4>(raw, width, lw, lh, out),
        (3, 2) => downsample_by::<3, 2>(raw, width, lw, lh, out),
        (1, 2) => downsample_by::<1, 2>(raw, width, lw, lh, out),
        _ => downsample_any(raw, channels, width, factor, lw, lh, out),
    }
}

/// [`downsample`] with the channel count and factor known to the compiler (the usual 300
/// and 150 dpi cases): fixed-size chunks, no bounds checks inside a row, about 4× faster.
fn downsample_by<const CH: usize, const F: usize>(raw: &[u8], width: usize, lw: usize, lh: usize, out: &mut [u8]) {
    let stride = width * CH;
    let mut acc = vec![0u32; lw];
    let area = (F * F) as u32;
    for ly in 0..lh {
        acc.fill(0);
        for y in ly * F..(ly + 1) * F {
            let row = &raw[y * stride..y * stride + lw * F * CH];
            for (a, cell) in acc.iter_mut().zip(row.chunks_exact(F * CH)) {
                let mut s = 0u32;
                for k in 0..F {
                    s += u32::from(cell[k * CH]);
                }
                *a += s;
            }
        }
        for (o, a) in out[ly * lw..(ly + 1) * lw].iter_mut().zip(&acc) {
            *o = (a / area) as u8;
        }
    }
}

fn downsample_any(raw: &[u8], channels: usize, width: usize, factor: usize, lw: usize, lh: usize, out: &mut [u8]) {
    let stride = width * channels;
    let mut acc = vec![0u32; lw];
    let area = (factor * factor) as u32;
    for ly in 0..lh {
        acc.fill(0);
        for y in ly * factor..(ly + 1) * factor {
            let row = &raw[y * stride..];
            for (lx, a) in acc.iter_mut().enumerate() {
                let base = lx * factor * channels;
                let mut s = 0u32;
                for k in 0..factor {
                    s += row[base + k * channels] as u32;
                }
                *a += s;
            }
        }
        for (lx, a) in acc.iter().enumerate() {
            out[ly * lw + lx] = (a / area) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma};

    /// The specialised box filters give the generic one's bytes.
    #[test]
    fn specialised_downsampling_equals_the_generic_one() {
        let (w, h) = (203usize, 157usize);
        for ch in [1usize, 3] {
            let raw: Vec<u8> = (0..w * h * ch).map(|i| ((i * 7919) % 251) as u8).collect();
            for factor in [2usize, 4] {
                let (lw, lh) = (w / factor, h / factor);
                let (mut fast, mut slow) = (vec![0u8; lw * lh], vec![0u8; lw * lh]);
                downsample(&raw, ch, w, factor, lw, lh, &mut fast);
                downsample_any(&raw, ch, w, factor, lw, lh, &mut slow);
                assert_eq!(fast, slow, "{ch} channels, factor {factor}");
            }
        }
    }

    /// The ink mask, set per paper cell, is the per-pixel definition: darker than
    /// `INK_FRACTION` of the local paper level.
    #[test]
    fn the_ink_mask_is_the_share_of_the_local_paper() {
        // Uneven paper (a gradient from 120 to 250) under a texture of every grey level.
        let g = GrayImage::from_fn(1003, 1417, |x, y| {
            let paper = 120 + (x * 130 / 1003) as u8;
            Luma([if (x / 9 + y / 7) % 5 == 0 { ((x * 31 + y * 17) % 256) as u8 } else { paper }])
        });
        let s = Scan::new(DynamicImage::ImageLuma8(g));
        let mut ink = 0;
        for y in 0..s.low_h {
            for x in 0..s.low_w {
                let want = (s.low[y * s.low_w + x] as f32) < s.paper_low(x, y) as f32 * INK_FRACTION;
                assert_eq!(s.low_ink[y * s.low_w + x], want, "({x}, {y})");
                ink += usize::from(want);
            }
        }
        assert!(ink > 100 && ink < s.low_w * s.low_h / 2, "{ink} ink pixels");
    }

    #[test]
    fn blank_page_has_no_ink_and_a_bright_paper_level() {
        let s = Scan::new(DynamicImage::ImageLuma8(GrayImage::from_pixel(840, 1188, Luma([235]))));
        assert_eq!(s.ink_coverage(), 0.0);
        assert!((s.paper_at(Point::new(400.0, 600.0)) - 235.0).abs() < 1.0);
    }

    #[test]
    fn dark_square_is_ink_and_sampled() {
        let mut g = GrayImage::from_pixel(840, 1188, Luma([240]));
        for y in 100..200 {
            for x in 100..200 {
                g.put_pixel(x, y, Luma([20]));
            }
        }
        let s = Scan::new(DynamicImage::ImageLuma8(g));
        assert!(s.ink_coverage() > 0.005);
        assert!(s.ink_at(150.0, 150.0) < 30.0);
        let mut out = Vec::new();
        let (w, h) = s.sample_ink(&Homography::IDENTITY, Rect::new(90.0, 90.0, 20.0, 20.0), 1.0, &mut out);
        assert_eq!((w, h), (20, 20));
        assert!(out[0] > 200 && out[15 * 20 + 15] < 30);
    }

    /// The fixed-point row walk agrees with the exact floating-point sampler to one grey level
    /// under a rotated, perspective template → scan map, in grey and colour scans, and rows
    /// that leave the page fall back to the exact sampler (paper outside).
    #[test]
    fn fixed_point_rows_match_the_exact_sampler() {
        let (w, h) = (900u32, 700u32);
        let value = |x: u32, y: u32| ((x * 37 + y * 91 + (x * y) % 113) % 256) as u8;
        let grey = GrayImage::from_fn(w, h, |x, y| Luma([value(x, y)]));
        let rgb = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([value(x, y), 7, 200]));
        let tpl = [Point::new(0.0, 0.0), Point::new(80.0, 0.0), Point::new(80.0, 60.0), Point::new(0.0, 60.0)];
        let scan_pts =
            [Point::new(40.0, 30.0), Point::new(850.0, 60.0), Point::new(830.0, 680.0), Point::new(20.0, 650.0)];
        let hom = Homography::fit(&tpl, &scan_pts).unwrap();
        for image in [DynamicImage::ImageLuma8(grey), DynamicImage::ImageRgb8(rgb)] {
            let s = Scan::new(image);
            let mut out = Vec::new();
            for rect in
                [Rect::new(3.3, 4.1, 4.5, 7.5), Rect::new(51.0, 40.2, 20.0, 9.0), Rect::new(-3.0, 50.0, 10.0, 20.0)]
            {
                let ppm = 8.0;
                let (pw, ph) = s.sample_ink(&hom, rect, ppm, &mut out);
                for v in 0..ph {
                    for u in 0..pw {
                        let q = hom.apply(Point::new(rect.x + (u as f64 + 0.5) / ppm, rect.y + (v as f64 + 0.5) / ppm));
                        let exact = s.ink_at(q.x, q.y) as u8;
                        let got = out[v * pw + u];
                        assert!(got.abs_diff(exact) <= 1, "{rect:?} ({u}, {v}): {got} vs {exact}");
                    }
                }
            }
        }
    }
}
