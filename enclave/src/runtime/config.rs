//! [`RuntimeConfig`]: pool size, epoch tick, compile bounds, default limits,
//! hard maxima.

use std::time::Duration;

use enclet_attestation::event_log::MAX_EVENTS;

use super::Runtime;
use super::error::RuntimeError;
use super::limits::{HardMaxima, Limits};
use super::share::ShortCallsFirst;

const MIB: u64 = 1024 * 1024;

/// Configuration of a [`Runtime`](super::Runtime).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Invocations that may run at once; also the number of instance pool slots.
    /// Further invocations wait for a slot.
    pub max_concurrent_invocations: u32,
    /// Epoch tick: the granularity of deadlines (1 ms ..= 1 s).
    pub epoch_tick: Duration,
    /// Limits of plugins loaded without explicit limits.
    pub default_limits: Limits,
    /// Upper bounds for any plugin's limits.
    pub hard_maxima: HardMaxima,
    /// Largest component accepted by `load`, in bytes (checked before hashing).
    /// Defaults to [`enclet_protocol::MAX_BODY_BYTES`], the largest body the
    /// parent accepts and the default frame fits.
    pub max_component_bytes: u64,
    /// Most plugins loaded at once (at most the event log's `MAX_EVENTS`).
    pub max_plugins: usize,
    /// Wasm stack per invocation in bytes; deeper recursion traps.
    pub max_wasm_stack_bytes: usize,
    /// Compilations running at once (1..=64); each uses one thread, so this
    /// bounds the cores compiling. Further loads wait for a permit.
    pub max_concurrent_compiles: u32,
    /// Longest one compilation may take (1 ms ..= 1 h); a load that compiles
    /// longer fails with `compile_timeout`. The compilation itself cannot be
    /// interrupted: it runs on to its end, keeping its permit, and its result
    /// is discarded (see `compile.rs`).
    pub compile_timeout: Duration,
    /// How capability-gated host calls (`secrets.get`, `log`) are checked.
    pub capability_gate: CapabilityGate,
    /// Long calls give way to short ones (see [`ShortCallsFirst`]), for an
    /// enclave that has its CPUs to itself; `None` (the default): every call
    /// competes for the CPU on equal terms.
    pub short_calls_first: Option<ShortCallsFirst>,
}

/// How capability-gated host calls are checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CapabilityGate {
    /// Every gated call needs the plugin's capability token from the last
    /// release, signed by this root (the control plane's key, part of the
    /// enclave's measured configuration) and bound to this enclave's key.
    Tokens(enclet_capability::RootPublicKey),
    /// DEVELOPMENT ONLY: gated calls are not checked against any token
    /// (secrets are still only what a release sealed to the plugin). The
    /// enclave binary warns at start-up when it runs this way.
    #[default]
    InsecureUngated,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            max_concurrent_invocations: 32,
            epoch_tick: Duration::from_millis(1),
            default_limits: Limits::default(),
            hard_maxima: HardMaxima::DEFAULT,
            max_component_bytes: u64::from(enclet_protocol::MAX_BODY_BYTES),
            max_plugins: 256,
            max_wasm_stack_bytes: 512 * 1024,
            max_concurrent_compiles: 2,
            compile_timeout: Duration::from_mins(1),
            capability_gate: CapabilityGate::InsecureUngated,
            short_calls_first: None,
        }
    }
}

impl Runtime {
    /// The configuration this runtime was built with; its `default_limits`
    /// complete a load request that gives only some limits.
    #[must_use]
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }
}

impl RuntimeConfig {
    pub(crate) fn validate(&self) -> Result<(), RuntimeError> {
        let bad = |msg: String| Err(RuntimeError::InvalidConfig(msg));
        if !(1..=1024).contains(&self.max_concurrent_invocations) {
            return bad(format!(
                "max_concurrent_invocations is {}, must be 1..=1024",
                self.max_concurrent_invocations
            ));
        }
        if self.epoch_tick < Duration::from_millis(1) || self.epoch_tick > Duration::from_secs(1) {
            return bad(format!(
                "epoch_tick is {:?}, must be 1ms..=1s",
                self.epoch_tick
            ));
        }
        if let Some(p) = self.short_calls_first {
            let ms = Duration::from_millis;
            if !(ms(1)..=Duration::from_mins(10)).contains(&p.long_after) {
                return bad(format!(
                    "short_calls_first.long_after is {:?}, must be 1ms..=10min",
                    p.long_after
                ));
            }
            if !p.yield_every.is_zero()
                && !(Duration::from_micros(50)..=Duration::from_secs(1)).contains(&p.yield_every)
            {
                return bad(format!(
                    "short_calls_first.yield_every is {:?}, must be 0 or 50us..=1s",
                    p.yield_every
                ));
            }
            if !(ms(1)..=Duration::from_secs(1)).contains(&p.max_pause) {
                return bad(format!(
                    "short_calls_first.max_pause is {:?}, must be 1ms..=1s",
                    p.max_pause
                ));
            }
            if p.plugin_share_percent > 10_000 {
                return bad(format!(
                    "short_calls_first.plugin_share_percent is {}, must be 0..=10000",
                    p.plugin_share_percent
                ));
            }
            if p.plugin_quota_percent > 10_000 {
                return bad(format!(
                    "short_calls_first.plugin_quota_percent is {}, must be 0..=10000",
                    p.plugin_quota_percent
                ));
            }
            // Over its share a plugin's calls start in the background, where
            // they stop counting against other plugins' quotas: with the
            // quota above the share (or no share), busy plugins would hold
            // each other back with cores to spare.
            if p.plugin_quota_percent > 0
                && (p.plugin_share_percent == 0 || p.plugin_quota_percent > p.plugin_share_percent)
            {
                return bad(format!(
                    "short_calls_first.plugin_quota_percent is {}, must be 0 or at most \
                     plugin_share_percent ({}, not 0)",
                    p.plugin_quota_percent, p.plugin_share_percent
                ));
            }
        }
        if !(1..=256 * MIB).contains(&self.max_component_bytes) {
            return bad(format!(
                "max_component_bytes is {}, must be 1..=256 MiB",
                self.max_component_bytes
            ));
        }
        // Every loaded plugin takes one event-log entry.
        if !(1..=MAX_EVENTS).contains(&self.max_plugins) {
            return bad(format!(
                "max_plugins is {}, must be 1..={MAX_EVENTS} (the event log's capacity)",
                self.max_plugins
            ));
        }
        if !(64 * 1024..=8 * 1024 * 1024).contains(&self.max_wasm_stack_bytes) {
            return bad(format!(
                "max_wasm_stack_bytes is {}, must be 64 KiB..=8 MiB",
                self.max_wasm_stack_bytes
            ));
        }
        if !(1..=64).contains(&self.max_concurrent_compiles) {
            return bad(format!(
                "max_concurrent_compiles is {}, must be 1..=64",
                self.max_concurrent_compiles
            ));
        }
        if self.compile_timeout < Duration::from_millis(1)
            || self.compile_timeout > Duration::from_hours(1)
        {
            return bad(format!(
                "compile_timeout is {:?}, must be 1ms..=1h",
                self.compile_timeout
            ));
        }
        self.default_limits
            .validate(&self.hard_maxima)
            .map_err(|e| RuntimeError::InvalidConfig(format!("default_limits: {e}")))
    }
}
