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
    /// What went wrong, one line each (for test failure messages).
    pub errors: Vec<String>,
}

impl Evaluation {
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
