//! Moving the calling thread into the kernel's idle scheduling class
//! (`SCHED_IDLE`) and back.
//!
//! A background call (`share.rs`) runs in the idle class where the kernel
//! allows the way back: any thread may enter it, but leaving it needs
//! `CAP_SYS_NICE` or an `RLIMIT_NICE` allowance. [`IdleClass::available`]
//! finds out once, on a throwaway thread, so that no thread that later runs
//! short calls or reads requests can be left stuck in the idle class. Where it
//! is not available, background calls still give way to short ones by
//! pausing; they only lose the kernel's help between pauses.

#![allow(
    unsafe_code,
    reason = "gettid, sched_getscheduler and sched_setscheduler have no safe wrapper"
)]

/// A thread in the idle class; back in its previous class when dropped
/// (wherever that happens: the thread is named by its id).
#[derive(Debug)]
pub(crate) struct IdleClass {
    tid: libc::pid_t,
    previous: libc::c_int,
}

impl IdleClass {
    /// Whether threads of this process may enter the idle class and come
    /// back: tried on a thread of its own.
    pub(crate) fn available() -> bool {
        std::thread::Builder::new()
            .name("enclet-probe".to_owned())
            .spawn(|| match Self::enter() {
                Some(idle) => idle.leave(),
                None => false,
            })
            .ok()
            .and_then(|t| t.join().ok())
            .unwrap_or(false)
    }

    /// Moves the calling thread into the idle class; `None` if it is not in
    /// the normal or batch class (an operator's choice, kept) or the kernel
    /// refuses.
    ///
    /// Then gives up the CPU once: the kernel does not choose again when the
    /// running thread changes class at an unchanged nice value, so without
    /// it a thread woken for a short call while this one was still in the
    /// normal class kept waiting behind it, now in the idle class, until the
    /// next timer tick or system call (measured: most of the 1 ms a spinning
    /// call runs between epoch ticks).
    pub(crate) fn enter() -> Option<Self> {
        let tid = this_thread();
        let previous = policy_of(tid)?;
        if previous != libc::SCHED_OTHER && previous != libc::SCHED_BATCH {
            return None;
        }
        if !set_policy(tid, libc::SCHED_IDLE) {
            return None;
        }
        std::thread::yield_now();
        Some(Self { tid, previous })
    }

    /// Back to the previous class; `false` if the kernel refused.
    fn leave(self) -> bool {
        let back = set_policy(self.tid, self.previous);
        std::mem::forget(self);
        back
    }
}

impl Drop for IdleClass {
    fn drop(&mut self) {
        // Only on its own thread: another thread may have reused the id of
        // one that ended.
        if this_thread() != self.tid {
            tracing::error!("an idle-class guard was dropped on another thread; left as it is");
            return;
        }
        if !set_policy(self.tid, self.previous) {
            // `available` said the way back is open; a refusal now means the
            // process's limits changed while it ran.
            tracing::error!("an invocation thread could not leave the idle scheduling class");
        }
    }
}

// The raw system calls, not libc's wrappers: musl's `sched_getscheduler`
// and `sched_setscheduler` are stubs that fail with ENOSYS (it treats the
// policy as per-process, which Linux's is not), and the enclave image is a
// static musl build.

/// The calling thread's kernel id.
pub(super) fn this_thread() -> libc::pid_t {
    // SAFETY: `gettid` takes no arguments, touches no memory, cannot fail.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) };
    libc::pid_t::try_from(tid).unwrap_or(0)
}

/// Thread `tid`'s scheduling policy.
fn policy_of(tid: libc::pid_t) -> Option<libc::c_int> {
    // SAFETY: plain system call on an integer argument; no memory is passed.
    let policy = unsafe { libc::syscall(libc::SYS_sched_getscheduler, tid) };
    libc::c_int::try_from(policy).ok().filter(|p| *p >= 0)
}

/// Sets thread `tid`'s policy (priority 0, as the normal, batch and idle
/// classes require).
fn set_policy(tid: libc::pid_t, policy: libc::c_int) -> bool {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid `sched_param` that outlives the call, which
    // only reads it. With a thread id, Linux changes that thread only.
    unsafe { libc::syscall(libc::SYS_sched_setscheduler, tid, policy, &raw const param) == 0 }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::{IdleClass, policy_of, this_thread};

    fn policy_of_this_thread() -> Option<libc::c_int> {
        policy_of(this_thread())
    }

    #[test]
    fn a_thread_in_the_idle_class_is_back_in_its_class_after_drop() {
        std::thread::spawn(|| {
            let before = policy_of_this_thread().unwrap();
            // Probed from a thread in the normal class: threads inherit it.
            let may_leave = IdleClass::available();
            let Some(idle) = IdleClass::enter() else {
                panic!("any thread may enter the idle class");
            };
            assert_eq!(policy_of_this_thread(), Some(libc::SCHED_IDLE));
            // Already idle: nothing to enter.
            assert!(IdleClass::enter().is_none());
            drop(idle);
            let after = policy_of_this_thread().unwrap();
            if may_leave {
                assert_eq!(after, before);
            } else {
                assert_eq!(after, libc::SCHED_IDLE);
            }
        })
        .join()
        .unwrap();
    }

    /// Regression test: `enter` used to leave the thread running, so a
    /// thread of the normal class woken while this one was still in that
    /// class stayed behind it, now in the idle class, until the next timer
    /// tick or system call. Both threads share one CPU here. A woken thread
    /// sometimes runs at once (the kernel may preempt the waker): such a
    /// round says nothing and is repeated.
    #[test]
    fn a_thread_woken_before_another_enters_the_idle_class_runs_before_it_goes_on() {
        let mut telling = 0;
        for _ in 0..200 {
            match std::thread::spawn(wake_then_enter).join().unwrap() {
                Round::WokenRanAtOnce => {}
                Round::WokenRanFirst => telling += 1,
                Round::EnteringWentOn => {
                    panic!("the woken thread did not run while this one entered the idle class")
                }
            }
            if telling == 20 {
                return;
            }
        }
        if telling == 0 {
            // A kernel that lets a woken thread preempt its waker at once
            // leaves nothing to observe here: not a failure.
            eprintln!("every woken thread ran at once: nothing was tested");
        }
    }

    enum Round {
        WokenRanAtOnce,
        WokenRanFirst,
        EnteringWentOn,
    }

    /// Wakes a thread on this CPU, then enters the idle class.
    fn wake_then_enter() -> Round {
        let cpu = pin_to_current_cpu();
        let ran = Arc::new(AtomicBool::new(false));
        let (wake, woken) = std::sync::mpsc::channel::<()>();
        let sleeper = {
            let ran = Arc::clone(&ran);
            std::thread::spawn(move || {
                pin_to(cpu);
                if woken.recv().is_ok() {
                    ran.store(true, Ordering::SeqCst);
                }
            })
        };
        // Let it block, and start this thread's turn afresh.
        std::thread::sleep(Duration::from_millis(2));
        wake.send(()).unwrap();
        if ran.load(Ordering::SeqCst) {
            sleeper.join().unwrap();
            return Round::WokenRanAtOnce;
        }
        let idle = IdleClass::enter();
        let ran_first = ran.load(Ordering::SeqCst);
        assert!(idle.is_some(), "any thread may enter the idle class");
        drop(idle);
        sleeper.join().unwrap();
        if ran_first {
            Round::WokenRanFirst
        } else {
            Round::EnteringWentOn
        }
    }

    /// Pins the calling thread to the CPU it runs on; returns that CPU.
    fn pin_to_current_cpu() -> usize {
        // SAFETY: `sched_getcpu` takes no arguments and touches no memory.
        let cpu = unsafe { libc::sched_getcpu() };
        let cpu = usize::try_from(cpu).unwrap();
        pin_to(cpu);
        cpu
    }

    fn pin_to(cpu: usize) {
        // SAFETY: `set` is a plain bit set, zeroed and then filled by the
        // libc macros; the kernel only reads it, and pid 0 is this thread.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            assert_eq!(
                libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &raw const set),
                0
            );
        }
    }

    #[test]
    fn only_the_calling_thread_changes_class() {
        let here = policy_of_this_thread().unwrap();
        std::thread::spawn(|| {
            let _idle = IdleClass::enter();
            assert_eq!(policy_of_this_thread(), Some(libc::SCHED_IDLE));
        })
        .join()
        .unwrap();
        assert_eq!(policy_of_this_thread(), Some(here));
    }
}
