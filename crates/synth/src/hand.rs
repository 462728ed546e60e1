//! Simulated handwriting: MNIST digits in comb cells, names in one of three hands
//! ([`HandSource`]), ticks, crosses and scribbled signatures, all inked multiplicatively onto
//! the page like pen on paper.

mod strokes;

use formscan::geometry::{Point, Rect};
use formscan_print::render::fonts::has_glyph;
use formscan_print::render::raster::Canvas;
use formscan_print::render::{Align, FontKind, Rgb};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
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

/// Which handwriting names are written in. A name recogniser measured on one font learns that
/// font; the three sources differ in letterforms, stroke width and regularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum HandSource {
    /// LXGW WenKai (`assets/fonts/hand.ttf`), a brush-pen kaishu font with contrast between
    /// thick and thin strokes; regular, as type is. The hand every page was written in before
    /// the others existed, so the default keeps output byte-identical.
    #[default]
    WenKai,
    /// Seto font (`assets/fonts/hand-seto.ttf`), a rounded felt-pen handwriting font drawn by
    /// one person, with per-character size and baseline jitter. It is a Japanese font: 20 of
    /// the names' 150 characters (simplified forms such as 陈, 许, 马: [`SETO_GAPS`]) have no
    /// glyph and are written by the stroke renderer with a pen of Seto's weight instead.
    Seto,
    /// Stroke-level synthetic handwriting: every stroke drawn along its median from Make Me a
    /// Hanzi (npm `hanzi-writer-data`, `assets/hand/medians.json.gz`) with its own random
    /// affine jitter, a per-name slant, pen width (0.3–0.6 mm) and spacing, and a pen that
    /// swells where it lands and tapers where it lifts. No two renderings of a name agree.
    Strokes,
}

impl HandSource {
    /// All sources, default first.
    pub const ALL: [HandSource; 3] = [HandSource::WenKai, HandSource::Seto, HandSource::Strokes];

    /// The source's name as [`str::parse`] takes it: `wenkai`, `seto` or `strokes`.
    pub fn as_str(self) -> &'static str {
        match self {
            HandSource::WenKai => "wenkai",
            HandSource::Seto => "seto",
            HandSource::Strokes => "strokes",
        }
    }

    /// True when this source writes `ch` in its own hand. Otherwise WenKai draws the font's
    /// `.notdef` box, Seto falls back to the stroke renderer, and Strokes leaves a gap. Every
    /// character of [`crate::names::SURNAMES`] and [`crate::names::GIVEN`] is covered by WenKai
    /// and Strokes, all but [`SETO_GAPS`] by Seto.
    pub fn has_char(self, ch: char) -> bool {
        match self {
            HandSource::WenKai => has_glyph(FontKind::Hand, ch),
            HandSource::Seto => has_glyph(FontKind::HandSeto, ch),
            HandSource::Strokes => strokes::medians(ch).is_some(),
        }
    }
}

impl std::str::FromStr for HandSource {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        HandSource::ALL
            .into_iter()
            .find(|h| h.as_str() == s)
            .ok_or_else(|| format!("hand `{s}` is not wenkai, seto or strokes"))
    }
}

/// The name characters Seto font has no glyph for (its cmap maps them to empty outlines; the
/// subset leaves them out): simplified forms that Japanese does not use.
pub const SETO_GAPS: &str = "许诺谢谭贾赵轩辉邓邹郑钟陆陈韦韩颖马鹏龙";

/// Seto's stroke width as a share of the em, for the pen that writes the characters it lacks:
/// its felt-pen strokes are ~75 of 1024 units wide (outline area over stroke length of 一 and
/// 王).
const SETO_PEN_EM: f64 = 0.075;

/// Where a name starts in box `b` and how large it is written: em size 60–78 % of the box
/// height, 1–4 mm from the left edge, the baseline so that the characters sit centred.
/// [`draw_text`] has always made these three draws in this order, so every source starts the
/// same way.
fn layout<R: Rng>(rng: &mut R, b: Rect) -> (f64, Point) {
    let size = b.h * rng.gen_range(0.6..0.78);
    let x = b.x + rng.gen_range(1.0..4.0);
    let y = b.y + b.h * 0.5 + size * 0.36 + rng.gen_range(-0.4..0.4);
    (size, Point::new(x, y))
}

/// The em cell of a character written at `x` on baseline `y` (mm), `adv` wide, em `size`: from
/// the tops of the tallest characters to the bottoms of the lowest.
fn em_cell(x: f64, y: f64, adv: f64, size: f64) -> Rect {
    Rect::new(x, y - 0.85 * size, adv, 0.97 * size)
}

/// Hand-writes `text` (characters of the synthetic name lists) in box `b` with LXGW WenKai;
/// the same as [`draw_text_with`] with [`HandSource::WenKai`].
pub fn draw_text<R: Rng>(c: &mut Canvas, rng: &mut R, b: Rect, text: &str) {
    let (size, at) = layout(rng, b);
    c.text(at, size, text, INK, Align::Left, FontKind::Hand, true);
}

/// Hand-writes `text` (characters of the synthetic name lists) in box `b` (mm) in `source`'s
/// hand: em size 60–78 % of the box height, starting 1–4 mm from its left edge. Seto and the
/// stroke renderer keep the ink inside the box (a long name is written smaller).
///
/// Every source takes the same three draws from `rng` (those of [`draw_text`]); whatever else
/// a hand varies comes from a generator seeded by them and the text. So pages simulated with
/// different sources have the same people, values and scanner effects and differ only in
/// how the names look.
pub fn draw_text_with<R: Rng>(c: &mut Canvas, rng: &mut R, b: Rect, text: &str, source: HandSource) {
    let (size, at) = layout(rng, b);
    write(c, &mut hand_rng(size, at, text), b, text, source, size, at);
}

/// Hand-writes the name `text` in box `b` as a writer who slipped: the character at `at` (a
/// char index) was first written as `wrong`, struck through with 1–3 strokes, and the right
/// character written after it, then the rest of the name. What a reader should read is
/// `text`. Takes the same three draws from `rng` as [`draw_text_with`]. Panics when `at` is
/// not a character index of `text`.
pub fn draw_text_with_correction<R: Rng>(
    c: &mut Canvas,
    rng: &mut R,
    b: Rect,
    text: &str,
    at: usize,
    wrong: char,
    source: HandSource,
) {
    let chars: Vec<char> = text.chars().collect();
    assert!(at < chars.len(), "correction at {at} in a {}-character name", chars.len());
    let written: String = chars[..at].iter().chain([&wrong]).chain(&chars[at..]).collect();
    let (size, origin) = layout(rng, b);
    let mut own = hand_rng(size, origin, &written);
    let cells = write(c, &mut own, b, &written, source, size, origin);
    strike(c, &mut own, cells[at], b);
}

/// The generator for everything a hand varies beyond the layout: seeded by the layout's draws
/// and the text (FNV-1a), so it is as deterministic as the page's own generator without taking
/// more draws from it.
fn hand_rng(size: f64, at: Point, text: &str) -> ChaCha8Rng {
    let bytes = [size, at.x, at.y].into_iter().flat_map(|v| v.to_bits().to_le_bytes()).chain(text.bytes());
    let h = bytes.fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    ChaCha8Rng::seed_from_u64(h)
}

/// Writes `text` in `source`'s hand at em `size` from baseline point `at` and returns each
/// character's cell as written (mm).
fn write(
    c: &mut Canvas,
    rng: &mut ChaCha8Rng,
    b: Rect,
    text: &str,
    source: HandSource,
    size: f64,
    at: Point,
) -> Vec<Rect> {
    match source {
        HandSource::WenKai => {
            c.text(at, size, text, INK, Align::Left, FontKind::Hand, true);
            let mut x = at.x;
            text.chars()
                .map(|ch| {
                    let adv = Canvas::text_width(ch.encode_utf8(&mut [0; 4]), size, FontKind::Hand);
                    x += adv;
                    em_cell(x - adv, at.y, adv, size)
                })
                .collect()
        }
        HandSource::Seto => write_seto(c, rng, b, text, size, at),
        HandSource::Strokes => write_strokes(c, rng, b, text, size, at),
    }
}

/// Seto font, a character at a time: a writer's characters differ a little in size and sit a
/// little above or below the line, which one run of type never does.
fn write_seto(c: &mut Canvas, rng: &mut ChaCha8Rng, b: Rect, text: &str, size: f64, at: Point) -> Vec<Rect> {
    // Seto's characters are one em wide: a long name is written smaller to stay in the box.
    let n = text.chars().count().max(1) as f64;
    let size = size.min((b.right() - 0.6 - at.x) / (n * 1.02));
    let fallback = strokes::Writer { pen_mm: SETO_PEN_EM * size, slant: 0.0, density: 1.0, taper: 0.1, jitter: 0.4 };
    let inner = b.inflate(-0.35);
    let mut x = at.x;
    let mut cells = Vec::with_capacity(n as usize);
    for ch in text.chars() {
        let s = size * rng.gen_range(0.95..1.02);
        let y = at.y + rng.gen_range(-0.02..0.02) * size;
        let adv = if has_glyph(FontKind::HandSeto, ch) {
            let mut buf = [0; 4];
            let one = ch.encode_utf8(&mut buf);
            c.text(Point::new(x, y), s, one, INK, Align::Left, FontKind::HandSeto, true);
            Canvas::text_width(one, s, FontKind::HandSeto)
        } else {
            let mut traces = strokes::trace_char(rng, ch, Point::new(x, y), s, &fallback);
            strokes::fit_into(&mut traces, inner);
            strokes::ink(c, &traces, fallback.density);
            s
        };
        cells.push(em_cell(x, y, adv, s));
        x += adv;
    }
    cells
}

/// The stroke renderer (see [`HandSource::Strokes`]).
fn write_strokes(c: &mut Canvas, rng: &mut ChaCha8Rng, b: Rect, text: &str, size: f64, at: Point) -> Vec<Rect> {
    let w = strokes::Writer::random(rng);
    // Tight or airy spacing, and a line that climbs or sinks a little.
    let spacing = rng.gen_range(0.9..1.06);
    let drift = rng.gen_range(-0.025..0.025);
    let mut x = at.x;
    let mut traces = Vec::new();
    let mut spans = Vec::new();
    for ch in text.chars() {
        let t = strokes::trace_char(rng, ch, Point::new(x, at.y + drift * (x - at.x)), size, &w);
        spans.push((traces.len(), traces.len() + t.len(), x));
        traces.extend(t);
        x += size * spacing * rng.gen_range(0.93..1.05);
    }
    strokes::fit_into(&mut traces, b.inflate(-0.35));
    strokes::ink(c, &traces, w.density);
    spans
        .into_iter()
        .map(|(i, j, x)| strokes::extent(&traces[i..j]).map_or_else(|| em_cell(x, at.y, size, size), |(r, _)| r))
        .collect()
}

/// Strikes out a character written in `cell` with 1–3 roughly horizontal strokes a little
/// longer than it, kept inside box `b`.
fn strike<R: Rng>(c: &mut Canvas, rng: &mut R, cell: Rect, b: Rect) {
    let n = rng.gen_range(1..=3);
    let w = rng.gen_range(0.3..0.5);
    let room = b.inflate(-0.35 - w / 2.0);
    let inside = |p: Point| Point::new(p.x.clamp(room.x, room.right()), p.y.clamp(room.y, room.bottom()));
    let cy = cell.center().y;
    for k in 0..n {
        let y = cy + (k as f64 - (n - 1) as f64 / 2.0) * cell.h * 0.2 + rng.gen_range(-0.05..0.05) * cell.h;
        let tilt = rng.gen_range(-0.15..0.15) * cell.w;
        let from = Point::new(cell.x - rng.gen_range(0.05..0.2) * cell.w, y + tilt / 2.0);
        let to = Point::new(cell.right() + rng.gen_range(0.05..0.2) * cell.w, y - tilt / 2.0);
        c.line(inside(from), inside(to), INK, w);
    }
}

#[cfg(test)]
mod tests;
