//! Per-plugin limits chosen at load, through the operator API
//! (`POST /v1/plugins?name=N&fuel=N&…`) and the CLI (`enclet plugin load
//! --fuel N …`): listed, enforced, and refused when out of range. Only the
//! limits given travel on the wire; the enclave completes them from its own
//! defaults.

use std::time::Duration;

use enclet_enclave::runtime::{HardMaxima, Limits};
use enclet_protocol::{
    CONNECTION_ID, FrameLimits, LimitsRequest, Request, Response, codec, read_frame,
};
use hyper::Method;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

use crate::harness::{Appliance, api_error, plugin, plugin_dir};

/// The enclave's defaults as the API reports them, with `changes` applied.
fn defaults_with(changes: &[(&str, u64)]) -> Value {
    let mut limits = serde_json::to_value(Limits::default()).unwrap();
    for (field, value) in changes {
        limits[*field] = json!(value);
    }
    limits
}

async fn load_with_query(app: &Appliance, name: &str, query: &str) -> Value {
    app.api()
        .call_json(
            Method::POST,
            &format!("/v1/plugins?name={name}{query}"),
            plugin(name),
        )
        .await
        .unwrap_or_else(|e| panic!("loading {name}{query}: {e}"))
}

async fn listed_limits(app: &Appliance, name: &str) -> Value {
    let list: Value = app
        .api()
        .call_json(Method::GET, "/v1/plugins", Vec::new())
        .await
        .unwrap();
    let entry = list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed: {list}"));
    entry["limits"].clone()
}

async fn invoke_code(app: &Appliance, measurement: &str, input: &str) -> (u16, String) {
    let (status, code, _) = api_error(app.invoke(measurement, input.as_bytes()).await.unwrap_err());
    (status, code)
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_given_to_the_api_are_listed_and_enforced() {
    let app = Appliance::start().await;
    let hostile = load_with_query(&app, "hostile", "&max_output_bytes=1000&fuel=10000000").await;
    let expected = defaults_with(&[("max_output_bytes", 1000), ("fuel", 10_000_000)]);
    assert_eq!(hostile["newly_loaded"], true);
    assert_eq!(hostile["limits"], expected);
    assert_eq!(listed_limits(&app, "hostile").await, expected);
    let m = hostile["measurement"].as_str().unwrap();

    // At the output limit: fine; one byte over it: refused.
    assert_eq!(app.invoke(m, b"output:1000").await.unwrap().len(), 1000);
    assert_eq!(
        invoke_code(&app, m, "output:1001").await,
        (422, "output_too_large".to_owned())
    );
    assert_eq!(
        invoke_code(&app, m, "output:2000").await,
        (422, "output_too_large".to_owned())
    );
    // Small fuel ends an infinite loop by fuel, long before the deadline.
    assert_eq!(
        invoke_code(&app, m, "loop").await,
        (422, "out_of_fuel".to_owned())
    );

    // A plugin loaded without limits runs under the defaults: 2000 bytes out is fine.
    let echo = load_with_query(&app, "echo", "").await;
    assert_eq!(echo["limits"], defaults_with(&[]));
    let echo = echo["measurement"].as_str().unwrap();
    assert_eq!(app.invoke(echo, &[b'e'; 2000]).await.unwrap().len(), 2000);

    // The same bytes again with other limits: idempotent, the first limits stay.
    let again = load_with_query(&app, "hostile", "&max_output_bytes=5000").await;
    assert_eq!(again["newly_loaded"], false);
    assert_eq!(again["measurement"], m);
    assert_eq!(again["limits"], expected);
    assert_eq!(listed_limits(&app, "hostile").await, expected);
    assert_eq!(
        invoke_code(&app, m, "output:2000").await,
        (422, "output_too_large".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_limits_are_refused_with_specific_codes() {
    let app = Appliance::start().await;
    let api = app.api();
    let hard = HardMaxima::DEFAULT;
    let over_fuel = format!("&fuel={}", hard.fuel + 1);
    let over_memory = format!("&max_memory_bytes={}", hard.max_memory_bytes + 1);
    let over_output = format!("&max_output_bytes={}", hard.max_output_bytes + 1);
    let cases: [(&str, u16, &str, &str); 12] = [
        // Not a decimal u64: the parent refuses, naming the parameter.
        (
            "&fuel=abc",
            400,
            "invalid_limits",
            "fuel must be a decimal integer",
        ),
        ("&deadline_ms=-5", 400, "invalid_limits", "deadline_ms"),
        (
            "&max_memory_bytes=1e6",
            400,
            "invalid_limits",
            "max_memory_bytes",
        ),
        (
            "&max_output_bytes=99999999999999999999",
            400,
            "invalid_limits",
            "max_output_bytes",
        ),
        // Out of range: the enclave refuses, naming the field and the bound.
        (&over_fuel, 400, "invalid_limits", "hard maximum"),
        (&over_memory, 400, "invalid_limits", "hard maximum"),
        (&over_output, 400, "invalid_limits", "hard maximum"),
        ("&fuel=0", 400, "invalid_limits", "fuel is 0, minimum 1"),
        ("&deadline_ms=0", 400, "invalid_limits", "deadline_ms is 0"),
        ("&max_memory_bytes=1024", 400, "invalid_limits", "minimum"),
        // A misspelt or repeated parameter is not silently ignored.
        ("&fule=1", 400, "invalid_request", "unknown query parameter"),
        ("&fuel=1&fuel=2", 400, "invalid_request", "more than once"),
    ];
    for (query, status, code, needle) in cases {
        let err = api
            .call(
                Method::POST,
                &format!("/v1/plugins?name=hostile{query}"),
                plugin("hostile"),
            )
            .await
            .unwrap_err();
        let (got_status, got_code, message) = api_error(err);
        assert_eq!(
            (got_status, got_code.as_str()),
            (status, code),
            "{query}: {message}"
        );
        assert!(message.contains(needle), "{query}: {message}");
    }
    let list: Value = api
        .call_json(Method::GET, "/v1/plugins", Vec::new())
        .await
        .unwrap();
    assert_eq!(list["plugins"], json!([]), "nothing was loaded");

    // The close variants: every limit exactly at its hard maximum loads.
    let at_max = format!(
        "&fuel={}&deadline_ms={}&max_memory_bytes={}&max_table_elements={}\
         &max_input_bytes={}&max_output_bytes={}",
        hard.fuel,
        hard.deadline_ms,
        hard.max_memory_bytes,
        hard.max_table_elements,
        hard.max_input_bytes,
        hard.max_output_bytes
    );
    let loaded = load_with_query(&app, "hostile", &at_max).await;
    assert_eq!(loaded["limits"]["fuel"], hard.fuel);
    assert_eq!(loaded["limits"]["max_output_bytes"], hard.max_output_bytes);
    // Bad limits are refused even for bytes already loaded.
    let (status, code, _) = api_error(
        api.call(
            Method::POST,
            "/v1/plugins?name=hostile&fuel=0",
            plugin("hostile"),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!((status, code.as_str()), (400, "invalid_limits"));
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_given_to_the_cli_are_listed_and_enforced() {
    let app = Appliance::start().await;
    let echo_path = plugin_dir().join("echo.wasm");
    let echo_path = echo_path.to_str().unwrap();
    let out = app.enclet(&[
        "plugin",
        "load",
        echo_path,
        "--max-output-bytes",
        "1000",
        "--max-memory-bytes",
        "33554432",
        "--json",
    ]);
    assert!(out.status.success(), "{out:?}");
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected = defaults_with(&[("max_output_bytes", 1000), ("max_memory_bytes", 32 << 20)]);
    assert_eq!(answer["limits"], expected);

    let out = app.enclet(&["plugin", "list", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["plugins"][0]["name"], "echo");
    assert_eq!(list["plugins"][0]["limits"], expected);

    // Enforced: 1000 bytes through echo is fine, 2000 is over its output limit.
    let thousand = "e".repeat(1000);
    let out = app.enclet(&["plugin", "invoke", "echo", "--input", &thousand]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, thousand.as_bytes());
    let two_thousand = "e".repeat(2000);
    let out = app.enclet(&["plugin", "invoke", "echo", "--input", &two_thousand]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("output_too_large"), "{stderr}");

    // Loaded by the CLI without flags, hostile has the default output limit.
    let hostile_path = plugin_dir().join("hostile.wasm");
    let hostile_path = hostile_path.to_str().unwrap();
    let out = app.enclet(&["plugin", "load", hostile_path, "--json"]);
    assert!(out.status.success(), "{out:?}");
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["limits"], defaults_with(&[]));
    let out = app.enclet(&["plugin", "invoke", "hostile", "--input", "output:2000"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout.len(), 2000);

    // Reloading echo with other limits keeps the first ones, and says so.
    let out = app.enclet(&["plugin", "load", echo_path, "--max-output-bytes", "5000"]);
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("keep their first limits"), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("already loaded echo "),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_limits_given_to_the_cli_are_refused() {
    let app = Appliance::start().await;
    let payout = plugin_dir().join("payout.wasm");
    let payout = payout.to_str().unwrap();
    // Not a number: a usage error before anything is sent.
    let out = app.enclet(&["plugin", "load", payout, "--fuel", "lots"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    // Out of range: the enclave's code and reason.
    let over = (HardMaxima::DEFAULT.deadline_ms + 1).to_string();
    for args in [["--deadline-ms", over.as_str()], ["--fuel", "0"]] {
        let mut argv = vec!["plugin", "load", payout];
        argv.extend(args);
        let out = app.enclet(&argv);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("invalid_limits"), "{args:?}: {stderr}");
    }
    // The close variant loads.
    let out = app.enclet(&["plugin", "load", payout, "--deadline-ms", "60000"]);
    assert!(out.status.success(), "{out:?}");
}

/// Sends a `Load` whose `limits` is `limits` (any JSON-shaped value, encoded
/// as CBOR) on a fresh raw connection; returns what the enclave sends on the
/// connection id before it closes.
async fn raw_load(app: &Appliance, limits: Value) -> Response {
    #[derive(serde::Serialize)]
    enum Raw {
        #[serde(rename = "load")]
        Load {
            name: &'static str,
            #[serde(with = "serde_bytes_like")]
            component: Vec<u8>,
            limits: Value,
        },
    }
    mod serde_bytes_like {
        pub fn serialize<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(b)
        }
    }
    let raw = Raw::Load {
        name: "payout",
        component: plugin("payout"),
        limits,
    };
    let mut stream = UnixStream::connect(app.enclave_socket()).await.unwrap();
    let frame = codec::encode(7, &raw, FrameLimits::default()).unwrap();
    stream.write_all(&frame).await.unwrap();
    let body = tokio::time::timeout(
        Duration::from_secs(30),
        read_frame(&mut stream, FrameLimits::default(), None),
    )
    .await
    .expect("the enclave must answer")
    .unwrap()
    .expect("an answer before the close");
    let (header, response) = codec::decode::<Response>(&body).unwrap();
    assert_eq!(header.request_id, CONNECTION_ID, "{response:?}");
    response
}

#[tokio::test(flavor = "multi_thread")]
async fn the_enclave_completes_partial_limits_and_refuses_unreadable_ones() {
    let app = Appliance::start().await;
    let client = app.enclave_client().await;
    // Straight to the enclave process: one limit given, the rest its defaults.
    let partial = LimitsRequest {
        max_input_bytes: Some(100),
        ..LimitsRequest::default()
    };
    let request = Request::Load {
        name: "hostile".to_owned(),
        component: plugin("hostile"),
        limits: Some(partial),
        signed: None,
    };
    let Response::Loaded(loaded) = client.request(&request).await.unwrap() else {
        panic!("the partial load was not accepted");
    };
    assert_eq!(
        serde_json::to_value(loaded.info.limits).unwrap(),
        defaults_with(&[("max_input_bytes", 100)])
    );

    // A limit that is null, misspelt or unknown to this enclave is never
    // silently dropped: the frame is malformed and only that connection closes.
    for (limits, needle) in [
        (json!({"fuel": null}), "null"),
        (json!({"fule": 1}), "fule"),
        (json!({"max_stack_bytes": 1}), "max_stack_bytes"),
        (json!({"fuel": -1}), "negative"),
    ] {
        let shown = limits.to_string();
        match raw_load(&app, limits).await {
            Response::Error(e) => {
                assert_eq!(e.code, "malformed_frame", "{shown}: {}", e.message);
                assert!(e.message.contains(needle), "{shown}: {}", e.message);
            }
            other => panic!("{shown}: expected a connection error, got {other:?}"),
        }
    }
    // Nothing was loaded by them, and the first connection still works.
    let listed: Vec<String> = client
        .plugins()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(listed, ["hostile"]);
}
