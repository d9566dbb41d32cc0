//! The audit log: what an entry is, how entries are chained and how a chain is
//! checked.
//!
//! Callers describe what happened as an [`AuditEvent`]; the store turns each
//! event into an [`AuditEntry`] inside the same transaction as the change it
//! records, giving it the next sequence number and chaining it to the entry
//! before it:
//!
//! ```text
//! hash(n) = SHA-256( hash(n-1) || canonical JSON of {seq, time_ms, kind, session, peer, detail} )
//! hash(0) = 32 zero bytes (the first entry's prev_hash), seq starts at 1
//! ```
//!
//! **Canonical JSON** is compact `serde_json` output (no whitespace) with the
//! keys of every object sorted by their UTF-8 bytes, recursively; strings use
//! `serde_json`'s escaping (`"`, `\`, and control characters escaped, everything
//! else verbatim UTF-8); numbers are `serde_json`'s `Display` (integers exactly,
//! floats in shortest round-trip form). Absent `session`/`peer` are `null`. The
//! store keeps `detail` as its canonical text, so a verifier in another language
//! can recompute every hash from the rows alone.
//!
//! [`verify_chain`] (entries in memory) and [`verify_dir`] (a state directory,
//! read-only) recompute the chain and name the first broken entry by its
//! sequence number: an edited entry (its content no longer matches its hash), a
//! wrong `prev_hash` (an entry replaced or two swapped), a missing sequence
//! number (a deleted entry) or entries out of order. What a chain cannot show on
//! its own is a cut tail or a wholesale rewrite from some entry on: compare the
//! head hash ([`ChainSummary::last_hash`]) with one recorded elsewhere for that.
//!
//! Bounds: `detail` is at most [`MAX_DETAIL_BYTES`] of canonical JSON and
//! [`MAX_DETAIL_DEPTH`] levels deep; `session` and `peer` at most
//! [`MAX_FIELD_BYTES`]. Bigger events are refused (`invalid_audit`), never
//! truncated. No secret value ever belongs in an event: names, versions,
//! measurements and codes only.

mod canonical;
mod chain;
mod entry;
mod hex32;
#[cfg(test)]
mod tests;

use std::path::Path;

pub use chain::{BreakKind, ChainBreak, ChainSummary, ChainVerifier, verify_chain};
pub use entry::{AuditEntry, AuditEvent, AuditKind, UnknownAuditKind};

use crate::store::{AuditLogReader, StoreError};

/// Largest `detail`, in bytes of canonical JSON.
pub const MAX_DETAIL_BYTES: usize = 16 * 1024;
/// Deepest nesting of arrays and objects in `detail` (the top level is 1).
pub const MAX_DETAIL_DEPTH: usize = 32;
/// Largest `session` or `peer` field, in bytes.
pub const MAX_FIELD_BYTES: usize = 256;

/// Why the audit log of a state directory could not be confirmed intact.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The chain is broken; the first broken entry is named.
    #[error(transparent)]
    Broken(#[from] ChainBreak),
    /// The store could not be opened or read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AuditError {
    /// Stable `snake_case` code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Broken(b) => b.kind.code(),
            Self::Store(e) => e.code(),
        }
    }
}

/// Recomputes the whole audit chain of the store in `state_dir`, read-only
/// (the database is opened read-only and never created), one entry at a time.
///
/// # Errors
/// [`AuditError::Broken`] naming the first broken entry; [`AuditError::Store`]
/// when there is no store in `state_dir` or it cannot be read.
pub fn verify_dir(state_dir: &Path) -> Result<ChainSummary, AuditError> {
    AuditLogReader::open(state_dir)?.verify()
}
