//! One invocation: a fresh `Store`, instantiate from the cached pre-instance,
//! call `handle`, check the output, classify failures.
//!
//! The store lives for exactly one call, so nothing a plugin does survives into
//! the next call and no two calls share memory. Its fuel, epoch deadline and
//! [`Limiter`] come from the plugin's [`Limits`](super::Limits).
//!
//! The output is lifted as a [`WasmList`] — a bounds-checked view into guest
//! memory — so its length is compared with `max_output_bytes` *before* a single
//! byte is copied to the host. An `err` string is likewise truncated in place
//! before it is copied.

use wasmtime::component::{WasmList, WasmStr};
use wasmtime::{Engine, Store, Trap};

use super::error::InvokeError;
use super::host::HostState;
use super::limiter::{LimitHit, Limiter};
use super::plugin::Plugin;

/// Longest plugin error message kept, in bytes.
pub(crate) const MAX_ERROR_BYTES: usize = 4096;

/// What `handle` returns, as seen before copying out of the guest.
type HandleResult = (Result<WasmList<u8>, WasmStr>,);

/// Runs `plugin`'s `handle(input)` in a fresh store. Blocks until the guest
/// returns, traps or hits a limit. `deadline_ticks` is in epoch ticks.
pub(crate) fn run(
    engine: &Engine,
    plugin: &Plugin,
    deadline_ticks: u64,
    input: &[u8],
) -> Result<Vec<u8>, InvokeError> {
    let limits = &plugin.info.limits;
    let mut store = new_store(engine, plugin, deadline_ticks)?;

    let result = call(&mut store, plugin, input);
    store.data().finish();
    tracing::debug!(
        plugin = %plugin.info.name,
        measurement = %plugin.label.measurement,
        fuel_used = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0)),
        outcome = result.as_ref().map_or_else(InvokeError::code, |_| "ok"),
        "invocation finished"
    );
    result
}

fn call(
    store: &mut Store<HostState>,
    plugin: &Plugin,
    input: &[u8],
) -> Result<Vec<u8>, InvokeError> {
    let instance = plugin
        .pre
        .instance_pre()
        .instantiate(&mut *store)
        .map_err(|e| classify(&e, store, "instantiating"))?;
    let handle = instance
        .get_typed_func::<(&[u8],), HandleResult>(&mut *store, &plugin.handle)
        .map_err(|e| InvokeError::Internal(format!("`handle` export: {e:#}")))?;
    let (result,) = handle
        .call(&mut *store, (input,))
        .map_err(|e| classify(&e, store, "calling"))?;
    match result {
        Ok(output) => {
            let size = u64::try_from(output.len()).unwrap_or(u64::MAX);
            let limit = plugin.info.limits.max_output_bytes;
            if size > limit {
                return Err(InvokeError::OutputTooLarge { size, limit });
            }
            Ok(output.as_le_slice(&*store).to_vec())
        }
        Err(message) => {
            let text = message.to_str(&*store).map_err(|e| {
                InvokeError::GuestTrap(format!("error message is not valid: {e:#}"))
            })?;
            Err(InvokeError::PluginError(bounded(&text, MAX_ERROR_BYTES)))
        }
    }
}

/// A fresh store carrying `plugin`'s limits.
fn new_store(
    engine: &Engine,
    plugin: &Plugin,
    deadline_ticks: u64,
) -> Result<Store<HostState>, InvokeError> {
    let limits = &plugin.info.limits;
    let limiter = Limiter::new(limits.max_memory_bytes, limits.max_table_elements);
    let mut store = Store::new(engine, HostState::new(limiter, plugin.label.clone()));
    store.limiter(|state| &mut state.limiter);
    store
        .set_fuel(limits.fuel)
        .map_err(|e| InvokeError::Internal(format!("setting fuel: {e:#}")))?;
    store.set_epoch_deadline(deadline_ticks);
    Ok(store)
}

/// Turns a wasmtime error into the reason the invocation failed.
fn classify(err: &wasmtime::Error, store: &Store<HostState>, stage: &str) -> InvokeError {
    // A limit recorded by our limiter wins: the guest may have turned the
    // refusal into some other trap.
    match store.data().limiter.hit() {
        Some(LimitHit::Memory) => return InvokeError::MemoryLimit,
        Some(LimitHit::Table) => return InvokeError::TableLimit,
        None => {}
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => InvokeError::OutOfFuel,
        Some(Trap::Interrupt) => InvokeError::DeadlineExceeded,
        Some(trap) => {
            // `Trap`'s Display reads "wasm trap: <reason>"; keep the reason.
            let text = trap.to_string();
            let reason = text.strip_prefix("wasm trap: ").unwrap_or(&text);
            InvokeError::GuestTrap(reason.to_owned())
        }
        // Errors raised while running guest code without a wasm trap: a call of
        // an import the plugin was not granted, a canonical-ABI violation.
        None if stage == "calling" => InvokeError::GuestTrap(err.root_cause().to_string()),
        None => InvokeError::Internal(format!("{stage}: {err:#}")),
    }
}

/// Copies at most `max` bytes of `s`, cut on a character boundary.
fn bounded(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    s.get(..end).unwrap_or_default().to_owned()
}

/// Instantiates `plugin` once without calling it, so a component that can
/// never start (initial memory above its limit, more instances or tables than
/// a pool slot holds) is rejected at load. Its start code runs under
/// `deadline_ticks` and `fuel`: the load-time start bound, not the
/// invocation's limits (see `compile.rs`).
pub(crate) fn check_instantiates(
    engine: &Engine,
    plugin: &Plugin,
    deadline_ticks: u64,
    fuel: u64,
) -> Result<(), InvokeError> {
    let mut store = new_store(engine, plugin, deadline_ticks)?;
    store
        .set_fuel(fuel)
        .map_err(|e| InvokeError::Internal(format!("setting fuel: {e:#}")))?;
    plugin
        .pre
        .instance_pre()
        .instantiate(&mut store)
        .map(|_| ())
        .map_err(|e| classify(&e, &store, "instantiating"))
}

#[cfg(test)]
mod tests {
    use super::bounded;

    #[test]
    fn bounded_cuts_on_char_boundary() {
        assert_eq!(bounded("hello", 10), "hello");
        assert_eq!(bounded("hello", 3), "hel");
        assert_eq!(bounded("héllo", 2), "h");
    }
}
