//! TPM quotes: [`Verifier::verify_tpm`].

use enclet_attestation::event_log::EventLog;
use enclet_attestation::tpm::{
    self, ActivatedAk, ExpectedExtraData, HashAlg, PcrValues, QuoteEvidence, TpmError,
    TpmExpectations,
};
use enclet_attestation::{Error, Verified};

use super::{
    AK_NOT_ACTIVATED, EVENT_LOG_MISMATCH, EVIDENCE_REJECTED, IMAGE_NOT_ALLOWED, Refusal,
    TpmEvidence, VerifiedEnclave, Verifier,
};

impl Verifier {
    /// Verifies a TPM quote from the enclave whose AK this session activated.
    ///
    /// Steps: (1) the event log parses; (2) the library's `verify_quote` with
    /// the activated AK, enclet's qualifying data `H(nonce, public_key,
    /// event-log digest)`, the claimed PCR values and the event log — it
    /// checks the AK is the activated one, the signature, `pcrDigest`, the
    /// replay to PCR 16, then `extraData`; (3) the image PCR 23 is an image
    /// in the reference values.
    ///
    /// # Errors
    /// A [`Refusal`] with code `ak_not_activated` (signed by any other AK),
    /// `event_log_mismatch` (malformed log, or it does not replay to PCR 16),
    /// `evidence_rejected` (signature, PCR values, nonce / public key binding,
    /// malformed structures) or `image_not_allowed`.
    pub fn verify_tpm(
        &self,
        ak: &Verified<ActivatedAk>,
        ev: &TpmEvidence<'_>,
        event_log: &[u8],
        public_key: &[u8],
        nonce: &[u8],
    ) -> Result<VerifiedEnclave, Refusal> {
        // Step 1: the event log.
        let log = EventLog::from_bytes(event_log)
            .map_err(|e| Refusal::new(EVENT_LOG_MISMATCH, e.to_string()))?;
        let mut pcrs = PcrValues::new();
        for (index, value) in ev.pcrs {
            pcrs.insert(HashAlg::Sha256, *index, value.clone())
                .map_err(|e| Refusal::library(EVIDENCE_REJECTED, &Error::from(e)))?;
        }
        // Step 2: the library's verifier, bound to the activated AK.
        let claims = tpm::verify_quote(
            &QuoteEvidence {
                attest: ev.attest,
                signature: ev.signature,
                ak_public: ev.ak_public,
            },
            &TpmExpectations {
                extra_data: ExpectedExtraData::Enclet { nonce, public_key },
                pcrs: Some(&pcrs),
                event_log: Some(&log),
                activated_ak: Some(ak),
            },
        )
        .map_err(|e| quote_refusal(&e))?
        .into_claims();
        tracing::debug!(
            events = log.len(),
            "quote verified with the activated AK; event log replays to PCR 16"
        );
        // Step 3: the image.
        let Some(image) = claims.image.as_deref() else {
            return Err(Refusal::new(
                IMAGE_NOT_ALLOWED,
                format!("the quote does not cover the image PCR {}", tpm::IMAGE_PCR),
            ));
        };
        if !self.reference.tpm_image_allowed(image) {
            return Err(Refusal::new(
                IMAGE_NOT_ALLOWED,
                format!(
                    "image PCR {} = {} is not an image in the reference values",
                    tpm::IMAGE_PCR,
                    hex::encode(image)
                ),
            ));
        }
        tracing::debug!(image = %hex::encode(image), "TPM image in the reference values");
        Ok(VerifiedEnclave {
            claims,
            debug: false,
        })
    }
}

fn quote_refusal(e: &Error) -> Refusal {
    let code = match e {
        Error::Tpm(TpmError::AkNotActivated) => AK_NOT_ACTIVATED,
        Error::Tpm(TpmError::EventLog(_)) => EVENT_LOG_MISMATCH,
        _ => EVIDENCE_REJECTED,
    };
    Refusal::library(code, e)
}
