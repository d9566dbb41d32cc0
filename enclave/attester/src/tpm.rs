//! TPM 2.0 backend through tss-esapi: a real TPM, `NitroTPM`, or swtpm locally.
//!
//! ## Keys
//! * **EK** — the RSA-2048 endorsement key from the TCG default template
//!   (EK Credential Profile B.3.3), re-derived from the endorsement seed, so it
//!   is the key the manufacturer (or swtpm's local CA) certified. Its
//!   certificate is read from NV index `0x01c00002`.
//! * **AK** — a restricted ECC P-256 signing key (ECDSA, SHA-256) created as a
//!   child of the EK when the attester opens. It is transient: every enclave
//!   start has a new AK, and a verifier establishes trust in it by credential
//!   activation against the certified EK (see [`Attester::activate_credential`]).
//!
//! ## PCRs (SHA-256 bank; indices in [`enclet_attestation::tpm`])
//! Both [`IMAGE_PCR`] and [`PLUGIN_PCR`] are reset when the attester opens.
//! [`Attester::measure_image`] resets the image PCR again and extends it once;
//! [`Attester::record_plugin_event`] extends the plugin PCR with each plugin
//! load or unload. Each extend adds `SHA-256(value)` of the 48-byte value (a
//! SHA-256 bank holds 32 bytes), matching
//! [`enclet_attestation::measurement::replay_sha256`] for the image and
//! [`enclet_attestation::event_log::EventLog::replay_sha256`] for plugins.
//!
//! ## Quotes
//! `TPM2_Quote` over both PCRs with `qualifyingData =`
//! [`enclet_attestation::tpm::qualifying_data`]`(nonce, public key, event-log
//! digest)`. The evidence carries the marshalled `TPMS_ATTEST`, `TPMT_SIGNATURE` and
//! AK `TPM2B_PUBLIC` exactly as the TPM produced them, and the PCR values read
//! under the same lock right after the quote.
//!
//! ## Concurrency and logging
//! The ESAPI context is not `Sync`; one `Mutex` serialises every command.
//! swtpm serves one TCP client at a time and, like a TPM without a resource
//! manager, holds only a few loaded objects: one attester owns its TPM
//! connection (EK and AK loaded) until it is dropped, and other clients such as
//! `tpm2_pcrread` wait until then. The
//! TSS C library logs errors to stderr on its own; set `TSS2_LOG=all+NONE` in
//! the environment to silence it (errors are still returned and reported
//! through `tracing`).

mod credential;
mod keys;
mod pcr;
mod quote;

use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};

use enclet_attestation::Measurement;
use enclet_attestation::event_log::PluginEvent;
use enclet_attestation::tpm::{IMAGE_PCR, PLUGIN_PCR};
use tss_esapi::{Context, TctiNameConf, handles::KeyHandle};

use crate::{
    AttestationRequest, Attester, AttesterError, AttesterIdentity, Evidence, TpmConfig,
    TpmEvidence, TpmIdentity,
};

/// The TPM attester. Open it with [`TpmAttester::open`] or [`crate::open`].
#[derive(Debug)]
pub struct TpmAttester {
    tpm: Mutex<Tpm>,
    identity: TpmIdentity,
}

#[derive(Debug)]
struct Tpm {
    ctx: Context,
    ek: KeyHandle,
    ak: KeyHandle,
}

impl TpmAttester {
    /// Connects to the TPM, derives the EK, creates and loads a fresh AK, and
    /// resets the image and plugin PCRs.
    ///
    /// # Errors
    /// [`AttesterError::Device`] naming the step that failed (connect, EK, EK
    /// certificate, AK, PCR reset).
    pub fn open(config: &TpmConfig) -> Result<Self, AttesterError> {
        let tcti = TctiNameConf::from_str(&config.tcti())
            .map_err(|e| device("parse the TCTI configuration", e))?;
        let mut ctx = Context::new(tcti).map_err(|e| device("connect to the TPM", e))?;
        let keys = keys::create(&mut ctx)?;
        pcr::reset(&mut ctx, IMAGE_PCR)?;
        pcr::reset(&mut ctx, PLUGIN_PCR)?;
        tracing::info!(tcti = %config.tcti(), "TPM attester ready");
        Ok(Self {
            tpm: Mutex::new(Tpm {
                ctx,
                ek: keys.ek,
                ak: keys.ak,
            }),
            identity: keys.identity,
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Tpm>, AttesterError> {
        self.tpm
            .lock()
            .map_err(|_| AttesterError::Device("TPM context lock poisoned".into()))
    }

    /// The EK, EK certificate and AK of this attester.
    #[must_use]
    pub fn tpm_identity(&self) -> &TpmIdentity {
        &self.identity
    }
}

impl Attester for TpmAttester {
    fn name(&self) -> &'static str {
        "tpm"
    }

    fn measure_image(&self, image: &Measurement) -> Result<(), AttesterError> {
        let mut tpm = self.lock()?;
        pcr::reset(&mut tpm.ctx, IMAGE_PCR)?;
        pcr::extend(&mut tpm.ctx, IMAGE_PCR, image.as_bytes())?;
        tracing::debug!(pcr = IMAGE_PCR, measurement = %image, "image measured");
        Ok(())
    }

    fn record_plugin_event(&self, event: &PluginEvent) -> Result<(), AttesterError> {
        let mut tpm = self.lock()?;
        pcr::extend(&mut tpm.ctx, PLUGIN_PCR, &event.extend_value())?;
        tracing::debug!(pcr = PLUGIN_PCR, ?event, "plugin event measured");
        Ok(())
    }

    fn attest(&self, request: &AttestationRequest) -> Result<Evidence, AttesterError> {
        let qualifying = enclet_attestation::tpm::qualifying_data(
            &request.nonce,
            &request.public_key,
            &request.event_log_digest,
        );
        let mut guard = self.lock()?;
        let tpm = &mut *guard;
        let (attest, signature) = quote::quote(&mut tpm.ctx, tpm.ak, &qualifying)?;
        let pcrs = pcr::read(&mut tpm.ctx)?;
        drop(guard);
        tracing::debug!(attest_len = attest.len(), "quote produced");
        Ok(Evidence::Tpm(TpmEvidence {
            attest,
            signature,
            ak_public: self.identity.ak_public.clone(),
            pcrs,
        }))
    }

    fn identity(&self) -> Result<AttesterIdentity, AttesterError> {
        Ok(AttesterIdentity::Tpm(self.identity.clone()))
    }

    fn activate_credential(
        &self,
        id_object: &[u8],
        encrypted_secret: &[u8],
    ) -> Result<Vec<u8>, AttesterError> {
        let mut guard = self.lock()?;
        let tpm = &mut *guard;
        credential::activate(&mut tpm.ctx, tpm.ak, tpm.ek, id_object, encrypted_secret)
    }
}

/// A device error naming the step; the TSS error text says which return code.
fn device(step: &str, e: tss_esapi::Error) -> AttesterError {
    tracing::warn!(step, error = %e, "TPM command failed");
    AttesterError::Device(format!("{step}: {e}"))
}
