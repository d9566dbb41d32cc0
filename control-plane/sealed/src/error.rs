//! The crate's error type.

/// Why a bundle could not be made, parsed or opened. Messages name the entry
/// (plugin and secret name), never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bundle bytes are not a well-formed bundle of this version.
    #[error("malformed bundle: {0}")]
    Malformed(String),
    /// A size bound was exceeded.
    #[error("{what} is {len} bytes, more than {max}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// A secret name is empty, too long or has characters outside `[A-Za-z0-9._-]`.
    #[error("invalid secret name {0:?}")]
    InvalidName(String),
    /// The recipient public key is not a 32-byte X25519 key.
    #[error("invalid recipient public key")]
    InvalidPublicKey,
    /// An entry failed to open: it was sealed to another key, or its context
    /// or ciphertext was changed.
    #[error(
        "secret {name:?} for plugin {plugin} does not open (tampered, or sealed to another key)"
    )]
    Open {
        /// Plugin measurement, hex.
        plugin: String,
        /// Secret name.
        name: String,
    },
    /// The same plugin and name appear twice.
    #[error("secret {name:?} for plugin {plugin} appears twice")]
    Duplicate {
        /// Plugin measurement, hex.
        plugin: String,
        /// Secret name.
        name: String,
    },
    /// Sealing failed (CSPRNG or HPKE set-up).
    #[error("sealing failed: {0}")]
    Seal(String),
}

impl Error {
    /// A stable `snake_case` code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) | Self::Duplicate { .. } => "bundle_malformed",
            Self::TooLarge { .. } => "bundle_too_large",
            Self::InvalidName(_) => "invalid_secret_name",
            Self::InvalidPublicKey => "invalid_public_key",
            Self::Open { .. } => "bundle_tampered",
            Self::Seal(_) => "seal_failed",
        }
    }
}
