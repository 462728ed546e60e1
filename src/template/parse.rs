//! Template file → [`Template`], with errors that name the offending field.
//!
//! The file is first read into loose "raw" structs (every kind-specific key optional), then
//! checked by hand: serde's own messages for an internally tagged enum cannot say which field
//! of a long list is wrong, and a vendor editing a template needs exactly that.

use super::*;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTemplate {
    id: String,
    version: u32,
    title: String,
    width: f64,
    height: f64,
    #[serde(default)]
    marks: Vec<RawMark>,
    #[serde(default)]
    labels: Vec<RawLabel>,
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    groups: Vec<RawGroup>,
    #[serde(default)]
    fields: Vec<RawField>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMark {
    name: String,
    x: f64,
    y: f64,
    size: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLabel {
    text: String,
    x: f64,
    y: f64,
    size: f64,
    #[serde(default)]
    center: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    x1: f64,
    y1: f64,
    x2: f64,
    y2: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    name: String,
    choice: String,
    label: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    name: String,
    kind: String,
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    label: Option<String>,
    group: Option<String>,
    value: Option<String>,
    cells: Option<u32>,
    charset: Option<String>,
    source: Option<String>,
    size: Option<f64>,
}

/// Smallest sensible field side: below ~2 mm a pen mark cannot be told from a speck.
const MIN_SIDE_MM: f64 = 2.0;

pub(super) fn parse(text: &str, origin: &str) -> Result<Template> {
    let raw: RawTemplate = toml::from_str(text).map_err(|e| Error::Template {
        template: origin.to_string(),
        field: None,
        reason: e.to_string(),
    })?;
    let name = if raw.id.is_empty() { origin.to_string() } else { raw.id.clone() };
    let err = |field: Option<&str>, reason: String| Error::Template {
        template: name.clone(),
        field: field.map(str::to_string),
        reason,
    };
    if raw.id.is_empty()
        || !raw.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        || raw.id.len() > 32
    {
        return Err(err(None, "id must be 1–32 ASCII letters, digits, '-' or '_'".into()));
    }
    if !(50.0..=1000.0).contains(&raw.width) || !(50.0..=1000.0).contains(&raw.height) {
        return Err(err(None, format!("page size {} × {} mm is not a paper size", raw.width, raw.height)));
    }
    let page = Rect::new(0.0, 0.0, raw.width, raw.height);
    let inside = |r: &Rect| r.x >= 0.0 && r.y >= 0.0 && r.right() <= page.w && r.bottom() <= page.h;

    let mut marks = Vec::new();
    for m in raw.marks {
        let rect = Rect::new(m.x, m.y, m.size, m.size);
        if !inside(&rect) || m.size < MIN_SIDE_MM || !m.size.is_finite() {
            return Err(err(Some(&m.name), "mark is off the page or too small".into()));
        }
        marks.push(Mark { name: m.name, rect });
    }
    if marks.len() < 6 {
        return Err(err(
            None,
            format!("{} registration marks; at least 6 are needed (4 fix a homography, 2 more check it)", marks.len()),
        ));
    }

    let mut groups = Vec::new();
    for g in raw.groups {
        let choice = match g.choice.as_str() {
            "single" => Choice::Single,
            "multi" => Choice::Multi,
            other => return Err(err(Some(&g.name), format!("group choice `{other}` is not `single` or `multi`"))),
        };
        if groups.iter().any(|x: &Group| x.name == g.name) {
            return Err(err(Some(&g.name), "duplicate group name".into()));
        }
        groups.push(Group { name: g.name, choice, label: g.label });
    }

    let mut fields: Vec<Field> = Vec::new();
    for f in raw.fields {
        let fname = f.name.clone();
        let ferr = |reason: String| err(Some(&fname), reason);
        if f.name.is_empty() || !f.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(ferr("field names are ASCII letters, digits and '_'".into()));
        }
        if fields.iter().any(|x| x.name == f.name) {
            return Err(ferr("duplicate field name".into()));
        }
        let rect = Rect::new(f.x, f.y, f.w, f.h);
        if ![f.x, f.y, f.w, f.h].iter().all(|v| v.is_finite()) {
            return Err(ferr(format!(
                "position ({}, {}) or size {} × {} mm is not a finite number",
                f.x, f.y, f.w, f.h
            )));
        }
        if f.w < MIN_SIDE_MM || f.h < MIN_SIDE_MM {
            return Err(ferr(format!("size {} × {} mm is too small (minimum {MIN_SIDE_MM} mm)", f.w, f.h)));
        }
        if !inside(&rect) {
            return Err(ferr(format!(
                "field at ({}, {}) size {} × {} mm is off the {} × {} mm page",
                f.x, f.y, f.w, f.h, page.w, page.h
            )));
        }
        let need = |v: Option<String>, key: &str| v.ok_or_else(|| ferr(format!("a {} field needs `{key}`", f.kind)));
        let kind = match f.kind.as_str() {
            "barcode" if (f.w - f.h).abs() > 1e-9 => return Err(ferr("a barcode field must be square (w = h)".into())),
            "barcode" => FieldKind::Barcode,
            "checkbox" => {
                let group = need(f.group.clone(), "group")?;
                if !groups.iter().any(|g| g.name == group) {
                    return Err(ferr(format!("checkbox group `{group}` is not declared in [[groups]]")));
                }
                FieldKind::Checkbox { group, value: need(f.value.clone(), "value")? }
            }
            "comb" => {
                let cells = f.cells.ok_or_else(|| ferr("a comb field needs `cells`".into()))?;
                if !(1..=64).contains(&cells) {
                    return Err(ferr(format!("{cells} cells; a comb has 1 to 64")));
                }
                if f.w / (cells as f64) < MIN_SIDE_MM {
                    return Err(ferr("comb cells narrower than 2 mm".into()));
                }
                let charset = match need(f.charset.clone(), "charset")?.as_str() {
                    "digits" => Charset::Digits,
                    "id_number" => Charset::IdNumber,
                    other => return Err(ferr(format!("charset `{other}` is not `digits` or `id_number`"))),
                };
                FieldKind::Comb { cells, charset }
            }
            "text" => FieldKind::Text,
            "signature" => FieldKind::Signature,
            "photo" => FieldKind::Photo,
            "paste" => FieldKind::Paste,
            "printed" => {
                let source = match need(f.source.clone(), "source")?.as_str() {
                    "name" => Source::Name,
                    "sex" => Source::Sex,
                    "ethnicity" => Source::Ethnicity,
                    "birth_date" => Source::BirthDate,
                    "id_number" => Source::IdNumber,
                    "school" => Source::School,
                    "grade" => Source::Grade,
                    "class" => Source::Class,
                    "serial" => Source::Serial,
                    other => return Err(ferr(format!("unknown printed source `{other}`"))),
                };
                FieldKind::Printed { source, size: f.size.unwrap_or(3.5).clamp(1.5, 12.0) }
            }
            other => {
                return Err(ferr(format!(
                    "unknown field kind `{other}` (expected barcode, checkbox, comb, text, signature, photo, paste or printed)"
                )))
            }
        };
        if let Some(m) = marks.iter().find(|m| m.rect.inflate(2.0).overlaps(&rect)) {
            return Err(ferr(format!("field is within 2 mm of registration mark `{}`", m.name)));
        }
        if let Some(o) = fields.iter().find(|o| o.rect.overlaps(&rect)) {
            return Err(ferr(format!("field overlaps field `{}`", o.name)));
        }
        fields.push(Field { name: f.name, kind, label: f.label, rect });
    }
    if fields.iter().filter(|f| f.kind == FieldKind::Barcode).count() == 0 {
        return Err(err(None, "no barcode field: pages could not be identified".into()));
    }
    for g in &groups {
        let n =
            fields.iter().filter(|f| matches!(&f.kind, FieldKind::Checkbox { group, .. } if *group == g.name)).count();
        if n == 0 {
            return Err(err(Some(&g.name), "group has no checkboxes".into()));
        }
    }
    let labels = raw
        .labels
        .into_iter()
        .map(|l| Label { text: l.text, x: l.x, y: l.y, size: l.size, center: l.center })
        .collect();
    let rules = raw.rules.into_iter().map(|r| Rule { x1: r.x1, y1: r.y1, x2: r.x2, y2: r.y2 }).collect();
    Ok(Template {
        id: raw.id,
        version: raw.version,
        title: raw.title,
        width: raw.width,
        height: raw.height,
        marks,
        labels,
        rules,
        groups,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "id = \"t\"\nversion = 1\ntitle = \"T\"\nwidth = 210.0\nheight = 297.0\n\
        [[marks]]\nname=\"a\"\nx=5.0\ny=5.0\nsize=6.0\n[[marks]]\nname=\"b\"\nx=199.0\ny=5.0\nsize=6.0\n\
        [[marks]]\nname=\"c\"\nx=5.0\ny=286.0\nsize=6.0\n[[marks]]\nname=\"d\"\nx=199.0\ny=286.0\nsize=6.0\n\
        [[marks]]\nname=\"e\"\nx=5.0\ny=145.0\nsize=6.0\n[[marks]]\nname=\"f\"\nx=199.0\ny=145.0\nsize=6.0\n\
        [[fields]]\nname=\"qr\"\nkind=\"barcode\"\nx=100.0\ny=20.0\nw=15.0\nh=15.0\n";

    fn field_error(extra: &str) -> (Option<String>, String) {
        match Template::from_toml(&format!("{HEAD}{extra}"), "test") {
            Err(Error::Template { field, reason, .. }) => (field, reason),
            other => panic!("expected a template error, got {other:?}"),
        }
    }

    #[test]
    fn minimal_template_parses() {
        let t = Template::from_toml(HEAD, "test").unwrap();
        assert_eq!(t.fields.len(), 1);
    }

    #[test]
    fn off_page_field_is_named() {
        let (f, r) = field_error("[[fields]]\nname=\"sig\"\nkind=\"signature\"\nx=190.0\ny=100.0\nw=40.0\nh=10.0\n");
        assert_eq!(f.as_deref(), Some("sig"));
        assert!(r.contains("off the"), "{r}");
    }

    #[test]
    fn overlap_is_named() {
        let (f, r) = field_error("[[fields]]\nname=\"t1\"\nkind=\"text\"\nx=105.0\ny=25.0\nw=40.0\nh=10.0\n");
        assert_eq!(f.as_deref(), Some("t1"));
        assert!(r.contains("overlaps field `qr`"), "{r}");
    }

    #[test]
    fn unknown_kind_is_named() {
        let (f, r) = field_error("[[fields]]\nname=\"z\"\nkind=\"hologram\"\nx=20.0\ny=100.0\nw=40.0\nh=10.0\n");
        assert_eq!(f.as_deref(), Some("z"));
        assert!(r.contains("unknown field kind `hologram`"), "{r}");
    }

    #[test]
    fn checkbox_needs_declared_group() {
        let (f, r) = field_error(
            "[[fields]]\nname=\"cb\"\nkind=\"checkbox\"\ngroup=\"g\"\nvalue=\"v\"\nx=20.0\ny=100.0\nw=4.0\nh=4.0\n",
        );
        assert_eq!(f.as_deref(), Some("cb"));
        assert!(r.contains("not declared"), "{r}");
    }

    #[test]
    fn barcode_must_be_square() {
        let (f, r) = field_error("[[fields]]\nname=\"qr2\"\nkind=\"barcode\"\nx=20.0\ny=100.0\nw=15.0\nh=10.0\n");
        assert_eq!(f.as_deref(), Some("qr2"));
        assert!(r.contains("square"), "{r}");
    }

    #[test]
    fn syntax_error_is_reported() {
        assert!(matches!(Template::from_toml("id = ", "x.toml"), Err(Error::Template { .. })));
    }
}
