//! [`TrustBasis`]: why the key that signed the evidence is trusted.
//!
//! The same signature check means very different things depending on where the
//! verifier got the key. A TPM quote verifies under any restricted signing key,
//! and anyone can make a software key with the restricted bit set: only
//! credential activation against a certified EK shows that the AK lives in a
//! genuine TPM. A Nitro document is as good as the root its chain ends at.
//!
//! Every variant is `#[non_exhaustive]`, so no code outside this crate can
//! construct one: a `TrustBasis` is made only by the verifier that established
//! it ([`crate::tpm::verify_quote`] from a `Verified<ActivatedAk>` or from the
//! caller's AK; [`crate::nitro::NitroVerifier`] from its pinned root).
//!
//! ```compile_fail,E0639
//! // Forging an activated basis outside the crate does not compile.
//! let forged = enclet_attestation::claims::TrustBasis::ActivatedAk {
//!     ak_name: vec![],
//!     ek_name: vec![],
//! };
//! ```

use crate::nitro::NitroRoot;
use crate::tpm::ActivatedAk;

use super::hex_bytes;

/// Why the key that signed the evidence is trusted.
///
/// Serialized with a `kind` tag (`"activated_ak"`, `"caller_pinned_ak"`,
/// `"aws_nitro_root"`, `"caller_pinned_nitro_root"`) and hex byte fields.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TrustBasis {
    /// TPM: the AK was proven by credential activation to live in the same TPM
    /// as an EK whose certificate chained to the verifier's CA.
    #[non_exhaustive]
    ActivatedAk {
        /// The AK's name (`nameAlg || H(TPMT_PUBLIC)`).
        #[serde(serialize_with = "hex_bytes::serialize")]
        ak_name: Vec<u8>,
        /// The name of the certified EK it was activated against.
        #[serde(serialize_with = "hex_bytes::serialize")]
        ek_name: Vec<u8>,
    },
    /// TPM: the AK was supplied by the caller (as `tpm2_checkquote -u` does)
    /// and nothing here proves it is a TPM key: a software key with the
    /// restricted attribute verifies as well. For inspection, not for release.
    #[non_exhaustive]
    CallerPinnedAk {
        /// The AK's name (`nameAlg || H(TPMT_PUBLIC)`).
        #[serde(serialize_with = "hex_bytes::serialize")]
        ak_name: Vec<u8>,
    },
    /// Nitro: the signing certificate chained to the AWS Nitro Enclaves
    /// Root-G1 that ships with this crate.
    #[non_exhaustive]
    AwsNitroRoot {
        /// SHA-256 fingerprint of the root certificate's DER.
        #[serde(serialize_with = "hex_bytes::serialize")]
        root_sha256: Vec<u8>,
    },
    /// Nitro: the signing certificate chained to a root the caller pinned
    /// instead of the AWS root (tests, other partitions).
    #[non_exhaustive]
    CallerPinnedNitroRoot {
        /// SHA-256 fingerprint of the root certificate's DER.
        #[serde(serialize_with = "hex_bytes::serialize")]
        root_sha256: Vec<u8>,
    },
}

impl TrustBasis {
    /// The serialized `kind` tag, e.g. `"activated_ak"`.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ActivatedAk { .. } => "activated_ak",
            Self::CallerPinnedAk { .. } => "caller_pinned_ak",
            Self::AwsNitroRoot { .. } => "aws_nitro_root",
            Self::CallerPinnedNitroRoot { .. } => "caller_pinned_nitro_root",
        }
    }

    /// An AK proven by activation (the only way to obtain a
    /// `Verified<ActivatedAk>` is `CredentialChallenge::finish`).
    pub(crate) fn activated(ak: &ActivatedAk) -> Self {
        Self::ActivatedAk {
            ak_name: ak.ak_name().to_vec(),
            ek_name: ak.ek_name().to_vec(),
        }
    }

    /// An AK the caller gave without activation.
    pub(crate) fn caller_pinned_ak(ak_name: Vec<u8>) -> Self {
        Self::CallerPinnedAk { ak_name }
    }

    /// The pinned root a Nitro chain was verified against, by fingerprint.
    pub(crate) fn nitro_root(root_sha256: &[u8]) -> Self {
        let root_sha256 = root_sha256.to_vec();
        if root_sha256 == NitroRoot::aws_g1().sha256_fingerprint() {
            Self::AwsNitroRoot { root_sha256 }
        } else {
            Self::CallerPinnedNitroRoot { root_sha256 }
        }
    }
}
