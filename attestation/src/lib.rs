//! # enclet-attestation
//!
//! Evidence formats and their verification, for everyone who must decide whether
//! to trust an enclet enclave: the control plane, the `enclet verify` CLI, and any
//! third party shown a plugin's result.
//!
//! ## Design
//!
//! ```text
//!   bytes ──parse──▶ Unverified* ──verify(anchors, now)──▶ Verified<Claims> ──policy──▶ Verified<…>
//!          (syntax)                (signatures, chains)                       (reference values)
//! ```
//!
//! * **Pure.** Nothing here does I/O, reads a clock or touches a global. The
//!   verification time is a parameter ([`UnixTime`]); tests pin it.
//! * **Parse, don't validate.** Untrusted bytes become `Unverified*` values in one
//!   place, with every size bounded before allocation and no slice indexing.
//! * **Proof, not booleans.** A [`Verified<T>`] can only be built inside this crate
//!   by a verifier that checked it; downstream APIs take `&Verified<Claims>`.
//! * **One claims model.** Nitro documents and TPM quotes both verify into
//!   [`Claims`], so policy code does not care which evidence it was given.
//!   Claims carry how far they were checked: the key's
//!   [`claims::TrustBasis`] (a TPM AK activated against a certified EK is
//!   distinct from one the caller merely supplied), which of nonce, PCR values
//!   and event log were compared, and whether the plugins are known at all.
//! * **One error type.** [`Error`] names the step, certificate, field or PCR that
//!   failed, and [`Error::code`] gives a stable string for scripts.
//!
//! ## Modules
//!
//! * [`measurement`] — the plugin measurement rule shared by every backend.
//! * [`event_log`] — the canonical plugin event log and its digest.
//! * [`claims`] — the backend-neutral claims model.
//! * [`nitro`] — AWS Nitro Enclaves attestation documents (`COSE_Sign1`).
//! * [`tpm`] — TPM 2.0 quotes, AK trust and the plugin event log.
#![forbid(unsafe_code)]

pub mod claims;
pub mod error;
pub mod event_log;
pub mod measurement;
pub mod nitro;
pub mod time;
pub mod tpm;
mod verified;

pub use claims::Claims;
pub use error::Error;
pub use measurement::Measurement;
pub use time::UnixTime;
pub use verified::Verified;
