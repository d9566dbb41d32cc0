//! A "quote" signed by a software key: it verifies as a signature, but the key
//! cannot pass credential activation against the EK, so it is not the activated AK.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use enclet_attestation::tpm::{self, CHALLENGE_RANDOM_LEN, TpmError};
use enclet_attester::{AttesterError, TpmEvidence};

use crate::support::{Fixture, random, tpm_err, verify};

/// The real AK's public area with its point replaced by a software key's, and
/// the real quote's `TPMS_ATTEST` re-signed by that key.
fn forge(real: &TpmEvidence) -> TpmEvidence {
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let point = key.public_key().as_ref(); // 0x04 || x || y
    assert_eq!(point.len(), 65);
    // TPMS_ECC_POINT ends the public area: u16 32 || x || u16 32 || y.
    let mut ak_public = real.ak_public.clone();
    let tail = ak_public.len() - 68;
    assert_eq!(&ak_public[tail..tail + 2], [0, 32]);
    ak_public[tail + 2..tail + 34].copy_from_slice(&point[1..33]);
    assert_eq!(&ak_public[tail + 34..tail + 36], [0, 32]);
    ak_public[tail + 36..].copy_from_slice(&point[33..]);

    let rs = key.sign(&SystemRandom::new(), &real.attest).unwrap();
    let rs = rs.as_ref();
    let mut signature = vec![0x00, 0x18, 0x00, 0x0b, 0x00, 0x20]; // ECDSA, SHA-256, |r|
    signature.extend_from_slice(&rs[..32]);
    signature.extend_from_slice(&[0x00, 0x20]);
    signature.extend_from_slice(&rs[32..]);
    TpmEvidence {
        attest: real.attest.clone(),
        signature,
        ak_public,
        pcrs: real.pcrs.clone(),
    }
}

#[test]
fn a_quote_signed_by_a_software_key_is_not_from_the_activated_ak() {
    let f = Fixture::new();
    let activated = f.activated_ak();
    let nonce = random::<32>();
    let forged = forge(&f.quote(&nonce, &f.log));

    // As a bare signature the forgery is perfect: this is why AK trust matters.
    assert!(verify(&forged, &nonce, &f.log, None).is_ok());
    // Bound to the AK proven against the certified EK, it is rejected.
    let err = tpm_err(verify(&forged, &nonce, &f.log, Some(&activated)));
    assert_eq!(err, TpmError::AkNotActivated);
}

#[test]
fn a_software_key_cannot_pass_credential_activation() {
    let f = Fixture::new();
    let forged = forge(&f.quote(&random::<32>(), &f.log));
    let ek = f.verified_ek();
    let (pending, credential) =
        tpm::challenge(&ek, &forged.ak_public, &random::<CHALLENGE_RANDOM_LEN>()).unwrap();
    // The TPM holds the EK but no object with the software key's name.
    let err = f
        .attester
        .activate_credential(&credential.id_object, &credential.encrypted_secret)
        .unwrap_err();
    assert!(matches!(err, AttesterError::CredentialRejected(_)), "{err}");
    // Whatever the forger answers instead, the challenge fails.
    let err = tpm_err(pending.finish(&random::<32>()));
    assert!(matches!(err, TpmError::Credential(_)), "{err}");
}
