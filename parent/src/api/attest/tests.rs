use axum::body::Bytes;
use enclet_protocol::{Evidence, PcrValue, TpmEvidence};

use super::{ActivateJson, AttestJson, AttestationJson, Hex, MAX_JSON_BODY, parse};
use crate::api::ApiError;
use crate::client::Attestation;

fn json<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, ApiError> {
    parse(Ok(Bytes::from(body.to_owned())))
}

fn status_code(e: &ApiError) -> (u16, &str) {
    (e.status().as_u16(), e.code.as_str())
}

#[test]
fn activation_body_is_parsed_from_hex() {
    let a: ActivateJson = json(r#"{"id_object":"00ff","encrypted_secret":"ab"}"#).unwrap();
    assert_eq!(a.id_object, Hex(vec![0, 255]));
    assert_eq!(a.encrypted_secret, Hex(vec![0xab]));
}

#[test]
fn malformed_bodies_are_invalid_requests() {
    for body in [
        r#"{"id_object":"0g","encrypted_secret":"ab"}"#,
        r#"{"id_object":"abc","encrypted_secret":"ab"}"#,
        r#"{"id_object":"00"}"#,
        r#"{"id_object":"00","encrypted_secret":"ab","extra":1}"#,
        r#"{"id_object":0,"encrypted_secret":"ab"}"#,
        "not json",
    ] {
        let e = json::<ActivateJson>(body).unwrap_err();
        assert_eq!(status_code(&e), (400, "invalid_request"), "{body}");
    }
    let e = json::<AttestJson>(r#"{"nonce":"zz"}"#).unwrap_err();
    assert!(e.message.contains("not hex"), "{}", e.message);
}

#[test]
fn oversized_bodies_are_refused_before_parsing() {
    let body = format!(r#"{{"nonce":"{}"}}"#, "00".repeat(MAX_JSON_BODY));
    let e = json::<AttestJson>(&body).unwrap_err();
    assert_eq!(status_code(&e), (413, "body_too_large"));
    let fits = format!(r#"{{"nonce":"{}"}}"#, "00".repeat(32));
    assert_eq!(json::<AttestJson>(&fits).unwrap().nonce, Hex(vec![0; 32]));
}

#[test]
fn attestation_json_has_hex_fields_and_pcrs_by_index() {
    let attestation = AttestationJson::from(Attestation {
        evidence: Evidence::Tpm(TpmEvidence {
            attest: vec![0xff, 0x54],
            signature: vec![1],
            ak_public: vec![2],
            pcrs: vec![
                PcrValue {
                    index: 16,
                    value: vec![0xaa; 2],
                },
                PcrValue {
                    index: 23,
                    value: vec![0xbb; 2],
                },
            ],
        }),
        event_log: vec![3],
        public_key: vec![4; 2],
    });
    let v = serde_json::to_value(&attestation).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "evidence": {"kind": "tpm", "attest": "ff54", "signature": "01", "ak_public": "02",
                         "pcrs": {"16": "aaaa", "23": "bbbb"}},
            "event_log": "03",
            "public_key": "0404",
        })
    );
    // Integer map keys parse back from JSON text (as a verifier reads them).
    let back: AttestationJson = serde_json::from_str(&v.to_string()).unwrap();
    assert_eq!(back, attestation);
}

#[test]
fn pcr_indices_outside_a_byte_are_rejected() {
    let body = r#"{"evidence":{"kind":"tpm","attest":"","signature":"","ak_public":"",
        "pcrs":{"256":"00"}},"event_log":"","public_key":""}"#;
    let e = serde_json::from_str::<AttestationJson>(body).unwrap_err();
    assert!(e.to_string().contains("PCR index"), "{e}");
    let body = body.replace("256", "23");
    assert!(serde_json::from_str::<AttestationJson>(&body).is_ok());
}
