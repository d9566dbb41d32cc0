//! The crate's one error type.

/// Provisioning or running the TPM simulator failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SwtpmError {
    /// The tools are missing, provisioning failed, swtpm did not come up, or
    /// a certificate it wrote is unreadable. The text says which.
    #[error("tpm simulator: {0}")]
    Simulator(String),
}
