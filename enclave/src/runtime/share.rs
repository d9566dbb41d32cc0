//! Short calls first: how calls share the CPU.
//!
//! Every call starts in the *foreground*. A call that has run for
//! [`ShortCallsFirst::long_after`] becomes a *background* call for the rest of
//! its life, and so does every call of a plugin whose calls ran long lately
//! or together keep more than [`ShortCallsFirst::plugin_share_percent`] of a
//! core busy ([`History`]). A background call
//!
//! * while short calls are in flight, runs only in one of `cores - 1`
//!   *lanes* (at least one), waiting for a free one at most `max_pause` at a
//!   time (`share/lane.rs`), so however many long calls there are, a core is
//!   left to short ones;
//! * runs in the kernel's idle scheduling class, where the process may leave
//!   it again (`idle_class.rs`), so the kernel runs anything else first;
//! * gives up its CPU every [`ShortCallsFirst::yield_every`] while it runs
//!   and other plugins are being called (`yield_timer.rs`,
//!   `share/yielding.rs`): measured, the kernel otherwise let a thread woken
//!   for a short call wait behind it until the next timer tick, idle class
//!   or not;
//! * at every epoch tick it reaches, sleeps while foreground calls occupy
//!   every core, for at most [`ShortCallsFirst::max_pause`] at a time, then
//!   yields the CPU once more and runs to the next tick, so it is never
//!   starved: it gets at least `tick / (tick + 2 * max_pause)` of a core
//!   (one wait for a lane, one pause, per tick) while short calls keep
//!   every core busy, and all the CPU nobody else wants;
//! * waits the same way before its memory grows and before its store is
//!   torn down, both of which take the process's memory-map lock that every
//!   call's instantiation needs.
//!
//! Priorities alone did not do it (measured, docs/benchmarks.md): on a
//! loaded machine a thread woken for a short call still landed behind a
//! spinning one for milliseconds, whatever their nice values; the ticker that
//! drives deadlines was delayed the same way.
//!
//! Deadlines stay wall-clock: a paused call's deadline runs on, so a
//! background call on a busy enclave does less work before its deadline than
//! on an idle one. That is the price of putting short calls first, and the
//! reason `long_after` is a tick or more rather than zero.
//!
//! Each call's side of this is its [`CallPace`] (`share/pace.rs`). Calls
//! learn of ticks through wasmtime's epoch callback (`invoke.rs`). The
//! epoch itself is mirrored in [`Epoch`], incremented by the ticker alongside
//! the engine's, so that deadlines are counted in ticks that passed — paused
//! ones included — rather than ticks a call saw.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

mod history;
mod lane;
mod pace;
mod quota;
mod yielding;

pub(crate) use super::engine::Epoch;
use super::yield_timer::YieldTimer;
pub(crate) use history::History;
#[cfg(test)]
use history::REMEMBERED_CALLS;
pub(crate) use pace::CallPace;
pub use quota::{MAX_WAITING, MAX_WAITING_TOTAL, Throttle};

/// CPU time booked for each call on top of its own thread's: the work
/// around it that thread time does not show — reading and dispatching the
/// request, writing the answer, the peer's side of it. A plugin that answers
/// 10,000 calls a second at once thus counts as half a core busy, not as
/// nothing: calls that fail before doing any work (a refused memory grow, a
/// trap at the first instruction) otherwise cost their plugin nothing.
pub(crate) const CALL_OVERHEAD: Duration = Duration::from_micros(50);

/// When a call counts as long, and how long a long one waits for short ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShortCallsFirst {
    /// Running time after which a call becomes a background call (at least
    /// one epoch tick; rounded up to whole ticks).
    pub long_after: Duration,
    /// Longest a background call sleeps at once while foreground calls run.
    pub max_pause: Duration,
    /// Whether background calls also run in the kernel's idle scheduling
    /// class (where the process may leave it again). Right where the enclave
    /// has its CPUs to itself: the idle class yields to every process on the
    /// machine. Without it, background calls only sleep.
    pub idle_class: bool,
    /// Share of one core, in percent, beyond which a plugin's calls start in
    /// the background however short each is: the CPU time its calls used,
    /// booked as each call ends and decayed over about 100 ms. Holds back a
    /// plugin that floods the enclave with cheap calls. 0: off.
    pub plugin_share_percent: u32,
    /// Share of one core, in percent, a plugin's calls may keep busy (as
    /// measured for `plugin_share_percent`) while other plugins' short calls
    /// are arriving; beyond it its next calls wait before they start until
    /// its use has fallen back to it (`share/quota.rs`). 0: off.
    pub plugin_quota_percent: u32,
    /// How often a background call gives up its CPU while it runs and other
    /// plugins were called within the last second, so that a thread woken
    /// for a short call on that CPU runs within this time (`yield_timer.rs`,
    /// `share/yielding.rs`). Zero: only at epoch ticks.
    pub yield_every: Duration,
}

impl Default for ShortCallsFirst {
    fn default() -> Self {
        Self {
            long_after: Duration::from_millis(1),
            max_pause: Duration::from_millis(4),
            idle_class: true,
            plugin_share_percent: 50,
            plugin_quota_percent: 25,
            yield_every: Duration::from_micros(100),
        }
    }
}

/// The policy in the share's terms.
#[derive(Debug, Clone, Copy)]
struct Policy {
    long_after_ticks: u64,
    max_pause: Duration,
    /// Cores a plugin may keep busy before its calls start in the background.
    heavy_at: Option<f64>,
    /// Cores a plugin may keep busy before its calls wait to start.
    quota: Option<f64>,
    quota_percent: u32,
    yield_every: Duration,
}

/// What a call does after a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Run to the next tick.
    Run,
    /// The deadline has passed: interrupt the call.
    Stop,
}

/// The CPU share of every call of one runtime.
#[derive(Debug)]
pub(crate) struct CpuShare {
    epoch: Arc<Epoch>,
    tick: Duration,
    /// `None`: every call stays in the foreground.
    policy: Option<Policy>,
    /// Whether background calls also run in the kernel's idle class.
    idle_class: bool,
    /// Foreground calls in flight at which background calls pause.
    busy_at: usize,
    /// Background calls that may run at once.
    lanes: usize,
    calls: Mutex<Calls>,
    resumed: Condvar,
    /// Calls of all plugins waiting for their quotas.
    waiting: quota::Waiting,
}

#[derive(Debug, Default)]
struct Calls {
    foreground: usize,
    paused: usize,
    /// Background calls holding a lane.
    in_lanes: usize,
    /// Background calls waiting for one.
    lane_waiters: usize,
    /// The plugins that started foreground calls last.
    recent: quota::Recent,
}

impl CpuShare {
    /// `idle_class`: whether threads may enter the kernel's idle class and
    /// leave it (`IdleClass::available`); `busy_at`: foreground calls in
    /// flight at which background calls pause (the cores: below that, a
    /// core is left for the background). Background calls get `busy_at - 1`
    /// lanes, at least one.
    pub(crate) fn new(
        epoch: Arc<Epoch>,
        tick: Duration,
        policy: Option<ShortCallsFirst>,
        idle_class: bool,
        busy_at: usize,
    ) -> Self {
        let tick = tick.max(Duration::from_nanos(1));
        let policy = policy.map(|p| {
            let ticks = p.long_after.as_nanos().div_ceil(tick.as_nanos()).max(1);
            Policy {
                long_after_ticks: u64::try_from(ticks).unwrap_or(u64::MAX),
                max_pause: p.max_pause,
                heavy_at: (p.plugin_share_percent > 0)
                    .then(|| f64::from(p.plugin_share_percent) / 100.0),
                quota: (p.plugin_quota_percent > 0)
                    .then(|| f64::from(p.plugin_quota_percent) / 100.0),
                quota_percent: p.plugin_quota_percent,
                yield_every: p.yield_every,
            }
        });
        Self {
            epoch,
            tick,
            policy,
            idle_class: idle_class && policy.is_some(),
            busy_at: busy_at.max(1),
            lanes: busy_at.saturating_sub(1).max(1),
            calls: Mutex::default(),
            resumed: Condvar::new(),
            waiting: quota::Waiting::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Calls> {
        // Every critical section leaves the counts consistent.
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A call of a plugin with `history` that has arrived: in the foreground
    /// from now on (waiting for its turn counts), unless the plugin ran long
    /// or heavy recently; no deadline until [`CallPace::starting`].
    pub(crate) fn arrive(self: &Arc<Self>, history: &Arc<History>) -> CallPace {
        self.arrive_as(history, true)
    }

    /// As [`arrive`](Self::arrive); `counted`: whether the call counts as a
    /// plugin's call for other plugins' quotas.
    fn arrive_as(self: &Arc<Self>, history: &Arc<History>, counted: bool) -> CallPace {
        let now = Instant::now();
        let background = self
            .policy
            .is_some_and(|p| history.starts_in_background(p.heavy_at, now));
        if !background {
            let mut calls = self.lock();
            calls.foreground += 1;
            if counted {
                calls.recent.arrived(history, now);
            }
        }
        self.epoch.call_started();
        CallPace::new(Arc::clone(self), Arc::clone(history), background)
    }

    /// A call starting now that is never sent to the background and leaves
    /// no history: a plugin's trial instantiation at load, whose start bound
    /// must not depend on other calls, and which says nothing of its calls.
    pub(crate) fn begin_exempt(self: &Arc<Self>, deadline_ticks: u64) -> CallPace {
        let mut pace = self.arrive_as(&Arc::default(), false);
        pace.exempt = true;
        pace.starting(deadline_ticks)
    }

    /// A call arriving and starting now, due to stop once `deadline_ticks`
    /// ticks have passed.
    #[cfg(test)]
    pub(crate) fn begin(self: &Arc<Self>, history: &Arc<History>, deadline_ticks: u64) -> CallPace {
        self.arrive(history).starting(deadline_ticks)
    }

    /// Calls in the foreground now.
    #[cfg(test)]
    pub(crate) fn foreground(&self) -> usize {
        self.lock().foreground
    }

    /// Background calls sleeping in [`give_way`](Self::give_way) now.
    #[cfg(test)]
    pub(crate) fn paused(&self) -> usize {
        self.lock().paused
    }

    fn leave_foreground(&self) {
        let mut calls = self.lock();
        calls.foreground = calls.foreground.saturating_sub(1);
        let resume_paused = calls.foreground + 1 == self.busy_at && calls.paused > 0;
        // With no short call left, calls waiting for a lane run on.
        let resume_waiting = calls.foreground == 0 && calls.lane_waiters > 0;
        if resume_paused || resume_waiting {
            self.resumed.notify_all();
        }
    }

    /// Sleeps while foreground calls are in flight, for at most `pause`,
    /// with the call's yield `timer` quiet meanwhile (only if it sleeps: it
    /// starts over when armed again).
    fn give_way(&self, pause: Duration, timer: Option<&YieldTimer>) {
        let mut calls = self.lock();
        let busy_at = self.busy_at;
        if calls.foreground < busy_at || pause.is_zero() {
            return;
        }
        calls.paused += 1;
        let quiet = timer.map(YieldTimer::quiet);
        let (mut calls, _) = self
            .resumed
            .wait_timeout_while(calls, pause, |c| c.foreground >= busy_at)
            .unwrap_or_else(PoisonError::into_inner);
        calls.paused -= 1;
        // Armed again outside the lock, which short calls need.
        drop(calls);
        drop(quiet);
    }
}

#[cfg(test)]
mod tests;
