//! The bundled samples in `samples/` (see its README): scans a new user can read at once, as
//! scanners deliver them, with the print manifest they belong to and the records expected.
//!
//! `samples_read_as_expected` reads the folder as `formscan process samples/ --manifest
//! samples/manifest.csv` does and compares every record (timings left out, floats rounded to
//! three decimals) with `samples/expected-records.jsonl`; `REGENERATE=1` rewrites that file
//! after a deliberate change. The scans themselves are written by the ignored test
//! `write_samples` (`cargo test --test integration samples::write_samples -- --ignored`).

use formscan::batch::{self, BatchOptions};
use formscan::lookup::ManifestLookup;
use formscan::record::{Outcome, PageRecord};
use formscan::{Engine, Template};
use formscan_print as print;
use formscan_print::render::raster::Canvas;
use formscan_print::render::{Align, FontKind, Rgb};
use formscan_synth::{self as synth, Degrade, SynthOptions};
use rand::SeedableRng;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

/// Rounds every float (as the golden record does) and drops the timings.
fn normalised(rec: &PageRecord) -> Value {
    let mut rec = rec.clone();
    rec.timing_ms = Default::default();
    let mut v = serde_json::to_value(&rec).unwrap();
    crate::round_floats(&mut v);
    v
}

#[test]
fn samples_read_as_expected() {
    let dir = crate::scratch("samples");
    let mut people = ManifestLookup::default();
    people.add_file(&samples().join("manifest.csv")).unwrap();
    let opts = BatchOptions { out_dir: dir.join("out"), snippets: true };
    // Named relative to the package (cargo runs tests there), as a user names the folder: the
    // card photos' scan tags hash the name, so the expected records hold wherever the checkout is.
    let engine = Engine::default().with_people(std::sync::Arc::new(people));
    let s = batch::run(&engine, &[PathBuf::from("samples")], &opts, &|_, _| {}).unwrap();
    let mut recs = formscan_synth::eval::read_records(&dir.join("out/records.jsonl")).unwrap();
    recs.sort_by(|a, b| (&a.source.file, a.source.page).cmp(&(&b.source.file, b.source.page)));
    // Nine pages: five forms (one upside down, two in a TIFF, one in a PDF), a blank back in
    // the PDF and one on its own, and a page of another document.
    assert_eq!((s.files, s.pages_in, s.read, s.blank, s.rejected), (6, 8, 5, 2, 1), "{s:?}");
    assert!(recs.iter().filter(|r| r.outcome == Outcome::Read).all(|r| r.form.is_some()));
    let got: Vec<Value> = recs.iter().map(normalised).collect();
    let path = samples().join("expected-records.jsonl");
    if std::env::var_os("REGENERATE").is_some() {
        let text: String = got.iter().map(|v| serde_json::to_string(v).unwrap() + "\n").collect();
        std::fs::write(&path, text).unwrap();
    }
    let want: Vec<Value> = std::fs::read_to_string(&path)
        .expect("expected records; run with REGENERATE=1")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "record differs from {}; REGENERATE=1 rewrites it", path.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A page of some other document: a letter with lines of text and a rule, no form marks.
fn letter(dpi: f64) -> image::RgbImage {
    let mut c = Canvas::new(210.0, 297.0, dpi);
    for i in 0..24 {
        let line = if i % 5 == 4 {
            "（以下空白）"
        } else {
            "关于做好在校学生社会保障卡申领资料收集工作的说明"
        };
        let at = formscan::geometry::Point::new(22.0, 40.0 + 9.0 * i as f64);
        c.text(at, 4.2, line, Rgb::BLACK, Align::Left, FontKind::Print, false);
    }
    c.fill_rect(formscan::geometry::Rect::new(22.0, 270.0, 80.0, 0.6), Rgb::BLACK);
    c.image
}

fn jpeg(image: &image::DynamicImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let rgb = image.to_rgb8();
    let enc = jpeg_encoder::Encoder::new(&mut out, quality);
    enc.encode(&rgb, rgb.width() as u16, rgb.height() as u16, jpeg_encoder::ColorType::Rgb).unwrap();
    out
}

/// A scanner's PDF: one DCT-encoded page image per page, A4, as scanners write them.
fn scanner_pdf(pages: &[(Vec<u8>, u32, u32)]) -> Vec<u8> {
    use lopdf::{dictionary, Document, Object, Stream};
    let mut doc = Document::with_version("1.4");
    let pages_id = doc.new_object_id();
    let mut kids = Vec::new();
    for (data, w, h) in pages {
        let image = Stream::new(
            dictionary! {
                "Type" => "XObject", "Subtype" => "Image", "Width" => *w as i64, "Height" => *h as i64,
                "ColorSpace" => "DeviceRGB", "BitsPerComponent" => 8, "Filter" => "DCTDecode",
            },
            data.clone(),
        );
        let image_id = doc.add_object(image);
        let content = doc.add_object(Stream::new(dictionary! {}, b"q 595.28 0 0 841.89 0 0 cm /Im0 Do Q".to_vec()));
        let page = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "MediaBox" => vec![0.into(), 0.into(), 595.28.into(), 841.89.into()],
            "Contents" => content, "Resources" => dictionary! { "XObject" => dictionary! { "Im0" => image_id } },
        });
        kids.push(Object::from(page));
    }
    let count = kids.len() as i64;
    doc.objects
        .insert(pages_id, Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }));
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// Writes `samples/`: five synthetic pupils' forms, printed (manifest only) and scanned at
/// 200 dpi, saved as scanners save them, plus a blank back and a letter.
#[test]
#[ignore = "writes samples/; run by hand to regenerate"]
fn write_samples() {
    let out = samples();
    std::fs::create_dir_all(&out).unwrap();
    let work = crate::scratch("write-samples");
    let t = Template::sbk_student();
    // Five pupils of different ages (kindergarten to senior school), two with a printed photo.
    let all = synth::roster(1200, 2026);
    let mut persons: Vec<_> = [2usize, 250, 520, 800, 1100].iter().map(|&i| all[i].clone()).collect();
    for (k, p) in persons.iter_mut().enumerate() {
        p.photo = (k % 2 == 1).then(|| format!("face:{k}"));
    }
    let lines: Vec<(usize, _)> = persons.into_iter().enumerate().map(|(i, p)| (i + 2, p)).collect();
    let pr = print::print_run(&t, &lines, Some("RSAMPLE"), &work, &work.join("print")).unwrap();
    std::fs::copy(work.join("print/manifest.csv"), out.join("manifest.csv")).unwrap();
    let persons: Vec<_> = pr.pages.iter().map(|p| p.person.clone()).collect();
    let serials: Vec<_> = pr.pages.iter().map(|p| p.serial.clone()).collect();
    let photos: Vec<_> = pr.pages.iter().map(|p| p.photo.clone()).collect();
    let opts = SynthOptions { dpi: 200.0, degrade: Degrade::Mild, seed: 2026, ..Default::default() };
    let scans = work.join("scans");
    synth::run(&t, &persons, &serials, &photos, &pr.run, &opts, &scans).unwrap();
    let page = |k: usize| image::open(scans.join(format!("page-{k:05}a.jpg"))).unwrap();

    std::fs::copy(scans.join("page-00000a.jpg"), out.join("form-1.jpg")).unwrap();
    std::fs::write(out.join("form-2-upside-down.jpg"), jpeg(&page(1).rotate180(), 88)).unwrap();
    // A multi-page TIFF, grey, Deflate-compressed.
    let mut tiff = std::io::Cursor::new(Vec::new());
    {
        use tiff::encoder::{colortype::Gray8, Compression, DeflateLevel, TiffEncoder};
        let mut enc =
            TiffEncoder::new(&mut tiff).unwrap().with_compression(Compression::Deflate(DeflateLevel::Balanced));
        for k in [2, 3] {
            let grey = page(k).to_luma8();
            enc.write_image::<Gray8>(grey.width(), grey.height(), grey.as_raw()).unwrap();
        }
    }
    std::fs::write(out.join("forms-3-4.tif"), tiff.into_inner()).unwrap();
    // A scanner PDF: the fifth form and the blank back of its sheet.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
    let blank = synth::simulate_blank(&t, &opts, &mut rng).image;
    let five = page(4);
    let pdf = scanner_pdf(&[
        (jpeg(&five, 85), five.width(), five.height()),
        (jpeg(&blank, 85), blank.width(), blank.height()),
    ]);
    std::fs::write(out.join("scanner-form-5.pdf"), pdf).unwrap();
    let back = synth::simulate_blank(&t, &opts, &mut rng).image;
    std::fs::write(out.join("blank-back.jpg"), jpeg(&back, 85)).unwrap();
    let other = image::DynamicImage::ImageRgb8(letter(200.0));
    std::fs::write(out.join("other-document.jpg"), jpeg(&other, 85)).unwrap();
    let _ = std::fs::remove_dir_all(&work);
}
