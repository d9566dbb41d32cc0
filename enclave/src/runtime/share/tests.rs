//! The pace as a state machine: the epoch is advanced by hand, so nothing
//! here depends on the machine's speed.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::{CpuShare, Epoch, History, Next, REMEMBERED_CALLS, ShortCallsFirst};

const TICK: Duration = Duration::from_millis(1);

fn share(policy: Option<ShortCallsFirst>) -> (Arc<Epoch>, Arc<CpuShare>) {
    let epoch = Arc::new(Epoch::default());
    let share = Arc::new(CpuShare::new(Arc::clone(&epoch), TICK, policy, false, 1));
    (epoch, share)
}

/// Long after one tick; pauses of up to an hour (a test that relied on a
/// pause ending by itself would hang, not pass).
fn patient() -> ShortCallsFirst {
    ShortCallsFirst {
        long_after: TICK,
        max_pause: Duration::from_hours(1),
        ..ShortCallsFirst::default()
    }
}

fn policy(long_after_ms: u64, max_pause_ms: u64) -> ShortCallsFirst {
    ShortCallsFirst {
        long_after: Duration::from_millis(long_after_ms),
        max_pause: Duration::from_millis(max_pause_ms),
        ..ShortCallsFirst::default()
    }
}

#[test]
fn a_call_stops_once_its_deadline_in_ticks_has_passed_and_not_before() {
    let (epoch, share) = share(None);
    let mut pace = share.begin(&history(), 3);
    for _ in 0..2 {
        epoch.advance(1);
        assert_eq!(pace.on_tick(), Next::Run);
    }
    epoch.advance(1);
    assert_eq!(pace.on_tick(), Next::Stop);
}

#[test]
fn the_deadline_counts_ticks_that_passed_not_ticks_the_call_saw() {
    // A call that saw one tick while five passed (it was paused, or its
    // thread did not run) is past a deadline of five.
    let (epoch, share) = share(None);
    let mut pace = share.begin(&history(), 5);
    epoch.advance(5);
    assert_eq!(pace.on_tick(), Next::Stop);
}

#[test]
fn a_call_becomes_background_only_after_running_long_after() {
    let (epoch, share) = share(Some(policy(2, 1)));
    let mut pace = share.begin(&history(), 1000);
    assert_eq!(share.foreground(), 1);
    // The first tick may come at any moment of the call's first tick
    // period: two ticks seen do not prove two ticks of running.
    for _ in 0..2 {
        epoch.advance(1);
        pace.on_tick();
        assert!(!pace.is_background());
    }
    epoch.advance(1);
    pace.on_tick();
    assert!(pace.is_background());
    assert_eq!(share.foreground(), 0, "a background call is not counted");
    drop(pace);
    assert_eq!(share.foreground(), 0, "and is not uncounted twice");
}

#[test]
fn without_the_policy_no_call_becomes_background() {
    let (epoch, share) = share(None);
    let mut pace = share.begin(&history(), 1000);
    for _ in 0..100 {
        epoch.advance(1);
        assert_eq!(pace.on_tick(), Next::Run);
    }
    assert!(!pace.is_background());
    drop(pace);
    assert_eq!(share.foreground(), 0);
}

#[test]
fn a_background_call_waits_while_a_foreground_call_runs_and_resumes_when_it_ends() {
    // max_pause far longer than the test: the background call can only
    // resume because the foreground call ended.
    let (epoch, share) = share(Some(policy(1, 1000)));
    let mut long = share.begin(&history(), 1_000_000);
    let short = share.begin(&history(), 1_000_000);
    epoch.advance(1);
    long.on_tick();
    epoch.advance(1);
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = thread::spawn(move || {
        let next = long.on_tick();
        tx.send(()).unwrap();
        (next, long)
    });
    // Still paused while the short call runs.
    assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
    drop(short);
    rx.recv_timeout(Duration::from_secs(30))
        .expect("resumed once no foreground call was left");
    let (next, long) = waiter.join().unwrap();
    assert_eq!(next, Next::Run);
    assert!(long.is_background());
}

#[test]
fn a_background_call_pauses_at_most_max_pause_so_it_is_never_starved() {
    let (epoch, share) = share(Some(policy(1, 20)));
    let mut long = share.begin(&history(), 1_000_000);
    let _short = share.begin(&history(), 1_000_000);
    epoch.advance(2);
    long.on_tick();
    epoch.advance(1);
    // The foreground call never ends, yet the background one runs on.
    let start = Instant::now();
    assert_eq!(long.on_tick(), Next::Run);
    assert!(start.elapsed() >= Duration::from_millis(20));
}

#[test]
fn a_background_call_alone_does_not_pause() {
    // Nothing else is in flight: the pause ends before it starts, so this
    // cannot block (max_pause an hour would hang the test otherwise).
    let (epoch, share) = share(Some(patient()));
    let mut long = share.begin(&history(), 1_000_000);
    for _ in 0..10 {
        epoch.advance(1);
        assert_eq!(long.on_tick(), Next::Run);
    }
    assert!(long.is_background());
}

#[test]
fn a_pause_never_outlasts_the_deadline() {
    // A foreground call runs for ever and max_pause is an hour: the pause is
    // cut to the ticks left, and the call stops at its deadline.
    let (epoch, share) = share(Some(patient()));
    let mut long = share.begin(&history(), 4);
    let _short = share.begin(&history(), 1_000_000);
    epoch.advance(2);
    long.on_tick();
    let ticker = {
        let epoch = Arc::clone(&epoch);
        thread::spawn(move || {
            for _ in 0..50 {
                thread::sleep(TICK);
                epoch.advance(1);
            }
        })
    };
    epoch.advance(1);
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let mut next = long.on_tick();
        while next == Next::Run {
            next = long.on_tick();
        }
        let _ = tx.send(next);
    });
    // Generous: the ticker is done after 50 ms; an hour-long pause would
    // miss this by far.
    let next = rx.recv_timeout(Duration::from_mins(1));
    assert_eq!(next, Ok(Next::Stop));
    ticker.join().unwrap();
}

fn history() -> Arc<History> {
    Arc::default()
}

#[test]
fn a_call_waiting_for_its_turn_counts_as_foreground_and_leaves_no_history() {
    let (_, share) = share(Some(policy(1, 1)));
    let plugin = history();
    let waiting = share.arrive(&plugin);
    assert_eq!(share.foreground(), 1);
    drop(waiting);
    assert_eq!(share.foreground(), 0);
    // It never ran: the plugin's next call still starts in the foreground.
    let next = share.begin(&plugin, 1000);
    assert!(!next.is_background());
}

#[test]
fn after_a_long_call_the_plugins_next_calls_start_in_the_background_until_enough_end_short() {
    let (epoch, share) = share(Some(policy(1, 1)));
    let (plugin, other) = (history(), history());
    let mut long = share.begin(&plugin, 1000);
    for _ in 0..2 {
        epoch.advance(1);
        long.on_tick();
    }
    assert!(long.is_background());
    drop(long);
    for _ in 0..REMEMBERED_CALLS {
        let short = share.begin(&plugin, 1000);
        assert!(short.is_background(), "starts in the background");
        assert_eq!(share.foreground(), 0, "and is not counted as foreground");
        // Another plugin is not affected.
        assert!(!share.begin(&other, 1000).is_background());
        drop(short);
    }
    let short = share.begin(&plugin, 1000);
    assert!(
        !short.is_background(),
        "forgiven after {REMEMBERED_CALLS} short calls"
    );
    assert_eq!(share.foreground(), 1);
}

#[test]
fn without_the_policy_history_changes_nothing() {
    let (epoch, share) = share(None);
    let plugin = history();
    let mut long = share.begin(&plugin, 1000);
    epoch.advance(5);
    long.on_tick();
    drop(long);
    assert!(!share.begin(&plugin, 1000).is_background());
}

#[test]
fn a_trial_instantiation_never_goes_to_the_background_and_leaves_no_history() {
    let (epoch, share) = share(Some(policy(1, 1)));
    let mut trial = share.begin_exempt(1000);
    for _ in 0..5 {
        epoch.advance(1);
        assert_eq!(trial.on_tick(), Next::Run);
    }
    assert!(!trial.is_background());
    assert_eq!(share.foreground(), 1);
    drop(trial);
    assert_eq!(share.foreground(), 0);
}

/// A call of `plugin` that has run long (three ticks with `long_after` one),
/// so it is in the background and holds a lane.
fn long_call(epoch: &Epoch, share: &Arc<CpuShare>, plugin: &Arc<History>) -> super::CallPace {
    let mut pace = share.begin(plugin, 1_000_000);
    for _ in 0..3 {
        epoch.advance(1);
        assert_eq!(pace.on_tick(), Next::Run);
    }
    assert!(pace.is_background());
    pace
}

/// Waits until `n` calls wait for a lane (the test then knows the thread it
/// started is blocked there, whatever the machine's speed).
fn until_lane_waiters(share: &CpuShare, n: usize) {
    let start = Instant::now();
    while share.lane_waiters() != n {
        assert!(start.elapsed() < Duration::from_mins(1), "no lane waiter");
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn one_background_call_runs_at_a_time_on_two_cores_and_the_next_takes_the_lane_when_it_ends() {
    let epoch = Arc::new(Epoch::default());
    let share = Arc::new(CpuShare::new(
        Arc::clone(&epoch),
        TICK,
        Some(policy(1, 60_000)),
        false,
        2,
    ));
    let plugin = ran_long(&epoch, &share);
    let first = long_call(&epoch, &share, &history());
    let _short = share.begin(&history(), 1_000_000);
    assert_eq!(share.in_lanes(), 1);
    // `plugin` ran long: its next call starts in the background and, while
    // a short call is in flight, waits for the lane before it runs at all.
    let waiter = {
        let (share, plugin) = (Arc::clone(&share), Arc::clone(&plugin));
        thread::spawn(move || share.begin(&plugin, 1_000_000))
    };
    until_lane_waiters(&share, 1);
    // A foreground call is not held back meanwhile.
    assert!(!share.begin(&history(), 1000).is_background());
    drop(first);
    let second = waiter.join().unwrap();
    assert!(second.is_background());
    assert_eq!(share.in_lanes(), 1, "the lane passed to the waiter");
    drop(second);
    assert_eq!(share.in_lanes(), 0);
}

#[test]
fn a_call_that_runs_long_waits_for_a_lane_before_it_runs_on() {
    let (epoch, share) = share(Some(policy(1, 60_000)));
    let holder = long_call(&epoch, &share, &history());
    let short = share.begin(&history(), 1_000_000);
    let mut late = share.begin(&history(), 1_000_000);
    epoch.advance(1);
    assert_eq!(late.on_tick(), Next::Run);
    epoch.advance(1);
    let waiter = thread::spawn(move || (late.on_tick(), late));
    until_lane_waiters(&share, 1);
    drop(holder);
    // With the lane, it still pauses while the short call occupies the one
    // core (`busy_at` 1 here) until that ends.
    drop(short);
    let (next, late) = waiter.join().unwrap();
    assert_eq!(next, Next::Run);
    assert!(late.is_background());
    assert_eq!(share.in_lanes(), 1);
}

#[test]
fn with_no_short_call_in_flight_a_background_call_does_not_wait_for_a_lane() {
    // The lane is held for ever and max_pause is an hour: only the absence
    // of short calls lets this call start.
    let (epoch, share) = share(Some(patient()));
    let plugin = ran_long(&epoch, &share);
    let _holder = long_call(&epoch, &share, &history());
    let mut laneless = share.begin(&plugin, 1_000_000);
    assert!(laneless.is_background());
    assert_eq!(share.in_lanes(), 1, "it runs without a lane");
    epoch.advance(1);
    assert_eq!(laneless.on_tick(), Next::Run);
}

#[test]
fn a_short_call_ending_releases_calls_waiting_for_a_lane() {
    let (epoch, share) = share(Some(patient()));
    let plugin = ran_long(&epoch, &share);
    let _holder = long_call(&epoch, &share, &history());
    let short = share.begin(&history(), 1_000_000);
    let waiter = {
        let share = Arc::clone(&share);
        thread::spawn(move || share.begin(&plugin, 1_000_000))
    };
    until_lane_waiters(&share, 1);
    drop(short);
    let laneless = waiter.join().unwrap();
    assert!(laneless.is_background());
    assert_eq!(share.in_lanes(), 1);
}

#[test]
fn a_lane_wait_lasts_at_most_max_pause_and_is_retried_at_the_next_tick() {
    let (epoch, share) = share(Some(policy(1, 20)));
    let plugin = ran_long(&epoch, &share);
    let holder = long_call(&epoch, &share, &history());
    let _short = share.begin(&history(), 1_000_000);
    let start = Instant::now();
    let mut waited = share.begin(&plugin, 1_000_000);
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert_eq!(share.in_lanes(), 1, "it runs on without a lane");
    drop(holder);
    epoch.advance(1);
    assert_eq!(waited.on_tick(), Next::Run);
    assert_eq!(share.in_lanes(), 1, "and takes the lane at its next tick");
    drop(waited);
    assert_eq!(share.in_lanes(), 0);
}

#[test]
fn waiting_for_a_lane_never_outlasts_the_deadline() {
    let (epoch, share) = share(Some(patient()));
    let plugin = ran_long(&epoch, &share);
    let _holder = long_call(&epoch, &share, &history());
    let _short = share.begin(&history(), 1_000_000);
    // Deadline in 5 ticks of 1 ms and max_pause an hour: the wait gives up
    // after about 5 ms (the lane is held for ever), and the call stops at
    // its first tick.
    let mut waiting = share.begin(&plugin, 5);
    assert!(waiting.is_background());
    assert_eq!(share.in_lanes(), 1, "no lane was taken");
    epoch.advance(5);
    assert_eq!(waiting.on_tick(), Next::Stop);
    drop(waiting);
    assert_eq!(share.in_lanes(), 1, "and none is given back");
}

#[test]
fn a_background_call_keeps_its_lane_until_its_teardown_ends() {
    let (epoch, share) = share(Some(policy(1, 1)));
    let pace = long_call(&epoch, &share, &history());
    let teardown = pace.end();
    assert_eq!(share.in_lanes(), 1);
    drop(teardown);
    assert_eq!(share.in_lanes(), 0);
}

/// A plugin whose last call ran long.
fn ran_long(epoch: &Epoch, share: &Arc<CpuShare>) -> Arc<History> {
    let plugin = history();
    drop(long_call(epoch, share, &plugin));
    plugin
}

/// Burns `cpu` of this thread's CPU time.
fn burn(cpu: Duration) {
    let Some(start) = crate::runtime::cpu_time::this_thread() else {
        return;
    };
    let mut x = 0_u64;
    while crate::runtime::cpu_time::this_thread().is_some_and(|now| now.saturating_sub(start) < cpu)
    {
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
    }
}

#[test]
fn a_plugin_whose_short_calls_keep_a_core_busy_starts_its_calls_in_the_background() {
    if crate::runtime::cpu_time::this_thread().is_none() {
        return; // no thread CPU clock: the rule cannot apply
    }
    let heavy_share = |percent| {
        share(Some(ShortCallsFirst {
            long_after: TICK,
            max_pause: TICK,
            idle_class: false,
            plugin_share_percent: percent,
            plugin_quota_percent: 0,
            yield_every: Duration::ZERO,
        }))
    };
    for (percent, sent_back) in [(10, true), (0, false)] {
        let (_, share) = heavy_share(percent);
        let (plugin, other) = (history(), history());
        // One call that never sees a tick (it is not long) but uses 50 ms
        // of CPU: half a core over the 100 ms window, far above 10% even if
        // this thread waits a while before the next call.
        let call = share.begin(&plugin, 1000);
        burn(Duration::from_millis(50));
        assert!(!call.is_background());
        drop(call);
        let next = share.begin(&plugin, 1000);
        assert_eq!(next.is_background(), sent_back, "share {percent}%");
        drop(next);
        assert!(!share.begin(&other, 1000).is_background());
    }
}
