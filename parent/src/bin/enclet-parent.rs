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
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use enclet_daemon::{LogArgs, remove_stale_socket, shutdown_signal};
use enclet_parent::OperatorAddr;
use enclet_parent::api::{self, ApiState};
use enclet_parent::client::{
    DEFAULT_BUSY_WAIT, DEFAULT_REQUEST_TIMEOUT, DEFAULT_WRITE_QUEUE_BYTES, Reconnecting,
};
use enclet_protocol::{Endpoint, FrameLimits, MAX_BODY_BYTES};

/// The enclet parent: operator API in front of the enclave.
#[derive(Debug, Parser)]
#[command(name = "enclet-parent", version, about)]
struct Args {
    /// The enclave: `unix:PATH` or `vsock:CID:PORT`.
    #[arg(long, env = "ENCLET_ENCLAVE")]
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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    args.log.init();
    if let Endpoint::Vsock { cid: None, .. } = args.enclave {
        bail!("--enclave vsock needs a CID: vsock:CID:PORT");
    }
    // Frames the enclave reads and sends by default: they fit the largest
    // body and any answer.
    let limits = FrameLimits::default();
    let state = Arc::new(ApiState {
        enclave: Reconnecting::new(args.enclave.clone(), limits)
            .with_request_timeout(Duration::from_secs(args.request_timeout_secs))
            .with_busy_wait(Duration::from_micros(args.busy_wait_us))
            .with_write_queue_bytes(usize::try_from(args.write_queue_bytes).unwrap_or(usize::MAX)),
    });
    let app = api::router(state, args.max_body_bytes);
    tracing::info!(listen = %args.listen, enclave = %args.enclave, "parent listening");
    match &args.listen {
        OperatorAddr::Unix(path) => {
            remove_stale_socket(path)?;
            let listener = tokio::net::UnixListener::bind(path)
                .with_context(|| format!("cannot listen on {}", args.listen))?;
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown_signal())
                .await;
            let _ = std::fs::remove_file(path);
            served?;
        }
        OperatorAddr::Tcp(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {}", args.listen))?;
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown_signal())
                .await?;
        }
    }
    tracing::info!("parent stopped");
    Ok(())
}
