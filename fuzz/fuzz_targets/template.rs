//! The template parser: `Template::from_toml(text, origin)` on any UTF-8 text (other bytes
//! are skipped: a template file is read as a `String`).
//!
//! Checked: no panic, a failure is `Error::Template`; a template that parses can be laid out
//! for a person (`formscan_print::layout::form_page`), as `print` does with every template it
//! accepts.
#![no_main]

use formscan::domain::Person;
use formscan::payload::PagePayload;
use formscan::{Error, Template};
use formscan_print::layout::{self, FormPage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Template::from_toml(text, "fuzz.toml") {
        Ok(t) => {
            let person = Person {
                name: "张小明".into(),
                id_number: "450305201203040110".into(),
                school: "第一实验小学".into(),
                grade: "五年级".into(),
                class: "3班".into(),
                ..Person::default()
            };
            let payload = PagePayload {
                template: t.id.clone(),
                version: t.version,
                run: "RFUZZ01".into(),
                serial: "000001".into(),
                page: 1,
                photo_printed: false,
            };
            let _ = layout::form_page(&t, &FormPage { person: &person, payload, photo: None });
        }
        Err(e) => {
            let _ = e.to_string();
            assert!(matches!(e, Error::Template { .. }), "unexpected error kind: {e:?}");
        }
    }
});
