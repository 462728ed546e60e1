//! The [`Engine`] facade: one method per pipeline stage, plus [`Engine::process_image`] for the
//! whole path, and [`Worker`] for batch use with reusable buffers.

use crate::audit::{self, Finding};
use crate::decode::{self, DecodeLimits, PageSource};
use crate::error::Result;
use crate::fields::{self, FieldOptions, FieldReadings, FieldScratch};
use crate::identify::{self, Identified, Unidentified};
use crate::model::{CnnEnsemble, DigitClassifier};
use crate::record::{Outcome, PageRecord, RejectReason, SourceRef, StageTimes};
use crate::register::{self, RegisterFailure, RegisterOptions, RegisterScratch, Registration};
use crate::scan::Scan;
use crate::template::Template;
use image::DynamicImage;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Engine settings; every part has a documented default.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Registration.
    pub register: RegisterOptions,
    /// Field reading.
    pub fields: FieldOptions,
    /// Limits on untrusted scan files.
    pub decode: DecodeLimits,
    /// The photo stage.
    pub photo: crate::photo::PhotoOptions,
    /// A page whose ink covers less than this fraction of its area is blank. Default 0.0015:
    /// a form's marks and codes alone cover ~1 %, a back side with bleed-through ~0.
    pub blank_max_ink: f64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            register: RegisterOptions::default(),
            fields: FieldOptions::default(),
            decode: DecodeLimits::default(),
            photo: crate::photo::PhotoOptions::default(),
            blank_max_ink: 0.0015,
        }
    }
}

/// The bundled CNN ensemble, shared (its weights are parsed once per process).
struct BundledDigits;

impl DigitClassifier for BundledDigits {
    fn classify(&self, cell: &[f32; 784]) -> [f32; 11] {
        CnnEnsemble::bundled().classify(cell)
    }
}

/// The form-reading engine. Cheap to share across threads (`&Engine` is `Sync`).
#[derive(Clone)]
pub struct Engine {
    templates: Vec<Template>,
    options: EngineOptions,
    classifier: Arc<dyn DigitClassifier>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("templates", &self.templates)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(EngineOptions::default())
    }
}

impl Engine {
    /// An engine with the built-in templates.
    pub fn new(options: EngineOptions) -> Engine {
        Engine::with_templates(vec![Template::sbk_student()], options)
    }

    /// An engine with exactly these templates (the first is tried first for registration).
    pub fn with_templates(templates: Vec<Template>, options: EngineOptions) -> Engine {
        Engine { templates, options, classifier: Arc::new(BundledDigits) }
    }

    /// Replaces the digit classifier (the bundled CNN by default): the seam for another model.
    pub fn with_classifier(mut self, classifier: Arc<dyn DigitClassifier>) -> Engine {
        self.classifier = classifier;
        self
    }

    /// The templates.
    pub fn templates(&self) -> &[Template] {
        &self.templates
    }

    /// The options.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Stage 1a: splits a scan file into pages (no pixels decoded yet).
    pub fn open(&self, path: &Path) -> Result<Vec<PageSource>> {
        decode::open_file(path, &self.options.decode)
    }

    /// Stage 1b: decodes one page and prepares it for reading.
    pub fn decode(&self, page: &PageSource) -> Result<Scan> {
        Ok(Scan::new(decode::decode_page(page, &self.options.decode)?))
    }

    /// Stage 2: registers a page against the templates; returns the template index.
    pub fn register(&self, scan: &Scan) -> std::result::Result<(usize, Registration), RegisterFailure> {
        self.worker().register(scan)
    }

    /// Stage 3: reads the page codes.
    pub fn identify(
        &self,
        scan: &Scan,
        reg: &Registration,
        template: &Template,
    ) -> std::result::Result<Identified, Unidentified> {
        identify::identify(scan, reg, template, &mut Vec::new())
    }

    /// Stage 4: reads the fields.
    pub fn read_fields(&self, scan: &Scan, reg: &Registration, template: &Template) -> FieldReadings {
        fields::read_fields(
            scan,
            reg,
            template,
            &self.options.fields,
            self.classifier.as_ref(),
            &mut FieldScratch::default(),
        )
    }

    /// Stage 4b: reads the photo box (status, and the card photo from a pasted print).
    pub fn read_photo(
        &self,
        scan: &Scan,
        reg: &Registration,
        template: &Template,
        readings: &FieldReadings,
        photo_printed: bool,
    ) -> Option<crate::photo::PhotoReading> {
        photo_stage(scan, reg, template, readings, photo_printed, &self.options)
    }

    /// Stage 5: audits a read page.
    pub fn audit(&self, template: &Template, readings: &FieldReadings) -> Vec<Finding> {
        audit::audit(template, &readings.fields, &readings.groups)
    }

    /// All stages on one decoded image. The record's source is `<memory>`, page 0.
    pub fn process_image(&self, image: &DynamicImage) -> PageRecord {
        let src = SourceRef { file: "<memory>".into(), page: 0 };
        self.worker().process(image.clone(), src).0
    }

    /// A worker with its own scratch buffers; make one per thread.
    pub fn worker(&self) -> Worker<'_> {
        Worker { engine: self, reg: RegisterScratch::default(), fields: FieldScratch::default(), buf: Vec::new() }
    }
}

/// Runs the pipeline on pages, reusing buffers between them.
pub struct Worker<'e> {
    engine: &'e Engine,
    reg: RegisterScratch,
    fields: FieldScratch,
    buf: Vec<u8>,
}

/// The warning on a black-and-white page: no red drop-out, no photo colour.
pub const BILEVEL_SCAN: &str = "bilevel_scan";

/// Whether a page is black and white only (a CCITT G4 or 1-bit scan), from a sparse sample:
/// every 97th pixel of a grey image, so 90,000 of an A4 page at 300 dpi, is 0 or 255. A grey
/// scan has in-between values within the first few samples.
fn is_bilevel(image: &DynamicImage) -> bool {
    let DynamicImage::ImageLuma8(g) = image else { return false };
    g.as_raw().iter().step_by(97).all(|&v| v == 0 || v == 255)
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

impl<'e> Worker<'e> {
    fn register(&mut self, scan: &Scan) -> std::result::Result<(usize, Registration), RegisterFailure> {
        let mut worst = RegisterFailure::NotAForm { marks: 0 };
        for (i, t) in self.engine.templates.iter().enumerate() {
            match register::register(scan, t, &self.engine.options.register, &mut self.reg) {
                Ok(r) => return Ok((i, r)),
                Err(e @ RegisterFailure::MarksNotFound { .. }) => worst = e,
                Err(RegisterFailure::NotAForm { marks }) => {
                    if let RegisterFailure::NotAForm { marks: m } = &mut worst {
                        *m = (*m).max(marks);
                    }
                }
            }
        }
        Err(worst)
    }

    /// Runs every stage after decoding on `image`. Returns the record and the snippets to save
    /// (the record's snippet paths are filled in by whoever saves them).
    pub fn process(&mut self, image: DynamicImage, source: SourceRef) -> (PageRecord, Vec<fields::Snippet>) {
        let t0 = Instant::now();
        let bilevel = is_bilevel(&image);
        let scan = Scan::new(image);
        let mut rec = PageRecord::rejected(source, RejectReason::NotAForm, "");
        if bilevel {
            rec.warnings.push(BILEVEL_SCAN.to_string());
        }
        let mut times = StageTimes::default();
        let done = |mut rec: PageRecord, mut times: StageTimes, snippets| {
            times.total = ms(t0);
            rec.timing_ms = times;
            (rec, snippets)
        };
        if scan.ink_coverage() < self.engine.options.blank_max_ink {
            rec.outcome = Outcome::Blank;
            rec.reject = None;
            times.register = ms(t0);
            return done(rec, times, Vec::new());
        }
        let (ti, reg) = match self.register(&scan) {
            Ok(x) => x,
            Err(failure) => {
                let (reason, detail) = match failure {
                    RegisterFailure::NotAForm { marks } => {
                        (RejectReason::NotAForm, format!("no registration-mark pattern ({marks} marks matched)"))
                    }
                    RegisterFailure::MarksNotFound { marks } => {
                        (RejectReason::MarksNotFound, format!("only {marks} registration marks found"))
                    }
                };
                rec.reject = Some(crate::record::Rejection { reason, detail });
                times.register = ms(t0);
                return done(rec, times, Vec::new());
            }
        };
        times.register = ms(t0);
        let t1 = Instant::now();
        let templates = &self.engine.templates;
        let mut id = identify::identify(&scan, &reg, &templates[ti], &mut self.buf);
        let mut reg = reg;
        if id.as_ref().is_err_and(|u| u.sheet.is_none()) {
            if let Some(alt) = reg.alternate.take() {
                if let Ok(found) = identify::identify(&scan, &alt, &templates[ti], &mut self.buf) {
                    id = Ok(found);
                    reg = *alt;
                }
            }
        }
        times.identify = ms(t1);
        rec.registration = Some(reg.summary());
        let ident = match id {
            Ok(i) => i,
            Err(u) => {
                rec.barcodes = u.barcodes;
                if let Some(sheet) = u.sheet {
                    // A class-pack cover or class list: its own outcome, not a bad page.
                    rec.outcome = Outcome::Cover;
                    rec.reject = None;
                    rec.sheet = Some(*sheet);
                    return done(rec, times, Vec::new());
                }
                let foreign = rec.barcodes.iter().any(|b| b.status == crate::record::BarcodeStatus::Foreign);
                rec.reject = Some(crate::record::Rejection {
                    reason: RejectReason::BarcodeUnreadable,
                    detail: if foreign {
                        "page code is not a valid formscan code".into()
                    } else {
                        "neither page code could be read".into()
                    },
                });
                return done(rec, times, Vec::new());
            }
        };
        rec.barcodes = ident.barcodes;
        let p = &ident.payload;
        let Some(tj) = templates.iter().position(|t| t.id == p.template && t.version == p.version) else {
            rec.reject = Some(crate::record::Rejection {
                reason: RejectReason::UnknownTemplate,
                detail: format!("page code names template {} version {}, which is not loaded", p.template, p.version),
            });
            rec.form = Some(ident.payload);
            return done(rec, times, Vec::new());
        };
        // A page identified as another template than the one its marks fitted is registered
        // again against its own marks.
        if tj != ti {
            match register::register(&scan, &templates[tj], &self.engine.options.register, &mut self.reg) {
                Ok(r) => reg = r,
                Err(_) => {
                    rec.reject = Some(crate::record::Rejection {
                        reason: RejectReason::MarksNotFound,
                        detail: format!("marks of template {} not found", p.template),
                    });
                    rec.form = Some(ident.payload);
                    return done(rec, times, Vec::new());
                }
            }
        }
        let t2 = Instant::now();
        let mut readings = fields::read_fields(
            &scan,
            &reg,
            &templates[tj],
            &self.engine.options.fields,
            self.engine.classifier.as_ref(),
            &mut self.fields,
        );
        times.fields = ms(t2);
        times.digits = readings.digits_ms;
        let t3 = Instant::now();
        let printed = ident.payload.photo_printed;
        rec.photo = photo_stage(&scan, &reg, &templates[tj], &readings, printed, &self.engine.options);
        cover_marks(&templates[tj], &mut readings, rec.photo.as_mut(), printed);
        rec.findings = audit::audit(&templates[tj], &readings.fields, &readings.groups);
        times.photo = ms(t3);
        rec.outcome = Outcome::Read;
        rec.reject = None;
        rec.form = Some(ident.payload);
        rec.fields = readings.fields;
        rec.groups = readings.groups;
        done(rec, times, readings.snippets)
    }
}

/// The checkbox group that answers "the printed photo is the applicant" (`yes` / `no`).
pub const PHOTO_CONFIRM_GROUP: &str = "photo_is_applicant";

/// The checkboxes a pasted print covers read `ambiguous` (see [`fields::mark_covered`]); when
/// that makes the "printed photo is the applicant" answer unclear, the photo reading loses it.
fn cover_marks(
    template: &Template,
    readings: &mut FieldReadings,
    photo: Option<&mut crate::photo::PhotoReading>,
    printed: bool,
) {
    let Some(photo) = photo else { return };
    let Some(quad) = photo.quad.filter(|_| photo.status == crate::photo::PhotoStatus::Pasted) else { return };
    if fields::mark_covered(template, readings, &quad) && printed {
        photo.confirmed = confirmed_answer(readings);
    }
}

/// The "printed photo is the applicant" answer, when exactly one box of its group is ticked.
fn confirmed_answer(readings: &FieldReadings) -> Option<bool> {
    readings.groups.get(PHOTO_CONFIRM_GROUP).and_then(|g| (g.state == "one").then(|| g.value.as_deref() == Some("yes")))
}

fn photo_stage(
    scan: &Scan,
    reg: &Registration,
    template: &Template,
    readings: &FieldReadings,
    photo_printed: bool,
    options: &EngineOptions,
) -> Option<crate::photo::PhotoReading> {
    let field = template.fields.iter().find(|f| f.kind == crate::template::FieldKind::Photo)?;
    let has_content = readings.fields.get(&field.name).is_none_or(|r| r.state != crate::record::FieldState::Empty);
    let confirmed = confirmed_answer(readings);
    let ctx = crate::photo::PhotoContext {
        to_scan: reg.to_scan,
        px_per_mm: reg.px_per_mm,
        printed: photo_printed,
        confirmed,
        has_content,
    };
    crate::photo::read_photo(scan.image(), template, &ctx, &options.photo)
}
