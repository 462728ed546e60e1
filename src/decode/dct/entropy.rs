//! Huffman decoding of a sequential JPEG scan into sparse, dequantised DCT coefficients
//! (ITU-T T.81, Annex F.2.2: the DC difference category and its extra bits, then run/size AC
//! codes up to EOB).
//!
//! Speed comes from two 9-bit look-up tables per Huffman table, the technique of stb_image and
//! libjpeg-turbo: one gives a code's length and symbol when the code is at most 9 bits long
//! (nearly all are), the other a whole AC coefficient (run, length of code plus extra bits,
//! value) when code and extra bits together fit in 9 bits. Bits come from a 64-bit buffer
//! refilled eight bytes at a time where the data holds no 0xFF.
//!
//! A scan whose data ends early (a marker or the file's end before the last MCU) is padded with
//! zero bits, as decoders do, and the reader remembers that it padded: [`BitReader::overran`]
//! tells a truncated file from a complete one, so the caller never mistakes padding for ink.

use super::{Corrupt, ZIGZAG};

/// Bits of the look-up tables' index.
const FAST_BITS: u32 = 9;

/// A Huffman table (T.81, Annex C) with its look-up tables.
#[derive(Clone)]
pub(super) struct Huffman {
    /// For each length 1..=16, the largest code of that length (−1: none).
    max_code: [i32; 18],
    /// For each length, index of its first symbol minus its first code.
    val_offset: [i32; 17],
    symbols: Vec<u8>,
    /// `len << 8 | symbol` for codes of at most [`FAST_BITS`] bits, by their next 9 bits; 0 for
    /// longer codes.
    lookup: Box<[u16; 1 << FAST_BITS]>,
    /// For AC tables: `value << 8 | run << 4 | total length` when a code and its extra bits fit
    /// in [`FAST_BITS`] bits and it is not EOB or ZRL; 0 otherwise.
    fast_ac: Box<[i32; 1 << FAST_BITS]>,
}

impl Huffman {
    /// Builds a table from a DHT segment's 16 counts and its symbols; `None` for an
    /// impossible code (more codes of a length than the length allows).
    pub(super) fn new(counts: &[u8], symbols: &[u8]) -> Option<Huffman> {
        let mut h = Huffman {
            max_code: [-1; 18],
            val_offset: [0; 17],
            symbols: symbols.to_vec(),
            lookup: Box::new([0; 1 << FAST_BITS]),
            fast_ac: Box::new([0; 1 << FAST_BITS]),
        };
        let (mut code, mut k) = (0i32, 0usize);
        for len in 1..=16usize {
            let n = usize::from(counts[len - 1]);
            if code + n as i32 > (1 << len) {
                return None;
            }
            h.val_offset[len] = k as i32 - code;
            for i in 0..n {
                let c = code + i as i32;
                if len as u32 <= FAST_BITS {
                    let shift = FAST_BITS - len as u32;
                    let sym = *symbols.get(k + i)?;
                    for j in 0..(1 << shift) {
                        h.lookup[((c << shift) | j) as usize] = ((len as u16) << 8) | u16::from(sym);
                    }
                }
            }
            code += n as i32;
            k += n;
            h.max_code[len] = if n > 0 { code - 1 } else { -1 };
            code <<= 1;
        }
        // Longest code: any 16-bit prefix larger than every code is no code at all.
        h.max_code[17] = i32::MAX;
        for idx in 0..(1usize << FAST_BITS) {
            let e = h.lookup[idx];
            let len = u32::from(e >> 8);
            if len == 0 {
                continue;
            }
            let rs = (e & 0xff) as u32;
            let (run, size) = (rs >> 4, rs & 15);
            if size == 0 || len + size > FAST_BITS {
                continue;
            }
            let bits = ((idx as u32) >> (FAST_BITS - len - size)) & ((1 << size) - 1);
            let value = extend(bits, size);
            h.fast_ac[idx] = (value << 8) | (run << 4) as i32 | (len + size) as i32;
        }
        Some(h)
    }
}

/// T.81 F.2.2.1 EXTEND: `bits` read as a `size`-bit magnitude category.
#[inline(always)]
fn extend(bits: u32, size: u32) -> i32 {
    if size == 0 {
        return 0;
    }
    if bits < (1 << (size - 1)) {
        bits as i32 - (1 << size) + 1
    } else {
        bits as i32
    }
}

/// Entropy-coded bits: 0xFF 0x00 is a data 0xFF, any other 0xFF starts a marker, where the data
/// stops and zero bits are supplied.
pub(super) struct BitReader<'a> {
    data: &'a [u8],
    pub(super) pos: usize,
    /// Bits, most significant first; the top `n` are valid.
    acc: u64,
    n: u32,
    /// Zero bits supplied past the data (they sit at the bottom of the valid bits).
    padded: u32,
    at_marker: bool,
}

impl<'a> BitReader<'a> {
    pub(super) fn new(data: &'a [u8], pos: usize) -> Self {
        BitReader { data, pos, acc: 0, n: 0, padded: 0, at_marker: false }
    }

    /// Whether bits past the end of the data were consumed: the scan is truncated.
    pub(super) fn overran(&self) -> bool {
        self.n < self.padded
    }

    #[inline(always)]
    fn refill(&mut self) {
        if self.n > 56 {
            return;
        }
        // Fast path: the next eight bytes hold no 0xFF, so they are all data.
        if !self.at_marker {
            if let Some(b) = self.data.get(self.pos..self.pos + 8) {
                let word = u64::from_be_bytes(b.try_into().expect("eight bytes"));
                let inv = !word;
                // A zero byte in `inv` is a 0xFF byte in `word` (the classic has-zero-byte test).
                if (inv.wrapping_sub(0x0101_0101_0101_0101) & !inv & 0x8080_8080_8080_8080) == 0 {
                    let take = (64 - self.n) / 8;
                    let bits = take * 8;
                    let chunk = if bits == 64 { word } else { word >> (64 - bits) };
                    self.acc |= if bits == 64 { chunk } else { chunk << (64 - self.n - bits) };
                    self.n += bits;
                    self.pos += take as usize;
                    return;
                }
            }
        }
        while self.n <= 56 {
            let byte = self.next_byte();
            self.acc |= u64::from(byte) << (56 - self.n);
            self.n += 8;
        }
    }

    #[inline]
    fn next_byte(&mut self) -> u8 {
        if !self.at_marker {
            match self.data.get(self.pos) {
                Some(&0xFF) => {
                    if self.data.get(self.pos + 1) == Some(&0) {
                        self.pos += 2;
                        return 0xFF;
                    }
                    self.at_marker = true;
                }
                Some(&b) => {
                    self.pos += 1;
                    return b;
                }
                None => self.at_marker = true,
            }
        }
        self.padded += 8;
        0
    }

    #[inline(always)]
    fn peek(&self, bits: u32) -> u32 {
        (self.acc >> (64 - bits)) as u32
    }

    #[inline(always)]
    fn consume(&mut self, bits: u32) {
        self.acc <<= bits;
        self.n = self.n.wrapping_sub(bits);
    }

    /// Reads `size` (≤ 16) bits as a value of that magnitude category.
    #[inline(always)]
    fn receive_extend(&mut self, size: u32) -> i32 {
        if size == 0 {
            return 0;
        }
        let bits = self.peek(size);
        self.consume(size);
        extend(bits, size)
    }

    /// Decodes one Huffman symbol (the buffer holds at least 16 bits).
    #[inline(always)]
    fn symbol(&mut self, h: &Huffman) -> Result<u8, Corrupt> {
        let e = h.lookup[self.peek(FAST_BITS) as usize];
        if e != 0 {
            self.consume(u32::from(e >> 8));
            return Ok(e as u8);
        }
        // T.81 F.2.2.3 DECODE for codes longer than the table.
        let code16 = self.peek(16) as i32;
        let mut len = FAST_BITS as usize + 1;
        while len <= 16 && (code16 >> (16 - len)) > h.max_code[len] {
            len += 1;
        }
        if len > 16 {
            return Err(Corrupt("bad Huffman code"));
        }
        let code = code16 >> (16 - len);
        self.consume(len as u32);
        h.symbols.get((code + h.val_offset[len]) as usize).copied().ok_or(Corrupt("bad Huffman code"))
    }

    /// Decodes one 8×8 block: dequantised coefficients go to `out` as
    /// `value << 6 | natural index` (see [`super::DctPage`]); returns how many.
    #[inline]
    pub(super) fn block(
        &mut self,
        dc: &Huffman,
        ac: &Huffman,
        pred: &mut i32,
        quant: &[u16; 64],
        out: &mut Vec<u32>,
    ) -> Result<u8, Corrupt> {
        let start = out.len();
        self.refill();
        let s = self.symbol(dc)?;
        if s > 11 {
            return Err(Corrupt("bad DC category"));
        }
        self.refill();
        *pred = pred.wrapping_add(self.receive_extend(u32::from(s)));
        let dc_value = pred.wrapping_mul(i32::from(quant[0]));
        if dc_value != 0 {
            out.push(pack(dc_value, 0));
        }
        let mut k = 1usize;
        while k < 64 {
            self.refill();
            let fast = ac.fast_ac[self.peek(FAST_BITS) as usize];
            if fast != 0 {
                k += ((fast >> 4) & 15) as usize;
                self.consume((fast & 15) as u32);
                if k > 63 {
                    return Err(Corrupt("AC run past the block"));
                }
                out.push(pack((fast >> 8).wrapping_mul(i32::from(quant[k])), ZIGZAG[k]));
                k += 1;
                continue;
            }
            let rs = self.symbol(ac)?;
            let (run, size) = (usize::from(rs >> 4), u32::from(rs & 15));
            if size == 0 {
                if run != 15 {
                    break; // EOB
                }
                k += 16; // ZRL
                continue;
            }
            if size > 10 {
                return Err(Corrupt("bad AC category"));
            }
            k += run;
            if k > 63 {
                return Err(Corrupt("AC run past the block"));
            }
            self.refill();
            let v = self.receive_extend(size);
            out.push(pack(v.wrapping_mul(i32::from(quant[k])), ZIGZAG[k]));
            k += 1;
        }
        Ok((out.len() - start) as u8)
    }

    /// At a restart interval's end: drops the byte's remaining bits and steps over the marker
    /// RST`n` that must come next; `false` when it does not.
    pub(super) fn restart(&mut self, n: usize) -> bool {
        // The fast refill never reads through a 0xFF, so the reader stands at the marker or
        // before it; whole data bytes still unread mean the interval did not use all its data.
        if self.overran() || self.n - self.padded >= 8 {
            return false;
        }
        self.acc = 0;
        self.n = 0;
        self.padded = 0;
        self.at_marker = false;
        let rst = self.data.get(self.pos..self.pos + 2).is_some_and(|m| m[0] == 0xFF && usize::from(m[1]) == 0xD0 + n);
        if rst {
            self.pos += 2;
        }
        rst
    }

    /// After the last MCU: the position of the marker that ends the scan, if the data ends
    /// properly (no bits consumed past it, no whole data byte left unread).
    pub(super) fn end(&mut self) -> Option<usize> {
        if self.overran() || self.n - self.padded >= 8 {
            return None;
        }
        (self.data.get(self.pos) == Some(&0xFF)).then_some(self.pos)
    }
}

/// A coefficient and its natural-order index in one word.
#[inline(always)]
fn pack(value: i32, index: u8) -> u32 {
    // Values of 8-bit data with 8-bit quantisers fit in 20 bits; 16-bit quantisers can exceed
    // the 26 bits kept, and are clamped (no real scanner writes them).
    let v = value.clamp(-(1 << 25), (1 << 25) - 1);
    ((v << 6) as u32) | u32::from(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extend_follows_t81() {
        assert_eq!(extend(0, 1), -1);
        assert_eq!(extend(1, 1), 1);
        assert_eq!(extend(0b00, 2), -3);
        assert_eq!(extend(0b10, 2), 2);
        assert_eq!(extend(0, 0), 0);
    }

    #[test]
    fn reader_unstuffs_and_pads_at_a_marker() {
        let data = [0xAB, 0xFF, 0x00, 0x12, 0xFF, 0xD9];
        let mut r = BitReader::new(&data, 0);
        r.refill();
        assert_eq!(r.peek(8), 0xAB);
        r.consume(8);
        assert_eq!(r.peek(8), 0xFF);
        r.consume(8);
        assert_eq!(r.peek(8), 0x12);
        r.consume(8);
        assert!(!r.overran());
        assert_eq!(r.end(), Some(4));
        r.consume(1);
        assert!(r.overran(), "a bit past the data");
    }

    #[test]
    fn table_rejects_an_impossible_code() {
        let mut counts = [0u8; 16];
        counts[0] = 3; // three 1-bit codes
        assert!(Huffman::new(&counts, &[1, 2, 3]).is_none());
    }
}
