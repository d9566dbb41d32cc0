//! AWS Nitro Enclaves attestation documents. (Being built: issue #3.)

/// Why a Nitro attestation document was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NitroError {
    /// The document is not well-formed.
    #[error("malformed document: {0}")]
    Parse(String),
}

impl NitroError {
    /// Stable code, see [`crate::Error::code`].
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Parse(_) => "nitro.parse",
        }
    }
}
