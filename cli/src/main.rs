//! `formscan`: print personalised application forms and read their scans.
//!
//! Exit codes: 0 = done, every page read or blank; 1 = done, but some pages were rejected
//! or some roster rows were not printed (see the outputs); 2 = could not run (bad arguments,
//! missing input, unwritable output).

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use formscan::{batch, Engine, EngineOptions, Template};
use formscan_campaign as campaign;
use formscan_campaign::store::{SqliteStore, Store};
use formscan_print as print;
use formscan_print::roster;
use formscan_synth as synth;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(name = "formscan", version, about = "Print personalised application forms and read their scans.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print one PDF per school from a roster CSV, plus manifest.csv.
    Print {
        /// Roster CSV (UTF-8 or GBK; Chinese or English headers).
        #[arg(long)]
        roster: PathBuf,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Template file (default: the built-in sbk-student form).
        #[arg(long)]
        template: Option<PathBuf>,
        /// Print-run id (default: derived from the roster).
        #[arg(long)]
        run: Option<String>,
        /// Campaign store: record the persons and form serials of this run.
        #[arg(long)]
        db: Option<PathBuf>,
        /// The campaign's reference date for ages (YYYY-MM-DD; default: today when the store
        /// is created).
        #[arg(long)]
        reference_date: Option<String>,
    },
    /// Roster preparation: data cleaning (数据清洗) and synthetic input lists.
    Roster {
        #[command(subcommand)]
        command: RosterCommand,
    },
    /// Simulate scans of filled-in forms for a roster, with ground truth JSON.
    Synth {
        /// Roster CSV.
        #[arg(long)]
        roster: PathBuf,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Scan resolution.
        #[arg(long, default_value_t = 300.0)]
        dpi: f64,
        /// Scanner effects: none, mild or harsh.
        #[arg(long, default_value = "mild")]
        degrade: String,
        /// Template file.
        #[arg(long)]
        template: Option<PathBuf>,
        /// Print-run id (default: derived from the roster, as `print` does).
        #[arg(long)]
        run: Option<String>,
        /// Write digits from the calibration set (MNIST 50,000–54,999) instead of the test set.
        #[arg(long)]
        calibration_digits: bool,
        #[command(flatten)]
        scenario: ScenarioArgs,
    },
    /// Read scans (files or folders of JPEG, PNG, TIFF, PDF) into records.
    Process {
        /// Scan files or folders.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Worker threads (default: all cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Extra template files (the built-in template stays loaded).
        #[arg(long)]
        template: Vec<PathBuf>,
        /// Do not save snippet images.
        #[arg(long)]
        no_snippets: bool,
        /// Campaign store: commit every page there; a rerun skips files already done. `--db`
        /// alone means `<out>/campaign.db`.
        #[arg(long, num_args = 0..=1, default_missing_value = OUT_DB)]
        db: Option<PathBuf>,
        /// Print-run manifest(s) (`manifest.csv` from `print`): name photo files by ID number
        /// and school, and know ages for the photo rule. Repeatable.
        #[arg(long)]
        manifest: Vec<PathBuf>,
        /// Digit fields (phone, ID numbers): accept a field without review when its posterior
        /// reaches this. The default (0.996) was calibrated on simulated harsh scans;
        /// `formscan eval OUT --pool OUT2 ...` computes the threshold for pages of your own
        /// whose truth you know.
        #[arg(long, value_name = "P")]
        accept_posterior: Option<f64>,
    },
    /// Progress per school and class from the campaign store.
    Status {
        /// Campaign store.
        #[arg(long)]
        db: PathBuf,
        /// Also write the table as CSV.
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Also write the table as an Excel workbook.
        #[arg(long)]
        xlsx: Option<PathBuf>,
        /// List the forms in review and the flagged pages.
        #[arg(long)]
        details: bool,
    },
    /// Export card data and photos of accepted forms (see docs/export.md).
    Export {
        /// Campaign store.
        #[arg(long)]
        db: PathBuf,
        /// Output folder (one folder per school).
        #[arg(long)]
        out: PathBuf,
        /// Export only this school (repeatable; default all).
        #[arg(long)]
        school: Vec<String>,
        /// CSV encoding: utf-8 or gbk.
        #[arg(long, default_value = "utf-8")]
        encoding: String,
        /// Write the earlier export batch N again, identically.
        #[arg(long)]
        batch: Option<i64>,
    },
    /// Record a review decision for a person's form.
    Review {
        /// Campaign store.
        #[arg(long)]
        db: PathBuf,
        /// The person's ID number.
        #[arg(long)]
        id_number: String,
        /// accept, reject, or choose:PAGE (a page key shown by `status --details`).
        #[arg(long)]
        decision: String,
    },
    /// Measure pages/s on a folder of scans, against decode-only time on the same files.
    Bench {
        /// Folder of scans.
        dir: PathBuf,
        /// Worker threads (default: all cores).
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// Score a processed synth folder against its ground truth.
    Eval {
        /// The output folder of `process` (holding records.jsonl).
        out: PathBuf,
        /// More processed synth folders (calibration pages) whose digit fields are pooled
        /// with OUT's for the accept-threshold calibration line; a 0.1 % error rate needs
        /// thousands of fields to show. Repeatable.
        #[arg(long)]
        pool: Vec<PathBuf>,
    },
    /// Print, simulate and read a small sample batch, then show the summary and accuracy.
    Demo {
        /// Working folder.
        #[arg(long, default_value = "demo-out")]
        out: PathBuf,
        /// Number of students.
        #[arg(long, default_value_t = 24)]
        students: usize,
        /// Scanner effects.
        #[arg(long, default_value = "harsh")]
        degrade: String,
    },
}

/// Batch-workflow scenarios for `synth` (all off by default; see `formscan_synth::scenario`),
/// defective prints, and how pages are printed and written.
#[derive(clap::Args)]
struct ScenarioArgs {
    /// Share of forms never scanned (0–1).
    #[arg(long, default_value_t = 0.0)]
    missing: f64,
    /// Share of forms whose scan file appears twice under another name (0–1).
    #[arg(long, default_value_t = 0.0)]
    duplicates: f64,
    /// Share of forms scanned a second time, a new image of the same sheet (0–1).
    #[arg(long, default_value_t = 0.0)]
    rescans: f64,
    /// Share of forms made to break one audit rule (0–1).
    #[arg(long, default_value_t = 0.0)]
    rule_breaking: f64,
    /// Class (0-based, in print order) in which every pupil writes the same phone number.
    #[arg(long)]
    shared_phone_class: Option<usize>,
    /// Share of pasted prints that are defective: grey photocopies, dark or blurred (0–1).
    #[arg(long, default_value_t = 0.0)]
    defective_prints: f64,
    /// Scan files: jpeg420 (chroma subsampled, as scanners write), jpeg444 or png.
    #[arg(long, default_value = "jpeg420")]
    format: String,
    /// The printed page: internal (the simulator's rasteriser) or pdftoppm (the form's PDF
    /// rendered by poppler, the real print path; needs poppler-utils).
    #[arg(long, default_value = "internal")]
    render: String,
}

impl Default for ScenarioArgs {
    fn default() -> Self {
        ScenarioArgs {
            missing: 0.0,
            duplicates: 0.0,
            rescans: 0.0,
            rule_breaking: 0.0,
            shared_phone_class: None,
            defective_prints: 0.0,
            format: "jpeg420".into(),
            render: "internal".into(),
        }
    }
}

impl ScenarioArgs {
    fn to_options(&self) -> Result<synth::Scenarios> {
        for (v, flag) in [
            (self.missing, "--missing"),
            (self.duplicates, "--duplicates"),
            (self.rescans, "--rescans"),
            (self.rule_breaking, "--rule-breaking"),
            (self.defective_prints, "--defective-prints"),
        ] {
            if !(0.0..=1.0).contains(&v) {
                bail!("{flag} must be between 0 and 1");
            }
        }
        Ok(synth::Scenarios {
            missing: self.missing,
            duplicates: self.duplicates,
            rescans: self.rescans,
            rule_breaking: self.rule_breaking,
            shared_phone_class: self.shared_phone_class,
        })
    }
}

#[derive(Subcommand)]
enum RosterCommand {
    /// Pending list from the insured-residents list and the school roll, minus card holders and
    /// already-submitted people, grouped by school and class; plus a report of who was left out.
    Clean {
        /// Insured-residents CSV (UTF-8 or GBK; Chinese or English headers).
        #[arg(long)]
        insured: PathBuf,
        /// School-roll CSV.
        #[arg(long)]
        roll: PathBuf,
        /// Card-holder CSV (ID number column); may be repeated.
        #[arg(long)]
        holders: Vec<PathBuf>,
        /// Already-submitted CSV (ID number column); may be repeated.
        #[arg(long)]
        submitted: Vec<PathBuf>,
        /// Pending list to write (a roster CSV that `print` reads).
        #[arg(long)]
        out: PathBuf,
        /// Report CSV of dropped, flagged and ignored rows.
        #[arg(long)]
        report: PathBuf,
    },
    /// Write synthetic insured, roll, holder and submitted lists with known drop-outs.
    SynthLists {
        /// Output folder (insured.csv, roll.csv, holders.csv, submitted.csv, expected.json).
        #[arg(long)]
        out: PathBuf,
        /// Students on the roll.
        #[arg(long, default_value_t = 120)]
        students: usize,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn cmd_clean(
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

fn load_template(p: &Option<PathBuf>) -> Result<Template> {
    Ok(match p {
        Some(p) => Template::from_file(p)?,
        None => Template::sbk_student(),
    })
}

fn set_jobs(jobs: Option<usize>) {
    if let Some(j) = jobs {
        let _ = rayon::ThreadPoolBuilder::new().num_threads(j.max(1)).build_global();
    }
}

fn load_roster(path: &Path) -> Result<roster::Roster> {
    let r = roster::read_roster(path)?;
    for p in &r.problems {
        eprintln!("roster line {}: {}", p.line, p.reason);
    }
    Ok(r)
}

fn open_store(db: &Path, reference_date: Option<&str>) -> Result<SqliteStore> {
    let d = reference_date
        .map(|s| s.parse::<formscan::domain::Date>().map_err(|e| anyhow::anyhow!("--reference-date: {e}")))
        .transpose()?;
    SqliteStore::open(db, d).with_context(|| format!("opening campaign store {}", db.display()))
}

fn cmd_print(
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
        eprintln!("recorded {} forms of run {} in {}", forms.len(), pr.run, db.display());
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

#[allow(clippy::too_many_arguments)] // one flag each; mirrors the command line
fn cmd_synth(
    roster_path: &Path,
    out: &Path,
    seed: u64,
    dpi: f64,
    degrade: &str,
    template: &Option<PathBuf>,
    run: Option<&str>,
    calibration_digits: bool,
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

fn progress_bar(total_hint: usize) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new(total_hint as u64);
    pb.set_style(indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files {per_sec} eta {eta}").unwrap());
    Some(pb)
}

fn cmd_process(
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
    let engine = Engine::with_templates(ts, options);
    let pb = progress_bar(0);
    let progress = |done: usize, total: usize| {
        if let Some(pb) = &pb {
            pb.set_length(total as u64);
            pb.set_position(done as u64);
        }
    };
    let opts = batch::BatchOptions { out_dir: out.to_path_buf(), snippets: !no_snippets, people };
    let s = match db {
        None => batch::run(&engine, inputs, &opts, &progress)?,
        Some(db) => {
            let mut store = open_store(db, None)?;
            let i = campaign::intake::process(&mut store, &engine, inputs, &opts, &progress)?;
            eprintln!(
                "campaign store {}: {} files already done, {} duplicate files skipped",
                db.display(),
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

fn print_summary(s: &batch::Summary) {
    println!("{}", summary_line(s));
}

/// The one-line summary of a batch. Every page is in exactly one of read, blank, covers and
/// rejected, so the four counts add up to the pages.
fn summary_line(s: &batch::Summary) -> String {
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

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn cmd_bench(dir: &Path) -> Result<()> {
    use rayon::prelude::*;
    let files = formscan::decode::list_inputs(&[dir.to_path_buf()])?;
    if files.is_empty() {
        bail!("no scans in {}", dir.display());
    }
    let engine = Engine::default();
    // Decode only, same files, same threads: the yardstick.
    let t = std::time::Instant::now();
    let pages: usize = files
        .par_iter()
        .map(|f| {
            engine
                .open(f)
                .map(|ps| {
                    ps.iter().filter(|p| formscan::decode::decode_page(p, &engine.options().decode).is_ok()).count()
                })
                .unwrap_or(0)
        })
        .sum();
    let decode_s = t.elapsed().as_secs_f64();
    let out = std::env::temp_dir().join(format!("formscan-bench-{}", std::process::id()));
    let s = batch::run(
        &engine,
        &files,
        &batch::BatchOptions { out_dir: out.clone(), snippets: true, people: None },
        &|_, _| {},
    )?;
    let _ = std::fs::remove_dir_all(&out);
    let m = &s.stage_ms_mean;
    println!("pages            {}", s.pages_in);
    println!("threads          {}", s.threads);
    println!("formscan         {:.1} pages/s ({:.2} s)", s.pages_per_s, s.elapsed_s);
    println!("decode only      {:.1} pages/s ({:.2} s, {} pages)", pages as f64 / decode_s, decode_s, pages);
    println!("ratio            {:.2} (our time / decode-only time)", s.elapsed_s / decode_s);
    println!(
        "per page, ms     decode {:.1}  register {:.1}  identify {:.1}  fields {:.1} (of which recogniser {:.1})  \
         photo {:.1}  total {:.1}",
        m.decode, m.register, m.identify, m.fields, m.digits, m.photo, m.total
    );
    println!("peak memory      {:.0} MiB", peak_rss_mib());
    Ok(())
}

fn cmd_eval(out: &Path, pool: &[PathBuf]) -> Result<synth::eval::Evaluation> {
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
    let mut cal = e.clone();
    for dir in pool {
        let more =
            synth::eval::evaluate(&Template::sbk_student(), &synth::eval::read_records(&dir.join("records.jsonl"))?);
        cal.calibration.extend(more.calibration);
        cal.digit_fields += more.digit_fields;
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

fn cmd_demo(out: &Path, students: usize, degrade: &str) -> Result<bool> {
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
    cmd_synth(&roster_path, &out.join("scans"), 7, 300.0, degrade, &None, None, false, &ScenarioArgs::default())?;
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

fn cmd_status(db: &Path, csv: Option<&Path>, xlsx: Option<&Path>, details: bool) -> Result<bool> {
    let mut store = open_store(db, None)?;
    let assessed = campaign::assess(&mut store, &Default::default())?;
    let rows = campaign::status::rows(&assessed);
    print!("{}", campaign::status::table(&rows));
    if let Some(p) = csv {
        campaign::status::write_csv(&rows, p)?;
    }
    if let Some(p) = xlsx {
        campaign::status::write_xlsx(&rows, p)?;
    }
    let flagged = store.flagged_pages()?;
    if details {
        // Names and ID numbers only on request: the data is about children.
        for a in assessed.iter().filter(|a| a.status == campaign::FormStatus::Review) {
            let p = &a.view.person.person;
            let codes: Vec<_> = a.findings.iter().map(|f| format!("{}:{}", f.code, f.subject)).collect();
            let pages: Vec<_> = a.view.pages.iter().map(|p| format!("{}={}", p.id, p.path)).collect();
            println!("review  {} {} {}  {}  pages {}", p.id_number, p.name, p.class, codes.join(" "), pages.join(" "));
        }
        for f in &flagged {
            println!("flagged {} page {}: {}", f.path, f.page_index, f.reason);
        }
    } else if !flagged.is_empty() {
        println!("{} flagged pages or duplicate files (see --details)", flagged.len());
    }
    Ok(true)
}

/// What `process --db` alone stands for: the campaign store in the output folder.
const OUT_DB: &str = "<out>/campaign.db";

fn run() -> Result<i32> {
    let cli = Cli::parse();
    let ok = match cli.command {
        Command::Print { roster, out, template, run, db, reference_date } => {
            cmd_print(&roster, &out, &template, run.as_deref(), db.as_deref().map(|d| (d, reference_date.as_deref())))?
        }
        Command::Roster { command: RosterCommand::Clean { insured, roll, holders, submitted, out, report } } => {
            cmd_clean(&insured, &roll, &holders, &submitted, &out, &report)?;
            true
        }
        Command::Roster { command: RosterCommand::SynthLists { out, students, seed } } => {
            let lists = synth::campaign::campaign_lists(seed, students);
            synth::campaign::write_campaign_lists(&lists, &out)?;
            eprintln!("wrote insured.csv, roll.csv, holders.csv, submitted.csv, expected.json in {}", out.display());
            true
        }
        Command::Synth { roster, out, seed, dpi, degrade, template, run, calibration_digits, scenario } => {
            if !(50.0..=1200.0).contains(&dpi) {
                bail!("--dpi must be between 50 and 1200");
            }
            cmd_synth(&roster, &out, seed, dpi, &degrade, &template, run.as_deref(), calibration_digits, &scenario)?;
            true
        }
        Command::Process { inputs, out, jobs, template, no_snippets, db, manifest, accept_posterior } => {
            set_jobs(jobs);
            let db = db.map(|d| if d == Path::new(OUT_DB) { out.join("campaign.db") } else { d });
            let s = cmd_process(&inputs, &out, &template, no_snippets, db.as_deref(), &manifest, accept_posterior)
                .context("processing failed")?;
            print_summary(&s);
            s.rejected == 0
        }
        Command::Bench { dir, jobs } => {
            set_jobs(jobs);
            cmd_bench(&dir)?;
            true
        }
        Command::Eval { out, pool } => cmd_eval(&out, &pool)?.errors.is_empty(),
        Command::Demo { out, students, degrade } => cmd_demo(&out, students, &degrade)?,
        Command::Status { db, csv, xlsx, details } => cmd_status(&db, csv.as_deref(), xlsx.as_deref(), details)?,
        Command::Export { db, out, school, encoding, batch } => {
            let mut store = open_store(&db, None)?;
            let opts = campaign::export::ExportOptions {
                schools: school,
                encoding: encoding.parse().map_err(anyhow::Error::msg)?,
                batch,
                ..Default::default()
            };
            let s = campaign::export::export(&mut store, &out, &opts)?;
            match s.batch {
                Some(b) => println!(
                    "export batch {b}: {} persons of {} schools, {} photos → {}",
                    s.persons,
                    s.schools,
                    s.photos,
                    out.display()
                ),
                None => println!("nothing new to export"),
            }
            true
        }
        Command::Review { db, id_number, decision } => {
            let mut store = open_store(&db, None)?;
            let d = match decision.as_str() {
                "accept" => formscan_campaign::store::Decision::Accept,
                "reject" => formscan_campaign::store::Decision::Reject,
                other => match other.strip_prefix("choose:").and_then(|p| p.parse().ok()) {
                    Some(p) => formscan_campaign::store::Decision::Choose(p),
                    None => bail!("--decision: accept, reject or choose:PAGE"),
                },
            };
            let persons = store.persons()?;
            let Some(p) = persons.iter().find(|p| p.person.person.id_number == id_number) else {
                bail!("no person with that ID number in the store");
            };
            store.decide(p.person.key, d)?;
            true
        }
    };
    Ok(if ok { 0 } else { 1 })
}

fn main() {
    match run() {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("formscan: {e:#}");
            std::process::exit(2);
        }
    }
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
