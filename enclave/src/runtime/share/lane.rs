//! Lanes: how many background calls run at once.
//!
//! There are `cores - 1` lanes (at least one). While short calls are in
//! flight, a background call runs only while it holds a [`Lane`]: however
//! many long calls there are, they keep at most all cores but one busy
//! between them, and the last core is left to short calls. A call waits for
//! a lane at most `max_pause` at a time (never past its deadline), then runs
//! to its next tick and asks again, so it is never starved by other long
//! calls; while no short call is in flight it does not wait at all. It keeps
//! its lane until its store is torn down ([`Teardown`]): releasing tens of
//! MiB a long call dirtied is work of the same kind.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use super::{Calls, CpuShare};
use crate::runtime::idle_class::IdleClass;
use crate::runtime::yield_timer::YieldTimer;

/// A background call's right to run; given back when dropped.
#[derive(Debug)]
pub(crate) struct Lane(Arc<CpuShare>);

impl CpuShare {
    /// Takes a free lane. While none is free and short calls are in flight,
    /// waits for one, at most `wait`, with the call's yield `timer` quiet.
    /// `None` if none came in that time, or
    /// none is free and no short call is in flight (nobody else wants the
    /// CPU): the call then runs on without one and asks again at its next
    /// tick.
    pub(super) fn take_lane(
        self: &Arc<Self>,
        wait: Duration,
        timer: Option<&YieldTimer>,
    ) -> Option<Lane> {
        let lanes = self.lanes;
        let mut calls = self.lock();
        calls.lane_waiters += 1;
        let blocked = |c: &mut Calls| c.in_lanes >= lanes && c.foreground > 0;
        // The call's yield timer is quiet only if it sleeps.
        let quiet = (blocked(&mut calls) && !wait.is_zero())
            .then(|| timer.map(YieldTimer::quiet))
            .flatten();
        let (mut calls, _) = self
            .resumed
            .wait_timeout_while(calls, wait, blocked)
            .unwrap_or_else(PoisonError::into_inner);
        calls.lane_waiters -= 1;
        let lane = (calls.in_lanes < lanes).then(|| {
            calls.in_lanes += 1;
            Lane(Arc::clone(self))
        });
        // Armed again outside the lock, which short calls need.
        drop(calls);
        drop(quiet);
        lane
    }

    /// Calls waiting for a lane now.
    #[cfg(test)]
    pub(crate) fn lane_waiters(&self) -> usize {
        self.lock().lane_waiters
    }

    /// Background calls holding a lane now.
    #[cfg(test)]
    pub(crate) fn in_lanes(&self) -> usize {
        self.lock().in_lanes
    }
}

impl Drop for Lane {
    fn drop(&mut self) {
        let mut calls = self.0.lock();
        calls.in_lanes = calls.in_lanes.saturating_sub(1);
        // Calls waiting for a lane and paused calls share the condition
        // variable: wake them all, each checks its own condition.
        self.0.resumed.notify_all();
    }
}

/// A call's store being torn down: a background call's thread stays in the
/// idle class and keeps its lane until this is dropped.
#[derive(Debug)]
#[must_use = "drop it once the store is gone"]
pub(crate) struct Teardown {
    // Dropped in this order: the lane is free before the thread leaves the
    // idle class.
    _lane: Option<Lane>,
    _idle: Option<IdleClass>,
}

impl Teardown {
    pub(super) fn new(idle: Option<IdleClass>, lane: Option<Lane>) -> Self {
        Self {
            _lane: lane,
            _idle: idle,
        }
    }
}
