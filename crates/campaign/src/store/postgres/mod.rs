//! The server campaign store: PostgreSQL, shared by several scan stations and keying stations
//! (docs/deployment.md). Same tables, same answers as [`crate::store::SqliteStore`]; what
//! differs is how concurrent writers are kept apart.
//!
//! # Concurrency
//!
//! * **Files** are claimed by content hash with a session-level advisory lock
//!   (`pg_try_advisory_lock`, PostgreSQL manual §13.3.5 "Advisory Locks"): of two stations
//!   given one file, one gets the lock and reads it; the other sees it claimed
//!   ([`FileClaim::Elsewhere`]) or, once committed, done. A station that dies (SIGKILL, a lost
//!   network) loses its connection and with it its locks, so its files are free for a rerun
//!   at once: no lease to wait out.
//! * **Pages** commit with their fields and findings in one transaction
//!   ([`Store::commit`]); `(file_hash, page_index)` is unique, so nothing doubles.
//! * **Keying leases** are rows locked with `FOR UPDATE SKIP LOCKED`: a keyer asking for an
//!   item another keyer is taking at that instant skips it rather than waiting, and the
//!   lease row says who holds it until when.
//! * **Export batches** are numbered `max + 1` under a transaction-level advisory lock, so two
//!   exports starting together get consecutive numbers, never a gap or a double (a sequence
//!   would leave gaps on rollback). An export also claims the store for its whole run
//!   ([`Store::claim_writer`]): a second export waits for the first, however long it takes,
//!   and then finds its persons exported.
//! * **A station that vanishes** (power cut, network lost) has its connection closed by the
//!   server within about a minute: every session sets TCP keepalives of 30 s idle, then 3
//!   probes 10 s apart (`tcp_keepalives_*`, PostgreSQL manual §20.3), instead of the
//!   system's two hours, so its claimed files are free again soon.
//! * **Migrations** run in one transaction under an advisory lock: stations starting together
//!   migrate once.
//!
//! # Connecting
//!
//! `postgres://user[:password]@host[:port]/database`. Without a password in the URL, the
//! `PGPASSWORD` environment variable is used. `sslmode=require`, `verify-ca` or `verify-full`
//! turns TLS on, with the server's certificate always verified, against the system's roots
//! or the PEM file given as `sslrootcert=`; without it the connection is plain (a loopback or
//! private network).

mod pages;
mod schema;

use super::copy::{Kind, SCHEMA_VERSION};
use super::sql;
use super::*;
use ::postgres::types::ToSql;
use ::postgres::{Client, Row, Statement};
use formscan::error::Error;
use std::collections::HashMap;

/// The first of the two keys of this store's advisory locks (`'fsc1'`): files use the
/// one-key form, whose key space is separate (PostgreSQL manual, "Advisory Lock Functions").
const LOCK_CLASS: i32 = 0x6673_6331;
/// Second keys: the migration, a running export, and export numbering.
const LOCK_MIGRATE: i32 = 1;
const LOCK_EXPORT: i32 = 2;
const LOCK_EXPORT_NUMBER: i32 = 3;
/// Rows fetched per round trip when a table is read whole ([`Store::scan_table`]).
const SCAN_BATCH: i32 = 5000;

pub(super) fn db_err(e: ::postgres::Error) -> Error {
    Error::Io { path: None, source: std::io::Error::other(e) }
}

/// The URL with its password replaced by `***`, in the user-info part (`user:password@`, up
/// to the last `@` before the query) and as a `password=` parameter: what logs and messages
/// show.
pub fn redact(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else { return url.to_string() };
    let (rest, query) = match url[start..].find('?') {
        Some(q) => (&url[start..start + q], Some(&url[start + q + 1..])),
        None => (&url[start..], None),
    };
    let mut out = url[..start].to_string();
    match rest.rfind('@') {
        Some(at) => match rest[..at].find(':') {
            Some(colon) => out.push_str(&format!("{}:***{}", &rest[..colon], &rest[at..])),
            None => out.push_str(rest),
        },
        None => out.push_str(rest),
    }
    if let Some(q) = query {
        let parts: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k == "password" => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&parts.join("&"));
    }
    out
}

/// Splits the options this store handles itself off the URL: TLS wanted (sslmode require,
/// verify-ca, verify-full) and the root certificate file.
fn split_url(url: &str) -> (String, bool, Option<String>) {
    let Some((base, query)) = url.split_once('?') else { return (url.to_string(), false, None) };
    let (mut tls, mut root, mut kept) = (false, None, Vec::new());
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        match k {
            "sslmode" => tls = matches!(v, "require" | "verify-ca" | "verify-full"),
            "sslrootcert" => root = Some(v.to_string()),
            _ => kept.push(kv),
        }
    }
    let url = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
    (url, tls, root)
}

fn tls_config(root_file: Option<&str>) -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    match root_file {
        Some(f) => {
            use rustls::pki_types::{pem::PemObject, CertificateDer};
            let certs =
                CertificateDer::pem_file_iter(f).map_err(|e| Error::input_at(f, format!("sslrootcert: {e}")))?;
            for cert in certs {
                let cert = cert.map_err(|e| Error::input_at(f, format!("sslrootcert: {e}")))?;
                roots.add(cert).map_err(|e| Error::input_at(f, format!("sslrootcert: {e}")))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert); // an unusable system root is skipped, as by browsers
            }
        }
    }
    // The `ring` provider, as the station's TLS (crates/station/src/tls.rs says why).
    #[allow(deprecated)]
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::input(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn connect(url: &str) -> Result<Client> {
    let (plain, tls, root) = split_url(url);
    let mut config: ::postgres::Config =
        plain.parse().map_err(|e| Error::input(format!("database URL {}: {e}", redact(url))))?;
    if config.get_password().is_none() {
        if let Ok(p) = std::env::var("PGPASSWORD") {
            config.password(p);
        }
    }
    if config.get_application_name().is_none() {
        config.application_name("formscan");
    }
    config.connect_timeout(std::time::Duration::from_secs(10));
    // The client's side of the keepalives (a server gone silent): see the module docs.
    config.keepalives(true).keepalives_idle(std::time::Duration::from_secs(30));
    let what = |e: ::postgres::Error| Error::Io {
        path: None,
        source: std::io::Error::other(format!("connecting to {}: {e}", redact(url))),
    };
    let mut client = if tls {
        config.ssl_mode(::postgres::config::SslMode::Require);
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(root.as_deref())?);
        config.connect(tls).map_err(what)?
    } else {
        config.ssl_mode(::postgres::config::SslMode::Disable);
        config.connect(::postgres::NoTls).map_err(what)?
    };
    // The server's side: a dead station's session (and its file claims) ends within a minute.
    client
        .batch_execute("SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3")
        .map_err(db_err)?;
    Ok(client)
}

/// The PostgreSQL implementation of [`Store`]: one connection.
pub struct PostgresStore {
    /// Always `Some` until dropped (see `Drop`).
    client: Option<Client>,
    url: String,
    statements: HashMap<&'static str, Statement>,
    /// Files this connection holds the advisory lock of.
    claimed: HashSet<FileHash>,
    export_claimed: bool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("url", &redact(&self.url)).finish()
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // The synchronous client owns a Tokio runtime, which may not be dropped on a thread
        // that runs async tasks (the keying station's): it is then dropped on a thread of its own.
        if let Some(c) = self.client.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                let _ = std::thread::Builder::new().name("formscan-pg-close".into()).spawn(move || drop(c));
            }
        }
    }
}

fn file_key(file: &FileHash) -> i64 {
    i64::from_le_bytes(file[..8].try_into().unwrap_or([0; 8]))
}

impl PostgresStore {
    /// Connects to `url`, applies pending migrations, and sets the reference date to
    /// `reference` (or today when the campaign has none yet).
    pub fn open(url: &str, reference: Option<Date>) -> Result<PostgresStore> {
        let client = connect(url)?;
        let mut s = PostgresStore {
            client: Some(client),
            url: url.to_string(),
            statements: HashMap::new(),
            claimed: HashSet::new(),
            export_claimed: false,
        };
        s.migrate()?;
        match reference {
            Some(d) => s.set_reference_date(d)?,
            None => {
                s.c()
                    .execute(
                        "INSERT INTO settings(key, value) VALUES ('reference_date', $1) ON CONFLICT (key) DO NOTHING",
                        &[&super::sqlite::today().to_string()],
                    )
                    .map_err(db_err)?;
            }
        }
        Ok(s)
    }

    fn c(&mut self) -> &mut Client {
        self.client.as_mut().expect("the client is present until the store is dropped")
    }

    /// A prepared statement, prepared once per connection.
    fn st(&mut self, sql: &'static str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.c().prepare(sql).map_err(db_err)?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }

    /// A read-only transaction on one snapshot (repeatable read): a whole-campaign read stays
    /// consistent while other stations keep writing.
    fn snapshot(&mut self) -> Result<::postgres::Transaction<'_>> {
        self.c()
            .build_transaction()
            .isolation_level(::postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(db_err)
    }

    fn version(&mut self) -> Result<i64> {
        let exists: Option<String> =
            self.c().query_one("SELECT to_regclass('formscan_schema')::text", &[]).map_err(db_err)?.get(0);
        if exists.is_none() {
            return Ok(0);
        }
        Ok(self.c().query_one("SELECT version FROM formscan_schema", &[]).map_err(db_err)?.get(0))
    }

    fn migrate(&mut self) -> Result<()> {
        // Up to date: nothing to create, so a station's role needs no CREATE right.
        let v = self.version()?;
        if v > SCHEMA_VERSION {
            return Err(Error::input(format!(
                "campaign store schema version {v} is newer than this formscan ({SCHEMA_VERSION})"
            )));
        }
        if v == SCHEMA_VERSION {
            return Ok(());
        }
        let mut tx = self.c().transaction().map_err(db_err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&LOCK_CLASS, &LOCK_MIGRATE]).map_err(db_err)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS formscan_schema (version BIGINT NOT NULL)").map_err(db_err)?;
        let v: i64 = match tx.query_opt("SELECT version FROM formscan_schema", &[]).map_err(db_err)? {
            Some(r) => r.get(0),
            None => {
                tx.execute("INSERT INTO formscan_schema(version) VALUES (0)", &[]).map_err(db_err)?;
                0
            }
        };
        for m in schema::MIGRATIONS.iter().skip(v as usize) {
            tx.batch_execute(&schema::with_c_collation(m)).map_err(db_err)?;
        }
        tx.execute("UPDATE formscan_schema SET version = $1", &[&SCHEMA_VERSION]).map_err(db_err)?;
        tx.commit().map_err(db_err)
    }
}

fn person_from_row(r: &Row, at: usize) -> Person {
    let sex: Option<String> = r.get(at + 2);
    let birth: Option<String> = r.get(at + 4);
    Person {
        id_number: r.get(at),
        name: r.get(at + 1),
        sex: sex.and_then(|s| s.parse().ok()),
        ethnicity: r.get(at + 3),
        birth_date: birth.and_then(|s| s.parse().ok()),
        school: r.get(at + 5),
        grade: r.get(at + 6),
        class: r.get(at + 7),
        photo: None,
    }
}

const PERSON_COLS: &str = "p.id_number, p.name, p.sex, p.ethnicity, p.birth_date, p.school, p.grade, p.class";

fn value_of(r: &Row, i: usize, kind: Kind) -> Value {
    let v = match kind {
        Kind::Int => r.get::<_, Option<i64>>(i).map(Value::Int),
        Kind::Text => r.get::<_, Option<String>>(i).map(Value::Text),
        Kind::Bytes => r.get::<_, Option<Vec<u8>>>(i).map(Value::Bytes),
        Kind::Bool => r.get::<_, Option<bool>>(i).map(Value::Bool),
    };
    v.unwrap_or(Value::Null)
}

mod store_impl;

/// For tests: a new, empty database on the test server, as a URL.
///
/// The server is the one `FORMSCAN_TEST_PG` names (a URL whose role may create databases;
/// `.ci/run` starts a throwaway cluster and sets it). Without it, `Ok(None)`, and the caller
/// skips its PostgreSQL part with a message; under CI (`CI` set) a missing server is an error,
/// so that CI never passes without having run them.
#[doc(hidden)]
pub fn scratch_database(name: &str) -> Result<Option<String>> {
    let Ok(admin) = std::env::var("FORMSCAN_TEST_PG") else {
        if std::env::var_os("CI").is_some() {
            return Err(Error::input("CI is set but FORMSCAN_TEST_PG is not: the PostgreSQL tests cannot run"));
        }
        eprintln!("skipping the PostgreSQL part of `{name}`: set FORMSCAN_TEST_PG to a server's URL to run it");
        return Ok(None);
    };
    // Unique per process and call: tests run in parallel and CI reuses the cluster.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let clean: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    let db = format!("t_{}_{n}_{}", std::process::id(), &clean[..clean.len().min(30)]);
    let mut c = connect(&admin)?;
    // Two statements: a multi-statement string runs as one transaction, which these refuse.
    c.batch_execute(&format!("DROP DATABASE IF EXISTS {db}")).map_err(db_err)?;
    c.batch_execute(&format!("CREATE DATABASE {db}")).map_err(db_err)?;
    let (plain, _, _) = split_url(&admin);
    let (base, query) = match plain.split_once('?') {
        Some((b, q)) => (b.to_string(), format!("?{q}")),
        None => (plain.clone(), String::new()),
    };
    let start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[start..].find('/').map(|i| start + i).unwrap_or(base.len());
    Ok(Some(format!("{}/{db}{query}", &base[..host_end])))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TLS as the URL asks: verified against the CA given, refused against the system's roots
    /// (the test server's certificate is signed by a CA of its own). Runs when the test server
    /// speaks TLS (`tools/pg-throwaway.sh` sets `FORMSCAN_TEST_PG_CA`).
    #[test]
    fn tls_is_verified_when_the_url_asks_for_it() {
        let (Ok(admin), Ok(ca)) = (std::env::var("FORMSCAN_TEST_PG"), std::env::var("FORMSCAN_TEST_PG_CA")) else {
            eprintln!("skipping the TLS test: the test server has no certificate (FORMSCAN_TEST_PG_CA)");
            return;
        };
        let sep = if admin.contains('?') { '&' } else { '?' };
        let mut c = connect(&format!("{admin}{sep}sslmode=verify-full&sslrootcert={ca}")).unwrap();
        let on: bool = c.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).unwrap().get(0);
        assert!(on, "the connection is not encrypted");
        let mut plain = connect(&admin).unwrap();
        let on: bool = plain.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).unwrap().get(0);
        assert!(!on, "no sslmode, no TLS");
        let e = connect(&format!("{admin}{sep}sslmode=require")).err().expect("an unknown CA must not verify");
        assert!(e.to_string().contains("connecting to"), "{e}");
    }

    /// The holder of a lease keys its item while another keyer's transaction has the lease
    /// row locked to look at it: the holder waits and keeps its lease instead of being refused.
    /// Another operator, meanwhile, is refused at once.
    #[test]
    fn the_holder_of_a_lease_waits_out_a_look_at_it() {
        let Some(url) = scratch_database("lease_look").unwrap() else { return };
        let mut holder = PostgresStore::open(&url, None).unwrap();
        let mut other = PostgresStore::open(&url, None).unwrap();
        let (item, now) = ("7:agent_phone", 1_000_000);
        assert!(holder.lease(item, "anna", now, now + 600).unwrap());
        // Another keyer's lease attempt, caught between its lock and its rollback.
        let mut looker = connect(&url).unwrap();
        let mut tx = looker.transaction().unwrap();
        tx.query_one("SELECT operator FROM leases WHERE item = $1 FOR UPDATE", &[&item]).unwrap();
        assert!(!other.lease(item, "bo", now + 1, now + 601).unwrap(), "held by anna and locked");
        let renewing = std::thread::spawn(move || holder.lease(item, "anna", now + 2, now + 602).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(!renewing.is_finished(), "the holder waits for the lock");
        tx.rollback().unwrap();
        assert!(renewing.join().unwrap(), "the holder keeps its lease");
        assert_eq!(other.leases(now + 3).unwrap(), vec![(item.to_string(), "anna".to_string())]);
    }

    #[test]
    fn urls_lose_their_password_and_keep_the_rest() {
        assert_eq!(redact("postgres://station:s3cret@db.lan:5432/c2026"), "postgres://station:***@db.lan:5432/c2026");
        assert_eq!(redact("postgres://station@db.lan/c2026"), "postgres://station@db.lan/c2026");
        assert_eq!(redact("postgresql://db.lan/c?sslmode=require"), "postgresql://db.lan/c?sslmode=require");
        assert_eq!(redact("postgres://u:pa/ss@h/d"), "postgres://u:***@h/d");
        assert_eq!(
            redact("postgres://u@h/d?password=s3cret&sslmode=require"),
            "postgres://u@h/d?password=***&sslmode=require"
        );
        let (url, tls, root) =
            split_url("postgres://u@h/d?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=x");
        assert_eq!(
            (url.as_str(), tls, root.as_deref()),
            ("postgres://u@h/d?application_name=x", true, Some("/etc/ca.pem"))
        );
        assert!(!split_url("postgres://u@h/d?sslmode=prefer").1);
        assert_eq!(file_key(&[1; 32]), i64::from_le_bytes([1; 8]));
    }
}
