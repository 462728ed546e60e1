//! The coefficient decoder against zune-jpeg (the ordinary path) on encoder output of every
//! supported layout, and its refusals.

use super::*;
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

/// A page-like picture: paper, dark pen strokes, red lines, a colour gradient.
fn picture(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        if (x / 3 + y / 5) % 17 == 0 {
            image::Rgb([30, 40, 120])
        } else if y % 23 < 2 {
            image::Rgb([235, 90, 90])
        } else if x > w / 2 && y > h / 2 {
            image::Rgb([(x * 3 % 256) as u8, (y * 2 % 256) as u8, ((x + y) % 256) as u8])
        } else {
            image::Rgb([244, 242, 236])
        }
    })
}

/// Pixels from a linear congruential generator: blocks dense with coefficients.
fn noise(w: u32, h: u32) -> image::RgbImage {
    let mut seed = 99u32;
    image::RgbImage::from_fn(w, h, |_, _| {
        image::Rgb([0, 8, 16].map(|s| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (seed >> (8 + s)) as u8
        }))
    })
}

fn encode(img: &image::RgbImage, sampling: SamplingFactor, grey: bool, restart: Option<u16>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out, 88);
    enc.set_sampling_factor(sampling);
    if let Some(r) = restart {
        enc.set_restart_interval(r);
    }
    if grey {
        let g = image::DynamicImage::ImageRgb8(img.clone()).to_luma8();
        enc.encode(g.as_raw(), img.width() as u16, img.height() as u16, ColorType::Luma).unwrap();
    } else {
        enc.encode(img.as_raw(), img.width() as u16, img.height() as u16, ColorType::Rgb).unwrap();
    }
    out
}

fn zune(data: &[u8], grey: bool) -> Vec<u8> {
    use zune_core::colorspace::ColorSpace;
    let out = if grey { ColorSpace::Luma } else { ColorSpace::RGB };
    let options = zune_core::options::DecoderOptions::default().jpeg_set_out_colorspace(out);
    zune_jpeg::JpegDecoder::new_with_options(zune_core::bytestream::ZCursor::new(data), options).decode().unwrap()
}

#[test]
fn pixels_match_zune_jpeg_for_every_supported_layout() {
    let layouts = [
        (SamplingFactor::F_2_2, false, None),
        (SamplingFactor::F_1_1, false, None),
        (SamplingFactor::F_2_1, false, Some(3)),
        (SamplingFactor::F_1_2, false, None),
        (SamplingFactor::F_2_2, false, Some(5)),
        (SamplingFactor::F_1_1, true, Some(7)),
    ];
    for (w, h, noisy) in [(203u32, 157u32, false), (64, 48, false), (17, 9, false), (61, 45, true)] {
        // Noise fills every coefficient and drives samples into the clamps.
        let img = if noisy { noise(w, h) } else { picture(w, h) };
        for &(sampling, grey, restart) in &layouts {
            let data = encode(&img, sampling, grey, restart);
            let want = zune(&data, grey);
            let mut page = DctPage::default();
            page.read(&data, u64::MAX).unwrap_or_else(|e| panic!("{w}×{h} {sampling:?}: {e:?}"));
            page.ensure_all();
            assert_eq!(page.pixels().len(), want.len());
            let ch = if grey { 1 } else { 3 };
            let differ = page.pixels().iter().zip(&want).position(|(a, b)| a != b);
            assert!(
                differ.is_none(),
                "{w}×{h} {sampling:?} grey {grey}: first different pixel ({}, {}), {} differ",
                differ.unwrap_or(0) / ch % w as usize,
                differ.unwrap_or(0) / ch / w as usize,
                page.pixels().iter().zip(&want).filter(|(a, b)| a != b).count()
            );
        }
    }
}

#[test]
fn a_region_decodes_only_its_mcus_and_agrees_with_the_whole() {
    let img = picture(300, 200);
    let data = encode(&img, SamplingFactor::F_2_2, false, None);
    let mut whole = DctPage::default();
    whole.read(&data, u64::MAX).unwrap();
    whole.ensure_all();
    let mut part = DctPage::default();
    part.read(&data, u64::MAX).unwrap();
    // The red channel alone first (an ink read), then colour over it (a colour read).
    part.ensure(100, 50, 140, 90, false);
    for y in 50..90 {
        for x in 100..140 {
            let i = y * 300 + x;
            assert_eq!(part.ink()[i], whole.pixels()[i * 3], "red at ({x}, {y})");
            assert_eq!(whole.ink()[i], whole.pixels()[i * 3], "the whole's red plane at ({x}, {y})");
        }
    }
    assert!(part.mcu_done.iter().all(|&d| d != COLOUR));
    part.ensure(100, 50, 140, 90, true);
    let done = part.mcu_done.iter().filter(|&&d| d == COLOUR).count();
    assert_eq!(done, 3 * 3, "MCUs 96..144 × 48..96");
    for y in 50..90 {
        for x in 100..140 {
            let i = (y * 300 + x) * 3;
            assert_eq!(part.pixels()[i..i + 3], whole.pixels()[i..i + 3], "({x}, {y})");
        }
    }
}

#[test]
fn the_ink_plane_is_the_red_channel_of_a_full_decode() {
    let img = picture(203, 157);
    for (sampling, grey) in
        [(SamplingFactor::F_2_2, false), (SamplingFactor::F_2_1, false), (SamplingFactor::F_1_1, true)]
    {
        let data = encode(&img, sampling, grey, Some(4));
        let full = zune(&data, grey);
        let ch = if grey { 1 } else { 3 };
        let mut page = DctPage::default();
        page.read(&data, u64::MAX).unwrap();
        // The red channel alone, over the whole page: what the scan asks for first.
        page.ensure(0, 0, 203, 157, false);
        let red: Vec<u8> = full.iter().step_by(ch).copied().collect();
        assert!(&page.ink()[..203 * 157] == red.as_slice(), "{sampling:?} grey {grey}");
    }
}

#[test]
fn truncated_progressive_and_oversized_files_are_skipped() {
    let img = picture(160, 120);
    let data = encode(&img, SamplingFactor::F_2_2, false, None);
    let mut page = DctPage::default();
    assert!(page.read(&data, u64::MAX).is_ok());
    let sos = data.windows(2).rposition(|w| w == [0xFF, 0xDA]).unwrap();
    let cut = &data[..sos + (data.len() - sos) / 2];
    assert!(page.read(cut, u64::MAX).is_err(), "cut in half");
    let mut ended = cut.to_vec();
    ended.extend_from_slice(&[0xFF, 0xD9]);
    assert!(page.read(&ended, u64::MAX).is_err(), "cut in half, with an EOI");
    assert_eq!(page.read(&data, 100), Err(Skip("size")));
    let mut liar = data.clone();
    let sof = liar.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    liar[sof + 5..sof + 7].copy_from_slice(&900u16.to_be_bytes());
    assert!(page.read(&liar, u64::MAX).is_err(), "a frame taller than its data");
    let mut progressive = Vec::new();
    let mut enc = Encoder::new(&mut progressive, 80);
    enc.set_progressive(true);
    enc.encode(img.as_raw(), 160, 120, ColorType::Rgb).unwrap();
    assert_eq!(page.read(&progressive, u64::MAX), Err(Skip("not a sequential Huffman JPEG")));
    // A restart marker out of turn (RST1 where RST0 belongs) is a lost interval.
    let restarts = encode(&img, SamplingFactor::F_2_2, false, Some(2));
    assert!(page.read(&restarts, u64::MAX).is_ok());
    let mut swapped = restarts.clone();
    let sos = swapped.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    let rst0 = sos + swapped[sos..].windows(2).position(|w| w == [0xFF, 0xD0]).unwrap();
    swapped[rst0 + 1] = 0xD1;
    assert_eq!(page.read(&swapped, u64::MAX), Err(Skip("restart marker missing")));
    // A DRI segment one byte short is refused, not a panic.
    let mut short_dri = data[..2].to_vec();
    short_dri.extend_from_slice(&[0xFF, 0xDD, 0x00, 0x03, 0x00]);
    short_dri.extend_from_slice(&data[2..]);
    assert_eq!(page.read(&short_dri, u64::MAX), Err(Skip("bad DRI")));
    // Junk after the data: every byte flipped in turn never panics.
    for i in (0..data.len()).step_by(7) {
        let mut bad = data.clone();
        bad[i] ^= 0x5A;
        let _ = page.read(&bad, 1 << 20).map(|()| page.ensure_all());
    }
}
