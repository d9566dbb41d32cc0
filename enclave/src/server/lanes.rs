//! Who reads a connection: one lane of the pool at a time leads it.
//!
//! ```text
//!  lead: poll(socket, stop) ─ read one frame ─ admit (permits) ─ route (dispatch.rs)
//!    ▲        │ went elsewhere (async task, queued invocation): read on
//!    │        └ runs here (invocation with a slot): give up the lead ─┬─ more expected: hand it on
//!    │                                                               └─ else: arm the watcher
//!    │          run the plugin, write the answer
//!    └─ lead again if nobody took over, else back to the pool
//! ```
//!
//! The lane that leads waits on the socket. An invocation that gets a slot
//! at once runs right there and its answer is written from the same thread,
//! so a request crosses no thread between the socket and the plugin and back.
//! Everything else goes elsewhere and the leader reads on.
//!
//! Handing the lead on costs a wake-up, so it happens only when it buys
//! parallelism: at once if more bytes are already buffered or other requests
//! of the connection are in flight, otherwise only if a frame arrives while
//! the leader runs its call (the [watcher](super::watch) reports it and the
//! [pool](super::pool) sends a lane). A lone request thus costs no wake-up
//! beyond the one that delivers it.

use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use enclet_protocol::socket::{BlockingFrameReader, FrameWriter, Next};
use enclet_protocol::{RawSocket, Request, codec};
use tokio::runtime::Handle;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::Server;
use super::answer::reject;
use super::dispatch::{self, Admitted};
use super::watch::{Rescue, Watcher};
use crate::park;

/// Who leads and what the watcher is asked to report.
#[derive(Debug, Default)]
struct Lead {
    /// A lane leads, or a lead job is queued in the pool.
    leading: bool,
    /// Lanes working for the connection, queued lead jobs included.
    live: usize,
    /// The watcher will report the socket's next readability.
    armed: bool,
    closed: bool,
}

/// What the lanes serving one connection share.
pub(super) struct Conn {
    server: Arc<Server>,
    /// Only the leader reads; the lock is never contended.
    reader: Mutex<BlockingFrameReader>,
    socket: Arc<dyn RawSocket>,
    writer: FrameWriter,
    peer: String,
    in_flight: Arc<Semaphore>,
    /// Readable once the server is shutting down.
    stop: Arc<UnixStream>,
    watcher: Arc<Watcher>,
    key: Mutex<Option<u64>>,
    runtime: Handle,
    lead: Mutex<Lead>,
    /// The connection-level error to send before closing, if any.
    closing: Mutex<Option<Vec<u8>>>,
    /// Signalled when the last lane ends.
    ended: Notify,
    /// Set (and `cancel` signalled) when the connection's task ends.
    cancelled: AtomicBool,
    cancel: Notify,
    /// In-flight permits of the connection, in total.
    permits: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here leaves its data consistent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Conn {
    /// Must be called inside the async runtime that serves async requests.
    pub(super) fn new(
        server: Arc<Server>,
        (reader, writer): (BlockingFrameReader, FrameWriter),
        peer: String,
        in_flight: Arc<Semaphore>,
        (stop, watcher): (Arc<UnixStream>, Arc<Watcher>),
    ) -> Self {
        let permits = in_flight.available_permits();
        let mut reader = reader;
        reader.set_busy_poll(server.config.busy_poll);
        Self {
            server,
            socket: reader.socket(),
            reader: Mutex::new(reader),
            writer,
            peer,
            in_flight,
            stop,
            watcher,
            key: Mutex::default(),
            runtime: Handle::current(),
            // The first lead job (queued by `start`) is counted and leads from
            // the outset, so a rescue that comes before `start` does nothing.
            lead: Mutex::new(Lead {
                leading: true,
                live: 1,
                ..Lead::default()
            }),
            closing: Mutex::default(),
            ended: Notify::new(),
            cancelled: AtomicBool::new(false),
            cancel: Notify::new(),
            permits,
        }
    }

    /// Completes once every lane has left the connection (after [`start`]).
    pub(super) async fn ended(&self) {
        self.ended.notified().await;
    }

    fn lane_ended(&self, lead: &mut Lead) {
        lead.live = lead.live.saturating_sub(1);
        if lead.live == 0 {
            self.ended.notify_one();
        }
    }

    /// The connection's writer (for tests).
    #[cfg(test)]
    pub(super) fn writer_for_tests(&self) -> FrameWriter {
        self.writer.clone()
    }

    /// Lanes counted as working for the connection, and whether one leads
    /// (for tests).
    #[cfg(test)]
    pub(super) fn lanes_counted(&self) -> (usize, bool) {
        let lead = lock(&self.lead);
        (lead.live, lead.leading)
    }

    /// The connection-level error frame recorded when the connection closed.
    pub(super) fn closing_frame(&self) -> Option<Vec<u8>> {
        lock(&self.closing).take()
    }

    /// Forgets the connection in the watcher (before the socket closes).
    pub(super) fn unwatch(&self) {
        if let Some(key) = lock(&self.key).take() {
            self.watcher.unregister(key, self.socket.as_fd());
        }
    }

    /// The connection's task has ended: a leader waiting for a permit gives up.
    pub(super) fn cancel(&self) {
        self.in_flight.close();
        self.cancelled.store(true, Ordering::Release);
        self.cancel.notify_waiters();
    }

    fn close(&self, frame: Option<Vec<u8>>) {
        if let Some(frame) = frame {
            lock(&self.closing).get_or_insert(frame);
        }
        let mut lead = lock(&self.lead);
        lead.closed = true;
        lead.leading = false;
    }

    /// Queues a lead job in the pool.
    fn hand_over(self: &Arc<Self>, lead: &mut Lead) {
        lead.leading = true;
        lead.live += 1;
        let conn = Arc::clone(self);
        self.server.pool.submit(Box::new(move || conn.lead()));
    }

    /// After running a call: leads again if nobody else does.
    fn lead_again(&self) -> bool {
        let mut lead = lock(&self.lead);
        if lead.closed || lead.leading {
            return false;
        }
        lead.leading = true;
        true
    }

    /// As leader: stops the watcher reporting what this lane will read.
    fn disarm(&self) {
        let mut lead = lock(&self.lead);
        if lead.armed {
            lead.armed = false;
            if let Some(key) = *lock(&self.key) {
                // Failing only means a spurious rescue later.
                let _ = self.watcher.disarm(key, self.socket.as_fd());
            }
        }
    }

    /// As leader, about to run a call: gives up the lead, handing it on at
    /// once if more requests are expected (bytes buffered, others in flight),
    /// otherwise asking the watcher to report the next frame.
    fn release_lead(self: &Arc<Self>, more_expected: bool) {
        let mut lead = lock(&self.lead);
        lead.leading = false;
        if lead.closed {
            return;
        }
        let key = *lock(&self.key);
        let armed =
            !more_expected && key.is_some_and(|k| self.watcher.arm(k, self.socket.as_fd()).is_ok());
        if armed {
            lead.armed = true;
        } else {
            self.hand_over(&mut lead);
        }
    }

    /// The lead job: reads and routes requests until this lane runs a call
    /// and someone else has taken over, or the connection closes.
    fn lead(self: Arc<Self>) {
        let _ended = LaneEnded(&self);
        loop {
            self.disarm();
            let Some((admitted, more_expected)) = self.read_request() else {
                break;
            };
            let routed = dispatch::route(&self.server, &self.writer, &self.runtime, admitted);
            let Some(invocation) = routed else {
                continue;
            };
            self.release_lead(more_expected);
            invocation.run(&self.server, &self.writer);
            if !self.lead_again() {
                break;
            }
        }
    }

    /// As leader: reads one request and admits it. `None` once the
    /// connection is closing (end of stream, bad frame, shutdown).
    fn read_request(&self) -> Option<(Admitted, bool)> {
        // Shutting down: not even frames already buffered are read.
        if self.server.stopping.load(Ordering::Acquire) {
            self.close(None);
            return None;
        }
        let mut reader = lock(&self.reader);
        let config = &self.server.config;
        let next = reader.read(
            config.frame_limits,
            Some(config.body_timeout),
            self.stop.as_fd(),
        );
        let body = match next {
            Ok(Next::Frame(body)) => body,
            Ok(Next::Closed) => {
                tracing::debug!(peer = %self.peer, "peer closed the connection");
                self.close(None);
                return None;
            }
            Ok(Next::Stopped) => {
                self.close(None);
                return None;
            }
            Err(e) => {
                self.close(Some(reject(&self.peer, &e)));
                return None;
            }
        };
        let (header, request) = match codec::decode::<Request>(&body) {
            Ok(decoded) => decoded,
            Err(e) => {
                self.close(Some(reject(&self.peer, &e)));
                return None;
            }
        };
        // Still leading: with every permit taken, nobody reads (backpressure).
        let Some((permit, total)) = self.admit() else {
            self.close(None);
            return None;
        };
        let admitted = Admitted {
            id: header.request_id,
            request,
            permit,
            total,
        };
        // Other requests in flight mean the peer is not waiting on this one
        // alone: more are likely to arrive while it runs.
        let others_in_flight = self.in_flight.available_permits() + 1 < self.permits;
        Some((admitted, reader.has_buffered() || others_in_flight))
    }

    /// Takes the connection's in-flight permit, then the server's, waiting
    /// for each; `None` once the connection's task has ended.
    fn admit(&self) -> Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)> {
        let permit = self.permit(&self.in_flight)?;
        let total = self.permit(&self.server.in_flight)?;
        Some((permit, total))
    }

    fn permit(&self, permits: &Arc<Semaphore>) -> Option<OwnedSemaphorePermit> {
        if let Ok(permit) = Arc::clone(permits).try_acquire_owned() {
            return Some(permit);
        }
        park::wait(async {
            let mut cancelled = pin!(self.cancel.notified());
            cancelled.as_mut().enable();
            if self.cancelled.load(Ordering::Acquire) {
                return None;
            }
            tokio::select! {
                biased;
                permit = Arc::clone(permits).acquire_owned() => permit.ok(),
                () = cancelled => None,
            }
        })
    }
}

impl Rescue for Conn {
    /// Called by the watcher: a frame arrived while no lane was reading.
    fn rescue(self: Arc<Self>) {
        let mut lead = lock(&self.lead);
        lead.armed = false;
        if !lead.leading && !lead.closed {
            self.hand_over(&mut lead);
        }
    }
}

/// Registers the connection with the watcher and queues its first lead job.
/// Await [`Conn::ended`] for the lanes to leave it.
pub(super) fn start(conn: &Arc<Conn>) {
    let weak: Weak<Conn> = Arc::downgrade(conn);
    let rescue: Weak<dyn Rescue> = weak;
    match conn.watcher.register(rescue, conn.socket.as_fd()) {
        Ok(key) => *lock(&conn.key) = Some(key),
        // Without the watcher every read hands the lead on at once.
        Err(e) => tracing::warn!(peer = %conn.peer, error = %e, "connection not watched"),
    }
    let first = Arc::clone(conn);
    conn.server.pool.submit(Box::new(move || first.lead()));
}

/// Counts a lane out of the connection when it leaves, however it leaves: a
/// lane that panicked (there is no code meant to) closes the connection
/// rather than leave it without a leader.
struct LaneEnded<'a>(&'a Arc<Conn>);

impl Drop for LaneEnded<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.close(None);
        }
        self.0.lane_ended(&mut lock(&self.0.lead));
    }
}
