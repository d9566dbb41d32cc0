//! Control-plane sessions: opened (and, for a TPM, activated) once, then
//! reused while valid.
//!
//! A TPM session binds the attestation key the control plane activated; the
//! relay keeps it only while the enclave still reports that same AK (an
//! enclave restart may create a new one) and until shortly before the
//! session's `expires_at`.

use enclet_control_plane_api::client::ControlPlaneClient;
use enclet_control_plane_api::{
    Activated, Activation, AttesterKind, Hex, OpenSession, SESSIONS, SessionOpened, TpmIdentity,
    activation_path,
};
use enclet_protocol::AttesterIdentity;
use hyper::Method;

use super::error::{RoundError, Step};
use crate::client::EnclaveClient;

/// A session is not reused this close to its end (seconds): a round started
/// now must finish inside it.
const SLACK_SECS: u64 = 30;
/// Longest session id accepted from the control plane (it issues 32 hex
/// characters); it becomes part of request paths.
const MAX_SESSION_ID: usize = 64;

/// An open session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Session {
    /// Its id, hex.
    pub(super) id: String,
    /// When the control plane forgets it (Unix seconds).
    pub(super) expires_at: u64,
    /// The attester it was opened for.
    pub(super) attester: AttesterKind,
    /// TPM: the AK it activated.
    pub(super) ak_public: Option<Vec<u8>>,
}

impl Session {
    /// Whether a round starting at `now` may use it for `attester` (and, for
    /// a TPM, the enclave's current AK).
    pub(super) fn usable(
        &self,
        now: u64,
        attester: AttesterKind,
        ak_public: Option<&[u8]>,
    ) -> bool {
        now.saturating_add(SLACK_SECS) < self.expires_at
            && self.attester == attester
            && self.ak_public.as_deref() == ak_public
    }
}

/// Opens a session; for a TPM, relays the credential to the enclave and its
/// answer back, so the control plane trusts the AK.
pub(super) async fn open(
    cp: &ControlPlaneClient,
    enclave: &EnclaveClient,
    attester: AttesterKind,
    identity: Option<&AttesterIdentity>,
) -> Result<Session, RoundError> {
    let tpm = identity.map(
        |AttesterIdentity::Tpm {
             ek_public,
             ek_certificate,
             ak_public,
             ..
         }| {
            TpmIdentity {
                ek_public: Hex(ek_public.clone()),
                ek_certificate: Hex(ek_certificate.clone()),
                ak_public: Hex(ak_public.clone()),
            }
        },
    );
    let ak_public = tpm.as_ref().map(|t| t.ak_public.0.clone());
    let body = OpenSession { attester, tpm };
    let opened: SessionOpened = cp
        .call_json(Method::POST, SESSIONS, Some(&body), None)
        .await
        .map_err(RoundError::control_plane(Step::OpenSession))?;
    check_id(&opened.session)?;
    if attester == AttesterKind::Tpm {
        activate(cp, enclave, &opened).await?;
    }
    tracing::info!(session = %opened.session, expires_at = opened.expires_at, ?attester,
        "control-plane session opened");
    Ok(Session {
        id: opened.session,
        expires_at: opened.expires_at,
        attester,
        ak_public,
    })
}

/// TPM: `ActivateCredential` in the enclave, then `POST .../activation`.
async fn activate(
    cp: &ControlPlaneClient,
    enclave: &EnclaveClient,
    opened: &SessionOpened,
) -> Result<(), RoundError> {
    let credential = opened
        .credential
        .as_ref()
        .ok_or_else(|| RoundError::InvalidAnswer {
            step: Step::OpenSession,
            reason: "a TPM session without a credential to activate".to_owned(),
        })?;
    let secret = enclave
        .activate_credential(
            credential.id_object.0.clone(),
            credential.encrypted_secret.0.clone(),
        )
        .await
        .map_err(RoundError::enclave(Step::ActivateCredential))?;
    let _: Activated = cp
        .call_json(
            Method::POST,
            &activation_path(&opened.session),
            Some(&Activation {
                secret: Hex(secret),
            }),
            None,
        )
        .await
        .map_err(RoundError::control_plane(Step::Activation))?;
    Ok(())
}

/// A session id becomes part of request paths: hex only, bounded.
fn check_id(id: &str) -> Result<(), RoundError> {
    if !id.is_empty() && id.len() <= MAX_SESSION_ID && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(RoundError::InvalidAnswer {
            step: Step::OpenSession,
            reason: format!(
                "the session id is not 1..={MAX_SESSION_ID} hex characters ({} bytes)",
                id.len()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            id: "ab".into(),
            expires_at: 1_000,
            attester: AttesterKind::Tpm,
            ak_public: Some(vec![1]),
        }
    }

    #[test]
    fn a_session_is_reused_only_for_its_attester_and_ak_before_its_end() {
        let s = session();
        assert!(s.usable(1_000 - SLACK_SECS - 1, AttesterKind::Tpm, Some(&[1])));
        assert!(!s.usable(1_000 - SLACK_SECS, AttesterKind::Tpm, Some(&[1])));
        assert!(!s.usable(0, AttesterKind::Nitro, None));
        assert!(!s.usable(0, AttesterKind::Tpm, Some(&[2])));
        assert!(!s.usable(0, AttesterKind::Tpm, None));
    }

    #[test]
    fn session_ids_are_bounded_hex() {
        assert!(check_id(&"0f".repeat(16)).is_ok());
        for bad in [
            "",
            "../admin",
            "ab/cd",
            "zz",
            &"a".repeat(MAX_SESSION_ID + 1),
        ] {
            assert_eq!(check_id(bad).unwrap_err().code(), "invalid_answer", "{bad}");
        }
    }
}
