//! Registration: where is the template on this scan?
//!
//! 1. Square blobs are found on the ~75 dpi ink image ([`marks`]).
//! 2. Every pair of candidates far enough apart is matched to every pair of template marks at a
//!    compatible distance; each match defines a similarity transform (rotation, scale, shift —
//!    any angle, so 90°, 180° and 270° feeds need no special case), which is scored by how many
//!    template marks land on a candidate. This is the hypothesise-and-verify scheme of RANSAC
//!    (Fischler & Bolles, 1981), made exhaustive because there are only tens of candidates.
//! 3. A least-squares homography ([`Homography::fit`]) over the inliers absorbs scale drift and
//!    keystone; a mark whose residual exceeds [`RegisterOptions::max_residual_mm`] is dropped and
//!    the fit repeated.
//!
//! The template's two asymmetric "tag" marks make the upright fit score two more inliers than
//! the half-turned one, so orientation is never a guess.

pub mod marks;

use crate::geometry::{Homography, Point};
use crate::scan::Scan;
use crate::template::Template;
use serde::Serialize;

/// Registration settings.
#[derive(Debug, Clone)]
pub struct RegisterOptions {
    /// A mark is matched when it lands within this distance of a candidate. Default 3 mm: a
    /// similarity transform misses a keystoned corner by up to ~2 mm, and marks are 8 mm apart
    /// at their closest, so 3 mm cannot match the neighbour.
    pub match_tolerance_mm: f64,
    /// Marks needed to accept a fit. Default 6: a homography has 8 degrees of freedom (4
    /// points), and two more make the residual a real check rather than zero by construction.
    pub min_marks: usize,
    /// Largest residual a mark may keep after the fit. Default 1.0 mm (the tolerance);
    /// anything larger is a misdetected blob, dropped before refitting.
    pub max_residual_mm: f64,
}

impl Default for RegisterOptions {
    fn default() -> Self {
        RegisterOptions { match_tolerance_mm: 3.0, min_marks: 6, max_residual_mm: 1.0 }
    }
}

/// Why a page could not be registered.
#[derive(Debug, Clone, PartialEq)]
pub enum RegisterFailure {
    /// No arrangement of marks at all: not one of our forms.
    NotAForm {
        /// Best number of marks matched.
        marks: usize,
    },
    /// Some marks match but too few for a trustworthy fit (torn corner, heavy writing on marks).
    MarksNotFound {
        /// Marks matched.
        marks: usize,
    },
}

/// A page registered against a template.
#[derive(Debug, Clone, Serialize)]
pub struct Registration {
    /// Template millimetres → scan pixels.
    pub to_scan: Homography,
    /// Scan pixels → template millimetres.
    pub to_template: Homography,
    /// Feed orientation: 0, 90, 180 or 270 degrees (clockwise).
    pub orientation: u32,
    /// Remaining skew after removing the orientation, degrees.
    pub skew_deg: f64,
    /// Scan resolution at the page centre, pixels per millimetre.
    pub px_per_mm: f64,
    /// Marks used in the final fit.
    pub marks_used: usize,
    /// Marks in the template.
    pub marks_total: usize,
    /// Median distance, in template mm, between a found mark and where the fit puts it.
    pub residual_median_mm: f64,
    /// Largest such distance.
    pub residual_max_mm: f64,
    /// The runner-up fit when it matched as many marks (both tags hidden): identification
    /// tries it if the page codes are not where the first fit says.
    #[serde(skip)]
    pub alternate: Option<Box<Registration>>,
}

impl Registration {
    /// The registration of an image drawn straight in template space at `px_per_mm` (no marks
    /// fitted): for reading fields of rendered or cut-out images, as tests and the simulator's
    /// box harness do.
    pub fn exact(px_per_mm: f64) -> Registration {
        let to_scan = Homography::scale_translate(px_per_mm, 0.0, 0.0);
        Registration {
            to_template: Homography::scale_translate(1.0 / px_per_mm, 0.0, 0.0),
            to_scan,
            orientation: 0,
            skew_deg: 0.0,
            px_per_mm,
            marks_used: 0,
            marks_total: 0,
            residual_median_mm: 0.0,
            residual_max_mm: 0.0,
            alternate: None,
        }
    }

    /// The figures kept in the output record.
    pub fn summary(&self) -> crate::record::RegistrationSummary {
        crate::record::RegistrationSummary {
            orientation: self.orientation,
            skew_deg: self.skew_deg,
            px_per_mm: self.px_per_mm,
            marks_used: self.marks_used,
            marks_total: self.marks_total,
            residual_median_mm: self.residual_median_mm,
            residual_max_mm: self.residual_max_mm,
            homography: self.to_scan.m,
        }
    }
}

/// Scratch buffers reused across pages by one worker.
#[derive(Default)]
pub struct RegisterScratch {
    visited: Vec<u32>,
    stack: Vec<u32>,
}

struct Hypothesis {
    sim: Homography,
    inliers: Vec<(usize, usize)>,
    cost: f64,
}

/// Registers `scan` against `template`'s marks.
pub fn register(
    scan: &Scan,
    template: &Template,
    opts: &RegisterOptions,
    scratch: &mut RegisterScratch,
) -> Result<Registration, RegisterFailure> {
    let tmarks: Vec<Point> = template.marks.iter().map(|m| m.rect.center()).collect();
    let mark_mm = template.marks.iter().map(|m| m.rect.w).sum::<f64>() / template.marks.len() as f64;
    // Expected mark side at low resolution, if the page spans the scan's long side; accept half
    // to twice that (scans from 150 to 600 dpi, generous margins).
    let px_mm_guess = scan.width().max(scan.height()) as f64 / template.width.max(template.height);
    let side_low = mark_mm * px_mm_guess / scan.factor as f64;
    let cands = marks::find_candidates(
        scan,
        (side_low * 0.5).max(3.0),
        side_low * 2.0,
        &mut scratch.visited,
        &mut scratch.stack,
    );
    let best = best_hypotheses(&cands, &tmarks, mark_mm, opts);
    let Some((first, second)) = best else {
        return Err(RegisterFailure::NotAForm { marks: 0 });
    };
    let reg = refine(&first, &cands, &tmarks, template, opts)?;
    let alternate = match second {
        Some(s) if s.inliers.len() == first.inliers.len() => {
            refine(&s, &cands, &tmarks, template, opts).ok().map(Box::new)
        }
        _ => None,
    };
    Ok(Registration { alternate, ..reg })
}

fn best_hypotheses(
    cands: &[crate::register::marks::Candidate],
    tmarks: &[Point],
    mark_mm: f64,
    opts: &RegisterOptions,
) -> Option<(Hypothesis, Option<Hypothesis>)> {
    let mut best: Option<Hypothesis> = None;
    let mut second: Option<Hypothesis> = None;
    let tdist: Vec<(usize, usize, f64)> = (0..tmarks.len())
        .flat_map(|i| (0..tmarks.len()).filter(move |&j| j != i).map(move |j| (i, j)))
        .map(|(i, j)| (i, j, tmarks[i].dist(tmarks[j])))
        .filter(|&(_, _, d)| d > 60.0) // long baselines only: they fix the angle to ~0.1°
        .collect();
    for a in 0..cands.len() {
        for b in a + 1..cands.len() {
            let (ca, cb) = (Point::new(cands[a].x, cands[a].y), Point::new(cands[b].x, cands[b].y));
            let dpx = ca.dist(cb);
            let scale_est = (cands[a].side + cands[b].side) / 2.0 / mark_mm;
            if (cands[a].side - cands[b].side).abs() > 0.35 * scale_est * mark_mm {
                continue;
            }
            let dmm = dpx / scale_est;
            for &(i, j, td) in &tdist {
                if (dmm - td).abs() > td * 0.15 {
                    continue;
                }
                let sim = similarity(tmarks[i], tmarks[j], ca, cb);
                let s = dpx / td;
                let tol = opts.match_tolerance_mm * s;
                let mut inliers = Vec::with_capacity(tmarks.len());
                let mut cost = 0.0;
                for (k, &t) in tmarks.iter().enumerate() {
                    let p = sim.apply(t);
                    let mut bestd = tol;
                    let mut bestc = None;
                    for (c, cand) in cands.iter().enumerate() {
                        let d = p.dist(Point::new(cand.x, cand.y));
                        if d < bestd {
                            bestd = d;
                            bestc = Some(c);
                        }
                    }
                    if let Some(c) = bestc {
                        inliers.push((k, c));
                        cost += bestd / s;
                    }
                }
                let h = Hypothesis { sim, inliers, cost };
                let better = |x: &Hypothesis, y: &Option<Hypothesis>| match y {
                    None => true,
                    Some(y) => {
                        x.inliers.len() > y.inliers.len()
                            || (x.inliers.len() == y.inliers.len() && x.cost < y.cost - 1e-9)
                    }
                };
                if better(&h, &best) {
                    // Keep the runner-up only if it is a genuinely different pose.
                    if let Some(old) = best.take() {
                        if !same_pose(&old.sim, &h.sim) {
                            second = Some(old);
                        }
                    }
                    best = Some(h);
                } else if !same_pose(&h.sim, &best.as_ref().unwrap().sim) && better(&h, &second) {
                    second = Some(h);
                }
            }
        }
    }
    best.map(|b| (b, second))
}

fn same_pose(a: &Homography, b: &Homography) -> bool {
    let p = Point::new(105.0, 148.0);
    let q = Point::new(150.0, 148.0);
    a.apply(p).dist(b.apply(p)) < 20.0 && a.apply(q).dist(b.apply(q)) < 20.0
}

/// The similarity transform mapping `t1 → c1` and `t2 → c2`.
fn similarity(t1: Point, t2: Point, c1: Point, c2: Point) -> Homography {
    let (tx, ty) = (t2.x - t1.x, t2.y - t1.y);
    let (cx, cy) = (c2.x - c1.x, c2.y - c1.y);
    let tn = tx * tx + ty * ty;
    // Complex division (c / t) gives scale·e^{iθ} as (a, b).
    let a = (cx * tx + cy * ty) / tn;
    let b = (cy * tx - cx * ty) / tn;
    let ox = c1.x - (a * t1.x - b * t1.y);
    let oy = c1.y - (b * t1.x + a * t1.y);
    Homography { m: [a, -b, ox, b, a, oy, 0.0, 0.0, 1.0] }
}

fn refine(
    h: &Hypothesis,
    cands: &[marks::Candidate],
    tmarks: &[Point],
    template: &Template,
    opts: &RegisterOptions,
) -> Result<Registration, RegisterFailure> {
    let mut pairs: Vec<(Point, Point)> =
        h.inliers.iter().map(|&(k, c)| (tmarks[k], Point::new(cands[c].x, cands[c].y))).collect();
    if pairs.len() < 4 {
        return Err(RegisterFailure::NotAForm { marks: pairs.len() });
    }
    if pairs.len() < opts.min_marks {
        return Err(RegisterFailure::MarksNotFound { marks: pairs.len() });
    }
    loop {
        let (src, dst): (Vec<Point>, Vec<Point>) = pairs.iter().copied().unzip();
        let fit = Homography::fit(&src, &dst).ok_or(RegisterFailure::MarksNotFound { marks: pairs.len() })?;
        let inv = fit.inverse().ok_or(RegisterFailure::MarksNotFound { marks: pairs.len() })?;
        let res: Vec<f64> = pairs.iter().map(|(t, c)| inv.apply(*c).dist(*t)).collect();
        let (worst, &wres) = res.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap();
        if wres > opts.max_residual_mm && pairs.len() > opts.min_marks {
            pairs.remove(worst);
            continue;
        }
        if wres > opts.max_residual_mm * 2.0 {
            return Err(RegisterFailure::MarksNotFound { marks: pairs.len() });
        }
        let mut sorted = res.clone();
        sorted.sort_by(f64::total_cmp);
        let median = if sorted.len() % 2 == 1 {
            sorted[sorted.len() / 2]
        } else {
            (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2]) / 2.0
        };
        let centre = Point::new(template.width / 2.0, template.height / 2.0);
        let c0 = fit.apply(centre);
        let cx = fit.apply(Point::new(centre.x + 10.0, centre.y));
        let angle = (cx.y - c0.y).atan2(cx.x - c0.x).to_degrees();
        let orientation = (((angle / 90.0).round() as i64).rem_euclid(4) * 90) as u32;
        let mut skew = angle - orientation as f64;
        if skew > 180.0 {
            skew -= 360.0;
        }
        if skew < -180.0 {
            skew += 360.0;
        }
        return Ok(Registration {
            to_scan: fit,
            to_template: inv,
            orientation,
            skew_deg: skew,
            px_per_mm: fit.local_scale(centre),
            marks_used: pairs.len(),
            marks_total: tmarks.len(),
            residual_median_mm: median,
            residual_max_mm: wres,
            alternate: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page with only the template's registration marks, black on white, at `dpi`.
    fn marks_page(t: &Template, dpi: f64, turn: bool) -> image::DynamicImage {
        let px = |mm: f64| (mm * dpi / 25.4).round() as u32;
        let mut page = image::RgbImage::from_pixel(px(t.width), px(t.height), image::Rgb([255, 255, 255]));
        for m in &t.marks {
            for y in px(m.rect.y)..px(m.rect.y + m.rect.h) {
                for x in px(m.rect.x)..px(m.rect.x + m.rect.w) {
                    page.put_pixel(x, y, image::Rgb([0, 0, 0]));
                }
            }
        }
        let img = image::DynamicImage::ImageRgb8(page);
        if turn {
            img.rotate180()
        } else {
            img
        }
    }

    #[test]
    fn registers_upright_and_upside_down() {
        let t = Template::sbk_student();
        for turn in [false, true] {
            let scan = Scan::new(marks_page(&t, 150.0, turn));
            let r = register(&scan, &t, &RegisterOptions::default(), &mut RegisterScratch::default()).unwrap();
            assert_eq!(r.orientation, if turn { 180 } else { 0 });
            assert_eq!(r.marks_used, 10);
            assert!(r.residual_max_mm < 0.3, "residual {}", r.residual_max_mm);
            let p = r.to_scan.apply(Point::new(105.0, 148.5));
            assert!((p.x - 105.0 * 150.0 / 25.4).abs() < 2.0, "{p:?}");
        }
    }

    #[test]
    fn registers_a_quarter_turn() {
        let t = Template::sbk_student();
        let scan = Scan::new(marks_page(&t, 100.0, false).rotate90());
        let r = register(&scan, &t, &RegisterOptions::default(), &mut RegisterScratch::default()).unwrap();
        assert_eq!(r.orientation, 90);
        assert_eq!(r.marks_used, 10);
        assert!(r.skew_deg.abs() < 0.1);
    }

    #[test]
    fn blank_page_is_not_a_form() {
        let scan =
            Scan::new(image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(620, 877, image::Luma([250]))));
        let r = register(&scan, &Template::sbk_student(), &RegisterOptions::default(), &mut RegisterScratch::default());
        assert!(matches!(r, Err(RegisterFailure::NotAForm { .. })));
    }

    #[test]
    fn similarity_maps_both_points() {
        let (t1, t2, c1, c2) =
            (Point::new(0.0, 0.0), Point::new(10.0, 0.0), Point::new(5.0, 5.0), Point::new(5.0, 25.0));
        let s = similarity(t1, t2, c1, c2);
        assert!(s.apply(t1).dist(c1) < 1e-9 && s.apply(t2).dist(c2) < 1e-9);
    }
}
