//! Writes the committed binary seeds of `fuzz/seeds/decode/` and `fuzz/seeds/intake/`:
//! small JPEG, PNG, TIFF and scanner-PDF files in the variants the decoders handle, and one
//! synthetic form scan that reads. Not a fuzz target; run it only to regenerate the seeds
//! (an ordinary, uninstrumented build of formscan):
//!
//! ```sh
//! cargo run --release --manifest-path fuzz/Cargo.toml --example seedgen -- fuzz/seeds
//! ```
//!
//! Every file is synthetic: gradients, grids and the simulator's form for
//! `formscan_synth::sample_person(7)` (made-up name and ID number).

use std::io::Cursor;
use std::path::Path;

use formscan::decode::{self, DecodeLimits};
use formscan::record::Outcome;
use formscan::{Engine, Template};
use formscan_synth as synth;

pub fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| "fuzz/seeds".to_string());
    let out = Path::new(&out);
    decode_seeds(&out.join("decode"));
    intake_seeds(&out.join("intake"));
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("seed folder");
    std::fs::write(dir.join(name), bytes).expect("seed file");
    println!("{:>7} {}", bytes.len(), dir.join(name).display());
}

/// Gradients and a grid, `channels` samples a pixel.
fn picture(w: u32, h: u32, channels: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(w as usize * h as usize * channels);
    for y in 0..h {
        for x in 0..w {
            let line = if x % 7 < 1 || y % 5 < 1 { 0 } else { 255 };
            let px = [(x * 255 / w) as u8, (y * 255 / h) as u8, line, 200];
            v.extend_from_slice(&px[..channels]);
        }
    }
    v
}

fn jpeg(
    data: &[u8],
    w: u16,
    h: u16,
    colour: jpeg_encoder::ColorType,
    sampling: jpeg_encoder::SamplingFactor,
    progressive: bool,
    restart: u16,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = jpeg_encoder::Encoder::new(&mut out, 80);
    e.set_sampling_factor(sampling);
    e.set_progressive(progressive);
    if restart > 0 {
        e.set_restart_interval(restart);
    }
    e.encode(data, w, h, colour).expect("JPEG");
    out
}

fn png(w: u32, h: u32, colour: png::ColorType, depth: png::BitDepth, data: &[u8], palette: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut e = png::Encoder::new(&mut out, w, h);
        e.set_color(colour);
        e.set_depth(depth);
        if let Some(p) = palette {
            e.set_palette(p.to_vec());
            e.set_trns(vec![0u8, 255]);
        }
        let mut wr = e.write_header().expect("PNG header");
        wr.write_image_data(data).expect("PNG data");
    }
    out
}

fn buffer() -> Cursor<Vec<u8>> {
    Cursor::new(Vec::new())
}

fn zlib(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).expect("in memory");
    e.finish().expect("in memory")
}

/// CCITT Group 4 data of a 1-bit picture (`true` = black).
fn g4(w: u16, h: u16, black: impl Fn(u16, u16) -> bool) -> Vec<u8> {
    let mut e = fax::encoder::Encoder::new(fax::VecWriter::new());
    for y in 0..h {
        let row = (0..w).map(|x| if black(x, y) { fax::Color::Black } else { fax::Color::White });
        e.encode_line(row, w).expect("G4 line");
    }
    e.finish().expect("G4").finish()
}

/// A PDF from its objects (numbered from 1; object 1 is the catalog), with a computed xref.
fn pdf(objects: &[Vec<u8>], prefix: &[u8]) -> Vec<u8> {
    let mut out = prefix.to_vec();
    out.extend_from_slice(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n");
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len() - prefix.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len() - prefix.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    out
}

fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut v = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    v.extend_from_slice(data);
    v.extend_from_slice(b"\nendstream");
    v
}

/// Objects of a PDF whose pages each draw one image: catalog, pages, then per page the page,
/// its content and its image (`dict` without /Length, and the stream's bytes).
fn scanner_pdf(images: &[(&str, Vec<u8>, u32, u32)]) -> Vec<Vec<u8>> {
    let n = images.len();
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 3 + 3 * i)).collect();
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")).into_bytes(),
    ];
    for (i, (dict, data, w, h)) in images.iter().enumerate() {
        let (page, content, image) = (3 + 3 * i, 4 + 3 * i, 5 + 3 * i);
        let _ = page;
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w} {h}] /Resources << /XObject << /Im0 {image} 0 R >> >> /Contents {content} 0 R >>"
            )
            .into_bytes(),
        );
        objects.push(stream("", format!("q {w} 0 0 {h} 0 0 cm /Im0 Do Q").as_bytes()));
        objects.push(stream(&format!("/Type /XObject /Subtype /Image /Width {w} /Height {h} {dict}"), data));
    }
    objects
}

fn decode_seeds(dir: &Path) {
    use jpeg_encoder::{ColorType as J, SamplingFactor as S};
    // JPEG: 4:2:0, progressive 4:4:4, grey with restart markers, CMYK, and an EXIF thumbnail.
    let rgb = picture(48, 32, 3);
    let j420 = jpeg(&rgb, 48, 32, J::Rgb, S::F_2_2, false, 0);
    write(dir, "rgb420.jpg", &j420);
    write(dir, "rgb444-progressive.jpg", &jpeg(&rgb, 48, 32, J::Rgb, S::F_1_1, true, 0));
    let grey = picture(40, 24, 1);
    let jgrey = jpeg(&grey, 40, 24, J::Luma, S::F_1_1, false, 2);
    write(dir, "grey-restart.jpg", &jgrey);
    write(dir, "cmyk.jpg", &jpeg(&picture(16, 16, 4), 16, 16, J::Cmyk, S::F_1_1, false, 0));
    {
        // An APP1 segment holding a whole tiny JPEG (as an EXIF thumbnail does), EOI included.
        let thumb = jpeg(&picture(8, 8, 1), 8, 8, J::Luma, S::F_1_1, false, 0);
        let mut app1 = vec![0xFF, 0xE1];
        app1.extend_from_slice(&((thumb.len() + 8) as u16).to_be_bytes());
        app1.extend_from_slice(b"Exif\0\0");
        app1.extend_from_slice(&thumb);
        let mut v = j420[..2].to_vec();
        v.extend_from_slice(&app1);
        v.extend_from_slice(&j420[2..]);
        write(dir, "exif-thumbnail.jpg", &v);
    }
    // PNG: grey, RGB, RGBA, grey+alpha, 16-bit, palette with transparency, 1-bit.
    use png::{BitDepth as D, ColorType as C};
    write(dir, "grey.png", &png(12, 8, C::Grayscale, D::Eight, &picture(12, 8, 1), None));
    write(dir, "rgb.png", &png(12, 8, C::Rgb, D::Eight, &picture(12, 8, 3), None));
    write(dir, "rgba.png", &png(12, 8, C::Rgba, D::Eight, &picture(12, 8, 4), None));
    write(dir, "grey-alpha.png", &png(12, 8, C::GrayscaleAlpha, D::Eight, &picture(12, 8, 2), None));
    write(dir, "grey16.png", &png(6, 4, C::Grayscale, D::Sixteen, &picture(12, 4, 1), None));
    let pal = [255, 255, 255, 0, 0, 0];
    let idx: Vec<u8> = (0..8 * 8).map(|i| ((i / 3) % 2) as u8).collect();
    write(dir, "palette.png", &png(8, 8, C::Indexed, D::Eight, &idx, Some(&pal)));
    write(
        dir,
        "bilevel.png",
        &png(16, 4, C::Grayscale, D::One, &[0xF0, 0x0F, 0xAA, 0x55, 0xFF, 0x00, 0x81, 0x7E], None),
    );
    // TIFF: uncompressed grey, LZW RGB, Deflate RGBA, PackBits CMYK, three pages, BigTIFF, G4.
    {
        use tiff::encoder::{colortype, Compression, TiffEncoder};
        let mut c = buffer();
        TiffEncoder::new(&mut c).unwrap().write_image::<colortype::Gray8>(12, 8, &picture(12, 8, 1)).unwrap();
        write(dir, "grey.tif", c.get_ref());
        let mut c = buffer();
        let mut e = TiffEncoder::new(&mut c).unwrap().with_compression(Compression::Lzw);
        e.write_image::<colortype::RGB8>(12, 8, &picture(12, 8, 3)).unwrap();
        write(dir, "rgb-lzw.tif", c.get_ref());
        let mut c = buffer();
        let mut e = TiffEncoder::new(&mut c).unwrap().with_compression(Compression::Deflate(Default::default()));
        e.write_image::<colortype::RGBA8>(12, 8, &picture(12, 8, 4)).unwrap();
        write(dir, "rgba-deflate.tif", c.get_ref());
        let mut c = buffer();
        let mut e = TiffEncoder::new(&mut c).unwrap().with_compression(Compression::Packbits);
        e.write_image::<colortype::CMYK8>(8, 8, &picture(8, 8, 4)).unwrap();
        write(dir, "cmyk-packbits.tif", c.get_ref());
        let mut c = buffer();
        {
            let mut e = TiffEncoder::new(&mut c).unwrap();
            e.write_image::<colortype::Gray8>(8, 6, &picture(8, 6, 1)).unwrap();
            e.write_image::<colortype::RGB8>(6, 8, &picture(6, 8, 3)).unwrap();
            e.write_image::<colortype::Gray16>(4, 4, &[0u16, 1000, 30000, 65535].repeat(4)).unwrap();
        }
        write(dir, "three-pages.tif", c.get_ref());
        let mut c = buffer();
        TiffEncoder::new_big(&mut c).unwrap().write_image::<colortype::Gray8>(10, 6, &picture(10, 6, 1)).unwrap();
        write(dir, "big.tif", c.get_ref());
        let fax = g4(40, 20, |x, y| (x / 5 + y / 4) % 2 == 0);
        write(dir, "g4.tif", &fax::tiff::wrap(&fax, 40, 20));
    }
    // Scanner PDFs.
    let dct = ("/ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode", j420.clone(), 48, 32);
    write(dir, "dct.pdf", &pdf(&scanner_pdf(&[dct.clone()]), b""));
    let grey8 = picture(16, 8, 1);
    let mut rows = Vec::new();
    for r in grey8.chunks(16) {
        rows.push(2u8); // PNG "up" filter on every row
        rows.extend_from_slice(r);
    }
    let flate_png = (
        "/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode /DecodeParms << /Predictor 15 /Colors 1 /BitsPerComponent 8 /Columns 16 >>",
        zlib(&rows),
        16,
        8,
    );
    let raw = ("/ColorSpace /DeviceRGB /BitsPerComponent 8", picture(8, 4, 3), 8, 4);
    write(dir, "flate-png-raw-2pages.pdf", &pdf(&scanner_pdf(&[flate_png, raw]), b""));
    let fax = g4(64, 16, |x, y| x % 9 == 0 || y % 7 == 0);
    let g4_page = (
        "/ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /CCITTFaxDecode /DecodeParms << /K -1 /Columns 64 /Rows 16 /BlackIs1 false >>",
        fax,
        64,
        16,
    );
    let bits: Vec<u8> = (0..8 * 2).map(|i| if i % 3 == 0 { 0xA5 } else { 0x3C }).collect();
    let inverted =
        ("/ColorSpace /DeviceGray /BitsPerComponent 1 /Decode [1 0] /Filter /FlateDecode", zlib(&bits), 16, 8);
    write(dir, "g4-inverted-1bit.pdf", &pdf(&scanner_pdf(&[g4_page, inverted]), b""));
    // CMYK with the TIFF predictor, drawn through a form XObject, resources inherited from the
    // page tree, an ICCBased grey JPEG besides, and junk before the header.
    {
        let cmyk = picture(8, 4, 4);
        let mut pred = cmyk.clone();
        for row in pred.chunks_mut(32) {
            for i in (4..32).rev() {
                row[i] = row[i].wrapping_sub(row[i - 4]);
            }
        }
        let objects = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 /Resources << /XObject << /Fm0 5 0 R /Im1 7 0 R >> >> >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 40 24] /Contents 4 0 R >>".to_vec(),
            stream("", b"q /Fm0 Do Q q 40 0 0 24 0 0 cm /Im1 Do Q"),
            stream(
                "/Type /XObject /Subtype /Form /BBox [0 0 40 24] /Resources << /XObject << /Im0 6 0 R >> >>",
                b"q 8 0 0 4 0 0 cm /Im0 Do Q",
            ),
            stream(
                "/Type /XObject /Subtype /Image /Width 8 /Height 4 /ColorSpace /DeviceCMYK /BitsPerComponent 8 /Filter /FlateDecode /DecodeParms << /Predictor 2 /Colors 4 /Columns 8 >>",
                &zlib(&pred),
            ),
            stream(
                "/Type /XObject /Subtype /Image /Width 40 /Height 24 /ColorSpace [/ICCBased 8 0 R] /BitsPerComponent 8 /Filter [/DCTDecode]",
                &jgrey,
            ),
            stream("/N 1 /Alternate /DeviceGray", b"not a real ICC profile"),
        ];
        write(dir, "form-xobject-cmyk-icc.pdf", &pdf(&objects, b"From: scanner@example.invalid\r\n\r\n"));
    }
}

fn intake_seeds(dir: &Path) {
    let template = Template::sbk_student();
    let person = synth::sample_person(7);
    let engine = Engine::default();
    // The smallest scan that still reads: 150 dpi grey JPEG, quality chosen by trial.
    let page = synth::simulate_one(&template, &person, 7, 150.0);
    let grey = page.image.to_luma8();
    for quality in [50u8, 60, 70, 80, 90] {
        let mut out = Vec::new();
        let e = jpeg_encoder::Encoder::new(&mut out, quality);
        e.encode(grey.as_raw(), grey.width() as u16, grey.height() as u16, jpeg_encoder::ColorType::Luma).unwrap();
        let limits = DecodeLimits::default();
        let pages = decode::open_bytes(out.clone(), &limits).expect("opens");
        let image = decode::decode_page(&pages[0], &limits).expect("decodes");
        let record = engine.process_image(&image);
        if record.outcome == Outcome::Read {
            let form = record.form.expect("read pages have a form");
            assert_eq!((form.run.as_str(), form.serial.as_str()), ("RDEMO", "000007"));
            write(dir, "form-7-150dpi.jpg", &out);
            return;
        }
        println!("quality {quality}: {:?} {:?}", record.outcome, record.reject);
    }
    panic!("no quality reads back");
}
