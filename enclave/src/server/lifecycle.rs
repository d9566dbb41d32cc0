//! Plugin lifecycle events that change the event log: load (commit) and
//! unload, each under the log's lock so the log order matches the extend
//! order; and limit changes, which the log does not record (limits are not
//! code).
//!
//! The order of the steps keeps one invariant: the event log never says a
//! plugin is gone while it can still be invoked. A load is measured and
//! logged *before* it becomes invocable; an unload makes the plugin
//! uninvocable *before* it is measured and logged, and a failed measurement
//! puts the plugin back. Either way the log may at worst list a plugin that
//! is not (yet, or any more) invocable, never the reverse.

use std::sync::Arc;

use enclet_attestation::Measurement;
use enclet_attestation::event_log::{PluginEvent, SignedLoad};
use enclet_protocol::{LimitsRequest, Response};

use super::Server;
use super::handler::info_to_wire;
use crate::Error;
use crate::runtime::{Loaded, Prepared};

/// Extends `event` into the attester's plugin PCR, off the executor.
async fn measure(server: &Server, event: PluginEvent) -> Result<(), Error> {
    if let Some(attester) = server.attester.clone() {
        tokio::task::spawn_blocking(move || attester.record_plugin_event(&event))
            .await
            .map_err(|e| Error::Internal(format!("measure task: {e}")))??;
    }
    Ok(())
}

/// Under the log's lock: extends a new plugin's load into the attester,
/// appends it to the event log, then registers it.
pub(super) async fn record_and_commit(
    server: &Arc<Server>,
    prepared: Prepared,
    signed: Option<SignedLoad>,
) -> Result<Loaded, Error> {
    let mut log = server.event_log.lock().await;
    // Another load of the same bytes may have committed while we compiled;
    // what is registered has been recorded.
    if let Some(info) = server.runtime.check_commit(&prepared)? {
        return Ok(Loaded {
            info,
            newly_loaded: false,
        });
    }
    let event = match signed {
        Some(load) if load.measurement == prepared.info().measurement => {
            PluginEvent::SignedLoad(load)
        }
        _ => PluginEvent::Load(prepared.info().measurement),
    };
    // A revoked plugin, or one a revoked publisher signed, is not loaded.
    let revoked = {
        let list = server
            .revocations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        super::revoke::why_revoked(&list, *event.measurement(), Some(&event))
    };
    if let Some(e) = revoked {
        return Err(e);
    }
    log.check(&event)?;
    measure(server, event).await?;
    log.push(event)?;
    let loaded = server.runtime.commit(prepared)?;
    tracing::info!(measurement = %event.measurement(), events = log.len(), "plugin load measured");
    Ok(loaded)
}

/// Unloads a plugin (see the module docs for the order of the steps), then
/// waits for the calls that had already started on it to finish.
pub(super) async fn unload(server: &Arc<Server>, plugin: Measurement) -> Result<Response, Error> {
    let unregistered = {
        let mut log = server.event_log.lock().await;
        let event = PluginEvent::Unload(plugin);
        let unregistered = server.runtime.unregister(&plugin)?;
        let recorded = match log.check(&event) {
            Ok(()) => measure(server, event).await,
            Err(e) => Err(e.into()),
        };
        if let Err(e) = recorded {
            server.runtime.restore(unregistered);
            return Err(e);
        }
        log.push(event)?;
        tracing::info!(
            plugin = %unregistered.info().name,
            measurement = %plugin,
            events = log.len(),
            "plugin unloaded; unload measured"
        );
        unregistered
    };
    unregistered.drained().await;
    tracing::debug!(measurement = %plugin, "calls of the unloaded plugin finished");
    Ok(Response::Unloaded(info_to_wire(unregistered.info())))
}

/// Changes a loaded plugin's limits.
pub(super) fn set_limits(
    server: &Server,
    plugin: &Measurement,
    limits: &LimitsRequest,
) -> Result<Response, Error> {
    let info = server.runtime.set_limits(plugin, limits)?;
    Ok(Response::LimitsSet(info_to_wire(&info)))
}
