//! The `secrets` import is linked for every plugin, yet a plugin that does
//! not import it — built before it existed, or simply not using it — loads
//! and runs unchanged.

use wasmtime::component::Component;

use super::*;
use crate::runtime::host::{LOG_INTERFACE, SECRETS_INTERFACE};

/// The instance names `bytes` imports.
fn imports(rt: &Runtime, bytes: &[u8]) -> Vec<String> {
    let component = Component::new(&rt.engine, bytes).unwrap();
    component
        .component_type()
        .imports(&rt.engine)
        .map(|(name, _)| name.to_owned())
        .collect()
}

#[tokio::test]
async fn a_plugin_without_the_secrets_import_loads_and_runs() {
    let rt = runtime();
    // echo uses neither logging (except on panic) nor secrets: its component
    // imports log only, exactly as every plugin did before `secrets`.
    let echo_imports = imports(&rt, &plugin_bytes("echo"));
    assert!(
        !echo_imports.iter().any(|i| i == SECRETS_INTERFACE),
        "{echo_imports:?}"
    );
    assert!(
        echo_imports.iter().any(|i| i == LOG_INTERFACE),
        "{echo_imports:?}"
    );
    let echo = load(&rt, "echo", None);
    assert_eq!(rt.invoke(&echo, b"old".to_vec()).await.unwrap(), b"old");
    // The control: hostile does import secrets, and is served by the host
    // (an answer from `get`, not the trap of an unlinked import).
    let hostile_imports = imports(&rt, &plugin_bytes("hostile"));
    assert!(
        hostile_imports.iter().any(|i| i == SECRETS_INTERFACE),
        "{hostile_imports:?}"
    );
    let hostile = load(&rt, "hostile", None);
    let err = rt.invoke(&hostile, b"secret:x".to_vec()).await.unwrap_err();
    assert_eq!(
        err,
        InvokeError::PluginError("secret x: not-granted".to_owned())
    );
}
