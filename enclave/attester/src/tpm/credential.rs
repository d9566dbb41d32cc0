//! `TPM2_ActivateCredential`: proves to a verifier that the AK and the certified
//! EK live in the same TPM.
//!
//! The verifier encrypts a secret to the EK, bound to the AK's name
//! (`TPM2_MakeCredential`, done in pure Rust by `enclet_attestation`). Only a TPM
//! holding that EK's private key *and* a loaded object with that name can
//! recover it. The EK's policy (TCG policy A) is satisfied with
//! `TPM2_PolicySecret` on the endorsement hierarchy.

use tss_esapi::{
    Context,
    attributes::SessionAttributesBuilder,
    constants::SessionType,
    handles::{AuthHandle, KeyHandle, SessionHandle},
    interface_types::{
        algorithm::HashingAlgorithm, session_handles::AuthSession, session_handles::PolicySession,
    },
    structures::{Digest, EncryptedSecret, IdObject, Nonce, SymmetricDefinition},
};

use super::device;
use crate::AttesterError;

/// Releases the credential's secret, or reports why the TPM refused.
pub(super) fn activate(
    ctx: &mut Context,
    ak: KeyHandle,
    ek: KeyHandle,
    id_object: &[u8],
    encrypted_secret: &[u8],
) -> Result<Vec<u8>, AttesterError> {
    let id_object = IdObject::try_from(id_object.to_vec()).map_err(|_| {
        AttesterError::Input(format!(
            "id object of {} bytes is too long",
            id_object.len()
        ))
    })?;
    let secret = EncryptedSecret::try_from(encrypted_secret.to_vec()).map_err(|_| {
        AttesterError::Input(format!(
            "encrypted secret of {} bytes is too long",
            encrypted_secret.len()
        ))
    })?;

    let policy = ctx
        .start_auth_session(
            None,
            None,
            None,
            SessionType::Policy,
            SymmetricDefinition::AES_128_CFB,
            HashingAlgorithm::Sha256,
        )
        .map_err(|e| device("start the EK policy session", e))?
        .ok_or_else(|| AttesterError::Device("the TPM returned no policy session".into()))?;
    let (attributes, mask) = SessionAttributesBuilder::new().build();

    let outcome =
        ctx.execute_with_temporary_object(SessionHandle::from(policy).into(), |ctx, _| {
            ctx.tr_sess_set_attributes(policy, attributes, mask)?;
            let policy_session = PolicySession::try_from(policy)?;
            ctx.execute_with_nullauth_session(|ctx| {
                ctx.policy_secret(
                    policy_session,
                    AuthHandle::Endorsement,
                    Nonce::default(),
                    Digest::default(),
                    Nonce::default(),
                    None,
                )
            })?;
            // The outer Result is the session set-up; the inner one is the
            // TPM's verdict on the credential itself.
            Ok(ctx
                .execute_with_sessions((Some(AuthSession::Password), Some(policy), None), |ctx| {
                    ctx.activate_credential(ak, ek, id_object, secret)
                }))
        });
    match outcome {
        Ok(Ok(digest)) => Ok(digest.value().to_vec()),
        Ok(Err(e)) => {
            tracing::info!(error = %e, "credential activation refused");
            Err(AttesterError::CredentialRejected(e.to_string()))
        }
        Err(e) => Err(device("satisfy the EK policy", e)),
    }
}
