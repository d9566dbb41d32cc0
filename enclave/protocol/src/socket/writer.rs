//! The write side: write now on the caller's thread, queue the rest.
//!
//! Invariant, kept under one lock: a backlog is non-empty only while a flush
//! task runs (`flushing`). So a frame that finds no backlog may go straight to
//! the socket, and one that finds a backlog is queued behind it: frames are
//! written whole and in the order `send` was called.
//!
//! A frame sent with [`FrameWriter::send_tracked`] that had to be queued can
//! be [withdrawn](FrameWriter::withdraw) while none of its bytes has been
//! written: the peer then never sees it. Once its first byte is out it is
//! written whole, so the stream stays well-formed.

use std::collections::VecDeque;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::io::Interest;
use tokio::runtime::Handle;
use tokio::sync::{Notify, OwnedSemaphorePermit};

use super::RawSocket;

/// Writes whole frames to a socket from any thread, never blocking. Cheap to
/// clone; clones share the socket and the backlog.
#[derive(Clone)]
pub struct FrameWriter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FrameWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.inner.state();
        f.debug_struct("FrameWriter")
            .field("backlog", &state.backlog.len())
            .field("backlog_bytes", &state.backlog_bytes)
            .field("failed", &state.failed)
            .finish_non_exhaustive()
    }
}

struct Inner {
    socket: Arc<dyn RawSocket>,
    state: Mutex<State>,
    /// Signalled when a flush task ends (backlog empty or writing failed).
    drained: Notify,
    /// Signalled by [`FrameWriter::abort`] to stop a flush task waiting.
    aborted: Notify,
    runtime: Handle,
}

#[derive(Default)]
struct State {
    backlog: VecDeque<Queued>,
    /// Bytes in the backlog not yet written.
    backlog_bytes: usize,
    /// The ticket the next queued frame gets.
    next_ticket: u64,
    flushing: bool,
    /// Why writing failed; every later `send` fails with it.
    failed: Option<(io::ErrorKind, String)>,
    /// The write side has been shut down.
    finished: bool,
}

impl State {
    fn fail(&mut self, e: &io::Error) {
        self.failed.get_or_insert_with(|| (e.kind(), e.to_string()));
        // Dropping the queued frames releases their holds.
        self.backlog.clear();
        self.backlog_bytes = 0;
    }

    fn closed_error(&self) -> Option<io::Error> {
        if let Some((kind, message)) = &self.failed {
            return Some(io::Error::new(*kind, message.clone()));
        }
        self.finished
            .then(|| io::Error::new(io::ErrorKind::BrokenPipe, "writer finished"))
    }
}

/// Identifies a queued frame for [`FrameWriter::withdraw`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

/// What [`FrameWriter::send_tracked`] did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Written whole to the socket.
    Written,
    /// Queued behind a backlog (or partly written); withdrawable with the
    /// ticket until its first byte is written.
    Queued(Ticket),
    /// Refused: the backlog is full. Nothing was written.
    BacklogFull,
}

/// A frame not yet completely written, with what it holds until then.
struct Queued {
    frame: Vec<u8>,
    written: usize,
    ticket: u64,
    _hold: Option<OwnedSemaphorePermit>,
}

impl Queued {
    /// Writes as much as the socket takes: `Ok(true)` once the whole frame is
    /// out, `Ok(false)` when the socket would block. Bytes written are taken
    /// off `unsent`.
    fn write_to(&mut self, socket: &dyn RawSocket, unsent: &mut usize) -> io::Result<bool> {
        while let Some(rest) = self.frame.get(self.written..).filter(|r| !r.is_empty()) {
            match socket.write_now(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.written = self.written.saturating_add(n);
                    *unsent = unsent.saturating_sub(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the state consistent; a panic inside
        // one (there is no code that can) would not change that.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl FrameWriter {
    pub(super) fn new(socket: Arc<dyn RawSocket>, runtime: Handle) -> Self {
        Self {
            inner: Arc::new(Inner {
                socket,
                state: Mutex::default(),
                drained: Notify::new(),
                aborted: Notify::new(),
                runtime,
            }),
        }
    }

    /// Sends one encoded frame. Writes what the socket takes now, on this
    /// thread; the rest is written by a flush task, after which `hold` is
    /// dropped. Never blocks.
    ///
    /// # Errors
    /// The error that made an earlier write fail (the peer is gone), or
    /// `BrokenPipe` after [`finish`](Self::finish). The frame is dropped.
    pub fn send(&self, frame: Vec<u8>, hold: Option<OwnedSemaphorePermit>) -> io::Result<()> {
        self.enqueue(frame, hold, usize::MAX).map(drop)
    }

    /// Like [`send`](Self::send), with a bound on the backlog and a way to
    /// take the frame back. Refused ([`Sent::BacklogFull`], nothing written)
    /// when a backlog exists and this frame would take it beyond
    /// `max_backlog` bytes. A frame that finds no backlog is always accepted,
    /// so the backlog never exceeds the larger of `max_backlog` and one frame.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub fn send_tracked(&self, frame: Vec<u8>, max_backlog: usize) -> io::Result<Sent> {
        self.enqueue(frame, None, max_backlog)
    }

    fn enqueue(
        &self,
        frame: Vec<u8>,
        hold: Option<OwnedSemaphorePermit>,
        max_backlog: usize,
    ) -> io::Result<Sent> {
        let mut guard = self.inner.state();
        let state = &mut *guard;
        if let Some(e) = state.closed_error() {
            return Err(e);
        }
        let room = max_backlog.saturating_sub(state.backlog_bytes);
        if !state.backlog.is_empty() && frame.len() > room {
            return Ok(Sent::BacklogFull);
        }
        let ticket = state.next_ticket;
        state.next_ticket = ticket.wrapping_add(1);
        let mut queued = Queued {
            frame,
            written: 0,
            ticket,
            _hold: hold,
        };
        if state.backlog.is_empty() {
            match queued.write_to(&*self.inner.socket, &mut 0) {
                Ok(true) => return Ok(Sent::Written),
                Ok(false) => {}
                Err(e) => {
                    state.fail(&e);
                    return Err(e);
                }
            }
        }
        let unsent = queued.frame.len().saturating_sub(queued.written);
        state.backlog_bytes = state.backlog_bytes.saturating_add(unsent);
        state.backlog.push_back(queued);
        if !state.flushing {
            state.flushing = true;
            self.inner.runtime.spawn(flush(Arc::clone(&self.inner)));
        }
        Ok(Sent::Queued(Ticket(ticket)))
    }

    /// Takes a queued frame back if none of its bytes has been written yet
    /// (releasing its hold): the peer will never see it. `false` when it is
    /// already partly or wholly written (it will arrive whole, unless the
    /// connection fails) or was dropped because writing failed.
    #[must_use]
    pub fn withdraw(&self, ticket: Ticket) -> bool {
        let mut guard = self.inner.state();
        let state = &mut *guard;
        let Some(at) = state
            .backlog
            .iter()
            .position(|q| q.ticket == ticket.0 && q.written == 0)
        else {
            return false;
        };
        if let Some(removed) = state.backlog.remove(at) {
            state.backlog_bytes = state.backlog_bytes.saturating_sub(removed.frame.len());
        }
        true
    }

    /// Bytes sent but not yet written to the socket.
    #[must_use]
    pub fn backlog_bytes(&self) -> usize {
        self.inner.state().backlog_bytes
    }

    /// Gives up: drops everything not yet written (releasing its holds),
    /// stops the flush task, fails every later `send` and shuts down the write
    /// side, so the peer sees the end of the stream at once.
    pub fn abort(&self) {
        let mut state = self.inner.state();
        state.fail(&io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "writer aborted",
        ));
        drop(state);
        self.inner.aborted.notify_one();
        // The peer may be gone already; nothing more to do then.
        let _ = self.inner.socket.shutdown_write();
    }

    /// True once a write has failed; every later `send` fails.
    #[must_use]
    pub fn has_failed(&self) -> bool {
        self.inner.state().failed.is_some()
    }

    /// Waits until everything sent has been written (or writing failed), then
    /// shuts down the write side. Later sends fail.
    ///
    /// # Errors
    /// The error that made writing fail, or the OS error from the shutdown.
    pub async fn finish(&self) -> io::Result<()> {
        loop {
            let mut drained = pin!(self.inner.drained.notified());
            drained.as_mut().enable();
            {
                let mut state = self.inner.state();
                if !state.flushing {
                    if let Some((kind, message)) = &state.failed {
                        return Err(io::Error::new(*kind, message.clone()));
                    }
                    if state.finished {
                        return Ok(());
                    }
                    state.finished = true;
                    return self.inner.socket.shutdown_write();
                }
            }
            drained.await;
        }
    }
}

/// Writes the backlog as the socket drains, then ends.
async fn flush(inner: Arc<Inner>) {
    if let Err(e) = flush_backlog(&inner).await {
        tracing::debug!(error = %e, "socket write failed");
        let mut state = inner.state();
        state.fail(&e);
        state.flushing = false;
    }
    inner.drained.notify_waiters();
}

/// Returns once the backlog is empty, having cleared `flushing` under the lock
/// that saw it empty (so a frame queued later starts a new flush task).
async fn flush_backlog(inner: &Inner) -> io::Result<()> {
    // A second registration of the same socket, for writability, alive only
    // while there is a backlog.
    let fd: OwnedFd = inner.socket.as_fd().try_clone_to_owned()?;
    let writable = super::register(fd, Interest::WRITABLE)?;
    loop {
        let mut ready = tokio::select! {
            ready = writable.writable() => ready?,
            () = inner.aborted.notified() => {
                return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "writer aborted"));
            }
        };
        {
            let mut guard = inner.state();
            let state = &mut *guard;
            while let Some(front) = state.backlog.front_mut() {
                if !front.write_to(&*inner.socket, &mut state.backlog_bytes)? {
                    break;
                }
                state.backlog.pop_front();
            }
            if state.backlog.is_empty() {
                state.flushing = false;
                return Ok(());
            }
        }
        ready.clear_ready();
    }
}
