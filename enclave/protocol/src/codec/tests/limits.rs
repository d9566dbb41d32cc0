//! `Request::Load` limits: a partial request carries only the limits given,
//! decodes strictly, and loads with full limits from earlier parents still
//! decode.

use ciborium::Value;

use super::{LIMITS, body, limits};
use crate::codec::{decode, encode};
use crate::message::{Limits, LimitsRequest, Request};

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// A `Load` frame whose `limits` is the given CBOR value, encoded by hand.
fn load_with(limits: Value) -> Vec<u8> {
    let load = Value::Map(vec![
        (text("name"), text("p")),
        (text("component"), Value::Bytes(vec![1, 2])),
        (text("limits"), limits),
    ]);
    encode(1, &Value::Map(vec![(text("load"), load)]), LIMITS).unwrap()
}

fn decode_load_limits(frame: &[u8]) -> Result<Option<LimitsRequest>, String> {
    match decode::<Request>(body(frame)) {
        Ok((_, Request::Load { limits, .. })) => Ok(limits),
        Ok((_, other)) => panic!("not a load: {other:?}"),
        Err(e) => {
            assert_eq!(e.code(), "malformed_frame", "{e}");
            Err(e.to_string())
        }
    }
}

fn limits_map(entries: &[(&str, Value)]) -> Value {
    Value::Map(entries.iter().map(|(k, v)| (text(k), v.clone())).collect())
}

#[test]
fn only_the_given_limits_are_on_the_wire() {
    let encoded = |r: &LimitsRequest| {
        let mut out = Vec::new();
        ciborium::into_writer(r, &mut out).unwrap();
        out
    };
    // No limit: an empty map.
    assert_eq!(encoded(&LimitsRequest::default()), [0xa0]);
    // One limit: a one-entry map {"fuel": 5}.
    let only_fuel = LimitsRequest {
        fuel: Some(5),
        ..LimitsRequest::default()
    };
    assert_eq!(
        encoded(&only_fuel),
        [0xa1, 0x64, b'f', b'u', b'e', b'l', 0x05]
    );
    // All six: the same bytes as the resolved `Limits`.
    let mut resolved = Vec::new();
    ciborium::into_writer(&limits(), &mut resolved).unwrap();
    assert_eq!(encoded(&limits().into()), resolved);
}

#[test]
fn partial_limits_round_trip_in_a_load() {
    let partials = [
        LimitsRequest::default(),
        LimitsRequest {
            max_output_bytes: Some(0),
            ..LimitsRequest::default()
        },
        LimitsRequest {
            fuel: Some(u64::MAX),
            max_memory_bytes: Some(65_536),
            max_table_elements: Some(1),
            ..LimitsRequest::default()
        },
        limits().into(),
    ];
    for partial in partials {
        let req = Request::Load {
            name: "p".into(),
            component: vec![0; 3],
            limits: Some(partial),
            signed: None,
        };
        let frame = encode(9, &req, LIMITS).unwrap();
        let (_, back): (_, Request) = decode(body(&frame)).unwrap();
        assert_eq!(back, req);
    }
    assert!(LimitsRequest::default().is_empty());
    assert!(!LimitsRequest::from(limits()).is_empty());
}

#[test]
fn loads_from_earlier_parents_still_decode() {
    // Earlier parents sent `limits: Option<Limits>`: all six, or null.
    #[derive(serde::Serialize)]
    enum Earlier {
        #[serde(rename = "load")]
        Load {
            name: String,
            #[serde(with = "serde_bytes")]
            component: Vec<u8>,
            limits: Option<Limits>,
        },
    }
    for limits in [Some(limits()), None] {
        let earlier = Earlier::Load {
            name: "p".into(),
            component: vec![7],
            limits,
        };
        let frame = encode(1, &earlier, LIMITS).unwrap();
        let (_, back): (_, Request) = decode(body(&frame)).unwrap();
        assert_eq!(
            back,
            Request::Load {
                name: "p".into(),
                component: vec![7],
                limits: limits.map(LimitsRequest::from),
                signed: None,
            }
        );
    }
}

#[test]
fn null_unknown_repeated_or_non_integer_limits_are_malformed() {
    let five = Value::Integer(5.into());
    // The close variant: a well-formed one-limit map decodes.
    assert_eq!(
        decode_load_limits(&load_with(limits_map(&[("fuel", five.clone())]))),
        Ok(Some(LimitsRequest {
            fuel: Some(5),
            ..LimitsRequest::default()
        }))
    );
    assert_eq!(decode_load_limits(&load_with(Value::Null)), Ok(None));

    let cases: [(Value, &str); 7] = [
        // An absent limit is left out, never null.
        (limits_map(&[("fuel", Value::Null)]), "null"),
        // A misspelt or unknown limit is refused, not ignored.
        (limits_map(&[("fule", five.clone())]), "fule"),
        (
            limits_map(&[("fuel", five.clone()), ("max_stack_bytes", five.clone())]),
            "max_stack_bytes",
        ),
        // The same limit twice.
        (
            limits_map(&[("deadline_ms", five.clone()), ("deadline_ms", five.clone())]),
            "duplicate field `deadline_ms`",
        ),
        (
            limits_map(&[("fuel", Value::Integer((-1).into()))]),
            "negative",
        ),
        (limits_map(&[("fuel", text("5"))]), "string"),
        // Not a map at all.
        (Value::Array(vec![five]), "sequence"),
    ];
    for (value, want) in cases {
        let shown = format!("{value:?}");
        let err = decode_load_limits(&load_with(value)).unwrap_err();
        assert!(err.contains(want), "{shown}: {err}");
    }
}

/// The largest body the parent relays fits the default frame with the rest of
/// its message, as a load (longest name, every limit at its widest) and as an
/// invocation input: the parent's body limit and the enclave's frame limit
/// come from one constant and agree.
#[test]
fn a_largest_body_fits_the_default_frame() {
    let body_bytes = usize::try_from(crate::MAX_BODY_BYTES).unwrap();
    let widest = Some(u64::MAX);
    let load = Request::Load {
        name: "n".repeat(64),
        component: vec![0xa5; body_bytes],
        limits: Some(LimitsRequest {
            fuel: widest,
            deadline_ms: widest,
            max_memory_bytes: widest,
            max_table_elements: widest,
            max_input_bytes: widest,
            max_output_bytes: widest,
        }),
        // The largest manifest (16 KiB) and a signature file's worth.
        signed: Some(crate::SignedManifest {
            manifest: vec![b'#'; 16 * 1024],
            signature: vec![b'A'; 16 * 1024],
        }),
    };
    let invoke = Request::Invoke {
        plugin: enclet_attestation::Measurement::of_plugin(b"p"),
        input: vec![0x5a; body_bytes],
    };
    for request in [load, invoke] {
        let frame = encode(u64::MAX, &request, crate::FrameLimits::default()).unwrap();
        let (_, decoded) = decode::<Request>(body(&frame)).unwrap();
        assert_eq!(decoded, request);
    }
}
