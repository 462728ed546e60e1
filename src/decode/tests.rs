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
    assert_eq!(reason("zero-byte.jpg"), "empty file");
    assert_eq!(reason("truncated.jpg"), "truncated JPEG");
    assert_eq!(reason("text-named.jpg"), "not an image or PDF");
    assert_eq!(reason("encrypted.pdf"), "encrypted PDF");
    assert!(reason("broken.pdf").starts_with("broken PDF: "));
    assert_eq!(reason("no-image.pdf"), "PDF page holds no scanned image");
    let bomb = bad_outcome("bomb.png");
    assert!(matches!(bomb, Error::Limits { what: "pixels", actual: 3_600_000_000, .. }), "{bomb}");
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

/// Writes `tests/bad/` (see its README). Deterministic except for `truncated.jpg`, whose bytes
/// depend on the `image` crate's JPEG encoder.
#[test]
#[ignore = "writes tests/bad; run by hand to regenerate"]
fn regenerate_bad_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad");
    std::fs::create_dir_all(&dir).expect("tests/bad");
    let mut truncated = jpeg(200, 300);
    truncated.truncate(truncated.len() / 2);
    let files = [
        ("zero-byte.jpg", Vec::new()),
        ("truncated.jpg", truncated),
        ("text-named.jpg", b"Scanner log: 42 pages, 0 errors.\nThis is not a JPEG.\n".to_vec()),
        ("bomb.png", png_bomb(60_000, 60_000)),
        ("encrypted.pdf", handmade_pdf(ENCRYPT_OBJECT, ENCRYPT_TRAILER)),
        ("broken.pdf", BROKEN_PDF.to_vec()),
        ("no-image.pdf", handmade_pdf("", "")),
    ];
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).expect("writes");
    }
}

const ENCRYPT_TRAILER: &str = "/Encrypt 5 0 R \
    /ID [<0123456789ABCDEF0123456789ABCDEF> <0123456789ABCDEF0123456789ABCDEF>]";

/// A PDF header, then bytes that are no PDF structure at all.
const BROKEN_PDF: &[u8] = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n\x00\x17garbage, no objects, no xref, no trailer \xFF\xFE\n";

/// A PNG signature, an IHDR declaring `width`×`height` 8-bit RGB, one tiny IDAT and IEND.
fn png_bomb(width: u32, height: u32) -> Vec<u8> {
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
    chunk(b"IDAT", &zlib(&[0; 64]));
    chunk(b"IEND", &[]);
    out
}

/// A standard security handler dictionary (RC4 40-bit) with made-up keys.
const ENCRYPT_OBJECT: &str = "<< /Filter /Standard /V 1 /R 2 /P -3904 \
    /O <8F2A6C1D9E4B7F30A5C6E2D18B9F4A7C3E1D5B8A2F6C9E0D4B7A1F3C8E5D2B6A> \
    /U <1C7E4A9D2F5B8E3A6D0C9F2B5E8A1D4C7F0B3E6A9D2C5F8B1E4A7D0C3F6B9E2A> >>";

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
    let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{object}\nendobj\n", i + 1).bytes());
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
