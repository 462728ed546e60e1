//! The SQLite schema, migration by migration; the PostgreSQL store mirrors each one
//! (`store::postgres::schema`), so that both stand at one [`crate::store::copy::SCHEMA_VERSION`].

/// Ordered schema migrations; never edit a published one, append a new one.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE persons (
    id INTEGER PRIMARY KEY,
    id_number TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    sex TEXT,
    ethnicity TEXT NOT NULL,
    birth_date TEXT,
    school TEXT NOT NULL,
    grade TEXT NOT NULL,
    class TEXT NOT NULL
);
CREATE TABLE runs (run TEXT PRIMARY KEY, template TEXT NOT NULL);
CREATE TABLE forms (
    run TEXT NOT NULL REFERENCES runs(run),
    serial TEXT NOT NULL,
    person_id INTEGER NOT NULL REFERENCES persons(id),
    photo_printed INTEGER NOT NULL,
    PRIMARY KEY (run, serial)
);
CREATE INDEX forms_person ON forms(person_id);
CREATE TABLE files (hash BLOB PRIMARY KEY, pages INTEGER NOT NULL);
CREATE TABLE file_paths (hash BLOB NOT NULL, path TEXT NOT NULL, PRIMARY KEY (hash, path));
CREATE TABLE pages (
    id INTEGER PRIMARY KEY,
    file_hash BLOB NOT NULL,
    page_index INTEGER NOT NULL,
    path TEXT NOT NULL,
    out_dir TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reject_reason TEXT,
    run TEXT,
    serial TEXT,
    match TEXT NOT NULL,
    person_id INTEGER REFERENCES persons(id),
    phone TEXT,
    UNIQUE (file_hash, page_index)
);
CREATE INDEX pages_person ON pages(person_id);
CREATE TABLE fields (
    page_id INTEGER NOT NULL REFERENCES pages(id),
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    value TEXT,
    status TEXT,
    PRIMARY KEY (page_id, name)
) WITHOUT ROWID;
CREATE TABLE findings (
    page_id INTEGER NOT NULL REFERENCES pages(id),
    code TEXT NOT NULL,
    subject TEXT NOT NULL,
    message TEXT NOT NULL,
    message_zh TEXT NOT NULL
);
CREATE INDEX findings_page ON findings(page_id);
CREATE TABLE decisions (
    person_id INTEGER PRIMARY KEY REFERENCES persons(id),
    decision TEXT NOT NULL,
    page_id INTEGER
);
CREATE TABLE exports (id INTEGER PRIMARY KEY, selection TEXT NOT NULL);
CREATE TABLE exported (
    person_id INTEGER PRIMARY KEY REFERENCES persons(id),
    export_id INTEGER NOT NULL REFERENCES exports(id),
    page_id INTEGER NOT NULL
);
"#,
    r#"
CREATE TABLE keyed (
    id INTEGER PRIMARY KEY,
    page_id INTEGER NOT NULL REFERENCES pages(id),
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    source TEXT NOT NULL,
    operator TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX keyed_page ON keyed(page_id);
"#,
    r#"
CREATE TABLE accounts (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE leases (
    item TEXT PRIMARY KEY,
    operator TEXT NOT NULL,
    expires INTEGER NOT NULL
);
"#,
    r#"
ALTER TABLE keyed ADD COLUMN keystrokes INTEGER;
CREATE TABLE decision_log (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES persons(id),
    decision TEXT NOT NULL,
    page_id INTEGER,
    reason TEXT,
    operator TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX decision_log_person ON decision_log(person_id);
"#,
    r#"
ALTER TABLE fields ADD COLUMN candidates TEXT;
"#,
    r#"
ALTER TABLE files ADD COLUMN out_dir TEXT;
"#,
];

#[cfg(test)]
mod tests {
    #[test]
    fn both_backends_have_one_migration_per_version() {
        assert_eq!(super::MIGRATIONS.len() as i64, crate::store::copy::SCHEMA_VERSION);
    }
}
