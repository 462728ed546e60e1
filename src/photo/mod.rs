//! The ID photo stage: which photo a form carries, and the card photo cut from a pasted print.
//!
//! The photo is printed on the social security card, which is valid nationwide without an
//! expiry date, so this stage is cautious: every photo it cannot vouch for is flagged with the
//! check it failed, and a flagged photo is written apart from the card-ready ones.
//!
//! Steps for one read page:
//! 1. **Status.** The locator (`photo::locate`) looks for a print around the template's photo box on the
//!    full-resolution scan, reading the drop-out red the print run laid there (the box
//!    outline, rules, the hint in an empty box) as paper even where a 4:2:0 JPEG has averaged
//!    its chroma away. A pasted print is told by the shadow line along its edges (on the edges
//!    the scanner lamp catches; a side with none is found from its neighbours' lines); a
//!    photo printed by the print run (the page code's `photo_printed` flag) lies within its
//!    printed rectangle and shows next to no edge line. Status is `pasted`, `printed` or
//!    `none`. Checkboxes the pasted print covers read `ambiguous` (see
//!    [`crate::fields::mark_covered`]). Whether a photo is **required** follows rules 1–2 of the
//!    notice: none under 6 years of age, none when the printed photo is confirmed to show the
//!    applicant (the `photo_is_applicant` boxes), otherwise one must be pasted.
//! 2. **Crop.** The print's four corners give a homography from the upright print to the scan,
//!    so rotation (±6°) and offset are undone in the same resampling that crops.
//! 3. **Frame** ([`frame`]): the face is detected on a half-resolution copy and the head placed
//!    on the 358 × 441 px card layout (face width 179–255 px, hair top 7–21 px from the top,
//!    eye midpoint 162–196 px from the left, eye line ≥ 207 px above the bottom).
//! 4. **Background** ([`background`]): light and uniform backgrounds are cleaned to white;
//!    others are flagged, never cleaned.
//! 5. **Quality** ([`quality`]): sharpness, exposure, colour (a grey photocopy fails).
//! 6. **Encode** ([`encode`]): JPEG with 350 dpi, quality chosen to land in the size range.
//!
//! Check names (stable; each reading lists them under `passed` or `failed`): `print_found`,
//! `face_found`, `single_face`, `face_size`, `face_inside`, `position`, `sharp`,
//! `bright_enough`, `colour_print`, `background_light`, `background_uniform`, `file_spec`,
//! `present_if_required`.

pub mod background;
pub mod encode;
pub mod frame;
pub(crate) mod locate;
pub mod quality;

use crate::domain::Date;
use crate::geometry::{Homography, Point, Rect};
use crate::template::{FieldKind, Template};
use frame::{FaceBox, OUT_H, OUT_W};
use serde::{Deserialize, Serialize};

/// Photo stage settings.
#[derive(Debug, Clone)]
pub struct PhotoOptions {
    /// Smallest file, KB (1024 bytes). Default 14: the common lower bound of the cities'
    /// ranges (14–20, 14–40 KB).
    pub kb_min: u32,
    /// Largest file, KB. Default 40: the 14–40 KB range several provinces publish.
    pub kb_max: u32,
    /// Resolution written in the JPEG header. Default 350 dpi: the card spec (358 px = 26 mm).
    pub dpi: u16,
    /// How far around the template box to look for a pasted print, mm. Default 6: parents
    /// paste prints up to ~3 mm off, and prints cut up to 39 mm tall overhang a 32 mm box by
    /// 3.5 mm.
    pub search_margin_mm: f64,
    /// Share of a print's outline that must show an edge line for it to count as a print
    /// (`print_found`). Default 0.3: a print casts its shadow line on the edges the scanner
    /// lamp catches, at least two of four, which measures 0.35 and more (all four: 0.8–1).
    pub edge_line_min: f64,
    /// On a form printed with a photo, a located print lying within the printed photo's
    /// rectangle is that printed photo when its outline shows an edge line on less than this
    /// share. Default 0.45: printed photos measured 0.26–0.34 (46 harsh scans; where dark
    /// content meets the rectangle's edge it looks like a line), a print pasted within the
    /// rectangle 0.52.
    pub printed_edge_max: f64,
    /// Variance of the half-resolution Laplacian over the face below which the photo is
    /// blurred (see [`quality::measure`]). Default 35, near the geometric middle of what was
    /// measured on harsh synthetic scans: sound prints 53–400 (lowest 53.2 of 210), prints
    /// blurred by σ = 0.4 mm 11.8–23.1.
    pub min_sharpness: f64,
    /// Mean face luminance below which the photo is too dark. Default 70 (of 255): skin in a
    /// usable photo measures 110–200.
    pub min_brightness: f64,
    /// Mean face chroma below which the print is a grey photocopy. Default 8: skin measures
    /// 25–60, a grey copy 0–3 after scanning.
    pub min_chroma: f64,
    /// The campaign's reference date for ages (rule 2: no photo under 6). Default 2026-09-01,
    /// the start of the school year the synthetic campaign uses; set it per campaign.
    pub reference_date: Date,
    /// Age (completed years) below which no photo is needed. Default 6 (rule 2 of the notice).
    pub no_photo_under: i32,
    /// Clean a light, uniform background to pure white. Default true.
    pub clean_background: bool,
}

impl Default for PhotoOptions {
    fn default() -> Self {
        PhotoOptions {
            kb_min: 14,
            kb_max: 40,
            dpi: 350,
            search_margin_mm: 6.0,
            edge_line_min: 0.3,
            printed_edge_max: 0.45,
            min_sharpness: 35.0,
            min_brightness: 70.0,
            min_chroma: 8.0,
            reference_date: Date { year: 2026, month: 9, day: 1 },
            no_photo_under: 6,
            clean_background: true,
        }
    }
}

/// What the photo box holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoStatus {
    /// The photo printed by the print run, nothing pasted over it.
    Printed,
    /// A pasted print.
    Pasted,
    /// Nothing.
    None,
}

/// A box in output pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PixelBox {
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

/// Where the head landed on the card photo, px (the spec's four measures).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// Face width (179–255).
    pub face_width: f64,
    /// Top of the hair below the top edge (7–21).
    pub hair_top: f64,
    /// Midpoint between the eyes from the left edge (162–196).
    pub eye_mid_x: f64,
    /// Eye line above the bottom edge (≥ 207).
    pub eye_above_bottom: f64,
}

/// The photo stage's reading of one page (the `photo` object of a record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoReading {
    /// Printed, pasted or none.
    pub status: PhotoStatus,
    /// Whether a pasted photo is required (rules 1–2); `None` while the age is unknown.
    pub required: Option<bool>,
    /// The "printed photo is the applicant" answer, when the form has a printed photo and one
    /// box is ticked.
    pub confirmed: Option<bool>,
    /// A pasted print's corners on the page, template mm (top-left, top-right, bottom-right,
    /// bottom-left of the upright print).
    pub quad: Option<[Point; 4]>,
    /// The card photo's corners on the page, template mm (same order).
    pub crop: Option<[Point; 4]>,
    /// The print's rotation on the page, degrees.
    pub angle_deg: Option<f64>,
    /// Faces detected on the print.
    pub faces: usize,
    /// The face on the card photo, px.
    pub face: Option<PixelBox>,
    /// The head's position on the card photo.
    pub position: Option<Position>,
    /// Background: mean level, chroma and block spread (see [`background`]).
    pub background: Option<[f64; 3]>,
    /// Face sharpness, brightness and chroma (see [`quality`]).
    pub measures: Option<[f64; 3]>,
    /// JPEG quality chosen and file size, bytes.
    pub jpeg: Option<(u8, usize)>,
    /// Checks passed (names in the module notes).
    pub passed: Vec<String>,
    /// Checks failed: the photo needs review.
    pub failed: Vec<String>,
    /// The written file, relative to the output folder.
    pub file: Option<String>,
    /// The encoded card photo (not serialised).
    #[serde(skip)]
    pub data: Option<Vec<u8>>,
}

impl PhotoReading {
    fn new(status: PhotoStatus) -> PhotoReading {
        PhotoReading {
            status,
            required: None,
            confirmed: None,
            quad: None,
            crop: None,
            angle_deg: None,
            faces: 0,
            face: None,
            position: None,
            background: None,
            measures: None,
            jpeg: None,
            passed: Vec::new(),
            failed: Vec::new(),
            file: None,
            data: None,
        }
    }

    fn check(&mut self, name: &str, ok: bool) {
        self.passed.retain(|n| n != name);
        self.failed.retain(|n| n != name);
        if ok {
            self.passed.push(name.to_string())
        } else {
            self.failed.push(name.to_string())
        }
    }

    /// True when the card photo passed every check it was put to.
    pub fn card_ready(&self) -> bool {
        self.status == PhotoStatus::Pasted && self.data.is_some() && self.failed.is_empty()
    }

    /// Decides `required` from the applicant's age (completed years at the reference date;
    /// `None` when unknown) and records the `present_if_required` check: rule 2 (under
    /// `no_photo_under`, no photo), rule 1 (a printed photo confirmed as the applicant's, no
    /// photo; otherwise a pasted one).
    pub fn apply_age(&mut self, age: Option<i32>, printed: bool, opts: &PhotoOptions) {
        self.required = match age {
            Some(a) if a < opts.no_photo_under => Some(false),
            _ if printed && self.confirmed == Some(true) => Some(false),
            Some(_) => Some(true),
            None => None,
        };
        match self.required {
            Some(true) => self.check("present_if_required", self.status == PhotoStatus::Pasted),
            Some(false) => self.check("present_if_required", true),
            None => {
                self.passed.retain(|n| n != "present_if_required");
                self.failed.retain(|n| n != "present_if_required");
            }
        }
    }
}

/// What the photo stage needs to know about the page beyond its pixels.
#[derive(Debug, Clone, Copy)]
pub struct PhotoContext {
    /// Template mm → scan px.
    pub to_scan: Homography,
    /// Scan pixels per mm.
    pub px_per_mm: f64,
    /// The page code says a photo was printed.
    pub printed: bool,
    /// The "printed photo is the applicant" answer.
    pub confirmed: Option<bool>,
    /// The field reader saw content in the photo box (or could not tell).
    pub has_content: bool,
}

/// Reads the photo box of a registered page. `None` when the template has no photo field.
pub fn read_photo(
    image: &image::DynamicImage,
    template: &Template,
    ctx: &PhotoContext,
    opts: &PhotoOptions,
) -> Option<PhotoReading> {
    let field = template.fields.iter().find(|f| f.kind == FieldKind::Photo)?;
    let bx = field.rect;
    let fallback = if ctx.printed { PhotoStatus::Printed } else { PhotoStatus::None };
    let mut r = PhotoReading::new(fallback);
    r.confirmed = if ctx.printed { ctx.confirmed } else { None };
    if !ctx.has_content {
        r.apply_age(None, ctx.printed, opts);
        return Some(r);
    }
    let area = bx.inflate(opts.search_margin_mm);
    // Other fields (ticks in the nearby checkboxes) and printed labels (是, 否) must not count.
    let labels = template.labels.iter().map(|l| {
        let w = l.text.chars().count() as f64 * l.size;
        let x = if l.center { l.x - w / 2.0 } else { l.x };
        Rect::new(x, l.y - l.size, w, 1.25 * l.size)
    });
    let excluded: Vec<Rect> = template
        .fields
        .iter()
        .filter(|f| f.name != field.name)
        .map(|f| f.rect)
        .chain(labels)
        .filter(|r| r.overlaps(&area))
        .map(|r| r.inflate(0.4))
        .collect();
    // 8 px/mm (0.125 mm pixels), half the pixels of a 300 dpi scan: the side lines fitted over
    // a few hundred sub-pixel edge points land within ~0.1 mm of the print's edge (IoU with
    // the print ≥ 0.985 on the harsh synthetic scans).
    let ppm = ctx.px_per_mm.clamp(4.0, 8.0);
    let zones = dropout_zones(template, bx, area, ctx.printed);
    let patch = locate::Patch::sample(image, &ctx.to_scan, area, ppm, &zones);
    let Some(loc) = locate::locate(&patch, &excluded, bx) else {
        r.apply_age(None, ctx.printed, opts);
        return Some(r);
    };
    if ctx.printed && locate::is_printed_photo(&loc, bx, opts.printed_edge_max) {
        r.apply_age(None, ctx.printed, opts);
        return Some(r);
    }
    r.status = PhotoStatus::Pasted;
    r.quad = Some(loc.quad);
    r.angle_deg = Some(loc.angle_deg);
    let (pw_mm, ph_mm) = (
        (loc.quad[0].dist(loc.quad[1]) + loc.quad[3].dist(loc.quad[2])) / 2.0,
        (loc.quad[0].dist(loc.quad[3]) + loc.quad[1].dist(loc.quad[2])) / 2.0,
    );
    // A print is 1-inch (25 × 35 mm) or box-sized (26 × 32 mm); much else is not a print.
    let plausible = (18.0..=40.0).contains(&pw_mm) && (22.0..=46.0).contains(&ph_mm);
    r.check("print_found", plausible && loc.edge_score >= opts.edge_line_min);
    let print_to_mm = Homography::fit(
        &[Point::new(0.0, 0.0), Point::new(pw_mm, 0.0), Point::new(pw_mm, ph_mm), Point::new(0.0, ph_mm)],
        &loc.quad,
    );
    let Some(print_to_mm) = print_to_mm else {
        r.apply_age(None, ctx.printed, opts);
        return Some(r);
    };
    let print_to_scan = ctx.to_scan.compose(&print_to_mm);
    let paper = patch.paper;
    let gain = paper.map(|p| (255.0 / p).clamp(1.0, 1.6));
    let sampler = locate::Sampler::new(image);
    // Detection copy at 3.5 px/mm: a 15 mm face is ~52 px, enough for the 40 px detector
    // window and small enough for the detector to stay within a few milliseconds. (At 3.2 px/mm
    // the detector's boxes come out ~6 % larger on the synthetic prints, which frames the head
    // larger and puts hair into the background strips: 10 more white backgrounds flagged.)
    let det_ppm = 3.5;
    let (dw, dh) = ((pw_mm * det_ppm) as u32, (ph_mm * det_ppm) as u32);
    let mut grey = vec![0u8; (dw * dh) as usize];
    let to_det = print_to_scan.compose(&Homography::scale_translate(1.0 / det_ppm, 0.5 / det_ppm, 0.5 / det_ppm));
    for (y, row) in grey.chunks_exact_mut(dw.max(1) as usize).enumerate() {
        sampler.row(&to_det, y as f64, 0..dw as usize, |x, p| {
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
    let Some(face) = best else {
        r.apply_age(None, ctx.printed, opts);
        return Some(r);
    };
    r.check("single_face", r.faces == 1);
    // Face and hair in print mm.
    let face_mm = FaceBox {
        x: face.x / det_ppm,
        y: face.y / det_ppm,
        w: face.w / det_ppm,
        h: face.h / det_ppm,
        score: face.score,
    };
    let hair_mm = hair_top(&grey, dw, dh, &face) / det_ppm;
    let eye_x_mm = frame::eye_mid_x(&grey, dw, dh, &face) / det_ppm;
    let fr = frame::frame(&face_mm, hair_mm, eye_x_mm);
    // Render the card photo straight from the scan (one resampling), normalising paper to white.
    // Beyond the print (and its 0.3 mm edge band, which holds the shadow line) the background
    // is extended with its own colour, read at the print's top corners, so that a head framed
    // wider than the print gets background, not a border; a non-white one is flagged below.
    let edge = 0.3;
    let bg_at = |x: f64, y: f64| {
        let p = sampler.at(print_to_scan.apply(Point::new(x, y)));
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
        print_to_scan.compose(&Homography::scale_translate(inv, fr.origin.0 + 0.5 * inv, fr.origin.1 + 0.5 * inv));
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
    let mut out = image::RgbImage::from_raw(OUT_W, OUT_H, raw).expect("buffer sized to the card photo");
    let corner = |x: f64, y: f64| print_to_mm.apply(Point::new(fr.origin.0 + x / fr.scale, fr.origin.1 + y / fr.scale));
    r.crop = Some([
        corner(0.0, 0.0),
        corner(OUT_W as f64, 0.0),
        corner(OUT_W as f64, OUT_H as f64),
        corner(0.0, OUT_H as f64),
    ]);
    let fbox = PixelBox {
        x: (face_mm.x - fr.origin.0) * fr.scale,
        y: (face_mm.y - fr.origin.1) * fr.scale,
        w: face_mm.w * fr.scale,
        h: face_mm.h * fr.scale,
    };
    r.face = Some(fbox);
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
            && hair_mm > 0.65
            && face_mm.y + face_mm.h <= ph_mm,
    );
    let region = (
        fbox.x.max(0.0) as u32 + (fbox.w * 0.15) as u32,
        fbox.y.max(0.0) as u32 + (fbox.h * 0.15) as u32,
        (fbox.x + fbox.w * 0.85).max(0.0) as u32,
        (fbox.y + fbox.h * 0.85).max(0.0) as u32,
    );
    let m = quality::measure(&out, region);
    r.measures = Some([m.sharpness, m.brightness, m.chroma]);
    r.check("sharp", m.sharpness >= opts.min_sharpness);
    r.check("bright_enough", m.brightness >= opts.min_brightness);
    r.check("colour_print", m.chroma >= opts.min_chroma);
    let bg = background::check(&out, pos.hair_top as u32);
    r.background = Some([bg.level, bg.chroma, bg.spread]);
    r.check("background_light", bg.light);
    r.check("background_uniform", bg.uniform);
    if opts.clean_background && bg.light && bg.uniform {
        background::clean(&mut out, pos.hair_top as u32);
    }
    match encode::encode_in_range(&out, opts.dpi, opts.kb_min as usize * 1024, opts.kb_max as usize * 1024) {
        Some((data, q)) => {
            r.jpeg = Some((q, data.len()));
            r.data = Some(data);
            r.check("file_spec", true);
        }
        None => r.check("file_spec", false),
    }
    r.apply_age(None, ctx.printed, opts);
    Some(r)
}

/// Half width of the zone around a drop-out stroke in which red-leaning pixels read as paper,
/// mm: half the 0.3 mm outline, the registration error (up to 0.3 mm on harsh scans) and the
/// scanner's blur and 4:2:0 chroma spread (about 0.1 mm).
const DROPOUT_ZONE_MM: f64 = 0.55;

/// The drop-out ink the print run laid in `area` around the photo box `bx`: the box outline,
/// the table rules that reach into the area, and, on a form printed without a photo, the hint
/// text in the box.
fn dropout_zones(template: &Template, bx: Rect, area: Rect, printed: bool) -> locate::DropoutZones {
    let mut z = locate::DropoutZones::default();
    z.outlines.push((bx, DROPOUT_ZONE_MM));
    for r in &template.rules {
        let (a, b) = (Point::new(r.x1, r.y1), Point::new(r.x2, r.y2));
        let bounds = Rect::new(a.x.min(b.x), a.y.min(b.y), (a.x - b.x).abs(), (a.y - b.y).abs());
        if bounds.inflate(DROPOUT_ZONE_MM).overlaps(&area) {
            z.lines.push((a, b, DROPOUT_ZONE_MM));
        }
    }
    if !printed {
        z.areas.push(crate::template::photo_hint_area(bx));
    }
    z
}

/// The first row (detection-copy px) above the face that differs from the background, scanning
/// down from above the box; the background is the median of the top rows.
fn hair_top(grey: &[u8], w: u32, h: u32, face: &FaceBox) -> f64 {
    let (w, h) = (w as usize, h as usize);
    // Rows 0–1 (0.5 mm) hold the print's edge line; the background is read just below.
    let skip = 2.min(h);
    let mut bgv: Vec<u8> = grey[skip * w..(skip + 3).min(h) * w].to_vec();
    bgv.sort_unstable();
    let bgl = bgv.get(bgv.len() / 2).copied().unwrap_or(255) as i32;
    let x0 = (face.x + face.w * 0.1).max(0.0) as usize;
    let x1 = ((face.x + face.w * 0.9) as usize).min(w);
    let y_face = (face.y.max(0.0) as usize).min(h);
    let start = ((face.y - face.h).max(0.0) as usize).max(skip);
    for y in start..y_face {
        let row = &grey[y * w + x0..y * w + x1.max(x0)];
        let diff = row.iter().filter(|&&v| (v as i32 - bgl).abs() > 24).count();
        if diff * 16 >= row.len().max(1) {
            return y as f64;
        }
    }
    (face.y - 0.1 * face.h).max(0.0)
}

/// Age in completed years at the reference date from an ID number's birth date, if valid.
pub fn age_from_id(id_number: &str, opts: &PhotoOptions) -> Option<i32> {
    crate::domain::parse_id(id_number).ok().map(|i| i.birth_date.age_on(opts.reference_date))
}
