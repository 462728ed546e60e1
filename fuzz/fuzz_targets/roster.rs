//! The roster reader: `formscan_print::roster::parse_roster(bytes)` (encoding, delimiter and header sniffing,
//! row checks).
//!
//! Checked: no panic; a failure is `Input` or `Limits`; every accepted person has a valid,
//! normalised ID number and the birth date and sex it encodes; and the accepted persons, written
//! back with `write_roster_csv`, read back unchanged and without problems (the writer's
//! documented promise, which `roster clean` → `print` relies on).
#![no_main]

mod common;

use formscan_print::roster::{parse_roster, write_roster_csv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let roster = match parse_roster(data) {
        Ok(r) => r,
        Err(e) => return common::input_or_limits(&e),
    };
    for (line, p) in &roster.persons {
        assert!(*line > 0);
        let info = formscan::domain::parse_id(&p.id_number).expect("accepted ID numbers are valid");
        assert_eq!(info.number, p.id_number, "accepted ID numbers are normalised");
        assert_eq!(p.birth_date, Some(info.birth_date));
        assert_eq!(p.sex, Some(info.sex));
    }
    if roster.persons.is_empty() {
        return;
    }
    let persons: Vec<_> = roster.persons.iter().map(|(_, p)| p.clone()).collect();
    let mut csv = Vec::new();
    write_roster_csv(&persons, &mut csv).expect("writing to memory");
    let again = parse_roster(&csv).expect("a written roster reads back");
    assert_eq!(again.problems, vec![], "a written roster reads back without problems");
    let read: Vec<_> = again.persons.into_iter().map(|(_, p)| p).collect();
    assert_eq!(read, persons, "a written roster reads back unchanged");
});
