//! Form templates: where everything on the page is, in millimetres from the page's top-left
//! corner, and what kind of thing it is. The file format is documented field by field in
//! `docs/template-format.md`; [`Template::from_toml`] parses and validates it.

mod parse;

use crate::error::{Error, Result};
use crate::geometry::Rect;
use serde::Serialize;

/// The built-in student application form (社会保障卡申领登记表).
pub const SBK_STUDENT_TOML: &str = include_str!("../../templates/sbk-student.toml");

/// A validated form template.
#[derive(Debug, Clone, Serialize)]
pub struct Template {
    /// Stable id printed in the page barcode, e.g. `sbk-student`.
    pub id: String,
    /// Layout version; bump it whenever a position changes.
    pub version: u32,
    /// Title printed at the top of the form.
    pub title: String,
    /// Page width in mm.
    pub width: f64,
    /// Page height in mm.
    pub height: f64,
    /// Registration marks (solid black squares).
    pub marks: Vec<Mark>,
    /// Static printed text.
    pub labels: Vec<Label>,
    /// Static printed rules, in the drop-out colour.
    pub rules: Vec<Rule>,
    /// Checkbox groups.
    pub groups: Vec<Group>,
    /// The fields, in file order.
    pub fields: Vec<Field>,
}

/// A solid square registration mark.
#[derive(Debug, Clone, Serialize)]
pub struct Mark {
    /// Name, for diagnostics.
    pub name: String,
    /// Top-left corner and size (square).
    pub rect: Rect,
}

/// A static text run.
#[derive(Debug, Clone, Serialize)]
pub struct Label {
    /// The text.
    pub text: String,
    /// Baseline start (or centre, with `center`), mm.
    pub x: f64,
    /// Baseline y, mm.
    pub y: f64,
    /// Em size in mm.
    pub size: f64,
    /// Centre the run on `x`.
    pub center: bool,
}

/// A straight printed rule.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    /// Start x.
    pub x1: f64,
    /// Start y.
    pub y1: f64,
    /// End x.
    pub x2: f64,
    /// End y.
    pub y2: f64,
}

/// How many boxes of a checkbox group may be ticked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// Exactly one (two ticks make the group ambiguous).
    Single,
    /// Any number.
    Multi,
}

/// A named group of checkboxes.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// Name, referenced by each checkbox's `group`.
    pub name: String,
    /// Single or multiple choice.
    pub choice: Choice,
    /// Label, for people.
    pub label: String,
}

/// Which characters a comb field accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Charset {
    /// Digits 0–9 in every cell (phone numbers).
    Digits,
    /// Digits, with `X` also allowed in the last cell (GB 11643 ID numbers).
    IdNumber,
}

/// Roster values a `printed` field can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Name.
    Name,
    /// Sex (男/女).
    Sex,
    /// Ethnicity.
    Ethnicity,
    /// Birth date.
    BirthDate,
    /// ID number.
    IdNumber,
    /// School.
    School,
    /// Grade.
    Grade,
    /// Class.
    Class,
    /// Form serial and print run.
    Serial,
}

/// What a field is and how it is read.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FieldKind {
    /// A page-identification QR code.
    Barcode,
    /// One tick box of a group.
    Checkbox {
        /// The group's name.
        group: String,
        /// The value the box stands for.
        value: String,
    },
    /// A row of `cells` equal boxes, one character each.
    Comb {
        /// Number of cells.
        cells: u32,
        /// Accepted characters.
        charset: Charset,
    },
    /// A free handwriting box.
    Text,
    /// A signature box.
    Signature,
    /// The photo box.
    Photo,
    /// The document paste area.
    Paste,
    /// A roster value printed on the form.
    Printed {
        /// Which value.
        source: Source,
        /// Em size of the printed text, mm.
        size: f64,
    },
}

impl FieldKind {
    /// The kind's name as written in template files.
    pub fn name(&self) -> &'static str {
        match self {
            FieldKind::Barcode => "barcode",
            FieldKind::Checkbox { .. } => "checkbox",
            FieldKind::Comb { .. } => "comb",
            FieldKind::Text => "text",
            FieldKind::Signature => "signature",
            FieldKind::Photo => "photo",
            FieldKind::Paste => "paste",
            FieldKind::Printed { .. } => "printed",
        }
    }
}

/// One field of a template.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    /// Unique name, used as the key in records.
    pub name: String,
    /// What it is.
    #[serde(flatten)]
    pub kind: FieldKind,
    /// A label for people (review lists, docs); the printed labels are the `[[labels]]`.
    pub label: Option<String>,
    /// Where, in mm.
    pub rect: Rect,
}

impl Field {
    /// The rectangle of comb cell `i` (comb fields only; other kinds return the whole rect).
    pub fn cell(&self, i: u32) -> Rect {
        match self.kind {
            FieldKind::Comb { cells, .. } if cells > 0 => {
                let w = self.rect.w / cells as f64;
                Rect::new(self.rect.x + w * i as f64, self.rect.y, w, self.rect.h)
            }
            _ => self.rect,
        }
    }
}

impl Template {
    /// Parses and validates a template from TOML text. `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Template> {
        parse::parse(text, origin)
    }

    /// Loads a template file.
    pub fn from_file(path: &std::path::Path) -> Result<Template> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io_at(path, e))?;
        Template::from_toml(&text, &path.display().to_string())
    }

    /// The built-in student application form.
    pub fn sbk_student() -> Template {
        Template::from_toml(SBK_STUDENT_TOML, "sbk-student.toml").expect("built-in template is valid")
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The group called `name`.
    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// Fields of one kind, by kind name.
    pub fn fields_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Field> + 'a {
        self.fields.iter().filter(move |f| f.kind.name() == kind)
    }
}

/// The hint printed in drop-out red in an empty photo box ("paste a 1-inch colour photo on
/// white"), two centred lines with baselines 1 mm above and 3.5 mm below the box centre.
pub const PHOTO_HINT: [&str; 2] = ["粘贴1寸", "白底彩照"];

/// Size of the photo-box hint, mm.
pub const PHOTO_HINT_SIZE: f64 = 3.0;

/// The area the photo-box hint covers in a box `bx` (template mm), with 1 mm to spare: the
/// photo reader reads drop-out red there as paper.
pub fn photo_hint_area(bx: Rect) -> Rect {
    let c = bx.center();
    let half_w = PHOTO_HINT.iter().map(|l| l.chars().count()).max().unwrap_or(0) as f64 * PHOTO_HINT_SIZE / 2.0;
    // From the first line's ascent to the second line's descent.
    let (top, bottom) = (c.y - 1.0 - PHOTO_HINT_SIZE, c.y + 3.5 + 0.25 * PHOTO_HINT_SIZE);
    Rect::new(c.x - half_w, top, 2.0 * half_w, bottom - top).inflate(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_template_is_valid() {
        let t = Template::sbk_student();
        assert_eq!(t.id, "sbk-student");
        assert!(t.marks.len() >= 6);
        assert_eq!(t.fields_of("barcode").count(), 2);
        let id = t.field("applicant_id_fix").unwrap();
        assert_eq!(id.kind, FieldKind::Comb { cells: 18, charset: Charset::IdNumber });
        assert!((id.cell(17).right() - id.rect.right()).abs() < 1e-9);
        assert_eq!(
            t.fields_of("checkbox")
                .filter(|f| matches!(&f.kind, FieldKind::Checkbox { group, .. } if group == "agent_relation"))
                .count(),
            5
        );
    }
}
