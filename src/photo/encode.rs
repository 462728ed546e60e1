//! JPEG output to the card spec: 24-bit RGB baseline JPEG with 350 dpi in its JFIF header, the
//! quality predicted from a first encode so that the file lands in the configured size range.
//!
//! Encoding uses the `jpeg-encoder` crate (a port of the libjpeg-turbo-style integer pipeline,
//! several times faster than the `image` crate's encoder, which matters within the 30 ms
//! per-photo budget).

use jpeg_encoder::{ColorType, Density, Encoder};

/// Encodes at one quality.
fn at(img: &image::RgbImage, quality: u8, dpi: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 * 1024);
    let mut enc = Encoder::new(&mut out, quality);
    enc.set_density(Density::Inch { x: dpi, y: dpi });
    let (w, h) = (img.width().min(u16::MAX as u32) as u16, img.height().min(u16::MAX as u32) as u16);
    // Writing to a Vec cannot fail for a well-formed RGB buffer; on failure the partial output
    // is dropped and the size check rejects the empty result.
    if enc.encode(img.as_raw(), w, h, ColorType::Rgb).is_err() {
        out.clear();
    }
    out
}

/// libjpeg's quantisation scale (per cent of the base tables) for a quality.
fn table_scale(q: f64) -> f64 {
    if q < 50.0 {
        5000.0 / q
    } else {
        200.0 - 2.0 * q
    }
}

/// The quality whose [`table_scale`] is `s`.
fn quality_for_scale(s: f64) -> f64 {
    if s <= 100.0 {
        (200.0 - s) / 2.0
    } else {
        5000.0 / s
    }
}

/// Encodes `img` at quality 70 (the spec's suggestion) when that lands in
/// `min_bytes..=max_bytes`, else at a quality (in 20–95) on the side that helps whose file lands
/// in the range, aiming 15 % inside the bound that was missed so that the quality stays as near
/// 70 as the range allows. Returns the bytes and the quality, or `None` when no quality lands
/// in the range (a near-blank image too small even at 95, or a noisy one too large even at 20).
///
/// Each encode costs ~1.5 ms, so the quality is predicted rather than searched: file size
/// follows a power law of the quantisation scale near enough (`size ∝ scale^γ`, γ ≈ −0.7 for
/// photos), which a secant step on (log scale, log size) refines from the encodes made so far;
/// the result is bracketed by the qualities known too small and too large, and a bisection of
/// that bracket is the fallback. Two encodes are the usual count, three or four the most seen.
pub fn encode_in_range(img: &image::RgbImage, dpi: u16, min_bytes: usize, max_bytes: usize) -> Option<(Vec<u8>, u8)> {
    let first = at(img, 70, dpi);
    if (min_bytes..=max_bytes).contains(&first.len()) {
        return Some((first, 70));
    }
    let too_small = first.len() < min_bytes;
    let target = if too_small { min_bytes as f64 * 1.15 } else { max_bytes as f64 * 0.87 }
        .clamp(min_bytes as f64, max_bytes as f64)
        .ln();
    // Qualities known to give too small (lo) and too large (hi) a file.
    let (mut lo, mut hi) = if too_small { (70u8, 96u8) } else { (19u8, 70u8) };
    let mut seen = vec![(table_scale(70.0).ln(), (first.len().max(1) as f64).ln())];
    // One encode at quality `q`: the file when it lands in the range; otherwise the bracket
    // (lo, hi) narrows to exclude `q` and the size comes back.
    let encode = |q: u8, lo: &mut u8, hi: &mut u8| -> Result<(Vec<u8>, u8), usize> {
        let data = at(img, q, dpi);
        if (min_bytes..=max_bytes).contains(&data.len()) {
            return Ok((data, q));
        }
        if data.len() < min_bytes {
            *lo = q;
        } else {
            *hi = q;
        }
        Err(data.len())
    };
    for _ in 0..4 {
        if hi - lo <= 1 {
            return None;
        }
        let n = seen.len();
        let (ls, lz) = seen[n - 1];
        let gamma = if n >= 2 {
            let (ps, pz) = seen[n - 2];
            if (ls - ps).abs() > 1e-6 {
                ((lz - pz) / (ls - ps)).clamp(-2.5, -0.2)
            } else {
                -0.7
            }
        } else {
            -0.7
        };
        let q =
            quality_for_scale((ls + (target - lz) / gamma).exp()).round().clamp((lo + 1) as f64, (hi - 1) as f64) as u8;
        match encode(q, &mut lo, &mut hi) {
            Ok(hit) => return Some(hit),
            Err(len) => seen.push((table_scale(q as f64).ln(), (len.max(1) as f64).ln())),
        }
    }
    while hi - lo > 1 {
        if let Ok(hit) = encode((lo + hi) / 2, &mut lo, &mut hi) {
            return Some(hit);
        }
    }
    None
}

/// Reads the JFIF density of a JPEG: `(units, x, y)` where units 1 = dots per inch.
pub fn jfif_density(jpeg: &[u8]) -> Option<(u8, u16, u16)> {
    // SOI, then APP0 "JFIF\0" version(2) units(1) x(2) y(2).
    if jpeg.len() < 18 || jpeg[0..4] != [0xFF, 0xD8, 0xFF, 0xE0] || &jpeg[6..11] != b"JFIF\0" {
        return None;
    }
    Some((jpeg[13], u16::from_be_bytes([jpeg[14], jpeg[15]]), u16::from_be_bytes([jpeg[16], jpeg[17]])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lands_in_the_size_range_with_350_dpi() {
        // A textured image (gradients and a checker) so that size depends on quality.
        let img = image::RgbImage::from_fn(358, 441, |x, y| {
            let c = if (x / 7 + y / 9) % 2 == 0 { 40 } else { 0 };
            image::Rgb([(x % 256) as u8, ((y * 2) % 256) as u8, (120 + c) as u8])
        });
        let (data, q) = encode_in_range(&img, 350, 14 * 1024, 40 * 1024).expect("fits");
        assert!((14 * 1024..=40 * 1024).contains(&data.len()), "{} bytes at q{q}", data.len());
        assert_eq!(jfif_density(&data), Some((1, 350, 350)));
        let back = image::load_from_memory(&data).unwrap();
        assert_eq!((back.width(), back.height(), back.color()), (358, 441, image::ColorType::Rgb8));
        // Smooth to noisy images: where a file fits, it lands in range, above quality 70 for
        // the smooth ones and below it for the noisy ones.
        let (mut above, mut below) = (false, false);
        for amp in [3u32, 6, 12, 24, 48, 96] {
            let mut seed = 12345u32;
            let img = image::RgbImage::from_fn(358, 441, |x, y| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let n = (seed >> 16) % amp;
                image::Rgb([(x / 2 + n) as u8, (y / 2 + n) as u8, (100 + n) as u8])
            });
            if let Some((data, q)) = encode_in_range(&img, 350, 14 * 1024, 40 * 1024) {
                assert!((14 * 1024..=40 * 1024).contains(&data.len()), "amp {amp}: {} bytes at q{q}", data.len());
                above |= q > 70;
                below |= q < 70;
            }
        }
        assert!(above && below, "qualities above and below 70 both chosen: {above} {below}");
        // A flat image cannot reach 14 KB.
        let flat = image::RgbImage::from_pixel(358, 441, image::Rgb([255, 255, 255]));
        assert!(encode_in_range(&flat, 350, 14 * 1024, 40 * 1024).is_none());
    }
}
