//! In-process cost of plugin invocations: a fresh store, instantiation from the
//! cached pre-instance, the call and the output copy, with every limit armed.
//!
//! * `echo_16b/blocking` — the floor: the trivial plugin on the calling thread.
//! * `echo_16b/async` — the same through `Runtime::invoke` (a blocking-pool hop),
//!   which is what the enclave server pays.
//! * `payout/blocking` — a realistic plugin (JSON parse, split, JSON encode).
//! * `compile/echo` — `load` of the trivial plugin into a fresh runtime.
//! * `background/spin_200M/{alone,after_echo}/yield_every_{0,100us}` — what
//!   the yield timer of a background call costs when nothing else wants the
//!   CPU: a spin of 200 million fuel (some milliseconds; background after
//!   the first) with short calls first, without and with the timer, alone
//!   (the timer stays disarmed) and right after another plugin's call (it
//!   is armed).
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
use enclet_enclave::runtime::{Limits, Runtime, RuntimeConfig, ShortCallsFirst};

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

fn background(c: &mut Criterion) {
    let mut group = c.benchmark_group("background");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(30);
    for (yield_name, yield_every) in [
        ("yield_every_0", Duration::ZERO),
        ("yield_every_100us", Duration::from_micros(100)),
    ] {
        let rt = Runtime::new(RuntimeConfig {
            short_calls_first: Some(ShortCallsFirst {
                yield_every,
                ..ShortCallsFirst::default()
            }),
            ..RuntimeConfig::default()
        })
        .unwrap();
        let limits = Limits {
            fuel: 200_000_000,
            deadline_ms: 10_000,
            ..Limits::default()
        };
        let load = |name: &str, limits| {
            rt.load(name, &plugin_bytes(name), limits)
                .unwrap()
                .info
                .measurement
        };
        let (hostile, echo) = (load("hostile", Some(limits)), load("echo", None));
        group.bench_function(format!("spin_200M/alone/{yield_name}"), |b| {
            b.iter(|| {
                rt.invoke_blocking(&hostile, black_box(b"loop"))
                    .unwrap_err()
            });
        });
        // Another plugin called just before: the timer is armed.
        group.bench_function(format!("spin_200M/after_echo/{yield_name}"), |b| {
            b.iter(|| {
                rt.invoke_blocking(&echo, b"hi").unwrap();
                rt.invoke_blocking(&hostile, black_box(b"loop"))
                    .unwrap_err()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, invocations, compile, background);
criterion_main!(benches);
