//! Credential activation: verifier-side `MakeCredential` in pure Rust, the
//! TPM's `ActivateCredential` in swtpm.

use enclet_attestation::tpm::{self, CREDENTIAL_RANDOM_LEN};
use enclet_attester::AttesterError;

use crate::support::{Fixture, random};

#[test]
fn a_credential_made_for_this_ek_and_ak_round_trips() {
    let f = Fixture::new();
    assert_eq!(
        tpm::ak_name(&f.identity.ak_public).unwrap(),
        f.identity.ak_name
    );
    let secret = random::<32>();
    let credential = tpm::make_credential(
        &f.identity.ek_public,
        &f.identity.ak_name,
        &secret,
        &random::<CREDENTIAL_RANDOM_LEN>(),
    )
    .unwrap();
    let released = f
        .attester
        .activate_credential(&credential.id_object, &credential.encrypted_secret)
        .unwrap();
    assert_eq!(released, secret);
}

#[test]
fn a_credential_made_for_another_ak_name_does_not_activate() {
    let f = Fixture::new();
    let mut other_name = f.identity.ak_name.clone();
    *other_name.last_mut().unwrap() ^= 1;
    let credential = tpm::make_credential(
        &f.identity.ek_public,
        &other_name,
        &random::<32>(),
        &random::<CREDENTIAL_RANDOM_LEN>(),
    )
    .unwrap();
    let err = f
        .attester
        .activate_credential(&credential.id_object, &credential.encrypted_secret)
        .unwrap_err();
    assert!(matches!(err, AttesterError::CredentialRejected(_)), "{err}");
}

#[test]
fn a_tampered_credential_does_not_activate() {
    let f = Fixture::new();
    let credential = tpm::make_credential(
        &f.identity.ek_public,
        &f.identity.ak_name,
        &random::<32>(),
        &random::<CREDENTIAL_RANDOM_LEN>(),
    )
    .unwrap();
    let mut id_object = credential.id_object.clone();
    *id_object.last_mut().unwrap() ^= 1;
    let err = f
        .attester
        .activate_credential(&id_object, &credential.encrypted_secret)
        .unwrap_err();
    assert!(matches!(err, AttesterError::CredentialRejected(_)), "{err}");
    let mut secret = credential.encrypted_secret.clone();
    secret[0] ^= 1;
    let err = f
        .attester
        .activate_credential(&credential.id_object, &secret)
        .unwrap_err();
    assert!(matches!(err, AttesterError::CredentialRejected(_)), "{err}");
    // The untouched credential still activates: the TPM state is fine.
    assert!(
        f.attester
            .activate_credential(&credential.id_object, &credential.encrypted_secret)
            .is_ok()
    );
}

#[test]
fn oversized_credential_parts_are_refused_before_the_tpm() {
    let f = Fixture::new();
    let big = vec![0u8; 4096];
    let err = f
        .attester
        .activate_credential(&big, &[1, 2, 3])
        .unwrap_err();
    assert!(matches!(err, AttesterError::Input(_)), "{err}");
    let err = f
        .attester
        .activate_credential(&[1, 2, 3], &big)
        .unwrap_err();
    assert!(matches!(err, AttesterError::Input(_)), "{err}");
}

#[test]
fn the_verifier_challenge_activates_the_real_ak() {
    let f = Fixture::new();
    let activated = f.activated_ak();
    assert_eq!(activated.ak_name(), &f.identity.ak_name[..]);
}
