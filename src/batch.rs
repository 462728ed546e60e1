//! Batch processing of scan folders: every page of every input gets exactly one record.
//!
//! Files are processed in parallel with rayon (pages of a multi-page file too), each thread
//! with its own [`Worker`] and its buffers. Records are appended to `records.jsonl` and
//! written as each page finishes, one whole line in one write, so a crash loses at most the
//! pages in flight; `records.csv` gets one row per read form, `snippets/` the images of
//! written fields, and `summary.json` the totals at the end.
//!
//! # What a rerun leaves
//!
//! * A plain run ([`run`]) *rewrites* the output folder's records: `records.jsonl`,
//!   `records.csv` and `summary.json` describe the pages of this run.
//! * A run with a campaign store (`formscan_campaign::intake`) *continues* them: the records of
//!   files the store has completed are kept (each page once: a line cut short by a kill, or
//!   a page of a file that was not finished, is dropped, and that file is read again), the
//!   rest is appended, and `records.csv` and `summary.json` are rebuilt over all of them. So
//!   after any number of interrupted runs and a last complete one, the folder describes every
//!   page of the campaign folder exactly once, and the exit status covers them all.
//!
//! # Output safety
//!
//! Everything is owner-only ([`crate::output`]). One process at a time writes a folder: a second
//! run on it is refused (`.formscan.lock`). Photos, snippets, `records.csv` and `summary.json`
//! are written under a temporary name and renamed when complete. The first write that fails
//! (a full disk, a read-only folder) stops the batch with an error naming the file; pages not
//! yet recorded are left for the rerun, and no partial file is left under a final name.

use crate::engine::{Engine, Worker};
use crate::error::{Error, Result};
use crate::fields::Snippet;
use crate::output::{private_dir, write_atomic, AtomicFile};
use crate::record::{GroupState, Outcome, PageRecord, RejectReason, SourceRef, StageTimes};
use crate::template::FieldKind;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufRead, Write};
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
    /// Pages kept from earlier runs into this folder (a resumed campaign run): counted in the
    /// totals above, not in the times and rates, which are this run's.
    pub earlier_pages: usize,
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

/// Where finished pages go: `records.jsonl`, then the totals and `records.csv`.
struct Sink {
    jsonl: File,
    jsonl_path: PathBuf,
    /// Bytes of `records.jsonl` that hold whole lines: where a failed write is cut back to.
    jsonl_len: u64,
    tally: Tally,
    times: StageTimes,
}

/// The totals and `records.csv`, over every page the folder describes.
struct Tally {
    csv: csv::Writer<AtomicFile>,
    columns: Vec<(String, Column)>,
    summary: Summary,
}

impl Sink {
    /// Appends a page of this run: its JSON line, then its totals and CSV row.
    fn write(&mut self, rec: &PageRecord) -> Result<()> {
        let mut line = serde_json::to_string(rec).map_err(|e| Error::input(e.to_string()))?;
        line.push('\n');
        if let Err(e) = self.jsonl.write_all(line.as_bytes()) {
            // A line cut short (a full disk) is taken back, so the file holds whole lines only.
            let _ = self.jsonl.set_len(self.jsonl_len);
            return Err(Error::io_at(&self.jsonl_path, e));
        }
        self.jsonl_len += line.len() as u64;
        let t = &mut self.times;
        t.decode += rec.timing_ms.decode;
        t.register += rec.timing_ms.register;
        t.identify += rec.timing_ms.identify;
        t.fields += rec.timing_ms.fields;
        t.photo += rec.timing_ms.photo;
        t.digits += rec.timing_ms.digits;
        t.names += rec.timing_ms.names;
        t.total += rec.timing_ms.total;
        self.tally.add(rec)
    }
}

impl Tally {
    /// Counts a page in the totals and writes its `records.csv` row.
    fn add(&mut self, rec: &PageRecord) -> Result<()> {
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
        if let Some(f) = rec.photo.as_ref().and_then(|p| p.file.as_deref()) {
            if f.starts_with("photos/") {
                s.photos_written += 1;
            } else {
                s.photos_review += 1;
            }
        }
        if rec.outcome == Outcome::Read {
            let row = csv_row(rec, &self.columns);
            let path = self.csv.get_ref().path().to_path_buf();
            self.csv.write_record(&row).map_err(|e| Error::io_at(&path, std::io::Error::other(e)))?;
        }
        Ok(())
    }
}

/// A read page's `records.csv` row. Text from the roster or the file system goes through
/// [`crate::output::spreadsheet_safe`]: the file is made to be opened in a spreadsheet.
fn csv_row(rec: &PageRecord, columns: &[(String, Column)]) -> Vec<String> {
    let safe = |s: &str| crate::output::spreadsheet_safe(s).into_owned();
    let form = rec.form.as_ref();
    let mut row = vec![
        safe(&rec.source.file),
        rec.source.page.to_string(),
        form.map(|f| safe(&f.template)).unwrap_or_default(),
        form.map(|f| safe(&f.run)).unwrap_or_default(),
        form.map(|f| safe(&f.serial)).unwrap_or_default(),
        form.map(|f| f.page.to_string()).unwrap_or_default(),
        if rec.findings.is_empty() { "pass".into() } else { "review".into() },
        safe(&rec.findings.iter().map(|f| format!("{}:{}", f.code, f.subject)).collect::<Vec<_>>().join(" ")),
    ];
    for (name, col) in columns {
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
                        if g.state == GroupState::None {
                            String::new()
                        } else {
                            g.state.as_str().to_string()
                        }
                    })
                })
                .unwrap_or_default()
        } else {
            rec.fields
                .get(name)
                .map(|f| {
                    serde_json::to_value(f.state).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
                })
                .unwrap_or_default()
        };
        row.push(safe(&v));
    }
    row
}

fn save_snippets(out: &Path, rec: &mut PageRecord, snippets: Vec<Snippet>) -> Result<()> {
    let Some(form) = &rec.form else { return Ok(()) };
    if snippets.is_empty() {
        return Ok(());
    }
    let rel = snippet_folder(&form.run, &form.serial, form.page, &rec.source);
    let dir = out.join(&rel);
    private_dir(&dir)?;
    let mut png = Vec::new();
    for s in snippets {
        let name = format!("{rel}/{}.png", crate::output::unique_file_name(&s.field));
        let path = out.join(&name);
        png.clear();
        let enc = image::codecs::png::PngEncoder::new_with_quality(
            &mut png,
            image::codecs::png::CompressionType::Fast,
            image::codecs::png::FilterType::Sub,
        );
        let color = if s.channels == 3 { image::ExtendedColorType::Rgb8 } else { image::ExtendedColorType::L8 };
        image::ImageEncoder::write_image(enc, &s.pixels, s.width, s.height, color)
            .map_err(|e| Error::io_at(&path, std::io::Error::other(e)))?;
        write_atomic(&path, &png)?;
        if let Some(fr) = rec.fields.get_mut(&s.field) {
            fr.snippet = Some(name);
        }
    }
    Ok(())
}

/// The folder, relative to the output folder, that holds the snippets of one scan of a form
/// page: `snippets/<run>-<serial>-p<page>-<scan tag>` (see [`scan_tag`]). Two scans of one
/// form (a rescan, a second copy) each keep their own images, so a record's snippets always
/// show the scan it was read from; a rerun writes the same names again.
pub fn snippet_folder(run: &str, serial: &str, page: u32, source: &SourceRef) -> String {
    // Run and serial come from the page's code, which a hostile page could fill with `../`;
    // the tag is hex digits, and always the last nine characters.
    let form_page = crate::output::unique_file_name(&format!("{run}-{serial}-p{page}"));
    format!("snippets/{form_page}-{}", scan_tag(source))
}

/// Eight hex digits of a SHA-256 of the scan's file name and page: what makes a card photo's
/// file name unique per scan (the same scan always gets the same tag).
pub fn scan_tag(source: &SourceRef) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("{}#{}", source.file, source.page).as_bytes());
    d[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes the card photo the engine cut: `photos/<school>/<ID number>-<scan tag>.jpg` when
/// every check passed, `photos-review/...` when one failed, `.../unmatched/<run>-<serial>-<scan
/// tag>.jpg` when the engine's person lookup does not know the form (see [`scan_tag`]). The
/// school's folder is [`crate::output::unique_file_name`] of its name, so two schools never
/// share one. The reading itself (requirement, checks, findings) is the engine's.
fn save_photo(engine: &Engine, opts: &BatchOptions, rec: &mut PageRecord) -> Result<()> {
    let (Some(photo), Some(form)) = (rec.photo.as_mut(), rec.form.as_ref()) else { return Ok(()) };
    let Some(data) = photo.data.take() else { return Ok(()) };
    let top = if photo.failed.is_empty() { "photos" } else { "photos-review" };
    let person = engine.people().and_then(|l| l.person(&form.run, &form.serial));
    let (folder, stem) = match &person {
        Some(p) => (crate::output::unique_file_name(&p.school), crate::lookup::safe_name(&p.id_number)),
        None => ("unmatched".to_string(), crate::lookup::safe_name(&format!("{}-{}", form.run, form.serial))),
    };
    // Two scans of one form (a rescan, a copy in another file) each keep their own photo: the
    // name carries a tag of the scan (file and page), stable across reruns.
    let rel = format!("{top}/{folder}/{stem}-{}.jpg", scan_tag(&rec.source));
    private_dir(&opts.out_dir.join(top).join(&folder))?;
    write_atomic(&opts.out_dir.join(&rel), &data)?;
    photo.file = Some(rel);
    Ok(())
}

/// Reads one page and writes its photo and snippets. `Err` only when an output file cannot be
/// written: the batch stops there (the page is not recorded, so a rerun reads it again).
fn one_page(
    worker: &mut Worker,
    engine: &Engine,
    page: &crate::decode::PageSource,
    file: &str,
    opts: &BatchOptions,
) -> Result<PageRecord> {
    let src = SourceRef { file: file.to_string(), page: page.index() };
    let t = Instant::now();
    let scan = match worker.decode(page) {
        Ok(s) => s,
        Err(e) => {
            let reason =
                if matches!(e, Error::Limits { .. }) { RejectReason::Limits } else { RejectReason::UnreadableFile };
            let mut r = PageRecord::rejected(src, reason, e.to_string());
            r.timing_ms.decode = t.elapsed().as_secs_f64() * 1000.0;
            r.timing_ms.total = r.timing_ms.decode;
            return Ok(r);
        }
    };
    let decode_ms = t.elapsed().as_secs_f64() * 1000.0;
    let (mut rec, snippets) = worker.process_scan(&scan, src);
    worker.recycle(scan);
    rec.timing_ms.decode = decode_ms;
    rec.timing_ms.total += decode_ms;
    save_photo(engine, opts, &mut rec)?;
    if opts.snippets {
        save_snippets(&opts.out_dir, &mut rec, snippets)?;
    }
    Ok(rec)
}

/// Observes a batch: chooses which files to process and receives every finished page, e.g.
/// to write them to a campaign store (`formscan_campaign::intake`). Called from worker
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
    /// Whether a record that an earlier run left in the output folder's `records.jsonl` still
    /// stands (its file will not be read again), so that it is kept rather than rewritten.
    /// Default: none is kept, the folder is rewritten.
    fn keep_earlier(&self, _rec: &PageRecord) -> bool {
        false
    }
    /// Whether [`BatchHook::keep_earlier`] may keep anything; false (the default) spares a
    /// rewriting run the reading of the old `records.jsonl`.
    fn keeps_earlier(&self) -> bool {
        false
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

/// Name of the lock file that marks an output folder in use.
pub const LOCK_FILE: &str = ".formscan.lock";

/// [`run`], with a [`BatchHook`] that may skip files, keep earlier records and sees every page.
pub fn run_with(
    engine: &Engine,
    inputs: &[PathBuf],
    opts: &BatchOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
    hook: &dyn BatchHook,
) -> Result<Summary> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
    let start = Instant::now();
    let files = crate::decode::list_inputs(inputs)?;
    private_dir(&opts.out_dir)?;
    let what = format!("output folder {}", opts.out_dir.display());
    let _lock = crate::output::Lock::acquire(&opts.out_dir.join(LOCK_FILE), &what, "process")?;
    let csv_path = opts.out_dir.join("records.csv");
    let mut csv_file = AtomicFile::create(&csv_path)?;
    // A byte-order mark, so that Excel opens the UTF-8 file as UTF-8.
    csv_file.write_all("\u{feff}".as_bytes()).map_err(|e| Error::io_at(&csv_path, e))?;
    let mut csv = csv::Writer::from_writer(csv_file);
    let columns = csv_columns(engine);
    let mut header: Vec<String> = ["file", "page_index", "template", "run", "serial", "page", "status", "findings"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    header.extend(columns.iter().map(|(name, col)| match col {
        Column::CombValue => format!("{name}_value"),
        Column::CombStatus => format!("{name}_status"),
        _ => name.clone(),
    }));
    csv.write_record(&header).map_err(|e| Error::io_at(&csv_path, std::io::Error::other(e)))?;
    let summary = Summary { files: files.len(), threads: rayon::current_num_threads(), ..Default::default() };
    let mut tally = Tally { csv, columns, summary };
    let jsonl_path = opts.out_dir.join("records.jsonl");
    let (jsonl, jsonl_len) = keep_earlier_records(&jsonl_path, hook, &mut tally)?;
    tally.summary.earlier_pages = tally.summary.pages_in;
    let sink = Mutex::new(Sink { jsonl, jsonl_path, jsonl_len, tally, times: StageTimes::default() });
    let done = AtomicUsize::new(0);
    let stopped = AtomicBool::new(false);
    let write_err: Mutex<Option<Error>> = Mutex::new(None);
    let fail = |e: Error| {
        stopped.store(true, Relaxed);
        write_err.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
    };
    let emit = |path: &Path, rec: Result<PageRecord>| {
        let rec = match rec {
            Ok(rec) => rec,
            Err(e) => return fail(e),
        };
        if stopped.load(Relaxed) {
            return; // the batch is stopping: nothing more is recorded
        }
        let written = sink.lock().unwrap_or_else(|e| e.into_inner()).write(&rec);
        if let Err(e) = written.and_then(|_| hook.page(path, &rec)) {
            fail(e);
        }
    };
    let skipped = AtomicUsize::new(0);
    // The pages run in the name recogniser's pool, so that each worker runs the network on its
    // own thread (model::text_line::LineThread).
    let line = crate::model::text_line::LineThread::with_threads(rayon::current_num_threads());
    let workers = engine.worker_pool().with_line_thread(line.clone());
    line.run(|| {
        files.par_iter().for_each_init(
            || workers.get(),
            |worker, path| {
                if stopped.load(Relaxed) {
                    return;
                }
                let name = crate::decode::path_label(path);
                if !hook.wanted(path) {
                    skipped.fetch_add(1, Relaxed);
                    progress(done.fetch_add(1, Relaxed) + 1, files.len());
                    return;
                }
                let n = match engine.open(path) {
                    Err(e) => {
                        let reason = if matches!(e, Error::Limits { .. }) {
                            RejectReason::Limits
                        } else {
                            RejectReason::UnreadableFile
                        };
                        let src = SourceRef { file: name.clone(), page: 0 };
                        emit(path, Ok(PageRecord::rejected(src, reason, e.to_string())));
                        1
                    }
                    Ok(pages) if pages.len() == 1 => {
                        emit(path, one_page(worker, engine, &pages[0], &name, opts));
                        1
                    }
                    Ok(pages) => {
                        pages
                            .par_iter()
                            .for_each_init(|| workers.get(), |w, p| emit(path, one_page(w, engine, p, &name, opts)));
                        pages.len()
                    }
                };
                if stopped.load(Relaxed) {
                    return; // the file may be incomplete: it is not marked done
                }
                if let Err(e) = hook.file_done(path, n) {
                    fail(e);
                }
                progress(done.fetch_add(1, Relaxed) + 1, files.len());
            },
        )
    });
    if let Some(e) = write_err.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    let sink = sink.into_inner().unwrap_or_else(|e| e.into_inner());
    sink.tally.csv.into_inner().map_err(|e| Error::io_at(&csv_path, std::io::Error::other(e.to_string())))?.commit()?;
    let mut summary = sink.tally.summary;
    summary.skipped_files = skipped.into_inner();
    let this_run = summary.pages_in - summary.earlier_pages;
    let n = this_run.max(1) as f64;
    let t = &sink.times;
    summary.stage_ms_mean = StageTimes {
        decode: t.decode / n,
        register: t.register / n,
        identify: t.identify / n,
        fields: t.fields / n,
        photo: t.photo / n,
        digits: t.digits / n,
        names: t.names / n,
        total: t.total / n,
    };
    summary.elapsed_s = start.elapsed().as_secs_f64();
    summary.pages_per_s = this_run as f64 / summary.elapsed_s.max(1e-9);
    let json = serde_json::to_string_pretty(&summary).map_err(|e| Error::input(e.to_string()))?;
    write_atomic(&opts.out_dir.join("summary.json"), json.as_bytes())?;
    Ok(summary)
}

/// The `records.csv` columns after the fixed ones, from the first template.
fn csv_columns(engine: &Engine) -> Vec<(String, Column)> {
    let t = &engine.templates()[0];
    let mut columns: Vec<(String, Column)> = t
        .fields
        .iter()
        .filter(|f| !matches!(f.kind, FieldKind::Barcode | FieldKind::Printed { .. } | FieldKind::Checkbox { .. }))
        .map(|f| (f.name.clone(), Column::State))
        .collect();
    columns.extend(t.groups.iter().map(|g| (g.name.clone(), Column::Group)));
    // Comb and text fields: the characters (or name) read and their status, after the states.
    for f in t.fields.iter().filter(|f| matches!(f.kind, FieldKind::Comb { .. } | FieldKind::Text)) {
        columns.push((f.name.clone(), Column::CombValue));
        columns.push((f.name.clone(), Column::CombStatus));
    }
    columns
}

/// Starts `records.jsonl` for this run and returns it open for appending. Records an earlier
/// run left there are kept when the hook says they still stand ([`BatchHook::keep_earlier`]),
/// each (file, page) once, and counted into `tally`; a line that does not parse (cut short by
/// a kill) is dropped. The kept lines are written to a new file that replaces the old one
/// whole. Returns the file and its length.
fn keep_earlier_records(path: &Path, hook: &dyn BatchHook, tally: &mut Tally) -> Result<(File, u64)> {
    let mut kept = AtomicFile::create(path)?;
    let mut len = 0u64;
    if let Some(old) = hook.keeps_earlier().then(|| File::open(path).ok()).flatten() {
        let mut seen: HashSet<(String, usize)> = HashSet::new();
        for line in std::io::BufReader::new(old).split(b'\n') {
            let line = line.map_err(|e| Error::io_at(path, e))?;
            let Ok(rec) = serde_json::from_slice::<PageRecord>(&line) else { continue };
            if !hook.keep_earlier(&rec) || !seen.insert((rec.source.file.clone(), rec.source.page)) {
                continue;
            }
            kept.write_all(&line).and_then(|_| kept.write_all(b"\n")).map_err(|e| Error::io_at(path, e))?;
            len += line.len() as u64 + 1;
            tally.add(&rec)?;
        }
    }
    kept.commit()?;
    let f = std::fs::OpenOptions::new().append(true).open(path).map_err(|e| Error::io_at(path, e))?;
    Ok((f, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scan_of_a_form_page_has_a_snippet_folder_of_its_own() {
        let scan = |file: &str, page| SourceRef { file: file.to_string(), page };
        let a = snippet_folder("R1", "000001", 1, &scan("wave1/a.jpg", 0));
        assert_eq!(a, format!("snippets/R1-000001-p1-{}", scan_tag(&scan("wave1/a.jpg", 0))));
        assert_eq!(a, snippet_folder("R1", "000001", 1, &scan("wave1/a.jpg", 0)), "a rerun names it the same");
        assert_ne!(a, snippet_folder("R1", "000001", 1, &scan("wave2/a.jpg", 0)), "a rescan");
        assert_ne!(a, snippet_folder("R1", "000001", 1, &scan("wave1/a.jpg", 1)), "another page of the file");
        // A page's code is untrusted: it never names a folder outside `snippets/`.
        let hostile = snippet_folder("../..", "/etc", 1, &scan("x.jpg", 0));
        assert!(hostile.starts_with("snippets/") && !hostile["snippets/".len()..].contains(['/', '.']), "{hostile}");
    }
}
