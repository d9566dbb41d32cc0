//! One invocation: a fresh `Store`, instantiate from the cached pre-instance,
//! call `handle`, check the output, classify failures.
//!
//! The store lives for exactly one call, so nothing a plugin does survives into
//! the next call and no two calls share memory. Its fuel, epoch deadline and
//! [`Limiter`] come from the plugin's [`Limits`](super::Limits).
//!
//! # Reading the result
//!
//! The result is lifted as owned values (`Vec<u8>`, `String`): wasmtime copies
//! them out of guest memory while lifting, and *then* runs the guest's
//! post-return function, which frees the returned buffers. Borrowed views
//! (`WasmList`/`WasmStr`) would be read only after that free, when the
//! guest's allocator may already have written its free-list pointers into
//! them. Copying first costs no bound: the copy is at most as large as the
//! guest's linear memory, which the [`Limiter`] caps at `max_memory_bytes`,
//! and it lives only until the size check below, so a plugin returning more
//! than `max_output_bytes` is refused with [`InvokeError::OutputTooLarge`]
//! after a transient copy of memory it was allowed to use anyway. An `err`
//! string is cut to [`MAX_ERROR_BYTES`] the same way.
//!
//! wasmtime's per-call copy cap ("hostcall fuel", 128 MiB by default) is
//! raised to the plugin's memory limit where that is larger, so every
//! in-bounds result is lifted and a too-large output is always reported as
//! [`InvokeError::OutputTooLarge`], never as an opaque trap. The `log` import
//! lifts only views (see `host.rs`), which allocate nothing.

use wasmtime::{Engine, Store, Trap, UpdateDeadline};

use super::error::InvokeError;
use super::host::HostState;
use super::limiter::{LimitHit, Limiter};
use super::plugin::Plugin;
use enclet_capability::CapabilityError;

use super::secrets::SecretsView;
use super::share::{CallPace, Next};

/// Longest plugin error message kept, in bytes.
pub(crate) const MAX_ERROR_BYTES: usize = 4096;

/// What `handle` returns, copied out of the guest before post-return frees it.
type HandleResult = (Result<Vec<u8>, String>,);

/// Runs `plugin`'s `handle(input)` in a fresh store and hands the result to
/// `answer` before the store is torn down: resetting a used instance slot
/// takes the process's memory-map lock, which another call growing its memory
/// may hold for a while, and the caller need not wait for that. Blocks until
/// the guest returns, traps or hits a limit. `pace` carries the call's
/// deadline and its share of the CPU (`share.rs`); `secrets` is what the
/// plugin's `secrets.get` may read.
pub(crate) fn run<R>(
    engine: &Engine,
    plugin: &Plugin,
    pace: CallPace,
    input: &[u8],
    secrets: SecretsView,
    answer: impl FnOnce(Result<Vec<u8>, InvokeError>) -> R,
) -> R {
    let limits = &plugin.info.limits;
    let mut store = match new_store(engine, plugin, pace, secrets) {
        Ok(store) => store,
        Err(e) => return answer(Err(e)),
    };
    let result = call(&mut store, plugin, input);
    store.data().finish();
    tracing::debug!(
        plugin = %plugin.info.name,
        measurement = %plugin.label.measurement,
        fuel_used = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0)),
        outcome = result.as_ref().map_or_else(InvokeError::code, |_| "ok"),
        "invocation finished"
    );
    if let Some(pace) = store.data_mut().pace.as_mut() {
        pace.answering();
    }
    let answered = answer(result);
    let teardown = store.data_mut().pace.take().map(CallPace::end);
    drop(store);
    drop(teardown);
    answered
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
    raise_hostcall_fuel(store, plugin);
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
            Ok(output)
        }
        Err(message) => Err(InvokeError::PluginError(bounded(&message, MAX_ERROR_BYTES))),
    }
}

/// Lets wasmtime lift any result that fits in the plugin's memory (see the
/// module docs).
fn raise_hostcall_fuel(store: &mut Store<HostState>, plugin: &Plugin) {
    let memory = usize::try_from(plugin.info.limits.max_memory_bytes).unwrap_or(usize::MAX);
    if memory > store.hostcall_fuel() {
        store.set_hostcall_fuel(memory);
    }
}

/// A fresh store carrying `plugin`'s limits.
fn new_store(
    engine: &Engine,
    plugin: &Plugin,
    pace: CallPace,
    secrets: SecretsView,
) -> Result<Store<HostState>, InvokeError> {
    let limits = &plugin.info.limits;
    let limiter = Limiter::new(limits.max_memory_bytes, limits.max_table_elements);
    let mut store = Store::new(
        engine,
        HostState::new(limiter, plugin.label.clone(), secrets),
    );
    store.limiter(HostState::resources);
    store
        .set_fuel(limits.fuel)
        .map_err(|e| InvokeError::Internal(format!("setting fuel: {e:#}")))?;
    // Called back at every tick: the pace decides whether the call goes on,
    // gives way to short calls first, or has met its deadline.
    store.data_mut().pace = Some(pace);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|mut ctx| {
        let next = ctx
            .data_mut()
            .pace
            .as_mut()
            .map_or(Next::Stop, CallPace::on_tick);
        Ok(match next {
            Next::Run => UpdateDeadline::Continue(1),
            Next::Stop => UpdateDeadline::Interrupt,
        })
    });
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
        None if stage == "calling" && err.downcast_ref::<CapabilityError>().is_some() => {
            match err.downcast_ref::<CapabilityError>() {
                Some(e @ CapabilityError::Expired { .. }) => {
                    InvokeError::CapabilityExpired(e.to_string())
                }
                Some(e) => InvokeError::Denied(e.to_string()),
                None => InvokeError::Internal(format!("{stage}: {err:#}")),
            }
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
/// `pace` and `fuel`: the load-time start bound, not the
/// invocation's limits (see `compile.rs`).
pub(crate) fn check_instantiates(
    engine: &Engine,
    plugin: &Plugin,
    pace: CallPace,
    fuel: u64,
) -> Result<(), InvokeError> {
    let mut store = new_store(engine, plugin, pace, SecretsView::none())?;
    store
        .set_fuel(fuel)
        .map_err(|e| InvokeError::Internal(format!("setting fuel: {e:#}")))?;
    let checked = plugin
        .pre
        .instance_pre()
        .instantiate(&mut store)
        .map(|_| ())
        .map_err(|e| classify(&e, &store, "instantiating"));
    drop(store.data_mut().pace.take());
    checked
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
