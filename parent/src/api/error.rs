//! JSON error answers with a status per code.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::Error;

/// An operator API failure: a stable code, a message and an HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    /// Stable `snake_case` code.
    pub code: String,
    /// Human-readable reason.
    pub message: String,
    #[serde(skip)]
    status: StatusCode,
}

impl ApiError {
    /// An error with an explicit status.
    #[must_use]
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            status,
        }
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let code = e.code().to_owned();
        let message = match &e {
            Error::Enclave(body) => body.message.clone(),
            other => other.to_string(),
        };
        Self {
            status: status_for(&code),
            code,
            message,
        }
    }
}

/// The HTTP status for an enclave or parent error code.
#[must_use]
pub fn status_for(code: &str) -> StatusCode {
    match code {
        "unknown_plugin" | "not_found" => StatusCode::NOT_FOUND,
        "denied" | "revoked_plugin" | "revoked_publisher" => StatusCode::FORBIDDEN,
        "invalid_measurement" | "invalid_name" | "invalid_request" | "invalid_limits" => {
            StatusCode::BAD_REQUEST
        }
        "body_too_large" | "component_too_large" | "input_too_large" | "frame_too_large" => {
            StatusCode::PAYLOAD_TOO_LARGE
        }
        "invalid_component"
        | "too_many_plugins"
        | "out_of_fuel"
        | "deadline_exceeded"
        | "memory_limit"
        | "table_limit"
        | "output_too_large"
        | "guest_trap"
        | "plugin_error"
        | "response_too_large"
        | "credential_rejected"
        | "compile_timeout"
        | "start_limit"
        | "unsupported_import" => StatusCode::UNPROCESSABLE_ENTITY,
        "enclave_unavailable" | "enclave_busy" | "overloaded" | "capability_expired" => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        "throttled" => StatusCode::TOO_MANY_REQUESTS,
        "enclave_timeout" => StatusCode::GATEWAY_TIMEOUT,
        "no_attester" | "unsupported" => StatusCode::NOT_IMPLEMENTED,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_fitting_statuses() {
        for (code, status) in [
            ("unknown_plugin", 404),
            ("invalid_measurement", 400),
            ("invalid_limits", 400),
            ("body_too_large", 413),
            ("input_too_large", 413),
            ("invalid_component", 422),
            ("out_of_fuel", 422),
            ("deadline_exceeded", 422),
            ("memory_limit", 422),
            ("output_too_large", 422),
            ("guest_trap", 422),
            ("plugin_error", 422),
            ("denied", 403),
            ("revoked_plugin", 403),
            ("revoked_publisher", 403),
            ("capability_expired", 503),
            ("enclave_unavailable", 503),
            ("enclave_busy", 503),
            ("enclave_timeout", 504),
            ("no_attester", 501),
            ("unsupported", 501),
            ("credential_rejected", 422),
            ("compile_timeout", 422),
            ("start_limit", 422),
            ("unsupported_import", 422),
            ("overloaded", 503),
            ("throttled", 429),
            ("internal", 500),
            ("something_new", 500),
        ] {
            assert_eq!(status_for(code).as_u16(), status, "{code}");
        }
    }

    #[test]
    fn enclave_errors_keep_their_code_and_message() {
        let e = ApiError::from(Error::Enclave(enclet_protocol::ErrorBody::new(
            "memory_limit",
            "memory limit",
        )));
        assert_eq!(
            (e.status().as_u16(), e.code.as_str(), e.message.as_str()),
            (422, "memory_limit", "memory limit")
        );
        let e = ApiError::from(Error::Disconnected("gone".into()));
        assert_eq!(
            (e.status().as_u16(), e.code.as_str()),
            (503, "enclave_unavailable")
        );
    }
}
