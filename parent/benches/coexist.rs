//! Load test: well-behaved plugins beside hostile ones, in one run against
//! one release-built `enclet-enclave` over a Unix socket.
//!
//! Phase (a): `K` clients call `echo` and `payout` (alternately by client) at
//! a fixed pace, alone. Phase (b), once per hostile client count `h`: the same
//! paced load while `h` further clients invoke the `hostile` plugin back to
//! back, cycling through its misbehaviours (spin, hoard memory, recurse, huge
//! output, panic, log amplification, secrets flood, another plugin's secret,
//! …), each stopped by the limits the operator gave `hostile` at load.
//! Every well-behaved latency is recorded; the test prints p50/p99/max per
//! plugin and phase, the ratio p99(b)/p99(a), the hostile calls' outcomes by
//! code, and whether the target (p99 within 2×) holds.
//!
//! How to read the ratio: hostile calls are CPU-bound until their limit
//! stops them, and the next one starts at once. With `slots`
//! (`--max-concurrent-invocations`) above `K + h`, no call ever waits for a
//! slot, so what the ratio measures is CPU contention: `h` hostile clients
//! keep up to `h` cores busy, and a well-behaved call that lands on a busy
//! core waits for the OS scheduler. The figures therefore depend on the
//! machine's core count, printed with them. All clients share one connection,
//! as the parent's calls do. Latency is from sending a call to its answer; a
//! client whose call outlasts its pace interval sends the next one at once.
//!
//! Environment (all optional): `ENCLET_COEXIST_CALLS` well-behaved calls per
//! phase (default 20000), `ENCLET_COEXIST_CLIENTS` K (default 4),
//! `ENCLET_COEXIST_INTERVAL_US` pace per client (default 1000; 0 = back to
//! back), `ENCLET_COEXIST_HOSTILE` hostile client counts, one phase each
//! (default `1,2`), `ENCLET_COEXIST_HOSTILE_INPUTS` the misbehaviours they
//! cycle through, comma-separated (default: all of [`HOSTILE_INPUTS`]),
//! `ENCLET_COEXIST_SLOTS` (default 16), `ENCLET_COEXIST_ENCLAVE_ARGS` more
//! arguments for the enclave, space-separated (default `--long-call-ms 1`:
//! short calls first, with its defaults `--plugin-share-percent 50` and
//! `--plugin-quota-percent 25`;
//! `--long-call-ms 0` to compare without),
//! `ENCLET_COEXIST_HOSTILE_FUEL` (default 20000000),
//! `ENCLET_COEXIST_HOSTILE_DEADLINE_MS` (default 50); and as the e2e bench,
//! `ENCLET_PLUGIN_DIR`, `ENCLET_ENCLAVE_BIN`. Run through `scripts/bench`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "benchmark code"
)]
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "figures for humans"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use enclet_attestation::Measurement;
use enclet_parent::client::EnclaveClient;
use enclet_protocol::{Endpoint, FrameLimits, Limits};

const MIB: u64 = 1024 * 1024;

/// A realistic basket for `payout`.
const BASKET: &[u8] = br#"{"currency":"EUR","platform":"market","fee_bps":1000,"items":[{"sku":"book-1","seller":"alice","unit_cents":2000,"quantity":2},{"sku":"mug","seller":"bob","unit_cents":1250,"quantity":1}],"royalties":[{"sku":"book-1","party":"author","bps":1500}]}"#;

/// What the hostile clients cycle through (see `sdk/plugins/hostile`).
const HOSTILE_INPUTS: &[&str] = &[
    "loop",
    "memory",
    "recurse",
    "output",
    "panic",
    "log-amplify",
    "work:100000",
    "secret-flood",
    "secret:payout-hmac-key",
    "taint",
    "wasi",
    "log",
];

/// The run's configuration, from the environment.
struct Config {
    calls: usize,
    clients: usize,
    interval: Duration,
    hostile: Vec<usize>,
    hostile_inputs: Vec<String>,
    slots: usize,
    hostile_limits: Limits,
}

impl Config {
    fn from_env() -> Self {
        let var = |name: &str, default: u64| -> u64 {
            std::env::var(name).ok().map_or(default, |s| {
                s.parse().unwrap_or_else(|e| panic!("{name}: {e}"))
            })
        };
        let hostile = std::env::var("ENCLET_COEXIST_HOSTILE")
            .unwrap_or_else(|_| "1,2".to_owned())
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .expect("ENCLET_COEXIST_HOSTILE: counts like 1,2")
            })
            .collect();
        Self {
            calls: var("ENCLET_COEXIST_CALLS", 20_000) as usize,
            clients: var("ENCLET_COEXIST_CLIENTS", 4).max(1) as usize,
            interval: Duration::from_micros(var("ENCLET_COEXIST_INTERVAL_US", 1000)),
            hostile,
            hostile_inputs: std::env::var("ENCLET_COEXIST_HOSTILE_INPUTS").map_or_else(
                |_| HOSTILE_INPUTS.iter().map(|s| (*s).to_owned()).collect(),
                |s| s.split(',').map(|s| s.trim().to_owned()).collect(),
            ),
            slots: var("ENCLET_COEXIST_SLOTS", 16) as usize,
            hostile_limits: Limits {
                fuel: var("ENCLET_COEXIST_HOSTILE_FUEL", 20_000_000),
                deadline_ms: var("ENCLET_COEXIST_HOSTILE_DEADLINE_MS", 50),
                max_memory_bytes: 64 * MIB,
                max_table_elements: 10_000,
                max_input_bytes: MIB,
                max_output_bytes: MIB,
            },
        }
    }
}

/// The well-behaved plugins' measurements.
#[derive(Clone, Copy)]
struct WellBehaved {
    echo: Measurement,
    payout: Measurement,
}

/// One phase's well-behaved latencies, per plugin.
struct Phase {
    name: String,
    echo: Vec<Duration>,
    payout: Vec<Duration>,
    hostile: BTreeMap<String, u64>,
}

fn main() {
    let cfg = Config::from_env();
    let target = target_dir();
    let plugin_dir = std::env::var_os("ENCLET_PLUGIN_DIR")
        .map_or_else(|| target.join("wasm32-wasip2/release"), PathBuf::from);
    let read = |name: &str| {
        std::fs::read(plugin_dir.join(format!("{name}.wasm")))
            .unwrap_or_else(|e| panic!("{name}.wasm: {e}: run scripts/build-plugins"))
    };
    let enclave_bin = std::env::var_os("ENCLET_ENCLAVE_BIN")
        .map_or_else(|| target.join("release/enclet-enclave"), PathBuf::from);
    assert!(
        enclave_bin.is_file(),
        "{} missing: cargo build --release -p enclet-enclave --bins",
        enclave_bin.display()
    );
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let h = cfg.hostile_limits;
    println!("load test: well-behaved p99 with and without hostile plugins, one enclave process");
    println!(
        "machine: {cores} cores; enclave: {} (profile {}), --max-concurrent-invocations {} {}",
        enclave_bin.display(),
        enclave_bin
            .parent()
            .and_then(Path::file_name)
            .map_or_else(|| "?".into(), |p| p.to_string_lossy()),
        cfg.slots,
        enclave_args()
    );
    println!(
        "well-behaved: {} clients (echo and payout alternately by client), {} calls per phase, \
         one call per {} us per client",
        cfg.clients,
        cfg.calls,
        cfg.interval.as_micros()
    );
    println!(
        "hostile: back-to-back calls cycling {}; limits fuel {} deadline {} ms memory {} MiB \
         output {} MiB",
        cfg.hostile_inputs.join(","),
        h.fuel,
        h.deadline_ms,
        h.max_memory_bytes / MIB,
        h.max_output_bytes / MIB
    );

    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("enclave.sock");
    let mut enclave = start_enclave(&enclave_bin, &socket, dir.path(), cfg.slots);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let phases = rt.block_on(async {
        let client = connect(&socket).await;
        let load = |name: &'static str, limits: Option<Limits>| {
            let client = client.clone();
            let bytes = read(name);
            async move {
                client
                    .load(name, bytes, limits)
                    .await
                    .unwrap()
                    .info
                    .measurement
            }
        };
        let plugins = WellBehaved {
            echo: load("echo", None).await,
            payout: load("payout", None).await,
        };
        let hostile = load("hostile", Some(cfg.hostile_limits)).await;
        // Warm up: each plugin's first calls, and the client's connection.
        run_phase(
            &client,
            &cfg,
            plugins,
            hostile,
            0,
            cfg.calls / 10,
            "warm-up",
        )
        .await;
        let mut phases = vec![run_phase(&client, &cfg, plugins, hostile, 0, cfg.calls, "a").await];
        for &n in &cfg.hostile {
            let name = format!("b (hostile clients: {n})");
            phases.push(run_phase(&client, &cfg, plugins, hostile, n, cfg.calls, &name).await);
        }
        phases
    });
    let pid = nix::unistd::Pid::from_raw(i32::try_from(enclave.id()).unwrap());
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let _ = enclave.wait();
    report(&phases, cores);
}

/// One phase: `cfg.clients` paced well-behaved clients making `calls` calls
/// in all, and `hostile_clients` hostile clients until they are done.
async fn run_phase(
    client: &EnclaveClient,
    cfg: &Config,
    plugins: WellBehaved,
    hostile: Measurement,
    hostile_clients: usize,
    calls: usize,
    name: &str,
) -> Phase {
    let stop = Arc::new(AtomicBool::new(false));
    let attackers: Vec<_> = (0..hostile_clients)
        .map(|i| {
            let inputs = cfg.hostile_inputs.clone();
            tokio::spawn(attack(
                client.clone(),
                hostile,
                inputs,
                i,
                Arc::clone(&stop),
            ))
        })
        .collect();
    let per_client = calls / cfg.clients;
    let workers: Vec<_> = (0..cfg.clients)
        .map(|i| {
            let (client, interval) = (client.clone(), cfg.interval);
            let (plugin, input, is_echo) = if i % 2 == 0 {
                (plugins.echo, &b"ping"[..], true)
            } else {
                (plugins.payout, BASKET, false)
            };
            tokio::spawn(async move {
                let mut pace = tokio::time::interval(interval.max(Duration::from_nanos(1)));
                pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut lat = Vec::with_capacity(per_client);
                for _ in 0..per_client {
                    if !interval.is_zero() {
                        pace.tick().await;
                    }
                    let t = Instant::now();
                    let out = client.invoke(plugin, input.to_vec()).await;
                    lat.push(t.elapsed());
                    let out = out.unwrap_or_else(|e| panic!("well-behaved call failed: {e}"));
                    assert!(!is_echo || out == input, "echo answered {out:?}");
                }
                (is_echo, lat)
            })
        })
        .collect();
    let mut phase = Phase {
        name: name.to_owned(),
        echo: Vec::new(),
        payout: Vec::new(),
        hostile: BTreeMap::new(),
    };
    for w in workers {
        let (is_echo, lat) = w.await.unwrap();
        if is_echo {
            &mut phase.echo
        } else {
            &mut phase.payout
        }
        .extend(lat);
    }
    stop.store(true, Ordering::Release);
    for a in attackers {
        for (code, n) in a.await.unwrap() {
            *phase.hostile.entry(code).or_default() += n;
        }
    }
    phase
}

/// One hostile client: back-to-back calls until `stop`; outcomes by code.
async fn attack(
    client: EnclaveClient,
    hostile: Measurement,
    inputs: Vec<String>,
    offset: usize,
    stop: Arc<AtomicBool>,
) -> BTreeMap<String, u64> {
    let mut outcomes = BTreeMap::new();
    let inputs = inputs.iter().cycle().skip(offset);
    for input in inputs {
        if stop.load(Ordering::Acquire) {
            break;
        }
        let code = match client.invoke(hostile, input.as_bytes().to_vec()).await {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.code().to_owned(),
        };
        *outcomes.entry(code).or_default() += 1;
    }
    outcomes
}

fn report(phases: &[Phase], cores: usize) {
    let (base, rest) = phases.split_first().unwrap();
    for p in phases {
        println!("phase {}", p.name);
        line("echo", &p.echo);
        line("payout", &p.payout);
        if !p.hostile.is_empty() {
            let total: u64 = p.hostile.values().sum();
            let outcomes: Vec<String> = p.hostile.iter().map(|(c, n)| format!("{c} {n}")).collect();
            println!("  hostile calls {total}: {}", outcomes.join(", "));
        }
    }
    for p in rest {
        for (plugin, a, b) in [
            ("echo", &base.echo, &p.echo),
            ("payout", &base.payout, &p.payout),
        ] {
            if a.is_empty() || b.is_empty() {
                continue;
            }
            let ratio = percentile(b, 99.0).as_secs_f64() / percentile(a, 99.0).as_secs_f64();
            println!(
                "target p99({}) <= 2 x p99(a) for {plugin}: ratio {ratio:.2} -> {} ({cores} cores)",
                p.name,
                if ratio <= 2.0 { "met" } else { "NOT met" }
            );
        }
    }
}

fn line(plugin: &str, samples: &[Duration]) {
    if samples.is_empty() {
        return;
    }
    println!(
        "  {plugin:<7} calls {:>6}  p50 {:>10}  p99 {:>10}  max {:>10}",
        samples.len(),
        fmt(percentile(samples, 50.0)),
        fmt(percentile(samples, 99.0)),
        fmt(percentile(samples, 100.0))
    );
}

fn target_dir() -> PathBuf {
    // target/release/deps/coexist-HASH -> target
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

fn start_enclave(bin: &Path, socket: &Path, dir: &Path, slots: usize) -> Child {
    let log = std::fs::File::create(dir.join("enclave.log")).unwrap();
    Command::new(bin)
        .arg("--listen")
        .arg(format!("unix:{}", socket.display()))
        .arg("--max-concurrent-invocations")
        .arg(slots.to_string())
        .args(enclave_args().split_whitespace())
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// More arguments for the enclave: `ENCLET_COEXIST_ENCLAVE_ARGS`, else
/// short calls first on (the setting for an enclave with its own CPUs).
fn enclave_args() -> String {
    std::env::var("ENCLET_COEXIST_ENCLAVE_ARGS").unwrap_or_else(|_| "--long-call-ms 1".to_owned())
}

async fn connect(socket: &Path) -> EnclaveClient {
    let endpoint = Endpoint::Unix(socket.to_path_buf());
    let start = Instant::now();
    loop {
        match EnclaveClient::connect(&endpoint, FrameLimits::default()).await {
            Ok(c) => return c,
            Err(e) if start.elapsed() > Duration::from_secs(30) => panic!("{e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut v = samples.to_vec();
    v.sort_unstable();
    let idx = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[idx]
}

fn fmt(d: Duration) -> String {
    format!("{:.1} us", d.as_secs_f64() * 1e6)
}
