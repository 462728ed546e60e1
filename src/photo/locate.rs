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
//! trimmed from each side so that noise specks cannot stretch it.
//!
//! A pasted print is told from a photo printed in the box by that edge line: it shows on
//! most of a pasted print's perimeter, and not at the content edge of a printed photo.

use crate::geometry::{Homography, Point, Rect};

/// A rectified RGB patch: pixel `(i, j)` has its centre at template mm
/// `(x0 + (i + 0.5) / ppm, y0 + (j + 0.5) / ppm)`.
pub(crate) struct Patch {
    pub x0: f64,
    pub y0: f64,
    pub ppm: f64,
    pub w: usize,
    pub h: usize,
    pub rgb: Vec<[u8; 3]>,
}

impl Patch {
    /// Resamples `area` (template mm) of `image` through `to_scan` at `ppm` px/mm.
    pub fn sample(image: &image::DynamicImage, to_scan: &Homography, area: Rect, ppm: f64) -> Patch {
        let (w, h) = ((area.w * ppm).round().max(1.0) as usize, (area.h * ppm).round().max(1.0) as usize);
        let mut rgb = Vec::with_capacity(w * h);
        let s = Sampler::new(image);
        for j in 0..h {
            for i in 0..w {
                let p = Point::new(area.x + (i as f64 + 0.5) / ppm, area.y + (j as f64 + 0.5) / ppm);
                rgb.push(s.at(to_scan.apply(p)));
            }
        }
        Patch { x0: area.x, y0: area.y, ppm, w, h, rgb }
    }

    /// Template mm of a patch position (in patch pixels, continuous).
    pub fn to_mm(&self, u: f64, v: f64) -> Point {
        Point::new(self.x0 + u / self.ppm, self.y0 + v / self.ppm)
    }

    /// Per-channel paper level: the 90th percentile of each channel.
    pub fn paper(&self) -> [f32; 3] {
        let mut out = [255f32; 3];
        for (c, o) in out.iter_mut().enumerate() {
            let mut hist = [0u32; 256];
            for p in &self.rgb {
                hist[p[c] as usize] += 1;
            }
            let target = self.rgb.len() as u32 * 9 / 10;
            let mut acc = 0;
            for (v, &n) in hist.iter().enumerate() {
                acc += n;
                if acc >= target {
                    *o = (v as f32).max(120.0);
                    break;
                }
            }
        }
        out
    }
}

/// Bilinear sampling of a grey or RGB image; outside the image reads as white paper.
pub(crate) struct Sampler<'a> {
    raw: std::borrow::Cow<'a, [u8]>,
    ch: usize,
    w: i64,
    h: i64,
}

impl<'a> Sampler<'a> {
    pub fn new(img: &'a image::DynamicImage) -> Self {
        let (raw, ch) = match img {
            image::DynamicImage::ImageRgb8(b) => (std::borrow::Cow::Borrowed(b.as_raw().as_slice()), 3),
            image::DynamicImage::ImageLuma8(b) => (std::borrow::Cow::Borrowed(b.as_raw().as_slice()), 1),
            other => (std::borrow::Cow::Owned(other.to_rgb8().into_raw()), 3),
        };
        Sampler { raw, ch, w: img.width() as i64, h: img.height() as i64 }
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
        let (x, y) = (p.x - 0.5, p.y - 0.5);
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = ((x - x0) as f32, (y - y0) as f32);
        let (xi, yi) = (x0 as i64, y0 as i64);
        let (a, b, c, d) = (self.px(xi, yi), self.px(xi + 1, yi), self.px(xi, yi + 1), self.px(xi + 1, yi + 1));
        let mut out = [0u8; 3];
        for k in 0..3 {
            let top = a[k] + (b[k] - a[k]) * fx;
            let bot = c[k] + (d[k] - c[k]) * fx;
            out[k] = (top + (bot - top) * fy + 0.5).clamp(0.0, 255.0) as u8;
        }
        out
    }
}

/// A located print: corners in template mm (top-left, top-right, bottom-right, bottom-left of
/// the upright print), its rotation and how much of its outline shows an edge line.
#[derive(Debug, Clone)]
pub(crate) struct Located {
    pub quad: [Point; 4],
    pub angle_deg: f64,
    pub edge_score: f64,
}

/// Finds the print in `patch`. `excluded` are template rects (mm) of other fields whose ink
/// must not count (ticks in the nearby checkboxes). `min_points` below which nothing is there.
pub(crate) fn locate(patch: &Patch, excluded: &[Rect], box_mm: Rect) -> Option<Located> {
    let paper = patch.paper();
    let thr = paper[0] * 0.88;
    let (w, h) = (patch.w, patch.h);
    let mut mask = vec![false; w * h];
    for j in 1..h.saturating_sub(1) {
        for i in 1..w.saturating_sub(1) {
            let m = patch.to_mm(i as f64 + 0.5, j as f64 + 0.5);
            if excluded.iter().any(|r| r.contains(m)) {
                continue;
            }
            mask[j * w + i] = (patch.rgb[j * w + i][0] as f32) < thr;
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
    // The angle search runs on at most ~6,000 points (a regular subsample keeps each side's
    // share); the final extents use them all.
    let stride = (pts.len() / 6_000).max(1);
    let all = pts;
    let pts: Vec<(f32, f32)> = all.iter().step_by(stride).copied().collect();
    let extents_of = |pts: &[(f32, f32)], deg: f64| -> (f64, [f64; 4]) {
        let trim = (pts.len() / 500).max(3);
        let (s, c) = (deg.to_radians().sin() as f32, deg.to_radians().cos() as f32);
        let mut us: Vec<f32> = pts.iter().map(|&(x, y)| x * c + y * s).collect();
        let mut vs: Vec<f32> = pts.iter().map(|&(x, y)| -x * s + y * c).collect();
        let n = us.len();
        let (_, u0, _) = us.select_nth_unstable_by(trim, f32::total_cmp);
        let u0 = *u0;
        let (_, u1, _) = us.select_nth_unstable_by(n - 1 - trim, f32::total_cmp);
        let u1 = *u1;
        let (_, v0, _) = vs.select_nth_unstable_by(trim, f32::total_cmp);
        let v0 = *v0;
        let (_, v1, _) = vs.select_nth_unstable_by(n - 1 - trim, f32::total_cmp);
        let v1 = *v1;
        (((u1 - u0) * (v1 - v0)) as f64, [u0 as f64, u1 as f64, v0 as f64, v1 as f64])
    };
    let mut best = (f64::MAX, 0.0, [0.0; 4]);
    let extents = |deg: f64| extents_of(&pts, deg);
    let search = |from: f64, to: f64, step: f64, best: &mut (f64, f64, [f64; 4])| {
        let mut a = from;
        while a <= to + 1e-9 {
            let (area, e) = extents(a);
            if area < best.0 {
                *best = (area, a, e);
            }
            a += step;
        }
    };
    search(-6.0, 6.0, 1.0, &mut best);
    let centre = best.1;
    search(centre - 0.8, centre + 0.8, 0.2, &mut best);
    let centre = best.1;
    search(centre - 0.1, centre + 0.1, 0.05, &mut best);
    let deg = best.1;
    let (_, [u0, u1, v0, v1]) = extents_of(&all, deg);
    // Pixel centres on the outline: the print's edge lies half a pixel outside them.
    let (u0, u1, v0, v1) = (u0 - 0.5, u1 + 0.5, v0 - 0.5, v1 + 0.5);
    let (s, c) = (deg.to_radians().sin(), deg.to_radians().cos());
    let back = |u: f64, v: f64| patch.to_mm(u * c - v * s, u * s + v * c);
    let quad = [back(u0, v0), back(u1, v0), back(u1, v1), back(u0, v1)];
    let edge_score = edge_line_score(patch, &quad, paper[0]);
    Some(Located { quad, angle_deg: deg, edge_score })
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
        Some(patch.rgb[v.round() as usize * patch.w + u.round() as usize][0] as f32)
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

    #[test]
    fn finds_a_tilted_offset_print() {
        let bx = Rect::new(20.0, 20.0, 26.0, 32.0);
        let centre = Point::new(34.0, 35.0);
        let img = page_with_print(3.0, centre, (25.0, 35.0), true);
        let h = Homography::scale_translate(10.0, 0.0, 0.0);
        let patch = Patch::sample(&img, &h, bx.inflate(4.0), 10.0);
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

    #[test]
    fn a_print_without_an_edge_line_scores_low_and_paper_is_nothing() {
        let bx = Rect::new(20.0, 20.0, 26.0, 32.0);
        let h = Homography::scale_translate(10.0, 0.0, 0.0);
        let img = page_with_print(0.0, bx.center(), (25.0, 31.0), false);
        let loc = locate(&Patch::sample(&img, &h, bx.inflate(4.0), 10.0), &[], bx).expect("content found");
        assert!(loc.edge_score < crate::photo::PhotoOptions::default().edge_line_min, "edge score {}", loc.edge_score);
        let blank = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(660, 720, image::Rgb([238, 236, 232])));
        assert!(locate(&Patch::sample(&blank, &h, bx.inflate(4.0), 10.0), &[], bx).is_none());
    }
}
