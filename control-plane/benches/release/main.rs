//! Benchmark: the control plane's release round trip over real TLS, with
//! durable audit writes, against a release-built `enclet-control-plane`.
//!
//! One TPM session is opened and its AK activated on a private swtpm; then
//! nonces are issued and quotes made over them UP FRONT (the simulator is not
//! what is measured: ~14 ms per quote). The measured request is the evidence
//! submission: session check → nonce consumed (durable) → quote verified with
//! the activated AK → event log and image → Rego policy → HPKE seal per
//! granted secret → audit entries committed (durable) → answer. Printed:
//! p50/p99 at concurrency 1 and 16 and releases per second, the nonce
//! issuance (also a durable audit commit), and an in-process breakdown of the
//! same steps.
//!
//! Run through `scripts/bench`. `ENCLET_BENCH_RELEASES` sets the releases at
//! concurrency 16 (default 2000; concurrency 1 uses a quarter).
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
    missing_docs,
    unreachable_pub,
    dead_code,
    reason = "benchmark code; figures for humans"
)]

#[path = "../../tests/flow/support.rs"]
mod support;

mod breakdown;

use std::sync::Arc;
use std::time::{Duration, Instant};

use enclet_attestation::Measurement;
use enclet_control_plane_api::EvidenceSubmission;
use support::{ControlPlane, SECRET_NAME, SECRET_VALUE, Setup, TpmEnclave};

const CONCURRENCY: usize = 16;

fn main() {
    let releases: usize = std::env::var("ENCLET_BENCH_RELEASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let serial = (releases / 4).max(50);
    let image = Measurement::of_plugin(b"bench enclave image");
    let plugins = [
        Measurement::of_plugin(b"bench payout"),
        Measurement::of_plugin(b"bench echo"),
    ];
    let enclave = TpmEnclave::new(&image, &plugins);
    let state = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(
        state.path(),
        &enclave.swtpm,
        &Setup {
            images: vec![image],
            grants: vec![(plugins[0], vec![SECRET_NAME]), (plugins[1], vec![])],
            rego: None,
            extra: "nonce_ttl_secs = 3600".to_owned(),
        },
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("control plane release round trip over TLS (127.0.0.1), durable audit, TPM evidence");
    let session = rt.block_on(async {
        cp.put_secret(SECRET_NAME, SECRET_VALUE).await;
        enclave.session(&cp).await
    });
    let bodies = quotes_up_front(&rt, &cp, &enclave, &session, serial + releases);
    let (first, rest) = bodies.split_at(serial);

    let t = Instant::now();
    let mut lat = Vec::new();
    for body in first {
        let s = Instant::now();
        rt.block_on(TpmEnclave::submit(&cp, &session, body))
            .unwrap();
        lat.push(s.elapsed());
    }
    report(
        "release (evidence -> sealed bundle), c=1",
        &mut lat,
        t.elapsed(),
    );

    let t = Instant::now();
    let mut lat = rt.block_on(concurrent(&cp, &session, rest));
    let elapsed = t.elapsed();
    report(
        "release (evidence -> sealed bundle), c=16",
        &mut lat,
        elapsed,
    );
    let rate = lat.len() as f64 / elapsed.as_secs_f64();
    let p99 = percentile(&lat, 0.99);
    println!(
        "  target >= 1,000 releases/s at c=16: {} ({rate:.0}/s); p99 < 50 ms: {} ({:.2} ms)",
        if rate >= 1000.0 { "met" } else { "NOT met" },
        if p99 < Duration::from_millis(50) {
            "met"
        } else {
            "NOT met"
        },
        p99.as_secs_f64() * 1e3
    );
    drop(cp);
    breakdown::run(&enclave, &bodies[0], &image);
}

/// Issues `n` nonces (timed: each is a durable audit commit), then makes a
/// quote over each on the simulator (not timed).
fn quotes_up_front(
    rt: &tokio::runtime::Runtime,
    cp: &ControlPlane,
    enclave: &TpmEnclave,
    session: &str,
    n: usize,
) -> Vec<EvidenceSubmission> {
    let t = Instant::now();
    let mut lat = Vec::new();
    let mut nonces = Vec::new();
    for _ in 0..n {
        let s = Instant::now();
        nonces.push(rt.block_on(enclave.nonce(cp, session)));
        lat.push(s.elapsed());
    }
    report("nonce issuance (durable audit), c=1", &mut lat, t.elapsed());
    let t = Instant::now();
    let bodies: Vec<EvidenceSubmission> = nonces
        .iter()
        .map(|n| enclave.evidence(n, &enclave.log))
        .collect();
    println!(
        "  (made {} quotes on swtpm up front in {:.1} s; not measured)",
        bodies.len(),
        t.elapsed().as_secs_f64()
    );
    bodies
}

/// Submits every body from `CONCURRENCY` tasks at once; their latencies.
async fn concurrent(
    cp: &ControlPlane,
    session: &str,
    bodies: &[EvidenceSubmission],
) -> Vec<Duration> {
    let bodies = Arc::new(bodies.to_vec());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (bodies, next, client, session) = (
            Arc::clone(&bodies),
            Arc::clone(&next),
            cp.client.clone(),
            session.to_owned(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let s = Instant::now();
                let _: enclet_control_plane_api::Release = client
                    .call_json(
                        hyper::Method::POST,
                        &enclet_control_plane_api::evidence_path(&session),
                        Some(body),
                        None,
                    )
                    .await
                    .unwrap();
                lat.push(s.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn report(what: &str, lat: &mut [Duration], elapsed: Duration) {
    lat.sort();
    println!(
        "{what}: n={} p50 {:.3} ms p99 {:.3} ms; {:.0}/s",
        lat.len(),
        percentile(lat, 0.5).as_secs_f64() * 1e3,
        percentile(lat, 0.99).as_secs_f64() * 1e3,
        lat.len() as f64 / elapsed.as_secs_f64()
    );
}
