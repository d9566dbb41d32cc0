//! Nitro attestation documents: [`Verifier::verify_nitro`].

use enclet_attestation::event_log::EventLog;
use enclet_attestation::nitro::{
    NitroClaims, NitroError, NitroPolicy, PolicyError, UnverifiedNitroDocument,
};
use enclet_attestation::{UnixTime, Verified};

use super::{
    DEBUG_ENCLAVE, EVENT_LOG_MISMATCH, EVENT_LOG_UNBOUND, EVIDENCE_REJECTED, IMAGE_NOT_ALLOWED,
    NONCE_MISMATCH, Refusal, VerifiedEnclave, Verifier,
};

impl Verifier {
    /// Verifies an NSM attestation document.
    ///
    /// Steps: (1) parse, chain to the pinned root and COSE signature at `now`
    /// (or the fixed test time); (2) refuse a debug enclave unless the
    /// reference values allow debug; (3) PCR0/1/2 (and PCR8 when listed) are
    /// an image in the reference values; (4) the document's nonce, public key
    /// and `user_data` are `nonce`, `public_key` and the event log's digest;
    /// (5) the event log replays to PCR 16 (SHA-384).
    ///
    /// # Errors
    /// A [`Refusal`] with code `evidence_rejected` (step 1, and a public key
    /// that is not `public_key`), `debug_enclave`, `image_not_allowed`,
    /// `nonce_mismatch` (the document's nonce is not `nonce`),
    /// `event_log_unbound` (its `user_data` is not the log's digest) or
    /// `event_log_mismatch` (a malformed event log, or one that does not
    /// replay to PCR 16).
    pub fn verify_nitro(
        &self,
        document: &[u8],
        event_log: &[u8],
        public_key: &[u8],
        nonce: &[u8],
        now: UnixTime,
    ) -> Result<VerifiedEnclave, Refusal> {
        let now = self.fixed_nitro_time.unwrap_or(now);
        // Step 1: the document is genuine. Debug and image are judged below,
        // after the signature, so they are not refused by the library here.
        let claims = self
            .verify_document(document, now)
            .map_err(|e| Refusal::library(EVIDENCE_REJECTED, &e))?;
        tracing::debug!(module_id = %claims.module_id, "document chains to the pinned root");
        // Step 2: debug.
        let is_debug = claims.is_debug();
        if is_debug && !self.reference.allows_debug() {
            return Err(Refusal::new(
                DEBUG_ENCLAVE,
                "debug-mode enclave (PCR0 all zero) and the reference values do not allow debug",
            ));
        }
        // Step 3: the image.
        if !self.reference.nitro_image_allowed(&claims) {
            let pcr0 = claims.pcr(0).map_or_else(|| "absent".into(), hex::encode);
            return Err(Refusal::new(
                IMAGE_NOT_ALLOWED,
                format!("PCR0 {pcr0} (with PCR1/2/8) is not an image in the reference values"),
            ));
        }
        // Step 4: the binding to this request.
        let log = EventLog::from_bytes(event_log)
            .map_err(|e| Refusal::new(EVENT_LOG_MISMATCH, e.to_string()))?;
        let claims = NitroPolicy::insecure_any_image()
            .allow_debug()
            .nonce(nonce.to_vec())
            .public_key(public_key.to_vec())
            .user_data(log.digest().to_vec())
            .check_verified(claims, now)
            .map_err(|e| binding_refusal(&e))?;
        // Step 5: the plugins.
        let claims = claims
            .into_claims_with_event_log(&log)
            .map_err(|e| binding_refusal(&e))?;
        tracing::debug!(
            events = log.len(),
            debug_enclave = is_debug,
            "event log replays to PCR 16"
        );
        Ok(VerifiedEnclave {
            claims,
            debug: is_debug,
        })
    }

    /// Parse, chain and signature, with the certificate cache when it is free.
    fn verify_document(
        &self,
        document: &[u8],
        now: UnixTime,
    ) -> Result<Verified<NitroClaims>, NitroError> {
        let doc = UnverifiedNitroDocument::parse(document)?;
        let genuine = NitroPolicy::insecure_any_image().allow_debug();
        match self.cert_cache.try_lock() {
            Ok(mut cache) => self.nitro.verify_cached(&doc, &genuine, now, &mut cache),
            Err(_) => self.nitro.verify(&doc, &genuine, now),
        }
    }
}

/// The code of a refused binding (steps 4 and 5): each field its own.
fn binding_refusal(e: &NitroError) -> Refusal {
    let code = match e {
        NitroError::Policy(PolicyError::Nonce { .. }) => NONCE_MISMATCH,
        NitroError::Policy(PolicyError::UserData { .. }) => EVENT_LOG_UNBOUND,
        NitroError::EventLog(_) => EVENT_LOG_MISMATCH,
        _ => EVIDENCE_REJECTED,
    };
    Refusal::library(code, e)
}
