//! The campaign store's import of a scan file: `formscan_campaign::intake::process` with a
//! `SqliteStore`, on one input file holding the fuzz bytes, then a second time on the same file
//! (a rerun must skip it and keep what the first run stored).
//!
//! Each run starts from a copy of a store made once per process, which holds one print run:
//! run `RDEMO`, serial `000007`, printed for `formscan_synth::sample_person(7)`, the form that
//! `formscan_synth::simulate_one(_, &sample_person(7), 7, _)` draws (the seed `form-7-150dpi.jpg`), so a
//! scan that still reads is matched to its person and audited.
//!
//! Checked: no panic; intake never fails on a bad scan (a bad file is a rejected page, not an
//! error); every page gets exactly one outcome, and the store holds as many pages as the batch
//! counted; the rerun skips the file and stores nothing new.
//!
//! Kept fast: smaller decode limits (2.5 Mpx, 1 MiB, 4 pages), no snippets, rayon on one
//! thread.
#![no_main]

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use formscan::batch::BatchOptions;
use formscan::decode::DecodeLimits;
use formscan::domain::Date;
use formscan::{Engine, EngineOptions};
use formscan_campaign::intake;
use formscan_campaign::store::{PrintedForm, SqliteStore, Store};
use libfuzzer_sys::fuzz_target;

struct Setup {
    engine: Engine,
    /// The store every run starts from (closed; copied per run).
    store: PathBuf,
    dir: &'static Path,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let _ = rayon::ThreadPoolBuilder::new().num_threads(1).build_global();
        let decode = DecodeLimits { max_file_bytes: 1 << 20, max_pixels: 2_500_000, max_pages: 4 };
        let engine = Engine::new(EngineOptions { decode, ..EngineOptions::default() });
        let dir = common::scratch("intake");
        let path = dir.join("template.db");
        {
            let mut store = SqliteStore::open(&path, Some(Date::new(2025, 9, 1))).expect("template store");
            let form =
                PrintedForm { serial: "000007".into(), person: formscan_synth::sample_person(7), photo_printed: false };
            store.record_print_run("RDEMO", &engine.templates()[0].id, &[form]).expect("print run");
        }
        Setup { engine, store: path, dir }
    })
}

fuzz_target!(|data: &[u8]| {
    let s = setup();
    let run = s.dir.join("run");
    let _ = std::fs::remove_dir_all(&run);
    std::fs::create_dir_all(run.join("in")).expect("scratch folder");
    let db = run.join("campaign.db");
    std::fs::copy(&s.store, &db).expect("store copy");
    let scan = run.join("in").join("scan");
    std::fs::write(&scan, data).expect("scratch file");
    let opts = BatchOptions { out_dir: run.join("out"), snippets: false };
    let inputs = [scan];

    let mut store = SqliteStore::open(&db, None).expect("store opens");
    let first = intake::process(&mut store, &s.engine, &inputs, &opts, &|_, _| {}).expect("intake of one file");
    let b = &first.batch;
    assert_eq!(b.files, 1);
    assert!(b.pages_in >= 1, "a file gets at least one outcome");
    assert_eq!(b.pages_in, b.read + b.blank + b.covers + b.rejected, "one outcome per page: {b:?}");
    let counts = store.counts().expect("counts");
    assert_eq!(counts.pages, b.pages_in, "the store holds every page");
    assert_eq!(counts.files, 1);

    let second = intake::process(&mut store, &s.engine, &inputs, &opts, &|_, _| {}).expect("rerun");
    assert_eq!(second.already_done, 1, "a rerun skips a finished file");
    assert_eq!(second.batch.pages_in, b.pages_in, "a rerun keeps the earlier records");
    assert_eq!(store.counts().expect("counts"), counts, "a rerun stores nothing new");
});
