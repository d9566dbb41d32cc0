//! When a background call's yield timer (`yield_timer.rs`) is armed: while
//! a plugin other than the call's own started a short call within the last
//! [`YIELD_WINDOW`], checked at every epoch tick the call reaches. A
//! background call alone, or beside other busy plugins only, pays nothing
//! for it: each signal costs about 20 µs on a virtual machine.
//!
//! The window is long next to the gaps between short calls of a busy
//! enclave, so that a plugin called a few times a second is covered as well
//! as one called thousands of times; the first short call after a quiet
//! second may still wait for a kernel tick. Sleeps (pauses, waits for a
//! lane) keep the timer quiet: see `CpuShare::give_way` and
//! `CpuShare::take_lane`.

use std::time::{Duration, Instant};

use super::CallPace;
use crate::runtime::yield_timer::YieldTimer;

/// How recently another plugin must have started a short call for a
/// background call's timer to be armed.
pub(crate) const YIELD_WINDOW: Duration = Duration::from_secs(1);

impl CallPace {
    /// The call runs in the background from now on: it has a timer, armed
    /// while other plugins are being called.
    pub(super) fn start_yielding(&mut self) {
        if self.yield_timer.is_none() {
            self.yield_timer = self
                .share
                .policy
                .and_then(|p| YieldTimer::new(p.yield_every));
        }
        self.update_yielding();
    }

    /// Arms the timer while other plugins are being called, disarms it
    /// otherwise; at every tick the background call reaches.
    pub(super) fn update_yielding(&mut self) {
        if let Some(timer) = &mut self.yield_timer {
            let since = Instant::now().checked_sub(YIELD_WINDOW);
            timer.set(self.share.others_called_since(&self.history, since));
        }
    }
}

#[cfg(test)]
mod tests;
