//! The scan decoders (JPEG, PNG, multi-page TIFF, scanner PDFs) on hostile bytes: the file is
//! written to a scratch file and opened with `decode::open_file` (which sniffs the format,
//! splits pages and applies the file limits through `open_bytes`), then every page is decoded
//! with `decode::decode_page`.
//!
//! Checked: no panic (libFuzzer's panic hook aborts even inside the decoders' own
//! `catch_unwind` guard, so a panicking decoder is reported as a crash), no error but `Input`
//! or `Limits`, each naming the file; a file that opens has 1..=max_pages pages; a decoded page
//! is 8-bit grey or RGB, within the pixel limit, with a buffer that matches its size.
//!
//! The limits are far smaller than the defaults (1 Mpx, 1 MiB, 16 pages) so that a bomb is
//! refused fast and a valid page decodes in a millisecond: the code path is the real one, and the
//! fuzzer spends its time on the parsers rather than on decoding large valid images (4 Mpx ran
//! at about 1,000 executions a second, most of them in progressive JPEG decoding).
#![no_main]

mod common;

use formscan::decode::{self, DecodeLimits};
use image::DynamicImage;
use libfuzzer_sys::fuzz_target;

fn limits() -> DecodeLimits {
    DecodeLimits { max_file_bytes: 1 << 20, max_pixels: 1_000_000, max_pages: 16 }
}

fuzz_target!(|data: &[u8]| {
    let limits = limits();
    let path = common::scratch("decode").join("scan");
    std::fs::write(&path, data).expect("scratch file");
    let pages = match decode::open_file(&path, &limits) {
        Ok(pages) => pages,
        Err(e) => return common::input_or_limits_at(&e, &path),
    };
    assert!(!pages.is_empty() && pages.len() <= limits.max_pages, "{} pages", pages.len());
    for (i, page) in pages.iter().enumerate() {
        assert_eq!(page.index(), i);
        match decode::decode_page(page, &limits) {
            Ok(image) => {
                let (w, h) = (u64::from(image.width()), u64::from(image.height()));
                assert!(w * h > 0 && w * h <= limits.max_pixels, "{w}×{h}");
                let channels = match &image {
                    DynamicImage::ImageLuma8(_) => 1,
                    DynamicImage::ImageRgb8(_) => 3,
                    other => panic!("decoded to {:?}, not Luma8 or Rgb8", other.color()),
                };
                assert_eq!(image.as_bytes().len() as u64, w * h * channels);
            }
            Err(e) => common::input_or_limits_at(&e, &path),
        }
    }
});
