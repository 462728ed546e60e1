//! Audit: the form-level checks that decide whether a read page can pass or goes to review.
//!
//! Each finding has a stable `code` (never reworded: downstream tools key on it) and messages
//! in English and Chinese for the review list. One table of codes serves the page checks here,
//! the batch (a card photo sent to review) and the campaign rules (`formscan-campaign`):
//!
//! | code | made by | finding |
//! |---|---|---|
//! | `choice_conflict` | page checks | more than one box ticked in a single-choice group |
//! | `ambiguous_mark` | page checks | a checkbox or written field is unclear |
//! | `mark_covered_by_photo` | page checks | a pasted photo covers a checkbox |
//! | `photo_missing` | campaign rules | a photo is required (no confirmed printed photo, age 6 or over) and none is pasted |
//! | `photo_unconfirmed` | campaign rules | a photo is printed but not confirmed as the applicant's, and the photo stage could not tell whether one is pasted |
//! | `photo_check_failed` | batch, campaign rules | the pasted photo that the card needs fails a card-spec check (background, face, sharpness, light, colour); the subject lists the failed checks |
//! | `fix_without_paste` | campaign rules | a corrected name or ID number without an ID copy in the paste area |
//! | `name_corrected` | campaign rules | a corrected name is written: it must be keyed in (hand-written names are not read) |
//! | `agent_id_missing`, `agent_phone_missing`, `agent_relation_missing`, `agent_signature_missing` | campaign rules | under 16: the agent's data is required |
//! | `applicant_signature_missing` | campaign rules | 16 or over: the applicant must sign |
//! | `id_invalid` | campaign rules | an ID number (printed, corrected or the agent's) fails GB 11643 |
//! | `phone_invalid` | campaign rules | a written phone number cannot be a mainland mobile number |
//! | `field_unclear` | campaign rules | a written number could not be read with confidence |
//! | `class_shared_phone` | campaign (class-wide) | every form of the class gives the same phone number |
//! | `duplicate_serial` | campaign store | the form was scanned more than once with different images |

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

/// Builds the finding `code` about `subject` with the table's fixed messages (module docs); a
/// code not in the table gets messages that point to the code.
pub fn finding(code: &str, subject: &str) -> Finding {
    let (en, zh) = match code {
        "photo_missing" => ("a photo is required but none is pasted", "需粘贴照片，但未粘贴"),
        "photo_unconfirmed" => (
            "the printed photo is not confirmed as the applicant's: check that a photo is pasted",
            "打印照片未确认为申领人本人，请核对是否已粘贴照片",
        ),
        "photo_check_failed" => (
            "the pasted photo fails a card-photo check (see the subject): check it or ask for a new one",
            "粘贴的照片未通过制卡照片检查（见说明），请核对或要求重交",
        ),
        "fix_without_paste" => (
            "a corrected name or ID number needs a copy of the ID card or household register in the paste area",
            "更正姓名或公民身份号码须在证件粘贴栏粘贴身份证或户口簿复印件",
        ),
        "name_corrected" => ("a corrected name is written: key it in", "填写了更正姓名，请人工录入"),
        "agent_id_missing" => ("under 16: the agent's ID number is required", "未满16周岁，须填写代理人公民身份号码"),
        "agent_phone_missing" => ("under 16: the agent's phone number is required", "未满16周岁，须填写代理人手机号码"),
        "agent_relation_missing" => {
            ("under 16: the agent's relationship to the applicant is required", "未满16周岁，须勾选代理人与申领人关系")
        }
        "agent_signature_missing" => ("under 16: the agent must sign", "未满16周岁，须代理人签名"),
        "applicant_signature_missing" => ("the applicant must sign", "须申领人本人签名"),
        "id_invalid" => ("the ID number is not valid (GB 11643)", "公民身份号码不合法"),
        "phone_invalid" => ("the phone number is not a valid mobile number", "手机号码不合法"),
        "field_unclear" => ("the number could not be read with confidence; please check", "号码识别不确定，请人工核对"),
        "class_shared_phone" => (
            "every student of the class gives the same phone number: the class's data is invalid",
            "全班学生填写同一手机号码，该班数据无效",
        ),
        "duplicate_serial" => (
            "the form was scanned more than once with different images: choose one",
            "同一申领表被扫描多次且图像不同，请选择其一",
        ),
        _ => ("see the code", "见代码"),
    };
    Finding { code: code.into(), subject: subject.into(), message: en.into(), message_zh: zh.into() }
}
