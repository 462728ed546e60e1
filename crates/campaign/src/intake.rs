//! Crash-safe intake: `process --db` reads a scan folder into the campaign store.
//!
//! * Each file is hashed (SHA-256) before it is decoded. A file whose every page is already
//!   committed is skipped, so rerunning on the same folder does no work twice; the same
//!   content under a second name is recorded as a duplicate file and not read again.
//! * Rayon workers read pages as [`batch::run_with`] does; one writer thread owns the store
//!   and commits what has arrived in one transaction (a page, or a few under load), so the
//!   store costs the workers only a channel send.
//! * A file is marked done in a transaction after all its pages. A kill (SIGKILL) loses at
//!   most uncommitted pages; the rerun reads their files again, and pages already committed
//!   are kept, not duplicated (the (file, page) key is unique).
//! * The output folder is continued, not rewritten: records of completed files are kept,
//!   so it describes every page of the campaign folder once ([`formscan::batch`], "What a rerun
//!   leaves").
//! * One intake at a time per SQLite store ([`Store::claim_writer`]): a second is refused at
//!   once. A server store lets several stations take in one campaign: each file is claimed by
//!   content hash before it is read ([`Store::claim_file`]), so a file given to two stations is
//!   read by one; the other counts it as done or as claimed elsewhere
//!   ([`IntakeSummary::claimed_elsewhere`]).
//! * Each read page is matched to its printed form and person and audited against the
//!   notice's rules ([`crate::rules`]); pages whose serial is unknown or belongs to
//!   another run are stored flagged, never dropped.

use crate::rules::{self, FormContext};
use crate::store::{FileClaim, FileHash, FormMatch, IntakeItem, PageEntry, PageMatch, Store, StoredField};
use formscan::batch::{self, BatchHook, BatchOptions, Summary};
use formscan::error::{Error, Result};
use formscan::record::{Outcome, PageRecord};
use formscan::Engine;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;

/// Most items one transaction takes when pages queue up. Default-free constant: 256 pages
/// is well under a second of work, so a kill costs little to redo.
const MAX_ITEMS_PER_TRANSACTION: usize = 256;

/// What intake did besides the batch totals.
#[derive(Debug, Clone, Default)]
pub struct IntakeSummary {
    /// The batch totals (pages read in this run).
    pub batch: Summary,
    /// Files skipped because every page was already committed.
    pub already_done: usize,
    /// Files whose content was already seen under another name in this run.
    pub duplicate_files: usize,
    /// Files another station was reading when this one came to them (a server store): that
    /// station records them; a rerun here reads any it did not finish.
    pub claimed_elsewhere: usize,
}

enum Msg {
    Page(FileHash, String, Box<PageRecord>),
    Item(IntakeItem),
    /// Claim the file ([`Store::claim_file`]) and answer.
    Claim(FileHash, SyncSender<Result<FileClaim>>),
    /// The file will not be finished in this run: end its claim.
    Release(FileHash),
}

fn hash_file(path: &Path) -> std::io::Result<FileHash> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

struct Hook {
    done: HashSet<FileHash>,
    /// Paths of completed files: their records in the output folder stand.
    done_paths: HashSet<String>,
    claimed: Mutex<HashSet<FileHash>>,
    hashes: Mutex<HashMap<PathBuf, (FileHash, usize)>>,
    tx: SyncSender<Msg>,
    already_done: std::sync::atomic::AtomicUsize,
    duplicates: std::sync::atomic::AtomicUsize,
    elsewhere: std::sync::atomic::AtomicUsize,
    /// The run's output folder, absolute (what the store records).
    out_dir: String,
}

impl Hook {
    fn send(&self, m: Msg) -> Result<()> {
        self.tx
            .send(m)
            .map_err(|_| Error::Io { path: None, source: std::io::Error::other("campaign store writer stopped") })
    }
}

impl BatchHook for Hook {
    fn wanted(&self, path: &Path) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let name = formscan::decode::path_label(path);
        // An unreadable file gets a hash of its name, so its rejection is still recorded once;
        // so does anything but a regular file, which is not even opened (a FIFO would block).
        let content = if formscan::decode::is_regular_file(path) { hash_file(path).ok() } else { None };
        let hash = content.unwrap_or_else(|| Sha256::digest(name.as_bytes()).into());
        if self.send(Msg::Item(IntakeItem::FileSeen { file: hash, path: name })).is_err() {
            return false;
        }
        if self.done.contains(&hash) {
            self.already_done.fetch_add(1, Relaxed);
            return false;
        }
        if !self.claimed.lock().unwrap_or_else(|e| e.into_inner()).insert(hash) {
            self.duplicates.fetch_add(1, Relaxed);
            return false;
        }
        // The store decides between stations: another may be reading the file, or have
        // finished it since this run began.
        let (answer, reply) = sync_channel(1);
        if self.send(Msg::Claim(hash, answer)).is_err() {
            return false;
        }
        match reply.recv() {
            Ok(Ok(FileClaim::Claimed)) => {}
            Ok(Ok(FileClaim::Done)) => {
                self.already_done.fetch_add(1, Relaxed);
                return false;
            }
            Ok(Ok(FileClaim::Elsewhere)) => {
                self.elsewhere.fetch_add(1, Relaxed);
                return false;
            }
            // The writer failed (and reports why) or stopped: the file is not read.
            Ok(Err(_)) | Err(_) => return false,
        }
        self.hashes.lock().unwrap_or_else(|e| e.into_inner()).insert(path.to_path_buf(), (hash, 0));
        true
    }

    fn page(&self, path: &Path, rec: &PageRecord) -> Result<()> {
        let hash = {
            let mut m = self.hashes.lock().unwrap_or_else(|e| e.into_inner());
            let e = m.get_mut(path).ok_or_else(|| Error::input_at(path, "page of a file that was not hashed"))?;
            e.1 += 1;
            e.0
        };
        self.send(Msg::Page(hash, rec.source.file.clone(), Box::new(rec.clone())))
    }

    fn keep_earlier(&self, rec: &PageRecord) -> bool {
        self.done_paths.contains(&rec.source.file)
    }

    fn keeps_earlier(&self) -> bool {
        !self.done_paths.is_empty()
    }

    fn file_done(&self, path: &Path, pages: usize) -> Result<()> {
        let Some((hash, sent)) = self.hashes.lock().unwrap_or_else(|e| e.into_inner()).remove(path) else {
            return Ok(());
        };
        // Only a file whose every page reached the store is done; otherwise a rerun redoes it.
        // Either way its claim ends (after the commit that marks it done).
        if sent == pages {
            let out_dir = self.out_dir.clone();
            self.send(Msg::Item(IntakeItem::FileDone { file: hash, pages, out_dir }))?;
        } else {
            self.send(Msg::Release(hash))?;
        }
        Ok(())
    }
}

fn state_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// Turns a page record into what the store keeps, matching it to its form and auditing it.
/// The run's fixed facts the writer needs besides the store.
struct RunFacts<'a> {
    out_dir: &'a str,
    /// The campaign's reference date, read once when the run starts: the rules and the
    /// engine's person lookup age every page on the same date.
    reference: formscan::domain::Date,
}

fn entry(store: &mut dyn Store, hash: FileHash, path: String, run: &RunFacts, rec: &PageRecord) -> Result<PageEntry> {
    let mut fields: BTreeMap<String, StoredField> = rec
        .fields
        .iter()
        .map(|(n, f)| {
            let status = f.status.as_ref().map(state_name);
            let candidates = f.candidates.iter().map(|c| c.value.clone()).collect();
            (n.clone(), StoredField { state: state_name(&f.state), value: f.value.clone(), status, candidates })
        })
        .collect();
    // The card photo written for this scan (named per scan), so that export copies the photo
    // of the scan that counts.
    if let (Some(file), Some(f)) = (rec.photo.as_ref().and_then(|p| p.file.clone()), fields.get_mut("photo")) {
        f.value = Some(file);
    }
    for (n, g) in &rec.groups {
        let value = g.value.clone().or_else(|| (!g.values.is_empty()).then(|| g.values.join(",")));
        let f = StoredField { state: g.state.as_str().to_string(), value, ..Default::default() };
        fields.insert(format!("group:{n}"), f);
    }
    let mut e = PageEntry {
        file: hash,
        page_index: rec.source.page,
        path,
        out_dir: run.out_dir.to_string(),
        outcome: rec.outcome,
        reject_reason: rec.reject.as_ref().map(|r| r.reason.as_str().to_string()),
        form: rec.form.as_ref().map(|f| (f.run.clone(), f.serial.clone())),
        matched: PageMatch::None,
        person_key: None,
        fields,
        findings: rec.findings.clone(),
        phone: None,
    };
    if let (Outcome::Read, Some(form)) = (rec.outcome, &rec.form) {
        match store.lookup_form(&form.run, &form.serial)? {
            FormMatch::Known { person, photo_printed } => {
                let reference = run.reference;
                let ctx = FormContext { person: &person.person, photo_printed, reference };
                // The batch already made the photo findings it could tell without the
                // campaign (a failed card-photo check): each finding once.
                for f in rules::check_form(rec, &ctx) {
                    if !e.findings.contains(&f) {
                        e.findings.push(f);
                    }
                }
                e.matched = PageMatch::Form;
                e.person_key = Some(person.key);
                e.phone = rules::contact_phone(rec);
            }
            FormMatch::UnknownSerial => e.matched = PageMatch::UnknownSerial,
            FormMatch::UnknownRun => e.matched = PageMatch::UnknownRun,
        }
    }
    Ok(e)
}

fn writer(store: &mut dyn Store, rx: Receiver<Msg>, run: &RunFacts) -> Result<()> {
    let mut items = Vec::new();
    let mut release = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut msgs = vec![first];
        while msgs.len() < MAX_ITEMS_PER_TRANSACTION {
            match rx.try_recv() {
                Ok(m) => msgs.push(m),
                Err(_) => break,
            }
        }
        items.clear();
        release.clear();
        for m in msgs {
            items.push(match m {
                Msg::Page(hash, path, rec) => IntakeItem::Page(Box::new(entry(store, hash, path, run, &rec)?)),
                Msg::Item(i) => {
                    if let IntakeItem::FileDone { file, .. } = &i {
                        release.push(*file);
                    }
                    i
                }
                Msg::Claim(hash, reply) => match store.claim_file(&hash) {
                    Ok(claim) => {
                        let _ = reply.send(Ok(claim));
                        continue;
                    }
                    // The worker skips the file; the batch stops with the store's error.
                    Err(e) => {
                        let _ = reply.send(Err(Error::input("campaign store: the claim failed")));
                        return Err(e);
                    }
                },
                Msg::Release(hash) => {
                    release.push(hash);
                    continue;
                }
            });
        }
        // A wake-up for claims alone writes nothing (on a server, no empty transaction).
        if !items.is_empty() {
            store.commit(&items)?;
        }
        for file in &release {
            store.release_file(file)?;
        }
    }
    Ok(())
}

/// Reads `inputs` into `opts.out_dir` as [`batch::run`] does, and commits every page's
/// outcome, field results and findings to `store`. See the module docs for the guarantees.
pub fn process(
    store: &mut dyn Store,
    engine: &Engine,
    inputs: &[PathBuf],
    opts: &BatchOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<IntakeSummary> {
    store.claim_writer("process")?;
    formscan::output::private_dir(&opts.out_dir)?;
    // Absolute, so that export finds the photos from any working folder.
    let out_dir = std::fs::canonicalize(&opts.out_dir).map_err(|e| Error::io_at(&opts.out_dir, e))?;
    let out_dir = out_dir.display().to_string();
    // Photos are named by the person's ID number and school, and rule 2 needs the age: the
    // store knows every printed form's person, so it is the engine's lookup unless the engine
    // has one. Either way ages are taken on the store's reference date, the one the campaign
    // rules use.
    let reference = store.reference_date()?;
    let people: std::sync::Arc<dyn formscan::lookup::PersonLookup> = match engine.people() {
        Some(given) => {
            std::sync::Arc::new(formscan::lookup::WithReferenceDate { inner: std::sync::Arc::clone(given), reference })
        }
        None => {
            let mut m = formscan::lookup::ManifestLookup::default();
            m.set_reference_date(reference);
            for v in store.persons()? {
                let p = &v.person.person;
                for (run, serial, _) in &v.forms {
                    let info = formscan::lookup::PersonInfo {
                        id_number: p.id_number.clone(),
                        school: p.school.clone(),
                        birth_date: p.birth_date,
                        name: Some(p.name.clone()),
                    };
                    m.insert(run, serial, info);
                }
            }
            std::sync::Arc::new(m)
        }
    };
    let engine = &engine.clone().with_people(people);
    let done = store.completed_files()?;
    let done_paths = store.completed_paths(&out_dir)?;
    let (tx, rx) = sync_channel(1024);
    let hook = Hook {
        done,
        done_paths,
        claimed: Mutex::new(HashSet::new()),
        hashes: Mutex::new(HashMap::new()),
        tx,
        already_done: Default::default(),
        duplicates: Default::default(),
        elsewhere: Default::default(),
        out_dir: out_dir.clone(),
    };
    let (batch, written, already_done, duplicate_files, claimed_elsewhere) = std::thread::scope(|s| {
        let facts = RunFacts { out_dir: &out_dir, reference };
        let w = s.spawn(move || writer(store, rx, &facts));
        let batch = batch::run_with(engine, inputs, opts, progress, &hook);
        let counts = (hook.already_done.into_inner(), hook.duplicates.into_inner(), hook.elsewhere.into_inner());
        // Dropping the hook closes the channel, so the writer commits the rest and ends.
        drop(hook.tx);
        let written = w.join().unwrap_or_else(|_| Err(Error::input("campaign store writer panicked")));
        (batch, written, counts.0, counts.1, counts.2)
    });
    // A store error explains a batch error ("writer stopped"), so it is reported first.
    written?;
    Ok(IntakeSummary { batch: batch?, already_done, duplicate_files, claimed_elsewhere })
}
