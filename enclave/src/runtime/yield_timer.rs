//! Making a background call's thread give up its CPU every `interval`
//! (default 100 µs) while it runs and other plugins are being called.
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
//! So a background call arms a [`YieldTimer`] (when, `share/yielding.rs`):
//! a per-thread POSIX timer on the monotonic clock whose signal is delivered
//! to that thread at the return from the timer interrupt, wherever its code
//! is; the handler calls `sched_yield`, and the kernel runs whatever waits
//! on that CPU first. With nothing waiting the yield returns at once, but
//! the signal is not free: about 20 µs each on a virtual machine (measured,
//! `docs/benchmarks.md`), a fifth of a core at 100 µs. The timer is created
//! when first armed, suspended while the call sleeps (pauses, waits for a
//! lane) so that it does not wake it for nothing, and deleted with the call.
//!
//! The signal may come while the call's thread holds a lock (the share's,
//! or wasmtime's or the log writer's inside a host call): it then yields
//! with the lock held, as it may be preempted with it held in the idle
//! class; others needing the lock wait until it runs again, which the woken
//! threads it yielded to do not delay for long.

#![allow(
    unsafe_code,
    reason = "sigaction, timer_create, timer_settime and sched_yield have no safe wrapper"
)]

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::idle_class::this_thread;

/// The real-time signal the timers raise: high in the range, away from the
/// lowest ones C libraries keep for themselves.
const SIGNAL: libc::c_int = 60;

thread_local! {
    /// Times this thread gave up the CPU on a timer's signal. A `const`
    /// thread-local without destructor: plain memory, safe to touch from a
    /// signal handler.
    static YIELDS: AtomicU64 = const { AtomicU64::new(0) };
}

#[cfg(test)]
thread_local! {
    /// Times this thread armed or disarmed a timer.
    static SETTIMES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Times the calling thread gave up the CPU on a [`YieldTimer`]'s signal.
#[cfg(test)]
pub(crate) fn yields_here() -> u64 {
    YIELDS.with(|n| n.load(Ordering::Relaxed))
}

/// Times the calling thread armed or disarmed a [`YieldTimer`].
#[cfg(test)]
pub(crate) fn settimes_here() -> u64 {
    SETTIMES.with(std::cell::Cell::get)
}

/// A timer raising [`SIGNAL`] every `interval` while armed, on the thread
/// that armed it first; deleted when dropped. Arm it only from that thread.
#[derive(Debug)]
pub(crate) struct YieldTimer {
    /// The kernel's timer, once created.
    id: Option<libc::c_int>,
    /// Creating it failed: not tried again.
    failed: bool,
    interval: Duration,
    /// Whether it should fire (outside [`quiet`](Self::quiet)).
    armed: bool,
}

impl YieldTimer {
    /// A timer firing every `interval` once armed; `None` for a zero
    /// interval. Costs nothing until armed.
    pub(crate) fn new(interval: Duration) -> Option<Self> {
        (!interval.is_zero()).then_some(Self {
            id: None,
            failed: false,
            interval,
            armed: false,
        })
    }

    /// Arms (`true`) or disarms the timer, if it is not so already. If the
    /// signal handler could not be installed or the kernel refuses a timer
    /// it stays disarmed: the call then yields only at epoch ticks.
    pub(crate) fn set(&mut self, armed: bool) {
        if armed == self.armed {
            return;
        }
        if self.id.is_none() && !self.failed {
            self.id = handler_installed().then(create).flatten();
            self.failed = self.id.is_none();
        }
        if self.id.is_some() && self.settime(armed) {
            self.armed = armed;
        }
    }

    /// Stops the signals until the guard is dropped, for a sleep.
    pub(crate) fn quiet(&self) -> Quiet<'_> {
        if self.armed {
            self.settime(false);
        }
        Quiet(self)
    }

    fn settime(&self, on: bool) -> bool {
        let Some(id) = self.id else {
            return false;
        };
        #[cfg(test)]
        SETTIMES.with(|n| n.set(n.get() + 1));
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
                id,
                0,
                &raw const spec,
                std::ptr::null_mut::<libc::itimerspec>(),
            )
        };
        r == 0
    }
}

/// A [`YieldTimer`] kept quiet for a sleep; armed again, if it was, when
/// dropped.
#[derive(Debug)]
#[must_use = "the timer is quiet only while this lives"]
pub(crate) struct Quiet<'a>(&'a YieldTimer);

impl Drop for Quiet<'_> {
    fn drop(&mut self) {
        if self.0.armed {
            self.0.settime(true);
        }
    }
}

impl Drop for YieldTimer {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            // SAFETY: deletes the timer this value owns; no memory is passed.
            // A signal already pending is still delivered, harmlessly: the
            // handler stays installed.
            unsafe {
                libc::syscall(libc::SYS_timer_delete, id);
            }
        }
    }
}

/// Creates a timer on the monotonic clock signalling the calling thread,
/// disarmed.
fn create() -> Option<libc::c_int> {
    // SAFETY: `sigevent` is plain data; all-zero is a valid value.
    let mut event: libc::sigevent = unsafe { std::mem::zeroed() };
    event.sigev_notify = libc::SIGEV_THREAD_ID;
    event.sigev_signo = SIGNAL;
    event.sigev_notify_thread_id = this_thread();
    // The kernel's timer id is an `int` (not the C library's `timer_t`).
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
    if r != 0 {
        tracing::warn!(
            error = %std::io::Error::last_os_error(),
            "no yield timer: this background call yields only at epoch ticks"
        );
    }
    (r == 0).then_some(id)
}

/// Installs the handler of [`SIGNAL`] once per process, unless something
/// else handles that signal already; whether ours is in place.
fn handler_installed() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| {
        // SAFETY: `sigaction` is plain data; all-zero is a valid value.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: only reads the current action into `old`, which outlives
        // the call.
        let read = unsafe { libc::sigaction(SIGNAL, std::ptr::null(), &raw mut old) == 0 };
        if !read || old.sa_sigaction != libc::SIG_DFL {
            tracing::warn!(
                signal = SIGNAL,
                "the signal is in use: background calls yield only at epoch ticks"
            );
            return false;
        }
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
/// and an atomic count in plain thread-local memory.
extern "C" fn on_signal(_: libc::c_int) {
    // SAFETY: a plain system call without arguments.
    unsafe {
        libc::syscall(libc::SYS_sched_yield);
    }
    YIELDS.with(|n| n.fetch_add(1, Ordering::Relaxed));
}

fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(d.subsec_nanos()),
    }
}

#[cfg(test)]
mod tests;
