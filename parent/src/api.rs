//! The operator API: HTTP/1.1 over a Unix socket (or loopback TCP).
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | `POST` | `/v1/plugins?name=N[&fuel=N&deadline_ms=N&…]` | component bytes | JSON `{name, measurement, size_bytes, newly_loaded, limits}` |
//! | `GET` | `/v1/plugins` | — | JSON `{plugins: [{name, measurement, size_bytes, limits}]}` |
//! | `POST` | `/v1/plugins/{measurement}/invoke` | input bytes | output bytes (`application/octet-stream`) |
//! | `DELETE` | `/v1/plugins/{measurement}` | — | JSON `{name, measurement, size_bytes, limits}` of the unloaded plugin, once its running calls finished; see [`lifecycle`] |
//! | `PATCH` | `/v1/plugins/{measurement}/limits` | JSON `{fuel?, deadline_ms?, …}` | JSON `{name, measurement, size_bytes, limits}` under the new limits |
//! | `GET` | `/v1/health` | — | JSON `{status, enclave: {protocol_version, plugins, attester, uptime_ms}}` |
//! | `GET` | `/v1/attester/identity` | — | JSON `{attester, ek_public, ek_certificate, ak_public, ak_name}` (hex) |
//! | `POST` | `/v1/attester/activate` | JSON `{id_object, encrypted_secret}` (hex) | JSON `{secret}` (hex) |
//! | `POST` | `/v1/attest` | JSON `{nonce}` (hex) | JSON `{evidence: {kind, …}, event_log, public_key}` (hex); see [`attest`] |
//! | `GET` | `/v1/release` | — | JSON `{configured, last_round: {ok, at, code?, message?}, expires_at?, plugins: [{measurement, name, secrets}]}`; see [`release`] |
//! | `POST` | `/v1/release` | none or `{}` | the same, after a round (502 with the round's code if it failed) |
//!
//! The optional limits of a load are `fuel`, `deadline_ms`, `max_memory_bytes`,
//! `max_table_elements`, `max_input_bytes` and `max_output_bytes`; each one
//! left out takes the enclave's default, and `limits` in the answer are those
//! in effect. A load of new bytes (`newly_loaded`) also triggers a release
//! round in the background (see [`crate::relay`]); its answer does not wait.
//!
//! Every failure is JSON `{code, message}` with a status that fits it: 400 for
//! a malformed request (`invalid_measurement`, `invalid_name`,
//! `invalid_request` for an unknown or repeated query parameter,
//! `invalid_limits` for a limit that is not a decimal `u64` or that the
//! enclave refuses: zero where zero is meaningless, above its hard maxima), 404 for
//! `unknown_plugin` and unknown paths (`not_found`), 405 `method_not_allowed`,
//! 413 for bodies over the limit (`body_too_large`) and
//! `component_too_large`/`input_too_large`, 422 when the plugin or component
//! is at fault (`invalid_component`, `out_of_fuel`, `deadline_exceeded`,
//! `memory_limit`, `output_too_large`, `guest_trap`, `plugin_error`, …),
//! 503 `enclave_unavailable`, 503 `enclave_busy` (the queue of requests
//! waiting to be written to the enclave is full, `--write-queue-bytes`;
//! nothing was sent, retry later), 504 `enclave_timeout` (no answer within the
//! parent's `--request-timeout-secs`; the message says whether the request
//! was never sent — it will not run — or was sent and may still complete, so
//! a load that timed out may still appear in the plugin list), 501
//! `no_attester` / `unsupported`, 422 `credential_rejected`, 500 otherwise.
//! The codes are the enclave's own, so operators see exactly why a call
//! failed.
//!
//! Bodies (components and inputs) are accepted up to `--max-body-bytes`,
//! which defaults to and cannot exceed [`MAX_BODY_BYTES`] (32 MiB): the
//! largest body the enclave's default frame carries and its default component
//! limit. Within it, the enclave judges each body against the plugin's own
//! limits.

pub mod attest;
mod error;
mod lifecycle;
pub mod release;
mod routes;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post};
use enclet_protocol::MAX_BODY_BYTES;

pub use error::{ApiError, status_for};

use crate::client::Reconnecting;
use crate::relay::Relay;

/// Shared state of the API handlers.
#[derive(Debug)]
pub struct ApiState {
    /// The connection to the enclave (shared with the relay).
    pub enclave: Arc<Reconnecting>,
    /// The control-plane relay ([`Relay::disabled`] without a control plane).
    pub relay: Relay,
}

/// Builds the operator API router. Bodies over `max_body_bytes` are refused
/// with 413 `body_too_large`; the bound is capped at [`MAX_BODY_BYTES`], so
/// every accepted body fits a frame the enclave reads.
pub fn router(state: Arc<ApiState>, max_body_bytes: u32) -> Router {
    let max_body_bytes = usize::try_from(max_body_bytes.min(MAX_BODY_BYTES)).unwrap_or(usize::MAX);
    Router::new()
        .route("/v1/plugins", post(routes::load).get(routes::list))
        .route("/v1/plugins/{measurement}", delete(lifecycle::unload))
        .route("/v1/plugins/{measurement}/invoke", post(routes::invoke))
        .route(
            "/v1/plugins/{measurement}/limits",
            patch(lifecycle::set_limits),
        )
        .route("/v1/health", get(routes::health))
        .route("/v1/attester/identity", get(attest::identity))
        .route("/v1/attester/activate", post(attest::activate))
        .route("/v1/attest", post(attest::attest))
        .route(
            "/v1/release",
            get(release::status)
                .post(release::run)
                .layer(DefaultBodyLimit::max(release::MAX_BODY)),
        )
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}
