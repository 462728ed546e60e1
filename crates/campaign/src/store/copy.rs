//! Copying a campaign from one store to another (`formscan db migrate`), verified by counts
//! and checksums.
//!
//! Every table is copied row by row with its keys unchanged, so persons, pages, export batches
//! and keyed values keep their numbers and `status` and `export` print the same bytes from
//! the copy. The rows are streamed ([`Store::scan_table`] into [`Store::restore_rows`], a few
//! thousand at a time), so a campaign of 300,000 forms is never held in memory, and the target
//! is written in one transaction: a failed copy leaves it empty.
//!
//! Each table's checksum is the sum, modulo 2^128, of the SHA-256 of each row's canonical
//! encoding: independent of the order the backends return rows in (their text collations may
//! differ), and computed on the source while copying and on the target after.

use super::Store;
use formscan::error::{Error, Result};
use sha2::{Digest, Sha256};

/// The schema version both stores migrate to; a new migration raises it in both.
pub const SCHEMA_VERSION: i64 = 6;

/// A column's type, as both backends store it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 64-bit integer.
    Int,
    /// UTF-8 text.
    Text,
    /// Bytes (content hashes).
    Bytes,
    /// Boolean (an integer 0/1 in SQLite).
    Bool,
}

/// A column value of a copied row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// A boolean.
    Bool(bool),
}

/// A table as the copy sees it.
#[derive(Debug)]
pub struct TableDef {
    /// Its name (the same in both backends).
    pub name: &'static str,
    /// Its columns and their kinds, in the order rows carry them.
    pub columns: &'static [(&'static str, Kind)],
    /// The key column a server store numbers from a sequence, if any.
    pub serial: Option<&'static str>,
}

use Kind::*;

/// Every table of the campaign schema, parents before children (the order a copy loads them).
pub const TABLES: &[TableDef] = &[
    TableDef { name: "settings", columns: &[("key", Text), ("value", Text)], serial: None },
    TableDef {
        name: "persons",
        columns: &[
            ("id", Int),
            ("id_number", Text),
            ("name", Text),
            ("sex", Text),
            ("ethnicity", Text),
            ("birth_date", Text),
            ("school", Text),
            ("grade", Text),
            ("class", Text),
        ],
        serial: Some("id"),
    },
    TableDef { name: "runs", columns: &[("run", Text), ("template", Text)], serial: None },
    TableDef {
        name: "forms",
        columns: &[("run", Text), ("serial", Text), ("person_id", Int), ("photo_printed", Bool)],
        serial: None,
    },
    TableDef { name: "files", columns: &[("hash", Bytes), ("pages", Int), ("out_dir", Text)], serial: None },
    TableDef { name: "file_paths", columns: &[("hash", Bytes), ("path", Text)], serial: None },
    TableDef {
        name: "pages",
        columns: &[
            ("id", Int),
            ("file_hash", Bytes),
            ("page_index", Int),
            ("path", Text),
            ("out_dir", Text),
            ("outcome", Text),
            ("reject_reason", Text),
            ("run", Text),
            ("serial", Text),
            ("match", Text),
            ("person_id", Int),
            ("phone", Text),
        ],
        serial: Some("id"),
    },
    TableDef {
        name: "fields",
        columns: &[
            ("page_id", Int),
            ("name", Text),
            ("state", Text),
            ("value", Text),
            ("status", Text),
            ("candidates", Text),
        ],
        serial: None,
    },
    TableDef {
        // SQLite numbers findings by rowid (the `id` of this copy), PostgreSQL by an id column.
        name: "findings",
        columns: &[
            ("id", Int),
            ("page_id", Int),
            ("code", Text),
            ("subject", Text),
            ("message", Text),
            ("message_zh", Text),
        ],
        serial: Some("id"),
    },
    TableDef { name: "decisions", columns: &[("person_id", Int), ("decision", Text), ("page_id", Int)], serial: None },
    TableDef {
        name: "decision_log",
        columns: &[
            ("id", Int),
            ("person_id", Int),
            ("decision", Text),
            ("page_id", Int),
            ("reason", Text),
            ("operator", Text),
            ("at", Int),
        ],
        serial: Some("id"),
    },
    TableDef { name: "exports", columns: &[("id", Int), ("selection", Text)], serial: None },
    TableDef { name: "exported", columns: &[("person_id", Int), ("export_id", Int), ("page_id", Int)], serial: None },
    TableDef {
        name: "keyed",
        columns: &[
            ("id", Int),
            ("page_id", Int),
            ("field", Text),
            ("value", Text),
            ("source", Text),
            ("operator", Text),
            ("at", Int),
            ("keystrokes", Int),
        ],
        serial: Some("id"),
    },
    TableDef {
        name: "accounts",
        columns: &[("name", Text), ("role", Text), ("password_hash", Text), ("disabled", Bool)],
        serial: None,
    },
    TableDef { name: "leases", columns: &[("item", Text), ("operator", Text), ("expires", Int)], serial: None },
];

/// Rows per [`Store::restore_rows`] call: large enough that a round trip is cheap per row,
/// small enough that the copy's memory stays a few megabytes.
const CHUNK: usize = 4096;

/// A table's row count and checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSum {
    /// Rows.
    pub rows: u64,
    /// Sum of the rows' SHA-256 (first 16 bytes) modulo 2^128.
    pub checksum: u128,
}

impl TableSum {
    fn add(&mut self, row: &[Value]) {
        let mut h = Sha256::new();
        for v in row {
            // A tag and a length before each value: no two rows encode alike.
            let (tag, bytes): (u8, std::borrow::Cow<[u8]>) = match v {
                Value::Null => (0, (&[][..]).into()),
                Value::Int(i) => (1, i.to_le_bytes().to_vec().into()),
                Value::Text(t) => (2, t.as_bytes().into()),
                Value::Bytes(b) => (3, b.as_slice().into()),
                Value::Bool(b) => (4, vec![u8::from(*b)].into()),
            };
            h.update([tag]);
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(&bytes);
        }
        let d = h.finalize();
        let mut first = [0u8; 16];
        first.copy_from_slice(&d[..16]);
        self.rows += 1;
        self.checksum = self.checksum.wrapping_add(u128::from_le_bytes(first));
    }
}

/// Counts and checksums of every table of a store, in [`TABLES`] order.
pub fn sums(store: &mut dyn Store) -> Result<Vec<(&'static str, TableSum)>> {
    let mut out = Vec::new();
    for t in TABLES {
        let mut sum = TableSum { rows: 0, checksum: 0 };
        store.scan_table(t, &mut |row| {
            sum.add(&row);
            Ok(())
        })?;
        out.push((t.name, sum));
    }
    Ok(out)
}

/// Copies every table of `from` into the empty store `to`, then reads `to` back and checks
/// each table's count and checksum against what was read from `from`. Returns the sums.
pub fn copy(from: &mut dyn Store, to: &mut dyn Store) -> Result<Vec<(&'static str, TableSum)>> {
    to.restore_begin()?;
    let source = match load(from, to) {
        Ok(sums) => sums,
        Err(e) => {
            let _ = to.restore_abort(); // the error that stopped the copy is the one to report
            return Err(e);
        }
    };
    to.restore_end()?;
    let target = sums(to)?;
    for ((name, a), (_, b)) in source.iter().zip(&target) {
        if a != b {
            return Err(Error::input(format!(
                "copy: table {name} differs after the copy ({} rows read, {} in the target, checksums {:032x} and {:032x}); \
                 the target holds this unverified copy: empty it before copying again",
                a.rows, b.rows, a.checksum, b.checksum
            )));
        }
    }
    Ok(source)
}

/// Streams every table of `from` into `to` (inside its restore transaction); returns the
/// source's sums.
fn load(from: &mut dyn Store, to: &mut dyn Store) -> Result<Vec<(&'static str, TableSum)>> {
    let mut source = Vec::new();
    for t in TABLES {
        let mut sum = TableSum { rows: 0, checksum: 0 };
        let mut chunk: Vec<Vec<Value>> = Vec::with_capacity(CHUNK);
        from.scan_table(t, &mut |row| {
            if row.len() != t.columns.len() {
                return Err(Error::input(format!("copy: a row of {} has {} columns", t.name, row.len())));
            }
            sum.add(&row);
            chunk.push(row);
            if chunk.len() == CHUNK {
                to.restore_rows(t, &chunk)?;
                chunk.clear();
            }
            Ok(())
        })?;
        if !chunk.is_empty() {
            to.restore_rows(t, &chunk)?;
        }
        source.push((t.name, sum));
    }
    Ok(source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_ignores_order_and_tells_values_apart() {
        let rows = [
            vec![Value::Int(1), Value::Text("a".into())],
            vec![Value::Int(2), Value::Null],
            vec![Value::Int(3), Value::Text(String::new())],
        ];
        let sum = |order: &[usize]| {
            let mut s = TableSum { rows: 0, checksum: 0 };
            order.iter().for_each(|&i| s.add(&rows[i]));
            s
        };
        assert_eq!(sum(&[0, 1, 2]), sum(&[2, 0, 1]));
        // NULL and the empty text differ, and a changed value changes the sum.
        assert_ne!(sum(&[1]).checksum, {
            let mut s = TableSum { rows: 0, checksum: 0 };
            s.add(&[Value::Int(2), Value::Text(String::new())]);
            s.checksum
        });
        assert_ne!(sum(&[0, 1]), sum(&[0, 2]));
    }

    #[test]
    fn every_table_has_columns_and_unique_names() {
        let mut names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TABLES.len());
        assert!(TABLES.iter().all(|t| !t.columns.is_empty()));
    }
}
