//! Unloading a plugin and changing its limits.
//!
//! ```text
//! DELETE /v1/plugins/{measurement}          unload; 200 once running calls finished
//! PATCH  /v1/plugins/{measurement}/limits   body: {"fuel": N, "deadline_ms": N, …}
//! ```
//!
//! Both answer the plugin as `GET /v1/plugins` lists it (after an unload,
//! as it was). Errors: 400 `invalid_measurement`, 404 `unknown_plugin`;
//! for limits also 400 `invalid_limits` (a value above the enclave's hard
//! maxima, or no limit given) and `invalid_request` (a body that is not a
//! JSON object of known limit names with unsigned integer values).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use enclet_attestation::Measurement;
use enclet_protocol::LimitsRequest;

use super::routes::{PluginJson, body_bytes};
use super::{ApiError, ApiState};

/// `DELETE /v1/plugins/{measurement}`
pub(super) async fn unload(
    State(state): State<Arc<ApiState>>,
    Path(measurement): Path<String>,
) -> Result<Json<PluginJson>, ApiError> {
    let plugin = parse_measurement(&measurement)?;
    let info = state.enclave.client().await?.unload(plugin).await?;
    tracing::info!(plugin = %info.name, measurement = %info.measurement, "plugin unloaded");
    // The event log changed: re-attest, without delaying this answer.
    state.relay.trigger();
    Ok(Json(info.into()))
}

/// `PATCH /v1/plugins/{measurement}/limits`
pub(super) async fn set_limits(
    State(state): State<Arc<ApiState>>,
    Path(measurement): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<PluginJson>, ApiError> {
    let plugin = parse_measurement(&measurement)?;
    let limits = parse_limits(&body_bytes(body)?)?;
    let info = state
        .enclave
        .client()
        .await?
        .set_limits(plugin, limits)
        .await?;
    tracing::info!(plugin = %info.name, measurement = %info.measurement, limits = ?info.limits, "plugin limits changed");
    Ok(Json(info.into()))
}

pub(super) fn parse_measurement(measurement: &str) -> Result<Measurement, ApiError> {
    measurement.parse().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_measurement",
            format!("{e}, got {} characters", measurement.len()),
        )
    })
}

/// A JSON object with at least one known limit.
fn parse_limits(body: &[u8]) -> Result<LimitsRequest, ApiError> {
    let invalid = |why: String| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("the body must be a JSON object of limits: {why}"),
        )
    };
    // Only an object: serde would also read a struct from an array.
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
    if !value.is_object() {
        return Err(invalid("got another JSON value".to_owned()));
    }
    let limits: LimitsRequest = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
    if limits.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_limits",
            "no limit given: name at least one of fuel, deadline_ms, max_memory_bytes, \
             max_table_elements, max_input_bytes, max_output_bytes",
        ));
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_bodies_are_strict() {
        let l = parse_limits(br#"{"fuel": 5}"#).unwrap();
        assert_eq!(l.fuel, Some(5));
        assert_eq!(l.deadline_ms, None);
        for (body, code) in [
            (&b"{}"[..], "invalid_limits"),
            (br#"{"fule": 5}"#, "invalid_request"),
            (br#"{"fuel": null}"#, "invalid_request"),
            (br#"{"fuel": -1}"#, "invalid_request"),
            (br#"{"fuel": 5, "fuel": 6}"#, "invalid_request"),
            (b"[5]", "invalid_request"),
            (b"", "invalid_request"),
        ] {
            let e = parse_limits(body).unwrap_err();
            assert_eq!(e.code, code, "{}", String::from_utf8_lossy(body));
            assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn measurements_are_checked() {
        assert!(parse_measurement(&"ab".repeat(48)).is_ok());
        let e = parse_measurement("abc").unwrap_err();
        assert_eq!(e.code, "invalid_measurement");
    }
}
