//! The crate's one error type.
//!
//! [`Error`] is `#[non_exhaustive]` and nests one sub-enum per evidence format,
//! each owned by its module. [`Error::code`] returns a stable, dotted string
//! (`nitro.chain.expired`, `tpm.quote.signature`, …) that scripts may match on;
//! the `Display` text is for people and may change.

use crate::nitro::NitroError;
use crate::tpm::TpmError;

/// Why evidence was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An AWS Nitro attestation document failed to parse, verify or meet policy.
    #[error("nitro: {0}")]
    Nitro(#[from] NitroError),
    /// A TPM 2.0 quote, its AK or its event log failed to parse, verify or meet policy.
    #[error("tpm: {0}")]
    Tpm(#[from] TpmError),
}

impl Error {
    /// A stable machine-readable code for this error, e.g. `nitro.parse`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Nitro(e) => e.code(),
            Self::Tpm(e) => e.code(),
        }
    }
}
