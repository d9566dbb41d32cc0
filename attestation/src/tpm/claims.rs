//! [`TpmClaims`]: what a verified quote says, around the common [`Claims`].

use crate::{Claims, Verified};

use super::alg::HashAlg;
use super::attest::ClockInfo;

/// One PCR of the quote's selection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QuotedPcr {
    /// The bank.
    pub bank: HashAlg,
    /// The PCR index.
    pub index: u8,
    /// Its value, present only when the claimed values were checked against the
    /// quote's `pcrDigest`.
    #[serde(serialize_with = "hex_opt")]
    pub value: Option<Vec<u8>>,
}

/// The claims of a verified TPM quote.
///
/// `claims` is the backend-neutral view, and says how far the quote was
/// checked: `claims.trust_basis` is [`ActivatedAk`](crate::claims::TrustBasis::ActivatedAk) only when the
/// quote was verified with a `Verified<ActivatedAk>` and
/// [`CallerPinnedAk`](crate::claims::TrustBasis::CallerPinnedAk) otherwise; `claims.checked` says whether
/// `extraData`, the PCR values and an event log were compared. `image` is the
/// SHA-256 value of [`super::IMAGE_PCR`] when it was quoted and checked, and
/// `plugins` the event log's measurements when it replayed to
/// [`super::PLUGIN_PCR`]. A quote verified without PCR values proves only that
/// the AK signed this structure and nonce.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TpmClaims {
    /// The backend-neutral claims, with the trust basis and the checks made.
    pub claims: Claims,
    /// The AK's name (`nameAlg || H(TPMT_PUBLIC)`).
    #[serde(serialize_with = "hex")]
    pub ak_name: Vec<u8>,
    /// The hash the AK signed with (and the `pcrDigest` hash).
    pub signature_hash: HashAlg,
    /// `TPMS_ATTEST.qualifiedSigner`.
    #[serde(serialize_with = "hex")]
    pub qualified_signer: Vec<u8>,
    /// `TPMS_ATTEST.extraData`, exactly as quoted; compared with the
    /// expectation only when `claims.checked.nonce` is true.
    #[serde(serialize_with = "hex")]
    pub extra_data: Vec<u8>,
    /// The TPM's clock at signing.
    pub clock: ClockInfo,
    /// `TPMS_ATTEST.firmwareVersion`.
    pub firmware_version: u64,
    /// The quoted PCRs in digest order.
    pub pcrs: Vec<QuotedPcr>,
    /// `TPMS_QUOTE_INFO.pcrDigest`.
    #[serde(serialize_with = "hex")]
    pub pcr_digest: Vec<u8>,
}

impl Verified<TpmClaims> {
    /// The backend-neutral claims, still marked as verified. Only what was
    /// checked is in them: no image without checked PCR values,
    /// [`crate::claims::Plugins::NotChecked`] without an event log, no nonce
    /// when `extraData` was not compared; and the trust basis says whether the
    /// AK was activated or merely given by the caller.
    #[must_use]
    pub fn into_claims(self) -> Verified<Claims> {
        self.map(|c| c.claims)
    }
}

fn hex<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v))
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
