//! Making a background call's thread give up the CPU every few hundred
//! microseconds while it runs.
//!
//! A thread woken for a short call may land on a CPU where a background call
//! spins. Measured on a 2-vCPU machine: the kernel left such woken threads
//! waiting behind a spinning thread until the next timer tick (4 ms there),
//! whether the spinner ran in the idle class or at nice 19, and whether or
//! not it entered the kernel meanwhile (a plain system call every 100 µs
//! changed nothing); a spinner calling `sched_yield` every 100 µs let them
//! run within that time. Epoch ticks come every millisecond at best, and the
//! ticker thread is woken the same way, so a background call cannot count on
//! them for this.
//!
//! So a background call arms a [`YieldTimer`] (while other plugins are
//! being called: `share/yielding.rs`): a per-thread POSIX timer on
//! the monotonic clock whose signal is delivered to that thread, at the
//! return from the timer interrupt, wherever its code is; the handler calls
//! `sched_yield`, and the kernel runs whatever waits on that CPU first. With
//! nothing waiting the yield returns at once (a system call and a signal
//! delivery per interval: about 1 % of a core at 250 µs). The timer is
//! disarmed while the call sleeps (pauses, waits for a lane) so that it does
//! not wake it for nothing, and deleted when the call has run.

#![allow(
    unsafe_code,
    reason = "sigaction, timer_create, timer_settime and sched_yield have no safe wrapper"
)]

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::Duration;

/// The real-time signal the timers raise: high in the range, away from the
/// lowest ones C libraries keep for themselves.
const SIGNAL: libc::c_int = 60;

thread_local! {
    /// Times this thread gave up the CPU on a timer's signal. A `const`
    /// thread-local without destructor: plain memory, safe to touch from a
    /// signal handler.
    static YIELDS: Cell<u64> = const { Cell::new(0) };
}

/// Times the calling thread gave up the CPU on a [`YieldTimer`]'s signal.
#[cfg(test)]
pub(crate) fn yields_here() -> u64 {
    YIELDS.with(Cell::get)
}

/// A timer raising [`SIGNAL`] on the thread that created it every
/// `interval` while armed; deleted when dropped.
#[derive(Debug)]
pub(crate) struct YieldTimer {
    id: libc::c_int,
    interval: Duration,
    /// Whether it should fire (outside [`suspend`](Self::suspend)).
    armed: bool,
}

impl YieldTimer {
    /// A timer for the calling thread, disarmed. `None` if `interval` is
    /// zero, the signal handler could not be installed or the kernel refused
    /// a timer: the call then runs without it (it still yields at every
    /// epoch tick).
    pub(crate) fn new(interval: Duration) -> Option<Self> {
        if !handler_installed() || interval.is_zero() {
            return None;
        }
        let id = create(this_thread())?;
        Some(Self {
            id,
            interval,
            armed: false,
        })
    }

    /// Arms (`true`) or disarms the timer, if it is not so already.
    pub(crate) fn set(&mut self, armed: bool) {
        if armed != self.armed && self.arm(armed) {
            self.armed = armed;
        }
    }

    /// Stops the signals until [`restore`](Self::restore), before the
    /// thread sleeps.
    pub(crate) fn suspend(&self) {
        if self.armed {
            self.arm(false);
        }
    }

    /// Arms the timer again after [`suspend`](Self::suspend) if it was.
    pub(crate) fn restore(&self) {
        if self.armed {
            self.arm(true);
        }
    }

    fn arm(&self, on: bool) -> bool {
        // An all-zero value disarms.
        let every = timespec(if on { self.interval } else { Duration::ZERO });
        let spec = libc::itimerspec {
            it_interval: every,
            it_value: every,
        };
        // SAFETY: `spec` is a valid `itimerspec` that outlives the call, which
        // only reads it; the old value is not asked for (null). `id` names a
        // timer this value owns.
        let r = unsafe {
            libc::syscall(
                libc::SYS_timer_settime,
                self.id,
                0,
                &raw const spec,
                std::ptr::null_mut::<libc::itimerspec>(),
            )
        };
        r == 0
    }
}

impl Drop for YieldTimer {
    fn drop(&mut self) {
        // SAFETY: deletes the timer this value owns; no memory is passed.
        unsafe {
            libc::syscall(libc::SYS_timer_delete, self.id);
        }
    }
}

/// Creates a timer on the monotonic clock signalling thread `tid`, disarmed.
fn create(tid: libc::pid_t) -> Option<libc::c_int> {
    // SAFETY: `sigevent` is plain data; all-zero is a valid value.
    let mut event: libc::sigevent = unsafe { std::mem::zeroed() };
    event.sigev_notify = libc::SIGEV_THREAD_ID;
    event.sigev_signo = SIGNAL;
    event.sigev_notify_thread_id = tid;
    let mut id: libc::c_int = 0;
    // SAFETY: `event` is a valid `sigevent` the kernel only reads and `id` a
    // valid place for the new timer's id; both outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_timer_create,
            libc::CLOCK_MONOTONIC,
            &raw mut event,
            &raw mut id,
        )
    };
    (r == 0).then_some(id)
}

/// Installs the handler of [`SIGNAL`] once per process; whether it is in
/// place.
fn handler_installed() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| {
        // SAFETY: `sigaction` is plain data; all-zero is a valid value.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // Restart interrupted system calls; run on the thread's alternate
        // signal stack where it has one (threads running wasm do).
        action.sa_flags = libc::SA_RESTART | libc::SA_ONSTACK;
        // SAFETY: `action` is a valid `sigaction` the kernel only reads; the
        // old action is not asked for. The handler is async-signal-safe.
        unsafe { libc::sigaction(SIGNAL, &raw const action, std::ptr::null_mut()) == 0 }
    })
}

/// The signal handler: gives up the CPU. Only a system call, which is
/// async-signal-safe (`sched_yield` cannot fail, so `errno` is untouched),
/// and a count in plain thread-local memory.
extern "C" fn on_signal(_: libc::c_int) {
    // SAFETY: a plain system call without arguments.
    unsafe {
        libc::syscall(libc::SYS_sched_yield);
    }
    YIELDS.with(|n| n.set(n.get().wrapping_add(1)));
}

fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(d.subsec_nanos()),
    }
}

/// The calling thread's kernel id.
fn this_thread() -> libc::pid_t {
    // SAFETY: `gettid` takes no arguments, touches no memory, cannot fail.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) };
    libc::pid_t::try_from(tid).unwrap_or(0)
}

#[cfg(test)]
mod tests;
