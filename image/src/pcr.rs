//! PCR values of an enclave image, as the Nitro hypervisor computes them when
//! it boots the image and as `nitro-cli describe-eif` prints them.
//!
//! Each PCR starts as 48 zero bytes and is extended once, with the SHA-384 of
//! the concatenated data of its sections, in file order:
//!
//! ```text
//! PCRn = SHA-384( 0^48 || SHA-384( data of the sections measured into n ) )
//!
//! PCR0  kernel, cmdline, every ramdisk      (the whole bootable image)
//! PCR1  kernel, cmdline, the first ramdisk  (kernel and bootstrap)
//! PCR2  every ramdisk after the first       (the application)
//! PCR8  the signing certificate, DER        (signed images only)
//! ```
//!
//! Section headers, the EIF header, the metadata section and the signature
//! section's own bytes are not measured. An image with a single ramdisk has
//! PCR2 = SHA-384(0^48 || SHA-384("")).

use core::fmt;

use sha2::{Digest as _, Sha384};

use crate::eif::{Eif, SectionKind};
use crate::error::ImageError;

/// Bytes in a SHA-384 PCR.
pub const PCR_LEN: usize = 48;

/// One SHA-384 PCR value. Displays as 96 lower-case hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pcr([u8; PCR_LEN]);

impl Pcr {
    /// The value extended once from zero with `digest`:
    /// SHA-384(0^48 || digest).
    #[must_use]
    pub fn extend_from_zero(digest: &[u8; PCR_LEN]) -> Self {
        let mut h = Sha384::new();
        h.update([0u8; PCR_LEN]);
        h.update(digest);
        Self(h.finalize().into())
    }

    /// The raw bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; PCR_LEN] {
        &self.0
    }

    /// Lower-case hex.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Pcr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Pcr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pcr({})", self.to_hex())
    }
}

/// The measurements of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measurements {
    /// Enclave image: kernel, cmdline, all ramdisks.
    pub pcr0: Pcr,
    /// Kernel and bootstrap: kernel, cmdline, first ramdisk.
    pub pcr1: Pcr,
    /// Application: the ramdisks after the first.
    pub pcr2: Pcr,
    /// Signing certificate, for signed images.
    pub pcr8: Option<Pcr>,
}

impl Measurements {
    /// Measures a parsed image.
    #[must_use]
    pub fn of(eif: &Eif<'_>) -> Self {
        let (mut image, mut boot, mut app) = (Sha384::new(), Sha384::new(), Sha384::new());
        let mut ramdisks = 0usize;
        for section in eif.sections() {
            match section.kind {
                SectionKind::Kernel | SectionKind::Cmdline => {
                    image.update(section.data);
                    boot.update(section.data);
                }
                SectionKind::Ramdisk => {
                    image.update(section.data);
                    if ramdisks == 0 {
                        boot.update(section.data);
                    } else {
                        app.update(section.data);
                    }
                    ramdisks = ramdisks.saturating_add(1);
                }
                SectionKind::Signature | SectionKind::Metadata => {}
            }
        }
        let pcr = |h: Sha384| Pcr::extend_from_zero(&h.finalize().into());
        Self {
            pcr0: pcr(image),
            pcr1: pcr(boot),
            pcr2: pcr(app),
            pcr8: eif
                .signing_certificate()
                .map(|der| pcr(Sha384::new_with_prefix(der))),
        }
    }

    /// The PCRs in index order, PCR8 last when present.
    #[must_use]
    pub fn indexed(&self) -> Vec<(u8, Pcr)> {
        let mut out = vec![(0, self.pcr0), (1, self.pcr1), (2, self.pcr2)];
        out.extend(self.pcr8.map(|p| (8, p)));
        out
    }
}

/// Parses and measures an EIF in one call.
///
/// # Errors
/// As [`Eif::parse`].
pub fn measure(bytes: &[u8]) -> Result<Measurements, ImageError> {
    Eif::parse(bytes).map(|eif| Measurements::of(&eif))
}

#[cfg(test)]
mod tests;
