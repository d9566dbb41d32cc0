//! Evidence to a [`VerifiedEnclave`], through the library's verifiers only.
//!
//! The control plane implements no cryptographic check of its own: every
//! signature, chain, nonce binding and event-log replay is
//! `enclet-attestation`'s. This module orders the steps, adds the reference
//! values ([`crate::reference`]) and maps each failure to one refusal code of
//! the HTTPS API (`docs/control-plane.md`):
//!
//! ```text
//!  TPM:   EK cert ─check_ek(now)─▶ Verified<EkIdentity>        ek_certificate_rejected
//!         (session: challenge / finish ─▶ Verified<ActivatedAk>)
//!         quote ─verify_tpm─▶ 1. event log parses               event_log_mismatch
//!                             2. signed by the ACTIVATED AK     ak_not_activated
//!                                signature, PCR values ─▶ pcrDigest   evidence_rejected
//!                             3. event log ─▶ PCR 16            event_log_mismatch
//!                             4. extraData = H(nonce, key, log) evidence_rejected
//!                             5. PCR 23 in reference values     image_not_allowed
//!
//!  Nitro: document ─verify_nitro─▶ 1. COSE + chain to the pinned root at now   evidence_rejected
//!                                  2. debug, unless allowed                   debug_enclave
//!                                  3. PCR0/1/2(/8) in reference values        image_not_allowed
//!                                  4. nonce                                   nonce_mismatch
//!                                     public key                              evidence_rejected
//!                                     user_data = event-log digest            event_log_unbound
//!                                  5. event log ─▶ PCR 16 (SHA-384)            event_log_mismatch
//! ```
//!
//! A TPM quote binds nonce, key and log digest in one `extraData` hash, so
//! there a mismatch of any of them is `evidence_rejected`; a Nitro document
//! carries each in its own field, so each gets its own code.
//!
//! A refusal's message carries the library's stable code and its reason
//! (nonces and measurements, never a secret).

mod nitro;
mod tpm;

use std::sync::Mutex;

use enclet_attestation::nitro::{CertCache, NitroRoot, NitroVerifier};
use enclet_attestation::tpm::{EkIdentity, verify_ek_certificate};
use enclet_attestation::{Claims, UnixTime, Verified};

use crate::reference::ReferenceValues;

/// The EK certificate does not chain to the configured TPM CA.
pub const EK_CERTIFICATE_REJECTED: &str = "ek_certificate_rejected";
/// TPM evidence not signed by the AK this session activated.
pub const AK_NOT_ACTIVATED: &str = "ak_not_activated";
/// The library's verifier refused the evidence.
pub const EVIDENCE_REJECTED: &str = "evidence_rejected";
/// The event log does not replay to the plugin PCR.
pub const EVENT_LOG_MISMATCH: &str = "event_log_mismatch";
/// Nitro: the document's `user_data` is not the submitted event log's digest.
pub const EVENT_LOG_UNBOUND: &str = "event_log_unbound";
/// Nitro: the document carries another nonce than the one submitted.
pub const NONCE_MISMATCH: &str = "nonce_mismatch";
/// The image is not in the reference values.
pub const IMAGE_NOT_ALLOWED: &str = "image_not_allowed";
/// A Nitro debug enclave, and the reference values do not allow debug.
pub const DEBUG_ENCLAVE: &str = "debug_enclave";
/// The policy refused the enclave or a plugin.
pub const POLICY_DENIED: &str = "policy_denied";

/// Why evidence was refused: a stable code from the API's table and a message
/// for people (no secret in it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Refusal {
    /// One of the codes above (`evidence_rejected`, …).
    pub code: &'static str,
    /// Why, naming the step (and the library's code when it refused).
    pub message: String,
}

impl Refusal {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A refusal by the library: its stable code leads the message.
    pub(crate) fn library(code: &'static str, e: &impl LibraryError) -> Self {
        Self::new(code, format!("{}: {e}", e.code()))
    }
}

/// An attestation error with a stable code.
pub(crate) trait LibraryError: core::fmt::Display {
    fn code(&self) -> &'static str;
}

impl LibraryError for enclet_attestation::Error {
    fn code(&self) -> &'static str {
        Self::code(self)
    }
}

impl LibraryError for enclet_attestation::nitro::NitroError {
    fn code(&self) -> &'static str {
        Self::code(self)
    }
}

/// The TPM manufacturer CA that EK certificates must chain to (DER).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmTrust {
    /// The CA certificate.
    pub root: Vec<u8>,
    /// Intermediates, from the one that issues EK certificates up to the one
    /// the root issued (empty when the root issues EK certificates).
    pub intermediates: Vec<Vec<u8>>,
}

/// A TPM quote as the parent relayed it.
#[derive(Debug, Clone, Copy)]
pub struct TpmEvidence<'a> {
    /// `TPMS_ATTEST` bytes.
    pub attest: &'a [u8],
    /// `TPMT_SIGNATURE` over them.
    pub signature: &'a [u8],
    /// The AK's `TPM2B_PUBLIC`.
    pub ak_public: &'a [u8],
    /// Claimed values of the quoted PCRs (SHA-256 bank), by index.
    pub pcrs: &'a [(u8, Vec<u8>)],
}

/// An enclave whose evidence passed verification and the reference values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEnclave {
    /// What the evidence proves; `plugins` is always `Replayed` here.
    pub claims: Verified<Claims>,
    /// A Nitro debug-mode enclave (accepted only when the reference values
    /// allow debug). Always false for TPM evidence.
    pub debug: bool,
}

/// Verifies enclave evidence against trust anchors and reference values.
///
/// `Send + Sync`: one per service, shared by all requests.
#[derive(Debug)]
pub struct Verifier {
    reference: ReferenceValues,
    tpm: Option<TpmTrust>,
    nitro: NitroVerifier,
    fixed_nitro_time: Option<UnixTime>,
    /// Certificates of Nitro chains already verified; used when free, skipped
    /// (never waited for) when another request holds it.
    cert_cache: Mutex<CertCache>,
}

impl Verifier {
    /// A verifier with these reference values, the TPM CA (`None`: TPM
    /// evidence is refused at the EK) and the pinned Nitro root.
    #[must_use]
    pub fn new(reference: ReferenceValues, tpm: Option<TpmTrust>, nitro_root: NitroRoot) -> Self {
        Self {
            reference,
            tpm,
            nitro: NitroVerifier::new(nitro_root),
            fixed_nitro_time: None,
            cert_cache: Mutex::new(CertCache::new()),
        }
    }

    /// Tests only: verify Nitro documents at this fixed time instead of `now`
    /// (old vectors whose certificates have expired).
    #[must_use]
    pub fn insecure_fixed_nitro_time_for_tests(mut self, t: UnixTime) -> Self {
        self.fixed_nitro_time = Some(t);
        self
    }

    /// The reference values in force.
    #[must_use]
    pub fn reference(&self) -> &ReferenceValues {
        &self.reference
    }

    /// Checks that `ek_certificate` certifies `ek_public` and chains to the
    /// configured TPM CA at `now`.
    ///
    /// # Errors
    /// `ek_certificate_rejected`, also when no TPM CA is configured.
    pub fn check_ek(
        &self,
        ek_certificate: &[u8],
        ek_public: &[u8],
        now: UnixTime,
    ) -> Result<Verified<EkIdentity>, Refusal> {
        let trust = self.tpm.as_ref().ok_or_else(|| {
            Refusal::new(
                EK_CERTIFICATE_REJECTED,
                "no TPM CA is configured: TPM evidence is not accepted",
            )
        })?;
        let intermediates: Vec<&[u8]> = trust.intermediates.iter().map(Vec::as_slice).collect();
        let ek = verify_ek_certificate(ek_certificate, &intermediates, &trust.root, ek_public, now)
            .map_err(|e| Refusal::library(EK_CERTIFICATE_REJECTED, &e))?;
        tracing::debug!(ek_name = %ek.ek_name, "EK certificate chains to the TPM CA");
        Ok(ek)
    }
}
