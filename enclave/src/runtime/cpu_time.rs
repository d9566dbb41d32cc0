//! The CPU time the calling thread has used.
#![allow(
    unsafe_code,
    reason = "clock_gettime has no safe wrapper in std; one call, documented below"
)]

use std::time::Duration;

/// CPU time the calling thread has used so far (user and system), or `None`
/// where the clock is not available.
pub(crate) fn this_thread() -> Option<Duration> {
    // SAFETY: `timespec` is plain integers (and, on some targets, padding):
    // all zeroes is a valid value.
    let mut now: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `now` is a valid, writable `timespec` that outlives the call,
    // which only writes it.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut now) };
    if status != 0 {
        return None;
    }
    let secs = u64::try_from(now.tv_sec).ok()?;
    let nanos = u32::try_from(now.tv_nsec).ok()?;
    Some(Duration::new(secs, nanos))
}
