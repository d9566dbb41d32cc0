//! Vectors recorded from a real swtpm (see `testdata/tpm/README.md`): its EK,
//! EK certificate chain to swtpm's local CA, RSA and ECC AKs, quotes, and a
//! credential that swtpm's `TPM2_ActivateCredential` accepted.

use super::*;
use crate::UnixTime;

macro_rules! data {
    ($f:literal) => {
        include_bytes!(concat!("../../../testdata/tpm/swtpm/", $f))
    };
}

const EK_PUBLIC: &[u8] = data!("ek_public.bin");
const EK_CERT: &[u8] = data!("ek_cert.der");
const LOCAL_CA: &[u8] = data!("localca.der");
const ROOT_CA: &[u8] = data!("rootca.der");
const OTHER_ROOT_CA: &[u8] = data!("other_rootca.der");
const OTHER_LOCAL_CA: &[u8] = data!("other_localca.der");
const AK_RSA: &[u8] = data!("ak_rsa_public.bin");
const AK_RSA_NAME: &[u8] = data!("ak_rsa_name.bin");
const AK_ECC: &[u8] = data!("ak_ecc_public.bin");
const RSA_QUOTE: &[u8] = data!("rsa_quote.bin");
const RSA_SIG: &[u8] = data!("rsa_quote_sig.bin");
const ECC_QUOTE: &[u8] = data!("ecc_quote.bin");
const ECC_SIG: &[u8] = data!("ecc_quote_sig.bin");
const PCRS: &str = include_str!("../../../testdata/tpm/swtpm/pcrs.txt");
const ID_OBJECT: &[u8] = data!("credential_id_object.bin");
const ENCRYPTED_SECRET: &[u8] = data!("credential_encrypted_secret.bin");
const ECC_EK_PUBLIC: &[u8] = data!("ek_ecc_public.bin");
const ECC_EK_CERT: &[u8] = data!("ek_ecc_cert.der");
const AK_RSA2_NAME: &[u8] = data!("ak_rsa2_name.bin");
const ECC_ID_OBJECT: &[u8] = data!("credential_ecc_id_object.bin");
const ECC_ENCRYPTED_SECRET: &[u8] = data!("credential_ecc_encrypted_secret.bin");

/// 2027-01-15, after the certificates' notBefore (2026-11-22T00:56:46Z).
const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);
const NOT_BEFORE: u64 = 1_795_309_006;

#[test]
fn ek_certificate_chains_to_the_local_ca_and_certifies_the_ek() {
    let ek = verify_ek_certificate(EK_CERT, &[LOCAL_CA], ROOT_CA, EK_PUBLIC, NOW).unwrap();
    assert_eq!(ek.issuer, "CN=swtpm-localca");
    assert_eq!(
        ek.ek_public(),
        TpmPublic::parse(EK_PUBLIC).unwrap().tpmt_bytes()
    );
    // The issuing CA alone can be the configured anchor.
    assert!(verify_ek_certificate(EK_CERT, &[], LOCAL_CA, EK_PUBLIC, NOW).is_ok());
    // At the certificates' first second it is valid; a second before, not.
    assert!(
        verify_ek_certificate(
            EK_CERT,
            &[LOCAL_CA],
            ROOT_CA,
            EK_PUBLIC,
            UnixTime::from_secs(NOT_BEFORE)
        )
        .is_ok()
    );
    let early = UnixTime::from_secs(NOT_BEFORE - 1);
    let e = verify_ek_certificate(EK_CERT, &[LOCAL_CA], ROOT_CA, EK_PUBLIC, early).unwrap_err();
    assert_eq!(e.code(), "tpm.ek_chain");
    assert!(e.to_string().contains("not valid at"), "{e}");
}

#[test]
fn ek_certificate_from_another_ca_or_for_another_key_is_rejected() {
    for (inter, root, needle) in [
        (
            &[OTHER_LOCAL_CA][..],
            OTHER_ROOT_CA,
            "signature does not verify",
        ),
        (&[LOCAL_CA][..], OTHER_ROOT_CA, "signature does not verify"),
        (&[][..], OTHER_LOCAL_CA, "signature does not verify"),
        (&[][..], ROOT_CA, "was issued by"),
        (&[ROOT_CA][..], LOCAL_CA, "was issued by"),
    ] {
        let e = verify_ek_certificate(EK_CERT, inter, root, EK_PUBLIC, NOW).unwrap_err();
        assert_eq!(e.code(), "tpm.ek_chain");
        assert!(e.to_string().contains(needle), "{e}");
    }
    let e = verify_ek_certificate(EK_CERT, &[LOCAL_CA], ROOT_CA, AK_RSA, NOW).unwrap_err();
    assert!(e.to_string().contains("different key"), "{e}");
    // A CA certificate used as EK certificate is refused as such.
    let e = verify_ek_certificate(LOCAL_CA, &[], ROOT_CA, EK_PUBLIC, NOW).unwrap_err();
    assert_eq!(e.code(), "tpm.ek_chain");
    assert!(e.to_string().contains("is a CA certificate"), "{e}");
    let mut flipped = EK_CERT.to_vec();
    let n = flipped.len() - 10;
    flipped[n] ^= 1;
    assert_eq!(
        code(verify_ek_certificate(
            &flipped,
            &[LOCAL_CA],
            ROOT_CA,
            EK_PUBLIC,
            NOW
        )),
        "tpm.ek_chain"
    );
    assert_eq!(
        code(verify_ek_certificate(
            &EK_CERT[..100],
            &[LOCAL_CA],
            ROOT_CA,
            EK_PUBLIC,
            NOW
        )),
        "tpm.ek_chain"
    );
}

#[test]
fn make_credential_matches_the_credential_swtpm_activated() {
    // Secret 00..1f, randomness (i*7+3) mod 256: swtpm returned the secret.
    let secret: Vec<u8> = (0u8..32).collect();
    let random: [u8; CREDENTIAL_RANDOM_LEN] =
        core::array::from_fn(|i| u8::try_from((i * 7 + 3) % 256).unwrap());
    assert_eq!(ak_name(AK_RSA).unwrap(), AK_RSA_NAME);
    let c = make_credential(EK_PUBLIC, AK_RSA_NAME, &secret, &random).unwrap();
    assert_eq!(c.id_object, ID_OBJECT);
    assert_eq!(c.encrypted_secret, ENCRYPTED_SECRET);
}

#[test]
fn ecc_p384_ek_certificate_and_credential_match_swtpm() {
    let ek = verify_ek_certificate(ECC_EK_CERT, &[LOCAL_CA], ROOT_CA, ECC_EK_PUBLIC, NOW).unwrap();
    assert_eq!(
        ek.ek_public(),
        TpmPublic::parse(ECC_EK_PUBLIC).unwrap().tpmt_bytes()
    );
    // The RSA EK's certificate does not certify the ECC EK, and vice versa.
    assert_eq!(
        code(verify_ek_certificate(
            EK_CERT,
            &[LOCAL_CA],
            ROOT_CA,
            ECC_EK_PUBLIC,
            NOW
        )),
        "tpm.ek_chain"
    );
    assert_eq!(
        code(verify_ek_certificate(
            ECC_EK_CERT,
            &[LOCAL_CA],
            ROOT_CA,
            EK_PUBLIC,
            NOW
        )),
        "tpm.ek_chain"
    );
    // ECDH P-384 + KDFe(SHA-384), AES-256-CFB: swtpm's ActivateCredential with
    // this EK returned the secret 00..1f.
    let secret: Vec<u8> = (0u8..32).collect();
    let random: [u8; CREDENTIAL_RANDOM_LEN] =
        core::array::from_fn(|i| u8::try_from((i * 7 + 3) % 256).unwrap());
    let c = make_credential(ECC_EK_PUBLIC, AK_RSA2_NAME, &secret, &random).unwrap();
    assert_eq!(c.id_object, ECC_ID_OBJECT);
    assert_eq!(c.encrypted_secret, ECC_ENCRYPTED_SECRET);
    // Up to 48 secret bytes for a SHA-384 EK; a scalar of zeros is no key.
    assert!(make_credential(ECC_EK_PUBLIC, AK_RSA2_NAME, &[1; 48], &random).is_ok());
    assert_eq!(
        code(make_credential(
            ECC_EK_PUBLIC,
            AK_RSA2_NAME,
            &[1; 49],
            &random
        )),
        "tpm.credential"
    );
    assert_eq!(
        code(make_credential(
            ECC_EK_PUBLIC,
            AK_RSA2_NAME,
            &[1],
            &[0; CREDENTIAL_RANDOM_LEN]
        )),
        "tpm.credential"
    );
}

fn verify(
    quote: &[u8],
    sig: &[u8],
    ak: &[u8],
    pcrs: Option<&PcrValues>,
) -> Result<Verified<TpmClaims>, crate::Error> {
    verify_quote(
        &QuoteEvidence {
            attest: quote,
            signature: sig,
            ak_public: ak,
        },
        &TpmExpectations {
            extra_data: ExpectedExtraData::Exact(b"nonce"),
            pcrs,
            event_log: None,
            activated_ak: None,
        },
    )
}

#[test]
fn swtpm_rsa_and_ecdsa_quotes_verify_and_reject_every_flipped_byte() {
    let pcrs = PcrValues::parse_text(PCRS).unwrap();
    for (quote, sig, ak) in [(RSA_QUOTE, RSA_SIG, AK_RSA), (ECC_QUOTE, ECC_SIG, AK_ECC)] {
        let v = verify(quote, sig, ak, Some(&pcrs)).unwrap();
        assert_eq!(v.signature_hash, HashAlg::Sha256);
        assert_eq!(
            v.claims.image.as_deref(),
            pcrs.get(HashAlg::Sha256, IMAGE_PCR)
        );
        assert_eq!(v.pcrs.len(), 2);
        for i in 0..quote.len() {
            let mut q = quote.to_vec();
            q[i] ^= 0x10;
            assert!(verify(&q, sig, ak, Some(&pcrs)).is_err(), "quote byte {i}");
        }
        for i in 0..sig.len() {
            let mut s = sig.to_vec();
            s[i] ^= 0x10;
            assert!(
                verify(quote, &s, ak, Some(&pcrs)).is_err(),
                "signature byte {i}"
            );
        }
        // The other AK did not sign it.
        let other = if ak == AK_RSA { AK_ECC } else { AK_RSA };
        assert_eq!(code(verify(quote, sig, other, None)), "tpm.signature");
    }
}
