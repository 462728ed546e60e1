//! Background check and cleaning on the framed photo.
//!
//! The background is read in strips along the top and the upper sides (the shoulders fill
//! the lower sides), split into seven blocks, each summarised by its 80th luminance percentile
//! (hair reaching in is darker and drops out) and median chroma: it is *light* when their mean is near white with
//! little colour, and *uniform* when the blocks agree and vary little inside (a coloured
//! backdrop fails the first, a gradient, vignette or cast shadow the second).
//!
//! Cleaning a light, uniform background to pure white grows the background from those strips
//! by flood fill over near-white, low-colour pixels, stopping at edges (a luminance step
//! between neighbours), so that a white shirt or a highlight inside the person is never
//! reached through the outline; inside the filled region each pixel moves toward white in
//! proportion to how close to white it already is, a soft edge rather than a hard cut.

/// What the background check found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackgroundCheck {
    /// Mean luminance of the strips.
    pub level: f64,
    /// Mean chroma of the strips.
    pub chroma: f64,
    /// Largest difference between block means.
    pub spread: f64,
    /// Light enough and without colour.
    pub light: bool,
    /// Even across the strips.
    pub uniform: bool,
}

fn luma(p: [u8; 3]) -> f64 {
    0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64
}

fn chroma(p: [u8; 3]) -> f64 {
    (p.iter().max().copied().unwrap_or(0) - p.iter().min().copied().unwrap_or(0)) as f64
}

/// Checks the background of a framed photo. `hair_top` (px) bounds the top strip, which must
/// stay above the head.
pub fn check(img: &image::RgbImage, hair_top: u32) -> BackgroundCheck {
    let (w, h) = img.dimensions();
    let strip_h = hair_top.saturating_sub(2).clamp(3, 12);
    let side_w = (w / 14).max(3);
    let lower = h * 55 / 100;
    // Blocks: top-left, top-middle, top-right, left upper, right upper, and the two sides lower.
    let blocks = [
        (0, 0, w / 3, strip_h),
        (w / 3, 0, 2 * w / 3, strip_h),
        (2 * w / 3, 0, w, strip_h),
        (0, strip_h, side_w, lower / 2),
        (w - side_w, strip_h, w, lower / 2),
        (0, lower / 2, side_w, lower),
        (w - side_w, lower / 2, w, lower),
    ];
    // Per block, the 80th percentile of luminance and the median chroma: hair or a shoulder
    // reaching into a block is darker than the backdrop and drops below the percentile, while
    // a gradient, vignette or shadow moves the whole block.
    // Histograms rather than sorts: luminance in quarter levels, chroma in whole levels.
    let mut levels = Vec::new();
    let mut chromas = Vec::new();
    let mut lh = vec![0u32; 1024];
    let mut ch = [0u32; 256];
    let raw = img.as_raw();
    for (x0, y0, x1, y1) in blocks {
        lh.iter_mut().for_each(|v| *v = 0);
        ch.iter_mut().for_each(|v| *v = 0);
        let mut n = 0usize;
        for y in y0..y1.min(h) {
            for x in x0..x1.min(w) {
                let i = (y as usize * w as usize + x as usize) * 3;
                let p = [raw[i], raw[i + 1], raw[i + 2]];
                lh[((luma(p) * 4.0) as usize).min(1023)] += 1;
                ch[chroma(p) as usize] += 1;
                n += 1;
            }
        }
        if n == 0 {
            continue;
        }
        // The value at sorted index k, as the sorted list would give it.
        let nth = |hist: &[u32], k: usize| {
            let mut acc = 0usize;
            hist.iter().position(|&c| {
                acc += c as usize;
                acc > k
            })
        };
        levels.push(nth(&lh, n * 8 / 10).unwrap_or(0) as f64 / 4.0);
        chromas.push(nth(&ch, n / 2).unwrap_or(0) as f64);
    }
    let n = levels.len().max(1) as f64;
    let level = levels.iter().sum::<f64>() / n;
    let chroma_mean = chromas.iter().sum::<f64>() / n;
    let spread = levels.iter().copied().fold(f64::MIN, f64::max) - levels.iter().copied().fold(f64::MAX, f64::min);
    BackgroundCheck {
        level,
        chroma: chroma_mean,
        spread,
        // Scanned white print paper sits at 235–255 after paper normalisation; the bundled
        // blue backdrop has chroma ~150 and the grey one a level of 150–220.
        light: level >= 225.0 && chroma_mean <= 20.0,
        uniform: spread <= 14.0,
    }
}

/// Cleans a near-white background to white (see the module notes). Returns the share of
/// channel values changed.
///
/// The fill marks a pixel when it is pushed, not when it is popped, so that no pixel enters
/// the stack twice: the region is the same (every edge of the fill's graph joins two open
/// pixels within 18 levels of each other, whichever way it is walked), at about half the
/// cost of the pop-time marking on a card photo.
pub fn clean(img: &mut image::RgbImage, hair_top: u32) -> f64 {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let n = w * h;
    // Luminance, and whether the fill may go there: near-white and low in colour.
    let mut lum = Vec::with_capacity(n);
    let mut open = Vec::with_capacity(n);
    for p in img.as_raw().chunks_exact(3) {
        let p = [p[0], p[1], p[2]];
        let l = luma(p) as f32;
        lum.push(l);
        open.push(l >= 200.0 && chroma(p) <= 24.0);
    }
    let mut bg = vec![false; n];
    let mut stack: Vec<u32> = Vec::with_capacity(n / 4);
    let seed_rows = (hair_top as usize).saturating_sub(2).clamp(1, 10);
    let seed = |i: usize, bg: &mut [bool], stack: &mut Vec<u32>| {
        if open[i] && !bg[i] {
            bg[i] = true;
            stack.push(i as u32);
        }
    };
    for y in 0..h * 55 / 100 {
        if y < seed_rows {
            (y * w..(y + 1) * w).for_each(|i| seed(i, &mut bg, &mut stack));
        } else if w > 0 {
            seed(y * w, &mut bg, &mut stack);
            seed(y * w + w - 1, &mut bg, &mut stack);
        }
    }
    while let Some(i) = stack.pop() {
        let (i, li) = (i as usize, lum[i as usize]);
        crate::geometry::neighbours4(i, w, h, |j| {
            // An edge (a step of more than 18 grey levels) stops the fill.
            if !bg[j] && open[j] && (lum[j] - li).abs() <= 18.0 {
                bg[j] = true;
                stack.push(j as u32);
            }
        });
    }
    let mut changed = 0usize;
    let raw: &mut [u8] = img;
    for ((px, &b), &l) in raw.chunks_exact_mut(3).zip(&bg).zip(&lum) {
        if !b {
            continue;
        }
        // 200 → untouched, 235 and above → pure white.
        let t = ((l as f64 - 200.0) / 35.0).clamp(0.0, 1.0);
        for c in px {
            // At t = 1 the blend is exactly 255 (v + (255 − v) · 1).
            let nv = if t >= 1.0 { 255 } else { crate::sample::round(*c as f64 + (255.0 - *c as f64) * t) as u8 };
            changed += usize::from(nv != *c);
            *c = nv;
        }
    }
    changed as f64 / (n * 3).max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A photo-like image: background `bg(x, y)`, a dark head disc and a white shirt block at
    /// the bottom separated from the background by a darker outline.
    fn photo(bg: impl Fn(u32, u32) -> [u8; 3]) -> image::RgbImage {
        image::RgbImage::from_fn(358, 441, |x, y| {
            let (dx, dy) = (x as f64 - 179.0, y as f64 - 180.0);
            if (dx * dx / 100.0f64.powi(2) + dy * dy / 140.0f64.powi(2)) < 1.0 {
                image::Rgb([150, 110, 90])
            } else if y > 330 && (60..300).contains(&x) {
                let edge = y < 334 || !(64..296).contains(&x);
                image::Rgb(if edge { [120, 120, 120] } else { [244, 244, 244] })
            } else {
                image::Rgb(bg(x, y))
            }
        })
    }

    #[test]
    fn white_blue_and_gradient_backgrounds() {
        let white = check(&photo(|_, _| [240, 241, 238]), 40);
        assert!(white.light && white.uniform, "{white:?}");
        let blue = check(&photo(|_, _| [67, 142, 219]), 40);
        assert!(!blue.light, "{blue:?}");
        let grad = check(&photo(|x, _| [(250 - x / 4) as u8; 3]), 40);
        assert!(!grad.uniform, "{grad:?}");
    }

    /// The fill as first written (marking a pixel when popped), the oracle for [`clean`]'s.
    fn clean_popping(img: &mut image::RgbImage, hair_top: u32) -> f64 {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let lum: Vec<f32> = img.pixels().map(|p| luma(p.0) as f32).collect();
        let open: Vec<bool> = img.pixels().zip(&lum).map(|(p, &l)| l >= 200.0 && chroma(p.0) <= 24.0).collect();
        let mut bg = vec![false; w * h];
        let mut stack = Vec::new();
        let seed_rows = (hair_top as usize).saturating_sub(2).clamp(1, 10);
        for y in 0..h * 55 / 100 {
            for x in 0..w {
                if y < seed_rows || x == 0 || x == w - 1 {
                    stack.push(y * w + x);
                }
            }
        }
        while let Some(i) = stack.pop() {
            if bg[i] || !open[i] {
                continue;
            }
            bg[i] = true;
            crate::geometry::neighbours4(i, w, h, |j| {
                if !bg[j] && open[j] && (lum[j] - lum[i]).abs() <= 18.0 {
                    stack.push(j);
                }
            });
        }
        let mut changed = 0usize;
        let raw: &mut [u8] = img;
        for (i, &b) in bg.iter().enumerate() {
            if b {
                let t = ((lum[i] as f64 - 200.0) / 35.0).clamp(0.0, 1.0);
                for c in &mut raw[i * 3..i * 3 + 3] {
                    let nv = (*c as f64 + (255.0 - *c as f64) * t).round() as u8;
                    changed += usize::from(nv != *c);
                    *c = nv;
                }
            }
        }
        changed as f64 / (w * h * 3).max(1) as f64
    }

    proptest::proptest! {
        /// Push-time marking fills the same region and writes the same bytes as pop-time
        /// marking, on noisy near-white backgrounds with edges and holes of every kind.
        #[test]
        fn the_fill_is_the_pop_time_fill(seed in 0u64..u64::MAX, level in 190u8..250, noise in 0u8..40, hair in 0u32..60) {
            let mut state = seed | 1;
            let mut next = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            let mut img = photo(|_, _| [0; 3]);
            for p in img.pixels_mut() {
                let r = next();
                if p.0 == [0; 3] {
                    let base = level as i32 - (r % (noise as u64 + 1)) as i32;
                    let tint = ((r >> 8) % 30) as i32;
                    p.0 = [base, base - tint / 3, base - tint].map(|v| v.clamp(0, 255) as u8);
                }
            }
            let mut expected = img.clone();
            let share = clean_popping(&mut expected, hair);
            proptest::prop_assert_eq!(clean(&mut img, hair), share);
            proptest::prop_assert!(img == expected);
        }
    }

    #[test]
    fn cleaning_whitens_the_background_and_leaves_the_person() {
        let mut img = photo(|_, _| [238, 240, 236]);
        let before = img.clone();
        assert!(clean(&mut img, 40) > 0.3);
        assert_eq!(img.get_pixel(5, 5).0, [255, 255, 255]);
        assert_eq!(img.get_pixel(179, 180), before.get_pixel(179, 180), "face untouched");
        assert_eq!(img.get_pixel(179, 400), before.get_pixel(179, 400), "white shirt untouched");
    }
}
