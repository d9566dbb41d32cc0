//! Admin routes: secrets in, names and versions out (never a value).
//!
//! `PUT /v1/admin/secrets/{name}` takes the raw value as the body (at most
//! [`MAX_SECRET_VALUE`] bytes) and stores a new version; `GET
//! /v1/admin/secrets` lists names, versions and sizes; `DELETE` removes one.
//! Each change commits an `admin` audit entry (action, name, version, peer)
//! in the same transaction as the change.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use enclet_control_plane_api::{SecretInfo, SecretList};
use serde_json::json;

use super::{ApiError, Peer, authorize, read_body, respond};
use crate::audit::AuditKind;
use crate::service::{ServiceState, blocking};
use crate::store::{self, MAX_SECRET_VALUE};

fn info(i: store::SecretInfo) -> SecretInfo {
    SecretInfo {
        name: i.name,
        version: i.version,
        size_bytes: i.size_bytes,
        updated_ms: i.updated_ms,
    }
}

/// `PUT /v1/admin/secrets/{name}`.
pub(super) async fn put(
    State(state): State<Arc<ServiceState>>,
    Path(name): Path<String>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(
        async {
            authorize(&state, &headers)?;
            store::check_secret_name(&name)?;
            let value = zeroize::Zeroizing::new(read_body(body, MAX_SECRET_VALUE).await?.to_vec());
            blocking(move || {
                let now = state.clock.now_ms();
                let detail = json!({"action": "put", "name": name, "version": null});
                let event = ServiceState::event(now, AuditKind::Admin, None, &peer.0, detail);
                let stored = state.store.put_secret(&name, &value, now, event)?;
                tracing::info!(secret = %stored.name, version = stored.version, peer = %peer.0, "secret stored");
                Ok(info(stored))
            })
            .await
        }
        .await,
    )
}

/// `GET /v1/admin/secrets`.
pub(super) async fn list(State(state): State<Arc<ServiceState>>, headers: HeaderMap) -> Response {
    respond(
        async {
            authorize(&state, &headers)?;
            blocking(move || {
                let secrets = state.store.list_secrets()?.into_iter().map(info).collect();
                Ok(SecretList { secrets })
            })
            .await
        }
        .await,
    )
}

/// `DELETE /v1/admin/secrets/{name}`.
pub(super) async fn remove(
    State(state): State<Arc<ServiceState>>,
    Path(name): Path<String>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Response {
    respond(
        async {
            authorize(&state, &headers)?;
            store::check_secret_name(&name)?;
            blocking(move || {
                let now = state.clock.now_ms();
                let detail = json!({"action": "remove", "name": name, "version": null});
                let event = ServiceState::event(now, AuditKind::Admin, None, &peer.0, detail);
                match state.store.remove_secret(&name, event)? {
                    Some(removed) => Ok(info(removed)),
                    None => Err(ApiError::new(
                        "unknown_secret",
                        format!("no secret named {name:?}"),
                    )),
                }
            })
            .await
        }
        .await,
    )
}
