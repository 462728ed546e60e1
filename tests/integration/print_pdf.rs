//! The printed PDF, rendered by poppler as a printer would, must read back as the right form.

use crate::scratch;
use formscan::payload::SheetKind;
use formscan::record::Outcome;
use formscan::{Engine, Template};
use formscan_print as print;
use formscan_synth as synth;
use std::process::Command;

#[test]
fn printed_pdf_reads_back() {
    let dir = scratch("pdf");
    let t = Template::sbk_student();
    let mut persons: Vec<(usize, _)> = synth::roster(3, 9).into_iter().enumerate().map(|(i, p)| (i + 2, p)).collect();
    persons[1].1.photo = Some("face:1".into());
    persons[2].1.name = "王𠀀".into(); // outside GB 2312: reported, not printed
    let pr = print::print_run(&t, &persons, Some("RPDF"), &dir, &dir.join("print")).unwrap();
    assert_eq!(pr.pages.len(), 2);
    assert_eq!(pr.problems.len(), 1);
    assert_eq!(pr.problems[0].line, Some(4));
    let manifest = std::fs::read_to_string(dir.join("print/manifest.csv")).unwrap();
    assert_eq!(manifest.lines().count(), 3, "{manifest}");
    let pdf = &pr.pdfs[0];
    let bytes = std::fs::read(pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    if Command::new("pdftoppm").arg("-v").output().is_err() {
        eprintln!("pdftoppm not installed: skipping the render check (CI installs poppler-utils)");
        return;
    }
    let st = Command::new("pdftoppm").args(["-r", "200", "-png"]).arg(pdf).arg(dir.join("page")).status().unwrap();
    assert!(st.success());
    let engine = Engine::default();
    // One class: cover, one class-list page, then the two forms.
    let pngs = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".png"))
        .count();
    assert_eq!(pngs, 4);
    for (k, kind) in [(1, SheetKind::Cover), (2, SheetKind::List)] {
        let rec = engine.process_image(&image::open(dir.join(format!("page-{k}.png"))).unwrap());
        assert_eq!(rec.outcome, Outcome::Cover, "{:?}", rec.reject);
        let sheet = rec.sheet.unwrap();
        assert_eq!((sheet.kind, sheet.forms, sheet.run.as_str()), (kind, 2, "RPDF"));
    }
    for page in &pr.pages {
        let png = dir.join(format!("page-{}.png", page.pdf_page));
        let img = image::open(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
        let rec = engine.process_image(&img);
        assert_eq!(rec.outcome, Outcome::Read, "{:?}", rec.reject);
        let form = rec.form.unwrap();
        assert_eq!((form.run.as_str(), form.serial.as_str()), ("RPDF", page.serial.as_str()));
        assert_eq!(form.photo_printed, page.photo.is_some());
        let reg = rec.registration.unwrap();
        assert!(reg.residual_max_mm < 0.3, "printed marks off by {} mm", reg.residual_max_mm);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn class_sheets_precede_each_class_and_scan_as_covers() {
    let t = Template::sbk_student();
    // 60 pupils: classes of 40 and 20 in one school; the first class needs two list pages.
    let persons: Vec<(usize, _)> = synth::roster(60, 4).into_iter().enumerate().map(|(i, p)| (i + 2, p)).collect();
    let pr = print::plan_run(&t, &persons, Some("RCOV"), std::path::Path::new("."));
    let classes: Vec<usize> = [40, 20].into();
    assert_eq!(print::sheets::sheet_count(40), 3);
    assert_eq!(print::sheets::sheet_count(20), 2);
    assert_eq!(pr.pages[0].pdf_page, 4);
    assert_eq!(pr.pages[39].pdf_page, 43);
    assert_eq!(pr.pages[40].pdf_page, 43 + 2 + 1);
    assert_eq!(pr.pages.len(), classes.iter().sum::<usize>());
    let drawings = print::sheets::class_sheets(&t, &pr.run, &pr.pages[..40]);
    assert_eq!(drawings.len(), 3);
    let engine = Engine::default();
    for (d, kind, sheet) in [(&drawings[0], SheetKind::Cover, 0), (&drawings[2], SheetKind::List, 2)] {
        let img = formscan_print::render::raster::render(d, t.width, t.height, 200.0).image;
        let rec = engine.process_image(&image::DynamicImage::ImageRgb8(img));
        assert_eq!(rec.outcome, Outcome::Cover, "{:?} {:?}", rec.reject, rec.barcodes);
        assert!(rec.reject.is_none() && rec.form.is_none());
        let s = rec.sheet.unwrap();
        assert_eq!((s.kind, s.sheet, s.forms), (kind, sheet, 40));
        assert_eq!(
            (s.first_serial.as_str(), s.last_serial.as_str()),
            (pr.pages[0].serial.as_str(), pr.pages[39].serial.as_str())
        );
    }
}

/// Issue 13's reproduction: a form printed with a photo, rendered by poppler and saved as
/// the JPEG it writes (4:2:0 chroma subsampling, as scanners write), must read `printed` and
/// write no card photo, as the same page saved as PNG does. Before the locator's drop-out
/// zones, the subsampled red box outline was taken for a pasted print's edge and a crop of
/// the printed photo was written as card-ready.
#[test]
fn a_printed_photo_through_poppler_jpeg_reads_printed() {
    if !crate::have_pdftoppm() {
        eprintln!("pdftoppm not installed: skipping the poppler JPEG check (CI installs poppler-utils)");
        return;
    }
    use formscan::batch::{self, BatchOptions};
    use formscan::photo::PhotoStatus;
    let dir = scratch("pdf-jpeg");
    let t = Template::sbk_student();
    let mut persons: Vec<(usize, _)> = synth::roster(3, 13).into_iter().enumerate().map(|(i, p)| (i + 2, p)).collect();
    for (i, p) in persons.iter_mut().enumerate() {
        p.1.photo = Some(format!("face:{i}"));
    }
    let pr = print::print_run(&t, &persons, Some("RJPG"), &dir, &dir.join("print")).unwrap();
    let first = pr.pages.iter().map(|p| p.pdf_page).min().unwrap();
    for (fmt, ext) in [("-jpeg", "jpg"), ("-png", "png")] {
        let scans = dir.join(ext);
        std::fs::create_dir_all(&scans).unwrap();
        let st = Command::new("pdftoppm")
            .args(["-r", "300", fmt, "-f", &first.to_string()])
            .arg(&pr.pdfs[0])
            .arg(scans.join("page"))
            .status()
            .unwrap();
        assert!(st.success());
        let opts = BatchOptions { out_dir: dir.join(format!("out-{ext}")), snippets: false };
        batch::run(&Engine::default(), &[scans], &opts, &|_, _| {}).unwrap();
        let recs = synth::eval::read_records(&opts.out_dir.join("records.jsonl")).unwrap();
        assert_eq!(recs.len(), 3, "{ext}");
        for r in &recs {
            let photo = r.photo.as_ref().unwrap_or_else(|| panic!("{ext} {}: no photo reading", r.source.file));
            assert_eq!(photo.status, PhotoStatus::Printed, "{ext} {}: {photo:?}", r.source.file);
            assert!(photo.file.is_none(), "{ext} {}: card photo {:?}", r.source.file, photo.file);
        }
        assert!(!opts.out_dir.join("photos").exists(), "{ext}: a card photo was written");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
