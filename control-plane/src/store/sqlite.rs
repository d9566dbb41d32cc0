//! [`SqliteStore`]: the embedded [`Store`], one `SQLite` file in the state
//! directory, written by one group-committing writer thread (see the
//! `writer` module) and read through a small pool of read-only connections.
//!
//! Opening takes an advisory lock on [`LOCK_FILE`] for as long as the store
//! lives: the writer keeps the audit chain's head in memory, so two processes
//! writing one store would fork the chain.

mod ops;
mod readonly;
mod revocations;
mod rows;
mod schema;
mod writer;

use std::fmt;
use std::fs::{DirBuilder, File, OpenOptions, TryLockError};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, OptionalExtension as _, params};
use zeroize::Zeroizing;

pub use readonly::AuditLogReader;

use self::ops::NewSecret;
use self::writer::{ChainHead, Writer};
use super::cipher::SecretCipher;
use super::error::db;
use super::{
    KEY_FILE, LOCK_FILE, MAX_EVENTS_PER_CALL, MAX_TAIL, NonceRecord, NonceRefusal, Revocation,
    RevocationRecord, Revoked, STORE_FILE, SecretInfo, SecretValue, SessionId, SessionRecord,
    Store, StoreError, check_secret_name, check_secret_value, keyfile,
};
use crate::audit::{AuditEntry, AuditEvent};

/// Attempts at the state directory's lock, [`LOCK_RETRY`] apart.
const LOCK_ATTEMPTS: u32 = 20;
const LOCK_RETRY: std::time::Duration = std::time::Duration::from_millis(50);

/// Idle read connections kept for reuse.
const MAX_IDLE_READERS: usize = 4;

/// The SQLite-backed [`Store`].
pub struct SqliteStore {
    writer: Writer,
    readers: Mutex<Vec<Connection>>,
    db_path: PathBuf,
    cipher: Arc<SecretCipher>,
    /// Held (locked) for the store's life; dropped last.
    _lock: File,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("db_path", &self.db_path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens the store in `state_dir` (created 0700 if absent): creates the
    /// database and its schema, and `secrets.key` (0600) on first open.
    ///
    /// # Errors
    /// [`StoreError::Locked`] when another process has it open;
    /// [`StoreError::KeyFile`] when the key file is too permissive, of the
    /// wrong length, or missing while the store already has a key;
    /// [`StoreError::KeyMismatch`] when it is not the store's key;
    /// [`StoreError::Io`] / [`StoreError::Database`] otherwise.
    pub fn open(state_dir: &Path) -> Result<Self, StoreError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state_dir)
            .map_err(|e| StoreError::io(state_dir, &e))?;
        let lock = lock(&state_dir.join(LOCK_FILE))?;
        let db_path = state_dir.join(STORE_FILE);
        let conn = schema::open_writer(&db_path)?;
        let cipher = load_cipher(&conn, &state_dir.join(KEY_FILE))?;
        let head = ChainHead::load(&conn)?;
        let writer = Writer::start(conn, head)?;
        tracing::debug!(path = %db_path.display(), audit_head = head.seq, "store opened");
        Ok(Self {
            writer,
            readers: Mutex::new(Vec::new()),
            db_path,
            cipher: Arc::new(cipher),
            _lock: lock,
        })
    }

    /// How many transactions the writer has committed since open (each is one
    /// group commit, however many operations it carried).
    #[must_use]
    pub fn commits(&self) -> u64 {
        self.writer.commits()
    }

    /// Runs `f` on a read connection from the pool.
    fn read<R>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let pooled = self
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => schema::open_reader(&self.db_path)?,
        };
        let result = f(&conn);
        let mut idle = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    #[cfg(test)]
    pub(crate) fn hooks(&self) -> &crate::store::tests::WriterHooks {
        &self.writer.shared().hooks
    }
}

/// Takes the state directory's advisory lock.
fn lock(path: &Path) -> Result<File, StoreError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| StoreError::io(path, &e))?;
    // A lock briefly outlives its holder when another thread of that process
    // forks while the lock file is open (the child shares the descriptor until
    // it execs): retry a little before calling the directory taken.
    for _ in 0..LOCK_ATTEMPTS {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock) => std::thread::sleep(LOCK_RETRY),
            Err(TryLockError::Error(e)) => return Err(StoreError::io(path, &e)),
        }
    }
    Err(StoreError::Locked {
        path: path.to_owned(),
    })
}

/// Loads (or on first open creates) the at-rest key and checks it against the
/// store's key check value.
fn load_cipher(conn: &Connection, key_path: &Path) -> Result<SecretCipher, StoreError> {
    let check: Option<Vec<u8>> = conn
        .query_row("SELECT value FROM meta WHERE key = 'key_check'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(db)?;
    let exists = match std::fs::symlink_metadata(key_path) {
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(StoreError::io(key_path, &e)),
    };
    let key = match (exists, &check) {
        (true, _) => keyfile::load(key_path)?,
        (false, None) => keyfile::create(key_path)?,
        (false, Some(_)) => {
            return Err(StoreError::KeyFile {
                path: key_path.to_owned(),
                reason: "missing, but this store's secrets are encrypted under a key: restore \
                         the original key file"
                    .to_owned(),
            });
        }
    };
    let cipher = SecretCipher::new(&key)?;
    match check {
        Some(check) if cipher.matches(&check) => {}
        Some(_) => {
            return Err(StoreError::KeyMismatch {
                path: key_path.to_owned(),
            });
        }
        None => {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('key_check', ?1)",
                params![cipher.key_check()?],
            )
            .map_err(db)?;
        }
    }
    Ok(cipher)
}

fn check_events(events: &[AuditEvent]) -> Result<(), StoreError> {
    if events.len() > MAX_EVENTS_PER_CALL {
        return Err(StoreError::InvalidAudit(format!(
            "more than {MAX_EVENTS_PER_CALL} events in one call"
        )));
    }
    for event in events {
        event.check().map_err(StoreError::InvalidAudit)?;
    }
    Ok(())
}

impl Store for SqliteStore {
    fn put_session(&self, s: &SessionRecord, audit: Vec<AuditEvent>) -> Result<(), StoreError> {
        s.check()?;
        check_events(&audit)?;
        let s = s.clone();
        self.writer
            .submit(move |conn, head| ops::put_session(conn, head, &s, audit))
    }

    fn session(&self, id: &SessionId) -> Result<Option<SessionRecord>, StoreError> {
        self.read(|conn| rows::session(conn, id))
    }

    fn issue_nonce(&self, n: &NonceRecord, audit: Vec<AuditEvent>) -> Result<(), StoreError> {
        check_events(&audit)?;
        let n = n.clone();
        self.writer
            .submit(move |conn, head| ops::issue_nonce(conn, head, &n, audit))
    }

    fn consume_nonce(
        &self,
        session: &SessionId,
        nonce: &[u8],
        now_ms: u64,
    ) -> Result<Result<(), NonceRefusal>, StoreError> {
        let Ok(nonce) = <[u8; 32]>::try_from(nonce) else {
            return Ok(Err(NonceRefusal::Unknown));
        };
        let session = *session;
        self.writer
            .submit(move |conn, _| ops::consume_nonce(conn, &session, &nonce, now_ms))
    }

    fn append_audit(&self, events: Vec<AuditEvent>) -> Result<Vec<u64>, StoreError> {
        check_events(&events)?;
        if events.is_empty() {
            return Ok(Vec::new());
        }
        self.writer
            .submit(move |conn, head| ops::append(conn, head, events))
    }

    fn put_secret(
        &self,
        name: &str,
        value: &[u8],
        now_ms: u64,
        audit: AuditEvent,
    ) -> Result<SecretInfo, StoreError> {
        check_secret_name(name)?;
        check_secret_value(value)?;
        check_events(std::slice::from_ref(&audit))?;
        let secret = NewSecret {
            name: name.to_owned(),
            value: Zeroizing::new(value.to_vec()),
            now_ms,
        };
        let cipher = Arc::clone(&self.cipher);
        self.writer
            .submit(move |conn, head| ops::put_secret(conn, head, &cipher, &secret, audit))
    }

    fn remove_secret(
        &self,
        name: &str,
        audit: AuditEvent,
    ) -> Result<Option<SecretInfo>, StoreError> {
        check_secret_name(name)?;
        check_events(std::slice::from_ref(&audit))?;
        let name = name.to_owned();
        self.writer
            .submit(move |conn, head| ops::remove_secret(conn, head, &name, audit))
    }

    fn list_secrets(&self) -> Result<Vec<SecretInfo>, StoreError> {
        self.read(rows::list_secrets)
    }

    fn secret(&self, name: &str) -> Result<Option<(SecretInfo, SecretValue)>, StoreError> {
        check_secret_name(name)?;
        let Some(stored) = self.read(|conn| rows::sealed_secret(conn, name))? else {
            return Ok(None);
        };
        let value =
            self.cipher
                .open(name, stored.info.version, &stored.nonce, &stored.ciphertext)?;
        Ok(Some((stored.info, value)))
    }

    fn revoke(&self, r: &RevocationRecord, audit: AuditEvent) -> Result<Revoked, StoreError> {
        r.check()?;
        check_events(std::slice::from_ref(&audit))?;
        let r = r.clone();
        self.writer
            .submit(move |conn, head| revocations::revoke(conn, head, &r, audit))
    }

    fn revocations(&self) -> Result<Vec<Revocation>, StoreError> {
        self.read(revocations::all)
    }

    fn audit_tail(&self, n: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(|conn| rows::audit_tail(conn, n.min(MAX_TAIL)))
    }

    fn purge_expired(&self, now_ms: u64) -> Result<u64, StoreError> {
        self.writer
            .submit(move |conn, _| ops::purge_expired(conn, now_ms))
    }
}
