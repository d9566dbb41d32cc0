//! The TPM verifier through the public API only, as the control plane and
//! third-party verifiers use it, on the recorded real vectors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use enclet_attestation::tpm::{
    self, CHALLENGE_RANDOM_LEN, ExpectedExtraData, HashAlg, PcrValues, QuoteEvidence,
    TpmExpectations,
};
use enclet_attestation::{Error, UnixTime};

const GCP_QUOTE: &[u8] = include_bytes!("../testdata/tpm/gcp_quote.bin");
const GCP_SIG: &[u8] = include_bytes!("../testdata/tpm/gcp_signature.bin");
const GCP_AK: &[u8] = include_bytes!("../testdata/tpm/gcp_ak_public.bin");
const GCP_PCRS: &str = include_str!("../testdata/tpm/gcp_pcrs.txt");
const EK_PUBLIC: &[u8] = include_bytes!("../testdata/tpm/swtpm/ek_public.bin");
const EK_CERT: &[u8] = include_bytes!("../testdata/tpm/swtpm/ek_cert.der");
const LOCAL_CA: &[u8] = include_bytes!("../testdata/tpm/swtpm/localca.der");
const ROOT_CA: &[u8] = include_bytes!("../testdata/tpm/swtpm/rootca.der");
const AK_RSA: &[u8] = include_bytes!("../testdata/tpm/swtpm/ak_rsa_public.bin");
const RSA_QUOTE: &[u8] = include_bytes!("../testdata/tpm/swtpm/rsa_quote.bin");
const RSA_SIG: &[u8] = include_bytes!("../testdata/tpm/swtpm/rsa_quote_sig.bin");
const SWTPM_PCRS: &str = include_str!("../testdata/tpm/swtpm/pcrs.txt");

const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);

#[test]
fn gcp_quote_claims_serialize_with_what_was_checked() {
    let pcrs = PcrValues::parse_text(GCP_PCRS).unwrap();
    let v = tpm::verify_quote(
        &QuoteEvidence {
            attest: GCP_QUOTE,
            signature: GCP_SIG,
            ak_public: GCP_AK,
        },
        &TpmExpectations {
            extra_data: ExpectedExtraData::Exact(&[]),
            pcrs: Some(&pcrs),
            event_log: None,
            activated_ak: None,
        },
    )
    .unwrap();
    let json = serde_json::to_value(v.get()).unwrap();
    assert_eq!(json["claims"]["checked"]["pcrs"], true);
    assert_eq!(json["claims"]["checked"]["nonce"], true);
    assert_eq!(json["claims"]["checked"]["event_log"], false);
    assert_eq!(json["claims"]["trust_basis"]["kind"], "caller_pinned_ak");
    assert_eq!(json["claims"]["plugins"]["status"], "not_checked");
    assert_eq!(json["signature_hash"], "sha1");
    assert_eq!(json["pcrs"][0]["bank"], "sha1");
    assert_eq!(
        json["pcrs"][0]["value"],
        hex::encode(pcrs.get(HashAlg::Sha1, 0).unwrap())
    );
    assert_eq!(json["claims"]["evidence"], "tpm");
}

#[test]
fn a_key_that_cannot_activate_the_credential_is_not_trusted() {
    // The verifier's side of AK trust: a certified EK, a challenge for the AK,
    // and anything but the TPM's answer is refused.
    let ek = tpm::verify_ek_certificate(EK_CERT, &[LOCAL_CA], ROOT_CA, EK_PUBLIC, NOW).unwrap();
    let random = [0x42; CHALLENGE_RANDOM_LEN];
    let (pending, credential) = tpm::challenge(&ek, AK_RSA, &random).unwrap();
    assert_eq!(credential.encrypted_secret.len(), 256);
    // A software key holder does not have the EK and can only guess.
    let err = pending.finish(&[0u8; 32]).unwrap_err();
    assert_eq!(err.code(), "tpm.credential");
    // Quotes still verify without activation, and say so.
    let pcrs = PcrValues::parse_text(SWTPM_PCRS).unwrap();
    let v = tpm::verify_quote(
        &QuoteEvidence {
            attest: RSA_QUOTE,
            signature: RSA_SIG,
            ak_public: AK_RSA,
        },
        &TpmExpectations {
            extra_data: ExpectedExtraData::Exact(b"nonce"),
            pcrs: Some(&pcrs),
            event_log: None,
            activated_ak: None,
        },
    )
    .unwrap();
    assert_eq!(v.claims.trust_basis.as_str(), "caller_pinned_ak");
    // An EK certificate checked at a time before it was issued is refused.
    let err = tpm::verify_ek_certificate(
        EK_CERT,
        &[LOCAL_CA],
        ROOT_CA,
        EK_PUBLIC,
        UnixTime::from_secs(1_700_000_000),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::Tpm(tpm::TpmError::EkChain(_))),
        "{err}"
    );
}
