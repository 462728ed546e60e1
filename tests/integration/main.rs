//! The one integration-test binary: accuracy ratchet over simulated scans, bad inputs, the
//! golden record, the printed PDF read back through poppler, the campaign store end to end,
//! kill tests, and what the output folder holds after collisions, full disks and failures.

mod accuracy;
mod bad_catalogue;
mod bad_inputs;
mod campaign;
mod golden;
mod keying;
mod kill;
mod names;
mod outputs;
mod photos;
mod print_pdf;
mod samples;
mod stages;
mod stations;

use std::path::PathBuf;

/// True when poppler's `pdftoppm` runs here (`.ci/run` installs it).
pub fn have_pdftoppm() -> bool {
    std::process::Command::new("pdftoppm").arg("-v").output().is_ok_and(|o| o.status.success())
}

/// A fresh scratch folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("formscan-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Simulates `n` students' scans at `degrade` into `dir`, with a share `defective_prints` of
/// the pasted prints defective (grey copies, dark, blurred), printed and written as `how`
/// says (the simulator's default, 4:2:0 JPEG from the internal renderer, for `None`).
#[allow(clippy::too_many_arguments)] // the simulator's settings, one each
pub fn simulate(
    dir: &std::path::Path,
    n: usize,
    seed: u64,
    degrade: formscan_synth::Degrade,
    dpi: f64,
    blank_backs: f64,
    defective_prints: f64,
    how: Option<(formscan_synth::PrintRender, formscan_synth::ScanFormat)>,
) {
    use formscan::Template;
    use formscan_print as print;
    use formscan_synth as synth;
    let t = Template::sbk_student();
    let mut persons = synth::roster(n, seed);
    for (i, p) in persons.iter_mut().enumerate() {
        if i % 3 == 0 {
            p.photo = Some(format!("face:{i}"));
        }
    }
    let lines: Vec<(usize, _)> = persons.into_iter().enumerate().map(|(i, p)| (i + 2, p)).collect();
    let plan = print::plan_run(&t, &lines, Some("RTEST"), dir);
    let persons: Vec<_> = plan.pages.iter().map(|p| p.person.clone()).collect();
    let serials: Vec<_> = plan.pages.iter().map(|p| p.serial.clone()).collect();
    let photos: Vec<_> = plan.pages.iter().map(|p| p.photo.clone()).collect();
    let (render, format) = how.unwrap_or_default();
    let opts =
        synth::SynthOptions { dpi, degrade, seed, blank_backs, defective_prints, render, format, ..Default::default() };
    synth::run(&t, &persons, &serials, &photos, &plan.run, &opts, dir).unwrap();
}

/// Every file under `root`, by path relative to it, with its bytes: two export folders compare
/// file for file, byte for byte.
pub fn tree(root: &std::path::Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut std::collections::BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_owned(), std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// The (file, page) of every line of `out/records.jsonl`; each line must parse and each page
/// appear once.
pub fn record_keys(out: &std::path::Path) -> Vec<(String, usize)> {
    let text = std::fs::read_to_string(out.join("records.jsonl")).unwrap();
    let mut keys: Vec<(String, usize)> = text
        .lines()
        .map(|l| serde_json::from_str::<formscan::record::PageRecord>(l).unwrap())
        .map(|r| (r.source.file, r.source.page))
        .collect();
    keys.sort();
    let n = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), n, "a page recorded twice");
    keys
}

/// Rounds every float to three decimals, so that golden files pin behaviour, not the last bits
/// of a sum.
pub fn round_floats(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Number(n) if n.is_f64() => *v = serde_json::json!((n.as_f64().unwrap() * 1000.0).round() / 1000.0),
        Value::Array(a) => a.iter_mut().for_each(round_floats),
        Value::Object(o) => o.values_mut().for_each(round_floats),
        _ => {}
    }
}

/// Records print run `pr` (no printed photos) in a new campaign store at `db` with reference
/// date `reference`, and simulates its scans into `scans` with `opts`; returns the store.
pub fn store_and_scan(
    pr: &formscan_print::PrintRun,
    db: &std::path::Path,
    reference: formscan::domain::Date,
    opts: &formscan_synth::SynthOptions,
    scans: &std::path::Path,
) -> formscan_campaign::store::SqliteStore {
    use formscan_campaign::store::{PrintedForm, SqliteStore, Store};
    let t = formscan::Template::sbk_student();
    let mut store = SqliteStore::open(db, Some(reference)).unwrap();
    let forms: Vec<PrintedForm> = pr
        .pages
        .iter()
        .map(|p| PrintedForm { serial: p.serial.clone(), person: p.person.clone(), photo_printed: false })
        .collect();
    store.record_print_run(&pr.run, &t.id, &forms).unwrap();
    let persons: Vec<_> = pr.pages.iter().map(|p| p.person.clone()).collect();
    let serials: Vec<_> = pr.pages.iter().map(|p| p.serial.clone()).collect();
    formscan_synth::run(&t, &persons, &serials, &vec![None; persons.len()], &pr.run, opts, scans).unwrap();
    store
}

/// What the simulator's truth (`truth_dir/<scan name>.json`) says was written in `field` of
/// the scan at `scan_path`, as a keyer would type it: the text or the comb's cells, for the
/// relationship the one box ticked. `None` when there is no truth or no single value.
pub fn truth_value(truth_dir: &std::path::Path, scan_path: &str, field: &str) -> Option<String> {
    use formscan_campaign::keying;
    let name = std::path::Path::new(scan_path).with_extension("json");
    let text = std::fs::read_to_string(truth_dir.join(name.file_name()?)).ok()?;
    let truth: formscan_synth::Truth = serde_json::from_str(&text).unwrap();
    if field == "agent_relation" {
        // The box the writer ticked, when exactly one was.
        let ticked: Vec<&str> = keying::RELATIONS
            .iter()
            .filter(|(v, _)| truth.fields.get(&format!("relation_{v}")).is_some_and(|t| t.state == "checked"))
            .map(|(v, _)| *v)
            .collect();
        return (ticked.len() == 1).then(|| ticked[0].to_string());
    }
    let t = truth.fields.get(field)?;
    Some(t.text.clone().or_else(|| t.cells.as_ref().map(|c| c.concat())).unwrap_or_default())
}

/// Two scripted keyers (`keyer-a`, then `keyer-b` for double entry) key every field waiting
/// for a value, from the simulator's truth of the scan that counts ([`truth_value`]): the
/// workflow of `formscan key` on the store functions. A value the truth holds that fails its
/// check (a rule breaker's bad number) is not keyed: that form stays in review. Returns how
/// many values were keyed.
pub fn key_from_truth(store: &mut dyn formscan_campaign::store::Store, truth_dir: &std::path::Path) -> usize {
    use formscan_campaign::keying::{self, FieldValue, KeySource};
    let mut keyed = 0;
    for operator in ["keyer-a", "keyer-b"] {
        for x in formscan_campaign::assess(store, &Default::default()).unwrap() {
            let Some(i) = x.page else { continue };
            let page = &x.view.pages[i];
            for p in &x.keying {
                let first = operator == "keyer-a" && p.state != FieldValue::AwaitingSecond;
                let second = operator == "keyer-b" && p.state == FieldValue::AwaitingSecond;
                if !(first || second) {
                    continue;
                }
                let Some(value) = truth_value(truth_dir, &page.path, &p.field) else { continue };
                if keying::check_value(&p.field, &value).is_ok() {
                    keying::key_value(store, page.id, &p.field, &value, KeySource::Keyed, operator, None).unwrap();
                    keyed += 1;
                }
            }
        }
    }
    keyed
}

/// Keys what is left from the truth ([`key_from_truth`]), accepts the forms in review only
/// for unclear fields, as a reviewer would, and exports into `out`.
pub fn finish_and_export(
    store: &mut dyn formscan_campaign::store::Store,
    truth_dir: &std::path::Path,
    out: &std::path::Path,
) -> formscan_campaign::export::ExportSummary {
    finish(store, truth_dir);
    formscan_campaign::export::export(store, out, &Default::default()).unwrap()
}

/// [`finish_and_export`] without the export: keying from the truth and the reviewer's accepts.
pub fn finish(store: &mut dyn formscan_campaign::store::Store, truth_dir: &std::path::Path) {
    use formscan::finding::FindingCode;
    use formscan_campaign::store::{Decision, DecisionEntry};
    use formscan_campaign::FormStatus;
    key_from_truth(store, truth_dir);
    for x in formscan_campaign::assess(store, &Default::default()).unwrap() {
        if x.status == FormStatus::Review && x.findings.iter().all(|f| f.code == FindingCode::FieldUnclear) {
            store.decide(&DecisionEntry::new(x.view.person.key, Decision::Accept, "tester")).unwrap();
        }
    }
}
