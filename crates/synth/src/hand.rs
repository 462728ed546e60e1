//! Simulated handwriting: MNIST digits in comb cells, brush-font characters, ticks, crosses
//! and scribbled signatures, all inked multiplicatively onto the page like pen on paper.

use formscan::geometry::{Point, Rect};
use formscan_print::render::raster::Canvas;
use formscan_print::render::{Align, FontKind, Rgb};
use rand::Rng;
use std::io::Read;
use std::sync::OnceLock;

/// Blue-black gel-pen ink.
pub const INK: Rgb = Rgb(22, 26, 58);

/// Which committed MNIST digits a page is written with (see `tools/make_assets.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DigitSet {
    /// Training images 55,000–59,999: test and benchmark pages.
    #[default]
    Pages,
    /// Training images 50,000–54,999: calibration pages for the accept thresholds.
    Calibration,
}

/// The committed MNIST digits of `set`: `(label, 28 × 28 grey)`, ink bright on black as in
/// MNIST. The recogniser never trained on either set.
pub fn digits(set: DigitSet) -> &'static [(u8, [u8; 784])] {
    static PAGES: OnceLock<Vec<(u8, [u8; 784])>> = OnceLock::new();
    static CALIB: OnceLock<Vec<(u8, [u8; 784])>> = OnceLock::new();
    let (cell, gz): (_, &[u8]) = match set {
        DigitSet::Pages => (&PAGES, include_bytes!("../../../assets/digits/mnist-synth.bin.gz")),
        DigitSet::Calibration => (&CALIB, include_bytes!("../../../assets/digits/mnist-calib.bin.gz")),
    };
    cell.get_or_init(|| {
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(gz).read_to_end(&mut raw).expect("bundled digits decompress");
        raw.chunks_exact(785)
            .map(|c| {
                let mut px = [0u8; 784];
                px.copy_from_slice(&c[1..]);
                (c[0], px)
            })
            .collect()
    })
}

/// A random MNIST sample of digit `d` from `set`.
pub fn pick_digit<R: Rng>(rng: &mut R, set: DigitSet, d: u8) -> &'static [u8; 784] {
    let all = digits(set);
    loop {
        let (l, px) = &all[rng.gen_range(0..all.len())];
        if *l == d {
            return px;
        }
    }
}

/// Writes a 28 × 28 MNIST image into `cell` (mm): the digit's 20-pixel box is scaled to ~70 %
/// of the cell height, as people write inside combs, with jitter in size and position.
pub fn draw_digit<R: Rng>(c: &mut Canvas, rng: &mut R, cell: Rect, glyph: &[u8; 784]) {
    let s = c.px_per_mm;
    // MNIST's 20-pixel box holds the digit; writers size a digit to the cell, keeping it inside
    // both its height and its width (a wide 0 in a narrow cell is written smaller).
    let mm_per_src = (cell.h * rng.gen_range(0.6..0.75)).min((cell.w - 0.8) * rng.gen_range(0.85..1.0)) / 20.0;
    let size = 28.0 * mm_per_src;
    let cx = cell.center().x + rng.gen_range(-0.25..0.25) * (cell.w - 20.0 * mm_per_src * 0.7).max(0.0);
    let cy = cell.center().y + rng.gen_range(-0.06..0.06) * cell.h;
    let (x0, y0) = (cx - size / 2.0, cy - size / 2.0);
    let (px0, py0) = ((x0 * s).floor() as i64, (y0 * s).floor() as i64);
    let n = (size * s).ceil() as i64 + 1;
    // Keep the writing inside the cell's inner area, as a careful writer does.
    let inner = cell.inflate(-0.35);
    for py in py0..py0 + n {
        for px in px0..px0 + n {
            let (mx, my) = ((px as f64 + 0.5) / s, (py as f64 + 0.5) / s);
            if !inner.contains(Point::new(mx, my)) {
                continue;
            }
            let (u, v) = ((mx - x0) / mm_per_src - 0.5, (my - y0) / mm_per_src - 0.5);
            let a = bilinear(glyph, u, v) / 255.0;
            if a > 0.02 {
                c.ink(px, py, INK, (a * 1.1).min(1.0) as f32);
            }
        }
    }
}

fn bilinear(g: &[u8; 784], u: f64, v: f64) -> f64 {
    let (u0, v0) = (u.floor(), v.floor());
    let (fu, fv) = (u - u0, v - v0);
    let at = |x: f64, y: f64| -> f64 {
        if x < 0.0 || y < 0.0 || x > 27.0 || y > 27.0 {
            0.0
        } else {
            g[y as usize * 28 + x as usize] as f64
        }
    };
    let top = at(u0, v0) * (1.0 - fu) + at(u0 + 1.0, v0) * fu;
    let bot = at(u0, v0 + 1.0) * (1.0 - fu) + at(u0 + 1.0, v0 + 1.0) * fu;
    top * (1.0 - fv) + bot * fv
}

/// Writes an `X` (the ID check character) as two crossing strokes.
pub fn draw_x<R: Rng>(c: &mut Canvas, rng: &mut R, cell: Rect) {
    let r = cell.inflate(-cell.w * 0.22);
    let j = |rng: &mut R| rng.gen_range(-0.3..0.3);
    let w = rng.gen_range(0.35..0.55);
    c.line(Point::new(r.x + j(rng), r.y + j(rng)), Point::new(r.right() + j(rng), r.bottom() + j(rng)), INK, w);
    c.line(Point::new(r.right() + j(rng), r.y + j(rng)), Point::new(r.x + j(rng), r.bottom() + j(rng)), INK, w);
}

fn polyline(c: &mut Canvas, pts: &[Point], w: f64) {
    for p in pts.windows(2) {
        c.line(p[0], p[1], INK, w);
    }
}

/// A tick (70 %) or a cross in a checkbox.
pub fn draw_tick<R: Rng>(c: &mut Canvas, rng: &mut R, b: Rect) {
    let w = rng.gen_range(0.35..0.6);
    let j = |rng: &mut R| rng.gen_range(-0.08..0.08);
    let at = |fx: f64, fy: f64, rng: &mut R| Point::new(b.x + b.w * (fx + j(rng)), b.y + b.h * (fy + j(rng)));
    if rng.gen_bool(0.7) {
        let pts = [at(0.18, 0.5, rng), at(0.42, 0.82, rng), at(0.9, 0.1, rng)];
        polyline(c, &pts, w);
    } else {
        c.line(at(0.15, 0.15, rng), at(0.85, 0.85, rng), INK, w);
        c.line(at(0.85, 0.15, rng), at(0.15, 0.85, rng), INK, w);
    }
}

/// A scribbled signature: a few looping strokes across the box.
pub fn draw_signature<R: Rng>(c: &mut Canvas, rng: &mut R, b: Rect) {
    let inner = b.inflate(-1.5);
    let w = rng.gen_range(0.35..0.55);
    let parts = rng.gen_range(2..5);
    let mut x = inner.x + rng.gen_range(0.0..inner.w * 0.2);
    let span = inner.w * rng.gen_range(0.5..0.95) / parts as f64;
    for _ in 0..parts {
        let mut pts = Vec::new();
        let (freq, amp) = (rng.gen_range(1.5..4.0), inner.h * rng.gen_range(0.2..0.45));
        let base = inner.center().y + rng.gen_range(-0.15..0.15) * inner.h;
        let phase = rng.gen_range(0.0..std::f64::consts::TAU);
        for k in 0..=40 {
            let t = k as f64 / 40.0;
            let loopy = (t * std::f64::consts::TAU * freq + phase).cos() * span * 0.12;
            let px = (x + t * span + loopy).clamp(inner.x, inner.right());
            let py =
                (base + (t * std::f64::consts::TAU * freq * 0.5 + phase).sin() * amp).clamp(inner.y, inner.bottom());
            pts.push(Point::new(px, py));
        }
        polyline(c, &pts, w);
        x += span * rng.gen_range(0.9..1.15);
    }
}

/// Hand-writes `text` (characters of the synthetic name lists) in box `b`.
pub fn draw_text<R: Rng>(c: &mut Canvas, rng: &mut R, b: Rect, text: &str) {
    let size = b.h * rng.gen_range(0.6..0.78);
    let x = b.x + rng.gen_range(1.0..4.0);
    let y = b.y + b.h * 0.5 + size * 0.36 + rng.gen_range(-0.4..0.4);
    c.text(Point::new(x, y), size, text, INK, Align::Left, FontKind::Hand, true);
}
