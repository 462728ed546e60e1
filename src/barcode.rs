//! The one module that talks to `rxing`. Its Java-style API (exceptions, hint maps) stays
//! here; the rest of formscan sees [`encode_qr`] and [`read_qr`].
//!
//! QR codes (ISO/IEC 18004) are used with error-correction level M (15 % of codewords
//! recoverable), which survives JPEG at quality 60 and a pen stroke across a corner while
//! keeping the symbol at version 4 (33 modules) for our ~45-character payloads.

use rxing::qrcode::common::ErrorCorrectionLevel;
use rxing::qrcode::encoder::qrcode_encoder;
use rxing::{BarcodeFormat, DecodeHints, Exceptions};

/// A square grid of barcode modules, row-major, `true` = dark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleGrid {
    /// Modules per side.
    pub size: usize,
    /// `size * size` modules, row-major.
    pub dark: Vec<bool>,
}

/// Encodes `text` as a QR code with error-correction level M and returns its modules
/// (without the quiet zone, which the layout reserves).
pub fn encode_qr(text: &str) -> Option<ModuleGrid> {
    let code = qrcode_encoder::encode(text, ErrorCorrectionLevel::M).ok()?;
    let m = code.getMatrix().as_ref()?;
    let size = m.getWidth() as usize;
    let mut dark = Vec::with_capacity(size * size);
    for y in 0..size as u32 {
        for x in 0..size as u32 {
            dark.push(m.get(x, y) == 1);
        }
    }
    Some(ModuleGrid { size, dark })
}

/// What reading one barcode region produced.
#[derive(Debug, Clone, PartialEq)]
pub enum QrRead {
    /// A symbol was decoded; its text.
    Text(String),
    /// No symbol was found in the region.
    NotFound,
    /// A symbol was located but could not be decoded (damaged, checksum).
    Damaged,
}

/// Reads one QR code from an 8-bit grey region (dark modules = low values).
///
/// The caller passes a crop around the expected symbol: rxing's detector is then fast and
/// cannot latch onto another code on the page.
pub fn read_qr(luma: &[u8], width: u32, height: u32) -> QrRead {
    if width == 0 || height == 0 || luma.len() < (width as usize) * (height as usize) {
        return QrRead::NotFound;
    }
    // TryHarder makes rxing scan every row for finder patterns instead of every few; the crop is
    // small, so the cost is a few milliseconds and it rescues blurred, low-contrast symbols.
    let mut hints = DecodeHints { TryHarder: Some(true), ..Default::default() };
    match rxing::helpers::detect_in_luma_slice_with_hints(luma, width, height, Some(BarcodeFormat::QR_CODE), &mut hints)
    {
        Ok(r) => QrRead::Text(r.getText().to_string()),
        Err(Exceptions::NotFoundException(_)) => QrRead::NotFound,
        Err(_) => QrRead::Damaged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Paints a module grid at `scale` px per module with a 4-module quiet zone.
    fn paint(grid: &ModuleGrid, scale: usize) -> (Vec<u8>, u32) {
        let side = (grid.size + 8) * scale;
        let mut px = vec![255u8; side * side];
        for my in 0..grid.size {
            for mx in 0..grid.size {
                if grid.dark[my * grid.size + mx] {
                    for y in 0..scale {
                        for x in 0..scale {
                            px[((my + 4) * scale + y) * side + (mx + 4) * scale + x] = 0;
                        }
                    }
                }
            }
        }
        (px, side as u32)
    }

    #[test]
    fn round_trip() {
        let text = "FS1|sbk-student|1|R1A2B3C|000042|1|0|5F3A9C21";
        let grid = encode_qr(text).unwrap();
        assert!(grid.size >= 21 && grid.size <= 33, "version 1-4, got {} modules", grid.size);
        let (px, side) = paint(&grid, 6);
        assert_eq!(read_qr(&px, side, side), QrRead::Text(text.to_string()));
    }

    #[test]
    fn blank_region_is_not_found() {
        let px = vec![255u8; 100 * 100];
        assert_eq!(read_qr(&px, 100, 100), QrRead::NotFound);
        assert_eq!(read_qr(&[], 0, 0), QrRead::NotFound);
    }
}
