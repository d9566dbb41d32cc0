//! Secrets the control plane released to this plugin.
//!
//! After the enclave is attested, the control plane seals each secret its
//! policy grants to one plugin measurement and name; the enclave opens the
//! bundle and serves a plugin only what was sealed for its own measurement.
//! So [`get`] returns a value only if the control plane released that name to
//! *this exact build* of the plugin, and the release has not expired.
//!
//! Values are at most 64 KiB; names are at most 128 bytes of
//! `[A-Za-z0-9._-]`. Never log or return a value unless that is the point:
//! the enclave log and the plugin's output leave the enclave.
//!
//! ```ignore
//! match enclet_plugin_sdk::secrets::get("payout-hmac-key") {
//!     Ok(key) => { /* use it */ }
//!     Err(enclet_plugin_sdk::secrets::SecretError::NotGranted) => { /* run without it */ }
//!     Err(enclet_plugin_sdk::secrets::SecretError::Expired) => { /* ask for a fresh release */ }
//! }
//! ```

use crate::bindings::enclet::plugin::secrets as wit;

/// Why a secret is not available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretError {
    /// Not released to this plugin. A name released only to another plugin
    /// looks exactly like a name that exists nowhere.
    NotGranted,
    /// Released to this plugin, but the release has expired: the enclave must
    /// be attested again to get a fresh one.
    Expired,
}

impl std::fmt::Display for SecretError {
    /// `not-granted` or `expired`, the WIT names.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NotGranted => "not-granted",
            Self::Expired => "expired",
        })
    }
}

impl std::error::Error for SecretError {}

/// The secret `name` released to this plugin.
///
/// # Errors
///
/// [`SecretError::NotGranted`] if it was not released to this plugin (names
/// longer than 128 bytes never are); [`SecretError::Expired`] if its release
/// has expired.
pub fn get(name: &str) -> Result<Vec<u8>, SecretError> {
    wit::get(name).map_err(|e| match e {
        wit::Error::NotGranted => SecretError::NotGranted,
        wit::Error::Expired => SecretError::Expired,
    })
}
