//! The crate's one error type.

use enclet_attestation::event_log::EventLogError;
use enclet_attester::AttesterError;
use enclet_protocol::ProtocolError;

use crate::runtime::{InvokeError, LimitsError, LoadError, ReleaseError, RuntimeError};

/// Everything that can go wrong in the enclave, with a stable [`code`](Error::code).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Loading a plugin failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// An invocation failed (or, for an unload, the plugin is not loaded).
    #[error(transparent)]
    Invoke(#[from] InvokeError),
    /// A change of a plugin's limits was refused.
    #[error(transparent)]
    Limits(#[from] LimitsError),
    /// The runtime could not be created.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// A frame could not be read, decoded or written.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The attester failed.
    #[error("attester: {0}")]
    Attester(#[from] AttesterError),
    /// A release bundle could not be parsed or opened: `bundle_malformed`,
    /// `bundle_too_large` or `bundle_tampered`. The message names the entry,
    /// never a value.
    #[error("release bundle refused: {0}")]
    Bundle(#[from] enclet_sealed::Error),
    /// An opened release was refused: `bundle_expired` or `unknown_plugin`.
    #[error("release refused: {0}")]
    Release(#[from] ReleaseError),
    /// A publisher manifest or signature was refused (see `server/provenance.rs`).
    #[error("plugin manifest refused: {0}")]
    Manifest(#[from] enclet_manifest::ManifestError),
    /// The enclave requires signed plugins and the load carried no manifest.
    #[error(
        "this enclave loads only plugins with a signed manifest (it has publisher keys); none came with this load"
    )]
    Unsigned,
    /// The plugin event log refused an entry.
    #[error(transparent)]
    EventLog(#[from] EventLogError),
    /// A revocation list was malformed or not signed by the capability root.
    #[error(transparent)]
    Revocation(#[from] enclet_capability::CapabilityError),
    /// A revocation list arrived but this enclave has no capability root.
    #[error("this enclave has no --capability-root: it cannot check a revocation list")]
    NoCapabilityRoot,
    /// A revocation list older than the one in force.
    #[error("revocation list {got} is older than the one in force ({applied})")]
    StaleRevocations {
        /// The sequence in force.
        applied: u64,
        /// The sequence offered.
        got: u64,
    },
    /// The plugin, or the publisher that signed it, is revoked.
    #[error("{} {value} is revoked", kind.as_str())]
    Revoked {
        /// Plugin or publisher.
        kind: enclet_capability::RevocationKind,
        /// Its measurement or key fingerprint (hex).
        value: String,
    },
    /// Attestation was requested but no attester is configured.
    #[error("no attester configured")]
    NoAttester,
    /// A request field is out of range.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Accepting connections kept failing (see
    /// [`ACCEPT_FAILURE_LIMIT`](crate::server::ACCEPT_FAILURE_LIMIT)): the
    /// listener is unusable and the server has stopped.
    #[error("accepting connections failed {failures} times in a row: {reason}")]
    Listen {
        /// Consecutive failures.
        failures: u32,
        /// The last OS error.
        reason: String,
    },
    /// A bug or an unexpected failure of a background task.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Stable `snake_case` code, sent to the parent in error responses.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Load(e) => e.code(),
            Self::Invoke(e) => e.code(),
            Self::Limits(e) => e.code(),
            Self::Runtime(e) => e.code(),
            Self::Protocol(e) => e.code(),
            // A bad name in a parsed bundle is a malformed bundle.
            Self::Bundle(enclet_sealed::Error::InvalidName(_)) => "bundle_malformed",
            Self::Bundle(e) => e.code(),
            Self::Release(e) => e.code(),
            Self::Attester(AttesterError::Unsupported { .. }) => "unsupported",
            Self::Attester(AttesterError::CredentialRejected(_)) => "credential_rejected",
            Self::InvalidRequest(_) | Self::Attester(AttesterError::Input(_)) => "invalid_request",
            Self::Attester(_) => "attester_failed",
            Self::Manifest(e) => manifest_code(e),
            Self::Unsigned => "unsigned_plugin",
            Self::EventLog(EventLogError::Full) => "event_log_full",
            Self::EventLog(_) => "event_log",
            Self::NoAttester => "no_attester",
            Self::Revocation(e) => e.code(),
            Self::NoCapabilityRoot => "no_capability_root",
            Self::StaleRevocations { .. } => "stale_revocation_list",
            Self::Revoked {
                kind: enclet_capability::RevocationKind::Publisher,
                ..
            } => "revoked_publisher",
            Self::Revoked { .. } => "revoked_plugin",
            Self::Listen { .. } => "listen_failed",
            Self::Internal(_) => "internal",
        }
    }
}

fn manifest_code(e: &enclet_manifest::ManifestError) -> &'static str {
    use enclet_manifest::ManifestError as M;
    match e {
        M::UnknownCapability(_) => "unknown_capability",
        M::UnsupportedHostApi { .. } => "unsupported_host_api",
        M::ComponentMismatch { .. } => "component_mismatch",
        M::Key(_) | M::MalformedSignature(_) | M::BadSignature => "untrusted_signature",
        _ => "invalid_manifest",
    }
}
