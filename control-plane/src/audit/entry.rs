//! Audit events (what callers record) and entries (what the log holds).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::canonical::{self, CanonicalError};
use super::{MAX_DETAIL_BYTES, MAX_DETAIL_DEPTH, MAX_FIELD_BYTES};

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// A session was opened.
    SessionOpened,
    /// A TPM attestation key was activated (or activation failed).
    Activation,
    /// A nonce was issued to a session.
    NonceIssued,
    /// The verdict on a piece of evidence.
    Verdict,
    /// The policy's decision for the enclave or one plugin.
    PolicyDecision,
    /// Secrets were released (names and versions, never values).
    Release,
    /// A request was refused (its code).
    Refusal,
    /// An administrative change (secrets added, replaced, removed).
    Admin,
    /// Something was revoked (kind, value, reason, sequence).
    Revocation,
    /// A parent reported what its enclave enforced of a revocation list
    /// (a report: recorded, not trusted).
    RevocationEnforced,
}

impl AuditKind {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 10] = [
        Self::SessionOpened,
        Self::Activation,
        Self::NonceIssued,
        Self::Verdict,
        Self::PolicyDecision,
        Self::Release,
        Self::Refusal,
        Self::Admin,
        Self::Revocation,
        Self::RevocationEnforced,
    ];

    /// The `snake_case` name, as stored and hashed.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SessionOpened => "session_opened",
            Self::Activation => "activation",
            Self::NonceIssued => "nonce_issued",
            Self::Verdict => "verdict",
            Self::PolicyDecision => "policy_decision",
            Self::Release => "release",
            Self::Refusal => "refusal",
            Self::Admin => "admin",
            Self::Revocation => "revocation",
            Self::RevocationEnforced => "revocation_enforced",
        }
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kind name that is not one of [`AuditKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown audit kind {0:?}")]
pub struct UnknownAuditKind(pub String);

impl FromStr for AuditKind {
    type Err = UnknownAuditKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownAuditKind(s.chars().take(64).collect()))
    }
}

/// Something to record: the store gives it a sequence number and chains it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// What happened.
    pub kind: AuditKind,
    /// The session it belongs to (32 hex characters), if any.
    pub session: Option<String>,
    /// The peer that asked (e.g. `127.0.0.1:51234`), if known.
    pub peer: Option<String>,
    /// When, in milliseconds since the Unix epoch (the caller's clock).
    pub time_ms: u64,
    /// Kind-specific facts: names, versions, measurements, codes. Never a
    /// secret value.
    pub detail: Value,
}

impl AuditEvent {
    /// An event without session or peer.
    #[must_use]
    pub fn new(kind: AuditKind, time_ms: u64, detail: Value) -> Self {
        Self {
            kind,
            session: None,
            peer: None,
            time_ms,
            detail,
        }
    }

    /// Checks the bounds and returns `detail` as canonical JSON.
    ///
    /// # Errors
    /// A message naming the bound that was exceeded.
    pub fn check(&self) -> Result<String, String> {
        for (field, value) in [("session", &self.session), ("peer", &self.peer)] {
            if value.as_ref().is_some_and(|v| v.len() > MAX_FIELD_BYTES) {
                return Err(format!("{field} is longer than {MAX_FIELD_BYTES} bytes"));
            }
        }
        let detail = canonical::to_string(&self.detail, MAX_DETAIL_DEPTH).map_err(|e| match e {
            CanonicalError::TooDeep => {
                format!("detail is nested deeper than {MAX_DETAIL_DEPTH} levels")
            }
        })?;
        if detail.len() > MAX_DETAIL_BYTES {
            return Err(format!(
                "detail is {} bytes of JSON, more than {MAX_DETAIL_BYTES}",
                detail.len()
            ));
        }
        Ok(detail)
    }
}

/// One entry of the log, chained to the one before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log, from 1, without gaps.
    pub seq: u64,
    /// When, in milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// What happened.
    pub kind: AuditKind,
    /// The session, if any.
    pub session: Option<String>,
    /// The peer, if known.
    pub peer: Option<String>,
    /// Kind-specific facts.
    pub detail: Value,
    /// The previous entry's hash (zeros for the first entry).
    #[serde(with = "super::hex32")]
    pub prev_hash: [u8; 32],
    /// SHA-256 of `prev_hash` and this entry's canonical JSON.
    #[serde(with = "super::hex32")]
    pub hash: [u8; 32],
}

impl AuditEntry {
    /// Makes entry `seq` from `event`, chained after `prev_hash`.
    ///
    /// # Errors
    /// The event is out of its bounds (see [`AuditEvent::check`]).
    pub fn seal(event: AuditEvent, seq: u64, prev_hash: [u8; 32]) -> Result<Self, String> {
        event.check()?;
        let mut entry = Self {
            seq,
            time_ms: event.time_ms,
            kind: event.kind,
            session: event.session,
            peer: event.peer,
            detail: event.detail,
            prev_hash,
            hash: [0; 32],
        };
        entry.hash = entry.expected_hash().map_err(|e| e.to_string())?;
        Ok(entry)
    }

    /// The hash this entry's content and `prev_hash` call for (compare with
    /// [`Self::hash`]).
    ///
    /// # Errors
    /// `detail` is nested too deeply to have a canonical form here.
    pub fn expected_hash(&self) -> Result<[u8; 32], CanonicalError> {
        let body = serde_json::json!({
            "seq": self.seq,
            "time_ms": self.time_ms,
            "kind": self.kind.as_str(),
            "session": self.session,
            "peer": self.peer,
            "detail": self.detail,
        });
        // One level for the wrapper object around `detail`.
        let canonical = canonical::to_string(&body, MAX_DETAIL_DEPTH + 1)?;
        let mut sha = Sha256::new();
        sha.update(self.prev_hash);
        sha.update(canonical.as_bytes());
        Ok(sha.finalize().into())
    }
}
