//! Waiting for a future on a plain thread, by parking it.
//!
//! Lane threads and blocking invocations wait for semaphore permits (tokio
//! semaphores, shared with async code). Those futures need no reactor, only a
//! waker, so a thread can wait for them by parking until woken, without
//! entering the async runtime.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` to completion on the calling thread, parking it while the
/// future is pending. Only for futures that are woken by other threads and
/// need no reactor or timer (semaphores, channels).
pub(crate) fn wait<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        // Spurious unparks just poll again.
        thread::park();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::sync::Semaphore;

    #[test]
    fn waits_until_another_thread_releases_a_permit() {
        let permits = Arc::new(Semaphore::new(1));
        let held = Arc::clone(&permits).try_acquire_owned().unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            drop(held);
        });
        let permit = super::wait(Arc::clone(&permits).acquire_owned()).unwrap();
        assert_eq!(permits.available_permits(), 0);
        drop(permit);
        releaser.join().unwrap();
        assert_eq!(permits.available_permits(), 1);
    }
}
