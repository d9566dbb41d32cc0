//! A child process that logs to a file and is stopped (SIGTERM, then SIGKILL
//! after a generous bound) when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long a process gets to exit after SIGTERM before SIGKILL.
const STOP: Duration = Duration::from_secs(30);

pub struct Process {
    child: Option<Child>,
}

impl Process {
    /// Starts `program` with `args`; stderr goes to `log`, `RUST_LOG` is
    /// `rust_log`, the TPM library is silenced.
    pub fn spawn(program: &Path, args: &[&str], log: &Path, rust_log: &str) -> Self {
        let child = Command::new(program)
            .args(args)
            .env("RUST_LOG", rust_log)
            .env("TSS2_LOG", "all+NONE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        Self { child: Some(child) }
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
        let _ = kill(pid, Signal::SIGTERM);
        let start = Instant::now();
        while start.elapsed() < STOP {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}
