//! Name boxes by the thousand: the name reader's accuracy per handwriting source, and the data
//! its accept threshold is calibrated on (`formscan eval-names`, `docs/names.md`).
//!
//! Whole simulated pages carry about one written name each, too few to see a 0.1 % error rate.
//! Here each sample is one name box (the student form's 50 × 8 mm `agent_name` box at 300 dpi)
//! written by a [`HandSource`], put through the same scanner model as a page at the chosen
//! [`Degrade`] level (blur, noise, uneven light, yellowed paper, 4:2:0 JPEG at the level's
//! quality) and read by the library's name reader through an exact registration, without the
//! form's evidence (no printed name, no relationship): the plain prior only.

use crate::hand::{self, HandSource};
use crate::scanner::{self, Degrade, ScanFormat};
use formscan::fields::names::{self, decode::Priors, NameOptions, NameScratch};
use formscan::geometry::{Homography, Rect};
use formscan::model::text_line::LineThread;
use formscan::record::{FieldReading, FieldState, ReadingKind, ValueStatus};
use formscan::register::Registration;
use formscan::Scan;
use formscan_print::render::raster::Canvas;
use formscan_print::render::Rgb;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

/// Results over a set of name boxes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NameBoxScores {
    /// Boxes written.
    pub names: usize,
    /// Best reading right.
    pub top1: usize,
    /// Right name among the candidates.
    pub in_candidates: usize,
    /// Accepted.
    pub accepted: usize,
    /// Accepted and wrong.
    pub accepted_wrong: usize,
    /// Sent to review or invalid.
    pub not_accepted: usize,
    /// Mean time to read one box (line finding, network, decoding), ms.
    pub ms_per_box: f64,
    /// (best posterior, right) per box with a reading.
    #[serde(skip)]
    pub calibration: Vec<(f64, bool)>,
    /// Wrongly accepted names, `wrote → read`.
    pub errors: Vec<String>,
}

const BOX: Rect = Rect { x: 5.0, y: 3.0, w: 50.0, h: 8.0 };
const DPI: f64 = 300.0;

/// Writes, scans and reads `n` random names in `source`'s hand (seeded by `seed`).
pub fn score_name_boxes(
    source: HandSource,
    n: usize,
    seed: u64,
    degrade: Degrade,
    opts: &NameOptions,
) -> NameBoxScores {
    let line = LineThread::with_threads(rayon::current_num_threads());
    let results: Vec<(String, FieldReading, f64)> = line.run(|| {
        (0..n)
            .into_par_iter()
            .map_init(
                || {
                    let mut s = NameScratch::default();
                    s.set_thread(line.clone());
                    s
                },
                |scratch, i| one_box(source, seed, i as u64, degrade, opts, scratch),
            )
            .collect()
    });
    let mut out = NameBoxScores { names: n, ..Default::default() };
    for (truth, r, ms) in results {
        let right = r.value.as_deref() == Some(truth.as_str());
        out.top1 += right as usize;
        out.in_candidates += r.candidates.iter().any(|c| c.value == truth) as usize;
        out.ms_per_box += ms / n.max(1) as f64;
        if r.status == Some(ValueStatus::Accepted) {
            out.accepted += 1;
            if !right {
                out.accepted_wrong += 1;
                out.errors.push(format!("{truth} → {}", r.value.unwrap_or_default()));
            }
        } else {
            out.not_accepted += 1;
        }
        if let Some(p) = r.value_confidence {
            out.calibration.push((p, right));
        }
    }
    out
}

fn one_box(
    source: HandSource,
    seed: u64,
    i: u64,
    degrade: Degrade,
    opts: &NameOptions,
    scratch: &mut NameScratch,
) -> (String, FieldReading, f64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i);
    let truth = crate::name(&mut rng);
    let mut c = Canvas::new(60.0, 14.0, DPI);
    let red = Rgb(236, 120, 120);
    let k = BOX.corners();
    for j in 0..4 {
        c.line(k[j], k[(j + 1) % 4], red, 0.2);
    }
    hand::draw_text_with(&mut c, &mut rng, BOX, &truth, source);
    let (w, h) = c.image.dimensions();
    let mut fx = scanner::effects(&mut rng, degrade, w as f64, h as f64, c.px_per_mm);
    // The page's geometry is the registration's business (measured on whole pages): here the
    // box is where the template says.
    fx.feed = Homography::IDENTITY;
    fx.upside_down = false;
    let scanned = if degrade == Degrade::None { c.image } else { scanner::scan(&c.image, &fx, &mut rng) };
    let jpeg = scanner::encode(&scanned, ScanFormat::Jpeg420, fx.quality);
    let img = image::load_from_memory(&jpeg).expect("our own JPEG decodes");
    let scan = Scan::new(img);
    let reg = Registration::exact(DPI / 25.4);
    let t = std::time::Instant::now();
    let margin = formscan::fields::FieldOptions::default().margin_mm;
    let lattice = names::read_name(&scan, &reg, BOX, margin, opts, scratch).ok().flatten();
    let mut r = FieldReading::measured(ReadingKind::Text, FieldState::Ink, 0.0, 1.0);
    names::settle_reading(&mut r, lattice.as_ref(), &Priors::default(), opts);
    (truth, r, t.elapsed().as_secs_f64() * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_clean_boxes_are_read() {
        let s = score_name_boxes(HandSource::WenKai, 6, 1, Degrade::None, &NameOptions::default());
        assert_eq!(s.names, 6);
        assert!(s.top1 >= 5, "{s:?}");
        assert_eq!(s.accepted_wrong, 0, "{s:?}");
        assert_eq!(s.calibration.len(), 6);
    }
}
