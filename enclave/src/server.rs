//! The enclave server loop.
//!
//! ```text
//! serve(listener, shutdown)                       (async, one thread)
//!   └─ accept ─▶ connection task (one per peer): waits for its lanes, then closes
//!                 └─ lanes (threads, leader/follower, see lanes.rs):
//!                      leader: poll ─▶ read frame ─▶ decode ─▶ in-flight permit ─▶ pass or arm the lead
//!                      Invoke: run the plugin on this thread ─▶ encode ─▶ write
//!                      other:  async task: handler::handle ─▶ encode ─▶ write
//!   watcher thread (watch.rs): a frame on a connection whose leader is busy ─▶ another lane leads
//! ```
//!
//! * **Short paths.** A request is read, run and answered by one thread: no
//!   hand-off between the socket and the plugin and back, and no wake-up of
//!   another thread unless a second request needs one. Sockets are watched
//!   for readability only, answers are written directly (non-blocking, any
//!   backlog flushed in the background, see `enclet_protocol::socket`), and a
//!   leader may check for the next frame briefly before sleeping
//!   ([`ServerConfig::busy_poll`]).
//! * **Isolation of failures.** A malformed, oversized, truncated or
//!   wrong-version frame ends only the connection it arrived on: the reader
//!   logs the reason with `tracing::warn!`, queues a connection-level error
//!   (request id 0), stops reading, lets requests already accepted finish and
//!   be answered, then closes. Other connections are unaffected.
//! * **Bounded work.** At most [`ServerConfig::max_connections`] connections
//!   are served (the listener is not polled beyond that) and at most
//!   the runtime's `max_concurrent_compiles` plugins compile at once. Each
//!   connection has at most
//!   [`ServerConfig::max_in_flight`] requests admitted (from read until their
//!   answer is written); the leader stops reading (backpressure) until one
//!   finishes. A connection has at most one lane per runtime slot plus one.
//!   Invocations also wait for a runtime slot. A frame whose body stalls for [`ServerConfig::body_timeout`] is
//!   treated as truncated.
//! * **Graceful shutdown.** When the shutdown future completes, the listener
//!   stops accepting, a stop descriptor wakes every leader so no new frame is
//!   read, in-flight requests run
//!   to completion and are answered, and connections close. After
//!   [`ServerConfig::shutdown_grace`] the remaining connections are dropped.
//! * **Measurement before use.** A plugin is compiled first (nothing
//!   registered), then, under the event-log lock, extended into the attester
//!   (when one is configured), appended to the event log and only then
//!   registered. If measuring fails nothing is invocable, and a load of bytes
//!   already registered only ever sees a recorded plugin.
//! * **Attestation.** The server owns the enclave's ephemeral key pair
//!   ([`EnclaveKey`]); every `Attest` binds its public key, the verifier's
//!   nonce and the event-log digest into the evidence. `Identity` and
//!   `ActivateCredential` let a verifier trust the attester's signing key
//!   first (see `attest.rs`).

mod attest;
mod connection;
mod handler;
mod lanes;
mod watch;

use std::io::Write as _;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use enclet_attestation::event_log::EventLog;
use enclet_attester::Attester;
use enclet_protocol::{FrameLimits, Transport};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

use crate::Error;
use crate::key::EnclaveKey;
use crate::runtime::Runtime;

/// Tunables of the server loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConfig {
    /// Bounds on every frame.
    pub frame_limits: FrameLimits,
    /// Most requests running at once per connection.
    pub max_in_flight: usize,
    /// How long the rest of a frame may take once its length has arrived.
    pub body_timeout: Duration,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// Most connections served at once (at least 1). At the bound the server
    /// stops accepting until a connection ends; new peers wait in the
    /// listener's backlog.
    pub max_connections: usize,
    /// How long a connection's reading lane checks the socket without
    /// sleeping before it sleeps (zero: sleep at once). Waking a sleeping
    /// thread can cost more than a short call; spinning briefly answers the
    /// next request of a busy peer sooner, for up to this much CPU per wait.
    pub busy_poll: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            frame_limits: FrameLimits::default(),
            max_in_flight: 64,
            body_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            max_connections: 256,
            busy_poll: Duration::ZERO,
        }
    }
}

/// The enclave server: the runtime plus what the request handlers share.
pub struct Server {
    runtime: Arc<Runtime>,
    attester: Option<Arc<dyn Attester>>,
    event_log: Mutex<EventLog>,
    key: EnclaveKey,
    config: ServerConfig,
    started: Instant,
    /// Set once shutdown starts: lanes read no further frame.
    stopping: AtomicBool,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.config)
            .field("attester", &self.attester.as_ref().map(|a| a.name()))
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server over `runtime`. `attester` is the measurement and evidence
    /// backend; `None` means plugins are only logged, and `Attest` requests are
    /// answered with `no_attester`. A fresh [`EnclaveKey`] is generated.
    ///
    /// # Errors
    /// [`Error::Internal`] if the enclave key cannot be generated.
    pub fn new(
        runtime: Arc<Runtime>,
        attester: Option<Arc<dyn Attester>>,
        config: ServerConfig,
    ) -> Result<Self, Error> {
        Ok(Self {
            runtime,
            attester,
            event_log: Mutex::new(EventLog::new()),
            key: EnclaveKey::generate()?,
            config,
            started: Instant::now(),
            stopping: AtomicBool::new(false),
        })
    }

    /// The enclave's public key (raw X25519), bound into every attestation.
    #[must_use]
    pub fn public_key(&self) -> &[u8] {
        self.key.public_key()
    }

    /// The plugin event log as it stands.
    pub async fn event_log(&self) -> EventLog {
        self.event_log.lock().await.clone()
    }

    /// Serves connections from `listener` until `shutdown` completes, then
    /// drains in-flight requests (bounded by `shutdown_grace`).
    ///
    /// # Errors
    /// [`Error::Listen`] when accepting fails persistently.
    pub async fn serve<T: Transport>(
        self: Arc<Self>,
        listener: T::Listener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), Error> {
        // Readable for every lane of every connection once shutdown starts.
        let (stop_trigger, stop) =
            UnixStream::pair().map_err(|e| Error::Internal(format!("shutdown signal: {e}")))?;
        let stop = Arc::new(stop);
        let watcher = watch::WatcherHandle::start()
            .map_err(|e| Error::Internal(format!("connection watcher: {e}")))?;
        let mut connections = JoinSet::new();
        let max_connections = self.config.max_connections.max(1);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = T::accept(&listener), if connections.len() < max_connections => match accepted {
                    Ok((stream, peer)) => {
                        tracing::debug!(%peer, "connection accepted");
                        let server = Arc::clone(&self);
                        let signals = (Arc::clone(&stop), Arc::clone(&watcher.watcher));
                        connections.spawn(connection::run(server, stream, peer, signals));
                        if connections.len() >= max_connections {
                            tracing::warn!(
                                max_connections,
                                "connection limit reached: not accepting until one ends"
                            );
                        }
                    }
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(listener);
        tracing::info!(
            connections = connections.len(),
            "shutting down: draining in-flight requests"
        );
        self.stopping.store(true, Ordering::Release);
        if let Err(e) = (&stop_trigger).write_all(b"s") {
            tracing::warn!(error = %e, "cannot signal shutdown to connections");
        }
        let drained = tokio::time::timeout(self.config.shutdown_grace, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                remaining = connections.len(),
                "shutdown grace period over: dropping connections"
            );
            connections.abort_all();
        }
        tracing::info!("server stopped");
        Ok(())
    }
}

#[cfg(test)]
mod tests;
