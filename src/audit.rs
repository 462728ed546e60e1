//! Audit: the page checks that decide whether a read page can pass or goes to review.
//!
//! They need nothing but the page: single-choice conflicts, unclear marks, marks a pasted photo
//! covers, and a pasted photo that the card may need but that fails a card-spec check (the
//! photo stage has already decided, from the person's age and the printed photo's
//! confirmation, whether one is required). The campaign rules that need the roster and the
//! other forms of a class are in `formscan-campaign`. Every finding's code and messages come
//! from the one table in [`crate::finding`].

use crate::finding::{Finding, FindingCode};
use crate::photo::{PhotoReading, PhotoStatus};
use crate::record::{FieldState, GroupReading, GroupState};
use crate::template::{Choice, Template};
use std::collections::BTreeMap;

/// Checks one read page: ambiguous marks and single-choice conflicts need a person, and so does
/// a pasted photo that fails a card-spec check unless the card needs no photo
/// (`required == Some(false)`: under 6, or a confirmed printed photo).
pub fn audit(
    template: &Template,
    fields: &BTreeMap<String, crate::record::FieldReading>,
    groups: &BTreeMap<String, GroupReading>,
    photo: Option<&PhotoReading>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for g in &template.groups {
        if let Some(r) = groups.get(&g.name) {
            if g.choice == Choice::Single && r.state == GroupState::Multiple {
                out.push(Finding::with_messages(
                    FindingCode::ChoiceConflict,
                    &g.name,
                    format!("{} boxes ticked in single-choice group '{}'", r.values.len(), g.label),
                    format!("单选项“{}”勾选了{}项", g.label, r.values.len()),
                ));
            }
        }
    }
    for (name, r) in fields {
        if r.state == FieldState::Ambiguous && r.reason.as_deref() == Some(crate::fields::COVERED_REASON) {
            out.push(Finding::with_messages(
                FindingCode::MarkCoveredByPhoto,
                name,
                format!("a pasted photo covers box '{name}'; please check the paper form"),
                format!("粘贴的照片遮住了“{name}”勾选框，请核对原表"),
            ));
        } else if r.state == FieldState::Ambiguous {
            out.push(Finding::with_messages(
                FindingCode::AmbiguousMark,
                name,
                format!("field '{name}' is unclear (fill {:.3}); please check", r.fill),
                format!("字段“{name}”填写不清，请人工核对"),
            ));
        }
    }
    if let Some(p) = photo {
        if p.status == PhotoStatus::Pasted && !p.failed.is_empty() && p.required != Some(false) {
            out.push(Finding::new(FindingCode::PhotoCheckFailed, &p.failed.join(",")));
        }
    }
    out
}
