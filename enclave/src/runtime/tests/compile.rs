//! The bounds on loading: compile timeout, compile permits, the start bound.

use std::sync::Arc;
use std::time::Instant;

use super::*;

/// A component of the plugin world whose core module's start function never
/// returns when `spin` is true; with `spin` false it loads (the control).
fn looping_start_component(spin: bool) -> Vec<u8> {
    let start = if spin { "(start $spin)" } else { "" };
    wat::parse_str(format!(
        r#"(component
          (core module $m
            (memory (export "memory") 1)
            (func $spin (loop $again (br $again)))
            {start}
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

/// One compile permit, one pool slot: a leaked permit or slot shows as a hang.
fn single_permit_runtime(compile_timeout: Duration) -> Runtime {
    Runtime::new(RuntimeConfig {
        max_concurrent_invocations: 1,
        max_concurrent_compiles: 1,
        compile_timeout,
        ..RuntimeConfig::default()
    })
    .unwrap()
}

/// Waits (up to a generous liveness bound) for `done`.
fn eventually(what: &str, done: impl Fn() -> bool) {
    let give_up = Instant::now() + Duration::from_mins(1);
    while !done() {
        assert!(Instant::now() < give_up, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_compile_past_the_timeout_fails_with_compile_timeout() {
    // Compiling a real plugin takes far longer than a millisecond.
    let rt = single_permit_runtime(Duration::from_millis(1));
    let err = rt
        .load("payout", &plugin_bytes("payout"), None)
        .unwrap_err();
    assert_eq!(err, LoadError::CompileTimeout { timeout_ms: 1 });
    assert_eq!(err.code(), "compile_timeout");
    assert!(
        rt.plugins().is_empty(),
        "a timed-out compile registers nothing"
    );
    // The compilation runs on to its end in the background, then gives its
    // permit back; its result is discarded.
    eventually("the timed-out compile releases its permit", || {
        rt.compile_permits_available() == 1
    });
    assert!(rt.plugins().is_empty());
}

#[test]
fn compile_timeout_is_validated() {
    for compile_timeout in [Duration::ZERO, Duration::from_secs(3601)] {
        let err = Runtime::new(RuntimeConfig {
            compile_timeout,
            ..RuntimeConfig::default()
        })
        .unwrap_err();
        assert_eq!(err.code(), "invalid_config", "{compile_timeout:?}: {err}");
    }
    for max_concurrent_compiles in [0, 65] {
        let err = Runtime::new(RuntimeConfig {
            max_concurrent_compiles,
            ..RuntimeConfig::default()
        })
        .unwrap_err();
        assert_eq!(err.code(), "invalid_config", "{max_concurrent_compiles}");
    }
}

#[test]
fn loads_wait_for_a_compile_permit() {
    let rt = Arc::new(single_permit_runtime(Duration::from_mins(1)));
    let loads: Vec<_> = ["echo", "payout", "hostile"]
        .into_iter()
        .map(|name| {
            let rt = Arc::clone(&rt);
            std::thread::spawn(move || rt.load(name, &plugin_bytes(name), None))
        })
        .collect();
    for load in loads {
        assert!(load.join().unwrap().unwrap().newly_loaded);
    }
    assert_eq!(rt.peak_concurrent_compiles(), 1, "one permit, one compile");
    assert_eq!(rt.compile_permits_available(), 1);
}

#[test]
fn start_code_that_loops_is_refused_within_the_start_bound() {
    let rt = single_permit_runtime(Duration::from_mins(1));
    // Invocation limits that would let the start code spin for a minute.
    let generous = Limits {
        fuel: HardMaxima::DEFAULT.fuel,
        deadline_ms: HardMaxima::DEFAULT.deadline_ms,
        ..Limits::default()
    };
    let began = Instant::now();
    let err = rt
        .load("spin-start", &looping_start_component(true), Some(generous))
        .unwrap_err();
    let took = began.elapsed();
    // Liveness only: far below the one-minute invocation deadline.
    assert!(
        took < Duration::from_secs(30),
        "refused after {took:?}: the invocation deadline, not the start bound"
    );
    assert!(matches!(err, LoadError::StartLimit(_)), "{err:?}");
    assert_eq!(err.code(), "start_limit");
    assert!(rt.plugins().is_empty());
    // The compile permit and the pool slot are free again: the same component
    // without its start function, and a real plugin, load and run.
    assert_eq!(rt.compile_permits_available(), 1);
    rt.load("no-spin", &looping_start_component(false), Some(generous))
        .unwrap();
    let echo = rt
        .load("echo", &plugin_bytes("echo"), None)
        .unwrap()
        .info
        .measurement;
    assert_eq!(rt.invoke_blocking(&echo, b"after").unwrap(), b"after");
}

#[test]
fn the_start_bound_never_exceeds_the_plugins_own_limits() {
    let rt = single_permit_runtime(Duration::from_mins(1));
    let tiny = Limits {
        fuel: 1_000,
        ..Limits::default()
    };
    let err = rt
        .load("spin-start", &looping_start_component(true), Some(tiny))
        .unwrap_err();
    assert!(
        matches!(err, LoadError::StartLimit(ref m) if m.contains("out of fuel")),
        "{err:?}"
    );
}
