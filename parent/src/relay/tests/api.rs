//! `GET`/`POST /v1/release` and the load trigger, through the operator API.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use super::enclave::{echo_wasm, real_tpm_enclave};
use super::fake_cp::Cp;
use super::{NO_RETRY, reach, reconnecting, start, status_until};
use crate::api::{self, ApiState};
use crate::client::Reconnecting;
use crate::relay::Relay;

/// Serves the operator API on `dir/api.sock`.
fn serve(dir: &Path, enclave: Arc<Reconnecting>, relay: Relay) -> PathBuf {
    let path = dir.join("api.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let app = api::router(Arc::new(ApiState { enclave, relay }), u32::MAX);
    tokio::spawn(async move { axum::serve(listener, app).await });
    path
}

async fn http(socket: &Path, method: &str, uri: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    let stream = tokio::net::UnixStream::connect(socket).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let request = hyper::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "parent")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn without_a_control_plane_the_status_says_so_and_no_round_runs() {
    let dir = tempfile::tempdir().unwrap();
    let enclave = reconnecting(&dir.path().join("no-enclave.sock"));
    let api = serve(dir.path(), enclave, Relay::disabled());
    let (status, json) = http(&api, "GET", "/v1/release", Vec::new()).await;
    assert_eq!(status, 200);
    assert_eq!(
        json,
        serde_json::json!({"configured": false, "last_round": null, "plugins": []})
    );
    let (status, json) = http(&api, "POST", "/v1/release", Vec::new()).await;
    assert_eq!(
        (status, json["code"].as_str()),
        (409, Some("not_configured"))
    );
    let (status, _) = http(&api, "POST", "/v1/release", b"{}".to_vec()).await;
    assert_eq!(status, 409);
    // Bodies are bounded and must be empty or `{}`.
    let (status, json) = http(&api, "POST", "/v1/release", br#"{"now":1}"#.to_vec()).await;
    assert_eq!(
        (status, json["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let big = format!(r#"{{"x":"{}"}}"#, "a".repeat(api::attest::MAX_JSON_BODY));
    let (status, json) = http(&api, "POST", "/v1/release", big.into_bytes()).await;
    assert_eq!(
        (status, json["code"].as_str()),
        (413, Some("body_too_large"))
    );
}

#[tokio::test]
async fn a_new_plugin_load_triggers_a_round_and_post_runs_one() {
    let dir = tempfile::tempdir().unwrap();
    let enclave = reconnecting(&real_tpm_enclave(dir.path()));
    let (cp, relay) = start(Cp::new(600, false), Arc::clone(&enclave), NO_RETRY, None).await;
    let api = serve(dir.path(), enclave, relay.clone());
    let (status, _) = http(&api, "GET", "/v1/release", Vec::new()).await;
    assert_eq!(status, 200);
    assert!(cp.log().is_empty(), "no round before a trigger");

    let (status, json) = http(&api, "POST", "/v1/plugins?name=echo", echo_wasm()).await;
    assert_eq!(
        (status, &json["newly_loaded"]),
        (200, &serde_json::json!(true))
    );
    reach(&cp.submissions, 1).await;
    status_until(&relay, |s| s.last_round.is_some()).await;
    let (status, json) = http(&api, "GET", "/v1/release", Vec::new()).await;
    assert_eq!(status, 200);
    assert_eq!(json["configured"], true);
    assert_eq!(json["last_round"]["ok"], false);
    assert!(json.get("expires_at").is_none(), "{json}");
    assert!(
        json["last_round"]["message"]
            .as_str()
            .unwrap()
            .starts_with("release: enclave: "),
        "{json}"
    );
    assert_eq!(cp.evidence.lock().unwrap()[0].1.plugins[0].name, "echo");

    // On demand: a round runs now and its failure is the answer.
    let (status, answer) = http(&api, "POST", "/v1/release", Vec::new()).await;
    assert_eq!(status, 502);
    assert_eq!(answer["code"], json["last_round"]["code"]);
    assert_eq!(*cp.submissions.borrow(), 2);
}
