//! The crate's one error type.

use std::time::Duration;

use enclet_protocol::{ErrorBody, ProtocolError};

/// What can go wrong talking to the enclave or serving the operator API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The enclave answered the request with an error.
    #[error("{}: {}", .0.code, .0.message)]
    Enclave(ErrorBody),
    /// The connection to the enclave could not be opened.
    #[error("cannot connect to the enclave at {endpoint}: {reason}")]
    Connect {
        /// The enclave address.
        endpoint: String,
        /// The OS error.
        reason: String,
    },
    /// The connection to the enclave closed before the answer arrived.
    #[error("enclave connection closed: {0}")]
    Disconnected(String),
    /// The enclave did not answer (or accept the connection) in time.
    #[error("the enclave did not send {waiting_for} within {after:?}")]
    Timeout {
        /// What was awaited.
        waiting_for: &'static str,
        /// The configured bound.
        after: Duration,
    },
    /// A frame could not be encoded or decoded.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The enclave sent a response of the wrong kind.
    #[error("unexpected response from the enclave: expected {expected}, got {got}")]
    UnexpectedResponse {
        /// What the request calls for.
        expected: &'static str,
        /// What arrived.
        got: String,
    },
}

impl Error {
    /// Stable `snake_case` code; for enclave errors, the enclave's own code.
    #[must_use]
    pub fn code(&self) -> &str {
        match self {
            Self::Enclave(body) => &body.code,
            Self::Connect { .. } | Self::Disconnected(_) => "enclave_unavailable",
            Self::Timeout { .. } => "enclave_timeout",
            Self::Protocol(e) => e.code(),
            Self::UnexpectedResponse { .. } => "unexpected_response",
        }
    }
}
