//! A plugin abusing the `log` import cannot blow the enclave's memory, and a
//! well-behaved plugin keeps answering while it tries.
//!
//! `hostile`'s `log-amplify` calls `log` 100 times with 2,000 fields that all
//! point at one 1 MiB string. When the host copied fields before applying its
//! bounds, each call grew the enclave by ~128 MiB (until wasmtime's per-call
//! copy cap trapped it) and a handful at once took it past a GiB.

use std::path::Path;
use std::time::Duration;

use hyper::Method;

use crate::harness::Appliance;

/// `log-amplify` invocations running at once.
const PARALLEL: usize = 8;
/// `log-amplify` invocations per attacker.
const ROUNDS: usize = 3;
/// Allowed growth of the enclave's peak RSS during the attack, in KiB: the
/// guests' own memory (a few MiB each) plus slack, far below the ~128 MiB
/// that each single call cost before.
const MAX_GROWTH_KIB: u64 = 96 * 1024;
/// Generous liveness bound for one echo call; never a performance assertion.
const ECHO_ANSWERS_WITHIN: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread")]
async fn log_amplification_keeps_the_enclave_small_and_others_serving() {
    let app = Appliance::start().await;
    let hostile = app.load("hostile").await;
    let echo = app.load("echo").await;
    assert_eq!(app.invoke(&echo, b"warm").await.unwrap(), b"warm");
    let pid = enclave_pid(app.dir.path());
    let peak_was_reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
    let base = status_kib(pid, if peak_was_reset { "VmRSS" } else { "VmHWM" });

    let attackers: Vec<_> = (0..PARALLEL)
        .map(|_| {
            let (api, path) = (app.api(), format!("/v1/plugins/{hostile}/invoke"));
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                for _ in 0..ROUNDS {
                    let out = api.call(Method::POST, &path, b"log-amplify".to_vec()).await;
                    outcomes.push(out.map(|b| b.to_vec()));
                }
                outcomes
            })
        })
        .collect();
    let mut echoes = 0u32;
    while !attackers.iter().all(tokio::task::JoinHandle::is_finished) {
        let input = format!("echo {echoes}").into_bytes();
        let out = tokio::time::timeout(ECHO_ANSWERS_WITHIN, app.invoke(&echo, &input))
            .await
            .expect("echo did not answer during the attack");
        assert_eq!(out.unwrap(), input);
        echoes += 1;
    }
    let mut outcomes = Vec::new();
    for attacker in attackers {
        outcomes.extend(attacker.await.unwrap());
    }
    let growth = status_kib(pid, "VmHWM").saturating_sub(base);
    println!("enclave peak RSS growth: {growth} KiB (peak reset: {peak_was_reset})");
    assert!(
        growth < MAX_GROWTH_KIB,
        "enclave peak RSS grew by {} MiB during {PARALLEL} log-amplify invocations at once \
         (bound {} MiB)",
        growth / 1024,
        MAX_GROWTH_KIB / 1024
    );
    for outcome in outcomes {
        assert_eq!(outcome.unwrap(), b"amplified 100 calls", "{}", app.logs());
    }
    let log = app.enclave_log();
    assert!(log.contains("plugin log output dropped"), "{log}");
    assert!(log.contains("dropped_records=99"), "{log}");
    assert_eq!(app.invoke(&echo, b"after").await.unwrap(), b"after");
}

/// The enclave process of the appliance in `dir`, found by its listen socket.
fn enclave_pid(dir: &Path) -> u32 {
    let needle = format!("unix:{}", dir.join("enclave.sock").display());
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            args.first()
                .is_some_and(|exe| exe.ends_with(b"enclet-enclave"))
                && args.contains(&needle.as_bytes())
        })
        .unwrap_or_else(|| panic!("no enclet-enclave process listening on {needle}"))
}

/// A `/proc/<pid>/status` field in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}
