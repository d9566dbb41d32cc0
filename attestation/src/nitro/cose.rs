//! The `COSE_Sign1` envelope (RFC 9052 §4.2) around the attestation payload.
//!
//! [`coset`] parses the four-element array, tagged (18) or untagged. We keep
//! the protected header and the payload exactly as received and build the
//! `Sig_structure` from those bytes ourselves: re-encoding a parsed header or
//! payload could change the bytes and so the meaning of the signature.

use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED, UnparsedPublicKey};
use coset::{
    CborSerializable, CoseSign1, RegisteredLabelWithPrivate, TaggedCborSerializable, iana,
};

use super::cbor;
use super::error::NitroError;

/// Length of a raw ES384 signature: `r ‖ s`, 48 bytes each.
pub(crate) const ES384_SIGNATURE_LEN: usize = 96;

/// CBOR tag 18 (`COSE_Sign1`) as the first byte of a tagged document.
const TAG_COSE_SIGN1: u8 = 0xd2;

/// The parts of a `COSE_Sign1` that the signature covers, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Envelope {
    /// The protected header's serialized bytes (the content of its bstr).
    pub(crate) protected: Vec<u8>,
    /// The payload bytes (the content of its bstr).
    pub(crate) payload: Vec<u8>,
    /// The raw `r ‖ s` signature.
    pub(crate) signature: Vec<u8>,
}

/// Parses a `COSE_Sign1`, tagged or untagged, and checks its header says ES384.
pub(crate) fn parse(bytes: &[u8]) -> Result<Envelope, NitroError> {
    let sign1 = if bytes.first() == Some(&TAG_COSE_SIGN1) {
        CoseSign1::from_tagged_slice(bytes)
    } else {
        CoseSign1::from_slice(bytes)
    }
    .map_err(|e| NitroError::Cose(e.to_string()))?;

    let header = &sign1.protected.header;
    match &header.alg {
        Some(RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES384)) => {}
        Some(other) => return Err(NitroError::Algorithm(format!("{other:?}"))),
        None => return Err(NitroError::Algorithm("none in the protected header".into())),
    }
    if !header.crit.is_empty() {
        return Err(NitroError::Cose(
            "protected header lists critical parameters".into(),
        ));
    }
    let protected = sign1
        .protected
        .original_data
        .ok_or_else(|| NitroError::Cose("protected header bytes missing".into()))?;
    let payload = sign1
        .payload
        .ok_or_else(|| NitroError::Cose("payload is detached (null)".into()))?;
    if sign1.signature.len() != ES384_SIGNATURE_LEN {
        return Err(NitroError::Cose(format!(
            "signature is {} bytes, ES384 needs {ES384_SIGNATURE_LEN}",
            sign1.signature.len()
        )));
    }
    Ok(Envelope {
        protected,
        payload,
        signature: sign1.signature,
    })
}

/// `Sig_structure = ["Signature1", protected, external_aad = h'', payload]`,
/// built from the received bytes.
pub(crate) fn sig_structure(protected: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(protected.len() + payload.len() + 24);
    cbor::write_array_head(&mut out, 4);
    cbor::write_text(&mut out, "Signature1");
    cbor::write_bytes(&mut out, protected);
    cbor::write_bytes(&mut out, &[]);
    cbor::write_bytes(&mut out, payload);
    out
}

/// Verifies the ES384 signature with the leaf key, an uncompressed P-384
/// point. High-S signatures are valid ECDSA and are accepted.
pub(crate) fn verify_signature(envelope: &Envelope, leaf_point: &[u8]) -> Result<(), NitroError> {
    let tbs = sig_structure(&envelope.protected, &envelope.payload);
    UnparsedPublicKey::new(&ECDSA_P384_SHA384_FIXED, leaf_point)
        .verify(&tbs, &envelope.signature)
        .map_err(|_| NitroError::Signature)
}
