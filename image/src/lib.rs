//! # enclet-image
//!
//! Measures AWS Nitro Enclave image files (EIF): pure functions over the
//! file's bytes that check its structure and compute the PCR0, PCR1, PCR2
//! and (signed images) PCR8 values the Nitro hypervisor will report for an
//! enclave booted from it, equal to what `nitro-cli build-enclave` and
//! `nitro-cli describe-eif` print. It also renders those values as the
//! control plane's reference-value file. No I/O: the `enclet image` command
//! reads the file (size-bounded) and calls in.
//!
//! ## The EIF layout
//!
//! Everything is big-endian.
//!
//! ```text
//! offset 0   header, 548 bytes
//!            magic ".eif" (4) | version u16 | flags u16 (bit 0: aarch64)
//!            default_mem u64 | default_cpus u64 | reserved u16 | num_sections u16
//!            section_offsets [u64; 32] | section_sizes [u64; 32]
//!            unused u32 | crc32 u32
//! offset 548 section 0: type u16 | flags u16 | size u64 | <size bytes of data>
//!            section 1: ...
//!            ... to the last byte of the file
//! ```
//!
//! Section types: 1 kernel, 2 cmdline, 3 ramdisk, 4 signature, 5 metadata
//! (0 and anything above 5 are invalid). `nitro-cli` writes kernel, cmdline,
//! metadata, the ramdisks, then the signature of a signed image. The
//! header's table gives each section's offset (of its section header) and
//! data size. The CRC-32 (IEEE) covers the whole file except the CRC field.
//!
//! ## The PCR rules
//!
//! ```text
//! PCRn = SHA-384( 0^48 || SHA-384( data of the sections measured into n, in file order ) )
//! PCR0 = kernel, cmdline, all ramdisks
//! PCR1 = kernel, cmdline, first ramdisk (the kernel and its bootstrap)
//! PCR2 = the ramdisks after the first (the application)
//! PCR8 = the DER signing certificate from the signature section
//! ```
//!
//! So a one-byte change in the kernel or the cmdline changes PCR0 and PCR1,
//! in the first ramdisk PCR0 and PCR1, in a later ramdisk PCR0 and PCR2, and
//! a different signing certificate changes only PCR8. See [`pcr`].
//!
//! ## Untrusted input
//!
//! [`Eif::parse`] checks the whole structure before anything is measured
//! and answers one [`ImageError`] naming the first problem: truncation, bad
//! magic, unsupported version, too many sections, a section running past the
//! end, an invalid section type, a header table that disagrees with the
//! sections, a CRC mismatch, missing or repeated sections, an unreadable
//! signature section. It never panics, allocates only for the section list
//! (at most 32 entries) and the signing certificate, and hashes each byte
//! once per PCR. Callers bound the file size before reading it.
//!
//! ```
//! # fn demo(bytes: &[u8]) -> Result<(), enclet_image::ImageError> {
//! let m = enclet_image::measure(bytes)?;
//! println!("PCR0 {}", m.pcr0);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod eif;
pub mod error;
pub mod pcr;
pub mod reference;
pub mod signature;

#[cfg(test)]
mod testutil;

pub use eif::{Eif, SectionKind};
pub use error::ImageError;
pub use pcr::{Measurements, Pcr, measure};
pub use reference::reference_toml;
