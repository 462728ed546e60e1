//! Handwritten characters in comb fields: per-cell recognition, then field decoding with the
//! domain's checks (mainland mobile numbers; GB 11643 ID numbers).
//!
//! Each written cell is resampled from the full-resolution scan through the drop-out channel
//! (the printed box vanishes), normalised the way MNIST was prepared (LeCun et al., 1998:
//! longer side 20 px, centre of mass at the centre of 28 × 28) and classified by a
//! [`DigitClassifier`]. The classes a position cannot hold are removed (X outside the last ID
//! cell, X anywhere in a phone number) and the rest renormalised.
//!
//! A field is `accepted` only when the top reading passes its check *and* its posterior
//! probability among the readings that pass reaches [`DigitOptions::accept_min_posterior`];
//! otherwise it goes to review with the most probable readings that do pass the check as
//! candidates. Nothing is corrected silently: `value` is always the top reading, even when a
//! candidate differs.
//!
//! The posterior treats the cells as independent and the writer as having written a valid
//! number: P(top | valid) = P(top) / Σ P(r) over the valid readings r that differ from the top
//! reading in one cell or in two of its four least certain cells (the rest are negligible). It
//! is what makes the ID number's check character count as evidence: GB 11643's MOD 11-2 check
//! detects every single substitution (ISO 7064), so a doubtful cell in an ID whose top reading
//! passes competes only with readings that are wrong in two places, and the field can be
//! accepted; in a phone number any digit but the prefix can change alone, so every cell must
//! be sure. (For a phone number the readings that fail the prefix rule count too; see
//! `decode`.)

use crate::domain::{check_mobile, parse_id, MobileCheck};
use crate::model::{normalise_cell, DigitClassifier, CLASSES};
use crate::record::{Alternative, FieldState, ValueCandidate, ValueStatus};
use crate::register::Registration;
use crate::scan::Scan;
use crate::template::{Charset, Field, FieldKind};

/// Digit-reading settings.
#[derive(Debug, Clone)]
pub struct DigitOptions {
    /// The top reading's posterior among the valid readings must reach this for a field to be
    /// accepted without review. Default 0.996: the calibration rule of `formscan eval --pool`
    /// (both the observed and the posterior-predicted share of wrong accepted fields at most
    /// half the 0.1 % target) gave 0.99580 with the bundled three-network ensemble (as with the
    /// two-network one before it) on 1200 harsh calibration pages (MNIST 50,000–54,999, six
    /// seeds, 3043 written fields), rounded up. See `docs/digits.md` for the method and the counts.
    pub accept_min_posterior: f64,
    /// Candidates listed for review. Default 3.
    pub max_candidates: usize,
    /// Resampling resolution of a cell, px/mm. Default 8: a 5 × 8 mm cell becomes 40 × 64 px,
    /// still more than the 20 px the normalisation keeps; 10 px/mm read no better on the
    /// calibration pages (6694 against 6696 of 6755 digits) and cost 56 % more pixels.
    pub px_per_mm: f64,
    /// Margin removed from each cell, mm. Default 0.25: enough to drop the printed line's
    /// anti-aliased edge when the drop-out fails, little enough to keep strokes that touch it.
    pub margin_mm: f64,
}

impl Default for DigitOptions {
    fn default() -> Self {
        DigitOptions { accept_min_posterior: 0.996, max_candidates: 3, px_per_mm: 8.0, margin_mm: 0.25 }
    }
}

/// What the digits of one comb field say.
#[derive(Debug, Clone, PartialEq)]
pub struct CombValue {
    /// The top reading (written cells only).
    pub value: Option<String>,
    /// Accepted, to review, empty or invalid.
    pub status: ValueStatus,
    /// Why it is not accepted.
    pub reason: Option<String>,
    /// The top reading's posterior among the valid readings when it passes its check, else
    /// the product of the cells' top probabilities.
    pub confidence: f64,
    /// Valid readings by probability (review only).
    pub candidates: Vec<ValueCandidate>,
    /// Per written cell: the best classes with probabilities.
    pub cells: Vec<Vec<Alternative>>,
}

/// Which domain check a comb field gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Mobile,
    IdNumber,
    None,
}

fn check_of(field: &Field) -> Check {
    match field.kind {
        FieldKind::Comb { charset: Charset::IdNumber, .. } => Check::IdNumber,
        FieldKind::Comb { cells: 11, charset: Charset::Digits } => Check::Mobile,
        _ => Check::None,
    }
}

/// Why `value` fails its check, if it does.
fn failure(check: Check, value: &str) -> Option<String> {
    match check {
        Check::Mobile => match check_mobile(value) {
            MobileCheck::Valid => None,
            MobileCheck::Unusual => Some("unusual mobile prefix".into()),
            MobileCheck::Invalid => Some("not a mainland mobile number".into()),
        },
        Check::IdNumber => parse_id(value).err().map(|e| e.to_string()),
        Check::None => None,
    }
}

/// Reads the characters of a comb field whose cells have already been classified as ink or
/// empty (`states`, one per cell).
pub fn read_comb(
    scan: &Scan,
    reg: &Registration,
    field: &Field,
    states: &[FieldState],
    classifier: &dyn DigitClassifier,
    opts: &DigitOptions,
    buf: &mut Vec<u8>,
) -> CombValue {
    let written: Vec<usize> = (0..states.len()).filter(|&i| states[i] != FieldState::Empty).collect();
    let probs: Vec<[f32; 11]> =
        written.iter().map(|&i| recognise_cell(scan, reg, field, i, classifier, opts, buf)).collect();
    decode(field, &written, &probs, opts)
}

/// Class probabilities of cell `i` of comb `field`: the cell resampled through the drop-out
/// channel, normalised as MNIST was, classified, with the classes the position cannot hold
/// removed (X outside the last cell of an ID number). A cell with no usable ink gets a flat
/// distribution (it then cannot be accepted).
pub fn recognise_cell(
    scan: &Scan,
    reg: &Registration,
    field: &Field,
    i: usize,
    classifier: &dyn DigitClassifier,
    opts: &DigitOptions,
    buf: &mut Vec<u8>,
) -> [f32; 11] {
    let FieldKind::Comb { cells, charset } = field.kind else {
        return [1.0 / 11.0; 11];
    };
    let rect = field.cell(i as u32).inflate(-opts.margin_mm);
    let (w, h) = scan.sample_ink(&reg.to_scan, rect, opts.px_per_mm, buf);
    let paper = scan.paper_at(reg.to_scan.apply(rect.center()));
    let mut p = match normalise_cell(buf, w, h, paper) {
        Some(img) => classifier.classify(&img),
        None => [1.0 / 11.0; 11],
    };
    // X is only possible as the last character of an ID number.
    if !(charset == Charset::IdNumber && i + 1 == cells as usize) {
        p[10] = 0.0;
    }
    let s: f32 = p.iter().sum();
    if s > 0.0 {
        p.iter_mut().for_each(|v| *v /= s);
    }
    p
}

/// Decodes a comb field from the class probabilities of its written cells (`written[k]` is
/// the cell index of `probs[k]`): the top reading, its check, the status and the candidates.
pub fn decode(field: &Field, written: &[usize], probs: &[[f32; 11]], opts: &DigitOptions) -> CombValue {
    let FieldKind::Comb { cells, .. } = field.kind else {
        return CombValue {
            value: None,
            status: ValueStatus::Empty,
            reason: None,
            confidence: 0.0,
            candidates: vec![],
            cells: vec![],
        };
    };
    if written.is_empty() {
        return CombValue {
            value: None,
            status: ValueStatus::Empty,
            reason: None,
            confidence: 1.0,
            candidates: vec![],
            cells: vec![],
        };
    }
    let ranked: Vec<Vec<(usize, f32)>> = probs
        .iter()
        .map(|p| {
            let mut r: Vec<(usize, f32)> = p.iter().copied().enumerate().collect();
            r.sort_by(|a, b| b.1.total_cmp(&a.1));
            r
        })
        .collect();
    let alternatives = ranked
        .iter()
        .map(|r| r.iter().take(3).filter(|a| a.1 > 0.001).map(|&(c, p)| Alternative { ch: CLASSES[c], p }).collect())
        .collect();
    let top: String = ranked.iter().map(|r| CLASSES[r[0].0]).collect();
    let confidence: f64 = ranked.iter().map(|r| r[0].1 as f64).product();
    let min_top = ranked.iter().map(|r| r[0].1).fold(1.0f32, f32::min);
    let check = check_of(field);
    let contiguous = written.iter().enumerate().all(|(k, &i)| k == i);
    let mut out = CombValue {
        value: Some(top.clone()),
        status: ValueStatus::NeedsReview,
        reason: None,
        confidence,
        candidates: vec![],
        cells: alternatives,
    };
    if check != Check::None && (written.len() != cells as usize || !contiguous) {
        out.status = ValueStatus::Invalid;
        out.reason = Some(format!("{} of {} cells written", written.len(), cells));
        return out;
    }
    let mut valid = valid_readings(&ranked, check);
    match failure(check, &top) {
        None => {
            // The ID's check character rules out every single substitution whatever the class,
            // so it is evidence however the classifier ranks its runners-up. The mobile prefix
            // rules out particular classes only (1[3-9]…), which is evidence only if the right
            // class is among the runners-up; on the calibration pages a 3 read as 7 with 2 as
            // runner-up (12… is no mobile number) was accepted on that strength. So a phone's
            // posterior counts every reading, valid or not.
            let pool = if check == Check::Mobile { valid_readings(&ranked, Check::None) } else { valid.clone() };
            let total: f64 = pool.iter().map(|c| c.probability).sum();
            let posterior = if total > 0.0 { confidence / total } else { 0.0 };
            out.confidence = posterior;
            if posterior >= opts.accept_min_posterior {
                out.status = ValueStatus::Accepted;
            } else {
                out.reason =
                    Some(format!("{UNCERTAIN_REASON} (posterior {posterior:.4}; least certain cell {min_top:.2})"));
            }
        }
        Some(why) => out.reason = Some(why),
    }
    if out.status != ValueStatus::Accepted {
        valid.truncate(opts.max_candidates);
        out.candidates = valid;
    }
    out
}

/// The start of the review reason of a field whose top reading is valid but not certain
/// enough (evaluation uses it to collect the calibration data).
pub const UNCERTAIN_REASON: &str = "another valid reading is possible";

/// The readings that pass `check`, most probable first: the top reading and the top reading
/// with one cell, or two of its four least certain cells, replaced by their next classes.
fn valid_readings(ranked: &[Vec<(usize, f32)>], check: Check) -> Vec<ValueCandidate> {
    let top: Vec<usize> = ranked.iter().map(|r| r[0].0).collect();
    let score = |chars: &[usize]| -> f64 {
        chars.iter().zip(ranked).map(|(&c, r)| r.iter().find(|a| a.0 == c).map_or(0.0, |a| a.1 as f64)).product()
    };
    let mut found: Vec<ValueCandidate> = Vec::new();
    let mut consider = |chars: &[usize]| {
        let value: String = chars.iter().map(|&c| CLASSES[c]).collect();
        if failure(check, &value).is_none() && !found.iter().any(|f| f.value == value) {
            let p = score(chars);
            if p > 0.0 {
                found.push(ValueCandidate { value, probability: p });
            }
        }
    };
    consider(&top);
    // The four least certain cells, for double substitutions.
    let mut weak: Vec<usize> = (0..ranked.len()).collect();
    weak.sort_by(|&a, &b| ranked[a][0].1.total_cmp(&ranked[b][0].1));
    weak.truncate(4);
    let mut cur = top.clone();
    for i in 0..ranked.len() {
        for alt in ranked[i].iter().skip(1).take(9) {
            cur[i] = alt.0;
            consider(&cur);
        }
        cur[i] = top[i];
    }
    for (a, &i) in weak.iter().enumerate() {
        for &j in &weak[a + 1..] {
            for ai in ranked[i].iter().skip(1).take(3) {
                for aj in ranked[j].iter().skip(1).take(3) {
                    cur[i] = ai.0;
                    cur[j] = aj.0;
                    consider(&cur);
                }
            }
            cur[i] = top[i];
            cur[j] = top[j];
        }
    }
    found.sort_by(|a, b| b.probability.total_cmp(&a.probability));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranked_for(value: &str, weak: Option<(usize, char, f32)>) -> Vec<Vec<(usize, f32)>> {
        value
            .chars()
            .enumerate()
            .map(|(i, ch)| {
                let c = CLASSES.iter().position(|&k| k == ch).unwrap();
                let mut r: Vec<(usize, f32)> = (0..11).filter(|&k| k != c).map(|k| (k, 0.001)).collect();
                match weak {
                    Some((wi, alt, p)) if wi == i => {
                        let a = CLASSES.iter().position(|&k| k == alt).unwrap();
                        r.retain(|x| x.0 != a);
                        r.insert(0, (a, 1.0 - p - 0.009));
                        r.insert(0, (c, p));
                    }
                    _ => r.insert(0, (c, 0.99)),
                }
                r.sort_by(|a, b| b.1.total_cmp(&a.1));
                r
            })
            .collect()
    }

    #[test]
    fn checksum_failure_finds_the_valid_neighbour() {
        // 11010519491231002X is valid; read the 16th character (index 15) as 7 instead of 0,
        // with 0 as the runner-up: the candidate search must propose the valid number first.
        let misread = "11010519491231072X";
        assert!(failure(Check::IdNumber, misread).is_some());
        let ranked = ranked_for(misread, Some((15, '0', 0.55)));
        let c = valid_readings(&ranked, Check::IdNumber);
        assert_eq!(c[0].value, "11010519491231002X");
    }

    #[test]
    fn valid_top_reading_is_its_own_first_candidate() {
        let ranked = ranked_for("13812345678", Some((4, '7', 0.6)));
        let c = valid_readings(&ranked, Check::Mobile);
        assert_eq!(c[0].value, "13812345678");
        assert!(c.len() > 1 && c[1].probability < c[0].probability);
    }

    /// Every cell sure of its character (p = 0.99999, as the network is on clear digits).
    fn probs_for(value: &str) -> Vec<[f32; 11]> {
        value
            .chars()
            .map(|ch| {
                let mut p = [0.000001f32; 11];
                p[CLASSES.iter().position(|&k| k == ch).unwrap()] = 0.99999;
                p
            })
            .collect()
    }

    fn doubtful(p: &mut [f32; 11], top: char, top_p: f32, alt: char) {
        *p = [0.000001; 11];
        p[CLASSES.iter().position(|&k| k == top).unwrap()] = top_p;
        p[CLASSES.iter().position(|&k| k == alt).unwrap()] = 1.0 - top_p;
    }

    #[test]
    fn check_character_lets_a_doubtful_id_cell_through_but_not_a_phone_cell() {
        // One cell 80 % sure. In a valid ID, the runner-up would break the check (MOD 11-2
        // detects every single substitution), so the top reading stays the only valid one.
        let id = crate::template::Template::sbk_student().field("agent_id").unwrap().clone();
        let mut p = probs_for("11010519491231002X");
        doubtful(&mut p[9], '9', 0.8, '4');
        let v = decode(&id, &(0..18).collect::<Vec<_>>(), &p, &DigitOptions::default());
        assert_eq!(v.status, ValueStatus::Accepted, "{:?}", v.reason);
        assert!(v.confidence > 0.999);
        // The same doubt in a phone number: 13812345678 and 13812375678 are both valid.
        let mut p = probs_for("13812345678");
        doubtful(&mut p[7], '5', 0.8, '7');
        let v = decode(&phone_field(), &(0..11).collect::<Vec<_>>(), &p, &DigitOptions::default());
        assert_eq!(v.status, ValueStatus::NeedsReview);
        assert!((v.confidence - 0.8).abs() < 0.01, "posterior {}", v.confidence);
        assert!(v.reason.as_deref().unwrap().starts_with(UNCERTAIN_REASON));
    }

    #[test]
    fn mobile_prefix_is_not_evidence_for_a_doubtful_second_cell() {
        // 17… read with 2 as the runner-up: 12… is no mobile number, but the writer may have
        // written a 3 the network ranked lower; the field must not be accepted on the prefix
        // rule's strength (it was, once, on the calibration pages).
        let mut p = probs_for("17630639250");
        doubtful(&mut p[1], '7', 0.991, '2');
        let v = decode(&phone_field(), &(0..11).collect::<Vec<_>>(), &p, &DigitOptions::default());
        assert_eq!(v.status, ValueStatus::NeedsReview);
        assert!((v.confidence - 0.991).abs() < 0.001, "posterior {}", v.confidence);
        // The candidates still list valid readings only.
        assert!(v.candidates.iter().all(|c| failure(Check::Mobile, &c.value).is_none()));
    }

    #[test]
    fn two_doubtful_id_cells_that_can_swap_validly_go_to_review() {
        // Cells 14 and 15 each doubtful; if some pair of their runner-ups also gives a valid
        // ID, the posterior must drop below the accept threshold.
        let id = crate::template::Template::sbk_student().field("agent_id").unwrap().clone();
        let base = "11010519491231002X";
        let mut found = None;
        'search: for a in b'0'..=b'9' {
            for b in b'0'..=b'9' {
                let mut s = base.as_bytes().to_vec();
                s[14] = a;
                s[15] = b;
                let s = String::from_utf8(s).unwrap();
                if s != base && failure(Check::IdNumber, &s).is_none() {
                    found = Some(s);
                    break 'search;
                }
            }
        }
        let other = found.expect("some double substitution is valid");
        let mut p = probs_for(base);
        let oc: Vec<char> = other.chars().collect();
        doubtful(&mut p[14], '0', 0.7, oc[14]);
        doubtful(&mut p[15], '0', 0.7, oc[15]);
        let v = decode(&id, &(0..18).collect::<Vec<_>>(), &p, &DigitOptions::default());
        assert_eq!(v.status, ValueStatus::NeedsReview);
        assert_eq!(v.value.as_deref(), Some(base));
        assert!(v.candidates.iter().any(|c| c.value == other), "{:?}", v.candidates);
    }

    fn phone_field() -> Field {
        crate::template::Template::sbk_student().field("applicant_phone").unwrap().clone()
    }

    #[test]
    fn confident_valid_phone_is_accepted() {
        let v =
            decode(&phone_field(), &(0..11).collect::<Vec<_>>(), &probs_for("13812345678"), &DigitOptions::default());
        assert_eq!(v.status, ValueStatus::Accepted);
        assert_eq!(v.value.as_deref(), Some("13812345678"));
        assert!(v.candidates.is_empty());
    }

    #[test]
    fn ambiguous_cell_sends_the_field_to_review() {
        let mut p = probs_for("13812345678");
        // Cell 6 could be a 4 or a 9.
        p[6] = [0.001; 11];
        p[6][4] = 0.52;
        p[6][9] = 0.47;
        let v = decode(&phone_field(), &(0..11).collect::<Vec<_>>(), &p, &DigitOptions::default());
        assert_eq!(v.status, ValueStatus::NeedsReview);
        assert_eq!(v.value.as_deref(), Some("13812345678"), "the top reading is kept, never corrected");
        let vals: Vec<&str> = v.candidates.iter().map(|c| c.value.as_str()).collect();
        assert_eq!(&vals[..2], &["13812345678", "13812395678"]);
    }

    #[test]
    fn empty_and_partly_filled_combs() {
        let f = phone_field();
        let none = decode(&f, &[], &[], &DigitOptions::default());
        assert_eq!(none.status, ValueStatus::Empty);
        let ten = decode(&f, &(0..10).collect::<Vec<_>>(), &probs_for("1381234567"), &DigitOptions::default());
        assert_eq!(ten.status, ValueStatus::Invalid);
        assert_eq!(ten.reason.as_deref(), Some("10 of 11 cells written"));
        let gap: Vec<usize> = (0..11).filter(|&i| i != 3).collect();
        let g = decode(&f, &gap, &probs_for("1381234567"), &DigitOptions::default());
        assert_eq!(g.status, ValueStatus::Invalid);
    }

    #[test]
    fn failed_check_is_reviewed_with_valid_candidates() {
        let f = crate::template::Template::sbk_student().field("agent_id").unwrap().clone();
        let mut p = probs_for("11010519491231072X");
        p[15][0] = 0.3; // the runner-up for the misread cell
        let v = decode(&f, &(0..18).collect::<Vec<_>>(), &p, &DigitOptions::default());
        assert_eq!(v.status, ValueStatus::NeedsReview);
        assert_eq!(v.candidates[0].value, "11010519491231002X");
    }

    #[test]
    fn mobile_and_id_checks() {
        assert_eq!(failure(Check::Mobile, "13812345678"), None);
        assert!(failure(Check::Mobile, "12812345678").is_some());
        assert_eq!(failure(Check::IdNumber, "440524188001010014"), None);
        assert!(failure(Check::IdNumber, "440524188001010015").is_some());
    }
}

#[cfg(test)]
mod speed {
    use super::*;
    use crate::model::CnnEnsemble;
    use crate::register::{register, RegisterOptions, RegisterScratch};

    /// On-CPU time of this thread (Linux), so the figure holds on a busy machine.
    fn cpu_seconds() -> f64 {
        let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
        s.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) * 1e-9
    }

    /// `cargo test --release --lib -- --ignored --nocapture digit_field_speed`: the criterion
    /// bench `digits_18_cell_field` measured in CPU time, for a machine busy with other work.
    #[test]
    #[ignore = "timing; run in release"]
    fn digit_field_speed() {
        let t = crate::Template::sbk_student();
        // A bundled sample scan (200 dpi, 4:2:0 JPEG).
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/form-1.jpg");
        let scan = Scan::new(image::open(path).unwrap());
        let reg = register(&scan, &t, &RegisterOptions::default(), &mut RegisterScratch::default()).unwrap();
        let field = t.field("agent_id").unwrap();
        let states = vec![FieldState::Ink; 18];
        let (opts, mut buf) = (DigitOptions::default(), Vec::new());
        let n = 300;
        let c0 = cpu_seconds();
        for _ in 0..n {
            std::hint::black_box(read_comb(&scan, &reg, field, &states, CnnEnsemble::bundled(), &opts, &mut buf));
        }
        println!("read_comb, 18 cells: {:.3} ms on CPU", (cpu_seconds() - c0) / n as f64 * 1e3);
        // Its parts, each timed over whole passes (a clock read per cell would cost more than
        // some of the parts).
        let cells: Vec<_> = (0..18).map(|i| field.cell(i).inflate(-opts.margin_mm)).collect();
        let c0 = cpu_seconds();
        for _ in 0..n {
            for rect in &cells {
                std::hint::black_box(scan.sample_ink(&reg.to_scan, *rect, opts.px_per_mm, &mut buf));
                std::hint::black_box(scan.paper_at(reg.to_scan.apply(rect.center())));
            }
        }
        let ts = cpu_seconds() - c0;
        let patches: Vec<_> = cells
            .iter()
            .map(|rect| {
                let (w, h) = scan.sample_ink(&reg.to_scan, *rect, opts.px_per_mm, &mut buf);
                (buf.clone(), w, h, scan.paper_at(reg.to_scan.apply(rect.center())))
            })
            .collect();
        let c0 = cpu_seconds();
        for _ in 0..n {
            for (patch, w, h, paper) in &patches {
                std::hint::black_box(crate::model::normalise_cell(patch, *w, *h, *paper));
            }
        }
        let tn = cpu_seconds() - c0;
        let images: Vec<_> =
            patches.iter().filter_map(|(p, w, h, paper)| crate::model::normalise_cell(p, *w, *h, *paper)).collect();
        let c0 = cpu_seconds();
        for _ in 0..n {
            for img in &images {
                std::hint::black_box(CnnEnsemble::bundled().classify(std::hint::black_box(img)));
            }
        }
        let tc = cpu_seconds() - c0;
        let ms = |t: f64| t / n as f64 * 1e3;
        let (w, h) = (patches[0].1, patches[0].2);
        println!(
            "  sampling {:.3} ms ({w}x{h} px a cell), normalising {:.3} ms, classifying {:.3} ms",
            ms(ts),
            ms(tn),
            ms(tc)
        );
        // How many cells the cascade sends to all three networks, and one network's cost.
        let primary = crate::model::CnnDigits::bundled();
        let (mut consulted, mut t1) = (0, 0.0);
        for i in 0..18 {
            let rect = field.cell(i).inflate(-opts.margin_mm);
            let (w, h) = scan.sample_ink(&reg.to_scan, rect, opts.px_per_mm, &mut buf);
            let paper = scan.paper_at(reg.to_scan.apply(rect.center()));
            let Some(img) = crate::model::normalise_cell(&buf, w, h, paper) else { continue };
            let top = primary.classify(&img).iter().copied().fold(0.0f32, f32::max);
            consulted += usize::from(top < CnnEnsemble::bundled().consult_below());
            let a = cpu_seconds();
            for _ in 0..n {
                std::hint::black_box(primary.classify(std::hint::black_box(&img)));
            }
            t1 += cpu_seconds() - a;
        }
        println!(
            "  one network {:.1} µs per cell; {consulted} of 18 cells consult the ensemble",
            t1 / (18 * n) as f64 * 1e6
        );
    }
}
