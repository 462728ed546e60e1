//! `demo`: print, simulate and read a sample batch.

use crate::args::ScenarioArgs;
use crate::commands::{
    eval::cmd_eval,
    print::cmd_print,
    process::{cmd_process, print_summary},
    synth::cmd_synth,
};
use anyhow::Result;
use formscan_print as print;
use formscan_synth as synth;
use std::path::Path;

pub(crate) fn cmd_demo(out: &Path, students: usize, degrade: &str) -> Result<bool> {
    formscan::output::private_dir(out)?;
    let mut persons = synth::roster(students, 2026);
    for (i, p) in persons.iter_mut().enumerate() {
        if i % 4 == 1 {
            p.photo = Some(format!("face:{}", i % synth::FACE_COUNT));
        }
    }
    let roster_path = out.join("roster.csv");
    print::write_roster(&persons, &roster_path)?;
    println!("== print: roster of {students} synthetic students → {}", out.join("print").display());
    cmd_print(&roster_path, &out.join("print"), &None, None, None)?;
    println!("== synth: simulated scans ({degrade}) → {}", out.join("scans").display());
    let hand = formscan_synth::HandSource::default();
    cmd_synth(&roster_path, &out.join("scans"), 7, 300.0, degrade, &None, None, false, hand, &ScenarioArgs::default())?;
    println!("== process → {}", out.join("read").display());
    let s = cmd_process(
        &[out.join("scans")],
        &out.join("read"),
        &[],
        false,
        None,
        &[out.join("print").join("manifest.csv")],
        None,
    )?;
    print_summary(&s);
    println!("== accuracy against the simulator's ground truth");
    let e = cmd_eval(&out.join("read"), &[])?;
    Ok(s.rejected == 0 && e.errors.is_empty())
}
