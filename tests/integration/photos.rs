//! Card photo files: one per scan, stable across reruns.

use crate::{scratch, simulate};
use formscan::batch::{self, BatchOptions};
use formscan::synth::{eval, Degrade};
use formscan::Engine;

/// Two copies of one form (a rescan, or the same scan under two names) each keep their card
/// photo: the names differ by the scan tag, and a rerun writes the same names again.
#[test]
fn two_scans_of_one_form_keep_two_photos() {
    let dir = scratch("photo-names");
    let scans = dir.join("scans");
    simulate(&scans, 6, 102, Degrade::Mild, 300.0, 0.0, 0.0, None);
    let opts = BatchOptions { out_dir: dir.join("out"), snippets: false, people: None };
    let engine = Engine::default();
    batch::run(&engine, std::slice::from_ref(&scans), &opts, &|_, _| {}).unwrap();
    let recs = eval::read_records(&opts.out_dir.join("records.jsonl")).unwrap();
    let with_photo = recs.iter().find(|r| r.photo.as_ref().is_some_and(|p| p.file.is_some())).expect("a card photo");
    // The same sheet once more, under another name.
    let src = std::path::Path::new(&with_photo.source.file);
    std::fs::copy(src, scans.join("again.jpg")).unwrap();
    std::fs::copy(src.with_extension("json"), scans.join("again.json")).unwrap();
    let names = |recs: &[formscan::record::PageRecord]| -> Vec<String> {
        let serial = &with_photo.form.as_ref().unwrap().serial;
        let mut v: Vec<String> = recs
            .iter()
            .filter(|r| r.form.as_ref().is_some_and(|f| &f.serial == serial))
            .filter_map(|r| r.photo.as_ref().and_then(|p| p.file.clone()))
            .collect();
        v.sort();
        v
    };
    let out2 = BatchOptions { out_dir: dir.join("out2"), ..opts.clone() };
    batch::run(&engine, std::slice::from_ref(&scans), &out2, &|_, _| {}).unwrap();
    let first = names(&eval::read_records(&out2.out_dir.join("records.jsonl")).unwrap());
    assert_eq!(first.len(), 2, "{first:?}");
    assert_ne!(first[0], first[1]);
    for f in &first {
        assert!(out2.out_dir.join(f).is_file(), "{f}");
    }
    batch::run(&engine, &[scans], &out2, &|_, _| {}).unwrap();
    let again = names(&eval::read_records(&out2.out_dir.join("records.jsonl")).unwrap());
    assert_eq!(first, again, "a rerun names the photos the same");
    let _ = std::fs::remove_dir_all(&dir);
}
