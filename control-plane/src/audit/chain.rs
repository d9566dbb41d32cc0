//! Checking a chain of entries, one at a time.

use std::fmt;

use serde::Serialize;

use super::AuditEntry;

/// What an intact chain ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ChainSummary {
    /// How many entries were checked.
    pub entries: u64,
    /// The last entry's sequence number (0 for an empty log).
    pub last_seq: u64,
    /// The last entry's hash (zeros for an empty log): record it elsewhere to
    /// detect a later cut or rewrite.
    #[serde(with = "super::hex32")]
    pub last_hash: [u8; 32],
}

/// The first broken entry of a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at entry {seq}: {kind}")]
pub struct ChainBreak {
    /// The sequence number of the first entry that does not fit.
    pub seq: u64,
    /// How it does not fit.
    pub kind: BreakKind,
}

/// How an entry breaks the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakKind {
    /// Its content does not match its hash: the entry was edited.
    ContentEdited,
    /// Its `prev_hash` is not the previous entry's hash: an entry before it
    /// was replaced, or entries were swapped.
    PrevHashMismatch {
        /// The sequence number of the entry before it (0: none).
        previous: u64,
    },
    /// This sequence number is absent (deleted, or moved later).
    Missing {
        /// The sequence number found in its place.
        found: u64,
    },
    /// An entry with this sequence number comes after a later one.
    OutOfOrder {
        /// The sequence number of the entry before it.
        after: u64,
    },
    /// The stored row cannot be read as an entry (bad kind, hash length,
    /// JSON).
    Malformed(String),
}

impl BreakKind {
    /// Stable `snake_case` code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::ContentEdited => "audit_entry_edited",
            Self::PrevHashMismatch { .. } => "audit_prev_hash_mismatch",
            Self::Missing { .. } => "audit_entry_missing",
            Self::OutOfOrder { .. } => "audit_out_of_order",
            Self::Malformed(_) => "audit_entry_malformed",
        }
    }
}

impl fmt::Display for BreakKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ContentEdited => f.write_str("its content does not match its hash (edited)"),
            Self::PrevHashMismatch { previous: 0 } => {
                f.write_str("its prev_hash is not zero although it is the first entry")
            }
            Self::PrevHashMismatch { previous } => write!(
                f,
                "its prev_hash is not the hash of entry {previous} (replaced or reordered)"
            ),
            Self::Missing { found } => {
                write!(f, "it is missing (deleted?): entry {found} is in its place")
            }
            Self::OutOfOrder { after } => {
                write!(f, "it comes after entry {after} (reordered or duplicated)")
            }
            Self::Malformed(why) => write!(f, "unreadable row: {why}"),
        }
    }
}

/// Checks entries one at a time, in log order, without holding them.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    count: u64,
    last_seq: u64,
    last_hash: [u8; 32],
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainVerifier {
    /// A verifier expecting entry 1 after 32 zero bytes.
    #[must_use]
    pub fn new() -> Self {
        Self {
            count: 0,
            last_seq: 0,
            last_hash: [0; 32],
        }
    }

    /// Checks the next entry.
    ///
    /// # Errors
    /// The break this entry makes (the verifier should not be used after).
    pub fn push(&mut self, entry: &AuditEntry) -> Result<(), ChainBreak> {
        let expected = self.last_seq.saturating_add(1);
        let broken = |kind| {
            Err(ChainBreak {
                seq: entry.seq,
                kind,
            })
        };
        if entry.seq < expected {
            return broken(BreakKind::OutOfOrder {
                after: self.last_seq,
            });
        }
        if entry.seq > expected {
            return Err(ChainBreak {
                seq: expected,
                kind: BreakKind::Missing { found: entry.seq },
            });
        }
        if entry.prev_hash != self.last_hash {
            return broken(BreakKind::PrevHashMismatch {
                previous: self.last_seq,
            });
        }
        match entry.expected_hash() {
            Ok(hash) if hash == entry.hash => {}
            Ok(_) => return broken(BreakKind::ContentEdited),
            Err(e) => return broken(BreakKind::Malformed(e.to_string())),
        }
        self.count = self.count.saturating_add(1);
        self.last_seq = entry.seq;
        self.last_hash = entry.hash;
        Ok(())
    }

    /// The chain so far.
    #[must_use]
    pub fn summary(&self) -> ChainSummary {
        ChainSummary {
            entries: self.count,
            last_seq: self.last_seq,
            last_hash: self.last_hash,
        }
    }
}

/// Checks `entries`, which must be the whole log from entry 1, in order.
///
/// # Errors
/// The first broken entry.
pub fn verify_chain<'a>(
    entries: impl IntoIterator<Item = &'a AuditEntry>,
) -> Result<ChainSummary, ChainBreak> {
    let mut verifier = ChainVerifier::new();
    for entry in entries {
        verifier.push(entry)?;
    }
    Ok(verifier.summary())
}
