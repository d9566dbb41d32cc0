//! Load + invoke through the operator API and the CLI; invalid components.

use enclet_attestation::Measurement;
use hyper::Method;

use crate::harness::{Appliance, api_error, load_via_api, plugin, plugin_dir};

#[tokio::test(flavor = "multi_thread")]
async fn load_and_invoke_through_the_parent() {
    let app = Appliance::start().await;
    let api = app.api();
    let echo = plugin("echo");
    let answer = load_via_api(&api, "echo", echo.clone()).await.unwrap();
    let measurement = Measurement::of_plugin(&echo).to_hex();
    assert_eq!(answer["name"], "echo");
    assert_eq!(answer["measurement"], measurement.as_str());
    assert_eq!(answer["size_bytes"], echo.len());
    assert_eq!(answer["newly_loaded"], true);

    // Same bytes again: idempotent, same measurement.
    let again = load_via_api(&api, "echo-again", echo.clone())
        .await
        .unwrap();
    assert_eq!(again["measurement"], measurement.as_str());
    assert_eq!(again["newly_loaded"], false);

    let out = app.invoke(&measurement, b"hello, enclave").await.unwrap();
    assert_eq!(out, b"hello, enclave");

    let payout = app.load("payout").await;
    let basket = br#"{"currency":"EUR","platform":"market","fee_bps":1000,
        "items":[{"sku":"b","seller":"alice","unit_cents":2000,"quantity":2}],
        "royalties":[{"sku":"b","party":"author","bps":1500}]}"#;
    let out: serde_json::Value =
        serde_json::from_slice(&app.invoke(&payout, basket).await.unwrap()).unwrap();
    assert_eq!(out["total_cents"], 4000);
    assert_eq!(
        out["payouts"],
        serde_json::json!([
            {"party": "alice", "cents": 3000},
            {"party": "author", "cents": 600},
            {"party": "market", "cents": 400}
        ])
    );
    // A close variant the plugin rejects: the plugin's own error, 422.
    let (status, code, message) = api_error(
        app.invoke(&payout, b"{\"currency\":\"EUR\"}")
            .await
            .unwrap_err(),
    );
    assert_eq!((status, code.as_str()), (422, "plugin_error"), "{message}");

    let list: serde_json::Value = api
        .call_json(Method::GET, "/v1/plugins", Vec::new())
        .await
        .unwrap();
    let names: Vec<_> = list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["echo", "payout"]);

    let health: serde_json::Value = api
        .call_json(Method::GET, "/v1/health", Vec::new())
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["enclave"]["plugins"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_component_is_rejected_at_load() {
    let app = Appliance::start().await;
    // Plain bytes, a core-module header, and a truncated real component.
    let mut truncated = plugin("echo");
    truncated.truncate(truncated.len() / 2);
    for bytes in [
        b"definitely not wasm".to_vec(),
        b"\0asm\x01\0\0\0".to_vec(),
        truncated,
    ] {
        let (status, code, message) =
            api_error(load_via_api(&app.api(), "bad", bytes).await.unwrap_err());
        assert_eq!(
            (status, code.as_str()),
            (422, "invalid_component"),
            "{message}"
        );
        assert!(!message.is_empty());
    }
    // Nothing was registered, and a valid plugin still loads afterwards.
    let list: serde_json::Value = app
        .api()
        .call_json(Method::GET, "/v1/plugins", Vec::new())
        .await
        .unwrap();
    assert_eq!(list["plugins"], serde_json::json!([]));
    let echo = app.load("echo").await;
    assert_eq!(app.invoke(&echo, b"x").await.unwrap(), b"x");
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_loads_invokes_and_lists() {
    let app = Appliance::start().await;
    let echo_path = plugin_dir().join("echo.wasm");
    let out = app.enclet(&["plugin", "load", echo_path.to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["name"], "echo");
    let measurement = answer["measurement"].as_str().unwrap().to_owned();

    // By name and by measurement; stdout is exactly the output bytes.
    let out = app.enclet(&["plugin", "invoke", "echo", "--input", "via the cli"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"via the cli");
    let input = app.dir.path().join("input.bin");
    std::fs::write(&input, [0u8, 159, 146, 150]).unwrap();
    let out = app.enclet(&[
        "plugin",
        "invoke",
        &measurement,
        "--input-file",
        input.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert_eq!(out.stdout, [0u8, 159, 146, 150]);

    let out = app.enclet(&["plugin", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["plugins"][0]["measurement"], measurement.as_str());

    // Unknown name: exit 1 with the reason; unreadable input file: exit 2.
    let out = app.enclet(&["plugin", "invoke", "nope", "--input", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown_plugin"));
    let out = app.enclet(&["plugin", "invoke", "echo", "--input-file", "/nonexistent/x"]);
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_reports_an_invalid_component() {
    let app = Appliance::start().await;
    let bad = app.dir.path().join("bad.wasm");
    std::fs::write(&bad, b"\0asm but not really").unwrap();
    let out = app.enclet(&["plugin", "load", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid_component"), "{stderr}");
    // The close variant that is accepted.
    let good = plugin_dir().join("echo.wasm");
    let out = app.enclet(&["plugin", "load", good.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("loaded echo "));
}
