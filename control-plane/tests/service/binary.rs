//! The `enclet-control-plane` binary: first start, restart, exit codes.

use std::io::{BufRead as _, BufReader, Read as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use enclet_control_plane_api::client::ControlPlaneClient;
use enclet_control_plane_api::{
    AttesterKind, HEALTH, Health, NonceIssued, OpenSession, SESSIONS, SessionOpened, nonces_path,
};
use hyper::Method;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::api_code;

const BIN: &str = env!("CARGO_BIN_EXE_enclet-control-plane");

struct Served {
    child: Child,
    lines: Vec<String>,
    url: String,
}

/// Starts `serve` on an ephemeral port and reads stdout up to the start-up line.
fn serve(dir: &Path) -> Served {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        assert_ne!(
            reader.read_line(&mut line).unwrap(),
            0,
            "exited early: {lines:?}"
        );
        let done = line.contains("listening on");
        lines.push(line.trim_end().to_owned());
        if done {
            break;
        }
    }
    let start = lines.last().unwrap();
    let url = start
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .unwrap()
        .to_owned();
    Served { child, lines, url }
}

fn stop(mut served: Served) {
    kill(
        Pid::from_raw(i32::try_from(served.child.id()).unwrap()),
        Signal::SIGTERM,
    )
    .unwrap();
    let status = served.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "graceful shutdown exits 0");
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn client(dir: &Path, url: &str) -> ControlPlaneClient {
    ControlPlaneClient::new(url, &std::fs::read(dir.join("tls/ca.pem")).unwrap(), None).unwrap()
}

#[tokio::test]
async fn first_start_makes_ca_token_and_config_and_a_restart_reuses_them() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let first = serve(&state);
    let ca = state.join("tls/ca.pem");
    let token = state.join("admin.token");
    assert!(
        first
            .lines
            .iter()
            .any(|l| l.contains("made a development CA") && l.contains("ca.pem")),
        "{:?}",
        first.lines
    );
    let start = first.lines.last().unwrap();
    assert!(start.contains(&ca.display().to_string()), "{start}");
    assert!(start.contains(&token.display().to_string()), "{start}");
    let token_text = std::fs::read_to_string(&token).unwrap();
    assert!(
        !start.contains(token_text.trim()),
        "the token is never printed"
    );
    assert_eq!(token_text.trim().len(), 64);
    assert_eq!(mode(&token), 0o600);
    assert_eq!(mode(&state.join("tls/ca.key")), 0o600);
    assert_eq!(mode(&state.join("tls/server.key")), 0o600);
    assert_eq!(mode(&state), 0o700);
    assert_eq!(
        std::fs::read_to_string(state.join("control-plane.toml")).unwrap(),
        enclet_control_plane::config::DEFAULT_TOML
    );
    let ca_bytes = std::fs::read(&ca).unwrap();

    let c = client(&state, &first.url);
    let health: Health = c
        .call_json::<(), _>(Method::GET, HEALTH, None, None)
        .await
        .unwrap();
    assert_eq!(health.status, "ok");
    let body = OpenSession {
        attester: AttesterKind::Nitro,
        tpm: None,
    };
    let opened: SessionOpened = c
        .call_json(Method::POST, SESSIONS, Some(&body), None)
        .await
        .unwrap();
    stop(first);

    // Restart: nothing is remade, the pinned CA still works, the token is
    // the same, and the old session is gone (TPM state cannot be stored).
    let second = serve(&state);
    assert!(
        !second
            .lines
            .iter()
            .any(|l| l.contains("made a development CA"))
    );
    assert_eq!(std::fs::read(&ca).unwrap(), ca_bytes);
    assert_eq!(std::fs::read_to_string(&token).unwrap(), token_text);
    let c = client(&state, &second.url);
    let lost = c
        .call_json::<(), NonceIssued>(Method::POST, &nonces_path(&opened.session), None, None)
        .await;
    assert_eq!(api_code(lost), (404, "unknown_session".to_owned()));
    let health: Health = c
        .call_json::<(), _>(Method::GET, HEALTH, None, None)
        .await
        .unwrap();
    assert_eq!(health.status, "ok");
    stop(second);
}

fn run(args: &[&str], dir: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--state-dir")
        .arg(dir)
        .env("RUST_LOG", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (child.wait().unwrap().code(), stderr)
}

const BAD_POLICY: &str = "package enclet\n\ndecision := {\"enclave\": }\n\nother := 1\n";

#[test]
fn a_policy_syntax_error_stops_start_up_with_exit_2_naming_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("control-plane.toml"),
        "listen = \"127.0.0.1:0\"\n[policy]\nrego = \"policy.rego\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("policy.rego"), BAD_POLICY).unwrap();
    let (code, stderr) = run(&["serve"], dir.path());
    assert_eq!(code, Some(2), "{stderr}");
    let at = format!("{}:3:", dir.path().join("policy.rego").display());
    assert!(stderr.contains(&at), "{stderr}");
    let column = stderr.split(&at).nth(1).unwrap();
    assert!(column.starts_with(|c: char| c.is_ascii_digit()), "{stderr}");
    // check-config says the same, and 0 once the policy is fixed.
    let (code, stderr) = run(&["check-config"], dir.path());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(&at), "{stderr}");
    std::fs::write(
        dir.path().join("policy.rego"),
        enclet_control_plane::service::DENY_ALL_REGO,
    )
    .unwrap();
    let (code, stderr) = run(&["check-config"], dir.path());
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn check_config_refuses_unknown_settings_and_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = run(&["check-config"], dir.path());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("control-plane.toml"), "{stderr}");
    std::fs::write(dir.path().join("control-plane.toml"), "nonce_ttl = 3\n").unwrap();
    let (code, stderr) = run(&["check-config"], dir.path());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("nonce_ttl"), "{stderr}");
    std::fs::write(
        dir.path().join("control-plane.toml"),
        "nonce_ttl_secs = 3\n",
    )
    .unwrap();
    assert_eq!(run(&["check-config"], dir.path()).0, Some(0));
}

#[test]
fn help_documents_the_exit_codes() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Exit status: 0") && text.contains("2 invalid configuration"),
        "{text}"
    );
}

#[tokio::test]
async fn sighup_reloads_the_policy_and_a_failed_reload_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.rego");
    std::fs::write(&policy, enclet_control_plane::service::DENY_ALL_REGO).unwrap();
    std::fs::write(
        dir.path().join("control-plane.toml"),
        "[policy]\nrego = \"policy.rego\"\n",
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let url = loop {
        let mut line = String::new();
        assert_ne!(stdout.read_line(&mut line).unwrap(), 0);
        if let Some(url) = line.split_whitespace().find(|w| w.starts_with("https://")) {
            break url.to_owned();
        }
    };
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait_for = |needle: &str| loop {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no log line with {needle:?}"));
        if line.contains(needle) {
            return line;
        }
    };
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());

    std::fs::write(&policy, BAD_POLICY).unwrap();
    kill(pid, Signal::SIGHUP).unwrap();
    let line = wait_for("reload failed");
    assert!(line.contains("policy.rego:3:"), "{line}");
    let c = client(dir.path(), &url);
    let health: Health = c
        .call_json::<(), _>(Method::GET, HEALTH, None, None)
        .await
        .unwrap();
    assert_eq!(health.status, "ok");

    std::fs::write(&policy, enclet_control_plane::service::DENY_ALL_REGO).unwrap();
    kill(pid, Signal::SIGHUP).unwrap();
    wait_for("reloaded the policy");
    kill(pid, Signal::SIGTERM).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
}
