//! Byte-level mutation and property tests of the Nitro verifier over the real
//! AWS documents in `testdata/nitro`, through the public API only.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::path::PathBuf;
use std::sync::OnceLock;

use enclet_attestation::UnixTime;
use enclet_attestation::nitro::{
    self, CertCache, NitroClaims, NitroPolicy, NitroVerifier, UnverifiedNitroDocument,
};
use proptest::prelude::*;

/// The 12 vectors, with the verification time each is valid at (its own timestamp).
fn vectors() -> &'static [(String, Vec<u8>, UnixTime)] {
    static VECTORS: OnceLock<Vec<(String, Vec<u8>, UnixTime)>> = OnceLock::new();
    VECTORS.get_or_init(load)
}

fn load() -> Vec<(String, Vec<u8>, UnixTime)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/nitro");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| {
            std::path::Path::new(n)
                .extension()
                .is_some_and(|e| e == "cose")
        })
        .collect();
    names.sort();
    assert_eq!(names.len(), 12, "{names:?}");
    names
        .into_iter()
        .map(|n| {
            let bytes = std::fs::read(dir.join(&n)).unwrap();
            let doc = UnverifiedNitroDocument::parse(&bytes).unwrap();
            let at = UnixTime::from_secs(doc.unverified_timestamp_ms() / 1000);
            (n, bytes, at)
        })
        .collect()
}

fn policy() -> NitroPolicy {
    NitroPolicy::insecure_any_image().allow_debug()
}

/// Parse and verify with a cache (sound: see `CertCache`); never panics.
fn check(bytes: &[u8], at: UnixTime, cache: &mut CertCache) -> Option<NitroClaims> {
    let doc = UnverifiedNitroDocument::parse(bytes).ok()?;
    NitroVerifier::aws()
        .verify_cached(&doc, &policy(), at, cache)
        .ok()
        .map(enclet_attestation::Verified::into_inner)
}

/// Offset of the unprotected header in these untagged documents:
/// `84 44 a1013822 a0 …` — the only byte no signature covers.
const UNPROTECTED_HEADER: usize = 6;

/// Flips a bit of every byte of every document, one byte at a time (bit 0 on
/// even offsets, bit 7 on odd ones). Each mutant must be rejected, or — only if
/// the byte is outside the signed content — accepted with claims identical to
/// the original's. Runs on two threads.
#[test]
fn every_single_byte_mutation_is_rejected_or_harmless() {
    std::thread::scope(|s| {
        for half in vectors().chunks(6) {
            s.spawn(move || half.iter().for_each(mutate_every_byte));
        }
    });
}

fn mutate_every_byte((name, bytes, at): &(String, Vec<u8>, UnixTime)) {
    let mut cache = CertCache::new();
    let original = check(bytes, *at, &mut cache).unwrap();
    assert_eq!(bytes[UNPROTECTED_HEADER], 0xa0, "{name}");
    for i in 0..bytes.len() {
        let mask = if i % 2 == 0 { 0x01 } else { 0x80 };
        let mut m = bytes.clone();
        m[i] ^= mask;
        if let Some(claims) = check(&m, *at, &mut cache) {
            assert_eq!(
                i, UNPROTECTED_HEADER,
                "{name}: mutant at {i} ^ {mask:#x} accepted"
            );
            assert_eq!(claims, original, "{name}: mutant at {i} changed claims");
        }
    }
}

/// Truncation at every length, and appended bytes, are rejected.
#[test]
fn truncations_and_extensions_are_rejected() {
    let mut cache = CertCache::new();
    for (name, bytes, at) in vectors() {
        let at = *at;
        for len in 0..bytes.len() {
            assert!(
                check(&bytes[..len], at, &mut cache).is_none(),
                "{name}: {len}"
            );
        }
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0xf6]);
        assert!(check(&longer, at, &mut cache).is_none(), "{name}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary bytes give an error, never a panic.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..6000)) {
        let r = nitro::verify(&bytes, &NitroVerifier::aws(), &policy(), UnixTime::from_secs(1_700_000_000));
        prop_assert!(r.is_err());
    }

    /// Random multi-byte edits, cuts and insertions of real documents are
    /// rejected (no edit touches only the unprotected header's one byte and
    /// keeps it a valid empty map) and never panic.
    #[test]
    fn random_edits_of_real_documents_are_rejected(
        which in 0usize..12,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let (name, bytes, at) = &vectors()[which];
        let mut m = bytes.clone();
        for (pos, value, kind) in &edits {
            let i = pos.index(m.len().max(1));
            match kind {
                0 if i < m.len() => m[i] = *value,
                1 if i < m.len() => { m.remove(i); }
                _ => m.insert(i.min(m.len()), *value),
            }
        }
        let mut cache = CertCache::new();
        if let Some(claims) = check(&m, *at, &mut cache) {
            let original = check(bytes, *at, &mut cache).unwrap();
            let header_only = m.starts_with(&bytes[..UNPROTECTED_HEADER])
                && m.ends_with(&bytes[UNPROTECTED_HEADER + 1..]);
            prop_assert!(m == *bytes || header_only, "{}: edited document accepted", name);
            prop_assert_eq!(claims, original);
        }
    }
}
