//! A compilation runs on one thread: wasmtime's parallel compilation is off.
//!
//! With it on, the first compilation starts a thread pool as large as the
//! machine (at least one worker), and every compile may use all of it,
//! whatever `max_concurrent_compiles` says. This test lives in a binary of
//! its own so no other test starts threads while it counts them.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

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

/// Threads of this process right now.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn compiling_leaves_no_thread_pool_behind() {
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let before = threads();
    rt.load("payout", &plugin_bytes("payout"), None).unwrap();
    rt.load("echo", &plugin_bytes("echo"), None).unwrap();
    // The compile threads have been joined; an exiting thread may still be
    // listed for a moment, a thread pool stays for good.
    let give_up = Instant::now() + Duration::from_secs(10);
    let mut now = threads();
    while now != before && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(20));
        now = threads();
    }
    assert_eq!(
        now, before,
        "compiling left {now} threads where there were {before}: a compile thread pool"
    );
}
