//! The `SQLite` schema and how each kind of connection is opened.
//!
//! The write connection puts the database in WAL mode with
//! `synchronous=FULL` (a commit returns once its WAL frames are fsynced) and
//! `secure_delete=ON` (freed pages are zeroed, so a removed secret's
//! ciphertext does not linger in the file). Read connections are read-only.
//! Triggers refuse `UPDATE` and `DELETE` on the audit table: a guard against
//! mistakes, not against an attacker with the file (that is the chain's job).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::store::StoreError;
use crate::store::error::db;

/// The schema version this code writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 2;

/// How long a connection waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;
CREATE TABLE sessions (
    id BLOB PRIMARY KEY,
    attester TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    peer TEXT,
    ek_name BLOB,
    ak_name BLOB
) STRICT;
CREATE INDEX sessions_expiry ON sessions (expires_ms);
CREATE TABLE nonces (
    nonce BLOB PRIMARY KEY,
    session BLOB NOT NULL,
    expires_ms INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX nonces_expiry ON nonces (expires_ms);
-- A removed secret keeps its row without nonce and ciphertext, so the name's
-- versions keep counting up.
CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    size_bytes INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    nonce BLOB,
    ciphertext BLOB
) STRICT;
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    session TEXT,
    peer TEXT,
    detail TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
) STRICT;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
";

/// Version 2: revocations, never updated nor deleted.
const REVOCATIONS: &str = "
CREATE TABLE revocations (
    sequence INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    reason TEXT,
    revoked_ms INTEGER NOT NULL,
    UNIQUE (kind, value)
) STRICT;
CREATE TRIGGER revocations_no_update BEFORE UPDATE ON revocations
BEGIN SELECT RAISE(ABORT, 'revocations are never withdrawn'); END;
CREATE TRIGGER revocations_no_delete BEFORE DELETE ON revocations
BEGIN SELECT RAISE(ABORT, 'revocations are never withdrawn'); END;
";

/// Opens (creating if needed) the database for writing and brings its schema
/// up to date.
pub(super) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(db)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(db)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Database(format!(
            "cannot switch {} to WAL mode (got {mode})",
            path.display()
        )));
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;")
        .map_err(db)?;
    match schema_version(&conn)? {
        0 => conn
            .execute_batch(&format!(
                "BEGIN IMMEDIATE; {SCHEMA} {REVOCATIONS} \
                 PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            ))
            .map_err(db)?,
        1 => conn
            .execute_batch(&format!(
                "BEGIN IMMEDIATE; {REVOCATIONS} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            ))
            .map_err(db)?,
        SCHEMA_VERSION => {}
        other => return Err(newer(path, other)),
    }
    Ok(conn)
}

/// Opens the database read-only (never creates it) and checks its schema
/// (an older one is read as it is: its audit log has not changed shape).
pub(super) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(db)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
    match schema_version(&conn)? {
        1..=SCHEMA_VERSION => Ok(conn),
        0 => Err(StoreError::Corrupt(format!(
            "{} is not a control plane store (no schema)",
            path.display()
        ))),
        other => Err(newer(path, other)),
    }
}

fn schema_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db)
}

fn newer(path: &Path, version: i64) -> StoreError {
    StoreError::Corrupt(format!(
        "{} has schema version {version}, newer than this control plane's {SCHEMA_VERSION}",
        path.display()
    ))
}
