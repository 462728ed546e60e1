//! The audit rules of the notice (section 三), checked on one read form against the person it
//! was printed for. Pure functions: the page record, the person and the campaign's reference
//! date in, findings out. The class-wide shared-phone rule needs every form of a class and is
//! computed in [`crate`] with [`class_shared_phone`].
//!
//! The codes and messages of the findings are in [`formscan::finding`]'s table; the ages and the
//! photo rule are [`formscan::domain`]'s, which the engine's photo stage uses too.

use formscan::domain::{applicant_age, normalize_mobile, parse_id, photo_required, Date, Person, AGENT_UNDER};
use formscan::finding::{Finding, FindingCode};
use formscan::record::{FieldState, GroupState, PageRecord, ValueStatus};

pub use formscan::domain::preferred_id;

fn finding(code: FindingCode, subject: &str) -> Finding {
    Finding::new(code, subject)
}

/// What the form-level rules need besides the page record.
#[derive(Debug, Clone, Copy)]
pub struct FormContext<'a> {
    /// The person the form was printed for.
    pub person: &'a Person,
    /// A photo was printed on the form.
    pub photo_printed: bool,
    /// The campaign's reference date for ages.
    pub reference: Date,
}

fn state(rec: &PageRecord, name: &str) -> Option<FieldState> {
    rec.fields.get(name).map(|f| f.state)
}

/// Written or possibly written: an ambiguous field already carries `ambiguous_mark`, so it
/// does not also count as missing.
fn present(rec: &PageRecord, name: &str) -> bool {
    !matches!(state(rec, name), Some(FieldState::Empty) | Some(FieldState::Unchecked))
}

fn missing(rec: &PageRecord, name: &str) -> bool {
    rec.fields.contains_key(name) && !present(rec, name)
}

fn accepted_value<'a>(rec: &'a PageRecord, name: &str) -> Option<&'a str> {
    let f = rec.fields.get(name)?;
    (f.status == Some(ValueStatus::Accepted)).then_some(f.value.as_deref()).flatten()
}

/// Whether a photo was pasted over a printed one: the photo stage's answer (it finds the
/// pasted print's edges), unknown when the stage did not run.
fn pasted_over_printed(rec: &PageRecord) -> Option<bool> {
    rec.photo.as_ref().map(|p| p.status == formscan::photo::PhotoStatus::Pasted)
}

/// The applicant's ID number: an accepted, valid correction wins over the printed one.
pub fn effective_id(rec: &PageRecord, person: &Person) -> String {
    preferred_id(accepted_value(rec, "applicant_id_fix"), &person.id_number)
}

/// The applicant's age on `reference` ([`formscan::domain::applicant_age`]: the effective ID
/// number's birth date, or the roster's when it cannot be parsed): the age the engine's photo
/// stage used, given the same reference date.
pub fn age(rec: &PageRecord, person: &Person, reference: Date) -> Option<i32> {
    applicant_age(accepted_value(rec, "applicant_id_fix"), &person.id_number, person.birth_date, reference)
}

/// The contact phone used by the shared-phone rule: the applicant's phone number as read
/// (accepted or in review, not invalid), normalised to its 11 digits.
///
/// For the class-wide rule a number in review counts too: the same misreading on every form
/// of a class is far less likely than a teacher's number copied onto every form, and a
/// confident-only rule would miss most shared numbers while digits await review.
pub fn contact_phone(rec: &PageRecord) -> Option<String> {
    let f = rec.fields.get("applicant_phone")?;
    match f.status {
        Some(ValueStatus::Accepted) | Some(ValueStatus::NeedsReview) => f.value.as_deref().and_then(normalize_mobile),
        _ => None,
    }
}

/// Checks a read form against the notice's rules 1, 2, 4 and 5, and the validity of ID and
/// phone numbers. Findings come in a fixed order, so records are reproducible.
pub fn check_form(rec: &PageRecord, ctx: &FormContext<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let age = age(rec, ctx.person, ctx.reference);
    // Rule 1 and 2: photo.
    let confirmed =
        ctx.photo_printed && rec.groups.get("photo_is_applicant").and_then(|g| g.value.as_deref()) == Some("yes");
    if photo_required(age, confirmed) != Some(false) && rec.fields.contains_key("photo") {
        if !ctx.photo_printed {
            if missing(rec, "photo") {
                out.push(finding(FindingCode::PhotoMissing, "photo"));
            }
        } else {
            match pasted_over_printed(rec) {
                Some(true) => {}
                Some(false) => out.push(finding(FindingCode::PhotoMissing, "photo")),
                None => out.push(finding(FindingCode::PhotoUnconfirmed, "photo")),
            }
        }
        // A pasted photo that fails the card-spec checks is the engine's audit
        // (`photo_check_failed`, on the same requirement).
    }
    // Rule 4: corrections need a pasted ID copy.
    let fixed: Vec<&str> = ["applicant_name_fix", "applicant_id_fix"].into_iter().filter(|f| present(rec, f)).collect();
    if !fixed.is_empty() && missing(rec, "paste") {
        out.push(finding(FindingCode::FixWithoutPaste, "paste"));
    }
    if state(rec, "applicant_name_fix") == Some(FieldState::Ink) {
        // A person confirms every correction of a name (it changes who the card is for), so
        // the finding stands even when the reader accepted the name; its message says what
        // was read, so a reviewer sees it at once.
        let mut f = finding(FindingCode::NameCorrected, "applicant_name_fix");
        if let Some(read) = rec.fields.get("applicant_name_fix").filter(|r| r.value.is_some()) {
            let name = read.value.as_deref().unwrap_or_default();
            let status = read.status.map_or("", |s| s.as_str());
            f.message = format!("{} (read: {name}, {status})", f.message);
            f.message_zh = format!("{}（识别为：{name}，{status}）", f.message_zh);
        }
        out.push(f);
    }
    // Rule 5: under 16 the agent answers and signs; otherwise the applicant signs.
    if age.is_some_and(|a| a < AGENT_UNDER) {
        for (field, code) in [
            ("agent_id", FindingCode::AgentIdMissing),
            ("agent_phone", FindingCode::AgentPhoneMissing),
            ("agent_signature", FindingCode::AgentSignatureMissing),
        ] {
            if missing(rec, field) {
                out.push(finding(code, field));
            }
        }
        if rec.groups.get("agent_relation").is_some_and(|g| g.state == GroupState::None) {
            out.push(finding(FindingCode::AgentRelationMissing, "agent_relation"));
        }
    } else if missing(rec, "applicant_signature") {
        out.push(finding(FindingCode::ApplicantSignatureMissing, "applicant_signature"));
    }
    // The agent's name goes into the card data: a written one that the reader did not accept
    // is keyed in, at any age (an agent who wrote no name is not asked for one: the notice
    // requires the ID number, phone, relationship and signature).
    if state(rec, "agent_name") == Some(FieldState::Ink) && accepted_value(rec, "agent_name").is_none() {
        out.push(finding(FindingCode::ValueToKey, "agent_name"));
    }
    // Valid numbers.
    if parse_id(&ctx.person.id_number).is_err() && accepted_value(rec, "applicant_id_fix").is_none() {
        out.push(finding(FindingCode::IdInvalid, "id_number"));
    }
    for (name, f) in &rec.fields {
        let is_id = name.ends_with("_id") || name.ends_with("_id_fix");
        let is_phone = name.ends_with("_phone");
        match f.status {
            Some(ValueStatus::Invalid) if is_id => out.push(finding(FindingCode::IdInvalid, name)),
            Some(ValueStatus::Invalid) if is_phone => out.push(finding(FindingCode::PhoneInvalid, name)),
            Some(ValueStatus::Invalid) | Some(ValueStatus::NeedsReview) => {
                out.push(finding(FindingCode::FieldUnclear, name))
            }
            _ => {}
        }
    }
    out
}

/// The class-wide rule (notice 三.3): when at least `min_forms` forms of a class give a
/// phone and all give the same number, the class's data is invalid. `phones` are the
/// class's contact phones (one per returned form, `None` when it gives none). Two forms
/// sharing a number are common (siblings), hence the minimum.
pub fn class_shared_phone(phones: &[Option<&str>], min_forms: usize) -> bool {
    let given: Vec<&str> = phones.iter().flatten().copied().collect();
    given.len() >= min_forms.max(2) && given.iter().all(|p| *p == given[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use formscan::record::{FieldReading, GroupReading, SourceRef};

    fn reading(state: FieldState, value: Option<&str>, status: Option<ValueStatus>) -> FieldReading {
        FieldReading {
            kind: formscan::record::ReadingKind::Comb,
            state,
            fill: 0.1,
            confidence: 0.99,
            cells: None,
            snippet: None,
            value: value.map(str::to_string),
            value_confidence: None,
            status,
            reason: None,
            candidates: Vec::new(),
        }
    }

    /// A complete, valid form for a 10-year-old with the agent's data.
    fn good() -> (PageRecord, Person) {
        let mut rec =
            PageRecord::rejected(SourceRef { file: "x".into(), page: 0 }, formscan::record::RejectReason::Limits, "");
        rec.outcome = formscan::record::Outcome::Read;
        rec.reject = None;
        let ink = |v: Option<&str>| reading(FieldState::Ink, v, v.map(|_| ValueStatus::Accepted));
        for (n, v) in [
            ("applicant_phone", Some("13812345678")),
            ("agent_phone", Some("13912345678")),
            ("agent_id", Some("11010519491231002X")),
            ("agent_signature", None),
            ("applicant_signature", None),
            ("photo", None),
        ] {
            rec.fields.insert(n.into(), ink(v));
        }
        for n in ["applicant_name_fix", "applicant_id_fix", "paste"] {
            rec.fields.insert(n.into(), reading(FieldState::Empty, None, None));
        }
        rec.groups.insert(
            "agent_relation".into(),
            GroupReading { state: GroupState::One, value: Some("mother".into()), values: vec![] },
        );
        rec.groups
            .insert("photo_is_applicant".into(), GroupReading { state: GroupState::None, value: None, values: vec![] });
        let person =
            Person { id_number: formscan::domain::make_id("450302", Date::new(2016, 3, 1), 11), ..Default::default() };
        (rec, person)
    }

    fn codes(rec: &PageRecord, person: &Person, printed: bool) -> Vec<String> {
        let ctx = FormContext { person, photo_printed: printed, reference: Date::new(2026, 9, 1) };
        check_form(rec, &ctx).into_iter().map(|f| f.code.to_string()).collect()
    }

    #[test]
    fn only_a_valid_correction_replaces_the_printed_id() {
        let printed = "440524188001010014";
        assert_eq!(preferred_id(Some("11010519491231002X"), printed), "11010519491231002X");
        // A wrong check character, a short number, nothing accepted: the printed one stays.
        assert_eq!(preferred_id(Some("110105194912310021"), printed), printed);
        assert_eq!(preferred_id(Some("1101051949"), printed), printed);
        assert_eq!(preferred_id(None, printed), printed);
    }

    #[test]
    fn an_accepted_agent_name_needs_no_keyer_and_a_correction_says_what_was_read() {
        let (rec, person) = good();
        let mut r = rec.clone();
        r.fields.insert("agent_name".into(), reading(FieldState::Ink, Some("王明"), Some(ValueStatus::Accepted)));
        assert!(codes(&r, &person, false).is_empty(), "{:?}", codes(&r, &person, false));
        r.fields.insert("agent_name".into(), reading(FieldState::Ink, Some("王明"), Some(ValueStatus::NeedsReview)));
        assert!(codes(&r, &person, false).contains(&"value_to_key".to_string()), "{:?}", codes(&r, &person, false));
        let mut r = rec.clone();
        r.fields.insert("paste".into(), reading(FieldState::Ink, None, None));
        r.fields
            .insert("applicant_name_fix".into(), reading(FieldState::Ink, Some("李华"), Some(ValueStatus::Accepted)));
        let ctx = FormContext { person: &person, photo_printed: false, reference: Date::new(2026, 9, 1) };
        let found = check_form(&r, &ctx);
        let fix = found.iter().find(|f| f.code == FindingCode::NameCorrected).expect("name_corrected stands");
        assert!(fix.message.contains("李华") && fix.message.contains("accepted"), "{}", fix.message);
        assert!(fix.message_zh.contains("李华"), "{}", fix.message_zh);
    }

    #[test]
    fn complete_form_passes_and_each_rule_fires() {
        let (rec, person) = good();
        assert!(codes(&rec, &person, false).is_empty(), "{:?}", codes(&rec, &person, false));
        let mut r = rec.clone();
        r.fields.get_mut("photo").unwrap().state = FieldState::Empty;
        assert_eq!(codes(&r, &person, false), ["photo_missing"]);
        // A printed photo without the confirming tick: a person must look.
        assert_eq!(codes(&rec, &person, true), ["photo_unconfirmed"]);
        r = rec.clone();
        r.groups.get_mut("photo_is_applicant").unwrap().value = Some("yes".into());
        r.fields.get_mut("photo").unwrap().state = FieldState::Empty;
        assert!(codes(&r, &person, true).is_empty());
        r = rec.clone();
        r.fields.get_mut("applicant_id_fix").unwrap().state = FieldState::Ink;
        assert_eq!(codes(&r, &person, false), ["fix_without_paste"]);
        r = rec.clone();
        r.fields.get_mut("agent_id").unwrap().state = FieldState::Empty;
        r.fields.get_mut("agent_signature").unwrap().state = FieldState::Empty;
        r.groups.get_mut("agent_relation").unwrap().state = GroupState::None;
        assert_eq!(
            codes(&r, &person, false),
            ["agent_id_missing", "agent_signature_missing", "agent_relation_missing"]
        );
        r = rec.clone();
        r.fields.get_mut("agent_phone").unwrap().status = Some(ValueStatus::Invalid);
        r.fields.get_mut("agent_id").unwrap().status = Some(ValueStatus::NeedsReview);
        assert_eq!(codes(&r, &person, false), ["field_unclear", "phone_invalid"]);
    }

    #[test]
    fn age_decides_photo_and_signatures() {
        let (mut rec, mut person) = good();
        rec.fields.get_mut("photo").unwrap().state = FieldState::Empty;
        rec.fields.get_mut("agent_id").unwrap().state = FieldState::Empty;
        rec.fields.get_mut("applicant_signature").unwrap().state = FieldState::Empty;
        // Age 4: no photo needed, agent required.
        person.id_number = formscan::domain::make_id("450302", Date::new(2022, 3, 1), 11);
        assert_eq!(codes(&rec, &person, false), ["agent_id_missing"]);
        // Age 17: photo required, the applicant signs, no agent needed.
        person.id_number = formscan::domain::make_id("450302", Date::new(2009, 3, 1), 11);
        assert_eq!(codes(&rec, &person, false), ["photo_missing", "applicant_signature_missing"]);
        // Turns 16 on the day after the reference date: still under 16.
        person.id_number = formscan::domain::make_id("450302", Date::new(2010, 9, 2), 11);
        assert!(codes(&rec, &person, false).contains(&"agent_id_missing".to_string()));
        person.id_number = "450302201003010011".into(); // bad check character
        assert!(codes(&rec, &person, false).contains(&"id_invalid".to_string()));
    }

    #[test]
    fn shared_phone_needs_a_whole_class() {
        let a = Some("13812345678");
        assert!(class_shared_phone(&[a, a, a, None], 3));
        assert!(!class_shared_phone(&[a, a, None], 3));
        assert!(!class_shared_phone(&[a, a, Some("13912345678")], 3));
    }
}
