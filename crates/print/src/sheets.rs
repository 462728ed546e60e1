//! Class-pack sheets: before each class's forms, a cover sheet and the class list (花名册), so
//! the class teacher and the bank can check a pack (notice, section 二: forms go to schools
//! through the banks, class by class).
//!
//! Both sheets carry the template's registration marks and, in the template's page-code boxes,
//! an `FSC1` [`SheetPayload`], so a scanned sheet registers like a form and is recognised as a
//! sheet (`Outcome::Cover`) instead of being rejected as a bad page.

use super::PrintedPage;
use crate::render::{Align, DrawOp, FontKind, PageDrawing, Rgb};
use formscan::barcode;
use formscan::geometry::Point;
use formscan::payload::{SheetKind, SheetPayload};
use formscan::template::{FieldKind, Template};

/// Class-list rows per page: 28 rows of 7 mm fit between the header (y = 50 mm) and the bottom
/// page code (y = 259 mm) of the A4 template.
pub const LIST_ROWS_PER_PAGE: usize = 28;

/// Pages printed before a class of `forms` forms: the cover and the class list (at least one
/// page, even for an empty class, so the count is never surprising).
pub fn sheet_count(forms: usize) -> usize {
    1 + forms.div_ceil(LIST_ROWS_PER_PAGE).max(1)
}

fn text(d: &mut PageDrawing, x: f64, y: f64, size: f64, s: impl Into<String>) {
    d.push(DrawOp::Text {
        at: Point::new(x, y),
        size,
        text: s.into(),
        color: Rgb::LABEL,
        align: Align::Left,
        font: FontKind::Print,
    });
}

/// The frame every sheet shares: the template's marks and the sheet code in each page-code box.
fn frame(t: &Template, payload: &SheetPayload) -> PageDrawing {
    let mut d = PageDrawing::default();
    for m in &t.marks {
        d.push(DrawOp::FillRect { rect: m.rect, color: Rgb::BLACK });
    }
    let code = payload.encode();
    for f in t.fields.iter().filter(|f| f.kind == FieldKind::Barcode) {
        if let Some(grid) = barcode::encode_qr(&code) {
            d.push(DrawOp::Modules { rect: f.rect, grid });
        }
    }
    d
}

/// The cover sheet and class-list pages for one class: `pages` are the class's form pages in
/// print order (all of one school, grade and class).
pub fn class_sheets(t: &Template, run: &str, pages: &[PrintedPage]) -> Vec<PageDrawing> {
    let Some(first) = pages.first() else { return Vec::new() };
    let last = pages.last().unwrap_or(first);
    let p = &first.person;
    let list_pages = pages.len().div_ceil(LIST_ROWS_PER_PAGE).max(1);
    let payload = |kind, sheet| SheetPayload {
        template: t.id.clone(),
        version: t.version,
        run: run.to_string(),
        kind,
        first_serial: first.serial.clone(),
        last_serial: last.serial.clone(),
        forms: pages.len() as u32,
        sheet,
    };
    let mut out = Vec::with_capacity(1 + list_pages);
    let mut d = frame(t, &payload(SheetKind::Cover, 0));
    text(&mut d, 30.0, 24.0, 6.0, "班级封面");
    text(&mut d, 30.0, 31.0, 3.2, "Class cover sheet: check the pack against the class list");
    let rows = [
        ("学校", p.school.clone()),
        ("年级", p.grade.clone()),
        ("班级", p.class.clone()),
        ("申领登记表", format!("{} 份", pages.len())),
        ("表格编号", format!("{}-{} 至 {}-{}", run, first.serial, run, last.serial)),
        ("印制批次", run.to_string()),
        ("花名册", format!("{list_pages} 页")),
    ];
    for (i, (k, v)) in rows.iter().enumerate() {
        let y = 70.0 + 16.0 * i as f64;
        text(&mut d, 30.0, y, 5.0, *k);
        text(&mut d, 75.0, y, 6.0, v.clone());
        d.push(DrawOp::Line {
            from: Point::new(74.0, y + 2.5),
            to: Point::new(190.0, y + 2.5),
            color: Rgb::LABEL,
            width: 0.2,
        });
    }
    text(&mut d, 30.0, 200.0, 4.0, "班主任核对：本袋内表格份数与花名册一致。");
    text(&mut d, 30.0, 212.0, 4.0, "核对人签名：______________    日期：____年__月__日");
    out.push(d);

    // The class list goes to the class teacher, who knows the pupils, and travels with the
    // pack through the bank. Name, sex and birth date are what the teacher checks against; the
    // full ID number is already on each pupil's own form and is not repeated on a sheet that
    // many hands see; its last four characters tell namesakes apart and match the form.
    let cols = [
        (20.0, "序号"),
        (36.0, "姓名"),
        (84.0, "性别"),
        (100.0, "出生日期"),
        (134.0, "身份证号后四位"),
        (166.0, "表格编号"),
    ];
    for (k, chunk) in pages.chunks(LIST_ROWS_PER_PAGE).enumerate() {
        let mut d = frame(t, &payload(SheetKind::List, k as u32 + 1));
        text(&mut d, 30.0, 24.0, 5.0, "花名册");
        text(&mut d, 30.0, 31.0, 3.4, format!("{} {} {}  第 {}/{} 页", p.school, p.grade, p.class, k + 1, list_pages));
        for (x, h) in cols {
            text(&mut d, x, 46.0, 3.4, h);
        }
        for (r, page) in chunk.iter().enumerate() {
            let y = 50.0 + 7.0 * r as f64;
            d.push(DrawOp::Line {
                from: Point::new(20.0, y),
                to: Point::new(190.0, y),
                color: Rgb::LABEL,
                width: 0.15,
            });
            let q = &page.person;
            let id_tail: String = q.id_number.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
            let cells = [
                (k * LIST_ROWS_PER_PAGE + r + 1).to_string(),
                q.name.clone(),
                q.sex.map(|s| s.as_zh().to_string()).unwrap_or_default(),
                q.birth_date.map(|b| b.to_string()).unwrap_or_default(),
                id_tail,
                page.serial.clone(),
            ];
            for ((x, _), c) in cols.iter().zip(cells) {
                text(&mut d, *x, y + 5.2, 3.6, c);
            }
        }
        out.push(d);
    }
    if pages.is_empty() {
        out.push(frame(t, &payload(SheetKind::List, 1)));
    }
    out
}
