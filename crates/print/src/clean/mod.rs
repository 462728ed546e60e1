//! Data cleaning (数据清洗): from the insured-residents list and the school roll, minus people
//! who already hold a card and people whose card data is already submitted, the pending list
//! (待采人员数据库) grouped by school and class, plus a report of every person left out and why.
//!
//! The four inputs are CSV files read like rosters ([`crate::roster`]): UTF-8, UTF-16 with a
//! byte-order mark or GBK/GB18030; comma, tab or semicolon; Chinese or English headers, matched
//! case-insensitively after trimming; title rows above the header skipped; unknown columns
//! ignored.
//!
//! | List | Required columns | Optional columns |
//! |------|------------------|------------------|
//! | insured residents (参保人员) | ID number, name | sex, birth date, ethnicity, insured status, photo |
//! | school roll (学籍) | ID number, name, school, class | grade, sex, birth date |
//! | card holders (已持卡) | ID number | — |
//! | already submitted (已报盘) | ID number | — |
//!
//! Header aliases: ID number `公民身份号码`, `身份证号`, `身份证号码`, `证件号码`, `社会保障号码`,
//! `社会保障号`, `id_number`, `id`, `id_no`; name `姓名`, `学生姓名`, `name`, `student_name`; sex
//! `性别`, `sex`, `gender`; birth date `出生日期`, `birth_date`, `birthdate`, `dob`; ethnicity
//! `民族`, `ethnicity`, `nation`; insured status `参保状态`, `参保标志`, `insured_status`,
//! `insurance_status`, `status`; photo `照片`, `photo`, `photo_file`; school `学校`, `学校名称`,
//! `school`, `school_name`; grade `年级`, `grade`; class `班级`, `班级名称`, `class`, `class_name`.
//!
//! # The join
//!
//! People are joined on the normalised ID number (GB 11643-1999, checked with
//! [`formscan::domain::parse_id`]). Every data row of the insured list and the roll is accounted
//! for exactly once: each distinct valid ID number either becomes one pending [`Person`] or gets
//! exactly one [`Action::Dropped`] entry in the report; each row that cannot be joined at all
//! (invalid ID number, missing name/school/class, wrong number of cells) gets its own
//! `dropped` entry; an exact repeat of an earlier row gets [`Action::RowIgnored`]. Pending people
//! may also carry [`Action::Flagged`] entries. Rows of the holder and submitted lists only
//! remove people; their unusable rows are reported as `row_ignored`.
//!
//! When several reasons apply to one person, the first in this order is reported, explicit
//! removals first (they are the notice's "nothing to collect" cases), then join failures, then
//! data conflicts: `duplicate_conflict`, `holds_card`, `already_submitted`, `not_on_roll`,
//! `not_insured`, `data_conflict`.
//!
//! Decisions:
//! * **Name mismatch between the lists: keep and flag** (`name_mismatch`). The printed name
//!   comes from the insured list, because the card is issued against the insurance record; the
//!   form has a correction column (申领人更正) with a pasted ID copy for exactly this case
//!   (notice, section 三, rule 4), so a parent fixes it on paper, whereas dropping the child
//!   would silently leave them without a card. Names are compared after folding full-width
//!   characters, removing spaces and unifying the middle dots of minority names (`·`, `•`, `・`).
//! * **Sex or birth date contradicting the ID number: drop** (`data_conflict`). The ID number is
//!   the join key; a contradiction usually means it belongs to someone else (a sibling's number
//!   is the common mistake), and joining on it would attach one child's insurance to another.
//!   The list owner must correct the source.
//! * **Conflicting duplicates: drop every row of that ID** (`duplicate_conflict`): there is no
//!   telling which row is right. Exact repeats (same name, sex, birth date, school, grade,
//!   class) are harmless and only the repeat is ignored.
//! * **Insured status**: an empty cell, `参保`, `正常`, `正常参保`, `参保缴费`, `已参保`, `有效`,
//!   `在保`, `active`, `insured`, `normal`, `yes`, `是`, `1` count as insured; any other value
//!   (`停保`, `暂停参保`, `终止`, `suspended`, …) drops the person as `not_insured`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::roster::{self, Person, MAX_ROSTER_BYTES, MAX_ROSTER_ROWS};
use formscan::domain::{fold_fullwidth, normalize_id, parse_id, Date, Sex};
use formscan::error::{Error, Result};

/// Which input list a row came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    /// The insured-residents list (参保人员名单).
    Insured,
    /// The school roll (学籍名单).
    Roll,
    /// People who already hold a card (已持卡人员).
    Holders,
    /// People whose card data is already submitted (已报盘人员).
    Submitted,
}

impl ListKind {
    /// The list's wire name: `insured`, `roll`, `holders`, `submitted`.
    pub fn as_str(self) -> &'static str {
        match self {
            ListKind::Insured => "insured",
            ListKind::Roll => "roll",
            ListKind::Holders => "holders",
            ListKind::Submitted => "submitted",
        }
    }
}

/// A row of an input list: which list (and, for repeated lists, which file) and the 1-based
/// line where the row starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowRef {
    /// The list.
    pub list: ListKind,
    /// 0-based index of the file among the files given for this list (always 0 for the
    /// insured list and the roll).
    pub file: usize,
    /// 1-based line number.
    pub line: usize,
}

impl std::fmt::Display for RowRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.list {
            ListKind::Holders | ListKind::Submitted => {
                write!(f, "{}#{}:{}", self.list.as_str(), self.file + 1, self.line)
            }
            _ => write!(f, "{}:{}", self.list.as_str(), self.line),
        }
    }
}

/// Why a person or row is in the report. The wire names ([`Reason::as_str`]) are stable:
/// downstream tools key on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The ID number fails GB 11643-1999 (length, characters, birth date or check character).
    IdInvalid,
    /// The row lacks a name, school or class, or has the wrong number of cells.
    MissingData,
    /// One list has several rows with this ID number that disagree.
    DuplicateConflict,
    /// An exact repeat of an earlier row of the same list.
    DuplicateRow,
    /// On the card-holder list.
    HoldsCard,
    /// On the already-submitted list.
    AlreadySubmitted,
    /// Insured but on no school roll.
    NotOnRoll,
    /// On the roll but not (actively) insured.
    NotInsured,
    /// Sex or birth date in a list is unreadable or contradicts the ID number.
    DataConflict,
    /// The names in the insured list and the roll differ (the person is kept).
    NameMismatch,
}

impl Reason {
    /// The reason's stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::IdInvalid => "id_invalid",
            Reason::MissingData => "missing_data",
            Reason::DuplicateConflict => "duplicate_conflict",
            Reason::DuplicateRow => "duplicate_row",
            Reason::HoldsCard => "holds_card",
            Reason::AlreadySubmitted => "already_submitted",
            Reason::NotOnRoll => "not_on_roll",
            Reason::NotInsured => "not_insured",
            Reason::DataConflict => "data_conflict",
            Reason::NameMismatch => "name_mismatch",
        }
    }
}

/// What happened to the person or row of a report entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Not in the pending list.
    Dropped,
    /// In the pending list, with a note to check.
    Flagged,
    /// A row that stands for no person of its own (an exact repeat, or an unusable row of the
    /// holder or submitted list).
    RowIgnored,
}

impl Action {
    /// Wire name: `dropped`, `flagged`, `row_ignored`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Dropped => "dropped",
            Action::Flagged => "flagged",
            Action::RowIgnored => "row_ignored",
        }
    }
}

/// One line of the cleaning report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportEntry {
    /// Dropped, flagged or ignored.
    pub action: Action,
    /// Why.
    pub reason: Reason,
    /// The rows concerned.
    pub rows: Vec<RowRef>,
    /// The ID number as normalised (may be invalid for `id_invalid`).
    pub id_number: String,
    /// The name (from the insured list when known, else the roll).
    pub name: String,
    /// School, grade and class from the roll, when known.
    pub school: String,
    /// Grade.
    pub grade: String,
    /// Class.
    pub class: String,
    /// Details for people, in English with the Chinese term.
    pub message: String,
}

/// The outcome of [`clean`].
#[derive(Debug, Clone, Default)]
pub struct CleanResult {
    /// The pending list, sorted by school, grade, class, name and ID number.
    pub pending: Vec<Person>,
    /// Every dropped person, ignored row and flag, in the order of [`Reason`], then rows.
    pub report: Vec<ReportEntry>,
    /// Data rows read from the insured list (blank rows not counted).
    pub insured_rows: usize,
    /// Data rows read from the roll.
    pub roll_rows: usize,
}

/// Counts for a one-line summary (no personal data).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CleanCounts {
    /// Data rows read from the insured list.
    pub insured_rows: usize,
    /// Data rows read from the roll.
    pub roll_rows: usize,
    /// Pending persons.
    pub pending: usize,
    /// Dropped entries.
    pub dropped: usize,
    /// Flagged entries.
    pub flagged: usize,
    /// Ignored rows.
    pub ignored: usize,
    /// Entries by reason wire name.
    pub by_reason: BTreeMap<String, usize>,
}

impl CleanResult {
    /// Counts by action and reason.
    pub fn counts(&self) -> CleanCounts {
        let mut c = CleanCounts {
            insured_rows: self.insured_rows,
            roll_rows: self.roll_rows,
            pending: self.pending.len(),
            ..Default::default()
        };
        for e in &self.report {
            match e.action {
                Action::Dropped => c.dropped += 1,
                Action::Flagged => c.flagged += 1,
                Action::RowIgnored => c.ignored += 1,
            }
            *c.by_reason.entry(e.reason.as_str().to_string()).or_default() += 1;
        }
        c
    }
}

/// The input lists as raw file bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct CleanInputs<'a> {
    /// The insured-residents list.
    pub insured: &'a [u8],
    /// The school roll.
    pub roll: &'a [u8],
    /// Card-holder lists (any number).
    pub holders: &'a [&'a [u8]],
    /// Already-submitted lists (any number).
    pub submitted: &'a [&'a [u8]],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum C {
    Id,
    Name,
    Sex,
    Birth,
    Ethnicity,
    Status,
    Photo,
    School,
    Grade,
    Class,
}

const ALL_COLS: [(C, &str, &[&str]); 10] = [
    (
        C::Id,
        "ID number (公民身份号码)",
        &[
            "公民身份号码",
            "身份证号",
            "身份证号码",
            "证件号码",
            "社会保障号码",
            "社会保障号",
            "id_number",
            "id",
            "id_no",
        ],
    ),
    (C::Name, "name (姓名)", &["姓名", "学生姓名", "name", "student_name"]),
    (C::Sex, "sex (性别)", &["性别", "sex", "gender"]),
    (C::Birth, "birth date (出生日期)", &["出生日期", "birth_date", "birthdate", "dob"]),
    (C::Ethnicity, "ethnicity (民族)", &["民族", "ethnicity", "nation"]),
    (C::Status, "insured status (参保状态)", &["参保状态", "参保标志", "insured_status", "insurance_status", "status"]),
    (C::Photo, "photo (照片)", &["照片", "photo", "photo_file"]),
    (C::School, "school (学校)", &["学校", "学校名称", "school", "school_name"]),
    (C::Grade, "grade (年级)", &["年级", "grade"]),
    (C::Class, "class (班级)", &["班级", "班级名称", "class", "class_name"]),
];

/// Columns a list uses: (column, required).
fn spec(list: ListKind) -> &'static [(C, bool)] {
    match list {
        ListKind::Insured => &[
            (C::Id, true),
            (C::Name, true),
            (C::Sex, false),
            (C::Birth, false),
            (C::Ethnicity, false),
            (C::Status, false),
            (C::Photo, false),
        ],
        ListKind::Roll => &[
            (C::Id, true),
            (C::Name, true),
            (C::School, true),
            (C::Grade, false),
            (C::Class, true),
            (C::Sex, false),
            (C::Birth, false),
        ],
        ListKind::Holders | ListKind::Submitted => &[(C::Id, true)],
    }
}

/// One data row: trimmed cells by column, or why it is malformed.
struct Row {
    at: RowRef,
    cells: HashMap<C, String>,
    malformed: Option<String>,
}

impl Row {
    fn get(&self, c: C) -> &str {
        self.cells.get(&c).map_or("", String::as_str)
    }
}

/// Reads one list's table: encoding, delimiter and header as [`roster::parse_roster`] does.
fn read_table(bytes: &[u8], list: ListKind, file: usize) -> Result<Vec<Row>> {
    if bytes.len() as u64 > MAX_ROSTER_BYTES {
        return Err(roster::too_big(bytes.len() as u64));
    }
    let mut text = roster::decode(bytes)?;
    if text.contains('\r') {
        text = std::borrow::Cow::Owned(roster::lf_line_breaks(&text));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(roster::sniff_delimiter(&text))
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let cols = spec(list);
    let alias = |h: &str| {
        let h = roster::normalize_header(h);
        cols.iter().map(|c| c.0).find(|c| ALL_COLS.iter().any(|a| a.0 == *c && a.2.contains(&h.as_str())))
    };
    let head: Vec<csv::StringRecord> =
        records.by_ref().take(roster::HEADER_SEARCH_ROWS).collect::<Result<_, _>>().map_err(roster::csv_error)?;
    let known = |r: &csv::StringRecord| r.iter().filter(|h| alias(h).is_some()).count();
    let best = head.iter().map(known).max().unwrap_or(0);
    let Some(at) = head.iter().position(|r| known(r) == best && !roster::is_blank(r)) else {
        return Err(Error::input(format!("the {} list is empty: no header row", list.as_str())));
    };
    let header = head[at].clone();
    let mut index: HashMap<C, usize> = HashMap::new();
    for (i, h) in header.iter().enumerate() {
        if let Some(c) = alias(h) {
            if let Some(&first) = index.get(&c) {
                let what = ALL_COLS.iter().find(|a| a.0 == c).map_or("", |a| a.1);
                return Err(Error::input(format!(
                    "{} list: columns `{}` and `{}` both give the {what}; keep only one",
                    list.as_str(),
                    header[first].trim(),
                    h.trim()
                )));
            }
            index.insert(c, i);
        }
    }
    for (c, required) in cols {
        if *required && !index.contains_key(c) {
            let (_, what, aliases) = ALL_COLS.iter().find(|a| a.0 == *c).expect("every column has aliases");
            let known = |h: &str| ALL_COLS.iter().any(|a| a.2.contains(&h));
            return Err(Error::input(format!(
                "the {} list has no {what} column; accepted headers: {}; {}",
                list.as_str(),
                aliases.join(", "),
                crate::roster::header_found(&header, known)
            )));
        }
    }
    let width = header.iter().rev().skip_while(|h| h.trim().is_empty()).count();
    let mut rows = Vec::new();
    let mut n = 0usize;
    for rec in head.into_iter().skip(at + 1).map(Ok).chain(records) {
        let rec = rec.map_err(roster::csv_error)?;
        n += 1;
        if n > MAX_ROSTER_ROWS || roster::is_blank(&rec) {
            continue;
        }
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let extra = rec.iter().skip(width).any(|f| !f.trim().is_empty());
        let malformed =
            (rec.len() < width || extra).then(|| format!("row has {} cells but the header has {width}", rec.len()));
        let cells = index.iter().map(|(c, &i)| (*c, rec.get(i).map_or("", str::trim).to_string())).collect();
        rows.push(Row { at: RowRef { list, file, line }, cells, malformed });
    }
    if n > MAX_ROSTER_ROWS {
        return Err(Error::Limits { path: None, what: "list rows", actual: n as u64, limit: MAX_ROSTER_ROWS as u64 });
    }
    Ok(rows)
}

/// Normalises a name for comparison: full-width folded, spaces removed, middle dots unified.
fn name_key(s: &str) -> String {
    fold_fullwidth(s)
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| if matches!(c, '•' | '・' | '．' | '.' | '‧' | '∙') { '·' } else { c })
        .collect()
}

fn insured_ok(status: &str) -> bool {
    const YES: &[&str] = &[
        "",
        "参保",
        "正常",
        "正常参保",
        "参保缴费",
        "已参保",
        "有效",
        "在保",
        "active",
        "insured",
        "normal",
        "yes",
        "是",
        "1",
    ];
    YES.contains(&status.trim().to_lowercase().as_str())
}

/// Checks the row's sex and birth date cells against the ID; `Err` says what disagrees.
fn check_sex_birth(row: &Row, id_sex: Sex, id_birth: Date) -> std::result::Result<(), String> {
    let mut why = Vec::new();
    let sex = row.get(C::Sex);
    if !sex.is_empty() {
        match sex.parse::<Sex>() {
            Ok(s) if s != id_sex => why.push(format!(
                "{}: sex (性别) {} disagrees with the ID number's {}",
                row.at,
                s.as_zh(),
                id_sex.as_zh()
            )),
            Ok(_) => {}
            Err(_) => why.push(format!("{}: sex (性别) `{sex}` is not a sex", row.at)),
        }
    }
    let birth = fold_fullwidth(row.get(C::Birth));
    let birth = birth.trim();
    if !birth.is_empty() {
        match birth.parse::<Date>() {
            Ok(d) if d != id_birth => {
                why.push(format!("{}: birth date (出生日期) {d} disagrees with the ID number's {id_birth}", row.at))
            }
            Ok(_) => {}
            Err(_) => why.push(format!("{}: birth date (出生日期) `{birth}` is not a date", row.at)),
        }
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(why.join("; "))
    }
}

/// The identity of a row for telling exact repeats from conflicting duplicates.
fn row_key(r: &Row) -> Vec<String> {
    [C::Name, C::Sex, C::Birth, C::School, C::Grade, C::Class, C::Status]
        .iter()
        .map(|c| if *c == C::Name { name_key(r.get(*c)) } else { r.get(*c).to_lowercase() })
        .collect()
}

struct Entry<'r> {
    rows: Vec<&'r Row>,
    conflict: bool,
}

/// Splits a person list into valid rows by ID number (first occurrence order) and report
/// entries for rows that cannot be joined.
fn index_rows<'r>(
    rows: &'r [Row],
    required: &[C],
    report: &mut Vec<ReportEntry>,
) -> (Vec<String>, HashMap<String, Entry<'r>>) {
    let mut order = Vec::new();
    let mut by_id: HashMap<String, Entry<'r>> = HashMap::new();
    for r in rows {
        let raw = roster::unwrap_text_cell(r.get(C::Id));
        let entry = |reason, message: String| ReportEntry {
            action: Action::Dropped,
            reason,
            rows: vec![r.at],
            id_number: normalize_id(raw),
            name: r.get(C::Name).to_string(),
            school: r.get(C::School).to_string(),
            grade: r.get(C::Grade).to_string(),
            class: r.get(C::Class).to_string(),
            message,
        };
        let person_list = matches!(r.at.list, ListKind::Insured | ListKind::Roll);
        let drop = |mut e: ReportEntry| {
            if !person_list {
                e.action = Action::RowIgnored;
            }
            e
        };
        if let Some(m) = &r.malformed {
            report.push(drop(entry(
                Reason::MissingData,
                format!("{m}; look for an unquoted delimiter or a missing cell"),
            )));
            continue;
        }
        let info = if roster::looks_like_scientific(raw) {
            Err("was turned into a number by a spreadsheet; format the column as text and export again".to_string())
        } else if raw.is_empty() {
            Err("is missing".to_string())
        } else {
            parse_id(raw).map_err(|e| e.to_string())
        };
        let info = match info {
            Ok(i) => i,
            Err(e) => {
                report.push(drop(entry(Reason::IdInvalid, format!("ID number (公民身份号码) {e}"))));
                continue;
            }
        };
        let missing: Vec<&str> = required
            .iter()
            .filter(|c| r.get(**c).is_empty())
            .map(|c| ALL_COLS.iter().find(|a| a.0 == *c).map_or("", |a| a.1))
            .collect();
        if !missing.is_empty() {
            let mut e = entry(Reason::MissingData, format!("missing {}", missing.join(", ")));
            e.id_number = info.number.clone();
            report.push(drop(e));
            continue;
        }
        match by_id.get_mut(&info.number) {
            None => {
                order.push(info.number.clone());
                by_id.insert(info.number, Entry { rows: vec![r], conflict: false });
            }
            Some(e) => {
                if row_key(e.rows[0]) != row_key(r) {
                    e.conflict = true;
                }
                e.rows.push(r);
            }
        }
    }
    (order, by_id)
}

/// Reads the lists from files; see [`clean`]. Errors carry the offending file's path.
pub fn clean_files(insured: &Path, roll: &Path, holders: &[PathBuf], submitted: &[PathBuf]) -> Result<CleanResult> {
    let read = |p: &Path| roster::read_limited(p);
    let ins = read(insured)?;
    let rol = read(roll)?;
    let hol: Vec<Vec<u8>> = holders.iter().map(|p| read(p)).collect::<Result<_>>()?;
    let sub: Vec<Vec<u8>> = submitted.iter().map(|p| read(p)).collect::<Result<_>>()?;
    let hol_s: Vec<&[u8]> = hol.iter().map(Vec::as_slice).collect();
    let sub_s: Vec<&[u8]> = sub.iter().map(Vec::as_slice).collect();
    // Each list is parsed again inside `clean`; re-parse here only to name the failing file.
    let check = |b: &[u8], list, p: &Path| read_table(b, list, 0).map(|_| ()).map_err(|e| e.with_path(p));
    check(&ins, ListKind::Insured, insured)?;
    check(&rol, ListKind::Roll, roll)?;
    for (b, p) in hol.iter().zip(holders) {
        check(b, ListKind::Holders, p)?;
    }
    for (b, p) in sub.iter().zip(submitted) {
        check(b, ListKind::Submitted, p)?;
    }
    clean(&CleanInputs { insured: &ins, roll: &rol, holders: &hol_s, submitted: &sub_s })
}

/// Cleans the lists: see the module documentation for the rules. Fails only when a list cannot
/// be read as a table at all ([`Error::Input`]) or exceeds the roster limits
/// ([`Error::Limits`]); every bad row becomes a report entry.
pub fn clean(inputs: &CleanInputs) -> Result<CleanResult> {
    let insured_rows = read_table(inputs.insured, ListKind::Insured, 0)?;
    let roll_rows = read_table(inputs.roll, ListKind::Roll, 0)?;
    let mut report = Vec::new();
    let (ins_order, ins) = index_rows(&insured_rows, &[C::Name], &mut report);
    let (roll_order, roll) = index_rows(&roll_rows, &[C::Name, C::School, C::Class], &mut report);
    let mut removal = |bytes: &[&[u8]], list| -> Result<HashMap<String, RowRef>> {
        let mut ids = HashMap::new();
        for (k, b) in bytes.iter().enumerate() {
            let rows = read_table(b, list, k)?;
            let (order, by_id) = index_rows(&rows, &[], &mut report);
            for id in order {
                ids.entry(id.clone()).or_insert(by_id[&id].rows[0].at);
            }
        }
        Ok(ids)
    };
    let holders = removal(inputs.holders, ListKind::Holders)?;
    let submitted = removal(inputs.submitted, ListKind::Submitted)?;

    let mut seen = HashSet::new();
    let ids: Vec<&String> = ins_order.iter().chain(&roll_order).filter(|id| seen.insert(*id)).collect();
    let mut pending = Vec::new();
    for id in ids {
        let (i, r) = (ins.get(id), roll.get(id));
        let (ir, rr) = (i.map(|e| e.rows[0]), r.map(|e| e.rows[0]));
        let mut rows: Vec<RowRef> = Vec::new();
        for e in [i, r].into_iter().flatten() {
            rows.extend(e.rows.iter().map(|x| x.at));
        }
        let base = ReportEntry {
            action: Action::Dropped,
            reason: Reason::NotOnRoll,
            rows: rows.clone(),
            id_number: id.clone(),
            name: ir.or(rr).map(|x| x.get(C::Name).to_string()).unwrap_or_default(),
            school: rr.map(|x| x.get(C::School).to_string()).unwrap_or_default(),
            grade: rr.map(|x| x.get(C::Grade).to_string()).unwrap_or_default(),
            class: rr.map(|x| x.get(C::Class).to_string()).unwrap_or_default(),
            message: String::new(),
        };
        let drop = |reason, message: String| ReportEntry { reason, message, ..base.clone() };
        // Exact repeats: the person stands on the first row; each repeat is reported.
        for e in [i, r].into_iter().flatten().filter(|e| !e.conflict) {
            for x in &e.rows[1..] {
                report.push(ReportEntry {
                    action: Action::RowIgnored,
                    rows: vec![x.at],
                    ..drop(Reason::DuplicateRow, format!("repeats {} exactly", e.rows[0].at))
                });
            }
        }
        let conflict: Vec<String> = [i, r]
            .into_iter()
            .flatten()
            .filter(|e| e.conflict)
            .map(|e| e.rows.iter().map(|x| x.at.to_string()).collect::<Vec<_>>().join(", "))
            .collect();
        let info = parse_id(id).expect("indexed IDs are valid");
        let status = ir.map(|x| x.get(C::Status)).unwrap_or("");
        let sex_birth: Vec<String> = [ir, rr]
            .into_iter()
            .flatten()
            .filter_map(|x| check_sex_birth(x, info.sex, info.birth_date).err())
            .collect();
        let entry = if !conflict.is_empty() {
            Some(drop(
                Reason::DuplicateConflict,
                format!("rows {} give the same ID number with different data; correct the list", conflict.join("; ")),
            ))
        } else if let Some(at) = holders.get(id) {
            Some(drop(Reason::HoldsCard, format!("already holds a card (已持卡), {at}")))
        } else if let Some(at) = submitted.get(id) {
            Some(drop(Reason::AlreadySubmitted, format!("card data already submitted (已报盘), {at}")))
        } else if rr.is_none() {
            Some(drop(Reason::NotOnRoll, "insured but on no school roll (学籍)".into()))
        } else if ir.is_none() {
            Some(drop(Reason::NotInsured, "on the school roll but not in the insured-residents list (未参保)".into()))
        } else if !insured_ok(status) {
            Some(drop(Reason::NotInsured, format!("insured status (参保状态) is `{status}`, not active")))
        } else if !sex_birth.is_empty() {
            Some(drop(Reason::DataConflict, sex_birth.join("; ")))
        } else {
            None
        };
        if let Some(e) = entry {
            report.push(e);
            continue;
        }
        let (ir, rr) = (ir.expect("insured"), rr.expect("on roll"));
        if name_key(ir.get(C::Name)) != name_key(rr.get(C::Name)) {
            report.push(ReportEntry {
                action: Action::Flagged,
                ..drop(
                    Reason::NameMismatch,
                    format!(
                        "name (姓名) differs: insured list `{}`, roll `{}`; the form prints the insured list's, \
                         the parent corrects it on the form if needed",
                        ir.get(C::Name),
                        rr.get(C::Name)
                    ),
                )
            });
        }
        let ethnicity = Some(ir.get(C::Ethnicity)).filter(|s| !s.is_empty()).unwrap_or("");
        pending.push(Person {
            name: ir.get(C::Name).to_string(),
            sex: Some(info.sex),
            ethnicity: ethnicity.to_string(),
            birth_date: Some(info.birth_date),
            id_number: info.number.clone(),
            school: rr.get(C::School).to_string(),
            grade: rr.get(C::Grade).to_string(),
            class: rr.get(C::Class).to_string(),
            photo: Some(ir.get(C::Photo).to_string()).filter(|s| !s.is_empty()),
        });
    }
    pending.sort_by(|a, b| {
        (&a.school, &a.grade, &a.class, &a.name, &a.id_number).cmp(&(
            &b.school,
            &b.grade,
            &b.class,
            &b.name,
            &b.id_number,
        ))
    });
    report.sort_by_key(|e| (e.reason, e.rows.first().map(|r| (r.list, r.file, r.line))));
    Ok(CleanResult { pending, report, insured_rows: insured_rows.len(), roll_rows: roll_rows.len() })
}

/// Writes the report as UTF-8 CSV with a byte-order mark (Excel opens it correctly) and the
/// columns `action, reason, rows, id_number, name, school, grade, class, message`; `rows` lists
/// `list:line` references (`holders#2:5` for the fifth line of the second holder file) joined
/// by `;`. Text from the lists is made spreadsheet-safe ([`formscan::output::spreadsheet_safe`]).
pub fn write_report_csv<W: Write>(report: &[ReportEntry], mut w: W) -> Result<()> {
    w.write_all("\u{FEFF}".as_bytes())?;
    let mut out = csv::Writer::from_writer(w);
    out.write_record(["action", "reason", "rows", "id_number", "name", "school", "grade", "class", "message"])
        .map_err(roster::csv_error)?;
    for e in report {
        let rows: Vec<String> = e.rows.iter().map(ToString::to_string).collect();
        let safe = formscan::output::spreadsheet_safe;
        out.write_record([
            e.action.as_str(),
            e.reason.as_str(),
            &rows.join(";"),
            &safe(&e.id_number),
            &safe(&e.name),
            &safe(&e.school),
            &safe(&e.grade),
            &safe(&e.class),
            &safe(&e.message),
        ])
        .map_err(roster::csv_error)?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests;
