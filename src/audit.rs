//! Audit: the form-level checks that decide whether a read page can pass or goes to review.
//!
//! Each finding has a stable `code` (never reworded: downstream tools key on it) and messages
//! in English and Chinese for the review list.

pub mod rules;

use crate::record::{FieldState, GroupReading};
use crate::template::{Choice, Template};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One audit finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable machine code, e.g. `choice_conflict`.
    pub code: String,
    /// The field or group concerned.
    pub subject: String,
    /// English message.
    pub message: String,
    /// Chinese message.
    pub message_zh: String,
}

/// Checks one read page: ambiguous marks and single-choice conflicts need a person.
pub fn audit(
    template: &Template,
    fields: &BTreeMap<String, crate::record::FieldReading>,
    groups: &BTreeMap<String, GroupReading>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for g in &template.groups {
        if let Some(r) = groups.get(&g.name) {
            if g.choice == Choice::Single && r.state == "multiple" {
                out.push(Finding {
                    code: "choice_conflict".into(),
                    subject: g.name.clone(),
                    message: format!("{} boxes ticked in single-choice group '{}'", r.values.len(), g.label),
                    message_zh: format!("单选项“{}”勾选了{}项", g.label, r.values.len()),
                });
            }
        }
    }
    for (name, r) in fields {
        if r.state == FieldState::Ambiguous && r.reason.as_deref() == Some(crate::fields::COVERED_REASON) {
            out.push(Finding {
                code: "mark_covered_by_photo".into(),
                subject: name.clone(),
                message: format!("a pasted photo covers box '{name}'; please check the paper form"),
                message_zh: format!("粘贴的照片遮住了“{name}”勾选框，请核对原表"),
            });
        } else if r.state == FieldState::Ambiguous {
            out.push(Finding {
                code: "ambiguous_mark".into(),
                subject: name.clone(),
                message: format!("field '{name}' is unclear (fill {:.3}); please check", r.fill),
                message_zh: format!("字段“{name}”填写不清，请人工核对"),
            });
        }
    }
    out
}
