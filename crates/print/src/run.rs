//! Print runs: one PDF per school, pages in class order, and a manifest of every page.
//!
//! Each class's forms are preceded by a cover sheet and the class list ([`crate::sheets`]); the
//! manifest lists form pages only, and their `pdf_page` counts the sheets before them.

use crate::layout::{self, FormPage};
use crate::render::{fonts, pdf, JpegImage};
use crate::roster::Person;
use crate::sheets;
use formscan::error::{Error, Result};
use formscan::payload::PagePayload;
use formscan::template::{FieldKind, Template};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A roster row that was not printed, or printed with a caveat.
#[derive(Debug, Clone, PartialEq)]
pub struct PrintProblem {
    /// The roster line (1-based), when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

/// One printed page, as listed in `manifest.csv`.
#[derive(Debug, Clone)]
pub struct PrintedPage {
    /// Form serial.
    pub serial: String,
    /// Page number within the form.
    pub page: u32,
    /// The person.
    pub person: Person,
    /// PDF file name (inside the output folder).
    pub pdf: String,
    /// 1-based page index in that PDF.
    pub pdf_page: usize,
    /// The photo printed on it.
    pub photo: Option<JpegImage>,
}

/// What a print run produced.
#[derive(Debug, Clone, Default)]
pub struct PrintRun {
    /// Print-run id.
    pub run: String,
    /// Pages printed, in print order.
    pub pages: Vec<PrintedPage>,
    /// Rows skipped or printed with caveats.
    pub problems: Vec<PrintProblem>,
    /// The PDF files written.
    pub pdfs: Vec<PathBuf>,
}

/// A print-run id derived from the roster: the same pending list gives the same id, so
/// reprinting is reproducible, and another list a different one.
pub fn run_id(persons: &[Person]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325; // FNV-1a
    for p in persons {
        for b in p.id_number.bytes().chain(std::iter::once(b'\n')) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
    format!("R{:06X}", h & 0xFF_FFFF)
}

/// Resolves a roster photo value: a path relative to `base`, or `face:N` for the bundled
/// demo portraits.
fn photo_for(value: &str, base: &Path, box_mm: formscan::geometry::Rect) -> Result<JpegImage> {
    if let Some(n) = value.strip_prefix("face:") {
        let i: usize = n.parse().map_err(|_| Error::input(format!("bad photo reference `{value}`")))?;
        return Ok(crate::faces::face_photo(i, box_mm));
    }
    layout::load_photo(&base.join(value), box_mm)
}

/// Plans a print run for `persons` (with their roster line numbers): assigns form serials in
/// print order (school, then grade, class and roster order) and loads the photos, without
/// writing anything. `photo_base` resolves relative photo paths. Rows whose text the print
/// font cannot show are reported and skipped.
pub fn plan_run(t: &Template, persons: &[(usize, Person)], run: Option<&str>, photo_base: &Path) -> PrintRun {
    let all: Vec<Person> = persons.iter().map(|p| p.1.clone()).collect();
    let mut pr = PrintRun { run: run.map(str::to_string).unwrap_or_else(|| run_id(&all)), ..Default::default() };
    let photo_box = t.fields.iter().find(|f| f.kind == FieldKind::Photo).map(|f| f.rect);
    let mut by_school: BTreeMap<&str, Vec<&(usize, Person)>> = BTreeMap::new();
    for p in persons {
        let text = [
            (&p.1.name, "name (姓名)"),
            (&p.1.ethnicity, "ethnicity (民族)"),
            (&p.1.school, "school (学校)"),
            (&p.1.grade, "grade (年级)"),
            (&p.1.class, "class (班级)"),
        ];
        // The message names the column, not the value: it goes to logs, and the value is a
        // child's data.
        if let Some((_, what)) = text.iter().find(|(s, _)| !fonts::printable(s)) {
            pr.problems.push(PrintProblem {
                line: Some(p.0),
                reason: format!("the {what} has characters outside the print font (GB 2312); not printed"),
            });
            continue;
        }
        by_school.entry(p.1.school.as_str()).or_default().push(p);
    }
    let mut serial = 0usize;
    for (school, mut list) in by_school {
        list.sort_by(|a, b| (&a.1.grade, &a.1.class, a.0).cmp(&(&b.1.grade, &b.1.class, b.0)));
        // One file per school, whatever the name: `a/b` and `a_b` get two files (see
        // `output::unique_file_name`), so no PDF merges two schools' pages.
        let pdf_name = format!("{}.pdf", formscan::output::unique_file_name(school));
        let mut pdf_page = 0usize;
        for (i, (line, person)) in list.iter().copied().enumerate() {
            // A new class starts with its cover sheet and class list.
            if i == 0 || (&list[i - 1].1.grade, &list[i - 1].1.class) != (&person.grade, &person.class) {
                let n =
                    list[i..].iter().take_while(|q| (&q.1.grade, &q.1.class) == (&person.grade, &person.class)).count();
                pdf_page += sheets::sheet_count(n);
            }
            pdf_page += 1;
            serial += 1;
            let photo = match (&person.photo, photo_box) {
                (Some(v), Some(bx)) if !v.is_empty() => match photo_for(v, photo_base, bx) {
                    Ok(j) => Some(j),
                    Err(e) => {
                        pr.problems.push(PrintProblem { line: Some(*line), reason: format!("photo not printed: {e}") });
                        None
                    }
                },
                _ => None,
            };
            pr.pages.push(PrintedPage {
                serial: format!("{serial:06}"),
                page: 1,
                person: person.clone(),
                pdf: pdf_name.clone(),
                pdf_page,
                photo,
            });
        }
    }
    pr
}

impl PrintedPage {
    /// The page code printed on this page.
    pub fn payload(&self, t: &Template, run: &str) -> PagePayload {
        PagePayload {
            template: t.id.clone(),
            version: t.version,
            run: run.to_string(),
            serial: self.serial.clone(),
            page: self.page,
            photo_printed: self.photo.is_some(),
        }
    }
}

/// Writes a planned run: one PDF per school into `out`, plus `manifest.csv`.
pub fn write_run(t: &Template, pr: &mut PrintRun, out: &Path) -> Result<()> {
    formscan::output::private_dir(out)?;
    let mut start = 0;
    while start < pr.pages.len() {
        let pdf_name = pr.pages[start].pdf.clone();
        let end = pr.pages[start..].iter().position(|p| p.pdf != pdf_name).map_or(pr.pages.len(), |k| start + k);
        let mut drawings = Vec::new();
        let mut c = start;
        while c < end {
            let class = (&pr.pages[c].person.grade, &pr.pages[c].person.class);
            let n = pr.pages[c..end].iter().take_while(|p| (&p.person.grade, &p.person.class) == class).count();
            drawings.extend(sheets::class_sheets(t, &pr.run, &pr.pages[c..c + n]));
            for p in &pr.pages[c..c + n] {
                debug_assert_eq!(drawings.len() + 1, p.pdf_page, "manifest page numbers follow the drawings");
                drawings.push(layout::form_page(
                    t,
                    &FormPage { person: &p.person, payload: p.payload(t, &pr.run), photo: p.photo.clone() },
                ));
            }
            c += n;
        }
        let path = out.join(&pdf_name);
        let mut f = formscan::output::AtomicFile::create(&path)?;
        let school = &pr.pages[start].person.school;
        pdf::write_pdf(&drawings, &format!("{} {}", t.title, school), &mut f)?;
        f.commit()?;
        pr.pdfs.push(path);
        start = end;
    }
    write_manifest(pr, &out.join("manifest.csv"))
}

/// Plans and writes a print run (see [`plan_run`] and [`write_run`]).
pub fn print_run(
    t: &Template,
    persons: &[(usize, Person)],
    run: Option<&str>,
    photo_base: &Path,
    out: &Path,
) -> Result<PrintRun> {
    let mut pr = plan_run(t, persons, run, photo_base);
    write_run(t, &mut pr, out)?;
    Ok(pr)
}

/// Writes `manifest.csv`; roster text is made spreadsheet-safe ([`formscan::output::spreadsheet_safe`],
/// undone by [`formscan::lookup::ManifestLookup`]).
fn write_manifest(pr: &PrintRun, path: &Path) -> Result<()> {
    let f = formscan::output::AtomicFile::create(path)?;
    let mut w = csv::Writer::from_writer(f);
    let io = |e: csv::Error| Error::io_at(path, std::io::Error::other(e));
    w.write_record([
        "run",
        "serial",
        "page",
        "id_number",
        "name",
        "school",
        "grade",
        "class",
        "photo_printed",
        "pdf",
        "pdf_page",
    ])
    .map_err(io)?;
    for p in &pr.pages {
        let safe = formscan::output::spreadsheet_safe;
        w.write_record([
            &*safe(&pr.run),
            &p.serial,
            &p.page.to_string(),
            &safe(&p.person.id_number),
            &safe(&p.person.name),
            &safe(&p.person.school),
            &safe(&p.person.grade),
            &safe(&p.person.class),
            if p.photo.is_some() { "1" } else { "0" },
            &safe(&p.pdf),
            &p.pdf_page.to_string(),
        ])
        .map_err(io)?;
    }
    w.into_inner().map_err(|e| Error::io_at(path, std::io::Error::other(e.to_string())))?.commit()
}

/// Writes a synthetic roster CSV (English headers) for demos and tests.
pub fn write_roster(persons: &[Person], path: &Path) -> Result<()> {
    let f = formscan::output::private_file(path)?;
    let mut w = std::io::BufWriter::new(f);
    crate::roster::write_roster_csv(persons, &mut w)?;
    w.flush().map_err(|e| Error::io_at(path, e))
}
