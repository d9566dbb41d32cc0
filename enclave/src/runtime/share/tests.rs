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
    let (epoch, share) = share(Some(ShortCallsFirst {
        long_after: TICK,
        max_pause: Duration::from_hours(1),
        ..ShortCallsFirst::default()
    }));
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
    let (epoch, share) = share(Some(ShortCallsFirst {
        long_after: TICK,
        max_pause: Duration::from_hours(1),
        ..ShortCallsFirst::default()
    }));
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
