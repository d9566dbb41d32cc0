//! [`RecipientKey`]: the enclave's X25519 key pair that sealed secrets open with.

use hpke::{Deserializable, Kem as _, Serializable, kem::X25519HkdfSha256};

use crate::bundle::{OpenedBundle, SealedBundle, open_bundle};
use crate::{Error, PUBLIC_KEY_LEN};

/// The HPKE KEM of every sealed secret.
pub(crate) type Kem = X25519HkdfSha256;

/// An X25519 key pair whose private half never leaves the process that made
/// it: it is not serializable and its `Debug` shows only the public half.
pub struct RecipientKey {
    private: <Kem as hpke::Kem>::PrivateKey,
    public: [u8; PUBLIC_KEY_LEN],
}

impl RecipientKey {
    /// A fresh key pair from the system CSPRNG.
    ///
    /// # Errors
    /// [`Error::Seal`] if the public key has an unexpected encoding (a bug).
    pub fn generate() -> Result<Self, Error> {
        let (private, public) = Kem::gen_keypair();
        let public = public
            .to_bytes()
            .as_slice()
            .try_into()
            .map_err(|_| Error::Seal("X25519 public key is not 32 bytes".to_owned()))?;
        Ok(Self { private, public })
    }

    /// The raw 32-byte X25519 public key, as bound into evidence.
    #[must_use]
    pub fn public_key(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.public
    }

    /// Opens every secret in `bundle`, or none.
    ///
    /// # Errors
    /// [`Error::Open`] naming the first entry that does not open (sealed to
    /// another key, or any part of its context or ciphertext changed);
    /// [`Error::Duplicate`] if a plugin and name appear twice.
    pub fn open(&self, bundle: &SealedBundle) -> Result<OpenedBundle, Error> {
        open_bundle(&self.private, bundle)
    }
}

impl std::fmt::Debug for RecipientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecipientKey")
            .field("public", &hex::encode(self.public))
            .finish_non_exhaustive()
    }
}

/// Parses a raw X25519 public key.
pub(crate) fn public_key(bytes: &[u8]) -> Result<<Kem as hpke::Kem>::PublicKey, Error> {
    if bytes.len() != PUBLIC_KEY_LEN {
        return Err(Error::InvalidPublicKey);
    }
    <Kem as hpke::Kem>::PublicKey::from_bytes(bytes).map_err(|_| Error::InvalidPublicKey)
}
