//! Output files: owner-only, written whole or not at all, locked while in use, and safe to
//! open in a spreadsheet.
//!
//! Everything formscan writes holds children's data, and a batch of 300,000 pages runs for
//! hours on disks that fill up and processes that get killed. So:
//!
//! * folders are created `0700` and files `0600` ([`private_dir`], [`private_file`]), every
//!   folder a call creates, not only the last;
//! * a file is written under a temporary name in its folder and renamed into place when it is
//!   complete ([`write_atomic`], [`AtomicFile`]): a full disk or a kill leaves at most a
//!   `.tmp` file, never a partial file under a final name (rename is atomic within a file
//!   system, POSIX `rename(2)`);
//! * a folder or store in use by one process is refused to a second ([`Lock`], an advisory
//!   `flock(2)` lock that the kernel drops when its holder exits, even by SIGKILL);
//! * text bound for a spreadsheet goes through [`spreadsheet_safe`], which neutralises
//!   formulas as OWASP's "CSV Injection" guidance recommends.

use crate::error::{Error, Result};
use std::borrow::Cow;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Creates a folder and any missing parents, each one only its owner can enter (`0700`). An
/// existing last folder is made `0700` too (it is about to hold children's data); existing
/// parents are left as they are.
pub fn private_dir(p: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(p).map_err(|e| Error::io_at(p, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700)).map_err(|e| Error::io_at(p, e))?;
    }
    Ok(())
}

/// Creates (truncating) a file that only its owner can read (`0600`).
pub fn private_file(p: &Path) -> Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(p).map_err(|e| Error::io_at(p, e))
}

/// The temporary name a file is written under before it is renamed to `p`: hidden, in the same
/// folder (so the rename stays within one file system), with the process id so that two
/// writers never share one.
fn temp_name(p: &Path) -> PathBuf {
    let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    p.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Writes `bytes` to `p` (owner-only) whole or not at all: into a temporary file that is renamed
/// to `p` once every byte was written. On failure the temporary file is removed and the error
/// names `p`.
pub fn write_atomic(p: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(p)?;
    f.write_all(bytes).map_err(|e| Error::io_at(p, e))?;
    f.commit()
}

/// A file written under a temporary name and renamed into place by [`AtomicFile::commit`];
/// dropped without a commit, the temporary file is removed and the final name never appears.
#[derive(Debug)]
pub struct AtomicFile {
    file: Option<std::io::BufWriter<File>>,
    temp: PathBuf,
    path: PathBuf,
}

impl AtomicFile {
    /// Starts writing `p` (owner-only).
    pub fn create(p: &Path) -> Result<AtomicFile> {
        let temp = temp_name(p);
        // The error names the file asked for, not the temporary name.
        let file = match private_file(&temp) {
            Ok(f) => f,
            Err(Error::Io { source, .. }) => return Err(Error::io_at(p, source)),
            Err(e) => return Err(e),
        };
        Ok(AtomicFile { file: Some(std::io::BufWriter::new(file)), temp, path: p.to_path_buf() })
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes and renames the file to its final name.
    pub fn commit(mut self) -> Result<()> {
        let Some(w) = self.file.take() else { return Ok(()) };
        let path = self.path.clone();
        // A flush that fails (a full disk) or a rename that fails leaves no temporary file.
        let done = w
            .into_inner()
            .map_err(|e| Error::io_at(&path, e.into_error()))
            .and_then(|_| std::fs::rename(&self.temp, &path).map_err(|e| Error::io_at(&path, e)));
        if done.is_err() {
            let _ = std::fs::remove_file(&self.temp);
        }
        done
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(std::io::Error::other("file already committed")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.as_mut().map_or(Ok(()), |f| f.flush())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// An exclusive claim on a folder or a store, held until dropped: an advisory lock
/// (`flock(2)`) on a lock file, which the kernel releases when the holder exits, however it
/// exits, so a killed run never leaves a stale lock behind. The file records the holder's
/// process id for the message a second process gets.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Takes the lock file `path` (creating it owner-only) for `task`; fails at once, without
    /// waiting, with an [`Error::Io`] of kind `ResourceBusy` naming `what` when another process
    /// holds it.
    pub fn acquire(path: &Path, what: &str, task: &str) -> Result<Lock> {
        let mut o = std::fs::OpenOptions::new();
        o.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        let mut file = o.open(path).map_err(|e| Error::io_at(path, e))?;
        // A lock is held by an open file description, which a process forked by the holder
        // shares until it execs: a holder that just released the lock may still hold it for an
        // instant through a child being started. A few tries over 250 ms ride that out; a
        // second formscan run holds it for minutes and is refused all the same.
        let mut tries = 0;
        let locked = loop {
            match file.try_lock() {
                Err(std::fs::TryLockError::WouldBlock) if tries < 25 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                other => break other,
            }
        };
        match locked {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(path).unwrap_or_default();
                let holder = holder.trim();
                let by = if holder.is_empty() { "another formscan process".to_string() } else { holder.to_string() };
                let msg = format!("{what} is in use by {by}; wait for it to finish (or stop it) and run again");
                return Err(Error::io_at(path, std::io::Error::new(std::io::ErrorKind::ResourceBusy, msg)));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io_at(path, e)),
        }
        // Who holds it, for the second process's message; no personal data.
        let _ = file.set_len(0);
        let _ = write!(file, "formscan {task} (process {})", std::process::id());
        Ok(Lock { _file: file })
    }
}

/// Whether a spreadsheet would take a cell starting with `c` for a formula (OWASP "CSV
/// Injection": `=`, `+`, `-`, `@`, tab and carriage return).
fn formula_start(c: char) -> bool {
    matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r')
}

/// Text for a CSV cell that a person will open in a spreadsheet: a value that Excel or LibreOffice
/// would run as a formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a
/// leading `'`, which spreadsheets show as text (OWASP's "CSV Injection" recommendation). So that
/// [`from_spreadsheet`] can undo it exactly, a value that already starts with apostrophes followed
/// by such a character gets one more. Everything else passes unchanged.
pub fn spreadsheet_safe(s: &str) -> Cow<'_, str> {
    let rest = s.trim_start_matches('\'');
    if rest.chars().next().is_some_and(formula_start) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// Undoes [`spreadsheet_safe`] on a cell read back from a CSV that formscan wrote (a manifest, a
/// roster): one leading `'` before apostrophes and a formula character is removed.
pub fn from_spreadsheet(s: &str) -> &str {
    match s.strip_prefix('\'') {
        Some(rest) if rest.trim_start_matches('\'').chars().next().is_some_and(formula_start) => rest,
        _ => s,
    }
}

/// A file name for a school (or any name from a roster), unique per name and safe on every
/// file system: letters, digits (any script), `-` and `_` are kept, anything else becomes `_`,
/// and the result is cut to 60 characters. When that changed the name, an 8-digit hash of the
/// full name follows (`a_b-1f0c3e2a`), so `a/b`, `a b`, `a?b` and `a_b` get four names and
/// a 3000-character name a short one. A name that needed no change keeps its own.
pub fn unique_file_name(name: &str) -> String {
    use sha2::{Digest, Sha256};
    const MAX_CHARS: usize = 60;
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(MAX_CHARS)
        .collect();
    // A clean name that already ends like a hash suffix could meet another name's cleaned form
    // with its suffix, so it gets a suffix of its own too.
    let looks_suffixed = cleaned.len() > 9
        && cleaned.as_bytes()[cleaned.len() - 9] == b'-'
        && cleaned[cleaned.len() - 8..].bytes().all(|b| b.is_ascii_hexdigit());
    if cleaned == name && !name.is_empty() && !looks_suffixed {
        return cleaned;
    }
    let d = Sha256::digest(name.as_bytes());
    let tag: String = d[..4].iter().map(|b| format!("{b:02x}")).collect();
    if cleaned.is_empty() {
        format!("_-{tag}")
    } else {
        format!("{cleaned}-{tag}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("formscan-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn every_created_folder_is_owner_only() {
        let d = scratch("dirs");
        private_dir(&d.join("a/b/c")).unwrap();
        for p in [d.clone(), d.join("a"), d.join("a/b"), d.join("a/b/c")] {
            assert_eq!(mode(&p), 0o700, "{}", p.display());
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn an_uncommitted_file_leaves_nothing_under_its_name() {
        let d = scratch("atomic");
        private_dir(&d).unwrap();
        let p = d.join("x.csv");
        {
            let mut f = AtomicFile::create(&p).unwrap();
            f.write_all(b"half").unwrap();
        }
        assert!(!p.exists());
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0, "the temporary file is removed");
        write_atomic(&p, b"whole").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"whole");
        #[cfg(unix)]
        assert_eq!(mode(&p), 0o600);
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_failed_write_names_the_final_path() {
        // A folder that cannot take the temporary file: the error names the file asked for.
        let e = write_atomic(Path::new("/proc/formscan-no-such/x.jpg"), b"x").unwrap_err().to_string();
        assert!(e.contains("/proc/formscan-no-such/x.jpg"), "{e}");
    }

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_dropped() {
        let d = scratch("lock");
        private_dir(&d).unwrap();
        let p = d.join(".lock");
        let first = Lock::acquire(&p, "the folder", "process").unwrap();
        let e = Lock::acquire(&p, "the folder", "process").unwrap_err();
        let Error::Io { source, .. } = &e else { panic!("{e}") };
        assert_eq!(source.kind(), std::io::ErrorKind::ResourceBusy);
        assert!(e.to_string().contains(&format!("process {}", std::process::id())), "{e}");
        drop(first);
        Lock::acquire(&p, "the folder", "process").unwrap();
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn formulas_are_neutralised_and_read_back_exactly() {
        for (raw, safe) in [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("+1", "'+1"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("'=x", "''=x"),
            ("张三", "张三"),
            ("'abc", "'abc"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(spreadsheet_safe(raw), safe, "{raw:?}");
            assert_eq!(from_spreadsheet(safe), raw, "{safe:?}");
        }
    }

    #[test]
    fn file_names_are_unique_per_name() {
        let names = ["a b", "a/b", "a?b", "a_b", "a_b-00000000"];
        let files: std::collections::HashSet<String> = names.iter().map(|n| unique_file_name(n)).collect();
        assert_eq!(files.len(), names.len(), "{files:?}");
        assert_eq!(unique_file_name("a_b"), "a_b");
        assert_eq!(unique_file_name("桂林市第一小学"), "桂林市第一小学");
        let long = unique_file_name(&"长".repeat(3000));
        assert!(long.chars().count() <= 69 && long.len() < 255, "{long}");
        assert!(unique_file_name("..").starts_with("__-"));
        assert_eq!(unique_file_name("a/b"), unique_file_name("a/b"), "stable");
    }
}
