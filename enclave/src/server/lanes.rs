//! Lanes: the threads that serve one connection, leader/follower style.
//!
//! ```text
//!  lane ─┬─ lock reader (become leader) ─ poll(socket, stop) ─ read one frame ─ unlock ─┐
//!        │                                                                            │
//!        └──────────── write the answer ◀─ run the plugin on this thread ◀─ Invoke ◀──┤
//!                                          other requests: an async task answers ◀────┘
//! ```
//!
//! The lane that holds the reader is the *leader*: it alone waits on the
//! socket. Once it has a frame it hands the reader to the next lane and serves
//! the request itself — an invocation runs right there and its answer is
//! written from the same thread. A request therefore crosses no thread between
//! the socket and the plugin and back, which is what keeps a round trip close
//! to the cost of the call itself. Requests that wait on async work (loads,
//! attestation) become tasks on the async runtime.
//!
//! A connection starts with one lane and adds one whenever the leader finds no
//! lane waiting to take over from it, up to the number of invocations that can
//! run at once plus one, so concurrent requests on one connection run in
//! parallel. Lanes end with the connection.

use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use enclet_protocol::socket::{BlockingFrameReader, FrameWriter, Next};
use enclet_protocol::{Request, codec};
use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use super::connection::{encode_response, reject};
use super::{Server, handler};
use crate::park;

/// What the lanes of one connection share.
pub(super) struct Conn {
    server: Arc<Server>,
    /// Held by the leader while it waits for and reads one frame.
    reader: Mutex<BlockingFrameReader>,
    writer: FrameWriter,
    peer: String,
    in_flight: Arc<Semaphore>,
    /// Readable once the server is shutting down.
    stop: Arc<UnixStream>,
    runtime: Handle,
    closed: AtomicBool,
    /// The connection-level error to send before closing, if any.
    closing: Mutex<Option<Vec<u8>>>,
    /// Lanes running, and lanes waiting to become leader.
    live: AtomicUsize,
    waiting: AtomicUsize,
    max_lanes: usize,
}

/// A request read and admitted (it holds an in-flight permit).
struct Accepted {
    id: u64,
    request: Request,
    permit: OwnedSemaphorePermit,
}

impl Conn {
    /// Must be called inside the async runtime that serves async requests.
    pub(super) fn new(
        server: Arc<Server>,
        reader: BlockingFrameReader,
        writer: FrameWriter,
        peer: String,
        in_flight: Arc<Semaphore>,
        stop: Arc<UnixStream>,
    ) -> Self {
        let invocations = usize::try_from(server.runtime.max_concurrent_invocations()).unwrap_or(1);
        let max_lanes = in_flight
            .available_permits()
            .min(invocations)
            .saturating_add(1);
        Self {
            server,
            reader: Mutex::new(reader),
            writer,
            peer,
            in_flight,
            stop,
            runtime: Handle::current(),
            closed: AtomicBool::new(false),
            closing: Mutex::default(),
            live: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            max_lanes,
        }
    }

    /// The connection-level error frame recorded when the connection closed.
    pub(super) fn closing_frame(&self) -> Option<Vec<u8>> {
        self.closing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn close(&self, frame: Option<Vec<u8>>) {
        self.closed.store(true, Ordering::Release);
        if let Some(frame) = frame {
            self.closing
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert(frame);
        }
    }

    /// Becomes leader, reads one request and admits it, then hands the
    /// reader on. `None` once the connection is closing.
    fn next_request(self: &Arc<Self>, alive: &mpsc::Sender<()>) -> Option<Accepted> {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        // The reader is consistent between calls; a lane that panicked while
        // holding it (there is no code that can) would leave it as is.
        let mut reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
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
        drop(body);
        // Still the leader: with every permit taken, nobody reads (backpressure).
        let permit = match Arc::clone(&self.in_flight).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => park::wait(Arc::clone(&self.in_flight).acquire_owned()).ok()?,
        };
        drop(reader);
        self.add_lane_if_none_waiting(alive);
        Some(Accepted {
            id: header.request_id,
            request,
            permit,
        })
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

    fn add_lane_if_none_waiting(self: &Arc<Self>, alive: &mpsc::Sender<()>) {
        if self.waiting.load(Ordering::Acquire) > 0 || self.closed.load(Ordering::Acquire) {
            return;
        }
        let claimed = self
            .live
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_lanes).then_some(n + 1)
            });
        if claimed.is_ok() {
            spawn_lane(self, alive.clone());
        }
    }
}

/// Starts the first lane; the returned future completes once every lane of
/// the connection has ended.
pub(super) fn start(conn: &Arc<Conn>) -> impl Future<Output = ()> + use<> {
    let (alive, mut gone) = mpsc::channel::<()>(1);
    conn.live.fetch_add(1, Ordering::AcqRel);
    spawn_lane(conn, alive);
    async move {
        // Every lane holds a sender: `None` means all have ended.
        let _ = gone.recv().await;
    }
}

/// Spawns a lane already counted in `live`.
fn spawn_lane(conn: &Arc<Conn>, alive: mpsc::Sender<()>) {
    let lane = Arc::clone(conn);
    let spawned = std::thread::Builder::new()
        .name("enclet-lane".to_owned())
        .stack_size(conn.server.runtime.thread_stack_bytes())
        .spawn(move || {
            while let Some(accepted) = lane.next_request(&alive) {
                lane.serve(accepted);
            }
            lane.live.fetch_sub(1, Ordering::AcqRel);
            drop(alive);
        });
    if let Err(e) = spawned {
        conn.live.fetch_sub(1, Ordering::AcqRel);
        tracing::warn!(peer = %conn.peer, error = %e, "cannot start a connection lane");
        if conn.live.load(Ordering::Acquire) == 0 {
            conn.close(None);
        }
    }
}
