//! Attestation requests: the attester's identity, credential activation, and
//! evidence bound to the verifier's nonce and the enclave's public key.
//!
//! A verifier's flow (TPM):
//!
//! ```text
//! Identity            ─▶ EK public + EK certificate + AK public + AK name
//!                        verifier: EK certificate chains to its CA
//! ActivateCredential  ─▶ the TPM releases the secret the verifier sealed to
//!                        (EK, AK name): the AK lives in the certified TPM
//! Attest { nonce }    ─▶ quote over the image and plugin PCRs with
//!                        qualifying data H(nonce, enclave public key, event-log digest),
//!                        plus the event log and the public key
//! ```
//!
//! Device calls block, so they run on the blocking pool. Inputs are bounded
//! before they reach the device.

use std::sync::Arc;

use enclet_attester::{AttestationRequest, Attester};
use enclet_protocol::{AttesterIdentity, Evidence, PcrValue, Response, TpmEvidence};

use super::Server;
use crate::Error;

/// Bounds on an attestation nonce, in bytes.
pub(super) const NONCE_LEN: std::ops::RangeInclusive<usize> = 8..=64;
/// Largest accepted `TPM2B_ID_OBJECT` contents: an integrity HMAC and an
/// encrypted credential, each at most a SHA-512 digest plus size fields.
pub(super) const MAX_ID_OBJECT: usize = 256;
/// Largest accepted `TPM2B_ENCRYPTED_SECRET` contents: an RSA-4096 OAEP block.
pub(super) const MAX_ENCRYPTED_SECRET: usize = 512;

/// `Request::Attest`: evidence over the event log, the nonce and the enclave key.
pub(super) async fn attest(server: &Arc<Server>, nonce: Vec<u8>) -> Result<Response, Error> {
    let attester = attester(server)?;
    if !NONCE_LEN.contains(&nonce.len()) {
        return Err(Error::InvalidRequest(format!(
            "nonce is {} bytes, must be {}..={}",
            nonce.len(),
            NONCE_LEN.start(),
            NONCE_LEN.end()
        )));
    }
    // Hold the log while attesting so no plugin is extended in between.
    let log = server.event_log.lock().await;
    let public_key = server.public_key().to_vec();
    let request = AttestationRequest {
        nonce,
        public_key: public_key.clone(),
        event_log_digest: log.digest(),
    };
    let evidence = blocking("attest", move || attester.attest(&request)).await?;
    Ok(Response::Attestation {
        evidence: evidence_to_wire(evidence)?,
        event_log: log.to_bytes(),
        public_key,
    })
}

/// `Request::Identity`: the keys a verifier must trust first.
pub(super) async fn identity(server: &Arc<Server>) -> Result<Response, Error> {
    let attester = attester(server)?;
    let identity = blocking("identity", move || attester.identity()).await?;
    match identity {
        enclet_attester::AttesterIdentity::Tpm(t) => {
            Ok(Response::Identity(AttesterIdentity::Tpm {
                ek_public: t.ek_public,
                ek_certificate: t.ek_certificate,
                ak_public: t.ak_public,
                ak_name: t.ak_name,
            }))
        }
        #[allow(
            unreachable_patterns,
            reason = "AttesterIdentity is non_exhaustive; new kinds need a wire form first"
        )]
        _ => Err(Error::Internal("identity kind has no wire form".to_owned())),
    }
}

/// `Request::ActivateCredential`: the secret the verifier sealed to this
/// attester's endorsement and attestation keys.
pub(super) async fn activate_credential(
    server: &Arc<Server>,
    id_object: Vec<u8>,
    encrypted_secret: Vec<u8>,
) -> Result<Response, Error> {
    let attester = attester(server)?;
    for (what, len, max) in [
        ("id_object", id_object.len(), MAX_ID_OBJECT),
        (
            "encrypted_secret",
            encrypted_secret.len(),
            MAX_ENCRYPTED_SECRET,
        ),
    ] {
        if len == 0 || len > max {
            return Err(Error::InvalidRequest(format!(
                "{what} is {len} bytes, must be 1..={max}"
            )));
        }
    }
    let secret = blocking("activate credential", move || {
        attester.activate_credential(&id_object, &encrypted_secret)
    })
    .await?;
    tracing::info!("credential activated");
    Ok(Response::CredentialActivated { secret })
}

fn attester(server: &Server) -> Result<Arc<dyn Attester>, Error> {
    server.attester.clone().ok_or(Error::NoAttester)
}

async fn blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> Result<T, enclet_attester::AttesterError> + Send + 'static,
) -> Result<T, Error> {
    Ok(tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("{what} task: {e}")))??)
}

fn evidence_to_wire(evidence: enclet_attester::Evidence) -> Result<Evidence, Error> {
    match evidence {
        enclet_attester::Evidence::Nitro { document } => Ok(Evidence::Nitro { document }),
        enclet_attester::Evidence::Tpm(t) => Ok(Evidence::Tpm(TpmEvidence {
            attest: t.attest,
            signature: t.signature,
            ak_public: t.ak_public,
            pcrs: t
                .pcrs
                .into_iter()
                .map(|(index, value)| PcrValue { index, value })
                .collect(),
        })),
        #[allow(
            unreachable_patterns,
            reason = "Evidence is non_exhaustive; new kinds need a wire form first"
        )]
        _ => Err(Error::Internal("evidence kind has no wire form".to_owned())),
    }
}

#[cfg(test)]
mod tests;
