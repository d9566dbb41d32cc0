//! The enclave server loop.
//!
//! ```text
//! serve(listener, shutdown)                       (async, one thread)
//!   └─ accept ─▶ connection task (connection.rs): sets up, waits for its lanes, closes
//!   lane pool (pool.rs): threads shared by all connections; a job is one of
//!     lead a connection (lanes.rs): poll ─▶ read frame ─▶ decode ─▶ permits ─▶ route (dispatch.rs)
//!        Invoke with a free slot: run the plugin on this lane ─▶ encode ─▶ write
//!        Invoke, no slot free: an async task waits for one, then a pool lane runs it
//!        other: async task: handler::handle ─▶ encode (answer.rs) ─▶ write
//!     run a queued invocation
//!   watcher thread (watch.rs): a frame on a connection whose leader runs a call ─▶ a pool lane leads
//! ```
//!
//! Modules depend one way: `connection` → `lanes` → `dispatch` → `handler`
//! (→ `attest`, `release`); `lanes` also uses `pool`, `watch` and `answer`, none of
//! which knows about connections.
//!
//! * **Short paths.** A request is read, run and answered by one thread: no
//!   hand-off between the socket and the plugin and back, and no wake-up of
//!   another thread unless a second request needs one. Sockets are watched
//!   for readability only, answers are written directly (non-blocking, any
//!   backlog flushed in the background, see `enclet_protocol::socket`), and a
//!   leader may check for the next frame briefly before sleeping
//!   ([`ServerConfig::busy_poll`]).
//! * **Control requests are never stuck behind calls.** No lane waits for an
//!   invocation slot (an invocation that finds none waits in an async task),
//!   and the pool always has a lane for a connection that needs a reader (see
//!   `pool.rs`): health, list, load and attest are read and answered while
//!   every slot runs a long call.
//! * **Isolation of failures.** A malformed, oversized, truncated or
//!   wrong-version frame ends only the connection it arrived on: the reader
//!   logs the reason with `tracing::warn!`, queues a connection-level error
//!   (request id 0), stops reading, lets requests already accepted finish and
//!   be answered, then closes. Other connections are unaffected.
//! * **Bounded work, across connections.** At most
//!   [`ServerConfig::max_connections`] connections are served (the listener
//!   is not polled beyond that). Requests admitted (from read until answered)
//!   are bounded per connection ([`ServerConfig::max_in_flight`], held until
//!   the answer is written: a peer that stops reading stops being read from)
//!   and across connections ([`ServerConfig::max_in_flight_total`]); with
//!   every permit taken the leader stops reading (backpressure). Loads in
//!   progress, each holding up to a frame of component bytes, are bounded by
//!   [`ServerConfig::max_loads`] (beyond it a load is refused with
//!   `overloaded`), and at most the runtime's `max_concurrent_compiles`
//!   compile at once. Lanes are bounded by the invocation slots plus
//!   `max_connections` plus one, and end after
//!   [`ServerConfig::lane_idle_timeout`] without work. A frame whose body
//!   stalls for [`ServerConfig::body_timeout`] is treated as truncated.
//! * **Accept failures.** A failed `accept` is retried with a growing pause
//!   (10 ms doubling to 1 s); after [`ACCEPT_FAILURE_LIMIT`] failures in a row
//!   the server drains its connections and returns [`Error::Listen`], so a
//!   supervisor can restart a daemon whose listener is broken instead of it
//!   retrying forever.
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
//! * **Secret release.** `Release` opens a bundle sealed to that key, all or
//!   nothing, and replaces the runtime's secret table if it has not expired
//!   and names only loaded plugins (see `release.rs`); each plugin then reads
//!   only its own secrets. A refused bundle changes nothing.

mod answer;
mod attest;
mod connection;
mod dispatch;
mod handler;
mod lanes;
mod lifecycle;
mod pool;
mod provenance;
mod release;
mod revoke;
mod watch;

use std::io::Write as _;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use enclet_attestation::event_log::EventLog;
use enclet_attester::Attester;
use enclet_protocol::{FrameLimits, Transport};
use tokio::sync::{Mutex, Semaphore};
use tokio::task::JoinSet;

use crate::Error;
use crate::key::EnclaveKey;
use crate::runtime::Runtime;

/// Upper bound on [`ServerConfig::max_in_flight_total`] and [`ServerConfig::max_loads`].
const MAX_PERMITS: usize = 1 << 20;

/// Consecutive `accept` failures after which [`Server::serve`] gives up with
/// [`Error::Listen`] (about 15 s of retrying).
pub const ACCEPT_FAILURE_LIMIT: u32 = 20;

/// Tunables of the server loop. [`ServerConfig::default`] holds the defaults
/// (the `enclet-enclave` flags take theirs from it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Bounds on every frame.
    pub frame_limits: FrameLimits,
    /// Most requests admitted at once per connection, from read until the
    /// answer is written.
    pub max_in_flight: usize,
    /// Most requests admitted at once across all connections, from read until
    /// the answer is handed to the connection's writer (at least 1).
    pub max_in_flight_total: usize,
    /// Most loads in progress at once across all connections (at least 1);
    /// each holds up to a frame of component bytes until compiled. A load
    /// beyond the bound is refused with `overloaded`.
    pub max_loads: usize,
    /// How long the rest of a frame may take once its length has arrived.
    pub body_timeout: Duration,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// Most connections served at once (at least 1). At the bound the server
    /// stops accepting until a connection ends; new peers wait in the
    /// listener's backlog. The parent uses one.
    pub max_connections: usize,
    /// How long a connection's reading lane checks the socket without
    /// sleeping before it sleeps (zero: sleep at once). Waking a sleeping
    /// thread can cost more than a short call; spinning briefly answers the
    /// next request of a busy peer sooner, for up to this much CPU per wait.
    pub busy_poll: Duration,
    /// How long a lane of the pool waits for work before it ends.
    pub lane_idle_timeout: Duration,
    /// Publisher keys whose signed manifests this enclave accepts; when any
    /// is set, unsigned loads are refused (see `provenance.rs`).
    pub publisher_keys: Vec<enclet_manifest::PublicKey>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            frame_limits: FrameLimits::default(),
            max_in_flight: 64,
            max_in_flight_total: 256,
            max_loads: 8,
            body_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            max_connections: 8,
            busy_poll: Duration::from_micros(100),
            lane_idle_timeout: Duration::from_secs(5),
            publisher_keys: Vec::new(),
        }
    }
}

/// The enclave server: the runtime plus what the request handlers share.
pub struct Server {
    runtime: Arc<Runtime>,
    attester: Option<Arc<dyn Attester>>,
    event_log: Mutex<EventLog>,
    /// The revocation list in force (see `revoke.rs`).
    revocations: std::sync::Mutex<enclet_capability::Revocations>,
    /// As many as the runtime's instance pool: a lane runs an invocation only
    /// while holding one (see `dispatch.rs`).
    slots: Arc<Semaphore>,
    /// Requests admitted across connections.
    in_flight: Arc<Semaphore>,
    /// Loads in progress across connections.
    loads: Arc<Semaphore>,
    pool: Arc<pool::Pool>,
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
        let slots = usize::try_from(runtime.max_concurrent_invocations())
            .unwrap_or(MAX_PERMITS)
            .clamp(1, MAX_PERMITS);
        // One lane per slot, one leader per connection, one to spare.
        let max_lanes = slots
            .saturating_add(config.max_connections.max(1))
            .saturating_add(1);
        let pool = pool::Pool::new(
            max_lanes,
            config.lane_idle_timeout,
            runtime.thread_stack_bytes(),
        );
        let permits = |n: usize| Arc::new(Semaphore::new(n.clamp(1, MAX_PERMITS)));
        Ok(Self {
            slots: permits(slots),
            in_flight: permits(config.max_in_flight_total),
            loads: permits(config.max_loads),
            pool,
            runtime,
            attester,
            event_log: Mutex::new(EventLog::new()),
            revocations: std::sync::Mutex::default(),
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

    /// Lanes running in the pool, idle ones included (for tests).
    #[cfg(test)]
    fn lanes(&self) -> usize {
        self.pool.lanes()
    }

    /// The plugin event log as it stands.
    pub async fn event_log(&self) -> EventLog {
        self.event_log.lock().await.clone()
    }

    /// Serves connections from `listener` until `shutdown` completes, then
    /// drains in-flight requests (bounded by `shutdown_grace`).
    ///
    /// # Errors
    /// [`Error::Listen`] after [`ACCEPT_FAILURE_LIMIT`] consecutive accept
    /// failures (connections already open are drained first);
    /// [`Error::Internal`] if the server's own signalling cannot be set up.
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
        let mut failures = 0u32;
        let mut outcome = Ok(());
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = T::accept(&listener), if connections.len() < max_connections => match accepted {
                    Ok((stream, peer)) => {
                        failures = 0;
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
                        failures += 1;
                        tracing::warn!(error = %e, failures, "accept failed");
                        if failures >= ACCEPT_FAILURE_LIMIT {
                            tracing::error!(error = %e, failures, "accept keeps failing: stopping");
                            outcome = Err(Error::Listen { failures, reason: e.to_string() });
                            break;
                        }
                        // EMFILE and friends: back off instead of spinning.
                        tokio::time::sleep(accept_backoff(failures)).await;
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
        outcome
    }
}

/// The pause after the `failures`-th consecutive accept failure: 10 ms,
/// doubling up to 1 s.
fn accept_backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(7);
    Duration::from_millis(10 << doublings).min(Duration::from_secs(1))
}

#[cfg(test)]
mod tests;
