//! Handwritten Chinese names in text boxes: the agent's name, a corrected name.
//!
//! A name box is read in four steps:
//!
//! 1. **Find the line.** The box's inner area is sampled through the registration at 8 px/mm
//!    in the ink channel (the red box lines drop out; see [`crate::scan`]) and the ink's
//!    bounding box found from its row and column profiles.
//! 2. **Normalise.** The ink's box, padded by a fifth of its height above and below and by a
//!    third of it left and right (PaddleOCR's crops carry such a margin), is resampled from
//!    the full-resolution scan straight to the network's 48-pixel height, keeping the aspect,
//!    and stretched so that the paper is white.
//! 3. **Recognise.** PP-OCRv6's recognition network ([`crate::model::text_line`]) gives, per
//!    8 columns, probabilities over 18,710 classes.
//! 4. **Decode.** A CTC beam search constrained to names ([`decode`]), rescored by a surname
//!    prior and the form's own evidence, gives the N best names with posteriors.
//!
//! The statuses follow the digit fields': `accepted` when the best name's posterior is at
//! least [`NameOptions::accept_above`] (calibrated so that accepted names are wrong at most
//! 0.1 % of the time on simulated harsh scans: `docs/names.md`), `needs_review` with the
//! candidates otherwise, `empty` for an empty box, and `invalid` when the box holds writing
//! that the network reads as something other than a name of 2 to 4 characters.

pub mod decode;

use crate::geometry::Rect;
use crate::model::text_line::{LineThread, TextLineModel, LINE_HEIGHT};
use crate::record::{FieldReading, FieldState, GroupState, ValueCandidate, ValueStatus};
use crate::register::Registration;
use crate::scan::{Scan, INK_FRACTION};
use crate::template::{FieldKind, Template};
use decode::{DecodeOptions, Lattice, NameCharset, Priors, SurnameTable};
use std::collections::BTreeMap;

/// Name-reading settings.
#[derive(Debug, Clone)]
pub struct NameOptions {
    /// Read names at all. Default true; false leaves text boxes at "ink or no ink" (and saves
    /// the recogniser's ~15–30 ms per written box).
    pub enabled: bool,
    /// Accept the best name at or above this posterior. Default 0.9978: calibrated on 3,000
    /// simulated harsh name boxes in the stroke-drawn hand (the hardest of the three sources)
    /// by the digit fields' rule, observed and predicted wrong share both at most 0.05 %
    /// (`formscan eval-names`, `docs/names.md`).
    pub accept_above: f64,
    /// Below this total probability of all names the network's reading is not a name (digits,
    /// one character, a scribble): `invalid` when its best path is not one either. Default
    /// 0.05.
    pub min_name_mass: f64,
    /// How probably an agent who is the father or a paternal grandparent has the child's
    /// surname. Default 0.9: children take the father's surname in the great majority of
    /// Chinese families; the rest is left to the surname table.
    pub paternal_surname_p: f64,
    /// The search's settings.
    pub decode: DecodeOptions,
    /// The surname shares the prior uses. Default `None`: the bundled table
    /// (`assets/names/surnames.tsv`, whose data are non-commercial: see `docs/names.md`); a
    /// deployment may give its own ([`SurnameTable::parse`]).
    pub surnames: Option<std::sync::Arc<SurnameTable>>,
    /// Horizontal scale of the line relative to its vertical scale. Default 0.8: the
    /// network's cost grows with the line's width, and handwritten characters are about square
    /// (PaddleOCR's training crops vary more than that in aspect).
    pub squeeze: f64,
    /// Widest line given to the network, px. Default 640 (a 4-character name at 48 px high
    /// is ~250 px; more is a box filled with something else, and the network's cost grows
    /// with the width).
    pub max_line_width: usize,
}

impl Default for NameOptions {
    fn default() -> Self {
        NameOptions {
            enabled: true,
            accept_above: 0.9978,
            min_name_mass: 0.05,
            paternal_surname_p: 0.9,
            decode: DecodeOptions::default(),
            surnames: None,
            squeeze: 0.8,
            max_line_width: 640,
        }
    }
}

/// Reusable buffers of the name reader.
#[derive(Default)]
pub struct NameScratch {
    patch: Vec<u8>,
    line: Vec<u8>,
    mask: Vec<bool>,
    rows: Vec<u32>,
    cols: Vec<u32>,
    /// Made at the first written box, so a worker that never meets one starts no thread.
    thread: Option<LineThread>,
}

impl NameScratch {
    /// Runs the network on `thread` (a batch's pool) instead of a thread of its own.
    pub fn set_thread(&mut self, thread: LineThread) {
        self.thread = Some(thread);
    }
}

/// Sampling resolution for finding the line, px/mm.
const FIND_PX_PER_MM: f64 = 8.0;

/// What the box holds.
enum Line {
    /// No ink.
    Nothing,
    /// A line struck through: something was crossed out.
    Struck,
    /// A line of this width in `scratch.line`.
    Width(usize),
}

/// A stroke at least this many times the line's ink height, near-horizontal through its middle
/// and through a character's body, strikes something out: a character's own strokes stay
/// within its cell (about the ink height), and the gaps between characters break longer runs;
/// a strike is drawn across the whole character and past it.
const STRIKE_RUN: f64 = 1.1;

/// Share of a strike's columns that must hold ink away from the strike itself (the struck
/// character's body). A long stroke that is a character on its own (一, the top of 雨 in a
/// wide hand) has little or none.
const STRIKE_BODY: f64 = 0.5;

/// Whether the ink `mask` (`w` wide; rows `r0..=r1`, columns `c0..=c1`) has a near-horizontal
/// run of [`STRIKE_RUN`] × the ink height through the middle half of the line, across a
/// character's body ([`STRIKE_BODY`]). Runs follow slopes up to ±0.15 and bridge one-sample
/// gaps.
fn struck_through(mask: &[bool], w: usize, (r0, r1): (usize, usize), (c0, c1): (usize, usize)) -> bool {
    let ink_h = (r1 + 1 - r0) as f64;
    let need = (STRIKE_RUN * ink_h).ceil() as usize;
    if c1 + 1 - c0 < need {
        return false;
    }
    let h = mask.len() / w;
    let ink = |x: usize, y: f64| {
        let y = y.round() as isize;
        (y - 1..=y + 1).any(|yy| yy >= 0 && (yy as usize) < h && mask[yy as usize * w + x])
    };
    // Ink in column `x` more than 3 samples from the line at `y`: the body the line crosses.
    let body = |x: usize, y: f64| {
        let y = y.round() as isize;
        (r0..=r1).any(|r| (r as isize - y).abs() > 3 && mask[r * w + x])
    };
    let (band0, band1) = (r0 + (r1 - r0) / 4, r1 - (r1 - r0) / 4);
    for y0 in band0..=band1 {
        for k in -3i32..=3 {
            let slope = k as f64 * 0.05;
            let line_y = |x: usize| y0 as f64 + slope * (x - c0) as f64;
            let (mut run, mut gap) = (0usize, 0usize);
            for x in c0..=c1 {
                if ink(x, line_y(x)) {
                    run += 1 + gap;
                    gap = 0;
                    if run >= need {
                        let from = x + 1 - run;
                        let crossed = (from..=x).filter(|&xx| body(xx, line_y(xx))).count();
                        if crossed as f64 >= STRIKE_BODY * run as f64 {
                            return true;
                        }
                    }
                } else if gap == 0 && run > 0 {
                    gap = 1;
                } else {
                    run = 0;
                    gap = 0;
                }
            }
        }
    }
    false
}

/// Finds the written line in `inner` (template mm) and resamples it to the network's height.
fn line_image(
    scan: &Scan,
    reg: &Registration,
    (inner, outer): (Rect, Rect),
    (max_w, squeeze): (usize, f64),
    s: &mut NameScratch,
) -> Line {
    let (w, h) = scan.sample_ink(&reg.to_scan, inner, FIND_PX_PER_MM, &mut s.patch);
    if w < 4 || h < 4 {
        return Line::Nothing;
    }
    let paper = scan.paper_at(reg.to_scan.apply(inner.center()));
    let thr = (paper * INK_FRACTION) as u8;
    s.rows.clear();
    s.rows.resize(h, 0);
    s.cols.clear();
    s.cols.resize(w, 0);
    s.mask.clear();
    s.mask.extend(s.patch.iter().map(|&v| v < thr));
    for (j, row) in s.mask.chunks_exact(w).enumerate() {
        for (i, _) in row.iter().enumerate().filter(|(_, &m)| m) {
            s.rows[j] += 1;
            s.cols[i] += 1;
        }
    }
    // Two ink samples in a row or column: a lone speck of noise does not stretch the line.
    let span = |p: &[u32]| {
        let first = p.iter().position(|&n| n >= 2)?;
        let last = p.iter().rposition(|&n| n >= 2)?;
        Some((first, last))
    };
    let (Some((c0, c1)), Some((r0, r1))) = (span(&s.cols), span(&s.rows)) else { return Line::Nothing };
    if struck_through(&s.mask, w, (r0, r1), (c0, c1)) {
        return Line::Struck;
    }
    let mm = |px: usize| px as f64 / FIND_PX_PER_MM;
    let ink_h = mm(r1 + 1 - r0).max(2.0);
    let (pad_y, pad_x) = (ink_h / 5.0, ink_h / 3.0);
    let y0 = (inner.y + mm(r0) - pad_y).max(outer.y);
    let y1 = (inner.y + mm(r1 + 1) + pad_y).min(outer.bottom());
    let x0 = (inner.x + mm(c0) - pad_x).max(outer.x);
    let x1 = (inner.x + mm(c1 + 1) + pad_x).min(outer.right());
    let ppm = LINE_HEIGHT as f64 / (y1 - y0);
    // Squeezed across by `squeeze` (template x = x0 + (u − x0) / squeeze), so the line is
    // narrower and the network, whose cost grows with the width, cheaper.
    let q = squeeze.clamp(0.3, 2.0);
    let to_template = crate::geometry::Homography { m: [1.0 / q, 0.0, x0 - x0 / q, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0] };
    let width = ((x1 - x0) * q * ppm).round() as usize;
    let crop = Rect::new(x0, y0, (width.clamp(LINE_HEIGHT / 2, max_w) as f64) / ppm, LINE_HEIGHT as f64 / ppm);
    let (lw, lh) = scan.sample_ink(&reg.to_scan.compose(&to_template), crop, ppm, &mut s.line);
    if lh != LINE_HEIGHT || lw == 0 {
        return Line::Nothing;
    }
    // Paper to white: the network saw clean crops.
    let gain = 255.0 / paper.max(64.0);
    s.line.iter_mut().for_each(|v| *v = (*v as f32 * gain).min(255.0) as u8);
    Line::Width(lw)
}

/// Reads the name written in text field `rect`: its lattice, before any prior. `None` when
/// the box holds no line; a lattice with [`Lattice::struck`] and nothing else when something
/// in it is crossed out (a person reads what stands); an error when the network cannot run.
pub fn read_name(
    scan: &Scan,
    reg: &Registration,
    rect: Rect,
    margin_mm: f64,
    opts: &NameOptions,
    scratch: &mut NameScratch,
) -> crate::Result<Option<Lattice>> {
    let model = TextLineModel::bundled()?;
    let boxes = (rect.inflate(-margin_mm), rect);
    let width = match line_image(scan, reg, boxes, (opts.max_line_width, opts.squeeze), scratch) {
        Line::Nothing => return Ok(None),
        Line::Struck => return Ok(Some(Lattice { struck: true, ..Default::default() })),
        Line::Width(w) => w,
    };
    let thread = scratch.thread.get_or_insert_with(LineThread::new);
    let probs = model.run_grey(&scratch.line, width, thread)?;
    let classes = model.classes();
    Ok(Some(decode::search(&probs, classes, NameCharset::bundled(classes), &opts.decode)))
}

/// What the whole form tells about its names.
#[derive(Debug, Clone, Copy, Default)]
pub struct FormContext<'a> {
    /// The applicant's printed name (from the roster), when the reader knows it.
    pub printed_name: Option<&'a str>,
}

/// The agent relationships whose holder most probably has the child's surname.
const PATERNAL: [&str; 2] = ["father", "paternal_grandparent"];

/// Gives each read name field its value, status and candidates from its lattice (kept in
/// `lattices`), under the evidence the form carries: the agent's relationship (group
/// `agent_relation`) and the printed name. Called when the fields are read, and again when
/// the printed name or the groups change.
pub fn settle(
    template: &Template,
    fields: &mut BTreeMap<String, FieldReading>,
    relation: Option<&str>,
    lattices: &BTreeMap<String, Option<Lattice>>,
    ctx: FormContext,
    opts: &NameOptions,
) {
    if !opts.enabled {
        return;
    }
    let table = opts.surnames.as_deref().unwrap_or(SurnameTable::bundled());
    let child_surname = ctx.printed_name.map(|n| table.surname_of(n).0);
    for f in template.fields.iter().filter(|f| f.kind == FieldKind::Text) {
        let Some(r) = fields.get_mut(&f.name) else { continue };
        // A written box always has an entry (`None`: no line found); an empty one none.
        let lattice = lattices.get(&f.name).and_then(Option::as_ref);
        let priors = match f.name.as_str() {
            "agent_name" => Priors {
                likely_surname: child_surname
                    .filter(|_| relation.is_some_and(|r| PATERNAL.contains(&r)))
                    .map(|s| (s, opts.paternal_surname_p)),
                corrects: None,
            },
            "applicant_name_fix" => Priors { likely_surname: None, corrects: ctx.printed_name },
            _ => Priors::default(),
        };
        settle_one(r, lattice, &priors, table, opts);
    }
}

/// Gives one text box reading (its `state` read) its value, status and candidates from its
/// lattice under `priors`: what [`settle`] does per field.
pub fn settle_reading(r: &mut FieldReading, lattice: Option<&Lattice>, priors: &Priors, opts: &NameOptions) {
    settle_one(r, lattice, priors, opts.surnames.as_deref().unwrap_or(SurnameTable::bundled()), opts);
}

fn settle_one(
    r: &mut FieldReading,
    lattice: Option<&Lattice>,
    priors: &Priors,
    table: &SurnameTable,
    opts: &NameOptions,
) {
    r.candidates.clear();
    r.value = None;
    r.value_confidence = None;
    r.reason = None;
    if r.state == FieldState::Empty {
        r.status = Some(ValueStatus::Empty);
        return;
    }
    let Some(l) = lattice else {
        r.status = Some(ValueStatus::NeedsReview);
        r.reason = Some("no written line found in the box".into());
        return;
    };
    if l.struck {
        r.status = Some(ValueStatus::NeedsReview);
        r.reason = Some("something in the box is crossed out".into());
        return;
    }
    let scored = decode::rescore(l, priors, table, &opts.decode);
    r.candidates = scored.iter().map(|s| ValueCandidate { value: s.text.clone(), probability: s.p }).collect();
    if let Some(best) = scored.first() {
        r.value = Some(best.text.clone());
        r.value_confidence = Some(best.p);
    }
    let han = l.best_path.chars().filter(|&c| c != '·').count();
    let looks_like_name = (decode::MIN_HAN..=decode::MAX_HAN).contains(&han);
    r.status = Some(if l.valid_mass < opts.min_name_mass && !looks_like_name {
        r.reason = Some(format!("not a name of {} to {} characters", decode::MIN_HAN, decode::MAX_HAN));
        ValueStatus::Invalid
    } else if r.state == FieldState::Ink && scored.first().is_some_and(|b| b.p >= opts.accept_above) {
        ValueStatus::Accepted
    } else {
        r.reason =
            Some(if r.state == FieldState::Ambiguous { "faint writing".into() } else { "name not certain".into() });
        ValueStatus::NeedsReview
    });
}

/// The agent's relationship when exactly one box of its group is ticked.
pub fn relation(groups: &BTreeMap<String, crate::record::GroupReading>) -> Option<&str> {
    groups.get("agent_relation").filter(|g| g.state == GroupState::One).and_then(|g| g.value.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(w: usize, h: usize, ink: impl Fn(usize, usize) -> bool) -> Vec<bool> {
        (0..w * h).map(|i| ink(i % w, i / w)).collect()
    }

    #[test]
    fn a_line_across_a_character_and_past_it_strikes_it_out() {
        // Three 40-px "characters" (boxes of strokes) 8 px apart, ink height 40.
        let chars = |x: usize, y: usize| {
            let cx = x % 48;
            x < 144 && cx < 40 && (y % 10 < 3 || cx % 13 < 3) && (4..44).contains(&y)
        };
        let plain = mask(160, 48, chars);
        assert!(!struck_through(&plain, 160, (4, 43), (0, 135)));
        // A strike from x = 40 to 100 through the middle, rising 1 px in 10.
        let struck = mask(160, 48, |x, y| chars(x, y) || ((40..100).contains(&x) && y == 26 - (x - 40) / 10));
        assert!(struck_through(&struck, 160, (4, 43), (0, 135)));
        // A long stroke that crosses nothing (a wide 一 beside a character) strikes nothing out.
        let lone = mask(160, 48, |x, y| (x < 40 && chars(x, y)) || ((48..110).contains(&x) && y == 24));
        assert!(!struck_through(&lone, 160, (4, 43), (0, 109)));
    }
}
