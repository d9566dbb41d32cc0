//! The size limits of the optional user fields, at their boundaries: the
//! documented NSM limits are 1024 bytes for `public_key` and 512 bytes for
//! `user_data` and `nonce`.

use ciborium::Value;

use super::*;

/// A syntactically complete (unsigned) document whose optional field `field`
/// holds `len` bytes.
fn document_with(field: &str, len: usize) -> Vec<u8> {
    let text = |s: &str| Value::Text(s.to_owned());
    let payload = Value::Map(vec![
        (
            text("module_id"),
            text("i-0123456789abcdef0-enc0123456789abcdef"),
        ),
        (text("digest"), text("SHA384")),
        (
            text("timestamp"),
            Value::Integer(1_700_000_000_000u64.into()),
        ),
        (
            text("pcrs"),
            Value::Map(vec![(Value::Integer(0.into()), Value::Bytes(vec![1; 48]))]),
        ),
        (text("certificate"), Value::Bytes(vec![0x30; 100])),
        (
            text("cabundle"),
            Value::Array(vec![Value::Bytes(vec![0x30; 100])]),
        ),
        (text(field), Value::Bytes(vec![0xab; len])),
    ]);
    let mut payload_bytes = Vec::new();
    ciborium::into_writer(&payload, &mut payload_bytes).unwrap();
    // Protected header {1: -35} (ES384), empty unprotected header.
    let envelope = Value::Array(vec![
        Value::Bytes(vec![0xa1, 0x01, 0x38, 0x22]),
        Value::Map(vec![]),
        Value::Bytes(payload_bytes),
        Value::Bytes(vec![0; 96]),
    ]);
    let mut out = Vec::new();
    ciborium::into_writer(&envelope, &mut out).unwrap();
    out
}

#[test]
fn user_data_and_nonce_are_limited_to_512_bytes_and_public_key_to_1024() {
    for (field, max) in [
        ("user_data", MAX_USER_DATA_LEN),
        ("nonce", MAX_NONCE_LEN),
        ("public_key", MAX_PUBLIC_KEY_LEN),
    ] {
        let doc = UnverifiedNitroDocument::parse(&document_with(field, max))
            .unwrap_or_else(|e| panic!("{field} of {max} bytes: {e}"));
        let claims = doc.unverified_claims();
        let got = match field {
            "user_data" => claims.user_data,
            "nonce" => claims.nonce,
            _ => claims.public_key,
        };
        assert_eq!(got.map(|v| v.len()), Some(max), "{field}");

        let e = UnverifiedNitroDocument::parse(&document_with(field, max + 1)).unwrap_err();
        assert_eq!(e.code(), "nitro.parse.field", "{field}: {e}");
        assert!(
            matches!(&e, NitroError::Field { field: f, .. } if f == field),
            "{field}: {e:?}"
        );
        assert!(e.to_string().contains(&format!("{}", max + 1)), "{e}");
    }
    assert_eq!(
        (MAX_USER_DATA_LEN, MAX_NONCE_LEN, MAX_PUBLIC_KEY_LEN),
        (512, 512, 1024)
    );
}
