//! Invocations cannot see each other's state.
//!
//! The pool keeps the first pages of each memory slot resident and resets
//! them in place between instances (see `engine.rs`); the rest is decommitted.
//! The `hostile` plugin's state probes (`count`, `heap`, `grow`) report any
//! state left by an earlier call. These tests run them many times on a
//! single-slot pool — so every call reuses the same slot — alone, interleaved
//! with other plugins, and after calls that trapped or hit a limit mid-way.
//! A control test calls the probes twice in one instance to show they do
//! report stale state when there is some.

use std::sync::Arc;

use wasmtime::Store;

use super::*;
use crate::runtime::host::HostState;
use crate::runtime::limiter::Limiter;

const CALLS: usize = 50;

/// What a probe answers in a pristine instance.
const PROBES: [(&str, &str); 3] = [("count", "1"), ("heap", "fresh"), ("grow", "fresh")];

/// A runtime whose pool has one slot: each call reuses the previous call's
/// memory slot, the case where leftover state would show.
fn single_slot_runtime() -> Arc<Runtime> {
    Arc::new(
        Runtime::new(RuntimeConfig {
            max_concurrent_invocations: 1,
            ..RuntimeConfig::default()
        })
        .unwrap(),
    )
}

async fn probe(rt: &Arc<Runtime>, hostile: &Measurement, command: &str) -> String {
    let out = rt
        .invoke(hostile, command.as_bytes().to_vec())
        .await
        .unwrap_or_else(|e| panic!("{command}: {e}"));
    String::from_utf8(out).unwrap()
}

async fn assert_all_probes_fresh(rt: &Arc<Runtime>, hostile: &Measurement, when: &str) {
    for (command, fresh) in PROBES {
        assert_eq!(probe(rt, hostile, command).await, fresh, "{command} {when}");
    }
}

#[tokio::test]
async fn each_probe_is_fresh_call_after_call() {
    let rt = single_slot_runtime();
    let hostile = load(&rt, "hostile", None);
    for (command, fresh) in PROBES {
        for i in 0..CALLS {
            assert_eq!(probe(&rt, &hostile, command).await, fresh, "{command} #{i}");
        }
    }
    // Blocking invocations take the same path through the pool.
    for i in 0..CALLS {
        assert_eq!(
            rt.invoke_blocking(&hostile, b"count").unwrap(),
            b"1",
            "#{i}"
        );
    }
}

#[tokio::test]
async fn probes_are_fresh_after_traps_limit_hits_and_other_plugins() {
    let rt = single_slot_runtime();
    // Enough memory to grow 4 MiB, little enough that `memory` is refused fast.
    let hostile = load(
        &rt,
        "hostile",
        Some(Limits {
            max_memory_bytes: 32 * MIB,
            ..Limits::default()
        }),
    );
    let echo = load(&rt, "echo", None);
    for round in 0..CALLS / 5 {
        // A trap after dirtying the counter, the heap and grown pages.
        let err = rt.invoke(&hostile, b"taint".to_vec()).await.unwrap_err();
        assert_eq!(err.code(), "guest_trap", "round {round}: {err}");
        assert_all_probes_fresh(&rt, &hostile, "after a trap").await;
        // A memory limit hit after filling 16 MiB with ones.
        let err = rt.invoke(&hostile, b"memory".to_vec()).await.unwrap_err();
        assert_eq!(err, InvokeError::MemoryLimit, "round {round}");
        assert_all_probes_fresh(&rt, &hostile, "after a memory limit hit").await;
        // An output refused after the guest wrote 2 MiB of `x`.
        let err = rt
            .invoke(&hostile, format!("output:{}", 2 * MIB).into_bytes())
            .await
            .unwrap_err();
        assert_eq!(err.code(), "output_too_large", "round {round}");
        assert_all_probes_fresh(&rt, &hostile, "after an oversized output").await;
        // Another plugin in the same slot, with a large input of its own.
        let input = vec![b'e'; usize::try_from(MIB).unwrap()];
        assert_eq!(rt.invoke(&echo, input.clone()).await.unwrap(), input);
        assert_all_probes_fresh(&rt, &hostile, "after another plugin").await;
    }
}

#[tokio::test]
async fn probes_are_fresh_after_running_out_of_fuel() {
    let rt = single_slot_runtime();
    let hostile = load(
        &rt,
        "hostile",
        Some(Limits {
            // Enough for `grow` to scan 4 MiB, few enough to end `loop` soon.
            fuel: 100_000_000,
            ..Limits::default()
        }),
    );
    for round in 0..CALLS / 10 {
        let err = rt.invoke(&hostile, b"loop".to_vec()).await.unwrap_err();
        assert_eq!(err, InvokeError::OutOfFuel, "round {round}");
        assert_all_probes_fresh(&rt, &hostile, "after running out of fuel").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_probes_are_fresh() {
    let rt = Arc::new(
        Runtime::new(RuntimeConfig {
            max_concurrent_invocations: 2,
            ..RuntimeConfig::default()
        })
        .unwrap(),
    );
    let hostile = load(&rt, "hostile", None);
    let commands = ["count", "heap", "grow", "taint"];
    let mut tasks = Vec::new();
    for i in 0..CALLS {
        let rt = Arc::clone(&rt);
        let command = commands[i % commands.len()];
        tasks.push(tokio::spawn(async move {
            (
                command,
                rt.invoke(&hostile, command.as_bytes().to_vec()).await,
            )
        }));
    }
    for task in tasks {
        match task.await.unwrap() {
            ("taint", result) => assert_eq!(result.unwrap_err().code(), "guest_trap"),
            ("count", result) => assert_eq!(result.unwrap(), b"1"),
            (command, result) => assert_eq!(result.unwrap(), b"fresh", "{command}"),
        }
    }
}

/// The control: the same instance called twice keeps its memory, and every
/// probe says so. Were the pool to hand out a slot without resetting it, the
/// tests above would see these answers.
#[test]
fn probes_report_state_kept_within_one_instance() {
    let rt = single_slot_runtime();
    let measurement = load(&rt, "hostile", None);
    let plugin = rt.registry.get(&measurement).unwrap();
    let limits = plugin.info.limits;
    let limiter = Limiter::new(limits.max_memory_bytes, limits.max_table_elements);
    let mut store = Store::new(
        &rt.engine,
        HostState::new(
            limiter,
            Arc::clone(&plugin.label),
            crate::runtime::secrets::SecretsView::none(),
        ),
    );
    store.limiter(|state| &mut state.limiter);
    store.set_fuel(limits.fuel).unwrap();
    store.set_epoch_deadline(u64::MAX / 2);
    let instance = plugin.pre.instance_pre().instantiate(&mut store).unwrap();
    let handle = instance
        .get_typed_func::<(&[u8],), (Result<Vec<u8>, String>,)>(&mut store, &plugin.handle)
        .unwrap();
    let mut call = |command: &str| {
        let (result,) = handle.call(&mut store, (command.as_bytes(),)).unwrap();
        String::from_utf8(result.unwrap()).unwrap()
    };
    for (command, fresh) in PROBES {
        assert_eq!(call(command), fresh, "first {command}");
    }
    assert_eq!(call("count"), "2");
    assert_eq!(call("count"), "3");
    let heap = call("heap");
    assert!(
        heap.starts_with("stale: heap buffer of 65536 bytes, marker present: true"),
        "{heap}"
    );
    let grow = call("grow");
    assert!(
        grow.starts_with("stale: an earlier call left its marker at 0x"),
        "{grow}"
    );
}
