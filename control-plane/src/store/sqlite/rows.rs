//! Rows to records and back: integer conversions and the read queries shared
//! by the store and the read-only audit reader.

use rusqlite::{Connection, OptionalExtension as _, Row, params};

use crate::audit::AuditEntry;
use crate::store::error::db;
use crate::store::{SecretInfo, SessionId, SessionRecord, StoreError};

/// The audit columns, in [`decode_entry`]'s order.
pub(super) const AUDIT_COLUMNS: &str = "seq, time_ms, kind, session, peer, detail, prev_hash, hash";

/// A `u64` for an `INTEGER` column (`SQLite` integers are signed).
pub(super) fn to_sql(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value)
        .map_err(|_| StoreError::InvalidRecord(format!("{what} {value} is too large")))
}

/// An `INTEGER` column back to `u64`.
pub(super) fn from_sql(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} {value} is negative")))
}

/// A row that is not an audit entry: its seq when readable, and why.
#[derive(Debug)]
pub(super) struct BadRow {
    pub(super) seq: Option<u64>,
    pub(super) why: String,
}

/// Reads an audit row (selected with [`AUDIT_COLUMNS`]).
pub(super) fn decode_entry(row: &Row<'_>) -> Result<AuditEntry, BadRow> {
    let seq = row
        .get::<_, i64>(0)
        .ok()
        .and_then(|s| u64::try_from(s).ok());
    let bad = |why: String| BadRow { seq, why };
    let Some(seq) = seq else {
        return Err(bad("seq is not a positive integer".to_owned()));
    };
    let column = |e: rusqlite::Error| bad(e.to_string());
    let time_ms: i64 = row.get(1).map_err(column)?;
    let kind: String = row.get(2).map_err(column)?;
    let session: Option<String> = row.get(3).map_err(column)?;
    let peer: Option<String> = row.get(4).map_err(column)?;
    let detail: String = row.get(5).map_err(column)?;
    let prev_hash: Vec<u8> = row.get(6).map_err(column)?;
    let hash: Vec<u8> = row.get(7).map_err(column)?;
    Ok(AuditEntry {
        seq,
        time_ms: u64::try_from(time_ms).map_err(|_| bad("time_ms is negative".to_owned()))?,
        kind: kind
            .parse()
            .map_err(|e: crate::audit::UnknownAuditKind| bad(e.to_string()))?,
        session,
        peer,
        detail: serde_json::from_str(&detail)
            .map_err(|e| bad(format!("detail is not JSON: {e}")))?,
        prev_hash: prev_hash
            .try_into()
            .map_err(|_| bad("prev_hash is not 32 bytes".to_owned()))?,
        hash: hash
            .try_into()
            .map_err(|_| bad("hash is not 32 bytes".to_owned()))?,
    })
}

/// The last `n` audit entries, ascending.
pub(super) fn audit_tail(conn: &Connection, n: usize) -> Result<Vec<AuditEntry>, StoreError> {
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit ORDER BY seq DESC LIMIT ?1"
        ))
        .map_err(db)?;
    let mut rows = stmt.query(params![n]).map_err(db)?;
    let mut entries = Vec::new();
    while let Some(row) = rows.next().map_err(db)? {
        let entry = decode_entry(row).map_err(|bad| {
            StoreError::Corrupt(format!(
                "audit entry {}: {}",
                bad.seq.map_or_else(|| "?".to_owned(), |s| s.to_string()),
                bad.why
            ))
        })?;
        entries.push(entry);
    }
    entries.reverse();
    Ok(entries)
}

/// Session `id`.
pub(super) fn session(
    conn: &Connection,
    id: &SessionId,
) -> Result<Option<SessionRecord>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT attester, created_ms, expires_ms, peer, ek_name, ak_name \
             FROM sessions WHERE id = ?1",
        )
        .map_err(db)?
        .query_row(params![&id.0[..]], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<Vec<u8>>>(4)?,
                r.get::<_, Option<Vec<u8>>>(5)?,
            ))
        })
        .optional()
        .map_err(db)?;
    let Some((attester, created, expires, peer, ek_name, ak_name)) = row else {
        return Ok(None);
    };
    Ok(Some(SessionRecord {
        id: *id,
        attester,
        created_ms: from_sql(created, "created_ms")?,
        expires_ms: from_sql(expires, "expires_ms")?,
        peer,
        ek_name,
        ak_name,
    }))
}

/// A secret's info from `name, version, size_bytes, updated_ms` columns.
pub(super) fn secret_info(
    name: String,
    version: i64,
    size: i64,
    updated: i64,
) -> Result<SecretInfo, StoreError> {
    Ok(SecretInfo {
        name,
        version: from_sql(version, "version")?,
        size_bytes: from_sql(size, "size_bytes")?,
        updated_ms: from_sql(updated, "updated_ms")?,
    })
}

/// Every present secret, by name.
pub(super) fn list_secrets(conn: &Connection) -> Result<Vec<SecretInfo>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT name, version, size_bytes, updated_ms FROM secrets \
             WHERE ciphertext IS NOT NULL ORDER BY name",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .map_err(db)?;
    let mut out = Vec::new();
    for row in rows {
        let (name, version, size, updated) = row.map_err(db)?;
        out.push(secret_info(name, version, size, updated)?);
    }
    Ok(out)
}

/// A present secret as stored: its info, nonce and ciphertext.
pub(super) struct StoredSecret {
    pub(super) info: SecretInfo,
    pub(super) nonce: Vec<u8>,
    pub(super) ciphertext: Vec<u8>,
}

/// Columns `version, size_bytes, updated_ms, nonce, ciphertext`.
type SecretRow = (i64, i64, i64, Vec<u8>, Vec<u8>);

/// A present secret's info, nonce and ciphertext.
pub(super) fn sealed_secret(
    conn: &Connection,
    name: &str,
) -> Result<Option<StoredSecret>, StoreError> {
    let row: Option<SecretRow> = conn
        .prepare_cached(
            "SELECT version, size_bytes, updated_ms, nonce, ciphertext FROM secrets \
             WHERE name = ?1 AND ciphertext IS NOT NULL",
        )
        .map_err(db)?
        .query_row(params![name], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()
        .map_err(db)?;
    let Some((version, size, updated, nonce, ciphertext)) = row else {
        return Ok(None);
    };
    Ok(Some(StoredSecret {
        info: secret_info(name.to_owned(), version, size, updated)?,
        nonce,
        ciphertext,
    }))
}
