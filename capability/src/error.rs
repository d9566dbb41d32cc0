//! The crate's one error type.

/// Why a key, a token or a call was refused. Messages name what was wrong
/// and never carry key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CapabilityError {
    /// A key could not be read (not PEM, not Ed25519, too large).
    #[error("invalid {what}: {reason}")]
    InvalidKey {
        /// `private key` or `public key`.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// A capability name outside the grammar, or too many of them.
    #[error("invalid capability {0:?}")]
    InvalidCapability(String),
    /// The token is over its size bound, not a Biscuit, not signed by the
    /// root key, or lacks the facts every enclet token carries.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// The token does not grant this capability to this plugin in this
    /// enclave (or an attenuation block took it away).
    #[error("denied: {capability} is not granted to this plugin")]
    Denied {
        /// The capability asked for, e.g. `secret:payout-api-key`.
        capability: String,
    },
    /// The token's expiry has passed.
    #[error("capability expired: the token for {capability} expired at {expires_at} (now {now})")]
    Expired {
        /// The capability asked for.
        capability: String,
        /// The token's expiry, Unix seconds.
        expires_at: u64,
        /// The checker's time, Unix seconds.
        now: u64,
    },
    /// A revocation or revocation list is malformed, oversized or not
    /// signed by the root key.
    #[error("invalid revocation list: {0}")]
    InvalidRevocation(String),
    /// The token library failed on input we built ourselves (a bug).
    #[error("internal: {0}")]
    Internal(String),
}

impl CapabilityError {
    /// Stable `snake_case` code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidKey { .. } => "invalid_key",
            Self::InvalidCapability(_) => "invalid_capability",
            Self::InvalidToken(_) => "invalid_token",
            Self::Denied { .. } => "denied",
            Self::Expired { .. } => "capability_expired",
            Self::InvalidRevocation(_) => "invalid_revocation",
            Self::Internal(_) => "internal",
        }
    }
}
