//! The operator API stays responsive while every invocation slot of the
//! enclave runs a long call (the parent uses one connection for all of it).

use std::time::{Duration, Instant};

use enclet_protocol::Limits;
use hyper::Method;

use crate::harness::{Appliance, plugin};

/// How long each slow call spins.
const SLOW_MS: u64 = 20_000;

#[tokio::test(flavor = "multi_thread")]
async fn health_and_list_answer_while_every_slot_runs_a_long_call() {
    let app = Appliance::start_full(
        &[
            "--max-concurrent-invocations",
            "2",
            "--shutdown-grace-ms",
            "100",
        ],
        &[],
    )
    .await;
    let slow = Limits {
        fuel: 100_000_000_000,
        deadline_ms: SLOW_MS,
        max_memory_bytes: 64 << 20,
        max_table_elements: 10_000,
        max_input_bytes: 1 << 20,
        max_output_bytes: 1 << 20,
    };
    let hostile = app
        .enclave_client()
        .await
        .load("hostile", plugin("hostile"), Some(slow))
        .await
        .unwrap()
        .info
        .measurement
        .to_hex();
    // Both slots busy and one more call waiting for a slot, all through the
    // parent's one connection.
    let started = Instant::now();
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let api = app.api();
            let path = format!("/v1/plugins/{hostile}/invoke");
            tokio::spawn(async move { api.call(Method::POST, &path, b"loop".to_vec()).await })
        })
        .collect();
    // Give the calls time to reach the enclave (if they have not, the test
    // checks less, it does not fail).
    tokio::time::sleep(Duration::from_secs(1)).await;

    let api = app.api();
    let health: serde_json::Value = api
        .call_json(Method::GET, "/v1/health", Vec::new())
        .await
        .unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    let list: serde_json::Value = api
        .call_json(Method::GET, "/v1/plugins", Vec::new())
        .await
        .unwrap();
    assert_eq!(list["plugins"].as_array().map(Vec::len), Some(1), "{list}");
    // A generous bound: half of the time the slow calls spin.
    let answered = started.elapsed();
    assert!(
        answered < Duration::from_millis(SLOW_MS / 2),
        "health and list took {answered:?}, as if they waited for a slow call\n{}",
        app.logs()
    );
    assert!(
        calls.iter().all(|c| !c.is_finished()),
        "the slow calls are still running"
    );
    for call in calls {
        call.abort();
    }
}
