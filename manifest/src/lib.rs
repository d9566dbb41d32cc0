//! # enclet-manifest
//!
//! What a plugin publisher states about a plugin, and the signature that
//! binds the statement to the publisher.
//!
//! * [`manifest`] — the TOML manifest (versioned schema): name, semver
//!   version, publisher, the host API it targets, the component's SHA-384,
//!   the capabilities it asks for and its limits. Parsing is strict: an
//!   unknown field or capability is an error naming it, every value is
//!   bounded, and [`UnverifiedManifest::check_component`] ties the manifest to
//!   the exact component bytes.
//! * [`capability`] — the capabilities a plugin may request (`log`,
//!   `secret:NAME`).
//! * [`signature`] — publisher signatures in the format `cosign sign-blob
//!   --key` writes and `cosign verify-blob --key` reads: ECDSA P-256 with
//!   SHA-256 over the exact manifest bytes, the DER signature in base64;
//!   private keys PEM PKCS#8, public keys PEM SPKI. `openssl dgst -sha256
//!   -sign/-verify` interoperates (after base64).
//!
//! Parsing gives an [`UnverifiedManifest`]; only
//! [`signature::verify_manifest`], given a publisher key the caller trusts,
//! turns it into a [`VerifiedManifest`], which carries the key's fingerprint
//! and the manifest's digest for the enclave's event log.
#![forbid(unsafe_code)]

pub mod capability;
mod error;
pub mod manifest;
pub mod signature;

pub use capability::Capability;
pub use error::ManifestError;
pub use manifest::{HOST_API_VERSION, ManifestLimits, UnverifiedManifest, VerifiedManifest};
pub use signature::{PublicKey, SigningKey};
