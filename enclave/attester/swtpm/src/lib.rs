//! # enclet-swtpm
//!
//! A private TPM simulator for tests, benchmarks and `enclet demo`: development
//! only. No production binary depends on this crate (the enclave links
//! `enclet-attester`, the proxy links neither), so a workspace build cannot pull
//! it into them through feature unification.
//!
//! [`Swtpm::start`] provisions a fresh TPM state in its own temporary directory
//! — an RSA-2048 EK with a certificate from a local CA created in that same
//! directory (`swtpm_setup --create-ek-cert` with `swtpm_localca`; nothing
//! under `/etc` or `/var` is read or written) — and runs `swtpm` on a free
//! loopback port. Dropping the value kills the process and deletes the state,
//! so tests never share a TPM. `scripts/swtpm` does the same from the shell.
//! [`Swtpm::start_in`] does the same in a directory the caller chooses (e.g.
//! `enclet demo --state-dir`), which is kept.
//!
//! ```text
//! <tmp>/`swtpm_setup`.conf        points `swtpm_setup` at the CA config below
//! <tmp>/ca/swtpm-localca.conf   the local CA's state directory and keys
//! <tmp>/ca/swtpm-localca-rootca-cert.pem   root CA (the verifier's trust anchor)
//! <tmp>/ca/issuercert.pem       intermediate CA that signs EK certificates
//! <tmp>/tpm/                    the TPM state
//! ```
//! Needs `swtpm` and `swtpm_setup` (Debian: `swtpm`, `swtpm-tools`) on `PATH`.
#![forbid(unsafe_code)]

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use enclet_attester::{AttesterConfig, TpmConfig};

pub use error::SwtpmError;

mod error;
mod pem;

/// How long a freshly started swtpm may take to accept connections; generous
/// so that a loaded machine does not fail tests.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Port-picking attempts before giving up (another process may grab a port
/// between our probe and swtpm's bind).
const START_ATTEMPTS: usize = 5;

/// A running swtpm with its own freshly provisioned state and CA.
#[derive(Debug)]
pub struct Swtpm {
    child: Child,
    port: u16,
    dir: PathBuf,
    /// The temporary directory [`Swtpm::start`] created, removed on drop.
    _temp: Option<tempfile::TempDir>,
}

impl Swtpm {
    /// Provisions a fresh TPM (EK + EK certificate from a new local CA) and
    /// starts swtpm on a free loopback port.
    ///
    /// # Errors
    /// [`SwtpmError::Simulator`] when the tools are missing, provisioning
    /// fails, or swtpm does not come up.
    pub fn start() -> Result<Self, SwtpmError> {
        let temp = tempfile::Builder::new()
            .prefix("enclet-swtpm-")
            .tempdir()
            .map_err(|e| sim(format!("create a state directory: {e}")))?;
        let (child, port) = launch(temp.path())?;
        Ok(Self {
            child,
            port,
            dir: temp.path().to_path_buf(),
            _temp: Some(temp),
        })
    }

    /// As [`Swtpm::start`], with the state and CA in `dir` (created if
    /// missing; any previous TPM state there is overwritten). The directory
    /// is kept when the value drops; only the process is stopped.
    ///
    /// # Errors
    /// As for [`Swtpm::start`].
    pub fn start_in(dir: &Path) -> Result<Self, SwtpmError> {
        fs::create_dir_all(dir).map_err(|e| sim(format!("create {}: {e}", dir.display())))?;
        let (child, port) = launch(dir)?;
        Ok(Self {
            child,
            port,
            dir: dir.to_path_buf(),
            _temp: None,
        })
    }

    /// The TCP command port (the control port is `port + 1`).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The TPM configuration for `enclet_attester::tpm::TpmAttester::open`.
    #[must_use]
    pub fn tpm_config(&self) -> TpmConfig {
        TpmConfig::swtpm("127.0.0.1", self.port)
    }

    /// The `--attester` configuration (`tpm:host=127.0.0.1,port=…`).
    #[must_use]
    pub fn attester_config(&self) -> AttesterConfig {
        AttesterConfig::Tpm(self.tpm_config())
    }

    /// The state directory (TPM state, CA keys and certificates).
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the root CA certificate (PEM): the EK trust anchor.
    #[must_use]
    pub fn ca_cert_path(&self) -> PathBuf {
        self.dir.join("ca/swtpm-localca-rootca-cert.pem")
    }

    /// Path of the intermediate CA certificate (PEM) that signed the EK certificate.
    #[must_use]
    pub fn issuer_cert_path(&self) -> PathBuf {
        self.dir.join("ca/issuercert.pem")
    }

    /// The root CA certificate, DER.
    ///
    /// # Errors
    /// [`SwtpmError::Simulator`] if the file is missing or not PEM.
    pub fn ca_cert_der(&self) -> Result<Vec<u8>, SwtpmError> {
        pem::read_certificate(&self.ca_cert_path())
    }

    /// The intermediate CA certificate, DER.
    ///
    /// # Errors
    /// [`SwtpmError::Simulator`] if the file is missing or not PEM.
    pub fn issuer_cert_der(&self) -> Result<Vec<u8>, SwtpmError> {
        pem::read_certificate(&self.issuer_cert_path())
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Provisions `dir` and starts swtpm there on a free port.
fn launch(dir: &Path) -> Result<(Child, u16), SwtpmError> {
    provision(dir)?;
    let mut last = String::new();
    for _ in 0..START_ATTEMPTS {
        let port = free_port_pair()?;
        match run(dir, port) {
            Ok(child) => return Ok((child, port)),
            Err(e) => last = e.to_string(),
        }
    }
    Err(sim(format!("swtpm did not start: {last}")))
}

fn sim(msg: String) -> SwtpmError {
    SwtpmError::Simulator(msg)
}

/// Writes the `swtpm_setup` and local-CA configuration into `dir` and runs
/// `swtpm_setup` there.
fn provision(dir: &Path) -> Result<(), SwtpmError> {
    let ca = dir.join("ca");
    let tpm = dir.join("tpm");
    for d in [&ca, &tpm] {
        fs::create_dir_all(d).map_err(|e| sim(format!("create {}: {e}", d.display())))?;
    }
    let ca_s = ca.display();
    let files = [
        (
            ca.join("swtpm-localca.conf"),
            format!(
                "statedir = {ca_s}\nsigningkey = {ca_s}/signkey.pem\n\
                 issuercert = {ca_s}/issuercert.pem\ncertserial = {ca_s}/certserial\n"
            ),
        ),
        (
            ca.join("swtpm-localca.options"),
            "--platform-manufacturer enclet\n--platform-version 1.0\n--platform-model swtpm\n"
                .to_owned(),
        ),
        (
            dir.join("swtpm_setup.conf"),
            format!(
                "create_certs_tool = swtpm_localca\n\
                 create_certs_tool_config = {ca_s}/swtpm-localca.conf\n\
                 create_certs_tool_options = {ca_s}/swtpm-localca.options\n\
                 active_pcr_banks = sha256\n"
            ),
        ),
    ];
    for (path, text) in files {
        fs::write(&path, text).map_err(|e| sim(format!("write {}: {e}", path.display())))?;
    }
    let out = Command::new("swtpm_setup")
        .args([
            "--tpm2",
            "--create-ek-cert",
            "--create-platform-cert",
            "--overwrite",
        ])
        .arg("--tpmstate")
        .arg(&tpm)
        .arg("--config")
        .arg(dir.join("swtpm_setup.conf"))
        .arg("--logfile")
        .arg(dir.join("swtpm_setup.log"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            sim(format!(
                "run swtpm_setup ({e}); install the `swtpm` and `swtpm-tools` packages"
            ))
        })?;
    if !out.status.success() {
        let log = fs::read_to_string(dir.join("swtpm_setup.log")).unwrap_or_default();
        return Err(sim(format!("swtpm_setup failed ({}): {log}", out.status)));
    }
    Ok(())
}

/// A loopback port `p` such that `p` and `p + 1` were both free just now.
fn free_port_pair() -> Result<u16, SwtpmError> {
    for _ in 0..64 {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| sim(format!("bind a loopback port: {e}")))?;
        let port = l.local_addr().map_err(|e| sim(e.to_string()))?.port();
        let Some(ctrl) = port.checked_add(1) else {
            continue;
        };
        if port < u16::MAX - 1 && TcpListener::bind((Ipv4Addr::LOCALHOST, ctrl)).is_ok() {
            return Ok(port);
        }
    }
    Err(sim("no free pair of loopback ports".into()))
}

/// Starts swtpm on `port` and waits until it accepts connections.
fn run(dir: &Path, port: u16) -> Result<Child, SwtpmError> {
    let ctrl = port
        .checked_add(1)
        .ok_or_else(|| sim("port out of range".into()))?;
    let mut child = Command::new("swtpm")
        .arg("socket")
        .arg("--tpm2")
        .arg("--tpmstate")
        .arg(format!("dir={}", dir.join("tpm").display()))
        .arg("--server")
        .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
        .arg("--ctrl")
        .arg(format!("type=tcp,port={ctrl},bindaddr=127.0.0.1"))
        .arg("--flags")
        .arg("not-need-init,startup-clear")
        .arg("--log")
        .arg(format!("file={},level=1", dir.join("swtpm.log").display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| sim(format!("run swtpm ({e}); install the `swtpm` package")))?;
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(sim(format!("swtpm exited at start-up ({status})")));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            // Whoever answered, our swtpm must still be alive: if it lost the
            // port to another process, it has exited (or is exiting) by now.
            sleep(Duration::from_millis(50));
            if let Ok(Some(status)) = child.try_wait() {
                return Err(sim(format!("swtpm exited at start-up ({status})")));
            }
            return Ok(child);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(sim(format!("swtpm did not listen on port {port}")));
        }
        sleep(Duration::from_millis(20));
    }
}
