//! A real `enclet-control-plane` in its own state directory, configured the
//! way an operator would: the swtpm's EK CA (its issuer as intermediate), the
//! enclave binary's image measurement as the only TPM reference value, the
//! shipped default policy, and a data file naming every plugin with the
//! secrets it is granted.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use enclet_attestation::Measurement;
use enclet_control_plane_api::client::ControlPlaneClient;
use enclet_control_plane_api::{
    ADMIN_REVOCATIONS, HEALTH, Health, RevocationInfo, RevocationRequest, SecretInfo, secret_path,
};
use enclet_swtpm::Swtpm;
use hyper::Method;

use super::process::Process;
use crate::harness::bin;

/// Generous bound against hangs; never a performance assertion.
const STARTUP: Duration = Duration::from_mins(1);

/// One plugin the policy data lists, and the secrets it is granted.
pub struct Grant<'a> {
    pub plugin: &'a Measurement,
    pub secrets: &'a [&'a str],
}

pub struct ControlPlane {
    // Held to stop the service on drop; field order: it stops before its
    // state directory goes.
    _process: Process,
    pub dir: tempfile::TempDir,
    /// `https://127.0.0.1:PORT`
    pub url: String,
    pub client: ControlPlaneClient,
    token: String,
}

impl ControlPlane {
    /// Writes the configuration and starts the service; returns once it is
    /// healthy.
    pub async fn start(swtpm: &Swtpm, image: &Measurement, grants: &[Grant<'_>]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("enclet-e2e-cp-")
            .tempdir()
            .unwrap();
        let port = write_config(dir.path(), swtpm, image, grants);
        let state = dir.path().to_str().unwrap().to_owned();
        let mut process = Process::spawn(
            &bin("enclet-control-plane"),
            &["serve", "--state-dir", &state],
            &dir.path().join("control-plane.log"),
            "info",
        );
        let url = format!("https://127.0.0.1:{port}");
        let (client, token) = wait_ready(&mut process, dir.path(), &url).await;
        Self {
            _process: process,
            dir,
            url,
            client,
            token,
        }
    }

    /// Its capability root public key (what `--capability-root` takes).
    pub fn capability_root(&self) -> PathBuf {
        self.dir.path().join("capability.pub")
    }

    /// The CA its development server certificate chains to.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("tls/ca.pem")
    }

    /// Stores a secret through the admin API.
    pub async fn put_secret(&self, name: &str, value: &[u8]) -> SecretInfo {
        let body = self
            .client
            .call(
                Method::PUT,
                &secret_path(name),
                value.to_vec(),
                Some(&self.token),
            )
            .await
            .unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    /// Revokes through the admin API; returns the stored revocation.
    pub async fn revoke(&self, kind: &str, value: &str) -> RevocationInfo {
        let body = RevocationRequest {
            kind: kind.to_owned(),
            value: value.to_owned(),
            reason: Some("e2e test".to_owned()),
        };
        self.client
            .call_json(
                Method::POST,
                ADMIN_REVOCATIONS,
                Some(&body),
                Some(&self.token),
            )
            .await
            .unwrap()
    }

    /// The whole audit log, read beside the running service.
    pub fn audit(&self) -> Vec<serde_json::Value> {
        enclet_control_plane::store::AuditLogReader::open(self.dir.path())
            .unwrap()
            .tail(10_000)
            .unwrap()
            .into_iter()
            .map(|e| serde_json::to_value(&e).unwrap())
            .collect()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("control-plane.log")).unwrap_or_default()
    }
}

/// Waits for the development CA, the admin token and a healthy answer over
/// TLS pinned to that CA.
async fn wait_ready(process: &mut Process, dir: &Path, url: &str) -> (ControlPlaneClient, String) {
    let start = Instant::now();
    loop {
        if let Some(status) = process.exited() {
            panic!(
                "the control plane exited early ({status}):\n{}",
                std::fs::read_to_string(dir.join("control-plane.log")).unwrap_or_default()
            );
        }
        let ca = std::fs::read(dir.join("tls/ca.pem")).unwrap_or_default();
        let token = std::fs::read_to_string(dir.join("admin.token")).unwrap_or_default();
        if let Ok(client) = ControlPlaneClient::new(url, &ca, None)
            && !token.trim().is_empty()
        {
            let health: Result<Health, _> = client
                .call_json::<(), _>(Method::GET, HEALTH, None, None)
                .await;
            if health.is_ok() {
                return (client, token.trim().to_owned());
            }
        }
        assert!(
            start.elapsed() < STARTUP,
            "the control plane is not healthy after {STARTUP:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The shipped default policy, unchanged.
fn default_rego() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../control-plane/policy/default.rego");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes `control-plane.toml`, the EK CA files, the reference values, the
/// policy and its data into `dir`; returns the port it will listen on.
fn write_config(dir: &Path, swtpm: &Swtpm, image: &Measurement, grants: &[Grant<'_>]) -> u16 {
    let port = free_port();
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).unwrap();
    write("ek-ca.der", &swtpm.ca_cert_der().unwrap());
    write("ek-issuer.der", &swtpm.issuer_cert_der().unwrap());
    write(
        "reference.toml",
        format!("[tpm]\nimages = [\"{}\"]\n", image.to_hex()).as_bytes(),
    );
    let plugins: serde_json::Map<String, serde_json::Value> = grants
        .iter()
        .map(|g| {
            (
                g.plugin.to_hex(),
                serde_json::json!({ "secrets": g.secrets }),
            )
        })
        .collect();
    write(
        "data.json",
        serde_json::json!({ "plugins": plugins })
            .to_string()
            .as_bytes(),
    );
    write("policy.rego", default_rego().as_bytes());
    write(
        "control-plane.toml",
        format!(
            "listen = \"127.0.0.1:{port}\"\n\
             reference_values = \"reference.toml\"\n\n\
             [tpm]\nek_ca = \"ek-ca.der\"\nek_intermediates = [\"ek-issuer.der\"]\n\n\
             [policy]\nrego = \"policy.rego\"\ndata = \"data.json\"\n"
        )
        .as_bytes(),
    );
    port
}
