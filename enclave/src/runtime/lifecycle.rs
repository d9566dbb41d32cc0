//! Unloading a loaded plugin and changing its limits, while it may be running.
//!
//! * **Unload** is two steps so that the server can record it in between:
//!   [`Runtime::unregister`] takes the plugin out of the registry (new calls
//!   get `unknown_plugin` at once) and returns an [`Unregistered`] handle; the
//!   server then measures and logs the unload, or on failure puts the plugin
//!   back with [`Runtime::restore`]. [`Unregistered::drained`] resolves once
//!   every call that had already taken the plugin has finished — calls are
//!   never aborted by an unload, and each is bounded by its own deadline.
//! * **Limits** ([`Runtime::set_limits`]) swap the registered plugin for a
//!   copy under the new limits, sharing the compiled code. Calls already
//!   running keep the limits they started with.
//!
//! Released secrets are keyed by measurement: an unloaded plugin cannot read
//! them because it cannot be invoked, and the next release leaves it out.

use std::sync::Arc;
use std::time::Duration;

use enclet_attestation::Measurement;
use enclet_protocol::LimitsRequest;

use super::plugin::Plugin;
use super::{InvokeError, LoadError, PluginInfo, Runtime};

/// How often [`Unregistered::drained`] looks for calls still running.
const DRAIN_POLL: Duration = Duration::from_millis(5);

/// A plugin taken out of the registry by [`Runtime::unregister`].
#[derive(Debug)]
pub struct Unregistered {
    index: usize,
    plugin: Arc<Plugin>,
}

impl Unregistered {
    /// The plugin as it was registered.
    #[must_use]
    pub fn info(&self) -> &PluginInfo {
        &self.plugin.info
    }

    /// Whether a call (on this copy of the plugin, or an earlier copy with
    /// other limits) is still running or waiting for a slot.
    #[must_use]
    pub fn has_calls(&self) -> bool {
        Arc::strong_count(&self.plugin) > 1 || Arc::strong_count(&self.plugin.lineage) > 1
    }

    /// Resolves once no call holds the plugin any more.
    pub async fn drained(&self) {
        while self.has_calls() {
            tokio::time::sleep(DRAIN_POLL).await;
        }
    }
}

impl Runtime {
    /// Takes the plugin with this measurement out of the registry: it is no
    /// longer listed, and new invocations fail with `unknown_plugin`.
    ///
    /// # Errors
    /// [`InvokeError::UnknownPlugin`] if no such plugin is loaded.
    pub fn unregister(&self, measurement: &Measurement) -> Result<Unregistered, InvokeError> {
        let (index, plugin) = self
            .registry
            .remove(measurement)
            .ok_or(InvokeError::UnknownPlugin)?;
        Ok(Unregistered { index, plugin })
    }

    /// Puts back a plugin [`Self::unregister`] took, at its old place, unless
    /// the same bytes were loaded again meanwhile.
    pub fn restore(&self, unregistered: Unregistered) {
        self.registry
            .restore(unregistered.index, unregistered.plugin);
    }

    /// Changes a loaded plugin's limits: the limits `partial` gives replace
    /// the plugin's current ones, the others stay.
    ///
    /// # Errors
    /// [`LimitsError::UnknownPlugin`] if no such plugin is loaded;
    /// [`LimitsError::Invalid`] if the result exceeds the hard maxima (the
    /// plugin keeps its limits).
    pub fn set_limits(
        &self,
        measurement: &Measurement,
        partial: &LimitsRequest,
    ) -> Result<PluginInfo, LimitsError> {
        let current = self
            .registry
            .get(measurement)
            .ok_or(LimitsError::UnknownPlugin)?;
        let limits = current.info.limits.overlay(partial);
        limits
            .validate(&self.config.hard_maxima)
            .map_err(LimitsError::Invalid)?;
        let updated = Arc::new(current.with_limits(limits));
        let info = updated.info.clone();
        if !self.registry.replace(updated) {
            // Unloaded between the lookup and the swap.
            return Err(LimitsError::UnknownPlugin);
        }
        tracing::info!(
            plugin = %info.name,
            measurement = %info.measurement,
            ?limits,
            "plugin limits changed"
        );
        Ok(info)
    }
}

/// Why a limit change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitsError {
    /// No plugin with that measurement is loaded.
    #[error("no plugin with that measurement is loaded")]
    UnknownPlugin,
    /// The new limits are invalid.
    #[error(transparent)]
    Invalid(LoadError),
}

impl LimitsError {
    /// Stable code: `unknown_plugin` or the load error's (`invalid_limits`).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownPlugin => "unknown_plugin",
            Self::Invalid(e) => e.code(),
        }
    }
}
