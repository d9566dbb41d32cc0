//! The revocations table: recording one (idempotent, bounded) and reading
//! them all back.

use enclet_capability::RevocationKind;
use rusqlite::{Connection, OptionalExtension as _, params};
use serde_json::Value;

use super::ops::append;
use super::rows::{from_sql, to_sql};
use super::writer::ChainHead;
use crate::audit::AuditEvent;
use crate::store::error::db;
use crate::store::{MAX_REVOCATIONS, Revocation, RevocationRecord, Revoked, StoreError};

/// Columns `sequence, kind, value, reason, revoked_ms`.
type Row = (i64, String, String, Option<String>, i64);

const COLUMNS: &str = "sequence, kind, value, reason, revoked_ms";

fn decode((sequence, kind, value, reason, revoked_ms): Row) -> Result<Revocation, StoreError> {
    let sequence = from_sql(sequence, "revocation sequence")?;
    let corrupt = |why: String| StoreError::Corrupt(format!("revocation {sequence}: {why}"));
    let kind = RevocationKind::parse(&kind).map_err(|e| corrupt(e.to_string()))?;
    let record = RevocationRecord {
        kind,
        value,
        reason,
        revoked_ms: from_sql(revoked_ms, "revoked_ms")?,
    };
    record.check().map_err(|e| corrupt(e.to_string()))?;
    Ok(Revocation { sequence, record })
}

/// Records `r` with `audit` (its `detail.sequence` set), or returns the
/// revocation already recorded for the same kind and value.
pub(super) fn revoke(
    conn: &Connection,
    head: &mut ChainHead,
    r: &RevocationRecord,
    mut audit: AuditEvent,
) -> Result<Revoked, StoreError> {
    let existing: Option<Row> = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM revocations WHERE kind = ?1 AND value = ?2"
        ))
        .map_err(db)?
        .query_row(params![r.kind.as_str(), r.value], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })
        .optional()
        .map_err(db)?;
    if let Some(row) = existing {
        return Ok(Revoked {
            revocation: decode(row)?,
            created: false,
        });
    }
    let count: i64 = conn
        .query_row("SELECT COUNT(*) FROM revocations", [], |row| row.get(0))
        .map_err(db)?;
    let count = from_sql(count, "revocation count")?;
    if count >= u64::try_from(MAX_REVOCATIONS).unwrap_or(u64::MAX) {
        return Err(StoreError::RevocationLimit(MAX_REVOCATIONS));
    }
    let sequence = count
        .checked_add(1)
        .ok_or_else(|| StoreError::Corrupt("revocation sequence overflow".to_owned()))?;
    conn.prepare_cached(&format!(
        "INSERT INTO revocations ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"
    ))
    .map_err(db)?
    .execute(params![
        to_sql(sequence, "sequence")?,
        r.kind.as_str(),
        r.value,
        r.reason,
        to_sql(r.revoked_ms, "revoked_ms")?,
    ])
    .map_err(db)?;
    if let Value::Object(map) = &mut audit.detail {
        map.insert("sequence".to_owned(), Value::from(sequence));
    }
    append(conn, head, vec![audit])?;
    Ok(Revoked {
        revocation: Revocation {
            sequence,
            record: r.clone(),
        },
        created: true,
    })
}

/// Every revocation, by sequence.
pub(super) fn all(conn: &Connection) -> Result<Vec<Revocation>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM revocations ORDER BY sequence"
        ))
        .map_err(db)?;
    let rows = stmt
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })
        .map_err(db)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(decode(row.map_err(db)?)?);
    }
    Ok(out)
}
