//! `enclet-enclave`: the enclave process. Serves the parent over
//! `--listen unix:PATH` (local) or `--listen vsock:PORT` (inside a Nitro Enclave).
//!
//! Logs go to stderr (`--log-format json|text`, filter with `RUST_LOG`).
//! SIGTERM or SIGINT stop accepting connections, let in-flight requests finish
//! (bounded by `--shutdown-grace-ms`), remove the Unix socket and exit 0.
#![deny(unsafe_code)]

use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use enclet_enclave::runtime::{Runtime, RuntimeConfig};
use enclet_enclave::server::{Server, ServerConfig};
use enclet_protocol::{Endpoint, FrameLimits, Transport, UnixTransport, VsockTransport};

/// The enclet enclave: runs WebAssembly plugins under hard limits.
#[derive(Debug, Parser)]
#[command(name = "enclet-enclave", version, about)]
struct Args {
    /// Where to listen: `unix:PATH` or `vsock:PORT` (any CID) / `vsock:CID:PORT`.
    #[arg(long, env = "ENCLET_ENCLAVE_LISTEN")]
    listen: Endpoint,
    /// Log output format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Largest frame accepted or sent, in bytes (must fit the largest plugin).
    #[arg(long, default_value_t = enclet_protocol::DEFAULT_MAX_FRAME_BYTES)]
    max_frame_bytes: u32,
    /// Most requests in flight per connection.
    #[arg(long, default_value_t = 64)]
    max_in_flight: usize,
    /// Invocations running at once across all connections (instance pool size).
    #[arg(long, default_value_t = 32)]
    max_concurrent_invocations: u32,
    /// How long shutdown waits for in-flight requests, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    shutdown_grace_ms: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Json,
    Text,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_logging(args.log_format);
    if args.max_in_flight == 0 {
        bail!("--max-in-flight must be at least 1");
    }
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent_invocations: args.max_concurrent_invocations,
        ..RuntimeConfig::default()
    })
    .context("starting the plugin runtime")?;
    let config = ServerConfig {
        frame_limits: FrameLimits {
            max_frame_bytes: args.max_frame_bytes,
        },
        max_in_flight: args.max_in_flight,
        shutdown_grace: Duration::from_millis(args.shutdown_grace_ms),
        ..ServerConfig::default()
    };
    // The attester seam: the TPM / NSM backends plug in here (issue #4).
    let server = Arc::new(Server::new(Arc::new(runtime), None, config));
    match &args.listen {
        Endpoint::Unix(path) => {
            remove_stale_socket(path)?;
            let transport = UnixTransport::new(path);
            let result = run(server, &transport, &args.listen).await;
            let _ = std::fs::remove_file(path);
            result
        }
        Endpoint::Vsock { cid, port } => {
            run(server, &VsockTransport::new(*cid, *port), &args.listen).await
        }
    }
}

async fn run<T: Transport>(
    server: Arc<Server>,
    transport: &T,
    endpoint: &Endpoint,
) -> anyhow::Result<()> {
    let listener = transport
        .bind()
        .with_context(|| format!("cannot listen on {endpoint}"))?;
    tracing::info!(%endpoint, version = env!("CARGO_PKG_VERSION"), "enclave listening");
    server.serve::<T>(listener, shutdown_signal()).await?;
    Ok(())
}

/// Removes a socket file left by a previous run; refuses to touch anything else.
fn remove_stale_socket(path: &Path) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path)
            .with_context(|| format!("removing stale socket {}", path.display())),
        Ok(_) => bail!("{} exists and is not a socket", path.display()),
        Err(_) => Ok(()),
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    let (Ok(mut term), Ok(mut int)) = (term, int) else {
        tracing::warn!("cannot install signal handlers; stop with SIGKILL");
        return std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_ansi(false).init(),
    }
}
