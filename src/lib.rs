//! formscan turns bulk scans of personalised paper application forms into verified,
//! structured records: it prints the forms, and reads them back.
//!
//! # Brief overview
//!
//! The pipeline has one module per stage, and the type changes at each step:
//!
//! | stage | function | produces |
//! |---|---|---|
//! | decode | [`Engine::open`], [`Engine::decode`] | [`decode::PageSource`] → [`Scan`] |
//! | register | [`Engine::register`] | [`register::Registration`] (template mm → scan px) |
//! | identify | [`Engine::identify`] | [`identify::Identified`] (form serial, page) |
//! | read fields | [`Engine::read_fields`] | [`fields::FieldReadings`] (OMR, ink, digits, snippets) |
//! | audit | [`Engine::audit`] | [`audit::Finding`]s |
//! | record | [`Engine::process_image`] | [`record::PageRecord`] (the output schema) |
//! | batch | [`batch::run`] | `records.jsonl`, `records.csv`, `snippets/`, `summary.json` |
//! | campaign | [`campaign::intake::process`] | the campaign [`store`]: pages, findings, status, export |
//!
//! The other direction: [`roster`] reads the pending-student list, [`layout`] turns a template
//! and a person into a [`render::PageDrawing`], and [`render::pdf`] prints it; [`synth`]
//! simulates filled-in, scanned forms with ground truth for tests and benchmarks.
//!
//! "Nothing there" and "ambiguous" are outcomes with a confidence, recorded on the page, not
//! errors; an [`Error`] means an input, template, model, limit or file stopped a stage.
//!
//! # Example
//!
//! Print one form, "scan" it with the simulator, and read it back:
//!
//! ```
//! use formscan::{Engine, record::Outcome, synth};
//!
//! let engine = Engine::default();
//! let template = &engine.templates()[0];
//! let person = synth::sample_person(7);
//! let page = synth::simulate_one(template, &person, 7, 150.0);
//! let record = engine.process_image(&page.image);
//! assert_eq!(record.outcome, Outcome::Read);
//! assert_eq!(record.form.unwrap().serial, page.truth.serial.unwrap());
//! ```

#![deny(missing_docs)]

pub mod audit;
pub mod barcode;
pub mod batch;
pub mod campaign;
pub mod clean;
pub mod decode;
pub mod domain;
mod engine;
pub mod error;
pub mod fields;
pub mod geometry;
pub mod identify;
pub mod layout;
pub mod lookup;
pub mod model;
pub mod output;
pub mod payload;
pub mod photo;
pub mod print;
pub mod record;
pub mod register;
pub mod render;
pub mod roster;
pub mod scan;
pub mod store;
pub mod synth;
pub mod template;

pub use engine::{Engine, EngineOptions, Worker};
pub use error::{Error, Result};
pub use scan::Scan;
pub use template::Template;
