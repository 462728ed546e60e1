//! Does a baseline JPEG's entropy-coded data hold every MCU its frame header declares?
//!
//! A decoder that runs out of data fills the rest of the image with the last DC value, so a
//! frame header that claims 10900×10900 px over the data of a 2480×3508 scan decodes to a
//! picture whose lower part is flat: a "blank page" in a batch. [`mcus_present`] walks the
//! Huffman codes (ITU-T T.81, F.2.2: DC difference category and bits, then run/size AC codes up
//! to EOB) without dequantising or transforming anything, and counts the MCUs up to the end
//! of the data. It is only called when the decoded image's last rows are flat, so its cost
//! (a few milliseconds a page) is paid by blank pages and liars alone.
//!
//! Baseline and extended sequential Huffman scans with all components interleaved (what
//! scanners write) are walked; anything else (progressive, arithmetic coding, several scans)
//! answers `None`, "cannot tell".

/// A Huffman table as canonical codes: for each length 1..=16, the first code and the index of
/// its first symbol (T.81, Annex C).
#[derive(Clone, Default)]
struct Huffman {
    max_code: [i32; 17],
    val_offset: [i32; 17],
    symbols: Vec<u8>,
}

impl Huffman {
    fn new(counts: &[u8], symbols: &[u8]) -> Huffman {
        let mut h = Huffman { max_code: [-1; 17], val_offset: [0; 17], symbols: symbols.to_vec() };
        let (mut code, mut k) = (0i32, 0i32);
        for len in 1..=16 {
            let n = i32::from(counts[len - 1]);
            h.val_offset[len] = k - code;
            code += n;
            k += n;
            h.max_code[len] = if n > 0 { code - 1 } else { -1 };
            code <<= 1;
        }
        h
    }
}

/// Reads entropy-coded bits: skips stuffed zero bytes after 0xFF and stops at any marker.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u32,
    n: u32,
    /// A marker was reached; what follows are no data bits.
    at_marker: bool,
}

impl Bits<'_> {
    fn bit(&mut self) -> Option<u32> {
        if self.n == 0 {
            if self.at_marker || self.pos >= self.data.len() {
                return None;
            }
            let b = self.data[self.pos];
            if b == 0xFF {
                match self.data.get(self.pos + 1) {
                    Some(0x00) => self.pos += 2,
                    _ => {
                        self.at_marker = true;
                        return None;
                    }
                }
            } else {
                self.pos += 1;
            }
            self.acc = u32::from(b);
            self.n = 8;
        }
        self.n -= 1;
        Some((self.acc >> self.n) & 1)
    }

    fn bits(&mut self, count: u8) -> Option<()> {
        for _ in 0..count {
            self.bit()?;
        }
        Some(())
    }

    fn symbol(&mut self, h: &Huffman) -> Option<u8> {
        let mut code = 0i32;
        for len in 1..=16 {
            code = (code << 1) | self.bit()? as i32;
            if code <= h.max_code[len] {
                return h.symbols.get((code + h.val_offset[len]) as usize).copied();
            }
        }
        None
    }

    /// Skips to the byte after a restart marker (RSTn), if one comes next.
    fn restart(&mut self) -> bool {
        self.n = 0;
        let rst = self.data.get(self.pos..self.pos + 2).is_some_and(|m| m[0] == 0xFF && (0xD0..=0xD7).contains(&m[1]));
        if rst {
            self.pos += 2;
            self.at_marker = false;
        }
        rst
    }
}

struct Component {
    id: u8,
    h: u8,
    v: u8,
}

/// `Some((present, declared))`: the MCUs the data holds and the MCUs the frame declares, for a
/// walkable file; `None` when the file is not a single interleaved Huffman scan.
pub(super) fn mcus_present(data: &[u8]) -> Option<(u64, u64)> {
    let mut dc: [Huffman; 4] = Default::default();
    let mut ac: [Huffman; 4] = Default::default();
    let mut comps: Vec<Component> = Vec::new();
    let (mut width, mut height, mut restart) = (0u32, 0u32, 0u32);
    let mut pos = 2;
    loop {
        while data.get(pos) == Some(&0xFF) && data.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        if data.get(pos) != Some(&0xFF) {
            return None;
        }
        let marker = *data.get(pos + 1)?;
        let len = usize::from(u16::from_be_bytes([*data.get(pos + 2)?, *data.get(pos + 3)?]));
        let seg = data.get(pos + 4..pos + 2 + len)?;
        match marker {
            0xC0 | 0xC1 => {
                height = u32::from(u16::from_be_bytes([*seg.get(1)?, *seg.get(2)?]));
                width = u32::from(u16::from_be_bytes([*seg.get(3)?, *seg.get(4)?]));
                let n = usize::from(*seg.get(5)?);
                for c in 0..n {
                    let s = seg.get(6 + 3 * c..9 + 3 * c)?;
                    comps.push(Component { id: s[0], h: (s[1] >> 4).max(1), v: (s[1] & 15).max(1) });
                }
            }
            0xC2..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => return None, // progressive, lossless, arithmetic
            0xC4 => {
                let mut t = seg;
                while t.len() >= 17 {
                    let (class, id) = (t[0] >> 4, usize::from(t[0] & 15) & 3);
                    let counts = &t[1..17];
                    let n: usize = counts.iter().map(|&c| usize::from(c)).sum();
                    let symbols = t.get(17..17 + n)?;
                    let table = Huffman::new(counts, symbols);
                    if class == 0 {
                        dc[id] = table;
                    } else {
                        ac[id] = table;
                    }
                    t = &t[17 + n..];
                }
            }
            0xDD => restart = u32::from(u16::from_be_bytes([*seg.first()?, *seg.get(1)?])),
            0xDA => {
                let n = usize::from(*seg.first()?);
                if n != comps.len() || width == 0 || height == 0 {
                    return None; // several scans, or no frame: cannot tell
                }
                let mut tables = Vec::with_capacity(n);
                for c in 0..n {
                    let s = seg.get(1 + 2 * c..3 + 2 * c)?;
                    let comp = comps.iter().find(|k| k.id == s[0])?;
                    tables.push((usize::from(s[1] >> 4) & 3, usize::from(s[1] & 15) & 3, comp.h, comp.v));
                }
                let hmax = u32::from(comps.iter().map(|c| c.h).max()?);
                let vmax = u32::from(comps.iter().map(|c| c.v).max()?);
                let (mcu_w, mcu_h) = if n == 1 { (8, 8) } else { (8 * hmax, 8 * vmax) };
                let declared = u64::from(width.div_ceil(mcu_w)) * u64::from(height.div_ceil(mcu_h));
                let blocks = |h: u8, v: u8| if n == 1 { 1 } else { u32::from(h) * u32::from(v) };
                let mut bits = Bits { data: &data[pos + 2 + len..], pos: 0, acc: 0, n: 0, at_marker: false };
                let mut present = 0u64;
                'mcus: while present < declared {
                    if restart > 0 && present > 0 && present.is_multiple_of(u64::from(restart)) && !bits.restart() {
                        break;
                    }
                    for &(d, a, h, v) in &tables {
                        for _ in 0..blocks(h, v) {
                            let Some(s) = bits.symbol(&dc[d]) else { break 'mcus };
                            if bits.bits(s & 15).is_none() {
                                break 'mcus;
                            }
                            let mut k = 1;
                            while k < 64 {
                                let Some(rs) = bits.symbol(&ac[a]) else { break 'mcus };
                                let (r, s) = (rs >> 4, rs & 15);
                                if s == 0 {
                                    if r != 15 {
                                        break;
                                    }
                                    k += 16;
                                    continue;
                                }
                                k += usize::from(r) + 1;
                                if bits.bits(s).is_none() {
                                    break 'mcus;
                                }
                            }
                        }
                    }
                    present += 1;
                }
                return Some((present, declared));
            }
            0xD9 => return None,
            _ => {}
        }
        pos += 2 + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u32, h: u32, grey: bool) -> Vec<u8> {
        let img =
            image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7) as u8, (y * 5) as u8, ((x ^ y) * 3) as u8]));
        let img = if grey {
            image::DynamicImage::ImageLuma8(image::DynamicImage::ImageRgb8(img).to_luma8())
        } else {
            image::DynamicImage::ImageRgb8(img)
        };
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Jpeg).expect("encodes");
        out.into_inner()
    }

    #[test]
    fn a_complete_scan_holds_every_mcu_and_a_lying_header_does_not() {
        for grey in [false, true] {
            let honest = jpeg(120, 90, grey);
            let (present, declared) = mcus_present(&honest).expect("walkable");
            assert_eq!(present, declared, "grey {grey}");
            let mut liar = honest.clone();
            let sof = liar.windows(2).position(|w| w == [0xFF, 0xC0]).expect("baseline");
            liar[sof + 5..sof + 7].copy_from_slice(&900u16.to_be_bytes());
            let (present, declared) = mcus_present(&liar).expect("walkable");
            assert!(present < declared / 5, "grey {grey}: {present} of {declared}");
        }
    }
}
