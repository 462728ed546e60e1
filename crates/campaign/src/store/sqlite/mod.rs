//! The embedded campaign store: one SQLite file per campaign (rusqlite, SQLite bundled).
//!
//! # Durability
//!
//! The database runs in WAL mode with `synchronous = NORMAL`. A committed transaction is in
//! the write-ahead log when `COMMIT` returns, so a killed process (SIGKILL, a crash) loses
//! nothing committed; only a power cut or OS crash can lose the last transactions, and never
//! corrupts the file (SQLite's WAL documentation, "Performance Considerations"). Losing them
//! is harmless here: intake marks a file done only after its pages, so a rerun redoes them.
//!
//! # Schema
//!
//! Versioned by `PRAGMA user_version`: [`MIGRATIONS`]`[i]` takes version `i` to `i + 1`, and
//! all pending ones run in one transaction when the store is opened.

use super::*;
use formscan::error::Error;
use rusqlite::{params, Connection, OptionalExtension};

mod copy;
mod pages;
mod schema;
use pages::{keyed_from_row, load_pages, KEYED_COLS};
use schema::MIGRATIONS;
use std::path::Path;

/// How long a writer waits for another connection's lock before failing. Default 5 s: long
/// enough to ride out a status query during intake.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

fn db_err(e: rusqlite::Error) -> Error {
    Error::Io { path: None, source: std::io::Error::other(e) }
}

/// Whether `e` is SQLite's "database is busy / locked".
fn is_busy(e: &Error) -> bool {
    let Error::Io { source, .. } = e else { return false };
    matches!(
        source.get_ref().and_then(|s| s.downcast_ref::<rusqlite::Error>()),
        Some(rusqlite::Error::SqliteFailure(f, _))
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    conn: Connection,
    path: std::path::PathBuf,
    /// Held while this process writes as intake or export ([`Store::claim_writer`]).
    writer: Option<formscan::output::Lock>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.conn.path()).finish()
    }
}

/// Today's date (UTC) from the system clock.
pub fn today() -> Date {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    Date::from_unix_days((secs / 86_400) as i64)
}

impl SqliteStore {
    /// Opens (creating when absent) the store at `path`, applies pending migrations, and sets
    /// the reference date to `reference` (or today on creation when `None`).
    pub fn open(path: &Path, reference: Option<Date>) -> Result<SqliteStore> {
        let fresh = !path.exists();
        if fresh {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                formscan::output::private_dir(dir)?;
            }
            // Create the file owner-only before SQLite opens it (the data is about children).
            formscan::output::private_file(path)?;
        }
        let conn = Connection::open(path).map_err(|e| Error::io_at(path, std::io::Error::other(e)))?;
        let mut s = SqliteStore { conn, path: path.to_path_buf(), writer: None };
        // Processes opening a new store together (a station and an intake) can find SQLite
        // busy switching it to WAL, which waits for no busy handler: try again for a while.
        let mut tries = 0;
        while let Err(e) = s.setup() {
            tries += 1;
            if !is_busy(&e) || tries > 50 {
                return Err(e.with_path(path));
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        match reference {
            Some(d) => s.set_reference_date(d)?,
            None if fresh => s.set_reference_date(today())?,
            None => {}
        }
        Ok(s)
    }

    fn setup(&mut self) -> Result<()> {
        let c = &mut self.conn;
        c.busy_timeout(BUSY_TIMEOUT).map_err(db_err)?;
        // WAL + NORMAL: see the module docs for why this is crash-safe against a killed process.
        c.pragma_update(None, "journal_mode", "WAL").map_err(db_err)?;
        c.pragma_update(None, "synchronous", "NORMAL").map_err(db_err)?;
        c.pragma_update(None, "foreign_keys", "ON").map_err(db_err)?;
        let version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(db_err)?;
        if version as usize > MIGRATIONS.len() {
            return Err(Error::input(format!(
                "campaign store schema version {version} is newer than this formscan ({})",
                MIGRATIONS.len()
            )));
        }
        if version as usize == MIGRATIONS.len() {
            return Ok(());
        }
        // Immediate, and the version read again inside: of two processes opening a new store
        // at once (a station and an intake), one migrates and the other then finds it done.
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(db_err)?;
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(m).map_err(db_err)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64).map_err(db_err)?;
        }
        tx.commit().map_err(db_err)
    }
}

fn person_from_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Person> {
    let sex: Option<String> = r.get(at + 2)?;
    let birth: Option<String> = r.get(at + 4)?;
    Ok(Person {
        id_number: r.get(at)?,
        name: r.get(at + 1)?,
        sex: sex.and_then(|s| s.parse().ok()),
        ethnicity: r.get(at + 3)?,
        birth_date: birth.and_then(|s| s.parse().ok()),
        school: r.get(at + 5)?,
        grade: r.get(at + 6)?,
        class: r.get(at + 7)?,
        photo: None,
    })
}

const PERSON_COLS: &str = "p.id_number, p.name, p.sex, p.ethnicity, p.birth_date, p.school, p.grade, p.class";

impl Store for SqliteStore {
    fn reference_date(&mut self) -> Result<Date> {
        let v: Option<String> = self
            .conn
            .query_row("SELECT value FROM settings WHERE key = 'reference_date'", [], |r| r.get(0))
            .optional()
            .map_err(db_err)?;
        match v {
            Some(v) => v.parse().map_err(|e| Error::input(format!("stored reference date `{v}`: {e}"))),
            None => Ok(today()),
        }
    }

    fn set_reference_date(&mut self, date: Date) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO settings(key, value) VALUES ('reference_date', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [date.to_string()],
            )
            .map_err(db_err)?;
        Ok(())
    }

    fn record_print_run(&mut self, run: &str, template: &str, forms: &[PrintedForm]) -> Result<()> {
        let tx = self.conn.transaction().map_err(db_err)?;
        tx.execute("INSERT OR IGNORE INTO runs(run, template) VALUES (?1, ?2)", params![run, template])
            .map_err(db_err)?;
        {
            let mut person = tx
                .prepare(
                    "INSERT INTO persons(id_number, name, sex, ethnicity, birth_date, school, grade, class)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT(id_number) DO UPDATE SET name = excluded.name, sex = excluded.sex,
                       ethnicity = excluded.ethnicity, birth_date = excluded.birth_date,
                       school = excluded.school, grade = excluded.grade, class = excluded.class
                     RETURNING id",
                )
                .map_err(db_err)?;
            let mut form = tx
                .prepare("INSERT OR IGNORE INTO forms(run, serial, person_id, photo_printed) VALUES (?1, ?2, ?3, ?4)")
                .map_err(db_err)?;
            for f in forms {
                let p = &f.person;
                let id: i64 = person
                    .query_row(
                        params![
                            p.id_number,
                            p.name,
                            p.sex.map(|s| s.to_string()),
                            p.ethnicity,
                            p.birth_date.map(|d| d.to_string()),
                            p.school,
                            p.grade,
                            p.class
                        ],
                        |r| r.get(0),
                    )
                    .map_err(db_err)?;
                form.execute(params![run, f.serial, id, f.photo_printed]).map_err(db_err)?;
            }
        }
        tx.commit().map_err(db_err)
    }

    fn lookup_form(&mut self, run: &str, serial: &str) -> Result<FormMatch> {
        let sql = format!(
            "SELECT p.id, f.photo_printed, {PERSON_COLS} FROM forms f JOIN persons p ON p.id = f.person_id
             WHERE f.run = ?1 AND f.serial = ?2"
        );
        let mut st = self.conn.prepare_cached(&sql).map_err(db_err)?;
        let hit = st
            .query_row(params![run, serial], |r| {
                Ok(FormMatch::Known {
                    person: StoredPerson { key: r.get(0)?, person: person_from_row(r, 2)? },
                    photo_printed: r.get(1)?,
                })
            })
            .optional()
            .map_err(db_err)?;
        if let Some(m) = hit {
            return Ok(m);
        }
        let mut st = self.conn.prepare_cached("SELECT 1 FROM runs WHERE run = ?1").map_err(db_err)?;
        let run_known = st.exists([run]).map_err(db_err)?;
        Ok(if run_known { FormMatch::UnknownSerial } else { FormMatch::UnknownRun })
    }

    fn completed_files(&mut self) -> Result<HashSet<FileHash>> {
        let mut st = self.conn.prepare("SELECT hash FROM files").map_err(db_err)?;
        let rows = st.query_map([], |r| r.get::<_, Vec<u8>>(0)).map_err(db_err)?;
        let mut out = HashSet::new();
        for r in rows {
            if let Ok(h) = <FileHash>::try_from(r.map_err(db_err)?.as_slice()) {
                out.insert(h);
            }
        }
        Ok(out)
    }

    fn completed_paths(&mut self, out_dir: &str) -> Result<HashSet<String>> {
        let mut st = self.conn.prepare(sql::COMPLETED_PATHS).map_err(db_err)?;
        let rows = st.query_map([out_dir], |r| r.get::<_, String>(0)).map_err(db_err)?;
        rows.collect::<rusqlite::Result<HashSet<String>>>().map_err(db_err)
    }

    fn claim_writer(&mut self, task: &str) -> Result<()> {
        if self.writer.is_none() {
            // A lock file beside the database: SQLite's own locks last one transaction, while
            // an intake's claim must last the whole run, and vanish with a killed process.
            let mut name = self.path.file_name().unwrap_or_default().to_os_string();
            name.push(".lock");
            let what = format!("campaign store {}", self.path.display());
            self.writer = Some(formscan::output::Lock::acquire(&self.path.with_file_name(name), &what, task)?);
        }
        Ok(())
    }

    fn claim_file(&mut self, file: &FileHash) -> Result<FileClaim> {
        // One intake at a time holds the store ([`Store::claim_writer`]): a file is this
        // intake's unless it is done.
        let mut st = self.conn.prepare_cached("SELECT 1 FROM files WHERE hash = ?1").map_err(db_err)?;
        Ok(if st.exists([&file[..]]).map_err(db_err)? { FileClaim::Done } else { FileClaim::Claimed })
    }

    fn release_file(&mut self, _file: &FileHash) -> Result<()> {
        Ok(())
    }

    fn describe(&self) -> String {
        format!("sqlite {}", self.path.display())
    }

    fn schema_version(&mut self) -> Result<i64> {
        self.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(db_err)
    }

    fn check(&mut self) -> Result<Vec<String>> {
        self.check_store()
    }

    fn scan_table(&mut self, table: &TableDef, row: &mut dyn FnMut(Vec<Value>) -> Result<()>) -> Result<()> {
        self.scan(table, row)
    }

    fn restore_begin(&mut self) -> Result<()> {
        self.begin_restore()
    }

    fn restore_rows(&mut self, table: &TableDef, rows: &[Vec<Value>]) -> Result<()> {
        self.insert_rows(table, rows)
    }

    fn restore_end(&mut self) -> Result<()> {
        self.conn.execute_batch("COMMIT").map_err(db_err)
    }

    fn restore_abort(&mut self) -> Result<()> {
        self.conn.execute_batch("ROLLBACK").map_err(db_err)
    }

    fn commit(&mut self, items: &[IntakeItem]) -> Result<()> {
        let tx = self.conn.transaction().map_err(db_err)?;
        {
            let mut page = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO pages(file_hash, page_index, path, out_dir, outcome, reject_reason,
                       run, serial, match, person_id, phone)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .map_err(db_err)?;
            let mut field = tx
                .prepare_cached("INSERT INTO fields(page_id, name, state, value, status, candidates) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                .map_err(db_err)?;
            let mut finding = tx
                .prepare_cached(
                    "INSERT INTO findings(page_id, code, subject, message, message_zh) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(db_err)?;
            let mut seen =
                tx.prepare_cached("INSERT OR IGNORE INTO file_paths(hash, path) VALUES (?1, ?2)").map_err(db_err)?;
            let mut done = tx
                .prepare_cached("INSERT OR IGNORE INTO files(hash, pages, out_dir) VALUES (?1, ?2, ?3)")
                .map_err(db_err)?;
            for item in items {
                match item {
                    IntakeItem::Page(p) => {
                        let outcome = p.outcome.as_str();
                        let n = page
                            .execute(params![
                                &p.file[..],
                                p.page_index as i64,
                                p.path,
                                p.out_dir,
                                outcome,
                                p.reject_reason,
                                p.form.as_ref().map(|f| &f.0),
                                p.form.as_ref().map(|f| &f.1),
                                p.matched.as_str(),
                                p.person_key,
                                p.phone
                            ])
                            .map_err(db_err)?;
                        if n == 0 {
                            continue; // already committed by an earlier, interrupted run
                        }
                        let id = tx.last_insert_rowid();
                        for (name, f) in &p.fields {
                            let candidates = pages::join_candidates(&f.candidates);
                            field.execute(params![id, name, f.state, f.value, f.status, candidates]).map_err(db_err)?;
                        }
                        for f in &p.findings {
                            finding
                                .execute(params![id, f.code.as_str(), f.subject, f.message, f.message_zh])
                                .map_err(db_err)?;
                        }
                    }
                    IntakeItem::FileSeen { file, path } => {
                        seen.execute(params![&file[..], path]).map_err(db_err)?;
                    }
                    IntakeItem::FileDone { file, pages, out_dir } => {
                        done.execute(params![&file[..], *pages as i64, out_dir]).map_err(db_err)?;
                    }
                }
            }
        }
        tx.commit().map_err(db_err)
    }

    fn persons(&mut self) -> Result<Vec<PersonView>> {
        let tx = self.conn.transaction().map_err(db_err)?; // one consistent snapshot
        let mut out: Vec<PersonView> = Vec::new();
        let mut index: BTreeMap<i64, usize> = BTreeMap::new();
        {
            let sql = format!(
                "SELECT p.id, {PERSON_COLS}, d.decision, d.page_id, e.export_id FROM persons p
                 LEFT JOIN decisions d ON d.person_id = p.id LEFT JOIN exported e ON e.person_id = p.id
                 ORDER BY p.school, p.grade, p.class, p.id_number"
            );
            let mut st = tx.prepare(&sql).map_err(db_err)?;
            let mut rows = st.query([]).map_err(db_err)?;
            while let Some(r) = rows.next().map_err(db_err)? {
                let key: i64 = r.get(0).map_err(db_err)?;
                let d: Option<String> = r.get(9).map_err(db_err)?;
                let dp: Option<i64> = r.get(10).map_err(db_err)?;
                let decision = match d.as_deref() {
                    Some("accept") => Some(Decision::Accept),
                    Some("reject") => Some(Decision::Reject),
                    _ => None,
                };
                index.insert(key, out.len());
                out.push(PersonView {
                    person: StoredPerson { key, person: person_from_row(r, 1).map_err(db_err)? },
                    forms: Vec::new(),
                    pages: Vec::new(),
                    decision,
                    chosen_page: dp,
                    exported: r.get(11).map_err(db_err)?,
                });
            }
        }
        {
            let mut st = tx
                .prepare("SELECT person_id, run, serial, photo_printed FROM forms ORDER BY run, serial")
                .map_err(db_err)?;
            let mut rows = st.query([]).map_err(db_err)?;
            while let Some(r) = rows.next().map_err(db_err)? {
                if let Some(&i) = index.get(&r.get::<_, i64>(0).map_err(db_err)?) {
                    out[i].forms.push((
                        r.get(1).map_err(db_err)?,
                        r.get(2).map_err(db_err)?,
                        r.get(3).map_err(db_err)?,
                    ));
                }
            }
        }
        for (person, v) in load_pages(&tx, None)?.into_values() {
            if let Some(&i) = index.get(&person) {
                out[i].pages.push(v);
            }
        }
        Ok(out)
    }

    fn add_account(&mut self, a: &Account) -> Result<()> {
        let n = self
            .conn
            .execute(
                "INSERT INTO accounts(name, role, password_hash, disabled) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(name) DO NOTHING",
                params![a.name, a.role.as_str(), a.password_hash, a.disabled],
            )
            .map_err(db_err)?;
        if n == 0 {
            return Err(Error::input(format!("an account named `{}` exists already", a.name)));
        }
        Ok(())
    }

    fn accounts(&mut self) -> Result<Vec<Account>> {
        let mut st = self
            .conn
            .prepare("SELECT name, role, password_hash, disabled FROM accounts ORDER BY name")
            .map_err(db_err)?;
        let rows = st
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, bool>(3)?))
            })
            .map_err(db_err)?;
        let mut out = Vec::new();
        for row in rows {
            let (name, role, password_hash, disabled) = row.map_err(db_err)?;
            out.push(Account { name, role: role.parse()?, password_hash, disabled });
        }
        Ok(out)
    }

    fn set_account_disabled(&mut self, name: &str, disabled: bool) -> Result<()> {
        let n = self
            .conn
            .execute("UPDATE accounts SET disabled = ?2 WHERE name = ?1", params![name, disabled])
            .map_err(db_err)?;
        if n == 0 {
            return Err(Error::input(format!("no account named `{name}`")));
        }
        Ok(())
    }

    fn lease(&mut self, item: &str, operator: &str, now: i64, until: i64) -> Result<bool> {
        // One statement, so one writer at a time: it takes a free or expired item, or renews
        // the operator's own lease, and leaves another operator's live lease alone.
        let n = self
            .conn
            .execute(
                "INSERT INTO leases(item, operator, expires) VALUES (?1, ?2, ?3)
                 ON CONFLICT(item) DO UPDATE SET operator = excluded.operator, expires = excluded.expires
                 WHERE leases.expires <= ?4 OR leases.operator = excluded.operator",
                params![item, operator, until, now],
            )
            .map_err(db_err)?;
        Ok(n == 1)
    }

    fn release(&mut self, item: &str, operator: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM leases WHERE item = ?1 AND operator = ?2", params![item, operator])
            .map_err(db_err)?;
        Ok(())
    }

    fn leases(&mut self, now: i64) -> Result<Vec<(String, String)>> {
        let mut st =
            self.conn.prepare("SELECT item, operator FROM leases WHERE expires > ?1 ORDER BY item").map_err(db_err)?;
        let rows = st.query_map([now], |r| Ok((r.get(0)?, r.get(1)?))).map_err(db_err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(db_err)
    }

    fn page_field(&mut self, page_id: i64, field: &str) -> Result<Option<StoredField>> {
        self.conn
            .query_row(
                "SELECT state, value, status, candidates FROM fields WHERE page_id = ?1 AND name = ?2",
                params![page_id, field],
                |r| pages::field_from_row(r, 0),
            )
            .optional()
            .map_err(db_err)
    }

    fn page(&mut self, page_id: i64) -> Result<Option<(i64, PageView)>> {
        let tx = self.conn.transaction().map_err(db_err)?; // one consistent snapshot
        Ok(load_pages(&tx, Some(page_id))?.remove(&page_id))
    }

    fn keyed_on_page(&mut self, page_id: i64) -> Result<Vec<KeyedValue>> {
        let mut st = self
            .conn
            .prepare_cached(&format!("SELECT {KEYED_COLS} FROM keyed k WHERE k.page_id = ?1 ORDER BY k.id"))
            .map_err(db_err)?;
        let mut rows = st.query([page_id]).map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(db_err)? {
            out.push(keyed_from_row(r)?);
        }
        Ok(out)
    }

    fn record_keyed(&mut self, values: &[KeyedValue]) -> Result<()> {
        // Immediate: the write lock is taken (waiting up to the busy timeout) before the page
        // check reads, so many keyers at once queue instead of failing: a deferred transaction
        // that reads and then writes gets SQLITE_BUSY at once when another wrote in between.
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
        {
            let mut page = tx.prepare_cached("SELECT 1 FROM pages WHERE id = ?1").map_err(db_err)?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO keyed(page_id, field, value, source, operator, at, keystrokes)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(db_err)?;
            for v in values {
                if !page.exists([v.page_id]).map_err(db_err)? {
                    return Err(Error::input(format!("keying: no stored page {}", v.page_id)));
                }
                insert
                    .execute(params![v.page_id, v.field, v.value, v.source.as_str(), v.operator, v.at, v.keystrokes])
                    .map_err(db_err)?;
            }
        }
        tx.commit().map_err(db_err)
    }

    fn flagged_pages(&mut self) -> Result<Vec<FlaggedPage>> {
        let mut st = self.conn.prepare(sql::FLAGGED_PAGES).map_err(db_err)?;
        let rows = st
            .query_map([], |r| {
                let run: Option<String> = r.get(3)?;
                let serial: Option<String> = r.get(4)?;
                Ok(FlaggedPage {
                    path: r.get(0)?,
                    page_index: r.get::<_, i64>(1)? as usize,
                    reason: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    form: run.zip(serial),
                })
            })
            .map_err(db_err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(db_err)
    }

    fn decide(&mut self, e: &DecisionEntry) -> Result<()> {
        // The verdict and the chosen page are independent: accepting keeps the choice.
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
        let (verdict, page) = match e.decision {
            Decision::Accept => ("accept", None),
            Decision::Reject => ("reject", None),
            Decision::Choose(p) => ("choose", Some(p)),
        };
        if !tx
            .prepare_cached("SELECT 1 FROM persons WHERE id = ?1")
            .map_err(db_err)?
            .exists([e.person_key])
            .map_err(db_err)?
        {
            return Err(Error::input(format!("review: no stored person {}", e.person_key)));
        }
        let n = match page {
            None => tx.execute(
                "INSERT INTO decisions(person_id, decision, page_id) VALUES (?1, ?2, NULL)
                 ON CONFLICT(person_id) DO UPDATE SET decision = excluded.decision",
                params![e.person_key, verdict],
            ),
            Some(p) => tx.execute(
                "INSERT INTO decisions(person_id, decision, page_id) VALUES (?1, '', ?2)
                 ON CONFLICT(person_id) DO UPDATE SET page_id = excluded.page_id",
                params![e.person_key, p],
            ),
        };
        n.map_err(db_err)?;
        tx.execute(
            "INSERT INTO decision_log(person_id, decision, page_id, reason, operator, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![e.person_key, verdict, page, e.reason, e.operator, e.at],
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)
    }

    fn decisions(&mut self, person_key: i64) -> Result<Vec<DecisionEntry>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT decision, page_id, reason, operator, at FROM decision_log WHERE person_id = ?1 ORDER BY id",
            )
            .map_err(db_err)?;
        let rows = st
            .query_map([person_key], |r| {
                let verdict: String = r.get(0)?;
                let page: Option<i64> = r.get(1)?;
                Ok((verdict, page, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .map_err(db_err)?;
        let mut out = Vec::new();
        for row in rows {
            let (verdict, page, reason, operator, at) = row.map_err(db_err)?;
            let decision = match (verdict.as_str(), page) {
                ("accept", _) => Decision::Accept,
                ("reject", _) => Decision::Reject,
                ("choose", Some(p)) => Decision::Choose(p),
                _ => return Err(Error::input(format!("campaign store: unknown decision '{verdict}'"))),
            };
            out.push(DecisionEntry { person_key, decision, reason, operator, at });
        }
        Ok(out)
    }

    fn record_export(&mut self, selection: &str, items: &[(i64, i64)]) -> Result<i64> {
        let tx = self.conn.transaction().map_err(db_err)?;
        tx.execute("INSERT INTO exports(selection) VALUES (?1)", [selection]).map_err(db_err)?;
        let id = tx.last_insert_rowid();
        {
            // The primary key on person_id makes a second export of a person fail the batch.
            let mut st = tx
                .prepare("INSERT INTO exported(person_id, export_id, page_id) VALUES (?1, ?2, ?3)")
                .map_err(db_err)?;
            for (person, page) in items {
                st.execute(params![person, id, page])
                    .map_err(|e| Error::input(format!("person already exported: {e}")))?;
            }
        }
        tx.commit().map_err(db_err)?;
        Ok(id)
    }

    fn export_batch(&mut self, id: i64) -> Result<(String, Vec<(i64, i64)>)> {
        let selection: String = self
            .conn
            .query_row("SELECT selection FROM exports WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(db_err)?
            .ok_or_else(|| Error::input(format!("no export batch {id} in this store")))?;
        let mut st = self
            .conn
            .prepare("SELECT person_id, page_id FROM exported WHERE export_id = ?1 ORDER BY person_id")
            .map_err(db_err)?;
        let rows = st.query_map([id], |r| Ok((r.get(0)?, r.get(1)?))).map_err(db_err)?;
        Ok((selection, rows.collect::<rusqlite::Result<_>>().map_err(db_err)?))
    }

    fn counts(&mut self) -> Result<StoreCounts> {
        let c = &self.conn;
        let n = |sql: &str| -> Result<usize> {
            c.query_row(sql, [], |r| r.get::<_, i64>(0)).map(|v| v as usize).map_err(db_err)
        };
        Ok(StoreCounts {
            persons: n("SELECT count(*) FROM persons")?,
            forms: n("SELECT count(*) FROM forms")?,
            files: n("SELECT count(DISTINCT hash) FROM file_paths")?,
            duplicate_paths: n("SELECT count(*) - count(DISTINCT hash) FROM file_paths")?,
            pages: n("SELECT count(*) FROM pages")?,
        })
    }
}
