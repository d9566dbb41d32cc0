//! Lanes: how many background calls run at once.
//!
//! A background call runs only while it holds a [`Lane`]; there are
//! `cores - 1` of them (at least one). However many long calls are in
//! flight, they then keep at most all cores but one busy between them, and
//! the last core is left to short calls. A call waits for a lane at most
//! until its deadline, and keeps it until its store is torn down
//! ([`Teardown`]): releasing tens of MiB a long call dirtied is work of the
//! same kind.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use super::CpuShare;
use crate::runtime::idle_class::IdleClass;

/// A background call's right to run; given back when dropped.
#[derive(Debug)]
pub(crate) struct Lane(Arc<CpuShare>);

impl CpuShare {
    /// Waits up to `wait` for a free lane and takes it.
    pub(super) fn take_lane(self: &Arc<Self>, wait: Duration) -> Option<Lane> {
        let lanes = self.lanes;
        let (mut calls, _) = self
            .resumed
            .wait_timeout_while(self.lock(), wait, |c| c.in_lanes >= lanes)
            .unwrap_or_else(PoisonError::into_inner);
        if calls.in_lanes >= lanes {
            return None;
        }
        calls.in_lanes += 1;
        Some(Lane(Arc::clone(self)))
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
