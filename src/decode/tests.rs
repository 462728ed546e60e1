//! Tests for `decode`, on tiny synthetic files built here, and on the bad-input files in
//! `tests/bad/` (regenerate those with
//! `cargo test --lib decode::tests::regenerate_bad_files -- --ignored`).

use std::io::Write;
use std::path::{Path, PathBuf};

use image::{DynamicImage, GrayImage, ImageFormat, RgbImage, RgbaImage};
use lopdf::{dictionary, Document, Object, Stream};

use super::*;

fn limits() -> DecodeLimits {
    DecodeLimits::default()
}

fn decode_all(bytes: Vec<u8>) -> Vec<Result<DynamicImage>> {
    let pages = open_bytes(bytes, &limits()).expect("opens");
    pages.iter().map(|p| decode_page(p, &limits())).collect()
}

fn input_reason(result: &Result<impl std::fmt::Debug>) -> String {
    match result {
        Err(Error::Input { reason, .. }) => reason.clone(),
        other => panic!("expected an input error, got {other:?}"),
    }
}

/// A textured test picture: smooth gradients plus a grid, so JPEG sizes are realistic.
fn picture(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let line = if x % 37 < 2 || y % 23 < 2 { 0 } else { 255 };
        image::Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, line])
    })
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).expect("encodes");
    out.into_inner()
}

fn jpeg(width: u32, height: u32) -> Vec<u8> {
    encode(&DynamicImage::ImageRgb8(picture(width, height)), ImageFormat::Jpeg)
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("in memory");
    encoder.finish().expect("in memory")
}

#[test]
fn jpeg_decodes_to_rgb8() {
    let decoded = decode_all(jpeg(64, 48));
    let image = decoded[0].as_ref().expect("decodes");
    assert!(matches!(image, DynamicImage::ImageRgb8(_)));
    assert_eq!((image.width(), image.height()), (64, 48));
    // Padding after EOI, as some scanners write, is harmless.
    let mut padded = jpeg(16, 16);
    padded.extend([0; 100]);
    assert!(decode_all(padded)[0].is_ok());
    let grey = encode(&DynamicImage::ImageLuma8(GrayImage::new(8, 8)), ImageFormat::Jpeg);
    assert!(matches!(decode_all(grey)[0], Ok(DynamicImage::ImageLuma8(_))));
}

#[test]
fn png_grey_rgb_and_others_become_8bit() {
    let grey = GrayImage::from_fn(5, 4, |x, _| image::Luma([x as u8 * 50]));
    let out = decode_all(encode(&DynamicImage::ImageLuma8(grey.clone()), ImageFormat::Png));
    assert_eq!(out[0].as_ref().expect("decodes").as_luma8(), Some(&grey));
    let rgb = picture(7, 3);
    let out = decode_all(encode(&DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::Png));
    assert_eq!(out[0].as_ref().expect("decodes").as_rgb8(), Some(&rgb));
    // 16-bit grey becomes Luma8; transparent RGBA becomes white RGB.
    let deep = DynamicImage::ImageLuma16(image::ImageBuffer::from_pixel(3, 3, image::Luma([65535u16])));
    let out = decode_all(encode(&deep, ImageFormat::Png));
    assert_eq!(out[0].as_ref().expect("decodes").as_luma8().map(|g| g.get_pixel(0, 0).0), Some([255]));
    let clear = DynamicImage::ImageRgba8(RgbaImage::from_pixel(2, 2, image::Rgba([0, 0, 0, 0])));
    let out = decode_all(encode(&clear, ImageFormat::Png));
    assert_eq!(out[0].as_ref().expect("decodes").as_rgb8().map(|g| g.get_pixel(1, 1).0), Some([255; 3]));
}

/// One uncompressed strip of a TIFF page.
#[derive(Clone, Copy)]
struct TiffPage<'a> {
    size: (u32, u32),
    samples: u16,
    bits: u16,
    photometric: u16,
    compression: u16,
    data: &'a [u8],
}

/// Writes a little-endian multi-page TIFF, one strip a page.
fn tiff(pages: &[TiffPage]) -> Vec<u8> {
    let mut out = b"II*\0\0\0\0\0".to_vec();
    let mut link = 4;
    for page in pages {
        let data_at = out.len() as u32;
        out.extend(page.data);
        let bits_at = out.len() as u32;
        for _ in 0..page.samples {
            out.extend(page.bits.to_le_bytes());
        }
        out.resize(out.len() + out.len() % 2, 0); // IFDs start on a word boundary
        let ifd = out.len() as u32;
        out[link..link + 4].copy_from_slice(&ifd.to_le_bytes());
        let bits = if page.samples <= 2 { u32::from(page.bits) } else { bits_at };
        let (short, long) = (3u16, 4u16);
        let entries = [
            (256, long, 1, page.size.0),
            (257, long, 1, page.size.1),
            (258, short, u32::from(page.samples), bits),
            (259, short, 1, u32::from(page.compression)),
            (262, short, 1, u32::from(page.photometric)),
            (273, long, 1, data_at),
            (277, short, 1, u32::from(page.samples)),
            (278, long, 1, page.size.1),
            (279, long, 1, page.data.len() as u32),
        ];
        out.extend((entries.len() as u16).to_le_bytes());
        for (tag, kind, count, value) in entries {
            out.extend(u16::to_le_bytes(tag));
            out.extend(kind.to_le_bytes());
            out.extend(u32::to_le_bytes(count));
            out.extend(value.to_le_bytes());
        }
        link = out.len();
        out.extend([0; 4]);
    }
    out
}

#[test]
fn tiff_pages_grey_rgb_and_bilevel() {
    let grey: Vec<u8> = (0..16 * 8).map(|i| i as u8).collect();
    let rgb: Vec<u8> = (0..10 * 6 * 3).map(|i| (i * 7) as u8).collect();
    // 1-bit WhiteIsZero, 12 px a row (2 bytes): the first 4 pixels of every row are black.
    let bilevel = [0xF0u8, 0x00].repeat(4);
    let file = tiff(&[
        TiffPage { size: (16, 8), samples: 1, bits: 8, photometric: 1, compression: 1, data: &grey },
        TiffPage { size: (10, 6), samples: 3, bits: 8, photometric: 2, compression: 1, data: &rgb },
        TiffPage { size: (12, 4), samples: 1, bits: 1, photometric: 0, compression: 1, data: &bilevel },
    ]);
    let pages = open_bytes(file, &limits()).expect("opens");
    assert_eq!(pages.iter().map(PageSource::index).collect::<Vec<_>>(), [0, 1, 2]);
    let decoded: Vec<_> = pages.iter().map(|p| decode_page(p, &limits()).expect("decodes")).collect();
    assert_eq!(decoded[0].as_luma8().map(|g| g.as_raw().clone()), Some(grey));
    assert_eq!(decoded[1].as_rgb8().map(|g| g.as_raw().clone()), Some(rgb));
    let row: Vec<u8> = decoded[2].as_luma8().expect("grey").rows().next().expect("row").map(|p| p.0[0]).collect();
    assert_eq!(row, [0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255]);
}

#[test]
fn tiff_bad_page_fails_alone() {
    let grey = [128u8; 16];
    let mut file = tiff(&[
        TiffPage { size: (4, 4), samples: 1, bits: 8, photometric: 1, compression: 1, data: &grey },
        TiffPage { size: (4, 4), samples: 1, bits: 8, photometric: 1, compression: 6, data: &grey },
    ]);
    let decoded = decode_all(file.clone());
    assert!(decoded[0].is_ok());
    assert!(input_reason(&decoded[1]).contains("TIFF"), "{:?}", decoded[1]);
    // A link to a directory past the end of the file becomes a failed third page.
    let end = file.len();
    file[end - 4..].copy_from_slice(&(1u32 << 30).to_le_bytes());
    let decoded = decode_all(file);
    assert_eq!(decoded.len(), 3);
    assert!(input_reason(&decoded[2]).contains("outside the file"));
    let many = limits_with_pages(1);
    let err = open_bytes(
        tiff(&[TiffPage { size: (4, 4), samples: 1, bits: 8, photometric: 1, compression: 1, data: &grey }; 2]),
        &many,
    );
    assert!(matches!(err, Err(Error::Limits { what: "pages", actual: 2, limit: 1, .. })));
}

fn limits_with_pages(max_pages: usize) -> DecodeLimits {
    DecodeLimits { max_pages, ..DecodeLimits::default() }
}

/// A PDF built with lopdf: `pages` are (content stream, names drawn), all sharing one
/// resource dictionary on the page-tree root (so they are inherited), holding `images`.
fn pdf(images: Vec<(&str, Stream)>, pages: &[&str]) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let mut xobjects = lopdf::Dictionary::new();
    for (name, stream) in images {
        xobjects.set(name, doc.add_object(stream.with_compression(false)));
    }
    let kids: Vec<Object> = pages
        .iter()
        .map(|content| {
            let contents = doc.add_object(Stream::new(dictionary! {}, content.as_bytes().to_vec()));
            let page = dictionary! { "Type" => "Page", "Parent" => pages_id, "Contents" => contents };
            doc.add_object(page).into()
        })
        .collect();
    let count = kids.len() as i64;
    let resources = dictionary! { "XObject" => xobjects };
    let media_box: Vec<Object> = vec![0.into(), 0.into(), 595.into(), 842.into()];
    let tree = dictionary! {
        "Type" => "Pages", "Kids" => kids, "Count" => count, "Resources" => resources,
        "MediaBox" => media_box
    };
    doc.objects.insert(pages_id, Object::Dictionary(tree));
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("in memory");
    out
}

fn image_stream(size: (u32, u32), space: &str, bits: i64, filter: Option<&str>, data: Vec<u8>) -> Stream {
    let mut dict = dictionary! { "Type" => "XObject", "Subtype" => "Image", "Width" => size.0,
    "Height" => size.1, "ColorSpace" => space, "BitsPerComponent" => bits };
    if let Some(filter) = filter {
        dict.set("Filter", filter);
    }
    Stream::new(dict, data)
}

#[test]
fn pdf_takes_the_largest_drawn_image() {
    let small = image_stream((4, 4), "DeviceGray", 8, Some("FlateDecode"), zlib(&[0; 16]));
    let unused = image_stream((100, 100), "DeviceGray", 8, Some("FlateDecode"), zlib(&[0; 10000]));
    let scan = image_stream((40, 30), "DeviceRGB", 8, Some("DCTDecode"), jpeg(40, 30));
    let file = pdf(
        vec![("Im0", scan), ("Im1", small), ("Im2", unused)],
        &["q 40 0 0 30 0 0 cm /Im0 Do Q q 4 0 0 4 0 0 cm /Im1 Do Q", "0 0 m 595 842 l S (/Im2 Do) Tj"],
    );
    let decoded = decode_all(file);
    let first = decoded[0].as_ref().expect("decodes");
    assert!(matches!(first, DynamicImage::ImageRgb8(_)));
    assert_eq!((first.width(), first.height()), (40, 30));
    assert_eq!(input_reason(&decoded[1]), "PDF page holds no scanned image");
}

/// PNG-filters rows (filter type = row number mod 5), as a Predictor 15 writer would.
fn png_filtered(data: &[u8], row_bytes: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for (r, row) in data.chunks(row_bytes).enumerate() {
        let kind = (r % 5) as u8;
        out.push(kind);
        for (i, &x) in row.iter().enumerate() {
            let a = if i > 0 { row[i - 1] } else { 0 };
            let b = if r > 0 { data[(r - 1) * row_bytes + i] } else { 0 };
            let c = if r > 0 && i > 0 { data[(r - 1) * row_bytes + i - 1] } else { 0 };
            let predicted = match kind {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                _ => pdf::paeth(a, b, c),
            };
            out.push(x.wrapping_sub(predicted));
        }
    }
    out
}

#[test]
fn pdf_flate_images_bilevel_predictors_and_unsupported_filters() {
    // 1-bit grey, 10 px a row (2 bytes): 1 is white, so 0x0F.. gives 4 black then white.
    let bilevel = image_stream((10, 3), "DeviceGray", 1, Some("FlateDecode"), zlib(&[0x0F, 0xC0].repeat(3)));
    let grey: Vec<u8> = (0..9 * 7).map(|i| (i * 13 % 256) as u8).collect();
    let mut predicted = image_stream((9, 7), "DeviceGray", 8, Some("FlateDecode"), zlib(&png_filtered(&grey, 9)));
    predicted.dict.set("DecodeParms", dictionary! { "Predictor" => 15, "Columns" => 9, "Colors" => 1 });
    let mut inverted = image_stream((2, 1), "DeviceRGB", 8, Some("FlateDecode"), zlib(&[0, 10, 20, 30, 40, 50]));
    inverted.dict.set("Decode", vec![1.into(), 0.into(), 1.into(), 0.into(), 1.into(), 0.into()]);
    let cmyk = image_stream((1, 1), "DeviceCMYK", 8, None, vec![0, 255, 255, 0]);
    let jpx = image_stream((8, 8), "DeviceGray", 1, Some("JPXDecode"), vec![0; 8]);
    let images = vec![("A", bilevel), ("B", predicted), ("C", inverted), ("D", cmyk), ("E", jpx)];
    let file = pdf(images, &["/A Do", "/B Do", "/C Do", "/D Do", "/E Do"]);
    let decoded = decode_all(file);
    let bilevel = decoded[0].as_ref().expect("decodes").as_luma8().expect("grey").clone();
    assert_eq!(
        bilevel.rows().next().expect("row").map(|p| p.0[0]).collect::<Vec<_>>(),
        [0, 0, 0, 0, 255, 255, 255, 255, 255, 255]
    );
    assert_eq!(decoded[1].as_ref().expect("decodes").as_luma8().map(|g| g.as_raw().clone()), Some(grey));
    assert_eq!(
        decoded[2].as_ref().expect("decodes").as_rgb8().map(|g| g.as_raw().clone()),
        Some(vec![255, 245, 235, 225, 215, 205])
    );
    assert_eq!(decoded[3].as_ref().expect("decodes").as_rgb8().map(|g| g.get_pixel(0, 0).0), Some([255, 0, 0]));
    assert_eq!(input_reason(&decoded[4]), "unsupported PDF image filter /JPXDecode");
}

#[test]
fn pixel_limit_applies_to_tiff_and_pdf_pages() {
    let huge = (60_000, 60_000);
    let page = TiffPage { size: huge, samples: 1, bits: 8, photometric: 1, compression: 1, data: &[0; 8] };
    let pdf_image = image_stream(huge, "DeviceGray", 8, Some("FlateDecode"), zlib(&[0; 8]));
    for file in [tiff(&[page]), pdf(vec![("I", pdf_image)], &["/I Do"])] {
        let decoded = decode_all(file);
        assert!(matches!(decoded[0], Err(Error::Limits { what: "pixels", actual: 3_600_000_000, .. })));
    }
}

#[test]
fn pdf_page_limit() {
    let file = pdf(vec![], &["", "", ""]);
    let err = open_bytes(file, &limits_with_pages(2));
    assert!(matches!(err, Err(Error::Limits { what: "pages", actual: 3, limit: 2, .. })));
}

fn bad(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad").join(name)
}

/// Opens a bad file and decodes its pages; the first error, which must come.
fn bad_outcome(name: &str) -> Error {
    let path = bad(name);
    let result = open_file(&path, &limits())
        .and_then(|pages| pages.iter().map(|p| decode_page(p, &limits())).collect::<Result<Vec<_>>>());
    let err = result.expect_err(name);
    match &err {
        Error::Input { path: Some(p), .. } | Error::Limits { path: Some(p), .. } => {
            assert_eq!(p, &path)
        }
        other => panic!("{name}: expected an input or limits error with its path, got {other:?}"),
    }
    err
}

#[test]
fn bad_files_are_rejected_cleanly() {
    let reason = |name| match bad_outcome(name) {
        Error::Input { reason, .. } => reason,
        other => panic!("{name}: {other}"),
    };
    let limit = |name| match bad_outcome(name) {
        Error::Limits { what, actual, limit, .. } => (what, actual, limit),
        other => panic!("{name}: {other}"),
    };
    for name in ["text-named.jpg", "bmp-named.jpg", "gif-named.png", "webp-named.png", "html-named.pdf"] {
        assert_eq!(reason(name), "not an image or PDF", "{name}");
    }
    assert_eq!(reason("zero-byte.jpg"), "empty file");
    assert_eq!(reason("truncated.jpg"), "truncated JPEG");
    assert_eq!(reason("encrypted.pdf"), "encrypted PDF");
    assert!(reason("broken.pdf").starts_with("broken PDF: "));
    assert_eq!(reason("no-image.pdf"), "PDF page holds no scanned image");
    assert_eq!(
        reason("jpeg-lying-frame.jpg"),
        "truncated JPEG: its data ends before the 10900×10900 pixels its frame header declares"
    );
    assert_eq!(reason("jpeg-zero-width.jpg"), "image has no pixels (0×160)");
    assert_eq!(reason("jpeg-no-frame.jpg"), "corrupt JPEG: no image data");
    assert!(reason("png-bad-crc.png").contains("CRC error"));
    assert!(reason("png-bad-idat.png").starts_with("corrupt PNG: "));
    assert!(reason("png-truncated.png").starts_with("truncated PNG: "));
    assert_eq!(reason("png-zero-size.png"), "image has no pixels (0×0)");
    assert_eq!(reason("tiff-truncated.tif"), "corrupt TIFF: no readable page directory");
    assert!(reason("tiff-strip-past-end.tif").starts_with("truncated TIFF: "));
    assert!(reason("tiff-ifd-loop.tif").contains("cycle in the list of IFDs"));
    assert!(reason("tiff-unsupported-compression.tif").starts_with("unsupported TIFF: "));
    assert_eq!(reason("pdf-bad-xref.pdf"), "broken PDF: no pages found");
    assert_eq!(reason("pdf-no-pages.pdf"), "broken PDF: no pages found");
    assert_eq!(reason("pdf-page-tree-cycle.pdf"), "broken PDF: no pages found");
    assert_eq!(reason("pdf-jbig2.pdf"), "unsupported PDF image filter /JBIG2Decode");
    assert_eq!(reason("pdf-dct-truncated.pdf"), "truncated JPEG");
    assert_eq!(reason("pdf-bits7.pdf"), "unsupported PDF image: 7 bits per component");
    assert_eq!(reason("pdf-flate-short.pdf"), "truncated PDF image data: 700 of 3500 bytes");
    assert_eq!(reason("pdf-negative-width.pdf"), "broken PDF image: no valid /Width");
    let pixels = |actual| ("pixels", actual, 120_000_000);
    assert_eq!(limit("bomb.png"), pixels(3_600_000_000));
    assert_eq!(limit("jpeg-huge-frame.jpg"), pixels(4_294_836_225));
    assert_eq!(limit("png-absurd-width.png"), pixels(2_147_483_647));
    assert_eq!(limit("tiff-bomb.tif"), pixels(3_600_000_000));
    assert_eq!(limit("pdf-image-huge.pdf"), pixels(10_000_000_000));
    assert_eq!(limit("tiff-too-many-pages.tif"), ("pages", 2001, 2000));
    assert_eq!(limit("pdf-too-many-pages.pdf"), ("pages", 2001, 2000));
    // These decode: the format is sniffed, a Flate bomb is inflated only as far as the image
    // needs, and scrambled JPEG data still fills its frame (the reader then finds no form).
    for (name, size) in
        [("png-named.jpg", (60, 80)), ("pdf-flate-bomb.pdf", (50, 70)), ("jpeg-corrupt-entropy.jpg", (120, 160))]
    {
        let pages = open_file(&bad(name), &limits()).expect(name);
        assert_eq!(pages.len(), 1, "{name}");
        let image = decode_page(&pages[0], &limits()).expect(name);
        assert_eq!((image.width(), image.height()), size, "{name}");
    }
}

#[test]
fn file_size_limit() {
    let tight = DecodeLimits { max_file_bytes: 10, ..DecodeLimits::default() };
    let err = open_file(&bad("no-image.pdf"), &tight);
    assert!(matches!(err, Err(Error::Limits { what: "file bytes", limit: 10, .. })));
}

#[test]
fn list_inputs_recurses_and_filters() {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let root = std::env::temp_dir().join(format!("formscan-decode-{}-{nanos}", std::process::id()));
    let files = [
        "a.JPG",
        "b.png",
        "notes.txt",
        ".hidden.jpg",
        ".git/c.jpg",
        "sub/d.tiff",
        "sub/deep/e.Pdf",
        "sub/f.TIF",
        "sub/g.jpeg.bak",
    ];
    for file in files {
        let path = root.join(file);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("temp dir");
        std::fs::write(&path, b"x").expect("temp file");
    }
    let listed = list_inputs(&[root.join("sub"), root.clone(), root.join("notes.txt"), root.join("a.JPG")]);
    let listed: Vec<_> =
        listed.expect("lists").iter().map(|p| p.strip_prefix(&root).expect("under root").to_owned()).collect();
    let expected = ["a.JPG", "b.png", "notes.txt", "sub/d.tiff", "sub/deep/e.Pdf", "sub/f.TIF"];
    assert_eq!(listed, expected.map(PathBuf::from));
    assert!(matches!(list_inputs(&[root.join("missing")]), Err(Error::Input { .. })));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn page_sources_can_cross_threads() {
    fn check<T: Send + Sync + Clone>() {}
    check::<PageSource>();
}

/// Mangled copies of valid files (truncations, flipped bytes) must give outcomes, not panics.
#[test]
fn mangled_files_never_crash() {
    let grey = [7u8; 64];
    let samples = [
        jpeg(40, 30),
        encode(&DynamicImage::ImageRgb8(picture(9, 9)), ImageFormat::Png),
        tiff(&[TiffPage { size: (8, 8), samples: 1, bits: 8, photometric: 1, compression: 1, data: &grey }; 2]),
        pdf(vec![("I", image_stream((8, 8), "DeviceGray", 8, Some("FlateDecode"), zlib(&grey)))], &["/I Do"]),
    ];
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as usize
    };
    for sample in &samples {
        for round in 0..150 {
            let mut bytes = sample.clone();
            if round % 3 == 0 {
                bytes.truncate(random() % bytes.len());
            } else {
                for _ in 0..1 + random() % 4 {
                    let at = random() % bytes.len();
                    bytes[at] = random() as u8;
                }
            }
            let outcomes = open_bytes(bytes, &limits())
                .map(|pages| pages.iter().map(|p| decode_page(p, &limits())).collect::<Vec<_>>());
            let crashed = |e: &Error| e.to_string().contains("crashed");
            assert!(!outcomes.as_ref().is_err_and(crashed), "{outcomes:?}");
            assert!(!outcomes.iter().flatten().any(|o| o.as_ref().is_err_and(crashed)), "{outcomes:?}");
        }
    }
}

/// Writes the scan files of `tests/bad/` (see its README, which lists every file and what it
/// must give). Deterministic for a given `Cargo.lock`; the bytes that come from the `image`
/// crate's JPEG and PNG encoders or from zlib may change with those crates. The text cases
/// there (rosters, templates, page codes) are written by hand.
#[test]
#[ignore = "writes tests/bad; run by hand to regenerate"]
fn regenerate_bad_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad");
    std::fs::create_dir_all(&dir).expect("tests/bad");
    for (name, bytes) in bad_scan_files() {
        std::fs::write(dir.join(name), bytes).expect("writes");
    }
}

/// Every scan file of `tests/bad/`, by name.
fn bad_scan_files() -> Vec<(&'static str, Vec<u8>)> {
    let mut truncated = jpeg(200, 300);
    truncated.truncate(truncated.len() / 2);
    let small_jpeg = jpeg(120, 160);
    let grey_page = [255u8; 50 * 70];
    let mut files = vec![
        ("zero-byte.jpg", Vec::new()),
        ("truncated.jpg", truncated),
        ("text-named.jpg", b"Scanner log: 42 pages, 0 errors.\nThis is not a JPEG.\n".to_vec()),
        ("bomb.png", png_bomb(60_000, 60_000)),
        ("encrypted.pdf", handmade_pdf(ENCRYPT_OBJECT, ENCRYPT_TRAILER)),
        ("broken.pdf", BROKEN_PDF.to_vec()),
        ("no-image.pdf", handmade_pdf("", "")),
        // JPEG.
        ("jpeg-lying-frame.jpg", lying_jpeg(&small_jpeg, 10_900, 10_900)),
        ("jpeg-zero-width.jpg", lying_jpeg(&small_jpeg, 0, 160)),
        ("jpeg-huge-frame.jpg", lying_jpeg(&small_jpeg, 65_535, 65_535)),
        ("jpeg-corrupt-entropy.jpg", scramble_entropy(&small_jpeg)),
        ("jpeg-no-frame.jpg", JPEG_NO_FRAME.to_vec()),
        // PNG.
        ("png-bad-crc.png", png_bad_crc()),
        ("png-truncated.png", {
            let mut png = encode(&DynamicImage::ImageRgb8(picture(64, 64)), ImageFormat::Png);
            png.truncate(png.len() / 2);
            png
        }),
        ("png-zero-size.png", png_bomb(0, 0)),
        ("png-absurd-width.png", png_bomb(i32::MAX as u32, 1)),
        ("png-bad-idat.png", png_file(16, 16, b"\x78\x9c not zlib at all, just text")),
        // TIFF.
        ("tiff-bomb.tif", tiff(&[TiffPage { size: (60_000, 60_000), ..white_page(&[0; 8]) }])),
        ("tiff-truncated.tif", {
            let mut file = tiff(&[white_page(&grey_page)]);
            file.truncate(file.len() / 2);
            file
        }),
        ("tiff-strip-past-end.tif", tiff_with(&tiff(&[white_page(&grey_page)]), 273, 1 << 20)),
        ("tiff-ifd-loop.tif", tiff_ifd_loop(&tiff(&[white_page(&grey_page)]))),
        ("tiff-unsupported-compression.tif", tiff(&[TiffPage { compression: 6, ..white_page(&[255; 64]) }])),
        ("tiff-too-many-pages.tif", tiff_empty_ifds(2001)),
        // PDF.
        ("pdf-page-tree-cycle.pdf", pdf_from_objects(&[CATALOG, b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"], "")),
        ("pdf-no-pages.pdf", pdf_from_objects(&[CATALOG, b"<< /Type /Pages /Count 0 >>"], "")),
        ("pdf-bad-xref.pdf", garbage_xref(&handmade_pdf("", ""))),
        (
            "pdf-image-huge.pdf",
            image_pdf(
                "/Width 100000 /Height 100000 /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode",
                &zlib(&[0; 64]),
            ),
        ),
        (
            "pdf-jbig2.pdf",
            image_pdf(
                "/Width 50 /Height 70 /ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /JBIG2Decode",
                &[0x97, 0x4A, 0x42, 0x32, 0x0D, 0x0A, 0x1A, 0x0A],
            ),
        ),
        (
            "pdf-dct-truncated.pdf",
            image_pdf(
                "/Width 120 /Height 160 /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode",
                &small_jpeg[..small_jpeg.len() / 2],
            ),
        ),
        (
            "pdf-bits7.pdf",
            image_pdf(
                "/Width 50 /Height 70 /ColorSpace /DeviceGray /BitsPerComponent 7 /Filter /FlateDecode",
                &zlib(&[255; 3063]),
            ),
        ),
        (
            "pdf-flate-short.pdf",
            image_pdf(
                "/Width 50 /Height 70 /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode",
                &zlib(&[255; 700]),
            ),
        ),
        (
            "pdf-flate-bomb.pdf",
            image_pdf(
                "/Width 50 /Height 70 /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode",
                &zlib_best(&vec![255; 8 << 20]),
            ),
        ),
        (
            "pdf-negative-width.pdf",
            image_pdf(
                "/Width -50 /Height 70 /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode",
                &zlib(&[255; 64]),
            ),
        ),
        ("pdf-too-many-pages.pdf", pdf_many_pages(2001)),
        // Other formats under a scan's name, and a real PNG under a JPEG name.
        ("gif-named.png", GIF_1X1.to_vec()),
        ("bmp-named.jpg", bmp_1x1()),
        ("webp-named.png", WEBP_HEAD.to_vec()),
        ("html-named.pdf", HTML_PAGE.as_bytes().to_vec()),
        (
            "png-named.jpg",
            encode(&DynamicImage::ImageLuma8(GrayImage::from_pixel(60, 80, image::Luma([250]))), ImageFormat::Png),
        ),
    ];
    files.sort_by_key(|(name, _)| *name);
    files
}

const ENCRYPT_TRAILER: &str = "/Encrypt 5 0 R \
    /ID [<0123456789ABCDEF0123456789ABCDEF> <0123456789ABCDEF0123456789ABCDEF>]";

/// A PDF header, then bytes that are no PDF structure at all.
const BROKEN_PDF: &[u8] = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n\x00\x17garbage, no objects, no xref, no trailer \xFF\xFE\n";

/// SOI, a JFIF APP0 segment and EOI: a JPEG without a frame or scan.
const JPEG_NO_FRAME: &[u8] = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xFF\xD9";

/// A 1×1 GIF89a (the classic transparent pixel).
const GIF_1X1: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xFF\xFF\xFF\x00\x00\x00\
    !\xF9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";

/// The first bytes of a lossless WebP file: RIFF header, `WEBP`, a `VP8L` chunk header.
const WEBP_HEAD: &[u8] =
    b"RIFF\x1A\x00\x00\x00WEBPVP8L\x0D\x00\x00\x00\x2F\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xFE\x07\x00";

/// The error page a web upload form returns, saved under a PDF name.
const HTML_PAGE: &str = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>上传失败</title></head>\n\
    <body><h1>502 Bad Gateway</h1><p>扫描件上传失败，请重试。</p></body></html>\n";

/// A one-strip 50×70 8-bit grey TIFF page (MinIsBlack) holding `data`.
fn white_page(data: &[u8]) -> TiffPage<'_> {
    TiffPage { size: (50, 70), samples: 1, bits: 8, photometric: 1, compression: 1, data }
}

/// A 1×1 24-bit BMP (a white pixel).
fn bmp_1x1() -> Vec<u8> {
    let mut out = b"BM".to_vec();
    out.extend(58u32.to_le_bytes()); // file size
    out.extend([0; 4]);
    out.extend(54u32.to_le_bytes()); // pixel data offset
    out.extend(40u32.to_le_bytes()); // BITMAPINFOHEADER
    out.extend(1i32.to_le_bytes());
    out.extend(1i32.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(24u16.to_le_bytes());
    out.extend([0; 24]);
    out.extend([255, 255, 255, 0]);
    out
}

/// `jpeg` with the middle third of its entropy-coded data replaced by pseudo-random bytes
/// (never 0xFF, so no marker appears and the EOI stays the last marker).
fn scramble_entropy(jpeg: &[u8]) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    let sos = out.windows(2).position(|w| w == [0xFF, 0xDA]).expect("scan header");
    let start = sos + 2 + usize::from(u16::from_be_bytes([out[sos + 2], out[sos + 3]]));
    let end = out.len() - 2;
    let mut seed = 0x9E37_79B9u32;
    for b in &mut out[start + (end - start) / 3..start + 2 * (end - start) / 3] {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        *b = (seed >> 24) as u8 & 0xFE;
    }
    out
}

/// A PNG signature, an IHDR declaring `width`×`height` 8-bit RGB, one tiny IDAT and IEND.
fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    png_file(width, height, &zlib(&[0; 64]))
}

/// A PNG signature, an IHDR declaring `width`×`height` 8-bit RGB, one IDAT holding `idat`
/// and IEND.
fn png_file(width: u32, height: u32, idat: &[u8]) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend((data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend(kind);
        out.extend(data);
        out.extend(crc.sum().to_be_bytes());
    };
    let mut ihdr = [width.to_be_bytes(), height.to_be_bytes()].concat();
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", idat);
    chunk(b"IEND", &[]);
    out
}

/// A valid 16×16 RGB PNG whose IHDR checksum has one bit flipped.
fn png_bad_crc() -> Vec<u8> {
    let rgb: Vec<u8> = (0..16).flat_map(|_| std::iter::once(0).chain([200u8; 48])).collect();
    let mut out = png_file(16, 16, &zlib(&rgb));
    out[29] ^= 0x01; // the first byte of IHDR's CRC: 8 signature + 4 length + 4 type + 13 data
    out
}

/// zlib at the best compression, for the Flate bomb.
fn zlib_best(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).expect("in memory");
    encoder.finish().expect("in memory")
}

/// A one-page `tiff` file with the value of `tag` in its first directory replaced by `value`.
fn tiff_with(file: &[u8], tag: u16, value: u32) -> Vec<u8> {
    let mut out = file.to_vec();
    let ifd = u32::from_le_bytes([out[4], out[5], out[6], out[7]]) as usize;
    let count = usize::from(u16::from_le_bytes([out[ifd], out[ifd + 1]]));
    let entry = (0..count).map(|i| ifd + 2 + 12 * i).find(|&e| out[e..e + 2] == tag.to_le_bytes()).expect("tag");
    out[entry + 8..entry + 12].copy_from_slice(&value.to_le_bytes());
    out
}

/// A one-page `tiff` file whose directory's link to the next directory points at itself.
fn tiff_ifd_loop(file: &[u8]) -> Vec<u8> {
    let mut out = file.to_vec();
    let end = out.len();
    let ifd = [out[4], out[5], out[6], out[7]];
    out[end - 4..].copy_from_slice(&ifd);
    out
}

/// A TIFF header and a chain of `n` empty directories (no entries, just the next link).
fn tiff_empty_ifds(n: u32) -> Vec<u8> {
    let mut out = b"II*\0".to_vec();
    out.extend(8u32.to_le_bytes());
    for i in 0..n {
        let next = if i + 1 == n { 0 } else { 8 + 6 * (i + 1) };
        out.extend(0u16.to_le_bytes());
        out.extend(next.to_le_bytes());
    }
    out
}

/// A standard security handler dictionary (RC4 40-bit) with made-up keys.
const ENCRYPT_OBJECT: &str = "<< /Filter /Standard /V 1 /R 2 /P -3904 \
    /O <8F2A6C1D9E4B7F30A5C6E2D18B9F4A7C3E1D5B8A2F6C9E0D4B7A1F3C8E5D2B6A> \
    /U <1C7E4A9D2F5B8E3A6D0C9F2B5E8A1D4C7F0B3E6A9D2C5F8B1E4A7D0C3F6B9E2A> >>";

const CATALOG: &[u8] = b"<< /Type /Catalog /Pages 2 0 R >>";

/// A one-page PDF whose page only strokes lines and writes text (a printed blank form), with
/// hand-computed xref offsets; `extra` is an optional fifth object, `trailer` extra entries.
fn handmade_pdf(extra: &str, trailer: &str) -> Vec<u8> {
    let content = "0.5 w 50 700 m 545 700 l S 50 650 m 545 650 l S\nBT /F1 12 Tf 50 720 Td (Name:) Tj ET\n";
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
         /Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>"
            .to_string(),
        format!("<< /Length {} >>\nstream\n{content}endstream", content.len()),
    ];
    if !extra.is_empty() {
        objects.push(extra.to_string());
    }
    let objects: Vec<&[u8]> = objects.iter().map(|o| o.as_bytes()).collect();
    pdf_from_objects(&objects, trailer)
}

/// A PDF 1.4 file of `objects` (numbered from 1, object 1 the catalogue) with a classic xref
/// table at hand-computed offsets; `trailer` holds extra trailer entries.
fn pdf_from_objects(objects: &[&[u8]], trailer: &str) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n", i + 1).bytes());
        out.extend(*object);
        out.extend(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).bytes());
    for offset in offsets {
        out.extend(format!("{offset:010} 00000 n \n").bytes());
    }
    let size = objects.len() + 1;
    out.extend(format!("trailer\n<< /Size {size} /Root 1 0 R {trailer}>>\nstartxref\n{xref}\n%%EOF\n").bytes());
    out
}

/// A stream object: `dict` entries plus /Length, then `data`.
fn stream_object(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut out = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    out.extend(data);
    out.extend(b"\nendstream");
    out
}

/// A one-page PDF whose page draws one image XObject, described by `image` (dictionary
/// entries without /Type, /Subtype and /Length) and holding `data`.
fn image_pdf(image: &str, data: &[u8]) -> Vec<u8> {
    let page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
        /Resources << /XObject << /Im0 5 0 R >> >> >>";
    let content = stream_object("", b"q 595 0 0 842 0 0 cm /Im0 Do Q");
    let image = stream_object(&format!("/Type /XObject /Subtype /Image {image}"), data);
    pdf_from_objects(&[CATALOG, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", page, &content, &image], "")
}

/// `file` (from [`pdf_from_objects`]) with every in-use xref entry pointing at byte 99999, far
/// past the end of the file (the same length, so `startxref` stays right).
fn garbage_xref(file: &[u8]) -> Vec<u8> {
    let mut out = file.to_vec();
    let xref = out.windows(6).rposition(|w| w == b"\nxref\n").expect("xref table");
    let mut at = xref;
    while let Some(k) = out[at..].windows(9).position(|w| w == b" 00000 n ") {
        let entry = at + k;
        out[entry - 10..entry].copy_from_slice(b"0000099999");
        at = entry + 9;
    }
    out
}

/// A PDF 1.5 file of `pages` empty pages, small because the page objects and the page-tree
/// root lie in one compressed object stream and the cross-references in a compressed
/// cross-reference stream.
fn pdf_many_pages(pages: u32) -> Vec<u8> {
    // Objects: 1 catalogue, 2 page-tree root, 3.. pages, then the object stream and the
    // cross-reference stream.
    let stm = pages + 3;
    let xref_id = stm + 1;
    let kids: Vec<String> = (3..stm).map(|n| format!("{n} 0 R")).collect();
    let mut bodies = vec![format!("<< /Type /Pages /Kids [{}] /Count {pages} >>", kids.join(" "))];
    bodies.extend((3..stm).map(|_| "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>".to_string()));
    let (mut header, mut data) = (String::new(), String::new());
    for (i, body) in bodies.iter().enumerate() {
        header.push_str(&format!("{} {} ", i + 2, data.len()));
        data.push_str(body);
        data.push('\n');
    }
    let objstm = stream_object(
        &format!("/Type /ObjStm /N {} /First {} /Filter /FlateDecode", bodies.len(), header.len()),
        &zlib(format!("{header}{data}").as_bytes()),
    );
    let mut out = b"%PDF-1.5\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let catalog_at = out.len();
    out.extend(b"1 0 obj\n");
    out.extend(CATALOG);
    out.extend(b"\nendobj\n");
    let stm_at = out.len();
    out.extend(format!("{stm} 0 obj\n").bytes());
    out.extend(objstm);
    out.extend(b"\nendobj\n");
    let xref_at = out.len();
    // Entries of 1 + 4 + 2 bytes: type, offset or object stream, generation or index.
    let entry = |kind: u8, a: u32, b: u16| [vec![kind], a.to_be_bytes().to_vec(), b.to_be_bytes().to_vec()].concat();
    let mut table = entry(0, 0, 65535);
    table.extend(entry(1, catalog_at as u32, 0));
    for i in 0..bodies.len() {
        table.extend(entry(2, stm, i as u16));
    }
    table.extend(entry(1, stm_at as u32, 0));
    table.extend(entry(1, xref_at as u32, 0));
    let xref = stream_object(
        &format!("/Type /XRef /Size {} /W [1 4 2] /Root 1 0 R /Filter /FlateDecode", xref_id + 1),
        &zlib(&table),
    );
    out.extend(format!("{xref_id} 0 obj\n").bytes());
    out.extend(xref);
    out.extend(format!("\nendobj\nstartxref\n{xref_at}\n%%EOF\n").bytes());
    out
}

/// Decode time of a 300 dpi colour A4 JPEG (2480×3508). Run with
/// `cargo test --release --lib decode::tests::a4_jpeg_speed -- --ignored --nocapture`.
#[test]
#[ignore = "timing, meaningful in release only"]
fn a4_jpeg_speed() {
    let file = jpeg(2480, 3508);
    let pages = open_bytes(file.clone(), &limits()).expect("opens");
    let runs = 20;
    let start = std::time::Instant::now();
    for _ in 0..runs {
        std::hint::black_box(decode_page(&pages[0], &limits()).expect("decodes"));
    }
    let each = start.elapsed() / runs;
    println!("A4 300 dpi colour JPEG ({} KiB): {each:?} a page", file.len() / 1024);
}

/// `jpeg` with its SOF0 frame header patched to claim `width`×`height`.
fn lying_jpeg(jpeg: &[u8], width: u16, height: u16) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    let sof = out.windows(2).position(|w| w == [0xFF, 0xC0]).expect("baseline JPEG");
    out[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    out[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    out
}

#[test]
fn a_frame_header_that_claims_more_pixels_than_the_data_holds_is_truncated() {
    let honest = jpeg(248, 350);
    assert!(decode_all(honest.clone())[0].is_ok());
    // A flat page (a blank back) decodes: its data holds every MCU.
    let white =
        encode(&DynamicImage::ImageRgb8(RgbImage::from_pixel(248, 350, image::Rgb([255; 3]))), ImageFormat::Jpeg);
    assert!(decode_all(white)[0].is_ok());
    for (w, h) in [(1090, 1090), (248, 700), (496, 350)] {
        let got = &decode_all(lying_jpeg(&honest, w, h))[0];
        let reason = match got {
            Err(e) => e.to_string(),
            Ok(i) => format!("decoded {}x{}", i.width(), i.height()),
        };
        assert!(reason.contains("truncated JPEG"), "{w}×{h}: {reason}");
        assert!(reason.contains(&format!("{w}×{h}")), "{reason}");
    }
}

/// Decoding into an earlier page's buffer (as a batch worker does) gives exactly what a fresh
/// buffer gives, for honest files and for files whose data stops early in any of the ways
/// zune-jpeg treats differently (cut short, cut and closed with EOI, a lying frame header, a
/// second scan): stale pixels must never stand in for missing data.
#[test]
fn decoding_into_a_used_buffer_matches_a_fresh_decode() {
    let honest = jpeg(248, 350);
    let sos = honest.windows(2).rposition(|w| w == [0xFF, 0xDA]).expect("a scan");
    let cut_and_closed = |keep: usize| {
        let mut f = honest[..sos + (honest.len() - sos) * keep / 10].to_vec();
        f.extend_from_slice(&[0xFF, 0xD9]);
        f
    };
    let second_scan = |keep: usize| {
        let mut f = honest[..sos + (honest.len() - sos) * keep / 10].to_vec();
        f.extend_from_slice(&honest[sos..]);
        f
    };
    let mut grey_honest =
        encode(&DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(picture(248, 350)).to_luma8()), ImageFormat::Jpeg);
    grey_honest.extend_from_slice(&[0; 4]);
    let files = [
        honest.clone(),
        grey_honest,
        cut_and_closed(3),
        cut_and_closed(7),
        second_scan(10),
        second_scan(5),
        second_scan(2),
        lying_jpeg(&honest, 248, 400),
        lying_jpeg(&honest, 300, 350),
        honest[..honest.len() * 2 / 3].to_vec(),
    ];
    // A stale buffer the size of each output, of noise no decoder would write.
    let stale = |n: usize| (0..n).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect::<Vec<u8>>();
    for (k, file) in files.iter().enumerate() {
        let pages = open_bytes(file.clone(), &limits()).expect("opens");
        let fresh = decode_page(&pages[0], &limits());
        for n in [248 * 350 * 3, 248 * 400 * 3, 248 * 350, 100] {
            let reused = decode_page_into(&pages[0], &limits(), stale(n));
            match (&fresh, &reused) {
                (Ok(a), Ok(b)) => {
                    assert!(a.as_bytes() == b.as_bytes() && a.color() == b.color(), "file {k}, stale {n}")
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "file {k}, stale {n}"),
                (a, b) => panic!("file {k}, stale {n}: fresh {:?}, reused {:?}", a.as_ref().err(), b.as_ref().err()),
            }
        }
    }
}

/// The blocks of a frame follow its sampling factors (T.81 A.1.1), and a frame that its data
/// cannot hold at one bit per block is refused before any pixel buffer is made: a
/// 10900×10900 header over a small page's data took 2.2 s and 356 MB before this check.
#[test]
fn a_frame_too_large_for_its_data_is_refused_before_decoding() {
    // 4:2:0: Y 2×2, Cb and Cr 1×1; 33×17 px is 5×3 luma blocks and 3×2 of each chroma.
    assert_eq!(super::jpeg_blocks(33, 17, &[1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]), Some(15 + 6 + 6));
    assert_eq!(super::jpeg_blocks(8, 8, &[1, 0x11, 0]), Some(1));
    assert_eq!(super::jpeg_blocks(8, 8, &[1, 0x00, 0]), None, "zero sampling factors");
    let lying = lying_jpeg(&jpeg(248, 350), 10_900, 10_900);
    let start = std::time::Instant::now();
    let reason = input_reason(&decode_all(lying)[0]);
    assert!(reason.starts_with("truncated JPEG"), "{reason}");
    assert!(start.elapsed() < std::time::Duration::from_millis(200), "took {:?}", start.elapsed());
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_being_opened() {
    let dir = std::env::temp_dir().join(format!("formscan-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let fifo = dir.join("scan.jpg");
    let _ = std::fs::remove_file(&fifo);
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    // Named on the command line, it is listed (so it gets an outcome)...
    assert_eq!(list_inputs(std::slice::from_ref(&fifo)).expect("lists"), std::slice::from_ref(&fifo));
    // ...and refused at once: opening it for reading would block with no writer.
    let (tx, rx) = std::sync::mpsc::channel();
    let probe = fifo.clone();
    std::thread::spawn(move || tx.send(open_file(&probe, &limits()).map(|p| p.len())));
    let got = rx.recv_timeout(std::time::Duration::from_secs(10)).expect("returns instead of blocking");
    let reason = input_reason(&got);
    assert!(reason.contains("named pipe (FIFO)"), "{reason}");
    assert!(!is_regular_file(&fifo));
    // Inside a folder it is skipped like any other non-file.
    assert!(list_inputs(std::slice::from_ref(&dir)).expect("lists").is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn names_that_are_not_utf8_keep_distinct_labels() {
    use std::os::unix::ffi::OsStrExt;
    let a = Path::new(std::ffi::OsStr::from_bytes(b"scans/\xB2\xE2.jpg"));
    let b = Path::new(std::ffi::OsStr::from_bytes(b"scans/\xB2\xE3.jpg"));
    assert_eq!(a.display().to_string(), b.display().to_string(), "the lossy form collides");
    assert_eq!(path_label(a), "scans/\\xB2\\xE2.jpg");
    assert_ne!(path_label(a), path_label(b));
    // A real backslash is escaped, so it cannot pass for an escaped byte.
    assert_eq!(path_label(Path::new("scans/\\xB2\\xE2.jpg")), "scans/\\\\xB2\\\\xE2.jpg");
    assert_eq!(path_label(Path::new("扫描/0001.jpg")), "扫描/0001.jpg");
}

/// A `width`×`height` bilevel picture (a frame, a diagonal and a block) and its CCITT G4 code.
fn g4_picture(width: u16, height: u16) -> (Vec<bool>, Vec<u8>) {
    let black: Vec<bool> = (0..height as usize)
        .flat_map(|y| {
            (0..width as usize).map(move |x| {
                x < 2
                    || y < 2
                    || x + 2 >= width as usize
                    || y == x / 2
                    || (20..30).contains(&x) && (10..15).contains(&y)
            })
        })
        .collect();
    let mut enc = fax::encoder::Encoder::new(fax::VecWriter::new());
    for row in black.chunks(width as usize) {
        let pels = row.iter().map(|&b| if b { fax::Color::Black } else { fax::Color::White });
        enc.encode_line(pels, width).expect("in memory");
    }
    (black, enc.finish().expect("in memory").finish())
}

#[test]
fn pdf_ccitt_g4_pages_decode() {
    let (black, code) = g4_picture(64, 40);
    let mut plain = image_stream((64, 40), "DeviceGray", 1, Some("CCITTFaxDecode"), code.clone());
    plain.dict.set("DecodeParms", dictionary! { "K" => -1, "Columns" => 64, "Rows" => 40 });
    // BlackIs1 with an inverting /Decode, as some scanners write it: the same picture.
    let mut flipped = image_stream((64, 40), "DeviceGray", 1, Some("CCITTFaxDecode"), code.clone());
    flipped.dict.set("DecodeParms", dictionary! { "K" => -1, "Columns" => 64, "BlackIs1" => true });
    flipped.dict.set("Decode", vec![1.into(), 0.into()]);
    let mut wrong = image_stream((64, 40), "DeviceGray", 1, Some("CCITTFaxDecode"), code);
    wrong.dict.set("DecodeParms", dictionary! { "K" => -1, "Columns" => 65 });
    let mut mixed = image_stream((64, 40), "DeviceGray", 1, Some("CCITTFaxDecode"), vec![0; 8]);
    mixed.dict.set("DecodeParms", dictionary! { "K" => 4, "Columns" => 64 });
    let images = vec![("A", plain), ("B", flipped), ("C", wrong), ("D", mixed)];
    let decoded = decode_all(pdf(images, &["/A Do", "/B Do", "/C Do", "/D Do"]));
    let expected: Vec<u8> = black.iter().map(|&b| if b { 0 } else { 255 }).collect();
    for d in &decoded[..2] {
        let g = d.as_ref().expect("decodes").as_luma8().expect("grey").clone();
        assert_eq!((g.width(), g.height()), (64, 40));
        assert!(g.as_raw() == &expected, "pixels differ");
    }
    assert!(input_reason(&decoded[2]).contains("disagree with the image size"));
    assert!(input_reason(&decoded[3]).contains("K > 0"));
}

/// `file` with the `/Length` of the stream whose length is `len` replaced by `wrong`.
fn with_wrong_length(file: &[u8], len: usize, wrong: &str) -> Vec<u8> {
    let from = format!("/Length {len}");
    let at = file.windows(from.len()).position(|w| w == from.as_bytes()).expect("length entry");
    [&file[..at], format!("/Length {wrong}").as_bytes(), &file[at + from.len()..]].concat()
}

#[test]
fn pdf_streams_with_a_wrong_length_are_recovered_like_poppler_does() {
    let scan = jpeg(40, 30);
    let n = scan.len();
    let file = pdf(vec![("Im0", image_stream((40, 30), "DeviceRGB", 8, Some("DCTDecode"), scan))], &["/Im0 Do"]);
    // Too short, too long and far too long (past the end of the file).
    // The same number of digits, as a wrong length in a real file has (a writer's bug does
    // not move the cross-reference offsets).
    let nines = "9".repeat(n.to_string().len());
    for wrong in [format!("{}", n - 100), format!("{}", n + 7), nines] {
        let broken = with_wrong_length(&file, n, &wrong);
        let pages = open_bytes(broken, &limits()).unwrap_or_else(|e| panic!("/Length {wrong}: {e}"));
        let decoded: Vec<_> = pages.iter().map(|p| decode_page(p, &limits())).collect();
        let image = decoded[0].as_ref().unwrap_or_else(|e| panic!("/Length {wrong}: {e}"));
        assert_eq!((image.width(), image.height()), (40, 30));
    }
}
