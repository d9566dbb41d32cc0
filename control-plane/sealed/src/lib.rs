//! # enclet-sealed
//!
//! Secrets sealed by the control plane to one attested enclave, and opened only
//! there. The parent relays a [`SealedBundle`] but cannot read, move, rename,
//! extend or replay any value in it.
//!
//! ## Design
//!
//! * **HPKE** (RFC 9180), mode base, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
//!   AES-256-GCM, to the enclave's X25519 key ([`RecipientKey`]) whose public
//!   half the control plane took from verified evidence.
//! * **Context binding.** Every value is sealed under a [`context`] that names
//!   the session, the plugin measurement, the secret name and the expiry; it is
//!   both the HPKE `info` and the AEAD associated data. A value moved to another
//!   plugin or name, or given a later expiry, fails to open.
//! * **All or nothing.** [`RecipientKey::open`] opens every entry or none: one
//!   bad entry rejects the bundle, so a tampered bundle never half-applies.
//! * **Bounded parsing.** [`SealedBundle::from_bytes`] checks sizes before it
//!   allocates and rejects trailing bytes; limits are the `MAX_*` constants.
//! * **No leaks.** Plaintext lives in [`SecretBytes`] (zeroed on drop, `Debug`
//!   prints only the length); errors name entries, never contents.
//!
//! The wire format is a CBOR map
//! `{v: 1, session: bstr(16), expires_at: uint, secrets: [{plugin: bstr(48), name: tstr, enc: bstr(32), ct: bstr}]}`.
#![forbid(unsafe_code)]

mod bundle;
mod error;
mod key;

pub use bundle::{
    MAX_BUNDLE_BYTES, MAX_NAME_BYTES, MAX_SECRETS, MAX_VALUE_BYTES, OpenedBundle, SealedBundle,
    SealedSecret, SecretBytes, context, seal,
};
pub use error::Error;
pub use key::RecipientKey;

/// Length of a session id, in bytes.
pub const SESSION_LEN: usize = 16;
/// Length of an X25519 public key (and of an encapsulated key), in bytes.
pub const PUBLIC_KEY_LEN: usize = 32;

#[cfg(test)]
mod tests;
