//! The real quote of a Google Cloud Shielded VM's vTPM (RSA-2048 AK, SHA-1 bank).

use super::*;

fn pcrs() -> PcrValues {
    PcrValues::parse_text(GCP_PCRS).unwrap()
}

fn verify(
    quote: &[u8],
    sig: &[u8],
    pcrs: Option<&PcrValues>,
) -> Result<Verified<TpmClaims>, crate::Error> {
    verify_quote(
        &QuoteEvidence {
            attest: quote,
            signature: sig,
            ak_public: GCP_AK,
        },
        &TpmExpectations {
            extra_data: ExpectedExtraData::Exact(&[]),
            pcrs,
            event_log: None,
            activated_ak: None,
        },
    )
}

#[test]
fn real_quote_verifies_and_its_pcr_digest_matches_the_listed_values() {
    let pcrs = pcrs();
    assert_eq!(pcrs.len(), 24);
    let v = verify(GCP_QUOTE, GCP_SIG, Some(&pcrs)).unwrap();
    let checked = v.claims.checked;
    assert!(checked.pcrs && checked.nonce && !checked.event_log);
    assert_eq!(v.signature_hash, HashAlg::Sha1);
    assert_eq!(v.pcrs.len(), 24);
    assert!(
        v.pcrs
            .iter()
            .all(|p| p.bank == HashAlg::Sha1 && p.value.is_some())
    );
    assert_eq!(v.pcrs[0].value.as_deref(), pcrs.get(HashAlg::Sha1, 0));
    assert_eq!(
        hex::encode(&v.pcr_digest),
        "a610f27bc687ce906243287d832706036e79f6e1"
    );
    // The image PCR is in the SHA-256 bank, which this quote does not cover.
    assert!(v.claims.image.is_none());
    // No event log was given: the plugins are unknown, not "none".
    assert_eq!(v.claims.plugins, crate::claims::Plugins::NotChecked);
    assert_eq!(v.claims.nonce.as_deref(), Some(&[][..]));
}

#[test]
fn without_pcr_values_only_signature_structure_and_nonce_are_checked() {
    let v = verify(GCP_QUOTE, GCP_SIG, None).unwrap();
    assert!(!v.claims.checked.pcrs);
    assert!(v.pcrs.iter().all(|p| p.value.is_none()));
    // Unchecked extraData claims no nonce.
    let v = verify_quote(
        &QuoteEvidence {
            attest: GCP_QUOTE,
            signature: GCP_SIG,
            ak_public: GCP_AK,
        },
        &TpmExpectations {
            extra_data: ExpectedExtraData::Unchecked,
            pcrs: None,
            event_log: None,
            activated_ak: None,
        },
    )
    .unwrap();
    assert!(!v.claims.checked.nonce && v.claims.nonce.is_none());
}

#[test]
fn flipping_any_byte_of_the_quote_or_signature_is_rejected() {
    let pcrs = pcrs();
    for mask in [0x01u8, 0x80, 0xff] {
        for i in 0..GCP_QUOTE.len() {
            let mut q = GCP_QUOTE.to_vec();
            q[i] ^= mask;
            assert!(
                verify(&q, GCP_SIG, Some(&pcrs)).is_err(),
                "quote byte {i} ^ {mask:#x}"
            );
            assert!(
                verify(&q, GCP_SIG, None).is_err(),
                "quote byte {i} ^ {mask:#x}, no PCRs"
            );
        }
        for i in 0..GCP_SIG.len() {
            let mut s = GCP_SIG.to_vec();
            s[i] ^= mask;
            assert!(
                verify(GCP_QUOTE, &s, Some(&pcrs)).is_err(),
                "signature byte {i} ^ {mask:#x}"
            );
        }
    }
    // The signature bytes proper fail as a bad signature, not as a parse error.
    let mut s = GCP_SIG.to_vec();
    *s.last_mut().unwrap() ^= 1;
    assert_eq!(code(verify(GCP_QUOTE, &s, None)), "tpm.signature");
}

#[test]
fn wrong_nonce_edited_or_missing_pcrs_are_named() {
    let r = verify_quote(
        &QuoteEvidence {
            attest: GCP_QUOTE,
            signature: GCP_SIG,
            ak_public: GCP_AK,
        },
        &TpmExpectations {
            extra_data: ExpectedExtraData::Exact(b"n"),
            pcrs: None,
            event_log: None,
            activated_ak: None,
        },
    );
    assert_eq!(code(r), "tpm.nonce");
    let text = pcrs().to_text();
    let line = text.lines().find(|l| l.starts_with("sha1:7=")).unwrap();
    let mut edited_line = line.to_string();
    let last = edited_line.pop().unwrap();
    edited_line.push(if last == '0' { '1' } else { '0' });
    let edited = PcrValues::parse_text(&text.replace(line, &edited_line)).unwrap();
    assert_eq!(
        code(verify(GCP_QUOTE, GCP_SIG, Some(&edited))),
        "tpm.pcr_digest"
    );
    let missing = PcrValues::parse_text(&text.replace(line, "")).unwrap();
    assert_eq!(
        verify(GCP_QUOTE, GCP_SIG, Some(&missing)).unwrap_err(),
        crate::Error::Tpm(TpmError::PcrMissing {
            bank: "sha1",
            index: 7
        })
    );
    // Values of the wrong bank do not count.
    let sha256 = PcrValues::parse_text(&format!("sha256:0={}", "00".repeat(32))).unwrap();
    assert_eq!(
        code(verify(GCP_QUOTE, GCP_SIG, Some(&sha256))),
        "tpm.pcr_missing"
    );
}

#[test]
fn ak_name_equals_the_name_the_tpm_certified_at_creation() {
    // AK.CreateAttestation (TPM_ST_ATTEST_CREATION) names the AK it certified.
    let name = ak_name(GCP_AK).unwrap();
    assert_eq!(
        hex::encode(&name),
        "000b4ce9b151f75089d74c15dabe9d520cffafbcafd5d43be0aad2e2d88d54717e2e"
    );
    assert_eq!(ak_name(&tpm2b(GCP_AK)).unwrap(), name);
    let ak = TpmPublic::parse(GCP_AK).unwrap();
    assert!(ak.attributes().is_restricted_signing());
    assert_eq!(
        ak.scheme(),
        Some(Scheme {
            alg: 0x0014,
            hash: 0x0004
        })
    );
    assert!(
        matches!(ak.key(), PublicKey::Rsa { modulus, exponent: 65_537 } if modulus.len() == 256)
    );
}

#[test]
fn an_event_log_cannot_be_replayed_against_a_quote_without_the_plugin_pcr() {
    let pcrs = pcrs();
    let log = EventLog::new();
    let r = verify_quote(
        &QuoteEvidence {
            attest: GCP_QUOTE,
            signature: GCP_SIG,
            ak_public: GCP_AK,
        },
        &TpmExpectations {
            extra_data: ExpectedExtraData::Exact(&[]),
            pcrs: Some(&pcrs),
            event_log: Some(&log),
            activated_ak: None,
        },
    );
    assert_eq!(code(r), "tpm.event_log");
}
