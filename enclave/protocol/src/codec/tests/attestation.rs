//! The attestation messages: identity, credential activation, evidence.

use crate::ProtocolError;
use crate::codec::{decode, encode};
use crate::frame::{FrameLimits, HEADER_LEN};
use crate::message::{AttesterIdentity, Evidence, PcrValue, Request, Response, TpmEvidence};

const LIMITS: FrameLimits = FrameLimits {
    max_frame_bytes: 64 * 1024,
};

fn identity() -> AttesterIdentity {
    AttesterIdentity::Tpm {
        ek_public: vec![1; 314],
        ek_certificate: vec![0x30; 900],
        ak_public: vec![3; 90],
        ak_name: vec![0, 0x0b, 9, 9],
    }
}

fn attestation() -> Response {
    Response::Attestation {
        evidence: Evidence::Tpm(TpmEvidence {
            attest: vec![0xff, 0x54, 0x43, 0x47],
            signature: vec![0, 0x18, 1],
            ak_public: vec![3; 90],
            pcrs: vec![
                PcrValue {
                    index: 16,
                    value: vec![16; 32],
                },
                PcrValue {
                    index: 23,
                    value: vec![23; 32],
                },
            ],
        }),
        event_log: vec![5; 96],
        public_key: vec![0x25; 32],
    }
}

fn round_trip<M>(message: &M) -> M
where
    M: serde::Serialize + serde::de::DeserializeOwned,
{
    let frame = encode(9, message, LIMITS).unwrap();
    let (header, back) = decode::<M>(&frame[4..]).unwrap();
    assert_eq!(header.request_id, 9);
    back
}

#[test]
fn identity_and_activation_requests_round_trip() {
    for req in [
        Request::Identity,
        Request::ActivateCredential {
            id_object: vec![1, 2, 3],
            encrypted_secret: vec![4; 256],
        },
        Request::ActivateCredential {
            id_object: vec![],
            encrypted_secret: vec![],
        },
    ] {
        assert_eq!(round_trip(&req), req);
    }
}

#[test]
fn identity_activation_and_attestation_responses_round_trip() {
    for resp in [
        Response::Identity(identity()),
        Response::CredentialActivated {
            secret: vec![7; 32],
        },
        attestation(),
    ] {
        assert_eq!(round_trip(&resp), resp);
    }
}

#[test]
fn key_material_is_carried_as_byte_strings() {
    // 314 + 900 + 90 + 4 bytes of keys must cost about that much, not 2x.
    let frame = encode(1, &Response::Identity(identity()), LIMITS).unwrap();
    assert!(frame.len() < 1308 + 128, "{}", frame.len());
}

#[test]
fn oversized_activation_request_does_not_fit_a_frame() {
    let small = FrameLimits {
        max_frame_bytes: 512,
    };
    let ok = Request::ActivateCredential {
        id_object: vec![0; 100],
        encrypted_secret: vec![0; 256],
    };
    assert!(encode(1, &ok, small).is_ok());
    let big = Request::ActivateCredential {
        id_object: vec![0; 100],
        encrypted_secret: vec![0; 512],
    };
    assert_eq!(encode(1, &big, small).unwrap_err().code(), "encode_failed");
}

#[test]
fn attestation_without_public_key_is_rejected() {
    // The shape of an older Attestation answer: no `public_key`.
    #[derive(serde::Serialize)]
    enum Old {
        #[serde(rename = "attestation")]
        Attestation {
            evidence: Evidence,
            #[serde(with = "serde_bytes")]
            event_log: Vec<u8>,
        },
    }
    let Response::Attestation {
        evidence,
        event_log,
        ..
    } = attestation()
    else {
        unreachable!()
    };
    let frame = encode(
        1,
        &Old::Attestation {
            evidence,
            event_log,
        },
        LIMITS,
    )
    .unwrap();
    let e = decode::<Response>(&frame[4..]).unwrap_err();
    assert!(e.to_string().contains("public_key"), "{e}");
}

#[test]
fn activation_with_a_text_field_is_rejected() {
    #[derive(serde::Serialize)]
    enum Fake {
        #[serde(rename = "activate_credential")]
        ActivateCredential {
            id_object: String,
            #[serde(with = "serde_bytes")]
            encrypted_secret: Vec<u8>,
        },
    }
    let frame = encode(
        1,
        &Fake::ActivateCredential {
            id_object: "abc".into(),
            encrypted_secret: vec![1],
        },
        LIMITS,
    )
    .unwrap();
    let e = decode::<Request>(&frame[4..]).unwrap_err();
    assert!(matches!(e, ProtocolError::Malformed(_)), "{e}");
}

#[test]
fn unknown_identity_kind_is_rejected() {
    let mut frame = encode(1, &Response::Identity(identity()), LIMITS).unwrap();
    frame.truncate(4 + HEADER_LEN);
    let mut fake = std::collections::BTreeMap::new();
    fake.insert("identity", std::collections::BTreeMap::from([("sev", 1u8)]));
    ciborium::into_writer(&fake, &mut frame).unwrap();
    let e = decode::<Response>(&frame[4..]).unwrap_err();
    assert!(e.to_string().contains("sev"), "{e}");
}
