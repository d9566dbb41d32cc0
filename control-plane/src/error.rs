//! The crate's one error type. Each area defines its own narrower enum in its
//! module; this wraps them so callers match on one type.

/// Everything that can go wrong in the control plane (not a refusal of
/// evidence, which is a [`crate::verify::Refusal`] answered to the parent).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration file or a setting is invalid.
    #[error("configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    /// TLS set-up failed (certificates, keys).
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    /// The policy failed to load or evaluate.
    #[error("policy: {0}")]
    Policy(#[from] crate::policy::PolicyError),
    /// An I/O failure outside the store (state directory, listener).
    #[error("{0}")]
    Io(String),
}
