//! The backend-neutral claims model.
//!
//! Every verifier in this crate ends by producing [`Claims`] (inside its own
//! richer claims type, e.g. `NitroClaims` or `TpmClaims`), so that the control
//! plane's policy works the same whichever evidence an enclave presented.

use crate::measurement::Measurement;

/// Which kind of evidence the claims came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// An AWS Nitro Enclaves attestation document signed by the NSM.
    Nitro,
    /// A TPM 2.0 quote signed by an attestation key.
    Tpm,
}

/// What verified evidence says about the enclave that produced it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Claims {
    /// The kind of evidence.
    pub evidence: EvidenceKind,
    /// Measurement of the enclave image: PCR0 for Nitro, the image PCR for TPM.
    #[serde(with = "hex_bytes")]
    pub image: Vec<u8>,
    /// Plugin measurements, in load order, from a replayed event log. Empty when
    /// no event log was checked against the evidence.
    pub plugins: Vec<Measurement>,
    /// The enclave's public key bound into the evidence, if any.
    #[serde(with = "hex_opt")]
    pub public_key: Option<Vec<u8>>,
    /// The verifier's nonce bound into the evidence, if any.
    #[serde(with = "hex_opt")]
    pub nonce: Option<Vec<u8>>,
    /// Application data bound into the evidence (the event-log digest), if any.
    #[serde(with = "hex_opt")]
    pub user_data: Option<Vec<u8>>,
}

mod hex_bytes {
    pub(super) fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
}

mod hex_opt {
    #[allow(clippy::ref_option, reason = "serde's `with` passes `&Option<T>`")]
    pub(super) fn serialize<S: serde::Serializer>(
        v: &Option<Vec<u8>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_str(&hex::encode(b)),
            None => s.serialize_none(),
        }
    }
}
