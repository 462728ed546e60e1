//! The [`Engine`] facade: one method per pipeline stage, plus [`Engine::process_image`] for the
//! whole path, [`Worker`] for batch use with reusable buffers, and [`WorkerPool`] to lend
//! workers to the jobs of a rayon loop.
//!
//! # The stage contract
//!
//! The engine's stage methods and the worker's are the same functions (the engine's make a
//! worker with fresh buffers), and [`Worker::process`] is their sequence:
//!
//! 1. **decode** ([`Engine::open`], [`Engine::decode`]): a file's pages, then one page's pixels.
//! 2. **register** ([`Engine::register`]): the templates are tried in order and the first whose
//!    mark pattern fits wins; a page that fits none is `not_a_form` or `marks_not_found`.
//! 3. **identify** ([`Engine::identify`]): the page codes in the registered pose. *Retry:* a
//!    page whose marks fit both upright and upside down (a symmetric mark layout) carries an
//!    alternate pose in its registration; when no code reads in the first pose, the codes are
//!    read in the alternate, and a success replaces the registration with it.
//! 4. **form template** ([`Engine::form_template`]): the template the page code names. *Retry:*
//!    when it is not the template whose marks fitted, the page is registered again against its
//!    own template's marks. A code naming a template that is not loaded rejects the page.
//! 5. **read fields** ([`Engine::read_fields`]): checkboxes, ink, digits, handwritten names,
//!    snippets.
//! 6. **read photo** ([`Engine::read_photo`]): the photo box; the checkboxes a pasted print
//!    covers are marked ambiguous, and whether a photo is required is decided from the
//!    applicant's age on the reference date ([`Engine::reference_date`]), the person coming
//!    from the engine's [`PersonLookup`] ([`Engine::with_people`]). The names read in stage 5
//!    are then settled under the form's evidence, the printed name and the groups as they now
//!    stand ([`Engine::settle_names`]).
//! 7. **audit** ([`Engine::audit`]): the page checks, including a pasted photo that fails the
//!    card spec when one is required.
//!
//! The record that comes out is finished: batch code only writes files (the card photo, the
//! snippets) and fills in their paths.

use crate::audit;
use crate::decode::{self, DecodeLimits, PageSource};
use crate::domain::Date;
use crate::error::Result;
use crate::fields::{self, FieldOptions, FieldReadings, FieldScratch};
use crate::finding::Finding;
use crate::identify::{self, Identified, Unidentified};
use crate::lookup::PersonLookup;
use crate::model::{CnnEnsemble, DigitClassifier};
use crate::payload::PagePayload;
use crate::photo::PhotoReading;
use crate::record::{
    BarcodeStatus, GroupState, Outcome, PageRecord, RejectReason, Rejection, SourceRef, StageTimes, ValueStatus,
};
use crate::register::{self, RegisterFailure, RegisterOptions, RegisterScratch, Registration};
use crate::scan::Scan;
use crate::template::Template;
use image::DynamicImage;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
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
    /// Read baseline JPEG pages as DCT coefficients (`decode::dct`): the red (ink) channel
    /// made over the whole page into a plane of its own, colour only where a stage reads
    /// colour. Every value read is a full decode's (the records are the same). Default
    /// `false`: it is not yet faster overall (see `formscan bench --coefficients`).
    pub jpeg_coefficients: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            register: RegisterOptions::default(),
            fields: FieldOptions::default(),
            decode: DecodeLimits::default(),
            photo: crate::photo::PhotoOptions::default(),
            blank_max_ink: 0.0015,
            jpeg_coefficients: false,
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
    people: Option<Arc<dyn PersonLookup>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("templates", &self.templates)
            .field("options", &self.options)
            .field("people", &self.people)
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
        Engine { templates, options, classifier: Arc::new(BundledDigits), people: None }
    }

    /// Replaces the digit classifier (the bundled CNN by default): the seam for another model.
    pub fn with_classifier(mut self, classifier: Arc<dyn DigitClassifier>) -> Engine {
        self.classifier = classifier;
        self
    }

    /// Tells the engine who each form belongs to: the photo stage needs the applicant's age
    /// (rule 2: no photo under 6), and batch code names the card photo after the person. The
    /// lookup's reference date, when it has one, is the one ages are taken on. Without a
    /// lookup `photo.required` stays unknown (`None`) and card photos go to
    /// `photos/unmatched/`.
    pub fn with_people(mut self, people: Arc<dyn PersonLookup>) -> Engine {
        self.people = Some(people);
        self
    }

    /// The person lookup, if any ([`Engine::with_people`]).
    pub fn people(&self) -> Option<&Arc<dyn PersonLookup>> {
        self.people.as_ref()
    }

    /// The date ages are taken on: the person lookup's (a campaign store's) when it has one,
    /// else [`crate::photo::PhotoOptions::reference_date`].
    pub fn reference_date(&self) -> Date {
        self.people.as_ref().and_then(|l| l.reference_date()).unwrap_or(self.options.photo.reference_date)
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

    /// Stage 1b: decodes one page and prepares it for reading. With
    /// [`EngineOptions::jpeg_coefficients`] a baseline JPEG is kept as its DCT coefficients,
    /// its red channel made for the whole page and colour where the stages read it (see
    /// [`Scan`]).
    pub fn decode(&self, page: &PageSource) -> Result<Scan> {
        self.worker().decode(page)
    }

    /// Stage 2: registers a page against the templates; returns the template index.
    pub fn register(&self, scan: &Scan) -> std::result::Result<(usize, Registration), RegisterFailure> {
        self.worker().register(scan)
    }

    /// Stage 3: reads the page codes, trying the registration's alternate pose when the first
    /// gives none (the retry replaces `reg`; see the module notes).
    pub fn identify(
        &self,
        scan: &Scan,
        reg: &mut Registration,
        template: &Template,
    ) -> std::result::Result<Identified, Unidentified> {
        self.worker().identify(scan, reg, template)
    }

    /// Stage 4: the template the page code names, with the page registered against it
    /// (registered again when it is not template `registered_as`, the one whose marks fitted).
    pub fn form_template(
        &self,
        scan: &Scan,
        payload: &PagePayload,
        registered_as: usize,
        reg: Registration,
    ) -> std::result::Result<(usize, Registration), Rejection> {
        self.worker().form_template(scan, payload, registered_as, reg)
    }

    /// Stage 5: reads the fields.
    pub fn read_fields(&self, scan: &Scan, reg: &Registration, template: &Template) -> FieldReadings {
        self.worker().read_fields(scan, reg, template)
    }

    /// Stage 6: reads the photo box (status, requirement, and the card photo from a pasted
    /// print); marks the checkboxes a pasted print covers as ambiguous in `readings`.
    pub fn read_photo(
        &self,
        scan: &Scan,
        reg: &Registration,
        template: &Template,
        readings: &mut FieldReadings,
        form: &PagePayload,
    ) -> Option<PhotoReading> {
        self.worker().read_photo(scan, reg, template, readings, form)
    }

    /// Stage 6½: settles the names read in stage 5 under the form's evidence — the printed
    /// name of the person the form was printed for (from the lookup) and the groups as the
    /// photo stage left them (see [`fields::names`]). [`Worker::process`] does this after the
    /// photo stage.
    pub fn settle_names(&self, template: &Template, readings: &mut FieldReadings, form: &PagePayload) {
        if readings.names.is_empty() {
            return;
        }
        let person = self.people.as_ref().and_then(|p| p.person(&form.run, &form.serial));
        let printed = person.as_ref().and_then(|p| p.name.as_deref());
        fields::settle_names(template, readings, printed, &self.options.fields.names);
    }

    /// Stage 7: audits a read page.
    pub fn audit(&self, template: &Template, readings: &FieldReadings, photo: Option<&PhotoReading>) -> Vec<Finding> {
        audit::audit(template, &readings.fields, &readings.groups, photo)
    }

    /// All stages on one decoded image. The record's source is `<memory>`, page 0.
    pub fn process_image(&self, image: &DynamicImage) -> PageRecord {
        let src = SourceRef { file: "<memory>".into(), page: 0 };
        self.worker().process(image.clone(), src).0
    }

    /// A pool of workers for a rayon loop ([`WorkerPool`]): take one in `for_each_init`'s or
    /// `map_init`'s init, not a fresh [`Engine::worker`].
    pub fn worker_pool(&self) -> WorkerPool<'_> {
        WorkerPool { engine: self, line: None, idle: Mutex::new(Vec::new()), made: AtomicUsize::new(0) }
    }

    /// A worker with its own scratch buffers; make one per thread.
    pub fn worker(&self) -> Worker<'_> {
        Worker {
            engine: self,
            reg: RegisterScratch::default(),
            fields: FieldScratch::default(),
            buf: Vec::new(),
            dct: None,
            pixels: Vec::new(),
        }
    }

    /// The applicant's age on the reference date, from the person the form was printed for
    /// and an accepted correction of the ID number ([`crate::domain::applicant_age`]).
    fn applicant_age(&self, form: &PagePayload, readings: &FieldReadings) -> Option<i32> {
        let person = self.people.as_ref()?.person(&form.run, &form.serial)?;
        let fix = readings
            .fields
            .get(APPLICANT_ID_FIX)
            .filter(|f| f.status == Some(ValueStatus::Accepted))
            .and_then(|f| f.value.as_deref());
        crate::domain::applicant_age(fix, &person.id_number, person.birth_date, self.reference_date())
    }
}

/// The comb where a corrected ID number is written.
const APPLICANT_ID_FIX: &str = "applicant_id_fix";

/// Runs the pipeline on pages, reusing buffers between them.
pub struct Worker<'e> {
    engine: &'e Engine,
    reg: RegisterScratch,
    fields: FieldScratch,
    buf: Vec<u8>,
    /// The coefficient buffers of JPEG pages, back from the last page (tens of MB for a
    /// 300 dpi page: allocated once per worker, not per page).
    dct: Option<Box<crate::decode::dct::DctPage>>,
    /// The last decoded page's pixel buffer, decoded into again ([`decode::decode_page_into`]).
    pixels: Vec<u8>,
}

impl Worker<'_> {
    /// Runs the name recogniser on `thread`, the pool this worker itself runs in (a batch's;
    /// see [`crate::model::text_line::LineThread`]).
    pub fn with_line_thread(mut self, thread: crate::model::text_line::LineThread) -> Self {
        self.fields.set_line_thread(thread);
        self
    }
}

/// Workers shared by the jobs of a rayon loop, each held by one job at a time.
///
/// rayon's `for_each_init` and `map_init` call their init once for each piece of work they
/// split off, not once per thread: a batch of the 222 demo files on 2 threads made 10
/// workers, and each fresh one allocated and zeroed its page buffer again (26 MB at 300 dpi,
/// page faults included; `memset` went from 1.27 % to 1.04 % of a `perf` profile of that
/// batch with the pool). Handing out the workers of finished jobs keeps as many as ever ran
/// at once: the thread count, or twice it while the pages of a multi-page file run in a
/// nested loop.
///
/// ```no_run
/// use rayon::prelude::*;
/// # fn pages(engine: &formscan::Engine, files: &[std::path::PathBuf]) {
/// let pool = engine.worker_pool();
/// files.par_iter().for_each_init(
///     || pool.get(),
///     |worker, path| {
///         for page in engine.open(path).unwrap_or_default() {
///             if let Ok(scan) = worker.decode(&page) {
///                 worker.recycle(scan);
///             }
///         }
///     },
/// );
/// # }
/// ```
pub struct WorkerPool<'e> {
    engine: &'e Engine,
    line: Option<crate::model::text_line::LineThread>,
    idle: Mutex<Vec<Worker<'e>>>,
    made: AtomicUsize,
}

impl<'e> WorkerPool<'e> {
    /// Its workers run the name recogniser on `thread` ([`Worker::with_line_thread`]).
    pub fn with_line_thread(mut self, thread: crate::model::text_line::LineThread) -> Self {
        self.line = Some(thread);
        self
    }

    /// An idle worker, or a new one when all are busy; it comes back when dropped.
    pub fn get(&self) -> PooledWorker<'_, 'e> {
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let worker = idle.unwrap_or_else(|| {
            self.made.fetch_add(1, Ordering::Relaxed);
            let w = self.engine.worker();
            match &self.line {
                Some(line) => w.with_line_thread(line.clone()),
                None => w,
            }
        });
        PooledWorker { pool: self, worker: Some(worker) }
    }

    /// How many workers the pool has made.
    pub fn made(&self) -> usize {
        self.made.load(Ordering::Relaxed)
    }
}

/// A [`Worker`] lent by a [`WorkerPool`], given back when dropped.
pub struct PooledWorker<'p, 'e> {
    pool: &'p WorkerPool<'e>,
    worker: Option<Worker<'e>>,
}

impl<'e> std::ops::Deref for PooledWorker<'_, 'e> {
    type Target = Worker<'e>;
    fn deref(&self) -> &Worker<'e> {
        self.worker.as_ref().expect("a lent worker is held until dropped")
    }
}

impl<'e> std::ops::DerefMut for PooledWorker<'_, 'e> {
    fn deref_mut(&mut self) -> &mut Worker<'e> {
        self.worker.as_mut().expect("a lent worker is held until dropped")
    }
}

impl Drop for PooledWorker<'_, '_> {
    fn drop(&mut self) {
        if let Some(w) = self.worker.take() {
            self.pool.idle.lock().unwrap_or_else(PoisonError::into_inner).push(w);
        }
    }
}

/// The warning on a black-and-white page: no red drop-out, no photo colour.
pub const BILEVEL_SCAN: &str = "bilevel_scan";

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

impl<'e> Worker<'e> {
    /// Stage 1b ([`Engine::decode`]), reusing this worker's buffers for JPEG pages.
    pub fn decode(&mut self, page: &PageSource) -> Result<Scan> {
        if self.engine.options.jpeg_coefficients {
            match decode::read_dct(page, &self.engine.options.decode, self.dct.take().unwrap_or_default()) {
                Ok(dct) => return Ok(Scan::from_dct(dct)),
                Err(dct) => self.dct = Some(dct),
            }
        }
        let spare = std::mem::take(&mut self.pixels);
        Ok(Scan::new(decode::decode_page_into(page, &self.engine.options.decode, spare)?))
    }

    /// Takes a finished page's buffers back for the next page.
    pub fn recycle(&mut self, scan: Scan) {
        match scan.into_buffers() {
            crate::scan::Buffers::Dct(dct) => self.dct = Some(dct),
            crate::scan::Buffers::Pixels(pixels) => self.pixels = pixels,
        }
    }

    /// Stage 2 ([`Engine::register`]).
    pub fn register(&mut self, scan: &Scan) -> std::result::Result<(usize, Registration), RegisterFailure> {
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

    /// Stage 3 ([`Engine::identify`]), with its retry in the alternate pose.
    pub fn identify(
        &mut self,
        scan: &Scan,
        reg: &mut Registration,
        template: &Template,
    ) -> std::result::Result<Identified, Unidentified> {
        let id = identify::identify(scan, reg, template, &mut self.buf);
        if id.as_ref().is_err_and(|u| u.sheet.is_none()) {
            if let Some(alt) = reg.alternate.take() {
                if let Ok(found) = identify::identify(scan, &alt, template, &mut self.buf) {
                    *reg = *alt;
                    return Ok(found);
                }
            }
        }
        id
    }

    /// Stage 4 ([`Engine::form_template`]), with its retry against the named template's marks.
    pub fn form_template(
        &mut self,
        scan: &Scan,
        payload: &PagePayload,
        registered_as: usize,
        reg: Registration,
    ) -> std::result::Result<(usize, Registration), Rejection> {
        let templates = &self.engine.templates;
        let Some(tj) = templates.iter().position(|t| t.id == payload.template && t.version == payload.version) else {
            return Err(Rejection {
                reason: RejectReason::UnknownTemplate,
                detail: format!(
                    "page code names template {} version {}, which is not loaded",
                    payload.template, payload.version
                ),
            });
        };
        if tj == registered_as {
            return Ok((tj, reg));
        }
        match register::register(scan, &templates[tj], &self.engine.options.register, &mut self.reg) {
            Ok(r) => Ok((tj, r)),
            Err(_) => Err(Rejection {
                reason: RejectReason::MarksNotFound,
                detail: format!("marks of template {} not found", payload.template),
            }),
        }
    }

    /// Stage 5 ([`Engine::read_fields`]).
    pub fn read_fields(&mut self, scan: &Scan, reg: &Registration, template: &Template) -> FieldReadings {
        fields::read_fields(
            scan,
            reg,
            template,
            &self.engine.options.fields,
            self.engine.classifier.as_ref(),
            &mut self.fields,
        )
    }

    /// Stage 6 ([`Engine::read_photo`]).
    pub fn read_photo(
        &mut self,
        scan: &Scan,
        reg: &Registration,
        template: &Template,
        readings: &mut FieldReadings,
        form: &PagePayload,
    ) -> Option<PhotoReading> {
        let field = template.fields.iter().find(|f| f.kind == crate::template::FieldKind::Photo)?;
        let has_content = readings.fields.get(&field.name).is_none_or(|r| r.state != crate::record::FieldState::Empty);
        let printed = form.photo_printed;
        let age = self.engine.applicant_age(form, readings);
        let ctx = crate::photo::PhotoContext {
            to_scan: reg.to_scan,
            px_per_mm: reg.px_per_mm,
            printed,
            confirmed: confirmed_answer(readings),
            has_content,
            age,
        };
        let opts = &self.engine.options.photo;
        // An empty box reads nothing at all (`photo_area` says what a box with content reads).
        let area = if has_content {
            crate::photo::photo_area(template, opts)?
        } else {
            crate::geometry::Rect::new(0.0, 0.0, 0.0, 0.0)
        };
        let mut photo = scan.with_area(&reg.to_scan, area, 2.0, true, |pixels| {
            crate::photo::read_photo_in(pixels, template, &ctx, opts)
        })?;
        if cover_marks(template, readings, &mut photo, printed) {
            // The confirmation changed with the covered boxes: decide the requirement again.
            photo.apply_age(age, printed);
        }
        Some(photo)
    }

    /// Every stage after decoding, in order (module notes), on `image`. Returns the finished
    /// record and the snippets to save (the record's snippet and photo paths are filled in by
    /// whoever writes the files).
    pub fn process(&mut self, image: DynamicImage, source: SourceRef) -> (PageRecord, Vec<fields::Snippet>) {
        let t0 = Instant::now();
        let scan = Scan::new(image);
        let prepare = ms(t0);
        let mut out = self.process_scan(&scan, source);
        // Preparing the page belongs to the decode stage (see `StageTimes::decode`).
        out.0.timing_ms.decode += prepare;
        out.0.timing_ms.total = ms(t0);
        out
    }

    /// Every stage after decoding ([`Worker::process`]) on a prepared page (from
    /// [`Worker::decode`]; give it back with [`Worker::recycle`] after).
    pub fn process_scan(&mut self, scan: &Scan, source: SourceRef) -> (PageRecord, Vec<fields::Snippet>) {
        let t0 = Instant::now();
        let bilevel = scan.is_bilevel();
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
        // Stage 2.
        let (ti, mut reg) = match self.register(scan) {
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
                rec.reject = Some(Rejection { reason, detail });
                times.register = ms(t0);
                return done(rec, times, Vec::new());
            }
        };
        times.register = ms(t0);
        // Stage 3.
        let t1 = Instant::now();
        let templates = &self.engine.templates;
        let id = self.identify(scan, &mut reg, &templates[ti]);
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
                let foreign = rec.barcodes.iter().any(|b| b.status == BarcodeStatus::Foreign);
                rec.reject = Some(Rejection {
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
        let form = ident.payload;
        // Stage 4.
        let (tj, reg) = match self.form_template(scan, &form, ti, reg) {
            Ok(x) => x,
            Err(rejection) => {
                rec.reject = Some(rejection);
                rec.form = Some(form);
                return done(rec, times, Vec::new());
            }
        };
        let template = &templates[tj];
        // Stage 5.
        let t2 = Instant::now();
        let mut readings = self.read_fields(scan, &reg, template);
        times.fields = ms(t2);
        times.digits = readings.digits_ms;
        times.names = readings.names_ms;
        // Stages 6 and 7.
        let t3 = Instant::now();
        rec.photo = self.read_photo(scan, &reg, template, &mut readings, &form);
        // The printed name is evidence for the names written beside it (fields::names); the
        // groups may also have changed under a pasted photo.
        self.engine.settle_names(template, &mut readings, &form);
        rec.findings = audit::audit(template, &readings.fields, &readings.groups, rec.photo.as_ref());
        times.photo = ms(t3);
        rec.outcome = Outcome::Read;
        rec.reject = None;
        rec.form = Some(form);
        rec.fields = readings.fields;
        rec.groups = readings.groups;
        done(rec, times, readings.snippets)
    }
}

/// The checkbox group that answers "the printed photo is the applicant" (`yes` / `no`).
pub const PHOTO_CONFIRM_GROUP: &str = "photo_is_applicant";

/// The checkboxes a pasted print covers read `ambiguous` (see [`fields::mark_covered`]); when
/// that makes the "printed photo is the applicant" answer unclear, the photo reading loses it.
/// Returns whether the answer was taken again.
fn cover_marks(template: &Template, readings: &mut FieldReadings, photo: &mut PhotoReading, printed: bool) -> bool {
    let Some(quad) = photo.quad.filter(|_| photo.status == crate::photo::PhotoStatus::Pasted) else { return false };
    if fields::mark_covered(template, readings, &quad) && printed {
        photo.confirmed = confirmed_answer(readings);
        return true;
    }
    false
}

/// The "printed photo is the applicant" answer, when exactly one box of its group is ticked.
fn confirmed_answer(readings: &FieldReadings) -> Option<bool> {
    readings
        .groups
        .get(PHOTO_CONFIRM_GROUP)
        .and_then(|g| (g.state == GroupState::One).then(|| g.value.as_deref() == Some("yes")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    /// A rayon loop takes workers from the pool in each piece of work it splits off, and the
    /// pool makes no more than ran at once; fresh workers per piece would be many more.
    #[test]
    fn a_pool_makes_as_many_workers_as_ran_at_once() {
        let engine = Engine::default();
        let threads = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let pieces = AtomicUsize::new(0);
        let pool = engine.worker_pool();
        let used: usize = threads.install(|| {
            (0..500).into_par_iter().for_each_init(|| pieces.fetch_add(1, Ordering::Relaxed), |_, _| ());
            (0..500).into_par_iter().map_init(|| pool.get(), |w, _| w.buf.capacity() + 1).count()
        });
        assert_eq!(used, 500);
        assert!(pool.made() <= 2, "{} workers for 2 threads", pool.made());
        assert!(pool.made() >= 1);
        // rayon's inits are per piece: the pool is what keeps the count down.
        assert!(pieces.into_inner() > 2);
    }
}
