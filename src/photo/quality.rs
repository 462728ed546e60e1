//! Image quality measures on the framed photo.
//!
//! * Sharpness: variance of the Laplacian over the face (Pech-Pacheco et al. 2000, "Diatom
//!   autofocusing in brightfield microscopy: a comparative study", ICPR), a standard focus
//!   measure: blur removes the high frequencies the Laplacian responds to.
//! * Exposure: mean luminance over the face.
//! * Colour: mean chroma (max − min channel) over the face; a grey photocopy of a photo has
//!   almost none, while skin has 25–60 even under poor light.

/// Measures over a region of an RGB image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measures {
    /// Variance of the 4-neighbour Laplacian of luminance, at half resolution (see [`measure`]).
    pub sharpness: f64,
    /// Mean luminance (0–255).
    pub brightness: f64,
    /// Mean chroma (0–255).
    pub chroma: f64,
}

fn luma(p: &image::Rgb<u8>) -> f64 {
    0.299 * p.0[0] as f64 + 0.587 * p.0[1] as f64 + 0.114 * p.0[2] as f64
}

/// Measures the region `(x0, y0, x1, y1)` (clamped to the image).
///
/// Sharpness is measured on a 2 × 2-averaged copy of the region (≈ 7 px/mm on the card
/// layout). At full resolution the Laplacian mostly sees scanner noise and the upsampling of a
/// 300 dpi scan, so on harsh synthetic scans sound prints (down to 8.6) and prints blurred by
/// σ = 0.4 mm (up to 9.8) overlapped; one octave down, the band a defocused or copied print
/// loses, they separated by a factor of 2.5 (measured on the written JPEGs: sound ≥ 58.8,
/// blurred ≤ 23.1).
pub fn measure(img: &image::RgbImage, region: (u32, u32, u32, u32)) -> Measures {
    let (w, h) = img.dimensions();
    let (x0, y0) = (region.0.min(w), region.1.min(h));
    let (x1, y1) = (region.2.min(w).max(x0), region.3.min(h).max(y0));
    let (mut n, mut sb, mut sc) = (0f64, 0f64, 0f64);
    // Luminance at half resolution, for the sharpness.
    let (hw, hh) = (((x1 - x0) / 2) as usize, ((y1 - y0) / 2) as usize);
    let mut half = vec![0f64; hw * hh];
    for y in y0..y1 {
        for x in x0..x1 {
            let p = img.get_pixel(x, y);
            let c = luma(p);
            n += 1.0;
            sb += c;
            sc += (p.0.iter().max().copied().unwrap_or(0) - p.0.iter().min().copied().unwrap_or(0)) as f64;
            let (u, v) = (((x - x0) / 2) as usize, ((y - y0) / 2) as usize);
            if u < hw && v < hh {
                half[v * hw + u] += c / 4.0;
            }
        }
    }
    if n == 0.0 {
        return Measures { sharpness: 0.0, brightness: 0.0, chroma: 0.0 };
    }
    let (mut m, mut sl, mut sl2) = (0f64, 0f64, 0f64);
    for v in 1..hh.saturating_sub(1) {
        for u in 1..hw.saturating_sub(1) {
            let i = v * hw + u;
            let lap = half[i - 1] + half[i + 1] + half[i - hw] + half[i + hw] - 4.0 * half[i];
            m += 1.0;
            sl += lap;
            sl2 += lap * lap;
        }
    }
    let sharpness = if m > 0.0 { sl2 / m - (sl / m) * (sl / m) } else { 0.0 };
    Measures { sharpness, brightness: sb / n, chroma: sc / n }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face_like(blur: f32, gain: f32, grey: bool) -> image::RgbImage {
        let img = image::RgbImage::from_fn(120, 120, |x, y| {
            let t = if ((x / 3) + (y / 5)) % 2 == 0 { 1.0 } else { 0.7 };
            let (r, g, b) = (200.0 * t * gain, 150.0 * t * gain, 120.0 * t * gain);
            if grey {
                let l = (r + g + b) / 3.0;
                image::Rgb([l as u8; 3])
            } else {
                image::Rgb([r as u8, g as u8, b as u8])
            }
        });
        if blur > 0.0 {
            image::imageops::blur(&img, blur)
        } else {
            img
        }
    }

    #[test]
    fn blur_darkness_and_grey_show() {
        let sharp = measure(&face_like(0.0, 1.0, false), (0, 0, 120, 120));
        let soft = measure(&face_like(3.0, 1.0, false), (0, 0, 120, 120));
        assert!(soft.sharpness * 10.0 < sharp.sharpness, "{soft:?} vs {sharp:?}");
        let dark = measure(&face_like(0.0, 0.3, false), (0, 0, 120, 120));
        assert!(dark.brightness < 60.0 && sharp.brightness > 100.0);
        let grey = measure(&face_like(0.0, 1.0, true), (0, 0, 120, 120));
        assert!(grey.chroma < 2.0 && sharp.chroma > 30.0);
    }
}
