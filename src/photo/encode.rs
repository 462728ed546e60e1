//! JPEG output to the card spec: 24-bit RGB baseline JPEG with 350 dpi in its JFIF header, the
//! quality chosen by binary search so that the file lands in the configured size range.
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

/// Encodes `img` at quality 70 when that lands in `min_bytes..=max_bytes`, else with the
/// highest quality (in 20–95) whose file is at most `max_bytes`, if that file is at least
/// `min_bytes`. Returns the bytes and the quality, or `None` when no
/// quality lands in the range (a near-blank image too small even at 95, or a noisy one too
/// large even at 20).
pub fn encode_in_range(img: &image::RgbImage, dpi: u16, min_bytes: usize, max_bytes: usize) -> Option<(Vec<u8>, u8)> {
    // Quality 70, the spec's suggestion, usually lands in range at once: one encode.
    let first = at(img, 70, dpi);
    if (min_bytes..=max_bytes).contains(&first.len()) {
        return Some((first, 70));
    }
    // Otherwise binary search (size grows with quality, near enough) on the side that helps:
    // the largest quality whose file fits under the maximum.
    let (mut lo, mut hi, mut best) = if first.len() > max_bytes {
        let bottom = at(img, 20, dpi);
        if bottom.len() > max_bytes {
            return None;
        }
        (20u8, 70u8, (bottom, 20u8))
    } else {
        let top = at(img, 95, dpi);
        if top.len() <= max_bytes {
            return (top.len() >= min_bytes).then_some((top, 95));
        }
        (70u8, 95u8, (first, 70u8))
    };
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        let data = at(img, mid, dpi);
        if data.len() <= max_bytes {
            lo = mid;
            best = (data, mid);
        } else {
            hi = mid;
        }
    }
    (best.0.len() >= min_bytes).then_some(best)
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
        // A flat image cannot reach 14 KB.
        let flat = image::RgbImage::from_pixel(358, 441, image::Rgb([255, 255, 255]));
        assert!(encode_in_range(&flat, 350, 14 * 1024, 40 * 1024).is_none());
    }
}
