//! The one error type of this crate: why an enclave image file was refused.

use crate::eif::SectionKind;

/// Why bytes are not an enclave image file (EIF) this crate measures.
///
/// Every variant names what is wrong and where (byte offsets into the file,
/// section indexes counted from 0 in file order). [`ImageError::code`] gives a
/// stable machine-readable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// The file ends before a structure it must hold.
    #[error("truncated EIF: {what} at offset {offset} needs {needed} bytes, {available} left")]
    Truncated {
        /// What was being read (`header`, `section header 2`).
        what: String,
        /// Where it starts.
        offset: u64,
        /// How many bytes it needs.
        needed: u64,
        /// How many bytes the file has from `offset` on.
        available: u64,
    },
    /// The first four bytes are not `.eif`.
    #[error("not an EIF: magic is {found:02x?}, expected `.eif` (2e 65 69 66)")]
    BadMagic {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// An EIF format version this crate does not measure.
    #[error("unsupported EIF version {version} (supported: {min} to {max})")]
    UnsupportedVersion {
        /// The header's version.
        version: u16,
        /// Oldest supported version.
        min: u16,
        /// Newest supported version.
        max: u16,
    },
    /// The header claims more sections than its table holds, or the file
    /// holds more sections than the header claims.
    #[error(
        "EIF has too many sections: {count} (the header table holds {max}, it declares {declared})"
    )]
    TooManySections {
        /// Sections seen (or declared, if that is the larger).
        count: u64,
        /// Size of the header's section table.
        max: usize,
        /// Sections the header declares.
        declared: u16,
    },
    /// A section's declared size runs past the end of the file.
    #[error(
        "EIF section {index} at offset {offset}: {size} bytes declared, only {available} left in the file"
    )]
    SectionOutOfBounds {
        /// Section index.
        index: usize,
        /// Offset of the section's header.
        offset: u64,
        /// Declared data size.
        size: u64,
        /// Bytes after the section header.
        available: u64,
    },
    /// A section header carries a type the format does not define (0 is
    /// reserved as invalid; 1 to 5 are kernel, cmdline, ramdisk, signature,
    /// metadata).
    #[error("EIF section {index} at offset {offset}: invalid section type {value}")]
    InvalidSectionType {
        /// Section index.
        index: usize,
        /// Offset of the section's header.
        offset: u64,
        /// The type found.
        value: u16,
    },
    /// The header's section table disagrees with the sections in the file.
    #[error(
        "EIF section table entry {index}: header says {field} {declared}, the file has {found}"
    )]
    SectionTableMismatch {
        /// Table entry (section index).
        index: usize,
        /// `offset`, `size` or `count`.
        field: &'static str,
        /// The value in the header.
        declared: u64,
        /// The value found by walking the file.
        found: u64,
    },
    /// The CRC-32 in the header does not match the file's contents.
    #[error(
        "EIF checksum mismatch: header says crc32 {expected:08x}, contents give {computed:08x}"
    )]
    CrcMismatch {
        /// From the header.
        expected: u32,
        /// Computed over the file.
        computed: u32,
    },
    /// A section every bootable image has is missing.
    #[error("EIF has no {kind} section")]
    MissingSection {
        /// The missing kind.
        kind: SectionKind,
    },
    /// A section that may appear once appears again.
    #[error("EIF section {index}: a second {kind} section")]
    DuplicateSection {
        /// The repeated kind.
        kind: SectionKind,
        /// Index of the second one.
        index: usize,
    },
    /// The signature section cannot be read (CBOR, PEM or the certificate).
    #[error("EIF signature section: {reason}")]
    BadSignature {
        /// What is wrong with it.
        reason: String,
    },
}

impl ImageError {
    /// A stable code for scripts: `eif_truncated`, `eif_bad_magic`, …
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Truncated { .. } => "eif_truncated",
            Self::BadMagic { .. } => "eif_bad_magic",
            Self::UnsupportedVersion { .. } => "eif_unsupported_version",
            Self::TooManySections { .. } => "eif_too_many_sections",
            Self::SectionOutOfBounds { .. } => "eif_section_out_of_bounds",
            Self::InvalidSectionType { .. } => "eif_invalid_section_type",
            Self::SectionTableMismatch { .. } => "eif_section_table_mismatch",
            Self::CrcMismatch { .. } => "eif_crc_mismatch",
            Self::MissingSection { .. } => "eif_missing_section",
            Self::DuplicateSection { .. } => "eif_duplicate_section",
            Self::BadSignature { .. } => "eif_bad_signature",
        }
    }
}
