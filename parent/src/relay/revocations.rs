//! The revocation refresher: every `revocation_refresh` the parent fetches
//! the control plane's signed revocation list, hands it to the enclave
//! (opaque bytes; the enclave verifies it under its capability root) and
//! reports what the enclave enforced back to the control plane, which
//! records it in its audit log.
//!
//! * The list goes to the enclave on every refresh, changed or not: an
//!   enclave that restarted holds no list, and re-applying one is a no-op.
//! * A report is sent when the enclave applied a sequence for the first time
//!   or unloaded plugins / dropped tokens.
//! * Failures are logged and retried at the next refresh; they never stop
//!   the parent. An enclave without a capability root answers
//!   `no_capability_root`: said once, then quietly skipped.

use std::sync::Arc;
use std::time::Duration;

use enclet_control_plane_api::client::ControlPlaneClient;
use enclet_control_plane_api::{
    EnforcementReport, REVOCATION_REPORTS, REVOCATIONS, SignedRevocations,
};
use enclet_protocol::Enforced;
use hyper::Method;

use crate::client::Reconnecting;

/// Runs until the runtime stops.
pub(super) async fn run(client: ControlPlaneClient, enclave: Arc<Reconnecting>, every: Duration) {
    let mut reported: Option<u64> = None;
    let mut said_unsupported = false;
    loop {
        match refresh(&client, &enclave).await {
            Ok(enforced) => {
                if reported != Some(enforced.sequence)
                    || !enforced.unloaded.is_empty()
                    || !enforced.tokens_dropped.is_empty()
                {
                    match report(&client, &enforced).await {
                        Ok(()) => reported = Some(enforced.sequence),
                        Err(e) => tracing::warn!(reason = %e, "enforcement report not delivered"),
                    }
                }
            }
            Err(Failure::Unsupported) => {
                if !said_unsupported {
                    tracing::warn!(
                        "the enclave has no capability root: revocation lists are not applied"
                    );
                    said_unsupported = true;
                }
            }
            Err(Failure::Other(reason)) => {
                tracing::warn!(%reason, "revocation refresh failed; retrying at the next refresh");
            }
        }
        tokio::time::sleep(every).await;
    }
}

enum Failure {
    Unsupported,
    Other(String),
}

/// Fetches the list and hands it to the enclave.
async fn refresh(client: &ControlPlaneClient, enclave: &Reconnecting) -> Result<Enforced, Failure> {
    let signed: SignedRevocations = client
        .call_json::<(), _>(Method::GET, REVOCATIONS, None, None)
        .await
        .map_err(|e| Failure::Other(format!("fetching the revocation list: {e}")))?;
    let enclave = enclave
        .client()
        .await
        .map_err(|e| Failure::Other(format!("enclave: {e}")))?;
    match enclave.revoke(signed.list.0).await {
        Ok(enforced) => {
            if !enforced.unloaded.is_empty() {
                for plugin in &enforced.unloaded {
                    tracing::warn!(plugin = %plugin.name, measurement = %plugin.measurement, sequence = enforced.sequence, "revoked plugin unloaded");
                }
            }
            Ok(enforced)
        }
        Err(crate::Error::Enclave(body)) if body.code == "no_capability_root" => {
            Err(Failure::Unsupported)
        }
        Err(e) => Err(Failure::Other(format!("enclave refused the list: {e}"))),
    }
}

/// Tells the control plane what the enclave enforced.
async fn report(client: &ControlPlaneClient, enforced: &Enforced) -> Result<(), String> {
    let report = EnforcementReport {
        sequence: enforced.sequence,
        unloaded: enforced
            .unloaded
            .iter()
            .map(|p| p.measurement.to_hex())
            .collect(),
        tokens_dropped: enforced.tokens_dropped.clone(),
    };
    let body = serde_json::to_vec(&report).map_err(|e| e.to_string())?;
    client
        .call(Method::POST, REVOCATION_REPORTS, body, None)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
