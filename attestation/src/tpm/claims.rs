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
/// `claims` is the backend-neutral view: `image` is the SHA-256 value of
/// [`super::IMAGE_PCR`] when it was quoted and checked (empty otherwise), and
/// `plugins` the event log's measurements when it replayed to
/// [`super::PLUGIN_PCR`]. The flags say which checks were made: a quote verified
/// without PCR values proves only that the AK signed this structure and nonce.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent flags, each saying whether one check was made"
)]
pub struct TpmClaims {
    /// The backend-neutral claims.
    pub claims: Claims,
    /// The AK's name (`nameAlg || H(TPMT_PUBLIC)`).
    #[serde(serialize_with = "hex")]
    pub ak_name: Vec<u8>,
    /// Whether the AK was proven to live in the EK's TPM (credential activation).
    pub ak_activated: bool,
    /// The hash the AK signed with (and the `pcrDigest` hash).
    pub signature_hash: HashAlg,
    /// `TPMS_ATTEST.qualifiedSigner`.
    #[serde(serialize_with = "hex")]
    pub qualified_signer: Vec<u8>,
    /// `TPMS_ATTEST.extraData`, exactly as quoted.
    #[serde(serialize_with = "hex")]
    pub extra_data: Vec<u8>,
    /// Whether `extra_data` was compared with an expected nonce / qualifying data.
    pub extra_data_checked: bool,
    /// The TPM's clock at signing.
    pub clock: ClockInfo,
    /// `TPMS_ATTEST.firmwareVersion`.
    pub firmware_version: u64,
    /// The quoted PCRs in digest order.
    pub pcrs: Vec<QuotedPcr>,
    /// `TPMS_QUOTE_INFO.pcrDigest`.
    #[serde(serialize_with = "hex")]
    pub pcr_digest: Vec<u8>,
    /// Whether PCR values were given and matched `pcrDigest`.
    pub pcrs_checked: bool,
    /// Whether an event log was replayed to the plugin PCR.
    pub event_log_checked: bool,
}

impl Verified<TpmClaims> {
    /// The backend-neutral claims, still marked as verified. Only what was
    /// checked is in them: no image or plugins without checked PCR values and
    /// event log, no nonce when `extraData` was not compared.
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
