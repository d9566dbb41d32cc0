//! Who is on the other end of a connection, for the audit `peer` field.
//!
//! With mutual TLS it is the client certificate: `cert sha256:<64 hex>
//! <subject>`. The fingerprint (SHA-256 of the DER certificate) identifies the
//! certificate exactly; the subject (RFC 4514 form, cut to
//! [`MAX_SUBJECT_BYTES`] bytes) is there for people reading the log.
//! Without a client certificate it is the remote address (`127.0.0.1:50112`).

use std::net::SocketAddr;

use rustls::pki_types::CertificateDer;
use sha2::{Digest as _, Sha256};

/// Longest subject kept in a peer string, in bytes (cut at a character
/// boundary), so the whole string stays within the store's peer bound.
pub const MAX_SUBJECT_BYTES: usize = 120;

/// The audit identity of a client: its leaf certificate if it presented
/// one, else `remote`.
#[must_use]
pub fn peer_identity(certs: Option<&[CertificateDer<'_>]>, remote: SocketAddr) -> String {
    let Some(leaf) = certs.and_then(<[_]>::first) else {
        return remote.to_string();
    };
    let fingerprint = hex::encode(Sha256::digest(leaf.as_ref()));
    let subject = x509_parser::parse_x509_certificate(leaf.as_ref())
        .map(|(_, cert)| cert.subject().to_string())
        .unwrap_or_default();
    let mut cut = subject.len().min(MAX_SUBJECT_BYTES);
    while !subject.is_char_boundary(cut) {
        cut = cut.saturating_sub(1);
    }
    let subject = subject.get(..cut).unwrap_or_default();
    if subject.is_empty() {
        format!("cert sha256:{fingerprint}")
    } else {
        format!("cert sha256:{fingerprint} {subject}")
    }
}
