//! [`ApiError`]: a refusal or failure as the documented JSON answer.
//!
//! Every failure leaves the service as `{"code", "message"}` with the status
//! from [`status_for`], the one place that maps codes to statuses (the table
//! in `docs/control-plane.md`). Messages name sessions, codes, rules and
//! secret names, never a secret value; [`ApiError::internal`] logs its detail
//! and answers a generic message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use enclet_control_plane_api::ErrorBody;

use crate::store::{NonceRefusal, StoreError};
use crate::verify::Refusal;

/// The HTTP status of an error code.
#[must_use]
pub fn status_for(code: &str) -> StatusCode {
    match code {
        "invalid_request" | "wrong_attester" => StatusCode::BAD_REQUEST,
        "unauthorized" => StatusCode::UNAUTHORIZED,
        "unknown_session" | "unknown_secret" | "not_found" => StatusCode::NOT_FOUND,
        "method_not_allowed" => StatusCode::METHOD_NOT_ALLOWED,
        "revocation_limit" => StatusCode::CONFLICT,
        "request_timeout" => StatusCode::REQUEST_TIMEOUT,
        "body_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "session_expired"
        | "ek_certificate_rejected"
        | "ak_not_activated"
        | "nonce_unknown"
        | "nonce_expired"
        | "nonce_replayed"
        | "evidence_rejected"
        | "event_log_mismatch"
        | "event_log_unbound"
        | "nonce_mismatch"
        | "image_not_allowed"
        | "debug_enclave"
        | "policy_denied" => StatusCode::FORBIDDEN,
        "store_unavailable" | "overloaded" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A failed request: a stable code and a message safe to show the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Stable `snake_case` code.
    pub code: &'static str,
    /// Why (never a secret value).
    pub message: String,
}

impl ApiError {
    /// An error with `code` and `message`.
    #[must_use]
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// 400 `invalid_request`.
    #[must_use]
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("invalid_request", message)
    }

    /// 500 `internal`: logs `detail`, answers a generic message.
    #[must_use]
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new("internal", "internal error; see the control plane's log")
    }

    /// The status this error is answered with.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        status_for(self.code)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        Self::new(r.code, r.message)
    }
}

impl From<NonceRefusal> for ApiError {
    fn from(r: NonceRefusal) -> Self {
        Self::new(r.code(), r.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidSecret(m) => Self::invalid(m),
            StoreError::InvalidRevocation { field, reason } => {
                Self::invalid(format!("{field}: {reason}"))
            }
            StoreError::RevocationLimit(max) => Self::new(
                "revocation_limit",
                format!("{max} revocations are recorded, the most a signed list carries"),
            ),
            StoreError::Unavailable(_) | StoreError::Database(_) | StoreError::Io { .. } => {
                tracing::error!(error = %e, code = e.code(), "store failure");
                Self::new(
                    "store_unavailable",
                    "the store could not commit; nothing was released",
                )
            }
            other => Self::internal(&other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody {
            code: self.code.to_owned(),
            message: self.message,
        };
        (status, axum::Json(body)).into_response()
    }
}
