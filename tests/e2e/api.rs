//! Bad operator API requests get specific errors.

use enclet_attestation::Measurement;
use hyper::Method;

use crate::harness::{Appliance, api_error, load_via_api, plugin};

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_specific_errors() {
    let app = Appliance::start_with(&["--max-body-bytes", "4096"]).await;
    let api = app.api();
    let call = |method: Method, path: &'static str, body: Vec<u8>| {
        let api = api.clone();
        async move { api_error(api.call(method, path, body).await.unwrap_err()) }
    };

    // Unknown measurement (well-formed), malformed measurement.
    let unknown = Measurement::of_plugin(b"never loaded").to_hex();
    let (status, code, _) = api_error(app.invoke(&unknown, b"x").await.unwrap_err());
    assert_eq!((status, code.as_str()), (404, "unknown_plugin"));
    let (status, code, message) = api_error(app.invoke("abc123", b"x").await.unwrap_err());
    assert_eq!((status, code.as_str()), (400, "invalid_measurement"));
    assert!(message.contains("96 hexadecimal"), "{message}");

    // Unknown path and wrong method.
    let (status, code, _) = call(Method::GET, "/v1/nothing", Vec::new()).await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
    let (status, code, _) = call(Method::DELETE, "/v1/plugins", Vec::new()).await;
    assert_eq!((status, code.as_str()), (405, "method_not_allowed"));

    // Load without a name, with a bad name.
    let (status, code, _) = call(Method::POST, "/v1/plugins", b"x".to_vec()).await;
    assert_eq!((status, code.as_str()), (400, "invalid_name"));
    let (status, code, _) = call(Method::POST, "/v1/plugins?name=a/b", b"x".to_vec()).await;
    assert_eq!((status, code.as_str()), (400, "invalid_name"));

    // Oversized body: refused by the parent before reaching the enclave.
    let (status, code, _) = api_error(load_via_api(&api, "big", vec![0; 4097]).await.unwrap_err());
    assert_eq!((status, code.as_str()), (413, "body_too_large"));
    let small = Measurement::of_plugin(b"x").to_hex();
    let (status, code, _) = api_error(app.invoke(&small, &[0; 8192]).await.unwrap_err());
    assert_eq!((status, code.as_str()), (413, "body_too_large"));
    // The close variant under the limit reaches the enclave (and is judged there).
    let (status, code, _) = api_error(
        load_via_api(&api, "small", vec![0; 4096])
            .await
            .unwrap_err(),
    );
    assert_eq!((status, code.as_str()), (422, "invalid_component"));

    // The parent is still healthy after all that.
    let health: serde_json::Value = api
        .call_json(Method::GET, "/v1/health", Vec::new())
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn input_over_the_plugin_limit_is_refused() {
    let app = Appliance::start().await;
    let echo = app.load("echo").await;
    // Default plugin input limit is 1 MiB; the parent accepts bodies up to 32 MiB.
    let (status, code, _) = api_error(
        app.invoke(&echo, &vec![1; (1 << 20) + 1])
            .await
            .unwrap_err(),
    );
    assert_eq!((status, code.as_str()), (413, "input_too_large"));
    assert_eq!(
        app.invoke(&echo, &vec![1; 1 << 20]).await.unwrap().len(),
        1 << 20
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn enclave_down_is_service_unavailable() {
    let mut app = Appliance::start().await;
    let status = tokio::task::spawn_blocking(move || {
        let s = app.stop_enclave();
        (s, app)
    })
    .await
    .unwrap();
    let app = status.1;
    let (code_status, code, _) = api_error(
        app.api()
            .call(Method::GET, "/v1/health", Vec::new())
            .await
            .unwrap_err(),
    );
    assert_eq!((code_status, code.as_str()), (503, "enclave_unavailable"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_the_enclave_does_not_answer_in_time_is_a_gateway_timeout() {
    let app = Appliance::start_with(&["--request-timeout-secs", "2"]).await;
    // A deadline well past the parent's timeout: the parent gives up first.
    let limits = enclet_protocol::Limits {
        fuel: 100_000_000_000,
        deadline_ms: 6_000,
        max_memory_bytes: 64 << 20,
        max_table_elements: 10_000,
        max_input_bytes: 1 << 20,
        max_output_bytes: 1 << 20,
    };
    let hostile = app
        .enclave_client()
        .await
        .load("hostile", plugin("hostile"), Some(limits))
        .await
        .unwrap()
        .info
        .measurement
        .to_hex();
    let (status, code, message) = api_error(app.invoke(&hostile, b"loop").await.unwrap_err());
    assert_eq!(
        (status, code.as_str()),
        (504, "enclave_timeout"),
        "{message}"
    );
    // A request the enclave answers at once still succeeds meanwhile.
    let health: serde_json::Value = app
        .api()
        .call_json(Method::GET, "/v1/health", Vec::new())
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
}
