//! The relay: the parent carries the enclave's attestation to the control
//! plane and the sealed secrets back, without being able to read them.
//!
//! ```text
//!  trigger ─▶ worker (one round at a time) ──────────────────────────────────
//!   (new plugin load, POST /v1/release, refresh timer, retry backoff)
//!
//!  round:   enclave Health ─▶ attester kind (tpm | nitro)
//!   TPM:    enclave Identity ─▶ POST /v1/sessions {attester, tpm}
//!           ─▶ enclave ActivateCredential ─▶ POST …/activation      (once per session)
//!   Nitro:  POST /v1/sessions {attester: nitro}                     (once per session)
//!           POST …/nonces ─▶ enclave Attest{nonce} ─▶ enclave ListPlugins
//!           ─▶ POST …/evidence ─▶ Release {plugins, bundle, expires_at}
//!           ─▶ enclave Release{bundle} ─▶ Released ─▶ status
//! ```
//!
//! * Beside the rounds, a refresher applies the control plane's signed
//!   revocation list every `revocation_refresh` (see `revocations.rs`).
//! * Every control-plane call goes through
//!   [`ControlPlaneClient`](enclet_control_plane_api::client::ControlPlaneClient),
//!   which trusts only the pinned CA: a control plane whose certificate does
//!   not chain to it fails the round with code `transport` before anything
//!   is sent.
//! * A session is reused while it is valid (and, for a TPM, while the enclave
//!   reports the AK it activated). When the control plane answers
//!   `unknown_session` or `session_expired`, the round opens one new session
//!   and tries again, once.
//! * The bundle is opaque: hex in the control plane's JSON, bytes in the
//!   enclave frame. The parent never decodes or logs it, and never sees a
//!   secret value; the status keeps names and times only.
//! * Rounds never overlap: a single worker task runs them. A trigger during a
//!   round schedules exactly one more. After a success the worker sleeps
//!   until `expires_at - margin` (a third of the lifetime unless
//!   `--release-margin-secs`); after a failure it retries with a doubling,
//!   bounded delay ([`Backoff`]), logging the code. A failure never stops
//!   the parent.

mod error;
mod revocations;
mod round;
mod session;
mod status;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use enclet_control_plane_api::client::ControlPlaneClient;

pub use error::{RoundError, Step};
pub use status::{LastRound, PluginStatus, ReleaseStatus};
pub use worker::Backoff;

use crate::client::Reconnecting;

/// How the relay talks to the control plane.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The pinned-CA client.
    pub client: ControlPlaneClient,
    /// Re-attest this long before the release expires; `None`: a third of
    /// its lifetime.
    pub margin: Option<Duration>,
    /// Retry delays after failed rounds.
    pub backoff: Backoff,
    /// How often the signed revocation list is fetched and applied.
    pub revocation_refresh: Duration,
}

impl RelayConfig {
    /// Default margin and backoff.
    #[must_use]
    pub fn new(client: ControlPlaneClient) -> Self {
        Self {
            client,
            margin: None,
            backoff: Backoff::default(),
            revocation_refresh: Duration::from_secs(30),
        }
    }
}

/// The handle the API holds: triggers rounds and reads the status. Cheap to
/// clone.
#[derive(Debug, Clone)]
pub struct Relay {
    shared: Option<Arc<worker::Shared>>,
}

impl Relay {
    /// No control plane: no rounds; the status says `configured: false`.
    #[must_use]
    pub fn disabled() -> Self {
        Self { shared: None }
    }

    /// Starts the worker (on the current Tokio runtime). It runs no round
    /// until the first trigger.
    #[must_use]
    pub fn start(config: RelayConfig, enclave: Arc<Reconnecting>) -> Self {
        let shared = Arc::new(worker::Shared::default());
        tokio::spawn(revocations::run(
            config.client.clone(),
            Arc::clone(&enclave),
            config.revocation_refresh,
        ));
        let rounds = round::Rounds::new(config.client, enclave);
        tokio::spawn(worker::run(
            Arc::clone(&shared),
            rounds,
            config.margin,
            config.backoff,
        ));
        Self {
            shared: Some(shared),
        }
    }

    /// Whether a control plane is configured.
    #[must_use]
    pub fn is_configured(&self) -> bool {
        self.shared.is_some()
    }

    /// Schedules a round in the background (no-op without a control plane).
    pub fn trigger(&self) {
        if let Some(shared) = &self.shared {
            shared.trigger();
        }
    }

    /// Asks for a round now and returns a future of its outcome: the status
    /// after the next round to start (one already running does not count;
    /// the request is coalesced with other triggers), or why it failed.
    /// The request is registered when this is called, not when the future is
    /// first polled. Resolves to `None` without a control plane.
    pub fn run_now(
        &self,
    ) -> impl Future<Output = Option<Result<ReleaseStatus, RoundError>>> + Send + 'static {
        let rx = self.shared.as_ref().map(|s| s.wait_for_round());
        async move {
            Some(rx?.await.unwrap_or_else(|_| {
                Err(RoundError::Internal("the relay worker stopped".to_owned()))
            }))
        }
    }

    /// The current status.
    #[must_use]
    pub fn status(&self) -> ReleaseStatus {
        match &self.shared {
            Some(shared) => shared.record().status(true),
            None => ReleaseStatus {
                configured: false,
                last_round: None,
                expires_at: None,
                plugins: Vec::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests;
