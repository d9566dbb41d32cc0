//! The store's errors.

use std::path::PathBuf;

/// Everything the store can fail with. Messages name files, secrets and
/// bounds, never a secret value or key byte.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A secret name or value out of its bounds.
    #[error("invalid secret: {0}")]
    InvalidSecret(String),
    /// An audit event out of its bounds.
    #[error("invalid audit event: {0}")]
    InvalidAudit(String),
    /// A revocation whose field breaks its rule.
    #[error("invalid revocation: {field}: {reason}")]
    InvalidRevocation {
        /// The field (`kind`, `value` or `reason`).
        field: &'static str,
        /// The rule it breaks.
        reason: String,
    },
    /// The store holds as many revocations as a signed list can carry.
    #[error("the store already holds the most revocations a list can carry ({0})")]
    RevocationLimit(usize),
    /// A session or nonce record out of its bounds.
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// The key file is missing, malformed or too permissive.
    #[error("key file {path}: {reason}")]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The key file is not the key the store's secrets were encrypted with.
    #[error(
        "key file {path} does not match the key this store was created with: restore the \
         original key file (the secrets cannot be read without it)"
    )]
    KeyMismatch {
        /// The key file.
        path: PathBuf,
    },
    /// A stored secret failed to decrypt (wrong key, or its row was altered).
    #[error("secret {name:?} failed to decrypt: its stored ciphertext was altered or moved")]
    Undecryptable {
        /// The secret's name.
        name: String,
    },
    /// Another process holds the state directory.
    #[error(
        "{path} is locked by another process: is a control plane already running on this \
         state directory?"
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// There is no store where one was to be read.
    #[error("no store at {path} (not a control plane state directory?)")]
    Missing {
        /// The expected database file.
        path: PathBuf,
    },
    /// A stored row is not what this version writes.
    #[error("store corrupt: {0}")]
    Corrupt(String),
    /// The database refused an operation.
    #[error("database: {0}")]
    Database(String),
    /// A file of the state directory could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The store could not commit; nothing of the operation stayed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// Stable `snake_case` code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidSecret(_) => "invalid_secret",
            Self::InvalidAudit(_) => "invalid_audit",
            Self::InvalidRecord(_) => "invalid_record",
            Self::InvalidRevocation { .. } => "invalid_revocation",
            Self::RevocationLimit(_) => "revocation_limit",
            Self::KeyFile { .. } => "key_file",
            Self::KeyMismatch { .. } => "key_mismatch",
            Self::Undecryptable { .. } => "secret_undecryptable",
            Self::Locked { .. } => "store_locked",
            Self::Missing { .. } => "store_missing",
            Self::Corrupt(_) => "store_corrupt",
            Self::Database(_) => "database",
            Self::Io { .. } => "io",
            Self::Unavailable(_) => "store_unavailable",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, e: &std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            reason: e.to_string(),
        }
    }
}

/// A database error as a [`StoreError`] (rusqlite's messages carry SQL and
/// constraint names, never bound values).
#[expect(
    clippy::needless_pass_by_value,
    reason = "used as `map_err(db)`, which passes the error by value"
)]
pub(crate) fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}
