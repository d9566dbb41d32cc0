//! # enclet-attester
//!
//! The [`Attester`] trait through which the enclave measures itself and its
//! plugins and produces evidence, and one backend per file:
//!
//! * `tpm.rs` — TPM 2.0 through tss-esapi (a real TPM, NitroTPM, or swtpm locally).
//! * `nsm.rs` — the AWS Nitro Secure Module (inside a Nitro Enclave).
//!
//! The backend is chosen by configuration (`--attester tpm:host=…,port=…`) and
//! passed to the enclave server as a value; there is no global.
#![forbid(unsafe_code)]

use enclet_attestation::Measurement;

/// What the verifier asks evidence to bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationRequest {
    /// The verifier's fresh nonce.
    pub nonce: Vec<u8>,
    /// The enclave's public key.
    pub public_key: Vec<u8>,
    /// SHA-384 of the canonical plugin event log.
    pub event_log_digest: [u8; 48],
}

/// Evidence produced by a backend, as raw wire structures.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Evidence {
    /// An NSM attestation document (COSE_Sign1).
    Nitro {
        /// The document bytes.
        document: Vec<u8>,
    },
    /// A TPM 2.0 quote.
    Tpm(TpmEvidence),
}

/// A TPM quote with what a verifier needs to check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmEvidence {
    /// TPMS_ATTEST bytes (the signed quote).
    pub attest: Vec<u8>,
    /// TPMT_SIGNATURE over `attest`.
    pub signature: Vec<u8>,
    /// TPM2B_PUBLIC of the attestation key.
    pub ak_public: Vec<u8>,
    /// The quoted PCR values (SHA-256 bank), by index.
    pub pcrs: Vec<(u8, Vec<u8>)>,
}

/// Why a backend failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttesterError {
    /// The `--attester` configuration string is not understood.
    #[error("attester configuration: {0}")]
    Config(String),
    /// The device or simulator could not be reached or refused a command.
    #[error("attester device: {0}")]
    Device(String),
}

/// A source of hardware-rooted evidence about this enclave.
///
/// Calls are blocking (device I/O); async callers use `spawn_blocking`.
pub trait Attester: Send + Sync {
    /// Short backend name for logs and output (`"tpm"`, `"nsm"`).
    fn name(&self) -> &'static str;

    /// Records the enclave image measurement. Called once at start-up.
    ///
    /// # Errors
    /// [`AttesterError::Device`] when the device refuses.
    fn measure_image(&self, image: &Measurement) -> Result<(), AttesterError>;

    /// Extends a newly loaded plugin's measurement into the plugin PCR.
    ///
    /// # Errors
    /// [`AttesterError::Device`] when the device refuses.
    fn measure_plugin(&self, plugin: &Measurement) -> Result<(), AttesterError>;

    /// Produces evidence binding the request.
    ///
    /// # Errors
    /// [`AttesterError::Device`] when the device refuses.
    fn attest(&self, request: &AttestationRequest) -> Result<Evidence, AttesterError>;
}
