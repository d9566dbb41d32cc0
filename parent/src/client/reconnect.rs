//! A client that dials again when its connection is gone.

use std::time::Duration;

use enclet_protocol::{Endpoint, FrameLimits};
use tokio::sync::Mutex;

use super::{
    DEFAULT_BUSY_WAIT, DEFAULT_REQUEST_TIMEOUT, DEFAULT_WRITE_QUEUE_BYTES, Delivery, EnclaveClient,
};
use crate::Error;

/// Holds at most one live [`EnclaveClient`] and replaces it when it closes.
///
/// Requests already in flight on a lost connection fail with
/// [`Error::Disconnected`]; they are not retried (a `Load` or `Invoke` may have
/// run), the next request dials again. Dialling is bounded by the request
/// timeout too, since it holds the lock every other request waits on.
#[derive(Debug)]
pub struct Reconnecting {
    endpoint: Endpoint,
    limits: FrameLimits,
    request_timeout: Duration,
    busy_wait: Duration,
    write_queue_bytes: usize,
    current: Mutex<Option<EnclaveClient>>,
}

impl Reconnecting {
    /// A lazily connecting client for `endpoint`.
    #[must_use]
    pub fn new(endpoint: Endpoint, limits: FrameLimits) -> Self {
        Self {
            endpoint,
            limits,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            busy_wait: DEFAULT_BUSY_WAIT,
            write_queue_bytes: DEFAULT_WRITE_QUEUE_BYTES,
            current: Mutex::new(None),
        }
    }

    /// Bounds how long dialling and each request may take (default
    /// [`DEFAULT_REQUEST_TIMEOUT`]).
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets each connection's busy-wait budget per request (default
    /// [`DEFAULT_BUSY_WAIT`]; see [`EnclaveClient::with_busy_wait`]).
    #[must_use]
    pub fn with_busy_wait(mut self, budget: Duration) -> Self {
        self.busy_wait = budget;
        self
    }

    /// Bounds each connection's queue of request bytes waiting to be written
    /// (default [`DEFAULT_WRITE_QUEUE_BYTES`]; see
    /// [`EnclaveClient::with_write_queue_bytes`]).
    #[must_use]
    pub fn with_write_queue_bytes(mut self, bytes: usize) -> Self {
        self.write_queue_bytes = bytes;
        self
    }

    /// The enclave address.
    #[must_use]
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// A live client, dialling if there is none.
    ///
    /// # Errors
    /// [`Error::Connect`] when the enclave cannot be reached;
    /// [`Error::Timeout`] when dialling takes longer than the request timeout.
    pub async fn client(&self) -> Result<EnclaveClient, Error> {
        let mut current = self.current.lock().await;
        if let Some(client) = current.as_ref().filter(|c| !c.is_closed()) {
            return Ok(client.clone());
        }
        let client = tokio::time::timeout(
            self.request_timeout,
            EnclaveClient::connect(&self.endpoint, self.limits),
        )
        .await
        .map_err(|_| Error::Timeout {
            waiting_for: "a connection",
            after: self.request_timeout,
            delivery: Delivery::NotSent,
        })??
        .with_request_timeout(self.request_timeout)
        .with_busy_wait(self.busy_wait)
        .with_write_queue_bytes(self.write_queue_bytes);
        tracing::info!(endpoint = %self.endpoint, "connected to the enclave");
        *current = Some(client.clone());
        Ok(client)
    }
}
