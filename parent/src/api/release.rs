//! The release endpoints: the relay's status, and a round on demand.
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | `GET` | `/v1/release` | — | [`ReleaseStatus`] |
//! | `POST` | `/v1/release` | none or `{}` (at most [`MAX_JSON_BODY`] bytes) | [`ReleaseStatus`] after a round |
//!
//! `POST` runs a round now (or joins the one about to start) and answers the
//! status after it; a failed round answers 502 with the round's code (the
//! control plane's, e.g. `policy_denied` or `transport`, or the enclave's)
//! and a message naming the step. Without `--control-plane`, `POST` answers
//! 409 `not_configured` and `GET` says `configured: false`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde::Deserialize;

use super::attest::MAX_JSON_BODY;
use super::{ApiError, ApiState};
use crate::relay::ReleaseStatus;

/// `POST /v1/release` body: nothing, or an empty object.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunJson {}

/// `GET /v1/release`
pub(super) async fn status(State(state): State<Arc<ApiState>>) -> Json<ReleaseStatus> {
    Json(state.relay.status())
}

/// `POST /v1/release`
pub(super) async fn run(
    State(state): State<Arc<ApiState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ReleaseStatus>, ApiError> {
    let body = super::routes::body_bytes(body)?;
    if !body.is_empty() {
        let _: RunJson = super::attest::parse(Ok(body))?;
    }
    match state.relay.run_now().await {
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_configured",
            "no control plane is configured (--control-plane)",
        )),
        Some(Ok(status)) => Ok(Json(status)),
        Some(Err(e)) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            e.code(),
            e.to_string(),
        )),
    }
}

/// The route's body bound.
pub(super) const MAX_BODY: usize = MAX_JSON_BODY;
