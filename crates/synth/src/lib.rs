//! The scan simulator: synthetic rosters, filled-in forms and realistic scanner output with
//! ground truth, for tests, benchmarks and demos. The reader never uses this crate: only the
//! command-line tool, the tests and the benches do.
//!
//! Everything is deterministic for a seed: page `i` draws from its own ChaCha8 stream seeded
//! from `(seed, i)`, so pages can be generated in parallel and any one regenerated alone.
//!
//! # Example
//!
//! Print one form, "scan" it, and read it back with the engine:
//!
//! ```
//! use formscan::{record::Outcome, Engine};
//!
//! let engine = Engine::default();
//! let page = formscan_synth::simulate_one(&engine.templates()[0], &formscan_synth::sample_person(7), 7, 150.0);
//! let record = engine.process_image(&page.image);
//! assert_eq!(record.outcome, Outcome::Read);
//! assert_eq!(record.form.unwrap().serial, page.truth.serial.unwrap());
//! ```

#![deny(missing_docs)]

pub mod campaign;
pub mod eval;
pub mod eval_names;
pub mod hand;
pub mod names;
mod scanner;
pub mod scenario;

pub use hand::{DigitSet, HandSource};
pub use scanner::{Degrade, ScanFormat};
pub use scenario::{PersonTruth, RuleBreak, ScenarioTruth, Scenarios};

use formscan::domain::{make_id, Date, Sex};
use formscan::error::{Error, Result};
use formscan::geometry::{Homography, Point, Rect};
use formscan::payload::PagePayload;
use formscan::template::{Charset, FieldKind, Template};
use formscan_print::layout::{self, FormPage};
use formscan_print::render::raster::{self, Canvas};
use formscan_print::render::{JpegImage, Rgb};
use formscan_print::roster::Person;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The reference date for ages in synthetic data (start of the 2026 school year).
pub const REFERENCE_DATE: Date = Date { year: 2026, month: 9, day: 1 };

/// Simulator settings.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Scan resolution. Default 300 dpi, the archive standard for small text (DA/T 31-2017).
    pub dpi: f64,
    /// Scanner harshness.
    pub degrade: Degrade,
    /// Seed.
    pub seed: u64,
    /// Share of forms followed by a scanned blank back side. Default 0.1: duplex scanning of
    /// single-sided forms, which vendors do to avoid missing a written back.
    pub blank_backs: f64,
    /// Which MNIST digits to write. Default [`DigitSet::Pages`].
    pub digits: DigitSet,
    /// Batch-workflow scenarios (missing forms, duplicates, rescans, rule-breaking forms, a
    /// class sharing one phone). Default: none, so output is unchanged.
    pub scenario: Scenarios,
    /// Share of pasted prints that are defective: a grey photocopy, too dark, or blurred (a
    /// third each), which the photo checks must send to review. Default 0, so that output is
    /// unchanged; the choice comes from the print's own draws, so no other field changes when
    /// it is switched on.
    pub defective_prints: f64,
    /// How scans are written. Default [`ScanFormat::Jpeg420`], what scanners write.
    pub format: ScanFormat,
    /// How the printed page is made before it is filled in. Default [`PrintRender::Internal`]:
    /// fast and needs no other program; [`PrintRender::Pdftoppm`] is the real print path.
    pub render: PrintRender,
    /// Which handwriting names are written in. Default [`HandSource::WenKai`], the brush font
    /// every page has been written with, so that output is unchanged; the others measure a
    /// name reader on hands it was not tuned on.
    pub hand: HandSource,
}

/// How the simulator makes the printed page that it then fills in and scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrintRender {
    /// The simulator's own rasteriser draws the layout (fast; for unit tests and benches).
    #[default]
    Internal,
    /// The form is written as a PDF by the same writer `print` uses and rendered by poppler's
    /// `pdftoppm` (which must be on the PATH), as a printer would print it: the writing,
    /// pasting and scanning then happen on top of that page, as on paper.
    Pdftoppm,
}

impl std::str::FromStr for PrintRender {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "internal" => Ok(PrintRender::Internal),
            "pdftoppm" | "pdf" | "poppler" => Ok(PrintRender::Pdftoppm),
            o => Err(format!("render `{o}` is not internal or pdftoppm")),
        }
    }
}

/// Renders a form's drawing as the printer would print it (see [`PrintRender`]).
fn printed_page(t: &Template, drawing: &formscan_print::render::PageDrawing, opts: &SynthOptions) -> Result<Canvas> {
    match opts.render {
        PrintRender::Internal => Ok(raster::render(drawing, t.width, t.height, opts.dpi)),
        PrintRender::Pdftoppm => render_with_pdftoppm(drawing, opts.dpi),
    }
}

/// Writes `drawing` as a one-page PDF in a private temporary folder and renders it with
/// `pdftoppm -png` (lossless, so that only the simulated scanner compresses).
fn render_with_pdftoppm(drawing: &formscan_print::render::PageDrawing, dpi: f64) -> Result<Canvas> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "formscan-synth-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io_at(&dir, e))?;
    let result = (|| {
        let pdf = dir.join("form.pdf");
        let f = std::fs::File::create(&pdf).map_err(|e| Error::io_at(&pdf, e))?;
        formscan_print::render::pdf::write_pdf(
            std::slice::from_ref(drawing),
            "formscan synth",
            std::io::BufWriter::new(f),
        )?;
        let status = std::process::Command::new("pdftoppm")
            .args(["-r", &format!("{dpi}"), "-png", "-singlefile"])
            .arg(&pdf)
            .arg(dir.join("form"))
            .status()
            .map_err(|e| Error::io_at(Path::new("pdftoppm"), e))?;
        if !status.success() {
            return Err(Error::input(format!("pdftoppm failed ({status}) on the simulated form")));
        }
        let png = dir.join("form.png");
        let img = image::open(&png).map_err(|e| Error::input_at(&png, e.to_string()))?.to_rgb8();
        Ok(Canvas { image: img, px_per_mm: dpi / 25.4 })
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            dpi: 300.0,
            degrade: Degrade::Mild,
            seed: 1,
            blank_backs: 0.1,
            digits: DigitSet::Pages,
            scenario: Scenarios::default(),
            defective_prints: 0.0,
            format: ScanFormat::default(),
            render: PrintRender::default(),
            hand: HandSource::default(),
        }
    }
}

/// Ground truth of one field.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FieldTruth {
    /// `checked` / `unchecked` for checkboxes, `ink` / `empty` otherwise.
    pub state: String,
    /// Comb fields: the character written in each cell ("" for empty cells).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cells: Option<Vec<String>>,
    /// Text written in a text box.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub text: Option<String>,
    /// Photo box: `printed`, `pasted` or `none`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub photo: Option<String>,
    /// Photo box: the pasted print's corners in template mm.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub quad: Option<[Point; 4]>,
    /// Photo box: what was pasted (subject, background, landmarks).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pasted: Option<PastedTruth>,
    /// Checkboxes: a pasted print reaches into the box's inner area, where its tick is
    /// measured (a reader should flag it, not read it).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub covered: bool,
    /// Checkboxes: a pasted print overlaps the box, or ends within
    /// [`formscan::fields::COVERED_DEPTH_MM`] of it, without reaching its inner area: reading the
    /// tick and flagging the box as covered are both right.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub near_print: bool,
    /// Paste area: the kind of ID-card photocopy pasted (`normal`, `light` or `dark`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub copy: Option<String>,
}

/// The truth of a pasted print beyond its corners.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PastedTruth {
    /// Bundled subject name.
    pub subject: String,
    /// Background: `white`, `blue` or `grey` (only white is compliant).
    pub background: String,
    /// Print size, mm (26 × 32 box-sized or 25 × 35 one-inch, times the scale drawn).
    pub size_mm: (f64, f64),
    /// The eye centres (left, right in the image), template mm.
    pub eyes: [Point; 2],
    /// The top of the hair above the face centre, template mm.
    pub hair_top: Point,
    /// Cheek-to-cheek face width, mm.
    pub face_width_mm: f64,
    /// A defect of the print the photo checks must catch: `grey_copy`, `dark` or `blurred`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub defect: Option<String>,
    /// Which edges cast a shadow line under the scanner lamp (top, right, bottom, left).
    #[serde(default = "all_edges")]
    pub shadows: [bool; 4],
    /// How the bundled portrait was varied: `light_hair`, `grey_hair`, `glasses`, or none.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub look: Option<String>,
}

fn all_edges() -> [bool; 4] {
    [true; 4]
}

/// Measured landmarks of the bundled portraits (520 × 640 px): eye centres (located by hand on
/// the images), first hair row (first mask row above half opacity) and face width (the
/// portraits' README). Same order as [`face`].
/// A portrait's landmarks: name, eye centres (px), first hair row (px), face width / width.
type FaceMarks = (&'static str, [(f64, f64); 2], f64, f64);

const FACE_MARKS: [FaceMarks; 4] = [
    ("obama", [(202.5, 256.5), (330.0, 257.5)], 34.0, 0.57),
    ("obama2", [(147.5, 287.5), (285.0, 287.5)], 34.0, 0.645),
    ("obama3", [(212.5, 207.5), (345.0, 207.5)], 24.0, 0.58),
    ("astronaut", [(190.0, 295.0), (325.0, 295.0)], 25.0, 0.556),
];

/// Ground truth of one simulated page, written beside it as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// `form` or `blank`.
    pub kind: String,
    /// Template id.
    pub template: String,
    /// Print run.
    pub run: Option<String>,
    /// Form serial.
    pub serial: Option<String>,
    /// The person's ID number (synthetic).
    pub id_number: Option<String>,
    /// Template mm → scan px.
    pub to_scan: Option<Homography>,
    /// Fed upside down.
    pub upside_down: bool,
    /// Field truths by field name.
    pub fields: BTreeMap<String, FieldTruth>,
    /// Scenario tags of this page (only with [`SynthOptions::scenario`] active): `duplicate`
    /// (same bytes as the `a` page), `rescan` (a second scan of the same sheet), `rule:<kind>`
    /// ([`RuleBreak::as_str`]), `shared_phone`.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub scenario: Vec<String>,
    /// Audit finding codes this page must raise (only with [`SynthOptions::scenario`] active);
    /// see [`scenario::expected_findings`] for the rules.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub expected_findings: Vec<String>,
}

/// One simulated page.
pub struct SynthPage {
    /// The scan.
    pub image: image::DynamicImage,
    /// JPEG quality to save it with.
    pub quality: u8,
    /// Its truth.
    pub truth: Truth,
}

fn rng_for(seed: u64, i: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i.wrapping_mul(0xD1B5_4A32_D192_ED03))
}

fn pick<'a, R: Rng>(rng: &mut R, xs: &'a [&'a str]) -> &'a str {
    xs[rng.gen_range(0..xs.len())]
}

/// A random synthetic name: a surname and one or two given-name characters.
pub fn name<R: Rng>(rng: &mut R) -> String {
    let mut n = pick(rng, names::SURNAMES).to_string();
    for _ in 0..rng.gen_range(1..=2) {
        n.push_str(pick(rng, names::GIVEN));
    }
    n
}

/// The surname `full` starts with (a two-character one from the list first).
fn surname(full: &str) -> &str {
    names::SURNAMES
        .iter()
        .filter(|s| s.chars().count() == 2)
        .find(|s| full.starts_with(**s))
        .map_or_else(|| full.char_indices().nth(1).map_or(full, |(i, _)| &full[..i]), |s| &full[..s.len()])
}

/// `drawn` with its surname replaced by `surname`.
fn with_surname(drawn: &str, surname_: &str) -> String {
    format!("{surname_}{}", &drawn[surname(drawn).len()..])
}

/// `printed` with one given-name character replaced by one of `drawn`'s (position and
/// character chosen from `drawn`, so no further random draws); `drawn` itself when that
/// leaves the name as it was.
fn one_change(printed: &str, drawn: &str) -> String {
    let s = surname(printed).chars().count();
    let mut chars: Vec<char> = printed.chars().collect();
    let given = chars.len().saturating_sub(s);
    let repl: Vec<char> = drawn.chars().skip(surname(drawn).chars().count()).collect();
    if given == 0 || repl.is_empty() {
        return drawn.to_string();
    }
    let at = s + drawn.chars().count() % given;
    let new = repl.iter().copied().find(|&c| c != chars[at]);
    match new {
        Some(c) => {
            chars[at] = c;
            chars.into_iter().collect()
        }
        None => drawn.to_string(),
    }
}

/// Guilin district codes (秀峰, 叠彩, 象山, 七星, 雁山, 临桂): invented people, real regions.
const REGIONS: &[&str] = &["450302", "450303", "450304", "450305", "450311", "450312"];

fn id_for<R: Rng>(rng: &mut R, birth: Date, sex: Sex) -> String {
    let mut seq = rng.gen_range(1..500u16) * 2;
    if sex == Sex::Male {
        seq -= 1;
    }
    make_id(pick(rng, REGIONS), birth, seq)
}

fn mobile<R: Rng>(rng: &mut R) -> String {
    let p =
        pick(rng, &["138", "139", "150", "151", "152", "158", "159", "177", "181", "186", "188", "199", "135", "136"]);
    let mut s = p.to_string();
    for _ in 0..8 {
        s.push(char::from(b'0' + rng.gen_range(0..10u8)));
    }
    s
}

/// A synthetic person (for examples and tests).
pub fn sample_person(seed: u64) -> Person {
    roster(1, seed).pop().expect("one person")
}

/// A synthetic roster of `n` students in classes of ~40, ordered by school and class.
pub fn roster(n: usize, seed: u64) -> Vec<Person> {
    let mut rng = rng_for(seed, u64::MAX);
    let mut out = Vec::with_capacity(n);
    let per_class = 40;
    for i in 0..n {
        let class_no = i / per_class;
        let school = names::SCHOOLS[(class_no / 6) % names::SCHOOLS.len()];
        let grade_i = (class_no / 2) % names::GRADES.len();
        let grade = names::GRADES[grade_i];
        // Age from grade: 小班 is 3–4, 一年级 6–7, 高三 17–18.
        let age = 3 + grade_i as u16;
        let birth =
            Date { year: REFERENCE_DATE.year - age - 1, month: rng.gen_range(1..=12), day: rng.gen_range(1..=28) };
        let sex = if rng.gen_bool(0.5) { Sex::Male } else { Sex::Female };
        let total: u32 = names::ETHNICITIES.iter().map(|e| e.1).sum();
        let mut k = rng.gen_range(0..total);
        let mut eth = names::ETHNICITIES[0].0;
        for (e, w) in names::ETHNICITIES {
            if k < *w {
                eth = e;
                break;
            }
            k -= w;
        }
        out.push(Person {
            name: name(&mut rng),
            sex: Some(sex),
            ethnicity: eth.to_string(),
            birth_date: Some(birth),
            id_number: id_for(&mut rng, birth, sex),
            school: school.to_string(),
            grade: grade.to_string(),
            class: format!("{}班", class_no % 2 + 1),
            photo: None,
        });
    }
    out
}

pub use formscan_print::faces::{face, face_photo, FACE_COUNT};

fn age(p: &Person) -> i32 {
    p.birth_date
        .map(|b| {
            let mut a = REFERENCE_DATE.year as i32 - b.year as i32;
            if (REFERENCE_DATE.month, REFERENCE_DATE.day) < (b.month, b.day) {
                a -= 1;
            }
            a
        })
        .unwrap_or(10)
}

/// Pastes a print of a bundled portrait near the box, as parents paste them: box-sized (26 mm
/// wide, scale 0.93–1.08), one time in four a 1-inch print (25 × 35 mm, the portrait with
/// extra background above), and one time in five of the rest a print cut larger (26–28 ×
/// 35–39 mm), offset up to ±3 mm and tilted up to ±4°, so that some prints overlap the box's
/// border; one in twelve slips down over the 是/否 boxes below it. An edge casts a thin shadow line under the
/// scanner lamp (paper thickness), but only on the edges the lamp catches: each edge with
/// probability 0.75, at least two. One portrait in four is varied: light (blond) or grey hair,
/// or glasses.
fn paste_photo<R: Rng>(
    c: &mut Canvas,
    rng: &mut R,
    bx: Rect,
    who: usize,
    bg: &str,
    defective: f64,
) -> ([Point; 4], PastedTruth) {
    let mut img = image::load_from_memory(face(who, bg)).expect("bundled face decodes").to_rgb8();
    // The draws are those of the first simulator (scale, offset, angle, in that order), so that
    // pages made before 1-inch prints existed keep every other field; the print kind and any
    // defect come from the scale draw's low digits, and the parents' variations from a stream
    // of their own seeded by it.
    let draw: f64 = rng.gen_range(0.93..1.08);
    let mut var = ChaCha8Rng::seed_from_u64(draw.to_bits() ^ 0x5041_5354_4544);
    let one_inch = (((draw - 0.93) * 1e7) as u64).is_multiple_of(4);
    let large = !one_inch && var.gen_bool(0.2);
    let low = ((draw - 0.93) * 1e11) as u64 % 3000;
    let (name, eyes, hair, fw) = FACE_MARKS[who % FACE_MARKS.len()];
    let look = if var.gen_bool(0.25) {
        let l = ["light_hair", "grey_hair", "glasses"][var.gen_range(0..3)];
        vary_portrait(&mut img, l, eyes, hair);
        Some(l.to_string())
    } else {
        None
    };
    let defect = (defective > 0.0 && (low as f64) < defective * 3000.0).then(|| spoil_print(&mut img, low % 3));
    let (w, h) = if one_inch {
        let s = 0.97 + (draw - 0.93) / 0.15 * 0.06;
        (25.0 * s, 35.0 * s)
    } else if large {
        (var.gen_range(26.0..28.0), var.gen_range(35.0..39.0))
    } else {
        (bx.w * draw, bx.w * draw * img.height() as f64 / img.width() as f64)
    };
    // Rows of background added above the portrait for a taller print's shape.
    let pad = (img.width() as f64 * h / w - img.height() as f64).round().max(0.0);
    let (iw, ih) = (img.width() as f64, img.height() as f64 + pad);
    let extra = (var.gen_range(-1.0..1.0), var.gen_range(-1.0..1.0));
    let mut centre = Point::new(
        bx.center().x + rng.gen_range(-2.0..2.0) + extra.0,
        bx.center().y + rng.gen_range(-2.0..2.0) + extra.1,
    );
    // One print in twelve slips down over the row of boxes 3.5 mm below the photo box (the
    // 是/否 answer), covering their tops by 0.5–2.5 mm.
    if var.gen_bool(1.0 / 12.0) {
        centre.y = bx.bottom() + 3.5 + var.gen_range(0.5..2.5) - h / 2.0;
    }
    let a = rng.gen_range(-4.0f64..4.0).to_radians();
    let mut shadows = [0; 4].map(|_| var.gen_bool(0.75));
    while shadows.iter().filter(|&&s| s).count() < 2 {
        shadows[var.gen_range(0..4)] = true;
    }
    let place = Homography::scale_translate(1.0, centre.x, centre.y)
        .compose(&Homography::rotation(a))
        .compose(&Homography::scale_translate(1.0, -w / 2.0, -h / 2.0));
    let quad = [Point::new(0.0, 0.0), Point::new(w, 0.0), Point::new(w, h), Point::new(0.0, h)].map(|p| place.apply(p));
    let inv = place.inverse().expect("rigid transform inverts");
    let s = c.px_per_mm;
    let (minx, maxx) = quad.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.x), b.max(p.x)));
    let (miny, maxy) = quad.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.y), b.max(p.y)));
    let pad_colour = *img.get_pixel(img.width() / 2, 0);
    for py in (miny * s) as i64..=(maxy * s) as i64 {
        for px in (minx * s) as i64..=(maxx * s) as i64 {
            let q = inv.apply(Point::new((px as f64 + 0.5) / s, (py as f64 + 0.5) / s));
            if q.x < 0.0 || q.y < 0.0 || q.x >= w || q.y >= h {
                continue;
            }
            let (u, v) = ((q.x / w * iw) as u32, (q.y / h * ih - pad).max(-1.0));
            let p = if v < 0.0 {
                pad_colour
            } else {
                *img.get_pixel(u.min(img.width() - 1), (v as u32).min(img.height() - 1))
            };
            // Distance to each edge: top, right, bottom, left.
            let edge = [q.y, w - q.x, h - q.y, q.x].iter().zip(shadows).any(|(&d, on)| on && d < 0.12);
            let col = Rgb(p.0[0], p.0[1], p.0[2]);
            c.blend(px, py, col, 1.0);
            if edge {
                c.blend(px, py, Rgb(90, 90, 90), 0.55);
            }
        }
    }
    let to_mm = |x: f64, y: f64| place.apply(Point::new(x / iw * w, (y + pad) / ih * h));
    let truth = PastedTruth {
        subject: name.into(),
        background: bg.into(),
        size_mm: (w, h),
        eyes: [to_mm(eyes[0].0, eyes[0].1), to_mm(eyes[1].0, eyes[1].1)],
        hair_top: to_mm((eyes[0].0 + eyes[1].0) / 2.0, hair),
        face_width_mm: fw * w,
        defect,
        shadows,
        look,
    };
    (quad, truth)
}

/// Varies a bundled portrait (520 × 640 px, eyes at `eyes`, hair from row `hair_top`): hair
/// recoloured light (blond) or grey, keeping its shading, or glasses drawn over the eyes.
fn vary_portrait(img: &mut image::RgbImage, look: &str, eyes: [(f64, f64); 2], hair_top: f64) {
    let eye_y = (eyes[0].1 + eyes[1].1) / 2.0;
    let eye_gap = eyes[1].0 - eyes[0].0;
    match look {
        "glasses" => {
            let (rx, ry, t) = (eye_gap * 0.36, eye_gap * 0.26, eye_gap * 0.045);
            for (x, y, p) in img.enumerate_pixels_mut() {
                let (x, y) = (x as f64, y as f64);
                let ring = |cx: f64| {
                    let d = (((x - cx) / rx).powi(2) + ((y - eye_y) / ry).powi(2)).sqrt();
                    (d - 1.0).abs() * rx.min(ry) < t
                };
                let bridge = (y - (eye_y - ry * 0.3)).abs() < t && x > eyes[0].0 + rx && x < eyes[1].0 - rx;
                if ring(eyes[0].0) || ring(eyes[1].0) || bridge {
                    p.0 = [35, 30, 30];
                }
            }
        }
        _ => {
            // Hair: dark pixels above the eyebrows (and beside the face down to the eyes).
            let tint: [f64; 3] = if look == "grey_hair" { [205.0, 205.0, 200.0] } else { [222.0, 190.0, 120.0] };
            let brow = eye_y - eye_gap * 0.35;
            let (fx0, fx1) = (eyes[0].0 - eye_gap * 0.55, eyes[1].0 + eye_gap * 0.55);
            for (x, y, p) in img.enumerate_pixels_mut() {
                let (xf, yf) = (x as f64, y as f64);
                let above = yf >= hair_top - 4.0 && (yf < brow || (yf < eye_y && (xf < fx0 || xf > fx1)));
                let l = 0.299 * p.0[0] as f64 + 0.587 * p.0[1] as f64 + 0.114 * p.0[2] as f64;
                if above && l < 90.0 {
                    let k = 0.55 + 0.45 * l / 90.0;
                    p.0 = tint.map(|c| (c * k).round() as u8);
                }
            }
        }
    }
}

/// Spoils a portrait the way returned forms do: a grey photocopy (no colour, flattened
/// contrast), a dark print (under-exposed, a third of the light), or a blurred one (Gaussian,
/// σ = 0.4 mm on a 26 mm print: out of focus or a copy of a copy). Returns the defect's name.
fn spoil_print(img: &mut image::RgbImage, kind: u64) -> String {
    match kind {
        0 => {
            for p in img.pixels_mut() {
                let l = 0.299 * p.0[0] as f64 + 0.587 * p.0[1] as f64 + 0.114 * p.0[2] as f64;
                p.0 = [(40.0 + 0.8 * l).round() as u8; 3];
            }
            "grey_copy".into()
        }
        1 => {
            for p in img.pixels_mut() {
                p.0 = p.0.map(|v| (v as f64 * 0.33).round() as u8);
            }
            "dark".into()
        }
        _ => {
            let sigma = 0.4 * img.width() as f32 / 26.0;
            *img = image::imageops::blur(img, sigma);
            "blurred".into()
        }
    }
}

/// Pastes a photocopy of an ID card: a card, darker text lines, a photo block. Copiers make
/// them `normal` (a mid-grey card), `light` (a toner-saving or faded copy: a flat grey near
/// 205 with faint text, which differs from paper by little more than its tone) or `dark`.
/// The kind comes from a stream seeded by the card's drawn position, so the page's other draws
/// are those of a simulator without kinds. Returns the kind.
fn paste_id_copy<R: Rng>(c: &mut Canvas, rng: &mut R, area: Rect) -> String {
    let (w, h) = (85.6, 54.0);
    let x = area.x + rng.gen_range(3.0..(area.w - w - 3.0));
    let y = area.y + rng.gen_range(3.0..(area.h - h - 3.0).max(3.5));
    let mut var = ChaCha8Rng::seed_from_u64(x.to_bits() ^ y.to_bits().rotate_left(17));
    let kind = ["normal", "normal", "light", "light", "dark"][var.gen_range(0..5)];
    let grey = |v: u8| Rgb(v, v, v);
    let (card, photo, text) = match kind {
        "light" => (var.gen_range(198..=212), var.gen_range(170..=190), var.gen_range(150..=185)),
        "dark" => (var.gen_range(110..=150), var.gen_range(60..=90), var.gen_range(20..=45)),
        _ => (214, 120, 60),
    };
    let card_rect = Rect::new(x, y, w, h);
    c.fill_rect(card_rect, grey(card));
    c.fill_rect(Rect::new(x + 58.0, y + 8.0, 22.0, 28.0), grey(photo));
    for k in 0..5 {
        let lw = rng.gen_range(20.0..48.0);
        c.line(
            Point::new(x + 6.0, y + 9.0 + 8.0 * k as f64),
            Point::new(x + 6.0 + lw, y + 9.0 + 8.0 * k as f64),
            grey(text),
            1.2,
        );
    }
    kind.to_string()
}

/// Fills in one form for `person` with random but plausible content, returning the clean
/// (unscanned) page at `dpi` and the field truths.
fn fill_form<R: Rng>(
    t: &Template,
    person: &Person,
    payload: &PagePayload,
    photo: Option<JpegImage>,
    opts: &SynthOptions,
    sc: &scenario::Overrides,
    rng: &mut R,
) -> Result<(Canvas, BTreeMap<String, FieldTruth>)> {
    let printed_photo = photo.is_some();
    let drawing = layout::form_page(t, &FormPage { person, payload: payload.clone(), photo });
    let mut c = printed_page(t, &drawing, opts)?;
    let mut truth = BTreeMap::new();
    let plain = |s: &str| FieldTruth {
        state: s.into(),
        cells: None,
        text: None,
        photo: None,
        quad: None,
        pasted: None,
        ..Default::default()
    };
    let minor = age(person) < 16;
    // Scenario overrides replace a draw after it is made, so the rest of the page stays as
    // the default page would be.
    let agent = if minor { rng.gen_bool(0.9) } else { rng.gen_bool(0.2) };
    let agent = sc.agent.unwrap_or(agent);
    let fix_name = rng.gen_bool(0.08);
    let fix_name = sc.fix_name.unwrap_or(fix_name);
    let fix_id = rng.gen_bool(0.08);
    let mut photo_answer: Option<bool> = if printed_photo {
        match rng.gen_range(0..20) {
            0 => None,
            1..=3 => Some(false),
            _ => Some(true),
        }
    } else {
        None
    };
    if sc.no_photo && printed_photo {
        photo_answer = Some(false);
    }
    let relation = rng.gen_range(0..5usize);
    let double_tick = rng.gen_bool(0.02);
    // The pasted print's corners, once pasted: boxes it covers are marked in their truth.
    let mut pasted_quad: Option<[Point; 4]> = None;
    for f in &t.fields {
        let ft = match &f.kind {
            FieldKind::Barcode | FieldKind::Printed { .. } => continue,
            FieldKind::Checkbox { group, value } => {
                let on = match group.as_str() {
                    "photo_is_applicant" => photo_answer.map(|a| a == (value == "yes")).unwrap_or(false),
                    "agent_relation" => {
                        let idx = ["father", "mother", "paternal_grandparent", "maternal_grandparent", "other"]
                            .iter()
                            .position(|v| v == value)
                            .unwrap_or(9);
                        agent && (idx == relation || (double_tick && idx == (relation + 1) % 5))
                    }
                    _ => rng.gen_bool(0.3),
                };
                if on {
                    hand::draw_tick(&mut c, rng, f.rect);
                }
                // Covered: the print reaches into the inner area where the tick is measured
                // (the reader's margin in from the box edge). A reader flags a box earlier, from
                // COVERED_DEPTH_MM in, and its located edge is a few tenths off: between the
                // two, and up to that much short of the box, either reading is right.
                let inner = f.rect.inflate(-formscan::fields::FieldOptions::default().margin_mm);
                let covered = pasted_quad.is_some_and(|q| inner.overlaps_quad(&q));
                let near =
                    pasted_quad.is_some_and(|q| f.rect.inflate(formscan::fields::COVERED_DEPTH_MM).overlaps_quad(&q));
                FieldTruth { covered, near_print: near && !covered, ..plain(if on { "checked" } else { "unchecked" }) }
            }
            FieldKind::Comb { cells, charset } => {
                let forced = match f.name.as_str() {
                    "applicant_phone" => sc.phone.clone(),
                    "applicant_id_fix" if sc.invalid_fix_id => {
                        let b = person.birth_date.unwrap_or(Date { year: 2015, month: 1, day: 1 });
                        Some(scenario::corrupt_check(&id_for(rng, b, person.sex.unwrap_or(Sex::Female))))
                    }
                    _ => None,
                };
                let value: Option<String> = match f.name.as_str() {
                    _ if forced.is_some() => forced.clone(),
                    "applicant_phone" => rng.gen_bool(0.85).then(|| mobile(rng)),
                    "agent_phone" => (agent && rng.gen_bool(0.95)).then(|| mobile(rng)),
                    "agent_id" => (agent && rng.gen_bool(0.93)).then(|| {
                        let b = Date {
                            year: rng.gen_range(1970..1995),
                            month: rng.gen_range(1..=12),
                            day: rng.gen_range(1..=28),
                        };
                        let sex = if rng.gen_bool(0.5) { Sex::Male } else { Sex::Female };
                        id_for(rng, b, sex)
                    }),
                    "applicant_id_fix" => fix_id.then(|| {
                        let b = person.birth_date.unwrap_or(Date { year: 2015, month: 1, day: 1 });
                        id_for(rng, b, person.sex.unwrap_or(Sex::Female))
                    }),
                    _ => rng
                        .gen_bool(0.5)
                        .then(|| (0..*cells).map(|_| char::from(b'0' + rng.gen_range(0..10u8))).collect()),
                };
                // A few writers stop early: the comb is partly filled.
                let value = value.map(|v| {
                    if forced.is_none() && rng.gen_bool(0.03) {
                        v.chars().take(rng.gen_range(3..*cells as usize)).collect()
                    } else {
                        v
                    }
                });
                let mut cell_truth = vec![String::new(); *cells as usize];
                if let Some(v) = &value {
                    for (i, ch) in v.chars().enumerate().take(*cells as usize) {
                        let cell = f.cell(i as u32);
                        if ch == 'X' && *charset == Charset::IdNumber {
                            hand::draw_x(&mut c, rng, cell);
                        } else if let Some(d) = ch.to_digit(10) {
                            let g = hand::pick_digit(rng, opts.digits, d as u8);
                            hand::draw_digit(&mut c, rng, cell, g);
                        }
                        cell_truth[i] = ch.to_string();
                    }
                }
                FieldTruth {
                    state: if value.is_some() { "ink" } else { "empty" }.into(),
                    cells: Some(cell_truth),
                    text: None,
                    photo: None,
                    quad: None,
                    pasted: None,
                    ..Default::default()
                }
            }
            FieldKind::Text => {
                // A father or paternal grandparent has the child's surname; a correction
                // changes one character of the printed name (the draws stay those of a random
                // name, so the rest of the page is what it was before names were read).
                let text = match f.name.as_str() {
                    "agent_name" => (agent && rng.gen_bool(0.97)).then(|| {
                        let n = name(rng);
                        if relation == 0 || relation == 2 {
                            with_surname(&n, surname(&person.name))
                        } else {
                            n
                        }
                    }),
                    "applicant_name_fix" => fix_name.then(|| one_change(&person.name, &name(rng))),
                    _ => rng.gen_bool(0.5).then(|| name(rng)),
                };
                if let Some(s) = &text {
                    hand::draw_text_with(&mut c, rng, f.rect, s, opts.hand);
                }
                FieldTruth {
                    state: if text.is_some() { "ink" } else { "empty" }.into(),
                    cells: None,
                    text,
                    photo: None,
                    quad: None,
                    pasted: None,
                    ..Default::default()
                }
            }
            FieldKind::Signature => {
                let on = match f.name.as_str() {
                    "agent_signature" => {
                        let on = agent && rng.gen_bool(0.92);
                        sc.agent_signature.map_or(on, |s| agent && s)
                    }
                    _ => rng.gen_bool(if minor { 0.5 } else { 0.9 }),
                };
                if on {
                    hand::draw_signature(&mut c, rng, f.rect);
                }
                plain(if on { "ink" } else { "empty" })
            }
            FieldKind::Photo => {
                let need = !printed_photo || photo_answer == Some(false);
                if printed_photo && !need {
                    FieldTruth {
                        state: "ink".into(),
                        cells: None,
                        text: None,
                        photo: Some("printed".into()),
                        quad: None,
                        pasted: None,
                        ..Default::default()
                    }
                } else if !sc.no_photo && rng.gen_bool(if need { 0.8 } else { 0.05 }) {
                    let bg = match rng.gen_range(0..10) {
                        0 => "blue",
                        1 => "grey",
                        _ => "white",
                    };
                    let who = rng.gen_range(0..FACE_COUNT);
                    let (quad, pasted) = paste_photo(&mut c, rng, f.rect, who, bg, opts.defective_prints);
                    pasted_quad = Some(quad);
                    FieldTruth {
                        state: "ink".into(),
                        cells: None,
                        text: None,
                        photo: Some("pasted".into()),
                        quad: Some(quad),
                        pasted: Some(pasted),
                        ..Default::default()
                    }
                } else if printed_photo {
                    FieldTruth {
                        state: "ink".into(),
                        cells: None,
                        text: None,
                        photo: Some("printed".into()),
                        quad: None,
                        pasted: None,
                        ..Default::default()
                    }
                } else {
                    FieldTruth {
                        state: "empty".into(),
                        cells: None,
                        text: None,
                        photo: Some("none".into()),
                        quad: None,
                        pasted: None,
                        ..Default::default()
                    }
                }
            }
            FieldKind::Paste => {
                let on = if fix_name || fix_id { rng.gen_bool(0.9) } else { rng.gen_bool(0.03) };
                let on = sc.paste.unwrap_or(on);
                let copy = on.then(|| paste_id_copy(&mut c, rng, f.rect));
                FieldTruth { copy, ..plain(if on { "ink" } else { "empty" }) }
            }
        };
        truth.insert(f.name.clone(), ft);
    }
    Ok((c, truth))
}

/// Simulates the scan of one filled-in form for `person` (serial from the seed) with mild
/// scanner effects. For examples and tests; batches use [`run`].
pub fn simulate_one(t: &Template, person: &Person, seed: u64, dpi: f64) -> SynthPage {
    let payload = PagePayload {
        template: t.id.clone(),
        version: t.version,
        run: "RDEMO".into(),
        serial: format!("{:06}", seed % 1_000_000),
        page: 1,
        photo_printed: false,
    };
    let opts = SynthOptions { dpi, degrade: Degrade::Mild, seed, blank_backs: 0.0, ..Default::default() };
    simulate_form(t, person, &payload, None, &opts, &mut rng_for(seed, 0)).expect("the internal renderer cannot fail")
}

/// Simulates one form page with the given print data. Fails only when the print cannot be
/// rendered ([`PrintRender::Pdftoppm`] without a working `pdftoppm`).
pub fn simulate_form<R: Rng>(
    t: &Template,
    person: &Person,
    payload: &PagePayload,
    photo: Option<JpegImage>,
    opts: &SynthOptions,
    rng: &mut R,
) -> Result<SynthPage> {
    let (clean, fields) = fill_form(t, person, payload, photo, opts, &scenario::Overrides::default(), rng)?;
    Ok(scan_filled(t, person, payload, clean, fields, opts, rng))
}

/// Scans a filled-in page and attaches its truth.
fn scan_filled<R: Rng>(
    t: &Template,
    person: &Person,
    payload: &PagePayload,
    clean: Canvas,
    fields: BTreeMap<String, FieldTruth>,
    opts: &SynthOptions,
    rng: &mut R,
) -> SynthPage {
    let px_per_mm = clean.px_per_mm;
    let (scanned, fx) = scan_page(clean, opts, rng);
    let to_scan = fx.feed.compose(&Homography::scale_translate(px_per_mm, 0.0, 0.0));
    SynthPage {
        image: image::DynamicImage::ImageRgb8(scanned),
        quality: fx.quality,
        truth: Truth {
            kind: "form".into(),
            template: t.id.clone(),
            run: Some(payload.run.clone()),
            serial: Some(payload.serial.clone()),
            id_number: Some(person.id_number.clone()),
            to_scan: Some(to_scan),
            upside_down: fx.upside_down,
            fields,
            scenario: Vec::new(),
            expected_findings: Vec::new(),
        },
    }
}

/// Passes a clean page through the simulated scanner; returns the scan and its effects.
fn scan_page<R: Rng>(clean: Canvas, opts: &SynthOptions, rng: &mut R) -> (image::RgbImage, scanner::ScanEffects) {
    let (w, h) = clean.image.dimensions();
    let fx = scanner::effects(rng, opts.degrade, w as f64, h as f64, clean.px_per_mm);
    let scanned = if opts.degrade == Degrade::None { clean.image } else { scanner::scan(&clean.image, &fx, rng) };
    (scanned, fx)
}

/// Simulates the blank back of a sheet: paper, noise, faint specks.
pub fn simulate_blank<R: Rng>(t: &Template, opts: &SynthOptions, rng: &mut R) -> SynthPage {
    let mut c = Canvas::new(t.width, t.height, opts.dpi);
    for _ in 0..rng.gen_range(0..6) {
        let p = Point::new(rng.gen_range(10.0..200.0), rng.gen_range(10.0..287.0));
        c.line(p, Point::new(p.x + rng.gen_range(-0.5..0.5), p.y + rng.gen_range(-0.5..0.5)), Rgb(170, 170, 170), 0.2);
    }
    let (scanned, fx) = scan_page(c, opts, rng);
    SynthPage {
        image: image::DynamicImage::ImageRgb8(scanned),
        quality: fx.quality,
        truth: Truth {
            kind: "blank".into(),
            template: t.id.clone(),
            run: None,
            serial: None,
            id_number: None,
            to_scan: None,
            upside_down: false,
            fields: BTreeMap::new(),
            scenario: Vec::new(),
            expected_findings: Vec::new(),
        },
    }
}

/// What [`run`] wrote.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SynthSummary {
    /// Form pages.
    pub forms: usize,
    /// Blank back sides.
    pub blanks: usize,
    /// Forms left unscanned ([`Scenarios::missing`]).
    pub missing: usize,
    /// Duplicate files ([`Scenarios::duplicates`]).
    pub duplicates: usize,
    /// Second scans of a form ([`Scenarios::rescans`]).
    pub rescans: usize,
}

/// Simulates scans of every person's form into `out` as `page-NNNNN.jpg` plus
/// `page-NNNNN.json` ground truth. `serials[i]` is person i's form serial in print run `run`;
/// `photos[i]` the photo printed on their form, if any. With [`SynthOptions::scenario`] active
/// see [`scenario::run`] for the extra files.
pub fn run(
    t: &Template,
    persons: &[Person],
    serials: &[String],
    photos: &[Option<JpegImage>],
    run: &str,
    opts: &SynthOptions,
    out: &Path,
) -> Result<SynthSummary> {
    use rayon::prelude::*;
    if opts.scenario.is_active() {
        return scenario::run(t, persons, serials, photos, run, opts, out);
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io_at(out, e))?;
    let results: Vec<Result<(usize, usize)>> = persons
        .par_iter()
        .enumerate()
        .map(|(i, p)| {
            let mut rng = rng_for(opts.seed, i as u64);
            let payload = PagePayload {
                template: t.id.clone(),
                version: t.version,
                run: run.to_string(),
                serial: serials[i].clone(),
                page: 1,
                photo_printed: photos[i].is_some(),
            };
            let page = simulate_form(t, p, &payload, photos[i].clone(), opts, &mut rng)?;
            write_page(out, &format!("page-{:05}a", i), &page, opts.format)?;
            if opts.blank_backs > 0.0 && rng.gen_bool(opts.blank_backs.min(1.0)) {
                let b = simulate_blank(t, opts, &mut rng);
                write_page(out, &format!("page-{:05}b", i), &b, opts.format)?;
                return Ok((1, 1));
            }
            Ok((1, 0))
        })
        .collect();
    let mut s = SynthSummary::default();
    for r in results {
        let (f, b) = r?;
        s.forms += f;
        s.blanks += b;
    }
    Ok(s)
}

/// Writes a page as `<stem>.<ext>` with its truth as `<stem>.json`; returns the scan's file name.
fn write_page(dir: &Path, stem: &str, page: &SynthPage, format: ScanFormat) -> Result<String> {
    let name = format!("{stem}.{}", format.extension());
    let path = dir.join(&name);
    let data = match &page.image {
        image::DynamicImage::ImageRgb8(img) => scanner::encode(img, format, page.quality),
        other => scanner::encode(&other.to_rgb8(), format, page.quality),
    };
    std::fs::write(&path, data).map_err(|e| Error::io_at(&path, e))?;
    let js = dir.join(format!("{stem}.json"));
    let text = serde_json::to_string_pretty(&page.truth).map_err(|e| Error::input(e.to_string()))?;
    std::fs::write(&js, text).map_err(|e| Error::io_at(&js, e))?;
    Ok(name)
}
