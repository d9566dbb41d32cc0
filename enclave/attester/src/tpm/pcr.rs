//! PCR reset, extend and read on the SHA-256 bank.

use enclet_attestation::tpm::{IMAGE_PCR, PLUGIN_PCR};
use sha2::{Digest as _, Sha256};
use tss_esapi::{
    Context,
    handles::PcrHandle,
    interface_types::algorithm::HashingAlgorithm,
    structures::{Digest, DigestValues, PcrSelectionList, PcrSelectionListBuilder, PcrSlot},
};

use super::device;
use crate::AttesterError;

/// The PCRs a quote covers, ascending (the order of the TPM's pcrDigest).
pub(super) const QUOTED: [u8; 2] = if PLUGIN_PCR < IMAGE_PCR {
    [PLUGIN_PCR, IMAGE_PCR]
} else {
    [IMAGE_PCR, PLUGIN_PCR]
};

fn handle(index: u8) -> Result<PcrHandle, AttesterError> {
    match index {
        16 => Ok(PcrHandle::Pcr16),
        23 => Ok(PcrHandle::Pcr23),
        other => Err(AttesterError::Device(format!(
            "PCR {other} is not one this attester resets or extends"
        ))),
    }
}

fn slot(index: u8) -> Result<PcrSlot, AttesterError> {
    let bit = 1u32
        .checked_shl(u32::from(index))
        .ok_or_else(|| AttesterError::Device(format!("PCR {index} out of range")))?;
    PcrSlot::try_from(bit).map_err(|e| device("select a PCR", e))
}

/// The selection both quote and read use: the quoted PCRs in the SHA-256 bank.
pub(super) fn selection() -> Result<PcrSelectionList, AttesterError> {
    let slots = QUOTED
        .iter()
        .map(|&i| slot(i))
        .collect::<Result<Vec<_>, _>>()?;
    PcrSelectionListBuilder::new()
        .with_selection(HashingAlgorithm::Sha256, &slots)
        .build()
        .map_err(|e| device("build the PCR selection", e))
}

/// Resets a PCR to zero (locality 0 may reset PCRs 16 and 23).
pub(super) fn reset(ctx: &mut Context, index: u8) -> Result<(), AttesterError> {
    let pcr = handle(index)?;
    ctx.execute_with_nullauth_session(|ctx| ctx.pcr_reset(pcr))
        .map_err(|e| device(&format!("reset PCR {index}"), e))
}

/// Extends `SHA-256(measurement)` into the SHA-256 bank of a PCR.
pub(super) fn extend(ctx: &mut Context, index: u8, value: &[u8; 48]) -> Result<(), AttesterError> {
    let pcr = handle(index)?;
    let digest = Digest::try_from(Sha256::digest(value).to_vec())
        .map_err(|e| device("build the extend digest", e))?;
    let mut values = DigestValues::new();
    values.set(HashingAlgorithm::Sha256, digest);
    ctx.execute_with_nullauth_session(|ctx| ctx.pcr_extend(pcr, values))
        .map_err(|e| device(&format!("extend PCR {index}"), e))
}

/// Reads the quoted PCRs, ascending by index.
pub(super) fn read(ctx: &mut Context) -> Result<Vec<(u8, Vec<u8>)>, AttesterError> {
    let (_, read, digests) = ctx
        .pcr_read(selection()?)
        .map_err(|e| device("read PCRs", e))?;
    if read != selection()? || digests.len() != QUOTED.len() {
        return Err(AttesterError::Device(
            "the TPM returned a different PCR selection than asked".into(),
        ));
    }
    Ok(QUOTED
        .iter()
        .zip(digests.value())
        .map(|(&i, d)| (i, d.value().to_vec()))
        .collect())
}
