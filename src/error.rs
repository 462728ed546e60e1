//! The library's error type, sorted by who is to blame.
//!
//! "Nothing there" and "ambiguous" are never errors: a blank checkbox or an unreadable barcode
//! is an outcome recorded on the page. An [`Error`] means an input, a template, a model, a
//! limit or the file system stopped a stage from running at all (the layout follows the
//! `image` crate's `ImageError`).

use std::path::PathBuf;

/// Everything that can stop a stage of formscan.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input (a scan, a PDF, a roster) is malformed or not what it claims to be.
    #[error("bad input{}: {reason}", path_suffix(.path))]
    Input {
        /// The file at fault, when there is one.
        path: Option<PathBuf>,
        /// What is wrong with it, in words a vendor can act on.
        reason: String,
    },
    /// A template is invalid; `field` names the offending field when there is one.
    #[error("template {template}{}: {reason}", field_suffix(.field))]
    Template {
        /// Template id or file name.
        template: String,
        /// The field at fault.
        field: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// A bundled model or font could not be loaded or run.
    #[error("model {name}: {reason}")]
    Model {
        /// Which model or resource.
        name: String,
        /// What went wrong.
        reason: String,
    },
    /// An input exceeds a configured limit (pixel count, page count, file size).
    #[error("limit exceeded{}: {what} is {actual}, the limit is {limit}", path_suffix(.path))]
    Limits {
        /// The file at fault, when there is one.
        path: Option<PathBuf>,
        /// Which quantity.
        what: &'static str,
        /// Its value in the input.
        actual: u64,
        /// The configured maximum.
        limit: u64,
    },
    /// Reading or writing a file failed.
    #[error("i/o error{}: {source}", path_suffix(.path))]
    Io {
        /// The file involved, when known.
        path: Option<PathBuf>,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

fn path_suffix(p: &Option<PathBuf>) -> String {
    p.as_ref().map(|p| format!(" in {}", p.display())).unwrap_or_default()
}

fn field_suffix(f: &Option<String>) -> String {
    f.as_ref().map(|f| format!(", field `{f}`")).unwrap_or_default()
}

impl Error {
    /// An input error with no file attached.
    pub fn input(reason: impl Into<String>) -> Self {
        Error::Input { path: None, reason: reason.into() }
    }

    /// An input error about `path`.
    pub fn input_at(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Input { path: Some(path.into()), reason: reason.into() }
    }

    /// An i/o error about `path`.
    pub fn io_at(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: Some(path.into()), source }
    }

    /// Attaches `path` to an error that has none yet.
    pub fn with_path(self, p: impl Into<PathBuf>) -> Self {
        match self {
            Error::Input { path: None, reason } => Error::Input { path: Some(p.into()), reason },
            Error::Limits { path: None, what, actual, limit } => {
                Error::Limits { path: Some(p.into()), what, actual, limit }
            }
            Error::Io { path: None, source } => Error::Io { path: Some(p.into()), source },
            other => other,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(source: std::io::Error) -> Self {
        Error::Io { path: None, source }
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
