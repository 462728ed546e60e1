//! Face detection and head framing to the card photo layout.
//!
//! Faces are found with SeetaFace's frontal funnel-structured cascade (Wu et al. 2016,
//! "Funnel-structured cascade for multi-view face detection with alignment-awareness"), run in
//! pure Rust by the `rustface` crate with the model bundled in `assets/models/`. The detector
//! gives a face box but no landmarks, so the eyes are placed from the box with proportions
//! measured on the bundled portraits (see [`EYE_LINE`]), and the top of the hair is found by
//! scanning down from above the box for the first row that differs from the background.

use rustface::{Detector, ImageData};
use std::cell::RefCell;

/// Card photo width, px (26 mm at 350 dpi).
pub const OUT_W: u32 = 358;
/// Card photo height, px (32 mm at 350 dpi).
pub const OUT_H: u32 = 441;

/// Eye line as a fraction of the detector's box height below its top. Measured by running
/// the detector on the four bundled portraits (`assets/faces`, 520 × 640, detection at half
/// size; see `calibration` in the tests) and locating the iris centres by hand: obama
/// (202,257)/(330,258) in box (76,114,360), obama2 (148,288)/(285,288) in (62,168,362),
/// obama3 (213,208)/(345,208) in (90,92,342), astronaut (190,295)/(325,295) in (104,182,312):
/// 0.397, 0.329, 0.336, 0.362, mean 0.356.
pub const EYE_LINE: f64 = 0.356;
/// Cheek-to-cheek face width (the spec's "face width") as a fraction of the box width: the
/// portraits' widths (0.57, 0.645, 0.58, 0.556 of 520 px, from their README) over the same
/// boxes: 0.82, 0.93, 0.88, 0.93, mean 0.888.
pub const FACE_WIDTH: f64 = 0.888;

/// A detected face in some image's pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceBox {
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
    /// Detector score.
    pub score: f64,
}

thread_local! {
    static DETECTOR: RefCell<Option<Box<dyn Detector>>> = const { RefCell::new(None) };
}

static MODEL: std::sync::OnceLock<Option<rustface::model::Model>> = std::sync::OnceLock::new();

fn model() -> Option<&'static rustface::model::Model> {
    MODEL
        .get_or_init(|| {
            rustface::model::read_model(&include_bytes!("../../assets/models/seeta_fd_frontal_v1.0.bin")[..]).ok()
        })
        .as_ref()
}

/// Detects faces in a grey image (row-major, `w × h`); boxes in its pixels, best first. One
/// detector per thread is kept (the model is parsed once per process).
pub fn detect(grey: &[u8], w: u32, h: u32, min_face: u32) -> Vec<FaceBox> {
    let Some(model) = model() else { return Vec::new() };
    DETECTOR.with(|d| {
        let mut d = d.borrow_mut();
        let det = d.get_or_insert_with(|| {
            let mut det = rustface::create_detector_with_model(model.clone());
            det.set_score_thresh(2.0);
            det.set_pyramid_scale_factor(0.75);
            det.set_slide_window_step(4, 4);
            det
        });
        det.set_min_face_size(min_face.max(20));
        let mut faces: Vec<FaceBox> = det
            .detect(&ImageData::new(grey, w, h))
            .into_iter()
            .map(|f| {
                let b = f.bbox();
                FaceBox {
                    x: b.x() as f64,
                    y: b.y() as f64,
                    w: b.width() as f64,
                    h: b.height() as f64,
                    score: f.score(),
                }
            })
            .collect();
        faces.sort_by(|a, b| b.score.total_cmp(&a.score));
        faces
    })
}

/// Where the head lands on the output and the similarity that puts it there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Framing {
    /// Output px per source px.
    pub scale: f64,
    /// Source position of the output's top-left corner.
    pub origin: (f64, f64),
    /// Face width on the output, px.
    pub face_width: f64,
    /// Top of the hair below the output's top edge, px.
    pub hair_top: f64,
    /// Midpoint between the eyes from the output's left edge, px.
    pub eye_mid_x: f64,
    /// Eye line above the output's bottom edge, px.
    pub eye_above_bottom: f64,
}

/// Spec targets: aim at the middle of each range, with the eye line kept this far inside its
/// limit so that a detector error of a few pixels does not break the rule.
const TARGET_FACE_W: f64 = 215.0;
const TARGET_HAIR: f64 = 14.0;
const TARGET_EYE_X: f64 = 179.0;
const MAX_EYE_Y: f64 = (OUT_H - 207) as f64 - 12.0;

/// Frames a head: `face` is the detector box, `hair_top` the first hair row, both in source
/// px. Scales the face to the target width unless the eye line would then sit too low, and
/// places the eye midpoint and hair top at their targets.
pub fn frame(face: &FaceBox, hair_top: f64, eye_x: f64) -> Framing {
    let eye_y = face.y + EYE_LINE * face.h;
    let fw = face.w * FACE_WIDTH;
    let mut scale = TARGET_FACE_W / fw;
    let room = (eye_y - hair_top).max(1.0);
    scale = scale.min((MAX_EYE_Y - TARGET_HAIR) / room).max(179.0 / fw);
    let origin = (eye_x - TARGET_EYE_X / scale, hair_top - TARGET_HAIR / scale);
    Framing {
        scale,
        origin,
        face_width: fw * scale,
        hair_top: TARGET_HAIR,
        eye_mid_x: TARGET_EYE_X,
        eye_above_bottom: OUT_H as f64 - (eye_y - origin.1) * scale,
    }
}

/// The midpoint between the eyes, x in the grey image: the box centre moved to the mean of the
/// darkness centroids of the eye band's left and right halves (eye and brow), which follows a
/// turned head where the box centre does not. Falls back to the box centre.
pub fn eye_mid_x(grey: &[u8], w: u32, h: u32, face: &FaceBox) -> f64 {
    let (w, h) = (w as usize, h as usize);
    let centre = face.x + face.w / 2.0;
    let y0 = ((face.y + 0.22 * face.h).max(0.0) as usize).min(h);
    let y1 = ((face.y + 0.46 * face.h).max(0.0) as usize).min(h);
    let xa = ((face.x + 0.12 * face.w).max(0.0) as usize).min(w);
    let xm = (centre.max(0.0) as usize).min(w);
    let xb = ((face.x + 0.88 * face.w).max(0.0) as usize).min(w);
    if y1 <= y0 || xm <= xa || xb <= xm {
        return centre;
    }
    let band: Vec<u8> = (y0..y1).flat_map(|y| grey[y * w + xa..y * w + xb].iter().copied()).collect();
    let mean = band.iter().map(|&v| v as f64).sum::<f64>() / band.len().max(1) as f64;
    let centroid = |x0: usize, x1: usize| {
        let (mut sw, mut sx) = (0.0, 0.0);
        for y in y0..y1 {
            for x in x0..x1 {
                let d = (mean - grey[y * w + x] as f64).max(0.0);
                sw += d * d;
                sx += d * d * (x as f64 + 0.5);
            }
        }
        (sw > 0.0).then(|| sx / sw)
    };
    match (centroid(xa, xm), centroid(xm, xb)) {
        // Trust it only within a fifth of the box width of the centre.
        (Some(l), Some(r)) if ((l + r) / 2.0 - centre).abs() < 0.2 * face.w => (l + r) / 2.0,
        _ => centre,
    }
}

/// Whether a framing meets the card rules (face width 179–255 px, hair top 7–21 px, eye
/// midpoint 162–196 px from the left, eye line ≥ 207 px above the bottom).
pub fn meets_rules(face_width: f64, hair_top: f64, eye_mid_x: f64, eye_above_bottom: f64) -> bool {
    (179.0..=255.0).contains(&face_width)
        && (7.0..=21.0).contains(&hair_top)
        && (162.0..=196.0).contains(&eye_mid_x)
        && eye_above_bottom >= 207.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_lands_inside_the_rules() {
        for (w, hair_gap) in [(150.0, 40.0), (300.0, 90.0), (90.0, 20.0), (200.0, 130.0)] {
            let face = FaceBox { x: 50.0, y: 80.0, w, h: w, score: 5.0 };
            let f = frame(&face, 80.0 - hair_gap, 50.0 + w / 2.0);
            assert!(meets_rules(f.face_width, f.hair_top, f.eye_mid_x, f.eye_above_bottom), "{w} {hair_gap}: {f:?}");
            // The eye line maps where the framing says.
            let eye_y = (face.y + EYE_LINE * face.h - f.origin.1) * f.scale;
            assert!((OUT_H as f64 - eye_y - f.eye_above_bottom).abs() < 1e-6);
        }
        // A very tall forehead cannot meet both the hair and eye rules at the minimum width.
        let f = frame(&FaceBox { x: 0.0, y: 500.0, w: 100.0, h: 100.0, score: 5.0 }, 0.0, 50.0);
        assert!(!meets_rules(f.face_width, f.hair_top, f.eye_mid_x, f.eye_above_bottom));
    }

    /// Prints the detector's boxes on the bundled portraits (for the ratios above):
    /// `cargo test --lib photo::frame::tests::calibration -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn calibration() {
        for (i, name) in ["obama", "obama2", "obama3", "astronaut"].iter().enumerate() {
            let path = format!("{}/assets/faces/{name}_white.jpg", env!("CARGO_MANIFEST_DIR"));
            let img = image::open(path).unwrap().to_luma8();
            for div in [1u32, 2, 3] {
                let g = image::imageops::resize(
                    &img,
                    img.width() / div,
                    img.height() / div,
                    image::imageops::FilterType::Triangle,
                );
                let t = std::time::Instant::now();
                let f = detect(g.as_raw(), g.width(), g.height(), 40 / div);
                println!(
                    "face {i} /{div}: {:?} in {:?}",
                    f.iter()
                        .map(|b| (b.x * div as f64, b.y * div as f64, b.w * div as f64, b.h * div as f64, b.score))
                        .collect::<Vec<_>>(),
                    t.elapsed()
                );
            }
        }
    }
}
