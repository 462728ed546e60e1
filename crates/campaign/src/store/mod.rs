//! The campaign store: persons, print runs and form serials, scanned files and pages with their
//! outcomes, field results, audit findings, review decisions and exports, for one campaign.
//!
//! [`Store`] is the seam: intake ([`crate::intake`]), status and export only talk to
//! this trait, so a server database can take the place of the embedded [`SqliteStore`] when
//! several scanning stations feed one campaign. The trait stores and returns facts; the
//! decisions built on them (form status, class-wide findings) live in [`crate`], so
//! every implementation agrees on them.
//!
//! Two implementations: [`SqliteStore`], one file for one machine (the default), and
//! [`PostgresStore`], a server database that several scan stations and keying stations share
//! (docs/deployment.md). [`StoreLocation`] picks one from what `--db` says, and one generic
//! test suite (`store::tests`) runs against both.
//!
//! The unit of status and export is the *person*: a person printed in two runs (a reprint)
//! is still one person, counted and exported once.

pub mod copy;
mod open;
pub mod postgres;
mod sql;
mod sqlite;

pub use copy::{TableDef, Value};
pub use open::{PooledStore, StoreLocation, StorePool};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use formscan::domain::Date;
use formscan::domain::Person;
use formscan::error::Result;
use formscan::finding::Finding;
use formscan::record::Outcome;

pub use crate::accounts::Account;
pub use crate::keying::{KeySource, KeyedValue};
use std::collections::{BTreeMap, HashSet};

/// SHA-256 of a scan file's bytes: the same file under another name is the same file.
pub type FileHash = [u8; 32];

/// One printed form, for [`Store::record_print_run`].
#[derive(Debug, Clone)]
pub struct PrintedForm {
    /// Form serial, unique within the run.
    pub serial: String,
    /// The person it was printed for.
    pub person: Person,
    /// A photo was printed on it.
    pub photo_printed: bool,
}

/// A stored person with the store's key.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPerson {
    /// The store's key for the person.
    pub key: i64,
    /// The roster data printed on the form.
    pub person: Person,
}

/// What the store knows about a scanned page's (run, serial).
#[derive(Debug, Clone, PartialEq)]
pub enum FormMatch {
    /// A printed form of this campaign.
    Known {
        /// Its person.
        person: StoredPerson,
        /// A photo was printed on it.
        photo_printed: bool,
    },
    /// The run is ours but the serial was never printed in it.
    UnknownSerial,
    /// The run is not one of this campaign's print runs.
    UnknownRun,
}

/// How a stored page relates to the campaign's forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageMatch {
    /// Identified as a printed form of this campaign.
    Form,
    /// Identified, but the serial is unknown in its run (flagged, kept).
    UnknownSerial,
    /// Identified, but the run is not this campaign's (flagged, kept).
    UnknownRun,
    /// Not identified: blank or rejected.
    None,
}

impl PageMatch {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PageMatch::Form => "form",
            PageMatch::UnknownSerial => "unknown_serial",
            PageMatch::UnknownRun => "unknown_run",
            PageMatch::None => "none",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> PageMatch {
        match s {
            "form" => PageMatch::Form,
            "unknown_serial" => PageMatch::UnknownSerial,
            "unknown_run" => PageMatch::UnknownRun,
            _ => PageMatch::None,
        }
    }
}

/// A field or checkbox group result as stored: enough for audit, status, keying and export;
/// the full reading (cells, their alternatives, snippets) stays in `records.jsonl`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredField {
    /// `ink`, `empty`, `checked`, `unchecked`, `ambiguous`; for groups `none`, `one`,
    /// `multiple`, `ambiguous`.
    pub state: String,
    /// The value read (comb fields) or chosen (groups with one box ticked).
    pub value: Option<String>,
    /// Comb fields: `accepted`, `needs_review`, `empty` or `invalid`.
    pub status: Option<String>,
    /// Comb fields under review: the most probable readings that pass the field's check, best
    /// first ([`formscan::record::FieldReading::candidates`]), for a keyer to take one.
    pub candidates: Vec<String>,
}

impl StoredField {
    /// The value, when it was accepted without review: the stored form of
    /// [`formscan::record::ValueStatus::Accepted`] (its serialised name).
    pub fn accepted_value(&self) -> Option<&str> {
        (self.status.as_deref() == Some("accepted")).then_some(self.value.as_deref()).flatten()
    }
}

/// One page's outcome, as intake commits it.
#[derive(Debug, Clone)]
pub struct PageEntry {
    /// The file's content hash.
    pub file: FileHash,
    /// 0-based page index within the file.
    pub page_index: usize,
    /// The file's path as given to `process`.
    pub path: String,
    /// The output folder of the `process` run that read it (snippets, photos).
    pub out_dir: String,
    /// Read, blank or rejected.
    pub outcome: Outcome,
    /// Rejection reason's wire name, when rejected.
    pub reject_reason: Option<String>,
    /// Print run and serial read from the page code.
    pub form: Option<(String, String)>,
    /// How the page relates to the campaign.
    pub matched: PageMatch,
    /// The person, when matched.
    pub person_key: Option<i64>,
    /// Field results by name (groups under `group:NAME`).
    pub fields: BTreeMap<String, StoredField>,
    /// Page and form findings (not the class-wide ones, computed later).
    pub findings: Vec<Finding>,
    /// The accepted contact phone (11 digits), for the class-wide shared-phone rule.
    pub phone: Option<String>,
}

/// One unit of intake work; [`Store::commit`] writes a slice of them in one transaction.
#[derive(Debug, Clone)]
pub enum IntakeItem {
    /// A page's outcome. Writing the same (file, page) twice keeps the first.
    Page(Box<PageEntry>),
    /// A file path seen with its hash (a second path for one hash is a duplicate file).
    FileSeen {
        /// Content hash.
        file: FileHash,
        /// The path.
        path: String,
    },
    /// Every page of the file has been committed: a rerun skips it.
    FileDone {
        /// Content hash.
        file: FileHash,
        /// Pages in the file.
        pages: usize,
        /// The output folder of the run that finished it ([`PageEntry::out_dir`]): the one
        /// whose `records.jsonl` describes the file ([`Store::completed_paths`]).
        out_dir: String,
    },
}

/// A stored page with everything status and export need.
#[derive(Debug, Clone, PartialEq)]
pub struct PageView {
    /// The store's page key.
    pub id: i64,
    /// Print run.
    pub run: String,
    /// Form serial.
    pub serial: String,
    /// The scan file.
    pub path: String,
    /// 0-based page index within the file.
    pub page_index: usize,
    /// The `process` output folder it was read into.
    pub out_dir: String,
    /// Field results.
    pub fields: BTreeMap<String, StoredField>,
    /// Page and form findings.
    pub findings: Vec<Finding>,
    /// Accepted contact phone.
    pub phone: Option<String>,
    /// Values keyed for its fields, oldest first ([`crate::keying`]).
    pub keyed: Vec<KeyedValue>,
}

/// A reviewer's decision on a person's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Accept despite the findings (they were checked by a person).
    Accept,
    /// Reject: the form cannot be used; the person must be collected again.
    Reject,
    /// Of several scans of the person's form, use this page (by its key).
    Choose(i64),
}

/// A decision as the store keeps it: every decision is appended to the person's history with
/// who made it, when and why ([`Store::decisions`]); the latest verdict and choice count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionEntry {
    /// The person.
    pub person_key: i64,
    /// The decision.
    pub decision: Decision,
    /// Why (a rejection's reason for the school), if given.
    pub reason: Option<String>,
    /// Who decided (an operator's name, or the terminal user).
    pub operator: String,
    /// When, seconds since the Unix epoch (UTC).
    pub at: i64,
}

impl DecisionEntry {
    /// A decision by `operator`, now, without a reason.
    pub fn new(person_key: i64, decision: Decision, operator: &str) -> DecisionEntry {
        DecisionEntry { person_key, decision, reason: None, operator: operator.to_string(), at: crate::keying::now() }
    }
}

/// A person with their forms, scanned pages, decision and export state.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonView {
    /// The person.
    pub person: StoredPerson,
    /// (run, serial, photo printed) of each form printed for them.
    pub forms: Vec<(String, String, bool)>,
    /// Their scanned pages, oldest first.
    pub pages: Vec<PageView>,
    /// The reviewer's verdict, [`Decision::Accept`] or [`Decision::Reject`], if any.
    pub decision: Option<Decision>,
    /// The page a reviewer chose among several scans ([`Decision::Choose`]).
    pub chosen_page: Option<i64>,
    /// The export batch that exported them, if any.
    pub exported: Option<i64>,
}

/// A page that matched no printed form: flagged, never dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct FlaggedPage {
    /// The scan file.
    pub path: String,
    /// Page index in the file.
    pub page_index: usize,
    /// Why it is flagged: `unknown_serial`, `unknown_run`, or a rejection reason.
    pub reason: String,
    /// (run, serial) when the page code was read.
    pub form: Option<(String, String)>,
}

/// Counts of what the store holds, for logs and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreCounts {
    /// Persons.
    pub persons: usize,
    /// Printed forms.
    pub forms: usize,
    /// Distinct scan files (by content).
    pub files: usize,
    /// Paths under which a file was seen more than once (duplicate files).
    pub duplicate_paths: usize,
    /// Stored pages.
    pub pages: usize,
}

/// What the store says of a scan file that intake is about to read ([`Store::claim_file`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileClaim {
    /// This intake reads it; [`Store::release_file`] ends the claim.
    Claimed,
    /// Every page of it is committed already (by this station or another).
    Done,
    /// Another station is reading it now.
    Elsewhere,
}

/// What intake, status and export need from a campaign store.
///
/// Methods take `&mut self` so that an implementation may hold a connection that is not
/// `Sync`; intake gives the store to a single writer thread.
pub trait Store: Send {
    /// The campaign's reference date for ages (audit rule 5: under 16).
    fn reference_date(&mut self) -> Result<Date>;
    /// Sets the reference date.
    fn set_reference_date(&mut self, date: Date) -> Result<()>;
    /// Records a print run: its persons and form serials. Recording the same run again is a
    /// no-op for the forms already there.
    fn record_print_run(&mut self, run: &str, template: &str, forms: &[PrintedForm]) -> Result<()>;
    /// Looks up a scanned page's (run, serial).
    fn lookup_form(&mut self, run: &str, serial: &str) -> Result<FormMatch>;
    /// Hashes of the files whose every page is committed.
    fn completed_files(&mut self) -> Result<HashSet<FileHash>>;
    /// The paths of the files in [`Store::completed_files`] that a run into the output folder
    /// `out_dir` finished ([`IntakeItem::FileDone`]): the records that folder keeps on a rerun.
    /// A file another station finished is that station's folder's, even when a killed run
    /// here had committed some of its pages first.
    fn completed_paths(&mut self, out_dir: &str) -> Result<HashSet<String>>;
    /// Claims the store for one writing task (`"process"`, `"export"`) of this process, until
    /// the store is dropped. A second claim while another process holds one fails at once with
    /// an [`formscan::Error::Io`] of kind `ResourceBusy` that says who holds it: two intakes on
    /// one embedded store would read every page twice. A server store instead lets several
    /// intakes run, each claiming files one by one ([`Store::claim_file`]), and makes a second
    /// export wait for the first.
    fn claim_writer(&mut self, task: &str) -> Result<()>;
    /// Claims a file for this intake before it is read, by content hash: of several stations
    /// offered the same file at once, one reads it and the others hear
    /// [`FileClaim::Elsewhere`] (or [`FileClaim::Done`] once it is committed). A claim ends
    /// with [`Store::release_file`] or with the store (a killed station's claims end with its
    /// connection), so a file is never left claimed by no one.
    fn claim_file(&mut self, file: &FileHash) -> Result<FileClaim>;
    /// Ends a claim of [`Store::claim_file`] (after the file's [`IntakeItem::FileDone`] is
    /// committed, or when it could not be finished).
    fn release_file(&mut self, file: &FileHash) -> Result<()>;
    /// Writes `items` in one transaction: all or nothing.
    fn commit(&mut self, items: &[IntakeItem]) -> Result<()>;
    /// Every person with forms, pages, decision and export state, ordered by school, grade,
    /// class and ID number.
    fn persons(&mut self) -> Result<Vec<PersonView>>;
    /// Pages that matched no printed form, and files seen under more than one path.
    fn flagged_pages(&mut self) -> Result<Vec<FlaggedPage>>;
    /// Records a review decision for a person: a verdict replaces an earlier verdict, a
    /// choice an earlier choice; the entry is also appended to the person's history, in the
    /// same transaction.
    fn decide(&mut self, entry: &DecisionEntry) -> Result<()>;
    /// A person's decisions, oldest first.
    fn decisions(&mut self, person_key: i64) -> Result<Vec<DecisionEntry>>;
    /// Appends keyed values ([`crate::keying`]) in one transaction; earlier values stay. Fails
    /// for a page that is not stored.
    fn record_keyed(&mut self, values: &[KeyedValue]) -> Result<()>;
    /// What the reader stored for one field of a page, if the page and field exist.
    fn page_field(&mut self, page_id: i64, field: &str) -> Result<Option<StoredField>>;
    /// The values keyed for a page's fields, oldest first.
    fn keyed_on_page(&mut self, page_id: i64) -> Result<Vec<KeyedValue>>;
    /// One stored page of a printed form, with its fields, findings and keyed values (the
    /// page's part of [`Store::persons`]), and its person's key.
    fn page(&mut self, page_id: i64) -> Result<Option<(i64, PageView)>>;
    /// Adds an operator's account; fails when the name is taken.
    fn add_account(&mut self, account: &Account) -> Result<()>;
    /// Every account, by name.
    fn accounts(&mut self) -> Result<Vec<Account>>;
    /// Disables (or enables again) an account; fails for an unknown name.
    fn set_account_disabled(&mut self, name: &str, disabled: bool) -> Result<()>;
    /// Leases work item `item` to `operator` until `until` (seconds since the epoch) when it is
    /// free, its lease expired by `now`, or it is the operator's already; returns whether the
    /// operator holds it now. Atomic: of several operators asking at once, one gets it.
    fn lease(&mut self, item: &str, operator: &str, now: i64, until: i64) -> Result<bool>;
    /// Ends `operator`'s lease on `item` (no-op when they do not hold it).
    fn release(&mut self, item: &str, operator: &str) -> Result<()>;
    /// The leases in force at `now`: (item, operator).
    fn leases(&mut self, now: i64) -> Result<Vec<(String, String)>>;
    /// Records an export batch of (person, page) pairs under `selection`; returns its id.
    /// Fails when one of the persons was already exported.
    fn record_export(&mut self, selection: &str, items: &[(i64, i64)]) -> Result<i64>;
    /// The (person, page) pairs of an earlier export batch and its selection.
    fn export_batch(&mut self, id: i64) -> Result<(String, Vec<(i64, i64)>)>;
    /// Counts, for logs and tests.
    fn counts(&mut self) -> Result<StoreCounts>;
    /// The backend's name (`sqlite`, `postgres`) and where it is, without a password.
    fn describe(&self) -> String;
    /// The schema version ([`copy::SCHEMA_VERSION`] once opened: opening migrates).
    fn schema_version(&mut self) -> Result<i64>;
    /// Checks the store's integrity: the database's own check where it has one, and the
    /// campaign's invariants (a file marked done has all its pages, an exported person's page
    /// is theirs, export batches are numbered 1..n). Returns the problems found; none is sound.
    fn check(&mut self) -> Result<Vec<String>>;
    /// Calls `row` with every row of `table`, in no particular order ([`copy`]).
    fn scan_table(&mut self, table: &TableDef, row: &mut dyn FnMut(Vec<Value>) -> Result<()>) -> Result<()>;
    /// Starts loading a copy ([`copy::copy`]): fails unless the store holds no campaign data,
    /// and opens the transaction that [`Store::restore_rows`] writes in.
    fn restore_begin(&mut self) -> Result<()>;
    /// Writes rows of `table`, columns as [`TableDef::columns`], keys kept as they are.
    fn restore_rows(&mut self, table: &TableDef, rows: &[Vec<Value>]) -> Result<()>;
    /// Commits the copy (a server store also moves its key sequences past the copied keys).
    fn restore_end(&mut self) -> Result<()>;
    /// Rolls back a copy begun with [`Store::restore_begin`] that failed.
    fn restore_abort(&mut self) -> Result<()>;
}

#[cfg(test)]
mod tests;
