//! `key`: key in (录入) a value the reader could not read, from the terminal, on the same store
//! functions as the keying station ([`formscan_campaign::keying`]).

use crate::open_store;
use anyhow::{bail, Result};
use formscan_campaign as campaign;
use formscan_campaign::keying::{self, FieldValue, KeySource};
use std::path::Path;

/// What `formscan key` was asked to do.
pub(crate) struct KeyArgs<'a> {
    pub db: &'a Path,
    pub list: bool,
    pub id_number: Option<&'a str>,
    pub field: Option<&'a str>,
    pub value: Option<&'a str>,
    pub operator: Option<&'a str>,
    pub source: KeySource,
}

/// Lists the fields waiting for a value, or keys one. Returns false when the list is not empty
/// (exit status 1: work is left), true otherwise.
pub(crate) fn cmd_key(a: KeyArgs<'_>) -> Result<bool> {
    let mut store = open_store(a.db, None)?;
    let opts = campaign::AssessOptions::default();
    let assessed = campaign::assess(&mut *store, &opts)?;
    if a.list {
        // Names and ID numbers on the operator's terminal, as `status --details` shows them.
        let mut n = 0;
        for x in &assessed {
            let Some(i) = x.page else { continue };
            for p in &x.keying {
                n += 1;
                let state = match p.state {
                    FieldValue::AwaitingSecond => "second keyer",
                    FieldValue::Mismatch => "mismatch: supervisor",
                    _ => "to key",
                };
                let person = &x.view.person.person;
                let page = &x.view.pages[i];
                println!(
                    "{}  {}  {}  {}  {}  scan {}",
                    person.id_number, person.name, p.field, p.code, state, page.path
                );
            }
        }
        println!("{n} fields waiting for a value");
        return Ok(n == 0);
    }
    let (Some(id), Some(field), Some(value)) = (a.id_number, a.field, a.value) else {
        bail!("key: give --list, or --id-number, --field and --value");
    };
    let Some(operator) = a.operator.filter(|o| !o.trim().is_empty()) else {
        bail!("key: --operator NAME is recorded with every value");
    };
    let Some(x) = assessed.iter().find(|x| x.view.person.person.id_number == id) else {
        bail!("no person with that ID number in the store");
    };
    let Some(i) = x.page else {
        bail!("that person's form has no scan that counts (not returned, or several scans: choose one first)");
    };
    let page_id = x.view.pages[i].id;
    let stored = keying::key_value(&mut *store, page_id, field, value, a.source, operator, None)?;
    // Where the field stands now (a second keyer may still be needed).
    let after = campaign::assess(&mut *store, &opts)?;
    let now = after.iter().find(|y| y.view.person.key == x.view.person.key).expect("the person is still there");
    let state = match now.keying.iter().find(|p| p.field == field).map(|p| &p.state) {
        None => "final",
        Some(FieldValue::AwaitingSecond) => "waits for a second keyer",
        Some(FieldValue::Mismatch) => "differs from the other keyer: a supervisor decides",
        Some(_) => "waiting",
    };
    println!("{field} = {stored}: {state}; the form is {:?}", now.status);
    Ok(true)
}
