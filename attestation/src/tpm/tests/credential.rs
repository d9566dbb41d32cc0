//! `MakeCredential` against a test-side `ActivateCredential` that decrypts with the
//! EK's private key (OAEP by aws-lc-rs), as a TPM would.

use aws_lc_rs::cipher::{AES_128, DecryptingKey, DecryptionContext, UnboundCipherKey};
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, PrivateDecryptingKey};

use super::*;
use crate::tpm::kdf::kdfa;

/// The TCG default EK policy (`PolicySecret(TPM_RH_ENDORSEMENT)`).
const EK_POLICY: &str = "837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa";

/// An RSA-2048 EK public area (TCG template L-1) with these attributes.
pub(super) fn rsa_ek(modulus: &[u8], attributes: u32) -> Vec<u8> {
    let mut v = vec![0x00, 0x01, 0x00, 0x0b];
    v.extend(attributes.to_be_bytes());
    v.extend(tpm2b(&hex::decode(EK_POLICY).unwrap()));
    v.extend([
        0x00, 0x06, 0x00, 0x80, 0x00, 0x43, 0x00, 0x10, 0x08, 0x00, 0, 0, 0, 0,
    ]);
    v.extend(tpm2b(modulus));
    v
}

const EK_ATTRS: u32 = 0x0003_00b2;

/// `TPM2_ActivateCredential`, done by the test with the EK's private key.
fn activate(pkcs8: &[u8], name: &[u8], c: &Credential) -> Result<Vec<u8>, &'static str> {
    let key =
        OaepPrivateDecryptingKey::new(PrivateDecryptingKey::from_pkcs8(pkcs8).unwrap()).unwrap();
    let mut buf = vec![0u8; 256];
    let seed = key
        .decrypt(
            &OAEP_SHA256_MGF1SHA256,
            &c.encrypted_secret,
            &mut buf,
            Some(b"IDENTITY\0"),
        )
        .map_err(|_| "OAEP")?
        .to_vec();
    let (hmac_len, rest) = c.id_object.split_first_chunk::<2>().ok_or("short")?;
    let (integrity, enc) = rest.split_at(usize::from(u16::from_be_bytes(*hmac_len)));
    let hmac_key = kdfa(HashAlg::Sha256, &seed, b"INTEGRITY", &[], &[], 256).unwrap();
    hmac::verify(
        &hmac::Key::new(hmac::HMAC_SHA256, &hmac_key),
        &[enc, name].concat(),
        integrity,
    )
    .map_err(|_| "integrity")?;
    let sym = kdfa(HashAlg::Sha256, &seed, b"STORAGE", name, &[], 128).unwrap();
    let key = DecryptingKey::cfb128(UnboundCipherKey::new(&AES_128, &sym).unwrap()).unwrap();
    let mut plain = enc.to_vec();
    let out = key
        .decrypt(
            &mut plain,
            DecryptionContext::Iv128(FixedLength::from([0u8; 16])),
        )
        .unwrap();
    let (len, secret) = out.split_first_chunk::<2>().ok_or("short")?;
    (usize::from(u16::from_be_bytes(*len)) == secret.len())
        .then(|| secret.to_vec())
        .ok_or("size")
}

/// A `Verified<ActivatedAk>` for `ak`, obtained through the whole challenge flow.
pub(super) fn activated_for(ak: &[u8]) -> ActivatedAk {
    let (pkcs8, modulus) = rsa_key();
    let ek = Verified::new(EkIdentity::for_tests(&rsa_ek(&modulus, EK_ATTRS)));
    let (pending, cred) = challenge(&ek, ak, &[9; CHALLENGE_RANDOM_LEN]).unwrap();
    let secret = activate(&pkcs8, &ak_name(ak).unwrap(), &cred).unwrap();
    pending.finish(&secret).unwrap().into_inner()
}

#[test]
fn the_ek_holder_recovers_the_secret_only_for_the_named_ak() {
    let (pkcs8, modulus) = rsa_key();
    let ek = rsa_ek(&modulus, EK_ATTRS);
    let name = ak_name(GCP_AK).unwrap();
    let secret = b"sixteen byte sec";
    let c = make_credential(&ek, &name, secret, &[1; CREDENTIAL_RANDOM_LEN]).unwrap();
    assert_eq!(activate(&pkcs8, &name, &c).unwrap(), secret);
    // Another object's name fails the integrity check, as in the TPM.
    let mut other = name.clone();
    other[5] ^= 1;
    assert_eq!(activate(&pkcs8, &other, &c), Err("integrity"));
    // Another EK cannot decrypt the seed.
    let (other_key, _) = rsa_key();
    assert_eq!(activate(&other_key, &name, &c), Err("OAEP"));
}

#[test]
fn credential_structure_and_determinism() {
    let (_, modulus) = rsa_key();
    let ek = rsa_ek(&modulus, EK_ATTRS);
    let name = ak_name(GCP_AK).unwrap();
    let c = make_credential(&ek, &name, &[5; 32], &[1; CREDENTIAL_RANDOM_LEN]).unwrap();
    // TPM2B_DIGEST(HMAC-SHA256) || AES-CFB(u16 size || secret)
    assert_eq!(c.id_object.len(), 2 + 32 + 2 + 32);
    assert_eq!(&c.id_object[..2], &[0, 32]);
    assert_eq!(c.encrypted_secret.len(), 256);
    assert_eq!(&c.id_object_tpm2b()[..2], &[0, 68]);
    assert_eq!(&c.encrypted_secret_tpm2b()[..2], &[1, 0]);
    assert_eq!(
        make_credential(&ek, &name, &[5; 32], &[1; CREDENTIAL_RANDOM_LEN]).unwrap(),
        c
    );
    let mut random = [1; CREDENTIAL_RANDOM_LEN];
    random[0] = 2;
    let c2 = make_credential(&ek, &name, &[5; 32], &random).unwrap();
    assert_ne!(c2.id_object, c.id_object);
    assert_ne!(c2.encrypted_secret, c.encrypted_secret);
}

#[test]
fn make_credential_rejects_what_a_tpm_would_not_activate() {
    let (_, modulus) = rsa_key();
    let ek = rsa_ek(&modulus, EK_ATTRS);
    let name = ak_name(GCP_AK).unwrap();
    let r = [1; CREDENTIAL_RANDOM_LEN];
    assert_eq!(
        code(make_credential(&ek, &name, &[0; 33], &r)),
        "tpm.credential"
    );
    assert_eq!(code(make_credential(&ek, &name, &[], &r)), "tpm.credential");
    assert_eq!(
        code(make_credential(&ek, &name[..10], &[1], &r)),
        "tpm.credential"
    );
    // Found by fuzzing: a zero (or even, or short-topped) modulus is refused
    // instead of reaching modular exponentiation.
    for bad in [
        vec![0u8; 256],
        [&[0x80][..], &[0; 255]].concat(),
        [&[0][..], &modulus[1..]].concat(),
    ] {
        assert_eq!(
            code(make_credential(&rsa_ek(&bad, EK_ATTRS), &name, &[1], &r)),
            "tpm.credential"
        );
    }
    let signing = rsa_ek(&modulus, EK_ATTRS & !ObjectAttributes::DECRYPT);
    assert_eq!(
        code(make_credential(&signing, &name, &[1], &r)),
        "tpm.credential"
    );
    // An ECC key as EK is not supported (yet).
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    assert_eq!(
        code(make_credential(&ecc_ak(&pair, EK_ATTRS), &name, &[1], &r)),
        "tpm.credential"
    );
    assert_eq!(
        code(make_credential(&ek[..20], &name, &[1], &r)),
        "tpm.parse.truncated"
    );
}

#[test]
fn challenge_accepts_only_the_recovered_secret_and_fixed_tpm_aks() {
    let (pkcs8, modulus) = rsa_key();
    let ek = Verified::new(EkIdentity::for_tests(&rsa_ek(&modulus, EK_ATTRS)));
    let (pending, cred) = challenge(&ek, GCP_AK, &[3; CHALLENGE_RANDOM_LEN]).unwrap();
    let secret = activate(&pkcs8, &ak_name(GCP_AK).unwrap(), &cred).unwrap();
    assert_eq!(secret, [3; 32]);
    let mut wrong = secret.clone();
    wrong[0] ^= 1;
    let (pending2, _) = challenge(&ek, GCP_AK, &[3; CHALLENGE_RANDOM_LEN]).unwrap();
    assert_eq!(code(pending2.finish(&wrong)), "tpm.credential");
    let ak = pending.finish(&secret).unwrap();
    assert_eq!(ak.ak_public(), GCP_AK);
    assert_eq!(ak.ak_name(), ak_name(GCP_AK).unwrap());
    // An AK that could leave its TPM proves nothing.
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let movable = ecc_ak(&pair, AK_ATTRS & !ObjectAttributes::FIXED_TPM);
    assert_eq!(
        code(challenge(&ek, &movable, &[3; CHALLENGE_RANDOM_LEN])),
        "tpm.ak_attributes"
    );
}

#[test]
fn a_pending_challenge_does_not_print_its_secret() {
    let (_, modulus) = rsa_key();
    let ek = Verified::new(EkIdentity::for_tests(&rsa_ek(&modulus, EK_ATTRS)));
    // Distinct bytes, so that neither form of the secret can appear by chance.
    let mut random = [0u8; CHALLENGE_RANDOM_LEN];
    for (i, b) in random.iter_mut().enumerate() {
        *b = u8::try_from(i % 251).unwrap().wrapping_add(101);
    }
    let secret = &random[..32];
    let (pending, _) = challenge(&ek, GCP_AK, &random).unwrap();
    for shown in [format!("{pending:?}"), format!("{pending:#?}")] {
        assert!(!shown.contains(&hex::encode(secret)), "{shown}");
        assert!(!shown.contains(&format!("{secret:?}")), "{shown}");
        assert!(
            !shown.contains(&format!("{:?}", secret.to_vec())),
            "{shown}"
        );
        // Nor any 8-byte run of it, in decimal-array form.
        let run = format!("{:?}", &secret[..8]);
        assert!(
            !shown.contains(run.trim_matches(&['[', ']'][..])),
            "{shown}"
        );
        assert!(shown.contains("redacted"), "{shown}");
    }
    // The redaction does not get in the way of finishing.
    assert!(pending.finish(secret).is_ok());
}
