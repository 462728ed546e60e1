//! The campaign side of formscan: a campaign over time, kept in a store behind the
//! [`store::Store`] trait: embedded SQLite for one machine ([`store::SqliteStore`]), or a
//! PostgreSQL server that several scan stations and keying stations share
//! ([`store::PostgresStore`]; docs/deployment.md). [`store::StoreLocation`] opens either from
//! what `--db` says.
//!
//! A campaign over time: intake of scan batches into the store ([`intake`]), each person's
//! form status ([`assess`]), progress per school and class ([`status`]) and the card-data
//! export for the bureau ([`export`]).
//!
//! Status rules, per person (a person printed in two runs is still one person):
//!
//! * **not returned**: no page of any of their forms was scanned;
//! * **rejected**: a reviewer rejected the form ([`Decision::Reject`]);
//! * **in review**: the form has findings: its own (audit rules, unclear fields), the
//!   class-wide `class_shared_phone`, or `duplicate_serial` when it was scanned more than once
//!   with different images and no page was chosen ([`Decision::Choose`]);
//! * **accepted**: one page (or the chosen one) with no findings, or a reviewer accepted it
//!   ([`Decision::Accept`]; with several scans, one must be chosen) and no value it needs is
//!   still to be keyed. Only accepted persons are exported.
//!
//! Findings about a value (unclear or invalid numbers, a corrected name, the agent's
//! hand-written name) are settled by keying it ([`keying`]): once the field has a final keyed
//! value the finding is gone. A reviewer's accept does not settle them, since the export needs
//! the value; a form whose written value cannot be read is rejected back to the school.
//!
//! Class-wide findings are computed here, over every batch so far, each time status or export
//! runs: a class that later turns out to share one phone number re-opens its forms.
//!
//! # Example
//!
//! A campaign store with one printed form, before any scan comes back:
//!
//! ```
//! use formscan::domain::{make_id, Date, Person};
//! use formscan_campaign::store::{PrintedForm, SqliteStore, Store};
//! use formscan_campaign::{assess, FormStatus};
//!
//! let dir = std::env::temp_dir().join(format!("formscan-campaign-doc-{}", std::process::id()));
//! let mut store = SqliteStore::open(&dir.join("campaign.db"), Some(Date::new(2026, 9, 1)))?;
//! let person = Person {
//!     name: "测试甲".into(),
//!     id_number: make_id("450305", Date::new(2015, 3, 7), 1),
//!     school: "示例小学".into(),
//!     class: "1班".into(),
//!     ..Default::default()
//! };
//! let form = PrintedForm { serial: "000001".into(), person, photo_printed: false };
//! store.record_print_run("RDOC", "sbk-student", &[form])?;
//! let people = assess(&mut store, &Default::default())?;
//! assert_eq!(people[0].status, FormStatus::NotReturned);
//! # drop(store);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), formscan::Error>(())
//! ```

#![deny(missing_docs)]

pub mod accounts;
pub mod export;
pub mod intake;
pub mod keying;
pub mod rules;
pub mod status;
pub mod store;

use crate::rules::class_shared_phone;
use crate::store::{Decision, PersonView, Store};
use formscan::error::Result;
use formscan::finding::{Finding, FindingCode};
use std::collections::BTreeMap;

/// Campaign-level settings.
#[derive(Debug, Clone)]
pub struct AssessOptions {
    /// Fewest forms with a phone that can trigger `class_shared_phone`. Default 3: two
    /// siblings in one class legitimately share a parent's number, and with only two forms
    /// back a shared number says nothing about the teacher.
    pub shared_phone_min_forms: usize,
    /// Which keyed values need a second keyer ([`keying::KeyingPolicy`]).
    pub keying: keying::KeyingPolicy,
}

impl Default for AssessOptions {
    fn default() -> Self {
        AssessOptions { shared_phone_min_forms: 3, keying: keying::KeyingPolicy::default() }
    }
}

/// A person's form status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FormStatus {
    /// No scan yet.
    NotReturned,
    /// Ready to export (or exported).
    Accepted,
    /// Has open findings.
    Review,
    /// Rejected by a reviewer.
    Rejected,
}

/// A person with their status and open findings.
#[derive(Debug, Clone)]
pub struct Assessed {
    /// Everything the store holds about them.
    pub view: PersonView,
    /// Their status.
    pub status: FormStatus,
    /// Index into `view.pages` of the page that counts (the only one, or the chosen one).
    pub page: Option<usize>,
    /// Open findings (empty when accepted).
    pub findings: Vec<Finding>,
    /// The fields of the page that counts whose findings wait for a keyed value (a
    /// reviewer's accept does not settle them: the export needs the value).
    pub keying: Vec<keying::PendingField>,
}

/// Decides every person's status from the store's facts (see the module docs).
pub fn assess(store: &mut dyn Store, opts: &AssessOptions) -> Result<Vec<Assessed>> {
    Ok(assess_views(store.persons()?, opts))
}

/// [`assess`] on views already loaded.
pub fn assess_views(persons: Vec<PersonView>, opts: &AssessOptions) -> Vec<Assessed> {
    let mut out: Vec<Assessed> = persons
        .into_iter()
        .map(|view| {
            let page = match view.chosen_page {
                Some(id) => view.pages.iter().position(|p| p.id == id),
                None if view.pages.len() == 1 => Some(0),
                None => None,
            };
            let mut findings = Vec::new();
            let mut keying = Vec::new();
            match page {
                Some(i) => {
                    // A final keyed value settles the findings about its field.
                    let (open, pending) = keying::open_findings(&view.pages[i], &view.pages[i].findings, &opts.keying);
                    findings.extend(open);
                    keying = pending;
                }
                None if view.pages.len() > 1 => findings.push(Finding::new(FindingCode::DuplicateSerial, "serial")),
                None => {}
            }
            Assessed { status: FormStatus::NotReturned, page, findings, keying, view }
        })
        .collect();
    // The class-wide shared-phone rule, over every returned form of each class.
    let mut classes: BTreeMap<(&str, &str, &str), Vec<usize>> = BTreeMap::new();
    for (i, a) in out.iter().enumerate() {
        if a.page.is_some() && a.view.decision != Some(Decision::Reject) {
            let p = &a.view.person.person;
            classes.entry((&p.school, &p.grade, &p.class)).or_default().push(i);
        }
    }
    let mut shared = Vec::new();
    for members in classes.values() {
        let phones: Vec<Option<&str>> =
            members.iter().map(|&i| out[i].page.and_then(|p| out[i].view.pages[p].phone.as_deref())).collect();
        if class_shared_phone(&phones, opts.shared_phone_min_forms) {
            shared.extend(members.iter().zip(&phones).filter(|(_, p)| p.is_some()).map(|(&i, _)| i));
        }
    }
    for i in shared {
        out[i].findings.push(Finding::new(FindingCode::ClassSharedPhone, "applicant_phone"));
    }
    for a in &mut out {
        a.status = match a.view.decision {
            Some(Decision::Reject) => FormStatus::Rejected,
            _ if a.view.pages.is_empty() => FormStatus::NotReturned,
            // Several different scans and none chosen: even a reviewer's accept needs a choice.
            _ if a.page.is_none() => FormStatus::Review,
            // A reviewer's accept settles findings a person checked, not a value the export
            // needs: a field that waits for keying keeps the form in review (its queue).
            Some(Decision::Accept) if a.keying.is_empty() => FormStatus::Accepted,
            _ if a.page.is_some() && a.findings.is_empty() => FormStatus::Accepted,
            _ => FormStatus::Review,
        };
        if matches!(a.status, FormStatus::Accepted | FormStatus::Rejected) {
            a.findings.clear();
        }
    }
    out
}
