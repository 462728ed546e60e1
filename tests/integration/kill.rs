//! Kill tests (issue 14): a `process --db` run is killed with SIGKILL at ten or more random
//! moments, then run to the end; the store and the output folder must then be exactly what an
//! uninterrupted run leaves: every page once in the store and once in `records.jsonl`, the same
//! outcome for every page, and an export identical file for file, byte for byte.
//!
//! The kills need a second process: the test binary runs itself, filtered to this test, with
//! `FORMSCAN_KILL_CHILD` set to the campaign folder; that child only runs intake. Both the
//! uninterrupted run and the interrupted ones read the same folder (`scans/`, `campaign.db`,
//! `read/`), restored from a copy taken after printing, so that file names and paths agree.

use crate::scratch;
use formscan::batch::BatchOptions;
use formscan::record::PageRecord;
use formscan::{Engine, Template};
use formscan_campaign::store::{SqliteStore, Store};
use formscan_campaign::{export, intake};
use formscan_print as print;
use formscan_synth::{self as synth, Degrade, SynthOptions};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHILD: &str = "FORMSCAN_KILL_CHILD";
const TEST: &str = "kill::ten_sigkills_lose_and_double_nothing";
/// Kills that must land while the child is still working.
const KILLS: usize = 10;

fn intake_run(dir: &Path) -> intake::IntakeSummary {
    let mut store = SqliteStore::open(&dir.join("campaign.db"), None).unwrap();
    let opts = BatchOptions { out_dir: dir.join("read"), snippets: true };
    intake::process(&mut store, &Engine::default(), &[dir.join("scans")], &opts, &|_, _| {}).unwrap()
}

fn spawn_child(dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST, "--test-threads=1", "--nocapture"])
        .env(CHILD, dir)
        .env("RAYON_NUM_THREADS", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// What the output folder says of each page: (file, page) → (outcome, serial), each page once.
fn outcomes(read: &Path) -> BTreeMap<(String, usize), String> {
    let text = std::fs::read_to_string(read.join("records.jsonl")).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let r: PageRecord = serde_json::from_str(line).expect("records.jsonl holds whole lines only");
        let what = format!("{:?} {:?} {:?}", r.outcome, r.form.map(|f| f.serial), r.reject.map(|x| x.reason));
        assert!(out.insert((r.source.file, r.source.page), what).is_none(), "a page recorded twice");
    }
    out
}

/// Keying from the scans' truth (kept in `truth/`) and review decisions as a reviewer would
/// take them, then an export into `out`.
fn decide_and_export(dir: &Path, out: &Path) -> export::ExportSummary {
    let mut store = SqliteStore::open(&dir.join("campaign.db"), None).unwrap();
    crate::finish_and_export(&mut store, &dir.join("truth"), out)
}

#[test]
fn ten_sigkills_lose_and_double_nothing() {
    if let Some(dir) = std::env::var_os(CHILD) {
        intake_run(Path::new(&dir));
        return;
    }
    let dir = scratch("kill");
    let t = Template::sbk_student();
    let mut persons = synth::roster(24, 77);
    for (i, p) in persons.iter_mut().enumerate() {
        if i % 2 == 0 {
            p.photo = Some(format!("face:{i}"));
        }
    }
    let lines: Vec<(usize, _)> = persons.into_iter().enumerate().map(|(i, p)| (i + 2, p)).collect();
    let pr = print::plan_run(&t, &lines, Some("RKILL"), &dir);
    let opts = SynthOptions { dpi: 200.0, degrade: Degrade::Mild, seed: 11, blank_backs: 0.15, ..Default::default() };
    let scans = dir.join("scans");
    drop(crate::store_and_scan(&pr, &dir.join("campaign.db"), synth::REFERENCE_DATE, &opts, &scans));
    // The simulator's truth is not a scan: it goes beside the scans, for the keyers.
    std::fs::create_dir_all(dir.join("truth")).unwrap();
    for e in std::fs::read_dir(&scans).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            std::fs::rename(&p, dir.join("truth").join(p.file_name().unwrap())).unwrap();
        }
    }
    let pages = std::fs::read_dir(&scans).unwrap().count();
    let pristine = dir.join("pristine");
    std::fs::create_dir_all(&pristine).unwrap();
    std::fs::copy(dir.join("campaign.db"), pristine.join("campaign.db")).unwrap();

    // The uninterrupted run, in a child as the killed ones are, timed.
    let start = Instant::now();
    let status = spawn_child(&dir).wait().unwrap();
    let full_run = start.elapsed();
    assert!(status.success());
    let want_outcomes = outcomes(&dir.join("read"));
    assert_eq!(want_outcomes.len(), pages);
    let want_export = decide_and_export(&dir, &dir.join("export"));
    assert!(want_export.persons >= 8, "only {} persons exported: the comparison proves little", want_export.persons);
    let want_tree = crate::tree(&dir.join("export"));

    // Start-up alone: the child on a finished campaign, which must do no work.
    let start = Instant::now();
    assert!(spawn_child(&dir).wait().unwrap().success());
    let idle = start.elapsed().as_secs_f64();
    assert_eq!(outcomes(&dir.join("read")), want_outcomes, "a rerun on a finished campaign changes nothing");

    // The same campaign again, killed ten times. Each kill comes at a random moment: during
    // start-up (a random delay before the run's first commit), or a random 0–40 ms after the
    // run has committed one or two more pages, so that kills land while pages are decoded,
    // committed to the store and written to the output folder, and all ten cut one intake.
    for p in ["read", "export"] {
        let _ = std::fs::remove_dir_all(dir.join(p));
    }
    for f in ["campaign.db-wal", "campaign.db-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    std::fs::copy(pristine.join("campaign.db"), dir.join("campaign.db")).unwrap();
    let committed = || SqliteStore::open(&dir.join("campaign.db"), None).unwrap().counts().unwrap().pages;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(14);
    let mut landed = Vec::new();
    while landed.len() < KILLS {
        let before = committed();
        let more = rng.gen_range(0..=2usize);
        let mut child = spawn_child(&dir);
        let start = Instant::now();
        if more == 0 {
            std::thread::sleep(Duration::from_secs_f64(rng.gen_range(0.0..idle + 0.1)));
        } else {
            while committed() < before + more && child.try_wait().unwrap().is_none() {
                std::thread::sleep(Duration::from_millis(10));
            }
            std::thread::sleep(Duration::from_millis(rng.gen_range(0..40)));
        }
        assert!(child.try_wait().unwrap().is_none(), "the run ended before kill {}: {landed:?}", landed.len() + 1);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        landed.push((start.elapsed().as_millis(), before, committed()));
    }
    eprintln!(
        "full run {:.0} ms, start-up {:.0} ms, {pages} pages; kills (ms after start, pages committed before, after): {landed:?}",
        full_run.as_secs_f64() * 1e3,
        idle * 1e3
    );
    assert!(landed.last().unwrap().2 < pages, "the kills left no work for the last run");

    // The last, complete run.
    let status = spawn_child(&dir).wait().unwrap();
    assert!(status.success());
    let mut store = SqliteStore::open(&dir.join("campaign.db"), None).unwrap();
    let counts = store.counts().unwrap();
    assert_eq!((counts.pages, counts.files), (pages, pages), "every page once in the store");
    assert_eq!(store.completed_files().unwrap().len(), pages);
    drop(store);
    assert_eq!(outcomes(&dir.join("read")), want_outcomes, "records.jsonl: every page once, as uninterrupted");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("read/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["pages_in"], pages);
    let csv_rows = std::fs::read_to_string(dir.join("read/records.csv")).unwrap().lines().count();
    let forms = want_outcomes.values().filter(|o| o.starts_with("Read")).count();
    assert_eq!(csv_rows, forms + 1, "records.csv: a header and one row per form read");
    let got_export = decide_and_export(&dir, &dir.join("export"));
    assert_eq!((got_export.persons, got_export.photos), (want_export.persons, want_export.photos));
    let got_tree = crate::tree(&dir.join("export"));
    assert_eq!(got_tree.keys().collect::<Vec<_>>(), want_tree.keys().collect::<Vec<_>>());
    for (path, bytes) in &want_tree {
        assert!(got_tree[path] == *bytes, "export file {} differs from the uninterrupted run's", path.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
