//! The bundled portraits (public-domain US-government and NASA works, `assets/faces/`), for
//! demo rosters whose `photo` column says `face:N`, and for the scan simulator's pasted prints.

use crate::render::JpegImage;
use formscan::geometry::Rect;
use std::sync::Arc;

/// The bundled portraits: `(name, background)` pairs and their JPEG bytes.
pub fn face(index: usize, background: &str) -> &'static [u8] {
    macro_rules! faces {
        ($($n:literal),*) => {
            &[$(
                [include_bytes!(concat!("../../../assets/faces/", $n, "_white.jpg")).as_slice(),
                 include_bytes!(concat!("../../../assets/faces/", $n, "_blue.jpg")).as_slice(),
                 include_bytes!(concat!("../../../assets/faces/", $n, "_grey.jpg")).as_slice()],
            )*]
        };
    }
    const FACES: &[[&[u8]; 3]] = faces!("obama", "obama2", "obama3", "astronaut");
    let bg = match background {
        "blue" => 1,
        "grey" => 2,
        _ => 0,
    };
    FACES[index % FACES.len()][bg]
}

/// Number of bundled portraits.
pub const FACE_COUNT: usize = 4;

/// Builds a JPEG for a roster photo from a bundled face (used by demos: `photo` column values
/// of the form `face:N`).
pub fn face_photo(index: usize, box_mm: Rect) -> JpegImage {
    let img = image::load_from_memory(face(index, "white")).expect("bundled face decodes");
    let px = |mm: f64| (mm / 25.4 * 300.0).round() as u32;
    let img = img.resize_to_fill(px(box_mm.w), px(box_mm.h), image::imageops::FilterType::Triangle).to_rgb8();
    let mut data = Vec::new();
    // Full-resolution chroma, as printed photos are encoded.
    let mut enc = jpeg_encoder::Encoder::new(&mut data, 85);
    enc.set_sampling_factor(jpeg_encoder::SamplingFactor::F_1_1);
    enc.encode(img.as_raw(), img.width() as u16, img.height() as u16, jpeg_encoder::ColorType::Rgb)
        .expect("in-memory JPEG encoding of a photo cannot fail");
    JpegImage { data: Arc::new(data), width: img.width(), height: img.height() }
}
