//! `formscan export`: the card-data file (制卡数据) and photos for the bureau.
//!
//! # Layout
//!
//! One folder per school under the output folder, named by [`school_dir`] (the school name
//! with characters unsafe in file names replaced by `_`, and a short hash of the name when
//! that changed it, so two schools never share a folder), holding `card-data.csv` and
//! `photos/<ID number>.jpg`. The CSV has a header row and one record per person, sorted by
//! grade, class and ID number:
//!
//! | column | content |
//! |---|---|
//! | 姓名 | name (a keyed correction replaces the printed roster name) |
//! | 公民身份号码 | ID number (an accepted or keyed valid correction replaces the printed one) |
//! | 性别 | 男 / 女 (from the ID number) |
//! | 民族 | ethnicity |
//! | 出生日期 | birth date `YYYY-MM-DD` (from the ID number) |
//! | 手机号码 | applicant's phone, 11 digits |
//! | 代理人姓名 | agent's name, as keyed ([`crate::keying`]) |
//! | 代理人公民身份号码 | agent's ID number |
//! | 代理人手机号码 | agent's phone |
//! | 代理人关系 | 父亲 / 母亲 / 祖父母 / 外祖父母 / 其他 |
//! | 学校 | school |
//! | 班级 | grade and class, e.g. `一年级1班` |
//! | 照片 | photo file name `<ID number>.jpg`, empty when there is no card photo |
//!
//! Encoding: UTF-8 (with a byte-order mark, for Excel) or GBK ([`CsvEncoding`]); a character
//! GBK cannot hold stops the export rather than being replaced. A cell that a spreadsheet would
//! run as a formula (starting with `=`, `+`, `-`, `@`) gets a leading `'`
//! ([`formscan::output::spreadsheet_safe`]).
//!
//! Photos: the card photo that `process` wrote for the scan that counts (as
//! `photos/<school>/<ID>-<scan tag>.jpg` in its output folder, recorded in the store) is copied
//! as `<ID>.jpg`; when none exists the column is empty and no photo is written.
//!
//! # Exactly once, reproducibly
//!
//! Values are the fields' values as [`crate::keying::field_value`] decides: a final keyed value,
//! else the reader's accepted one.
//!
//! # Never an empty required value
//!
//! A row is written only when every value it needs is there: every keyed field the form has
//! ink in (a written phone that was never read is not exported as empty), and under 16 the
//! agent's ID number, phone and relationship (notice 三.5). A person who lacks one is held
//! back ([`ExportSummary::held_back`]), stays unexported, and goes out in a later export once
//! the value is keyed. Status already keeps such forms in review; this is the last check.
//!
//! Only accepted persons (no open findings) are exported, each once. An export writes every
//! file into a hidden staging folder inside the output folder first, then records its persons
//! in the store as a numbered batch, then moves the school folders into place. So a folder that
//! cannot be written (read-only, full) fails the export before anything is recorded, and the
//! same command works again once the folder is fixed. Should the last move fail, the batch is
//! recorded and the error says how to write it again: [`ExportOptions::batch`] writes an
//! earlier batch again, byte for byte the same (rows are sorted and the files hold no
//! timestamps). A new batch never overwrites a school folder already in the output folder.
//!
//! One export at a time per store ([`Store::claim_writer`]).

use super::{assess, AssessOptions, Assessed, FormStatus};
use crate::keying::KeyingPolicy;
use crate::store::{PageView, Store};
use formscan::domain::{parse_id, Date};
use formscan::error::{Error, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Text encoding of `card-data.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsvEncoding {
    /// UTF-8 with a byte-order mark. The default: it holds every name.
    #[default]
    Utf8,
    /// GBK, for older provincial card systems.
    Gbk,
}

impl std::str::FromStr for CsvEncoding {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Ok(CsvEncoding::Utf8),
            "gbk" | "gb2312" | "gb18030" => Ok(CsvEncoding::Gbk),
            _ => Err(format!("unknown encoding `{s}` (utf-8 or gbk)")),
        }
    }
}

/// Export settings.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Schools to export; empty (the default) exports all.
    pub schools: Vec<String>,
    /// CSV encoding. Default UTF-8.
    pub encoding: CsvEncoding,
    /// Write the earlier batch with this id again instead of a new one. Default none.
    pub batch: Option<i64>,
    /// Status settings.
    pub assess: AssessOptions,
}

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// The batch id (none when nothing was left to export).
    pub batch: Option<i64>,
    /// Persons exported.
    pub persons: usize,
    /// School folders written.
    pub schools: usize,
    /// Photos copied.
    pub photos: usize,
    /// Accepted persons not exported because a value their row needs is missing (module notes).
    pub held_back: usize,
}

/// The card-data header.
pub const HEADER: [&str; 13] = [
    "姓名",
    "公民身份号码",
    "性别",
    "民族",
    "出生日期",
    "手机号码",
    "代理人姓名",
    "代理人公民身份号码",
    "代理人手机号码",
    "代理人关系",
    "学校",
    "班级",
    "照片",
];

fn relation_zh(v: &str) -> &str {
    crate::keying::RELATIONS.iter().find(|(k, _)| *k == v).map(|(_, zh)| *zh).unwrap_or("")
}

/// A field's value: final keyed, else accepted as read ([`crate::keying::field_value`]).
fn value(page: &PageView, name: &str, policy: &KeyingPolicy) -> Option<String> {
    crate::keying::field_value(page, name, policy).value().map(str::to_string)
}

/// The values a person's row needs that are missing (module notes): empty when it can go out.
fn missing_values(a: &Assessed, page: &PageView, policy: &KeyingPolicy, reference: Date) -> Vec<&'static str> {
    let mut out = Vec::new();
    for (field, class) in crate::keying::KEYED_FIELDS {
        // A written value, or a relationship box ticked: either must have a value to go out.
        let written = match class {
            crate::keying::FieldClass::Choice => {
                page.fields.get(&crate::keying::stored_name(field)).is_some_and(|f| f.state != "none")
            }
            _ => page.fields.get(field).is_some_and(|f| f.state == "ink"),
        };
        if written && value(page, field, policy).is_none() {
            out.push(field);
        }
    }
    let id =
        crate::rules::preferred_id(value(page, "applicant_id_fix", policy).as_deref(), &a.view.person.person.id_number);
    let birth = parse_id(&id).ok().map(|i| i.birth_date).or(a.view.person.person.birth_date);
    if birth.is_some_and(|b| b.age_on(reference) < formscan::domain::AGENT_UNDER) {
        for field in ["agent_id", "agent_phone"] {
            if value(page, field, policy).is_none() && !out.contains(&field) {
                out.push(field);
            }
        }
        if value(page, "agent_relation", policy).is_none() && !out.contains(&"agent_relation") {
            out.push("agent_relation");
        }
    }
    out
}

/// A folder name for a school, unique per school: [`formscan::output::unique_file_name`].
pub fn school_dir(school: &str) -> String {
    formscan::output::unique_file_name(school)
}

/// A card-data record.
type CardRow = [String; 13];
/// A photo to copy: source file and output name.
type Photo = Option<(PathBuf, String)>;

/// One person's card-data record and the photo to copy.
fn record(a: &Assessed, page: &PageView, policy: &KeyingPolicy) -> (CardRow, Photo) {
    let p = &a.view.person.person;
    let id = crate::rules::preferred_id(value(page, "applicant_id_fix", policy).as_deref(), &p.id_number);
    let info = parse_id(&id).ok();
    let sex = info.as_ref().map(|i| i.sex).or(p.sex).map(|s| s.as_zh()).unwrap_or("");
    let birth = info.as_ref().map(|i| i.birth_date).or(p.birth_date).map(|d| d.to_string()).unwrap_or_default();
    let relation = value(page, "agent_relation", policy).map(|v| relation_zh(&v).to_string()).unwrap_or_default();
    // The card photo of this scan, as intake recorded it (`photos/<school>/<ID>-<scan tag>.jpg`;
    // a photo under `photos-review/` is no card photo). Stores written before photos were named
    // per scan hold no name: there the photo is `photos/<school>/<ID>.jpg`.
    let photo = match page.fields.get("photo").and_then(|f| f.value.as_deref()) {
        Some(rel) => Some(Path::new(&page.out_dir).join(rel)).filter(|f| rel.starts_with("photos/") && f.is_file()),
        None => {
            let dir = Path::new(&page.out_dir).join("photos").join(formscan::lookup::safe_name(&p.school));
            [&id, &p.id_number]
                .iter()
                .map(|i| dir.join(format!("{}.jpg", formscan::lookup::safe_name(i))))
                .find(|f| f.is_file())
        }
    };
    let name = format!("{id}.jpg");
    let row = [
        value(page, "applicant_name_fix", policy).unwrap_or_else(|| p.name.clone()),
        id.clone(),
        sex.to_string(),
        p.ethnicity.clone(),
        birth,
        value(page, "applicant_phone", policy).unwrap_or_default(),
        value(page, "agent_name", policy).unwrap_or_default(),
        value(page, "agent_id", policy).unwrap_or_default(),
        value(page, "agent_phone", policy).unwrap_or_default(),
        relation.to_string(),
        p.school.clone(),
        format!("{}{}", p.grade, p.class),
        if photo.is_some() { name.clone() } else { String::new() },
    ];
    (row, photo.map(|f| (f, name)))
}

fn encode(text: &str, enc: CsvEncoding, path: &Path) -> Result<Vec<u8>> {
    match enc {
        CsvEncoding::Utf8 => Ok(["\u{feff}", text].concat().into_bytes()),
        CsvEncoding::Gbk => {
            let (bytes, _, bad) = encoding_rs::GBK.encode(text);
            if bad {
                return Err(Error::input_at(path, "a value has characters that GBK cannot hold; export as UTF-8"));
            }
            Ok(bytes.into_owned())
        }
    }
}

/// Exports accepted, not yet exported persons of the chosen schools into `out` as a new
/// batch (or rewrites batch [`ExportOptions::batch`]); see the module docs.
pub fn export(store: &mut dyn Store, out: &Path, opts: &ExportOptions) -> Result<ExportSummary> {
    store.claim_writer("export")?;
    let all = assess(store, &opts.assess)?;
    let policy = &opts.assess.keying;
    let reference = store.reference_date()?;
    let by_key: HashMap<i64, &Assessed> = all.iter().map(|a| (a.view.person.key, a)).collect();
    let mut held_back = 0;
    let items: Vec<(i64, i64)> = match opts.batch {
        Some(id) => store.export_batch(id)?.1,
        None => all
            .iter()
            .filter(|a| a.status == FormStatus::Accepted && a.view.exported.is_none())
            .filter(|a| opts.schools.is_empty() || opts.schools.contains(&a.view.person.person.school))
            .filter_map(|a| Some((a, &a.view.pages[a.page?])))
            .filter(|(a, page)| {
                let m = missing_values(a, page, policy, reference);
                let ready = m.is_empty();
                held_back += usize::from(!ready);
                ready
            })
            .map(|(a, page)| (a.view.person.key, page.id))
            .collect(),
    };
    if items.is_empty() {
        return Ok(ExportSummary { held_back, ..ExportSummary::default() });
    }
    let mut schools: BTreeMap<String, Vec<(String, CardRow, Photo)>> = BTreeMap::new();
    for (key, page_id) in &items {
        let a = by_key.get(key).ok_or_else(|| Error::input(format!("export: unknown person {key}")))?;
        let page = a
            .view
            .pages
            .iter()
            .find(|p| p.id == *page_id)
            .ok_or_else(|| Error::input(format!("export: unknown page {page_id}")))?;
        let (row, photo) = record(a, page, policy);
        let p = &a.view.person.person;
        let sort = format!("{}\u{0}{}\u{0}{}", p.grade, p.class, row[1]);
        schools.entry(p.school.clone()).or_default().push((sort, row, photo));
    }
    // One folder per school, and no school's folder taken by another (hash suffixes collide
    // only by accident of SHA-256; that would be refused here rather than merged).
    let mut folders: BTreeMap<String, String> = BTreeMap::new();
    for school in schools.keys() {
        if let Some(other) = folders.insert(school_dir(school), school.clone()) {
            return Err(Error::input(format!("two schools map to one export folder: `{other}` and `{school}`")));
        }
    }
    formscan::output::private_dir(out)?;
    if opts.batch.is_none() {
        if let Some(dir) = folders.keys().map(|d| out.join(d)).find(|d| d.exists()) {
            return Err(Error::input_at(
                dir,
                "this folder already holds an export of the school; export into an empty folder \
                 (or write an earlier batch again with --batch N)",
            ));
        }
    }
    let staging = out.join(format!(".export-{}.tmp", std::process::id()));
    let staged = stage(&staging, schools, opts.encoding);
    let staged = match staged {
        Ok(photos) => photos,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(Error::Io {
                path: Some(out.to_path_buf()),
                source: std::io::Error::other(format!(
                    "could not write the export ({e}); nothing was recorded as exported: fix the \
                     folder (space, permissions) and run the same export again"
                )),
            });
        }
    };
    let batch = match opts.batch {
        Some(id) => id,
        None => {
            let selection = if opts.schools.is_empty() { "all".to_string() } else { opts.schools.join("|") };
            match store.record_export(&selection, &items) {
                Ok(id) => id,
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&staging);
                    return Err(e);
                }
            }
        }
    };
    for folder in folders.keys() {
        let (from, to) = (staging.join(folder), out.join(folder));
        if opts.batch.is_some() && to.exists() {
            std::fs::remove_dir_all(&to).map_err(|e| Error::io_at(&to, e))?;
        }
        std::fs::rename(&from, &to).map_err(|e| {
            Error::io_at(
                &to,
                std::io::Error::other(format!(
                    "{e}; export batch {batch} is recorded: write it again with `formscan export --batch {batch}`"
                )),
            )
        })?;
    }
    let _ = std::fs::remove_dir_all(&staging);
    Ok(ExportSummary { batch: Some(batch), persons: items.len(), schools: folders.len(), photos: staged, held_back })
}

/// Writes every school's folder under `staging`; returns the photos copied.
fn stage(
    staging: &Path,
    schools: BTreeMap<String, Vec<(String, CardRow, Photo)>>,
    encoding: CsvEncoding,
) -> Result<usize> {
    let mut photos = 0;
    for (school, mut rows) in schools {
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let dir = staging.join(school_dir(&school));
        formscan::output::private_dir(&dir)?;
        let mut w = csv::Writer::from_writer(Vec::new());
        let path = dir.join("card-data.csv");
        let err = |e: csv::Error| Error::io_at(&path, std::io::Error::other(e));
        w.write_record(HEADER).map_err(err)?;
        for (_, row, _) in &rows {
            w.write_record(row.iter().map(|c| formscan::output::spreadsheet_safe(c).into_owned())).map_err(err)?;
        }
        let text = String::from_utf8(w.into_inner().map_err(|e| Error::io_at(&path, e.into_error()))?)
            .map_err(|e| Error::input(e.to_string()))?;
        formscan::output::write_atomic(&path, &encode(&text, encoding, &path)?)?;
        for (_, _, photo) in &rows {
            if let Some((src, name)) = photo {
                let pdir = dir.join("photos");
                formscan::output::private_dir(&pdir)?;
                let data = std::fs::read(src).map_err(|e| Error::io_at(src, e))?;
                formscan::output::write_atomic(&pdir.join(name), &data)?;
                photos += 1;
            }
        }
    }
    Ok(photos)
}
