//! The enclave's ephemeral key pair.
//!
//! Generated once at start-up (X25519, from the system CSPRNG); the private
//! half lives only in this process's memory and never leaves it — it is not
//! serialized, logged or sent. The public half is bound into every
//! attestation (the TPM quote's qualifying data, the NSM document's
//! `public_key`), so a verifier that accepts the evidence knows that only this
//! enclave instance, running the attested code, holds the private key.
//!
//! The control plane seals released secrets to that public key (HPKE, see
//! `enclet-sealed`); [`EnclaveKey::open`] is the only place they are opened.

use enclet_sealed::{OpenedBundle, RecipientKey, SealedBundle};

use crate::Error;

/// An X25519 key pair whose private half never leaves the enclave.
pub struct EnclaveKey {
    key: RecipientKey,
}

impl EnclaveKey {
    /// Generates a fresh key pair.
    ///
    /// # Errors
    /// [`Error::Internal`] if key generation fails.
    pub fn generate() -> Result<Self, Error> {
        let key = RecipientKey::generate()
            .map_err(|e| Error::Internal(format!("enclave key generation failed: {e}")))?;
        Ok(Self { key })
    }

    /// The raw 32-byte X25519 public key.
    #[must_use]
    pub fn public_key(&self) -> &[u8] {
        self.key.public_key()
    }

    /// Opens every secret of `bundle`, or none.
    ///
    /// # Errors
    /// [`Error::Bundle`]: an entry does not open (`bundle_tampered`: sealed to
    /// another key, or changed) or appears twice (`bundle_malformed`).
    pub fn open(&self, bundle: &SealedBundle) -> Result<OpenedBundle, Error> {
        Ok(self.key.open(bundle)?)
    }
}

impl std::fmt::Debug for EnclaveKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnclaveKey")
            .field("public", &hex::encode(self.public_key()))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use enclet_attestation::Measurement;
    use enclet_sealed::{SealedBundle, seal};

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

    /// What is sealed to this key's public half opens with it, and only with it.
    #[test]
    fn opens_what_is_sealed_to_its_public_key_only() {
        let key = EnclaveKey::generate().unwrap();
        let other = EnclaveKey::generate().unwrap();
        let plugin = Measurement::of_plugin(b"p");
        let sealed = seal(key.public_key(), &[1; 16], 9, &plugin, "n", b"v").unwrap();
        let bundle = SealedBundle::new([1; 16], 9, vec![sealed]).unwrap();
        let opened = key.open(&bundle).unwrap();
        assert_eq!(opened.secrets[&plugin]["n"].expose(), b"v");
        let err = other.open(&bundle).unwrap_err();
        assert_eq!(err.code(), "bundle_tampered");
    }
}
