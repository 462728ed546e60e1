//! Reading stored pages with their fields, findings and keyed values: one set of queries for
//! the whole store ([`crate::store::Store::persons`]) and for one page ([`crate::store::Store::page`]).

use super::db_err;
use crate::store::{KeySource, KeyedValue, PageView, StoredField};
use formscan::error::{Error, Result};
use formscan::finding::Finding;
use std::collections::BTreeMap;

/// A stored field from columns `state, value, status, candidates` at `at..`.
pub(super) fn field_from_row(r: &rusqlite::Row, at: usize) -> rusqlite::Result<StoredField> {
    let candidates: Option<String> = r.get(at + 3)?;
    Ok(StoredField {
        state: r.get(at)?,
        value: r.get(at + 1)?,
        status: r.get(at + 2)?,
        candidates: candidates.map(|c| c.split(',').map(str::to_string).collect()).unwrap_or_default(),
    })
}

/// Candidates as stored: joined by `,` (they are digits and `X`), `NULL` when none.
pub(super) fn join_candidates(c: &[String]) -> Option<String> {
    (!c.is_empty()).then(|| c.join(","))
}

/// The columns [`keyed_from_row`] reads, of table `keyed` as `k`.
pub(super) const KEYED_COLS: &str = "k.page_id, k.field, k.value, k.source, k.operator, k.at, k.keystrokes";

pub(super) fn keyed_from_row(r: &rusqlite::Row) -> Result<KeyedValue> {
    let source: String = r.get(3).map_err(db_err)?;
    Ok(KeyedValue {
        page_id: r.get(0).map_err(db_err)?,
        field: r.get(1).map_err(db_err)?,
        value: r.get(2).map_err(db_err)?,
        source: KeySource::parse(&source)
            .ok_or_else(|| Error::input(format!("campaign store: unknown key source '{source}'")))?,
        operator: r.get(4).map_err(db_err)?,
        at: r.get(5).map_err(db_err)?,
        keystrokes: r.get(6).map_err(db_err)?,
    })
}

/// The stored pages of printed forms (all, or the one page `only`) with their fields, findings
/// and keyed values, by page key, each with its person's key: what [`crate::store::Store::persons`] and
/// [`crate::store::Store::page`] share. Each table is read in one query joined to the pages chosen.
pub(super) fn load_pages(tx: &rusqlite::Transaction, only: Option<i64>) -> Result<BTreeMap<i64, (i64, PageView)>> {
    let cond = if only.is_some() { "p.match = 'form' AND p.id = ?1" } else { "p.match = 'form'" };
    let args: Vec<i64> = only.into_iter().collect();
    let args = rusqlite::params_from_iter(args.iter());
    let mut pages = BTreeMap::new();
    let sql = format!(
        "SELECT p.id, p.person_id, p.run, p.serial, p.path, p.out_dir, p.phone, p.page_index FROM pages p
         WHERE {cond} ORDER BY p.id"
    );
    let mut st = tx.prepare_cached(&sql).map_err(db_err)?;
    let mut rows = st.query(args.clone()).map_err(db_err)?;
    while let Some(r) = rows.next().map_err(db_err)? {
        let id: i64 = r.get(0).map_err(db_err)?;
        let v = PageView {
            id,
            run: r.get(2).map_err(db_err)?,
            serial: r.get(3).map_err(db_err)?,
            path: r.get(4).map_err(db_err)?,
            page_index: r.get::<_, i64>(7).map_err(db_err)? as usize,
            out_dir: r.get(5).map_err(db_err)?,
            fields: BTreeMap::new(),
            findings: Vec::new(),
            phone: r.get(6).map_err(db_err)?,
            keyed: Vec::new(),
        };
        pages.insert(id, (r.get::<_, i64>(1).map_err(db_err)?, v));
    }
    let sql = format!(
        "SELECT f.page_id, f.name, f.state, f.value, f.status, f.candidates FROM fields f JOIN pages p ON p.id = f.page_id
         WHERE {cond}"
    );
    let mut st = tx.prepare_cached(&sql).map_err(db_err)?;
    let mut rows = st.query(args.clone()).map_err(db_err)?;
    while let Some(r) = rows.next().map_err(db_err)? {
        if let Some((_, v)) = pages.get_mut(&r.get::<_, i64>(0).map_err(db_err)?) {
            v.fields.insert(r.get(1).map_err(db_err)?, field_from_row(r, 2).map_err(db_err)?);
        }
    }
    let sql = format!(
        "SELECT f.page_id, f.code, f.subject, f.message, f.message_zh FROM findings f JOIN pages p ON p.id = f.page_id
         WHERE {cond} ORDER BY f.rowid"
    );
    let mut st = tx.prepare_cached(&sql).map_err(db_err)?;
    let mut rows = st.query(args.clone()).map_err(db_err)?;
    while let Some(r) = rows.next().map_err(db_err)? {
        if let Some((_, v)) = pages.get_mut(&r.get::<_, i64>(0).map_err(db_err)?) {
            v.findings.push(Finding {
                code: r
                    .get::<_, String>(1)
                    .map_err(db_err)?
                    .parse()
                    .map_err(|e| Error::input(format!("campaign store: {e} (a store from a newer formscan?)")))?,
                subject: r.get(2).map_err(db_err)?,
                message: r.get(3).map_err(db_err)?,
                message_zh: r.get(4).map_err(db_err)?,
            });
        }
    }
    let sql = format!("SELECT {KEYED_COLS} FROM keyed k JOIN pages p ON p.id = k.page_id WHERE {cond} ORDER BY k.id");
    let mut st = tx.prepare_cached(&sql).map_err(db_err)?;
    let mut rows = st.query(args).map_err(db_err)?;
    while let Some(r) = rows.next().map_err(db_err)? {
        let k = keyed_from_row(r)?;
        if let Some((_, v)) = pages.get_mut(&k.page_id) {
            v.keyed.push(k);
        }
    }
    Ok(pages)
}
