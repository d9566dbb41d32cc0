//! The parent's client for the enclave: many requests in flight on one
//! connection.
//!
//! ```text
//!  request(req) ─ id = next_id ─▶ pending[id] = oneshot ─▶ FrameWriter::send_tracked ══▶ enclave
//!        ▲                                                                                │
//!        └──────── oneshot ◀── pending.remove(id) ◀── reader task ◀═══════════════════════┘
//! ```
//!
//! A request is written by the task that makes it (the socket is non-blocking;
//! what it cannot take at once is flushed in the background), so a call costs
//! no hand-off to a writer task. See [`enclet_protocol::socket`].
//!
//! Ids start at 1 ([`CONNECTION_ID`] 0 is the enclave's connection-level error
//! channel). When the connection ends, or the enclave reports a connection
//! error on id 0, every pending request fails with [`Error::Disconnected`]
//! carrying the reason, and later requests fail immediately. [`Reconnecting`]
//! wraps a client and dials again when the connection is gone.
//!
//! ## Bounds
//!
//! * **Write queue.** What the socket does not take at once waits in the
//!   writer's backlog, which the client bounds in bytes
//!   ([`DEFAULT_WRITE_QUEUE_BYTES`] unless set with
//!   [`EnclaveClient::with_write_queue_bytes`]). A request that would take it
//!   beyond the bound fails at once with [`Error::Busy`] (503 `enclave_busy`,
//!   nothing sent) rather than waiting: a waiting request would still hold
//!   its body, so backpressure would not bound memory. A request that finds
//!   no backlog is always accepted, so one request of any size can be sent.
//! * **Time.** Every request waits at most the client's request timeout
//!   ([`DEFAULT_REQUEST_TIMEOUT`] unless set with
//!   [`EnclaveClient::with_request_timeout`]) and then fails with
//!   [`Error::Timeout`], so a stuck enclave cannot hold an operator request
//!   (or the dialling lock) forever. The connection stays open.
//!
//! A request that times out (or whose caller goes away) while its frame is
//! still queued, none of it written, is taken back from the queue: the
//! enclave never sees it, and the timeout says so ([`Delivery::NotSent`]).
//! Once any byte of it is written the enclave will get it whole and may still
//! carry it out — a load may still complete, an invocation still run — and
//! the timeout says that instead ([`Delivery::MaybeApplied`]); its late answer
//! is dropped.

mod calls;
mod reconnect;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use enclet_protocol::socket::{self, FrameReader, FrameWriter, Sent, Ticket};
use enclet_protocol::{
    CONNECTION_ID, Endpoint, FrameLimits, RawSocket, Request, Response, Transport, UnixTransport,
    VsockTransport, codec,
};
use tokio::sync::oneshot;

pub use calls::Attestation;
pub use reconnect::Reconnecting;

use crate::Error;
pub use crate::error::Delivery;

/// How many request bytes may wait to be written to the enclave by default:
/// two of the largest loads.
pub const DEFAULT_WRITE_QUEUE_BYTES: usize = 64 * 1024 * 1024;

/// How long a request waits for the enclave by default: above the largest
/// plugin deadline the enclave accepts (60 s) plus compile time for a load.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_mins(2);

/// How long a request keeps its thread awake waiting for the answer before it
/// lets the thread sleep, by default. Waking a sleeping thread can cost more
/// than a short plugin call on a virtual machine; a short answer is picked up
/// sooner this way, for at most this much CPU per request.
pub const DEFAULT_BUSY_WAIT: Duration = Duration::from_micros(100);

type Reply = oneshot::Sender<Result<Response, Error>>;
type Answer = oneshot::Receiver<Result<Response, Error>>;

#[derive(Default)]
struct Pending {
    waiting: HashMap<u64, Reply>,
    /// Why the connection ended, once it has.
    closed: Option<String>,
}

struct Shared {
    pending: Mutex<Pending>,
    next_id: AtomicU64,
    writer: FrameWriter,
    limits: FrameLimits,
}

impl Shared {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        // Entries are inserted and removed whole; a poisoned map is still consistent.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn close(&self, reason: &str) {
        let waiting = {
            let mut p = self.pending();
            if p.closed.is_none() {
                p.closed = Some(reason.to_owned());
            }
            std::mem::take(&mut p.waiting)
        };
        for (_, reply) in waiting {
            let _ = reply.send(Err(Error::Disconnected(reason.to_owned())));
        }
    }
}

/// A multiplexing connection to the enclave. Cheap to clone; clones share the
/// connection.
#[derive(Clone)]
pub struct EnclaveClient {
    shared: Arc<Shared>,
    request_timeout: Duration,
    busy_wait: Duration,
    write_queue_bytes: usize,
}

impl std::fmt::Debug for EnclaveClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnclaveClient")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl EnclaveClient {
    /// Dials `endpoint` (`unix:` or `vsock:CID:PORT`).
    ///
    /// # Errors
    /// [`Error::Connect`] when the connection cannot be opened.
    pub async fn connect(endpoint: &Endpoint, limits: FrameLimits) -> Result<Self, Error> {
        let failed = |e: std::io::Error| Error::Connect {
            endpoint: endpoint.to_string(),
            reason: e.to_string(),
        };
        match endpoint {
            Endpoint::Unix(path) => {
                let stream = UnixTransport::new(path).connect().await.map_err(failed)?;
                Self::from_stream(stream, limits).map_err(failed)
            }
            Endpoint::Vsock { cid, port } => {
                let stream = VsockTransport::new(*cid, *port)
                    .connect()
                    .await
                    .map_err(failed)?;
                Self::from_stream(stream, limits).map_err(failed)
            }
        }
    }

    /// Runs the protocol over an already connected socket. Must be called
    /// inside a Tokio runtime (it spawns the reader task).
    ///
    /// # Errors
    /// The OS error when the socket cannot be registered with the runtime.
    pub fn from_stream<S: RawSocket>(stream: S, limits: FrameLimits) -> std::io::Result<Self> {
        let (reader, writer) = socket::split(stream)?;
        let shared = Arc::new(Shared {
            pending: Mutex::default(),
            next_id: AtomicU64::new(1),
            writer,
            limits,
        });
        tokio::spawn(read_loop(reader, Arc::clone(&shared)));
        Ok(Self {
            shared,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            busy_wait: DEFAULT_BUSY_WAIT,
            write_queue_bytes: DEFAULT_WRITE_QUEUE_BYTES,
        })
    }

    /// The same connection with a different bound on how long each request
    /// waits for its answer.
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The same connection with a different busy-wait budget per request
    /// ([`DEFAULT_BUSY_WAIT`] unless set; zero: sleep at once).
    #[must_use]
    pub fn with_busy_wait(mut self, budget: Duration) -> Self {
        self.busy_wait = budget;
        self
    }

    /// The same connection with a different bound on request bytes waiting to
    /// be written ([`DEFAULT_WRITE_QUEUE_BYTES`] unless set).
    #[must_use]
    pub fn with_write_queue_bytes(mut self, bytes: usize) -> Self {
        self.write_queue_bytes = bytes;
        self
    }

    /// True once the connection has ended; every request will fail.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.shared.pending().closed.is_some() || self.shared.writer.has_failed()
    }

    /// Sends one request and waits for its response.
    ///
    /// # Errors
    /// [`Error::Protocol`] if the request does not fit a frame;
    /// [`Error::Busy`] if the write queue is full (nothing was sent);
    /// [`Error::Disconnected`] if the connection is or becomes closed;
    /// [`Error::Timeout`] if no answer arrives within the request timeout,
    /// saying whether the request was sent.
    /// An enclave-side failure is returned as `Ok(Response::Error(..))`.
    pub async fn request(&self, request: &Request) -> Result<Response, Error> {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = codec::encode(id, request, self.shared.limits)?;
        let (tx, rx) = oneshot::channel();
        {
            let mut p = self.shared.pending();
            if let Some(reason) = &p.closed {
                return Err(Error::Disconnected(reason.clone()));
            }
            p.waiting.insert(id, tx);
        }
        let mut guard = Forget {
            shared: &self.shared,
            id,
            queued: None,
        };
        match self
            .shared
            .writer
            .send_tracked(frame, self.write_queue_bytes)
        {
            Ok(Sent::Written) => {}
            Ok(Sent::Queued(ticket)) => guard.queued = Some(ticket),
            Ok(Sent::BacklogFull) => {
                return Err(Error::Busy {
                    queued: self.shared.writer.backlog_bytes(),
                    limit: self.write_queue_bytes,
                });
            }
            Err(e) => return Err(Error::Disconnected(format!("write failed: {e}"))),
        }
        let mut rx = rx;
        if let Some(early) = self.busy_wait_for(&mut rx).await {
            guard.answered();
            return early;
        }
        if let Ok(answer) = tokio::time::timeout(self.request_timeout, rx).await {
            guard.answered();
            return answer.map_err(|_| Error::Disconnected("reply dropped".to_owned()))?;
        }
        let delivery = if guard.withdraw() {
            Delivery::NotSent
        } else {
            Delivery::MaybeApplied
        };
        tracing::warn!(id, ?delivery, after = ?self.request_timeout,
            "no answer from the enclave in time");
        Err(Error::Timeout {
            waiting_for: "an answer",
            after: self.request_timeout,
            delivery,
        })
    }

    /// Keeps yielding (so the runtime polls the socket without sleeping) for
    /// up to the busy-wait budget; the answer if it came in that time.
    async fn busy_wait_for(&self, rx: &mut Answer) -> Option<Result<Response, Error>> {
        if self.busy_wait.is_zero() {
            return None;
        }
        let start = std::time::Instant::now();
        loop {
            match rx.try_recv() {
                Ok(answer) => return Some(answer),
                Err(oneshot::error::TryRecvError::Closed) => {
                    return Some(Err(Error::Disconnected("reply dropped".to_owned())));
                }
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            if start.elapsed() >= self.busy_wait {
                return None;
            }
            tokio::task::yield_now().await;
        }
    }
}

/// Ends a request that gets no answer (timed out, or its future dropped):
/// removes its pending entry and takes its frame back if none of it has been
/// written. Harmless after an answer (the reader removed the entry, and an
/// answered frame was written).
struct Forget<'a> {
    shared: &'a Shared,
    id: u64,
    /// The frame's place in the writer's queue, if it was queued.
    queued: Option<Ticket>,
}

impl Forget<'_> {
    /// The request has its answer (or failed for good): the reader removed
    /// the entry and the frame was written, nothing to undo.
    fn answered(self) {
        std::mem::forget(self);
    }

    /// Takes the frame back if none of it has been written: true when the
    /// enclave will never see the request.
    fn withdraw(&mut self) -> bool {
        self.queued
            .take()
            .is_some_and(|ticket| self.shared.writer.withdraw(ticket))
    }
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.shared.pending().waiting.remove(&self.id);
        self.withdraw();
    }
}

async fn read_loop(mut reader: FrameReader, shared: Arc<Shared>) {
    let reason = loop {
        let body = match reader.read(shared.limits, None).await {
            Ok(Some(body)) => body,
            Ok(None) => break "the enclave closed the connection".to_owned(),
            Err(e) => break e.to_string(),
        };
        let (header, response) = match codec::decode::<Response>(&body) {
            Ok(decoded) => decoded,
            Err(e) => break e.to_string(),
        };
        if header.request_id == CONNECTION_ID {
            break match response {
                Response::Error(e) => format!("{}: {}", e.code, e.message),
                other => format!("unexpected message on id 0: {other:?}"),
            };
        }
        let reply = shared.pending().waiting.remove(&header.request_id);
        if let Some(reply) = reply {
            let _ = reply.send(Ok(response));
        } else {
            tracing::debug!(id = header.request_id, "response for no pending request");
        }
    };
    tracing::debug!(%reason, "enclave connection ended");
    shared.close(&reason);
}

#[cfg(test)]
mod tests;
