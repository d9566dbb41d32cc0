//! What a verified Nitro attestation document says.

use std::collections::BTreeMap;

use crate::claims::{Claims, EvidenceKind, Plugins, TrustBasis};
use crate::verified::Verified;

/// The contents of a verified attestation document.
///
/// Obtained only as `Verified<NitroClaims>` from [`super::NitroVerifier`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NitroClaims {
    /// The NSM module that issued the document (`i-…-enc…`).
    pub module_id: String,
    /// Creation time, milliseconds since the epoch.
    pub timestamp_ms: u64,
    /// The PCR digest algorithm; always `SHA384`.
    pub digest: String,
    /// PCR index → value (48 bytes for SHA-384).
    #[serde(serialize_with = "hex_map")]
    pub pcrs: BTreeMap<u8, Vec<u8>>,
    /// The enclave's public key, if it asked for one to be included.
    #[serde(serialize_with = "hex_opt")]
    pub public_key: Option<Vec<u8>>,
    /// Application data, if any.
    #[serde(serialize_with = "hex_opt")]
    pub user_data: Option<Vec<u8>>,
    /// The verifier's nonce, if any.
    #[serde(serialize_with = "hex_opt")]
    pub nonce: Option<Vec<u8>>,
    /// The verified chain, root first, leaf last.
    pub certificates: Vec<CertificateSummary>,
    /// SHA-256 fingerprint of the chain's root (`cabundle[0]`). In a
    /// `Verified<NitroClaims>` it is the root the verifier pinned.
    #[serde(serialize_with = "hex")]
    pub root_sha256: Vec<u8>,
    /// Whether the policy compared `nonce` with an expected value.
    pub nonce_checked: bool,
}

/// A certificate of the verified chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertificateSummary {
    /// Subject distinguished name.
    pub subject: String,
    /// `notBefore`, seconds since the epoch.
    pub not_before: i64,
    /// `notAfter`, seconds since the epoch.
    pub not_after: i64,
}

impl NitroClaims {
    /// The value of PCR `index`, if the document has it.
    #[must_use]
    pub fn pcr(&self, index: u8) -> Option<&[u8]> {
        self.pcrs.get(&index).map(Vec::as_slice)
    }

    /// Whether the enclave runs in debug mode: PCR0, PCR1 and PCR2 are all
    /// zero (or absent). Debug enclaves can be inspected by the parent.
    #[must_use]
    pub fn is_debug(&self) -> bool {
        (0..=2).all(|i| self.pcr(i).is_none_or(|v| v.iter().all(|b| *b == 0)))
    }
}

impl Verified<NitroClaims> {
    /// The backend-neutral claims, still marked as verified: image = PCR0, the
    /// trust basis is the pinned root, and plugins are [`Plugins::NotChecked`]
    /// (Nitro documents carry no event log; the caller replays one against
    /// `user_data`).
    #[must_use]
    pub fn into_claims(self) -> Verified<Claims> {
        self.map(|c| {
            let basis = TrustBasis::nitro_root(&c.root_sha256);
            Claims {
                image: c.pcrs.get(&0).cloned(),
                public_key: c.public_key,
                nonce: c.nonce,
                user_data: c.user_data,
                ..Claims::new(
                    EvidenceKind::Nitro,
                    basis,
                    c.nonce_checked,
                    true,
                    Plugins::NotChecked,
                )
            }
        })
    }
}

fn hex<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v))
}

fn hex_map<S: serde::Serializer>(v: &BTreeMap<u8, Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(v.iter().map(|(k, v)| (k.to_string(), hex::encode(v))))
}

#[allow(
    clippy::ref_option,
    reason = "serde's `serialize_with` passes `&Option<T>`"
)]
fn hex_opt<S: serde::Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(b) => s.serialize_str(&hex::encode(b)),
        None => s.serialize_none(),
    }
}
