//! Each limit, hit by the hostile plugin through the whole stack, fails only
//! that call; the next call of another plugin succeeds.

use enclet_protocol::Limits;

use crate::harness::{Appliance, api_error, plugin};

const MIB: u64 = 1024 * 1024;

fn limits(fuel: u64, deadline_ms: u64) -> Limits {
    Limits {
        fuel,
        deadline_ms,
        max_memory_bytes: 32 * MIB,
        max_table_elements: 10_000,
        max_input_bytes: MIB,
        max_output_bytes: MIB,
    }
}

/// Loads `hostile` with `limits` (the operator API uses defaults, so this goes
/// straight to the enclave) and `echo` through the API.
async fn setup(app: &Appliance, limits: Limits) -> (String, String) {
    let client = app.enclave_client().await;
    let hostile = client
        .load("hostile", plugin("hostile"), Some(limits))
        .await
        .unwrap();
    assert_eq!(hostile.info.limits, limits);
    (hostile.info.measurement.to_hex(), app.load("echo").await)
}

async fn expect_failure(app: &Appliance, hostile: &str, echo: &str, input: &str, want: &str) {
    let (status, code, message) =
        api_error(app.invoke(hostile, input.as_bytes()).await.unwrap_err());
    assert_eq!((status, code.as_str()), (422, want), "{input}: {message}");
    let out = app.invoke(echo, input.as_bytes()).await.unwrap();
    assert_eq!(out, input.as_bytes(), "echo after {input}");
}

#[tokio::test(flavor = "multi_thread")]
async fn infinite_loop_runs_out_of_fuel() {
    let app = Appliance::start().await;
    let (hostile, echo) = setup(&app, limits(10_000_000, 60_000)).await;
    expect_failure(&app, &hostile, &echo, "loop", "out_of_fuel").await;
    assert_eq!(
        app.invoke(&hostile, b"harmless").await.unwrap(),
        b"harmless"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deadline_memory_stack_and_output_limits() {
    let app = Appliance::start().await;
    let (hostile, echo) = setup(&app, limits(100_000_000_000, 500)).await;
    expect_failure(&app, &hostile, &echo, "loop", "deadline_exceeded").await;
    expect_failure(&app, &hostile, &echo, "memory", "memory_limit").await;
    expect_failure(&app, &hostile, &echo, "recurse", "guest_trap").await;
    expect_failure(&app, &hostile, &echo, "output:2097152", "output_too_large").await;
    expect_failure(&app, &hostile, &echo, "panic", "guest_trap").await;
    expect_failure(&app, &hostile, &echo, "err", "plugin_error").await;
    // The close variant within limits succeeds, on the same plugin.
    let out = app.invoke(&hostile, b"output:1024").await.unwrap();
    assert_eq!(out.len(), 1024);
    assert_eq!(
        app.invoke(&hostile, b"harmless").await.unwrap(),
        b"harmless"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_above_the_hard_maxima_are_refused() {
    let app = Appliance::start().await;
    let client = app.enclave_client().await;
    let err = client
        .load("hostile", plugin("hostile"), Some(limits(u64::MAX, 200)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_limits", "{err}");
}
