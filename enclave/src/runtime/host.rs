//! Host state of one invocation and the host side of the `log` and `secrets`
//! imports (the latter in `secrets.rs`).
//!
//! A plugin's log records go to `tracing` under the target `enclet::plugin`,
//! with the plugin's name and measurement as fields, so an operator can tell
//! plugins apart without trusting what they print.
//!
//! # What a `log` call may cost the host
//!
//! The import is defined by hand ([`add_to_linker`]), not through the
//! generated bindings: those would lift `message` and every field into host
//! `String`s before any bound applies, so a list of 2,000 fields pointing at
//! one 1 MiB string would make the host copy gigabytes from 1 MiB of guest
//! memory (wasm fuel does not pay for host-side copying). Instead the
//! parameters arrive as borrowed views into guest memory ([`WasmStr`],
//! [`WasmList`]): lifting one only checks that it lies in bounds. The host
//! then reads strings one at a time under [`LogBudget`]:
//!
//! * **records**: at most [`MAX_RECORDS`] per invocation; later calls return
//!   at once without reading anything;
//! * **bytes read**: every byte of a guest string the host reads (UTF-8
//!   validation passes over the whole string) is charged, at most
//!   [`MAX_READ_BYTES_PER_CALL`](budget::MAX_READ_BYTES_PER_CALL) per call
//!   and [`MAX_READ_BYTES_PER_INVOCATION`] per invocation. A string is read
//!   only while the budget is not spent, so the one string that overdraws it
//!   costs at most one pass over memory the plugin already owns; after that
//!   nothing more is read;
//! * **bytes kept**: the message is cut to
//!   [`MAX_MESSAGE_BYTES`](budget::MAX_MESSAGE_BYTES), at most [`MAX_FIELDS`]
//!   fields are kept, keys and values are cut to
//!   [`MAX_FIELD_BYTES`](budget::MAX_FIELD_BYTES); only what is kept is
//!   copied.
//!
//! What exceeds a bound is dropped (never a trap) and counted; the counts are
//! logged once when the invocation ends ([`HostState::finish`]). So a `log`
//! call copies at most a few KiB whatever the plugin passes, and the host's
//! memory stays within the plugins' own limits.
//!
//! # Forged lines
//!
//! Everything a plugin supplies — message, keys, values — is escaped
//! ([`escape`]) before it reaches `tracing`: line breaks, other control
//! characters (C0, DEL, C1, so ANSI escape sequences too) and invisible
//! layout characters become visible escapes, so a plugin cannot start a line
//! that looks like the enclave's own.
//!
//! [`WasmStr`]: wasmtime::component::WasmStr
//! [`WasmList`]: wasmtime::component::WasmList

mod budget;
mod escape;
mod record;
mod secrets;

use std::sync::Arc;

use wasmtime::component::Linker;

use super::limiter::Limiter;
use super::secrets::SecretsView;
use super::share::CallPace;
pub(crate) use budget::MAX_RECORDS;
use budget::{LogBudget, MAX_FIELDS, MAX_READ_BYTES_PER_INVOCATION};
use secrets::SecretsBudget;

/// The interface the `log` import belongs to (`sdk/wit/plugin.wit`).
pub(crate) const LOG_INTERFACE: &str = "enclet:plugin/log@0.1.0";
/// The interface the `secrets` import belongs to (`sdk/wit/plugin.wit`).
pub(crate) const SECRETS_INTERFACE: &str = "enclet:plugin/secrets@0.1.0";

/// Who is logging: fixed at load, shared by every invocation of a plugin.
#[derive(Debug)]
pub(crate) struct PluginLabel {
    pub(crate) name: String,
    pub(crate) measurement: String,
}

/// The data of one invocation's `Store`.
#[derive(Debug)]
pub(crate) struct HostState {
    pub(crate) limiter: Limiter,
    label: Arc<PluginLabel>,
    log: LogBudget,
    secrets: SecretsView,
    secrets_budget: SecretsBudget,
    /// The call's deadline and CPU share (`share.rs`), consulted at every
    /// epoch tick; taken out when the call ends, before the store is torn
    /// down, so that the teardown runs in the thread's own class.
    pub(crate) pace: Option<CallPace>,
}

impl HostState {
    pub(crate) fn new(limiter: Limiter, label: Arc<PluginLabel>, secrets: SecretsView) -> Self {
        Self {
            limiter,
            label,
            log: LogBudget::new(),
            secrets,
            secrets_budget: SecretsBudget::default(),
            pace: None,
        }
    }

    /// The store's resource limiter: the [`Limiter`], and a background call
    /// gives way before its memory grows (see [`CallPace::before_growing`]).
    pub(crate) fn resources(&mut self) -> &mut dyn wasmtime::ResourceLimiter {
        self
    }

    /// Reports log output dropped during this invocation, if any.
    pub(crate) fn finish(&self) {
        let log = &self.log;
        if log.dropped_anything() {
            tracing::warn!(
                target: "enclet::plugin",
                plugin = %self.label.name,
                measurement = %self.label.measurement,
                dropped_records = log.dropped_records(),
                dropped_fields = log.dropped_fields(),
                read_budget_spent = log.read_budget_spent(),
                "plugin log output dropped: at most {MAX_RECORDS} records of \
                 {MAX_FIELDS} fields and {MAX_READ_BYTES_PER_INVOCATION} bytes read \
                 per invocation"
            );
        }
    }
}

/// Defines the `log` and `secrets` imports in `linker` (see the module
/// docs). A component that imports neither still links: a definition nobody
/// imports is ignored.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker
        .instance(LOG_INTERFACE)?
        .func_wrap("log", record::log)?;
    linker
        .instance(SECRETS_INTERFACE)?
        .func_wrap("get", secrets::get)
}

impl wasmtime::ResourceLimiter for HostState {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limiter.memory_growing(current, desired, maximum)?;
        if allowed && let Some(pace) = &self.pace {
            pace.before_growing();
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limiter.table_growing(current, desired, maximum)
    }
}
