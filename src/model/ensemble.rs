//! A small deep ensemble of digit networks, consulted as a cascade.
//!
//! Networks trained apart make different mistakes (Lakshminarayanan, Pritzel & Blundell,
//! "Simple and scalable predictive uncertainty estimation using deep ensembles", NeurIPS 2017):
//! a cell that one network reads as a 7 with p = 0.998 while the other says 4 comes out
//! doubtful, which is what the field's accept rule needs. The bundled ensemble has two members:
//! the primary network (16/32/128 wide, see [`super`]) and one twice as wide (32/64/128), which
//! is more accurate (99.50 % against 99.38 % on the trainer's validation digits) but costs
//! about 3.5 times as much per cell.
//!
//! The members are pooled log-linearly: their logits are averaged, which after the softmax is
//! the normalised geometric mean of their probabilities (a product of experts, Hinton 2002).
//! A class keeps its probability only when every member gives it some; on the harsh
//! calibration pages this accepted 5 % more fields at the same posterior threshold than the
//! arithmetic mean did, with no more errors (`docs/digits.md`).
//!
//! Most cells are read with near-certainty by every member, so only the primary network reads
//! every cell; the wide one is run only when the primary's top probability is below
//! [`CnnEnsemble::consult_below`]. On MNIST digits the trainer never saw (validation and
//! calibration images, 10,000), no reading of the primary with p ≥ 0.9999 was wrong, and
//! about a fifth of the cells fall below it, so the wide network adds about 70 % to the cost
//! of the primary alone instead of 350 %.

use std::sync::OnceLock;

use super::{CnnDigits, DigitClassifier};
use crate::error::{Error, Result};

/// The primary network and the wide member, as committed in `assets/models/`.
const BUNDLED_MEMBERS: [&[u8]; 2] = [super::BUNDLED, include_bytes!("../../assets/models/digits-cnn-1.bin")];

/// Several [`CnnDigits`] networks read as a cascade (see the module documentation).
#[derive(Debug)]
pub struct CnnEnsemble {
    members: Vec<CnnDigits>,
    consult_below: f32,
}

impl CnnEnsemble {
    /// The default cascade threshold: 0.9999 (see the module documentation).
    pub const DEFAULT_CONSULT_BELOW: f32 = 0.9999;

    /// The bundled ensemble (two networks), parsed on first use.
    ///
    /// # Panics
    ///
    /// Only if a committed weight file is corrupt, which the unit tests rule out.
    pub fn bundled() -> &'static CnnEnsemble {
        static MODEL: OnceLock<CnnEnsemble> = OnceLock::new();
        MODEL.get_or_init(|| {
            let members = BUNDLED_MEMBERS
                .iter()
                .map(|b| CnnDigits::from_bytes(b).expect("the bundled digit networks are valid"))
                .collect();
            CnnEnsemble::new(members, Self::DEFAULT_CONSULT_BELOW).expect("two members")
        })
    }

    /// An ensemble whose first member is the primary network. Returns [`Error::Model`] when
    /// `members` is empty or `consult_below` is not a probability.
    pub fn new(members: Vec<CnnDigits>, consult_below: f32) -> Result<CnnEnsemble> {
        if members.is_empty() || !(0.0..=1.0).contains(&consult_below) {
            return Err(Error::Model {
                name: "digits-ensemble".into(),
                reason: "an ensemble needs at least one network and a threshold in 0–1".into(),
            });
        }
        Ok(CnnEnsemble { members, consult_below })
    }

    /// The primary's top probability below which the other members are consulted.
    pub fn consult_below(&self) -> f32 {
        self.consult_below
    }

    /// The number of networks.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Never true (an ensemble has at least one network); here for the `len` convention.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

impl DigitClassifier for CnnEnsemble {
    fn classify(&self, cell: &[f32; 784]) -> [f32; 11] {
        let first = self.members[0].logits(cell);
        let p = super::softmax(first);
        let top = p.iter().copied().fold(0.0f32, f32::max);
        if top >= self.consult_below || self.members.len() == 1 {
            return p;
        }
        // Log-linear pooling: the mean of the members' logits is, after the softmax, their
        // normalised geometric mean (a product of experts, Hinton 2002).
        let mut sum = first;
        for m in &self.members[1..] {
            for (s, z) in sum.iter_mut().zip(m.logits(cell)) {
                *s += z;
            }
        }
        let n = self.members.len() as f32;
        super::softmax(sum.map(|s| s / n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_members_load_and_differ() {
        let e = CnnEnsemble::bundled();
        assert_eq!(e.len(), 2);
        assert_eq!(e.members[0].widths(), (16, 32, 128));
        assert_eq!(e.members[1].widths(), (32, 64, 128));
        // The members must not agree to the bit even on a blank cell.
        let probe = [0.0f32; 784];
        assert!(e.members[0].classify(&probe) != e.members[1].classify(&probe));
        // The wide member's own forward pass reads the probe's validation digits and X.
        let p = super::super::tests::probe();
        let right = p
            .inputs
            .iter()
            .zip(&p.labels)
            .filter(|(img, &label)| {
                let out = e.members[1].classify(img);
                (0..11).max_by(|&a, &b| out[a].total_cmp(&out[b])) == Some(label)
            })
            .count();
        assert!(right >= p.inputs.len() - 1, "{right} of {}", p.inputs.len());
    }

    #[test]
    fn confident_primary_is_not_second_guessed_and_doubt_is_pooled() {
        let e = CnnEnsemble::bundled();
        let p = super::super::tests::probe();
        let mut consulted = 0;
        for img in &p.inputs {
            let first = e.members[0].classify(img);
            let out = e.classify(img);
            let top = first.iter().copied().fold(0.0f32, f32::max);
            if top >= e.consult_below() {
                assert_eq!(out, first);
            } else {
                consulted += 1;
                // The normalised geometric mean of the members' probabilities.
                let geo: Vec<f32> = (0..11)
                    .map(|k| e.members.iter().map(|m| m.classify(img)[k].max(1e-30).ln()).sum::<f32>() / e.len() as f32)
                    .map(f32::exp)
                    .collect();
                let z: f32 = geo.iter().sum();
                assert!(out.iter().zip(&geo).all(|(a, b)| (a - b / z).abs() < 1e-5));
            }
            assert!((out.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        }
        // Not a vacuous test: a blank input is uncertain for the primary and gets pooled.
        let blank = [0.0f32; 784];
        let top = e.members[0].classify(&blank).iter().copied().fold(0.0f32, f32::max);
        assert!(top < e.consult_below() || consulted > 0);
    }

    #[test]
    fn rejects_empty_ensembles_and_bad_thresholds() {
        assert!(CnnEnsemble::new(vec![], 0.9).is_err());
        let one = CnnDigits::from_bytes(BUNDLED_MEMBERS[0]).unwrap();
        assert!(CnnEnsemble::new(vec![one], 1.5).is_err());
    }
}
