//! Starting and stopping the real processes; paths to binaries and plugins.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use enclet_cli::client::{CallError, ParentClient};
use enclet_parent::OperatorAddr;
use enclet_parent::client::EnclaveClient;
use enclet_protocol::{Endpoint, FrameLimits};
use hyper::Method;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Generous bound to avoid hangs; never a performance assertion.
const STARTUP: Duration = Duration::from_mins(1);

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    )
}

/// A workspace binary from `target/debug` (or `$ENCLET_BIN_DIR`).
pub fn bin(name: &str) -> PathBuf {
    let dir = std::env::var_os("ENCLET_BIN_DIR")
        .map_or_else(|| target_dir().join("debug"), PathBuf::from);
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace --bins` before the e2e tests",
        path.display()
    );
    path
}

/// The directory holding the built plugins.
pub fn plugin_dir() -> PathBuf {
    std::env::var_os("ENCLET_PLUGIN_DIR")
        .map_or_else(|| target_dir().join("wasm32-wasip2/release"), PathBuf::from)
}

/// The bytes of a built plugin (`echo`, `payout`, `hostile`).
pub fn plugin(name: &str) -> Vec<u8> {
    let path = plugin_dir().join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: run scripts/build-plugins before the e2e tests",
            path.display()
        )
    })
}

/// A running enclave + parent pair in its own temporary directory.
pub struct Appliance {
    pub dir: tempfile::TempDir,
    enclave: Option<Child>,
    parent: Option<Child>,
}

impl Appliance {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts both processes; `parent_args` are extra `enclet-parent` flags.
    pub async fn start_with(parent_args: &[&str]) -> Self {
        Self::start_full(&[], parent_args).await
    }

    /// Starts both processes with extra flags for each.
    pub async fn start_full(enclave_args: &[&str], parent_args: &[&str]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("enclet-e2e-")
            .tempdir()
            .unwrap();
        let listen = format!("unix:{}", dir.path().join("enclave.sock").display());
        let mut args = vec!["--listen", &listen];
        args.extend_from_slice(enclave_args);
        let enclave = spawn(
            &bin("enclet-enclave"),
            &args,
            &dir.path().join("enclave.log"),
        );
        let mut args = vec![
            "--enclave".to_owned(),
            format!("unix:{}", dir.path().join("enclave.sock").display()),
            "--listen".to_owned(),
            format!("unix:{}", dir.path().join("parent.sock").display()),
        ];
        args.extend(parent_args.iter().map(|s| (*s).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let parent = spawn(&bin("enclet-parent"), &args, &dir.path().join("parent.log"));
        let appliance = Self {
            dir,
            enclave: Some(enclave),
            parent: Some(parent),
        };
        appliance.wait_ready().await;
        appliance
    }

    async fn wait_ready(&self) {
        let start = Instant::now();
        loop {
            match self.api().call(Method::GET, "/v1/health", Vec::new()).await {
                Ok(_) => return,
                Err(e) if start.elapsed() > STARTUP => {
                    panic!("appliance not ready: {e}\n{}", self.logs())
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    pub fn enclave_socket(&self) -> PathBuf {
        self.dir.path().join("enclave.sock")
    }

    pub fn parent_addr(&self) -> OperatorAddr {
        OperatorAddr::Unix(self.dir.path().join("parent.sock"))
    }

    /// An operator API client.
    pub fn api(&self) -> ParentClient {
        ParentClient::new(self.parent_addr())
    }

    /// A direct protocol client to the enclave (what the parent uses).
    pub async fn enclave_client(&self) -> EnclaveClient {
        EnclaveClient::connect(
            &Endpoint::Unix(self.enclave_socket()),
            FrameLimits::default(),
        )
        .await
        .unwrap()
    }

    pub fn enclave_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("enclave.log")).unwrap_or_default()
    }

    pub fn logs(&self) -> String {
        let parent =
            std::fs::read_to_string(self.dir.path().join("parent.log")).unwrap_or_default();
        format!(
            "--- enclave.log\n{}\n--- parent.log\n{parent}",
            self.enclave_log()
        )
    }

    /// Runs the `enclet` CLI against this parent.
    pub fn enclet(&self, args: &[&str]) -> Output {
        Command::new(bin("enclet"))
            .args(args)
            .env("ENCLET_PARENT", self.parent_addr().to_string())
            .output()
            .unwrap()
    }

    /// Sends SIGTERM to the enclave and returns once it has exited.
    pub fn stop_enclave(&mut self) -> std::process::ExitStatus {
        stop(self.enclave.take().unwrap())
    }

    /// Loads a plugin through the operator API; returns its measurement.
    pub async fn load(&self, name: &str) -> String {
        load_via_api(&self.api(), name, plugin(name)).await.unwrap()["measurement"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Invokes through the operator API.
    pub async fn invoke(&self, measurement: &str, input: &[u8]) -> Result<Vec<u8>, CallError> {
        self.api()
            .call(
                Method::POST,
                &format!("/v1/plugins/{measurement}/invoke"),
                input.to_vec(),
            )
            .await
            .map(|b| b.to_vec())
    }
}

pub async fn load_via_api(
    api: &ParentClient,
    name: &str,
    bytes: Vec<u8>,
) -> Result<serde_json::Value, CallError> {
    api.call_json(Method::POST, &format!("/v1/plugins?name={name}"), bytes)
        .await
}

/// The code and status of an operator API error.
pub fn api_error(e: CallError) -> (u16, String, String) {
    match e {
        CallError::Api {
            status,
            code,
            message,
        } => (status.as_u16(), code, message),
        CallError::Transport(t) => panic!("transport error: {t}"),
    }
}

impl Drop for Appliance {
    fn drop(&mut self) {
        for child in [self.parent.take(), self.enclave.take()]
            .into_iter()
            .flatten()
        {
            stop(child);
        }
    }
}

fn spawn(program: &Path, args: &[&str], log: &Path) -> Child {
    Command::new(program)
        .args(args)
        .env("RUST_LOG", "info")
        .env("TSS2_LOG", "all+NONE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// SIGTERM, then SIGKILL if the process has not exited within a generous bound.
fn stop(mut child: Child) -> std::process::ExitStatus {
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
    let _ = kill(pid, Signal::SIGTERM);
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            return child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
