//! Batch processing of scan folders: every page of every input gets exactly one record.
//!
//! Files are processed in parallel with rayon (pages of a multi-page file too), each thread
//! with its own [`Worker`] and its buffers. Records are appended to `records.jsonl` and
//! flushed as each page finishes, so a crash loses at most the pages in flight; `records.csv`
//! gets one row per read form, `snippets/` the images of written fields, and `summary.json`
//! the totals at the end. Output files are created readable by their owner only (the data
//! is about children).

use crate::engine::{Engine, Worker};
use crate::error::{Error, Result};
use crate::fields::Snippet;
use crate::record::{Outcome, PageRecord, RejectReason, SourceRef, StageTimes};
use crate::template::FieldKind;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

/// Batch settings.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// Output folder.
    pub out_dir: PathBuf,
    /// Save snippet images. Default true.
    pub snippets: bool,
    /// Who each form belongs to (ID number, school, birth date): names the photo files and
    /// decides rule 2 (no photo under 6). Without it, photos go to `photos/unmatched/`.
    pub people: Option<std::sync::Arc<dyn crate::lookup::PersonLookup>>,
}

/// Totals of a batch, written to `summary.json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Input files.
    pub files: usize,
    /// Pages seen (a file that cannot be opened counts as one page).
    pub pages_in: usize,
    /// Pages identified and read.
    pub read: usize,
    /// Blank pages.
    pub blank: usize,
    /// Class-pack cover sheets and class-list pages (not forms, not rejected).
    pub covers: usize,
    /// Rejected pages.
    pub rejected: usize,
    /// Rejections by reason.
    pub rejected_by_reason: BTreeMap<String, usize>,
    /// Read pages with audit findings (to review).
    pub with_findings: usize,
    /// Wall time, seconds.
    pub elapsed_s: f64,
    /// Pages per second of wall time.
    pub pages_per_s: f64,
    /// Mean per-page stage times, milliseconds (summed over threads, so they exceed wall time
    /// per page when several threads run).
    pub stage_ms_mean: StageTimes,
    /// Threads used.
    pub threads: usize,
    /// Files a [`BatchHook`] skipped (already recorded in the campaign store).
    pub skipped_files: usize,
    /// Card photos written to `photos/` (every check passed).
    pub photos_written: usize,
    /// Card photos written to `photos-review/` (a check failed: a person must look).
    pub photos_review: usize,
}

/// Creates a folder (and parents) that only its owner can enter.
pub fn create_private_dir(p: &Path) -> Result<()> {
    std::fs::create_dir_all(p).map_err(|e| Error::io_at(p, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700)).map_err(|e| Error::io_at(p, e))?;
    }
    Ok(())
}

/// Creates (truncating) a file that only its owner can read.
pub fn create_private_file(p: &Path) -> Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(p).map_err(|e| Error::io_at(p, e))
}

/// What a `records.csv` column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    /// A field's state.
    State,
    /// A checkbox group's choice.
    Group,
    /// A comb field's characters.
    CombValue,
    /// A comb field's status.
    CombStatus,
}

struct Sink {
    jsonl: BufWriter<File>,
    csv: csv::Writer<BufWriter<File>>,
    columns: Vec<(String, Column)>,
    summary: Summary,
    times: StageTimes,
}

impl Sink {
    fn write(&mut self, rec: &PageRecord) -> Result<()> {
        let line = serde_json::to_string(rec).map_err(|e| Error::input(e.to_string()))?;
        self.jsonl.write_all(line.as_bytes())?;
        self.jsonl.write_all(b"\n")?;
        self.jsonl.flush()?;
        let s = &mut self.summary;
        s.pages_in += 1;
        match rec.outcome {
            Outcome::Read => s.read += 1,
            Outcome::Blank => s.blank += 1,
            Outcome::Cover => s.covers += 1,
            Outcome::Rejected => {
                s.rejected += 1;
                let r = rec.reject.as_ref().map(|r| r.reason.as_str()).unwrap_or("unknown");
                *s.rejected_by_reason.entry(r.to_string()).or_default() += 1;
            }
        }
        if !rec.findings.is_empty() {
            s.with_findings += 1;
        }
        let t = &mut self.times;
        t.decode += rec.timing_ms.decode;
        t.register += rec.timing_ms.register;
        t.identify += rec.timing_ms.identify;
        t.fields += rec.timing_ms.fields;
        t.photo += rec.timing_ms.photo;
        t.digits += rec.timing_ms.digits;
        if let Some(f) = rec.photo.as_ref().and_then(|p| p.file.as_deref()) {
            if f.starts_with("photos/") {
                s.photos_written += 1;
            } else {
                s.photos_review += 1;
            }
        }
        t.total += rec.timing_ms.total;
        if rec.outcome == Outcome::Read {
            let form = rec.form.as_ref();
            let mut row = vec![
                rec.source.file.clone(),
                rec.source.page.to_string(),
                form.map(|f| f.template.clone()).unwrap_or_default(),
                form.map(|f| f.run.clone()).unwrap_or_default(),
                form.map(|f| f.serial.clone()).unwrap_or_default(),
                form.map(|f| f.page.to_string()).unwrap_or_default(),
                if rec.findings.is_empty() { "pass".into() } else { "review".into() },
                rec.findings.iter().map(|f| format!("{}:{}", f.code, f.subject)).collect::<Vec<_>>().join(" "),
            ];
            for (name, col) in &self.columns {
                let comb = |f: &crate::record::FieldReading| match col {
                    Column::CombValue => f.value.clone().unwrap_or_default(),
                    _ => f
                        .status
                        .and_then(|st| serde_json::to_value(st).ok())
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                };
                let v = if matches!(col, Column::CombValue | Column::CombStatus) {
                    rec.fields.get(name).map(comb).unwrap_or_default()
                } else if *col == Column::Group {
                    rec.groups
                        .get(name)
                        .map(|g| {
                            g.value.clone().unwrap_or_else(|| {
                                if g.state == "none" {
                                    String::new()
                                } else {
                                    g.state.clone()
                                }
                            })
                        })
                        .unwrap_or_default()
                } else {
                    rec.fields
                        .get(name)
                        .map(|f| {
                            serde_json::to_value(f.state)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_string))
                                .unwrap_or_default()
                        })
                        .unwrap_or_default()
                };
                row.push(v);
            }
            self.csv.write_record(&row).map_err(|e| Error::Io { path: None, source: std::io::Error::other(e) })?;
        }
        Ok(())
    }
}

fn save_snippets(out: &Path, rec: &mut PageRecord, snippets: Vec<Snippet>) -> Result<()> {
    let Some(form) = &rec.form else { return Ok(()) };
    if snippets.is_empty() {
        return Ok(());
    }
    let rel = format!("snippets/{}-{}-p{}", form.run, form.serial, form.page);
    let dir = out.join(&rel);
    create_private_dir(&dir)?;
    for s in snippets {
        let name = format!("{rel}/{}.png", s.field);
        let path = out.join(&name);
        let f = create_private_file(&path)?;
        let enc = image::codecs::png::PngEncoder::new_with_quality(
            BufWriter::new(f),
            image::codecs::png::CompressionType::Fast,
            image::codecs::png::FilterType::Sub,
        );
        let color = if s.channels == 3 { image::ExtendedColorType::Rgb8 } else { image::ExtendedColorType::L8 };
        image::ImageEncoder::write_image(enc, &s.pixels, s.width, s.height, color)
            .map_err(|e| Error::io_at(&path, std::io::Error::other(e)))?;
        if let Some(fr) = rec.fields.get_mut(&s.field) {
            fr.snippet = Some(name);
        }
    }
    Ok(())
}

/// Eight hex digits of a SHA-256 of the scan's file name and page: what makes a card photo's
/// file name unique per scan (the same scan always gets the same tag).
pub fn scan_tag(source: &SourceRef) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("{}#{}", source.file, source.page).as_bytes());
    d[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// Completes the photo reading with the person (rule 2 needs the age) and writes the card
/// photo: `photos/<school>/<ID number>-<scan tag>.jpg` when every check passed,
/// `photos-review/...` when one failed, `.../unmatched/<run>-<serial>-<scan tag>.jpg` when the
/// form's person is unknown (see [`scan_tag`]).
fn save_photo(engine: &Engine, opts: &BatchOptions, rec: &mut PageRecord) -> Result<()> {
    let (Some(photo), Some(form)) = (rec.photo.as_mut(), rec.form.as_ref()) else { return Ok(()) };
    let popts = &engine.options().photo;
    let person = opts.people.as_ref().and_then(|l| l.person(&form.run, &form.serial));
    let age = person.as_ref().and_then(|p| p.birth_date).map(|b| b.age_on(popts.reference_date));
    photo.apply_age(age, form.photo_printed, popts);
    let Some(data) = photo.data.take() else { return Ok(()) };
    let top = if photo.failed.is_empty() { "photos" } else { "photos-review" };
    let (folder, stem) = match &person {
        Some(p) => (crate::lookup::safe_name(&p.school), crate::lookup::safe_name(&p.id_number)),
        None => ("unmatched".to_string(), crate::lookup::safe_name(&format!("{}-{}", form.run, form.serial))),
    };
    // Two scans of one form (a rescan, a copy in another file) each keep their own photo: the
    // name carries a tag of the scan (file and page), stable across reruns.
    let rel = format!("{top}/{folder}/{stem}-{}.jpg", scan_tag(&rec.source));
    create_private_dir(&opts.out_dir.join(top))?;
    let dir = opts.out_dir.join(top).join(&folder);
    create_private_dir(&dir)?;
    let path = opts.out_dir.join(&rel);
    let mut f = create_private_file(&path)?;
    f.write_all(&data).map_err(|e| Error::io_at(&path, e))?;
    photo.file = Some(rel);
    Ok(())
}

fn one_page(
    worker: &mut Worker,
    engine: &Engine,
    page: &crate::decode::PageSource,
    file: &str,
    opts: &BatchOptions,
) -> PageRecord {
    let src = SourceRef { file: file.to_string(), page: page.index() };
    let t = Instant::now();
    let image = match crate::decode::decode_page(page, &engine.options().decode) {
        Ok(i) => i,
        Err(e) => {
            let reason =
                if matches!(e, Error::Limits { .. }) { RejectReason::Limits } else { RejectReason::UnreadableFile };
            let mut r = PageRecord::rejected(src, reason, e.to_string());
            r.timing_ms.decode = t.elapsed().as_secs_f64() * 1000.0;
            r.timing_ms.total = r.timing_ms.decode;
            return r;
        }
    };
    let decode_ms = t.elapsed().as_secs_f64() * 1000.0;
    let (mut rec, snippets) = worker.process(image, src);
    rec.timing_ms.decode = decode_ms;
    rec.timing_ms.total += decode_ms;
    if let Err(e) = save_photo(engine, opts, &mut rec) {
        rec.findings.push(crate::audit::Finding {
            code: "photo_not_saved".into(),
            subject: String::new(),
            message: e.to_string(),
            message_zh: "照片未能保存".into(),
        });
    }
    if opts.snippets {
        if let Err(e) = save_snippets(&opts.out_dir, &mut rec, snippets) {
            // The page was read; a snippet that cannot be saved is noted, not fatal.
            rec.findings.push(crate::audit::Finding {
                code: "snippet_not_saved".into(),
                subject: String::new(),
                message: e.to_string(),
                message_zh: "字段图像未能保存".into(),
            });
        }
    }
    rec
}

/// Observes a batch: chooses which files to process and receives every finished page, e.g.
/// to write them to a campaign store ([`crate::campaign::intake`]). Called from worker
/// threads.
pub trait BatchHook: Sync {
    /// Whether to process `path`; false skips it (e.g. already recorded). Default: all.
    fn wanted(&self, _path: &Path) -> bool {
        true
    }
    /// Receives a page's record after it was written to the outputs; an error stops the batch.
    fn page(&self, _path: &Path, _rec: &PageRecord) -> Result<()> {
        Ok(())
    }
    /// Every page of `path` has been passed to [`BatchHook::page`].
    fn file_done(&self, _path: &Path, _pages: usize) -> Result<()> {
        Ok(())
    }
}

struct NoHook;
impl BatchHook for NoHook {}

/// Processes every page of `inputs` (files or folders) into `opts.out_dir`. `progress` is
/// called with (files done, files total) as files finish. Fails only when outputs cannot be
/// written or an input path does not exist; bad pages are recorded, never fatal.
pub fn run(
    engine: &Engine,
    inputs: &[PathBuf],
    opts: &BatchOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Summary> {
    run_with(engine, inputs, opts, progress, &NoHook)
}

/// [`run`], with a [`BatchHook`] that may skip files and sees every page.
pub fn run_with(
    engine: &Engine,
    inputs: &[PathBuf],
    opts: &BatchOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
    hook: &dyn BatchHook,
) -> Result<Summary> {
    let start = Instant::now();
    let files = crate::decode::list_inputs(inputs)?;
    create_private_dir(&opts.out_dir)?;
    let jsonl = BufWriter::new(create_private_file(&opts.out_dir.join("records.jsonl"))?);
    let csv_path = opts.out_dir.join("records.csv");
    let mut csv_file = BufWriter::new(create_private_file(&csv_path)?);
    // A byte-order mark, so that Excel opens the UTF-8 file as UTF-8.
    csv_file.write_all("\u{feff}".as_bytes()).map_err(|e| Error::io_at(&csv_path, e))?;
    let mut csv = csv::Writer::from_writer(csv_file);
    let t = &engine.templates()[0];
    let mut columns: Vec<(String, Column)> = t
        .fields
        .iter()
        .filter(|f| !matches!(f.kind, FieldKind::Barcode | FieldKind::Printed { .. } | FieldKind::Checkbox { .. }))
        .map(|f| (f.name.clone(), Column::State))
        .collect();
    columns.extend(t.groups.iter().map(|g| (g.name.clone(), Column::Group)));
    // Comb fields: the characters read and their status, after the states.
    for f in t.fields.iter().filter(|f| matches!(f.kind, FieldKind::Comb { .. })) {
        columns.push((f.name.clone(), Column::CombValue));
        columns.push((f.name.clone(), Column::CombStatus));
    }
    let mut header: Vec<String> = ["file", "page_index", "template", "run", "serial", "page", "status", "findings"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    header.extend(columns.iter().map(|(name, col)| match col {
        Column::CombValue => format!("{name}_value"),
        Column::CombStatus => format!("{name}_status"),
        _ => name.clone(),
    }));
    csv.write_record(&header)
        .map_err(|e| Error::Io { path: Some(csv_path.clone()), source: std::io::Error::other(e) })?;
    let sink = Mutex::new(Sink {
        jsonl,
        csv,
        columns,
        summary: Summary { files: files.len(), threads: rayon::current_num_threads(), ..Default::default() },
        times: StageTimes::default(),
    });
    let done = std::sync::atomic::AtomicUsize::new(0);
    let write_err: Mutex<Option<Error>> = Mutex::new(None);
    let fail = |e: Error| {
        write_err.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
    };
    let emit = |path: &Path, rec: PageRecord| {
        let written = sink.lock().unwrap_or_else(|e| e.into_inner()).write(&rec);
        if let Err(e) = written.and_then(|_| hook.page(path, &rec)) {
            fail(e);
        }
    };
    let skipped = std::sync::atomic::AtomicUsize::new(0);
    files.par_iter().for_each_init(
        || engine.worker(),
        |worker, path| {
            let name = path.display().to_string();
            if !hook.wanted(path) {
                skipped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1, files.len());
                return;
            }
            let n = match engine.open(path) {
                Err(e) => {
                    let reason = if matches!(e, Error::Limits { .. }) {
                        RejectReason::Limits
                    } else {
                        RejectReason::UnreadableFile
                    };
                    emit(path, PageRecord::rejected(SourceRef { file: name.clone(), page: 0 }, reason, e.to_string()));
                    1
                }
                Ok(pages) if pages.len() == 1 => {
                    emit(path, one_page(worker, engine, &pages[0], &name, opts));
                    1
                }
                Ok(pages) => {
                    pages
                        .par_iter()
                        .for_each_init(|| engine.worker(), |w, p| emit(path, one_page(w, engine, p, &name, opts)));
                    pages.len()
                }
            };
            if let Err(e) = hook.file_done(path, n) {
                fail(e);
            }
            progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1, files.len());
        },
    );
    if let Some(e) = write_err.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    let mut sink = sink.into_inner().unwrap_or_else(|e| e.into_inner());
    sink.csv.flush().map_err(|e| Error::io_at(&csv_path, e))?;
    let mut summary = sink.summary;
    summary.skipped_files = skipped.into_inner();
    let n = summary.pages_in.max(1) as f64;
    let t = &sink.times;
    summary.stage_ms_mean = StageTimes {
        decode: t.decode / n,
        register: t.register / n,
        identify: t.identify / n,
        fields: t.fields / n,
        photo: t.photo / n,
        digits: t.digits / n,
        total: t.total / n,
    };
    summary.elapsed_s = start.elapsed().as_secs_f64();
    summary.pages_per_s = summary.pages_in as f64 / summary.elapsed_s.max(1e-9);
    let sp = opts.out_dir.join("summary.json");
    let mut f = create_private_file(&sp)?;
    f.write_all(serde_json::to_string_pretty(&summary).map_err(|e| Error::input(e.to_string()))?.as_bytes())
        .map_err(|e| Error::io_at(&sp, e))?;
    Ok(summary)
}
