//! Tests of the runtime against the real plugins built from `sdk/` by
//! `scripts/build-plugins`. A missing plugin fails the test with that hint.

use std::path::PathBuf;
use std::time::Duration;

use super::*;

const MIB: u64 = 1024 * 1024;

fn plugin_dir() -> PathBuf {
    std::env::var_os("ENCLET_PLUGIN_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasm32-wasip2/release"),
        PathBuf::from,
    )
}

pub(crate) fn plugin_bytes(name: &str) -> Vec<u8> {
    let path = plugin_dir().join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read plugin {}: {e}; run scripts/build-plugins first",
            path.display()
        )
    })
}

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        max_concurrent_invocations: 4,
        ..RuntimeConfig::default()
    })
    .unwrap()
}

fn load(rt: &Runtime, name: &str, limits: Option<Limits>) -> Measurement {
    rt.load(name, &plugin_bytes(name), limits)
        .unwrap()
        .info
        .measurement
}

/// Asserts that echo still works on `rt`: failures stay in their invocation.
async fn assert_echo_works(rt: &Runtime) {
    let echo = load(rt, "echo", None);
    assert_eq!(
        rt.invoke(&echo, b"still alive".to_vec()).await.unwrap(),
        b"still alive"
    );
}

#[tokio::test]
async fn echo_round_trip() {
    let rt = runtime();
    let echo = load(&rt, "echo", None);
    assert_eq!(rt.invoke(&echo, b"hello".to_vec()).await.unwrap(), b"hello");
    assert_eq!(rt.invoke(&echo, Vec::new()).await.unwrap(), b"");
    let big = vec![7u8; usize::try_from(MIB).unwrap()];
    assert_eq!(rt.invoke(&echo, big.clone()).await.unwrap(), big);
    assert_eq!(rt.invoke_blocking(&echo, b"sync").unwrap(), b"sync");
}

#[tokio::test]
async fn unknown_plugin_is_rejected() {
    let rt = runtime();
    let echo_bytes = plugin_bytes("echo");
    let err = rt
        .invoke(&Measurement::of_plugin(&echo_bytes), b"x".to_vec())
        .await
        .unwrap_err();
    assert_eq!(err, InvokeError::UnknownPlugin);
    assert_eq!(err.code(), "unknown_plugin");
}

#[tokio::test]
async fn payout_splits_a_realistic_basket() {
    let rt = runtime();
    let payout = load(&rt, "payout", None);
    let basket = serde_json::json!({
        "currency": "EUR", "platform": "market", "fee_bps": 1000,
        "items": [
            { "sku": "book-1", "seller": "alice", "unit_cents": 2000, "quantity": 2 },
            { "sku": "mug", "seller": "bob", "unit_cents": 1299, "quantity": 1 }
        ],
        "royalties": [ { "sku": "book-1", "party": "author", "bps": 1500 } ]
    });
    let out = rt
        .invoke(&payout, serde_json::to_vec(&basket).unwrap())
        .await
        .unwrap();
    let split: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(split["currency"], "EUR");
    assert_eq!(split["total_cents"], 5299);
    let payouts: Vec<(String, u64)> = split["payouts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["party"].as_str().unwrap().to_owned(),
                p["cents"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("alice", 3000),
        ("author", 600),
        ("bob", 1170),
        ("market", 529),
    ];
    assert_eq!(payouts, expected.map(|(p, c)| (p.to_owned(), c)));
}

#[tokio::test]
async fn payout_bad_input_is_a_plugin_error() {
    let rt = runtime();
    let payout = load(&rt, "payout", None);
    let err = rt.invoke(&payout, b"{not json".to_vec()).await.unwrap_err();
    assert_eq!(err.code(), "plugin_error");
    assert!(err.to_string().contains("invalid basket"), "{err}");
    let zero_quantity = br#"{"currency":"EUR","platform":"m","fee_bps":0,
        "items":[{"sku":"a","seller":"s","unit_cents":1,"quantity":0}]}"#;
    let err = rt
        .invoke(&payout, zero_quantity.to_vec())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, InvokeError::PluginError(m) if m.contains("quantity is 0")),
        "{err}"
    );
}

#[test]
fn loading_the_same_bytes_twice_is_idempotent() {
    let rt = runtime();
    let bytes = plugin_bytes("echo");
    let first = rt.load("echo", &bytes, None).unwrap();
    assert!(first.newly_loaded);
    assert_eq!(first.info.measurement, Measurement::of_plugin(&bytes));
    assert_eq!(first.info.size_bytes, u64::try_from(bytes.len()).unwrap());
    // Same bytes under another name and limits: the first load wins.
    let other_limits = Limits {
        fuel: 1_000,
        ..Limits::default()
    };
    let second = rt.load("renamed", &bytes, Some(other_limits)).unwrap();
    assert!(!second.newly_loaded);
    assert_eq!(second.info, first.info);
    // Different bytes are a different plugin, listed in load order.
    let payout = rt.load("payout", &plugin_bytes("payout"), None).unwrap();
    assert!(payout.newly_loaded);
    let names: Vec<String> = rt.plugins().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["echo", "payout"]);
}

#[test]
fn invalid_components_are_rejected_at_load() {
    let rt = runtime();
    let echo = plugin_bytes("echo");
    let mut truncated = echo.clone();
    truncated.truncate(echo.len() / 2);
    let mut flipped = echo.clone();
    // Corrupt the component layer's version field: same length, one bit off.
    flipped[4] ^= 0x01;
    let cases: [(&str, Vec<u8>, &str); 6] = [
        (
            "random bytes",
            b"definitely not wasm".to_vec(),
            "not a valid component",
        ),
        ("empty", Vec::new(), "not a valid component"),
        (
            "core module",
            b"\0asm\x01\0\0\0".to_vec(),
            "not a valid component",
        ),
        ("empty component", b"\0asm\x0d\0\x01\0".to_vec(), "handle"),
        ("truncated echo", truncated, "not a valid component"),
        ("echo with a flipped bit", flipped, "not a valid component"),
    ];
    for (what, bytes, needle) in cases {
        let err = rt.load("component", &bytes, None).unwrap_err();
        assert_eq!(err.code(), "invalid_component", "{what}: {err}");
        assert!(err.to_string().contains(needle), "{what}: {err}");
    }
    assert!(rt.plugins().is_empty());
    // The untouched original still loads.
    assert!(rt.load("echo", &echo, None).unwrap().newly_loaded);
}

#[test]
fn oversized_component_is_rejected_before_compiling() {
    let rt = Runtime::new(RuntimeConfig {
        max_component_bytes: 1024,
        max_concurrent_invocations: 1,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let echo = plugin_bytes("echo");
    let err = rt.load("echo", &echo, None).unwrap_err();
    let size = u64::try_from(echo.len()).unwrap();
    assert_eq!(err, LoadError::TooLarge { size, limit: 1024 });
    assert_eq!(err.code(), "component_too_large");
}

#[test]
fn a_plugin_whose_initial_memory_exceeds_its_limit_is_rejected() {
    let rt = runtime();
    let tiny = Limits {
        max_memory_bytes: 64 * 1024,
        ..Limits::default()
    };
    let err = rt
        .load("echo", &plugin_bytes("echo"), Some(tiny))
        .unwrap_err();
    assert_eq!(err.code(), "invalid_component");
    assert!(err.to_string().contains("memory limit"), "{err}");
    assert!(rt.plugins().is_empty());
}

#[test]
fn limits_above_hard_maxima_are_rejected_at_load() {
    let rt = runtime();
    let echo = plugin_bytes("echo");
    let too_much_memory = Limits {
        max_memory_bytes: HardMaxima::DEFAULT.max_memory_bytes + 1,
        ..Limits::default()
    };
    let no_fuel = Limits {
        fuel: 0,
        ..Limits::default()
    };
    for limits in [too_much_memory, no_fuel] {
        let err = rt.load("echo", &echo, Some(limits)).unwrap_err();
        assert_eq!(err.code(), "invalid_limits", "{err}");
    }
    assert!(rt.plugins().is_empty());
}

#[test]
fn plugin_names_are_validated() {
    let rt = runtime();
    let echo = plugin_bytes("echo");
    let longest = "a".repeat(64);
    for good in ["e", "echo-1.2_beta", "A.Z", longest.as_str()] {
        let loaded = rt.load(good, &echo, None).unwrap();
        assert_eq!(loaded.info.measurement, Measurement::of_plugin(&echo));
    }
    let too_long = "a".repeat(65);
    for bad in [
        "",
        too_long.as_str(),
        "echo plugin",
        "echo/..",
        "écho",
        "echo\n",
        "ech\0o",
        "echo:1",
    ] {
        let err = rt.load(bad, &echo, None).unwrap_err();
        assert_eq!(err.code(), "invalid_name", "{bad:?}: {err}");
        assert!(err.to_string().contains("[A-Za-z0-9._-]"), "{err}");
    }
    // A bad name is refused before anything is compiled or registered.
    let payout = plugin_bytes("payout");
    assert_eq!(
        rt.load("pay out", &payout, None).unwrap_err(),
        LoadError::InvalidName("contains ' '; must be 1..=64 characters of [A-Za-z0-9._-]".into())
    );
    assert_eq!(rt.plugins().len(), 1);
}

#[test]
fn runtime_config_is_validated() {
    let bad = [
        RuntimeConfig {
            epoch_tick: Duration::ZERO,
            ..RuntimeConfig::default()
        },
        RuntimeConfig {
            max_concurrent_invocations: 0,
            ..RuntimeConfig::default()
        },
        RuntimeConfig {
            max_plugins: 0,
            ..RuntimeConfig::default()
        },
        RuntimeConfig {
            max_plugins: enclet_attestation::event_log::MAX_EVENTS + 1,
            ..RuntimeConfig::default()
        },
        RuntimeConfig {
            max_wasm_stack_bytes: 1024,
            ..RuntimeConfig::default()
        },
        RuntimeConfig {
            default_limits: Limits {
                deadline_ms: 0,
                ..Limits::default()
            },
            ..RuntimeConfig::default()
        },
    ];
    for config in bad {
        let err = Runtime::new(config.clone()).unwrap_err();
        assert_eq!(err.code(), "invalid_config", "{config:?}: {err}");
    }
    // Every plugin fits in the event log: its capacity is the largest bound.
    Runtime::new(RuntimeConfig {
        max_plugins: enclet_attestation::event_log::MAX_EVENTS,
        max_concurrent_invocations: 1,
        ..RuntimeConfig::default()
    })
    .unwrap();
}

#[test]
fn too_many_plugins_is_rejected() {
    let rt = Runtime::new(RuntimeConfig {
        max_plugins: 1,
        max_concurrent_invocations: 1,
        ..RuntimeConfig::default()
    })
    .unwrap();
    load(&rt, "echo", None);
    let err = rt
        .load("payout", &plugin_bytes("payout"), None)
        .unwrap_err();
    assert_eq!(err.code(), "too_many_plugins");
    // Reloading what is already there is still fine.
    assert!(
        !rt.load("echo", &plugin_bytes("echo"), None)
            .unwrap()
            .newly_loaded
    );
}

pub(crate) mod capture;
mod compile;
mod freed_result;
mod hostile_log;
mod imports;
mod isolation;
mod limits;
mod share;
