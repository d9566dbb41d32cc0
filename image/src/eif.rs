//! The EIF container: the fixed header, then the sections, each a 12-byte
//! section header followed by its data.
//!
//! [`Eif::parse`] checks, in this order, and stops at the first failure:
//!
//! 1. Step 1: the 548-byte header is there, its magic is `.eif`, its version
//!    is one this crate measures and it declares at most 32 sections.
//! 2. Step 2: walking the file from the end of the header, every section
//!    header is whole, has a defined type and its data ends inside the file;
//!    the last section ends exactly at the end of the file, and there are at
//!    least as many sections as the header declares.
//! 3. Step 3: the header's section table (count, offsets, sizes) describes
//!    exactly the sections found, and its unused entries are zero.
//! 4. Step 4: the CRC-32 over everything but the CRC field matches.
//! 5. Step 5: one kernel, one command line, at least one ramdisk, at most one
//!    signature and at most one metadata section.
//! 6. Step 6: a signature section yields its signing certificate (see
//!    [`crate::signature`]).
//!
//! The measurement itself walks the sections in file order, as the reference
//! reader does; step 3 makes sure the loader, which follows the table, sees
//! the same sections.

use crate::error::ImageError;
use crate::signature;
use reader::Reader;

pub use kind::{Arch, SectionKind};

/// The first four bytes of every EIF: `.eif`.
pub const MAGIC: [u8; 4] = *b".eif";
/// Size of the fixed header, in bytes.
pub const HEADER_LEN: usize = 548;
/// Size of each section header, in bytes.
pub const SECTION_HEADER_LEN: usize = 12;
/// Entries in the header's section table: the most sections an EIF holds.
pub const MAX_SECTIONS: usize = 32;
/// Oldest EIF version measured (version 2 introduced the CRC).
pub const MIN_VERSION: u16 = 2;
/// Newest EIF version measured (version 4 added the metadata section).
pub const MAX_VERSION: u16 = 4;
/// Where the CRC field starts: it is the header's last four bytes.
const CRC_OFFSET: usize = HEADER_LEN - 4;

/// The header fields an operator may want to see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Format version.
    pub version: u16,
    /// Header flags (bit 0: aarch64).
    pub flags: u16,
    /// Default enclave memory, bytes.
    pub default_mem: u64,
    /// Default enclave vCPUs.
    pub default_cpus: u64,
    /// The CRC-32 (IEEE) the file carries; checked by [`Eif::parse`].
    pub crc32: u32,
}

impl Header {
    /// The architecture named by the flags.
    #[must_use]
    pub fn arch(&self) -> Arch {
        if self.flags & kind::FLAG_ARM64 == 0 {
            Arch::X86_64
        } else {
            Arch::Aarch64
        }
    }
}

/// One section: where it is and its data (borrowed from the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section<'a> {
    /// Its type.
    pub kind: SectionKind,
    /// Offset of its section header in the file.
    pub offset: u64,
    /// The section header's flags (unused by the format so far).
    pub flags: u16,
    /// Its data, without the section header.
    pub data: &'a [u8],
}

/// A parsed, checked enclave image file. Borrows the file's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eif<'a> {
    header: Header,
    sections: Vec<Section<'a>>,
    signing_certificate: Option<Vec<u8>>,
}

impl<'a> Eif<'a> {
    /// Parses and checks a whole EIF (see the module docs for the steps).
    ///
    /// # Errors
    /// An [`ImageError`] naming the first problem found.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ImageError> {
        // Step 1
        let raw = RawHeader::parse(bytes)?;
        // Step 2
        let sections = walk_sections(bytes, raw.num_sections)?;
        // Step 3
        raw.check_table(&sections)?;
        // Step 4
        let computed = crc32(bytes);
        if computed != raw.crc32 {
            return Err(ImageError::CrcMismatch {
                expected: raw.crc32,
                computed,
            });
        }
        // Step 5
        check_kinds(&sections)?;
        // Step 6
        let signing_certificate = sections
            .iter()
            .find(|s| s.kind == SectionKind::Signature)
            .map(|s| signature::signing_certificate(s.data))
            .transpose()?;
        Ok(Self {
            header: raw.header(),
            sections,
            signing_certificate,
        })
    }

    /// The header.
    #[must_use]
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The sections, in file order.
    #[must_use]
    pub fn sections(&self) -> &[Section<'a>] {
        &self.sections
    }

    /// The signing certificate (DER) of a signed image.
    #[must_use]
    pub fn signing_certificate(&self) -> Option<&[u8]> {
        self.signing_certificate.as_deref()
    }

    /// Whether the image carries a signature section.
    #[must_use]
    pub fn is_signed(&self) -> bool {
        self.signing_certificate.is_some()
    }
}

/// The header as stored, big-endian.
struct RawHeader {
    version: u16,
    flags: u16,
    default_mem: u64,
    default_cpus: u64,
    num_sections: u16,
    offsets: [u64; MAX_SECTIONS],
    sizes: [u64; MAX_SECTIONS],
    crc32: u32,
}

impl RawHeader {
    fn parse(bytes: &[u8]) -> Result<Self, ImageError> {
        let mut r = Reader::new(bytes.get(..HEADER_LEN).ok_or(ImageError::Truncated {
            what: "header".to_owned(),
            offset: 0,
            needed: HEADER_LEN as u64,
            available: bytes.len() as u64,
        })?);
        let magic: [u8; 4] = r.array();
        if magic != MAGIC {
            return Err(ImageError::BadMagic { found: magic });
        }
        let version = r.u16();
        if !(MIN_VERSION..=MAX_VERSION).contains(&version) {
            return Err(ImageError::UnsupportedVersion {
                version,
                min: MIN_VERSION,
                max: MAX_VERSION,
            });
        }
        let flags = r.u16();
        let default_mem = r.u64();
        let default_cpus = r.u64();
        let _reserved = r.u16();
        let num_sections = r.u16();
        if usize::from(num_sections) > MAX_SECTIONS {
            return Err(ImageError::TooManySections {
                count: u64::from(num_sections),
                max: MAX_SECTIONS,
                declared: num_sections,
            });
        }
        let offsets = core::array::from_fn(|_| r.u64());
        let sizes = core::array::from_fn(|_| r.u64());
        let _unused = r.u32();
        let crc32 = r.u32();
        Ok(Self {
            version,
            flags,
            default_mem,
            default_cpus,
            num_sections,
            offsets,
            sizes,
            crc32,
        })
    }

    fn header(&self) -> Header {
        Header {
            version: self.version,
            flags: self.flags,
            default_mem: self.default_mem,
            default_cpus: self.default_cpus,
            crc32: self.crc32,
        }
    }

    /// Step 3: the table matches the walk entry by entry; the rest is zero.
    fn check_table(&self, sections: &[Section<'_>]) -> Result<(), ImageError> {
        let found = sections.len() as u64;
        if found != u64::from(self.num_sections) {
            return Err(ImageError::SectionTableMismatch {
                index: sections.len().min(usize::from(self.num_sections)),
                field: "count",
                declared: u64::from(self.num_sections),
                found,
            });
        }
        let entries = self.offsets.iter().zip(&self.sizes).enumerate();
        for (index, (&declared_offset, &declared_size)) in entries {
            let (offset, size) = sections
                .get(index)
                .map_or((0, 0), |s| (s.offset, s.data.len() as u64));
            let mismatch = |field, declared, found| ImageError::SectionTableMismatch {
                index,
                field,
                declared,
                found,
            };
            if declared_offset != offset {
                return Err(mismatch("offset", declared_offset, offset));
            }
            if declared_size != size {
                return Err(mismatch("size", declared_size, size));
            }
        }
        Ok(())
    }
}

/// Step 2: the sections, in file order, covering the file to its last byte.
fn walk_sections(bytes: &[u8], declared: u16) -> Result<Vec<Section<'_>>, ImageError> {
    let mut sections = Vec::new();
    let mut offset = HEADER_LEN;
    while let Some(rest) = bytes.get(offset..).filter(|r| !r.is_empty()) {
        let index = sections.len();
        if index >= MAX_SECTIONS {
            return Err(ImageError::TooManySections {
                count: index as u64 + 1,
                max: MAX_SECTIONS,
                declared,
            });
        }
        let Some((head, after)) = rest.split_first_chunk::<SECTION_HEADER_LEN>() else {
            return Err(ImageError::Truncated {
                what: format!("section header {index}"),
                offset: offset as u64,
                needed: SECTION_HEADER_LEN as u64,
                available: rest.len() as u64,
            });
        };
        let mut r = Reader::new(head);
        let (value, flags, size) = (r.u16(), r.u16(), r.u64());
        let kind = SectionKind::from_type(value).ok_or(ImageError::InvalidSectionType {
            index,
            offset: offset as u64,
            value,
        })?;
        let data = usize::try_from(size)
            .ok()
            .and_then(|n| after.get(..n))
            .ok_or(ImageError::SectionOutOfBounds {
                index,
                offset: offset as u64,
                size,
                available: after.len() as u64,
            })?;
        sections.push(Section {
            kind,
            offset: offset as u64,
            flags,
            data,
        });
        // Cannot overflow: the section lies inside `bytes`.
        offset = offset
            .saturating_add(SECTION_HEADER_LEN)
            .saturating_add(data.len());
    }
    // A file cut exactly between two sections.
    if sections.len() < usize::from(declared) {
        return Err(ImageError::Truncated {
            what: format!("section header {}", sections.len()),
            offset: bytes.len() as u64,
            needed: SECTION_HEADER_LEN as u64,
            available: 0,
        });
    }
    Ok(sections)
}

/// Step 4: CRC-32 (IEEE) of the header without its CRC field, then the rest.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = crc32fast::Hasher::new();
    crc.update(bytes.get(..CRC_OFFSET).unwrap_or_default());
    crc.update(bytes.get(HEADER_LEN..).unwrap_or_default());
    crc.finalize()
}

/// Step 5: the sections a bootable image has, none twice that must be once.
fn check_kinds(sections: &[Section<'_>]) -> Result<(), ImageError> {
    use SectionKind::{Cmdline, Kernel, Metadata, Ramdisk, Signature};
    for (index, section) in sections.iter().enumerate() {
        let once = matches!(section.kind, Kernel | Cmdline | Signature | Metadata);
        let earlier = sections.iter().take(index).any(|s| s.kind == section.kind);
        if once && earlier {
            return Err(ImageError::DuplicateSection {
                kind: section.kind,
                index,
            });
        }
    }
    for kind in [Kernel, Cmdline, Ramdisk] {
        if !sections.iter().any(|s| s.kind == kind) {
            return Err(ImageError::MissingSection { kind });
        }
    }
    Ok(())
}

mod kind;
mod reader;

#[cfg(test)]
mod tests;
