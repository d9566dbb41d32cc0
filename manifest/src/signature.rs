//! Publisher keys and signatures in cosign's blob format.
//!
//! `cosign sign-blob --key cosign.key FILE` writes base64 of an ASN.1 DER
//! ECDSA signature made with SHA-256 over the file's exact bytes, and
//! `cosign verify-blob --key cosign.pub --signature SIG FILE` checks it with
//! a PEM `PUBLIC KEY` (SPKI). This module reads and writes the same:
//!
//! ```text
//! private key  PEM "PRIVATE KEY"  (PKCS#8, ECDSA P-256)
//! public key   PEM "PUBLIC KEY"   (SPKI, ECDSA P-256)
//! signature    base64(DER ECDSA-P256-SHA256 signature), optional trailing newline
//! ```
//!
//! so `openssl dgst -sha256 -sign key.pem FILE | base64 -w0` makes a
//! signature this module accepts, and `base64 -d SIG > sig.der; openssl dgst
//! -sha256 -verify pub.pem -signature sig.der FILE` accepts ours.
//!
//! Key material never appears in errors or `Debug` output.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _,
    UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::ManifestError;
use crate::manifest::{UnverifiedManifest, VerifiedManifest};

/// The largest key or signature file read, in bytes.
pub const MAX_KEY_FILE_BYTES: usize = 16 * 1024;

/// Longest DER ECDSA P-256 signature (two 33-byte integers and headers).
const MAX_DER_SIGNATURE: usize = 72;

/// A publisher's private key.
pub struct SigningKey {
    pair: EcdsaKeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("public", &self.public_key())
            .finish_non_exhaustive()
    }
}

/// A publisher's public key (DER SPKI).
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    spki: Vec<u8>,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey(sha256:{})", hex::encode(self.fingerprint()))
    }
}

impl SigningKey {
    /// A fresh random key.
    ///
    /// # Errors
    /// [`ManifestError::Key`] if the system's randomness fails.
    pub fn generate() -> Result<Self, ManifestError> {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                .map_err(|_| key_error("cannot generate a key"))?;
        Self::from_pkcs8_der(pkcs8.as_ref())
    }

    /// Reads a PEM `PRIVATE KEY` (PKCS#8, ECDSA P-256).
    ///
    /// # Errors
    /// [`ManifestError::Key`] naming what is wrong (never the key).
    pub fn from_pem(text: &[u8]) -> Result<Self, ManifestError> {
        let der = pem_block(text, "PRIVATE KEY")?;
        Self::from_pkcs8_der(&der)
    }

    fn from_pkcs8_der(der: &[u8]) -> Result<Self, ManifestError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der)
            .map_err(|_| key_error("not a PKCS#8 ECDSA P-256 private key"))?;
        Ok(Self { pair })
    }

    /// The PEM `PRIVATE KEY` (PKCS#8). Handle it as a secret.
    ///
    /// # Errors
    /// [`ManifestError::Key`] if the key cannot be serialised.
    pub fn to_pem(&self) -> Result<String, ManifestError> {
        let der = self
            .pair
            .to_pkcs8v1()
            .map_err(|_| key_error("cannot serialise the private key"))?;
        Ok(pem::encode(&pem::Pem::new("PRIVATE KEY", der.as_ref())))
    }

    /// The matching public key.
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        let spki = self
            .pair
            .public_key()
            .as_der()
            .map(|d| d.as_ref().to_vec())
            .unwrap_or_default();
        PublicKey { spki }
    }

    /// Signs `bytes`: base64 of the DER signature, as cosign writes it
    /// (without a trailing newline).
    ///
    /// # Errors
    /// [`ManifestError::Key`] if signing fails.
    pub fn sign(&self, bytes: &[u8]) -> Result<String, ManifestError> {
        let sig = self
            .pair
            .sign(&SystemRandom::new(), bytes)
            .map_err(|_| key_error("signing failed"))?;
        Ok(STANDARD.encode(sig.as_ref()))
    }
}

impl PublicKey {
    /// Reads a PEM `PUBLIC KEY` (SPKI, ECDSA P-256).
    ///
    /// # Errors
    /// [`ManifestError::Key`] naming what is wrong.
    pub fn from_pem(text: &[u8]) -> Result<Self, ManifestError> {
        let spki = pem_block(text, "PUBLIC KEY")?;
        // Check it is a P-256 key now, not at the first verification.
        if !is_p256_spki(&spki) {
            return Err(key_error("not an ECDSA P-256 public key (SPKI)"));
        }
        Ok(Self { spki })
    }

    /// The PEM `PUBLIC KEY`.
    #[must_use]
    pub fn to_pem(&self) -> String {
        pem::encode(&pem::Pem::new("PUBLIC KEY", self.spki.clone()))
    }

    /// SHA-256 of the DER SPKI: how the enclave's configuration and event log
    /// name this key.
    #[must_use]
    pub fn fingerprint(&self) -> [u8; 32] {
        Sha256::digest(&self.spki).into()
    }

    /// Checks a cosign-format signature over `bytes`.
    ///
    /// # Errors
    /// [`ManifestError::MalformedSignature`] if `signature` is not base64 of
    /// a DER signature; [`ManifestError::BadSignature`] if it does not verify.
    pub fn verify(&self, bytes: &[u8], signature: &[u8]) -> Result<(), ManifestError> {
        let der = decode_signature(signature)?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &self.spki)
            .verify(bytes, &der)
            .map_err(|_| ManifestError::BadSignature)
    }
}

/// Verifies `signature` over the manifest's exact bytes with `key`.
///
/// # Errors
/// As [`PublicKey::verify`].
pub fn verify_manifest(
    manifest: UnverifiedManifest,
    key: &PublicKey,
    signature: &[u8],
) -> Result<VerifiedManifest, ManifestError> {
    key.verify(manifest.bytes(), signature)?;
    Ok(VerifiedManifest::new(manifest, key.fingerprint()))
}

fn decode_signature(signature: &[u8]) -> Result<Vec<u8>, ManifestError> {
    if signature.len() > MAX_KEY_FILE_BYTES {
        return Err(ManifestError::MalformedSignature(format!(
            "{} bytes; a signature file is at most {MAX_KEY_FILE_BYTES}",
            signature.len()
        )));
    }
    let text = std::str::from_utf8(signature)
        .map_err(|_| ManifestError::MalformedSignature("not base64 text".into()))?;
    let der = STANDARD
        .decode(text.trim_end_matches(['\n', '\r']))
        .map_err(|e| ManifestError::MalformedSignature(format!("not base64: {e}")))?;
    if der.len() > MAX_DER_SIGNATURE || der.first() != Some(&0x30) {
        return Err(ManifestError::MalformedSignature(
            "not a DER ECDSA P-256 signature".into(),
        ));
    }
    Ok(der)
}

/// The DER of the one PEM block labelled `label`.
fn pem_block(text: &[u8], label: &str) -> Result<Vec<u8>, ManifestError> {
    if text.len() > MAX_KEY_FILE_BYTES {
        return Err(key_error(&format!(
            "{} bytes; a key file is at most {MAX_KEY_FILE_BYTES}",
            text.len()
        )));
    }
    let block = pem::parse(text).map_err(|_| key_error(&format!("not a PEM {label} block")))?;
    if block.tag() != label {
        return Err(key_error(&format!(
            "a PEM {:?} block where {label:?} was expected",
            block.tag().chars().take(40).collect::<String>()
        )));
    }
    Ok(block.into_contents())
}

/// Whether `spki` names id-ecPublicKey with the P-256 curve.
fn is_p256_spki(spki: &[u8]) -> bool {
    // AlgorithmIdentifier: id-ecPublicKey (1.2.840.10045.2.1), prime256v1 (1.2.840.10045.3.1.7).
    const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let has = |needle: &[u8]| spki.windows(needle.len()).any(|w| w == needle);
    spki.len() == 91 && has(EC_PUBLIC_KEY) && has(P256)
}

fn key_error(what: &str) -> ManifestError {
    ManifestError::Key(what.to_owned())
}

#[cfg(test)]
mod tests;
