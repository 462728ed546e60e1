//! Keying (录入): the values people key in for what the reader could not read, and the value
//! of each field that status and export use.
//!
//! # What is kept
//!
//! Every keyed value is appended to the store ([`Store::record_keyed`]) with its operator, time
//! and [`KeySource`]; nothing is overwritten, so the history of a form's field is the list of
//! its entries. Values are checked before they are taken ([`check_value`]): a phone number must
//! be a mainland mobile number, an ID number must pass GB 11643 (check character and birth
//! date), a name must be 2 to 6 Chinese characters (or up to 20 in parts joined by `·`, as
//! transliterated minority names are written).
//!
//! # The value of a field
//!
//! [`field_value`] decides, for one field of one scanned page, in this order:
//!
//! 1. a supervisor's entry, the latest;
//! 2. for a field whose class needs **double entry** ([`KeyingPolicy::double_entry`]; ID numbers
//!    and names by default): the latest entries of the last two operators who keyed it blind;
//!    the same value is final, two different values are a mismatch for a supervisor, one alone
//!    waits for a second keyer. A value confirmed as the reader's reading
//!    ([`KeySource::Confirmed`]) needs no second keyer;
//! 3. otherwise the latest keyed or confirmed entry;
//! 4. with no entry, the reader's value when it was accepted.
//!
//! A keyer who cannot read a value says so ([`mark_unreadable`]): the field then waits for a
//! supervisor ([`FieldValue::Unreadable`]), who keys it or rejects the form back to the school.
//!
//! Leasing the next items to an operator, grouped by what they look at, is in [`queue`].
//!
//! The reference for double entry and blind second keying is queXF's verification and the
//! "double-key" practice of census data capture (e.g. U.S. Census Bureau, *Key-entry
//! verification*, and ABBYY FlexiCapture's verification station).

mod queue;

pub use queue::{
    candidates, key_item, lease_next, next_items, now, refresh_candidate, Candidate, KeyAction, WorkItem, LEASE_SECONDS,
};

use crate::store::{PageView, Store};
use formscan::domain::{normalize_mobile, parse_id};
use formscan::error::{Error, Result};
use formscan::finding::FindingCode;
use std::collections::BTreeSet;

/// Where a keyed value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeySource {
    /// A keyer confirmed the reader's reading (checked by [`key_value`]: the value must be
    /// what the reader read).
    Confirmed,
    /// A keyer typed the value.
    Keyed,
    /// A supervisor settled the value (a double-entry mismatch, a correction).
    Supervisor,
    /// A keyer could not read the value (the value is empty): a supervisor decides.
    Unreadable,
}

impl KeySource {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeySource::Confirmed => "confirmed",
            KeySource::Keyed => "keyed",
            KeySource::Supervisor => "supervisor",
            KeySource::Unreadable => "unreadable",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<KeySource> {
        [KeySource::Confirmed, KeySource::Keyed, KeySource::Supervisor, KeySource::Unreadable]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One keyed value of a field of a stored page, as appended to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedValue {
    /// The stored page ([`PageView::id`]).
    pub page_id: i64,
    /// The field's name in the template (`agent_phone`, `agent_name`, ...).
    pub field: String,
    /// The value, normalised by [`check_value`].
    pub value: String,
    /// Where it came from.
    pub source: KeySource,
    /// Who keyed it (an operator's name; the station's accounts, or the terminal user).
    pub operator: String,
    /// When, seconds since the Unix epoch (UTC).
    pub at: i64,
    /// Keys pressed for this value, when the keying station counted them (its operator
    /// statistics); `None` from the terminal.
    pub keystrokes: Option<u32>,
}

/// What kind of value a field holds, for checks and the double-entry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldClass {
    /// A mobile phone number (11 digits).
    Phone,
    /// A resident ID number (18 characters).
    IdNumber,
    /// A person's name in Chinese characters.
    Name,
    /// One box of a single-choice group ([`RELATIONS`] for the agent's relationship): a
    /// conflict or an unclear mark is settled by choosing.
    Choice,
}

/// The values of the agent-relationship group, as the template names its boxes, with the
/// label the card data uses.
pub const RELATIONS: [(&str, &str); 5] = [
    ("father", "父亲"),
    ("mother", "母亲"),
    ("paternal_grandparent", "祖父母"),
    ("maternal_grandparent", "外祖父母"),
    ("other", "其他"),
];

/// The fields people key, and their class.
pub const KEYED_FIELDS: [(&str, FieldClass); 7] = [
    ("applicant_phone", FieldClass::Phone),
    ("agent_phone", FieldClass::Phone),
    ("agent_id", FieldClass::IdNumber),
    ("applicant_id_fix", FieldClass::IdNumber),
    ("agent_name", FieldClass::Name),
    ("applicant_name_fix", FieldClass::Name),
    ("agent_relation", FieldClass::Choice),
];

/// Where the reader's result for a keyed field is stored: a group under `group:NAME`.
pub fn stored_name(field: &str) -> String {
    match field_class(field) {
        Some(FieldClass::Choice) => format!("group:{field}"),
        _ => field.to_string(),
    }
}

/// The class of a keyable field; `None` for a field that is not keyed.
pub fn field_class(field: &str) -> Option<FieldClass> {
    KEYED_FIELDS.iter().find(|(f, _)| *f == field).map(|(_, c)| *c)
}

/// Which keyed values need a second, blind keyer.
#[derive(Debug, Clone)]
pub struct KeyingPolicy {
    /// Field classes whose typed values need double entry. Default ID numbers and names: a
    /// wrong digit in an ID number or a wrong character in a name prints a wrong card (the
    /// check character catches most ID slips but not all: a swap of two equal-weight digits
    /// passes), while a phone number is a contact detail that the shared-phone and mobile
    /// checks already screen.
    pub double_entry: BTreeSet<FieldClass>,
}

impl Default for KeyingPolicy {
    fn default() -> Self {
        KeyingPolicy { double_entry: [FieldClass::IdNumber, FieldClass::Name].into_iter().collect() }
    }
}

/// The value of a field, as status and export see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// The reader's value, accepted without review.
    Read(String),
    /// A keyed value that is final (see the module notes).
    Keyed(String),
    /// One keyer's value waits for a second, blind keyer.
    AwaitingSecond,
    /// Two keyers disagree: a supervisor decides.
    Mismatch,
    /// A keyer could not read it: a supervisor keys it or rejects the form.
    Unreadable,
    /// Nothing read or keyed.
    None,
}

impl FieldValue {
    /// Whether it is final (read or keyed): nothing is left to key.
    pub fn is_final(&self) -> bool {
        matches!(self, FieldValue::Read(_) | FieldValue::Keyed(_))
    }

    /// The value when it is final (read or keyed).
    pub fn value(&self) -> Option<&str> {
        match self {
            FieldValue::Read(v) | FieldValue::Keyed(v) => Some(v),
            _ => None,
        }
    }
}

/// The value of `field` on `page` (module notes).
pub fn field_value(page: &PageView, field: &str, policy: &KeyingPolicy) -> FieldValue {
    keyed_value(&page.keyed, field, policy).unwrap_or_else(|| read_value(page, field))
}

/// Steps 1–3 of [`field_value`], from a page's keyed entries alone; `None` when `field` has none.
pub fn keyed_value(keyed: &[KeyedValue], field: &str, policy: &KeyingPolicy) -> Option<FieldValue> {
    let entries: Vec<&KeyedValue> = keyed.iter().filter(|k| k.field == field).collect();
    if let Some(s) = entries.iter().rev().find(|k| k.source == KeySource::Supervisor) {
        return Some(FieldValue::Keyed(s.value.clone()));
    }
    let double = field_class(field).is_some_and(|c| policy.double_entry.contains(&c));
    let last = entries.last()?;
    if last.source == KeySource::Unreadable {
        return Some(FieldValue::Unreadable);
    }
    if !double || last.source == KeySource::Confirmed {
        return Some(FieldValue::Keyed(last.value.clone()));
    }
    // The latest typed value of each operator, most recent operator first.
    let mut seen: Vec<&KeyedValue> = Vec::new();
    for k in entries.iter().rev().filter(|k| k.source == KeySource::Keyed) {
        if !seen.iter().any(|s| s.operator == k.operator) {
            seen.push(k);
        }
    }
    Some(match seen.as_slice() {
        [] => FieldValue::Keyed(last.value.clone()),
        [_] => FieldValue::AwaitingSecond,
        [a, b, ..] if a.value == b.value => FieldValue::Keyed(a.value.clone()),
        _ => FieldValue::Mismatch,
    })
}

/// Step 4 of [`field_value`]: the reader's value when it was accepted.
fn read_value(page: &PageView, field: &str) -> FieldValue {
    match reader_accepted(page, field) {
        Some(v) => FieldValue::Read(v),
        None => FieldValue::None,
    }
}

/// The reader's value of a keyed field when it stands without a person: an accepted comb or
/// name value, or a single-choice group with exactly one box ticked.
pub fn reader_accepted(page: &PageView, field: &str) -> Option<String> {
    let stored = page.fields.get(&stored_name(field))?;
    match field_class(field) {
        Some(FieldClass::Choice) => stored_reading(field, stored),
        _ => stored.accepted_value().map(str::to_string),
    }
}

/// What the reader read for a keyed field, accepted or not (for a keyer to confirm or
/// correct): a group's value only when one box is ticked.
pub fn reader_reading(page: &PageView, field: &str) -> Option<String> {
    stored_reading(field, page.fields.get(&stored_name(field))?)
}

/// [`reader_reading`] of the stored result of `field`.
fn stored_reading(field: &str, stored: &crate::store::StoredField) -> Option<String> {
    match field_class(field) {
        Some(FieldClass::Choice) if stored.state != "one" => None,
        _ => stored.value.clone(),
    }
}

/// Checks and normalises a value keyed for `field`: phone numbers to their 11 digits, ID
/// numbers to upper case, names trimmed. An `Input` error says what is wrong (without
/// repeating the value: it is personal data).
pub fn check_value(field: &str, value: &str) -> Result<String> {
    let class = field_class(field).ok_or_else(|| Error::input(format!("`{field}` is not a field that is keyed")))?;
    let value = value.trim();
    match class {
        FieldClass::Phone => normalize_mobile(value)
            .ok_or_else(|| Error::input(format!("{field}: not an 11-digit mainland mobile number"))),
        FieldClass::IdNumber => {
            parse_id(value).map(|i| i.number).map_err(|e| Error::input(format!("{field}: not a valid ID number ({e})")))
        }
        FieldClass::Name => {
            let n = value.chars().filter(|&c| c != '·').count();
            let han = value.chars().all(|c| c == '·' || is_han(c));
            // Han names have 2 to 6 characters; a transliterated minority name joins its parts
            // with `·` and runs longer.
            let max = if value.contains('·') { 20 } else { 6 };
            if han
                && (2..=max).contains(&n)
                && !value.starts_with('·')
                && !value.ends_with('·')
                && !value.contains("··")
            {
                Ok(value.to_string())
            } else {
                Err(Error::input(format!("{field}: a name is 2 to 6 Chinese characters, or parts joined by ·")))
            }
        }
        FieldClass::Choice => RELATIONS
            .iter()
            .find(|(k, zh)| *k == value || *zh == value)
            .map(|(k, _)| k.to_string())
            .ok_or_else(|| Error::input(format!("{field}: one of {}", RELATIONS.map(|r| r.0).join(", ")))),
    }
}

/// CJK unified ideographs, their extension A, and the compatibility block.
fn is_han(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}' | '\u{f900}'..='\u{faff}' | '\u{20000}'..='\u{2ffff}')
}

/// Appends one keyed value after checking it ([`check_value`]); returns the stored value.
pub fn key_value(
    store: &mut dyn Store,
    page_id: i64,
    field: &str,
    value: &str,
    source: KeySource,
    operator: &str,
    keystrokes: Option<u32>,
) -> Result<String> {
    if operator.trim().is_empty() {
        return Err(Error::input("keying needs an operator name"));
    }
    if source == KeySource::Unreadable {
        return mark_unreadable(store, page_id, field, operator, keystrokes).map(|()| String::new());
    }
    let value = check_value(field, value)?;
    if source == KeySource::Confirmed {
        // A confirmation skips double entry, so it must be what the reader read: otherwise
        // "confirming" a typed value would bypass the second keyer.
        let read = store
            .page_field(page_id, &stored_name(field))?
            .and_then(|f| stored_reading(field, &f))
            .and_then(|v| check_value(field, &v).ok());
        if read.as_deref() != Some(value.as_str()) {
            return Err(Error::input(format!(
                "{field}: only the reader's reading can be confirmed; key the value instead"
            )));
        }
    }
    let entry = KeyedValue {
        page_id,
        field: field.to_string(),
        value: value.clone(),
        source,
        operator: operator.into(),
        at: now(),
        keystrokes,
    };
    store.record_keyed(&[entry])?;
    Ok(value)
}

/// Records that `operator` could not read `field`: it goes to a supervisor
/// ([`FieldValue::Unreadable`]).
pub fn mark_unreadable(
    store: &mut dyn Store,
    page_id: i64,
    field: &str,
    operator: &str,
    keystrokes: Option<u32>,
) -> Result<()> {
    if field_class(field).is_none() {
        return Err(Error::input(format!("`{field}` is not a field that is keyed")));
    }
    if operator.trim().is_empty() {
        return Err(Error::input("keying needs an operator name"));
    }
    let entry = KeyedValue {
        page_id,
        field: field.to_string(),
        value: String::new(),
        source: KeySource::Unreadable,
        operator: operator.into(),
        at: now(),
        keystrokes,
    };
    store.record_keyed(&[entry])
}

/// The findings a final value of their subject field settles: the reader could not read the
/// value, read one that fails its check, or saw nothing where a keyer finds a value.
pub fn settled_by_value(code: FindingCode) -> bool {
    matches!(
        code,
        FindingCode::FieldUnclear
            | FindingCode::PhoneInvalid
            | FindingCode::IdInvalid
            | FindingCode::NameCorrected
            | FindingCode::ValueToKey
            | FindingCode::AgentIdMissing
            | FindingCode::AgentPhoneMissing
            | FindingCode::AgentRelationMissing
            | FindingCode::ChoiceConflict
            | FindingCode::AmbiguousMark
    )
}

/// The subject field of a finding that a value settles: `name_corrected` is about
/// `applicant_name_fix`; the others name their field.
fn subject_field(code: FindingCode, subject: &str) -> Option<&str> {
    let field = match code {
        FindingCode::NameCorrected => "applicant_name_fix",
        // An unclear box of the relationship group is settled by choosing the relationship.
        FindingCode::AmbiguousMark if subject.starts_with("relation_") => "agent_relation",
        _ => subject,
    };
    field_class(field).map(|_| field)
}

/// What keying is left on a page: one entry per field whose finding a value would settle and
/// whose value is not final yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingField {
    /// The field.
    pub field: String,
    /// Its class.
    pub class: FieldClass,
    /// Where it stands.
    pub state: FieldValue,
    /// The finding that asks for it.
    pub code: FindingCode,
}

/// Splits a page's findings into those still open and the keying they wait for: a finding
/// that a final value of its field settles ([`settled_by_value`]) is dropped.
pub fn open_findings(
    page: &PageView,
    findings: &[formscan::finding::Finding],
    policy: &KeyingPolicy,
) -> (Vec<formscan::finding::Finding>, Vec<PendingField>) {
    let mut open = Vec::new();
    let mut pending: Vec<PendingField> = Vec::new();
    for f in findings {
        let field = settled_by_value(f.code).then(|| subject_field(f.code, &f.subject)).flatten();
        let Some(field) = field else {
            open.push(f.clone());
            continue;
        };
        // Only a person settles a finding: the reader's own value, even accepted, is what the
        // finding doubts (an unclear mark in a comb it read), so the field waits for a keyer,
        // who confirms or corrects it.
        let state = keyed_value(&page.keyed, field, policy).unwrap_or(FieldValue::None);
        if matches!(state, FieldValue::Keyed(_)) {
            continue;
        }
        open.push(f.clone());
        if !pending.iter().any(|p| p.field == field) {
            let class = field_class(field).expect("subject_field returns keyed fields");
            pending.push(PendingField { field: field.to_string(), class, state, code: f.code });
        }
    }
    (open, pending)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoredField;

    fn page(keyed: &[(&str, &str, KeySource, &str)]) -> PageView {
        let mut fields = std::collections::BTreeMap::new();
        fields.insert(
            "agent_phone".to_string(),
            StoredField {
                state: "ink".into(),
                value: Some("13912345678".into()),
                status: Some("accepted".into()),
                ..Default::default()
            },
        );
        PageView {
            id: 1,
            run: "R".into(),
            serial: "000001".into(),
            path: "x".into(),
            page_index: 0,
            out_dir: "o".into(),
            fields,
            findings: Vec::new(),
            phone: None,
            keyed: keyed
                .iter()
                .enumerate()
                .map(|(i, (f, v, s, op))| KeyedValue {
                    page_id: 1,
                    field: f.to_string(),
                    value: v.to_string(),
                    source: *s,
                    operator: op.to_string(),
                    at: i as i64,
                    keystrokes: None,
                })
                .collect(),
        }
    }

    const ID: &str = "11010519491231002X";
    const ID2: &str = "440524188001010014";

    #[test]
    fn double_entry_needs_two_operators_who_agree() {
        let p = KeyingPolicy::default();
        let v = |k: &[(&str, &str, KeySource, &str)]| field_value(&page(k), "agent_id", &p);
        assert_eq!(v(&[]), FieldValue::None);
        assert_eq!(v(&[("agent_id", ID, KeySource::Keyed, "a")]), FieldValue::AwaitingSecond);
        // The same operator twice is still one keyer.
        assert_eq!(
            v(&[("agent_id", ID, KeySource::Keyed, "a"), ("agent_id", ID, KeySource::Keyed, "a")]),
            FieldValue::AwaitingSecond
        );
        assert_eq!(
            v(&[("agent_id", ID, KeySource::Keyed, "a"), ("agent_id", ID, KeySource::Keyed, "b")]),
            FieldValue::Keyed(ID.into())
        );
        let mismatch = [("agent_id", ID, KeySource::Keyed, "a"), ("agent_id", ID2, KeySource::Keyed, "b")];
        assert_eq!(v(&mismatch), FieldValue::Mismatch);
        let mut settled = mismatch.to_vec();
        settled.push(("agent_id", ID2, KeySource::Supervisor, "s"));
        assert_eq!(v(&settled), FieldValue::Keyed(ID2.into()));
        // A value confirmed from the reader's candidates needs no second keyer.
        assert_eq!(v(&[("agent_id", ID, KeySource::Confirmed, "a")]), FieldValue::Keyed(ID.into()));
    }

    #[test]
    fn a_phone_needs_one_keyer_and_the_read_value_stands_until_keyed() {
        let p = KeyingPolicy::default();
        assert_eq!(field_value(&page(&[]), "agent_phone", &p), FieldValue::Read("13912345678".into()));
        let k = [("agent_phone", "13812345678", KeySource::Keyed, "a")];
        assert_eq!(field_value(&page(&k), "agent_phone", &p), FieldValue::Keyed("13812345678".into()));
        // With double entry for phones too, one keyer waits.
        let both = KeyingPolicy { double_entry: [FieldClass::Phone].into_iter().collect() };
        assert_eq!(field_value(&page(&k), "agent_phone", &both), FieldValue::AwaitingSecond);
    }

    #[test]
    fn values_are_checked_and_normalised() {
        assert_eq!(check_value("agent_phone", " 138 1234 5678 ").unwrap(), "13812345678");
        assert!(check_value("agent_phone", "12345").is_err());
        assert_eq!(check_value("agent_id", "11010519491231002x").unwrap(), ID);
        assert!(check_value("agent_id", "110105194912310021").is_err(), "wrong check character");
        assert_eq!(check_value("agent_name", "王小明").unwrap(), "王小明");
        assert_eq!(check_value("agent_name", "阿依古丽·买买提").unwrap(), "阿依古丽·买买提");
        for bad in ["王", "Wang Ming", "·王明", "王明1", ""] {
            assert!(check_value("agent_name", bad).is_err(), "{bad}");
        }
        assert!(check_value("photo", "x").is_err(), "not a keyed field");
        // Errors do not repeat the value.
        let e = check_value("agent_id", "110105194912310021").unwrap_err().to_string();
        assert!(!e.contains("110105194912310021"), "{e}");
    }

    #[test]
    fn a_final_value_settles_the_findings_of_its_field() {
        use formscan::finding::Finding;
        let p = KeyingPolicy::default();
        let findings = vec![
            Finding::new(FindingCode::FieldUnclear, "agent_phone"),
            Finding::new(FindingCode::ValueToKey, "agent_name"),
            Finding::new(FindingCode::FixWithoutPaste, "paste"),
        ];
        let (open, pending) = open_findings(&page(&[]), &findings, &p);
        assert_eq!(open.len(), 3);
        assert_eq!(pending.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["agent_phone", "agent_name"]);
        let keyed = page(&[
            ("agent_phone", "13812345678", KeySource::Keyed, "a"),
            ("agent_name", "王小明", KeySource::Keyed, "a"),
        ]);
        let (open, pending) = open_findings(&keyed, &findings, &p);
        // The name waits for its second keyer; the phone is settled; the paste is no keying.
        assert_eq!(
            open.iter().map(|f| f.code).collect::<Vec<_>>(),
            [FindingCode::ValueToKey, FindingCode::FixWithoutPaste]
        );
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].state, FieldValue::AwaitingSecond);
    }
}
