//! Bounded loading: how many compilations run at once, how long one may take,
//! and how long a new plugin's start code may run at load.
//!
//! ```text
//!  compile(name, bytes, limits)
//!    │ cheap checks (size, name, limits, already loaded?, room)
//!    │ compile permit (one of max_concurrent_compiles; waits if none is free)
//!    │ compile thread ── Component::new, link, type-check ──▶ drops permit, sends result
//!    │ wait ≤ compile_timeout for the result, else LoadError::CompileTimeout
//!    │ pool slot
//!    ▼ trial instantiation under the start bound (START_DEADLINE, START_FUEL)
//! ```
//!
//! * **CPU.** wasmtime's parallel compilation is off (see `engine.rs`), so
//!   one compilation runs on exactly one thread, and at most
//!   `max_concurrent_compiles` run at once: N permits are at most N cores
//!   compiling, however large the components.
//! * **Time.** A compilation runs on a thread of its own and the loader
//!   waits at most `compile_timeout` for it. Cranelift cannot be
//!   interrupted, so a compilation past the timeout runs on to its end and
//!   its result is discarded. **The permit stays with the compile thread**
//!   until its compilation ends (the thread exits right after), not until
//!   the loader gives up: a timed-out compilation still counts against
//!   `max_concurrent_compiles` and later loads wait for it like for any
//!   other. Compile threads therefore never outnumber permits, and the CPU
//!   bound holds even against components built to compile slowly.
//! * **Start code.** Instantiating a component runs its start functions.
//!   The trial instantiation at load runs after the compile permit is
//!   released, in a pool slot, under its own short bound: at most
//!   [`START_DEADLINE`] of wall-clock time and [`START_FUEL`] fuel (or the
//!   plugin's own limits, if smaller). Start code that runs longer is refused
//!   with [`LoadError::StartLimit`]; every invocation runs the start code
//!   again within its own limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::Engine;
use wasmtime::component::Linker;

use super::error::{InvokeError, LoadError};
use super::host::HostState;
use super::plugin::{self, Plugin};
use super::{Compiled, Limits, Measurement, PluginInfo, Prepared, Runtime, invoke};

/// Wall-clock bound on a new plugin's start code during the trial
/// instantiation at load (or the plugin's deadline, if shorter).
pub const START_DEADLINE: Duration = Duration::from_millis(200);

/// Fuel for a new plugin's start code during the trial instantiation at load
/// (or the plugin's fuel, if less).
pub const START_FUEL: u64 = 20_000_000;

/// Native stack of a compile thread: cranelift's own frames, with room to spare.
const COMPILE_STACK_BYTES: usize = 8 << 20;

/// Permission to run one compilation, from [`Runtime::compile_permit`]: one
/// of `max_concurrent_compiles`.
#[derive(Debug)]
pub struct CompilePermit {
    /// Held for its `Drop`, which returns the permit.
    _held: OwnedSemaphorePermit,
}

/// The compile permits and timeout of a runtime.
#[derive(Debug)]
pub(crate) struct Compiler {
    permits: Arc<Semaphore>,
    timeout: Duration,
    gauge: Arc<Gauge>,
}

/// Compilations running right now, and the most that ever ran at once.
#[derive(Debug, Default)]
struct Gauge {
    running: AtomicUsize,
    peak: AtomicUsize,
}

/// One running compilation, counted in its [`Gauge`] until dropped.
struct Running(Arc<Gauge>);

impl Running {
    fn enter(gauge: Arc<Gauge>) -> Self {
        let now = gauge
            .running
            .fetch_add(1, Ordering::AcqRel)
            .saturating_add(1);
        gauge.peak.fetch_max(now, Ordering::AcqRel);
        Self(gauge)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Compiler {
    pub(crate) fn new(permits: usize, timeout: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(permits)),
            timeout,
            gauge: Arc::default(),
        }
    }

    /// Compiles `bytes` on a new thread that holds `permit` until it ends;
    /// waits at most the timeout for the result.
    fn compile(
        &self,
        permit: CompilePermit,
        engine: &Engine,
        linker: &Linker<HostState>,
        info: PluginInfo,
        bytes: &[u8],
    ) -> Result<Plugin, LoadError> {
        // The thread may outlive this call, so it owns everything it uses
        // (a copy of the bytes, at most `max_component_bytes`).
        let (engine, linker, bytes) = (engine.clone(), linker.clone(), bytes.to_vec());
        let gauge = Arc::clone(&self.gauge);
        let (done, result) = mpsc::sync_channel(1);
        let thread = thread::Builder::new()
            .name("enclet-compile".to_owned())
            .stack_size(COMPILE_STACK_BYTES)
            .spawn(move || {
                let running = Running::enter(gauge);
                let compiled = plugin::compile(&engine, &linker, info, &bytes);
                drop(running);
                drop(permit);
                // The loader may have given up waiting: then nobody wants it.
                let _ = done.send(compiled);
            })
            .map_err(|e| LoadError::Internal(format!("compile thread: {e}")))?;
        match result.recv_timeout(self.timeout) {
            Ok(compiled) => {
                // It has sent its result: joining only waits for it to exit.
                let _ = thread.join();
                compiled
            }
            Err(RecvTimeoutError::Timeout) => {
                tracing::warn!(
                    timeout_ms = self.timeout_ms(),
                    "compilation timed out; it keeps its permit until it ends"
                );
                Err(LoadError::CompileTimeout {
                    timeout_ms: self.timeout_ms(),
                })
            }
            Err(RecvTimeoutError::Disconnected) => Err(LoadError::Internal(
                "the compile thread ended without a result".to_owned(),
            )),
        }
    }

    fn timeout_ms(&self) -> u64 {
        u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
impl Runtime {
    /// Compile permits not held right now.
    pub(crate) fn compile_permits_available(&self) -> usize {
        self.compiler.permits.available_permits()
    }

    /// The most compilations that ever ran at once in this runtime.
    pub(crate) fn peak_concurrent_compiles(&self) -> usize {
        self.compiler.gauge.peak.load(Ordering::Acquire)
    }
}

impl Runtime {
    /// Waits for one of the runtime's `max_concurrent_compiles` permits, for
    /// [`compile_with_permit`](Self::compile_with_permit). Async callers wait
    /// here without tying up a thread.
    ///
    /// # Errors
    ///
    /// [`LoadError::Internal`] if the permits are closed (never, in practice).
    pub async fn compile_permit(&self) -> Result<CompilePermit, LoadError> {
        Arc::clone(&self.compiler.permits)
            .acquire_owned()
            .await
            .map(|held| CompilePermit { _held: held })
            .map_err(|_| permits_closed())
    }

    /// Compiles and validates a component without registering it: nothing
    /// becomes invocable until [`commit`](Self::commit). Waits on the calling
    /// thread for a compile permit if it needs one, then for the compilation
    /// (tens to hundreds of milliseconds, at most `compile_timeout`).
    ///
    /// `limits` defaults to the runtime's `default_limits`. Bytes that are
    /// already registered are not compiled again: their info is returned as
    /// [`Compiled::Existing`] (first name and limits win).
    ///
    /// # Errors
    ///
    /// * [`LoadError::TooLarge`] before anything else if the bytes exceed
    ///   `max_component_bytes`;
    /// * [`LoadError::InvalidName`] if `name` is not 1–64 characters of
    ///   `[A-Za-z0-9._-]`;
    /// * [`LoadError::InvalidLimits`] if `limits` exceed the hard maxima;
    /// * [`LoadError::InvalidComponent`] if the bytes are not a component, do not
    ///   match the `enclet:plugin` world, or cannot be instantiated within limits;
    /// * [`LoadError::CompileTimeout`] if compiling takes longer than
    ///   `compile_timeout` (see the module docs for what happens to it);
    /// * [`LoadError::StartLimit`] if its start code runs past the start bound;
    /// * [`LoadError::TooManyPlugins`] if `max_plugins` are already loaded;
    /// * [`LoadError::Internal`] on a runtime bug.
    pub fn compile(
        &self,
        name: &str,
        component: &[u8],
        limits: Option<Limits>,
    ) -> Result<Compiled, LoadError> {
        self.compile_inner(None, name, component, limits)
    }

    /// [`compile`](Self::compile) with a permit the caller already holds (from
    /// [`compile_permit`](Self::compile_permit)); the permit is released when
    /// the compilation ends, or at once if nothing needs compiling.
    ///
    /// # Errors
    ///
    /// As [`compile`](Self::compile).
    pub fn compile_with_permit(
        &self,
        permit: CompilePermit,
        name: &str,
        component: &[u8],
        limits: Option<Limits>,
    ) -> Result<Compiled, LoadError> {
        self.compile_inner(Some(permit), name, component, limits)
    }

    fn compile_inner(
        &self,
        permit: Option<CompilePermit>,
        name: &str,
        component: &[u8],
        limits: Option<Limits>,
    ) -> Result<Compiled, LoadError> {
        let info = match self.precheck(name, component, limits)? {
            Precheck::Existing(info) => return Ok(Compiled::Existing(info)),
            Precheck::New(info) => info,
        };
        let permit = match permit {
            Some(permit) => permit,
            None => self.compile_permit_blocking()?,
        };
        let limits = info.limits;
        let plugin = self
            .compiler
            .compile(permit, &self.engine, &self.linker, info, component)?;
        self.check_start(&plugin, &limits)?;
        Ok(Compiled::New(Prepared { plugin }))
    }

    /// The checks before compiling, in the order the errors are documented.
    fn precheck(
        &self,
        name: &str,
        component: &[u8],
        limits: Option<Limits>,
    ) -> Result<Precheck, LoadError> {
        let size = u64::try_from(component.len()).unwrap_or(u64::MAX);
        let limit = self.config.max_component_bytes;
        if size > limit {
            return Err(LoadError::TooLarge { size, limit });
        }
        plugin::check_name(name)?;
        let limits = limits.unwrap_or(self.config.default_limits);
        limits.validate(&self.config.hard_maxima)?;
        let measurement = Measurement::of_plugin(component);
        if let Some(existing) = self.registry.get(&measurement) {
            return Ok(Precheck::Existing(existing.info.clone()));
        }
        self.registry.ensure_room()?;
        Ok(Precheck::New(PluginInfo {
            name: name.to_owned(),
            measurement,
            limits,
            size_bytes: size,
        }))
    }

    /// The trial instantiation, in a pool slot like any invocation, under the
    /// start bound; the compile permit is already released.
    fn check_start(&self, plugin: &Plugin, limits: &Limits) -> Result<(), LoadError> {
        let start_ms = u64::try_from(START_DEADLINE.as_millis()).unwrap_or(u64::MAX);
        let ticks = self.ticks(limits.deadline_ms.min(start_ms));
        let fuel = limits.fuel.min(START_FUEL);
        let _slot = self
            .acquire_slot_blocking()
            .map_err(|e| LoadError::Internal(e.to_string()))?;
        invoke::check_instantiates(&self.engine, plugin, self.share.begin_exempt(ticks), fuel)
            .map_err(|e| match e {
                InvokeError::Internal(reason) => LoadError::Internal(reason),
                InvokeError::OutOfFuel | InvokeError::DeadlineExceeded => LoadError::StartLimit(
                    format!("{e} (start code may use {start_ms} ms and {START_FUEL} fuel at load)"),
                ),
                other => LoadError::InvalidComponent(format!("cannot be instantiated: {other}")),
            })
    }

    fn compile_permit_blocking(&self) -> Result<CompilePermit, LoadError> {
        let permits = Arc::clone(&self.compiler.permits);
        if let Ok(permit) = Arc::clone(&permits).try_acquire_owned() {
            return Ok(CompilePermit { _held: permit });
        }
        crate::park::wait(permits.acquire_owned())
            .map(|held| CompilePermit { _held: held })
            .map_err(|_| permits_closed())
    }
}

/// What [`Runtime::precheck`] found.
enum Precheck {
    /// These bytes are registered already, as this plugin.
    Existing(PluginInfo),
    /// A plugin to compile.
    New(PluginInfo),
}

fn permits_closed() -> LoadError {
    LoadError::Internal("compile permits closed".to_owned())
}
