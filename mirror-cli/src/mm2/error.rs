//! Errors and warnings of the MirrorMaker 2 reader. Each names the file, the
//! line and the key; none ever contains a secret value.

use std::fmt;
use std::path::PathBuf;

/// Why a MirrorMaker 2 properties file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Mm2Error {
    /// The properties file cannot be read.
    #[error("cannot read the MirrorMaker 2 config {}: {source}. Check the path and that this process may read it", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// A line is not valid `.properties` syntax.
    #[error("{origin}:{line}: {reason}")]
    Syntax {
        /// The file (or the name given to [`Mm2Config::from_str`](super::Mm2Config::from_str)).
        origin: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },

    /// A key's value cannot be used here.
    #[error("{origin}:{line}: {key}: {reason}. Accepted: {accepted}")]
    Value {
        /// The file.
        origin: String,
        /// 1-based line number of the entry.
        line: usize,
        /// The key as written in the file.
        key: String,
        /// What is wrong (never the value of a secret).
        reason: String,
        /// What would be accepted instead.
        accepted: String,
    },

    /// A required key is missing.
    #[error("{origin}: {key} is not set: {reason}")]
    Missing {
        /// The file.
        origin: String,
        /// The key that must be added, as it should be written.
        key: String,
        /// Why it is needed and how to write it.
        reason: String,
    },

    /// A replication flow cannot run as configured (unknown cluster, a
    /// cluster mirrored to itself, an endless replication loop).
    #[error("{origin}:{line}: flow {flow}: {reason}")]
    Flow {
        /// The file.
        origin: String,
        /// The line that declares or enables the flow.
        line: usize,
        /// The flow, `source->target`.
        flow: String,
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// A truststore, keystore, certificate or key file named in the config
    /// cannot be read or loaded.
    #[error("{origin}:{line}: {key}: cannot use {}: {reason}", path.display())]
    Store {
        /// The file.
        origin: String,
        /// The line of the key naming the store.
        line: usize,
        /// The key naming the store, e.g. `a.ssl.truststore.location`.
        key: String,
        /// The store's path.
        path: PathBuf,
        /// Why it cannot be used, with what to do.
        reason: String,
    },
}

/// What kind of thing a [`Warning`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WarningKind {
    /// A key this reader does not know (a typo, or a setting of another
    /// tool).
    UnknownKey,
    /// A MirrorMaker 2 or Kafka client key this project knows and
    /// deliberately ignores: it has no effect here.
    NoEffect,
    /// A deprecated spelling that is still honoured.
    Deprecated,
    /// A key set more than once; the last value wins, as in Java.
    Duplicate,
    /// A setting that weakens security.
    Insecure,
    /// A store file whose content is not the type it is declared as; it is
    /// read as what it holds.
    StoreType,
    /// A setting honoured with a caveat (e.g. a value inferred from another
    /// key, or a flow that is configured but not enabled).
    Note,
}

/// Something in the file that does not stop it from being used but that
/// the user should know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// What kind of warning.
    pub kind: WarningKind,
    /// The file.
    pub origin: String,
    /// 1-based line number, when the warning is about one entry.
    pub line: Option<usize>,
    /// The key as written in the file.
    pub key: String,
    /// The explanation (never a secret value).
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}: {}", self.origin, self.key, self.message),
            None => write!(f, "{}: {}: {}", self.origin, self.key, self.message),
        }
    }
}
