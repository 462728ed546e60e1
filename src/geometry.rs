//! Points, rectangles and the projective transform between template millimetres and scan
//! pixels.
//!
//! Template positions are millimetres from the page's top-left corner, x to the right and y
//! down. A [`Homography`] maps them to scan pixels; it absorbs rotation, scale drift, offset and
//! the slight keystone of a sheet fed askew. The fit is the normalised direct linear transform
//! (Hartley & Zisserman, *Multiple View Geometry*, 2nd ed., algorithm 4.2), solved here as
//! linear least squares with h33 = 1, which is well conditioned for the near-affine transforms
//! of a flatbed or sheet-fed scanner.

use serde::{Deserialize, Serialize};

/// A point in millimetres or pixels, depending on context.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Point {
    /// Horizontal coordinate, growing to the right.
    pub x: f64,
    /// Vertical coordinate, growing downwards.
    pub y: f64,
}

impl Point {
    /// A point at `(x, y)`.
    pub const fn new(x: f64, y: f64) -> Self {
        Point { x, y }
    }

    /// Euclidean distance to `other`.
    pub fn dist(self, other: Point) -> f64 {
        ((self.x - other.x).powi(2) + (self.y - other.y).powi(2)).sqrt()
    }
}

/// An axis-aligned rectangle: top-left corner plus size.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Rect {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Rect {
    /// A rectangle with top-left `(x, y)` and size `w × h`.
    pub const fn new(x: f64, y: f64, w: f64, h: f64) -> Self {
        Rect { x, y, w, h }
    }

    /// Right edge.
    pub fn right(&self) -> f64 {
        self.x + self.w
    }

    /// Bottom edge.
    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }

    /// Centre point.
    pub fn center(&self) -> Point {
        Point::new(self.x + self.w / 2.0, self.y + self.h / 2.0)
    }

    /// The four corners, clockwise from top-left.
    pub fn corners(&self) -> [Point; 4] {
        [
            Point::new(self.x, self.y),
            Point::new(self.right(), self.y),
            Point::new(self.right(), self.bottom()),
            Point::new(self.x, self.bottom()),
        ]
    }

    /// True when the interiors of the two rectangles overlap (touching edges do not count).
    pub fn overlaps(&self, o: &Rect) -> bool {
        self.x < o.right() && o.x < self.right() && self.y < o.bottom() && o.y < self.bottom()
    }

    /// The rectangle grown by `d` on every side (shrunk when `d` is negative).
    pub fn inflate(&self, d: f64) -> Rect {
        Rect::new(self.x - d, self.y - d, self.w + 2.0 * d, self.h + 2.0 * d)
    }

    /// True when `p` lies inside or on the border.
    pub fn contains(&self, p: Point) -> bool {
        p.x >= self.x && p.x <= self.right() && p.y >= self.y && p.y <= self.bottom()
    }

    /// True when the interior of the convex quadrilateral `quad` (corners in order, either
    /// orientation) overlaps this rectangle's. By the separating-axis theorem two convex
    /// polygons are disjoint exactly when their projections on one of their edge normals are
    /// (Gottschalk, Lin & Manocha 1996, "OBBTree"): the rectangle's two axes and the quad's
    /// four edge normals are tried.
    pub fn overlaps_quad(&self, quad: &[Point; 4]) -> bool {
        let rect = self.corners();
        let mut axes = vec![(1.0, 0.0), (0.0, 1.0)];
        for k in 0..4 {
            let (a, b) = (quad[k], quad[(k + 1) % 4]);
            axes.push((-(b.y - a.y), b.x - a.x));
        }
        axes.iter().all(|&(ax, ay)| {
            let span = |pts: &[Point]| {
                pts.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
                    let d = p.x * ax + p.y * ay;
                    (lo.min(d), hi.max(d))
                })
            };
            let ((r0, r1), (q0, q1)) = (span(&rect), span(quad));
            r0 < q1 && q0 < r1
        })
    }

    /// Intersection over union with `o` (0 when disjoint).
    pub fn iou(&self, o: &Rect) -> f64 {
        let ix = (self.right().min(o.right()) - self.x.max(o.x)).max(0.0);
        let iy = (self.bottom().min(o.bottom()) - self.y.max(o.y)).max(0.0);
        let inter = ix * iy;
        let union = self.w * self.h + o.w * o.h - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }
}

/// A 3×3 projective transform in row-major order, normalised so that `m[8] == 1`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Homography {
    /// The matrix, row-major.
    pub m: [f64; 9],
}

impl Homography {
    /// The identity transform.
    pub const IDENTITY: Homography = Homography { m: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0] };

    /// Uniform scale `s` about the origin, then translation by `(tx, ty)`.
    pub fn scale_translate(s: f64, tx: f64, ty: f64) -> Self {
        Homography { m: [s, 0.0, tx, 0.0, s, ty, 0.0, 0.0, 1.0] }
    }

    /// Rotation by `angle` radians about the origin (clockwise on screen, as y grows down).
    pub fn rotation(angle: f64) -> Self {
        let (s, c) = angle.sin_cos();
        Homography { m: [c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0] }
    }

    /// Maps `p` through the transform.
    #[inline]
    pub fn apply(&self, p: Point) -> Point {
        let m = &self.m;
        let w = m[6] * p.x + m[7] * p.y + m[8];
        Point::new((m[0] * p.x + m[1] * p.y + m[2]) / w, (m[3] * p.x + m[4] * p.y + m[5]) / w)
    }

    /// The images of the row of points `(x0 + k·dx, y)`, k = 0, 1, … (endless: zip or take).
    /// Along a row the numerators and the denominator are linear in k, so they are stepped by
    /// addition and one division per point remains; the resampling loops of the field reader
    /// and the photo stage run through here.
    #[inline]
    pub fn row_points(&self, x0: f64, y: f64, dx: f64) -> impl Iterator<Item = (f64, f64)> {
        let m = &self.m;
        let (mut nx, mut ny, mut d) =
            (m[0] * x0 + m[1] * y + m[2], m[3] * x0 + m[4] * y + m[5], m[6] * x0 + m[7] * y + m[8]);
        let (sx, sy, sd) = (m[0] * dx, m[3] * dx, m[6] * dx);
        std::iter::repeat(()).map(move |()| {
            let inv = 1.0 / d;
            let p = (nx * inv, ny * inv);
            nx += sx;
            ny += sy;
            d += sd;
            p
        })
    }

    /// `self ∘ other`: first `other`, then `self`.
    pub fn compose(&self, other: &Homography) -> Homography {
        let a = &self.m;
        let b = &other.m;
        let mut r = [0.0; 9];
        for i in 0..3 {
            for j in 0..3 {
                r[i * 3 + j] = (0..3).map(|k| a[i * 3 + k] * b[k * 3 + j]).sum();
            }
        }
        Homography::normalised(r)
    }

    fn normalised(mut r: [f64; 9]) -> Homography {
        if r[8].abs() > 1e-12 {
            let d = r[8];
            r.iter_mut().for_each(|v| *v /= d);
        }
        Homography { m: r }
    }

    /// The inverse transform, or `None` when the matrix is singular.
    pub fn inverse(&self) -> Option<Homography> {
        let m = &self.m;
        let det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6])
            + m[2] * (m[3] * m[7] - m[4] * m[6]);
        if det.abs() < 1e-12 {
            return None;
        }
        let inv = [
            (m[4] * m[8] - m[5] * m[7]) / det,
            (m[2] * m[7] - m[1] * m[8]) / det,
            (m[1] * m[5] - m[2] * m[4]) / det,
            (m[5] * m[6] - m[3] * m[8]) / det,
            (m[0] * m[8] - m[2] * m[6]) / det,
            (m[2] * m[3] - m[0] * m[5]) / det,
            (m[3] * m[7] - m[4] * m[6]) / det,
            (m[1] * m[6] - m[0] * m[7]) / det,
            (m[0] * m[4] - m[1] * m[3]) / det,
        ];
        Some(Homography::normalised(inv))
    }

    /// Linear scale of the transform near `p`: pixels per unit, averaged over both axes.
    pub fn local_scale(&self, p: Point) -> f64 {
        let a = self.apply(p);
        let bx = self.apply(Point::new(p.x + 1.0, p.y));
        let by = self.apply(Point::new(p.x, p.y + 1.0));
        (a.dist(bx) + a.dist(by)) / 2.0
    }

    /// Least-squares fit mapping each `src[i]` to `dst[i]`; needs at least four pairs in
    /// general position. Points are first normalised to zero mean and unit spread (Hartley's
    /// normalisation), without which the normal equations lose most of their precision when
    /// millimetres meet thousands of pixels.
    pub fn fit(src: &[Point], dst: &[Point]) -> Option<Homography> {
        if src.len() != dst.len() || src.len() < 4 {
            return None;
        }
        let (ts, tsi) = normaliser(src)?;
        let (td, tdi) = normaliser(dst)?;
        let _ = ts;
        // Unknowns h0..h7 with h8 = 1; two equations per pair.
        let mut ata = [[0.0f64; 8]; 8];
        let mut atb = [0.0f64; 8];
        for (s, d) in src.iter().zip(dst) {
            let s = tsi.apply(*s);
            let d = tdi.apply(*d);
            let rows = [
                ([s.x, s.y, 1.0, 0.0, 0.0, 0.0, -s.x * d.x, -s.y * d.x], d.x),
                ([0.0, 0.0, 0.0, s.x, s.y, 1.0, -s.x * d.y, -s.y * d.y], d.y),
            ];
            for (row, rhs) in rows {
                for i in 0..8 {
                    atb[i] += row[i] * rhs;
                    for j in 0..8 {
                        ata[i][j] += row[i] * row[j];
                    }
                }
            }
        }
        let h = solve8(ata, atb)?;
        let hn = Homography { m: [h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1.0] };
        // Undo the normalisation: H = Td⁻¹ · Hn · Ts⁻¹ᐟ, where tsi normalises the source.
        let h = td.compose(&hn).compose(&tsi);
        if h.m.iter().all(|v| v.is_finite()) {
            Some(h)
        } else {
            None
        }
    }
}

/// Returns (denormalise, normalise) similarity transforms for a point set.
fn normaliser(pts: &[Point]) -> Option<(Homography, Homography)> {
    let n = pts.len() as f64;
    let cx = pts.iter().map(|p| p.x).sum::<f64>() / n;
    let cy = pts.iter().map(|p| p.y).sum::<f64>() / n;
    let spread = pts.iter().map(|p| ((p.x - cx).powi(2) + (p.y - cy).powi(2)).sqrt()).sum::<f64>() / n;
    if spread < 1e-9 {
        return None;
    }
    let s = std::f64::consts::SQRT_2 / spread;
    let norm = Homography::scale_translate(s, -s * cx, -s * cy);
    let denorm = Homography::scale_translate(1.0 / s, cx, cy);
    Some((denorm, norm))
}

/// Gaussian elimination with partial pivoting on an 8×8 system.
fn solve8(mut a: [[f64; 8]; 8], mut b: [f64; 8]) -> Option<[f64; 8]> {
    for col in 0..8 {
        let piv = (col..8).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        for row in col + 1..8 {
            let f = a[row][col] / a[col][col];
            let pivot_row = a[col];
            for (k, v) in a[row].iter_mut().enumerate().skip(col) {
                *v -= f * pivot_row[k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0; 8];
    for row in (0..8).rev() {
        let s: f64 = (row + 1..8).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

/// Calls `f` with the 4-connected neighbours of pixel `i` in a row-major `w × h` grid (the
/// flood fills of mark finding and background cleaning).
#[inline]
pub(crate) fn neighbours4(i: usize, w: usize, h: usize, mut f: impl FnMut(usize)) {
    let (x, y) = (i % w, i / w);
    if x > 0 {
        f(i - 1);
    }
    if x + 1 < w {
        f(i + 1);
    }
    if y > 0 {
        f(i - w);
    }
    if y + 1 < h {
        f(i + w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample_transform(angle: f64, s: f64, tx: f64, ty: f64, p: f64) -> Homography {
        let mut h = Homography::scale_translate(s, tx, ty).compose(&Homography::rotation(angle));
        h.m[6] = p;
        h.m[7] = -p;
        h
    }

    #[test]
    fn iou_of_shifted_square() {
        let a = Rect::new(0.0, 0.0, 10.0, 10.0);
        let b = Rect::new(5.0, 0.0, 10.0, 10.0);
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-12);
        assert_eq!(a.iou(&Rect::new(20.0, 20.0, 1.0, 1.0)), 0.0);
    }

    #[test]
    fn singular_matrix_has_no_inverse() {
        let h = Homography { m: [1.0, 2.0, 0.0, 2.0, 4.0, 0.0, 0.0, 0.0, 1.0] };
        assert!(h.inverse().is_none());
    }

    #[test]
    fn fit_rejects_collinear_points() {
        let src: Vec<Point> = (0..5).map(|i| Point::new(i as f64, 2.0 * i as f64)).collect();
        let dst = src.clone();
        assert!(Homography::fit(&src, &dst).is_none());
    }

    #[test]
    fn a_tilted_quad_overlaps_only_the_rects_it_reaches() {
        let c = Point::new(50.0, 50.0);
        let rot = Homography::scale_translate(1.0, c.x, c.y).compose(&Homography::rotation(0.3));
        let quad = [(-10.0, -5.0), (10.0, -5.0), (10.0, 5.0), (-10.0, 5.0)].map(|(x, y)| rot.apply(Point::new(x, y)));
        assert!(Rect::new(49.0, 49.0, 2.0, 2.0).overlaps_quad(&quad));
        // Inside the quad's bounding box but beyond its tilted edge.
        assert!(!Rect::new(39.0, 56.0, 2.0, 2.0).overlaps_quad(&quad));
        assert!(!Rect::new(70.0, 50.0, 2.0, 2.0).overlaps_quad(&quad));
        // A rect holding the whole quad, and one crossing a corner.
        assert!(Rect::new(0.0, 0.0, 100.0, 100.0).overlaps_quad(&quad));
        assert!(Rect::new(quad[2].x - 0.5, quad[2].y - 0.5, 1.0, 1.0).overlaps_quad(&quad));
    }

    proptest! {
        #[test]
        fn fit_recovers_transform(angle in -3.2f64..3.2, s in 3.0f64..15.0, tx in -500.0f64..500.0,
                                  ty in -500.0f64..500.0, p in -2e-5f64..2e-5) {
            let h = sample_transform(angle, s, tx, ty, p);
            let src: Vec<Point> = [(12.5, 12.5), (197.5, 12.5), (12.5, 284.5), (197.5, 284.5),
                (105.0, 12.5), (105.0, 284.5), (20.5, 12.5)]
                .iter().map(|&(x, y)| Point::new(x, y)).collect();
            let dst: Vec<Point> = src.iter().map(|&p| h.apply(p)).collect();
            let fit = Homography::fit(&src, &dst).unwrap();
            for &q in &src {
                prop_assert!(fit.apply(q).dist(h.apply(q)) < 1e-6 * s * 300.0);
            }
        }

        #[test]
        fn row_stepping_matches_apply(angle in -3.2f64..3.2, s in 0.5f64..15.0, x0 in 0.0f64..200.0,
                                      y in 0.0f64..297.0, dx in 0.05f64..1.0) {
            let h = sample_transform(angle, s, 30.0, -40.0, 1e-5);
            for (k, (px, py)) in h.row_points(x0, y, dx).take(300).enumerate() {
                let q = h.apply(Point::new(x0 + k as f64 * dx, y));
                prop_assert!(Point::new(px, py).dist(q) < 1e-6 * s, "point {}: {} {} vs {:?}", k, px, py, q);
            }
        }

        #[test]
        fn inverse_round_trips(angle in -3.2f64..3.2, s in 0.5f64..15.0, x in 0.0f64..210.0, y in 0.0f64..297.0) {
            let h = sample_transform(angle, s, 30.0, -40.0, 1e-5);
            let inv = h.inverse().unwrap();
            let p = Point::new(x, y);
            prop_assert!(inv.apply(h.apply(p)).dist(p) < 1e-7);
        }
    }
}
