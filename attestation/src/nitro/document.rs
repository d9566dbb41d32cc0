//! Syntactic parsing of an attestation document into [`UnverifiedNitroDocument`].
//!
//! These are the checks of AWS's attestation process, §3.2.2 ("syntactical
//! validation"): required fields, their types and sizes. Nothing here says the
//! document is genuine; see [`super::NitroVerifier`] for that.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use super::cbor::Reader;
use super::cert_cache::der_hash;
use super::claims::NitroClaims;
use super::cose::{self, Envelope};
use super::error::NitroError;

/// Largest input accepted, checked before anything is decoded or allocated.
///
/// A genuine document holds at most: 32 PCRs × (64 B + 4 B of CBOR) ≈ 2.2 KiB;
/// a 1024-byte certificate; [`MAX_CABUNDLE`] × 1024-byte CA certificates =
/// 16 KiB; a `public_key` of up to 1024 B and `user_data` and `nonce` of up to
/// 512 B each; a short module id and the 96-byte signature: about 22 KiB. NSM
/// documents seen in practice are 4–5 KiB.
pub const MAX_DOCUMENT_LEN: usize = 32 * 1024;

/// Most CA certificates accepted in `cabundle`. AWS chains have four
/// (root, regional, zonal, instance); we allow room for deeper hierarchies.
pub const MAX_CABUNDLE: usize = 16;

/// Largest DER certificate accepted, per the document format (1..=1024 bytes).
pub const MAX_CERT_LEN: usize = 1024;

/// Largest `public_key` (1..=1024 bytes), per AWS's attestation process,
/// §3.2.2.2 "Check content" (aws-nitro-enclaves-nsm-api,
/// `docs/attestation_process.md`).
pub const MAX_PUBLIC_KEY_LEN: usize = 1024;

/// Largest `user_data` (0..=512 bytes), per the same section. (The CDDL sketch
/// in §2.2 says `0..1024` for every user field; the content checks, which
/// the NSM enforces on requests, say 512.)
pub const MAX_USER_DATA_LEN: usize = 512;

/// Largest `nonce` (0..=512 bytes), per the same section.
pub const MAX_NONCE_LEN: usize = 512;

/// Largest `module_id` accepted. AWS ids are ~40 characters.
const MAX_MODULE_ID_LEN: usize = 256;

/// Number of PCR slots in the NSM (indices 0..=31).
const PCR_SLOTS: u64 = 32;

/// A document that parsed but is not yet verified: do not trust its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedNitroDocument {
    pub(crate) envelope: Envelope,
    pub(crate) payload: Payload,
}

/// The attestation payload fields, as decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Payload {
    pub(crate) module_id: String,
    pub(crate) digest: String,
    pub(crate) timestamp_ms: u64,
    pub(crate) pcrs: BTreeMap<u8, Vec<u8>>,
    pub(crate) certificate: Vec<u8>,
    pub(crate) cabundle: Vec<Vec<u8>>,
    pub(crate) public_key: Option<Vec<u8>>,
    pub(crate) user_data: Option<Vec<u8>>,
    pub(crate) nonce: Option<Vec<u8>>,
}

impl UnverifiedNitroDocument {
    /// Parses a `COSE_Sign1` attestation document (tagged or untagged).
    ///
    /// # Errors
    ///
    /// [`NitroError::TooLarge`] over [`MAX_DOCUMENT_LEN`]; [`NitroError::Cose`] or
    /// [`NitroError::Algorithm`] for the envelope; [`NitroError::Cbor`] or
    /// [`NitroError::Field`] for the payload, naming the offset or field.
    pub fn parse(bytes: &[u8]) -> Result<Self, NitroError> {
        if bytes.len() > MAX_DOCUMENT_LEN {
            return Err(NitroError::TooLarge {
                size: bytes.len(),
                max: MAX_DOCUMENT_LEN,
            });
        }
        let envelope = cose::parse(bytes)?;
        let payload = parse_payload(&envelope.payload)?;
        Ok(Self { envelope, payload })
    }

    /// The document's claimed creation time in milliseconds since the epoch.
    /// **Unverified**: use it only to choose a verification time for old
    /// documents (as `enclet verify nitro --at-document-time` does).
    #[must_use]
    pub fn unverified_timestamp_ms(&self) -> u64 {
        self.payload.timestamp_ms
    }

    /// The decoded payload fields, **not verified**: for showing why a
    /// document was rejected, never for decisions. `certificates` is empty
    /// because no chain has been checked, `root_sha256` is the fingerprint of
    /// whatever `cabundle[0]` holds, and `nonce_checked` is false.
    #[must_use]
    pub fn unverified_claims(&self) -> NitroClaims {
        let p = &self.payload;
        NitroClaims {
            module_id: p.module_id.clone(),
            timestamp_ms: p.timestamp_ms,
            digest: p.digest.clone(),
            pcrs: p.pcrs.clone(),
            public_key: p.public_key.clone(),
            user_data: p.user_data.clone(),
            nonce: p.nonce.clone(),
            certificates: Vec::new(),
            root_sha256: p
                .cabundle
                .first()
                .map(|root| der_hash(root).to_vec())
                .unwrap_or_default(),
            nonce_checked: false,
        }
    }
}

/// The keys of the payload map, in AWS's order.
const FIELDS: [&str; 9] = [
    "module_id",
    "digest",
    "timestamp",
    "pcrs",
    "certificate",
    "cabundle",
    "public_key",
    "user_data",
    "nonce",
];

#[derive(Default)]
struct Fields {
    module_id: Option<String>,
    digest: Option<String>,
    timestamp_ms: Option<u64>,
    pcrs: Option<BTreeMap<u8, Vec<u8>>>,
    certificate: Option<Vec<u8>>,
    cabundle: Option<Vec<Vec<u8>>>,
    public_key: Option<Vec<u8>>,
    user_data: Option<Vec<u8>>,
    nonce: Option<Vec<u8>>,
}

fn parse_payload(bytes: &[u8]) -> Result<Payload, NitroError> {
    let mut r = Reader::new(bytes);
    let len = r.map()?;
    let mut seen = [false; FIELDS.len()];
    let mut f = Fields::default();
    let mut count = 0u64;
    while r.has_next(len, count)? {
        let key = r.text()?;
        let slot = FIELDS
            .iter()
            .position(|k| *k == key)
            .ok_or_else(|| NitroError::field(key, "unknown field"))?;
        let dup = seen
            .get_mut(slot)
            .ok_or_else(|| NitroError::field(key, "unknown field"))?;
        if core::mem::replace(dup, true) {
            return Err(NitroError::field(key, "appears more than once"));
        }
        read_field(&mut r, key, &mut f)?;
        count = count.saturating_add(1);
    }
    r.finish()?;
    finish(f)
}

fn read_field(r: &mut Reader<'_>, key: &str, f: &mut Fields) -> Result<(), NitroError> {
    match key {
        "module_id" => f.module_id = Some(module_id(r)?),
        "digest" => f.digest = Some(digest(r)?),
        "timestamp" => f.timestamp_ms = Some(timestamp(r)?),
        "pcrs" => f.pcrs = Some(pcrs(r)?),
        "certificate" => f.certificate = Some(cert(r, "certificate")?),
        "cabundle" => f.cabundle = Some(cabundle(r)?),
        "public_key" => f.public_key = optional(r, key, 1..=MAX_PUBLIC_KEY_LEN)?,
        "user_data" => f.user_data = optional(r, key, 0..=MAX_USER_DATA_LEN)?,
        "nonce" => f.nonce = optional(r, key, 0..=MAX_NONCE_LEN)?,
        other => return Err(NitroError::field(other, "unknown field")),
    }
    Ok(())
}

fn finish(f: Fields) -> Result<Payload, NitroError> {
    let missing = |k: &str| NitroError::field(k, "required field is missing");
    Ok(Payload {
        module_id: f.module_id.ok_or_else(|| missing("module_id"))?,
        digest: f.digest.ok_or_else(|| missing("digest"))?,
        timestamp_ms: f.timestamp_ms.ok_or_else(|| missing("timestamp"))?,
        pcrs: f.pcrs.ok_or_else(|| missing("pcrs"))?,
        certificate: f.certificate.ok_or_else(|| missing("certificate"))?,
        cabundle: f.cabundle.ok_or_else(|| missing("cabundle"))?,
        public_key: f.public_key,
        user_data: f.user_data,
        nonce: f.nonce,
    })
}

fn module_id(r: &mut Reader<'_>) -> Result<String, NitroError> {
    let id = r.text()?;
    if id.is_empty() || id.len() > MAX_MODULE_ID_LEN {
        return Err(NitroError::field(
            "module_id",
            format!("must be 1..={MAX_MODULE_ID_LEN} bytes, is {}", id.len()),
        ));
    }
    Ok(id.to_owned())
}

fn digest(r: &mut Reader<'_>) -> Result<String, NitroError> {
    let d = r.text()?;
    if d != "SHA384" {
        return Err(NitroError::field(
            "digest",
            format!("must be \"SHA384\", is {d:?}"),
        ));
    }
    Ok(d.to_owned())
}

fn timestamp(r: &mut Reader<'_>) -> Result<u64, NitroError> {
    match r.uint()? {
        0 => Err(NitroError::field("timestamp", "must be greater than zero")),
        t => Ok(t),
    }
}

fn pcrs(r: &mut Reader<'_>) -> Result<BTreeMap<u8, Vec<u8>>, NitroError> {
    let len = r.map()?;
    let mut out = BTreeMap::new();
    let mut count = 0u64;
    while r.has_next(len, count)? {
        if count >= PCR_SLOTS {
            return Err(NitroError::field("pcrs", "more than 32 entries"));
        }
        let index = r.uint()?;
        let index = u8::try_from(index)
            .ok()
            .filter(|i| u64::from(*i) < PCR_SLOTS)
            .ok_or_else(|| NitroError::field("pcrs", format!("index {index} is not 0..=31")))?;
        let value = r.bytes()?;
        if ![32, 48, 64].contains(&value.len()) {
            return Err(NitroError::field(
                "pcrs",
                format!("PCR{index} is {} bytes, not 32, 48 or 64", value.len()),
            ));
        }
        if out.insert(index, value.to_vec()).is_some() {
            return Err(NitroError::field(
                "pcrs",
                format!("PCR{index} appears twice"),
            ));
        }
        count = count.saturating_add(1);
    }
    if out.is_empty() {
        return Err(NitroError::field("pcrs", "no PCRs"));
    }
    Ok(out)
}

fn cert(r: &mut Reader<'_>, field: &str) -> Result<Vec<u8>, NitroError> {
    let der = r.bytes()?;
    if der.is_empty() || der.len() > MAX_CERT_LEN {
        return Err(NitroError::field(
            field,
            format!("certificate is {} bytes, not 1..={MAX_CERT_LEN}", der.len()),
        ));
    }
    Ok(der.to_vec())
}

fn cabundle(r: &mut Reader<'_>) -> Result<Vec<Vec<u8>>, NitroError> {
    let len = r.array()?;
    let mut out = Vec::new();
    let mut count = 0u64;
    while r.has_next(len, count)? {
        if out.len() >= MAX_CABUNDLE {
            return Err(NitroError::field(
                "cabundle",
                format!("more than {MAX_CABUNDLE} certificates"),
            ));
        }
        out.push(cert(r, "cabundle")?);
        count = count.saturating_add(1);
    }
    if out.is_empty() {
        return Err(NitroError::field("cabundle", "no certificates"));
    }
    Ok(out)
}

/// An optional byte field of `len` bytes: CBOR `null` means absent.
fn optional(
    r: &mut Reader<'_>,
    field: &str,
    len: RangeInclusive<usize>,
) -> Result<Option<Vec<u8>>, NitroError> {
    let offset = r.offset();
    match r.bytes_or_null()? {
        None => Ok(None),
        Some(b) if len.contains(&b.len()) => Ok(Some(b.to_vec())),
        Some(b) => Err(NitroError::field(
            field,
            format!(
                "is {} bytes at payload offset {offset}, not {}..={}",
                b.len(),
                len.start(),
                len.end()
            ),
        )),
    }
}
