#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use sha2::{Digest as _, Sha384};

use super::*;
use crate::testutil::{
    CMDLINE, KERNEL, METADATA, RAMDISK, SIGNATURE, build, certificate, signature_section, standard,
};

/// The rule written out by hand: SHA-384(0^48 || SHA-384(parts...)).
fn expected(parts: &[&[u8]]) -> Pcr {
    let mut h = Sha384::new();
    for p in parts {
        h.update(p);
    }
    let mut outer = Sha384::new();
    outer.update([0u8; 48]);
    outer.update(h.finalize());
    Pcr(outer.finalize().into())
}

#[test]
fn pcrs_follow_the_documented_rule() {
    let (k, c, r1, r2, r3) = (
        &b"kernel"[..],
        &b"cmdline"[..],
        &b"init"[..],
        &b"app"[..],
        &b"data"[..],
    );
    let m = measure(&standard(k, c, &[r1, r2, r3])).unwrap();
    assert_eq!(m.pcr0, expected(&[k, c, r1, r2, r3]));
    assert_eq!(m.pcr1, expected(&[k, c, r1]));
    assert_eq!(m.pcr2, expected(&[r2, r3]));
    assert_eq!(m.pcr8, None);
    // One ramdisk: PCR2 is the extend of the empty hash.
    let single = measure(&standard(k, c, &[r1])).unwrap();
    assert_eq!(single.pcr2, expected(&[]));
    assert_eq!(single.pcr2.to_hex().len(), 96, "48 bytes as lower-case hex");
}

#[test]
fn a_one_byte_change_moves_exactly_the_pcrs_it_should() {
    let parts: [&[u8]; 4] = [b"kernel", b"cmdline", b"init", b"app"];
    let base = measure(&standard(parts[0], parts[1], &[parts[2], parts[3]])).unwrap();
    // (changed part, whether PCR0, PCR1, PCR2 move)
    let rules = [
        (0, [true, true, false]),
        (1, [true, true, false]),
        (2, [true, true, false]),
        (3, [true, false, true]),
    ];
    for (changed, moves) in rules {
        let mut p: Vec<Vec<u8>> = parts.iter().map(|x| x.to_vec()).collect();
        p[changed][0] ^= 0x01;
        let m = measure(&standard(&p[0], &p[1], &[&p[2], &p[3]])).unwrap();
        let moved = [
            m.pcr0 != base.pcr0,
            m.pcr1 != base.pcr1,
            m.pcr2 != base.pcr2,
        ];
        assert_eq!(moved, moves, "changed part {changed}");
        assert_eq!(m.pcr8, None);
    }
}

#[test]
fn metadata_and_section_order_rules() {
    // Metadata is not measured.
    let with = |meta: &[u8]| {
        measure(&build(
            4,
            0,
            &[
                (KERNEL, b"k"),
                (CMDLINE, b"c"),
                (METADATA, meta),
                (RAMDISK, b"r"),
            ],
        ))
        .unwrap()
    };
    assert_eq!(with(b"{\"a\":1}"), with(b"{\"a\":2}"));
    // Sections are measured in file order, as they are loaded.
    let swapped = measure(&build(
        4,
        0,
        &[(CMDLINE, b"c"), (KERNEL, b"k"), (RAMDISK, b"r")],
    ))
    .unwrap();
    assert_eq!(swapped.pcr0, expected(&[b"c", b"k", b"r"]));
    assert_ne!(swapped.pcr0, with(b"{}").pcr0);
}

#[test]
fn pcr8_measures_the_der_signing_certificate_only() {
    let (pem_a, der_a) = certificate("a.example");
    let (pem_b, _) = certificate("b.example");
    let signed = |pem: &[u8]| {
        let sig = signature_section(pem, false);
        measure(&build(
            4,
            0,
            &[
                (KERNEL, b"k"),
                (CMDLINE, b"c"),
                (RAMDISK, b"r"),
                (SIGNATURE, &sig),
            ],
        ))
        .unwrap()
    };
    let a = signed(&pem_a);
    assert_eq!(a.pcr8, Some(expected(&[&der_a])));
    let b = signed(&pem_b);
    assert_ne!(a.pcr8, b.pcr8);
    assert_eq!((a.pcr0, a.pcr1, a.pcr2), (b.pcr0, b.pcr1, b.pcr2));
    let unsigned = measure(&build(
        4,
        0,
        &[(KERNEL, b"k"), (CMDLINE, b"c"), (RAMDISK, b"r")],
    ))
    .unwrap();
    assert_eq!(
        unsigned.pcr0, a.pcr0,
        "the signature section is not in PCR0"
    );
    assert_eq!(
        a.indexed().iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        [0, 1, 2, 8]
    );
    assert_eq!(unsigned.indexed().len(), 3);
}
