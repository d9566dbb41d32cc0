//! Benchmark (b): the trivial `echo` call end to end, parent → enclave over a
//! Unix socket, through the parent's enclave client library against a real
//! `enclet-enclave` process (release build). Prints p50/p99 latency at
//! concurrency 1 and 16 and throughput, next to the two floors the target is
//! stated in: the in-process instantiate+call of the same plugin, and one bare
//! Unix socket round trip (measured three ways — a Tokio stream against a
//! blocking echo thread, enclet's own socket layer against an echo thread, and
//! both ends busy-waiting as enclet's processes do by default — the fastest
//! one sets the bound).
//!
//! Run through `scripts/bench` (it builds `enclet-enclave` in release first).
//! Environment: `ENCLET_PLUGIN_DIR` (default `target/wasm32-wasip2/release`),
//! `ENCLET_BENCH_CALLS` (calls per measurement, default 20000), `ENCLET_ENCLAVE_BIN`
//! (default `target/release/enclet-enclave`).
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

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use enclet_enclave::runtime::{Runtime, RuntimeConfig};
use enclet_parent::client::EnclaveClient;
use enclet_protocol::socket;
use enclet_protocol::{Endpoint, FrameLimits, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const INPUT: &[u8] = b"ping";

fn main() {
    let calls: usize = std::env::var("ENCLET_BENCH_CALLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let target = target_dir();
    let plugin_dir = std::env::var_os("ENCLET_PLUGIN_DIR")
        .map_or_else(|| target.join("wasm32-wasip2/release"), PathBuf::from);
    let echo = std::fs::read(plugin_dir.join("echo.wasm"))
        .expect("echo.wasm: run scripts/build-plugins or set ENCLET_PLUGIN_DIR");
    let enclave_bin = std::env::var_os("ENCLET_ENCLAVE_BIN")
        .map_or_else(|| target.join("release/enclet-enclave"), PathBuf::from);
    assert!(
        enclave_bin.is_file(),
        "{} missing: cargo build --release -p enclet-enclave --bins",
        enclave_bin.display()
    );

    println!("benchmark (b): echo end to end, parent client -> enclet-enclave over a Unix socket");
    println!("calls per measurement: {calls}; client on a current-thread Tokio runtime");
    let floor = in_process_floor(&echo, calls);
    report("in-process instantiate+call (floor)", &floor, None);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let uds_plain = rt.block_on(unix_round_trip(calls));
    report("bare UDS round trip (tokio <-> blocking)", &uds_plain, None);
    let uds_frames = rt.block_on(frame_round_trip(calls));
    report("bare UDS round trip (enclet socket I/O)", &uds_frames, None);
    let uds_spin = spinning_round_trip(&rt, calls);
    report("bare UDS round trip (both ends busy-wait)", &uds_spin, None);
    // The target's "one Unix socket round trip": the fastest of the three, so
    // the bound is the strictest one.
    let uds = [uds_plain, uds_frames, uds_spin]
        .into_iter()
        .min_by_key(|s| percentile(s, 50.0))
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("enclave.sock");
    let mut enclave = start_enclave(&enclave_bin, &socket, dir.path());
    let results = rt.block_on(async {
        let client = connect(&socket).await;
        let loaded = client.load("echo", echo.clone(), None).await.unwrap();
        let m = loaded.info.measurement;
        run_concurrent(&client, m, 1, calls / 10).await; // warm up
        let c1 = run_concurrent(&client, m, 1, calls).await;
        let c16 = run_concurrent(&client, m, 16, calls).await;
        (c1, c16)
    });
    let pid = nix::unistd::Pid::from_raw(i32::try_from(enclave.id()).unwrap());
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let _ = enclave.wait();
    let (c1, c16) = results;
    report("end to end, concurrency 1", &c1.0, Some(c1.1));
    report("end to end, concurrency 16", &c16.0, Some(c16.1));

    let floor_p50 = percentile(&floor, 50.0);
    let uds_p50 = percentile(&uds, 50.0);
    let e2e_p50 = percentile(&c1.0, 50.0);
    let bound = floor_p50 * 3 + uds_p50;
    println!(
        "target p50(e2e, c=1) <= 3 x floor + 1 UDS RTT: {} <= {} -> {}",
        fmt(e2e_p50),
        fmt(bound),
        if e2e_p50 <= bound { "met" } else { "NOT met" }
    );
    let best = c1.1.max(c16.1);
    println!(
        "target >= 10000 invocations/s end to end: {best:.0}/s -> {}",
        if best >= 10_000.0 { "met" } else { "NOT met" }
    );
}

fn target_dir() -> PathBuf {
    // target/release/deps/e2e-HASH -> target
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

fn in_process_floor(echo: &[u8], calls: usize) -> Vec<Duration> {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let m = runtime.load("echo", echo, None).unwrap().info.measurement;
    for _ in 0..calls / 10 {
        runtime.invoke_blocking(&m, INPUT).unwrap();
    }
    (0..calls)
        .map(|_| {
            let t = Instant::now();
            let out = runtime.invoke_blocking(&m, INPUT).unwrap();
            let d = t.elapsed();
            assert_eq!(out, INPUT);
            d
        })
        .collect()
}

/// One 64-byte ping-pong over a Unix socket to an echo loop on another
/// thread (so each round trip crosses threads, as a call to the enclave does).
async fn unix_round_trip(calls: usize) -> Vec<Duration> {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rtt.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        while s.read_exact(&mut buf).is_ok() {
            if s.write_all(&buf).is_err() {
                break;
            }
        }
    });
    let mut s = tokio::net::UnixStream::connect(&path).await.unwrap();
    let mut buf = [0u8; 64];
    let mut out = Vec::with_capacity(calls);
    for i in 0..calls + calls / 10 {
        let t = Instant::now();
        s.write_all(&buf).await.unwrap();
        s.read_exact(&mut buf).await.unwrap();
        if i >= calls / 10 {
            out.push(t.elapsed());
        }
    }
    out
}

/// The same ping-pong through the socket layer enclet itself uses
/// (`enclet_protocol::socket`: readable-only registration, direct writes),
/// with a 64-byte frame echoed by a thread running its own runtime.
async fn frame_round_trip(calls: usize) -> Vec<Duration> {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (mut reader, writer) = socket::split(theirs).unwrap();
            while let Ok(Some(body)) = reader.read(FrameLimits::default(), None).await {
                if writer.send(reframe(&body), None).is_err() {
                    break;
                }
            }
        });
    });
    let (mut reader, writer) = socket::split(ours).unwrap();
    let ping = ping();
    let mut out = Vec::with_capacity(calls);
    for i in 0..calls + calls / 10 {
        let t = Instant::now();
        writer.send(ping.clone(), None).unwrap();
        reader
            .read(FrameLimits::default(), None)
            .await
            .unwrap()
            .unwrap();
        if i >= calls / 10 {
            out.push(t.elapsed());
        }
    }
    out
}

/// The same ping-pong with both ends waiting for the other without sleeping
/// for up to 100 us first (`BlockingFrameReader` with a busy-poll budget), as
/// the enclave's lanes and the parent's client do by default.
fn spinning_round_trip(rt: &tokio::runtime::Runtime, calls: usize) -> Vec<Duration> {
    use std::os::fd::AsFd;
    const SPIN: Duration = Duration::from_micros(100);
    let _entered = rt.enter();
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let handle = rt.handle().clone();
    std::thread::spawn(move || {
        let _entered = handle.enter();
        let (mut reader, writer) = socket::split_blocking(theirs).unwrap();
        reader.set_busy_poll(SPIN);
        let (stop, _never) = std::os::unix::net::UnixStream::pair().unwrap();
        while let Ok(socket::Next::Frame(body)) =
            reader.read(FrameLimits::default(), None, stop.as_fd())
        {
            if writer.send(reframe(&body), None).is_err() {
                break;
            }
        }
    });
    let (mut reader, writer) = socket::split_blocking(ours).unwrap();
    reader.set_busy_poll(SPIN);
    let (stop, _never) = std::os::unix::net::UnixStream::pair().unwrap();
    let ping = ping();
    let mut out = Vec::with_capacity(calls);
    for i in 0..calls + calls / 10 {
        let t = Instant::now();
        writer.send(ping.clone(), None).unwrap();
        let got = reader
            .read(FrameLimits::default(), None, stop.as_fd())
            .unwrap();
        assert!(matches!(got, socket::Next::Frame(_)));
        if i >= calls / 10 {
            out.push(t.elapsed());
        }
    }
    out
}

/// A frame body with its length prefix again (what an echo sends back).
fn reframe(body: &[u8]) -> Vec<u8> {
    let mut frame = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    frame.extend_from_slice(body);
    frame
}

/// The 64-byte frame the round-trip measurements bounce.
fn ping() -> Vec<u8> {
    enclet_protocol::codec::encode(1, &Response::Output(vec![0; 40]), FrameLimits::default())
        .unwrap()
}

fn start_enclave(bin: &Path, socket: &Path, dir: &Path) -> Child {
    let log = std::fs::File::create(dir.join("enclave.log")).unwrap();
    Command::new(bin)
        .arg("--listen")
        .arg(format!("unix:{}", socket.display()))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
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

/// `calls` invocations spread over `concurrency` tasks sharing one client.
/// Returns every latency and the throughput in calls per second.
async fn run_concurrent(
    client: &EnclaveClient,
    m: enclet_attestation::Measurement,
    concurrency: usize,
    calls: usize,
) -> (Vec<Duration>, f64) {
    let per_task = calls / concurrency;
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per_task);
                for _ in 0..per_task {
                    let t = Instant::now();
                    let out = client.invoke(m, INPUT.to_vec()).await.unwrap();
                    lat.push(t.elapsed());
                    assert_eq!(out, INPUT);
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::with_capacity(calls);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let secs = start.elapsed().as_secs_f64();
    let rate = all.len() as f64 / secs;
    (all, rate)
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

fn report(name: &str, samples: &[Duration], rate: Option<f64>) {
    let rate = rate.map_or_else(String::new, |r| format!("  throughput {r:.0}/s"));
    println!(
        "{name:<40} p50 {:>10}  p99 {:>10}{rate}",
        fmt(percentile(samples, 50.0)),
        fmt(percentile(samples, 99.0))
    );
}
