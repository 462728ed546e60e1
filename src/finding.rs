//! The one table of audit findings: a [`FindingCode`] for every reason a form goes to review,
//! each with its English and Chinese message. The page checks ([`crate::audit`]), the photo
//! requirement (the engine, see [`crate::photo::PhotoReading::apply_age`]) and the campaign
//! rules (`formscan-campaign`) all make their findings here, so a code has one meaning and one
//! wording wherever it is made.
//!
//! Codes are stable: they are written to `records.jsonl`, `records.csv` and the campaign store
//! as the snake_case names below, and downstream tools key on them. A code is never reworded;
//! a new reason gets a new code.
//!
//! | code | made by | finding |
//! |---|---|---|
//! | `choice_conflict` | page checks | more than one box ticked in a single-choice group |
//! | `ambiguous_mark` | page checks | a checkbox or written field is unclear |
//! | `mark_covered_by_photo` | page checks | a pasted photo covers a checkbox |
//! | `photo_check_failed` | page checks, campaign rules | the pasted photo that the card may need fails a card-spec check (background, face, sharpness, light, colour); the subject lists the failed checks |
//! | `photo_missing` | campaign rules | a photo is required (no confirmed printed photo, age 6 or over) and none is pasted |
//! | `photo_unconfirmed` | campaign rules | a photo is printed but not confirmed as the applicant's, and the photo stage could not tell whether one is pasted |
//! | `fix_without_paste` | campaign rules | a corrected name or ID number without an ID copy in the paste area |
//! | `name_corrected` | campaign rules | a corrected name is written: a keyer confirms or keys it (the message carries the name the reader read, with its status) |
//! | `value_to_key` | campaign rules | a hand-written value the export needs (the agent's name) was not read with confidence: it must be keyed in |
//! | `agent_id_missing`, `agent_phone_missing`, `agent_relation_missing`, `agent_signature_missing` | campaign rules | under 16: the agent's data is required |
//! | `applicant_signature_missing` | campaign rules | 16 or over: the applicant must sign |
//! | `id_invalid` | campaign rules | an ID number (printed, corrected or the agent's) fails GB 11643 |
//! | `phone_invalid` | campaign rules | a written phone number cannot be a mainland mobile number |
//! | `field_unclear` | campaign rules | a written number could not be read with confidence |
//! | `class_shared_phone` | campaign (class-wide) | every form of the class gives the same phone number |
//! | `duplicate_serial` | campaign store | the form was scanned more than once with different images |

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Why a form needs a person: one row of the table in the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FindingCode {
    /// More than one box ticked in a single-choice group.
    ChoiceConflict,
    /// A checkbox or written field is unclear.
    AmbiguousMark,
    /// A pasted photo covers a checkbox.
    MarkCoveredByPhoto,
    /// The pasted photo the card may need fails a card-spec check.
    PhotoCheckFailed,
    /// A photo is required and none is pasted.
    PhotoMissing,
    /// A printed photo is not confirmed as the applicant's and no pasted one was found for sure.
    PhotoUnconfirmed,
    /// A correction without an ID copy pasted.
    FixWithoutPaste,
    /// A corrected name is written.
    NameCorrected,
    /// A hand-written value the export needs must be keyed in.
    ValueToKey,
    /// Under 16: no agent ID number.
    AgentIdMissing,
    /// Under 16: no agent phone number.
    AgentPhoneMissing,
    /// Under 16: no agent relationship ticked.
    AgentRelationMissing,
    /// Under 16: no agent signature.
    AgentSignatureMissing,
    /// 16 or over: no applicant signature.
    ApplicantSignatureMissing,
    /// An ID number fails GB 11643.
    IdInvalid,
    /// A phone number is not a mainland mobile number.
    PhoneInvalid,
    /// A written number could not be read with confidence.
    FieldUnclear,
    /// Every form of the class gives the same phone number.
    ClassSharedPhone,
    /// The form was scanned more than once with different images.
    DuplicateSerial,
}

impl FindingCode {
    /// Every code, in the table's order.
    pub const ALL: [FindingCode; 19] = [
        FindingCode::ChoiceConflict,
        FindingCode::AmbiguousMark,
        FindingCode::MarkCoveredByPhoto,
        FindingCode::PhotoCheckFailed,
        FindingCode::PhotoMissing,
        FindingCode::PhotoUnconfirmed,
        FindingCode::FixWithoutPaste,
        FindingCode::NameCorrected,
        FindingCode::ValueToKey,
        FindingCode::AgentIdMissing,
        FindingCode::AgentPhoneMissing,
        FindingCode::AgentRelationMissing,
        FindingCode::AgentSignatureMissing,
        FindingCode::ApplicantSignatureMissing,
        FindingCode::IdInvalid,
        FindingCode::PhoneInvalid,
        FindingCode::FieldUnclear,
        FindingCode::ClassSharedPhone,
        FindingCode::DuplicateSerial,
    ];

    /// The stable name written to records and stores (`choice_conflict`, ...).
    pub fn as_str(self) -> &'static str {
        self.table().0
    }

    /// The English message (the subject says which field or group).
    pub fn message(self) -> &'static str {
        self.table().1
    }

    /// The Chinese message.
    pub fn message_zh(self) -> &'static str {
        self.table().2
    }

    fn table(self) -> (&'static str, &'static str, &'static str) {
        use FindingCode::*;
        match self {
            ChoiceConflict => {
                ("choice_conflict", "more than one box is ticked in a single-choice group", "单选项勾选了多项")
            }
            AmbiguousMark => ("ambiguous_mark", "the field is unclear; please check", "字段填写不清，请人工核对"),
            MarkCoveredByPhoto => (
                "mark_covered_by_photo",
                "a pasted photo covers the box; please check the paper form",
                "粘贴的照片遮住了勾选框，请核对原表",
            ),
            PhotoCheckFailed => (
                "photo_check_failed",
                "the pasted photo fails a card-photo check (see the subject): check it or ask for a new one",
                "粘贴的照片未通过制卡照片检查（见说明），请核对或要求重交",
            ),
            PhotoMissing => ("photo_missing", "a photo is required but none is pasted", "需粘贴照片，但未粘贴"),
            PhotoUnconfirmed => (
                "photo_unconfirmed",
                "the printed photo is not confirmed as the applicant's: check that a photo is pasted",
                "打印照片未确认为申领人本人，请核对是否已粘贴照片",
            ),
            FixWithoutPaste => (
                "fix_without_paste",
                "a corrected name or ID number needs a copy of the ID card or household register in the paste area",
                "更正姓名或公民身份号码须在证件粘贴栏粘贴身份证或户口簿复印件",
            ),
            NameCorrected => {
                ("name_corrected", "a corrected name is written: confirm or key it", "填写了更正姓名，请人工确认或录入")
            }
            ValueToKey => (
                "value_to_key",
                "a hand-written value is needed for the card data: key it in (see the subject)",
                "制卡数据需要的手写内容，请人工录入（见说明）",
            ),
            AgentIdMissing => (
                "agent_id_missing",
                "under 16: the agent's ID number is required",
                "未满16周岁，须填写代理人公民身份号码",
            ),
            AgentPhoneMissing => (
                "agent_phone_missing",
                "under 16: the agent's phone number is required",
                "未满16周岁，须填写代理人手机号码",
            ),
            AgentRelationMissing => (
                "agent_relation_missing",
                "under 16: the agent's relationship to the applicant is required",
                "未满16周岁，须勾选代理人与申领人关系",
            ),
            AgentSignatureMissing => {
                ("agent_signature_missing", "under 16: the agent must sign", "未满16周岁，须代理人签名")
            }
            ApplicantSignatureMissing => ("applicant_signature_missing", "the applicant must sign", "须申领人本人签名"),
            IdInvalid => ("id_invalid", "the ID number is not valid (GB 11643)", "公民身份号码不合法"),
            PhoneInvalid => ("phone_invalid", "the phone number is not a valid mobile number", "手机号码不合法"),
            FieldUnclear => (
                "field_unclear",
                "the number could not be read with confidence; please check",
                "号码识别不确定，请人工核对",
            ),
            ClassSharedPhone => (
                "class_shared_phone",
                "every student of the class gives the same phone number: the class's data is invalid",
                "全班学生填写同一手机号码，该班数据无效",
            ),
            DuplicateSerial => (
                "duplicate_serial",
                "the form was scanned more than once with different images: choose one",
                "同一申领表被扫描多次且图像不同，请选择其一",
            ),
        }
    }
}

impl fmt::Display for FindingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not in the table (a store written by a newer version, a typo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFindingCode(pub String);

impl fmt::Display for UnknownFindingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown finding code '{}'", self.0.escape_debug())
    }
}

impl std::error::Error for UnknownFindingCode {}

impl FromStr for FindingCode {
    type Err = UnknownFindingCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FindingCode::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| UnknownFindingCode(s.to_string()))
    }
}

/// One audit finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Why the form needs a person.
    pub code: FindingCode,
    /// The field or group concerned (for `photo_check_failed`, the failed checks).
    pub subject: String,
    /// English message.
    pub message: String,
    /// Chinese message.
    pub message_zh: String,
}

impl Finding {
    /// The finding `code` about `subject`, with the table's messages.
    pub fn new(code: FindingCode, subject: &str) -> Finding {
        Finding {
            code,
            subject: subject.to_string(),
            message: code.message().to_string(),
            message_zh: code.message_zh().to_string(),
        }
    }

    /// The finding with messages of its own, for checks that can say more than the table
    /// (how many boxes are ticked, the field's label).
    pub fn with_messages(code: FindingCode, subject: &str, message: String, message_zh: String) -> Finding {
        Finding { code, subject: subject.to_string(), message, message_zh }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_name_and_serde() {
        let mut names = std::collections::HashSet::new();
        for code in FindingCode::ALL {
            assert!(names.insert(code.as_str()), "{code} named twice");
            assert_eq!(code.as_str().parse::<FindingCode>(), Ok(code));
            assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{}\"", code.as_str()));
            assert!(!code.message().is_empty() && !code.message_zh().is_empty());
        }
        assert!("photo missing".parse::<FindingCode>().is_err());
    }

    #[test]
    fn the_module_table_lists_every_code() {
        let docs = include_str!("finding.rs");
        for code in FindingCode::ALL {
            assert!(docs.contains(&format!("`{}`", code.as_str())), "{code} is not in the table");
        }
    }
}
