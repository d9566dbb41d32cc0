//! Test-only EIF writer: lays out sections, fills the header table and the
//! CRC the way `nitro-cli` does, so tests can build images and then break
//! them one field at a time.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use crate::eif::{HEADER_LEN, MAGIC, MAX_SECTIONS, SECTION_HEADER_LEN};

pub(crate) const KERNEL: u16 = 1;
pub(crate) const CMDLINE: u16 = 2;
pub(crate) const RAMDISK: u16 = 3;
pub(crate) const SIGNATURE: u16 = 4;
pub(crate) const METADATA: u16 = 5;

/// Offset of `num_sections` in the header.
pub(crate) const NUM_SECTIONS_AT: usize = 26;
/// Offset of the section offset table.
pub(crate) const OFFSETS_AT: usize = 28;
/// Offset of the section size table.
pub(crate) const SIZES_AT: usize = OFFSETS_AT + 8 * MAX_SECTIONS;
/// Offset of the CRC.
pub(crate) const CRC_AT: usize = HEADER_LEN - 4;

/// An image in `nitro-cli`'s order: kernel, cmdline, metadata, ramdisks.
pub(crate) fn standard(kernel: &[u8], cmdline: &[u8], ramdisks: &[&[u8]]) -> Vec<u8> {
    let mut sections = vec![
        (KERNEL, kernel),
        (CMDLINE, cmdline),
        (METADATA, &br#"{"ImageName":"test"}"#[..]),
    ];
    sections.extend(ramdisks.iter().map(|r| (RAMDISK, *r)));
    build(4, 0, &sections)
}

/// A version-`version` EIF holding `sections` (type, data) in this order.
/// The table lists at most the first 32.
pub(crate) fn build(version: u16, flags: u16, sections: &[(u16, &[u8])]) -> Vec<u8> {
    let mut out = vec![0u8; HEADER_LEN];
    out[..4].copy_from_slice(&MAGIC);
    out[4..6].copy_from_slice(&version.to_be_bytes());
    out[6..8].copy_from_slice(&flags.to_be_bytes());
    out[8..16].copy_from_slice(&(512u64 << 20).to_be_bytes());
    out[16..24].copy_from_slice(&2u64.to_be_bytes());
    let listed = sections.len().min(MAX_SECTIONS);
    out[NUM_SECTIONS_AT..OFFSETS_AT].copy_from_slice(&u16::try_from(listed).unwrap().to_be_bytes());
    for (i, (kind, data)) in sections.iter().enumerate() {
        let size = data.len() as u64;
        if i < MAX_SECTIONS {
            let offset = out.len() as u64;
            set_u64(&mut out, OFFSETS_AT + 8 * i, offset);
            set_u64(&mut out, SIZES_AT + 8 * i, size);
        }
        out.extend_from_slice(&kind.to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
        out.extend_from_slice(&size.to_be_bytes());
        out.extend_from_slice(data);
    }
    fix_crc(&mut out);
    out
}

pub(crate) fn set_u64(bytes: &mut [u8], at: usize, value: u64) {
    bytes[at..at + 8].copy_from_slice(&value.to_be_bytes());
}

/// Recomputes the CRC after a test changed other bytes.
pub(crate) fn fix_crc(bytes: &mut [u8]) {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&bytes[..CRC_AT]);
    crc.update(&bytes[HEADER_LEN..]);
    let value = crc.finalize();
    bytes[CRC_AT..HEADER_LEN].copy_from_slice(&value.to_be_bytes());
}

/// Where section `index`'s data starts in an image built by [`build`].
pub(crate) fn data_at(bytes: &[u8], index: usize) -> usize {
    let at = OFFSETS_AT + 8 * index;
    let offset = u64::from_be_bytes(bytes[at..at + 8].try_into().unwrap());
    usize::try_from(offset).unwrap() + SECTION_HEADER_LEN
}

/// A CBOR signature section for `cert_pem`, with the byte fields written as
/// CBOR arrays of integers (as `nitro-cli` writes them) or as byte strings.
pub(crate) fn signature_section(cert_pem: &[u8], as_byte_strings: bool) -> Vec<u8> {
    use ciborium::Value;
    let bytes = |b: &[u8]| {
        if as_byte_strings {
            Value::Bytes(b.to_vec())
        } else {
            Value::Array(b.iter().map(|x| Value::Integer((*x).into())).collect())
        }
    };
    let entry = Value::Map(vec![
        (Value::Text("signing_certificate".into()), bytes(cert_pem)),
        (Value::Text("signature".into()), bytes(&[0xd2, 0x84, 0x40])),
    ]);
    let mut out = Vec::new();
    ciborium::into_writer(&Value::Array(vec![entry]), &mut out).unwrap();
    out
}

/// A fresh self-signed certificate: (PEM, DER).
pub(crate) fn certificate(name: &str) -> (Vec<u8>, Vec<u8>) {
    let ck = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
    (ck.cert.pem().into_bytes(), ck.cert.der().to_vec())
}
