//! A caller-owned cache of certificates whose issuer signature has been verified.
//!
//! Documents from one enclave share their CA certificates (and, for ~3 hours,
//! their leaf), so most of a document's ECDSA work is repeated. The cache
//! remembers, per certificate DER (by SHA-256), the DER hash of the issuer it
//! was verified against and the facts extracted from it. A hit skips parsing
//! and the signature check only; validity at the verification time, basic
//! constraints, path length and key usage are re-checked on every document, so
//! an expired certificate is rejected whether cached or not. Because the issuer
//! hash must match the certificate before it in *this* chain, a hit can only
//! extend a chain that itself starts at the pinned root.
//!
//! There is no global cache: the caller owns one and passes it in, so its
//! lifetime and sharing are explicit. It is bounded; when full it is cleared.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::cert::CertInfo;

/// SHA-256 of a certificate's DER.
pub(crate) type DerHash = [u8; 32];

/// Hashes a certificate's DER for the cache.
pub(crate) fn der_hash(der: &[u8]) -> DerHash {
    Sha256::digest(der).into()
}

/// Certificates whose issuer signature was verified, keyed by DER hash.
#[derive(Debug, Clone)]
pub struct CertCache {
    entries: HashMap<DerHash, Entry>,
    capacity: usize,
}

#[derive(Debug, Clone)]
struct Entry {
    issuer: DerHash,
    info: CertInfo,
}

impl CertCache {
    /// Default number of certificates kept: enough for many instances' chains.
    pub const DEFAULT_CAPACITY: usize = 1024;

    /// An empty cache holding up to [`Self::DEFAULT_CAPACITY`] certificates.
    #[must_use]
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// An empty cache holding up to `capacity` certificates (0 disables it).
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            capacity,
        }
    }

    /// Number of cached certificates.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets every certificate.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The cached facts for `cert` if it was verified as issued by `issuer`.
    pub(crate) fn get(&self, cert: &DerHash, issuer: &DerHash) -> Option<&CertInfo> {
        self.entries
            .get(cert)
            .filter(|e| &e.issuer == issuer)
            .map(|e| &e.info)
    }

    /// Records that `cert`'s signature by `issuer` verified.
    pub(crate) fn insert(&mut self, cert: DerHash, issuer: DerHash, info: CertInfo) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&cert) {
            self.entries.clear();
        }
        self.entries.insert(cert, Entry { issuer, info });
    }
}

impl Default for CertCache {
    /// An empty cache; caching never weakens verification, so this default is safe.
    fn default() -> Self {
        Self::new()
    }
}
