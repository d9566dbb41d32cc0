//! TPM 2.0 quotes, attestation-key trust and the plugin event log. (Being built: issue #4.)
//!
//! ## Measurement layout (shared with the enclave's TPM attester)
//!
//! | PCR | bank | holds |
//! |---|---|---|
//! | [`IMAGE_PCR`] (23) | SHA-256 | the enclave binary: reset at enclave start, then extended once with `SHA-256(SHA-384(binary))` |
//! | [`PLUGIN_PCR`] (16) | SHA-256 | plugins: reset at enclave start, then `SHA-256(measurement)` extended per newly loaded plugin, in event-log order |
//!
//! Both are PCRs that locality 0 may reset, so each enclave start replays from
//! zero and the verifier can recompute both values. On the TPM path the host OS
//! is inside the trusted computing base (it could reset these PCRs); see the
//! threat model.

use sha2::{Digest, Sha256};

/// PCR holding the enclave image measurement (SHA-256 bank).
pub const IMAGE_PCR: u8 = 23;
/// PCR holding the plugin measurements (SHA-256 bank).
pub const PLUGIN_PCR: u8 = 16;

/// The TPM quote's qualifying data (`extraData`) binding a verifier's nonce, the
/// enclave's public key and the event-log digest:
/// `SHA-256("enclet-tpm-quote/v1" || u32-be len || nonce || u32-be len || public_key || event_log_digest)`.
#[must_use]
pub fn qualifying_data(nonce: &[u8], public_key: &[u8], event_log_digest: &[u8; 48]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"enclet-tpm-quote/v1");
    for part in [nonce, public_key] {
        let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
        h.update(len.to_be_bytes());
        h.update(part);
    }
    h.update(event_log_digest);
    h.finalize().into()
}

/// Why TPM evidence was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TpmError {
    /// A TPM structure is not well-formed.
    #[error("malformed structure: {0}")]
    Parse(String),
}

impl TpmError {
    /// Stable code, see [`crate::Error::code`].
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Parse(_) => "tpm.parse",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualifying_data_binds_each_part_without_ambiguity() {
        let d = [7u8; 48];
        let base = qualifying_data(b"nonce", b"key", &d);
        assert_ne!(base, qualifying_data(b"nonc", b"ekey", &d));
        assert_ne!(base, qualifying_data(b"nonce", b"key", &[8u8; 48]));
        assert_ne!(base, qualifying_data(b"other", b"key", &d));
        assert_eq!(base, qualifying_data(b"nonce", b"key", &d));
    }
}
