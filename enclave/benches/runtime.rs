//! In-process cost of plugin invocations: a fresh store, instantiation from the
//! cached pre-instance, the call and the output copy, with every limit armed.
//!
//! * `echo_16b/blocking` — the floor: the trivial plugin on the calling thread.
//! * `echo_16b/async` — the same through `Runtime::invoke` (a blocking-pool hop),
//!   which is what the enclave server pays.
//! * `payout/blocking` — a realistic plugin (JSON parse, split, JSON encode).
//! * `compile/echo` — `load` of the trivial plugin into a fresh runtime.
//!
//! Needs the plugins built by `scripts/build-plugins`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "benchmark code"
)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use enclet_enclave::runtime::{Runtime, RuntimeConfig};

fn plugin_bytes(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("ENCLET_PLUGIN_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasm32-wasip2/release"),
        PathBuf::from,
    );
    let path = dir.join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; run scripts/build-plugins first",
            path.display()
        )
    })
}

const BASKET: &[u8] = br#"{ "currency": "EUR", "platform": "market", "fee_bps": 1000,
    "items": [ { "sku": "book-1", "seller": "alice", "unit_cents": 2000, "quantity": 2 },
               { "sku": "mug", "seller": "bob", "unit_cents": 1299, "quantity": 1 } ],
    "royalties": [ { "sku": "book-1", "party": "author", "bps": 1500 } ] }"#;

fn invocations(c: &mut Criterion) {
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let echo = rt
        .load("echo", &plugin_bytes("echo"), None)
        .unwrap()
        .info
        .measurement;
    let payout = rt
        .load("payout", &plugin_bytes("payout"), None)
        .unwrap()
        .info
        .measurement;
    let input = [7u8; 16];
    let executor = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();

    let mut group = c.benchmark_group("invoke");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(50);
    group.bench_function("echo_16b/blocking", |b| {
        b.iter(|| rt.invoke_blocking(&echo, black_box(&input)).unwrap());
    });
    group.bench_function("echo_16b/async", |b| {
        b.iter(|| {
            executor
                .block_on(rt.invoke(&echo, black_box(input.to_vec())))
                .unwrap()
        });
    });
    group.bench_function("payout/blocking", |b| {
        b.iter(|| rt.invoke_blocking(&payout, black_box(BASKET)).unwrap());
    });
    group.finish();
}

fn compile(c: &mut Criterion) {
    let echo = plugin_bytes("echo");
    let config = RuntimeConfig {
        max_concurrent_invocations: 1,
        ..RuntimeConfig::default()
    };
    let mut group = c.benchmark_group("compile");
    group
        .measurement_time(Duration::from_secs(5))
        .sample_size(10);
    group.bench_function("echo", |b| {
        b.iter_batched(
            || Runtime::new(config.clone()).unwrap(),
            |rt| rt.load("echo", black_box(&echo), None).unwrap(),
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, invocations, compile);
criterion_main!(benches);
