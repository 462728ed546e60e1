//! Where a campaign store is, and a small pool of open stores for servers.

use super::{PostgresStore, SqliteStore, Store};
use formscan::domain::Date;
use formscan::error::{Error, Result};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};

/// Where a campaign store is: what `--db` (or `FORMSCAN_DB`) says.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An SQLite file (created when absent).
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL, `postgres://user[:password]@host[:port]/database[?...]`.
    Postgres(String),
}

impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_string())
    }
}

impl std::fmt::Display for StoreLocation {
    /// The location without a password, for logs and messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Sqlite(p) => write!(f, "{}", p.display()),
            StoreLocation::Postgres(url) => f.write_str(&super::postgres::redact(url)),
        }
    }
}

impl From<PathBuf> for StoreLocation {
    /// A path that is a `postgres://` URL names a server; any other (non-UTF-8 ones included)
    /// is the SQLite file, as given.
    fn from(p: PathBuf) -> StoreLocation {
        match p.to_str() {
            Some(s) if matches!(StoreLocation::parse(s), StoreLocation::Postgres(_)) => StoreLocation::parse(s),
            _ => StoreLocation::Sqlite(p),
        }
    }
}

impl From<&str> for StoreLocation {
    fn from(s: &str) -> StoreLocation {
        StoreLocation::parse(s)
    }
}

impl From<&std::path::Path> for StoreLocation {
    fn from(p: &std::path::Path) -> StoreLocation {
        StoreLocation::from(p.to_path_buf())
    }
}

impl StoreLocation {
    /// A `postgres://` or `postgresql://` URL is a server store; anything else is a file path.
    pub fn parse(s: &str) -> StoreLocation {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            StoreLocation::Postgres(s.to_string())
        } else {
            StoreLocation::Sqlite(PathBuf::from(s))
        }
    }

    /// Opens the store (migrating its schema), setting the reference date to `reference` when
    /// given (a new store gets today's).
    pub fn open(&self, reference: Option<Date>) -> Result<Box<dyn Store>> {
        Ok(match self {
            StoreLocation::Sqlite(p) => Box::new(SqliteStore::open(p, reference)?),
            StoreLocation::Postgres(url) => Box::new(PostgresStore::open(url, reference)?),
        })
    }

    /// How many connections a server process should hold: one for an SQLite file (it has
    /// one writer at a time anyway), `server` for PostgreSQL.
    pub fn pool_size(&self, server: usize) -> usize {
        match self {
            StoreLocation::Sqlite(_) => 1,
            StoreLocation::Postgres(_) => server.max(1),
        }
    }
}

/// Open stores for a server's request handlers (the keying station): a handler takes one,
/// waiting while all are busy, and it goes back when the [`PooledStore`] is dropped. A store
/// whose last use failed is reopened before it is handed out again, so a restarted database
/// server costs one failed request, not the station.
pub struct StorePool {
    location: StoreLocation,
    idle: Mutex<Vec<Option<Box<dyn Store>>>>,
    returned: Condvar,
}

impl std::fmt::Debug for StorePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorePool").field("location", &self.location).finish()
    }
}

impl StorePool {
    /// Opens `size` stores at `location` (at least one).
    pub fn open(location: &StoreLocation, size: usize) -> Result<Arc<StorePool>> {
        let mut idle = Vec::new();
        for _ in 0..size.max(1) {
            idle.push(Some(location.open(None)?));
        }
        Ok(Arc::new(StorePool { location: location.clone(), idle: Mutex::new(idle), returned: Condvar::new() }))
    }

    /// Where the stores are.
    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    /// Takes a store, waiting for one while all are in use.
    pub fn get(self: &Arc<StorePool>) -> Result<PooledStore> {
        let mut idle = self.idle.lock().map_err(|_| Error::input("store pool lock poisoned"))?;
        loop {
            if let Some(slot) = idle.pop() {
                drop(idle);
                let store = match slot {
                    Some(s) => s,
                    // Its last use failed: reconnect (an error here gives the slot back empty).
                    None => match self.location.open(None) {
                        Ok(s) => s,
                        Err(e) => {
                            self.put(None);
                            return Err(e);
                        }
                    },
                };
                return Ok(PooledStore { pool: Arc::clone(self), store: Some(store), failed: false });
            }
            idle = self.returned.wait(idle).map_err(|_| Error::input("store pool lock poisoned"))?;
        }
    }

    fn put(&self, store: Option<Box<dyn Store>>) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(store);
            self.returned.notify_one();
        }
    }
}

/// A store taken from a [`StorePool`]; goes back when dropped.
pub struct PooledStore {
    pool: Arc<StorePool>,
    store: Option<Box<dyn Store>>,
    failed: bool,
}

impl PooledStore {
    /// Marks the store as failed: it is reopened before its next use.
    pub fn mark_failed(&mut self) {
        self.failed = true;
    }
}

impl std::ops::Deref for PooledStore {
    type Target = dyn Store;
    fn deref(&self) -> &(dyn Store + 'static) {
        self.store.as_deref().expect("a pooled store is present until dropped")
    }
}

impl std::ops::DerefMut for PooledStore {
    fn deref_mut(&mut self) -> &mut (dyn Store + 'static) {
        self.store.as_deref_mut().expect("a pooled store is present until dropped")
    }
}

impl Drop for PooledStore {
    fn drop(&mut self) {
        let store = self.store.take().filter(|_| !self.failed);
        self.pool.put(store);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_a_server_and_any_other_path_a_file_as_given() {
        assert!(matches!(StoreLocation::parse("postgres://u@h/c"), StoreLocation::Postgres(_)));
        assert!(matches!(StoreLocation::parse("postgresql://u@h/c"), StoreLocation::Postgres(_)));
        assert_eq!(StoreLocation::parse("campaign.db"), StoreLocation::Sqlite("campaign.db".into()));
        assert_eq!(
            StoreLocation::from(PathBuf::from("postgres://u:pw@h/c")).to_string(),
            "postgres://u:***@h/c",
            "shown without its password"
        );
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            // A file name that is not UTF-8 stays the file it names.
            let odd = PathBuf::from(std::ffi::OsStr::from_bytes(b"camp\xffaign.db"));
            assert_eq!(StoreLocation::from(odd.clone()), StoreLocation::Sqlite(odd));
        }
        assert_eq!(StoreLocation::Sqlite("a.db".into()).pool_size(8), 1);
        assert_eq!(StoreLocation::parse("postgres://h/c").pool_size(8), 8);
    }
}
