//! `TPM2_Quote` with the attestation key.

use tss_esapi::{
    Context,
    handles::KeyHandle,
    interface_types::algorithm::HashingAlgorithm,
    structures::{Data, HashScheme, SignatureScheme},
    traits::Marshall,
};

use super::{device, pcr};
use crate::AttesterError;

/// Quotes the image and plugin PCRs; returns marshalled (`TPMS_ATTEST`, `TPMT_SIGNATURE`).
pub(super) fn quote(
    ctx: &mut Context,
    ak: KeyHandle,
    qualifying: &[u8; 32],
) -> Result<(Vec<u8>, Vec<u8>), AttesterError> {
    let data =
        Data::try_from(qualifying.to_vec()).map_err(|e| device("build qualifying data", e))?;
    let scheme = SignatureScheme::EcDsa {
        hash_scheme: HashScheme::new(HashingAlgorithm::Sha256),
    };
    let selection = pcr::selection()?;
    let (attest, signature) = ctx
        .execute_with_nullauth_session(|ctx| ctx.quote(ak, data, scheme, selection))
        .map_err(|e| device("quote", e))?;
    let attest = attest
        .marshall()
        .map_err(|e| device("marshal TPMS_ATTEST", e))?;
    let signature = signature
        .marshall()
        .map_err(|e| device("marshal TPMT_SIGNATURE", e))?;
    Ok((attest, signature))
}
