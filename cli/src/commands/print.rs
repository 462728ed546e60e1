//! `print`: one PDF per school and the manifest.

use crate::{load_roster, load_template, open_store};
use anyhow::Result;
use formscan_print as print;
use std::path::{Path, PathBuf};

pub(crate) fn cmd_print(
    roster_path: &Path,
    out: &Path,
    template: &Option<PathBuf>,
    run: Option<&str>,
    db: Option<(&Path, Option<&str>)>,
) -> Result<bool> {
    let t = load_template(template)?;
    let r = load_roster(roster_path)?;
    let base = roster_path.parent().unwrap_or(Path::new("."));
    let pr = print::print_run(&t, &r.persons, run, base, out)?;
    if let Some((db, reference)) = db {
        let mut store = open_store(db, reference)?;
        let forms: Vec<_> = pr
            .pages
            .iter()
            .map(|p| formscan_campaign::store::PrintedForm {
                serial: p.serial.clone(),
                person: p.person.clone(),
                photo_printed: p.photo.is_some(),
            })
            .collect();
        store.record_print_run(&pr.run, &t.id, &forms)?;
        eprintln!(
            "recorded {} forms of run {} in {}",
            forms.len(),
            pr.run,
            formscan_campaign::store::StoreLocation::from(db)
        );
    }
    for p in &pr.problems {
        eprintln!("roster line {}: {}", p.line.map(|l| l.to_string()).unwrap_or("-".into()), p.reason);
    }
    eprintln!(
        "print run {}: {} pages in {} PDF files, manifest.csv in {}",
        pr.run,
        pr.pages.len(),
        pr.pdfs.len(),
        out.display()
    );
    Ok(r.problems.is_empty() && pr.problems.is_empty())
}
