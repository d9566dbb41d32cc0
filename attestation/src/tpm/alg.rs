//! TPM algorithm identifiers (`TPM_ALG_ID`) this crate understands.

use aws_lc_rs::digest;

use super::TpmError;

/// `TPM_ALG_RSA`.
pub(crate) const ALG_RSA: u16 = 0x0001;
/// `TPM_ALG_AES`.
pub(crate) const ALG_AES: u16 = 0x0006;
/// `TPM_ALG_NULL`.
pub(crate) const ALG_NULL: u16 = 0x0010;
/// `TPM_ALG_RSASSA` (PKCS#1 v1.5 signatures).
pub(crate) const ALG_RSASSA: u16 = 0x0014;
/// `TPM_ALG_ECDSA`.
pub(crate) const ALG_ECDSA: u16 = 0x0018;
/// `TPM_ALG_ECDAA` (its scheme carries an extra count field).
pub(crate) const ALG_ECDAA: u16 = 0x001A;
/// `TPM_ALG_ECC`.
pub(crate) const ALG_ECC: u16 = 0x0023;
/// `TPM_ALG_CFB`.
pub(crate) const ALG_CFB: u16 = 0x0043;
/// `TPM_ECC_NIST_P256`.
pub(crate) const ECC_NIST_P256: u16 = 0x0003;

/// A hash algorithm: a PCR bank, a name algorithm or a signature digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HashAlg {
    /// `TPM_ALG_SHA1` (0x0004).
    Sha1,
    /// `TPM_ALG_SHA256` (0x000B).
    Sha256,
    /// `TPM_ALG_SHA384` (0x000C).
    Sha384,
    /// `TPM_ALG_SHA512` (0x000D).
    Sha512,
}

impl HashAlg {
    /// The hash with this `TPM_ALG_ID`, if supported.
    #[must_use]
    pub fn from_id(id: u16) -> Option<Self> {
        match id {
            0x0004 => Some(Self::Sha1),
            0x000B => Some(Self::Sha256),
            0x000C => Some(Self::Sha384),
            0x000D => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Parses a `TPM_ALG_ID` read from `field`.
    pub(crate) fn parse(id: u16, field: &'static str) -> Result<Self, TpmError> {
        Self::from_id(id).ok_or(TpmError::Unsupported { field, value: id })
    }

    /// The `TPM_ALG_ID`.
    #[must_use]
    pub const fn id(self) -> u16 {
        match self {
            Self::Sha1 => 0x0004,
            Self::Sha256 => 0x000B,
            Self::Sha384 => 0x000C,
            Self::Sha512 => 0x000D,
        }
    }

    /// Digest length in bytes.
    #[must_use]
    pub const fn digest_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// Lowercase name as used in PCR files: `sha1`, `sha256`, …
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    /// The hash named `name` (`sha1`, `sha256`, `sha384`, `sha512`).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Sha1, Self::Sha256, Self::Sha384, Self::Sha512]
            .into_iter()
            .find(|h| h.name().eq_ignore_ascii_case(name))
    }

    pub(crate) fn aws_lc(self) -> &'static digest::Algorithm {
        match self {
            Self::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => &digest::SHA256,
            Self::Sha384 => &digest::SHA384,
            Self::Sha512 => &digest::SHA512,
        }
    }

    /// Hashes the concatenation of `parts`.
    #[must_use]
    pub fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        let mut ctx = digest::Context::new(self.aws_lc());
        for p in parts {
            ctx.update(p);
        }
        ctx.finish().as_ref().to_vec()
    }
}

impl core::fmt::Display for HashAlg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_names_and_lengths_agree() {
        for h in [
            HashAlg::Sha1,
            HashAlg::Sha256,
            HashAlg::Sha384,
            HashAlg::Sha512,
        ] {
            assert_eq!(HashAlg::from_id(h.id()), Some(h));
            assert_eq!(HashAlg::from_name(h.name()), Some(h));
            assert_eq!(h.digest(&[b"x"]).len(), h.digest_len());
        }
        assert_eq!(HashAlg::from_id(ALG_NULL), None);
        assert_eq!(HashAlg::from_name("md5"), None);
        // SHA-256("abc"), FIPS 180-2.
        assert_eq!(
            hex::encode(HashAlg::Sha256.digest(&[b"a", b"bc"])),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
