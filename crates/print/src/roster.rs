//! The roster: the CSV of pending students from which one form per person is printed.
//!
//! Rosters come from school-roll systems and spreadsheets, so [`parse_roster`] is lenient about
//! layout and strict about content. Layout: UTF-8 (with or without a byte-order mark), UTF-16
//! with a byte-order mark (Excel's "Unicode text"), otherwise GBK/GB18030, the default of
//! Chinese Windows; comma-separated, or tab- or semicolon-separated when the header line has
//! no comma; header names in Chinese or English, matched after trimming, case-insensitively,
//! with spaces and hyphens read as underscores and a leading `*` (the "required" mark of many
//! import templates) ignored. Unknown columns are ignored; column order is free. Title rows
//! above the header are skipped: the header is the one of the first ten rows that names the
//! most known columns.
//!
//! | Field | Required | Accepted headers |
//! |-------|----------|------------------|
//! | name | yes | `姓名`, `name` |
//! | sex | no | `性别`, `sex`, `gender` |
//! | ethnicity | no | `民族`, `ethnicity`, `nation` |
//! | birth date | no | `出生日期`, `birth_date`, `birthdate`, `dob` |
//! | ID number | yes | `公民身份号码`, `身份证号`, `身份证号码`, `证件号码`, `id_number`, `id` |
//! | school | yes | `学校`, `学校名称`, `school` |
//! | grade | no | `年级`, `grade` |
//! | class | yes | `班级`, `class` |
//! | photo | no | `照片`, `photo`, `photo_file` |
//!
//! Content: cells are trimmed; the ID number is normalised (full-width characters, lower-case
//! `x`, a spreadsheet's `="…"` or leading `'`) and validated with [`formscan::domain::parse_id`].
//! A row is rejected when it has the wrong number of fields; lacks a name, school or class;
//! has an invalid ID number, an unreadable or impossible birth date or sex; when its birth date
//! or sex disagrees with the ID number; or when its ID number already appeared on an earlier
//! line (even one rejected for another reason: a duplicate needs a person to look either way).
//! Empty birth date and sex cells are filled from the ID number; entirely empty rows are
//! skipped. A bad row becomes one [`RowProblem`] (its reasons joined by `; `) and the good rows
//! are kept, so one typo never holds up a school's forms. The whole file is rejected only when
//! it cannot be read as a roster at all ([`Error::Input`]) or exceeds [`MAX_ROSTER_BYTES`] or
//! [`MAX_ROSTER_ROWS`] ([`Error::Limits`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use formscan::domain::{parse_id, Date, DateError, Sex};
use formscan::error::{Error, Result};

/// Largest roster file accepted: 64 MiB. At about 120 bytes a row that is half a million
/// students, a whole prefecture, while rosters usually arrive per school; anything larger is a
/// mistake or an attack on memory (the file is decoded in memory).
pub const MAX_ROSTER_BYTES: u64 = 64 << 20;

/// Most data rows accepted in one roster: one million, several times a prefecture's students.
pub const MAX_ROSTER_ROWS: usize = 1_000_000;

pub use formscan::domain::Person;

/// A roster row that was rejected, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowProblem {
    /// 1-based line number in the file where the row starts (the header is usually line 1).
    pub line: usize,
    /// Every reason the row was rejected, in English with the Chinese term, joined by `; `.
    pub reason: String,
}

impl std::fmt::Display for RowProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// A parsed roster: the accepted people and the rejected rows.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Roster {
    /// Accepted rows in file order, each with its 1-based line number.
    pub persons: Vec<(usize, Person)>,
    /// Rejected rows in file order, one entry per row.
    pub problems: Vec<RowProblem>,
}

/// Roster columns, in [`Person`] field order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Name,
    Sex,
    Ethnicity,
    BirthDate,
    Id,
    School,
    Grade,
    Class,
    Photo,
}

/// Column, its name in messages, required or not, accepted headers (already normalised).
const COLUMNS: [(Col, &str, bool, &[&str]); 9] = [
    (Col::Name, "name (姓名)", true, &["姓名", "name"]),
    (Col::Sex, "sex (性别)", false, &["性别", "sex", "gender"]),
    (Col::Ethnicity, "ethnicity (民族)", false, &["民族", "ethnicity", "nation"]),
    (Col::BirthDate, "birth date (出生日期)", false, &["出生日期", "birth_date", "birthdate", "dob"]),
    (
        Col::Id,
        "ID number (公民身份号码)",
        true,
        &["公民身份号码", "身份证号", "身份证号码", "证件号码", "id_number", "id"],
    ),
    (Col::School, "school (学校)", true, &["学校", "学校名称", "school"]),
    (Col::Grade, "grade (年级)", false, &["年级", "grade"]),
    (Col::Class, "class (班级)", true, &["班级", "class"]),
    (Col::Photo, "photo (照片)", false, &["照片", "photo", "photo_file"]),
];

/// How many records at the top may hold the header (those above it are title rows).
pub(crate) const HEADER_SEARCH_ROWS: usize = 10;

/// Headers written by [`write_roster_csv`]; each is an accepted alias, so output reads back.
const OUT_HEADERS: [&str; 9] =
    ["name", "sex", "ethnicity", "birth_date", "id_number", "school", "grade", "class", "photo"];

/// Reads and parses a roster file; see [`parse_roster`]. Errors carry `path`.
pub fn read_roster(path: &Path) -> Result<Roster> {
    let bytes = read_limited(path)?;
    parse_roster(&bytes).map_err(|e| e.with_path(path))
}

/// Reads a whole list file, refusing one over [`MAX_ROSTER_BYTES`]. Errors carry `path`.
pub(crate) fn read_limited(path: &Path) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io_at(path, e))?;
    let len = file.metadata().map_err(|e| Error::io_at(path, e))?.len();
    if len > MAX_ROSTER_BYTES {
        return Err(too_big(len).with_path(path));
    }
    // `take` guards against files that grow, or lie about their size (pipes, /proc).
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MAX_ROSTER_BYTES + 1).read_to_end(&mut bytes).map_err(|e| Error::io_at(path, e))?;
    if bytes.len() as u64 > MAX_ROSTER_BYTES {
        return Err(too_big(bytes.len() as u64).with_path(path));
    }
    Ok(bytes)
}

pub(crate) fn too_big(actual: u64) -> Error {
    Error::Limits { path: None, what: "roster file size", actual, limit: MAX_ROSTER_BYTES }
}

/// Parses roster bytes: detects the encoding and delimiter, maps the header, then validates
/// every row (see the module docs for what is accepted and checked).
pub fn parse_roster(bytes: &[u8]) -> Result<Roster> {
    if bytes.len() as u64 > MAX_ROSTER_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    let mut text = decode(bytes)?;
    if text.contains('\r') {
        // csv reports the line of a record after a CRLF one as the previous line, so Windows
        // files would get every line number off by one; LF-only text counts right.
        text = Cow::Owned(lf_line_breaks(&text));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true) // a short or long row is a RowProblem, not a failed file
        .delimiter(sniff_delimiter(&text))
        .from_reader(text.as_bytes());
    let mut records = reader.records();

    // Spreadsheets often carry a title row or two (学生名单, merged across the columns) above
    // the header, so the header is whichever of the first few records names the most
    // known columns.
    let head: Vec<csv::StringRecord> =
        records.by_ref().take(HEADER_SEARCH_ROWS).collect::<Result<_, _>>().map_err(csv_error)?;
    let best = head.iter().map(known_columns).max().unwrap_or(0);
    let Some(at) = head.iter().position(|r| known_columns(r) == best && !is_blank(r)) else {
        return Err(Error::input("the roster is empty: no header row"));
    };
    let header = head[at].clone();
    let cols = map_header(&header)?;
    // Trailing blank header cells (a stray delimiter at the end of the header) need no data.
    let width = header.iter().rev().skip_while(|h| h.trim().is_empty()).count();
    let records = head.into_iter().skip(at + 1).map(Ok).chain(records);

    let mut roster = Roster::default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut rows = 0usize;
    for rec in records {
        let rec = rec.map_err(csv_error)?;
        rows += 1;
        // Past the limit, only count (to report the real size) without keeping anything.
        if rows > MAX_ROSTER_ROWS || is_blank(&rec) {
            continue;
        }
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let extra = rec.iter().skip(width).any(|f| !f.trim().is_empty());
        let result = if rec.len() < width || extra {
            let mut why = format!(
                "row has {} fields but the header has {width}; look for an unquoted delimiter \
                 or a missing cell",
                rec.len()
            );
            // A quote that is never closed swallows the lines after it into one cell.
            let spans = rec.iter().map(|f| f.trim_end_matches('\n').matches('\n').count()).sum::<usize>();
            if spans > 0 {
                let end = line + spans;
                why.push_str(&format!(
                    "; a quoted cell runs from line {line} to line {end}: look for a quote (\") that is never closed"
                ));
            }
            Err(why)
        } else {
            check_row(&cols, &rec, line, &mut seen)
        };
        match result {
            Ok(p) => roster.persons.push((line, p)),
            Err(reason) => roster.problems.push(RowProblem { line, reason }),
        }
    }
    if rows > MAX_ROSTER_ROWS {
        return Err(Error::Limits {
            path: None,
            what: "roster rows",
            actual: rows as u64,
            limit: MAX_ROSTER_ROWS as u64,
        });
    }
    Ok(roster)
}

/// `text` with its CRLF line breaks made LF, a run of CRs before an LF included (`\r\r\n`, as
/// some exporters write a CRLF cell break): in one pass, so that no `\r\n` is left. A plain
/// `replace("\r\n", "\n")` leaves `\r\n` of `\r\r\n`, which a cell then holds; written back by
/// [`write_roster_csv`] it would read as `\n`, not as the value written.
pub(crate) fn lf_line_breaks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut crs = 0;
    for c in text.chars() {
        match c {
            '\r' => crs += 1,
            '\n' => {
                crs = 0;
                out.push('\n');
            }
            _ => {
                out.extend(std::iter::repeat_n('\r', crs));
                crs = 0;
                out.push(c);
            }
        }
    }
    out.extend(std::iter::repeat_n('\r', crs));
    out
}

/// UTF-8 first because it never decodes by accident; GB18030 (a superset of GBK) otherwise.
pub(crate) fn decode(bytes: &[u8]) -> Result<Cow<'_, str>> {
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, bad) = enc.decode_without_bom_handling(&bytes[bom..]);
        if bad {
            let msg = format!("the file starts with a {} byte-order mark but is not valid {0} text", enc.name());
            return Err(Error::input(msg));
        }
        return Ok(text);
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok(Cow::Borrowed(s));
    }
    let (text, bad) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    if bad {
        return Err(Error::input("the roster is neither UTF-8 nor GBK/GB18030 text"));
    }
    Ok(text)
}

/// Comma unless the header line has none; then tab (Excel's "text" export), then semicolon
/// (spreadsheets in locales with a decimal comma).
pub(crate) fn sniff_delimiter(text: &str) -> u8 {
    // The first line with any candidate stands for the header (a title line may have none).
    let header = text.lines().find(|l| l.contains([',', '\t', ';'])).unwrap_or("");
    if header.contains(',') {
        b','
    } else if header.contains('\t') {
        b'\t'
    } else if header.contains(';') {
        b';'
    } else {
        b','
    }
}

fn known_columns(rec: &csv::StringRecord) -> usize {
    let known = |h: &str| COLUMNS.iter().any(|c| c.3.contains(&normalize_header(h).as_str()));
    rec.iter().filter(|h| known(h)).count()
}

pub(crate) fn is_blank(rec: &csv::StringRecord) -> bool {
    rec.iter().all(|f| f.trim().is_empty())
}

pub(crate) fn csv_error(e: csv::Error) -> Error {
    // csv's message already names the line when it knows it.
    let msg = e.to_string();
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::from(io),
        _ => Error::input(format!("unreadable CSV: {msg}")),
    }
}

pub(crate) fn normalize_header(h: &str) -> String {
    h.trim().trim_start_matches('*').trim().to_lowercase().replace([' ', '-'], "_")
}

/// Maps each known column to its index in the header row.
fn map_header(header: &csv::StringRecord) -> Result<[Option<usize>; 9]> {
    let mut cols = [None; 9];
    for (i, h) in header.iter().enumerate() {
        let h = normalize_header(h);
        let Some(c) = COLUMNS.iter().position(|(_, _, _, aliases)| aliases.contains(&h.as_str())) else {
            continue;
        };
        if let Some(first) = cols[c] {
            let (a, b) = (header[first].trim(), header[i].trim());
            let what = COLUMNS[c].1;
            return Err(Error::input(format!("columns `{a}` and `{b}` both give the {what}; keep only one")));
        }
        cols[c] = Some(i);
    }
    for (c, (_, what, required, aliases)) in COLUMNS.iter().enumerate() {
        if *required && cols[c].is_none() {
            return Err(Error::input(format!(
                "the roster has no {what} column; accepted headers: {}; {}",
                aliases.join(", "),
                header_found(header, |h| COLUMNS.iter().any(|c| c.3.contains(&h)))
            )));
        }
    }
    Ok(cols)
}

/// What a header row that lacks a column holds, for the error message: the cells that are known
/// column names, and only a count of the others. A file without a header row has a child's
/// name and ID number there, and messages carry no personal data.
pub(crate) fn header_found(header: &csv::StringRecord, known: impl Fn(&str) -> bool) -> String {
    let names: Vec<&str> = header.iter().map(str::trim).filter(|h| known(&normalize_header(h))).collect();
    let others = header.iter().filter(|h| !h.trim().is_empty()).count() - names.len();
    let names = if names.is_empty() { "no known column name".to_string() } else { names.join(", ") };
    format!("the header row has {names} and {others} other cells (not shown: they may be personal data)")
}

/// Longest text a roster cell may hold, in characters. A real school name has under 40 (the
/// longest seen are district + school + "附属实验学校"); a longer one is a data error, and it
/// would neither fit the form nor make a file name.
pub const MAX_CELL_CHARS: usize = 100;

/// Validates one row; `Err` carries every reason, joined. Registers the row's ID in `seen`
/// (even when the row is rejected for something else) so the second occurrence is named.
fn check_row(
    cols: &[Option<usize>; 9],
    rec: &csv::StringRecord,
    line: usize,
    seen: &mut HashMap<String, usize>,
) -> Result<Person, String> {
    // A value that formscan wrote spreadsheet-safe (`'=…`) reads back as it was.
    let get =
        |c: Col| formscan::output::from_spreadsheet(cols[c as usize].and_then(|i| rec.get(i)).map_or("", str::trim));
    let mut why: Vec<String> = Vec::new();
    for (c, what) in [
        (Col::Name, "name (姓名)"),
        (Col::School, "school (学校)"),
        (Col::Grade, "grade (年级)"),
        (Col::Class, "class (班级)"),
        (Col::Ethnicity, "ethnicity (民族)"),
    ] {
        let n = get(c).chars().count();
        if n > MAX_CELL_CHARS {
            why.push(format!("{what} is {n} characters long, at most {MAX_CELL_CHARS}"));
        }
    }
    let mut p = Person {
        name: get(Col::Name).to_string(),
        ethnicity: get(Col::Ethnicity).to_string(),
        school: get(Col::School).to_string(),
        grade: get(Col::Grade).to_string(),
        class: get(Col::Class).to_string(),
        photo: Some(get(Col::Photo).to_string()).filter(|s| !s.is_empty()),
        ..Person::default()
    };
    for (value, what) in [(&p.name, "name (姓名)"), (&p.school, "school (学校)"), (&p.class, "class (班级)")] {
        if value.is_empty() {
            why.push(format!("missing {what}"));
        }
    }

    let raw_sex = get(Col::Sex);
    if !raw_sex.is_empty() {
        match raw_sex.parse::<Sex>() {
            Ok(s) => p.sex = Some(s),
            Err(e) => why.push(format!("sex (性别) `{raw_sex}` is {e}")),
        }
    }
    let raw_birth = formscan::domain::fold_fullwidth(get(Col::BirthDate));
    let raw_birth = raw_birth.trim();
    if !raw_birth.is_empty() {
        match raw_birth.parse::<Date>() {
            Ok(d) if d.is_valid() => p.birth_date = Some(d),
            Ok(d) => why.push(format!("birth date (出生日期) {d} is outside 1900-2100")),
            Err(DateError::Format) => {
                why.push(format!("birth date (出生日期) `{raw_birth}` is not a date; write YYYY-MM-DD"))
            }
            Err(e) => why.push(format!("impossible birth date (出生日期): {e}")),
        }
    }

    // Exports keep long digit strings as text by writing ="…" or a leading apostrophe.
    let raw_id = unwrap_text_cell(get(Col::Id));
    p.id_number = formscan::domain::normalize_id(raw_id);
    if raw_id.is_empty() {
        why.push("missing ID number (公民身份号码)".to_string());
    } else if looks_like_scientific(raw_id) {
        // Excel turns an 18-digit number into 4.50305E+17 unless the column is text; the
        // digits are lost, so say how to fix the export rather than "wrong length".
        why.push(format!(
            "ID number (公民身份号码) `{raw_id}` was turned into a number by a spreadsheet; \
             format the column as text and export again"
        ));
    } else {
        match parse_id(raw_id) {
            Err(e) => why.push(format!("invalid ID number (公民身份号码): {e}")),
            Ok(info) => {
                match p.birth_date {
                    Some(d) if d != info.birth_date => why
                        .push(format!("birth date (出生日期) {d} disagrees with the ID number's {}", info.birth_date)),
                    _ => p.birth_date = Some(info.birth_date),
                }
                match p.sex {
                    Some(s) if s != info.sex => why.push(format!(
                        "sex (性别) {} disagrees with the ID number's {}",
                        s.as_zh(),
                        info.sex.as_zh()
                    )),
                    _ => p.sex = Some(info.sex),
                }
                if let Some(first) = seen.get(&info.number) {
                    why.push(format!("duplicate ID number (公民身份号码), first on line {first}"));
                } else {
                    seen.insert(info.number, line);
                }
            }
        }
    }
    if why.is_empty() {
        Ok(p)
    } else {
        Err(why.join("; "))
    }
}

/// Strips the spreadsheet text wrappers `="…"` and a leading `'` from a cell.
pub(crate) fn unwrap_text_cell(raw: &str) -> &str {
    let raw = raw.strip_prefix("=\"").and_then(|s| s.strip_suffix('"')).unwrap_or(raw);
    raw.strip_prefix('\'').unwrap_or(raw)
}

pub(crate) fn looks_like_scientific(s: &str) -> bool {
    s.to_ascii_lowercase().contains("e+") && s.parse::<f64>().is_ok()
}

/// Writes persons as a UTF-8 CSV with the English headers `name, sex, ethnicity, birth_date,
/// id_number, school, grade, class, photo`, which [`parse_roster`] reads back unchanged. Sex is
/// written `male`/`female`, dates `YYYY-MM-DD`, absent values as empty cells.
pub fn write_roster_csv<W: Write>(persons: &[Person], w: W) -> Result<()> {
    let mut out = csv::Writer::from_writer(w);
    out.write_record(OUT_HEADERS).map_err(csv_error)?;
    for p in persons {
        let sex = p.sex.map(|s| s.to_string()).unwrap_or_default();
        let birth = p.birth_date.map(|d| d.to_string()).unwrap_or_default();
        let photo = p.photo.as_deref().unwrap_or("");
        let safe = formscan::output::spreadsheet_safe;
        out.write_record([
            &*safe(&p.name),
            &sex,
            &safe(&p.ethnicity),
            &birth,
            &safe(&p.id_number),
            &safe(&p.school),
            &safe(&p.grade),
            &safe(&p.class),
            &safe(photo),
        ])
        .map_err(csv_error)?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Found by the `roster` fuzz target (`tests/bad/fuzz-roster-crlf-cell.csv`): a quoted
    /// cell with a run of carriage returns before its line break (`"2\r\r\nB"`) read as
    /// `2\r\nB`, which `write_roster_csv` wrote back and the reader then read as `2\nB`. A
    /// written roster must read back unchanged.
    #[test]
    fn a_written_roster_reads_back_unchanged_with_carriage_returns_in_cells() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/bad/fuzz-roster-crlf-cell.csv");
        let first = parse_roster(&std::fs::read(path).unwrap()).unwrap();
        assert!(!first.persons.is_empty());
        assert!(first.persons.iter().all(|(_, p)| !p.class.contains('\r')), "{:?}", first.persons);
        let persons: Vec<Person> = first.persons.iter().map(|(_, p)| p.clone()).collect();
        let mut written = Vec::new();
        write_roster_csv(&persons, &mut written).unwrap();
        let again = parse_roster(&written).unwrap();
        assert!(again.problems.is_empty(), "{:?}", again.problems);
        let again: Vec<Person> = again.persons.into_iter().map(|(_, p)| p).collect();
        assert_eq!(again, persons);
    }

    use super::*;
    use formscan::domain::make_id;

    /// Synthetic ID numbers (region code of a Guilin district, made-up sequence codes).
    fn id(y: u16, m: u8, d: u8, seq: u16) -> String {
        make_id("450305", Date::new(y, m, d), seq)
    }

    fn lines(r: &Roster) -> (Vec<usize>, Vec<usize>) {
        (r.persons.iter().map(|p| p.0).collect(), r.problems.iter().map(|p| p.line).collect())
    }

    fn input_reason(e: Error) -> String {
        match e {
            Error::Input { reason, .. } => reason,
            other => panic!("expected Error::Input, got {other:?}"),
        }
    }

    #[test]
    fn utf8_bom_with_chinese_headers() {
        let (a, b) = (id(2013, 9, 1, 11), id(2014, 2, 28, 22));
        let text = format!(
            "\u{FEFF}姓名,性别,民族,出生日期,公民身份号码,学校,年级,班级,照片\n\
             学生一,男,汉族,2013-09-01,{a},示例小学,一年级,1班,\n\
             学生二, ,壮族,,{},示例小学,一年级,2班, p2.jpg \n",
            b.to_lowercase()
        );
        let r = parse_roster(text.as_bytes()).unwrap();
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(lines(&r).0, [2, 3]);
        let p = &r.persons[1].1;
        // Sex and birth date came from the ID number; the ID was normalised; cells trimmed.
        assert_eq!((p.sex, p.birth_date), (Some(Sex::Female), Some(Date::new(2014, 2, 28))));
        assert_eq!((p.id_number.as_str(), p.photo.as_deref()), (b.as_str(), Some("p2.jpg")));
        assert_eq!((p.ethnicity.as_str(), p.class.as_str()), ("壮族", "2班"));
        assert_eq!(r.persons[0].1.photo, None);
    }

    #[test]
    fn gbk_bytes_with_english_headers() {
        let text = format!(
            "Name,Gender,Nation,DOB,ID,School,Grade,Class\n学生三,女,瑶族,,{},桂林示例中学,初一,3班\n",
            id(2008, 12, 31, 42)
        );
        let (bytes, _, unmappable) = encoding_rs::GBK.encode(&text);
        assert!(!unmappable && std::str::from_utf8(&bytes).is_err());
        let r = parse_roster(&bytes).unwrap();
        assert_eq!(lines(&r), (vec![2], vec![]));
        let p = &r.persons[0].1;
        assert_eq!((p.name.as_str(), p.school.as_str(), p.ethnicity.as_str()), ("学生三", "桂林示例中学", "瑶族"));
        assert_eq!(p.sex, Some(Sex::Female));
    }

    #[test]
    fn bad_rows_are_reported_by_line_and_good_rows_survive() {
        let good = id(2012, 5, 6, 101);
        let mut bad_check = id(2012, 5, 7, 103);
        let last = bad_check.pop().unwrap();
        bad_check.push(if last == '0' { '1' } else { '0' });
        let text = format!(
            "name,sex,birth_date,id_number,school,class\n\
             学生甲,男,2012-05-06,{good},示例小学,1班\n\
             学生乙,,,{bad_check},示例小学,1班\n\
             学生丙,,2019-02-30,{},示例小学,1班\n\
             ,,,{},示例小学,1班\n\
             学生丁,,,{good},示例小学,1班\n\
             学生戊,女,,{},示例小学,1班\n\
             \n\
             ,,,,,\n\
             学生己,,,{},示例小学,1班\n\
             学生庚,,{},示例小学\n\
             \"学生\n辛\",,,{},示例小学,1班,\n\
             学生壬,,,{},示例小学,1班\n",
            id(2019, 2, 1, 105),
            id(2012, 1, 1, 107),
            id(2012, 5, 8, 109),
            id(2012, 5, 9, 111),
            id(2012, 5, 10, 113),
            id(2012, 5, 11, 115),
            id(2012, 5, 12, 117),
        );
        let crlf = parse_roster(text.replace('\n', "\r\n").as_bytes()).unwrap();
        let r = parse_roster(text.as_bytes()).unwrap();
        assert_eq!(lines(&r), (vec![2, 10, 12, 14], vec![3, 4, 5, 6, 7, 11]));
        assert_eq!(lines(&crlf), lines(&r));
        let reasons: Vec<&str> = r.problems.iter().map(|p| p.reason.as_str()).collect();
        assert!(reasons[0].contains("invalid ID number") && reasons[0].contains("check character"));
        assert!(reasons[1].contains("impossible birth date") && reasons[1].contains("2019-02-30"));
        assert!(reasons[2].contains("missing name (姓名)"), "{}", reasons[2]);
        assert!(reasons[3].contains("duplicate ID number") && reasons[3].contains("line 2"));
        assert!(reasons[4].contains("sex (性别) 女 disagrees"), "{}", reasons[4]);
        assert!(reasons[5].contains("4 fields but the header has 6"), "{}", reasons[5]);
        assert_eq!(r.persons[2].1.name, "学生\n辛");
    }

    #[test]
    fn birth_date_must_agree_with_the_id() {
        let text = format!("姓名,出生日期,身份证号,学校,班级\n学生一,2013/9/2,{},示例小学,1班\n", id(2013, 9, 1, 1));
        let r = parse_roster(text.as_bytes()).unwrap();
        assert_eq!(r.problems.len(), 1);
        assert!(r.problems[0].reason.contains("2013-09-02 disagrees with the ID number's 2013-09-01"));
    }

    #[test]
    fn missing_required_column_names_it() {
        let reason = input_reason(parse_roster("姓名,身份证号,学校\n学生一,x,y\n".as_bytes()).unwrap_err());
        assert!(reason.contains("class (班级)") && reason.contains("班级, class"), "{reason}");
        assert!(reason.contains("the header row has 姓名, 身份证号, 学校 and 0 other cells"), "{reason}");
        let reason = input_reason(parse_roster(b"name,id,id_number,school,class\n").unwrap_err());
        assert!(reason.contains("`id` and `id_number`"), "{reason}");
        assert!(input_reason(parse_roster(b"\n \n").unwrap_err()).contains("empty"));
    }

    #[test]
    fn a_roster_without_a_header_row_says_so_without_its_data() {
        // Issue 14, defect 10: the message printed the first row, a child's name and ID number.
        let first = format!("张小明,{},示例小学,1班", id(2013, 9, 1, 1));
        let reason = input_reason(parse_roster(format!("{first}\n").as_bytes()).unwrap_err());
        assert!(!reason.contains("张小明") && !reason.contains(&id(2013, 9, 1, 1)), "{reason}");
        assert!(reason.contains("no known column name and 4 other cells"), "{reason}");
    }

    #[test]
    fn overlong_cells_are_row_problems() {
        // Issue 14, defect 11: a 3000-character school name aborted the whole print.
        let long = "长".repeat(3000);
        let text = format!(
            "姓名,身份证号,学校,班级\n学生一,{},{long},1班\n学生二,{},示例小学,1班\n",
            id(2013, 9, 1, 1),
            id(2013, 9, 2, 2)
        );
        let r = parse_roster(text.as_bytes()).unwrap();
        assert_eq!(r.persons.len(), 1);
        assert_eq!(r.problems.len(), 1);
        assert_eq!(r.problems[0].line, 2);
        assert!(r.problems[0].reason.contains("school (学校) is 3000 characters long"), "{}", r.problems[0].reason);
    }

    #[test]
    fn spreadsheet_safe_values_read_back_as_written() {
        let mut p = Person {
            name: "=cmd|' /C calc'!A0".into(),
            school: "+示例小学".into(),
            class: "@1班".into(),
            ..Person::default()
        };
        p.id_number = id(2013, 9, 1, 1);
        let mut out = Vec::new();
        write_roster_csv(std::slice::from_ref(&p), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("'=cmd") && text.contains("'+示例小学") && text.contains("'@1班"), "{text}");
        let back = parse_roster(text.as_bytes()).unwrap();
        assert!(back.problems.is_empty(), "{:?}", back.problems);
        assert_eq!((&back.persons[0].1.name, &back.persons[0].1.school), (&p.name, &p.school));
    }

    #[test]
    fn tab_and_semicolon_delimiters() {
        let a = id(2010, 10, 10, 21);
        for sep in ["\t", ";"] {
            let text = format!("*姓名{sep}Birth Date{sep}ID Number{sep}学校名称{sep}班级\n学生一{sep}{sep}{a}{sep}示例小学{sep}1班, 二组\n");
            let r = parse_roster(text.as_bytes()).unwrap();
            assert_eq!(lines(&r), (vec![2], vec![]), "{sep:?}");
            assert_eq!(r.persons[0].1.class, "1班, 二组");
        }
    }

    #[test]
    fn utf16_excel_unicode_text() {
        let text = format!("\u{FEFF}姓名\t身份证号\t学校\t班级\r\n学生一\t{}\t示例小学\t1班\r\n", id(2011, 3, 4, 5));
        let bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(lines(&parse_roster(&bytes).unwrap()), (vec![2], vec![]));
    }

    #[test]
    fn fullwidth_and_spreadsheet_ids() {
        let a = id(2011, 3, 4, 5);
        let wide: String = a.chars().map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap()).collect();
        let text = format!("name,id,school,class\n学生一,\u{3000}{wide} ,s,c\n学生二,4.50305E+17,s,c\n");
        let r = parse_roster(text.as_bytes()).unwrap();
        assert_eq!(r.persons[0].1.id_number, a);
        assert!(r.problems[0].reason.contains("format the column as text"));
    }

    #[test]
    fn limits() {
        let big = vec![b'a'; MAX_ROSTER_BYTES as usize + 1];
        assert!(matches!(parse_roster(&big), Err(Error::Limits { what: "roster file size", .. })));
        let mut text = String::from("name,id,school,class\n");
        text.push_str(&",,,\n".repeat(MAX_ROSTER_ROWS + 1));
        match parse_roster(text.as_bytes()) {
            Err(Error::Limits { what: "roster rows", actual, .. }) => assert_eq!(actual, 1_000_001),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn title_rows_and_spreadsheet_text_wrappers() {
        let (a, b) = (id(2011, 3, 4, 5), id(2011, 3, 4, 7));
        let text = format!(
            "示例小学学生名单,,,\n制表日期：2019年3月,,,\n姓名,身份证号,学校,班级\n\
             学生一,\"=\"\"{a}\"\"\",示例小学,1班\n学生二,'{b},示例小学,1班\n"
        );
        let r = parse_roster(text.as_bytes()).unwrap();
        assert_eq!(lines(&r), (vec![4, 5], vec![]));
        assert_eq!((r.persons[0].1.id_number.as_str(), r.persons[1].1.id_number.as_str()), (a.as_str(), b.as_str()));
    }

    #[test]
    fn undecodable_bytes_are_an_input_error() {
        assert!(input_reason(parse_roster(b"name,id\n\xff\x30").unwrap_err()).contains("GBK"));
    }

    #[test]
    fn write_then_read_round_trips() {
        let persons: Vec<Person> = (0..3u16)
            .map(|i| Person {
                name: format!("学生{i}"),
                sex: Some(if i % 2 == 1 { Sex::Male } else { Sex::Female }),
                ethnicity: "汉族".into(),
                birth_date: Some(Date::new(2012, 1, 1 + i as u8)),
                id_number: id(2012, 1, 1 + i as u8, i),
                school: "示例小学, 本部".into(),
                grade: "二年级".into(),
                class: "1班".into(),
                photo: (i == 0).then(|| "a \"b\".jpg".into()),
            })
            .collect();
        let mut out = Vec::new();
        write_roster_csv(&persons, &mut out).unwrap();
        assert!(out.starts_with(b"name,sex,ethnicity,birth_date,id_number,school,grade,class,photo\n"));
        let back: Vec<Person> = parse_roster(&out).unwrap().persons.into_iter().map(|p| p.1).collect();
        assert_eq!(back, persons);
    }

    #[test]
    fn read_roster_attaches_the_path() {
        let dir = std::env::temp_dir().join(format!("formscan-roster-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("r.csv");
        std::fs::write(&f, format!("name,id,school,class\n学生一,{},s,c\n", id(2011, 1, 1, 1))).unwrap();
        assert_eq!(read_roster(&f).unwrap().persons.len(), 1);
        std::fs::write(&f, "name,id\n").unwrap();
        assert!(matches!(read_roster(&f), Err(Error::Input { path: Some(p), .. }) if p == f));
        let missing = dir.join("missing.csv");
        assert!(matches!(read_roster(&missing), Err(Error::Io { path: Some(p), .. }) if p == missing));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let mut input = b"name,id,school,class\n".to_vec();
            input.extend_from_slice(&bytes);
            let _ = parse_roster(&input);
            let _ = parse_roster(&bytes);
        }

        #[test]
        fn never_panics_on_csvish_text(s in "[a-z0-9X,;\t\"\n\r 男女年月日１２]{0,200}") {
            let _ = parse_roster(format!("姓名,性别,出生日期,身份证号,学校,班级\n{s}").as_bytes());
        }
    }
}
