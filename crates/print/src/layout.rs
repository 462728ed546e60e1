//! Lays out one personalised form page: template + roster person + page code → drawing.
//!
//! Everything the reader must ignore (box outlines, table rules, hints inside boxes) is drawn in
//! the drop-out red; everything it must see (registration marks, QR codes) is solid black.
//! Printed roster values are black too but lie outside every box the reader inspects.

use crate::render::{Align, DrawOp, FontKind, JpegImage, PageDrawing, Rgb};
use crate::roster::Person;
use formscan::barcode;
use formscan::geometry::{Point, Rect};
use formscan::payload::PagePayload;
use formscan::template::{FieldKind, Source, Template};

/// Outline width of boxes: 0.3 mm prints reliably on office lasers and stays thin enough that a
/// slightly misregistered crop does not catch much of it (and it drops out anyway).
const BOX_LINE_MM: f64 = 0.3;

pub use formscan::template::{photo_hint_area, PHOTO_HINT, PHOTO_HINT_SIZE};

/// One form page to print.
#[derive(Debug, Clone)]
pub struct FormPage<'a> {
    /// Whose form.
    pub person: &'a Person,
    /// The page code (print run, serial, page).
    pub payload: PagePayload,
    /// The photo to print in the photo box, if the roster has one.
    pub photo: Option<JpegImage>,
}

/// The text a printed field shows for `person`.
pub fn printed_value(source: Source, person: &Person, payload: &PagePayload) -> String {
    match source {
        Source::Name => person.name.clone(),
        Source::Sex => person
            .sex
            .map(|s| if s == formscan::domain::Sex::Male { "男" } else { "女" }.to_string())
            .unwrap_or_default(),
        Source::Ethnicity => person.ethnicity.clone(),
        Source::BirthDate => person.birth_date.map(|d| d.to_string()).unwrap_or_default(),
        Source::IdNumber => person.id_number.clone(),
        Source::School => person.school.clone(),
        Source::Grade => person.grade.clone(),
        Source::Class => person.class.clone(),
        Source::Serial => format!("编号 {}-{}", payload.run, payload.serial),
    }
}

/// Draws one page.
pub fn form_page(t: &Template, page: &FormPage) -> PageDrawing {
    let mut d = PageDrawing::default();
    for r in &t.rules {
        d.push(DrawOp::Line {
            from: Point::new(r.x1, r.y1),
            to: Point::new(r.x2, r.y2),
            color: Rgb::DROPOUT,
            width: 0.25,
        });
    }
    for l in &t.labels {
        d.push(DrawOp::Text {
            at: Point::new(l.x, l.y),
            size: l.size,
            text: l.text.clone(),
            color: Rgb::LABEL,
            align: if l.center { Align::Center } else { Align::Left },
            font: FontKind::Print,
        });
    }
    for m in &t.marks {
        d.push(DrawOp::FillRect { rect: m.rect, color: Rgb::BLACK });
    }
    let code = page.payload.encode();
    let outline =
        |d: &mut PageDrawing, rect: Rect| d.push(DrawOp::StrokeRect { rect, color: Rgb::DROPOUT, width: BOX_LINE_MM });
    for f in &t.fields {
        match &f.kind {
            FieldKind::Barcode => {
                if let Some(grid) = barcode::encode_qr(&code) {
                    d.push(DrawOp::Modules { rect: f.rect, grid });
                }
            }
            FieldKind::Checkbox { .. } | FieldKind::Text | FieldKind::Signature | FieldKind::Paste => {
                outline(&mut d, f.rect)
            }
            FieldKind::Comb { cells, .. } => {
                outline(&mut d, f.rect);
                for i in 1..*cells {
                    let x = f.cell(i).x;
                    d.push(DrawOp::Line {
                        from: Point::new(x, f.rect.y),
                        to: Point::new(x, f.rect.bottom()),
                        color: Rgb::DROPOUT,
                        width: BOX_LINE_MM,
                    });
                }
            }
            FieldKind::Photo => {
                outline(&mut d, f.rect);
                match &page.photo {
                    Some(img) => d.push(DrawOp::Image { rect: f.rect.inflate(-0.5), image: img.clone() }),
                    None => {
                        let c = f.rect.center();
                        for (i, line) in PHOTO_HINT.iter().enumerate() {
                            d.push(DrawOp::Text {
                                at: Point::new(c.x, c.y - 1.0 + 4.5 * i as f64),
                                size: PHOTO_HINT_SIZE,
                                text: line.to_string(),
                                color: Rgb::DROPOUT,
                                align: Align::Center,
                                font: FontKind::Print,
                            });
                        }
                    }
                }
            }
            FieldKind::Printed { source, size } => {
                let text = printed_value(*source, page.person, &page.payload);
                if !text.is_empty() {
                    // Baseline at 80 % of the box: CJK glyphs sit in the upper ~88 % of the em.
                    d.push(DrawOp::Text {
                        at: Point::new(f.rect.x, f.rect.y + f.rect.h * 0.8),
                        size: *size,
                        text,
                        color: Rgb::BLACK,
                        align: Align::Left,
                        font: FontKind::Print,
                    });
                }
            }
        }
    }
    d
}

/// Loads a roster photo and re-encodes it as a JPEG sized for the photo box at 300 dpi, so a
/// 10 MB camera file does not land in every school's PDF.
pub fn load_photo(path: &std::path::Path, box_mm: Rect) -> formscan::Result<JpegImage> {
    let img = image::open(path).map_err(|e| formscan::Error::input_at(path, format!("photo: {e}")))?;
    let px = |mm: f64| (mm / 25.4 * 300.0).round() as u32;
    let img = img.resize_to_fill(px(box_mm.w), px(box_mm.h), image::imageops::FilterType::Triangle).to_rgb8();
    let mut data = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut data, 85)
        .encode_image(&img)
        .map_err(|e| formscan::Error::input_at(path, format!("photo: {e}")))?;
    Ok(JpegImage { data: std::sync::Arc::new(data), width: img.width(), height: img.height() })
}
