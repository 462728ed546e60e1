//! `formscan db migrate` and `formscan db check`.

use crate::args::DbCommand;
use anyhow::{bail, Context, Result};
use formscan_campaign::store::{copy, StoreLocation};

pub(crate) fn cmd_db(command: DbCommand) -> Result<bool> {
    match command {
        DbCommand::Migrate { from, to } => {
            let (from, to) = (StoreLocation::from(from), StoreLocation::from(to));
            if let StoreLocation::Sqlite(path) = &from {
                if !path.exists() {
                    bail!("{}: no such campaign store", path.display());
                }
            }
            if let StoreLocation::Sqlite(path) = &to {
                if path.exists() {
                    bail!("{}: exists already; migrate into a new file", path.display());
                }
            }
            let mut source = from.open(None).with_context(|| format!("opening {from}"))?;
            let mut target = to.open(None).with_context(|| format!("opening {to}"))?;
            let start = std::time::Instant::now();
            let sums = match copy::copy(&mut *source, &mut *target) {
                Ok(sums) => sums,
                Err(e) => {
                    // A copy that failed while loading rolled back; a new SQLite file made for
                    // it goes in any case, so that the same command can run again.
                    drop(target);
                    if let StoreLocation::Sqlite(path) = &to {
                        for suffix in ["", "-wal", "-shm"] {
                            let mut p = path.as_os_str().to_owned();
                            p.push(suffix);
                            let _ = std::fs::remove_file(p);
                        }
                    }
                    return Err(anyhow::Error::new(e).context(format!("copying {from} to {to}")));
                }
            };
            for (table, sum) in &sums {
                println!("{table:<14} {:>10} rows  checksum {:032x}", sum.rows, sum.checksum);
            }
            println!(
                "copied {from} to {to} in {:.1} s; every table's rows and checksum match",
                start.elapsed().as_secs_f64()
            );
            Ok(true)
        }
        DbCommand::Check { db } => {
            let at = StoreLocation::from(db);
            let mut store = at.open(None).with_context(|| format!("opening {at}"))?;
            println!("{}", store.describe());
            println!("schema version {} (this formscan: {})", store.schema_version()?, copy::SCHEMA_VERSION);
            let c = store.counts()?;
            println!(
                "{} persons, {} printed forms, {} scan files ({} duplicate paths), {} pages",
                c.persons, c.forms, c.files, c.duplicate_paths, c.pages
            );
            let problems = store.check()?;
            for p in &problems {
                println!("problem: {p}");
            }
            if problems.is_empty() {
                println!("integrity: ok");
            }
            Ok(problems.is_empty())
        }
    }
}
