//! Pixels from coefficients, a run of MCUs at a time, row by row.
//!
//! A run is consecutive MCUs of one MCU row. Its luma blocks are transformed into a strip, its
//! chroma blocks (and the neighbours the triangle filter reaches) into the chroma planes; then
//! each pixel row of the run is made in three passes over contiguous arrays that the compiler
//! vectorises: chroma down (two chroma rows to one), chroma across (to one value a pixel), and
//! the colour sums. Every step is zune-jpeg's integer arithmetic (see the module notes of
//! [`super`]), so the pixels are the ordinary decoder's.
//!
//! The red (ink) channel alone needs neither Cb nor the green and blue sums: that is what the
//! whole page gets, for the low-resolution copy; colour is made where a stage reads colour.

use super::{idct, DctPage, COLOUR, RED};

/// A run's working rows, kept by the page for the next run.
#[derive(Default)]
pub(super) struct RowScratch {
    /// The run's luma: `8·vmax` rows of the run's width.
    luma: Vec<u8>,
    /// Chroma after the vertical filter, over the run's chroma columns (Cb, Cr).
    down: [Vec<i16>; 2],
    /// Chroma at one value a pixel (Cb, Cr), where it is subsampled across.
    across: [Vec<i16>; 2],
    /// One row of green and blue (red goes straight to the red plane).
    green_blue: [Vec<u8>; 2],
}

impl DctPage {
    /// Decodes MCUs `mx0..mx1` of MCU row `my`: the red plane, and with `colour` the RGB
    /// pixels too, and marks them. Grey pages get their one channel either way.
    #[inline(always)]
    pub(super) fn decode_run(&mut self, mx0: usize, mx1: usize, my: usize, colour: bool) {
        let (mw, mh) = (8 * self.hmax, 8 * self.vmax);
        let px0 = mx0 * mw;
        let px1 = (mx1 * mw).min(self.width);
        if px1 <= px0 {
            return;
        }
        let y = self.comps[0];
        let run_w = (mx1 - mx0) * mw;
        // The luma strip.
        let mut scratch = std::mem::take(&mut self.rows);
        scratch.luma.resize(run_w * mh, 0);
        let mut samples = [0u8; 64];
        for j in 0..y.v {
            for bx in mx0 * y.h..mx1 * y.h {
                let by = my * y.v + j;
                idct::idct_block(self.coefs(y.base + by * y.bw + bx), &mut samples);
                let x = (bx - mx0 * y.h) * 8;
                for (row, chunk) in samples.chunks_exact(8).enumerate() {
                    let at = (j * 8 + row) * run_w + x;
                    scratch.luma[at..at + 8].copy_from_slice(chunk);
                }
            }
        }
        let done = if colour || self.comps.len() == 1 { COLOUR } else { RED };
        if self.comps.len() == 1 {
            let w = self.width;
            for (row, line) in scratch.luma.chunks_exact(run_w).enumerate() {
                let gy = my * mh + row;
                if gy >= self.height {
                    break;
                }
                self.pixels[gy * w + px0..gy * w + px1].copy_from_slice(&line[..px1 - px0]);
            }
        } else {
            self.colour_rows(&mut scratch, mx0, mx1, my, colour);
        }
        self.rows = scratch;
        for d in &mut self.mcu_done[my * self.mcus_x + mx0..my * self.mcus_x + mx1] {
            *d = (*d).max(done);
        }
    }

    /// The colour (or red) rows of a run whose luma is in `scratch.luma`.
    #[inline(always)]
    fn colour_rows(&mut self, scratch: &mut RowScratch, mx0: usize, mx1: usize, my: usize, colour: bool) {
        let (mw, mh) = (8 * self.hmax, 8 * self.vmax);
        let c = self.comps[1];
        let (sx, sy) = (self.hmax / c.h, self.vmax / c.v);
        let (rx, ry) = (usize::from(sx > 1), usize::from(sy > 1));
        // Chroma blocks under the run and the neighbours the filter reaches.
        for by in (my * c.v).saturating_sub(ry)..((my + 1) * c.v + ry).min(c.bh) {
            for bx in (mx0 * c.h).saturating_sub(rx)..(mx1 * c.h + rx).min(c.bw) {
                self.decode_chroma_block(bx, by, if colour { 3 } else { 2 });
            }
        }
        let (stride, rows) = (c.bw * 8, c.bh * 8);
        let (px0, px1) = (mx0 * mw, (mx1 * mw).min(self.width));
        let n = px1 - px0;
        let run_w = (mx1 - mx0) * mw;
        // The run's chroma columns `k0..=k1`; with subsampling across, one more each side (the
        // column itself past the padded plane's edge), at `down[0]` and `down[m + 1]`.
        let (k0, k1) = (px0 / sx, (px1 - 1) / sx);
        let m = k1 - k0 + 1;
        let (left, right) = (k0.saturating_sub(1), (k1 + 1).min(stride - 1));
        let planes: &[usize] = if colour { &[0, 1] } else { &[1] };
        for p in planes {
            scratch.down[*p].resize(m + 2, 0);
            scratch.across[*p].resize(2 * m, 0);
        }
        if colour {
            for ch in &mut scratch.green_blue {
                ch.resize(n, 0);
            }
        }
        let w = self.width;
        for row in 0..mh {
            let gy = my * mh + row;
            if gy >= self.height {
                break;
            }
            let near = gy / sy;
            let far = if sy == 1 {
                near
            } else if gy % 2 == 1 {
                (near + 1).min(rows - 1)
            } else {
                near.saturating_sub(1)
            };
            for &p in planes {
                let plane = &self.chroma[p];
                let (a, b) = (&plane[near * stride..][..stride], &plane[far * stride..][..stride]);
                // Down: (3·near + far + 2) >> 2 (the sample itself where near and far are one row).
                let vertical = |s: u8, t: u8| (3 * i16::from(s) + i16::from(t) + 2) >> 2;
                let down = &mut scratch.down[p];
                for ((d, &s), &t) in down[1..=m].iter_mut().zip(&a[k0..=k1]).zip(&b[k0..=k1]) {
                    *d = vertical(s, t);
                }
                down[0] = vertical(a[left], b[left]);
                down[m + 1] = vertical(a[right], b[right]);
                if sx == 1 {
                    continue;
                }
                let across = &mut scratch.across[p];
                // Across: pixel 2k from chroma column k and its left neighbour, pixel 2k + 1
                // from k and its right one.
                for (pair, v) in across.chunks_exact_mut(2).zip(down.windows(3)) {
                    let centre = 3 * v[1] + 2;
                    pair[0] = (centre + v[0]) >> 2;
                    pair[1] = (centre + v[2]) >> 2;
                }
            }
            // Chroma a pixel: without subsampling across, the vertical filter's columns.
            let per_pixel = |p: usize| if sx == 1 { &scratch.down[p][1..=m] } else { &scratch.across[p][..] };
            // T.871 §7 in zune-jpeg's 14-bit fixed point, red straight into the red plane.
            let luma = &scratch.luma[row * run_w..row * run_w + n];
            let cr = per_pixel(1);
            let r = &mut self.red[gy * w + px0..gy * w + px1];
            for ((o, &l), &v) in r.iter_mut().zip(luma).zip(cr) {
                *o = ((i32::from(l) * 16384 + 8191 + (i32::from(v) - 128) * 22970) >> 14).clamp(0, 255) as u8;
            }
            if !colour {
                continue;
            }
            let [g, b] = &mut scratch.green_blue;
            let out = &mut self.pixels[(gy * w + px0) * 3..(gy * w + px1) * 3];
            let cbv = per_pixel(0);
            for (((o, &l), &u), &v) in g.iter_mut().zip(luma).zip(cbv).zip(cr) {
                let (u, v) = (i32::from(u) - 128, i32::from(v) - 128);
                *o = ((i32::from(l) * 16384 + 8191 - v * 11700 - u * 5638) >> 14).clamp(0, 255) as u8;
            }
            for ((o, &l), &u) in b.iter_mut().zip(luma).zip(cbv) {
                *o = ((i32::from(l) * 16384 + 8191 + (i32::from(u) - 128) * 29032) >> 14).clamp(0, 255) as u8;
            }
            for (((px, &rv), &gv), &bv) in out.chunks_exact_mut(3).zip(r.iter()).zip(g.iter()).zip(b.iter()) {
                px[0] = rv;
                px[1] = gv;
                px[2] = bv;
            }
        }
    }
}
