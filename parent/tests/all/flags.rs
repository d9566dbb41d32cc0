//! The control-plane flags: validated by clap (usage errors exit 2), and a
//! configured parent reports `configured: true`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

const BIN: &str = env!("CARGO_BIN_EXE_enclet-parent");

fn ca_pem() -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .self_signed(&rcgen::KeyPair::generate().unwrap())
        .unwrap()
        .pem()
}

/// Runs the parent with `extra` flags; it must exit at once.
fn exits(dir: &Path, extra: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(["--enclave", "unix:/nonexistent/e.sock", "--listen"])
        .arg(format!("unix:{}", dir.join("p.sock").display()))
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn control_plane_flags_are_validated_as_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ca_pem()).unwrap();
    let ca = ca.to_str().unwrap();
    let cp = "https://127.0.0.1:7443";
    for (flags, says) in [
        (vec!["--control-plane", cp], "--control-plane-ca"),
        (vec!["--control-plane-ca", ca], "--control-plane"),
        (
            vec![
                "--control-plane",
                cp,
                "--control-plane-ca",
                ca,
                "--control-plane-client-cert",
                ca,
            ],
            "--control-plane-client-key",
        ),
        (
            vec![
                "--control-plane",
                cp,
                "--control-plane-ca",
                ca,
                "--release-margin-secs",
                "0",
            ],
            "--release-margin-secs",
        ),
        (
            vec![
                "--control-plane",
                "http://127.0.0.1:7443",
                "--control-plane-ca",
                ca,
            ],
            "https://",
        ),
        (
            vec![
                "--control-plane",
                cp,
                "--control-plane-ca",
                "/nonexistent/ca.pem",
            ],
            "/nonexistent/ca.pem",
        ),
    ] {
        let (code, stderr) = exits(dir.path(), &flags);
        assert_eq!(code, 2, "{flags:?}: {stderr}");
        assert!(stderr.contains(says), "{flags:?}: {stderr}");
    }
}

#[tokio::test]
async fn a_configured_parent_says_so_and_runs_a_round_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ca_pem()).unwrap();
    let socket = dir.path().join("p.sock");
    let mut child = Command::new(BIN)
        .args(["--enclave", "unix:/nonexistent/e.sock", "--listen"])
        .arg(format!("unix:{}", socket.display()))
        .args([
            "--control-plane",
            "https://127.0.0.1:7443",
            "--control-plane-ca",
        ])
        .arg(&ca)
        .args(["--release-margin-secs", "60"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stream = None;
    for _ in 0..500 {
        if let Ok(s) = tokio::net::UnixStream::connect(&socket).await {
            stream = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream.expect("parent listening")))
            .await
            .unwrap();
    tokio::spawn(conn);
    // A round runs at start-up (here it fails: there is no enclave), so
    // the status soon names it.
    let mut json = serde_json::Value::Null;
    for _ in 0..250 {
        let request = hyper::Request::get("/v1/release")
            .header("host", "parent")
            .body(Full::new(axum::body::Bytes::new()))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        json = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["configured"], true, "{json}");
        assert_eq!(json["plugins"], serde_json::json!([]), "{json}");
        if !json["last_round"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(json["last_round"]["ok"], false, "{json}");
    assert_eq!(json["last_round"]["code"], "enclave_unavailable", "{json}");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(child.wait().unwrap().success());
}
