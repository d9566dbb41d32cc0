//! How a plugin's recent calls went, which decides where its next call
//! starts.
//!
//! Two things send a plugin's calls to the background from their start:
//!
//! * **A long call.** One that ran for `long_after` makes the plugin's next
//!   [`REMEMBERED_CALLS`] calls start in the background; each call that ends
//!   short forgets one. A plugin whose calls keep running long (a spinning
//!   one) thus never takes a foreground turn, while one long call of a
//!   well-behaved plugin costs it little.
//! * **A heavy plugin.** Short calls back to back add up: a plugin whose
//!   calls together kept more than `plugin_share` of a core busy lately
//!   (CPU time its calls' threads used, booked as each call ends, decayed
//!   exponentially over [`LOAD_WINDOW`]) has its next calls start in the
//!   background too, however short each one is. A single long call books
//!   all its CPU time at once, so after one it reads as heavy for a while;
//!   it also ran long, which has the same effect. A flood of cheap calls then waits for the other
//!   plugins' calls like one long call would, instead of taking every core
//!   turn by turn.
//!
//! Neither costs a plugin anything while nobody else wants the CPU: a
//! background call only waits while foreground calls are in flight.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Calls that start in the background after a long one.
pub(crate) const REMEMBERED_CALLS: u32 = 8;

/// How far back a plugin's CPU use counts: use this long ago weighs `1/e`.
pub(crate) const LOAD_WINDOW: Duration = Duration::from_millis(100);

/// One plugin's recent calls.
#[derive(Debug, Default)]
pub(crate) struct History {
    /// Calls left that start in the background after a long one.
    after_long: AtomicU32,
    load: Mutex<Load>,
    /// Its calls waiting for its quota (`quota.rs`).
    waiting: super::quota::Waiting,
}

/// What one call did, recorded when it ends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ended {
    /// It ran for `long_after`.
    pub(crate) ran_long: bool,
    /// CPU time its thread used, where the clock is available.
    pub(crate) cpu: Option<Duration>,
    pub(crate) at: Instant,
}

impl History {
    /// Whether the plugin's next call starts in the background: it ran long
    /// lately, or it keeps more than `heavy_at` cores busy.
    pub(crate) fn starts_in_background(&self, heavy_at: Option<f64>, now: Instant) -> bool {
        self.after_long.load(Ordering::Relaxed) > 0
            || heavy_at.is_some_and(|heavy| self.lock().cores_at(now) > heavy)
    }

    /// How long until the plugin's use falls to `cores` if it does not call
    /// again: zero if it is there already.
    pub(crate) fn wait_to_fit(&self, cores: f64, now: Instant) -> Duration {
        let load = self.lock().cores_at(now);
        if load <= cores || cores <= 0.0 {
            return Duration::ZERO;
        }
        LOAD_WINDOW.mul_f64((load / cores).ln())
    }

    /// Its next calls start in the background as after a long call, one
    /// more for each call so marked (up to `more` beyond the usual), so
    /// that calls let in together all do even if some end short first.
    pub(super) fn as_if_long(&self, more: u32) {
        let _ = self
            .after_long
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(
                    n.saturating_add(1)
                        .clamp(REMEMBERED_CALLS, REMEMBERED_CALLS.saturating_add(more)),
                )
            });
    }

    pub(super) fn waiting(&self) -> &super::quota::Waiting {
        &self.waiting
    }

    pub(crate) fn record(&self, call: Ended) {
        if call.ran_long {
            self.after_long.store(REMEMBERED_CALLS, Ordering::Relaxed);
        } else {
            let _ = self
                .after_long
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
        if let Some(cpu) = call.cpu {
            self.lock().add(cpu, call.at);
        }
    }

    /// Cores the plugin's calls kept busy lately, as of `now`.
    #[cfg(test)]
    pub(crate) fn cores_at(&self, now: Instant) -> f64 {
        self.lock().cores_at(now)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Load> {
        // Every critical section leaves the load consistent.
        self.load.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// CPU use as an exponentially decaying average, in cores.
#[derive(Debug, Default)]
struct Load {
    cores: f64,
    at: Option<Instant>,
}

impl Load {
    fn cores_at(&self, now: Instant) -> f64 {
        match self.at {
            Some(at) => self.cores * decay(now.saturating_duration_since(at)),
            None => 0.0,
        }
    }

    fn add(&mut self, cpu: Duration, now: Instant) {
        let before = self.cores_at(now);
        self.cores = before + cpu.as_secs_f64() / LOAD_WINDOW.as_secs_f64();
        // A call that ended before the last recorded one (threads race to
        // record) counts as ending with it.
        self.at = Some(self.at.map_or(now, |at| at.max(now)));
    }
}

/// The weight left after `age`.
fn decay(age: Duration) -> f64 {
    (-age.as_secs_f64() / LOAD_WINDOW.as_secs_f64()).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn ended(cpu_us: u64, at: Instant) -> Ended {
        Ended {
            ran_long: false,
            cpu: Some(Duration::from_micros(cpu_us)),
            at,
        }
    }

    #[test]
    fn a_plugin_keeping_a_core_busy_with_short_calls_reads_as_about_one_core() {
        let history = History::default();
        let start = Instant::now();
        // 500 calls of 1 ms of CPU each, back to back: a core, for 500 ms.
        for i in 1..=500 {
            history.record(ended(1000, start + MS * i));
        }
        let cores = history.cores_at(start + MS * 500);
        assert!((0.95..=1.05).contains(&cores), "{cores}");
        assert!(history.starts_in_background(Some(0.5), start + MS * 500));
        assert!(!history.starts_in_background(None, start + MS * 500));
    }

    #[test]
    fn the_wait_to_fit_a_quota_is_how_long_the_use_takes_to_decay_to_it() {
        let history = History::default();
        let start = Instant::now();
        // 100 ms of CPU booked at once: a whole core over the window.
        history.record(ended(100_000, start));
        let wait = history.wait_to_fit(0.25, start);
        // e^(-t/100 ms) = 1/4 at t = 100 ms * ln 4 = 138.6 ms.
        assert_eq!(wait.as_micros(), 138_629, "{wait:?}");
        assert_eq!(history.wait_to_fit(0.25, start + wait), Duration::ZERO);
        assert_eq!(history.wait_to_fit(1.5, start), Duration::ZERO);
        assert_eq!(history.wait_to_fit(0.0, start), Duration::ZERO);
    }

    #[test]
    fn a_light_plugin_stays_in_the_foreground() {
        // 100 us of CPU every 1 ms: a tenth of a core.
        let history = History::default();
        let start = Instant::now();
        for i in 1..=500 {
            history.record(ended(100, start + MS * i));
        }
        let cores = history.cores_at(start + MS * 500);
        assert!((0.09..=0.11).contains(&cores), "{cores}");
        assert!(!history.starts_in_background(Some(0.5), start + MS * 500));
    }

    #[test]
    fn a_heavy_plugin_is_forgiven_once_it_stops() {
        let history = History::default();
        let start = Instant::now();
        for i in 1..=200 {
            history.record(ended(1000, start + MS * i));
        }
        let end = start + MS * 200;
        assert!(history.starts_in_background(Some(0.5), end));
        // After a window of quiet its use has decayed by e; after a few, gone.
        assert!(!history.starts_in_background(Some(0.5), end + LOAD_WINDOW * 3));
    }

    #[test]
    fn a_call_recorded_out_of_order_does_not_move_the_clock_back() {
        let history = History::default();
        let start = Instant::now();
        history.record(ended(10_000, start + LOAD_WINDOW));
        history.record(ended(10_000, start));
        // Both count in full as of the later end: 20 ms over 100 ms.
        let cores = history.cores_at(start + LOAD_WINDOW);
        assert!((0.19..=0.21).contains(&cores), "{cores}");
    }

    #[test]
    fn a_long_call_sends_the_next_calls_to_the_background_until_enough_end_short() {
        let history = History::default();
        let now = Instant::now();
        history.record(Ended {
            ran_long: true,
            cpu: None,
            at: now,
        });
        for _ in 0..REMEMBERED_CALLS {
            assert!(history.starts_in_background(None, now));
            history.record(Ended {
                ran_long: false,
                cpu: None,
                at: now,
            });
        }
        assert!(!history.starts_in_background(None, now));
    }
}
