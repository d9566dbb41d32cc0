//! AWS Nitro Enclaves attestation documents.
//!
//! The Nitro Secure Module (NSM) signs a CBOR payload — module id, timestamp,
//! PCRs, the optional `public_key` / `user_data` / `nonce` — as a `COSE_Sign1`
//! with ES384, using a short-lived leaf certificate that chains to the AWS
//! Nitro Enclaves root through the `cabundle` carried in the payload.
//!
//! ```text
//!  bytes ─▶ UnverifiedNitroDocument::parse      size bound, COSE envelope (ES384),
//!                │                              payload fields, types and sizes
//!                ▼
//!  NitroVerifier::verify(doc, policy, now)      1. chain: pinned root = cabundle[0] → … → leaf
//!                │                              2. COSE signature with the leaf key
//!                │                              3. timestamp not after `now`
//!                ▼                              4. policy: PCRs, debug, age, nonce, …
//!  Verified<NitroClaims> ──into_claims──▶ Verified<Claims>
//! ```
//!
//! * The signature is checked over the protected header and payload bytes as
//!   received; nothing is re-encoded. Tagged and untagged documents, definite
//!   and indefinite-length payload maps are accepted.
//! * Time is a parameter. Leaf certificates live about three hours, so old
//!   documents verify only "as of" a time inside their validity; certificate
//!   bounds are inclusive, widened by an optional clock skew.
//! * The chain is pinned: `cabundle[0]` must be the caller's root, by default
//!   [`NitroRoot::aws_g1`], which ships with this crate.
//! * [`CertCache`] (owned by the caller) skips re-verifying CA certificates
//!   that an earlier document already proved; validity is still re-checked.
//! * Policy is fail-closed: see [`NitroPolicy`]. A policy can also be applied
//!   to claims verified earlier ([`NitroPolicy::check_verified`]), so a
//!   relying party can order its own checks between chain and nonce.
//! * The plugin event log is replayed against [`PLUGIN_PCR`] and `user_data`
//!   by `Verified<NitroClaims>::into_claims_with_event_log`.
//!
//! ```no_run
//! use enclet_attestation::UnixTime;
//! use enclet_attestation::nitro::{self, NitroPolicy, NitroVerifier};
//!
//! # fn f(doc: &[u8], pcr0: Vec<u8>) -> Result<(), enclet_attestation::nitro::NitroError> {
//! let policy = NitroPolicy::expect_pcrs([(0, pcr0)])?.max_age(300);
//! let claims = nitro::verify(doc, &NitroVerifier::aws(), &policy, UnixTime::from_secs(1_767_472_867))?;
//! println!("{}", claims.module_id);
//! # Ok(()) }
//! ```

mod cbor;
mod cert;
mod cert_cache;
mod chain;
mod claims;
mod cose;
mod document;
mod error;
mod policy;
mod root;
mod verifier;

#[cfg(test)]
mod tests;

pub use cert_cache::CertCache;
pub use claims::{CertificateSummary, NitroClaims};
pub use document::{
    MAX_CABUNDLE, MAX_CERT_LEN, MAX_DOCUMENT_LEN, MAX_NONCE_LEN, MAX_PUBLIC_KEY_LEN,
    MAX_USER_DATA_LEN, UnverifiedNitroDocument,
};
pub use error::{CertPosition, CertRef, ChainError, NitroError, PcrMismatch, PolicyError};
pub use policy::NitroPolicy;
pub use root::NitroRoot;
pub use verifier::{NitroVerifier, verify};

mod replay;

/// The first plugin PCR (SHA-384, as every NSM PCR): the enclave extends each
/// plugin event's value into the current plugin PCR with NSM `ExtendPCR`, in
/// event-log order, `pcr = SHA-384(pcr || value)` from zero (the rule of
/// [`crate::event_log`]). See [`PLUGIN_PCRS`].
pub const PLUGIN_PCR: u8 = 16;

/// The plugin PCRs, used in turn. An NSM document carries only locked PCRs,
/// so an attestation that follows plugin events locks the current one and
/// later events go to the next: a document carries PCR16, PCR17, … (each
/// locked, none skipped), and the event log splits into consecutive,
/// non-empty runs that replay to each in turn. See
/// [`Verified::<NitroClaims>::into_claims_with_event_log`](crate::Verified).
pub const PLUGIN_PCRS: core::ops::RangeInclusive<u8> = 16..=31;
