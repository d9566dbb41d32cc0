//! The host side of `secrets.get(name) -> result<list<u8>, error>`.
//!
//! Defined by hand like `log`, with the name lifted as a [`WasmStr`]: lifting
//! only checks that the string lies inside guest memory and copies nothing.
//! Then:
//!
//! 1. if this invocation's secrets budget ([`MAX_BYTES_PER_INVOCATION`] of
//!    names read plus values copied) is spent, the call traps;
//! 2. the name is validated as UTF-8 in place (borrowed, not copied) and
//!    charged to the budget in full; a name longer than [`MAX_NAME_BYTES`]
//!    cannot have been granted and is `not-granted` without a lookup;
//! 3. the capability gate allows `secret:NAME` (see `capabilities.rs`: with
//!    tokens checked, a name the plugin's token does not grant ends the
//!    invocation with `denied`, an expired token with `capability_expired`);
//!    then the lookup goes through the invocation's [`SecretsView`](crate::runtime::secrets::SecretsView):
//!    this plugin's own row of the table only;
//! 4. a value (at most [`MAX_VALUE_BYTES`], bounded when the bundle was
//!    parsed) is copied once into guest memory through the guest's
//!    allocator, so it counts against the plugin's memory limit, and charged.
//!
//! So one call makes the host read at most one pass over memory the plugin
//! already owns, and an invocation at most that plus
//! [`MAX_BYTES_PER_INVOCATION`]. The value is never logged: a lookup logs at
//! `debug` the (escaped) name and the outcome. The host's copy of the value
//! is handed to wasmtime to lower and dropped right after.
//!
//! [`WasmStr`]: wasmtime::component::WasmStr

use wasmtime::component::WasmStr;
use wasmtime::{AsContext as _, StoreContextMut};

use super::{HostState, escape};
use crate::runtime::bindings::secrets::Error as WitError;
use crate::runtime::secrets::{LookupError, MAX_NAME_BYTES, MAX_VALUE_BYTES};

/// Bytes of names read and values copied by one invocation's `get` calls
/// together. An honest plugin reading a few secrets of at most 64 KiB stays
/// far below it.
pub(crate) const MAX_BYTES_PER_INVOCATION: usize = 1024 * 1024;

/// What one invocation's `get` calls have cost.
#[derive(Debug, Default)]
pub(crate) struct SecretsBudget {
    spent: usize,
}

/// The result `get` returns to the guest.
type GetResult = (Result<Vec<u8>, WitError>,);

/// The host side of `get: func(name: string) -> result<list<u8>, error>`.
///
/// # Errors
///
/// A trap for the guest when the budget is spent, the name is not valid
/// UTF-8, or (a bug) a stored value is over its bound.
pub(super) fn get(
    mut store: StoreContextMut<'_, HostState>,
    (name,): (WasmStr,),
) -> wasmtime::Result<GetResult> {
    // Step 1: the budget.
    if store.data().secrets_budget.spent >= MAX_BYTES_PER_INVOCATION {
        wasmtime::bail!(
            "secrets.get: this invocation read {MAX_BYTES_PER_INVOCATION} bytes of names and values"
        );
    }
    // Steps 2 and 3: read the name in place, look it up in this plugin's row.
    let (read, result, shown) = {
        let text = name.to_str(store.as_context())?;
        let state = store.data();
        // The capability, before any lookup: a name no token can grant is denied.
        let capability = format!("secret:{}", escape::bounded(&text, MAX_NAME_BYTES));
        state
            .secrets
            .check_capability(&capability)
            .map_err(wasmtime::Error::new)?;
        let result = if text.len() > MAX_NAME_BYTES {
            Err(LookupError::NotGranted)
        } else {
            state.secrets.get(&text).map(|v| v.expose().to_vec())
        };
        (text.len(), result, escape::bounded(&text, MAX_NAME_BYTES))
    };
    // Step 4: the value's size, then the charge.
    let copied = result.as_ref().map_or(0, Vec::len);
    if copied > MAX_VALUE_BYTES {
        wasmtime::bail!("secrets.get: a stored value is over {MAX_VALUE_BYTES} bytes (a bug)");
    }
    let state = store.data_mut();
    state.secrets_budget.spent = state
        .secrets_budget
        .spent
        .saturating_add(read)
        .saturating_add(copied);
    tracing::debug!(
        plugin = %state.label.name,
        measurement = %state.label.measurement,
        name = %shown,
        outcome = result.as_ref().map_or_else(|e| wit_name(*e), |_| "granted"),
        "secret lookup"
    );
    Ok((result.map_err(|e| match e {
        LookupError::NotGranted => WitError::NotGranted,
        LookupError::Expired => WitError::Expired,
    }),))
}

fn wit_name(e: LookupError) -> &'static str {
    match e {
        LookupError::NotGranted => "not-granted",
        LookupError::Expired => "expired",
    }
}
