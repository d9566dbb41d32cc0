//! The HTTPS API: routes exactly as `docs/control-plane.md` lists them, body
//! limits, JSON errors and admin authentication.
//!
//! * Bodies are read through a size bound: the evidence and session routes
//!   take at most `max_body_bytes`, a secret value at most the store's
//!   64 KiB, the revocation routes their own bounds ([`revocation`]); more
//!   is 413 `body_too_large`. Unparsable JSON, unknown fields or
//!   bad hex are 400 `invalid_request` (not audited: no decision was made).
//! * Every failure is an [`ErrorBody`](enclet_control_plane_api::ErrorBody)
//!   with the status of [`status_for`].
//! * Admin routes need `Authorization: Bearer <admin.token>` ([`auth`]),
//!   compared in constant time; else 401 `unauthorized`.
//! * The connection layer ([`serve`]) puts the client's [`Peer`] identity in
//!   each request's extensions; handlers write it into audit entries.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use bytes::Bytes;
use enclet_control_plane_api::{self as wire, Activation, EvidenceSubmission, Health, OpenSession};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use serde::de::DeserializeOwned;

pub mod admin;
pub mod auth;
mod error;
pub mod revocation;
pub mod serve;

pub use auth::AdminToken;
pub use error::{ApiError, status_for};

use crate::service::ServiceState;
use crate::store::SessionId;

/// Who sent a request: the client certificate's identity, or the remote
/// address (see [`crate::tls::peer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer(pub String);

type AppState = State<Arc<ServiceState>>;

/// The API's routes over `state`.
pub fn router(state: Arc<ServiceState>) -> Router {
    Router::new()
        .route(wire::SESSIONS, post(open_session))
        .route("/v1/sessions/{session}/activation", post(activation))
        .route("/v1/sessions/{session}/nonces", post(nonces))
        .route("/v1/sessions/{session}/evidence", post(evidence))
        .route(wire::HEALTH, get(health))
        .route(wire::ADMIN_SECRETS, get(admin::list))
        .route(
            "/v1/admin/secrets/{name}",
            put(admin::put).delete(admin::remove),
        )
        .route(
            wire::ADMIN_REVOCATIONS,
            get(revocation::list).post(revocation::revoke),
        )
        .route(wire::REVOCATIONS, get(revocation::signed))
        .route(wire::REVOCATION_REPORTS, post(revocation::report))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// Reads at most `limit` bytes of `body`.
///
/// # Errors
/// 413 `body_too_large` over the limit; 400 `invalid_request` if the body
/// breaks off.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(ApiError::new(
            "body_too_large",
            format!("the body is larger than this route's {limit} bytes"),
        )),
        Err(e) => Err(ApiError::invalid(format!("reading the body: {e}"))),
    }
}

/// Reads and parses a JSON body of at most `limit` bytes.
///
/// # Errors
/// As [`read_body`]; 400 `invalid_request` for JSON that does not parse into `T`.
pub async fn read_json<T: DeserializeOwned>(body: Body, limit: usize) -> Result<T, ApiError> {
    let bytes = read_body(body, limit).await?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::invalid(format!("body: {e}")))
}

fn session_id(text: &str) -> Result<SessionId, ApiError> {
    text.parse()
        .map_err(|_| ApiError::invalid("a session id is 32 hex characters"))
}

fn respond<T: serde::Serialize>(result: Result<T, ApiError>) -> Response {
    match result {
        Ok(value) => axum::Json(value).into_response(),
        Err(e) => {
            tracing::info!(code = e.code, message = %e.message, "request refused");
            e.into_response()
        }
    }
}

async fn open_session(
    State(state): AppState,
    Extension(peer): Extension<Peer>,
    body: Body,
) -> Response {
    let limit = state.limits.max_body_bytes;
    respond(
        async {
            let req: OpenSession = read_json(body, limit).await?;
            crate::session::open(state, req, peer.0).await
        }
        .await,
    )
}

async fn activation(
    State(state): AppState,
    Path(session): Path<String>,
    Extension(peer): Extension<Peer>,
    body: Body,
) -> Response {
    let limit = state.limits.max_body_bytes;
    respond(
        async {
            let id = session_id(&session)?;
            let req: Activation = read_json(body, limit).await?;
            crate::session::activate(state, id, req, peer.0).await
        }
        .await,
    )
}

async fn nonces(
    State(state): AppState,
    Path(session): Path<String>,
    Extension(peer): Extension<Peer>,
) -> Response {
    respond(
        async {
            let id = session_id(&session)?;
            crate::session::issue_nonce(state, id, peer.0).await
        }
        .await,
    )
}

async fn evidence(
    State(state): AppState,
    Path(session): Path<String>,
    Extension(peer): Extension<Peer>,
    body: Body,
) -> Response {
    let limit = state.limits.max_body_bytes;
    respond(
        async {
            let id = session_id(&session)?;
            let req: EvidenceSubmission = read_json(body, limit).await?;
            crate::release::submit(state, id, req, peer.0).await
        }
        .await,
    )
}

async fn health() -> Response {
    axum::Json(Health {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
    .into_response()
}

async fn not_found() -> Response {
    ApiError::new("not_found", "no such route").into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::new("method_not_allowed", "this route does not take that method").into_response()
}

/// The admin bearer token from `headers`, checked.
fn authorize(state: &ServiceState, headers: &HeaderMap) -> Result<(), ApiError> {
    state
        .admin
        .check(headers.get(axum::http::header::AUTHORIZATION))
}

#[cfg(test)]
mod tests;
