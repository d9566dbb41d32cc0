//! The demo's control plane: configured for this run, started as its own
//! process in the state directory, given the payout plugin's secret.
//!
//! ```text
//! <state>/control-plane.toml   listen on a free loopback port, TPM CA = the swtpm's CA
//! <state>/reference.toml       the image: SHA-384 of the enclet-enclave binary
//! <state>/policy.rego          the shipped default policy (control-plane/policy/default.rego)
//! <state>/policy-data.json     payout -> ["payout-hmac-key"], echo -> []
//! <state>/store.sqlite, tls/, admin.token, secrets.key   made by the service on first start
//! ```
//!
//! The demo is the operator here: it makes a random HMAC key, stores it as the
//! secret `payout-hmac-key` through the admin API and keeps it to check the
//! payout plugin's MAC. The parent relays the sealed release and never sees it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use enclet_attestation::Measurement;
use enclet_control_plane_api::client::ControlPlaneClient;
use enclet_swtpm::Swtpm;
use hyper::Method;
use tokio::process::Child;

/// The secret the demo policy grants to the payout plugin.
pub(crate) const SECRET_NAME: &str = "payout-hmac-key";
/// The shipped default policy.
const DEFAULT_POLICY: &str = include_str!("../../../../control-plane/policy/default.rego");

/// A running control plane and what the demo needs of it.
pub(crate) struct DemoControlPlane {
    child: Child,
    pub(crate) url: String,
    pub(crate) ca: PathBuf,
    pub(crate) client: ControlPlaneClient,
    token: String,
}

impl DemoControlPlane {
    /// Writes the configuration and starts `enclet-control-plane serve`.
    pub(crate) async fn start(
        exe_dir: &Path,
        state: &Path,
        swtpm: &Swtpm,
        image: &Measurement,
        grants: &[(Measurement, &[&str])],
    ) -> Result<Self, String> {
        let port = free_port()?;
        write(state, swtpm, image, grants, port)?;
        let child = spawn(&exe_dir.join("enclet-control-plane"), state)?;
        let url = format!("https://127.0.0.1:{port}");
        let ca = state.join("tls/ca.pem");
        let mut child = child;
        let (client, token) = wait_ready(&url, &ca, state, &mut child).await?;
        Ok(Self {
            child,
            url,
            ca,
            client,
            token,
        })
    }

    /// Stores a secret through the admin API.
    pub(crate) async fn put_secret(&self, name: &str, value: &[u8]) -> Result<(), String> {
        self.client
            .call(
                Method::PUT,
                &enclet_control_plane_api::secret_path(name),
                value.to_vec(),
                Some(&self.token),
            )
            .await
            .map(drop)
            .map_err(|e| format!("storing the secret {name}: {e}"))
    }

    /// SIGTERM, then wait.
    pub(crate) async fn stop(&mut self) -> Result<(), String> {
        super::processes::terminate("enclet-control-plane", &mut self.child).await
    }
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

fn write(
    state: &Path,
    swtpm: &Swtpm,
    image: &Measurement,
    grants: &[(Measurement, &[&str])],
    port: u16,
) -> Result<(), String> {
    let put = |name: &str, bytes: &[u8]| {
        std::fs::write(state.join(name), bytes)
            .map_err(|e| format!("writing {}: {e}", state.join(name).display()))
    };
    put(
        "ek-ca.der",
        &swtpm.ca_cert_der().map_err(|e| e.to_string())?,
    )?;
    put(
        "ek-issuer.der",
        &swtpm.issuer_cert_der().map_err(|e| e.to_string())?,
    )?;
    put(
        "reference.toml",
        format!(
            "# The enclave image the demo runs: SHA-384 of enclet-enclave.\n[tpm]\nimages = [\"{}\"]\n",
            image.to_hex()
        )
        .as_bytes(),
    )?;
    let plugins: serde_json::Map<String, serde_json::Value> = grants
        .iter()
        .map(|(m, s)| (m.to_hex(), serde_json::json!({ "secrets": s })))
        .collect();
    put(
        "policy-data.json",
        serde_json::json!({ "plugins": plugins })
            .to_string()
            .as_bytes(),
    )?;
    put("policy.rego", DEFAULT_POLICY.as_bytes())?;
    put(
        "control-plane.toml",
        format!(
            "# Written by `enclet demo` for this run.\nlisten = \"127.0.0.1:{port}\"\n\
             reference_values = \"reference.toml\"\n\n[tpm]\nek_ca = \"ek-ca.der\"\n\
             ek_intermediates = [\"ek-issuer.der\"]\n\n[policy]\nrego = \"policy.rego\"\n\
             data = \"policy-data.json\"\n"
        )
        .as_bytes(),
    )
}

fn spawn(program: &Path, state: &Path) -> Result<Child, String> {
    let args = ["--log-format", "json", "serve", "--state-dir"].map(str::to_owned);
    let mut args = args.to_vec();
    args.push(state.display().to_string());
    super::processes::spawn(program, &args, &state.join("control-plane.log"))
}

async fn wait_ready(
    url: &str,
    ca: &Path,
    state: &Path,
    child: &mut Child,
) -> Result<(ControlPlaneClient, String), String> {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < super::READY_TIMEOUT {
        if let Ok(Some(status)) = child.try_wait() {
            let log = state.join("control-plane.log");
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            let tail = tail.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
            return Err(format!(
                "enclet-control-plane exited early ({status}): {tail} (see {})",
                log.display()
            ));
        }
        if let (Ok(ca_pem), Ok(token)) = (
            std::fs::read(ca),
            std::fs::read_to_string(state.join("admin.token")),
        ) {
            let client = ControlPlaneClient::new(url, &ca_pem, None).map_err(|e| e.to_string())?;
            match client
                .call_json::<(), enclet_control_plane_api::Health>(
                    Method::GET,
                    enclet_control_plane_api::HEALTH,
                    None,
                    None,
                )
                .await
            {
                Ok(_) => return Ok((client, token.trim().to_owned())),
                Err(e) => last = e.to_string(),
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!(
        "the control plane is not ready after {:?} ({last}); see {}",
        super::READY_TIMEOUT,
        state.join("control-plane.log").display()
    ))
}
