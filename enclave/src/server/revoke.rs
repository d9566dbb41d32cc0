//! `Request::Revoke`: apply the control plane's signed revocation list.
//!
//! 1. Only an enclave with a capability root can check a list
//!    (`no_capability_root` otherwise); the list must verify under it
//!    (`invalid_revocation`) and be no older than the last one applied
//!    (`stale_revocation_list`: a parent replaying an old list cannot
//!    un-revoke anything).
//! 2. The list is in force from here: later loads of a revoked plugin, or of
//!    one a revoked publisher signed, are refused (`revoked_plugin`,
//!    `revoked_publisher`), and a revoked capability token is treated as
//!    absent (its plugin's gated calls are `denied`).
//! 3. Every live plugin that is revoked, or whose latest load was signed by a
//!    revoked publisher, is unloaded the way `Request::Unload` unloads
//!    (measured into the event log; calls in flight finish first).
//! 4. The answer reports the sequence, the plugins unloaded and the tokens
//!    dropped, which the parent forwards to the control plane's audit log.

use std::sync::{Arc, PoisonError};

use enclet_attestation::Measurement;
use enclet_attestation::event_log::PluginEvent;
use enclet_capability::{RevocationKind, Revocations};
use enclet_protocol::{Enforced, Response};

use super::Server;
use crate::Error;
use crate::runtime::CapabilityGate;

/// Handles `Request::Revoke { list }` (steps 1–4 of the module docs).
pub(super) async fn revoke(server: &Arc<Server>, list: &[u8]) -> Result<Response, Error> {
    // Step 1: verify, not older than what is in force.
    let CapabilityGate::Tokens(root) = &server.runtime.config().capability_gate else {
        return Err(Error::NoCapabilityRoot);
    };
    let list = Revocations::parse(list, root)?;
    // Step 2: in force.
    {
        let mut current = server
            .revocations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if list.sequence < current.sequence {
            return Err(Error::StaleRevocations {
                applied: current.sequence,
                got: list.sequence,
            });
        }
        *current = list.clone();
    }
    let tokens_dropped = server.runtime.revoke_tokens(list.of(RevocationKind::Token));
    // Step 3: unload what is revoked.
    let mut unloaded = Vec::new();
    for plugin in revoked_live_plugins(server, &list).await {
        match super::lifecycle::unload(server, plugin).await {
            Ok(Response::Unloaded(info)) => unloaded.push(info),
            // Unloaded meanwhile by someone else: nothing to do.
            Err(e) if e.code() == "unknown_plugin" => {}
            Ok(_) => {}
            Err(e) => return Err(e),
        }
    }
    tracing::info!(
        sequence = list.sequence,
        revocations = list.revoked.len(),
        unloaded = unloaded.len(),
        tokens_dropped = tokens_dropped.len(),
        "revocation list applied"
    );
    // Step 4.
    Ok(Response::Enforced(Enforced {
        sequence: list.sequence,
        unloaded,
        tokens_dropped,
    }))
}

/// Live plugins the list revokes, by measurement or by the publisher that
/// signed their latest load.
async fn revoked_live_plugins(server: &Server, list: &Revocations) -> Vec<Measurement> {
    let log = server.event_log.lock().await;
    log.live()
        .into_iter()
        .filter(|m| why_revoked(list, *m, latest_load(log.events(), *m)).is_some())
        .collect()
}

/// The plugin's latest load event.
fn latest_load(events: &[PluginEvent], plugin: Measurement) -> Option<&PluginEvent> {
    events
        .iter()
        .rev()
        .find(|e| e.is_load() && *e.measurement() == plugin)
}

/// Why a plugin loaded by `load` is revoked by `list`, if it is.
pub(super) fn why_revoked(
    list: &Revocations,
    plugin: Measurement,
    load: Option<&PluginEvent>,
) -> Option<Error> {
    if list.contains(RevocationKind::Plugin, &plugin.to_hex()) {
        return Some(Error::Revoked {
            kind: RevocationKind::Plugin,
            value: plugin.to_hex(),
        });
    }
    match load {
        Some(PluginEvent::SignedLoad(signed)) => {
            let publisher = hex::encode(signed.publisher_key);
            list.contains(RevocationKind::Publisher, &publisher)
                .then_some(Error::Revoked {
                    kind: RevocationKind::Publisher,
                    value: publisher,
                })
        }
        _ => None,
    }
}
