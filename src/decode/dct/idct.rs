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
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has AVX2, checked just above.
        return unsafe { avx2::transform(&f, out) };
    }
    transform(&f, out);
}

/// The transform of the coefficient rows `f` into `out`, portable.
#[inline(always)]
fn transform(f: &[[i32; 8]; 8], out: &mut [u8; 64]) {
    // Columns: the 1-D transform down each column, all eight at once.
    let mut cols = [[0i32; 8]; 8];
    pass(f, 512, 10, &mut cols);
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

/// The same transform with the eight lanes in AVX2 registers: both passes, the two
/// transposes and the clamp without leaving them (the portable code went through the stack
/// for every step, and the transform is most of a page's pixel making: six blocks in seven
/// hold more than their DC on the demo scans).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// [`super::pass`] on registers: `v[k]` holds input `k` of eight transforms.
    #[inline(always)]
    unsafe fn pass(v: [__m256i; 8], bias: i32, shift: i32) -> [__m256i; 8] {
        let c = |k: i32| _mm256_set1_epi32(k);
        let (add, sub, mul) = (_mm256_add_epi32, _mm256_sub_epi32, _mm256_mullo_epi32);
        let sra = |a: __m256i| _mm256_sra_epi32(a, _mm_cvtsi32_si128(shift));
        // Even part.
        let p1 = mul(add(v[2], v[6]), c(2217));
        let t2 = add(p1, mul(v[6], c(-7567)));
        let t3 = add(p1, mul(v[2], c(3135)));
        let t0 = _mm256_slli_epi32::<12>(add(v[0], v[4]));
        let t1 = _mm256_slli_epi32::<12>(sub(v[0], v[4]));
        let b = c(bias);
        let x0 = add(add(t0, t3), b);
        let x3 = add(sub(t0, t3), b);
        let x1 = add(add(t1, t2), b);
        let x2 = add(sub(t1, t2), b);
        // Odd part.
        let (o0, o1, o2, o3) = (v[7], v[5], v[3], v[1]);
        let q3 = add(o0, o2);
        let q4 = add(o1, o3);
        let p5 = mul(add(q3, q4), c(4816));
        let q1 = add(p5, mul(add(o0, o3), c(-3685)));
        let q2 = add(p5, mul(add(o1, o2), c(-10497)));
        let q3 = mul(q3, c(-8034));
        let q4 = mul(q4, c(-1597));
        let s3 = add(mul(o3, c(6149)), add(q1, q4));
        let s2 = add(mul(o2, c(12586)), add(q2, q3));
        let s1 = add(mul(o1, c(8410)), add(q2, q4));
        let s0 = add(mul(o0, c(1223)), add(q1, q3));
        [
            sra(add(x0, s3)),
            sra(add(x1, s2)),
            sra(add(x2, s1)),
            sra(add(x3, s0)),
            sra(sub(x3, s0)),
            sra(sub(x2, s1)),
            sra(sub(x1, s2)),
            sra(sub(x0, s3)),
        ]
    }

    /// The 8 × 8 transpose of 32-bit lanes.
    #[inline(always)]
    unsafe fn transpose(r: [__m256i; 8]) -> [__m256i; 8] {
        let t0 = _mm256_unpacklo_epi32(r[0], r[1]);
        let t1 = _mm256_unpackhi_epi32(r[0], r[1]);
        let t2 = _mm256_unpacklo_epi32(r[2], r[3]);
        let t3 = _mm256_unpackhi_epi32(r[2], r[3]);
        let t4 = _mm256_unpacklo_epi32(r[4], r[5]);
        let t5 = _mm256_unpackhi_epi32(r[4], r[5]);
        let t6 = _mm256_unpacklo_epi32(r[6], r[7]);
        let t7 = _mm256_unpackhi_epi32(r[6], r[7]);
        let u0 = _mm256_unpacklo_epi64(t0, t2);
        let u1 = _mm256_unpackhi_epi64(t0, t2);
        let u2 = _mm256_unpacklo_epi64(t1, t3);
        let u3 = _mm256_unpackhi_epi64(t1, t3);
        let u4 = _mm256_unpacklo_epi64(t4, t6);
        let u5 = _mm256_unpackhi_epi64(t4, t6);
        let u6 = _mm256_unpacklo_epi64(t5, t7);
        let u7 = _mm256_unpackhi_epi64(t5, t7);
        [
            _mm256_permute2x128_si256::<0x20>(u0, u4),
            _mm256_permute2x128_si256::<0x20>(u1, u5),
            _mm256_permute2x128_si256::<0x20>(u2, u6),
            _mm256_permute2x128_si256::<0x20>(u3, u7),
            _mm256_permute2x128_si256::<0x31>(u0, u4),
            _mm256_permute2x128_si256::<0x31>(u1, u5),
            _mm256_permute2x128_si256::<0x31>(u2, u6),
            _mm256_permute2x128_si256::<0x31>(u3, u7),
        ]
    }

    /// [`super::idct_block`]'s transform of the coefficient rows `f` into `out`.
    ///
    /// # Safety
    /// The processor must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn transform(f: &[[i32; 8]; 8], out: &mut [u8; 64]) {
        let rows = f.map(|r| _mm256_loadu_si256(r.as_ptr().cast()));
        let cols = pass(rows, 512, 10);
        let samples = transpose(pass(transpose(cols), 512 + 65536 + (128 << 17), 17));
        // Saturating packs clamp to 0..=255 as the portable code does: to i16 first (anything
        // past i16 is past the byte range too), then to u8; the packs interleave 128-bit
        // halves, which the permutation puts back in row order.
        let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        for (half, chunk) in out.chunks_exact_mut(32).enumerate() {
            let r = &samples[half * 4..half * 4 + 4];
            let words = (_mm256_packs_epi32(r[0], r[1]), _mm256_packs_epi32(r[2], r[3]));
            let bytes = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(words.0, words.1), order);
            _mm256_storeu_si256(chunk.as_mut_ptr().cast(), bytes);
        }
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

    /// The AVX2 transform gives the portable one's bytes, on dense blocks of any size
    /// (wrapping and clamping included).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_transform_is_the_portable_one() {
        if !std::is_x86_feature_detected!("avx2") {
            return;
        }
        let mut seed = 11u64;
        for round in 0..2000 {
            let mut f = [[0i32; 8]; 8];
            let range = [64, 2048, 1 << 20, i32::MAX][round % 4];
            for v in f.iter_mut().flatten() {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                *v = ((seed >> 33) as i64 % (2 * range as i64 + 1) - range as i64) as i32;
            }
            let (mut want, mut got) = ([0u8; 64], [0u8; 64]);
            transform(&f, &mut want);
            // SAFETY: AVX2 checked above.
            unsafe { avx2::transform(&f, &mut got) };
            assert_eq!(got, want, "round {round}");
        }
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
