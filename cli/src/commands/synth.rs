//! `synth`: simulated scans of a printed roster.

use crate::args::ScenarioArgs;
use crate::{load_roster, load_template};
use anyhow::Result;
use formscan_print as print;
use formscan_synth as synth;
use std::path::{Path, PathBuf};

#[allow(clippy::too_many_arguments)] // one flag each; mirrors the command line
pub(crate) fn cmd_synth(
    roster_path: &Path,
    out: &Path,
    seed: u64,
    dpi: f64,
    degrade: &str,
    template: &Option<PathBuf>,
    run: Option<&str>,
    calibration_digits: bool,
    hand: synth::HandSource,
    scenario: &ScenarioArgs,
) -> Result<()> {
    let t = load_template(template)?;
    let degrade: synth::Degrade = degrade.parse().map_err(anyhow::Error::msg)?;
    let r = load_roster(roster_path)?;
    let base = roster_path.parent().unwrap_or(Path::new("."));
    let plan = print::plan_run(&t, &r.persons, run, base);
    let persons: Vec<_> = plan.pages.iter().map(|p| p.person.clone()).collect();
    let serials: Vec<_> = plan.pages.iter().map(|p| p.serial.clone()).collect();
    let photos: Vec<_> = plan.pages.iter().map(|p| p.photo.clone()).collect();
    let digits = if calibration_digits { synth::DigitSet::Calibration } else { synth::DigitSet::Pages };
    let opts = synth::SynthOptions {
        dpi,
        degrade,
        seed,
        digits,
        hand,
        scenario: scenario.to_options()?,
        defective_prints: scenario.defective_prints,
        format: scenario.format.parse().map_err(anyhow::Error::msg)?,
        render: scenario.render.parse().map_err(anyhow::Error::msg)?,
        ..Default::default()
    };
    let s = synth::run(&t, &persons, &serials, &photos, &plan.run, &opts, out)?;
    eprintln!("simulated {} form pages and {} blank backs in {}", s.forms, s.blanks, out.display());
    if opts.scenario.is_active() {
        eprintln!(
            "scenarios: {} forms missing, {} duplicate files, {} rescans; truth in scenario.json",
            s.missing, s.duplicates, s.rescans
        );
    }
    Ok(())
}
