//! Section types and architectures: the enumerations of the EIF header.

use core::fmt;

/// Header flag bit set for aarch64 images.
pub(super) const FLAG_ARM64: u16 = 0x1;

/// The section types the format defines (type 0 is reserved as invalid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SectionKind {
    /// The Linux kernel (type 1). Measured into PCR0 and PCR1.
    Kernel,
    /// The kernel command line (type 2). Measured into PCR0 and PCR1.
    Cmdline,
    /// A ramdisk (type 3). All into PCR0; the first into PCR1, the others into PCR2.
    Ramdisk,
    /// The signature (type 4): its signing certificate gives PCR8.
    Signature,
    /// Build metadata, JSON (type 5). Not measured.
    Metadata,
}

impl SectionKind {
    pub(super) fn from_type(value: u16) -> Option<Self> {
        match value {
            1 => Some(Self::Kernel),
            2 => Some(Self::Cmdline),
            3 => Some(Self::Ramdisk),
            4 => Some(Self::Signature),
            5 => Some(Self::Metadata),
            _ => None,
        }
    }

    /// The type number in a section header.
    #[must_use]
    pub fn type_number(self) -> u16 {
        match self {
            Self::Kernel => 1,
            Self::Cmdline => 2,
            Self::Ramdisk => 3,
            Self::Signature => 4,
            Self::Metadata => 5,
        }
    }
}

impl fmt::Display for SectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Kernel => "kernel",
            Self::Cmdline => "cmdline",
            Self::Ramdisk => "ramdisk",
            Self::Signature => "signature",
            Self::Metadata => "metadata",
        })
    }
}

/// The CPU architecture an image boots on (header flag bit 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// Flag bit 0 clear.
    X86_64,
    /// Flag bit 0 set.
    Aarch64,
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::X86_64 => "x86_64",
            Self::Aarch64 => "aarch64",
        })
    }
}
