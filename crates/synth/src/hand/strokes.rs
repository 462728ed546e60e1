//! Stroke-level synthetic handwriting: each character is written stroke by stroke along the
//! stroke medians of Make Me a Hanzi (<https://github.com/skishore/makemeahanzi>), as shipped
//! in the npm package `hanzi-writer-data` (Arphic Public License; see `assets/hand/`).
//!
//! A font draws a character the same way every time; a writer never does. Here every stroke
//! gets its own small affine jitter (shift, rotation, scale) and a wobble of its points, every
//! character its own size, baseline and slant, and the pen a random width that swells where
//! the stroke starts and tapers where it lifts off, so no two renderings of a name are alike
//! and none looks like a font.

use super::INK;
use formscan::geometry::{Point, Rect};
use formscan_print::render::raster::Canvas;
use rand::Rng;
use std::collections::HashMap;
use std::io::Read;
use std::sync::OnceLock;

/// Make Me a Hanzi's coordinate box: 1024 units a side with y pointing up, the baseline at
/// y = 0 and the top of the box at y = 900 (the usual transform to image coordinates is
/// y' = 900 − y). The box is the character's em square.
const UNITS: f64 = 1024.0;
/// Centre of the em square in Make Me a Hanzi units, about which characters are jittered.
const CENTRE: [f64; 2] = [512.0, 388.0];
/// Path sampling step, mm: fine enough that the pen's discs join into a smooth stroke at
/// 600 dpi (0.04 mm a pixel).
const STEP_MM: f64 = 0.08;

/// One stroke's median: points in Make Me a Hanzi units, in writing order.
type Median = Vec<[f64; 2]>;

/// The stroke medians of `ch`, in stroke order, or `None` when the committed subset
/// (`assets/hand/medians.json.gz`, the characters of the name lists) lacks it.
pub fn medians(ch: char) -> Option<&'static [Median]> {
    static ALL: OnceLock<HashMap<char, Vec<Median>>> = OnceLock::new();
    ALL.get_or_init(|| {
        let gz: &[u8] = include_bytes!("../../../../assets/hand/medians.json.gz");
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(gz).read_to_end(&mut raw).expect("bundled medians decompress");
        let by_str: HashMap<String, Vec<Median>> = serde_json::from_slice(&raw).expect("bundled medians parse");
        by_str
            .into_iter()
            .filter_map(|(k, v)| {
                let mut cs = k.chars();
                let c = cs.next()?;
                cs.next().is_none().then_some((c, v))
            })
            .collect()
    })
    .get(&ch)
    .map(Vec::as_slice)
}

/// How one person writes: fixed for a name, varied between names.
#[derive(Debug, Clone, Copy)]
pub(super) struct Writer {
    /// Pen width where a stroke is pressed hardest, mm.
    pub pen_mm: f64,
    /// Shear: x moves by `slant` × the height above the baseline (positive leans right).
    pub slant: f64,
    /// Ink opacity: a fresh gel pen near 1, a drying one lower.
    pub density: f32,
    /// How much narrower a stroke ends than it starts (gel pens taper as they lift; felt pens
    /// hardly do).
    pub taper: f64,
    /// Scale of the per-stroke and per-character jitter (1: an everyday hand, 0: none).
    pub jitter: f64,
}

impl Writer {
    /// A random writer: pen 0.3–0.6 mm (fine to broad gel pens), slant within ±6°.
    pub fn random<R: Rng>(rng: &mut R) -> Writer {
        Writer {
            pen_mm: rng.gen_range(0.3..0.6),
            slant: rng.gen_range(-0.1..0.1),
            density: rng.gen_range(0.85..1.0),
            taper: rng.gen_range(0.35..0.55),
            jitter: rng.gen_range(0.7..1.3),
        }
    }
}

/// A traced stroke: centre-line points (mm) with the pen width at each (mm).
pub(super) type Trace = Vec<(Point, f64)>;

/// Traces character `ch` on the page with its em square `size` mm wide, the left end of its
/// baseline at `origin`, in `w`'s hand. Empty when there are no medians for `ch`.
pub(super) fn trace_char<R: Rng>(rng: &mut R, ch: char, origin: Point, size: f64, w: &Writer) -> Vec<Trace> {
    let Some(strokes) = medians(ch) else { return Vec::new() };
    let j = w.jitter;
    // The character: its own size, baseline, slant and a slight turn.
    let k = 1.0 + rng.gen_range(-0.07..0.05) * j;
    let turn = rng.gen_range(-0.03..0.03) * j;
    let slant = w.slant + rng.gen_range(-0.03..0.03) * j;
    let lift = rng.gen_range(-0.03..0.03) * j * size;
    let char_affine = Affine::about(CENTRE, k, k, turn);
    let mm_per_unit = size / UNITS;
    let mut out = Vec::with_capacity(strokes.len());
    for median in strokes {
        if median.is_empty() {
            continue;
        }
        // The stroke: a small affine of its own about its centroid (each stroke is aimed anew).
        let n = median.len() as f64;
        let c = [median.iter().map(|p| p[0]).sum::<f64>() / n, median.iter().map(|p| p[1]).sum::<f64>() / n];
        let (sx, sy) = (1.0 + rng.gen_range(-0.08..0.08) * j, 1.0 + rng.gen_range(-0.08..0.08) * j);
        let mut stroke_affine = Affine::about(c, sx, sy, rng.gen_range(-0.06..0.06) * j);
        stroke_affine.t[0] += rng.gen_range(-16.0..16.0) * j;
        stroke_affine.t[1] += rng.gen_range(-16.0..16.0) * j;
        let wobble = 7.0 * j;
        let pts: Vec<Point> = median
            .iter()
            .map(|&p| {
                let p = [p[0] + rng.gen_range(-wobble..=wobble), p[1] + rng.gen_range(-wobble..=wobble)];
                let [x, y] = char_affine.apply(stroke_affine.apply(p));
                // Make Me a Hanzi's y points up from the baseline; the page's y points down.
                Point::new(origin.x + (x + slant * y) * mm_per_unit, origin.y - y * mm_per_unit + lift)
            })
            .collect();
        let path = smooth(&pts);
        out.push(pen(rng, &path, w));
    }
    out
}

/// The pen's width along `path`: pressed down a little harder just after it lands, lighter
/// and narrower as it lifts off at the end (the taper of a gel-pen stroke), with the pressure
/// of each stroke varying.
fn pen<R: Rng>(rng: &mut R, path: &[Point], w: &Writer) -> Trace {
    let mut along = Vec::with_capacity(path.len());
    let mut len = 0.0;
    for (i, p) in path.iter().enumerate() {
        if i > 0 {
            len += p.dist(path[i - 1]);
        }
        along.push(len);
    }
    let pressure = rng.gen_range(0.85..1.1);
    let taper = w.taper * rng.gen_range(0.8..1.2);
    path.iter()
        .zip(along)
        .map(|(&p, s)| {
            let t = if len > 0.0 { s / len } else { 0.0 };
            // Landing: 90 % of full width at once, full within the first tenth.
            let land = 0.9 + 0.1 * (t / 0.1).min(1.0);
            (p, w.pen_mm * pressure * land * (1.0 - taper * t.powf(1.8)))
        })
        .collect()
}

/// A Catmull-Rom spline through `pts` sampled every [`STEP_MM`]: the medians are a few points
/// per stroke, and a hand moves in curves between them, not in straight lines.
fn smooth(pts: &[Point]) -> Vec<Point> {
    if pts.len() < 2 {
        return pts.to_vec();
    }
    let at = |i: isize| pts[i.clamp(0, pts.len() as isize - 1) as usize];
    let mut out = vec![pts[0]];
    for i in 0..pts.len() as isize - 1 {
        let (p0, p1, p2, p3) = (at(i - 1), at(i), at(i + 1), at(i + 2));
        let n = ((p1.dist(p2) / STEP_MM).ceil() as usize).max(1);
        for s in 1..=n {
            let t = s as f64 / n as f64;
            let (t2, t3) = (t * t, t * t * t);
            let f = |a: f64, b: f64, c: f64, d: f64| {
                0.5 * (2.0 * b
                    + (c - a) * t
                    + (2.0 * a - 5.0 * b + 4.0 * c - d) * t2
                    + (3.0 * b - a - 3.0 * c + d) * t3)
            };
            out.push(Point::new(f(p0.x, p1.x, p2.x, p3.x), f(p0.y, p1.y, p2.y, p3.y)));
        }
    }
    out
}

/// A 2-D affine map `p ↦ m·p + t`.
#[derive(Debug, Clone, Copy)]
struct Affine {
    m: [[f64; 2]; 2],
    t: [f64; 2],
}

impl Affine {
    /// Scale by `(sx, sy)`, then rotate by `angle`, both about `c`.
    fn about(c: [f64; 2], sx: f64, sy: f64, angle: f64) -> Affine {
        let (s, co) = angle.sin_cos();
        let m = [[co * sx, -s * sy], [s * sx, co * sy]];
        let t = [c[0] - m[0][0] * c[0] - m[0][1] * c[1], c[1] - m[1][0] * c[0] - m[1][1] * c[1]];
        Affine { m, t }
    }

    fn apply(&self, p: [f64; 2]) -> [f64; 2] {
        [self.m[0][0] * p[0] + self.m[0][1] * p[1] + self.t[0], self.m[1][0] * p[0] + self.m[1][1] * p[1] + self.t[1]]
    }
}

/// The box the centre lines of `traces` span, and the widest pen width among them.
pub(super) fn extent(traces: &[Trace]) -> Option<(Rect, f64)> {
    let mut it = traces.iter().flatten();
    let &(p, w) = it.next()?;
    let (mut x0, mut y0, mut x1, mut y1, mut wmax) = (p.x, p.y, p.x, p.y, w);
    for &(p, w) in it {
        x0 = x0.min(p.x);
        y0 = y0.min(p.y);
        x1 = x1.max(p.x);
        y1 = y1.max(p.y);
        wmax = wmax.max(w);
    }
    Some((Rect::new(x0, y0, x1 - x0, y1 - y0), wmax))
}

/// Moves and, if need be, shrinks `traces` (as one) so that their ink stays inside `target`:
/// a writer who runs out of room writes smaller rather than over the box's edge.
pub(super) fn fit_into(traces: &mut [Trace], target: Rect) {
    let Some((bb, wmax)) = extent(traces) else { return };
    let room = target.inflate(-wmax / 2.0);
    if room.w <= 0.0 || room.h <= 0.0 {
        return;
    }
    let k = (room.w / bb.w.max(1e-9)).min(room.h / bb.h.max(1e-9)).min(1.0);
    let (w, h) = (bb.w * k, bb.h * k);
    let x = bb.x.clamp(room.x, room.right() - w);
    let y = bb.y.clamp(room.y, room.bottom() - h);
    for (p, _) in traces.iter_mut().flatten() {
        *p = Point::new(x + (p.x - bb.x) * k, y + (p.y - bb.y) * k);
    }
}

/// Inks `traces` onto `c`: the coverage of every pixel is the most any stroke gives it (a
/// round pen of the local width, anti-aliased by distance), and the page is darkened once by
/// it, so that where strokes cross or the pen's discs overlap the ink is not laid twice.
pub(super) fn ink(c: &mut Canvas, traces: &[Trace], density: f32) {
    let Some((bb, wmax)) = extent(traces) else { return };
    let s = c.px_per_mm;
    let pad = wmax / 2.0 + 2.0 / s;
    let (x0, y0) = (((bb.x - pad) * s).floor() as i64, ((bb.y - pad) * s).floor() as i64);
    let (x1, y1) = (((bb.right() + pad) * s).ceil() as i64, ((bb.bottom() + pad) * s).ceil() as i64);
    let (bw, bh) = ((x1 - x0 + 1) as usize, (y1 - y0 + 1) as usize);
    let mut cov = vec![0f32; bw * bh];
    let px = |&(p, w): &(Point, f64)| (p.x * s, p.y * s, w * s / 2.0);
    for t in traces {
        match t.as_slice() {
            // A one-point stroke (a dot) is a disc.
            [only] => segment(&mut cov, (x0, y0, bw, bh), px(only), px(only)),
            _ => t.windows(2).for_each(|ab| segment(&mut cov, (x0, y0, bw, bh), px(&ab[0]), px(&ab[1]))),
        }
    }
    for (i, &a) in cov.iter().enumerate() {
        if a > 0.0 {
            c.ink(x0 + (i % bw) as i64, y0 + (i / bw) as i64, INK, a * density);
        }
    }
}

/// Coverage of a round pen moved from `a` to `b` (pixels: x, y, radius, the radius varying
/// linearly), maxed into the buffer `cov` whose pixel (0, 0) is page pixel `(ox, oy)`.
fn segment(cov: &mut [f32], (ox, oy, bw, bh): (i64, i64, usize, usize), a: (f64, f64, f64), b: (f64, f64, f64)) {
    // Below a pixel's width the pen still leaves a one-pixel line, as a scanner sees it.
    let (ra, rb) = (a.2.max(0.5), b.2.max(0.5));
    let r = ra.max(rb) + 1.0;
    let gx0 = ((a.0.min(b.0) - r).floor() as i64 - ox).max(0);
    let gy0 = ((a.1.min(b.1) - r).floor() as i64 - oy).max(0);
    let gx1 = ((a.0.max(b.0) + r).ceil() as i64 - ox).min(bw as i64 - 1);
    let gy1 = ((a.1.max(b.1) + r).ceil() as i64 - oy).min(bh as i64 - 1);
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    for gy in gy0..=gy1 {
        for gx in gx0..=gx1 {
            let (px, py) = ((gx + ox) as f64 + 0.5, (gy + oy) as f64 + 0.5);
            let t = if len2 > 1e-12 { (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
            let d = ((px - a.0 - t * dx).powi(2) + (py - a.1 - t * dy).powi(2)).sqrt();
            let v = (ra + t * (rb - ra) + 0.5 - d).clamp(0.0, 1.0) as f32;
            let slot = &mut cov[gy as usize * bw + gx as usize];
            *slot = slot.max(v);
        }
    }
}
