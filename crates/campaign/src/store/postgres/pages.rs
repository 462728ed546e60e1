//! Reading stored pages with their fields, findings and keyed values (the PostgreSQL twin of
//! the SQLite store's `pages` module): one query per table for the whole store or one page.

use super::db_err;
use crate::store::{KeySource, KeyedValue, PageView, StoredField};
use ::postgres::types::ToSql;
use ::postgres::{GenericClient, Row};
use formscan::error::{Error, Result};
use formscan::finding::Finding;
use std::collections::BTreeMap;

/// A stored field from columns `state, value, status, candidates` at `at..`.
pub(super) fn field_from_row(r: &Row, at: usize) -> StoredField {
    let candidates: Option<String> = r.get(at + 3);
    StoredField {
        state: r.get(at),
        value: r.get(at + 1),
        status: r.get(at + 2),
        candidates: candidates.map(|c| c.split(',').map(str::to_string).collect()).unwrap_or_default(),
    }
}

/// The columns [`keyed_from_row`] reads, of table `keyed` as `k`.
pub(super) const KEYED_COLS: &str = "k.page_id, k.field, k.value, k.source, k.operator, k.at, k.keystrokes";

pub(super) fn keyed_from_row(r: &Row) -> Result<KeyedValue> {
    let source: String = r.get(3);
    Ok(KeyedValue {
        page_id: r.get(0),
        field: r.get(1),
        value: r.get(2),
        source: KeySource::parse(&source)
            .ok_or_else(|| Error::input(format!("campaign store: unknown key source '{source}'")))?,
        operator: r.get(4),
        at: r.get(5),
        keystrokes: r.get::<_, Option<i64>>(6).and_then(|k| u32::try_from(k).ok()),
    })
}

/// The stored pages of printed forms (all, or the one page `only`) by page key, each with its
/// person's key, as the SQLite store's `load_pages`.
pub(super) fn load_pages(c: &mut impl GenericClient, only: Option<i64>) -> Result<BTreeMap<i64, (i64, PageView)>> {
    let cond = if only.is_some() { "p.match = 'form' AND p.id = $1" } else { "p.match = 'form'" };
    let one: Vec<i64> = only.into_iter().collect();
    let args: Vec<&(dyn ToSql + Sync)> = one.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
    let mut pages = BTreeMap::new();
    let sql = format!(
        "SELECT p.id, p.person_id, p.run, p.serial, p.path, p.out_dir, p.phone, p.page_index FROM pages p
         WHERE {cond} ORDER BY p.id"
    );
    for r in c.query(&sql, &args).map_err(db_err)? {
        let id: i64 = r.get(0);
        let v = PageView {
            id,
            run: r.get(2),
            serial: r.get(3),
            path: r.get(4),
            page_index: r.get::<_, i64>(7) as usize,
            out_dir: r.get(5),
            fields: BTreeMap::new(),
            findings: Vec::new(),
            phone: r.get(6),
            keyed: Vec::new(),
        };
        pages.insert(id, (r.get::<_, i64>(1), v));
    }
    let sql = format!(
        "SELECT f.page_id, f.name, f.state, f.value, f.status, f.candidates FROM fields f JOIN pages p ON p.id = f.page_id
         WHERE {cond}"
    );
    for r in c.query(&sql, &args).map_err(db_err)? {
        if let Some((_, v)) = pages.get_mut(&r.get::<_, i64>(0)) {
            v.fields.insert(r.get(1), field_from_row(&r, 2));
        }
    }
    let sql = format!(
        "SELECT f.page_id, f.code, f.subject, f.message, f.message_zh FROM findings f JOIN pages p ON p.id = f.page_id
         WHERE {cond} ORDER BY f.id"
    );
    for r in c.query(&sql, &args).map_err(db_err)? {
        if let Some((_, v)) = pages.get_mut(&r.get::<_, i64>(0)) {
            v.findings.push(Finding {
                code: r
                    .get::<_, String>(1)
                    .parse()
                    .map_err(|e| Error::input(format!("campaign store: {e} (a store from a newer formscan?)")))?,
                subject: r.get(2),
                message: r.get(3),
                message_zh: r.get(4),
            });
        }
    }
    let sql = format!("SELECT {KEYED_COLS} FROM keyed k JOIN pages p ON p.id = k.page_id WHERE {cond} ORDER BY k.id");
    for r in c.query(&sql, &args).map_err(db_err)? {
        let k = keyed_from_row(&r)?;
        if let Some((_, v)) = pages.get_mut(&k.page_id) {
            v.keyed.push(k);
        }
    }
    Ok(pages)
}
