//! Starting, watching and stopping the enclave and parent processes.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use hyper::Method;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use crate::client::ParentClient;

/// How long each process gets to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// A running enclave + parent pair. Dropping it kills both.
pub(super) struct Appliance {
    enclave: Child,
    parent: Child,
    parent_socket: PathBuf,
    state_dir: PathBuf,
}

impl Appliance {
    /// Starts both processes with their sockets and logs in `state_dir`;
    /// `enclave_args` and `parent_args` are extra flags for each (e.g.
    /// `--attester`, `--control-plane`).
    pub(super) fn start(
        exe_dir: &Path,
        state_dir: &Path,
        enclave_args: &[String],
        parent_args: &[String],
    ) -> Result<Self, String> {
        let enclave_socket = state_dir.join("enclave.sock");
        let parent_socket = state_dir.join("parent.sock");
        let mut args = vec![
            "--listen".to_owned(),
            format!("unix:{}", enclave_socket.display()),
            "--log-format".to_owned(),
            "json".to_owned(),
        ];
        args.extend_from_slice(enclave_args);
        let enclave = spawn(
            &exe_dir.join("enclet-enclave"),
            &args,
            &state_dir.join("enclave.log"),
        )?;
        let mut args = vec![
            "--enclave".to_owned(),
            format!("unix:{}", enclave_socket.display()),
            "--listen".to_owned(),
            format!("unix:{}", parent_socket.display()),
            "--log-format".to_owned(),
            "json".to_owned(),
        ];
        args.extend_from_slice(parent_args);
        let parent = spawn(
            &exe_dir.join("enclet-parent"),
            &args,
            &state_dir.join("parent.log"),
        )?;
        Ok(Self {
            enclave,
            parent,
            parent_socket,
            state_dir: state_dir.to_path_buf(),
        })
    }

    pub(super) fn enclave_pid(&self) -> u32 {
        self.enclave.id().unwrap_or(0)
    }

    pub(super) fn parent_pid(&self) -> u32 {
        self.parent.id().unwrap_or(0)
    }

    pub(super) fn parent_socket(&self) -> &Path {
        &self.parent_socket
    }

    /// Polls the parent's health endpoint (which asks the enclave) until it
    /// answers 200, a process exits, or `timeout` passes.
    pub(super) async fn wait_ready(
        &mut self,
        client: &ParentClient,
        timeout: Duration,
    ) -> Result<(), String> {
        let start = Instant::now();
        loop {
            for (name, child) in [
                ("enclet-enclave", &mut self.enclave),
                ("enclet-parent", &mut self.parent),
            ] {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!(
                        "{name} exited early ({status}); see its log in {}",
                        self.state_dir.display()
                    ));
                }
            }
            match client.call(Method::GET, "/v1/health", Vec::new()).await {
                Ok(_) => return Ok(()),
                Err(e) if start.elapsed() > timeout => {
                    return Err(format!("not ready after {timeout:?}: {e}"));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Stops the parent, then the enclave, each with SIGTERM (SIGKILL after a
    /// timeout). Reports a process that did not exit cleanly.
    pub(super) async fn stop(&mut self) -> Result<(), String> {
        let parent = terminate("enclet-parent", &mut self.parent).await;
        let enclave = terminate("enclet-enclave", &mut self.enclave).await;
        parent.and(enclave)
    }
}

pub(super) fn spawn(program: &Path, args: &[String], log: &Path) -> Result<Child, String> {
    if !program.is_file() {
        return Err(format!(
            "{} not found: build the binaries with `cargo build --workspace --bins`",
            program.display()
        ));
    }
    let log_file =
        std::fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let mut command = Command::new(program);
    // The TPM software stack logs to stderr by itself; keep the log ours.
    if std::env::var_os("TSS2_LOG").is_none() {
        command.env("TSS2_LOG", "all+NONE");
    }
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_file))
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))
}

pub(super) async fn terminate(name: &str, child: &mut Child) -> Result<(), String> {
    if let Ok(Some(_)) = child.try_wait() {
        return Err(format!("{name} had already exited"));
    }
    let pid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .ok_or_else(|| format!("{name} has no pid"))?;
    kill(Pid::from_raw(pid), Signal::SIGTERM).map_err(|e| format!("SIGTERM {name}: {e}"))?;
    match tokio::time::timeout(STOP_TIMEOUT, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(format!("{name} exited with {status}")),
        Ok(Err(e)) => Err(format!("waiting for {name}: {e}")),
        Err(_) => {
            let _ = child.kill().await;
            Err(format!(
                "{name} did not stop within {STOP_TIMEOUT:?}; killed"
            ))
        }
    }
}
