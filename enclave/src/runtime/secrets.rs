//! The secret table: what the last release gave each plugin, and the view one
//! invocation has of it.
//!
//! ```text
//!  Release { bundle } ─▶ open (server) ─▶ Secrets::install(opened, loaded plugins)
//!                                          │ expires_at > now?      else bundle_expired
//!                                          │ every plugin loaded?   else unknown_plugin
//!                                          ▼ swap in a new Arc<Table> (the old one is gone)
//!  invoke(plugin) ─▶ Secrets::view(measurement): the table as it is now, this plugin only
//!                    secrets.get(name) ─▶ SecretsView::get: own entry? expired?
//! ```
//!
//! * **Replace, never merge.** A release installs a whole new [`Table`]; a
//!   secret of an earlier release that is not in this one is gone. A refused
//!   release changes nothing.
//! * **Readers never wait for a release.** The table sits behind
//!   `RwLock<Arc<Table>>`: an invocation clones the `Arc` once when its store
//!   is made (the lock is held for that clone only) and reads its snapshot
//!   without any lock for the rest of the call. A release swaps the `Arc`.
//! * **Each plugin sees only its own row.** A [`SecretsView`] is bound to one
//!   measurement; a name granted to another plugin is
//!   [`LookupError::NotGranted`], exactly like a name that exists nowhere.
//! * **Expiry.** Time comes from the runtime's [`Clock`]. A lookup at or after
//!   `expires_at` is [`LookupError::Expired`]; the first snapshot taken after
//!   expiry also replaces the table with one that keeps only the names, so the
//!   values are dropped (and zeroed, see `SecretBytes`) once the last
//!   invocation holding them ends.
//! * **Names, never values**, in `Debug`, logs and errors.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, PoisonError, RwLock};

use enclet_attestation::measurement::Measurement;
use enclet_sealed::{OpenedBundle, SecretBytes};

use enclet_capability::{CapabilityError, CapabilityToken};
use enclet_protocol::PluginToken;

use super::PluginInfo;
use super::capabilities::{Gate, Tokens, parse_tokens};
use super::config::CapabilityGate;
use crate::clock::Clock;

/// Longest secret name a plugin can be granted, in bytes.
pub const MAX_NAME_BYTES: usize = enclet_sealed::MAX_NAME_BYTES;
/// Largest secret value, in bytes.
pub const MAX_VALUE_BYTES: usize = enclet_sealed::MAX_VALUE_BYTES;

/// Why a plugin cannot have a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// Not released to this plugin (perhaps to another, perhaps to none).
    #[error("not-granted")]
    NotGranted,
    /// Released to this plugin, but its release has expired.
    #[error("expired")]
    Expired,
}

/// Why a release was refused after its bundle opened. The previous secrets
/// stay in force.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReleaseError {
    /// The bundle's `expires_at` is not in the future.
    #[error("bundle expired at {expires_at} (now {now})")]
    Expired {
        /// The bundle's expiry, Unix seconds.
        expires_at: u64,
        /// The enclave's clock, Unix seconds.
        now: u64,
    },
    /// The bundle names a plugin that is not loaded here.
    #[error("bundle names plugin {measurement}, which is not loaded")]
    UnknownPlugin {
        /// The plugin's measurement, hex.
        measurement: String,
    },
    /// A capability token does not verify under the capability root, or was
    /// minted for another plugin.
    #[error("capability token for plugin {measurement}: {reason}")]
    InvalidToken {
        /// The plugin it is listed for, hex.
        measurement: String,
        /// Why.
        reason: String,
    },
}

impl ReleaseError {
    /// Stable code for this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Expired { .. } => "bundle_expired",
            Self::UnknownPlugin { .. } => "unknown_plugin",
            Self::InvalidToken { .. } => "invalid_token",
        }
    }
}

/// What a release installed: names only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// When the secrets expire, Unix seconds.
    pub expires_at: u64,
    /// Each plugin that received secrets, in load order.
    pub plugins: Vec<Grant>,
}

/// The secrets one plugin received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The plugin.
    pub measurement: Measurement,
    /// Secret names, sorted.
    pub names: Vec<String>,
}

/// One release: plugin → name → value (`None` once expired and wiped), and
/// each plugin's capability token with the enclave key they are bound to.
#[derive(Default)]
struct Table {
    expires_at: u64,
    holds_values: bool,
    plugins: BTreeMap<Measurement, BTreeMap<String, Option<SecretBytes>>>,
    tokens: Tokens,
    enclave_key: Arc<[u8]>,
}

impl Table {
    fn from_opened(opened: OpenedBundle, tokens: Tokens, enclave_key: &[u8]) -> Self {
        let plugins = opened
            .secrets
            .into_iter()
            .map(|(m, names)| (m, names.into_iter().map(|(n, v)| (n, Some(v))).collect()))
            .collect();
        Self {
            expires_at: opened.expires_at,
            holds_values: true,
            plugins,
            tokens,
            enclave_key: Arc::from(enclave_key),
        }
    }

    /// The same names and expiry, without values.
    fn wiped(&self) -> Self {
        let plugins = self
            .plugins
            .iter()
            .map(|(m, names)| (*m, names.keys().map(|n| (n.clone(), None)).collect()))
            .collect();
        Self {
            expires_at: self.expires_at,
            holds_values: false,
            plugins,
            tokens: self.tokens.clone(),
            enclave_key: Arc::clone(&self.enclave_key),
        }
    }
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: BTreeMap<String, Vec<&String>> = self
            .plugins
            .iter()
            .map(|(m, names)| (m.to_hex(), names.keys().collect()))
            .collect();
        f.debug_struct("Table")
            .field("expires_at", &self.expires_at)
            .field("holds_values", &self.holds_values)
            .field("names", &names)
            .field("tokens", &self.tokens.len())
            .finish_non_exhaustive()
    }
}

/// The runtime's secret table, its clock and its capability gate.
#[derive(Debug)]
pub(crate) struct Secrets {
    current: RwLock<Arc<Table>>,
    clock: Arc<dyn Clock>,
    gate: CapabilityGate,
    /// Revocation ids of revoked capability tokens: a token any of whose
    /// ids is here is treated as absent, now and in later releases.
    revoked_tokens: RwLock<BTreeSet<String>>,
}

impl Secrets {
    /// An empty table: every lookup is `not-granted` until a release.
    pub(crate) fn new(clock: Arc<dyn Clock>, gate: CapabilityGate) -> Self {
        Self {
            current: RwLock::default(),
            clock,
            gate,
            revoked_tokens: RwLock::default(),
        }
    }

    /// Revokes capability tokens by revocation id; returns the ids of
    /// installed tokens this revoked (that were not revoked before).
    pub(crate) fn revoke_tokens<'a>(&self, ids: impl Iterator<Item = &'a str>) -> Vec<String> {
        let table = Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner));
        let mut revoked = self
            .revoked_tokens
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let before: Vec<&Arc<CapabilityToken>> = table
            .tokens
            .values()
            .filter(|t| !is_revoked(t, &revoked))
            .collect();
        revoked.extend(ids.map(str::to_owned));
        before
            .into_iter()
            .filter(|t| is_revoked(t, &revoked))
            .map(|t| t.id().to_owned())
            .collect()
    }

    /// Replaces the whole table with `opened` and `tokens` (bound to
    /// `enclave_key`), unless it has expired, a token does not verify, or it
    /// names a plugin that is not in `loaded`.
    pub(crate) fn install(
        &self,
        opened: OpenedBundle,
        tokens: Vec<PluginToken>,
        enclave_key: &[u8],
        loaded: &[PluginInfo],
    ) -> Result<Installed, ReleaseError> {
        let tokens = parse_tokens(&self.gate, tokens)?;
        let now = self.clock.now();
        if opened.expires_at <= now {
            return Err(ReleaseError::Expired {
                expires_at: opened.expires_at,
                now,
            });
        }
        if let Some(unknown) = opened
            .secrets
            .keys()
            .chain(tokens.keys())
            .find(|m| !loaded.iter().any(|p| p.measurement == **m))
        {
            return Err(ReleaseError::UnknownPlugin {
                measurement: unknown.to_hex(),
            });
        }
        let plugins = loaded
            .iter()
            .filter_map(|p| {
                opened.secrets.get(&p.measurement).map(|names| Grant {
                    measurement: p.measurement,
                    names: names.keys().cloned().collect(),
                })
            })
            .collect();
        let installed = Installed {
            expires_at: opened.expires_at,
            plugins,
        };
        let table = Arc::new(Table::from_opened(opened, tokens, enclave_key));
        // The old table is dropped here, or when the last invocation using it ends.
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = table;
        Ok(installed)
    }

    /// What `plugin` may read during one invocation.
    pub(crate) fn view(
        &self,
        plugin: Measurement,
        requested: Option<Arc<BTreeSet<String>>>,
    ) -> SecretsView {
        let table = self.snapshot();
        let token = table.tokens.get(&plugin).filter(|t| {
            !is_revoked(
                t,
                &self
                    .revoked_tokens
                    .read()
                    .unwrap_or_else(PoisonError::into_inner),
            )
        });
        let gate = Gate::new(
            &self.gate,
            token.cloned(),
            &plugin,
            Arc::clone(&table.enclave_key),
            Arc::clone(&self.clock),
        );
        SecretsView {
            table,
            plugin,
            clock: Arc::clone(&self.clock),
            gate,
            requested,
        }
    }

    /// The table as it is now; an expired table still holding values is
    /// replaced by its wiped copy first.
    fn snapshot(&self) -> Arc<Table> {
        // The table is replaced whole under the write lock, so a poisoned lock
        // still guards a consistent table.
        let table = Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner));
        if !table.holds_values || table.expires_at > self.clock.now() {
            return table;
        }
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if Arc::ptr_eq(&current, &table) {
            *current = Arc::new(table.wiped());
            tracing::info!(
                expires_at = table.expires_at,
                "released secrets expired: values dropped"
            );
        }
        Arc::clone(&current)
    }
}

fn is_revoked(token: &CapabilityToken, revoked: &BTreeSet<String>) -> bool {
    token.ids().iter().any(|id| revoked.contains(id))
}

/// One plugin's read access to the table, fixed when its invocation starts.
#[derive(Debug)]
pub(crate) struct SecretsView {
    table: Arc<Table>,
    plugin: Measurement,
    clock: Arc<dyn Clock>,
    gate: Gate,
    requested: Option<Arc<BTreeSet<String>>>,
}

impl SecretsView {
    /// A view with no secrets (the trial instantiation at load): every
    /// lookup is `NotGranted`.
    pub(crate) fn none() -> Self {
        Self {
            table: Arc::default(),
            plugin: Measurement::from_bytes([0; enclet_attestation::measurement::MEASUREMENT_LEN]),
            clock: Arc::new(crate::clock::SystemClock),
            gate: Gate::DenyAll,
            requested: None,
        }
    }

    /// Allows a gated call that needs `capability`: within what the
    /// plugin's signed manifest requested (if it has one), and granted by
    /// its capability token.
    ///
    /// # Errors
    /// [`CapabilityError::Denied`] or [`CapabilityError::Expired`].
    pub(crate) fn check_capability(&self, capability: &str) -> Result<(), CapabilityError> {
        if let Some(requested) = &self.requested
            && !requested.contains(capability)
        {
            tracing::debug!(%capability, "gated call outside the plugin's manifest");
            return Err(CapabilityError::Denied {
                capability: capability.to_owned(),
            });
        }
        self.gate.check(capability)
    }

    /// This plugin's secret `name`. A name it was not given is `NotGranted`
    /// whether or not the release has expired; one it was given is `Expired`
    /// at and after `expires_at`.
    pub(crate) fn get(&self, name: &str) -> Result<&SecretBytes, LookupError> {
        let slot = self
            .table
            .plugins
            .get(&self.plugin)
            .and_then(|names| names.get(name))
            .ok_or(LookupError::NotGranted)?;
        match slot {
            Some(value) if self.table.expires_at > self.clock.now() => Ok(value),
            _ => Err(LookupError::Expired),
        }
    }
}

#[cfg(test)]
mod tests;
