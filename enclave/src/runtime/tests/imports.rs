//! Which imports load. The `secrets` import is linked for every plugin, yet a plugin that does
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

/// A component of the plugin world that also imports `import` (WAT: an
/// `(import …)` form); its `handle` returns without calling it.
fn component_importing(import: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(component
          {import}
          (core module $m
            (memory (export "memory") 1)
            (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 8))
            (func (export "handle") (param i32 i32) (result i32) (i32.const 0)))
          (core instance $i (instantiate $m))
          (func (export "handle")
            (param "input" (list u8)) (result (result (list u8) (error string)))
            (canon lift (core func $i "handle") (memory (core memory $i "memory"))
              (realloc (core func $i "realloc")))))"#
    ))
    .unwrap()
}

/// Asserts `bytes` is refused at load as `unsupported_import` of `import`,
/// with `reason` in the message; returns the message.
fn assert_refused(rt: &Runtime, bytes: &[u8], import: &str, reason: &str) -> String {
    let err = rt.load("refused", bytes, None).unwrap_err();
    assert_eq!(err.code(), "unsupported_import", "{err}");
    let LoadError::UnsupportedImport { import: named, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(named, import);
    let message = err.to_string();
    assert!(message.contains(reason), "{message}");
    message
}

#[tokio::test]
async fn a_plugin_importing_what_the_host_does_not_provide_is_refused_at_load() {
    let rt = runtime();
    let echo = load(&rt, "echo", None);
    // `stranger` (sdk/plugins/stranger) is a Rust plugin like the others plus
    // `enclet:plugin/intents@0.1.0`, which the host does not link.
    let stranger = plugin_bytes("stranger");
    let stranger_imports = imports(&rt, &stranger);
    assert!(
        stranger_imports.iter().any(|i| i.starts_with("wasi:")),
        "{stranger_imports:?}"
    );
    let message = assert_refused(
        &rt,
        &stranger,
        "enclet:plugin/intents@0.1.0",
        "a matching implementation was not found",
    );
    assert!(
        message.starts_with("unsupported import `enclet:plugin/intents@0.1.0`"),
        "{message}"
    );
    // Refused as a whole: nothing registered, not even for inputs that would
    // never reach the import; the plugin already loaded keeps serving.
    let infos = rt.plugins();
    assert_eq!(infos.len(), 1);
    assert_eq!(infos[0].measurement, echo);
    assert_eq!(
        rt.invoke(&Measurement::of_plugin(&stranger), b"x".to_vec())
            .await
            .unwrap_err(),
        InvokeError::UnknownPlugin
    );
    assert_eq!(rt.invoke(&echo, b"still".to_vec()).await.unwrap(), b"still");
}

#[test]
fn other_versions_and_shapes_of_host_interfaces_are_refused_naming_them() {
    let rt = runtime();
    // Another version of a host interface.
    assert_refused(
        &rt,
        &component_importing(
            r#"(import "enclet:plugin/log@0.2.0" (instance (export "log" (func (param "message" string)))))"#,
        ),
        "enclet:plugin/log@0.2.0",
        "enclet:plugin/log@0.2.0",
    );
    // The right interface, a function of another type.
    assert_refused(
        &rt,
        &component_importing(
            r#"(import "enclet:plugin/secrets@0.1.0" (instance (export "get" (func (param "name" string)))))"#,
        ),
        "enclet:plugin/secrets@0.1.0",
        "get",
    );
    // The right interface, a function the host does not define.
    assert_refused(
        &rt,
        &component_importing(
            r#"(import "enclet:plugin/secrets@0.1.0" (instance (export "list" (func (result string)))))"#,
        ),
        "enclet:plugin/secrets@0.1.0",
        "list",
    );
    // A bare function import outside any interface.
    assert_refused(
        &rt,
        &component_importing(r#"(import "propose" (func))"#),
        "propose",
        "propose",
    );
    assert!(rt.plugins().is_empty());
}

#[tokio::test]
async fn a_wasi_import_loads_and_traps_only_when_called() {
    let rt = runtime();
    // The close variant of the refusals above: a WASI interface the host does
    // not link either, yet the plugin loads (a `std` plugin imports WASI
    // whether it uses it or not) and a call that does not use it succeeds.
    let bytes = component_importing(
        r#"(import "wasi:clocks/wall-clock@0.2.0" (instance (export "now" (func (result u64)))))"#,
    );
    let m = rt.load("clock", &bytes, None).unwrap().info.measurement;
    // (Its `handle` returns whatever list its memory describes; only that
    // the call succeeds matters.)
    assert!(rt.invoke(&m, b"x".to_vec()).await.is_ok());
    // A real plugin that calls WASI: the call traps naming the import.
    let hostile = load(&rt, "hostile", None);
    let err = rt.invoke(&hostile, b"wasi".to_vec()).await.unwrap_err();
    assert_eq!(err.code(), "guest_trap");
    assert!(err.to_string().contains("unknown import"), "{err}");
    assert!(err.to_string().contains("wasi:"), "{err}");
}
