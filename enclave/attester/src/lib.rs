//! # enclet-attester
//!
//! The [`Attester`] trait through which the enclave measures itself and its
//! plugins and produces evidence, and one backend per file:
//!
//! * `tpm.rs` — TPM 2.0 through tss-esapi (a real TPM, `NitroTPM`, or swtpm
//!   locally). Feature `tpm` (default); links `libtss2-esys`.
//! * `nsm.rs` — the AWS Nitro Secure Module (inside a Nitro Enclave), through
//!   `/dev/nsm`. Always built (no C library); outside an enclave [`open`]
//!   fails at start-up naming `/dev/nsm`.
//!
//! ```text
//!   "--attester tpm:host=127.0.0.1,port=2321"
//!        │ parse_attester_config / AttesterConfig::from_str
//!        ▼
//!   AttesterConfig ──open()──▶ Box<dyn Attester> ──▶ enclave server
//!                                 │ measure_image / record_plugin_event
//!                                 │ attest(nonce, public key, event-log digest)
//!                                 ▼
//!                               Evidence (raw wire structures) ──▶ verifier
//! ```
//!
//! The backend is chosen by configuration and passed to the enclave server as
//! a value; there is no global. Crates that only need the trait build this
//! crate with `default-features = false`.
//!
//! A private, freshly provisioned swtpm for tests and the demo lives in its own
//! crate (`enclet-swtpm`), so no production binary can link it.
#![forbid(unsafe_code)]

pub mod config;
pub mod nsm;
#[cfg(feature = "tpm")]
pub mod tpm;

pub use config::{AttesterConfig, TpmConfig, TpmTransport, parse_attester_config};

use enclet_attestation::Measurement;
use enclet_attestation::event_log::PluginEvent;

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
    /// An NSM attestation document (`COSE_Sign1`).
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
    /// `TPMS_ATTEST` bytes (the signed quote).
    pub attest: Vec<u8>,
    /// `TPMT_SIGNATURE` over `attest`.
    pub signature: Vec<u8>,
    /// `TPM2B_PUBLIC` of the attestation key.
    pub ak_public: Vec<u8>,
    /// The quoted PCR values (SHA-256 bank), by index, ascending.
    pub pcrs: Vec<(u8, Vec<u8>)>,
}

/// Who is attesting: what a verifier needs to decide whether to trust the
/// attestation key before it trusts any quote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttesterIdentity {
    /// A TPM's endorsement and attestation keys.
    Tpm(TpmIdentity),
}

/// A TPM's endorsement key (with its manufacturer certificate) and the
/// attestation key that signs quotes.
///
/// The verifier checks `ek_certificate` against its CA, compares its public key
/// with `ek_public`, then runs credential activation (`MakeCredential` to
/// `ek_public` and `ak_name`; [`Attester::activate_credential`]) to prove the AK
/// lives in that same TPM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmIdentity {
    /// `TPM2B_PUBLIC` of the endorsement key (RSA-2048, TCG default template).
    pub ek_public: Vec<u8>,
    /// DER X.509 certificate of the EK, read from NV index `0x01c00002`.
    pub ek_certificate: Vec<u8>,
    /// `TPM2B_PUBLIC` of the attestation key.
    pub ak_public: Vec<u8>,
    /// TPM name of the attestation key: `nameAlg (u16-be) || H(TPMT_PUBLIC)`.
    pub ak_name: Vec<u8>,
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
    /// This backend does not offer the operation.
    #[error("the {backend} attester does not support {operation}")]
    Unsupported {
        /// Backend name.
        backend: &'static str,
        /// What was asked.
        operation: &'static str,
    },
    /// The TPM refused to release a credential: it was not made for this
    /// TPM's endorsement key and this attestation key, or it was altered.
    #[error("credential activation refused: {0}")]
    CredentialRejected(String),
    /// A request or input is malformed before it reaches the device.
    #[error("attester input: {0}")]
    Input(String),
    /// The Nitro Secure Module is absent, unsuitable or refused a request.
    #[error("NSM: {0}")]
    Nsm(#[from] nsm::NsmError),
}

/// A source of hardware-rooted evidence about this enclave.
///
/// Calls are blocking (device I/O); async callers use `spawn_blocking`.
/// The trait is object-safe: the enclave holds a `Box<dyn Attester>`.
pub trait Attester: Send + Sync {
    /// Short backend name for logs and output (`"tpm"`, `"nsm"`).
    fn name(&self) -> &'static str;

    /// Records the enclave image measurement. Called once at start-up.
    ///
    /// # Errors
    /// [`AttesterError::Device`] when the device refuses.
    fn measure_image(&self, image: &Measurement) -> Result<(), AttesterError>;

    /// Extends a plugin load or unload into the plugin PCR: the event's
    /// [`PluginEvent::extend_value`], with the PCR bank's hash (the rule is
    /// documented in `enclet_attestation::event_log`).
    ///
    /// # Errors
    /// [`AttesterError::Device`] when the device refuses.
    fn record_plugin_event(&self, event: &PluginEvent) -> Result<(), AttesterError>;

    /// Produces evidence binding the request.
    ///
    /// # Errors
    /// [`AttesterError::Device`] when the device refuses.
    fn attest(&self, request: &AttestationRequest) -> Result<Evidence, AttesterError>;

    /// The keys a verifier must establish trust in before accepting evidence.
    ///
    /// # Errors
    /// [`AttesterError::Unsupported`] for backends whose evidence carries its
    /// own certificate chain (NSM); [`AttesterError::Device`] when the device
    /// refuses.
    fn identity(&self) -> Result<AttesterIdentity, AttesterError> {
        Err(AttesterError::Unsupported {
            backend: self.name(),
            operation: "identity",
        })
    }

    /// Releases the secret of a credential made (`TPM2_MakeCredential`) for this
    /// device's endorsement key and attestation key.
    ///
    /// `id_object` and `encrypted_secret` are the contents of the
    /// `TPM2B_ID_OBJECT` and `TPM2B_ENCRYPTED_SECRET` (without their u16 size).
    ///
    /// # Errors
    /// [`AttesterError::CredentialRejected`] when the device refuses the
    /// credential; [`AttesterError::Input`] for oversized inputs;
    /// [`AttesterError::Unsupported`] for backends without credentials.
    fn activate_credential(
        &self,
        id_object: &[u8],
        encrypted_secret: &[u8],
    ) -> Result<Vec<u8>, AttesterError> {
        let _ = (id_object, encrypted_secret);
        Err(AttesterError::Unsupported {
            backend: self.name(),
            operation: "credential activation",
        })
    }
}

impl core::fmt::Debug for dyn Attester {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Attester")
            .field("backend", &self.name())
            .finish_non_exhaustive()
    }
}

impl AttesterConfig {
    /// Opens the backend this configuration names; see [`open`].
    ///
    /// # Errors
    /// As for [`open`].
    pub fn open(&self) -> Result<Box<dyn Attester>, AttesterError> {
        open(self)
    }
}

/// Opens the backend a configuration names.
///
/// # Errors
/// [`AttesterError::Config`] when the backend is not built into this binary;
/// [`AttesterError::Device`] when the device cannot be reached or set up;
/// [`AttesterError::Nsm`] ([`nsm::NsmError::NoDevice`]) for `nsm` outside a
/// Nitro Enclave.
pub fn open(config: &AttesterConfig) -> Result<Box<dyn Attester>, AttesterError> {
    match config {
        #[cfg(feature = "tpm")]
        AttesterConfig::Tpm(tpm) => Ok(Box::new(tpm::TpmAttester::open(tpm)?)),
        #[cfg(not(feature = "tpm"))]
        AttesterConfig::Tpm(_) => Err(AttesterError::Config(
            "this binary was built without the `tpm` attester".into(),
        )),
        AttesterConfig::Nsm => Ok(Box::new(nsm::NsmAttester::open()?)),
    }
}
