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
mod card;
pub mod encode;
pub mod frame;
pub(crate) mod locate;
pub mod quality;

use crate::domain::Date;
use crate::geometry::{Homography, Point, Rect};
use crate::template::{FieldKind, Template};
use frame::FaceBox;
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

    /// Decides `required` by the notice's rules 1–2 ([`crate::domain::photo_required`]) from the
    /// applicant's age (completed years at the reference date; `None` when unknown) and
    /// whether the page code says a photo was printed, and records the `present_if_required`
    /// check.
    pub fn apply_age(&mut self, age: Option<i32>, printed: bool) {
        self.required = crate::domain::photo_required(age, printed && self.confirmed == Some(true));
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
    /// The applicant's age in completed years on the campaign's reference date, when known
    /// (rule 2; see [`crate::domain::applicant_age`]).
    pub age: Option<i32>,
}

/// Reads the photo box of a registered page. `None` when the template has no photo field.
///
/// The steps of the module notes, each a private function: `find_pasted_print` (status),
/// `card::crop` (the print's geometry), `card::detect_face` and `card::render` (frame and
/// resample), `card::check_quality`, `card::encode_card_photo`. A step that cannot go on (no
/// print, no face) ends the reading with the checks recorded so far; the photo requirement is
/// decided last, in every case, from `ctx.age`.
pub fn read_photo(
    image: &image::DynamicImage,
    template: &Template,
    ctx: &PhotoContext,
    opts: &PhotoOptions,
) -> Option<PhotoReading> {
    read_photo_in(&crate::sample::Sampler::new(image), template, ctx, opts)
}

/// The template mm around the photo box that [`read_photo`] may read: the search area and
/// 8 mm beyond it, where a located print tilted by up to ~6.75° can reach (its corners lie up
/// to ~5 mm past the search area) and the framing reads the whole print.
pub(crate) fn photo_area(template: &Template, opts: &PhotoOptions) -> Option<Rect> {
    let field = template.fields.iter().find(|f| f.kind == FieldKind::Photo)?;
    Some(field.rect.inflate(opts.search_margin_mm + 8.0))
}

/// [`read_photo`] over a sampler (a scan's pixels).
pub(crate) fn read_photo_in(
    image: &crate::sample::Sampler<'_>,
    template: &Template,
    ctx: &PhotoContext,
    opts: &PhotoOptions,
) -> Option<PhotoReading> {
    let field = template.fields.iter().find(|f| f.kind == FieldKind::Photo)?;
    let fallback = if ctx.printed { PhotoStatus::Printed } else { PhotoStatus::None };
    let mut r = PhotoReading::new(fallback);
    r.confirmed = if ctx.printed { ctx.confirmed } else { None };
    if ctx.has_content {
        read_pasted_print(image, template, field, ctx, opts, &mut r);
    }
    r.apply_age(ctx.age, ctx.printed);
    Some(r)
}

/// Steps 1–6 on a photo box with content: what they find goes into `r`; `None` where a step
/// ends the reading.
fn read_pasted_print(
    image: &crate::sample::Sampler<'_>,
    template: &Template,
    field: &crate::template::Field,
    ctx: &PhotoContext,
    opts: &PhotoOptions,
    r: &mut PhotoReading,
) -> Option<()> {
    let (loc, paper) = find_pasted_print(image, template, field, ctx, opts)?;
    r.status = PhotoStatus::Pasted;
    r.quad = Some(loc.quad);
    r.angle_deg = Some(loc.angle_deg);
    let (w_mm, h_mm) = card::print_size(&loc.quad);
    r.check("print_found", card::plausible_size(w_mm, h_mm) && loc.edge_score >= opts.edge_line_min);
    let print = card::crop(&loc, (w_mm, h_mm), ctx)?;
    let face = card::detect_face(image, &print, r)?;
    let mut out = card::render(image, &print, &face, paper, ctx, r);
    card::check_quality(&mut out, r, opts);
    card::encode_card_photo(&out, r, opts);
    Some(())
}

/// Step 1 (status): the print around the photo box, when one is pasted. `None` when the box
/// holds no print, or only the photo the print run printed. Returns the print's location and
/// the paper level per channel around it.
fn find_pasted_print(
    image: &crate::sample::Sampler<'_>,
    template: &Template,
    field: &crate::template::Field,
    ctx: &PhotoContext,
    opts: &PhotoOptions,
) -> Option<(locate::Located, [f32; 3])> {
    let bx = field.rect;
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
    let loc = locate::locate(&patch, &excluded, bx)?;
    if ctx.printed && locate::is_printed_photo(&loc, bx, opts.printed_edge_max) {
        return None;
    }
    Some((loc, patch.paper))
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
