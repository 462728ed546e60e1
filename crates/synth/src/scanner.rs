//! Scanner effects: the page is warped by a random feed transform (skew, scale drift, offset,
//! a little keystone, sometimes upside down), then blurred, unevenly lit, given sensor noise
//! and JPEG-compressed, as sheet-fed office scanners do.

use formscan::geometry::{Homography, Point};
use image::{ImageEncoder, Rgb, RgbImage};
use rand::{Rng, SeedableRng};

/// How hard the simulated scanner is on the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Degrade {
    /// A perfect scan: no transform, no noise, JPEG quality 92.
    None,
    /// A good office scanner: ±1° skew, ±2 mm offset, light blur and noise, JPEG 75–90.
    Mild,
    /// A tired sheet feeder: ±3° skew, ±1.5 % scale, ±4 mm offset, keystone, one page in five
    /// upside down, blur, noise, uneven light, JPEG 60–80.
    Harsh,
}

impl std::str::FromStr for Degrade {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Degrade::None),
            "mild" => Ok(Degrade::Mild),
            "harsh" => Ok(Degrade::Harsh),
            o => Err(format!("degrade level `{o}` is not none, mild or harsh")),
        }
    }
}

/// The random parameters of one scan.
#[derive(Debug, Clone)]
pub struct ScanEffects {
    /// Clean page pixels → scan pixels.
    pub feed: Homography,
    /// Fed upside down.
    pub upside_down: bool,
    /// Gaussian blur sigma, px (0 = none).
    pub blur: f32,
    /// Noise amplitude (grey levels).
    pub noise: f32,
    /// Darkest lighting factor at the far corner (1 = even).
    pub light_min: f32,
    /// JPEG quality.
    pub quality: u8,
    /// Paper colour as a per-channel factor: (1, 1, 1) for white paper, a yellow cast for
    /// aged or recycled paper (blue and green reflect less), which multiplies everything on it.
    pub paper: [f32; 3],
}

struct Levels {
    rot: f64,
    scale: f64,
    off: f64,
    persp: f64,
    upside: f64,
    blur: (f32, f32),
    noise: f32,
    light: f32,
    q: (u8, u8),
}

/// Draws the effects for a page of `w × h` px.
pub fn effects<R: Rng>(rng: &mut R, level: Degrade, w: f64, h: f64, px_per_mm: f64) -> ScanEffects {
    // Ranges per level: skew °, scale ±, offset mm, keystone mm, upside-down share, blur σ px,
    // noise amplitude, darkest light factor, JPEG quality.
    let l = match level {
        Degrade::None => Levels {
            rot: 0.0,
            scale: 0.0,
            off: 0.0,
            persp: 0.0,
            upside: 0.0,
            blur: (0.0, 0.0),
            noise: 0.0,
            light: 1.0,
            q: (92, 92),
        },
        Degrade::Mild => Levels {
            rot: 1.0,
            scale: 0.005,
            off: 2.0,
            persp: 0.0,
            upside: 0.1,
            blur: (0.3, 0.6),
            noise: 3.0,
            light: 0.92,
            q: (75, 90),
        },
        Degrade::Harsh => Levels {
            rot: 3.0,
            scale: 0.015,
            off: 4.0,
            persp: 1.0,
            upside: 0.2,
            blur: (0.5, 1.1),
            noise: 7.0,
            light: 0.78,
            q: (60, 80),
        },
    };
    let Levels { rot, scale, off, persp, upside, blur, noise, light, q } = l;
    let upside_down = upside > 0.0 && rng.gen_bool(upside);
    let mut a = if rot > 0.0 { rng.gen_range(-rot..rot) } else { 0.0 }.to_radians();
    if upside_down {
        a += std::f64::consts::PI;
    }
    let s = 1.0 + if scale > 0.0 { rng.gen_range(-scale..scale) } else { 0.0 };
    let (ox, oy) = if off > 0.0 {
        (rng.gen_range(-off..off) * px_per_mm, rng.gen_range(-off..off) * px_per_mm)
    } else {
        (0.0, 0.0)
    };
    // Rotate and scale about the page centre, then shift.
    let c = Point::new(w / 2.0, h / 2.0);
    let mut feed = Homography::scale_translate(1.0, c.x + ox, c.y + oy)
        .compose(&Homography::scale_translate(s, 0.0, 0.0))
        .compose(&Homography::rotation(a))
        .compose(&Homography::scale_translate(1.0, -c.x, -c.y));
    if persp > 0.0 {
        // Keystone: corners move by up to `persp` mm, as when a sheet enters the feeder askew.
        let k = persp * px_per_mm;
        let src = [Point::new(0.0, 0.0), Point::new(w, 0.0), Point::new(w, h), Point::new(0.0, h)];
        let dst: Vec<Point> = src
            .iter()
            .map(|&p| {
                let q = feed.apply(p);
                Point::new(q.x + rng.gen_range(-k..k), q.y + rng.gen_range(-k..k))
            })
            .collect();
        if let Some(f) = Homography::fit(&src, &dst) {
            feed = f;
        }
    }
    // Yellowed paper on one page in five (harsh) or twenty (mild), from a stream seeded by the
    // draws above so that they stay those of a simulator without it.
    let mut var = rand_chacha::ChaCha8Rng::seed_from_u64(a.to_bits() ^ s.to_bits().rotate_left(29) ^ 0x59454c);
    let yellow_share = match level {
        Degrade::None => 0.0,
        Degrade::Mild => 0.05,
        Degrade::Harsh => 0.2,
    };
    let paper = if yellow_share > 0.0 && var.gen_bool(yellow_share) {
        let k = var.gen_range(0.5..1.0f32);
        [1.0, 1.0 - 0.05 * k, 1.0 - 0.2 * k]
    } else {
        [1.0; 3]
    };
    ScanEffects {
        paper,
        feed,
        upside_down,
        blur: if blur.1 > 0.0 { rng.gen_range(blur.0..blur.1) } else { 0.0 },
        noise,
        light_min: if light < 1.0 { rng.gen_range(light..1.0) } else { 1.0 },
        quality: if q.0 < q.1 { rng.gen_range(q.0..=q.1) } else { q.0 },
    }
}

/// Applies `fx` to a clean page; returns the scan image (same size).
pub fn scan<R: Rng>(clean: &RgbImage, fx: &ScanEffects, rng: &mut R) -> RgbImage {
    let (w, h) = clean.dimensions();
    let inv = fx.feed.inverse().unwrap_or(Homography::IDENTITY);
    let mut out = RgbImage::new(w, h);
    let src = clean.as_raw();
    let stride = w as usize * 3;
    // Paper tint of the scanner's background where the sheet does not reach.
    let bed = [246u8, 246, 244];
    for y in 0..h {
        for x in 0..w {
            let p = inv.apply(Point::new(x as f64 + 0.5, y as f64 + 0.5));
            let (sx, sy) = (p.x - 0.5, p.y - 0.5);
            let px = if sx < 0.0 || sy < 0.0 || sx >= (w - 1) as f64 || sy >= (h - 1) as f64 {
                bed
            } else {
                let (x0, y0) = (sx as usize, sy as usize);
                let (fx_, fy) = ((sx - x0 as f64) as f32, (sy - y0 as f64) as f32);
                let i = y0 * stride + x0 * 3;
                let mut v = [0u8; 3];
                for (c, o) in v.iter_mut().enumerate() {
                    let a = src[i + c] as f32 * (1.0 - fx_) + src[i + 3 + c] as f32 * fx_;
                    let b = src[i + stride + c] as f32 * (1.0 - fx_) + src[i + stride + 3 + c] as f32 * fx_;
                    *o = (a * (1.0 - fy) + b * fy).round() as u8;
                }
                v
            };
            out.put_pixel(x, y, Rgb(px));
        }
    }
    if fx.blur > 0.05 {
        gaussian_blur(&mut out, fx.blur);
    }
    if fx.paper != [1.0; 3] {
        let raw: &mut [u8] = &mut out;
        for p in raw.chunks_exact_mut(3) {
            for (v, k) in p.iter_mut().zip(fx.paper) {
                *v = (*v as f32 * k).round() as u8;
            }
        }
    }
    if fx.noise > 0.0 || fx.light_min < 1.0 {
        // Light falls off linearly from a random corner to the opposite one.
        let (cx, cy) = (rng.gen_bool(0.5), rng.gen_bool(0.5));
        let raw: &mut [u8] = &mut out;
        let mut seed: u32 = rng.gen();
        for y in 0..h as usize {
            for x in 0..w as usize {
                let tx = if cx { x as f32 / w as f32 } else { 1.0 - x as f32 / w as f32 };
                let ty = if cy { y as f32 / h as f32 } else { 1.0 - y as f32 / h as f32 };
                let light = 1.0 - (1.0 - fx.light_min) * (tx + ty) / 2.0;
                // xorshift noise: a Gaussian is not needed, and this is ~10× faster.
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let n = ((seed & 0xffff) as f32 / 65535.0 + (seed >> 16) as f32 / 65535.0 - 1.0) * fx.noise;
                let i = (y * w as usize + x) * 3;
                for c in 0..3 {
                    raw[i + c] = (raw[i + c] as f32 * light + n).clamp(0.0, 255.0) as u8;
                }
            }
        }
    }
    out
}

/// Separable Gaussian blur in place (optics and sensor smear of a scanner).
fn gaussian_blur(img: &mut RgbImage, sigma: f32) {
    let r = (sigma * 3.0).ceil() as i64;
    let mut k: Vec<f32> = (-r..=r).map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp()).collect();
    let sum: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= sum);
    let (w, h) = (img.width() as i64, img.height() as i64);
    let mut tmp = vec![0f32; (w * h * 3) as usize];
    let raw: &mut [u8] = img;
    // Horizontal pass into `tmp`, vertical pass back into the image; edges are clamped.
    for y in 0..h {
        for x in 0..w {
            let mut acc = [0f32; 3];
            for (j, kv) in k.iter().enumerate() {
                let xx = (x + j as i64 - r).clamp(0, w - 1);
                let i = ((y * w + xx) * 3) as usize;
                for c in 0..3 {
                    acc[c] += raw[i + c] as f32 * kv;
                }
            }
            let o = ((y * w + x) * 3) as usize;
            tmp[o..o + 3].copy_from_slice(&acc);
        }
    }
    for y in 0..h {
        for x in 0..w {
            let mut acc = [0f32; 3];
            for (j, kv) in k.iter().enumerate() {
                let yy = (y + j as i64 - r).clamp(0, h - 1);
                let i = ((yy * w + x) * 3) as usize;
                for c in 0..3 {
                    acc[c] += tmp[i + c] * kv;
                }
            }
            let o = ((y * w + x) * 3) as usize;
            for c in 0..3 {
                raw[o + c] = acc[c].round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// How the simulated scanner writes its pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScanFormat {
    /// JPEG with 4:2:0 chroma subsampling (chroma at half resolution both ways), as office
    /// scanners, poppler's `pdftoppm -jpeg` and PIL write by default: the default, since it is
    /// what a reader meets (thin red lines lose their chroma in it).
    #[default]
    Jpeg420,
    /// JPEG with full-resolution chroma (4:4:4).
    Jpeg444,
    /// Lossless PNG.
    Png,
}

impl ScanFormat {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            ScanFormat::Jpeg420 | ScanFormat::Jpeg444 => "jpg",
            ScanFormat::Png => "png",
        }
    }
}

impl std::str::FromStr for ScanFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "jpeg" | "jpeg420" | "jpg" => Ok(ScanFormat::Jpeg420),
            "jpeg444" => Ok(ScanFormat::Jpeg444),
            "png" => Ok(ScanFormat::Png),
            o => Err(format!("scan format `{o}` is not jpeg420, jpeg444 or png")),
        }
    }
}

/// Encodes a scan in `format` (`quality` applies to JPEG).
pub fn encode(img: &RgbImage, format: ScanFormat, quality: u8) -> Vec<u8> {
    let sampling = match format {
        ScanFormat::Jpeg420 => jpeg_encoder::SamplingFactor::F_2_2,
        ScanFormat::Jpeg444 => jpeg_encoder::SamplingFactor::F_1_1,
        ScanFormat::Png => {
            let mut data = Vec::new();
            image::codecs::png::PngEncoder::new(&mut data)
                .write_image(img.as_raw(), img.width(), img.height(), image::ExtendedColorType::Rgb8)
                .expect("in-memory PNG encoding cannot fail");
            return data;
        }
    };
    let mut data = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut data, quality);
    enc.set_sampling_factor(sampling);
    // A page is at most 65,535 px a side in JPEG; simulated pages are a few thousand.
    enc.encode(img.as_raw(), img.width() as u16, img.height() as u16, jpeg_encoder::ColorType::Rgb)
        .expect("in-memory JPEG encoding of a page-sized image cannot fail");
    data
}
