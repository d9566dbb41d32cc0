//! Per-plugin CPU quota: a plugin that keeps more than its quota of a core
//! busy while other plugins are being called waits before its next call
//! starts.
//!
//! Short calls first (the rest of `share.rs`) decides how calls that are
//! already running share the cores. It cannot stop a plugin from starting
//! call after call: a plugin whose calls each run for a few milliseconds,
//! back to back, keeps a core to itself in the background lane, and one whose
//! calls grow memory and fail takes the process's memory-map lock thousands
//! of times a second. The quota holds such a plugin back *before* a call
//! starts, where waiting costs nothing but the caller's time:
//!
//! * A plugin's use is the CPU time its calls' threads used, booked as each
//!   call ends and decayed over [`LOAD_WINDOW`](super::history::LOAD_WINDOW)
//!   ([`History`]).
//! * While that is above the quota **and** another plugin started a short
//!   (foreground) call within the last window, a new call of the plugin
//!   waits — in an async task, holding no invocation slot and no lane —
//!   until its use has decayed to the quota ([`Throttle::wait`]). With no
//!   other plugin being called, nothing waits: a lone busy plugin, or
//!   several busy ones, still get every core (calls of plugins over their
//!   share start in the background and do not count as others).
//! * A call let in after waiting starts in the background, and so do the
//!   plugin's next calls, as after a long call: once its use has decayed to
//!   the quota it is below the share at which its calls would start in the
//!   background, yet it is the plugin the quota held back.
//! * At most [`MAX_WAITING`] calls of one plugin, and [`MAX_WAITING_TOTAL`]
//!   calls in all, wait at once; more are refused at once with
//!   `throttled`. Waiting calls hold their connection's in-flight permits,
//!   so the total bound keeps a connection with the default budget (64)
//!   readable for the other plugins' calls; an enclave run with
//!   `--max-in-flight` at or below the total can still have its
//!   connection filled by waiting calls.
//! * Waiting calls go first: while any call of a plugin waits, its new
//!   calls wait too, and each call let in books [`CALL_OVERHEAD`] at once,
//!   so calls released together are let in one after the other rather than
//!   all at the moment the plugin's use falls to the quota.
//!
//! Waiting time is not part of a call's deadline, which starts when it
//! starts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::history::{Ended, LOAD_WINDOW};
use super::{CALL_OVERHEAD, CpuShare, History};

/// Calls of one plugin that may wait for its quota at once.
pub const MAX_WAITING: u32 = 16;

/// Calls of all plugins that may wait for their quotas at once.
pub const MAX_WAITING_TOTAL: u32 = 32;

/// Longest a held-back call sleeps before it asks again.
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// The last plugins that started a foreground call: two distinct ones, so
/// that the latest call of a plugin *other* than any given one is among
/// them.
#[derive(Debug, Default)]
pub(super) struct Recent([Option<(Arc<History>, Instant)>; 2]);

impl Recent {
    pub(super) fn arrived(&mut self, plugin: &Arc<History>, now: Instant) {
        let [latest, before] = &mut self.0;
        if !latest.as_ref().is_some_and(|(p, _)| Arc::ptr_eq(p, plugin)) {
            *before = latest.take();
        }
        *latest = Some((Arc::clone(plugin), now));
    }

    /// Whether a plugin other than `plugin` started a foreground call at or
    /// after `since`.
    fn other_than(&self, plugin: &Arc<History>, since: Instant) -> bool {
        self.0
            .iter()
            .flatten()
            .any(|(p, at)| !Arc::ptr_eq(p, plugin) && *at >= since)
    }

    /// Whether a plugin other than `plugin` ever started a foreground call.
    fn any_other_than(&self, plugin: &Arc<History>) -> bool {
        self.0
            .iter()
            .flatten()
            .any(|(p, _)| !Arc::ptr_eq(p, plugin))
    }
}

/// The number of a plugin's calls waiting for its quota.
#[derive(Debug, Default)]
pub(super) struct Waiting(AtomicU32);

impl Waiting {
    /// Counts one more, unless `max` are counted; `Err` with the count.
    fn enter(&self, max: u32) -> Result<(), u32> {
        self.0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < max).then_some(n + 1)
            })
            .map(|_| ())
    }

    fn leave(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }

    fn any(&self) -> bool {
        self.0.load(Ordering::Relaxed) > 0
    }
}

/// A call over its plugin's quota was refused: too many already wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Throttled {
    /// The quota, in percent of one core.
    pub(crate) quota_percent: u32,
    /// Calls already waiting: of the plugin ([`MAX_WAITING`]) or in all
    /// ([`MAX_WAITING_TOTAL`]), whichever bound was reached.
    pub(crate) waiting: u32,
}

/// A call held back by its plugin's quota; counted among the plugin's
/// waiting calls until [`let_in`](Self::let_in) returns (or it is dropped).
#[derive(Debug)]
pub struct Throttle {
    share: Arc<CpuShare>,
    history: Arc<History>,
}

impl Throttle {
    /// How long to sleep before asking again (at most a second); zero: the
    /// call may start now.
    #[must_use]
    pub(crate) fn wait(&self) -> Duration {
        self.share
            .quota_wait(&self.history, Instant::now())
            .min(MAX_SLEEP)
    }

    /// Sleeps until the quota lets the call start, then lets it in: the
    /// call must arrive at the runtime only after this returns, so that it
    /// starts in the background (see the module docs).
    pub async fn let_in(self) {
        loop {
            let wait = self.wait();
            if wait.is_zero() {
                return;
            }
            tokio::time::sleep(wait).await;
        }
    }
}

impl Drop for Throttle {
    fn drop(&mut self) {
        // Booked now, so the next waiter released at the same moment finds
        // the plugin over its quota again, for a moment.
        self.history.record(Ended {
            ran_long: false,
            cpu: Some(CALL_OVERHEAD),
            at: Instant::now(),
        });
        // Let in once its use has fallen to the quota, it is under the
        // share at which its calls would start in the background; but it
        // was held back, so its calls give way to short ones like long
        // calls do (idle class, a lane, pauses at ticks).
        self.history.as_if_long(MAX_WAITING);
        self.history.waiting().leave();
        self.share.waiting.leave();
    }
}

impl CpuShare {
    /// Whether a call of the plugin with `history` may start now (`None`),
    /// must wait for its quota (`Some`), or is refused because
    /// [`MAX_WAITING`] of its calls, or [`MAX_WAITING_TOTAL`] in all, already
    /// wait.
    pub(crate) fn admit(
        self: &Arc<Self>,
        history: &Arc<History>,
    ) -> Result<Option<Throttle>, Throttled> {
        let over = !self.quota_wait(history, Instant::now()).is_zero();
        if !over && !history.waiting().any() {
            return Ok(None);
        }
        let throttled = |waiting| Throttled {
            quota_percent: self.quota_percent(),
            waiting,
        };
        history.waiting().enter(MAX_WAITING).map_err(throttled)?;
        if let Err(all) = self.waiting.enter(MAX_WAITING_TOTAL) {
            history.waiting().leave();
            return Err(throttled(all));
        }
        Ok(Some(Throttle {
            share: Arc::clone(self),
            history: Arc::clone(history),
        }))
    }

    /// How long until the plugin's use falls to its quota, if it must wait
    /// for that now: over the quota while another plugin's short calls came
    /// within the last window.
    fn quota_wait(&self, history: &Arc<History>, now: Instant) -> Duration {
        let Some(quota) = self.policy.and_then(|p| p.quota) else {
            return Duration::ZERO;
        };
        let wait = history.wait_to_fit(quota, now);
        if wait.is_zero() {
            return wait;
        }
        if self.others_called_since(history, now.checked_sub(LOAD_WINDOW)) {
            wait
        } else {
            Duration::ZERO
        }
    }

    /// Whether a plugin other than the one with `history` started a short
    /// call at or after `since` (`None`: since the process started).
    pub(super) fn others_called_since(
        &self,
        history: &Arc<History>,
        since: Option<Instant>,
    ) -> bool {
        let calls = self.lock();
        match since {
            Some(since) => calls.recent.other_than(history, since),
            None => calls.recent.any_other_than(history),
        }
    }

    /// Books `cpu` for `history` and makes a call of another plugin look
    /// as if it arrived at `at`: a plugin over its quota with others being
    /// called, without timing anything (for tests).
    #[cfg(test)]
    pub(crate) fn hold_back_for_tests(&self, history: &History, cpu: Duration, at: Instant) {
        history.record(Ended {
            ran_long: false,
            cpu: Some(cpu),
            at: Instant::now(),
        });
        self.lock()
            .recent
            .arrived(&Arc::new(History::default()), at);
    }

    fn quota_percent(&self) -> u32 {
        self.policy.map_or(0, |p| p.quota_percent)
    }
}

#[cfg(test)]
mod tests;
