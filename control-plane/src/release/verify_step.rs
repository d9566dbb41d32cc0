//! Steps 3 and 4: the library's verifier, then the policy.

use enclet_attestation::tpm::ActivatedAk;
use enclet_attestation::{Measurement, UnixTime, Verified};
use enclet_control_plane_api::Evidence;

use super::Submission;
use crate::api::ApiError;
use crate::policy::{Decision, PolicyInput};
use crate::service::Engine;
use crate::verify::{TpmEvidence, VerifiedEnclave};

/// Step 3: the evidence verified (TPM with the session's activated AK).
pub(super) fn verify(
    engine: &Engine,
    ak: Option<&Verified<ActivatedAk>>,
    s: &Submission,
    now_ms: u64,
) -> Result<VerifiedEnclave, ApiError> {
    let verified = match (&s.evidence, ak) {
        (
            Evidence::Tpm {
                attest,
                signature,
                ak_public,
                pcrs,
            },
            Some(ak),
        ) => {
            let pcrs: Vec<(u8, Vec<u8>)> =
                pcrs.iter().map(|p| (p.index, p.value.0.clone())).collect();
            let evidence = TpmEvidence {
                attest: &attest.0,
                signature: &signature.0,
                ak_public: &ak_public.0,
                pcrs: &pcrs,
            };
            engine
                .verifier
                .verify_tpm(ak, &evidence, &s.event_log, &s.public_key, &s.nonce)
        }
        (Evidence::Nitro { document }, None) => engine.verifier.verify_nitro(
            &document.0,
            &s.event_log,
            &s.public_key,
            &s.nonce,
            UnixTime::from_secs(now_ms / 1000),
        ),
        _ => {
            return Err(ApiError::new(
                "wrong_attester",
                "the evidence's attester is not this session's",
            ));
        }
    };
    let enclave = verified.map_err(ApiError::from)?;
    tracing::debug!(
        basis = enclave.claims.trust_basis.as_str(),
        "evidence verified"
    );
    Ok(enclave)
}

/// Step 4: the policy's decision; any deny refuses (`policy_denied`), and so
/// does an evaluation error (fail closed).
pub(super) fn decide(
    engine: &Engine,
    enclave: &VerifiedEnclave,
    names: &[(Measurement, String)],
) -> Result<Decision, ApiError> {
    let input = PolicyInput::new(enclave, names);
    let decision = engine.policy.evaluate(&input).map_err(|e| {
        ApiError::new(
            "policy_denied",
            format!("the policy could not decide ({}): denied", e.code()),
        )
    })?;
    if let Some(refusal) = decision.refusal() {
        return Err(refusal.into());
    }
    Ok(decision)
}
