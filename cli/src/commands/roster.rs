//! `roster clean`: the pending list and its report.

use anyhow::Result;
use formscan_print as print;
use std::path::{Path, PathBuf};

pub(crate) fn cmd_clean(
    insured: &Path,
    roll: &Path,
    holders: &[PathBuf],
    submitted: &[PathBuf],
    out: &Path,
    report: &Path,
) -> Result<()> {
    let r = formscan_print::clean::clean_files(insured, roll, holders, submitted)?;
    print::write_roster(&r.pending, out)?;
    let f = formscan::output::private_file(report)?;
    formscan_print::clean::write_report_csv(&r.report, std::io::BufWriter::new(f))?;
    // Counts only: the lists are about children, so no names or ID numbers in logs.
    let c = r.counts();
    let by: Vec<String> = c.by_reason.iter().map(|(k, v)| format!("{k} {v}")).collect();
    eprintln!(
        "clean: {} insured rows, {} roll rows → {} pending, {} dropped, {} flagged, {} rows ignored ({})",
        c.insured_rows,
        c.roll_rows,
        c.pending,
        c.dropped,
        c.flagged,
        c.ignored,
        by.join(", ")
    );
    Ok(())
}
