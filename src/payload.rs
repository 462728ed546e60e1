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
    fn rejects_foreign_and_tampered() {
        assert_eq!(PagePayload::decode("https://example.com"), Err(PayloadError::Foreign));
        let mut s = sample().encode();
        s = s.replace("000042", "000043");
        assert!(matches!(PagePayload::decode(&s), Err(PayloadError::Corrupt(_))));
        assert!(matches!(PagePayload::decode("FS1|x"), Err(PayloadError::Corrupt(_))));
    }
}
