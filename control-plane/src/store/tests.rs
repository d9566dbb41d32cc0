//! Store tests: shared helpers and the writer's test hooks.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

mod concurrency;
mod crash;
mod nonces;
mod revocations;
mod secrets;

use serde_json::json;

use super::{SessionId, SqliteStore};
use crate::audit::{AuditEvent, AuditKind};

/// Hooks the writer consults in test builds only.
#[derive(Debug, Default)]
pub(crate) struct WriterHooks {
    /// Held by a test to keep the writer from draining its queue.
    pub(crate) gate: Mutex<()>,
    /// Operations handed to the writer so far.
    pub(crate) queued: AtomicUsize,
    /// Makes the next commit fail (as a full disk would).
    pub(crate) fail_next_commit: AtomicBool,
}

impl WriterHooks {
    pub(crate) fn gate(&self) -> MutexGuard<'_, ()> {
        self.gate.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn take_commit_failure(&self) -> bool {
        self.fail_next_commit.swap(false, Ordering::SeqCst)
    }
}

pub(super) fn open_temp() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    (dir, store)
}

pub(super) fn event(kind: AuditKind, note: &str) -> AuditEvent {
    AuditEvent {
        kind,
        session: None,
        peer: Some("127.0.0.1:1".to_owned()),
        time_ms: 1_700_000_000_000,
        detail: json!({ "note": note }),
    }
}

pub(super) fn sid(byte: u8) -> SessionId {
    SessionId([byte; 16])
}
