//! One body limit: the parent relays every body up to what the enclave
//! accepts (32 MiB, `enclet_protocol::MAX_BODY_BYTES`), and its one flag
//! cannot be set beyond that.

use std::process::{Command, Stdio};

use hyper::Method;

use crate::harness::{Appliance, api_error, bin, load_via_api};

const MIB: usize = 1 << 20;

/// Bodies between the parent's former 16 MiB and the enclave's 32 MiB reach
/// the enclave and are judged there, as smaller ones are.
#[tokio::test(flavor = "multi_thread")]
async fn bodies_up_to_the_enclave_limit_reach_the_enclave() {
    let app = Appliance::start().await;
    let api = app.api();
    for size in [20 * MIB, 32 * MIB] {
        let (status, code, message) =
            api_error(load_via_api(&api, "big", vec![0; size]).await.unwrap_err());
        assert_eq!(
            (status, code.as_str()),
            (422, "invalid_component"),
            "a {size}-byte component: {message}"
        );
    }
    // An input between the old limits is judged by the plugin's own limit.
    let echo = app.load("echo").await;
    let (status, code, message) =
        api_error(app.invoke(&echo, &vec![1; 20 * MIB]).await.unwrap_err());
    assert_eq!(
        (status, code.as_str()),
        (413, "input_too_large"),
        "{message}"
    );
    // The connection to the enclave survived all of it.
    let health: serde_json::Value = api
        .call_json(Method::GET, "/v1/health", Vec::new())
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
}

/// The parent refuses a body limit above what the enclave accepts.
#[test]
fn the_body_limit_cannot_exceed_the_enclaves() {
    let dir = tempfile::tempdir().unwrap();
    let run = |limit: usize| {
        Command::new(bin("enclet-parent"))
            .arg("--enclave")
            .arg(format!("unix:{}", dir.path().join("e.sock").display()))
            .arg("--listen")
            .arg(format!("unix:{}", dir.path().join("p.sock").display()))
            .arg("--max-body-bytes")
            .arg(limit.to_string())
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap()
    };
    assert_eq!(
        run(32 * MIB).status.code(),
        Some(0),
        "the limit itself is allowed"
    );
    let over = run(32 * MIB + 1);
    assert_eq!(
        over.status.code(),
        Some(2),
        "an over-limit flag was accepted"
    );
    let stderr = String::from_utf8_lossy(&over.stderr);
    assert!(stderr.contains("--max-body-bytes"), "{stderr}");
}
