//! `enclet-enclave`: the enclave process. Serves the parent over
//! `--listen unix:PATH` (local) or `--listen vsock:PORT` (inside a Nitro Enclave).
//!
//! Logs go to stderr (`--log-format json|text`, filter with `RUST_LOG`).
//! SIGTERM or SIGINT stop accepting connections, let in-flight requests finish
//! (bounded by `--shutdown-grace-ms`), remove the Unix socket and exit 0.
//!
//! Connections are served by a pool of lane threads that read a request and
//! run it where they read it (see the server module). The async side —
//! accepting, loads, attestation, flushing large answers, invocations waiting
//! for a slot — runs on one thread; TPM calls run on its
//! blocking threads, each compilation on a thread of its own (at most
//! `--max-concurrent-compiles`, each within `--compile-timeout-ms`).
//!
//! Memory and thread budgets hold across connections: `--max-connections`
//! (default 8; the parent uses one), `--max-in-flight` per connection and
//! `--max-in-flight-total` across them, `--max-loads` loads in progress
//! (each up to `--max-frame-bytes` of component), and at most
//! `--max-concurrent-invocations` + `--max-connections` + 1 lane threads,
//! which end after `--lane-idle-timeout-ms` without work. If `accept` fails
//! persistently (about 15 s of retries) the enclave drains its connections
//! and exits with an error.
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

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use enclet_attestation::Measurement;
use enclet_attester::{Attester, AttesterConfig};
use enclet_daemon::{LogArgs, remove_stale_socket, shutdown_signal};
use enclet_enclave::runtime::{CapabilityGate, Runtime, RuntimeConfig, ShortCallsFirst};
use enclet_enclave::server::{Server, ServerConfig};
use enclet_protocol::{Endpoint, FrameLimits, Transport, UnixTransport, VsockTransport};

/// The enclet enclave: runs WebAssembly plugins under hard limits.
#[derive(Debug, Parser)]
#[command(name = "enclet-enclave", version, about)]
struct Args {
    /// Where to listen: `unix:PATH` or `vsock:PORT` (any CID) / `vsock:CID:PORT`.
    #[arg(long, env = "ENCLET_ENCLAVE_LISTEN")]
    listen: Endpoint,
    #[command(flatten)]
    log: LogArgs,
    /// Largest frame accepted or sent, in bytes (must fit the largest plugin).
    #[arg(long, default_value_t = defaults().frame_limits.max_frame_bytes,
        value_parser = clap::value_parser!(u32).range(i64::from(MIN_FRAME_BYTES)..))]
    max_frame_bytes: u32,
    /// Most requests in flight per connection (read, not yet answered).
    #[arg(long, default_value_t = defaults().max_in_flight)]
    max_in_flight: usize,
    /// Most requests in flight across all connections.
    #[arg(long, default_value_t = defaults().max_in_flight_total)]
    max_in_flight_total: usize,
    /// Most loads in progress across all connections; a load beyond it is
    /// refused with `overloaded`.
    #[arg(long, default_value_t = defaults().max_loads)]
    max_loads: usize,
    /// Invocations running at once across all connections (instance pool size).
    #[arg(long, default_value_t = 32)]
    max_concurrent_invocations: u32,
    /// Most connections served at once; further peers wait in the backlog.
    #[arg(long, default_value_t = defaults().max_connections)]
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
    /// Short calls first: milliseconds a call runs before it counts as long
    /// (0, the default: off, every call competes for the CPU on equal
    /// terms; 1 is a good value). A long call, and every call of a plugin
    /// whose calls ran long lately, runs in the kernel's idle scheduling
    /// class and sleeps while other calls occupy every core (at most
    /// --long-call-pause-ms at a time). Use it where the enclave has its
    /// CPUs to itself (a Nitro enclave): the idle class yields to every
    /// other process too. Needs root or `CAP_SYS_NICE` for the idle class
    /// (without, long calls only sleep). Deadlines stay wall-clock.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    long_call_ms: u64,
    /// Longest a long call sleeps at once while other calls run, in
    /// milliseconds; it then runs for one epoch tick (1 ms) before it looks
    /// again.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=1000))]
    long_call_pause_ms: u64,
    /// With --long-call-ms: share of one core, in percent, beyond which a
    /// plugin's calls are treated as long from their start however short
    /// each is — the CPU time its calls used, booked as each ends and
    /// decayed over about 100 ms. A
    /// plugin flooding the enclave with cheap calls then waits for the
    /// others' calls like a long call would. 0: off.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    plugin_share_percent: u32,
    /// With --long-call-ms: share of one core, in percent, a plugin's calls
    /// may keep busy (measured as for --plugin-share-percent) while other
    /// plugins' short calls are arriving. Beyond it, its next calls wait
    /// before they start — holding no invocation slot — until its use has
    /// fallen back to the quota; with 16 of its calls (or 32 of all
    /// plugins) waiting, more are refused at once with `throttled`. A
    /// plugin alone, or beside other busy ones only, is never held back.
    /// At most --plugin-share-percent (and 0 when that is 0). 0: off.
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    plugin_quota_percent: u32,
    /// With --long-call-ms: microseconds between the moments a long call
    /// gives up its CPU while it runs and other plugins were called within
    /// the last second (a timer signal on its thread), so that a thread
    /// woken for a short call on that CPU runs within this time rather than
    /// at the kernel's next timer tick. Each signal costs the long call some
    /// CPU (about 20 us on a virtual machine). 0: only at epoch ticks; else
    /// 50..=1000000.
    #[arg(long, default_value_t = 100, value_parser = yield_us)]
    long_call_yield_us: u64,
    /// Microseconds a connection's reading thread keeps checking for the next
    /// request before it sleeps (0: sleep at once). Waking a sleeping thread
    /// can cost more than a short plugin call; a short spin answers a busy
    /// peer sooner at the price of up to this much CPU per request. Inside an
    /// enclave, whose CPUs are dedicated to it, the spin costs nothing else.
    #[arg(long, default_value_t = millis_or_micros(defaults().busy_poll.as_micros()),
        value_parser = clap::value_parser!(u64).range(0..=10_000))]
    busy_poll_us: u64,
    /// Milliseconds a lane thread waits for work before it ends.
    #[arg(long, default_value_t = millis_or_micros(defaults().lane_idle_timeout.as_millis()))]
    lane_idle_timeout_ms: u64,
    /// How long shutdown waits for in-flight requests, in milliseconds.
    #[arg(long, default_value_t = millis_or_micros(defaults().shutdown_grace.as_millis()))]
    shutdown_grace_ms: u64,
    /// Attestation backend: `tpm:host=H,port=P`, `tpm:device=PATH` or `none`.
    #[arg(long, env = "ENCLET_ENCLAVE_ATTESTER", default_value = "none", value_parser = parse_attester)]
    attester: AttesterChoice,
    /// A publisher's public key (PEM SPKI, ECDSA P-256; repeatable). With
    /// any, only plugins whose manifest one of them signed are loaded, and
    /// each load records the publisher key and manifest digest in the event
    /// log. Bake them into the image's entrypoint: they are then measured.
    #[arg(long, value_name = "PUB.pem")]
    publisher_key: Vec<std::path::PathBuf>,
    /// The control plane's capability root key (PEM SPKI, Ed25519: its
    /// state directory's `capability.pub`). With it, every gated host call
    /// (`secrets.get`, `log`) needs the plugin's capability token from the
    /// last release. Without it gated calls are NOT checked (development
    /// only; a warning says so). Bake it into the image's entrypoint.
    #[arg(long, value_name = "PUB.pem")]
    capability_root: Option<std::path::PathBuf>,
}

/// The capability gate the flags ask for.
fn capability_gate(path: Option<&std::path::Path>) -> anyhow::Result<CapabilityGate> {
    use std::io::Read as _;
    let Some(path) = path else {
        tracing::warn!(
            "no --capability-root: capability tokens are NOT checked (development only)"
        );
        return Ok(CapabilityGate::InsecureUngated);
    };
    let mut pem = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(8 * 1024).read_to_string(&mut pem))
        .with_context(|| format!("reading --capability-root {}", path.display()))?;
    let root = enclet_capability::RootPublicKey::from_pem(&pem)
        .with_context(|| format!("--capability-root {}", path.display()))?;
    tracing::info!(capability_root = %root.to_hex(), "capability tokens checked on gated calls");
    Ok(CapabilityGate::Tokens(root))
}

/// Reads the publisher keys named on the command line.
fn publisher_keys(paths: &[std::path::PathBuf]) -> anyhow::Result<Vec<enclet_manifest::PublicKey>> {
    use std::io::Read as _;
    paths
        .iter()
        .map(|path| {
            let mut pem = Vec::new();
            std::fs::File::open(path)
                .and_then(|f| f.take(16 * 1024).read_to_end(&mut pem))
                .with_context(|| format!("reading --publisher-key {}", path.display()))?;
            enclet_manifest::PublicKey::from_pem(&pem)
                .with_context(|| format!("--publisher-key {}", path.display()))
        })
        .collect()
}

/// Smallest `--max-frame-bytes`: room for any error answer.
const MIN_FRAME_BYTES: u32 = 1024;

/// The server's defaults, which the flags' defaults are taken from.
fn defaults() -> ServerConfig {
    ServerConfig::default()
}

fn millis_or_micros(n: u128) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The server configuration the flags ask for.
fn server_config(args: &Args) -> ServerConfig {
    ServerConfig {
        frame_limits: FrameLimits {
            max_frame_bytes: args.max_frame_bytes,
        },
        max_in_flight: args.max_in_flight,
        max_in_flight_total: args.max_in_flight_total,
        max_loads: args.max_loads,
        max_connections: args.max_connections,
        shutdown_grace: Duration::from_millis(args.shutdown_grace_ms),
        busy_poll: Duration::from_micros(args.busy_poll_us),
        lane_idle_timeout: Duration::from_millis(args.lane_idle_timeout_ms),
        ..defaults()
    }
}

/// The `--attester` value: a backend or none.
#[derive(Debug, Clone)]
enum AttesterChoice {
    None,
    Some(AttesterConfig),
}

/// The short-calls-first policy the flags ask for (`None`: off).
fn short_calls_first(args: &Args) -> anyhow::Result<Option<ShortCallsFirst>> {
    if args.long_call_ms == 0 {
        return Ok(None);
    }
    let (share, quota) = (args.plugin_share_percent, args.plugin_quota_percent);
    if quota > 0 && (share == 0 || quota > share) {
        bail!(
            "--plugin-quota-percent {quota} must be 0 or at most --plugin-share-percent ({share}, \
             not 0): over its share a plugin's calls no longer count against other plugins' \
             quotas; with --plugin-share-percent 0 pass --plugin-quota-percent 0"
        );
    }
    Ok(Some(ShortCallsFirst {
        long_after: Duration::from_millis(args.long_call_ms),
        max_pause: Duration::from_millis(args.long_call_pause_ms),
        idle_class: true,
        plugin_share_percent: share,
        plugin_quota_percent: quota,
        yield_every: Duration::from_micros(args.long_call_yield_us),
    }))
}

/// `--long-call-yield-us`: 0, or 50 us to 1 s.
fn yield_us(s: &str) -> Result<u64, String> {
    let us: u64 = s.parse().map_err(|e| format!("{e}"))?;
    if us == 0 || (50..=1_000_000).contains(&us) {
        Ok(us)
    } else {
        Err(format!("{us} is neither 0 nor in 50..=1000000"))
    }
}

fn parse_attester(s: &str) -> Result<AttesterChoice, String> {
    if s == "none" {
        return Ok(AttesterChoice::None);
    }
    enclet_attester::parse_attester_config(s)
        .map(AttesterChoice::Some)
        .map_err(|e| e.to_string())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    args.log.init();
    let counts = [
        args.max_in_flight,
        args.max_in_flight_total,
        args.max_loads,
        args.max_connections,
    ];
    if counts.contains(&0) {
        bail!(
            "--max-in-flight, --max-in-flight-total, --max-loads and --max-connections must be at least 1"
        );
    }
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent_invocations: args.max_concurrent_invocations,
        max_concurrent_compiles: args.max_concurrent_compiles,
        compile_timeout: Duration::from_millis(args.compile_timeout_ms),
        capability_gate: capability_gate(args.capability_root.as_deref())?,
        short_calls_first: short_calls_first(&args)?,
        ..RuntimeConfig::default()
    })
    .context("starting the plugin runtime")?;
    let mut config = server_config(&args);
    config.publisher_keys = publisher_keys(&args.publisher_key)?;
    for key in &config.publisher_keys {
        tracing::info!(publisher_key = %hex::encode(key.fingerprint()), "publisher key accepted");
    }
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
    let shutdown = shutdown_signal();
    tracing::info!(%endpoint, version = env!("CARGO_PKG_VERSION"), "enclave listening");
    server.serve::<T>(listener, shutdown).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The flags the enclave image runs with: the `ENTRYPOINT` of
    /// image/Dockerfile, which is measured into the EIF's PCR2.
    fn image_entrypoint() -> Vec<String> {
        let dockerfile = include_str!("../../../image/Dockerfile");
        let line = dockerfile
            .lines()
            .find_map(|l| l.strip_prefix("ENTRYPOINT "))
            .expect("image/Dockerfile has an ENTRYPOINT");
        serde_json::from_str(line).expect("the ENTRYPOINT is in exec (JSON) form")
    }

    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(argv)
    }

    #[test]
    fn image_listens_on_vsock_with_the_nsm_attester() {
        let argv = image_entrypoint();
        assert_eq!(argv.first().map(String::as_str), Some("/enclet-enclave"));
        let parsed = Args::try_parse_from(&argv).unwrap();
        assert_eq!(
            parsed.listen,
            Endpoint::Vsock {
                cid: None,
                port: 5005
            }
        );
        assert!(matches!(
            parsed.attester,
            AttesterChoice::Some(AttesterConfig::Nsm)
        ));
        // Every limit is the server's default.
        let config = server_config(&parsed);
        let defaults = defaults();
        assert_eq!(config.frame_limits, defaults.frame_limits);
        assert_eq!(config.max_connections, defaults.max_connections);
        assert_eq!(config.max_in_flight_total, defaults.max_in_flight_total);
        assert_eq!(config.max_loads, defaults.max_loads);
    }

    #[test]
    fn image_entrypoint_variants_are_refused() {
        let argv = image_entrypoint();
        let with = |from: &str, to: &str| -> Vec<String> {
            argv.iter()
                .map(|a| if a == from { to.to_owned() } else { a.clone() })
                .collect()
        };
        for (listen, reason) in [
            ("vsock:", "decimal"),
            ("vsock:0:5005", "reserved"),
            ("vsock:1:5005", "reserved"),
            ("vsock:4294967295", "any port"),
            ("vsock:70000000000", "out of range"),
            ("vsock:five", "decimal"),
            ("vsock:5005x", "decimal"),
            ("tcp:127.0.0.1:5005", "expected unix:PATH"),
        ] {
            let e = Args::try_parse_from(with("vsock:5005", listen)).unwrap_err();
            assert_eq!(
                e.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{listen}"
            );
            assert!(e.to_string().contains(reason), "{listen}: {e}");
        }
        for attester in ["nsm:x", "nsm:device=/dev/nsm", "nitro", "NSM"] {
            let e = Args::try_parse_from(with("nsm", attester)).unwrap_err();
            assert_eq!(
                e.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{attester}"
            );
        }
    }

    #[test]
    fn the_yield_interval_is_0_or_50us_to_1s() {
        fn argv(us: &str) -> Vec<&str> {
            vec![
                "e",
                "--listen",
                "unix:/run/e.sock",
                "--long-call-ms",
                "1",
                "--long-call-yield-us",
                us,
            ]
        }
        let every = |us: &str| {
            let policy = short_calls_first(&parse(&argv(us)).unwrap()).unwrap();
            policy.unwrap().yield_every
        };
        assert_eq!(every("0"), Duration::ZERO);
        assert_eq!(every("50"), Duration::from_micros(50));
        assert_eq!(every("1000000"), Duration::from_secs(1));
        let defaults = parse(&argv("")[..5]).unwrap();
        assert_eq!(defaults.long_call_yield_us, 100);
        for refused in ["49", "1000001", "1ms"] {
            let e = Args::try_parse_from(argv(refused)).unwrap_err();
            assert_eq!(
                e.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{refused}"
            );
        }
    }

    #[test]
    fn the_quota_must_not_exceed_the_share() {
        let policy = |extra: &[&str]| {
            let mut argv = vec!["e", "--listen", "unix:/run/e.sock", "--long-call-ms", "1"];
            argv.extend_from_slice(extra);
            short_calls_first(&parse(&argv).unwrap())
        };
        let defaults = policy(&[]).unwrap().unwrap();
        assert_eq!(
            (defaults.plugin_share_percent, defaults.plugin_quota_percent),
            (50, 25)
        );
        assert!(policy(&["--plugin-share-percent", "0", "--plugin-quota-percent", "0"]).is_ok());
        assert!(policy(&["--plugin-quota-percent", "50"]).is_ok());
        for refused in [
            &["--plugin-share-percent", "0"][..],
            &["--plugin-quota-percent", "51"][..],
        ] {
            let e = policy(refused).unwrap_err().to_string();
            assert!(e.contains("--plugin-quota-percent"), "{refused:?}: {e}");
        }
        // Off altogether: the quota flags do not matter.
        let off = parse(&[
            "e",
            "--listen",
            "unix:/run/e.sock",
            "--plugin-share-percent",
            "0",
        ])
        .unwrap();
        assert!(short_calls_first(&off).unwrap().is_none());
    }

    #[test]
    fn listen_addresses_and_limits() {
        let parsed = parse(&["e", "--listen", "vsock:16:5005"]).unwrap();
        assert_eq!(
            parsed.listen,
            Endpoint::Vsock {
                cid: Some(16),
                port: 5005
            }
        );
        assert!(matches!(parsed.attester, AttesterChoice::None));
        let small = parse(&[
            "e",
            "--listen",
            "unix:/run/e.sock",
            "--max-frame-bytes",
            "1024",
        ]);
        assert_eq!(small.unwrap().max_frame_bytes, MIN_FRAME_BYTES);
        let e = parse(&[
            "e",
            "--listen",
            "unix:/run/e.sock",
            "--max-frame-bytes",
            "1023",
        ]);
        assert_eq!(
            e.unwrap_err().kind(),
            clap::error::ErrorKind::ValueValidation
        );
        let e = parse(&["e", "--listen", "unix:"]).unwrap_err();
        assert!(e.to_string().contains("empty socket path"), "{e}");
        if std::env::var_os("ENCLET_ENCLAVE_LISTEN").is_none() {
            let e = parse(&["e", "--attester", "nsm"]).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        }
    }
}
