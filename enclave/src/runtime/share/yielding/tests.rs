//! When the yield timer is armed, counted in the calls that arm or disarm
//! it on this thread (not in signals, which depend on time): the epoch is
//! advanced by hand.

use std::sync::Arc;
use std::time::Duration;

use crate::runtime::share::{CpuShare, Epoch, History, ShortCallsFirst};
use crate::runtime::yield_timer::settimes_here;

/// One core; calls long after one tick; pauses of at most 1 ms; a timer
/// every millisecond.
fn share() -> (Arc<Epoch>, Arc<CpuShare>) {
    let policy = ShortCallsFirst {
        long_after: Duration::from_millis(1),
        max_pause: Duration::from_millis(1),
        idle_class: false,
        plugin_share_percent: 0,
        plugin_quota_percent: 0,
        yield_every: Duration::from_millis(1),
    };
    let epoch = Arc::new(Epoch::default());
    let share = CpuShare::new(
        Arc::clone(&epoch),
        Duration::from_millis(1),
        Some(policy),
        false,
        1,
    );
    (epoch, Arc::new(share))
}

/// A call of `plugin` run until it is in the background, its timer armed
/// if another plugin was called before.
fn background_call(
    epoch: &Epoch,
    share: &Arc<CpuShare>,
    plugin: &Arc<History>,
) -> crate::runtime::share::CallPace {
    let mut pace = share.arrive(plugin).starting(1000);
    for _ in 0..2 {
        epoch.advance(1);
        pace.on_tick();
    }
    assert!(pace.is_background());
    pace
}

/// Regression test: the timer used to be disarmed and armed again around
/// every tick's pause check, sleep or not, restarting its countdown.
#[test]
fn a_background_call_that_does_not_sleep_leaves_its_timer_alone_at_ticks() {
    let (epoch, share) = share();
    drop(share.arrive(&Arc::new(History::default())));
    let before = settimes_here();
    let mut pace = background_call(&epoch, &share, &Arc::new(History::default()));
    assert_eq!(settimes_here(), before + 1, "armed once");
    for _ in 0..20 {
        epoch.advance(1);
        pace.on_tick();
    }
    assert_eq!(
        settimes_here(),
        before + 1,
        "touched at ticks without a sleep"
    );
}

#[test]
fn a_background_call_keeps_its_timer_quiet_while_it_gives_way_and_arms_it_after() {
    let (epoch, share) = share();
    let plugin = Arc::new(History::default());
    let mut pace = background_call(&epoch, &share, &plugin);
    // A short call of another plugin in flight holds the one core.
    let other = share.arrive(&Arc::new(History::default()));
    epoch.advance(1);
    pace.on_tick();
    let armed = settimes_here();
    for _ in 0..5 {
        epoch.advance(1);
        pace.on_tick(); // gives way for up to 1 ms
    }
    assert_eq!(
        settimes_here(),
        armed + 10,
        "one disarm and one re-arm per pause"
    );
    drop(other);
}

#[test]
fn a_background_call_with_no_other_plugin_called_never_creates_its_timer() {
    let (epoch, share) = share();
    let before = settimes_here();
    let mut pace = background_call(&epoch, &share, &Arc::new(History::default()));
    for _ in 0..5 {
        epoch.advance(1);
        pace.on_tick();
    }
    assert_eq!(settimes_here(), before);
}
