//! A JPEG page kept as its DCT coefficients, decoded to pixels as the reader needs them.
//!
//! A 300 dpi A4 scan is 8.7 million pixels, and the reader needs little of it in colour: the
//! low-resolution copy (registration, the blank test) and the field reads want the red (ink)
//! channel alone, and only the photo box, the content tests and the ID-copy area want colour.
//! So [`DctPage::read`] Huffman-decodes the scan into sparse dequantised coefficients, and
//! [`DctPage::ensure`] makes pixels under a rectangle from them (`rows`): the red channel into
//! a plane of its own, which needs neither Cb nor the green and blue sums, or all three
//! channels. The scan prepares a page by asking for the red channel everywhere and
//! box-filtering it, as it does a decoded page's. This follows libjpeg-turbo's idea of decoding
//! for the reader rather than for display (its DCT scaling, `scale_num` / `scale_denom`), here
//! by channel and by area.
//!
//! Supported: baseline and extended sequential Huffman JPEGs (SOF0, SOF1) of 8-bit grey or
//! YCbCr, in one interleaved scan, with chroma at full or half resolution in each direction:
//! what scanners and cameras write. Anything else (progressive, arithmetic, CMYK, RGB, several
//! scans, dense pages), and the anomalies that matter (junk between segments, data that ends
//! early or runs past the frame, a Huffman code that does not exist, a restart marker out of
//! turn), is [`Skip`]ped: the caller decodes the file the ordinary way, whose checks and
//! messages then apply unchanged.
//!
//! Colour follows JFIF (ITU-T T.871, §7: `R = Y + 1.402·(Cr − 128)` and so on), and
//! subsampled chroma is upsampled with the triangle filter of libjpeg's "fancy upsampling"
//! (weights 3/4 and 1/4 towards the nearer and farther sample). Transform, upsampling and
//! colour are computed in zune-jpeg's integers, so that a pixel decoded here is the ordinary
//! path's pixel exactly (the tests compare every pixel of every supported layout).

mod entropy;
mod idct;
mod rows;

use entropy::{BitReader, Huffman};

/// Zigzag position → natural (row-major) index of an 8×8 block (T.81, Figure A.6).
const ZIGZAG: [u8; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
    28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54,
    47, 55, 62, 63,
];

/// [`DctPage::ensure`] states of an MCU: its red channel decoded, or all three.
const RED: u8 = 1;
const COLOUR: u8 = 2;

/// Entropy-coded data that is not what the tables say.
#[derive(Debug)]
pub(crate) struct Corrupt(pub &'static str);

/// Why a JPEG goes to the ordinary decoder instead: an unsupported kind or an anomaly.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Skip(pub &'static str);

impl From<Corrupt> for Skip {
    fn from(c: Corrupt) -> Skip {
        Skip(c.0)
    }
}

/// One colour component of the frame.
#[derive(Clone, Copy, Default)]
struct Component {
    id: u8,
    /// Sampling factors (blocks per MCU across and down).
    h: usize,
    v: usize,
    /// Quantisation table.
    tq: usize,
    /// Blocks across and down, MCU padding included.
    bw: usize,
    bh: usize,
    /// Index of its first block in the page's block arrays.
    base: usize,
    /// Samples across and down that hold the image (ITU-T T.81, A.1.1).
    width: usize,
    height: usize,
}

/// A JPEG page as coefficients, with the pixels decoded so far. One per worker, reused page
/// after page: its buffers grow to the largest page and stay.
#[derive(Default)]
pub(crate) struct DctPage {
    width: usize,
    height: usize,
    comps: Vec<Component>,
    hmax: usize,
    vmax: usize,
    mcus_x: usize,
    mcus_y: usize,
    /// Per block: its first coefficient word in `words` and how many it has.
    start: Vec<u32>,
    count: Vec<u8>,
    /// Nonzero dequantised coefficients, `value << 6 | natural index`.
    words: Vec<u32>,
    /// Decoded pixels (grey or RGB, row-major over the page); only MCUs marked in `mcu_done`
    /// hold this page's pixels (RGB only those marked [`COLOUR`]).
    pixels: Vec<u8>,
    /// A colour page's red channel on its own, one byte a pixel: what ink reads and the
    /// low-resolution copy read, without stepping over green and blue. Valid in every MCU
    /// marked [`RED`] or [`COLOUR`].
    red: Vec<u8>,
    /// Per MCU: 0 not decoded, [`RED`] its red channel only, [`COLOUR`] all three.
    mcu_done: Vec<u8>,
    /// Chroma samples (Cb, Cr) for the upsampling, per chroma block as it is needed.
    chroma: [Vec<u8>; 2],
    /// Per chroma block: bit 0 its Cb, bit 1 its Cr is in `chroma`.
    chroma_done: Vec<u8>,
    /// The row decoder's working rows, kept for the next run.
    rows: rows::RowScratch,
}

impl DctPage {
    /// Page width in pixels.
    pub(crate) fn width(&self) -> u32 {
        self.width as u32
    }

    /// Page height in pixels.
    pub(crate) fn height(&self) -> u32 {
        self.height as u32
    }

    /// Bytes per pixel of [`DctPage::pixels`]: 1 (grey) or 3 (RGB).
    pub(crate) fn channels(&self) -> usize {
        if self.comps.len() == 3 {
            3
        } else {
            1
        }
    }

    /// The pixel buffer; only what [`DctPage::ensure`] covered is this page's.
    pub(crate) fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The ink channel, one byte a pixel: a colour page's red plane (with two bytes of slack
    /// past its last pixel), a grey page's pixels. Only what [`DctPage::ensure`] covered is
    /// this page's.
    pub(crate) fn ink(&self) -> &[u8] {
        if self.comps.len() == 3 {
            &self.red
        } else {
            &self.pixels
        }
    }

    /// Reads a JPEG's headers and Huffman-decodes its scan. `max_pixels` is checked before
    /// anything is allocated. On `Err` the page holds nothing usable.
    pub(crate) fn read(&mut self, data: &[u8], max_pixels: u64) -> Result<(), Skip> {
        let read = self.read_inner(data, max_pixels);
        if read.is_err() {
            self.comps.clear();
        }
        read
    }

    fn read_inner(&mut self, data: &[u8], max_pixels: u64) -> Result<(), Skip> {
        self.comps.clear();
        let mut quant = [[0u16; 64]; 4];
        let mut dc: [Option<Huffman>; 4] = Default::default();
        let mut ac: [Option<Huffman>; 4] = Default::default();
        let mut restart = 0usize;
        let mut adobe_rgb = false;
        if data.get(..2) != Some(&[0xFF, 0xD8]) {
            return Err(Skip("no SOI"));
        }
        let mut pos = 2;
        loop {
            if data.get(pos) != Some(&0xFF) {
                return Err(Skip("junk between segments"));
            }
            while data.get(pos + 1) == Some(&0xFF) {
                pos += 1; // fill bytes
            }
            let marker = *data.get(pos + 1).ok_or(Skip("truncated"))?;
            let len = data.get(pos + 2..pos + 4).ok_or(Skip("truncated"))?;
            let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
            let seg = data.get(pos + 4..pos + 2 + len).filter(|_| len >= 2).ok_or(Skip("bad segment"))?;
            match marker {
                0xC0 | 0xC1 => self.frame(seg, max_pixels)?,
                0xC4 => {
                    let mut t = seg;
                    while !t.is_empty() {
                        let counts = t.get(1..17).ok_or(Skip("bad DHT"))?;
                        let n: usize = counts.iter().map(|&c| usize::from(c)).sum();
                        let symbols = t.get(17..17 + n).ok_or(Skip("bad DHT"))?;
                        let (class, id) = (t[0] >> 4, usize::from(t[0] & 15));
                        let table = Huffman::new(counts, symbols).ok_or(Skip("bad DHT"))?;
                        match (class, id) {
                            (0, 0..=3) => dc[id] = Some(table),
                            (1, 0..=3) => ac[id] = Some(table),
                            _ => return Err(Skip("bad DHT")),
                        }
                        t = &t[17 + n..];
                    }
                }
                0xDB => {
                    let mut t = seg;
                    while !t.is_empty() {
                        let (precision, id) = (t[0] >> 4, usize::from(t[0] & 15));
                        if id > 3 || precision > 1 {
                            return Err(Skip("bad DQT"));
                        }
                        let size = 64 * (1 + usize::from(precision));
                        let values = t.get(1..1 + size).ok_or(Skip("bad DQT"))?;
                        for (k, q) in quant[id].iter_mut().enumerate() {
                            *q = if precision == 0 {
                                u16::from(values[k])
                            } else {
                                u16::from_be_bytes([values[2 * k], values[2 * k + 1]])
                            };
                        }
                        t = &t[1 + size..];
                    }
                }
                0xDD => {
                    let [a, b] = *seg.first_chunk::<2>().ok_or(Skip("bad DRI"))?;
                    restart = usize::from(u16::from_be_bytes([a, b]));
                }
                // Adobe's APP14 says whether three components are YCbCr (transform 1) or RGB.
                0xEE if seg.starts_with(b"Adobe") && seg.len() >= 12 => adobe_rgb = seg[11] == 0,
                0xDA => {
                    if self.comps.len() == 3 && adobe_rgb {
                        return Err(Skip("RGB JPEG"));
                    }
                    let end = self.scan(data, pos + 2 + len, seg, &quant, &dc, &ac, restart)?;
                    // One scan, then EOI: anything else (a second scan, DNL) is not ours.
                    let mut at = end;
                    while data.get(at + 1) == Some(&0xFF) {
                        at += 1;
                    }
                    return if data.get(at + 1) == Some(&0xD9) { Ok(()) } else { Err(Skip("more than one scan")) };
                }
                0xC2..=0xCF => return Err(Skip("not a sequential Huffman JPEG")),
                0xD8 | 0xD9 | 0xD0..=0xD7 | 0x01 => return Err(Skip("unexpected marker")),
                _ => {}
            }
            pos += 2 + len;
        }
    }

    /// SOF0/SOF1: the components and the block layout.
    fn frame(&mut self, seg: &[u8], max_pixels: u64) -> Result<(), Skip> {
        if !self.comps.is_empty() || seg.len() < 6 || seg[0] != 8 {
            return Err(Skip("not an 8-bit frame"));
        }
        let height = usize::from(u16::from_be_bytes([seg[1], seg[2]]));
        let width = usize::from(u16::from_be_bytes([seg[3], seg[4]]));
        let n = usize::from(seg[5]);
        if width == 0 || height == 0 || (width as u64) * (height as u64) > max_pixels {
            return Err(Skip("size"));
        }
        if n != 1 && n != 3 {
            return Err(Skip("not grey or YCbCr"));
        }
        for c in 0..n {
            let s = seg.get(6 + 3 * c..9 + 3 * c).ok_or(Skip("bad SOF"))?;
            let (h, v) = (usize::from(s[1] >> 4), usize::from(s[1] & 15));
            if !(1..=2).contains(&h) || !(1..=2).contains(&v) || s[2] > 3 {
                return Err(Skip("sampling"));
            }
            self.comps.push(Component { id: s[0], h, v, tq: usize::from(s[2]), ..Default::default() });
        }
        if n == 3 && self.comps.iter().map(|c| c.id).eq(*b"RGB") {
            return Err(Skip("RGB JPEG"));
        }
        let (hmax, vmax) = if n == 1 {
            self.comps[0].h = 1;
            self.comps[0].v = 1;
            (1, 1)
        } else {
            (self.comps.iter().map(|c| c.h).max().unwrap_or(1), self.comps.iter().map(|c| c.v).max().unwrap_or(1))
        };
        // Luma at full resolution, chroma at full or half resolution in each direction.
        if self.comps[0].h != hmax
            || self.comps[0].v != vmax
            || self.comps[1..].iter().any(|c| c.h != self.comps[1].h || c.v != self.comps[1].v)
        {
            return Err(Skip("sampling"));
        }
        self.width = width;
        self.height = height;
        self.hmax = hmax;
        self.vmax = vmax;
        self.mcus_x = width.div_ceil(8 * hmax);
        self.mcus_y = height.div_ceil(8 * vmax);
        let mut base = 0;
        for c in &mut self.comps {
            c.width = (width * c.h).div_ceil(hmax);
            c.height = (height * c.v).div_ceil(vmax);
            (c.bw, c.bh) = (self.mcus_x * c.h, self.mcus_y * c.v);
            c.base = base;
            base += c.bw * c.bh;
        }
        Ok(())
    }

    /// SOS and the entropy-coded data after it; returns the position of the marker that ends
    /// the data.
    #[allow(clippy::too_many_arguments)]
    fn scan(
        &mut self,
        data: &[u8],
        start: usize,
        seg: &[u8],
        quant: &[[u16; 64]; 4],
        dc: &[Option<Huffman>; 4],
        ac: &[Option<Huffman>; 4],
        restart: usize,
    ) -> Result<usize, Skip> {
        let n = usize::from(*seg.first().ok_or(Skip("bad SOS"))?);
        if self.comps.is_empty() || n != self.comps.len() || seg.len() < 4 + 2 * n {
            return Err(Skip("not one interleaved scan"));
        }
        if seg[1 + 2 * n..4 + 2 * n] != [0, 63, 0] {
            return Err(Skip("not a sequential scan"));
        }
        // (component, DC table, AC table, quantiser) in the scan's order.
        let mut order = Vec::with_capacity(3);
        for c in 0..n {
            let (id, tables) = (seg[1 + 2 * c], seg[2 + 2 * c]);
            let ci = self.comps.iter().position(|k| k.id == id).ok_or(Skip("bad SOS"))?;
            let d = dc.get(usize::from(tables >> 4)).and_then(Option::as_ref).ok_or(Skip("no DC table"))?;
            let a = ac.get(usize::from(tables & 15)).and_then(Option::as_ref).ok_or(Skip("no AC table"))?;
            let q = &quant[self.comps[ci].tq];
            order.push((ci, d, a, q));
        }
        let blocks: usize = self.comps.iter().map(|c| c.bw * c.bh).sum();
        self.start.clear();
        self.start.resize(blocks, 0);
        self.count.clear();
        self.count.resize(blocks, 0);
        self.words.clear();
        let mut bits = BitReader::new(data, start);
        let mut pred = [0i32; 3];
        let mut mcu = 0usize;
        // Dense pages (a photograph, noise) gain nothing here and would hold a coefficient
        // buffer of up to 64 words a block: past 24 words a block on average (and 4 MB),
        // decode the ordinary way.
        let blocks_per_row: usize = self.comps.iter().map(|c| c.bw * c.v).sum();
        for my in 0..self.mcus_y {
            for mx in 0..self.mcus_x {
                if restart > 0 && mcu > 0 && mcu.is_multiple_of(restart) {
                    // RSTn counts 0..7 round (T.81, B.2.1): a marker out of turn is a lost
                    // interval.
                    if !bits.restart((mcu / restart - 1) % 8) {
                        return Err(Skip("restart marker missing"));
                    }
                    pred = [0; 3];
                }
                for &(ci, d, a, q) in &order {
                    let c = self.comps[ci];
                    for j in 0..c.v {
                        let row = c.base + (my * c.v + j) * c.bw + mx * c.h;
                        for i in 0..c.h {
                            self.start[row + i] = self.words.len() as u32;
                            self.count[row + i] = bits.block(d, a, &mut pred[ci], q, &mut self.words)?;
                        }
                    }
                }
                mcu += 1;
            }
            if bits.overran() {
                return Err(Skip("truncated"));
            }
            if self.words.len() > (24 * blocks_per_row * (my + 1)).max(1 << 20) {
                return Err(Skip("dense"));
            }
        }
        let end = bits.end().ok_or(Skip("data does not end where the frame does"))?;
        self.mcu_done.clear();
        self.mcu_done.resize(self.mcus_x * self.mcus_y, 0);
        let chroma_blocks = self.comps.get(1).map_or(0, |c| c.bw * c.bh);
        self.chroma_done.clear();
        self.chroma_done.resize(chroma_blocks, 0);
        // Sized, not cleared: stale bytes are never read (see `ensure`).
        self.pixels.resize(self.width * self.height * self.channels(), 0);
        if self.channels() == 3 {
            // Two bytes of slack past the last pixel: the AVX2 ink walk's four-byte gathers
            // read them (`sample::avx2::walk_ink8`).
            self.red.resize(self.width * self.height + 2, 0);
        }
        if let Some(c) = self.comps.get(1) {
            for plane in &mut self.chroma {
                plane.resize(c.bw * 8 * c.bh * 8, 0);
            }
        }
        Ok(end)
    }

    fn coefs(&self, block: usize) -> &[u32] {
        let s = self.start[block] as usize;
        &self.words[s..s + usize::from(self.count[block])]
    }

    /// Decodes the MCUs under full-resolution pixels `x0..x1` × `y0..y1` (clipped to the page)
    /// that are not decoded yet: all three channels with `colour` (and the red plane), else the
    /// red (ink) plane alone, which needs neither Cb nor the green and blue sums.
    pub(crate) fn ensure(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, colour: bool) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { self.ensure_avx2(x0, y0, x1, y1, colour) };
        }
        self.ensure_portable(x0, y0, x1, y1, colour)
    }

    /// [`DctPage::ensure`] compiled for AVX2: the same code (everything it calls is inlined),
    /// so the compiler may use 8-lane registers for the transforms and the colour sums.
    /// Without FMA no multiply and add are fused, so the pixels are bit-for-bit the portable
    /// build's.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn ensure_avx2(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, colour: bool) {
        self.ensure_portable(x0, y0, x1, y1, colour)
    }

    #[inline(always)]
    fn ensure_portable(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, colour: bool) {
        if self.comps.is_empty() {
            return;
        }
        let (mw, mh) = ((8 * self.hmax) as i64, (8 * self.vmax) as i64);
        let clip = |v: i64, max: usize| v.clamp(0, max as i64);
        let (x0, x1) = (clip(x0, self.width), clip(x1, self.width));
        let (y0, y1) = (clip(y0, self.height), clip(y1, self.height));
        if x1 <= x0 || y1 <= y0 {
            return;
        }
        let need = if colour || self.comps.len() == 1 { COLOUR } else { RED };
        let (mxa, mxb) = ((x0 / mw) as usize, ((x1 - 1) / mw) as usize + 1);
        for my in (y0 / mh) as usize..=((y1 - 1) / mh) as usize {
            // Runs of MCUs not decoded that far yet.
            let mut mx = mxa;
            while mx < mxb {
                if self.mcu_done[my * self.mcus_x + mx] >= need {
                    mx += 1;
                    continue;
                }
                let start = mx;
                while mx < mxb && self.mcu_done[my * self.mcus_x + mx] < need {
                    mx += 1;
                }
                self.decode_run(start, mx, my, need == COLOUR);
            }
        }
    }

    /// Decodes every MCU of the page.
    #[cfg(test)]
    pub(crate) fn ensure_all(&mut self) {
        self.ensure(0, 0, self.width as i64, self.height as i64, true);
    }

    /// Decodes the planes of chroma block `(bx, by)` that `mask` names (bit 0 Cb, bit 1 Cr)
    /// and are not decoded yet.
    #[inline(always)]
    fn decode_chroma_block(&mut self, bx: usize, by: usize, mask: u8) {
        let c = self.comps[1];
        let b = by * c.bw + bx;
        let missing = mask & !self.chroma_done[b];
        if missing == 0 {
            return;
        }
        self.chroma_done[b] |= missing;
        let stride = c.bw * 8;
        let mut samples = [0u8; 64];
        for (k, comp) in [self.comps[1], self.comps[2]].iter().enumerate() {
            if missing & (1 << k) == 0 {
                continue;
            }
            idct::idct_block(self.coefs(comp.base + b), &mut samples);
            let plane = &mut self.chroma[k];
            for (row, chunk) in samples.chunks_exact(8).enumerate() {
                let at = (by * 8 + row) * stride + bx * 8;
                plane[at..at + 8].copy_from_slice(chunk);
            }
        }
    }
}

#[cfg(test)]
mod tests;
