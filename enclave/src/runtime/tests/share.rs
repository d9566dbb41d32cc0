//! Short calls first, with the real `hostile` plugin: a spinning call gives
//! way while another call is in flight. Outcomes and observed states, not
//! timings, are asserted: the spin has fuel for some milliseconds of work
//! and seconds before its deadline, so it ends `out_of_fuel` when it runs
//! freely; that it gives way is seen in the share's count of paused calls.

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
            plugin_quota_percent: 0,
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

/// Observed, not timed: the call is seen sleeping in its pause while the
/// other calls hold every core, and once they leave it runs on to its fuel.
/// (Asserting `deadline_exceeded` instead made the outcome depend on how
/// many ticks the machine let pass before the spin used its fuel.)
#[tokio::test]
async fn a_spinning_call_gives_way_while_other_calls_occupy_every_core() {
    let rt = patient_runtime();
    let limits = Limits {
        deadline_ms: 30_000,
        ..spin_limits()
    };
    let hostile = load(&rt, "hostile", Some(limits));
    // Other calls waiting for their turn on every core.
    let others = occupy_every_core(&rt);
    let call = rt.invoke(&hostile, b"loop".to_vec());
    tokio::pin!(call);
    let watched = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            tokio::select! {
                ended = &mut call => panic!("the call ended without pausing: {ended:?}"),
                () = tokio::time::sleep(Duration::from_millis(1)) => {
                    if rt.share.paused() == 1 {
                        return;
                    }
                }
            }
        }
    });
    watched.await.expect("the spinning call never paused");
    drop(others);
    // Nothing else in flight: it resumes at once and runs freely.
    let err = call.await.unwrap_err();
    assert_eq!(err, InvokeError::OutOfFuel);
    assert_eq!(rt.share.paused(), 0);
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
    for (long_after, max_pause, (plugin_share_percent, plugin_quota_percent), named) in [
        (Duration::ZERO, ms(4), (50, 25), "long_after"),
        (Duration::from_mins(11), ms(4), (50, 25), "long_after"),
        (ms(1), Duration::ZERO, (50, 25), "max_pause"),
        (ms(1), Duration::from_secs(2), (50, 25), "max_pause"),
        (ms(1), ms(4), (10_001, 25), "plugin_share_percent"),
        (ms(1), ms(4), (50, 10_001), "plugin_quota_percent"),
        (ms(1), ms(4), (20, 25), "plugin_quota_percent"),
        (ms(1), ms(4), (0, 25), "plugin_quota_percent"),
    ] {
        let err = Runtime::new(RuntimeConfig {
            short_calls_first: Some(ShortCallsFirst {
                long_after,
                max_pause,
                idle_class: false,
                plugin_share_percent,
                plugin_quota_percent,
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
