//! Short calls first, with the real `hostile` plugin: a spinning call gives
//! way while another call is in flight. Outcomes, not timings, are asserted:
//! the spin has fuel for some tens of milliseconds of work and two seconds
//! before its deadline (between pauses of a second it runs about one tick), so it ends `out_of_fuel` when it runs freely and
//! `deadline_exceeded` only if it spent that time waiting.

use super::*;
use crate::runtime::share::History;

/// A runtime whose long calls pause for up to a second at a time. Not in
/// the idle class: other tests of this process run beside these, and an
/// idle-class call would wait for them (what that class is for), which is
/// not what these tests are about (see `idle_class.rs` for its own).
fn patient_runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        max_concurrent_invocations: 4,
        short_calls_first: Some(ShortCallsFirst {
            long_after: Duration::from_millis(1),
            max_pause: Duration::from_secs(1),
            idle_class: false,
            plugin_share_percent: 0,
        }),
        ..RuntimeConfig::default()
    })
    .unwrap()
}

/// As many foreground calls in flight as there are cores.
fn occupy_every_core(rt: &Runtime) -> Vec<crate::runtime::share::CallPace> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    (0..cores)
        .map(|_| rt.share.arrive(&Arc::new(History::default())))
        .collect()
}

#[tokio::test]
async fn a_spinning_call_runs_freely_beside_calls_that_leave_a_core_free() {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if cores < 2 {
        return; // nothing is left free on one core
    }
    let rt = patient_runtime();
    let hostile = load(&rt, "hostile", Some(spin_limits()));
    let mut others = occupy_every_core(&rt);
    others.pop();
    let err = rt.invoke(&hostile, b"loop".to_vec()).await.unwrap_err();
    assert_eq!(err, InvokeError::OutOfFuel);
}

fn spin_limits() -> Limits {
    Limits {
        fuel: 100_000_000,
        deadline_ms: 2_000,
        ..Limits::default()
    }
}

#[tokio::test]
async fn a_spinning_call_runs_freely_when_nothing_else_is_in_flight() {
    let rt = patient_runtime();
    let hostile = load(&rt, "hostile", Some(spin_limits()));
    let err = rt.invoke(&hostile, b"loop".to_vec()).await.unwrap_err();
    assert_eq!(err, InvokeError::OutOfFuel);
}

#[tokio::test]
async fn a_spinning_call_gives_way_while_other_calls_occupy_every_core() {
    let rt = patient_runtime();
    let hostile = load(&rt, "hostile", Some(spin_limits()));
    // Other calls waiting for their turn on every core for the whole test.
    let others = occupy_every_core(&rt);
    let err = rt.invoke(&hostile, b"loop".to_vec()).await.unwrap_err();
    assert_eq!(err, InvokeError::DeadlineExceeded);
    drop(others);
    // And once nothing else is in flight, it runs freely again (starting as
    // a long call: the plugin's last call ran long).
    let err = rt.invoke(&hostile, b"loop".to_vec()).await.unwrap_err();
    assert_eq!(err, InvokeError::OutOfFuel);
}

#[tokio::test]
async fn with_short_calls_first_off_a_spinning_call_never_waits() {
    let rt = Runtime::new(RuntimeConfig {
        max_concurrent_invocations: 4,
        short_calls_first: None,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let hostile = load(&rt, "hostile", Some(spin_limits()));
    let others = occupy_every_core(&rt);
    let err = rt.invoke(&hostile, b"loop".to_vec()).await.unwrap_err();
    assert_eq!(err, InvokeError::OutOfFuel);
    drop(others);
}

#[test]
fn out_of_range_settings_are_refused_naming_them() {
    let ms = Duration::from_millis;
    for (long_after, max_pause, plugin_share_percent, named) in [
        (Duration::ZERO, ms(4), 50, "long_after"),
        (Duration::from_mins(11), ms(4), 50, "long_after"),
        (ms(1), Duration::ZERO, 50, "max_pause"),
        (ms(1), Duration::from_secs(2), 50, "max_pause"),
        (ms(1), ms(4), 10_001, "plugin_share_percent"),
    ] {
        let err = Runtime::new(RuntimeConfig {
            short_calls_first: Some(ShortCallsFirst {
                long_after,
                max_pause,
                idle_class: false,
                plugin_share_percent,
            }),
            ..RuntimeConfig::default()
        })
        .unwrap_err();
        assert!(
            matches!(&err, RuntimeError::InvalidConfig(m) if m.contains(named)),
            "{err}"
        );
    }
}
