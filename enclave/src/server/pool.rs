//! The lane pool: the threads that read requests and run plugins, shared by
//! every connection.
//!
//! A job is either "lead this connection" (read its next requests, see
//! `lanes.rs`) or "run this queued invocation" (see `dispatch.rs`). A job goes
//! to a lane waiting for work, to a new lane, or — with the pool at its bound —
//! to the next lane that comes free. Lanes that find no work for
//! [`ServerConfig::lane_idle_timeout`](super::ServerConfig::lane_idle_timeout)
//! end, so a burst leaves no threads behind.
//!
//! The bound is what makes the pool safe to share. A lane is at any moment
//! idle, leading one connection (at most one leader per connection), or
//! running one invocation while holding an invocation slot (at most
//! `slots` across the server). With `slots + max_connections + 1` lanes at
//! most, a lane that is neither leading nor running always exists or is on
//! its way back, so a connection that needs a reader gets one as soon as that
//! lane is free: control requests are read even when every slot runs a long
//! call.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Work for a lane.
pub(super) type Job = Box<dyn FnOnce() + Send>;

/// Threads shared by the server's connections.
pub(super) struct Pool {
    state: Mutex<State>,
    work: Condvar,
    max_lanes: usize,
    idle_timeout: Duration,
    stack_bytes: usize,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// Lanes running, including idle ones.
    live: usize,
    /// Lanes waiting for work.
    idle: usize,
}

impl Pool {
    /// A pool of at most `max_lanes` threads (at least 1) with `stack_bytes`
    /// of stack each; no thread starts before the first job.
    pub(super) fn new(max_lanes: usize, idle_timeout: Duration, stack_bytes: usize) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::default(),
            work: Condvar::new(),
            max_lanes: max_lanes.max(1),
            idle_timeout,
            stack_bytes,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the state consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lanes running, idle ones included.
    #[cfg(test)]
    pub(super) fn lanes(&self) -> usize {
        self.lock().live
    }

    /// Runs `job` on a waiting lane, a new one, or the next lane to finish
    /// its work.
    pub(super) fn submit(self: &Arc<Self>, job: Job) {
        let mut state = self.lock();
        state.queue.push_back(job);
        if state.queue.len() <= state.idle {
            // Enough lanes are waiting to take every queued job.
            self.work.notify_one();
        } else if state.live < self.max_lanes {
            state.live += 1;
            if !self.spawn() {
                state.live -= 1;
            }
        }
    }

    /// Starts a lane already counted in `live`; `false` (logged) if no thread
    /// could be started — the job then waits for a lane to come free.
    fn spawn(self: &Arc<Self>) -> bool {
        let pool = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("enclet-lane".to_owned())
            .stack_size(self.stack_bytes)
            .spawn(move || pool.run());
        if let Err(e) = &spawned {
            tracing::warn!(error = %e, "cannot start a lane");
        }
        spawned.is_ok()
    }

    fn run(&self) {
        let _counted = Counted(self);
        let mut state = self.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                job();
                state = self.lock();
                continue;
            }
            state.idle += 1;
            let (guard, waited) = self
                .work
                .wait_timeout(state, self.idle_timeout)
                .unwrap_or_else(PoisonError::into_inner);
            state = guard;
            state.idle -= 1;
            if waited.timed_out() && state.queue.is_empty() {
                // Idle for the whole timeout: retire.
                drop(state);
                return;
            }
        }
    }
}

/// Counts a lane out however it ends (a job that panicked included: there is
/// no code meant to).
struct Counted<'a>(&'a Pool);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.lock().live -= 1;
    }
}
