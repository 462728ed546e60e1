//! The printed PDF, rendered by poppler as a printer would, must read back as the right form.

use crate::scratch;
use formscan::record::Outcome;
use formscan::{print, synth, Engine, Template};
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
    for (i, page) in pr.pages.iter().enumerate() {
        let png = dir.join(format!("page-{}.png", i + 1));
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
