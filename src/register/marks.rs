//! Finding candidate registration marks on the low-resolution ink image.
//!
//! A mark is a solid square. Candidates are the connected components of ink (4-connectivity,
//! one pass with a union-find over run labels would be faster; a stack flood fill is simple
//! and takes ~1 ms at 75 dpi) whose area, solidity and second moments fit a solid square:
//! for a square of side a, the central second moments sum to a²/6 = area/6 whatever its
//! rotation, and the two principal moments are equal. Hair in a photo, handwriting, QR finder
//! patterns (3.8 mm, hollow) and text fail at least one of these.

use crate::scan::Scan;

/// A blob that looks like a registration mark.
#[derive(Debug, Clone, Copy)]
pub struct Candidate {
    /// Centre in full-resolution pixels (grey-weighted centroid).
    pub x: f64,
    /// Centre in full-resolution pixels.
    pub y: f64,
    /// Side length in full-resolution pixels (√area).
    pub side: f64,
    /// How square it looks, 0 (not at all) to 1 (perfect).
    pub quality: f64,
}

/// Most candidates kept: a form has ~10 marks; photos and dense writing add a few more.
const MAX_CANDIDATES: usize = 48;

/// Finds square blobs whose side is between `min_side` and `max_side` low-res pixels.
pub fn find_candidates(
    scan: &Scan,
    min_side: f64,
    max_side: f64,
    visited: &mut Vec<u32>,
    stack: &mut Vec<u32>,
) -> Vec<Candidate> {
    let (w, h) = (scan.low_w, scan.low_h);
    visited.clear();
    visited.resize(w * h, 0);
    let ink = |i: usize| scan.low_ink[i];
    let mut out = Vec::new();
    let mut label = 0u32;
    let max_area = (max_side * max_side * 1.6) as usize;
    for start in 0..w * h {
        if visited[start] != 0 || !ink(start) {
            continue;
        }
        label += 1;
        visited[start] = label;
        stack.clear();
        stack.push(start as u32);
        let (mut n, mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0usize, 0f64, 0f64, 0f64, 0f64, 0f64);
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0usize, 0usize);
        while let Some(i) = stack.pop() {
            let i = i as usize;
            let (x, y) = (i % w, i / w);
            n += 1;
            let (fx, fy) = (x as f64, y as f64);
            sx += fx;
            sy += fy;
            sxx += fx * fx;
            syy += fy * fy;
            sxy += fx * fy;
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
            crate::geometry::neighbours4(i, w, h, |j| {
                if visited[j] == 0 && ink(j) {
                    visited[j] = label;
                    stack.push(j as u32);
                }
            });
        }
        let side = (n as f64).sqrt();
        if side < min_side || side > max_side || n > max_area {
            continue;
        }
        let (mx, my) = (sx / n as f64, sy / n as f64);
        let (vxx, vyy, vxy) = (sxx / n as f64 - mx * mx, syy / n as f64 - my * my, sxy / n as f64 - mx * my);
        // Moments of a pixelated square include the pixel's own 1/12 per axis.
        let compact = (vxx + vyy) * 6.0 / (n as f64 + 2.0);
        let tr = vxx + vyy;
        let det = vxx * vyy - vxy * vxy;
        let disc = ((tr * tr / 4.0) - det).max(0.0).sqrt();
        let (l1, l2) = (tr / 2.0 + disc, (tr / 2.0 - disc).max(1e-9));
        let aniso = l1 / l2;
        let solidity = n as f64 / ((x1 - x0 + 1) * (y1 - y0 + 1)) as f64;
        if !(0.8..=1.25).contains(&compact) || aniso > 1.4 || solidity < 0.45 {
            continue;
        }
        let quality = (1.0 - (compact - 1.0).abs() * 2.0).max(0.0) * (1.0 - (aniso - 1.0)).max(0.0);
        // Grey-weighted centroid over the bounding box grown by one pixel: the partial pixels
        // along the edges carry the sub-pixel position that thresholding throws away.
        let (gx0, gy0, gx1, gy1) =
            (x0.saturating_sub(1), y0.saturating_sub(1), (x1 + 1).min(w - 1), (y1 + 1).min(h - 1));
        let (mut ws, mut wx, mut wy) = (0f64, 0f64, 0f64);
        for y in gy0..=gy1 {
            for x in gx0..=gx1 {
                let i = y * w + x;
                if visited[i] != label && visited[i] != 0 {
                    continue;
                }
                let paper = scan.paper_low(x, y) as f64;
                let wgt = ((paper - scan.low[i] as f64) / paper).clamp(0.0, 1.0);
                ws += wgt;
                wx += wgt * x as f64;
                wy += wgt * y as f64;
            }
        }
        let (cx, cy) = if ws > 0.0 { (wx / ws, wy / ws) } else { (mx, my) };
        let f = scan.factor as f64;
        out.push(Candidate { x: (cx + 0.5) * f, y: (cy + 0.5) * f, side: side * f, quality });
    }
    out.sort_by(|a, b| b.quality.total_cmp(&a.quality));
    out.truncate(MAX_CANDIDATES);
    out
}
