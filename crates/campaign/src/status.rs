//! `formscan status`: progress per school and class, as a terminal table, CSV and XLSX.
//!
//! Columns: printed (persons with a printed form), returned (a page scanned), accepted, in
//! review, rejected, not returned, exported (accepted and already in a card-data file). A
//! person counts once however many forms or scans they have: returned = accepted + in review
//! + rejected, and printed = returned + not returned.

use super::{Assessed, FormStatus};
use formscan::error::{Error, Result};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// One class's counts (or the total, with empty names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusRow {
    /// School.
    pub school: String,
    /// Grade.
    pub grade: String,
    /// Class.
    pub class: String,
    /// Persons with a printed form.
    pub printed: usize,
    /// Persons with a scanned page.
    pub returned: usize,
    /// Accepted (including exported).
    pub accepted: usize,
    /// In review.
    pub review: usize,
    /// Rejected.
    pub rejected: usize,
    /// Not yet returned.
    pub not_returned: usize,
    /// Accepted and exported.
    pub exported: usize,
}

/// Column headers, Chinese and English (for the bureau's spreadsheet).
pub const HEADERS: [&str; 10] = [
    "学校 school",
    "年级 grade",
    "班级 class",
    "已打印 printed",
    "已回收 returned",
    "已通过 accepted",
    "待复核 in review",
    "已退回 rejected",
    "未回收 not returned",
    "已导出 exported",
];

impl StatusRow {
    fn add(&mut self, s: FormStatus, exported: bool) {
        self.printed += 1;
        match s {
            FormStatus::NotReturned => self.not_returned += 1,
            FormStatus::Accepted => self.accepted += 1,
            FormStatus::Review => self.review += 1,
            FormStatus::Rejected => self.rejected += 1,
        }
        if s != FormStatus::NotReturned {
            self.returned += 1;
        }
        if exported {
            self.exported += 1;
        }
    }

    fn cells(&self) -> [String; 10] {
        [
            self.school.clone(),
            self.grade.clone(),
            self.class.clone(),
            self.printed.to_string(),
            self.returned.to_string(),
            self.accepted.to_string(),
            self.review.to_string(),
            self.rejected.to_string(),
            self.not_returned.to_string(),
            self.exported.to_string(),
        ]
    }
}

/// Counts per (school, grade, class), sorted, followed by a total row named `合计 total`.
pub fn rows(assessed: &[Assessed]) -> Vec<StatusRow> {
    let mut by: BTreeMap<(String, String, String), StatusRow> = BTreeMap::new();
    let mut total = StatusRow { school: "合计 total".into(), ..Default::default() };
    for a in assessed {
        let p = &a.view.person.person;
        let key = (p.school.clone(), p.grade.clone(), p.class.clone());
        let row = by.entry(key).or_insert_with(|| StatusRow {
            school: p.school.clone(),
            grade: p.grade.clone(),
            class: p.class.clone(),
            ..Default::default()
        });
        row.add(a.status, a.view.exported.is_some());
        total.add(a.status, a.view.exported.is_some());
    }
    let mut out: Vec<StatusRow> = by.into_values().collect();
    out.push(total);
    out
}

/// Display width on a terminal: East Asian wide characters take two columns (UAX #11,
/// approximated by the CJK, Hangul and full-width blocks).
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60 => 2,
            _ => 1,
        })
        .sum()
}

/// The rows as an aligned plain-text table.
pub fn table(rows: &[StatusRow]) -> String {
    let cells: Vec<[String; 10]> = rows.iter().map(StatusRow::cells).collect();
    let mut w = HEADERS.map(width);
    for r in &cells {
        for (k, c) in r.iter().enumerate() {
            w[k] = w[k].max(width(c));
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        for (k, c) in cells.iter().enumerate() {
            let pad = " ".repeat(w[k] - width(c));
            // Names left-aligned, counts right-aligned.
            if k < 3 {
                out.push_str(c);
                out.push_str(&pad);
            } else {
                out.push_str(&pad);
                out.push_str(c);
            }
            out.push_str(if k + 1 < cells.len() { "  " } else { "\n" });
        }
    };
    line(&HEADERS.map(str::to_string));
    for r in &cells {
        line(r);
    }
    out
}

fn csv_err(path: &Path) -> impl Fn(csv::Error) -> Error + '_ {
    move |e| Error::io_at(path, std::io::Error::other(e))
}

/// Writes the rows as UTF-8 CSV with a byte-order mark (so that Excel reads it as UTF-8);
/// school and class names are made spreadsheet-safe ([`formscan::output::spreadsheet_safe`]).
pub fn write_csv(rows: &[StatusRow], path: &Path) -> Result<()> {
    let mut f = formscan::output::AtomicFile::create(path)?;
    f.write_all("\u{feff}".as_bytes()).map_err(|e| Error::io_at(path, e))?;
    let mut w = csv::Writer::from_writer(f);
    w.write_record(HEADERS).map_err(csv_err(path))?;
    for r in rows {
        w.write_record(r.cells().iter().map(|c| formscan::output::spreadsheet_safe(c).into_owned()))
            .map_err(csv_err(path))?;
    }
    w.into_inner().map_err(|e| Error::io_at(path, std::io::Error::other(e.to_string())))?.commit()
}

/// Writes the rows as an Excel workbook (one sheet, counts as numbers).
pub fn write_xlsx(rows: &[StatusRow], path: &Path) -> Result<()> {
    use rust_xlsxwriter::{Format, Workbook};
    let x = |e: rust_xlsxwriter::XlsxError| Error::io_at(path, std::io::Error::other(e));
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("status").map_err(x)?;
    let bold = Format::new().set_bold();
    for (k, h) in HEADERS.iter().enumerate() {
        ws.write_string_with_format(0, k as u16, *h, &bold).map_err(x)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let row = i as u32 + 1;
        for (k, c) in r.cells().iter().enumerate() {
            if k < 3 {
                ws.write_string(row, k as u16, c).map_err(x)?;
            } else {
                ws.write_number(row, k as u16, c.parse::<f64>().unwrap_or(0.0)).map_err(x)?;
            }
        }
    }
    let bytes = wb.save_to_buffer().map_err(x)?;
    formscan::output::write_atomic(path, &bytes)
}
