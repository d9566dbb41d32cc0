//! Each limit, hit by the `hostile` plugin, fails only that invocation.

use super::*;

async fn hostile_err(rt: &Runtime, limits: Limits, command: &str) -> InvokeError {
    let hostile = rt
        .load("hostile", &plugin_bytes("hostile"), Some(limits))
        .unwrap();
    let err = rt
        .invoke(&hostile.info.measurement, command.as_bytes().to_vec())
        .await
        .unwrap_err();
    assert_echo_works(rt).await;
    // The plugin that failed is itself still usable.
    let again = rt
        .invoke(&hostile.info.measurement, b"fine".to_vec())
        .await
        .unwrap();
    assert_eq!(again, b"fine");
    err
}

#[tokio::test]
async fn infinite_loop_runs_out_of_fuel() {
    let limits = Limits {
        fuel: 10_000_000,
        deadline_ms: 60_000,
        ..Limits::default()
    };
    let err = hostile_err(&runtime(), limits, "loop").await;
    assert_eq!(err, InvokeError::OutOfFuel);
    assert_eq!(
        (err.code(), err.to_string().as_str()),
        ("out_of_fuel", "out of fuel")
    );
}

#[tokio::test]
async fn infinite_loop_hits_the_deadline() {
    let limits = Limits {
        fuel: HardMaxima::DEFAULT.fuel,
        deadline_ms: 50,
        ..Limits::default()
    };
    let err = hostile_err(&runtime(), limits, "loop").await;
    assert_eq!(err, InvokeError::DeadlineExceeded);
    assert_eq!(err.to_string(), "deadline exceeded");
}

#[tokio::test]
async fn memory_bomb_hits_the_memory_limit() {
    let limits = Limits {
        max_memory_bytes: 32 * MIB,
        ..Limits::default()
    };
    let err = hostile_err(&runtime(), limits, "memory").await;
    assert_eq!(err, InvokeError::MemoryLimit);
    assert_eq!(
        (err.code(), err.to_string().as_str()),
        ("memory_limit", "memory limit")
    );
}

#[tokio::test]
async fn deep_recursion_is_a_stack_overflow_trap() {
    let err = hostile_err(&runtime(), Limits::default(), "recurse").await;
    assert_eq!(err.code(), "guest_trap");
    assert!(err.to_string().starts_with("guest trap: "), "{err}");
    assert_eq!(err.to_string(), "guest trap: call stack exhausted");
}

#[tokio::test]
async fn oversized_output_is_refused() {
    // Enough memory for the 64 MiB output to exist in the guest, and time for
    // the guest to fill it and the host to copy it out before the size check
    // (see `invoke.rs`) even on a loaded machine.
    let limits = Limits {
        max_memory_bytes: 256 * MIB,
        deadline_ms: 30_000,
        ..Limits::default()
    };
    let err = hostile_err(&runtime(), limits, "output").await;
    assert_eq!(
        err,
        InvokeError::OutputTooLarge {
            size: 64 * MIB,
            limit: MIB
        }
    );
    assert!(err.to_string().starts_with("output too large"), "{err}");
}

#[tokio::test]
async fn output_limit_boundary() {
    let rt = runtime();
    let hostile = load(&rt, "hostile", None);
    let at_limit = rt
        .invoke(&hostile, format!("output:{MIB}").into_bytes())
        .await
        .unwrap();
    assert_eq!(u64::try_from(at_limit.len()).unwrap(), MIB);
    let over = rt
        .invoke(&hostile, format!("output:{}", MIB + 1).into_bytes())
        .await
        .unwrap_err();
    assert_eq!(
        over,
        InvokeError::OutputTooLarge {
            size: MIB + 1,
            limit: MIB
        }
    );
}

#[tokio::test]
async fn guest_panic_is_a_trap() {
    let err = hostile_err(&runtime(), Limits::default(), "panic").await;
    assert_eq!(err.code(), "guest_trap");
    assert_eq!(
        err.to_string(),
        "guest trap: wasm `unreachable` instruction executed"
    );
}

#[tokio::test]
async fn plugin_error_is_reported_as_such() {
    let err = hostile_err(&runtime(), Limits::default(), "err").await;
    assert_eq!(err, InvokeError::PluginError("asked to fail".to_owned()));
}

#[tokio::test]
async fn wasi_is_not_linked() {
    let err = hostile_err(&runtime(), Limits::default(), "wasi").await;
    assert_eq!(err.code(), "guest_trap");
    assert!(err.to_string().contains("unknown import"), "{err}");
}

#[tokio::test]
async fn log_flood_is_bounded_and_harmless() {
    let rt = runtime();
    let hostile = load(&rt, "hostile", None);
    assert_eq!(
        rt.invoke(&hostile, b"log".to_vec()).await.unwrap(),
        b"logged"
    );
}

#[tokio::test]
async fn input_size_is_checked_before_the_guest_runs() {
    let rt = runtime();
    let limits = Limits {
        max_input_bytes: 16,
        ..Limits::default()
    };
    let hostile = rt
        .load("hostile", &plugin_bytes("hostile"), Some(limits))
        .unwrap();
    let m = hostile.info.measurement;
    assert_eq!(rt.invoke(&m, vec![b'a'; 16]).await.unwrap(), vec![b'a'; 16]);
    let err = rt.invoke(&m, vec![b'a'; 17]).await.unwrap_err();
    assert_eq!(
        err,
        InvokeError::InputTooLarge {
            size: 17,
            limit: 16
        }
    );
    assert_eq!(err.code(), "input_too_large");
    assert_echo_works(&rt).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_concurrent_calls_than_slots_all_complete() {
    let rt = std::sync::Arc::new(
        Runtime::new(RuntimeConfig {
            max_concurrent_invocations: 2,
            ..RuntimeConfig::default()
        })
        .unwrap(),
    );
    let echo = load(&rt, "echo", None);
    let hostile = load(
        &rt,
        "hostile",
        Some(Limits {
            fuel: 1_000_000,
            ..Limits::default()
        }),
    );
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let rt = std::sync::Arc::clone(&rt);
        tasks.push(tokio::spawn(async move {
            if i % 4 == 0 {
                rt.invoke(&hostile, b"loop".to_vec()).await
            } else {
                rt.invoke(&echo, vec![i]).await
            }
        }));
    }
    for (i, task) in (0..16u8).zip(tasks) {
        let result = task.await.unwrap();
        if i % 4 == 0 {
            assert_eq!(result, Err(InvokeError::OutOfFuel));
        } else {
            assert_eq!(result, Ok(vec![i]));
        }
    }
}
