//! `TPMT_PUBLIC` / `TPM2B_PUBLIC`: the public area of an AK or EK.
//!
//! Only asymmetric keys are parsed (RSA and ECC); the raw `TPMT_PUBLIC` bytes are
//! kept because the object's *name* is `nameAlg || H_nameAlg(TPMT_PUBLIC)`.

use super::TpmError;
use super::alg::{ALG_ECC, ALG_ECDAA, ALG_NULL, ALG_RSA, HashAlg};
use super::reader::{Reader, strip_tpm2b};

/// Largest RSA modulus accepted (`TPM2B_PUBLIC_KEY_RSA`, 4096 bits).
const MAX_RSA_BYTES: usize = 512;
/// Largest ECC coordinate accepted (`TPM2B_ECC_PARAMETER`).
const MAX_ECC_BYTES: usize = 128;
/// Largest `authPolicy` digest (`TPM2B_DIGEST`).
const MAX_DIGEST: usize = 64;

/// `objectAttributes` bits of a public area (TPM 2.0 Part 2, `TPMA_OBJECT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ObjectAttributes(pub u32);

impl ObjectAttributes {
    /// `fixedTPM`: the key cannot be duplicated out of this TPM.
    pub const FIXED_TPM: u32 = 1 << 1;
    /// `fixedParent`.
    pub const FIXED_PARENT: u32 = 1 << 4;
    /// `sensitiveDataOrigin`: the TPM generated the private key.
    pub const SENSITIVE_DATA_ORIGIN: u32 = 1 << 5;
    /// `userWithAuth`.
    pub const USER_WITH_AUTH: u32 = 1 << 6;
    /// `adminWithPolicy`.
    pub const ADMIN_WITH_POLICY: u32 = 1 << 7;
    /// `restricted`: a signing key signs only digests the TPM computed itself.
    pub const RESTRICTED: u32 = 1 << 16;
    /// `decrypt`.
    pub const DECRYPT: u32 = 1 << 17;
    /// `sign`.
    pub const SIGN: u32 = 1 << 18;

    /// Whether every bit of `mask` is set.
    #[must_use]
    pub const fn has(self, mask: u32) -> bool {
        self.0 & mask == mask
    }

    /// A restricted signing key that cannot decrypt: what an AK must be.
    #[must_use]
    pub const fn is_restricted_signing(self) -> bool {
        self.has(Self::RESTRICTED | Self::SIGN) && !self.has(Self::DECRYPT)
    }
}

/// The public key in a public area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// An RSA key.
    Rsa {
        /// Big-endian modulus.
        modulus: Vec<u8>,
        /// Public exponent (the TPM's 0 already mapped to 65537).
        exponent: u32,
    },
    /// An ECC key.
    Ecc {
        /// `TPM_ECC_CURVE` (3 = NIST P-256).
        curve: u16,
        /// Big-endian x coordinate.
        x: Vec<u8>,
        /// Big-endian y coordinate.
        y: Vec<u8>,
    },
}

/// A scheme (`TPMT_*_SCHEME`): algorithm and, where it has one, its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheme {
    /// `TPM_ALG_ID` of the scheme (e.g. RSASSA 0x0014, ECDSA 0x0018).
    pub alg: u16,
    /// Its hash algorithm id.
    pub hash: u16,
}

/// A parsed `TPMT_PUBLIC` of an asymmetric key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmPublic {
    raw: Vec<u8>,
    name_alg: HashAlg,
    attributes: ObjectAttributes,
    symmetric: Option<(u16, u16, u16)>,
    scheme: Option<Scheme>,
    key: PublicKey,
}

impl TpmPublic {
    /// Parses a `TPMT_PUBLIC`, or a `TPM2B_PUBLIC` (size-prefixed) holding one.
    ///
    /// # Errors
    /// A [`TpmError`] naming the field that is truncated, invalid or unsupported
    /// (only RSA and ECC keys are), or trailing bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, TpmError> {
        if let Some(inner) = strip_tpm2b(bytes)
            && let Ok(p) = Self::parse_tpmt(inner)
        {
            return Ok(p);
        }
        Self::parse_tpmt(bytes)
    }

    fn parse_tpmt(bytes: &[u8]) -> Result<Self, TpmError> {
        let mut r = Reader::new(bytes);
        let kind = r.u16("TPMT_PUBLIC.type")?;
        let name_alg = HashAlg::parse(r.u16("TPMT_PUBLIC.nameAlg")?, "TPMT_PUBLIC.nameAlg")?;
        let attributes = ObjectAttributes(r.u32("TPMT_PUBLIC.objectAttributes")?);
        r.sized(MAX_DIGEST, "TPMT_PUBLIC.authPolicy")?;
        let symmetric = symmetric(&mut r)?;
        let (scheme, key) = match kind {
            ALG_RSA => rsa(&mut r)?,
            ALG_ECC => ecc(&mut r)?,
            other => {
                return Err(TpmError::Unsupported {
                    field: "TPMT_PUBLIC.type",
                    value: other,
                });
            }
        };
        r.finish("TPMT_PUBLIC")?;
        Ok(Self {
            raw: bytes.to_vec(),
            name_alg,
            attributes,
            symmetric,
            scheme,
            key,
        })
    }

    /// The exact `TPMT_PUBLIC` bytes.
    #[must_use]
    pub fn tpmt_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// The object's name: `nameAlg` (big-endian) followed by `H_nameAlg(TPMT_PUBLIC)`.
    #[must_use]
    pub fn name(&self) -> Vec<u8> {
        let mut name = self.name_alg.id().to_be_bytes().to_vec();
        name.extend(self.name_alg.digest(&[&self.raw]));
        name
    }

    /// The name algorithm.
    #[must_use]
    pub fn name_alg(&self) -> HashAlg {
        self.name_alg
    }

    /// The object attributes.
    #[must_use]
    pub fn attributes(&self) -> ObjectAttributes {
        self.attributes
    }

    /// The symmetric definition of a storage key: (algorithm, key bits, mode).
    #[must_use]
    pub fn symmetric(&self) -> Option<(u16, u16, u16)> {
        self.symmetric
    }

    /// The signing or encryption scheme, if not `TPM_ALG_NULL`.
    #[must_use]
    pub fn scheme(&self) -> Option<Scheme> {
        self.scheme
    }

    /// The public key.
    #[must_use]
    pub fn key(&self) -> &PublicKey {
        &self.key
    }
}

/// `TPMT_SYM_DEF_OBJECT`: algorithm, then key bits and mode unless NULL.
fn symmetric(r: &mut Reader<'_>) -> Result<Option<(u16, u16, u16)>, TpmError> {
    let alg = r.u16("TPMT_SYM_DEF_OBJECT.algorithm")?;
    if alg == ALG_NULL {
        return Ok(None);
    }
    let bits = r.u16("TPMT_SYM_DEF_OBJECT.keyBits")?;
    let mode = r.u16("TPMT_SYM_DEF_OBJECT.mode")?;
    Ok(Some((alg, bits, mode)))
}

/// A `TPMT_*_SCHEME`: scheme, then its hash unless NULL (ECDAA adds a count).
fn scheme(r: &mut Reader<'_>, field: &'static str) -> Result<Option<Scheme>, TpmError> {
    let alg = r.u16(field)?;
    if alg == ALG_NULL {
        return Ok(None);
    }
    let hash = r.u16(field)?;
    if alg == ALG_ECDAA {
        r.u16(field)?;
    }
    Ok(Some(Scheme { alg, hash }))
}

fn rsa(r: &mut Reader<'_>) -> Result<(Option<Scheme>, PublicKey), TpmError> {
    // RSAES has no details; other schemes carry a hash (TPMU_ASYM_SCHEME).
    let alg = r.u16("TPMS_RSA_PARMS.scheme")?;
    let scheme = match alg {
        ALG_NULL => None,
        0x0015 => Some(Scheme {
            alg,
            hash: ALG_NULL,
        }),
        _ => Some(Scheme {
            alg,
            hash: r.u16("TPMS_RSA_PARMS.scheme.hashAlg")?,
        }),
    };
    let bits = r.u16("TPMS_RSA_PARMS.keyBits")?;
    let exponent = match r.u32("TPMS_RSA_PARMS.exponent")? {
        0 => 65_537,
        e => e,
    };
    let modulus = r.sized(MAX_RSA_BYTES, "TPMT_PUBLIC.unique.rsa")?;
    if modulus.len().checked_mul(8) != Some(usize::from(bits)) {
        return Err(TpmError::Invalid {
            field: "TPMT_PUBLIC.unique.rsa",
            reason: "modulus length differs from keyBits",
        });
    }
    let key = PublicKey::Rsa {
        modulus: modulus.to_vec(),
        exponent,
    };
    Ok((scheme, key))
}

fn ecc(r: &mut Reader<'_>) -> Result<(Option<Scheme>, PublicKey), TpmError> {
    let scheme = scheme(r, "TPMS_ECC_PARMS.scheme")?;
    let curve = r.u16("TPMS_ECC_PARMS.curveID")?;
    let _kdf = self::scheme(r, "TPMS_ECC_PARMS.kdf")?;
    let x = r.sized(MAX_ECC_BYTES, "TPMT_PUBLIC.unique.ecc.x")?.to_vec();
    let y = r.sized(MAX_ECC_BYTES, "TPMT_PUBLIC.unique.ecc.y")?.to_vec();
    Ok((scheme, PublicKey::Ecc { curve, x, y }))
}
