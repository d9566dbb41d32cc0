//! `enclet revoke plugin/publisher/token/list` against a control plane
//! running in this process on 127.0.0.1: revocations recorded and listed,
//! usage errors refused before the network, exit codes.
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
use enclet_control_plane_api::{RevocationInfo, RevocationInfoList};
use enclet_manifest::SigningKey;
use tokio::process::Command;
use tokio::sync::oneshot;

const ENCLET: &str = env!("CARGO_BIN_EXE_enclet");

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

async fn enclet(args: &[&str]) -> (Option<i32>, String, String) {
    let out: Output = Command::new(ENCLET)
        .args(args)
        .env_remove("ENCLET_CONTROL_PLANE")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_each_kind_then_list() {
    let dir = tempfile::tempdir().unwrap();
    let (stop, task) = control_plane(dir.path()).await;
    let sd = dir.path().to_str().unwrap();
    let plugin = "4f".repeat(48);

    let (code, stdout, stderr) = enclet(&[
        "revoke",
        "--state-dir",
        sd,
        "plugin",
        &plugin,
        "--reason",
        "leaks its key",
    ])
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout.trim(),
        format!("revoked plugin {plugin} (sequence 1)")
    );

    // A publisher by its key file: the fingerprint is the key's SHA-256.
    let key = SigningKey::generate().unwrap().public_key();
    let pem = dir.path().join("acme.pub.pem");
    std::fs::write(&pem, key.to_pem()).unwrap();
    let (code, stdout, stderr) = enclet(&[
        "revoke",
        "publisher",
        "--key",
        pem.to_str().unwrap(),
        "--json",
        "--state-dir",
        sd,
    ])
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    let info: RevocationInfo = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (info.kind.as_str(), info.value, info.sequence),
        ("publisher", hex::encode(key.fingerprint()), 2)
    );

    let token = "0C".repeat(64);
    let (code, stdout, stderr) =
        enclet(&["revoke", "token", &token, "--json", "--state-dir", sd]).await;
    assert_eq!(code, Some(0), "{stderr}");
    let info: RevocationInfo = serde_json::from_str(&stdout).unwrap();
    assert_eq!((info.value, info.sequence), ("0c".repeat(64), 3));
    // Again: the first revocation answers, nothing new.
    let (code, stdout, _) = enclet(&["revoke", "token", &token, "--state-dir", sd]).await;
    assert_eq!(code, Some(0));
    assert!(stdout.contains("(sequence 3)"), "{stdout}");

    let (code, stdout, _) = enclet(&["revoke", "list", "--json", "--state-dir", sd]).await;
    assert_eq!(code, Some(0));
    let list: RevocationInfoList = serde_json::from_str(&stdout).unwrap();
    let kinds: Vec<_> = list
        .revocations
        .iter()
        .map(|r| (r.sequence, r.kind.as_str()))
        .collect();
    assert_eq!(kinds, [(1, "plugin"), (2, "publisher"), (3, "token")]);
    assert_eq!(list.revocations[0].reason.as_deref(), Some("leaks its key"));
    let (code, stdout, _) = enclet(&["revoke", "list", "--state-dir", sd]).await;
    assert_eq!(code, Some(0));
    let row = stdout.lines().find(|l| l.contains(&plugin)).unwrap();
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[..3], &["1", "plugin", plugin.as_str()]);
    assert!(row.ends_with("leaks its key"), "{row}");

    let _ = stop.send(());
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_and_refusals_have_their_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let (stop, task) = control_plane(dir.path()).await;
    let sd = dir.path().to_str().unwrap();
    let plugin = "4f".repeat(48);

    // Malformed values and reasons: exit 2, nothing sent.
    for args in [
        vec!["revoke", "plugin", &plugin[..95]],
        vec!["revoke", "plugin", "zz"],
        vec!["revoke", "token", plugin.as_str()],
        vec!["revoke", "publisher", plugin.as_str()],
        vec!["revoke", "publisher"],
        vec!["revoke", "publisher", &plugin[..64], "--key", "k.pem"],
        vec!["revoke", "publisher", "--key", "/nonexistent/k.pem"],
        vec!["revoke", "plugin", plugin.as_str(), "--reason", "bell\u{7}"],
        vec!["revoke", "frobnicate", plugin.as_str()],
    ] {
        let mut full = args.clone();
        full.extend(["--state-dir", sd]);
        let (code, _, stderr) = enclet(&full).await;
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
    }
    // A key file that is not a public key.
    let bad = dir.path().join("bad.pem");
    std::fs::write(&bad, "not a key").unwrap();
    let (code, _, stderr) = enclet(&[
        "revoke",
        "publisher",
        "--key",
        bad.to_str().unwrap(),
        "--state-dir",
        sd,
    ])
    .await;
    assert_eq!(code, Some(2), "{stderr}");
    // Where is the control plane?
    let (code, _, stderr) = enclet(&["revoke", "plugin", &plugin]).await;
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--state-dir"), "{stderr}");

    // A wrong admin token: the control plane refuses, exit 1.
    let wrong = dir.path().join("wrong.token");
    std::fs::write(&wrong, "ab".repeat(32)).unwrap();
    let (code, _, stderr) = enclet(&[
        "revoke",
        "plugin",
        &plugin,
        "--state-dir",
        sd,
        "--token-file",
        wrong.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, Some(1));
    assert!(stderr.contains("unauthorized"), "{stderr}");

    // Nothing was revoked by any of these.
    let (code, stdout, _) = enclet(&["revoke", "list", "--state-dir", sd]).await;
    assert_eq!(code, Some(0));
    assert_eq!(stdout.trim(), "nothing revoked");
    // The close variant that is right.
    let (code, _, stderr) = enclet(&["revoke", "plugin", &plugin, "--state-dir", sd]).await;
    assert_eq!(code, Some(0), "{stderr}");

    let _ = stop.send(());
    task.await.unwrap();
}
