//! [`Store`] for [`PostgresStore`]; the module docs say how writers are kept apart.

use super::pages::{field_from_row, keyed_from_row, load_pages, KEYED_COLS};
use super::*;

type Params<'a> = Vec<&'a (dyn ToSql + Sync)>;

impl Store for PostgresStore {
    fn reference_date(&mut self) -> Result<Date> {
        let v: Option<String> = self
            .c()
            .query_opt("SELECT value FROM settings WHERE key = 'reference_date'", &[])
            .map_err(db_err)?
            .map(|r| r.get(0));
        match v {
            Some(v) => v.parse().map_err(|e| Error::input(format!("stored reference date `{v}`: {e}"))),
            None => Ok(crate::store::sqlite::today()),
        }
    }

    fn set_reference_date(&mut self, date: Date) -> Result<()> {
        self.c()
            .execute(
                "INSERT INTO settings(key, value) VALUES ('reference_date', $1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&date.to_string()],
            )
            .map_err(db_err)?;
        Ok(())
    }

    fn record_print_run(&mut self, run: &str, template: &str, forms: &[PrintedForm]) -> Result<()> {
        let person =
            self.st("INSERT INTO persons(id_number, name, sex, ethnicity, birth_date, school, grade, class)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (id_number) DO UPDATE SET name = excluded.name, sex = excluded.sex,
               ethnicity = excluded.ethnicity, birth_date = excluded.birth_date,
               school = excluded.school, grade = excluded.grade, class = excluded.class
             RETURNING id")?;
        let form = self.st("INSERT INTO forms(run, serial, person_id, photo_printed) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING")?;
        let mut tx = self.c().transaction().map_err(db_err)?;
        tx.execute("INSERT INTO runs(run, template) VALUES ($1, $2) ON CONFLICT DO NOTHING", &[&run, &template])
            .map_err(db_err)?;
        for f in forms {
            let p = &f.person;
            let sex = p.sex.map(|s| s.to_string());
            let birth = p.birth_date.map(|d| d.to_string());
            let id: i64 = tx
                .query_one(&person, &[&p.id_number, &p.name, &sex, &p.ethnicity, &birth, &p.school, &p.grade, &p.class])
                .map_err(db_err)?
                .get(0);
            tx.execute(&form, &[&run, &f.serial, &id, &f.photo_printed]).map_err(db_err)?;
        }
        tx.commit().map_err(db_err)
    }

    fn lookup_form(&mut self, run: &str, serial: &str) -> Result<FormMatch> {
        let hit =
            self.st("SELECT p.id, f.photo_printed, p.id_number, p.name, p.sex, p.ethnicity, p.birth_date, p.school,
               p.grade, p.class FROM forms f JOIN persons p ON p.id = f.person_id
             WHERE f.run = $1 AND f.serial = $2")?;
        if let Some(r) = self.c().query_opt(&hit, &[&run, &serial]).map_err(db_err)? {
            return Ok(FormMatch::Known {
                person: StoredPerson { key: r.get(0), person: person_from_row(&r, 2) },
                photo_printed: r.get(1),
            });
        }
        let known = self.st("SELECT 1 FROM runs WHERE run = $1")?;
        let run_known = self.c().query_opt(&known, &[&run]).map_err(db_err)?.is_some();
        Ok(if run_known { FormMatch::UnknownSerial } else { FormMatch::UnknownRun })
    }

    fn completed_files(&mut self) -> Result<HashSet<FileHash>> {
        let rows = self.c().query("SELECT hash FROM files", &[]).map_err(db_err)?;
        Ok(rows.iter().filter_map(|r| <FileHash>::try_from(r.get::<_, &[u8]>(0)).ok()).collect())
    }

    fn completed_paths(&mut self, out_dir: &str) -> Result<HashSet<String>> {
        let sql = sql::COMPLETED_PATHS.replace("?1", "$1");
        let rows = self.c().query(&sql, &[&out_dir]).map_err(db_err)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn claim_writer(&mut self, task: &str) -> Result<()> {
        // Intake needs no store-wide claim here: files are claimed one by one. An export holds
        // the store until it is dropped, so that a second one exports only what is left.
        if task != "export" || self.export_claimed {
            return Ok(());
        }
        // Waits as long as the other export runs (copying a large campaign's photos takes
        // minutes); the lock goes with that export's connection, however it ends.
        self.c().execute("SELECT pg_advisory_lock($1, $2)", &[&LOCK_CLASS, &LOCK_EXPORT]).map_err(db_err)?;
        self.export_claimed = true;
        Ok(())
    }

    fn claim_file(&mut self, file: &FileHash) -> Result<FileClaim> {
        if self.claimed.contains(file) {
            return Ok(FileClaim::Claimed);
        }
        let lock = self.st("SELECT pg_try_advisory_lock($1)")?;
        let done = self.st("SELECT 1 FROM files WHERE hash = $1")?;
        let key = file_key(file);
        let got: bool = self.c().query_one(&lock, &[&key]).map_err(db_err)?.get(0);
        // Read after the lock: a station commits a file's pages and marks it done before it
        // lets the lock go, so a file found unlocked and not done is not being read.
        let is_done = self.c().query_opt(&done, &[&&file[..]]).map_err(db_err)?.is_some();
        match (got, is_done) {
            (true, false) => {
                self.claimed.insert(*file);
                Ok(FileClaim::Claimed)
            }
            (true, true) => {
                self.c().execute("SELECT pg_advisory_unlock($1)", &[&key]).map_err(db_err)?;
                Ok(FileClaim::Done)
            }
            (false, true) => Ok(FileClaim::Done),
            (false, false) => Ok(FileClaim::Elsewhere),
        }
    }

    fn release_file(&mut self, file: &FileHash) -> Result<()> {
        if self.claimed.remove(file) {
            self.c().execute("SELECT pg_advisory_unlock($1)", &[&file_key(file)]).map_err(db_err)?;
        }
        Ok(())
    }

    fn commit(&mut self, items: &[IntakeItem]) -> Result<()> {
        // Stations given the same files record the same (hash, path) rows: each transaction
        // writes them in one order (sorted), so two cannot wait on each other; should the
        // server still pick one as a deadlock victim (or fail it in a serialisation
        // conflict), the transaction is run again, whole.
        let mut attempt = 0;
        loop {
            match self.commit_once(items) {
                Err(CommitError::Retry(_)) if attempt < 3 => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20 << attempt));
                }
                Err(CommitError::Retry(e)) => return Err(db_err(e)),
                Err(CommitError::Other(e)) => return Err(e),
                Ok(()) => return Ok(()),
            }
        }
    }

    fn persons(&mut self) -> Result<Vec<PersonView>> {
        // One consistent snapshot of the whole campaign, as other stations keep writing.
        let mut tx = self.snapshot()?;
        let mut out: Vec<PersonView> = Vec::new();
        let mut index: BTreeMap<i64, usize> = BTreeMap::new();
        let sql = format!(
            "SELECT p.id, {PERSON_COLS}, d.decision, d.page_id, e.export_id FROM persons p
             LEFT JOIN decisions d ON d.person_id = p.id LEFT JOIN exported e ON e.person_id = p.id
             ORDER BY p.school, p.grade, p.class, p.id_number"
        );
        for r in tx.query(&sql, &[]).map_err(db_err)? {
            let key: i64 = r.get(0);
            let decision = match r.get::<_, Option<&str>>(9) {
                Some("accept") => Some(Decision::Accept),
                Some("reject") => Some(Decision::Reject),
                _ => None,
            };
            index.insert(key, out.len());
            out.push(PersonView {
                person: StoredPerson { key, person: person_from_row(&r, 1) },
                forms: Vec::new(),
                pages: Vec::new(),
                decision,
                chosen_page: r.get(10),
                exported: r.get(11),
            });
        }
        for r in tx
            .query("SELECT person_id, run, serial, photo_printed FROM forms ORDER BY run, serial", &[])
            .map_err(db_err)?
        {
            if let Some(&i) = index.get(&r.get::<_, i64>(0)) {
                out[i].forms.push((r.get(1), r.get(2), r.get(3)));
            }
        }
        for (person, v) in load_pages(&mut tx, None)?.into_values() {
            if let Some(&i) = index.get(&person) {
                out[i].pages.push(v);
            }
        }
        tx.commit().map_err(db_err)?;
        Ok(out)
    }

    fn flagged_pages(&mut self) -> Result<Vec<FlaggedPage>> {
        let rows = self.c().query(sql::FLAGGED_PAGES, &[]).map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| {
                let run: Option<String> = r.get(3);
                let serial: Option<String> = r.get(4);
                FlaggedPage {
                    path: r.get(0),
                    page_index: r.get::<_, i64>(1) as usize,
                    reason: r.get::<_, Option<String>>(2).unwrap_or_default(),
                    form: run.zip(serial),
                }
            })
            .collect())
    }

    fn decide(&mut self, e: &DecisionEntry) -> Result<()> {
        let (verdict, page) = match e.decision {
            Decision::Accept => ("accept", None),
            Decision::Reject => ("reject", None),
            Decision::Choose(p) => ("choose", Some(p)),
        };
        let mut tx = self.c().transaction().map_err(db_err)?;
        if tx.query_opt("SELECT 1 FROM persons WHERE id = $1", &[&e.person_key]).map_err(db_err)?.is_none() {
            return Err(Error::input(format!("review: no stored person {}", e.person_key)));
        }
        match page {
            None => tx.execute(
                "INSERT INTO decisions(person_id, decision, page_id) VALUES ($1, $2, NULL)
                 ON CONFLICT (person_id) DO UPDATE SET decision = excluded.decision",
                &[&e.person_key, &verdict],
            ),
            Some(p) => tx.execute(
                "INSERT INTO decisions(person_id, decision, page_id) VALUES ($1, '', $2)
                 ON CONFLICT (person_id) DO UPDATE SET page_id = excluded.page_id",
                &[&e.person_key, &p],
            ),
        }
        .map_err(db_err)?;
        tx.execute(
            "INSERT INTO decision_log(person_id, decision, page_id, reason, operator, at) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&e.person_key, &verdict, &page, &e.reason, &e.operator, &e.at],
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)
    }

    fn decisions(&mut self, person_key: i64) -> Result<Vec<DecisionEntry>> {
        let rows = self
            .c()
            .query(
                "SELECT decision, page_id, reason, operator, at FROM decision_log WHERE person_id = $1 ORDER BY id",
                &[&person_key],
            )
            .map_err(db_err)?;
        let mut out = Vec::new();
        for r in rows {
            let verdict: String = r.get(0);
            let decision = match (verdict.as_str(), r.get::<_, Option<i64>>(1)) {
                ("accept", _) => Decision::Accept,
                ("reject", _) => Decision::Reject,
                ("choose", Some(p)) => Decision::Choose(p),
                _ => return Err(Error::input(format!("campaign store: unknown decision '{verdict}'"))),
            };
            out.push(DecisionEntry { person_key, decision, reason: r.get(2), operator: r.get(3), at: r.get(4) });
        }
        Ok(out)
    }

    fn record_keyed(&mut self, values: &[KeyedValue]) -> Result<()> {
        let mut tx = self.c().transaction().map_err(db_err)?;
        for v in values {
            if tx.query_opt("SELECT 1 FROM pages WHERE id = $1", &[&v.page_id]).map_err(db_err)?.is_none() {
                return Err(Error::input(format!("keying: no stored page {}", v.page_id)));
            }
            tx.execute(
                "INSERT INTO keyed(page_id, field, value, source, operator, at, keystrokes)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[&v.page_id, &v.field, &v.value, &v.source.as_str(), &v.operator, &v.at, &v.keystrokes.map(i64::from)],
            )
            .map_err(db_err)?;
        }
        tx.commit().map_err(db_err)
    }

    fn page_field(&mut self, page_id: i64, field: &str) -> Result<Option<StoredField>> {
        let st = self.st("SELECT state, value, status, candidates FROM fields WHERE page_id = $1 AND name = $2")?;
        Ok(self.c().query_opt(&st, &[&page_id, &field]).map_err(db_err)?.map(|r| field_from_row(&r, 0)))
    }

    fn keyed_on_page(&mut self, page_id: i64) -> Result<Vec<KeyedValue>> {
        let sql = format!("SELECT {KEYED_COLS} FROM keyed k WHERE k.page_id = $1 ORDER BY k.id");
        let rows = self.c().query(&sql, &[&page_id]).map_err(db_err)?;
        rows.iter().map(keyed_from_row).collect()
    }

    fn page(&mut self, page_id: i64) -> Result<Option<(i64, PageView)>> {
        let mut tx = self.snapshot()?;
        let p = load_pages(&mut tx, Some(page_id))?.remove(&page_id);
        tx.commit().map_err(db_err)?;
        Ok(p)
    }

    fn add_account(&mut self, a: &Account) -> Result<()> {
        let n = self
            .c()
            .execute(
                "INSERT INTO accounts(name, role, password_hash, disabled) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO NOTHING",
                &[&a.name, &a.role.as_str(), &a.password_hash, &a.disabled],
            )
            .map_err(db_err)?;
        if n == 0 {
            return Err(Error::input(format!("an account named `{}` exists already", a.name)));
        }
        Ok(())
    }

    fn accounts(&mut self) -> Result<Vec<Account>> {
        let rows = self
            .c()
            .query("SELECT name, role, password_hash, disabled FROM accounts ORDER BY name", &[])
            .map_err(db_err)?;
        let mut out = Vec::new();
        for r in rows {
            let role: String = r.get(1);
            out.push(Account { name: r.get(0), role: role.parse()?, password_hash: r.get(2), disabled: r.get(3) });
        }
        Ok(out)
    }

    fn set_account_disabled(&mut self, name: &str, disabled: bool) -> Result<()> {
        let n = self
            .c()
            .execute("UPDATE accounts SET disabled = $2 WHERE name = $1", &[&name, &disabled])
            .map_err(db_err)?;
        if n == 0 {
            return Err(Error::input(format!("no account named `{name}`")));
        }
        Ok(())
    }

    fn lease(&mut self, item: &str, operator: &str, now: i64, until: i64) -> Result<bool> {
        let ensure =
            self.st("INSERT INTO leases(item, operator, expires) VALUES ($1, '', 0) ON CONFLICT DO NOTHING")?;
        let lock = self.st("SELECT operator, expires FROM leases WHERE item = $1 FOR UPDATE SKIP LOCKED")?;
        let peek = self.st("SELECT operator, expires FROM leases WHERE item = $1")?;
        let wait = self.st("SELECT operator, expires FROM leases WHERE item = $1 FOR UPDATE")?;
        let take = self.st("UPDATE leases SET operator = $2, expires = $3 WHERE item = $1")?;
        let mut tx = self.c().transaction().map_err(db_err)?;
        tx.execute(&ensure, &[&item]).map_err(db_err)?;
        let row = match tx.query_opt(&lock, &[&item]).map_err(db_err)? {
            Some(row) => row,
            None => {
                // Locked this instant by another transaction. One taking the item: skip it
                // rather than wait. But a keyer asking for work (its list older than this
                // lease) also locks the item to look at it, and lets go at once when it finds
                // the lease held: the holder, keying its own item, waits for that rather than
                // be refused its own item ("another operator holds …", seen on two stations
                // under load).
                let held = tx.query_opt(&peek, &[&item]).map_err(db_err)?;
                let mine = held.is_some_and(|r| r.get::<_, String>(0) == operator && r.get::<_, i64>(1) > now);
                if !mine {
                    return Ok(false);
                }
                tx.query_one(&wait, &[&item]).map_err(db_err)?
            }
        };
        let (holder, expires): (String, i64) = (row.get(0), row.get(1));
        if expires > now && holder != operator {
            return Ok(false);
        }
        tx.execute(&take, &[&item, &operator, &until]).map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(true)
    }

    fn release(&mut self, item: &str, operator: &str) -> Result<()> {
        self.c()
            .execute("DELETE FROM leases WHERE item = $1 AND operator = $2", &[&item, &operator])
            .map_err(db_err)?;
        Ok(())
    }

    fn leases(&mut self, now: i64) -> Result<Vec<(String, String)>> {
        let rows = self
            .c()
            .query("SELECT item, operator FROM leases WHERE expires > $1 ORDER BY item", &[&now])
            .map_err(db_err)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn record_export(&mut self, selection: &str, items: &[(i64, i64)]) -> Result<i64> {
        let mut tx = self.c().transaction().map_err(db_err)?;
        // Numbered under a lock held to the commit: the next number is taken only after the
        // previous batch committed or rolled back, so batches are 1..n without gaps.
        tx.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&LOCK_CLASS, &LOCK_EXPORT_NUMBER]).map_err(db_err)?;
        let id: i64 = tx.query_one("SELECT coalesce(max(id), 0) + 1 FROM exports", &[]).map_err(db_err)?.get(0);
        tx.execute("INSERT INTO exports(id, selection) VALUES ($1, $2)", &[&id, &selection]).map_err(db_err)?;
        let persons: Vec<i64> = items.iter().map(|i| i.0).collect();
        let pages: Vec<i64> = items.iter().map(|i| i.1).collect();
        // The primary key on person_id makes a second export of a person fail the batch.
        tx.execute(
            "INSERT INTO exported(person_id, export_id, page_id) SELECT person, $1, page FROM unnest($2::bigint[], $3::bigint[]) AS u(person, page)",
            &[&id, &persons, &pages],
        )
        .map_err(|e| Error::input(format!("person already exported: {e}")))?;
        tx.commit().map_err(db_err)?;
        Ok(id)
    }

    fn export_batch(&mut self, id: i64) -> Result<(String, Vec<(i64, i64)>)> {
        let selection: String = self
            .c()
            .query_opt("SELECT selection FROM exports WHERE id = $1", &[&id])
            .map_err(db_err)?
            .ok_or_else(|| Error::input(format!("no export batch {id} in this store")))?
            .get(0);
        let rows = self
            .c()
            .query("SELECT person_id, page_id FROM exported WHERE export_id = $1 ORDER BY person_id", &[&id])
            .map_err(db_err)?;
        Ok((selection, rows.iter().map(|r| (r.get(0), r.get(1))).collect()))
    }

    fn counts(&mut self) -> Result<StoreCounts> {
        let r = self
            .c()
            .query_one(
                "SELECT (SELECT count(*) FROM persons), (SELECT count(*) FROM forms),
                   (SELECT count(DISTINCT hash) FROM file_paths),
                   (SELECT count(*) - count(DISTINCT hash) FROM file_paths), (SELECT count(*) FROM pages)",
                &[],
            )
            .map_err(db_err)?;
        let n = |i: usize| r.get::<_, i64>(i) as usize;
        Ok(StoreCounts { persons: n(0), forms: n(1), files: n(2), duplicate_paths: n(3), pages: n(4) })
    }

    fn describe(&self) -> String {
        format!("postgres {}", redact(&self.url))
    }

    fn schema_version(&mut self) -> Result<i64> {
        self.version()
    }

    fn check(&mut self) -> Result<Vec<String>> {
        // The server keeps its own pages and foreign keys sound (and `amcheck` is for the
        // administrator); what is checked here is the campaign's invariants.
        let mut problems = Vec::new();
        let v = self.version()?;
        if v != SCHEMA_VERSION {
            problems.push(format!("schema version {v}, expected {SCHEMA_VERSION}"));
        }
        for (what, q) in sql::INVARIANTS {
            let n: i64 = self.c().query_one(*q, &[]).map_err(db_err)?.get(0);
            if n != 0 {
                problems.push(format!("{what}: {n}"));
            }
        }
        Ok(problems)
    }

    fn scan_table(&mut self, table: &TableDef, row: &mut dyn FnMut(Vec<Value>) -> Result<()>) -> Result<()> {
        let cols: Vec<&str> = table.columns.iter().map(|c| c.0).collect();
        let sql = format!("SELECT {} FROM {}", cols.join(", "), table.name);
        let mut tx = self.snapshot()?;
        // A portal, fetched in batches: a table of millions of rows is never held whole.
        let portal = tx.bind(sql.as_str(), &[]).map_err(db_err)?;
        loop {
            let rows = tx.query_portal(&portal, SCAN_BATCH).map_err(db_err)?;
            for r in &rows {
                row(table.columns.iter().enumerate().map(|(i, c)| value_of(r, i, c.1)).collect())?;
            }
            if rows.len() < SCAN_BATCH as usize {
                break;
            }
        }
        tx.commit().map_err(db_err)
    }

    fn restore_begin(&mut self) -> Result<()> {
        let r = self.c().query_one(sql::CAMPAIGN_ROWS, &[]).map_err(db_err)?;
        if r.get::<_, i64>(0) != 0 {
            return Err(Error::input(format!(
                "{} already holds a campaign: copy into an empty database",
                redact(&self.url)
            )));
        }
        // The settings of the empty store (its default reference date) give way to the copy's.
        self.c().batch_execute("BEGIN; DELETE FROM settings;").map_err(db_err)
    }

    fn restore_rows(&mut self, table: &TableDef, rows: &[Vec<Value>]) -> Result<()> {
        use ::postgres::binary_copy::BinaryCopyInWriter;
        use ::postgres::types::Type;
        let cols: Vec<&str> = table.columns.iter().map(|c| c.0).collect();
        let types: Vec<Type> = table
            .columns
            .iter()
            .map(|c| match c.1 {
                Kind::Int => Type::INT8,
                Kind::Text => Type::TEXT,
                Kind::Bytes => Type::BYTEA,
                Kind::Bool => Type::BOOL,
            })
            .collect();
        let sql = format!("COPY {} ({}) FROM STDIN BINARY", table.name, cols.join(", "));
        let sink = self.c().copy_in(sql.as_str()).map_err(db_err)?;
        let mut w = BinaryCopyInWriter::new(sink, &types);
        for row in rows {
            let vals: Vec<Box<dyn ToSql + Sync>> = row
                .iter()
                .zip(table.columns)
                .map(|(v, c)| -> Box<dyn ToSql + Sync> {
                    match (v, c.1) {
                        (Value::Int(i), _) => Box::new(*i),
                        (Value::Text(t), _) => Box::new(t.clone()),
                        (Value::Bytes(b), _) => Box::new(b.clone()),
                        (Value::Bool(b), _) => Box::new(*b),
                        (Value::Null, Kind::Int) => Box::new(None::<i64>),
                        (Value::Null, Kind::Text) => Box::new(None::<String>),
                        (Value::Null, Kind::Bytes) => Box::new(None::<Vec<u8>>),
                        (Value::Null, Kind::Bool) => Box::new(None::<bool>),
                    }
                })
                .collect();
            let refs: Vec<&(dyn ToSql + Sync)> = vals.iter().map(|b| b.as_ref()).collect();
            w.write(&refs).map_err(db_err)?;
        }
        w.finish().map_err(db_err)?;
        Ok(())
    }

    fn restore_abort(&mut self) -> Result<()> {
        self.c().batch_execute("ROLLBACK").map_err(db_err)
    }

    fn restore_end(&mut self) -> Result<()> {
        // Keys were copied as they were: the sequences move past them.
        let mut sql = String::new();
        for t in super::super::copy::TABLES {
            if let Some(col) = t.serial {
                sql.push_str(&format!(
                    "SELECT setval(pg_get_serial_sequence('{0}', '{1}'), coalesce((SELECT max({1}) FROM {0}), 0) + 1, false);",
                    t.name, col
                ));
            }
        }
        sql.push_str("COMMIT;");
        self.c().batch_execute(&sql).map_err(db_err)
    }
}

/// Why a commit failed: worth running again, or not.
enum CommitError {
    Retry(::postgres::Error),
    Other(Error),
}

impl From<::postgres::Error> for CommitError {
    fn from(e: ::postgres::Error) -> CommitError {
        use ::postgres::error::SqlState;
        match e.code() {
            Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE => {
                CommitError::Retry(e)
            }
            _ => CommitError::Other(db_err(e)),
        }
    }
}

impl From<Error> for CommitError {
    fn from(e: Error) -> CommitError {
        CommitError::Other(e)
    }
}

impl PostgresStore {
    /// One attempt of [`Store::commit`], in one transaction.
    fn commit_once(&mut self, items: &[IntakeItem]) -> std::result::Result<(), CommitError> {
        let page = self.st(
            "INSERT INTO pages(file_hash, page_index, path, out_dir, outcome, reject_reason, run, serial, match,
               person_id, phone)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (file_hash, page_index) DO NOTHING RETURNING id",
        )?;
        // A page's fields and findings go in one statement each (arrays unnested), so a page
        // costs three round trips whatever its field count.
        let fields = self.st("INSERT INTO fields(page_id, name, state, value, status, candidates)
             SELECT $1::bigint, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])")?;
        let findings = self.st("INSERT INTO findings(page_id, code, subject, message, message_zh)
             SELECT $1::bigint, code, subject, message, message_zh
               FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])
               WITH ORDINALITY AS f(code, subject, message, message_zh, n) ORDER BY n")?;
        let seen = self.st("INSERT INTO file_paths(hash, path) VALUES ($1, $2) ON CONFLICT DO NOTHING")?;
        let done = self.st("INSERT INTO files(hash, pages, out_dir) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")?;
        // File rows first, in key order; then the pages; then the files marked done, in order.
        let mut seen_rows: Vec<(&FileHash, &String)> = items
            .iter()
            .filter_map(|i| match i {
                IntakeItem::FileSeen { file, path } => Some((file, path)),
                _ => None,
            })
            .collect();
        seen_rows.sort();
        let mut done_rows: Vec<(&FileHash, &usize, &String)> = items
            .iter()
            .filter_map(|i| match i {
                IntakeItem::FileDone { file, pages, out_dir } => Some((file, pages, out_dir)),
                _ => None,
            })
            .collect();
        done_rows.sort();
        let mut tx = self.c().transaction()?;
        for (file, path) in seen_rows {
            tx.execute(&seen, &[&&file[..], path])?;
        }
        for item in items {
            let IntakeItem::Page(p) = item else { continue };
            let (run, serial) = p.form.clone().unzip();
            let (file, index) = (&p.file[..], p.page_index as i64);
            let (outcome, matched) = (p.outcome.as_str(), p.matched.as_str());
            let args: Params = vec![
                &file,
                &index,
                &p.path,
                &p.out_dir,
                &outcome,
                &p.reject_reason,
                &run,
                &serial,
                &matched,
                &p.person_key,
                &p.phone,
            ];
            let Some(row) = tx.query_opt(&page, &args)? else {
                continue; // committed before (a rerun after a kill): kept as it is
            };
            let id: i64 = row.get(0);
            let names: Vec<&str> = p.fields.keys().map(String::as_str).collect();
            let states: Vec<&str> = p.fields.values().map(|f| f.state.as_str()).collect();
            let values: Vec<Option<&str>> = p.fields.values().map(|f| f.value.as_deref()).collect();
            let statuses: Vec<Option<&str>> = p.fields.values().map(|f| f.status.as_deref()).collect();
            let candidates: Vec<Option<String>> =
                p.fields.values().map(|f| (!f.candidates.is_empty()).then(|| f.candidates.join(","))).collect();
            tx.execute(&fields, &[&id, &names, &states, &values, &statuses, &candidates])?;
            if !p.findings.is_empty() {
                let code: Vec<&str> = p.findings.iter().map(|f| f.code.as_str()).collect();
                let subject: Vec<&str> = p.findings.iter().map(|f| f.subject.as_str()).collect();
                let message: Vec<&str> = p.findings.iter().map(|f| f.message.as_str()).collect();
                let zh: Vec<&str> = p.findings.iter().map(|f| f.message_zh.as_str()).collect();
                tx.execute(&findings, &[&id, &code, &subject, &message, &zh])?;
            }
        }
        for (file, pages, out_dir) in done_rows {
            tx.execute(&done, &[&&file[..], &(*pages as i64), out_dir])?;
        }
        tx.commit()?;
        Ok(())
    }
}
