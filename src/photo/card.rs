//! Steps 2–6 of the photo stage on a located print: its geometry, the face, the card photo
//! resampled from the scan, the quality checks and the JPEG file. Each step records its checks
//! in the [`PhotoReading`], in the order the module notes list them.

use super::frame::{self, FaceBox, Framing, OUT_H, OUT_W};
use super::locate::Located;
use super::{background, encode, hair_top, quality, PhotoContext, PhotoOptions, PhotoReading, PixelBox, Position};
use crate::geometry::{Homography, Point};
use crate::sample::Sampler;

/// A located print, upright: its size and where its millimetres lie.
pub(super) struct Print {
    /// Width and height, mm (the mean of opposite sides).
    pub w_mm: f64,
    pub h_mm: f64,
    /// Print mm → template mm.
    pub to_mm: Homography,
    /// Print mm → scan px.
    pub to_scan: Homography,
}

/// The print's width and height in mm, the mean of its opposite sides.
pub(super) fn print_size(quad: &[Point; 4]) -> (f64, f64) {
    ((quad[0].dist(quad[1]) + quad[3].dist(quad[2])) / 2.0, (quad[0].dist(quad[3]) + quad[1].dist(quad[2])) / 2.0)
}

/// Whether a print of this size can be a photo: 1-inch (25 × 35 mm) or box-sized (26 × 32 mm)
/// prints are; much else is not.
pub(super) fn plausible_size(w_mm: f64, h_mm: f64) -> bool {
    (18.0..=40.0).contains(&w_mm) && (22.0..=46.0).contains(&h_mm)
}

/// Step 2 (crop): the homography from the upright print to the page, so that rotation (±6°) and
/// offset are undone in the same resampling that crops. `None` for a degenerate quadrilateral.
pub(super) fn crop(loc: &Located, (w_mm, h_mm): (f64, f64), ctx: &PhotoContext) -> Option<Print> {
    let corners = [Point::new(0.0, 0.0), Point::new(w_mm, 0.0), Point::new(w_mm, h_mm), Point::new(0.0, h_mm)];
    let to_mm = Homography::fit(&corners, &loc.quad)?;
    Some(Print { w_mm, h_mm, to_mm, to_scan: ctx.to_scan.compose(&to_mm) })
}

/// The face found on a print and the card framing it gets.
pub(super) struct Face {
    /// The face, print mm.
    pub mm: FaceBox,
    /// The top of the hair, print mm from the print's top.
    pub hair_mm: f64,
    /// Where the face goes on the card photo.
    pub framing: Framing,
}

/// Detection copy at 3.5 px/mm: a 15 mm face is ~52 px, enough for the 40 px detector window
/// and small enough for the detector to stay within a few milliseconds. (At 3.2 px/mm the
/// detector's boxes come out ~6 % larger on the synthetic prints, which frames the head larger
/// and puts hair into the background strips: 10 more white backgrounds flagged.)
const DETECT_PX_PER_MM: f64 = 3.5;

/// Step 3a (frame): detects the faces on a grey copy of the print (checks `face_found`,
/// `single_face`) and frames the best one ([`frame::frame`]). `None` when there is no face.
pub(super) fn detect_face(sampler: &Sampler, print: &Print, r: &mut PhotoReading) -> Option<Face> {
    let det_ppm = DETECT_PX_PER_MM;
    let (dw, dh) = ((print.w_mm * det_ppm) as u32, (print.h_mm * det_ppm) as u32);
    let mut grey = vec![0u8; (dw * dh) as usize];
    let to_det = print.to_scan.compose(&Homography::scale_translate(1.0 / det_ppm, 0.5 / det_ppm, 0.5 / det_ppm));
    for (y, row) in grey.chunks_exact_mut(dw.max(1) as usize).enumerate() {
        sampler.row(&to_det, y as f64, 0..dw as usize, |x, p| {
            // ITU-R BT.601 luma weights in 8-bit fixed point.
            row[x] = ((p[0] as u32 * 77 + p[1] as u32 * 150 + p[2] as u32 * 29) >> 8) as u8
        });
    }
    let faces = frame::detect(&grey, dw, dh, (dw * 2 / 5).max(40));
    let best = faces.first().copied();
    // Other faces count when at least half the size of the best and apart from it.
    r.faces = faces
        .iter()
        .filter(|f| best.is_some_and(|b| f.w >= b.w * 0.5 && (f.x - b.x).abs() + (f.y - b.y).abs() > b.w * 0.5))
        .count()
        + best.is_some() as usize;
    r.check("face_found", best.is_some());
    let face = best?;
    r.check("single_face", r.faces == 1);
    let mm = FaceBox {
        x: face.x / det_ppm,
        y: face.y / det_ppm,
        w: face.w / det_ppm,
        h: face.h / det_ppm,
        score: face.score,
    };
    let hair_mm = hair_top(&grey, dw, dh, &face) / det_ppm;
    let eye_x_mm = frame::eye_mid_x(&grey, dw, dh, &face) / det_ppm;
    Some(Face { mm, hair_mm, framing: frame::frame(&mm, hair_mm, eye_x_mm) })
}

/// Step 3b: renders the card photo straight from the scan (one resampling), normalising paper
/// to white, and records the crop, the face box and the position checks (`position`,
/// `face_size`, `face_inside`).
///
/// Beyond the print (and its 0.3 mm edge band, which holds the shadow line) the background is
/// extended with its own colour, read at the print's top corners, so that a head framed wider
/// than the print gets background, not a border; a non-white one is flagged by
/// [`check_quality`].
pub(super) fn render(
    sampler: &Sampler,
    print: &Print,
    face: &Face,
    paper: [f32; 3],
    ctx: &PhotoContext,
    r: &mut PhotoReading,
) -> image::RgbImage {
    let (pw_mm, ph_mm, fr) = (print.w_mm, print.h_mm, &face.framing);
    let gain = paper.map(|p| (255.0 / p).clamp(1.0, 1.6));
    let edge = 0.3;
    let bg_at = |x: f64, y: f64| {
        let p = sampler.at(print.to_scan.apply(Point::new(x, y)));
        [0, 1, 2].map(|k| p[k] as f32 * gain[k])
    };
    let (b1, b2) = (bg_at(1.0, 1.0), bg_at(pw_mm - 1.0, 1.0));
    let bg_fill = [0, 1, 2].map(|k| ((b1[k] + b2[k]) / 2.0).round().min(255.0) as u8);
    // Paper normalisation as a table per channel (the gain applies to the bilinear colour).
    let lut: [[u8; 256]; 3] = [0, 1, 2].map(|k| {
        let mut t = [0u8; 256];
        t.iter_mut().enumerate().for_each(|(v, o)| *o = (v as f32 * gain[k]).round().min(255.0) as u8);
        t
    });
    let inv = 1.0 / fr.scale;
    let to_out =
        print.to_scan.compose(&Homography::scale_translate(inv, fr.origin.0 + 0.5 * inv, fr.origin.1 + 0.5 * inv));
    let (ow, oh) = (OUT_W as usize, OUT_H as usize);
    let mut raw = vec![0u8; ow * oh * 3];
    for (y, row) in raw.chunks_exact_mut(ow * 3).enumerate() {
        // Output pixel (x, y) has its centre at print mm origin + (x + 0.5, y + 0.5) / scale.
        let qy = fr.origin.1 + (y as f64 + 0.5) * inv;
        let (xa, xb) = if qy < edge || qy > ph_mm - edge {
            (0, 0)
        } else {
            let xa = ((edge - fr.origin.0) / inv - 0.5).ceil().clamp(0.0, ow as f64) as usize;
            let xb = (((pw_mm - edge - fr.origin.0) / inv - 0.5).floor() + 1.0).clamp(xa as f64, ow as f64) as usize;
            (xa, xb)
        };
        for x in (0..xa).chain(xb..ow) {
            row[x * 3..x * 3 + 3].copy_from_slice(&bg_fill);
        }
        sampler.row(&to_out, y as f64, xa..xb, |x, p| {
            row[x * 3..x * 3 + 3].copy_from_slice(&[
                lut[0][p[0] as usize],
                lut[1][p[1] as usize],
                lut[2][p[2] as usize],
            ])
        });
    }
    let out = image::RgbImage::from_raw(OUT_W, OUT_H, raw).expect("buffer sized to the card photo");
    let corner = |x: f64, y: f64| print.to_mm.apply(Point::new(fr.origin.0 + x / fr.scale, fr.origin.1 + y / fr.scale));
    r.crop = Some([
        corner(0.0, 0.0),
        corner(OUT_W as f64, 0.0),
        corner(OUT_W as f64, OUT_H as f64),
        corner(0.0, OUT_H as f64),
    ]);
    let face_mm = &face.mm;
    r.face = Some(PixelBox {
        x: (face_mm.x - fr.origin.0) * fr.scale,
        y: (face_mm.y - fr.origin.1) * fr.scale,
        w: face_mm.w * fr.scale,
        h: face_mm.h * fr.scale,
    });
    let pos = Position {
        face_width: fr.face_width,
        hair_top: fr.hair_top,
        eye_mid_x: fr.eye_mid_x,
        eye_above_bottom: fr.eye_above_bottom,
    };
    r.position = Some(pos);
    r.check("position", frame::meets_rules(pos.face_width, pos.hair_top, pos.eye_mid_x, pos.eye_above_bottom));
    // The face must be big enough on the scan not to be upscaled more than 2.2× (≈ 160 dpi of
    // real detail), and the face and the hair above it must lie on the print (background
    // beyond the print is extended, a cut-off face is not).
    r.check("face_size", face_mm.w * ctx.px_per_mm * 2.2 >= 179.0 && fr.face_width >= 179.0);
    let margin = 0.02 * face_mm.w;
    r.check(
        "face_inside",
        face_mm.x >= margin
            && face_mm.x + face_mm.w <= pw_mm - margin
            && face.hair_mm > 0.65
            && face_mm.y + face_mm.h <= ph_mm,
    );
    out
}

/// Steps 4–5 (background, quality): sharpness, exposure and colour of the face's inner 70 %
/// ([`quality`]), a light and uniform background ([`background`], cleaned to white when
/// `opts.clean_background`).
pub(super) fn check_quality(out: &mut image::RgbImage, r: &mut PhotoReading, opts: &PhotoOptions) {
    let (Some(fbox), Some(pos)) = (r.face, r.position) else { return };
    let region = (
        fbox.x.max(0.0) as u32 + (fbox.w * 0.15) as u32,
        fbox.y.max(0.0) as u32 + (fbox.h * 0.15) as u32,
        (fbox.x + fbox.w * 0.85).max(0.0) as u32,
        (fbox.y + fbox.h * 0.85).max(0.0) as u32,
    );
    let m = quality::measure(out, region);
    r.measures = Some([m.sharpness, m.brightness, m.chroma]);
    r.check("sharp", m.sharpness >= opts.min_sharpness);
    r.check("bright_enough", m.brightness >= opts.min_brightness);
    r.check("colour_print", m.chroma >= opts.min_chroma);
    let bg = background::check(out, pos.hair_top as u32);
    r.background = Some([bg.level, bg.chroma, bg.spread]);
    r.check("background_light", bg.light);
    r.check("background_uniform", bg.uniform);
    if opts.clean_background && bg.light && bg.uniform {
        background::clean(out, pos.hair_top as u32);
    }
}

/// Step 6 (encode): a JPEG with the card's dpi, its quality chosen to land in the size range
/// (check `file_spec`).
pub(super) fn encode_card_photo(out: &image::RgbImage, r: &mut PhotoReading, opts: &PhotoOptions) {
    match encode::encode_in_range(out, opts.dpi, opts.kb_min as usize * 1024, opts.kb_max as usize * 1024) {
        Some((data, q)) => {
            r.jpeg = Some((q, data.len()));
            r.data = Some(data);
            r.check("file_spec", true);
        }
        None => r.check("file_spec", false),
    }
}
