//! `TPMS_ATTEST` (or a `TPM2B_ATTEST` holding one) for a quote.
//!
//! Parsing checks syntax only and yields an [`UnverifiedQuote`]: the magic, the
//! type and every length are checked here, the signature and contents in
//! [`super::verify`].

use super::TpmError;
use super::pcr::PcrSelection;
use super::reader::{Reader, strip_tpm2b};

/// `TPM_GENERATED_VALUE`: only the TPM puts this at the start of what it signs.
pub const TPM_GENERATED_VALUE: u32 = 0xff54_4347;
/// `TPM_ST_ATTEST_QUOTE`.
pub const TPM_ST_ATTEST_QUOTE: u16 = 0x8018;
/// Largest `TPM2B_NAME`.
const MAX_NAME: usize = 2 + 64;
/// Largest `TPM2B_DATA` (extraData).
const MAX_DATA: usize = 64;
/// Largest `TPM2B_DIGEST`.
const MAX_DIGEST: usize = 64;

/// `TPMS_CLOCK_INFO`: the TPM's clock when it signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ClockInfo {
    /// Milliseconds the TPM has been powered since its last clear.
    pub clock: u64,
    /// TPM resets since the last clear.
    pub reset_count: u32,
    /// Restarts since the last reset.
    pub restart_count: u32,
    /// Whether `clock` is known not to have gone backwards.
    pub safe: bool,
}

/// A syntactically valid quote whose signature has not been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedQuote {
    /// The exact signed `TPMS_ATTEST` bytes.
    pub(crate) raw: Vec<u8>,
    pub(crate) qualified_signer: Vec<u8>,
    pub(crate) extra_data: Vec<u8>,
    pub(crate) clock: ClockInfo,
    pub(crate) firmware_version: u64,
    pub(crate) selection: PcrSelection,
    pub(crate) pcr_digest: Vec<u8>,
}

impl UnverifiedQuote {
    /// Parses a `TPMS_ATTEST`, or a `TPM2B_ATTEST` holding one.
    ///
    /// # Errors
    /// [`TpmError::Magic`] / [`TpmError::NotAQuote`] when it is not a TPM quote;
    /// otherwise a parse error naming the field.
    pub fn parse(bytes: &[u8]) -> Result<Self, TpmError> {
        let tpms = if bytes.starts_with(&TPM_GENERATED_VALUE.to_be_bytes()) {
            bytes
        } else {
            strip_tpm2b(bytes).unwrap_or(bytes)
        };
        let mut r = Reader::new(tpms);
        let magic = r.u32("TPMS_ATTEST.magic")?;
        if magic != TPM_GENERATED_VALUE {
            return Err(TpmError::Magic(magic));
        }
        let kind = r.u16("TPMS_ATTEST.type")?;
        if kind != TPM_ST_ATTEST_QUOTE {
            return Err(TpmError::NotAQuote(kind));
        }
        let qualified_signer = r.sized(MAX_NAME, "TPMS_ATTEST.qualifiedSigner")?.to_vec();
        let extra_data = r.sized(MAX_DATA, "TPMS_ATTEST.extraData")?.to_vec();
        let clock = ClockInfo {
            clock: r.u64("TPMS_CLOCK_INFO.clock")?,
            reset_count: r.u32("TPMS_CLOCK_INFO.resetCount")?,
            restart_count: r.u32("TPMS_CLOCK_INFO.restartCount")?,
            safe: match r.u8("TPMS_CLOCK_INFO.safe")? {
                0 => false,
                1 => true,
                _ => {
                    return Err(TpmError::Invalid {
                        field: "TPMS_CLOCK_INFO.safe",
                        reason: "not a TPMI_YES_NO",
                    });
                }
            },
        };
        let firmware_version = r.u64("TPMS_ATTEST.firmwareVersion")?;
        let selection = PcrSelection::parse(&mut r)?;
        let pcr_digest = r.sized(MAX_DIGEST, "TPMS_QUOTE_INFO.pcrDigest")?.to_vec();
        r.finish("TPMS_ATTEST")?;
        Ok(Self {
            raw: tpms.to_vec(),
            qualified_signer,
            extra_data,
            clock,
            firmware_version,
            selection,
            pcr_digest,
        })
    }

    /// The quoted PCR selection (not yet verified).
    #[must_use]
    pub fn selection(&self) -> &PcrSelection {
        &self.selection
    }

    /// `extraData` (not yet verified).
    #[must_use]
    pub fn extra_data(&self) -> &[u8] {
        &self.extra_data
    }
}
