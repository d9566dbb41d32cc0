#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use super::*;
use crate::testutil::{
    CMDLINE, CRC_AT, KERNEL, METADATA, NUM_SECTIONS_AT, OFFSETS_AT, RAMDISK, SIGNATURE, SIZES_AT,
    build, certificate, data_at, fix_crc, set_u64, signature_section, standard,
};

fn good() -> Vec<u8> {
    standard(b"kernel-bytes", b"console=ttyS0", &[b"init", b"app"])
}

fn err(bytes: &[u8]) -> ImageError {
    Eif::parse(bytes).unwrap_err()
}

#[test]
fn parses_a_standard_image() {
    use SectionKind::{Cmdline, Kernel, Metadata, Ramdisk};
    let bytes = good();
    let eif = Eif::parse(&bytes).unwrap();
    let kinds: Vec<_> = eif.sections().iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [Kernel, Cmdline, Metadata, Ramdisk, Ramdisk]);
    assert_eq!(eif.sections()[0].data, b"kernel-bytes");
    assert_eq!(eif.sections()[0].offset, HEADER_LEN as u64);
    assert_eq!(eif.sections()[4].data, b"app");
    assert_eq!(eif.header().version, 4);
    assert_eq!(eif.header().arch(), Arch::X86_64);
    assert_eq!(eif.header().default_cpus, 2);
    assert!(!eif.is_signed());
    let arm = build(4, 1, &[(KERNEL, b"k"), (CMDLINE, b"c"), (RAMDISK, b"r")]);
    assert_eq!(Eif::parse(&arm).unwrap().header().arch(), Arch::Aarch64);
}

#[test]
fn truncation_anywhere_is_an_error_never_a_panic() {
    let bytes = good();
    for len in 0..bytes.len() {
        let e = err(&bytes[..len]);
        assert!(
            matches!(
                e,
                ImageError::Truncated { .. } | ImageError::SectionOutOfBounds { .. }
            ),
            "{len}: {e:?}"
        );
    }
    assert!(
        matches!(err(&bytes[..HEADER_LEN - 1]), ImageError::Truncated { ref what, .. } if what == "header")
    );
    // Five bytes of a sixth section header.
    let mut more = bytes.clone();
    more.extend_from_slice(&[0, 3, 0, 0, 0]);
    assert_eq!(
        err(&more),
        ImageError::Truncated {
            what: "section header 5".to_owned(),
            offset: bytes.len() as u64,
            needed: 12,
            available: 5
        }
    );
    // The last section one byte short.
    let e = err(&bytes[..bytes.len() - 1]);
    assert_eq!(e.code(), "eif_section_out_of_bounds");
    assert!(
        e.to_string().contains("3 bytes declared, only 2 left"),
        "{e}"
    );
}

#[test]
fn wrong_magic_is_refused() {
    let mut bytes = good();
    bytes[0] = b'E';
    assert_eq!(err(&bytes), ImageError::BadMagic { found: *b"Eeif" });
}

#[test]
fn versions_two_to_four_are_measured_others_refused() {
    let sections: &[(u16, &[u8])] = &[(KERNEL, b"k"), (CMDLINE, b"c"), (RAMDISK, b"r")];
    for version in 2..=4 {
        assert!(
            Eif::parse(&build(version, 0, sections)).is_ok(),
            "{version}"
        );
    }
    for version in [0, 1, 5, u16::MAX] {
        assert_eq!(
            err(&build(version, 0, sections)),
            ImageError::UnsupportedVersion {
                version,
                min: 2,
                max: 4
            }
        );
    }
}

#[test]
fn a_section_count_past_the_table_is_refused() {
    let mut bytes = good();
    bytes[NUM_SECTIONS_AT..NUM_SECTIONS_AT + 2].copy_from_slice(&33u16.to_be_bytes());
    assert_eq!(err(&bytes).code(), "eif_too_many_sections");
    // 32 sections is the most: 33 in the file are refused while walking.
    let ramdisks = [&b"r"[..]; 30];
    let mut sections: Vec<(u16, &[u8])> = vec![(KERNEL, b"k"), (CMDLINE, b"c")];
    sections.extend(ramdisks.iter().map(|r| (RAMDISK, *r)));
    assert!(Eif::parse(&build(4, 0, &sections)).is_ok());
    sections.push((RAMDISK, b"one too many"));
    assert_eq!(
        err(&build(4, 0, &sections)),
        ImageError::TooManySections {
            count: 33,
            max: 32,
            declared: 32
        }
    );
}

#[test]
fn huge_section_sizes_are_out_of_bounds() {
    let bytes = good();
    for size in [u64::MAX, u64::MAX / 2, bytes.len() as u64] {
        let mut b = bytes.clone();
        set_u64(&mut b, HEADER_LEN + 4, size);
        assert_eq!(
            err(&b),
            ImageError::SectionOutOfBounds {
                index: 0,
                offset: HEADER_LEN as u64,
                size,
                available: (bytes.len() - HEADER_LEN - 12) as u64
            }
        );
    }
}

#[test]
fn undefined_section_types_are_refused() {
    for value in [0u16, 6, 0xffff] {
        let b = build(
            4,
            0,
            &[
                (KERNEL, b"k"),
                (CMDLINE, b"c"),
                (value, b"?"),
                (RAMDISK, b"r"),
            ],
        );
        assert_eq!(
            err(&b),
            ImageError::InvalidSectionType {
                index: 2,
                offset: (HEADER_LEN + 12 + 1 + 12 + 1) as u64,
                value
            }
        );
    }
}

#[test]
fn the_header_table_must_describe_the_sections() {
    let bytes = good();
    let mut b = bytes.clone();
    set_u64(&mut b, OFFSETS_AT + 8 * 3, 1000);
    fix_crc(&mut b);
    let e = err(&b);
    assert!(
        matches!(
            e,
            ImageError::SectionTableMismatch {
                index: 3,
                field: "offset",
                declared: 1000,
                ..
            }
        ),
        "{e:?}"
    );

    let mut b = bytes.clone();
    set_u64(&mut b, SIZES_AT + 8, 99);
    fix_crc(&mut b);
    assert!(matches!(
        err(&b),
        ImageError::SectionTableMismatch {
            index: 1,
            field: "size",
            declared: 99,
            found: 13
        }
    ));

    let mut b = bytes.clone();
    b[NUM_SECTIONS_AT + 1] = 4;
    fix_crc(&mut b);
    assert!(matches!(
        err(&b),
        ImageError::SectionTableMismatch {
            field: "count",
            declared: 4,
            found: 5,
            ..
        }
    ));
    // Fewer sections than declared: the file was cut between two sections.
    let cut = data_at(&bytes, 4) - 12;
    assert_eq!(
        err(&bytes[..cut]),
        ImageError::Truncated {
            what: "section header 4".to_owned(),
            offset: cut as u64,
            needed: 12,
            available: 0
        }
    );

    // An unused table entry must stay zero.
    let mut b = bytes;
    set_u64(&mut b, SIZES_AT + 8 * 31, 1);
    fix_crc(&mut b);
    assert!(matches!(
        err(&b),
        ImageError::SectionTableMismatch {
            index: 31,
            field: "size",
            ..
        }
    ));
}

#[test]
fn any_changed_byte_breaks_the_crc() {
    let bytes = good();
    let expected = u32::from_be_bytes(bytes[CRC_AT..HEADER_LEN].try_into().unwrap());
    // A data byte, a reserved header byte, the CRC itself.
    for at in [data_at(&bytes, 0), 24, CRC_AT] {
        let mut b = bytes.clone();
        b[at] ^= 0x01;
        let e = err(&b);
        let ImageError::CrcMismatch {
            expected: e1,
            computed,
        } = e
        else {
            panic!("{at}: {e:?}")
        };
        assert_ne!(e1, computed);
        assert!(e1 == expected || computed == expected);
    }
    // The same change with the CRC recomputed parses.
    let mut b = bytes;
    let at = data_at(&b, 0);
    b[at] ^= 0x01;
    fix_crc(&mut b);
    assert!(Eif::parse(&b).is_ok());
}

#[test]
fn required_sections_must_be_there_once() {
    let ok: &[(u16, &[u8])] = &[(KERNEL, b"k"), (CMDLINE, b"c"), (RAMDISK, b"r")];
    assert!(Eif::parse(&build(4, 0, ok)).is_ok());
    for (drop, kind) in [
        (0, SectionKind::Kernel),
        (1, SectionKind::Cmdline),
        (2, SectionKind::Ramdisk),
    ] {
        let mut s = ok.to_vec();
        s.remove(drop);
        assert_eq!(err(&build(4, 0, &s)), ImageError::MissingSection { kind });
    }
    for (value, kind) in [
        (KERNEL, SectionKind::Kernel),
        (CMDLINE, SectionKind::Cmdline),
        (METADATA, SectionKind::Metadata),
    ] {
        let mut s = ok.to_vec();
        s.push((value, b"again"));
        if value == METADATA {
            s.insert(0, (METADATA, b"{}"));
        }
        assert_eq!(
            err(&build(4, 0, &s)),
            ImageError::DuplicateSection {
                kind,
                index: if value == METADATA { 4 } else { 3 }
            }
        );
    }
}

#[test]
fn a_signature_section_yields_its_certificate() {
    let (pem, der) = certificate("signer.example");
    for as_bytes in [false, true] {
        let sig = signature_section(&pem, as_bytes);
        let b = build(
            4,
            0,
            &[
                (KERNEL, b"k"),
                (CMDLINE, b"c"),
                (RAMDISK, b"r"),
                (SIGNATURE, &sig),
            ],
        );
        let eif = Eif::parse(&b).unwrap();
        assert_eq!(eif.signing_certificate(), Some(&der[..]));
        // Twice is refused.
        let b = build(
            4,
            0,
            &[
                (KERNEL, b"k"),
                (CMDLINE, b"c"),
                (RAMDISK, b"r"),
                (SIGNATURE, &sig),
                (SIGNATURE, &sig),
            ],
        );
        assert_eq!(
            err(&b),
            ImageError::DuplicateSection {
                kind: SectionKind::Signature,
                index: 4
            }
        );
    }
}

#[test]
fn unreadable_signature_sections_are_refused() {
    let (pem, _) = certificate("signer.example");
    let good_sig = signature_section(&pem, false);
    let mut trailing = good_sig.clone();
    trailing.push(0);
    let not_a_cert = b"-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n";
    let no_end = b"-----BEGIN CERTIFICATE-----\nMIIB\n";
    let not_base64 = b"-----BEGIN CERTIFICATE-----\n*!*\n-----END CERTIFICATE-----\n";
    let mut empty_list = Vec::new();
    ciborium::into_writer(&ciborium::Value::Array(vec![]), &mut empty_list).unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"\xff\xff".to_vec(), "not CBOR"),
        (trailing, "trailing bytes"),
        (empty_list, "no PCR signature"),
        (signature_section(b"no pem here", false), "no BEGIN"),
        (signature_section(no_end, false), "no END"),
        (signature_section(not_base64, false), "not base64"),
        (signature_section(not_a_cert, false), "not X.509"),
        (signature_section(&[0xff, 0xfe], false), "not PEM text"),
    ];
    let sections = |sig: &[u8]| {
        build(
            4,
            0,
            &[
                (KERNEL, b"k"),
                (CMDLINE, b"c"),
                (RAMDISK, b"r"),
                (SIGNATURE, sig),
            ],
        )
    };
    assert!(Eif::parse(&sections(&good_sig)).is_ok());
    for (sig, why) in cases {
        let e = err(&sections(&sig));
        assert_eq!(e.code(), "eif_bad_signature", "{why}: {e:?}");
        assert!(e.to_string().contains(why), "{why}: {e}");
    }
}
