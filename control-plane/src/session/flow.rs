//! The session steps behind the routes: open, activate, issue a nonce. Store
//! calls and EK checks run on the blocking pool; each step commits its audit
//! entry before it answers.

use std::sync::Arc;

use enclet_attestation::UnixTime;
use enclet_attestation::tpm::{self, CHALLENGE_RANDOM_LEN};
use enclet_control_plane_api::{
    Activated, Activation, AttesterKind, Credential, Hex, NonceIssued, OpenSession, SessionOpened,
};
use serde_json::json;

use super::NONCE_LEN;
use crate::api::ApiError;
use crate::audit::AuditKind;
use crate::service::{ServiceState, blocking};
use crate::store::{NonceRecord, SessionId, SessionRecord};

fn random<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut out = [0u8; N];
    aws_lc_rs::rand::fill(&mut out).map_err(|_| ApiError::internal(&"the system CSPRNG failed"))?;
    Ok(out)
}

fn attester_name(kind: AttesterKind) -> &'static str {
    match kind {
        AttesterKind::Tpm => "tpm",
        AttesterKind::Nitro => "nitro",
    }
}

/// `POST /v1/sessions`.
pub(crate) async fn open(
    state: Arc<ServiceState>,
    body: OpenSession,
    peer: String,
) -> Result<SessionOpened, ApiError> {
    blocking(move || open_blocking(&state, &body, &peer)).await
}

fn open_blocking(
    state: &ServiceState,
    body: &OpenSession,
    peer: &str,
) -> Result<SessionOpened, ApiError> {
    let now = state.clock.now_ms();
    let id = SessionId::generate()?;
    let expires_ms = now.saturating_add(state.limits.session_ttl_ms);
    let (challenge, credential, ek_name, ak_name) = match (body.attester, &body.tpm) {
        (AttesterKind::Nitro, None) => (None, None, None, None),
        (AttesterKind::Nitro, Some(_)) => {
            return Err(ApiError::invalid("a Nitro session takes no TPM identity"));
        }
        (AttesterKind::Tpm, None) => {
            return Err(ApiError::invalid(
                "a TPM session needs the TPM identity (tpm)",
            ));
        }
        (AttesterKind::Tpm, Some(identity)) => {
            let ek_name = tpm::ak_name(&identity.ek_public.0)
                .map_err(|e| ApiError::invalid(format!("ek_public: {e}")))?;
            let ak_name = tpm::ak_name(&identity.ak_public.0)
                .map_err(|e| ApiError::invalid(format!("ak_public: {e}")))?;
            let engine = state.engine();
            let ek = match engine.verifier.check_ek(
                &identity.ek_certificate.0,
                &identity.ek_public.0,
                UnixTime::from_secs(now / 1000),
            ) {
                Ok(ek) => ek,
                Err(refusal) => {
                    let err = ApiError::from(refusal);
                    return Err(state.record_refusal(now, "open_session", None, peer, err, false));
                }
            };
            let (pending, credential) = tpm::challenge(
                &ek,
                &identity.ak_public.0,
                &random::<CHALLENGE_RANDOM_LEN>()?,
            )
            .map_err(|e| ApiError::invalid(format!("cannot challenge this AK: {e}")))?;
            let credential = Credential {
                id_object: Hex(credential.id_object),
                encrypted_secret: Hex(credential.encrypted_secret),
            };
            (
                Some(pending),
                Some(credential),
                Some(ek_name),
                Some(ak_name),
            )
        }
    };
    state
        .sessions
        .insert(id, body.attester, expires_ms, challenge, now)?;
    let record = SessionRecord {
        id,
        attester: attester_name(body.attester).to_owned(),
        created_ms: now,
        expires_ms,
        peer: Some(peer.to_owned()),
        ek_name: ek_name.clone(),
        ak_name: ak_name.clone(),
    };
    let detail = json!({
        "attester": record.attester,
        "expires_ms": expires_ms,
        "ek_name": ek_name.map(hex::encode),
        "ak_name": ak_name.map(hex::encode),
    });
    let event = ServiceState::event(now, AuditKind::SessionOpened, Some(&id), peer, detail);
    if let Err(e) = state.store.put_session(&record, vec![event]) {
        state.sessions.remove(&id);
        return Err(e.into());
    }
    Ok(SessionOpened {
        session: id.to_string(),
        expires_at: expires_ms / 1000,
        credential,
    })
}

/// `POST /v1/sessions/{id}/activation`.
pub(crate) async fn activate(
    state: Arc<ServiceState>,
    id: SessionId,
    body: Activation,
    peer: String,
) -> Result<Activated, ApiError> {
    blocking(move || {
        let now = state.clock.now_ms();
        match state.sessions.activate(&id, &body.secret.0, now) {
            Ok(ak) => {
                let detail = json!({"ok": true, "ak_name": hex::encode(ak.ak_name())});
                let event =
                    ServiceState::event(now, AuditKind::Activation, Some(&id), &peer, detail);
                state.store.append_audit(vec![event])?;
                Ok(Activated {
                    ak_name: Hex(ak.ak_name().to_vec()),
                })
            }
            Err(err) => {
                let detail = json!({"ok": false, "code": err.code, "message": err.message});
                let event =
                    ServiceState::event(now, AuditKind::Activation, Some(&id), &peer, detail);
                state.store.append_audit(vec![event])?;
                Err(err)
            }
        }
    })
    .await
}

/// `POST /v1/sessions/{id}/nonces`.
pub(crate) async fn issue_nonce(
    state: Arc<ServiceState>,
    id: SessionId,
    peer: String,
) -> Result<NonceIssued, ApiError> {
    blocking(move || {
        let now = state.clock.now_ms();
        if let Err(err) = state.sessions.get(&id, now) {
            return Err(state.record_refusal(now, "nonces", Some(&id), &peer, err, false));
        }
        let nonce = random::<NONCE_LEN>()?;
        let expires_ms = now.saturating_add(state.limits.nonce_ttl_ms);
        let detail = json!({"nonce": hex::encode(nonce), "expires_ms": expires_ms});
        let event = ServiceState::event(now, AuditKind::NonceIssued, Some(&id), &peer, detail);
        let record = NonceRecord {
            session: id,
            nonce,
            expires_ms,
        };
        state.store.issue_nonce(&record, vec![event])?;
        Ok(NonceIssued {
            nonce: Hex(nonce.to_vec()),
            expires_at: expires_ms / 1000,
        })
    })
    .await
}
