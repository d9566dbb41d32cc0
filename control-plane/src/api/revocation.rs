//! Revocation routes: operators revoke (admin), parents fetch the signed list
//! and report what their enclave enforced.
//!
//! | route | who | what |
//! |---|---|---|
//! | `POST /v1/admin/revocations` | admin token | record a [`RevocationRequest`]: 201 new, 200 already revoked |
//! | `GET /v1/admin/revocations` | admin token | every revocation, in order |
//! | `GET /v1/revocations` | any TLS client (parents) | the list signed with the capability root |
//! | `POST /v1/revocations/reports` | any TLS client (parents) | an [`EnforcementReport`]: 204 |
//!
//! * **Revocations are never withdrawn**; revoking the same kind and value
//!   again returns the first revocation (200) and records nothing. A new one
//!   commits with its `revocation` audit entry (kind, value, reason,
//!   sequence). At most [`crate::store::MAX_REVOCATIONS`]: more is 409
//!   `revocation_limit`.
//! * **The signed list** is built and signed per request (at most 4096
//!   entries), with `issued_at` = the service clock: the list itself is what
//!   an enclave trusts, not this route, so it needs no admin token.
//! * **An enforcement report is a report**: it is checked for shape and
//!   bounds, recorded in the audit log (`revocation_enforced`, with the
//!   reporting peer) and trusted for nothing else. A report larger than
//!   one audit entry holds is recorded as several entries (`part` of
//!   `parts`).

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse as _, Response};
use enclet_capability::{RevocationKind, Revocations};
use enclet_control_plane_api::{
    EnforcementReport, Hex, RevocationInfo, RevocationInfoList, RevocationRequest,
    SignedRevocations,
};
use serde_json::{Value, json};

use super::{ApiError, Peer, authorize, read_json, respond};
use crate::audit::{AuditEvent, AuditKind};
use crate::service::{ServiceState, blocking};
use crate::store::{Revocation, RevocationRecord};

/// Largest `POST /v1/admin/revocations` body.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024;
/// Most entries (`unloaded` and `tokens_dropped` together) in a report.
pub const MAX_REPORT_ENTRIES: usize = 4096;
/// Largest `POST /v1/revocations/reports` body.
pub const MAX_REPORT_BYTES: usize = 1024 * 1024;
/// Values per `revocation_enforced` audit entry (keeps each under the
/// audit log's detail bound).
const VALUES_PER_ENTRY: usize = 64;

fn info(r: Revocation) -> RevocationInfo {
    RevocationInfo {
        sequence: r.sequence,
        kind: r.record.kind.as_str().to_owned(),
        value: r.record.value,
        reason: r.record.reason,
        revoked_ms: r.record.revoked_ms,
    }
}

fn refused(e: ApiError) -> Response {
    tracing::info!(code = e.code, message = %e.message, "request refused");
    e.into_response()
}

/// `POST /v1/admin/revocations`.
pub(super) async fn revoke(
    State(state): State<Arc<ServiceState>>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let outcome = async {
        authorize(&state, &headers)?;
        let req: RevocationRequest = read_json(body, MAX_REQUEST_BYTES).await?;
        blocking(move || {
            let now = state.clock.now_ms();
            let record = RevocationRecord::new(&req.kind, &req.value, req.reason, now)?;
            let detail = json!({
                "kind": record.kind.as_str(),
                "value": record.value,
                "reason": record.reason,
                "sequence": null,
            });
            let event = ServiceState::event(now, AuditKind::Revocation, None, &peer.0, detail);
            let revoked = state.store.revoke(&record, event)?;
            if revoked.created {
                tracing::info!(kind = record.kind.as_str(), value = %record.value, sequence = revoked.revocation.sequence, peer = %peer.0, "revoked");
            }
            Ok((revoked.created, info(revoked.revocation)))
        })
        .await
    }
    .await;
    match outcome {
        Ok((true, info)) => (StatusCode::CREATED, axum::Json(info)).into_response(),
        Ok((false, info)) => axum::Json(info).into_response(),
        Err(e) => refused(e),
    }
}

/// `GET /v1/admin/revocations`.
pub(super) async fn list(State(state): State<Arc<ServiceState>>, headers: HeaderMap) -> Response {
    respond(
        async {
            authorize(&state, &headers)?;
            blocking(move || {
                let revocations = state.store.revocations()?.into_iter().map(info).collect();
                Ok(RevocationInfoList { revocations })
            })
            .await
        }
        .await,
    )
}

/// `GET /v1/revocations`.
pub(super) async fn signed(State(state): State<Arc<ServiceState>>) -> Response {
    respond(blocking(move || signed_list(&state)).await)
}

/// Every revocation, signed with the capability root at the service clock.
fn signed_list(state: &ServiceState) -> Result<SignedRevocations, ApiError> {
    let stored = state.store.revocations()?;
    let sequence = stored.last().map_or(0, |r| r.sequence);
    let list = Revocations {
        sequence,
        issued_at: state.clock.now_ms() / 1000,
        revoked: stored
            .into_iter()
            .map(|r| (r.record.kind, r.record.value))
            .collect::<BTreeSet<_>>(),
    };
    let bytes = list
        .sign(state.issuer.key())
        .map_err(|e| ApiError::internal(&format!("signing the revocation list: {e}")))?;
    Ok(SignedRevocations {
        sequence,
        list: Hex(bytes),
    })
}

/// `POST /v1/revocations/reports`.
pub(super) async fn report(
    State(state): State<Arc<ServiceState>>,
    Extension(peer): Extension<Peer>,
    body: Body,
) -> Response {
    let outcome = async {
        let report: EnforcementReport = read_json(body, MAX_REPORT_BYTES).await?;
        check_report(&report)?;
        blocking(move || {
            let known = state.store.revocations()?.last().map_or(0, |r| r.sequence);
            if report.sequence > known {
                return Err(ApiError::invalid(format!(
                    "sequence: {} is ahead of this control plane's list ({known})",
                    report.sequence
                )));
            }
            let now = state.clock.now_ms();
            let events = report_events(now, &peer.0, &report);
            state.store.append_audit(events)?;
            tracing::info!(sequence = report.sequence, unloaded = report.unloaded.len(), tokens_dropped = report.tokens_dropped.len(), peer = %peer.0, "revocation enforcement reported");
            Ok(())
        })
        .await
    }
    .await;
    match outcome {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => refused(e),
    }
}

/// Bounds and shape: each value hex of its kind's length.
fn check_report(report: &EnforcementReport) -> Result<(), ApiError> {
    let total = report
        .unloaded
        .len()
        .saturating_add(report.tokens_dropped.len());
    if total > MAX_REPORT_ENTRIES {
        return Err(ApiError::invalid(format!(
            "unloaded and tokens_dropped: {total} entries, more than {MAX_REPORT_ENTRIES}"
        )));
    }
    for (field, kind, values) in [
        ("unloaded", RevocationKind::Plugin, &report.unloaded),
        (
            "tokens_dropped",
            RevocationKind::Token,
            &report.tokens_dropped,
        ),
    ] {
        for (i, value) in values.iter().enumerate() {
            kind.value(value)
                .map_err(|e| ApiError::invalid(format!("{field}[{i}]: {e}")))?;
        }
    }
    Ok(())
}

/// The report as `revocation_enforced` entries, [`VALUES_PER_ENTRY`] values
/// each (one entry for a report that small).
fn report_events(now: u64, peer: &str, report: &EnforcementReport) -> Vec<AuditEvent> {
    let lower = |v: &String| Value::String(v.to_ascii_lowercase());
    let values: Vec<(bool, Value)> = report
        .unloaded
        .iter()
        .map(|v| (true, lower(v)))
        .chain(report.tokens_dropped.iter().map(|v| (false, lower(v))))
        .collect();
    let chunks: Vec<&[(bool, Value)]> = if values.is_empty() {
        vec![values.as_slice()]
    } else {
        values.chunks(VALUES_PER_ENTRY).collect()
    };
    let parts = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let pick = |unloaded: bool| -> Vec<Value> {
                chunk
                    .iter()
                    .filter(|(u, _)| *u == unloaded)
                    .map(|(_, v)| v.clone())
                    .collect()
            };
            let detail = json!({
                "sequence": report.sequence,
                "unloaded": pick(true),
                "tokens_dropped": pick(false),
                "peer": peer,
                "part": i.saturating_add(1),
                "parts": parts,
            });
            ServiceState::event(now, AuditKind::RevocationEnforced, None, peer, detail)
        })
        .collect()
}
