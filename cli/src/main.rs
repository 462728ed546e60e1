//! `formscan`: print personalised application forms and read their scans.
//!
//! Exit codes: 0 = done, every page read or blank; 1 = done, but some pages were rejected
//! or some roster rows were not printed (see the outputs); 2 = could not run (bad arguments,
//! missing input, unwritable output).

use anyhow::{bail, Context, Result};
use clap::Parser;
use formscan::Template;
use formscan_campaign as campaign;
use formscan_campaign::store::{Store, StoreLocation};
use formscan_print::roster;
use formscan_synth as synth;
use std::path::{Path, PathBuf};

// The arguments in `args`, one module per command in `commands`; what several commands share
// is below, then the dispatch.
mod args;
mod commands;

use args::{Cli, Command, RosterCommand, OUT_DB};
use commands::{
    bench::cmd_bench, demo::cmd_demo, eval::cmd_eval, print::cmd_print, process::cmd_process, process::print_summary,
    roster::cmd_clean, status::cmd_status, synth::cmd_synth,
};

pub(crate) fn load_template(p: &Option<PathBuf>) -> Result<Template> {
    Ok(match p {
        Some(p) => Template::from_file(p)?,
        None => Template::sbk_student(),
    })
}

pub(crate) fn set_jobs(jobs: Option<usize>) {
    if let Some(j) = jobs {
        let _ = rayon::ThreadPoolBuilder::new().num_threads(j.max(1)).build_global();
    }
}

pub(crate) fn load_roster(path: &Path) -> Result<roster::Roster> {
    let r = roster::read_roster(path)?;
    for p in &r.problems {
        eprintln!("roster line {}: {}", p.line, p.reason);
    }
    Ok(r)
}

/// Opens the campaign store `--db` names: an SQLite file, or a `postgres://` URL.
pub(crate) fn open_store(db: &Path, reference_date: Option<&str>) -> Result<Box<dyn Store>> {
    let d = reference_date
        .map(|s| s.parse::<formscan::domain::Date>().map_err(|e| anyhow::anyhow!("--reference-date: {e}")))
        .transpose()?;
    let at = StoreLocation::from(db);
    at.open(d).with_context(|| format!("opening campaign store {at}"))
}

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
        Command::Synth { roster, out, seed, dpi, degrade, template, run, calibration_digits, hand, scenario } => {
            if !(50.0..=1200.0).contains(&dpi) {
                bail!("--dpi must be between 50 and 1200");
            }
            let hand = hand.parse().map_err(anyhow::Error::msg)?;
            cmd_synth(
                &roster,
                &out,
                seed,
                dpi,
                &degrade,
                &template,
                run.as_deref(),
                calibration_digits,
                hand,
                &scenario,
            )?;
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
        Command::Bench { dir, jobs, no_names, coefficients, out, rounds } => {
            set_jobs(jobs);
            cmd_bench(&dir, no_names, coefficients, out.as_deref(), rounds.into())?;
            true
        }
        Command::Eval { out, pool } => cmd_eval(&out, &pool)?.errors.is_empty(),
        Command::EvalNames { hand, count, seed, degrade, accept_above, squeeze } => {
            commands::eval::cmd_eval_names(&hand, count, seed, &degrade, accept_above, squeeze)?
        }
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
            let s = campaign::export::export(&mut *store, &out, &opts)?;
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
            if s.held_back > 0 {
                println!(
                    "{} accepted persons held back: a value their card data needs is not keyed (formscan key --list)",
                    s.held_back
                );
            }
            true
        }
        Command::Serve { db, listen, trust_lan, tls_cert, tls_key } => {
            let tls = tls_cert.zip(tls_key).map(|(cert, key)| formscan_station::tls::TlsFiles { cert, key });
            let opts = formscan_station::StationOptions { db: StoreLocation::from(db), listen, trust_lan, tls };
            formscan_station::serve_blocking(opts)?;
            true
        }
        Command::Db { command } => commands::db::cmd_db(command)?,
        Command::User { db, command } => commands::user::cmd_user(db.as_deref(), command)?,
        Command::Key { db, list, id_number, field, value, operator, confirm, supervisor } => {
            let source = if supervisor {
                campaign::keying::KeySource::Supervisor
            } else if confirm {
                campaign::keying::KeySource::Confirmed
            } else {
                campaign::keying::KeySource::Keyed
            };
            commands::key::cmd_key(commands::key::KeyArgs {
                db: &db,
                list,
                id_number: id_number.as_deref(),
                field: field.as_deref(),
                value: value.as_deref(),
                operator: operator.as_deref(),
                source,
            })?
        }
        Command::Review { db, id_number, decision, reason, operator } => {
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
            let operator = operator
                .or_else(|| std::env::var("USER").ok())
                .filter(|o| !o.trim().is_empty())
                .unwrap_or_else(|| "terminal".to_string());
            let mut entry = formscan_campaign::store::DecisionEntry::new(p.person.key, d, &operator);
            entry.reason = reason;
            store.decide(&entry)?;
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
