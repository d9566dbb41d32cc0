//! The plugin runtime: wasmtime components under hard limits.
//!
//! ```text
//!  load(name, bytes, limits)                      invoke(measurement, input)
//!    │ size ≤ max_component_bytes                   │ input ≤ max_input_bytes
//!    │ measurement = SHA-384(bytes)                 │ wait for a pool slot
//!    │ already loaded? ─▶ same PluginInfo           │ snapshot of its secrets
//!    │ compile permit, compile thread (timeout):    │ spawn_blocking:
//!    │   bulk memory rewritten into steps,          │
//!    │   Component::new, never deserialize;         │   fresh Store (fuel, epoch deadline,
//!    │   link: log, secrets; WASI traps; others ✗   │   memory/table limiter, secrets)
//!    │   type-check `handle`                        │   instantiate from PluginPre
//!    │ trial instantiate under the start bound      │   call handle, check output size
//!    ▼ cache PluginPre                              ▼
//! ```
//!
//! * **One engine** (see `engine.rs`) with the pooling allocator, fuel and epoch
//!   interruption; an epoch ticker thread owned by the [`Runtime`] drives
//!   deadlines and stops when the runtime is dropped.
//! * **Content addressing.** A plugin is its [`Measurement`]; loading the same
//!   bytes again returns the existing plugin (`newly_loaded == false`) and keeps
//!   its first name and limits.
//! * **No ambient authority.** WASI is not linked. The only host imports are
//!   `enclet:plugin/log@0.1.0` and `enclet:plugin/secrets@0.1.0`; a WASI
//!   import a component declares is defined as a function that fails the
//!   invocation when called (reported as a guest trap naming the import), and
//!   any other import refuses the plugin at load (`unsupported_import`, see
//!   `imports.rs`). Plugins therefore have no filesystem, network,
//!   environment or clock.
//! * **Secrets** (see `secrets.rs`): [`Runtime::install_secrets`] replaces
//!   the whole secret table with an opened release (all plugins loaded, not
//!   expired); an invocation reads a snapshot of its own plugin's row through
//!   the `enclet:plugin/secrets@0.1.0` import, bounded in `host/secrets.rs`.
//!   Expiry is judged by the runtime's [`Clock`] ([`Runtime::with_clock`]).
//! * **Short calls first** (see `share.rs`): a call that runs longer than
//!   [`ShortCallsFirst::long_after`] (and every call of a plugin whose calls
//!   ran long lately, or together keep more than
//!   [`ShortCallsFirst::plugin_share_percent`] of a core busy) gives way to
//!   the others: it runs in one of `cores - 1` lanes, sleeps at each epoch
//!   tick while foreground calls occupy every core, at most `max_pause` at a
//!   time, runs in the kernel's idle scheduling class where the process
//!   may leave it again (`idle_class.rs`), and gives up its CPU every
//!   [`ShortCallsFirst::yield_every`] while it runs (`yield_timer.rs`), so a
//!   thread woken for a short call on its CPU runs within that time. A
//!   spinning plugin thus costs short calls little latency even with fewer
//!   cores than callers.
//! * **CPU quota** (see `share/quota.rs`): a plugin whose calls keep more
//!   than [`ShortCallsFirst::plugin_quota_percent`] of a core busy while
//!   other plugins are being called waits before its next call starts
//!   ([`Runtime::admit`]), or is refused `throttled` with
//!   [`MAX_WAITING_FOR_QUOTA`] of its calls already waiting.
//! * **Bulk memory in steps** (see `bulk_memory.rs`): every `memory.fill`
//!   and `memory.copy` is rewritten before compiling into a loop of steps of
//!   at most 4 KiB, so fuel, deadlines and the pauses above reach inside
//!   them; the measurement stays that of the shipped bytes.
//! * **Failures stay in their invocation.** Traps, limit hits and guest panics
//!   become an [`InvokeError`] for that call only; the store is dropped and the
//!   plugin and runtime stay usable.
//!
//! * **Compile, then commit.** `load` is [`Runtime::compile`] (no registration)
//!   followed by [`Runtime::commit`]; a caller that must measure a plugin
//!   before it becomes invocable does its measuring between the two.
//! * **Bounded compilation** (see `compile.rs`): at most
//!   `max_concurrent_compiles` compilations at once, each on one thread and
//!   within `compile_timeout`; a new plugin's start code gets a short bound
//!   of its own at load.
//!
//! `compile` blocks the calling thread (tens to hundreds of milliseconds):
//! async callers take a permit with [`Runtime::compile_permit`] and run
//! [`Runtime::compile_with_permit`] on a blocking thread. `invoke` never
//! blocks the async executor.

mod bindings;
mod bulk_memory;
mod capabilities;
mod compile;
mod config;
mod cpu_time;
mod engine;
mod error;
mod host;
mod idle_class;
mod imports;
mod invoke;
mod lifecycle;
mod limiter;
mod limits;
mod plugin;
mod registry;
mod secrets;
mod share;
mod yield_timer;

use std::sync::Arc;

use enclet_attestation::measurement::Measurement;
use serde::Serialize;
use tokio::sync::Semaphore;
use wasmtime::Engine;
use wasmtime::component::Linker;

pub use compile::{CompilePermit, START_DEADLINE, START_FUEL};
pub use config::{CapabilityGate, RuntimeConfig};
pub use error::{InvokeError, LoadError, RuntimeError};
pub use lifecycle::{LimitsError, Unregistered};
pub use limits::{HardMaxima, Limits};
pub use secrets::{
    Grant, Installed, LookupError, MAX_NAME_BYTES as MAX_SECRET_NAME_BYTES,
    MAX_VALUE_BYTES as MAX_SECRET_VALUE_BYTES, ReleaseError,
};
pub use share::{
    MAX_WAITING as MAX_WAITING_FOR_QUOTA, MAX_WAITING_TOTAL as MAX_WAITING_FOR_QUOTAS,
    ShortCallsFirst, Throttle,
};

use crate::clock::{Clock, SystemClock};
use enclet_sealed::OpenedBundle;
use host::HostState;
use plugin::Plugin;
use registry::Registry;
use secrets::Secrets;

/// What the runtime knows about a loaded plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginInfo {
    /// Operator-chosen name (informational; plugins are addressed by measurement).
    pub name: String,
    /// SHA-384 of the component bytes.
    pub measurement: Measurement,
    /// Limits applied to each invocation.
    pub limits: Limits,
    /// Size of the component in bytes.
    pub size_bytes: u64,
}

/// The result of [`Runtime::load`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The plugin, as first loaded.
    pub info: PluginInfo,
    /// `false` if these exact bytes were already loaded.
    pub newly_loaded: bool,
}

/// The result of [`Runtime::compile`].
#[derive(Debug)]
pub enum Compiled {
    /// These exact bytes are already registered; nothing was compiled.
    Existing(PluginInfo),
    /// Compiled and validated, not yet registered.
    New(Prepared),
}

/// A compiled, validated plugin that is not invocable until
/// [`Runtime::commit`] registers it.
#[derive(Debug)]
pub struct Prepared {
    plugin: Plugin,
}

impl Prepared {
    /// What the plugin will be registered as.
    #[must_use]
    pub fn info(&self) -> &PluginInfo {
        &self.plugin.info
    }

    /// Limits its gated calls to the capabilities its verified manifest
    /// requested.
    #[must_use]
    pub fn with_requested_capabilities(mut self, requested: Vec<String>) -> Self {
        self.plugin.requested = Some(Arc::new(requested.into_iter().collect()));
        self
    }
}

/// Runs plugins. `Send + Sync`: share it as `Arc<Runtime>`.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    registry: Registry,
    secrets: Secrets,
    slots: Arc<Semaphore>,
    compiler: compile::Compiler,
    config: RuntimeConfig,
    share: Arc<share::CpuShare>,
    _ticker: engine::EpochTicker,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Builds the engine and its instance pool and starts the epoch ticker.
    ///
    /// # Errors
    ///
    /// [`RuntimeError::InvalidConfig`] if `config` is out of range;
    /// [`RuntimeError::Internal`] if wasmtime cannot reserve the pool or the
    /// ticker thread cannot start.
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// Like [`new`](Self::new), judging the expiry of released secrets by
    /// `clock` instead of the system clock.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn with_clock(config: RuntimeConfig, clock: Arc<dyn Clock>) -> Result<Self, RuntimeError> {
        config.validate()?;
        let engine = engine::build(&config)?;
        let linker = plugin::base_linker(&engine).map_err(RuntimeError::Internal)?;
        let epoch = Arc::new(share::Epoch::default());
        let ticker =
            engine::EpochTicker::start(engine.clone(), Arc::clone(&epoch), config.epoch_tick)?;
        let idle_class = config.short_calls_first.is_some_and(|p| p.idle_class)
            && idle_class::IdleClass::available();
        if let Some(p) = config.short_calls_first {
            tracing::info!(
                long_after = ?p.long_after,
                max_pause = ?p.max_pause,
                idle_class,
                "short calls first"
            );
        }
        let share = Arc::new(share::CpuShare::new(
            epoch,
            config.epoch_tick,
            config.short_calls_first,
            idle_class,
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        ));
        let permits = usize::try_from(config.max_concurrent_invocations)
            .map_err(|_| RuntimeError::InvalidConfig("max_concurrent_invocations".to_owned()))?;
        let compiles = usize::try_from(config.max_concurrent_compiles)
            .map_err(|_| RuntimeError::InvalidConfig("max_concurrent_compiles".to_owned()))?;
        Ok(Self {
            engine,
            linker,
            registry: Registry::new(config.max_plugins),
            secrets: Secrets::new(clock, config.capability_gate.clone()),
            slots: Arc::new(Semaphore::new(permits)),
            compiler: compile::Compiler::new(compiles, config.compile_timeout),
            config,
            share,
            _ticker: ticker,
        })
    }

    /// Compiles, validates and registers a component; idempotent by measurement.
    ///
    /// [`compile`](Self::compile) then [`commit`](Self::commit), on the calling
    /// thread. Callers that must record a plugin (measure it) before it becomes
    /// invocable use those two steps directly.
    ///
    /// # Errors
    ///
    /// As [`compile`](Self::compile) and [`commit`](Self::commit).
    pub fn load(
        &self,
        name: &str,
        component: &[u8],
        limits: Option<Limits>,
    ) -> Result<Loaded, LoadError> {
        match self.compile(name, component, limits)? {
            Compiled::Existing(info) => Ok(Loaded {
                info,
                newly_loaded: false,
            }),
            Compiled::New(prepared) => self.commit(prepared),
        }
    }

    /// Whether `prepared` can be committed now: `Ok(Some(info))` if the same
    /// bytes are already registered, `Ok(None)` if there is room for them.
    ///
    /// # Errors
    ///
    /// [`LoadError::TooManyPlugins`] if `max_plugins` are already loaded.
    pub fn check_commit(&self, prepared: &Prepared) -> Result<Option<PluginInfo>, LoadError> {
        if let Some(existing) = self.registry.get(&prepared.plugin.info.measurement) {
            return Ok(Some(existing.info.clone()));
        }
        self.registry.ensure_room()?;
        Ok(None)
    }

    /// Registers a compiled plugin: from now on it is listed and invocable.
    /// If the same bytes were registered meanwhile, returns that plugin with
    /// `newly_loaded == false`.
    ///
    /// # Errors
    ///
    /// [`LoadError::TooManyPlugins`] if `max_plugins` are already loaded.
    pub fn commit(&self, prepared: Prepared) -> Result<Loaded, LoadError> {
        self.registry.insert(prepared.plugin)
    }

    /// Runs `handle(input)` of the plugin with this measurement in a fresh store,
    /// on a blocking thread (never on the async executor).
    ///
    /// # Errors
    ///
    /// [`InvokeError::UnknownPlugin`], [`InvokeError::InputTooLarge`] before the
    /// guest runs; otherwise the reason the guest failed (limit, trap, plugin
    /// error) for this invocation only.
    pub async fn invoke(
        &self,
        plugin: &Measurement,
        input: Vec<u8>,
    ) -> Result<Vec<u8>, InvokeError> {
        let (plugin, ticks) = self.prepare(plugin, &input)?;
        let pace = self.share.arrive(&plugin.history);
        let slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|_| slots_closed())?;
        let engine = self.engine.clone();
        let secrets = self
            .secrets
            .view(plugin.info.measurement, plugin.requested.clone());
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            invoke::run(
                &engine,
                &plugin,
                pace.starting(ticks),
                &input,
                secrets,
                |r| r,
            )
        })
        .await
        .map_err(|e| InvokeError::Internal(format!("invocation task: {e}")))?
    }

    /// Like [`invoke`](Self::invoke) but runs on the calling thread, for callers
    /// outside an async runtime (benchmarks, tools).
    ///
    /// # Errors
    ///
    /// As [`invoke`](Self::invoke).
    pub fn invoke_blocking(
        &self,
        plugin: &Measurement,
        input: &[u8],
    ) -> Result<Vec<u8>, InvokeError> {
        self.invoke_blocking_then(plugin, input, |result| result)
    }

    /// Like [`invoke_blocking`](Self::invoke_blocking), handing the result
    /// to `answer` as soon as the call ends: the store is torn down (its
    /// instance slot reset) after `answer` returns, so an answer sent from
    /// `answer` does not wait for that.
    ///
    /// # Errors
    ///
    /// `answer` gets what [`invoke`](Self::invoke) would return.
    pub fn invoke_blocking_then<R>(
        &self,
        plugin: &Measurement,
        input: &[u8],
        answer: impl FnOnce(Result<Vec<u8>, InvokeError>) -> R,
    ) -> R {
        let (plugin, ticks) = match self.prepare(plugin, input) {
            Ok(prepared) => prepared,
            Err(e) => return answer(Err(e)),
        };
        // In the foreground while it waits for a slot: long calls give way.
        let pace = self.share.arrive(&plugin.history);
        let _slot = match self.acquire_slot_blocking() {
            Ok(slot) => slot,
            Err(e) => return answer(Err(e)),
        };
        let secrets = self
            .secrets
            .view(plugin.info.measurement, plugin.requested.clone());
        invoke::run(
            &self.engine,
            &plugin,
            pace.starting(ticks),
            input,
            secrets,
            answer,
        )
    }

    /// Replaces the whole secret table with an opened release: from now on
    /// each plugin reads exactly the secrets `opened` holds for it, until
    /// `opened.expires_at`. Secrets of an earlier release are gone.
    /// Invocations already running keep the table they started with.
    ///
    /// # Errors
    ///
    /// [`ReleaseError::Expired`] if `expires_at` is not after the clock's now;
    /// [`ReleaseError::UnknownPlugin`] if `opened` names a plugin that is not
    /// loaded. Either way the previous table stays in force.
    pub fn install_secrets(
        &self,
        opened: OpenedBundle,
        tokens: Vec<enclet_protocol::PluginToken>,
        enclave_key: &[u8],
    ) -> Result<Installed, ReleaseError> {
        self.secrets
            .install(opened, tokens, enclave_key, &self.registry.infos())
    }

    /// Revokes capability tokens by revocation id (from now on, and in later
    /// releases); returns the ids of installed tokens this revoked.
    pub fn revoke_tokens<'a>(&self, ids: impl Iterator<Item = &'a str>) -> Vec<String> {
        self.secrets.revoke_tokens(ids)
    }

    /// Every loaded plugin, in load order.
    #[must_use]
    pub fn plugins(&self) -> Vec<PluginInfo> {
        self.registry.infos()
    }

    /// Whether a call of `plugin` may start now (`Ok(None)`) or must first
    /// wait for the plugin's CPU quota (`Ok(Some(throttle))`: await
    /// [`Throttle::let_in`], holding nothing else, then invoke). See
    /// `share/quota.rs`. An unknown plugin is
    /// admitted: the invocation reports it.
    ///
    /// # Errors
    ///
    /// [`InvokeError::Throttled`] if the plugin is over its quota and
    /// [`MAX_WAITING_FOR_QUOTA`] of its calls, or [`MAX_WAITING_FOR_QUOTAS`]
    /// calls in all, already wait.
    pub fn admit(&self, plugin: &Measurement) -> Result<Option<Throttle>, InvokeError> {
        let Some(plugin) = self.registry.get(plugin) else {
            return Ok(None);
        };
        self.share
            .admit(&plugin.history)
            .map_err(|t| InvokeError::Throttled {
                quota_percent: t.quota_percent,
                waiting: t.waiting,
            })
    }

    /// Puts `plugin` far over its CPU quota, with another plugin being
    /// called for the next ten minutes (for tests).
    #[cfg(test)]
    pub(crate) fn hold_back_for_tests(&self, plugin: &Measurement) {
        if let Some(plugin) = self.registry.get(plugin) {
            let now = std::time::Instant::now();
            self.share.hold_back_for_tests(
                &plugin.history,
                std::time::Duration::from_secs(10),
                now + std::time::Duration::from_mins(10),
            );
        }
    }

    fn prepare(
        &self,
        plugin: &Measurement,
        input: &[u8],
    ) -> Result<(Arc<Plugin>, u64), InvokeError> {
        let plugin = self
            .registry
            .get(plugin)
            .ok_or(InvokeError::UnknownPlugin)?;
        let size = u64::try_from(input.len()).unwrap_or(u64::MAX);
        let limit = plugin.info.limits.max_input_bytes;
        if size > limit {
            return Err(InvokeError::InputTooLarge { size, limit });
        }
        let ticks = self.ticks(plugin.info.limits.deadline_ms);
        Ok((plugin, ticks))
    }

    /// Waits on the calling thread for an instance pool slot.
    fn acquire_slot_blocking(&self) -> Result<tokio::sync::SemaphorePermit<'_>, InvokeError> {
        if let Ok(slot) = self.slots.try_acquire() {
            return Ok(slot);
        }
        crate::park::wait(self.slots.acquire()).map_err(|_| slots_closed())
    }

    /// Native stack a thread needs to run invocations: the wasm stack limit
    /// plus room for the host's own frames.
    #[must_use]
    pub fn thread_stack_bytes(&self) -> usize {
        self.config.max_wasm_stack_bytes.saturating_add(2 << 20)
    }

    /// Invocations running right now: instance slots taken.
    #[must_use]
    pub fn running_invocations(&self) -> u32 {
        let free = u32::try_from(self.slots.available_permits()).unwrap_or(u32::MAX);
        self.config.max_concurrent_invocations.saturating_sub(free)
    }

    /// Invocations that may run at once (the instance pool size).
    #[must_use]
    pub fn max_concurrent_invocations(&self) -> u32 {
        self.config.max_concurrent_invocations
    }

    /// Epoch ticks for a deadline of `deadline_ms`: rounded up, plus one
    /// because the first tick may come at any point of the current period.
    fn ticks(&self, deadline_ms: u64) -> u64 {
        let tick_us = u64::try_from(self.config.epoch_tick.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        deadline_ms
            .saturating_mul(1000)
            .div_ceil(tick_us)
            .saturating_add(1)
    }
}

fn slots_closed() -> InvokeError {
    InvokeError::Internal("invocation slots closed".to_owned())
}

#[cfg(test)]
pub(crate) mod tests;
