//! The parent's client for the enclave: many requests in flight on one
//! connection.
//!
//! ```text
//!  request(req) ─ id = next_id ─▶ pending[id] = oneshot ─▶ FrameWriter::send ══▶ enclave
//!        ▲                                                                        │
//!        └──────── oneshot ◀── pending.remove(id) ◀── reader task ◀═══════════════┘
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
//! Every request waits at most the client's request timeout
//! ([`DEFAULT_REQUEST_TIMEOUT`] unless set with
//! [`EnclaveClient::with_request_timeout`]) and then fails with
//! [`Error::Timeout`], so a stuck enclave cannot hold an operator request (or
//! the dialling lock) forever. The connection stays open: a late answer is
//! dropped.

mod reconnect;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use enclet_attestation::Measurement;
use enclet_protocol::socket::{self, FrameReader, FrameWriter};
use enclet_protocol::{
    AttesterIdentity, CONNECTION_ID, Endpoint, Evidence, FrameLimits, Health, Limits, LoadResult,
    PluginInfo, RawSocket, Request, Response, Transport, UnixTransport, VsockTransport, codec,
};
use tokio::sync::oneshot;

pub use reconnect::Reconnecting;

use crate::Error;

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

    /// True once the connection has ended; every request will fail.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.shared.pending().closed.is_some() || self.shared.writer.has_failed()
    }

    /// Sends one request and waits for its response.
    ///
    /// # Errors
    /// [`Error::Protocol`] if the request does not fit a frame;
    /// [`Error::Disconnected`] if the connection is or becomes closed;
    /// [`Error::Timeout`] if no answer arrives within the request timeout.
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
        let guard = Forget {
            shared: &self.shared,
            id,
        };
        if let Err(e) = self.shared.writer.send(frame, None) {
            return Err(Error::Disconnected(format!("write failed: {e}")));
        }
        let mut rx = rx;
        if let Some(early) = self.busy_wait_for(&mut rx).await {
            std::mem::forget(guard);
            return early;
        }
        let result = tokio::time::timeout(self.request_timeout, rx)
            .await
            .map_err(|_| Error::Timeout {
                waiting_for: "an answer",
                after: self.request_timeout,
            })?
            .map_err(|_| Error::Disconnected("reply dropped".to_owned()))?;
        std::mem::forget(guard);
        result
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

    /// Loads a plugin component.
    ///
    /// # Errors
    /// [`Error::Enclave`] with the enclave's reason (e.g. `invalid_component`),
    /// or a connection error.
    pub async fn load(
        &self,
        name: &str,
        component: Vec<u8>,
        limits: Option<Limits>,
    ) -> Result<LoadResult, Error> {
        let request = Request::Load {
            name: name.to_owned(),
            component,
            limits: limits.map(Into::into),
        };
        match self.request(&request).await? {
            Response::Loaded(r) => Ok(r),
            other => unexpected("loaded", other),
        }
    }

    /// Invokes a loaded plugin.
    ///
    /// # Errors
    /// [`Error::Enclave`] with the reason the invocation failed (e.g.
    /// `out_of_fuel`, `unknown_plugin`), or a connection error.
    pub async fn invoke(&self, plugin: Measurement, input: Vec<u8>) -> Result<Vec<u8>, Error> {
        match self.request(&Request::Invoke { plugin, input }).await? {
            Response::Output(out) => Ok(out),
            other => unexpected("output", other),
        }
    }

    /// Lists loaded plugins.
    ///
    /// # Errors
    /// A connection error.
    pub async fn plugins(&self) -> Result<Vec<PluginInfo>, Error> {
        match self.request(&Request::ListPlugins).await? {
            Response::Plugins(p) => Ok(p),
            other => unexpected("plugins", other),
        }
    }

    /// Asks the enclave for its health summary.
    ///
    /// # Errors
    /// A connection error.
    pub async fn health(&self) -> Result<Health, Error> {
        match self.request(&Request::Health).await? {
            Response::Health(h) => Ok(h),
            other => unexpected("health", other),
        }
    }
}

/// An enclave's answer to an attestation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    /// The attester's evidence.
    pub evidence: Evidence,
    /// The canonical plugin event log the evidence binds.
    pub event_log: Vec<u8>,
    /// The enclave's public key the evidence binds.
    pub public_key: Vec<u8>,
}

impl EnclaveClient {
    /// Asks for the attester's identity (the keys a verifier trusts first).
    ///
    /// # Errors
    /// [`Error::Enclave`] with `no_attester` or `unsupported`, or a connection error.
    pub async fn identity(&self) -> Result<AttesterIdentity, Error> {
        match self.request(&Request::Identity).await? {
            Response::Identity(i) => Ok(i),
            other => unexpected("identity", other),
        }
    }

    /// Asks the attester to release the secret of a credential.
    ///
    /// # Errors
    /// [`Error::Enclave`] with `credential_rejected`, `invalid_request`,
    /// `no_attester` or `unsupported`, or a connection error.
    pub async fn activate_credential(
        &self,
        id_object: Vec<u8>,
        encrypted_secret: Vec<u8>,
    ) -> Result<Vec<u8>, Error> {
        let request = Request::ActivateCredential {
            id_object,
            encrypted_secret,
        };
        match self.request(&request).await? {
            Response::CredentialActivated { secret } => Ok(secret),
            other => unexpected("credential activated", other),
        }
    }

    /// Asks for evidence bound to `nonce`.
    ///
    /// # Errors
    /// [`Error::Enclave`] with `no_attester` or `invalid_request` (nonce
    /// length), or a connection error.
    pub async fn attest(&self, nonce: Vec<u8>) -> Result<Attestation, Error> {
        match self.request(&Request::Attest { nonce }).await? {
            Response::Attestation {
                evidence,
                event_log,
                public_key,
            } => Ok(Attestation {
                evidence,
                event_log,
                public_key,
            }),
            other => unexpected("attestation", other),
        }
    }
}

/// Removes a pending entry if its request future is dropped before the reply.
struct Forget<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.shared.pending().waiting.remove(&self.id);
    }
}

fn unexpected<T>(expected: &'static str, got: Response) -> Result<T, Error> {
    match got {
        Response::Error(body) => Err(Error::Enclave(body)),
        other => Err(Error::UnexpectedResponse {
            expected,
            got: format!("{other:?}").chars().take(80).collect(),
        }),
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
