//! formscan reads bulk scans of personalised paper application forms into verified,
//! structured records. This crate is the reading engine; the printing side (rosters, cleaning,
//! layout, PDF) is `formscan-print`, the campaign workflow (store, intake, rules, status,
//! export) is `formscan-campaign`, and the scan simulator is `formscan-synth`.
//!
//! # Brief overview
//!
//! The pipeline has one module per stage, and the type changes at each step:
//!
//! | stage | function | produces |
//! |---|---|---|
//! | decode | [`Engine::open`], [`Engine::decode`] | [`decode::PageSource`] → [`Scan`] |
//! | register | [`Engine::register`] | [`register::Registration`] (template mm → scan px) |
//! | identify | [`Engine::identify`], [`Engine::form_template`] | [`identify::Identified`] (form serial, page) |
//! | read fields | [`Engine::read_fields`] | [`fields::FieldReadings`] (OMR, ink, digits, names, snippets) |
//! | read photo | [`Engine::read_photo`] | [`photo::PhotoReading`] (status, requirement, card photo) |
//! | audit | [`Engine::audit`] | [`finding::Finding`]s |
//! | record | [`Engine::process_image`] | [`record::PageRecord`] (the output schema) |
//! | batch | [`batch::run`] | `records.jsonl`, `records.csv`, `snippets/`, `summary.json` |
//!
//! [`Worker::process`] is the sequence of these stage calls, with the retries each stage's
//! contract documents (see [`Engine`]); the record it returns is finished. Around them:
//! [`template`] describes a form, [`payload`] its page code, [`lookup`] whose form a page is
//! ([`Engine::with_people`]), [`finding`] the one table of review reasons, [`output`] writes owner-only files atomically, [`domain`] knows ID numbers,
//! phone numbers and dates.
//!
//! "Nothing there" and "ambiguous" are outcomes with a confidence, recorded on the page, not
//! errors; an [`Error`] means an input, template, model, limit or file stopped a stage.
//!
//! # Example
//!
//! Read one of the bundled sample scans:
//!
//! ```
//! use formscan::{record::Outcome, Engine};
//!
//! let engine = Engine::default();
//! let pages = engine.open("samples/form-1.jpg".as_ref())?;
//! let image = formscan::decode::decode_page(&pages[0], &engine.options().decode)?;
//! let record = engine.process_image(&image);
//! assert_eq!(record.outcome, Outcome::Read);
//! assert_eq!(record.form.unwrap().serial, "000001");
//! # Ok::<(), formscan::Error>(())
//! ```

#![deny(missing_docs)]

pub mod audit;
pub mod barcode;
pub mod batch;
pub mod decode;
pub mod domain;
mod engine;
pub mod error;
pub mod fields;
pub mod finding;
pub mod geometry;
pub mod identify;
pub mod lookup;
pub mod model;
pub mod output;
pub mod payload;
pub mod photo;
pub mod record;
pub mod register;
mod sample;
pub mod scan;
pub mod template;

pub use engine::{Engine, EngineOptions, PooledWorker, Worker, WorkerPool};
pub use error::{Error, Result};
pub use scan::Scan;
pub use template::Template;
