//! The loaded plugins, addressed by measurement and kept in load order.
//!
//! Plugins are added whole (`insert`), removed whole (`remove`, for unload)
//! or swapped for a copy with other limits (`replace`), each under the write
//! lock, so readers always see a consistent set. An invocation holds its own
//! `Arc<Plugin>`, so removing or replacing a plugin never stops a running call.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use enclet_attestation::measurement::Measurement;

use super::error::LoadError;
use super::plugin::Plugin;
use super::{Loaded, PluginInfo};

#[derive(Debug, Default)]
struct Entries {
    by_measurement: HashMap<Measurement, Arc<Plugin>>,
    order: Vec<Arc<Plugin>>,
}

/// A bounded set of plugins.
#[derive(Debug)]
pub(crate) struct Registry {
    entries: RwLock<Entries>,
    max_plugins: usize,
}

impl Registry {
    pub(crate) fn new(max_plugins: usize) -> Self {
        Self {
            entries: RwLock::default(),
            max_plugins,
        }
    }

    pub(crate) fn get(&self, measurement: &Measurement) -> Option<Arc<Plugin>> {
        self.read().by_measurement.get(measurement).cloned()
    }

    pub(crate) fn infos(&self) -> Vec<PluginInfo> {
        self.read().order.iter().map(|p| p.info.clone()).collect()
    }

    /// Fails early, before compiling, if no plugin can be added.
    pub(crate) fn ensure_room(&self) -> Result<(), LoadError> {
        self.check_room(&self.read())
    }

    fn check_room(&self, entries: &Entries) -> Result<(), LoadError> {
        if entries.order.len() >= self.max_plugins {
            return Err(LoadError::TooManyPlugins {
                limit: u64::try_from(self.max_plugins).unwrap_or(u64::MAX),
            });
        }
        Ok(())
    }

    /// Adds a compiled plugin, unless the same bytes were loaded meanwhile.
    pub(crate) fn insert(&self, plugin: Plugin) -> Result<Loaded, LoadError> {
        let mut entries = self.write();
        // Another thread may have loaded the same bytes while we compiled.
        if let Some(existing) = entries.by_measurement.get(&plugin.info.measurement) {
            return Ok(Loaded {
                info: existing.info.clone(),
                newly_loaded: false,
            });
        }
        self.check_room(&entries)?;
        let plugin = Arc::new(plugin);
        entries
            .by_measurement
            .insert(plugin.info.measurement, Arc::clone(&plugin));
        entries.order.push(Arc::clone(&plugin));
        tracing::info!(
            plugin = %plugin.info.name,
            measurement = %plugin.label.measurement,
            size_bytes = plugin.info.size_bytes,
            "plugin loaded"
        );
        Ok(Loaded {
            info: plugin.info.clone(),
            newly_loaded: true,
        })
    }

    /// Removes the plugin with this measurement; returns it and its position
    /// in load order (for [`Self::restore`]).
    pub(crate) fn remove(&self, measurement: &Measurement) -> Option<(usize, Arc<Plugin>)> {
        let mut entries = self.write();
        let plugin = entries.by_measurement.remove(measurement)?;
        let index = entries
            .order
            .iter()
            .position(|p| p.info.measurement == *measurement)
            .unwrap_or(entries.order.len());
        if index < entries.order.len() {
            entries.order.remove(index);
        }
        Some((index, plugin))
    }

    /// Puts back a plugin [`Self::remove`] took, at its old position.
    pub(crate) fn restore(&self, index: usize, plugin: Arc<Plugin>) {
        let mut entries = self.write();
        if entries
            .by_measurement
            .contains_key(&plugin.info.measurement)
        {
            return;
        }
        let index = index.min(entries.order.len());
        entries.order.insert(index, Arc::clone(&plugin));
        entries
            .by_measurement
            .insert(plugin.info.measurement, plugin);
    }

    /// Swaps the registered plugin with `plugin`'s measurement for `plugin`,
    /// keeping its position. Returns false (and drops `plugin`) if none is
    /// registered.
    pub(crate) fn replace(&self, plugin: Arc<Plugin>) -> bool {
        let mut entries = self.write();
        let m = plugin.info.measurement;
        if !entries.by_measurement.contains_key(&m) {
            return false;
        }
        if let Some(slot) = entries.order.iter_mut().find(|p| p.info.measurement == m) {
            *slot = Arc::clone(&plugin);
        }
        entries.by_measurement.insert(m, plugin);
        true
    }

    fn read(&self) -> RwLockReadGuard<'_, Entries> {
        // Entries are only ever changed whole under the write lock, so a
        // poisoned lock still guards consistent data.
        self.entries.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Entries> {
        self.entries.write().unwrap_or_else(PoisonError::into_inner)
    }
}
