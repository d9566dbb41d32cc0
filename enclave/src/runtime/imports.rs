//! Which imports a plugin may declare, decided at load.
//!
//! A component lists every import it needs before any of its code runs, so
//! the enclave can judge them all at load rather than let a call fail later:
//!
//! * **Host interfaces** (`enclet:plugin/log@0.1.0`,
//!   `enclet:plugin/secrets@0.1.0`, whatever [`host::add_to_linker`] links)
//!   must match the host's definition exactly: same interface, same
//!   functions, same types.
//! * **WASI** (`wasi:*`): a Rust `std` plugin built for `wasm32-wasip2`
//!   imports WASI whether it uses it or not (the standard library's clock,
//!   stdio and environment), so refusing it would refuse every such plugin.
//!   These imports load and are defined as traps: a call to one fails that
//!   invocation as a guest trap naming the import, and grants nothing.
//! * **Anything else** — an interface the host does not link, another
//!   version of a host interface, a host interface with a function the host
//!   does not define or with other types, a core module or component import
//!   — refuses the plugin with [`LoadError::UnsupportedImport`] naming the
//!   import. A plugin built against a newer host API is thus refused as a
//!   whole at load, instead of loading and failing one call at a time.
//!
//! Each non-WASI import is checked on its own: in a copy of the host linker
//! where every *other* import is stubbed, the component's imports are
//! type-checked, so the import that fails is the one named.
//!
//! [`host::add_to_linker`]: super::host::add_to_linker

use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker, LinkerInstance, ResourceType};

use super::error::LoadError;
use super::host::HostState;

/// Prefix of the WASI interfaces, which load as traps.
const WASI_PREFIX: &str = "wasi:";

/// Longest import name an error repeats, in bytes.
const MAX_NAME_IN_ERROR: usize = 128;

/// Longest reason an error carries, in bytes.
const MAX_REASON_IN_ERROR: usize = 512;

/// Refuses `component` if it imports anything other than the interfaces
/// `base` links and WASI (see the module docs).
pub(crate) fn check(
    engine: &Engine,
    base: &Linker<HostState>,
    component: &Component,
) -> Result<(), LoadError> {
    let imports: Vec<(String, ComponentItem)> = component
        .component_type()
        .imports(engine)
        .map(|(name, import)| (name.to_owned(), import.ty))
        .collect();
    for (name, item) in &imports {
        if let Some(kind) = unstubbable(item) {
            return Err(unsupported(name, &format!("a {kind} import")));
        }
    }
    for (name, _) in imports.iter().filter(|(name, _)| !is_wasi(name)) {
        let mut probe = base.clone();
        probe.allow_shadowing(true);
        for (other, item) in imports.iter().filter(|(other, _)| other != name) {
            stub(engine, &mut probe.root(), other, item)
                .map_err(|e| LoadError::Internal(format!("stubbing an import: {e:#}")))?;
        }
        probe
            .substituted_component_type(component)
            .map_err(|e| unsupported(name, &format!("{e:#}")))?;
    }
    Ok(())
}

/// Whether `name` is a WASI interface.
fn is_wasi(name: &str) -> bool {
    name.starts_with(WASI_PREFIX)
}

/// What kind of import `item` is, if it cannot be defined as a trap.
fn unstubbable(item: &ComponentItem) -> Option<&'static str> {
    match item {
        ComponentItem::Module(_) => Some("core module"),
        ComponentItem::Component(_) => Some("component"),
        ComponentItem::CoreFunc(_) => Some("core function"),
        ComponentItem::ComponentFunc(_)
        | ComponentItem::ComponentInstance(_)
        | ComponentItem::Type(_)
        | ComponentItem::Resource(_) => None,
    }
}

/// Defines `item` under `name` in `linker` as something that traps when
/// used; only for a probe, never for a linker that runs code.
fn stub(
    engine: &Engine,
    linker: &mut LinkerInstance<'_, HostState>,
    name: &str,
    item: &ComponentItem,
) -> wasmtime::Result<()> {
    match item {
        ComponentItem::ComponentFunc(_) => linker.func_new(name, |_, _, _, _| {
            Err(wasmtime::Error::msg("import checked at load, never called"))
        }),
        ComponentItem::ComponentInstance(instance) => {
            let mut inner = linker.instance(name)?;
            for (export, item) in instance.exports(engine) {
                stub(engine, &mut inner, export, &item.ty)?;
            }
            Ok(())
        }
        ComponentItem::Resource(_) => {
            linker.resource(name, ResourceType::host::<()>(), |_, _| Ok(()))
        }
        ComponentItem::Type(_)
        | ComponentItem::Module(_)
        | ComponentItem::Component(_)
        | ComponentItem::CoreFunc(_) => Ok(()),
    }
}

/// [`LoadError::UnsupportedImport`] with both strings bounded (the name
/// comes from the component).
fn unsupported(name: &str, reason: &str) -> LoadError {
    LoadError::UnsupportedImport {
        import: clip(name, MAX_NAME_IN_ERROR),
        reason: clip(reason, MAX_REASON_IN_ERROR),
    }
}

/// `s` cut to at most `max` bytes on a character boundary, marked if cut.
fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    format!("{}…", s.get(..end).unwrap_or_default())
}
