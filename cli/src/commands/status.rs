//! `status`: progress per school and class from the campaign store.

use crate::open_store;
use anyhow::Result;
use formscan_campaign as campaign;
use std::path::Path;

pub(crate) fn cmd_status(db: &Path, csv: Option<&Path>, xlsx: Option<&Path>, details: bool) -> Result<bool> {
    let mut store = open_store(db, None)?;
    let assessed = campaign::assess(&mut *store, &Default::default())?;
    let rows = campaign::status::rows(&assessed);
    print!("{}", campaign::status::table(&rows));
    if let Some(p) = csv {
        campaign::status::write_csv(&rows, p)?;
    }
    if let Some(p) = xlsx {
        campaign::status::write_xlsx(&rows, p)?;
    }
    let flagged = store.flagged_pages()?;
    if details {
        // Names and ID numbers only on request: the data is about children.
        for a in assessed.iter().filter(|a| a.status == campaign::FormStatus::Review) {
            let p = &a.view.person.person;
            let codes: Vec<_> = a.findings.iter().map(|f| format!("{}:{}", f.code, f.subject)).collect();
            let pages: Vec<_> = a.view.pages.iter().map(|p| format!("{}={}", p.id, p.path)).collect();
            println!("review  {} {} {}  {}  pages {}", p.id_number, p.name, p.class, codes.join(" "), pages.join(" "));
        }
        for f in &flagged {
            println!("flagged {} page {}: {}", f.path, f.page_index, f.reason);
        }
    } else if !flagged.is_empty() {
        println!("{} flagged pages or duplicate files (see --details)", flagged.len());
    }
    Ok(true)
}
