//! Finding a pasted print on the page.
//!
//! The area around the template's photo box is resampled into a rectified patch in template
//! millimetres (so page skew is already removed). A pixel belongs to the print when it is
//! darker than paper in the red channel (the red drop-out box outline and its hint text vanish
//! there, as in the field reader) — that catches the photo's content and the thin shadow line
//! a pasted print's edge casts under the scanner lamp, which outlines even a white-background
//! print on white paper. The print is the smallest rectangle, over angles within ±6°, that
//! holds those pixels (a rotating-calipers search restricted to small angles, after Toussaint
//! 1983, "Solving geometric problems with the rotating calipers"), with a few stray pixels
//! trimmed from each side so that noise specks cannot stretch it. That rectangle is only a
//! start: anything dark beside the print (the photo printed in the box, peeking out past a
//! pasted print that does not quite cover it) stretches it, so each side is then fitted as a
//! line to the print's own outer edge, at sub-pixel precision (see `fit_sides`).
//!
//! A pasted print is told from a photo printed in the box by that edge line: it shows on
//! most of a pasted print's perimeter, and not at the content edge of a printed photo.

use crate::geometry::{Homography, Point, Rect};
use crate::sample::Sampler;

/// Where the print run laid drop-out red ink in a patch's area (template mm): strokes (the
/// photo box's outline, table rules) and areas (the hint text printed in an empty box).
///
/// The drop-out red vanishes in the red channel only while its chroma is whole. A scanner's
/// JPEG keeps chroma at half resolution (4:2:0, ITU-T T.81 with the JFIF sampling of
/// ITU-T T.871), and a 0.3 mm line is too thin for that: its chroma is averaged with the paper
/// beside it, so R = Y + 1.402·(Cr − 128) comes back well below paper and the outline reads as
/// a dark line, exactly where a pasted print's shadow line would be. Inside these zones a pixel
/// whose colour leans to red (its red, relative to the paper's, above its green and blue) is
/// therefore read as paper. A shadow line is neutral grey and stays. A grey scan has no colour
/// to tell them apart, so there every pixel of a zone reads as paper: a print edge lying in a
/// zone is lost, never invented.
#[derive(Debug, Clone, Default)]
pub(crate) struct DropoutZones {
    /// Stroked rectangles: (rect, half width of the zone around its outline).
    pub outlines: Vec<(Rect, f64)>,
    /// Line segments: (from, to, half width of the zone).
    pub lines: Vec<(Point, Point, f64)>,
    /// Filled areas.
    pub areas: Vec<Rect>,
}

impl DropoutZones {
    /// True when template point `p` lies in a zone.
    fn contains(&self, p: Point) -> bool {
        self.outlines.iter().any(|&(r, d)| r.inflate(d).contains(p) && !r.inflate(-d).contains(p))
            || self.lines.iter().any(|&(a, b, d)| segment_distance(p, a, b) <= d)
            || self.areas.iter().any(|r| r.contains(p))
    }

    /// Marks in `out` (one flag per sample of a row at template height `y`, sample `i` at
    /// `x0 + (i + 0.5) / ppm`) every sample that may lie in a zone: a superset, from the zones'
    /// bounding boxes, of where [`DropoutZones::contains`] holds, so that it is asked only
    /// there (asked at every sample of a patch it cost a fifth of the photo stage).
    fn mark_row(&self, y: f64, x0: f64, ppm: f64, out: &mut [bool]) {
        out.fill(false);
        let mut mark = |from: f64, to: f64| {
            // Two samples' slack on each side: the test proper decides.
            let i0 = ((from - x0) * ppm - 2.0).floor().max(0.0) as usize;
            let i1 = (((to - x0) * ppm + 2.0).ceil().max(0.0) as usize).min(out.len());
            if let Some(s) = out.get_mut(i0..i1) {
                s.fill(true);
            }
        };
        for &(r, d) in &self.outlines {
            if y < r.y - d - 1e-9 || y > r.y + r.h + d + 1e-9 {
                continue;
            }
            if y > r.y + d && y < r.y + r.h - d {
                // Between the top and bottom strokes only the side strokes are near.
                mark(r.x - d, r.x + d);
                mark(r.x + r.w - d, r.x + r.w + d);
            } else {
                mark(r.x - d, r.x + r.w + d);
            }
        }
        for &(a, b, d) in &self.lines {
            if y >= a.y.min(b.y) - d - 1e-9 && y <= a.y.max(b.y) + d + 1e-9 {
                mark(a.x.min(b.x) - d, a.x.max(b.x) + d);
            }
        }
        for r in &self.areas {
            if y >= r.y - 1e-9 && y <= r.y + r.h + 1e-9 {
                mark(r.x, r.x + r.w);
            }
        }
    }
}

/// Distance from `p` to the segment `a`–`b`.
fn segment_distance(p: Point, a: Point, b: Point) -> f64 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 { (((p.x - a.x) * dx + (p.y - a.y) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    p.dist(Point::new(a.x + t * dx, a.y + t * dy))
}

/// How far a pixel's red may stand above its green and blue, each relative to the paper's own
/// level, and still be read as a neutral or photographic colour inside a drop-out zone. The
/// drop-out red measures 0.5 above at full chroma and 0.15–0.35 on a 0.3 mm line after 4:2:0
/// subsampling; paper and a shadow line measure within ±0.04 (sensor noise), skin 0.1–0.25.
const DROPOUT_RED_EXCESS: f32 = 0.07;

/// How far from a red-leaning pixel a zone pixel is still read as drop-out ink, mm: the reach
/// of a 4:2:0 chroma sample (2 px at 300 dpi, 0.17 mm) and a little blur.
const DROPOUT_REACH_MM: f64 = 0.25;

/// The pixels within a square of half width `r` of a set pixel (`set`: indices into a mask
/// `w` wide and `h` high): the mask's square dilation, drawn square by square. The set pixels
/// lie in the thin drop-out zones, a small share of the patch, so this costs a fraction of a
/// separable dilation over the whole patch (four passes over every pixel, ~15 % of the
/// patch's sampling time).
fn dilate_points(set: impl Iterator<Item = usize>, w: usize, h: usize, r: usize) -> Vec<bool> {
    let mut out = vec![false; w * h];
    for k in set.filter(|&k| k < w * h) {
        let (i, j) = (k % w, k / w);
        let (i0, i1) = (i.saturating_sub(r), (i + r).min(w - 1));
        for y in j.saturating_sub(r)..=(j + r).min(h - 1) {
            out[y * w + i0..=y * w + i1].fill(true);
        }
    }
    out
}

/// A rectified patch of the red channel (where the red drop-out print vanishes): pixel
/// `(i, j)` has its centre at template mm `(x0 + (i + 0.5) / ppm, y0 + (j + 0.5) / ppm)`.
pub(crate) struct Patch {
    pub x0: f64,
    pub y0: f64,
    pub ppm: f64,
    pub w: usize,
    pub h: usize,
    pub red: Vec<u8>,
    /// Per-channel paper level: the 90th percentile of each channel, read in colour on every
    /// third pixel of every third row (a percentile needs no more).
    pub paper: [f32; 3],
}

impl Patch {
    /// Resamples `area` (template mm) of `image` through `to_scan` at `ppm` px/mm, reading the
    /// pixels of `zones` that are drop-out ink as paper (see [`DropoutZones`]).
    pub fn sample(s: &Sampler<'_>, to_scan: &Homography, area: Rect, ppm: f64, zones: &DropoutZones) -> Patch {
        if s.is_grey() {
            Patch::sample_ch::<1>(s, to_scan, area, ppm, zones)
        } else {
            Patch::sample_ch::<3>(s, to_scan, area, ppm, zones)
        }
    }

    /// [`Patch::sample`] for a sampler of `CH` bytes a pixel.
    fn sample_ch<const CH: usize>(
        s: &Sampler<'_>,
        to_scan: &Homography,
        area: Rect,
        ppm: f64,
        zones: &DropoutZones,
    ) -> Patch {
        let (w, h) = ((area.w * ppm).round().max(1.0) as usize, (area.h * ppm).round().max(1.0) as usize);
        let mut red = vec![255u8; w * h];
        // Patch pixel (i, j) → template mm (its centre) → scan.
        let to_px = to_scan.compose(&Homography::scale_translate(1.0 / ppm, area.x + 0.5 / ppm, area.y + 0.5 / ppm));
        let mut hist = [[0u32; 256]; 3];
        let mut n = 0u32;
        // Zone pixels keep their colour until the paper level is known: (index, g, b).
        let mut zoned: Vec<(usize, u8, u8)> = Vec::new();
        let grey = s.is_grey();
        // Colour is needed for the paper histogram (every third sample of every third row)
        // and in the drop-out zones; elsewhere the red channel alone, which is the same value.
        let mut near_zone = vec![false; w];
        let (mut xs, mut ys) = (vec![0.0; w], vec![0.0; w]);
        for (j, row) in red.chunks_exact_mut(w).enumerate() {
            let y = area.y + (j as f64 + 0.5) / ppm;
            zones.mark_row(y, area.x, ppm, &mut near_zone);
            let in_zone = |i: usize| zones.contains(Point::new(area.x + (i as f64 + 0.5) / ppm, y));
            for ((x, yy), p) in xs.iter_mut().zip(&mut ys).zip(to_px.row_points(0.0, j as f64, 1.0)) {
                (*x, *yy) = p;
            }
            // Two rows ahead, asked for now: the scan's pixels here are out of the caches.
            s.prefetch_row(&to_px, 0.0, (w - 1) as f64, j as f64 + 2.0);
            // Red everywhere first, then the colour where it is needed (its first channel is
            // the red already there, but for points off the scan, where the two reach the
            // edge sampler by different roundings).
            s.red_row(&xs, &ys, row);
            for (i, (&x, &yy)) in xs.iter().zip(&ys).enumerate() {
                let counted = j % 3 == 1 && i % 3 == 1;
                if !counted && !near_zone[i] {
                    continue;
                }
                let p = s.at_xy_ch::<CH>(x, yy);
                row[i] = p[0];
                if counted {
                    (0..3).for_each(|c| hist[c][p[c] as usize] += 1);
                    n += 1;
                }
                if near_zone[i] && in_zone(i) {
                    zoned.push((j * w + i, p[1], p[2]));
                }
            }
        }
        let paper = [0, 1, 2].map(|c| {
            let target = n * 9 / 10;
            let mut acc = 0;
            for (v, &k) in hist[c].iter().enumerate() {
                acc += k;
                if acc >= target.max(1) {
                    return (v as f32).max(120.0);
                }
            }
            255.0
        });
        // Drop-out ink: zone pixels whose colour leans to red, spread by DROPOUT_REACH_MM,
        // since 4:2:0 can leave a line's edge pixels dark in luma with the chroma of the paper
        // beside them (neutral grey), an edge line of their own.
        let ink = zoned.iter().filter_map(|&(k, g, b)| {
            let r = red[k] as f32 / paper[0];
            (grey || r - (g as f32 / paper[1]).max(b as f32 / paper[2]) > DROPOUT_RED_EXCESS).then_some(k)
        });
        let reach = (DROPOUT_REACH_MM * ppm).ceil() as usize;
        let near = dilate_points(ink, w, h, reach);
        let clear = paper[0].min(255.0) as u8;
        for &(k, _, _) in &zoned {
            if near[k] {
                red[k] = red[k].max(clear);
            }
        }
        Patch { x0: area.x, y0: area.y, ppm, w, h, red, paper }
    }

    /// Template mm of a patch position (in patch pixels, continuous).
    pub fn to_mm(&self, u: f64, v: f64) -> Point {
        Point::new(self.x0 + u / self.ppm, self.y0 + v / self.ppm)
    }
}

/// A located print: corners in template mm (top-left, top-right, bottom-right, bottom-left of
/// the upright print), its rotation and how much of its outline shows an edge line.
#[derive(Debug, Clone)]
pub(crate) struct Located {
    pub quad: [Point; 4],
    /// The corners before sides were moved out past shadow-less edges: a printed photo is
    /// judged by these, since its content blurs a little way past its rectangle.
    pub fitted_quad: [Point; 4],
    pub angle_deg: f64,
    pub edge_score: f64,
}

/// Finds the print in `patch`. `excluded` are template rects (mm) of other fields whose ink
/// must not count (ticks in the nearby checkboxes).
pub(crate) fn locate(patch: &Patch, excluded: &[Rect], box_mm: Rect) -> Option<Located> {
    let paper = patch.paper;
    let thr = paper[0] * 0.88;
    let (w, h) = (patch.w, patch.h);
    // Other fields' rects in patch pixels (a pixel is excluded when its centre lies inside).
    let mut free = vec![true; w * h];
    for r in excluded {
        let i0 = ((r.x - patch.x0) * patch.ppm - 0.5).ceil().max(0.0) as usize;
        let i1 = (((r.x + r.w - patch.x0) * patch.ppm - 0.5).floor() + 1.0).clamp(0.0, w as f64) as usize;
        let j0 = ((r.y - patch.y0) * patch.ppm - 0.5).ceil().max(0.0) as usize;
        let j1 = (((r.y + r.h - patch.y0) * patch.ppm - 0.5).floor() + 1.0).clamp(0.0, h as f64) as usize;
        for j in j0..j1 {
            free[j * w + i0.min(i1)..j * w + i1].iter_mut().for_each(|f| *f = false);
        }
    }
    let mut mask = vec![false; w * h];
    for j in 1..h.saturating_sub(1) {
        for i in 1..w.saturating_sub(1) {
            let k = j * w + i;
            mask[k] = free[k] && (patch.red[k] as f32) < thr;
        }
    }
    // Keep pixels with at least 2 set 8-neighbours: noise specks go, lines 1 px wide stay.
    let mut pts: Vec<(f32, f32)> = Vec::new();
    for j in 1..h.saturating_sub(1) {
        for i in 1..w.saturating_sub(1) {
            let k = j * w + i;
            if !mask[k] {
                continue;
            }
            let n = [k - w - 1, k - w, k - w + 1, k - 1, k + 1, k + w - 1, k + w, k + w + 1]
                .iter()
                .filter(|&&q| mask[q])
                .count();
            if n >= 2 {
                pts.push((i as f32 + 0.5, j as f32 + 0.5));
            }
        }
    }
    // A print of at least ~40 % of the box's area must leave that much content and outline.
    if pts.len() < (box_mm.w * box_mm.h * patch.ppm * patch.ppm * 0.02) as usize {
        return None;
    }
    // The angle search runs on at most ~3,000 points (a regular subsample keeps each side's
    // share); the final extents use them all. It only needs to land within a few tenths of a
    // degree: the side lines fitted below set the final corners.
    let stride = (pts.len() / 3_000).max(1);
    let all = pts;
    let pts: Vec<(f32, f32)> = all.iter().step_by(stride).copied().collect();
    let (mut us, mut vs) = (Vec::with_capacity(all.len()), Vec::with_capacity(all.len()));
    let mut extents_of = |pts: &[(f32, f32)], deg: f64| -> (f64, [f64; 4]) {
        let trim = (pts.len() / 500).max(3);
        let (s, c) = (deg.to_radians().sin() as f32, deg.to_radians().cos() as f32);
        us.clear();
        vs.clear();
        us.extend(pts.iter().map(|&(x, y)| x * c + y * s));
        vs.extend(pts.iter().map(|&(x, y)| -x * s + y * c));
        let n = us.len();
        let u0 = *us.select_nth_unstable_by(trim, f32::total_cmp).1;
        let u1 = *us.select_nth_unstable_by(n - 1 - trim, f32::total_cmp).1;
        let v0 = *vs.select_nth_unstable_by(trim, f32::total_cmp).1;
        let v1 = *vs.select_nth_unstable_by(n - 1 - trim, f32::total_cmp).1;
        (((u1 - u0) * (v1 - v0)) as f64, [u0 as f64, u1 as f64, v0 as f64, v1 as f64])
    };
    let mut best = (f64::MAX, 0.0, [0.0; 4]);
    let mut search = |from: f64, to: f64, step: f64, best: &mut (f64, f64, [f64; 4])| {
        let mut a = from;
        while a <= to + 1e-9 {
            let (area, e) = extents_of(&pts, a);
            if area < best.0 {
                *best = (area, a, e);
            }
            a += step;
        }
    };
    search(-6.0, 6.0, 1.0, &mut best);
    let centre = best.1;
    search(centre - 0.75, centre + 0.75, 0.25, &mut best);
    let deg = best.1;
    let (_, ext) = extents_of(&all, deg);
    let (s, c) = (deg.to_radians().sin(), deg.to_radians().cos());
    let (mut sides, fitted) = fit_sides(patch, &free, thr, (s, c), ext);
    let back = |u: f64, v: f64| patch.to_mm(u * c - v * s, u * s + v * c);
    // Corners: top-left, top-right, bottom-right, bottom-left (sides top, right, bottom, left).
    let corners = |sides: &[Line; 4]| {
        [(3, 0), (0, 1), (1, 2), (2, 3)].map(|(a, b)| {
            let (u, v) = intersect(sides[a], sides[b]);
            back(u, v)
        })
    };
    let fitted_quad = corners(&sides);
    extend_past_corners(patch, &free, thr, (s, c), &mut sides, fitted);
    let quad = corners(&sides);
    let angle_deg = {
        let dir = |a: Point, b: Point| (b.y - a.y).atan2(b.x - a.x);
        ((dir(quad[0], quad[1]) + dir(quad[3], quad[2])) / 2.0).to_degrees()
    };
    let edge_score = edge_line_score(patch, &quad, paper[0]);
    Some(Located { quad, fitted_quad, angle_deg, edge_score })
}

/// Whether a print located on a form printed with a photo is that printed photo: it lies
/// within the rectangle where the layout prints the photo (the box less 0.5 mm), to 0.4 mm,
/// and shows an edge line on less than `edge_max` of its outline. A printed photo's content
/// never reaches past that rectangle, and its outline shows a line only where dark content
/// meets the rectangle's edge (a suit at the bottom, hair at the top); a pasted print that
/// lies outside it, or inside it with its shadow lines, is a pasted print.
pub(crate) fn is_printed_photo(loc: &Located, box_mm: Rect, edge_max: f64) -> bool {
    let printed = box_mm.inflate(-0.5 + 0.4);
    loc.edge_score < edge_max && loc.fitted_quad.iter().all(|&p| printed.contains(p))
}

/// A side as the line `a·u + b·v = c` in the rectangle's rotated frame (patch px).
type Line = (f64, f64, f64);

/// A side of the rectangle for [`fit_sides`]: `(n, t) → (u, v)`, the outer extent in `n`, the
/// tangent range and the rectangle's own side line.
type Side = (fn(f64, f64) -> (f64, f64), f64, f64, f64, Line);

fn intersect(p: Line, q: Line) -> (f64, f64) {
    let det = p.0 * q.1 - p.1 * q.0;
    if det.abs() < 1e-9 {
        return (0.0, 0.0);
    }
    ((p.2 * q.1 - p.1 * q.2) / det, (p.0 * q.2 - p.2 * q.0) / det)
}

/// Fits the print's four sides (top, right, bottom, left) as lines over its outer edge points.
///
/// The smallest rectangle around the dark pixels is pulled outward by anything dark next to
/// the print — most often the photo printed in the box peeking out beside a pasted print
/// that does not quite cover it (an ear, a shoulder). The print's own edge is instead the one
/// long straight boundary: each side is searched inward from the rectangle up to 3 mm, along
/// lines across the side every 2 patch pixels, for outer boundaries (dark inside, ≥ 1 px of light
/// outside) at sub-pixel precision (linear interpolation of the red level across the
/// threshold); the outermost offset that a third or more of the lines agree on is the edge,
/// and a least-squares line through the boundaries near it, refitted once without outliers,
/// is the side (a line fit over edge points as in Canny-style edge fitting, here with a
/// 1-D threshold crossing; cf. Forsyth & Ponce, "Computer Vision", ch. 5). A side with too few
/// such points keeps the rectangle's side.
/// Red level at rotated-frame point `(u, v)` (patch px), bilinear; excluded and outside pixels
/// read as paper.
fn rotated_red(patch: &Patch, free: &[bool], (s, c): (f64, f64), u: f64, v: f64) -> f32 {
    let (x, y) = (u * c - v * s - 0.5, u * s + v * c - 0.5);
    crate::sample::bilinear_grid(patch.w, patch.h, x, y, |k| if free[k] { patch.red[k] as f32 } else { 255.0 })
}

/// Moves out the sides of a print whose edge casts no shadow line (a light-haired portrait on
/// a white print: the top then stops at the hair, millimetres inside the print). The edge
/// lines of the two neighbouring sides run on to the print's true corners, so each
/// neighbour's line is followed past its corner with this side, while it stays dark within a
/// pixel of the line, up to 4 mm; gaps of up to 1.2 mm are bridged (where the line crosses
/// the box outline's drop-out zone beside the visible red it reads as paper for 1.1 mm). A
/// side moves out by how far its
/// neighbours run on (their mean when both do and agree within 0.6 mm, else nothing: one of
/// them runs on into something dark beside the print), and only when that is more than
/// 0.3 mm. A side fitted to a boundary (the hair's top is one) moves too: a true edge line
/// stops its neighbours' lines at the corner.
fn extend_past_corners(
    patch: &Patch,
    free: &[bool],
    thr: f32,
    rot: (f64, f64),
    sides: &mut [Line; 4],
    fitted: [bool; 4],
) {
    let (ppm, paper) = (patch.ppm, patch.paper[0]);
    let run_on = |along: Line, corner: (f64, f64), away: (f64, f64)| -> f64 {
        // Unit direction of the neighbour's line pointing away from its other corner.
        let (mut dx, mut dy) = (-along.1, along.0);
        let len = (dx * dx + dy * dy).sqrt().max(1e-9);
        (dx, dy) = (dx / len, dy / len);
        if dx * (corner.0 - away.0) + dy * (corner.1 - away.1) < 0.0 {
            (dx, dy) = (-dx, -dy);
        }
        // The line's outward normal (the sides' normals point out of the print).
        let nl = (along.0 * along.0 + along.1 * along.1).sqrt().max(1e-9);
        let (nx, ny) = (along.0 / nl, along.1 / nl);
        let lift = 0.05 * paper;
        let (mut last, mut d) = (0.0, 0.0);
        while d <= 4.0 * ppm && d - last <= 1.2 * ppm {
            d += 0.5;
            let (u, v) = (corner.0 + dx * d, corner.1 + dy * d);
            let at = |o: f64| rotated_red(patch, free, rot, u + nx * o, v + ny * o);
            // Darker than the paper 0.6 mm outside, by 5 % of paper: the faint shadow line of
            // a white print under a soft scan reaches 0.85–0.9 of paper, short of `thr`.
            let line = [-1.0, -0.5, 0.0, 0.5, 1.0].iter().map(|&o| at(o)).fold(f32::MAX, f32::min);
            if line < thr || line < at(0.6 * ppm).min(paper) - lift {
                last = d;
            }
        }
        last
    };
    let orig = *sides;
    for k in 0..4 {
        let (a, b) = ((k + 3) % 4, (k + 1) % 4);
        let opposite = (k + 2) % 4;
        let mut runs = Vec::new();
        for n in [a, b] {
            if !fitted[n] {
                continue;
            }
            let corner = intersect(orig[n], orig[k]);
            let other = intersect(orig[n], orig[opposite]);
            runs.push(run_on(orig[n], corner, other));
        }
        let shift = match runs.as_slice() {
            [x, y] if (x - y).abs() <= 0.6 * ppm => (x + y) / 2.0,
            [x] => *x,
            _ => 0.0,
        };
        if shift > 0.3 * ppm {
            let (na, nb, nc) = sides[k];
            sides[k] = (na, nb, nc + shift * (na * na + nb * nb).sqrt());
        }
    }
}

fn fit_sides(patch: &Patch, free: &[bool], thr: f32, (s, c): (f64, f64), ext: [f64; 4]) -> ([Line; 4], [bool; 4]) {
    let [u0, u1, v0, v1] = ext;
    let red = |u: f64, v: f64| rotated_red(patch, free, (s, c), u, v);
    let depth = 3.0 * patch.ppm;
    let step = 0.5;
    // Side k: outward normal coordinate n and tangent t; (u, v) from (n, t), the rectangle's
    // outer extent (its outermost pixel centres) and the tangent range.
    let sides: [Side; 4] = [
        (|n, t| (t, -n), -v0, u0, u1, (0.0, -1.0, -v0 + 0.5)),
        (|n, t| (n, t), u1, v0, v1, (1.0, 0.0, u1 + 0.5)),
        (|n, t| (t, n), v1, u0, u1, (0.0, 1.0, v1 + 0.5)),
        (|n, t| (-n, t), -u0, v0, v1, (-1.0, 0.0, -u0 + 0.5)),
    ];
    let mut out = [(0.0, 0.0, 0.0); 4];
    let mut fitted = [false; 4];
    let mut prof = Vec::new();
    let mut found: Vec<(f64, f64)> = Vec::new();
    for (k, &(uv, e, t0, t1, rect_side)) in sides.iter().enumerate() {
        out[k] = rect_side;
        // Lines across the side every 2 px, kept 0.5 mm clear of the corners.
        let margin = 0.5 * patch.ppm;
        let ts: Vec<f64> = (0..).map(|i| t0 + margin + 2.0 * i as f64).take_while(|&t| t <= t1 - margin).collect();
        if ts.len() < 8 {
            continue;
        }
        let n_top = e + 3.0;
        let steps = ((3.0 + depth) / step) as usize;
        let bins = steps + 1;
        let mut hist = vec![0u32; bins];
        found.clear();
        for &t in &ts {
            prof.clear();
            prof.extend((0..=steps).map(|q| {
                let (u, v) = uv(n_top - q as f64 * step, t);
                red(u, v)
            }));
            // Outer boundaries: dark at q, light over the 1 px (2 steps) outward of it.
            for q in 2..=steps {
                if prof[q] < thr && prof[q - 1] >= thr && prof[q - 2] >= thr {
                    let f = ((thr - prof[q]) / (prof[q - 1] - prof[q])).clamp(0.0, 1.0) as f64;
                    let n = n_top - (q as f64 - f) * step;
                    found.push((t, n));
                    hist[q] += 1;
                }
            }
        }
        // The outermost offset that a third of the lines agree on, within ±1 px.
        let need = ts.len() as u32 / 3;
        let Some(q) = (0..bins).find(|&q| hist[q.saturating_sub(2)..(q + 3).min(bins)].iter().sum::<u32>() >= need)
        else {
            continue;
        };
        let n_edge = n_top - q as f64 * step;
        // Per line, the outermost boundary within ±3 px of that offset (a tilt of up to ~0.7°
        // left by the angle search moves the edge by that much along a 30 mm side).
        let mut pts: Vec<(f64, f64)> = Vec::with_capacity(ts.len());
        for &(t, n) in &found {
            if (n - n_edge).abs() > 3.0 {
                continue;
            }
            match pts.last_mut() {
                Some(last) if last.0 == t => last.1 = last.1.max(n),
                _ => pts.push((t, n)),
            }
        }
        let Some(mut line) = fit_line(&pts) else { continue };
        pts.retain(|&(t, n)| (n - line.0 - line.1 * t).abs() <= 1.0);
        if pts.len() * 3 < ts.len() {
            continue;
        }
        if let Some(l) = fit_line(&pts) {
            line = l;
        }
        // n = α + β t → in (u, v): a·u + b·v = α with n and t expressed through (u, v).
        let (alpha, beta) = line;
        out[k] = match k {
            0 => (-beta, -1.0, alpha),
            1 => (1.0, -beta, alpha),
            2 => (-beta, 1.0, alpha),
            _ => (-1.0, -beta, alpha),
        };
        fitted[k] = true;
    }
    (out, fitted)
}

/// Least-squares line `n = α + β t` through the points, if they span a line.
fn fit_line(pts: &[(f64, f64)]) -> Option<(f64, f64)> {
    if pts.len() < 8 {
        return None;
    }
    let k = pts.len() as f64;
    let (mt, mn) = pts.iter().fold((0.0, 0.0), |a, p| (a.0 + p.0 / k, a.1 + p.1 / k));
    let (stt, stn) = pts.iter().fold((0.0, 0.0), |a, p| (a.0 + (p.0 - mt).powi(2), a.1 + (p.0 - mt) * (p.1 - mn)));
    if stt < 1e-9 {
        return None;
    }
    let beta = stn / stt;
    Some((mn - beta * mt, beta))
}

/// Share of points along the quad's outline where the edge is darker than the paper outside
/// it: the thin shadow line of a pasted print (a ridge on a light print, a step on a dark one).
/// A printed photo's fitted rectangle follows its content, which meets it at few points.
fn edge_line_score(patch: &Patch, quad: &[Point; 4], paper: f32) -> f64 {
    let red = |p: Point| -> Option<f32> {
        let (u, v) = ((p.x - patch.x0) * patch.ppm - 0.5, (p.y - patch.y0) * patch.ppm - 0.5);
        if u < 0.0 || v < 0.0 || u >= (patch.w - 1) as f64 || v >= (patch.h - 1) as f64 {
            return None;
        }
        Some(patch.red[v.round() as usize * patch.w + u.round() as usize] as f32)
    };
    let (mut n, mut hits) = (0usize, 0usize);
    for k in 0..4 {
        let (a, b) = (quad[k], quad[(k + 1) % 4]);
        let len = a.dist(b);
        if len < 1.0 {
            continue;
        }
        let (tx, ty) = ((b.x - a.x) / len, (b.y - a.y) / len);
        let (nx, ny) = (-ty, tx);
        let steps = (len / 0.5) as usize;
        for s in 2..steps.saturating_sub(1) {
            let t = s as f64 * 0.5;
            let p = Point::new(a.x + tx * t, a.y + ty * t);
            let at = |d: f64| red(Point::new(p.x + nx * d, p.y + ny * d));
            // The darkest point within ±0.25 mm of the fitted edge.
            let line = [-0.25, -0.15, -0.05, 0.05, 0.15, 0.25].iter().filter_map(|&d| at(d)).fold(f32::MAX, f32::min);
            let (Some(o1), Some(o2)) = (at(-0.7), at(0.7)) else { continue };
            n += 1;
            let lift = paper * 0.06;
            let _ = o2;
            if line < o1.min(paper) - lift {
                hits += 1;
            }
        }
    }
    hits as f64 / n.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The dilation marks exactly the pixels within `r` (in both coordinates) of a set one.
        #[test]
        fn dilating_points_marks_their_squares(
            w in 1usize..40,
            h in 1usize..40,
            r in 0usize..4,
            picks in proptest::collection::vec(0usize..1600, 0..30),
        ) {
            let set: Vec<usize> = picks.iter().map(|&k| k % (w * h)).collect();
            let near = dilate_points(set.iter().copied(), w, h, r);
            for j in 0..h {
                for i in 0..w {
                    let any = set.iter().any(|&k| (k % w).abs_diff(i) <= r && (k / w).abs_diff(j) <= r);
                    proptest::prop_assert_eq!(near[j * w + i], any, "pixel ({}, {})", i, j);
                }
            }
        }

        /// `mark_row` flags every sample that `contains` puts in a zone (so asking `contains`
        /// only at flagged samples gives the patch it gave when asked everywhere).
        #[test]
        fn marked_samples_hold_every_zone_sample(
            (bx, by, bw, bh) in (0.0f64..40.0, 0.0f64..40.0, 5.0f64..40.0, 5.0f64..40.0),
            (ax, ay, lx, ly) in (-5.0f64..60.0, -5.0f64..60.0, -30.0f64..30.0, -30.0f64..30.0),
            d in 0.1f64..1.5,
            y in -10.0f64..90.0,
            (x0, ppm) in (-10.0f64..10.0, 3.0f64..12.0),
        ) {
            let zones = DropoutZones {
                outlines: vec![(Rect::new(bx, by, bw, bh), d)],
                lines: vec![(Point::new(ax, ay), Point::new(ax + lx, ay + ly), d)],
                areas: vec![Rect::new(bx + 2.0, by + 2.0, bw / 2.0, bh / 3.0)],
            };
            let w = (90.0 * ppm) as usize;
            let mut marked = vec![false; w];
            zones.mark_row(y, x0, ppm, &mut marked);
            for (i, &m) in marked.iter().enumerate() {
                let p = Point::new(x0 + (i as f64 + 0.5) / ppm, y);
                proptest::prop_assert!(m || !zones.contains(p), "sample {} at {:?} in a zone, not marked", i, p);
            }
        }
    }

    /// A page at 10 px/mm with a tilted white print, outlined by a grey edge line and holding a
    /// dark disc, pasted around a 26 × 32 mm box at (20, 20).
    fn page_with_print(angle_deg: f64, centre: Point, size: (f64, f64), line: bool) -> image::DynamicImage {
        let ppm = 10.0;
        let mut img = image::RgbImage::from_pixel(660, 720, image::Rgb([238, 236, 232]));
        let (s, c) = (angle_deg.to_radians().sin(), angle_deg.to_radians().cos());
        for y in 0..img.height() {
            for x in 0..img.width() {
                let (px, py) = ((x as f64 + 0.5) / ppm - centre.x, (y as f64 + 0.5) / ppm - centre.y);
                let (u, v) = (px * c + py * s, -px * s + py * c);
                let (hu, hv) = (size.0 / 2.0, size.1 / 2.0);
                if u.abs() <= hu && v.abs() <= hv {
                    let edge = (hu - u.abs()).min(hv - v.abs()) < 0.15;
                    let disc = (u * u + (v - 3.0) * (v - 3.0)).sqrt() < 7.0;
                    let col = if edge && line {
                        [150, 150, 150]
                    } else if disc {
                        [120, 80, 60]
                    } else {
                        [255, 255, 255]
                    };
                    img.put_pixel(x, y, image::Rgb(col));
                }
            }
        }
        image::DynamicImage::ImageRgb8(img)
    }

    /// A white print whose top and right edges cast no shadow, content (a dark disc) well
    /// below its top: the top must come from the left side's edge line running on to the
    /// corner, not from the content.
    #[test]
    fn an_edge_without_shadow_is_found_from_its_neighbours() {
        let ppm = 10.0;
        let bx = Rect::new(20.0, 20.0, 26.0, 32.0);
        let centre = Point::new(33.0, 36.0);
        let (hu, hv) = (12.5, 17.5);
        let img = image::RgbImage::from_fn(660, 720, |x, y| {
            let (u, v) = ((x as f64 + 0.5) / ppm - centre.x, (y as f64 + 0.5) / ppm - centre.y);
            if u.abs() > hu || v.abs() > hv {
                return image::Rgb([238, 236, 232]);
            }
            let shadow = (v > hv - 0.15) || (u < -hu + 0.15);
            let disc = (u * u + (v - 4.0) * (v - 4.0)).sqrt() < 8.0;
            image::Rgb(if shadow {
                [150, 150, 150]
            } else if disc {
                [120, 80, 60]
            } else {
                [255, 255, 255]
            })
        });
        let img = image::DynamicImage::ImageRgb8(img);
        let h = Homography::scale_translate(ppm, 0.0, 0.0);
        let loc =
            locate(&Patch::sample(&Sampler::new(&img), &h, bx.inflate(4.0), 8.0, &DropoutZones::default()), &[], bx)
                .expect("print found");
        let top = (loc.quad[0].y + loc.quad[1].y) / 2.0;
        assert!((top - (centre.y - hv)).abs() < 0.3, "top at {top}, print top at {}: {loc:?}", centre.y - hv);
    }

    #[test]
    fn finds_a_tilted_offset_print() {
        let bx = Rect::new(20.0, 20.0, 26.0, 32.0);
        let centre = Point::new(34.0, 35.0);
        let img = page_with_print(3.0, centre, (25.0, 35.0), true);
        let h = Homography::scale_translate(10.0, 0.0, 0.0);
        let patch = Patch::sample(&Sampler::new(&img), &h, bx.inflate(4.0), 10.0, &DropoutZones::default());
        let loc = locate(&patch, &[], bx).expect("print found");
        assert!((loc.angle_deg - 3.0).abs() < 0.3, "angle {}", loc.angle_deg);
        let (s, c) = (3f64.to_radians().sin(), 3f64.to_radians().cos());
        let want = [(-12.5, -17.5), (12.5, -17.5), (12.5, 17.5), (-12.5, 17.5)]
            .map(|(u, v)| Point::new(centre.x + u * c - v * s, centre.y + u * s + v * c));
        for (g, w) in loc.quad.iter().zip(want) {
            assert!(g.dist(w) < 0.25, "corner {g:?} vs {w:?}");
        }
        assert!(loc.edge_score > 0.7, "edge score {}", loc.edge_score);
    }

    /// A pasted print that does not quite cover the photo printed in the box: the printed
    /// photo's ear and shoulder peek out beside the print's right edge, up to 1 mm past it.
    /// The rectangle around all dark pixels would take them in; the fitted sides do not.
    #[test]
    fn content_peeking_out_beside_the_print_is_left_out() {
        let bx = Rect::new(20.0, 20.0, 26.0, 32.0);
        let centre = Point::new(32.5, 36.0);
        let mut img = page_with_print(0.8, centre, (24.6, 30.3), true).to_rgb8();
        // Right edge of the print near x = 44.8 mm; blobs just outside it, on paper.
        let right = centre.x + 12.3;
        for (cy, half_h) in [(33.0, 1.5), (48.5, 2.0)] {
            for y in ((cy - half_h) * 10.0) as u32..((cy + half_h) * 10.0) as u32 {
                for x in ((right + 0.35) * 10.0) as u32..((right + 1.1) * 10.0) as u32 {
                    img.put_pixel(x, y, image::Rgb([150, 100, 80]));
                }
            }
        }
        let img = image::DynamicImage::ImageRgb8(img);
        let h = Homography::scale_translate(10.0, 0.0, 0.0);
        let loc =
            locate(&Patch::sample(&Sampler::new(&img), &h, bx.inflate(4.0), 8.0, &DropoutZones::default()), &[], bx)
                .expect("print found");
        let (s, c) = (0.8f64.to_radians().sin(), 0.8f64.to_radians().cos());
        let want = [(-12.3, -15.15), (12.3, -15.15), (12.3, 15.15), (-12.3, 15.15)]
            .map(|(u, v)| Point::new(centre.x + u * c - v * s, centre.y + u * s + v * c));
        for (g, w) in loc.quad.iter().zip(want) {
            assert!(g.dist(w) < 0.15, "corner {g:?} vs {w:?}");
        }
        assert!((loc.angle_deg - 0.8).abs() < 0.15, "angle {}", loc.angle_deg);
    }

    #[test]
    fn a_print_without_an_edge_line_scores_low_and_paper_is_nothing() {
        let bx = Rect::new(20.0, 20.0, 26.0, 32.0);
        let h = Homography::scale_translate(10.0, 0.0, 0.0);
        let img = page_with_print(0.0, bx.center(), (25.0, 31.0), false);
        let loc =
            locate(&Patch::sample(&Sampler::new(&img), &h, bx.inflate(4.0), 10.0, &DropoutZones::default()), &[], bx)
                .expect("content found");
        // Round content meets its bounding square over about a third of the outline; a print
        // with its shadow lines on all four edges scores 0.8 and more.
        assert!(
            loc.edge_score < crate::photo::PhotoOptions::default().printed_edge_max,
            "edge score {}",
            loc.edge_score
        );
        let blank = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(660, 720, image::Rgb([238, 236, 232])));
        assert!(locate(
            &Patch::sample(&Sampler::new(&blank), &h, bx.inflate(4.0), 10.0, &DropoutZones::default()),
            &[],
            bx
        )
        .is_none());
    }

    /// A form printed with a photo: the red box outline (0.3 mm, the layout's drop-out red)
    /// and the photo inset 0.5 mm, as `print` lays them out, scanned at 300 dpi.
    fn printed_box(bx: Rect) -> image::RgbImage {
        let ppm = 300.0 / 25.4;
        let photo = bx.inflate(-0.5);
        // The bundled portrait as `print` puts it in the box: filled to the box at 300 dpi and
        // JPEG-encoded at quality 85 with whole chroma (formscan-print's `faces::face_photo`).
        let face = image::open(format!("{}/assets/faces/obama_white.jpg", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let px = |mm: f64| (mm / 25.4 * 300.0).round() as u32;
        let face = face.resize_to_fill(px(bx.w), px(bx.h), image::imageops::FilterType::Triangle).to_rgb8();
        let face = jpeg(&face, jpeg_encoder::SamplingFactor::F_1_1, 85).to_rgb8();
        let (w, h) = (((bx.right() + 8.0) * ppm) as u32, ((bx.bottom() + 8.0) * ppm) as u32);
        image::RgbImage::from_fn(w, h, |x, y| {
            let p = Point::new((x as f64 + 0.5) / ppm, (y as f64 + 0.5) / ppm);
            if bx.inflate(0.15).contains(p) && !bx.inflate(-0.15).contains(p) {
                image::Rgb([240, 110, 110])
            } else if photo.contains(p) {
                let u = ((p.x - photo.x) / photo.w * face.width() as f64) as u32;
                let v = ((p.y - photo.y) / photo.h * face.height() as f64) as u32;
                *face.get_pixel(u.min(face.width() - 1), v.min(face.height() - 1))
            } else {
                image::Rgb([246, 245, 242])
            }
        })
    }

    /// JPEG round trip with the given chroma subsampling (4:2:0 is what scanners, poppler and
    /// PIL write; 4:4:4 keeps chroma whole).
    fn jpeg(img: &image::RgbImage, sampling: jpeg_encoder::SamplingFactor, quality: u8) -> image::DynamicImage {
        let mut out = Vec::new();
        let mut enc = jpeg_encoder::Encoder::new(&mut out, quality);
        enc.set_sampling_factor(sampling);
        enc.encode(img.as_raw(), img.width() as u16, img.height() as u16, jpeg_encoder::ColorType::Rgb).unwrap();
        image::load_from_memory(&out).unwrap()
    }

    fn zones_for(bx: Rect) -> DropoutZones {
        DropoutZones { outlines: vec![(bx, 0.55)], ..Default::default() }
    }

    /// The box outline is never a print's edge: in 4:2:0 and 4:4:4 colour scans and in grey
    /// scans, at six placements of the outline against the 2 × 2 chroma blocks, the printed
    /// photo is either not found or found as the printed photo.
    #[test]
    fn the_box_outline_is_not_a_print_edge() {
        let ppm = 300.0 / 25.4;
        let h = Homography::scale_translate(ppm, 0.0, 0.0);
        let max = crate::photo::PhotoOptions::default().printed_edge_max;
        let scans = |img: &image::RgbImage| {
            [
                jpeg(img, jpeg_encoder::SamplingFactor::F_2_2, 70),
                jpeg(img, jpeg_encoder::SamplingFactor::F_1_1, 70),
                image::DynamicImage::ImageLuma8(image::DynamicImage::ImageRgb8(img.clone()).to_luma8()),
            ]
        };
        let mut darkest = [1.0f32; 3];
        for off in [0.0, 0.04, 0.08, 0.12, 0.17, 0.21] {
            let bx = Rect::new(20.0 + off, 20.0 + off, 26.0, 32.0);
            let clean = printed_box(bx);
            // As a scanner's optics show it, the printed photo is found as printed.
            for (n, img) in scans(&image::imageops::blur(&clean, 0.8)).iter().enumerate() {
                let p = Patch::sample(&Sampler::new(img), &h, bx.inflate(4.0), 8.0, &zones_for(bx));
                if let Some(loc) = locate(&p, &[], bx) {
                    assert!(is_printed_photo(&loc, bx, max), "{off} {n}: printed photo read as a print {loc:?}");
                }
            }
            // The red at the middle third of the left outline, relative to paper, unblurred.
            for (n, img) in scans(&clean).iter().enumerate() {
                let outline_red = |zones: &DropoutZones| {
                    let p = Patch::sample(&Sampler::new(img), &h, bx.inflate(4.0), 8.0, zones);
                    let i = ((bx.x - p.x0) * p.ppm) as usize;
                    let m = (p.h / 3..2 * p.h / 3).map(|j| p.red[j * p.w + i]).min().unwrap();
                    m as f32 / p.paper[0]
                };
                darkest[n] = darkest[n].min(outline_red(&DropoutZones::default()));
                let cleared = outline_red(&zones_for(bx));
                assert!(cleared > 0.95, "{off} {n}: outline at {cleared} of paper in red with the zones");
            }
        }
        // The mechanism guarded against: in 4:2:0 and grey scans the outline is darker than
        // the locator's 0.88-of-paper threshold in the red channel (the chroma of a thin red
        // line is averaged away), in 4:4:4 it is not.
        assert!(darkest[0] < 0.88 && darkest[2] < 0.88 && darkest[1] > 0.88, "{darkest:?}");
    }

    /// A pasted print whose shadow line lies on the (covered) outline keeps its edge in colour.
    #[test]
    fn a_print_over_the_outline_keeps_its_shadow_line() {
        let bx = Rect::new(20.0, 20.0, 26.0, 32.0);
        let centre = Point::new(bx.center().x + 0.05, bx.center().y);
        let img = page_with_print(0.0, centre, (26.1, 32.1), true);
        let img = jpeg(&img.to_rgb8(), jpeg_encoder::SamplingFactor::F_2_2, 75);
        let h = Homography::scale_translate(10.0, 0.0, 0.0);
        let loc = locate(&Patch::sample(&Sampler::new(&img), &h, bx.inflate(4.0), 8.0, &zones_for(bx)), &[], bx)
            .expect("print");
        assert!(loc.edge_score > 0.7, "edge score {}", loc.edge_score);
        assert!(loc.quad[0].dist(Point::new(centre.x - 13.05, centre.y - 16.05)) < 0.3, "{:?}", loc.quad);
    }
}
