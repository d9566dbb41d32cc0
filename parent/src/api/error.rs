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
        "invalid_measurement" | "invalid_name" | "invalid_request" | "invalid_limits" => {
            StatusCode::BAD_REQUEST
        }
        "body_too_large" | "component_too_large" | "input_too_large" | "frame_too_large" => {
            StatusCode::PAYLOAD_TOO_LARGE
        }
        "invalid_component" | "too_many_plugins" | "out_of_fuel" | "deadline_exceeded"
        | "memory_limit" | "table_limit" | "output_too_large" | "guest_trap" | "plugin_error"
        | "response_too_large" => StatusCode::UNPROCESSABLE_ENTITY,
        "enclave_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        "no_attester" => StatusCode::NOT_IMPLEMENTED,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self)).into_response()
    }
}
