//! A compiled, validated plugin: what `load` produces and `invoke` runs.
//!
//! Loading follows these steps:
//! 1. compile the component from its bytes with the shared engine (never
//!    `deserialize`: only code compiled here, from measured bytes, runs);
//! 2. link it: the `log` and `secrets` imports from the host (a plugin that
//!    imports neither, such as one built before `secrets` existed, links
//!    too), and every WASI import defined as a function that traps when
//!    called. Plugins thus get no filesystem, network, environment or clock,
//!    yet a Rust `std` plugin that merely *imports* WASI still loads. Any
//!    other import refuses the plugin here, naming it (see `imports.rs`);
//! 3. check the exports against the `plugin` world (`handle` with the exact
//!    signature) and cache the resulting [`PluginPre`], so each invocation only
//!    instantiates.

use std::collections::BTreeSet;
use std::sync::Arc;

use wasmtime::Engine;
use wasmtime::component::{Component, ComponentExportIndex, Linker};

use super::PluginInfo;
use super::bindings::PluginPre;
use super::error::LoadError;
use super::host::{HostState, PluginLabel};

/// The export every plugin must have.
pub(crate) const HANDLE: &str = "handle";

/// Longest plugin name, in bytes (names are ASCII).
pub(crate) const MAX_NAME_LEN: usize = 64;

/// Plugin names are 1..=[`MAX_NAME_LEN`] characters of `[A-Za-z0-9._-]`: safe in
/// logs, file names and URLs. The parent applies the same rule; the enclave
/// does not rely on it.
pub(crate) fn check_name(name: &str) -> Result<(), LoadError> {
    let rule = "must be 1..=64 characters of [A-Za-z0-9._-]";
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(LoadError::InvalidName(format!(
            "{} bytes long; {rule}",
            name.len()
        )));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(LoadError::InvalidName(format!("contains {bad:?}; {rule}")));
    }
    Ok(())
}

/// A loaded plugin, shared by all its invocations.
pub(crate) struct Plugin {
    pub(crate) info: PluginInfo,
    pub(crate) label: Arc<PluginLabel>,
    pub(crate) pre: PluginPre<HostState>,
    pub(crate) handle: ComponentExportIndex,
    /// Shared by every copy of this plugin made by [`Plugin::with_limits`]:
    /// while any copy is alive (registered or held by a call), its strong
    /// count is above one, which is how an unload waits for calls to finish.
    pub(crate) lineage: Arc<()>,
    /// The capabilities its signed manifest requested (`None`: loaded
    /// without one). Gated calls outside them are denied whatever a token
    /// grants.
    pub(crate) requested: Option<Arc<BTreeSet<String>>>,
    /// How its recent calls went (`share.rs`), shared by every copy.
    pub(crate) history: Arc<super::share::History>,
}

impl Plugin {
    /// The same compiled plugin under other limits; calls already running
    /// keep the copy (and the limits) they started with.
    pub(crate) fn with_limits(&self, limits: super::Limits) -> Self {
        let mut info = self.info.clone();
        info.limits = limits;
        Self {
            info,
            label: Arc::clone(&self.label),
            pre: self.pre.clone(),
            handle: self.handle,
            lineage: Arc::clone(&self.lineage),
            history: Arc::clone(&self.history),
            requested: self.requested.clone(),
        }
    }
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// The linker every plugin starts from: the host's `log` and `secrets`
/// interfaces.
pub(crate) fn base_linker(engine: &Engine) -> Result<Linker<HostState>, String> {
    let mut linker = Linker::new(engine);
    super::host::add_to_linker(&mut linker)
        .map_err(|e| format!("linking the host interfaces: {e:#}"))?;
    Ok(linker)
}

/// Compiles and validates `bytes` (steps 1–3 of the module docs).
pub(crate) fn compile(
    engine: &Engine,
    base: &Linker<HostState>,
    info: PluginInfo,
    bytes: &[u8],
) -> Result<Plugin, LoadError> {
    let invalid =
        |what: &str, e: wasmtime::Error| LoadError::InvalidComponent(format!("{what}: {e:#}"));
    // Step 1: compile in-process from the measured bytes, bulk-memory
    // instructions rewritten into steps (`bulk_memory.rs`).
    let metered = super::bulk_memory::meter_component(bytes)
        .map_err(|e| LoadError::InvalidComponent(format!("not a valid component: {e}")))?;
    let component =
        Component::new(engine, &metered).map_err(|e| invalid("not a valid component", e))?;
    // Step 2: link. Imports other than the host's and WASI are refused;
    // WASI imports trap when called.
    super::imports::check(engine, base, &component)?;
    let mut linker = base.clone();
    linker
        .define_unknown_imports_as_traps(&component)
        .map_err(|e| invalid("unsupported imports", e))?;
    let pre = linker
        .instantiate_pre(&component)
        .map_err(|e| invalid("imports do not match enclet:plugin/{log,secrets}@0.1.0", e))?;
    // Step 3: the exports must be the plugin world's.
    let pre = PluginPre::new(pre).map_err(|e| {
        invalid(
            "does not export `handle: func(list<u8>) -> result<list<u8>, string>`",
            e,
        )
    })?;
    let handle = component.get_export_index(None, HANDLE).ok_or_else(|| {
        LoadError::Internal("`handle` passed the type check but has no export index".to_owned())
    })?;
    let label = Arc::new(PluginLabel {
        name: info.name.clone(),
        measurement: info.measurement.to_hex(),
    });
    Ok(Plugin {
        info,
        label,
        pre,
        handle,
        lineage: Arc::new(()),
        requested: None,
        history: Arc::default(),
    })
}
