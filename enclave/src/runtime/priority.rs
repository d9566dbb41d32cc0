//! Long calls yield the CPU to short ones.
//!
//! A call that is still running after [`LONG_CALL_TICKS`] epoch ticks (10 ms
//! with the default 5 ms tick) has its thread's nice value raised to
//! [`LONG_CALL_NICE`] for the rest of the call, and restored when the call's
//! store is dropped (on the same thread). The kernel then runs any short call
//! that becomes runnable ahead of it: a plugin spinning until its fuel or
//! deadline runs out costs the well-behaved plugins beside it little latency,
//! even when there are fewer cores than runnable calls. Nothing is taken
//! from the long call that nobody else wants: it still runs whenever a core
//! is free, under the same fuel and deadline.
//!
//! Linux lets any thread lower its own priority; raising it back needs
//! `CAP_SYS_NICE` or an `RLIMIT_NICE` allowance. Where the restore is not
//! permitted the thread stays at the lower priority (said once in the log):
//! later calls on it still run, only less eagerly, and the server's lanes
//! retire idle threads.

#![allow(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering};

/// Epoch ticks after which a call counts as long.
pub(crate) const LONG_CALL_TICKS: u64 = 2;
/// The nice value of a thread running a long call (the lowest priority).
pub(crate) const LONG_CALL_NICE: i32 = 19;

static RESTORE_REFUSED: AtomicBool = AtomicBool::new(false);

/// The calling thread's lowered priority; restores it when dropped.
#[derive(Debug)]
pub(crate) struct Lowered {
    tid: libc::id_t,
    previous: i32,
}

/// Lowers the calling thread's priority to [`LONG_CALL_NICE`], or `None`
/// when it could not be read or changed (the call then runs as it was).
pub(crate) fn lower_current_thread() -> Option<Lowered> {
    let tid = current_tid()?;
    let previous = nice_of(tid)?;
    if previous >= LONG_CALL_NICE {
        return None;
    }
    set_nice(tid, LONG_CALL_NICE).then_some(Lowered { tid, previous })
}

impl Drop for Lowered {
    fn drop(&mut self) {
        if !set_nice(self.tid, self.previous) && !RESTORE_REFUSED.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "cannot restore an invocation thread's priority (needs CAP_SYS_NICE): \
                 it runs later calls at nice {LONG_CALL_NICE}"
            );
        }
    }
}

/// The calling thread's kernel id.
pub(crate) fn current_tid() -> Option<libc::id_t> {
    // SAFETY: `gettid` takes no arguments, touches no memory and cannot fail.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) };
    libc::id_t::try_from(tid).ok()
}

/// The nice value of thread `tid`.
pub(crate) fn nice_of(tid: libc::id_t) -> Option<i32> {
    // `getpriority` may legitimately return -1: errno tells an error apart.
    errno_clear();
    // SAFETY: plain syscall on integer arguments; no memory is passed.
    let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, tid) };
    (nice != -1 || errno() == 0).then_some(nice)
}

fn set_nice(tid: libc::id_t, nice: i32) -> bool {
    // SAFETY: plain syscall on integer arguments; no memory is passed. With
    // PRIO_PROCESS and a thread id, Linux changes that thread only.
    unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, nice) == 0 }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn errno_clear() {
    // SAFETY: `__errno_location` returns this thread's errno slot, valid for
    // the thread's lifetime; writing an int to it is what it is for.
    unsafe { *libc::__errno_location() = 0 };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lowered_thread_runs_at_the_lowest_priority_until_dropped() {
        let other = current_tid().unwrap();
        std::thread::spawn(move || {
            let tid = current_tid().unwrap();
            let before = nice_of(tid).unwrap();
            let lowered = lower_current_thread().expect("a thread may lower itself");
            assert_eq!(nice_of(tid), Some(LONG_CALL_NICE));
            // Only this thread: the process's other threads keep theirs.
            assert_eq!(nice_of(other), Some(before));
            // Already lowest: nothing to do.
            assert!(lower_current_thread().is_none());
            drop(lowered);
            // Restored where permitted (root, or CAP_SYS_NICE); otherwise it
            // stays lowered, never anything else.
            let after = nice_of(tid).unwrap();
            assert!(after == before || after == LONG_CALL_NICE, "{after}");
        })
        .join()
        .unwrap();
    }
}
