//! The printing side of formscan: from the bureau's lists to one personalised application
//! form per pending student, as PDF.
//!
//! # Brief overview
//!
//! | step | module | in → out |
//! |---|---|---|
//! | read the pending list | [`roster`] | CSV (UTF-8, UTF-16 or GBK; Chinese or English headers) → [`roster::Roster`] |
//! | clean the lists | [`clean`] | insured list + school roll − card holders − submitted → pending list and a report |
//! | lay out a form | [`layout`] | template + person + page code → [`render::PageDrawing`] |
//! | print a run | [`plan_run`], [`write_run`] | persons → one PDF per school ([`render::pdf`]), class sheets ([`sheets`]) and `manifest.csv` |
//!
//! [`render::raster`] draws the same page drawings as images (the scan simulator prints with
//! it); [`faces`] holds the bundled demo portraits (`photo` = `face:N` in a roster).
//!
//! # Example
//!
//! Plan a print run for two synthetic pupils and lay out the first form:
//!
//! ```
//! use formscan::Template;
//! use formscan_print::{layout, plan_run, roster::Person};
//!
//! let t = Template::sbk_student();
//! let person = Person {
//!     name: "测试甲".into(),
//!     id_number: "450305201503070012".into(),
//!     school: "示例小学".into(),
//!     class: "1班".into(),
//!     ..Default::default()
//! };
//! let run = plan_run(&t, &[(2, person)], Some("RDOC"), std::path::Path::new("."));
//! assert_eq!(run.pages.len(), 1);
//! let page = &run.pages[0];
//! let drawing = layout::form_page(&t, &layout::FormPage {
//!     person: &page.person,
//!     payload: page.payload(&t, &run.run),
//!     photo: None,
//! });
//! assert!(!drawing.ops.is_empty());
//! ```

#![deny(missing_docs)]

pub mod clean;
pub mod faces;
pub mod layout;
pub mod render;
pub mod roster;
mod run;
pub mod sheets;

pub use run::*;
