//! Lanes: the threads that serve one connection, leader/follower style.
//!
//! ```text
//!  lane ─ lead: poll(socket, stop) ─ read one frame ─ admit (permit) ─┬─ more bytes buffered: hand the lead on
//!    ▲                                                               └─ else: arm the watcher
//!    │    Invoke: run the plugin on this thread, write the answer
//!    │    other:  an async task answers
//!    └─ lead again if nobody took over, else wait for an offer
//! ```
//!
//! The lane that leads alone waits on the socket. Once it has a frame it
//! serves the request itself — an invocation runs right there and its answer
//! is written from the same thread — so a request crosses no thread between
//! the socket and the plugin and back. Requests that wait on async work
//! (loads, attestation) become tasks on the async runtime.
//!
//! Handing the lead on costs a wake-up, so it happens only when it buys
//! parallelism: at once if more bytes are already buffered or other requests
//! of the connection are in flight, otherwise only if a frame arrives while
//! the leader is busy (the [watcher](super::watch)
//! reports it and an idle lane, or a new one, takes over). A lone request thus
//! costs no wake-up beyond the one that delivers it. Lanes are added up to
//! the number of invocations that can run at once plus one; they end with the
//! connection.

use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use enclet_protocol::socket::{BlockingFrameReader, FrameWriter, Next};
use enclet_protocol::{RawSocket, Request, codec};
use tokio::runtime::Handle;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::connection::{encode_response, reject};
use super::watch::Watcher;
use super::{Server, handler};
use crate::park;

/// Who leads, who waits, and what the watcher is asked to report.
#[derive(Debug, Default)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent flags of one small state machine, always changed under one lock"
)]
struct Lead {
    /// A lane leads, or has been offered or spawned to lead.
    leading: bool,
    /// The lead has been offered to a waiting lane.
    offer: bool,
    /// Lanes waiting for an offer.
    idle: usize,
    /// Lanes running.
    live: usize,
    /// The watcher will report the socket's next readability.
    armed: bool,
    closed: bool,
}

/// What the lanes of one connection share.
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
    offered: Condvar,
    /// The connection-level error to send before closing, if any.
    closing: Mutex<Option<Vec<u8>>>,
    /// Signalled when the last lane ends.
    ended: Notify,
    /// In-flight permits of the connection, in total.
    permits: usize,
    max_lanes: usize,
}

/// A request read and admitted (it holds an in-flight permit).
struct Accepted {
    id: u64,
    request: Request,
    permit: OwnedSemaphorePermit,
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
        let invocations = usize::try_from(server.runtime.max_concurrent_invocations()).unwrap_or(1);
        let permits = in_flight.available_permits();
        let mut reader = reader;
        reader.set_busy_poll(server.config.busy_poll);
        let max_lanes = permits.min(invocations).saturating_add(1);
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
            // The first lane (started by `start`) is counted and leads from the
            // outset, so a rescue that comes before `start` does nothing.
            lead: Mutex::new(Lead {
                leading: true,
                live: 1,
                ..Lead::default()
            }),
            offered: Condvar::new(),
            closing: Mutex::default(),
            ended: Notify::new(),
            permits,
            max_lanes,
        }
    }

    /// Completes once every lane has ended (after [`start`]).
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

    /// Lanes counted as running, and whether one leads (for tests).
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

    /// Called by the watcher: a frame arrived while no lane was reading.
    pub(super) fn rescue(self: &Arc<Self>) {
        let mut lead = lock(&self.lead);
        lead.armed = false;
        if !lead.leading && !lead.closed {
            self.hand_over(&mut lead);
        }
    }

    fn close(&self, frame: Option<Vec<u8>>) {
        if let Some(frame) = frame {
            lock(&self.closing).get_or_insert(frame);
        }
        let mut lead = lock(&self.lead);
        lead.closed = true;
        lead.leading = false;
        self.offered.notify_all();
    }

    /// Gives the lead to a waiting lane, or a new one. With neither, the
    /// next lane to finish its request takes it.
    fn hand_over(self: &Arc<Self>, lead: &mut Lead) {
        lead.leading = true;
        if lead.idle > 0 {
            lead.offer = true;
            self.offered.notify_one();
        } else if lead.live < self.max_lanes {
            lead.live += 1;
            if !spawn_lane(self, true) {
                lead.leading = false;
                self.lane_ended(lead);
            }
        } else {
            lead.leading = false;
        }
    }

    /// Waits until offered the lead; `false` once the connection is closing.
    fn wait_for_lead(&self) -> bool {
        let mut lead = lock(&self.lead);
        loop {
            if lead.closed {
                return false;
            }
            if lead.offer || !lead.leading {
                lead.offer = false;
                lead.leading = true;
                return true;
            }
            lead.idle += 1;
            lead = self
                .offered
                .wait(lead)
                .unwrap_or_else(PoisonError::into_inner);
            lead.idle -= 1;
        }
    }

    /// After serving a request: leads again if nobody else does. `None` once
    /// the connection is closing.
    fn lead_again(&self) -> Option<bool> {
        let mut lead = lock(&self.lead);
        if lead.closed {
            return None;
        }
        if lead.leading {
            return Some(false);
        }
        lead.leading = true;
        Some(true)
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

    /// As leader, with a request read: gives up the lead, handing it on at
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

    /// As leader: reads one request and admits it. `None` once the
    /// connection is closing (end of stream, bad frame, shutdown).
    fn read_request(&self) -> Option<(Accepted, bool)> {
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
        let admitted = Arc::clone(&self.in_flight)
            .try_acquire_owned()
            .map_err(drop)
            .or_else(|()| park::wait(Arc::clone(&self.in_flight).acquire_owned()).map_err(drop));
        let Ok(permit) = admitted else {
            self.close(None);
            return None;
        };
        let accepted = Accepted {
            id: header.request_id,
            request,
            permit,
        };
        // Other requests in flight mean the peer is not waiting on this one
        // alone: more are likely to arrive while it runs.
        let others_in_flight = self.in_flight.available_permits() + 1 < self.permits;
        Some((accepted, reader.has_buffered() || others_in_flight))
    }

    /// Serves an admitted request: invocations on this thread, the rest as
    /// async tasks. Either way the answer carries the permit until written.
    fn serve(&self, accepted: Accepted) {
        let Accepted {
            id,
            request,
            permit,
        } = accepted;
        let limits = self.server.config.frame_limits;
        if let Request::Invoke { plugin, input } = request {
            let result = self.server.runtime.invoke_blocking(&plugin, &input);
            let frame = encode_response(id, &handler::invoked(result), limits);
            // The peer may be gone; nothing to report to.
            let _ = self.writer.send(frame, Some(permit));
            return;
        }
        let server = Arc::clone(&self.server);
        let writer = self.writer.clone();
        self.runtime.spawn(async move {
            let response = handler::handle(&server, request).await;
            let _ = writer.send(encode_response(id, &response, limits), Some(permit));
        });
    }
}

/// Registers the connection with the watcher and starts its first lane.
/// Await [`Conn::ended`] for the lanes to finish.
pub(super) fn start(conn: &Arc<Conn>) {
    match conn.watcher.register(conn, conn.socket.as_fd()) {
        Ok(key) => *lock(&conn.key) = Some(key),
        // Without the watcher every read hands the lead on at once.
        Err(e) => tracing::warn!(peer = %conn.peer, error = %e, "connection not watched"),
    }
    let mut lead = lock(&conn.lead);
    if !spawn_lane(conn, true) {
        lead.closed = true;
        conn.lane_ended(&mut lead);
    }
}

/// Starts a lane already counted in `live`; `false` if no thread could be
/// started (logged).
fn spawn_lane(conn: &Arc<Conn>, leading: bool) -> bool {
    let lane = Arc::clone(conn);
    let spawned = std::thread::Builder::new()
        .name("enclet-lane".to_owned())
        .stack_size(conn.server.runtime.thread_stack_bytes())
        .spawn(move || run_lane(&lane, leading));
    if let Err(e) = &spawned {
        tracing::warn!(peer = %conn.peer, error = %e, "cannot start a connection lane");
    }
    spawned.is_ok()
}

fn run_lane(conn: &Arc<Conn>, mut leading: bool) {
    let _ended = LaneEnded(conn);
    loop {
        if !leading && !conn.wait_for_lead() {
            break;
        }
        conn.disarm();
        let Some((accepted, more_expected)) = conn.read_request() else {
            break;
        };
        conn.release_lead(more_expected);
        conn.serve(accepted);
        match conn.lead_again() {
            Some(again) => leading = again,
            None => break,
        }
    }
}

/// Counts a lane out when it ends, however it ends: a lane that panicked
/// (there is no code meant to) closes the connection rather than leave it
/// without a leader.
struct LaneEnded<'a>(&'a Arc<Conn>);

impl Drop for LaneEnded<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.close(None);
        }
        self.0.lane_ended(&mut lock(&self.0.lead));
    }
}
