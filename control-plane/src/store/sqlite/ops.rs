//! The write operations, as run by the writer inside a batch transaction.
//! Each either completes or returns an error (the writer then rolls back its
//! savepoint, so a half-done operation never stays).

use rusqlite::{Connection, OptionalExtension as _, params};
use serde_json::Value;
use zeroize::Zeroizing;

use super::rows::{from_sql, secret_info, to_sql};
use super::writer::ChainHead;
use crate::audit::{AuditEntry, AuditEvent};
use crate::store::cipher::SecretCipher;
use crate::store::error::db;
use crate::store::{NonceRecord, NonceRefusal, SecretInfo, SessionId, SessionRecord, StoreError};

/// Appends `events` after `head`, moving `head` to the last one.
pub(super) fn append(
    conn: &Connection,
    head: &mut ChainHead,
    events: Vec<AuditEvent>,
) -> Result<Vec<u64>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO audit (seq, time_ms, kind, session, peer, detail, prev_hash, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(db)?;
    let mut seqs = Vec::with_capacity(events.len());
    for event in events {
        let seq = head
            .seq
            .checked_add(1)
            .ok_or_else(|| StoreError::Corrupt("audit seq overflow".to_owned()))?;
        let detail = event.check().map_err(StoreError::InvalidAudit)?;
        let entry = AuditEntry::seal(event, seq, head.hash).map_err(StoreError::InvalidAudit)?;
        stmt.execute(params![
            to_sql(seq, "seq")?,
            to_sql(entry.time_ms, "time_ms")?,
            entry.kind.as_str(),
            entry.session,
            entry.peer,
            detail,
            &entry.prev_hash[..],
            &entry.hash[..],
        ])
        .map_err(db)?;
        *head = ChainHead {
            seq,
            hash: entry.hash,
        };
        seqs.push(seq);
    }
    Ok(seqs)
}

pub(super) fn put_session(
    conn: &Connection,
    head: &mut ChainHead,
    s: &SessionRecord,
    audit: Vec<AuditEvent>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO sessions (id, attester, created_ms, expires_ms, peer, ek_name, ak_name) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO UPDATE SET \
         attester = excluded.attester, created_ms = excluded.created_ms, \
         expires_ms = excluded.expires_ms, peer = excluded.peer, \
         ek_name = excluded.ek_name, ak_name = excluded.ak_name",
    )
    .map_err(db)?
    .execute(params![
        &s.id.0[..],
        s.attester,
        to_sql(s.created_ms, "created_ms")?,
        to_sql(s.expires_ms, "expires_ms")?,
        s.peer,
        s.ek_name,
        s.ak_name,
    ])
    .map_err(db)?;
    append(conn, head, audit).map(drop)
}

pub(super) fn issue_nonce(
    conn: &Connection,
    head: &mut ChainHead,
    n: &NonceRecord,
    audit: Vec<AuditEvent>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO nonces (nonce, session, expires_ms, used) VALUES (?1, ?2, ?3, 0)",
    )
    .map_err(db)?
    .execute(params![
        &n.nonce[..],
        &n.session.0[..],
        to_sql(n.expires_ms, "expires_ms")?
    ])
    .map_err(db)?;
    append(conn, head, audit).map(drop)
}

pub(super) fn consume_nonce(
    conn: &Connection,
    session: &SessionId,
    nonce: &[u8; 32],
    now_ms: u64,
) -> Result<Result<(), NonceRefusal>, StoreError> {
    let row: Option<(Vec<u8>, i64, i64)> = conn
        .prepare_cached("SELECT session, expires_ms, used FROM nonces WHERE nonce = ?1")
        .map_err(db)?
        .query_row(params![&nonce[..]], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
        .map_err(db)?;
    let Some((owner, expires_ms, used)) = row else {
        return Ok(Err(NonceRefusal::Unknown));
    };
    if owner != session.0 {
        return Ok(Err(NonceRefusal::Unknown));
    }
    if used != 0 {
        return Ok(Err(NonceRefusal::Replayed));
    }
    if now_ms >= from_sql(expires_ms, "expires_ms")? {
        return Ok(Err(NonceRefusal::Expired));
    }
    conn.prepare_cached("UPDATE nonces SET used = 1 WHERE nonce = ?1")
        .map_err(db)?
        .execute(params![&nonce[..]])
        .map_err(db)?;
    Ok(Ok(()))
}

/// Sets `detail.version` when `detail` is an object.
fn stamp_version(event: &mut AuditEvent, version: Option<u64>) {
    if let Value::Object(map) = &mut event.detail {
        map.insert(
            "version".to_owned(),
            version.map_or(Value::Null, Value::from),
        );
    }
}

/// The version counter of `name` (present or removed).
fn last_version(conn: &Connection, name: &str) -> Result<Option<u64>, StoreError> {
    let version: Option<i64> = conn
        .prepare_cached("SELECT version FROM secrets WHERE name = ?1")
        .map_err(db)?
        .query_row(params![name], |r| r.get(0))
        .optional()
        .map_err(db)?;
    version.map(|v| from_sql(v, "version")).transpose()
}

/// The arguments of [`put_secret`] (the value is wiped when dropped).
pub(super) struct NewSecret {
    pub(super) name: String,
    pub(super) value: Zeroizing<Vec<u8>>,
    pub(super) now_ms: u64,
}

pub(super) fn put_secret(
    conn: &Connection,
    head: &mut ChainHead,
    cipher: &SecretCipher,
    secret: &NewSecret,
    mut audit: AuditEvent,
) -> Result<SecretInfo, StoreError> {
    let name = secret.name.as_str();
    let version = last_version(conn, name)?
        .unwrap_or(0)
        .checked_add(1)
        .ok_or_else(|| StoreError::Corrupt(format!("secret {name:?}: version overflow")))?;
    let sealed = cipher.seal(name, version, &secret.value)?;
    let size = u64::try_from(secret.value.len())
        .map_err(|_| StoreError::InvalidSecret("value too large".to_owned()))?;
    conn.prepare_cached(
        "INSERT INTO secrets (name, version, size_bytes, updated_ms, nonce, ciphertext) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO UPDATE SET \
         version = excluded.version, size_bytes = excluded.size_bytes, \
         updated_ms = excluded.updated_ms, nonce = excluded.nonce, \
         ciphertext = excluded.ciphertext",
    )
    .map_err(db)?
    .execute(params![
        name,
        to_sql(version, "version")?,
        to_sql(size, "size_bytes")?,
        to_sql(secret.now_ms, "updated_ms")?,
        &sealed.nonce[..],
        sealed.ciphertext,
    ])
    .map_err(db)?;
    stamp_version(&mut audit, Some(version));
    append(conn, head, vec![audit])?;
    Ok(SecretInfo {
        name: name.to_owned(),
        version,
        size_bytes: size,
        updated_ms: secret.now_ms,
    })
}

pub(super) fn remove_secret(
    conn: &Connection,
    head: &mut ChainHead,
    name: &str,
    mut audit: AuditEvent,
) -> Result<Option<SecretInfo>, StoreError> {
    let row: Option<(i64, i64, i64)> = conn
        .prepare_cached(
            "SELECT version, size_bytes, updated_ms FROM secrets \
             WHERE name = ?1 AND ciphertext IS NOT NULL",
        )
        .map_err(db)?
        .query_row(params![name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
        .map_err(db)?;
    let removed = row
        .map(|(version, size, updated)| secret_info(name.to_owned(), version, size, updated))
        .transpose()?;
    if removed.is_some() {
        conn.prepare_cached(
            "UPDATE secrets SET nonce = NULL, ciphertext = NULL, size_bytes = 0 WHERE name = ?1",
        )
        .map_err(db)?
        .execute(params![name])
        .map_err(db)?;
    }
    stamp_version(&mut audit, removed.as_ref().map(|info| info.version));
    append(conn, head, vec![audit])?;
    Ok(removed)
}

pub(super) fn purge_expired(conn: &Connection, now_ms: u64) -> Result<u64, StoreError> {
    let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
    let mut purged = 0_u64;
    for sql in [
        "DELETE FROM nonces WHERE expires_ms <= ?1",
        "DELETE FROM sessions WHERE expires_ms <= ?1",
    ] {
        let n = conn
            .prepare_cached(sql)
            .map_err(db)?
            .execute(params![now])
            .map_err(db)?;
        purged = purged.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
    }
    Ok(purged)
}
