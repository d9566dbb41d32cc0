//! One call's pace: when it starts, what it does at each epoch tick
//! (deadline, turning long, waiting for a lane, giving way), and what it
//! books in its plugin's history when it ends. See `share.rs` for the
//! policy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::history::Ended;
use super::lane::{Lane, Teardown};
use super::{CALL_OVERHEAD, CpuShare, History, Next};
use crate::runtime::cpu_time;
use crate::runtime::idle_class::IdleClass;
use crate::runtime::yield_timer::YieldTimer;

/// One call's place in the share; leaves the foreground and records the
/// call in its plugin's history when dropped.
#[derive(Debug)]
pub(crate) struct CallPace {
    pub(super) share: Arc<CpuShare>,
    pub(super) history: Arc<History>,
    /// The epoch at which the call is interrupted; `None` until it starts.
    deadline: Option<u64>,
    /// Ticks the call has seen while running.
    seen: u64,
    /// Whether the call has run for `long_after`.
    ran_long: bool,
    background: bool,
    /// Never in the background, no history ([`CpuShare::begin_exempt`]).
    pub(super) exempt: bool,
    /// The running thread's stay in the idle class, if it entered it.
    idle: Option<IdleClass>,
    /// Makes the running thread yield its CPU often while in the background
    /// and other plugins are being called (`share/yielding.rs`).
    pub(super) yield_timer: Option<YieldTimer>,
    /// The background lane the call holds, if any.
    lane: Option<Lane>,
    /// The running thread's CPU time when the call started.
    cpu_at_start: Option<Duration>,
    /// CPU time the call used, once it has ended.
    cpu_used: Option<Duration>,
}

impl CallPace {
    /// A call that has arrived, not started.
    pub(super) fn new(share: Arc<CpuShare>, history: Arc<History>, background: bool) -> Self {
        Self {
            share,
            history,
            deadline: None,
            seen: 0,
            ran_long: false,
            background,
            exempt: false,
            idle: None,
            yield_timer: None,
            lane: None,
            cpu_at_start: None,
            cpu_used: None,
        }
    }

    /// The call starts running now, on this thread, due to stop once
    /// `deadline_ticks` ticks have passed.
    pub(crate) fn starting(mut self, deadline_ticks: u64) -> Self {
        self.deadline = Some(self.share.epoch.now().saturating_add(deadline_ticks));
        if self.background {
            self.wait_for_lane();
            if self.share.idle_class {
                self.idle = IdleClass::enter();
            }
            self.start_yielding();
        }
        self.cpu_at_start = cpu_time::this_thread();
        self
    }

    /// Called at each epoch tick the running call reaches.
    pub(crate) fn on_tick(&mut self) -> Next {
        if self.past_deadline() {
            return Next::Stop;
        }
        self.seen = self.seen.saturating_add(1);
        let Some(policy) = self.share.policy.filter(|_| !self.exempt) else {
            return Next::Run;
        };
        if !self.ran_long && self.seen > policy.long_after_ticks {
            self.ran_long = true;
            if !self.background {
                self.background = true;
                self.share.leave_foreground();
                if self.share.idle_class {
                    self.idle = IdleClass::enter();
                }
                self.start_yielding();
            }
        }
        if self.background {
            self.wait_for_lane();
            self.update_yielding();
        }
        if let Some(pause) = self.pause() {
            self.share.give_way(pause, self.yield_timer.as_ref());
            // Between pauses too: a thread woken for other work waits for
            // this one at most until its next tick.
            std::thread::yield_now();
        }
        if self.past_deadline() {
            Next::Stop
        } else {
            Next::Run
        }
    }

    /// A background call without a lane waits for one (`lane.rs`), as
    /// long as it would pause: at most `max_pause`, never past its deadline.
    fn wait_for_lane(&mut self) {
        if self.lane.is_none() {
            let wait = self.pause().unwrap_or(Duration::ZERO);
            self.lane = self.share.take_lane(wait, self.yield_timer.as_ref());
        }
    }

    /// Time left before the deadline, in whole ticks.
    fn until_deadline(&self) -> Option<Duration> {
        let left = self.deadline?.saturating_sub(self.share.epoch.now());
        Some(
            self.share
                .tick
                .saturating_mul(u32::try_from(left).unwrap_or(u32::MAX)),
        )
    }

    fn past_deadline(&self) -> bool {
        self.deadline
            .is_some_and(|deadline| self.share.epoch.now() >= deadline)
    }

    /// How long a background call may wait for short calls now: at most
    /// `max_pause`, and never past its deadline. `None` in the foreground.
    fn pause(&self) -> Option<Duration> {
        let policy = self.share.policy?;
        if !self.background {
            return None;
        }
        Some(policy.max_pause.min(self.until_deadline()?))
    }

    /// The call's memory is about to grow: changing the mapping takes the
    /// process's memory-map lock for writing, which stops every other call's
    /// instantiation and teardown until it is done, so a background call
    /// first waits for a moment when short calls leave a core free.
    pub(crate) fn before_growing(&self) {
        if let Some(pause) = self.pause() {
            self.share.give_way(pause, self.yield_timer.as_ref());
        }
    }

    /// The call has ended; its answer is about to be sent. Back in the
    /// thread's own class for that: sending takes the connection's writer
    /// lock, which short calls' answers need too.
    pub(crate) fn answering(&mut self) {
        self.yield_timer = None;
        self.idle = None;
        self.cpu_used = self.cpu_so_far();
    }

    fn cpu_so_far(&self) -> Option<Duration> {
        Some(cpu_time::this_thread()?.saturating_sub(self.cpu_at_start?))
    }

    /// The answer is sent; the store is about to be torn down. A background
    /// call's teardown (releasing the memory it dirtied: milliseconds of
    /// kernel work for tens of MiB) waits for a moment when short calls
    /// leave a core free (at most `max_pause`, never past the deadline) and
    /// runs in the idle class again: drop the returned guard once the store
    /// is gone. A background call keeps its lane until then.
    pub(crate) fn end(mut self) -> Teardown {
        self.yield_timer = None;
        if let Some(pause) = self.pause() {
            self.share.give_way(pause, None);
        }
        let idle = (self.background && self.share.idle_class)
            .then(IdleClass::enter)
            .flatten();
        Teardown::new(idle, self.lane.take())
    }

    /// Whether the call runs in the background.
    #[cfg(test)]
    pub(crate) fn is_background(&self) -> bool {
        self.background
    }
}

impl Drop for CallPace {
    fn drop(&mut self) {
        self.share.epoch.call_ended();
        if !self.background {
            self.share.leave_foreground();
        }
        // A call that never started (no slot came) says nothing.
        if self.deadline.is_some() && !self.exempt {
            self.history.record(Ended {
                ran_long: self.ran_long,
                cpu: Some(
                    self.cpu_used
                        .or_else(|| self.cpu_so_far())
                        .unwrap_or_default()
                        .saturating_add(CALL_OVERHEAD),
                ),
                at: Instant::now(),
            });
        }
    }
}
