//! Accuracy ratchet: exact pass counts per condition (degrade level, print path, scan format)
//! on a fixed set of simulated scans.
//! A regression fails the test; so does an improvement, until the counts here are raised
//! (the zxing-cpp blackbox-runner discipline).

use crate::{have_pdftoppm, scratch, simulate};
use formscan::batch::{self, BatchOptions};
use formscan::{Engine, Template};
use formscan_synth::{eval, Degrade, PrintRender, ScanFormat};

struct Pinned {
    degrade: Degrade,
    students: usize,
    seed: u64,
    /// (right, total) for identified, blanks, checkboxes, comb cells, text, signatures, photo, paste.
    counts: [(usize, usize); 8],
    /// Digits: (top class right, written cells), (fully written fields, accepted, accepted wrong).
    digits: ((usize, usize), (usize, usize, usize)),
    /// Share of pasted prints made defective (grey copy, dark, blurred).
    defective: f64,
    /// Photos, (right, total): status, print located (IoU ≥ 0.95), written file in spec, framed
    /// head within the rules, non-white background flagged, defective print flagged.
    photos: [(usize, usize); 6],
    /// How pages are printed and written.
    render: PrintRender,
    format: ScanFormat,
    /// (right, total): covered checkboxes flagged, light ID copies found, printed photos read
    /// as printed, white-background prints passed.
    scanner: [(usize, usize); 4],
}

const RATCHET: &[Pinned] = &[
    Pinned {
        degrade: Degrade::None,
        students: 4,
        seed: 101,
        digits: ((148, 149), (11, 8, 0)),
        counts: [(4, 4), (1, 1), (28, 28), (232, 232), (8, 8), (8, 8), (4, 4), (4, 4)],
        defective: 0.0,
        photos: [(4, 4), (1, 1), (1, 1), (1, 1), (0, 0), (0, 0)],
        render: PrintRender::Internal,
        format: ScanFormat::Jpeg420,
        scanner: [(0, 0), (0, 0), (2, 2), (1, 1)],
    },
    Pinned {
        degrade: Degrade::Mild,
        students: 6,
        seed: 102,
        digits: ((223, 224), (16, 13, 0)),
        counts: [(6, 6), (0, 0), (42, 42), (348, 348), (12, 12), (12, 12), (6, 6), (6, 6)],
        defective: 0.0,
        photos: [(6, 6), (4, 4), (4, 4), (4, 4), (1, 1), (0, 0)],
        render: PrintRender::Internal,
        format: ScanFormat::Jpeg420,
        scanner: [(2, 2), (0, 0), (2, 2), (3, 3)],
    },
    Pinned {
        degrade: Degrade::Harsh,
        students: 10,
        seed: 103,
        digits: ((387, 389), (29, 21, 0)),
        counts: [(10, 10), (1, 1), (70, 70), (580, 580), (20, 20), (20, 20), (10, 10), (10, 10)],
        defective: 1.0,
        photos: [(10, 10), (2, 3), (3, 3), (3, 3), (0, 0), (3, 3)],
        render: PrintRender::Internal,
        format: ScanFormat::Jpeg420,
        scanner: [(0, 0), (0, 0), (4, 4), (0, 0)],
    },
    // Full chroma: what the simulator wrote before scanners' 4:2:0 was the default.
    Pinned {
        degrade: Degrade::Harsh,
        students: 8,
        seed: 104,
        digits: ((286, 287), (21, 16, 0)),
        counts: [(8, 8), (3, 3), (56, 56), (464, 464), (16, 16), (16, 16), (8, 8), (8, 8)],
        defective: 0.0,
        photos: [(8, 8), (6, 6), (6, 6), (6, 6), (2, 2), (0, 0)],
        render: PrintRender::Internal,
        format: ScanFormat::Jpeg444,
        scanner: [(4, 4), (0, 0), (2, 2), (4, 4)],
    },
    // The real print path: the form's PDF rendered by poppler, filled, pasted and scanned to
    // 4:2:0 JPEG (skipped, with a message, where pdftoppm is missing; CI installs it).
    Pinned {
        degrade: Degrade::Harsh,
        students: 24,
        seed: 105,
        digits: ((878, 885), (65, 48, 0)),
        counts: [(24, 24), (2, 2), (168, 168), (1392, 1392), (48, 48), (48, 48), (24, 24), (24, 24)],
        defective: 0.0,
        photos: [(24, 24), (12, 14), (14, 14), (13, 14), (2, 2), (0, 0)],
        render: PrintRender::Pdftoppm,
        format: ScanFormat::Jpeg420,
        scanner: [(3, 3), (2, 2), (6, 6), (9, 12)],
    },
];

#[test]
fn accuracy_ratchet() {
    let t = Template::sbk_student();
    // RATCHET_COEFFICIENTS=1 reads the JPEGs on the coefficient road
    // (`EngineOptions::jpeg_coefficients`), to see what it would change.
    let options = formscan::EngineOptions {
        jpeg_coefficients: std::env::var_os("RATCHET_COEFFICIENTS").is_some(),
        ..Default::default()
    };
    let engine = Engine::new(options);
    let mut failures = Vec::new();
    for p in RATCHET {
        if p.render == PrintRender::Pdftoppm && !have_pdftoppm() {
            eprintln!(
                "pdftoppm not installed: skipping the ratchet's print-path condition (CI installs poppler-utils)"
            );
            continue;
        }
        let name = format!("{:?}-{:?}-{:?}", p.degrade, p.render, p.format);
        let dir = scratch(&format!("ratchet-{name}"));
        simulate(
            &dir.join("scans"),
            p.students,
            p.seed,
            p.degrade,
            300.0,
            0.15,
            p.defective,
            Some((p.render, p.format)),
        );
        let opts = BatchOptions { out_dir: dir.join("out"), snippets: false };
        let summary = batch::run(&engine, &[dir.join("scans")], &opts, &|_, _| {}).unwrap();
        assert_eq!(summary.rejected, 0, "{:?}: {:?}", p.degrade, summary.rejected_by_reason);
        let recs = eval::read_records(&dir.join("out/records.jsonl")).unwrap();
        let e = eval::evaluate(&t, &recs);
        let got = [e.identified, e.blanks, e.checkboxes, e.comb_cells, e.text_boxes, e.signatures, e.photos, e.paste]
            .map(|s| (s.right, s.total));
        let digits = (
            (e.digits.right, e.digits.total),
            (e.digit_fields, e.digit_fields_accepted, e.digit_fields_accepted_wrong),
        );
        let ph = eval::evaluate_photos(&recs, &dir.join("out"), (14, 40));
        let photo = [ph.status, ph.iou_95, ph.files_in_spec, ph.position, ph.non_white_flagged, ph.defects_flagged]
            .map(|s| (s.right, s.total));
        let scanner =
            [e.covered_boxes, e.light_copies, ph.printed_read_printed, ph.white_passed].map(|s| (s.right, s.total));
        if scanner != p.scanner {
            failures.push(format!("{name}: scanner conditions pinned {:?}, got {scanner:?}", p.scanner));
        }
        assert_eq!(ph.card_photos_without_print, 0, "{name}: card photos without a pasted print: {:?}", ph.errors);
        if photo != p.photos {
            failures.push(format!("{name}: photos pinned {:?}, got {photo:?}; errors: {:?}", p.photos, ph.errors));
        }
        if got != p.counts || digits != p.digits {
            failures.push(format!(
                "{name}: pinned {:?} {:?}, got {:?} {:?}; errors: {:?}",
                p.counts,
                p.digits,
                got,
                digits,
                (&e.errors, &e.digit_errors)
            ));
        }
        assert!(
            e.registration_median_mm <= 0.3,
            "{:?}: median registration error {} mm",
            p.degrade,
            e.registration_median_mm
        );
        assert!(e.registration_max_mm <= 1.0, "{:?}: max registration error {} mm", p.degrade, e.registration_max_mm);
        if std::env::var_os("KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    assert!(
        failures.is_empty(),
        "accuracy changed; update RATCHET if this is an improvement:\n{}",
        failures.join("\n")
    );
}
