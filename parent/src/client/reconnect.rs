//! A client that dials again when its connection is gone.

use enclet_protocol::{Endpoint, FrameLimits};
use tokio::sync::Mutex;

use super::EnclaveClient;
use crate::Error;

/// Holds at most one live [`EnclaveClient`] and replaces it when it closes.
///
/// Requests already in flight on a lost connection fail with
/// [`Error::Disconnected`]; they are not retried (a `Load` or `Invoke` may have
/// run), the next request dials again.
#[derive(Debug)]
pub struct Reconnecting {
    endpoint: Endpoint,
    limits: FrameLimits,
    current: Mutex<Option<EnclaveClient>>,
}

impl Reconnecting {
    /// A lazily connecting client for `endpoint`.
    #[must_use]
    pub fn new(endpoint: Endpoint, limits: FrameLimits) -> Self {
        Self {
            endpoint,
            limits,
            current: Mutex::new(None),
        }
    }

    /// The enclave address.
    #[must_use]
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// A live client, dialling if there is none.
    ///
    /// # Errors
    /// [`Error::Connect`] when the enclave cannot be reached.
    pub async fn client(&self) -> Result<EnclaveClient, Error> {
        let mut current = self.current.lock().await;
        if let Some(client) = current.as_ref().filter(|c| !c.is_closed()) {
            return Ok(client.clone());
        }
        let client = EnclaveClient::connect(&self.endpoint, self.limits).await?;
        tracing::info!(endpoint = %self.endpoint, "connected to the enclave");
        *current = Some(client.clone());
        Ok(client)
    }
}
