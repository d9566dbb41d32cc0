//! Parse and measure arbitrary bytes as an enclave image file (EIF), and
//! render reference values for whatever parses.
//!
//! Each input is tried twice: as is, and with its header CRC recomputed, so
//! that mutations get past the checksum to the section checks, the signature
//! section's CBOR/PEM/X.509 parsing and the PCR computation.
#![no_main]

use enclet_image::eif::HEADER_LEN;
use enclet_image::{Eif, Measurements, reference_toml};
use libfuzzer_sys::fuzz_target;

fn run(data: &[u8]) {
    let Ok(eif) = Eif::parse(data) else {
        return;
    };
    let m = Measurements::of(&eif);
    let _ = reference_toml(&m, "fuzz.eif");
}

fuzz_target!(|data: &[u8]| {
    run(data);
    if data.len() >= HEADER_LEN {
        let mut fixed = data.to_vec();
        let (header, rest) = fixed.split_at_mut(HEADER_LEN);
        let (covered, crc) = header.split_at_mut(HEADER_LEN - 4);
        let mut h = crc32fast::Hasher::new();
        h.update(covered);
        h.update(rest);
        crc.copy_from_slice(&h.finalize().to_be_bytes());
        run(&fixed);
    }
});
