//! Identification: which form and page is this? Read from the page codes (QR) at the places
//! the registration says they are.
//!
//! The two codes carry the same payload; the second is read only when the first fails, so a
//! pen stroke or a staple hole on one code costs time, not the page.

use crate::barcode::{self, QrRead};
use crate::geometry::Point;
use crate::payload::{PagePayload, PayloadError, SheetPayload};
use crate::record::{BarcodeRead, BarcodeStatus};
use crate::register::Registration;
use crate::scan::Scan;
use crate::template::{FieldKind, Template};

/// A page that was identified.
#[derive(Debug, Clone)]
pub struct Identified {
    /// The payload.
    pub payload: PagePayload,
    /// What each code gave.
    pub barcodes: Vec<BarcodeRead>,
}

/// Neither code gave a trustworthy form payload.
#[derive(Debug, Clone)]
pub struct Unidentified {
    /// What each code gave.
    pub barcodes: Vec<BarcodeRead>,
    /// The page is a class-pack sheet (cover or class list), not a form: its payload.
    /// (Boxed: it is rare, and keeps the error variant small.)
    pub sheet: Option<Box<SheetPayload>>,
}

/// Quiet zone around the code that the crop keeps, mm (QR needs 4 modules ≈ 2.2 mm; the extra
/// absorbs registration error).
const CROP_MARGIN_MM: f64 = 4.0;

/// Reads the page codes of `template` on a registered page.
pub fn identify(
    scan: &Scan,
    reg: &Registration,
    template: &Template,
    buf: &mut Vec<u8>,
) -> Result<Identified, Unidentified> {
    let mut barcodes = Vec::new();
    let mut found = None;
    let mut sheet = None;
    for f in template.fields.iter().filter(|f| f.kind == FieldKind::Barcode) {
        if found.is_some() || sheet.is_some() {
            barcodes.push(BarcodeRead { field: f.name.clone(), status: BarcodeStatus::NotTried });
            continue;
        }
        let r = f.rect.inflate(CROP_MARGIN_MM);
        let pts: Vec<Point> = r.corners().iter().map(|&c| reg.to_scan.apply(c)).collect();
        let x0 = pts.iter().map(|p| p.x).fold(f64::INFINITY, f64::min).max(0.0) as u32;
        let y0 = pts.iter().map(|p| p.y).fold(f64::INFINITY, f64::min).max(0.0) as u32;
        let x1 = pts.iter().map(|p| p.x).fold(0.0, f64::max).max(0.0).ceil() as u32;
        let y1 = pts.iter().map(|p| p.y).fold(0.0, f64::max).max(0.0).ceil() as u32;
        let (w, h) = scan.crop_ink(x0, y0, x1, y1, buf);
        let status = match barcode::read_qr(buf, w, h) {
            QrRead::Text(t) => match PagePayload::decode(&t) {
                Ok(p) => {
                    found = Some(p);
                    BarcodeStatus::Decoded
                }
                Err(PayloadError::Foreign) => match SheetPayload::decode(&t) {
                    // A cover or class-list page of the same print: decoded, but not a form.
                    Ok(s) => {
                        sheet = Some(Box::new(s));
                        BarcodeStatus::Decoded
                    }
                    Err(_) => BarcodeStatus::Foreign,
                },
                Err(PayloadError::Corrupt(_)) => BarcodeStatus::Foreign,
            },
            QrRead::NotFound => BarcodeStatus::NotFound,
            QrRead::Damaged => BarcodeStatus::Damaged,
        };
        barcodes.push(BarcodeRead { field: f.name.clone(), status });
    }
    match found {
        Some(payload) => Ok(Identified { payload, barcodes }),
        None => Err(Unidentified { barcodes, sheet }),
    }
}
