//! `enclet-parent`: relays the operator API to the enclave.
//!
//! Connects to the enclave at `--enclave unix:PATH|vsock:CID:PORT` (lazily, and
//! again after it restarts) and serves the operator API on
//! `--listen unix:PATH|tcp:127.0.0.1:PORT`. SIGTERM/SIGINT stop accepting,
//! finish requests in flight, remove the Unix socket and exit 0.
//! A request the enclave does not answer within `--request-timeout-secs`
//! (default 120) fails with 504 `enclave_timeout`; one that finds
//! `--write-queue-bytes` already waiting to be written fails at once with 503
//! `enclave_busy`. Bodies are accepted up to `--max-body-bytes`, at most (and
//! by default) the 32 MiB the enclave accepts.
//!
//! With `--control-plane https://HOST:PORT` (and `--control-plane-ca FILE`,
//! the only trust anchor) the parent relays attestation rounds to the
//! control plane and delivers its sealed secrets to the enclave: at start-up,
//! after every new plugin load, on `POST /v1/release`, and before the
//! release expires.
//! Without it nothing changes and `GET /v1/release` says `configured: false`.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{CommandFactory, Parser};
use enclet_control_plane_api::client::{ClientIdentity, ControlPlaneClient};
use enclet_daemon::{LogArgs, remove_stale_socket, shutdown_signal};
use enclet_parent::OperatorAddr;
use enclet_parent::api::{self, ApiState};
use enclet_parent::client::{
    DEFAULT_BUSY_WAIT, DEFAULT_REQUEST_TIMEOUT, DEFAULT_WRITE_QUEUE_BYTES, Reconnecting,
};
use enclet_parent::relay::{Relay, RelayConfig};
use enclet_protocol::{Endpoint, FrameLimits, MAX_BODY_BYTES};

/// The enclet parent: operator API in front of the enclave.
#[derive(Debug, Parser)]
#[command(name = "enclet-parent", version, about)]
struct Args {
    /// The enclave: `unix:PATH` or `vsock:CID:PORT` (the CID given to
    /// `nitro-cli run-enclave --enclave-cid`; the enclave image listens on
    /// port 5005).
    #[arg(long, env = "ENCLET_ENCLAVE", value_parser = parse_enclave)]
    enclave: Endpoint,
    /// Operator API address: `unix:PATH` or `tcp:127.0.0.1:PORT` (loopback only).
    #[arg(long, env = "ENCLET_PARENT_LISTEN")]
    listen: OperatorAddr,
    #[command(flatten)]
    log: LogArgs,
    /// Largest operator request body (component or input), in bytes; at most
    /// what the enclave accepts by default (32 MiB), to which frames to and
    /// from the enclave are sized.
    #[arg(long, default_value_t = MAX_BODY_BYTES,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_BODY_BYTES)))]
    max_body_bytes: u32,
    /// Most request bytes waiting to be written to the enclave (when it reads
    /// more slowly than requests come); a request beyond it fails at once with
    /// 503 `enclave_busy` and is not sent. One request is always accepted
    /// when nothing waits.
    #[arg(long, default_value_t = u64::try_from(DEFAULT_WRITE_QUEUE_BYTES).unwrap_or(u64::MAX),
          value_parser = clap::value_parser!(u64).range(1..))]
    write_queue_bytes: u64,
    /// How long to wait for the enclave's answer (or its connection) before
    /// failing the operator request with 504 `enclave_timeout`, in seconds.
    #[arg(long, default_value_t = DEFAULT_REQUEST_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    request_timeout_secs: u64,
    /// Microseconds a request to the enclave keeps its thread awake waiting
    /// for the answer before letting it sleep (0: sleep at once). Waking a
    /// sleeping thread can cost more than a short plugin call; spinning
    /// briefly returns short answers sooner, for up to this much CPU per call.
    #[arg(long, default_value_t = u64::try_from(DEFAULT_BUSY_WAIT.as_micros()).unwrap_or(0),
          value_parser = clap::value_parser!(u64).range(0..=10_000))]
    busy_wait_us: u64,
    #[command(flatten)]
    control_plane: ControlPlaneArgs,
}

/// The control plane the parent relays attestation to.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Control plane")]
struct ControlPlaneArgs {
    /// The control plane, `https://HOST:PORT`. The parent then carries the
    /// enclave's attestation to it and its sealed secrets (which the parent
    /// cannot read) back: after each new plugin load, on `POST /v1/release`,
    /// and before the release expires. Without it, no rounds run.
    #[arg(long = "control-plane", value_name = "URL", requires = "ca")]
    url: Option<String>,
    /// PEM file of the CA the control plane's certificate must chain to: the
    /// only trust anchor (system roots are never used). Required with
    /// `--control-plane`.
    #[arg(long = "control-plane-ca", value_name = "FILE", requires = "url")]
    ca: Option<PathBuf>,
    /// PEM certificate chain to present to the control plane (mutual TLS);
    /// needs `--control-plane-client-key`.
    #[arg(long = "control-plane-client-cert", value_name = "FILE",
          requires_all = ["url", "client_key"])]
    client_cert: Option<PathBuf>,
    /// PEM private key of `--control-plane-client-cert`.
    #[arg(long = "control-plane-client-key", value_name = "FILE",
          requires_all = ["url", "client_cert"])]
    client_key: Option<PathBuf>,
    /// Re-attest this many seconds before the release expires (default: a
    /// third of its lifetime; at most half of it is used).
    #[arg(long, value_name = "N", requires = "url",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    release_margin_secs: Option<u64>,
    /// Fetch the control plane's signed revocation list and apply it in the
    /// enclave every N seconds: a revoked plugin stops within this interval.
    #[arg(long, value_name = "N", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    revocation_refresh_secs: u64,
}

impl ControlPlaneArgs {
    /// The relay's configuration, if a control plane is set. A file that
    /// cannot be read or used is a usage error (exit 2).
    fn config(&self) -> Option<RelayConfig> {
        let (url, ca) = (self.url.as_deref()?, self.ca.as_deref()?);
        let identity = match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => Some(ClientIdentity {
                cert_pem: read(cert, "--control-plane-client-cert"),
                key_pem: read(key, "--control-plane-client-key"),
            }),
            _ => None,
        };
        let client =
            ControlPlaneClient::new(url, &read(ca, "--control-plane-ca"), identity.as_ref())
                .unwrap_or_else(|e| usage(&e.to_string()));
        let mut config = RelayConfig::new(client);
        config.margin = self.release_margin_secs.map(Duration::from_secs);
        config.revocation_refresh = Duration::from_secs(self.revocation_refresh_secs);
        Some(config)
    }
}

/// `--enclave`: an address the parent can dial. `vsock:PORT` (any CID) is
/// for listening only: dialling needs the enclave's CID.
fn parse_enclave(s: &str) -> Result<Endpoint, String> {
    match s.parse::<Endpoint>().map_err(|e| e.to_string())? {
        Endpoint::Vsock { cid: None, .. } => Err(format!(
            "{s:?}: dialling vsock needs the enclave's CID: vsock:CID:PORT"
        )),
        endpoint => Ok(endpoint),
    }
}

fn read(path: &Path, flag: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| usage(&format!("{flag} {}: {e}", path.display())))
}

/// Exits 2 with clap's usage error format.
fn usage(message: &str) -> ! {
    Args::command()
        .error(clap::error::ErrorKind::ValueValidation, message)
        .exit()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    args.log.init();
    // Frames the enclave reads and sends by default: they fit the largest
    // body and any answer.
    let limits = FrameLimits::default();
    let relay_config = args.control_plane.config();
    let enclave = Arc::new(
        Reconnecting::new(args.enclave.clone(), limits)
            .with_request_timeout(Duration::from_secs(args.request_timeout_secs))
            .with_busy_wait(Duration::from_micros(args.busy_wait_us))
            .with_write_queue_bytes(usize::try_from(args.write_queue_bytes).unwrap_or(usize::MAX)),
    );
    let relay = match relay_config {
        Some(config) => {
            tracing::info!(control_plane = %config.client.url(), "relaying attestation");
            let relay = Relay::start(config, Arc::clone(&enclave));
            // A round at start-up too: a restarted parent refreshes the
            // release of an enclave that already holds plugins (failures
            // are retried with backoff until the enclave answers).
            relay.trigger();
            relay
        }
        None => Relay::disabled(),
    };
    let state = Arc::new(ApiState { enclave, relay });
    let app = api::router(state, args.max_body_bytes);
    let shutdown = shutdown_signal();
    tracing::info!(listen = %args.listen, enclave = %args.enclave, "parent listening");
    match &args.listen {
        OperatorAddr::Unix(path) => {
            remove_stale_socket(path)?;
            let listener = tokio::net::UnixListener::bind(path)
                .with_context(|| format!("cannot listen on {}", args.listen))?;
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await;
            let _ = std::fs::remove_file(path);
            served?;
        }
        OperatorAddr::Tcp(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {}", args.listen))?;
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await?;
        }
    }
    tracing::info!("parent stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    /// The parent's flags in the shipped systemd unit (image/enclet-parent.service).
    fn unit_argv() -> Vec<String> {
        let unit = include_str!("../../../image/enclet-parent.service");
        let line = unit
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .expect("the unit has an ExecStart");
        line.split_whitespace().map(str::to_owned).collect()
    }

    fn with(argv: &[String], from: &str, to: &str) -> Vec<String> {
        argv.iter()
            .map(|a| if a == from { to.to_owned() } else { a.clone() })
            .collect()
    }

    #[test]
    fn systemd_unit_dials_the_enclave_over_vsock() {
        let argv = unit_argv();
        assert_eq!(
            argv.first().map(String::as_str),
            Some("/usr/local/bin/enclet-parent")
        );
        let parsed = Args::try_parse_from(&argv).unwrap();
        assert_eq!(
            parsed.enclave,
            Endpoint::Vsock {
                cid: Some(16),
                port: 5005
            }
        );
        assert_eq!(
            parsed.listen,
            OperatorAddr::Unix("/run/enclet/parent.sock".into())
        );
        assert_eq!(
            parsed.control_plane.ca.as_deref(),
            Some(Path::new("/etc/enclet/control-plane-ca.pem"))
        );
        assert!(parsed.control_plane.url.is_some());
    }

    #[test]
    fn enclave_address_variants_are_refused() {
        let argv = unit_argv();
        assert!(Args::try_parse_from(with(&argv, "vsock:16:5005", "vsock:4:1")).is_ok());
        assert!(Args::try_parse_from(with(&argv, "vsock:16:5005", "unix:/run/e.sock")).is_ok());
        for (enclave, reason) in [
            ("vsock:5005", "needs the enclave's CID"),
            ("vsock:0:5005", "reserved"),
            ("vsock:1:5005", "reserved"),
            ("vsock:16:", "decimal"),
            ("vsock:16:4294967296", "out of range"),
            ("vsock:16:4294967295", "any port"),
            ("vsock:sixteen:5005", "decimal"),
            ("vsock:16:5005,", "decimal"),
        ] {
            let e = Args::try_parse_from(with(&argv, "vsock:16:5005", enclave)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ValueValidation, "{enclave}");
            assert!(e.to_string().contains(reason), "{enclave}: {e}");
        }
    }

    #[test]
    fn control_plane_flags_come_together() {
        let argv = unit_argv();
        let drop = |flag: &str| -> Vec<String> {
            let i = argv.iter().position(|a| a == flag).unwrap();
            let mut v = argv.clone();
            v.drain(i..i + 2);
            v
        };
        let e = Args::try_parse_from(drop("--control-plane-ca")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MissingRequiredArgument);
        let e = Args::try_parse_from(drop("--control-plane")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MissingRequiredArgument);
        let e = Args::try_parse_from(with(
            &argv,
            "unix:/run/enclet/parent.sock",
            "tcp:0.0.0.0:80",
        ))
        .unwrap_err();
        assert!(e.to_string().contains("loopback"), "{e}");
    }
}
