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
    #[error("the enclave did not send {waiting_for} within {after:?}; {delivery}")]
    Timeout {
        /// What was awaited.
        waiting_for: &'static str,
        /// The configured bound.
        after: Duration,
        /// Whether the enclave got the request.
        delivery: Delivery,
    },
    /// Too many request bytes already wait to be written to the enclave; this
    /// request was not sent.
    #[error(
        "the enclave is not taking requests fast enough: {queued} bytes already wait to be \
         sent (limit {limit}); this request was not sent, retry later"
    )]
    Busy {
        /// Bytes waiting to be written.
        queued: usize,
        /// The configured bound.
        limit: usize,
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
            Self::Busy { .. } => "enclave_busy",
            Self::Timeout { .. } => "enclave_timeout",
            Self::Protocol(e) => e.code(),
            Self::UnexpectedResponse { .. } => "unexpected_response",
        }
    }
}

/// Whether a request that got no answer in time reached the enclave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Never sent (still queued, or no connection): it will not run.
    NotSent,
    /// Sent, wholly or partly: the enclave may still carry it out.
    MaybeApplied,
}

impl std::fmt::Display for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NotSent => "the request was never sent to the enclave and will not run",
            Self::MaybeApplied => {
                "the request was sent and may still complete: a plugin load may still \
                 appear (check `enclet plugin list`), an invocation may still run"
            }
        })
    }
}
