//! `eval`: accuracy of a processed simulator folder against its truth.

use anyhow::Result;
use formscan::{EngineOptions, Template};
use formscan_synth as synth;
use std::path::{Path, PathBuf};

pub(crate) fn cmd_eval(out: &Path, pool: &[PathBuf]) -> Result<synth::eval::Evaluation> {
    let recs = synth::eval::read_records(&out.join("records.jsonl"))?;
    let e = synth::eval::evaluate(&Template::sbk_student(), &recs);
    let pct = |s: synth::eval::Score| format!("{}/{} ({:.2} %)", s.right, s.total, s.rate() * 100.0);
    println!("identified       {}", pct(e.identified));
    println!("blank backs      {}", pct(e.blanks));
    println!(
        "registration     median {:.3} mm, max {:.3} mm ({} upside-down pages)",
        e.registration_median_mm, e.registration_max_mm, e.upside_down
    );
    println!("checkboxes       {}", pct(e.checkboxes));
    println!("ink (comb, text, signature) {}", pct(e.ink()));
    println!("  comb cells     {}", pct(e.comb_cells));
    println!("  text boxes     {}", pct(e.text_boxes));
    println!("  signatures     {}", pct(e.signatures));
    println!("photo presence   {}", pct(e.photos));
    println!("paste presence   {}", pct(e.paste));
    println!("  light copies   {}", pct(e.light_copies));
    println!("covered boxes flagged {}", pct(e.covered_boxes));
    println!("digits (top class) {}", pct(e.digits));
    let wrong = e.digit_fields_accepted_wrong;
    println!(
        "digit fields     {} written, {} accepted ({:.2} %), {} accepted wrong ({:.3} % of accepted); partly written reported invalid: {}",
        e.digit_fields,
        e.digit_fields_accepted,
        100.0 * e.digit_fields_accepted as f64 / e.digit_fields.max(1) as f64,
        wrong,
        100.0 * wrong as f64 / e.digit_fields_accepted.max(1) as f64,
        pct(e.partial_fields)
    );
    if e.names > 0 {
        let aw = e.names_accepted_wrong;
        println!(
            "names            {} written: best reading right {} ({:.2} %), in the candidates {} ({:.2} %), {} accepted ({:.2} %), {} accepted wrong ({:.3} % of accepted); empty boxes read empty {}",
            e.names,
            e.names_top1,
            100.0 * e.names_top1 as f64 / e.names as f64,
            e.names_in_candidates,
            100.0 * e.names_in_candidates as f64 / e.names as f64,
            e.names_accepted,
            100.0 * e.names_accepted as f64 / e.names as f64,
            aw,
            100.0 * aw as f64 / e.names_accepted.max(1) as f64,
            pct(e.names_empty)
        );
    }
    let mut cal = e.clone();
    for dir in pool {
        let more =
            synth::eval::evaluate(&Template::sbk_student(), &synth::eval::read_records(&dir.join("records.jsonl"))?);
        cal.calibration.extend(more.calibration);
        cal.digit_fields += more.digit_fields;
        cal.name_calibration.extend(more.name_calibration);
        cal.names += more.names;
    }
    if let Some((thr, share)) = cal.calibrate_names(0.001) {
        println!(
            "name calibration accept threshold for <= 0.1 % wrong (observed and predicted <= 0.05 %) over {} names: \
             posterior {thr:.5} (would accept {:.1} % of written names)",
            cal.names,
            share * 100.0 * cal.name_calibration.len() as f64 / cal.names.max(1) as f64
        );
    }
    if let Some((thr, share)) = cal.calibrate(0.001) {
        println!(
            "calibration      accept threshold for <= 0.1 % wrong (observed and predicted <= 0.05 %) over {} fields: \
             posterior {thr:.5} (would accept {:.1} % of written fields)",
            cal.digit_fields,
            share * 100.0 * cal.calibration.len() as f64 / cal.digit_fields.max(1) as f64
        );
    }
    let kb = EngineOptions::default().photo;
    let ph = synth::eval::evaluate_photos(&recs, out, (kb.kb_min, kb.kb_max));
    println!(
        "photos           {} forms: pasted precision {:.2} % recall {:.2} % ({} tp, {} fp, {} fn); status {}",
        ph.forms,
        ph.precision() * 100.0,
        ph.recall() * 100.0,
        ph.pasted_true_pos,
        ph.pasted_false_pos,
        ph.pasted_false_neg,
        pct(ph.status)
    );
    println!("  print IoU>=0.95 {} (min {:.3}, median {:.3})", pct(ph.iou_95), ph.iou_min, ph.iou_median);
    println!("  files in spec  {}", pct(ph.files_in_spec));
    println!("  position rules {}", pct(ph.position));
    println!("  non-white bg flagged {}; white bg passed {}", pct(ph.non_white_flagged), pct(ph.white_passed));
    println!(
        "  printed photos read printed {}; card photos without a pasted print {}",
        pct(ph.printed_read_printed),
        ph.card_photos_without_print
    );
    if ph.defects_flagged.total > 0 {
        println!("  defective prints flagged {}", pct(ph.defects_flagged));
    }
    for line in ph.errors.iter().take(15) {
        println!("  ! {line}");
    }
    for line in e.errors.iter().chain(&e.digit_errors).take(20) {
        println!("  ! {line}");
    }
    Ok(e)
}

/// `eval-names`: the name reader on simulated name boxes, per handwriting source. Returns
/// false when an accepted name is wrong.
pub(crate) fn cmd_eval_names(
    hand: &str,
    count: usize,
    seed: u64,
    degrade: &str,
    accept_above: Option<f64>,
    squeeze: Option<f64>,
) -> Result<bool> {
    let hands: Vec<synth::HandSource> =
        if hand == "all" { synth::HandSource::ALL.to_vec() } else { vec![hand.parse().map_err(anyhow::Error::msg)?] };
    let degrade: synth::Degrade = degrade.parse().map_err(anyhow::Error::msg)?;
    let mut opts = formscan::fields::names::NameOptions::default();
    if let Some(t) = accept_above {
        opts.accept_above = t;
    }
    if let Some(q) = squeeze {
        opts.squeeze = q.clamp(0.3, 2.0);
    }
    println!(
        "accept threshold {}, squeeze {} ({count} boxes per source, seed {seed}, {degrade:?})",
        opts.accept_above, opts.squeeze
    );
    let mut clean = true;
    for h in hands {
        let s = synth::eval_names::score_name_boxes(h, count, seed, degrade, &opts);
        let pc = |k: usize| 100.0 * k as f64 / s.names.max(1) as f64;
        println!(
            "{:8} best right {}/{} ({:.2} %), in candidates {:.2} %, accepted {} ({:.2} %), accepted wrong {} ({:.3} % of accepted), {:.1} ms per box",
            h.as_str(),
            s.top1,
            s.names,
            pc(s.top1),
            pc(s.in_candidates),
            s.accepted,
            pc(s.accepted),
            s.accepted_wrong,
            100.0 * s.accepted_wrong as f64 / s.accepted.max(1) as f64,
            s.ms_per_box
        );
        let cal = synth::eval::Evaluation { name_calibration: s.calibration.clone(), ..Default::default() };
        if let Some((thr, share)) = cal.calibrate_names(0.001) {
            println!(
                "         calibration: posterior {thr:.5} keeps <= 0.1 % wrong (observed and predicted <= 0.05 %), accepting {:.1} %",
                share * 100.0 * s.calibration.len() as f64 / s.names.max(1) as f64
            );
        }
        for e in s.errors.iter().take(10) {
            println!("         ! {e}");
        }
        clean &= s.accepted_wrong == 0;
    }
    Ok(clean)
}
