//! [`AuditLogReader`]: the audit log of a state directory, read-only (for
//! `enclet audit` and [`crate::audit::verify_dir`]), beside a running control
//! plane or without one.

use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::rows::{self, AUDIT_COLUMNS, decode_entry};
use super::schema;
use crate::audit::{AuditEntry, AuditError, BreakKind, ChainBreak, ChainSummary, ChainVerifier};
use crate::store::error::db;
use crate::store::{MAX_TAIL, STORE_FILE, StoreError};

/// A read-only view of a store's audit log. Opening never creates or
/// modifies the database.
pub struct AuditLogReader {
    conn: Connection,
    path: PathBuf,
}

impl fmt::Debug for AuditLogReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLogReader")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl AuditLogReader {
    /// Opens the store of `state_dir` read-only.
    ///
    /// # Errors
    /// [`StoreError::Missing`] when there is no store file;
    /// [`StoreError::Database`] / [`StoreError::Corrupt`] when it cannot be
    /// read as one.
    pub fn open(state_dir: &Path) -> Result<Self, StoreError> {
        let path = state_dir.join(STORE_FILE);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => return Err(StoreError::Missing { path }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::Missing { path });
            }
            Err(e) => return Err(StoreError::io(&path, &e)),
        }
        let conn = schema::open_reader(&path)?;
        Ok(Self { conn, path })
    }

    /// Recomputes the whole chain, one entry at a time (in one read
    /// transaction, so a running control plane's appends do not interfere).
    ///
    /// # Errors
    /// [`AuditError::Broken`] naming the first broken entry (an unreadable
    /// row is a break too); [`AuditError::Store`] when reading fails.
    pub fn verify(&self) -> Result<ChainSummary, AuditError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {AUDIT_COLUMNS} FROM audit ORDER BY seq"))
            .map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        let mut verifier = ChainVerifier::new();
        while let Some(row) = rows.next().map_err(db)? {
            let entry = decode_entry(row).map_err(|bad| ChainBreak {
                seq: bad
                    .seq
                    .unwrap_or_else(|| verifier.summary().last_seq.saturating_add(1)),
                kind: BreakKind::Malformed(bad.why),
            })?;
            verifier.push(&entry)?;
        }
        Ok(verifier.summary())
    }

    /// The last `n` entries (at most [`MAX_TAIL`]), ascending seq.
    ///
    /// # Errors
    /// Reading fails or a row is corrupt.
    pub fn tail(&self, n: usize) -> Result<Vec<AuditEntry>, StoreError> {
        rows::audit_tail(&self.conn, n.min(MAX_TAIL))
    }
}
