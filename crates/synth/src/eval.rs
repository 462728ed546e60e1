//! Scoring records against the simulator's ground truth: the accuracy figures of the test
//! ratchet, `formscan demo` and the closing notes all come from here.

use super::Truth;
use formscan::geometry::Point;
use formscan::record::{FieldState, Outcome, PageRecord};
use formscan::template::{FieldKind, Template};
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
    /// Checkboxes a pasted print covers, flagged as covered (they count in `checkboxes` as
    /// right when flagged), and boxes a print comes near that were flagged.
    pub covered_boxes: Score,
    /// Light photocopies in the paste area found as content.
    pub light_copies: Score,
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
    /// Handwritten names (text boxes with a written name in the truth) read as ink.
    pub names: usize,
    /// Of those, whose best reading is the written name.
    pub names_top1: usize,
    /// Of those, accepted without review.
    pub names_accepted: usize,
    /// Accepted names that are wrong.
    pub names_accepted_wrong: usize,
    /// Of those, with the written name among the candidates.
    pub names_in_candidates: usize,
    /// Empty name boxes, and how many of them read `empty`.
    pub names_empty: Score,
    /// Per written name with a reading: (the best name's posterior, reading correct) — the data
    /// the names' accept threshold is calibrated on.
    #[serde(skip)]
    pub name_calibration: Vec<(f64, bool)>,
    /// What went wrong, one line each (for test failure messages).
    pub errors: Vec<String>,
    /// Misread digits and wrongly accepted digit fields, one line each (expected at a rate the
    /// digit figures above state; kept apart from `errors`, which should be empty).
    pub digit_errors: Vec<String>,
}

impl Evaluation {
    /// The lowest accept threshold at which the accepted fields (of those in
    /// [`Evaluation::calibration`]) keep within `max_error` with a margin of two, with the
    /// accepted share it gives.
    ///
    /// Both the observed share of wrong fields and the share the posteriors themselves predict
    /// (Σ (1 − posterior) / n, which holds when they are calibrated) must be at most
    /// `max_error / 2`. Half, because a 0.1 % rate is barely visible in a few thousand fields
    /// (one error moves it by 0.05 %) and the posteriors were seen to under-predict errors by
    /// about 1.3× in the 0.9–0.99 band of the calibration pages. See `docs/digits.md`.
    pub fn calibrate(&self, max_error: f64) -> Option<(f64, f64)> {
        threshold_for(&self.calibration, max_error)
    }

    /// [`Evaluation::calibrate`] for the names' accept threshold, over
    /// [`Evaluation::name_calibration`]; the share is of the names with a reading.
    pub fn calibrate_names(&self, max_error: f64) -> Option<(f64, f64)> {
        threshold_for(&self.name_calibration, max_error)
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

/// The lowest threshold at which the points above it keep within `max_error / 2`, observed
/// and predicted (see [`Evaluation::calibrate`]), with the share of points it accepts.
fn threshold_for(points: &[(f64, bool)], max_error: f64) -> Option<(f64, f64)> {
    let mut pts = points.to_vec();
    pts.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut best = None;
    let (mut n, mut wrong, mut predicted) = (0usize, 0usize, 0.0f64);
    for (i, &(p, ok)) in pts.iter().enumerate() {
        n += 1;
        wrong += (!ok) as usize;
        predicted += 1.0 - p;
        let tie = pts.get(i + 1).is_some_and(|q| q.0 == p);
        let limit = max_error / 2.0 * n as f64;
        if !tie && wrong as f64 <= limit && predicted <= limit {
            best = Some((p, n as f64 / pts.len() as f64));
        }
    }
    best
}

/// Scores one name box: only boxes the reader gave a name status (the name reader ran).
fn score_name(
    e: &mut Evaluation,
    extra: &mut Vec<String>,
    file: &str,
    field: &str,
    ft: &super::FieldTruth,
    fr: &formscan::record::FieldReading,
) {
    use formscan::record::ValueStatus;
    let Some(status) = fr.status else { return };
    match &ft.text {
        None => e.names_empty.add(status == ValueStatus::Empty),
        Some(truth) => {
            e.names += 1;
            let correct = fr.value.as_deref() == Some(truth.as_str());
            e.names_top1 += correct as usize;
            e.names_in_candidates += fr.candidates.iter().any(|c| c.value == *truth) as usize;
            if status == ValueStatus::Accepted {
                e.names_accepted += 1;
                if !correct {
                    e.names_accepted_wrong += 1;
                    extra.push(format!("{file} {field}: accepted {:?}, wrote {truth}", fr.value));
                }
            }
            if let Some(p) = fr.value_confidence {
                e.name_calibration.push((p, correct));
            }
        }
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
            let h = formscan::geometry::Homography { m: reg.homography };
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
                FieldKind::Checkbox { .. } if ft.covered => {
                    let flagged = fr.reason.as_deref() == Some(formscan::fields::COVERED_REASON);
                    e.covered_boxes.add(flagged);
                    e.checkboxes.add(flagged);
                    if !flagged {
                        e.errors.push(format!("{} {}: covered, not flagged", r.source.file, f.name));
                    }
                }
                FieldKind::Checkbox { .. }
                    if ft.near_print && fr.reason.as_deref() == Some(formscan::fields::COVERED_REASON) =>
                {
                    e.checkboxes.add(true);
                    e.covered_boxes.add(true);
                }
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
                                .is_none_or(|why| why.starts_with(formscan::fields::digits::UNCERTAIN_REASON));
                            if let (true, Some(p)) = (valid, fr.value_confidence) {
                                e.calibration.push((p, correct));
                            }
                        } else if written > 0 {
                            e.partial_fields.add(status == "invalid");
                        }
                    }
                }
                FieldKind::Text => {
                    check(&mut e.text_boxes, &ft.state, fr.state, f.name.clone());
                    score_name(&mut e, &mut extra, &r.source.file, &f.name, ft, fr);
                }
                FieldKind::Signature => check(&mut e.signatures, &ft.state, fr.state, f.name.clone()),
                FieldKind::Photo => check(&mut e.photos, &ft.state, fr.state, f.name.clone()),
                FieldKind::Paste => {
                    if ft.copy.as_deref() == Some("light") {
                        e.light_copies.add(fr.state == FieldState::Ink);
                    }
                    check(&mut e.paste, &ft.state, fr.state, f.name.clone())
                }
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
pub fn read_records(path: &Path) -> formscan::Result<Vec<PageRecord>> {
    let text = std::fs::read_to_string(path).map_err(|e| formscan::Error::io_at(path, e))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| formscan::Error::input_at(path, e.to_string())))
        .collect()
}

/// Photo-stage accuracy of a batch against its truth (see [`evaluate_photos`]).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PhotoEvaluation {
    /// Forms scored.
    pub forms: usize,
    /// Pasted prints reported pasted.
    pub pasted_true_pos: usize,
    /// Forms without a pasted print reported pasted.
    pub pasted_false_pos: usize,
    /// Pasted prints not reported pasted.
    pub pasted_false_neg: usize,
    /// Status (printed / pasted / none) right.
    pub status: Score,
    /// Forms with a printed photo and nothing pasted, read as `printed`.
    pub printed_read_printed: Score,
    /// Card-ready photos (under `photos/`) written for forms with no pasted print: a crop of
    /// the printed photo, or of nothing, that would go on a card. Must be 0.
    pub card_photos_without_print: usize,
    /// Found prints whose corners overlap the truth with IoU ≥ 0.95, of the pasted ones.
    pub iou_95: Score,
    /// Lowest and median IoU of the found prints.
    pub iou_min: f64,
    /// Median IoU.
    pub iou_median: f64,
    /// Written photo files that are 358 × 441 RGB JPEG, 350 dpi, inside the KB range.
    pub files_in_spec: Score,
    /// Card photos (a face was found) whose true eyes, hair and face width meet the rules.
    pub position: Score,
    /// Non-white backgrounds flagged (a background check failed, or no card photo at all).
    pub non_white_flagged: Score,
    /// White backgrounds that passed both background checks (sound prints only).
    pub white_passed: Score,
    /// Defective prints (synth `defective_prints`) kept out of `photos/` by the check for their
    /// defect: `colour_print` for a grey copy, `sharp` for a blurred print, `bright_enough`
    /// (or `face_found`, when nothing is visible) for a dark one.
    pub defects_flagged: Score,
    /// Problems, one line each.
    pub errors: Vec<String>,
}

impl PhotoEvaluation {
    /// Presence precision.
    pub fn precision(&self) -> f64 {
        self.pasted_true_pos as f64 / (self.pasted_true_pos + self.pasted_false_pos).max(1) as f64
    }

    /// Presence recall.
    pub fn recall(&self) -> f64 {
        self.pasted_true_pos as f64 / (self.pasted_true_pos + self.pasted_false_neg).max(1) as f64
    }
}

fn poly_area(p: &[Point]) -> f64 {
    let n = p.len();
    (0..n).map(|i| p[i].x * p[(i + 1) % n].y - p[(i + 1) % n].x * p[i].y).sum::<f64>().abs() / 2.0
}

/// Intersection over union of two convex quadrilaterals (Sutherland–Hodgman clipping).
pub fn quad_iou(a: &[Point; 4], b: &[Point; 4]) -> f64 {
    let orient = |q: &[Point; 4]| {
        let s: f64 = (0..4).map(|i| q[i].x * q[(i + 1) % 4].y - q[(i + 1) % 4].x * q[i].y).sum();
        if s < 0.0 {
            let mut r = *q;
            r.reverse();
            r
        } else {
            *q
        }
    };
    let (a, b) = (orient(a), orient(b));
    let mut poly: Vec<Point> = a.to_vec();
    for i in 0..4 {
        let (p, q) = (b[i], b[(i + 1) % 4]);
        let inside = |r: Point| (q.x - p.x) * (r.y - p.y) - (q.y - p.y) * (r.x - p.x) >= 0.0;
        let cross = |r: Point, s: Point| {
            let (d1, d2) = (
                (q.x - p.x) * (r.y - p.y) - (q.y - p.y) * (r.x - p.x),
                (q.x - p.x) * (s.y - p.y) - (q.y - p.y) * (s.x - p.x),
            );
            let t = d1 / (d1 - d2);
            Point::new(r.x + (s.x - r.x) * t, r.y + (s.y - r.y) * t)
        };
        let input = std::mem::take(&mut poly);
        for k in 0..input.len() {
            let (cur, prev) = (input[k], input[(k + input.len() - 1) % input.len()]);
            match (inside(cur), inside(prev)) {
                (true, true) => poly.push(cur),
                (true, false) => {
                    poly.push(cross(prev, cur));
                    poly.push(cur);
                }
                (false, true) => poly.push(cross(prev, cur)),
                _ => {}
            }
        }
        if poly.is_empty() {
            return 0.0;
        }
    }
    let inter = poly_area(&poly);
    inter / (poly_area(&a) + poly_area(&b) - inter).max(1e-9)
}

/// Scores the photo readings of `records` (written by a batch into `out_dir`) against the
/// truth beside each scan, with the KB range the batch used.
pub fn evaluate_photos(records: &[PageRecord], out_dir: &Path, kb: (u32, u32)) -> PhotoEvaluation {
    let mut e = PhotoEvaluation::default();
    let mut ious = Vec::new();
    for r in records {
        let Some(truth) = std::fs::read_to_string(Path::new(&r.source.file).with_extension("json"))
            .ok()
            .and_then(|s| serde_json::from_str::<Truth>(&s).ok())
        else {
            continue;
        };
        if truth.kind != "form" || r.outcome != Outcome::Read {
            continue;
        }
        let Some(ft) = truth.fields.values().find(|f| f.photo.is_some()) else { continue };
        let Some(rp) = &r.photo else {
            e.errors.push(format!("{}: no photo reading", r.source.file));
            continue;
        };
        e.forms += 1;
        let want = ft.photo.as_deref().unwrap_or("none");
        let got = match rp.status {
            formscan::photo::PhotoStatus::Pasted => "pasted",
            formscan::photo::PhotoStatus::Printed => "printed",
            formscan::photo::PhotoStatus::None => "none",
        };
        e.status.add(want == got);
        match (want == "pasted", got == "pasted") {
            (true, true) => e.pasted_true_pos += 1,
            (false, true) => e.pasted_false_pos += 1,
            (true, false) => e.pasted_false_neg += 1,
            _ => {}
        }
        if want != got {
            e.errors.push(format!("{}: photo {want}, read {got}", r.source.file));
        }
        if want == "printed" {
            e.printed_read_printed.add(got == "printed");
        }
        if want != "pasted" && rp.file.as_deref().is_some_and(|f| f.starts_with("photos/")) {
            e.card_photos_without_print += 1;
            e.errors.push(format!("{}: card photo written without a pasted print", r.source.file));
        }
        if let Some(f) = &rp.file {
            let ok = std::fs::read(out_dir.join(f)).ok().is_some_and(|d| {
                let size_ok = (kb.0 as usize * 1024..=kb.1 as usize * 1024).contains(&d.len());
                let dpi_ok = formscan::photo::encode::jfif_density(&d) == Some((1, 350, 350));
                let img_ok = image::load_from_memory(&d)
                    .is_ok_and(|i| (i.width(), i.height(), i.color()) == (358, 441, image::ColorType::Rgb8));
                size_ok && dpi_ok && img_ok
            });
            e.files_in_spec.add(ok);
            if !ok {
                e.errors.push(format!("{}: photo file {f} out of spec", r.source.file));
            }
        }
        let (Some(tq), Some(pt)) = (&ft.quad, &ft.pasted) else { continue };
        if let Some(q) = &rp.quad {
            let iou = quad_iou(tq, q);
            ious.push(iou);
            e.iou_95.add(iou >= 0.95);
            if iou < 0.95 {
                e.errors.push(format!("{}: print IoU {iou:.3}", r.source.file));
            }
        } else if got == "pasted" {
            e.iou_95.add(false);
        }
        let flagged_bg = rp.failed.iter().any(|c| c.starts_with("background_"));
        let in_photos = rp.file.as_deref().is_some_and(|f| f.starts_with("photos/"));
        if let Some(defect) = &pt.defect {
            let failed = |c: &str| rp.failed.iter().any(|f| f == c);
            let caught = match defect.as_str() {
                "grey_copy" => failed("colour_print"),
                "blurred" => failed("sharp"),
                _ => failed("bright_enough") || failed("face_found"),
            };
            let flagged = caught && !in_photos;
            e.defects_flagged.add(flagged);
            if !flagged {
                e.errors.push(format!("{}: {defect} print not flagged (failed {:?})", r.source.file, rp.failed));
            }
        }
        if pt.background == "white" {
            if pt.defect.is_none() && rp.position.is_some() {
                e.white_passed.add(!flagged_bg);
            }
        } else {
            let flagged = flagged_bg || rp.file.as_deref().is_none_or(|f| !f.starts_with("photos/"));
            e.non_white_flagged.add(flagged);
            if !flagged {
                e.errors.push(format!("{}: {} background not flagged", r.source.file, pt.background));
            }
        }
        if let (Some(crop), Some(_)) = (&rp.crop, &rp.position) {
            let out = [Point::new(0.0, 0.0), Point::new(358.0, 0.0), Point::new(358.0, 441.0), Point::new(0.0, 441.0)];
            if let Some(h) = formscan::geometry::Homography::fit(crop, &out) {
                let (l, rr) = (h.apply(pt.eyes[0]), h.apply(pt.eyes[1]));
                let hair = h.apply(pt.hair_top);
                let fw = pt.face_width_mm * 358.0 / crop[0].dist(crop[1]);
                let eye_y = (l.y + rr.y) / 2.0;
                let ok = formscan::photo::frame::meets_rules(fw, hair.y, (l.x + rr.x) / 2.0, 441.0 - eye_y);
                e.position.add(ok);
                if !ok {
                    e.errors.push(format!(
                        "{}: position: face {fw:.0}, hair {:.0}, eyes x {:.0}, above bottom {:.0} ({})",
                        r.source.file,
                        hair.y,
                        (l.x + rr.x) / 2.0,
                        441.0 - eye_y,
                        pt.subject
                    ));
                }
            }
        }
    }
    ious.sort_by(f64::total_cmp);
    e.iou_min = ious.first().copied().unwrap_or(0.0);
    e.iou_median = ious.get(ious.len() / 2).copied().unwrap_or(0.0);
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quad_iou_of_shifted_and_rotated_squares() {
        let sq = |x: f64, y: f64| {
            [Point::new(x, y), Point::new(x + 2.0, y), Point::new(x + 2.0, y + 2.0), Point::new(x, y + 2.0)]
        };
        assert!((quad_iou(&sq(0.0, 0.0), &sq(0.0, 0.0)) - 1.0).abs() < 1e-9);
        assert!((quad_iou(&sq(0.0, 0.0), &sq(1.0, 0.0)) - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(quad_iou(&sq(0.0, 0.0), &sq(5.0, 0.0)), 0.0);
        let mut rev = sq(0.0, 0.0);
        rev.reverse();
        assert!((quad_iou(&rev, &sq(0.0, 1.0)) - 1.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn calibration_needs_both_observed_and_predicted_errors_within_half_the_target() {
        // 4000 fields at posterior 0.99999, then 1000 at 0.9985 and 1000 at 0.997 (each band
        // correct), then one wrong field at 0.99.
        let mut e = Evaluation::default();
        e.calibration.extend(std::iter::repeat_n((0.99999, true), 4000));
        e.calibration.extend(std::iter::repeat_n((0.9985, true), 1000));
        e.calibration.extend(std::iter::repeat_n((0.997, true), 1000));
        e.calibration.push((0.99, false));
        // Down to 0.9985: predicted 0.04 + 1.5 = 1.54 ≤ 0.0005 × 5000 = 2.5. Down to 0.997:
        // predicted 4.54 > 3.0, so 0.997 is refused although no field there is wrong.
        let (t, share) = e.calibrate(0.001).unwrap();
        assert_eq!(t, 0.9985);
        assert!((share - 5000.0 / 6001.0).abs() < 1e-9);
        // One wrong field among the confident ones is within the margin (1 ≤ 2.5 at 5000
        // fields); three are not at any threshold.
        e.calibration[0].1 = false;
        assert_eq!(e.calibrate(0.001).unwrap().0, 0.9985);
        e.calibration.iter_mut().take(3).for_each(|c| c.1 = false);
        assert_eq!(e.calibrate(0.001), None);
    }
}
