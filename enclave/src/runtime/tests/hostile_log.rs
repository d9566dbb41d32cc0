//! The `log` import under attack: amplification and forged lines.
//!
//! `hostile`'s `log-amplify` makes 100 `log` calls, each with 2,000 fields
//! pointing at one 1 MiB string. A host that lifts the fields into its own
//! strings before applying its bounds copies until wasmtime's 128 MiB
//! per-call cap traps the call: ~128 MiB of host memory per call, from 1 MiB
//! of guest memory. The host must instead read through views under its byte
//! budget: the call completes, the excess is dropped and counted, and the
//! host's memory stays small however many such calls run at once.

use std::process::Command;
use std::sync::Arc;

use super::capture::logged;
use super::*;

/// Concurrent `log-amplify` invocations in the memory test.
const PARALLEL: usize = 8;
/// `log-amplify` invocations per thread in the memory test.
const ROUNDS: usize = 3;
/// Peak RSS growth allowed while `PARALLEL` attacks run, in KiB: the guests'
/// own memory (a few MiB each) plus slack, and half of what a single call
/// cost the host when fields were copied before the bounds applied.
const MAX_GROWTH_KIB: u64 = 64 * 1024;
/// Set in the child process that runs the memory measurement.
const CHILD: &str = "ENCLET_TEST_LOG_AMPLIFY_CHILD";

#[test]
fn log_amplification_completes_with_the_excess_dropped_and_counted() {
    let rt = runtime();
    let hostile = load(&rt, "hostile", None);
    let (out, log) = logged(|| rt.invoke_blocking(&hostile, b"log-amplify"));
    assert_eq!(out.unwrap(), b"amplified 100 calls");
    // The first call reads into the budget and overdraws it; every later call
    // is dropped unread. The record that was kept is bounded.
    let records: Vec<&str> = log.lines().filter(|l| l.contains("amplify")).collect();
    assert_eq!(records.len(), 1, "{log}");
    assert!(records[0].len() < 4096, "{}", records[0]);
    assert!(
        records[0].contains("(+2000 fields dropped)"),
        "{}",
        records[0]
    );
    assert!(
        log.contains("dropped_records=99") && log.contains("read_budget_spent=true"),
        "{log}"
    );
}

#[test]
fn an_honest_plugin_logging_too_much_has_the_excess_dropped() {
    let rt = runtime();
    let hostile = load(&rt, "hostile", None);
    let (out, log) = logged(|| rt.invoke_blocking(&hostile, b"log"));
    assert_eq!(out.unwrap(), b"logged");
    let kept = log.lines().filter(|l| l.contains(" noisy ")).count();
    assert_eq!(kept, usize::try_from(MAX_RECORDS_KEPT).unwrap(), "{log}");
    assert!(log.contains("dropped_records=36"), "{log}");
    assert!(log.contains(r#"i="63""#), "{log}");
}

/// What `host::MAX_RECORDS` keeps of `hostile`'s 100 `log` records.
const MAX_RECORDS_KEPT: u32 = crate::runtime::host::MAX_RECORDS;

#[test]
fn plugins_cannot_forge_log_lines() {
    let rt = runtime();
    let hostile = load(&rt, "hostile", None);
    let (out, log) = logged(|| rt.invoke_blocking(&hostile, b"log-forge"));
    assert_eq!(out.unwrap(), b"forged");
    let plugin_lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("enclet::plugin"))
        .collect();
    assert_eq!(plugin_lines.len(), 1, "{log}");
    for line in log.lines() {
        assert!(!line.starts_with("2000-01-01"), "forged line: {line:?}");
        assert!(
            !line.contains(['\r', '\u{1b}', '\u{9b}', '\u{85}']),
            "{line:?}"
        );
    }
    let line = plugin_lines[0];
    assert!(
        line.contains(r"honest\n2000-01-01T00:00:00Z  INFO enclet: forged line\r\u{1b}[2K"),
        "{line}"
    );
    assert!(
        line.contains(r#""key\nforged"="value\n\u{1b}[0m\u{9b}31m\u{85}""#),
        "{line}"
    );
}

#[test]
fn log_amplification_keeps_host_memory_bounded() {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "runtime::tests::hostile_log::amplification_in_this_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let growth: u64 = stdout
        .split_once("peak-growth-kib=")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("child did not measure (filter matched nothing?):\n{stdout}"))
        .parse()
        .unwrap();
    assert!(
        growth < MAX_GROWTH_KIB,
        "peak RSS grew by {} MiB running {PARALLEL} log-amplify invocations at once \
         (bound {} MiB)",
        growth / 1024,
        MAX_GROWTH_KIB / 1024
    );
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
}

/// The measurement behind [`log_amplification_keeps_host_memory_bounded`]:
/// alone in its process, so other tests' allocations do not count.
#[test]
#[ignore = "run in its own process by log_amplification_keeps_host_memory_bounded"]
fn amplification_in_this_process() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let rt = Arc::new(
        Runtime::new(RuntimeConfig {
            max_concurrent_invocations: u32::try_from(PARALLEL + 1).unwrap(),
            ..RuntimeConfig::default()
        })
        .unwrap(),
    );
    let hostile = load(&rt, "hostile", None);
    let echo = load(&rt, "echo", None);
    assert_eq!(rt.invoke_blocking(&echo, b"warm").unwrap(), b"warm");
    let peak_was_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let (rss_before, peak_before) = (status_kib("VmRSS"), status_kib("VmHWM"));
    let attackers: Vec<_> = (0..PARALLEL)
        .map(|_| {
            let rt = Arc::clone(&rt);
            std::thread::spawn(move || {
                (0..ROUNDS)
                    .map(|_| rt.invoke_blocking(&hostile, b"log-amplify"))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    // A well-behaved plugin keeps answering meanwhile.
    while !attackers.iter().all(std::thread::JoinHandle::is_finished) {
        assert_eq!(rt.invoke_blocking(&echo, b"alive").unwrap(), b"alive");
    }
    let outcomes: Vec<_> = attackers
        .into_iter()
        .flat_map(|attacker| attacker.join().unwrap())
        .collect();
    let peak = status_kib("VmHWM");
    let base = if peak_was_reset {
        rss_before
    } else {
        peak_before
    };
    println!("peak-growth-kib={}", peak.saturating_sub(base));
    for outcome in outcomes {
        assert_eq!(outcome.unwrap(), b"amplified 100 calls");
    }
}

/// A `/proc/self/status` field in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}
