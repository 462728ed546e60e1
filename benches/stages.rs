//! Criterion benches: one per pipeline stage on a simulated 300 dpi colour page, plus the
//! whole page path and JPEG decoding alone (the yardstick: our time / decode time).

use criterion::{criterion_group, criterion_main, Criterion};
use formscan::model::CnnEnsemble;
use formscan::record::FieldState;
use formscan::register::{register, RegisterOptions, RegisterScratch};
use formscan::{fields, identify, Engine, Scan, Template};
use formscan_synth as synth;

fn page_jpeg() -> (Vec<u8>, image::DynamicImage) {
    let t = Template::sbk_student();
    let page = synth::simulate_one(&t, &synth::sample_person(3), 3, 300.0);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80).encode_image(&page.image.to_rgb8()).unwrap();
    let img = image::load_from_memory(&jpeg).unwrap();
    (jpeg, img)
}

fn stages(c: &mut Criterion) {
    let (jpeg, img) = page_jpeg();
    let t = Template::sbk_student();
    let engine = Engine::default();
    let mut g = c.benchmark_group("page_300dpi");
    g.sample_size(20);
    g.bench_function("decode_jpeg", |b| b.iter(|| image::load_from_memory(&jpeg).unwrap()));
    g.bench_function("prepare_scan", |b| b.iter(|| Scan::new(img.clone())));
    let scan = Scan::new(img.clone());
    let mut scratch = RegisterScratch::default();
    g.bench_function("register", |b| {
        b.iter(|| register(&scan, &t, &RegisterOptions::default(), &mut scratch).unwrap())
    });
    let reg = register(&scan, &t, &RegisterOptions::default(), &mut scratch).unwrap();
    let mut buf = Vec::new();
    g.bench_function("identify", |b| b.iter(|| identify::identify(&scan, &reg, &t, &mut buf).unwrap()));
    let mut fs = fields::FieldScratch::default();
    let opts = fields::FieldOptions::default();
    g.bench_function("read_fields", |b| {
        b.iter(|| fields::read_fields(&scan, &reg, &t, &opts, CnnEnsemble::bundled(), &mut fs))
    });
    let no_snip = fields::FieldOptions { snippets: false, ..Default::default() };
    g.bench_function("read_fields_no_snippets", |b| {
        b.iter(|| fields::read_fields(&scan, &reg, &t, &no_snip, CnnEnsemble::bundled(), &mut fs))
    });
    // The digit recogniser on one 18-cell ID comb, every cell written.
    let id_field = t.field("agent_id").unwrap();
    let states = vec![FieldState::Ink; 18];
    let dopts = fields::digits::DigitOptions::default();
    g.bench_function("digits_18_cell_field", |b| {
        b.iter(|| fields::digits::read_comb(&scan, &reg, id_field, &states, CnnEnsemble::bundled(), &dopts, &mut buf))
    });
    g.bench_function("process_from_jpeg", |b| {
        let mut w = engine.worker();
        b.iter(|| {
            let img = image::load_from_memory(&jpeg).unwrap();
            w.process(img, formscan::record::SourceRef { file: String::new(), page: 0 })
        })
    });
    // The engine's own decode stage and the whole page on it, on both JPEG roads: the full
    // decode, and the DCT coefficients with pixels decoded where read
    // (`EngineOptions::jpeg_coefficients`), each worker reusing its buffers.
    let page = formscan::decode::open_bytes(jpeg.clone(), &Default::default()).unwrap().remove(0);
    for coefficients in [false, true] {
        let road = if coefficients { "coefficients" } else { "full" };
        let engine = Engine::new(formscan::EngineOptions { jpeg_coefficients: coefficients, ..Default::default() });
        let mut w = engine.worker();
        g.bench_function(format!("engine_decode_{road}"), |b| {
            b.iter(|| {
                let scan = w.decode(&page).unwrap();
                w.recycle(scan);
            })
        });
        g.bench_function(format!("engine_page_{road}"), |b| {
            b.iter(|| {
                let scan = w.decode(&page).unwrap();
                let out = w.process_scan(&scan, formscan::record::SourceRef { file: String::new(), page: 0 });
                w.recycle(scan);
                out
            })
        });
    }
    g.finish();
}

/// The photo stage on one pasted print (first synthetic page with one): locate, crop, detect,
/// frame, check, clean and encode, on the calling thread only.
fn photo(c: &mut Criterion) {
    let t = Template::sbk_student();
    let (image, reg) = (1..200u64)
        .find_map(|seed| {
            let page = synth::simulate_one(&t, &synth::sample_person(seed), seed, 300.0);
            let pasted = page.truth.fields.get("photo").and_then(|f| f.photo.as_deref()) == Some("pasted");
            pasted.then(|| {
                let scan = Scan::new(page.image.clone());
                let reg = register(&scan, &t, &RegisterOptions::default(), &mut RegisterScratch::default()).unwrap();
                (page.image, reg)
            })
        })
        .expect("a page with a pasted photo");
    let ctx = formscan::photo::PhotoContext {
        to_scan: reg.to_scan,
        px_per_mm: reg.px_per_mm,
        printed: false,
        confirmed: None,
        has_content: true,
        age: Some(12),
    };
    let opts = formscan::photo::PhotoOptions::default();
    let r = formscan::photo::read_photo(&image, &t, &ctx, &opts).unwrap();
    assert!(r.data.is_some(), "bench photo framed: {:?}", r.failed);
    let mut g = c.benchmark_group("photo");
    g.sample_size(20);
    g.bench_function("photo", |b| b.iter(|| formscan::photo::read_photo(&image, &t, &ctx, &opts)));
    g.finish();
}

/// The name reader on one written agent's name box (line finding, PP-OCR's network through
/// rten on one thread, constrained decoding), per name length, on simulated 300 dpi pages.
fn names(c: &mut Criterion) {
    let t = Template::sbk_student();
    let field = t.field("agent_name").unwrap();
    let mut g = c.benchmark_group("names");
    g.sample_size(30);
    for len in [2usize, 3, 4] {
        let Some((scan, reg)) = (1..400u64).find_map(|seed| {
            let page = synth::simulate_one(&t, &synth::sample_person(seed), seed, 300.0);
            let text = page.truth.fields.get("agent_name").and_then(|f| f.text.clone())?;
            (text.chars().count() == len).then(|| {
                let scan = Scan::new(page.image);
                let reg = register(&scan, &t, &RegisterOptions::default(), &mut RegisterScratch::default()).unwrap();
                (scan, reg)
            })
        }) else {
            continue;
        };
        let opts = fields::names::NameOptions::default();
        let margin = fields::FieldOptions::default().margin_mm;
        let mut s = fields::names::NameScratch::default();
        let read = fields::names::read_name(&scan, &reg, field.rect, margin, &opts, &mut s).unwrap();
        assert!(read.is_some_and(|l| !l.names.is_empty()), "the bench box reads as a name");
        g.bench_function(format!("name_box_{len}_chars"), |b| {
            b.iter(|| fields::names::read_name(&scan, &reg, field.rect, margin, &opts, &mut s))
        });
    }
    g.finish();
}

/// A page as intake commits it: the sbk-student form's 40-odd field and group results, two
/// findings. Each call gets a new file hash, so every commit inserts.
fn store_page(n: u64, person: i64) -> formscan_campaign::store::IntakeItem {
    use formscan_campaign::store::{IntakeItem, PageEntry, PageMatch, StoredField};
    let mut fields = std::collections::BTreeMap::new();
    for i in 0..44 {
        let f = StoredField {
            state: "ink".into(),
            value: Some(format!("1381234{i:04}")),
            status: Some("accepted".into()),
            candidates: if i % 5 == 0 { vec!["13812345678".into(), "13812345679".into()] } else { vec![] },
        };
        fields.insert(format!("field_{i:02}"), f);
    }
    let finding = formscan::finding::Finding {
        code: "field_unclear".parse().unwrap(),
        subject: "applicant_phone".into(),
        message: "the applicant's phone needs keying".into(),
        message_zh: "申请人手机号码需录入".into(),
    };
    let mut file = [0u8; 32];
    file[..8].copy_from_slice(&n.to_le_bytes());
    IntakeItem::Page(Box::new(PageEntry {
        file,
        page_index: 0,
        path: format!("/scans/wave1/page-{n:06}.jpg"),
        out_dir: "/srv/formscan/read/station1".into(),
        outcome: formscan::record::Outcome::Read,
        reject_reason: None,
        form: Some(("R1".into(), "000000".into())),
        matched: PageMatch::Form,
        person_key: Some(person),
        fields,
        findings: vec![finding.clone(), finding],
        phone: Some("13812345678".into()),
    }))
}

/// The store's cost per page as intake pays it: the form lookup and one page committed in its
/// own transaction (the most a page can cost; under load several pages
/// share one). SQLite always; PostgreSQL when `FORMSCAN_TEST_PG` names a server.
fn store(c: &mut Criterion) {
    use formscan_campaign::store::{PrintedForm, StoreLocation};
    let mut g = c.benchmark_group("store");
    let dir = std::env::temp_dir().join(format!("formscan-bench-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut at = vec![("sqlite", StoreLocation::Sqlite(dir.join("campaign.db")))];
    if let Some(url) = formscan_campaign::store::postgres::scratch_database("bench_store").ok().flatten() {
        at.push(("postgres", StoreLocation::Postgres(url)));
    }
    for (name, at) in at {
        let mut s = at.open(None).unwrap();
        let person = formscan::domain::Person {
            name: "学生".into(),
            id_number: "450302201501010011".into(),
            ..Default::default()
        };
        s.record_print_run(
            "R1",
            "sbk-student",
            &[PrintedForm { serial: "000000".into(), person, photo_printed: false }],
        )
        .unwrap();
        let key = match s.lookup_form("R1", "000000").unwrap() {
            formscan_campaign::store::FormMatch::Known { person, .. } => person.key,
            _ => unreachable!(),
        };
        let mut n = 0u64;
        g.bench_function(format!("commit_page_{name}"), |b| {
            b.iter(|| {
                n += 1;
                s.lookup_form("R1", "000000").unwrap();
                s.commit(std::slice::from_ref(&store_page(n, key))).unwrap();
            })
        });
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, stages, photo, names, store);
criterion_main!(benches);
