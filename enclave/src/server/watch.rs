//! The watcher: wakes a lane for a connection that has data while none of its
//! lanes is reading.
//!
//! A leader that goes off to run a call without handing leadership on (the
//! common case of one request at a time) *arms* its socket here: one
//! `epoll_ctl`, no wake-up. If a frame arrives before it is back, the
//! watcher's thread sees it and has another lane take over reading; if not,
//! the leader disarms on return (another `epoll_ctl`). So a lone request costs
//! no wake-up beyond the one that delivers it, and concurrent requests still
//! run in parallel.
//!
//! The watcher knows connections only as [`Rescue`]: it depends on nothing
//! else in the server.

use std::collections::HashMap;
use std::io::{self, Write as _};
use std::os::fd::BorrowedFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::thread;

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

/// What the watcher calls when a watched socket becomes readable.
pub(super) trait Rescue: Send + Sync {
    /// A frame arrived while no lane was reading: have one read it.
    fn rescue(self: Arc<Self>);
}

/// Key of the watcher's own stop socket.
const STOP_KEY: u64 = 0;

/// Shared by the server's connections; its thread ends when the last
/// [`WatcherHandle`] is dropped.
pub(super) struct Watcher {
    epoll: Epoll,
    conns: Mutex<HashMap<u64, Weak<dyn Rescue>>>,
    next_key: AtomicU64,
}

/// Owns the watcher thread: dropping it stops and joins the thread.
pub(super) struct WatcherHandle {
    pub(super) watcher: Arc<Watcher>,
    stop: UnixStream,
    thread: Option<thread::JoinHandle<()>>,
}

impl WatcherHandle {
    /// Creates the epoll instance and starts the thread.
    pub(super) fn start() -> io::Result<Self> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        let (stop, stopped) = UnixStream::pair()?;
        epoll.add(&stopped, EpollEvent::new(EpollFlags::EPOLLIN, STOP_KEY))?;
        let watcher = Arc::new(Watcher {
            epoll,
            conns: Mutex::default(),
            next_key: AtomicU64::new(STOP_KEY + 1),
        });
        let run = Arc::clone(&watcher);
        let thread = thread::Builder::new()
            .name("enclet-watch".to_owned())
            .spawn(move || {
                run.run();
                drop(stopped);
            })?;
        Ok(Self {
            watcher,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for WatcherHandle {
    fn drop(&mut self) {
        // If the write fails the thread is already gone.
        let _ = (&self.stop).write_all(b"s");
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Watcher {
    fn run(&self) {
        let mut events = [EpollEvent::empty(); 64];
        loop {
            let n = match self.epoll.wait(&mut events, EpollTimeout::NONE) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "connection watcher stopped");
                    return;
                }
            };
            for event in events.iter().take(n) {
                if event.data() == STOP_KEY {
                    return;
                }
                let conn = self.lock().get(&event.data()).and_then(Weak::upgrade);
                if let Some(conn) = conn {
                    conn.rescue();
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Weak<dyn Rescue>>> {
        // Entries are inserted and removed whole.
        self.conns.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a connection (disarmed); returns its key.
    pub(super) fn register(&self, conn: Weak<dyn Rescue>, fd: BorrowedFd<'_>) -> io::Result<u64> {
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        self.epoll
            .add(fd, EpollEvent::new(EpollFlags::EPOLLONESHOT, key))?;
        self.lock().insert(key, conn);
        Ok(key)
    }

    /// Forgets a connection; call before its socket is closed.
    pub(super) fn unregister(&self, key: u64, fd: BorrowedFd<'_>) {
        let _ = self.epoll.delete(fd);
        self.lock().remove(&key);
    }

    /// Reports the next readability of `fd` once (immediately if readable now).
    pub(super) fn arm(&self, key: u64, fd: BorrowedFd<'_>) -> io::Result<()> {
        let mut event = EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLONESHOT, key);
        Ok(self.epoll.modify(fd, &mut event)?)
    }

    /// Stops reporting readability of `fd` (hang-ups and errors still wake a lane,
    /// which then finds the connection closed).
    pub(super) fn disarm(&self, key: u64, fd: BorrowedFd<'_>) -> io::Result<()> {
        let mut event = EpollEvent::new(EpollFlags::EPOLLONESHOT, key);
        Ok(self.epoll.modify(fd, &mut event)?)
    }
}
