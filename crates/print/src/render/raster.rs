//! Paints a [`PageDrawing`] into an RGB image at a given resolution.
//!
//! Used by the scan simulator and by tests; the printer path is [`super::pdf`]. Rectangles are
//! sampled at pixel centres (exact to half a pixel, which is all a 300 dpi scanner resolves),
//! text is anti-aliased by ab_glyph's coverage rasteriser.

use super::{fonts, Align, DrawOp, FontKind, PageDrawing, Rgb};
use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use formscan::geometry::{Point, Rect};
use image::{Rgb as Px, RgbImage};
use std::sync::OnceLock;

/// ab_glyph's `PxScale` is the font's ascent-to-descent height, not its em: convert so that
/// `size` means the em size, as in the PDF writer (ISO 32000-1 §9.2.2, text space = em units).
fn em_scale(f: &FontRef<'static>, em_px: f32) -> PxScale {
    let upm = f.units_per_em().unwrap_or(1000.0);
    PxScale::from(em_px * f.height_unscaled() / upm)
}

fn font(kind: FontKind) -> &'static FontRef<'static> {
    static PRINT: OnceLock<FontRef<'static>> = OnceLock::new();
    static HAND: OnceLock<FontRef<'static>> = OnceLock::new();
    static HAND_SETO: OnceLock<FontRef<'static>> = OnceLock::new();
    let cell = match kind {
        FontKind::Print => &PRINT,
        FontKind::Hand => &HAND,
        FontKind::HandSeto => &HAND_SETO,
    };
    cell.get_or_init(|| FontRef::try_from_slice(fonts::font_bytes(kind)).expect("bundled font parses"))
}

/// A page image with its scale, for painting in millimetres.
#[derive(Clone)]
pub struct Canvas {
    /// The pixels.
    pub image: RgbImage,
    /// Pixels per millimetre.
    pub px_per_mm: f64,
}

impl Canvas {
    /// A white page of `w × h` mm at `dpi`.
    pub fn new(w_mm: f64, h_mm: f64, dpi: f64) -> Canvas {
        let px_per_mm = dpi / 25.4;
        let w = (w_mm * px_per_mm).round().max(1.0) as u32;
        let h = (h_mm * px_per_mm).round().max(1.0) as u32;
        Canvas { image: RgbImage::from_pixel(w, h, Px([255, 255, 255])), px_per_mm }
    }

    /// Blends `color` into pixel `(x, y)` with opacity `alpha` (0–1); outside pixels are ignored.
    #[inline]
    pub fn blend(&mut self, x: i64, y: i64, color: Rgb, alpha: f32) {
        if x < 0 || y < 0 || x >= self.image.width() as i64 || y >= self.image.height() as i64 || alpha <= 0.0 {
            return;
        }
        let a = alpha.min(1.0);
        let p = self.image.get_pixel_mut(x as u32, y as u32);
        for (v, c) in p.0.iter_mut().zip([color.0, color.1, color.2]) {
            *v = (*v as f32 * (1.0 - a) + c as f32 * a).round() as u8;
        }
    }

    /// Multiplies pixel `(x, y)` by `color` at opacity `alpha` — how ink darkens paper.
    #[inline]
    pub fn ink(&mut self, x: i64, y: i64, color: Rgb, alpha: f32) {
        if x < 0 || y < 0 || x >= self.image.width() as i64 || y >= self.image.height() as i64 || alpha <= 0.0 {
            return;
        }
        let a = alpha.min(1.0);
        let p = self.image.get_pixel_mut(x as u32, y as u32);
        for (v, c) in p.0.iter_mut().zip([color.0, color.1, color.2]) {
            let dark = *v as f32 * c as f32 / 255.0;
            *v = (*v as f32 * (1.0 - a) + dark * a).round() as u8;
        }
    }

    /// Fills a rectangle given in mm.
    pub fn fill_rect(&mut self, r: Rect, color: Rgb) {
        let s = self.px_per_mm;
        let x0 = (r.x * s - 0.5).ceil().max(0.0) as i64;
        let y0 = (r.y * s - 0.5).ceil().max(0.0) as i64;
        let x1 = ((r.right() * s - 0.5).floor() as i64).min(self.image.width() as i64 - 1);
        let y1 = ((r.bottom() * s - 0.5).floor() as i64).min(self.image.height() as i64 - 1);
        for y in y0..=y1 {
            for x in x0..=x1 {
                self.image.put_pixel(x as u32, y as u32, Px([color.0, color.1, color.2]));
            }
        }
    }

    /// Draws a line of width `w` mm, anti-aliased by distance to the segment.
    pub fn line(&mut self, a: Point, b: Point, color: Rgb, w: f64) {
        let s = self.px_per_mm;
        let (ax, ay, bx, by) = (a.x * s, a.y * s, b.x * s, b.y * s);
        let half = (w * s / 2.0).max(0.5);
        let x0 = (ax.min(bx) - half - 1.0).floor() as i64;
        let x1 = (ax.max(bx) + half + 1.0).ceil() as i64;
        let y0 = (ay.min(by) - half - 1.0).floor() as i64;
        let y1 = (ay.max(by) + half + 1.0).ceil() as i64;
        let (dx, dy) = (bx - ax, by - ay);
        let len2 = (dx * dx + dy * dy).max(1e-9);
        for y in y0..=y1 {
            for x in x0..=x1 {
                let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
                let t = (((px - ax) * dx + (py - ay) * dy) / len2).clamp(0.0, 1.0);
                let d = ((px - ax - t * dx).powi(2) + (py - ay - t * dy).powi(2)).sqrt();
                let cov = (half + 0.5 - d).clamp(0.0, 1.0);
                self.blend(x, y, color, cov as f32);
            }
        }
    }

    /// Advance width of `text` in mm at em size `size` mm.
    pub fn text_width(text: &str, size: f64, kind: FontKind) -> f64 {
        let f = font(kind);
        let scaled = f.as_scaled(em_scale(f, size as f32));
        text.chars().map(|c| scaled.h_advance(f.glyph_id(c)) as f64).sum()
    }

    #[allow(clippy::too_many_arguments)] // one call site per use; a builder would add nothing
    /// Draws `text` with its baseline anchored at `at` (mm). With `ink` the glyphs darken the
    /// page multiplicatively, as pen ink does; otherwise they are painted over it.
    pub fn text(&mut self, at: Point, size: f64, text: &str, color: Rgb, align: Align, kind: FontKind, ink: bool) {
        let f = font(kind);
        let s = self.px_per_mm;
        let scale = em_scale(f, (size * s) as f32);
        let scaled = f.as_scaled(scale);
        let mut x = at.x * s;
        if align == Align::Center {
            x -= Self::text_width(text, size, kind) * s / 2.0;
        }
        let y = at.y * s;
        for c in text.chars() {
            let id = f.glyph_id(c);
            let g = id.with_scale_and_position(scale, ab_glyph::point(x as f32, y as f32));
            if let Some(out) = f.outline_glyph(g) {
                let bb = out.px_bounds();
                out.draw(|gx, gy, cov| {
                    let (xx, yy) = (bb.min.x as i64 + gx as i64, bb.min.y as i64 + gy as i64);
                    if ink {
                        self.ink(xx, yy, color, cov);
                    } else {
                        self.blend(xx, yy, color, cov);
                    }
                });
            }
            x += scaled.h_advance(id) as f64;
        }
    }
}

/// Renders `page` on a white `w × h` mm page at `dpi`.
pub fn render(page: &PageDrawing, w_mm: f64, h_mm: f64, dpi: f64) -> Canvas {
    let mut c = Canvas::new(w_mm, h_mm, dpi);
    for op in &page.ops {
        match op {
            DrawOp::FillRect { rect, color } => c.fill_rect(*rect, *color),
            DrawOp::StrokeRect { rect, color, width } => {
                let k = rect.corners();
                for i in 0..4 {
                    c.line(k[i], k[(i + 1) % 4], *color, *width);
                }
            }
            DrawOp::Line { from, to, color, width } => c.line(*from, *to, *color, *width),
            DrawOp::Text { at, size, text, color, align, font } => {
                c.text(*at, *size, text, *color, *align, *font, false)
            }
            DrawOp::Image { rect, image } => {
                if let Ok(img) = image::load_from_memory_with_format(&image.data, image::ImageFormat::Jpeg) {
                    let s = c.px_per_mm;
                    let (w, h) = ((rect.w * s).round().max(1.0) as u32, (rect.h * s).round().max(1.0) as u32);
                    let img = img.resize_exact(w, h, image::imageops::FilterType::Triangle).to_rgb8();
                    let (x0, y0) = ((rect.x * s).round() as i64, (rect.y * s).round() as i64);
                    for (x, y, p) in img.enumerate_pixels() {
                        c.blend(x0 + x as i64, y0 + y as i64, Rgb(p.0[0], p.0[1], p.0[2]), 1.0);
                    }
                }
            }
            DrawOp::Modules { rect, grid } => {
                let m = rect.w / grid.size as f64;
                for my in 0..grid.size {
                    for mx in 0..grid.size {
                        if grid.dark[my * grid.size + mx] {
                            let r = Rect::new(rect.x + mx as f64 * m, rect.y + my as f64 * m, m, m);
                            c.fill_rect(r, Rgb::BLACK);
                        }
                    }
                }
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filled_rect_lands_on_its_pixels() {
        let mut page = PageDrawing::default();
        page.push(DrawOp::FillRect { rect: Rect::new(10.0, 10.0, 5.0, 5.0), color: Rgb::BLACK });
        let c = render(&page, 30.0, 30.0, 254.0); // 10 px/mm
        assert_eq!(c.image.get_pixel(100, 100).0, [0, 0, 0]);
        assert_eq!(c.image.get_pixel(149, 149).0, [0, 0, 0]);
        assert_eq!(c.image.get_pixel(150, 150).0, [255, 255, 255]);
        assert_eq!(c.image.get_pixel(99, 120).0, [255, 255, 255]);
    }

    #[test]
    fn chinese_text_leaves_ink() {
        let mut c = Canvas::new(40.0, 20.0, 300.0);
        c.text(Point::new(2.0, 12.0), 6.0, "姓名", Rgb::BLACK, Align::Left, FontKind::Print, false);
        let dark = c.image.pixels().filter(|p| p.0[0] < 128).count();
        assert!(dark > 500, "only {dark} dark pixels");
        assert!(Canvas::text_width("姓名", 6.0, FontKind::Print) > 11.0);
    }
}
