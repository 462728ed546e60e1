//! The engine's stage methods are the pipeline: called one by one they give the record that
//! `process_image` gives, and the record comes out finished (photo requirement, findings).

use formscan::domain::Date;
use formscan::lookup::ManifestLookup;
use formscan::record::{Outcome, PageRecord};
use formscan::Engine;
use std::path::PathBuf;
use std::sync::Arc;

fn sample_pages(engine: &Engine) -> Vec<(String, image::DynamicImage)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("samples")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("jpg" | "tif" | "pdf")))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        for page in engine.open(&f).unwrap() {
            let image = formscan::decode::decode_page(&page, &engine.options().decode).unwrap();
            out.push((format!("{}#{}", f.display(), page.index()), image));
        }
    }
    out
}

/// The stage calls in the order of the engine's contract; `None` where the page stops.
fn by_stages(engine: &Engine, image: &image::DynamicImage) -> Option<PageRecord> {
    let scan = formscan::Scan::new(image.clone());
    let (ti, mut reg) = engine.register(&scan).ok()?;
    let ident = engine.identify(&scan, &mut reg, &engine.templates()[ti]).ok()?;
    let (tj, reg) = engine.form_template(&scan, &ident.payload, ti, reg).ok()?;
    let template = &engine.templates()[tj];
    let mut readings = engine.read_fields(&scan, &reg, template);
    let photo = engine.read_photo(&scan, &reg, template, &mut readings, &ident.payload);
    engine.settle_names(template, &mut readings, &ident.payload);
    let findings = engine.audit(template, &readings, photo.as_ref());
    let mut rec = PageRecord::rejected(
        formscan::record::SourceRef { file: "<memory>".into(), page: 0 },
        formscan::record::RejectReason::NotAForm,
        "",
    );
    rec.outcome = Outcome::Read;
    rec.reject = None;
    rec.registration = Some(reg.summary());
    rec.barcodes = ident.barcodes;
    rec.form = Some(ident.payload);
    rec.fields = readings.fields;
    rec.groups = readings.groups;
    rec.photo = photo;
    rec.findings = findings;
    Some(rec)
}

#[test]
fn the_stage_calls_give_the_record_process_gives() {
    let mut people = ManifestLookup::default();
    people.add_file("samples/manifest.csv".as_ref()).unwrap();
    let engine = Engine::default().with_people(Arc::new(people));
    let mut read = 0;
    for (name, image) in sample_pages(&engine) {
        let mut whole = engine.process_image(&image);
        whole.timing_ms = Default::default();
        match by_stages(&engine, &image) {
            Some(staged) => {
                read += 1;
                assert_eq!(whole, staged, "{name}");
                assert!(whole.photo.as_ref().is_some_and(|p| p.required.is_some()), "{name}: requirement decided");
            }
            None => assert_ne!(whole.outcome, Outcome::Read, "{name}"),
        }
    }
    // Five forms, one of them upside down (its identification takes the alternate pose).
    assert_eq!(read, 5);
}

/// The photo requirement follows the engine's person lookup and its reference date: the
/// same page needs no photo when its applicant is 5, and one when 10.
#[test]
fn process_image_decides_the_photo_requirement_with_the_engines_people() {
    let mut people = ManifestLookup::default();
    people.add_file("samples/manifest.csv".as_ref()).unwrap();
    let image = image::open("samples/form-2-upside-down.jpg").unwrap();
    let plain = Engine::default().process_image(&image);
    let form = plain.form.clone().expect("the sample reads");
    assert!(!form.photo_printed, "the sample's photo is not printed: the age alone decides");
    assert_eq!(plain.photo.as_ref().unwrap().required, None, "no lookup, no age");
    let born = people_birth(&people, &form.run, &form.serial);
    let at_age = |years: u16| {
        let mut p = people.clone();
        p.set_reference_date(Date::new(born.year + years, born.month, born.day.min(28)));
        Engine::default().with_people(Arc::new(p)).process_image(&image)
    };
    let (young, older) = (at_age(5), at_age(10));
    assert_eq!(young.photo.as_ref().unwrap().required, Some(false));
    assert_eq!(older.photo.as_ref().unwrap().required, Some(true));
    let pasted = older.photo.as_ref().unwrap().status == formscan::photo::PhotoStatus::Pasted;
    assert_eq!(older.photo.as_ref().unwrap().failed.iter().any(|c| c == "present_if_required"), !pasted);
}

fn people_birth(people: &ManifestLookup, run: &str, serial: &str) -> Date {
    use formscan::lookup::PersonLookup;
    people.person(run, serial).and_then(|p| p.birth_date).expect("the manifest's person has a birth date")
}

/// The coefficient road for JPEGs (`EngineOptions::jpeg_coefficients`) reads the bundled
/// samples exactly as the ordinary decode does: its pixels and its low-resolution copy are the
/// same, so every record (timings aside) and every snippet is the same.
#[test]
fn the_coefficient_road_reads_the_samples_as_a_full_decode_does() {
    let files: Vec<PathBuf> = ["blank-back.jpg", "form-1.jpg", "form-2-upside-down.jpg", "other-document.jpg"]
        .iter()
        .map(|f| PathBuf::from("samples").join(f))
        .collect();
    let mut options = formscan::EngineOptions::default();
    let full = Engine::new(options.clone());
    options.jpeg_coefficients = true;
    let coefficients = Engine::new(options);
    let (mut a, mut b) = (full.worker(), coefficients.worker());
    let record = |r: &PageRecord| {
        let mut v = serde_json::to_value(r).unwrap();
        v.as_object_mut().unwrap().remove("timing_ms");
        v
    };
    let mut want = Vec::new();
    for f in &files {
        for page in full.open(f).unwrap() {
            let src = formscan::record::SourceRef { file: f.display().to_string(), page: page.index() };
            let scan = a.decode(&page).unwrap();
            let (rec, snippets) = a.process_scan(&scan, src);
            want.push((page, rec, snippets));
        }
    }
    // Two rounds on the coefficient road with one worker: every page after the first reuses
    // the buffers of a different page, whose leftovers must never be read.
    let mut forms = 0;
    for round in 0..2 {
        for (page, want, want_snippets) in &want {
            let scan = b.decode(page).unwrap();
            let (got, snippets) = b.process_scan(&scan, want.source.clone());
            b.recycle(scan);
            let file = &want.source.file;
            assert_eq!(record(&got), record(want), "{file} round {round}");
            assert_eq!(snippets.len(), want_snippets.len(), "{file}");
            for (g, w) in snippets.iter().zip(want_snippets) {
                assert!(g.field == w.field && g.pixels == w.pixels, "{file} round {round}: snippet {}", w.field);
            }
            forms += usize::from(round == 0 && want.outcome == Outcome::Read);
        }
    }
    assert_eq!(forms, 2, "two forms among the samples");
}
