//! Why TPM evidence was rejected, with stable codes.

/// Why TPM evidence (a quote, its signature, an AK or EK, an EK certificate,
/// PCR values or the event log) was rejected.
///
/// [`TpmError::code`] gives a stable dotted code; the `Display` text names the
/// field, PCR or certificate that failed and is meant for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TpmError {
    /// A structure ended before `field` could be read.
    #[error("truncated structure: {field} is missing or short")]
    Truncated {
        /// The field being read.
        field: &'static str,
    },
    /// Bytes were left after a complete structure.
    #[error("{count} unexpected trailing byte(s) after {structure}")]
    Trailing {
        /// The structure that ended.
        structure: &'static str,
        /// How many bytes were left.
        count: usize,
    },
    /// A field holds a value the TPM specification does not allow.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A field holds an algorithm or type this verifier does not support.
    #[error("unsupported {field} 0x{value:04x}")]
    Unsupported {
        /// The field.
        field: &'static str,
        /// The value found.
        value: u16,
    },
    /// `TPMS_ATTEST.magic` is not `TPM_GENERATED_VALUE` (0xff544347): the TPM did
    /// not generate this structure.
    #[error("magic 0x{0:08x} is not TPM_GENERATED_VALUE (0xff544347)")]
    Magic(u32),
    /// `TPMS_ATTEST.type` is not `TPM_ST_ATTEST_QUOTE` (0x8018).
    #[error("attestation type 0x{0:04x} is not a quote (TPM_ST_ATTEST_QUOTE, 0x8018)")]
    NotAQuote(u16),
    /// The attestation key is not a restricted signing key, so the TPM would
    /// sign external data that merely looks like a quote.
    #[error("the AK is not a restricted signing key (objectAttributes 0x{0:08x})")]
    AkAttributes(u32),
    /// The signature does not verify with the attestation key.
    #[error("signature does not verify with the AK ({0})")]
    Signature(&'static str),
    /// `extraData` differs from the raw nonce the verifier expected
    /// ([`super::ExpectedExtraData::Exact`]).
    #[error("extraData {actual} differs from the expected nonce {expected}")]
    Nonce {
        /// Expected value, hex.
        expected: String,
        /// Quoted value, hex.
        actual: String,
    },
    /// `extraData` is not enclet's qualifying data over the verifier's nonce,
    /// the enclave public key and the event-log digest
    /// ([`super::ExpectedExtraData::Enclet`]). Being a hash, it cannot say which
    /// of the three differs: a stale nonce, or a public key or event log other
    /// than the ones the quote binds.
    #[error(
        "extraData {actual} is not the qualifying data {expected}: the nonce is stale, or the \
         enclave public key or event log is not the one the quote binds"
    )]
    QualifyingData {
        /// Expected value, hex.
        expected: String,
        /// Quoted value, hex.
        actual: String,
    },
    /// A PCR in the quote's selection has no claimed value.
    #[error("no value given for quoted PCR {bank}:{index}")]
    PcrMissing {
        /// The bank (`sha1`, `sha256`, …).
        bank: &'static str,
        /// The PCR index.
        index: u8,
    },
    /// The claimed PCR values do not hash to the quote's `pcrDigest`.
    #[error("the claimed PCR values do not match the quote's pcrDigest")]
    PcrDigest,
    /// PCR values (e.g. a `--pcrs` file) are malformed.
    #[error("PCR values: {0}")]
    PcrValues(String),
    /// The event log does not replay to the plugin PCR, or cannot be checked.
    #[error("event log: {0}")]
    EventLog(String),
    /// The EK certificate does not chain to the configured CA, is not valid now,
    /// or does not certify this EK.
    #[error("EK certificate: {0}")]
    EkChain(String),
    /// Credential activation failed or could not be prepared.
    #[error("credential activation: {0}")]
    Credential(&'static str),
    /// The quote's AK is not the one proven by credential activation.
    #[error("the quote's AK is not the AK activated against the EK")]
    AkNotActivated,
}

impl TpmError {
    /// Stable code, see [`crate::Error::code`].
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Truncated { .. } => "tpm.parse.truncated",
            Self::Trailing { .. } => "tpm.parse.trailing",
            Self::Invalid { .. } => "tpm.parse.invalid",
            Self::Unsupported { .. } => "tpm.unsupported",
            Self::Magic(_) => "tpm.magic",
            Self::NotAQuote(_) => "tpm.type",
            Self::AkAttributes(_) => "tpm.ak_attributes",
            Self::Signature(_) => "tpm.signature",
            Self::Nonce { .. } => "tpm.nonce",
            Self::QualifyingData { .. } => "tpm.qualifying_data",
            Self::PcrMissing { .. } => "tpm.pcr_missing",
            Self::PcrDigest => "tpm.pcr_digest",
            Self::PcrValues(_) => "tpm.pcr_values",
            Self::EventLog(_) => "tpm.event_log",
            Self::EkChain(_) => "tpm.ek_chain",
            Self::Credential(_) => "tpm.credential",
            Self::AkNotActivated => "tpm.ak_not_activated",
        }
    }
}
