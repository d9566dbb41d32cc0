//! The control plane's state: sessions, nonces, secrets (encrypted at rest),
//! revocations and the audit log, behind the [`Store`] trait.
//!
//! ## Design
//!
//! * **A trait without SQL.** [`Store`] speaks in records ([`SessionRecord`],
//!   [`NonceRecord`], [`SecretInfo`], [`Revocation`], [`AuditEntry`]); [`SqliteStore`] is the
//!   embedded implementation, a `PostgreSQL` one can sit beside it. Methods
//!   block: async callers run them on a blocking pool.
//! * **Audit in the same transaction.** Every write method takes the audit
//!   events that record it; they commit together or not at all, so the log
//!   never claims a change that did not happen, nor misses one that did.
//! * **Durable before it returns.** A write returns only after its transaction
//!   is on disk (`SQLite` WAL with `synchronous=FULL`).
//! * **Group commit.** One writer thread owns the write connection. It takes
//!   every operation queued at that moment (up to [`MAX_BATCH`]), runs each in
//!   its own savepoint inside one transaction, commits once (one fsync), then
//!   answers each caller: 16 concurrent callers cost about one commit, not 16.
//!   An operation that fails is rolled back to its savepoint alone; if the
//!   commit fails, every operation of the batch gets the error and none of
//!   their effects stay. Reads use their own connections.
//! * **Revocations are never withdrawn.** Each gets the next `sequence` (its
//!   1-based position, so the count of revocations ever made); revoking what
//!   is already revoked changes nothing and records nothing; at most
//!   [`MAX_REVOCATIONS`] (what one signed list carries).
//! * **Secrets encrypted at rest** with AES-256-GCM under `secrets.key` (see
//!   the `cipher` and `keyfile` modules); the database never holds a value in
//!   the clear.
//!
//! ## State directory files
//!
//! | file | what |
//! |---|---|
//! | [`STORE_FILE`] | the SQLite database (with its `-wal` and `-shm`) |
//! | [`KEY_FILE`] | 32-byte AES-256 key, mode 0600 |
//! | [`LOCK_FILE`] | held (advisory lock) while a store is open for writing |

mod cipher;
mod error;
mod keyfile;
mod sqlite;
#[cfg(test)]
mod tests;
mod types;

pub use error::StoreError;
pub use sqlite::{AuditLogReader, SqliteStore};
pub use types::{
    MAX_PEER_BYTES, MAX_REVOCATION_REASON, MAX_SECRET_NAME, MAX_SECRET_VALUE, MAX_TPM_NAME,
    NonceRecord, NonceRefusal, ParseSessionIdError, Revocation, RevocationRecord, Revoked,
    SecretInfo, SecretValue, SessionId, SessionRecord, check_secret_name, check_secret_value,
};

use crate::audit::{AuditEntry, AuditEvent};

/// The database file in the state directory.
pub const STORE_FILE: &str = "store.sqlite";
/// The at-rest key file in the state directory.
pub const KEY_FILE: &str = "secrets.key";
/// The lock file in the state directory.
pub const LOCK_FILE: &str = "store.lock";
/// Most operations one group commit takes.
pub const MAX_BATCH: usize = 256;
/// Most audit events one call may append.
pub const MAX_EVENTS_PER_CALL: usize = 1024;
/// Most revocations the store holds (what one signed list can carry).
pub const MAX_REVOCATIONS: usize = enclet_capability::revocation::MAX_REVOCATIONS;
/// Most entries [`Store::audit_tail`] returns.
pub const MAX_TAIL: usize = 10_000;

/// The control plane's durable state. Every method blocks until its work is
/// done (and, for writes, durable); run them off the async executor.
pub trait Store: Send + Sync {
    /// Records a session (replacing one with the same id) with its audit
    /// events.
    ///
    /// # Errors
    /// [`StoreError::InvalidRecord`] / [`StoreError::InvalidAudit`] for bad
    /// input; [`StoreError::Unavailable`] when the commit failed.
    fn put_session(&self, s: &SessionRecord, audit: Vec<AuditEvent>) -> Result<(), StoreError>;

    /// The session `id`, if recorded.
    ///
    /// # Errors
    /// The database could not be read.
    fn session(&self, id: &SessionId) -> Result<Option<SessionRecord>, StoreError>;

    /// Records an issued nonce with its audit events.
    ///
    /// # Errors
    /// As [`Store::put_session`]; a nonce issued twice is a
    /// [`StoreError::Database`] constraint error.
    fn issue_nonce(&self, n: &NonceRecord, audit: Vec<AuditEvent>) -> Result<(), StoreError>;

    /// Atomically marks the nonce used iff it exists for THIS session, is
    /// unexpired at `now_ms` (`now_ms < expires_ms`) and unused. A nonce issued
    /// to another session is `Unknown`; a used one is `Replayed` even once
    /// expired. Durable before it returns `Ok(Ok(()))`.
    ///
    /// # Errors
    /// The outer error: the store failed (the nonce is then not consumed).
    fn consume_nonce(
        &self,
        session: &SessionId,
        nonce: &[u8],
        now_ms: u64,
    ) -> Result<Result<(), NonceRefusal>, StoreError>;

    /// Appends entries (chained, in order); durable on return; returns their
    /// sequence numbers.
    ///
    /// # Errors
    /// [`StoreError::InvalidAudit`] (nothing appended) or a failed commit.
    fn append_audit(&self, events: Vec<AuditEvent>) -> Result<Vec<u64>, StoreError>;

    /// Stores a new version of secret `name` (version = previous + 1, 1 for a
    /// new name) with its audit event. When the event's `detail` is a JSON
    /// object, the store sets its `version` field to the new version.
    ///
    /// # Errors
    /// [`StoreError::InvalidSecret`] for a bad name or value; a failed commit.
    fn put_secret(
        &self,
        name: &str,
        value: &[u8],
        now_ms: u64,
        audit: AuditEvent,
    ) -> Result<SecretInfo, StoreError>;

    /// Removes secret `name`, returning what it was (`None`: there was no such
    /// secret; the audit event is recorded either way, and when its `detail` is
    /// an object its `version` field is set to the removed version or null).
    ///
    /// # Errors
    /// [`StoreError::InvalidSecret`] for a bad name; a failed commit.
    fn remove_secret(
        &self,
        name: &str,
        audit: AuditEvent,
    ) -> Result<Option<SecretInfo>, StoreError>;

    /// Every secret, by name.
    ///
    /// # Errors
    /// The database could not be read.
    fn list_secrets(&self) -> Result<Vec<SecretInfo>, StoreError>;

    /// Secret `name` and its decrypted value.
    ///
    /// # Errors
    /// [`StoreError::InvalidSecret`] for a bad name;
    /// [`StoreError::Undecryptable`] naming the secret.
    fn secret(&self, name: &str) -> Result<Option<(SecretInfo, SecretValue)>, StoreError>;

    /// Records a revocation with its audit event, or returns the existing
    /// one for the same kind and value (then nothing is written and the
    /// event is dropped). When the event's `detail` is a JSON object, the
    /// store sets its `sequence` field to the new revocation's.
    ///
    /// # Errors
    /// [`StoreError::InvalidRevocation`] for a malformed record;
    /// [`StoreError::RevocationLimit`] past [`MAX_REVOCATIONS`]; a failed
    /// commit.
    fn revoke(&self, r: &RevocationRecord, audit: AuditEvent) -> Result<Revoked, StoreError>;

    /// Every revocation, by sequence.
    ///
    /// # Errors
    /// The database could not be read, or a row is corrupt.
    fn revocations(&self) -> Result<Vec<Revocation>, StoreError>;

    /// The last `n` audit entries (at most [`MAX_TAIL`]), ascending seq.
    ///
    /// # Errors
    /// The database could not be read, or a row is corrupt.
    fn audit_tail(&self, n: usize) -> Result<Vec<AuditEntry>, StoreError>;

    /// Deletes sessions and nonces whose expiry is at or before `now_ms`;
    /// returns how many rows went. (A purged nonce is then `Unknown`, still
    /// refused.)
    ///
    /// # Errors
    /// A failed commit.
    fn purge_expired(&self, now_ms: u64) -> Result<u64, StoreError>;
}
