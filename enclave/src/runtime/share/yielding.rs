//! A background call's yield timer (`yield_timer.rs`): armed while other
//! plugins' short calls came within the last window (100 ms), disarmed
//! while the call sleeps. A background call alone, or beside other busy
//! plugins only, pays nothing for it: the timer's signals cost about 20 µs
//! each on a virtual machine (measured, `docs/benchmarks.md`), a fifth of a
//! spinning call's CPU at 100 µs.

use std::sync::Arc;
use std::time::Instant;

use super::{CallPace, CpuShare};
use crate::runtime::yield_timer::YieldTimer;

impl CallPace {
    /// The call runs in the background from now on: it gets a timer, armed
    /// if other plugins are being called.
    pub(super) fn start_yielding(&mut self) {
        if let Some(policy) = self.share.policy.filter(|_| self.yield_timer.is_none()) {
            self.yield_timer = YieldTimer::new(policy.yield_every);
        }
        self.update_yielding();
    }

    /// Arms the timer while other plugins are being called, disarms it
    /// otherwise; at every tick the background call reaches.
    pub(super) fn update_yielding(&mut self) {
        if let Some(timer) = &mut self.yield_timer {
            timer.set(
                self.share
                    .others_called_lately(&self.history, Instant::now()),
            );
        }
    }

    /// Runs `wait` (a sleep) with the timer stopped, so that its signals
    /// do not wake the thread for nothing.
    pub(super) fn quietly<T>(&self, wait: impl FnOnce(&Arc<CpuShare>) -> T) -> T {
        if let Some(timer) = &self.yield_timer {
            timer.suspend();
        }
        let result = wait(&self.share);
        if let Some(timer) = &self.yield_timer {
            timer.restore();
        }
        result
    }

    /// Sleeps while short calls occupy every core, at most `pause`.
    pub(super) fn give_way(&self, pause: std::time::Duration) {
        self.quietly(|share| share.give_way(pause));
    }
}
