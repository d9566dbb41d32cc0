//! AWS Nitro Secure Module backend: the enclave's attester inside a Nitro
//! Enclave, through `/dev/nsm` and the `aws-nitro-enclaves-nsm-api` driver.
//!
//! ## PCRs (one SHA-384 bank)
//! * **PCR0–2** (image, kernel, application), **PCR3** (parent IAM role),
//!   **PCR4** (parent instance) and **PCR8** (EIF signing certificate) are
//!   written by the hypervisor before the enclave starts and are already
//!   locked. [`Attester::measure_image`] therefore records nothing: the image
//!   is PCR0–2 as measured from the EIF, and that is what verifiers compare
//!   with the reference values.
//! * **PCR16–31** ([`PLUGIN_PCRS`]) hold the plugins. Each plugin event (a
//!   load or an unload) is a 48-byte value extended with `ExtendPCR` into the
//!   *current* plugin PCR: `PCR = SHA-384(PCR || value)`, from zero — the rule
//!   of `enclet_attestation::event_log`, whose TPM form extends `SHA-256(value)`
//!   into one SHA-256 PCR instead.
//!
//! ## Locks: which PCRs and why
//! An NSM attestation document carries only **locked** PCRs. Every AWS
//! document we hold has exactly PCRs 0–15, the range the NSM locks at launch
//! (AWS's own NSM checks assert that 0–15 start locked and 16–31 unlocked),
//! and the NSM model in QEMU writes exactly the locked PCRs into `pcrs`. So:
//!
//! * [`NsmAttester::open`] asks `DescribeNSM` and `DescribePCR 16` and refuses
//!   to start unless the bank is SHA-384, PCRs up to 31 exist, and PCR16 is
//!   not locked and still zero. NSM PCRs can never be reset: a PCR16 already
//!   extended (an earlier run of the enclave process in the same enclave)
//!   could never match a fresh event log, so failing at start-up says so at
//!   once.
//! * It then sends `LockPCRs 16`. PCRs 0–15 (image, kernel and application
//!   PCR0–2, parent IAM role PCR3, parent instance PCR4, signing certificate
//!   PCR8, the rest zero) should already be locked; locking them again is
//!   idempotent and makes "nothing in the enclave can extend a PCR a verifier
//!   reads as a launch measurement" hold whatever the launch path did.
//! * **Epochs.** An [`Attester::attest`] that follows plugin events locks
//!   the current plugin PCR before it asks for the document (an unlocked PCR
//!   would not be in it), and later events go to the next PCR. The document
//!   thus carries PCR16, PCR17, … up to the last locked one, and a verifier
//!   splits the event log into consecutive runs that replay to each of them
//!   in turn. An attestation with no event since the last one locks nothing.
//!   After PCR31 is locked, a further plugin event fails with
//!   [`NsmError::PluginPcrsExhausted`] without reaching the device: sixteen
//!   attested changes of the plugin set per enclave start.
//!
//! Nothing can undo an extend, so an extend of a plugin PCR that is not in
//! the event log makes attestation fail (the replay no longer matches); it
//! can never make a document claim fewer events. The attester also keeps its
//! own copy of the current plugin PCR and checks every value the NSM returns
//! from `ExtendPCR` against it ([`NsmError::PcrDiverged`]), which also catches
//! a next PCR that did not start at zero.
//!
//! ## Documents
//! `Attestation { nonce, public_key, user_data = event-log digest }`, sizes
//! checked first (nonce 1–512 bytes, public key 1–1024). The answer is the
//! `COSE_Sign1` document, returned unparsed as [`Evidence::Nitro`]: the
//! verifier, not the enclave, judges it.
//!
//! ## The device seam
//! [`NsmDevice`] is the one place the hardware is touched; [`DevNsm`] is the
//! real device, and tests drive the attester with recorded answers through
//! [`NsmAttester::with_device`].

mod device;
mod error;
mod request;

#[cfg(test)]
mod tests;

use std::sync::{Mutex, MutexGuard};

use enclet_attestation::Measurement;
use enclet_attestation::event_log::PluginEvent;
use enclet_attestation::nitro::{PLUGIN_PCR, PLUGIN_PCRS};
use sha2::{Digest as _, Sha384};

pub use aws_nitro_enclaves_nsm_api::api::{Digest, ErrorCode, Request, Response};
pub use device::{DevNsm, NSM_DEVICE, NsmDevice};
pub use error::{NsmError, NsmErrorCode};

use crate::{AttestationRequest, Attester, AttesterError, Evidence};
use request::PCR_LEN;

/// PCRs `0..LOCKED_RANGE` are locked at start-up.
pub const LOCKED_RANGE: u16 = 16;

/// The attester's view of the current plugin PCR.
#[derive(Debug)]
struct PluginPcr {
    /// The PCR events go to now; past [`PLUGIN_PCRS`]' end when all are used.
    index: u16,
    value: [u8; PCR_LEN],
    /// Whether an event was extended into it (then the next attestation
    /// locks it and moves on).
    extended: bool,
}

/// The NSM attester. Open it with [`NsmAttester::open`] or [`crate::open`].
pub struct NsmAttester {
    device: Box<dyn NsmDevice>,
    /// PCR16 as this attester's extends left it; the mutex orders extends,
    /// the lock of PCR16 and attestation.
    plugin_pcr: Mutex<PluginPcr>,
    module_id: String,
}

impl core::fmt::Debug for NsmAttester {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NsmAttester")
            .field("module_id", &self.module_id)
            .finish_non_exhaustive()
    }
}

impl NsmAttester {
    /// Opens `/dev/nsm` and runs the start-up checks and lock (module docs).
    ///
    /// # Errors
    /// [`NsmError::NoDevice`] (naming `/dev/nsm`) outside a Nitro Enclave;
    /// otherwise as for [`Self::with_device`].
    pub fn open() -> Result<Self, AttesterError> {
        Self::with_device(Box::new(DevNsm::open()?))
    }

    /// An attester over `device`: checks the PCR bank and the plugin PCR, then
    /// locks PCRs 0–15.
    ///
    /// # Errors
    /// [`NsmError::Unsuitable`] when the bank is not SHA-384 or PCR16 is
    /// missing, locked or not zero; [`NsmError::Refused`] /
    /// [`NsmError::UnexpectedResponse`] when the device refuses or answers
    /// out of turn.
    pub fn with_device(device: Box<dyn NsmDevice>) -> Result<Self, AttesterError> {
        let plugin_pcr = u16::from(PLUGIN_PCR);
        // Step 1: the module.
        let description = request::description(device.process(request::describe_nsm()))?;
        if !description.sha384 {
            return Err(unsuitable("the PCR bank is not SHA-384"));
        }
        let last = u16::from(*PLUGIN_PCRS.end());
        if description.max_pcrs <= last {
            return Err(unsuitable(&format!(
                "it has {} PCRs; the plugin PCRs are {plugin_pcr}..={last}",
                description.max_pcrs
            )));
        }
        // Step 2: the plugin PCR is fresh.
        let pcr = request::pcr_state(device.process(request::describe_pcr(plugin_pcr)))?;
        if pcr.locked || description.locked.contains(&plugin_pcr) {
            return Err(unsuitable(&format!("PCR {plugin_pcr} is locked")));
        }
        if pcr.value != [0; PCR_LEN] {
            return Err(unsuitable(&format!(
                "PCR {plugin_pcr} was already extended in this enclave (it cannot be reset): \
                 restart the enclave"
            )));
        }
        // Step 3: lock what lies below it.
        request::locked(&device.process(request::lock_pcrs(LOCKED_RANGE)))?;
        tracing::info!(
            module_id = %description.module_id,
            locked = LOCKED_RANGE,
            "NSM attester ready; PCRs 0..16 locked"
        );
        Ok(Self {
            device,
            plugin_pcr: Mutex::new(PluginPcr {
                index: plugin_pcr,
                value: pcr.value,
                extended: false,
            }),
            module_id: description.module_id,
        })
    }

    /// The NSM's module id (`i-…-enc…`).
    #[must_use]
    pub fn module_id(&self) -> &str {
        &self.module_id
    }

    fn lock(&self) -> Result<MutexGuard<'_, PluginPcr>, AttesterError> {
        self.plugin_pcr
            .lock()
            .map_err(|_| AttesterError::Device("NSM plugin PCR lock poisoned".into()))
    }

    /// Extends one 48-byte plugin event value into the current plugin PCR
    /// and checks the NSM's new value against `SHA-384(old || value)`.
    fn extend_plugin_pcr(&self, value: &[u8; PCR_LEN]) -> Result<(), AttesterError> {
        let mut pcr = self.lock()?;
        let index = pcr.index;
        if index > u16::from(*PLUGIN_PCRS.end()) {
            return Err(NsmError::PluginPcrsExhausted {
                first: u16::from(PLUGIN_PCR),
                last: u16::from(*PLUGIN_PCRS.end()),
            }
            .into());
        }
        let expected: [u8; PCR_LEN] = Sha384::new()
            .chain_update(pcr.value)
            .chain_update(value)
            .finalize()
            .into();
        let actual = request::extended(self.device.process(request::extend_pcr(index, value)))?;
        if actual != expected {
            return Err(NsmError::PcrDiverged {
                index,
                expected: hex::encode(expected),
                actual: hex::encode(actual),
            }
            .into());
        }
        pcr.value = actual;
        pcr.extended = true;
        Ok(())
    }
}

impl Attester for NsmAttester {
    fn name(&self) -> &'static str {
        "nsm"
    }

    /// Records nothing: on Nitro the hypervisor measured the image into
    /// PCR0–2 before the enclave started (module docs).
    fn measure_image(&self, image: &Measurement) -> Result<(), AttesterError> {
        tracing::debug!(
            measurement = %image,
            "image measured by the hypervisor into PCR0-2; nothing to extend"
        );
        Ok(())
    }

    fn record_plugin_event(&self, event: &PluginEvent) -> Result<(), AttesterError> {
        self.extend_plugin_pcr(&event.extend_value())?;
        tracing::debug!(?event, "plugin event measured");
        Ok(())
    }

    fn attest(&self, request: &AttestationRequest) -> Result<Evidence, AttesterError> {
        let nsm_request = request::attestation(request)?;
        // Extends by this attester wait until the document is made.
        let mut pcr = self.lock()?;
        if pcr.extended {
            let index = pcr.index;
            request::locked_one(&self.device.process(request::lock_pcr(index)))?;
            pcr.index = index.saturating_add(1);
            pcr.value = [0; PCR_LEN];
            pcr.extended = false;
            tracing::info!(
                pcr = index,
                "plugin PCR locked for this attestation document; later events go to the next"
            );
        }
        let document = request::document(self.device.process(nsm_request))?;
        drop(pcr);
        tracing::debug!(
            document_len = document.len(),
            "attestation document produced"
        );
        Ok(Evidence::Nitro { document })
    }
}

fn unsuitable(why: &str) -> AttesterError {
    NsmError::Unsuitable(why.to_owned()).into()
}
