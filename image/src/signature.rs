//! The signature section: where PCR8 comes from.
//!
//! A signed EIF carries a CBOR array of PCR signatures, each a map
//! `{ "signing_certificate": bytes, "signature": bytes }` where the bytes are
//! written as CBOR arrays of small integers (byte strings are accepted too).
//! `signing_certificate` is a PEM certificate; `signature` is a `COSE_Sign1`
//! over PCR0 made with that certificate's key. PCR8 measures the DER of the
//! first entry's certificate.
//!
//! This module extracts and checks that certificate (it must parse as one
//! X.509 certificate, nothing trailing). It does not verify the COSE
//! signature: the Nitro hypervisor does that when it launches the enclave,
//! and refuses an image whose signature does not match, so PCR8 in an
//! attestation document always names a certificate whose key signed PCR0.

use base64::Engine as _;
use serde::Deserialize;

use crate::error::ImageError;

const PEM_BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const PEM_END: &str = "-----END CERTIFICATE-----";

#[derive(Deserialize)]
struct PcrSignature {
    signing_certificate: serde_bytes::ByteBuf,
    #[expect(dead_code, reason = "required by the format, not verified here")]
    signature: serde_bytes::ByteBuf,
}

fn bad(reason: impl Into<String>) -> ImageError {
    ImageError::BadSignature {
        reason: reason.into(),
    }
}

/// The DER signing certificate of the first PCR signature in a signature
/// section's data.
///
/// # Errors
/// [`ImageError::BadSignature`] when the data is not the CBOR described in the
/// module docs (trailing bytes included), the list is empty, or the first
/// certificate is not one PEM-encoded X.509 certificate.
pub fn signing_certificate(data: &[u8]) -> Result<Vec<u8>, ImageError> {
    let mut rest = data;
    let list: Vec<PcrSignature> = ciborium::de::from_reader(&mut rest)
        .map_err(|e| bad(format!("not CBOR PCR signatures: {e}")))?;
    if !rest.is_empty() {
        return Err(bad(format!(
            "{} trailing bytes after the CBOR value",
            rest.len()
        )));
    }
    let first = list
        .first()
        .ok_or_else(|| bad("no PCR signature in the list"))?;
    let der = pem_to_der(&first.signing_certificate)?;
    match x509_parser::parse_x509_certificate(&der) {
        Ok(([], _)) => Ok(der),
        Ok((trailing, _)) => Err(bad(format!(
            "{} bytes after the signing certificate's DER",
            trailing.len()
        ))),
        Err(e) => Err(bad(format!("signing certificate is not X.509: {e}"))),
    }
}

/// The first `CERTIFICATE` block of a PEM text, decoded.
fn pem_to_der(pem: &[u8]) -> Result<Vec<u8>, ImageError> {
    let text = core::str::from_utf8(pem).map_err(|_| bad("signing certificate is not PEM text"))?;
    let (_, after_begin) = text
        .split_once(PEM_BEGIN)
        .ok_or_else(|| bad("signing certificate has no BEGIN CERTIFICATE line"))?;
    let (body, _) = after_begin
        .split_once(PEM_END)
        .ok_or_else(|| bad("signing certificate has no END CERTIFICATE line"))?;
    let b64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| bad(format!("signing certificate PEM is not base64: {e}")))
}
