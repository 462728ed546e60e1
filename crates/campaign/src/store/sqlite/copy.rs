//! The SQLite side of a campaign copy ([`crate::store::copy`]) and of `db check`.

use super::{db_err, SqliteStore};
use crate::store::copy::{Kind, TableDef, Value, SCHEMA_VERSION};
use crate::store::sql;
use formscan::error::{Error, Result};
use rusqlite::types::{ToSqlOutput, ValueRef};

/// SQLite numbers findings by rowid; the copy calls it `id`.
fn column_sql(table: &TableDef, col: &str) -> String {
    if table.name == "findings" && col == "id" {
        "rowid".to_string()
    } else {
        format!("\"{col}\"")
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            Value::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Value::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*b))),
        })
    }
}

fn value_of(r: &rusqlite::Row, i: usize, kind: Kind) -> rusqlite::Result<Value> {
    Ok(match kind {
        Kind::Int => r.get::<_, Option<i64>>(i)?.map(Value::Int),
        Kind::Text => r.get::<_, Option<String>>(i)?.map(Value::Text),
        Kind::Bytes => r.get::<_, Option<Vec<u8>>>(i)?.map(Value::Bytes),
        Kind::Bool => r.get::<_, Option<bool>>(i)?.map(Value::Bool),
    }
    .unwrap_or(Value::Null))
}

impl SqliteStore {
    pub(super) fn scan(&mut self, table: &TableDef, row: &mut dyn FnMut(Vec<Value>) -> Result<()>) -> Result<()> {
        let cols: Vec<String> = table.columns.iter().map(|c| column_sql(table, c.0)).collect();
        let tx = self.conn.transaction().map_err(db_err)?; // one consistent snapshot
        {
            let mut st = tx.prepare(&format!("SELECT {} FROM {}", cols.join(", "), table.name)).map_err(db_err)?;
            let mut rows = st.query([]).map_err(db_err)?;
            while let Some(r) = rows.next().map_err(db_err)? {
                let v = table
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| value_of(r, i, c.1))
                    .collect::<rusqlite::Result<Vec<Value>>>()
                    .map_err(db_err)?;
                row(v)?;
            }
        }
        tx.commit().map_err(db_err)
    }

    pub(super) fn begin_restore(&mut self) -> Result<()> {
        let n: i64 = self.conn.query_row(sql::CAMPAIGN_ROWS, [], |r| r.get(0)).map_err(db_err)?;
        if n != 0 {
            return Err(Error::input(format!(
                "{} already holds a campaign: copy into a new file",
                self.path.display()
            )));
        }
        // The settings of the new store (its default reference date) give way to the copy's.
        self.conn.execute_batch("BEGIN IMMEDIATE; DELETE FROM settings;").map_err(db_err)
    }

    pub(super) fn insert_rows(&mut self, table: &TableDef, rows: &[Vec<Value>]) -> Result<()> {
        let cols: Vec<String> = table.columns.iter().map(|c| column_sql(table, c.0)).collect();
        let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
        let sql = format!("INSERT INTO {} ({}) VALUES ({})", table.name, cols.join(", "), marks.join(", "));
        let mut st = self.conn.prepare_cached(&sql).map_err(db_err)?;
        for row in rows {
            st.execute(rusqlite::params_from_iter(row.iter())).map_err(db_err)?;
        }
        Ok(())
    }

    pub(super) fn check_store(&mut self) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        let v: i64 = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(db_err)?;
        if v != SCHEMA_VERSION {
            problems.push(format!("schema version {v}, expected {SCHEMA_VERSION}"));
        }
        // SQLite's own check of the file's pages and indexes, then the foreign keys.
        let mut st = self.conn.prepare("PRAGMA integrity_check").map_err(db_err)?;
        let lines: Vec<String> =
            st.query_map([], |r| r.get(0)).map_err(db_err)?.collect::<rusqlite::Result<_>>().map_err(db_err)?;
        if lines != ["ok"] {
            problems.extend(lines.into_iter().map(|l| format!("integrity_check: {l}")));
        }
        let mut st = self.conn.prepare("PRAGMA foreign_key_check").map_err(db_err)?;
        let broken = st.query_map([], |r| r.get::<_, String>(0)).map_err(db_err)?.count();
        if broken > 0 {
            problems.push(format!("rows whose foreign key points nowhere: {broken}"));
        }
        for (what, q) in sql::INVARIANTS {
            let n: i64 = self.conn.query_row(q, [], |r| r.get(0)).map_err(db_err)?;
            if n != 0 {
                problems.push(format!("{what}: {n}"));
            }
        }
        Ok(problems)
    }
}
