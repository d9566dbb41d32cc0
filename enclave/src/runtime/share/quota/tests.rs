//! The quota's decisions, on booked CPU time rather than real work: what is
//! asserted is who waits, who is refused and who is not, never how fast
//! anything ran.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::super::history::{Ended, LOAD_WINDOW};
use super::super::{CALL_OVERHEAD, CpuShare, Epoch, History, ShortCallsFirst};
use super::{MAX_WAITING, MAX_WAITING_TOTAL, Throttled};

fn share(quota_percent: u32) -> Arc<CpuShare> {
    let policy = ShortCallsFirst {
        idle_class: false,
        plugin_quota_percent: quota_percent,
        yield_every: Duration::ZERO,
        ..ShortCallsFirst::default()
    };
    Arc::new(CpuShare::new(
        Arc::new(Epoch::default()),
        Duration::from_millis(1),
        Some(policy),
        false,
        2,
    ))
}

/// Books `cpu` of CPU time for `plugin`, as if a call had just ended.
fn book(plugin: &History, cpu: Duration) {
    plugin.record(Ended {
        ran_long: false,
        cpu: Some(cpu),
        at: Instant::now(),
    });
}

/// A call of `plugin` arrives (and leaves without starting: no history).
fn arrives(share: &Arc<CpuShare>, plugin: &Arc<History>) {
    drop(share.arrive(plugin));
}

/// A plugin that booked `cpu`, and a call of another plugin just arrived.
fn beside_another(share: &Arc<CpuShare>, cpu: Duration) -> Arc<History> {
    let plugin = Arc::new(History::default());
    book(&plugin, cpu);
    arrives(share, &Arc::new(History::default()));
    plugin
}

#[test]
fn a_plugin_over_its_quota_waits_only_while_another_plugin_is_being_called() {
    let share = share(25);
    let (busy, other) = (Arc::new(History::default()), Arc::new(History::default()));
    // 40 ms of CPU over the last 100 ms: over the 25 % quota, under the 50 %
    // share, so its calls still start in the foreground.
    book(&busy, Duration::from_millis(40));
    assert!(
        share.admit(&busy).unwrap().is_none(),
        "alone: not held back"
    );
    arrives(&share, &busy);
    assert!(
        share.admit(&busy).unwrap().is_none(),
        "its own calls are not others"
    );
    arrives(&share, &other);
    let throttle = share.admit(&busy).unwrap().expect("held back");
    // Until 0.4 of a core has decayed to 0.25: ln 1.6 windows at most.
    let wait = throttle.wait();
    assert!(
        !wait.is_zero() && wait <= LOAD_WINDOW.mul_f64(1.6_f64.ln()),
        "{wait:?}"
    );
    // The other plugin, within its quota, is not held back beside it; and
    // after its own call the busy one still is (the other's call counts).
    assert!(share.admit(&other).unwrap().is_none());
    arrives(&share, &busy);
    assert!(share.admit(&busy).unwrap().is_some());
}

#[test]
fn a_plugin_within_its_quota_is_not_held_back() {
    let share = share(25);
    let light = beside_another(&share, Duration::from_millis(20));
    assert!(share.admit(&light).unwrap().is_none());
}

#[test]
fn with_the_quota_off_nothing_is_held_back() {
    let share = share(0);
    let busy = beside_another(&share, LOAD_WINDOW * 10);
    assert!(share.admit(&busy).unwrap().is_none());
}

#[test]
fn calls_of_plugins_over_their_share_do_not_count_as_others() {
    // Two busy plugins: each one's calls start in the background (over the
    // 50 % share), so neither holds the other back and both get the cores.
    let share = share(25);
    let (one, two) = (Arc::new(History::default()), Arc::new(History::default()));
    book(&one, LOAD_WINDOW);
    book(&two, LOAD_WINDOW);
    arrives(&share, &two);
    assert!(share.admit(&one).unwrap().is_none());
}

#[test]
fn at_most_max_waiting_calls_of_a_plugin_wait_and_more_are_refused() {
    let share = share(25);
    let busy = beside_another(&share, LOAD_WINDOW * 10);
    let mut waiting: Vec<_> = (0..MAX_WAITING)
        .map(|_| share.admit(&busy).unwrap().expect("held back"))
        .collect();
    assert_eq!(
        share.admit(&busy).unwrap_err(),
        Throttled {
            quota_percent: 25,
            waiting: MAX_WAITING
        }
    );
    // One leaves: there is room again.
    waiting.pop();
    assert!(share.admit(&busy).unwrap().is_some());
}

#[test]
fn at_most_max_waiting_total_calls_wait_in_all() {
    let share = share(25);
    let other = Arc::new(History::default());
    arrives(&share, &other);
    let plugins: Vec<_> = (0..3).map(|_| Arc::new(History::default())).collect();
    for plugin in &plugins {
        book(plugin, LOAD_WINDOW * 10);
    }
    let mut waiting = Vec::new();
    for plugin in &plugins[..2] {
        for _ in 0..MAX_WAITING {
            waiting.push(share.admit(plugin).unwrap().expect("held back"));
        }
    }
    assert_eq!(waiting.len(), MAX_WAITING_TOTAL as usize);
    // A third plugin, with none of its own calls waiting, finds no room.
    assert_eq!(
        share.admit(&plugins[2]).unwrap_err(),
        Throttled {
            quota_percent: 25,
            waiting: MAX_WAITING_TOTAL
        }
    );
    waiting.pop();
    assert!(share.admit(&plugins[2]).unwrap().is_some());
}

#[test]
fn another_plugins_call_holds_a_plugin_back_for_one_window_only() {
    let share = share(25);
    let busy = Arc::new(History::default());
    let now = Instant::now();
    // The other plugin's call came just over a window ago, then just
    // inside one.
    let long_ago = now
        .checked_sub(LOAD_WINDOW * 2)
        .expect("the clock has run that long");
    share.hold_back_for_tests(&busy, LOAD_WINDOW * 10, long_ago);
    assert!(share.admit(&busy).unwrap().is_none());
    share.hold_back_for_tests(&busy, Duration::ZERO, Instant::now());
    assert!(share.admit(&busy).unwrap().is_some());
}

#[test]
fn while_calls_of_a_plugin_wait_its_new_calls_wait_behind_them() {
    let share = share(25);
    let (plugin, other) = (Arc::new(History::default()), Arc::new(History::default()));
    arrives(&share, &other);
    // Within its quota, nothing waiting: let in at once.
    assert!(share.admit(&plugin).unwrap().is_none());
    // One of its calls still waits (its use has just decayed): a new call
    // does not overtake it.
    plugin.waiting().enter(MAX_WAITING).unwrap();
    let queued = share.admit(&plugin).unwrap().expect("queued behind");
    // It may go as soon as it asks (nothing to wait for any more).
    assert!(queued.wait().is_zero());
    plugin.waiting().leave();
}

#[test]
fn a_call_let_in_books_its_overhead_at_once() {
    // So calls released together do not all find the plugin at its quota:
    // each one let in raises its use before the next one asks.
    let share = share(25);
    let busy = beside_another(&share, LOAD_WINDOW);
    let throttle = share.admit(&busy).unwrap().expect("held back");
    let later = Instant::now() + LOAD_WINDOW;
    let before = busy.cores_at(later);
    drop(throttle);
    let booked = busy.cores_at(later) - before;
    let overhead = CALL_OVERHEAD.as_secs_f64() / LOAD_WINDOW.as_secs_f64();
    assert!(booked >= overhead * 0.3, "{booked} < {overhead}");
}

#[test]
fn every_call_let_in_together_starts_in_the_background_even_if_some_end_short() {
    let share = share(25);
    let busy = beside_another(&share, LOAD_WINDOW);
    let throttles: Vec<_> = (0..MAX_WAITING)
        .map(|_| share.admit(&busy).unwrap().expect("held back"))
        .collect();
    drop(throttles);
    // Each let-in call that ends short forgets one; all 16 still start in
    // the background, even if the first ones end before the last start.
    for i in 0..MAX_WAITING {
        let call = share.arrive(&busy);
        assert!(call.is_background(), "call {i}");
        drop(call.starting(1000));
    }
}

#[test]
fn every_call_is_booked_at_least_its_overhead() {
    // A call that does nothing still costs its request's handling.
    let share = share(25);
    let plugin = Arc::new(History::default());
    drop(share.arrive(&plugin).starting(1000));
    let booked = plugin.cores_at(Instant::now());
    let overhead = CALL_OVERHEAD.as_secs_f64() / LOAD_WINDOW.as_secs_f64();
    assert!(booked >= overhead * 0.9, "{booked} < {overhead}");
}

#[test]
fn a_call_let_in_after_waiting_starts_in_the_background() {
    let share = share(25);
    let (busy, other) = (Arc::new(History::default()), Arc::new(History::default()));
    // Over the quota, under the 50 % share: its calls start in the
    // foreground until the quota holds one back.
    book(&busy, Duration::from_millis(40));
    assert!(!share.arrive(&busy).is_background());
    arrives(&share, &other);
    drop(share.admit(&busy).unwrap().expect("held back"));
    assert!(share.arrive(&busy).is_background());
    // Without being held back, a plugin's calls are not sent there.
    assert!(!share.arrive(&other).is_background());
}
