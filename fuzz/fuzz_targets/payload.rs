//! The page-code payload decoders: `PagePayload::decode` and `SheetPayload::decode`.
//!
//! Two inputs per run: the text as it is, and the text with a correct checksum appended
//! (`<text>|<CRC-32>`), so that the fuzzer gets past the checksum to the field parsing.
//!
//! Checked: no panic; a decoded payload encodes to a text that decodes to the same payload.
#![no_main]

use formscan::payload::{PagePayload, SheetPayload};
use libfuzzer_sys::fuzz_target;

/// CRC-32 (IEEE 802.3), as the payload's checksum.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn check(text: &str) {
    if let Ok(p) = PagePayload::decode(text) {
        assert_eq!(PagePayload::decode(&p.encode()).as_ref(), Ok(&p), "{text:?}");
    }
    if let Ok(s) = SheetPayload::decode(text) {
        assert_eq!(SheetPayload::decode(&s.encode()).as_ref(), Ok(&s), "{text:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    check(text);
    check(&format!("{text}|{:08X}", crc32(text.as_bytes())));
});
