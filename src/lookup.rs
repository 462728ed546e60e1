//! Who a form belongs to: the link from a page code's (run, serial) to the person printed on
//! it. The page code carries no personal data, so naming photo files by ID number and deciding
//! rule 2 (no photo under 6) needs this lookup: today from the print run's `manifest.csv`,
//! later from any store that implements [`PersonLookup`].

use crate::domain::Date;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

/// What the reader needs to know about a form's person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonInfo {
    /// Resident ID number (18 characters), used to name the photo file.
    pub id_number: String,
    /// School (the photo folder).
    pub school: String,
    /// Birth date (from the ID number when valid).
    pub birth_date: Option<Date>,
    /// The printed name: evidence for reading a correction of it and the surname of an agent
    /// who is the father (see [`crate::fields::names`]).
    pub name: Option<String>,
}

/// Finds the person printed on a form.
pub trait PersonLookup: Send + Sync + std::fmt::Debug {
    /// The person on form `serial` of print run `run`, if known.
    fn person(&self, run: &str, serial: &str) -> Option<PersonInfo>;
    /// The date ages are taken on for the photo requirement (rule 2), when the lookup knows
    /// the campaign's: a campaign store's reference date, so that the photo stage and the
    /// campaign rules agree on who needs a photo. Default `None`: the engine's
    /// [`crate::photo::PhotoOptions::reference_date`].
    fn reference_date(&self) -> Option<Date> {
        None
    }
}

/// A lookup from print-run manifests (`manifest.csv` as `formscan print` writes it:
/// `run,serial,page,id_number,name,school,...`).
#[derive(Debug, Clone, Default)]
pub struct ManifestLookup {
    map: HashMap<(String, String), PersonInfo>,
    reference: Option<Date>,
}

impl ManifestLookup {
    /// Reads one manifest and adds its rows (a later row for the same form wins).
    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let mut r = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(path)
            .map_err(|e| Error::input_at(path, format!("manifest: {e}")))?;
        let headers = r.headers().map_err(|e| Error::input_at(path, format!("manifest: {e}")))?.clone();
        let col = |name: &str| headers.iter().position(|h| h.trim_start_matches('\u{feff}') == name);
        let name = col("name");
        let (Some(run), Some(serial), Some(id), Some(school)) =
            (col("run"), col("serial"), col("id_number"), col("school"))
        else {
            return Err(Error::input_at(path, "manifest: needs run, serial, id_number and school columns"));
        };
        for row in r.records() {
            let row = row.map_err(|e| Error::input_at(path, format!("manifest: {e}")))?;
            // `print` writes the manifest spreadsheet-safe; read the values back as they were.
            let get = |i: usize| crate::output::from_spreadsheet(row.get(i).unwrap_or("")).to_string();
            let id_number = get(id);
            let birth_date = crate::domain::parse_id(&id_number).ok().map(|i| i.birth_date);
            let name = name.map(get).filter(|n| !n.is_empty());
            self.map.insert((get(run), get(serial)), PersonInfo { id_number, school: get(school), birth_date, name });
        }
        Ok(())
    }

    /// Adds one person by hand.
    pub fn insert(&mut self, run: &str, serial: &str, person: PersonInfo) {
        self.map.insert((run.to_string(), serial.to_string()), person);
    }

    /// Sets the date ages are taken on ([`PersonLookup::reference_date`]).
    pub fn set_reference_date(&mut self, date: Date) {
        self.reference = Some(date);
    }

    /// Forms known.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no form is known.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl PersonLookup for ManifestLookup {
    fn person(&self, run: &str, serial: &str) -> Option<PersonInfo> {
        self.map.get(&(run.to_string(), serial.to_string())).cloned()
    }
    fn reference_date(&self) -> Option<Date> {
        self.reference
    }
}

/// Another lookup's persons, with a reference date of its own: what a campaign store's intake
/// hands the batch when it was given a lookup, so that the store's date decides ages.
#[derive(Debug, Clone)]
pub struct WithReferenceDate {
    /// The lookup that knows the persons.
    pub inner: std::sync::Arc<dyn PersonLookup>,
    /// The date ages are taken on.
    pub reference: Date,
}

impl PersonLookup for WithReferenceDate {
    fn person(&self, run: &str, serial: &str) -> Option<PersonInfo> {
        self.inner.person(run, serial)
    }
    fn reference_date(&self) -> Option<Date> {
        Some(self.reference)
    }
}

/// A file-system-safe folder or file name: path separators, control characters and leading
/// dots replaced, so that a school name from a roster cannot escape the output folder.
pub fn safe_name(s: &str) -> String {
    let out: String =
        s.trim()
            .chars()
            .map(|c| {
                if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                    '_'
                } else {
                    c
                }
            })
            .collect();
    let out = out.trim_start_matches('.').to_string();
    if out.is_empty() {
        "_".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_manifest_and_names_safely() {
        let dir = std::env::temp_dir().join(format!("formscan-lookup-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("manifest.csv");
        std::fs::write(&p, "run,serial,page,id_number,name,school\nR1,000007,1,11010519491231002X,x,第一小学\n")
            .unwrap();
        let mut m = ManifestLookup::default();
        m.add_file(&p).unwrap();
        let got = m.person("R1", "000007").expect("found");
        assert_eq!(got.birth_date, Some(Date::new(1949, 12, 31)));
        assert_eq!(got.school, "第一小学");
        assert!(m.person("R1", "000008").is_none());
        std::fs::write(&p, "a,b\n1,2\n").unwrap();
        assert!(ManifestLookup::default().add_file(&p).is_err());
        assert_eq!(safe_name("../a/b"), "_a_b");
        assert_eq!(safe_name(".."), "_");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
