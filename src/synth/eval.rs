//! Scoring records against the simulator's ground truth: the accuracy figures of the test
//! ratchet, `formscan demo` and the closing notes all come from here.

use super::Truth;
use crate::geometry::Point;
use crate::record::{FieldState, Outcome, PageRecord};
use crate::template::{FieldKind, Template};
use serde::Serialize;
use std::path::Path;

/// Right and total for one measure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Score {
    /// Correct.
    pub right: usize,
    /// Scored.
    pub total: usize,
}

impl Score {
    fn add(&mut self, ok: bool) {
        self.right += ok as usize;
        self.total += 1;
    }

    /// Fraction right (1 when nothing was scored).
    pub fn rate(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.right as f64 / self.total as f64
        }
    }
}

/// Accuracy of a batch against its truth.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Evaluation {
    /// Form pages identified with the right serial.
    pub identified: Score,
    /// Blank backs reported as blank.
    pub blanks: Score,
    /// Checkbox states.
    pub checkboxes: Score,
    /// Comb cells: ink or not.
    pub comb_cells: Score,
    /// Text boxes: ink or not.
    pub text_boxes: Score,
    /// Signature boxes: ink or not.
    pub signatures: Score,
    /// Photo box: content or not.
    pub photos: Score,
    /// Paste area: content or not.
    pub paste: Score,
    /// Registration error over all field corners, per page: median of the page medians, mm.
    pub registration_median_mm: f64,
    /// Largest registration error at any field corner of any page, mm.
    pub registration_max_mm: f64,
    /// Upside-down pages among the identified ones.
    pub upside_down: usize,
    /// Written comb cells whose top class is the written character.
    pub digits: Score,
    /// Fully written phone and ID fields.
    pub digit_fields: usize,
    /// Of those, accepted without review.
    pub digit_fields_accepted: usize,
    /// Accepted fields whose value is wrong.
    pub digit_fields_accepted_wrong: usize,
    /// Partly written phone and ID fields, and how many of them were reported `invalid`.
    pub partial_fields: Score,
    /// Per fully written field whose top reading passes its check: (the value's posterior
    /// among the valid readings, reading correct) — the data the accept threshold is
    /// calibrated on.
    #[serde(skip)]
    pub calibration: Vec<(f64, bool)>,
    /// What went wrong, one line each (for test failure messages).
    pub errors: Vec<String>,
    /// Misread digits and wrongly accepted digit fields, one line each (expected at a rate the
    /// digit figures above state; kept apart from `errors`, which should be empty).
    pub digit_errors: Vec<String>,
}

impl Evaluation {
    /// The lowest accept threshold at which at most `max_error` of the accepted fields (of
    /// those in [`Evaluation::calibration`]) are wrong, with the accepted share it gives.
    pub fn calibrate(&self, max_error: f64) -> Option<(f64, f64)> {
        let mut pts = self.calibration.clone();
        pts.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut best = None;
        let (mut n, mut wrong) = (0usize, 0usize);
        for (i, &(p, ok)) in pts.iter().enumerate() {
            n += 1;
            wrong += (!ok) as usize;
            let tie = pts.get(i + 1).is_some_and(|q| q.0 == p);
            if !tie && wrong as f64 <= max_error * n as f64 {
                best = Some((p, n as f64 / pts.len() as f64));
            }
        }
        best
    }

    /// Ink / no-ink accuracy over comb cells, text and signature boxes together.
    pub fn ink(&self) -> Score {
        let parts = [self.comb_cells, self.text_boxes, self.signatures];
        Score { right: parts.iter().map(|s| s.right).sum(), total: parts.iter().map(|s| s.total).sum() }
    }
}

fn state_name(s: FieldState) -> &'static str {
    match s {
        FieldState::Checked => "checked",
        FieldState::Unchecked => "unchecked",
        FieldState::Ink => "ink",
        FieldState::Empty => "empty",
        FieldState::Ambiguous => "ambiguous",
    }
}

/// Scores `records` against the truth JSON beside each scan (`x.jpg` → `x.json`).
pub fn evaluate(t: &Template, records: &[PageRecord]) -> Evaluation {
    let mut e = Evaluation::default();
    let mut page_medians = Vec::new();
    for r in records {
        let truth_path = Path::new(&r.source.file).with_extension("json");
        let Some(truth) =
            std::fs::read_to_string(&truth_path).ok().and_then(|s| serde_json::from_str::<Truth>(&s).ok())
        else {
            e.errors.push(format!("{}: no truth file", r.source.file));
            continue;
        };
        if truth.kind == "blank" {
            e.blanks.add(r.outcome == Outcome::Blank);
            if r.outcome != Outcome::Blank {
                e.errors.push(format!("{}: blank page read as {:?}", r.source.file, r.outcome));
            }
            continue;
        }
        let ok = r.outcome == Outcome::Read
            && r.form.as_ref().map(|f| Some(&f.serial) == truth.serial.as_ref()).unwrap_or(false);
        e.identified.add(ok);
        if !ok {
            e.errors.push(format!("{}: not identified ({:?})", r.source.file, r.reject));
            continue;
        }
        e.upside_down += truth.upside_down as usize;
        if let (Some(reg), Some(th)) = (&r.registration, &truth.to_scan) {
            let h = crate::geometry::Homography { m: reg.homography };
            let mut errs: Vec<f64> = t
                .fields
                .iter()
                .flat_map(|f| f.rect.corners())
                .map(|p: Point| h.apply(p).dist(th.apply(p)) / reg.px_per_mm)
                .collect();
            errs.sort_by(f64::total_cmp);
            page_medians.push(errs[errs.len() / 2]);
            e.registration_max_mm = e.registration_max_mm.max(*errs.last().unwrap_or(&0.0));
        }
        let mut extra = Vec::new();
        for f in &t.fields {
            let (Some(ft), Some(fr)) = (truth.fields.get(&f.name), r.fields.get(&f.name)) else { continue };
            let mut check = |score: &mut Score, want: &str, got: FieldState, what: String| {
                let ok = state_name(got) == want;
                score.add(ok);
                if !ok {
                    e.errors.push(format!("{} {}: want {want}, got {}", r.source.file, what, state_name(got)));
                }
            };
            match &f.kind {
                FieldKind::Checkbox { .. } => check(&mut e.checkboxes, &ft.state, fr.state, f.name.clone()),
                FieldKind::Comb { .. } => {
                    if let (Some(tc), Some(rc)) = (&ft.cells, &fr.cells) {
                        for (i, (tcell, rcell)) in tc.iter().zip(rc).enumerate() {
                            let want = if tcell.is_empty() { "empty" } else { "ink" };
                            check(&mut e.comb_cells, want, rcell.state, format!("{}[{i}]", f.name));
                            if let (Some(c), Some(a)) = (tcell.chars().next(), rcell.alternatives.first()) {
                                let ok = a.ch == c;
                                e.digits.add(ok);
                                if !ok {
                                    extra.push(format!(
                                        "{} {}[{i}]: wrote {c}, read {} ({:.2})",
                                        r.source.file, f.name, a.ch, a.p
                                    ));
                                }
                            }
                        }
                        let truth: String = tc.concat();
                        let written = tc.iter().filter(|c| !c.is_empty()).count();
                        let status = fr
                            .status
                            .map(|s| {
                                serde_json::to_value(s)
                                    .ok()
                                    .and_then(|v| v.as_str().map(String::from))
                                    .unwrap_or_default()
                            })
                            .unwrap_or_default();
                        if written == tc.len() {
                            e.digit_fields += 1;
                            let correct = fr.value.as_deref() == Some(truth.as_str());
                            if status == "accepted" {
                                e.digit_fields_accepted += 1;
                                if !correct {
                                    e.digit_fields_accepted_wrong += 1;
                                    extra.push(format!(
                                        "{} {}: accepted {:?}, wrote {truth}",
                                        r.source.file, f.name, fr.value
                                    ));
                                }
                            }
                            // Calibration data: fields whose top reading passes its check (accepted,
                            // or in review only for want of certainty) with the value's posterior.
                            let valid = fr
                                .reason
                                .as_deref()
                                .is_none_or(|why| why.starts_with(crate::fields::digits::UNCERTAIN_REASON));
                            if let (true, Some(p)) = (valid, fr.value_confidence) {
                                e.calibration.push((p, correct));
                            }
                        } else if written > 0 {
                            e.partial_fields.add(status == "invalid");
                        }
                    }
                }
                FieldKind::Text => check(&mut e.text_boxes, &ft.state, fr.state, f.name.clone()),
                FieldKind::Signature => check(&mut e.signatures, &ft.state, fr.state, f.name.clone()),
                FieldKind::Photo => check(&mut e.photos, &ft.state, fr.state, f.name.clone()),
                FieldKind::Paste => check(&mut e.paste, &ft.state, fr.state, f.name.clone()),
                _ => {}
            }
        }
        e.digit_errors.extend(extra);
    }
    page_medians.sort_by(f64::total_cmp);
    e.registration_median_mm = page_medians.get(page_medians.len() / 2).copied().unwrap_or(0.0);
    e
}

/// Reads `records.jsonl`.
pub fn read_records(path: &Path) -> crate::Result<Vec<PageRecord>> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::Error::io_at(path, e))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| crate::Error::input_at(path, e.to_string())))
        .collect()
}
