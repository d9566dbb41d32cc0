//! The records the store keeps, independent of the backend.

use std::fmt;
use std::str::FromStr;

use enclet_capability::RevocationKind;
use serde::Serialize;
use zeroize::Zeroizing;

use super::StoreError;

/// Largest secret name, in bytes.
pub const MAX_SECRET_NAME: usize = 128;
/// Largest secret value, in bytes.
pub const MAX_SECRET_VALUE: usize = 64 * 1024;
/// Largest `peer`, in bytes.
pub const MAX_PEER_BYTES: usize = 256;
/// Largest TPM EK or AK name, in bytes.
pub const MAX_TPM_NAME: usize = 128;

/// A session's identifier: 16 random bytes, shown as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub [u8; 16]);

impl SessionId {
    /// A fresh random identifier.
    ///
    /// # Errors
    /// The system random generator failed.
    pub fn generate() -> Result<Self, StoreError> {
        let mut id = [0; 16];
        aws_lc_rs::rand::fill(&mut id)
            .map_err(|_| StoreError::Unavailable("random generator failed".to_owned()))?;
        Ok(Self(id))
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

/// A string that is not 32 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a session id is 32 hex digits")]
pub struct ParseSessionIdError;

impl FromStr for SessionId {
    type Err = ParseSessionIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut id = [0; 16];
        hex::decode_to_slice(s, &mut id).map_err(|_| ParseSessionIdError)?;
        Ok(Self(id))
    }
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Its identifier.
    pub id: SessionId,
    /// `"tpm"` or `"nitro"`.
    pub attester: String,
    /// When it was opened (ms since the Unix epoch).
    pub created_ms: u64,
    /// When it expires (ms since the Unix epoch).
    pub expires_ms: u64,
    /// The peer that opened it.
    pub peer: Option<String>,
    /// TPM: the endorsement key's name.
    pub ek_name: Option<Vec<u8>>,
    /// TPM: the attestation key's name.
    pub ak_name: Option<Vec<u8>>,
}

impl SessionRecord {
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        let bad = |why: String| Err(StoreError::InvalidRecord(why));
        if !matches!(self.attester.as_str(), "tpm" | "nitro") {
            return bad("attester must be \"tpm\" or \"nitro\"".to_owned());
        }
        if self.peer.as_ref().is_some_and(|p| p.len() > MAX_PEER_BYTES) {
            return bad(format!("peer is longer than {MAX_PEER_BYTES} bytes"));
        }
        for (what, name) in [("ek_name", &self.ek_name), ("ak_name", &self.ak_name)] {
            if name.as_ref().is_some_and(|n| n.len() > MAX_TPM_NAME) {
                return bad(format!("{what} is longer than {MAX_TPM_NAME} bytes"));
            }
        }
        Ok(())
    }
}

/// A nonce issued to a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceRecord {
    /// The session it was issued to.
    pub session: SessionId,
    /// The nonce.
    pub nonce: [u8; 32],
    /// When it stops being accepted (ms since the Unix epoch).
    pub expires_ms: u64,
}

/// Why a nonce was not consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NonceRefusal {
    /// Never issued, or issued to another session.
    #[error("this nonce was not issued to this session")]
    Unknown,
    /// Its time to live has passed.
    #[error("this nonce has expired")]
    Expired,
    /// It was already used.
    #[error("this nonce was already used")]
    Replayed,
}

impl NonceRefusal {
    /// Stable `snake_case` code (the API's error code).
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Unknown => "nonce_unknown",
            Self::Expired => "nonce_expired",
            Self::Replayed => "nonce_replayed",
        }
    }
}

/// What is known about a secret without its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretInfo {
    /// Its name.
    pub name: String,
    /// 1 for the first value, one more for each replacement (also across a
    /// removal: a name's versions never repeat).
    pub version: u64,
    /// Length of the value.
    pub size_bytes: u64,
    /// When this version was written (ms since the Unix epoch).
    pub updated_ms: u64,
}

/// A secret value; wiped from memory when dropped, never printed.
pub struct SecretValue(Zeroizing<Vec<u8>>);

impl SecretValue {
    /// Wraps a value.
    #[must_use]
    pub fn new(value: Zeroizing<Vec<u8>>) -> Self {
        Self(value)
    }

    /// The value's bytes.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Its length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty (stored values never are).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretValue(<redacted {} bytes>)", self.0.len())
    }
}

/// Checks a secret name: 1 to [`MAX_SECRET_NAME`] bytes of `[A-Za-z0-9._-]`.
///
/// # Errors
/// [`StoreError::InvalidSecret`] saying why.
pub fn check_secret_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty() || name.len() > MAX_SECRET_NAME {
        return Err(StoreError::InvalidSecret(format!(
            "a secret name is 1 to {MAX_SECRET_NAME} bytes"
        )));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(StoreError::InvalidSecret(
            "a secret name uses only A-Z a-z 0-9 . _ -".to_owned(),
        ));
    }
    Ok(())
}

/// Checks a secret value's length: 1 to [`MAX_SECRET_VALUE`] bytes.
///
/// # Errors
/// [`StoreError::InvalidSecret`] saying why (never the value).
pub fn check_secret_value(value: &[u8]) -> Result<(), StoreError> {
    if value.is_empty() || value.len() > MAX_SECRET_VALUE {
        return Err(StoreError::InvalidSecret(format!(
            "a secret value is 1 to {MAX_SECRET_VALUE} bytes, not {}",
            value.len()
        )));
    }
    Ok(())
}

/// Longest revocation reason, in bytes.
pub const MAX_REVOCATION_REASON: usize = 256;

/// A revocation to record: what, why and when (its sequence is given by the
/// store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationRecord {
    /// What kind of thing is revoked.
    pub kind: RevocationKind,
    /// The revoked value, lower-case hex of the kind's length.
    pub value: String,
    /// Why (at most [`MAX_REVOCATION_REASON`] bytes, no control characters).
    pub reason: Option<String>,
    /// When (ms since the Unix epoch).
    pub revoked_ms: u64,
}

impl RevocationRecord {
    /// Checks and normalizes a revocation as an operator gave it: `kind` is
    /// `plugin`, `publisher` or `token`, `value` hex of that kind's length
    /// (lower-cased here), `reason` bounded.
    ///
    /// # Errors
    /// [`StoreError::InvalidRevocation`] naming the field and the rule.
    pub fn new(
        kind: &str,
        value: &str,
        reason: Option<String>,
        revoked_ms: u64,
    ) -> Result<Self, StoreError> {
        let invalid =
            |field, e: enclet_capability::CapabilityError| StoreError::InvalidRevocation {
                field,
                reason: e.to_string(),
            };
        let kind = RevocationKind::parse(kind).map_err(|e| invalid("kind", e))?;
        let value = kind.value(value).map_err(|e| invalid("value", e))?;
        let record = Self {
            kind,
            value,
            reason,
            revoked_ms,
        };
        record.check()?;
        Ok(record)
    }

    pub(crate) fn check(&self) -> Result<(), StoreError> {
        if self.kind.value(&self.value).ok().as_deref() != Some(self.value.as_str()) {
            return Err(StoreError::InvalidRevocation {
                field: "value",
                reason: format!(
                    "a {} value is {} lower-case hex characters",
                    self.kind.as_str(),
                    self.kind.value_len()
                ),
            });
        }
        if self
            .reason
            .as_ref()
            .is_some_and(|r| r.len() > MAX_REVOCATION_REASON || r.chars().any(char::is_control))
        {
            return Err(StoreError::InvalidRevocation {
                field: "reason",
                reason: format!(
                    "at most {MAX_REVOCATION_REASON} bytes, without control characters"
                ),
            });
        }
        Ok(())
    }
}

/// A recorded revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// Its position, from 1: the revocation list's `sequence` once it is in.
    pub sequence: u64,
    /// What was revoked, why and when.
    pub record: RevocationRecord,
}

/// What [`Store::revoke`](super::Store::revoke) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The revocation as stored (the earlier one if it already was).
    pub revocation: Revocation,
    /// `true`: recorded now; `false`: it was already revoked (nothing
    /// changed, nothing audited).
    pub created: bool,
}
