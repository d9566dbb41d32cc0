//! Reference values: which enclave images the control plane accepts at all,
//! before any policy runs.
//!
//! They come from a TOML file written by the operator (usually generated from
//! the image build). Every key:
//!
//! ```toml
//! [tpm]
//! # SHA-384 measurements of accepted enclave binaries (96 hex characters each).
//! # The quoted image PCR 23 (SHA-256 bank) must equal
//! # replay_sha256([m]) = SHA-256(0^32 || SHA-256(m)) for one of them.
//! images = ["<96 hex>"]
//!
//! [nitro]
//! # Accept debug-mode enclaves (PCR0 all zero; the parent can read their
//! # memory). Development only. Default false.
//! allow_debug = false
//!
//! # One table per accepted enclave image (EIF); PCR0, PCR1 and PCR2 must all
//! # match one table, and PCR8 too when the table gives it (signed EIFs).
//! [[nitro.images]]
//! pcr0 = "<96 hex>"
//! pcr1 = "<96 hex>"
//! pcr2 = "<96 hex>"
//! pcr8 = "<96 hex>"   # optional
//! ```
//!
//! * Unknown keys are errors, so a misspelt key cannot silently widen or
//!   narrow what is accepted; errors name the key, the line and the column.
//! * A missing section or an empty list accepts nothing of that kind.
//! * Hex is case-insensitive; every value is exactly 48 bytes (SHA-384).
//!
//! [`ReferenceValues::insecure_any_image`] accepts every image (still not a
//! debug Nitro enclave) and exists for development only: nothing uses it by
//! default.

mod file;

#[cfg(test)]
mod tests;

use std::path::Path;

use enclet_attestation::Measurement;
use enclet_attestation::measurement::replay_sha256;
use enclet_attestation::nitro::NitroClaims;

/// Largest reference-value file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Most images of one kind a file may list.
pub const MAX_IMAGES: usize = 4096;

/// Accepted enclave images, by evidence kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceValues {
    tpm: Vec<TpmImage>,
    nitro: Vec<NitroImage>,
    allow_debug: bool,
    any_image: bool,
}

/// An accepted TPM enclave image: its measurement and the image PCR value it
/// produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmImage {
    /// SHA-384 of the enclave binary.
    pub measurement: Measurement,
    /// The SHA-256 PCR 23 value after one extend with it.
    pub pcr23: [u8; 32],
}

/// An accepted Nitro enclave image (EIF): PCR0/1/2 and optionally PCR8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NitroImage {
    /// Enclave image file.
    pub pcr0: [u8; 48],
    /// Linux kernel and bootstrap.
    pub pcr1: [u8; 48],
    /// Application.
    pub pcr2: [u8; 48],
    /// Signing certificate of a signed EIF; not compared when `None`.
    pub pcr8: Option<[u8; 48]>,
}

impl NitroImage {
    fn matches(&self, claims: &NitroClaims) -> bool {
        let eq = |i: u8, v: &[u8; 48]| claims.pcr(i) == Some(v.as_slice());
        eq(0, &self.pcr0)
            && eq(1, &self.pcr1)
            && eq(2, &self.pcr2)
            && self.pcr8.as_ref().is_none_or(|v| eq(8, v))
    }
}

/// Why a reference-value file was refused. Every variant names where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReferenceError {
    /// The file could not be read.
    #[error("reference values {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
    /// Not TOML, an unknown or missing key, or a value of the wrong type.
    #[error("reference values, line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The TOML parser's message (it names the key).
        message: String,
    },
    /// A key's value is not acceptable (bad hex, wrong length, too many).
    #[error("reference values, line {line}, column {column}: `{key}` {message}")]
    Value {
        /// The key, as a path (`nitro.images[0].pcr1`).
        key: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong with it.
        message: String,
    },
}

impl ReferenceError {
    /// Stable code: `reference_io`, `reference_syntax` or `reference_value`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Io { .. } => "reference_io",
            Self::Syntax { .. } => "reference_syntax",
            Self::Value { .. } => "reference_value",
        }
    }
}

impl ReferenceValues {
    /// Parses the TOML format described in the module docs.
    ///
    /// # Errors
    /// [`ReferenceError::Syntax`] or [`ReferenceError::Value`], naming the
    /// key, line and column.
    pub fn from_toml(text: &str) -> Result<Self, ReferenceError> {
        file::parse(text)
    }

    /// Reads and parses a reference-value file (at most [`MAX_FILE_BYTES`]).
    ///
    /// # Errors
    /// [`ReferenceError::Io`] if it cannot be read or is too large; else as
    /// [`Self::from_toml`].
    pub fn load(path: &Path) -> Result<Self, ReferenceError> {
        let io = |message: String| ReferenceError::Io {
            path: path.display().to_string(),
            message,
        };
        let len = std::fs::metadata(path)
            .map_err(|e| io(e.to_string()))?
            .len();
        if len > MAX_FILE_BYTES {
            return Err(io(format!("{len} bytes, more than {MAX_FILE_BYTES}")));
        }
        let text = std::fs::read_to_string(path).map_err(|e| io(e.to_string()))?;
        Self::from_toml(&text)
    }

    /// **Development only:** accepts any TPM or Nitro image (debug Nitro
    /// enclaves are still refused). Nothing uses it by default; a service
    /// that does must say so loudly in its log.
    #[must_use]
    pub fn insecure_any_image() -> Self {
        Self {
            tpm: Vec::new(),
            nitro: Vec::new(),
            allow_debug: false,
            any_image: true,
        }
    }

    pub(crate) fn new(tpm: Vec<Measurement>, nitro: Vec<NitroImage>, allow_debug: bool) -> Self {
        let tpm = tpm
            .into_iter()
            .map(|measurement| TpmImage {
                measurement,
                pcr23: replay_sha256([&measurement]),
            })
            .collect();
        Self {
            tpm,
            nitro,
            allow_debug,
            any_image: false,
        }
    }

    /// The accepted TPM images.
    #[must_use]
    pub fn tpm_images(&self) -> &[TpmImage] {
        &self.tpm
    }

    /// The accepted Nitro images.
    #[must_use]
    pub fn nitro_images(&self) -> &[NitroImage] {
        &self.nitro
    }

    /// Whether debug-mode Nitro enclaves are accepted.
    #[must_use]
    pub fn allows_debug(&self) -> bool {
        self.allow_debug
    }

    /// Whether this is [`Self::insecure_any_image`].
    #[must_use]
    pub fn is_insecure_any_image(&self) -> bool {
        self.any_image
    }

    /// Whether a quoted TPM image PCR 23 value is that of an accepted image.
    #[must_use]
    pub fn tpm_image_allowed(&self, pcr23: &[u8]) -> bool {
        self.any_image || self.tpm.iter().any(|i| i.pcr23.as_slice() == pcr23)
    }

    /// Whether a verified Nitro document's PCRs are those of an accepted image.
    #[must_use]
    pub fn nitro_image_allowed(&self, claims: &NitroClaims) -> bool {
        self.any_image || self.nitro.iter().any(|i| i.matches(claims))
    }
}
