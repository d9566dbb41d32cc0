use std::time::Duration;

use enclet_attestation::Measurement;
use tokio::io::AsyncWriteExt;

use super::{decode, encode, read_frame};
use crate::ProtocolError;
use crate::frame::{FrameLimits, HEADER_LEN, PROTOCOL_VERSION};
use crate::message::{
    ErrorBody, Health, Limits, LimitsRequest, LoadResult, PluginInfo, Request, Response,
};

const LIMITS: FrameLimits = FrameLimits {
    max_frame_bytes: 1024 * 1024,
};

fn limits() -> Limits {
    Limits {
        fuel: 1,
        deadline_ms: 2,
        max_memory_bytes: 3,
        max_table_elements: 4,
        max_input_bytes: 5,
        max_output_bytes: 6,
    }
}

fn requests() -> Vec<Request> {
    vec![
        Request::Load {
            name: "echo".into(),
            component: vec![0, 97, 115, 109, 255],
            limits: Some(limits().into()),
            signed: None,
        },
        Request::Load {
            name: "partial".into(),
            component: vec![1],
            limits: Some(LimitsRequest {
                deadline_ms: Some(7),
                ..LimitsRequest::default()
            }),
            signed: Some(crate::SignedManifest {
                manifest: b"schema = 1".to_vec(),
                signature: b"MEUCIQ==".to_vec(),
            }),
        },
        Request::Load {
            name: String::new(),
            component: vec![],
            limits: None,
            signed: None,
        },
        Request::Invoke {
            plugin: Measurement::of_plugin(b"x"),
            input: b"hello".to_vec(),
        },
        Request::ListPlugins,
        Request::Unload {
            plugin: Measurement::of_plugin(b"x"),
        },
        Request::SetLimits {
            plugin: Measurement::of_plugin(b"x"),
            limits: LimitsRequest {
                fuel: Some(5),
                ..LimitsRequest::default()
            },
        },
        Request::Attest { nonce: vec![7; 32] },
        Request::Health,
    ]
}

fn responses() -> Vec<Response> {
    let info = PluginInfo {
        name: "p".into(),
        measurement: Measurement::of_plugin(b"p"),
        size_bytes: 9,
        limits: limits(),
    };
    vec![
        Response::Loaded(LoadResult {
            info: info.clone(),
            newly_loaded: true,
        }),
        Response::Output(vec![1, 2, 3]),
        Response::Unloaded(info.clone()),
        Response::LimitsSet(info.clone()),
        Response::Plugins(vec![info]),
        Response::Health(Health {
            invocations_running: 0,
            protocol_version: PROTOCOL_VERSION,
            plugins: 1,
            attester: None,
            uptime_ms: 5,
        }),
        Response::Error(ErrorBody::new("out_of_fuel", "out of fuel")),
    ]
}

fn body(frame: &[u8]) -> &[u8] {
    &frame[4..]
}

#[test]
fn requests_and_responses_round_trip() {
    for (i, req) in requests().into_iter().enumerate() {
        let id = u64::try_from(i).unwrap() + u64::MAX / 2;
        let frame = encode(id, &req, LIMITS).unwrap();
        let len = u32::from_be_bytes(frame[..4].try_into().unwrap());
        assert_eq!(len as usize, frame.len() - 4);
        let (header, back): (_, Request) = decode(body(&frame)).unwrap();
        assert_eq!(header.request_id, id);
        assert_eq!(header.version, PROTOCOL_VERSION);
        assert_eq!(back, req);
    }
    for resp in responses() {
        let frame = encode(3, &resp, LIMITS).unwrap();
        let (_, back): (_, Response) = decode(body(&frame)).unwrap();
        assert_eq!(back, resp);
    }
}

#[test]
fn bytes_are_cbor_byte_strings() {
    // A 1000-byte input must cost ~1000 bytes, not an array of integers.
    let req = Request::Invoke {
        plugin: Measurement::of_plugin(b"x"),
        input: vec![200; 1000],
    };
    let frame = encode(1, &req, LIMITS).unwrap();
    assert!(frame.len() < 1000 + 48 + 64, "{}", frame.len());
}

#[test]
fn malformed_cbor_is_rejected() {
    let mut frame = encode(1, &Request::Health, LIMITS).unwrap();
    // Invalid CBOR: a reserved additional-information value.
    frame.truncate(4 + HEADER_LEN);
    frame.push(0x1c);
    let e = decode::<Request>(body(&frame)).unwrap_err();
    assert_eq!(e.code(), "malformed_frame", "{e}");

    // Valid CBOR, wrong shape: an integer where a request is expected.
    frame.truncate(4 + HEADER_LEN);
    frame.push(0x01);
    let e = decode::<Request>(body(&frame)).unwrap_err();
    assert!(matches!(e, ProtocolError::Malformed(_)), "{e}");

    // Unknown variant.
    frame.truncate(4 + HEADER_LEN);
    ciborium::into_writer(&"format_disk", &mut frame).unwrap();
    let e = decode::<Request>(body(&frame)).unwrap_err();
    assert!(e.to_string().contains("format_disk"), "{e}");

    // Truncated inside the CBOR item.
    let frame = encode(1, &requests()[0], LIMITS).unwrap();
    let e = decode::<Request>(&body(&frame)[..frame.len() - 6]).unwrap_err();
    assert_eq!(e.code(), "malformed_frame", "{e}");
}

#[test]
fn wrong_measurement_length_is_rejected() {
    #[derive(serde::Serialize)]
    enum Fake {
        #[serde(rename = "invoke")]
        Invoke {
            #[serde(with = "serde_bytes")]
            plugin: Vec<u8>,
            #[serde(with = "serde_bytes")]
            input: Vec<u8>,
        },
    }
    let frame = encode(
        1,
        &Fake::Invoke {
            plugin: vec![0; 47],
            input: vec![],
        },
        LIMITS,
    )
    .unwrap();
    let e = decode::<Request>(body(&frame)).unwrap_err();
    assert!(e.to_string().contains("48 bytes, got 47"), "{e}");
}

#[test]
fn trailing_bytes_are_rejected() {
    let mut frame = encode(1, &Request::Health, LIMITS).unwrap();
    frame.push(0);
    let e = decode::<Request>(body(&frame)).unwrap_err();
    assert!(matches!(e, ProtocolError::TrailingBytes(1)), "{e}");
}

#[test]
fn unknown_version_is_rejected() {
    let mut frame = encode(1, &Request::Health, LIMITS).unwrap();
    frame[4..6].copy_from_slice(&2u16.to_be_bytes());
    let e = decode::<Request>(body(&frame)).unwrap_err();
    assert!(
        matches!(
            e,
            ProtocolError::UnsupportedVersion {
                got: 2,
                supported: 1
            }
        ),
        "{e}"
    );
    assert_eq!(e.code(), "unsupported_version");
}

#[test]
fn short_body_is_rejected() {
    let e = decode::<Request>(&[0, 1, 0]).unwrap_err();
    assert!(
        matches!(e, ProtocolError::FrameTooShort { len: 3, .. }),
        "{e}"
    );
}

#[test]
fn encode_refuses_frames_over_the_limit() {
    let small = FrameLimits {
        max_frame_bytes: 128,
    };
    let ok = Request::Invoke {
        plugin: Measurement::of_plugin(b""),
        input: vec![],
    };
    assert!(encode(1, &ok, small).is_ok());
    let big = Request::Invoke {
        plugin: Measurement::of_plugin(b""),
        input: vec![0; 128],
    };
    assert_eq!(encode(1, &big, small).unwrap_err().code(), "encode_failed");
}

#[tokio::test]
async fn reads_frames_back_to_back_then_clean_eof() {
    let mut bytes = Vec::new();
    for (i, r) in requests().iter().enumerate() {
        bytes.extend(encode(i as u64, r, LIMITS).unwrap());
    }
    let mut reader = bytes.as_slice();
    for (i, r) in requests().into_iter().enumerate() {
        let body = read_frame(&mut reader, LIMITS, None)
            .await
            .unwrap()
            .unwrap();
        let (h, back): (_, Request) = decode(&body).unwrap();
        assert_eq!((h.request_id, back), (i as u64, r));
    }
    assert!(
        read_frame(&mut reader, LIMITS, None)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn oversized_frame_is_rejected_before_reading_the_body() {
    // Announce 4 GiB - 1 and send nothing else: rejected from the prefix alone.
    let mut reader: &[u8] = &[0xff, 0xff, 0xff, 0xff];
    let e = read_frame(&mut reader, LIMITS, None).await.unwrap_err();
    assert!(
        matches!(e, ProtocolError::FrameTooLarge { len: 0xffff_ffff, max } if max == 1024 * 1024),
        "{e}"
    );
    // Exactly at the limit is accepted as a length (then truncated here).
    let prefix = (1024u32 * 1024).to_be_bytes();
    let mut reader: &[u8] = &prefix;
    let e = read_frame(&mut reader, LIMITS, None).await.unwrap_err();
    assert_eq!(e.code(), "truncated_frame", "{e}");
}

#[tokio::test]
async fn truncated_frames_are_reported() {
    let frame = encode(1, &requests()[0], LIMITS).unwrap();
    // Cut inside the body.
    let mut reader = &frame[..frame.len() - 1];
    let e = read_frame(&mut reader, LIMITS, None).await.unwrap_err();
    let want = frame.len() as u64 - 4;
    assert!(
        matches!(e, ProtocolError::Truncated { expected, received } if expected == want && received == want - 1),
        "{e}"
    );
    // Cut inside the length prefix.
    let mut reader = &frame[..2];
    let e = read_frame(&mut reader, LIMITS, None).await.unwrap_err();
    assert!(
        matches!(
            e,
            ProtocolError::Truncated {
                expected: 4,
                received: 2
            }
        ),
        "{e}"
    );
}

#[tokio::test]
async fn stalled_body_times_out() {
    let (mut client, mut server) = tokio::io::duplex(64);
    client.write_all(&100u32.to_be_bytes()).await.unwrap();
    client.write_all(&[0; 10]).await.unwrap();
    let e = read_frame(&mut server, LIMITS, Some(Duration::from_millis(50)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ProtocolError::BodyTimeout {
                expected: 100,
                received: 10
            }
        ),
        "{e}"
    );
    drop(client);
}

#[tokio::test]
async fn frame_shorter_than_header_is_rejected() {
    let mut reader: &[u8] = &[0, 0, 0, 3, 0, 1, 0];
    let e = read_frame(&mut reader, LIMITS, None).await.unwrap_err();
    assert_eq!(e.code(), "frame_too_short", "{e}");
}

proptest::proptest! {
    #[test]
    fn decode_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
        let _ = decode::<Request>(&body);
        let _ = decode::<Response>(&body);
    }

    #[test]
    fn invoke_round_trips(
        id in proptest::num::u64::ANY,
        input in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
    ) {
        let req = Request::Invoke { plugin: Measurement::of_plugin(&input), input };
        let frame = encode(id, &req, LIMITS).unwrap();
        let (h, back): (_, Request) = decode(&frame[4..]).unwrap();
        proptest::prop_assert_eq!(h.request_id, id);
        proptest::prop_assert_eq!(back, req);
    }
}

mod attestation;
mod limits;
