//! The appliance side: `enclet-enclave --attester tpm:… --capability-root …` on a swtpm,
//! `enclet-parent --control-plane … --control-plane-ca …` whose enclave link
//! runs through a recording [`Tap`], and an operator API client that keeps
//! every answer it received.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use enclet_cli::client::{CallError, ParentClient};
use enclet_parent::OperatorAddr;
use enclet_parent::client::EnclaveClient;
use enclet_protocol::{Endpoint, FrameLimits};
use enclet_swtpm::Swtpm;
use hyper::Method;
use serde_json::Value;

use super::process::Process;
use super::tap::Tap;
use crate::harness::{bin, plugin};

/// Generous bound against hangs; never a performance assertion.
const STARTUP: Duration = Duration::from_mins(1);
/// Bound on waiting for the relay to install a release.
const RELEASE_WAIT: Duration = Duration::from_mins(2);

pub struct Stack {
    // Field order is drop order: the parent stops first, then the tap, then
    // the enclave; the directory goes last.
    parent: Process,
    pub tap: Tap,
    enclave: Process,
    api: Recorder,
    pub dir: tempfile::TempDir,
}

impl Stack {
    /// Starts the enclave on `swtpm` checking capability tokens against
    /// `capability_root`, the tap, and the parent relaying to the control
    /// plane at `cp_url`, trusting only `cp_ca`.
    pub async fn start(swtpm: &Swtpm, cp_url: &str, cp_ca: &Path, capability_root: &Path) -> Self {
        Self::start_with(swtpm, cp_url, cp_ca, capability_root, &[]).await
    }

    /// [`start`](Self::start) with more flags for the parent.
    pub async fn start_with(
        swtpm: &Swtpm,
        cp_url: &str,
        cp_ca: &Path,
        capability_root: &Path,
        parent_extra: &[&str],
    ) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("enclet-e2e-release-")
            .tempdir()
            .unwrap();
        let path = |name: &str| dir.path().join(name);
        let attester = swtpm.attester_config().to_string();
        let listen = format!("unix:{}", path("enclave.sock").display());
        let enclave = Process::spawn(
            &bin("enclet-enclave"),
            &[
                "--listen",
                &listen,
                "--attester",
                &attester,
                "--capability-root",
                capability_root.to_str().unwrap(),
            ],
            &path("enclave.log"),
            "info",
        );
        let tap = Tap::start(&path("tap.sock"), &path("enclave.sock"));
        let parent_args = [
            "--enclave".to_owned(),
            format!("unix:{}", tap.path.display()),
            "--listen".to_owned(),
            format!("unix:{}", path("parent.sock").display()),
            "--control-plane".to_owned(),
            cp_url.to_owned(),
            "--control-plane-ca".to_owned(),
            cp_ca.display().to_string(),
        ];
        let mut parent_args: Vec<&str> = parent_args.iter().map(String::as_str).collect();
        parent_args.extend_from_slice(parent_extra);
        // Debug logging: the search for the secret covers everything the
        // parent could possibly write.
        let parent = Process::spawn(
            &bin("enclet-parent"),
            &parent_args,
            &path("parent.log"),
            "debug",
        );
        let api = Recorder {
            client: ParentClient::new(OperatorAddr::Unix(path("parent.sock"))),
            received: Mutex::new(Vec::new()),
        };
        let mut stack = Self {
            parent,
            tap,
            enclave,
            api,
            dir,
        };
        stack.wait_ready().await;
        stack
    }

    /// The parent answers its health through the tap once the enclave is up.
    async fn wait_ready(&mut self) {
        let start = Instant::now();
        loop {
            for (name, exited) in [
                ("enclave", self.enclave.exited()),
                ("parent", self.parent.exited()),
            ] {
                if let Some(status) = exited {
                    panic!("the {name} exited early ({status})\n{}", self.logs());
                }
            }
            match self.api.call(Method::GET, "/v1/health", Vec::new()).await {
                Ok(_) => return,
                Err(e) => assert!(start.elapsed() < STARTUP, "not ready: {e}\n{}", self.logs()),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn enclave_socket(&self) -> PathBuf {
        self.dir.path().join("enclave.sock")
    }

    /// A protocol client on the enclave's real socket (bypassing the tap).
    pub async fn enclave_client(&self) -> EnclaveClient {
        EnclaveClient::connect(
            &Endpoint::Unix(self.enclave_socket()),
            FrameLimits::default(),
        )
        .await
        .unwrap()
    }

    pub fn parent_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("parent.log")).unwrap_or_default()
    }

    pub fn enclave_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("enclave.log")).unwrap_or_default()
    }

    pub fn logs(&self) -> String {
        format!(
            "--- enclave.log\n{}\n--- parent.log\n{}",
            self.enclave_log(),
            self.parent_log()
        )
    }

    /// Every operator-API answer received so far: success bodies, and for
    /// errors the status, code and message the parent sent.
    pub fn api_answers(&self) -> Vec<u8> {
        self.api.received.lock().unwrap().concat()
    }

    /// Loads a built plugin through the operator API; returns its measurement.
    pub async fn load(&self, name: &str) -> String {
        let body = self
            .api
            .call(
                Method::POST,
                &format!("/v1/plugins?name={name}"),
                plugin(name),
            )
            .await
            .unwrap_or_else(|e| panic!("loading {name}: {e}"));
        let answer: Value = serde_json::from_slice(&body).unwrap();
        answer["measurement"].as_str().unwrap().to_owned()
    }

    /// Loads `name`, or the parent's refusal.
    pub async fn try_load(&self, name: &str) -> Result<Value, CallError> {
        let body = self
            .api
            .call(
                Method::POST,
                &format!("/v1/plugins?name={name}"),
                plugin(name),
            )
            .await?;
        Ok(serde_json::from_slice(&body).unwrap())
    }

    pub async fn invoke(&self, measurement: &str, input: &[u8]) -> Result<Vec<u8>, CallError> {
        self.api
            .call(
                Method::POST,
                &format!("/v1/plugins/{measurement}/invoke"),
                input.to_vec(),
            )
            .await
    }

    /// `GET /v1/release`.
    pub async fn release_status(&self) -> Value {
        let body = self
            .api
            .call(Method::GET, "/v1/release", Vec::new())
            .await
            .unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    /// `POST /v1/release`: a round now.
    pub async fn run_release(&self) -> Result<Value, CallError> {
        let body = self
            .api
            .call(Method::POST, "/v1/release", Vec::new())
            .await?;
        Ok(serde_json::from_slice(&body).unwrap())
    }

    /// Polls `GET /v1/release` (bounded) until the last round succeeded and
    /// installed exactly `expected`: `(measurement, secret names)` in load
    /// order. Returns that status.
    pub async fn wait_for_release(&self, expected: &[(&str, &[&str])]) -> Value {
        let want: Vec<(String, Vec<String>)> = expected
            .iter()
            .map(|(m, s)| ((*m).to_owned(), s.iter().map(|n| (*n).to_owned()).collect()))
            .collect();
        let start = Instant::now();
        loop {
            let status = self.release_status().await;
            if status["last_round"]["ok"] == true && installed(&status) == want {
                return status;
            }
            assert!(
                start.elapsed() < RELEASE_WAIT,
                "no release of {want:?} after {RELEASE_WAIT:?}; last status {status}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// `(measurement, secrets)` of each plugin in a release status.
pub fn installed(status: &Value) -> Vec<(String, Vec<String>)> {
    status["plugins"]
        .as_array()
        .map(|plugins| {
            plugins
                .iter()
                .map(|p| {
                    let secrets = p["secrets"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| s.as_str().unwrap().to_owned())
                        .collect();
                    (p["measurement"].as_str().unwrap().to_owned(), secrets)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The operator API client, keeping every answer.
struct Recorder {
    client: ParentClient,
    received: Mutex<Vec<Vec<u8>>>,
}

impl Recorder {
    async fn call(&self, method: Method, path: &str, body: Vec<u8>) -> Result<Vec<u8>, CallError> {
        let result = self.client.call(method, path, body).await;
        let kept = match &result {
            Ok(bytes) => bytes.to_vec(),
            Err(CallError::Api {
                status,
                code,
                message,
            }) => format!("{status} {code} {message}").into_bytes(),
            Err(CallError::Transport(t)) => t.clone().into_bytes(),
        };
        self.received.lock().unwrap().push(kept);
        result.map(|b| b.to_vec())
    }
}
