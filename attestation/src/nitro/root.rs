//! The pinned trust anchor: the root certificate a document's chain must start at.

use std::borrow::Cow;

use super::cert::Parsed;
use super::cert_cache::{DerHash, der_hash};
use super::error::{CertPosition, CertRef, ChainError, NitroError};

/// DER of "AWS Nitro Enclaves Root-G1" (`CN=aws.nitro-enclaves`, P-384,
/// valid 2019-10-28 to 2049-10-28), from AWS's `AWS_NitroEnclaves_Root-G1.zip`.
/// Its SHA-256 fingerprint, published by AWS, is
/// `641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b`
/// (checked by a test).
const AWS_ROOT_G1_DER: &[u8] = include_bytes!("aws_nitro_enclaves_root_g1.der");

/// A pinned root certificate. `cabundle[0]` of a document must equal it byte
/// for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NitroRoot {
    der: Cow<'static, [u8]>,
    hash: DerHash,
}

impl NitroRoot {
    /// The AWS Nitro Enclaves Root-G1 certificate that ships with this crate:
    /// the right anchor for documents from AWS's NSM.
    #[must_use]
    pub fn aws_g1() -> Self {
        Self {
            der: Cow::Borrowed(AWS_ROOT_G1_DER),
            hash: der_hash(AWS_ROOT_G1_DER),
        }
    }

    /// A root from its DER encoding.
    ///
    /// # Errors
    ///
    /// [`NitroError::Chain`] (at the pinned root) if the bytes are not one DER
    /// X.509 certificate with a P-256 or P-384 key.
    pub fn from_der(der: &[u8]) -> Result<Self, NitroError> {
        let at_root = |kind| {
            NitroError::chain(
                CertRef {
                    position: CertPosition::PinnedRoot,
                    subject: String::new(),
                },
                kind,
            )
        };
        Parsed::parse(der).and_then(|p| p.info()).map_err(at_root)?;
        Ok(Self {
            der: Cow::Owned(der.to_vec()),
            hash: der_hash(der),
        })
    }

    /// A root from a PEM `CERTIFICATE` block.
    ///
    /// # Errors
    ///
    /// [`NitroError::Chain`] (at the pinned root) if the text is not one PEM
    /// certificate, or as for [`Self::from_der`].
    pub fn from_pem(pem: &[u8]) -> Result<Self, NitroError> {
        let malformed = |why: String| {
            NitroError::chain(
                CertRef {
                    position: CertPosition::PinnedRoot,
                    subject: String::new(),
                },
                ChainError::Malformed(why),
            )
        };
        let (_, block) = x509_parser::pem::parse_x509_pem(pem)
            .map_err(|e| malformed(format!("not PEM: {e}")))?;
        if block.label != "CERTIFICATE" {
            return Err(malformed(format!(
                "PEM block is {:?}, not CERTIFICATE",
                block.label
            )));
        }
        Self::from_der(&block.contents)
    }

    /// The certificate's DER.
    #[must_use]
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// SHA-256 of the DER: the certificate's fingerprint.
    #[must_use]
    pub fn sha256_fingerprint(&self) -> [u8; 32] {
        self.hash
    }
}
