//! Reading the fields of a registered page: checkbox marks (OMR), ink in comb cells, text and
//! signature boxes, content in the photo box and paste area, and snippets for keying.
//!
//! Every field is resampled from the full-resolution scan into template space through the
//! registration homography, so a skewed or keystoned page reads exactly like a straight one;
//! only the field's own pixels are touched (~1 Mpx per page at the default resolutions).
//! Measurements use the ink channel and the local paper level (see [`crate::scan`]), and each
//! box is shrunk by a margin so that a registration error of up to
//! [`FieldOptions::margin_mm`] cannot pull the printed label or a neighbour's ink into it.

pub mod digits;
pub mod names;

use crate::model::DigitClassifier;
use digits::DigitOptions;
use names::{NameOptions, NameScratch};

use crate::geometry::Rect;
use crate::record::{CellReading, FieldReading, FieldState, GroupReading, GroupState, ReadingKind};
use crate::register::Registration;
use crate::scan::{Scan, INK_FRACTION};
use crate::template::{Field, FieldKind, Template};
use std::collections::BTreeMap;

/// Field-reading settings. The thresholds are fractions of the box's inner area that is ink;
/// between `empty_below` and `ink_above` the state is `ambiguous`.
#[derive(Debug, Clone)]
pub struct FieldOptions {
    /// Inner margin, mm. Default 0.6: twice the worst registration error seen on harsh
    /// synthetic scans, and less than the 1 mm a writer stays inside a box.
    pub margin_mm: f64,
    /// Resampling resolution for measurements, px/mm. Default 7 (178 dpi): a 0.4 mm pen
    /// stroke still spans ~3 samples, at half the cost of 10 px/mm.
    pub measure_px_per_mm: f64,
    /// Checkbox: checked above. Default 0.06: a tick of 0.4 mm covers 15–35 % of a 2.8 mm
    /// inner square; a stray dot 1–2 %.
    pub checkbox_checked_above: f64,
    /// Checkbox: unchecked below. Default 0.02.
    pub checkbox_unchecked_below: f64,
    /// Comb cell: ink above. Default 0.02 (a digit covers 8–25 % of a cell).
    pub cell_ink_above: f64,
    /// Comb cell: empty below. Default 0.006.
    pub cell_empty_below: f64,
    /// Text and signature boxes: ink above. Default 0.004 (a two-character name covers ~3 %,
    /// a short scribble ~1 %).
    pub box_ink_above: f64,
    /// Text and signature boxes: empty below. Default 0.0012.
    pub box_empty_below: f64,
    /// Photo box: a photo above. Default 0.25 (a portrait differs from paper over 40–90 %).
    pub photo_above: f64,
    /// Photo box: empty below. Default 0.05.
    pub photo_empty_below: f64,
    /// Paste area: content above. Default 0.02.
    pub paste_above: f64,
    /// Paste area: empty below. Default 0.004.
    pub paste_empty_below: f64,
    /// Cut snippet images of written fields. Default true: keying operators need them.
    pub snippets: bool,
    /// Handwritten characters in comb fields.
    pub digits: DigitOptions,
    /// Handwritten names in text boxes.
    pub names: NameOptions,
}

impl Default for FieldOptions {
    fn default() -> Self {
        FieldOptions {
            margin_mm: 0.6,
            measure_px_per_mm: 7.0,
            checkbox_checked_above: 0.06,
            checkbox_unchecked_below: 0.02,
            cell_ink_above: 0.02,
            cell_empty_below: 0.006,
            box_ink_above: 0.004,
            box_empty_below: 0.0012,
            photo_above: 0.25,
            photo_empty_below: 0.05,
            paste_above: 0.02,
            paste_empty_below: 0.004,
            snippets: true,
            digits: DigitOptions::default(),
            names: NameOptions::default(),
        }
    }
}

/// An image cut from a field for keying.
#[derive(Debug, Clone)]
pub struct Snippet {
    /// Field name.
    pub field: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// 1 (grey ink channel) or 3 (RGB).
    pub channels: u8,
    /// Row-major pixels.
    pub pixels: Vec<u8>,
}

/// Everything read from the fields of one page.
#[derive(Debug, Clone, Default)]
pub struct FieldReadings {
    /// By field name.
    pub fields: BTreeMap<String, FieldReading>,
    /// By group name.
    pub groups: BTreeMap<String, GroupReading>,
    /// Snippets to save.
    pub snippets: Vec<Snippet>,
    /// Time spent in the character recogniser (cells and decoding), ms.
    pub digits_ms: f64,
    /// What the name reader found in each written text box, before the form's evidence
    /// (`None`: no line found); [`names::settle`] turns it into values.
    pub names: BTreeMap<String, Option<names::decode::Lattice>>,
    /// Time spent reading names, ms.
    pub names_ms: f64,
}

/// Reusable buffers.
#[derive(Default)]
pub struct FieldScratch {
    patch: Vec<u8>,
    /// Paper-normalised luminance and per-sample flags of the content measure.
    lum: Vec<f32>,
    flags: Vec<bool>,
    names: NameScratch,
}

impl FieldScratch {
    /// Runs the name recogniser on `thread` (see [`crate::model::text_line::LineThread`]).
    pub fn set_line_thread(&mut self, thread: crate::model::text_line::LineThread) {
        self.names.set_thread(thread);
    }
}

/// Classifies `v` against two thresholds; returns the state index (0 = below, 1 = between,
/// 2 = above) and a confidence in 0.5–1 that grows with the distance from the band.
fn classify(v: f64, low: f64, high: f64) -> (u8, f64) {
    if v >= high {
        (2, (0.75 + 0.25 * (v - high) / high).min(1.0))
    } else if v <= low {
        (0, (0.75 + 0.25 * (low - v) / low.max(1e-9)).min(1.0))
    } else {
        let mid = (low + high) / 2.0;
        (1, 0.5 + 0.25 * ((v - mid).abs() / (high - low)))
    }
}

fn ink_fraction(scan: &Scan, reg: &Registration, rect: crate::geometry::Rect, ppm: f64, buf: &mut Vec<u8>) -> f64 {
    let paper = scan.paper_at(reg.to_scan.apply(rect.center()));
    let thr = (paper * INK_FRACTION) as u8;
    scan.sample_ink(&reg.to_scan, rect, ppm, buf);
    if buf.is_empty() {
        return 0.0;
    }
    buf.iter().filter(|&&v| v < thr).count() as f64 / buf.len() as f64
}

/// How a content measure tells content from paper (see [`content_fraction`]).
struct ContentTest {
    /// Paper is estimated over the box grown by this much, mm (so that a box a photo fills
    /// still shows paper around it).
    ring_mm: f64,
    /// Blocks across and down for the paper estimate (each block's paper is the brightest of
    /// its 3 × 3 neighbourhood, so that a block a card covers borrows its neighbours' paper).
    blocks: (usize, usize),
    /// Content when a channel falls below this share of the paper's.
    tone: f32,
    /// Count edges as content. Not in the photo box: the red hint printed in an empty box has
    /// edges of its own (a photo is found there by tone and colour alone).
    edges: bool,
}

/// Fraction of `rect` that differs from the paper around it, by tone, colour or edges.
///
/// The paper's own colour is measured first: per block, the 90th percentile of each channel
/// (a percentile ignores whatever covers up to 90 % of the block). Each pixel is then divided
/// by it, channel by channel, so yellowed or tinted paper reads as white and uneven lighting
/// cancels out. A pixel is content when, so normalised, it is darker than `tone` in any channel
/// (a photo's face, a copy's grey card), clearly coloured (a spread of 0.16 between channels:
/// a photo's light background and skin), or on an edge (a step of 0.14 between its
/// neighbours two samples apart: text, a photocopy's border, even a light copy's). A light
/// photocopy (a flat grey near 205 on 240 paper) is found by its tone and its edges where the
/// former test, a fixed saturation and a share of the local paper level, saw nothing: the
/// local paper level had adapted to the card.
fn content_fraction(
    scan: &Scan,
    reg: &Registration,
    rect: crate::geometry::Rect,
    ppm: f64,
    test: &ContentTest,
    scratch: &mut FieldScratch,
) -> f64 {
    let area = rect.inflate(test.ring_mm);
    let buf = &mut scratch.patch;
    let (w, h) = scan.sample_rgb(&reg.to_scan, area, ppm, buf);
    if w < 3 || h < 3 {
        return 0.0;
    }
    let (nx, ny) = (test.blocks.0.clamp(1, w), test.blocks.1.clamp(1, h));
    // The two passes below go block by block along a row, each block's histogram or paper
    // level fixed over its span.
    let cols = block_spans(w, nx);
    let by_of = |j: usize| (j * ny / h).min(ny - 1);
    let mut hist = vec![[[0u32; 64]; 3]; nx * ny];
    for (j, row) in buf.chunks_exact(w * 3).enumerate() {
        let by = by_of(j);
        for (bx, span) in cols.windows(2).enumerate() {
            let hb = &mut hist[by * nx + bx];
            for p in row[span[0] * 3..span[1] * 3].chunks_exact(3) {
                (0..3).for_each(|c| hb[c][(p[c] >> 2) as usize] += 1);
            }
        }
    }
    let pct90 = |h: &[u32; 64]| {
        let n: u32 = h.iter().sum();
        let mut acc = 0;
        for (v, &k) in h.iter().enumerate() {
            acc += k;
            if acc * 10 >= n * 9 {
                return (v as f32 * 4.0 + 2.0).max(60.0);
            }
        }
        255.0
    };
    let own: Vec<[f32; 3]> = hist.iter().map(|h| [pct90(&h[0]), pct90(&h[1]), pct90(&h[2])]).collect();
    let mut inv = vec![[0f32; 3]; nx * ny];
    for by in 0..ny {
        for bx in 0..nx {
            let mut best = [0f32; 3];
            for yy in by.saturating_sub(1)..(by + 2).min(ny) {
                for xx in bx.saturating_sub(1)..(bx + 2).min(nx) {
                    (0..3).for_each(|c| best[c] = best[c].max(own[yy * nx + xx][c]));
                }
            }
            inv[by * nx + bx] = best.map(|v| 1.0 / v);
        }
    }
    // One pass normalises every sample: its luminance (for the edge test) goes to `lum`, and
    // the tone and colour tests are decided at once.
    let lum = &mut scratch.lum;
    lum.clear();
    if test.edges {
        lum.resize(w * h, 0.0);
    }
    let flat = &mut scratch.flags;
    flat.clear();
    flat.resize(w * h, false);
    for (j, row) in buf.chunks_exact(w * 3).enumerate() {
        let by = by_of(j);
        for (bx, span) in cols.windows(2).enumerate() {
            let k = inv[by * nx + bx];
            let (a, b) = (j * w + span[0], j * w + span[1]);
            // A sample divided by the paper's level: the sum of its channels (for the
            // luminance), and whether it is dark or coloured.
            let normalised = |p: &[u8]| {
                let c = [p[0] as f32 * k[0], p[1] as f32 * k[1], p[2] as f32 * k[2]];
                let (lo, hi) = (c[0].min(c[1]).min(c[2]), c[0].max(c[1]).max(c[2]));
                (c[0] + c[1] + c[2], lo < test.tone || hi - lo > 0.16)
            };
            let pixels = row[span[0] * 3..span[1] * 3].chunks_exact(3);
            if test.edges {
                for ((p, l), f) in pixels.zip(&mut lum[a..b]).zip(&mut flat[a..b]) {
                    let (sum, content) = normalised(p);
                    (*l, *f) = (sum / 3.0, content);
                }
            } else {
                // No edge test: the luminance is not needed.
                for (p, f) in pixels.zip(&mut flat[a..b]) {
                    *f = normalised(p).1;
                }
            }
        }
    }
    // The box itself, in samples of the grown area.
    let ring = (test.ring_mm * ppm).round() as usize;
    let (i0, j0) = (ring.min(w - 1), ring.min(h - 1));
    let (i1, j1) = (w.saturating_sub(ring).max(i0 + 1), h.saturating_sub(ring).max(j0 + 1));
    let (mut content, mut n) = (0usize, 0usize);
    for j in j0..j1 {
        for i in i0..i1 {
            let k = j * w + i;
            let edge = test.edges && i >= 1 && j >= 1 && i + 1 < w && j + 1 < h && {
                let dx = (lum[k + 1] - lum[k - 1]).abs();
                let dy = (lum[k + w] - lum[k - w]).abs();
                dx.max(dy) > 0.14
            };
            content += (flat[k] || edge) as usize;
            n += 1;
        }
    }
    content as f64 / n.max(1) as f64
}

/// Where `nx` blocks across `w` samples begin: block `bx` spans `spans[bx]..spans[bx + 1]`, the
/// samples `i` with `i · nx / w = bx` (`nx ≤ w`).
fn block_spans(w: usize, nx: usize) -> Vec<usize> {
    (0..=nx).map(|bx| (bx * w).div_ceil(nx)).collect()
}

fn reading(kind: ReadingKind, (s, conf): (u8, f64), fill: f64, checkbox: bool) -> FieldReading {
    let state = match (s, checkbox) {
        (2, true) => FieldState::Checked,
        (0, true) => FieldState::Unchecked,
        (2, false) => FieldState::Ink,
        (0, false) => FieldState::Empty,
        _ => FieldState::Ambiguous,
    };
    FieldReading::measured(kind, state, fill, conf)
}

/// Room past a group's last box for its printed label, mm: the template's labels are at most
/// five characters at 3.5 mm.
const GROUP_LABEL_MM: f64 = 20.0;

fn snippet(scan: &Scan, reg: &Registration, f: &Field, ppm: f64, colour: bool) -> Snippet {
    let rect = f.rect.inflate(1.0);
    let mut px = Vec::new();
    let (w, h) = if colour {
        scan.picture_rgb(&reg.to_scan, rect, ppm, &mut px)
    } else {
        scan.sample_ink(&reg.to_scan, rect, ppm, &mut px)
    };
    Snippet {
        field: f.name.clone(),
        width: w as u32,
        height: h as u32,
        channels: if colour { 3 } else { 1 },
        pixels: px,
    }
}

/// Reads every readable field of `template` on a registered page.
pub fn read_fields(
    scan: &Scan,
    reg: &Registration,
    template: &Template,
    opts: &FieldOptions,
    classifier: &dyn DigitClassifier,
    scratch: &mut FieldScratch,
) -> FieldReadings {
    let mut out = FieldReadings::default();
    let ppm = opts.measure_px_per_mm;
    let m = opts.margin_mm;
    for f in &template.fields {
        let inner = f.rect.inflate(-m);
        let r = match &f.kind {
            FieldKind::Barcode | FieldKind::Printed { .. } => continue,
            FieldKind::Checkbox { .. } => {
                let fill = ink_fraction(scan, reg, inner, ppm, &mut scratch.patch);
                reading(
                    ReadingKind::Checkbox,
                    classify(fill, opts.checkbox_unchecked_below, opts.checkbox_checked_above),
                    fill,
                    true,
                )
            }
            FieldKind::Comb { cells, .. } => {
                let mut cr = Vec::with_capacity(*cells as usize);
                let mut worst = 1.0f64;
                let mut any_ink = false;
                let mut any_amb = false;
                let mut total = 0.0;
                let (mut written, mut probs) = (Vec::new(), Vec::new());
                for i in 0..*cells {
                    let fill = ink_fraction(scan, reg, f.cell(i).inflate(-m), ppm, &mut scratch.patch);
                    let (s, conf) = classify(fill, opts.cell_empty_below, opts.cell_ink_above);
                    worst = worst.min(conf);
                    any_ink |= s == 2;
                    any_amb |= s == 1;
                    total += fill;
                    let state = [FieldState::Empty, FieldState::Ambiguous, FieldState::Ink][s as usize];
                    cr.push(CellReading { state, fill, alternatives: Vec::new() });
                    // Recognise a written cell at once, while its pixels are still in cache.
                    if state != FieldState::Empty {
                        let t = std::time::Instant::now();
                        written.push(i as usize);
                        probs.push(digits::recognise_cell(
                            scan,
                            reg,
                            f,
                            i as usize,
                            classifier,
                            &opts.digits,
                            &mut scratch.patch,
                        ));
                        out.digits_ms += t.elapsed().as_secs_f64() * 1e3;
                    }
                }
                let state = if any_amb {
                    FieldState::Ambiguous
                } else if any_ink {
                    FieldState::Ink
                } else {
                    FieldState::Empty
                };
                let t = std::time::Instant::now();
                let v = digits::decode(f, &written, &probs, &opts.digits);
                out.digits_ms += t.elapsed().as_secs_f64() * 1e3;
                let mut alts = v.cells.into_iter();
                for c in cr.iter_mut().filter(|c| c.state != FieldState::Empty) {
                    c.alternatives = alts.next().unwrap_or_default();
                }
                FieldReading {
                    kind: ReadingKind::Comb,
                    state,
                    fill: total / *cells as f64,
                    confidence: worst,
                    cells: Some(cr),
                    snippet: None,
                    value_confidence: v.value.is_some().then_some(v.confidence),
                    value: v.value,
                    status: Some(v.status),
                    reason: v.reason,
                    candidates: v.candidates,
                }
            }
            FieldKind::Text | FieldKind::Signature => {
                let fill = ink_fraction(scan, reg, inner, ppm * 0.8, &mut scratch.patch);
                let kind = if f.kind == FieldKind::Signature { ReadingKind::Signature } else { ReadingKind::Text };
                let r = reading(kind, classify(fill, opts.box_empty_below, opts.box_ink_above), fill, false);
                if kind == ReadingKind::Text && opts.names.enabled && r.state != FieldState::Empty {
                    let t = std::time::Instant::now();
                    // The network is bundled and was loaded by the tests; should it ever fail
                    // to run, the box goes to a keyer like one with no line found.
                    let lattice = names::read_name(scan, reg, f.rect, m, &opts.names, &mut scratch.names);
                    out.names.insert(f.name.clone(), lattice.ok().flatten());
                    out.names_ms += t.elapsed().as_secs_f64() * 1e3;
                }
                r
            }
            FieldKind::Photo => {
                // The box is grown by 4 mm for the paper estimate: a 28 × 39 mm print leaves a fifth of it paper.
                let test = ContentTest { ring_mm: 4.0, blocks: (1, 1), tone: 0.8, edges: false };
                let fill = content_fraction(scan, reg, inner, 4.0, &test, scratch);
                reading(ReadingKind::Photo, classify(fill, opts.photo_empty_below, opts.photo_above), fill, false)
            }
            FieldKind::Paste => {
                // Blocks of ~20 × 28 mm on the 170 × 83 mm area: an ID card (85.6 × 54 mm)
                // covers at most a few, and their neighbours show paper. Tone 0.9: a light copy
                // measures 0.82–0.88 of paper, sensor noise and lighting within a block 0.97.
                let test = ContentTest { ring_mm: 0.0, blocks: (8, 3), tone: 0.9, edges: true };
                let fill = content_fraction(scan, reg, inner, 3.0, &test, scratch);
                reading(ReadingKind::Paste, classify(fill, opts.paste_empty_below, opts.paste_above), fill, false)
            }
        };
        if opts.snippets
            && r.state != FieldState::Empty
            && r.state != FieldState::Unchecked
            && !matches!(f.kind, FieldKind::Checkbox { .. })
        {
            let (ppm, colour) = match f.kind {
                FieldKind::Photo => (12.0, true),
                FieldKind::Paste => (4.0, false),
                _ => (8.0, false),
            };
            out.snippets.push(snippet(scan, reg, f, ppm, colour));
        }
        out.fields.insert(f.name.clone(), r);
    }
    out.groups = group_readings(template, &out.fields);
    settle_names(template, &mut out, None, &opts.names);
    if opts.snippets {
        // A group that is not one clear tick (none, several, or unclear) is settled by a person
        // choosing: they see the whole row of boxes with the labels printed between them, and
        // past the last box for its label.
        for g in &template.groups {
            let state = out.groups.get(&g.name).map(|r| r.state);
            if state == Some(GroupState::One) {
                continue;
            }
            let boxes = template
                .fields
                .iter()
                .filter(|f| matches!(&f.kind, FieldKind::Checkbox { group, .. } if *group == g.name));
            let Some(r) = boxes.map(|f| f.rect).reduce(|a, b| {
                let (x, y) = (a.x.min(b.x), a.y.min(b.y));
                Rect::new(x, y, (a.x + a.w).max(b.x + b.w) - x, (a.y + a.h).max(b.y + b.h) - y)
            }) else {
                continue;
            };
            let area = Field {
                name: g.name.clone(),
                kind: FieldKind::Text,
                label: None,
                rect: Rect::new(r.x - 1.0, r.y - 1.5, r.w + GROUP_LABEL_MM, r.h + 3.0),
            };
            out.snippets.push(snippet(scan, reg, &area, 8.0, false));
        }
    }
    out
}

/// Gives the read name fields their values under the form's evidence (see [`names::settle`]):
/// the agent's relationship as the groups now read, and the printed name when known.
pub fn settle_names(template: &Template, readings: &mut FieldReadings, printed_name: Option<&str>, opts: &NameOptions) {
    let relation = names::relation(&readings.groups).map(str::to_owned);
    let ctx = names::FormContext { printed_name };
    names::settle(template, &mut readings.fields, relation.as_deref(), &readings.names, ctx, opts);
}

/// Why a checkbox covered by a pasted print reads `ambiguous`: whatever the box shows is the
/// print's content, or a tick on top of it that cannot be told from the content.
pub const COVERED_REASON: &str = "covered_by_photo";

/// How far into a box a pasted print must reach for the box to count as covered, mm: past the
/// outline (0.15 mm) and the located edge's error, towards the inner area the tick is measured
/// in (0.6 mm in). The simulator's truth uses the same rule.
pub const COVERED_DEPTH_MM: f64 = 0.3;

/// Marks the checkboxes that a pasted print covers (its corners `quad`, template mm; see
/// [`COVERED_DEPTH_MM`]) as ambiguous with [`COVERED_REASON`], and reads the groups again.
/// Returns whether any box was covered.
pub fn mark_covered(template: &Template, readings: &mut FieldReadings, quad: &[crate::geometry::Point; 4]) -> bool {
    let mut any = false;
    for f in &template.fields {
        if !matches!(f.kind, FieldKind::Checkbox { .. }) || !f.rect.inflate(-COVERED_DEPTH_MM).overlaps_quad(quad) {
            continue;
        }
        if let Some(r) = readings.fields.get_mut(&f.name) {
            r.state = FieldState::Ambiguous;
            r.confidence = 0.5;
            r.reason = Some(COVERED_REASON.to_string());
            any = true;
        }
    }
    if any {
        readings.groups = group_readings(template, &readings.fields);
    }
    any
}

/// The checkbox groups' readings from their boxes' states.
fn group_readings(template: &Template, fields: &BTreeMap<String, FieldReading>) -> BTreeMap<String, GroupReading> {
    let mut groups = BTreeMap::new();
    for g in &template.groups {
        let mut ticked = Vec::new();
        let mut amb = false;
        for f in &template.fields {
            if let FieldKind::Checkbox { group, value } = &f.kind {
                if *group == g.name {
                    match fields.get(&f.name).map(|r| r.state) {
                        Some(FieldState::Checked) => ticked.push(value.clone()),
                        Some(FieldState::Ambiguous) => amb = true,
                        _ => {}
                    }
                }
            }
        }
        let gr = if amb {
            GroupReading { state: GroupState::Ambiguous, value: None, values: ticked }
        } else {
            match ticked.len() {
                0 => GroupReading { state: GroupState::None, value: None, values: vec![] },
                1 => GroupReading { state: GroupState::One, value: ticked.pop(), values: vec![] },
                // For a single-choice group this is a conflict; the audit raises it.
                _ => GroupReading { state: GroupState::Multiple, value: None, values: ticked },
            }
        };
        groups.insert(g.name.clone(), gr);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The block spans of the content measure hold exactly the samples `i · nx / w = bx`.
    #[test]
    fn block_spans_hold_the_samples_of_each_block() {
        for w in 1..60 {
            for nx in 1..=w.min(9) {
                let spans = block_spans(w, nx);
                assert_eq!((spans[0], spans[nx]), (0, w));
                for (bx, s) in spans.windows(2).enumerate() {
                    assert!((s[0]..s[1]).all(|i| i * nx / w == bx), "w {w}, nx {nx}, block {bx}");
                }
            }
        }
    }

    /// A print reaching 1 mm into the 是 box makes it (and its group) ambiguous, with the
    /// reason; the 否 box beside it, which the print does not reach, keeps its reading.
    #[test]
    fn a_covered_box_reads_ambiguous_and_its_neighbour_does_not() {
        use crate::geometry::Point;
        let t = Template::sbk_student();
        let mut r = FieldReadings::default();
        for f in &t.fields {
            if matches!(f.kind, FieldKind::Checkbox { .. }) {
                let ticked = f.name == "photo_no";
                r.fields.insert(
                    f.name.clone(),
                    reading(ReadingKind::Checkbox, (if ticked { 2 } else { 0 }, 1.0), 0.0, true),
                );
            }
        }
        r.groups = group_readings(&t, &r.fields);
        assert_eq!(r.groups["photo_is_applicant"].value.as_deref(), Some("no"));
        let yes = t.fields.iter().find(|f| f.name == "photo_yes").unwrap().rect;
        // A print whose bottom edge runs 1 mm into the 是 box and ends left of the 否 box.
        let q = [
            Point::new(160.0, 50.0),
            Point::new(yes.right() + 1.0, 50.0),
            Point::new(yes.right() + 1.0, yes.y + 1.0),
            Point::new(160.0, yes.y + 1.0),
        ];
        assert!(mark_covered(&t, &mut r, &q));
        assert_eq!(r.fields["photo_yes"].state, FieldState::Ambiguous);
        assert_eq!(r.fields["photo_yes"].reason.as_deref(), Some(COVERED_REASON));
        assert_eq!(r.fields["photo_no"].state, FieldState::Checked);
        assert_eq!(r.groups["photo_is_applicant"].state, GroupState::Ambiguous);
        // A print ending 0.2 mm into the box (its outline) covers nothing.
        let mut r2 = FieldReadings::default();
        r2.fields.insert("photo_yes".into(), reading(ReadingKind::Checkbox, (0, 1.0), 0.0, true));
        let shallow = q.map(|p| Point::new(p.x, p.y.min(yes.y + 0.2)));
        assert!(!mark_covered(&t, &mut r2, &shallow));
    }

    #[test]
    fn classify_bands() {
        assert_eq!(classify(0.3, 0.02, 0.06).0, 2);
        assert_eq!(classify(0.0, 0.02, 0.06), (0, 1.0));
        let (s, c) = classify(0.04, 0.02, 0.06);
        assert_eq!(s, 1);
        assert!((0.5..0.76).contains(&c));
        assert!(classify(0.061, 0.02, 0.06).1 >= 0.75);
    }
}
