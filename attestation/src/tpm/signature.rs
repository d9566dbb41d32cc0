//! `TPMT_SIGNATURE` parsing and verification with an AK public area.
//!
//! Supported: RSASSA-PKCS1-v1_5 with SHA-1 / SHA-256 / SHA-384 / SHA-512 (RSA
//! 2048–8192) and ECDSA on NIST P-256 with SHA-256. Verification uses aws-lc-rs.

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};

use super::TpmError;
use super::alg::{ALG_ECDSA, ALG_RSASSA, ECC_NIST_P256, HashAlg};
use super::public::{PublicKey, TpmPublic};
use super::reader::Reader;

const MAX_RSA_SIG: usize = 512;
const MAX_ECC_PARAM: usize = 128;
const P256_LEN: usize = 32;

/// A parsed `TPMT_SIGNATURE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TpmSignature {
    /// `TPM_ALG_RSASSA`: PKCS#1 v1.5.
    RsaSsa {
        /// The digest algorithm.
        hash: HashAlg,
        /// The signature bytes.
        sig: Vec<u8>,
    },
    /// `TPM_ALG_ECDSA`.
    Ecdsa {
        /// The digest algorithm.
        hash: HashAlg,
        /// Big-endian `r`.
        r: Vec<u8>,
        /// Big-endian `s`.
        s: Vec<u8>,
    },
}

impl TpmSignature {
    /// Parses a `TPMT_SIGNATURE`.
    ///
    /// # Errors
    /// A [`TpmError`] for truncation, trailing bytes, or an unsupported scheme
    /// or hash.
    pub fn parse(bytes: &[u8]) -> Result<Self, TpmError> {
        let mut r = Reader::new(bytes);
        let alg = r.u16("TPMT_SIGNATURE.sigAlg")?;
        let sig = match alg {
            ALG_RSASSA => {
                let hash =
                    HashAlg::parse(r.u16("TPMS_SIGNATURE_RSA.hash")?, "TPMS_SIGNATURE_RSA.hash")?;
                let sig = r.sized(MAX_RSA_SIG, "TPMS_SIGNATURE_RSA.sig")?.to_vec();
                Self::RsaSsa { hash, sig }
            }
            ALG_ECDSA => {
                let hash =
                    HashAlg::parse(r.u16("TPMS_SIGNATURE_ECC.hash")?, "TPMS_SIGNATURE_ECC.hash")?;
                let sr = r
                    .sized(MAX_ECC_PARAM, "TPMS_SIGNATURE_ECC.signatureR")?
                    .to_vec();
                let ss = r
                    .sized(MAX_ECC_PARAM, "TPMS_SIGNATURE_ECC.signatureS")?
                    .to_vec();
                Self::Ecdsa { hash, r: sr, s: ss }
            }
            other => {
                return Err(TpmError::Unsupported {
                    field: "TPMT_SIGNATURE.sigAlg",
                    value: other,
                });
            }
        };
        r.finish("TPMT_SIGNATURE")?;
        Ok(sig)
    }

    /// The digest algorithm the signature was made with.
    #[must_use]
    pub fn hash(&self) -> HashAlg {
        match self {
            Self::RsaSsa { hash, .. } | Self::Ecdsa { hash, .. } => *hash,
        }
    }

    /// Verifies the signature over `message` with `key`.
    ///
    /// # Errors
    /// [`TpmError::Signature`] when the scheme does not fit the key or the
    /// signature is invalid; [`TpmError::Unsupported`] for other curves/hashes.
    pub fn verify(&self, key: &TpmPublic, message: &[u8]) -> Result<(), TpmError> {
        match (self, key.key()) {
            (Self::RsaSsa { hash, sig }, PublicKey::Rsa { modulus, exponent }) => {
                let alg: &signature::RsaParameters = match hash {
                    HashAlg::Sha1 => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                    HashAlg::Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    HashAlg::Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    HashAlg::Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                };
                let e = exponent.to_be_bytes();
                let e = e
                    .get(e.iter().take_while(|b| **b == 0).count()..)
                    .unwrap_or(&[]);
                RsaPublicKeyComponents {
                    n: modulus.as_slice(),
                    e,
                }
                .verify(alg, message, sig)
                .map_err(|_| TpmError::Signature("RSASSA signature invalid"))
            }
            (Self::Ecdsa { hash, r, s }, PublicKey::Ecc { curve, x, y }) => {
                if *curve != ECC_NIST_P256 {
                    return Err(TpmError::Unsupported {
                        field: "TPMS_ECC_PARMS.curveID",
                        value: *curve,
                    });
                }
                if *hash != HashAlg::Sha256 {
                    return Err(TpmError::Unsupported {
                        field: "TPMS_SIGNATURE_ECC.hash",
                        value: hash.id(),
                    });
                }
                let point = [&[0x04][..], &pad32(x)?, &pad32(y)?].concat();
                let rs = [pad32(r)?, pad32(s)?].concat();
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, &rs)
                    .map_err(|_| TpmError::Signature("ECDSA signature invalid"))
            }
            _ => Err(TpmError::Signature(
                "signature scheme does not match the AK's key type",
            )),
        }
    }
}

/// Left-pads a big-endian P-256 integer to 32 bytes.
fn pad32(v: &[u8]) -> Result<[u8; P256_LEN], TpmError> {
    let trimmed = v
        .get(v.iter().take_while(|b| **b == 0).count()..)
        .unwrap_or(&[]);
    let mut out = [0u8; P256_LEN];
    let start = P256_LEN
        .checked_sub(trimmed.len())
        .ok_or(TpmError::Signature("ECC value longer than 32 bytes"))?;
    out.get_mut(start..)
        .ok_or(TpmError::Signature("ECC value longer than 32 bytes"))?
        .copy_from_slice(trimmed);
    Ok(out)
}
