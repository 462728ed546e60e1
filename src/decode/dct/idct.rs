//! Inverse DCT of sparse blocks, and block means straight from the coefficients.
//!
//! A scan's blocks are mostly paper: after quantisation a block holds a handful of nonzero
//! coefficients (the DC and a few low frequencies), so the 8×8 inverse DCT (T.81, A.3.3) is
//! computed as a sum of basis images, one per nonzero coefficient: 64 multiply-adds each, in
//! a loop the compiler vectorises. Dense blocks (a photo) go through the separable row–column
//! form instead, 2 × 8 × 64 multiply-adds whatever their content.
//!
//! **Block means.** The mean of an `n`×`n` cell of a block's pixels is linear in the
//! coefficients: `mean = Σ F(u,v)·A_n[u][i]·A_n[v][j] + 128`, where `A_n[u][i]` is the mean of
//! the 1-D basis `C(u)/2·cos((2x+1)uπ/16)` over the cell's `n` columns. With `n` = 8 that is
//! the DC term alone; with `n` = 4 it is what libjpeg-turbo's 2×2 scaled IDCT approximates,
//! here exactly. Registration reads the page at a quarter of its resolution, and gets it this
//! way without an inverse DCT: the box-filtered picture of a full decode, up to rounding.

use std::sync::OnceLock;

/// `basis()[k]`: the 8×8 pixel image (row-major) of coefficient `k` (natural order) with value
/// 1, i.e. `C(u)C(v)/4·cos((2x+1)uπ/16)·cos((2y+1)vπ/16)` for `k = 8v + u`.
fn basis() -> &'static [[f32; 64]; 64] {
    static BASIS: OnceLock<Box<[[f32; 64]; 64]>> = OnceLock::new();
    BASIS.get_or_init(|| {
        let mut b = Box::new([[0f32; 64]; 64]);
        let c1 = cosines();
        for k in 0..64 {
            let (u, v) = (k % 8, k / 8);
            for p in 0..64 {
                let (x, y) = (p % 8, p / 8);
                b[k][p] = (c1[u][x] * c1[v][y]) as f32;
            }
        }
        b
    })
}

/// `cosines()[u][x] = C(u)/2·cos((2x+1)uπ/16)` with `C(0) = 1/√2`, `C(u) = 1` otherwise: the
/// 1-D DCT basis, so that the 2-D one is the product of two.
fn cosines() -> [[f64; 8]; 8] {
    let mut c = [[0f64; 8]; 8];
    for (u, row) in c.iter_mut().enumerate() {
        let cu = if u == 0 { std::f64::consts::FRAC_1_SQRT_2 } else { 1.0 };
        for (x, v) in row.iter_mut().enumerate() {
            *v = cu / 2.0 * ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos();
        }
    }
    c
}

/// `cell_means(n)[u][i]`: the mean of the 1-D basis of frequency `u` over cell `i` of `n`
/// pixels, for `n` = 1, 2, 4 or 8 (tables computed once).
pub(super) fn cell_means(n: usize) -> &'static [[f32; 8]; 8] {
    static TABLES: OnceLock<[[[f32; 8]; 8]; 4]> = OnceLock::new();
    let tables = TABLES.get_or_init(|| [1, 2, 4, 8].map(cell_means_of));
    &tables[n.trailing_zeros() as usize]
}

fn cell_means_of(n: usize) -> [[f32; 8]; 8] {
    let c = cosines();
    let mut m = [[0f32; 8]; 8];
    for (row, cu) in m.iter_mut().zip(&c) {
        for (i, cell) in row.iter_mut().take(8 / n).enumerate() {
            *cell = (cu[i * n..(i + 1) * n].iter().sum::<f64>() / n as f64) as f32;
        }
    }
    m
}

/// Unpacks a coefficient word (`value << 6 | natural index`, see [`super::DctPage`]).
#[inline(always)]
pub(super) fn unpack(e: u32) -> (f32, usize) {
    (((e as i32) >> 6) as f32, (e & 63) as usize)
}

/// Coefficients above which a block goes through the separable transform.
const SPARSE_MAX: usize = 14;

/// Inverse DCT of one block's coefficients to 8×8 samples (level-shifted, rounded, clamped).
#[inline(always)]
pub(super) fn idct_block(coefs: &[u32], out: &mut [u8; 64]) {
    // Paper: the DC alone (or nothing), a flat block of DC/8 (C(0)² / 4 = 1/8).
    match coefs {
        [] => return out.fill(128),
        [e] if e & 63 == 0 => return out.fill((unpack(*e).0 / 8.0 + 128.5).clamp(0.0, 255.0) as u8),
        _ => {}
    }
    let mut acc = [0f32; 64];
    if coefs.len() <= SPARSE_MAX {
        let b = basis();
        for &e in coefs {
            let (value, k) = unpack(e);
            for (a, &w) in acc.iter_mut().zip(b[k].iter()) {
                *a += value * w;
            }
        }
    } else {
        separable(coefs, &mut acc);
    }
    for (o, a) in out.iter_mut().zip(acc.iter()) {
        *o = (a + 128.5).clamp(0.0, 255.0) as u8;
    }
}

/// The row–column inverse DCT: rows first (each row of coefficients to 8 values), then columns.
#[inline(always)]
fn separable(coefs: &[u32], out: &mut [f32; 64]) {
    static TABLE: OnceLock<[[f32; 8]; 8]> = OnceLock::new();
    let t = TABLE.get_or_init(|| cosines().map(|r| r.map(|v| v as f32)));
    let mut f = [0f32; 64];
    for &e in coefs {
        let (value, k) = unpack(e);
        f[k] = value;
    }
    // Rows: tmp[v][x] = Σ_u F[v][u]·c[u][x].
    let mut tmp = [0f32; 64];
    for v in 0..8 {
        let row = &f[v * 8..v * 8 + 8];
        let t_row = &mut tmp[v * 8..v * 8 + 8];
        for (u, &fu) in row.iter().enumerate() {
            if fu != 0.0 {
                for x in 0..8 {
                    t_row[x] += fu * t[u][x];
                }
            }
        }
    }
    // Columns: out[y][x] = Σ_v tmp[v][x]·c[v][y].
    for y in 0..8 {
        let o = &mut out[y * 8..y * 8 + 8];
        for v in 0..8 {
            let w = t[v][y];
            for x in 0..8 {
                o[x] += tmp[v * 8 + x] * w;
            }
        }
    }
}

/// Means of the `cells`×`cells` cells of a block (cell side `8 / cells` pixels), from its
/// coefficients, without the +128 level shift; `m` is [`cell_means`] of the cell side.
#[inline]
pub(super) fn block_means(coefs: &[u32], m: &[[f32; 8]; 8], cells: usize, out: &mut [f32; 64]) {
    if let [e] = coefs {
        if e & 63 == 0 {
            return out[..cells * cells].fill(unpack(*e).0 / 8.0);
        }
    }
    // The usual sizes with the cell count known to the compiler: unrolled, no branches.
    match cells {
        1 => means_of::<1>(coefs, m, out),
        2 => means_of::<2>(coefs, m, out),
        4 => means_of::<4>(coefs, m, out),
        _ => means_of::<8>(coefs, m, out),
    }
}

fn means_of<const C: usize>(coefs: &[u32], m: &[[f32; 8]; 8], out: &mut [f32; 64]) {
    let mut acc = [[0f32; C]; C];
    for &e in coefs {
        let (value, k) = unpack(e);
        let (mu, mv) = (&m[k % 8], &m[k / 8]);
        for (j, row) in acc.iter_mut().enumerate() {
            let wv = value * mv[j];
            for (i, a) in row.iter_mut().enumerate() {
                *a += wv * mu[i];
            }
        }
    }
    for (j, row) in acc.iter().enumerate() {
        out[j * C..(j + 1) * C].copy_from_slice(row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(value: i32, k: usize) -> u32 {
        ((value << 6) as u32) | k as u32
    }

    /// The direct 2-D sum of T.81 A.3.3, for comparison.
    fn reference(coefs: &[(i32, usize)]) -> [f64; 64] {
        let c = cosines();
        let mut out = [128f64; 64];
        for &(value, k) in coefs {
            for p in 0..64 {
                out[p] += value as f64 * c[k % 8][p % 8] * c[k / 8][p / 8];
            }
        }
        out
    }

    #[test]
    fn sparse_and_separable_transforms_match_the_definition() {
        let mut seed = 7u32;
        for n in [1usize, 5, 14, 15, 40, 64] {
            let mut coefs = Vec::new();
            for k in 0..n {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let value = ((seed >> 16) % 61) as i32 - 30;
                coefs.push((value * if k == 0 { 8 } else { 2 }, (k * 37) % 64));
            }
            coefs.sort_by_key(|c| c.1);
            coefs.dedup_by_key(|c| c.1);
            let packed: Vec<u32> = coefs.iter().map(|&(v, k)| pack(v, k)).collect();
            let mut out = [0u8; 64];
            idct_block(&packed, &mut out);
            let want = reference(&coefs);
            for p in 0..64 {
                let w = want[p].round().clamp(0.0, 255.0);
                assert!((out[p] as f64 - w).abs() <= 1.0, "{n} coefficients, pixel {p}: {} vs {w}", out[p]);
            }
        }
    }

    #[test]
    fn cell_means_equal_the_mean_of_the_pixels() {
        let coefs = [(80, 0usize), (-33, 1), (21, 8), (12, 9), (-9, 18), (7, 63)];
        let packed: Vec<u32> = coefs.iter().map(|&(v, k)| pack(v, k)).collect();
        let full = reference(&coefs);
        for side in [2usize, 4, 8] {
            let cells = 8 / side;
            let mut out = [0f32; 64];
            block_means(&packed, cell_means(side), cells, &mut out);
            for j in 0..cells {
                for i in 0..cells {
                    let mut sum = 0.0;
                    for y in j * side..(j + 1) * side {
                        for x in i * side..(i + 1) * side {
                            sum += full[y * 8 + x];
                        }
                    }
                    let mean = sum / (side * side) as f64;
                    assert!((out[j * cells + i] as f64 + 128.0 - mean).abs() < 1e-3, "side {side} cell ({i}, {j})");
                }
            }
        }
    }
}
