//! The release pipeline behind `POST /v1/sessions/{id}/evidence`.
//!
//! ```text
//!  0. parse the submission (bad hex, bounds → 400 invalid_request, not audited)
//!  1. session: exists, unexpired, same attester; TPM: AK activated
//!  2. nonce: consumed durably (nonce_unknown / nonce_expired / nonce_replayed)
//!  3. verifier: TPM quote with the activated AK, or Nitro document
//!  4. policy over the verified claims: enclave and every attested plugin
//!  4b. revoked plugins and publishers denied (`revoked_plugin`,
//!     `revoked_publisher`) without refusing the others (see `revoked`)
//!  5. secrets the policy granted, from the store; each sealed (HPKE) to the
//!     attested public key with the session and expiry (now + release_ttl);
//!     a capability token per allowed plugin (`enclet-capability`): the
//!     policy's capabilities plus `secret:NAME` per granted secret, bound to
//!     the plugin, the attested key and now + `capabilities.token_ttl_secs`
//!  6. ONE audit append, durable: verdict allowed, a policy_decision per
//!     plugin, a release per plugin that received secrets — then the answer
//! ```
//!
//! Any refusal from step 1 on is recorded by ONE audit append (a `verdict`
//! refused with its code, and a `refusal` with the message) before the 4xx
//! goes out. Steps 1–6 run on the blocking pool (store calls, verification,
//! policy and sealing are CPU or disk work); time comes from the service's
//! injectable clock.
//!
//! **A granted secret that is not in the store** does not refuse the
//! release: the secrets that exist are released and the missing name is
//! listed as `missing` in that plugin's `release` audit entry (and logged),
//! so an operator who has not yet uploaded one secret does not take every
//! plugin down; the plugin sees the secret absent and the `PluginRelease` in
//! the answer names only what was sealed.

use std::sync::Arc;

use enclet_attestation::Measurement;
use enclet_control_plane_api::{AttesterKind, Evidence, EvidenceSubmission, Release};

use crate::api::ApiError;
use crate::service::{ServiceState, blocking};
use crate::store::SessionId;

mod grant;
mod revoked;
mod verify_step;

pub use revoked::{REVOKED_PLUGIN, REVOKED_PUBLISHER};

/// Most plugin names a submission may carry.
pub const MAX_NAMED_PLUGINS: usize = 256;
/// Longest plugin name, in bytes.
pub const MAX_PLUGIN_NAME: usize = 128;

/// A submission whose shape has been checked.
struct Submission {
    nonce: Vec<u8>,
    evidence: Evidence,
    event_log: Vec<u8>,
    public_key: Vec<u8>,
    names: Vec<(Measurement, String)>,
}

impl Submission {
    fn parse(body: EvidenceSubmission) -> Result<Self, ApiError> {
        if body.nonce.0.len() != crate::session::NONCE_LEN {
            return Err(ApiError::invalid("nonce: must be 32 bytes"));
        }
        if body.plugins.len() > MAX_NAMED_PLUGINS {
            return Err(ApiError::invalid(format!(
                "plugins: at most {MAX_NAMED_PLUGINS} names"
            )));
        }
        let names = body
            .plugins
            .into_iter()
            .map(|p| {
                if p.name.len() > MAX_PLUGIN_NAME {
                    return Err(ApiError::invalid(format!(
                        "plugins: a name is longer than {MAX_PLUGIN_NAME} bytes"
                    )));
                }
                let m = p.measurement.parse::<Measurement>().map_err(|e| {
                    ApiError::invalid(format!("plugins: measurement {:?}: {e}", p.measurement))
                })?;
                Ok((m, p.name))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            nonce: body.nonce.0,
            evidence: body.evidence,
            event_log: body.event_log.0,
            public_key: body.public_key.0,
            names,
        })
    }

    fn attester(&self) -> AttesterKind {
        match self.evidence {
            Evidence::Tpm { .. } => AttesterKind::Tpm,
            Evidence::Nitro { .. } => AttesterKind::Nitro,
        }
    }
}

/// Runs the pipeline for session `id`.
pub(crate) async fn submit(
    state: Arc<ServiceState>,
    id: SessionId,
    body: EvidenceSubmission,
    peer: String,
) -> Result<Release, ApiError> {
    let submission = Submission::parse(body)?;
    blocking(move || {
        let now = state.clock.now_ms();
        pipeline(&state, id, &submission, &peer, now).map_err(|err| {
            let recorded =
                state.record_refusal(now, "evidence", Some(&id), &peer, err.clone(), true);
            // When the store itself failed, answer that failure even if the
            // refusal could be recorded after all: nothing was released.
            if err.code == "store_unavailable" {
                err
            } else {
                recorded
            }
        })
    })
    .await
}

fn pipeline(
    state: &ServiceState,
    id: SessionId,
    submission: &Submission,
    peer: &str,
    now: u64,
) -> Result<Release, ApiError> {
    // Step 1: the session.
    let session = state.sessions.get(&id, now)?;
    if session.attester != submission.attester() {
        return Err(ApiError::new(
            "wrong_attester",
            "the evidence's attester is not this session's",
        ));
    }
    let ak = match session.attester {
        AttesterKind::Tpm => Some(session.activated_ak.ok_or_else(|| {
            ApiError::new(
                "ak_not_activated",
                "TPM evidence before the session's AK was activated",
            )
        })?),
        AttesterKind::Nitro => None,
    };
    // Step 2: the nonce, consumed durably before anything else is believed.
    state
        .store
        .consume_nonce(&id, &submission.nonce, now)?
        .map_err(ApiError::from)?;
    // Steps 3, 4 and 4b: verify, the policy, then what is revoked.
    let engine = state.engine();
    let enclave = verify_step::verify(&engine, ak.as_deref(), submission, now)?;
    let mut decision = verify_step::decide(&engine, &enclave, &submission.names)?;
    revoked::exclude(
        &mut decision,
        &enclave.claims.get().plugin_events,
        &state.store.revocations()?,
    );
    // Steps 5 and 6: seal what was granted, audit, answer.
    let expires_at = (now / 1000).saturating_add(state.limits.release_ttl_secs);
    let token_expires_at = (now / 1000).saturating_add(state.issuer.token_ttl_secs);
    let granted =
        grant::seal_granted(state, id, &enclave, &decision, expires_at, token_expires_at)?;
    let events = grant::audit_events(now, id, peer, &enclave, &decision, &granted, expires_at);
    let minted = granted.plugins.iter().any(|g| g.token.is_some());
    let mut release = grant::answer(id, expires_at, &decision, granted)?;
    if minted {
        // The parent re-attests before this: before the tokens expire.
        release.expires_at = release.expires_at.min(token_expires_at);
    }
    state.store.append_audit(events)?;
    Ok(release)
}
