//! The control plane's capability root key (Ed25519) and its public half,
//! which is part of the enclave's measured configuration.
//!
//! Files are PEM: the private key PKCS#8 (`-----BEGIN PRIVATE KEY-----`),
//! the public key SPKI (`-----BEGIN PUBLIC KEY-----`), so `openssl pkey`
//! reads both. `Debug` never shows the private key.

use core::fmt;

use biscuit_auth::{KeyPair, PrivateKey, PublicKey};
use zeroize::Zeroizing;

use crate::CapabilityError;

/// Largest key file accepted, in bytes.
pub const MAX_KEY_PEM_BYTES: usize = 4096;

/// The signing key of capability tokens and revocation lists.
pub struct RootKey(KeyPair);

/// The key that checks capability tokens and revocation lists.
#[derive(Clone, PartialEq, Eq)]
pub struct RootPublicKey(PublicKey);

impl RootKey {
    /// A fresh random key.
    #[must_use]
    pub fn generate() -> Self {
        Self(KeyPair::new())
    }

    /// Parses a PKCS#8 PEM Ed25519 private key.
    ///
    /// # Errors
    /// [`CapabilityError::InvalidKey`] when oversized or not such a key.
    pub fn from_pem(pem: &str) -> Result<Self, CapabilityError> {
        bounded(pem, "private key")?;
        let key = PrivateKey::from_pem(pem).map_err(|e| CapabilityError::InvalidKey {
            what: "private key",
            reason: format!("expected a PKCS#8 PEM Ed25519 key ({e})"),
        })?;
        Ok(Self(KeyPair::from(&key)))
    }

    /// The private key as PKCS#8 PEM (zeroed on drop).
    ///
    /// # Errors
    /// [`CapabilityError::Internal`] if encoding fails.
    pub fn to_pem(&self) -> Result<Zeroizing<String>, CapabilityError> {
        self.0
            .private()
            .to_pem()
            .map_err(|e| CapabilityError::Internal(format!("encoding the private key: {e}")))
    }

    /// The public half.
    #[must_use]
    pub fn public(&self) -> RootPublicKey {
        RootPublicKey(self.0.public())
    }

    pub(crate) fn keypair(&self) -> &KeyPair {
        &self.0
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootKey")
            .field("public", &self.public().to_hex())
            .finish_non_exhaustive()
    }
}

impl RootPublicKey {
    /// Parses an SPKI PEM Ed25519 public key.
    ///
    /// # Errors
    /// [`CapabilityError::InvalidKey`] when oversized or not such a key.
    pub fn from_pem(pem: &str) -> Result<Self, CapabilityError> {
        bounded(pem, "public key")?;
        PublicKey::from_pem(pem)
            .map(Self)
            .map_err(|e| CapabilityError::InvalidKey {
                what: "public key",
                reason: format!("expected an SPKI PEM Ed25519 key ({e})"),
            })
    }

    /// The key as SPKI PEM.
    ///
    /// # Errors
    /// [`CapabilityError::Internal`] if encoding fails.
    pub fn to_pem(&self) -> Result<String, CapabilityError> {
        self.0
            .to_pem()
            .map_err(|e| CapabilityError::Internal(format!("encoding the public key: {e}")))
    }

    /// The raw 32-byte key in lower-case hex.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    pub(crate) fn key(&self) -> PublicKey {
        self.0
    }
}

impl fmt::Debug for RootPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RootPublicKey({})", self.to_hex())
    }
}

fn bounded(pem: &str, what: &'static str) -> Result<(), CapabilityError> {
    if pem.len() > MAX_KEY_PEM_BYTES {
        return Err(CapabilityError::InvalidKey {
            what,
            reason: format!("larger than {MAX_KEY_PEM_BYTES} bytes"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_pem_and_debug_shows_only_the_public_half() {
        let key = RootKey::generate();
        let pem = key.to_pem().unwrap();
        assert!(
            pem.starts_with("-----BEGIN PRIVATE KEY-----"),
            "{}",
            &pem[..30]
        );
        let back = RootKey::from_pem(&pem).unwrap();
        assert_eq!(back.public(), key.public());
        let public = RootPublicKey::from_pem(&key.public().to_pem().unwrap()).unwrap();
        assert_eq!(public, key.public());
        let shown = format!("{key:?}");
        assert!(shown.contains(&key.public().to_hex()), "{shown}");
        let secret_body: String = pem.lines().nth(1).unwrap().chars().take(16).collect();
        assert!(!shown.contains(&secret_body), "{shown}");
    }

    #[test]
    fn wrong_or_oversized_keys_are_refused_naming_the_key() {
        let key = RootKey::generate();
        let public_pem = key.public().to_pem().unwrap();
        let err = RootKey::from_pem(&public_pem).unwrap_err();
        assert_eq!(err.code(), "invalid_key");
        assert!(err.to_string().contains("private key"), "{err}");
        let err = RootPublicKey::from_pem(&key.to_pem().unwrap()).unwrap_err();
        assert!(err.to_string().contains("public key"), "{err}");
        let huge = "A".repeat(MAX_KEY_PEM_BYTES + 1);
        let err = RootPublicKey::from_pem(&huge).unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
        assert!(RootPublicKey::from_pem("").is_err());
    }
}
