//! Inputs that must be rejected cleanly, each with its reason, without stopping the batch.

use crate::{scratch, simulate};
use formscan::batch::{self, BatchOptions};
use formscan::record::{Outcome, RejectReason};
use formscan::Engine;
use formscan_print::render::raster::Canvas;
use formscan_print::render::{Align, FontKind, Rgb};
use formscan_synth::{eval, Degrade};
use std::path::Path;

fn other_document(path: &Path) {
    // A letter: lines of text, a table, no registration marks.
    let mut c = Canvas::new(210.0, 297.0, 100.0);
    for i in 0..30 {
        c.text(
            formscan::geometry::Point::new(20.0, 30.0 + 8.0 * i as f64),
            4.0,
            "关于印发桂林市在校学生社会保障卡批量制发工作方案的通知",
            Rgb::BLACK,
            Align::Left,
            FontKind::Print,
            false,
        );
    }
    c.fill_rect(formscan::geometry::Rect::new(20.0, 280.0, 60.0, 2.0), Rgb::BLACK);
    c.image.save(path).unwrap();
}

#[test]
fn bad_inputs_are_rejected_with_reasons_and_the_batch_goes_on() {
    let dir = scratch("bad");
    let bad = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad");
    let inputs = dir.join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    // The scan files only: the folder also holds rosters, templates and page codes.
    for e in std::fs::read_dir(&bad).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| ["jpg", "png", "tif", "pdf"].contains(&x.to_str().unwrap_or(""))) {
            std::fs::copy(&p, inputs.join(p.file_name().unwrap())).unwrap();
        }
    }
    image::RgbImage::from_pixel(827, 1169, image::Rgb([247, 247, 245])).save(inputs.join("blank.png")).unwrap();
    other_document(&inputs.join("other-document.png"));
    // One good form among them: the batch must still read it.
    simulate(&inputs.join("good"), 1, 5, Degrade::Mild, 200.0, 0.0, 0.0, None);

    let out = dir.join("out");
    let s = batch::run(
        &Engine::default(),
        std::slice::from_ref(&inputs),
        &BatchOptions { out_dir: out.clone(), snippets: true },
        &|_, _| {},
    )
    .unwrap();
    let recs = eval::read_records(&out.join("records.jsonl")).unwrap();
    assert_eq!(s.pages_in, recs.len());
    let reason = |name: &str| -> Option<RejectReason> {
        let r = recs.iter().find(|r| r.source.file.ends_with(name)).unwrap_or_else(|| panic!("no record for {name}"));
        r.reject.as_ref().map(|x| x.reason)
    };
    assert_eq!(reason("zero-byte.jpg"), Some(RejectReason::UnreadableFile));
    assert_eq!(reason("truncated.jpg"), Some(RejectReason::UnreadableFile));
    assert_eq!(reason("text-named.jpg"), Some(RejectReason::UnreadableFile));
    assert_eq!(reason("bomb.png"), Some(RejectReason::Limits));
    assert_eq!(reason("encrypted.pdf"), Some(RejectReason::UnreadableFile));
    assert_eq!(reason("broken.pdf"), Some(RejectReason::UnreadableFile));
    assert_eq!(reason("no-image.pdf"), Some(RejectReason::UnreadableFile));
    assert_eq!(reason("other-document.png"), Some(RejectReason::NotAForm));
    let blank = recs.iter().find(|r| r.source.file.ends_with("blank.png")).unwrap();
    assert_eq!(blank.outcome, Outcome::Blank);
    let good = recs.iter().find(|r| r.source.file.ends_with("page-00000a.jpg")).unwrap();
    assert_eq!(good.outcome, Outcome::Read, "{:?}", good.reject);
    // Written fields come with snippets for keying, saved where the record says.
    let snippets: Vec<_> = good.fields.values().filter_map(|f| f.snippet.as_ref()).collect();
    assert!(!snippets.is_empty());
    for s in snippets {
        let img = image::open(out.join(s)).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert!(img.width() > 20 && img.height() > 20);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join("records.jsonl")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "records must not be readable by others");
    }
    // Every rejection carries a detail a person can act on.
    assert!(recs.iter().filter_map(|r| r.reject.as_ref()).all(|r| !r.detail.is_empty()));
    let _ = std::fs::remove_dir_all(&dir);
}
