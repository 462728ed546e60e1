//! Card photo and snippet files: one per scan, stable across reruns.

use crate::{scratch, simulate};
use formscan::batch::{self, BatchOptions};
use formscan::finding::FindingCode;
use formscan::Engine;
use formscan_synth::{eval, Degrade};

/// Two copies of one form (a rescan, or the same scan under two names) each keep their card
/// photo: the names differ by the scan tag, and a rerun writes the same names again.
#[test]
fn two_scans_of_one_form_keep_two_photos() {
    let dir = scratch("photo-names");
    let scans = dir.join("scans");
    simulate(&scans, 6, 102, Degrade::Mild, 300.0, 0.0, 0.0, None);
    let opts = BatchOptions { out_dir: dir.join("out"), snippets: false };
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

/// Two different scans of one form page (a rescan after a correction, a second copy) each keep
/// their own snippets, and each record names its own scan's: before, both wrote one folder per
/// form page, and the first record pointed at the second scan's images.
#[test]
fn two_scans_of_one_form_keep_their_own_snippets() {
    let dir = scratch("snippet-names");
    let (first, second, scans) = (dir.join("first"), dir.join("second"), dir.join("scans"));
    // The same run and serials, written and scanned differently.
    simulate(&first, 2, 102, Degrade::Mild, 200.0, 0.0, 0.0, None);
    simulate(&second, 2, 103, Degrade::Mild, 200.0, 0.0, 0.0, None);
    std::fs::create_dir_all(&scans).unwrap();
    for (from, prefix) in [(&first, "first-"), (&second, "second-")] {
        for e in std::fs::read_dir(from).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "jpg") {
                std::fs::copy(&p, scans.join(format!("{prefix}{}", p.file_name().unwrap().to_string_lossy()))).unwrap();
            }
        }
    }
    let engine = Engine::default();
    let read = |input: &std::path::Path, out: &str| {
        let opts = BatchOptions { out_dir: dir.join(out), snippets: true };
        batch::run(&engine, &[input.to_path_buf()], &opts, &|_, _| {}).unwrap();
        let recs = eval::read_records(&opts.out_dir.join("records.jsonl")).unwrap();
        (opts.out_dir, recs)
    };
    // field name → snippet bytes, per scan file name.
    type Snippets = std::collections::BTreeMap<String, std::collections::BTreeMap<String, Vec<u8>>>;
    let snippets = |out: &std::path::Path, recs: &[formscan::record::PageRecord]| -> Snippets {
        let mut by_scan = Snippets::new();
        for r in recs.iter().filter(|r| r.form.is_some()) {
            let name = std::path::Path::new(&r.source.file).file_name().unwrap().to_string_lossy().into_owned();
            let own = by_scan.entry(name).or_default();
            for (field, f) in &r.fields {
                if let Some(s) = &f.snippet {
                    own.insert(field.clone(), std::fs::read(out.join(s)).unwrap_or_else(|e| panic!("{s}: {e}")));
                }
            }
        }
        by_scan
    };
    let (out, recs) = read(&scans, "out");
    let together = snippets(&out, &recs);
    // Each scan read on its own gives the images its record must show.
    let (out1, recs1) = read(&first, "alone-first");
    let (out2, recs2) = read(&second, "alone-second");
    let mut alone = Snippets::new();
    alone.extend(snippets(&out1, &recs1).into_iter().map(|(k, v)| (format!("first-{k}"), v)));
    alone.extend(snippets(&out2, &recs2).into_iter().map(|(k, v)| (format!("second-{k}"), v)));
    assert_eq!(together.len(), 4, "{:?}", together.keys());
    let names = |m: &Snippets| -> Vec<String> {
        m.iter().flat_map(|(scan, own)| own.keys().map(move |f| format!("{scan}/{f}"))).collect()
    };
    assert_eq!(names(&together), names(&alone));
    let wrong: Vec<String> = names(&together)
        .into_iter()
        .filter(|n| {
            let (scan, field) = n.split_once('/').unwrap();
            together[scan][field] != alone[scan][field]
        })
        .collect();
    assert!(wrong.is_empty(), "records show another scan's snippets: {wrong:?}");
    // The two scans of a form page differ, so the comparison above can tell them apart.
    let differing = together
        .iter()
        .filter(|(k, _)| k.starts_with("first-"))
        .flat_map(|(k, own)| {
            let other = &together[&k.replacen("first-", "second-", 1)];
            own.iter().filter(move |(f, bytes)| other.get(*f).is_some_and(|o| o != *bytes))
        })
        .count();
    assert!(differing >= 2, "only {differing} snippets differ between the scans: the test proves little");
    // Another run of the same scans names them the same.
    let paths = |recs: &[formscan::record::PageRecord]| -> Vec<String> {
        let mut v: Vec<String> =
            recs.iter().flat_map(|r| r.fields.values().filter_map(|f| f.snippet.clone())).collect();
        v.sort();
        v
    };
    let (_, again) = read(&scans, "out-again");
    assert_eq!(paths(&recs), paths(&again), "another run names the snippets differently");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 15: in a plain `process` (no store, no lookup), a pasted photo that fails a card-photo
/// check goes to `photos-review/` and its page to review: a `photo_check_failed` finding, and
/// `review` in `records.csv`, never `pass`.
#[test]
fn a_photo_sent_to_review_sends_its_form_to_review() {
    let dir = scratch("photo-review");
    let scans = dir.join("scans");
    // Every pasted print defective (grey copies, dark, blurred).
    simulate(&scans, 9, 15, Degrade::Mild, 200.0, 0.0, 1.0, None);
    let opts = BatchOptions { out_dir: dir.join("out"), snippets: false };
    batch::run(&Engine::default(), std::slice::from_ref(&scans), &opts, &|_, _| {}).unwrap();
    let recs = eval::read_records(&opts.out_dir.join("records.jsonl")).unwrap();
    let csv = std::fs::read_to_string(opts.out_dir.join("records.csv")).unwrap();
    let mut csv = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let status: std::collections::HashMap<String, String> =
        csv.records().map(|r| r.unwrap()).map(|r| (r[0].to_string(), r[6].to_string())).collect();
    let mut in_review = 0;
    for r in &recs {
        let Some(p) = r.photo.as_ref().filter(|p| p.file.as_deref().is_some_and(|f| f.starts_with("photos-review/")))
        else {
            continue;
        };
        in_review += 1;
        let f = r.findings.iter().find(|f| f.code == FindingCode::PhotoCheckFailed);
        assert_eq!(f.map(|f| f.subject.clone()), Some(p.failed.join(",")), "{}: {:?}", r.source.file, r.findings);
        assert_eq!(status[&r.source.file], "review", "{}", r.source.file);
    }
    assert!(in_review >= 1, "no photo went to review: the test proves nothing");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 15: with a campaign store, the photo requirement is decided on the store's reference
/// date, the one the campaign rules use, not the engine's default (2026-09-01). A pupil who
/// is 5 on the store's date needs no photo, whatever their age on the default date.
#[test]
fn process_db_decides_the_photo_requirement_on_the_store_date() {
    use formscan::domain::Date;
    use formscan::Template;
    use formscan_campaign::intake;
    use formscan_print as print;
    use formscan_synth as synth;
    let dir = scratch("photo-date");
    let t = Template::sbk_student();
    // Pupils 7 to 12 on the default date, each 5 years and a few days old on the store's date.
    let born = |p: &formscan_print::roster::Person| formscan::domain::parse_id(&p.id_number).unwrap().birth_date;
    let persons: Vec<_> = synth::roster(1200, 21)
        .into_iter()
        .filter(|p| (7..=12).contains(&born(p).age_on(synth::REFERENCE_DATE)))
        .take(3)
        .map(|mut p| {
            p.photo = None;
            p
        })
        .collect();
    assert_eq!(persons.len(), 3);
    let b = persons.iter().map(born).max().unwrap();
    let reference = Date::new(b.year + 5, b.month, b.day.min(28));
    // The youngest is under 6 on the store's date, and 7 or more on the default one.
    assert!(b.age_on(reference) < 6 && b.age_on(synth::REFERENCE_DATE) >= 7);
    let lines: Vec<(usize, _)> = persons.into_iter().enumerate().map(|(i, p)| (i + 2, p)).collect();
    let pr = print::plan_run(&t, &lines, Some("RDATE"), &dir);
    let opts = synth::SynthOptions { dpi: 200.0, degrade: Degrade::None, seed: 21, ..Default::default() };
    let mut store = crate::store_and_scan(&pr, &dir.join("campaign.db"), reference, &opts, &dir.join("scans"));
    let bopts = BatchOptions { out_dir: dir.join("read"), snippets: false };
    intake::process(&mut store, &Engine::default(), &[dir.join("scans")], &bopts, &|_, _| {}).unwrap();
    let recs = eval::read_records(&dir.join("read/records.jsonl")).unwrap();
    let forms: Vec<_> = recs.iter().filter(|r| r.form.is_some()).collect();
    assert_eq!(forms.len(), 3);
    for r in forms {
        let p = r.photo.as_ref().expect("the photo stage ran");
        let page = pr.pages.iter().find(|x| x.serial == r.form.as_ref().unwrap().serial).unwrap();
        let age = born(&page.person).age_on(reference);
        assert_eq!(p.required, Some(age >= 6), "{}: age {age} on the store's date", r.source.file);
    }
    // The campaign rules agree: no photo asked of the pupil under 6.
    let a = formscan_campaign::assess(&mut store, &Default::default()).unwrap();
    let young = a.iter().find(|x| born(&x.view.person.person) == b).unwrap();
    assert!(young.findings.iter().all(|f| f.code != FindingCode::PhotoMissing), "{:?}", young.findings);
    let _ = std::fs::remove_dir_all(&dir);
}
