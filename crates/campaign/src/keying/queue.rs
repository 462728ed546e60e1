//! The keying queue: which fields wait for which operator, and leases so that two operators
//! never hold the same field.
//!
//! [`candidates`] lists every field waiting for a value, from one assessment of the store
//! (the expensive part: every person, page and finding). [`lease_next`] hands the next items
//! of such a list to an operator under a lease, checking each leased field again against the
//! store's keyed values (cheap: one page's entries), so a list that is a little stale never
//! hands out a field that is already settled or that the operator may not key. A server keeps
//! the list between requests and refreshes it now and then; [`next_items`] does both steps at
//! once for a caller without one.

use super::{field_class, keyed_value, reader_reading, stored_name, FieldClass, FieldValue, KeySource, KeyingPolicy};
use crate::store::Store;
use crate::Assessed;
use formscan::error::{Error, Result};
use formscan::finding::FindingCode;
use std::collections::HashMap;

/// One field to key, handed to one operator under a lease ([`next_items`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    /// The lease's name: `<page id>:<field>`.
    pub item: String,
    /// The stored page.
    pub page_id: i64,
    /// The person.
    pub person_key: i64,
    /// The field.
    pub field: String,
    /// Its class: items come grouped by class (all phones, then ID numbers, then names, then
    /// choices), so that a keyer looks at one kind of thing at a time (group verification).
    pub class: FieldClass,
    /// `None` (first keyer), `AwaitingSecond` (blind second keyer), `Mismatch` or
    /// `Unreadable` (supervisor).
    pub state: FieldValue,
    /// The finding that asks for it.
    pub code: FindingCode,
    /// What the reader read, for a first keyer to confirm or correct (`None` for a second
    /// keyer, who keys blind, and where the reader read nothing).
    pub read: Option<String>,
    /// The reader's candidates, best first, for a first keyer to take one (empty for a second
    /// keyer).
    pub candidates: Vec<String>,
}

/// A field waiting for a value, as [`candidates`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The work item it becomes when leased (its `state` as last seen).
    pub work: WorkItem,
    /// The reader's reading (shown to a first keyer).
    pub reading: Option<String>,
    /// The reader's candidates (shown to a first keyer).
    pub candidates: Vec<String>,
    /// Operators who keyed the field so far (a second keyer must be someone else).
    pub keyed_by: Vec<String>,
}

impl Candidate {
    /// Whether `operator` may take it in the state last seen.
    fn open_to(&self, operator: &str, supervisor: bool) -> bool {
        match self.work.state {
            FieldValue::Read(_) | FieldValue::Keyed(_) => false,
            FieldValue::Mismatch | FieldValue::Unreadable => supervisor,
            FieldValue::AwaitingSecond => !self.keyed_by.iter().any(|o| o == operator),
            FieldValue::None => true,
        }
    }
}

/// How long a lease lasts. Default 10 minutes: an item takes seconds, so a lease that runs
/// out means a closed browser or a keyer who left, and the item goes back to the queue.
pub const LEASE_SECONDS: i64 = 600;

/// Every field waiting for a value, grouped by class and in page order: the page that counts
/// of each person in review who is neither exported nor rejected.
pub fn candidates(assessed: &[Assessed]) -> Vec<Candidate> {
    let mut out = Vec::new();
    for a in assessed {
        let Some(i) = a.page else { continue };
        if a.view.exported.is_some() || a.view.decision == Some(crate::store::Decision::Reject) {
            continue;
        }
        let page = &a.view.pages[i];
        for p in &a.keying {
            let mut keyed_by: Vec<String> =
                page.keyed.iter().filter(|k| k.field == p.field).map(|k| k.operator.clone()).collect();
            keyed_by.dedup();
            out.push(Candidate {
                work: WorkItem {
                    item: format!("{}:{}", page.id, p.field),
                    page_id: page.id,
                    person_key: a.view.person.key,
                    field: p.field.clone(),
                    class: p.class,
                    state: p.state.clone(),
                    code: p.code,
                    read: None,
                    candidates: Vec::new(),
                },
                reading: reader_reading(page, &p.field),
                candidates: page.fields.get(&stored_name(&p.field)).map(|f| f.candidates.clone()).unwrap_or_default(),
                keyed_by,
            });
        }
    }
    out.sort_by(|a, b| {
        (a.work.class, a.work.page_id, &a.work.field).cmp(&(b.work.class, b.work.page_id, &b.work.field))
    });
    out
}

/// Where a field stands from its keyed values alone, and who keyed it. Only keyed values settle
/// a field in the queue: the reader's value, accepted or not, is what a first keyer confirms or
/// corrects (see [`super::open_findings`]).
fn field_state(
    store: &mut dyn Store,
    policy: &KeyingPolicy,
    page_id: i64,
    field: &str,
) -> Result<(FieldValue, Vec<String>)> {
    let keyed = store.keyed_on_page(page_id)?;
    let by = keyed.iter().filter(|k| k.field == field).map(|k| k.operator.clone()).collect();
    Ok((keyed_value(&keyed, field, policy).unwrap_or(FieldValue::None), by))
}

/// Reads a candidate's state again from the store's keyed values. Returns false when the field
/// is settled (the caller drops it from its list).
pub fn refresh_candidate(store: &mut dyn Store, policy: &KeyingPolicy, c: &mut Candidate) -> Result<bool> {
    (c.work.state, c.keyed_by) = field_state(store, policy, c.work.page_id, &c.work.field)?;
    Ok(!c.work.state.is_final())
}

/// Leases up to `max` items of `list` to `operator` and returns them: the first ones, in the
/// list's order, that no one else holds and that this operator may key. A second keyer never
/// gets a field they keyed themselves (double entry is blind); a mismatch or an unreadable
/// field goes only to a supervisor. Two operators asking at once never get the same item
/// ([`Store::lease`] decides). Each leased item is checked again against the store
/// ([`refresh_candidate`]); settled ones leave `list`.
pub fn lease_next(
    store: &mut dyn Store,
    policy: &KeyingPolicy,
    list: &mut Vec<Candidate>,
    operator: &str,
    supervisor: bool,
    max: usize,
    now: i64,
) -> Result<Vec<WorkItem>> {
    let held: HashMap<String, String> = store.leases(now)?.into_iter().collect();
    let mut out = Vec::new();
    let mut settled = Vec::new();
    for (at, c) in list.iter_mut().enumerate() {
        if out.len() >= max {
            break;
        }
        if !c.open_to(operator, supervisor) || held.get(&c.work.item).is_some_and(|o| o != operator) {
            continue;
        }
        if !store.lease(&c.work.item, operator, now, now + LEASE_SECONDS)? {
            continue;
        }
        // The list may be older than the lease: another keyer may have keyed the field and let
        // it go since. With the lease held, its state is read again.
        let open = refresh_candidate(store, policy, c)?;
        if open && c.open_to(operator, supervisor) {
            let mut w = c.work.clone();
            // A first keyer sees what the reader read; a second keyer keys blind.
            if w.state == FieldValue::None {
                w.read = c.reading.clone();
                w.candidates = c.candidates.clone();
            }
            out.push(w);
        } else {
            store.release(&c.work.item, operator)?;
            if !open {
                settled.push(at);
            }
        }
    }
    for at in settled.into_iter().rev() {
        list.remove(at);
    }
    Ok(out)
}

/// [`candidates`] of a fresh assessment, then [`lease_next`]: for callers that keep no list.
pub fn next_items(
    store: &mut dyn Store,
    opts: &crate::AssessOptions,
    operator: &str,
    supervisor: bool,
    max: usize,
    now: i64,
) -> Result<Vec<WorkItem>> {
    let mut list = candidates(&crate::assess(store, opts)?);
    lease_next(store, &opts.keying, &mut list, operator, supervisor, max, now)
}

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// What an operator does with an item ([`key_item`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAction {
    /// Takes the typed value.
    Key,
    /// Confirms the reader's reading (a first keyer only: it skips double entry).
    Confirm,
    /// Cannot read it: the field goes to a supervisor.
    Unreadable,
}

/// Keys one field under the operator's lease (taken, or renewed, here) and ends the lease;
/// returns the stored value and where the field stands after it.
///
/// The field's state is read again first, and the request refused when this operator may not
/// key it now: a settled field (but for a supervisor's correction), a mismatch or an
/// unreadable field for a keyer who is not a supervisor, a second entry by the first keyer, a
/// confirmation past the first entry, or a lease another operator holds. A supervisor's typed
/// value on a mismatch or an unreadable field is their ruling ([`KeySource::Supervisor`]).
#[allow(clippy::too_many_arguments)]
pub fn key_item(
    store: &mut dyn Store,
    policy: &KeyingPolicy,
    page_id: i64,
    field: &str,
    value: &str,
    action: KeyAction,
    operator: &str,
    supervisor: bool,
    keystrokes: Option<u32>,
) -> Result<(String, FieldValue)> {
    if field_class(field).is_none() {
        return Err(Error::input(format!("`{field}` is not a field that is keyed")));
    }
    let item = format!("{page_id}:{field}");
    let now = now();
    if !store.lease(&item, operator, now, now + LEASE_SECONDS)? {
        return Err(Error::input(format!("another operator holds {item}")));
    }
    // The lease is ended whatever the outcome: a refused or failed item goes back to the queue.
    let result = (|| -> Result<(String, FieldValue)> {
        let (state, by) = field_state(store, policy, page_id, field)?;
        let mine = by.iter().any(|o| o == operator);
        let refused = match state {
            FieldValue::Read(_) | FieldValue::Keyed(_) => !supervisor || action != KeyAction::Key,
            FieldValue::Mismatch | FieldValue::Unreadable => !supervisor || action == KeyAction::Confirm,
            FieldValue::AwaitingSecond => mine || action == KeyAction::Confirm,
            FieldValue::None => false,
        };
        if refused {
            return Err(Error::input(format!(
                "{field}: not open to this operator now (it moved on, or needs another keyer)"
            )));
        }
        let source = match action {
            KeyAction::Confirm => KeySource::Confirmed,
            KeyAction::Unreadable => KeySource::Unreadable,
            KeyAction::Key if supervisor && !matches!(state, FieldValue::None | FieldValue::AwaitingSecond) => {
                KeySource::Supervisor
            }
            KeyAction::Key => KeySource::Keyed,
        };
        let v = super::key_value(store, page_id, field, value, source, operator, keystrokes)?;
        Ok((v, field_state(store, policy, page_id, field)?.0))
    })();
    store.release(&item, operator)?;
    result
}
