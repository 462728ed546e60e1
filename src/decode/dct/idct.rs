//! Inverse DCT of blocks.
//!
//! A scan's blocks are mostly paper: after quantisation a block holds the DC alone or nothing,
//! and is then a flat block without any transform. Other blocks go through the integer
//! row–column transform that zune-jpeg (the ordinary decoder) uses, so the pixels decoded here
//! are the ordinary decoder's to the last bit.

/// Inverse DCT of one block's coefficients to 8×8 samples (level-shifted, rounded, clamped).
///
/// The integer row–column transform of the IJG's `jidctint.c` (Loeffler, Ligtenberg and
/// Moschytz, "Practical fast 1-D DCT algorithms with 11 multiplications", ICASSP 1989; 12-bit
/// constants) with the scaling and rounding of zune-jpeg's (which is stb_image's): the
/// columns kept at 2 bits more than the samples, the rows rounded once. These are the very
/// integers the ordinary decoder computes, so a pixel decoded here equals its pixel there,
/// whatever the block holds. Wrapping arithmetic, as there: a hostile block gives garbage,
/// not a panic.
#[inline(always)]
pub(super) fn idct_block(coefs: &[u32], out: &mut [u8; 64]) {
    // Paper: the DC alone (or nothing) is a flat block; (DC + 4 + 1024) >> 3 is what both
    // passes give when every AC coefficient is zero.
    match coefs {
        [] => return out.fill(128),
        [e] if e & 63 == 0 => {
            let dc = (*e as i32) >> 6;
            return out.fill((dc.wrapping_add(1028) >> 3).clamp(0, 255) as u8);
        }
        _ => {}
    }
    // Rows of coefficients, each a vector over the eight columns.
    let mut f = [[0i32; 8]; 8];
    for &e in coefs {
        let k = (e & 63) as usize;
        f[k / 8][k % 8] = (e as i32) >> 6;
    }
    // Columns: the 1-D transform down each column, all eight at once.
    let mut cols = [[0i32; 8]; 8];
    pass(&f, 512, 10, &mut cols);
    // Rows: the same transform across each row, on the transposed matrix.
    let rows_in = transpose(&cols);
    let mut rows = [[0i32; 8]; 8];
    pass(&rows_in, 512 + 65536 + (128 << 17), 17, &mut rows);
    // `rows[x][y]` is the sample at column x of row y.
    for (y, line) in out.chunks_exact_mut(8).enumerate() {
        for (x, o) in line.iter_mut().enumerate() {
            *o = rows[x][y].clamp(0, 255) as u8;
        }
    }
}

/// One 1-D inverse DCT applied lane by lane: `v[k]` holds input `k` of eight independent
/// transforms, `out[k]` gets their output `k`, each `(sum + bias) >> shift`.
#[inline(always)]
fn pass(v: &[[i32; 8]; 8], bias: i32, shift: u32, out: &mut [[i32; 8]; 8]) {
    for l in 0..8 {
        let (wa, ws, wm) = (i32::wrapping_add, i32::wrapping_sub, i32::wrapping_mul);
        // Even part.
        let (p2, p3) = (v[2][l], v[6][l]);
        let p1 = wm(wa(p2, p3), 2217);
        let t2 = wa(p1, wm(p3, -7567));
        let t3 = wa(p1, wm(p2, 3135));
        let t0 = wa(v[0][l], v[4][l]) << 12;
        let t1 = ws(v[0][l], v[4][l]) << 12;
        let x0 = wa(wa(t0, t3), bias);
        let x3 = wa(ws(t0, t3), bias);
        let x1 = wa(wa(t1, t2), bias);
        let x2 = wa(ws(t1, t2), bias);
        // Odd part.
        let (o0, o1, o2, o3) = (v[7][l], v[5][l], v[3][l], v[1][l]);
        let q3 = wa(o0, o2);
        let q4 = wa(o1, o3);
        let q1 = wa(o0, o3);
        let q2 = wa(o1, o2);
        let p5 = wm(wa(q3, q4), 4816);
        let q1 = wa(p5, wm(q1, -3685));
        let q2 = wa(p5, wm(q2, -10497));
        let q3 = wm(q3, -8034);
        let q4 = wm(q4, -1597);
        let s3 = wa(wm(o3, 6149), wa(q1, q4));
        let s2 = wa(wm(o2, 12586), wa(q2, q3));
        let s1 = wa(wm(o1, 8410), wa(q2, q4));
        let s0 = wa(wm(o0, 1223), wa(q1, q3));
        out[0][l] = wa(x0, s3) >> shift;
        out[1][l] = wa(x1, s2) >> shift;
        out[2][l] = wa(x2, s1) >> shift;
        out[3][l] = wa(x3, s0) >> shift;
        out[4][l] = ws(x3, s0) >> shift;
        out[5][l] = ws(x2, s1) >> shift;
        out[6][l] = ws(x1, s2) >> shift;
        out[7][l] = ws(x0, s3) >> shift;
    }
}

#[inline(always)]
fn transpose(m: &[[i32; 8]; 8]) -> [[i32; 8]; 8] {
    let mut t = [[0i32; 8]; 8];
    for (i, row) in m.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            t[j][i] = v;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_integer_transform_is_within_one_level_of_the_definition() {
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
}
