//! The enclave's ephemeral key pair.
//!
//! Generated once at start-up (X25519, from the system CSPRNG); the private
//! half lives only in this process's memory and never leaves it — it is not
//! serialized, logged or sent. The public half is bound into every
//! attestation (the TPM quote's qualifying data, the NSM document's
//! `public_key`), so a verifier that accepts the evidence knows that only this
//! enclave instance, running the attested code, holds the private key.
//!
//! Secret release to the enclave (HPKE to this public key) arrives in a later
//! issue; until then the private key is held but not used.

use aws_lc_rs::agreement::{self, X25519};

use crate::Error;

/// An X25519 key pair whose private half never leaves the enclave.
pub struct EnclaveKey {
    #[allow(
        dead_code,
        reason = "held for HPKE secret release, which a later issue adds"
    )]
    private: agreement::PrivateKey,
    public: Vec<u8>,
}

impl EnclaveKey {
    /// Generates a fresh key pair.
    ///
    /// # Errors
    /// [`Error::Internal`] if the CSPRNG or key generation fails.
    pub fn generate() -> Result<Self, Error> {
        let private = agreement::PrivateKey::generate(&X25519)
            .map_err(|_| Error::Internal("enclave key generation failed".to_owned()))?;
        let public = private
            .compute_public_key()
            .map_err(|_| Error::Internal("enclave public key computation failed".to_owned()))?
            .as_ref()
            .to_vec();
        Ok(Self { private, public })
    }

    /// The raw 32-byte X25519 public key.
    #[must_use]
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }
}

impl std::fmt::Debug for EnclaveKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnclaveKey")
            .field("public", &hex::encode(&self.public))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::EnclaveKey;

    #[test]
    fn keys_are_32_bytes_and_fresh_each_time() {
        let a = EnclaveKey::generate().unwrap();
        let b = EnclaveKey::generate().unwrap();
        assert_eq!(a.public_key().len(), 32);
        assert_ne!(a.public_key(), b.public_key());
        assert_ne!(a.public_key(), [0u8; 32]);
    }

    #[test]
    fn debug_shows_only_the_public_half() {
        let k = EnclaveKey::generate().unwrap();
        let shown = format!("{k:?}");
        assert!(shown.contains(&hex::encode(k.public_key())), "{shown}");
        assert!(!shown.contains("private"), "{shown}");
    }
}
