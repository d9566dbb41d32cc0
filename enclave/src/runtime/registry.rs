//! The loaded plugins, addressed by measurement and kept in load order.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use enclet_attestation::measurement::Measurement;

use super::error::LoadError;
use super::plugin::Plugin;
use super::{Loaded, PluginInfo};

#[derive(Debug, Default)]
struct Entries {
    by_measurement: HashMap<Measurement, Arc<Plugin>>,
    order: Vec<Arc<Plugin>>,
}

/// A bounded, append-only set of plugins.
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
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
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

    fn read(&self) -> RwLockReadGuard<'_, Entries> {
        // Entries are only ever added whole under the write lock, so a poisoned
        // lock still guards consistent data.
        self.entries.read().unwrap_or_else(PoisonError::into_inner)
    }
}
