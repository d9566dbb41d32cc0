//! Handlers of the operator API.

mod load_query;

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use enclet_protocol::{Limits, LimitsRequest, LoadResult, PluginInfo, Request, SignedManifest};
use serde::Serialize;

use super::{ApiError, ApiState};
use crate::Error;
use crate::client::EnclaveClient;

/// Longest accepted plugin name.
const MAX_NAME_LEN: usize = 64;

#[derive(Debug, Serialize)]
#[allow(
    clippy::struct_field_names,
    reason = "`newly_loaded` is the documented JSON field name"
)]
struct Loaded {
    name: String,
    measurement: String,
    size_bytes: u64,
    newly_loaded: bool,
    /// The limits in effect: for bytes already loaded, those of the first load.
    limits: Limits,
}

/// A plugin as the API shows it.
#[derive(Debug, Serialize)]
pub(super) struct PluginJson {
    name: String,
    measurement: String,
    size_bytes: u64,
    limits: Limits,
}

impl From<PluginInfo> for PluginJson {
    fn from(p: PluginInfo) -> Self {
        Self {
            name: p.name,
            measurement: p.measurement.to_hex(),
            size_bytes: p.size_bytes,
            limits: p.limits,
        }
    }
}

/// `POST /v1/plugins?name=N[&fuel=N&deadline_ms=N&max_memory_bytes=N&…]`
///
/// Limits not given take the enclave's defaults: only those given are sent
/// (see `load_query`). Loading
/// is idempotent by measurement: bytes already loaded keep their first name
/// and limits, whatever this request asks for; the answer's `limits` are the
/// ones in effect and `newly_loaded` is false.
pub(super) async fn load(
    State(state): State<Arc<ApiState>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: axum::http::HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<impl Serialize>, ApiError> {
    let Query(pairs) = query.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("malformed query: {}", e.body_text()),
        )
    })?;
    let load_query::LoadQuery { name, limits } = load_query::parse(pairs)?;
    check_name(&name)?;
    let signed = signed_manifest(&headers)?;
    let component = body_bytes(body)?;
    let client = state.enclave.client().await?;
    let loaded = load_partial(&client, name, component.to_vec(), limits, signed).await?;
    tracing::info!(
        plugin = %loaded.info.name,
        measurement = %loaded.info.measurement,
        newly_loaded = loaded.newly_loaded,
        requested_limits = limits.is_some(),
        "plugin load"
    );
    if loaded.newly_loaded {
        // New code in the event log: re-attest, without delaying this answer.
        state.relay.trigger();
    }
    Ok(Json(Loaded {
        name: loaded.info.name,
        measurement: loaded.info.measurement.to_hex(),
        size_bytes: loaded.info.size_bytes,
        newly_loaded: loaded.newly_loaded,
        limits: loaded.info.limits,
    }))
}

/// Sends a `Load` carrying exactly the limits given; the enclave resolves the
/// others against its own defaults.
async fn load_partial(
    client: &EnclaveClient,
    name: String,
    component: Vec<u8>,
    limits: Option<LimitsRequest>,
    signed: Option<SignedManifest>,
) -> Result<LoadResult, Error> {
    let request = Request::Load {
        name,
        component,
        limits,
        signed,
    };
    match client.request(&request).await? {
        enclet_protocol::Response::Loaded(loaded) => Ok(loaded),
        enclet_protocol::Response::Error(body) => Err(Error::Enclave(body)),
        other => Err(Error::UnexpectedResponse {
            expected: "loaded",
            got: format!("{other:?}").chars().take(80).collect(),
        }),
    }
}

/// `GET /v1/plugins`
pub(super) async fn list(
    State(state): State<Arc<ApiState>>,
) -> Result<Json<impl Serialize>, ApiError> {
    #[derive(Serialize)]
    struct Plugins {
        plugins: Vec<PluginJson>,
    }
    let plugins = state.enclave.client().await?.plugins().await?;
    Ok(Json(Plugins {
        plugins: plugins.into_iter().map(PluginJson::from).collect(),
    }))
}

/// `POST /v1/plugins/{measurement}/invoke`
pub(super) async fn invoke(
    State(state): State<Arc<ApiState>>,
    Path(measurement): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let plugin = super::lifecycle::parse_measurement(&measurement)?;
    let input = body_bytes(body)?;
    let output = state
        .enclave
        .client()
        .await?
        .invoke(plugin, input.to_vec())
        .await
        .inspect_err(|e| {
            // The plugin's capability token expired: re-attest for a fresh one.
            if matches!(e, crate::Error::Enclave(body) if body.code == "capability_expired") {
                tracing::info!(%plugin, "capability token expired: starting a release round");
                state.relay.trigger();
            }
        })?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], output).into_response())
}

/// `GET /v1/health`
pub(super) async fn health(
    State(state): State<Arc<ApiState>>,
) -> Result<Json<impl Serialize>, ApiError> {
    #[derive(Serialize)]
    struct Healthy {
        status: &'static str,
        enclave: enclet_protocol::Health,
    }
    let enclave = state.enclave.client().await?.health().await?;
    Ok(Json(Healthy {
        status: "ok",
        enclave,
    }))
}

/// Unknown paths.
pub(super) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// Known path, wrong method.
pub(super) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this endpoint",
    )
}

pub(super) fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        let status = e.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "body_too_large"
        } else {
            "invalid_body"
        };
        ApiError::new(status, code, e.body_text())
    })
}

/// Header carrying the publisher's manifest, base64 (standard alphabet).
pub(crate) const MANIFEST_HEADER: &str = "enclet-manifest";
/// Header carrying the manifest's signature (cosign's base64 text).
pub(crate) const SIGNATURE_HEADER: &str = "enclet-signature";

/// The manifest and signature headers of a load: both or neither. The parent
/// only decodes them; the enclave judges them.
fn signed_manifest(headers: &axum::http::HeaderMap) -> Result<Option<SignedManifest>, ApiError> {
    use base64::Engine as _;
    let bad = |why: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", why);
    match (headers.get(MANIFEST_HEADER), headers.get(SIGNATURE_HEADER)) {
        (None, None) => Ok(None),
        (Some(manifest), Some(signature)) => {
            let manifest = base64::engine::general_purpose::STANDARD
                .decode(manifest.as_bytes())
                .map_err(|e| bad(format!("{MANIFEST_HEADER} is not base64: {e}")))?;
            Ok(Some(SignedManifest {
                manifest,
                signature: signature.as_bytes().to_vec(),
            }))
        }
        _ => Err(bad(format!(
            "{MANIFEST_HEADER} and {SIGNATURE_HEADER} come together"
        ))),
    }
}

fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_name",
            format!("a plugin name is 1..={MAX_NAME_LEN} characters of [A-Za-z0-9._-]"),
        ))
    }
}
