//! `enclet secret put/list/rm` against a control plane running in this
//! process on 127.0.0.1: round trip, values never shown, exit codes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::path::Path;
use std::process::{Output, Stdio};

use enclet_control_plane::service::{Service, StartOptions};
use enclet_control_plane_api::SecretList;
use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;
use tokio::sync::oneshot;

const ENCLET: &str = env!("CARGO_BIN_EXE_enclet");
const VALUE: &str = "hunter2-do-not-print";

/// A control plane serving `dir` (its configuration names the real port, so
/// `--state-dir` finds it).
async fn control_plane(dir: &Path) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        dir.join("control-plane.toml"),
        format!("listen = \"127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let service = Service::start(StartOptions::new(dir)).await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(service.run(async move {
        let _ = stopped.await;
    }));
    (stop, task)
}

async fn enclet(args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(ENCLET);
    cmd.args(args)
        .env_remove("ENCLET_CONTROL_PLANE")
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(bytes) = stdin {
        let mut input = child.stdin.take().unwrap();
        input.write_all(bytes).await.unwrap();
        drop(input);
    }
    child.wait_with_output().await.unwrap()
}

fn record(out: &Output, printed: &mut String) {
    printed.push_str(&String::from_utf8_lossy(&out.stdout));
    printed.push_str(&String::from_utf8_lossy(&out.stderr));
}

fn text(out: &Output) -> (Option<i32>, String, String) {
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_list_rm_round_trip_never_shows_a_value() {
    let dir = tempfile::tempdir().unwrap();
    let (stop, task) = control_plane(dir.path()).await;
    let sd = dir.path().to_str().unwrap();
    let mut printed = String::new();

    let out = enclet(
        &["secret", "put", "db-password", "--stdin", "--state-dir", sd],
        &[],
        Some(VALUE.as_bytes()),
    )
    .await;

    record(&out, &mut printed);
    let (code, stdout, stderr) = text(&out);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout.trim(),
        "stored secret db-password version 1 (20 bytes)"
    );

    let file = dir.path().join("value.bin");
    std::fs::write(&file, b"second-value").unwrap();
    let out = enclet(
        &[
            "secret",
            "--state-dir",
            sd,
            "put",
            "db-password",
            "--from-file",
            file.to_str().unwrap(),
        ],
        &[],
        None,
    )
    .await;
    record(&out, &mut printed);
    let (code, stdout, stderr) = text(&out);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("version 2 (12 bytes)"), "{stdout}");

    let out = enclet(&["secret", "list", "--state-dir", sd], &[], None).await;

    record(&out, &mut printed);
    let (code, stdout, _) = text(&out);
    assert_eq!(code, Some(0));
    let row = stdout
        .lines()
        .find(|l| l.starts_with("db-password"))
        .unwrap();
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[..3], &["db-password", "2", "12"]);
    let out = enclet(&["secret", "list", "--json", "--state-dir", sd], &[], None).await;
    record(&out, &mut printed);
    let list: SecretList = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.secrets.len(), 1);
    assert_eq!(list.secrets[0].version, 2);

    // Explicit flags and the environment instead of --state-dir.
    let url = {
        let config = std::fs::read_to_string(dir.path().join("control-plane.toml")).unwrap();
        let addr = config.split('"').nth(1).unwrap().to_owned();
        format!("https://{addr}")
    };
    let ca = dir.path().join("tls/ca.pem");
    let token = dir.path().join("admin.token");
    let out = enclet(
        &[
            "secret",
            "rm",
            "db-password",
            "--control-plane-ca",
            ca.to_str().unwrap(),
            "--token-file",
            token.to_str().unwrap(),
        ],
        &[("ENCLET_CONTROL_PLANE", &url)],
        None,
    )
    .await;
    record(&out, &mut printed);
    let (code, stdout, stderr) = text(&out);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.trim(), "removed secret db-password (was version 2)");
    let out = enclet(
        &["secret", "rm", "db-password", "--state-dir", sd],
        &[],
        None,
    )
    .await;
    record(&out, &mut printed);
    let (code, _, stderr) = text(&out);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("unknown_secret"), "{stderr}");
    let out = enclet(&["secret", "list", "--state-dir", sd], &[], None).await;
    record(&out, &mut printed);
    assert_eq!(text(&out).1.trim(), "no secrets");

    assert!(
        !printed.contains(VALUE) && !printed.contains("second-value"),
        "{printed}"
    );
    let _ = stop.send(());
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_wrong_ca_and_usage_errors_have_their_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let (stop, task) = control_plane(dir.path()).await;
    let sd = dir.path().to_str().unwrap();

    // A token that is not the control plane's: 401, exit 1.
    let wrong = dir.path().join("wrong.token");
    std::fs::write(&wrong, "ab".repeat(32)).unwrap();
    let out = enclet(
        &[
            "secret",
            "list",
            "--state-dir",
            sd,
            "--token-file",
            wrong.to_str().unwrap(),
        ],
        &[],
        None,
    )
    .await;
    let (code, _, stderr) = text(&out);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("unauthorized"), "{stderr}");

    // A CA that did not issue the control plane's certificate: exit 1.
    let other_ca = dir.path().join("other-ca.pem");
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    std::fs::write(&other_ca, params.self_signed(&key).unwrap().pem()).unwrap();
    let out = enclet(
        &[
            "secret",
            "list",
            "--state-dir",
            sd,
            "--control-plane-ca",
            other_ca.to_str().unwrap(),
        ],
        &[],
        None,
    )
    .await;
    let (code, _, stderr) = text(&out);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("TLS"), "{stderr}");

    // Usage: no value source, a value too large, nowhere to connect.
    let out = enclet(&["secret", "put", "k", "--state-dir", sd], &[], None).await;
    assert_eq!(out.status.code(), Some(2));
    let big = vec![b'x'; 64 * 1024 + 1];
    let out = enclet(
        &["secret", "put", "k", "--stdin", "--state-dir", sd],
        &[],
        Some(&big),
    )
    .await;
    let (code, _, stderr) = text(&out);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("larger than 65536"), "{stderr}");
    let out = enclet(
        &["secret", "put", "k", "--stdin", "--state-dir", sd],
        &[],
        Some(&big[1..]),
    )
    .await;
    assert_eq!(text(&out).0, Some(0), "{}", text(&out).2);
    let out = enclet(&["secret", "list"], &[], None).await;
    let (code, _, stderr) = text(&out);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--state-dir"), "{stderr}");

    let _ = stop.send(());
    task.await.unwrap();
}
