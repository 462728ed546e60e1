//! The cleaning readers: `formscan_print::clean::clean` on four lists built from one input,
//! and, when that fails, `clean::clean_files` on the same lists as files (which must fail too, naming a file).
//!
//! The input is split on the line `%%%%`: insured list, school roll, then card-holder and
//! already-submitted lists in turn (`insured %%%% roll %%%% holders %%%% submitted %%%% holders
//! …`); missing lists are empty.
//!
//! Checked: no panic; a failure is `Input` or `Limits`; the row counts and the report agree
//! with the result (`counts`), the report writes as CSV, and every pending person has a valid,
//! normalised ID number, once.
#![no_main]

mod common;

use std::collections::HashSet;
use std::path::PathBuf;

use formscan_print::clean::{self, CleanInputs};
use libfuzzer_sys::fuzz_target;

const SEPARATOR: &[u8] = b"\n%%%%\n";

fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    while let Some(at) = rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
        parts.push(&rest[..at]);
        rest = &rest[at + SEPARATOR.len()..];
    }
    parts.push(rest);
    parts
}

fuzz_target!(|data: &[u8]| {
    let parts = split(data);
    let part = |i: usize| parts.get(i).copied().unwrap_or_default();
    let holders: Vec<&[u8]> = parts.iter().skip(2).step_by(2).copied().collect();
    let submitted: Vec<&[u8]> = parts.iter().skip(3).step_by(2).copied().collect();
    let inputs = CleanInputs { insured: part(0), roll: part(1), holders: &holders, submitted: &submitted };
    match clean::clean(&inputs) {
        Ok(result) => {
            let counts = result.counts();
            assert_eq!(counts.pending, result.pending.len());
            assert_eq!(counts.dropped + counts.flagged + counts.ignored, result.report.len());
            let mut seen = HashSet::new();
            for p in &result.pending {
                let info = formscan::domain::parse_id(&p.id_number).expect("pending ID numbers are valid");
                assert_eq!(info.number, p.id_number);
                assert!(seen.insert(p.id_number.clone()), "a person is pending twice");
            }
            let mut csv = Vec::new();
            clean::write_report_csv(&result.report, &mut csv).expect("writing to memory");
        }
        Err(e) => {
            common::input_or_limits(&e);
            // The file reader must fail too, and say which file.
            let dir = common::scratch("clean");
            let write = |name: String, bytes: &[u8]| {
                let p = dir.join(name);
                std::fs::write(&p, bytes).expect("scratch file");
                p
            };
            let insured = write("insured.csv".into(), part(0));
            let roll = write("roll.csv".into(), part(1));
            let h: Vec<PathBuf> = holders.iter().enumerate().map(|(i, b)| write(format!("h{i}.csv"), b)).collect();
            let s: Vec<PathBuf> = submitted.iter().enumerate().map(|(i, b)| write(format!("s{i}.csv"), b)).collect();
            let e2 = clean::clean_files(&insured, &roll, &h, &s).expect_err("clean_files fails where clean fails");
            common::input_or_limits(&e2);
            let at = match &e2 {
                formscan::Error::Input { path, .. } | formscan::Error::Limits { path, .. } => path.clone(),
                _ => None,
            };
            let at = at.expect("clean_files names the failing file");
            assert!(at == insured || at == roll || h.contains(&at) || s.contains(&at), "{at:?}");
        }
    }
});
