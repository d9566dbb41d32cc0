//! `enclet-enclave`: the enclave process. Serves the parent over
//! `--listen unix:PATH` (local) or `--listen vsock:PORT` (inside a Nitro Enclave).
//!
//! Logs go to stderr (`--log-format json|text`, filter with `RUST_LOG`).
//! SIGTERM or SIGINT stop accepting connections, let in-flight requests finish
//! (bounded by `--shutdown-grace-ms`), remove the Unix socket and exit 0.
//!
//! Each connection is served by lane threads that read a request and run it
//! where they read it (see the server module). The async side — accepting,
//! loads, attestation, flushing large answers — runs on one thread; TPM
//! calls run on its blocking threads, and each compilation on a thread of its
//! own (at most `--max-concurrent-compiles`, each within
//! `--compile-timeout-ms`).
//!
//! `--attester tpm:host=H,port=P` (swtpm), `tpm:device=/dev/tpmrm0` or `none`
//! (the default) chooses the attestation backend. With an attester, start-up
//! measures the enclave image into it — **the image measurement is the
//! SHA-384 of this executable's bytes** (`/proc/self/exe`), extended into the
//! TPM's image PCR — and every plugin is measured at load.
//!
//! The TPM software stack logs to stderr on its own; set `TSS2_LOG=all+NONE`
//! to silence it (`scripts/demo` and `scripts/test` do).
#![deny(unsafe_code)]

use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use enclet_attestation::Measurement;
use enclet_attester::{Attester, AttesterConfig};
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
    /// Most connections served at once; further peers wait in the backlog.
    #[arg(long, default_value_t = 256)]
    max_connections: usize,
    /// Plugin compilations running at once across all connections; each uses
    /// one core, so this is the most cores loads can take.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    max_concurrent_compiles: u32,
    /// Longest one plugin compilation may take, in milliseconds; a slower load
    /// fails with `compile_timeout`. Compilation cannot be interrupted: it
    /// finishes in the background, still counted against
    /// --max-concurrent-compiles, and its result is discarded.
    #[arg(long, default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    compile_timeout_ms: u64,
    /// Microseconds a connection's reading thread keeps checking for the next
    /// request before it sleeps (0: sleep at once). Waking a sleeping thread
    /// can cost more than a short plugin call; a short spin answers a busy
    /// peer sooner at the price of up to this much CPU per request. Inside an
    /// enclave, whose CPUs are dedicated to it, the spin costs nothing else.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    busy_poll_us: u64,
    /// How long shutdown waits for in-flight requests, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    shutdown_grace_ms: u64,
    /// Attestation backend: `tpm:host=H,port=P`, `tpm:device=PATH` or `none`.
    #[arg(long, env = "ENCLET_ENCLAVE_ATTESTER", default_value = "none", value_parser = parse_attester)]
    attester: AttesterChoice,
}

/// The `--attester` value: a backend or none.
#[derive(Debug, Clone)]
enum AttesterChoice {
    None,
    Some(AttesterConfig),
}

fn parse_attester(s: &str) -> Result<AttesterChoice, String> {
    if s == "none" {
        return Ok(AttesterChoice::None);
    }
    enclet_attester::parse_attester_config(s)
        .map(AttesterChoice::Some)
        .map_err(|e| e.to_string())
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Json,
    Text,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_logging(args.log_format);
    if args.max_in_flight == 0 {
        bail!("--max-in-flight must be at least 1");
    }
    if args.max_connections == 0 {
        bail!("--max-connections must be at least 1");
    }
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent_invocations: args.max_concurrent_invocations,
        max_concurrent_compiles: args.max_concurrent_compiles,
        compile_timeout: Duration::from_millis(args.compile_timeout_ms),
        ..RuntimeConfig::default()
    })
    .context("starting the plugin runtime")?;
    let config = ServerConfig {
        frame_limits: FrameLimits {
            max_frame_bytes: args.max_frame_bytes,
        },
        max_in_flight: args.max_in_flight,
        max_connections: args.max_connections,
        shutdown_grace: Duration::from_millis(args.shutdown_grace_ms),
        busy_poll: Duration::from_micros(args.busy_poll_us),
        ..ServerConfig::default()
    };
    let attester = open_attester(&args.attester).await?;
    let server =
        Arc::new(Server::new(Arc::new(runtime), attester, config).context("starting the server")?);
    tracing::info!(public_key = %hex::encode(server.public_key()), "enclave key generated");
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

/// Opens the configured attester and measures this executable into it.
async fn open_attester(choice: &AttesterChoice) -> anyhow::Result<Option<Arc<dyn Attester>>> {
    let AttesterChoice::Some(config) = choice else {
        tracing::info!("no attester configured: attestation requests will be refused");
        return Ok(None);
    };
    let exe = std::env::current_exe().context("locating the enclave executable")?;
    let image = tokio::fs::read(&exe)
        .await
        .with_context(|| format!("reading {} to measure it", exe.display()))?;
    let image = Measurement::of_plugin(&image);
    let config = config.clone();
    let attester = tokio::task::spawn_blocking(move || {
        let attester = enclet_attester::open(&config)
            .with_context(|| format!("opening the attester {config}"))?;
        attester
            .measure_image(&image)
            .context("measuring the enclave image")?;
        anyhow::Ok(attester)
    })
    .await
    .context("attester start-up task")??;
    tracing::info!(attester = attester.name(), image = %image, "enclave image measured");
    Ok(Some(Arc::from(attester)))
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
