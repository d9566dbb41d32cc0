//! Cross-check against the reference implementation: the EIFs in
//! `testdata/eif/` were written by `aws-nitro-enclaves-image-format` 0.8.1,
//! and `expected.json` holds the PCRs that library computed for them (equal
//! when building and when reading back). See `eif-fixtures/`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use enclet_image::{Eif, ImageError, Measurements, Pcr, SectionKind, measure};
use sha2::{Digest as _, Sha384};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/eif")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap()
}

fn expected() -> BTreeMap<String, BTreeMap<String, String>> {
    serde_json::from_slice(&read("expected.json")).unwrap()
}

fn ours(name: &str) -> Measurements {
    measure(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_fixture_measures_as_the_aws_library_computed() {
    let all = expected();
    assert_eq!(all.len(), 7, "{:?}", all.keys());
    for (name, theirs) in &all {
        let m = ours(name);
        let mut mine: BTreeMap<String, String> = m
            .indexed()
            .into_iter()
            .map(|(i, p)| (format!("PCR{i}"), p.to_hex()))
            .collect();
        assert_eq!(&mine, theirs, "{name}");
        // The comparison can fail: a different value is seen.
        mine.insert("PCR0".to_owned(), "00".repeat(48));
        assert_ne!(&mine, theirs);
    }
}

#[test]
fn a_one_byte_change_moves_exactly_the_pcrs_it_should() {
    let base = ours("base.eif");
    // (fixture, PCR0, PCR1, PCR2 moved)
    let rules = [
        ("kernel-changed.eif", [true, true, false]),
        ("cmdline-changed.eif", [true, true, false]),
        ("ramdisk1-changed.eif", [true, true, false]),
        ("ramdisk2-changed.eif", [true, false, true]),
    ];
    for (name, moves) in rules {
        let m = ours(name);
        let moved = [
            m.pcr0 != base.pcr0,
            m.pcr1 != base.pcr1,
            m.pcr2 != base.pcr2,
        ];
        assert_eq!(moved, moves, "{name}");
    }
    // Dropping the application ramdisk leaves PCR1 and empties PCR2.
    let single = ours("single-ramdisk.eif");
    assert_eq!(single.pcr1, base.pcr1);
    assert_eq!(
        single.pcr2,
        Pcr::extend_from_zero(&Sha384::digest(b"").into())
    );
}

#[test]
fn the_signed_fixture_has_pcr8_of_its_certificate_and_the_same_pcr0_to_2() {
    let signed = ours("signed.eif");
    let base = ours("base.eif");
    assert_eq!(
        (signed.pcr0, signed.pcr1, signed.pcr2),
        (base.pcr0, base.pcr1, base.pcr2)
    );
    let pem = read("signing-cert.pem");
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let der_digest: [u8; 48] = Sha384::digest(&pem.contents).into();
    assert_eq!(signed.pcr8, Some(Pcr::extend_from_zero(&der_digest)));
    assert_eq!(base.pcr8, None);
    let bytes = read("signed.eif");
    let eif = Eif::parse(&bytes).unwrap();
    let kinds: Vec<_> = eif.sections().iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [
            SectionKind::Kernel,
            SectionKind::Cmdline,
            SectionKind::Metadata,
            SectionKind::Ramdisk,
            SectionKind::Ramdisk,
            SectionKind::Signature
        ]
    );
}

#[test]
fn damaged_copies_of_a_real_fixture_are_refused() {
    let bytes = read("base.eif");
    let last = bytes.len() - 1;
    let mut flipped = bytes.clone();
    flipped[last] ^= 0x01;
    assert!(matches!(
        measure(&flipped),
        Err(ImageError::CrcMismatch { .. })
    ));
    assert!(matches!(
        measure(&bytes[..last]),
        Err(ImageError::SectionOutOfBounds { index: 4, .. })
    ));
    let mut magic = bytes.clone();
    magic[1] = b'E';
    assert!(matches!(measure(&magic), Err(ImageError::BadMagic { .. })));
    assert!(measure(&bytes).is_ok());
}
