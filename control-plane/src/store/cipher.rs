//! AES-256-GCM for secret values at rest.
//!
//! Every write draws a fresh random 96-bit nonce. The associated data is the
//! secret's name followed by its version (8 bytes, big-endian), so a
//! ciphertext moved to another name, or an older version put back in place of
//! a newer one, fails to decrypt. A check value (the empty message sealed with
//! a fixed label) is kept beside the data so a wrong key file is refused at
//! open instead of at the first read.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use zeroize::Zeroizing;

use super::keyfile::KeyBytes;
use super::{SecretValue, StoreError};

/// Associated data of the key check value.
const KEY_CHECK_LABEL: &[u8] = b"enclet/store/key-check/v1";

/// A value sealed for the database.
pub(crate) struct Sealed {
    /// The random nonce.
    pub(crate) nonce: [u8; NONCE_LEN],
    /// Ciphertext followed by the 16-byte tag.
    pub(crate) ciphertext: Vec<u8>,
}

/// The at-rest encryption of secret values.
pub(crate) struct SecretCipher {
    key: RandomizedNonceKey,
}

impl fmt::Debug for SecretCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretCipher(<redacted>)")
    }
}

fn aad(name: &str, version: u64) -> Vec<u8> {
    let mut aad = Vec::with_capacity(name.len().saturating_add(8));
    aad.extend_from_slice(name.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

impl SecretCipher {
    pub(crate) fn new(key: &KeyBytes) -> Result<Self, StoreError> {
        let key = RandomizedNonceKey::new(&AES_256_GCM, key.as_slice())
            .map_err(|_| StoreError::Unavailable("cannot set up AES-256-GCM".to_owned()))?;
        Ok(Self { key })
    }

    fn seal_with(&self, aad: &[u8], value: &[u8]) -> Result<Sealed, StoreError> {
        let tag_len = AES_256_GCM.tag_len();
        // Room for the tag up front: no reallocation leaves plaintext behind.
        let mut buf = Vec::with_capacity(value.len().saturating_add(tag_len));
        buf.extend_from_slice(value);
        let (nonce, tag) = self
            .key
            .seal_in_place_separate_tag(Aad::from(aad), &mut buf)
            .map_err(|_| StoreError::Unavailable("encryption failed".to_owned()))?;
        buf.extend_from_slice(tag.as_ref());
        Ok(Sealed {
            nonce: *nonce.as_ref(),
            ciphertext: buf,
        })
    }

    /// Seals version `version` of secret `name`.
    pub(crate) fn seal(
        &self,
        name: &str,
        version: u64,
        value: &[u8],
    ) -> Result<Sealed, StoreError> {
        self.seal_with(&aad(name, version), value)
    }

    /// Opens version `version` of secret `name`.
    pub(crate) fn open(
        &self,
        name: &str,
        version: u64,
        nonce: &[u8],
        ciphertext: &[u8],
    ) -> Result<SecretValue, StoreError> {
        let failed = || StoreError::Undecryptable {
            name: name.to_owned(),
        };
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| failed())?;
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        let len = self
            .key
            .open_in_place(nonce, Aad::from(aad(name, version)), buf.as_mut_slice())
            .map_err(|_| failed())?
            .len();
        buf.truncate(len);
        Ok(SecretValue::new(buf))
    }

    /// A fresh check value for this key: nonce followed by tag.
    pub(crate) fn key_check(&self) -> Result<Vec<u8>, StoreError> {
        let sealed = self.seal_with(KEY_CHECK_LABEL, &[])?;
        let mut check = sealed.nonce.to_vec();
        check.extend_from_slice(&sealed.ciphertext);
        Ok(check)
    }

    /// Whether `check` was made by [`Self::key_check`] with this key.
    pub(crate) fn matches(&self, check: &[u8]) -> bool {
        let Some((nonce, tag)) = check.split_at_checked(NONCE_LEN) else {
            return false;
        };
        let Ok(nonce) = Nonce::try_assume_unique_for_key(nonce) else {
            return false;
        };
        let mut tag = tag.to_vec();
        self.key
            .open_in_place(nonce, Aad::from(KEY_CHECK_LABEL), &mut tag)
            .is_ok()
    }
}
