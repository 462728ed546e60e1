//! The output record: one JSON object per input page in `records.jsonl`.
//!
//! # Wire format
//!
//! Each line of `records.jsonl` is a [`PageRecord`]:
//!
//! ```json
//! {
//!   "source": {"file": "scans/batch1/0001.jpg", "page": 0},
//!   "outcome": "read",
//!   "reject": null,
//!   "form": {"template": "sbk-student", "version": 1, "run": "R3F9A01", "serial": "000042",
//!            "page": 1, "photo_printed": false},
//!   "registration": {"orientation": 180, "skew_deg": -1.2, "px_per_mm": 11.83,
//!                    "marks_used": 10, "marks_total": 10,
//!                    "residual_median_mm": 0.05, "residual_max_mm": 0.12},
//!   "barcodes": [{"field": "page_code_top", "status": "decoded"},
//!                {"field": "page_code_bottom", "status": "not_tried"}],
//!   "fields": {
//!     "relation_mother": {"kind": "checkbox", "state": "checked", "fill": 0.21, "confidence": 0.99},
//!     "agent_phone": {"kind": "comb", "state": "ink", "fill": 0.09, "confidence": 0.99,
//!                     "value": "13812345678", "value_confidence": 0.9998, "status": "accepted",
//!                     "cells": [{"state": "ink", "fill": 0.14,
//!                                "alternatives": [{"ch": "1", "p": 0.998}]}, ...],
//!                     "snippet": "snippets/R3F9A01-000042-p1-5c0e91d2/agent_phone.png"}
//!   },
//!   "groups": {"agent_relation": {"state": "one", "value": "mother"}},
//!   "findings": [],
//!   "photo": {"status": "pasted", "required": true, "confirmed": null,
//!             "quad": [{"x": 165.2, "y": 46.1}, ...], "crop": [...], "angle_deg": -2.1,
//!             "faces": 1, "face": {"x": 78.0, "y": 98.0, "w": 242.0, "h": 242.0},
//!             "position": {"face_width": 215.0, "hair_top": 14.0, "eye_mid_x": 179.0,
//!                          "eye_above_bottom": 256.0},
//!             "background": [249.0, 3.0, 6.0], "measures": [31.0, 131.0, 58.0],
//!             "jpeg": [70, 23410], "passed": ["print_found", "face_found", ...], "failed": [],
//!             "file": "photos/桂林市育才小学/450303202007016377.jpg"},
//!   "timing_ms": {"decode": 31.0, "register": 6.1, "identify": 3.2, "fields": 9.8, "photo": 12.0,
//!                 "digits": 2.4, "total": 62.1}
//! }
//! ```
//!
//! * `outcome` is `read` (identified and read), `blank` (a blank page, e.g. a back side) or
//!   `rejected`; a rejected page has `reject = {"reason": R, "detail": "..."}` where `R` is one
//!   of `unreadable_file`, `not_a_form`, `marks_not_found`, `barcode_unreadable`,
//!   `unknown_template`, `limits`. Every input page gets exactly one record.
//! * `outcome` may also be `cover`: the page is a class-pack sheet printed by `print` before
//!   each class's forms (the cover sheet or a page of the class list, 花名册), recognised by its
//!   `FSC1` page code. Such a record has no `reject` and no `form`, and carries
//!   `sheet = {"template", "version", "run", "kind": "cover"|"list", "first_serial",
//!   "last_serial", "forms", "sheet"}` ([`crate::payload::SheetPayload`]); `registration` and
//!   `barcodes` are filled in. The `sheet` key is absent from every other record.
//! * `fields` maps each readable field of the template to a [`FieldReading`]; printed and
//!   barcode fields are not listed. `state` is `checked` / `unchecked` for checkboxes and
//!   `ink` / `empty` for every other kind, or `ambiguous` for either when the evidence sits
//!   between the thresholds; `fill` is the fraction of the field's inner area that is ink (for
//!   photo and paste: that differs from paper); `confidence` is in 0.5–1.
//! * Comb fields also carry `value` (the characters read), `value_confidence` (the
//!   probability that `value` is what was written: when it passes the field's check, its
//!   posterior among the readings that pass; otherwise the product of the cells' top
//!   probabilities), `status` (`accepted`,
//!   `needs_review`, `empty`, `invalid`), `reason` when not accepted, and for review the
//!   `candidates` that pass the field's check (mobile pattern, GB 11643 check character and
//!   birth date), most probable first; each written cell lists its best `alternatives`.
//! * Text fields (handwritten names: `agent_name`, `applicant_name_fix`) carry the same
//!   `value`, `value_confidence` (the name's posterior under the surname prior and the form's
//!   evidence, see [`crate::fields::names`]), `status`, `reason` and up to five `candidates`
//!   (names of 2–4 hanzi, `·` allowed), when the name reader is on (the default).
//! * `groups` reports each checkbox group: `none`, `one` (with `value`) or `multiple` (with
//!   `values`; in a single-choice group that raises the `choice_conflict` finding), or
//!   `ambiguous` when one of its boxes is.
//! * `findings` are audit results, each with a stable `code` and messages in English and
//!   Chinese; a form with findings goes to review.
//! * `photo` (read forms whose template has a photo box) is the photo stage's
//!   [`crate::photo::PhotoReading`]: `status` `pasted` / `printed` / `none`, `required` (rules
//!   1–2; `null` until the applicant's age is known from a person lookup), the print's and the
//!   card photo's corners in template mm, the face and head position on the 358 × 441 card
//!   photo, and the checks `passed` and `failed` (stable names, listed in [`crate::photo`]);
//!   `file` is the card photo written under `photos/` (all checks passed) or `photos-review/`.
//! * `warnings` (absent when empty) lists quality notes that are not failures: `bilevel_scan`
//!   for a black-and-white page.
//! * Positions are not repeated per field: the template plus `registration` reproduce them.
//!   Snippet paths are relative to the output folder.

use crate::finding::Finding;
use crate::payload::{PagePayload, SheetPayload};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a page came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    /// The input file, as given or found.
    pub file: String,
    /// 0-based page index within the file.
    pub page: usize,
}

/// The single outcome of one input page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Identified and read.
    Read,
    /// A blank page (e.g. the back of a sheet).
    Blank,
    /// Not read; see the reason.
    Rejected,
    /// A class-pack cover sheet or class-list page (see [`PageRecord::sheet`]): expected in a
    /// pack, neither a form nor a bad page.
    Cover,
}

impl Outcome {
    /// The wire name (as serialised): `read`, `blank`, `rejected`, `cover`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Read => "read",
            Outcome::Blank => "blank",
            Outcome::Rejected => "rejected",
            Outcome::Cover => "cover",
        }
    }
}

/// Why a page was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The file or page could not be decoded.
    UnreadableFile,
    /// The page exceeds a configured limit.
    Limits,
    /// No registration-mark pattern: some other document.
    NotAForm,
    /// Too few marks for a trustworthy fit.
    MarksNotFound,
    /// Neither page code could be read or trusted.
    BarcodeUnreadable,
    /// The page code names a template this engine does not have.
    UnknownTemplate,
}

impl RejectReason {
    /// The reason's wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            RejectReason::UnreadableFile => "unreadable_file",
            RejectReason::Limits => "limits",
            RejectReason::NotAForm => "not_a_form",
            RejectReason::MarksNotFound => "marks_not_found",
            RejectReason::BarcodeUnreadable => "barcode_unreadable",
            RejectReason::UnknownTemplate => "unknown_template",
        }
    }
}

/// A rejection with its detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    /// The reason.
    pub reason: RejectReason,
    /// Details for people.
    pub detail: String,
}

/// Registration figures kept in the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistrationSummary {
    /// 0, 90, 180 or 270.
    pub orientation: u32,
    /// Skew after orientation, degrees.
    pub skew_deg: f64,
    /// Pixels per millimetre.
    pub px_per_mm: f64,
    /// Marks in the fit.
    pub marks_used: usize,
    /// Marks in the template.
    pub marks_total: usize,
    /// Median fit residual, mm.
    pub residual_median_mm: f64,
    /// Largest fit residual, mm.
    pub residual_max_mm: f64,
    /// Template mm → scan px, row-major 3 × 3.
    pub homography: [f64; 9],
}

/// What reading one page code gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BarcodeStatus {
    /// Decoded, and the payload checks out.
    Decoded,
    /// No symbol found.
    NotFound,
    /// A symbol that could not be decoded.
    Damaged,
    /// Decoded, but not a formscan payload or its checksum failed.
    Foreign,
    /// Not read: the other code already identified the page.
    NotTried,
}

/// One page code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BarcodeRead {
    /// Template field name.
    pub field: String,
    /// What happened.
    pub status: BarcodeStatus,
}

/// State of a field or cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldState {
    /// Checkbox ticked.
    Checked,
    /// Checkbox clear.
    Unchecked,
    /// Something written or pasted.
    Ink,
    /// Nothing there.
    Empty,
    /// Between the thresholds: a person should look.
    Ambiguous,
}

/// A recognised class with its probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alternative {
    /// The character.
    pub ch: char,
    /// Its probability.
    pub p: f32,
}

/// Whether a written value can be used as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueStatus {
    /// Confident and valid: use it.
    Accepted,
    /// A person must confirm it (see `candidates` and the snippet).
    NeedsReview,
    /// Nothing written.
    Empty,
    /// Written, but cannot be valid (e.g. 10 of 11 cells).
    Invalid,
}

impl ValueStatus {
    /// The name written to records: `accepted`, `needs_review`, `empty`, `invalid`.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueStatus::Accepted => "accepted",
            ValueStatus::NeedsReview => "needs_review",
            ValueStatus::Empty => "empty",
            ValueStatus::Invalid => "invalid",
        }
    }
}

/// A reading that passes the field's check, for review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueCandidate {
    /// The characters.
    pub value: String,
    /// Product of the cells' probabilities for it.
    pub probability: f64,
}

/// One comb cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellReading {
    /// Ink, empty or ambiguous.
    pub state: FieldState,
    /// Ink fraction of the cell's inner area.
    pub fill: f64,
    /// The best classes for a written cell, most probable first.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub alternatives: Vec<Alternative>,
}

/// One field's reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldReading {
    /// What kind of field was read.
    pub kind: ReadingKind,
    /// The state.
    pub state: FieldState,
    /// Ink (or content) fraction of the inner area.
    pub fill: f64,
    /// Confidence in `state`, 0.5–1.
    pub confidence: f64,
    /// Per-cell readings (comb fields).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cells: Option<Vec<CellReading>>,
    /// Snippet image path, relative to the output folder: a PNG in the folder of this record's
    /// own scan ([`crate::batch::snippet_folder`]).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub snippet: Option<String>,
    /// Comb fields: the characters read (top reading of the written cells); text fields: the
    /// most probable name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub value: Option<String>,
    /// Comb fields: the probability that `value` is what was written, when it passes the
    /// field's check: its posterior among the valid readings (see `fields::digits`); when it
    /// fails, the product of the cells' top probabilities.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub value_confidence: Option<f64>,
    /// Comb and text fields: whether `value` can be used as it is.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<ValueStatus>,
    /// Comb and text fields: why the value is not accepted.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// Comb fields under review: the most probable readings that pass the field's check; text
    /// fields: the most probable names.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub candidates: Vec<ValueCandidate>,
}

impl FieldReading {
    /// A reading of `kind` in `state` with its measure, before any value is read.
    pub fn measured(kind: ReadingKind, state: FieldState, fill: f64, confidence: f64) -> FieldReading {
        FieldReading {
            kind,
            state,
            fill,
            confidence,
            cells: None,
            snippet: None,
            value: None,
            value_confidence: None,
            status: None,
            reason: None,
            candidates: Vec::new(),
        }
    }
}

/// The kind of a read field, as its template names it (barcode fields are not listed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadingKind {
    /// One tick box of a group.
    Checkbox,
    /// A row of character cells.
    Comb,
    /// A free handwriting box.
    Text,
    /// A signature box.
    Signature,
    /// The photo box.
    Photo,
    /// The document paste area.
    Paste,
    /// A roster value printed on the form (checked for corrections).
    Printed,
}

impl ReadingKind {
    /// The kind of a template field; `None` for a barcode, which is not read as a field.
    pub fn of(kind: &crate::template::FieldKind) -> Option<ReadingKind> {
        use crate::template::FieldKind as K;
        Some(match kind {
            K::Barcode => return None,
            K::Checkbox { .. } => ReadingKind::Checkbox,
            K::Comb { .. } => ReadingKind::Comb,
            K::Text => ReadingKind::Text,
            K::Signature => ReadingKind::Signature,
            K::Photo => ReadingKind::Photo,
            K::Paste => ReadingKind::Paste,
            K::Printed { .. } => ReadingKind::Printed,
        })
    }

    /// The name written to records (`checkbox`, `comb`, ...), as in template files.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadingKind::Checkbox => "checkbox",
            ReadingKind::Comb => "comb",
            ReadingKind::Text => "text",
            ReadingKind::Signature => "signature",
            ReadingKind::Photo => "photo",
            ReadingKind::Paste => "paste",
            ReadingKind::Printed => "printed",
        }
    }
}

/// How many boxes of a checkbox group are ticked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupState {
    /// No box is ticked.
    None,
    /// Exactly one box is ticked (`value` says which).
    One,
    /// Several boxes are ticked (`values` lists them).
    Multiple,
    /// A box of the group is ambiguous, so the count is not known.
    Ambiguous,
}

impl GroupState {
    /// The name written to records and stores: `none`, `one`, `multiple`, `ambiguous`.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupState::None => "none",
            GroupState::One => "one",
            GroupState::Multiple => "multiple",
            GroupState::Ambiguous => "ambiguous",
        }
    }
}

/// A checkbox group's reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupReading {
    /// How many boxes are ticked.
    pub state: GroupState,
    /// The chosen value when exactly one box is ticked.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub value: Option<String>,
    /// All ticked values when several are.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub values: Vec<String>,
}

/// Per-stage wall time for one page, milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageTimes {
    /// Decoding the file's page and preparing it for reading (the low-resolution copy and the
    /// paper level; before version 0.1 of this field's meaning, `register` carried that).
    pub decode: f64,
    /// Registering (finding the marks, fitting the homography).
    pub register: f64,
    /// Reading the page codes.
    pub identify: f64,
    /// Reading the fields and cutting snippets.
    pub fields: f64,
    /// The photo stage: locating, framing, checking and encoding the photo.
    #[serde(default)]
    pub photo: f64,
    /// Of `fields`, the handwritten-character recogniser: resampling, normalising and
    /// classifying the written comb cells and decoding their fields.
    #[serde(default)]
    pub digits: f64,
    /// Of `fields`, the name recogniser: finding, resampling and recognising the written
    /// lines of text boxes and decoding them.
    #[serde(default)]
    pub names: f64,
    /// Everything, including writing outputs.
    pub total: f64,
}

/// The record of one input page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageRecord {
    /// Where the page came from.
    pub source: SourceRef,
    /// Read, blank or rejected.
    pub outcome: Outcome,
    /// Why, when rejected.
    pub reject: Option<Rejection>,
    /// The form and page, when identified.
    pub form: Option<PagePayload>,
    /// The class-pack sheet's payload, when the outcome is [`Outcome::Cover`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<SheetPayload>,
    /// Registration figures, when registered.
    pub registration: Option<RegistrationSummary>,
    /// The page codes tried.
    #[serde(default)]
    pub barcodes: Vec<BarcodeRead>,
    /// Field readings by field name.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldReading>,
    /// Checkbox groups by group name.
    #[serde(default)]
    pub groups: BTreeMap<String, GroupReading>,
    /// Audit findings.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// The photo box: status, whether a photo is required, the print and card-photo corners,
    /// the face and the checks (see [`crate::photo`]); absent for pages not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo: Option<crate::photo::PhotoReading>,
    /// Notes on the scan's quality that do not stop the reading (absent when none): today
    /// `bilevel_scan`, a black-and-white page (CCITT G4 and the like), which has no colour
    /// to drop the red print out by and no photo colours to check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Stage timings.
    #[serde(default)]
    pub timing_ms: StageTimes,
}

impl PageRecord {
    /// A record for a page that was rejected before any reading.
    pub fn rejected(source: SourceRef, reason: RejectReason, detail: impl Into<String>) -> PageRecord {
        PageRecord {
            source,
            outcome: Outcome::Rejected,
            reject: Some(Rejection { reason, detail: detail.into() }),
            form: None,
            sheet: None,
            registration: None,
            barcodes: Vec::new(),
            fields: BTreeMap::new(),
            groups: BTreeMap::new(),
            findings: Vec::new(),
            photo: None,
            warnings: Vec::new(),
            timing_ms: StageTimes::default(),
        }
    }
}
