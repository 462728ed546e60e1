//! `process`: read scan files and folders, with or without a campaign store.

use crate::open_store;
use anyhow::{bail, Result};
use formscan::{batch, Engine, EngineOptions, Template};
use formscan_campaign as campaign;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

pub(crate) fn progress_bar(total_hint: usize) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new(total_hint as u64);
    pb.set_style(indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files {per_sec} eta {eta}").unwrap());
    Some(pb)
}

pub(crate) fn cmd_process(
    inputs: &[PathBuf],
    out: &Path,
    templates: &[PathBuf],
    no_snippets: bool,
    db: Option<&Path>,
    manifests: &[PathBuf],
    accept_posterior: Option<f64>,
) -> Result<batch::Summary> {
    let people: Option<std::sync::Arc<dyn formscan::lookup::PersonLookup>> = if manifests.is_empty() {
        None // with --db, the campaign store is the lookup
    } else {
        let mut m = formscan::lookup::ManifestLookup::default();
        for p in manifests {
            m.add_file(p)?;
        }
        Some(std::sync::Arc::new(m))
    };
    let mut ts = vec![Template::sbk_student()];
    for p in templates {
        ts.push(Template::from_file(p)?);
    }
    let mut options = EngineOptions::default();
    if let Some(p) = accept_posterior {
        if !(p > 0.0 && p <= 1.0) {
            bail!("--accept-posterior must be a probability above 0 and at most 1, not {p}");
        }
        options.fields.digits.accept_min_posterior = p;
    }
    let mut engine = Engine::with_templates(ts, options);
    if let Some(people) = people {
        engine = engine.with_people(people);
    }
    let pb = progress_bar(0);
    let progress = |done: usize, total: usize| {
        if let Some(pb) = &pb {
            pb.set_length(total as u64);
            pb.set_position(done as u64);
        }
    };
    let opts = batch::BatchOptions { out_dir: out.to_path_buf(), snippets: !no_snippets };
    let s = match db {
        None => batch::run(&engine, inputs, &opts, &progress)?,
        Some(db) => {
            let mut store = open_store(db, None)?;
            let i = campaign::intake::process(&mut *store, &engine, inputs, &opts, &progress)?;
            let elsewhere = if i.claimed_elsewhere > 0 {
                format!(", {} being read by another station", i.claimed_elsewhere)
            } else {
                String::new()
            };
            eprintln!(
                "campaign store {}: {} files already done, {} duplicate files skipped{elsewhere}",
                campaign::store::StoreLocation::from(db),
                i.already_done,
                i.duplicate_files
            );
            i.batch
        }
    };
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    Ok(s)
}

pub(crate) fn print_summary(s: &batch::Summary) {
    println!("{}", summary_line(s));
}

/// The one-line summary of a batch. Every page is in exactly one of read, blank, covers and
/// rejected, so the four counts add up to the pages.
pub(crate) fn summary_line(s: &batch::Summary) -> String {
    let earlier =
        if s.earlier_pages > 0 { format!(" ({} kept from earlier runs)", s.earlier_pages) } else { String::new() };
    format!(
        "{} files, {} pages{earlier}: {} read, {} blank, {} covers, {} rejected {:?}; {} with findings; {:.1} s, {:.1} pages/s on {} threads",
        s.files,
        s.pages_in,
        s.read,
        s.blank,
        s.covers,
        s.rejected,
        s.rejected_by_reason,
        s.with_findings,
        s.elapsed_s,
        s.pages_per_s,
        s.threads
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14, defect 15: the counts in the summary line add up to the pages, covers
    /// included (19 read + 4 covers + 1 blank + 31 rejected = 55).
    #[test]
    fn the_summary_line_counts_add_up_to_the_pages() {
        let s = batch::Summary {
            files: 55,
            pages_in: 55,
            read: 19,
            blank: 1,
            covers: 4,
            rejected: 31,
            rejected_by_reason: [("not_a_form".to_string(), 31)].into(),
            ..Default::default()
        };
        let line = summary_line(&s);
        let count = |what: &str| -> usize {
            let at = line.find(&format!(" {what}")).unwrap_or_else(|| panic!("no {what} in {line}"));
            line[..at].rsplit([' ', ':']).next().unwrap().parse().unwrap()
        };
        assert_eq!(count("pages"), 55, "{line}");
        assert_eq!(count("read") + count("blank") + count("covers") + count("rejected"), count("pages"), "{line}");
    }
}
