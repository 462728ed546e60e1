//! The page-identification payload printed in each page's QR codes.
//!
//! Wire format, ASCII, fields separated by `|`:
//!
//! ```text
//! FS1|<template id>|<template version>|<print run>|<form serial>|<page>|<flags>|<crc>
//! FS1|sbk-student|1|R3F9A01|000042|1|1|8C1D2E0F
//! ```
//!
//! * `FS1`: magic and format version; a QR code from another system never starts with it.
//! * `flags`: bit 0 set when a photo was printed on the form (the reader then expects the
//!   "printed photo is the applicant" boxes to be answered).
//! * `crc`: CRC-32 (IEEE 802.3) of everything before the last `|`, 8 upper-case hex digits.
//!   QR's own Reed–Solomon code already rejects most misreads; the CRC rejects a foreign code
//!   that happens to start with `FS1` and any payload typed or edited by hand.
//!
//! Class-pack sheets (the cover sheet and the class list printed before each class's forms)
//! carry a [`SheetPayload`] under a magic of their own, so a form reader that only knows `FS1`
//! sees a foreign code, never a form:
//!
//! ```text
//! FSC1|<template id>|<template version>|<print run>|<kind>|<first serial>|<last serial>|<forms>|<sheet>|<crc>
//! FSC1|sbk-student|1|R3F9A01|cover|000041|000080|40|0|1A2B3C4D
//! ```
//!
//! `kind` is `cover` or `list`; `first`/`last serial` bound the class's forms in the run;
//! `forms` is how many forms the pack holds; `sheet` is 0 for the cover and the 1-based page
//! number of the class list. The CRC is computed as for `FS1`.

use serde::{Deserialize, Serialize};

/// What a page's barcode says about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagePayload {
    /// Template id, e.g. `sbk-student`.
    pub template: String,
    /// Template version.
    pub version: u32,
    /// Print-run id.
    pub run: String,
    /// Form serial, unique within the print run.
    pub serial: String,
    /// 1-based page number within the form.
    pub page: u32,
    /// A photo was printed on the form.
    pub photo_printed: bool,
}

/// Why a barcode text is not a valid payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Not a formscan payload at all.
    #[error("not a formscan page code")]
    Foreign,
    /// Looks like one but the fields or the checksum are wrong.
    #[error("corrupt page code: {0}")]
    Corrupt(&'static str),
}

fn crc32(s: &str) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(s.as_bytes());
    c.sum()
}

fn safe(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

impl PagePayload {
    /// Encodes the payload, checksum included.
    pub fn encode(&self) -> String {
        let body = format!(
            "FS1|{}|{}|{}|{}|{}|{}",
            self.template, self.version, self.run, self.serial, self.page, self.photo_printed as u8
        );
        let crc = crc32(&body);
        format!("{body}|{crc:08X}")
    }

    /// Parses and checks a payload read from a barcode.
    pub fn decode(text: &str) -> Result<PagePayload, PayloadError> {
        if !text.starts_with("FS1|") {
            return Err(PayloadError::Foreign);
        }
        let (body, crc) = text.rsplit_once('|').ok_or(PayloadError::Corrupt("no checksum"))?;
        let crc = u32::from_str_radix(crc, 16).map_err(|_| PayloadError::Corrupt("bad checksum field"))?;
        if crc != crc32(body) {
            return Err(PayloadError::Corrupt("checksum mismatch"));
        }
        let parts: Vec<&str> = body.split('|').collect();
        if parts.len() != 7 {
            return Err(PayloadError::Corrupt("wrong number of fields"));
        }
        if !(safe(parts[1]) && safe(parts[3]) && safe(parts[4])) {
            return Err(PayloadError::Corrupt("bad characters"));
        }
        Ok(PagePayload {
            template: parts[1].to_string(),
            version: parts[2].parse().map_err(|_| PayloadError::Corrupt("bad version"))?,
            run: parts[3].to_string(),
            serial: parts[4].to_string(),
            page: parts[5].parse().map_err(|_| PayloadError::Corrupt("bad page"))?,
            photo_printed: match parts[6] {
                "0" => false,
                "1" => true,
                _ => return Err(PayloadError::Corrupt("bad flags")),
            },
        })
    }
}

/// Which class-pack sheet a [`SheetPayload`] marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SheetKind {
    /// The class cover sheet.
    Cover,
    /// A page of the class list (花名册).
    List,
}

/// What a class-pack sheet's barcode says about it (see the module docs for the wire format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SheetPayload {
    /// Template id of the forms in the pack.
    pub template: String,
    /// Template version.
    pub version: u32,
    /// Print-run id.
    pub run: String,
    /// Cover or class list.
    pub kind: SheetKind,
    /// Serial of the class's first form.
    pub first_serial: String,
    /// Serial of the class's last form.
    pub last_serial: String,
    /// Number of forms in the class pack.
    pub forms: u32,
    /// 0 for the cover, else the 1-based class-list page.
    pub sheet: u32,
}

impl SheetPayload {
    /// Encodes the payload, checksum included.
    pub fn encode(&self) -> String {
        let kind = match self.kind {
            SheetKind::Cover => "cover",
            SheetKind::List => "list",
        };
        let body = format!(
            "FSC1|{}|{}|{}|{kind}|{}|{}|{}|{}",
            self.template, self.version, self.run, self.first_serial, self.last_serial, self.forms, self.sheet
        );
        let crc = crc32(&body);
        format!("{body}|{crc:08X}")
    }

    /// Parses and checks a sheet payload read from a barcode.
    pub fn decode(text: &str) -> Result<SheetPayload, PayloadError> {
        if !text.starts_with("FSC1|") {
            return Err(PayloadError::Foreign);
        }
        let (body, crc) = text.rsplit_once('|').ok_or(PayloadError::Corrupt("no checksum"))?;
        let crc = u32::from_str_radix(crc, 16).map_err(|_| PayloadError::Corrupt("bad checksum field"))?;
        if crc != crc32(body) {
            return Err(PayloadError::Corrupt("checksum mismatch"));
        }
        let p: Vec<&str> = body.split('|').collect();
        if p.len() != 9 {
            return Err(PayloadError::Corrupt("wrong number of fields"));
        }
        if !(safe(p[1]) && safe(p[3]) && safe(p[5]) && safe(p[6])) {
            return Err(PayloadError::Corrupt("bad characters"));
        }
        let num = |s: &str, what| s.parse::<u32>().map_err(|_| PayloadError::Corrupt(what));
        Ok(SheetPayload {
            template: p[1].to_string(),
            version: num(p[2], "bad version")?,
            run: p[3].to_string(),
            kind: match p[4] {
                "cover" => SheetKind::Cover,
                "list" => SheetKind::List,
                _ => return Err(PayloadError::Corrupt("bad sheet kind")),
            },
            first_serial: p[5].to_string(),
            last_serial: p[6].to_string(),
            forms: num(p[7], "bad form count")?,
            sheet: num(p[8], "bad sheet number")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PagePayload {
        PagePayload {
            template: "sbk-student".into(),
            version: 1,
            run: "R3F9A01".into(),
            serial: "000042".into(),
            page: 1,
            photo_printed: true,
        }
    }

    #[test]
    fn round_trip() {
        let p = sample();
        assert_eq!(PagePayload::decode(&p.encode()), Ok(p));
    }

    #[test]
    fn sheet_round_trip_and_never_a_form() {
        let s = SheetPayload {
            template: "sbk-student".into(),
            version: 1,
            run: "R3F9A01".into(),
            kind: SheetKind::List,
            first_serial: "000041".into(),
            last_serial: "000080".into(),
            forms: 40,
            sheet: 2,
        };
        let text = s.encode();
        assert_eq!(SheetPayload::decode(&text), Ok(s));
        assert_eq!(PagePayload::decode(&text), Err(PayloadError::Foreign));
        assert_eq!(SheetPayload::decode(&sample().encode()), Err(PayloadError::Foreign));
        assert!(matches!(SheetPayload::decode(&text.replace("|40|", "|41|")), Err(PayloadError::Corrupt(_))));
    }

    #[test]
    fn rejects_foreign_and_tampered() {
        assert_eq!(PagePayload::decode("https://example.com"), Err(PayloadError::Foreign));
        let mut s = sample().encode();
        s = s.replace("000042", "000043");
        assert!(matches!(PagePayload::decode(&s), Err(PayloadError::Corrupt(_))));
        assert!(matches!(PagePayload::decode("FS1|x"), Err(PayloadError::Corrupt(_))));
    }
}
